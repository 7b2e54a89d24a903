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

static int current_version(PGconn *conn, int *ret)
{
	PGresult *res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM hopper.schema_version");
	int r = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		r = sql_fail(conn, res, "reading hopper.schema_version");
		goto out;
	}
	*ret = atoi(PQgetvalue(res, 0, 0));
out:
	PQclear(res);
	return r;
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

int hp_migrate(PGconn *conn)
{
	int r, have = 0, applied = 0;
	bool locked = false;

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
	r = current_version(conn, &have);
	if (r < 0)
		goto out;
	int newest = hp_n_migrations ? hp_migrations[hp_n_migrations - 1].version : 0;
	if (have > newest) {
		hp_err("schema version %d is newer than this hopperd (%d): install the newer hopper "
		       "that upgraded this database", have, newest);
		r = -EPROTO;
		goto out;
	}
	for (size_t i = 0; i < hp_n_migrations; i++) {
		if (hp_migrations[i].version <= have)
			continue;
		r = apply_one(conn, &hp_migrations[i]);
		if (r < 0)
			goto out;
		applied++;
	}
	r = 0;
out:
	if (locked && PQstatus(conn) == CONNECTION_OK)
		PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	return r < 0 ? r : applied;
}
