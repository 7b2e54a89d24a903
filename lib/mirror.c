/* mirror.c — the mirror folder of Markdown, see include/hopper/mirror.h.
 *
 * One thread with its own blocking libpq connection does all the work, so
 * the supervisor's loop only appends job ids under a mutex. The thread:
 *   1. repairs each watch with an output_dir (at start and when a reload
 *      gives a watch one): every newest done version of a path whose mirror
 *      file is missing or records another sha256 is written;
 *   2. writes the documents of notified jobs as they come;
 *   3. rewrites index.md of the watches that changed, at most every
 *      HP_MIRROR_INDEX_INTERVAL_MS, and once more before it stops.
 * Database errors are logged and the work is dropped: what was not written
 * is written by the repair at the next start (the database is the truth,
 * the mirror is derived from it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "hopper/common.h"
#include "hopper/db.h"
#include "hopper/mirror.h"

/* ---- pure helpers ----------------------------------------------------------- */

/* A YAML double-quoted scalar: \" \\ and \xNN for control bytes and bytes
 * that are not part of valid UTF-8. */
static int yaml_str(hp_buf *b, const char *s)
{
	int r = hp_buf_addc(b, '"');
	const unsigned char *u = (const unsigned char *)s;
	while (r == 0 && *u) {
		size_t k = *u < 0x80 ? 1 : (*u & 0xE0) == 0xC0 ? 2 : (*u & 0xF0) == 0xE0 ? 3
		           : (*u & 0xF8) == 0xF0 ? 4 : 0;
		bool valid = k > 0;
		for (size_t j = 1; valid && j < k; j++)
			valid = (u[j] & 0xC0) == 0x80;
		if (*u == '"' || *u == '\\') {
			r = hp_buf_addc(b, '\\');
			if (r == 0)
				r = hp_buf_addc(b, (char)*u);
			u++;
		} else if (!valid || *u < 0x20 || *u == 0x7F) {
			r = hp_buf_addf(b, "\\x%02X", *u);
			u++;
		} else {
			r = hp_buf_add(b, u, k);
			u += k;
		}
	}
	return r == 0 ? hp_buf_addc(b, '"') : r;
}

int hp_mirror_render(const char *source, const char *format, const char *sha256,
                     const char *title, int pages, const char *markdown, size_t markdown_len,
                     char **ret, size_t *ret_len)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	int r = hp_buf_addstr(&b, "---\nsource: ");
	if (r == 0)
		r = yaml_str(&b, source);
	if (r == 0)
		r = hp_buf_addstr(&b, "\nformat: ");
	if (r == 0)
		r = yaml_str(&b, format);
	if (r == 0)
		r = hp_buf_addf(&b, "\nsha256: %s\n", sha256);
	if (r == 0 && title) {
		r = hp_buf_addstr(&b, "title: ");
		if (r == 0)
			r = yaml_str(&b, title);
		if (r == 0)
			r = hp_buf_addc(&b, '\n');
	}
	if (r == 0 && pages > 0)
		r = hp_buf_addf(&b, "pages: %d\n", pages);
	if (r == 0)
		r = hp_buf_addstr(&b, "---\n\n");
	if (r == 0)
		r = hp_buf_add(&b, markdown, markdown_len);
	if (r == 0 && (markdown_len == 0 || markdown[markdown_len - 1] != '\n'))
		r = hp_buf_addc(&b, '\n');
	if (r < 0) {
		hp_buf_free(&b);
		return r;
	}
	*ret_len = b.len;
	*ret = hp_buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

static bool rel_ok(const char *rel)
{
	if (!*rel || rel[0] == '/')
		return false;
	for (const char *p = rel; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.'))
			return false;
		p += n + (e ? 1 : 0);
	}
	return true;
}

