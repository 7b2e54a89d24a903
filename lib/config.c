/* config.c — the INI configuration, see include/hopper/config.h.
 *
 * One table, config_keys[], describes every key: its section, type, default
 * text, bounds, whether a reload applies it, and a line of help. Parsing,
 * defaults and hp_config_print() all walk that table; no key is handled by
 * name anywhere else (Redis's config.c habit).
 *
 * libinih (Debian 12 ships r55 built without INI_HANDLER_LINENO) does the
 * key = value splitting. It is fed through our own line reader, which
 *   - counts physical lines, so every message can say FILE:LINE;
 *   - strips leading blanks, so an indented "max = 4" is a key and never a
 *     silent continuation of the previous value (inih's multi-line mode);
 *   - handles [section] lines itself, so empty sections are seen too;
 *   - reports lines inih would reject (no '=', too long) and hands inih an
 *     empty line instead, so that every error of the file is reported, not
 *     only the first one inih would return.
 * Errors are collected, sorted by line and printed together at the end.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "hopper/common.h"
#include "hopper/config.h"

/* ---- the table of keys ---------------------------------------------------- */

typedef enum key_section { SEC_DAEMON, SEC_WORKERS, SEC_WATCH, SEC_EMBED } key_section;

typedef enum key_type {
	T_STRING,   /* char * */
	T_PATH,     /* char *, made absolute against the file's directory */
	T_BOOL,     /* bool */
	T_INT,      /* int */
	T_SIZE,     /* uint64_t bytes */
	T_DURATION, /* uint64_t milliseconds */
	T_LIST,     /* char ** NULL-terminated (off) + size_t count (off2) */
	T_ACTION,   /* hp_on_action (off) + char *dir (off2) */
	T_LOGLEVEL, /* int 3..7 */
	T_MODE,     /* hp_watch_mode: auto | inotify | poll */
	T_DOUBLE,   /* double; min/max are hundredths */
	T_PROFILE,  /* int: conservative 0, balanced 1, aggressive 2 */
} key_type;

enum {
	KF_RELOAD = 1 << 0,    /* SIGHUP applies it; otherwise a restart is needed */
	KF_REQUIRED = 1 << 1,  /* no default: the section must set it */
	KF_EMPTY_OK = 1 << 2,  /* "" means unset (NULL) */
	KF_AUTO = 1 << 3,      /* "auto" is accepted and stored as 0 */
	KF_HOSTNAME = 1 << 4,  /* the default is the host name */
	KF_NO_DELETE = 1 << 5, /* action: keep | move only */
	KF_LATER = 1 << 6,     /* accepted, but this release does not act on it yet */
};

typedef struct config_key {
	key_section sec;
	const char *name;
	key_type type;
	const char *def;    /* default as the user would write it; NULL = none */
	int64_t min, max;   /* bounds for T_INT, T_SIZE (bytes), T_DURATION (ms) */
	unsigned flags;
	size_t off, off2;   /* into hp_config ([daemon], [workers]) or hp_watch_config */
	const char *help;
} config_key;

#define KIB INT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define CFG(f) offsetof(hp_config, f)
#define WCF(f) offsetof(hp_watch_config, f)

