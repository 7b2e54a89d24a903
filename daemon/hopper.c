/* hopper.c — the command-line tool.
 *
 *   hopper [-c FILE] status [--watch]   states and per-watch progress, from SQL
 *   hopper [-c FILE] sql QUERY          one query, rows as an aligned table
 *   hopper [-c FILE] failures           what failed and why, newest first
 *   hopper [-c FILE] retry --all-failed | JOB_ID...   put failed jobs back
 *   hopper convert FILE... [-o DIR]     Markdown out; no daemon, no database
 *   hopper bench DIR [--json]           sequential vs parallel vs io_uring, advice
 *   hopper [-c FILE] doctor             is this machine ready? one line per check
 *
 * It reads the same configuration as hopperd to find the database, so with
 * the embedded default `hopper status` needs no arguments.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hopper/bench.h"
#include "hopper/chunk.h"
#include "hopper/search.h"
#include "hopper/common.h"
#include "hopper/config.h"
#include "hopper/convert.h"
#include "hopper/db.h"
#include "hopper/embed.h"
#include "hopper/frame.h"
#include "hopper/pool.h"
#include "hopper/queue.h"
#include "doctor.h"
#include "table.h"

#define CONVERT_MAX_INPUT (256u << 20)
#define CONVERT_MAX_OUTPUT (64u << 20)
#define CONVERT_MEMORY_LIMIT (1024ull << 20)
#define CONVERT_TIMEOUT_S 60

static const char *cfg_path;

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage: hopper [-c FILE] COMMAND [ARGS]\n"
	        "\n"
	        "Commands:\n"
	        "  status [--watch | --json]\n"
	        "                          jobs per state and progress per watch\n"
	        "                          (--watch: refresh every 2 s until Ctrl-C)\n"
	        "  sql [-A] [-t] [-F SEP] [--csv | --json] QUERY\n"
	        "                          run one SQL query on hopper's database, print the\n"
	        "                          rows (-A unaligned, -t rows only, as in psql)\n"
	        "  failures                failed jobs with their reasons, newest first\n"
	        "  retry --all-failed | JOB_ID...\n"
	        "                          put failed jobs back in the queue, attempts reset\n"
	        "  search [--limit N] [--watch NAME] [--semantic] [--refresh] WORDS...\n"
	        "                          best chunks by full-text search (ts_rank over\n"
	        "                          websearch_to_tsquery: words, \"a phrase\", -not, or):\n"
	        "                          path, heading path, snippet (default 10 hits);\n"
	        "                          --watch: one watch's documents only; --semantic:\n"
	        "                          also by meaning, with [embed]'s vectors (cosine\n"
	        "                          similarity fused with the full-text rank);\n"
	        "                          --refresh: again every 2 s\n"
	        "  convert FILE... [-o DIR]\n"
	        "                          convert files to Markdown as hopperd's workers do\n"
	        "                          (same sandbox, 1 GiB memory, 60 s per file), to\n"
	        "                          stdout or to DIR/NAME.md; needs no daemon and no\n"
	        "                          database; --chunks: print the chunks instead\n"
	        "                          (ordinal, tokens, page, start, end, heading)\n"
	        "  bench DIR [--json] [--max-workers N]\n"
	        "                          convert every file under DIR sequentially, with\n"
	        "                          the auto pool, and with io_uring reads (no\n"
	        "                          database, nothing written); print files/s, MB/s,\n"
	        "                          speedups, time per format, worker RSS and a\n"
	        "                          recommended [workers] max\n"
	        "  doctor                  check config, folders, limits, io_uring, database,\n"
	        "                          disk space and the sandbox; exit 1 on a problem\n"
	        "\n"
	        "Options:\n"
	        "  -c, --config FILE       configuration file; it tells where the database\n"
	        "                          is (database = local: the embedded server of a\n"
	        "                          running hopperd). Without -c: $HOPPER_CONFIG, else\n"
	        "                          the -c of the running hopperd closest to you (same\n"
	        "                          shell, session, user, then the system service),\n"
	        "                          else %s\n"
	        "  -h, --help              this text\n",
	        HP_CONFIG_DEFAULT_PATH);
}

/* ---- database commands ----------------------------------------------------- */

