/* queue.c — the job queue in PostgreSQL, see include/hopper/queue.h
 *
 * Every value travels as a query parameter; no SQL is built from data.
 * Batches travel as array parameters unpacked with unnest(), so one
 * statement carries many rows (PLATFORM.md: batching is what gives
 * thousands of files per second). The hot statements are prepared once per
 * connection (parse and plan once, not per call).
 *
 * Errors are not logged here but classified (see the header) and kept in
 * q->err for the caller, which logs each failure once where it handles it.
 * The exception is a row the database rejects inside a batch: the batch is
 * split, and the row that fails alone is logged here, where it is dropped. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hopper/common.h"
#include "hopper/db.h"
#include "hopper/migrate.h"
#include "hopper/queue.h"

#define NOTIFY_CHANNEL "hopper_jobs"
/* Rows per INSERT statement: big enough to amortise the round trip, small
 * enough to keep one statement's parameters modest. */
#define ENQUEUE_BATCH 500

/* The prepared statements, by index; SQL below. */
enum { S_ENQUEUE, S_CLAIM, S_COMPLETE, S_FIND, S_LINK, S_FAIL, S_RETRY, S_REQUEUE, S_FORGET,
       S_RENEW, S_WORKERS, S__N };

struct hp_queue {
	PGconn *conn;
	/* The completion batches' own connection: a batch in flight (its
	 * backend busy storing documents and chunks) never holds up a claim,
	 * a dedupe lookup or an enqueue on conn, and the two backends can
	 * use two cores. */
	PGconn *cconn;
	bool cprepared;           /* S_COMPLETE prepared on cconn */
	char *owner;
	hp_queue_policy pol;
	char *watches;            /* text[] literal of our watch names; NULL = none set */
	bool prepared[S__N];
	char err[1024];           /* the database's words for the last failure */
	char sqlstate[6];         /* its SQLSTATE ("" when libpq made the error) */
	/* the completion batch in flight (hp_queue_complete_start) */
	hp_completion *async_items;
	size_t async_n;
	bool async_busy;          /* sent, result not read yet */
	bool async_done;          /* result read (by a call that had to wait), not yet polled */
	int async_r;
};

static int async_finish(hp_queue *q, bool wait);

/* ---- fault injection (HOPPER_FAULT_QUERY=N[,M...]) ------------------------ */

static unsigned long fault_count;
static char fault_spec[64];

/* Is this statement one to fail? Statements are counted from the moment
 * the variable took its current value (so a test can set it mid-run). */
static bool fault_now(void)
{
	const char *spec = getenv("HOPPER_FAULT_QUERY");
	if (!spec || !*spec) {
		fault_spec[0] = '\0';
		return false;
	}
	if (strncmp(spec, fault_spec, sizeof fault_spec - 1) != 0) {
		snprintf(fault_spec, sizeof fault_spec, "%s", spec);
		fault_count = 0;
	}
	unsigned long n = ++fault_count;
	for (const char *p = spec; *p;) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p)
			break;
		if (v == n)
			return true;
		p = *end == ',' ? end + 1 : end;
	}
	return false;
}

/* ---- running statements ------------------------------------------------- */

/* Classify a failed result (see the header) and keep the server's words. */
static int q_error(hp_queue *q, PGconn *c, const PGresult *res)
{
	hp_db_message(c, res, q->err, sizeof q->err);
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(q->sqlstate, sizeof q->sqlstate, "%s", state ? state : "");
	/* Class 08: connection exception; 57P0x: the server is shutting down. */
	if (PQstatus(c) == CONNECTION_BAD ||
	    (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0)))
		return -ECONNRESET;
	if (!state) /* libpq's own failure, no word from the server: not the data */
		return -ECONNRESET;
	/* serialization failure, deadlock, lock_timeout, statement_timeout,
	 * class 53 (disk full, out of memory, too many connections) */
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0 || strncmp(state, "53", 2) == 0)
		return -EAGAIN;
	if (strcmp(state, "23503") == 0)
		return -ENOENT;
	/* data exception, integrity constraint, program limit (1 GB field) */
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
	    strncmp(state, "54", 2) == 0)
		return -EBADMSG;
	return -EIO;
}

/* The fault: the connection is cut under the statement, as a network
 * failure or a server restart would. */
static void fault_cut(PGconn *c)
{
	int fd = PQsocket(c);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

static int q_result(hp_queue *q, PGconn *c, PGresult *res, PGresult **ret_res)
{
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		int r = q_error(q, c, res);
		PQclear(res);
		return r;
	}
	q->err[0] = '\0';
	q->sqlstate[0] = '\0';
	if (ret_res)
		*ret_res = res;
	else
		PQclear(res);
	return 0;
}

/* Run one statement with text parameters. On success *ret_res (if not NULL)
 * holds the result for the caller to PQclear. */
static int q_exec(hp_queue *q, const char *sql, int nparams, const char *const *params,
                  PGresult **ret_res)
{
	if (fault_now())
		fault_cut(q->conn);
	return q_result(q, q->conn, PQexecParams(q->conn, sql, nparams, NULL, params, NULL, NULL, 0), ret_res);
}

static const char *const stmt_sql[S__N];

/* Run prepared statement `s`, preparing it on first use on this connection. */
static int q_stmt(hp_queue *q, int s, int nparams, const char *const *params, PGresult **ret_res)
{
	if (fault_now())
		fault_cut(q->conn);
	char name[16];
	snprintf(name, sizeof name, "hp_%d", s);
	if (!q->prepared[s]) {
		int r = q_result(q, q->conn, PQprepare(q->conn, name, stmt_sql[s], 0, NULL), NULL);
		if (r < 0)
			return r;
		q->prepared[s] = true;
	}
	return q_result(q, q->conn, PQexecPrepared(q->conn, name, nparams, params, NULL, NULL, 0), ret_res);
}

/* Rows touched by an UPDATE/INSERT/DELETE. */
static int q_stmt_count(hp_queue *q, int s, int nparams, const char *const *params)
{
	PGresult *res;
	int r = q_stmt(q, s, nparams, params, &res);
	if (r < 0)
		return r;
	r = atoi(PQcmdTuples(res));
	PQclear(res);
	return r;
}

static int q_exec_count(hp_queue *q, const char *sql, int nparams, const char *const *params)
{
	PGresult *res;
	int r = q_exec(q, sql, nparams, params, &res);
	if (r < 0)
		return r;
	r = atoi(PQcmdTuples(res));
	PQclear(res);
	return r;
}

const char *hp_queue_last_error(const hp_queue *q)
{
	return q->err;
}

const char *hp_queue_last_sqlstate(const hp_queue *q)
{
	return q->sqlstate;
}

/* ---- connection ------------------------------------------------------------ */

/* Per session: time-outs (so a held lock or a stuck statement costs a
 * bounded wait, then -EAGAIN), LISTEN. */
