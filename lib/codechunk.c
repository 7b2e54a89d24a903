/* codechunk.c — source code into chunks at symbol boundaries, see
 * include/hopper/codechunk.h.
 *
 * Steps, on the code between the Markdown's fence lines:
 * 1. Parse it with the language's grammar (vendored, lib/third_party/) and
 *    the system libtree-sitter; the parser of each language is kept for
 *    the process.
 * 2. Region walk, starting with the whole file: the definitions directly
 *    inside a region (found with a tree cursor, not descending into a
 *    definition: those are the next level's) become items widened to whole
 *    lines (and comment lines just above); the non-blank code between them
 *    becomes plain items. Items are packed in order: a definition that fits
 *    is a chunk; one that does not is a region of its own (its path one
 *    level longer), or, with no definitions inside, line windows; plain
 *    items and small definitions are grouped up to the limit.
 * 3. Line windows: whole lines in balanced pieces (ceil(T / ceil(T / cap))
 *    tokens), each cut at a blank line once the share is reached, else at
 *    the line that would pass the cap; a single line over the cap is cut at
 *    UTF-8 characters.
 * Token counts of lines are added up: hp_count_tokens is sub-additive
 * (lib/tokens.c), so a chunk never has more tokens than the sum; fences are
 * paid for up front.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tree_sitter/api.h>

#include "hopper/codechunk.h"
#include "hopper/common.h"

#define HEADING_MAX 1024   /* bytes of a heading path */
#define NAME_MAX_BYTES 120 /* bytes of one symbol name in the path */
#define MAX_DEPTH 64       /* regions inside regions; deeper: line windows */

const TSLanguage *tree_sitter_c(void);
const TSLanguage *tree_sitter_python(void);
const TSLanguage *tree_sitter_javascript(void);
const TSLanguage *tree_sitter_typescript(void);
const TSLanguage *tree_sitter_tsx(void);
const TSLanguage *tree_sitter_go(void);
const TSLanguage *tree_sitter_rust(void);
const TSLanguage *tree_sitter_java(void);
const TSLanguage *tree_sitter_bash(void);

/* ---- languages ----------------------------------------------------------- */

enum lang_id { L_C, L_PY, L_JS, L_TS, L_TSX, L_GO, L_RS, L_JAVA, L_SH, L_N };

static const char *const c_defs[] = { "function_definition", "struct_specifier", "union_specifier",
	                              "enum_specifier", "type_definition", NULL };
static const char *const py_defs[] = { "function_definition", "class_definition",
	                               "decorated_definition", NULL };
static const char *const js_defs[] = { "function_declaration", "generator_function_declaration",
	                               "class_declaration", "method_definition", "lexical_declaration",
	                               "variable_declaration", NULL };
static const char *const ts_defs[] = { "function_declaration", "generator_function_declaration",
	                               "class_declaration", "abstract_class_declaration",
	                               "method_definition", "lexical_declaration", "variable_declaration",
	                               "interface_declaration", "enum_declaration", "internal_module",
	                               "module", NULL };
static const char *const go_defs[] = { "function_declaration", "method_declaration",
	                               "type_declaration", NULL };
static const char *const rs_defs[] = { "function_item", "struct_item", "enum_item", "union_item",
	                               "trait_item", "impl_item", "mod_item", "macro_definition", NULL };
static const char *const java_defs[] = { "class_declaration", "interface_declaration",
	                                 "enum_declaration", "record_declaration",
	                                 "annotation_type_declaration", "method_declaration",
	                                 "constructor_declaration", NULL };
static const char *const sh_defs[] = { "function_definition", NULL };

