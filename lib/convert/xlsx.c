/* xlsx.c — Excel workbooks (ECMA-376 SpreadsheetML) to Markdown.
 *
 * One "## Sheet name" section per worksheet, in workbook order, each a
 * pipe table whose first row is the sheet's first non-empty row. Shared
 * strings are resolved; numbers are shown as the cell's number format
 * displays them (decimals, thousands separators, percent, currency and
 * literal text, dates and times, built-in formats of ECMA-376 Part 1
 * §18.8.30), "General" as the shortest exact decimal. Empty rows are left
 * out and empty leading/trailing columns trimmed; merged cells repeat their
 * value. At most lim->max_sheet_rows rows and MAX_COLS columns per sheet:
 * the cut is noted under the table and in meta.warnings.
 * Formulas show their cached value (what the file says Excel displayed);
 * nothing is recalculated.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert-int.h"
#include "office.h"

#define MAX_COLS 1000
#define MAX_MERGES 2000
#define MAX_MERGE_WORK 20000000u
#define MAX_STRING (1u << 20)

struct cellv {
	uint32_t col;
	char *s;
};

struct row {
	uint32_t num;
	struct cellv *c;
	size_t n;
};

struct merge {
	uint32_t r1, c1, r2, c2;
};

struct xlsx {
	hp_zip *z;
	const hp_convert_limits *lim;
	char *err;
	size_t errlen;
	char main[512];
	hp_rels rels;
	char **sst;
	size_t nsst;
	int *xf_fmt;          /* cellXfs index -> numFmtId */
	size_t nxf;
	struct { int id; char *code; } *fmts;
	size_t nfmts;
	int date1904;
	hp_md md;
	hp_meta meta;
};

