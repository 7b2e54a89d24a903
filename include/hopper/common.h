/* common.h — logging, a capped growable buffer, event-source plumbing.
 *
 * What it does: the few helpers every module uses.
 * What it never does: anything specific to one module.
 * Rules: functions return 0 (or a count) on success, -errno on failure, and
 * write their ret_ out-parameters only on success (STYLE.md).
 */
#ifndef HOPPER_COMMON_H
#define HOPPER_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define HP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ---- logging ----------------------------------------------------------
 * Lines go to stderr prefixed "<N>" (sd-daemon.h SD_ERR etc.) so journald
 * keeps the level. No timestamps of our own. Messages above hp_log_level
 * are dropped. */
enum { HP_LOG_ERR = 3, HP_LOG_WARNING = 4, HP_LOG_NOTICE = 5, HP_LOG_INFO = 6, HP_LOG_DEBUG = 7 };
/* On a terminal (stderr a TTY and no JOURNAL_STREAM), lines read as text:
 * "error: ...", "warning: ...", no "<N>" prefix. Otherwise (journald, a
 * pipe, a file) every line keeps its "<N>" prefix. Decided at the first
 * line. */
extern int hp_log_level;            /* default HP_LOG_INFO; HOPPER_DEBUG=1 in env -> DEBUG */
void hp_log(int prio, const char *fmt, ...) HP_PRINTF(2, 3);
#define hp_err(...) hp_log(HP_LOG_ERR, __VA_ARGS__)
#define hp_warn(...) hp_log(HP_LOG_WARNING, __VA_ARGS__)
#define hp_notice(...) hp_log(HP_LOG_NOTICE, __VA_ARGS__)
#define hp_info(...) hp_log(HP_LOG_INFO, __VA_ARGS__)
#define hp_debug(...) hp_log(HP_LOG_DEBUG, __VA_ARGS__)

/* ---- hp_buf: growable byte buffer with a hard cap (curl's dynbuf) ------
 * The data is always NUL-terminated (the NUL is not counted in len).
 * Appending past `limit` bytes fails with -EFBIG and leaves the buffer as it
 * was; allocation failure gives -ENOMEM. A zero limit means SIZE_MAX/2. */
typedef struct hp_buf {
	char *data;   /* NULL until the first append */
	size_t len;   /* bytes used, excluding the terminating NUL */
	size_t alloc; /* bytes allocated */
	size_t limit; /* max len */
} hp_buf;

void hp_buf_init(hp_buf *b, size_t limit);
int hp_buf_add(hp_buf *b, const void *p, size_t n);
int hp_buf_addstr(hp_buf *b, const char *s);
int hp_buf_addc(hp_buf *b, char c);
int hp_buf_addf(hp_buf *b, const char *fmt, ...) HP_PRINTF(2, 3);
/* Grow so that n more bytes fit; does not change len. */
int hp_buf_reserve(hp_buf *b, size_t n);
/* Drop the first n bytes (consumed input). */
void hp_buf_consume(hp_buf *b, size_t n);
void hp_buf_reset(hp_buf *b); /* len = 0, memory kept */
/* Returns the data (never NULL: "" for an empty buffer) and leaves b empty;
 * the caller frees it with free(). NULL only on allocation failure. */
char *hp_buf_steal(hp_buf *b);
void hp_buf_free(hp_buf *b);

/* ---- event sources ------------------------------------------------------
 * Every fd in the supervisor's epoll set is registered with data.ptr
 * pointing at an hp_evsrc embedded in its owner; the loop calls
 * src->handler(src, events). Owners use container_of-style casts. */
typedef struct hp_evsrc hp_evsrc;
struct hp_evsrc {
	int fd;
	void (*handler)(hp_evsrc *src, uint32_t events);
};
int hp_evsrc_add(int epfd, hp_evsrc *src, uint32_t events);
int hp_evsrc_mod(int epfd, hp_evsrc *src, uint32_t events);
void hp_evsrc_del(int epfd, hp_evsrc *src);

/* ---- small utilities ---------------------------------------------------- */
uint64_t hp_now_ms(void);                 /* CLOCK_MONOTONIC in ms */
/* strdup that returns NULL for NULL. Caller frees. */
char *hp_strdup0(const char *s);
/* In a child about to exec: drop the variables systemd sets for this
 * service alone (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*), so neither workers
 * nor the embedded postgres speak to systemd in hopperd's name. */
void hp_env_scrub_service(void);
/* Free a NULL-terminated array of malloc'd strings, and the array. NULL is fine. */
void hp_strv_free(char **v);
/* Name of a signal, e.g. "SIGSEGV"; never NULL. */
const char *hp_signal_name(int sig);
/* Read up to len - 1 bytes of a small file (/proc, cgroupfs) into buf and
 * NUL-terminate it. Bytes read, or -errno when it cannot be opened. */
int hp_read_small(const char *path, char *buf, size_t len);
/* Peak resident memory of a process in bytes (VmHWM of /proc/PID/status),
 * 0 when it cannot be read (the process is gone). */
uint64_t hp_proc_peak_rss(int pid);
/* Write all n bytes (retrying on EINTR/short writes). 0 or -errno. */
int hp_write_all(int fd, const void *p, size_t n);
/* Format "12.3 MiB"-style sizes into out. */
void hp_format_size(uint64_t bytes, char *out, size_t outlen);
/* Are these bytes valid UTF-8 (RFC 3629: no overlongs, no surrogates)?
 * (lib/convert/convert.c) */
int hp_utf8_valid(const char *s, size_t len);

#endif
