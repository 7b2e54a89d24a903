/* pool.c — converter worker processes, see include/hopper/pool.h
 *
 * Each worker is a malloc'd struct (its address is what epoll holds, so it
 * never moves; the table is an array of pointers that grows and shrinks):
 * a pid, one non-blocking socket and one stderr pipe registered in the
 * caller's epoll set, an output buffer (the JOB frame being written) and
 * an input buffer (the RESULT frame being read). Every submitted job gets
 * exactly one outcome through the callback: DONE/ERROR when its RESULT
 * frame arrives, CRASHED/LOST when the worker is reaped while holding it.
 * A worker that misbehaves (malformed frame, timeout) is SIGKILLed at once
 * and its socket closed; one that merely closed its socket is given a
 * moment to exit by itself. Either way the outcome waits for the reap, so
 * the reason names the real cause (a SIGSEGV, or a SIGKILL sent from
 * outside, beats "closed its connection"). A worker is freed only in
 * hp_pool_reaped, which the caller runs outside a batch of epoll events.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "hopper/policy.h"
#include "hopper/pool.h"
#include "hopper/resources.h"
#include "hopper/sandbox.h"

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

static void worker_event(hp_evsrc *src, uint32_t events);
static void stderr_event(hp_evsrc *src, uint32_t events);

/* ---- high-risk formats ----------------------------------------------------
 * Complex container and page-description parsers (PDF, OOXML, ODF, EPUB):
 * where parser exploits live. Known by name so the check does not depend
 * on the worker telling the truth. */
static bool risky_format(hp_format f)
{
	switch (f) {
	case HP_FMT_PDF:
	case HP_FMT_DOCX:
	case HP_FMT_XLSX:
	case HP_FMT_PPTX:
	case HP_FMT_ODT:
	case HP_FMT_ODS:
	case HP_FMT_ODP:
	case HP_FMT_EPUB:
		return true;
	default:
		return false;
	}
}

static bool risky_name(const char *name)
{
	static const char *const ext[] = {
		"pdf", "docx", "docm", "doc", "xlsx", "xlsm", "xls", "pptx", "pptm", "ppt",
		"odt", "ods", "odp", "epub", "rtf", "zip",
	};
	const char *dot = name ? strrchr(name, '.') : NULL;
	if (!dot)
		return false;
	for (size_t i = 0; i < HP_ARRAY_SIZE(ext); i++)
		if (strcasecmp(dot + 1, ext[i]) == 0)
			return true;
	return false;
}

/* ---- the worker's stderr ---------------------------------------------------- */

/* One line from a worker: its own "<N>" prefix (hp_log) gives the level,
 * clamped to err..debug; anything else is a warning. hp_log escapes the
 * control characters; NUL bytes are escaped here so %s does not stop. */
static void stderr_emit(worker *w)
{
	if (!w->errlen)
		return;
	char text[HP_POOL_ERRLINE * 4 + 1];
	size_t o = 0, i = 0;
	int prio = HP_LOG_WARNING;
	if (w->errlen >= 3 && w->errline[0] == '<' && w->errline[1] >= '0' && w->errline[1] <= '7' &&
	    w->errline[2] == '>') {
		prio = w->errline[1] - '0';
		if (prio < HP_LOG_ERR)
			prio = HP_LOG_ERR;
		i = 3;
	}
	for (; i < w->errlen && o + 5 < sizeof text; i++) {
		if (w->errline[i] == '\0') {
			memcpy(text + o, "\\x00", 4);
			o += 4;
		} else {
			text[o++] = w->errline[i];
		}
	}
	text[o] = '\0';
	w->errlen = 0;
	hp_log(prio, "worker %d: %s", (int)w->pid, text);
}

static void stderr_close(worker *w)
{
	if (w->err.fd < 0)
		return;
	hp_evsrc_del(w->pool->epfd, &w->err);
	close(w->err.fd);
	w->err.fd = -1;
}

/* Read what is there; emit whole lines. At EOF, the rest. */
static void stderr_read(worker *w)
{
	while (w->err.fd >= 0) {
		char buf[4096];
		ssize_t n = read(w->err.fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			stderr_emit(w);
			stderr_close(w);
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				stderr_emit(w);
				continue;
			}
			w->errline[w->errlen++] = buf[i];
			if (w->errlen == sizeof w->errline)
				stderr_emit(w);
		}
	}
}

static void stderr_event(hp_evsrc *src, uint32_t events)
{
	worker *w = (worker *)((char *)src - offsetof(worker, err));
	stderr_read(w);
}

/* ---- per-worker cgroups ------------------------------------------------------
 * cgroup v2 (Documentation/admin-guide/cgroup-v2.rst, "Delegation" and "No
 * Internal Process Constraint"): when our own cgroup is delegated to us
 * (systemd Delegate=: its cgroup.subtree_control is writable and the memory
 * controller is available), every process of it moves into a "supervisor"
 * leaf, the memory controller is enabled for the children, and each worker
 * runs in a child cgroup of its own with memory.max = memory_limit,
 * memory.swap.max = 0 and memory.oom.group = 1: the kernel then counts all
 * of a worker's memory and, at the limit, kills that worker alone. The
 * worker's RLIMIT_AS stays too: it makes a large allocation fail cleanly
 * (the job fails with "memory_limit" in its message) before the cgroup
 * has to kill. Anything that fails leaves RLIMIT_AS alone, said in the
 * log at start. */

static int cg_write(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

static int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
		return -ENAMETOOLONG;
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (int)n;
}

static bool has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);
	for (const char *s = list; (s = strstr(s, word)); s += wl)
		if ((s == list || s[-1] == ' ') && (s[wl] == '\0' || s[wl] == ' ' || s[wl] == '\n'))
			return true;
	return false;
}

/* Set up per-worker cgroups if our cgroup is delegated; the reason why not
 * in `why` otherwise. */
