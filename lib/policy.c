/* policy.c — the pure scaling policy, see include/hopper/policy.h */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/policy.h"

#define MIB ((uint64_t)1 << 20)
/* No configuration may go beyond this many workers (config.c: max 256). */
#define HP_POLICY_HARD_MAX 256
#define HP_POLICY_MIN_WORKER_MEM (32 * MIB)
#define HP_POLICY_SHED_MS 5000
/* Under severe pressure, one busy worker stopped per this long: time for
 * the memory to come back and show in the readings before the next. */
#define HP_POLICY_PREEMPT_MS 2000
#define HP_POLICY_MAX_BATCH 256

typedef struct profile_defaults {
	const char *name;
	double multiplier;     /* workers per usable CPU */
	uint64_t headroom_min; /* memory left for PostgreSQL, the supervisor, the rest */
	unsigned headroom_pct; /* ... or this share of usable memory, if larger */
	unsigned batch_factor; /* claim batch = target x this */
	uint64_t soon_ms;      /* the backlog should be done within this */
	double psi_on, psi_off; /* PSI some avg10 (%) that starts / ends pressure */
} profile_defaults;

static const profile_defaults profiles[] = {
	[HP_PROFILE_CONSERVATIVE] = { "conservative", 0.5, 512 * MIB, 25, 1, 10000, 5.0, 1.0 },
	[HP_PROFILE_BALANCED] = { "balanced", 1.0, 256 * MIB, 10, 2, 2000, 10.0, 2.0 },
	[HP_PROFILE_AGGRESSIVE] = { "aggressive", 2.0, 128 * MIB, 5, 4, 500, 20.0, 5.0 },
};

static const profile_defaults *prof(hp_profile p)
{
	return (unsigned)p < HP_ARRAY_SIZE(profiles) ? &profiles[p] : &profiles[HP_PROFILE_BALANCED];
}

const char *hp_profile_name(hp_profile p)
{
	return prof(p)->name;
}

double hp_policy_multiplier(hp_profile p)
{
	return prof(p)->multiplier;
}

uint64_t hp_policy_headroom(hp_profile p, uint64_t mem_usable)
{
	const profile_defaults *d = prof(p);
	uint64_t pct = mem_usable / 100 * d->headroom_pct;
	return pct > d->headroom_min ? pct : d->headroom_min;
}

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void size_str(uint64_t b, char *out, size_t n)
{
	hp_format_size(b, out, n);
}

/* The ceiling from configuration, CPUs and memory; its reason in out. */
static int ceiling(const hp_policy_config *c, const hp_policy_input *in, hp_policy_out *out)
{
	const hp_resources *res = in->res;
	int min = c->min > 0 ? c->min : 1;
	if (c->max > 0) {
		out->ceiling_why = HP_WHY_MAX;
		snprintf(out->reason, sizeof out->reason, "max = %d", c->max);
		return clamp(c->max, min, HP_POLICY_HARD_MAX);
	}
	double mult = c->cpu_multiplier > 0 ? c->cpu_multiplier : prof(c->profile)->multiplier;
	double cpus = res && res->cpus > 0 ? res->cpus : 1;
	int by_cpu = (int)floor(cpus * mult + 1e-9);
	if (by_cpu < 1)
		by_cpu = 1;

	int by_mem = HP_POLICY_HARD_MAX;
	uint64_t usable = res ? hp_resources_mem_usable(res) : 0;
	uint64_t per = c->memory_limit;
	if (in->worker_rss) {
		uint64_t seen = in->worker_rss * 2;
		if (seen < HP_POLICY_MIN_WORKER_MEM)
			seen = HP_POLICY_MIN_WORKER_MEM;
		if (!per || seen < per)
			per = seen;
	}
	if (usable && per) {
		uint64_t head = hp_policy_headroom(c->profile, usable);
		uint64_t left = usable > head ? usable - head : 0;
		uint64_t n = left / per;
		by_mem = n < 1 ? 1 : n > HP_POLICY_HARD_MAX ? HP_POLICY_HARD_MAX : (int)n;
	}
	int ceil_n;
	if (by_mem < by_cpu) {
		char u[32], p[32];
		size_str(usable, u, sizeof u);
		size_str(per, p, sizeof p);
		out->ceiling_why = HP_WHY_MEMORY;
		snprintf(out->reason, sizeof out->reason, "memory-bound, %s usable / %s per worker", u, p);
		ceil_n = by_mem;
	} else {
		out->ceiling_why = HP_WHY_CPU;
		snprintf(out->reason, sizeof out->reason, "cpu-bound, %.3g CPU%s x %.1f", cpus,
		         cpus == 1 ? "" : "s", mult);
		ceil_n = by_cpu;
	}
	return clamp(ceil_n, min, HP_POLICY_HARD_MAX);
}

