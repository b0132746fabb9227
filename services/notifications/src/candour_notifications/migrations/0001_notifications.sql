-- Who wants which emails. Staff addresses are personal data: a DELETE removes them.
CREATE TABLE subscriptions (
    id              uuid PRIMARY KEY,
    email           text NOT NULL,
    organisation_id text NOT NULL,
    service_ids     text[] NOT NULL DEFAULT '{}',
    tags            text[] NOT NULL DEFAULT '{}',
    min_criticality smallint CHECK (min_criticality BETWEEN 0 AND 5),
    frequency       text NOT NULL CHECK (frequency IN ('immediate', 'daily')),
    kind            text NOT NULL CHECK (kind IN ('stories', 'responses', 'safeguarding')),
    active          boolean NOT NULL DEFAULT true,
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    unsubscribed_at timestamptz
);
CREATE INDEX subscriptions_matching ON subscriptions (organisation_id, kind) WHERE active;

-- The author's contact, from story.submitted, only when they asked to hear about
-- responses. Erased when the story is withdrawn.
CREATE TABLE author_contacts (
    story_id           uuid PRIMARY KEY,
    email              text NOT NULL,
    notify_on_response boolean NOT NULL,
    stored_at          timestamptz NOT NULL DEFAULT now()
);

-- What the emails about responses need to know of a published story (public data).
CREATE TABLE published_stories (
    story_id          uuid PRIMARY KEY,
    revision          integer NOT NULL,
    title             text NOT NULL,
    organisation_id   text NOT NULL,
    organisation_name text NOT NULL,
    service_id        text,
    service_name      text,
    tags              text[] NOT NULL DEFAULT '{}',
    criticality       smallint,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Withdrawn stories: events about them that arrive late (other topics are not
-- ordered with story.withdrawn) must not bring their data or emails back.
CREATE TABLE withdrawn_stories (
    story_id     uuid PRIMARY KEY,
    withdrawn_at timestamptz NOT NULL
);

-- One row per email owed: unique per (event, recipient, kind), written in the
-- consumer's transaction with the inbox row; sent after commit by the worker.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    event_id        uuid NOT NULL,
    story_id        uuid NOT NULL,
    kind            text NOT NULL,
    recipient       text NOT NULL,
    subscription_id uuid REFERENCES subscriptions (id) ON DELETE SET NULL,
    context         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (event_id, recipient, kind)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_in_flight ON deliveries (updated_at) WHERE status = 'sending';
CREATE INDEX deliveries_by_story ON deliveries (story_id);
CREATE INDEX deliveries_by_subscription ON deliveries (subscription_id);
