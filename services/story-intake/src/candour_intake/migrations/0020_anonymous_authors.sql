-- Anonymous by default (issue 20): a story may have no name to show; NULL, never a
-- placeholder, so the pages choose the words ("Anonymous", or its translation).
ALTER TABLE stories ALTER COLUMN author_name DROP NOT NULL;
