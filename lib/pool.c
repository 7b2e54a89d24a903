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
 * This file: frames to and from the workers, outcomes, spares, scaling and
 * the public calls; starting and stopping processes is pool-spawn.c, the
 * per-worker cgroups pool-cgroup.c (pool-int.h is what they share).
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

/* ---- talking to a worker ------------------------------------------------ */

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
			hp_pool_worker_kill(w, why, false);
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
		int r = hp_pool_worker_spawn(p, false);
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
	int r = hp_pool_worker_spawn(p, true);
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
			hp_pool_worker_retire(w);
			extra--;
		}
	}
}

/* A whole frame is in w->in. */
static void dispatch(worker *w, uint32_t type, uint32_t len)
{
	hp_pool *p = w->pool;
	if (type != HP_FRAME_RESULT || !w->busy) {
		hp_pool_worker_kill(w, "worker sent a malformed frame", true);
		return;
	}
	hp_result res;
	size_t max_chunks = p->cfg.max_frame / 16 + 1;
	int r = hp_result_decode(w->in.data + HP_FRAME_HDR_LEN, len, max_chunks, &res);
	if (r < 0) {
		hp_pool_worker_kill(w, r == -ENOMEM ? "out of memory reading the worker's result"
		                            : "worker sent a malformed frame", true);
		return;
	}
	if (res.job_id != w->job_id) {
		hp_result_clear(&res);
		hp_pool_worker_kill(w, "worker sent a malformed frame", true);
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
		hp_pool_worker_retire(w);
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
				hp_pool_worker_kill(w, "worker sent a malformed frame", true);
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
			hp_pool_worker_kill(w, "out of memory reading the worker's result", true);
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
			hp_pool_worker_kill(w, why, false);
			return;
		}
		if (n == 0) {
			hp_pool_worker_kill(w, w->in.len ? "worker sent a malformed frame" : "worker closed its connection",
			            w->in.len != 0);
			return;
		}
		w->in.len += (size_t)n;
		w->in.data[w->in.len] = '\0';
	}
}

void hp_pool_worker_event(hp_evsrc *src, uint32_t events)
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
		uint64_t rss = hp_proc_peak_rss((int)w->pid);
		if (rss > peak)
			peak = rss;
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
		hp_pool_worker_kill(best, "stopped under severe memory pressure", true);
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
		hp_pool_worker_retire(best);
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
	hp_pool_build_argv(p);
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
	hp_pool_cg_setup(p, cgwhy, sizeof cgwhy);
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
		r = hp_pool_worker_spawn(p, false);
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
			hp_pool_worker_kill(w, why, true);
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
	else if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL && hp_pool_cg_oom_killed(w))
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
	hp_pool_stderr_read(w);

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
	hp_pool_worker_free(p, w);
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
		hp_pool_close_socket(p->w[i]);
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
				hp_pool_stderr_read(w);
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
		hp_pool_stderr_close(w);
		hp_pool_cg_remove(w);
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
