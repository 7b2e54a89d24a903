/* doctor.c — see doctor.h */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "doctor.h"
#include "hopper/config.h"
#include "hopper/db.h"
#include "hopper/migrate.h"
#include "hopper/reader.h"
#include "hopper/watch.h"

typedef struct doctor {
	FILE *out;
	int fails, warns;
} doctor;

static void say(doctor *d, const char *level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(d->out, "%-5s ", level);
	vfprintf(d->out, fmt, ap);
	fputc('\n', d->out);
	va_end(ap);
	if (strcmp(level, "FAIL") == 0)
		d->fails++;
	else if (strcmp(level, "warn") == 0)
		d->warns++;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Directories under root (root included), counting stops at cap. */
static long count_dirs(const char *root, long cap)
{
	long n = 1;
	DIR *dir = opendir(root);
	if (!dir)
		return n;
	struct dirent *de;
	while ((de = readdir(dir)) && n < cap) {
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char sub[PATH_MAX];
		if (snprintf(sub, sizeof sub, "%s/%s", root, de->d_name) >= (int)sizeof sub)
			continue;
		n += count_dirs(sub, cap - n);
	}
	closedir(dir);
	return n;
}

/* inotify instances held by processes of uid (each inotify_init1 is one;
 * the limit fs.inotify.max_user_instances is per user). Only the processes
 * whose /proc/PID/fd this process may read are counted. */
static long inotify_instances(uid_t uid)
{
	DIR *proc = opendir("/proc");
	long n = 0;
	struct dirent *de;
	while (proc && (de = readdir(proc))) {
		char path[PATH_MAX], link[64];
		struct stat st;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s", de->d_name);
		if (stat(path, &st) < 0 || st.st_uid != uid)
			continue;
		snprintf(path, sizeof path, "/proc/%s/fd", de->d_name);
		DIR *fds = opendir(path);
		struct dirent *fe;
		while (fds && (fe = readdir(fds))) {
			ssize_t l = readlinkat(dirfd(fds), fe->d_name, link, sizeof link - 1);
			if (l > 0 && (link[l] = '\0', strcmp(link, "anon_inode:inotify") == 0))
				n++;
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
	return n;
}

static void check_watches(doctor *d, const hp_config *cfg)
{
	long dirs = 0;
	for (size_t i = 0; i < cfg->n_watches; i++) {
		const hp_watch_config *w = &cfg->watches[i];
		struct stat st;
		struct statfs fs;
		if (stat(w->path, &st) < 0) {
			say(d, "FAIL", "watch %s: %s: %s -> create it (mkdir -p %s) or fix path =", w->name, w->path,
			    strerror(errno), w->path);
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			say(d, "FAIL", "watch %s: %s is not a directory -> point path = at a folder", w->name, w->path);
			continue;
		}
		if (access(w->path, R_OK | X_OK) < 0) {
			say(d, "FAIL", "watch %s: %s is not readable by uid %d -> chmod/chgrp it, or run as its owner",
			    w->name, w->path, (int)geteuid());
			continue;
		}
		/* The mode hopperd will use for it, and why (as lib/watch.c decides). */
		const char *remote = statfs(w->path, &fs) == 0 ? hp_watch_remote_fs((long)fs.f_type) : NULL;
		char every[32];
		snprintf(every, sizeof every, "%.3g s", (double)w->poll_interval_ms / 1000.0);
		if (w->mode == HP_MODE_POLL)
			say(d, "ok", "watch %s: %s: polled every %s (mode = poll)", w->name, w->path, every);
		else if (remote && w->mode == HP_MODE_INOTIFY)
			say(d, "warn", "watch %s: %s is on %s: inotify misses changes made on other machines -> "
			    "set mode = auto (polls it) or mode = poll", w->name, w->path, remote);
		else if (remote)
			say(d, "ok", "watch %s: %s: polled every %s (on %s, where inotify misses other "
			    "machines' changes; mode = auto)", w->name, w->path, every, remote);
		else
			say(d, "ok", "watch %s: %s: inotify (local file system; mode = %s)", w->name, w->path,
			    w->mode == HP_MODE_INOTIFY ? "inotify" : "auto");
		if (w->mode == HP_MODE_POLL || (remote && w->mode != HP_MODE_INOTIFY))
			continue; /* polled: no inotify watches */
		if (w->recursive)
			dirs += count_dirs(w->path, 10000000 - dirs);
		else
			dirs++;
	}
	long max_watches = read_long("/proc/sys/fs/inotify/max_user_watches");
	long max_inst = read_long("/proc/sys/fs/inotify/max_user_instances");
	if (max_watches > 0 && dirs > max_watches * 9 / 10)
		say(d, "warn", "inotify: %ld folders to watch, limit %ld -> sysctl fs.inotify.max_user_watches=%ld "
		    "(folders past the limit are polled)", dirs, max_watches, dirs * 2);
	else if (max_watches > 0)
		say(d, "ok", "inotify: %ld folder%s to watch, limit %ld watches", dirs, dirs == 1 ? "" : "s",
		    max_watches);
	/* hopperd needs one instance of its user's (the service's: hopper). */
	struct passwd *pw = getpwnam("hopper");
	uid_t uid = pw && access("/etc/hopper/hopper.conf", F_OK) == 0 ? pw->pw_uid : geteuid();
	long in_use = inotify_instances(uid);
	if (max_inst > 0 && in_use >= max_inst)
		say(d, "FAIL", "inotify: uid %d holds %ld of %ld instances: a new hopperd cannot watch -> "
		    "sysctl fs.inotify.max_user_instances=%ld", (int)uid, in_use, max_inst, max_inst * 2);
	else if (max_inst > 0)
		say(d, "ok", "inotify: uid %d holds %ld of %ld instances (hopperd needs 1)", (int)uid, in_use,
		    max_inst);
	else
		say(d, "FAIL", "inotify: /proc/sys/fs/inotify is missing -> a kernel with CONFIG_INOTIFY_USER");
}

static void check_uring(doctor *d)
{
	hp_reader *r = NULL;
	if (hp_reader_new(4, 4096, 0, &r) < 0) {
		say(d, "FAIL", "reader: cannot set up -> out of memory or file descriptors");
		return;
	}
	if (hp_reader_uring(r)) {
		say(d, "ok", "io_uring: available (files are read with io_uring)");
	} else {
		long off = read_long("/proc/sys/kernel/io_uring_disabled");
		if (off > 0)
			say(d, "warn", "io_uring: disabled by sysctl kernel.io_uring_disabled = %ld -> "
			    "hopperd reads with read(); set it to 0 to use io_uring", off);
		else
			say(d, "warn", "io_uring: not available (old kernel or seccomp) -> hopperd reads with read()");
	}
	hp_reader_free(r);
}

static void check_database(doctor *d, const hp_config *cfg)
{
	char *ci = hp_db_conninfo(cfg);
	char err[512];
	PGconn *c = ci ? hp_db_connect(ci, err, sizeof err) : NULL;
	free(ci);
	if (!c) {
		if (strcmp(cfg->database, "local") == 0)
			say(d, "warn", "database: embedded server not running (%s) -> it starts with hopperd", err);
		else
			say(d, "FAIL", "database: %s -> check [daemon] database and that the server is up", err);
		return;
	}
	PGresult *res = PQexec(c, "SELECT coalesce(max(version), 0) FROM hopper.schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		say(d, "warn", "database: reachable, no hopper schema yet -> hopperd creates it at start");
	} else {
		int have = atoi(PQgetvalue(res, 0, 0));
		int want = hp_n_migrations ? hp_migrations[hp_n_migrations - 1].version : 0;
		if (have > want)
			say(d, "FAIL", "database: schema version %d is newer than this hopper (%d) -> upgrade hopper",
			    have, want);
		else if (have < want)
			say(d, "warn", "database: schema version %d, %d migration%s pending -> applied at hopperd's next start",
			    have, want - have, want - have == 1 ? "" : "s");
		else
			say(d, "ok", "database: reachable (server %d), schema version %d", PQserverVersion(c), have);
	}
	PQclear(res);
	PQfinish(c);
}

static void check_space(doctor *d, const char *what, const char *path)
{
	struct statvfs v;
	char probe[PATH_MAX];
	snprintf(probe, sizeof probe, "%s", path);
	/* A folder not made yet: look at the closest one that exists. */
	while (statvfs(probe, &v) < 0) {
		char *slash = strrchr(probe, '/');
		if (!slash || slash == probe) {
			snprintf(probe, sizeof probe, "/");
			if (statvfs(probe, &v) < 0)
				return;
			break;
		}
		*slash = '\0';
	}
	uint64_t free_b = (uint64_t)v.f_bavail * v.f_frsize;
	const uint64_t low = 1ull << 30;
	if (free_b < low)
		say(d, "warn", "disk: %s %s has %" PRIu64 " MiB free -> free space (below 1 GiB the database may stop)",
		    what, path, free_b >> 20);
	else
		say(d, "ok", "disk: %s %s has %" PRIu64 " MiB free", what, path, free_b >> 20);
}

/* Run `self convert SAMPLE` and look for the sample's heading in its output:
 * the same sandboxed child that hopperd's workers are. */
static void check_sandbox(doctor *d, const char *self)
{
	char dir[] = "/tmp/hopper-doctor.XXXXXX";
	if (!mkdtemp(dir)) {
		say(d, "warn", "sandbox: cannot make a temporary folder: %s", strerror(errno));
		return;
	}
	char sample[PATH_MAX], outp[PATH_MAX];
	snprintf(sample, sizeof sample, "%s/sample.html", dir);
	snprintf(outp, sizeof outp, "%s/out", dir);
	FILE *f = fopen(sample, "we");
	if (f) {
		fputs("<html><body><h1>Doctor sample</h1><p>It converts.</p></body></html>\n", f);
		fclose(f);
	}
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(self, self, "convert", sample, (char *)NULL);
		_exit(127);
	}
	int status = 0;
	if (pid > 0)
		waitpid(pid, &status, 0);
	char got[4096] = "";
	hp_read_small(outp, got, sizeof got);
	if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(got, "# Doctor sample"))
		say(d, "ok", "sandbox: a worker converted a sample HTML file");
	else
		say(d, "FAIL", "sandbox: converting a sample failed: %.200s -> run `hopper convert FILE` to see why",
		    got[0] ? got : "no output");
	unlink(sample);
	unlink(outp);
	rmdir(dir);
}

/* The exposure figure of the installed unit, where systemd-analyze exists. */
static void check_unit(doctor *d)
{
	static const char *const units[] = { "/etc/systemd/system/hopperd.service",
		"/usr/lib/systemd/system/hopperd.service", "/usr/local/lib/systemd/system/hopperd.service",
		"/lib/systemd/system/hopperd.service" };
	const char *unit = NULL;
	for (size_t i = 0; i < sizeof units / sizeof *units && !unit; i++)
		if (access(units[i], R_OK) == 0)
			unit = units[i];
	if (!unit) {
		say(d, "ok", "systemd: hopperd.service not installed (make install puts it in place)");
		return;
	}
	char cmd[PATH_MAX + 128];
	snprintf(cmd, sizeof cmd, "systemd-analyze security --offline=true '%s' 2>/dev/null", unit);
	FILE *p = popen(cmd, "re");
	char line[512];
	double exposure = -1;
	while (p && fgets(line, sizeof line, p)) {
		const char *at = strstr(line, "Overall exposure level");
		if (at && (at = strchr(at, ':')))
			exposure = strtod(at + 1, NULL);
	}
	if (p)
		pclose(p);
	if (exposure < 0)
		say(d, "ok", "systemd: %s installed (systemd-analyze not available to rate it)", unit);
	else if (exposure > 2.0)
		say(d, "warn", "systemd: %s exposure %.1f (above 2.0) -> check drop-ins that loosen it "
		    "(systemctl cat hopperd)", unit, exposure);
	else
		say(d, "ok", "systemd: %s exposure %.1f", unit, exposure);
}

int hp_doctor(const char *cfg_path, const char *self, FILE *out)
{
	doctor d = { .out = out };
	hp_config *cfg = NULL;
	char *errs = NULL;
	size_t errs_len = 0;
	FILE *ef = open_memstream(&errs, &errs_len);
	int r = ef ? hp_config_load(cfg_path, HP_CONFIG_NEED_WATCH, ef, &cfg) : -ENOMEM;
	if (ef)
		fclose(ef);
	const char *shown = cfg_path ? cfg_path : HP_CONFIG_DEFAULT_PATH;
	if (r < 0) {
		say(&d, "FAIL", "config: %s has errors -> fix them, then hopperd --check-config", shown);
		if (errs)
			fputs(errs, out);
	} else {
		say(&d, "ok", "config: %s is valid (%zu watch%s)", shown, cfg->n_watches,
		    cfg->n_watches == 1 ? "" : "es");
	}
	free(errs);
	if (cfg) {
		check_watches(&d, cfg);
		check_space(&d, "state_dir", cfg->state_dir);
		for (size_t i = 0; i < cfg->n_watches; i++)
			if (cfg->watches[i].output_dir)
				check_space(&d, "output_dir", cfg->watches[i].output_dir);
	}
	check_uring(&d);
	if (cfg)
		check_database(&d, cfg);
	check_sandbox(&d, self);
	check_unit(&d);
	fprintf(out, "%d problem%s, %d warning%s\n", d.fails, d.fails == 1 ? "" : "s", d.warns,
	        d.warns == 1 ? "" : "s");
	hp_config_free(cfg);
	return d.fails ? 1 : 0;
}
