/* jobs.c — the job lifecycle of the supervisor, see supervisor.h
 *
 * found -> pending -> enqueue (one statement per turn)
 * claim (a prefetch batch sized from the pool) -> check the path under the
 * watch's canonical root -> read (reader.c) -> hash -> one dedupe query per
 * batch -> link to stored content, or hand to a worker
 * worker outcome -> classified (DESIGN §3):
 *   converted                  -> the done batch (stored HP_BATCH_JOBS at a
 *                                 time or after HP_BATCH_MS, one statement)
 *   worker says out of memory  -> retry (transient)
 *   other worker errors        -> failed (permanent: format, encrypted, size)
 *   worker crashed / timed out -> retry, the reason names the signal/limit
 *   worker lost before the job -> back to the queue (bounded by max_attempts)
 * read outcome:
 *   deleted before it was read -> forgotten (not failed)
 *   changed while it was read  -> retry
 *   other version now          -> the current version is queued instead
 *   link, too big, not regular -> failed (permanent)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hopper/dispose.h"
#include "supervisor.h"

/* ---- bookkeeping of jobs handed to workers -------------------------------- */

static hp_flight *flight_find(hp_daemon *d, uint64_t job_id)
{
	for (size_t i = 0; i < d->n_flights; i++)
		if (d->flights[i].job_id == job_id)
			return &d->flights[i];
	return NULL;
}

static void flight_drop(hp_daemon *d, hp_flight *f)
{
	free(f->path);
	*f = d->flights[--d->n_flights];
}

static int watch_index(const hp_daemon *d, const char *name)
{
	for (size_t i = 0; i < d->cfg->n_watches; i++)
		if (strcmp(d->cfg->watches[i].name, name) == 0)
			return (int)i;
	return -1;
}

int hp_jobs_set_watches(hp_daemon *d)
{
	for (size_t i = 0; i < d->n_roots; i++)
		free(d->roots[i]);
	free(d->roots);
	d->n_roots = 0;
	size_t n = d->cfg->n_watches;
	d->roots = calloc(n ? n : 1, sizeof *d->roots);
	const char **names = calloc(n ? n : 1, sizeof *names);
	if (!d->roots || !names) {
		free(names);
		return -ENOMEM;
	}
	d->n_roots = n;
	for (size_t i = 0; i < n; i++) {
		names[i] = d->cfg->watches[i].name;
		/* The watcher reports paths from the same realpath. */
		d->roots[i] = realpath(d->cfg->watches[i].path, NULL);
	}
	int r = hp_queue_set_watches(d->q, names, (const char *const *)d->roots, n);
	free(names);
	return r;
}

/* ---- watcher -> queue ---------------------------------------------------- */

void hp_jobs_on_file(void *userdata, const hp_watch_config *w, const char *path, const struct stat *st)
{
	hp_daemon *d = userdata;
	int wi = watch_index(d, w->name);
	const char *root = wi >= 0 && (size_t)wi < d->n_roots ? d->roots[wi] : NULL;
	size_t rl = root ? strlen(root) : 0;
	if (!root || strncmp(path, root, rl) != 0 || path[rl] != '/' || !path[rl + 1]) {
		hp_warn("%s: not under the folder of watch '%s'; skipped", path, w->name);
		return;
	}
	int64_t mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	if (d->known && hp_known_has(d->known[wi], path + rl + 1, st->st_ino, st->st_size, mtime_ns))
		return; /* a catch-up scan: this version is queued or done already */
	if (d->n_pending >= HP_PENDING_MAX) {
		/* The catch-up scan after reconnect finds it. */
		d->rescan_on_reconnect = true;
		return;
	}
	if (d->n_pending == d->cap_pending) {
		size_t cap = d->cap_pending ? d->cap_pending * 2 : 64;
		hp_file_ref *p = realloc(d->pending, cap * sizeof *p);
		if (!p) {
			hp_err("%s: out of memory queueing the file; it is found again at the next start", path);
			return;
		}
		d->pending = p;
		d->cap_pending = cap;
	}
	char *copy = strdup(path);
	if (!copy)
		return;
	d->pending[d->n_pending++] = (hp_file_ref){
		.watch = w->name,
		.path = copy,
		.rel = copy + rl + 1,
		.size = st->st_size,
		.dev = st->st_dev,
		.ino = st->st_ino,
		.mtime_ns = mtime_ns,
		.priority = w->priority,
		.chunk_tokens = w->chunk_tokens,
	};
}