static int q_session(hp_queue *q)
{
	char st[24], lk[24];
	snprintf(st, sizeof st, "%" PRIu64, q->pol.statement_timeout_ms);
	snprintf(lk, sizeof lk, "%" PRIu64, q->pol.lock_timeout_ms);
	const char *params[] = { st, lk };
	/* synchronous_commit off: a commit does not wait for its WAL flush.
	 * A server crash can then forget the last moments of state changes,
	 * each transaction whole: a forgotten claim is claimed again, a
	 * forgotten result (document, chunks and `done` go in one transaction)
	 * leaves its job running until the lease runs out, and it is converted
	 * again. Enqueues are the exception: hp_queue_enqueue ends with one
	 * durable commit, since nothing else would queue a forgotten file
	 * before the next scan. Results that lead to a file being moved or
	 * deleted are made durable first (lib/dispose.c).
	 * enable_bitmapscan and enable_seqscan off: every statement of this
	 * session is an index walk or a lookup by key. Right after a burst of
	 * enqueues or results the tables' statistics still say they are nearly
	 * empty (autovacuum analyzes them a minute later), and the planner
	 * then reads the whole backlog through a bitmap scan and sorts it, on
	 * every claim (10-30 ms a claim with 20,000 queued jobs instead of
	 * 0.1 ms through jobs_ready_idx in claim order), and looks contents up
	 * by a sequential scan of hopper.documents (32 ms at 2,500 documents,
	 * growing with the table). A statement with no index to use still
	 * runs: these settings only steer the choice (make bench). */
	static const char set_sql[] =
		"SELECT set_config('statement_timeout', $1, false),"
		" set_config('lock_timeout', $2, false),"
		" set_config('synchronous_commit', 'off', false),"
		" set_config('enable_bitmapscan', 'off', false),"
		" set_config('enable_seqscan', 'off', false)";
	int r = q_exec(q, set_sql, 2, params, NULL);
	if (r == 0)
		r = q_exec(q, "LISTEN " NOTIFY_CHANNEL, 0, NULL, NULL);
	/* The completion connection: the same settings, no LISTEN. */
	if (r == 0 && q->cconn && PQstatus(q->cconn) == CONNECTION_OK && !q->async_busy)
		r = q_result(q, q->cconn, PQexecParams(q->cconn, set_sql, 2, NULL, params, NULL, NULL, 0), NULL);
	return r;
}

int hp_queue_open(const char *conninfo, const char *owner, hp_queue **ret)
{
	int r;
	char err[512] = "";
	hp_queue *q = calloc(1, sizeof *q);
	if (!q || !(q->owner = strdup(owner))) {
		r = -ENOMEM;
		goto fail;
	}
	q->pol = (hp_queue_policy){ .max_attempts = 3, .retry_delay_ms = 10000,
		                    .retry_max_ms = 3600 * 1000, .statement_timeout_ms = 30000,
		                    .lock_timeout_ms = 1000 };
	q->conn = hp_db_connect(conninfo, err, sizeof err);
	if (!q->conn) {
		hp_err("%s", err);
		r = -ECONNREFUSED;
		goto fail;
	}
	r = hp_migrate(q->conn);
	if (r < 0)
		goto fail;
	q->cconn = hp_db_connect(conninfo, err, sizeof err);
	if (!q->cconn) {
		hp_err("%s", err);
		r = -ECONNREFUSED;
		goto fail;
	}
	r = q_session(q);
	if (r < 0) {
		hp_err("queue: cannot set up the database session: %s", q->err);
		goto fail;
	}
	*ret = q;
	return 0;
fail:
	hp_queue_close(q);
	return r;
}

void hp_queue_close(hp_queue *q)
{
	if (!q)
		return;
	if (q->async_busy)
		async_finish(q, true);
	PQfinish(q->conn);
	PQfinish(q->cconn);
	free(q->owner);
	free(q->watches);
	free(q);
}

int hp_queue_fd(const hp_queue *q)
{
	return PQsocket(q->conn);
}

int hp_queue_complete_fd(const hp_queue *q)
{
	return PQsocket(q->cconn);
}

PGconn *hp_queue_conn(hp_queue *q)
{
	return q->conn;
}

int hp_queue_reconnect(hp_queue *q)
{
	if (q->async_busy) {
		/* The batch in flight is on the other connection: if its result
		 * is in, take it (it may have committed); if that connection
		 * broke too, nothing of the batch was stored (one statement,
		 * one transaction); if it still runs, it stays in flight. */
		if (PQconsumeInput(q->cconn) && !PQisBusy(q->cconn)) {
			async_finish(q, true);
		} else if (PQstatus(q->cconn) == CONNECTION_BAD || PQsocket(q->cconn) < 0) {
			q->async_busy = false;
			q->async_done = true;
			q->async_r = -ECONNRESET;
		}
	}
	PQreset(q->conn);
	memset(q->prepared, 0, sizeof q->prepared); /* a new session has none */
	if (PQstatus(q->conn) != CONNECTION_OK) {
		hp_db_message(q->conn, NULL, q->err, sizeof q->err);
		return -ECONNREFUSED;
	}
	if (!q->async_busy) {
		PQreset(q->cconn);
		q->cprepared = false;
		if (PQstatus(q->cconn) != CONNECTION_OK) {
			hp_db_message(q->cconn, NULL, q->err, sizeof q->err);
			return -ECONNREFUSED;
		}
	}
	return q_session(q) < 0 ? -ECONNREFUSED : 0;
}

int hp_queue_set_policy(hp_queue *q, const hp_queue_policy *p)
{
	if (p->max_attempts < 1 || p->retry_max_ms < p->retry_delay_ms)
		return -EINVAL;
	q->pol = *p;
	if (PQstatus(q->conn) == CONNECTION_OK)
		return q_session(q);
	return 0;
}

/* ---- array parameters ----------------------------------------------------
 * PostgreSQL's array literal: {"a","b\"c",NULL}; inside double quotes only
 * '"' and '\' need a backslash. */
static int arr_open(hp_buf *b)
{
	hp_buf_init(b, 0);
	return hp_buf_addc(b, '{');
}

static int arr_text(hp_buf *b, const char *s)
{
	int r = 0;
	if (b->len > 1)
		r = hp_buf_addc(b, ',');
	if (r == 0 && !s)
		return hp_buf_addstr(b, "NULL");
	if (r == 0)
		r = hp_buf_addc(b, '"');
	/* Copy runs without a special character in one go. */
	while (r == 0 && *s) {
		size_t run = strcspn(s, "\"\\");
		if (run)
			r = hp_buf_add(b, s, run);
		s += run;
		if (r == 0 && *s) {
			char esc[2] = { '\\', *s++ };
			r = hp_buf_add(b, esc, 2);
		}
	}
	if (r == 0)
		r = hp_buf_addc(b, '"');
	return r;
}

/* bytea element in hex form: "\\x6162" (the array literal's backslash
 * escapes bytea's). */
static int arr_bytea(hp_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	int r = 0;
	if (b->len > 1)
		r = hp_buf_addc(b, ',');
	if (r == 0 && !s)
		return hp_buf_addstr(b, "NULL");
	if (r == 0)
		r = hp_buf_addstr(b, "\"\\\\x");
	for (const unsigned char *p = (const unsigned char *)s; r == 0 && *p; p++) {
		char h[2] = { hex[*p >> 4], hex[*p & 15] };
		r = hp_buf_add(b, h, 2);
	}
	if (r == 0)
		r = hp_buf_addc(b, '"');
	return r;
}

static int arr_num(hp_buf *b, const char *fmt_num)
{
	int r = 0;
	if (b->len > 1)
		r = hp_buf_addc(b, ',');
	return r == 0 ? hp_buf_addstr(b, fmt_num) : r;
}

