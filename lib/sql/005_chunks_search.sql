-- 005_chunks_search.sql — where a chunk lies, and full-text search (issue 18).
--
-- page: the page a chunk starts on (paged formats; NULL otherwise).
-- start_byte, end_byte: [start, end) in bytes of documents.markdown (UTF-8),
-- the span the chunk covers, so a hit can be shown in context:
--   convert_from(substring(convert_to(d.markdown, 'UTF8')
--                from c.start_byte + 1 for c.end_byte - c.start_byte), 'UTF8')
-- NULL for chunks stored before this migration.
ALTER TABLE hopper.chunks
	ADD COLUMN page int,
	ADD COLUMN start_byte bigint,
	ADD COLUMN end_byte bigint;

-- Settings the database must agree on across daemons.
CREATE TABLE hopper.settings (
	key   text PRIMARY KEY,
	value text NOT NULL
);
INSERT INTO hopper.settings (key, value) VALUES ('search_config', 'simple');

-- Make chunks.tsv use the text-search configuration cfg ([daemon]
-- search_config). hopperd calls it at start-up; when cfg differs from the
-- stored one the generated column is rebuilt once (a rewrite of the chunks
-- table), under a lock so that daemons starting together do it once.
-- Returns true when it rebuilt.
CREATE FUNCTION hopper.set_search_config(cfg regconfig) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	cur text;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('hopper.set_search_config'));
	SELECT value INTO cur FROM hopper.settings WHERE key = 'search_config';
	IF cur IS NOT DISTINCT FROM cfg::text THEN
		RETURN false;
	END IF;
	DROP INDEX IF EXISTS hopper.chunks_tsv_idx;
	ALTER TABLE hopper.chunks DROP COLUMN tsv;
	EXECUTE format('ALTER TABLE hopper.chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS '
	               '(to_tsvector(%L::regconfig, coalesce(heading, '''') || '' '' || content)) STORED',
	               cfg::text);
	CREATE INDEX chunks_tsv_idx ON hopper.chunks USING gin (tsv);
	INSERT INTO hopper.settings (key, value) VALUES ('search_config', cfg::text)
	ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
	RETURN true;
END $$;

-- The best chunks for a web-search style query ("exact phrase", -not, or),
-- ranked by ts_rank, with the newest path of a file holding the document
-- and a snippet whose matches are wrapped in start_sel / stop_sel.
-- `hopper search` runs exactly this.
CREATE FUNCTION hopper.search(query text, max_rows int DEFAULT 10,
                              start_sel text DEFAULT '**', stop_sel text DEFAULT '**')
RETURNS TABLE (path text, heading text, page int, snippet text, rank real,
               document_id bigint, ordinal int)
LANGUAGE sql STABLE AS $$
	WITH q AS (
		SELECT s.value::regconfig AS cfg, websearch_to_tsquery(s.value::regconfig, query) AS tsq
		FROM hopper.settings s WHERE s.key = 'search_config'
	), hits AS (
		SELECT c.document_id, c.ordinal, c.heading, c.page, c.content,
		       ts_rank(c.tsv, q.tsq) AS rank
		FROM hopper.chunks c, q
		WHERE c.tsv @@ q.tsq
		ORDER BY rank DESC, c.document_id, c.ordinal
		LIMIT max_rows
	)
	SELECT (SELECT j.path FROM hopper.jobs j
	        WHERE j.document_id = h.document_id AND j.state = 'done'
	        ORDER BY j.id DESC LIMIT 1),
	       h.heading, h.page,
	       ts_headline(q.cfg, h.content, q.tsq,
	                   format('StartSel="%s", StopSel="%s", MaxWords=35, MinWords=15, MaxFragments=2',
	                          start_sel, stop_sel)),
	       h.rank, h.document_id, h.ordinal
	FROM hits h, q
	ORDER BY h.rank DESC, h.document_id, h.ordinal
$$;
