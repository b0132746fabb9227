-- A tombstone (a Kafka record with a null value, which erases its key on a compacted
-- topic) travels through the outbox like any event: its payload is NULL.
ALTER TABLE outbox ALTER COLUMN payload DROP NOT NULL;

-- Retention: sent outbox rows and old inbox ids are purged by age.
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX inbox_by_age ON inbox (processed_at);
