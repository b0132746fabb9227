-- The newest summary of whose voices each programme hears (insight.voices): counts per
-- "about you" category with small counts already suppressed by story-intake. No answer
-- of any one person ever reaches search.
CREATE TABLE voices_summaries (
    programme     text PRIMARY KEY,
    summarised_at timestamptz NOT NULL,
    summary       jsonb NOT NULL
);
