/* pgembed.c — the embedded PostgreSQL cluster, see include/hopper/pgembed.h
 *
 * Layout under state_dir:
 *   pg/            the data directory (0700, owned by the server's user)
 *   run/           the Unix socket directory (0700, same owner): no TCP
 *   postgres.log   initdb's and the server's stderr (opened by us, inherited)
 *
 * The server runs as our direct child (not through pg_ctl) so that we see it
 * exit, and with PR_SET_PDEATHSIG so that it stops when we die. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hopper/common.h"
#include "hopper/pgembed.h"

#define PG_SUPERUSER "hopper"
#define PG_DATABASE "hopper"
#define READY_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 30000
#define POLL_MS 50

extern char **environ;

struct hp_pgembed {
	char *state_dir;
	char *pgdata;
	char *rundir;
	char *logpath;
	pid_t pid;
	bool reaped;
	int lockfd;    /* <state_dir>/hopperd.lock, flock'ed while we own the cluster */
};

/* Who runs initdb and postgres: ourselves, or (as root) an unprivileged user. */
typedef struct runas {
	bool change;   /* setgroups/setgid/setuid in the child */
	uid_t uid;
	gid_t gid;
	char name[64];
} runas;

/* "dir/name"; caller frees; NULL on ENOMEM. */
static char *path_join(const char *dir, const char *name)
{
	char *p;
	return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void describe_status(int st, char *out, size_t outlen)
{
	if (WIFEXITED(st))
		snprintf(out, outlen, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, outlen, "was killed by %s", hp_signal_name(WTERMSIG(st)));
	else
		snprintf(out, outlen, "stopped (wait status %#x)", (unsigned)st);
}

/* Log the last lines of postgres.log: that is where the server says why. */
static void log_tail(const char *path)
{
	char buf[2048];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof buf - 1, from);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* Keep the last 8 lines. */
	char *p = buf + n;
	int lines = 0;
	while (p > buf) {
		p--;
		if (*p == '\n' && p + 1 < buf + n && ++lines > 8) {
			p++;
			break;
		}
	}
	hp_err("%s ends with:", path);
	for (char *save = NULL, *line = strtok_r(p, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		hp_err("  %s", line);
}

static bool is_exec(const char *dir, const char *name)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
		return false;
	return access(path, X_OK) == 0;
}

/* `pg_config --bindir`, else the newest /usr/lib/postgresql/<major>/bin.
 * Writes into out; -ENOPKG when there is no server. */
static int find_bindir(char *out, size_t outlen)
{
	char line[PATH_MAX] = "";
	FILE *f = popen("pg_config --bindir 2>/dev/null", "re");
	if (f) {
		if (!fgets(line, sizeof line, f))
			line[0] = '\0';
		pclose(f);
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '/' && strlen(line) < outlen && is_exec(line, "postgres") &&
		    is_exec(line, "initdb")) {
			memcpy(out, line, strlen(line) + 1);
			return 0;
		}
	}
	long best = -1;
	DIR *d = opendir("/usr/lib/postgresql");
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			char *end;
			long v = strtol(de->d_name, &end, 10);
			if (end == de->d_name || *end != '\0' || v <= best)
				continue;
			char bin[PATH_MAX];
			snprintf(bin, sizeof bin, "/usr/lib/postgresql/%s/bin", de->d_name);
			if (strlen(bin) < outlen && is_exec(bin, "postgres") && is_exec(bin, "initdb")) {
				best = v;
				memcpy(out, bin, strlen(bin) + 1);
			}
		}
		closedir(d);
	}
	return best >= 0 ? 0 : -ENOPKG;
}

static int fill_runas(const struct passwd *pw, runas *ru)
{
	if (strlen(pw->pw_name) >= sizeof ru->name)
		return -ENAMETOOLONG;
	ru->change = true;
	ru->uid = pw->pw_uid;
	ru->gid = pw->pw_gid;
	snprintf(ru->name, sizeof ru->name, "%s", pw->pw_name);
	return 0;
}

