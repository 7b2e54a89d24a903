-- 006_disposed.sql — when a finished job's source file was moved or deleted
-- (on_success / on_failure, lib/dispose.c).
--
-- The file operation happens after the job's result is committed and is
-- marked here after it; a job done or failed with disposed_at NULL in a
-- watch that moves or deletes is finished at the next start-up (a crash
-- between commit and move). Jobs finished before this migration count as
-- disposed: their files are where the user left them. No index: only the
-- start-up pass looks for unmarked jobs, per watch, once.
ALTER TABLE hopper.jobs ADD COLUMN disposed_at timestamptz;
UPDATE hopper.jobs SET disposed_at = coalesce(finished_at, now())
WHERE state IN ('done', 'failed');