static int arr_i64(hp_buf *b, int64_t v)
{
	char s[24];
	snprintf(s, sizeof s, "%" PRId64, v);
	return arr_num(b, s);
}

static int arr_u64(hp_buf *b, uint64_t v)
{
	char s[24];
	snprintf(s, sizeof s, "%" PRIu64, v);
	return arr_num(b, s);
}

static int arr_close(hp_buf *b)
{
	return hp_buf_addc(b, '}');
}

/* ---- paths ------------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (PostgreSQL's rules: shortest
 * form, no surrogates, at most U+10FFFF), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	if (c < 0x80)
		return 1;
#define CONT(x) ((x) >= 0x80 && (x) <= 0xBF)
	if (c >= 0xC2 && c <= 0xDF)
		return CONT(p[1]) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
		return p[1] >= lo && p[1] <= hi && CONT(p[2]) ? 3 : 0;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
		return p[1] >= lo && p[1] <= hi && CONT(p[2]) && CONT(p[3]) ? 4 : 0;
	}
#undef CONT
	return 0;
}

char *hp_path_text(const char *bytes)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	int r = hp_buf_addstr(&b, "");
	for (const unsigned char *p = (const unsigned char *)bytes; r == 0 && *p;) {
		size_t n = utf8_len(p);
		if (n) {
			r = hp_buf_add(&b, p, n);
			p += n;
		} else {
			r = hp_buf_addf(&b, "\\x%02X", *p++);
		}
	}
	if (r < 0) {
		hp_buf_free(&b);
		return NULL;
	}
	return hp_buf_steal(&b);
}

int hp_queue_set_watches(hp_queue *q, const char *const *names, const char *const *roots, size_t n)
{
	hp_buf a;
	int r = arr_open(&a);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = arr_text(&a, names[i]);
	if (r == 0)
		r = arr_close(&a);
	if (r < 0) {
		hp_buf_free(&a);
		return r;
	}
	free(q->watches);
	q->watches = hp_buf_steal(&a);
	if (!q->watches)
		return -ENOMEM;
	/* Rows of an older hopperd: the relative path is what follows the root. */
	for (size_t i = 0; roots && i < n; i++) {
		char *root = hp_path_text(roots[i]);
		if (!root)
			return -ENOMEM;
		const char *params[] = { names[i], root };
		r = q_exec_count(q,
		                 "UPDATE hopper.jobs SET rel_path ="
		                 " substring(convert_to(path, 'UTF8') FROM octet_length(convert_to($2, 'UTF8')) + 2)"
		                 " WHERE watch = $1 AND rel_path IS NULL AND starts_with(path, $2 || '/')",
		                 2, params);
		free(root);
		if (r > 0)
			hp_notice("queue: %d job(s) of watch '%s' from an older hopperd now have a relative path",
			          r, names[i]);
		if (r == -ECONNRESET)
			return r;
	}
	return 0;
}

/* ---- enqueue ------------------------------------------------------------ */

enum { EQ_WATCH, EQ_PATH, EQ_REL, EQ_DEV, EQ_INO, EQ_SIZE, EQ_MTIME, EQ_PRIO, EQ_TOKENS, EQ__N };

static int enqueue_batch(hp_queue *q, const hp_file_ref *files, size_t n, size_t *ret_added)
{
	hp_buf a[EQ__N];
	PGresult *res = NULL;
	int r = 0;
	for (int k = 0; k < EQ__N; k++) {
		int r2 = arr_open(&a[k]);
		if (r == 0)
			r = r2;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const hp_file_ref *f = &files[i];
		if (!f->path || !f->watch || !f->rel) {
			hp_err("%s: cannot be queued: no path relative to its watch", f->path ? f->path : "?");
			continue;
		}
		char *text = hp_path_text(f->path);
		if (!text) {
			r = -ENOMEM;
			break;
		}
		r = arr_text(&a[EQ_PATH], text);
		free(text);
		if (r < 0 || (r = arr_text(&a[EQ_WATCH], f->watch)) < 0 ||
		    (r = arr_bytea(&a[EQ_REL], f->rel)) < 0 ||
		    (r = arr_u64(&a[EQ_DEV], f->dev)) < 0 || (r = arr_u64(&a[EQ_INO], f->ino)) < 0 ||
		    (r = arr_i64(&a[EQ_SIZE], f->size)) < 0 || (r = arr_i64(&a[EQ_MTIME], f->mtime_ns)) < 0 ||
		    (r = arr_i64(&a[EQ_PRIO], f->priority)) < 0 ||
		    (r = f->chunk_tokens > 0 ? arr_i64(&a[EQ_TOKENS], f->chunk_tokens)
		                             : arr_num(&a[EQ_TOKENS], "NULL")) < 0)
			break;
	}
	for (int k = 0; k < EQ__N && r == 0; k++)
		r = arr_close(&a[k]);
	if (r < 0)
		goto out;
	const char *params[EQ__N];
	for (int k = 0; k < EQ__N; k++)
		params[k] = a[k].data;
	r = q_stmt(q, S_ENQUEUE, EQ__N, params, &res);
	if (r < 0)
		goto out;
	*ret_added = (size_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	r = 0;
out:
	PQclear(res);
	for (int k = 0; k < EQ__N; k++)
		hp_buf_free(&a[k]);
	return r;
}

/* A batch the database rejects is split in two until the bad row is
 * alone; that one is logged and dropped. */
static int enqueue_split(hp_queue *q, const hp_file_ref *files, size_t n, size_t *ret_added)
{
	size_t got = 0;
	int r = enqueue_batch(q, files, n, &got);
	if (r == -EIO)
		r = -EBADMSG; /* see complete_split */
	if (r == -EBADMSG && n > 1) {
		size_t h = n / 2, a1 = 0, a2 = 0;
		r = enqueue_split(q, files, h, &a1);
		if (r == 0)
			r = enqueue_split(q, files + h, n - h, &a2);
		got = a1 + a2;
	} else if (r == -EBADMSG) {
		char *text = hp_path_text(files[0].path ? files[0].path : "?");
		hp_err("%s: cannot be queued: %s", text ? text : "?", q->err);
		free(text);
		r = 0;
	}
	if (r == 0)
		*ret_added += got;
	return r;
}

int hp_queue_enqueue(hp_queue *q, const hp_file_ref *files, size_t n, size_t *ret_added)
{
	/* The queue commits with synchronous_commit off (see the session
	 * settings), but a queued file must survive a server crash: nothing
	 * would queue it again before the next scan. So each enqueue
	 * statement makes its own commit durable: it sets synchronous_commit
	 * on for its transaction alone (set_config(..., true) is in effect at
	 * that commit), with no round trip of its own. A statement that
	 * inserted nothing wrote no WAL and has nothing to flush. */
	size_t added = 0;
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i += ENQUEUE_BATCH) {
		size_t k = n - i < ENQUEUE_BATCH ? n - i : ENQUEUE_BATCH;
		r = enqueue_split(q, files + i, k, &added);
	}
	if (r < 0)
		return r;
	if (ret_added)
		*ret_added = added;
	return 0;
}

/* ---- claim ---------------------------------------------------------------- */

void hp_jobs_free(hp_job *jobs, size_t n)
{
	if (!jobs)
		return;
	for (size_t i = 0; i < n; i++) {
		free(jobs[i].watch);
		free(jobs[i].path);
		free(jobs[i].rel);
	}
	free(jobs);
}

