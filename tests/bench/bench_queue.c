/* bench_queue.c — the job queue alone, against a minimal batched-SQL loop,
 * same run, same throwaway embedded cluster.
 *
 * queue:    hp_queue_enqueue of N files (as the watcher hands them), then
 *           claim batches of 64 and complete them with a small document
 *           and two chunks each, as hopperd does: each batch is sent
 *           without waiting (hp_queue_complete_start, its own connection)
 *           while the next claim runs: jobs/s.
 * lifecycle: the same with every job completed as a link to one stored
 *           document (no document or chunks written): what the job table
 *           itself costs per job (enqueue + claim + complete).
 * baseline: the same per-file database work written as the plainest
 *           batched SQL a person would write (INSERT jobs; UPDATE claim;
 *           INSERT documents + chunks; UPDATE done; 100 files a statement)
 *           through libpq: files/s. This is the database's limit on this
 *           machine; the ratio queue/baseline says what hopper's queue costs.
 * claim at size: the time of one claim of 64 with the table as it is after
 *           the run, and again after adding 1,000,000 done rows (the claim
 *           must not grow with the table).
 * Times are for comparison within one run only; no threshold is asserted.
 * BENCH_EXPLAIN=1 logs the plan and timing of every queue statement
 * (auto_explain) into the cluster's postgres.log; with HOPPER_TEST_KEEP=1
 * the log is kept for a look.
 *   bench_queue [FILES]      (default 20000)
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hopper/common.h"
#include "hopper/hash.h"
#include "hopper/queue.h"
#include "../lib/pgtest.h"

#define CLAIM 64

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_queue: %s\n", what);
	exit(1);
}

static void exec_ok(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fprintf(stderr, "%s\n%s", sql, PQerrorMessage(c));
		die("query failed");
	}
	PQclear(res);
}

static double run_queue(hp_queue *q, int n, bool link, const char *tag)
{
	char (*paths)[64] = calloc((size_t)n, sizeof *paths);
	hp_file_ref *f = calloc((size_t)n, sizeof *f);
	if (!paths || !f)
		die("out of memory");
	for (int i = 0; i < n; i++) {
		snprintf(paths[i], sizeof paths[i], "/srv/bench/%s/%06d.md", tag, i);
		f[i] = (hp_file_ref){ .watch = "bench", .path = paths[i], .rel = paths[i] + 11,
			              .size = 1500, .ino = (uint64_t)i + 1, .mtime_ns = 1, .chunk_tokens = 512 };
	}
	double t0 = now_s();
	size_t added = 0;
	for (int i = 0; i < n; i += 500) {
		size_t k = (size_t)(n - i < 500 ? n - i : 500), a = 0;
		if (hp_queue_enqueue(q, f + i, k, &a) < 0)
			die("enqueue failed");
		added += a;
	}
	if ((int)added != n)
		die("enqueue added the wrong count");
	double t_enq = now_s() - t0, t_claim = 0, t_comp = 0;
	int done = 0;
	char md[256], title[32], h[] = "Doc > Part", c1[] = "first chunk of the bench document",
	                               c2[] = "second chunk of the bench document";
	hp_chunk ch[] = { { .heading = h, .content = c1, .tokens = 6 }, { .heading = h, .content = c2, .tokens = 6 } };
	/* Two sets of buffers: one batch in flight while the next is built. */
	static hp_doc docs[2][CLAIM];
	static char sha[2][CLAIM][HP_SHA256_HEX_LEN + 1];
	static char mds[2][CLAIM][256];
	static hp_completion comp[2][CLAIM];
	hp_job *flying = NULL;
	size_t n_flying = 0;
	snprintf(title, sizeof title, "Doc");
	for (int b = 0;; b ^= 1) {
		hp_job *jobs;
		size_t m;
		double tc = now_s();
		if (hp_queue_claim(q, CLAIM, 600, &jobs, &m) < 0)
			die("claim failed");
		t_claim += now_s() - tc;
		for (size_t i = 0; i < m; i++) {
			snprintf(mds[b][i], sizeof mds[b][i], "# Doc %" PRId64 "\n\nbench body\n", jobs[i].id);
			if (link)
				snprintf(mds[b][i], sizeof mds[b][i], "# the one linked document\n");
			hp_sha256_hex(mds[b][i], strlen(mds[b][i]), sha[b][i]);
			docs[b][i] = (hp_doc){ .format = HP_FMT_MARKDOWN, .title = title, .markdown = mds[b][i],
				               .markdown_len = strlen(mds[b][i]) };
			comp[b][i] = (hp_completion){ .job_id = jobs[i].id, .sha256_hex = sha[b][i], .bytes = 1500,
				                      .doc = link ? NULL : &docs[b][i], .chunks = ch, .n_chunks = 2 };
		}
		/* The previous batch's result, then this one goes out. */
		tc = now_s();
		if (n_flying) {
			if (hp_queue_complete_wait(q) != 1)
				die("complete failed");
			for (size_t i = 0; i < n_flying; i++)
				if (comp[b ^ 1][i].result == 0)
					done++;
			hp_jobs_free(flying, n_flying);
		}
		flying = jobs;
		n_flying = m;
		if (m && hp_queue_complete_start(q, comp[b], m) < 0)
			die("complete failed");
		t_comp += now_s() - tc;
		if (m == 0)
			break;
	}
	double t = now_s() - t0;
	(void)md;
	printf("  (%s: enqueue %.2f s, claim %.2f s, waiting for completions %.2f s)\n", tag, t_enq, t_claim,
	       t_comp);
	if (done != n)
		die("not every job was completed");
	free(paths);
	free(f);
	return t;
}

