/* queue.c — the job queue in PostgreSQL, see include/hopper/queue.h
 *
 * Every value travels as a query parameter (PQexecParams); no SQL is built
 * from data. Batches travel as array parameters unpacked with unnest(), so
 * one statement carries many rows (PLATFORM.md: batching is what gives
 * thousands of files per second).
 *
 * Connection loss shows as -ECONNRESET; the caller then calls
 * hp_queue_reconnect. Any open transaction died with the connection, so
 * nothing half-done is left behind. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/db.h"
#include "hopper/migrate.h"
#include "hopper/queue.h"

#define NOTIFY_CHANNEL "hopper_jobs"
/* Rows per INSERT statement: big enough to amortise the round trip, small
 * enough to keep one statement's parameters modest. */
#define ENQUEUE_BATCH 500

struct hp_queue {
	PGconn *conn;
	char *owner;
};

/* Log what failed with the server's words. -ECONNRESET when the connection
 * is gone, -EAGAIN for serialization failures and deadlocks (retry), -ENOENT
 * for a reference to a row that does not exist, else -EIO. */
static int q_error(hp_queue *q, PGresult *res, const char *what)
{
	char msg[1024];
	hp_db_message(q->conn, res, msg, sizeof msg);
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	/* Class 08: connection exception; 57P0x: the server is shutting down. */
	if (PQstatus(q->conn) == CONNECTION_BAD ||
	    (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0))) {
		hp_warn("queue: lost the database connection while %s: %s", what, msg);
		return -ECONNRESET;
	}
	hp_err("queue: %s failed: %s", what, msg);
	if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
		return -EAGAIN;
	if (state && strcmp(state, "23503") == 0)
		return -ENOENT;
	return -EIO;
}

/* Run one statement with text parameters. On success *ret_res (if not NULL)
 * holds the result for the caller to PQclear. */
static int q_exec(hp_queue *q, const char *what, const char *sql, int nparams,
                  const char *const *params, PGresult **ret_res)
{
	PGresult *res = PQexecParams(q->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		int r = q_error(q, res, what);
		PQclear(res);
		return r;
	}
	if (ret_res)
		*ret_res = res;
	else
		PQclear(res);
	return 0;
}

/* Rows touched by an UPDATE/INSERT. */
static int q_exec_count(hp_queue *q, const char *what, const char *sql, int nparams,
                        const char *const *params)
{
	PGresult *res;
	int r = q_exec(q, what, sql, nparams, params, &res);
	if (r < 0)
		return r;
	r = atoi(PQcmdTuples(res));
	PQclear(res);
	return r;
}

static void q_rollback(hp_queue *q)
{
	if (PQstatus(q->conn) == CONNECTION_OK && PQtransactionStatus(q->conn) != PQTRANS_IDLE)
		PQclear(PQexec(q->conn, "ROLLBACK"));
}

static int q_listen(hp_queue *q)
{
	return q_exec(q, "listening for new jobs", "LISTEN " NOTIFY_CHANNEL, 0, NULL, NULL);
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
	q->conn = hp_db_connect(conninfo, err, sizeof err);
	if (!q->conn) {
		hp_err("%s", err);
		r = -ECONNREFUSED;
		goto fail;
	}
	r = hp_migrate(q->conn);
	if (r < 0)
		goto fail;
	r = q_listen(q);
	if (r < 0)
		goto fail;
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
	PQfinish(q->conn);
	free(q->owner);
	free(q);
}

int hp_queue_fd(const hp_queue *q)
{
	return PQsocket(q->conn);
}

PGconn *hp_queue_conn(hp_queue *q)
{
	return q->conn;
}

int hp_queue_reconnect(hp_queue *q)
{
	PQreset(q->conn);
	if (PQstatus(q->conn) != CONNECTION_OK) {
		char msg[1024];
		hp_db_message(q->conn, NULL, msg, sizeof msg);
		hp_warn("queue: cannot reconnect to the database: %s", msg);
		return -ECONNREFUSED;
	}
	int r = q_listen(q);
	if (r == 0)
		hp_notice("queue: reconnected to the database");
	return r;
}

/* ---- array parameters ----------------------------------------------------
 * PostgreSQL's array literal: {"a","b\"c",NULL}; inside double quotes only
 * '"' and '\' need a backslash. */
