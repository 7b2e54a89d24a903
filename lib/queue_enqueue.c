/* queue_enqueue.c — the job queue: enqueue, and the catch-up set of the
 * versions a watch already has; see include/hopper/queue.h, queue_int.h */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/queue.h"
#include "queue_int.h"

/* Rows per INSERT statement: big enough to amortise the round trip, small
 * enough to keep one statement's parameters modest. */
#define ENQUEUE_BATCH 500

/* ---- enqueue ------------------------------------------------------------ */

enum { EQ_WATCH, EQ_PATH, EQ_REL, EQ_DEV, EQ_INO, EQ_SIZE, EQ_MTIME, EQ_PRIO, EQ_TOKENS, EQ__N };

static int enqueue_batch(hp_queue *q, const hp_file_ref *files, size_t n, size_t *ret_added)
{
	hp_buf a[EQ__N];
	PGresult *res = NULL;
	int r = 0;
	for (int k = 0; k < EQ__N; k++) {
		int r2 = hp_q_arr_open(&a[k]);
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
		r = hp_q_arr_text(&a[EQ_PATH], text);
		free(text);
		if (r < 0 || (r = hp_q_arr_text(&a[EQ_WATCH], f->watch)) < 0 ||
		    (r = hp_q_arr_bytea(&a[EQ_REL], f->rel)) < 0 ||
		    (r = hp_q_arr_u64(&a[EQ_DEV], f->dev)) < 0 || (r = hp_q_arr_u64(&a[EQ_INO], f->ino)) < 0 ||
		    (r = hp_q_arr_i64(&a[EQ_SIZE], f->size)) < 0 || (r = hp_q_arr_i64(&a[EQ_MTIME], f->mtime_ns)) < 0 ||
		    (r = hp_q_arr_i64(&a[EQ_PRIO], f->priority)) < 0 ||
		    (r = f->chunk_tokens > 0 ? hp_q_arr_i64(&a[EQ_TOKENS], f->chunk_tokens)
		                             : hp_q_arr_num(&a[EQ_TOKENS], "NULL")) < 0)
			break;
	}
	for (int k = 0; k < EQ__N && r == 0; k++)
		r = hp_q_arr_close(&a[k]);
	if (r < 0)
		goto out;
	const char *params[EQ__N];
	for (int k = 0; k < EQ__N; k++)
		params[k] = a[k].data;
	r = hp_q_stmt(q, S_ENQUEUE, EQ__N, params, &res);
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

/* One statement inserts the new versions, counts them, notifies
 * listeners (delivered at commit) only when there was one, and makes
 * its own commit durable (see hp_queue_enqueue). */
const char hp_q_sql_enqueue[] =
	"WITH ins AS ("
	" INSERT INTO hopper.jobs (watch, path, rel_path, dev, ino, size, mtime_ns, priority, chunk_tokens)"
	" SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::numeric[], $5::numeric[],"
	"                      $6::bigint[], $7::bigint[], $8::int[], $9::int[])"
	" ON CONFLICT (watch, sha256(rel_path), ino, size, mtime_ns) DO NOTHING"
	" RETURNING 1)"
	"SELECT n, CASE WHEN n > 0 THEN pg_notify('" HP_Q_NOTIFY_CHANNEL "', '') END,"
	" set_config('synchronous_commit', 'on', true)"
	" FROM (SELECT count(*) AS n FROM ins) c";

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
	if (hp_q_fault_now())
		hp_q_fault_cut(q->conn);
	/* Binary results: rel_path as its bytes, size and mtime as 8-byte
	 * integers; ino is numeric (a u64), sent as its digits. */
	const char *params[] = { watch };
	PGresult *res = NULL;
	int r = hp_q_result(q, q->conn,
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