/* How close a running hopperd is to the caller: a daemon started from the
 * same shell job (process group) beats one of the same login session, which
 * beats one of the same user, which beats the system service (a daemon run
 * as user "hopper"). 0: a daemon the caller has no business talking to. */
static int daemon_rank(long pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	int pgrp = 0, sid = 0;
	char *close_paren = NULL;
	if (fgets(line, sizeof line, f))
		close_paren = strrchr(line, ')');
	if (!close_paren || sscanf(close_paren + 1, " %*c %*d %d %d", &pgrp, &sid) != 2) {
		fclose(f);
		return 0;
	}
	fclose(f);
	struct stat st;
	snprintf(path, sizeof path, "/proc/%ld", pid);
	if (stat(path, &st) < 0)
		return 0;
	if (st.st_uid == getuid()) {
		if (pgrp == getpgrp())
			return 4;
		if (sid == getsid(0))
			return 3;
		return 2;
	}
	struct passwd *pw = getpwnam("hopper");
	if (pw && st.st_uid == pw->pw_uid)
		return 1;
	return 0;
}

/* The -c of the running hopperd closest to the caller (daemon_rank; its
 * argv read from /proc/PID/cmdline, a relative path taken from
 * /proc/PID/cwd). When several are equally close the first found is used
 * and *ret_several is set, so the caller can say which one it took. NULL
 * when none runs, or the closest runs without -c. Caller frees. */
static char *running_daemon_config(bool *ret_several)
{
	DIR *proc = opendir("/proc");
	*ret_several = false;
	if (!proc)
		return NULL;
	char *found = NULL;
	int best = 0;
	struct dirent *de;
	while ((de = readdir(proc))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == getpid())
			continue;
		char path[64], args[4096];
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, args, sizeof args - 1);
		close(fd);
		if (n <= 0)
			continue;
		args[n] = '\0';
		const char *argv0 = strrchr(args, '/') ? strrchr(args, '/') + 1 : args;
		if (strcmp(argv0, "hopperd") != 0)
			continue;
		const char *cfg = NULL;
		bool worker = false;
		for (const char *a = args + strlen(args) + 1; a < args + n; a += strlen(a) + 1) {
			if (strcmp(a, "--worker") == 0)
				worker = true;
			else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && a + strlen(a) + 1 < args + n)
				cfg = a + strlen(a) + 1;
			else if (strncmp(a, "--config=", 9) == 0)
				cfg = a + 9;
		}
		if (worker)
			continue;
		int rank = daemon_rank(pid);
		if (rank == 0 || rank < best)
			continue;
		if (rank == best) {
			*ret_several = true;
			continue;
		}
		best = rank;
		*ret_several = false;
		free(found);
		found = NULL;
		if (!cfg)
			continue;
		if (cfg[0] == '/') {
			found = strdup(cfg);
		} else {
			char cwd[PATH_MAX];
			snprintf(path, sizeof path, "/proc/%ld/cwd", pid);
			ssize_t l = readlink(path, cwd, sizeof cwd - 1);
			if (l > 0) {
				cwd[l] = '\0';
				if (asprintf(&found, "%s/%s", cwd, cfg) < 0)
					found = NULL;
			}
		}
	}
	closedir(proc);
	return found;
}

/* The configuration file to use: -c, else $HOPPER_CONFIG, else the running
 * hopperd's (running_daemon_config), else NULL (the default path). *owned
 * is what the caller frees. */
static const char *resolve_config(char **owned)
{
	*owned = NULL;
	if (cfg_path)
		return cfg_path;
	if (getenv("HOPPER_CONFIG"))
		return getenv("HOPPER_CONFIG");
	bool several = false;
	*owned = running_daemon_config(&several);
	if (*owned && (several || getenv("HOPPER_DEBUG")))
		fprintf(stderr, "hopper: using %s, the configuration of the running hopperd%s\n", *owned,
		        several ? " (several run; -c FILE picks another)" : "");
	return *owned;
}

static PGconn *connect_db(void)
{
	hp_config *cfg = NULL;
	char *found = NULL;
	int r = hp_config_load(resolve_config(&found), 0, stderr, &cfg);
	free(found);
	if (r < 0)
		return NULL;
	char *ci = hp_db_conninfo(cfg);
	hp_config_free(cfg);
	if (!ci) {
		fprintf(stderr, "hopper: out of memory\n");
		return NULL;
	}
	char err[512];
	PGconn *c = hp_db_connect(ci, err, sizeof err);
	free(ci);
	if (!c)
		fprintf(stderr, "hopper: %s\n", err);
	return c;
}