/* rel_path as the server prints bytea ("\x6162"): the bytes, NUL-terminated;
 * NULL for SQL NULL or bytes holding a NUL (no file name can: refuse). */
static int decode_rel(const PGresult *res, int row, int col, char **ret)
{
	*ret = NULL;
	if (PQgetisnull(res, row, col))
		return 0;
	size_t len;
	unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &len);
	if (!raw)
		return -ENOMEM;
	if (!memchr(raw, '\0', len)) {
		*ret = malloc(len + 1);
		if (*ret) {
			memcpy(*ret, raw, len);
			(*ret)[len] = '\0';
		}
	}
	PQfreemem(raw);
	return 0;
}

static const char *watches_param(const hp_queue *q)
{
	return q->watches ? q->watches : "{}";
}

int hp_queue_claim(hp_queue *q, size_t max, int lease_s, hp_job **ret_jobs, size_t *ret_n)
{
	if (max == 0 || !q->watches) {
		*ret_jobs = NULL;
		*ret_n = 0;
		return 0;
	}
	char smax[24], slease[16], satt[16];
	snprintf(smax, sizeof smax, "%zu", max);
	snprintf(slease, sizeof slease, "%d", lease_s > 0 ? lease_s : 1);
	snprintf(satt, sizeof satt, "%d", q->pol.max_attempts);
	const char *params[] = { q->owner, smax, slease, satt, watches_param(q) };
	PGresult *res;
	int r = q_stmt(q, S_CLAIM, 5, params, &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	hp_job *jobs = n ? calloc(n, sizeof *jobs) : NULL;
	if (n && !jobs) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		hp_job *j = &jobs[i];
		int row = (int)i;
		j->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
		j->watch = strdup(PQgetvalue(res, row, 1));
		j->path = strdup(PQgetvalue(res, row, 2));
		if (!j->watch || !j->path || decode_rel(res, row, 3, &j->rel) < 0) {
			r = -ENOMEM;
			goto fail;
		}
		j->size = strtoll(PQgetvalue(res, row, 4), NULL, 10);
		j->dev = strtoull(PQgetvalue(res, row, 5), NULL, 10);
		j->ino = strtoull(PQgetvalue(res, row, 6), NULL, 10);
		j->mtime_ns = strtoll(PQgetvalue(res, row, 7), NULL, 10);
		j->attempts = atoi(PQgetvalue(res, row, 8));
		j->chunk_tokens = PQgetisnull(res, row, 9) ? 0 : atoi(PQgetvalue(res, row, 9));
	}
	PQclear(res);
	*ret_jobs = jobs;
	*ret_n = n;
	return 0;
fail:
	/* The claimed rows stay leased to us; release_all or expiry frees them. */
	snprintf(q->err, sizeof q->err, "out of memory reading %zu claimed jobs", n);
	hp_jobs_free(jobs, n);
	PQclear(res);
	return r;
}

int hp_queue_explain_claim(hp_queue *q, char **ret_plan)
{
	const char *params[] = { q->owner, "16", "60", "3", watches_param(q) };
	char *sql = NULL;
	if (asprintf(&sql, "EXPLAIN %s", stmt_sql[S_CLAIM]) < 0)
		return -ENOMEM;
	PGresult *res;
	int r = q_exec(q, sql, 5, params, &res);
	free(sql);
	if (r < 0)
		return r;
	hp_buf b;
	hp_buf_init(&b, 0);
	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		r = hp_buf_addf(&b, "%s\n", PQgetvalue(res, i, 0));
	PQclear(res);
	char *plan = r == 0 ? hp_buf_steal(&b) : NULL;
	hp_buf_free(&b);
	if (!plan)
		return -ENOMEM;
	*ret_plan = plan;
	return 0;
}

/* ---- results -------------------------------------------------------------- */

int hp_queue_find_document(hp_queue *q, const char *sha256_hex, int64_t *ret_id)
{
	int64_t id = 0;
	int r = hp_queue_find_documents(q, &sha256_hex, 1, &id);
	if (r < 0)
		return r;
	if (id == 0)
		return -ENOENT;
	*ret_id = id;
	return 0;
}

int hp_queue_find_documents(hp_queue *q, const char *const *sha256_hex, size_t n, int64_t *ret_ids)
{
	if (n == 0)
		return 0;
	hp_buf a;
	int r = arr_open(&a);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = arr_text(&a, sha256_hex[i]);
	if (r == 0)
		r = arr_close(&a);
	PGresult *res = NULL;
	if (r == 0) {
		const char *params[] = { a.data };
		r = q_stmt(q, S_FIND, 1, params, &res);
	}
	hp_buf_free(&a);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		ret_ids[i] = 0;
	for (int row = 0; row < PQntuples(res); row++) {
		const char *sha = PQgetvalue(res, row, 0);
		int64_t id = strtoll(PQgetvalue(res, row, 1), NULL, 10);
		for (size_t i = 0; i < n; i++)
			if (strcmp(sha256_hex[i], sha) == 0)
				ret_ids[i] = id;
	}
	PQclear(res);
	return 0;
}

enum { CP_JOB, CP_SHA, CP_FMT, CP_TITLE, CP_BYTES, CP_PAGES, CP_MD, CP_META,
       CP_CK, CP_CORD, CP_CHEAD, CP_CBODY, CP_CTOK, CP_CPAGE, CP_CSTART, CP_CEND, CP__N };

static int complete_params(const hp_completion *items, size_t n, hp_buf a[CP__N])
{
	int r = 0;
	for (int k = 0; k < CP__N; k++) {
		int r2 = arr_open(&a[k]);
		if (r == 0)
			r = r2;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		const hp_completion *c = &items[i];
		const hp_doc *d = c->doc;
		if ((r = arr_i64(&a[CP_JOB], c->job_id)) < 0 || (r = arr_text(&a[CP_SHA], c->sha256_hex)) < 0 ||
		    (r = arr_text(&a[CP_FMT], d ? hp_format_name(d->format) : NULL)) < 0 ||
		    (r = arr_text(&a[CP_TITLE], d ? d->title : NULL)) < 0 ||
		    (r = arr_i64(&a[CP_BYTES], (int64_t)c->bytes)) < 0 ||
		    (r = d && d->pages > 0 ? arr_i64(&a[CP_PAGES], d->pages) : arr_num(&a[CP_PAGES], "NULL")) < 0 ||
		    (r = arr_text(&a[CP_MD], d ? (d->markdown ? d->markdown : "") : NULL)) < 0 ||
		    (r = arr_text(&a[CP_META], d ? d->meta_json : NULL)) < 0)
			break;
		for (size_t k = 0; d && r == 0 && k < c->n_chunks; k++) {
			const hp_chunk *ch = &c->chunks[k];
			if ((r = arr_i64(&a[CP_CK], (int64_t)i + 1)) < 0 || (r = arr_i64(&a[CP_CORD], (int64_t)k)) < 0 ||
			    (r = arr_text(&a[CP_CHEAD], ch->heading ? ch->heading : "")) < 0 ||
			    (r = arr_text(&a[CP_CBODY], ch->content ? ch->content : "")) < 0)
				break;
			if ((r = arr_i64(&a[CP_CTOK], ch->tokens)) < 0 || (r = arr_i64(&a[CP_CPAGE], ch->page)) < 0 ||
			    (r = arr_i64(&a[CP_CSTART], (int64_t)ch->start)) < 0)
				break;
			r = arr_i64(&a[CP_CEND], (int64_t)ch->end);
		}
	}
	for (int k = 0; r == 0 && k < CP__N; k++)
		r = arr_close(&a[k]);
	return r;
}

