/* dispose.c — on_success / on_failure after a job is finished; see
 * include/hopper/dispose.h.
 *
 * The source is opened as "its folder below the watch root" with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) and handled by name in
 * that folder, so a folder swapped for a link after the job was queued
 * cannot make us move or delete anything outside the watch. Destination
 * folders are the administrator's (move:DIR) and are used as they are.
 * Never overwriting: renameat2(RENAME_NOREPLACE), or link(2) (which fails
 * with EEXIST) where a filesystem refuses that flag or the move crosses
 * filesystems.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hopper/common.h"
#include "hopper/db.h"
#include "hopper/dispose.h"
#include "hopper/queue.h"

#define MAX_SUFFIX 10000

static hp_on_action action_of(const hp_watch_config *w, hp_dispose_kind kind, const char **ret_dir)
{
	*ret_dir = kind == HP_DISPOSE_SUCCESS ? w->on_success_dir : w->on_failure_dir;
	return kind == HP_DISPOSE_SUCCESS ? w->on_success : w->on_failure;
}

static const char *key_of(hp_dispose_kind kind)
{
	return kind == HP_DISPOSE_SUCCESS ? "on_success" : "on_failure";
}

/* Open the folder `rel` (relative, may be "") below rootfd, following no
 * link. O_PATH: we only name entries in it. */
static int open_beneath(int rootfd, const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof how);
	if (fd < 0 && errno == ENOSYS) /* kernel before 5.6: no link check below the root */
		fd = openat(rootfd, *rel ? rel : ".", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

/* mkdir -p for the folder that will hold `file` (its last component is
 * the file). */
static int make_parents(const char *file)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", file) >= (int)sizeof buf)
		return -ENAMETOOLONG;
	for (char *s = buf + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

/* DIR/rel, or with n > 0 "DIR/rel-without-ext (n).ext". */
static int dest_name(const char *dir, const char *rel, int n, char *out, size_t len)
{
	int w;
	if (n == 0) {
		w = snprintf(out, len, "%s/%s", dir, rel);
	} else {
		const char *base = strrchr(rel, '/');
		base = base ? base + 1 : rel;
		const char *dot = strrchr(base, '.');
		if (!dot || dot == base)
			dot = base + strlen(base);
		w = snprintf(out, len, "%s/%.*s (%d)%s", dir, (int)(dot - rel), rel, n, dot);
	}
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

static int copy_fd(int in, int out)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		break; /* not offered between these filesystems: plain copy */
	}
	char buf[64 * 1024];
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		int r = hp_write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
	}
}

/* Across filesystems: copy to a temporary name in the destination folder,
 * make it durable, link it to the first free name, drop the temporary. */
