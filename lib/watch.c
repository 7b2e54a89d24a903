/* watch.c — inotify watcher and folder scans; see include/hopper/watch.h.
 *
 * One inotify instance for all watches. Watch descriptors are handed out
 * in increasing order by the kernel, so the directory table stays sorted
 * by wd when appended to and is searched by bisection.
 * A new subdirectory is watched first and scanned second: a file created
 * in it between mkdir and inotify_add_watch is found by the scan, one
 * created after is reported by inotify; one in both windows may be
 * reported twice, which the idempotent enqueue absorbs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "hopper/watch.h"

#define DIR_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | \
                  IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define MAX_DEPTH 64

typedef struct wdir {
	int wd;
	size_t watch;  /* index into cfg->watches */
	char *path;
} wdir;

struct hp_watcher {
	hp_evsrc src;  /* first member: the event loop hands us &src */
	const hp_config *cfg;
	int epfd;
	hp_watch_cb cb;
	void *userdata;
	char **roots;   /* realpath of each watch's folder: reported paths hold no links */
	wdir *dirs;
	size_t n_dirs, cap_dirs;
	int reported;  /* files reported by the current scan */
};

bool hp_watch_excluded(const hp_watch_config *w, const char *base)
{
	for (size_t i = 0; i < w->n_exclude; i++)
		if (fnmatch(w->exclude[i], base, FNM_PERIOD) == 0)
			return true;
	return false;
}

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

/* Watch one directory (not its children). 0, or -errno (logged). */
static int dir_watch(hp_watcher *w, size_t watch, const char *path)
{
	int wd = inotify_add_watch(w->src.fd, path, DIR_MASK);
	if (wd < 0) {
		int e = errno;
		if (e == ENOSPC)
			hp_err("%s: cannot watch: the inotify watch limit is reached "
			       "(raise fs.inotify.max_user_watches)", path);
		else if (e != ENOENT && e != ENOTDIR)
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

static void report(hp_watcher *w, size_t watch, const char *path, const char *base)
{
	const hp_watch_config *wc = &w->cfg->watches[watch];
	if (hp_watch_excluded(wc, base))
		return;
	struct stat st;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	w->reported++;
	w->cb(w->userdata, wc, path, &st);
}

/* Watch dir, then report every file in it; recurse into subdirectories
 * when the watch is recursive. Watching an already watched folder again
 * is harmless (inotify_add_watch returns the same wd). */
static void walk(hp_watcher *w, size_t watch, const char *dir, int depth)
{
	const hp_watch_config *wc = &w->cfg->watches[watch];
	if (dir_watch(w, watch, dir) < 0)
		return;
	DIR *dp = opendir(dir);
	if (!dp) {
		if (errno != ENOENT)
			hp_warn("%s: cannot list: %m", dir);
		return;
	}
	struct dirent *de;
	while ((de = readdir(dp))) {
		const char *n = de->d_name;
		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", dir, n) >= (int)sizeof path) {
			hp_warn("%s/%s: path too long, skipped", dir, n);
			continue;
		}
		unsigned char type = de->d_type;
		if (type == DT_UNKNOWN) {
			struct stat st;
			if (lstat(path, &st) < 0)
				continue;
			type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
		}
		if (type == DT_DIR) {
			if (!wc->recursive || hp_watch_excluded(wc, n))
				continue;
			if (depth >= MAX_DEPTH) {
				hp_warn("%s: deeper than %d levels, not watched", path, MAX_DEPTH);
				continue;
			}
			walk(w, watch, path, depth + 1);
		} else if (type == DT_REG) {
			report(w, watch, path, n);
		}
	}
	closedir(dp);
}

int hp_watcher_scan(hp_watcher *w)
{
	w->reported = 0;
	for (size_t i = 0; i < w->cfg->n_watches; i++)
		walk(w, i, w->roots[i], 0);
	return w->reported;
}

int hp_watcher_count(const hp_watcher *w)
{
	return (int)w->n_dirs;
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
	const hp_watch_config *wc = &w->cfg->watches[d->watch];
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", d->path, ev->name) >= (int)sizeof path)
		return;
	if (ev->mask & IN_ISDIR) {
		if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && wc->recursive && !hp_watch_excluded(wc, ev->name)) {
			/* d may move when the table grows: copy what we need first. */
			size_t watch = d->watch;
			walk(w, watch, path, 1);
		}
		return;
	}
	if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
		report(w, d->watch, path, ev->name);
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
	w->src.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->src.fd < 0) {
		r = -errno;
		hp_err("cannot start inotify: %m");
		goto fail;
	}
	w->roots = calloc(cfg->n_watches + 1, sizeof *w->roots);
	if (!w->roots) {
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
		r = dir_watch(w, i, w->roots[i]);
		if (r < 0) {
			hp_err("[watch %s] %s: cannot watch the folder", wc->name, wc->path);
			goto fail;
		}
	}
	/* Subdirectories are armed by hp_watcher_scan(), which the caller runs
	 * next: each is watched before it is listed. */
	r = epfd >= 0 ? hp_evsrc_add(epfd, &w->src, EPOLLIN) : 0;
	if (r < 0)
		goto fail;
	*ret = w;
	return 0;
fail:
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
	for (size_t i = 0; i < w->n_dirs; i++)
		free(w->dirs[i].path);
	free(w->dirs);
	hp_strv_free(w->roots);
	free(w);
}
