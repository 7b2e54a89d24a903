/* hopperd.c — the supervisor: one event loop that never parses document bytes.
 *
 * epoll over: a signalfd (TERM/INT stop, HUP reload, CHLD reap), the
 * inotify fd (watch.c), the libpq socket (NOTIFY wake-ups, queue.c) and
 * the worker sockets (pool.c). Each turn of the loop: enqueue what the
 * watcher found (one batched INSERT), then claim as many jobs as there are
 * idle workers, read them (reader.c, io_uring), skip conversion when the
 * same content is already stored, and hand the rest to the pool. Results
 * come back through pool_result() and are stored in one transaction each.
 *
 * `hopperd --worker --memory-limit N` is the worker entry (fd 3 = socket).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "hopper/common.h"
#include "hopper/config.h"
#include "hopper/db.h"
#include "hopper/dispose.h"
#include "hopper/embed.h"
#include "hopper/hash.h"
#include "hopper/pgembed.h"
#include "hopper/pool.h"
#include "hopper/queue.h"
#include "hopper/mirror.h"
#include "hopper/search.h"
#include "hopper/reader.h"
#include "hopper/watch.h"

#define HP_VERSION "0.1.0"
#define TICK_MS 1000
#define CLAIM_POLL_MS 5000      /* claim even without NOTIFY: expired leases, other nodes */
#define DRAIN_MS 10000          /* SIGTERM: time in-flight jobs get to finish */
#define RECONNECT_MS 1000
#define MAX_INFLIGHT 256

typedef struct inflight {
	uint64_t job_id;
	int attempts;           /* claims of this job so far, this one included */
	char *path;
	size_t bytes;
	char sha256[HP_SHA256_HEX_LEN + 1];
} inflight;

typedef struct daemon_state {
	const char *cfg_path;
	hp_config *cfg;
	int epfd;
	hp_evsrc sig;
	hp_evsrc db;
	bool db_registered;
	hp_pgembed *pg;
	char *conninfo;
	hp_queue *q;
	bool db_broken;
	uint64_t next_reconnect;
	hp_watcher *watcher;
	hp_reader *reader;
	hp_pool *pool;
	char owner[256];
	char exe[PATH_MAX];
	/* files found by the watcher, enqueued once per loop turn */
	hp_file_ref *pending;
	size_t n_pending, cap_pending;
	inflight flights[MAX_INFLIGHT];
	size_t n_flights;
	bool want_claim;
	bool want_reload, want_reap;
	uint64_t last_claim;
	int lease_s;            /* from job_timeout at start (restart-only key) */
	bool stopping;
	uint64_t stop_deadline;
	int exit_code;
	uint64_t n_done, n_failed;
	uint64_t n_linked;      /* of n_done: same content as a stored document */
	hp_embed *embed;        /* [embed] url set: chunks to vectors */
	hp_mirror *mirror;      /* [watch] output_dir set: the mirror folder */
	hp_evsrc embed_src;
} daemon_state;

static daemon_state D;

/* ---- bookkeeping of jobs handed to workers -------------------------------- */

static inflight *flight_find(uint64_t job_id)
{
	for (size_t i = 0; i < D.n_flights; i++)
		if (D.flights[i].job_id == job_id)
			return &D.flights[i];
	return NULL;
}

static void flight_drop(inflight *f)
{
	free(f->path);
	*f = D.flights[--D.n_flights];
}

/* ---- database ----------------------------------------------------------- */

static void db_on_event(hp_evsrc *src, uint32_t events);

static void db_register(void)
{
	if (D.db_registered)
		return;
	D.db.fd = hp_queue_fd(D.q);
	D.db.handler = db_on_event;
	if (D.db.fd >= 0 && hp_evsrc_add(D.epfd, &D.db, EPOLLIN) == 0)
		D.db_registered = true;
}

static void db_unregister(void)
{
	if (!D.db_registered)
		return;
	hp_evsrc_del(D.epfd, &D.db);
	D.db_registered = false;
}

