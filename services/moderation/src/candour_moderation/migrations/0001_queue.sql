-- The moderation queue: one row per submitted story. The author's words (title,
-- body, display name, tags, screening) are set to NULL when the author withdraws.
CREATE TABLE queue_items (
    story_id            uuid PRIMARY KEY,
    status              text NOT NULL
                        CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
    -- 0 serious safeguarding, 1 concern, 2 none: ascending order is most urgent first.
    priority_rank       smallint NOT NULL,
    organisation        jsonb NOT NULL,
    service             jsonb,
    submitted_at        timestamptz NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    title               text,
    body                text,
    author_display_name text,
    author_relationship text,
    screening           jsonb,
    tags                jsonb,
    experienced_at      text,
    claimed_by          text,
    claim_expires_at    timestamptz,
    decided_by          text,
    decided_at          timestamptz,
    withdrawn_at        timestamptz
);
CREATE INDEX queue_items_in_order ON queue_items (status, priority_rank, submitted_at, story_id);

-- Stories withdrawn by their authors, so a story.submitted that arrives after its
-- story.withdrawn (they are different topics) is never stored.
CREATE TABLE withdrawals (
    story_id     uuid PRIMARY KEY,
    withdrawn_at timestamptz NOT NULL
);

-- Who did what to which story, and when. `detail` holds the original text, every
-- edit and every decision; it becomes NULL when the author withdraws, leaving
-- only ids and times.
CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    story_id uuid NOT NULL,
    at       timestamptz NOT NULL,
    actor    text NOT NULL,
    action   text NOT NULL,
    detail   jsonb
);
CREATE INDEX audit_log_by_story ON audit_log (story_id, id);
