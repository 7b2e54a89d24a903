/* config.h — the INI configuration of DESIGN §5.
 *
 * What it does: parses one INI file with libinih against one table of keys
 * (name, type, default, bounds, reloadable) and prints the effective
 * settings for `hopperd --check-config`. No key is parsed anywhere else.
 * What it never does: act on the settings.
 * Paths: relative paths in the file are resolved against the directory of
 * the file, so every path in an hp_config is absolute.
 */
#ifndef HOPPER_CONFIG_H
#define HOPPER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HP_CONFIG_DEFAULT_PATH "/etc/hopper/hopper.conf"

typedef enum hp_on_action { HP_ON_KEEP = 0, HP_ON_DELETE, HP_ON_MOVE } hp_on_action;

typedef enum hp_watch_mode { HP_MODE_AUTO = 0, HP_MODE_INOTIFY, HP_MODE_POLL } hp_watch_mode;

typedef struct hp_watch_config {
	char *name;            /* from "[watch NAME]" */
	char *path;            /* absolute; required */
	bool recursive;        /* default yes */
	char **exclude;        /* fnmatch(3) patterns on the base name; NULL-terminated */
	size_t n_exclude;
	uint64_t settle_ms;    /* default 2000; 0 = only close/rename count */
	hp_watch_mode mode;    /* default auto: poll on network/FUSE filesystems */
	uint64_t poll_interval_ms; /* default 5000 */
	hp_on_action on_success; /* default keep */
	char *on_success_dir;  /* for HP_ON_MOVE, absolute; else NULL */
	hp_on_action on_failure; /* keep | move only */
	char *on_failure_dir;
	char *output_dir;      /* absolute or NULL */
	bool output_prune;     /* default no: remove mirror files of deleted sources */
	int priority;          /* default 0, -1000..1000 */
	int chunk_tokens;      /* default 512, 32..65536 */
} hp_watch_config;

typedef struct hp_config {
	char *file;            /* the file read, absolute; NULL when defaults were used */
	/* [daemon] */
	char *database;        /* "local" or a libpq conninfo/URI */
	char *state_dir;       /* absolute; default /var/lib/hopper */
	char *node;            /* default: hostname */
	int log_level;         /* default 6 (info); 3..7 */
	char *search_config;   /* text-search configuration of chunks.tsv; default "simple" */
	/* [workers] */
	int workers_min;       /* default 1, 1..256 */
	int workers_max;       /* 0 = auto; else >= min */
	double cpu_multiplier; /* workers per usable CPU; 0 = from profile */
	int profile;           /* hp_profile (policy.h): 0 conservative, 1 balanced, 2 aggressive */
	uint64_t idle_timeout_ms; /* workers above min idle this long stop; default 60 s */
	int max_jobs_per_worker; /* a worker is replaced after this many jobs; default 1000 */
	bool recycle_high_risk; /* replace the worker after each PDF/Office/EPUB job; default yes */
	uint64_t memory_limit; /* per worker, bytes; default 512M */
	uint64_t job_timeout_ms; /* default 60 s */
	int max_attempts;      /* default 3, 1..100 */
	uint64_t retry_delay_ms; /* default 10 s: backoff before the 2nd try, doubling */
	uint64_t max_file_size;  /* default 256M */
	uint64_t max_output;     /* max Markdown per document, default 64M */
	int pdf_max_pages;       /* default 2000 */
	uint64_t pdf_page_timeout_ms; /* per PDF page, default 10 s */
	int chunk_overlap;     /* tokens repeated between chunks, default 0, 0..4096 */
	int chunk_min_tokens;  /* smaller sections merge, default 32, 0..4096 */
	char *ocr_languages;     /* Tesseract languages for OCR, default "eng" */
	int ocr_max_pages;       /* pages OCR'd per document, default 500 */
	uint64_t ocr_time_budget_ms; /* OCR time per document, default 45 s */
	int ocr_dpi;             /* PDF pages rendered for OCR at this, default 300 */
	uint64_t zip_max_total;  /* ZIP containers: bytes inflated per job, default 512M */
	int zip_max_ratio;       /* ZIP: inflated:compressed per entry, default 200 */
	int zip_max_entries;     /* ZIP: entries per archive, default 10000 */
	int max_sheet_rows;      /* XLSX/ODS rows kept per sheet, default 10000 */
	/* [embed]: chunks to an OpenAI-compatible embeddings endpoint */
	char *embed_url;         /* NULL = off */
	char *embed_model;       /* required when embed_url is set */
	int embed_batch;         /* chunks per request, default 64 */
	int embed_dimensions;    /* 0 = whatever the model returns */
	char *embed_api_key_file; /* NULL = no key */
	int embed_concurrency;   /* requests in flight, default 2 */
	uint64_t embed_timeout_ms; /* per request, default 30 s */
	/* [watch NAME] sections, in file order */
	hp_watch_config *watches;
	size_t n_watches;
} hp_config;

enum {
	HP_CONFIG_NEED_WATCH = 1 << 0, /* no [watch] section is an error (hopperd) */
	/* Look at the disk too (hopperd: start, reload, --check-config): a watch
	 * path that is missing or not a folder is an error, and overlaps are
	 * found through symbolic links (realpath). Overlapping watches and
	 * state_dir, output_dir or move:DIR inside a watch are errors always. */
	HP_CONFIG_CHECK_PATHS = 1 << 1,
};

/* Load `path`, or HP_CONFIG_DEFAULT_PATH when path is NULL. A missing
 * default file means all defaults; a missing explicit file is an error.
 * Every error is printed to `errs` as "FILE:LINE: message" (all of them,
 * not just the first). Returns 0 and *ret_cfg (free with hp_config_free),
 * or -EINVAL when there were errors, -ENOENT/-EACCES for an unreadable
 * explicit file, -ENOMEM. */
int hp_config_load(const char *path, unsigned flags, FILE *errs, hp_config **ret_cfg);
/* Print the effective settings as a valid INI file (every key, defaults
 * included), suitable for --check-config. */
void hp_config_print(const hp_config *cfg, FILE *out);
void hp_config_free(hp_config *cfg);
/* The [daemon]/[workers] keys that differ between a and b and take effect
 * only at start-up (the table's reload flag). Up to max key names (static
 * strings) go to ret_names; returns how many were written. */
size_t hp_config_restart_changes(const hp_config *a, const hp_config *b, const char **ret_names,
                                 size_t max);

/* Value parsers shared with the table (exposed for tests and the CLI).
 * Sizes: "512", "512K", "512M", "2G", "1T" (powers of 1024, case-insensitive,
 * optional trailing "B"/"iB"). Durations: "500ms", "2s", "5m", "1h", bare
 * number = seconds. Booleans: yes/no, true/false, on/off, 1/0. */
int hp_parse_size(const char *s, uint64_t *ret);
int hp_parse_duration_ms(const char *s, uint64_t *ret);
int hp_parse_bool(const char *s, bool *ret);

#endif
