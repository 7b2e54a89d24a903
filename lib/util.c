/* util.c — small helpers, see include/hopper/common.h */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "hopper/common.h"

int hp_evsrc_add(int epfd, hp_evsrc *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0 ? -errno : 0;
}

int hp_evsrc_mod(int epfd, hp_evsrc *src, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };
	return epoll_ctl(epfd, EPOLL_CTL_MOD, src->fd, &ev) < 0 ? -errno : 0;
}

void hp_evsrc_del(int epfd, hp_evsrc *src)
{
	if (src->fd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, src->fd, NULL);
}

uint64_t hp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *hp_strdup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

void hp_env_scrub_service(void)
{
	static const char *const vars[] = { "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC",
		                            "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES" };
	for (size_t i = 0; i < HP_ARRAY_SIZE(vars); i++)
		unsetenv(vars[i]);
}

void hp_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

const char *hp_signal_name(int sig)
{
	static const struct { int sig; const char *name; } names[] = {
		{ SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" },
		{ SIGILL, "SIGILL" }, { SIGTRAP, "SIGTRAP" }, { SIGABRT, "SIGABRT" },
		{ SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" }, { SIGKILL, "SIGKILL" },
		{ SIGUSR1, "SIGUSR1" }, { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
		{ SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" },
		{ SIGCHLD, "SIGCHLD" }, { SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" },
		{ SIGSYS, "SIGSYS" },
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(names); i++)
		if (names[i].sig == sig)
			return names[i].name;
	return "an unknown signal";
}

int hp_read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (int)n;
}

uint64_t hp_proc_peak_rss(int pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof path, "/proc/%d/status", pid);
	if (hp_read_small(path, buf, sizeof buf) < 0)
		return 0;
	const char *h = strstr(buf, "VmHWM:");
	return h ? strtoull(h + 6, NULL, 10) * 1024 : 0;
}

int hp_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

void hp_format_size(uint64_t bytes, char *out, size_t outlen)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;
	while (v >= 1024 && u + 1 < HP_ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, outlen, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, outlen, "%.1f %s", v, units[u]);
}
