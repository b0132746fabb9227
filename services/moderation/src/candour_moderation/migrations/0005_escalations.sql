-- Safeguarding escalations: each one a `safeguarding.raised` event (screening matched the
-- story on arrival, or a moderator raised it with a note) and what notifications later
-- reported back on `safeguarding.updated`. `note` is the moderator's words about the
-- story: it becomes NULL when the author withdraws; ids, states and times stay.
CREATE TABLE escalations (
    escalation_id      uuid PRIMARY KEY,
    story_id           uuid NOT NULL REFERENCES queue_items (story_id),
    raised_at          timestamptz NOT NULL,
    trigger            text NOT NULL CHECK (trigger IN ('screening', 'moderator')),
    raised_by          text NOT NULL,
    note               text,
    alerted_at         timestamptz,
    alerted_to         text[] NOT NULL DEFAULT '{}',
    to_duty_moderators boolean NOT NULL DEFAULT false,
    acknowledged_at    timestamptz,
    acknowledged_by    text,
    realerted_at       timestamptz,
    realerted_to       text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX escalations_by_story ON escalations (story_id, raised_at);