static int grow(void **v, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	void *p = realloc(*v, nc * size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = nc;
	return 0;
}

/* ---- sharedStrings.xml, styles.xml ------------------------------------------- */

static int load_sst(struct xlsx *x, const char *part)
{
	hp_xr *r;
	int k = hp_xr_open(x->z, part, x->lim, 0, &r, x->err, x->errlen);
	if (k == -ENOENT)
		return 0;
	if (k < 0)
		return k;
	size_t cap = 0;
	hp_buf b;
	hp_buf_init(&b, MAX_STRING);
	int in_si = 0, in_t = 0, skip = 0;
	while ((k = hp_xr_next(r)) > 0) {
		int t = hp_xr_type(r);
		if (t == HP_XR_TEXT) {
			if (in_si && in_t && !skip && (k = hp_buf_addstr(&b, hp_xr_text(r))) < 0 && k != -EFBIG)
				break;
			k = 0;
			continue;
		}
		if (hp_xr_ns(r) != HP_NS_S)
			continue;
		const char *ln = hp_xr_local(r);
		if (t == HP_XR_START) {
			if (strcmp(ln, "si") == 0) {
				in_si = 1;
				hp_buf_reset(&b);
			} else if (strcmp(ln, "t") == 0) {
				in_t = 1;
			} else if (strcmp(ln, "rPh") == 0) {
				skip = 1;   /* phonetic reading: not the text */
			}
			if (!hp_xr_empty(r))
				continue;
		}
		if (strcmp(ln, "t") == 0)
			in_t = 0;
		else if (strcmp(ln, "rPh") == 0)
			skip = 0;
		else if (strcmp(ln, "si") == 0 && in_si) {
			in_si = 0;
			if ((k = grow((void **)&x->sst, x->nsst, &cap, sizeof(char *))) < 0)
				break;
			x->sst[x->nsst] = strdup(b.data ? b.data : "");
			if (!x->sst[x->nsst]) {
				k = -ENOMEM;
				break;
			}
			x->nsst++;
		}
	}
	hp_buf_free(&b);
	hp_xr_close(r);
	return k;
}

static int load_styles(struct xlsx *x, const char *part)
{
	hp_xr *r;
	int k = hp_xr_open(x->z, part, x->lim, 0, &r, x->err, x->errlen);
	if (k == -ENOENT)
		return 0;
	if (k < 0)
		return k;
	size_t cap_xf = 0, cap_f = 0;
	int in_xfs = 0;
	while ((k = hp_xr_next(r)) > 0) {
		if (hp_xr_ns(r) != HP_NS_S)
			continue;
		const char *ln = hp_xr_local(r);
		if (hp_xr_type(r) == HP_XR_END) {
			if (strcmp(ln, "cellXfs") == 0)
				in_xfs = 0;
			continue;
		}
		if (hp_xr_type(r) != HP_XR_START)
			continue;
		if (strcmp(ln, "cellXfs") == 0) {
			in_xfs = !hp_xr_empty(r);
		} else if (strcmp(ln, "numFmt") == 0) {
			const char *id = hp_xr_attr(r, HP_NS_NONE, "numFmtId");
			const char *code = hp_xr_attr(r, HP_NS_NONE, "formatCode");
			if (!id || !code)
				continue;
			if ((k = grow((void **)&x->fmts, x->nfmts, &cap_f, sizeof(*x->fmts))) < 0)
				break;
			x->fmts[x->nfmts].id = atoi(id);
			if (!(x->fmts[x->nfmts].code = strdup(code))) {
				k = -ENOMEM;
				break;
			}
			x->nfmts++;
		} else if (in_xfs && strcmp(ln, "xf") == 0) {
			const char *id = hp_xr_attr(r, HP_NS_NONE, "numFmtId");
			if ((k = grow((void **)&x->xf_fmt, x->nxf, &cap_xf, sizeof(int))) < 0)
				break;
			x->xf_fmt[x->nxf++] = id ? atoi(id) : 0;
		}
	}
	hp_xr_close(r);
	return k;
}

/* ---- number formats ---------------------------------------------------------------- */

static const char *builtin_format(int id)
{
	switch (id) {
	case 1: return "0";
	case 2: return "0.00";
	case 3: return "#,##0";
	case 4: return "#,##0.00";
	case 9: return "0%";
	case 10: return "0.00%";
	case 11: return "0.00E+00";
	case 14: return "yyyy-mm-dd";    /* locale short date: ISO 8601 here */
	case 15: return "d-mmm-yy";
	case 16: return "d-mmm";
	case 17: return "mmm-yy";
	case 18: return "h:mm AM/PM";
	case 19: return "h:mm:ss AM/PM";
	case 20: return "h:mm";
	case 21: return "h:mm:ss";
	case 22: return "yyyy-mm-dd h:mm";
	case 37: case 38: return "#,##0 ;(#,##0)";
	case 39: case 40: return "#,##0.00;(#,##0.00)";
	case 45: return "mm:ss";
	case 46: return "[h]:mm:ss";
	case 47: return "mm:ss.0";
	case 48: return "##0.0E+0";
	case 49: return "@";
	default: return NULL;
	}
}

static const char *format_code(struct xlsx *x, int style)
{
	if (style < 0 || (size_t)style >= x->nxf)
		return NULL;
	int id = x->xf_fmt[style];
	for (size_t i = 0; i < x->nfmts; i++)
		if (x->fmts[i].id == id)
			return x->fmts[i].code;
	return builtin_format(id);
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
static void civil(long z, int *y, int *m, int *d)
{
	z += 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long yy = yoe + era * 400;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yy + (*m <= 2));
}

static const char *const month_names[] = { "January", "February", "March", "April", "May", "June", "July",
                                           "August", "September", "October", "November", "December" };
static const char *const day_names[] = { "Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday",
                                         "Wednesday" };

/* One section of a format code into `sec` (without color/locale tags). */
static void pick_section(const char *code, double v, char *sec, size_t seclen, int *neg_sign)
{
	const char *starts[4] = { code, NULL, NULL, NULL };
	int ns = 1;
	int q = 0;
	for (const char *p = code; *p; p++) {
		if (*p == '"')
			q = !q;
		else if (*p == '\\' && p[1])
			p++;
		else if (*p == ';' && !q && ns < 4)
			starts[ns++] = p + 1;
	}
	int which = 0;
	*neg_sign = v < 0;
	if (v < 0 && ns >= 2) {
		which = 1;
		*neg_sign = 0;
	} else if (v == 0 && ns >= 3) {
		which = 2;
	}
	const char *s = starts[which];
	const char *e = which + 1 < ns ? starts[which + 1] - 1 : s + strlen(s);
	size_t o = 0;
	for (const char *p = s; p < e && o + 1 < seclen; p++) {
		if (*p == '[') {
			const char *c = memchr(p, ']', (size_t)(e - p));
			if (!c)
				break;
			/* [$€-407]: the currency symbol; [h]/[mm]/[ss]: elapsed time */
			if (p[1] == '$') {
				for (const char *k = p + 2; k < c && *k != '-' && o + 1 < seclen; k++)
					sec[o++] = *k;
			} else if (p[1] == 'h' || p[1] == 'H' || p[1] == 'm' || p[1] == 's') {
				for (const char *k = p + 1; k < c && o + 1 < seclen; k++)
					sec[o++] = *k;
			}
			p = c;
			continue;
		}
		sec[o++] = *p;
	}
	sec[o] = '\0';
}

static int is_date_format(const char *sec)
{
	int q = 0;
	for (const char *p = sec; *p; p++) {
		if (*p == '"')
			q = !q;
		else if (q)
			continue;
		else if (*p == '\\' || *p == '_' || *p == '*') {
			if (p[1])
				p++;
		} else if (strchr("yYdDhHsS", *p))
			return 1;
		else if ((*p == 'm' || *p == 'M') && !strpbrk(sec, "0#?"))
			return 1;
	}
	return 0;
}

static void fmt_date(struct xlsx *x, double v, const char *sec, char *out, size_t outlen)
{
	double day = floor(v);
	double frac = v - day;
	long secs = lround(frac * 86400.0);
	if (secs >= 86400) {
		secs -= 86400;
		day += 1;
	}
	long days = (long)day;
	if (x->date1904)
		days += 1462;
	else if (days >= 61)
		days -= 1;    /* 1900 was no leap year; Excel's serial 60 is 1900-02-29 */
	/* serial 1 = 1900-01-01 = day -25567 since the Unix epoch */
	long unix_days = days - 25568;
	int y, mo, d;
	civil(unix_days, &y, &mo, &d);
	int hh = (int)(secs / 3600), mi = (int)(secs / 60 % 60), ss = (int)(secs % 60);
	int ampm = strstr(sec, "AM/PM") || strstr(sec, "am/pm") || strstr(sec, "A/P");
	int wday = (int)(((unix_days % 7) + 7) % 7);
	size_t o = 0;
	int last_h = 0;
#define PUT(...) do { int w_ = snprintf(out + o, outlen - o, __VA_ARGS__); \
	if (w_ > 0) o = (size_t)w_ < outlen - o ? o + (size_t)w_ : outlen - 1; } while (0)
	for (const char *p = sec; *p && o + 1 < outlen;) {
		char c = (char)tolower((unsigned char)*p);
		size_t run = 1;
		while (tolower((unsigned char)p[run]) == c && strchr("ymdhs", c))
			run++;
		if (*p == '"') {
			const char *e = strchr(p + 1, '"');
			size_t l = e ? (size_t)(e - p - 1) : strlen(p + 1);
			PUT("%.*s", (int)l, p + 1);
			p += l + (e ? 2 : 1);
			continue;
		}
		if (*p == '\\' && p[1]) {
			PUT("%c", p[1]);
			p += 2;
			continue;
		}
		if (strncasecmp(p, "AM/PM", 5) == 0) {
			PUT("%s", hh < 12 ? "AM" : "PM");
			p += 5;
			continue;
		}
		if (*p == '_' || *p == '*') {
			p += p[1] ? 2 : 1;
			continue;
		}
		switch (c) {
		case 'y':
			if (run <= 2)
				PUT("%02d", y % 100);
			else
				PUT("%04d", y);
			break;
		case 'd':
			if (run == 1)
				PUT("%d", d);
			else if (run == 2)
				PUT("%02d", d);
			else if (run == 3)
				PUT("%.3s", day_names[wday]);
			else
				PUT("%s", day_names[wday]);
			break;
		case 'h': {
			int h = ampm ? (hh % 12 ? hh % 12 : 12) : hh;
			PUT(run >= 2 ? "%02d" : "%d", h);
			last_h = 1;
			p += run;
			continue;
		}
		case 'm': {
			/* minutes after an hour or before seconds, else month */
			const char *nx = p + run;
			while (*nx && !isalpha((unsigned char)*nx))
				nx++;
			int minutes = last_h || tolower((unsigned char)*nx) == 's';
			if (minutes)
				PUT(run >= 2 ? "%02d" : "%d", mi);
			else if (run == 1)
				PUT("%d", mo);
			else if (run == 2)
				PUT("%02d", mo);
			else if (run == 3)
				PUT("%.3s", month_names[mo - 1]);
			else if (run == 5)
				PUT("%c", month_names[mo - 1][0]);
			else
				PUT("%s", month_names[mo - 1]);
			break;
		}
		case 's':
			PUT(run >= 2 ? "%02d" : "%d", ss);
			break;
		default:
			if (*p == '.' && p[1] == '0') {
				/* fractions of a second: not kept at this precision */
				while (p[1] == '0')
					p++;
				p++;
				continue;
			}
			PUT("%c", *p);
			break;
		}
		if (c != 'h')
			last_h = last_h && !isalpha((unsigned char)c);
		p += run;
	}
#undef PUT
	out[o] = '\0';
}

