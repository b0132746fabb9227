-- Rate-limit counters, shared by every copy of a service. One row per client per
-- fixed window (`slot`); the client is a keyed hash of its address, never the
-- address itself. Rows are deleted once `expires_at` passes (two windows on).
CREATE TABLE rate_limit_hits (
    bucket     text NOT NULL,
    client     bytea NOT NULL,
    slot       bigint NOT NULL,
    hits       integer NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (bucket, client, slot)
);
CREATE INDEX rate_limit_hits_expiry ON rate_limit_hits (expires_at);

-- Signed-in page sessions. The cookie holds a random id; only its SHA-256 is
-- kept here, so a copy of this table opens no session. Signing out deletes the
-- row; a session never outlives 12 hours or the token it was opened with, and
-- `key_id` (derived from the JWT key) ends them all when that key is rotated.
CREATE TABLE web_sessions (
    id_hash         bytea PRIMARY KEY,
    key_id          bytea NOT NULL,
    subject         text NOT NULL,
    role            text NOT NULL,
    organisation_id text,
    token_id        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
