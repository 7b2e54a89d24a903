/* bench_chunk.c — the chunker's speed and its share of a conversion.
 *
 *   bench_chunk ROUNDS FILE...   convert each file once, then time ROUNDS
 *                                conversions and ROUNDS chunkings of the
 *                                result (512 tokens, the defaults); print
 *                                MiB/s of Markdown chunked and the chunker's
 *                                share of convert + chunk, per file and
 *                                for all files together
 *   bench_chunk --count FILE...  print "tokens<TAB>file" (hp_count_tokens),
 *                                for tests/bench/tokens.sh
 * For code files (HP_FMT_CODE) the symbol-aware code chunker
 * (hp_code_chunk, tree-sitter) is timed too, on the same Markdown, and
 * its share is printed next to the Markdown chunker's.
 * The share is of the worker's CPU work; the whole job (read, hash,
 * database) costs more, so the share of a job's time is lower still.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hopper/chunk.h"
#include "hopper/codechunk.h"
#include "hopper/common.h"
#include "hopper/convert.h"

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char *p = malloc((size_t)st.st_size + 1);
	ssize_t n = p ? read(fd, p, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(p);
		return NULL;
	}
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "--count")) {
		for (int i = 2; i < argc; i++) {
			size_t len;
			char *d = slurp(argv[i], &len);
			if (!d)
				return 1;
			printf("%d\t%s\n", hp_count_tokens(d, len), argv[i]);
			free(d);
		}
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: bench_chunk ROUNDS FILE... | --count FILE...\n");
		return 2;
	}
	int rounds = atoi(argv[1]);
	if (rounds < 1 || hp_convert_init() < 0)
		return 2;
	hp_convert_limits lim = { .max_output = 64u << 20, .max_depth = 256 };
	hp_chunk_opts opts = { HP_CHUNK_DEFAULT_TOKENS, HP_CHUNK_DEFAULT_OVERLAP, HP_CHUNK_DEFAULT_MIN };
	double all_conv = 0, all_chunk = 0, all_md = 0;
	double code_conv = 0, code_md = 0, code_plain = 0, code_sym = 0;
	for (int i = 2; i < argc; i++) {
		size_t len;
		char *data = slurp(argv[i], &len);
		if (!data) {
			fprintf(stderr, "%s: cannot read\n", argv[i]);
			return 1;
		}
		const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
		char err[256];
		hp_doc *doc = NULL;
		double t0 = now();
		for (int k = 0; k < rounds; k++) {
			hp_doc_free(doc);
			doc = NULL;
			if (hp_convert(base, data, len, &lim, &doc, err, sizeof err) < 0)
				break;
		}
		double t1 = now();
		if (!doc) {
			printf("  %-40s not converted: %s\n", base, err);
			free(data);
			continue;
		}
		size_t n = 0;
		for (int k = 0; k < rounds; k++) {
			hp_chunk *c;
			if (hp_chunk_markdown_opts(doc->markdown, doc->markdown_len, &opts, &c, &n) < 0)
				return 1;
			hp_chunks_free(c, n);
		}
		double t2 = now();
		double conv = (t1 - t0) / rounds, ch = (t2 - t1) / rounds;
		double mib = (double)doc->markdown_len / (1 << 20);
		printf("  %-40s %8zu B Markdown %5zu chunks  chunker %7.1f MiB/s  %4.1f%% of convert+chunk\n",
		       base, doc->markdown_len, n, ch > 0 ? mib / ch : 0, 100 * ch / (conv + ch));
		all_conv += conv;
		all_chunk += ch;
		all_md += mib;
		if (doc->format == HP_FMT_CODE) {
			size_t cn = 0;
			double t3 = now();
			for (int k = 0; k < rounds; k++) {
				hp_chunk *c;
				if (hp_code_chunk(base, doc->markdown, doc->markdown_len, &opts, &c, &cn) < 0)
					return 1;
				hp_chunks_free(c, cn);
			}
			double cc = (now() - t3) / rounds;
			printf("  %-40s %8s   code %5zu chunks  code chunker %4.1f MiB/s  %4.1f%% of convert+chunk "
			       "(%s; %.1fx the Markdown chunker's time)\n",
			       "", "", cn, cc > 0 ? mib / cc : 0, 100 * cc / (conv + cc),
			       hp_code_language(base, doc->markdown, 0) ? hp_code_language(base, "", 0) : "lines",
			       ch > 0 ? cc / ch : 0);
			code_conv += conv;
			code_md += mib;
			code_plain += ch;
			code_sym += cc;
		}
		hp_doc_free(doc);
		free(data);
	}
	if (all_chunk > 0)
		printf("  all files: chunker %.1f MiB/s, %.1f%% of convert+chunk (target: under 10%%)\n",
		       all_md / all_chunk, 100 * all_chunk / (all_conv + all_chunk));
	if (code_sym > 0 && code_plain > 0)
		printf("  code files: code chunker %.1f MiB/s (%.1f%% of convert+chunk), Markdown chunker "
		       "%.1f MiB/s (%.1f%%) on the same files\n",
		       code_md / code_sym, 100 * code_sym / (code_conv + code_sym), code_md / code_plain,
		       100 * code_plain / (code_conv + code_plain));
	return 0;
}