static int arr_text(hp_buf *b, const char *s)
{
	int r = 0;
	if (b->len > 1)
		r = hp_buf_addc(b, ',');
	if (r == 0 && !s)
		return hp_buf_addstr(b, "NULL");
	if (r == 0)
		r = hp_buf_addc(b, '"');
	for (const char *p = s; r == 0 && *p; p++) {
		if (*p == '"' || *p == '\\')
			r = hp_buf_addc(b, '\\');
		if (r == 0)
			r = hp_buf_addc(b, *p);
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

/* ---- enqueue ------------------------------------------------------------ */

enum { EQ_WATCH, EQ_PATH, EQ_DEV, EQ_INO, EQ_SIZE, EQ_MTIME, EQ_PRIO, EQ_TOKENS, EQ__N };

static int enqueue_batch(hp_queue *q, const hp_file_ref *files, size_t n, size_t *ret_added)
{
	/* One statement inserts the new versions, counts them, and notifies
	 * listeners (delivered at commit) only when there was one. */
	static const char sql[] =
		"WITH ins AS ("
		" INSERT INTO hopper.jobs (watch, path, dev, ino, size, mtime_ns, priority, chunk_tokens)"
		" SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::numeric[],"
		"                      $5::bigint[], $6::bigint[], $7::int[], $8::int[])"
		" ON CONFLICT (path, dev, ino, size, mtime_ns) DO NOTHING"
		" RETURNING 1)"
		"SELECT n, CASE WHEN n > 0 THEN pg_notify('" NOTIFY_CHANNEL "', '') END"
		" FROM (SELECT count(*) AS n FROM ins) c";
	hp_buf a[EQ__N];
	PGresult *res = NULL;
	int r = 0;
	for (int k = 0; k < EQ__N; k++) {
		hp_buf_init(&a[k], 0);
		if (r == 0)
			r = hp_buf_addc(&a[k], '{');
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const hp_file_ref *f = &files[i];
		if (!f->path || !f->watch) {
			r = -EINVAL;
			break;
		}
		if ((r = arr_text(&a[EQ_WATCH], f->watch)) < 0 || (r = arr_text(&a[EQ_PATH], f->path)) < 0 ||
		    (r = arr_u64(&a[EQ_DEV], f->dev)) < 0 || (r = arr_u64(&a[EQ_INO], f->ino)) < 0 ||
		    (r = arr_i64(&a[EQ_SIZE], f->size)) < 0 || (r = arr_i64(&a[EQ_MTIME], f->mtime_ns)) < 0 ||
		    (r = arr_i64(&a[EQ_PRIO], f->priority)) < 0 ||
		    (r = f->chunk_tokens > 0 ? arr_i64(&a[EQ_TOKENS], f->chunk_tokens)
		                             : arr_num(&a[EQ_TOKENS], "NULL")) < 0)
			break;
	}
	for (int k = 0; k < EQ__N && r == 0; k++)
		r = hp_buf_addc(&a[k], '}');
	if (r < 0)
		goto out;
	const char *params[EQ__N];
	for (int k = 0; k < EQ__N; k++)
		params[k] = a[k].data;
	r = q_exec(q, "queueing files", sql, EQ__N, params, &res);
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

int hp_queue_enqueue(hp_queue *q, const hp_file_ref *files, size_t n, size_t *ret_added)
{
	size_t added = 0;
	for (size_t i = 0; i < n; i += ENQUEUE_BATCH) {
		size_t k = n - i < ENQUEUE_BATCH ? n - i : ENQUEUE_BATCH, got = 0;
		int r = enqueue_batch(q, files + i, k, &got);
		if (r < 0)
			return r;
		added += got;
	}
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
	}
	free(jobs);
}

int hp_queue_claim(hp_queue *q, size_t max, int lease_s, hp_job **ret_jobs, size_t *ret_n)
{
	/* SKIP LOCKED: concurrent claimers (threads, daemons) each take rows
	 * nobody else is taking, and nobody waits. A running job whose lease
	 * ran out belongs to a daemon that died: it is taken again, and that
	 * counts as an attempt. */
	static const char sql[] =
		"WITH c AS ("
		" UPDATE hopper.jobs j SET state = 'running', attempts = j.attempts + 1,"
		"  started_at = now(), finished_at = NULL,"
		"  lease_owner = $1, lease_until = now() + $3::int * interval '1 second'"
		" FROM (SELECT id FROM hopper.jobs"
		"       WHERE (state IN ('queued', 'retry') AND not_before <= now())"
		"          OR (state = 'running' AND lease_until < now())"
		"       ORDER BY priority DESC, id"
		"       LIMIT $2 FOR UPDATE SKIP LOCKED) pick"
		" WHERE j.id = pick.id"
		" RETURNING j.id, j.watch, j.path, j.size, j.dev, j.ino, j.mtime_ns, j.attempts,"
		"  j.chunk_tokens, j.priority)"
		"SELECT id, watch, path, size, dev, ino, mtime_ns, attempts, chunk_tokens"
		" FROM c ORDER BY priority DESC, id";
	if (max == 0) {
		*ret_jobs = NULL;
		*ret_n = 0;
		return 0;
	}
	char smax[24], slease[16];
	snprintf(smax, sizeof smax, "%zu", max);
	snprintf(slease, sizeof slease, "%d", lease_s > 0 ? lease_s : 1);
	const char *params[] = { q->owner, smax, slease };
	PGresult *res;
	int r = q_exec(q, "claiming jobs", sql, 3, params, &res);
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
		j->id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
		j->watch = strdup(PQgetvalue(res, (int)i, 1));
		j->path = strdup(PQgetvalue(res, (int)i, 2));
		if (!j->watch || !j->path) {
			r = -ENOMEM;
			goto fail;
		}
		j->size = strtoll(PQgetvalue(res, (int)i, 3), NULL, 10);
		j->dev = strtoull(PQgetvalue(res, (int)i, 4), NULL, 10);
		j->ino = strtoull(PQgetvalue(res, (int)i, 5), NULL, 10);
		j->mtime_ns = strtoll(PQgetvalue(res, (int)i, 6), NULL, 10);
		j->attempts = atoi(PQgetvalue(res, (int)i, 7));
		j->chunk_tokens = PQgetisnull(res, (int)i, 8) ? 0 : atoi(PQgetvalue(res, (int)i, 8));
	}
	PQclear(res);
	*ret_jobs = jobs;
	*ret_n = n;
	return 0;
fail:
	/* The claimed rows stay leased to us; release_all or expiry frees them. */
	hp_err("queue: out of memory reading %zu claimed jobs", n);
	hp_jobs_free(jobs, n);
	PQclear(res);
	return r;
}

/* ---- results -------------------------------------------------------------- */

int hp_queue_find_document(hp_queue *q, const char *sha256_hex, int64_t *ret_id)
{
	const char *params[] = { sha256_hex };
	PGresult *res;
	int r = q_exec(q, "looking up a document", "SELECT id FROM hopper.documents WHERE sha256 = $1",
	               1, params, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) == 0) {
		r = -ENOENT;
	} else {
		*ret_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		r = 0;
	}
	PQclear(res);
	return r;
}