static int wait_child(pid_t pid, int *ret_status)
{
	int st;
	for (;;) {
		pid_t w = waitpid(pid, &st, 0);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -errno;
	}
	*ret_status = st;
	return 0;
}

static int create_system_user(void)
{
	static const char *const cmds[] = { "/usr/sbin/useradd", "/sbin/useradd" };
	const char *cmd = NULL;
	for (size_t i = 0; i < HP_ARRAY_SIZE(cmds) && !cmd; i++)
		if (access(cmds[i], X_OK) == 0)
			cmd = cmds[i];
	if (!cmd) {
		hp_err("running as root, there is no 'hopper' or 'postgres' user to run PostgreSQL as, "
		       "and useradd is missing: create a system user 'hopper'");
		return -ENOENT;
	}
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *argv[] = { (char *)cmd, "--system", "--no-create-home", "--shell",
		                 "/usr/sbin/nologin", PG_SUPERUSER, NULL };
		hp_env_scrub_service();
		execve(cmd, argv, environ);
		_exit(127);
	}
	int st, r = wait_child(pid, &st);
	if (r < 0)
		return r;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char how[64];
		describe_status(st, how, sizeof how);
		hp_err("creating the system user '%s' for PostgreSQL failed (useradd %s): "
		       "create it by hand", PG_SUPERUSER, how);
		return -EIO;
	}
	hp_notice("created the system user '%s' to run the embedded PostgreSQL", PG_SUPERUSER);
	return 0;
}

/* As root: the owner of an existing cluster (so a cluster made by an earlier
 * choice keeps working), else "hopper", else "postgres", else a new
 * "hopper". Not root: ourselves. */
static int choose_user(const char *pgdata, runas *ru)
{
	memset(ru, 0, sizeof *ru);
	if (geteuid() != 0) {
		struct passwd *pw = getpwuid(geteuid());
		ru->uid = geteuid();
		ru->gid = getegid();
		snprintf(ru->name, sizeof ru->name, "%s", pw ? pw->pw_name : "?");
		return 0;
	}
	struct stat st;
	if (stat(pgdata, &st) == 0 && st.st_uid != 0) {
		struct passwd *pw = getpwuid(st.st_uid);
		if (pw)
			return fill_runas(pw, ru);
	}
	struct passwd *pw = getpwnam(PG_SUPERUSER);
	if (!pw)
		pw = getpwnam("postgres");
	if (!pw) {
		int r = create_system_user();
		if (r < 0)
			return r;
		pw = getpwnam(PG_SUPERUSER);
		if (!pw) {
			hp_err("the user '%s' was created but cannot be looked up", PG_SUPERUSER);
			return -ENOENT;
		}
	}
	return fill_runas(pw, ru);
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s", path) >= sizeof tmp)
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A private directory for the server's user: created 0700, or fixed up. */
static int make_private_dir(const char *path, const runas *ru)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		int r = -errno;
		hp_err("cannot create %s: %s", path, strerror(-r));
		return r;
	}
	if (ru->change && chown(path, ru->uid, ru->gid) < 0) {
		int r = -errno;
		hp_err("cannot give %s to the user '%s': %s", path, ru->name, strerror(-r));
		return r;
	}
	if (chmod(path, 0700) < 0) {
		int r = -errno;
		hp_err("cannot make %s private (chmod 0700): %s", path, strerror(-r));
		return r;
	}
	return 0;
}

/* Runs in a forked child: only async-signal-safe calls from here on. */
static void child_become(const runas *ru, int logfd, const char *cwd, pid_t parent, bool server)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL); /* fails harmlessly for SIGKILL/SIGSTOP */
	/* Own process group: a Ctrl-C on hopperd's terminal must not stop the
	 * server before hopperd has put its jobs back. */
	if (server && setpgid(0, 0) < 0)
		_exit(126);
	int nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		_exit(126);
	/* Nothing else of ours (inotify, epoll, sockets) leaks into the server. */
	close_range(3, ~0U, 0);
	if (chdir(cwd) < 0)
		_exit(126);
	if (ru->change) {
		if (setgroups(1, &ru->gid) < 0 || setgid(ru->gid) < 0 || setuid(ru->uid) < 0)
			_exit(126);
	}
	if (server) {
		/* After setuid: a credential change clears the death signal. Then
		 * check that the parent did not die before prctl took effect. */
		if (prctl(PR_SET_PDEATHSIG, SIGINT) < 0 || getppid() != parent)
			_exit(126);
	}
}

