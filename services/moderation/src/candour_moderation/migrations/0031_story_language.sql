-- The language a story is written in (issue 20), from story.submitted onto story.approved.
-- Stories queued before this were English.
ALTER TABLE queue_items
    ADD COLUMN language text NOT NULL DEFAULT 'en' CONSTRAINT queue_items_language_known
        CHECK (language IN ('en', 'cy'));
