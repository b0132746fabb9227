-- Safeguarding alerts: one per escalation (`safeguarding.raised`), emailed at once to
-- the organisation's safeguarding contacts (or, without any, to the platform's duty
-- moderators). A contact acknowledges from the email; one not acknowledged by
-- `realert_due_at` goes again to the duty moderators (any copy of the service may do it:
-- the row is taken FOR UPDATE SKIP LOCKED). `context` holds the story as written, the
-- matches, the moderator's note and the author's contact: it becomes '{}' when the author
-- withdraws, and `realert_due_at` NULL (nothing more is sent).
CREATE TABLE safeguarding_alerts (
    escalation_id      uuid PRIMARY KEY,
    story_id           uuid NOT NULL,
    event_id           uuid NOT NULL,
    organisation_id    text NOT NULL,
    raised_at          timestamptz NOT NULL,
    alerted_at         timestamptz NOT NULL DEFAULT now(),
    recipients         text[] NOT NULL,
    to_duty_moderators boolean NOT NULL,
    realert_due_at     timestamptz,
    acknowledged_at    timestamptz,
    acknowledged_by    text,
    realerted_at       timestamptz,
    realerted_to       text[] NOT NULL DEFAULT '{}',
    context            jsonb NOT NULL
);
CREATE INDEX safeguarding_alerts_overdue ON safeguarding_alerts (realert_due_at)
    WHERE realert_due_at IS NOT NULL;
CREATE INDEX safeguarding_alerts_by_story ON safeguarding_alerts (story_id);