static void cg_setup(hp_pool *p, char *why, size_t why_len)
{
	char base[PATH_MAX], buf[4096];
	const char *root = p->res_root && strcmp(p->res_root, "/") ? p->res_root : "";
	if (!p->cfg.memory_limit) {
		snprintf(why, why_len, "no memory_limit");
		return;
	}
	if (!p->res.cgroup[0] || strcmp(p->res.cgroup, "/") == 0) {
		/* The root cgroup is never ours to rearrange. */
		snprintf(why, why_len, p->res.cgroup[0] ? "running in the root cgroup" : "no cgroup v2");
		return;
	}
	snprintf(base, sizeof base, "%s/sys/fs/cgroup%s", root, strcmp(p->res.cgroup, "/") ? p->res.cgroup : "");
	if (cg_read(base, "cgroup.controllers", buf, sizeof buf) < 0 || !has_word(buf, "memory")) {
		snprintf(why, why_len, "no memory controller in cgroup v2 here");
		return;
	}
	char sc[PATH_MAX];
	/* Delegated: writable to us; as root, writable proves nothing, so also
	 * systemd's mark on a delegated cgroup (the trusted.delegate xattr,
	 * systemd >= 251). */
	char mark[8] = "";
	bool delegated = snprintf(sc, sizeof sc, "%s/cgroup.subtree_control", base) < (int)sizeof sc &&
	                 access(sc, W_OK) == 0 &&
	                 (geteuid() != 0 || (getxattr(base, "trusted.delegate", mark, sizeof mark - 1) > 0 &&
	                                     mark[0] == '1'));
	if (!delegated) {
		snprintf(why, why_len, "cgroup %s is not delegated (systemd: Delegate=memory)", p->res.cgroup);
		return;
	}
	char sup[PATH_MAX];
	if (snprintf(sup, sizeof sup, "%s/supervisor", base) >= (int)sizeof sup ||
	    (mkdir(sup, 0755) < 0 && errno != EEXIST)) {
		snprintf(why, why_len, "cannot create %s: %s", sup, strerror(errno));
		return;
	}
	/* No internal processes: everything of ours (this process, an
	 * embedded PostgreSQL) into the leaf before enabling a controller. */
	if (cg_read(base, "cgroup.procs", buf, sizeof buf) >= 0) {
		char *save = NULL;
		for (char *t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
			cg_write(sup, "cgroup.procs", t);
	}
	int r = cg_write(base, "cgroup.subtree_control", "+memory");
	if (r < 0) {
		snprintf(why, why_len, "cannot enable the memory controller in %s: %s", p->res.cgroup, strerror(-r));
		return;
	}
	p->cg_base = strdup(base);
	if (!p->cg_base)
		snprintf(why, why_len, "out of memory");
}

/* A cgroup for the next worker; the fd of its cgroup.procs (for the child
 * to move itself in before exec), or -1 (the worker then runs without one). */
static int cg_prepare(hp_pool *p, worker *w)
{
	if (!p->cg_base)
		return -1;
	char dir[PATH_MAX], lim[32];
	if (snprintf(dir, sizeof dir, "%s/worker-%llu", p->cg_base, (unsigned long long)++p->cg_seq) >=
	    (int)sizeof dir)
		return -1;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		hp_warn("cannot create the worker cgroup %s: %s; RLIMIT_AS only", dir, strerror(errno));
		return -1;
	}
	snprintf(lim, sizeof lim, "%llu", (unsigned long long)p->cfg.memory_limit);
	int r = cg_write(dir, "memory.max", lim);
	if (r == 0) {
		/* Best effort: no swap file means no memory.swap.max. */
		cg_write(dir, "memory.swap.max", "0");
		cg_write(dir, "memory.oom.group", "1");
	}
	char procs[PATH_MAX];
	if (r == 0 && snprintf(procs, sizeof procs, "%s/cgroup.procs", dir) >= (int)sizeof procs)
		r = -ENAMETOOLONG;
	int fd = r == 0 ? open(procs, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
	if (fd < 0) {
		hp_warn("cannot set up the worker cgroup %s: %s; RLIMIT_AS only", dir,
		        strerror(r < 0 ? -r : errno));
		rmdir(dir);
		return -1;
	}
	w->cg = strdup(dir);
	if (!w->cg) {
		close(fd);
		rmdir(dir);
		return -1;
	}
	return fd;
}

/* The kernel killed the worker at its cgroup's memory.max. */
static bool cg_oom_killed(const worker *w)
{
	char buf[512];
	if (!w->cg || cg_read(w->cg, "memory.events", buf, sizeof buf) < 0)
		return false;
	const char *k = strstr(buf, "oom_kill ");
	return k && strtoull(k + 9, NULL, 10) > 0;
}

static void cg_remove(worker *w)
{
	if (w->cg)
		rmdir(w->cg); /* empty once the worker is reaped */
	free(w->cg);
	w->cg = NULL;
}

/* ---- worker lifecycle ------------------------------------------------------- */

static void close_socket(worker *w)
{
	if (w->src.fd >= 0) {
		hp_evsrc_del(w->pool->epfd, &w->src);
		close(w->src.fd);
		w->src.fd = -1;
	}
	w->events = 0;
	if (w->pass_fd >= 0) {
		close(w->pass_fd);
		w->pass_fd = -1;
	}
	hp_buf_free(&w->out);
	hp_buf_free(&w->in);
	w->out_off = 0;
}

/* Stop talking to w and close the socket. The job (if any) is reported
 * when the pid is reaped. A strong reason (timeout, protocol violation)
 * kills at once and is what the report says; a weak one (socket closed)
 * gives the worker a moment to exit by itself, and is used only when the
 * exit status says nothing better. */
static void worker_kill(worker *w, const char *reason, bool strong)
{
	if (!w->reason[0] || (strong && !w->strong_reason)) {
		snprintf(w->reason, sizeof w->reason, "%s", reason);
		w->strong_reason = strong;
	}
	if (strong && !w->sent_kill && !w->reaped && w->pid > 0) {
		kill(w->pid, SIGKILL);
		w->sent_kill = true;
	}
	if (!strong && !w->kill_at_ms)
		w->kill_at_ms = hp_now_ms() + HP_POOL_EXIT_GRACE_MS;
	w->dying = true;
	close_socket(w);
}

/* Recycled or surplus: EOF tells it to exit. */
static void worker_retire(worker *w)
{
	w->retiring = true;
	w->dying = true;
	w->kill_at_ms = hp_now_ms() + HP_POOL_EXIT_GRACE_MS;
	close_socket(w);
}

static void build_argv(hp_pool *p)
{
	int a = 0;
	snprintf(p->arg_limit, sizeof p->arg_limit, "%llu", (unsigned long long)p->cfg.memory_limit);
	p->argv[a++] = p->exe;
	p->argv[a++] = (char *)"--worker";
	p->argv[a++] = (char *)"--memory-limit";
	p->argv[a++] = p->arg_limit;
	if (p->cfg.job_timeout_ms) {
		/* A CPU-time backstop per job, in case the supervisor cannot kill
		 * in time: twice the wall-clock limit. */
		snprintf(p->arg_cpu, sizeof p->arg_cpu, "%llu",
		         (unsigned long long)((p->cfg.job_timeout_ms * 2 + 999) / 1000));
		p->argv[a++] = (char *)"--cpu-limit";
		p->argv[a++] = p->arg_cpu;
	}
	if (hp_log_level >= HP_LOG_DEBUG)
		p->argv[a++] = (char *)"--debug";
	/* Test switches (STYLE.md: fault injection) travel as arguments, since
	 * the worker's environment is empty. */
	if (p->fault_crash) {
		p->argv[a++] = (char *)"--fault-crash";
		p->argv[a++] = p->fault_crash;
	}
	if (p->fault_stderr) {
		p->argv[a++] = (char *)"--fault-stderr";
		p->argv[a++] = p->fault_stderr;
	}
	if (p->fault_spin) {
		p->argv[a++] = (char *)"--fault-spin";
		p->argv[a++] = p->fault_spin;
	}
	const char *sd = getenv("HOPPER_SANDBOX_DEBUG");
	if (sd && *sd && strcmp(sd, "0") != 0)
		p->argv[a++] = (char *)"--sandbox-debug";
	p->argv[a] = NULL;
}

/* The environment of a worker: nothing of the supervisor's (no
 * PGPASSWORD, no NOTIFY_SOCKET, no HOME), only what the converters need to
 * start right: OMP_THREAD_LIMIT=1 (libgomp reads it at load time; the
 * sandbox allows no threads, see ocr.h) and the operator's TESSDATA_PREFIX
 * when set. Sanitizer builds pass their runtime options on, so a test's
 * ASAN_OPTIONS reaches the worker. Built once per process (static). */
static char **worker_env(void)
{
	static char *env[8];
	static char tess[PATH_MAX + 32];
	int n = 0;
	env[n++] = (char *)"OMP_THREAD_LIMIT=1";
	const char *td = getenv("TESSDATA_PREFIX");
	if (td && *td && strlen(td) < PATH_MAX) {
		snprintf(tess, sizeof tess, "TESSDATA_PREFIX=%s", td);
		env[n++] = tess;
	}
#ifdef HP_SANITIZE
	static const char *const keep[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
	static char buf[3][512];
	for (size_t i = 0; i < HP_ARRAY_SIZE(keep); i++) {
		const char *v = getenv(keep[i]);
		if (v) {
			snprintf(buf[i], sizeof buf[i], "%s=%s", keep[i], v);
			env[n++] = buf[i];
		}
	}
#endif
	env[n] = NULL;
	return env;
}

static void child_exec(hp_pool *p, pid_t parent, int sock, int errw, int cgfd, char **envp)
{
	/* Between fork and exec: async-signal-safe calls only. All signals are
	 * blocked (see worker_spawn), so none of the supervisor's handlers can
	 * run in this copy; reset them, then unblock: a signal sent to the new
	 * pid early (a kill from a test, a SIGTERM) gets its default action. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* A worker must not outlive its supervisor (it may be stuck in a
	 * parser and never see EOF). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	/* Into its own cgroup before it runs a line of the worker ("0": the
	 * writing process). Failing that, RLIMIT_AS still holds. */
	if (cgfd >= 0) {
		if (write(cgfd, "0", 1) < 0) {
			/* nothing to do between fork and exec */
		}
		close(cgfd);
	}
	int nul = p->devnull;
	/* Everything to fd >= 4 first, so no dup2 below overwrites a source. */
	if (sock < 4)
		sock = fcntl(sock, F_DUPFD, 4);
	if (nul < 4)
		nul = fcntl(nul, F_DUPFD, 4);
	if (errw < 4)
		errw = fcntl(errw, F_DUPFD, 4);
	/* stdin and stdout to /dev/null; stderr is the pipe the pool reads. */
	if (sock < 0 || nul < 0 || errw < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(nul, STDOUT_FILENO) < 0 ||
	    dup2(errw, STDERR_FILENO) < 0 || dup2(sock, 3) < 0)
		_exit(127);
	close_range(4, ~0U, 0);
	execve(p->exe, p->argv, envp);
	_exit(127);
}

static worker *worker_alloc(hp_pool *p)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		worker **nw = realloc(p->w, cap * sizeof *nw);
		if (!nw)
			return NULL;
		p->w = nw;
		p->cap = cap;
	}
	worker *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->pool = p;
	w->src.fd = -1;
	w->err.fd = -1;
	w->pass_fd = -1;
	p->w[p->n++] = w;
	return w;
}

