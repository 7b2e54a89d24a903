/* migrate.c — numbered schema migrations, see include/hopper/migrate.h */
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/db.h"
#include "hopper/migrate.h"

/* pg_advisory_lock key: "hopper" in ASCII, so it is recognisable in pg_locks. */
#define MIGRATE_LOCK_KEY "114827837072754"

/* Log the failed step with the server's message; -ECONNRESET when the
 * connection is gone (the caller may reconnect), else -EIO. */
static int sql_fail(PGconn *conn, PGresult *res, const char *what)
{
	char msg[1024];
	hp_db_message(conn, res, msg, sizeof msg);
	hp_err("schema migration: %s failed: %s", what, msg);
	return PQstatus(conn) == CONNECTION_BAD ? -ECONNRESET : -EIO;
}

/* Run SQL whose result rows, if any, do not matter. */
static int exec_cmd(PGconn *conn, const char *sql, const char *what)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : sql_fail(conn, res, what);
	PQclear(res);
	return r;
}

/* The versions recorded in hopper.schema_version, ascending (*ret_v NULL
 * when there are none). */
static int applied_versions(PGconn *conn, int **ret_v, size_t *ret_n)
{
	PGresult *res = PQexec(conn, "SELECT version FROM hopper.schema_version ORDER BY version");
	int r = 0;
	*ret_v = NULL;
	*ret_n = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = sql_fail(conn, res, "reading hopper.schema_version");
		goto out;
	}
	size_t n = (size_t)PQntuples(res);
	int *v = n ? calloc(n, sizeof *v) : NULL;
	if (n && !v) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = atoi(PQgetvalue(res, (int)i, 0));
	*ret_v = v;
	*ret_n = n;
out:
	PQclear(res);
	return r;
}

static bool has_version(const int *v, size_t n, int version)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == version)
			return true;
	return false;
}

static int apply_one(PGconn *conn, const hp_migration *m)
{
	char what[160];
	snprintf(what, sizeof what, "applying %s", m->name);
	int r = exec_cmd(conn, "BEGIN", what);
	if (r < 0)
		return r;
	/* PQexec runs the file's several statements inside our transaction. */
	r = exec_cmd(conn, m->sql, what);
	if (r < 0)
		goto fail;

	char ver[16];
	snprintf(ver, sizeof ver, "%d", m->version);
	const char *params[] = { ver, m->name };
	PGresult *res = PQexecParams(conn,
	                             "INSERT INTO hopper.schema_version (version, name) VALUES ($1, $2)",
	                             2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = sql_fail(conn, res, what);
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	r = exec_cmd(conn, "COMMIT", what);
	if (r < 0)
		goto fail;
	hp_info("applied schema migration %s", m->name);
	return 0;
fail:
	if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE)
		PQclear(PQexec(conn, "ROLLBACK"));
	return r;
}

static int by_version(const void *a, const void *b)
{
	int va = (*(const hp_migration *const *)a)->version, vb = (*(const hp_migration *const *)b)->version;
	return (va > vb) - (va < vb);
}

int hp_migrate(PGconn *conn)
{
	return hp_migrate_list(conn, hp_migrations, hp_n_migrations);
}

int hp_migrate_list(PGconn *conn, const hp_migration *list, size_t n)
{
	int r, applied = 0;
	bool locked = false;
	int *have = NULL;
	size_t n_have = 0;
	const hp_migration **order = NULL;

	/* A session lock, waited for: daemons that start together take turns,
	 * and the later ones find nothing left to do. */
	r = exec_cmd(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "taking the migration lock");
	if (r < 0)
		goto out;
	locked = true;
	/* Created only when missing, so that a role without CREATE rights can
	 * still check an up-to-date database. */
	PGresult *res = PQexec(conn, "SELECT to_regclass('hopper.schema_version') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		r = sql_fail(conn, res, "looking for hopper.schema_version");
		PQclear(res);
		goto out;
	}
	bool exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!exists)
		r = exec_cmd(conn,
		             "CREATE SCHEMA IF NOT EXISTS hopper;"
		             "CREATE TABLE IF NOT EXISTS hopper.schema_version ("
		             " version int PRIMARY KEY,"
		             " name text NOT NULL,"
		             " applied_at timestamptz NOT NULL DEFAULT now())",
		             "creating hopper.schema_version");
	if (r < 0)
		goto out;
	r = applied_versions(conn, &have, &n_have);
	if (r < 0)
		goto out;
	int newest = 0;
	for (size_t i = 0; i < n; i++)
		if (list[i].version > newest)
			newest = list[i].version;
	if (n_have && have[n_have - 1] > newest) {
		hp_err("schema version %d is newer than this hopperd (%d): install the newer hopper "
		       "that upgraded this database", have[n_have - 1], newest);
		r = -EPROTO;
		goto out;
	}
	/* Every version not recorded, in ascending order: not only those above
	 * the highest applied one, so a number skipped on the way (a migration
	 * merged late, a database upgraded by a build that lacked it) is
	 * applied too. */
	order = n ? calloc(n, sizeof *order) : NULL;
	if (n && !order) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = &list[i];
	if (n)
		qsort(order, n, sizeof *order, by_version);
	for (size_t i = 0; i < n; i++) {
		if (has_version(have, n_have, order[i]->version))
			continue;
		r = apply_one(conn, order[i]);
		if (r < 0)
			goto out;
		applied++;
	}
	r = 0;
out:
	free(order);
	free(have);
	if (locked && PQstatus(conn) == CONNECTION_OK)
		PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	return r < 0 ? r : applied;
}
