-- Edit and resubmit (issue 20): each time the author changes their story before it is
-- published, it is sent again as the next version. A decision moderation made on an
-- older version (story.rejected carries it) no longer applies to the newer one.
ALTER TABLE stories ADD COLUMN version integer NOT NULL DEFAULT 1;
