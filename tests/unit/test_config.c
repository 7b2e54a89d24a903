/* test_config.c — hp_config_load / hp_config_print / value parsers.
 *
 * Every test writes real files into a private mkdtemp directory and loads
 * them with hp_config_load; error output is captured with open_memstream
 * and compared line by line, including the FILE:LINE prefix.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hopper/config.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static char tmpdir[] = "/tmp/hopper-test-config-XXXXXX";

/* Write `content` to tmpdir/rel (creating one level of folder if needed);
 * returns the absolute path, caller frees. */
static char *write_file(const char *rel, const char *content)
{
	char *path = NULL;
	FILE *f;
	char *slash;

	assert_true(asprintf(&path, "%s/%s", tmpdir, rel) > 0);
	slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir(path, 0755) < 0)
		assert_int_equal(errno, EEXIST);
	*slash = '/';
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* Load `path`; the error text (possibly "") goes to *ret_errs (caller frees). */
static int load(const char *path, unsigned flags, hp_config **ret_cfg, char **ret_errs)
{
	char *text = NULL;
	size_t len = 0;
	FILE *errs = open_memstream(&text, &len);
	int r;

	assert_non_null(errs);
	r = hp_config_load(path, flags, errs, ret_cfg);
	assert_int_equal(fclose(errs), 0);
	*ret_errs = text;
	return r;
}

/* Load a file that must be valid; fails the test with its errors if not. */
static hp_config *load_ok(const char *path, unsigned flags)
{
	hp_config *cfg = NULL;
	char *errs = NULL;
	int r = load(path, flags, &cfg, &errs);

	if (r != 0)
		print_error("unexpected errors (%d):\n%s", r, errs);
	assert_int_equal(r, 0);
	assert_string_equal(errs, "");
	assert_non_null(cfg);
	free(errs);
	return cfg;
}

static char *expect_line(const char *file, int line, const char *msg)
{
	char *s = NULL;

	if (line > 0)
		assert_true(asprintf(&s, "%s:%d: %s\n", file, line, msg) > 0);
	else
		assert_true(asprintf(&s, "%s: %s\n", file, msg) > 0);
	return s;
}

static void assert_str_eq0(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_watch_equal(const hp_watch_config *a, const hp_watch_config *b)
{
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->path, b->path);
	assert_int_equal(a->recursive, b->recursive);
	assert_int_equal(a->n_exclude, b->n_exclude);
	for (size_t i = 0; i < a->n_exclude; i++)
		assert_string_equal(a->exclude[i], b->exclude[i]);
	assert_null(a->exclude[a->n_exclude]);
	assert_null(b->exclude[b->n_exclude]);
	assert_int_equal(a->settle_ms, b->settle_ms);
	assert_int_equal(a->on_success, b->on_success);
	assert_str_eq0(a->on_success_dir, b->on_success_dir);
	assert_int_equal(a->on_failure, b->on_failure);
	assert_str_eq0(a->on_failure_dir, b->on_failure_dir);
	assert_str_eq0(a->output_dir, b->output_dir);
	assert_int_equal(a->priority, b->priority);
	assert_int_equal(a->chunk_tokens, b->chunk_tokens);
}

/* Every field but `file`, which names the file each was read from. */
static void assert_config_equal(const hp_config *a, const hp_config *b)
{
	assert_string_equal(a->database, b->database);
	assert_string_equal(a->state_dir, b->state_dir);
	assert_string_equal(a->node, b->node);
	assert_int_equal(a->log_level, b->log_level);
	assert_int_equal(a->workers_min, b->workers_min);
	assert_int_equal(a->workers_max, b->workers_max);
	assert_int_equal(a->memory_limit, b->memory_limit);
	assert_int_equal(a->job_timeout_ms, b->job_timeout_ms);
	assert_int_equal(a->max_attempts, b->max_attempts);
	assert_int_equal(a->max_file_size, b->max_file_size);
	assert_int_equal(a->max_output, b->max_output);
	assert_int_equal(a->n_watches, b->n_watches);
	for (size_t i = 0; i < a->n_watches; i++)
		assert_watch_equal(&a->watches[i], &b->watches[i]);
}

static const char full_conf[] =
	"# every key, none at its default\n"
	"[daemon]\n"
	"database = host=/run/postgresql dbname=hopper\n"
	"state_dir = /srv/hopper/state\n"
	"node = node-7\n"
	"log_level = debug\n"
	"\n"
	"[workers]\n"
	"min = 2\n"
	"max = 8\n"
	"memory_limit = 1G\n"
	"job_timeout = 90s\n"
	"max_attempts = 5\n"
	"max_file_size = 1536K\n"
	"max_output = 128M\n"
	"\n"
	"[watch inbox]\n"
	"path = /srv/inbox\n"
	"recursive = no\n"
	"exclude = *.tmp  ~$*\n"
	"settle = 500ms\n"
	"on_success = move:/srv/done\n"
	"on_failure = move:/srv/failed\n"
	"output_dir = /srv/markdown\n"
	"priority = -5\n"
	"chunk_tokens = 1024\n"
	"\n"
	"[watch second.one_2]\n"
	"path = /srv/two\n"
	"on_success = delete\n"
	"exclude =\n"
	"settle = 3m\n";

