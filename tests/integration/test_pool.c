/* test_pool.c — real worker processes (`hopperd --worker`, sandboxed)
 * driven through an epoll loop run by the test, as hopperd does: jobs of
 * several formats convert; an error result leaves the worker alive; a
 * worker killed by SIGSEGV and a worker that hangs (SIGSTOP) past the job
 * timeout are reported as CRASHED with the reason and replaced; a broken
 * worker binary is not respawned in a tight loop. Isolation: a worker's
 * environment holds nothing of ours, its stderr arrives as our log lines
 * (prefixed, escaped), it is replaced after max_jobs_per_worker jobs and
 * after a high-risk format, a kill from outside is named, the CPU-time
 * backstop and memory_limit end a job with a clear reason. Scaling: with
 * the process pinned to 1 CPU, max = auto keeps one worker; unpinned, the
 * backlog grows the pool and idle_timeout shrinks it. Severe memory
 * pressure (a fake PSI file) stops the youngest busy job and admits no new
 * one until it is over. max_frame follows a reloaded max_output.
 *
 * The hopperd binary is $HOPPERD, else hopperd next to the build tree this
 * test lives in (B/tests/integration/test_pool -> B/hopperd). Exit 77 when
 * there is none.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>

#include "hopper/pool.h"

static char hopperd[PATH_MAX];

typedef struct outcome {
	uint64_t job_id;
	hp_pool_outcome o;
	int status;
	char *error;
	char *reason;
	hp_format format;
	char *title;
	char *markdown;
	size_t markdown_len;
	size_t n_chunks;
	char *heading_last; /* heading of the last chunk */
} outcome;

static outcome outs[64];
static size_t n_outs;

static void on_result(void *userdata, uint64_t job_id, hp_pool_outcome o, hp_result *r,
                      const char *reason)
{
	assert_true(n_outs < 64);
	outcome *x = &outs[n_outs++];
	memset(x, 0, sizeof *x);
	x->job_id = job_id;
	x->o = o;
	if (o == HP_POOL_CRASHED || o == HP_POOL_LOST) {
		assert_null(r);
		assert_non_null(reason);
		x->reason = strdup(reason);
		return;
	}
	assert_non_null(r);
	x->status = r->status;
	x->error = hp_strdup0(r->error);
	if (o == HP_POOL_DONE) {
		assert_int_equal(r->status, 0);
		x->format = r->doc.format;
		x->title = hp_strdup0(r->doc.title);
		/* The callee may steal fields: take the Markdown itself. */
		x->markdown = r->doc.markdown;
		r->doc.markdown = NULL;
		x->markdown_len = r->doc.markdown_len;
		x->n_chunks = r->n_chunks;
		if (r->n_chunks)
			x->heading_last = strdup(r->chunks[r->n_chunks - 1].heading);
	}
}

static void clear_outs(void)
{
	for (size_t i = 0; i < n_outs; i++) {
		free(outs[i].error);
		free(outs[i].reason);
		free(outs[i].title);
		free(outs[i].markdown);
		free(outs[i].heading_last);
	}
	n_outs = 0;
}

typedef struct fixture {
	int epfd;
	hp_pool *pool;
} fixture;

static void start_cfg(fixture *f, hp_pool_config *cfg)
{
	clear_outs();
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(f->epfd >= 0);
	if (!cfg->exe)
		cfg->exe = hopperd;
	assert_int_equal(hp_pool_new(cfg, f->epfd, on_result, NULL, &f->pool), 0);
	assert_int_equal(hp_pool_alive(f->pool), cfg->workers);
}

static void start(fixture *f, int workers, uint64_t timeout_ms, const char *exe)
{
	hp_pool_config cfg = {
		.exe = exe,
		.workers = workers,
		.memory_limit = (uint64_t)1 << 30,
		.job_timeout_ms = timeout_ms,
		.max_frame = (size_t)64 << 20,
	};
	start_cfg(f, &cfg);
}

static void stop(fixture *f)
{
	hp_pool_free(f->pool, 2000);
	close(f->epfd);
	clear_outs();
}

/* One turn of the supervisor's loop: events, reaping, tick. */
static void turn(fixture *f, int wait_ms)
{
	struct epoll_event ev[8];
	int n = epoll_wait(f->epfd, ev, 8, wait_ms);
	for (int i = 0; i < n; i++) {
		hp_evsrc *src = ev[i].data.ptr;
		src->handler(src, ev[i].events);
	}
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (hp_pool_owns_pid(f->pool, pid))
			hp_pool_reaped(f->pool, pid, st);
	}
	hp_pool_tick(f->pool, hp_now_ms());
}

/* Run the loop until `want` outcomes are in. The bound is a guard against a
 * hang (the test then fails instead of blocking the suite), not a speed
 * requirement. */
static void run_until(fixture *f, size_t want)
{
	for (int i = 0; i < 6000 && n_outs < want; i++)
		turn(f, 10);
	assert_true(n_outs >= want);
}

static void run_until_alive(fixture *f, int want)
{
	for (int i = 0; i < 6000 && hp_pool_alive(f->pool) != want; i++)
		turn(f, 10);
	assert_int_equal(hp_pool_alive(f->pool), want);
}

static int submit(fixture *f, uint64_t id, const char *name, const char *data, size_t len)
{
	hp_job_msg m = {
		.job_id = id, .name = name, .data = data, .len = len,
		.chunk_tokens = 64, .max_output = (size_t)32 << 20,
	};
	return hp_pool_submit(f->pool, &m);
}

/* The outcome of job `id`; there must be exactly one. */
static const outcome *find(uint64_t id)
{
	const outcome *o = NULL;
	for (size_t i = 0; i < n_outs; i++) {
		if (outs[i].job_id != id)
			continue;
		if (o)
			fail_msg("job %llu reported twice", (unsigned long long)id);
		o = &outs[i];
	}
	if (!o)
		fail_msg("no outcome for job %llu", (unsigned long long)id);
	return o;
}

/* The pid of the worker that holds job `id`. */
static pid_t pid_of_job(fixture *f, uint64_t id)
{
	hp_worker_info wi[16];
	size_t n = hp_pool_list(f->pool, wi, 16);
	for (size_t i = 0; i < n; i++)
		if (wi[i].job_id == id)
			return wi[i].pid;
	fail_msg("job %llu is on no worker", (unsigned long long)id);
	return -1;
}

/* SIGSTOP every worker and wait until each one is really stopped. */
static size_t stop_all(fixture *f, pid_t *pids)
{
	hp_worker_info wi[16];
	size_t n = hp_pool_list(f->pool, wi, 16);
	for (size_t i = 0; i < n; i++) {
		pids[i] = wi[i].pid;
		assert_int_equal(kill(pids[i], SIGSTOP), 0);
		int st;
		assert_int_equal(waitpid(pids[i], &st, WUNTRACED), pids[i]);
		assert_true(WIFSTOPPED(st));
	}
	return n;
}