static int cmd_doctor(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "hopper: usage: hopper doctor\n");
		return 2;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0) {
		fprintf(stderr, "hopper: cannot find my own program: %m\n");
		return 1;
	}
	self[n] = '\0';
	char *found = NULL;
	int rc = hp_doctor(resolve_config(&found), self, stdout);
	free(found);
	return rc;
}

static const hp_table_opts table_default = { .format = HP_TABLE_ALIGNED };

/* Run q and print it as o says; 0 or 1. */
static int query_print(PGconn *c, const char *q, const hp_table_opts *o)
{
	PGresult *res = PQexec(c, q);
	ExecStatusType st = PQresultStatus(res);
	int rc = 0;
	if (st == PGRES_TUPLES_OK)
		hp_table_print(res, o, stdout);
	else if (st == PGRES_COMMAND_OK)
		printf("%s\n", PQcmdStatus(res));
	else {
		fprintf(stderr, "hopper: %s", PQresultErrorMessage(res));
		rc = 1;
	}
	PQclear(res);
	return rc;
}

static void bar(double frac, int len)
{
	int full = (int)(frac * len + 0.5);
	putchar('[');
	for (int i = 0; i < len; i++)
		putchar(i < full ? '#' : '.');
	putchar(']');
}

static const char status_per_watch[] =
	"SELECT watch, count(*) FILTER (WHERE state IN ('done','failed')) AS finished,"
	" count(*) FILTER (WHERE state = 'failed') AS failed, count(*) AS total"
	" FROM hopper.jobs GROUP BY watch ORDER BY watch";

static PGresult *query_rows(PGconn *c, const char *q)
{
	PGresult *res = PQexec(c, q);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	fprintf(stderr, "hopper: %s", PQresultErrorMessage(res));
	PQclear(res);
	return NULL;
}

/* status --json: {"states": {"done": 12, ...}, "watches": [{"watch": ...,
 * "finished": N, "failed": N, "total": N}, ...]}; numbers are numbers. */
static int status_json(PGconn *c)
{
	PGresult *st = query_rows(c, "SELECT state, jobs FROM hopper.status");
	PGresult *w = st ? query_rows(c, status_per_watch) : NULL;
	if (!w) {
		PQclear(st);
		return 1;
	}
	printf("{\"states\":{");
	for (int r = 0; r < PQntuples(st); r++) {
		printf("%s", r ? "," : "");
		hp_json_string(stdout, PQgetvalue(st, r, 0));
		printf(":%s", PQgetvalue(st, r, 1));
	}
	printf("},\"watches\":[");
	for (int r = 0; r < PQntuples(w); r++) {
		printf("%s{\"watch\":", r ? "," : "");
		hp_json_string(stdout, PQgetvalue(w, r, 0));
		printf(",\"finished\":%s,\"failed\":%s,\"total\":%s}", PQgetvalue(w, r, 1),
		       PQgetvalue(w, r, 2), PQgetvalue(w, r, 3));
	}
	printf("]}\n");
	PQclear(st);
	PQclear(w);
	return 0;
}

static int status_once(PGconn *c)
{
	if (query_print(c, "SELECT state, jobs FROM hopper.status", &table_default))
		return 1;
	PGresult *res = query_rows(c, status_per_watch);
	if (!res)
		return 1;
	if (PQntuples(res) > 0)
		printf("\n");
	for (int r = 0; r < PQntuples(res); r++) {
		long fin = atol(PQgetvalue(res, r, 1)), failed = atol(PQgetvalue(res, r, 2));
		long total = atol(PQgetvalue(res, r, 3));
		printf("%-16s ", PQgetvalue(res, r, 0));
		bar(total ? (double)fin / (double)total : 1.0, 30);
		printf(" %ld/%ld", fin, total);
		if (failed)
			printf(" (%ld failed)", failed);
		printf("\n");
	}
	PQclear(res);
	return 0;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	interrupted = 1;
}

