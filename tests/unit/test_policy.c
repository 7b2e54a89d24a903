/* test_policy.c — the scaling policy (lib/policy.c) on tables of inputs,
 * and resource detection (lib/resources.c) on a fake /proc + cgroup tree. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hopper/policy.h"
#include "hopper/resources.h"

#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)

static hp_resources machine(double cpus, uint64_t mem)
{
	hp_resources r;
	memset(&r, 0, sizeof r);
	r.cpus = cpus;
	r.cpus_affinity = cpus < 1 ? 1 : (int)cpus;
	r.mem_total = mem;
	r.mem_available = mem; /* an idle machine */
	return r;
}

/* ---- the ceiling for max = auto ---------------------------------------- */

typedef struct ceil_case {
	const char *what;
	double cpus, quota;
	uint64_t mem, cg_max;
	hp_profile profile;
	double mult;
	uint64_t memory_limit, rss;
	int min, max;
	int want_ceiling;
	hp_policy_why want_why;
	const char *want_reason; /* substring */
} ceil_case;

static const ceil_case ceil_cases[] = {
	{ "1 CPU", 1, 0, 8 * GIB, 0, HP_PROFILE_BALANCED, 0, 512 * MIB, 0, 1, 0, 1, HP_WHY_CPU, "cpu-bound, 1 CPU x 1" },
	{ "2 CPUs", 2, 0, 8 * GIB, 0, HP_PROFILE_BALANCED, 0, 512 * MIB, 0, 1, 0, 2, HP_WHY_CPU, "2 CPUs x 1" },
	{ "64 CPUs, 256 GiB", 64, 0, 256 * GIB, 0, HP_PROFILE_BALANCED, 0, 512 * MIB, 0, 1, 0, 64, HP_WHY_CPU, "64 CPUs" },
	{ "64 CPUs, 8 GiB: memory bounds", 64, 0, 8 * GIB, 0, HP_PROFILE_BALANCED, 0, 512 * MIB, 0, 1, 0,
	  /* 8 GiB - 10% = 7.2 GiB / 512 MiB */ 14, HP_WHY_MEMORY, "memory-bound" },
	{ "256 MiB RAM", 4, 0, 256 * MIB, 0, HP_PROFILE_BALANCED, 0, 512 * MIB, 0, 1, 0, 1, HP_WHY_MEMORY, "256.0 MiB usable" },
	{ "256 MiB RAM, small workers seen", 4, 0, 256 * MIB, 0, HP_PROFILE_AGGRESSIVE, 0, 512 * MIB, 20 * MIB, 1, 0,
	  /* (256 - 128) MiB / (2 x 20 MiB) */ 3, HP_WHY_MEMORY, "40.0 MiB per worker" },
	{ "quota 0.5 CPU", 0.5, 0.5, 8 * GIB, 0, HP_PROFILE_BALANCED, 0, 512 * MIB, 0, 1, 0, 1, HP_WHY_CPU, "0.5 CPU" },
	{ "quota 0.5 CPU, aggressive", 0.5, 0.5, 8 * GIB, 0, HP_PROFILE_AGGRESSIVE, 0, 512 * MIB, 0, 1, 0, 1, HP_WHY_CPU, "x 2" },
	{ "cgroup memory.max 1 GiB", 8, 0, 64 * GIB, 1 * GIB, HP_PROFILE_BALANCED, 0, 256 * MIB, 0, 1, 0,
	  /* 1 GiB - 256 MiB headroom = 768 MiB / 256 MiB */ 3, HP_WHY_MEMORY, "1.0 GiB usable" },
	{ "conservative halves", 8, 0, 64 * GIB, 0, HP_PROFILE_CONSERVATIVE, 0, 512 * MIB, 0, 1, 0, 4, HP_WHY_CPU, "x 0.5" },
	{ "aggressive doubles", 2, 0, 64 * GIB, 0, HP_PROFILE_AGGRESSIVE, 0, 512 * MIB, 0, 1, 0, 4, HP_WHY_CPU, "2 CPUs x 2" },
	{ "cpu_multiplier overrides the profile", 4, 0, 64 * GIB, 0, HP_PROFILE_CONSERVATIVE, 1.5, 512 * MIB, 0, 1, 0,
	  6, HP_WHY_CPU, "4 CPUs x 1.5" },
	{ "max = N overrides everything", 1, 0, 256 * MIB, 0, HP_PROFILE_BALANCED, 0, 512 * MIB, 0, 1, 7, 7, HP_WHY_MAX, "max = 7" },
	{ "never below min", 1, 0, 8 * GIB, 0, HP_PROFILE_BALANCED, 0, 512 * MIB, 0, 3, 0, 3, HP_WHY_CPU, "cpu-bound" },
	{ "no memory limit: CPUs only", 2, 0, 256 * MIB, 0, HP_PROFILE_BALANCED, 0, 0, 0, 1, 0, 2, HP_WHY_CPU, "cpu-bound" },
};