static void test_full_file(void **state)
{
	char *path = write_file("full.conf", full_conf);
	hp_config *cfg = load_ok(path, HP_CONFIG_NEED_WATCH);
	const hp_watch_config *w;

	assert_string_equal(cfg->file, path);
	assert_string_equal(cfg->database, "host=/run/postgresql dbname=hopper");
	assert_string_equal(cfg->state_dir, "/srv/hopper/state");
	assert_string_equal(cfg->node, "node-7");
	assert_int_equal(cfg->log_level, 7);
	assert_int_equal(cfg->workers_min, 2);
	assert_int_equal(cfg->workers_max, 8);
	assert_int_equal(cfg->memory_limit, 1024ULL * 1024 * 1024);
	assert_int_equal(cfg->job_timeout_ms, 90000);
	assert_int_equal(cfg->max_attempts, 5);
	assert_int_equal(cfg->max_file_size, 1536 * 1024);
	assert_int_equal(cfg->max_output, 128ULL * 1024 * 1024);
	assert_int_equal(cfg->n_watches, 2);

	w = &cfg->watches[0];
	assert_string_equal(w->name, "inbox");
	assert_string_equal(w->path, "/srv/inbox");
	assert_false(w->recursive);
	assert_int_equal(w->n_exclude, 2);
	assert_string_equal(w->exclude[0], "*.tmp");
	assert_string_equal(w->exclude[1], "~$*");
	assert_null(w->exclude[2]);
	assert_int_equal(w->settle_ms, 500);
	assert_int_equal(w->on_success, HP_ON_MOVE);
	assert_string_equal(w->on_success_dir, "/srv/done");
	assert_int_equal(w->on_failure, HP_ON_MOVE);
	assert_string_equal(w->on_failure_dir, "/srv/failed");
	assert_string_equal(w->output_dir, "/srv/markdown");
	assert_int_equal(w->priority, -5);
	assert_int_equal(w->chunk_tokens, 1024);

	w = &cfg->watches[1];
	assert_string_equal(w->name, "second.one_2");
	assert_true(w->recursive);
	assert_int_equal(w->on_success, HP_ON_DELETE);
	assert_null(w->on_success_dir);
	assert_int_equal(w->on_failure, HP_ON_KEEP);
	assert_null(w->on_failure_dir);
	assert_int_equal(w->n_exclude, 0);
	assert_non_null(w->exclude);
	assert_null(w->exclude[0]);
	assert_int_equal(w->settle_ms, 180000);
	assert_null(w->output_dir);

	hp_config_free(cfg);
	free(path);
}

static void assert_defaults(const hp_config *cfg)
{
	char host[HOST_NAME_MAX + 1] = "";

	assert_int_equal(gethostname(host, sizeof host), 0);
	assert_string_equal(cfg->database, "local");
	assert_string_equal(cfg->state_dir, "/var/lib/hopper");
	assert_string_equal(cfg->node, host);
	assert_int_equal(cfg->log_level, 6);
	assert_int_equal(cfg->workers_min, 1);
	assert_int_equal(cfg->workers_max, 0);
	assert_int_equal(cfg->memory_limit, 512ULL << 20);
	assert_int_equal(cfg->job_timeout_ms, 60000);
	assert_int_equal(cfg->max_attempts, 3);
	assert_int_equal(cfg->max_file_size, 256ULL << 20);
	assert_int_equal(cfg->max_output, 64ULL << 20);
}

/* All but name and path. */
static void assert_watch_defaults(const hp_watch_config *w)
{
	static const char *const excl[] = { ".*", "*.part", "*.tmp", "*.crdownload", "~$*" };

	assert_true(w->recursive);
	assert_int_equal(w->n_exclude, N_ELEMS(excl));
	for (size_t i = 0; i < w->n_exclude; i++)
		assert_string_equal(w->exclude[i], excl[i]);
	assert_null(w->exclude[w->n_exclude]);
	assert_int_equal(w->settle_ms, 2000);
	assert_int_equal(w->on_success, HP_ON_KEEP);
	assert_int_equal(w->on_failure, HP_ON_KEEP);
	assert_null(w->on_success_dir);
	assert_null(w->on_failure_dir);
	assert_null(w->output_dir);
	assert_int_equal(w->priority, 0);
	assert_int_equal(w->chunk_tokens, 512);
}

