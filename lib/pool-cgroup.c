/* pool-cgroup.c — a cgroup per worker under a delegated cgroup v2, see
 * pool-int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "hopper/policy.h"
#include "hopper/pool.h"
#include "hopper/resources.h"
#include "hopper/sandbox.h"

#include "pool-int.h"

/* ---- per-worker cgroups ------------------------------------------------------
 * cgroup v2 (Documentation/admin-guide/cgroup-v2.rst, "Delegation" and "No
 * Internal Process Constraint"): when our own cgroup is delegated to us
 * (systemd Delegate=: its cgroup.subtree_control is writable and the memory
 * controller is available), every process of it moves into a "supervisor"
 * leaf, the memory controller is enabled for the children, and each worker
 * runs in a child cgroup of its own with memory.max = memory_limit,
 * memory.swap.max = 0 and memory.oom.group = 1: the kernel then counts all
 * of a worker's memory and, at the limit, kills that worker alone. The
 * worker's RLIMIT_AS stays too: it makes a large allocation fail cleanly
 * (the job fails with "memory_limit" in its message) before the cgroup
 * has to kill. Anything that fails leaves RLIMIT_AS alone, said in the
 * log at start. */

static int cg_write(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int e = n < 0 ? -errno : 0;
	close(fd);
	return e;
}

static int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
		return -ENAMETOOLONG;
	return hp_read_small(path, buf, len);
}

static bool has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);
	for (const char *s = list; (s = strstr(s, word)); s += wl)
		if ((s == list || s[-1] == ' ') && (s[wl] == '\0' || s[wl] == ' ' || s[wl] == '\n'))
			return true;
	return false;
}

/* Set up per-worker cgroups if our cgroup is delegated; the reason why not
 * in `why` otherwise. */
void hp_pool_cg_setup(hp_pool *p, char *why, size_t why_len)
{
	char base[PATH_MAX], buf[4096];
	const char *root = p->res_root && strcmp(p->res_root, "/") ? p->res_root : "";
	if (!p->cfg.memory_limit) {
		snprintf(why, why_len, "no memory_limit");
		return;
	}
	if (!p->res.cgroup[0] || strcmp(p->res.cgroup, "/") == 0) {
		/* The root cgroup is never ours to rearrange. */
		snprintf(why, why_len, p->res.cgroup[0] ? "running in the root cgroup" : "no cgroup v2");
		return;
	}
	snprintf(base, sizeof base, "%s/sys/fs/cgroup%s", root, strcmp(p->res.cgroup, "/") ? p->res.cgroup : "");
	if (cg_read(base, "cgroup.controllers", buf, sizeof buf) < 0 || !has_word(buf, "memory")) {
		snprintf(why, why_len, "no memory controller in cgroup v2 here");
		return;
	}
	char sc[PATH_MAX];
	/* Delegated: writable to us; as root, writable proves nothing, so also
	 * systemd's mark on a delegated cgroup (the trusted.delegate xattr,
	 * systemd >= 251). */
	char mark[8] = "";
	bool delegated = snprintf(sc, sizeof sc, "%s/cgroup.subtree_control", base) < (int)sizeof sc &&
	                 access(sc, W_OK) == 0 &&
	                 (geteuid() != 0 || (getxattr(base, "trusted.delegate", mark, sizeof mark - 1) > 0 &&
	                                     mark[0] == '1'));
	if (!delegated) {
		snprintf(why, why_len, "cgroup %s is not delegated (systemd: Delegate=memory)", p->res.cgroup);
		return;
	}
	char sup[PATH_MAX];
	if (snprintf(sup, sizeof sup, "%s/supervisor", base) >= (int)sizeof sup ||
	    (mkdir(sup, 0755) < 0 && errno != EEXIST)) {
		snprintf(why, why_len, "cannot create %s: %s", sup, strerror(errno));
		return;
	}
	/* No internal processes: everything of ours (this process, an
	 * embedded PostgreSQL) into the leaf before enabling a controller. */
	if (cg_read(base, "cgroup.procs", buf, sizeof buf) >= 0) {
		char *save = NULL;
		for (char *t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
			cg_write(sup, "cgroup.procs", t);
	}
	int r = cg_write(base, "cgroup.subtree_control", "+memory");
	if (r < 0) {
		snprintf(why, why_len, "cannot enable the memory controller in %s: %s", p->res.cgroup, strerror(-r));
		return;
	}
	p->cg_base = strdup(base);
	if (!p->cg_base)
		snprintf(why, why_len, "out of memory");
}

/* A cgroup for the next worker; the fd of its cgroup.procs (for the child
 * to move itself in before exec), or -1 (the worker then runs without one). */
int hp_pool_cg_prepare(hp_pool *p, worker *w)
{
	if (!p->cg_base)
		return -1;
	char dir[PATH_MAX], lim[32];
	if (snprintf(dir, sizeof dir, "%s/worker-%llu", p->cg_base, (unsigned long long)++p->cg_seq) >=
	    (int)sizeof dir)
		return -1;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		hp_warn("cannot create the worker cgroup %s: %s; RLIMIT_AS only", dir, strerror(errno));
		return -1;
	}
	snprintf(lim, sizeof lim, "%llu", (unsigned long long)p->cfg.memory_limit);
	int r = cg_write(dir, "memory.max", lim);
	if (r == 0) {
		/* Best effort: no swap file means no memory.swap.max. */
		cg_write(dir, "memory.swap.max", "0");
		cg_write(dir, "memory.oom.group", "1");
	}
	char procs[PATH_MAX];
	if (r == 0 && snprintf(procs, sizeof procs, "%s/cgroup.procs", dir) >= (int)sizeof procs)
		r = -ENAMETOOLONG;
	int fd = r == 0 ? open(procs, O_WRONLY | O_CREAT | O_CLOEXEC, 0644) : -1;
	if (fd < 0) {
		hp_warn("cannot set up the worker cgroup %s: %s; RLIMIT_AS only", dir,
		        strerror(r < 0 ? -r : errno));
		rmdir(dir);
		return -1;
	}
	w->cg = strdup(dir);
	if (!w->cg) {
		close(fd);
		rmdir(dir);
		return -1;
	}
	return fd;
}

/* The kernel killed the worker at its cgroup's memory.max. */
bool hp_pool_cg_oom_killed(const worker *w)
{
	char buf[512];
	if (!w->cg || cg_read(w->cg, "memory.events", buf, sizeof buf) < 0)
		return false;
	const char *k = strstr(buf, "oom_kill ");
	return k && strtoull(k + 9, NULL, 10) > 0;
}

void hp_pool_cg_remove(worker *w)
{
	if (w->cg)
		rmdir(w->cg); /* empty once the worker is reaped */
	free(w->cg);
	w->cg = NULL;
}