/* Inside the transaction: is the job still running under our lease? Locks
 * the row, so nobody else can take it before we commit. */
static int lock_our_job(hp_queue *q, const char *sid)
{
	const char *params[] = { sid, q->owner };
	PGresult *res;
	int r = q_exec(q, "checking the job's lease",
	               "SELECT 1 FROM hopper.jobs WHERE id = $1 AND state = 'running'"
	               " AND lease_owner = $2 FOR UPDATE",
	               2, params, &res);
	if (r < 0)
		return r;
	r = PQntuples(res) == 1 ? 0 : -ESTALE;
	PQclear(res);
	return r;
}

static int insert_chunks(hp_queue *q, const char *sdoc, const hp_chunk *chunks, size_t n)
{
	/* Ordinals count from 0 in the order of the chunks; page 0 = not paged. */
	static const char sql[] =
		"INSERT INTO hopper.chunks (document_id, ordinal, heading, content, tokens,"
		" page, start_byte, end_byte)"
		" SELECT $1, u.ord - 1, u.h, u.c, u.t, nullif(u.p, 0), u.sb, u.eb"
		" FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::bigint[], $7::bigint[])"
		" WITH ORDINALITY AS u(h, c, t, p, sb, eb, ord)";
	enum { A_H, A_C, A_T, A_P, A_S, A_E, N_A };
	hp_buf a[N_A];
	int r = 0;
	for (int k = 0; k < N_A; k++) {
		hp_buf_init(&a[k], 0);
		if (r == 0)
			r = hp_buf_addc(&a[k], '{');
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		if ((r = arr_text(&a[A_H], chunks[i].heading ? chunks[i].heading : "")) < 0 ||
		    (r = arr_text(&a[A_C], chunks[i].content ? chunks[i].content : "")) < 0 ||
		    (r = arr_i64(&a[A_T], chunks[i].tokens)) < 0 ||
		    (r = arr_i64(&a[A_P], chunks[i].page)) < 0 ||
		    (r = arr_i64(&a[A_S], (int64_t)chunks[i].start)) < 0 ||
		    (r = arr_i64(&a[A_E], (int64_t)chunks[i].end)) < 0)
			break;
	}
	for (int k = 0; k < N_A && r == 0; k++)
		r = hp_buf_addc(&a[k], '}');
	if (r == 0) {
		const char *params[] = { sdoc, a[A_H].data, a[A_C].data, a[A_T].data,
		                         a[A_P].data, a[A_S].data, a[A_E].data };
		r = q_exec(q, "storing chunks", sql, 7, params, NULL);
	}
	for (int k = 0; k < N_A; k++)
		hp_buf_free(&a[k]);
	return r;
}

