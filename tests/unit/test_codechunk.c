/* test_codechunk.c — code chunks at symbol boundaries: heading paths per
 * language (classes, methods, nested functions, impl blocks, receivers,
 * shebangs), a function over the limit cut in balanced fenced pieces with
 * overlap, a file with a syntax error, empty files, unknown languages and
 * the parser limits falling back to line windows. Every case also checks
 * the invariants: content is the Markdown's own fence around md[start,
 * end), tokens <= max, and every non-blank code line is in some chunk. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hopper/chunk.h"
#include "hopper/codechunk.h"
#include "hopper/common.h"
#include "hopper/convert.h"

static hp_chunk *chunks;
static size_t nchunks;
static hp_doc *doc;

static void check_invariants(int max)
{
	const char *md = doc->markdown;
	size_t fl = strcspn(md, "\n");
	for (size_t i = 0; i < nchunks; i++) {
		const hp_chunk *c = &chunks[i];
		assert_true(c->end > c->start && c->end <= doc->markdown_len);
		assert_true(c->start > fl);
		assert_int_equal(c->tokens, hp_count_tokens(c->content, strlen(c->content)));
		assert_true(c->tokens <= max);
		assert_int_equal(strncmp(c->content, md, fl + 1), 0);
		assert_int_equal(memcmp(c->content + fl + 1, md + c->start, c->end - c->start), 0);
		size_t cl = strlen(c->content);
		assert_true(cl > 4 && strcmp(c->content + cl - 4, "```\n") == 0);
		assert_true(c->heading != NULL);
	}
	/* every non-blank line of the code is covered */
	size_t a = fl + 1, z = doc->markdown_len - 4;
	for (size_t p = a; p < z;) {
		const char *nl = memchr(md + p, '\n', z - p);
		size_t e = nl ? (size_t)(nl - md) + 1 : z;
		bool blank = true;
		for (size_t k = p; k < e; k++)
			if (md[k] != ' ' && md[k] != '\t' && md[k] != '\n')
				blank = false;
		if (!blank) {
			bool in = false;
			bool in_end = false;
			for (size_t i = 0; i < nchunks; i++) {
				in |= chunks[i].start <= p && p < chunks[i].end;
				in_end |= chunks[i].start <= e - 2 && e - 2 < chunks[i].end;
			}
			in &= in_end;
			if (!in)
				fail_msg("line at %zu not in any chunk: %.*s", p, (int)(e - p), md + p);
		}
		p = e;
	}
}

static void code_opts(const char *name, const char *src, int max, int min, int overlap)
{
	hp_chunks_free(chunks, nchunks);
	chunks = NULL;
	nchunks = 0;
	hp_doc_free(doc);
	doc = NULL;
	hp_convert_limits lim = { .max_output = 64 << 20, .max_depth = 8 };
	char err[256];
	assert_int_equal(hp_convert(name, src, strlen(src), &lim, &doc, err, sizeof err), 0);
	assert_int_equal(doc->format, HP_FMT_CODE);
	hp_chunk_opts o = { .max_tokens = max, .overlap = overlap, .min_tokens = min };
	assert_int_equal(hp_code_chunk(name, doc->markdown, doc->markdown_len, &o, &chunks, &nchunks), 0);
	check_invariants(max);
}

/* Index of the first chunk with this heading, or -1. */
static int find(const char *heading)
{
	for (size_t i = 0; i < nchunks; i++)
		if (strcmp(chunks[i].heading, heading) == 0)
			return (int)i;
	return -1;
}

static void expect(const char *heading, const char *needle)
{
	int i = find(heading);
	for (size_t k = 0; i >= 0 && needle && k < nchunks; k++)
		if (strcmp(chunks[k].heading, heading) == 0 && strstr(chunks[k].content, needle))
			i = (int)k;
	if (i < 0) {
		for (size_t k = 0; k < nchunks; k++)
			print_message("  chunk %zu: [%s]\n", k, chunks[k].heading);
		fail_msg("no chunk headed \"%s\"", heading);
	}
	if (needle && !strstr(chunks[i].content, needle))
		fail_msg("chunk \"%s\" lacks \"%s\": %s", heading, needle, chunks[i].content);
}

static int teardown(void **state)
{
	hp_chunks_free(chunks, nchunks);
	chunks = NULL;
	nchunks = 0;
	hp_doc_free(doc);
	doc = NULL;
	hp_code_set_limits(0, 0);
	return 0;
}

