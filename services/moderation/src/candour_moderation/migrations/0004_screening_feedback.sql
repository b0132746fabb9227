-- Moderators teach screening: a safeguarding flag marked wrong, or a missed one
-- added with its category. `candour screening export-labels` turns these into
-- corpus rows. `text` holds the author's words: the rows go when the author withdraws.
CREATE TABLE screening_feedback (
    id          bigserial PRIMARY KEY,
    story_id    uuid NOT NULL REFERENCES queue_items (story_id),
    at          timestamptz NOT NULL,
    moderator   text NOT NULL,
    verdict     text NOT NULL CHECK (verdict IN ('wrong', 'missed')),
    category    text NOT NULL,
    level       text NOT NULL CHECK (level IN ('concern', 'serious')),
    -- For a wrong flag: where it was in the screened text.
    field       text,
    match_start integer,
    match_end   integer,
    text        text,
    note        text
);
CREATE INDEX screening_feedback_by_story ON screening_feedback (story_id, id);
