/* pool.h — the converter worker processes, seen from the supervisor.
 *
 * What it does: starts workers by fork+exec of `exe --worker ...` with one
 * end of a socketpair as fd 3, an environment with nothing of the
 * supervisor's (OMP_THREAD_LIMIT=1, TESSDATA_PREFIX) and stderr on a pipe
 * that the pool reads and logs line by line, escaped and prefixed with the
 * worker's pid (a worker cannot forge a log line of the supervisor's);
 * sends JOB frames, reads RESULT frames (lengths checked against limits
 * before use), kills a worker whose job exceeds job_timeout, and reports
 * each job's outcome through one callback.
 * Scaling: the number of workers follows policy.h (start at min, grow with
 * the backlog toward max or the auto ceiling from the detected CPUs and
 * memory, shrink after idle_timeout, shed under memory pressure); the table
 * of workers grows and shrinks at run time. Under memory pressure no more
 * jobs are admitted than the target; under severe pressure none, and the
 * youngest busy job is stopped every 2 s (down to one busy worker) and
 * reported LOST, so it goes back to the queue (policy.h has the rules).
 * Recycling: a worker is replaced by a fresh process after
 * max_jobs_per_worker jobs, and after each job of a high-risk format (PDF,
 * Office, OpenDocument, EPUB: by the format the worker reports, or by the
 * file name's extension) when recycle_high_risk is set, so what one
 * exploited job takes over does not see the next job. A worker that its
 * current job will retire (a high-risk name, its last job) gets its
 * successor started while that job runs (a spare: no job, not counted as
 * a worker until it takes the retired one's place; none under memory
 * pressure), so the next job does not wait for exec and library loading.
 * A worker whose parser
 * was exploited can lie about the format; the extension check and
 * max_jobs_per_worker bound what such a lie gains.
 * Sockets are non-blocking and registered in the caller's epoll set; output
 * is buffered per worker.
 * What it never does: parse document bytes, touch the database, block.
 * Process rules: supervisor only. Reaping is the caller's: on SIGCHLD call
 * hp_pool_reaped() for every pid it waitpid()s that hp_pool_owns_pid(),
 * outside the batch of epoll events (a reaped worker is freed).
 */
#ifndef HOPPER_POOL_H
#define HOPPER_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hopper/config.h"
#include "hopper/frame.h"

typedef struct hp_pool hp_pool;

typedef struct hp_pool_config {
	const char *exe;        /* path of the hopperd binary (e.g. /proc/self/exe resolved) */
	int workers;            /* min: workers always alive (>= 0; 0 only in tests) */
	int max;                /* most workers; 0 = auto (policy.h) */
	double cpu_multiplier;  /* 0 = the profile's */
	int profile;            /* hp_profile */
	uint64_t idle_timeout_ms; /* 0 = 60 s */
	int max_jobs_per_worker;  /* 0 = 1000 */
	bool recycle_high_risk;
	uint64_t memory_limit;  /* per worker RLIMIT_AS, bytes; passed to the worker */
	uint64_t job_timeout_ms;
	size_t max_frame;       /* max RESULT payload accepted; 0 = from max_output */
	uint64_t max_output;    /* the configured [workers] max_output */
	const char *resources_root; /* tests: a fake /proc and /sys tree; NULL = "/" */
} hp_pool_config;

typedef enum hp_pool_outcome {
	HP_POOL_DONE,     /* r->status == 0: converted */
	HP_POOL_ERROR,    /* the worker answered with an error (r->status, r->error) */
	HP_POOL_CRASHED,  /* the worker died or timed out with the job; reason says how */
	HP_POOL_LOST,     /* the worker died before it had received the whole job
	                     (e.g. killed while idle, then handed a job before
	                     it was reaped), or the pool stopped it under severe
	                     memory pressure: not the file's fault, run it again */
} hp_pool_outcome;

/* Called once per submitted job. `r` is valid for DONE/ERROR only and is
 * borrowed for the duration of the call (the callee may steal fields and
 * NULL them). `reason` is set for CRASHED and LOST ("worker killed by SIGSEGV",
 * "timed out after 60 s", "worker sent a malformed frame"); for LOST it is
 * a whole clause: "worker killed by SIGKILL before the job reached it", or
 * "stopped under severe memory pressure" for a preempted job. */
