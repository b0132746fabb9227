-- Search at a million stories (issue 19): counts kept as the index changes, and a uniform
-- sample of the index to estimate what the counts cannot answer.
--
-- Three tables derived from search_stories, written by its statement triggers below, so
-- they change in the same transaction as the index row on every path that writes it
-- (indexing, responses, withdrawal, a rebuild, a bulk COPY):
--
--   search_facet_counts    stories per (cell, criticality, responded, change): the totals
--                          and facets of searches without words or dates, statistics
--   search_monthly_counts  stories and the people they speak for, per month and
--                          organisation/service/source/programme: insight and statistics
--   search_daily_counts    the same per day, source and programme only: insight and
--                          statistics of every organisation, over any period
--   search_sample          1 story in 64 (by a hash of its id), with its document: estimates
--
-- The triggers never update a count: they add rows to search_facet_deltas and
-- search_day_deltas (per day, organisation, service, source, programme), so concurrent
-- writers never wait for or deadlock on a shared counter. Readers sum the counts and the
-- deltas of a cell; search_compact_counts() folds the deltas into the counts (one row per
-- cell, updated in place: a fillfactor leaves room for HOT updates, so the cells of a
-- level stay together on few pages).

CREATE TABLE search_facet_counts (
    -- Which of the columns below the cell is about (the others are NULL):
    --   0 everything, 1 organisation, 3 organisation + service, 4 tag,
    --   5 organisation + tag, 7 organisation + service + tag, 12 tag + other_tag
    --   (stories having both tags); plus 16, the same summed over criticality, responded
    --   and change (criticality NULL, the booleans false): what searches filtering by none
    --   of those read, a few rows per organisation, service or tag.
    level           smallint NOT NULL,
    organisation_id text,
    service_id      text,  -- '' for stories without a service
    tag             text,
    other_tag       text,
    criticality     smallint,  -- NULL for stories not rated
    responded       boolean NOT NULL,
    change_planned  boolean NOT NULL,
    change_made     boolean NOT NULL,
    stories         integer NOT NULL
) WITH (fillfactor = 70);
CREATE UNIQUE INDEX search_facet_counts_cell
    ON search_facet_counts (level, organisation_id, service_id, tag, other_tag, criticality,
                            responded, change_planned, change_made) NULLS NOT DISTINCT;
CREATE INDEX search_facet_counts_by_service ON search_facet_counts (level, service_id);
CREATE INDEX search_facet_counts_by_tag ON search_facet_counts (level, tag);
-- No index: a second's worth of rows between folds, read whole.
CREATE TABLE search_facet_deltas (LIKE search_facet_counts);

CREATE TABLE search_monthly_counts (
    month           date NOT NULL,  -- first day of the month of publication (UTC)
    organisation_id text NOT NULL,
    service_id      text NOT NULL,  -- '' for stories without a service
    source          text NOT NULL,
    programme       text NOT NULL,  -- '' for stories without a programme
    stories         integer NOT NULL,
    responded       integer NOT NULL,
    change_planned  integer NOT NULL,
    change_made     integer NOT NULL,
    individuals     integer NOT NULL,
    patients        integer NOT NULL,
    carers          integer NOT NULL,
    staff           integer NOT NULL
) WITH (fillfactor = 70);
CREATE UNIQUE INDEX search_monthly_counts_cell
    ON search_monthly_counts (month, organisation_id, service_id, source, programme);
CREATE INDEX search_monthly_counts_by_organisation
    ON search_monthly_counts (organisation_id, month);
CREATE INDEX search_monthly_counts_by_service ON search_monthly_counts (service_id, month);
CREATE TABLE search_daily_counts (
    day             date NOT NULL,  -- the day of publication (UTC)
    source          text NOT NULL,
    programme       text NOT NULL,
    stories         integer NOT NULL,
    responded       integer NOT NULL,
    change_planned  integer NOT NULL,
    change_made     integer NOT NULL,
    individuals     integer NOT NULL,
    patients        integer NOT NULL,
    carers          integer NOT NULL,
    staff           integer NOT NULL
) WITH (fillfactor = 70);
CREATE UNIQUE INDEX search_daily_counts_cell ON search_daily_counts (day, source, programme);
-- Deltas of both: per day, so they fold into either.
CREATE TABLE search_day_deltas (LIKE search_monthly_counts);
ALTER TABLE search_day_deltas RENAME COLUMN month TO day;

