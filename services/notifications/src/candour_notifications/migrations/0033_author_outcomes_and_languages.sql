-- The author is told the outcome of moderation (published, or not and how to fix it),
-- in the story's language; an edited story comes again on story.submitted with a higher
-- `version`, whose contact and language replace the earlier one's.
--   version        the newest version of the story whose contact this row holds
--   language       the story's language (en, cy): the author's emails are written in it
--   title          the author's title, for the subject of their emails (never the text)
--   told_published the "your story is published" email is owed: never a second one
--   rejected_at    when the newest decision not to publish it came; the contact is kept
--                  for an edit and resubmission only CANDOUR_AUTHOR_CONTACT_AFTER_REJECTION_DAYS
--                  after it, then purged (a newer version clears it)
ALTER TABLE author_contacts ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE author_contacts ADD COLUMN language text NOT NULL DEFAULT 'en'
    CHECK (language IN ('en', 'cy'));
ALTER TABLE author_contacts ADD COLUMN title text NOT NULL DEFAULT '';
ALTER TABLE author_contacts ADD COLUMN told_published boolean NOT NULL DEFAULT false;
ALTER TABLE author_contacts ADD COLUMN rejected_at timestamptz;
CREATE INDEX author_contacts_rejected ON author_contacts (rejected_at)
    WHERE rejected_at IS NOT NULL;

-- The newest version of each story seen on story.submitted, with or without a contact,
-- so a lower version arriving late never brings back an address the author took out.
-- Not personal (an id and a number); erased on withdrawal like the rest.
CREATE TABLE submitted_versions (
    story_id uuid PRIMARY KEY,
    version  integer NOT NULL
);

-- The language an organisation's staff are written to in (directory.organisations:
-- en, cy, or bilingual: Welsh first, then English, in one email), and its Welsh name,
-- which the Welsh part of a staff email uses.
ALTER TABLE known_organisations ADD COLUMN email_language text NOT NULL DEFAULT 'en'
    CHECK (email_language IN ('en', 'cy', 'bilingual'));
ALTER TABLE known_organisations ADD COLUMN name_cy text;