static int cmd_status(int argc, char **argv)
{
	bool watch = false, json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--watch") == 0)
			watch = true;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else {
			fprintf(stderr, "hopper: usage: hopper status [--watch | --json]\n");
			return 2;
		}
	}
	PGconn *c = connect_db();
	if (!c)
		return 1;
	int rc;
	if (json) {
		rc = status_json(c);
	} else if (!watch) {
		rc = status_once(c);
	} else {
		signal(SIGINT, on_sigint);
		do {
			printf("\033[H\033[2J");
			rc = status_once(c);
			fflush(stdout);
		} while (!rc && !interrupted && sleep(2) == 0 && !interrupted);
	}
	PQfinish(c);
	return rc;
}

static const char sql_usage[] =
	"hopper: usage: hopper sql [-A] [-t] [-F SEP] [--csv | --json] QUERY\n";

/* psql's switches, so scripts can say n=$(hopper sql -At "SELECT ..."). */
static int cmd_sql(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-align", no_argument, NULL, 'A' },
		{ "tuples-only", no_argument, NULL, 't' },
		{ "field-separator", required_argument, NULL, 'F' },
		{ "csv", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'J' },
		{ 0 },
	};
	hp_table_opts o = table_default;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "AtF:", opts, NULL)) != -1) {
		switch (c) {
		case 'A': if (o.format == HP_TABLE_ALIGNED) o.format = HP_TABLE_UNALIGNED; break;
		case 't': o.tuples_only = true; break;
		case 'F': o.sep = optarg; if (o.format == HP_TABLE_ALIGNED) o.format = HP_TABLE_UNALIGNED; break;
		case 'C': o.format = HP_TABLE_CSV; break;
		case 'J': o.format = HP_TABLE_JSON; break;
		default: fputs(sql_usage, stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(sql_usage, stderr);
		fprintf(stderr, "hopper: (quote the query as one argument)\n");
		return 2;
	}
	PGconn *conn = connect_db();
	if (!conn)
		return 1;
	int rc = query_print(conn, argv[optind], &o);
	PQfinish(conn);
	return rc;
}

static int cmd_failures(int argc, char **argv)
{
	PGconn *c = connect_db();
	if (!c)
		return 1;
	int rc = query_print(c, "SELECT path, error, attempts, finished_at FROM hopper.failures", &table_default);
	PQfinish(c);
	return rc;
}

static int cmd_retry(int argc, char **argv)
{
	bool all = argc == 2 && strcmp(argv[1], "--all-failed") == 0;
	if (argc < 2 || (!all && strncmp(argv[1], "-", 1) == 0)) {
		fprintf(stderr, "hopper: usage: hopper retry --all-failed | JOB_ID...\n");
		return 2;
	}
	int64_t *ids = all ? NULL : calloc((size_t)argc, sizeof *ids);
	if (!all && !ids)
		return 1;
	for (int i = 1; !all && i < argc; i++) {
		char *end;
		long long v = strtoll(argv[i], &end, 10);
		if (*end || end == argv[i] || v <= 0) {
			fprintf(stderr, "hopper: '%s' is not a job id (see hopper failures, column job_id"
			                " of hopper.failures)\n", argv[i]);
			free(ids);
			return 2;
		}
		ids[i - 1] = v;
	}
	PGconn *c = connect_db();
	if (!c) {
		free(ids);
		return 1;
	}
	int n = hp_queue_retry_failed(c, ids, all ? 0 : (size_t)argc - 1);
	free(ids);
	if (n < 0)
		fprintf(stderr, "hopper: %s", PQerrorMessage(c));
	else
		printf("%d failed job(s) put back in the queue\n", n);
	PQfinish(c);
	return n < 0 ? 1 : 0;
}

static const char search_usage[] =
	"hopper: usage: hopper search [--limit N] [--watch NAME] [--semantic] [--refresh] WORDS...\n";

/* The vector of the search words from the [embed] endpoint of the config. */
static char *query_vector(const char *words, char **ret_model)
{
	hp_config *cfg = NULL;
	char *found = NULL, *vec = NULL;
	int r = hp_config_load(resolve_config(&found), 0, stderr, &cfg);
	free(found);
	if (r < 0)
		return NULL;
	char err[512];
	if (hp_embed_text(cfg, words, &vec, err, sizeof err) < 0)
		fprintf(stderr, "hopper: --semantic: %s\n", err);
	else if (!(*ret_model = strdup(cfg->embed_model)))
		fprintf(stderr, "hopper: out of memory\n");
	if (!*ret_model) {
		free(vec);
		vec = NULL;
	}
	hp_config_free(cfg);
	return vec;
}

/* hopper search [--limit N] [--watch NAME] [--semantic] [--refresh] WORDS...
 * — see include/hopper/search.h */
static int cmd_search(int argc, char **argv)
{
	hp_search_opts o = { .max_rows = 10 };
	bool refresh = false, semantic = false;
	hp_buf q;
	hp_buf_init(&q, 4096);
	for (int i = 1; i < argc; i++) {
		char *end;
		if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > 10000) {
				fprintf(stderr, "hopper: --limit takes a number from 1 to 10000\n");
				hp_buf_free(&q);
				return 2;
			}
			o.max_rows = (int)v;
		} else if (!strcmp(argv[i], "--watch") && i + 1 < argc) {
			o.watch = argv[++i];
		} else if (!strcmp(argv[i], "--semantic")) {
			semantic = true;
		} else if (!strcmp(argv[i], "--refresh")) {
			refresh = true;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			fputs(search_usage, stderr);
			hp_buf_free(&q);
			return 2;
		} else if ((q.len && hp_buf_addc(&q, ' ') < 0) || hp_buf_addstr(&q, argv[i]) < 0) {
			fprintf(stderr, "hopper: the search words are too long\n");
			hp_buf_free(&q);
			return 2;
		}
	}
	if (!q.len) {
		fputs(search_usage, stderr);
		return 2;
	}
	char *model = NULL, *qvec = NULL;
	if (semantic && !(qvec = query_vector(q.data, &model))) {
		hp_buf_free(&q);
		return 1;
	}
	o.qvec = qvec;
	o.model = model;
	PGconn *c = connect_db();
	int rc = c ? 0 : 1;
	o.color = isatty(STDOUT_FILENO);
	if (refresh)
		signal(SIGINT, on_sigint);
	while (c && !rc) {
		char err[512];
		if (refresh)
			printf("\033[H\033[2J");
		int n = hp_search_print(c, q.data, &o, stdout, err, sizeof err);
		if (n < 0) {
			fprintf(stderr, "hopper: %s\n", err);
			rc = 1;
		} else if (n == 0) {
			printf("no chunk matches \"%s\"\n", q.data);
		}
		fflush(stdout);
		if (!refresh || interrupted || sleep(2) != 0 || interrupted)
			break;
	}
	PQfinish(c);
	free(qvec);
	free(model);
	hp_buf_free(&q);
	return rc;
}

