/* test_queue.c — the database layer against a real embedded PostgreSQL.
 *
 * Starts a throwaway cluster (tests/lib/pgtest.c), then checks migrations,
 * idempotent enqueue, concurrent claims with SKIP LOCKED, complete / link /
 * fail under the lease, lease expiry, requeue / release / renew, NOTIFY
 * wake-ups, reconnect after the server drops us, the SQL views, and that
 * stopping (or SIGKILLing the owner) leaves no server process behind.
 * Exit 0 pass, 1 fail, 77 skip (no PostgreSQL server programs).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hopper/common.h"
#include "hopper/config.h"
#include "hopper/db.h"
#include "hopper/hash.h"
#include "hopper/migrate.h"
#include "hopper/pgembed.h"
#include "hopper/queue.h"
#include "../lib/pgtest.h"

static hp_pgtest *g_t;

#define CHECK(cond) HP_PGTEST_CHECK(g_t, cond)

static void step(const char *fmt, ...) HP_PRINTF(1, 2);
static void step(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("-- ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* First column of the first row of a query with up to two text parameters,
 * as a string the caller frees; NULL for SQL NULL or no row. */
static char *sql_str(PGconn *c, const char *sql, const char *p1, const char *p2)
{
	const char *params[] = { p1, p2 };
	int np = p2 ? 2 : p1 ? 1 : 0;
	PGresult *res = PQexecParams(c, sql, np, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		printf("query failed: %s\n  %s", sql, PQerrorMessage(c));
		PQclear(res);
		hp_pgtest_fail(g_t, __FILE__, __LINE__, "query");
	}
	char *s = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? strdup(PQgetvalue(res, 0, 0)) : NULL;
	PQclear(res);
	return s;
}

static long long sql_int(PGconn *c, const char *sql, const char *p1, const char *p2)
{
	char *s = sql_str(c, sql, p1, p2);
	long long v = s ? strtoll(s, NULL, 10) : -1;
	free(s);
	return v;
}

static void sql_cmd(PGconn *c, const char *sql, const char *p1)
{
	const char *params[] = { p1 };
	PGresult *res = PQexecParams(c, sql, p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		printf("command failed: %s\n  %s", sql, PQerrorMessage(c));
		PQclear(res);
		hp_pgtest_fail(g_t, __FILE__, __LINE__, "command");
	}
	PQclear(res);
}

static const char *id_str(int64_t id, char buf[24])
{
	snprintf(buf, 24, "%" PRId64, id);
	return buf;
}

static char *job_state(PGconn *c, int64_t id)
{
	char b[24];
	return sql_str(c, "SELECT state FROM hopper.jobs WHERE id = $1", id_str(id, b), NULL);
}

static bool state_is(PGconn *c, int64_t id, const char *want)
{
	char *s = job_state(c, id);
	bool ok = s && strcmp(s, want) == 0;
	if (!ok)
		printf("job %" PRId64 " is %s, expected %s\n", id, s ? s : "(none)", want);
	free(s);
	return ok;
}

/* Wait (bounded, for a slow machine) until q has seen a notification;
 * returns how many arrived, including any a round trip flushes out. */
static int wait_notify(hp_queue *q)
{
	int got = 0;
	for (int i = 0; i < 200 && got == 0; i++) {
		struct pollfd p = { .fd = hp_queue_fd(q), .events = POLLIN };
		if (poll(&p, 1, 50) < 0 && errno != EINTR)
			return -errno;
		int r = hp_queue_drain_notify(q);
		if (r < 0)
			return r;
		got += r;
	}
	int64_t dummy;
	if (hp_queue_backlog(q, &dummy) < 0)
		return -EIO;
	int r = hp_queue_drain_notify(q);
	return r < 0 ? r : got + r;
}

/* path is "/srv/WATCH/REL". */
static hp_file_ref file_ref(const char *path, int64_t mtime_ns, int priority)
{
	hp_file_ref f = {
		.watch = "inbox", .path = path, .rel = strchr(path + 5, '/') + 1,
		.size = 1234, .dev = 2049, .ino = 777,
		.mtime_ns = mtime_ns, .priority = priority, .chunk_tokens = 512,
	};
	return f;
}

/* ---- concurrent migrations ---------------------------------------------- */

typedef struct migrator {
	const char *conninfo;
	int result;
} migrator;

static void *migrate_thread(void *arg)
{
	migrator *m = arg;
	char err[512];
	PGconn *c = hp_db_connect(m->conninfo, err, sizeof err);
	m->result = c ? hp_migrate(c) : -ECONNREFUSED;
	PQfinish(c);
	return NULL;
}

/* ---- concurrent claimers ------------------------------------------------- */

#define MAX_IDS 256
typedef struct claimer {
	hp_queue *q;
	int64_t ids[MAX_IDS];
	size_t n;
	int err;
} claimer;

static void *claim_loop(void *arg)
{
	claimer *c = arg;
	for (;;) {
		hp_job *jobs;
		size_t n;
		int r = hp_queue_claim(c->q, 3, 60, &jobs, &n);
		if (r < 0) {
			c->err = r;
			break;
		}
		for (size_t i = 0; i < n && c->n < MAX_IDS; i++)
			c->ids[c->n++] = jobs[i].id;
		hp_jobs_free(jobs, n);
		if (n == 0)
			break;
	}
	return NULL;
}

static int claim_one(hp_queue *q, int lease_s, int64_t *ret_id, int *ret_attempts)
{
	hp_job *jobs;
	size_t n;
	int r = hp_queue_claim(q, 1, lease_s, &jobs, &n);
	if (r < 0)
		return r;
	if (n != 1) {
		hp_jobs_free(jobs, n);
		return -ENOENT;
	}
	*ret_id = jobs[0].id;
	if (ret_attempts)
		*ret_attempts = jobs[0].attempts;
	hp_jobs_free(jobs, n);
	return 0;
}

static hp_doc make_doc(char *markdown, char *title, char *meta)
{
	hp_doc d = {
		.format = HP_FMT_MARKDOWN, .title = title, .markdown = markdown,
		.markdown_len = strlen(markdown), .pages = 0, .meta_json = meta,
	};
	return d;
}


/* ---- issue 14: names, own watches, retries, rejected results, claim plan -- */

static int64_t job_id_of(PGconn *raw, const char *path)
{
	return sql_int(raw, "SELECT id FROM hopper.jobs WHERE path = $1", path, NULL);
}

