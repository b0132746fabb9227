-- A rebuild reuses the documents of the live index (issue 18). Computing a story's
-- document (PostgreSQL's text parser over its title and body) is most of a rebuild's cost,
-- and a rebuild after a schema change usually replays the very stories the live index
-- holds. A document is a function of the story's indexed columns and of the "recipe":
-- the functions and text search configurations below and the server's parser and
-- stemmers. A rebuild takes a live document only for a story whose indexed columns are
-- all equal, and only if the live documents were made by the recipe in force now.

-- A story's document: title A, body B, tags and organisation/service names C, response
-- text D, each in its language's configuration; Welsh stories carry the lexeme
-- 'lang cy' (migration 0031). Written once here for the trigger and the rebuild.
-- STABLE, not IMMUTABLE: array_to_string is only STABLE.
CREATE FUNCTION search_story_document(
    title text,
    body text,
    tags text[],
    organisation_name text,
    service_name text,
    response_text text,
    language text
) RETURNS tsvector
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector(config, coalesce(title, '')), 'A')
        || setweight(to_tsvector(config, coalesce(body, '')), 'B')
        || setweight(
            to_tsvector(
                config,
                array_to_string(tags, ' ') || ' ' || organisation_name || ' '
                    || coalesce(service_name, '')
            ),
            'C'
        )
        || setweight(to_tsvector(config, response_text), 'D')
        -- Welsh stories' mark (see search_words_any_language): no position, no weight.
        || CASE WHEN language = 'cy' THEN '''lang cy'''::tsvector ELSE ''::tsvector END
    FROM search_text_config(language) AS config
$$;

CREATE OR REPLACE FUNCTION search_stories_document() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.document := search_story_document(
        NEW.title, NEW.body, NEW.tags, NEW.organisation_name, NEW.service_name,
        NEW.response_text, NEW.language
    );
    RETURN NEW;
END
$$;

-- What makes documents now: the server's version (its parser, stemmers and stop words),
-- the definitions of the functions above and of both configurations (parser, and each
-- token type's dictionaries with their options). Any change gives another value.
CREATE FUNCTION search_document_recipe() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT md5(
        current_setting('server_version_num')
        || pg_get_functiondef('search_story_document(text, text, text[], text, text, text, text)'::regprocedure)
        || pg_get_functiondef('search_stories_document()'::regprocedure)
        || pg_get_functiondef('search_text_config(text)'::regprocedure)
        || (
            SELECT string_agg(
                c.cfgname || ':' || p.prsname || ':' || m.maptokentype || ':' || m.mapseqno
                    || ':' || d.dictname || ':' || t.tmplname || ':'
                    || coalesce(d.dictinitoption, ''),
                ',' ORDER BY c.cfgname, m.maptokentype, m.mapseqno
            )
            FROM pg_ts_config c
            JOIN pg_ts_parser p ON p.oid = c.cfgparser
            JOIN pg_ts_config_map m ON m.mapcfg = c.oid
            JOIN pg_ts_dict d ON d.oid = m.mapdict
            JOIN pg_ts_template t ON t.oid = d.dicttemplate
            WHERE c.oid IN ('english'::regconfig, 'candour_welsh'::regconfig)
        )
    )
$$;

-- The recipe that made every document of the live index, if known: set by a rebuild when
-- it switches (everything it built was made, or reused, under the recipe in force); none
-- until then. The live consumers make documents by the recipe in force, so a migration
-- that changes the recipe makes this one differ from search_document_recipe(), and the
-- next rebuild computes every document again. Such a migration should also
-- `DELETE FROM search_documents_made_by`: the hash is the safety net, the delete also
-- covers a later migration that restores the old recipe (the documents made in between
-- would otherwise pass for the old recipe's).
CREATE TABLE search_documents_made_by (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    recipe text NOT NULL
);

-- A story staged by a rebuild's bulk load (adapters/bulk_index.py): its document without
-- response text, computed as the row arrives; or none when the live index holds the story
-- with the same indexed columns (TG_ARGV[0] = 'reuse': the rebuild found the live
-- documents made by the recipe in force): `live_version` then names the live row version
-- compared (its xmin; any later change to the row makes a new version). The load takes
-- that version's document at the end if it is still the live one and its response text
-- is the same too.
CREATE FUNCTION search_staged_document() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.live_version := NULL;
    IF TG_ARGV[0] = 'reuse' THEN
        SELECT live.xmin INTO NEW.live_version
        FROM public.search_stories live
        WHERE live.story_id = NEW.story_id
          AND live.title = NEW.title
          AND live.body = NEW.body
          AND live.tags = NEW.tags
          AND live.organisation_name = NEW.organisation_name
          AND live.service_name IS NOT DISTINCT FROM NEW.service_name
          AND live.language = NEW.language;
    END IF;
    IF NEW.live_version IS NULL THEN
        NEW.document := search_story_document(
            NEW.title, NEW.body, NEW.tags, NEW.organisation_name, NEW.service_name, '',
            NEW.language
        );
    ELSE
        NEW.document := ''::tsvector;
    END IF;
    RETURN NEW;
END
$$;