static const struct lang {
	const char *name;
	const TSLanguage *(*grammar)(void);
	const char *const *defs;
	const char *const *comments; /* line starts that make a comment line */
} langs[L_N] = {
	[L_C] = { "c", tree_sitter_c, c_defs, (const char *const[]){ "//", "/*", "*", NULL } },
	[L_PY] = { "python", tree_sitter_python, py_defs, (const char *const[]){ "#", NULL } },
	[L_JS] = { "javascript", tree_sitter_javascript, js_defs,
	           (const char *const[]){ "//", "/*", "*", "@", NULL } },
	[L_TS] = { "typescript", tree_sitter_typescript, ts_defs,
	           (const char *const[]){ "//", "/*", "*", "@", NULL } },
	[L_TSX] = { "tsx", tree_sitter_tsx, ts_defs, (const char *const[]){ "//", "/*", "*", "@", NULL } },
	[L_GO] = { "go", tree_sitter_go, go_defs, (const char *const[]){ "//", "/*", "*", NULL } },
	[L_RS] = { "rust", tree_sitter_rust, rs_defs,
	           (const char *const[]){ "//", "/*", "*", "#[", "#![", NULL } },
	[L_JAVA] = { "java", tree_sitter_java, java_defs,
	             (const char *const[]){ "//", "/*", "*", "@", NULL } },
	[L_SH] = { "bash", tree_sitter_bash, sh_defs, (const char *const[]){ "#", NULL } },
};

static const struct { const char *ext; enum lang_id id; } exts[] = {
	{ "c", L_C }, { "h", L_C }, { "py", L_PY }, { "pyi", L_PY }, { "js", L_JS },
	{ "mjs", L_JS }, { "cjs", L_JS }, { "jsx", L_JS }, { "ts", L_TS }, { "mts", L_TS },
	{ "cts", L_TS }, { "tsx", L_TSX }, { "go", L_GO }, { "rs", L_RS }, { "java", L_JAVA },
	{ "sh", L_SH }, { "bash", L_SH },
};

static const struct { const char *interp; enum lang_id id; } shebangs[] = {
	{ "python", L_PY }, { "python2", L_PY }, { "python3", L_PY }, { "node", L_JS },
	{ "nodejs", L_JS }, { "bash", L_SH }, { "sh", L_SH }, { "dash", L_SH }, { "ksh", L_SH },
	{ "zsh", L_SH },
};

static const char *base_name(const char *name)
{
	const char *b = name ? strrchr(name, '/') : NULL;
	return b ? b + 1 : name;
}

/* "#!/usr/bin/env -S python3 -u" -> python3; "#!/bin/bash" -> bash. */
static int shebang_lang(const char *s, size_t len)
{
	if (len < 3 || s[0] != '#' || s[1] != '!')
		return -1;
	size_t e = 2;
	while (e < len && s[e] != '\n' && e < 256)
		e++;
	char line[257];
	memcpy(line, s + 2, e - 2);
	line[e - 2] = '\0';
	char *save = NULL;
	for (char *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		const char *b = strrchr(w, '/');
		b = b ? b + 1 : w;
		if (strcmp(b, "env") == 0 || b[0] == '-')
			continue;
		char word[32];
		size_t n = strlen(b);
		if (n >= sizeof word)
			return -1;
		memcpy(word, b, n + 1);
		/* python3.11 -> python3 */
		char *dot = strchr(word, '.');
		if (dot)
			*dot = '\0';
		for (size_t i = 0; i < HP_ARRAY_SIZE(shebangs); i++)
			if (strcmp(shebangs[i].interp, word) == 0)
				return (int)shebangs[i].id;
		return -1;
	}
	return -1;
}

static int lang_of(const char *name, const char *code, size_t len)
{
	const char *b = base_name(name);
	const char *dot = b ? strrchr(b, '.') : NULL;
	if (dot && dot != b)
		for (size_t i = 0; i < HP_ARRAY_SIZE(exts); i++)
			if (strcasecmp(exts[i].ext, dot + 1) == 0)
				return (int)exts[i].id;
	return shebang_lang(code, len);
}

const char *hp_code_language(const char *name, const char *code, size_t len)
{
	int id = lang_of(name, code, len);
	return id < 0 ? NULL : langs[id].name;
}

/* ---- parsers, kept for the process -------------------------------------- */

static TSParser *parsers[L_N];
static size_t max_parse_bytes = HP_CODE_MAX_PARSE_BYTES;
static uint64_t parse_timeout_us = HP_CODE_PARSE_TIMEOUT_US;