static int spawn(const runas *ru, char *const argv[], int logfd, const char *cwd, bool server,
                 pid_t *ret_pid)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_become(ru, logfd, cwd, parent, server);
		hp_env_scrub_service();
		execve(argv[0], argv, environ);
		static const char msg[] = "hopper: cannot execute the PostgreSQL program\n";
		if (write(2, msg, sizeof msg - 1) < 0)
			_exit(127);
		_exit(127);
	}
	*ret_pid = pid;
	return 0;
}

/* Can the server's user search state_dir and all its ancestors? Asked of
 * the kernel by a child that has become that user. */
static int check_reachable(const char *state_dir, const char *pgdata, const runas *ru)
{
	if (!ru->change)
		return 0;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (setgroups(1, &ru->gid) < 0 || setgid(ru->gid) < 0 || setuid(ru->uid) < 0)
			_exit(2);
		_exit(access(state_dir, X_OK) == 0 && access(pgdata, R_OK | W_OK | X_OK) == 0 ? 0 : 1);
	}
	int st, r = wait_child(pid, &st);
	if (r < 0)
		return r;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 1) {
		hp_err("the PostgreSQL user '%s' cannot reach %s: make it and its parent "
		       "directories searchable (chmod o+x)", ru->name, state_dir);
		return -EACCES;
	}
	hp_err("cannot switch to the PostgreSQL user '%s' to check %s", ru->name, state_dir);
	return -EPERM;
}

/* Is pid a postgres whose working directory is our data directory? */
static bool is_our_postgres(pid_t pid, const char *pgdata)
{
	char path[64], buf[PATH_MAX];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) /* a zombie has an empty command line */
		return false;
	buf[n] = '\0';
	const char *base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	if (strncmp(base, "postgres", 8) != 0 && strncmp(base, "postmaster", 10) != 0)
		return false;
	/* The postmaster chdirs into its data directory; a recycled pid of some
	 * other postgres would show another one. Unreadable (not root, other
	 * user): trust the command line. */
	snprintf(path, sizeof path, "/proc/%d/cwd", (int)pid);
	n = readlink(path, buf, sizeof buf - 1);
	if (n < 0)
		return true;
	buf[n] = '\0';
	char real[PATH_MAX];
	if (!realpath(pgdata, real))
		return true;
	return strcmp(buf, real) == 0;
}

/* A server left running by a hopperd that died without stopping it. */
static int stop_leftover(const char *pgdata)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/postmaster.pid", pgdata);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	long v = 0;
	int got = fscanf(f, "%ld", &v);
	fclose(f);
	if (got != 1 || v <= 0 || v > INT_MAX)
		return 0;
	pid_t pid = (pid_t)v;
	if (kill(pid, 0) < 0 || !is_our_postgres(pid, pgdata))
		return 0; /* stale: postgres itself ignores it */
	hp_notice("a PostgreSQL server (pid %d) from an earlier run still uses %s: stopping it",
	          (int)pid, pgdata);
	if (kill(pid, SIGINT) < 0 && errno != ESRCH)
		return -errno;
	for (int waited = 0; waited < STOP_TIMEOUT_MS; waited += POLL_MS) {
		if (kill(pid, 0) < 0 || !is_our_postgres(pid, pgdata))
			return 0;
		sleep_ms(POLL_MS);
	}
	hp_err("the PostgreSQL server (pid %d) on %s did not stop within %d s: stop it and start again",
	       (int)pid, pgdata, STOP_TIMEOUT_MS / 1000);
	return -EBUSY;
}