static void test_ceiling_table(void **state)
{
	for (size_t i = 0; i < sizeof ceil_cases / sizeof ceil_cases[0]; i++) {
		const ceil_case *k = &ceil_cases[i];
		hp_resources r = machine(k->cpus, k->mem);
		r.cpu_quota = k->quota;
		r.cg_mem_max = k->cg_max;
		hp_policy_config c = {
			.min = k->min, .max = k->max, .cpu_multiplier = k->mult, .profile = k->profile,
			.memory_limit = k->memory_limit, .idle_timeout_ms = 60000,
		};
		/* A big backlog: the target goes to the ceiling. */
		hp_policy_input in = { .res = &r, .alive = k->min, .backlog = 100000, .worker_rss = k->rss,
		                       .now_ms = 1000 };
		hp_policy_state st = { 0 };
		hp_policy_out out;
		hp_policy_decide(&c, &in, &st, &out);
		if (out.ceiling != k->want_ceiling || out.target != k->want_ceiling ||
		    out.ceiling_why != k->want_why || !strstr(out.reason, k->want_reason))
			fail_msg("%s: ceiling %d target %d why %d reason \"%s\"; want %d why %d \"%s\"", k->what,
			         out.ceiling, out.target, out.ceiling_why, out.reason, k->want_ceiling, k->want_why,
			         k->want_reason);
	}
}

/* ---- growing, holding, shrinking --------------------------------------- */

typedef struct step {
	uint64_t now_ms;
	int alive, busy;
	int64_t backlog;
	uint64_t job_ms;
	int want_target;
	hp_policy_why want_why;
} step;

static void run_steps(const char *what, const hp_policy_config *c, const hp_resources *r, const step *s,
                      size_t n)
{
	hp_policy_state st = { 0 };
	for (size_t i = 0; i < n; i++) {
		hp_policy_input in = { .res = r, .alive = s[i].alive, .busy = s[i].busy, .backlog = s[i].backlog,
		                       .job_ms = s[i].job_ms, .now_ms = s[i].now_ms };
		hp_policy_out out;
		hp_policy_decide(c, &in, &st, &out);
		if (out.target != s[i].want_target || out.why != s[i].want_why)
			fail_msg("%s, step %zu (t=%llu): target %d why %d (\"%s\"); want %d why %d", what, i,
			         (unsigned long long)s[i].now_ms, out.target, out.why, out.reason, s[i].want_target,
			         s[i].want_why);
		assert_true(out.batch >= 1);
		/* No pressure: no cap on jobs in flight, nothing stopped. */
		assert_int_equal(out.admit, -1);
		assert_int_equal(out.preempt, 0);
	}
}