static void test_convert_formats(void **state)
{
	fixture f;
	start(&f, 2, 60000, NULL);
	static const char text[] = "Plain words in a plain file.\nSecond line.\n";
	static const char md[] = "# Guide\n\nIntro.\n\n## Install\n\nRun the installer.\n";
	static const char html[] = "<!DOCTYPE html><html><head><title>Hello page</title></head>"
	                           "<body><h1>Hello</h1><p>World paragraph.</p></body></html>";
	/* Two workers: the third job waits for one to come free. */
	assert_int_equal(submit(&f, 1, "notes.txt", text, sizeof text - 1), 0);
	assert_int_equal(submit(&f, 2, "guide.md", md, sizeof md - 1), 0);
	assert_int_equal(hp_pool_busy(f.pool), 2);
	assert_int_equal(hp_pool_idle(f.pool), 0);
	assert_int_equal(submit(&f, 3, "page.html", html, sizeof html - 1), -EBUSY);
	run_until(&f, 1);
	assert_int_equal(submit(&f, 3, "page.html", html, sizeof html - 1), 0);
	run_until(&f, 3);

	const outcome *o = find(1);
	assert_int_equal(o->o, HP_POOL_DONE);
	assert_int_equal(o->format, HP_FMT_TEXT);
	assert_non_null(strstr(o->markdown, "Plain words in a plain file."));
	assert_true(o->n_chunks >= 1);

	o = find(2);
	assert_int_equal(o->o, HP_POOL_DONE);
	assert_int_equal(o->format, HP_FMT_MARKDOWN);
	assert_non_null(strstr(o->markdown, "Run the installer."));
	assert_int_equal(o->markdown_len, strlen(o->markdown));
	assert_true(o->n_chunks >= 2);
	assert_string_equal(o->heading_last, "Guide > Install");

	o = find(3);
	assert_int_equal(o->o, HP_POOL_DONE);
	assert_int_equal(o->format, HP_FMT_HTML);
	assert_string_equal(o->title, "Hello page");
	assert_non_null(strstr(o->markdown, "World paragraph."));
	assert_null(strstr(o->markdown, "<p>"));

	assert_int_equal(hp_pool_busy(f.pool), 0);
	assert_int_equal(hp_pool_idle(f.pool), 2);
	stop(&f);
}

/* Several MiB each way: the file's bytes go in a sealed memfd passed with
 * the frame, and the result is read in pieces. */
static void test_large_job(void **state)
{
	fixture f;
	start(&f, 1, 60000, NULL);
	size_t n = (size_t)6 << 20;
	char *big = malloc(n + 1);
	assert_non_null(big);
	static const char line[] = "lorem ipsum dolor sit amet consectetur adipiscing elit\n";
	for (size_t i = 0; i < n; i++)
		big[i] = line[i % (sizeof line - 1)];
	big[n] = '\0';
	assert_int_equal(submit(&f, 9, "big.txt", big, n), 0);
	free(big); /* submit copied it */
	run_until(&f, 1);
	const outcome *o = find(9);
	if (o->o != HP_POOL_DONE)
		fail_msg("large job: outcome %d, %s", o->o, o->error ? o->error : o->reason);
	assert_true(o->markdown_len >= n / 2);
	assert_true(o->n_chunks > 100);
	/* It went in a sealed memfd, not in the frame. */
	hp_pool_stats st;
	hp_pool_get_stats(f.pool, &st);
	assert_int_equal(st.memfd_jobs, 1);
	stop(&f);
}

static void test_error_keeps_worker(void **state)
{
	fixture f;
	start(&f, 1, 60000, NULL);
	hp_worker_info before;
	assert_int_equal(hp_pool_list(f.pool, &before, 1), 1);
	/* Binary bytes with no known signature: not a format we convert. */
	char junk[512];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 7 + 3);
	junk[0] = 0;
	assert_int_equal(submit(&f, 5, "blob.bin", junk, sizeof junk), 0);
	run_until(&f, 1);
	const outcome *o = find(5);
	assert_int_equal(o->o, HP_POOL_ERROR);
	assert_true(o->status > 0);
	assert_non_null(o->error);
	assert_true(strlen(o->error) > 0);
	/* Same process, still there, ready for the next job. */
	hp_worker_info after;
	assert_int_equal(hp_pool_list(f.pool, &after, 1), 1);
	assert_int_equal(after.pid, before.pid);
	assert_int_equal(after.job_id, 0);
	assert_int_equal(submit(&f, 6, "ok.txt", "fine\n", 5), 0);
	run_until(&f, 2);
	assert_int_equal(find(6)->o, HP_POOL_DONE);
	stop(&f);
}

static void test_sigsegv(void **state)
{
	fixture f;
	start(&f, 2, 60000, NULL);
	pid_t pids[16];
	size_t n = stop_all(&f, pids);
	assert_int_equal(n, 2);
	/* A signal that arrives before the worker read its job: the job never
	 * reached it, so it is LOST (run it again), not blamed on the file. */
	assert_int_equal(submit(&f, 10, "a.txt", "some text\n", 10), 0);
	pid_t victim = pid_of_job(&f, 10);
	assert_int_equal(kill(victim, SIGSEGV), 0);
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGCONT);
	run_until(&f, 1);
	assert_int_equal(find(10)->o, HP_POOL_LOST);
	assert_string_equal(find(10)->reason, "worker killed by SIGSEGV before the job reached it");
	run_until_alive(&f, 2);

	/* A converter that crashes on the file (HOPPER_FAULT_CRASH makes the
	 * worker fault on names containing "crash-me"): CRASHED, with the signal. */
	assert_int_equal(submit(&f, 11, "crash-me.txt", "some text\n", 10), 0);
	victim = pid_of_job(&f, 11);
	run_until(&f, 2);
	const outcome *o = find(11);
	assert_int_equal(o->o, HP_POOL_CRASHED);
	assert_string_equal(o->reason, "worker killed by SIGSEGV");

	/* Replaced: two workers again, the victim not among them. */
	run_until_alive(&f, 2);
	hp_worker_info wi[4];
	assert_int_equal(hp_pool_list(f.pool, wi, 4), 2);
	assert_true(wi[0].pid != victim && wi[1].pid != victim);
	/* And the pool goes on. */
	assert_int_equal(submit(&f, 12, "b.txt", "more text\n", 10), 0);
	run_until(&f, 3);
	assert_int_equal(find(12)->o, HP_POOL_DONE);
	stop(&f);
}