void hp_code_set_limits(size_t max_bytes, uint64_t timeout_us)
{
	max_parse_bytes = max_bytes ? max_bytes : HP_CODE_MAX_PARSE_BYTES;
	parse_timeout_us = timeout_us ? timeout_us : HP_CODE_PARSE_TIMEOUT_US;
}

static TSParser *parser_for(int id)
{
	if (!parsers[id]) {
		TSParser *p = ts_parser_new();
		if (!p)
			return NULL;
		if (!ts_parser_set_language(p, langs[id].grammar())) {
			ts_parser_delete(p);
			return NULL;
		}
		parsers[id] = p;
	}
	ts_parser_set_timeout_micros(parsers[id], parse_timeout_us);
	return parsers[id];
}

/* ---- output -------------------------------------------------------------- */

typedef struct item {
	size_t a, z;        /* line-aligned span in the Markdown */
	int tokens;         /* sum of its lines' counts */
	bool def;
	TSNode node;        /* def: the definition */
	char name[NAME_MAX_BYTES + 1];
} item;

struct st {
	const char *s;      /* the Markdown */
	size_t base;        /* where the code starts in it */
	size_t code_end;
	const struct lang *lang;
	const char *fence;  /* opening fence line without "\n" */
	size_t fence_len;
	size_t close_len;   /* backticks of the closing fence */
	int max, overlap, min;
	int cap;            /* tokens of code per chunk, fences paid for */
	char path[HEADING_MAX + 1];
	size_t path_len;
	hp_chunk *v;
	size_t n, alloc;
	/* the open group of small items */
	bool open;
	size_t ga, gz;
	int gtoks;
	int gdefs;
	bool gsmall;        /* every item in it is plain or below min */
	char gname[HEADING_MAX + 1];
};

static size_t line_end(const char *s, size_t p, size_t z)
{
	const char *nl = memchr(s + p, '\n', z - p);
	return nl ? (size_t)(nl - s) + 1 : z;
}

static bool blank_span(const char *s, size_t a, size_t z)
{
	for (size_t i = a; i < z; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f' &&
		    s[i] != '\v')
			return false;
	return true;
}

static size_t utf8_back(const char *s, size_t a, size_t p)
{
	while (p > a && ((unsigned char)s[p] & 0xC0) == 0x80)
		p--;
	return p;
}

/* Append a chunk of md[a, z) (fenced) with the heading given. */
static int emit(struct st *st, size_t a, size_t z, const char *heading)
{
	if (z <= a || blank_span(st->s, a, z))
		return 0;
	/* whole blank lines off both ends */
	for (size_t e; a < z && blank_span(st->s, a, e = line_end(st->s, a, z));)
		a = e;
	while (z > a) {
		size_t ls = z - 1;
		while (ls > a && st->s[ls - 1] != '\n')
			ls--;
		if (!blank_span(st->s, ls, z))
			break;
		z = ls;
	}
	if (st->n == st->alloc) {
		size_t na = st->alloc ? st->alloc * 2 : 16;
		hp_chunk *p = realloc(st->v, na * sizeof(*p));
		if (!p)
			return -ENOMEM;
		st->v = p;
		st->alloc = na;
	}
	bool nl = st->s[z - 1] == '\n';
	size_t clen = st->fence_len + 1 + (z - a) + (nl ? 0 : 1) + st->close_len + 1;
	char *c = malloc(clen + 1);
	char *h = strdup(heading);
	if (!c || !h) {
		free(c);
		free(h);
		return -ENOMEM;
	}
	size_t o = 0;
	memcpy(c, st->fence, st->fence_len);
	o += st->fence_len;
	c[o++] = '\n';
	memcpy(c + o, st->s + a, z - a);
	o += z - a;
	if (!nl)
		c[o++] = '\n';
	memset(c + o, '`', st->close_len);
	o += st->close_len;
	c[o++] = '\n';
	c[o] = '\0';
	hp_chunk *ch = &st->v[st->n++];
	ch->heading = h;
	ch->content = c;
	ch->tokens = hp_count_tokens(c, o);
	ch->page = 0;
	ch->start = a;
	ch->end = z;
	return 0;
}