static void group_thousands(char *num, size_t outlen)
{
	char *dot = strchr(num, '.');
	size_t intlen = dot ? (size_t)(dot - num) : strlen(num);
	size_t start = num[0] == '-' ? 1 : 0;
	size_t digits = intlen - start;
	if (digits <= 3)
		return;
	size_t commas = (digits - 1) / 3;
	size_t len = strlen(num);
	if (len + commas + 1 > outlen)
		return;
	memmove(num + intlen + commas, num + intlen, len - intlen + 1);
	size_t src = intlen, dst = intlen + commas, cnt = 0;
	while (src > start) {
		num[--dst] = num[--src];
		if (++cnt % 3 == 0 && src > start)
			num[--dst] = ',';
	}
}

static void fmt_general(double v, char *out, size_t outlen)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(out, outlen, "%.0f", v);
	else
		snprintf(out, outlen, "%.15g", v);
}

static void fmt_number(const char *sec, double v, int neg_sign, char *out, size_t outlen)
{
	/* literal prefix, the digit pattern, literal suffix */
	char pre[64] = "", suf[64] = "";
	size_t pl = 0, sl = 0;
	int decimals = 0, thousands = 0, percent = 0, sci = 0, seen_digit = 0, after_dot = 0, ended = 0;
	int q = 0;
	for (const char *p = sec; *p; p++) {
		char c = *p;
		char lit = 0;
		if (c == '"') {
			q = !q;
			continue;
		}
		if (q) {
			lit = c;
		} else if (c == '\\' && p[1]) {
			lit = *++p;
		} else if (c == '_' || c == '*') {
			if (p[1])
				p++;
			if (c == '_')
				lit = ' ';
			else
				continue;
		} else if (c == '0' || c == '#' || c == '?') {
			if (ended && !sci) {
				lit = c;
			} else {
				seen_digit = 1;
				if (after_dot)
					decimals++;
				continue;
			}
		} else if (c == '.' && seen_digit && !ended) {
			after_dot = 1;
			continue;
		} else if (c == ',' && seen_digit && !ended) {
			thousands = 1;
			continue;
		} else if (c == '%') {
			percent = 1;
			lit = '%';
		} else if ((c == 'E' || c == 'e') && (p[1] == '+' || p[1] == '-') && seen_digit) {
			sci = 1;
			p++;
			continue;
		} else if (c == '@') {
			continue;
		} else {
			lit = c;
		}
		if (!seen_digit) {
			if (pl + 1 < sizeof(pre))
				pre[pl++] = lit;
		} else {
			ended = 1;
			if (sl + 1 < sizeof(suf))
				suf[sl++] = lit;
		}
	}
	pre[pl] = suf[sl] = '\0';
	if (!seen_digit) {
		/* a pure text format ("General" has none of 0#?) */
		if (strcasecmp(sec, "General") == 0 || !*sec) {
			fmt_general(v, out, outlen);
			return;
		}
		snprintf(out, outlen, "%s", pre);
		return;
	}
	double a = fabs(v);
	if (percent)
		a *= 100;
	char num[96];
	if (sci)
		snprintf(num, sizeof(num), "%.*E", decimals, a);
	else
		snprintf(num, sizeof(num), "%.*f", decimals, a);
	if (thousands && !sci)
		group_thousands(num, sizeof(num));
	/* "-0" after rounding is "0" */
	int zero = strspn(num, "0.,") == strlen(num);
	snprintf(out, outlen, "%s%s%s%s", neg_sign && v < 0 && !zero ? "-" : "", pre, num, suf);
	/* trim the padding spaces that "_)" leaves at the end */
	size_t l = strlen(out);
	while (l && out[l - 1] == ' ')
		out[--l] = '\0';
}

