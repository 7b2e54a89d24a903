-- 003_workers_readonly.sql — the hopper.workers view and a read-only role
-- (DESIGN §4).
--
-- hopper.worker_procs is kept by each supervisor: it replaces its own rows
-- (owner = "node:pid") when its workers change and touches seen_at at
-- least every 30 s. The view shows the rows of daemons seen in the last
-- minute, so a daemon that was killed drops out by itself.
CREATE TABLE hopper.worker_procs (
	owner    text NOT NULL,          -- the supervisor, "node:pid"
	node     text NOT NULL,
	pid      int NOT NULL,           -- the converter process
	job_id   bigint,                 -- NULL while idle
	since    timestamptz NOT NULL,   -- started its current job, or went idle
	seen_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (owner, pid)
);

CREATE VIEW hopper.workers AS
SELECT node, pid, job_id, since
FROM hopper.worker_procs
WHERE seen_at > now() - interval '1 minute'
ORDER BY node, pid;

-- hopper_read: may be granted to people and tools that only look
-- (GRANT hopper_read TO alice). Creating a role needs CREATEROLE; a
-- database user without it gets a notice and no role, and the schema
-- works all the same.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hopper_read') THEN
		CREATE ROLE hopper_read NOLOGIN;
	END IF;
	EXECUTE format('GRANT USAGE ON SCHEMA hopper TO hopper_read');
	EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA hopper TO hopper_read');
	EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA hopper GRANT SELECT ON TABLES TO hopper_read');
EXCEPTION WHEN insufficient_privilege THEN
	RAISE NOTICE 'hopper: no role hopper_read (this user may not create roles); grant SELECT on schema hopper by hand';
END
$$;