/* Fill each item's result from the statement's rows. */
static void complete_rows(hp_completion *items, size_t n, const PGresult *res)
{
	for (size_t i = 0; i < n; i++)
		items[i].result = -ESTALE;
	for (int row = 0; row < PQntuples(res); row++) {
		int64_t id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
		bool done = PQgetvalue(res, row, 1)[0] == 't';
		for (size_t i = 0; i < n; i++)
			if (items[i].job_id == id)
				items[i].result = done ? 0 : -EAGAIN;
	}
}

/* One statement for items[0..n): fills each item's result, or returns
 * the error of the whole batch. With send_only, the statement is sent and
 * the result left for async_finish. */
static int complete_once(hp_queue *q, hp_completion *items, size_t n, bool send_only)
{
	hp_buf a[CP__N];
	PGresult *res = NULL;
	int r = complete_params(items, n, a);
	const char *params[CP__N + 1] = { q->owner };
	for (int k = 0; k < CP__N; k++)
		params[k + 1] = a[k].data;
	if (r == 0 && !send_only)
		r = q_stmt(q, S_COMPLETE, CP__N + 1, params, &res);
	if (r == 0 && send_only) {
		if (q->async_busy)
			async_finish(q, true);
		char name[16];
		snprintf(name, sizeof name, "hp_%d", S_COMPLETE);
		if (!q->cprepared) {
			r = q_result(q, q->cconn, PQprepare(q->cconn, name, stmt_sql[S_COMPLETE], 0, NULL), NULL);
			if (r == 0)
				q->cprepared = true;
		}
		if (r == 0 && fault_now())
			fault_cut(q->cconn);
		if (r == 0 && !PQsendQueryPrepared(q->cconn, name, CP__N + 1, params, NULL, NULL, 0))
			r = q_error(q, q->cconn, NULL);
		if (r == 0) {
			q->async_busy = true;
			q->async_done = false;
			q->async_items = items;
			q->async_n = n;
		}
	}
	for (int k = 0; k < CP__N; k++)
		hp_buf_free(&a[k]);
	if (r < 0 || send_only)
		return r;
	complete_rows(items, n, res);
	PQclear(res);
	return 0;
}

static int lone_rejected(hp_queue *q, hp_completion *c);

static int complete_split(hp_queue *q, hp_completion *items, size_t n)
{
	int r = complete_once(q, items, n, false);
	/* Not the connection, not a passing condition: something in the data
	 * (or a trigger, a constraint the operator added) refuses it. */
	if (r != -EBADMSG && r != -EIO)
		return r;
	if (n > 1) {
		size_t h = n / 2;
		r = complete_split(q, items, h);
		return r == 0 ? complete_split(q, items + h, n - h) : r;
	}
	return lone_rejected(q, &items[0]);
}

/* Alone and still rejected: the result itself is bad, for good. */
static int lone_rejected(hp_queue *q, hp_completion *c)
{
	snprintf(c->error, sizeof c->error, "the database rejected the result: %.200s (permanent)", q->err);
	int r = hp_queue_fail(q, c->job_id, c->error);
	if (r < 0 && r != -ESTALE)
		return r;
	c->result = r == -ESTALE ? -ESTALE : -EBADMSG;
	return 0;
}


static int complete_check(hp_completion *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		items[i].result = -EAGAIN;
		items[i].error[0] = '\0';
		if (!items[i].sha256_hex || (items[i].doc && !items[i].doc->markdown))
			return -EINVAL;
	}
	return 0;
}

int hp_queue_complete_start(hp_queue *q, hp_completion *items, size_t n)
{
	if (q->async_busy || q->async_done)
		return -EBUSY;
	int r = complete_check(items, n);
	if (r < 0 || n == 0)
		return r;
	return complete_once(q, items, n, true);
}

/* Read the result of the batch in flight (waiting for it when wait). */
static int async_finish(hp_queue *q, bool wait)
{
	if (!q->async_busy)
		return 0;
	if (!wait) {
		if (!PQconsumeInput(q->cconn)) {
			hp_db_message(q->cconn, NULL, q->err, sizeof q->err);
			wait = true; /* broken: PQgetResult reports it at once */
		} else if (PQisBusy(q->cconn)) {
			return -EINPROGRESS;
		}
	}
	PGresult *res = PQgetResult(q->cconn), *more;
	while ((more = PQgetResult(q->cconn)))
		PQclear(more);
	q->async_busy = false;
	q->async_done = true;
	ExecStatusType st = PQresultStatus(res);
	int r = 0;
	if (st == PGRES_TUPLES_OK) {
		complete_rows(q->async_items, q->async_n, res);
	} else {
		r = q_error(q, q->cconn, res);
	}
	PQclear(res);
	if (r == -EBADMSG || r == -EIO) {
		/* Find the bad one the slow way, statement by statement. */
		hp_completion *items = q->async_items;
		size_t n = q->async_n;
		if (n > 1) {
			size_t h = n / 2;
			r = complete_split(q, items, h);
			if (r == 0)
				r = complete_split(q, items + h, n - h);
		} else {
			r = lone_rejected(q, &items[0]);
		}
	}
	q->async_r = r;
	return 0;
}

int hp_queue_complete_poll(hp_queue *q)
{
	if (!q->async_busy && !q->async_done)
		return 0;
	int r = async_finish(q, false);
	if (r == -EINPROGRESS)
		return r;
	q->async_done = false;
	q->async_items = NULL;
	q->async_n = 0;
	return q->async_r < 0 ? q->async_r : 1;
}

int hp_queue_complete_wait(hp_queue *q)
{
	async_finish(q, true);
	return hp_queue_complete_poll(q);
}

int hp_queue_complete_batch(hp_queue *q, hp_completion *items, size_t n)
{
	int r = complete_check(items, n);
	if (r < 0)
		return r;
	return n ? complete_split(q, items, n) : 0;
}

int hp_queue_complete(hp_queue *q, int64_t job_id, const char *sha256_hex, size_t bytes,
                      const hp_doc *doc, const hp_chunk *chunks, size_t n_chunks)
{
	if (!doc)
		return -EINVAL;
	hp_completion c = { .job_id = job_id, .sha256_hex = sha256_hex, .bytes = bytes, .doc = doc,
		            .chunks = chunks, .n_chunks = n_chunks };
	int r = hp_queue_complete_batch(q, &c, 1);
	return r < 0 ? r : c.result;
}

int hp_queue_link(hp_queue *q, int64_t job_id, int64_t document_id)
{
	char sid[24], sdoc[24];
	snprintf(sid, sizeof sid, "%" PRId64, job_id);
	snprintf(sdoc, sizeof sdoc, "%" PRId64, document_id);
	const char *params[] = { sid, q->owner, sdoc };
	int r = q_stmt_count(q, S_LINK, 3, params);
	if (r < 0)
		return r;
	return r == 1 ? 0 : -ESTALE;
}