static void format_value(struct xlsx *x, double v, int style, char *out, size_t outlen)
{
	const char *code = format_code(x, style);
	if (!code || strcasecmp(code, "General") == 0 || strcmp(code, "@") == 0) {
		fmt_general(v, out, outlen);
		return;
	}
	char sec[256];
	int neg;
	pick_section(code, v, sec, sizeof(sec), &neg);
	if (is_date_format(sec) && v >= 0 && v < 2958466)   /* up to 9999-12-31 */
		fmt_date(x, v, sec, out, outlen);
	else if (strchr(sec, '/') && strchr(sec, '?'))
		fmt_general(v, out, outlen);    /* fractions ("# ?/?"): the exact value instead */
	else
		fmt_number(sec, v, neg, out, outlen);
}

/* ---- one worksheet -------------------------------------------------------------- */

/* "BC12" -> column 54 (0-based), row 11; -1 when not a reference. */
static int parse_ref(const char *ref, long *col, long *row)
{
	long c = 0;
	const char *p = ref;
	while (isalpha((unsigned char)*p) && c <= 20000)
		c = c * 26 + (toupper((unsigned char)*p++) - 'A' + 1);
	if (p == ref)
		return -1;
	*col = c - 1;
	*row = isdigit((unsigned char)*p) ? atol(p) - 1 : -1;
	return 0;
}

