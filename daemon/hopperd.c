/* hopperd.c — the supervisor: one event loop that never parses document bytes.
 *
 * epoll over: a signalfd (TERM/INT stop, HUP reload, CHLD reap), the
 * inotify fd (watch.c), the libpq socket (NOTIFY wake-ups, dbconn.c) and
 * the worker sockets (pool.c). Each turn of the loop: enqueue what the
 * watcher found (one batched INSERT), claim and dispatch (jobs.c), and
 * store finished jobs in batches. The parts and their context are in
 * supervisor.h; this file is the loop, signals, reload and STATUS.
 *
 * `hopperd --worker --memory-limit N` is the worker entry (fd 3 = socket).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "hopper/db.h"
#include "hopper/search.h"
#include "hopper/dispose.h"
#include "hopper/sandbox.h"
#include "hopper/watchdog.h"
#include "supervisor.h"

#define HP_VERSION "0.1.0"
#define TICK_MS 1000
#define CLAIM_POLL_MS 5000      /* claim even without NOTIFY: expired leases, retries, other nodes */
#define BACKLOG_EVERY_MS 5000   /* STATUS backlog: a count over the claim indexes, not per tick */
#define DRAIN_MS 10000          /* SIGTERM: time in-flight jobs get to finish */

/* ---- status -------------------------------------------------------------- */

static void notify_status(hp_daemon *d)
{
	char pool[192] = "workers 0";
	if (d->pool) {
		hp_pool_set_backlog(d->pool, d->backlog);
		hp_pool_describe(d->pool, pool, sizeof pool);
	}
	char emb[160] = "";
	if (d->embed) {
		emb[0] = ';';
		emb[1] = ' ';
		hp_embed_status(d->embed, emb + 2, sizeof emb - 2);
	}
	char bl[32];
	if (d->backlog >= 0)
		snprintf(bl, sizeof bl, "%lld", (long long)d->backlog);
	else
		snprintf(bl, sizeof bl, "?");
	sd_notifyf(0,
	           "STATUS=%s %s, %d busy, backlog %s, done %llu (%llu same content), "
	           "retried %llu, failed %llu%s%s",
	           d->stopping ? "stopping:" : d->db_broken ? (hp_dbconn_disk_full() ? "out of disk space, retrying:"
	                                                              : "database unreachable, retrying:")
	                         : "running:",
	           pool, d->pool ? hp_pool_busy(d->pool) : 0, bl,
	           (unsigned long long)d->n_done, (unsigned long long)d->n_linked,
	           (unsigned long long)d->n_retried, (unsigned long long)d->n_failed,
	           d->n_pending ? ", files waiting to be queued" : "", emb);
}

/* ---- signals ------------------------------------------------------------- */

static void begin_stop(hp_daemon *d, const char *why)
{
	if (d->stopping)
		return;
	hp_notice("%s: stopping (in-flight jobs get %d s to finish)", why, DRAIN_MS / 1000);
	sd_notify(0, "STOPPING=1");
	d->stopping = true;
	d->stop_deadline = hp_now_ms() + DRAIN_MS;
	notify_status(d);
}

static void reload(hp_daemon *d)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	           (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	hp_config *ncfg = NULL;
	int r = hp_config_load(d->cfg_path, HP_CONFIG_NEED_WATCH | HP_CONFIG_CHECK_PATHS, stderr, &ncfg);
	if (r < 0) {
		hp_err("reload: the configuration has errors (above); keeping the running one");
		goto out;
	}
	hp_watcher *nw = NULL;
	r = hp_watcher_new(ncfg, d->epfd, hp_jobs_on_file, d, &nw);
	if (r < 0) {
		hp_err("reload: cannot watch the new folders: %s; keeping the running configuration", strerror(-r));
		hp_config_free(ncfg);
		goto out;
	}
	const char *changed[16];
	size_t nc = hp_config_restart_changes(d->cfg, ncfg, changed, HP_ARRAY_SIZE(changed));
	for (size_t i = 0; i < nc; i++)
		hp_warn("reload: '%s' changed; it takes effect at the next restart", changed[i]);
	if (ncfg->max_file_size != d->cfg->max_file_size) {
		hp_reader *nr = NULL;
		if (hp_reader_new(64, ncfg->max_file_size, hp_reader_uring(d->reader) ? 0 : HP_READER_NO_URING,
		                  &nr) == 0) {
			hp_reader_free(d->reader);
			d->reader = nr;
		} else {
			hp_warn("reload: cannot apply the new max_file_size; it takes effect at the next restart");
		}
	}
	/* Files queued from the old config borrow watch names from it. */
	hp_jobs_flush_pending(d);
	hp_jobs_pending_clear(d);
	hp_watcher_free(d->watcher);
	d->watcher = nw;
	hp_config_free(d->cfg);
	d->cfg = ncfg;
	hp_log_level = d->cfg->log_level;
	hp_queue_policy pol = { .max_attempts = d->cfg->max_attempts, .retry_delay_ms = d->cfg->retry_delay_ms,
		                .retry_max_ms = 3600 * 1000, .statement_timeout_ms = 30000, .lock_timeout_ms = 1000 };
	hp_queue_set_policy(d->q, &pol);
	hp_dbconn_ok(d, hp_jobs_set_watches(d));
	hp_mirror_reload(&d->mirror, d->cfg, d->conninfo);
	hp_pool_config pc;
	hp_pool_config_fill(&pc, d->cfg, d->exe);
	hp_pool_reconfigure(d->pool, &pc);
	hp_jobs_scan(d);
	/* Dispositions left by an unconfirmed commit: the results in hand are
	 * stored (and their files handled) first. */
	hp_jobs_flush_done(d, true);
	if (!d->db_broken)
		hp_dispose_pending(hp_queue_conn(d->q), d->cfg);
	hp_notice("reloaded %s: %zu watch(es), %d folder(s) watched", d->cfg_path ? d->cfg_path : HP_CONFIG_DEFAULT_PATH,
	          d->cfg->n_watches, hp_watcher_count(d->watcher));
out:
	sd_notify(0, "READY=1");
	notify_status(d);
}

