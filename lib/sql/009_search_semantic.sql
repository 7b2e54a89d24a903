-- 009_search_semantic.sql — search limited to one watch, and semantic
-- search over hopper.embeddings (migration 008) fused with full-text rank.
--
-- hopper.search() gains watch_name (NULL: every watch); the old signature
-- is replaced. hopper.semantic_search() ranks chunks by the cosine
-- similarity of their vector (model `model`) to qvec, and by full-text
-- rank, and fuses the two lists by reciprocal rank (score = sum of
-- 1 / (60 + rank in each list)), so a chunk that both find comes first and
-- one that only the meaning finds still shows. The cosine is computed over
-- real[] (no pgvector on Debian 12): every vector of the model is read,
-- which is fine for hundreds of thousands of chunks, not for hundreds of
-- millions.

DROP FUNCTION hopper.search(text, int, text, text);

CREATE FUNCTION hopper.search(query text, max_rows int DEFAULT 10,
                              start_sel text DEFAULT '**', stop_sel text DEFAULT '**',
                              watch_name text DEFAULT NULL)
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
		  AND (watch_name IS NULL OR EXISTS (SELECT 1 FROM hopper.jobs j
		       WHERE j.document_id = c.document_id AND j.watch = watch_name))
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

CREATE FUNCTION hopper.cosine(a real[], b real[]) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT sum(x::float8 * y) / nullif(sqrt(sum(x::float8 * x)) * sqrt(sum(y::float8 * y)), 0)
	FROM unnest(a, b) AS t(x, y)
$$;

CREATE FUNCTION hopper.semantic_search(query text, qvec real[], model text, max_rows int DEFAULT 10,
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
	), sem AS (
		SELECT e.document_id, e.ordinal, hopper.cosine(e.vector, qvec) AS sim
		FROM hopper.embeddings e
		WHERE e.model = semantic_search.model
		  AND (watch_name IS NULL OR e.document_id IN (SELECT document_id FROM mine))
		ORDER BY sim DESC NULLS LAST
		LIMIT greatest(max_rows * 5, 50)
	), sem_r AS (
		SELECT document_id, ordinal, sim, row_number() OVER (ORDER BY sim DESC NULLS LAST) AS r FROM sem
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