static void test_issue14(PGconn *raw, hp_queue *qa, hp_queue *qb)
{
	char b1[24];
	size_t added;
	int r;
	int64_t bl;
	/* Start from an empty runnable queue, so claims below see only ours. */
	sql_cmd(raw, "UPDATE hopper.jobs SET state = 'done', lease_owner = NULL"
	             " WHERE state IN ('queued', 'running', 'retry')", NULL);

	step("a name that is not UTF-8, among good ones: all queued, bytes kept exactly");
	static const char bad_path[] = "/srv/inbox/bad\xff" "name\xc3.txt";
	hp_file_ref names[] = { file_ref("/srv/inbox/good1.txt", 11, 0), file_ref(bad_path, 11, 0),
		                file_ref("/srv/inbox/good2.txt", 11, 0) };
	CHECK(hp_queue_enqueue(qa, names, 3, &added) == 0 && added == 3);
	char *text = hp_path_text(bad_path);
	printf("   stored as %s\n", text);
	CHECK(text && strcmp(text, "/srv/inbox/bad\\xFFname\\xC3.txt") == 0);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE path = $1"
	                   " AND rel_path = '\\x626164ff6e616d65c32e747874'::bytea", text, NULL) == 1);
	free(text);
	hp_job *jobs;
	size_t n;
	CHECK(hp_queue_claim(qa, 10, 60, &jobs, &n) == 0 && n == 3);
	bool exact = false;
	for (size_t i = 0; i < n; i++)
		if (jobs[i].rel && strcmp(jobs[i].rel, "bad\xff" "name\xc3.txt") == 0)
			exact = true;
	CHECK(exact);
	for (size_t i = 0; i < n; i++)
		CHECK(hp_queue_fail(qa, jobs[i].id, "test") == 0);
	hp_jobs_free(jobs, n);

	step("readable text of names: what is UTF-8 stays, every other byte is \\xNN");
	static const struct { const char *in, *out; } pt[] = {
		{ "plain é ü 日本 \xf0\x9f\x93\x84.txt", "plain é ü 日本 \xf0\x9f\x93\x84.txt" },
		{ "over\xc0\xaflong", "over\\xC0\\xAFlong" },          /* overlong '/' */
		{ "sur\xed\xa0\x80rogate", "sur\\xED\\xA0\\x80rogate" }, /* U+D800 */
		{ "big\xf4\x90\x80\x80", "big\\xF4\\x90\\x80\\x80" },  /* past U+10FFFF */
		{ "cut\xe2\x82", "cut\\xE2\\x82" },
		{ "back\\slash", "back\\slash" },
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(pt); i++) {
		char *t = hp_path_text(pt[i].in);
		if (!t || strcmp(t, pt[i].out) != 0)
			printf("   %s -> %s (want %s)\n", pt[i].in, t ? t : "NULL", pt[i].out);
		CHECK(t && strcmp(t, pt[i].out) == 0);
		free(t);
	}

	step("rows of an older hopperd get their relative path when a daemon with the watch starts");
	sql_cmd(raw, "INSERT INTO hopper.jobs (watch, path, ino, size, mtime_ns, state)"
	             " VALUES ('legacy', '/srv/legacy/sub/old.txt', 1, 1, 1, 'done'),"
	             "        ('legacy', '/elsewhere/old.txt', 2, 1, 1, 'done')", NULL);
	hp_queue *ql;
	CHECK(hp_queue_open(g_t->conninfo, "nodeL:9", &ql) == 0);
	const char *lw[] = { "legacy" }, *lr[] = { "/srv/legacy" };
	CHECK(hp_queue_set_watches(ql, lw, lr, 1) == 0);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE watch = 'legacy'"
	                   " AND rel_path = convert_to('sub/old.txt', 'UTF8')", NULL, NULL) == 1);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE watch = 'legacy' AND rel_path IS NULL",
	              NULL, NULL) == 1);
	hp_file_ref again = { .watch = "legacy", .path = "/srv/legacy/sub/old.txt", .rel = "sub/old.txt",
		              .size = 1, .ino = 1, .mtime_ns = 1 };
	CHECK(hp_queue_enqueue(ql, &again, 1, &added) == 0 && added == 0); /* not queued twice */
	hp_queue_close(ql);

	step("a batch with a row the database rejects: that row alone is dropped");
	hp_file_ref mixed[5];
	char mp[5][48];
	for (int i = 0; i < 5; i++) {
		snprintf(mp[i], sizeof mp[i], "/srv/inbox/mixed%d.txt", i);
		mixed[i] = file_ref(mp[i], 12, 0);
	}
	mixed[3].watch = "in\xff" "box"; /* text PostgreSQL cannot take */
	CHECK(hp_queue_enqueue(qa, mixed, 5, &added) == 0);
	printf("   added %zu of 5\n", added);
	CHECK(added == 4);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE path LIKE '/srv/inbox/mixed%'", NULL,
	              NULL) == 4);

	step("one version per (watch, relative path, inode, size, mtime): the device does not count");
	hp_file_ref other_dev = mixed[0];
	other_dev.dev = 99;
	other_dev.path = "/mnt/elsewhere/inbox/mixed0.txt"; /* the same share, mounted elsewhere */
	CHECK(hp_queue_enqueue(qb, &other_dev, 1, &added) == 0 && added == 0);

	step("claims take only jobs of our own watches");
	hp_queue *qc;
	CHECK(hp_queue_open(g_t->conninfo, "nodeC:3", &qc) == 0);
	CHECK(hp_queue_claim(qc, 10, 60, &jobs, &n) == 0 && n == 0); /* no watches set */
	const char *other[] = { "other" };
	CHECK(hp_queue_set_watches(qc, other, NULL, 1) == 0);
	CHECK(hp_queue_claim(qc, 10, 60, &jobs, &n) == 0 && n == 0);
	hp_file_ref o1 = file_ref("/srv/other/o1.txt", 1, 0);
	o1.watch = "other";
	CHECK(hp_queue_enqueue(qc, &o1, 1, &added) == 0 && added == 1);
	CHECK(hp_queue_claim(qa, 100, 60, &jobs, &n) == 0 && n == 4);
	for (size_t i = 0; i < n; i++)
		CHECK(strcmp(jobs[i].watch, "inbox") == 0);
	hp_jobs_free(jobs, n);
	CHECK(hp_queue_release_all(qa) == 4);
	CHECK(hp_queue_claim(qc, 10, 60, &jobs, &n) == 0 && n == 1 && strcmp(jobs[0].watch, "other") == 0);
	hp_jobs_free(jobs, n);

	step("a row without a relative path comes back with rel NULL (the daemon refuses it)");
	sql_cmd(raw, "INSERT INTO hopper.jobs (watch, path, ino, size, mtime_ns)"
	             " VALUES ('other', '/etc/passwd', 1, 1, 1)", NULL);
	CHECK(hp_queue_claim(qc, 10, 60, &jobs, &n) == 0 && n == 1);
	CHECK(strcmp(jobs[0].path, "/etc/passwd") == 0 && jobs[0].rel == NULL);
	hp_jobs_free(jobs, n);
	CHECK(hp_queue_release_all(qc) == 2);
	sql_cmd(raw, "UPDATE hopper.jobs SET state = 'done' WHERE watch = 'other'", NULL);

	step("retry: backoff with not_before, then failed at max_attempts");
	hp_queue_policy pol = { .max_attempts = 2, .retry_delay_ms = 300, .retry_max_ms = 600,
		                .statement_timeout_ms = 30000, .lock_timeout_ms = 1000 };
	CHECK(hp_queue_set_policy(qa, &pol) == 0);
	sql_cmd(raw, "UPDATE hopper.jobs SET state = 'done' WHERE path LIKE '/srv/inbox/mixed%'"
	             " AND path <> '/srv/inbox/mixed0.txt'", NULL);
	int64_t jr = job_id_of(raw, "/srv/inbox/mixed0.txt"), got;
	int att;
	r = claim_one(qa, 60, &got, &att);
	printf("   claim: %d job %lld (want %lld) attempt %d\n", r, (long long)got, (long long)jr, att);
	CHECK(r == 0 && got == jr && att == 1);
	CHECK(hp_queue_retry(qb, jr, "not ours") == -ESTALE);
	CHECK(hp_queue_retry(qa, jr, "worker killed by SIGSEGV") == 0);
	CHECK(state_is(raw, jr, "retry"));
	long long wait_ms = sql_int(raw, "SELECT (extract(epoch FROM not_before - now()) * 1000)::bigint"
	                                 " FROM hopper.jobs WHERE id = $1", id_str(jr, b1), NULL);
	printf("   retry in %lld ms\n", wait_ms);
	CHECK(wait_ms > 150 && wait_ms <= 375);
	CHECK(claim_one(qa, 60, &got, NULL) == -ENOENT); /* not yet due */
	for (int i = 0; i < 100 && claim_one(qa, 60, &got, &att) == -ENOENT; i++)
		sleep_ms(20);
	CHECK(got == jr && att == 2);
	CHECK(hp_queue_retry(qa, jr, "worker killed by SIGSEGV") == 1);
	CHECK(state_is(raw, jr, "failed"));
	char *err = sql_str(raw, "SELECT error FROM hopper.jobs WHERE id = $1", b1, NULL);
	CHECK(err && strcmp(err, "worker killed by SIGSEGV") == 0);
	free(err);

	step("an expired lease past max_attempts fails in the claim instead of running again");
	hp_file_ref ex = file_ref("/srv/inbox/expire.txt", 13, 0);
	CHECK(hp_queue_enqueue(qa, &ex, 1, &added) == 0 && added == 1);
	int64_t je = job_id_of(raw, ex.path);
	sql_cmd(raw, "UPDATE hopper.jobs SET state = 'running', attempts = 2, lease_owner = 'dead:1',"
	             " lease_until = now() - interval '1 second' WHERE id = $1", id_str(je, b1));
	CHECK(hp_queue_claim(qa, 10, 60, &jobs, &n) == 0 && n == 0);
	CHECK(state_is(raw, je, "failed"));
	err = sql_str(raw, "SELECT error FROM hopper.jobs WHERE id = $1", b1, NULL);
	printf("   %s\n", err);
	CHECK(err && strstr(err, "lease expired"));
	free(err);

	step("a batch of results: one the database rejects fails alone with its message");
	hp_file_ref rs[3];
	char rp[3][48];
	for (int i = 0; i < 3; i++) {
		snprintf(rp[i], sizeof rp[i], "/srv/inbox/result%d.txt", i);
		rs[i] = file_ref(rp[i], 14, 0);
	}
	CHECK(hp_queue_enqueue(qa, rs, 3, &added) == 0 && added == 3);
	CHECK(hp_queue_claim(qa, 10, 60, &jobs, &n) == 0 && n == 3);
	char md0[] = "# R0\n", md1[] = "# R1\n", md2[] = "# R2\n", good[] = "{\"a\": 1}",
	     badjson[] = "{not json";
	hp_doc d0 = make_doc(md0, NULL, good), d1 = make_doc(md1, NULL, badjson), d2 = make_doc(md2, NULL, NULL);
	char s0[HP_SHA256_HEX_LEN + 1], s1[HP_SHA256_HEX_LEN + 1], s2[HP_SHA256_HEX_LEN + 1];
	CHECK(hp_sha256_hex(md0, 5, s0) == 0 && hp_sha256_hex(md1, 5, s1) == 0 && hp_sha256_hex(md2, 5, s2) == 0);
	char ch[] = "R", cc[] = "chunk body";
	hp_chunk ck[] = { { .heading = ch, .content = cc, .tokens = 2 } };
	hp_completion c[4] = {
		{ .job_id = jobs[0].id, .sha256_hex = s0, .bytes = 5, .doc = &d0, .chunks = ck, .n_chunks = 1 },
		{ .job_id = jobs[1].id, .sha256_hex = s1, .bytes = 5, .doc = &d1, .chunks = ck, .n_chunks = 1 },
		{ .job_id = jobs[2].id, .sha256_hex = s2, .bytes = 5, .doc = &d2 },
		{ .job_id = 987654321, .sha256_hex = s2, .bytes = 5, .doc = &d2 },
	};
	CHECK(hp_queue_complete_batch(qa, c, 4) == 0);
	printf("   results %d %d %d %d; %s\n", c[0].result, c[1].result, c[2].result, c[3].result, c[1].error);
	CHECK(c[0].result == 0 && c[1].result == -EBADMSG && c[2].result == 0 && c[3].result == -ESTALE);
	CHECK(strstr(c[1].error, "json") && strstr(c[1].error, "(permanent)"));
	CHECK(state_is(raw, jobs[0].id, "done") && state_is(raw, jobs[1].id, "failed") &&
	      state_is(raw, jobs[2].id, "done"));
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.chunks c JOIN hopper.documents d"
	                   " ON d.id = c.document_id WHERE d.sha256 = $1", s0, NULL) == 1);
	hp_jobs_free(jobs, n);

	step("links and same content in one batch: one document, every job done");
	hp_file_ref ls[3];
	char lp[3][48];
	for (int i = 0; i < 3; i++) {
		snprintf(lp[i], sizeof lp[i], "/srv/inbox/link%d.txt", i);
		ls[i] = file_ref(lp[i], 15, 0);
	}
	CHECK(hp_queue_enqueue(qa, ls, 3, &added) == 0 && added == 3);
	CHECK(hp_queue_claim(qa, 10, 60, &jobs, &n) == 0 && n == 3);
	char md3[] = "# Same\n";
	char s3[HP_SHA256_HEX_LEN + 1];
	CHECK(hp_sha256_hex(md3, strlen(md3), s3) == 0);
	hp_doc d3 = make_doc(md3, NULL, NULL);
	const char *shas[] = { s0, s3 };
	int64_t found[2];
	CHECK(hp_queue_find_documents(qa, shas, 2, found) == 0 && found[0] > 0 && found[1] == 0);
	hp_completion l[3] = {
		{ .job_id = jobs[0].id, .sha256_hex = s3, .bytes = 7, .doc = &d3, .chunks = ck, .n_chunks = 1 },
		{ .job_id = jobs[1].id, .sha256_hex = s3, .bytes = 7, .doc = &d3, .chunks = ck, .n_chunks = 1 },
		{ .job_id = jobs[2].id, .sha256_hex = s0, .bytes = 5 }, /* link */
	};
	CHECK(hp_queue_complete_batch(qa, l, 3) == 0);
	CHECK(l[0].result == 0 && l[1].result == 0 && l[2].result == 0);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.documents WHERE sha256 = $1", s3, NULL) == 1);
	CHECK(sql_int(raw, "SELECT count(DISTINCT document_id) FROM hopper.jobs WHERE path LIKE '/srv/inbox/link%'"
	                   " AND state = 'done'", NULL, NULL) == 2);
	hp_jobs_free(jobs, n);

	step("a batch sent without waiting: poll, a call in between, a rejected row");
	hp_file_ref as[3];
	char ap[3][48];
	for (int i = 0; i < 3; i++) {
		snprintf(ap[i], sizeof ap[i], "/srv/inbox/async%d.txt", i);
		as[i] = file_ref(ap[i], 17, 0);
	}
	CHECK(hp_queue_enqueue(qa, as, 3, &added) == 0 && added == 3);
	CHECK(hp_queue_claim(qa, 10, 60, &jobs, &n) == 0 && n == 3);
	char am0[] = "# A0\n", am1[] = "# A1\n", am2[] = "# A2\n";
	hp_doc a0 = make_doc(am0, NULL, NULL), a1 = make_doc(am1, NULL, badjson), a2 = make_doc(am2, NULL, NULL);
	char as0[HP_SHA256_HEX_LEN + 1], as1[HP_SHA256_HEX_LEN + 1], as2[HP_SHA256_HEX_LEN + 1];
	CHECK(hp_sha256_hex(am0, 5, as0) == 0 && hp_sha256_hex(am1, 5, as1) == 0 && hp_sha256_hex(am2, 5, as2) == 0);
	hp_completion ac[2] = {
		{ .job_id = jobs[0].id, .sha256_hex = as0, .bytes = 5, .doc = &a0, .chunks = ck, .n_chunks = 1 },
		{ .job_id = jobs[1].id, .sha256_hex = as1, .bytes = 5, .doc = &a1 },
	};
	CHECK(hp_queue_complete_poll(qa) == 0); /* nothing in flight */
	CHECK(hp_queue_complete_start(qa, ac, 2) == 0);
	CHECK(hp_queue_complete_start(qa, ac, 2) == -EBUSY);
	for (int i = 0; i < 500 && (r = hp_queue_complete_poll(qa)) == -EINPROGRESS; i++)
		sleep_ms(10);
	printf("   poll: %d, results %d %d\n", r, ac[0].result, ac[1].result);
	CHECK(r == 1 && ac[0].result == 0 && ac[1].result == -EBADMSG);
	CHECK(state_is(raw, jobs[0].id, "done") && state_is(raw, jobs[1].id, "failed"));
	hp_completion ad = { .job_id = jobs[2].id, .sha256_hex = as2, .bytes = 5, .doc = &a2 };
	/* The batch has its own connection: a claim meanwhile does not wait
	 * for it, even while a lock holds the batch up. */
	hp_queue_policy patient = pol;
	patient.lock_timeout_ms = 600000; /* the lock below is ours, not a fault */
	CHECK(hp_queue_set_policy(qa, &patient) == 0);
	sql_cmd(raw, "BEGIN", NULL);
	sql_cmd(raw, "LOCK TABLE hopper.documents IN SHARE ROW EXCLUSIVE MODE", NULL);
	CHECK(hp_queue_complete_start(qa, &ad, 1) == 0);
	CHECK(hp_queue_complete_fd(qa) >= 0 && hp_queue_complete_fd(qa) != hp_queue_fd(qa));
	hp_job *cj = NULL;
	size_t cn = 0;
	CHECK(hp_queue_claim(qa, 10, 60, &cj, &cn) == 0 && cn == 0);
	CHECK(hp_queue_backlog(qa, &bl) == 0);
	CHECK(hp_queue_complete_poll(qa) == -EINPROGRESS);
	hp_jobs_free(cj, cn);
	sql_cmd(raw, "COMMIT", NULL);
	for (int i = 0; i < 500 && (r = hp_queue_complete_poll(qa)) == -EINPROGRESS; i++)
		sleep_ms(10);
	CHECK(r == 1 && hp_queue_complete_poll(qa) == 0);
	CHECK(ad.result == 0 && state_is(raw, jobs[2].id, "done"));
	CHECK(hp_queue_set_policy(qa, &pol) == 0);
	hp_jobs_free(jobs, n);

	step("hopper.workers shows what a supervisor published");
	hp_queue_worker w[] = { { 4242, 0, 1000 }, { 4343, 77, 50 } };
	CHECK(hp_queue_workers_publish(qa, "nodeA", w, 2) == 0);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.workers WHERE node = 'nodeA'", NULL, NULL) == 2);
	CHECK(sql_int(raw, "SELECT job_id FROM hopper.workers WHERE pid = 4343", NULL, NULL) == 77);
	CHECK(hp_queue_workers_publish(qa, "nodeA", w + 1, 1) == 0);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.workers", NULL, NULL) == 1);
	CHECK(hp_queue_workers_publish(qa, "nodeA", NULL, 0) == 0);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.workers", NULL, NULL) == 0);

	step("the read-only role may read the schema and nothing more");
	CHECK(sql_int(raw, "SELECT count(*) FROM pg_roles WHERE rolname = 'hopper_read'", NULL, NULL) == 1);
	CHECK(sql_int(raw, "SELECT has_table_privilege('hopper_read', 'hopper.jobs', 'SELECT')::int", NULL,
	              NULL) == 1);
	CHECK(sql_int(raw, "SELECT has_table_privilege('hopper_read', 'hopper.jobs', 'UPDATE')::int", NULL,
	              NULL) == 0);

	step("fault injection: the Nth statement finds its connection cut");
	setenv("HOPPER_FAULT_QUERY", "2", 1);
	CHECK(hp_queue_backlog(qa, &bl) == 0);
	r = hp_queue_backlog(qa, &bl);
	unsetenv("HOPPER_FAULT_QUERY");
	printf("   second statement: %d\n", r);
	CHECK(r == -ECONNRESET);
	CHECK(hp_queue_reconnect(qa) == 0);
	CHECK(hp_queue_backlog(qa, &bl) == 0);

	step("the claim walks an index with 1,000,000 done rows in the table");
	sql_cmd(raw, "INSERT INTO hopper.jobs (watch, path, rel_path, ino, size, mtime_ns, state, finished_at)"
	             " SELECT 'inbox', '/srv/inbox/old/' || g, convert_to('old/' || g, 'UTF8'), g, 1, 1,"
	             "        'done', now() FROM generate_series(1, 1000000) g", NULL);
	sql_cmd(raw, "ANALYZE hopper.jobs", NULL);
	char *plan = NULL;
	CHECK(hp_queue_explain_claim(qa, &plan) == 0);
	bool seq = strstr(plan, "Seq Scan on jobs") != NULL;
	bool idx = strstr(plan, "jobs_ready_idx") && strstr(plan, "jobs_retry_idx") &&
	           strstr(plan, "jobs_expiry_idx");
	if (seq || !idx)
		printf("%s", plan);
	CHECK(!seq && idx);
	free(plan);
	hp_file_ref late = file_ref("/srv/inbox/late.txt", 16, 0);
	CHECK(hp_queue_enqueue(qa, &late, 1, &added) == 0 && added == 1);
	CHECK(claim_one(qa, 60, &got, NULL) == 0 && got == job_id_of(raw, late.path));
	CHECK(hp_queue_release_all(qa) == 1);
	hp_queue_policy defaults = { .max_attempts = 3, .retry_delay_ms = 10000, .retry_max_ms = 3600000,
		                     .statement_timeout_ms = 30000, .lock_timeout_ms = 1000 };
	CHECK(hp_queue_set_policy(qa, &defaults) == 0);
	hp_queue_close(qc);
}

