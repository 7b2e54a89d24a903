/* bench_watch.c — what the watcher itself costs (make bench).
 *
 *   catch-up: 100,000 files already in a watched tree (100 folders), their
 *     mtimes old (so, as after a restart, none waits to settle): time of
 *     hp_watcher_new + hp_watcher_scan, with a callback that keeps each
 *     path as hopperd's does. Baseline: a bare readdir + fstatat walk of
 *     the same tree in the same run (the least any stat-only scan costs).
 *     The comparison with the job table is the queue's enqueue, not here.
 *   burst: a child process writes 10,000 small files into the watched
 *     folder as fast as it can; files/s reported by the watcher, against
 *     the writer's own files/s (baseline).
 *   latency: on an idle watcher, 500 files dropped one at a time (create,
 *     write, close); time from close(2) returning to the watcher's report,
 *     p50 and p99. In one process, so it is the kernel's delivery plus the
 *     watcher's handling; the daemon adds its enqueue.
 * Usage: bench_watch [N_CATCHUP [N_BURST [N_LATENCY]]]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hopper/watch.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct sink {
	char **paths;
	size_t n, cap;
	double last;     /* time of the last report */
} sink;

static void on_file(void *userdata, const hp_watch_config *w, const char *path, const struct stat *st)
{
	sink *s = userdata;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->paths = realloc(s->paths, s->cap * sizeof *s->paths);
	}
	s->paths[s->n++] = strdup(path);
	s->last = now_s();
}

static void sink_clear(sink *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->paths[i]);
	s->n = 0;
}

static void pump(int epfd, int timeout_ms)
{
	struct epoll_event evs[8];
	int n = epoll_wait(epfd, evs, 8, timeout_ms);
	for (int i = 0; i < n; i++) {
		hp_evsrc *src = evs[i].data.ptr;
		src->handler(src, evs[i].events);
	}
}

static size_t bare_walk(const char *dir)
{
	size_t n = 0;
	DIR *dp = opendir(dir);
	if (!dp)
		return 0;
	struct dirent *de;
	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		struct stat st;
		if (fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			n += bare_walk(p);
		else if (S_ISREG(st.st_mode))
			n++;
	}
	closedir(dp);
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	size_t n_catchup = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t n_burst = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
	size_t n_lat = argc > 3 ? strtoul(argv[3], NULL, 10) : 500;
	hp_log_level = HP_LOG_WARNING;

	char dir[] = "/tmp/hopper-bench-watch.XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char tree[128], drop[128];
	snprintf(tree, sizeof tree, "%s/tree", dir);
	snprintf(drop, sizeof drop, "%s/drop", dir);
	mkdir(tree, 0755);
	mkdir(drop, 0755);

	/* ---- catch-up ---- */
	struct timespec old[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };
	size_t per_dir = n_catchup / 100 ? n_catchup / 100 : 1;
	for (size_t i = 0; i < n_catchup; i++) {
		char p[256];
		if (i % per_dir == 0) {
			snprintf(p, sizeof p, "%s/d%03zu", tree, i / per_dir);
			mkdir(p, 0755);
		}
		snprintf(p, sizeof p, "%s/d%03zu/file-%06zu.txt", tree, i / per_dir, i);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, "x\n", 2) != 2) {
			perror(p);
			return 1;
		}
		futimens(fd, old);
		close(fd);
	}
	char *excl[] = { ".*", "*.part", "*.tmp", NULL };
	hp_watch_config wc = { .name = "tree", .path = tree, .recursive = true, .exclude = excl, .n_exclude = 3,
	                       .settle_ms = 2000, .mode = HP_MODE_INOTIFY, .poll_interval_ms = 5000 };
	hp_config cfg = { .watches = &wc, .n_watches = 1 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	sink s = { 0 };

	double best_bare = 1e9, best_scan = 1e9;
	size_t nb = 0;
	for (int round = 0; round < 3; round++) {
		double t0 = now_s();
		nb = bare_walk(tree);
		double t1 = now_s();
		if (t1 - t0 < best_bare)
			best_bare = t1 - t0;
		hp_watcher *w = NULL;
		sink_clear(&s);
		t0 = now_s();
		if (hp_watcher_new(&cfg, epfd, on_file, &s, &w) < 0 || hp_watcher_scan(w) < 0)
			return 1;
		t1 = now_s();
		if (t1 - t0 < best_scan)
			best_scan = t1 - t0;
		hp_watcher_free(w);
	}
	printf("watcher catch-up, %zu files in 100 folders (best of 3, warm cache):\n", s.n);
	printf("  bare readdir+fstatat walk  %8.3f s  (%zu files)\n", best_bare, nb);
	printf("  hp_watcher_new + scan      %8.3f s  = %.2fx the bare walk, %.0f files/s\n", best_scan,
	       best_scan / best_bare, (double)s.n / best_scan);
	sink_clear(&s);

	/* ---- burst ---- */
	wc.path = drop;
	wc.name = "drop";
	hp_watcher *w = NULL;
	if (hp_watcher_new(&cfg, epfd, on_file, &s, &w) < 0)
		return 1;
	hp_watcher_scan(w);
	int pfd[2];
	if (pipe(pfd) < 0)
		return 1;
	double t0 = now_s();
	pid_t pid = fork();
	if (pid == 0) {
		double c0 = now_s();
		for (size_t i = 0; i < n_burst; i++) {
			char p[256];
			snprintf(p, sizeof p, "%s/burst-%06zu.txt", drop, i);
			int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || write(fd, "burst\n", 6) != 6)
				_exit(1);
			close(fd);
		}
		double took = now_s() - c0;
		if (write(pfd[1], &took, sizeof took) != sizeof took)
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	double deadline = t0 + 120;
	while (s.n < n_burst && now_s() < deadline)
		pump(epfd, 100);
	double writer = 0;
	if (read(pfd[0], &writer, sizeof writer) != sizeof writer)
		writer = 0;
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	double took = s.last - t0;
	printf("burst of %zu small files written by another process:\n", n_burst);
	printf("  writer alone               %8.0f files/s\n", writer > 0 ? (double)n_burst / writer : 0);
	printf("  reported by the watcher    %8.0f files/s  (%zu reported, %.2fx the writer's rate)\n",
	       (double)s.n / took, s.n, writer > 0 ? ((double)s.n / took) / ((double)n_burst / writer) : 0);
	sink_clear(&s);

	/* ---- latency ---- */
	double *lat = calloc(n_lat, sizeof *lat);
	size_t got = 0;
	for (size_t i = 0; i < n_lat; i++) {
		char p[256];
		snprintf(p, sizeof p, "%s/drop-%06zu.txt", drop, i);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || write(fd, "drop\n", 5) != 5)
			return 1;
		close(fd);
		double c = now_s();
		size_t before = s.n;
		while (s.n == before && now_s() < c + 5)
			pump(epfd, 50);
		if (s.n > before)
			lat[got++] = (s.last - c) * 1000.0;
	}
	qsort(lat, got, sizeof *lat, cmp_double);
	if (got)
		printf("drop -> reported on an idle watcher (%zu drops): p50 %.3f ms, p99 %.3f ms\n", got,
		       lat[got / 2], lat[(got * 99) / 100 < got ? (got * 99) / 100 : got - 1]);
	free(lat);
	sink_clear(&s);
	free(s.paths);
	hp_watcher_free(w);
	close(epfd);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
