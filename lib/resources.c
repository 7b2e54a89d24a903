/* resources.c — CPUs, memory and memory pressure, see include/hopper/resources.h
 *
 * cgroup v2 files: Documentation/admin-guide/cgroup-v2.rst (cpu.max is
 * "$MAX $PERIOD" or "max $PERIOD"; memory.max/high are bytes or "max").
 * A limit on any ancestor applies to us too, so the smallest one up the
 * tree wins. PSI: Documentation/accounting/psi.rst.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hopper/common.h"
#include "hopper/resources.h"

static int read_small(const char *root, const char *path, char *buf, size_t len)
{
	char full[768];
	snprintf(full, sizeof full, "%s%s", root && strcmp(root, "/") ? root : "", path);
	return hp_read_small(full, buf, len);
}

/* "0::/system.slice/hopperd.service" -> "/system.slice/hopperd.service" */
static void find_cgroup(const char *root, hp_resources *r)
{
	char buf[1024];
	r->cgroup[0] = '\0';
	if (read_small(root, "/proc/self/cgroup", buf, sizeof buf) <= 0)
		return;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(r->cgroup, sizeof r->cgroup, "%s", line + 3);
			return;
		}
	}
}

/* Read FILE in our cgroup and each parent up to the root; call fn on each. */
static void walk_up(const char *root, const hp_resources *r, const char *file,
                    void (*fn)(const char *val, void *ctx), void *ctx)
{
	if (!r->cgroup[0])
		return;
	char dir[sizeof r->cgroup];
	snprintf(dir, sizeof dir, "%s", r->cgroup);
	for (;;) {
		char path[512], val[128];
		snprintf(path, sizeof path, "/sys/fs/cgroup%s%s%s", strcmp(dir, "/") ? dir : "", "/", file);
		if (read_small(root, path, val, sizeof val) > 0)
			fn(val, ctx);
		char *slash = strrchr(dir, '/');
		if (!slash || strcmp(dir, "/") == 0)
			break;
		if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
	}
}

static void on_cpu_max(const char *val, void *ctx)
{
	double *quota = ctx;
	char max[32];
	unsigned long long period;
	if (sscanf(val, "%31s %llu", max, &period) != 2 || period == 0 || strcmp(max, "max") == 0)
		return;
	double q = strtod(max, NULL) / (double)period;
	if (q > 0 && (*quota == 0 || q < *quota))
		*quota = q;
}

static void on_mem_limit(const char *val, void *ctx)
{
	uint64_t *lim = ctx;
	if (strncmp(val, "max", 3) == 0)
		return;
	char *end;
	unsigned long long v = strtoull(val, &end, 10);
	if (end == val)
		return;
	if (*lim == 0 || v < *lim)
		*lim = v;
}

static uint64_t meminfo_kb(const char *buf, const char *key)
{
	const char *p = strstr(buf, key);
	if (!p)
		return 0;
	return strtoull(p + strlen(key), NULL, 10) * 1024;
}

void hp_resources_refresh(const char *root, hp_resources *r)
{
	char buf[4096];
	if (read_small(root, "/proc/meminfo", buf, sizeof buf) > 0) {
		r->mem_total = meminfo_kb(buf, "MemTotal:");
		r->mem_available = meminfo_kb(buf, "MemAvailable:");
	}
	r->cg_mem_current = 0;
	if (r->cgroup[0]) {
		char path[512], val[64];
		snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.current",
		         strcmp(r->cgroup, "/") ? r->cgroup : "");
		if (read_small(root, path, val, sizeof val) > 0)
			r->cg_mem_current = strtoull(val, NULL, 10);
	}
	/* "some avg10=1.23 avg60=... total=...\nfull avg10=..." */
	r->psi = false;
	if (read_small(root, "/proc/pressure/memory", buf, sizeof buf) > 0) {
		const char *s = strstr(buf, "some avg10="), *f = strstr(buf, "full avg10=");
		if (s) {
			r->psi = true;
			r->psi_some_avg10 = strtod(s + 11, NULL);
		}
		if (f)
			r->psi_full_avg10 = strtod(f + 11, NULL);
	}
}

void hp_resources_detect(const char *root, hp_resources *r)
{
	memset(r, 0, sizeof *r);
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		r->cpus_affinity = CPU_COUNT(&set);
	if (r->cpus_affinity <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		r->cpus_affinity = n > 0 ? (int)n : 1;
	}
	find_cgroup(root, r);
	walk_up(root, r, "cpu.max", on_cpu_max, &r->cpu_quota);
	walk_up(root, r, "memory.max", on_mem_limit, &r->cg_mem_max);
	walk_up(root, r, "memory.high", on_mem_limit, &r->cg_mem_high);
	r->cpus = r->cpus_affinity;
	if (r->cpu_quota > 0 && r->cpu_quota < r->cpus)
		r->cpus = r->cpu_quota;
	hp_resources_refresh(root, r);
}

uint64_t hp_resources_mem_usable(const hp_resources *r)
{
	uint64_t m = r->mem_total;
	if (r->cg_mem_max && (!m || r->cg_mem_max < m))
		m = r->cg_mem_max;
	if (r->cg_mem_high && (!m || r->cg_mem_high < m))
		m = r->cg_mem_high;
	return m;
}

uint64_t hp_resources_mem_free(const hp_resources *r)
{
	uint64_t m = r->mem_available;
	uint64_t lim = 0;
	if (r->cg_mem_max)
		lim = r->cg_mem_max;
	if (r->cg_mem_high && (!lim || r->cg_mem_high < lim))
		lim = r->cg_mem_high;
	if (lim) {
		uint64_t left = lim > r->cg_mem_current ? lim - r->cg_mem_current : 0;
		if (!m || left < m)
			m = left;
	}
	return m;
}

void hp_resources_describe(const hp_resources *r, char *buf, size_t len)
{
	char quota[32] = "none", avail[32], total[32], cmax[32] = "none", chigh[32] = "none", psi[32] = "n/a";
	if (r->cpu_quota > 0)
		snprintf(quota, sizeof quota, "%.2f", r->cpu_quota);
	hp_format_size(hp_resources_mem_free(r), avail, sizeof avail);
	hp_format_size(r->mem_total, total, sizeof total);
	if (r->cg_mem_max)
		hp_format_size(r->cg_mem_max, cmax, sizeof cmax);
	if (r->cg_mem_high)
		hp_format_size(r->cg_mem_high, chigh, sizeof chigh);
	if (r->psi)
		snprintf(psi, sizeof psi, "%.1f%%", r->psi_some_avg10);
	snprintf(buf, len,
	         "%.4g CPU(s) (affinity %d, cgroup quota %s), memory %s available of %s "
	         "(cgroup max %s, high %s), memory pressure %s",
	         r->cpus, r->cpus_affinity, quota, avail, total, cmax, chigh, psi);
}