int hp_jobs_scan(hp_daemon *d)
{
	uint64_t t0 = hp_now_ms();
	size_t n = d->cfg->n_watches, known = 0;
	d->known = calloc(n ? n : 1, sizeof *d->known);
	for (size_t i = 0; d->known && i < n && !d->db_broken; i++) {
		int r = hp_queue_known_load(d->q, d->cfg->watches[i].name, &d->known[i]);
		if (!hp_dbconn_ok(d, r))
			break;
		if (r < 0)
			hp_warn("watch '%s': cannot list its known versions (%s); the scan sends every file to the queue",
			        d->cfg->watches[i].name, hp_queue_last_error(d->q));
		known += hp_known_count(d->known[i]);
	}
	uint64_t t1 = hp_now_ms();
	size_t before = d->n_pending;
	int r = hp_watcher_scan(d->watcher);
	size_t fresh = d->n_pending - before;
	uint64_t t2 = hp_now_ms();
	hp_jobs_flush_pending(d);
	for (size_t i = 0; d->known && i < n; i++)
		hp_known_free(d->known[i]);
	free(d->known);
	d->known = NULL;
	if (r >= 0)
		hp_info("catch-up: %d file(s) found, %zu new, in %llu ms (%zu known versions listed in %llu ms,"
		        " scan %llu ms, queueing %llu ms)", r, fresh, (unsigned long long)(hp_now_ms() - t0), known,
		        (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1),
		        (unsigned long long)(hp_now_ms() - t2));
	return r;
}

void hp_jobs_pending_clear(hp_daemon *d)
{
	for (size_t i = 0; i < d->n_pending; i++)
		free((char *)d->pending[i].path);
	d->n_pending = 0;
}

void hp_jobs_flush_pending(hp_daemon *d)
{
	if (d->n_pending == 0 || d->db_broken || d->stopping)
		return;
	size_t added = 0;
	int r = hp_queue_enqueue(d->q, d->pending, d->n_pending, &added);
	if (!hp_dbconn_ok(d, r))
		return; /* kept: enqueued once the database is back */
	if (r < 0) {
		hp_warn("cannot queue %zu file(s) now: %s; trying again", d->n_pending,
		        hp_queue_last_error(d->q));
		return;
	}
	if (added)
		hp_info("queued %zu new file(s)", added);
	d->n_queued += added;
	hp_jobs_pending_clear(d);
	d->want_claim = true;
}

/* ---- failures -------------------------------------------------------------- */

static void job_fail(hp_daemon *d, uint64_t job_id, const char *path, const char *why)
{
	int r = hp_queue_fail(d->q, (int64_t)job_id, why);
	if (!hp_dbconn_ok(d, r) || r < 0)
		return; /* the lease runs out and the job is tried again */
	hp_warn("%s: %s", path, why);
	d->n_failed++;
	hp_dispose_job(hp_queue_conn(d->q), d->cfg, (int64_t)job_id, HP_DISPOSE_FAILURE);
}

/* An attempt failed for a reason that may pass: retry later, or failed
 * when it was the last attempt. */
static void job_retry(hp_daemon *d, uint64_t job_id, const char *path, const char *why)
{
	int r = hp_queue_retry(d->q, (int64_t)job_id, why);
	if (!hp_dbconn_ok(d, r) || r < 0)
		return;
	if (r == 1) {
		hp_warn("%s: %s; failed after %d attempts", path, why, d->cfg->max_attempts);
		d->n_failed++;
		hp_dispose_job(hp_queue_conn(d->q), d->cfg, (int64_t)job_id, HP_DISPOSE_FAILURE);
	} else {
		hp_info("%s: %s; tried again later", path, why);
		d->n_retried++;
	}
}