static int run_initdb(const char *bindir, const hp_pgembed *pg, const runas *ru, int logfd)
{
	char prog[PATH_MAX];
	snprintf(prog, sizeof prog, "%s/initdb", bindir);
	/* C.UTF-8 sorts bytewise like C but knows UTF-8 character classes. */
	const char *loc = "C";
	locale_t l = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	if (l) {
		loc = "C.UTF-8";
		freelocale(l);
	}
	char locarg[32];
	snprintf(locarg, sizeof locarg, "--locale=%s", loc);
	char *argv[] = { prog, "-D", pg->pgdata, "-U", PG_SUPERUSER, "--auth=trust", "-E", "UTF8",
		         locarg, NULL };
	hp_info("creating the embedded PostgreSQL cluster in %s", pg->pgdata);
	pid_t pid;
	int r = spawn(ru, argv, logfd, pg->pgdata, false, &pid);
	if (r < 0) {
		hp_err("cannot start initdb: %s", strerror(-r));
		return r;
	}
	int st;
	r = wait_child(pid, &st);
	if (r < 0)
		return r;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char how[64];
		describe_status(st, how, sizeof how);
		hp_err("initdb for %s %s", pg->pgdata, how);
		log_tail(pg->logpath);
		return -EIO;
	}
	return 0;
}

/* Quote a conninfo value: single quotes, backslash-escaped. */
static int add_quoted(hp_buf *b, const char *key, const char *val)
{
	int r = hp_buf_addf(b, "%s%s='", b->len ? " " : "", key);
	for (const char *p = val; r == 0 && *p; p++) {
		if (*p == '\'' || *p == '\\')
			r = hp_buf_addc(b, '\\');
		if (r == 0)
			r = hp_buf_addc(b, *p);
	}
	if (r == 0)
		r = hp_buf_addc(b, '\'');
	return r;
}

static char *make_conninfo(const char *rundir, const char *dbname)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	if (add_quoted(&b, "host", rundir) < 0 || add_quoted(&b, "dbname", dbname) < 0 ||
	    add_quoted(&b, "user", PG_SUPERUSER) < 0) {
		hp_buf_free(&b);
		return NULL;
	}
	return hp_buf_steal(&b);
}

char *hp_pgembed_conninfo(const char *state_dir)
{
	char *run = path_join(state_dir, "run");
	if (!run)
		return NULL;
	char *ci = make_conninfo(run, PG_DATABASE);
	free(run);
	return ci;
}

/* Poll until the server answers, it exits, or the time is up. */
static int wait_ready(hp_pgembed *pg)
{
	int r = -ENOMEM;
	char *ci = make_conninfo(pg->rundir, "postgres");
	if (!ci)
		goto out;
	for (int waited = 0;; waited += POLL_MS) {
		int st;
		pid_t w = waitpid(pg->pid, &st, WNOHANG);
		if (w == pg->pid || (w < 0 && errno == ECHILD)) {
			char how[64] = "exited";
			if (w == pg->pid)
				describe_status(st, how, sizeof how);
			pg->reaped = true;
			hp_err("the embedded PostgreSQL server %s while starting", how);
			log_tail(pg->logpath);
			r = -EIO;
			goto out;
		}
		if (PQping(ci) == PQPING_OK)
			break;
		if (waited >= READY_TIMEOUT_MS) {
			hp_err("the embedded PostgreSQL server did not accept connections within %d s",
			       READY_TIMEOUT_MS / 1000);
			log_tail(pg->logpath);
			r = -ETIMEDOUT;
			goto out;
		}
		sleep_ms(POLL_MS);
	}
	r = 0;
out:
	free(ci);
	return r;
}

static int create_database(const hp_pgembed *pg)
{
	int r = -ENOMEM;
	PGresult *res = NULL;
	PGconn *c = NULL;
	char *ci = make_conninfo(pg->rundir, "postgres");
	if (!ci)
		goto out;
	c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		hp_err("cannot connect to the embedded PostgreSQL server: %s", PQerrorMessage(c));
		r = -ECONNREFUSED;
		goto out;
	}
	const char *params[] = { PG_DATABASE };
	res = PQexecParams(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, params, NULL,
	                   NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		hp_err("cannot list databases of the embedded server: %s", PQerrorMessage(c));
		r = -EIO;
		goto out;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		res = PQexec(c, "CREATE DATABASE " PG_DATABASE);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			hp_err("cannot create the database '%s': %s", PG_DATABASE, PQerrorMessage(c));
			r = -EIO;
			goto out;
		}
		hp_info("created the database '%s'", PG_DATABASE);
	}
	r = 0;
