/* queue_complete.c — the job queue: dedupe lookups, completion batches
 * and the other outcomes of a job; see include/hopper/queue.h, queue_int.h */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/db.h"
#include "hopper/queue.h"
#include "queue_int.h"

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
	int r = hp_q_arr_open(&a);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = hp_q_arr_text(&a, sha256_hex[i]);
	if (r == 0)
		r = hp_q_arr_close(&a);
	PGresult *res = NULL;
	if (r == 0) {
		const char *params[] = { a.data };
		r = hp_q_stmt(q, S_FIND, 1, params, &res);
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
		int r2 = hp_q_arr_open(&a[k]);
		if (r == 0)
			r = r2;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		const hp_completion *c = &items[i];
		const hp_doc *d = c->doc;
		if ((r = hp_q_arr_i64(&a[CP_JOB], c->job_id)) < 0 || (r = hp_q_arr_text(&a[CP_SHA], c->sha256_hex)) < 0 ||
		    (r = hp_q_arr_text(&a[CP_FMT], d ? hp_format_name(d->format) : NULL)) < 0 ||
		    (r = hp_q_arr_text(&a[CP_TITLE], d ? d->title : NULL)) < 0 ||
		    (r = hp_q_arr_i64(&a[CP_BYTES], (int64_t)c->bytes)) < 0 ||
		    (r = d && d->pages > 0 ? hp_q_arr_i64(&a[CP_PAGES], d->pages) : hp_q_arr_num(&a[CP_PAGES], "NULL")) < 0 ||
		    (r = hp_q_arr_text(&a[CP_MD], d ? (d->markdown ? d->markdown : "") : NULL)) < 0 ||
		    (r = hp_q_arr_text(&a[CP_META], d ? d->meta_json : NULL)) < 0)
			break;
		for (size_t k = 0; d && r == 0 && k < c->n_chunks; k++) {
			const hp_chunk *ch = &c->chunks[k];
			if ((r = hp_q_arr_i64(&a[CP_CK], (int64_t)i + 1)) < 0 || (r = hp_q_arr_i64(&a[CP_CORD], (int64_t)k)) < 0 ||
			    (r = hp_q_arr_text(&a[CP_CHEAD], ch->heading ? ch->heading : "")) < 0 ||
			    (r = hp_q_arr_text(&a[CP_CBODY], ch->content ? ch->content : "")) < 0)
				break;
			if ((r = hp_q_arr_i64(&a[CP_CTOK], ch->tokens)) < 0 || (r = hp_q_arr_i64(&a[CP_CPAGE], ch->page)) < 0 ||
			    (r = hp_q_arr_i64(&a[CP_CSTART], (int64_t)ch->start)) < 0)
				break;
			r = hp_q_arr_i64(&a[CP_CEND], (int64_t)ch->end);
		}
	}
	for (int k = 0; r == 0 && k < CP__N; k++)
		r = hp_q_arr_close(&a[k]);
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
		r = hp_q_stmt(q, S_COMPLETE, CP__N + 1, params, &res);
	if (r == 0 && send_only) {
		if (q->async_busy)
			hp_q_async_finish(q, true);
		char name[16];
		snprintf(name, sizeof name, "hp_%d", S_COMPLETE);
		if (!q->cprepared) {
			r = hp_q_result(q, q->cconn, PQprepare(q->cconn, name, hp_q_sql_complete, 0, NULL), NULL);
			if (r == 0)
				q->cprepared = true;
		}
		if (r == 0 && hp_q_fault_now())
			hp_q_fault_cut(q->cconn);
		if (r == 0 && !PQsendQueryPrepared(q->cconn, name, CP__N + 1, params, NULL, NULL, 0))
			r = hp_q_error(q, q->cconn, NULL);
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
int hp_q_async_finish(hp_queue *q, bool wait)
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
		r = hp_q_error(q, q->cconn, res);
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
	int r = hp_q_async_finish(q, false);
	if (r == -EINPROGRESS)
		return r;
	q->async_done = false;
	q->async_items = NULL;
	q->async_n = 0;
	return q->async_r < 0 ? q->async_r : 1;
}