static const char py_src[] =
	"\"\"\"A shop.\"\"\"\n"
	"import os\n"
	"import sys\n"
	"\n"
	"TAX = 0.2\n"
	"\n"
	"\n"
	"class Cart:\n"
	"    \"\"\"A cart of items, with a docstring long enough to matter here.\"\"\"\n"
	"\n"
	"    def __init__(self):\n"
	"        self.items = []\n"
	"        self.owner = os.environ.get('USER', 'nobody')\n"
	"\n"
	"    def add(self, item, price):\n"
	"        # remember the item and its price for the total below\n"
	"        self.items.append((item, price))\n"
	"        return len(self.items)\n"
	"\n"
	"    @property\n"
	"    def total(self):\n"
	"        return sum(p for _, p in self.items) * (1 + TAX)\n"
	"\n"
	"\n"
	"def main(argv):\n"
	"    def helper(x):\n"
	"        return x * 2 + len(argv) - 1 if x > 0 else -x\n"
	"    cart = Cart()\n"
	"    cart.add('apple', helper(1))\n"
	"    cart.add('pear', helper(2))\n"
	"    print(cart.total, file=sys.stdout)\n"
	"\n"
	"\n"
	"if __name__ == '__main__':\n"
	"    main(sys.argv)\n";

static void test_python(void **state)
{
	/* everything fits: one chunk per top-level definition */
	code_opts("src/shop.py", py_src, 512, 32, 0);
	expect("shop.py > Cart", "def total");
	expect("shop.py > main", "def helper");
	expect("shop.py", "import os");
	assert_int_equal(find("shop.py > Cart > add"), -1);
	/* a small limit: the class and the function are cut at their members */
	code_opts("src/shop.py", py_src, 40, 8, 0);
	expect("shop.py > Cart", "class Cart:");
	expect("shop.py > Cart > __init__", "self.items = []");
	expect("shop.py > Cart > add", "# remember"); /* comment lines go with it */
	expect("shop.py > Cart > total", "@property"); /* the decorator too */
	expect("shop.py > main > helper", "return x * 2");
	expect("shop.py > main", "cart = Cart()");
	expect("shop.py", "if __name__");
	int i = find("shop.py > Cart > add");
	assert_null(strstr(chunks[i].content, "def total"));
}

