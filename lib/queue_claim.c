/* queue_claim.c — the job queue: claims, leases and the backlog; see
 * include/hopper/queue.h, queue_int.h */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/queue.h"
#include "queue_int.h"

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

const char *hp_q_watches_param(const hp_queue *q)
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
	const char *params[] = { q->owner, smax, slease, satt, hp_q_watches_param(q) };
	PGresult *res;
	int r = hp_q_stmt(q, S_CLAIM, 5, params, &res);
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
	const char *params[] = { q->owner, "16", "60", "3", hp_q_watches_param(q) };
	char *sql = NULL;
	if (asprintf(&sql, "EXPLAIN %s", hp_q_sql_claim) < 0)
		return -ENOMEM;
	PGresult *res;
	int r = hp_q_exec(q, sql, 5, params, &res);
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

/* SKIP LOCKED: concurrent claimers (daemons) each take rows nobody else
 * is taking, and nobody waits. Three sources, each an index walk in
 * its own order with a LIMIT (migration 002): queued jobs, retries
 * that are due, running jobs whose lease ran out (their daemon died:
 * taking one counts an attempt). Expired jobs that used up their
 * attempts fail instead. Only jobs of our watches ($5). */
const char hp_q_sql_claim[] =
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
	" FROM c ORDER BY priority DESC, id";

int hp_queue_release_all(hp_queue *q)
{
	const char *params[] = { q->owner };
	/* Shutdown is not the file's fault: the attempt does not count. */
	return hp_q_exec_count(q,
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
	int r = hp_q_exec(q,
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
	int r = hp_q_exec(q, "DELETE FROM hopper.worker_procs WHERE owner = $1", 1, params, NULL);
	if (r < 0)
		return r;
	return hp_q_exec_count(q,
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
	int r = hp_q_arr_open(&arr);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = hp_q_arr_i64(&arr, ids[i]);
	if (r == 0)
		r = hp_q_arr_close(&arr);
	if (r == 0) {
		const char *params[] = { q->owner, slease, arr.data };
		r = hp_q_stmt_count(q, S_RENEW, 3, params);
	}
	hp_buf_free(&arr);
	return r;
}

const char hp_q_sql_renew[] =
	"UPDATE hopper.jobs SET lease_until = now() + $2::int * interval '1 second'"
	" WHERE state = 'running' AND lease_owner = $1 AND id = ANY($3::bigint[])";

int hp_queue_backlog(hp_queue *q, int64_t *ret)
{
	const char *params[] = { q->watches };
	PGresult *res;
	/* Three counts, each over one claim index. */
	int r = hp_q_exec(q,
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