/* Inside the transaction: the document's id, inserting it (and its chunks)
 * unless the same content is stored already. */
static int store_document(hp_queue *q, const char *sha256_hex, size_t bytes, const hp_doc *doc,
                          const hp_chunk *chunks, size_t n_chunks, char *sdoc, size_t sdoclen)
{
	char sbytes[24], spages[16];
	snprintf(sbytes, sizeof sbytes, "%zu", bytes);
	snprintf(spages, sizeof spages, "%d", doc->pages);
	const char *params[] = { sha256_hex,     hp_format_name(doc->format), doc->title, sbytes,
		                 doc->pages > 0 ? spages : NULL, doc->markdown, doc->meta_json };
	PGresult *res;
	int r = q_exec(q, "storing the document",
	               "INSERT INTO hopper.documents (sha256, format, title, bytes, pages, markdown, meta)"
	               " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"
	               " ON CONFLICT (sha256) DO NOTHING RETURNING id",
	               7, params, &res);
	if (r < 0)
		return r;
	bool inserted = PQntuples(res) == 1;
	if (inserted)
		snprintf(sdoc, sdoclen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!inserted) {
		/* Stored by an earlier job (or a concurrent one that committed
		 * first: the insert waited for it): its chunks are there too. */
		int64_t id;
		r = hp_queue_find_document(q, sha256_hex, &id);
		if (r < 0)
			return r == -ENOENT ? -EAGAIN : r;
		snprintf(sdoc, sdoclen, "%" PRId64, id);
		return 0;
	}
	return n_chunks ? insert_chunks(q, sdoc, chunks, n_chunks) : 0;
}

static int mark_done(hp_queue *q, const char *sid, const char *sdoc)
{
	const char *params[] = { sid, q->owner, sdoc };
	int r = q_exec_count(q, "marking the job done",
	                     "UPDATE hopper.jobs SET state = 'done', finished_at = now(), error = NULL,"
	                     " document_id = $3, lease_owner = NULL, lease_until = NULL"
	                     " WHERE id = $1 AND state = 'running' AND lease_owner = $2",
	                     3, params);
	if (r < 0)
		return r;
	return r == 1 ? 0 : -ESTALE;
}

int hp_queue_complete(hp_queue *q, int64_t job_id, const char *sha256_hex, size_t bytes,
                      const hp_doc *doc, const hp_chunk *chunks, size_t n_chunks)
{
	if (!sha256_hex || !doc || !doc->markdown)
		return -EINVAL;
	char sid[24], sdoc[24];
	snprintf(sid, sizeof sid, "%" PRId64, job_id);
	int r = q_exec(q, "starting a transaction", "BEGIN", 0, NULL, NULL);
	if (r < 0)
		return r;
	if ((r = lock_our_job(q, sid)) < 0 ||
	    (r = store_document(q, sha256_hex, bytes, doc, chunks, n_chunks, sdoc, sizeof sdoc)) < 0 ||
	    (r = mark_done(q, sid, sdoc)) < 0)
		goto fail;
	r = q_exec(q, "committing the result", "COMMIT", 0, NULL, NULL);
	if (r < 0)
		goto fail;
	return 0;
fail:
	q_rollback(q);
	if (r == -ESTALE)
		hp_debug("queue: job %" PRId64 " is no longer ours (lease lost): result not stored",
		         job_id);
	return r;
}

