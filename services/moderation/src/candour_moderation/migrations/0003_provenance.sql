-- Where a story came from and how many people it speaks for, carried into story.approved.
ALTER TABLE queue_items ADD COLUMN provenance jsonb;
