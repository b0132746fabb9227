-- What screening found in a published story (story.approved's safeguarding_categories),
-- so its page can offer help to readers it may affect.
ALTER TABLE search_stories ADD COLUMN safeguarding_categories text[] NOT NULL DEFAULT '{}';

-- The organisations people can share stories about (the directory, as imported by
-- `candour directory import`), so an organisation with no published story yet has a
-- page that says so, and the organisations index lists every one.
CREATE TABLE search_organisations (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
