-- Erasure: the idempotency answers about a story go when it is withdrawn.
ALTER TABLE idempotency_keys ADD COLUMN story_id uuid;
CREATE INDEX idempotency_keys_by_story ON idempotency_keys (story_id) WHERE story_id IS NOT NULL;

-- A withdrawn story keeps no provenance, but a re-run of the import it came from must
-- not bring it back: only a digest of (source, external id) stays.
ALTER TABLE stories ADD COLUMN import_digest bytea;
CREATE UNIQUE INDEX stories_by_import_digest ON stories (import_digest)
    WHERE import_digest IS NOT NULL;
