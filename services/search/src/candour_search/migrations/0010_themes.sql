-- Themes in what people say (the commissioners' deep dive), found by
-- `candour insight themes rebuild` and on a schedule. A theme keeps its id (and so
-- the name a person gave it, and any merge) across rebuilds while its top terms
-- carry on; themes a rebuild no longer finds stay, not current, for the record.
CREATE TABLE insight_themes (
    theme_id    uuid PRIMARY KEY,
    programme   text NOT NULL,            -- '' for entries whose service has no programme
    label       text NOT NULL,            -- as the finder labelled it
    name        text,                     -- as a person renamed it
    terms       text[] NOT NULL,
    size        integer NOT NULL,
    merged_into uuid REFERENCES insight_themes (theme_id) ON DELETE SET NULL,
    current     boolean NOT NULL DEFAULT true,
    built_at    timestamptz NOT NULL
);
CREATE INDEX insight_themes_current ON insight_themes (programme) WHERE current;

-- Which theme each published entry leans on most. No foreign key to search_stories:
-- a search rebuild replaces that table; a withdrawal deletes the row here itself,
-- and every read joins search_stories, so nothing withdrawn is ever shown.
CREATE TABLE insight_story_themes (
    story_id  uuid PRIMARY KEY,
    theme_id  uuid NOT NULL REFERENCES insight_themes (theme_id) ON DELETE CASCADE,
    weight    real NOT NULL
);
CREATE INDEX insight_story_themes_by_theme ON insight_story_themes (theme_id, weight DESC);

CREATE TABLE insight_theme_runs (
    programme   text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    entries     integer NOT NULL,
    themes      integer NOT NULL,
    PRIMARY KEY (programme, started_at)
);
