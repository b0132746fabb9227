-- The search index: built only from the public topics, so it can be thrown away
-- and rebuilt by replaying them.

-- One row per published story (the newest revision seen).
CREATE TABLE search_stories (
    story_id            uuid PRIMARY KEY,
    revision            integer NOT NULL,
    title               text NOT NULL,
    body                text NOT NULL,
    organisation_id     text NOT NULL,
    organisation_name   text NOT NULL,
    service_id          text,
    service_name        text,
    author_name         text NOT NULL,
    author_relationship text NOT NULL,
    -- The tags as the story carries them ({good, improve, feelings}) for the story page,
    -- and all of them normalised (lower case, trimmed, distinct) for filters and facets.
    tag_groups          jsonb NOT NULL DEFAULT '{}'::jsonb,
    tags                text[] NOT NULL DEFAULT '{}',
    criticality         smallint CHECK (criticality BETWEEN 0 AND 5),
    experienced_at      text,
    published_at        timestamptz NOT NULL,
    -- Aggregates of search_responses, recomputed whenever a response or a revision
    -- arrives (responses may be consumed before the story: different topics).
    response_count      integer NOT NULL DEFAULT 0,
    first_response_at   timestamptz,
    change_planned      boolean NOT NULL DEFAULT false,
    change_made         boolean NOT NULL DEFAULT false,
    response_text       text NOT NULL DEFAULT '',
    document            tsvector NOT NULL,
    indexed_at          timestamptz NOT NULL DEFAULT now()
);

-- Title A, body B, tags and organisation/service names C, response text D.
-- A trigger rather than a generated column because array_to_string is only STABLE.
CREATE FUNCTION search_stories_document() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.document :=
        setweight(to_tsvector('english'::regconfig, coalesce(NEW.title, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, coalesce(NEW.body, '')), 'B')
        || setweight(
            to_tsvector(
                'english'::regconfig,
                array_to_string(NEW.tags, ' ') || ' ' || NEW.organisation_name || ' '
                    || coalesce(NEW.service_name, '')
            ),
            'C'
        )
        || setweight(to_tsvector('english'::regconfig, NEW.response_text), 'D');
    RETURN NEW;
END
$$;

CREATE TRIGGER search_stories_document
    BEFORE INSERT OR UPDATE OF title, body, tags, organisation_name, service_name, response_text
    ON search_stories
    FOR EACH ROW EXECUTE FUNCTION search_stories_document();

CREATE INDEX search_stories_document_gin ON search_stories USING gin (document);
CREATE INDEX search_stories_tags_gin ON search_stories USING gin (tags);
CREATE INDEX search_stories_newest ON search_stories (published_at DESC, story_id DESC);
CREATE INDEX search_stories_organisation
    ON search_stories (organisation_id, published_at DESC, story_id DESC);
CREATE INDEX search_stories_service
    ON search_stories (service_id, published_at DESC, story_id DESC)
    WHERE service_id IS NOT NULL;

-- Responses, kept whether or not their story has arrived yet.
CREATE TABLE search_responses (
    response_id            uuid PRIMARY KEY,
    story_id               uuid NOT NULL,
    posted_at              timestamptz NOT NULL,
    organisation_id        text NOT NULL,
    responder_name         text NOT NULL,
    responder_role         text NOT NULL,
    body                   text NOT NULL,
    change                 text CHECK (change IN ('planned', 'made'))
);
CREATE INDEX search_responses_by_story ON search_responses (story_id, posted_at, response_id);

-- Withdrawn story ids, and nothing else about them: a story.approved or
-- response.posted consumed after the withdrawal (another topic, a replay) must not
-- bring the story back.
CREATE TABLE search_withdrawn (
    story_id     uuid PRIMARY KEY,
    withdrawn_at timestamptz NOT NULL
);

-- Text made safe to embed in HTML, for snippets: escaped before ts_headline adds <mark>.
CREATE FUNCTION search_html_escape(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT replace(replace(replace(replace(replace(
        value, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;')
$$;
