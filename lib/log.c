/* log.c — see include/hopper/common.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "hopper/common.h"

int hp_log_level = HP_LOG_INFO;

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
	/* One write per line, so lines of concurrent processes do not mix. */
	fprintf(stderr, "<%d>%.*s\n", prio, n, line);
	errno = saved;
}