static void worker_free(hp_pool *p, worker *w)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->w[i] == w) {
			p->w[i] = p->w[--p->n];
			break;
		}
	}
	close_socket(w);
	stderr_close(w);
	cg_remove(w);
	free(w);
}

static int worker_spawn(hp_pool *p, bool spare)
{
	if (p->n >= HP_POOL_MAX_WORKERS)
		return -EAGAIN;
	int sv[2], ep[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		int e = -errno;
		close(sv[0]);
		close(sv[1]);
		return e;
	}
	worker *w = worker_alloc(p);
	if (!w) {
		close(sv[0]);
		close(sv[1]);
		close(ep[0]);
		close(ep[1]);
		return -ENOMEM;
	}
	char **envp = worker_env();
	int cgfd = cg_prepare(p, w);
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		close(ep[0]);
		child_exec(p, parent, sv[1], ep[1], cgfd, envp);
	}
	int fork_err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (cgfd >= 0)
		close(cgfd);
	close(sv[1]);
	close(ep[1]);
	if (pid < 0) {
		close(sv[0]);
		close(ep[0]);
		worker_free(p, w);
		return -fork_err;
	}
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	fcntl(ep[0], F_SETFL, fcntl(ep[0], F_GETFL) | O_NONBLOCK);

	uint64_t now = hp_now_ms();
	w->pid = pid;
	w->spare = spare;
	w->since_ms = w->spawned_ms = now;
	w->src.fd = sv[0];
	w->src.handler = worker_event;
	w->err.fd = ep[0];
	w->err.handler = stderr_event;
	hp_buf_init(&w->out, 0);
	hp_buf_init(&w->in, 0);
	p->stats.spawned++;
	if (hp_evsrc_add(p->epfd, &w->err, EPOLLIN) < 0) {
		close(w->err.fd);
		w->err.fd = -1;
	}
	int r = hp_evsrc_add(p->epfd, &w->src, EPOLLIN);
	if (r < 0) {
		/* Cannot watch it: let it go the normal way (reap, respawn). */
		hp_err("cannot watch worker %d: %s", (int)pid, strerror(-r));
		close(w->src.fd);
		w->src.fd = -1;
		worker_kill(w, "worker could not be watched", true);
		return 0;
	}
	w->events = EPOLLIN;
	hp_debug("worker %d started", (int)pid);
	return 0;
}