/* An UPDATE/DELETE of one of our running jobs: 0, -ESTALE if it is not ours. */
static int update_ours(hp_queue *q, int s, int64_t job_id, const char *extra)
{
	char sid[24];
	snprintf(sid, sizeof sid, "%" PRId64, job_id);
	const char *params[] = { sid, q->owner, extra };
	int r = q_stmt_count(q, s, extra ? 3 : 2, params);
	if (r < 0)
		return r;
	return r == 1 ? 0 : -ESTALE;
}

int hp_queue_fail(hp_queue *q, int64_t job_id, const char *error)
{
	return update_ours(q, S_FAIL, job_id, error ? error : "failed");
}

int hp_queue_retry(hp_queue *q, int64_t job_id, const char *error)
{
	char sid[24], satt[16], sbase[24], smax[24];
	snprintf(sid, sizeof sid, "%" PRId64, job_id);
	snprintf(satt, sizeof satt, "%d", q->pol.max_attempts);
	snprintf(sbase, sizeof sbase, "%" PRIu64, q->pol.retry_delay_ms);
	snprintf(smax, sizeof smax, "%" PRIu64, q->pol.retry_max_ms);
	const char *params[] = { sid, q->owner, error ? error : "failed", satt, sbase, smax };
	PGresult *res;
	int r = q_stmt(q, S_RETRY, 6, params, &res);
	if (r < 0)
		return r;
	r = PQntuples(res) != 1 ? -ESTALE : strcmp(PQgetvalue(res, 0, 0), "failed") == 0 ? 1 : 0;
	PQclear(res);
	return r;
}

int hp_queue_requeue(hp_queue *q, int64_t job_id)
{
	return update_ours(q, S_REQUEUE, job_id, NULL);
}

int hp_queue_forget(hp_queue *q, int64_t job_id)
{
	return update_ours(q, S_FORGET, job_id, NULL);
}

int hp_queue_release_all(hp_queue *q)
{
	const char *params[] = { q->owner };
	/* Shutdown is not the file's fault: the attempt does not count. */
	return q_exec_count(q,
	                    "UPDATE hopper.jobs SET state = 'queued', not_before = now(),"
	                    " attempts = greatest(attempts - 1, 0), lease_owner = NULL, lease_until = NULL"
	                    " WHERE state = 'running' AND lease_owner = $1",
	                    1, params);
}