static int copy_over(int srcdir, const char *base, const struct stat *st, const char *dir,
                     const char *rel, char *dest, size_t dlen)
{
	int r, in = -1, out = -1;
	char tmp[PATH_MAX];
	r = dest_name(dir, rel, 0, dest, dlen);
	if (r < 0)
		return r;
	const char *slash = strrchr(dest, '/');
	if (snprintf(tmp, sizeof tmp, "%.*s/.hopper-move.XXXXXX", (int)(slash - dest), dest) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	in = openat(srcdir, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0) {
		r = -errno;
		goto out;
	}
	r = copy_fd(in, out);
	if (r == 0) {
		struct timespec times[2] = { st->st_atim, st->st_mtim };
		if (fchmod(out, st->st_mode & 07777) < 0 || futimens(out, times) < 0 || fsync(out) < 0)
			r = -errno;
	}
	for (int n = 0; r == 0; n++) {
		if (n >= MAX_SUFFIX) {
			r = -EEXIST;
			break;
		}
		r = dest_name(dir, rel, n, dest, dlen);
		if (r == 0 && link(tmp, dest) < 0)
			r = errno == EEXIST ? 1 : -errno;
		if (r == 1)
			r = 0;
		else
			break;
	}
	unlink(tmp);
	if (r == 0 && unlinkat(srcdir, base, 0) < 0 && errno != ENOENT)
		hp_warn("%s: copied to %s, but cannot remove it from the watched folder: %m", rel, dest);
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return r;
}

/* Move base (in srcdir) to dir/rel, never overwriting. */
static int move_to(int srcdir, const char *base, const struct stat *st, const char *dir, const char *rel,
                   char *dest, size_t dlen)
{
	int r;
	char first[PATH_MAX];
	r = dest_name(dir, rel, 0, first, sizeof first);
	if (r == 0)
		r = make_parents(first);
	if (r < 0)
		return r;
	bool plain_link = false;
	for (int n = 0; n < MAX_SUFFIX; n++) {
		r = dest_name(dir, rel, n, dest, dlen);
		if (r < 0)
			return r;
		if (!plain_link) {
			if (syscall(SYS_renameat2, srcdir, base, AT_FDCWD, dest, RENAME_NOREPLACE) == 0)
				return 0;
			if (errno == EEXIST)
				continue;
			if (errno != EINVAL && errno != ENOSYS)
				break;
			plain_link = true; /* this filesystem refuses the flag */
		}
		if (linkat(srcdir, base, AT_FDCWD, dest, 0) == 0) {
			if (unlinkat(srcdir, base, 0) < 0 && errno != ENOENT)
				return -errno;
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	if (errno == EXDEV || errno == EPERM || errno == EMLINK)
		return copy_over(srcdir, base, st, dir, rel, dest, dlen);
	return errno == EEXIST ? -EEXIST : -errno;
}

int hp_dispose_file(const hp_watch_config *w, const char *path, hp_dispose_kind kind,
                    const hp_file_version *v, char **ret_dest)
{
	const char *dir;
	hp_on_action a = action_of(w, kind, &dir);
	if (a == HP_ON_KEEP)
		return 0;
	int r, rootfd = -1, srcdir = -1;
	char *root = realpath(w->path, NULL);
	if (!root)
		return -errno;
	/* For people: the name with bytes that are not UTF-8 written \xNN. */
	char *shown = hp_path_text(path);
	const char *name = shown ? shown : path;
	size_t rl = strlen(root);
	const char *rel = path + rl + 1;
	if (strncmp(path, root, rl) != 0 || path[rl] != '/' || !*rel) {
		hp_err("%s: not below the folder of [watch %s] (%s); left alone", name, w->name, root);
		r = -EPERM;
		goto out;
	}
	char reldir[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	const char *base = slash ? slash + 1 : rel;
	snprintf(reldir, sizeof reldir, "%.*s", slash ? (int)(slash - rel) : 0, rel);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		r = -errno;
		goto out;
	}
	srcdir = open_beneath(rootfd, reldir);
	if (srcdir < 0) {
		r = srcdir == -ENOTDIR ? -ENOENT : srcdir;
		goto out;
	}
	struct stat st;
	if (fstatat(srcdir, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != v->size || st.st_ino != v->ino ||
	    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != v->mtime_ns) {
		r = -ESTALE;
		goto out;
	}
	if (a == HP_ON_DELETE) {
		r = unlinkat(srcdir, base, 0) < 0 ? -errno : 1;
		if (r == 1)
			hp_info("%s: deleted (%s = delete)", name, key_of(kind));
		goto out;
	}
	char dest[PATH_MAX];
	r = move_to(srcdir, base, &st, dir, rel, dest, sizeof dest);
	if (r == 0) {
		hp_info("%s: moved to %s (%s)", name, dest, key_of(kind));
		if (ret_dest)
			*ret_dest = strdup(dest);
		r = 1;
	}
out:
	if (r < 0 && r != -ENOENT && r != -ESTALE && r != -EPERM)
		hp_err("%s: cannot %s it (%s): %s; it stays where it is and is tried again at the next start or reload",
		       name, a == HP_ON_DELETE ? "delete" : "move", key_of(kind), strerror(-r));
	if (srcdir >= 0)
		close(srcdir);
	if (rootfd >= 0)
		close(rootfd);
	free(root);
	free(shown);
	return r;
}

/* ---- database ------------------------------------------------------------- */

static bool any_action(const hp_config *cfg, hp_dispose_kind kind)
{
	for (size_t i = 0; i < cfg->n_watches; i++) {
		const char *dir;
		if (action_of(&cfg->watches[i], kind, &dir) != HP_ON_KEEP)
			return true;
	}
	return false;
}

static const hp_watch_config *watch_named(const hp_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_watches; i++)
		if (strcmp(cfg->watches[i].name, name) == 0)
			return &cfg->watches[i];
	return NULL;
}

static PGresult *query(PGconn *conn, const char *what, const char *sql, int n, const char *const *params,
                       ExecStatusType want)
{
	PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != want) {
		char msg[512];
		hp_db_message(conn, res, msg, sizeof msg);
		hp_err("%s: %s", what, msg);
		PQclear(res);
		return NULL;
	}
	return res;
}

static void mark(PGconn *conn, const char *id)
{
	const char *p[] = { id };
	PGresult *res = query(conn, "marking a job's file disposed of",
	                      "UPDATE hopper.jobs SET disposed_at = now() WHERE id = $1", 1, p,
	                      PGRES_COMMAND_OK);
	PQclear(res);
}

/* The exact name of a row's file: the watch's root joined to rel_path, the
 * name's bytes (the text `path` has bytes that are not UTF-8 escaped, so a
 * name that is not UTF-8 would never be found by it). A row of an older
 * hopperd without rel_path: its text path. NULL on failure (errno). */
static char *exact_path(const hp_watch_config *w, PGresult *res, int row)
{
	if (PQgetisnull(res, row, 6))
		return strdup(PQgetvalue(res, row, 1));
	size_t len = 0;
	unsigned char *rel = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, 6), &len);
	if (!rel) {
		errno = ENOMEM;
		return NULL;
	}
	char *root = realpath(w->path, NULL), *out = NULL;
	if (root && (len == 0 || memchr(rel, '\0', len)))
		errno = EINVAL; /* not a name the scan could have found */
	else if (root && asprintf(&out, "%s/%.*s", root, (int)len, (const char *)rel) < 0)
		out = NULL;
	PQfreemem(rel);
	free(root);
	return out;
}