/* path + " > " + name into out (HEADING_MAX + 1), cut at UTF-8 boundaries. */
static void join_path(char *out, const char *path, size_t plen, const char *name)
{
	memcpy(out, path, plen);
	size_t n = strlen(name);
	size_t len = plen;
	if (len + 3 + n > HEADING_MAX)
		n = len + 3 < HEADING_MAX ? utf8_back(name, 0, HEADING_MAX - len - 3) : 0;
	if (n) {
		memcpy(out + len, " > ", 3);
		memcpy(out + len + 3, name, n);
		len += 3 + n;
	}
	out[len] = '\0';
}

/* ---- line windows ---------------------------------------------------------- */

/* Pieces of one line over the cap, cut at UTF-8 characters. */
static int split_line(struct st *st, size_t a, size_t z, int cap, const char *heading)
{
	const char *s = st->s;
	while (a < z) {
		size_t n = (size_t)cap * 3;
		if (n > z - a)
			n = z - a;
		for (;;) {
			size_t e = a + n < z ? utf8_back(s, a, a + n) : z;
			if (e == a) { /* one character: take it whole */
				size_t k = 1;
				while (a + k < z && ((unsigned char)s[a + k] & 0xC0) == 0x80)
					k++;
				e = a + k;
			}
			int t = hp_count_tokens(s + a, e - a);
			if (t <= cap || e - a <= 4) {
				int r = emit(st, a, e, heading);
				if (r < 0)
					return r;
				a = e;
				break;
			}
			n = (size_t)((double)(e - a) * cap / t * 0.9);
			if (n == 0)
				n = 1;
		}
	}
	return 0;
}

/* Where the overlap of a piece starting at p begins: whole lines of the
 * previous piece [prev, p) worth at most the overlap budget. */
static size_t overlap_start(struct st *st, size_t prev, size_t p)
{
	size_t b = p;
	int t = 0;
	while (b > prev) {
		size_t ls = b - 1;
		while (ls > prev && st->s[ls - 1] != '\n')
			ls--;
		t += hp_count_tokens(st->s + ls, b - ls);
		if (t > st->overlap)
			break;
		b = ls;
	}
	return b;
}

static int line_windows(struct st *st, size_t a, size_t z, const char *heading)
{
	const char *s = st->s;
	while (a < z && blank_span(s, a, line_end(s, a, z)))
		a = line_end(s, a, z);
	if (a >= z)
		return 0;
	int64_t total = 0;
	for (size_t p = a; p < z; p = line_end(s, p, z))
		total += hp_count_tokens(s + p, line_end(s, p, z) - p);
	if (total <= st->cap)
		return emit(st, a, z, heading);
	int cap = st->cap - st->overlap;
	if (cap < 1)
		cap = 1;
	int64_t pieces = (total + cap - 1) / cap;
	int64_t share = (total + pieces - 1) / pieces;
	size_t p = a, prev = SIZE_MAX;
	while (p < z) {
		size_t q = p, last_blank = 0;
		int64_t acc = 0, acc_blank = 0;
		bool full = false;
		while (q < z) {
			size_t e = line_end(s, q, z);
			int t = hp_count_tokens(s + q, e - q);
			if (acc + t > cap) {
				full = true;
				break;
			}
			acc += t;
			q = e;
			bool at_blank = q >= z || blank_span(s, q, line_end(s, q, z));
			if (at_blank) {
				last_blank = q;
				acc_blank = acc;
				if (acc >= share)
					break;
			}
		}
		if (q == p) { /* one line over the cap */
			size_t e = line_end(s, q, z);
			int r = split_line(st, q, e, cap, heading);
			if (r < 0)
				return r;
			prev = SIZE_MAX;
			p = e;
			continue;
		}
		if (full && last_blank > p && acc_blank * 2 >= cap)
			q = last_blank;
		size_t start = p;
		if (st->overlap > 0 && prev != SIZE_MAX)
			start = overlap_start(st, prev, p);
		int r = emit(st, start, q, heading);
		if (r < 0)
			return r;
		prev = p;
		p = q;
		while (p < z && blank_span(s, p, line_end(s, p, z)))
			p = line_end(s, p, z);
	}
	return 0;
}

/* ---- symbol names -------------------------------------------------------- */