static void set_events(worker *w, uint32_t want)
{
	if (w->src.fd < 0 || w->events == want)
		return;
	if (hp_evsrc_mod(w->pool->epfd, &w->src, want) == 0)
		w->events = want;
}

static void flush_out(worker *w)
{
	while (w->src.fd >= 0 && w->out_off < w->out.len) {
		ssize_t n;
		if (w->pass_fd >= 0) {
			/* unix(7): the fd rides on the first byte sent with it. */
			char cbuf[CMSG_SPACE(sizeof(int))];
			memset(cbuf, 0, sizeof cbuf);
			struct iovec iov = { .iov_base = w->out.data + w->out_off, .iov_len = w->out.len - w->out_off };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			                     .msg_controllen = sizeof cbuf };
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &w->pass_fd, sizeof(int));
			n = sendmsg(w->src.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				close(w->pass_fd);
				w->pass_fd = -1;
			}
		} else {
			n = send(w->src.fd, w->out.data + w->out_off, w->out.len - w->out_off,
			         MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			char why[96];
			snprintf(why, sizeof why, "cannot write to the worker: %s", strerror(errno));
			worker_kill(w, why, false);
			return;
		}
		w->out_off += (size_t)n;
	}
	if (w->src.fd < 0)
		return;
	if (w->out_off == w->out.len) {
		if (w->busy)
			w->delivered = true;
		if (w->out.alloc > HP_POOL_KEEP_BUF)
			hp_buf_free(&w->out);
		else
			hp_buf_reset(&w->out);
		w->out_off = 0;
		set_events(w, EPOLLIN);
	} else {
		set_events(w, EPOLLIN | EPOLLOUT);
	}
}

/* Workers that take jobs: alive, not being stopped, not spares. */
static bool is_ready(const worker *w)
{
	return w->pid > 0 && !w->dying && !w->spare;
}

static int count_ready(const hp_pool *p)
{
	int n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += is_ready(p->w[i]);
	return n;
}

static int count_spares(const hp_pool *p)
{
	int n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->w[i]->pid > 0 && !p->w[i]->dying && p->w[i]->spare;
	return n;
}

static worker *find_spare(const hp_pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->w[i]->pid > 0 && !p->w[i]->dying && p->w[i]->spare)
			return p->w[i];
	return NULL;
}

/* Busy workers still running their job (not being stopped). */
static int count_busy_live(const hp_pool *p)
{
	int n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += is_ready(p->w[i]) && p->w[i]->busy;
	return n;
}

/* Jobs that may start now: under memory pressure the policy caps the jobs
 * in flight (admit); otherwise no cap. */
static int admissible(const hp_pool *p)
{
	if (p->pout.admit < 0)
		return INT_MAX;
	int room = p->pout.admit - hp_pool_busy(p);
	return room > 0 ? room : 0;
}

/* Start workers up to the target (when starts are not backing off). */
static int maintain(hp_pool *p, uint64_t now)
{
	int started = 0;
	if (p->stopping)
		return 0;
	int target = p->pout.target > 0 ? p->pout.target : p->cfg.workers;
	while (count_ready(p) < target) {
		/* A spare started for this moment takes the place first. */
		worker *s = find_spare(p);
		if (s) {
			s->spare = false;
			s->since_ms = now;
			started++;
			continue;
		}
		if (now < p->next_spawn_ms)
			break;
		int r = worker_spawn(p, false);
		if (r < 0) {
			hp_err("cannot start a worker process: %s; trying again shortly", strerror(-r));
			p->next_spawn_ms = now + 1000;
			break;
		}
		started++;
	}
	return started;
}

/* ---- spares ----------------------------------------------------------------
 * A worker that is to be recycled after its job (a high-risk file name, or
 * its last job under max_jobs_per_worker) gets its successor started while
 * the job runs: exec, loading the converter libraries and entering the
 * sandbox cost more than a typical job (`hopper bench` prints both), and
 * would otherwise stand between every high-risk job and the next. The
 * spare takes no job and is not counted as a worker until maintain()
 * promotes it in place of the retired one. One spare per worker about to
 * be recycled, none under memory pressure (a spare is a whole process). A
 * worker recycled for a format only its bytes revealed has no spare; its
 * successor starts after it, as before. */

static int wanted_spares(const hp_pool *p)
{
	if (p->stopping || p->pout.admit >= 0)
		return 0;
	int n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += is_ready(p->w[i]) && p->w[i]->busy && p->w[i]->will_recycle;
	return n;
}

static void spare_start(hp_pool *p, uint64_t now)
{
	if (now < p->next_spawn_ms || count_spares(p) >= wanted_spares(p))
		return;
	int r = worker_spawn(p, true);
	if (r < 0)
		hp_debug("cannot start a spare worker: %s", strerror(-r));
}

/* Spares no worker is waiting for (pressure came, recycling was turned
 * off, the job went another way): stopped. */
static void spare_trim(hp_pool *p)
{
	int extra = count_spares(p) - wanted_spares(p);
	for (size_t i = 0; i < p->n && extra > 0; i++) {
		worker *w = p->w[i];
		if (w->pid > 0 && !w->dying && w->spare) {
			worker_retire(w);
			extra--;
		}
	}
}