static const config_key config_keys[] = {
	{ SEC_DAEMON, "database", T_STRING, "local", 0, 0, 0, CFG(database), 0,
	  "\"local\" = embedded PostgreSQL in state_dir, else a libpq conninfo or URI" },
	{ SEC_DAEMON, "state_dir", T_PATH, "/var/lib/hopper", 0, 0, 0, CFG(state_dir), 0,
	  "where the embedded cluster and the daemon's state live" },
	{ SEC_DAEMON, "node", T_STRING, NULL, 0, 0, KF_HOSTNAME, CFG(node), 0,
	  "this daemon's name in job leases and hopper.workers; default: the host name" },
	{ SEC_DAEMON, "log_level", T_LOGLEVEL, "info", 3, 7, KF_RELOAD, CFG(log_level), 0,
	  "err, warning, notice, info or debug (or 3..7)" },
	{ SEC_DAEMON, "search_config", T_STRING, "simple", 0, 0, 0, CFG(search_config), 0,
	  "PostgreSQL text-search configuration of hopper.chunks.tsv (simple, english, german, ...)" },

	{ SEC_WORKERS, "min", T_INT, "1", 1, 256, KF_RELOAD, CFG(workers_min), 0,
	  "converter processes always running" },
	{ SEC_WORKERS, "max", T_INT, "auto", 1, 256, KF_AUTO | KF_RELOAD, CFG(workers_max), 0,
	  "most converter processes; auto = from cores and memory; not below min" },
	{ SEC_WORKERS, "profile", T_PROFILE, "balanced", 0, 2, KF_RELOAD, CFG(profile), 0,
	  "conservative, balanced or aggressive: workers per CPU, memory headroom, claim batch" },
	{ SEC_WORKERS, "cpu_multiplier", T_DOUBLE, "auto", 10, 1600, KF_AUTO | KF_RELOAD,
	  CFG(cpu_multiplier), 0, "workers per usable CPU for max = auto; auto = from profile" },
	{ SEC_WORKERS, "idle_timeout", T_DURATION, "60s", 1000, 24 * 3600 * 1000, KF_RELOAD,
	  CFG(idle_timeout_ms), 0, "workers above what the backlog needs stop after this long" },
	{ SEC_WORKERS, "max_jobs_per_worker", T_INT, "1000", 1, 1000000, KF_RELOAD,
	  CFG(max_jobs_per_worker), 0, "a worker is replaced by a fresh process after this many jobs" },
	{ SEC_WORKERS, "recycle_high_risk", T_BOOL, "yes", 0, 0, KF_RELOAD, CFG(recycle_high_risk), 0,
	  "replace the worker after every PDF, Office or EPUB job" },
	{ SEC_WORKERS, "memory_limit", T_SIZE, "512M", 16 * MIB, 64 * GIB, 0,
	  CFG(memory_limit), 0, "memory limit of one worker process" },
	{ SEC_WORKERS, "job_timeout", T_DURATION, "60s", 1000, 24 * 3600 * 1000, 0,
	  CFG(job_timeout_ms), 0, "a conversion running longer is killed and counts an attempt" },
	{ SEC_WORKERS, "max_attempts", T_INT, "3", 1, 100, KF_RELOAD, CFG(max_attempts), 0,
	  "tries before a job is marked failed" },
	{ SEC_WORKERS, "retry_delay", T_DURATION, "10s", 100, 3600 * 1000, KF_RELOAD,
	  CFG(retry_delay_ms), 0, "wait before the second try; doubles per try (at most 1 h), +-25% jitter" },
	{ SEC_WORKERS, "max_file_size", T_SIZE, "256M", KIB, GIB, KF_RELOAD,
	  CFG(max_file_size), 0, "larger files fail at once" },
	{ SEC_WORKERS, "max_output", T_SIZE, "64M", 64 * KIB, 4 * GIB, KF_RELOAD,
	  CFG(max_output), 0, "most Markdown kept for one document; more fails the job" },
	{ SEC_WORKERS, "pdf_max_pages", T_INT, "2000", 1, 1000000, KF_RELOAD, CFG(pdf_max_pages), 0,
	  "a PDF with more pages fails at once (permanent)" },
	{ SEC_WORKERS, "pdf_page_timeout", T_DURATION, "10s", 10, 3600 * 1000, KF_RELOAD,
	  CFG(pdf_page_timeout_ms), 0, "time one PDF page may take; a slower page fails the job (permanent)" },
	{ SEC_WORKERS, "chunk_overlap", T_INT, "0", 0, 4096, KF_RELOAD, CFG(chunk_overlap), 0,
	  "tokens at the end of a chunk repeated at the start of the next (at most half of chunk_tokens)" },
	{ SEC_WORKERS, "chunk_min_tokens", T_INT, "32", 0, 4096, KF_RELOAD, CFG(chunk_min_tokens), 0,
	  "sections smaller than this merge with a neighbour under the same parent heading; 0 = never" },
	{ SEC_WORKERS, "zip_max_total", T_SIZE, "512M", MIB, 16 * GIB, KF_RELOAD,
	  CFG(zip_max_total), 0, "office/EPUB files: most bytes inflated from the ZIP per job; more fails the job" },
	{ SEC_WORKERS, "zip_max_ratio", T_INT, "200", 10, 1000000, KF_RELOAD, CFG(zip_max_ratio), 0,
	  "office/EPUB files: highest compression ratio of a ZIP entry over 1 MiB; more fails the job" },
	{ SEC_WORKERS, "zip_max_entries", T_INT, "10000", 10, 10000000, KF_RELOAD, CFG(zip_max_entries), 0,
	  "office/EPUB files: most entries in the ZIP; more fails the job" },
	{ SEC_WORKERS, "max_sheet_rows", T_INT, "10000", 1, 100000000, KF_RELOAD, CFG(max_sheet_rows), 0,
	  "spreadsheets: rows kept per sheet; the rest is cut with a note" },

	{ SEC_WORKERS, "ocr_languages", T_STRING, "eng", 0, 0, KF_RELOAD, CFG(ocr_languages), 0,
	  "Tesseract languages for pictures of text, e.g. \"eng deu\" (tesseract-ocr-LANG packages)" },
	{ SEC_WORKERS, "ocr_max_pages", T_INT, "500", 1, 1000000, KF_RELOAD, CFG(ocr_max_pages), 0,
	  "pages of one document read by OCR at most; the others get a note and meta.ocr.skipped" },
	{ SEC_WORKERS, "ocr_time_budget", T_DURATION, "45s", 100, 24 * 3600 * 1000, KF_RELOAD,
	  CFG(ocr_time_budget_ms), 0,
	  "OCR time for one document (at most 3/4 of job_timeout is used); pages past it get a note" },
	{ SEC_WORKERS, "ocr_dpi", T_INT, "300", 72, 1200, KF_RELOAD, CFG(ocr_dpi), 0,
	  "resolution PDF pages without text are rendered at for OCR (lower for a page too large at it)" },

	{ SEC_EMBED, "url", T_STRING, "", 0, 0, KF_EMPTY_OK, CFG(embed_url), 0,
	  "OpenAI-compatible /v1/embeddings endpoint; empty = no embeddings" },
	{ SEC_EMBED, "model", T_STRING, "", 0, 0, KF_EMPTY_OK, CFG(embed_model), 0,
	  "model name sent with every request (required with url)" },
	{ SEC_EMBED, "batch", T_INT, "64", 1, 2048, 0, CFG(embed_batch), 0,
	  "chunks per request" },
	{ SEC_EMBED, "dimensions", T_INT, "0", 0, 65536, 0, CFG(embed_dimensions), 0,
	  "vector length to ask for and expect; 0 = what the model returns" },
	{ SEC_EMBED, "api_key_file", T_PATH, "", 0, 0, KF_EMPTY_OK, CFG(embed_api_key_file), 0,
	  "file holding the API key (sent as a Bearer token); empty = none" },
	{ SEC_EMBED, "concurrency", T_INT, "2", 1, 64, 0, CFG(embed_concurrency), 0,
	  "requests in flight at once" },
	{ SEC_EMBED, "timeout", T_DURATION, "30s", 1000, 600 * 1000, 0, CFG(embed_timeout_ms), 0,
	  "one request taking longer is abandoned and retried" },

	{ SEC_WATCH, "path", T_PATH, NULL, 0, 0, KF_RELOAD | KF_REQUIRED, WCF(path), 0,
	  "the folder to watch (required)" },
	{ SEC_WATCH, "recursive", T_BOOL, "yes", 0, 0, KF_RELOAD, WCF(recursive), 0,
	  "watch subfolders too" },
	{ SEC_WATCH, "exclude", T_LIST, ".* *.part *.tmp *.crdownload ~$*", 0, 0, KF_RELOAD,
	  WCF(exclude), WCF(n_exclude), "fnmatch(3) patterns on file names to ignore, space-separated" },
	{ SEC_WATCH, "settle", T_DURATION, "2s", 0, 3600 * 1000, KF_RELOAD, WCF(settle_ms), 0,
	  "quiet time (size and mtime unchanged) before taking a file nobody closed; 0 = wait for close or rename" },
	{ SEC_WATCH, "mode", T_MODE, "auto", 0, 0, KF_RELOAD, WCF(mode), 0,
	  "inotify, poll (walk the folder every poll_interval: NFS, SMB, FUSE) or auto (poll on those filesystems)" },
	{ SEC_WATCH, "poll_interval", T_DURATION, "5s", 100, 3600 * 1000, KF_RELOAD, WCF(poll_interval_ms), 0,
	  "how often a polled folder is walked" },
	{ SEC_WATCH, "on_success", T_ACTION, "keep", 0, 0, KF_RELOAD, WCF(on_success),
	  WCF(on_success_dir), "after conversion: keep, delete or move:DIR" },
	{ SEC_WATCH, "on_failure", T_ACTION, "keep", 0, 0, KF_RELOAD | KF_NO_DELETE,
	  WCF(on_failure), WCF(on_failure_dir), "after a final failure: keep or move:DIR" },
	{ SEC_WATCH, "output_dir", T_PATH, "", 0, 0, KF_RELOAD | KF_EMPTY_OK, WCF(output_dir), 0,
	  "mirror tree of .md files plus index.md; empty = none" },
	{ SEC_WATCH, "output_prune", T_BOOL, "no", 0, 0, KF_RELOAD, WCF(output_prune), 0,
	  "remove a mirror file when its source is deleted from the watch" },
	{ SEC_WATCH, "priority", T_INT, "0", -1000, 1000, KF_RELOAD, WCF(priority), 0,
	  "higher is converted first" },
	{ SEC_WATCH, "chunk_tokens", T_INT, "512", 32, 65536, KF_RELOAD, WCF(chunk_tokens), 0,
	  "target size of a chunk in tokens" },
};

