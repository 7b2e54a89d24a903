/* standalone.c — runs a fuzz target over files, without libFuzzer.
 *
 *   fuzz_NAME FILE|DIR...
 * Each file (each regular file in a DIR) is read whole and passed once to
 * LLVMFuzzerTestOneInput; the sanitizers of the build (if any) report what
 * goes wrong, and a crash ends the process. Exit 0 when every input ran,
 * 77 when none was given or found, 1 when a file could not be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	for (;;) {
		if (!buf)
			break;
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t k = fread(buf + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
	}
	fclose(f);
	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", path);
		return -1;
	}
	/* An exact-size copy, so reading past the end is caught. */
	uint8_t *exact = malloc(n ? n : 1);
	if (exact)
		memcpy(exact, buf, n);
	free(buf);
	if (!exact)
		return -1;
	printf("%s (%zu bytes)\n", path, n);
	fflush(stdout);
	LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 1;
}

int main(int argc, char **argv)
{
	int ran = 0;
	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0)
			continue; /* a target with no regression directory yet */
		if (!S_ISDIR(st.st_mode)) {
			int r = run_file(argv[i]);
			if (r < 0)
				return 1;
			ran += r;
			continue;
		}
		struct dirent **ents;
		int n = scandir(argv[i], &ents, NULL, alphasort);
		for (int k = 0; k < n; k++) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", argv[i], ents[k]->d_name);
			if (ents[k]->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				int r = run_file(path);
				if (r < 0)
					return 1;
				ran += r;
			}
			free(ents[k]);
		}
		free(ents);
	}
	if (!ran) {
		printf("no inputs\n");
		return 77;
	}
	printf("%d input(s) ran\n", ran);
	return 0;
}