/* A whole frame is in w->in. */
static void dispatch(worker *w, uint32_t type, uint32_t len)
{
	hp_pool *p = w->pool;
	if (type != HP_FRAME_RESULT || !w->busy) {
		worker_kill(w, "worker sent a malformed frame", true);
		return;
	}
	hp_result res;
	size_t max_chunks = p->cfg.max_frame / 16 + 1;
	int r = hp_result_decode(w->in.data + HP_FRAME_HDR_LEN, len, max_chunks, &res);
	if (r < 0) {
		worker_kill(w, r == -ENOMEM ? "out of memory reading the worker's result"
		                            : "worker sent a malformed frame", true);
		return;
	}
	if (res.job_id != w->job_id) {
		hp_result_clear(&res);
		worker_kill(w, "worker sent a malformed frame", true);
		return;
	}
	if (w->in.alloc > HP_POOL_KEEP_BUF)
		hp_buf_free(&w->in);
	else
		hp_buf_reset(&w->in);
	uint64_t job_id = w->job_id;
	uint64_t now = hp_now_ms();
	uint64_t took = now - w->since_ms;
	p->stats.jobs++;
	p->fast_deaths = 0; /* workers start fine */
	p->stats.job_ms_avg = p->stats.job_ms_avg ? (p->stats.job_ms_avg * 7 + took + 7) / 8 : took + 1;
	w->jobs++;
	/* Recycle before the callback, so the callback cannot hand the next
	 * job to a worker that converted a high-risk file. */
	int max_jobs = p->cfg.max_jobs_per_worker > 0 ? p->cfg.max_jobs_per_worker : HP_POOL_DEFAULT_JOBS;
	bool risky = p->cfg.recycle_high_risk && (w->risky_name || risky_format(res.doc.format));
	w->busy = false;
	w->will_recycle = false;
	w->job_id = 0;
	w->since_ms = now;
	if (risky || w->jobs >= (unsigned)max_jobs) {
		hp_debug("worker %d: replaced after %u job(s)%s", (int)w->pid, w->jobs,
		         risky ? " (high-risk format)" : "");
		p->stats.recycled++;
		worker_retire(w);
		maintain(p, now);
	}
	p->cb(p->userdata, job_id, res.status == 0 ? HP_POOL_DONE : HP_POOL_ERROR, &res, NULL);
	hp_result_clear(&res);
}

static void read_in(worker *w)
{
	size_t max = w->pool->cfg.max_frame;
	while (w->src.fd >= 0) {
		size_t need = HP_FRAME_HDR_LEN;
		uint32_t type = 0, len = 0;
		if (w->in.len >= HP_FRAME_HDR_LEN) {
			/* Validate the header before buffering a byte of payload. */
			int r = hp_frame_header(w->in.data, w->in.len, max, &type, &len);
			if (r < 0) {
				worker_kill(w, "worker sent a malformed frame", true);
				return;
			}
			need += len;
			if (w->in.len == need) {
				dispatch(w, type, len);
				continue;
			}
		}
		size_t want = need - w->in.len;
		int r = hp_buf_reserve(&w->in, want);
		if (r < 0) {
			worker_kill(w, "out of memory reading the worker's result", true);
			return;
		}
		ssize_t n = read(w->src.fd, w->in.data + w->in.len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			char why[96];
			snprintf(why, sizeof why, "cannot read from the worker: %s", strerror(errno));
			/* On a Unix stream socket ECONNRESET means the worker closed
			 * with our bytes still unread: it never had the job. */
			if (errno == ECONNRESET)
				w->delivered = false;
			worker_kill(w, why, false);
			return;
		}
		if (n == 0) {
			worker_kill(w, w->in.len ? "worker sent a malformed frame" : "worker closed its connection",
			            w->in.len != 0);
			return;
		}
		w->in.len += (size_t)n;
		w->in.data[w->in.len] = '\0';
	}
}

static void worker_event(hp_evsrc *src, uint32_t events)
{
	worker *w = (worker *)src;
	if (events & (EPOLLOUT | EPOLLERR))
		flush_out(w);
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		read_in(w);
}

/* ---- scaling -------------------------------------------------------------- */

static hp_policy_config policy_config(const hp_pool *p)
{
	return (hp_policy_config){
		.min = p->cfg.workers > 0 ? p->cfg.workers : 1,
		.max = p->cfg.max,
		.cpu_multiplier = p->cfg.cpu_multiplier,
		.profile = (hp_profile)p->cfg.profile,
		.memory_limit = p->cfg.memory_limit,
		.idle_timeout_ms = p->cfg.idle_timeout_ms ? p->cfg.idle_timeout_ms : HP_POOL_DEFAULT_IDLE_MS,
	};
}

/* Peak RSS of the live workers (VmHWM, /proc/PID/status). */
static void sample_rss(hp_pool *p)
{
	uint64_t peak = 0;
	for (size_t i = 0; i < p->n; i++) {
		worker *w = p->w[i];
		if (w->pid <= 0 || w->reaped)
			continue;
		char path[64], buf[2048];
		snprintf(path, sizeof path, "/proc/%d/status", (int)w->pid);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		const char *h = strstr(buf, "VmHWM:");
		if (h) {
			uint64_t kb = strtoull(h + 6, NULL, 10);
			if (kb * 1024 > peak)
				peak = kb * 1024;
		}
	}
	if (peak) {
		p->rss_recent = peak;
		if (peak > p->stats.rss_peak)
			p->stats.rss_peak = peak;
	}
}

static void decide(hp_pool *p, uint64_t now)
{
	if (now - p->last_rss_ms >= HP_POOL_RSS_EVERY_MS) {
		p->last_rss_ms = now;
		sample_rss(p);
	}
	if (p->last_decide_ms)
		hp_resources_refresh(p->res_root, &p->res);
	p->last_decide_ms = now;
	hp_policy_config c = policy_config(p);
	hp_policy_input in = {
		.res = &p->res,
		.alive = count_ready(p),
		.busy = count_busy_live(p),
		.backlog = p->backlog,
		.job_ms = p->stats.job_ms_avg,
		.worker_rss = p->rss_recent,
		.now_ms = now,
	};
	int before = p->pout.target;
	bool was_severe = p->pst.severe;
	hp_policy_decide(&c, &in, &p->pst, &p->pout);
	if (p->pst.severe != was_severe)
		hp_log(p->pst.severe ? HP_LOG_WARNING : HP_LOG_NOTICE, "workers: %s",
		       p->pst.severe ? p->pout.reason : "severe memory pressure is over; taking jobs again");
	if (before && p->pout.target != before)
		hp_info("workers: target %d -> %d (%s)", before, p->pout.target, p->pout.reason);
}

/* Severe memory pressure: stop as many busy workers as the policy says,
 * the youngest job first (it loses the least work). The job is reported
 * LOST, so it goes back to the queue at once; the attempt its claim
 * counted stands, so a job stopped max_attempts times fails instead of
 * looping (it may well be the one that takes the memory). */