static const char *read_error(const hp_daemon *d, int err, char *buf, size_t len)
{
	switch (err) {
	case -EFBIG: {
		char sz[32];
		hp_format_size(d->cfg->max_file_size, sz, sizeof sz);
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
		snprintf(buf, len, "cannot read the file: %s (permanent)", strerror(-err));
		return buf;
	}
}

/* The file is no longer the version the job was queued for (written
 * again, replaced): queue what is there now — a no-op when the watcher
 * already did — and drop the stale job, so one content is converted once
 * and the job table shows one job per version that could be read. */
static void supersede(hp_daemon *d, const hp_job *j, const char *abs, const hp_read_req *rq)
{
	int wi = watch_index(d, j->watch);
	hp_file_ref now = {
		.watch = j->watch,
		.path = abs,
		.rel = j->rel,
		.size = (int64_t)rq->len,
		.dev = rq->dev,
		.ino = rq->ino,
		.mtime_ns = rq->mtime_ns,
		.priority = wi >= 0 ? d->cfg->watches[wi].priority : 0,
		.chunk_tokens = j->chunk_tokens,
	};
	hp_debug("%s: changed since job %lld was queued; the current version is queued instead", j->path,
	         (long long)j->id);
	int r = hp_queue_enqueue(d->q, &now, 1, NULL);
	if (r >= 0)
		r = hp_queue_forget(d->q, j->id);
	hp_dbconn_ok(d, r);
	d->want_claim = true;
}

/* ---- the path of a claimed job --------------------------------------------- */

/* A relative path hopper could have written: not empty, not absolute, no
 * empty, "." or ".." component. Anything else is a row made by someone
 * else, and is data, never an instruction to read a file (DESIGN §3). */
static bool rel_ok(const char *rel)
{
	if (!rel || !*rel || *rel == '/')
		return false;
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
		else
			break;
	}
	return rel[strlen(rel) - 1] != '/';
}

/* The absolute path to read for j, or NULL when the job is refused (then
 * *why says so) or its watch is not ours any more (*why NULL). */
static char *job_abs_path(hp_daemon *d, const hp_job *j, const char **why)
{
	*why = NULL;
	int wi = watch_index(d, j->watch);
	if (wi < 0 || (size_t)wi >= d->n_roots)
		return NULL;
	if (!rel_ok(j->rel)) {
		*why = "refused: the job's path is not a plain path inside its watch's folder"
		       " (a row hopper did not write); not read (permanent)";
		return NULL;
	}
	if (!d->roots[wi]) {
		*why = NULL;
		return NULL;
	}
	char *abs = NULL;
	if (asprintf(&abs, "%s/%s", d->roots[wi], j->rel) < 0)
		return NULL;
	return abs;
}

/* ---- dispatch ------------------------------------------------------------ */

static void ready_free(hp_daemon *d)
{
	hp_jobs_free(d->ready, d->n_ready);
	d->ready = NULL;
	d->n_ready = d->i_ready = 0;
}

/* Claim a prefetch batch, so a worker that finishes finds its next job in
 * memory, not behind a round trip. Only the job rows are held ahead; files
 * are read when dispatched. The batch starts at two per live worker and
 * doubles while claims come back full, up to HP_PREFETCH (slow start): a
 * long backlog is claimed in large batches, while a short one is shared
 * with the other daemons on the database instead of being taken whole by
 * the first to ask. */
static bool refill(hp_daemon *d)
{
	if (d->i_ready < d->n_ready)
		return true;
	ready_free(d);
	if (d->n_dones + d->n_flushing >= HP_DONES_MAX)
		return false; /* storing is behind: flushed() asks again */
	int alive = hp_pool_alive(d->pool);
	size_t low = (size_t)(alive > 0 ? alive : 1) * 2;
	if (d->claim_size < low)
		d->claim_size = low;
	size_t want = d->claim_size < HP_PREFETCH ? d->claim_size : HP_PREFETCH;
	if (want > HP_MAX_INFLIGHT - d->n_flights)
		want = HP_MAX_INFLIGHT - d->n_flights;
	if (want == 0)
		return false;
	hp_job *jobs = NULL;
	size_t n = 0;
	d->last_claim = hp_now_ms();
	int r = hp_queue_claim(d->q, want, d->lease_s, &jobs, &n);
	if (!hp_dbconn_ok(d, r))
		return false;
	if (r < 0) {
		hp_warn("cannot claim jobs now: %s", hp_queue_last_error(d->q));
		return false;
	}
	d->ready = jobs;
	d->n_ready = n;
	d->want_claim = n == want; /* maybe more waiting */
	d->claim_size = n == want ? want * 2 : low;
	return n > 0;
}

