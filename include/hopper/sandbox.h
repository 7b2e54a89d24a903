/* sandbox.h — what a worker process gives up before it reads untrusted bytes.
 *
 * What it does: rlimits (address space = memory_limit on top of what is
 * mapped at the call: program, libraries, preloaded data; no core dumps, no
 * file writes, few fds), PR_SET_NO_NEW_PRIVS, and a seccomp filter (libseccomp)
 * that allows what a converter needs (read/write on open fds, memory,
 * time, exit) and ends the process on anything else; open/openat fail
 * with EACCES instead of killing, so lazy library loads fail cleanly.
 * A refused syscall is named: the SIGSYS handler writes
 * "<3>worker violated its sandbox (syscall NAME)" to stderr, hands the same
 * reason to the function set with hp_sandbox_on_violation() and exits with
 * status HP_SANDBOX_EXIT_VIOLATION.
 * What it never does: decide anything about jobs.
 * Process rules: call once, in the worker, after hp_convert_init().
 * Sanitizer builds (HP_SANITIZE defined) skip the seccomp filter, because
 * the sanitizer runtimes need syscalls a converter does not; rlimits and
 * no_new_privs still apply.
 */
#ifndef HOPPER_SANDBOX_H
#define HOPPER_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

/* Exit status of a worker that made a syscall its filter refuses. */
#define HP_SANDBOX_EXIT_VIOLATION 159

/* Called from the SIGSYS handler with "worker violated its sandbox
 * (syscall NAME)": async-signal-safe calls only (write(2)). */
typedef void (*hp_sandbox_report_fn)(const char *reason);
void hp_sandbox_on_violation(hp_sandbox_report_fn fn);

/* false in sanitizer builds, whose workers run without the seccomp filter. */
bool hp_sandbox_filtered(void);

/* 0 or -errno. memory_limit 0 = no RLIMIT_AS. */
int hp_sandbox_enter(uint64_t memory_limit);

#endif