/* Pressure: 0 none, 1 pressure, 2 severe.
 * Pressure starts at PSI some >= psi_on or free memory below the headroom;
 * it ends only when both are well clear (psi_off, 1.5 x headroom).
 * Severe starts at PSI full >= psi_on (every task stalled that share of the
 * time) or free memory below half the headroom; it ends when PSI full is
 * below psi_off and free memory is back above the headroom. Hysteresis at
 * both levels, so a reading near a threshold does not flap. */
static int pressure(const hp_policy_config *c, const hp_policy_input *in, const hp_policy_state *st)
{
	const hp_resources *res = in->res;
	if (!res)
		return 0;
	const profile_defaults *d = prof(c->profile);
	uint64_t usable = hp_resources_mem_usable(res);
	uint64_t head = usable ? hp_policy_headroom(c->profile, usable) : 0;
	uint64_t free_mem = hp_resources_mem_free(res);
	bool known = free_mem && head;
	bool severe = st->severe
	              ? (res->psi && res->psi_full_avg10 >= d->psi_off) || (known && free_mem < head)
	              : (res->psi && res->psi_full_avg10 >= d->psi_on) || (known && free_mem < head / 2);
	if (severe)
		return 2;
	bool was = st->pressure;
	bool psi_high = res->psi && res->psi_some_avg10 >= (was ? d->psi_off : d->psi_on);
	bool mem_low = known && free_mem < (was ? head + head / 2 : head);
	return psi_high || mem_low ? 1 : 0;
}

static void pressure_reason(const hp_resources *res, bool severe, char *out, size_t len)
{
	char fr[32];
	size_str(hp_resources_mem_free(res), fr, sizeof fr);
	if (severe && res->psi)
		snprintf(out, len, "severe memory pressure (PSI full %.1f%%, %s free): one job at a time",
		         res->psi_full_avg10, fr);
	else if (severe)
		snprintf(out, len, "severe memory pressure (%s free): one job at a time", fr);
	else if (res->psi)
		snprintf(out, len, "memory pressure (PSI %.1f%%, %s free)", res->psi_some_avg10, fr);
	else
		snprintf(out, len, "memory pressure (%s free)", fr);
}

