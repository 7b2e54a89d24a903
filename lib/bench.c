/* bench.c — `hopper bench`, see include/hopper/bench.h */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hopper/bench.h"
#include "hopper/common.h"
#include "hopper/convert.h"
#include "hopper/policy.h"
#include "hopper/pool.h"
#include "hopper/reader.h"
#include "hopper/resources.h"

#define BENCH_MAX_FILE ((size_t)256 << 20)
#define BENCH_MEMORY_LIMIT ((uint64_t)512 << 20)
#define BENCH_TIMEOUT_MS 60000
#define BENCH_GAIN 1.05   /* one more worker must gain at least 5% */
#define BENCH_SPAWNS 9
#define BENCH_READ_AHEAD ((size_t)64 << 20) /* bytes of files read, not yet handed on */

typedef struct bfile {
	char *path;
	size_t size;
} bfile;

typedef struct run_result {
	int workers;
	bool uring;
	double secs;
	size_t files, bytes, ok, failed;
	double fmt_ms[HP_FMT__MAX];
	size_t fmt_n[HP_FMT__MAX];
	double *job_ms;         /* per finished job */
	size_t n_job_ms;
	uint64_t rss_median, rss_max;
} run_result;

typedef struct bench {
	const hp_bench_opts *o;
	bfile *files;
	size_t n, cap;
	uint64_t bytes;
	/* the run in progress */
	run_result *cur;
	uint64_t *started_us;   /* per job id (index + 1) */
	size_t done;
	size_t warm_done;
	/* peak RSS of each worker reaped during the run (recycled after a
	 * high-risk job), from wait4's rusage: gone before the run ends */
	uint64_t rss_reaped[512];
	size_t n_rss_reaped;
} bench;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- the corpus ------------------------------------------------------------ */

static int add_file(bench *b, const char *path, size_t size)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		bfile *nf = realloc(b->files, cap * sizeof *nf);
		if (!nf)
			return -ENOMEM;
		b->files = nf;
		b->cap = cap;
	}
	char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	b->files[b->n++] = (bfile){ .path = p, .size = size };
	b->bytes += size;
	return 0;
}

static int walk(bench *b, const char *dir, int depth)
{
	if (depth > 64)
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
			continue;
		struct stat st;
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			r = walk(b, path, depth + 1);
		else if (S_ISREG(st.st_mode) && (size_t)st.st_size <= BENCH_MAX_FILE)
			r = add_file(b, path, (size_t)st.st_size);
	}
	closedir(d);
	return r;
}

