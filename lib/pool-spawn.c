/* pool-spawn.c — starting and stopping worker processes, see pool-int.h
 * and include/hopper/pool.h: the workers' argv and empty environment,
 * fork+exec with only fd 0-3 (stdin/stdout on /dev/null, stderr a pipe
 * the supervisor reads and logs escaped, fd 3 the socket), and finding the
 * hopper-worker binary.
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

#include "pool-int.h"

static void stderr_event(hp_evsrc *src, uint32_t events);

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

void hp_pool_stderr_close(worker *w)
{
	if (w->err.fd < 0)
		return;
	hp_evsrc_del(w->pool->epfd, &w->err);
	close(w->err.fd);
	w->err.fd = -1;
}

/* Read what is there; emit whole lines. At EOF, the rest. */
void hp_pool_stderr_read(worker *w)
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
			hp_pool_stderr_close(w);
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
	hp_pool_stderr_read(w);
}

/* ---- worker lifecycle ------------------------------------------------------- */

void hp_pool_close_socket(worker *w)
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
void hp_pool_worker_kill(worker *w, const char *reason, bool strong)
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
	hp_pool_close_socket(w);
}

/* Recycled or surplus: EOF tells it to exit. */
void hp_pool_worker_retire(worker *w)
{
	w->retiring = true;
	w->dying = true;
	w->kill_at_ms = hp_now_ms() + HP_POOL_EXIT_GRACE_MS;
	hp_pool_close_socket(w);
}

void hp_pool_build_argv(hp_pool *p)
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
char **hp_pool_worker_env(void)
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
	 * blocked (see hp_pool_worker_spawn), so none of the supervisor's handlers can
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

void hp_pool_worker_free(hp_pool *p, worker *w)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->w[i] == w) {
			p->w[i] = p->w[--p->n];
			break;
		}
	}
	hp_pool_close_socket(w);
	hp_pool_stderr_close(w);
	hp_pool_cg_remove(w);
	free(w);
}

int hp_pool_worker_spawn(hp_pool *p, bool spare)
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
	char **envp = hp_pool_worker_env();
	int cgfd = hp_pool_cg_prepare(p, w);
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
		hp_pool_worker_free(p, w);
		return -fork_err;
	}
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	fcntl(ep[0], F_SETFL, fcntl(ep[0], F_GETFL) | O_NONBLOCK);

	uint64_t now = hp_now_ms();
	w->pid = pid;
	w->spare = spare;
	w->since_ms = w->spawned_ms = now;
	w->src.fd = sv[0];
	w->src.handler = hp_pool_worker_event;
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
		hp_pool_worker_kill(w, "worker could not be watched", true);
		return 0;
	}
	w->events = EPOLLIN;
	hp_debug("worker %d started", (int)pid);
	return 0;
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
	execve(exe, argv, hp_pool_worker_env());
	hp_err("cannot run %s: %s", exe, strerror(errno));
	return 127;
}
