-- A decision not to publish a story can reach notifications before the story itself
-- (story.rejected and story.submitted are different topics: after an outage both wait
-- in the backlog and either may be read first). The decision is kept here until the
-- story arrives, so its author is still told; nothing personal (ids, the reason, the
-- organisation's name). Only for a story whose submission was not seen yet; taken when
-- it is, erased on withdrawal, purged with the contacts after a rejection.
CREATE TABLE rejections_before_contact (
    story_id          uuid PRIMARY KEY,
    version           integer NOT NULL,
    reason            text NOT NULL,
    rejected_at       timestamptz NOT NULL,
    organisation_name text NOT NULL
);