#define N_KEYS HP_ARRAY_SIZE(config_keys)
#define FIELD(base, off, type) ((type *)(void *)((char *)(base) + (off)))
#define CFIELD(base, off, type) ((type const *)(const void *)((const char *)(base) + (off)))

/* Longest watch name: it is stored in hopper.jobs.watch and shown in bars. */
#define WATCH_NAME_MAX 64

static const char *const watch_modes[] = {
	[HP_MODE_AUTO] = "auto", [HP_MODE_INOTIFY] = "inotify", [HP_MODE_POLL] = "poll",
};
/* Spellings of [workers] profile, in hp_profile order (policy.h). */
static const char *const profiles[] = { "conservative", "balanced", "aggressive" };

static const struct { const char *name; int level; } log_levels[] = {
	{ "err", HP_LOG_ERR }, { "error", HP_LOG_ERR },
	{ "warning", HP_LOG_WARNING }, { "warn", HP_LOG_WARNING },
	{ "notice", HP_LOG_NOTICE }, { "info", HP_LOG_INFO }, { "debug", HP_LOG_DEBUG },
};

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
static int parse_int64(const char *s, int64_t *ret)
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
static void fmt_size(uint64_t v, char *out, size_t n)
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
static void fmt_duration(uint64_t ms, char *out, size_t n)
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

static void fmt_bound(const config_key *k, int64_t v, char *out, size_t n)
{
	if (k->type == T_SIZE)
		fmt_size((uint64_t)v, out, n);
	else if (k->type == T_DURATION)
		fmt_duration((uint64_t)v, out, n);
	else
		snprintf(out, n, "%lld", (long long)v);
}

/* ---- paths ----------------------------------------------------------------- */

/* An absolute path with "." components, repeated and trailing slashes
 * removed. ".." is kept: removing it by text would be wrong across symlinks. */