static void test_defaults(void **state)
{
	char *empty = write_file("empty.conf", "# nothing set\n\n");
	char *one = write_file("one-watch.conf", "[watch w]\npath = /srv/w\n");
	hp_config *cfg;
	const hp_watch_config *w;

	cfg = load_ok(empty, 0);
	assert_defaults(cfg);
	assert_int_equal(cfg->n_watches, 0);
	hp_config_free(cfg);

	cfg = load_ok(one, HP_CONFIG_NEED_WATCH);
	assert_defaults(cfg);
	assert_int_equal(cfg->n_watches, 1);
	w = &cfg->watches[0];
	assert_string_equal(w->name, "w");
	assert_string_equal(w->path, "/srv/w");
	assert_watch_defaults(w);
	hp_config_free(cfg);
	free(empty);
	free(one);
}

/* path == NULL reads /etc/hopper/hopper.conf; its absence means defaults. */
static void test_default_file_absent(void **state)
{
	hp_config *cfg = NULL;
	char *errs = NULL;

	if (access(HP_CONFIG_DEFAULT_PATH, F_OK) == 0)
		skip(); /* this machine has one; its content is not ours to know */
	cfg = load_ok(NULL, 0);
	assert_null(cfg->file);
	assert_defaults(cfg);
	assert_int_equal(cfg->n_watches, 0);
	hp_config_free(cfg);

	cfg = (hp_config *)&cfg; /* must stay untouched on error */
	assert_int_equal(load(NULL, HP_CONFIG_NEED_WATCH, &cfg, &errs), -EINVAL);
	assert_ptr_equal(cfg, (hp_config *)&cfg);
	assert_string_equal(errs, HP_CONFIG_DEFAULT_PATH ": no [watch NAME] section (the file "
			    "does not exist): add one, e.g. [watch inbox] path = /srv/inbox\n");
	free(errs);
}

static void test_missing_explicit_file(void **state)
{
	char *path = NULL, *errs = NULL, *want;
	hp_config *cfg = NULL;

	assert_true(asprintf(&path, "%s/no-such.conf", tmpdir) > 0);
	assert_int_equal(load(path, 0, &cfg, &errs), -ENOENT);
	assert_null(cfg);
	want = expect_line(path, 0, "cannot read: No such file or directory");
	assert_string_equal(errs, want);
	free(want);
	free(errs);
	free(path);
}

static void test_relative_paths(void **state)
{
	char *path = write_file("rel/hopper.conf",
		"[daemon]\n"
		"state_dir = ./state//x/\n"
		"[watch a]\n"
		"path = inbox/\n"
		"output_dir = ../md\n"
		"on_success = move:done\n"
		"on_failure = move:/abs//failed/\n");
	char *dir = NULL, *want = NULL, cwd[PATH_MAX];
	hp_config *cfg;

	assert_true(asprintf(&dir, "%s/rel", tmpdir) > 0);
	cfg = load_ok(path, 0);
#define CHECK_UNDER(field, rest) do { \
		free(want); \
		assert_true(asprintf(&want, "%s%s", dir, rest) > 0); \
		assert_string_equal(field, want); \
	} while (0)
	CHECK_UNDER(cfg->state_dir, "/state/x");
	CHECK_UNDER(cfg->watches[0].path, "/inbox");
	CHECK_UNDER(cfg->watches[0].output_dir, "/../md");
	CHECK_UNDER(cfg->watches[0].on_success_dir, "/done");
	assert_string_equal(cfg->watches[0].on_failure_dir, "/abs/failed");
	hp_config_free(cfg);

	/* A relative file name: the file and the paths in it still come out
	 * absolute, against the file's directory, not the cwd. */
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(tmpdir), 0);
	cfg = load_ok("./rel/../rel/hopper.conf", 0);
	assert_int_equal(chdir(cwd), 0);
	CHECK_UNDER(cfg->watches[0].path, "/../rel/inbox");
	free(want);
	assert_true(asprintf(&want, "%s/rel/../rel/hopper.conf", tmpdir) > 0);
	assert_string_equal(cfg->file, want);
#undef CHECK_UNDER
	hp_config_free(cfg);
	free(want);
	free(dir);
	free(path);
}

/* Each kind of error: exactly one message, with the right line. (The
 * missing-watch error is test_need_watch's.) */
