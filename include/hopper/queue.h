/* queue.h — the job queue in PostgreSQL (DESIGN §3, §4).
 *
 * What it does: one libpq connection per hp_queue. Enqueue (idempotent per
 * file version: path + dev + inode + size + mtime), claim with FOR UPDATE
 * SKIP LOCKED and a lease (owner = "node:pid", expiry), complete (document,
 * chunks and `done` in one transaction that checks the lease is still
 * ours), fail, requeue, and LISTEN/NOTIFY wake-ups on channel
 * "hopper_jobs" (sent by enqueue).
 * Claim also takes jobs whose lease expired (their daemon died).
 * What it never does: read files or convert.
 * Process rules: supervisor and CLI. Calls block on the database.
 */
#ifndef HOPPER_QUEUE_H
#define HOPPER_QUEUE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "hopper/chunk.h"
#include "hopper/convert.h"

typedef struct hp_queue hp_queue;

/* Connect, apply migrations (hp_migrate) and LISTEN. owner e.g. "host:1234".
 * Errors are logged; -ECONNREFUSED when the server cannot be reached. */
int hp_queue_open(const char *conninfo, const char *owner, hp_queue **ret);
void hp_queue_close(hp_queue *q);
/* The connection's socket, for the event loop (readable = notifications). */
int hp_queue_fd(const hp_queue *q);
PGconn *hp_queue_conn(hp_queue *q);
/* Reconnect after the connection broke (also re-LISTENs). 0 or -errno. */
int hp_queue_reconnect(hp_queue *q);

typedef struct hp_file_ref {
	const char *watch;   /* watch name */
	const char *path;    /* absolute */
	int64_t size;
	uint64_t dev, ino;
	int64_t mtime_ns;
	int priority;
	int chunk_tokens;
} hp_file_ref;

/* Insert jobs for the versions not yet known; notify when any was added.
 * *ret_added (may be NULL) = number of new jobs. */
int hp_queue_enqueue(hp_queue *q, const hp_file_ref *files, size_t n, size_t *ret_added);

typedef struct hp_job {
	int64_t id;
	char *watch;
	char *path;
	int64_t size;
	uint64_t dev, ino;
	int64_t mtime_ns;
	int attempts;        /* including this claim */
	int chunk_tokens;
} hp_job;

/* Claim up to max jobs (highest priority, then oldest), lease lease_s
 * seconds. *ret_jobs is an array of *ret_n (free with hp_jobs_free). */
int hp_queue_claim(hp_queue *q, size_t max, int lease_s, hp_job **ret_jobs, size_t *ret_n);
void hp_jobs_free(hp_job *jobs, size_t n);

/* Document already stored with this sha256 (hex)? 0 and *ret_id, or -ENOENT. */
int hp_queue_find_document(hp_queue *q, const char *sha256_hex, int64_t *ret_id);

/* One transaction: insert the document (or reuse the one with the same
 * sha256), its chunks, and mark the job done with document_id — only if the
 * job is still `running` under our lease. -ESTALE when the lease was lost
 * (nothing written). `bytes` is the input size. */
int hp_queue_complete(hp_queue *q, int64_t job_id, const char *sha256_hex, size_t bytes,
                      const hp_doc *doc, const hp_chunk *chunks, size_t n_chunks);
/* Mark done pointing at an existing document (same content seen before). */
int hp_queue_link(hp_queue *q, int64_t job_id, int64_t document_id);
/* Mark failed with a human reason (retries come with a later issue). */
int hp_queue_fail(hp_queue *q, int64_t job_id, const char *error);
/* Put our running job back to queued (shutdown, lost worker we will retry). */
int hp_queue_requeue(hp_queue *q, int64_t job_id);
/* Delete our running job: the file changed after it was queued, so the
 * version it stands for can no longer be read (the caller enqueues the
 * current version, which is its own job). */
int hp_queue_forget(hp_queue *q, int64_t job_id);
/* Put every job leased by us back to queued (start-up after a crash of
 * this same node:pid is impossible, so this is for shutdown). */
int hp_queue_release_all(hp_queue *q);
/* Distinct owners of running jobs whose owner starts with prefix (e.g.
 * "host:"), as a NULL-terminated array (free with hp_strv_free, common.h). */
int hp_queue_lease_owners(hp_queue *q, const char *prefix, char ***ret_owners, size_t *ret_n);
/* Put every running job of `owner` back to queued (a daemon known dead:
 * the caller checked). Returns the number of jobs put back. */
int hp_queue_release_owner(hp_queue *q, const char *owner);
/* Renew the leases of the given running jobs of ours (the ones in flight:
 * a job whose result could not be stored is left to expire and be claimed
 * again). Returns the number renewed. */
int hp_queue_renew(hp_queue *q, int lease_s, const int64_t *ids, size_t n);

/* Consume input on the socket; returns the number of notifications
 * received (>= 0), or -errno when the connection broke. */
int hp_queue_drain_notify(hp_queue *q);
/* Jobs queued (or retry, or lease-expired) that could be claimed now. */
int hp_queue_backlog(hp_queue *q, int64_t *ret);

#endif
