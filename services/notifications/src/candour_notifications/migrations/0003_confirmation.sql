-- Double opt-in. A staff member who subscribes an address outside their
-- organisation's own mail domains gets nothing sent to it until the address's owner
-- confirms from a link emailed there; until then the subscription matches nothing.
-- Subscriptions an operator creates, or for an address in the organisation's own
-- domains, are confirmed from the start.
ALTER TABLE subscriptions ADD COLUMN pending_confirmation boolean NOT NULL DEFAULT false;
ALTER TABLE subscriptions ADD COLUMN confirmed_at timestamptz;
DROP INDEX subscriptions_matching;
CREATE INDEX subscriptions_matching ON subscriptions (organisation_id, kind)
    WHERE active AND NOT pending_confirmation;
CREATE INDEX subscriptions_awaiting_confirmation ON subscriptions (created_at)
    WHERE pending_confirmation;

-- An organisation's own mail domains (operators keep them: PUT
-- /v1/organisations/{ods}/mail-domains). An address in one of them, or in a
-- subdomain of one, belongs to the organisation.
CREATE TABLE organisation_mail_domains (
    organisation_id text NOT NULL,
    domain          text NOT NULL CHECK (domain = lower(domain) AND domain <> ''),
    PRIMARY KEY (organisation_id, domain)
);
