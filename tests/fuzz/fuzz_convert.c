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
#include <errno.h>

#include <leptonica/allheaders.h>

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

/* libFuzzer only sees coverage in instrumented code, and Leptonica and
 * Tesseract are not instrumented: every image that decodes would look like
 * every other, and the corpus would keep a handful of the seeds. A branch
 * of its own per image kind (format, bits, channels, colour map) and per
 * outcome (error, text read, confidence) makes each a feature libFuzzer
 * keeps. Each arm is a distinct empty asm statement, so the compiler can
 * neither merge the arms nor turn them into a table. */
#define ARM(tag) __asm__ volatile("# fuzz feature " #tag)
static __attribute__((noinline)) void image_features(const uint8_t *data, size_t size, int r, const hp_doc *doc)
{
	l_int32 fmt = -1, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
	if (pixReadHeaderMem(data, size, &fmt, &w, &h, &bps, &spp, &cmap) != 0)
		fmt = -1;
	switch (fmt) {
	case IFF_BMP: ARM(bmp); break;
	case IFF_JFIF_JPEG: ARM(jpeg); break;
	case IFF_PNG: ARM(png); break;
	case IFF_TIFF: ARM(tiff); break;
	case IFF_TIFF_PACKBITS: ARM(tiff_packbits); break;
	case IFF_TIFF_RLE: ARM(tiff_rle); break;
	case IFF_TIFF_G3: ARM(tiff_g3); break;
	case IFF_TIFF_G4: ARM(tiff_g4); break;
	case IFF_TIFF_LZW: ARM(tiff_lzw); break;
	case IFF_TIFF_ZIP: ARM(tiff_zip); break;
	case IFF_TIFF_JPEG: ARM(tiff_jpeg); break;
	case IFF_PNM: ARM(pnm); break;
	case IFF_GIF: ARM(gif); break;
	case IFF_JP2: ARM(jp2); break;
	case IFF_WEBP: ARM(webp); break;
	case IFF_SPIX: ARM(spix); break;
	case -1: ARM(no_header); break;
	default: ARM(other_format); break;
	}
	switch (bps) {
	case 1: ARM(bps1); break;
	case 2: ARM(bps2); break;
	case 4: ARM(bps4); break;
	case 8: ARM(bps8); break;
	case 16: ARM(bps16); break;
	default: ARM(bps_other); break;
	}
	switch (spp) {
	case 1: ARM(spp1); break;
	case 3: ARM(spp3); break;
	case 4: ARM(spp4); break;
	default: ARM(spp_other); break;
	}
	if (cmap)
		ARM(cmap);
	switch (r) {
	case 0: ARM(ok); break;
	case -EINVAL: ARM(einval); break;
	case -EFBIG: ARM(efbig); break;
	case -ENOTSUP: ARM(enotsup); break;
	default: ARM(other_error); break;
	}
	if (r == 0 && doc->title)
		ARM(text_read);
	if (r == 0 && doc->markdown && strstr(doc->markdown, "confidence 0%"))
		ARM(confidence0);
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
	if (HP_FUZZ_CONV.format == HP_FMT_IMAGE)
		image_features(data, size, r, doc);
	if (getenv("HP_FUZZ_SHOW")) /* what an input reached: HP_FUZZ_SHOW=1 fuzz_X FILE... */
		fprintf(stderr, "%s: %d %s\n%.300s\n", HP_FUZZ_NAME, r, r < 0 ? err : "",
		        r == 0 && doc->markdown ? doc->markdown : "");
	if (r < 0) /* a failed job says why */
		assert(memchr(err, 0, sizeof err) && err[0]);
	hp_doc_free(doc); /* everything a converter may leave, warnings included */
	return 0;
}
