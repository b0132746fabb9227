-- What happened to a story after submission, as intake learns it from moderation.
ALTER TABLE stories
    ADD COLUMN published_at     timestamptz,
    ADD COLUMN rejected_at      timestamptz,
    ADD COLUMN rejection_reason text,
    ADD COLUMN withdrawn_at     timestamptz,
    ADD COLUMN response_count   integer NOT NULL DEFAULT 0,
    ADD COLUMN revision         integer NOT NULL DEFAULT 0;

CREATE TABLE responses (
    id                    uuid PRIMARY KEY,
    story_id              uuid NOT NULL REFERENCES stories (id),
    organisation_id       text NOT NULL,
    responder_name        text NOT NULL,
    responder_role        text NOT NULL,
    responder_subject     text NOT NULL,
    body                  text NOT NULL,
    change                text,
    posted_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX responses_by_story ON responses (story_id, posted_at);

-- Idempotency-Key: the first answer to a key, kept 24 h. The key itself is not
-- stored (only its hash), and the answer is encrypted with a key derived from it,
-- so the author token inside it is unreadable without the client's key.
CREATE TABLE idempotency_keys (
    key_hash      bytea NOT NULL,
    scope         text NOT NULL,
    request_hash  bytea NOT NULL,
    status_code   integer,
    response      bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key_hash)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
