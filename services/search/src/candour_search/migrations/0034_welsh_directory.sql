-- An organisation's Welsh name, where the directory has one (directory.organisations'
-- name_cy, #20): Welsh pages show it instead of the English name.
ALTER TABLE search_organisations ADD COLUMN name_cy text;