struct sheet {
	struct row *rows;
	size_t nrows, cap;
	struct merge *merges;
	size_t nmerges, mcap;
	size_t total_rows;     /* non-empty rows seen, kept or not */
	int cols_cut, merges_cut;
	size_t bytes;
};

static void sheet_free(struct sheet *s)
{
	for (size_t i = 0; i < s->nrows; i++) {
		for (size_t k = 0; k < s->rows[i].n; k++)
			free(s->rows[i].c[k].s);
		free(s->rows[i].c);
	}
	free(s->rows);
	free(s->merges);
	memset(s, 0, sizeof(*s));
}

static int cell_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct cellv *)a)->col, y = ((const struct cellv *)b)->col;
	return x < y ? -1 : x > y;
}

static int row_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct row *)a)->num, y = ((const struct row *)b)->num;
	return x < y ? -1 : x > y;
}

/* Cells are sorted by column at the row's end, rows by number at the
 * sheet's end: lookups stay logarithmic whatever order the file has. */
static const char *row_get(const struct row *r, uint32_t col)
{
	struct cellv key = { .col = col };
	const struct cellv *c = r->n ? bsearch(&key, r->c, r->n, sizeof(*r->c), cell_cmp) : NULL;
	return c ? c->s : NULL;
}

static const struct row *find_row(const struct sheet *s, uint32_t num)
{
	size_t lo = 0, hi = s->nrows;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->rows[mid].num < num)
			lo = mid + 1;
		else if (s->rows[mid].num > num)
			hi = mid;
		else
			return &s->rows[mid];
	}
	return NULL;
}