static char *path_normalize(const char *in)
{
	char *out = malloc(strlen(in) + 2);
	size_t o = 0;
	const char *s = in;

	if (!out)
		return NULL;
	while (*s) {
		const char *e;
		while (*s == '/')
			s++;
		if (!*s)
			break;
		e = strchrnul(s, '/');
		if (!(e - s == 1 && s[0] == '.')) {
			out[o++] = '/';
			memcpy(out + o, s, (size_t)(e - s));
			o += (size_t)(e - s);
		}
		s = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

/* `p` made absolute against `dir` (itself absolute) and normalised. */
static char *path_resolve(const char *dir, const char *p)
{
	char *joined = NULL, *res;

	if (p[0] == '/')
		return path_normalize(p);
	if (asprintf(&joined, "%s/%s", dir, p) < 0)
		return NULL;
	res = path_normalize(joined);
	free(joined);
	return res;
}

/* ---- the parser ------------------------------------------------------------ */

typedef struct config_error {
	int line;     /* 0: about the whole file */
	size_t seq;   /* keeps the order of errors found on one line */
	char *msg;
} config_error;

typedef struct watch_state {
	int line;           /* of its [watch NAME] header */
	int seen[N_KEYS];   /* line where each key was set, 0 = not set */
} watch_state;

typedef enum cur_section { CUR_NONE, CUR_DAEMON, CUR_WORKERS, CUR_EMBED, CUR_WATCH, CUR_SKIP } cur_section;

typedef struct parser {
	const char *shown;    /* the file name as the user gave it, for messages */
	char *dir;            /* absolute directory that relative paths start from */
	FILE *fp;
	char *buf;            /* getline buffer */
	size_t buf_cap;
	int lineno;
	int read_errno;
	hp_config *cfg;
	cur_section cur;
	size_t cur_watch;
	int seen[N_KEYS];     /* [daemon] and [workers] keys: line where set */
	watch_state *wst;     /* parallel to cfg->watches */
	config_error *errs;
	size_t n_errs, cap_errs;
	bool oom;
} parser;

HP_PRINTF(3, 4)
static void perr(parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int r;

	if (p->n_errs == p->cap_errs) {
		size_t cap = p->cap_errs ? p->cap_errs * 2 : 8;
		config_error *e = realloc(p->errs, cap * sizeof *e);
		if (!e) {
			p->oom = true;
			return;
		}
		p->errs = e;
		p->cap_errs = cap;
	}
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		p->oom = true;
		return;
	}
	p->errs[p->n_errs] = (config_error){ .line = line, .seq = p->n_errs, .msg = msg };
	p->n_errs++;
}

static int cmp_errors(const void *a, const void *b)
{
	const config_error *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static char *dup_or_oom(parser *p, const char *s)
{
	char *d = strdup(s);
	if (!d)
		p->oom = true;
	return d;
}

static void set_string(char **field, char *v)
{
	free(*field);
	*field = v;
}

static void free_list(char **list)
{
	if (!list)
		return;
	for (char **s = list; *s; s++)
		free(*s);
	free(list);
}

/* Space-separated words into a NULL-terminated array (always allocated). */
static int split_list(const char *v, char ***ret, size_t *ret_n)
{
	char **list;
	size_t n = 0, i = 0;
	const char *s;

	for (s = v; *s;) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		n++;
		while (*s && !isspace((unsigned char)*s))
			s++;
	}
	list = calloc(n + 1, sizeof *list);
	if (!list)
		return -ENOMEM;
	for (s = v; i < n;) {
		const char *e;
		while (isspace((unsigned char)*s))
			s++;
		for (e = s; *e && !isspace((unsigned char)*e); e++)
			;
		list[i] = strndup(s, (size_t)(e - s));
		if (!list[i]) {
			free_list(list);
			return -ENOMEM;
		}
		i++;
		s = e;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

static void range_error(parser *p, int line, const config_key *k, const char *v)
{
	char lo[32], hi[32];

	fmt_bound(k, k->min, lo, sizeof lo);
	fmt_bound(k, k->max, hi, sizeof hi);
	perr(p, line, "%s = %s is out of range: use %s%s..%s", k->name, v,
	     (k->flags & KF_AUTO) ? "auto or " : "", lo, hi);
}

/* Parse `v` as key `k` and store it in `base` (hp_config or hp_watch_config).
 * A bad value is reported and leaves the field as it was. */
static void set_key(parser *p, const config_key *k, void *base, const char *v, int line)
{
	int r;

	switch (k->type) {
	case T_STRING:
		if (!*v && !(k->flags & KF_EMPTY_OK)) {
			perr(p, line, "%s is empty: give it a value or remove the line", k->name);
			break;
		}
		set_string(FIELD(base, k->off, char *), *v ? dup_or_oom(p, v) : NULL);
		break;
	case T_PATH:
		if (!*v) {
			if (k->flags & KF_EMPTY_OK)
				set_string(FIELD(base, k->off, char *), NULL);
			else
				perr(p, line, "%s is empty: give it a path", k->name);
			break;
		} else {
			char *abs = path_resolve(p->dir, v);
			if (!abs)
				p->oom = true;
			else
				set_string(FIELD(base, k->off, char *), abs);
		}
		break;
	case T_BOOL:
		if (hp_parse_bool(v, FIELD(base, k->off, bool)) < 0)
			perr(p, line, "bad boolean '%s' for %s: use yes or no", v, k->name);
		break;
	case T_INT: {
		int64_t n;
		if ((k->flags & KF_AUTO) && !strcasecmp(v, "auto")) {
			*FIELD(base, k->off, int) = 0;
			break;
		}
		r = parse_int64(v, &n);
		if (r == -EINVAL)
			perr(p, line, "bad number '%s' for %s: use %sa whole number", v, k->name,
			     (k->flags & KF_AUTO) ? "auto or " : "");
		else if (r < 0 || n < k->min || n > k->max)
			range_error(p, line, k, v);
		else
			*FIELD(base, k->off, int) = (int)n;
		break;
	}
	case T_SIZE:
	case T_DURATION: {
		uint64_t n;
		r = k->type == T_SIZE ? hp_parse_size(v, &n) : hp_parse_duration_ms(v, &n);
		if (r == -EINVAL && k->type == T_SIZE)
			perr(p, line, "bad size '%s' for %s: use a number with K, M, G or T",
			     v, k->name);
		else if (r == -EINVAL)
			perr(p, line, "bad duration '%s' for %s: use a number with ms, s, m or h",
			     v, k->name);
		else if (r < 0 || n < (uint64_t)k->min || n > (uint64_t)k->max)
			range_error(p, line, k, v);
		else
			*FIELD(base, k->off, uint64_t) = n;
		break;
	}
	case T_LIST: {
		char **list;
		size_t n;
		if (split_list(v, &list, &n) < 0) {
			p->oom = true;
			break;
		}
		free_list(*FIELD(base, k->off, char **));
		*FIELD(base, k->off, char **) = list;
		*FIELD(base, k->off2, size_t) = n;
		break;
	}
	case T_ACTION: {
		bool del_ok = !(k->flags & KF_NO_DELETE);
		hp_on_action a;
		char *dir = NULL;
		if (!strcmp(v, "keep")) {
			a = HP_ON_KEEP;
		} else if (del_ok && !strcmp(v, "delete")) {
			a = HP_ON_DELETE;
		} else if (!strncmp(v, "move:", 5) && v[5]) {
			a = HP_ON_MOVE;
			dir = path_resolve(p->dir, v + 5);
			if (!dir) {
				p->oom = true;
				break;
			}
		} else {
			perr(p, line, "bad action '%s' for %s: use keep%s or move:/DIR", v, k->name,
			     del_ok ? ", delete" : "");
			break;
		}
		*FIELD(base, k->off, hp_on_action) = a;
		set_string(FIELD(base, k->off2, char *), dir);
		break;
	}
	case T_MODE:
		for (size_t i = 0; i < HP_ARRAY_SIZE(watch_modes); i++) {
			if (!strcmp(v, watch_modes[i])) {
				*FIELD(base, k->off, hp_watch_mode) = (hp_watch_mode)i;
				goto out;
			}
		}
		perr(p, line, "bad mode '%s': use auto, inotify or poll", v);
		break;
	case T_LOGLEVEL: {
		int64_t n;
		for (size_t i = 0; i < HP_ARRAY_SIZE(log_levels); i++) {
			if (!strcasecmp(v, log_levels[i].name)) {
				*FIELD(base, k->off, int) = log_levels[i].level;
				goto out;
			}
		}
		if (parse_int64(v, &n) == 0 && n >= k->min && n <= k->max)
			*FIELD(base, k->off, int) = (int)n;
		else
			perr(p, line, "bad log level '%s': use err, warning, notice, info, "
			     "debug or a number 3..7", v);
		break;
	}
	case T_DOUBLE: {
		char *end;
		if ((k->flags & KF_AUTO) && !strcasecmp(v, "auto")) {
			*FIELD(base, k->off, double) = 0;
			break;
		}
		errno = 0;
		double d = strtod(v, &end);
		if (end == v || *end || errno)
			perr(p, line, "bad number '%s' for %s: use %sa number such as 1.5", v, k->name,
			     (k->flags & KF_AUTO) ? "auto or " : "");
		else if (!(d * 100 >= (double)k->min && d * 100 <= (double)k->max))
			perr(p, line, "%s = %s is out of range: use %s%.2g..%.4g", k->name, v,
			     (k->flags & KF_AUTO) ? "auto or " : "", (double)k->min / 100, (double)k->max / 100);
		else
			*FIELD(base, k->off, double) = d;
		break;
	}
	case T_PROFILE: {
		int i;
		for (i = 0; i < (int)HP_ARRAY_SIZE(profiles); i++)
			if (!strcasecmp(v, profiles[i]))
				break;
		if (i < (int)HP_ARRAY_SIZE(profiles))
			*FIELD(base, k->off, int) = i;
		else
			perr(p, line, "bad profile '%s': use conservative, balanced or aggressive", v);
		break;
	}
	}
out:
	return;
}

static void apply_defaults(parser *p, key_section sec, void *base)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		const config_key *k = &config_keys[i];
		if (k->sec != sec)
			continue;
		if (k->flags & KF_HOSTNAME) {
			char host[HOST_NAME_MAX + 1];
			if (gethostname(host, sizeof host) < 0 || !host[0])
				snprintf(host, sizeof host, "localhost");
			host[sizeof host - 1] = '\0';
			set_string(FIELD(base, k->off, char *), dup_or_oom(p, host));
		} else if (k->def) {
			set_key(p, k, base, k->def, 0);
		}
	}
}

static const char *section_label(parser *p, char *out, size_t n)
{
	if (p->cur == CUR_DAEMON)
		return "[daemon]";
	if (p->cur == CUR_WORKERS)
		return "[workers]";
	if (p->cur == CUR_EMBED)
		return "[embed]";
	snprintf(out, n, "[watch %s]", p->cfg->watches[p->cur_watch].name);
	return out;
}

static bool valid_watch_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	return true;
}