static void test_timeout(void **state)
{
	fixture f;
	start(&f, 2, 300, NULL);
	pid_t pids[16];
	size_t n = stop_all(&f, pids);
	assert_int_equal(submit(&f, 21, "hang.txt", "never converted\n", 16), 0);
	pid_t hung = pid_of_job(&f, 21);
	/* Let the other one go; the hung one stays stopped. */
	for (size_t i = 0; i < n; i++)
		if (pids[i] != hung)
			kill(pids[i], SIGCONT);
	run_until(&f, 1);
	const outcome *o = find(21);
	assert_int_equal(o->o, HP_POOL_CRASHED);
	assert_string_equal(o->reason, "timed out after 0.3 s");
	run_until_alive(&f, 2);
	hp_worker_info wi[4];
	assert_int_equal(hp_pool_list(f.pool, wi, 4), 2);
	assert_true(wi[0].pid != hung && wi[1].pid != hung);
	/* (No second job here: with a 0.3 s limit, a loaded machine could time
	 * out an honest one. test_sigsegv shows the pool goes on.) */
	assert_true(kill(hung, 0) < 0 && errno == ESRCH);
	stop(&f);
}

/* Stopping with a worker that cannot see EOF (stopped): hp_pool_free
 * kills and reaps it; no child is left behind. */
static void test_free_reaps_all(void **state)
{
	fixture f;
	start(&f, 2, 60000, NULL);
	pid_t pids[16];
	size_t n = stop_all(&f, pids);
	assert_int_equal(submit(&f, 31, "x.txt", "x\n", 2), 0);
	hp_pool_free(f.pool, 100);
	close(f.epfd);
	for (size_t i = 0; i < n; i++)
		assert_true(kill(pids[i], 0) < 0 && errno == ESRCH);
	/* In-flight jobs are not reported on free. */
	assert_int_equal(n_outs, 0);
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* A worker binary that exits at once: the pool backs off instead of
 * forking in a loop, and respawns later from hp_pool_tick. */
static void test_broken_binary_backs_off(void **state)
{
	fixture f;
	start(&f, 1, 60000, "/bin/false");
	int st;
	pid_t pid = waitpid(-1, &st, 0);
	assert_true(hp_pool_owns_pid(f.pool, pid));
	hp_pool_reaped(f.pool, pid, st);
	assert_int_equal(n_outs, 0);          /* it had no job */
	assert_int_equal(hp_pool_alive(f.pool), 0); /* not respawned at once */
	assert_int_equal(submit(&f, 41, "x.txt", "x\n", 2), -EBUSY);
	/* A later tick starts a new one. */
	run_until_alive(&f, 1);
	stop(&f);
}


/* ---- a fake worker: this test binary run as `test_pool --worker ...` ----
 * Misbehaves on purpose, as FAKE_WORKER says, to drive the pool's
 * protocol checks; "fds" reports what the worker inherited. */
static char self_exe[PATH_MAX];

/* A worker's environment is empty, so the fake's orders come in a file
 * named after its parent, the test: "MODE\nOUT-PATH\n". */
static void fake_path(pid_t parent, char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/hopper-test-pool-fake.%d", (int)parent);
}

static void fake_set(const char *mode, const char *out)
{
	char path[64];
	fake_path(getpid(), path, sizeof path);
	if (!mode) {
		unlink(path);
		return;
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n%s\n", mode, out ? out : "");
	fclose(f);
}

static char fake_mode[64], fake_out[256];

static int fake_read_orders(void)
{
	char path[64];
	fake_path(getppid(), path, sizeof path);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(fake_mode, sizeof fake_mode, f))
		fake_mode[0] = '\0';
	if (!fgets(fake_out, sizeof fake_out, f))
		fake_out[0] = '\0';
	fclose(f);
	fake_mode[strcspn(fake_mode, "\n")] = '\0';
	fake_out[strcspn(fake_out, "\n")] = '\0';
	return 0;
}

static int fake_worker(int argc, char **argv)
{
	char hdr[HP_FRAME_HDR_LEN];
	if (fake_read_orders() < 0)
		return 100;
	const char *mode = fake_mode;
	if (strcmp(mode, "fds") == 0) {
		/* Collect before opening anything else. */
		char list[256] = "";
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
				continue;
			if (strlen(list) + strlen(e->d_name) + 2 < sizeof list) {
				strcat(list, e->d_name);
				strcat(list, " ");
			}
		}
		char out[512] = "", null[64] = "", in[64] = "";
		ssize_t n = readlink("/proc/self/fd/1", null, sizeof null - 1);
		if (n > 0)
			null[n] = '\0';
		n = readlink("/proc/self/fd/0", in, sizeof in - 1);
		if (n > 0)
			in[n] = '\0';
		closedir(d);
		snprintf(out, sizeof out, "%s|%s|%s|%s", argc >= 4 ? argv[3] : "?", null, in, list);
		FILE *f = fopen(fake_out, "w");
		if (!f)
			return 101;
		fputs(out, f);
		fclose(f);
		while (read(3, hdr, sizeof hdr) > 0)
			;
		return 0;
	}
	/* The other modes misbehave once the first job arrives. */
	if (read(3, hdr, sizeof hdr) != (ssize_t)sizeof hdr)
		return 0;
	if (strcmp(mode, "exit3") == 0) {
		/* Take the whole job first: a worker that dies holding it. */
		uint32_t len;
		memcpy(&len, hdr + 4, 4);
		char *payload = malloc(len ? len : 1);
		size_t got = 0;
		ssize_t k;
		while (payload && got < len && (k = read(3, payload + got, len - got)) > 0)
			got += (size_t)k;
		free(payload);
		return 3;
	}
	hp_buf b;
	hp_buf_init(&b, 0);
	if (strcmp(mode, "garbage") == 0) {
		hp_buf_add(&b, "\377\377\377\377\0\0\0\0", 8);
	} else if (strcmp(mode, "huge") == 0) {
		uint32_t h[2] = { HP_FRAME_RESULT, UINT32_MAX };
		hp_buf_add(&b, h, sizeof h);
	} else if (strcmp(mode, "wrongid") == 0) {
		uint32_t len;
		memcpy(&len, hdr + 4, 4);
		char *payload = malloc(len);
		hp_job_msg m;
		if (!payload || read(3, payload, len) != (ssize_t)len || hp_job_msg_decode(payload, len, &m) < 0)
			return 102;
		hp_result r = { .job_id = m.job_id + 1, .status = EINVAL, .error = (char *)"nope" };
		hp_result_encode(&b, &r);
		free(payload);
	}
	if (hp_write_all(3, b.data, b.len) < 0)
		return 103;
	hp_buf_free(&b);
	while (read(3, hdr, sizeof hdr) > 0)
		;
	return 0;
}

static void run_fake(const char *mode, const char *want_reason)
{
	fixture f;
	fake_set(mode, NULL);
	start(&f, 1, 60000, self_exe);
	assert_int_equal(submit(&f, 51, "x.txt", "x\n", 2), 0);
	run_until(&f, 1);
	const outcome *o = find(51);
	assert_int_equal(o->o, HP_POOL_CRASHED);
	if (strcmp(o->reason, want_reason) != 0)
		fail_msg("%s: reason \"%s\", want \"%s\"", mode, o->reason, want_reason);
	/* Replaced by a fresh (equally fake) worker. */
	run_until_alive(&f, 1);
	stop(&f);
	fake_set(NULL, NULL);
}