int hp_queue_lease_owners(hp_queue *q, const char *prefix, char ***ret_owners, size_t *ret_n)
{
	const char *params[] = { prefix };
	PGresult *res;
	/* starts_with() rather than LIKE: a node name may hold '%' or '_'. */
	int r = q_exec(q,
	               "SELECT DISTINCT lease_owner FROM hopper.jobs"
	               " WHERE state = 'running' AND starts_with(lease_owner, $1)",
	               1, params, &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	char **owners = calloc(n + 1, sizeof *owners);
	if (!owners) {
		PQclear(res);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (!(owners[i] = strdup(PQgetvalue(res, (int)i, 0)))) {
			hp_strv_free(owners);
			PQclear(res);
			return -ENOMEM;
		}
	PQclear(res);
	*ret_owners = owners;
	*ret_n = n;
	return 0;
}

int hp_queue_release_owner(hp_queue *q, const char *owner)
{
	const char *params[] = { owner };
	int r = q_exec(q, "DELETE FROM hopper.worker_procs WHERE owner = $1", 1, params, NULL);
	if (r < 0)
		return r;
	return q_exec_count(q,
	                    "UPDATE hopper.jobs SET state = 'queued', not_before = now(),"
	                    " lease_owner = NULL, lease_until = NULL"
	                    " WHERE state = 'running' AND lease_owner = $1",
	                    1, params);
}

int hp_queue_renew(hp_queue *q, int lease_s, const int64_t *ids, size_t n)
{
	if (n == 0)
		return 0;
	char slease[16];
	snprintf(slease, sizeof slease, "%d", lease_s > 0 ? lease_s : 1);
	hp_buf arr;
	int r = arr_open(&arr);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = arr_i64(&arr, ids[i]);
	if (r == 0)
		r = arr_close(&arr);
	if (r == 0) {
		const char *params[] = { q->owner, slease, arr.data };
		r = q_stmt_count(q, S_RENEW, 3, params);
	}
	hp_buf_free(&arr);
	return r;
}

int hp_queue_workers_publish(hp_queue *q, const char *node, const hp_queue_worker *w, size_t n)
{
	hp_buf pid, job, age;
	int r = arr_open(&pid);
	int r2 = arr_open(&job), r3 = arr_open(&age);
	if (r == 0)
		r = r2 ? r2 : r3;
	for (size_t i = 0; r == 0 && i < n; i++)
		if ((r = arr_i64(&pid, w[i].pid)) < 0 || (r = arr_i64(&job, w[i].job_id)) < 0 ||
		    (r = arr_i64(&age, (int64_t)w[i].age_ms)) < 0)
			break;
	if (r == 0 && (r = arr_close(&pid)) == 0 && (r = arr_close(&job)) == 0)
		r = arr_close(&age);
	if (r == 0) {
		const char *params[] = { q->owner, node, pid.data, job.data, age.data };
		r = q_stmt(q, S_WORKERS, 5, params, NULL);
	}
	hp_buf_free(&pid);
	hp_buf_free(&job);
	hp_buf_free(&age);
	return r;
}

int hp_queue_retry_failed(PGconn *conn, const int64_t *ids, size_t n)
{
	hp_buf arr;
	int r = arr_open(&arr);
	for (size_t i = 0; r == 0 && ids && i < n; i++)
		r = arr_i64(&arr, ids[i]);
	if (r == 0)
		r = arr_close(&arr);
	if (r < 0) {
		hp_buf_free(&arr);
		return r;
	}
	const char *params[] = { ids ? arr.data : NULL };
	PGresult *res = PQexecParams(conn,
	                             "WITH back AS ("
	                             " UPDATE hopper.jobs SET state = 'queued', attempts = 0, error = NULL,"
	                             "  not_before = now(), finished_at = NULL"
	                             " WHERE state = 'failed' AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[]))"
	                             " RETURNING 1)"
	                             "SELECT n, CASE WHEN n > 0 THEN pg_notify('" NOTIFY_CHANNEL "', '') END"
	                             " FROM (SELECT count(*) AS n FROM back) c",
	                             1, NULL, params, NULL, NULL, 0);
	hp_buf_free(&arr);
	r = PQresultStatus(res) == PGRES_TUPLES_OK ? atoi(PQgetvalue(res, 0, 0)) : -EIO;
	PQclear(res);
	return r;
}

/* ---- wake-ups ------------------------------------------------------------- */

int hp_queue_drain_notify(hp_queue *q)
{
	if (!PQconsumeInput(q->conn) || PQstatus(q->conn) == CONNECTION_BAD) {
		hp_db_message(q->conn, NULL, q->err, sizeof q->err);
		return -ECONNRESET;
	}
	if (!q->async_busy && PQsocket(q->cconn) >= 0 &&
	    (!PQconsumeInput(q->cconn) || PQstatus(q->cconn) == CONNECTION_BAD)) {
		hp_db_message(q->cconn, NULL, q->err, sizeof q->err);
		return -ECONNRESET;
	}
	int n = 0;
	PGnotify *nf;
	while ((nf = PQnotifies(q->conn))) {
		n++;
		PQfreemem(nf);
	}
	return n;
}

int hp_queue_backlog(hp_queue *q, int64_t *ret)
{
	const char *params[] = { q->watches };
	PGresult *res;
	/* Three counts, each over one claim index. */
	int r = q_exec(q,
	               "SELECT (SELECT count(*) FROM hopper.jobs WHERE state = 'queued'"
	               "         AND ($1::text[] IS NULL OR watch = ANY($1::text[])))"
	               "     + (SELECT count(*) FROM hopper.jobs WHERE state = 'retry' AND not_before <= now()"
	               "         AND ($1::text[] IS NULL OR watch = ANY($1::text[])))"
	               "     + (SELECT count(*) FROM hopper.jobs WHERE state = 'running' AND lease_until < now()"
	               "         AND ($1::text[] IS NULL OR watch = ANY($1::text[])))",
	               1, params, &res);
	if (r < 0)
		return r;
	*ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/* ---- the statements ----------------------------------------------------------- */

/* Parameters of S_COMPLETE: $1 owner, then the CP_ arrays as $2..$17
 * (chunk page 0 = not paged, stored NULL). */
static const char *const stmt_sql[S__N] = {
	/* One statement inserts the new versions, counts them, notifies
	 * listeners (delivered at commit) only when there was one, and makes
	 * its own commit durable (see hp_queue_enqueue). */
	[S_ENQUEUE] =
	"WITH ins AS ("
	" INSERT INTO hopper.jobs (watch, path, rel_path, dev, ino, size, mtime_ns, priority, chunk_tokens)"
	" SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::numeric[], $5::numeric[],"
	"                      $6::bigint[], $7::bigint[], $8::int[], $9::int[])"
	" ON CONFLICT (watch, sha256(rel_path), ino, size, mtime_ns) DO NOTHING"
	" RETURNING 1)"
	"SELECT n, CASE WHEN n > 0 THEN pg_notify('" NOTIFY_CHANNEL "', '') END,"
	" set_config('synchronous_commit', 'on', true)"
	" FROM (SELECT count(*) AS n FROM ins) c",

	/* SKIP LOCKED: concurrent claimers (daemons) each take rows nobody else
	 * is taking, and nobody waits. Three sources, each an index walk in
	 * its own order with a LIMIT (migration 002): queued jobs, retries
	 * that are due, running jobs whose lease ran out (their daemon died:
	 * taking one counts an attempt). Expired jobs that used up their
	 * attempts fail instead. Only jobs of our watches ($5). */
	[S_CLAIM] =
	"WITH spent AS ("
	" UPDATE hopper.jobs SET state = 'failed', finished_at = now(),"
	"  lease_owner = NULL, lease_until = NULL,"
	"  error = 'its daemon stopped while converting it, ' || attempts || ' times (lease expired)'"
	" WHERE id IN (SELECT id FROM hopper.jobs"
	"              WHERE state = 'running' AND lease_until < now() AND attempts >= $4::int"
	"                AND watch = ANY($5::text[])"
	"              ORDER BY lease_until LIMIT 100 FOR UPDATE SKIP LOCKED)),"
	"ready AS ("
	" SELECT id, priority FROM hopper.jobs"
	" WHERE state = 'queued' AND watch = ANY($5::text[])"
	" ORDER BY priority DESC, id LIMIT $2::int FOR UPDATE SKIP LOCKED),"
	"due AS ("
	" SELECT id, priority FROM hopper.jobs"
	" WHERE state = 'retry' AND not_before <= now() AND watch = ANY($5::text[])"
	" ORDER BY not_before LIMIT $2::int FOR UPDATE SKIP LOCKED),"
	"expired AS ("
	" SELECT id, priority FROM hopper.jobs"
	" WHERE state = 'running' AND lease_until < now() AND attempts < $4::int"
	"   AND watch = ANY($5::text[])"
	" ORDER BY lease_until LIMIT $2::int FOR UPDATE SKIP LOCKED),"
	"pick AS ("
	" SELECT * FROM ready UNION ALL SELECT * FROM due UNION ALL SELECT * FROM expired),"
	"c AS ("
	" UPDATE hopper.jobs j SET state = 'running', attempts = j.attempts + 1,"
	"  started_at = now(), finished_at = NULL,"
	"  lease_owner = $1, lease_until = now() + $3::int * interval '1 second'"
	" FROM (SELECT id FROM pick ORDER BY priority DESC, id LIMIT $2::int) p"
	" WHERE j.id = p.id"
	" RETURNING j.id, j.watch, j.path, j.rel_path, j.size, j.dev, j.ino, j.mtime_ns,"
	"  j.attempts, j.chunk_tokens, j.priority)"
	"SELECT id, watch, path, rel_path, size, dev, ino, mtime_ns, attempts, chunk_tokens"
	" FROM c ORDER BY priority DESC, id",

	/* A batch of results in one statement (one commit). mine: the jobs
	 * still running under our lease, locked; firsts: one new document per
	 * content; docs: the id of every content, new or stored before; done:
	 * those jobs marked. A job of ours that found no document (a
	 * concurrent writer's row not yet visible) stays running: -EAGAIN.
	 * docs is MATERIALIZED: used once, it would be inlined into done's
	 * join, and its lookup of stored documents ran again for every job of
	 * the batch (n^2 index scans: 16 of the 18 ms of a batch of 64). */
	[S_COMPLETE] =
	"WITH input AS ("
	" SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[],"
	"                      $7::int[], $8::text[], $9::text[])"
	"  WITH ORDINALITY AS u(job, sha, fmt, title, bytes, pages, md, meta, k)),"
	"mine AS ("
	" SELECT id FROM hopper.jobs"
	" WHERE id = ANY($2::bigint[]) AND state = 'running' AND lease_owner = $1 FOR UPDATE),"
	"todo AS (SELECT i.* FROM input i JOIN mine m ON m.id = i.job),"
	"firsts AS ("
	" SELECT DISTINCT ON (sha) * FROM todo WHERE md IS NOT NULL ORDER BY sha, k),"
	"ins AS ("
	" INSERT INTO hopper.documents (sha256, format, title, bytes, pages, markdown, meta)"
	" SELECT sha, fmt, title, bytes, pages, md, meta::jsonb FROM firsts"
	" ON CONFLICT (sha256) DO NOTHING RETURNING id, sha256),"
	"ck AS ("
	" INSERT INTO hopper.chunks (document_id, ordinal, heading, content, tokens,"
	"  page, start_byte, end_byte)"
	" SELECT ins.id, c.ord, c.h, c.body, c.t, nullif(c.p, 0), c.sb, c.eb"
	" FROM unnest($10::bigint[], $11::int[], $12::text[], $13::text[], $14::int[],"
	"             $15::int[], $16::bigint[], $17::bigint[])"
	"  AS c(k, ord, h, body, t, p, sb, eb)"
	" JOIN firsts f ON f.k = c.k JOIN ins ON ins.sha256 = f.sha),"
	"docs AS MATERIALIZED ("
	" SELECT sha256, id FROM ins"
	" UNION ALL"
	" SELECT sha256, id FROM hopper.documents WHERE sha256 IN (SELECT sha FROM todo)),"
	"done AS ("
	" UPDATE hopper.jobs j SET state = 'done', finished_at = now(), error = NULL,"
	"  document_id = docs.id, lease_owner = NULL, lease_until = NULL"
	" FROM todo JOIN docs ON docs.sha256 = todo.sha"
	" WHERE j.id = todo.job"
	" RETURNING j.id)"
	"SELECT m.id, d.id IS NOT NULL FROM mine m LEFT JOIN done d ON d.id = m.id",

	[S_FIND] = "SELECT sha256, id FROM hopper.documents WHERE sha256 = ANY($1::text[])",

	[S_LINK] =
	"UPDATE hopper.jobs SET state = 'done', finished_at = now(), error = NULL,"
	" document_id = $3, lease_owner = NULL, lease_until = NULL"
	" WHERE id = $1 AND state = 'running' AND lease_owner = $2",

	[S_FAIL] =
	"UPDATE hopper.jobs SET state = 'failed', error = $3, finished_at = now(),"
	" lease_owner = NULL, lease_until = NULL"
	" WHERE id = $1 AND state = 'running' AND lease_owner = $2",

	/* Backoff: retry_delay * 2^(attempts-1), capped, times 0.75..1.25 so
	 * that jobs failing together do not come back together. */
	[S_RETRY] =
	"UPDATE hopper.jobs SET"
	" state = CASE WHEN attempts >= $4::int THEN 'failed' ELSE 'retry' END,"
	" error = $3,"
	" finished_at = CASE WHEN attempts >= $4::int THEN now() END,"
	" not_before = now() + least($6::float8, $5::float8 * power(2, greatest(attempts - 1, 0)))"
	"              * (0.75 + random() * 0.5) * interval '1 millisecond',"
	" lease_owner = NULL, lease_until = NULL"
	" WHERE id = $1 AND state = 'running' AND lease_owner = $2"
	" RETURNING state",

	[S_REQUEUE] =
	"UPDATE hopper.jobs SET state = 'queued', not_before = now(),"
	" lease_owner = NULL, lease_until = NULL"
	" WHERE id = $1 AND state = 'running' AND lease_owner = $2",

	[S_FORGET] = "DELETE FROM hopper.jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2",

	[S_RENEW] =
	"UPDATE hopper.jobs SET lease_until = now() + $2::int * interval '1 second'"
	" WHERE state = 'running' AND lease_owner = $1 AND id = ANY($3::bigint[])",

	/* Upsert the live workers, drop the rows of those gone. */
	[S_WORKERS] =
	"WITH up AS ("
	" INSERT INTO hopper.worker_procs (owner, node, pid, job_id, since, seen_at)"
	" SELECT $1, $2, u.pid, nullif(u.job, 0), now() - u.age * interval '1 millisecond', now()"
	" FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS u(pid, job, age)"
	" ON CONFLICT (owner, pid) DO UPDATE SET job_id = excluded.job_id, since = excluded.since,"
	"  seen_at = excluded.seen_at)"
	"DELETE FROM hopper.worker_procs WHERE owner = $1 AND NOT (pid = ANY($3::int[]))",
};

/* ---- catch-up: the versions a watch already has --------------------------- */

/* One version: the identity of the unique index (the watch is the set's),
 * its relative path at arena + off. Sorted by ino first: inodes rarely
 * repeat, so a lookup seldom compares names. */
typedef struct known_entry {
	uint64_t ino;
	int64_t size, mtime_ns;
	size_t off, len;
} known_entry;

struct hp_known {
	known_entry *e;
	size_t n;
	char *arena;
};

/* Entry a (names in arena) against the version (ino, size, mtime_ns,
 * rel[0..rel_len)): <0, 0, >0. */
static int known_cmp(const char *arena, const known_entry *a, uint64_t ino, int64_t size, int64_t mtime_ns,
                     const char *rel, size_t rel_len)
{
	if (a->ino != ino)
		return a->ino < ino ? -1 : 1;
	if (a->size != size)
		return a->size < size ? -1 : 1;
	if (a->mtime_ns != mtime_ns)
		return a->mtime_ns < mtime_ns ? -1 : 1;
	size_t m = a->len < rel_len ? a->len : rel_len;
	int c = m ? memcmp(arena + a->off, rel, m) : 0;
	if (c)
		return c;
	return a->len < rel_len ? -1 : a->len > rel_len;
}

static int known_sort_cmp(const void *pa, const void *pb, void *arena)
{
	const known_entry *a = pa, *b = pb;
	return known_cmp(arena, a, b->ino, b->size, b->mtime_ns, (const char *)arena + b->off, b->len);
}

static int64_t be_i64(const char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | (unsigned char)p[i];
	return (int64_t)v;
}

int hp_queue_known_load(hp_queue *q, const char *watch, hp_known **ret)
{
	if (fault_now())
		fault_cut(q->conn);
	/* Binary results: rel_path as its bytes, size and mtime as 8-byte
	 * integers; ino is numeric (a u64), sent as its digits. */
	const char *params[] = { watch };
	PGresult *res = NULL;
	int r = q_result(q, q->conn,
	                 PQexecParams(q->conn,
	                              "SELECT rel_path, ino::text, size, mtime_ns FROM hopper.jobs"
	                              " WHERE watch = $1 AND rel_path IS NOT NULL",
	                              1, NULL, params, NULL, NULL, 1),
	                 &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res), bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += (size_t)PQgetlength(res, (int)i, 0);
	hp_known *k = calloc(1, sizeof *k);
	if (k) {
		k->e = malloc((n ? n : 1) * sizeof *k->e);
		k->arena = malloc(bytes ? bytes : 1);
	}
	if (!k || !k->e || !k->arena) {
		r = -ENOMEM;
		goto out;
	}
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		int row = (int)i;
		if (PQgetisnull(res, row, 1) || PQgetisnull(res, row, 2) || PQgetisnull(res, row, 3) ||
		    PQgetlength(res, row, 2) != 8 || PQgetlength(res, row, 3) != 8)
			continue; /* not a version the scan could match */
		char digits[24];
		int dl = PQgetlength(res, row, 1);
		if (dl <= 0 || dl >= (int)sizeof digits)
			continue;
		memcpy(digits, PQgetvalue(res, row, 1), (size_t)dl);
		digits[dl] = '\0';
		size_t len = (size_t)PQgetlength(res, row, 0);
		memcpy(k->arena + at, PQgetvalue(res, row, 0), len);
		k->e[k->n++] = (known_entry){
			.ino = strtoull(digits, NULL, 10),
			.size = be_i64(PQgetvalue(res, row, 2)),
			.mtime_ns = be_i64(PQgetvalue(res, row, 3)),
			.off = at,
			.len = len,
		};
		at += len;
	}
	qsort_r(k->e, k->n, sizeof *k->e, known_sort_cmp, k->arena);
	*ret = k;
	k = NULL;
	r = 0;
out:
	hp_known_free(k);
	PQclear(res);
	return r;
}

size_t hp_known_count(const hp_known *k)
{
	return k ? k->n : 0;
}

bool hp_known_has(const hp_known *k, const char *rel, uint64_t ino, int64_t size, int64_t mtime_ns)
{
	if (!k || !rel)
		return false;
	size_t lo = 0, hi = k->n, len = strlen(rel);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = known_cmp(k->arena, &k->e[mid], ino, size, mtime_ns, rel, len);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void hp_known_free(hp_known *k)
{
	if (!k)
		return;
	free(k->e);
	free(k->arena);
	free(k);
}