/* The plainest batched SQL for the same work, 100 files a statement. */
static double run_baseline(PGconn *c, int n)
{
	exec_ok(c, "CREATE TABLE bj (id bigserial PRIMARY KEY, path text, size bigint, state text DEFAULT 'queued',"
	           " owner text, document_id bigint)");
	exec_ok(c, "CREATE INDEX ON bj (id) WHERE state = 'queued'");
	exec_ok(c, "CREATE TABLE bd (id bigserial PRIMARY KEY, sha256 text UNIQUE, markdown text)");
	exec_ok(c, "CREATE TABLE bc (document_id bigint, ordinal int, content text,"
	           " tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED,"
	           " PRIMARY KEY (document_id, ordinal))");
	exec_ok(c, "CREATE INDEX ON bc USING gin (tsv)");
	exec_ok(c, "CREATE TEMP TABLE picked (id bigint) ON COMMIT DELETE ROWS");
	double t0 = now_s();
	char sql[1024];
	for (int i = 0; i < n; i += 100) {
		snprintf(sql, sizeof sql,
		         "INSERT INTO bj (path, size) SELECT '/srv/bench/b/' || g, 1500"
		         " FROM generate_series(%d, %d) g", i, i + 99);
		exec_ok(c, sql);
	}
	for (int i = 0; i < n; i += 100) {
		exec_ok(c, "BEGIN");
		exec_ok(c, "WITH p AS (SELECT id FROM bj WHERE state = 'queued' ORDER BY id LIMIT 100"
		           " FOR UPDATE SKIP LOCKED)"
		           " UPDATE bj SET state = 'running', owner = 'b' FROM p WHERE bj.id = p.id");
		exec_ok(c, "INSERT INTO picked SELECT id FROM bj WHERE state = 'running' AND owner = 'b'");
		exec_ok(c, "INSERT INTO bd (sha256, markdown) SELECT md5(id::text), '# Doc ' || id || ' bench body'"
		           " FROM picked");
		exec_ok(c, "INSERT INTO bc (document_id, ordinal, content) SELECT d.id, o, 'chunk of the bench document'"
		           " FROM picked p JOIN bd d ON d.sha256 = md5(p.id::text), generate_series(0, 1) o");
		exec_ok(c, "UPDATE bj SET state = 'done', owner = NULL, document_id = d.id FROM picked p"
		           " JOIN bd d ON d.sha256 = md5(p.id::text) WHERE bj.id = p.id");
		exec_ok(c, "COMMIT");
	}
	return now_s() - t0;
}