static void test_scale_with_backlog(void **state)
{
	hp_resources r = machine(8, 64 * GIB);
	hp_policy_config c = { .min = 1, .profile = HP_PROFILE_BALANCED, .memory_limit = 512 * MIB,
	                       .idle_timeout_ms = 60000 };
	static const step s[] = {
		{ 1000, 1, 0, 0, 0, 1, HP_WHY_MIN },           /* nothing to do */
		{ 2000, 1, 1, 3, 0, 4, HP_WHY_BACKLOG },       /* 1 busy + 3 waiting: 4 */
		{ 3000, 4, 4, 1000, 0, 8, HP_WHY_CPU },        /* to the ceiling at once */
		{ 4000, 8, 8, 1000, 0, 8, HP_WHY_CPU },
		{ 5000, 8, 2, 0, 0, 8, HP_WHY_HOLD },          /* surplus: hold */
		{ 30000, 8, 2, 0, 0, 8, HP_WHY_HOLD },         /* still within idle_timeout */
		{ 10000 + 5000 - 10000 + 60000, 8, 2, 0, 0, 2, HP_WHY_IDLE }, /* 60 s after 5000: shrink */
		{ 66000, 2, 0, 0, 0, 2, HP_WHY_HOLD },         /* 0 needed now: a new surplus */
		{ 126000, 2, 0, 0, 0, 1, HP_WHY_MIN },         /* idle_timeout later: min */
	};
	run_steps("backlog", &c, &r, s, sizeof s / sizeof s[0]);
}

/* Fast jobs: a backlog the workers finish soon does not need more of them. */
static void test_fast_jobs_do_not_grow(void **state)
{
	hp_resources r = machine(8, 64 * GIB);
	hp_policy_config c = { .min = 1, .profile = HP_PROFILE_BALANCED, .memory_limit = 512 * MIB,
	                       .idle_timeout_ms = 60000 };
	static const step s[] = {
		{ 1000, 1, 1, 50, 10, 1, HP_WHY_MIN },      /* 51 x 10 ms = 0.5 s < 2 s: one worker */
		{ 2000, 1, 1, 500, 10, 3, HP_WHY_BACKLOG }, /* 501 x 10 ms = 5 s: 3 workers */
		{ 3000, 3, 3, 5000, 100, 8, HP_WHY_CPU },   /* slow jobs, big backlog: ceiling */
	};
	run_steps("fast jobs", &c, &r, s, sizeof s / sizeof s[0]);
}

/* Flapping backlog (0, 10, 0, 10 ...) inside idle_timeout: the target
 * stays up instead of going up and down. */
static void test_no_flapping(void **state)
{
	hp_resources r = machine(4, 64 * GIB);
	hp_policy_config c = { .min = 1, .profile = HP_PROFILE_BALANCED, .memory_limit = 512 * MIB,
	                       .idle_timeout_ms = 10000 };
	hp_policy_state st = { 0 };
	int changes = 0, last = 0;
	for (int t = 0; t < 100; t++) {
		hp_policy_input in = { .res = &r, .alive = last ? last : 1, .busy = t % 2 ? 0 : 4,
		                       .backlog = t % 2 ? 0 : 10, .now_ms = 1000 + (uint64_t)t * 1000 };
		hp_policy_out out;
		hp_policy_decide(&c, &in, &st, &out);
		if (last && out.target != last)
			changes++;
		last = out.target;
	}
	assert_int_equal(last, 4);
	assert_int_equal(changes, 0);
}

/* ---- memory pressure ---------------------------------------------------- */

static void test_pressure_sheds_and_recovers(void **state)
{
	hp_resources r = machine(8, 16 * GIB);
	hp_policy_config c = { .min = 2, .profile = HP_PROFILE_BALANCED, .memory_limit = 512 * MIB,
	                       .idle_timeout_ms = 60000 };
	hp_policy_state st = { 0 };
	hp_policy_out out;
	hp_policy_input in = { .res = &r, .alive = 2, .busy = 2, .backlog = 1000, .now_ms = 1000 };
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.target, 8);

	/* PSI says tasks stall on memory 30% of the time: shed one per 5 s,
	 * below min, down to 1, and never grow. */
	r.psi = true;
	r.psi_some_avg10 = 30;
	int want[] = { 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 1 };
	int alive = 8;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		in.now_ms = 10000 + (uint64_t)i * 2500;
		in.alive = alive;
		in.busy = alive;
		hp_policy_decide(&c, &in, &st, &out);
		if (out.target != want[i] || out.why != HP_WHY_PRESSURE)
			fail_msg("pressure step %zu: target %d why %d, want %d", i, out.target, out.why, want[i]);
		assert_non_null(strstr(out.reason, "memory pressure (PSI 30.0%"));
		alive = out.target;
	}
	/* Below the entry threshold but above the exit one: still pressure
	 * (hysteresis), not growing. */
	r.psi_some_avg10 = 5;
	in.now_ms += 1000;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.why, HP_WHY_PRESSURE);
	assert_int_equal(out.target, 1);
	/* Clear: grows again. */
	r.psi_some_avg10 = 0.5;
	in.now_ms += 1000;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.target, 8);
}

