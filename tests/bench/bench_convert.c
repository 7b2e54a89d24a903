/* bench_convert.c — the converters and the chunker on real documents.
 *
 * Converts and chunks each file ROUNDS times in this process (no worker, no
 * sandbox: the cost of the code itself) and prints MiB/s per file. Under
 * `valgrind --tool=callgrind` with ROUNDS=1 the instruction total is the
 * repeatable per-file cost (make bench prints it).
 *   bench_convert ROUNDS FILE...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hopper/chunk.h"
#include "hopper/common.h"
#include "hopper/convert.h"

static char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	char *p = malloc((size_t)st.st_size + 1);
	ssize_t n = p ? read(fd, p, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(p);
		return NULL;
	}
	*len = (size_t)n;
	return p;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_convert ROUNDS FILE...\n");
		return 2;
	}
	int rounds = atoi(argv[1]);
	if (rounds < 1 || hp_convert_init() < 0)
		return 2;
	hp_convert_limits lim = { .max_output = 64u << 20, .max_depth = 256 };
	for (int i = 2; i < argc; i++) {
		size_t len;
		char *data = slurp(argv[i], &len);
		if (!data) {
			fprintf(stderr, "%s: cannot read\n", argv[i]);
			return 1;
		}
		const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		size_t md = 0, nch = 0;
		for (int k = 0; k < rounds; k++) {
			hp_doc *doc = NULL;
			char err[256];
			hp_chunk *ch = NULL;
			if (hp_convert(base, data, len, &lim, &doc, err, sizeof err) < 0) {
				fprintf(stderr, "%s: %s\n", argv[i], err);
				return 1;
			}
			if (hp_chunk_markdown(doc->markdown, doc->markdown_len, 512, &ch, &nch) < 0)
				return 1;
			md = doc->markdown_len;
			hp_chunks_free(ch, nch);
			hp_doc_free(doc);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("  %-28s %8zu B -> %7zu B Markdown, %3zu chunks: %7.1f MiB/s\n", base, len, md, nch,
		       (double)len * rounds / s / 1048576.0);
		free(data);
	}
	return 0;
}
