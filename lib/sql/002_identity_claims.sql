-- 002_identity_claims.sql — job identity that survives shares and moves,
-- claims that cost the same at any table size, retries (DESIGN §3, §4).
--
-- Identity: a version of a file is (watch, path relative to the watch root,
-- inode, size, mtime). The device number differs between NFS clients, so it
-- is no longer part of it: several machines watching one shared folder
-- queue each version once. rel_path keeps the name's exact bytes (names
-- need not be UTF-8); `path` stays readable text, with bytes that are not
-- UTF-8 written \xNN (README: "File names"). The unique index hashes
-- rel_path because a btree entry is limited to about 2.7 kB and a path may
-- reach 4 kB.
-- Rows of an older hopperd have no rel_path until a daemon that has their
-- watch adopts them (hp_queue_set_watches); until then they are never
-- claimed.
ALTER TABLE hopper.jobs ADD COLUMN rel_path bytea;
ALTER TABLE hopper.jobs ALTER COLUMN dev DROP NOT NULL;
ALTER TABLE hopper.jobs DROP CONSTRAINT jobs_version_key;
CREATE UNIQUE INDEX jobs_version_key
	ON hopper.jobs (watch, sha256(rel_path), ino, size, mtime_ns);

-- Claims: one index per way a job becomes claimable, each holding only the
-- rows in that state, each walked in claim order with a LIMIT. Done and
-- failed rows, the bulk of the table, are in none of them, so a claim costs
-- the same with ten rows or ten million (test_queue checks the plan).
DROP INDEX hopper.jobs_claim_idx;
CREATE INDEX jobs_ready_idx ON hopper.jobs (priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_retry_idx ON hopper.jobs (not_before) WHERE state = 'retry';
CREATE INDEX jobs_expiry_idx ON hopper.jobs (lease_until) WHERE state = 'running';
