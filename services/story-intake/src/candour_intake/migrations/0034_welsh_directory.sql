-- The directory in Welsh (#20): an organisation's and a service's Welsh name where it
-- has one (Welsh pages show it), and the language the organisation's staff are written
-- to in ('en' unless the directory says 'cy' or 'bilingual').
ALTER TABLE organisations ADD COLUMN name_cy text;
ALTER TABLE organisations ADD COLUMN email_language text NOT NULL DEFAULT 'en'
    CHECK (email_language IN ('en', 'cy', 'bilingual'));
ALTER TABLE services ADD COLUMN name_cy text;
