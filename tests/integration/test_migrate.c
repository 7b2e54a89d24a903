/* test_migrate.c — schema migrations against a real embedded PostgreSQL.
 *
 * hp_migrate_list with small lists of our own (tables in a scratch schema):
 *   - a fresh database gets every version, in version order
 *   - a database that has 1 and 3 but not 2 (a migration merged late, a
 *     database upgraded by a build without it) gets 2, and only 2
 *   - the list given out of order is applied in version order
 *   - nothing missing: nothing applied, a second run is a no-op
 *   - a database newer than the list is refused (-EPROTO)
 *   - a migration that fails leaves no record and no half of its work
 * Then hp_migrate (the real lib/sql files) on the same database, twice.
 * Exit 0 pass, 1 fail, 77 skip (no PostgreSQL server programs).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/migrate.h"
#include "../lib/pgtest.h"

static hp_pgtest *g_t;

#define CHECK(cond) HP_PGTEST_CHECK(g_t, cond)

/* The first column of the first row, as a static string ("" for none). */
static const char *one(PGconn *c, const char *sql)
{
	static char buf[512];
	PGresult *res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		printf("query failed: %s: %s", sql, PQerrorMessage(c));
		PQclear(res);
		hp_pgtest_fail(g_t, __FILE__, __LINE__, "query");
	}
	snprintf(buf, sizeof buf, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return buf;
}

/* Each migration appends its number to scratch.log, so the order it ran in
 * shows. */
#define M(v, tbl)                                                                     \
	{ v, #v "_" tbl,                                                              \
	  "CREATE TABLE scratch." tbl " (x int);"                                     \
	  "INSERT INTO scratch.log (v) VALUES (" #v ");" }

static const char *versions(PGconn *c)
{
	return one(c, "SELECT string_agg(version::text, ',' ORDER BY version) FROM hopper.schema_version"
	              " WHERE name NOT LIKE '0%'");
}

static const char *ran(PGconn *c)
{
	return one(c, "SELECT coalesce(string_agg(v::text, ',' ORDER BY seq), '') FROM scratch.log");
}

int main(void)
{
	g_t = hp_pgtest_start_or_skip();
	int r;
	PGconn *c = PQconnectdb(g_t->conninfo);
	CHECK(PQstatus(c) == CONNECTION_OK);
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	PQclear(PQexec(c, "CREATE SCHEMA scratch;"
	                  "CREATE TABLE scratch.log (seq serial, v int)"));

	/* A database that was migrated by a build with 1 and 3 only. */
	const hp_migration without2[] = { M(1, "t1"), M(3, "t3") };
	CHECK(hp_migrate_list(c, without2, 2) == 2);
	CHECK(strcmp(versions(c), "1,3") == 0);
	CHECK(strcmp(ran(c), "1,3") == 0);
	puts("ok: a fresh database gets every version in order");

	/* The next build has 2 as well: it must be applied, and alone. */
	const hp_migration with2[] = { M(1, "t1"), M(2, "t2"), M(3, "t3") };
	r = hp_migrate_list(c, with2, 3);
	printf("   applied %d with 2 missing\n", r);
	CHECK(r == 1);
	CHECK(strcmp(versions(c), "1,2,3") == 0);
	CHECK(strcmp(ran(c), "1,3,2") == 0);
	CHECK(strcmp(one(c, "SELECT to_regclass('scratch.t2') IS NOT NULL"), "t") == 0);
	puts("ok: a missing version below the highest applied one is applied");

	/* Two missing, given out of order: applied in version order. */
	const hp_migration shuffled[] = { M(6, "t6"), M(1, "t1"), M(5, "t5"), M(2, "t2"), M(4, "t4"),
		                          M(3, "t3") };
	CHECK(hp_migrate_list(c, shuffled, 6) == 3);
	CHECK(strcmp(versions(c), "1,2,3,4,5,6") == 0);
	CHECK(strcmp(ran(c), "1,3,2,4,5,6") == 0);
	puts("ok: missing versions applied in version order");

	CHECK(hp_migrate_list(c, shuffled, 6) == 0);
	CHECK(strcmp(ran(c), "1,3,2,4,5,6") == 0);
	puts("ok: nothing missing, nothing applied");

	/* An older build: the database has 6, it knows up to 3. */
	CHECK(hp_migrate_list(c, with2, 3) == -EPROTO);
	puts("ok: a database newer than the build is refused");

	/* A failing migration (its table exists already) records nothing and
	 * leaves none of its work; the ones before it stay applied. */
	const hp_migration bad[] = { M(7, "t7"), M(8, "t1") };
	r = hp_migrate_list(c, bad, 2);
	CHECK(r < 0);
	CHECK(strcmp(versions(c), "1,2,3,4,5,6,7") == 0);
	CHECK(strcmp(ran(c), "1,3,2,4,5,6,7") == 0);
	puts("ok: a failing migration is rolled back and not recorded");

	/* The real migrations on top (their numbers start at 001; ours are
	 * told apart by name). */
	PQclear(PQexec(c, "DELETE FROM hopper.schema_version; DROP SCHEMA scratch CASCADE"));
	r = hp_migrate(c);
	CHECK(r == (int)hp_n_migrations);
	CHECK(hp_migrate(c) == 0);
	char want[16];
	snprintf(want, sizeof want, "%zu", hp_n_migrations);
	CHECK(strcmp(one(c, "SELECT count(*) FROM hopper.schema_version"), want) == 0);
	puts("ok: the real migrations apply, then nothing is left to do");

	PQfinish(c);
	hp_pgtest_stop(g_t);
	puts("all checks passed");
	return 0;
}
