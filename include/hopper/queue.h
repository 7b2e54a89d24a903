/* queue.h — the job queue in PostgreSQL (DESIGN §3, §4).
 *
 * What it does: two libpq connections per hp_queue: one for completion
 * batches sent without waiting (hp_queue_complete_start), one for every
 * other call, so a batch being stored never holds up a claim. Enqueue (idempotent per
 * file version: watch + path relative to the watch root + inode + size +
 * mtime; no device number, DESIGN §3), claim with FOR UPDATE SKIP LOCKED and
 * a lease (owner = "node:pid", expiry), complete in batches (documents,
 * chunks and `done` for many jobs in one statement that checks each job's
 * lease), retry with exponential backoff and jitter, fail, requeue, and
 * LISTEN/NOTIFY wake-ups on channel "hopper_jobs" (sent by enqueue).
 * Claims take only jobs of the watches set with hp_queue_set_watches; they
 * also take jobs whose lease expired (their daemon died), and fail those
 * that used up max_attempts.
 * Statements are prepared once per connection; the session has a
 * statement_timeout and a lock_timeout, so a held lock or a stuck server
 * costs a call at most a bounded time (-EAGAIN), never the loop.
 * What it never does: read files or convert.
 * Process rules: supervisor and CLI. Calls block on the database (bounded
 * by the timeouts above), except the completion batch, which the
 * supervisor sends and collects from its event loop
 * (hp_queue_complete_start/poll) while it goes on feeding workers.
 *
 * Errors: -ECONNRESET the connection is gone (call hp_queue_reconnect);
 * -EAGAIN transient (lock or statement time-out, serialization failure,
 * deadlock, server out of resources): try again later; -EBADMSG the
 * database rejected the data (hp_queue_last_error has its words);
 * -ESTALE the job is not ours any more; -EIO anything else.
 * Fault injection: HOPPER_FAULT_QUERY=N in the environment cuts the
 * connection (shutdown(2) of its socket) under the Nth statement, counted
 * from 1 since the variable took its value; "N,M,..." several. Used by
 * the tests to walk the error paths.
 */
#ifndef HOPPER_QUEUE_H
#define HOPPER_QUEUE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hopper/chunk.h"
#include "hopper/convert.h"

typedef struct hp_queue hp_queue;

/* Connect, apply migrations (hp_migrate), set the session time-outs and
 * LISTEN. owner e.g. "host:1234". Errors are logged; -ECONNREFUSED when
 * the server cannot be reached. */
int hp_queue_open(const char *conninfo, const char *owner, hp_queue **ret);
void hp_queue_close(hp_queue *q);
/* The connection's socket, for the event loop (readable = notifications). */
int hp_queue_fd(const hp_queue *q);
/* The completion connection's socket (readable = the batch in flight may
 * have its result: call hp_queue_complete_poll). Changes on reconnect. */
int hp_queue_complete_fd(const hp_queue *q);
PGconn *hp_queue_conn(hp_queue *q);
/* Reconnect after the connection broke (re-LISTENs, statements are
 * prepared again). Logs nothing: the caller logs an outage once. 0 or
 * -ECONNREFUSED. A completion batch in flight whose connection still
 * works stays in flight (or its result is taken); one whose connection
 * broke too ends -ECONNRESET (nothing of it stored). */
int hp_queue_reconnect(hp_queue *q);
/* The database's words for the last failed call (one line); "" if none.
 * Borrowed: valid until the next call. */
const char *hp_queue_last_error(const hp_queue *q);
/* The SQLSTATE of that failure ("53100": disk full), "" when libpq itself
 * failed (connection) or the last statement succeeded. */
const char *hp_queue_last_sqlstate(const hp_queue *q);

typedef struct hp_queue_policy {
	int max_attempts;           /* claims of one job before it fails; >= 1 */
	uint64_t retry_delay_ms;    /* backoff after the first failed attempt */
	uint64_t retry_max_ms;      /* cap of the backoff */
	uint64_t statement_timeout_ms;
	uint64_t lock_timeout_ms;
} hp_queue_policy;
/* Defaults: 3 attempts, 10 s doubling up to 1 h, statement 30 s, lock 1 s.
 * Time-outs apply from the next (re)connect or at once when connected. */
int hp_queue_set_policy(hp_queue *q, const hp_queue_policy *p);

/* The watches this node has: claims take only their jobs. names and roots
 * (canonical absolute folder, no trailing '/') are copied. Rows of an
 * older hopperd without rel_path whose path lies under a root are adopted
 * (rel_path filled in). Without a call, claims return nothing. */