static void test_each_error(void **state)
{
	static const struct {
		const char *conf;
		int line;
		const char *msg;
	} cases[] = {
		{ "[watch a]\npath=/a\n[nope]\nx = 1\n", 3,
		  "unknown section [nope]: use [daemon], [workers], [embed] or [watch NAME]" },
		{ "[workers]\nmin = 1\nfoo = 2\n", 3, "unknown key 'foo' in [workers]" },
		{ "[watch in]\npath = /x\nsize = 3\n", 3, "unknown key 'size' in [watch in]" },
		{ "\n[workers]\nmemory_limit = 12Q\n", 3,
		  "bad size '12Q' for memory_limit: use a number with K, M, G or T" },
		{ "[workers]\n\n\njob_timeout = 5 parsecs\n", 4,
		  "bad duration '5 parsecs' for job_timeout: use a number with ms, s, m or h" },
		{ "[watch a]\npath = /a\nrecursive = maybe\n", 3,
		  "bad boolean 'maybe' for recursive: use yes or no" },
		{ "[workers]\nmin = 0\n", 2, "min = 0 is out of range: use 1..256" },
		{ "[workers]\nmax = 999\n", 2, "max = 999 is out of range: use auto or 1..256" },
		{ "[workers]\nmax = lots\n", 2, "bad number 'lots' for max: use auto or a whole number" },
		{ "[workers]\nmemory_limit = 1M\n", 2,
		  "memory_limit = 1M is out of range: use 16M..64G" },
		{ "[workers]\njob_timeout = 500ms\n", 2,
		  "job_timeout = 500ms is out of range: use 1s..24h" },
		{ "[workers]\nmax_attempts = 99999999999999999999999\n", 2,
		  "max_attempts = 99999999999999999999999 is out of range: use 1..100" },
		{ "[workers]\nmax_output = 99999999999T\n", 2,
		  "max_output = 99999999999T is out of range: use 64K..4G" },
		{ "[watch a]\npath = /a\npriority = -1001\n", 3,
		  "priority = -1001 is out of range: use -1000..1000" },
		{ "[workers]\nmin = 2\nmin = 3\n", 3,
		  "duplicate key 'min' in [workers] (first set on line 2)" },
		{ "[watch a]\npath = /a\n[watch b]\npath = /b\n[watch a]\npath = /c\n", 5,
		  "duplicate [watch a] (first on line 1)" },
		{ "[daemon]\n[watch inbox]\nrecursive = no\n", 2, "[watch inbox] has no path" },
		{ "[watch empty]\n", 1, "[watch empty] has no path" },
		{ "[watch]\n", 1, "[watch] needs a name, e.g. [watch inbox]" },
		{ "[watch a/b]\npath = /x\n", 1,
		  "bad watch name 'a/b': use at most 64 letters, digits, '-', '_' or '.'" },
		{ "[daemon x]\n", 1, "[daemon] takes no name (found 'x')" },
		{ "[workers\n", 1, "section header has no closing ']'" },
		{ "[workers] min = 2\n", 1, "unexpected text after ']': put keys on their own lines" },
		{ "[workers]\nmin 2\n", 2, "expected 'key = value', a [section] or a comment" },
		{ "min = 2\n[workers]\n", 1,
		  "'min' is outside any section: put it under [daemon], [workers] or [watch NAME]" },
		{ "[workers]\nmin = 4\nmax = 2\n", 3,
		  "max = 2 is less than min = 4 in [workers]: raise max or use max = auto" },
		{ "[daemon]\nlog_level = 9\n", 2,
		  "bad log level '9': use err, warning, notice, info, debug or a number 3..7" },
		{ "[daemon]\nnode =\n", 2, "node is empty: give it a value or remove the line" },
		{ "[daemon]\nstate_dir =\n", 2, "state_dir is empty: give it a path" },
		{ "[watch a]\npath = /a\non_success = trash\n", 3,
		  "bad action 'trash' for on_success: use keep, delete or move:/DIR" },
		{ "[watch a]\npath = /a\non_failure = delete\n", 3,
		  "bad action 'delete' for on_failure: use keep or move:/DIR" },
		{ "[watch a]\npath = /a\non_success = move:\n", 3,
		  "bad action 'move:' for on_success: use keep, delete or move:/DIR" },
		{ "[watch a]\npath = /a\n\non_success = move:/a/done\n", 4,
		  "on_success: /a/done is inside the watched folder /a: hopper would take "
		  "its own output as new files; pick a folder outside it" },
		{ "[watch a]\npath = /a/\noutput_dir = /a/./\n", 3,
		  "output_dir: /a is inside the watched folder /a: hopper would take "
		  "its own output as new files; pick a folder outside it" },
		{ "[embed]\nurl = http://localhost:11434/v1/embeddings\n", 2,
		  "[embed] url is set but model is not: name the model, e.g. model = nomic-embed-text" },
		{ "[embed]\nmodel = m\nbatch = 0\n", 3,
		  "batch = 0 is out of range: use 1..2048" },
		{ "[embed x]\n", 1, "[embed] takes no name (found 'x')" },
		{ "[watch a]\npath = /srv\nrecursive = yes\non_failure = move:/srv/f\n", 4,
		  "on_failure: /srv/f is inside the watched folder /srv: hopper would take "
		  "its own output as new files; pick a folder outside it" },
		/* Watching / takes in the state_dir too. */
		{ "[watch a]\npath = /\n", 2,
		  "state_dir /var/lib/hopper is inside the folder of [watch a] (/): hopper would "
		  "take its own database files as new files; move state_dir or the watch" },
		{ "[daemon]\nstate_dir = /srv/in/.state\n[watch a]\npath = /srv/in\n", 2,
		  "state_dir /srv/in/.state is inside the folder of [watch a] (/srv/in): hopper would "
		  "take its own database files as new files; move state_dir or the watch" },
		{ "[watch a]\npath = /srv/in\n[watch b]\npath = /srv/in/sub\n", 4,
		  "[watch b] path /srv/in/sub is inside the folder of [watch a] (/srv/in, line 2): "
		  "a file would belong to both watches; give each watch its own folder "
		  "(or set recursive = no on the outer one)" },
		{ "[watch a]\npath = /srv/in/sub\n[watch b]\npath = /srv/in\n", 4,
		  "[watch b] path /srv/in contains the folder of [watch a] (/srv/in/sub, line 2): "
		  "a file would belong to both watches; give each watch its own folder "
		  "(or set recursive = no on the outer one)" },
		{ "[watch a]\npath = /srv/in\n[watch b]\npath = /srv/in/\n", 4,
		  "[watch b] path /srv/in is the same folder as the folder of [watch a] (/srv/in, "
		  "line 2): a file would belong to both watches; give each watch its own folder" },
		{ "[watch a]\npath = /srv/a\non_success = move:/srv/b/done\n[watch b]\npath = /srv/b\n", 3,
		  "on_success: /srv/b/done is inside the folder of [watch b] (/srv/b): hopper would "
		  "take its own output as new files; pick a folder outside every watch" },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char name[32], *path, *errs = NULL, *want;
		hp_config *cfg = NULL;
		int r;

		snprintf(name, sizeof name, "err-%zu.conf", i);
		path = write_file(name, cases[i].conf);
		r = load(path, 0, &cfg, &errs);
		if (r != -EINVAL)
			print_error("case %zu: load() = %d, errors: %s\n", i, r, errs);
		assert_int_equal(r, -EINVAL);
		assert_null(cfg);
		want = expect_line(path, cases[i].line, cases[i].msg);
		if (strcmp(errs, want))
			print_error("case %zu:\n got: %s want: %s", i, errs, want);
		assert_string_equal(errs, want);
		free(want);
		free(errs);
		free(path);
	}
}