static void add_watch(parser *p, const char *name, int line)
{
	hp_config *cfg = p->cfg;
	hp_watch_config *ws;
	watch_state *st;
	size_t n = cfg->n_watches;

	ws = realloc(cfg->watches, (n + 1) * sizeof *ws);
	if (!ws)
		goto oom;
	cfg->watches = ws;
	st = realloc(p->wst, (n + 1) * sizeof *st);
	if (!st)
		goto oom;
	p->wst = st;
	memset(&ws[n], 0, sizeof ws[n]);
	memset(&st[n], 0, sizeof st[n]);
	st[n].line = line;
	ws[n].name = strdup(name);
	if (!ws[n].name)
		goto oom;
	cfg->n_watches = n + 1;
	apply_defaults(p, SEC_WATCH, &ws[n]);
	p->cur = CUR_WATCH;
	p->cur_watch = n;
	return;
oom:
	p->oom = true;
	p->cur = CUR_SKIP;
}

/* "[ ... ]" line (already stripped): pick the section keys go into next. */
static void on_section(parser *p, char *s, char *end)
{
	int line = p->lineno;
	char *kind, *name, *e;
	const char *after = end + 1;

	p->cur = CUR_SKIP; /* keys of a broken header are not reported one by one */
	while (isspace((unsigned char)*after))
		after++;
	if (*after && *after != ';' && *after != '#') {
		perr(p, line, "unexpected text after ']': put keys on their own lines");
		return;
	}
	kind = s + 1;
	*end = '\0';
	while (isspace((unsigned char)*kind))
		kind++;
	for (e = kind; *e && !isspace((unsigned char)*e); e++)
		;
	name = e;
	while (isspace((unsigned char)*name))
		name++;
	*e = '\0';
	for (e = name + strlen(name); e > name && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';

	if (!strcmp(kind, "daemon") || !strcmp(kind, "workers") || !strcmp(kind, "embed")) {
		if (*name)
			perr(p, line, "[%s] takes no name (found '%s')", kind, name);
		else
			p->cur = kind[0] == 'd' ? CUR_DAEMON : kind[0] == 'w' ? CUR_WORKERS : CUR_EMBED;
	} else if (!strcmp(kind, "watch")) {
		if (!*name) {
			perr(p, line, "[watch] needs a name, e.g. [watch inbox]");
		} else if (strlen(name) > WATCH_NAME_MAX || !valid_watch_name(name)) {
			perr(p, line, "bad watch name '%s': use at most %d letters, digits, "
			     "'-', '_' or '.'", name, WATCH_NAME_MAX);
		} else {
			for (size_t i = 0; i < p->cfg->n_watches; i++) {
				if (!strcmp(p->cfg->watches[i].name, name)) {
					perr(p, line, "duplicate [watch %s] (first on line %d)",
					     name, p->wst[i].line);
					return;
				}
			}
			add_watch(p, name, line);
		}
	} else {
		perr(p, line, "unknown section [%s%s%s]: use [daemon], [workers], [embed] or [watch NAME]",
		     kind, *name ? " " : "", name);
	}
}

/* inih's rule for where a value part ends: at one of `chars`, or at an inline
 * comment, i.e. ';' after a blank (INI_INLINE_COMMENT_PREFIXES). */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* The ini_reader: see the comment at the top of the file. */
static char *read_line(char *str, int num, void *stream)
{
	parser *p = stream;
	ssize_t n;
	size_t len;
	char *s, *e;
	const char *end;

	errno = 0;
	n = getline(&p->buf, &p->buf_cap, p->fp);
	if (n < 0) {
		if (ferror(p->fp))
			p->read_errno = errno ? errno : EIO;
		return NULL;
	}
	p->lineno++;
	str[0] = '\0';
	s = p->buf;
	if (strlen(s) != (size_t)n) {
		perr(p, p->lineno, "line contains a NUL byte");
		return str;
	}
	if (p->lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3;
	while (isspace((unsigned char)*s))
		s++;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	len = (size_t)(e - s);

	if (!*s || *s == ';' || *s == '#')
		return str;
	if (*s == '[') {
		end = find_chars_or_comment(s + 1, "]");
		if (*end != ']') {
			perr(p, p->lineno, "section header has no closing ']'");
			p->cur = CUR_SKIP;
		} else {
			on_section(p, s, s + (end - s));
		}
		return str;
	}
	end = find_chars_or_comment(s, "=:");
	if (*end != '=' && *end != ':') {
		perr(p, p->lineno, "expected 'key = value', a [section] or a comment");
		return str;
	}
	/* inih reads at most num - 1 bytes including the newline. */
	if (num < 2 || len > (size_t)num - 2) {
		perr(p, p->lineno, "line is too long (%zu characters, at most %d): for a long "
		     "database conninfo use a pg_service.conf entry (database = service=NAME)",
		     len, num - 2);
		return str;
	}
	memcpy(str, s, len + 1);
	return str;
}

/* The ini_handler: one key = value of the current section. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
	parser *p = user;
	int line = p->lineno;
	key_section sec;
	void *base;
	int *seen;
	char label[WATCH_NAME_MAX + 16];

	switch (p->cur) {
	case CUR_NONE:
		perr(p, line, "'%s' is outside any section: put it under [daemon], "
		     "[workers] or [watch NAME]", name);
		return 1;
	case CUR_SKIP:
		return 1;
	case CUR_DAEMON:
	case CUR_WORKERS:
	case CUR_EMBED:
		sec = p->cur == CUR_DAEMON ? SEC_DAEMON : p->cur == CUR_WORKERS ? SEC_WORKERS : SEC_EMBED;
		base = p->cfg;
		seen = p->seen;
		break;
	case CUR_WATCH:
	default:
		sec = SEC_WATCH;
		base = &p->cfg->watches[p->cur_watch];
		seen = p->wst[p->cur_watch].seen;
		break;
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		const config_key *k = &config_keys[i];
		if (k->sec != sec || strcmp(k->name, name))
			continue;
		if (seen[i]) {
			perr(p, line, "duplicate key '%s' in %s (first set on line %d)", name,
			     section_label(p, label, sizeof label), seen[i]);
		} else {
			seen[i] = line;
			set_key(p, k, base, value, line);
			/* Say so, rather than let a setting look as if it worked. */
			if ((k->flags & KF_LATER) && strcasecmp(value, k->def ? k->def : ""))
				hp_warn("%s:%d: '%s' is accepted but has no effect yet in this release",
				        p->shown, line, name);
		}
		return 1;
	}
	perr(p, line, "unknown key '%s' in %s", name, section_label(p, label, sizeof label));
	return 1;
}