static void preempt(hp_pool *p)
{
	for (int k = 0; k < p->pout.preempt; k++) {
		worker *best = NULL;
		for (size_t i = 0; i < p->n; i++) {
			worker *w = p->w[i];
			if (w->pid > 0 && w->busy && !w->dying && (!best || w->since_ms > best->since_ms))
				best = w;
		}
		if (!best)
			return;
		hp_warn("worker %d: job %llu stopped after %llu ms to give memory back; it goes back to the queue",
		        (int)best->pid, (unsigned long long)best->job_id,
		        (unsigned long long)(hp_now_ms() - best->since_ms));
		best->preempted = true;
		worker_kill(best, "stopped under severe memory pressure", true);
	}
}

/* Stop idle workers beyond the target, the longest idle first. */
static void shrink(hp_pool *p)
{
	int surplus = count_ready(p) - p->pout.target;
	while (surplus > 0) {
		worker *best = NULL;
		for (size_t i = 0; i < p->n; i++) {
			worker *w = p->w[i];
			if (is_ready(w) && !w->busy && (!best || w->since_ms < best->since_ms))
				best = w;
		}
		if (!best)
			break;
		hp_debug("worker %d: stopping (%s)", (int)best->pid, p->pout.reason);
		worker_retire(best);
		surplus--;
	}
}

/* ---- public ---------------------------------------------------------------- */

static void apply_config(hp_pool *p, const hp_pool_config *cfg)
{
	p->cfg.workers = cfg->workers;
	p->cfg.max = cfg->max;
	p->cfg.cpu_multiplier = cfg->cpu_multiplier;
	p->cfg.profile = cfg->profile;
	p->cfg.idle_timeout_ms = cfg->idle_timeout_ms;
	p->cfg.max_jobs_per_worker = cfg->max_jobs_per_worker;
	p->cfg.recycle_high_risk = cfg->recycle_high_risk;
	p->cfg.max_output = cfg->max_output;
	/* A result holds the Markdown, the chunks (about as much again) and
	 * their field headers: room for max_output three times, plus slack. */
	p->cfg.max_frame = cfg->max_frame ? cfg->max_frame
	                   : cfg->max_output ? (size_t)cfg->max_output * 3 + ((size_t)16 << 20)
	                                     : (size_t)256 << 20;
}

int hp_pool_worker_exe(const char *self, char *buf, size_t len)
{
	const char *slash = strrchr(self, '/');
	int dir = slash ? (int)(slash - self) : 0;
	/* Next to the caller (the build tree, or BINDIR), then in LIBEXECDIR
	 * (PREFIX/lib/hopper, relative to BINDIR = PREFIX/bin). */
	static const char *const where[] = { "/hopper-worker", "/../lib/hopper/hopper-worker" };
	for (size_t i = 0; slash && i < HP_ARRAY_SIZE(where); i++) {
		if (snprintf(buf, len, "%.*s%s", dir, self, where[i]) < (int)len && access(buf, X_OK) == 0)
			return 0;
	}
	if (snprintf(buf, len, "%s", self) >= (int)len)
		return -ENAMETOOLONG;
	return 1;
}

int hp_pool_exec_worker(int argc, char **argv)
{
	char self[PATH_MAX], exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0) {
		hp_err("worker: cannot find my own binary (/proc/self/exe): %s", strerror(errno));
		return 127;
	}
	self[n] = '\0';
	if (hp_pool_worker_exe(self, exe, sizeof exe) != 0) {
		hp_err("worker: hopper-worker is not installed next to %s or in ../lib/hopper", self);
		return 127;
	}
	(void)argc;
	argv[0] = exe;
	execv(exe, argv);
	hp_err("worker: cannot run %s: %s", exe, strerror(errno));
	return 127;
}

int hp_pool_exec_worker_fd(int fd, uint64_t memory_limit)
{
	char self[PATH_MAX], exe[PATH_MAX], limit[32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0)
		return 127;
	self[n] = '\0';
	if (hp_pool_worker_exe(self, exe, sizeof exe) != 0) {
		hp_err("hopper-worker is not installed next to %s or in ../lib/hopper", self);
		return 127;
	}
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			return 127;
	} else {
		fcntl(3, F_SETFD, 0); /* keep it across exec */
	}
	snprintf(limit, sizeof limit, "%llu", (unsigned long long)memory_limit);
	char *argv[8] = { exe, (char *)"--worker", (char *)"--memory-limit", limit };
	int a = 4;
	const char *fc = getenv("HOPPER_FAULT_CRASH");
	if (fc && *fc) {
		argv[a++] = (char *)"--fault-crash";
		argv[a++] = (char *)fc;
	}
	if (getenv("HOPPER_DEBUG"))
		argv[a++] = (char *)"--debug";
	argv[a] = NULL;
	execve(exe, argv, worker_env());
	hp_err("cannot run %s: %s", exe, strerror(errno));
	return 127;
}

void hp_pool_config_fill(hp_pool_config *ret, const hp_config *cfg, const char *exe)
{
	*ret = (hp_pool_config){
		.exe = exe,
		.workers = cfg->workers_min,
		.max = cfg->workers_max,
		.cpu_multiplier = cfg->cpu_multiplier,
		.profile = cfg->profile,
		.idle_timeout_ms = cfg->idle_timeout_ms,
		.max_jobs_per_worker = cfg->max_jobs_per_worker,
		.recycle_high_risk = cfg->recycle_high_risk,
		.memory_limit = cfg->memory_limit,
		.job_timeout_ms = cfg->job_timeout_ms,
		.max_output = cfg->max_output,
	};
}

