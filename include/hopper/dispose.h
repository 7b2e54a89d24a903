/* dispose.h — what happens to a source file after its job is finished
 * (DESIGN §5: on_success = keep | delete | move:DIR, on_failure = keep |
 * move:DIR).
 *
 * What it does: applied only after the job's result (or its final failure)
 * is committed. Moving keeps the path relative to the watch's folder under
 * DIR and never overwrites: a name already taken gets " (1)", " (2)", ...
 * before its extension. Across filesystems the file is copied to a
 * temporary name in DIR, fsync'd, linked to its final name (link(2) never
 * replaces) and only then removed from the watch. A job is marked
 * disposed (hopper.jobs.disposed_at, migration 006) after the file
 * operation, so a crash between commit and move is finished at the next
 * start (hp_dispose_pending): the file is neither lost nor converted again
 * (its version is `done`, so the start-up scan does not queue it).
 * Only the version the job stands for is touched: a file written again
 * since (other size, mtime or inode) is left where it is, for its own job.
 * Paths from the table are data: the file must lie below the watch's
 * folder, and no symbolic link is followed anywhere in it (openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS).
 * What it never does: read file contents (except to copy across
 * filesystems), delete on failure, or overwrite a file.
 * Process rules: supervisor only; calls block on the database (one query
 * per finished job of a watch that moves or deletes; none for keep).
 * Fault injection: HOPPER_FAULT_KILL_BEFORE_DISPOSE=TEXT makes hopperd kill
 * itself with SIGKILL right before it disposes of a file whose path holds
 * TEXT (tests of the crash between commit and move).
 */
#ifndef HOPPER_DISPOSE_H
#define HOPPER_DISPOSE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "hopper/config.h"

typedef enum hp_dispose_kind { HP_DISPOSE_SUCCESS, HP_DISPOSE_FAILURE } hp_dispose_kind;

/* The version of a file a job stands for. */
typedef struct hp_file_version {
	int64_t size;
	int64_t mtime_ns;
	uint64_t ino;
} hp_file_version;

/* Apply w's action for `kind` to `path` (absolute, exact bytes, below w's
 * folder; logged with bytes that are not UTF-8 escaped) if it
 * is still version *v. On a move, *ret_dest (may be NULL) gets the new
 * path (caller frees). Returns 1 when the file was moved or deleted, 0
 * when there was nothing to do (keep), -ENOENT when the file is gone
 * (already disposed of), -ESTALE when it is another version now, -EXDEV
 * never, other -errno on failure (logged). Used by hp_dispose_job; exposed
 * for tests. */
int hp_dispose_file(const hp_watch_config *w, const char *path, hp_dispose_kind kind,
                    const hp_file_version *v, char **ret_dest);

/* After job `job_id` was committed as done (HP_DISPOSE_SUCCESS) or finally
 * failed (HP_DISPOSE_FAILURE): apply its watch's action, then mark it
 * disposed. Nothing at all (no query) when no watch of cfg has an action
 * for `kind`. Errors are logged; the job stays unmarked when the file
 * could not be handled, and is tried again at the next start or reload. */
void hp_dispose_job(PGconn *conn, const hp_config *cfg, int64_t job_id, hp_dispose_kind kind);

/* Start-up and reload: finish the dispositions a crash or a stop
 * interrupted, or that waited for a commit the database had not confirmed
 * on disk (jobs done or failed, not marked disposed, of watches that move
 * or delete). Makes the commits so far durable first. The file is found by
 * its exact name (the watch root joined to rel_path), so names that are
 * not UTF-8 are handled too. Returns the number of files moved or
 * deleted, or -errno. */
int hp_dispose_pending(PGconn *conn, const hp_config *cfg);

#endif
