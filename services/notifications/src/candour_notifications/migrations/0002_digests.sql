-- Daily digests. A `daily` subscription collects what matched (a published story,
-- or a response) as digest items, in the consumer's transaction with the inbox
-- row; once a day one digest delivery per subscription takes every item not yet
-- sent. The digest is a normal delivery row (sent by the same worker, same
-- at-most-once claim), unique per (subscription, digest date), so several
-- copies of the service or a restart never make a second digest for a day.
CREATE TABLE digest_items (
    subscription_id    uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    -- `story:<story id>` (an edit updates the item, never adds a second) or
    -- `response:<response id>`.
    item_key           text NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('story', 'response')),
    story_id           uuid NOT NULL,
    revision           integer NOT NULL DEFAULT 1,
    context            jsonb NOT NULL,
    collected_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The digest that listed it; NULL while it waits for the next digest.
    digest_delivery_id uuid REFERENCES deliveries (id) ON DELETE SET NULL,
    PRIMARY KEY (subscription_id, item_key)
);
CREATE INDEX digest_items_waiting ON digest_items (subscription_id) WHERE digest_delivery_id IS NULL;
CREATE INDEX digest_items_by_story ON digest_items (story_id);

-- A digest is about many stories, so it has no single story.
ALTER TABLE deliveries ALTER COLUMN story_id DROP NOT NULL;
ALTER TABLE deliveries ADD COLUMN digest_date date;
CREATE UNIQUE INDEX deliveries_one_digest_a_day
    ON deliveries (subscription_id, digest_date) WHERE digest_date IS NOT NULL;
-- Operators list deliveries by state, newest first.
CREATE INDEX deliveries_by_status ON deliveries (status, updated_at DESC);
