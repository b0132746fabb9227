-- A story's language (issue 20): `en` or `cy`, from story.approved. Welsh stories are
-- indexed with a configuration that suits Welsh: the simple dictionary (lower case, no
-- stemming), because English stemming mangles Welsh words ("aros" would become "aro",
-- "nyrsys" "nyrsi") and English stop words drop Welsh ones ("a" is "and", "am" "for").
-- It has no Welsh stop words: a stop-word list is a file in the server's tsearch_data
-- directory, which a migration cannot install; every Welsh word is kept.
-- A search in both languages (adapters/sql.py) matches each story by its own language's
-- form of the words: search_words_any_language below.

CREATE TEXT SEARCH CONFIGURATION candour_welsh (COPY = pg_catalog.simple);

-- The configuration a story's own words (title, body, responses) are indexed with.
CREATE FUNCTION search_text_config(language text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN language = 'cy' THEN 'candour_welsh'::regconfig
                ELSE 'english'::regconfig END
$$;

-- The words of a search for stories in either language, as one tsquery (one GIN scan,
-- and a constant the planner estimates, as a single language's query is): English
-- stories answer to the English-stemmed form only, Welsh ones (their documents carry the
-- lexeme 'lang cy', which no query's words can produce: the parsers never make a lexeme
-- with a space) to the unstemmed form only. Either form alone would be wrong: `-waiting`
-- must leave out an English story with "wait", though "waiting" is not in it. A form
-- with no lexemes (English stop words only) matches nothing, not every story.
CREATE FUNCTION search_words_any_language(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN numnode(en) = 0 THEN en ELSE en && !! '''lang cy'''::tsquery END
        || CASE WHEN numnode(cy) = 0 THEN cy ELSE cy && '''lang cy'''::tsquery END
    FROM websearch_to_tsquery('english'::regconfig, q) AS en,
         websearch_to_tsquery('candour_welsh'::regconfig, q) AS cy
$$;

-- Every story published before this was English.
ALTER TABLE search_stories
    ADD COLUMN language text NOT NULL DEFAULT 'en' CONSTRAINT search_stories_language_known
        CHECK (language IN ('en', 'cy'));
ALTER TABLE search_sample ADD COLUMN language text NOT NULL DEFAULT 'en';

-- The newest stories in one language, for the language filter without words (Welsh
-- stories are the few: the partial index holds only them; English ones are most).
CREATE INDEX search_stories_welsh_newest ON search_stories (published_at DESC, story_id DESC)
    WHERE language = 'cy';

-- As migration 0001's, with every part of the document in the configuration of the
-- story's language: a search matches each story by its own language's form of the words
-- (adapters/sql.py), so a Welsh story's tags and names are matched as written too.
CREATE OR REPLACE FUNCTION search_stories_document() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    config regconfig := search_text_config(NEW.language);
BEGIN
    NEW.document :=
        setweight(to_tsvector(config, coalesce(NEW.title, '')), 'A')
        || setweight(to_tsvector(config, coalesce(NEW.body, '')), 'B')
        || setweight(
            to_tsvector(
                config,
                array_to_string(NEW.tags, ' ') || ' ' || NEW.organisation_name || ' '
                    || coalesce(NEW.service_name, '')
            ),
            'C'
        )
        || setweight(to_tsvector(config, NEW.response_text), 'D')
        -- Welsh stories' mark (see search_words_any_language): no position, no weight.
        || CASE WHEN NEW.language = 'cy' THEN '''lang cy'''::tsvector ELSE ''::tsvector END;
    RETURN NEW;
END
$$;

-- A new revision may change the language: the document follows it.
DROP TRIGGER search_stories_document ON search_stories;
CREATE TRIGGER search_stories_document
    BEFORE INSERT OR UPDATE OF title, body, tags, organisation_name, service_name,
        response_text, language
    ON search_stories
    FOR EACH ROW EXECUTE FUNCTION search_stories_document();

-- As migration 0012's, with the sample carrying the language (a filter over the sample).
CREATE OR REPLACE FUNCTION search_stories_derived() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- An upsert fires both the INSERT and the UPDATE trigger, one of them with no rows;
    -- an UPDATE that matched nothing fires too.
    IF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT FROM old_rows) THEN
            RETURN NULL;
        END IF;
    ELSIF NOT EXISTS (SELECT FROM new_rows) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_facet_deltas (level, organisation_id, service_id, tag, other_tag,
            criticality, responded, change_planned, change_made, stories)
        SELECT cell.*, count(*)
        FROM new_rows r
        CROSS JOIN LATERAL search_facet_cells(
            r.organisation_id, r.service_id, r.tags, r.criticality, r.response_count > 0,
            r.change_planned, r.change_made
        ) cell
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;

        INSERT INTO search_day_deltas (day, organisation_id, service_id, source,
            programme, stories, responded, change_planned, change_made, individuals,
            patients, carers, staff)
        SELECT (r.published_at AT TIME ZONE 'UTC')::date, r.organisation_id,
               coalesce(r.service_id, ''), r.source, coalesce(r.programme, ''), count(*),
               count(*) FILTER (WHERE r.response_count > 0),
               count(*) FILTER (WHERE r.change_planned),
               count(*) FILTER (WHERE r.change_made),
               sum(r.individuals), sum(r.patients), sum(r.carers), sum(r.staff)
        FROM new_rows r
        GROUP BY 1, 2, 3, 4, 5;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO search_facet_deltas (level, organisation_id, service_id, tag, other_tag,
            criticality, responded, change_planned, change_made, stories)
        SELECT cell.*, sum(r.sign)
        FROM (SELECT -1 AS sign, * FROM old_rows UNION ALL SELECT 1, * FROM new_rows) r
        CROSS JOIN LATERAL search_facet_cells(
            r.organisation_id, r.service_id, r.tags, r.criticality, r.response_count > 0,
            r.change_planned, r.change_made
        ) cell
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        HAVING sum(r.sign) <> 0;

        INSERT INTO search_day_deltas (day, organisation_id, service_id, source,
            programme, stories, responded, change_planned, change_made, individuals,
            patients, carers, staff)
        SELECT * FROM (
            SELECT (r.published_at AT TIME ZONE 'UTC')::date, r.organisation_id,
                   coalesce(r.service_id, ''), r.source, coalesce(r.programme, ''),
                   sum(r.sign) AS stories,
                   sum(r.sign * (r.response_count > 0)::int) AS responded,
                   sum(r.sign * r.change_planned::int) AS change_planned,
                   sum(r.sign * r.change_made::int) AS change_made,
                   sum(r.sign * r.individuals) AS individuals,
                   sum(r.sign * r.patients) AS patients,
                   sum(r.sign * r.carers) AS carers,
                   sum(r.sign * r.staff) AS staff
            FROM (SELECT -1 AS sign, * FROM old_rows UNION ALL SELECT 1, * FROM new_rows) r
            GROUP BY 1, 2, 3, 4, 5
        ) delta
        WHERE (stories, responded, change_planned, change_made, individuals, patients,
               carers, staff) <> (0, 0, 0, 0, 0, 0, 0, 0);
    ELSE
        INSERT INTO search_facet_deltas (level, organisation_id, service_id, tag, other_tag,
            criticality, responded, change_planned, change_made, stories)
        SELECT cell.*, -count(*)
        FROM old_rows r
        CROSS JOIN LATERAL search_facet_cells(
            r.organisation_id, r.service_id, r.tags, r.criticality, r.response_count > 0,
            r.change_planned, r.change_made
        ) cell
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;

        INSERT INTO search_day_deltas (day, organisation_id, service_id, source,
            programme, stories, responded, change_planned, change_made, individuals,
            patients, carers, staff)
        SELECT (r.published_at AT TIME ZONE 'UTC')::date, r.organisation_id,
               coalesce(r.service_id, ''), r.source, coalesce(r.programme, ''), -count(*),
               -count(*) FILTER (WHERE r.response_count > 0),
               -count(*) FILTER (WHERE r.change_planned),
               -count(*) FILTER (WHERE r.change_made),
               -sum(r.individuals), -sum(r.patients), -sum(r.carers), -sum(r.staff)
        FROM old_rows r
        GROUP BY 1, 2, 3, 4, 5;

        -- The sample holds the story's document: it goes with the story.
        DELETE FROM search_sample s USING old_rows r WHERE s.story_id = r.story_id;
        RETURN NULL;
    END IF;

    INSERT INTO search_sample AS s (story_id, sample_key, organisation_id, service_id, tags,
        criticality, response_count, change_planned, change_made, published_at,
        first_response_at, document, language)
    SELECT r.story_id, search_sample_key(r.story_id), r.organisation_id, r.service_id,
           r.tags, r.criticality, r.response_count, r.change_planned, r.change_made,
           r.published_at, r.first_response_at, r.document, r.language
    FROM new_rows r
    WHERE search_sample_key(r.story_id) IS NOT NULL
    ON CONFLICT (story_id) DO UPDATE SET
        organisation_id = EXCLUDED.organisation_id, service_id = EXCLUDED.service_id,
        tags = EXCLUDED.tags, criticality = EXCLUDED.criticality,
        response_count = EXCLUDED.response_count, change_planned = EXCLUDED.change_planned,
        change_made = EXCLUDED.change_made, published_at = EXCLUDED.published_at,
        first_response_at = EXCLUDED.first_response_at, document = EXCLUDED.document,
        language = EXCLUDED.language;
    RETURN NULL;
END
$$;