static bool type_is(TSNode n, const char *t)
{
	return strcmp(ts_node_type(n), t) == 0;
}

/* Drop a UTF-8 sequence cut short at the end of out. */
static void utf8_fix_tail(char *out)
{
	size_t n = strlen(out), k = n;
	while (k > 0 && ((unsigned char)out[k - 1] & 0xC0) == 0x80)
		k--;
	if (k == 0)
		return;
	unsigned char lead = (unsigned char)out[k - 1];
	size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	if (n - (k - 1) < want)
		out[k - 1] = '\0';
}

/* Copy the node's text into out, blanks collapsed, cut at max bytes. */
static void node_text(const struct st *st, TSNode n, char *out, size_t max)
{
	size_t a = st->base + ts_node_start_byte(n), z = st->base + ts_node_end_byte(n);
	size_t o = 0;
	bool sp = false;
	for (size_t i = a; i < z && o < max; i++) {
		char c = st->s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			sp = o > 0;
			continue;
		}
		if (sp && o + 1 < max)
			out[o++] = ' ';
		sp = false;
		out[o++] = c;
	}
	out[o] = '\0';
	utf8_fix_tail(out);
}

static void field_text(const struct st *st, TSNode n, const char *field, char *out, size_t max)
{
	TSNode f = ts_node_child_by_field_name(n, field, (uint32_t)strlen(field));
	if (ts_node_is_null(f))
		out[0] = '\0';
	else
		node_text(st, f, out, max);
}

/* a b c d into out, at most max bytes (the caller fixes a cut sequence). */
static void cat_name(char *out, size_t max, const char *a, const char *b, const char *c,
                     const char *d)
{
	const char *parts[] = { a, b, c, d };
	size_t o = 0;
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(parts[i]);
		if (n > max - o)
			n = max - o;
		memcpy(out + o, parts[i], n);
		o += n;
	}
	out[o] = '\0';
}

/* C declarators: follow "declarator" down to the name. */
static void c_declarator_name(const struct st *st, TSNode n, char *out, size_t max)
{
	out[0] = '\0';
	for (int guard = 0; guard < 64 && !ts_node_is_null(n); guard++) {
		TSNode d = ts_node_child_by_field_name(n, "declarator", 10);
		if (ts_node_is_null(d)) {
			const char *t = ts_node_type(n);
			if (strstr(t, "identifier"))
				node_text(st, n, out, max);
			return;
		}
		n = d;
	}
}

/* The name of definition n, or false when n is no definition after all. */
static bool def_name(const struct st *st, TSNode n, char *out)
{
	const size_t max = NAME_MAX_BYTES;
	out[0] = '\0';
	bool found = false;
	for (const char *const *d = st->lang->defs; *d; d++)
		if (type_is(n, *d)) {
			found = true;
			break;
		}
	if (!found)
		return false;
	if (type_is(n, "decorated_definition")) {
		TSNode d = ts_node_child_by_field_name(n, "definition", 10);
		if (ts_node_is_null(d))
			return false;
		field_text(st, d, "name", out, max);
	} else if (st->lang == &langs[L_C]) {
		if (type_is(n, "function_definition") || type_is(n, "type_definition"))
			c_declarator_name(st, n, out, max);
		else if (!ts_node_is_null(ts_node_child_by_field_name(n, "body", 4)))
			field_text(st, n, "name", out, max);
	} else if (type_is(n, "lexical_declaration") || type_is(n, "variable_declaration")) {
		/* const f = () => {...}; const C = class {...} */
		TSNode v = ts_node_named_child(n, 0);
		if (ts_node_is_null(v) || !type_is(v, "variable_declarator"))
			return false;
		TSNode val = ts_node_child_by_field_name(v, "value", 5);
		if (ts_node_is_null(val))
			return false;
		const char *t = ts_node_type(val);
		if (strcmp(t, "arrow_function") && strcmp(t, "function") && strcmp(t, "function_expression") &&
		    strcmp(t, "class") && strcmp(t, "generator_function"))
			return false;
		field_text(st, v, "name", out, max);
	} else if (type_is(n, "impl_item")) {
		char ty[NAME_MAX_BYTES + 1], tr[NAME_MAX_BYTES + 1];
		field_text(st, n, "type", ty, max);
		field_text(st, n, "trait", tr, max);
		if (tr[0])
			cat_name(out, max, "impl ", tr, " for ", ty);
		else
			cat_name(out, max, "impl ", ty, "", "");
	} else if (type_is(n, "type_declaration")) { /* Go: type X struct {...} */
		TSNode spec = ts_node_named_child(n, 0);
		if (!ts_node_is_null(spec))
			field_text(st, spec, "name", out, max);
	} else if (st->lang == &langs[L_GO] && type_is(n, "method_declaration")) {
		/* func (s *Server) Handle() -> Server.Handle */
		char recv[NAME_MAX_BYTES + 1] = "", nm[NAME_MAX_BYTES + 1];
		TSNode r = ts_node_child_by_field_name(n, "receiver", 8);
		if (!ts_node_is_null(r)) {
			TSNode p = ts_node_named_child(r, 0);
			TSNode t = ts_node_is_null(p) ? p : ts_node_child_by_field_name(p, "type", 4);
			for (int g = 0; g < 8 && !ts_node_is_null(t) && !type_is(t, "type_identifier"); g++)
				t = ts_node_named_child(t, 0);
			if (!ts_node_is_null(t))
				node_text(st, t, recv, max);
		}
		field_text(st, n, "name", nm, max);
		if (recv[0] && nm[0])
			cat_name(out, max, recv, ".", nm, "");
		else
			cat_name(out, max, nm, "", "", "");
	} else {
		field_text(st, n, "name", out, max);
	}
	utf8_fix_tail(out);
	return out[0] != '\0';
}

