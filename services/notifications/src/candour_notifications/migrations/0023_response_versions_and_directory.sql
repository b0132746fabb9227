-- A response corrected or deleted by its responder comes again on response.posted with
-- the same response id and a higher version. Only the first version seen of a response
-- owes emails; later ones correct what has not gone yet (or cancel it, when deleted),
-- and an older version arriving late is ignored. `alerted_by` is the event whose emails
-- (deliveries) and digest items the response owes.
CREATE TABLE response_versions (
    response_id uuid PRIMARY KEY,
    story_id    uuid NOT NULL,
    version     integer NOT NULL,
    deleted     boolean NOT NULL DEFAULT false,
    alerted_by  uuid NOT NULL
);
CREATE INDEX response_versions_by_story ON response_versions (story_id);

-- The organisations, services and tags notifications has heard of, as the stories it
-- consumes name them (story.submitted, story.approved): with the share page's tag
-- vocabulary, what the alerts page offers and what staff may subscribe to. Story-intake
-- owns the directory; this is a read model of the parts stories have named.
CREATE TABLE known_organisations (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE known_services (
    organisation_id text NOT NULL,
    id              text NOT NULL,
    name            text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organisation_id, id)
);
CREATE TABLE known_tags (
    organisation_id text NOT NULL,
    tag             text NOT NULL,  -- normalised: words single-spaced, casefolded
    PRIMARY KEY (organisation_id, tag)
);
