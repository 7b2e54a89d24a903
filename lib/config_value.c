/* config_value.c — the values of hopper.conf: sizes, durations, booleans and
 * integers, parsed and formatted (see include/hopper/config.h). Pure
 * functions; config.c's key table applies them. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "hopper/common.h"
#include "hopper/config.h"

/* ---- value parsers -------------------------------------------------------- */

/* Digits of s into *v; *overflow set when they do not fit. Returns the end. */
static const char *scan_u64(const char *s, uint64_t *v, bool *overflow)
{
	*v = 0;
	*overflow = false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (__builtin_mul_overflow(*v, 10, v) ||
		    __builtin_add_overflow(*v, (uint64_t)(*s - '0'), v))
			*overflow = true;
	}
	return s;
}

int hp_parse_size(const char *s, uint64_t *ret)
{
	uint64_t v;
	bool overflow;
	unsigned shift = 0;
	const char *p;

	if (!s || !(*s >= '0' && *s <= '9'))
		return -EINVAL;
	p = scan_u64(s, &v, &overflow);
	while (*p == ' ' || *p == '\t')
		p++;
	switch (*p) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	}
	if (shift) {
		p++;
		if (*p == 'i' || *p == 'I') {
			p++;
			if (*p != 'b' && *p != 'B')
				return -EINVAL;
		}
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return -EINVAL;
	if (overflow || (shift && v > (UINT64_MAX >> shift)))
		return -ERANGE;
	*ret = v << shift;
	return 0;
}

int hp_parse_duration_ms(const char *s, uint64_t *ret)
{
	uint64_t v, mult;
	bool overflow;
	const char *p;

	if (!s || !(*s >= '0' && *s <= '9'))
		return -EINVAL;
	p = scan_u64(s, &v, &overflow);
	while (*p == ' ' || *p == '\t')
		p++;
	/* Lower case only: "5M" reads like a size, so it is refused. */
	if (!*p || !strcmp(p, "s"))
		mult = 1000;
	else if (!strcmp(p, "ms"))
		mult = 1;
	else if (!strcmp(p, "m"))
		mult = 60 * 1000;
	else if (!strcmp(p, "h"))
		mult = 3600 * 1000;
	else
		return -EINVAL;
	if (overflow || __builtin_mul_overflow(v, mult, &v))
		return -ERANGE;
	*ret = v;
	return 0;
}

int hp_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < HP_ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*ret = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Whole decimal number with optional sign, into an int64_t. */
int hp_config_parse_int64(const char *s, int64_t *ret)
{
	const char *p = s;
	bool neg = false, overflow;
	uint64_t v;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!(*p >= '0' && *p <= '9'))
		return -EINVAL;
	p = scan_u64(p, &v, &overflow);
	if (*p)
		return -EINVAL;
	if (overflow || v > (uint64_t)INT64_MAX)
		return -ERANGE;
	*ret = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* ---- formatting ------------------------------------------------------------ */

/* The largest unit in which the size is exact: 512M, 1536K, 0. */
void hp_config_format_size(uint64_t v, char *out, size_t n)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (v != 0 && u < 3 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, n, "%llu", (unsigned long long)v);
	else
		snprintf(out, n, "%llu%c", (unsigned long long)v, units[u]);
}

/* Exact, and readable: whole hours as h, whole minutes from 2 minutes on as
 * m (a timeout of "60s" reads better than "1m"), whole seconds as s, else ms. */
void hp_config_format_duration(uint64_t ms, char *out, size_t n)
{
	uint64_t s = ms / 1000;

	if (ms % 1000)
		snprintf(out, n, "%llums", (unsigned long long)ms);
	else if (s != 0 && s % 3600 == 0)
		snprintf(out, n, "%lluh", (unsigned long long)(s / 3600));
	else if (s >= 120 && s % 60 == 0)
		snprintf(out, n, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(out, n, "%llus", (unsigned long long)s);
}
