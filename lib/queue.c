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
 * split, and the row that fails alone is logged here, where it is dropped.
 * The parts of the queue and what they share: queue_int.h. */
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
#include "queue_int.h"

/* ---- the statements, by index (the SQL is beside the code that runs it) -- */

static const char *const stmt_sql[S__N] = {
	[S_ENQUEUE] = hp_q_sql_enqueue, [S_CLAIM] = hp_q_sql_claim, [S_COMPLETE] = hp_q_sql_complete,
	[S_FIND] = hp_q_sql_find, [S_LINK] = hp_q_sql_link, [S_FAIL] = hp_q_sql_fail,
	[S_RETRY] = hp_q_sql_retry, [S_REQUEUE] = hp_q_sql_requeue, [S_FORGET] = hp_q_sql_forget,
	[S_RENEW] = hp_q_sql_renew, [S_WORKERS] = hp_q_sql_workers,
};

/* ---- fault injection (HOPPER_FAULT_QUERY=N[,M...]) ------------------------ */

static unsigned long fault_count;
static char fault_spec[64];

/* Is this statement one to fail? Statements are counted from the moment
 * the variable took its current value (so a test can set it mid-run). */
bool hp_q_fault_now(void)
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
int hp_q_error(hp_queue *q, PGconn *c, const PGresult *res)
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
void hp_q_fault_cut(PGconn *c)
{
	int fd = PQsocket(c);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

int hp_q_result(hp_queue *q, PGconn *c, PGresult *res, PGresult **ret_res)
{
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		int r = hp_q_error(q, c, res);
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
int hp_q_exec(hp_queue *q, const char *sql, int nparams, const char *const *params,
                  PGresult **ret_res)
{
	if (hp_q_fault_now())
		hp_q_fault_cut(q->conn);
	return hp_q_result(q, q->conn, PQexecParams(q->conn, sql, nparams, NULL, params, NULL, NULL, 0), ret_res);
}


/* Run prepared statement `s`, preparing it on first use on this connection. */
int hp_q_stmt(hp_queue *q, int s, int nparams, const char *const *params, PGresult **ret_res)
{
	if (hp_q_fault_now())
		hp_q_fault_cut(q->conn);
	char name[16];
	snprintf(name, sizeof name, "hp_%d", s);
	if (!q->prepared[s]) {
		int r = hp_q_result(q, q->conn, PQprepare(q->conn, name, stmt_sql[s], 0, NULL), NULL);
		if (r < 0)
			return r;
		q->prepared[s] = true;
	}
	return hp_q_result(q, q->conn, PQexecPrepared(q->conn, name, nparams, params, NULL, NULL, 0), ret_res);
}

/* Rows touched by an UPDATE/INSERT/DELETE. */
int hp_q_stmt_count(hp_queue *q, int s, int nparams, const char *const *params)
{
	PGresult *res;
	int r = hp_q_stmt(q, s, nparams, params, &res);
	if (r < 0)
		return r;
	r = atoi(PQcmdTuples(res));
	PQclear(res);
	return r;
}

int hp_q_exec_count(hp_queue *q, const char *sql, int nparams, const char *const *params)
{
	PGresult *res;
	int r = hp_q_exec(q, sql, nparams, params, &res);
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
	int r = hp_q_exec(q, set_sql, 2, params, NULL);
	if (r == 0)
		r = hp_q_exec(q, "LISTEN " HP_Q_NOTIFY_CHANNEL, 0, NULL, NULL);
	/* The completion connection: the same settings, no LISTEN. */
	if (r == 0 && q->cconn && PQstatus(q->cconn) == CONNECTION_OK && !q->async_busy)
		r = hp_q_result(q, q->cconn, PQexecParams(q->cconn, set_sql, 2, NULL, params, NULL, NULL, 0), NULL);
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
		hp_q_async_finish(q, true);
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
			hp_q_async_finish(q, true);
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
int hp_q_arr_open(hp_buf *b)
{
	hp_buf_init(b, 0);
	return hp_buf_addc(b, '{');
}

int hp_q_arr_text(hp_buf *b, const char *s)
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
int hp_q_arr_bytea(hp_buf *b, const char *s)
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

int hp_q_arr_num(hp_buf *b, const char *fmt_num)
{
	int r = 0;
	if (b->len > 1)
		r = hp_buf_addc(b, ',');
	return r == 0 ? hp_buf_addstr(b, fmt_num) : r;
}

int hp_q_arr_i64(hp_buf *b, int64_t v)
{
	char s[24];
	snprintf(s, sizeof s, "%" PRId64, v);
	return hp_q_arr_num(b, s);
}

int hp_q_arr_u64(hp_buf *b, uint64_t v)
{
	char s[24];
	snprintf(s, sizeof s, "%" PRIu64, v);
	return hp_q_arr_num(b, s);
}

int hp_q_arr_close(hp_buf *b)
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
	int r = hp_q_arr_open(&a);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = hp_q_arr_text(&a, names[i]);
	if (r == 0)
		r = hp_q_arr_close(&a);
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
		r = hp_q_exec_count(q,
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
int hp_queue_workers_publish(hp_queue *q, const char *node, const hp_queue_worker *w, size_t n)
{
	hp_buf pid, job, age;
	int r = hp_q_arr_open(&pid);
	int r2 = hp_q_arr_open(&job), r3 = hp_q_arr_open(&age);
	if (r == 0)
		r = r2 ? r2 : r3;
	for (size_t i = 0; r == 0 && i < n; i++)
		if ((r = hp_q_arr_i64(&pid, w[i].pid)) < 0 || (r = hp_q_arr_i64(&job, w[i].job_id)) < 0 ||
		    (r = hp_q_arr_i64(&age, (int64_t)w[i].age_ms)) < 0)
			break;
	if (r == 0 && (r = hp_q_arr_close(&pid)) == 0 && (r = hp_q_arr_close(&job)) == 0)
		r = hp_q_arr_close(&age);
	if (r == 0) {
		const char *params[] = { q->owner, node, pid.data, job.data, age.data };
		r = hp_q_stmt(q, S_WORKERS, 5, params, NULL);
	}
	hp_buf_free(&pid);
	hp_buf_free(&job);
	hp_buf_free(&age);
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

/* Upsert the live workers, drop the rows of those gone. */
const char hp_q_sql_workers[] =
	"WITH up AS ("
	" INSERT INTO hopper.worker_procs (owner, node, pid, job_id, since, seen_at)"
	" SELECT $1, $2, u.pid, nullif(u.job, 0), now() - u.age * interval '1 millisecond', now()"
	" FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS u(pid, job, age)"
	" ON CONFLICT (owner, pid) DO UPDATE SET job_id = excluded.job_id, since = excluded.since,"
	"  seen_at = excluded.seen_at)"
	"DELETE FROM hopper.worker_procs WHERE owner = $1 AND NOT (pid = ANY($3::int[]))";
