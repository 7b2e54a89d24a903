/* pgtest.c — see pgtest.h */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hopper/common.h"
#include "pgtest.h"

static void pgtest_free(hp_pgtest *t)
{
	free(t->dir);
	free(t->state_dir);
	free(t->pgdata);
	free(t->conninfo);
	free(t);
}

int hp_pgtest_start(hp_pgtest **ret)
{
	int r = -ENOMEM;
	hp_pgtest *t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !tmp[0])
		tmp = "/tmp";
	if (asprintf(&t->dir, "%s/hopper-test-XXXXXX", tmp) < 0) {
		t->dir = NULL;
		goto fail;
	}
	if (!mkdtemp(t->dir)) {
		r = -errno;
		fprintf(stderr, "pgtest: cannot make a directory in %s: %s\n", tmp, strerror(-r));
		free(t->dir);
		t->dir = NULL;
		goto fail;
	}
	if (chmod(t->dir, 0755) < 0) {
		r = -errno;
		goto fail;
	}
	if (asprintf(&t->state_dir, "%s/state", t->dir) < 0) {
		t->state_dir = NULL;
		goto fail;
	}
	if (asprintf(&t->pgdata, "%s/pg", t->state_dir) < 0) {
		t->pgdata = NULL;
		goto fail;
	}
	if (!(t->conninfo = hp_pgembed_conninfo(t->state_dir)))
		goto fail;
	r = hp_pgembed_start(t->state_dir, &t->pg);
	if (r < 0)
		goto fail;
	*ret = t;
	return 0;
fail:
	hp_pgtest_stop(t); /* removes the directory, if made */
	return r;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

void hp_pgtest_stop(hp_pgtest *t)
{
	if (!t)
		return;
	hp_pgembed_stop(t->pg);
	t->pg = NULL;
	if (t->dir) {
		const char *keep = getenv("HOPPER_TEST_KEEP");
		if (keep && strcmp(keep, "1") == 0)
			fprintf(stderr, "pgtest: kept %s\n", t->dir);
		else
			nftw(t->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	pgtest_free(t);
}

int hp_pgtest_count_procs(const char *pgdata)
{
	char real[PATH_MAX];
	if (!realpath(pgdata, real))
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char link[300], cwd[PATH_MAX];
		snprintf(link, sizeof link, "/proc/%s/cwd", de->d_name);
		ssize_t len = readlink(link, cwd, sizeof cwd - 1);
		if (len < 0)
			continue;
		cwd[len] = '\0';
		if (strcmp(cwd, real) == 0)
			n++;
	}
	closedir(d);
	return n;
}

hp_pgtest *hp_pgtest_start_or_skip(void)
{
	hp_pgtest *t = NULL;
	int r = hp_pgtest_start(&t);
	if (r == -ENOPKG) {
		puts("SKIP: no PostgreSQL server programs (apt-get install postgresql)");
		exit(77);
	}
	if (r < 0) {
		printf("FAIL: cannot start the embedded PostgreSQL: %s\n", strerror(-r));
		exit(1);
	}
	return t;
}

pid_t hp_pgtest_fork_owner(const char *state_dir, pid_t *postmaster)
{
	int pfd[2];
	*postmaster = -1;
	if (pipe(pfd) < 0)
		return -errno;
	pid_t owner = fork();
	if (owner < 0) {
		int e = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -e;
	}
	if (owner == 0) {
		close(pfd[0]);
		hp_pgembed *pg = NULL;
		pid_t pm = hp_pgembed_start(state_dir, &pg) == 0 ? hp_pgembed_pid(pg) : -1;
		if (write(pfd[1], &pm, sizeof pm) != sizeof pm)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], postmaster, sizeof *postmaster) != sizeof *postmaster)
		*postmaster = -1;
	close(pfd[0]);
	return owner;
}

void hp_pgtest_fail(hp_pgtest *t, const char *file, int line, const char *what)
{
	printf("FAIL %s:%d: %s\n", file, line, what);
	if (t) {
		printf("state kept in %s\n", t->dir);
		hp_pgembed_stop(t->pg);
	}
	exit(1);
}