static size_t key_index(key_section sec, const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (config_keys[i].sec == sec && !strcmp(config_keys[i].name, name))
			return i;
	abort(); /* a name missing from the table is a bug in this file */
}

/* Whether `p` is `root` or below it (both normalised, absolute). With
 * `only_same`, only equality counts (a non-recursive watch ignores
 * subfolders). */
static bool path_inside(const char *p, const char *root, bool only_same)
{
	size_t n = strlen(root);

	if (!strcmp(p, root))
		return true;
	if (only_same)
		return false;
	if (n == 1) /* root is "/" */
		return true;
	return !strncmp(p, root, n) && p[n] == '/';
}

/* Where a watch's path and the daemon's folders really are. With
 * HP_CONFIG_CHECK_PATHS, existing paths are resolved (realpath(3)), so a
 * link cannot hide an overlap; otherwise, and for paths that do not exist
 * yet, the normalised text is compared. Caller frees with hp_strv_free. */
static char *canonical(const char *path, bool resolve)
{
	char *r = resolve ? realpath(path, NULL) : NULL;
	return r ? r : strdup(path);
}

/* A folder hopper writes into must not be one it watches: it would pick up
 * its own output (moved files, .md files, its PostgreSQL files) as new
 * jobs, forever. */
static void check_out_dirs(parser *p, char **canon, bool resolve)
{
	hp_config *cfg = p->cfg;
	size_t isd = key_index(SEC_DAEMON, "state_dir");

	for (size_t w = 0; w < cfg->n_watches; w++) {
		const hp_watch_config *wc = &cfg->watches[w];
		const struct { const char *key; const char *dir; } dirs[] = {
			{ "on_success", wc->on_success_dir },
			{ "on_failure", wc->on_failure_dir },
			{ "output_dir", wc->output_dir },
		};
		for (size_t i = 0; i < HP_ARRAY_SIZE(dirs); i++) {
			size_t ki = key_index(SEC_WATCH, dirs[i].key);
			char *dir = dirs[i].dir ? canonical(dirs[i].dir, resolve) : NULL;
			for (size_t o = 0; dir && o < cfg->n_watches; o++) {
				const hp_watch_config *oc = &cfg->watches[o];
				if (!canon[o] || !path_inside(dir, canon[o], !oc->recursive))
					continue;
				if (o == w)
					perr(p, p->wst[w].seen[ki], "%s: %s is inside the watched folder %s: "
					     "hopper would take its own output as new files; pick a folder "
					     "outside it", dirs[i].key, dirs[i].dir, wc->path);
				else
					perr(p, p->wst[w].seen[ki], "%s: %s is inside the folder of [watch %s] "
					     "(%s): hopper would take its own output as new files; pick a "
					     "folder outside every watch", dirs[i].key, dirs[i].dir, oc->name,
					     oc->path);
			}
			free(dir);
		}
	}
	char *sd = cfg->state_dir ? canonical(cfg->state_dir, resolve) : NULL;
	for (size_t w = 0; sd && w < cfg->n_watches; w++) {
		const hp_watch_config *wc = &cfg->watches[w];
		if (canon[w] && path_inside(sd, canon[w], !wc->recursive))
			perr(p, p->seen[isd] ? p->seen[isd] : p->wst[w].seen[key_index(SEC_WATCH, "path")],
			     "state_dir %s is inside the folder of [watch %s] (%s): hopper would take "
			     "its own database files as new files; move state_dir or the watch",
			     cfg->state_dir, wc->name, wc->path);
	}
	free(sd);
}

/* Two watches on one folder, or one inside the other (when the outer one
 * is recursive): a file would belong to both. */
static void check_overlaps(parser *p, char **canon)
{
	hp_config *cfg = p->cfg;
	size_t ip = key_index(SEC_WATCH, "path");

	for (size_t b = 0; b < cfg->n_watches; b++) {
		for (size_t a = 0; a < b; a++) {
			const hp_watch_config *wa = &cfg->watches[a], *wb = &cfg->watches[b];
			const char *what;
			if (!canon[a] || !canon[b])
				continue;
			if (!strcmp(canon[a], canon[b]))
				what = "is the same folder as";
			else if (path_inside(canon[b], canon[a], !wa->recursive))
				what = "is inside";
			else if (path_inside(canon[a], canon[b], !wb->recursive))
				what = "contains";
			else
				continue;
			perr(p, p->wst[b].seen[ip], "[watch %s] path %s %s the folder of [watch %s] "
			     "(%s, line %d): a file would belong to both watches; give each watch "
			     "its own folder%s", wb->name, wb->path, what, wa->name, wa->path,
			     p->wst[a].seen[ip], strcmp(what, "is the same folder as") ?
			     " (or set recursive = no on the outer one)" : "");
		}
	}
}

