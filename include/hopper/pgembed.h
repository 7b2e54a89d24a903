/* pgembed.h — the embedded PostgreSQL cluster of DESIGN §6.
 *
 * What it does: with `database = local`, keeps a private cluster in
 * <state_dir>/pg (initdb on first start: superuser "hopper", auth trust on
 * the Unix socket only), runs `postgres` as a child with its socket in
 * <state_dir>/run (mode 0700) and listen_addresses='' (no TCP), waits until
 * it accepts connections, creates database "hopper", and stops it with a
 * fast shutdown (SIGINT) on hp_pgembed_stop. The server gets
 * PR_SET_PDEATHSIG so it also stops if hopperd is killed.
 * When run as root the cluster runs as an unprivileged user: "hopper" if
 * it exists, else "postgres", else a "hopper" system user is created. Every
 * ancestor of state_dir must be searchable by that user (error says so).
 * A server left running by a crashed hopperd (live postmaster.pid) is
 * stopped first; a stale postmaster.pid is left to postgres, which ignores it.
 * Server binaries: `pg_config --bindir`, else /usr/lib/postgresql/<newest>/bin.
 * What it never does: touch the hopper schema (that is migrate.c).
 */
#ifndef HOPPER_PGEMBED_H
#define HOPPER_PGEMBED_H

#include <sys/types.h>

typedef struct hp_pgembed hp_pgembed;

/* Start (initdb first if needed). Blocks until ready (up to ~60 s).
 * Errors are logged with a sentence saying what to do; returns -errno,
 * -ENOPKG when no PostgreSQL server binaries are installed. Call from the
 * main thread (PR_SET_PDEATHSIG fires when the starting thread exits). */
int hp_pgembed_start(const char *state_dir, hp_pgembed **ret);
/* The postmaster's pid (the caller's SIGCHLD handling needs it). */
pid_t hp_pgembed_pid(const hp_pgembed *pg);
/* Tell the object that its child was reaped by the caller (status from
 * waitpid), so stop does not wait for it. */
void hp_pgembed_reaped(hp_pgembed *pg, int wstatus);
/* Fast shutdown, wait for exit (SIGKILL after 30 s), free. NULL is fine. */
void hp_pgembed_stop(hp_pgembed *pg);

/* Disk space (README, "Disk space"): the embedded server is started with
 * max_wal_size = HP_PGEMBED_MAX_WAL (min_wal_size 32MB, wal_keep_size 0),
 * and wants HP_PGEMBED_NEED_MB free in state_dir to work: its WAL up to
 * max_wal_size plus room for the documents. Below HP_PGEMBED_START_MB it
 * is not started at all (it could not finish its crash recovery). */
#define HP_PGEMBED_MAX_WAL "96MB"
#define HP_PGEMBED_NEED_MB 128
#define HP_PGEMBED_START_MB 48

/* Free bytes for an unprivileged writer on the filesystem of path (the
 * first existing ancestor), or -errno. */
long long hp_pgembed_free_bytes(const char *path);

/* The conninfo that reaches the embedded cluster of state_dir, whether or
 * not it runs: "host=<state_dir>/run dbname=hopper user=hopper".
 * Caller frees. NULL on ENOMEM. */
char *hp_pgembed_conninfo(const char *state_dir);

#endif
