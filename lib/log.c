/* log.c — see include/hopper/common.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hopper/common.h"

int hp_log_level = HP_LOG_INFO;

/* 1: "<N>" prefixes for journald; 0: plain text for a person at a terminal. */
static int use_prefix = -1;

static size_t prefix(char *out, size_t len, int prio)
{
	if (use_prefix < 0)
		use_prefix = !isatty(STDERR_FILENO) || getenv("JOURNAL_STREAM");
	if (use_prefix)
		return (size_t)snprintf(out, len, "<%d>", prio);
	const char *word = prio <= HP_LOG_ERR ? "error: " : prio == HP_LOG_WARNING ? "warning: "
	                 : prio == HP_LOG_DEBUG ? "debug: " : "";
	return (size_t)snprintf(out, len, "%s", word);
}

void hp_log(int prio, const char *fmt, ...)
{
	if (prio > hp_log_level)
		return;
	int saved = errno;
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	/* File names come from users and may hold newlines: escape every
	 * control character, so one message is one journal line and no name
	 * can forge a line of its own with a "<N>" priority. */
	char out[sizeof line * 4 + 16];
	size_t o = prefix(out, sizeof out, prio);
	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\n')
			o += (size_t)snprintf(out + o, sizeof out - o, "\\n");
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o++] = '\n';
	/* One write per line, so lines of concurrent processes do not mix. */
	hp_write_all(STDERR_FILENO, out, o);
	errno = saved;
}