static void test_protocol_violations(void **state)
{
	run_fake("garbage", "worker sent a malformed frame");
	run_fake("huge", "worker sent a malformed frame");
	run_fake("wrongid", "worker sent a malformed frame");
	run_fake("exit3", "worker exited with status 3");
}

/* The worker gets the socket as fd 3, stdin and stdout on /dev/null, stderr
 * on the pool's pipe, the memory limit as an argument, and no other fd of
 * ours. */
static void test_worker_inherits_only_fd3(void **state)
{
	char out[] = "/tmp/hopper-test-pool-XXXXXX";
	int ofd = mkstemp(out);
	assert_true(ofd >= 0);
	close(ofd);
	fake_set("fds", out);
	fixture f;
	start(&f, 1, 60000, self_exe);
	/* An fd the supervisor holds open must not leak into the next worker. */
	int leak = open("/dev/zero", O_RDONLY); /* no O_CLOEXEC on purpose */
	assert_true(leak > 3);
	stop(&f);
	start(&f, 1, 60000, self_exe);
	stop(&f); /* EOF: the fake has written its report and exits */
	close(leak);
	fake_set(NULL, NULL);
	FILE *fp = fopen(out, "r");
	assert_non_null(fp);
	char line[256] = "";
	assert_non_null(fgets(line, sizeof line, fp));
	fclose(fp);
	unlink(out);
	/* "<limit>|/dev/null|/dev/null|0 1 2 3 " (stdout, stdin; order of readdir
	 * may vary: check sets) */
	char want_prefix[64];
	snprintf(want_prefix, sizeof want_prefix, "%llu|/dev/null|/dev/null|", (unsigned long long)1 << 30);
	if (strncmp(line, want_prefix, strlen(want_prefix)) != 0)
		fail_msg("worker saw \"%s\"", line);
	int seen[4] = { 0 }, other = 0;
	char *p = line + strlen(want_prefix), *tok, *save;
	for (tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		int fd = atoi(tok);
		if (fd >= 0 && fd < 4)
			seen[fd] = 1;
		else
			other++;
	}
	if (other || !seen[0] || !seen[1] || !seen[3])
		fail_msg("worker's fds: %s", line + strlen(want_prefix));
}


/* ---- isolation: environment, stderr, recycling ------------------------ */

static pid_t only_pid(fixture *f)
{
	hp_worker_info wi[4];
	assert_int_equal(hp_pool_list(f->pool, wi, 4), 1);
	return wi[0].pid;
}

/* Nothing of the supervisor's environment reaches a worker. */
static void test_worker_env_empty(void **state)
{
	setenv("PGPASSWORD", "secret-of-the-supervisor", 1);
	fixture f;
	start(&f, 1, 60000, NULL);
	/* After one job the worker has surely exec'd (before exec, a forked
	 * child still shows the parent's environment). */
	assert_int_equal(submit(&f, 61, "a.txt", "text\n", 5), 0);
	run_until(&f, 1);
	char path[64], env[8192];
	snprintf(path, sizeof path, "/proc/%d/environ", (int)only_pid(&f));
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(env, 1, sizeof env, fp);
	fclose(fp);
	/* Only what the converters need (OMP_THREAD_LIMIT=1, an operator's
	 * TESSDATA_PREFIX); sanitizer builds pass their runtime options on. */
	bool omp = false;
	for (size_t i = 0; i < n; i += strlen(env + i) + 1) {
		omp |= strcmp(env + i, "OMP_THREAD_LIMIT=1") == 0;
		if (strcmp(env + i, "OMP_THREAD_LIMIT=1") && strncmp(env + i, "TESSDATA_PREFIX=", 16) &&
		    strncmp(env + i, "ASAN_OPTIONS=", 13) && strncmp(env + i, "UBSAN_OPTIONS=", 14) &&
		    strncmp(env + i, "LSAN_OPTIONS=", 13))
			fail_msg("worker environment holds \"%s\"", env + i);
	}
	assert_true(omp);
	stop(&f);
	unsetenv("PGPASSWORD");
}

/* What a worker writes to stderr arrives as log lines of ours, each
 * prefixed with its pid, control characters escaped, no line of its own
 * above err. HOPPER_FAULT_STDERR makes the worker write raw bytes (escape
 * sequences, a forged "<0>" emergency line, a NUL) for names with "noisy". */
static void test_worker_stderr_prefixed_and_escaped(void **state)
{
	char logpath[] = "/tmp/hopper-test-pool-log-XXXXXX";
	int lfd = mkstemp(logpath);
	assert_true(lfd >= 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(lfd, STDERR_FILENO) == STDERR_FILENO);
	setenv("HOPPER_FAULT_STDERR", "noisy", 1);
	fixture f;
	start(&f, 1, 60000, NULL);
	pid_t pid = only_pid(&f);
	assert_int_equal(submit(&f, 71, "noisy.txt", "text\n", 5), 0);
	run_until(&f, 1);
	stop(&f);
	unsetenv("HOPPER_FAULT_STDERR");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(lfd);

	FILE *fp = fopen(logpath, "r");
	assert_non_null(fp);
	char line[1024];
	char want_raw[128], want_forged[128], want_nul[128];
	snprintf(want_raw, sizeof want_raw, "<4>worker %d: raw \\x1b[31mred\\x1b[0m\n", (int)pid);
	snprintf(want_forged, sizeof want_forged, "<3>worker %d: forged emergency\n", (int)pid);
	snprintf(want_nul, sizeof want_nul, "<4>worker %d: nul\\x00byte\n", (int)pid);
	bool raw = false, forged = false, nul = false;
	while (fgets(line, sizeof line, fp)) {
		if (line[0] != '<' || line[1] < '3' || line[1] > '7' || line[2] != '>')
			fail_msg("a log line not at err..debug or without a priority: \"%s\"", line);
		if (strchr(line, '\033'))
			fail_msg("raw escape character in the log: \"%s\"", line);
		raw |= strcmp(line, want_raw) == 0;
		forged |= strcmp(line, want_forged) == 0;
		nul |= strcmp(line, want_nul) == 0;
	}
	fclose(fp);
	unlink(logpath);
	if (!raw || !forged || !nul)
		fail_msg("missing worker lines (raw %d, forged %d, nul %d)", raw, forged, nul);
}

/* A worker is replaced by a fresh process after max_jobs_per_worker jobs,
 * and after each job of a high-risk format: by the name's extension, or by
 * the format the worker detected in the bytes. */