static double one_claim(hp_queue *q)
{
	hp_job *jobs;
	size_t m;
	double t0 = now_s();
	if (hp_queue_claim(q, CLAIM, 600, &jobs, &m) < 0)
		die("claim failed");
	double t = now_s() - t0;
	hp_jobs_free(jobs, m);
	if (hp_queue_release_all(q) < 0)
		die("release failed");
	return t;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 20000;
	hp_log_level = HP_LOG_WARNING;
	hp_pgtest *t;
	int r = hp_pgtest_start(&t);
	if (r == -ENOPKG) {
		printf("bench_queue: skipped, no PostgreSQL server programs\n");
		return 0;
	}
	if (r < 0)
		die("cannot start PostgreSQL");
	hp_queue *q;
	if (hp_queue_open(t->conninfo, "bench:1", &q) < 0)
		die("cannot open the queue");
	const char *w[] = { "bench" };
	hp_queue_set_watches(q, w, NULL, 1);
	char err[256];
	(void)err;
	PGconn *c = PQconnectdb(t->conninfo);
	if (PQstatus(c) != CONNECTION_OK)
		die("cannot connect");

	if (getenv("BENCH_EXPLAIN"))
		exec_ok(hp_queue_conn(q), "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0;"
		        " SET auto_explain.log_analyze = on; SET auto_explain.log_timing = on;"
		        " SET auto_explain.log_buffers = on");
	double tb = run_baseline(c, n);
	/* The one document every job of the lifecycle run links to. */
	char one[] = "# the one linked document\n", one_sha[HP_SHA256_HEX_LEN + 1];
	hp_sha256_hex(one, strlen(one), one_sha);
	const char *pp[] = { one_sha };
	PGresult *res = PQexecParams(c, "INSERT INTO hopper.documents (sha256, format, bytes, markdown)"
	                                " VALUES ($1, 'markdown', 27, '# the one linked document')",
	                             1, NULL, pp, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die(PQerrorMessage(c));
	PQclear(res);
	double tl = run_queue(q, n, true, "lifecycle");
	double tq = run_queue(q, n, false, "queue");
	printf("queue alone (enqueue + claim %d + complete batch in flight while the next claim runs), %d jobs:\n",
	       CLAIM, n);
	printf("  job lifecycle    %8.0f jobs/s (each completed as a link to a stored document)\n", n / tl);
	printf("  hp_queue         %8.0f jobs/s (each with a document and 2 chunks)\n", n / tq);
	printf("  batched SQL loop %8.0f files/s (the database's limit here)\n", n / tb);
	printf("  ratio queue/SQL  %8.2f\n", tb / tq);

	/* A few jobs to claim, then the claim with the table small and big. */
	char paths[CLAIM][32];
	hp_file_ref f[CLAIM];
	for (int i = 0; i < CLAIM; i++) {
		snprintf(paths[i], sizeof paths[i], "/srv/bench/c%02d.md", i);
		f[i] = (hp_file_ref){ .watch = "bench", .path = paths[i], .rel = paths[i] + 11, .size = 1,
			              .ino = 1, .mtime_ns = 1 };
	}
	hp_queue_enqueue(q, f, CLAIM, NULL);
	double small = 1e9, big = 1e9;
	for (int i = 0; i < 5; i++) {
		double x = one_claim(q);
		small = x < small ? x : small;
	}
	exec_ok(c, "INSERT INTO hopper.jobs (watch, path, rel_path, ino, size, mtime_ns, state)"
	           " SELECT 'bench', '/x/' || g, convert_to('x/' || g, 'UTF8'), g, 1, 2, 'done'"
	           " FROM generate_series(1, 1000000) g");
	exec_ok(c, "ANALYZE hopper.jobs");
	for (int i = 0; i < 5; i++) {
		double x = one_claim(q);
		big = x < big ? x : big;
	}
	printf("claim of %d (best of 5): %.2f ms with %d rows, %.2f ms with 1,000,000 more done rows"
	       " (ratio %.2f)\n", CLAIM, small * 1e3, 2 * n + CLAIM, big * 1e3, big / small);
	PQfinish(c);
	hp_queue_close(q);
	hp_pgtest_stop(t);
	return 0;
}
