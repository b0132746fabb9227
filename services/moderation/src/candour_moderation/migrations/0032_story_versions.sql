-- Edit and resubmit (issue 20): the author's version of the text queued. A newer
-- story.submitted of the same story replaces the text (the audit trail keeps each
-- version); an older or repeated one changes nothing.
ALTER TABLE queue_items ADD COLUMN version integer NOT NULL DEFAULT 1;