int hp_mirror_write_file(const char *dir, const char *rel, const char *data, size_t len)
{
	if (!rel_ok(rel))
		return -EINVAL;
	char path[PATH_MAX], tmp[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
		return -ENAMETOOLONG;
	/* parents, from the output folder down */
	size_t dl = strlen(dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	for (char *p = path + dl + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		int e = mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
		*p = '/';
		if (e < 0)
			return e;
	}
	const char *base = strrchr(path, '/') + 1;
	if (snprintf(tmp, sizeof tmp, "%.*s.%s.tmp.XXXXXX", (int)(base - path), path, base) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = fchmod(fd, 0644) < 0 ? -errno : 0;
	if (r == 0)
		r = hp_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int hp_mirror_read_sha(const char *path, char out[65])
{
	char head[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -ENOENT;
	ssize_t n = read(fd, head, sizeof head - 1);
	close(fd);
	if (n < 4)
		return -ENOENT;
	head[n] = '\0';
	if (strncmp(head, "---\n", 4))
		return -ENOENT;
	char *end = strstr(head + 4, "\n---\n");
	if (end)
		*end = '\0';
	char *s = strstr(head + 3, "\nsha256: ");
	if (!s || strspn(s + 9, "0123456789abcdef") != 64)
		return -ENOENT;
	memcpy(out, s + 9, 64);
	out[64] = '\0';
	return 0;
}

/* ---- the thread ------------------------------------------------------------ */

typedef struct mwatch {
	char *name, *root, *out;
	bool prune;
	bool repair;          /* to repair (start, or gained output_dir) */
	bool dirty;           /* index.md to rewrite */
} mwatch;

struct hp_mirror {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *conninfo;
	PGconn *conn;         /* the thread's */
	/* shared, under mu */
	mwatch *cfg_w;        /* the latest configuration */
	size_t cfg_n;
	bool cfg_new;
	int64_t *ids;
	size_t n_ids, cap_ids;
	bool stop;
	/* the thread's own */
	mwatch *w;
	size_t nw;
	uint64_t last_index_ms;
};

static void watches_free(mwatch *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(w[i].name);
		free(w[i].root);
		free(w[i].out);
	}
	free(w);
}

static int watches_copy(const hp_config *cfg, mwatch **ret, size_t *ret_n)
{
	mwatch *w = calloc(cfg->n_watches ? cfg->n_watches : 1, sizeof *w);
	if (!w)
		return -ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_watches; i++) {
		const hp_watch_config *c = &cfg->watches[i];
		if (!c->output_dir)
			continue;
		w[n] = (mwatch){ .name = strdup(c->name), .root = strdup(c->path), .out = strdup(c->output_dir),
		                 .prune = c->output_prune, .repair = true, .dirty = true };
		n++;
		if (!w[n - 1].name || !w[n - 1].root || !w[n - 1].out) {
			watches_free(w, n);
			return -ENOMEM;
		}
	}
	*ret = w;
	*ret_n = n;
	return 0;
}

static mwatch *find_watch(hp_mirror *m, const char *name)
{
	for (size_t i = 0; i < m->nw; i++)
		if (!strcmp(m->w[i].name, name))
			return &m->w[i];
	return NULL;
}

/* The path relative to the watch root, or NULL when not under it. */
static const char *relative(const mwatch *w, const char *path)
{
	size_t n = strlen(w->root);
	while (n > 1 && w->root[n - 1] == '/')
		n--;
	if (strncmp(path, w->root, n) || path[n] != '/')
		return NULL;
	return path + n + 1;
}

static bool db_ok(hp_mirror *m)
{
	if (m->conn && PQstatus(m->conn) == CONNECTION_OK)
		return true;
	if (m->conn)
		PQfinish(m->conn);
	char err[512];
	m->conn = hp_db_connect(m->conninfo, err, sizeof err);
	if (!m->conn)
		hp_warn("mirror: %s; mirror files are written at the next start", err);
	return m->conn != NULL;
}

static PGresult *query(hp_mirror *m, const char *what, const char *sql, int n, const char *const *params)
{
	if (!db_ok(m))
		return NULL;
	PGresult *res = PQexecParams(m->conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		char msg[512];
		hp_db_message(m->conn, res, msg, sizeof msg);
		hp_warn("mirror: %s: %s", what, msg);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Write one document: row columns path, format, sha256, title, pages, markdown. */
static int write_doc(mwatch *w, const char *path, const char *format, const char *sha,
                     const char *title, int pages, const char *md, size_t mdlen)
{
	const char *rel = relative(w, path);
	char relmd[PATH_MAX];
	if (!rel || snprintf(relmd, sizeof relmd, "%s.md", rel) >= (int)sizeof relmd)
		return -EINVAL;
	if (!strcmp(relmd, "index.md")) {
		hp_warn("mirror: %s: a file named 'index' would replace index.md; not mirrored", path);
		return -EEXIST;
	}
	char *data;
	size_t len;
	int r = hp_mirror_render(path, format, sha, title, pages, md, mdlen, &data, &len);
	if (r == 0)
		r = hp_mirror_write_file(w->out, relmd, data, len);
	free(data);
	if (r < 0)
		hp_warn("mirror: cannot write %s/%s: %s", w->out, relmd, strerror(-r));
	else
		w->dirty = true;
	return r;
}

static const char DOC_COLS[] =
	"j.path, d.format, d.sha256, d.title, coalesce(d.pages, 0), d.markdown, j.watch";

static void write_rows(hp_mirror *m, PGresult *res, mwatch *only)
{
	for (int i = 0; i < PQntuples(res); i++) {
		mwatch *w = only ? only : find_watch(m, PQgetvalue(res, i, 6));
		if (!w)
			continue;
		write_doc(w, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
		          PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3), atoi(PQgetvalue(res, i, 4)),
		          PQgetvalue(res, i, 5), (size_t)PQgetlength(res, i, 5));
	}
}

static void write_jobs(hp_mirror *m, const int64_t *ids, size_t n)
{
	hp_buf a;
	hp_buf_init(&a, 0);
	int r = hp_buf_addc(&a, '{');
	for (size_t i = 0; i < n && r == 0; i++)
		r = hp_buf_addf(&a, "%s%lld", i ? "," : "", (long long)ids[i]);
	if (r == 0)
		r = hp_buf_addc(&a, '}');
	if (r == 0) {
		char sql[512];
		snprintf(sql, sizeof sql,
		         "SELECT %s FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id"
		         " WHERE j.id = ANY($1::bigint[]) AND j.state = 'done' ORDER BY j.id", DOC_COLS);
		const char *params[] = { a.data };
		PGresult *res = query(m, "reading the documents to write", sql, 1, params);
		if (res)
			write_rows(m, res, NULL);
		PQclear(res);
	}
	hp_buf_free(&a);
}

/* The newest done version of every path of a watch. */
static PGresult *list_watch(hp_mirror *m, const mwatch *w)
{
	const char *params[] = { w->name };
	return query(m, "listing the documents of a watch",
	             "SELECT DISTINCT ON (j.path) j.path, d.sha256, d.id, d.title, d.format"
	             " FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id"
	             " WHERE j.watch = $1 AND j.state = 'done' ORDER BY j.path, j.id DESC",
	             1, params);
}

static void repair(hp_mirror *m, mwatch *w)
{
	PGresult *res = list_watch(m, w);
	if (!res)
		return;
	size_t fixed = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *path = PQgetvalue(res, i, 0), *rel = relative(w, path);
		char file[PATH_MAX], sha[65];
		if (!rel || snprintf(file, sizeof file, "%s/%s.md", w->out, rel) >= (int)sizeof file)
			continue;
		if (hp_mirror_read_sha(file, sha) == 0 && !strcmp(sha, PQgetvalue(res, i, 1)))
			continue;
		if (w->prune && access(path, F_OK) < 0 && errno == ENOENT)
			continue;   /* gone, and pruned: nothing to write */
		char sql[512];
		snprintf(sql, sizeof sql,
		         "SELECT %s FROM hopper.jobs j JOIN hopper.documents d ON d.id = j.document_id"
		         " WHERE j.watch = $1 AND j.path = $2 AND j.state = 'done' ORDER BY j.id DESC LIMIT 1",
		         DOC_COLS);
		const char *params[] = { w->name, path };
		PGresult *doc = query(m, "reading a document to repair", sql, 2, params);
		if (doc) {
			write_rows(m, doc, w);
			fixed += PQntuples(doc) > 0;
		}
		PQclear(doc);
	}
	PQclear(res);
	if (fixed)
		hp_notice("mirror: %s: wrote %zu file(s) missing or out of date in %s", w->name, fixed, w->out);
	w->repair = false;
	w->dirty = true;
}

/* Percent-encode a relative path for a Markdown link. */
static int add_link(hp_buf *b, const char *rel)
{
	int r = 0;
	for (const unsigned char *u = (const unsigned char *)rel; *u && r == 0; u++) {
		if ((*u >= 'a' && *u <= 'z') || (*u >= 'A' && *u <= 'Z') || (*u >= '0' && *u <= '9') ||
		    strchr("-._~/", *u))
			r = hp_buf_addc(b, (char)*u);
		else
			r = hp_buf_addf(b, "%%%02X", *u);
	}
	return r;
}

/* Link text: one line, with Markdown's brackets and backslash escaped. */
static int add_text(hp_buf *b, const char *s)
{
	int r = 0;
	for (; *s && r == 0; s++) {
		if (*s == '[' || *s == ']' || *s == '\\' || *s == '*' || *s == '_' || *s == '`')
			r = hp_buf_addc(b, '\\');
		if (r == 0)
			r = hp_buf_addc(b, *s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s);
	}
	return r;
}

typedef struct entry {
	const char *rel, *title, *format;
	size_t dirlen;        /* bytes of rel before its base name ("" = top) */
} entry;

static int entry_cmp(const void *a, const void *b)
{
	const entry *x = a, *y = b;
	size_t n = x->dirlen < y->dirlen ? x->dirlen : y->dirlen;
	int c = memcmp(x->rel, y->rel, n);
	if (c == 0 && x->dirlen != y->dirlen)
		c = x->dirlen < y->dirlen ? -1 : 1;
	return c ? c : strcmp(x->rel + x->dirlen, y->rel + y->dirlen);
}

static void write_index(hp_mirror *m, mwatch *w)
{
	PGresult *res = list_watch(m, w);
	if (!res)
		return;
	int n = PQntuples(res);
	entry *e = calloc(n ? (size_t)n : 1, sizeof *e);
	hp_buf b;
	hp_buf_init(&b, 0);
	size_t k = 0, pruned = 0;
	for (int i = 0; e && i < n; i++) {
		const char *path = PQgetvalue(res, i, 0), *rel = relative(w, path);
		if (!rel)
			continue;
		if (w->prune && access(path, F_OK) < 0 && errno == ENOENT) {
			char file[PATH_MAX];
			if (snprintf(file, sizeof file, "%s/%s.md", w->out, rel) < (int)sizeof file &&
			    unlink(file) == 0)
				pruned++;
			continue;
		}
		const char *slash = strrchr(rel, '/');
		e[k++] = (entry){ .rel = rel, .title = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
		                  .format = PQgetvalue(res, i, 4), .dirlen = slash ? (size_t)(slash - rel) + 1 : 0 };
	}
	int r = e ? 0 : -ENOMEM;
	if (r == 0) {
		qsort(e, k, sizeof *e, entry_cmp);
		r = hp_buf_addf(&b, "# Index of %s\n\n%zu document(s) converted from `%s`.\n", w->name, k, w->root);
	}
	for (size_t i = 0; i < k && r == 0; i++) {
		if (i == 0 || e[i].dirlen != e[i - 1].dirlen || memcmp(e[i].rel, e[i - 1].rel, e[i].dirlen)) {
			r = hp_buf_addstr(&b, "\n## ");
			if (r == 0 && e[i].dirlen)
				r = hp_buf_add(&b, e[i].rel, e[i].dirlen - 1);
			else if (r == 0)
				r = hp_buf_addstr(&b, "(top folder)");
			if (r == 0)
				r = hp_buf_addstr(&b, "\n\n");
		}
		const char *base = e[i].rel + e[i].dirlen;
		if (r == 0)
			r = hp_buf_addstr(&b, "- [");
		if (r == 0)
			r = add_text(&b, e[i].title && *e[i].title ? e[i].title : base);
		if (r == 0)
			r = hp_buf_addstr(&b, "](");
		if (r == 0)
			r = add_link(&b, e[i].rel);
		if (r == 0)
			r = hp_buf_addf(&b, ".md) — %s, `", e[i].format);
		if (r == 0)
			r = add_text(&b, base);
		if (r == 0)
			r = hp_buf_addstr(&b, "`\n");
	}
	if (r == 0)
		r = hp_mirror_write_file(w->out, "index.md", b.data, b.len);
	if (r < 0) {
		hp_warn("mirror: cannot write %s/index.md: %s", w->out, strerror(-r));
	} else {
		hp_debug("mirror: %s: index.md rewritten (%zu documents)", w->name, k);
		w->dirty = false;
	}
	if (pruned)
		hp_info("mirror: %s: removed %zu file(s) whose source is gone (output_prune)", w->name, pruned);
	hp_buf_free(&b);
	free(e);
	PQclear(res);
}

static void *thread_main(void *arg)
{
	hp_mirror *m = arg;
	pthread_mutex_lock(&m->mu);
	for (;;) {
		if (m->cfg_new) {
			/* keep the repair/dirty marks of watches that stay */
			for (size_t i = 0; i < m->cfg_n; i++) {
				mwatch *old = find_watch(m, m->cfg_w[i].name);
				if (old && !strcmp(old->out, m->cfg_w[i].out))
					m->cfg_w[i].repair = old->repair;   /* index.md: rewritten (prune) */
			}
			watches_free(m->w, m->nw);
			m->w = m->cfg_w;
			m->nw = m->cfg_n;
			m->cfg_w = NULL;
			m->cfg_n = 0;
			m->cfg_new = false;
		}
		int64_t *ids = m->ids;
		size_t n = m->n_ids;
		m->ids = NULL;
		m->n_ids = m->cap_ids = 0;
		bool stop = m->stop;
		pthread_mutex_unlock(&m->mu);

		for (size_t i = 0; i < m->nw; i++)
			if (m->w[i].repair)
				repair(m, &m->w[i]);
		if (n)
			write_jobs(m, ids, n);
		free(ids);
		bool dirty = false;
		uint64_t now = hp_now_ms();
		if (stop || now - m->last_index_ms >= HP_MIRROR_INDEX_INTERVAL_MS) {
			for (size_t i = 0; i < m->nw; i++)
				if (m->w[i].dirty)
					write_index(m, &m->w[i]);
			m->last_index_ms = now;
		}
		for (size_t i = 0; i < m->nw; i++)
			dirty |= m->w[i].dirty;

		pthread_mutex_lock(&m->mu);
		if (stop && !m->n_ids)
			break;
		while (!m->stop && !m->n_ids && !m->cfg_new) {
			if (!dirty) {
				pthread_cond_wait(&m->cv, &m->mu);
				continue;
			}
			uint64_t due = m->last_index_ms + HP_MIRROR_INDEX_INTERVAL_MS, t = hp_now_ms();
			if (t >= due)
				break;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t ns = (uint64_t)ts.tv_nsec + (due - t) * 1000000ULL;
			ts.tv_sec += (time_t)(ns / 1000000000ULL);
			ts.tv_nsec = (long)(ns % 1000000000ULL);
			if (pthread_cond_timedwait(&m->cv, &m->mu, &ts) == ETIMEDOUT)
				break;
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (m->conn)
		PQfinish(m->conn);
	m->conn = NULL;
	return NULL;
}

int hp_mirror_start(const hp_config *cfg, const char *conninfo, hp_mirror **ret)
{
	*ret = NULL;
	mwatch *w;
	size_t nw;
	int r = watches_copy(cfg, &w, &nw);
	if (r < 0)
		return r;
	if (nw == 0) {
		watches_free(w, nw);
		return 0;
	}
	hp_mirror *m = calloc(1, sizeof *m);
	if (!m || !(m->conninfo = strdup(conninfo))) {
		free(m);
		watches_free(w, nw);
		return -ENOMEM;
	}
	m->w = w;
	m->nw = nw;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&m->mu, NULL);
	r = -pthread_create(&m->th, NULL, thread_main, m);
	if (r < 0) {
		hp_err("mirror: cannot start its thread: %s", strerror(-r));
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->mu);
		watches_free(w, nw);
		free(m->conninfo);
		free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void hp_mirror_notify(hp_mirror *m, const int64_t *job_ids, size_t n)
{
	if (!m || !n)
		return;
	pthread_mutex_lock(&m->mu);
	if (m->n_ids + n > m->cap_ids) {
		size_t nc = (m->n_ids + n) * 2;
		int64_t *p = realloc(m->ids, nc * sizeof *p);
		if (!p) {
			pthread_mutex_unlock(&m->mu);
			hp_warn("mirror: out of memory; %zu document(s) are written at the next start", n);
			return;
		}
		m->ids = p;
		m->cap_ids = nc;
	}
	memcpy(m->ids + m->n_ids, job_ids, n * sizeof *job_ids);
	m->n_ids += n;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

int hp_mirror_reload(hp_mirror **mp, const hp_config *cfg, const char *conninfo)
{
	hp_mirror *m = *mp;
	if (!m)
		return hp_mirror_start(cfg, conninfo, mp);
	mwatch *w;
	size_t nw;
	if (watches_copy(cfg, &w, &nw) < 0) {
		hp_warn("mirror: out of memory; the output folders stay as they were");
		return -ENOMEM;
	}
	pthread_mutex_lock(&m->mu);
	watches_free(m->cfg_w, m->cfg_n);
	m->cfg_w = w;
	m->cfg_n = nw;
	m->cfg_new = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

void hp_mirror_free(hp_mirror *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	pthread_join(m->th, NULL);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	watches_free(m->w, m->nw);
	watches_free(m->cfg_w, m->cfg_n);
	free(m->ids);
	free(m->conninfo);
	free(m);
}