out:
	PQclear(res);
	PQfinish(c);
	free(ci);
	return r;
}

static void pgembed_free(hp_pgembed *pg)
{
	if (!pg)
		return;
	free(pg->state_dir);
	free(pg->pgdata);
	free(pg->rundir);
	free(pg->logpath);
	if (pg->lockfd >= 0)
		close(pg->lockfd); /* releases the flock */
	free(pg);
}

/* Stop our child: SIGINT (fast shutdown), then SIGKILL after the timeout. */
static void stop_child(hp_pgembed *pg)
{
	if (pg->pid <= 0 || pg->reaped)
		return;
	if (kill(pg->pid, SIGINT) < 0 && errno == ESRCH)
		hp_debug("the embedded PostgreSQL server is already gone");
	for (int waited = 0;; waited += POLL_MS) {
		int st;
		pid_t w = waitpid(pg->pid, &st, WNOHANG);
		if (w == pg->pid || (w < 0 && errno != EINTR))
			break; /* exited, or reaped by someone else (ECHILD) */
		if (waited >= STOP_TIMEOUT_MS) {
			hp_warn("the embedded PostgreSQL server did not stop within %d s: killing it",
			        STOP_TIMEOUT_MS / 1000);
			kill(pg->pid, SIGKILL);
			waitpid(pg->pid, &st, 0);
			break;
		}
		sleep_ms(POLL_MS);
	}
	pg->reaped = true;
}

/* One owner per cluster: a second hopperd (or a test) on the same state_dir
 * would otherwise stop the first one's server as "left over" and the two
 * would keep restarting each other's postgres. The lock is an flock on
 * <state_dir>/hopperd.lock, close-on-exec so that postgres and the workers
 * never hold it: it goes away with its owner, even after kill -9, and a
 * server that owner left behind is then stopped by stop_leftover() as before.
 * The file holds the owner's pid, for the message. */
static int lock_state_dir(hp_pgembed *pg)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/hopperd.lock", pg->state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		int e = errno;
		hp_err("cannot open %s: %s", path, strerror(e));
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		char buf[32] = "";
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK) {
			hp_err("state_dir %s is in use by another hopperd (pid %s): stop it first, "
			       "or give this one its own state_dir",
			       pg->state_dir, buf[0] ? buf : "unknown");
			return -EBUSY;
		}
		hp_err("cannot lock %s: %s", path, strerror(e));
		return -e;
	}
	char pid[24];
	int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		hp_warn("cannot write the pid into %s: %m", path);
	pg->lockfd = fd;
	return 0;
}

