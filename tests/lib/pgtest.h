/* pgtest.h — a throwaway embedded PostgreSQL cluster for integration tests.
 *
 * What it does: makes a temporary directory (mode 0755, so that the
 * unprivileged server user can reach it when tests run as root), starts
 * hp_pgembed in <dir>/state, and removes it all again.
 * Usage:
 *     #include "../lib/pgtest.h"   (from tests/integration/ or tests/unit/)
 *     hp_pgtest *t;
 *     hp_pgtest *t = hp_pgtest_start_or_skip();   (or hp_pgtest_start(&t):
 *                                   -ENOPKG when the server is not installed)
 *     ... connect to t->conninfo ...
 *     hp_pgtest_stop(t);
 * HOPPER_TEST_KEEP=1 in the environment keeps the directory (for a look
 * at postgres.log); it is always kept when stop is never reached.
 */
#ifndef HOPPER_TESTS_PGTEST_H
#define HOPPER_TESTS_PGTEST_H

#include "hopper/pgembed.h"

typedef struct hp_pgtest {
	char *dir;        /* the temporary directory */
	char *state_dir;  /* <dir>/state: hp_pgembed's state_dir */
	char *pgdata;     /* <state_dir>/pg */
	char *conninfo;   /* reaches database "hopper"; owned by the hp_pgtest */
	hp_pgembed *pg;   /* the running server; NULL once the test stopped it */
} hp_pgtest;

/* 0, -ENOPKG when PostgreSQL's server programs are not installed (the
 * test should exit 77), or another -errno (the reason was logged). */
int hp_pgtest_start(hp_pgtest **ret);
/* hp_pgtest_start for a test's main(): prints SKIP and exits 77 when the
 * server programs are not installed, fails (exit 1) on any other error. */
hp_pgtest *hp_pgtest_start_or_skip(void);
/* Fork a process that starts the embedded server on state_dir as its
 * owner, then waits to be killed. Returns the child's pid (-errno when
 * fork failed) and sets *postmaster to the server's pid, or -1 when the
 * child's start failed. */
pid_t hp_pgtest_fork_owner(const char *state_dir, pid_t *postmaster);
/* Stop the server (unless t->pg is NULL), remove the directory, free. */
void hp_pgtest_stop(hp_pgtest *t);
/* Processes (postmaster and backends) whose working directory is pgdata:
 * every PostgreSQL process of that cluster has it. Zombies do not count. */
int hp_pgtest_count_procs(const char *pgdata);

/* A failed check: print where and what, stop the server (so nothing is
 * left running), keep the directory for a look at postgres.log, exit 1.
 * t may be NULL (before the server started). */
_Noreturn void hp_pgtest_fail(hp_pgtest *t, const char *file, int line, const char *what);
#define HP_PGTEST_CHECK(t, cond)                                                     \
	do {                                                                         \
		if (!(cond))                                                         \
			hp_pgtest_fail((t), __FILE__, __LINE__, #cond);              \
	} while (0)

#endif
