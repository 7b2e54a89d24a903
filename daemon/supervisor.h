/* supervisor.h — the parts of hopperd's supervisor and the context they share.
 *
 * hopperd is one event loop (DESIGN §2). Its parts, one file each:
 *   hopperd.c  the loop, signals, reload, reaping, sd_notify STATUS, main
 *   jobs.c     the job lifecycle: files found -> enqueue; claim -> check the
 *              path under its watch's root -> read -> dedupe -> worker;
 *              results -> completions batched into one statement; the
 *              classification of every failure (DESIGN §3)
 *   dbconn.c   the database connection as the loop sees it: its socket in
 *              epoll, outage detection (logged once), reconnect with
 *              backoff, the embedded server's restart, leases of dead
 *              daemons of this node, the hopper.workers rows
 * Every handler gets the hp_daemon; nothing is global, so each part can be
 * driven alone. Nothing here parses document bytes.
 * Process rules: supervisor only, one thread.
 */
#ifndef HOPPER_SUPERVISOR_H
#define HOPPER_SUPERVISOR_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "hopper/common.h"
#include "hopper/config.h"
#include "hopper/embed.h"
#include "hopper/frame.h"
#include "hopper/hash.h"
#include "hopper/mirror.h"
#include "hopper/pgembed.h"
#include "hopper/pool.h"
#include "hopper/queue.h"
#include "hopper/reader.h"
#include "hopper/watch.h"

#define HP_MAX_INFLIGHT 256
/* Completions are stored together: up to this many jobs, or after this
 * long, whichever comes first (one statement, one commit per batch). */
/* Jobs claimed at a time, ahead of the workers. */
#define HP_PREFETCH 64
/* File bytes read ahead of the workers at most (one file always). */
#define HP_READAHEAD_BYTES (32u << 20)
#define HP_BATCH_JOBS 64
#define HP_BATCH_MS 20
/* At most this many jobs in one completion statement: finished jobs
 * beyond it wait for the next batch (a statement's cost grows faster
 * than its size). */
#define HP_BATCH_MAX 256
/* Back-pressure: no new claim while this many finished jobs wait to be
 * stored (in the batch in flight or behind it), so that claims never run
 * ahead of what the database stores and leases never pile up. */
#define HP_DONES_MAX (2 * HP_BATCH_MAX)
/* Files found while the database is away are remembered up to this many;
 * past it, the catch-up scan at reconnect finds the rest. */
#define HP_PENDING_MAX 100000

/* A job handed to a worker. */
typedef struct hp_flight {
	uint64_t job_id;
	int attempts;           /* claims of this job so far, this one included */
	char *path;             /* readable text, for logs */
	size_t bytes;
	char sha256[HP_SHA256_HEX_LEN + 1];
} hp_flight;

/* A claimed job on its way to a worker: read, hashed, not yet linked or
 * submitted. `j` points into hp_daemon.ready. */
typedef struct batch_item {
	hp_job *j;
	char *abs;           /* the path read: watch root + relative path */
	hp_read_req rq;
	char sha[HP_SHA256_HEX_LEN + 1];
	bool live;           /* read fine, hashed: link or convert */
} batch_item;

/* A finished job waiting for the next batch: a result (doc set) or a link
 * to stored content (doc NULL, doc_id known). */
typedef struct hp_done {
	uint64_t job_id;
	char *path;
	size_t bytes;
	char sha256[HP_SHA256_HEX_LEN + 1];
	hp_result res;          /* stolen from the pool's callback; cleared after */
	bool has_doc;
} hp_done;