static void reap_children(hp_daemon *d)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			break;
		if (d->pg && pid == hp_pgembed_pid(d->pg))
			hp_dbconn_embedded_died(d, st);
		else if (d->pool && hp_pool_owns_pid(d->pool, pid))
			hp_pool_reaped(d->pool, pid, st);
	}
}

static void sig_read(hp_daemon *d)
{
	struct signalfd_siginfo si;
	while (read(d->sig.fd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			begin_stop(d, hp_signal_name((int)si.ssi_signo));
			break;
		/* Reload and reaping free and replace event sources: they run
		 * after the batch, so no later event of this batch reaches a
		 * freed watcher or a worker slot that was reused. */
		case SIGHUP:
			d->want_reload = true;
			break;
		case SIGCHLD:
			d->want_reap = true;
			break;
		}
	}
}

static void sig_on_event(hp_evsrc *src, uint32_t events)
{
	sig_read((hp_daemon *)((char *)src - offsetof(hp_daemon, sig)));
}

void hp_sv_poll_signals(hp_daemon *d)
{
	if (d->sig.fd >= 0)
		sig_read(d);
}

/* ---- main loop ----------------------------------------------------------- */

static void tick(hp_daemon *d, uint64_t now)
{
	if (hp_pool_tick(d->pool, now) > 0)
		d->want_claim = true; /* new workers to feed */
	hp_dbconn_try_reconnect(d, now);
	if (now - d->last_claim >= CLAIM_POLL_MS)
		d->want_claim = true;
	hp_jobs_renew(d, now);
	hp_dbconn_publish_workers(d, now, hp_pool_busy(d->pool) > 0);
	if (!d->db_broken && !d->stopping && now - d->last_backlog >= BACKLOG_EVERY_MS) {
		d->last_backlog = now;
		int64_t bl;
		int r = hp_queue_backlog(d->q, &bl);
		if (hp_dbconn_ok(d, r))
			d->backlog = r == 0 ? bl : -1;
	}
	notify_status(d);
}

static int run_loop(hp_daemon *d)
{
	uint64_t next_tick = hp_now_ms() + TICK_MS;
	for (;;) {
		uint64_t now = hp_now_ms();
		hp_watchdog_turn(now); /* WATCHDOG=1 only while the loop turns */
		if (d->stopping && (d->n_flights == 0 || now >= d->stop_deadline))
			break;
		int timeout = next_tick > now ? (int)(next_tick - now) : 0;
		int due = hp_jobs_done_due_ms(d, now);
		if (due >= 0 && due < timeout && !d->db_broken)
			timeout = due;
		struct epoll_event evs[32];
		int n = epoll_wait(d->epfd, evs, (int)HP_ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR) {
			hp_err("epoll_wait: %m");
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			hp_evsrc *src = evs[i].data.ptr;
			src->handler(src, evs[i].events);
		}
		if (d->want_reap) {
			d->want_reap = false;
			reap_children(d);
		}
		if (d->want_reload) {
			d->want_reload = false;
			reload(d);
		}
		now = hp_now_ms();
		if (now >= next_tick) {
			tick(d, now);
			next_tick = now + TICK_MS;
		}
		hp_jobs_flush_pending(d);
		hp_sv_poll_signals(d);
		/* Workers first, then the batch of results when it is due. */
		if (d->want_claim)
			hp_jobs_dispatch(d);
		hp_jobs_flush_done(d, d->stopping);
		/* libpq buffers notifications (and the result of the batch in
		 * flight) that arrive during any query; they would not wake epoll
		 * again, so look at them after each turn. */
		hp_dbconn_drain(d);
		hp_jobs_poll_done(d);
	}
	return 0;
}