/* All errors of a file are reported together, in line order. */
static void test_all_errors_reported(void **state)
{
	char *path = write_file("many.conf",
		"[daemon]\n"                 /* 1 */
		"log_level = loud\n"         /* 2 */
		"[workers]\n"                /* 3 */
		"memory_limit = 12Q\n"       /* 4 */
		"no equals sign\n"           /* 5 */
		"[bogus]\n"                  /* 6 */
		"x = 1\n"                    /* 7: not reported: the section was */
		"[watch in]\n"               /* 8: no path */
		"settle = soon\n"            /* 9 */
		"[watch in]\n");             /* 10 */
	static const struct { int line; const char *msg; } want[] = {
		{ 2, "bad log level 'loud': use err, warning, notice, info, debug or a number 3..7" },
		{ 4, "bad size '12Q' for memory_limit: use a number with K, M, G or T" },
		{ 5, "expected 'key = value', a [section] or a comment" },
		{ 6, "unknown section [bogus]: use [daemon], [workers], [embed] or [watch NAME]" },
		{ 8, "[watch in] has no path" },
		{ 9, "bad duration 'soon' for settle: use a number with ms, s, m or h" },
		{ 10, "duplicate [watch in] (first on line 8)" },
	};
	hp_config *cfg = (hp_config *)&path;
	char *errs = NULL, *all = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&all, &len);

	assert_non_null(f);
	for (size_t i = 0; i < N_ELEMS(want); i++)
		fprintf(f, "%s:%d: %s\n", path, want[i].line, want[i].msg);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(load(path, 0, &cfg, &errs), -EINVAL);
	assert_ptr_equal(cfg, (hp_config *)&path); /* ret_ untouched on failure */
	assert_string_equal(errs, all);
	free(all);
	free(errs);
	free(path);
}