static int add_done(hp_daemon *d, const hp_flight *f, uint64_t job_id, const char *path,
                    size_t bytes, const char *sha, hp_result *res);


/* Read the batch, sort out what cannot be converted, hash the rest. */
static void read_batch(hp_daemon *d, batch_item *it, size_t n)
{
	hp_read_req *reqs = calloc(n, sizeof *reqs);
	size_t m = 0;
	for (size_t i = 0; reqs && i < n; i++)
		if (it[i].abs)
			reqs[m++].path = it[i].abs;
	int r = reqs ? hp_reader_read(d->reader, reqs, m) : -ENOMEM;
	if (r < 0)
		hp_err("reader failed: %s; the jobs go back to the queue", strerror(-r));
	for (size_t i = 0, k = 0; i < n; i++) {
		if (!it[i].abs)
			continue;
		hp_job *j = it[i].j;
		if (r < 0) {
			hp_dbconn_ok(d, hp_queue_requeue(d->q, j->id));
			continue;
		}
		it[i].rq = reqs[k++];
		hp_read_req *rq = &it[i].rq;
		char why[256];
		if (rq->err == -ENOENT) {
			hp_debug("%s: deleted before it was read; forgotten", j->path);
			hp_dbconn_ok(d, hp_queue_forget(d->q, j->id));
		} else if (rq->err == -EIO) {
			job_retry(d, (uint64_t)j->id, j->path, "the file changed while it was read");
		} else if (rq->err) {
			job_fail(d, (uint64_t)j->id, j->path, read_error(d, rq->err, why, sizeof why));
		} else if ((int64_t)rq->len != j->size || rq->mtime_ns != j->mtime_ns || rq->ino != j->ino) {
			supersede(d, j, it[i].abs, rq);
		} else if (hp_sha256_hex(rq->data, rq->len, it[i].sha) < 0) {
			job_fail(d, (uint64_t)j->id, j->path, "cannot hash the file");
		} else {
			it[i].live = true;
		}
	}
	free(reqs);
}

static void submit(hp_daemon *d, batch_item *it)
{
	hp_job *j = it->j;
	const char *base = strrchr(j->path, '/');
	hp_job_msg m = {
		.job_id = (uint64_t)j->id,
		.name = base ? base + 1 : j->path,
		.data = it->rq.data,
		.len = it->rq.len,
		.chunk_tokens = (uint32_t)j->chunk_tokens,
		.chunk_overlap = (uint32_t)d->cfg->chunk_overlap,
		.chunk_min = (uint32_t)d->cfg->chunk_min_tokens,
		.have_chunk_min = true,
		.max_output = d->cfg->max_output,
		.zip_max_total = d->cfg->zip_max_total,
		.zip_max_ratio = (uint64_t)d->cfg->zip_max_ratio,
		.zip_max_entries = (uint64_t)d->cfg->zip_max_entries,
		.max_sheet_rows = (uint64_t)d->cfg->max_sheet_rows,
		.ocr_languages = d->cfg->ocr_languages,
		.pdf_max_pages = (uint32_t)d->cfg->pdf_max_pages,
		.pdf_page_ms = d->cfg->pdf_page_timeout_ms,
		.ocr_max_pages = (uint64_t)d->cfg->ocr_max_pages,
		.ocr_dpi = (uint64_t)d->cfg->ocr_dpi,
		/* OCR stops with a note before the job's time-out kills it all */
		.ocr_time_ms = d->cfg->ocr_time_budget_ms < d->cfg->job_timeout_ms * 3 / 4 ? d->cfg->ocr_time_budget_ms
		                                                                   : d->cfg->job_timeout_ms * 3 / 4,
	};
	hp_flight f = { .job_id = (uint64_t)j->id, .attempts = j->attempts, .bytes = it->rq.len };
	memcpy(f.sha256, it->sha, sizeof f.sha256);
	f.path = strdup(j->path);
	int sr = f.path ? hp_pool_submit(d->pool, &m) : -ENOMEM;
	if (sr == -EFBIG) {
		free(f.path);
		job_fail(d, f.job_id, j->path, "file is over the 1 GiB a worker accepts (permanent)");
		return;
	}
	if (sr < 0) {
		free(f.path);
		hp_dbconn_ok(d, hp_queue_requeue(d->q, j->id));
		return;
	}
	d->flights[d->n_flights++] = f;
	hp_debug("%s: job %lld sent to a worker (%zu bytes)", j->path, (long long)j->id, it->rq.len);
}