int hp_queue_set_watches(hp_queue *q, const char *const *names, const char *const *roots, size_t n);

/* Readable text of a path's bytes: valid UTF-8 is kept, every byte that is
 * not part of valid UTF-8 is written \xNN (two upper-case hex digits).
 * Caller frees; NULL on ENOMEM. */
char *hp_path_text(const char *bytes);

typedef struct hp_file_ref {
	const char *watch;   /* watch name */
	const char *path;    /* absolute, exact bytes (stored as text, see hp_path_text) */
	const char *rel;     /* relative to the watch root, exact bytes; NULL = the
	                        part of path after its first len(root)+1 bytes is
	                        not known: the job is never claimed */
	int64_t size;
	uint64_t dev, ino;   /* dev is kept for people, not part of the identity */
	int64_t mtime_ns;
	int priority;
	int chunk_tokens;
} hp_file_ref;

/* Insert jobs for the versions not yet known; notify when any was added.
 * A batch the database rejects is split until each bad row fails alone:
 * it is logged and skipped, the others go in.
 * *ret_added (may be NULL) = number of new jobs. */
int hp_queue_enqueue(hp_queue *q, const hp_file_ref *files, size_t n, size_t *ret_added);

typedef struct hp_job {
	int64_t id;
	char *watch;
	char *path;          /* readable text (logs) */
	char *rel;           /* exact bytes relative to the watch root; NULL for a row
	                        without one (refuse it) */
	int64_t size;
	uint64_t dev, ino;
	int64_t mtime_ns;
	int attempts;        /* including this claim */
	int chunk_tokens;
} hp_job;

/* Claim up to max jobs (highest priority, then oldest) of our watches,
 * lease lease_s seconds; fail expired ones past max_attempts. *ret_jobs
 * is an array of *ret_n (free with hp_jobs_free). */
int hp_queue_claim(hp_queue *q, size_t max, int lease_s, hp_job **ret_jobs, size_t *ret_n);
void hp_jobs_free(hp_job *jobs, size_t n);
/* The plan of the claim statement (EXPLAIN), for tests. Caller frees. */
int hp_queue_explain_claim(hp_queue *q, char **ret_plan);

/* Document already stored with this sha256 (hex)? 0 and *ret_id, or -ENOENT. */
int hp_queue_find_document(hp_queue *q, const char *sha256_hex, int64_t *ret_id);
/* The same for n hashes in one query: ret_ids[i] = id, or 0 when absent. */
int hp_queue_find_documents(hp_queue *q, const char *const *sha256_hex, size_t n, int64_t *ret_ids);

/* One finished job for hp_queue_complete_batch. With doc == NULL the job
 * is linked to the stored document of that sha256 (same content seen
 * before). All pointers are borrowed. */
typedef struct hp_completion {
	int64_t job_id;
	const char *sha256_hex;
	size_t bytes;                 /* input size */
	const hp_doc *doc;            /* NULL: link */
	const hp_chunk *chunks;
	size_t n_chunks;
	/* out: 0 done; -ESTALE lease lost (nothing written); -EAGAIN not
	 * stored this time (document went away or a concurrent writer): the
	 * job is still ours, try again; -EBADMSG the database rejected the
	 * result: the job is now `failed` with the database's message */
	int result;
	/* out, for -EBADMSG: the reason stored with the failed job */
	char error[300];
} hp_completion;

/* One statement (one commit) for all n: each job is stored only if it is
 * still `running` under our lease. A batch the database rejects is split
 * until the bad result fails alone. Returns 0 when every item has its
 * result, else -ECONNRESET/-EAGAIN/-EIO for the whole batch (nothing
 * stored). */
int hp_queue_complete_batch(hp_queue *q, hp_completion *items, size_t n);

/* The same without waiting: send the statement and return (0, or an
 * error of the whole batch). items must stay valid until
 * hp_queue_complete_poll says the batch is finished. One batch at a time
 * (-EBUSY). The batch runs on its own connection: other calls on the
 * queue meanwhile do not wait for it. */
int hp_queue_complete_start(hp_queue *q, hp_completion *items, size_t n);
/* Without blocking: -EINPROGRESS while the batch runs; 1 when it finished
 * and every item has its result; 0 when no batch was started; else the
 * error of the whole batch (nothing stored: -ECONNRESET, -EAGAIN, -EIO).
 * Call when the connection's socket is readable, or any time. */
