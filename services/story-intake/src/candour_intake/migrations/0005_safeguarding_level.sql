-- What screening found when the story was sent (none, concern, serious; NULL for a
-- story not screened at submission), so the author's pages can offer help now.
ALTER TABLE stories ADD COLUMN safeguarding_level text;