static void embed_on_event(hp_evsrc *src, uint32_t events)
{
	hp_daemon *d = (hp_daemon *)((char *)src - offsetof(hp_daemon, embed_src));
	hp_embed_run(d->embed);
}

/* [embed] url set: the embedder runs beside the queue, on its own
 * connection, driven by its one fd. Leases are the node's, so the next
 * start of this node takes back what this one had claimed. */
static int embed_start(hp_daemon *d)
{
	if (!d->cfg->embed_url)
		return 0;
	int r = hp_embed_new(d->cfg, d->conninfo, d->node, &d->embed);
	if (r < 0)
		return r;
	d->embed_src.fd = hp_embed_fd(d->embed);
	d->embed_src.handler = embed_on_event;
	return hp_evsrc_add(d->epfd, &d->embed_src, EPOLLIN);
}

static void shutdown_all(hp_daemon *d)
{
	hp_embed_free(d->embed);
	d->embed = NULL;
	if (d->pool) {
		hp_pool_free(d->pool, 2000);
		d->pool = NULL;
	}
	hp_jobs_shutdown(d);
	if (d->q && !d->db_broken)
		hp_queue_workers_publish(d->q, d->node, NULL, 0);
	hp_mirror_free(d->mirror); /* writes what was committed, before the database stops */
	d->mirror = NULL;
	hp_watcher_free(d->watcher);
	hp_reader_free(d->reader);
	if (d->q)
		hp_queue_close(d->q);
	hp_pgembed_stop(d->pg);
	free(d->conninfo);
	hp_config_free(d->cfg);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->sig.fd >= 0)
		close(d->sig.fd);
}

static int setup_signals(hp_daemon *d)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->sig.handler = sig_on_event;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sig.fd < 0 || d->epfd < 0 || hp_evsrc_add(d->epfd, &d->sig, EPOLLIN) < 0) {
		hp_err("cannot set up the event loop: %m");
		return -1;
	}
	return 0;
}

static int open_database(hp_daemon *d)
{
	int r;
	if (strcmp(d->cfg->database, "local") == 0) {
		sd_notify(0, "STATUS=starting the embedded PostgreSQL");
		r = hp_pgembed_start(d->cfg->state_dir, &d->pg);
		if (r < 0)
			return r;
	}
	d->conninfo = hp_db_conninfo(d->cfg);
	if (!d->conninfo)
		return -ENOMEM;
	sd_notify(0, "STATUS=connecting to the database and migrating the schema");
	r = hp_queue_open(d->conninfo, d->owner, &d->q);
	if (r < 0)
		return r;
	hp_queue_policy pol = { .max_attempts = d->cfg->max_attempts, .retry_delay_ms = d->cfg->retry_delay_ms,
		                .retry_max_ms = 3600 * 1000, .statement_timeout_ms = 30000, .lock_timeout_ms = 1000 };
	r = hp_queue_set_policy(d->q, &pol);
	if (r == 0)
		r = hp_jobs_set_watches(d);
	if (r < 0) {
		hp_err("cannot set up the queue: %s", hp_queue_last_error(d->q));
		return r;
	}
	if (hp_search_set_config(hp_queue_conn(d->q), d->cfg->search_config) < 0)
		return -EIO;
	if (hp_mirror_start(d->cfg, d->conninfo, &d->mirror) < 0)
		return -EIO;
	hp_dbconn_register(d);
	hp_dbconn_recover_own_leases(d);
	/* Files a stop left between their commit and their move or delete. */
	hp_dispose_pending(hp_queue_conn(d->q), d->cfg);
	return 0;
}

