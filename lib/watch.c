/* watch.c — inotify watcher, settle timers and polling; see include/hopper/watch.h.
 *
 * One inotify instance for all watches. Watch descriptors are handed out
 * in increasing order by the kernel, so the directory table stays sorted
 * by wd when appended to and is searched by bisection.
 * A new subdirectory is watched first and scanned second: a file created
 * in it between mkdir and inotify_add_watch is found by the scan, one
 * created after is reported by inotify; one in both windows may be
 * reported twice, which the idempotent enqueue absorbs.
 *
 * Files that are not known to be complete (created, modified, linked, or
 * seen by a poll, but not closed or renamed into place) wait in `cands`,
 * a hash table keyed by path, with the size, mtime and inode last seen and
 * the time of the next look. One timerfd is armed for the earliest of
 * those and of the polled folders' next walks. A candidate whose stat is
 * unchanged at its next look is reported (Fluent Bit's in_tail and
 * Paperless-ngx's consumer both wait for a quiet file the same way).
 * Polled folders keep what they saw in `seen` (path -> size, mtime, inode)
 * so that a walk reports only what is new or changed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hopper/watch.h"

#define DIR_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_MODIFY | \
                  IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define MAX_DEPTH 64
/* Candidates due this close together are looked at in one timer wake-up. */
#define SLACK_MS 20

typedef struct wdir {
	int wd;
	size_t watch;  /* index into cfg->watches */
	char *path;
} wdir;

/* A file waiting to settle (cands) or one a polled folder holds (seen). */
typedef struct fent {
	struct fent *next;
	char *path;
	size_t watch;
	int64_t size, mtime_ns;  /* size -1: not a regular file (seen only) */
	uint64_t ino;
	uint64_t due;            /* cands: monotonic ms of the next look */
	uint32_t gen;            /* seen: the walk that last saw it */
} fent;

typedef struct ftab {
	fent **b;
	size_t nb, n;
} ftab;

/* A folder walked every poll_interval instead of watched (with everything
 * below it). */
typedef struct proot {
	size_t watch;
	char *path;
	uint64_t due;
} proot;

struct hp_watcher {
	hp_evsrc src;   /* inotify; first member: the event loop hands us &src */
	hp_evsrc tsrc;  /* timerfd */
	const hp_config *cfg;
	int epfd;
	hp_watch_cb cb;
	void *userdata;
	char **roots;   /* realpath of each watch's folder: reported paths hold no links */
	bool *whole_polled; /* per watch: polled instead of watched */
	wdir *dirs;
	size_t n_dirs, cap_dirs;
	proot *proots;
	size_t n_proots, cap_proots;
	ftab cands, seen;
	uint32_t gen;
	uint64_t armed;     /* deadline the timerfd is set to; 0 = disarmed */
	size_t max_dirs;    /* HOPPER_TEST_MAX_WATCHES; 0 = the kernel's limit */
	bool limit_logged;
	int reported;  /* files reported by the current scan */
};