static int read_sheet(struct xlsx *x, const char *part, struct sheet *s, size_t max_rows)
{
	hp_xr *r;
	int k = hp_xr_open(x->z, part, x->lim, 0, &r, x->err, x->errlen);
	if (k < 0)
		return k;
	hp_buf val;
	hp_buf_init(&val, MAX_STRING);
	struct row cur = { 0 };
	size_t ccap = 0;
	long next_row = 0, next_col = 0;
	int in_c = 0, in_v = 0, in_t = 0, in_rph = 0, row_has = 0;
	char ctype[16] = "";
	int cstyle = 0;
	long ccol = 0;
	while ((k = hp_xr_next(r)) > 0) {
		int t = hp_xr_type(r);
		if (t == HP_XR_TEXT) {
			if (in_c && (in_v || (in_t && !in_rph)) &&
			    (k = hp_buf_addstr(&val, hp_xr_text(r))) < 0 && k != -EFBIG)
				break;
			k = 0;
			continue;
		}
		if (hp_xr_ns(r) != HP_NS_S)
			continue;
		const char *ln = hp_xr_local(r);
		if (t == HP_XR_START) {
			if (strcmp(ln, "row") == 0) {
				const char *rn = hp_xr_attr(r, HP_NS_NONE, "r");
				cur.num = (uint32_t)(rn ? atol(rn) - 1 : next_row);
				next_row = (long)cur.num + 1;
				next_col = 0;
				/* a row inside a row (malformed but parseable): drop the open one */
				for (size_t i = 0; i < cur.n; i++)
					free(cur.c[i].s);
				cur.n = 0;
			} else if (strcmp(ln, "c") == 0) {
				const char *ref = hp_xr_attr(r, HP_NS_NONE, "r");
				const char *ty = hp_xr_attr(r, HP_NS_NONE, "t");
				const char *st = hp_xr_attr(r, HP_NS_NONE, "s");
				long col = next_col, row = -1;
				if (ref)
					parse_ref(ref, &col, &row);
				ccol = col;
				next_col = col + 1;
				snprintf(ctype, sizeof(ctype), "%s", ty ? ty : "n");
				cstyle = st ? atoi(st) : 0;
				in_c = 1;
				hp_buf_reset(&val);
			} else if (in_c && strcmp(ln, "v") == 0) {
				in_v = 1;
			} else if (in_c && strcmp(ln, "t") == 0) {
				in_t = 1;
			} else if (in_c && strcmp(ln, "rPh") == 0) {
				in_rph = 1;
			} else if (strcmp(ln, "f") == 0) {
				/* the formula text: not shown */
			} else if (strcmp(ln, "mergeCell") == 0) {
				const char *ref = hp_xr_attr(r, HP_NS_NONE, "ref");
				const char *colon = ref ? strchr(ref, ':') : NULL;
				long c1, r1, c2, r2;
				if (s->nmerges >= MAX_MERGES)
					s->merges_cut = 1;
				if (colon && s->nmerges < MAX_MERGES && parse_ref(ref, &c1, &r1) == 0 &&
				    parse_ref(colon + 1, &c2, &r2) == 0 && r1 >= 0 && r2 >= r1 && c2 >= c1) {
					if ((k = grow((void **)&s->merges, s->nmerges, &s->mcap, sizeof(*s->merges))) < 0)
						break;
					s->merges[s->nmerges++] = (struct merge){ (uint32_t)r1, (uint32_t)c1,
					                                          (uint32_t)r2, (uint32_t)c2 };
				}
			}
			if (!hp_xr_empty(r))
				continue;
		}
		/* END (or an empty START) */
		if (strcmp(ln, "v") == 0) {
			in_v = 0;
		} else if (strcmp(ln, "t") == 0) {
			in_t = 0;
		} else if (strcmp(ln, "rPh") == 0) {
			in_rph = 0;
		} else if (strcmp(ln, "c") == 0 && in_c) {
			in_c = 0;
			if (!val.len)
				continue;
			char num[128];
			const char *shown = val.data;
			if (strcmp(ctype, "s") == 0) {
				char *end;
				unsigned long i = strtoul(val.data, &end, 10);
				shown = *end == '\0' && i < x->nsst ? x->sst[i] : "";
			} else if (strcmp(ctype, "b") == 0) {
				shown = strcmp(val.data, "0") == 0 ? "FALSE" : "TRUE";
			} else if (strcmp(ctype, "n") == 0) {
				char *end;
				double v = strtod(val.data, &end);
				if (end != val.data && isfinite(v)) {
					format_value(x, v, cstyle, num, sizeof(num));
					shown = num;
				}
			}
			if (!*shown)
				continue;
			row_has = 1;
			if (ccol >= MAX_COLS) {
				s->cols_cut = 1;
				continue;
			}
			if (s->nrows >= max_rows)
				continue;    /* counted at the row's end */
			size_t l = strlen(shown);
			if (l > x->lim->max_output - s->bytes) {
				k = -EFBIG;
				break;
			}
			if ((k = grow((void **)&cur.c, cur.n, &ccap, sizeof(*cur.c))) < 0)
				break;
			if (!(cur.c[cur.n].s = strdup(shown))) {
				k = -ENOMEM;
				break;
			}
			cur.c[cur.n].col = (uint32_t)ccol;
			cur.n++;
			s->bytes += l + 16;
		} else if (strcmp(ln, "row") == 0) {
			if (row_has)
				s->total_rows++;
			row_has = 0;
			if (!cur.n)
				continue;
			if (s->nrows >= max_rows) {
				continue;
			}
			if ((k = grow((void **)&s->rows, s->nrows, &s->cap, sizeof(*s->rows))) < 0)
				break;
			if (cur.n > 1)
				qsort(cur.c, cur.n, sizeof(*cur.c), cell_cmp);
			s->rows[s->nrows++] = cur;
			cur.c = NULL;
			cur.n = 0;
			ccap = 0;
		}
	}
	if (k == 0 && s->nrows > 1)
		qsort(s->rows, s->nrows, sizeof(*s->rows), row_cmp);
	/* a row still open (truncated input ends with an error anyway) */
	for (size_t i = 0; i < cur.n; i++)
		free(cur.c[i].s);
	free(cur.c);
	hp_buf_free(&val);
	hp_xr_close(r);
	return k;
}

