-- Anonymous by default (issue 20): a story published without a name to show keeps
-- NULL here; the pages, the feeds and the API show it as "Anonymous".
ALTER TABLE search_stories ALTER COLUMN author_name DROP NOT NULL;