/* ---- regions ----------------------------------------------------------------- */

/* Is the line [a, e) a comment line of the language (after indentation)? */
static bool comment_line(const struct st *st, size_t a, size_t e)
{
	while (a < e && (st->s[a] == ' ' || st->s[a] == '\t'))
		a++;
	for (const char *const *c = st->lang->comments; *c; c++) {
		size_t n = strlen(*c);
		if (e - a >= n && memcmp(st->s + a, *c, n) == 0)
			return true;
	}
	return false;
}

/* Definitions directly inside n (not inside another definition), in order. */
static int find_defs(struct st *st, TSNode n, item **ret, size_t *ret_n)
{
	item *v = NULL;
	size_t cnt = 0, alloc = 0;
	TSTreeCursor c = ts_tree_cursor_new(n);
	int depth = 0;
	char name[NAME_MAX_BYTES + 1];
	if (ts_tree_cursor_goto_first_child(&c)) {
		depth = 1;
		while (depth > 0) {
			TSNode x = ts_tree_cursor_current_node(&c);
			bool def = ts_node_is_named(x) && def_name(st, x, name);
			if (def) {
				if (cnt == alloc) {
					size_t na = alloc ? alloc * 2 : 16;
					item *p = realloc(v, na * sizeof(*p));
					if (!p) {
						free(v);
						ts_tree_cursor_delete(&c);
						return -ENOMEM;
					}
					v = p;
					alloc = na;
				}
				item *it = &v[cnt++];
				memset(it, 0, sizeof *it);
				it->def = true;
				it->node = x;
				it->a = st->base + ts_node_start_byte(x);
				it->z = st->base + ts_node_end_byte(x);
				memcpy(it->name, name, sizeof name);
			} else if (ts_tree_cursor_goto_first_child(&c)) {
				depth++;
				continue;
			}
			while (depth > 0 && !ts_tree_cursor_goto_next_sibling(&c)) {
				ts_tree_cursor_goto_parent(&c);
				depth--;
			}
		}
	}
	ts_tree_cursor_delete(&c);
	*ret = v;
	*ret_n = cnt;
	return 0;
}

static int span_tokens(const struct st *st, size_t a, size_t z)
{
	int64_t t = 0;
	for (size_t p = a; p < z; p = line_end(st->s, p, z))
		t += hp_count_tokens(st->s + p, line_end(st->s, p, z) - p);
	return t > INT32_MAX ? INT32_MAX : (int)t;
}