typedef void (*hp_pool_cb)(void *userdata, uint64_t job_id, hp_pool_outcome o,
                           hp_result *r, const char *reason);

/* The worker program for a supervisor or CLI at path `self`: hopper-worker
 * next to it, or in ../lib/hopper/, written to buf (0); else `self` itself,
 * which must then answer `--worker` (1). */
int hp_pool_worker_exe(const char *self, char *buf, size_t len);
/* `hopperd --worker ...`: exec hopper-worker (found as above) with the same
 * arguments, so hopperd itself links no converter. Returns only on
 * failure, with an exit status (127). */
int hp_pool_exec_worker(int argc, char **argv);
/* In a forked child (`hopper convert`): exec hopper-worker with `fd` as
 * its socket (fd 3), the workers' environment and `memory_limit`. Returns only
 * on failure, with an exit status (127). */
int hp_pool_exec_worker_fd(int fd, uint64_t memory_limit);
/* The pool's settings from the [workers] keys; exe borrowed. */
void hp_pool_config_fill(hp_pool_config *ret, const hp_config *cfg, const char *exe);

int hp_pool_new(const hp_pool_config *cfg, int epfd, hp_pool_cb cb, void *userdata,
                hp_pool **ret_pool);
/* Number of jobs that may be submitted now: workers alive and without a
 * job, capped under memory pressure by the policy's admit (policy.h): at
 * most one job in flight under severe pressure, so a caller that claims
 * only for idle workers claims nothing while one runs. */
int hp_pool_idle(const hp_pool *p);
/* Number of live workers and jobs in flight. */
int hp_pool_alive(const hp_pool *p);
int hp_pool_busy(const hp_pool *p);
/* Hand a job to an idle worker; the message bytes are copied. -EBUSY when
 * no worker is idle, or memory pressure admits no more jobs. */
int hp_pool_submit(hp_pool *p, const hp_job_msg *m);
/* Periodic (about once a second): enforce job timeouts (SIGKILL), re-read
 * memory pressure, decide the target (policy.h), start or stop workers.
 * Returns how many workers it started (the caller may claim more jobs). */
int hp_pool_tick(hp_pool *p, uint64_t now_ms);
/* Jobs waiting for a worker (the queue's backlog); < 0 unknown. The next
 * tick scales with it. */
void hp_pool_set_backlog(hp_pool *p, int64_t backlog);
/* Apply a reloaded configuration: scaling keys, max_jobs_per_worker,
 * recycle_high_risk, max_output (and so max_frame). exe, memory_limit and
 * job_timeout_ms are kept from the start. */
void hp_pool_reconfigure(hp_pool *p, const hp_pool_config *cfg);
/* The policy's last decision: target workers, claim batch size, and why
 * ("cpu-bound, 2 CPUs x 1"). reason may be NULL. */
int hp_pool_target(const hp_pool *p, int *ret_batch, char *reason, size_t reason_len);
/* "workers 4 (target 4: cpu-bound, 2 CPUs x 2)" for STATUS=. */
void hp_pool_describe(const hp_pool *p, char *buf, size_t len);
/* Jobs finished, workers started, workers recycled, since the start. */
typedef struct hp_pool_stats {
	uint64_t jobs, spawned, recycled;
	uint64_t memfd_jobs;       /* jobs whose bytes went in a sealed memfd */
	uint64_t job_ms_avg;       /* moving average of conversion times */
	uint64_t rss_peak;         /* largest VmHWM seen of a worker, bytes */
} hp_pool_stats;
void hp_pool_get_stats(const hp_pool *p, hp_pool_stats *ret);
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
/* `hopperd --worker [--memory-limit N] [--cpu-limit S] [--debug]
 * [--fault-crash TEXT] [--fault-stderr TEXT] [--sandbox-debug]`: the
 * worker's whole configuration comes in argv (its environment is empty). */
int hp_worker_exec_main(int argc, char **argv);

#endif
