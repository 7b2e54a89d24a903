/* pool.c — converter worker processes, see include/hopper/pool.h
 *
 * Each worker is a slot: a pid, one non-blocking socket registered in the
 * caller's epoll set, an output buffer (the JOB frame being written) and an
 * input buffer (the RESULT frame being read). Every submitted job gets
 * exactly one outcome through the callback: DONE/ERROR when its RESULT
 * frame arrives, CRASHED when the worker is reaped while holding it.
 * A worker that misbehaves (malformed frame, closed socket, timeout) is
 * SIGKILLed at once and its socket closed; the outcome waits for the reap,
 * so the reason can name the real cause (a SIGSEGV beats "closed socket").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hopper/pool.h"
#include "hopper/sandbox.h"

/* The largest file a job may carry; the worker accepts a little more for
 * the other fields (daemon/worker.c). */
#define HP_POOL_MAX_JOB ((size_t)1 << 30)
#define HP_POOL_MAX_WORKERS 1024
/* Buffers larger than this are freed after use rather than kept. */
#define HP_POOL_KEEP_BUF ((size_t)1 << 20)
/* A worker that dies idle within this long of its start counts as a
 * failed start; repeated failed starts back off up to HP_POOL_BACKOFF_MAX. */
#define HP_POOL_FAST_DEATH_MS 1000
#define HP_POOL_BACKOFF_MAX_MS 10000

typedef struct worker {
	hp_evsrc src;          /* first: the epoll handler casts back */
	hp_pool *pool;
	pid_t pid;             /* 0: slot empty */
	bool busy;             /* a job was sent and has no outcome yet */
	bool dying;            /* SIGKILL sent or socket closed; awaiting reap */
	bool reaped;           /* pid already waited for: never signal it */
	bool strong_reason;    /* reason beats the exit status */
	bool sent_kill;        /* we sent it SIGKILL */
	bool delivered;        /* the whole JOB frame went into the socket */
	uint32_t events;       /* epoll events registered now */
	uint64_t job_id;
	uint64_t since_ms;     /* job start when busy, else when it went idle */
	uint64_t spawned_ms;
	uint64_t next_spawn_ms;
	unsigned fast_deaths;
	char reason[96];
	hp_buf out;
	size_t out_off;        /* bytes of out already written */
	hp_buf in;
} worker;

struct hp_pool {
	hp_pool_config cfg;
	char *exe;
	int epfd;
	hp_pool_cb cb;
	void *userdata;
	worker *w;
	int n;
	int devnull;
	bool stopping;
};

static void worker_event(hp_evsrc *src, uint32_t events);

static void close_socket(worker *w)
{
	if (w->src.fd >= 0) {
		hp_evsrc_del(w->pool->epfd, &w->src);
		close(w->src.fd);
		w->src.fd = -1;
	}
	w->events = 0;
	hp_buf_free(&w->out);
	hp_buf_free(&w->in);
	w->out_off = 0;
}

/* Stop talking to w: SIGKILL it and close the socket. The job (if any) is
 * reported when the pid is reaped. A strong reason (timeout, protocol
 * violation) is what the report says; a weak one (socket closed) only when
 * the exit status says nothing better. */
static void worker_kill(worker *w, const char *reason, bool strong)
{
	if (!w->reason[0] || (strong && !w->strong_reason)) {
		snprintf(w->reason, sizeof w->reason, "%s", reason);
		w->strong_reason = strong;
	}
	if (!w->sent_kill && !w->reaped && w->pid > 0) {
		kill(w->pid, SIGKILL);
		w->sent_kill = true;
	}
	w->dying = true;
	close_socket(w);
}

static void child_exec(hp_pool *p, pid_t parent, int sock, const char *limit)
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
	int nul = p->devnull;
	if (sock < 4)
		sock = fcntl(sock, F_DUPFD, 4);
	if (nul < 4)
		nul = fcntl(nul, F_DUPFD, 4);
	/* stdin and stdout to /dev/null (a terminal when run by hand is not the
	 * worker's business); stderr stays: the worker logs there. */
	if (sock < 0 || nul < 0 || dup2(nul, STDIN_FILENO) < 0 || dup2(nul, STDOUT_FILENO) < 0 ||
	    dup2(sock, 3) < 0)
		_exit(127);
	close_range(4, ~0U, 0);
	char *argv[] = { p->exe, (char *)"--worker", (char *)"--memory-limit", (char *)limit, NULL };
	hp_env_scrub_service();
	execv(p->exe, argv);
	_exit(127);
}