static void test_languages(void **state)
{
	code_opts("x/list.c",
	          "#include <stdlib.h>\n\n"
	          "struct node {\n\tint value;\n\tstruct node *next;\n};\n\n"
	          "/* Push v on the list. */\n"
	          "static struct node *push(struct node *head, int v)\n{\n"
	          "\tstruct node *n = malloc(sizeof *n);\n\tn->value = v;\n\tn->next = head;\n\treturn n;\n}\n\n"
	          "int main(void)\n{\n\tstruct node *l = push(NULL, 1);\n\treturn l->value - 1;\n}\n",
	          512, 4, 0);
	expect("list.c > node", "int value;");
	expect("list.c > push", "/* Push v");
	expect("list.c > main", "push(NULL, 1)");

	code_opts("web/app.mjs",
	          "import fs from 'fs';\n\n"
	          "export class Store {\n"
	          "  constructor(path) {\n    this.path = path;\n    this.data = {};\n  }\n\n"
	          "  load() {\n    this.data = JSON.parse(fs.readFileSync(this.path, 'utf8'));\n    return this.data;\n  }\n"
	          "}\n\n"
	          "const double = (x) => {\n  return x * 2 + Number(process.argv.length);\n};\n",
	          40, 4, 0);
	expect("app.mjs > Store > constructor", "this.path = path");
	expect("app.mjs > Store > load", "JSON.parse");
	expect("app.mjs > double", "x * 2");

	code_opts("ui/shape.ts",
	          "export interface Shape {\n  area(): number;\n  name: string;\n}\n\n"
	          "export class Square implements Shape {\n  name = 'square';\n  constructor(private side: number) {}\n"
	          "  area(): number {\n    return this.side * this.side;\n  }\n}\n",
	          512, 4, 0);
	expect("shape.ts > Shape", "area(): number;");
	expect("shape.ts > Square", "this.side * this.side");

	code_opts("ui/view.tsx",
	          "export function Hello(props: { who: string }) {\n  return <div className=\"hi\">Hello {props.who}</div>;\n}\n",
	          512, 4, 0);
	expect("view.tsx > Hello", "<div");

	code_opts("srv/server.go",
	          "package srv\n\nimport \"net/http\"\n\n"
	          "type Server struct {\n\tmux *http.ServeMux\n\tname string\n}\n\n"
	          "// Handle registers h.\n"
	          "func (s *Server) Handle(p string, h http.Handler) {\n\ts.mux.Handle(p, h)\n}\n\n"
	          "func New() *Server {\n\treturn &Server{mux: http.NewServeMux()}\n}\n",
	          512, 4, 0);
	expect("server.go > Server", "mux *http.ServeMux");
	expect("server.go > Server.Handle", "// Handle registers");
	expect("server.go > New", "NewServeMux");

	code_opts("src/lib.rs",
	          "use std::fmt;\n\n"
	          "pub struct Point {\n    x: i32,\n    y: i32,\n}\n\n"
	          "impl Point {\n    pub fn new(x: i32, y: i32) -> Self {\n        Point { x, y }\n    }\n\n"
	          "    pub fn norm(&self) -> i32 {\n        self.x.abs() + self.y.abs() + self.x * self.y\n    }\n}\n\n"
	          "impl fmt::Display for Point {\n    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {\n"
	          "        write!(f, \"({}, {})\", self.x, self.y)\n    }\n}\n",
	          60, 4, 0);
	expect("lib.rs > Point", "x: i32");
	expect("lib.rs > impl Point > new", "Point { x, y }");
	expect("lib.rs > impl Point > norm", "abs()");
	expect("lib.rs > impl fmt::Display for Point", "fn fmt");

	code_opts("Main.java",
	          "package demo;\n\n"
	          "public class Main {\n    private int count;\n\n"
	          "    public Main(int c) {\n        this.count = c;\n    }\n\n"
	          "    @Override\n    public String toString() {\n        return \"Main(\" + count + \") of \" + getClass().getName();\n    }\n}\n",
	          40, 4, 0);
	expect("Main.java > Main > Main", "this.count = c");
	expect("Main.java > Main > toString", "@Override");

	code_opts("bin/deploy.sh",
	          "#!/bin/sh\nset -eu\n\n"
	          "build() {\n  make -j2 all\n  strip build/hopperd\n}\n\n"
	          "deploy() {\n  rsync -a build/ \"$HOST:/srv/app/\"\n}\n\nbuild\ndeploy\n",
	          512, 4, 0);
	expect("deploy.sh > build", "make -j2");
	expect("deploy.sh > deploy", "rsync");

	/* no extension: the #! line picks the grammar */
	code_opts("bin/tool",
	          "#!/usr/bin/env python3\nimport sys\n\n\ndef run(args):\n    return len(args) * 2 + 1\n\n\nrun(sys.argv)\n",
	          512, 4, 0);
	expect("tool > run", "len(args)");
	assert_string_equal(hp_code_language("bin/tool", "#!/usr/bin/env python3\n", 23), "python");
	assert_string_equal(hp_code_language("a/b.h", "", 0), "c");
	assert_null(hp_code_language("a/b.rb", "", 0));
}

static void test_huge_function(void **state)
{
	hp_buf b;
	hp_buf_init(&b, 0);
	assert_int_equal(hp_buf_addf(&b, "import os\n\n\ndef small():\n    return 1\n\n\ndef huge(n):\n"), 0);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(hp_buf_addf(&b, "    value_%d = os.getpid() * %d + n  # step %d\n", i, i, i), 0);
		if (i % 8 == 7)   /* a group of 8 lines: ~160 cl100k tokens, under 200 */
			assert_int_equal(hp_buf_addc(&b, '\n'), 0);
	}
	assert_int_equal(hp_buf_addf(&b, "    return n\n\n\ndef after():\n    return 2\n"), 0);
	assert_int_equal(hp_buf_addc(&b, '\0'), 0);
	code_opts("big.py", b.data, 200, 0, 0);
	size_t pieces = 0;
	int64_t lo = 1 << 30, hi = 0;
	for (size_t i = 0; i < nchunks; i++)
		if (strcmp(chunks[i].heading, "big.py > huge") == 0) {
			pieces++;
			if (i + 1 < nchunks && strcmp(chunks[i + 1].heading, "big.py > huge") == 0) {
				/* cut at blank lines: the next piece starts after one */
				assert_int_equal(doc->markdown[chunks[i + 1].start - 2], '\n');
				if (chunks[i].tokens < lo)
					lo = chunks[i].tokens;
				if (chunks[i].tokens > hi)
					hi = chunks[i].tokens;
			}
		}
	assert_true(pieces >= 5);
	assert_true(lo * 2 > hi); /* balanced */
	expect("big.py > small", "return 1");
	expect("big.py > after", "return 2");
	/* overlap: each later piece repeats the end of the one before */
	code_opts("big.py", b.data, 200, 0, 30);
	size_t first = (size_t)find("big.py > huge");
	assert_true(strcmp(chunks[first + 1].heading, "big.py > huge") == 0);
	assert_true(chunks[first + 1].start < chunks[first].end);
	/* one line over the limit is cut at characters */
	hp_buf_free(&b);
	hp_buf_init(&b, 0);
	assert_int_equal(hp_buf_addf(&b, "var x = ["), 0);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(hp_buf_addf(&b, "%d,\xc3\xa9", i), 0);
	assert_int_equal(hp_buf_addf(&b, "];\n"), 0);
	assert_int_equal(hp_buf_addc(&b, '\0'), 0);
	code_opts("min.js", b.data, 100, 0, 0);
	assert_true(nchunks > 10);
	hp_buf_free(&b);
}

