/* image.c — pictures of text (PNG, JPEG, TIFF, WebP, GIF, BMP): OCR.
 *
 * The whole image is one page, read by lib/ocr.c. The Markdown says that
 * the text came from OCR and how sure Tesseract was; documents.meta has
 * {"ocr": {"pages": [1], "mean_confidence": N, "language": "eng"}}. A
 * picture with no text in it is a document with no text, not a failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hopper/common.h"
#include "hopper/ocr.h"
#include "convert-int.h"

static int image_convert(const char *name, const char *data, size_t len, const hp_convert_limits *lim,
                         hp_doc *doc, char *err, size_t errlen)
{
	hp_ocr_result o = { 0 };
	/* the image is the document: the document's OCR time is its budget */
	uint64_t budget = lim->ocr_time_ms ? lim->ocr_time_ms : HP_OCR_DEFAULT_TIME_MS;
	int r = hp_ocr_encoded(data, len, lim->ocr_languages, budget, &o, err, errlen);
	if (r < 0)
		return r;
	hp_buf md, meta;
	hp_buf_init(&md, lim->max_output);
	hp_buf_init(&meta, 0);
	r = hp_buf_addf(&md, "<!-- page 1: text by OCR (%s), mean confidence %d%% -->\n\n", o.lang, o.confidence);
	if (r == 0 && o.text[0])
		r = hp_buf_addf(&md, "%s\n", o.text);
	if (r == 0 && o.timed_out)
		r = hp_buf_addf(&md, "\n<!-- OCR stopped after %llu s (ocr_time_budget): the rest of the image was not read -->\n",
		                (unsigned long long)(budget / 1000));
	if (r == -EFBIG) {
		r = hp_conv_efbig(lim->max_output, err, errlen);
		goto out;
	}
	if (r == 0)
		r = hp_buf_addf(&meta, "{\"ocr\": {\"pages\": [1], \"mean_confidence\": %d, \"language\": ", o.confidence);
	if (r == 0)
		r = hp_json_str(&meta, o.lang);
	if (r == 0)
		r = hp_buf_addf(&meta, "%s}}", o.timed_out ? ", \"timed_out\": true" : "");
	if (r == 0)
		r = hp_title_from_line(o.text, strlen(o.text), HP_TITLE_MAX, &doc->title);
	if (r < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	doc->pages = 1;
	doc->markdown_len = md.len;
	doc->markdown = hp_buf_steal(&md);
	doc->meta_json = hp_buf_steal(&meta);
	if (!doc->markdown || !doc->meta_json) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
	}
out:
	hp_buf_free(&md);
	hp_buf_free(&meta);
	free(o.text);
	return r;
}

const hp_converter hp_conv_image = { HP_FMT_IMAGE, image_convert };