/* HP_CONFIG_CHECK_PATHS: the folder to watch must exist and be a folder. */
static void check_watch_paths(parser *p)
{
	size_t ip = key_index(SEC_WATCH, "path");

	for (size_t w = 0; w < p->cfg->n_watches; w++) {
		const hp_watch_config *wc = &p->cfg->watches[w];
		struct stat st;
		if (!wc->path)
			continue;
		if (stat(wc->path, &st) < 0)
			perr(p, p->wst[w].seen[ip], "[watch %s] path %s: %s: create the folder or fix "
			     "'path'", wc->name, wc->path, strerror(errno));
		else if (!S_ISDIR(st.st_mode))
			perr(p, p->wst[w].seen[ip], "[watch %s] path %s is not a folder: point 'path' "
			     "at a folder", wc->name, wc->path);
	}
}

/* Rules that involve more than one key, or a key that was never set. */
static void check_whole(parser *p, unsigned flags)
{
	hp_config *cfg = p->cfg;
	size_t imax = key_index(SEC_WORKERS, "max");

	for (size_t w = 0; w < cfg->n_watches; w++)
		for (size_t i = 0; i < N_KEYS; i++)
			if (config_keys[i].sec == SEC_WATCH &&
			    (config_keys[i].flags & KF_REQUIRED) && !p->wst[w].seen[i])
				perr(p, p->wst[w].line, "[watch %s] has no %s", cfg->watches[w].name,
				     config_keys[i].name);
	bool resolve = flags & HP_CONFIG_CHECK_PATHS;
	char **canon = calloc(cfg->n_watches + 1, sizeof *canon);
	if (!canon) {
		p->oom = true;
		return;
	}
	for (size_t w = 0; w < cfg->n_watches; w++)
		if (cfg->watches[w].path)
			canon[w] = canonical(cfg->watches[w].path, resolve);
	if (resolve)
		check_watch_paths(p);
	check_overlaps(p, canon);
	check_out_dirs(p, canon, resolve);
	for (size_t w = 0; w < cfg->n_watches; w++)
		free(canon[w]);
	free(canon);
	if (cfg->workers_max != 0 && cfg->workers_max < cfg->workers_min)
		perr(p, p->seen[imax], "max = %d is less than min = %d in [workers]: "
		     "raise max or use max = auto", cfg->workers_max, cfg->workers_min);
	/* What the start would trip over later, after creating the database:
	 * refuse it here, with the line, so --check-config agrees with the start. */
	struct stat sd;
	if (cfg->state_dir && stat(cfg->state_dir, &sd) == 0 && !S_ISDIR(sd.st_mode))
		perr(p, p->seen[key_index(SEC_DAEMON, "state_dir")], "state_dir: %s exists and is not a "
		     "directory: remove it or pick another path", cfg->state_dir);
	if (cfg->embed_url && !cfg->embed_model)
		perr(p, p->seen[key_index(SEC_EMBED, "url")], "[embed] url is set but model is not: "
		     "name the model, e.g. model = nomic-embed-text");
	if ((flags & HP_CONFIG_NEED_WATCH) && cfg->n_watches == 0)
		perr(p, 0, "no [watch NAME] section%s: add one, e.g. [watch inbox] "
		     "path = /srv/inbox", cfg->file ? "" : " (the file does not exist)");
}

static void watch_free(hp_watch_config *w)
{
	free(w->name);
	free(w->path);
	free_list(w->exclude);
	free(w->on_success_dir);
	free(w->on_failure_dir);
	free(w->output_dir);
}

void hp_config_free(hp_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_watches; i++)
		watch_free(&cfg->watches[i]);
	free(cfg->watches);
	free(cfg->file);
	free(cfg->database);
	free(cfg->state_dir);
	free(cfg->ocr_languages);
	free(cfg->embed_url);
	free(cfg->embed_model);
	free(cfg->embed_api_key_file);
	free(cfg->node);
	free(cfg->search_config);
	free(cfg);
}

int hp_config_load(const char *path, unsigned flags, FILE *errs, hp_config **ret_cfg)
{
	parser p = { .shown = path ? path : HP_CONFIG_DEFAULT_PATH };
	char *cwd = NULL;
	int r;

	p.cfg = calloc(1, sizeof *p.cfg);
	cwd = get_current_dir_name();
	if (!p.cfg || !cwd) {
		r = -ENOMEM;
		goto out;
	}
	p.fp = fopen(p.shown, "re");
	if (!p.fp && !(errno == ENOENT && !path)) {
		r = -errno;
		if (errs)
			fprintf(errs, "%s: cannot read: %s\n", p.shown, strerror(-r));
		goto out;
	}
	if (p.fp) {
		char *slash;
		p.cfg->file = path_resolve(cwd, p.shown);
		p.dir = p.cfg->file ? strdup(p.cfg->file) : NULL;
		if (!p.dir) {
			r = -ENOMEM;
			goto out;
		}
		slash = strrchr(p.dir, '/');
		slash[slash == p.dir ? 1 : 0] = '\0';
	} else {
		p.dir = cwd;
		cwd = NULL;
	}

	apply_defaults(&p, SEC_DAEMON, p.cfg);
	apply_defaults(&p, SEC_WORKERS, p.cfg);
	apply_defaults(&p, SEC_EMBED, p.cfg);
	if (p.fp) {
		r = ini_parse_stream(read_line, &p, on_key, &p);
		if (p.read_errno) {
			r = -p.read_errno;
			if (errs)
				fprintf(errs, "%s: cannot read: %s\n", p.shown, strerror(-r));
			goto out;
		}
		/* read_line passes inih only lines it accepts; should inih still
		 * refuse one, say so rather than lose it. */
		if (r > 0) {
			bool known = false;
			for (size_t i = 0; i < p.n_errs; i++)
				known |= p.errs[i].line == r;
			if (!known)
				perr(&p, r, "syntax error");
		}
	}
	check_whole(&p, flags);

	if (p.oom) {
		r = -ENOMEM;
	} else if (p.n_errs) {
		qsort(p.errs, p.n_errs, sizeof *p.errs, cmp_errors);
		for (size_t i = 0; errs && i < p.n_errs; i++) {
			if (p.errs[i].line > 0)
				fprintf(errs, "%s:%d: %s\n", p.shown, p.errs[i].line, p.errs[i].msg);
			else
				fprintf(errs, "%s: %s\n", p.shown, p.errs[i].msg);
		}
		r = -EINVAL;
	} else {
		*ret_cfg = p.cfg;
		p.cfg = NULL;
		r = 0;
	}
out:
	if (p.fp)
		fclose(p.fp);
	for (size_t i = 0; i < p.n_errs; i++)
		free(p.errs[i].msg);
	free(p.errs);
	free(p.wst);
	free(p.buf);
	free(p.dir);
	free(cwd);
	hp_config_free(p.cfg);
	return r;
}

