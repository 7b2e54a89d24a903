-- 001_init.sql — the job queue, documents and chunks (DESIGN §3, §4).
--
-- Applied by lib/migrate.c inside one transaction, after it has created the
-- schema "hopper" and hopper.schema_version itself.
--
-- Distribution (Citus): documents and chunks are keyed by document id
-- (chunks' primary key starts with document_id, and every query on chunks
-- names it), so both can be distributed by it while hopper.jobs stays on the
-- coordinator. A sharded deployment drops jobs_document_id_fkey and the
-- unique sha256 constraint (Citus needs the distribution column in both)
-- and deduplicates through hp_queue_find_document instead.

CREATE TABLE hopper.documents (
	id         bigserial PRIMARY KEY,
	sha256     text NOT NULL CONSTRAINT documents_sha256_key UNIQUE, -- hex of the input bytes
	format     text NOT NULL,        -- spelling of hp_format_name(): pdf, docx, ... code
	title      text,
	bytes      bigint NOT NULL,      -- input size
	pages      int,
	markdown   text NOT NULL,
	meta       jsonb,
	created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per version of a file: the same path with other (dev, ino, size,
-- mtime) is a new job, so enqueue is idempotent and several daemons watching
-- one shared folder queue each version once.
CREATE TABLE hopper.jobs (
	id           bigserial PRIMARY KEY,
	watch        text NOT NULL,
	path         text NOT NULL,
	dev          numeric(20, 0) NOT NULL,  -- uint64: does not fit bigint
	ino          numeric(20, 0) NOT NULL,
	size         bigint NOT NULL,
	mtime_ns     bigint NOT NULL,
	state        text NOT NULL DEFAULT 'queued'
	             CONSTRAINT jobs_state_check
	             CHECK (state IN ('queued', 'running', 'retry', 'done', 'failed')),
	priority     int NOT NULL DEFAULT 0,
	attempts     int NOT NULL DEFAULT 0,
	error        text,
	queued_at    timestamptz NOT NULL DEFAULT now(),
	started_at   timestamptz,
	finished_at  timestamptz,
	not_before   timestamptz NOT NULL DEFAULT now(),   -- retry backoff
	lease_owner  text,                                 -- "node:pid" while running
	lease_until  timestamptz,
	chunk_tokens int,
	document_id  bigint CONSTRAINT jobs_document_id_fkey REFERENCES hopper.documents (id),
	CONSTRAINT jobs_version_key UNIQUE (path, dev, ino, size, mtime_ns)
);

-- Claims walk this index in claim order. It also holds running jobs because a
-- claim takes those whose lease expired; done and failed jobs, the bulk of
-- the table, stay out of it.
CREATE INDEX jobs_claim_idx ON hopper.jobs (priority DESC, id)
	WHERE state IN ('queued', 'retry', 'running');
-- Renew and release_all look up the running jobs of one owner.
CREATE INDEX jobs_lease_idx ON hopper.jobs (lease_owner) WHERE state = 'running';
CREATE INDEX jobs_document_idx ON hopper.jobs (document_id);

CREATE TABLE hopper.chunks (
	document_id bigint NOT NULL REFERENCES hopper.documents (id) ON DELETE CASCADE,
	ordinal     int NOT NULL,
	heading     text NOT NULL DEFAULT '',   -- "Guide > Install > Debian"
	content     text NOT NULL,
	tokens      int NOT NULL,
	tsv         tsvector GENERATED ALWAYS AS
	            (to_tsvector('simple'::regconfig, coalesce(heading, '') || ' ' || content)) STORED,
	PRIMARY KEY (document_id, ordinal)
);
CREATE INDEX chunks_tsv_idx ON hopper.chunks USING gin (tsv);

-- One row per state present, in lifecycle order.
CREATE VIEW hopper.status AS
SELECT state, count(*) AS jobs
FROM hopper.jobs
GROUP BY state
ORDER BY array_position(ARRAY['queued', 'running', 'retry', 'done', 'failed'], state);

-- What failed and why, newest first.
CREATE VIEW hopper.failures AS
SELECT path, error, attempts, finished_at, watch, id AS job_id
FROM hopper.jobs
WHERE state = 'failed'
ORDER BY finished_at DESC, id DESC;

-- Per watch: counts, the rate of the last minute and the time left at that
-- rate. Jobs waiting to retry count as queued.
CREATE VIEW hopper.progress AS
SELECT watch, queued, running, done, failed,
       round(recent / 60.0, 2) AS files_per_s,
       CASE WHEN recent > 0
            THEN make_interval(secs => round((queued + running) * 60.0 / recent))
       END AS eta
FROM (
	SELECT watch,
	       count(*) FILTER (WHERE state IN ('queued', 'retry')) AS queued,
	       count(*) FILTER (WHERE state = 'running') AS running,
	       count(*) FILTER (WHERE state = 'done') AS done,
	       count(*) FILTER (WHERE state = 'failed') AS failed,
	       count(*) FILTER (WHERE state IN ('done', 'failed')
	                          AND finished_at > now() - interval '1 minute') AS recent
	FROM hopper.jobs
	GROUP BY watch
) w
ORDER BY watch;