static int worker_spawn(hp_pool *p, worker *w)
{
	char limit[32];
	int sv[2];
	snprintf(limit, sizeof limit, "%llu", (unsigned long long)p->cfg.memory_limit);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		child_exec(p, parent, sv[1], limit);
	}
	int fork_err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -fork_err;
	}
	close(sv[1]);
	int fl = fcntl(sv[0], F_GETFL);
	if (fl >= 0)
		fcntl(sv[0], F_SETFL, fl | O_NONBLOCK);

	uint64_t now = hp_now_ms();
	w->pid = pid;
	w->busy = w->dying = w->reaped = w->strong_reason = w->sent_kill = false;
	w->reason[0] = '\0';
	w->job_id = 0;
	w->since_ms = w->spawned_ms = now;
	w->src.fd = sv[0];
	w->src.handler = worker_event;
	w->out_off = 0;
	hp_buf_init(&w->out, 0);
	hp_buf_init(&w->in, 0);
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

static void spawn_due(hp_pool *p, worker *w, uint64_t now)
{
	if (w->pid != 0 || p->stopping || now < w->next_spawn_ms)
		return;
	int r = worker_spawn(p, w);
	if (r < 0) {
		hp_err("cannot start a worker process: %s; trying again shortly", strerror(-r));
		w->next_spawn_ms = now + 1000;
	}
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
		ssize_t n = send(w->src.fd, w->out.data + w->out_off, w->out.len - w->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
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
	/* Idle before the callback, so the callback can hand it the next job. */
	w->busy = false;
	w->job_id = 0;
	w->since_ms = hp_now_ms();
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

int hp_pool_new(const hp_pool_config *cfg, int epfd, hp_pool_cb cb, void *userdata, hp_pool **ret_pool)
{
	if (!cfg || !cfg->exe || !cb || cfg->workers < 0 || cfg->workers > HP_POOL_MAX_WORKERS)
		return -EINVAL;
	int r;
	hp_pool *p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	if (!p->cfg.max_frame)
		p->cfg.max_frame = (size_t)256 << 20;
	p->epfd = epfd;
	p->cb = cb;
	p->userdata = userdata;
	p->devnull = -1;
	p->exe = strdup(cfg->exe);
	p->cfg.exe = p->exe;
	p->n = cfg->workers;
	p->w = calloc((size_t)(p->n ? p->n : 1), sizeof *p->w);
	if (!p->exe || !p->w) {
		r = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < p->n; i++) {
		p->w[i].pool = p;
		p->w[i].src.fd = -1;
	}
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
	for (int i = 0; i < p->n; i++) {
		r = worker_spawn(p, &p->w[i]);
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
	for (int i = 0; i < p->n; i++)
		n += p->w[i].pid > 0 && !p->w[i].dying && !p->w[i].busy;
	return n;
}

int hp_pool_alive(const hp_pool *p)
{
	int n = 0;
	for (int i = 0; i < p->n; i++)
		n += p->w[i].pid > 0 && !p->w[i].dying;
	return n;
}

int hp_pool_busy(const hp_pool *p)
{
	int n = 0;
	for (int i = 0; i < p->n; i++)
		n += p->w[i].pid > 0 && p->w[i].busy;
	return n;
}

int hp_pool_submit(hp_pool *p, const hp_job_msg *m)
{
	if (m->len > HP_POOL_MAX_JOB)
		return -EFBIG;
	worker *w = NULL;
	for (int i = 0; i < p->n && !w; i++)
		if (p->w[i].pid > 0 && !p->w[i].dying && !p->w[i].busy && p->w[i].src.fd >= 0)
			w = &p->w[i];
	if (!w)
		return -EBUSY;
	int r = hp_job_msg_encode(&w->out, m);
	if (r < 0)
		return r;
	w->busy = true;
	w->delivered = false;
	w->job_id = m->job_id;
	w->since_ms = hp_now_ms();
	/* From here the job's outcome comes through the callback, even if the
	 * write fails (the worker is then killed and the job reported). */
	flush_out(w);
	return 0;
}

void hp_pool_tick(hp_pool *p, uint64_t now_ms)
{
	for (int i = 0; i < p->n; i++) {
		worker *w = &p->w[i];
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
		spawn_due(p, w, now_ms);
	}
}

bool hp_pool_owns_pid(const hp_pool *p, pid_t pid)
{
	for (int i = 0; pid > 0 && i < p->n; i++)
		if (p->w[i].pid == pid)
			return true;
	return false;
}

void hp_pool_reaped(hp_pool *p, pid_t pid, int wstatus)
{
	worker *w = NULL;
	for (int i = 0; pid > 0 && i < p->n && !w; i++)
		if (p->w[i].pid == pid)
			w = &p->w[i];
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

	char why[128];
	bool we_killed = w->sent_kill && w->reason[0];
	if (we_killed && (w->strong_reason || (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)))
		snprintf(why, sizeof why, "%s", w->reason);
	else if (WIFSIGNALED(wstatus))
		snprintf(why, sizeof why, "worker killed by %s", hp_signal_name(WTERMSIG(wstatus)));
	else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == HP_SANDBOX_EXIT_VIOLATION)
		snprintf(why, sizeof why, "worker violated its sandbox");
	else if (WIFEXITED(wstatus))
		snprintf(why, sizeof why, "worker exited with status %d", WEXITSTATUS(wstatus));
	else
		snprintf(why, sizeof why, "worker ended");

	bool busy = w->busy;
	/* Died before it had the whole job: the file is not to blame. */
	hp_pool_outcome outcome = w->delivered ? HP_POOL_CRASHED : HP_POOL_LOST;
	uint64_t job_id = w->job_id;
	uint64_t now = hp_now_ms();
	if (busy)
		hp_debug("worker %d: job %llu: %s", (int)pid, (unsigned long long)job_id, why);
	else if (!p->stopping && !w->strong_reason)
		hp_warn("worker %d ended while idle: %s", (int)pid, why);

	/* A worker that dies idle right after it started is a broken start
	 * (bad binary, sandbox refused): back off instead of forking in a loop. */
	if (!busy && now - w->spawned_ms < HP_POOL_FAST_DEATH_MS) {
		w->fast_deaths++;
		unsigned shift = w->fast_deaths > 7 ? 7 : w->fast_deaths - 1;
		uint64_t delay = (uint64_t)100 << shift;
		w->next_spawn_ms = now + (delay > HP_POOL_BACKOFF_MAX_MS ? HP_POOL_BACKOFF_MAX_MS : delay);
	} else {
		w->fast_deaths = 0;
		w->next_spawn_ms = now;
	}
	close_socket(w);
	w->pid = 0;
	w->busy = w->dying = w->reaped = w->strong_reason = w->sent_kill = w->delivered = false;
	w->job_id = 0;
	w->reason[0] = '\0';
	spawn_due(p, w, now);
	if (busy)
		p->cb(p->userdata, job_id, outcome, NULL, why);
}

size_t hp_pool_list(const hp_pool *p, hp_worker_info *out, size_t max)
{
	size_t n = 0;
	for (int i = 0; i < p->n && n < max; i++) {
		const worker *w = &p->w[i];
		if (w->pid <= 0)
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
	for (int i = 0; p->w && i < p->n; i++)
		close_socket(&p->w[i]);
	uint64_t deadline = hp_now_ms() + timeout_ms;
	for (;;) {
		int left = 0;
		for (int i = 0; p->w && i < p->n; i++) {
			worker *w = &p->w[i];
			if (w->pid <= 0)
				continue;
			int st;
			pid_t r = waitpid(w->pid, &st, WNOHANG);
			if (r == w->pid || (r < 0 && errno == ECHILD))
				w->pid = 0;
			else
				left++;
		}
		if (!left || hp_now_ms() >= deadline)
			break;
		poll(NULL, 0, 10);
	}
	for (int i = 0; p->w && i < p->n; i++) {
		worker *w = &p->w[i];
		if (w->pid <= 0)
			continue;
		kill(w->pid, SIGKILL);
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
		w->pid = 0;
	}
	if (p->devnull >= 0)
		close(p->devnull);
	free(p->w);
	free(p->exe);
	free(p);
}
