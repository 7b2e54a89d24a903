/* test_known.c — the catch-up's set of known versions (hp_queue_known_load,
 * hp_known_has) against a real PostgreSQL (tests/lib/pgtest.c): versions
 * queued through hp_queue_enqueue are found by their exact identity (watch,
 * rel_path bytes, ino, size, mtime_ns) and nothing else matches: not a name
 * that is a prefix, not another size, mtime or inode, not another watch's
 * file; names that are not UTF-8 and inodes above 2^63 round-trip.
 * Exit 0 pass, 1 fail, 77 skip (no PostgreSQL server programs). */
#include <errno.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/db.h"
#include "hopper/migrate.h"
#include "hopper/queue.h"
#include "../lib/pgtest.h"

static hp_pgtest *g_t;

#define CHECK(cond) HP_PGTEST_CHECK(g_t, cond)

int main(void)
{
	g_t = hp_pgtest_start_or_skip();
	char err[512];
	PGconn *raw = hp_db_connect(g_t->conninfo, err, sizeof err);
	CHECK(raw != NULL);
	CHECK(hp_migrate(raw) >= 1);
	PQfinish(raw);

	hp_queue *q = NULL;
	CHECK(hp_queue_open(g_t->conninfo, "nodeK:1", &q) == 0);
	const uint64_t big_ino = UINT64_MAX - 4; /* above 2^63: numeric in the table */
	hp_file_ref f[] = {
		{ .watch = "w", .path = "/r/a.txt", .rel = "a.txt", .size = 10, .ino = 7, .mtime_ns = 1000 },
		{ .watch = "w", .path = "/r/sub/caf\xe9-\xff.txt", .rel = "sub/caf\xe9-\xff.txt", .size = 0,
		  .ino = big_ino, .mtime_ns = -5 },
		/* the same name, a later version */
		{ .watch = "w", .path = "/r/a.txt", .rel = "a.txt", .size = 11, .ino = 7, .mtime_ns = 2000 },
		{ .watch = "other", .path = "/o/b.txt", .rel = "b.txt", .size = 1, .ino = 9, .mtime_ns = 3 },
	};
	size_t added = 0;
	CHECK(hp_queue_enqueue(q, f, HP_ARRAY_SIZE(f), &added) == 0);
	CHECK(added == HP_ARRAY_SIZE(f));

	printf("# known versions of watch w: exact identities only\n");
	hp_known *k = NULL;
	CHECK(hp_queue_known_load(q, "w", &k) == 0);
	CHECK(hp_known_count(k) == 3);
	CHECK(hp_known_has(k, "a.txt", 7, 10, 1000));
	CHECK(hp_known_has(k, "a.txt", 7, 11, 2000));
	CHECK(hp_known_has(k, "sub/caf\xe9-\xff.txt", big_ino, 0, -5));
	CHECK(!hp_known_has(k, "a.tx", 7, 10, 1000));
	CHECK(!hp_known_has(k, "a.txt2", 7, 10, 1000));
	CHECK(!hp_known_has(k, "", 7, 10, 1000));
	CHECK(!hp_known_has(k, NULL, 7, 10, 1000));
	CHECK(!hp_known_has(k, "a.txt", 7, 10, 1001));
	CHECK(!hp_known_has(k, "a.txt", 7, 12, 1000));
	CHECK(!hp_known_has(k, "a.txt", 8, 10, 1000));
	CHECK(!hp_known_has(k, "sub/caf\xc3\xa9-\xff.txt", big_ino, 0, -5)); /* the UTF-8 spelling */
	CHECK(!hp_known_has(k, "b.txt", 9, 1, 3));                          /* another watch's */
	hp_known_free(k);

	printf("# a watch with no jobs, and no set at all\n");
	k = NULL;
	CHECK(hp_queue_known_load(q, "none", &k) == 0);
	CHECK(hp_known_count(k) == 0);
	CHECK(!hp_known_has(k, "a.txt", 7, 10, 1000));
	hp_known_free(k);
	CHECK(!hp_known_has(NULL, "a.txt", 7, 10, 1000));
	CHECK(hp_known_count(NULL) == 0);

	printf("# a broken connection is an error, not an empty set\n");
	k = NULL;
	hp_pgembed_stop(g_t->pg);
	g_t->pg = NULL;
	int r = hp_queue_known_load(q, "w", &k);
	CHECK(r < 0 && k == NULL);
	hp_queue_close(q);
	hp_pgtest_stop(g_t);
	puts("all checks passed");
	return 0;
}