static void test_syntax(void **state)
{
	char long_db[256];
	char *conf = NULL, *path, *errs = NULL, *want;
	hp_config *cfg = NULL;

	/* Indented keys are keys (not continuations of the line above), inline
	 * ';' comments, ':' separators, CRLF, a BOM, case-insensitive auto. */
	path = write_file("syntax.conf",
		"\xEF\xBB\xBF; leading BOM\r\n"
		"[workers]\r\n"
		"  min = 2   ; two\r\n"
		"\tmax: AUTO\r\n"
		"  [ watch   spaced ]  ; a comment\r\n"
		"    path = /srv/a;b   \r\n"
		"# exclude = *.x\n"
		"    exclude = *.x ;*.y\n"
		"[daemon]\n"
		"log_level = 4\n");
	cfg = load_ok(path, 0);
	assert_int_equal(cfg->workers_min, 2);
	assert_int_equal(cfg->workers_max, 0);
	assert_int_equal(cfg->log_level, 4);
	assert_int_equal(cfg->n_watches, 1);
	assert_string_equal(cfg->watches[0].name, "spaced");
	assert_string_equal(cfg->watches[0].path, "/srv/a;b");
	assert_int_equal(cfg->watches[0].n_exclude, 1);
	assert_string_equal(cfg->watches[0].exclude[0], "*.x");
	hp_config_free(cfg);
	free(path);

	/* inih (Debian, stack buffer) takes lines up to 198 characters. */
	memset(long_db, 'a', sizeof long_db);
	long_db[198 - strlen("database = ")] = '\0'; /* a 198-character line */
	assert_true(asprintf(&conf, "[daemon]\ndatabase = %s\n", long_db) > 0);
	path = write_file("long-ok.conf", conf);
	cfg = load_ok(path, 0);
	assert_string_equal(cfg->database, long_db);
	hp_config_free(cfg);
	free(path);
	free(conf);

	long_db[198 - strlen("database = ")] = 'a';
	long_db[199 - strlen("database = ")] = '\0'; /* a 199-character line */
	assert_true(asprintf(&conf, "[daemon]\ndatabase = %s\n", long_db) > 0);
	path = write_file("long-bad.conf", conf);
	cfg = NULL;
	assert_int_equal(load(path, 0, &cfg, &errs), -EINVAL);
	assert_null(cfg);
	want = expect_line(path, 2, "line is too long (199 characters, at most 198): for a "
			   "long database conninfo use a pg_service.conf entry "
			   "(database = service=NAME)");
	assert_string_equal(errs, want);
	free(want);
	free(errs);
	free(path);
	free(conf);
}

static void test_need_watch(void **state)
{
	char *path = write_file("nowatch.conf", "[workers]\nmin = 2\n");
	char *errs = NULL, *want;
	hp_config *cfg = NULL;

	cfg = load_ok(path, 0); /* the CLI needs no watch */
	assert_int_equal(cfg->n_watches, 0);
	hp_config_free(cfg);

	cfg = NULL;
	assert_int_equal(load(path, HP_CONFIG_NEED_WATCH, &cfg, &errs), -EINVAL);
	assert_null(cfg);
	want = expect_line(path, 0,
		"no [watch NAME] section: add one, e.g. [watch inbox] path = /srv/inbox");
	assert_string_equal(errs, want);
	free(want);
	free(errs);
	free(path);
}

/* Print, read the print back, compare; and print again: same text. */
/* A reload tells which changed keys wait for a restart: the ones the table
 * does not mark reloadable, and only those that changed. */
static void test_restart_changes(void **state)
{
	char *pa = write_file("reload/a.conf",
	                      "[daemon]\nlog_level = info\n[workers]\nmin = 1\nmemory_limit = 512M\n"
	                      "max_output = 64M\n[watch w]\npath = /srv/a\n");
	char *pb = write_file("reload/b.conf",
	                      "[daemon]\nlog_level = debug\nstate_dir = /srv/state\n[workers]\nmin = 3\n"
	                      "memory_limit = 1G\nmax_output = 8M\n[watch w]\npath = /srv/b\n");
	hp_config *a = load_ok(pa, 0), *b = load_ok(pb, 0);
	const char *names[8];
	assert_int_equal(hp_config_restart_changes(a, a, names, 8), 0);
	size_t n = hp_config_restart_changes(a, b, names, 8);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "state_dir");
	assert_string_equal(names[1], "memory_limit"); /* min is applied on reload */
	/* max is honoured */
	assert_int_equal(hp_config_restart_changes(a, b, names, 1), 1);
	assert_string_equal(names[0], "state_dir");
	hp_config_free(a);
	hp_config_free(b);
	free(pa);
	free(pb);
}

static void round_trip(const char *path)
{
	hp_config *a = load_ok(path, 0), *b;
	char *text = NULL, *text2 = NULL, *printed;
	size_t len = 0, len2 = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	hp_config_print(a, f);
	assert_int_equal(fclose(f), 0);
	printed = write_file("printed.conf", text);
	b = load_ok(printed, 0);
	assert_config_equal(a, b);
	assert_string_equal(b->file, printed);

	f = open_memstream(&text2, &len2);
	assert_non_null(f);
	hp_config_print(b, f);
	assert_int_equal(fclose(f), 0);
	/* Only the "# file:" line differs. */
	assert_string_equal(strchr(text, '\n'), strchr(text2, '\n'));

	hp_config_free(a);
	hp_config_free(b);
	free(text);
	free(text2);
	free(printed);
}

