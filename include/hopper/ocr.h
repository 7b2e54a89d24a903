/* ocr.h — text from pictures of text, with Tesseract (libtesseract).
 *
 * What it does: reads an 8-bit grey image (a page rendered by a converter)
 * or an encoded image file (PNG, JPEG, TIFF, WebP, GIF, BMP through
 * Leptonica) and returns its text, paragraph by paragraph, with Tesseract's
 * mean word confidence (0..100).
 * Sandbox: workers open no files once their seccomp filter is on, so
 * hp_ocr_preload() maps each installed language's .traineddata (read-only,
 * shared through the page cache) before that; engines are made from those bytes when the first
 * image needs them (one engine per language, kept for the process). With
 * several languages, a page is read once per language and the reading with
 * the higher confidence is kept.
 * Threads: Tesseract parallelises with OpenMP, and the sandbox allows no
 * new threads; hp_ocr_preload() refuses to enable OCR unless
 * OMP_THREAD_LIMIT=1 was in the environment when the process started (the
 * pool sets it; the pool's processes give the parallelism).
 * Limits: images over HP_OCR_MAX_PIXELS are refused before decoding; a
 * page whose OCR would need more memory than the process can still map
 * (RLIMIT_AS: 4 bytes a pixel + 32 MiB, checked by mapping it) is refused
 * with -EFBIG instead of Tesseract aborting the process; a page that takes
 * longer than its budget is cut short (Tesseract's deadline) and reported
 * as such.
 * Process rules: workers and `hopper convert` only.
 */
#ifndef HOPPER_OCR_H
#define HOPPER_OCR_H

#include <stddef.h>
#include <stdint.h>

#include "hopper/common.h"

#define HP_OCR_MAX_PIXELS (64u * 1000 * 1000) /* ~ an A3 page at 600 dpi */
#define HP_OCR_DEFAULT_LANGS "eng"
/* Defaults of [workers] ocr_max_pages and ocr_time_budget (lib/config.c). */
#define HP_OCR_DEFAULT_MAX_PAGES 500
#define HP_OCR_DEFAULT_TIME_MS 45000

/* Call first thing in main(): when OMP_THREAD_LIMIT is not 1, set it and
 * execute this program again (/proc/self/exe, same argv), so that libgomp,
 * which reads the variable when the program is loaded, never starts
 * threads in a sandboxed converter. Returns only when nothing was needed or
 * the exec failed (then OCR reports itself unavailable). */
void hp_ocr_single_thread(char **argv);

/* Map the language data (every *.traineddata in $TESSDATA_PREFIX, else
 * Debian's /usr/share/tesseract-ocr/5/tessdata, except osd) into memory.
 * Call before the sandbox closes. 0 when OCR can run; -ENOENT when no
 * language is installed, -EPERM when OMP_THREAD_LIMIT is not 1 (both
 * logged once at debug level: OCR then answers "OCR is not available"). */
int hp_ocr_preload(void);

typedef struct hp_ocr_result {
	char *text;         /* malloc'd UTF-8, paragraphs separated by blank lines */
	int confidence;     /* mean word confidence 0..100 */
	const char *lang;   /* the language whose reading was kept (static) */
	int timed_out;      /* 1: the budget ran out; text is what was read so far */
} hp_ocr_result;

typedef struct hp_ocr_image {
	const uint8_t *gray;   /* 8-bit grey, row by row */
	int width, height, stride;
	int dpi;               /* resolution the page was rendered at */
} hp_ocr_image;

/* langs: Tesseract names separated by spaces or '+' ("eng deu"); NULL =
 * HP_OCR_DEFAULT_LANGS. budget_ms: time for this page (0 = no limit).
 * Returns 0 and *ret (free ret->text), or -ENOTSUP (OCR not available or
 * a language not installed: err says which), -EFBIG (too many pixels, or
 * not memory enough left for reading them),
 * -EINVAL (an image that does not decode), -ENOMEM. */
int hp_ocr_gray(const hp_ocr_image *img, const char *langs, uint64_t budget_ms, hp_ocr_result *ret,
                char *err, size_t errlen);
/* The same for an encoded image file in memory. */
int hp_ocr_encoded(const void *data, size_t len, const char *langs, uint64_t budget_ms,
                   hp_ocr_result *ret, char *err, size_t errlen);

#endif