static void test_worker_replaced_after_n_jobs(void **state)
{
	fixture f;
	hp_pool_config cfg = {
		.workers = 1, .max = 1, .memory_limit = (uint64_t)1 << 30, .job_timeout_ms = 60000,
		.max_jobs_per_worker = 3, .recycle_high_risk = true,
	};
	start_cfg(&f, &cfg);
	pid_t first = only_pid(&f);
	for (uint64_t id = 81; id <= 83; id++) {
		assert_int_equal(only_pid(&f), first);
		assert_int_equal(submit(&f, id, "a.txt", "text\n", 5), 0);
		run_until(&f, id - 80);
		assert_int_equal(find(id)->o, HP_POOL_DONE);
	}
	/* Three jobs: replaced. */
	run_until_alive(&f, 1);
	pid_t second = only_pid(&f);
	assert_true(second != first);

	/* A PDF by name (the worker answers "not supported" or converts it). */
	static const char pdf[] = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
	assert_int_equal(submit(&f, 84, "q3.pdf", pdf, sizeof pdf - 1), 0);
	run_until(&f, 4);
	run_until_alive(&f, 1);
	pid_t third = only_pid(&f);
	assert_true(third != second);
	/* The same bytes under an innocent name: the worker's detection says PDF. */
	assert_int_equal(submit(&f, 85, "innocent.txt", pdf, sizeof pdf - 1), 0);
	run_until(&f, 5);
	run_until_alive(&f, 1);
	assert_true(only_pid(&f) != third);
	/* A plain text job does not recycle (1 of 3). */
	pid_t fourth = only_pid(&f);
	assert_int_equal(submit(&f, 86, "b.txt", "text\n", 5), 0);
	run_until(&f, 6);
	assert_int_equal(only_pid(&f), fourth);
	hp_pool_stats st;
	hp_pool_get_stats(f.pool, &st);
	assert_int_equal(st.recycled, 3);
	assert_int_equal(st.jobs, 6);
	stop(&f);
}

/* A worker that its job will retire (a high-risk name, or its last job
 * under max_jobs_per_worker) gets its successor started while the job
 * runs: the spare takes no job and is not counted as a worker, and after
 * the job it takes the retired worker's place without a new start. The
 * worker is held stopped (SIGSTOP), so "while the job runs" is certain. */
static void test_spare_started_during_risky_job(void **state)
{
	fixture f;
	hp_pool_config cfg = {
		.workers = 1, .max = 1, .memory_limit = (uint64_t)1 << 30, .job_timeout_ms = 60000,
		.max_jobs_per_worker = 2, .recycle_high_risk = true,
	};
	start_cfg(&f, &cfg);
	hp_pool_stats st;
	pid_t pids[4];
	assert_int_equal(stop_all(&f, pids), 1);
	int sub = submit(&f, 131, "q3.docx", "not really a docx\n", 18);
	hp_pool_get_stats(f.pool, &st);
	for (int i = 0; i < 3; i++)
		turn(&f, 10);
	/* The spare is not a worker yet: one worker, busy, nothing idle. */
	int alive = hp_pool_alive(f.pool), idle = hp_pool_idle(f.pool);
	int sub2 = submit(&f, 132, "a.txt", "text\n", 5);
	hp_worker_info wi[4];
	size_t nw = hp_pool_list(f.pool, wi, 4);
	/* Let it go before checking, so a failure leaves no stopped process. */
	assert_int_equal(kill(pids[0], SIGCONT), 0);
	assert_int_equal(sub, 0);
	assert_int_equal(st.spawned, 2); /* the first worker and its spare */
	assert_int_equal(alive, 1);
	assert_int_equal(idle, 0);
	assert_int_equal(sub2, -EBUSY);
	assert_int_equal(nw, 1);
	assert_int_equal(wi[0].pid, pids[0]);
	run_until(&f, 1);
	/* Recycled, and the spare took its place: no third start. */
	pid_t second = only_pid(&f);
	assert_true(second != pids[0]);
	hp_pool_get_stats(f.pool, &st);
	assert_int_equal(st.spawned, 2);
	assert_int_equal(st.recycled, 1);
	assert_int_equal(hp_pool_idle(f.pool), 1);

	/* Plain text: no spare for the first job of two, one for the last. */
	assert_int_equal(submit(&f, 133, "a.txt", "text\n", 5), 0);
	hp_pool_get_stats(f.pool, &st);
	assert_int_equal(st.spawned, 2);
	run_until(&f, 2);
	assert_int_equal(submit(&f, 134, "b.txt", "text\n", 5), 0);
	hp_pool_get_stats(f.pool, &st);
	assert_int_equal(st.spawned, 3);
	run_until(&f, 3);
	assert_true(only_pid(&f) != second);
	hp_pool_get_stats(f.pool, &st);
	assert_int_equal(st.spawned, 3);
	assert_int_equal(st.recycled, 2);
	for (uint64_t id = 131; id <= 134; id++)
		if (id != 132)
			assert_true(find(id)->o == HP_POOL_DONE || find(id)->o == HP_POOL_ERROR);
	stop(&f);
}

/* A worker killed from outside: the job's reason names the signal, not
 * "worker closed its connection". */
static void test_killed_from_outside(void **state)
{
	fixture f;
	start(&f, 1, 60000, NULL);
	pid_t pids[4];
	stop_all(&f, pids);
	assert_int_equal(submit(&f, 91, "a.txt", "text\n", 5), 0);
	assert_int_equal(kill(pids[0], SIGKILL), 0);
	run_until(&f, 1);
	const outcome *o = find(91);
	assert_non_null(o->reason);
	/* It never read the job: LOST, and the reason says that too. */
	assert_string_equal(o->reason, o->o == HP_POOL_LOST ? "worker killed by SIGKILL before the job reached it"
	                                                    : "worker killed by SIGKILL");
	run_until_alive(&f, 1);
	stop(&f);
}

/* A job over memory_limit fails with a message that says so, and the pool
 * goes on. (Sanitizer builds set no RLIMIT_AS: skipped there.) */
static void test_over_memory_limit(void **state)
{
#ifdef HP_SANITIZE
	skip();
#endif
	fixture f;
	hp_pool_config cfg = {
		.workers = 1, .max = 1, .memory_limit = (uint64_t)96 << 20, .job_timeout_ms = 60000,
	};
	start_cfg(&f, &cfg);
	size_t n = (size_t)80 << 20;
	char *big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = "word \n"[i % 6];
	assert_int_equal(submit(&f, 95, "big.txt", big, n), 0);
	free(big);
	run_until(&f, 1);
	const outcome *o = find(95);
	if (o->o != HP_POOL_ERROR || !strstr(o->error, "memory_limit"))
		fail_msg("over memory: outcome %d, %s", o->o, o->error ? o->error : o->reason);
	printf("over memory_limit, reading: %s\n", o->error);
	/* Three quarters: it fails reading or converting (the Markdown and
	 * chunks are copies); either way the message names the limit.
	 * (memory_limit is on top of what the worker maps at start.) */
	big = malloc(n * 3 / 4);
	assert_non_null(big);
	for (size_t i = 0; i < n * 3 / 4; i++)
		big[i] = "word \n"[i % 6];
	assert_int_equal(submit(&f, 96, "half.txt", big, n * 3 / 4), 0);
	free(big);
	run_until(&f, 2);
	o = find(96);
	if (o->o != HP_POOL_ERROR || !strstr(o->error, "memory_limit"))
		fail_msg("over memory: outcome %d, %s", o->o, o->error ? o->error : o->reason);
	printf("over memory_limit, half: %s\n", o->error);
	assert_int_equal(submit(&f, 97, "ok.txt", "fine\n", 5), 0);
	run_until(&f, 3);
	assert_int_equal(find(97)->o, HP_POOL_DONE);
	stop(&f);
}

