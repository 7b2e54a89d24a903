/* test_pgembed.c — one owner per embedded cluster (lib/pgembed.c).
 *
 * A second hp_pgembed_start on a state_dir whose cluster another owner runs
 * must refuse with -EBUSY and leave that server alone (before the lock, it
 * stopped the running server as "left over from an earlier run", and two
 * hopperd on one state_dir restarted each other's postgres forever). An
 * owner killed with SIGKILL gives the lock back at once, and the next start
 * takes over the cluster.
 * Exit 0 pass, 1 fail, 77 skip (no PostgreSQL server programs). */
#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hopper/db.h"
#include "hopper/pgembed.h"
#include "../lib/pgtest.h"

static hp_pgtest *g_t;

#define CHECK(cond) HP_PGTEST_CHECK(g_t, cond)

static int query_ok(const char *conninfo)
{
	char err[512];
	PGconn *c = hp_db_connect(conninfo, err, sizeof err);
	if (!c)
		return 0;
	PGresult *res = PQexec(c, "SELECT 1");
	int ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	PQclear(res);
	PQfinish(c);
	return ok;
}

int main(void)
{
	g_t = hp_pgtest_start_or_skip();
	pid_t first = hp_pgembed_pid(g_t->pg);
	CHECK(first > 0);

	printf("# a second owner on the same state_dir is refused, the server keeps running\n");
	hp_pgembed *second = NULL;
	CHECK(hp_pgembed_start(g_t->state_dir, &second) == -EBUSY);
	CHECK(kill(first, 0) == 0);
	CHECK(query_ok(g_t->conninfo));

	printf("# stopped: the next owner takes the cluster\n");
	hp_pgembed_stop(g_t->pg);
	g_t->pg = NULL;
	CHECK(hp_pgembed_start(g_t->state_dir, &g_t->pg) == 0);
	CHECK(query_ok(g_t->conninfo));
	hp_pgembed_stop(g_t->pg);
	g_t->pg = NULL;

	printf("# an owner killed with SIGKILL gives the lock back\n");
	pid_t pm = -1;
	pid_t owner = hp_pgtest_fork_owner(g_t->state_dir, &pm);
	CHECK(owner > 0);
	CHECK(pm > 0);
	CHECK(hp_pgembed_start(g_t->state_dir, &second) == -EBUSY);
	CHECK(kill(owner, SIGKILL) == 0);
	int st;
	CHECK(waitpid(owner, &st, 0) == owner);
	CHECK(hp_pgembed_start(g_t->state_dir, &g_t->pg) == 0);
	CHECK(query_ok(g_t->conninfo));

	hp_pgtest_stop(g_t);
	printf("ok: one owner per embedded cluster\n");
	return 0;
}
