-- Feedback from many sources, and the programme of work each service belongs to.
ALTER TABLE services ADD COLUMN programme text;

ALTER TABLE stories
    ADD COLUMN source      text NOT NULL DEFAULT 'web',
    ADD COLUMN external_id text,
    ADD COLUMN assisted_by text,
    ADD COLUMN represents  jsonb NOT NULL DEFAULT '{"individuals": 1, "patients": 0, "carers": 0, "staff": 0}'::jsonb;

-- Re-running an import of the same source creates nothing twice.
CREATE UNIQUE INDEX stories_by_source_external_id ON stories (source, external_id)
    WHERE external_id IS NOT NULL;