/* max_frame follows max_output when a reload changes it: a result that a
 * small max_output's frame limit refuses is accepted after the reload. */
static void test_max_frame_follows_reload(void **state)
{
	fixture f;
	hp_pool_config cfg = {
		.workers = 1, .max = 1, .memory_limit = (uint64_t)1 << 30, .job_timeout_ms = 60000,
		.max_output = (uint64_t)1 << 20, /* frames up to 3 MiB + 16 MiB */
	};
	start_cfg(&f, &cfg);
	size_t n = (size_t)12 << 20; /* Markdown + chunks: about 24 MiB of result */
	char *big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = "word \n"[i % 6];
	assert_int_equal(submit(&f, 101, "big.txt", big, n), 0);
	run_until(&f, 1);
	assert_int_equal(find(101)->o, HP_POOL_CRASHED);
	assert_string_equal(find(101)->reason, "worker sent a malformed frame");
	cfg.max_output = (uint64_t)32 << 20;
	hp_pool_reconfigure(f.pool, &cfg);
	run_until_alive(&f, 1);
	assert_int_equal(submit(&f, 102, "big.txt", big, n), 0);
	free(big);
	run_until(&f, 2);
	const outcome *o = find(102);
	if (o->o != HP_POOL_DONE)
		fail_msg("after reload: outcome %d, %s", o->o, o->error ? o->error : o->reason);
	stop(&f);
}

/* The per-job CPU-time backstop: with the supervisor not enforcing
 * job_timeout (no tick here), a worker stuck burning CPU (HOPPER_FAULT_SPIN)
 * ends by itself after 2 x job_timeout of CPU time, and the job says so. */
static void test_cpu_backstop(void **state)
{
	setenv("HOPPER_FAULT_SPIN", "spin-me", 1);
	fixture f;
	start(&f, 1, 1000, NULL); /* CPU limit: 2 s */
	unsetenv("HOPPER_FAULT_SPIN");
	assert_int_equal(submit(&f, 111, "spin-me.txt", "x\n", 2), 0);
	for (int i = 0; i < 12000 && n_outs < 1; i++) { /* a guard, not a time limit */
		struct epoll_event ev[8];
		int n = epoll_wait(f.epfd, ev, 8, 10);
		for (int k = 0; k < n; k++) {
			hp_evsrc *src = ev[k].data.ptr;
			src->handler(src, ev[k].events);
		}
		int st;
		pid_t pid;
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
			if (hp_pool_owns_pid(f.pool, pid))
				hp_pool_reaped(f.pool, pid, st);
	}
	assert_int_equal(n_outs, 1);
	const outcome *o = find(111);
	assert_int_equal(o->o, HP_POOL_CRASHED);
	assert_string_equal(o->reason, "used more than 2 s of CPU time");
	stop(&f);
}

/* ---- scaling ----------------------------------------------------------- */

/* max = auto with the process limited to 1 CPU (sched_setaffinity, as
 * taskset or CPUAffinity= would): one worker, however long the backlog.
 * Without the limit on a machine of 2+ CPUs, the same backlog grows the
 * pool, and after idle_timeout it shrinks back to min. */
