/* dbconn.c — the database connection as the supervisor's loop sees it,
 * see supervisor.h
 *
 * An outage is logged once, when it starts, and once when it ends. While
 * it lasts the watcher goes on and found files are kept (bounded); the
 * connection is retried with a backoff from 1 s doubling to 30 s. When the
 * embedded server itself died it is started again first.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hopper/db.h"
#include "supervisor.h"

#define RECONNECT_MIN_MS 1000
#define RECONNECT_MAX_MS 30000
#define WORKERS_EVERY_MS 20000
#define DISK_FULL_MAX_MS 10000

static void db_on_event(hp_evsrc *src, uint32_t events)
{
	hp_daemon *d = (hp_daemon *)((char *)src - offsetof(hp_daemon, db));
	hp_dbconn_drain(d);
}

/* The completion batch's connection: its result in (or a break). */
static void dbc_on_event(hp_evsrc *src, uint32_t events)
{
	hp_daemon *d = (hp_daemon *)((char *)src - offsetof(hp_daemon, dbc));
	hp_dbconn_drain(d);
	hp_jobs_poll_done(d);
}

void hp_dbconn_register(hp_daemon *d)
{
	if (d->db_registered)
		return;
	d->db.fd = hp_queue_fd(d->q);
	d->db.handler = db_on_event;
	d->dbc.fd = hp_queue_complete_fd(d->q);
	d->dbc.handler = dbc_on_event;
	if (d->db.fd >= 0 && hp_evsrc_add(d->epfd, &d->db, EPOLLIN) == 0) {
		d->db_registered = true;
		if (d->dbc.fd >= 0 && hp_evsrc_add(d->epfd, &d->dbc, EPOLLIN) < 0)
			d->dbc.fd = -1;
	}
}

void hp_dbconn_unregister(hp_daemon *d)
{
	if (!d->db_registered)
		return;
	hp_evsrc_del(d->epfd, &d->db);
	if (d->dbc.fd >= 0)
		hp_evsrc_del(d->epfd, &d->dbc);
	d->db_registered = false;
}

/* ---- disk full ---------------------------------------------------------------
 * PostgreSQL out of space (SQLSTATE 53100 on a statement, or the embedded
 * server dead with state_dir nearly full): said once per episode, naming
 * state_dir and the space needed; meanwhile the supervisor pauses its
 * database work as in an outage (the watcher goes on, found files are kept,
 * finished results are held) and tries again with the reconnect backoff.
 * The episode ends at the first statement that works again. */
static bool disk_full;        /* paused for space */
static bool disk_full_said;   /* the episode was logged */

bool hp_dbconn_disk_full(void)
{
	return disk_full_said;
}

static bool embedded(const hp_daemon *d)
{
	return strcmp(d->cfg->database, "local") == 0;
}

static long long free_mb(const hp_daemon *d)
{
	long long b = hp_pgembed_free_bytes(d->cfg->state_dir);
	return b < 0 ? -1 : b / (1024 * 1024);
}

static void say_disk_full(hp_daemon *d, const char *why)
{
	if (disk_full_said)
		return;
	disk_full_said = true;
	if (embedded(d))
		hp_err("out of disk space: state_dir %s has %lld MB free, and the embedded PostgreSQL needs at "
		       "least %d MB there (its WAL may grow to %s) (%s); hopperd keeps watching, keeps what it "
		       "finds and tries again until there is space; nothing is lost",
		       d->cfg->state_dir, free_mb(d), HP_PGEMBED_NEED_MB, HP_PGEMBED_MAX_WAL, why);
	else
		hp_err("the database server is out of disk space (%s); hopperd keeps watching, keeps what it "
		       "finds and tries again until there is space; nothing is lost", why);
}

/* Pause for space: as an outage, but the connection itself is kept. */
static void pause_disk_full(hp_daemon *d, const char *why)
{
	bool first = !disk_full_said;
	say_disk_full(d, why);
	disk_full = true;
	if (d->db_broken)
		return;
	d->db_broken = true;
	if (first || !d->reconnect_ms)
		d->reconnect_ms = RECONNECT_MIN_MS; /* else the backoff goes on */
	d->next_reconnect = hp_now_ms() + d->reconnect_ms;
	hp_dbconn_unregister(d);
}

static void db_broke(hp_daemon *d)
{
	if (d->db_broken)
		return;
	/* The embedded server going away with its disk full (a WAL write
	 * failed: PANIC) is said as what it is. */
	if (embedded(d)) {
		long long mb = free_mb(d);
		if (mb >= 0 && mb < HP_PGEMBED_START_MB) {
			pause_disk_full(d, hp_queue_last_error(d->q));
			return;
		}
	}
	hp_err("database unreachable (%s); retrying, files found meanwhile are kept",
	       hp_queue_last_error(d->q));
	d->db_broken = true;
	d->reconnect_ms = RECONNECT_MIN_MS;
	d->next_reconnect = hp_now_ms() + d->reconnect_ms;
	hp_dbconn_unregister(d);
}