int hp_queue_complete_poll(hp_queue *q);
/* Block until the batch in flight finished; then as poll. */
int hp_queue_complete_wait(hp_queue *q);

/* One job: the batch of one. -ESTALE when the lease was lost, -EBADMSG
 * when the database rejected the result (the job is then failed). */
int hp_queue_complete(hp_queue *q, int64_t job_id, const char *sha256_hex, size_t bytes,
                      const hp_doc *doc, const hp_chunk *chunks, size_t n_chunks);
/* Mark done pointing at an existing document (same content seen before). */
int hp_queue_link(hp_queue *q, int64_t job_id, int64_t document_id);
/* Mark failed for good with a human reason (permanent errors). */
int hp_queue_fail(hp_queue *q, int64_t job_id, const char *error);
/* An attempt failed for a reason that may pass: below max_attempts the job
 * goes to `retry` with not_before = now + backoff (retry_delay doubling per
 * attempt, capped, times a random 0.75..1.25), else `failed` with error.
 * Returns 0 (will retry), 1 (failed for good) or -errno. */
int hp_queue_retry(hp_queue *q, int64_t job_id, const char *error);
/* Put our running job back to queued at once (a worker lost before it
 * saw the job); the claim's attempt still counts, so this is bounded by
 * max_attempts in the caller. */
int hp_queue_requeue(hp_queue *q, int64_t job_id);
/* Delete our running job: the version it stands for can no longer be
 * read (the file changed or was deleted); the caller enqueues the current
 * version, if any, which is its own job. */
int hp_queue_forget(hp_queue *q, int64_t job_id);
/* Put every job leased by us back to queued (shutdown); their attempts
 * do not count. */
int hp_queue_release_all(hp_queue *q);
/* Distinct owners of running jobs whose owner starts with prefix (e.g.
 * "host:"), as a NULL-terminated array (free with hp_strv_free, common.h). */
int hp_queue_lease_owners(hp_queue *q, const char *prefix, char ***ret_owners, size_t *ret_n);
/* Put every running job of `owner` back to queued (a daemon known dead:
 * the caller checked), and drop its hopper.workers rows. Returns the
 * number of jobs put back. */
int hp_queue_release_owner(hp_queue *q, const char *owner);
/* Renew the leases of the given running jobs of ours. Returns the number
 * renewed. */
int hp_queue_renew(hp_queue *q, int lease_s, const int64_t *ids, size_t n);

/* Replace our rows of hopper.workers: one per live worker (node = our
 * node name, pid, job_id or 0 when idle, since = ms ago). */
typedef struct hp_queue_worker {
	int pid;
	int64_t job_id;
	uint64_t age_ms;
} hp_queue_worker;
int hp_queue_workers_publish(hp_queue *q, const char *node, const hp_queue_worker *w, size_t n);

/* `hopper retry`: put failed jobs back to `queued` with their attempts
 * reset (ids[0..n), or every failed job when ids is NULL), on any
 * connection (the CLI's), and wake the daemons. Returns the number put
 * back, or -EIO (message in conn). */
int hp_queue_retry_failed(PGconn *conn, const int64_t *ids, size_t n);

/* Consume input on the sockets (both connections; the completion one
 * only while no batch is in flight); returns the number of notifications
 * received (>= 0), or -errno when a connection broke. */
int hp_queue_drain_notify(hp_queue *q);
/* Jobs of our watches (all watches when none were set) queued, retry due
 * or lease-expired: what could be claimed now. Walks the claim indexes
 * only. */
int hp_queue_backlog(hp_queue *q, int64_t *ret);

/* Catch-up (the start-up scan): the versions one watch already has, in
 * memory, so the scan queues only files not in it instead of sending
 * every file found to an INSERT that finds it known. One SELECT of
 * (rel_path, ino, size, mtime_ns) for the watch; about 50 bytes plus the
 * name per job while the set lives. A version missing from the set is
 * still safe: the INSERT's ON CONFLICT keeps it from being queued twice.
 * *ret is the caller's, freed with hp_known_free(). -errno as above. */
typedef struct hp_known hp_known;
int hp_queue_known_load(hp_queue *q, const char *watch, hp_known **ret);
/* Is (rel, ino, size, mtime_ns) in k? rel: exact bytes, NUL-terminated,
 * borrowed. false for k == NULL. */
bool hp_known_has(const hp_known *k, const char *rel, uint64_t ino, int64_t size, int64_t mtime_ns);
size_t hp_known_count(const hp_known *k);
void hp_known_free(hp_known *k);

#endif
