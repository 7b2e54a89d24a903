/* sandbox.c — what a worker gives up before reading untrusted bytes, see
 * include/hopper/sandbox.h
 *
 * Order matters: rlimits first (they need no privilege), then
 * PR_SET_NO_NEW_PRIVS (required for an unprivileged seccomp filter,
 * seccomp(2)), then the filter itself, which is the last syscall-heavy
 * thing the process does.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <seccomp.h>
#include <stdio.h>

#include "hopper/common.h"
#include "hopper/sandbox.h"

/* A worker needs the socket (3), stdio and whatever libraries opened during
 * hp_convert_init (libmagic maps its database and closes it). New fds cannot
 * be opened under the filter anyway; this is the second fence. */
#define HP_SANDBOX_NOFILE 16

static int set_limit(int res, rlim_t v)
{
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };
	return setrlimit(res, &rl) < 0 ? -errno : 0;
}

#ifndef HP_SANITIZE
/* The address space mapped now, before any job: the program's code and
 * read-only data (MuPDF's built-in fonts alone are ~40 MiB of it), shared
 * libraries, the magic database, OCR language data. File-backed and shared
 * through the page cache, it costs little memory, but RLIMIT_AS counts
 * it; 0 when it cannot be read. */
static uint64_t mapped_now(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	unsigned long long pages = strtoull(buf, NULL, 10);
	return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}
#endif

static int set_limits(uint64_t memory_limit)
{
	int r = 0;
#ifdef HP_SANITIZE
	/* ASan maps terabytes of shadow memory up front; any RLIMIT_AS a
	 * worker could live with is below that, and every later mmap fails. */
	if (memory_limit)
		hp_debug("sandbox: sanitizer build, RLIMIT_AS not set");
#else
	/* memory_limit is what a job may take on top of what the worker has
	 * mapped at start (see mapped_now): otherwise a large converter binary
	 * would leave a small limit no room at all. */
	if (memory_limit)
		r = set_limit(RLIMIT_AS, (rlim_t)(memory_limit + mapped_now()));
#endif
	if (r == 0)
		r = set_limit(RLIMIT_CORE, 0);
	/* No file may grow. But if stderr is a regular file (tests redirect
	 * it, some operators log to files), a zero limit would kill the worker
	 * with SIGXFSZ at its first log line, so the limit is left alone then:
	 * no new file can be opened under the filter anyway. */
	struct stat st;
	if (r == 0 && !(fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode))) {
		signal(SIGXFSZ, SIG_IGN); /* EFBIG from write, not death */
		r = set_limit(RLIMIT_FSIZE, 0);
	}
	if (r == 0)
		r = set_limit(RLIMIT_NOFILE, HP_SANDBOX_NOFILE);
	return r;
}

static hp_sandbox_report_fn report_fn;

void hp_sandbox_on_violation(hp_sandbox_report_fn fn)
{
	report_fn = fn;
}

bool hp_sandbox_filtered(void)
{
#ifdef HP_SANITIZE
	return false;
#else
	return true;
#endif
}

#ifndef HP_SANITIZE
/* Add one rule, tolerating syscalls this libseccomp or architecture does
 * not know (e.g. openat2 on an old libseccomp): they cannot be called. */
static int rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n_args,
                const struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0;
	int r = seccomp_rule_add_array(ctx, action, nr, n_args, args);
	if (r < 0)
		hp_err("sandbox: cannot add the seccomp rule for %s: %s", name, strerror(-r));
	return r;
}

/* A refused syscall traps (SECCOMP_RET_TRAP, seccomp(2)) instead of
 * killing outright, so the worker can say which one it was: SIGSYS carries
 * the number in si_syscall. The names are looked up before the filter is
 * loaded (libseccomp allocates); the handler only formats and writes. */
#define HP_SANDBOX_MAX_NR 512
static char nr_names[HP_SANDBOX_MAX_NR][24];
static char violation[96];
static void load_names(void)
{
	uint32_t arch = seccomp_arch_native();
	for (int nr = 0; nr < HP_SANDBOX_MAX_NR; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(arch, nr);
		if (name)
			snprintf(nr_names[nr], sizeof nr_names[nr], "%s", name);
		free(name);
	}
}

