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

static void db_on_event(hp_evsrc *src, uint32_t events)
{
	hp_daemon *d = (hp_daemon *)((char *)src - offsetof(hp_daemon, db));
	hp_dbconn_drain(d);
}

void hp_dbconn_register(hp_daemon *d)
{
	if (d->db_registered)
		return;
	d->db.fd = hp_queue_fd(d->q);
	d->db.handler = db_on_event;
	if (d->db.fd >= 0 && hp_evsrc_add(d->epfd, &d->db, EPOLLIN) == 0)
		d->db_registered = true;
}

void hp_dbconn_unregister(hp_daemon *d)
{
	if (!d->db_registered)
		return;
	hp_evsrc_del(d->epfd, &d->db);
	d->db_registered = false;
}

static void db_broke(hp_daemon *d)
{
	if (d->db_broken)
		return;
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

void hp_dbconn_try_reconnect(hp_daemon *d, uint64_t now)
{
	if (!d->db_broken || d->stopping || now < d->next_reconnect)
		return;
	d->reconnect_ms = d->reconnect_ms ? d->reconnect_ms * 2 : RECONNECT_MIN_MS;
	if (d->reconnect_ms > RECONNECT_MAX_MS)
		d->reconnect_ms = RECONNECT_MAX_MS;
	d->next_reconnect = now + d->reconnect_ms;
	if (!d->pg && strcmp(d->cfg->database, "local") == 0) {
		if (hp_pgembed_start(d->cfg->state_dir, &d->pg) < 0) {
			d->pg = NULL;
			return;
		}
	}
	if (hp_queue_reconnect(d->q) < 0)
		return;
	if (hp_jobs_set_watches(d) < 0)
		return;
	hp_notice("database connection restored");
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