static int daemon_main(hp_daemon *d)
{
	int r;
	d->epfd = -1;
	d->sig.fd = -1;
	d->backlog = -1;
	r = hp_config_load(d->cfg_path, HP_CONFIG_NEED_WATCH | HP_CONFIG_CHECK_PATHS, stderr, &d->cfg);
	if (r < 0) {
		hp_err("not starting: fix the configuration (errors above)");
		return 1;
	}
	hp_log_level = d->cfg->log_level;
	/* A lease outlives the longest conversion; renewed every 30 s. */
	d->lease_s = (int)(d->cfg->job_timeout_ms / 1000) * 2 + 30;
	if (getenv("HOPPER_DEBUG"))
		hp_log_level = HP_LOG_DEBUG;

	ssize_t el = readlink("/proc/self/exe", d->exe, sizeof d->exe - 1);
	if (el < 0) {
		hp_err("cannot find my own binary (/proc/self/exe): %m");
		return 1;
	}
	d->exe[el] = '\0';
	char host[128] = "localhost";
	gethostname(host, sizeof host - 1);
	snprintf(d->node, sizeof d->node, "%s", d->cfg->node && *d->cfg->node ? d->cfg->node : host);
	snprintf(d->owner, sizeof d->owner, "%s:%d", d->node, (int)getpid());

	if (setup_signals(d) < 0 || open_database(d) < 0)
		goto fail;
	r = hp_reader_new(64, d->cfg->max_file_size, getenv("HOPPER_NO_URING") ? HP_READER_NO_URING : 0, &d->reader);
	if (r < 0) {
		hp_err("cannot set up the file reader: %s", strerror(-r));
		goto fail;
	}
	hp_pool_config pc;
	hp_pool_config_fill(&pc, d->cfg, d->exe);
	r = hp_pool_new(&pc, d->epfd, hp_jobs_on_result, d, &d->pool);
	if (r < 0) {
		hp_err("cannot start the worker processes: %s", strerror(-r));
		goto fail;
	}
	r = hp_watcher_new(d->cfg, d->epfd, hp_jobs_on_file, d, &d->watcher);
	if (r < 0)
		goto fail;
	r = embed_start(d);
	if (r < 0) {
		hp_err("cannot start the embedder: %s", strerror(-r));
		goto fail;
	}
	hp_jobs_scan(d); /* the catch-up: queues what is new */

	hp_notice("hopperd %s ready: %zu watch(es), %d folder(s) watched, %d worker(s), reader %s, database %s",
	          HP_VERSION, d->cfg->n_watches, hp_watcher_count(d->watcher), d->cfg->workers_min,
	          hp_reader_uring(d->reader) ? "io_uring" : "read()", d->pg ? "embedded" : "external");
	if (!hp_sandbox_filtered())
		hp_warn("sanitizer build: workers run without their seccomp filter (rlimits and no_new_privs only)");
	hp_watchdog_init(NULL);
	sd_notify(0, "READY=1");
	hp_dbconn_publish_workers(d, hp_now_ms(), true);
	notify_status(d);
	d->want_claim = true;
	r = run_loop(d);
	if (r < 0)
		d->exit_code = 1;
	shutdown_all(d);
	hp_notice("stopped");
	return d->exit_code;

fail:
	shutdown_all(d);
	hp_err("hopperd did not start");
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: hopperd [-c FILE] [--check-config]\n"
	        "\n"
	        "Watches drop folders and converts every file dropped there into Markdown\n"
	        "and chunks in PostgreSQL (schema \"hopper\").\n"
	        "\n"
	        "  -c, --config FILE   configuration file (default %s)\n"
	        "      --check-config  validate the configuration, print the effective\n"
	        "                      settings and exit (1 when there are errors)\n"
	        "  -h, --help          this text\n"
	        "      --version       print the version\n"
	        "\n"
	        "Signals: SIGTERM/SIGINT stop (in-flight jobs finish or go back to the queue),\n"
	        "SIGHUP re-reads the configuration (systemctl reload hopperd).\n"
	        "Environment: HOPPER_DEBUG=1 debug logging, HOPPER_NO_URING=1 read files\n"
	        "with read() instead of io_uring, HOPPER_FAULT_QUERY=N[,M...] cut the database\n"
	        "connection under the Nth statement (tests of the error paths).\n",
	        HP_CONFIG_DEFAULT_PATH);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--worker") == 0)
		return hp_pool_exec_worker(argc, argv);
	hp_daemon d = { 0 };
	enum { OPT_CHECK = 256, OPT_VERSION };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	bool check = false;
	int c;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.cfg_path = optarg;
			break;
		case OPT_CHECK:
			check = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case OPT_VERSION:
			printf("hopperd %s\n", HP_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hopperd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (check) {
		hp_config *cfg = NULL;
		if (hp_config_load(d.cfg_path, HP_CONFIG_NEED_WATCH | HP_CONFIG_CHECK_PATHS, stderr, &cfg) < 0)
			return 1;
		hp_config_print(cfg, stdout);
		hp_config_free(cfg);
		return 0;
	}
	return daemon_main(&d);
}
