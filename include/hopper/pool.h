/* pool.h — the converter worker processes, seen from the supervisor.
 *
 * What it does: starts N workers by fork+exec of `exe --worker` with one end
 * of a socketpair as fd 3; sends JOB frames, reads RESULT frames (lengths
 * checked against limits before use), kills a worker whose job exceeds
 * job_timeout, restarts workers that die, and reports each job's outcome
 * through one callback. Sockets are non-blocking and registered in the
 * caller's epoll set; output is buffered per worker.
 * What it never does: parse document bytes, touch the database, block.
 * Process rules: supervisor only. Reaping is the caller's: on SIGCHLD call
 * hp_pool_reaped() for every pid it waitpid()s that hp_pool_owns_pid().
 */
#ifndef HOPPER_POOL_H
#define HOPPER_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hopper/frame.h"

typedef struct hp_pool hp_pool;

typedef struct hp_pool_config {
	const char *exe;        /* path of the hopperd binary (e.g. /proc/self/exe resolved) */
	int workers;            /* number of workers to keep alive */
	uint64_t memory_limit;  /* per worker RLIMIT_AS, bytes; passed to the worker */
	uint64_t job_timeout_ms;
	size_t max_frame;       /* max RESULT payload accepted */
} hp_pool_config;

typedef enum hp_pool_outcome {
	HP_POOL_DONE,     /* r->status == 0: converted */
	HP_POOL_ERROR,    /* the worker answered with an error (r->status, r->error) */
	HP_POOL_CRASHED,  /* the worker died or timed out with the job; reason says how */
	HP_POOL_LOST,     /* the worker died before it had received the whole job
	                     (e.g. killed while idle, then handed a job before
	                     it was reaped): not the file's fault, run it again */
} hp_pool_outcome;

/* Called once per submitted job. `r` is valid for DONE/ERROR only and is
 * borrowed for the duration of the call (the callee may steal fields and
 * NULL them). `reason` is set for CRASHED and LOST ("worker killed by SIGSEGV",
 * "timed out after 60 s", "worker sent a malformed frame"). */
typedef void (*hp_pool_cb)(void *userdata, uint64_t job_id, hp_pool_outcome o,
                           hp_result *r, const char *reason);

int hp_pool_new(const hp_pool_config *cfg, int epfd, hp_pool_cb cb, void *userdata,
                hp_pool **ret_pool);
/* Number of workers alive and without a job. */
int hp_pool_idle(const hp_pool *p);
/* Number of live workers and jobs in flight. */
int hp_pool_alive(const hp_pool *p);
int hp_pool_busy(const hp_pool *p);
/* Hand a job to an idle worker; the message bytes are copied. -EBUSY when
 * no worker is idle. */
int hp_pool_submit(hp_pool *p, const hp_job_msg *m);
/* Periodic: enforce job timeouts (SIGKILL), respawn missing workers. */
void hp_pool_tick(hp_pool *p, uint64_t now_ms);
bool hp_pool_owns_pid(const hp_pool *p, pid_t pid);
/* A worker exited (status from waitpid). Its job, if any, is reported as
 * CRASHED with the reason; a replacement is started unless stopping. */
void hp_pool_reaped(hp_pool *p, pid_t pid, int wstatus);
/* Fill `out` with one "pid job_id since_ms" entry per live worker. */
typedef struct hp_worker_info {
	pid_t pid;
	uint64_t job_id;  /* 0 when idle */
	uint64_t since_ms;
} hp_worker_info;
size_t hp_pool_list(const hp_pool *p, hp_worker_info *out, size_t max);
/* Stop: close sockets (workers exit on EOF), SIGKILL after timeout_ms,
 * waitpid all. Jobs in flight are NOT reported; the caller requeues them.
 * Then free. */
void hp_pool_free(hp_pool *p, uint64_t timeout_ms);

/* Worker side: the main of `hopperd --worker` (fd 3 is the socket).
 * Enters the sandbox, then loops: read JOB, convert, chunk, write RESULT.
 * Returns the process exit code. */
int hp_worker_main(int fd, uint64_t memory_limit);

#endif