int hp_pool_new(const hp_pool_config *cfg, int epfd, hp_pool_cb cb, void *userdata, hp_pool **ret_pool)
{
	if (!cfg || !cfg->exe || !cb || cfg->workers < 0 || cfg->workers > HP_POOL_MAX_WORKERS)
		return -EINVAL;
	int r;
	hp_pool *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	apply_config(p, cfg);
	p->epfd = epfd;
	p->cb = cb;
	p->userdata = userdata;
	p->devnull = -1;
	p->backlog = -1;
	char wexe[PATH_MAX];
	r = hp_pool_worker_exe(cfg->exe, wexe, sizeof wexe);
	if (r < 0)
		goto fail;
	p->exe = strdup(wexe);
	p->cfg.exe = p->exe;
	/* Test switch (STYLE.md: fault injection): a fake /proc and /sys tree,
	 * so a test of the whole daemon can make memory pressure appear. */
	const char *fres = getenv("HOPPER_FAULT_RESOURCES");
	const char *res_root = cfg->resources_root ? cfg->resources_root : fres && *fres ? fres : NULL;
	p->res_root = hp_strdup0(res_root);
	p->cfg.resources_root = p->res_root;
	const char *fc = getenv("HOPPER_FAULT_CRASH"), *fs = getenv("HOPPER_FAULT_STDERR");
	p->fault_crash = fc && *fc ? strdup(fc) : NULL;
	p->fault_stderr = fs && *fs ? strdup(fs) : NULL;
	const char *fsp = getenv("HOPPER_FAULT_SPIN");
	p->fault_spin = fsp && *fsp ? strdup(fsp) : NULL;
	if (!p->exe || (res_root && !p->res_root)) {
		r = -ENOMEM;
		goto fail;
	}
	build_argv(p);
	p->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (p->devnull < 0) {
		r = -errno;
		goto fail;
	}
	if (access(p->exe, X_OK) < 0) {
		r = -errno;
		hp_err("%s: cannot run the worker program: %s", p->exe, strerror(-r));
		goto fail;
	}
	hp_resources_detect(p->res_root, &p->res);
	char line[384];
	hp_resources_describe(&p->res, line, sizeof line);
	hp_info("detected %s", line);
	char cgwhy[PATH_MAX + 96] = "";
	cg_setup(p, cgwhy, sizeof cgwhy);
	if (p->cg_base)
		hp_info("worker memory_limit: a cgroup per worker under %s (memory.max, oom.group) and RLIMIT_AS",
		        p->res.cgroup);
	else if (cfg->memory_limit)
		hp_info("worker memory_limit: RLIMIT_AS (no per-worker cgroup: %s)", cgwhy);
	uint64_t now = hp_now_ms();
	p->pst.target = cfg->workers;
	decide(p, now);
	/* Start with min, whatever the first decision: growth follows the backlog. */
	p->pst.target = p->pout.target = cfg->workers;
	hp_info("workers: min %d, max %d (%s), profile %s", cfg->workers, p->pout.ceiling,
	        cfg->max ? "configured" : p->pout.ceiling_why == HP_WHY_MEMORY ? "auto, memory-bound" : "auto, cpu-bound",
	        hp_profile_name((hp_profile)cfg->profile));
	for (int i = 0; i < cfg->workers; i++) {
		r = worker_spawn(p, false);
		if (r < 0) {
			hp_err("cannot start a worker process: %s", strerror(-r));
			goto fail;
		}
	}
	*ret_pool = p;
	return 0;
fail:
	hp_pool_free(p, 0);
	return r;
}

int hp_pool_idle(const hp_pool *p)
{
	int n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += is_ready(p->w[i]) && !p->w[i]->busy;
	int room = admissible(p);
	return n < room ? n : room;
}

int hp_pool_alive(const hp_pool *p)
{
	return count_ready(p);
}

int hp_pool_busy(const hp_pool *p)
{
	int n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->w[i]->pid > 0 && p->w[i]->busy;
	return n;
}

/* The file's bytes and a NUL in a memfd sealed against any change
 * (memfd_create(2), F_ADD_SEALS): the worker can trust what it maps. -1
 * when that fails; the bytes then go in the frame. */
static int to_memfd(const void *data, size_t len)
{
	int fd = memfd_create("hopper-job", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	const char *p = data;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (write(fd, "", 1) != 1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

int hp_pool_submit(hp_pool *p, const hp_job_msg *m)
{
	if (m->len > HP_POOL_MAX_JOB)
		return -EFBIG;
	if (admissible(p) <= 0)
		return -EBUSY;
	worker *w = NULL;
	for (size_t i = 0; i < p->n && !w; i++) {
		worker *c = p->w[i];
		if (is_ready(c) && !c->busy && c->src.fd >= 0)
			w = c;
	}
	if (!w)
		return -EBUSY;
	hp_job_msg mm = *m;
	int mfd = m->len >= HP_POOL_MEMFD_MIN && !m->in_memfd ? to_memfd(m->data, m->len) : -1;
	if (mfd >= 0) {
		mm.in_memfd = true;
		mm.data = NULL;
	}
	int r = hp_job_msg_encode(&w->out, &mm);
	if (r < 0) {
		if (mfd >= 0)
			close(mfd);
		return r;
	}
	w->pass_fd = mfd;
	p->stats.memfd_jobs += mfd >= 0;
	w->busy = true;
	w->delivered = false;
	w->job_id = m->job_id;
	w->risky_name = risky_name(m->name);
	w->since_ms = hp_now_ms();
	int max_jobs = p->cfg.max_jobs_per_worker > 0 ? p->cfg.max_jobs_per_worker : HP_POOL_DEFAULT_JOBS;
	w->will_recycle = (p->cfg.recycle_high_risk && w->risky_name) || w->jobs + 1 >= (unsigned)max_jobs;
	if (w->will_recycle)
		spare_start(p, w->since_ms);
	/* From here the job's outcome comes through the callback, even if the
	 * write fails (the worker is then killed and the job reported). */
	flush_out(w);
	return 0;
}

int hp_pool_tick(hp_pool *p, uint64_t now_ms)
{
	for (size_t i = 0; i < p->n; i++) {
		worker *w = p->w[i];
		if (w->pid > 0 && w->busy && !w->dying && p->cfg.job_timeout_ms &&
		    now_ms - w->since_ms >= p->cfg.job_timeout_ms) {
			char why[64];
			uint64_t ms = p->cfg.job_timeout_ms;
			if (ms % 1000 == 0)
				snprintf(why, sizeof why, "timed out after %llu s", (unsigned long long)(ms / 1000));
			else
				snprintf(why, sizeof why, "timed out after %.1f s", (double)ms / 1000.0);
			hp_debug("worker %d: job %llu %s, killing it", (int)w->pid,
			         (unsigned long long)w->job_id, why);
			worker_kill(w, why, true);
		}
		if (w->pid > 0 && w->kill_at_ms && now_ms >= w->kill_at_ms && !w->sent_kill && !w->reaped) {
			kill(w->pid, SIGKILL);
			w->sent_kill = true;
		}
	}
	if (p->stopping)
		return 0;
	decide(p, now_ms);
	shrink(p);
	preempt(p);
	int started = maintain(p, now_ms);
	spare_trim(p);
	return started;
}

void hp_pool_set_backlog(hp_pool *p, int64_t backlog)
{
	p->backlog = backlog;
}

void hp_pool_reconfigure(hp_pool *p, const hp_pool_config *cfg)
{
	apply_config(p, cfg);
	p->last_decide_ms = 0;
	hp_resources_refresh(p->res_root, &p->res);
	decide(p, hp_now_ms());
}

int hp_pool_target(const hp_pool *p, int *ret_batch, char *reason, size_t reason_len)
{
	if (ret_batch)
		*ret_batch = p->pout.batch > 0 ? p->pout.batch : 1;
	if (reason && reason_len)
		snprintf(reason, reason_len, "%s", p->pout.reason);
	return p->pout.target;
}

void hp_pool_describe(const hp_pool *p, char *buf, size_t len)
{
	snprintf(buf, len, "workers %d (target %d: %s)", count_ready(p), p->pout.target, p->pout.reason);
}

void hp_pool_get_stats(const hp_pool *p, hp_pool_stats *ret)
{
	*ret = p->stats;
}

bool hp_pool_owns_pid(const hp_pool *p, pid_t pid)
{
	for (size_t i = 0; pid > 0 && i < p->n; i++)
		if (p->w[i]->pid == pid)
			return true;
	return false;
}

static void reap_reason(const hp_pool *p, const worker *w, int wstatus, char *why, size_t len)
{
	bool we_killed = w->sent_kill && w->reason[0];
	if (we_killed && (w->strong_reason || (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)))
		snprintf(why, len, "%s", w->reason);
	else if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL && cg_oom_killed(w))
		snprintf(why, len, "worker went over memory_limit = %llu MiB (its cgroup's memory.max)",
		         (unsigned long long)(p->cfg.memory_limit >> 20));
	else if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGPROF)
		/* The worker's per-job CPU-time backstop (worker.c). */
		snprintf(why, len, "used more than %s s of CPU time", p->arg_cpu[0] ? p->arg_cpu : "its");
	else if (WIFSIGNALED(wstatus))
		snprintf(why, len, "worker killed by %s", hp_signal_name(WTERMSIG(wstatus)));
	else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == HP_SANDBOX_EXIT_VIOLATION)
		/* Its SIGSYS handler named the call in the job's result and on stderr. */
		snprintf(why, len, "worker violated its sandbox");
	else if (WIFEXITED(wstatus))
		snprintf(why, len, "worker exited with status %d", WEXITSTATUS(wstatus));
	else
		snprintf(why, len, "worker ended");
}