/* ---- the server outliving its owner --------------------------------------- */

static char *find_bindir(void)
{
	char line[PATH_MAX] = "";
	FILE *f = popen("pg_config --bindir 2>/dev/null", "re");
	if (!f)
		return NULL;
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	pclose(f);
	line[strcspn(line, "\n")] = '\0';
	return line[0] == '/' ? strdup(line) : NULL;
}

/* A postgres on pgdata that is not hp_pgembed's child: as a crashed
 * hopperd would leave it. Returns its pid, or -1. */
static pid_t start_foreign_postgres(const char *state_dir)
{
	char *bindir = find_bindir();
	if (!bindir)
		return -1;
	char prog[PATH_MAX], pgdata[PATH_MAX], run[PATH_MAX];
	bool fits = (size_t)snprintf(prog, sizeof prog, "%s/postgres", bindir) < sizeof prog &&
	            (size_t)snprintf(pgdata, sizeof pgdata, "%s/pg", state_dir) < sizeof pgdata &&
	            (size_t)snprintf(run, sizeof run, "%s/run", state_dir) < sizeof run;
	free(bindir);
	if (!fits)
		return -1;
	struct stat st;
	if (stat(pgdata, &st) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		setsid();
		if (geteuid() == 0) {
			gid_t g = st.st_gid;
			if (setgroups(1, &g) < 0 || setgid(st.st_gid) < 0 || setuid(st.st_uid) < 0)
				_exit(126);
		}
		execl(prog, prog, "-D", pgdata, "-k", run, "-c", "listen_addresses=", (char *)NULL);
		_exit(127);
	}
	/* Wait until it is up (its socket answers). */
	char *ci = hp_pgembed_conninfo(state_dir);
	for (int i = 0; i < 600 && PQping(ci) != PQPING_OK; i++)
		sleep_ms(50);
	free(ci);
	return pid;
}