int hp_queue_complete_wait(hp_queue *q)
{
	hp_q_async_finish(q, true);
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
	int r = hp_q_stmt_count(q, S_LINK, 3, params);
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
	int r = hp_q_stmt_count(q, s, extra ? 3 : 2, params);
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
	int r = hp_q_stmt(q, S_RETRY, 6, params, &res);
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

int hp_queue_retry_failed(PGconn *conn, const int64_t *ids, size_t n)
{
	hp_buf arr;
	int r = hp_q_arr_open(&arr);
	for (size_t i = 0; r == 0 && ids && i < n; i++)
		r = hp_q_arr_i64(&arr, ids[i]);
	if (r == 0)
		r = hp_q_arr_close(&arr);
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
	                             "SELECT n, CASE WHEN n > 0 THEN pg_notify('" HP_Q_NOTIFY_CHANNEL "', '') END"
	                             " FROM (SELECT count(*) AS n FROM back) c",
	                             1, NULL, params, NULL, NULL, 0);
	hp_buf_free(&arr);
	r = PQresultStatus(res) == PGRES_TUPLES_OK ? atoi(PQgetvalue(res, 0, 0)) : -EIO;
	PQclear(res);
	return r;
}

/* Parameters: $1 owner, then the CP_ arrays as $2..$17 (chunk page 0 =
 * not paged, stored NULL). */
/* A batch of results in one statement (one commit). mine: the jobs
 * still running under our lease, locked; firsts: one new document per
 * content; docs: the id of every content, new or stored before; done:
 * those jobs marked. A job of ours that found no document (a
 * concurrent writer's row not yet visible) stays running: -EAGAIN.
 * docs is MATERIALIZED: used once, it would be inlined into done's
 * join, and its lookup of stored documents ran again for every job of
 * the batch (n^2 index scans: 16 of the 18 ms of a batch of 64). */
const char hp_q_sql_complete[] =
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
	"SELECT m.id, d.id IS NOT NULL FROM mine m LEFT JOIN done d ON d.id = m.id";

const char hp_q_sql_find[] =
	"SELECT sha256, id FROM hopper.documents WHERE sha256 = ANY($1::text[])";

const char hp_q_sql_link[] =
	"UPDATE hopper.jobs SET state = 'done', finished_at = now(), error = NULL,"
	" document_id = $3, lease_owner = NULL, lease_until = NULL"
	" WHERE id = $1 AND state = 'running' AND lease_owner = $2";

const char hp_q_sql_fail[] =
	"UPDATE hopper.jobs SET state = 'failed', error = $3, finished_at = now(),"
	" lease_owner = NULL, lease_until = NULL"
	" WHERE id = $1 AND state = 'running' AND lease_owner = $2";

/* Backoff: retry_delay * 2^(attempts-1), capped, times 0.75..1.25 so
 * that jobs failing together do not come back together. */
const char hp_q_sql_retry[] =
	"UPDATE hopper.jobs SET"
	" state = CASE WHEN attempts >= $4::int THEN 'failed' ELSE 'retry' END,"
	" error = $3,"
	" finished_at = CASE WHEN attempts >= $4::int THEN now() END,"
	" not_before = now() + least($6::float8, $5::float8 * power(2, greatest(attempts - 1, 0)))"
	"              * (0.75 + random() * 0.5) * interval '1 millisecond',"
	" lease_owner = NULL, lease_until = NULL"
	" WHERE id = $1 AND state = 'running' AND lease_owner = $2"
	" RETURNING state";

const char hp_q_sql_requeue[] =
	"UPDATE hopper.jobs SET state = 'queued', not_before = now(),"
	" lease_owner = NULL, lease_until = NULL"
	" WHERE id = $1 AND state = 'running' AND lease_owner = $2";

const char hp_q_sql_forget[] =
	"DELETE FROM hopper.jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2";

