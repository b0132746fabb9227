-- The optional "about you" answers, kept apart from the story: never published, never
-- returned per story, counted only in aggregate (insight.voices), deleted with the story.
-- Each column holds a category code, 'prefer_not_to_say', or NULL (not answered).
CREATE TABLE about_you (
    story_id     uuid PRIMARY KEY REFERENCES stories (id) ON DELETE CASCADE,
    age_band     text,
    sex          text,
    ethnic_group text,
    disability   text
);

-- When each programme's summary was last put in the outbox: the schedule publishes
-- again only once the interval has passed, however many copies of intake run.
CREATE TABLE voices_publications (
    programme    text PRIMARY KEY,
    published_at timestamptz NOT NULL
);