static void test_round_trip(void **state)
{
	char *full = write_file("rt-full.conf", full_conf);
	char *rel = write_file("rt-rel/hopper.conf",
		"[watch x]\npath = in\non_success = move:done\noutput_dir = md\n"
		"[workers]\njob_timeout = 3600s\nmemory_limit = 16384K\n");
	char *defaults = write_file("rt-defaults.conf", "");

	round_trip(full);
	round_trip(rel);
	round_trip(defaults);
	free(full);
	free(rel);
	free(defaults);
}

static void test_print_format(void **state)
{
	char *path = write_file("fmt.conf", "[watch inbox]\npath = /srv/inbox\n"
				"[workers]\nmax_output = 1536K\njob_timeout = 2h\n"
				"[watch t]\npath = /t\nsettle = 120s\n");
	hp_config *cfg = load_ok(path, 0);
	char *text = NULL, *head = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	static const char *const lines[] = {
		"\n[daemon]\n", "\ndatabase = local\n", "\nstate_dir = /var/lib/hopper\n",
		"\nlog_level = info\n", "\n[workers]\n", "\nmin = 1\n", "\nmax = auto\n",
		"\nmemory_limit = 512M\n", "\njob_timeout = 2h\n", "\nmax_attempts = 3\n",
		"\nmax_file_size = 256M\n", "\nmax_output = 1536K\n", "\n[watch inbox]\n",
		"\npath = /srv/inbox\n", "\nrecursive = yes\n",
		"\nexclude = .* *.part *.tmp *.crdownload ~$*\n", "\nsettle = 2s\n",
		"\non_success = keep\n", "\non_failure = keep\n", "\noutput_dir =\n",
		"\npriority = 0\n", "\nchunk_tokens = 512\n", "\nsettle = 2m\n",
	};

	assert_non_null(f);
	hp_config_print(cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_true(asprintf(&head, "# file: %s\n", path) > 0);
	assert_memory_equal(text, head, strlen(head));
	for (size_t i = 0; i < N_ELEMS(lines); i++) {
		if (!strstr(text, lines[i]))
			print_error("missing %s in:\n%s", lines[i], text);
		assert_non_null(strstr(text, lines[i]));
	}
	hp_config_free(cfg);

	free(path);

	/* The default job_timeout prints as the documentation writes it. */
	path = write_file("fmt2.conf", "");
	cfg = load_ok(path, 0);
	free(text);
	text = NULL;
	f = open_memstream(&text, &len);
	assert_non_null(f);
	hp_config_print(cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, "\njob_timeout = 60s\n"));
	hp_config_free(cfg);
	free(text);
	free(head);
	free(path);
}