static void test_auto_follows_affinity(void **state)
{
	cpu_set_t all, one;
	assert_int_equal(sched_getaffinity(0, sizeof all, &all), 0);
	int ncpu = CPU_COUNT(&all);
	int first = 0;
	while (!CPU_ISSET(first, &all))
		first++;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
	fixture f;
	hp_pool_config cfg = {
		.workers = 1, .max = 0, .profile = 1 /* balanced */, .memory_limit = (uint64_t)64 << 20,
		.job_timeout_ms = 60000, .idle_timeout_ms = 300,
	};
	start_cfg(&f, &cfg);
	assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
	hp_pool_set_backlog(f.pool, 1000);
	for (int i = 0; i < 5; i++)
		turn(&f, 10);
	assert_int_equal(hp_pool_alive(f.pool), 1);
	char why[128];
	assert_int_equal(hp_pool_target(f.pool, NULL, why, sizeof why), 1);
	assert_non_null(strstr(why, "1 CPU"));
	stop(&f);

	if (ncpu < 2) {
		printf("one CPU here: growth not checked\n");
		return;
	}
	/* Memory as a quiet machine reports it (a fake /proc: 8 GiB available,
	 * no PSI), so pressure on the test host cannot hold the growth back. */
	char root[] = "/tmp/hopper-test-pool-root-XXXXXX";
	assert_non_null(mkdtemp(root));
	char path[128];
	snprintf(path, sizeof path, "%s/proc", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/proc/meminfo", root);
	FILE *mf = fopen(path, "w");
	assert_non_null(mf);
	fputs("MemTotal: 16000000 kB\nMemAvailable: 8000000 kB\n", mf);
	fclose(mf);
	cfg.resources_root = root;
	start_cfg(&f, &cfg);
	hp_pool_set_backlog(f.pool, 1000);
	int want = ncpu > 8 ? 8 : ncpu;
	cfg.max = want; /* bounded, whatever this machine has */
	hp_pool_reconfigure(f.pool, &cfg);
	hp_pool_tick(f.pool, hp_now_ms());
	run_until_alive(&f, want);
	/* The backlog is gone: back to min after idle_timeout. */
	hp_pool_set_backlog(f.pool, 0);
	run_until_alive(&f, 1);
	char desc[192];
	hp_pool_describe(f.pool, desc, sizeof desc);
	assert_non_null(strstr(desc, "workers 1 (target 1"));
	stop(&f);
	unlink(path);
	snprintf(path, sizeof path, "%s/proc", root);
	rmdir(path);
	rmdir(root);
}

/* A file under a fake root, with its folders. */
static void put_file(const char *root, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s%s", root, rel);
	for (char *sl = path + strlen(root) + 1; (sl = strchr(sl, '/')); sl++) {
		*sl = '\0';
		mkdir(path, 0755);
		*sl = '/';
	}
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

#define PSI_CALM "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
#define PSI_SEVERE "some avg10=60.00 avg60=20.00 avg300=5.00 total=9\nfull avg10=50.00 avg60=10.00 avg300=2.00 total=9\n"

/* Severe memory pressure, read from a fake /proc (PSI full 50%): the pool
 * stops the youngest busy job, which comes back LOST (back to the queue),
 * leaves the last busy job running and admits no new job while it runs
 * (so the supervisor claims none); with none running, one at a time; when
 * the pressure is gone, as many as there are workers. */
static void test_severe_pressure_stops_youngest(void **state)
{
	char root[] = "/tmp/hopper-test-pool-psi-XXXXXX";
	assert_non_null(mkdtemp(root));
	put_file(root, "/proc/meminfo", "MemTotal: 16000000 kB\nMemAvailable: 8000000 kB\n");
	put_file(root, "/proc/pressure/memory", PSI_CALM);
	setenv("HOPPER_FAULT_SPIN", "spin-me", 1);
	fixture f;
	hp_pool_config cfg = {
		.workers = 2, .max = 2, .memory_limit = (uint64_t)1 << 30, .job_timeout_ms = 60000,
		.resources_root = root,
	};
	start_cfg(&f, &cfg);
	unsetenv("HOPPER_FAULT_SPIN");
	assert_int_equal(submit(&f, 121, "spin-me-old.txt", "x\n", 2), 0);
	turn(&f, 20);
	usleep(20000); /* the second job is younger by a clear margin */
	assert_int_equal(submit(&f, 122, "spin-me-new.txt", "x\n", 2), 0);
	for (int i = 0; i < 5; i++)
		turn(&f, 10);
	assert_int_equal(hp_pool_busy(f.pool), 2);
	assert_int_equal(n_outs, 0);

	put_file(root, "/proc/pressure/memory", PSI_SEVERE);
	run_until(&f, 1);
	const outcome *o = find(122);
	assert_int_equal(o->o, HP_POOL_LOST);
	assert_string_equal(o->reason, "stopped under severe memory pressure");
	pid_t old = pid_of_job(&f, 121); /* the older job still runs */
	assert_true(old > 0);
	assert_int_equal(hp_pool_idle(f.pool), 0);
	assert_int_equal(submit(&f, 123, "a.txt", "text\n", 5), -EBUSY);
	char why[128];
	hp_pool_target(f.pool, NULL, why, sizeof why);
	assert_non_null(strstr(why, "severe memory pressure (PSI full 50.0%"));
	/* Longer than the 2 s between two stops: the last busy job is left. */
	uint64_t t0 = hp_now_ms();
	while (hp_now_ms() - t0 < 2500)
		turn(&f, 50);
	assert_int_equal(n_outs, 1);
	assert_int_equal(pid_of_job(&f, 121), old);
	assert_int_equal(hp_pool_idle(f.pool), 0);

	/* Still severe, nothing running: one job at a time. */
	assert_int_equal(kill(old, SIGKILL), 0);
	run_until(&f, 2);
	for (int i = 0; i < 6000 && hp_pool_idle(f.pool) < 1; i++)
		turn(&f, 10);
	assert_int_equal(hp_pool_idle(f.pool), 1);
	assert_int_equal(submit(&f, 124, "spin-me-3.txt", "x\n", 2), 0);
	assert_int_equal(submit(&f, 125, "b.txt", "text\n", 5), -EBUSY);
	/* The pressure is gone: both workers take jobs again. */
	put_file(root, "/proc/pressure/memory", PSI_CALM);
	for (int i = 0; i < 6000 && hp_pool_idle(f.pool) < 1; i++)
		turn(&f, 10);
	assert_true(hp_pool_idle(f.pool) >= 1);
	assert_int_equal(submit(&f, 125, "b.txt", "text\n", 5), 0);
	run_until(&f, 3);
	assert_int_equal(find(125)->o, HP_POOL_DONE);
	assert_int_equal(kill(pid_of_job(&f, 124), SIGKILL), 0);
	run_until(&f, 4);
	stop(&f);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void slurp(const char *path, char *buf, size_t len)
{
	buf[0] = '\0';
	FILE *fp = fopen(path, "r");
	if (!fp)
		return;
	size_t n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

/* A delegated cgroup v2 (a fake /sys/fs/cgroup the pool is pointed at):
 * our processes move into a "supervisor" leaf, the memory controller is
 * enabled for the children, each worker gets a cgroup of its own with
 * memory.max = memory_limit and oom.group, and moves itself in (writes
 * "0" to its cgroup.procs) before it runs; a worker the kernel kills at
 * memory.max (memory.events oom_kill) gets a reason that says so. Without
 * the memory controller, nothing of that is made. */
static void test_worker_cgroup_delegated(void **state)
{
	char root[] = "/tmp/hopper-test-pool-cg-XXXXXX";
	assert_non_null(mkdtemp(root));
	char pidline[32], path[512], buf[256];
	snprintf(pidline, sizeof pidline, "%d\n", (int)getpid());
	put_file(root, "/proc/self/cgroup", "0::/system.slice/hopperd.service\n");
	put_file(root, "/proc/meminfo", "MemTotal: 16000000 kB\nMemAvailable: 8000000 kB\n");
	put_file(root, "/sys/fs/cgroup/system.slice/hopperd.service/cgroup.controllers", "cpu io memory pids\n");
	put_file(root, "/sys/fs/cgroup/system.slice/hopperd.service/cgroup.subtree_control", "");
	put_file(root, "/sys/fs/cgroup/system.slice/hopperd.service/cgroup.procs", pidline);
	const char *base = "/sys/fs/cgroup/system.slice/hopperd.service";
	/* As root, writable is not enough: systemd's mark of a delegated cgroup. */
	snprintf(path, sizeof path, "%s%s", root, base);
	if (setxattr(path, "trusted.delegate", "1", 1, 0) < 0 && geteuid() == 0) {
		printf("skip: cannot set trusted.delegate on %s: %s\n", path, strerror(errno));
		skip();
	}
	setenv("HOPPER_FAULT_SPIN", "spin-me", 1);
	fixture f;
	hp_pool_config cfg = {
		.workers = 1, .max = 1, .memory_limit = (uint64_t)256 << 20, .job_timeout_ms = 60000,
		.resources_root = root,
	};
	start_cfg(&f, &cfg);
	unsetenv("HOPPER_FAULT_SPIN");
	snprintf(path, sizeof path, "%s%s/cgroup.subtree_control", root, base);
	slurp(path, buf, sizeof buf);
	assert_string_equal(buf, "+memory");
	snprintf(path, sizeof path, "%s%s/supervisor/cgroup.procs", root, base);
	slurp(path, buf, sizeof buf);
	assert_int_equal(atoi(buf), (int)getpid());
	/* A job done proves the worker ran (after it moved itself). */
	assert_int_equal(submit(&f, 131, "a.txt", "text\n", 5), 0);
	run_until(&f, 1);
	assert_int_equal(find(131)->o, HP_POOL_DONE);
	snprintf(path, sizeof path, "%s%s/worker-1/memory.max", root, base);
	slurp(path, buf, sizeof buf);
	assert_string_equal(buf, "268435456");
	snprintf(path, sizeof path, "%s%s/worker-1/memory.oom.group", root, base);
	slurp(path, buf, sizeof buf);
	assert_string_equal(buf, "1");
	snprintf(path, sizeof path, "%s%s/worker-1/cgroup.procs", root, base);
	slurp(path, buf, sizeof buf);
	assert_string_equal(buf, "0");
	/* The kernel's cgroup OOM kill, as memory.events shows it. */
	assert_int_equal(submit(&f, 132, "spin-me.txt", "x\n", 2), 0);
	for (int i = 0; i < 5; i++)
		turn(&f, 10);
	put_file(root, "/sys/fs/cgroup/system.slice/hopperd.service/worker-1/memory.events",
	         "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 1\n");
	assert_int_equal(kill(pid_of_job(&f, 132), SIGKILL), 0);
	run_until(&f, 2);
	assert_string_equal(find(132)->reason, "worker went over memory_limit = 256 MiB (its cgroup's memory.max)");
	/* Its replacement gets a cgroup of its own. */
	run_until_alive(&f, 1);
	snprintf(path, sizeof path, "%s%s/worker-2/memory.max", root, base);
	assert_int_equal(access(path, F_OK), 0);
	stop(&f);

	/* No memory controller for us: RLIMIT_AS only, no worker cgroup. */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s%s'", root, base);
	assert_int_equal(system(cmd), 0);
	put_file(root, "/sys/fs/cgroup/system.slice/hopperd.service/cgroup.controllers", "cpu io pids\n");
	put_file(root, "/sys/fs/cgroup/system.slice/hopperd.service/cgroup.subtree_control", "");
	snprintf(path, sizeof path, "%s%s", root, base);
	setxattr(path, "trusted.delegate", "1", 1, 0);
	start_cfg(&f, &cfg);
	snprintf(path, sizeof path, "%s%s/worker-1", root, base);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof path, "%s%s/supervisor", root, base);
	assert_int_equal(access(path, F_OK), -1);
	stop(&f);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* The same on the real cgroup v2 of this machine, where it can run: as
 * root, with the memory controller in the unified hierarchy: the test
 * process moves into a fresh cgroup (as under Delegate=), a worker must then
 * run in a child cgroup with memory.max set. Skipped elsewhere, saying why. */
static void test_worker_cgroup_real(void **state)
{
	char buf[512];
	slurp("/sys/fs/cgroup/cgroup.controllers", buf, sizeof buf);
	if (getuid() != 0 || !strstr(buf, "memory")) {
		printf("skip: needs root and the memory controller in a cgroup v2 at /sys/fs/cgroup "
		       "(here: %s)\n", getuid() ? "not root" : "no memory controller there; a v1 or hybrid hierarchy");
		skip();
	}
	char own[256];
	slurp("/proc/self/cgroup", buf, sizeof buf);
	char *z = strstr(buf, "0::");
	assert_non_null(z);
	snprintf(own, sizeof own, "%s", z + 3);
	own[strcspn(own, "\n")] = '\0';
	char dir[512], path[600], pidline[32];
	snprintf(dir, sizeof dir, "/sys/fs/cgroup/hopper-test-pool-%d", (int)getpid());
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(setxattr(dir, "trusted.delegate", "1", 1, 0), 0); /* as systemd marks it */
	snprintf(pidline, sizeof pidline, "%d", (int)getpid());
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(pidline, fp);
	assert_int_equal(fclose(fp), 0);
	fixture f;
	hp_pool_config cfg = { .workers = 1, .max = 1, .memory_limit = (uint64_t)256 << 20, .job_timeout_ms = 60000 };
	start_cfg(&f, &cfg);
	assert_int_equal(submit(&f, 141, "a.txt", "text\n", 5), 0);
	run_until(&f, 1);
	hp_worker_info wi[4];
	assert_int_equal(hp_pool_list(f.pool, wi, 4), 1);
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)wi[0].pid);
	slurp(path, buf, sizeof buf);
	char want[600];
	snprintf(want, sizeof want, "0::/hopper-test-pool-%d/worker-", (int)getpid());
	if (!strstr(buf, want))
		fail_msg("worker %d is in %s, not under %s", (int)wi[0].pid, buf, want);
	char *wk = strstr(buf, "worker-");
	wk[strcspn(wk, "\n")] = '\0';
	snprintf(path, sizeof path, "%s/%s/memory.max", dir, wk);
	slurp(path, buf, sizeof buf);
	assert_int_equal(strtoull(buf, NULL, 10), (uint64_t)256 << 20);
	stop(&f);
	/* Back where we were, and tidy up. */
	snprintf(path, sizeof path, "/sys/fs/cgroup%s/cgroup.procs", own);
	fp = fopen(path, "w");
	if (fp) {
		fputs(pidline, fp);
		fclose(fp);
	}
	snprintf(path, sizeof path, "%s/supervisor", dir);
	rmdir(path);
	rmdir(dir);
}

static int find_hopperd(void)
{
	const char *env = getenv("HOPPERD");
	if (env && *env) {
		snprintf(hopperd, sizeof hopperd, "%s", env);
		return access(hopperd, X_OK);
	}
	char self[PATH_MAX - 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(hopperd, sizeof hopperd, "%s/../../hopperd", self);
			if (access(hopperd, X_OK) == 0)
				return 0;
		}
	}
	snprintf(hopperd, sizeof hopperd, "build/hopperd");
	return access(hopperd, X_OK);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--worker") == 0)
		return fake_worker(argc, argv);
	ssize_t sn = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (sn <= 0)
		return 1;
	self_exe[sn] = '\0';
	if (find_hopperd() < 0) {
		printf("no hopperd binary (set HOPPERD or build B/hopperd); skipped\n");
		return 77;
	}
	char *abs = realpath(hopperd, NULL);
	if (abs) {
		snprintf(hopperd, sizeof hopperd, "%s", abs);
		free(abs);
	}
	/* The caller of a pool reaps; we do it in turn(). */
	signal(SIGPIPE, SIG_IGN);
	/* Workers fault on file names with "crash-me" (see daemon/worker.c);
	 * sanitizer builds must let that SIGSEGV kill them as it would. */
	setenv("HOPPER_FAULT_CRASH", "crash-me", 1);
	setenv("ASAN_OPTIONS", "handle_segv=0", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_convert_formats),
		cmocka_unit_test(test_large_job),
		cmocka_unit_test(test_error_keeps_worker),
		cmocka_unit_test(test_sigsegv),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_free_reaps_all),
		cmocka_unit_test(test_broken_binary_backs_off),
		cmocka_unit_test(test_protocol_violations),
		cmocka_unit_test(test_worker_inherits_only_fd3),
		cmocka_unit_test(test_worker_env_empty),
		cmocka_unit_test(test_worker_stderr_prefixed_and_escaped),
		cmocka_unit_test(test_worker_replaced_after_n_jobs),
		cmocka_unit_test(test_spare_started_during_risky_job),
		cmocka_unit_test(test_killed_from_outside),
		cmocka_unit_test(test_over_memory_limit),
		cmocka_unit_test(test_auto_follows_affinity),
		cmocka_unit_test(test_max_frame_follows_reload),
		cmocka_unit_test(test_cpu_backstop),
		cmocka_unit_test(test_severe_pressure_stops_youngest),
		cmocka_unit_test(test_worker_cgroup_delegated),
		cmocka_unit_test(test_worker_cgroup_real),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