int hp_queue_link(hp_queue *q, int64_t job_id, int64_t document_id)
{
	char sid[24], sdoc[24];
	snprintf(sid, sizeof sid, "%" PRId64, job_id);
	snprintf(sdoc, sizeof sdoc, "%" PRId64, document_id);
	int r = mark_done(q, sid, sdoc);
	if (r == -ESTALE)
		hp_debug("queue: job %" PRId64 " is no longer ours (lease lost): not linked", job_id);
	return r;
}

/* An UPDATE of one of our running jobs: 0, -ESTALE if it is not ours. */
static int update_ours(hp_queue *q, int64_t job_id, const char *what, const char *sql,
                       const char *extra)
{
	char sid[24];
	snprintf(sid, sizeof sid, "%" PRId64, job_id);
	const char *params[] = { sid, q->owner, extra };
	int r = q_exec_count(q, what, sql, extra ? 3 : 2, params);
	if (r < 0)
		return r;
	return r == 1 ? 0 : -ESTALE;
}

int hp_queue_fail(hp_queue *q, int64_t job_id, const char *error)
{
	return update_ours(q, job_id, "marking the job failed",
	                   "UPDATE hopper.jobs SET state = 'failed', error = $3, finished_at = now(),"
	                   " lease_owner = NULL, lease_until = NULL"
	                   " WHERE id = $1 AND state = 'running' AND lease_owner = $2",
	                   error ? error : "failed");
}

int hp_queue_requeue(hp_queue *q, int64_t job_id)
{
	return update_ours(q, job_id, "putting the job back",
	                   "UPDATE hopper.jobs SET state = 'queued', not_before = now(),"
	                   " lease_owner = NULL, lease_until = NULL"
	                   " WHERE id = $1 AND state = 'running' AND lease_owner = $2",
	                   NULL);
}

int hp_queue_forget(hp_queue *q, int64_t job_id)
{
	return update_ours(q, job_id, "dropping a superseded job",
	                   "DELETE FROM hopper.jobs"
	                   " WHERE id = $1 AND state = 'running' AND lease_owner = $2",
	                   NULL);
}

int hp_queue_release_all(hp_queue *q)
{
	const char *params[] = { q->owner };
	return q_exec_count(q, "putting our jobs back",
	                    "UPDATE hopper.jobs SET state = 'queued', not_before = now(),"
	                    " lease_owner = NULL, lease_until = NULL"
	                    " WHERE state = 'running' AND lease_owner = $1",
	                    1, params);
}

int hp_queue_lease_owners(hp_queue *q, const char *prefix, char ***ret_owners, size_t *ret_n)
{
	const char *params[] = { prefix };
	PGresult *res;
	/* starts_with() rather than LIKE: a node name may hold '%' or '_'. */
	int r = q_exec(q, "listing lease owners",
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
	return q_exec_count(q, "taking back the jobs of a dead daemon",
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
	hp_buf_init(&arr, 0);
	int r = hp_buf_addc(&arr, '{');
	for (size_t i = 0; r == 0 && i < n; i++)
		r = arr_i64(&arr, ids[i]);
	if (r == 0)
		r = hp_buf_addc(&arr, '}');
	if (r == 0) {
		const char *params[] = { q->owner, slease, arr.data };
		r = q_exec_count(q, "renewing leases",
		                 "UPDATE hopper.jobs SET lease_until = now() + $2::int * interval '1 second'"
		                 " WHERE state = 'running' AND lease_owner = $1 AND id = ANY($3::bigint[])",
		                 3, params);
	}
	hp_buf_free(&arr);
	return r;
}

/* ---- wake-ups ------------------------------------------------------------- */

int hp_queue_drain_notify(hp_queue *q)
{
	if (!PQconsumeInput(q->conn) || PQstatus(q->conn) == CONNECTION_BAD) {
		char msg[1024];
		hp_db_message(q->conn, NULL, msg, sizeof msg);
		hp_warn("queue: lost the database connection: %s", msg);
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
	PGresult *res;
	int r = q_exec(q, "counting the backlog",
	               "SELECT count(*) FROM hopper.jobs"
	               " WHERE (state IN ('queued', 'retry') AND not_before <= now())"
	               "    OR (state = 'running' AND lease_until < now())",
	               0, NULL, &res);
	if (r < 0)
		return r;
	*ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}
