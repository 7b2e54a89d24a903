/* fuzz_convert.c — one converter's entry point, called directly.
 *
 * Built once per converter with -DHP_FUZZ_CONV=hp_conv_NAME (see
 * FUZZ_CONVERTERS in the Makefile): the bytes go straight to that
 * converter, whatever format detection would say, with the name
 * "fuzz.NAME" and a small output limit. The result must be NUL-terminated
 * with markdown_len matching, and no longer than the limit by much.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hopper/convert.h"
#include "hopper/ocr.h"

#ifndef HP_FUZZ_CONV
#error "build with -DHP_FUZZ_CONV=hp_conv_NAME"
#endif
#ifndef HP_FUZZ_NAME
#define HP_FUZZ_NAME "fuzz.bin"
#endif
extern const hp_converter HP_FUZZ_CONV;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	/* The image converter is OCR: Tesseract only runs with
	 * OMP_THREAD_LIMIT=1 from the start (hp_ocr_preload), so this target
	 * executes itself again with it, as hopper convert does. Without it,
	 * every image that decodes would stop at "OCR is not available".
	 * The PDF target does not do this: a page with no text layer ends
	 * there, so OCR of scans is covered by the image target only (a page
	 * rendered at 300 dpi and read by Tesseract costs about a second). */
	if (HP_FUZZ_CONV.format == HP_FMT_IMAGE && argv && *argv)
		hp_ocr_single_thread(*argv);
	if (hp_convert_init() < 0)
		return 1;
	if (HP_FUZZ_CONV.format == HP_FMT_IMAGE && hp_ocr_preload() < 0)
		fprintf(stderr, "fuzz_convert_image: OCR is not available here, so only image decoding is exercised\n");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hp_convert_limits lim = { .max_output = 1u << 20, .max_depth = 64 };
	hp_doc *doc = calloc(1, sizeof *doc);
	if (!doc)
		return 0;
	doc->format = HP_FUZZ_CONV.format;
	char err[512] = "";
	int r = HP_FUZZ_CONV.convert(HP_FUZZ_NAME, (const char *)data, size, &lim, doc, err, sizeof err);
	if (r == 0 && doc->markdown)
		assert(strlen(doc->markdown) == doc->markdown_len);
	if (getenv("HP_FUZZ_SHOW")) /* what an input reached: HP_FUZZ_SHOW=1 fuzz_X FILE... */
		fprintf(stderr, "%s: %d %s\n%.300s\n", HP_FUZZ_NAME, r, r < 0 ? err : "",
		        r == 0 && doc->markdown ? doc->markdown : "");
	if (r < 0)
		assert(memchr(err, 0, sizeof err));
	hp_doc_free(doc); /* everything a converter may leave, warnings included */
	return 0;
}