/* Load the next jobs of the prefetch, up to HP_READAHEAD_BYTES of file
 * (at least one job): check their paths, read them in one batch, hash, and
 * look their contents up in one query. Same content as a stored document:
 * linked (the done batch). The rest wait in d->loaded for a worker. */
static void load_some(hp_daemon *d)
{
	size_t n = 0;
	uint64_t bytes = 0;
	while (d->i_ready + n < d->n_ready && n < HP_PREFETCH) {
		int64_t sz = d->ready[d->i_ready + n].size;
		if (n > 0 && bytes + (uint64_t)(sz > 0 ? sz : 0) > HP_READAHEAD_BYTES)
			break;
		bytes += (uint64_t)(sz > 0 ? sz : 0);
		n++;
	}
	if (n == 0)
		return;
	batch_item *it = calloc(n, sizeof *it);
	const char **shas = calloc(n, sizeof *shas);
	int64_t *ids = calloc(n, sizeof *ids);
	if (!it || !shas || !ids) {
		free(it);
		free(shas);
		free(ids);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		hp_job *j = &d->ready[d->i_ready++];
		const char *why;
		it[i].j = j;
		it[i].abs = job_abs_path(d, j, &why);
		if (it[i].abs)
			continue;
		if (why) {
			hp_warn("job %lld (%s, watch '%s'): %s", (long long)j->id, j->path, j->watch, why);
			int r = hp_queue_fail(d->q, j->id, why);
			if (hp_dbconn_ok(d, r) && r == 0)
				d->n_failed++;
		} else {
			/* Its watch went away with a reload: someone else's now. */
			hp_dbconn_ok(d, hp_queue_requeue(d->q, j->id));
		}
	}
	read_batch(d, it, n);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (it[i].live)
			shas[m++] = it[i].sha;
	/* One dedupe query for the batch. On failure convert them all: the
	 * completion reuses a stored document of the same content anyway. */
	if (m && hp_queue_find_documents(d->q, shas, m, ids) < 0)
		memset(ids, 0, m * sizeof *ids);
	size_t k = 0, keep = 0;
	for (size_t i = 0; i < n; i++) {
		batch_item *b = &it[i];
		if (!b->live)
			goto drop;
		if (ids[k++] > 0) {
			hp_result none = { 0 };
			add_done(d, NULL, (uint64_t)b->j->id, b->j->path, b->rq.len, b->sha, &none);
			goto drop;
		}
		it[keep++] = *b; /* waits for a worker, data and all */
		continue;
drop:
		free(b->abs);
		free(b->rq.data);
	}
	free(shas);
	free(ids);
	free(d->loaded);
	d->loaded = it;
	d->n_loaded = keep;
	d->i_loaded = 0;
}

static void loaded_free(hp_daemon *d)
{
	for (size_t i = d->i_loaded; i < d->n_loaded; i++) {
		free(d->loaded[i].abs);
		free(d->loaded[i].rq.data);
	}
	free(d->loaded);
	d->loaded = NULL;
	d->n_loaded = d->i_loaded = 0;
}