typedef struct hp_daemon {
	const char *cfg_path;
	hp_config *cfg;
	int epfd;
	hp_evsrc sig;
	hp_evsrc db;
	hp_evsrc dbc;           /* the completion connection's socket */
	bool db_registered;
	hp_pgembed *pg;
	char *conninfo;
	hp_queue *q;
	bool db_broken;         /* connection lost: logged once, retried with backoff */
	uint64_t next_reconnect;
	uint64_t reconnect_ms;  /* current backoff */
	bool rescan_on_reconnect; /* files were dropped past HP_PENDING_MAX */
	hp_watcher *watcher;
	char **roots;           /* realpath of each cfg->watches[i].path; NULL if absent */
	size_t n_roots;
	hp_known **known;       /* during a catch-up scan (hp_jobs_scan): the versions each
	                           watch (cfg order) already has; NULL otherwise */
	hp_reader *reader;
	hp_pool *pool;
	char owner[256];        /* "node:pid" */
	char node[200];
	char exe[PATH_MAX];
	/* files found by the watcher, enqueued once per loop turn */
	hp_file_ref *pending;
	size_t n_pending, cap_pending;
	hp_flight flights[HP_MAX_INFLIGHT];
	size_t n_flights;
	size_t claim_size;      /* next claim's batch: slow start up to HP_PREFETCH */
	/* claimed ahead of the workers (prefetch), then read in batches */
	hp_job *ready;
	size_t n_ready, i_ready;
	batch_item *loaded;
	size_t n_loaded, i_loaded;
	/* finished, not yet stored */
	hp_done *dones;
	size_t n_dones, cap_dones;
	/* the batch being stored (hp_queue_complete_start), one at a time */
	hp_done *flushing;
	hp_completion *fl_items;
	size_t n_flushing;
	uint64_t first_done_ms;
	bool want_claim;
	bool want_reload, want_reap;
	uint64_t last_claim;
	uint64_t last_renew, last_workers, last_backlog;
	int lease_s;            /* from job_timeout at start (restart-only key) */
	bool stopping;
	uint64_t stop_deadline;
	int exit_code;
	/* STATUS counters, kept in memory */
	uint64_t n_done, n_failed, n_retried, n_queued;
	uint64_t n_linked;      /* of n_done: same content as a stored document */
	int64_t backlog;        /* from the last look (every few seconds), -1 unknown */
	hp_embed *embed;        /* [embed] url set: chunks to vectors */
	hp_mirror *mirror;      /* [watch] output_dir set: the mirror folder */
	hp_evsrc embed_src;
} hp_daemon;

/* ---- jobs.c ---- */
/* hp_watch_cb: remember a file found by the watcher (userdata = hp_daemon). */
void hp_jobs_on_file(void *userdata, const hp_watch_config *w, const char *path,
                     const struct stat *st);
/* hp_pool_cb: a job's outcome (userdata = hp_daemon). */
void hp_jobs_on_result(void *userdata, uint64_t job_id, hp_pool_outcome o, hp_result *res,
                       const char *reason);
/* Enqueue what the watcher found (kept while the database is away). */
void hp_jobs_flush_pending(hp_daemon *d);
void hp_jobs_pending_clear(hp_daemon *d);
/* Scan every watch (start-up, reload, reconnect) and queue what is new:
 * versions already in the queue are skipped in memory (hp_known), the rest
 * are enqueued. Returns the number of files found or -errno. */
int hp_jobs_scan(hp_daemon *d);
/* Claim, read and hand jobs to idle workers. */
void hp_jobs_dispatch(hp_daemon *d);
/* Send the finished jobs as one batch when it is full or old enough and
 * no batch is in flight (force: now, and wait for it). */
void hp_jobs_flush_done(hp_daemon *d, bool force);
/* Collect the batch in flight if its result is in (never blocks). */
void hp_jobs_poll_done(hp_daemon *d);
/* ms until the batch of finished jobs is due, or -1 when there is none. */
int hp_jobs_done_due_ms(const hp_daemon *d, uint64_t now);
/* Renew leases of the jobs in flight (every 30 s). */
void hp_jobs_renew(hp_daemon *d, uint64_t now);
/* Shutdown: store what is finished, give back jobs read ahead and in flight. */
void hp_jobs_shutdown(hp_daemon *d);
/* The watches of the config to the queue (names + canonical roots). */
int hp_jobs_set_watches(hp_daemon *d);

/* ---- hopperd.c ---- */
/* Read pending signals now (between database calls, so SIGTERM acts
 * within one statement's time, whatever the database does). */
void hp_sv_poll_signals(hp_daemon *d);

/* ---- dbconn.c ---- */
void hp_dbconn_register(hp_daemon *d);
void hp_dbconn_unregister(hp_daemon *d);
/* After a queue call: r < 0 and the connection gone -> mark broken (the
 * outage is logged once here), drop the socket from the loop. Returns true
 * when the database is usable. */
bool hp_dbconn_ok(hp_daemon *d, int r);
/* Reconnect when broken and the backoff has passed. */
void hp_dbconn_try_reconnect(hp_daemon *d, uint64_t now);
/* Take back jobs of dead hopperds of this node. */
void hp_dbconn_recover_own_leases(hp_daemon *d);
/* Keep hopper.workers current (on change, and every 20 s). */
void hp_dbconn_publish_workers(hp_daemon *d, uint64_t now, bool force);
/* The embedded server exited (status from waitpid): restart it. */
void hp_dbconn_embedded_died(hp_daemon *d, int wstatus);
/* Notifications waiting on the socket -> want_claim. */
void hp_dbconn_drain(hp_daemon *d);
/* Paused because PostgreSQL is out of disk space (for STATUS). */
bool hp_dbconn_disk_full(void);

#endif