int hp_pgembed_start(const char *state_dir, hp_pgembed **ret)
{
	int r, logfd = -1;
	hp_pgembed *pg = calloc(1, sizeof *pg);
	if (!pg)
		return -ENOMEM;
	pg->lockfd = -1;
	if (!(pg->state_dir = strdup(state_dir)) || !(pg->pgdata = path_join(state_dir, "pg")) ||
	    !(pg->rundir = path_join(state_dir, "run")) ||
	    !(pg->logpath = path_join(state_dir, "postgres.log"))) {
		r = -ENOMEM;
		goto fail;
	}
	/* The socket's path must fit in sockaddr_un (unix(7)). */
	if (strlen(pg->rundir) + sizeof "/.s.PGSQL.65535" > sizeof(((struct sockaddr_un *)0)->sun_path)) {
		hp_err("state_dir %s is too long for a Unix socket path: choose a shorter state_dir",
		       state_dir);
		r = -ENAMETOOLONG;
		goto fail;
	}
	char bindir[PATH_MAX - 32];
	r = find_bindir(bindir, sizeof bindir);
	if (r < 0) {
		hp_err("PostgreSQL server programs not found (neither `pg_config --bindir` nor "
		       "/usr/lib/postgresql/*/bin has initdb and postgres): install the "
		       "'postgresql' package, or set database = <conninfo> to use an existing server");
		goto fail;
	}
	runas ru;
	r = choose_user(pg->pgdata, &ru);
	if (r < 0)
		goto fail;
	struct stat st;
	if (stat(state_dir, &st) < 0) {
		r = mkdir_p(state_dir, 0755);
		if (r < 0) {
			hp_err("cannot create state_dir %s: %s", state_dir, strerror(-r));
			goto fail;
		}
	}
	if ((r = lock_state_dir(pg)) < 0)
		goto fail;
	if ((r = make_private_dir(pg->pgdata, &ru)) < 0 || (r = make_private_dir(pg->rundir, &ru)) < 0)
		goto fail;
	r = check_reachable(state_dir, pg->pgdata, &ru);
	if (r < 0)
		goto fail;
	logfd = open(pg->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (logfd < 0) {
		r = -errno;
		hp_err("cannot open %s: %s", pg->logpath, strerror(-r));
		goto fail;
	}
	r = stop_leftover(pg->pgdata);
	if (r < 0)
		goto fail;

	char version[PATH_MAX];
	snprintf(version, sizeof version, "%s/PG_VERSION", pg->pgdata);
	if (access(version, F_OK) < 0) {
		r = run_initdb(bindir, pg, &ru, logfd);
		if (r < 0)
			goto fail;
	}

	char prog[PATH_MAX];
	snprintf(prog, sizeof prog, "%s/postgres", bindir);
	char *argv[] = { prog, "-D", pg->pgdata, "-k", pg->rundir, "-c", "listen_addresses=",
		         "-c", "unix_socket_permissions=0700", "-c", "logging_collector=off",
		         /* hopperd.service has MemoryDenyWriteExecute=yes, which LLVM's
		          * JIT would trip over; our queries are too short to gain from it. */
		         "-c", "jit=off",
		         /* Sized for a small disk (README, "Disk space"): WAL is
		          * checkpointed away at 96 MB instead of 1 GB, at most 32 MB
		          * of old segments are kept for reuse, none for standbys. */
		         "-c", "max_wal_size=" HP_PGEMBED_MAX_WAL, "-c", "min_wal_size=32MB",
		         "-c", "wal_keep_size=0", NULL };
	r = spawn(&ru, argv, logfd, pg->pgdata, true, &pg->pid);
	if (r < 0) {
		hp_err("cannot start postgres: %s", strerror(-r));
		goto fail;
	}
	r = wait_ready(pg);
	if (r < 0)
		goto fail;
	r = create_database(pg);
	if (r < 0)
		goto fail;
	hp_info("embedded PostgreSQL (pid %d, user %s) is ready on %s", (int)pg->pid, ru.name,
	        pg->rundir);
	close(logfd);
	*ret = pg;
	return 0;
fail:
	if (logfd >= 0)
		close(logfd);
	if (pg)
		stop_child(pg);
	pgembed_free(pg);
	return r;
}

long long hp_pgembed_free_bytes(const char *path)
{
	struct statvfs vf;
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s", path);
	while (statvfs(p, &vf) < 0) {
		char *slash = strrchr(p, '/');
		if (errno != ENOENT || !slash || slash == p)
			return -errno;
		*slash = '\0';
	}
	return (long long)vf.f_bavail * (long long)vf.f_frsize;
}

pid_t hp_pgembed_pid(const hp_pgembed *pg)
{
	return pg ? pg->pid : 0;
}

void hp_pgembed_reaped(hp_pgembed *pg, int wstatus)
{
	if (!pg)
		return;
	if (!pg->reaped) {
		char how[64];
		describe_status(wstatus, how, sizeof how);
		hp_debug("the embedded PostgreSQL server %s", how);
	}
	pg->reaped = true;
}

void hp_pgembed_stop(hp_pgembed *pg)
{
	if (!pg)
		return;
	stop_child(pg);
	pgembed_free(pg);
}