static int flush_group(struct st *st)
{
	if (!st->open)
		return 0;
	st->open = false;
	if (st->gdefs == 1)
		return emit(st, st->ga, st->gz, st->gname);
	return emit(st, st->ga, st->gz, st->path);
}

static int region(struct st *st, TSNode n, size_t ra, size_t rz, int depth);

/* One item of a region: into the open group, alone, or cut further. */
static int place(struct st *st, item *it, bool tail)
{
	char full[HEADING_MAX + 1];
	if (it->def)
		join_path(full, st->path, st->path_len, it->name);
	bool small = !it->def || it->tokens < st->min;
	bool fits = st->open && (int64_t)st->gtoks + it->tokens <= st->cap;
	/* the closing lines of a container ("}") go with what precedes them */
	if (tail && !it->def && it->tokens < st->min && fits) {
		st->gz = it->z;
		st->gtoks += it->tokens;
		return 0;
	}
	if (tail && !it->def && it->tokens < st->min && st->n > 0 && !st->open) {
		hp_chunk *last = &st->v[st->n - 1];
		if (last->end <= it->a && blank_span(st->s, last->end, it->a) &&
		    last->tokens + it->tokens <= st->max) {
			char *h = strdup(last->heading);
			if (!h)
				return -ENOMEM;
			size_t a = last->start;
			st->n--;
			free(last->heading);
			free(last->content);
			int r = emit(st, a, it->z, h);
			free(h);
			return r;
		}
	}
	/* plain code and definitions below min_tokens group together; a
	 * larger definition stays alone, so its heading is exact */
	if (fits && small && st->gsmall) {
		st->gsmall &= small;
		st->gz = it->z;
		st->gtoks += it->tokens;
		if (it->def && ++st->gdefs == 1)
			memcpy(st->gname, full, sizeof full);
		return 0;
	}
	int r = flush_group(st);
	if (r < 0)
		return r;
	if (it->tokens <= st->cap) {
		st->open = true;
		st->ga = it->a;
		st->gz = it->z;
		st->gtoks = it->tokens;
		st->gdefs = it->def;
		st->gsmall = small;
		if (it->def)
			memcpy(st->gname, full, sizeof full);
		return 0;
	}
	if (!it->def)
		return line_windows(st, it->a, it->z, st->path);
	return 1; /* the caller makes it a region */
}

static int region(struct st *st, TSNode n, size_t ra, size_t rz, int depth)
{
	if (type_is(n, "decorated_definition")) { /* look inside the decorated one */
		TSNode d = ts_node_child_by_field_name(n, "definition", 10);
		if (!ts_node_is_null(d))
			n = d;
	}
	item *defs = NULL;
	size_t nd = 0;
	int r = depth < MAX_DEPTH ? find_defs(st, n, &defs, &nd) : 0;
	if (r < 0)
		return r;
	if (nd == 0) {
		r = flush_group(st);
		if (r == 0)
			r = line_windows(st, ra, rz, st->path);
		return r;
	}
	const char *s = st->s;
	size_t prev = ra;
	for (size_t i = 0; i <= nd && r >= 0; i++) {
		item *d = i < nd ? &defs[i] : NULL;
		size_t ua = rz, uz = rz;
		if (d) {
			/* whole lines, and the comment lines right above */
			ua = d->a;
			while (ua > prev && s[ua - 1] != '\n')
				ua--;
			while (ua > prev) {
				size_t ls = ua - 1;
				while (ls > prev && s[ls - 1] != '\n')
					ls--;
				if (!comment_line(st, ls, ua - 1) || blank_span(s, ls, ua))
					break;
				ua = ls;
			}
			if (ua < prev)
				ua = prev;
			uz = line_end(s, d->z > 0 ? d->z - 1 : d->z, rz);
			if (uz < d->z)
				uz = d->z;
			if (uz > rz)
				uz = rz;
			if (uz <= prev) /* shares a line with the previous one */
				continue;
		}
		if (ua > prev && !blank_span(s, prev, ua)) {
			item g = { .a = prev, .z = ua, .def = false };
			g.tokens = span_tokens(st, g.a, g.z);
			r = place(st, &g, !d && depth > 0);
			if (r < 0)
				break;
		}
		if (!d)
			break;
		d->a = ua;
		d->z = uz;
		d->tokens = span_tokens(st, ua, uz);
		prev = uz;
		r = place(st, d, false);
		if (r == 1) {
			size_t saved = st->path_len;
			char full[HEADING_MAX + 1];
			join_path(full, st->path, st->path_len, d->name);
			memcpy(st->path, full, sizeof full);
			st->path_len = strlen(full);
			r = region(st, d->node, ua, uz, depth + 1);
			if (r >= 0)
				r = flush_group(st);
			st->path_len = saved;
			st->path[saved] = '\0';
		}
	}
	free(defs);
	if (r >= 0)
		r = 0;
	return r;
}

