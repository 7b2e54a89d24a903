/* pool-int.h — private to lib/pool*.c: the pool's and a worker's state, and
 * the functions its files share. Not a contract; include/hopper/pool.h is.
 *
 * The files: pool.c talks to the workers (frames in and out, outcomes,
 * spares, scaling, the public calls); pool-spawn.c starts and stops worker
 * processes (argv, the empty environment, fork+exec, the stderr pipe);
 * pool-cgroup.c gives each worker a cgroup of its own where hopperd's is
 * delegated.
 */
#ifndef HOPPER_POOL_INT_H
#define HOPPER_POOL_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hopper/policy.h"
#include "hopper/pool.h"
#include "hopper/resources.h"

/* The largest file a job may carry; the worker accepts a little more for
 * the other fields (daemon/worker.c). */
#define HP_POOL_MAX_JOB ((size_t)1 << 30)
#define HP_POOL_MAX_WORKERS 1024
/* Buffers larger than this are freed after use rather than kept. */
#define HP_POOL_KEEP_BUF ((size_t)1 << 20)
/* A worker that dies idle before it finished any job is a failed start;
 * repeated failed starts back off up to HP_POOL_BACKOFF_MAX. */
#define HP_POOL_BACKOFF_MAX_MS 10000
/* A worker that closed its socket gets this long to exit by itself. */
#define HP_POOL_EXIT_GRACE_MS 2000
/* Longest stderr line of a worker logged as one line; longer ones are split. */
#define HP_POOL_ERRLINE 1024
#define HP_POOL_DEFAULT_JOBS 1000
#define HP_POOL_DEFAULT_IDLE_MS 60000
#define HP_POOL_RSS_EVERY_MS 5000
/* Files from this size on travel in a sealed memfd (SCM_RIGHTS), not in
 * the frame: the supervisor keeps no second copy in its output buffer. */
#define HP_POOL_MEMFD_MIN ((size_t)1 << 20)

typedef struct worker {
	hp_evsrc src;          /* first: the epoll handler casts back */
	hp_evsrc err;          /* stderr pipe */
	hp_pool *pool;
	pid_t pid;
	bool busy;             /* a job was sent and has no outcome yet */
	bool dying;            /* socket closed; awaiting reap */
	bool retiring;         /* recycled or surplus: exits on EOF, not replaced as a loss */
	bool reaped;           /* pid already waited for: never signal it */
	bool strong_reason;    /* reason beats the exit status */
	bool sent_kill;        /* we sent it SIGKILL */
	bool delivered;        /* the whole JOB frame went into the socket */
	bool risky_name;       /* the job's file name has a high-risk extension */
	bool preempted;        /* stopped under memory pressure: its job goes back */
	bool spare;            /* started ahead for a worker about to be recycled: takes
	                          no job until it is promoted in that worker's place */
	bool will_recycle;     /* its current job will retire it (high-risk name, or
	                          its last job under max_jobs_per_worker) */
	char *cg;              /* its own cgroup directory, or NULL */
	uint32_t events;       /* epoll events registered now */
	uint64_t job_id;
	uint64_t since_ms;     /* job start when busy, else when it went idle */
	uint64_t spawned_ms;
	uint64_t kill_at_ms;   /* SIGKILL if not reaped by then; 0 none */
	unsigned jobs;         /* jobs it finished */
	int pass_fd;           /* memfd to send with the frame's first byte; -1 none */
	char reason[96];
	hp_buf out;
	size_t out_off;        /* bytes of out already written */
	hp_buf in;
	char errline[HP_POOL_ERRLINE];
	size_t errlen;
} worker;

struct hp_pool {
	hp_pool_config cfg;
	char *exe;
	char *res_root;
	int epfd;
	hp_pool_cb cb;
	void *userdata;
	worker **w;
	size_t n, cap;
	int devnull;
	bool stopping;
	/* arguments every worker gets, built once */
	char *argv[20];
	char arg_limit[32], arg_cpu[32];
	char *fault_crash, *fault_stderr, *fault_spin;
	/* scaling */
	hp_resources res;
	hp_policy_state pst;
	hp_policy_out pout;
	int64_t backlog;
	uint64_t last_decide_ms, last_rss_ms;
	uint64_t next_spawn_ms;
	unsigned fast_deaths;
	hp_pool_stats stats;
	uint64_t rss_recent;
	/* per-worker cgroups (delegated cgroup v2), or NULL: RLIMIT_AS only */
	char *cg_base;
	uint64_t cg_seq;
};

/* ---- pool-spawn.c: worker processes ---- */

/* Build p->argv from p->cfg and the fault switches (once, at hp_pool_new). */
void hp_pool_build_argv(hp_pool *p);
/* The workers' environment (static storage). */
char **hp_pool_worker_env(void);
/* Start a worker (a spare when `spare`): 0, or -errno with nothing started. */
int hp_pool_worker_spawn(hp_pool *p, bool spare);
/* Stop talking to w; strong: SIGKILL now and `reason` wins (see pool.c). */
void hp_pool_worker_kill(worker *w, const char *reason, bool strong);
/* Recycled or surplus: EOF tells it to exit. */
void hp_pool_worker_retire(worker *w);
/* Close w's socket and drop its buffers and any memfd not yet sent. */
void hp_pool_close_socket(worker *w);
/* Remove w from the table and free it (its pid must be reaped). */
void hp_pool_worker_free(hp_pool *p, worker *w);
/* Read and log what w wrote on stderr; close the pipe. */
void hp_pool_stderr_read(worker *w);
void hp_pool_stderr_close(worker *w);

/* ---- pool.c ---- */

/* epoll handler of a worker's socket. */
void hp_pool_worker_event(hp_evsrc *src, uint32_t events);

/* ---- pool-cgroup.c: per-worker cgroups ---- */

/* Set up per-worker cgroups if hopperd's cgroup is delegated (p->cg_base);
 * else the reason why not in `why`. */
void hp_pool_cg_setup(hp_pool *p, char *why, size_t why_len);
/* A cgroup for the next worker: the fd of its cgroup.procs, or -1. */
int hp_pool_cg_prepare(hp_pool *p, worker *w);
/* The kernel killed w at its cgroup's memory.max. */
bool hp_pool_cg_oom_killed(const worker *w);
/* Remove w's cgroup (empty once w is reaped). */
void hp_pool_cg_remove(worker *w);

#endif