/* A queue call failed: if the connection is gone, drop its socket from the
 * loop and reconnect from tick(). Jobs whose results are lost this way are
 * claimed again when their lease expires. */
static void db_check(int r, const char *what)
{
	if (r >= 0 || r == -ESTALE || r == -ENOENT)
		return;
	if (PQstatus(hp_queue_conn(D.q)) != CONNECTION_OK) {
		if (!D.db_broken)
			hp_err("database connection lost during %s; reconnecting", what);
		D.db_broken = true;
		db_unregister();
	}
}

static void db_on_event(hp_evsrc *src, uint32_t events)
{
	int r = hp_queue_drain_notify(D.q);
	if (r > 0)
		D.want_claim = true;
	else if (r < 0)
		db_check(r, "LISTEN");
}

static void db_try_reconnect(uint64_t now)
{
	if (!D.db_broken || now < D.next_reconnect)
		return;
	D.next_reconnect = now + RECONNECT_MS;
	if (hp_queue_reconnect(D.q) < 0)
		return;
	hp_notice("database connection restored");
	D.db_broken = false;
	db_register();
	D.want_claim = true;
}

/* Jobs leased by an earlier hopperd of this node that is no longer alive
 * (kill -9, power loss) need not wait for their leases to expire: this node
 * can tell that pid is gone. Owners are "node:pid"; a pid that runs but is
 * not a hopperd (reused after a reboot) counts as dead too. */
