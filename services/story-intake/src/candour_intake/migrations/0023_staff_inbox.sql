-- The staff inbox shows the story as published (moderated, redacted), never the
-- author's original words: story.approved carries it, intake keeps the newest revision.
ALTER TABLE stories ADD COLUMN published_title text;
ALTER TABLE stories ADD COLUMN published_body text;
ALTER TABLE stories ADD COLUMN published_service_id text;
ALTER TABLE stories ADD COLUMN published_service_name text;
ALTER TABLE stories ADD COLUMN criticality smallint;
CREATE INDEX stories_inbox ON stories (organisation_id, published_at DESC)
    WHERE status = 'published';

-- A responder corrects or deletes their response within a window: each change is a new
-- version of the same response id on response.posted.
ALTER TABLE responses ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE responses ADD COLUMN edited_at timestamptz;
ALTER TABLE responses ADD COLUMN deleted_at timestamptz;