bool hp_watch_excluded(const hp_watch_config *w, const char *base)
{
	for (size_t i = 0; i < w->n_exclude; i++)
		if (fnmatch(w->exclude[i], base, FNM_PERIOD) == 0)
			return true;
	return false;
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static const char *kind_name(mode_t m)
{
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

static void log_skipped(const char *path, mode_t m)
{
	hp_info("%s: %s, skipped (hopper takes regular files only)", path, kind_name(m));
}

/* ---- file tables ------------------------------------------------------------ */

static size_t hash_path(const char *s)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static fent **ftab_slot(ftab *t, const char *path)
{
	if (!t->nb)
		return NULL;
	fent **pp = &t->b[hash_path(path) & (t->nb - 1)];
	while (*pp && strcmp((*pp)->path, path) != 0)
		pp = &(*pp)->next;
	return pp;
}

static fent *ftab_find(ftab *t, const char *path)
{
	fent **pp = ftab_slot(t, path);
	return pp ? *pp : NULL;
}

static int ftab_grow(ftab *t)
{
	size_t nb = t->nb ? t->nb * 2 : 64;
	fent **b = calloc(nb, sizeof *b);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->nb; i++)
		for (fent *e = t->b[i], *next; e; e = next) {
			next = e->next;
			size_t h = hash_path(e->path) & (nb - 1);
			e->next = b[h];
			b[h] = e;
		}
	free(t->b);
	t->b = b;
	t->nb = nb;
	return 0;
}

/* The entry for path, added (zeroed but for path and watch) when missing. */
static fent *ftab_get(ftab *t, const char *path, size_t watch, bool *ret_new)
{
	fent *e = ftab_find(t, path);
	*ret_new = false;
	if (e)
		return e;
	if (t->n >= t->nb && ftab_grow(t) < 0)
		return NULL;
	e = calloc(1, sizeof *e);
	if (!e || !(e->path = strdup(path))) {
		free(e);
		return NULL;
	}
	e->watch = watch;
	fent **slot = &t->b[hash_path(path) & (t->nb - 1)];
	e->next = *slot;
	*slot = e;
	t->n++;
	*ret_new = true;
	return e;
}

static void ftab_unlink(ftab *t, fent **pp)
{
	fent *e = *pp;
	*pp = e->next;
	free(e->path);
	free(e);
	t->n--;
}

static void ftab_del(ftab *t, const char *path)
{
	fent **pp = ftab_slot(t, path);
	if (pp && *pp)
		ftab_unlink(t, pp);
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Drop entries below dir; with gen != 0, only those not seen by walk gen. */
static void ftab_del_under(ftab *t, const char *dir, uint32_t gen)
{
	for (size_t i = 0; i < t->nb; i++)
		for (fent **pp = &t->b[i]; *pp;) {
			if (under((*pp)->path, dir) && (gen == 0 || (*pp)->gen != gen))
				ftab_unlink(t, pp);
			else
				pp = &(*pp)->next;
		}
}

static void ftab_free(ftab *t)
{
	for (size_t i = 0; i < t->nb; i++)
		while (t->b[i])
			ftab_unlink(t, &t->b[i]);
	free(t->b);
	*t = (ftab){ 0 };
}

/* ---- timer ------------------------------------------------------------------ */

static void timer_set(hp_watcher *w, uint64_t due)
{
	struct itimerspec its = { 0 };
	if (due) {
		its.it_value.tv_sec = (time_t)(due / 1000);
		its.it_value.tv_nsec = (long)(due % 1000) * 1000000;
	}
	if (timerfd_settime(w->tsrc.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		hp_err("cannot arm the settle timer: %m");
	w->armed = due;
}

/* Arm for `due` unless the timer already fires earlier. */
static void timer_want(hp_watcher *w, uint64_t due)
{
	if (!w->armed || due < w->armed)
		timer_set(w, due ? due : 1);
}

/* ---- directories -------------------------------------------------------------- */

static wdir *dir_find(hp_watcher *w, int wd)
{
	size_t lo = 0, hi = w->n_dirs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->dirs[mid].wd == wd)
			return &w->dirs[mid];
		if (w->dirs[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void dir_remove(hp_watcher *w, wdir *d)
{
	free(d->path);
	size_t i = (size_t)(d - w->dirs);
	memmove(d, d + 1, (w->n_dirs - i - 1) * sizeof *d);
	w->n_dirs--;
}

static proot *proot_find(hp_watcher *w, const char *path)
{
	for (size_t i = 0; i < w->n_proots; i++)
		if (strcmp(w->proots[i].path, path) == 0)
			return &w->proots[i];
	return NULL;
}

static int proot_add(hp_watcher *w, size_t watch, const char *path)
{
	if (proot_find(w, path))
		return 0;
	if (w->n_proots == w->cap_proots) {
		size_t cap = w->cap_proots ? w->cap_proots * 2 : 4;
		proot *np = realloc(w->proots, cap * sizeof *np);
		if (!np)
			return -ENOMEM;
		w->proots = np;
		w->cap_proots = cap;
	}
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	uint64_t due = hp_now_ms() + w->cfg->watches[watch].poll_interval_ms;
	w->proots[w->n_proots++] = (proot){ .watch = watch, .path = p, .due = due };
	timer_want(w, due);
	return 0;
}

static long read_sysctl(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* The watch limit is reached at `path`: poll it (and what is below). */
static void fall_back_to_polling(hp_watcher *w, size_t watch, const char *path)
{
	char every[32];
	snprintf(every, sizeof every, "%.3g s", (double)w->cfg->watches[watch].poll_interval_ms / 1000.0);
	if (!w->limit_logged) {
		long lim = read_sysctl("/proc/sys/fs/inotify/max_user_watches");
		w->limit_logged = true;
		hp_warn("%s: the inotify watch limit is reached (fs.inotify.max_user_watches = %ld); "
		        "this folder and the ones below it are polled every %s instead, and so is every "
		        "other folder that cannot be watched. To watch them all, raise the limit: "
		        "sysctl -w fs.inotify.max_user_watches=%ld (and in /etc/sysctl.d/ to keep it)",
		        path, lim, every, lim > 0 ? lim * 4 : 524288L);
	} else {
		hp_debug("%s: watch limit reached, polled every %s", path, every);
	}
	if (proot_add(w, watch, path) < 0)
		hp_err("%s: out of memory: the folder is neither watched nor polled", path);
}

/* Watch one directory (not its children). 0, or -errno (logged, except
 * -ENOSPC: the watch limit, which the caller handles). */
static int dir_watch(hp_watcher *w, size_t watch, const char *path)
{
	if (w->max_dirs && w->n_dirs >= w->max_dirs) { /* test hook: new folders only */
		bool known = false;
		for (size_t i = 0; i < w->n_dirs && !known; i++)
			known = strcmp(w->dirs[i].path, path) == 0;
		if (!known)
			return -ENOSPC;
	}
	int wd = inotify_add_watch(w->src.fd, path, DIR_MASK);
	if (wd < 0) {
		int e = errno;
		if (e != ENOENT && e != ENOTDIR && e != ENOSPC)
			hp_err("%s: cannot watch: %s", path, strerror(e));
		return -e;
	}
	wdir *d = dir_find(w, wd);
	if (d) { /* same directory again (rescan): keep the newest path */
		char *p = strdup(path);
		if (!p)
			return -ENOMEM;
		free(d->path);
		d->path = p;
		d->watch = watch;
		return 0;
	}
	if (w->n_dirs == w->cap_dirs) {
		size_t cap = w->cap_dirs ? w->cap_dirs * 2 : 16;
		wdir *nd = realloc(w->dirs, cap * sizeof *nd);
		if (!nd)
			return -ENOMEM;
		w->dirs = nd;
		w->cap_dirs = cap;
	}
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	/* wds grow, but a reused one can be smaller than the last: keep order. */
	size_t i = w->n_dirs;
	while (i > 0 && w->dirs[i - 1].wd > wd)
		i--;
	memmove(&w->dirs[i + 1], &w->dirs[i], (w->n_dirs - i) * sizeof *w->dirs);
	w->dirs[i] = (wdir){ .wd = wd, .watch = watch, .path = p };
	w->n_dirs++;
	return 0;
}

/* A directory was removed or renamed away: drop its watches, and those of
 * every folder below it, its polled folders and its files' timers. */
static void forget_tree(hp_watcher *w, const char *path)
{
	size_t o = 0;
	for (size_t i = 0; i < w->n_dirs; i++) {
		if (under(w->dirs[i].path, path)) {
			inotify_rm_watch(w->src.fd, w->dirs[i].wd);
			free(w->dirs[i].path);
		} else {
			w->dirs[o++] = w->dirs[i];
		}
	}
	w->n_dirs = o;
	o = 0;
	for (size_t i = 0; i < w->n_proots; i++) {
		if (under(w->proots[i].path, path))
			free(w->proots[i].path);
		else
			w->proots[o++] = w->proots[i];
	}
	w->n_proots = o;
	ftab_del_under(&w->cands, path, 0);
	ftab_del_under(&w->seen, path, 0);
}

/* ---- files ---------------------------------------------------------------------- */

static void report(hp_watcher *w, size_t watch, const char *path, const struct stat *st)
{
	w->reported++;
	w->cb(w->userdata, &w->cfg->watches[watch], path, st);
}

/* Not known to be complete: look again after `settle`. */
static void settle(hp_watcher *w, size_t watch, const char *path, const struct stat *st)
{
	bool fresh;
	fent *c = ftab_get(&w->cands, path, watch, &fresh);
	if (!c) {
		hp_err("%s: out of memory: the file is found again at the next start", path);
		return;
	}
	c->size = st->st_size;
	c->mtime_ns = mtime_ns(st);
	c->ino = st->st_ino;
	c->due = hp_now_ms() + w->cfg->watches[watch].settle_ms;
	timer_want(w, c->due);
}

/* A regular file found by a scan: report it, unless it was modified so
 * recently that its writer may still be at it. */
static void found(hp_watcher *w, size_t watch, const char *path, const struct stat *st)
{
	uint64_t settle_ms = w->cfg->watches[watch].settle_ms;
	if (settle_ms) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		int64_t age_ms = ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec - mtime_ns(st)) / 1000000;
		if (age_ms < (int64_t)settle_ms) {
			settle(w, watch, path, st);
			return;
		}
	}
	ftab_del(&w->cands, path);
	report(w, watch, path, st);
}

/* A polled folder holds this entry: report what is new or changed once it
 * settles, and say once that a non-regular file is skipped. */
static void poll_entry(hp_watcher *w, size_t watch, const char *path, const struct stat *st, bool scan)
{
	bool fresh;
	fent *e = ftab_get(&w->seen, path, watch, &fresh);
	if (!e)
		return;
	e->gen = w->gen;
	bool reg = S_ISREG(st->st_mode);
	int64_t size = reg ? st->st_size : -1;
	if (!fresh && e->size == size && e->mtime_ns == mtime_ns(st) && e->ino == st->st_ino)
		return;
	e->size = size;
	e->mtime_ns = mtime_ns(st);
	e->ino = st->st_ino;
	if (!reg) {
		log_skipped(path, st->st_mode);
		return;
	}
	if (scan)
		found(w, watch, path, st);
	else if (w->cfg->watches[watch].settle_ms)
		settle(w, watch, path, st);
	else
		report(w, watch, path, st);
}

/* Watch dir (unless it is polled), then go through every entry in it;
 * recurse into subdirectories when the watch is recursive. Watching an
 * already watched folder again is harmless (inotify_add_watch returns the
 * same wd). `scan`: report files (start-up, rescan, new folder); else this
 * is a poll, which reports only what changed. */
static void walk(hp_watcher *w, size_t watch, const char *dir, int depth, bool polled, bool scan)
{
	const hp_watch_config *wc = &w->cfg->watches[watch];
	if (!polled && proot_find(w, dir))
		polled = true;
	if (!polled) {
		int r = dir_watch(w, watch, dir);
		if (r == -ENOSPC) {
			fall_back_to_polling(w, watch, dir);
			polled = true;
		} else if (r < 0) {
			return;
		}
	}
	DIR *dp = opendir(dir);
	if (!dp) {
		if (errno != ENOENT)
			hp_warn("%s: cannot list: %m", dir);
		return;
	}
	int dfd = dirfd(dp);
	struct dirent *de;
	while ((de = readdir(dp))) {
		const char *n = de->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		if (hp_watch_excluded(wc, n))
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", dir, n) >= (int)sizeof path) {
			hp_warn("%s/%s: path too long, skipped", dir, n);
			continue;
		}
		if (de->d_type == DT_DIR) {
			if (!wc->recursive)
				continue;
			if (depth >= MAX_DEPTH) {
				hp_warn("%s: deeper than %d levels, not watched", path, MAX_DEPTH);
				continue;
			}
			walk(w, watch, path, depth + 1, polled, scan);
			continue;
		}
		/* stat only: contents are the reader's business. */
		struct stat st;
		if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) { /* d_type was DT_UNKNOWN */
			if (wc->recursive && depth < MAX_DEPTH)
				walk(w, watch, path, depth + 1, polled, scan);
			continue;
		}
		if (polled)
			poll_entry(w, watch, path, &st, scan);
		else if (!S_ISREG(st.st_mode))
			log_skipped(path, st.st_mode);
		else
			found(w, watch, path, &st);
	}
	closedir(dp);
}

int hp_watcher_scan(hp_watcher *w)
{
	w->reported = 0;
	w->gen++;
	for (size_t i = 0; i < w->cfg->n_watches; i++)
		walk(w, i, w->roots[i], 0, w->whole_polled[i], true);
	return w->reported;
}

int hp_watcher_count(const hp_watcher *w)
{
	return (int)w->n_dirs;
}

int hp_watcher_polled(const hp_watcher *w)
{
	return (int)w->n_proots;
}

int hp_watcher_settling(const hp_watcher *w)
{
	return (int)w->cands.n;
}

bool hp_watcher_is_polled(const hp_watcher *w, size_t i)
{
	return i < w->cfg->n_watches && w->whole_polled[i];
}

/* ---- timer events -------------------------------------------------------------- */

static void look_again(hp_watcher *w, uint64_t now)
{
	for (size_t i = 0; i < w->cands.nb; i++)
		for (fent **pp = &w->cands.b[i]; *pp;) {
			fent *c = *pp;
			if (c->due > now + SLACK_MS) {
				pp = &c->next;
				continue;
			}
			struct stat st;
			if (lstat(c->path, &st) < 0 || !S_ISREG(st.st_mode)) {
				ftab_unlink(&w->cands, pp); /* gone: its deletion event follows */
				continue;
			}
			if (st.st_size == c->size && mtime_ns(&st) == c->mtime_ns && st.st_ino == c->ino) {
				/* Quiet for `settle`: complete as far as anyone can tell.
				 * Copy what the callback needs: it may not touch cands,
				 * but keep the entry's memory out of its reach anyway. */
				size_t watch = c->watch;
				char *path = c->path;
				*pp = c->next;
				w->cands.n--;
				free(c);
				report(w, watch, path, &st);
				free(path);
				continue;
			}
			c->size = st.st_size;
			c->mtime_ns = mtime_ns(&st);
			c->ino = st.st_ino;
			c->due = now + w->cfg->watches[c->watch].settle_ms;
			pp = &c->next;
		}
}

static void poll_due(hp_watcher *w, uint64_t now)
{
	/* Walking may add or drop polled folders: go by index, re-checking. */
	for (size_t i = 0; i < w->n_proots; i++) {
		if (w->proots[i].due > now + SLACK_MS)
			continue;
		size_t watch = w->proots[i].watch;
		char *path = strdup(w->proots[i].path);
		if (!path)
			return;
		w->proots[i].due = now + w->cfg->watches[watch].poll_interval_ms;
		uint32_t gen = ++w->gen;
		walk(w, watch, path, 1, true, false);
		ftab_del_under(&w->seen, path, gen); /* what was not seen is gone */
		free(path);
	}
}

static void rearm(hp_watcher *w)
{
	uint64_t next = 0;
	for (size_t i = 0; i < w->cands.nb; i++)
		for (fent *c = w->cands.b[i]; c; c = c->next)
			if (!next || c->due < next)
				next = c->due;
	for (size_t i = 0; i < w->n_proots; i++)
		if (!next || w->proots[i].due < next)
			next = w->proots[i].due;
	timer_set(w, next);
}

static void on_timer(hp_evsrc *src, uint32_t events)
{
	hp_watcher *w = (hp_watcher *)((char *)src - offsetof(hp_watcher, tsrc));
	uint64_t ticks;
	if (read(w->tsrc.fd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
		hp_err("reading the settle timer: %m");
	w->armed = 0;
	uint64_t now = hp_now_ms();
	look_again(w, now);
	poll_due(w, now);
	rearm(w);
}

/* ---- inotify events ------------------------------------------------------------ */

static void on_dir_event(hp_watcher *w, const wdir *d, const struct inotify_event *ev, const char *path)
{
	const hp_watch_config *wc = &w->cfg->watches[d->watch];
	if (ev->mask & IN_MOVED_FROM) {
		forget_tree(w, path);
	} else if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && wc->recursive &&
	           !hp_watch_excluded(wc, ev->name)) {
		/* d may move when the table grows: copy what we need first. */
		size_t watch = d->watch;
		walk(w, watch, path, 1, false, true);
	}
}

static void on_file_event(hp_watcher *w, size_t watch, const struct inotify_event *ev, const char *path)
{
	const hp_watch_config *wc = &w->cfg->watches[watch];
	if (hp_watch_excluded(wc, ev->name))
		return;
	struct stat st;
	if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
		ftab_del(&w->cands, path);
		if (lstat(path, &st) < 0)
			return;
		if (S_ISREG(st.st_mode))
			report(w, watch, path, &st);
		else if (ev->mask & IN_MOVED_TO)
			log_skipped(path, st.st_mode);
	} else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
		ftab_del(&w->cands, path);
	} else if (ev->mask & IN_CREATE) {
		/* A new name: a file being written (its close follows), a hard
		 * link or an O_TMPFILE linked in (no close event here), a
		 * symlink, a FIFO... */
		if (lstat(path, &st) < 0)
			return;
		if (!S_ISREG(st.st_mode))
			log_skipped(path, st.st_mode);
		else if (wc->settle_ms)
			settle(w, watch, path, &st);
	} else if ((ev->mask & IN_MODIFY) && wc->settle_ms && !ftab_find(&w->cands, path)) {
		/* Written without a create: an existing file rewritten. */
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			settle(w, watch, path, &st);
	}
}

static void on_event(hp_watcher *w, const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		/* inotify(7): events were lost; only a full rescan recovers them. */
		hp_warn("inotify queue overflowed; rescanning every watched folder");
		int n = hp_watcher_scan(w);
		hp_info("rescan found %d file(s)", n);
		return;
	}
	wdir *d = dir_find(w, ev->wd);
	if (!d)
		return;
	if (ev->mask & IN_IGNORED) {
		dir_remove(w, d);
		return;
	}
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		if (strcmp(d->path, w->roots[d->watch]) == 0)
			hp_warn("%s: the watched folder was removed or moved away; "
			        "files dropped there are not seen until it is back and hopperd is reloaded", d->path);
		return;
	}
	if (ev->len == 0)
		return;
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", d->path, ev->name) >= (int)sizeof path)
		return;
	if (ev->mask & IN_ISDIR)
		on_dir_event(w, d, ev, path);
	else
		on_file_event(w, d->watch, ev, path);
}