/* One row: id, path, size, mtime_ns, ino, watch, rel_path. */
static int dispose_row(PGconn *conn, const hp_watch_config *w, PGresult *res, int row, hp_dispose_kind kind)
{
	const char *id = PQgetvalue(res, row, 0), *text = PQgetvalue(res, row, 1);
	hp_file_version v = {
		.size = strtoll(PQgetvalue(res, row, 2), NULL, 10),
		.mtime_ns = strtoll(PQgetvalue(res, row, 3), NULL, 10),
		.ino = strtoull(PQgetvalue(res, row, 4), NULL, 10),
	};
	const char *fault = getenv("HOPPER_FAULT_KILL_BEFORE_DISPOSE");
	if (fault && *fault && strstr(text, fault))
		raise(SIGKILL);
	char *path = exact_path(w, res, row);
	if (!path) {
		int e = errno ? errno : EIO;
		hp_err("%s: cannot name its file below [watch %s]: %s; it is tried again at the next start or reload",
		       text, w->name, strerror(e));
		return -e;
	}
	int r = hp_dispose_file(w, path, kind, &v, NULL);
	free(path);
	if (r == -ESTALE)
		hp_debug("%s: changed since job %s; this version is gone, the file is left for its own job", text, id);
	if (r >= 0 || r == -ENOENT || r == -ESTALE || r == -EPERM)
		mark(conn, id);
	return r;
}

/* The queue commits with synchronous_commit = off: a server crash could
 * forget a `done` after its file was moved away. One synchronous commit of
 * a transaction that wrote WAL flushes everything committed before it, so
 * the file is touched only once the result it leaves behind is on disk.
 * The transaction must write WAL itself: PostgreSQL waits for the flush
 * only then (txid_current() alone writes none, so such a commit was
 * asynchronous too). A transactional logical message writes one record,
 * needs no table and no privilege, and works at wal_level replica. */
static int durable(PGconn *conn)
{
	PGresult *res = PQexec(conn, "BEGIN; SET LOCAL synchronous_commit = on;"
	                             " SELECT pg_logical_emit_message(true, 'hopper', 'durable'); COMMIT");
	int r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -EIO;
	if (r < 0)
		hp_warn("before moving a finished file: the database did not confirm its result is on disk: %s",
		        PQerrorMessage(conn));
	PQclear(res);
	return r;
}

void hp_dispose_job(PGconn *conn, const hp_config *cfg, int64_t job_id, hp_dispose_kind kind)
{
	if (!any_action(cfg, kind))
		return;
	char id[32];
	snprintf(id, sizeof id, "%lld", (long long)job_id);
	const char *p[] = { id };
	PGresult *res = query(conn, "looking up a finished job's file",
	                      "SELECT id, path, size, mtime_ns, ino, watch, rel_path FROM hopper.jobs"
	                      " WHERE id = $1 AND disposed_at IS NULL AND state IN ('done', 'failed')",
	                      1, p, PGRES_TUPLES_OK);
	if (!res)
		return;
	if (PQntuples(res) == 1) {
		const hp_watch_config *w = watch_named(cfg, PQgetvalue(res, 0, 5));
		const char *dir;
		if (w && action_of(w, kind, &dir) != HP_ON_KEEP && durable(conn) == 0)
			dispose_row(conn, w, res, 0, kind);
	}
	PQclear(res);
}

int hp_dispose_pending(PGconn *conn, const hp_config *cfg)
{
	int done = 0;
	bool flushed = false;
	for (size_t i = 0; i < cfg->n_watches; i++) {
		const hp_watch_config *w = &cfg->watches[i];
		for (int k = 0; k < 2; k++) {
			hp_dispose_kind kind = k ? HP_DISPOSE_FAILURE : HP_DISPOSE_SUCCESS;
			const char *dir;
			if (action_of(w, kind, &dir) == HP_ON_KEEP)
				continue;
			const char *p[] = { w->name, kind == HP_DISPOSE_SUCCESS ? "done" : "failed" };
			PGresult *res = query(conn, "looking for files a crash left to move or delete",
			                      "SELECT id, path, size, mtime_ns, ino, watch, rel_path FROM hopper.jobs"
			                      " WHERE watch = $1 AND state = $2 AND disposed_at IS NULL ORDER BY id",
			                      2, p, PGRES_TUPLES_OK);
			if (!res)
				return -EIO;
			/* At a reload, rows may be just committed, without their WAL
			 * flush (see durable). */
			if (PQntuples(res) > 0 && !flushed) {
				if (durable(conn) < 0) {
					PQclear(res);
					return -EIO;
				}
				flushed = true;
			}
			for (int row = 0; row < PQntuples(res); row++)
				if (dispose_row(conn, w, res, row, kind) > 0)
					done++;
			PQclear(res);
		}
	}
	if (done)
		hp_notice("moved or deleted %d finished file(s) left in place by a stop or an unconfirmed commit", done);
	return done;
}