static void test_pressure_from_low_free_memory(void **state)
{
	/* 4 GiB machine, 10% headroom = 409 MiB; only 300 MiB available. */
	hp_resources r = machine(4, 4 * GIB);
	r.mem_available = 300 * MIB;
	hp_policy_config c = { .min = 1, .profile = HP_PROFILE_BALANCED, .memory_limit = 256 * MIB,
	                       .idle_timeout_ms = 60000 };
	hp_policy_state st = { .target = 3 };
	hp_policy_input in = { .res = &r, .alive = 3, .busy = 3, .backlog = 1000, .now_ms = 100000 };
	hp_policy_out out;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.why, HP_WHY_PRESSURE);
	assert_int_equal(out.target, 2);

	/* cgroup: memory.max 1 GiB with 800 MiB in use leaves 224 MiB, under
	 * the 256 MiB headroom (but not under half of it: not severe). */
	r = machine(4, 64 * GIB);
	r.cg_mem_max = 1 * GIB;
	r.cg_mem_current = 800 * MIB;
	st = (hp_policy_state){ .target = 2 };
	in.alive = 2;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.why, HP_WHY_PRESSURE);
	assert_int_equal(out.target, 1);
}

/* Under pressure the busy workers may not exceed the target: as it sheds,
 * no new job is admitted (and so none claimed) until busy < target. */
static void test_pressure_admits_up_to_target(void **state)
{
	hp_resources r = machine(4, 16 * GIB);
	hp_policy_config c = { .min = 1, .profile = HP_PROFILE_BALANCED, .memory_limit = 512 * MIB,
	                       .idle_timeout_ms = 60000 };
	hp_policy_state st = { .target = 4 };
	r.psi = true;
	r.psi_some_avg10 = 30; /* some, not full: pressure, not severe */
	hp_policy_input in = { .res = &r, .alive = 4, .busy = 4, .backlog = 1000, .now_ms = 100000 };
	hp_policy_out out;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.why, HP_WHY_PRESSURE);
	assert_int_equal(out.target, 3);
	assert_int_equal(out.admit, 3); /* 4 busy: nothing more until one ends */
	assert_int_equal(out.preempt, 0); /* busy jobs are left to finish */
	in.now_ms += 1000;
	in.busy = 2;
	in.alive = 3;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.admit, 3); /* room for one more */
	assert_int_equal(out.preempt, 0);
}

/* Severe pressure (free memory below half the headroom, or PSI full):
 * one job in flight at most, one busy worker stopped every 2 s while more
 * than one is busy; the last is left to finish. Leaving severe goes back through
 * ordinary pressure (admit = target), then to no limit. */