-- The columns searches filter and count by, and the document; no story text. A story is
-- in the sample when the low 6 bits of the hash of its id are 0 (each story with
-- probability 1/64, whatever its organisation, date or words); sample_key (the next 4 bits)
-- splits it into 16 equal parts, so sample_key = 0 is a sample of 1 in 1,024 and
-- sample_key < 4 one of 1 in 256.
CREATE TABLE search_sample (
    story_id          uuid PRIMARY KEY,
    sample_key        smallint NOT NULL,
    organisation_id   text NOT NULL,
    service_id        text,
    tags              text[] NOT NULL,
    criticality       smallint,
    response_count    integer NOT NULL,
    change_planned    boolean NOT NULL,
    change_made       boolean NOT NULL,
    published_at      timestamptz NOT NULL,
    first_response_at timestamptz,
    document          tsvector NOT NULL
);
CREATE INDEX search_sample_document_gin ON search_sample USING gin (document);
CREATE INDEX search_sample_by_key ON search_sample (sample_key);

-- NULL when the story is not in the sample, else its sample_key.
CREATE FUNCTION search_sample_key(story_id uuid) RETURNS smallint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN uuid_hash(story_id) & 63 = 0
                THEN ((uuid_hash(story_id) >> 6) & 15)::smallint END
$$;

-- The facet cells one story counts in (see search_facet_counts.level): each twice, with
-- its criticality, responded and change, and summed over them (level + 16) for searches
-- that filter by none of those.
CREATE FUNCTION search_facet_cells(
    p_organisation text, p_service text, p_tags text[], p_criticality smallint,
    p_responded boolean, p_change_planned boolean, p_change_made boolean
)
RETURNS TABLE (
    level smallint, organisation_id text, service_id text, tag text, other_tag text,
    criticality smallint, responded boolean, change_planned boolean, change_made boolean
)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (cell.level + 16 * summed.yes)::smallint, cell.organisation_id, cell.service_id,
           cell.tag, cell.other_tag,
           CASE WHEN summed.yes = 0 THEN p_criticality END,
           summed.yes = 0 AND p_responded,
           summed.yes = 0 AND p_change_planned,
           summed.yes = 0 AND p_change_made
    FROM (
        SELECT 0, NULL::text, NULL::text, NULL::text, NULL::text
        UNION ALL SELECT 1, p_organisation, NULL, NULL, NULL
        UNION ALL SELECT 3, p_organisation, coalesce(p_service, ''), NULL, NULL
        UNION ALL SELECT 4, NULL, NULL, t, NULL FROM unnest(p_tags) AS t
        UNION ALL SELECT 5, p_organisation, NULL, t, NULL FROM unnest(p_tags) AS t
        UNION ALL SELECT 7, p_organisation, coalesce(p_service, ''), t, NULL
            FROM unnest(p_tags) AS t
        UNION ALL SELECT 12, NULL, NULL, t, u FROM unnest(p_tags) AS t, unnest(p_tags) AS u
            WHERE t <> u
    ) AS cell (level, organisation_id, service_id, tag, other_tag),
    (VALUES (0), (1)) AS summed (yes)
$$;

-- One trigger function for the three statement triggers: each passes its transition
-- tables (new_rows for INSERT, old_rows and new_rows for UPDATE, old_rows for DELETE).
-- Rows leaving a cell count -1, rows entering it +1; a cell whose changes cancel out
-- (an update that moved nothing) gets no delta.
CREATE FUNCTION search_stories_derived() RETURNS trigger
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
        first_response_at, document)
    SELECT r.story_id, search_sample_key(r.story_id), r.organisation_id, r.service_id,
           r.tags, r.criticality, r.response_count, r.change_planned, r.change_made,
           r.published_at, r.first_response_at, r.document
    FROM new_rows r
    WHERE search_sample_key(r.story_id) IS NOT NULL
    ON CONFLICT (story_id) DO UPDATE SET
        organisation_id = EXCLUDED.organisation_id, service_id = EXCLUDED.service_id,
        tags = EXCLUDED.tags, criticality = EXCLUDED.criticality,
        response_count = EXCLUDED.response_count, change_planned = EXCLUDED.change_planned,
        change_made = EXCLUDED.change_made, published_at = EXCLUDED.published_at,
        first_response_at = EXCLUDED.first_response_at, document = EXCLUDED.document;
    RETURN NULL;