static void test_parse_size(void **state)
{
	static const struct { const char *s; int r; uint64_t v; } cases[] = {
		{ "0", 0, 0 }, { "512", 0, 512 }, { "512B", 0, 512 }, { "1k", 0, 1024 },
		{ "1K", 0, 1024 }, { "1KB", 0, 1024 }, { "1KiB", 0, 1024 }, { "1kib", 0, 1024 },
		{ "512M", 0, 512ULL << 20 }, { "2G", 0, 2ULL << 30 }, { "1T", 0, 1ULL << 40 },
		{ "3 M", 0, 3ULL << 20 }, { "18446744073709551615", 0, UINT64_MAX },
		{ "16777215T", 0, 16777215ULL << 40 },
		{ "18446744073709551616", -ERANGE, 0 }, { "16777216T", -ERANGE, 0 },
		{ "99999999999999999999999G", -ERANGE, 0 },
		{ "", -EINVAL, 0 }, { "M", -EINVAL, 0 }, { "-1", -EINVAL, 0 }, { "+1", -EINVAL, 0 },
		{ "12Q", -EINVAL, 0 }, { "1.5G", -EINVAL, 0 }, { "1Gi", -EINVAL, 0 },
		{ "1GBB", -EINVAL, 0 }, { " 1", -EINVAL, 0 }, { "1P", -EINVAL, 0 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		uint64_t v = 4242;
		int r = hp_parse_size(cases[i].s, &v);
		if (r != cases[i].r)
			print_error("hp_parse_size(\"%s\") = %d\n", cases[i].s, r);
		assert_int_equal(r, cases[i].r);
		assert_int_equal(v, r == 0 ? cases[i].v : 4242); /* ret_ only on success */
	}
	assert_int_equal(hp_parse_size(NULL, &(uint64_t){ 0 }), -EINVAL);
}

static void test_parse_duration(void **state)
{
	static const struct { const char *s; int r; uint64_t v; } cases[] = {
		{ "0", 0, 0 }, { "2", 0, 2000 }, { "2s", 0, 2000 }, { "500ms", 0, 500 },
		{ "5m", 0, 300000 }, { "1h", 0, 3600000 }, { "24h", 0, 86400000 },
		{ "10 s", 0, 10000 }, { "18446744073709551615ms", 0, UINT64_MAX },
		{ "18446744073709552s", -ERANGE, 0 }, { "99999999999999999999ms", -ERANGE, 0 },
		{ "5124095576030432h", -ERANGE, 0 },
		{ "", -EINVAL, 0 }, { "s", -EINVAL, 0 }, { "-1s", -EINVAL, 0 },
		{ "1.5s", -EINVAL, 0 }, { "5x", -EINVAL, 0 }, { "5M", -EINVAL, 0 },
		{ "1d", -EINVAL, 0 }, { "5 ms ", -EINVAL, 0 }, { "2ss", -EINVAL, 0 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		uint64_t v = 4242;
		int r = hp_parse_duration_ms(cases[i].s, &v);
		if (r != cases[i].r)
			print_error("hp_parse_duration_ms(\"%s\") = %d\n", cases[i].s, r);
		assert_int_equal(r, cases[i].r);
		assert_int_equal(v, r == 0 ? cases[i].v : 4242);
	}
}

static void test_parse_bool(void **state)
{
	static const char *const yes[] = { "yes", "YES", "true", "True", "on", "1" };
	static const char *const no[] = { "no", "No", "false", "FALSE", "off", "0" };
	static const char *const bad[] = { "", "y", "n", "2", "yess", "enabled", " yes" };

	for (size_t i = 0; i < N_ELEMS(yes); i++) {
		bool b = false;
		assert_int_equal(hp_parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < N_ELEMS(no); i++) {
		bool b = true;
		assert_int_equal(hp_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		bool b = true;
		assert_int_equal(hp_parse_bool(bad[i], &b), -EINVAL);
		assert_true(b);
	}
}

/* The shipped files must load: etc/hopper.conf (no watch: hopperd would
 * refuse it until one is added, the CLI takes it) and etc/run.conf.in once
 * make run's sed has filled it in. Found relative to this source file's
 * build: the tests run from the top of the tree. */
static void test_shipped_files(void **state)
{
	hp_config *cfg;
	char *errs = NULL, *text = NULL, *path;
	size_t len = 0;
	FILE *in, *out;
	char line[512];

	if (access("etc/hopper.conf", R_OK) < 0 || access("etc/run.conf.in", R_OK) < 0)
		skip(); /* not run from the top of the source tree */
	cfg = load_ok("etc/hopper.conf", 0);
	assert_defaults(cfg);
	assert_int_equal(cfg->n_watches, 0);
	hp_config_free(cfg);
	cfg = NULL;
	assert_int_equal(load("etc/hopper.conf", HP_CONFIG_NEED_WATCH, &cfg, &errs), -EINVAL);
	free(errs);

	/* Uncomment every documented "#key = value" and the example [watch]:
	 * the defaults the comments give must be the real ones. */
	in = fopen("etc/hopper.conf", "r");
	assert_non_null(in);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	while (fgets(line, sizeof line, in)) {
		char *eq = strstr(line, " = ");
		size_t name_len = strspn(line + 1, "abcdefghijklmnopqrstuvwxyz_");
		bool key = line[0] == '#' && name_len > 0 && eq == line + 1 + name_len;
		fputs(key || !strncmp(line, "#[watch ", 8) ? line + 1 : line, out);
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	path = write_file("shipped-uncommented.conf", text);
	free(text);
	text = NULL;
	cfg = load_ok(path, HP_CONFIG_NEED_WATCH);
	assert_defaults(cfg);
	assert_int_equal(cfg->n_watches, 1);
	assert_string_equal(cfg->watches[0].name, "inbox");
	assert_string_equal(cfg->watches[0].path, "/srv/inbox");
	assert_watch_defaults(&cfg->watches[0]);
	hp_config_free(cfg);
	free(path);

	in = fopen("etc/run.conf.in", "r");
	assert_non_null(in);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	while (fgets(line, sizeof line, in)) {
		char *at;
		while ((at = strstr(line, "@STATE_DIR@")) || (at = strstr(line, "@INBOX@"))) {
			bool state_dir = at[1] == 'S';
			char rest[512];
			snprintf(rest, sizeof rest, "%s", at + (state_dir ? 11 : 7));
			snprintf(at, sizeof line - (size_t)(at - line), "%s/%s%s", tmpdir,
				 state_dir ? "state" : "inbox", rest);
		}
		fputs(line, out);
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	path = write_file("run.conf", text);
	cfg = load_ok(path, HP_CONFIG_NEED_WATCH);
	assert_int_equal(cfg->workers_min, 2);
	assert_int_equal(cfg->n_watches, 1);
	assert_string_equal(cfg->watches[0].name, "inbox");
	free(text);
	assert_true(asprintf(&text, "%s/inbox", tmpdir) > 0);
	assert_string_equal(cfg->watches[0].path, text);
	hp_config_free(cfg);
	free(text);
	free(path);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_default_file_absent),
		cmocka_unit_test(test_missing_explicit_file),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_each_error),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_need_watch),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_print_format),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_shipped_files),
		cmocka_unit_test(test_restart_changes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