void hp_pool_reaped(hp_pool *p, pid_t pid, int wstatus)
{
	worker *w = NULL;
	for (size_t i = 0; pid > 0 && i < p->n && !w; i++)
		if (p->w[i]->pid == pid)
			w = p->w[i];
	if (!w)
		return;
	w->reaped = true;
	/* A result written just before the exit is still in the socket: take
	 * it, so a finished job is not reported as crashed. Marked dying first,
	 * so the callback cannot hand this dead worker the next job. */
	if (w->busy && !w->dying) {
		w->dying = true;
		read_in(w);
	}
	/* Its last words. */
	stderr_read(w);

	char why[160];
	reap_reason(p, w, wstatus, why, sizeof why);
	bool busy = w->busy;
	/* Died before it had the whole job, or stopped by us under memory
	 * pressure: the file is not to blame. */
	hp_pool_outcome outcome = w->delivered && !w->preempted ? HP_POOL_CRASHED : HP_POOL_LOST;
	/* A LOST reason is the whole story: a preempted job's says so (its
	 * reason is ours); a job that never reached its worker gets that said. */
	if (outcome == HP_POOL_LOST && !w->preempted) {
		size_t l = strlen(why);
		snprintf(why + l, sizeof why - l, " before the job reached it");
	}
	uint64_t job_id = w->job_id;
	uint64_t now = hp_now_ms();
	bool expected = w->retiring || p->stopping;
	if (busy)
		hp_debug("worker %d: job %llu: %s", (int)pid, (unsigned long long)job_id, why);
	else if (!expected && !w->strong_reason)
		hp_warn("worker %d ended while idle: %s", (int)pid, why);

	/* A worker that dies idle before it finished a single job is a broken
	 * start (bad binary, sandbox refused): back off instead of forking in
	 * a loop. Counted by jobs, not by time since the start, so a start
	 * slowed down by a loaded machine is still recognised; any finished
	 * job ends the backoff (dispatch). */
	if (!busy && !expected && w->jobs == 0) {
		p->fast_deaths++;
		unsigned shift = p->fast_deaths > 7 ? 7 : p->fast_deaths - 1;
		uint64_t delay = (uint64_t)100 << shift;
		p->next_spawn_ms = now + (delay > HP_POOL_BACKOFF_MAX_MS ? HP_POOL_BACKOFF_MAX_MS : delay);
	} else if (!expected) {
		p->fast_deaths = 0;
		p->next_spawn_ms = now;
	}
	worker_free(p, w);
	maintain(p, now);
	if (busy)
		p->cb(p->userdata, job_id, outcome, NULL, why);
}

size_t hp_pool_list(const hp_pool *p, hp_worker_info *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n && n < max; i++) {
		const worker *w = p->w[i];
		if (!is_ready(w))
			continue;
		out[n].pid = w->pid;
		out[n].job_id = w->busy ? w->job_id : 0;
		out[n].since_ms = w->since_ms;
		n++;
	}
	return n;
}

void hp_pool_free(hp_pool *p, uint64_t timeout_ms)
{
	if (!p)
		return;
	p->stopping = true;
	/* EOF on the socket tells an idle worker to exit; a busy one finishes
	 * its job first (its result is lost: the caller requeues). */
	for (size_t i = 0; i < p->n; i++)
		close_socket(p->w[i]);
	uint64_t deadline = hp_now_ms() + timeout_ms;
	for (;;) {
		int left = 0;
		for (size_t i = 0; i < p->n; i++) {
			worker *w = p->w[i];
			if (w->pid <= 0)
				continue;
			int st;
			pid_t r = waitpid(w->pid, &st, WNOHANG);
			if (r == w->pid || (r < 0 && errno == ECHILD)) {
				stderr_read(w);
				w->pid = 0;
			} else {
				left++;
			}
		}
		if (!left || hp_now_ms() >= deadline)
			break;
		poll(NULL, 0, 10);
	}
	for (size_t i = 0; i < p->n; i++) {
		worker *w = p->w[i];
		if (w->pid > 0) {
			kill(w->pid, SIGKILL);
			while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		stderr_close(w);
		cg_remove(w);
		free(w);
	}
	if (p->devnull >= 0)
		close(p->devnull);
	free(p->w);
	free(p->exe);
	free(p->res_root);
	free(p->cg_base);
	free(p->fault_crash);
	free(p->fault_stderr);
	free(p->fault_spin);
	free(p);
}