/* ---- convert --------------------------------------------------------------- */

static int read_file(const char *path, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	int r = 0;
	struct stat st;
	hp_buf b;
	hp_buf_init(&b, CONVERT_MAX_INPUT);
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	for (;;) {
		r = hp_buf_reserve(&b, 65536);
		if (r < 0)
			goto out;
		ssize_t n = read(fd, b.data + b.len, 65536);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		b.data[b.len] = '\0';
	}
	*ret_len = b.len;
	*ret = hp_buf_steal(&b);
	r = *ret ? 0 : -ENOMEM;
out:
	hp_buf_free(&b);
	close(fd);
	return r;
}

/* Conversions run in a child process that is a hopperd worker (hopper-worker:
 * sandbox, limits, converters, chunker; this binary links none of them) and speaks the
 * same frames over a socketpair, so a hostile file costs that child, not
 * this process, and `hopper convert` shows exactly what hopperd would store.
 * One child serves every file; a new one is started after a crash. */
typedef struct convert_child {
	pid_t pid;
	int fd;
	uint64_t seq;
} convert_child;

static void child_stop(convert_child *c, bool kill_it, char *why, size_t whylen)
{
	if (c->pid <= 0)
		return;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (kill_it)
		kill(c->pid, SIGKILL);
	int st = 0;
	while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (why) {
		if (WIFSIGNALED(st))
			snprintf(why, whylen, "converter killed by %s", hp_signal_name(WTERMSIG(st)));
		else
			snprintf(why, whylen, "converter exited with status %d", WEXITSTATUS(st));
	}
	c->pid = 0;
}