void hp_policy_decide(const hp_policy_config *c, const hp_policy_input *in, hp_policy_state *st,
                      hp_policy_out *out)
{
	memset(out, 0, sizeof *out);
	const profile_defaults *d = prof(c->profile);
	int min = c->min > 0 ? c->min : 1;
	char ceil_reason[sizeof out->reason];
	int ceil_n = ceiling(c, in, out);
	snprintf(ceil_reason, sizeof ceil_reason, "%s", out->reason);
	out->ceiling = ceil_n;

	int target = st->target > 0 ? st->target : min;
	out->admit = -1;
	int level = pressure(c, in, st);
	st->pressure = level > 0;
	st->severe = level > 1;
	if (st->pressure) {
		/* Never grow; shed one worker at a time, down to 1. */
		int have = in->alive < target ? in->alive : target;
		if (have < 1)
			have = 1;
		target = have;
		if (have > 1 && in->now_ms - st->last_shed_ms >= HP_POLICY_SHED_MS) {
			target = have - 1;
			st->last_shed_ms = in->now_ms;
		}
		if (target > ceil_n)
			target = ceil_n;
		st->surplus_since_ms = 0;
		if (st->severe) {
			/* One job in flight at most: stop busy ones, one every
			 * PREEMPT_MS, down to one; no new job while one runs. The
			 * one job keeps a machine that is always this short of
			 * memory (a small VM) converting; memory_limit bounds it. */
			int busy = in->busy > 0 ? in->busy : 0;
			out->admit = 1;
			if (busy > 1 && (!st->last_preempt_ms || in->now_ms - st->last_preempt_ms >= HP_POLICY_PREEMPT_MS)) {
				out->preempt = 1;
				st->last_preempt_ms = in->now_ms;
			}
			int keep = busy - out->preempt;
			if (keep < 1)
				keep = 1;
			if (target > keep)
				target = keep;
			out->why = HP_WHY_SEVERE;
		} else {
			/* No job beyond the target: nothing is claimed while the
			 * busy workers are at or above it. */
			out->admit = target;
			out->why = HP_WHY_PRESSURE;
		}
		pressure_reason(in->res, st->severe, out->reason, sizeof out->reason);
		goto done;
	}

	int64_t backlog = in->backlog > 0 ? in->backlog : 0;
	int64_t demand = (int64_t)(in->busy > 0 ? in->busy : 0) + backlog;
	int64_t want = demand;
	if (in->job_ms > 0 && demand > 0) {
		/* Workers needed to finish the demand within soon_ms. */
		uint64_t work = (uint64_t)demand * in->job_ms;
		int64_t need = (int64_t)((work + d->soon_ms - 1) / d->soon_ms);
		if (need < want)
			want = need;
	}
	int want_n = want > ceil_n ? ceil_n : want < min ? min : (int)want;

	if (want_n > target) {
		target = want_n;
		st->surplus_since_ms = 0;
		out->why = HP_WHY_BACKLOG;
	} else if (want_n < target) {
		if (!st->surplus_since_ms)
			st->surplus_since_ms = in->now_ms ? in->now_ms : 1;
		if (in->now_ms - st->surplus_since_ms >= c->idle_timeout_ms) {
			target = want_n;
			st->surplus_since_ms = 0;
			out->why = HP_WHY_IDLE;
		} else {
			out->why = HP_WHY_HOLD;
		}
	} else {
		st->surplus_since_ms = 0;
		out->why = HP_WHY_BACKLOG;
	}
	target = clamp(target, min, ceil_n);
	if (target == ceil_n && out->why != HP_WHY_HOLD && target > min) {
		out->why = out->ceiling_why;
		snprintf(out->reason, sizeof out->reason, "%s", ceil_reason);
	} else if (target == min && out->why != HP_WHY_HOLD) {
		out->why = HP_WHY_MIN;
		snprintf(out->reason, sizeof out->reason, "min = %d%s%s%.90s", min, backlog ? "" : ", no backlog",
		         target == ceil_n ? "; " : "", target == ceil_n ? ceil_reason : "");
	} else if (out->why == HP_WHY_HOLD) {
		snprintf(out->reason, sizeof out->reason, "surplus; stopping workers after idle_timeout");
	} else if (out->why == HP_WHY_IDLE) {
		snprintf(out->reason, sizeof out->reason, "idle for %llu s",
		         (unsigned long long)(c->idle_timeout_ms / 1000));
	} else {
		snprintf(out->reason, sizeof out->reason, "backlog %lld", (long long)backlog);
	}
done:
	st->target = target;
	out->target = target;
	long batch = (long)target * d->batch_factor;
	out->batch = batch < 1 ? 1 : batch > HP_POLICY_MAX_BATCH ? HP_POLICY_MAX_BATCH : (int)batch;
}