static size_t add_str(char *buf, size_t n, size_t cap, const char *s)
{
	while (*s && n < cap - 1)
		buf[n++] = *s++;
	buf[n] = '\0';
	return n;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	int nr = si->si_syscall;
	char num[16];
	const char *name = nr >= 0 && nr < HP_SANDBOX_MAX_NR && nr_names[nr][0] ? nr_names[nr] : NULL;
	if (!name) {
		/* Unknown to libseccomp: the number (see ausyscall(8)). */
		unsigned u = nr < 0 ? 0u : (unsigned)nr;
		int d = (int)sizeof num - 1;
		num[d] = '\0';
		do {
			num[--d] = (char)('0' + u % 10);
			u /= 10;
		} while (u && d > 0);
		name = num + d;
	}
	size_t n = add_str(violation, 0, sizeof violation, "worker violated its sandbox (syscall ");
	n = add_str(violation, n, sizeof violation, name);
	n = add_str(violation, n, sizeof violation, ")");
	char line[128];
	size_t k = add_str(line, 0, sizeof line, "<3>");
	k = add_str(line, k, sizeof line, violation);
	k = add_str(line, k, sizeof line, "\n");
	ssize_t w = write(STDERR_FILENO, line, k);
	(void)w;
	if (report_fn)
		report_fn(violation);
	_exit(HP_SANDBOX_EXIT_VIOLATION);
}

static int load_filter(void)
{
	static const char *const allow[] = {
		/* I/O on fds that are already open: the socket and stderr; a
		 * job's sealed memfd arrives with recvmsg (SCM_RIGHTS) */
		"read", "write", "readv", "writev", "close", "lseek", "fstat", "recvmsg",
		/* memory (mmap and mprotect are below: no PROT_EXEC) */
		"brk", "munmap", "mremap", "madvise",
		/* locks, signals, time, identity */
		"futex", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
		"clock_gettime", "gettimeofday", "time", "getpid", "gettid",
		"getrandom", "sched_yield", "poll", "ppoll",
		/* the per-job CPU-time backstop (ITIMER_PROF) */
		"setitimer",
		/* glibc's qsort asks sysinfo() for the amount of RAM (_SC_PHYS_PAGES) */
		"sysinfo",
		"exit", "exit_group",
	};
	/* Syscalls that a library may try while looking for a file; they fail
	 * cleanly instead of killing, so lazy loads report an error. */
	static const char *const eacces[] = {
		"open", "openat", "openat2", "creat", "access", "faccessat", "faccessat2",
		"stat", "lstat", "readlink", "readlinkat", "statx",
	};
	load_names();
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigfillset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	int r = 0;
	for (size_t i = 0; r == 0 && i < HP_ARRAY_SIZE(allow); i++)
		r = rule(ctx, SCMP_ACT_ALLOW, allow[i], 0, NULL);
	for (size_t i = 0; r == 0 && i < HP_ARRAY_SIZE(eacces); i++)
		r = rule(ctx, SCMP_ACT_ERRNO(EACCES), eacces[i], 0, NULL);

	/* Memory may be mapped and protected, but never executable: a parser
	 * bug cannot turn data into code (MemoryDenyWriteExecute, in effect). */
	struct scmp_arg_cmp noexec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ALLOW, "mmap", 1, &noexec);
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ALLOW, "mprotect", 1, &noexec);

	/* glibc's fstat() is newfstatat(fd, "", buf, AT_EMPTY_PATH); a path
	 * lookup (no AT_EMPTY_PATH) is refused like open. */
	struct scmp_arg_cmp empty = SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH);
	struct scmp_arg_cmp path = SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, 0);
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ALLOW, "newfstatat", 1, &empty);
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ERRNO(EACCES), "newfstatat", 1, &path);

	/* fcntl: only to read a passed memfd's seals. */
	struct scmp_arg_cmp getseals = SCMP_A1(SCMP_CMP_EQ, F_GET_SEALS);
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ALLOW, "fcntl", 1, &getseals);

	/* isatty() and friends: "not a terminal" is the true answer anyway. */
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ERRNO(ENOTTY), "ioctl", 0, NULL);

	/* abort() raises SIGABRT with tgkill on itself; allow exactly that so
	 * a failed assertion in a library is reported as SIGABRT. */
	struct scmp_arg_cmp self[2] = {
		SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()),
		SCMP_A2(SCMP_CMP_EQ, SIGABRT),
	};
	if (r == 0)
		r = rule(ctx, SCMP_ACT_ALLOW, "tgkill", 2, self);

	if (r == 0) {
		r = seccomp_load(ctx);
		if (r < 0)
			hp_err("sandbox: cannot load the seccomp filter: %s", strerror(-r));
	}
	seccomp_release(ctx);
	return r;
}
#endif

int hp_sandbox_enter(uint64_t memory_limit)
{
	int r = set_limits(memory_limit);
	if (r < 0) {
		hp_err("sandbox: cannot set resource limits: %s", strerror(-r));
		return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		hp_err("sandbox: cannot set no_new_privs: %s", strerror(-r));
		return r;
	}
#ifdef HP_SANITIZE
	(void)report_fn;
	r = 0;
#else
	r = load_filter();
#endif
	return r;
}