static int child_start(convert_child *c)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		close(sv[0]);
		_exit(hp_pool_exec_worker_fd(sv[1], CONVERT_MEMORY_LIMIT));
	}
	close(sv[1]);
	c->pid = pid;
	c->fd = sv[0];
	return 0;
}

/* Read exactly n bytes before the deadline. 0, -ETIMEDOUT, -EPIPE (EOF) or -errno. */
static int read_until(int fd, void *p, size_t n, uint64_t deadline)
{
	char *c = p;
	while (n > 0) {
		uint64_t now = hp_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int pr = poll(&pfd, 1, (int)(deadline - now));
		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr <= 0)
			continue;
		ssize_t r = read(fd, c, n);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EPIPE;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Send one file to the child and wait for its result. 0 and *res, or -errno
 * with a sentence in why (the child is gone then). */
static int child_convert(convert_child *c, const char *name, const char *data, size_t len,
                         hp_result *res, char *why, size_t whylen)
{
	if (c->pid <= 0) {
		int r = child_start(c);
		if (r < 0) {
			snprintf(why, whylen, "cannot start a converter process: %s", strerror(-r));
			return r;
		}
	}
	hp_job_msg m = { .job_id = ++c->seq, .name = name, .data = data, .len = len,
	                 .chunk_tokens = HP_CHUNK_DEFAULT_TOKENS,
	                 .chunk_min = HP_CHUNK_DEFAULT_MIN, .have_chunk_min = true, .max_output = CONVERT_MAX_OUTPUT };
	hp_buf b;
	hp_buf_init(&b, 0);
	void *payload = NULL;
	int r = hp_job_msg_encode(&b, &m);
	if (r == 0)
		r = hp_write_all(c->fd, b.data, b.len);
	hp_buf_free(&b);
	uint64_t deadline = hp_now_ms() + CONVERT_TIMEOUT_S * 1000;
	uint8_t hdr[HP_FRAME_HDR_LEN];
	uint32_t type = 0, plen = 0;
	if (r == 0)
		r = read_until(c->fd, hdr, sizeof hdr, deadline);
	if (r == 0)
		r = hp_frame_header(hdr, sizeof hdr, CONVERT_MAX_OUTPUT * 3 + (16u << 20), &type, &plen);
	if (r == 0 && type != HP_FRAME_RESULT)
		r = -EBADMSG;
	if (r == 0 && !(payload = malloc(plen ? plen : 1)))
		r = -ENOMEM;
	if (r == 0)
		r = read_until(c->fd, payload, plen, deadline);
	if (r == 0)
		r = hp_result_decode(payload, plen, SIZE_MAX / sizeof(hp_chunk), res);
	if (r == 0 && res->job_id != m.job_id)
		r = -EBADMSG;
	free(payload);
	if (r < 0) {
		if (r == -ETIMEDOUT) {
			child_stop(c, true, NULL, 0);
			snprintf(why, whylen, "timed out after %d s", CONVERT_TIMEOUT_S);
		} else {
			child_stop(c, true, why, whylen);
			if (r == -EBADMSG || r == -EMSGSIZE)
				snprintf(why, whylen, "the converter sent a malformed result");
		}
	}
	return r;
}

/* hopper convert --chunks: one line per chunk instead of the Markdown, the
 * columns of hopper.chunks (page 0 = not paged; tabs and newlines in the
 * heading shown as spaces), to compare with what hopperd stored. */
static void print_chunks(const hp_result *res)
{
	for (size_t i = 0; i < res->n_chunks; i++) {
		const hp_chunk *ch = &res->chunks[i];
		printf("%zu\t%d\t%d\t%zu\t%zu\t", i, ch->tokens, ch->page, ch->start, ch->end);
		for (const char *h = ch->heading; *h; h++)
			putchar(*h == '\t' || *h == '\n' ? ' ' : *h);
		putchar('\n');
	}
}

static bool convert_chunks;

static int convert_one(convert_child *child, const char *path, const char *outdir)
{
	char *data = NULL;
	size_t len = 0;
	int r = read_file(path, &data, &len);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", path,
		        r == -EFBIG ? "over the 256 MiB input limit of hopper convert"
		        : r == -EINVAL ? "not a regular file" : strerror(-r));
		return 1;
	}
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	hp_result res = { 0 };
	char why[256] = "";
	r = child_convert(child, base, data, len, &res, why, sizeof why);
	free(data);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", path, why);
		return 1;
	}
	if (res.status != 0) {
		fprintf(stderr, "%s: %s\n", path, res.error ? res.error : strerror(res.status));
		hp_result_clear(&res);
		return 1;
	}
	const hp_doc *doc = &res.doc;
	int rc = 0;
	if (convert_chunks) {
		print_chunks(&res);
	} else if (!outdir) {
		fwrite(doc->markdown, 1, doc->markdown_len, stdout);
		if (doc->markdown_len && doc->markdown[doc->markdown_len - 1] != '\n')
			putchar('\n');
	} else {
		char out[PATH_MAX];
		if (snprintf(out, sizeof out, "%s/%s.md", outdir, base) >= (int)sizeof out) {
			fprintf(stderr, "%s: output path too long\n", path);
			rc = 1;
		} else {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (fd < 0 || hp_write_all(fd, doc->markdown, doc->markdown_len) < 0) {
				fprintf(stderr, "%s: cannot write %s: %m\n", path, out);
				rc = 1;
			} else {
				fprintf(stderr, "%s -> %s (%s)\n", path, out, hp_format_name(doc->format));
			}
			if (fd >= 0)
				close(fd);
		}
	}
	hp_result_clear(&res);
	return rc;
}