static void test_severe_pressure_preempts(void **state)
{
	/* 8 GiB: balanced headroom 819 MiB; 300 MiB free is below half. */
	hp_resources r = machine(8, 8 * GIB);
	r.mem_available = 300 * MIB;
	hp_policy_config c = { .min = 2, .profile = HP_PROFILE_BALANCED, .memory_limit = 256 * MIB,
	                       .idle_timeout_ms = 60000 };
	hp_policy_state st = { .target = 4 };
	hp_policy_input in = { .res = &r, .alive = 4, .busy = 4, .backlog = 1000 };
	hp_policy_out out;
	struct { uint64_t t; int busy; int preempt; int max_target; } steps[] = {
		{ 1000, 4, 1, 3 },  /* at once */
		{ 1500, 3, 0, 3 },  /* within 2 s of the last: wait */
		{ 3000, 3, 1, 2 },
		{ 5000, 2, 1, 1 },
		{ 7000, 1, 0, 1 },  /* the last busy job finishes */
		{ 20000, 1, 0, 1 },
		{ 21000, 0, 0, 1 },
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		in.now_ms = steps[i].t;
		in.busy = steps[i].busy;
		in.alive = steps[i].busy > 0 ? steps[i].busy : 1;
		hp_policy_decide(&c, &in, &st, &out);
		if (out.why != HP_WHY_SEVERE || out.admit != 1 || out.preempt != steps[i].preempt ||
		    out.target > steps[i].max_target || out.target < 1)
			fail_msg("severe step %zu: why %d admit %d preempt %d target %d (\"%s\")", i, out.why,
			         out.admit, out.preempt, out.target, out.reason);
		assert_non_null(strstr(out.reason, "severe memory pressure (300.0 MiB free)"));
	}
	/* 700 MiB free: above half the headroom but not above it: still
	 * severe (hysteresis). */
	r.mem_available = 700 * MIB;
	in.now_ms += 1000;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.why, HP_WHY_SEVERE);
	/* 1 GiB free: above the headroom, below 1.5 x: ordinary pressure. */
	r.mem_available = 1 * GIB;
	in.now_ms += 1000;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.why, HP_WHY_PRESSURE);
	assert_int_equal(out.admit, out.target);
	assert_int_equal(out.preempt, 0);
	/* Clear: no limit again, and the pool grows for the backlog. */
	r.mem_available = 6 * GIB;
	in.now_ms += 1000;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.admit, -1);
	assert_int_equal(out.preempt, 0);
	assert_true(out.target > 1);
}

/* PSI full (every task stalled) is severe on its own, with memory free. */
static void test_psi_full_is_severe(void **state)
{
	hp_resources r = machine(2, 16 * GIB);
	r.psi = true;
	r.psi_some_avg10 = 40;
	r.psi_full_avg10 = 25;
	hp_policy_config c = { .min = 1, .profile = HP_PROFILE_BALANCED, .memory_limit = 512 * MIB,
	                       .idle_timeout_ms = 60000 };
	hp_policy_state st = { .target = 2 };
	hp_policy_input in = { .res = &r, .alive = 2, .busy = 2, .backlog = 10, .now_ms = 50000 };
	hp_policy_out out;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.why, HP_WHY_SEVERE);
	assert_int_equal(out.admit, 1);
	assert_int_equal(out.preempt, 1);
	assert_non_null(strstr(out.reason, "PSI full 25.0%"));
	/* Full falls under the entry threshold but not the exit one: still
	 * severe; under the exit one: ordinary pressure (some is still 40%). */
	r.psi_full_avg10 = 5;
	in.now_ms += 1000;
	in.busy = 1;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.why, HP_WHY_SEVERE);
	assert_int_equal(out.preempt, 0);
	r.psi_full_avg10 = 1;
	in.now_ms += 1000;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.why, HP_WHY_PRESSURE);
	/* The profile sets the threshold: aggressive enters severe at 20%
	 * full, so 15% is not severe and 25% is. */
	c.profile = HP_PROFILE_AGGRESSIVE;
	st = (hp_policy_state){ .target = 2 };
	r.psi_some_avg10 = 15;
	r.psi_full_avg10 = 15;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_not_equal(out.why, HP_WHY_SEVERE);
	r.psi_full_avg10 = 25;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.why, HP_WHY_SEVERE);
}

static void test_batch_follows_profile(void **state)
{
	hp_resources r = machine(4, 64 * GIB);
	hp_policy_config c = { .min = 1, .memory_limit = 512 * MIB, .idle_timeout_ms = 60000 };
	int want[] = { 2, 8, 32 }; /* 2 x 1, 4 x 2, 8 x 4 */
	for (int p = 0; p < 3; p++) {
		c.profile = (hp_profile)p;
		hp_policy_state st = { 0 };
		hp_policy_input in = { .res = &r, .alive = 1, .backlog = 1000, .now_ms = 1000 };
		hp_policy_out out;
		hp_policy_decide(&c, &in, &st, &out);
		assert_int_equal(out.batch, want[p]);
	}
}

/* ---- resource detection on a fake tree ---------------------------------- */

