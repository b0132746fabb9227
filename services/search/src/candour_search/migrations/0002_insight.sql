-- Programme-level insight: where each entry came from, how many people it speaks for,
-- and the programme of work of its service (issue: feedback from many sources).
ALTER TABLE search_stories
    ADD COLUMN source      text NOT NULL DEFAULT 'web',
    ADD COLUMN programme   text,
    ADD COLUMN individuals integer NOT NULL DEFAULT 1,
    ADD COLUMN patients    integer NOT NULL DEFAULT 0,
    ADD COLUMN carers      integer NOT NULL DEFAULT 0,
    ADD COLUMN staff       integer NOT NULL DEFAULT 0;
CREATE INDEX search_stories_by_programme ON search_stories (programme, published_at);
