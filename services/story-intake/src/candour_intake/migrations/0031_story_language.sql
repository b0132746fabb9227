-- The language a story is written in (issue 20): chosen on the share page or in the API,
-- carried on story.submitted. Stories sent before this were English.
ALTER TABLE stories
    ADD COLUMN language text NOT NULL DEFAULT 'en' CONSTRAINT stories_language_known
        CHECK (language IN ('en', 'cy'));