static void recover_own_leases(void)
{
	char prefix[sizeof D.owner];
	const char *colon = strrchr(D.owner, ':');
	snprintf(prefix, sizeof prefix, "%.*s:", (int)(colon - D.owner), D.owner);
	char **owners = NULL;
	size_t n = 0;
	if (hp_queue_lease_owners(D.q, prefix, &owners, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *p = owners[i] + strlen(prefix);
		char *end;
		long pid = strtol(p, &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		char comm[64] = "", path[64];
		snprintf(path, sizeof path, "/proc/%ld/comm", pid);
		FILE *f = fopen(path, "re");
		if (f) {
			if (!fgets(comm, sizeof comm, f))
				comm[0] = '\0';
			fclose(f);
		}
		if (strncmp(comm, "hopperd", 7) == 0)
			continue; /* alive: another hopperd on this node owns them */
		int r = hp_queue_release_owner(D.q, owners[i]);
		if (r > 0)
			hp_notice("took back %d job(s) of %s, a hopperd of this node that is gone", r, owners[i]);
	}
	hp_strv_free(owners);
}

/* ---- watcher -> queue ---------------------------------------------------- */

static void on_file(void *userdata, const hp_watch_config *w, const char *path, const struct stat *st)
{
	if (D.n_pending == D.cap_pending) {
		size_t cap = D.cap_pending ? D.cap_pending * 2 : 64;
		hp_file_ref *p = realloc(D.pending, cap * sizeof *p);
		if (!p) {
			hp_err("%s: out of memory queueing the file; it is found again at the next start", path);
			return;
		}
		D.pending = p;
		D.cap_pending = cap;
	}
	char *copy = strdup(path);
	if (!copy)
		return;
	D.pending[D.n_pending++] = (hp_file_ref){
		.watch = w->name,
		.path = copy,
		.size = st->st_size,
		.dev = st->st_dev,
		.ino = st->st_ino,
		.mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
		.priority = w->priority,
		.chunk_tokens = w->chunk_tokens,
	};
}

static void pending_clear(void)
{
	for (size_t i = 0; i < D.n_pending; i++)
		free((char *)D.pending[i].path);
	D.n_pending = 0;
}

static void flush_pending(void)
{
	if (D.n_pending == 0 || D.db_broken)
		return;
	size_t added = 0;
	int r = hp_queue_enqueue(D.q, D.pending, D.n_pending, &added);
	if (r < 0) {
		/* Keep them: they are enqueued again once the database is back. */
		db_check(r, "enqueue");
		return;
	}
	if (added)
		hp_info("queued %zu new file(s)", added);
	pending_clear();
	D.want_claim = true;
}

/* ---- dispatch ------------------------------------------------------------ */

static const char *read_error(int err, char *buf, size_t len)
{
	switch (err) {
	case -ENOENT:
		return "file vanished before it could be read (permanent)";
	case -EFBIG: {
		char sz[32];
		hp_format_size(D.cfg->max_file_size, sz, sizeof sz);
		snprintf(buf, len, "file is over the size limit of %s (permanent; raise [workers] max_file_size)", sz);
		return buf;
	}
	case -ELOOP:
		return "the path is or goes through a symbolic link; hopper does not follow links (permanent)";
	case -EISDIR:
	case -EINVAL:
		return "not a regular file (permanent)";
	case -EACCES:
	case -EPERM:
		return "permission denied reading the file (permanent)";
	default:
		snprintf(buf, len, "cannot read the file: %s", strerror(-err));
		return buf;
	}
}

static void job_fail(uint64_t job_id, const char *path, const char *why)
{
	hp_warn("%s: %s", path, why);
	int r = hp_queue_fail(D.q, (int64_t)job_id, why);
	db_check(r, "fail");
	if (r >= 0) {
		D.n_failed++;
		hp_dispose_job(hp_queue_conn(D.q), D.cfg, (int64_t)job_id, HP_DISPOSE_FAILURE);
	}
}

/* The file is no longer the version the job was queued for (written
 * again, replaced): queue what is there now — a no-op when the watcher
 * already did — and drop the stale job, so one content is converted once
 * and the job table shows one job per version that could be read. */
static void supersede(const hp_job *j, const hp_read_req *rq)
{
	const hp_watch_config *w = NULL;
	for (size_t i = 0; i < D.cfg->n_watches && !w; i++)
		if (strcmp(D.cfg->watches[i].name, j->watch) == 0)
			w = &D.cfg->watches[i];
	hp_file_ref now = {
		.watch = j->watch,
		.path = j->path,
		.size = (int64_t)rq->len,
		.dev = rq->dev,
		.ino = rq->ino,
		.mtime_ns = rq->mtime_ns,
		.priority = w ? w->priority : 0,
		.chunk_tokens = j->chunk_tokens,
	};
	hp_debug("%s: changed since job %lld was queued; the current version is queued instead", j->path,
	         (long long)j->id);
	int r = hp_queue_enqueue(D.q, &now, 1, NULL);
	if (r >= 0)
		r = hp_queue_forget(D.q, j->id);
	db_check(r, "supersede");
	D.want_claim = true;
}

static void dispatch(void)
{
	if (D.stopping || D.db_broken)
		return;
	int idle = hp_pool_idle(D.pool);
	if (idle <= 0 || D.n_flights >= MAX_INFLIGHT)
		return;
	hp_job *jobs = NULL;
	size_t n = 0;
	D.last_claim = hp_now_ms();
	int r = hp_queue_claim(D.q, (size_t)idle, D.lease_s, &jobs, &n);
	if (r < 0) {
		db_check(r, "claim");
		return;
	}
	D.want_claim = n == (size_t)idle; /* maybe more waiting */
	if (n == 0)
		return;

	hp_read_req *reqs = calloc(n, sizeof *reqs);
	if (!reqs) {
		for (size_t i = 0; i < n; i++)
			hp_queue_requeue(D.q, jobs[i].id);
		hp_jobs_free(jobs, n);
		return;
	}
	for (size_t i = 0; i < n; i++)
		reqs[i].path = jobs[i].path;
	r = hp_reader_read(D.reader, reqs, n);
	if (r < 0)
		hp_err("reader failed: %s; the jobs go back to the queue", strerror(-r));

	for (size_t i = 0; i < n; i++) {
		hp_job *j = &jobs[i];
		hp_read_req *rq = &reqs[i];
		char why[256];
		if (r < 0) {
			hp_queue_requeue(D.q, j->id);
			continue;
		}
		if (rq->err) {
			job_fail((uint64_t)j->id, j->path, read_error(rq->err, why, sizeof why));
			continue;
		}
		if ((int64_t)rq->len != j->size || rq->mtime_ns != j->mtime_ns || rq->ino != j->ino ||
		    rq->dev != j->dev) {
			supersede(j, rq);
			continue;
		}
		inflight f = { .job_id = (uint64_t)j->id, .attempts = j->attempts, .bytes = rq->len };
		if (hp_sha256_hex(rq->data, rq->len, f.sha256) < 0) {
			job_fail(f.job_id, j->path, "cannot hash the file");
			continue;
		}
		int64_t doc_id;
		int fr = hp_queue_find_document(D.q, f.sha256, &doc_id);
		if (fr == 0) {
			/* Same content seen before: link, do not convert again. */
			int lr = hp_queue_link(D.q, j->id, doc_id);
			db_check(lr, "link");
			if (lr >= 0) {
				D.n_done++;
				D.n_linked++;
				hp_info("%s: same content as document %lld, linked", j->path, (long long)doc_id);
				hp_dispose_job(hp_queue_conn(D.q), D.cfg, j->id, HP_DISPOSE_SUCCESS);
			}
			continue;
		}
		db_check(fr, "lookup");
		const char *base = strrchr(j->path, '/');
		hp_job_msg m = {
			.job_id = f.job_id,
			.name = base ? base + 1 : j->path,
			.data = rq->data,
			.len = rq->len,
			.chunk_tokens = (uint32_t)j->chunk_tokens,
			.chunk_overlap = (uint32_t)D.cfg->chunk_overlap,
			.chunk_min = (uint32_t)D.cfg->chunk_min_tokens,
			.have_chunk_min = true,
			.max_output = D.cfg->max_output,
			.pdf_max_pages = (uint32_t)D.cfg->pdf_max_pages,
			.pdf_page_ms = D.cfg->pdf_page_timeout_ms,
			.ocr_languages = D.cfg->ocr_languages,
			.zip_max_total = D.cfg->zip_max_total,
			.zip_max_ratio = (uint64_t)D.cfg->zip_max_ratio,
			.zip_max_entries = (uint64_t)D.cfg->zip_max_entries,
			.max_sheet_rows = (uint64_t)D.cfg->max_sheet_rows,
		};
		f.path = strdup(j->path);
		int sr = f.path ? hp_pool_submit(D.pool, &m) : -ENOMEM;
		if (sr == -EFBIG) {
			free(f.path);
			job_fail(f.job_id, j->path, "file is over the 1 GiB a worker accepts (permanent)");
			continue;
		}
		if (sr < 0) {
			free(f.path);
			db_check(hp_queue_requeue(D.q, j->id), "requeue");
			continue;
		}
		D.flights[D.n_flights++] = f;
		hp_debug("%s: job %lld sent to a worker (%zu bytes)", j->path, (long long)j->id, rq->len);
	}
	for (size_t i = 0; i < n; i++)
		free(reqs[i].data);
	free(reqs);
	hp_jobs_free(jobs, n);
}

static void pool_result(void *userdata, uint64_t job_id, hp_pool_outcome o, hp_result *res,
                        const char *reason)
{
	inflight *f = flight_find(job_id);
	if (!f) {
		hp_warn("result for job %llu that is not in flight; ignored", (unsigned long long)job_id);
		return;
	}
	int r;
	switch (o) {
	case HP_POOL_DONE:
		r = hp_queue_complete(D.q, (int64_t)job_id, f->sha256, f->bytes, &res->doc, res->chunks,
		                      res->n_chunks);
		if (r == -ESTALE)
			hp_warn("%s: lease lost before the result was stored; another daemon has the job", f->path);
		else if (r < 0)
			db_check(r, "complete");
		else {
			D.n_done++;
			hp_info("%s: done (%s, %zu chunks)", f->path, hp_format_name(res->doc.format), res->n_chunks);
			hp_mirror_notify(D.mirror, &(int64_t){ (int64_t)job_id }, 1);
			hp_dispose_job(hp_queue_conn(D.q), D.cfg, (int64_t)job_id, HP_DISPOSE_SUCCESS);
		}
		break;
	case HP_POOL_ERROR: {
		const char *msg = res->error && *res->error ? res->error : strerror(res->status);
		job_fail(job_id, f->path, msg);
		break;
	}
	case HP_POOL_LOST:
		/* Not the file's fault, but bounded all the same: a job that
		 * keeps losing its worker must not loop for ever. */
		if (f->attempts >= D.cfg->max_attempts) {
			char why[256];
			snprintf(why, sizeof why, "%s, %d times in a row", reason ? reason : "worker died",
			         f->attempts);
			job_fail(job_id, f->path, why);
			break;
		}
		hp_info("%s: %s before the job reached it; the job goes back to the queue", f->path,
		        reason ? reason : "worker died");
		db_check(hp_queue_requeue(D.q, (int64_t)job_id), "requeue");
		break;
	case HP_POOL_CRASHED:
		if (D.stopping) {
			hp_queue_requeue(D.q, (int64_t)job_id);
			break;
		}
		job_fail(job_id, f->path, reason ? reason : "worker died");
		break;
	}
	flight_drop(f);
	D.want_claim = true;
}

/* ---- status -------------------------------------------------------------- */

static void notify_status(void)
{
	int64_t backlog = -1;
	if (!D.db_broken && hp_queue_backlog(D.q, &backlog) < 0)
		backlog = -1;
	hp_pool_set_backlog(D.pool, backlog);
	char pool[192];
	hp_pool_describe(D.pool, pool, sizeof pool);
	char bl[32];
	if (backlog >= 0)
		snprintf(bl, sizeof bl, "%lld", (long long)backlog);
	else
		snprintf(bl, sizeof bl, "?");
	char emb[160] = "";
	if (D.embed) {
		emb[0] = ';';
		emb[1] = ' ';
		hp_embed_status(D.embed, emb + 2, sizeof emb - 2);
	}
	sd_notifyf(0, "STATUS=%s %s, %d busy, backlog %s, done %llu (%llu same content), failed %llu%s%s",
	           D.stopping ? "stopping:" : "running:", pool, hp_pool_busy(D.pool), bl,
	           (unsigned long long)D.n_done, (unsigned long long)D.n_linked,
	           (unsigned long long)D.n_failed, D.db_broken ? ", database unreachable" : "", emb);
}

/* ---- signals ------------------------------------------------------------- */

static void begin_stop(const char *why)
{
	if (D.stopping)
		return;
	hp_notice("%s: stopping (in-flight jobs get %d s to finish)", why, DRAIN_MS / 1000);
	sd_notify(0, "STOPPING=1");
	D.stopping = true;
	D.stop_deadline = hp_now_ms() + DRAIN_MS;
	notify_status();
}

static void reload(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	           (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	hp_config *ncfg = NULL;
	int r = hp_config_load(D.cfg_path, HP_CONFIG_NEED_WATCH | HP_CONFIG_CHECK_PATHS, stderr, &ncfg);
	if (r < 0) {
		hp_err("reload: the configuration has errors (above); keeping the running one");
		goto out;
	}
	hp_watcher *nw = NULL;
	r = hp_watcher_new(ncfg, D.epfd, on_file, NULL, &nw);
	if (r < 0) {
		hp_err("reload: cannot watch the new folders: %s; keeping the running configuration", strerror(-r));
		hp_config_free(ncfg);
		goto out;
	}
	const char *changed[16];
	size_t nc = hp_config_restart_changes(D.cfg, ncfg, changed, HP_ARRAY_SIZE(changed));
	for (size_t i = 0; i < nc; i++)
		hp_warn("reload: '%s' changed; it takes effect at the next restart", changed[i]);
	if (ncfg->max_file_size != D.cfg->max_file_size) {
		hp_reader *nr = NULL;
		if (hp_reader_new(64, ncfg->max_file_size, hp_reader_uring(D.reader) ? 0 : HP_READER_NO_URING,
		                  &nr) == 0) {
			hp_reader_free(D.reader);
			D.reader = nr;
		} else {
			hp_warn("reload: cannot apply the new max_file_size; it takes effect at the next restart");
		}
	}
	/* Files queued from the old config borrow watch names from it. */
	flush_pending();
	pending_clear();
	hp_watcher_free(D.watcher);
	D.watcher = nw;
	hp_config_free(D.cfg);
	D.cfg = ncfg;
	hp_log_level = D.cfg->log_level;
	hp_mirror_reload(&D.mirror, D.cfg, D.conninfo);
	hp_pool_config pc;
	hp_pool_config_fill(&pc, D.cfg, D.exe);
	hp_pool_reconfigure(D.pool, &pc);
	hp_watcher_scan(D.watcher);
	hp_notice("reloaded %s: %zu watch(es), %d folder(s) watched", D.cfg_path ? D.cfg_path : HP_CONFIG_DEFAULT_PATH,
	          D.cfg->n_watches, hp_watcher_count(D.watcher));
out:
	sd_notify(0, "READY=1");
	notify_status();
}

static void reap_children(void)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			break;
		if (D.pg && pid == hp_pgembed_pid(D.pg)) {
			hp_pgembed_reaped(D.pg, st);
			hp_err("the embedded PostgreSQL server exited (%s %d); stopping",
			       WIFSIGNALED(st) ? "signal" : "status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			D.exit_code = 1;
			D.db_broken = true;
			db_unregister();
			begin_stop("database server gone");
			D.stop_deadline = hp_now_ms(); /* nothing can be stored now */
		} else if (hp_pool_owns_pid(D.pool, pid)) {
			hp_pool_reaped(D.pool, pid, st);
		}
	}
}

static void sig_on_event(hp_evsrc *src, uint32_t events)
{
	struct signalfd_siginfo si;
	while (read(src->fd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			begin_stop(hp_signal_name((int)si.ssi_signo));
			break;
		/* Reload and reaping free and replace event sources: they run
		 * after the batch, so no later event of this batch reaches a
		 * freed watcher or a worker slot that was reused. */
		case SIGHUP:
			D.want_reload = true;
			break;
		case SIGCHLD:
			D.want_reap = true;
			break;
		}
	}
}

/* ---- main loop ----------------------------------------------------------- */

static void tick(uint64_t now)
{
	if (hp_pool_tick(D.pool, now) > 0)
		D.want_claim = true; /* new workers to feed */
	db_try_reconnect(now);
	if (now - D.last_claim >= CLAIM_POLL_MS)
		D.want_claim = true;
	static uint64_t last_renew;
	if (!D.db_broken && D.n_flights > 0 && now - last_renew >= 30000) {
		last_renew = now;
		int64_t ids[MAX_INFLIGHT];
		for (size_t i = 0; i < D.n_flights; i++)
			ids[i] = (int64_t)D.flights[i].job_id;
		db_check(hp_queue_renew(D.q, D.lease_s, ids, D.n_flights), "renew");
	}
	notify_status();
}

static int run_loop(void)
{
	uint64_t next_tick = hp_now_ms() + TICK_MS;
	for (;;) {
		uint64_t now = hp_now_ms();
		if (D.stopping && (D.n_flights == 0 || now >= D.stop_deadline))
			break;
		int timeout = next_tick > now ? (int)(next_tick - now) : 0;
		struct epoll_event evs[32];
		int n = epoll_wait(D.epfd, evs, (int)HP_ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR) {
			hp_err("epoll_wait: %m");
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			hp_evsrc *src = evs[i].data.ptr;
			src->handler(src, evs[i].events);
		}
		if (D.want_reap) {
			D.want_reap = false;
			reap_children();
		}
		if (D.want_reload) {
			D.want_reload = false;
			reload();
		}
		now = hp_now_ms();
		if (now >= next_tick) {
			tick(now);
			next_tick = now + TICK_MS;
		}
		flush_pending();
		if (D.want_claim)
			dispatch();
		/* libpq buffers notifications that arrive during any query; they
		 * would not wake epoll again, so look at them after each turn. */
		if (!D.db_broken && hp_queue_drain_notify(D.q) > 0)
			D.want_claim = true;
	}
	return 0;
}

static void embed_on_event(hp_evsrc *src, uint32_t events)
{
	hp_embed_run(D.embed);
}

/* [embed] url set: the embedder runs beside the queue, on its own
 * connection, driven by its one fd. Leases are the node's, so the next
 * start of this node takes back what this one had claimed. */
static int embed_start(void)
{
	if (!D.cfg->embed_url)
		return 0;
	char node[256];
	snprintf(node, sizeof node, "%.*s", (int)strcspn(D.owner, ":"), D.owner);
	int r = hp_embed_new(D.cfg, D.conninfo, node, &D.embed);
	if (r < 0)
		return r;
	D.embed_src.fd = hp_embed_fd(D.embed);
	D.embed_src.handler = embed_on_event;
	return hp_evsrc_add(D.epfd, &D.embed_src, EPOLLIN);
}

static void shutdown_all(void)
{
	hp_embed_free(D.embed);
	D.embed = NULL;
	if (D.pool) {
		hp_pool_free(D.pool, 2000);
		D.pool = NULL;
	}
	if (D.q && !D.db_broken) {
		for (size_t i = 0; i < D.n_flights; i++)
			hp_queue_requeue(D.q, (int64_t)D.flights[i].job_id);
		hp_queue_release_all(D.q);
	}
	hp_mirror_free(D.mirror);   /* writes what was committed, before the database stops */
	D.mirror = NULL;
	while (D.n_flights)
		flight_drop(&D.flights[0]);
	pending_clear();
	free(D.pending);
	hp_watcher_free(D.watcher);
	hp_reader_free(D.reader);
	if (D.q)
		hp_queue_close(D.q);
	hp_pgembed_stop(D.pg);
	free(D.conninfo);
	hp_config_free(D.cfg);
	if (D.epfd >= 0)
		close(D.epfd);
	if (D.sig.fd >= 0)
		close(D.sig.fd);
}

static int daemon_main(void)
{
	int r;
	D.epfd = -1;
	D.sig.fd = -1;
	r = hp_config_load(D.cfg_path, HP_CONFIG_NEED_WATCH | HP_CONFIG_CHECK_PATHS, stderr, &D.cfg);
	if (r < 0) {
		hp_err("not starting: fix the configuration (errors above)");
		return 1;
	}
	hp_log_level = D.cfg->log_level;
	/* A lease outlives the longest conversion; renewed every 30 s. */
	D.lease_s = (int)(D.cfg->job_timeout_ms / 1000) * 2 + 30;
	if (getenv("HOPPER_DEBUG"))
		hp_log_level = HP_LOG_DEBUG;

	ssize_t el = readlink("/proc/self/exe", D.exe, sizeof D.exe - 1);
	if (el < 0) {
		hp_err("cannot find my own binary (/proc/self/exe): %m");
		return 1;
	}
	D.exe[el] = '\0';
	char host[128] = "localhost";
	gethostname(host, sizeof host - 1);
	snprintf(D.owner, sizeof D.owner, "%s:%d", D.cfg->node && *D.cfg->node ? D.cfg->node : host, (int)getpid());

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	D.sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	D.sig.handler = sig_on_event;
	D.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (D.sig.fd < 0 || D.epfd < 0 || hp_evsrc_add(D.epfd, &D.sig, EPOLLIN) < 0) {
		hp_err("cannot set up the event loop: %m");
		goto fail;
	}

	if (strcmp(D.cfg->database, "local") == 0) {
		sd_notify(0, "STATUS=starting the embedded PostgreSQL");
		r = hp_pgembed_start(D.cfg->state_dir, &D.pg);
		if (r < 0)
			goto fail;
	}
	D.conninfo = hp_db_conninfo(D.cfg);
	if (!D.conninfo)
		goto fail;
	sd_notify(0, "STATUS=connecting to the database and migrating the schema");
	r = hp_queue_open(D.conninfo, D.owner, &D.q);
	if (r < 0)
		goto fail;
	if (hp_search_set_config(hp_queue_conn(D.q), D.cfg->search_config) < 0)
		goto fail;
	if (hp_mirror_start(D.cfg, D.conninfo, &D.mirror) < 0)
		goto fail;
	db_register();
	recover_own_leases();
	hp_dispose_pending(hp_queue_conn(D.q), D.cfg); /* a crash between commit and move */

	r = hp_reader_new(64, D.cfg->max_file_size, getenv("HOPPER_NO_URING") ? HP_READER_NO_URING : 0, &D.reader);
	if (r < 0) {
		hp_err("cannot set up the file reader: %s", strerror(-r));
		goto fail;
	}
	hp_pool_config pc;
	hp_pool_config_fill(&pc, D.cfg, D.exe);
	r = hp_pool_new(&pc, D.epfd, pool_result, NULL, &D.pool);
	if (r < 0) {
		hp_err("cannot start the worker processes: %s", strerror(-r));
		goto fail;
	}
	r = hp_watcher_new(D.cfg, D.epfd, on_file, NULL, &D.watcher);
	if (r < 0)
		goto fail;
	r = embed_start();
	if (r < 0) {
		hp_err("cannot start the embedder: %s", strerror(-r));
		goto fail;
	}
	r = hp_watcher_scan(D.watcher);
	if (r >= 0)
		hp_info("start-up scan found %d file(s)", r);
	flush_pending();

	hp_notice("hopperd %s ready: %zu watch(es), %d folder(s) watched, %d worker(s), reader %s, database %s",
	          HP_VERSION, D.cfg->n_watches, hp_watcher_count(D.watcher), D.cfg->workers_min,
	          hp_reader_uring(D.reader) ? "io_uring" : "read()", D.pg ? "embedded" : "external");
	sd_notify(0, "READY=1");
	notify_status();
	D.want_claim = true;
	r = run_loop();
	if (r < 0)
		D.exit_code = 1;
	shutdown_all();
	hp_notice("stopped");
	return D.exit_code;

fail:
	shutdown_all();
	hp_err("hopperd did not start");
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: hopperd [-c FILE] [--check-config]\n"
	        "\n"
	        "Watches drop folders and converts every file dropped there into Markdown\n"
	        "and chunks in PostgreSQL (schema \"hopper\").\n"
	        "\n"
	        "  -c, --config FILE   configuration file (default %s)\n"
	        "      --check-config  validate the configuration, print the effective\n"
	        "                      settings and exit (1 when there are errors)\n"
	        "  -h, --help          this text\n"
	        "      --version       print the version\n"
	        "\n"
	        "Signals: SIGTERM/SIGINT stop (in-flight jobs finish or go back to the queue),\n"
	        "SIGHUP re-reads the configuration (systemctl reload hopperd).\n"
	        "Environment: HOPPER_DEBUG=1 debug logging, HOPPER_NO_URING=1 read files\n"
	        "with read() instead of io_uring.\n",
	        HP_CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--worker") == 0)
		return hp_pool_exec_worker(argc, argv);
	enum { OPT_CHECK = 256, OPT_VERSION };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	bool check = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			D.cfg_path = optarg;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("hopperd %s\n", HP_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hopperd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (check) {
		hp_config *cfg = NULL;
		if (hp_config_load(D.cfg_path, HP_CONFIG_NEED_WATCH | HP_CONFIG_CHECK_PATHS, stderr, &cfg) < 0)
			return 1;
		hp_config_print(cfg, stdout);
		hp_config_free(cfg);
		return 0;
	}
	return daemon_main();
}