static int emit_sheet(struct xlsx *x, const char *name, struct sheet *s, size_t max_rows)
{
	char prefix[8] = "## ";
	hp_il il;
	hp_il_init(&il, x->lim->max_output);
	int r = hp_il_text(&il, name, strlen(name), 0);
	size_t n;
	const char *h = hp_il_finish(&il, &n);
	if (r == 0)
		r = hp_md_block(&x->md, prefix, h, n, 0);
	long minc = -1, maxc = -1;
	for (size_t i = 0; i < s->nrows; i++)
		for (size_t k = 0; k < s->rows[i].n; k++) {
			long c = s->rows[i].c[k].col;
			if (minc < 0 || c < minc)
				minc = c;
			if (c > maxc)
				maxc = c;
		}
	hp_tbl t;
	hp_tbl_init(&t, x->lim->max_output);
	il.in_table = 1;
	/* merged ranges are looked up per empty cell: bounded work, so that
	 * thousands of overlapping ranges cannot make a sheet take minutes */
	uint64_t merge_work = 0;
	int merges_dropped = 0;
	for (size_t i = 0; i < s->nrows && r == 0 && minc >= 0; i++) {
		const struct row *row = &s->rows[i];
		if ((r = hp_tbl_row(&t)) < 0)
			break;
		for (long c = minc; c <= maxc && r == 0; c++) {
			const char *v = row_get(row, (uint32_t)c);
			for (size_t m = 0; !v && !merges_dropped && m < s->nmerges; m++) {
				if (++merge_work > MAX_MERGE_WORK) {
					merges_dropped = 1;
					break;
				}
				const struct merge *mg = &s->merges[m];
				if (row->num < mg->r1 || row->num > mg->r2 || (uint32_t)c < mg->c1 ||
				    (uint32_t)c > mg->c2)
					continue;
				const struct row *top = find_row(s, mg->r1);
				v = top ? row_get(top, mg->c1) : NULL;
			}
			hp_il_reset(&il);
			if (v)
				r = hp_il_text(&il, v, strlen(v), 0);
			const char *cs = hp_il_finish(&il, &n);
			if (r == 0)
				r = hp_tbl_cell(&t, cs, n);
		}
	}
	if (r == 0)
		r = hp_tbl_emit(&t, &x->md);
	hp_tbl_free(&t);
	hp_il_free(&il);
	if (r == 0 && (merges_dropped || s->merges_cut))
		r = hp_meta_warn(&x->meta, "sheet %s: too many merged ranges to repeat their values all", name);
	if (r == 0 && s->total_rows > s->nrows) {
		char note[256];
		snprintf(note, sizeof(note), "> Note: sheet %s cut to the first %zu of %zu rows (max_sheet_rows = %zu)",
		         name, s->nrows, s->total_rows, max_rows);
		if ((r = hp_md_raw(&x->md, note)) == 0)
			r = hp_meta_warn(&x->meta, "sheet %s: %zu of %zu rows kept (max_sheet_rows)", name,
			                 s->nrows, s->total_rows);
	}
	if (r == 0 && s->cols_cut) {
		char note[256];
		snprintf(note, sizeof(note), "> Note: sheet %s cut to the first %d columns", name, MAX_COLS);
		if ((r = hp_md_raw(&x->md, note)) == 0)
			r = hp_meta_warn(&x->meta, "sheet %s: columns after %d cut", name, MAX_COLS);
	}
	return r;
}

/* Charts drawn on a sheet: sheet -> drawing -> chart relationships. */
static int sheet_charts(struct xlsx *x, const char *sheet_part)
{
	hp_rels srels, drels;
	int r = hp_rels_load(x->z, sheet_part, x->lim, &srels, x->err, x->errlen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < srels.n && r == 0; i++) {
		const hp_rel *d = &srels.v[i];
		size_t tl = strlen(d->type);
		if (d->external || tl < 8 || strcmp(d->type + tl - 8, "/drawing") != 0)
			continue;
		if ((r = hp_rels_load(x->z, d->target, x->lim, &drels, x->err, x->errlen)) < 0)
			break;
		for (size_t k = 0; k < drels.n && r == 0; k++) {
			const hp_rel *c = &drels.v[k];
			size_t cl = strlen(c->type);
			if (!c->external && cl >= 6 && strcmp(c->type + cl - 6, "/chart") == 0)
				r = hp_chart_md(x->z, c->target, x->lim, &x->md, &x->meta, x->err, x->errlen);
		}
		hp_rels_free(&drels);
	}
	hp_rels_free(&srels);
	return r;
}

/* ---- the workbook ---------------------------------------------------------------- */

struct sheet_ref {
	char *name, *rid;
};

