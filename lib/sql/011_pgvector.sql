-- 011_pgvector.sql — vectors in pgvector when the server has it, real[]
-- otherwise. Both ways of storing and ranking vectors live here, in two
-- functions, so the daemon, the CLI and psql users all get the same:
--
--   hopper.embed_storage(setup)   which one is in use; with setup = true
--       (hopperd's embedder, at each start) it first tries to switch to
--       pgvector: when the server offers the extension and
--       CREATE EXTENSION IF NOT EXISTS vector succeeds, the column
--       hopper.embeddings.vector becomes pgvector's `vector` (rewritten
--       once, values cast from real[]). Any failure (no extension, no
--       privilege) keeps real[] and says why.
--   hopper.semantic_nearest(...)  the chunks of one model nearest to a
--       query vector: pgvector's cosine distance `<=>` on a pgvector
--       column, hopper.cosine() over real[] otherwise.
--
-- The column is pgvector's `vector` without a fixed dimension count, not
-- vector(N): re-embedding with a new model keeps the old model's rows until
-- the new set is complete, and the two models may have different
-- dimensions. Rows of one model all have the model's dimensions (the
-- embedder checks them), which is all `<=>` needs. Nothing here names the
-- type `vector` outside dynamic SQL, so the migration runs on every server.

-- The schema of pgvector's type when hopper.embeddings.vector has it, else
-- NULL (the column is real[]).
CREATE FUNCTION hopper.vector_column_schema() RETURNS name
LANGUAGE sql STABLE AS $$
	SELECT n.nspname FROM pg_catalog.pg_attribute a
	JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
	JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
	WHERE a.attrelid = 'hopper.embeddings'::regclass AND a.attname = 'vector' AND t.typname = 'vector'
$$;

CREATE FUNCTION hopper.embed_storage(setup boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	vs name;
	why text;
BEGIN
	vs := hopper.vector_column_schema();
	IF vs IS NOT NULL THEN
		RETURN 'pgvector';
	END IF;
	IF NOT setup THEN
		RETURN 'real[]';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'vector') THEN
		RETURN 'real[] (the server has no pgvector extension)';
	END IF;
	BEGIN
		CREATE EXTENSION IF NOT EXISTS vector;
		SELECT n.nspname INTO vs FROM pg_catalog.pg_extension x
		JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace WHERE x.extname = 'vector';
		EXECUTE format('ALTER TABLE hopper.embeddings ALTER COLUMN vector TYPE %1$I.vector'
		               ' USING vector::%1$I.vector', vs);
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS why = MESSAGE_TEXT;
		RETURN format('real[] (pgvector is on the server but cannot be used: %s)', why);
	END;
	RETURN 'pgvector';
END $$;

CREATE FUNCTION hopper.semantic_nearest(qvec real[], model text, max_rows int, watch_name text DEFAULT NULL)
RETURNS TABLE (document_id bigint, ordinal int, sim double precision)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
	vs name;
BEGIN
	vs := hopper.vector_column_schema();
	IF vs IS NULL THEN
		-- real[]: every vector of the model is read and compared in SQL.
		RETURN QUERY EXECUTE
			'SELECT e.document_id, e.ordinal, hopper.cosine(e.vector, $1)'
			' FROM hopper.embeddings e WHERE e.model = $2'
			'  AND ($4::text IS NULL OR e.document_id IN (SELECT j.document_id FROM hopper.jobs j'
			'       WHERE j.watch = $4 AND j.document_id IS NOT NULL))'
			' ORDER BY 3 DESC NULLS LAST LIMIT $3'
			USING qvec, model, max_rows, watch_name;
	ELSE
		-- pgvector: cosine distance in C; similarity = 1 - distance.
		RETURN QUERY EXECUTE format(
			'SELECT e.document_id, e.ordinal, 1 - (e.vector OPERATOR(%1$I.<=>) $1::%1$I.vector)'
			' FROM hopper.embeddings e WHERE e.model = $2'
			'  AND ($4::text IS NULL OR e.document_id IN (SELECT j.document_id FROM hopper.jobs j'
			'       WHERE j.watch = $4 AND j.document_id IS NOT NULL))'
			' ORDER BY e.vector OPERATOR(%1$I.<=>) $1::%1$I.vector LIMIT $3', vs)
			USING qvec, model, max_rows, watch_name;
	END IF;
END $$;

-- hopper.semantic_search (migration 009) with its nearest chunks from
-- hopper.semantic_nearest; the fusion with full-text rank is unchanged.
CREATE OR REPLACE FUNCTION hopper.semantic_search(query text, qvec real[], model text, max_rows int DEFAULT 10,
                                                  start_sel text DEFAULT '**', stop_sel text DEFAULT '**',
                                                  watch_name text DEFAULT NULL)
RETURNS TABLE (path text, heading text, page int, snippet text, score double precision,
               similarity double precision, document_id bigint, ordinal int)
LANGUAGE sql STABLE AS $$
	WITH q AS (
		SELECT s.value::regconfig AS cfg, websearch_to_tsquery(s.value::regconfig, query) AS tsq
		FROM hopper.settings s WHERE s.key = 'search_config'
	), mine AS (
		SELECT DISTINCT j.document_id FROM hopper.jobs j
		WHERE watch_name IS NOT NULL AND j.watch = watch_name AND j.document_id IS NOT NULL
	), sem_r AS (
		SELECT n.document_id, n.ordinal, n.sim, row_number() OVER (ORDER BY n.sim DESC NULLS LAST) AS r
		FROM hopper.semantic_nearest(qvec, model, greatest(max_rows * 5, 50), watch_name) n
	), fts AS (
		SELECT c.document_id, c.ordinal,
		       row_number() OVER (ORDER BY ts_rank(c.tsv, q.tsq) DESC, c.document_id, c.ordinal) AS r
		FROM hopper.chunks c, q
		WHERE c.tsv @@ q.tsq
		  AND (watch_name IS NULL OR c.document_id IN (SELECT document_id FROM mine))
		ORDER BY ts_rank(c.tsv, q.tsq) DESC, c.document_id, c.ordinal
		LIMIT greatest(max_rows * 5, 50)
	), fused AS (
		SELECT u.document_id, u.ordinal, sum(1.0 / (60 + u.r)) AS score
		FROM (SELECT document_id, ordinal, r FROM sem_r UNION ALL SELECT document_id, ordinal, r FROM fts) u
		GROUP BY u.document_id, u.ordinal
		ORDER BY score DESC, u.document_id, u.ordinal
		LIMIT max_rows
	)
	SELECT (SELECT j.path FROM hopper.jobs j
	        WHERE j.document_id = f.document_id AND j.state = 'done'
	        ORDER BY j.id DESC LIMIT 1),
	       c.heading, c.page,
	       CASE WHEN c.tsv @@ q.tsq
	            THEN ts_headline(q.cfg, c.content, q.tsq,
	                             format('StartSel="%s", StopSel="%s", MaxWords=35, MinWords=15, MaxFragments=2',
	                                    start_sel, stop_sel))
	            ELSE left(c.content, 240) END,
	       f.score, s.sim, f.document_id, f.ordinal
	FROM fused f
	JOIN hopper.chunks c ON c.document_id = f.document_id AND c.ordinal = f.ordinal
	LEFT JOIN sem_r s ON s.document_id = f.document_id AND s.ordinal = f.ordinal
	CROSS JOIN q
	ORDER BY f.score DESC, f.document_id, f.ordinal
$$;
