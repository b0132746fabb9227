CREATE TABLE organisations (
    id         text PRIMARY KEY,          -- ODS code
    name       text NOT NULL,
    type       text NOT NULL DEFAULT 'nhs_trust',
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE services (
    id              text PRIMARY KEY,
    organisation_id text NOT NULL REFERENCES organisations (id),
    name            text NOT NULL
);
CREATE INDEX services_by_organisation ON services (organisation_id);

CREATE TABLE stories (
    id                 uuid PRIMARY KEY,
    title              text NOT NULL,
    body               text NOT NULL,
    organisation_id    text NOT NULL REFERENCES organisations (id),
    service_id         text REFERENCES services (id),
    author_name        text NOT NULL,
    author_relationship text NOT NULL,
    author_email       text,
    notify_on_response boolean NOT NULL DEFAULT false,
    tags               jsonb NOT NULL DEFAULT '{}'::jsonb,
    experienced_at     text,
    author_token_hash  bytea NOT NULL,
    status             text NOT NULL DEFAULT 'submitted',
    submitted_at       timestamptz NOT NULL DEFAULT now()
);