static void test_syntax_error(void **state)
{
	code_opts("err.py",
	          "def good(a, b):\n    total = a + b\n    return total * 2 - a\n\n\n"
	          "def broken(:\n    return ]]]\n\n\n"
	          "class Later:\n    def fine(self):\n        return 'this method parses whatever came before'\n",
	          512, 4, 0);
	expect("err.py > good", "total = a + b");
	assert_true(nchunks >= 2);
	code_opts("err.c", "int f(void) {\n\treturn 1;\n}\n\nint g(void) {{{{{ ;;; \n", 512, 4, 0);
	expect("err.c > f", "return 1;");
}

static void test_empty_and_fallback(void **state)
{
	hp_chunk_opts eo = { .max_tokens = 512, .min_tokens = 32 };
	const char empty[] = "```python\n```\n", blank[] = "````go\n\n\n   \n````\n";
	assert_int_equal(hp_code_chunk("empty.py", empty, sizeof empty - 1, &eo, &chunks, &nchunks), 0);
	assert_int_equal(nchunks, 0);
	assert_int_equal(hp_code_chunk("blank.go", blank, sizeof blank - 1, &eo, &chunks, &nchunks), 0);
	assert_int_equal(nchunks, 0);
	/* unknown language: line windows under the file name */
	hp_buf b;
	hp_buf_init(&b, 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(hp_buf_addf(&b, "def method_%d; puts %d; end\n", i, i), 0);
	assert_int_equal(hp_buf_addc(&b, '\0'), 0);
	code_opts("lib/thing.rb", b.data, 100, 0, 0);
	assert_true(nchunks > 3);
	for (size_t i = 0; i < nchunks; i++)
		assert_string_equal(chunks[i].heading, "thing.rb");
	hp_buf_free(&b);
	/* over the parser's size cap: line windows too, no symbols */
	hp_code_set_limits(64, 0);
	code_opts("src/shop.py", py_src, 40, 8, 0);
	assert_true(nchunks > 3);
	for (size_t i = 0; i < nchunks; i++)
		assert_string_equal(chunks[i].heading, "shop.py");
	/* a parse over the time limit (1 µs for ~400 KB): line windows */
	hp_buf_init(&b, 0);
	for (int i = 0; i < 4000; i++)
		assert_int_equal(hp_buf_addf(&b, "def f_%d(x):\n    return [x * %d for _ in range(3)]\n\n", i, i), 0);
	assert_int_equal(hp_buf_addc(&b, '\0'), 0);
	hp_code_set_limits(0, 1);
	code_opts("slow.py", b.data, 512, 0, 0);
	assert_true(nchunks > 10);
	for (size_t i = 0; i < nchunks; i++)
		assert_string_equal(chunks[i].heading, "slow.py");
	/* the same parser, limits back: symbols again */
	hp_code_set_limits(0, 0);
	code_opts("slow.py", b.data, 512, 0, 0);
	expect("slow.py > f_3999", "return [x * 3999");
	hp_buf_free(&b);
	/* not a single fenced block: the Markdown chunker */
	hp_chunk_opts o = { .max_tokens = 100 };
	hp_chunks_free(chunks, nchunks);
	const char md[] = "# Title\n\nSome text.\n";
	assert_int_equal(hp_code_chunk("a.py", md, sizeof md - 1, &o, &chunks, &nchunks), 0);
	assert_int_equal(nchunks, 1);
	assert_string_equal(chunks[0].heading, "Title");
	o.max_tokens = 0;
	hp_chunks_free(chunks, nchunks);
	assert_int_equal(hp_code_chunk("a.py", md, sizeof md - 1, &o, &chunks, &nchunks), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_python, teardown),
		cmocka_unit_test_teardown(test_languages, teardown),
		cmocka_unit_test_teardown(test_huge_function, teardown),
		cmocka_unit_test_teardown(test_syntax_error, teardown),
		cmocka_unit_test_teardown(test_empty_and_fallback, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