static void on_readable(hp_evsrc *src, uint32_t events)
{
	hp_watcher *w = (hp_watcher *)src;
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(w->src.fd, buf, sizeof buf);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				hp_err("reading inotify events: %m");
			return;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			on_event(w, ev);
			p += sizeof *ev + ev->len;
		}
	}
}

/* ---- set-up -------------------------------------------------------------------- */

/* Filesystems where inotify sees only this machine's changes, or nothing:
 * network filesystems and FUSE (statfs(2) f_type values, linux/magic.h). */
static const char *remote_fs_name(long type)
{
	switch ((unsigned long)type) {
	case 0x6969: return "NFS";
	case 0x517B: return "SMB";
	case 0xFF534D42: return "CIFS";
	case 0xFE534D42: return "SMB2";
	case 0x65735546: return "FUSE";
	case 0x01021997: return "9P";
	case 0x00C36400: return "Ceph";
	case 0x5346414F: return "AFS";
	case 0x73757245: return "Coda";
	case 0x0BD00BD0: return "Lustre";
	case 0x47504653: return "GPFS";
	case 0x01161970: return "GFS2";
	case 0x7461636F: return "OCFS2";
	default: return NULL;
	}
}

const char *hp_watch_remote_fs(long f_type)
{
	return remote_fs_name(f_type);
}