static int cmd_convert(int argc, char **argv)
{
	const char *outdir = NULL;
	static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
		                              { "chunks", no_argument, NULL, 'C' }, { 0 } };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'C') {
			convert_chunks = true;
			continue;
		}
		if (c != 'o') {
			fprintf(stderr, "hopper: usage: hopper convert [--chunks] FILE... [-o DIR]\n");
			return 2;
		}
		outdir = optarg;
	}
	if (optind >= argc) {
		fprintf(stderr, "hopper: usage: hopper convert FILE... [-o DIR]\n");
		return 2;
	}
	if (outdir && mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "hopper: cannot create %s: %m\n", outdir);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN); /* a dead converter is an error, not our death */
	convert_child child = { .fd = -1 };
	int rc = 0;
	for (int i = optind; i < argc; i++)
		rc |= convert_one(&child, argv[i], outdir);
	child_stop(&child, false, NULL, 0);
	return rc;
}

/* `hopper bench`: the workers are this binary run as `hopper --worker`. */
static int cmd_bench(int argc, char **argv)
{
	static char exe[PATH_MAX];
	hp_bench_opts o = { .worker_exe = exe };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			o.json = true;
		else if (strcmp(argv[i], "--max-workers") == 0 && i + 1 < argc)
			o.max_workers = atoi(argv[++i]);
		else if (argv[i][0] != '-' && !o.dir)
			o.dir = argv[i];
		else {
			fprintf(stderr, "hopper bench: unexpected argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (!o.dir) {
		fprintf(stderr, "Usage: hopper bench DIR [--json] [--max-workers N]\n");
		return 2;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n < 0) {
		fprintf(stderr, "hopper bench: cannot find my own binary (/proc/self/exe): %s\n", strerror(errno));
		return 1;
	}
	exe[n] = '\0';
	return hp_bench_run(&o, stdout) < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--worker") == 0)
		return hp_pool_exec_worker(argc, argv);
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	/* '+': stop at the command; its own options follow it. */
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	if (strcmp(cmd, "status") == 0)
		return cmd_status(sub_argc, sub_argv);
	if (strcmp(cmd, "sql") == 0)
		return cmd_sql(sub_argc, sub_argv);
	if (strcmp(cmd, "failures") == 0)
		return cmd_failures(sub_argc, sub_argv);
	if (strcmp(cmd, "retry") == 0)
		return cmd_retry(sub_argc, sub_argv);
	if (strcmp(cmd, "search") == 0)
		return cmd_search(sub_argc, sub_argv);
	if (strcmp(cmd, "convert") == 0)
		return cmd_convert(sub_argc, sub_argv);
	if (strcmp(cmd, "bench") == 0)
		return cmd_bench(sub_argc, sub_argv);
	if (strcmp(cmd, "doctor") == 0)
		return cmd_doctor(sub_argc, sub_argv);
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "hopper: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