END
$$;

CREATE TRIGGER search_stories_derived_insert
    AFTER INSERT ON search_stories REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_stories_derived();
CREATE TRIGGER search_stories_derived_update
    AFTER UPDATE ON search_stories REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_stories_derived();
CREATE TRIGGER search_stories_derived_delete
    AFTER DELETE ON search_stories REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_stories_derived();

-- Fold the delta rows into the counts, and drop cells that became empty. Returns how many
-- delta rows it folded. Run by one session at a time (the service takes an advisory lock);
-- writers only insert delta rows, so they never wait for it.
CREATE FUNCTION search_compact_counts() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint := 0;
    delta_rows bigint;
    emptied tid[];
    emptied_days tid[];
BEGIN
    WITH deltas AS (
        DELETE FROM search_facet_deltas
        RETURNING level, organisation_id, service_id, tag, other_tag, criticality,
                  responded, change_planned, change_made, stories
    ),
    counted AS (SELECT count(*) AS n FROM deltas),
    cells AS (
        INSERT INTO search_facet_counts AS c (level, organisation_id, service_id, tag,
            other_tag, criticality, responded, change_planned, change_made, stories)
        SELECT level, organisation_id, service_id, tag, other_tag, criticality, responded,
               change_planned, change_made, sum(stories)
        FROM deltas
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        ON CONFLICT (level, organisation_id, service_id, tag, other_tag, criticality,
                     responded, change_planned, change_made)
        DO UPDATE SET stories = c.stories + EXCLUDED.stories
        RETURNING c.ctid AS row_id, c.stories
    )
    SELECT (SELECT n FROM counted), array_agg(row_id) FILTER (WHERE stories = 0)
    INTO delta_rows, emptied FROM cells;
    folded := folded + delta_rows;
    DELETE FROM search_facet_counts WHERE ctid = ANY (emptied);

    WITH deltas AS MATERIALIZED (
        DELETE FROM search_day_deltas
        RETURNING day, organisation_id, service_id, source, programme, stories, responded,
                  change_planned, change_made, individuals, patients, carers, staff
    ),
    counted AS (SELECT count(*) AS n FROM deltas),
    months AS (
        INSERT INTO search_monthly_counts AS c (month, organisation_id, service_id, source,
            programme, stories, responded, change_planned, change_made, individuals,
            patients, carers, staff)
        SELECT date_trunc('month', day::timestamp)::date, organisation_id, service_id, source,
               programme, sum(stories), sum(responded), sum(change_planned),
               sum(change_made), sum(individuals), sum(patients), sum(carers), sum(staff)
        FROM deltas
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (month, organisation_id, service_id, source, programme)
        DO UPDATE SET stories = c.stories + EXCLUDED.stories,
            responded = c.responded + EXCLUDED.responded,
            change_planned = c.change_planned + EXCLUDED.change_planned,
            change_made = c.change_made + EXCLUDED.change_made,
            individuals = c.individuals + EXCLUDED.individuals,
            patients = c.patients + EXCLUDED.patients,
            carers = c.carers + EXCLUDED.carers,
            staff = c.staff + EXCLUDED.staff
        RETURNING c.ctid AS row_id, c.stories, c.individuals
    ),
    days AS (
        INSERT INTO search_daily_counts AS c (day, source, programme, stories, responded,
            change_planned, change_made, individuals, patients, carers, staff)
        SELECT day, source, programme, sum(stories), sum(responded), sum(change_planned),
               sum(change_made), sum(individuals), sum(patients), sum(carers), sum(staff)
        FROM deltas
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        ON CONFLICT (day, source, programme)
        DO UPDATE SET stories = c.stories + EXCLUDED.stories,
            responded = c.responded + EXCLUDED.responded,
            change_planned = c.change_planned + EXCLUDED.change_planned,
            change_made = c.change_made + EXCLUDED.change_made,
            individuals = c.individuals + EXCLUDED.individuals,
            patients = c.patients + EXCLUDED.patients,
            carers = c.carers + EXCLUDED.carers,
            staff = c.staff + EXCLUDED.staff
        RETURNING c.ctid AS row_id, c.stories, c.individuals
    )
    SELECT (SELECT n FROM counted),
           (SELECT array_agg(row_id) FROM months WHERE stories = 0 AND individuals = 0),
           (SELECT array_agg(row_id) FROM days WHERE stories = 0 AND individuals = 0)
    INTO delta_rows, emptied, emptied_days;
    folded := folded + delta_rows;
    DELETE FROM search_monthly_counts WHERE ctid = ANY (emptied);
    DELETE FROM search_daily_counts WHERE ctid = ANY (emptied_days);
    RETURN folded;