static void choose_mode(hp_watcher *w, size_t i)
{
	const hp_watch_config *wc = &w->cfg->watches[i];
	char every[32];
	snprintf(every, sizeof every, "%.3g s", (double)wc->poll_interval_ms / 1000.0);
	if (wc->mode == HP_MODE_POLL) {
		w->whole_polled[i] = true;
		hp_info("[watch %s] %s: polled every %s (mode = poll)", wc->name, w->roots[i], every);
		return;
	}
	if (wc->mode != HP_MODE_AUTO)
		return;
	struct statfs sf;
	const char *fs = statfs(w->roots[i], &sf) == 0 ? remote_fs_name((long)sf.f_type) : NULL;
	if (fs) {
		w->whole_polled[i] = true;
		hp_notice("[watch %s] %s is on %s, where inotify does not see changes made by other "
		          "machines: polled every %s instead (mode = auto; mode = inotify overrides)",
		          wc->name, w->roots[i], fs, every);
	}
}

int hp_watcher_new(const hp_config *cfg, int epfd, hp_watch_cb cb, void *userdata, hp_watcher **ret)
{
	int r;
	hp_watcher *w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	w->cfg = cfg;
	w->epfd = epfd;
	w->cb = cb;
	w->userdata = userdata;
	w->src.handler = on_readable;
	w->tsrc.handler = on_timer;
	w->tsrc.fd = -1;
	const char *lim = getenv("HOPPER_TEST_MAX_WATCHES");
	if (lim && *lim)
		w->max_dirs = (size_t)strtoul(lim, NULL, 10);
	w->src.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	w->tsrc.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->src.fd < 0 || w->tsrc.fd < 0) {
		r = -errno;
		hp_err("cannot start inotify: %m");
		goto fail;
	}
	w->roots = calloc(cfg->n_watches + 1, sizeof *w->roots);
	w->whole_polled = calloc(cfg->n_watches + 1, sizeof *w->whole_polled);
	if (!w->roots || !w->whole_polled) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_watches; i++) {
		const hp_watch_config *wc = &cfg->watches[i];
		struct stat st;
		r = stat(wc->path, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
		if (r < 0) {
			hp_err("[watch %s] %s: %s; create the folder or fix 'path'", wc->name, wc->path,
			       strerror(-r));
			goto fail;
		}
		/* Canonical, so the reader can refuse any link in a path it is
		 * given (a folder swapped for a link after it was queued). */
		w->roots[i] = realpath(wc->path, NULL);
		if (!w->roots[i]) {
			r = -errno;
			hp_err("[watch %s] %s: %s", wc->name, wc->path, strerror(-r));
			goto fail;
		}
		choose_mode(w, i);
		if (w->whole_polled[i]) {
			r = proot_add(w, i, w->roots[i]);
		} else {
			r = dir_watch(w, i, w->roots[i]);
			if (r == -ENOSPC) {
				fall_back_to_polling(w, i, w->roots[i]);
				r = 0;
			}
		}
		if (r < 0) {
			hp_err("[watch %s] %s: cannot watch the folder", wc->name, wc->path);
			goto fail;
		}
	}
	/* Subdirectories are armed by hp_watcher_scan(), which the caller runs
	 * next: each is watched before it is listed. */
	if (epfd >= 0) {
		r = hp_evsrc_add(epfd, &w->src, EPOLLIN);
		if (r < 0)
			goto fail;
		r = hp_evsrc_add(epfd, &w->tsrc, EPOLLIN);
		if (r < 0) {
			hp_evsrc_del(epfd, &w->src);
			goto fail;
		}
	}
	*ret = w;
	return 0;
fail:
	w->epfd = -1;
	hp_watcher_free(w);
	return r;
}

void hp_watcher_free(hp_watcher *w)
{
	if (!w)
		return;
	if (w->src.fd >= 0) {
		if (w->epfd >= 0)
			hp_evsrc_del(w->epfd, &w->src);
		close(w->src.fd);
	}
	if (w->tsrc.fd >= 0) {
		if (w->epfd >= 0)
			hp_evsrc_del(w->epfd, &w->tsrc);
		close(w->tsrc.fd);
	}
	for (size_t i = 0; i < w->n_dirs; i++)
		free(w->dirs[i].path);
	free(w->dirs);
	for (size_t i = 0; i < w->n_proots; i++)
		free(w->proots[i].path);
	free(w->proots);
	ftab_free(&w->cands);
	ftab_free(&w->seen);
	hp_strv_free(w->roots);
	free(w->whole_polled);
	free(w);
}
