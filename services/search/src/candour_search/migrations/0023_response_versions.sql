-- A response can be corrected or deleted by its responder: each change arrives on
-- response.posted with the same response id and a higher version. The highest version
-- seen of each response is kept here (a deleted one too, with no text), so an older
-- version arriving late (a replay, a dead letter) never brings back what was replaced.
CREATE TABLE search_response_versions (
    response_id uuid PRIMARY KEY,
    story_id    uuid NOT NULL,
    version     integer NOT NULL,
    deleted     boolean NOT NULL DEFAULT false
);
CREATE INDEX search_response_versions_by_story ON search_response_versions (story_id);
ALTER TABLE search_responses ADD COLUMN edited_at timestamptz;