/* ---- printing ---------------------------------------------------------------- */

static void print_value(const config_key *k, const void *base, FILE *out)
{
	char buf[32];

	switch (k->type) {
	case T_STRING:
	case T_PATH: {
		const char *s = *CFIELD(base, k->off, char *);
		fputs(s ? s : "", out);
		break;
	}
	case T_BOOL:
		fputs(*CFIELD(base, k->off, bool) ? "yes" : "no", out);
		break;
	case T_INT: {
		int v = *CFIELD(base, k->off, int);
		if ((k->flags & KF_AUTO) && v == 0)
			fputs("auto", out);
		else
			fprintf(out, "%d", v);
		break;
	}
	case T_SIZE:
		fmt_size(*CFIELD(base, k->off, uint64_t), buf, sizeof buf);
		fputs(buf, out);
		break;
	case T_DURATION:
		fmt_duration(*CFIELD(base, k->off, uint64_t), buf, sizeof buf);
		fputs(buf, out);
		break;
	case T_LIST: {
		char *const *list = *CFIELD(base, k->off, char **);
		size_t n = *CFIELD(base, k->off2, size_t);
		for (size_t i = 0; list && i < n; i++)
			fprintf(out, "%s%s", i ? " " : "", list[i]);
		break;
	}
	case T_ACTION: {
		hp_on_action a = *CFIELD(base, k->off, hp_on_action);
		const char *dir = *CFIELD(base, k->off2, char *);
		if (a == HP_ON_MOVE)
			fprintf(out, "move:%s", dir ? dir : "");
		else
			fputs(a == HP_ON_DELETE ? "delete" : "keep", out);
		break;
	}
	case T_MODE:
		fputs(watch_modes[*CFIELD(base, k->off, hp_watch_mode)], out);
		break;
	case T_LOGLEVEL: {
		int v = *CFIELD(base, k->off, int);
		const char *name = NULL;
		for (size_t i = 0; i < HP_ARRAY_SIZE(log_levels) && !name; i++)
			if (log_levels[i].level == v)
				name = log_levels[i].name;
		if (name)
			fputs(name, out);
		else
			fprintf(out, "%d", v);
		break;
	}
	case T_DOUBLE: {
		double d = *CFIELD(base, k->off, double);
		if ((k->flags & KF_AUTO) && d == 0)
			fputs("auto", out);
		else
			fprintf(out, "%g", d);
		break;
	}
	case T_PROFILE: {
		int v = *CFIELD(base, k->off, int);
		fputs(v >= 0 && v < (int)HP_ARRAY_SIZE(profiles) ? profiles[v] : "balanced", out);
		break;
	}
	}
}

static void print_section(key_section sec, const void *base, FILE *out)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		const config_key *k = &config_keys[i];
		bool empty = false;

		if (k->sec != sec)
			continue;
		/* An empty value prints as "key =", with no trailing blank. */
		if (k->type == T_STRING || k->type == T_PATH) {
			const char *v = *CFIELD(base, k->off, char *);
			empty = !v || !*v;
		} else if (k->type == T_LIST) {
			empty = *CFIELD(base, k->off2, size_t) == 0;
		}
		fprintf(out, "# %s%s\n%s =%s", k->help,
			(k->flags & KF_RELOAD) ? "" : " (restart to change)", k->name,
			empty ? "" : " ");
		print_value(k, base, out);
		fputc('\n', out);
	}
}

void hp_config_print(const hp_config *cfg, FILE *out)
{
	fprintf(out, "# file: %s\n", cfg->file ? cfg->file : "(none: built-in defaults)");
	fputs("\n[daemon]\n", out);
	print_section(SEC_DAEMON, cfg, out);
	fputs("\n[workers]\n", out);
	print_section(SEC_WORKERS, cfg, out);
	fputs("\n[embed]\n", out);
	print_section(SEC_EMBED, cfg, out);
	for (size_t i = 0; i < cfg->n_watches; i++) {
		fprintf(out, "\n[watch %s]\n", cfg->watches[i].name);
		print_section(SEC_WATCH, &cfg->watches[i], out);
	}
}

size_t hp_config_restart_changes(const hp_config *a, const hp_config *b, const char **ret_names,
                                 size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < HP_ARRAY_SIZE(config_keys); i++) {
		const config_key *k = &config_keys[i];
		if (k->sec == SEC_WATCH || (k->flags & KF_RELOAD))
			continue;
		const char *pa = (const char *)a + k->off, *pb = (const char *)b + k->off;
		bool differ;
		switch (k->type) {
		case T_STRING:
		case T_PATH: {
			const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;
			differ = (sa == NULL) != (sb == NULL) || (sa && strcmp(sa, sb) != 0);
			break;
		}
		case T_BOOL:
			differ = *(const bool *)pa != *(const bool *)pb;
			break;
		case T_INT:
		case T_LOGLEVEL:
			differ = *(const int *)pa != *(const int *)pb;
			break;
		case T_SIZE:
		case T_DURATION:
			differ = *(const uint64_t *)pa != *(const uint64_t *)pb;
			break;
		default:
			differ = false; /* lists and actions are [watch] keys only */
			break;
		}
		if (differ && n < max)
			ret_names[n++] = k->name;
	}
	return n;
}