/* ---- entry ---------------------------------------------------------------- */

int hp_code_chunk(const char *name, const char *md, size_t len, const hp_chunk_opts *opts,
                  hp_chunk **ret_chunks, size_t *ret_n)
{
	*ret_chunks = NULL;
	*ret_n = 0;
	if (!opts || opts->max_tokens < 1 || opts->overlap < 0 || opts->min_tokens < 0)
		return -EINVAL;
	/* One fenced block: "```lang\n" ... "```\n" (the code converter's form). */
	size_t flen = 0;
	while (flen < len && md[flen] == '`')
		flen++;
	size_t first = flen >= 3 ? line_end(md, 0, len) : 0;
	size_t zend = len;
	while (zend > 0 && md[zend - 1] == '\n')
		zend--;
	size_t cl = 0;
	while (cl < zend && md[zend - 1 - cl] == '`')
		cl++;
	size_t cstart = zend - cl;
	if (flen < 3 || first == 0 || md[first - 1] != '\n' || cl != flen || cstart < first ||
	    (cstart > first && md[cstart - 1] != '\n') || memchr(md + first, '\0', cstart - first))
		return hp_chunk_markdown_opts(md, len, opts, ret_chunks, ret_n);

	struct st *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	st->s = md;
	st->base = first;
	st->code_end = cstart;
	st->fence = md;
	st->fence_len = first - 1;
	st->close_len = flen;
	st->max = opts->max_tokens;
	st->overlap = opts->overlap < opts->max_tokens / 2 ? opts->overlap : opts->max_tokens / 2;
	st->min = opts->min_tokens;
	int fence_toks = hp_count_tokens(md, first) + hp_count_tokens(md + cstart, len - cstart) + 1;
	st->cap = st->max - fence_toks > 0 ? st->max - fence_toks : 1;
	const char *b = base_name(name);
	snprintf(st->path, sizeof st->path, "%s", b && *b ? b : "code");
	st->path_len = strlen(st->path);

	const char *code = md + first;
	size_t clen = cstart - first;
	int id = lang_of(name, code, clen);
	int r = 0;
	TSTree *tree = NULL;
	if (id >= 0 && clen > max_parse_bytes) {
		hp_warn("code: %s: %zu bytes is over the parser's limit of %zu: chunked by lines", st->path,
		        clen, max_parse_bytes);
	} else if (id >= 0) {
		TSParser *p = parser_for(id);
		if (!p)
			hp_warn("code: %s: no parser for %s: chunked by lines", st->path, langs[id].name);
		else if (!(tree = ts_parser_parse_string(p, NULL, code, (uint32_t)clen))) {
			ts_parser_reset(p);
			hp_warn("code: %s: parsing took longer than %llu ms: chunked by lines", st->path,
			        (unsigned long long)(parse_timeout_us / 1000));
		}
	}
	if (tree) {
		st->lang = &langs[id];
		r = region(st, ts_tree_root_node(tree), first, cstart, 0);
		if (r >= 0)
			r = flush_group(st);
		ts_tree_delete(tree);
	} else {
		r = line_windows(st, first, cstart, st->path);
	}
	if (r < 0) {
		hp_chunks_free(st->v, st->n);
		free(st);
		return r;
	}
	*ret_chunks = st->v;
	*ret_n = st->n;
	if (!st->n) {
		free(st->v);
		*ret_chunks = NULL;
	}
	free(st);
	return 0;
}