static int read_workbook(struct xlsx *x, struct sheet_ref **ret, size_t *ret_n)
{
	hp_xr *r;
	int k = hp_xr_open(x->z, x->main, x->lim, 0, &r, x->err, x->errlen);
	if (k == -ENOENT)
		return hp_office_err(-EINVAL, x->err, x->errlen, "XLSX has no workbook part %s", x->main);
	if (k < 0)
		return k;
	struct sheet_ref *v = NULL;
	size_t n = 0, cap = 0;
	while ((k = hp_xr_next(r)) > 0) {
		if (hp_xr_type(r) != HP_XR_START || hp_xr_ns(r) != HP_NS_S)
			continue;
		const char *ln = hp_xr_local(r);
		if (strcmp(ln, "workbookPr") == 0) {
			const char *d = hp_xr_attr(r, HP_NS_NONE, "date1904");
			x->date1904 = d && (strcmp(d, "1") == 0 || strcasecmp(d, "true") == 0);
		} else if (strcmp(ln, "sheet") == 0) {
			const char *name = hp_xr_attr(r, HP_NS_NONE, "name");
			const char *rid = hp_xr_attr(r, HP_NS_R, "id");
			if (!rid)
				continue;
			if ((k = grow((void **)&v, n, &cap, sizeof(*v))) < 0)
				break;
			v[n].name = strdup(name ? name : "Sheet");
			v[n].rid = strdup(rid);
			n++;
			if (!v[n - 1].name || !v[n - 1].rid) {
				k = -ENOMEM;
				break;
			}
		}
	}
	hp_xr_close(r);
	if (k < 0) {
		for (size_t i = 0; i < n; i++) {
			free(v[i].name);
			free(v[i].rid);
		}
		free(v);
		return k;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int convert_xlsx(const char *name, const char *data, size_t len,
                        const hp_convert_limits *lim, hp_doc *doc, char *err, size_t errlen)
{
	(void)name;
	struct xlsx x;
	memset(&x, 0, sizeof(x));
	x.lim = lim;
	x.err = err;
	x.errlen = errlen;
	hp_md_init(&x.md, lim->max_output);
	hp_meta_init(&x.meta);
	struct sheet_ref *sheets = NULL;
	size_t nsheets = 0;
	size_t max_rows = lim->max_sheet_rows ? lim->max_sheet_rows : HP_SHEET_DEFAULT_MAX_ROWS;
	int r = hp_zip_open(data, len, lim, &x.z, err, errlen);
	if (r < 0)
		goto out;
	if ((r = hp_opc_main(x.z, lim, "xl/workbook.xml", x.main, sizeof(x.main), err, errlen)) < 0 ||
	    (r = hp_rels_load(x.z, x.main, lim, &x.rels, err, errlen)) < 0)
		goto out;
	const hp_rel *rel = hp_rels_type(&x.rels, "sharedStrings");
	if (rel && !rel->external && (r = load_sst(&x, rel->target)) < 0)
		goto out;
	rel = hp_rels_type(&x.rels, "styles");
	if (rel && !rel->external && (r = load_styles(&x, rel->target)) < 0)
		goto out;
	if ((r = read_workbook(&x, &sheets, &nsheets)) < 0)
		goto out;
	if (!nsheets) {
		r = hp_office_err(-EINVAL, err, errlen, "XLSX workbook %s lists no sheets", x.main);
		goto out;
	}
	for (size_t i = 0; i < nsheets; i++) {
		rel = hp_rels_id(&x.rels, sheets[i].rid);
		if (!rel || rel->external || hp_zip_find(x.z, rel->target) < 0) {
			if ((r = hp_meta_warn(&x.meta, "sheet %s skipped: its part is missing", sheets[i].name)) < 0)
				goto out;
			continue;
		}
		size_t tl = strlen(rel->type);
		if (tl < 9 || strcmp(rel->type + tl - 9, "worksheet") != 0) {
			if ((r = hp_meta_warn(&x.meta, "sheet %s skipped: not a worksheet (chart or dialog sheet)",
			                      sheets[i].name)) < 0)
				goto out;
			continue;
		}
		struct sheet s;
		memset(&s, 0, sizeof(s));
		r = read_sheet(&x, rel->target, &s, max_rows);
		if (r == 0)
			r = emit_sheet(&x, sheets[i].name, &s, max_rows);
		sheet_free(&s);
		if (r == 0)
			r = sheet_charts(&x, rel->target);
		if (r < 0)
			goto out;
		x.meta.sheets++;
	}
	if ((r = hp_meta_ooxml(&x.meta, x.z, lim, err, errlen)) < 0)
		goto out;
	x.meta.pages = 0;    /* app.xml "Pages" is a Word count */
	if (x.meta.title)
		r = hp_title_from_line(x.meta.title, strlen(x.meta.title), HP_TITLE_MAX, &doc->title);
	else if (nsheets)
		r = hp_title_from_line(sheets[0].name, strlen(sheets[0].name), HP_TITLE_MAX, &doc->title);
	if (r < 0)
		goto out;
	if ((r = hp_md_finish(&x.md, doc, lim, err, errlen)) < 0)
		goto out;
	r = hp_meta_finish(&x.meta, doc);
out:
	if (r == -EFBIG && !err[0])
		r = hp_conv_efbig(lim->max_output, err, errlen);
	for (size_t i = 0; i < nsheets; i++) {
		free(sheets[i].name);
		free(sheets[i].rid);
	}
	free(sheets);
	hp_rels_free(&x.rels);
	for (size_t i = 0; i < x.nsst; i++)
		free(x.sst[i]);
	free(x.sst);
	free(x.xf_fmt);
	for (size_t i = 0; i < x.nfmts; i++)
		free(x.fmts[i].code);
	free(x.fmts);
	hp_md_free(&x.md);
	hp_meta_free(&x.meta);
	hp_zip_close(x.z);
	return r;
}

const hp_converter hp_conv_xlsx = { HP_FMT_XLSX, convert_xlsx };