static bool wait_no_procs(const char *pgdata)
{
	for (int i = 0; i < 600; i++) {
		if (hp_pgtest_count_procs(pgdata) == 0)
			return true;
		sleep_ms(50);
	}
	return false;
}

static void test_owner_death_and_leftover(const char *dir)
{
	char state[PATH_MAX], pgdata[PATH_MAX];
	CHECK((size_t)snprintf(state, sizeof state, "%s/state2", dir) < sizeof state);
	CHECK((size_t)snprintf(pgdata, sizeof pgdata, "%s/pg", state) < sizeof pgdata);

	step("a hopperd killed with SIGKILL takes its server with it (PR_SET_PDEATHSIG)");
	pid_t pm = -1;
	pid_t owner = hp_pgtest_fork_owner(state, &pm);
	CHECK(owner > 0);
	CHECK(pm > 0);
	CHECK(hp_pgtest_count_procs(pgdata) > 0);
	CHECK(kill(owner, SIGKILL) == 0);
	int st;
	CHECK(waitpid(owner, &st, 0) == owner);
	CHECK(wait_no_procs(pgdata));
	printf("   postmaster %d went away after its owner was killed\n", (int)pm);

	step("a server left running on the data directory is stopped before starting");
	pid_t foreign = start_foreign_postgres(state);
	CHECK(foreign > 0);
	CHECK(hp_pgtest_count_procs(pgdata) > 0);
	hp_pgembed *pg = NULL;
	CHECK(hp_pgembed_start(state, &pg) == 0);
	pid_t w = waitpid(foreign, &st, WNOHANG);
	CHECK(w == foreign); /* stopped by hp_pgembed_start, so already a zombie */
	CHECK(hp_pgembed_pid(pg) != foreign);
	char *ci = hp_pgembed_conninfo(state);
	char err[512];
	PGconn *c = hp_db_connect(ci, err, sizeof err);
	CHECK(c != NULL);
	CHECK(sql_int(c, "SELECT 1", NULL, NULL) == 1);
	PQfinish(c);
	free(ci);
	hp_pgembed_stop(pg);
	CHECK(wait_no_procs(pgdata));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	char err[512], b1[24], b2[24];
	int r;

	g_t = hp_pgtest_start_or_skip();
	step("embedded cluster up in %s (postmaster %d)", g_t->state_dir, (int)hp_pgembed_pid(g_t->pg));

	/* ---- db.c ---- */
	step("conninfo and connection errors");
	hp_config cfg = { .database = "local", .state_dir = g_t->state_dir };
	char *ci = hp_db_conninfo(&cfg);
	CHECK(ci && strcmp(ci, g_t->conninfo) == 0);
	free(ci);
	cfg.database = "host=db.example dbname=x";
	ci = hp_db_conninfo(&cfg);
	CHECK(ci && strcmp(ci, "host=db.example dbname=x") == 0);
	free(ci);
	ci = hp_pgembed_conninfo("/nonexistent/hopper-state");
	CHECK(hp_db_connect(ci, err, sizeof err) == NULL);
	printf("   %s\n", err);
	CHECK(strstr(err, "hopperd is not running") && strstr(err, "/nonexistent/hopper-state/run"));
	free(ci);

	PGconn *raw = hp_db_connect(g_t->conninfo, err, sizeof err);
	CHECK(raw != NULL);
	/* hopper's connection defaults apply; the conninfo's own settings win. */
	CHECK(strcmp(PQparameterStatus(raw, "application_name"), "hopper") == 0);
	char *mine = NULL;
	CHECK(asprintf(&mine, "%s application_name=mine", g_t->conninfo) > 0);
	PGconn *own = hp_db_connect(mine, err, sizeof err);
	CHECK(own && strcmp(PQparameterStatus(own, "application_name"), "mine") == 0);
	PQfinish(own);
	free(mine);

	/* ---- migrate.c ---- */
	step("migrations: first run applies %zu, second applies none", hp_n_migrations);
	r = hp_migrate(raw);
	CHECK(r >= 1 && (size_t)r == hp_n_migrations);
	CHECK(hp_migrate(raw) == 0);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.schema_version", NULL, NULL) ==
	      (long long)hp_n_migrations);
	step("a database newer than the binary is refused");
	sql_cmd(raw, "INSERT INTO hopper.schema_version (version, name) VALUES (9999, 'future')", NULL);
	CHECK(hp_migrate(raw) == -EPROTO);
	sql_cmd(raw, "DELETE FROM hopper.schema_version WHERE version = 9999", NULL);

	step("two daemons migrating a fresh database at once: applied once, both succeed");
	sql_cmd(raw, "CREATE DATABASE fresh", NULL);
	PQconninfoOption *opts = PQconninfoParse(g_t->conninfo, NULL);
	CHECK(opts != NULL);
	char fresh_ci[1024] = "";
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "host") == 0 && o->val)
			snprintf(fresh_ci, sizeof fresh_ci, "host='%s' dbname=fresh user=hopper", o->val);
	PQconninfoFree(opts);
	migrator m1 = { fresh_ci, -1 }, m2 = { fresh_ci, -1 };
	pthread_t t1, t2;
	CHECK(pthread_create(&t1, NULL, migrate_thread, &m1) == 0);
	CHECK(pthread_create(&t2, NULL, migrate_thread, &m2) == 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	printf("   applied %d and %d\n", m1.result, m2.result);
	CHECK(m1.result >= 0 && m2.result >= 0);
	CHECK((size_t)(m1.result + m2.result) == hp_n_migrations);

	/* ---- queue ---- */
	hp_queue *qa, *qb;
	CHECK(hp_queue_open(g_t->conninfo, "nodeA:1", &qa) == 0);
	CHECK(hp_queue_open(g_t->conninfo, "nodeB:2", &qb) == 0);
	const char *our_watches[] = { "inbox", "scan" };
	CHECK(hp_queue_set_watches(qa, our_watches, NULL, 2) == 0);
	CHECK(hp_queue_set_watches(qb, our_watches, NULL, 2) == 0);

	step("enqueue is idempotent per file version");
	size_t added = 99;
	hp_file_ref v1 = file_ref("/srv/inbox/a.txt", 1700000000123456789LL, 0);
	hp_file_ref twice[] = { v1, v1 };
	CHECK(hp_queue_enqueue(qa, twice, 2, &added) == 0 && added == 1);
	CHECK(hp_queue_enqueue(qb, &v1, 1, &added) == 0 && added == 0);
	hp_file_ref v2 = v1;
	v2.mtime_ns++;
	CHECK(hp_queue_enqueue(qa, &v2, 1, &added) == 0 && added == 1);
	static const char weird_path[] = "/srv/inbox/we\"ird\\ {a,b} 'q' NULL\nline é.txt";
	hp_file_ref weird = file_ref(weird_path, 1, 0);
	weird.dev = UINT64_MAX - 1;
	weird.ino = UINT64_MAX;
	weird.size = INT64_MAX;
	weird.chunk_tokens = 0;
	CHECK(hp_queue_enqueue(qa, &weird, 1, &added) == 0 && added == 1);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE path = $1", v1.path, NULL) == 2);

	step("NOTIFY reaches the other connection, and only when a job was added");
	CHECK(wait_notify(qb) > 0);
	CHECK(wait_notify(qa) > 0); /* our own, too: drain it */
	CHECK(hp_queue_enqueue(qa, &v1, 1, &added) == 0 && added == 0);
	hp_file_ref n1 = file_ref("/srv/inbox/notify.txt", 5, 0);
	CHECK(hp_queue_enqueue(qa, &n1, 1, &added) == 0 && added == 1);
	r = wait_notify(qb);
	printf("   notifications after one empty and one real enqueue: %d\n", r);
	CHECK(r == 1);

	step("a batch of 40 files plus one urgent file");
	char paths[40][64];
	hp_file_ref batch[40];
	for (int i = 0; i < 40; i++) {
		snprintf(paths[i], sizeof paths[i], "/srv/inbox/batch/%02d.md", i);
		batch[i] = file_ref(paths[i], 100 + i, 0);
		batch[i].ino = 1000 + (uint64_t)i;
	}
	CHECK(hp_queue_enqueue(qb, batch, 40, &added) == 0 && added == 40);
	hp_file_ref urgent = file_ref("/srv/inbox/urgent.pdf", 7, 5);
	CHECK(hp_queue_enqueue(qb, &urgent, 1, &added) == 0 && added == 1);
	const long long total = 45;
	int64_t backlog = -1;
	CHECK(hp_queue_backlog(qa, &backlog) == 0 && backlog == total);

	step("SKIP LOCKED: a locked row is skipped, not waited for");
	sql_cmd(raw, "BEGIN", NULL);
	sql_cmd(raw, "SELECT id FROM hopper.jobs WHERE path = $1 FOR UPDATE", urgent.path);
	int64_t ja, jb;
	CHECK(claim_one(qa, 60, &ja, NULL) == 0);
	char *pa = sql_str(raw, "SELECT path FROM hopper.jobs WHERE id = $1", id_str(ja, b1), NULL);
	CHECK(pa && strcmp(pa, urgent.path) != 0);
	free(pa);
	sql_cmd(raw, "COMMIT", NULL);
	CHECK(claim_one(qb, 60, &jb, NULL) == 0);
	char *pb = sql_str(raw, "SELECT path FROM hopper.jobs WHERE id = $1", id_str(jb, b1), NULL);
	CHECK(pb && strcmp(pb, urgent.path) == 0); /* highest priority first */
	free(pb);

	step("two connections claiming at once get disjoint sets that cover the queue");
	claimer ca = { .q = qa }, cb = { .q = qb };
	pthread_t ta, tb;
	CHECK(pthread_create(&ta, NULL, claim_loop, &ca) == 0);
	CHECK(pthread_create(&tb, NULL, claim_loop, &cb) == 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK(ca.err == 0 && cb.err == 0);
	printf("   claimed %zu + %zu\n", ca.n, cb.n);
	CHECK((long long)(ca.n + cb.n) == total - 2);
	for (size_t i = 0; i < ca.n; i++) {
		CHECK(ca.ids[i] != ja && ca.ids[i] != jb);
		for (size_t k = 0; k < cb.n; k++)
			CHECK(ca.ids[i] != cb.ids[k]);
		for (size_t k = i + 1; k < ca.n; k++)
			CHECK(ca.ids[i] != ca.ids[k]);
	}
	for (size_t i = 0; i < cb.n; i++)
		for (size_t k = i + 1; k < cb.n; k++)
			CHECK(cb.ids[i] != cb.ids[k]);
	CHECK(sql_int(raw, "SELECT jobs FROM hopper.status WHERE state = 'running'", NULL, NULL) == total);
	CHECK(hp_queue_backlog(qa, &backlog) == 0 && backlog == 0);

	step("release_all puts back exactly our own jobs");
	r = hp_queue_release_all(qa);
	CHECK(r == (int)ca.n + 1);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE state = 'running'", NULL, NULL) ==
	      (long long)cb.n + 1);
	CHECK(hp_queue_release_all(qb) == (int)cb.n + 1);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE state = 'queued'"
	                   " AND lease_owner IS NULL", NULL, NULL) == total);

	step("claim order and field round trip");
	hp_job *jobs;
	size_t n;
	CHECK(hp_queue_claim(qa, 100, 60, &jobs, &n) == 0);
	CHECK((long long)n == total);
	CHECK(strcmp(jobs[0].path, urgent.path) == 0);
	bool seen_weird = false;
	for (size_t i = 1; i < n; i++) {
		if (i > 1)
			CHECK(jobs[i].id > jobs[i - 1].id);
		CHECK(jobs[i].attempts >= 1);
		if (strcmp(jobs[i].path, weird_path) == 0) {
			seen_weird = true;
			CHECK(jobs[i].dev == weird.dev && jobs[i].ino == weird.ino);
			CHECK(jobs[i].size == weird.size && jobs[i].mtime_ns == weird.mtime_ns);
			CHECK(jobs[i].chunk_tokens == 0 && strcmp(jobs[i].watch, "inbox") == 0);
		}
		if (strcmp(jobs[i].path, v1.path) == 0 && jobs[i].mtime_ns == v1.mtime_ns)
			CHECK(jobs[i].chunk_tokens == 512 && jobs[i].dev == 2049 && jobs[i].ino == 777);
	}
	CHECK(seen_weird);
	hp_jobs_free(jobs, n);
	CHECK(hp_queue_release_all(qa) == (int)total);

	step("complete stores document, chunks and done in one go");
	int64_t j1;
	CHECK(claim_one(qa, 60, &j1, NULL) == 0);
	char md[] = "# Urgent\n\nalpha beta\n\n## Sub\n\ngamma delta\n";
	char title[] = "Urgent notes", meta[] = "{\"k\": 1}";
	char h0[] = "Urgent", c0[] = "# Urgent\n\nalpha beta", h1[] = "Urgent > Sub",
	     c1[] = "## Sub\n\ngamma \"delta\" {x,y} \\ end";
	hp_chunk chunks[] = { { .heading = h0, .content = c0, .tokens = 3, .page = 2, .start = 0, .end = 5 },
	                      { .heading = h1, .content = c1, .tokens = 7 } };
	hp_doc doc = make_doc(md, title, meta);
	char sha[HP_SHA256_HEX_LEN + 1];
	CHECK(hp_sha256_hex(md, strlen(md), sha) == 0);
	CHECK(hp_queue_complete(qa, j1, sha, 4321, &doc, chunks, 2) == 0);
	CHECK(state_is(raw, j1, "done"));
	int64_t doc_id = -1;
	CHECK(hp_queue_find_document(qb, sha, &doc_id) == 0);
	CHECK(sql_int(raw, "SELECT document_id FROM hopper.jobs WHERE id = $1", id_str(j1, b1), NULL) ==
	      doc_id);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE id = $1 AND finished_at IS NOT NULL"
	                   " AND lease_owner IS NULL AND lease_until IS NULL", b1, NULL) == 1);
	id_str(doc_id, b2);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.documents WHERE id = $1 AND format = 'markdown'"
	                   " AND title = 'Urgent notes' AND bytes = 4321 AND pages IS NULL"
	                   " AND meta->>'k' = '1' AND markdown = $2", b2, md) == 1);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.chunks WHERE document_id = $1", b2, NULL) == 2);
	char *s = sql_str(raw, "SELECT content FROM hopper.chunks WHERE document_id = $1 AND ordinal = 1",
	                  b2, NULL);
	CHECK(s && strcmp(s, c1) == 0);
	free(s);
	s = sql_str(raw, "SELECT heading FROM hopper.chunks WHERE document_id = $1 AND ordinal = 1", b2,
	            NULL);
	CHECK(s && strcmp(s, h1) == 0);
	free(s);
	CHECK(sql_int(raw, "SELECT ordinal FROM hopper.chunks"
	                   " WHERE tsv @@ to_tsquery('simple', 'gamma & sub')", NULL, NULL) == 1);
	/* page and byte offsets are stored; page 0 (not paged) is NULL */
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.chunks WHERE document_id = $1 AND ordinal = 0"
	                   " AND page = 2 AND start_byte = 0 AND end_byte = 5", b2, NULL) == 1);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.chunks WHERE document_id = $1 AND ordinal = 1"
	                   " AND page IS NULL AND start_byte = 0 AND end_byte = 0", b2, NULL) == 1);
	CHECK(sql_int(raw, "SELECT jobs FROM hopper.status WHERE state = 'done'", NULL, NULL) == 1);
	s = sql_str(raw, "SELECT string_agg(state, ',') FROM hopper.status", NULL, NULL);
	CHECK(s && strcmp(s, "queued,done") == 0);
	free(s);

	step("a result is never stored twice: completing again is -ESTALE");
	CHECK(hp_queue_complete(qa, j1, sha, 4321, &doc, chunks, 2) == -ESTALE);
	CHECK(hp_queue_complete(qb, j1, sha, 4321, &doc, chunks, 2) == -ESTALE);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.documents", NULL, NULL) == 1);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.chunks", NULL, NULL) == 2);

	step("same content: find_document, link, and complete reuse the document");
	int64_t none;
	CHECK(hp_queue_find_document(qa, "00", &none) == -ENOENT);
	int64_t j2, j3;
	CHECK(claim_one(qa, 60, &j2, NULL) == 0);
	CHECK(claim_one(qa, 60, &j3, NULL) == 0);
	CHECK(hp_queue_link(qb, j2, doc_id) == -ESTALE);
	CHECK(hp_queue_link(qa, j2, doc_id) == 0);
	CHECK(state_is(raw, j2, "done"));
	CHECK(hp_queue_link(qa, j2, doc_id) == -ESTALE);
	char md2[] = "other rendering, same sha";
	hp_doc doc2 = make_doc(md2, NULL, NULL);
	char h2[] = "", c2[] = "other rendering";
	hp_chunk chunks2[] = { { .heading = h2, .content = c2, .tokens = 2 } };
	CHECK(hp_queue_complete(qa, j3, sha, 4321, &doc2, chunks2, 1) == 0);
	CHECK(sql_int(raw, "SELECT document_id FROM hopper.jobs WHERE id = $1", id_str(j3, b1), NULL) ==
	      doc_id);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.documents", NULL, NULL) == 1);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.chunks", NULL, NULL) == 2);
	CHECK(sql_int(raw, "SELECT jobs FROM hopper.status WHERE state = 'done'", NULL, NULL) == 3);

	step("fail stores the reason; hopper.failures shows it");
	int64_t j4;
	CHECK(claim_one(qa, 60, &j4, NULL) == 0);
	CHECK(hp_queue_link(qa, j4, 987654321) < 0); /* no such document: nothing changes */
	CHECK(state_is(raw, j4, "running"));
	const char *why = "encrypted PDF, cannot extract text (permanent)";
	CHECK(hp_queue_fail(qb, j4, why) == -ESTALE);
	CHECK(hp_queue_fail(qa, j4, why) == 0);
	CHECK(state_is(raw, j4, "failed"));
	CHECK(hp_queue_fail(qa, j4, why) == -ESTALE);
	s = sql_str(raw, "SELECT error FROM hopper.failures WHERE job_id = $1", id_str(j4, b1), NULL);
	CHECK(s && strcmp(s, why) == 0);
	free(s);
	s = sql_str(raw, "SELECT path FROM hopper.failures LIMIT 1", NULL, NULL);
	char *p4 = sql_str(raw, "SELECT path FROM hopper.jobs WHERE id = $1", b1, NULL);
	CHECK(s && p4 && strcmp(s, p4) == 0);
	free(s);
	free(p4);
	CHECK(sql_int(raw, "SELECT failed FROM hopper.progress WHERE watch = 'inbox'", NULL, NULL) == 1);
	CHECK(sql_int(raw, "SELECT done FROM hopper.progress WHERE watch = 'inbox'", NULL, NULL) == 3);

	step("an expired lease lets another daemon take the job; the old owner is refused");
	int64_t j5, j5b;
	int att, att2;
	CHECK(claim_one(qa, 60, &j5, &att) == 0);
	sql_cmd(raw, "UPDATE hopper.jobs SET lease_until = now() - interval '1 second' WHERE id = $1",
	        id_str(j5, b1));
	CHECK(claim_one(qb, 60, &j5b, &att2) == 0);
	CHECK(j5b == j5 && att2 == att + 1);
	CHECK(hp_queue_complete(qa, j5, sha, 1, &doc, chunks, 2) == -ESTALE);
	CHECK(hp_queue_requeue(qa, j5) == -ESTALE);
	CHECK(hp_queue_fail(qa, j5, "late") == -ESTALE);
	char md5[] = "# Five\n";
	char sha5[HP_SHA256_HEX_LEN + 1];
	CHECK(hp_sha256_hex(md5, strlen(md5), sha5) == 0);
	hp_doc doc5 = make_doc(md5, NULL, NULL);
	CHECK(hp_queue_complete(qb, j5, sha5, 7, &doc5, NULL, 0) == 0);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.documents", NULL, NULL) == 2);

	step("a short lease runs out by itself");
	int64_t j6, j6b;
	CHECK(claim_one(qa, 1, &j6, NULL) == 0);
	for (int i = 0; i < 200 && sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE id = $1"
	                                        " AND lease_until < now()", id_str(j6, b1), NULL) == 0; i++)
		sleep_ms(50);
	CHECK(claim_one(qb, 60, &j6b, NULL) == 0 && j6b == j6);

	step("renew extends only our leases; requeue puts one back");
	int64_t j7, j8;
	CHECK(claim_one(qa, 1, &j7, NULL) == 0);
	CHECK(claim_one(qa, 1, &j8, NULL) == 0);
	int64_t both[] = { j7, j8, j6 }; /* j6 is qb's: not renewed by qa */
	CHECK(hp_queue_renew(qa, 3600, both, 1) == 1);
	CHECK(hp_queue_renew(qa, 3600, both, 3) == 2);
	CHECK(hp_queue_renew(qa, 3600, NULL, 0) == 0);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE lease_owner = $1"
	                   " AND lease_until > now() + interval '3000 seconds'", "nodeA:1", NULL) == 2);
	CHECK(hp_queue_requeue(qb, j7) == -ESTALE);
	CHECK(hp_queue_requeue(qa, j7) == 0);
	CHECK(state_is(raw, j7, "queued"));
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE id = $1 AND lease_owner IS NULL",
	              id_str(j7, b1), NULL) == 1);
	CHECK(hp_queue_release_all(qa) == 1); /* j8 */
	CHECK(state_is(raw, j8, "queued"));
	CHECK(hp_queue_release_all(qb) == 1); /* j6 */
	CHECK(hp_queue_release_all(qb) == 0);

	step("forget drops only our own running job (a superseded file version)");
	int64_t j9;
	CHECK(claim_one(qa, 60, &j9, NULL) == 0);
	CHECK(hp_queue_forget(qb, j9) == -ESTALE);
	CHECK(state_is(raw, j9, "running"));
	CHECK(hp_queue_forget(qa, j9) == 0);
	CHECK(sql_int(raw, "SELECT count(*) FROM hopper.jobs WHERE id = $1", id_str(j9, b1), NULL) == 0);
	CHECK(hp_queue_forget(qa, j9) == -ESTALE);

	step("lease owners by node prefix; a dead owner's jobs are taken back");
	int64_t j10, j11;
	CHECK(claim_one(qa, 600, &j10, NULL) == 0);
	CHECK(claim_one(qb, 600, &j11, NULL) == 0);
	char **owners = NULL;
	size_t n_owners = 0;
	CHECK(hp_queue_lease_owners(qb, "nodeA:", &owners, &n_owners) == 0);
	CHECK(n_owners == 1 && strcmp(owners[0], "nodeA:1") == 0 && owners[1] == NULL);
	hp_strv_free(owners);
	CHECK(hp_queue_lease_owners(qb, "node_:", &owners, &n_owners) == 0); /* no LIKE wildcards */
	CHECK(n_owners == 0);
	hp_strv_free(owners);
	CHECK(hp_queue_release_owner(qb, "nodeA:1") == 1);
	CHECK(state_is(raw, j10, "queued"));
	CHECK(state_is(raw, j11, "running"));
	CHECK(hp_queue_release_owner(qb, "nodeA:1") == 0);
	CHECK(hp_queue_requeue(qb, j11) == 0);

	test_issue14(raw, qa, qb);

	step("a dropped connection gives -ECONNRESET; reconnect restores queue and LISTEN");
	char pid[24];
	snprintf(pid, sizeof pid, "%d", PQbackendPID(hp_queue_conn(qa)));
	CHECK(sql_int(raw, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid, NULL) == 1);
	sql_cmd(raw, "SELECT pg_terminate_backend($1::int)", pid);
	/* The signal is asynchronous: wait until that backend is gone. */
	for (int i = 0; i < 200 && sql_int(raw, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
	                                   pid, NULL) > 0; i++)
		sleep_ms(50);
	r = hp_queue_backlog(qa, &backlog);
	printf("   query on the dropped connection: %d (%s)\n", r, strerror(-r));
	CHECK(r == -ECONNRESET);
	CHECK(hp_queue_reconnect(qa) == 0);
	CHECK(hp_queue_backlog(qa, &backlog) == 0 && backlog > 0);
	hp_file_ref n2 = file_ref("/srv/inbox/after-reconnect.txt", 9, 0);
	CHECK(hp_queue_enqueue(qb, &n2, 1, &added) == 0 && added == 1);
	CHECK(wait_notify(qa) >= 1);

	step("a startup scan's worth of files goes in several statements, once");
	enum { BIG = 1234 };
	hp_file_ref *big = calloc(BIG, sizeof *big);
	char (*bigpaths)[48] = calloc(BIG, sizeof *bigpaths);
	CHECK(big && bigpaths);
	for (int i = 0; i < BIG; i++) {
		snprintf(bigpaths[i], sizeof bigpaths[i], "/srv/scan/%04d.txt", i);
		big[i] = file_ref(bigpaths[i], 1, -1);
		big[i].watch = "scan";
	}
	CHECK(hp_queue_enqueue(qa, big, BIG, &added) == 0 && added == BIG);
	CHECK(hp_queue_enqueue(qb, big, BIG, &added) == 0 && added == 0);
	CHECK(sql_int(raw, "SELECT queued FROM hopper.progress WHERE watch = 'scan'", NULL, NULL) == BIG);
	free(big);
	free(bigpaths);

	hp_queue_close(qa);
	hp_queue_close(qb);
	PQfinish(raw);

	step("stop leaves no PostgreSQL process of this cluster");
	CHECK(hp_pgtest_count_procs(g_t->pgdata) > 0);
	hp_pgembed_stop(g_t->pg);
	g_t->pg = NULL;
	int left = hp_pgtest_count_procs(g_t->pgdata);
	printf("   processes left: %d\n", left);
	CHECK(left == 0);
	char pidfile[PATH_MAX];
	CHECK((size_t)snprintf(pidfile, sizeof pidfile, "%s/postmaster.pid", g_t->pgdata) <
	      sizeof pidfile);
	CHECK(access(pidfile, F_OK) < 0);

	test_owner_death_and_leftover(g_t->dir);

	hp_pgtest_stop(g_t);
	g_t = NULL;
	printf("PASS test_queue\n");
	return 0;
}