END
$$;

-- What is already indexed.
INSERT INTO search_facet_counts (level, organisation_id, service_id, tag, other_tag,
    criticality, responded, change_planned, change_made, stories)
SELECT cell.*, count(*)
FROM search_stories s
CROSS JOIN LATERAL search_facet_cells(
    s.organisation_id, s.service_id, s.tags, s.criticality, s.response_count > 0,
    s.change_planned, s.change_made
) cell
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9;

INSERT INTO search_monthly_counts (month, organisation_id, service_id, source, programme,
    stories, responded, change_planned, change_made, individuals, patients, carers, staff)
SELECT date_trunc('month', s.published_at, 'UTC')::date, s.organisation_id,
       coalesce(s.service_id, ''), s.source, coalesce(s.programme, ''), count(*),
       count(*) FILTER (WHERE s.response_count > 0), count(*) FILTER (WHERE s.change_planned),
       count(*) FILTER (WHERE s.change_made), sum(s.individuals), sum(s.patients),
       sum(s.carers), sum(s.staff)
FROM search_stories s
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, 4, 5;

INSERT INTO search_daily_counts (day, source, programme, stories, responded, change_planned,
    change_made, individuals, patients, carers, staff)
SELECT (s.published_at AT TIME ZONE 'UTC')::date, s.source, coalesce(s.programme, ''),
       count(*), count(*) FILTER (WHERE s.response_count > 0),
       count(*) FILTER (WHERE s.change_planned), count(*) FILTER (WHERE s.change_made),
       sum(s.individuals), sum(s.patients), sum(s.carers), sum(s.staff)
FROM search_stories s
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

INSERT INTO search_sample (story_id, sample_key, organisation_id, service_id, tags,
    criticality, response_count, change_planned, change_made, published_at,
    first_response_at, document)
SELECT story_id, search_sample_key(story_id), organisation_id, service_id, tags, criticality,
       response_count, change_planned, change_made, published_at, first_response_at, document
FROM search_stories
WHERE search_sample_key(story_id) IS NOT NULL;

-- Facet labels are the name of an organisation's (service's) newest story, and the exact
-- statistics of an organisation or service (up to 10,000 stories) read its stories'
-- answer columns: carry them in the b-trees that find those stories, so neither reads a
-- table page (index-only scans).
DROP INDEX search_stories_organisation;
CREATE INDEX search_stories_organisation
    ON search_stories (organisation_id, published_at DESC, story_id DESC)
    INCLUDE (organisation_name, service_id, criticality, response_count, first_response_at,
             change_planned, change_made);
DROP INDEX search_stories_service;
CREATE INDEX search_stories_service
    ON search_stories (service_id, published_at DESC, story_id DESC)
    INCLUDE (service_name, organisation_id, criticality, response_count, first_response_at,
             change_planned, change_made)
    WHERE service_id IS NOT NULL;

-- GIN's pending list takes new documents cheaply and is merged in bulk; every search also
-- reads it, so keep it small (default 4 MB) for reads while writes still batch.
ALTER INDEX search_stories_document_gin SET (gin_pending_list_limit = 1024);
