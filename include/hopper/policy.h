/* policy.h — how many converter workers, and how many jobs to claim at once.
 *
 * What it does: one pure function from (configuration, detected resources,
 * backlog, workers alive and busy, recent job time and worker RSS, memory
 * pressure, the clock) to a target worker count, the ceiling it may grow
 * to, a claim batch size and the reason in words. State that gives
 * hysteresis (when the surplus began, the last shed) lives in an
 * hp_policy_state the caller keeps between calls.
 * What it never does: I/O, allocation, signals. Unit-tested on tables
 * (tests/unit/test_policy.c).
 *
 * The rules:
 * - ceiling: max = N as configured; else max = auto:
 *   min(usable CPUs x cpu_multiplier (rounded down, at least 1),
 *       (usable memory - headroom) / per-worker memory), never below min.
 *   Per-worker memory is memory_limit, or twice the observed worker RSS
 *   when that is known and smaller (at least 32 MiB).
 * - grow at once toward what the backlog needs: enough workers that the
 *   busy jobs plus the backlog finish within `soon` (from the recent job
 *   time; one worker per waiting job when that is unknown);
 * - shrink only after the surplus has lasted idle_timeout (no flapping);
 * - memory pressure (PSI some avg10 over the profile's threshold, or free
 *   memory below the headroom): never grow; shed one worker every 5 s down
 *   to 1 (below min), until the pressure is well below the threshold again;
 *   and admit no job beyond the target (`admit`), so no new job is claimed
 *   while the busy workers are at or above it.
 * - severe memory pressure (PSI full avg10 over the profile's threshold, or
 *   free memory below half the headroom): at most one job in flight (no new
 *   job while one runs; one when none does, so a machine that is always
 *   this short of memory still converts), and stop
 *   one busy worker every 2 s (`preempt`; the pool picks the youngest job,
 *   which loses the least work) while more than one is busy, so memory is
 *   given back before the kernel's OOM killer picks a victim of its own.
 *   The last busy job is left to finish: it is bounded by memory_limit, and
 *   stopping it would only stall. Severe ends when free memory is back above
 *   the headroom and PSI full below the exit threshold.
 */
#ifndef HOPPER_POLICY_H
#define HOPPER_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hopper/resources.h"

typedef enum hp_profile {
	HP_PROFILE_CONSERVATIVE = 0, /* shares the machine: 0.5 worker/CPU, big headroom */
	HP_PROFILE_BALANCED = 1,     /* default: 1 worker/CPU */
	HP_PROFILE_AGGRESSIVE = 2,   /* owns the machine: 2 workers/CPU, small headroom */
} hp_profile;

typedef struct hp_policy_config {
	int min;                  /* >= 1 */
	int max;                  /* 0 = auto */
	double cpu_multiplier;    /* 0 = the profile's */
	hp_profile profile;
	uint64_t memory_limit;    /* per worker, bytes; 0 = none */
	uint64_t idle_timeout_ms;
} hp_policy_config;

typedef struct hp_policy_input {
	const hp_resources *res;  /* borrowed */
	int alive;                /* workers running */
	int busy;                 /* of those, with a job */
	int64_t backlog;          /* jobs waiting; < 0 unknown (treated as 0) */
	uint64_t job_ms;          /* recent mean conversion time; 0 unknown */
	uint64_t worker_rss;      /* recent peak worker RSS, bytes; 0 unknown */
	uint64_t now_ms;          /* monotonic */
} hp_policy_input;

/* Zero-initialise before the first call; the policy keeps it. */
typedef struct hp_policy_state {
	int target;               /* 0 before the first decision */
	uint64_t surplus_since_ms;
	uint64_t last_shed_ms;
	bool pressure;
	bool severe;
	uint64_t last_preempt_ms;
} hp_policy_state;

typedef enum hp_policy_why {
	HP_WHY_MIN,       /* at min: nothing to do */
	HP_WHY_BACKLOG,   /* grown for the backlog, below the ceiling */
	HP_WHY_CPU,       /* at the ceiling, which the CPUs set */
	HP_WHY_MEMORY,    /* at the ceiling, which memory sets */
	HP_WHY_MAX,       /* at the ceiling, max = N from the configuration */
	HP_WHY_HOLD,      /* surplus, waiting for idle_timeout before shrinking */
	HP_WHY_IDLE,      /* shrunk after idle_timeout */
	HP_WHY_PRESSURE,  /* memory pressure: not growing, shedding */
	HP_WHY_SEVERE,    /* severe memory pressure: one job at a time, stopping busy ones */
} hp_policy_why;

typedef struct hp_policy_out {
	int ceiling;              /* most workers now */
	int target;               /* workers to have now */
	int batch;                /* jobs to claim at once */
	int admit;                /* most jobs in flight now; < 0 = no limit */
	int preempt;              /* busy workers to stop now (their jobs go back) */
	hp_policy_why why;
	hp_policy_why ceiling_why; /* HP_WHY_CPU, _MEMORY or _MAX */
	char reason[128];         /* "cpu-bound, 2 CPUs x 1.0", "backlog 12", ... */
} hp_policy_out;

void hp_policy_decide(const hp_policy_config *c, const hp_policy_input *in, hp_policy_state *st,
                      hp_policy_out *out);

/* The profile's defaults (exposed for --check-config, bench and tests). */
double hp_policy_multiplier(hp_profile p);
uint64_t hp_policy_headroom(hp_profile p, uint64_t mem_usable);
const char *hp_profile_name(hp_profile p);

#endif