static void put(const char *root, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s%s", root, rel);
	for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(path, 0755);
		*s = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_detect_cgroup_and_psi(void **state)
{
	char root[] = "/tmp/hopper-test-policy-XXXXXX";
	assert_non_null(mkdtemp(root));
	put(root, "/proc/self/cgroup", "0::/system.slice/hopperd.service\n");
	put(root, "/proc/meminfo", "MemTotal:       8000000 kB\nMemFree:  100 kB\nMemAvailable:   2000000 kB\n");
	put(root, "/proc/pressure/memory", "some avg10=12.50 avg60=1.00 avg300=0.00 total=1\n"
	                                   "full avg10=3.00 avg60=0.00 avg300=0.00 total=1\n");
	put(root, "/sys/fs/cgroup/cpu.max", "max 100000\n");
	put(root, "/sys/fs/cgroup/system.slice/cpu.max", "150000 100000\n");
	put(root, "/sys/fs/cgroup/system.slice/hopperd.service/cpu.max", "50000 100000\n");
	put(root, "/sys/fs/cgroup/system.slice/memory.max", "max\n");
	put(root, "/sys/fs/cgroup/system.slice/hopperd.service/memory.max", "1073741824\n");
	put(root, "/sys/fs/cgroup/system.slice/hopperd.service/memory.high", "max\n");
	put(root, "/sys/fs/cgroup/system.slice/hopperd.service/memory.current", "104857600\n");

	hp_resources r;
	hp_resources_detect(root, &r);
	assert_string_equal(r.cgroup, "/system.slice/hopperd.service");
	assert_true(r.cpu_quota > 0.49 && r.cpu_quota < 0.51);
	assert_true(r.cpus > 0.49 && r.cpus < 0.51);
	assert_true(r.cpus_affinity >= 1);
	assert_int_equal(r.mem_total, 8000000ULL * 1024);
	assert_int_equal(r.mem_available, 2000000ULL * 1024);
	assert_int_equal(r.cg_mem_max, GIB);
	assert_int_equal(r.cg_mem_high, 0);
	assert_int_equal(r.cg_mem_current, 100 * MIB);
	assert_true(r.psi);
	assert_true(r.psi_some_avg10 > 12.4 && r.psi_some_avg10 < 12.6);
	assert_int_equal(hp_resources_mem_usable(&r), GIB);
	assert_int_equal(hp_resources_mem_free(&r), GIB - 100 * MIB);
	char line[256];
	hp_resources_describe(&r, line, sizeof line);
	assert_non_null(strstr(line, "0.5 CPU(s)"));
	assert_non_null(strstr(line, "cgroup quota 0.50"));
	assert_non_null(strstr(line, "memory pressure 12.5%"));

	/* And the policy on what was detected: half a CPU, one worker. */
	hp_policy_config c = { .min = 1, .profile = HP_PROFILE_BALANCED, .memory_limit = 512 * MIB,
	                       .idle_timeout_ms = 60000 };
	hp_policy_state st = { 0 };
	hp_policy_input in = { .res = &r, .alive = 1, .backlog = 100, .now_ms = 1000 };
	hp_policy_out out;
	hp_policy_decide(&c, &in, &st, &out);
	assert_int_equal(out.ceiling, 1);

	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* No cgroup v2, no PSI: nothing invented. */
static void test_detect_nothing(void **state)
{
	char root[] = "/tmp/hopper-test-policy-XXXXXX";
	assert_non_null(mkdtemp(root));
	hp_resources r;
	hp_resources_detect(root, &r);
	assert_string_equal(r.cgroup, "");
	assert_true(r.cpu_quota == 0);
	assert_int_equal(r.cg_mem_max, 0);
	assert_false(r.psi);
	assert_true(r.cpus >= 1);
	rmdir(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling_table),
		cmocka_unit_test(test_scale_with_backlog),
		cmocka_unit_test(test_fast_jobs_do_not_grow),
		cmocka_unit_test(test_no_flapping),
		cmocka_unit_test(test_pressure_sheds_and_recovers),
		cmocka_unit_test(test_pressure_from_low_free_memory),
		cmocka_unit_test(test_pressure_admits_up_to_target),
		cmocka_unit_test(test_severe_pressure_preempts),
		cmocka_unit_test(test_psi_full_is_severe),
		cmocka_unit_test(test_batch_follows_profile),
		cmocka_unit_test(test_detect_cgroup_and_psi),
		cmocka_unit_test(test_detect_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