bool hp_dbconn_ok(hp_daemon *d, int r)
{
	if (r == -ECONNRESET || (r < 0 && PQstatus(hp_queue_conn(d->q)) != CONNECTION_OK)) {
		db_broke(d);
		return false;
	}
	if (r == -EAGAIN && strcmp(hp_queue_last_sqlstate(d->q), "53100") == 0) {
		pause_disk_full(d, hp_queue_last_error(d->q));
		return false;
	}
	/* A success ends the episode; with the embedded server only once
	 * state_dir has room again (a claim that found nothing writes
	 * nothing, and would say so too early). */
	if (r >= 0 && disk_full_said && !d->db_broken &&
	    (!embedded(d) || free_mb(d) >= HP_PGEMBED_START_MB)) {
		disk_full_said = false;
		d->reconnect_ms = 0;
		hp_notice("disk space is back: the database accepts writes again (state_dir %s has %lld MB free)",
		          d->cfg->state_dir, free_mb(d));
	}
	return !d->db_broken;
}

void hp_dbconn_drain(hp_daemon *d)
{
	if (d->db_broken)
		return;
	int r = hp_queue_drain_notify(d->q);
	if (r > 0)
		d->want_claim = true;
	else if (r < 0)
		db_broke(d);
}

void hp_dbconn_embedded_died(hp_daemon *d, int st)
{
	hp_pgembed_reaped(d->pg, st);
	hp_err("the embedded PostgreSQL server exited (%s %d); starting it again",
	       WIFSIGNALED(st) ? "signal" : "status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	hp_pgembed_stop(d->pg);
	d->pg = NULL;
	if (!d->db_broken) {
		d->db_broken = true;
		d->reconnect_ms = RECONNECT_MIN_MS;
		hp_dbconn_unregister(d);
	}
	d->next_reconnect = hp_now_ms();
}

/* After a reconnect: jobs running under this hopperd's own lease that it
 * no longer holds in memory are orphans. Their result was committed
 * asynchronously and died with the server (a crash forgets the last
 * moments of such commits), or their claim's answer was lost with the
 * connection. They go back to the queue now instead of waiting for their
 * lease to run out; the attempt does not count (not the file's fault). */
static void release_orphans(hp_daemon *d)
{
	hp_buf ids;
	hp_buf_init(&ids, 0);
	int r = hp_buf_addstr(&ids, "{");
	const char *sep = "";
	for (size_t i = 0; r == 0 && i < d->n_flights; i++, sep = ",")
		r = hp_buf_addf(&ids, "%s%llu", sep, (unsigned long long)d->flights[i].job_id);
	for (size_t i = 0; r == 0 && i < d->n_ready; i++, sep = ",")
		r = hp_buf_addf(&ids, "%s%lld", sep, (long long)d->ready[i].id);
	for (size_t i = 0; r == 0 && i < d->n_dones; i++, sep = ",")
		r = hp_buf_addf(&ids, "%s%llu", sep, (unsigned long long)d->dones[i].job_id);
	for (size_t i = 0; r == 0 && i < d->n_flushing; i++, sep = ",")
		r = hp_buf_addf(&ids, "%s%llu", sep, (unsigned long long)d->flushing[i].job_id);
	if (r == 0)
		r = hp_buf_addstr(&ids, "}");
	if (r < 0) {
		hp_buf_free(&ids);
		return; /* their leases run out instead */
	}
	const char *params[] = { d->owner, ids.data };
	PGresult *res = PQexecParams(hp_queue_conn(d->q),
	                             "UPDATE hopper.jobs SET state = 'queued', not_before = now(),"
	                             " attempts = greatest(attempts - 1, 0), lease_owner = NULL, lease_until = NULL"
	                             " WHERE state = 'running' AND lease_owner = $1 AND NOT (id = ANY($2::bigint[]))",
	                             2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		int n = atoi(PQcmdTuples(res));
		if (n > 0)
			hp_notice("%d job(s) of this hopperd whose outcome the database lost went back to the queue", n);
	} else {
		char msg[512];
		hp_db_message(hp_queue_conn(d->q), res, msg, sizeof msg);
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (st && strcmp(st, "53100") == 0) {
			PQclear(res);
			hp_buf_free(&ids);
			pause_disk_full(d, msg);
			return;
		}
		hp_warn("cannot give back jobs lost with the database (%s); taken again when their lease runs out", msg);
	}
	PQclear(res);
	hp_buf_free(&ids);
}

void hp_dbconn_try_reconnect(hp_daemon *d, uint64_t now)
{
	if (!d->db_broken || d->stopping || now < d->next_reconnect)
		return;
	d->reconnect_ms = d->reconnect_ms ? d->reconnect_ms * 2 : RECONNECT_MIN_MS;
	if (d->reconnect_ms > RECONNECT_MAX_MS)
		d->reconnect_ms = RECONNECT_MAX_MS;
	d->next_reconnect = now + d->reconnect_ms;
	if (disk_full && d->reconnect_ms > DISK_FULL_MAX_MS) {
		d->reconnect_ms = DISK_FULL_MAX_MS; /* a retry costs one statement */
		d->next_reconnect = now + d->reconnect_ms;
	}
	if (embedded(d) && (disk_full || !d->pg)) {
		/* Too little space in state_dir: wait for it, instead of
		 * failing again and again (a server that cannot finish its
		 * crash recovery, a reconnect and the same error). */
		long long mb = free_mb(d);
		if (mb >= 0 && mb < HP_PGEMBED_START_MB) {
			char why[96];
			snprintf(why, sizeof why, "the embedded server %s; it needs %d MB to go on",
			         d->pg ? "cannot write" : "stopped", HP_PGEMBED_START_MB);
			say_disk_full(d, why);
			disk_full = true;
			return;
		}
	}
	if (!d->pg && embedded(d)) {
		if (hp_pgembed_start(d->cfg->state_dir, &d->pg) < 0) {
			d->pg = NULL;
			return;
		}
	}
	if (disk_full && PQstatus(hp_queue_conn(d->q)) == CONNECTION_OK) {
		/* Paused for space on a live connection: try again. */
		disk_full = false;
		d->db_broken = false;
		hp_dbconn_register(d);
		d->want_claim = true;
		release_orphans(d);
		return;
	}
	disk_full = false;
	if (hp_queue_reconnect(d->q) < 0)
		return;
	if (hp_jobs_set_watches(d) < 0)
		return;
	hp_notice("database connection restored");
	release_orphans(d);
	d->db_broken = false;
	d->reconnect_ms = 0;
	hp_dbconn_register(d);
	d->want_claim = true;
	if (d->rescan_on_reconnect) {
		/* Files were dropped past the bound: find them again. */
		d->rescan_on_reconnect = false;
		hp_jobs_scan(d);
	}
}

/* Jobs leased by an earlier hopperd of this node that is no longer alive
 * (kill -9, power loss) need not wait for their leases to expire: this node
 * can tell that pid is gone. Owners are "node:pid"; a pid that runs but is
 * not a hopperd (reused after a reboot) counts as dead too. */
void hp_dbconn_recover_own_leases(hp_daemon *d)
{
	char prefix[sizeof d->owner];
	const char *colon = strrchr(d->owner, ':');
	snprintf(prefix, sizeof prefix, "%.*s:", (int)(colon - d->owner), d->owner);
	char **owners = NULL;
	size_t n = 0;
	if (hp_queue_lease_owners(d->q, prefix, &owners, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *p = owners[i] + strlen(prefix);
		char *end;
		long pid = strtol(p, &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		char comm[64] = "", path[64];
		snprintf(path, sizeof path, "/proc/%ld/comm", pid);
		FILE *f = fopen(path, "re");
		if (f) {
			if (!fgets(comm, sizeof comm, f))
				comm[0] = '\0';
			fclose(f);
		}
		if (strncmp(comm, "hopperd", 7) == 0)
			continue; /* alive: another hopperd on this node owns them */
		int r = hp_queue_release_owner(d->q, owners[i]);
		if (r > 0)
			hp_notice("took back %d job(s) of %s, a hopperd of this node that is gone", r, owners[i]);
	}
	hp_strv_free(owners);
}

void hp_dbconn_publish_workers(hp_daemon *d, uint64_t now, bool force)
{
	if (d->db_broken || !d->pool || (!force && now - d->last_workers < WORKERS_EVERY_MS))
		return;
	d->last_workers = now;
	hp_worker_info info[256];
	hp_queue_worker w[256];
	size_t n = hp_pool_list(d->pool, info, HP_ARRAY_SIZE(info));
	for (size_t i = 0; i < n; i++)
		w[i] = (hp_queue_worker){ .pid = info[i].pid, .job_id = (int64_t)info[i].job_id,
			                  .age_ms = now > info[i].since_ms ? now - info[i].since_ms : 0 };
	hp_dbconn_ok(d, hp_queue_workers_publish(d->q, d->node, w, n));
}