/* Read every file once: the modes then compare conversion, not the disk. */
static void warm_cache(const bench *b)
{
	static char buf[1 << 16];
	for (size_t i = 0; i < b->n; i++) {
		int fd = open(b->files[i].path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			continue;
		while (read(fd, buf, sizeof buf) > 0)
			;
		close(fd);
	}
}

/* ---- one run --------------------------------------------------------------- */

static void on_result(void *userdata, uint64_t job_id, hp_pool_outcome o, hp_result *r, const char *reason)
{
	bench *b = userdata;
	if (job_id > b->n) {
		b->warm_done++;
		return;
	}
	run_result *rr = b->cur;
	b->done++;
	double ms = (double)(now_us() - b->started_us[job_id - 1]) / 1000.0;
	if (o == HP_POOL_DONE)
		rr->ok++;
	else
		rr->failed++;
	rr->job_ms[rr->n_job_ms++] = ms;
	hp_format f = r ? r->doc.format : HP_FMT_UNKNOWN;
	if ((unsigned)f < HP_FMT__MAX) {
		rr->fmt_ms[f] += ms;
		rr->fmt_n[f]++;
	}
}

static void reap(bench *b, hp_pool *p)
{
	int st;
	pid_t pid;
	struct rusage ru;
	while ((pid = wait4(-1, &st, WNOHANG, &ru)) > 0) {
		if (!hp_pool_owns_pid(p, pid))
			continue;
		if (b->n_rss_reaped < HP_ARRAY_SIZE(b->rss_reaped) && ru.ru_maxrss > 0)
			b->rss_reaped[b->n_rss_reaped++] = (uint64_t)ru.ru_maxrss * 1024;
		hp_pool_reaped(p, pid, st);
	}
}

static void turn(bench *b, int epfd, hp_pool *p, int wait_ms)
{
	struct epoll_event ev[16];
	int n = epoll_wait(epfd, ev, 16, wait_ms);
	for (int i = 0; i < n; i++) {
		hp_evsrc *src = ev[i].data.ptr;
		src->handler(src, ev[i].events);
	}
	reap(b, p);
}

/* The reader's fd only wakes the loop; completions are taken each turn. */
static void wake(hp_evsrc *src, uint32_t events)
{
	(void)src;
	(void)events;
}

static int run(bench *b, int workers, bool uring, run_result *rr)
{
	memset(rr, 0, sizeof *rr);
	rr->workers = workers;
	rr->files = b->n;
	rr->bytes = b->bytes;
	rr->job_ms = calloc(b->n ? b->n : 1, sizeof *rr->job_ms);
	if (!rr->job_ms)
		return -ENOMEM;
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	hp_pool_config pc = {
		.exe = b->o->worker_exe,
		.workers = workers,
		.max = workers,
		.profile = HP_PROFILE_BALANCED,
		.max_jobs_per_worker = 1000,
		.recycle_high_risk = true,
		.memory_limit = BENCH_MEMORY_LIMIT,
		.job_timeout_ms = BENCH_TIMEOUT_MS,
		.max_output = (uint64_t)64 << 20,
	};
	hp_pool *p = NULL;
	hp_areader *rd = NULL;
	hp_evsrc rsrc = { .fd = -1, .handler = wake };
	int r = hp_pool_new(&pc, epfd, on_result, b, &p);
	if (r < 0)
		goto out;
	r = hp_areader_new(64, BENCH_MAX_FILE, BENCH_READ_AHEAD, uring ? 0 : HP_READER_NO_URING, &rd);
	if (r < 0)
		goto out;
	rr->uring = hp_areader_uring(rd);
	rsrc.fd = hp_areader_fd(rd);
	if (hp_evsrc_add(epfd, &rsrc, EPOLLIN) < 0) {
		r = -errno;
		goto out;
	}
	b->cur = rr;
	b->done = 0;

	/* Every worker has started and converted one small file before the
	 * clock starts. */
	b->warm_done = 0;
	for (int i = 0; i < workers; i++) {
		hp_job_msg m = { .job_id = b->n + 1 + (uint64_t)i, .name = "warm.txt", .data = "warm up\n",
		                 .len = 8, .chunk_tokens = 512, .max_output = 1 << 20 };
		if (hp_pool_submit(p, &m) < 0)
			break;
	}
	for (int i = 0; i < 60000 && b->warm_done < (size_t)workers; i++)
		turn(b, epfd, p, 1);

	b->n_rss_reaped = 0;
	uint64_t t0 = now_us(), last_tick = hp_now_ms();
	/* Files are read ahead (up to 64 in flight, at most BENCH_READ_AHEAD
	 * bytes held) and each goes to a worker as soon as it is read and one
	 * is idle, as hopperd's reader feeds its pool. */
	size_t next = 0, rq_head = 0, rq_tail = 0;
	hp_read_req *reqs = calloc(b->n, sizeof *reqs);
	hp_read_req **ready = calloc(b->n, sizeof *ready);
	if (!reqs || !ready) {
		free(reqs);
		free(ready);
		r = -ENOMEM;
		goto out;
	}
	uint64_t rss[64 + HP_ARRAY_SIZE(b->rss_reaped)];
	size_t n_rss = 0;
	while (b->done < b->n) {
		while (next < b->n) {
			reqs[next].path = b->files[next].path;
			if (hp_areader_submit(rd, &reqs[next]) < 0)
				break;
			next++;
		}
		hp_read_req *got[64];
		size_t k = hp_areader_take(rd, got, 64);
		for (size_t i = 0; i < k; i++)
			ready[rq_tail++] = got[i];
		while (rq_head < rq_tail && hp_pool_idle(p) > 0) {
			hp_read_req *q = ready[rq_head++];
			size_t idx = (size_t)(q - reqs);
			const char *base = strrchr(b->files[idx].path, '/');
			hp_job_msg m = { .job_id = idx + 1, .name = base ? base + 1 : b->files[idx].path,
			                 .data = q->data, .len = q->len, .chunk_tokens = 512,
			                 .max_output = (uint64_t)64 << 20 };
			b->started_us[idx] = now_us();
			if (q->err || hp_pool_submit(p, &m) < 0) {
				rr->failed++;
				b->done++;
			}
			hp_areader_release(rd, q->len);
			free(q->data);
			q->data = NULL;
		}
		/* Files waiting while every worker is busy: sleep until a result
		 * or a read wakes us (spinning here took a CPU from the workers). */
		turn(b, epfd, p, k || (rq_head < rq_tail && hp_pool_idle(p) > 0) ? 0 : 50);
		uint64_t now = hp_now_ms();
		if (now - last_tick >= 500) {
			last_tick = now;
			hp_pool_tick(p, now);
		}
	}
	rr->secs = (double)(now_us() - t0) / 1e6;
	free(reqs);
	free(ready);
	/* Peak RSS of each worker recycled during the run (counted from the
	 * clock's start), and of each one alive now. */
	for (size_t i = 0; i < b->n_rss_reaped; i++)
		rss[n_rss++] = b->rss_reaped[i];
	hp_worker_info wi[64];
	size_t nw = hp_pool_list(p, wi, 64);
	for (size_t i = 0; i < nw && n_rss < HP_ARRAY_SIZE(rss); i++) {
		uint64_t h = hp_proc_peak_rss((int)wi[i].pid);
		if (h)
			rss[n_rss++] = h;
	}
	if (n_rss) {
		qsort(rss, n_rss, sizeof rss[0], cmp_u64);
		rr->rss_median = rss[n_rss / 2];
		rr->rss_max = rss[n_rss - 1];
	}
	r = 0;
out:
	b->cur = NULL;
	if (p)
		hp_pool_free(p, 2000);
	hp_areader_free(rd);
	close(epfd);
	return r;
}

/* A worker's start-up cost: fork + exec + loading the converters + the
 * sandbox + exit, with its socket already closed (it exits at EOF). */
static double spawn_ms(const char *exe)
{
	double t[BENCH_SPAWNS];
	int n = 0;
	for (int i = 0; i < BENCH_SPAWNS; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			break;
		uint64_t t0 = now_us();
		pid_t pid = fork();
		if (pid == 0) {
			int nul = open("/dev/null", O_RDWR);
			if (nul >= 0) {
				dup2(nul, 0);
				dup2(nul, 1);
				dup2(nul, 2);
			}
			dup2(sv[1], 3);
			char *argv[] = { (char *)exe, (char *)"--worker", NULL }, *envp[] = { NULL };
			execve(exe, argv, envp);
			_exit(127);
		}
		close(sv[1]);
		close(sv[0]);
		if (pid < 0)
			break;
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		t[n++] = (double)(now_us() - t0) / 1000.0;
	}
	if (!n)
		return 0;
	qsort(t, (size_t)n, sizeof t[0], cmp_double);
	return t[n / 2];
}

/* ---- report ---------------------------------------------------------------- */

static double fps(const run_result *r)
{
	return r->secs > 0 ? (double)r->files / r->secs : 0;
}

static double mbps(const run_result *r)
{
	return r->secs > 0 ? (double)r->bytes / 1048576.0 / r->secs : 0;
}

static double median_ms(run_result *r)
{
	if (!r->n_job_ms)
		return 0;
	qsort(r->job_ms, r->n_job_ms, sizeof r->job_ms[0], cmp_double);
	return r->job_ms[r->n_job_ms / 2];
}

static void print_text(FILE *out, const bench *b, const hp_resources *res, int ceiling, run_result *modes,
                       const char *const *names, run_result *sweep, int n_sweep, int rec, const char *why,
                       double spawn, double med)
{
	char line[384], sz[32], m1[32], m2[32];
	hp_resources_describe(res, line, sizeof line);
	hp_format_size(b->bytes, sz, sizeof sz);
	fprintf(out, "hopper bench: %zu files, %s\n", b->n, sz);
	fprintf(out, "machine: %s\n", line);
	fprintf(out, "auto pool: %d worker%s\n\n", ceiling, ceiling == 1 ? "" : "s");
	fprintf(out, "%-22s %7s %10s %9s %8s %8s %10s %10s\n", "mode", "workers", "files/s", "MB/s", "speedup",
	        "failed", "RSS med", "RSS max");
	for (int i = 0; i < 3; i++) {
		run_result *r = &modes[i];
		hp_format_size(r->rss_median, m1, sizeof m1);
		hp_format_size(r->rss_max, m2, sizeof m2);
		fprintf(out, "%-22s %7d %10.1f %9.2f %7.2fx %8zu %10s %10s\n", names[i], r->workers, fps(r), mbps(r),
		        fps(&modes[0]) > 0 ? fps(r) / fps(&modes[0]) : 0, r->failed, m1, m2);
	}
	if (!modes[2].uring)
		fprintf(out, "(io_uring is not available here: the last mode read with read())\n");
	fprintf(out, "\nworkers  files/s  speedup  gain over one fewer\n");
	for (int i = 0; i < n_sweep; i++)
		fprintf(out, "%7d %8.1f  %6.2fx  %+.1f%%\n", sweep[i].workers, fps(&sweep[i]),
		        fps(&sweep[0]) > 0 ? fps(&sweep[i]) / fps(&sweep[0]) : 0,
		        i && fps(&sweep[i - 1]) > 0 ? (fps(&sweep[i]) / fps(&sweep[i - 1]) - 1) * 100 : 0.0);
	fprintf(out, "\nper format (sequential run):\n");
	for (int f = 0; f < HP_FMT__MAX; f++)
		if (modes[0].fmt_n[f])
			fprintf(out, "  %-9s %6zu files  %8.2f ms/file\n", hp_format_name((hp_format)f), modes[0].fmt_n[f],
			        modes[0].fmt_ms[f] / (double)modes[0].fmt_n[f]);
	fprintf(out, "\nworker spawn cost %.1f ms; median conversion %.2f ms (a recycled worker costs %.1fx a job)\n",
	        spawn, med, med > 0 ? spawn / med : 0);
	hp_format_size(hp_proc_peak_rss((int)getpid()), m1, sizeof m1);
	fprintf(out, "supervisor side (this process: reader + pool) peak RSS %s\n", m1);
	fprintf(out, "recommendation: workers.max = %d: %s\n", rec, why);
}

static void print_json(FILE *out, const bench *b, const hp_resources *res, int ceiling, run_result *modes,
                       const char *const *names, run_result *sweep, int n_sweep, int rec, const char *why,
                       double spawn, double med)
{
	fprintf(out, "{\"files\":%zu,\"bytes\":%llu,\"cpus\":%.3g,\"auto_workers\":%d,\"modes\":[", b->n,
	        (unsigned long long)b->bytes, res->cpus, ceiling);
	for (int i = 0; i < 3; i++) {
		run_result *r = &modes[i];
		fprintf(out,
		        "%s{\"name\":\"%s\",\"workers\":%d,\"reader\":\"%s\",\"seconds\":%.4f,\"files_per_s\":%.2f,"
		        "\"mb_per_s\":%.3f,\"speedup\":%.3f,\"ok\":%zu,\"failed\":%zu,\"rss_median\":%llu,"
		        "\"rss_max\":%llu}",
		        i ? "," : "", names[i], r->workers, r->uring ? "io_uring" : "read", r->secs, fps(r), mbps(r),
		        fps(&modes[0]) > 0 ? fps(r) / fps(&modes[0]) : 0, r->ok, r->failed,
		        (unsigned long long)r->rss_median, (unsigned long long)r->rss_max);
	}
	fputs("],\"sweep\":[", out);
	for (int i = 0; i < n_sweep; i++)
		fprintf(out, "%s{\"workers\":%d,\"files_per_s\":%.2f,\"speedup\":%.3f}", i ? "," : "", sweep[i].workers,
		        fps(&sweep[i]), fps(&sweep[0]) > 0 ? fps(&sweep[i]) / fps(&sweep[0]) : 0);
	fputs("],\"per_format\":{", out);
	bool first = true;
	for (int f = 0; f < HP_FMT__MAX; f++) {
		if (!modes[0].fmt_n[f])
			continue;
		fprintf(out, "%s\"%s\":{\"files\":%zu,\"ms_per_file\":%.3f}", first ? "" : ",",
		        hp_format_name((hp_format)f), modes[0].fmt_n[f], modes[0].fmt_ms[f] / (double)modes[0].fmt_n[f]);
		first = false;
	}
	fprintf(out, "},\"spawn_ms\":%.3f,\"job_ms_median\":%.3f,\"supervisor_rss_peak\":%llu,"
	        "\"recommendation\":{\"max\":%d,\"why\":\"%s\"}}\n",
	        spawn, med, (unsigned long long)hp_proc_peak_rss((int)getpid()), rec, why);
}

int hp_bench_run(const hp_bench_opts *o, FILE *out)
{
	bench b = { .o = o };
	run_result modes[3] = { 0 }, sweep[17];
	int n_sweep = 0, r;
	memset(sweep, 0, sizeof sweep);
	r = walk(&b, o->dir, 0);
	if (r < 0) {
		fprintf(stderr, "hopper bench: %s: %s\n", o->dir, strerror(-r));
		goto out;
	}
	if (!b.n) {
		fprintf(stderr, "hopper bench: %s: no regular files to convert\n", o->dir);
		r = -ENOENT;
		goto out;
	}
	b.started_us = calloc(b.n, sizeof *b.started_us);
	if (!b.started_us) {
		r = -ENOMEM;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	int level = hp_log_level;
	hp_log_level = HP_LOG_WARNING; /* the pool's start-up lines, once per run, are noise here */

	hp_resources res;
	hp_resources_detect(NULL, &res);
	hp_policy_config pc = { .min = 1, .profile = HP_PROFILE_BALANCED, .memory_limit = BENCH_MEMORY_LIMIT,
	                        .idle_timeout_ms = 60000 };
	hp_policy_state ps = { 0 };
	hp_policy_input pin = { .res = &res, .alive = 1, .backlog = (int64_t)b.n, .now_ms = 1 };
	hp_policy_out pout;
	hp_policy_decide(&pc, &pin, &ps, &pout);
	int ceiling = pout.ceiling;

	warm_cache(&b);
	static const char *const names[3] = { "sequential", "parallel", "parallel+io_uring" };
	if ((r = run(&b, 1, false, &modes[0])) < 0 || (r = run(&b, ceiling, false, &modes[1])) < 0 ||
	    (r = run(&b, ceiling, true, &modes[2])) < 0) {
		fprintf(stderr, "hopper bench: cannot run the workers: %s\n", strerror(-r));
		goto restore;
	}
	double med = median_ms(&modes[0]);

	/* One more worker at a time until it gains less than 5%. */
	int bound = o->max_workers > 0 ? o->max_workers : ceiling + 1;
	if (bound > 16)
		bound = 16;
	sweep[n_sweep] = modes[0];
	sweep[n_sweep++].job_ms = NULL;
	int rec = 1;
	char why[160];
	snprintf(why, sizeof why, "a second worker gains < %d%%", (int)((BENCH_GAIN - 1) * 100 + 0.5));
	for (int k = 2; k <= bound; k++) {
		run_result *s = &sweep[n_sweep];
		if (k == ceiling) {
			*s = modes[1];
			s->job_ms = NULL;
		} else if ((r = run(&b, k, false, s)) < 0) {
			goto restore;
		} else {
			free(s->job_ms);
			s->job_ms = NULL;
		}
		n_sweep++;
		if (fps(s) < fps(&sweep[n_sweep - 2]) * BENCH_GAIN)
			break;
		rec = k;
		if (k == bound)
			snprintf(why, sizeof why, "every worker up to %d gained >= 5%% (the sweep stops there)", k);
		else
			snprintf(why, sizeof why, "a worker beyond %d gains < 5%%", k);
	}
	if (rec >= 2 && n_sweep > rec)
		snprintf(why, sizeof why, "a worker beyond %d gains < 5%%", rec);

	char wexe[PATH_MAX];
	double spawn = hp_pool_worker_exe(o->worker_exe, wexe, sizeof wexe) >= 0 ? spawn_ms(wexe) : 0;
	if (o->json)
		print_json(out, &b, &res, ceiling, modes, names, sweep, n_sweep, rec, why, spawn, med);
	else
		print_text(out, &b, &res, ceiling, modes, names, sweep, n_sweep, rec, why, spawn, med);
	r = 0;
restore:
	hp_log_level = level;
out:
	for (int i = 0; i < 3; i++)
		free(modes[i].job_ms);
	for (size_t i = 0; i < b.n; i++)
		free(b.files[i].path);
	free(b.files);
	free(b.started_us);
	return r;
}