void hp_jobs_dispatch(hp_daemon *d)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		if (d->stopping || d->db_broken)
			return;
		if (hp_pool_idle(d->pool) <= 0 || d->n_flights >= HP_MAX_INFLIGHT)
			return;
		if (d->i_loaded < d->n_loaded) {
			batch_item *b = &d->loaded[d->i_loaded++];
			submit(d, b);
			free(b->abs);
			free(b->rq.data);
			b->abs = NULL;
			b->rq.data = NULL;
			continue;
		}
		if (d->i_ready >= d->n_ready) {
			if (!d->want_claim && rounds > 0)
				return;
			loaded_free(d); /* loaded items point into d->ready */
			if (!refill(d))
				return;
		}
		load_some(d);
		hp_sv_poll_signals(d);
	}
}

/* ---- results ------------------------------------------------------------- */

static int add_done(hp_daemon *d, const hp_flight *f, uint64_t job_id, const char *path,
                    size_t bytes, const char *sha, hp_result *res)
{
	if (d->n_dones == d->cap_dones) {
		size_t cap = d->cap_dones ? d->cap_dones * 2 : 64;
		hp_done *p = realloc(d->dones, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		d->dones = p;
		d->cap_dones = cap;
	}
	hp_done *x = &d->dones[d->n_dones];
	*x = (hp_done){ .job_id = job_id, .bytes = bytes, .has_doc = f != NULL };
	x->path = strdup(path);
	if (!x->path)
		return -ENOMEM;
	memcpy(x->sha256, sha, sizeof x->sha256);
	/* Steal the result; the pool clears what is left (nothing). */
	x->res = *res;
	memset(res, 0, sizeof *res);
	if (d->n_dones++ == 0)
		d->first_done_ms = hp_now_ms();
	return 0;
}

static void done_clear(hp_done *x)
{
	free(x->path);
	hp_result_clear(&x->res);
}

int hp_jobs_done_due_ms(const hp_daemon *d, uint64_t now)
{
	/* With a batch in flight the next one waits for its result, which
	 * wakes the loop through the database socket. */
	if (d->n_dones == 0 || d->n_flushing > 0)
		return -1;
	if (d->n_dones >= HP_BATCH_JOBS)
		return 0;
	uint64_t due = d->first_done_ms + HP_BATCH_MS;
	return due > now ? (int)(due - now) : 0;
}

/* Put a finished job back among those waiting (its result was not stored
 * this time). */
static void done_requeue(hp_daemon *d, hp_done *x)
{
	if (d->n_dones == d->cap_dones) {
		size_t cap = d->cap_dones ? d->cap_dones * 2 : 64;
		hp_done *p = realloc(d->dones, cap * sizeof *p);
		if (!p) {
			hp_err("%s: out of memory keeping the result; the job is tried again later", x->path);
			done_clear(x);
			return;
		}
		d->dones = p;
		d->cap_dones = cap;
	}
	if (d->n_dones++ == 0)
		d->first_done_ms = hp_now_ms();
	d->dones[d->n_dones - 1] = *x;
}

/* The batch in flight finished with r (1: per-item results, else the
 * error of the whole batch). */
static void flushed(hp_daemon *d, int r)
{
	hp_done *fl = d->flushing;
	hp_completion *c = d->fl_items;
	size_t n = d->n_flushing;
	d->flushing = NULL;
	d->fl_items = NULL;
	d->n_flushing = 0;
	/* Connection gone or a passing condition (a held lock): kept, stored
	 * after reconnecting or at a later turn; our leases stay valid. */
	bool keep_all = !hp_dbconn_ok(d, r < 0 ? r : 0) || r == -EAGAIN;
	int64_t *committed = calloc(n ? n : 1, sizeof *committed);
	size_t n_committed = 0;
	for (size_t i = 0; i < n; i++) {
		hp_done *x = &fl[i];
		int ir = r < 0 ? r : c[i].result;
		if (keep_all || ir == -EAGAIN) {
			done_requeue(d, x);
			continue;
		}
		if (ir == 0) {
			d->n_done++;
			if (committed)
				committed[n_committed++] = (int64_t)x->job_id;
			if (x->has_doc)
				hp_info("%s: done (%s, %zu chunks)", x->path, hp_format_name(x->res.doc.format),
				        x->res.n_chunks);
			else {
				d->n_linked++;
				hp_info("%s: same content as a stored document, linked", x->path);
			}
		} else if (ir == -ESTALE) {
			hp_warn("%s: lease lost before the result was stored; another daemon has the job", x->path);
		} else if (ir == -EBADMSG) {
			hp_warn("%s: %s", x->path, c[i].error);
			d->n_failed++;
			hp_dispose_job(hp_queue_conn(d->q), d->cfg, (int64_t)x->job_id, HP_DISPOSE_FAILURE);
		} else {
			hp_err("%s: the result could not be stored: %s; the job is tried again when its lease runs out",
			       x->path, hp_queue_last_error(d->q));
		}
		done_clear(x);
	}
	/* The mirror writes only what is committed; files are moved or
	 * deleted only then too. */
	if (n_committed && d->mirror)
		hp_mirror_notify(d->mirror, committed, n_committed);
	for (size_t i = 0; i < n_committed; i++)
		hp_dispose_job(hp_queue_conn(d->q), d->cfg, committed[i], HP_DISPOSE_SUCCESS);
	free(committed);
	free(fl);
	free(c);
	d->want_claim = true;
}

void hp_jobs_poll_done(hp_daemon *d)
{
	if (d->n_flushing == 0)
		return;
	int r = hp_queue_complete_poll(d->q);
	if (r != -EINPROGRESS)
		flushed(d, r);
}

/* Send the first HP_BATCH_MAX finished jobs as one batch. Returns false
 * when nothing could be sent. */
static bool flush_some(hp_daemon *d, bool force)
{
	size_t n = d->n_dones < HP_BATCH_MAX ? d->n_dones : HP_BATCH_MAX;
	hp_completion *c = calloc(n, sizeof *c);
	hp_done *batch = n < d->n_dones ? malloc(n * sizeof *batch) : d->dones;
	if (!c || !batch) {
		free(c);
		if (batch != d->dones)
			free(batch);
		return false;
	}
	/* The batch leaves d->dones: results arriving meanwhile, and those
	 * past HP_BATCH_MAX, start the next. */
	if (batch == d->dones) {
		d->dones = NULL;
		d->n_dones = d->cap_dones = 0;
	} else {
		memcpy(batch, d->dones, n * sizeof *batch);
		memmove(d->dones, d->dones + n, (d->n_dones - n) * sizeof *d->dones);
		d->n_dones -= n;
	}
	/* fl_items point into the batch's own results */
	for (size_t i = 0; i < n; i++) {
		hp_done *x = &batch[i];
		c[i] = (hp_completion){ .job_id = (int64_t)x->job_id, .sha256_hex = x->sha256,
			                .bytes = x->bytes, .doc = x->has_doc ? &x->res.doc : NULL,
			                .chunks = x->res.chunks, .n_chunks = x->res.n_chunks };
	}
	d->flushing = batch;
	d->n_flushing = n;
	d->fl_items = c;
	int r = hp_queue_complete_start(d->q, c, n);
	if (r < 0)
		flushed(d, r);
	else if (force)
		flushed(d, hp_queue_complete_wait(d->q));
	return r >= 0;
}

void hp_jobs_flush_done(hp_daemon *d, bool force)
{
	hp_jobs_poll_done(d);
	if (d->n_flushing && force)
		flushed(d, hp_queue_complete_wait(d->q));
	if (d->n_flushing || d->n_dones == 0 || d->db_broken)
		return; /* one batch in flight at a time: the next one grows */
	if (!force && hp_jobs_done_due_ms(d, hp_now_ms()) > 0)
		return;
	/* force (shutdown): every finished job, HP_BATCH_MAX at a time, each
	 * tried once (a batch that failed went back to d->dones) */
	size_t rounds = force ? d->n_dones / HP_BATCH_MAX + 1 : 1;
	while (flush_some(d, force) && --rounds && d->n_dones && !d->db_broken)
		;
}

void hp_jobs_on_result(void *userdata, uint64_t job_id, hp_pool_outcome o, hp_result *res,
                       const char *reason)
{
	hp_daemon *d = userdata;
	hp_flight *f = flight_find(d, job_id);
	if (!f) {
		hp_warn("result for job %llu that is not in flight; ignored", (unsigned long long)job_id);
		return;
	}
	char why[300];
	switch (o) {
	case HP_POOL_DONE:
		if (add_done(d, f, job_id, f->path, f->bytes, f->sha256, res) < 0)
			hp_err("%s: out of memory keeping the result; the job is tried again later", f->path);
		break;
	case HP_POOL_ERROR: {
		const char *msg = res->error && *res->error ? res->error : strerror(res->status);
		if (res->status == ENOMEM) {
			/* The one transient worker error: memory may be there next time. */
			snprintf(why, sizeof why, "%s (worker out of memory)", msg);
			job_retry(d, job_id, f->path, why);
		} else {
			job_fail(d, job_id, f->path, msg);
		}
		break;
	}
	case HP_POOL_LOST:
		/* Not the file's fault, but bounded all the same: a job that
		 * keeps losing its worker must not loop for ever. */
		if (f->attempts >= d->cfg->max_attempts) {
			snprintf(why, sizeof why, "%s, %d times in a row", reason ? reason : "worker died",
			         f->attempts);
			job_fail(d, job_id, f->path, why);
			break;
		}
		hp_info("%s: %s; the job goes back to the queue", f->path,
		        reason ? reason : "worker died");
		hp_dbconn_ok(d, hp_queue_requeue(d->q, (int64_t)job_id));
		break;
	case HP_POOL_CRASHED:
		if (d->stopping)
			break; /* given back with the others at shutdown */
		/* A crash or a time-out counts an attempt (DESIGN §3). */
		job_retry(d, job_id, f->path, reason ? reason : "worker died");
		break;
	}
	flight_drop(d, f);
	d->want_claim = true;
}

void hp_jobs_renew(hp_daemon *d, uint64_t now)
{
	if (d->db_broken || now - d->last_renew < 30000)
		return;
	d->last_renew = now;
	size_t n = d->n_flights + d->n_ready + d->n_dones + d->n_flushing;
	if (n == 0)
		return;
	int64_t *ids = calloc(n, sizeof *ids);
	if (!ids)
		return;
	size_t k = 0;
	for (size_t i = 0; i < d->n_flights; i++)
		ids[k++] = (int64_t)d->flights[i].job_id;
	for (size_t i = 0; i < d->n_ready; i++)
		ids[k++] = d->ready[i].id;
	for (size_t i = 0; i < d->n_dones; i++)
		ids[k++] = (int64_t)d->dones[i].job_id;
	for (size_t i = 0; i < d->n_flushing; i++)
		ids[k++] = (int64_t)d->flushing[i].job_id;
	hp_dbconn_ok(d, hp_queue_renew(d->q, d->lease_s, ids, k));
	free(ids);
}

void hp_jobs_shutdown(hp_daemon *d)
{
	if (d->q && !d->db_broken) {
		hp_jobs_flush_done(d, true);
		int r = hp_queue_release_all(d->q);
		if (r > 0)
			hp_info("%d job(s) went back to the queue", r);
		else if (r < 0)
			hp_warn("could not give jobs back (%s); they are taken again when their lease runs out"
			        " or at the next start", hp_queue_last_error(d->q));
	}
	while (d->n_flights)
		flight_drop(d, &d->flights[0]);
	if (d->n_flushing) /* the database is gone: forget the batch */
		flushed(d, -ECONNRESET);
	for (size_t i = 0; i < d->n_dones; i++)
		done_clear(&d->dones[i]);
	free(d->dones);
	d->dones = NULL;
	d->n_dones = d->cap_dones = 0;
	loaded_free(d);
	ready_free(d);
	hp_jobs_pending_clear(d);
	free(d->pending);
	d->pending = NULL;
	for (size_t i = 0; i < d->n_roots; i++)
		free(d->roots[i]);
	free(d->roots);
	d->roots = NULL;
	d->n_roots = 0;
}
