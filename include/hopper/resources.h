/* resources.h — what this machine (or this container) lets hopperd use.
 *
 * What it does: reads the usable CPUs (sched_getaffinity(2), and the cgroup
 * v2 `cpu.max` quota of our cgroup and its parents, so a container limit or
 * a systemd CPUQuota= counts), memory (/proc/meminfo MemTotal/MemAvailable,
 * and the cgroup v2 `memory.max`/`memory.high`/`memory.current`, so
 * MemoryMax= counts) and memory pressure (PSI, /proc/pressure/memory).
 * What it never does: decide anything; policy.h turns these into a worker
 * count. Missing files (no cgroup v2, no PSI) mean "no limit"/"unknown".
 * Process rules: supervisor (and the bench); reads a few small files, so
 * call hp_resources_refresh at most every second or so.
 * Files are read under `root` ("/" when NULL), so tests can give a fake
 * /proc and /sys/fs/cgroup tree; the CPU affinity always comes from the
 * calling process.
 */
#ifndef HOPPER_RESOURCES_H
#define HOPPER_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hp_resources {
	int cpus_affinity;        /* CPUs this process may run on */
	double cpu_quota;         /* cgroup cpu.max in CPUs (0.5 = half a CPU); 0 = none */
	double cpus;              /* usable: the smaller of the two */
	uint64_t mem_total;       /* MemTotal, bytes */
	uint64_t mem_available;   /* MemAvailable, bytes (refreshed) */
	uint64_t cg_mem_max;      /* smallest memory.max up the tree; 0 = none */
	uint64_t cg_mem_high;     /* smallest memory.high up the tree; 0 = none */
	uint64_t cg_mem_current;  /* memory.current of our cgroup; 0 = unknown (refreshed) */
	bool psi;                 /* /proc/pressure/memory was readable */
	double psi_some_avg10;    /* % of the last 10 s some task stalled on memory (refreshed) */
	double psi_full_avg10;
	char cgroup[256];         /* our cgroup v2 path, "" when none */
} hp_resources;

/* Detect everything. Never fails: what cannot be read stays 0. `root` as
 * above. */
void hp_resources_detect(const char *root, hp_resources *ret);
/* Re-read what changes: MemAvailable, memory.current, PSI. */
void hp_resources_refresh(const char *root, hp_resources *res);
/* Memory this process tree may use at most: MemTotal bounded by the cgroup
 * limits. */
uint64_t hp_resources_mem_usable(const hp_resources *res);
/* Memory that can still be had now: MemAvailable bounded by what the cgroup
 * limits leave. */
uint64_t hp_resources_mem_free(const hp_resources *res);
/* One line for the start-up log: "2 CPUs (affinity 4, cgroup quota 2.0),
 * memory 1.2 GiB available of 3.8 GiB (cgroup max 2.0 GiB), PSI memory 0.0%". */
void hp_resources_describe(const hp_resources *res, char *buf, size_t len);

#endif
