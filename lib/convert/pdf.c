/* pdf.c — PDF to Markdown with MuPDF's structured text.
 *
 * This file is the MuPDF side: open the bytes, refuse what cannot be read
 * (encrypted, damaged beyond repair, over the page cap), and turn each
 * page's structured text into the page model of pdf-int.h (positioned
 * segments with size and style). The layout decisions (reading order,
 * columns, tables, headings, lists, running headers) are pdf-layout.c's.
 *
 * Pages run through a small device of our own in front of MuPDF's
 * structured-text device: it forwards text, notes images and thin lines
 * (table rulings), and checks the clock at every call, so one page cannot
 * spend more than its time budget (an abort that MuPDF's interpreter
 * honours; the pool's job_timeout remains the last word).
 *
 * Errors: every MuPDF call sits inside fz_try; what MuPDF throws becomes a
 * sentence ("PDF is damaged: ..."), never a crash. A page that cannot be
 * read is skipped with a warning in meta; a document none of whose pages
 * can be read fails.
 *
 * Process rules: one fz_context per process, made by hp_pdf_init() before
 * the sandbox closes (MuPDF's built-in fonts are compiled in; nothing is
 * opened from disk). Its store of decoded objects is emptied after every
 * document, so nothing of one job survives into the next.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mupdf/fitz.h>
#include <mupdf/pdf.h>

#include "hopper/common.h"
#include "hopper/convert.h"
#include "hopper/ocr.h"
#include "convert-int.h"
#include "pdf-int.h"

/* MuPDF keeps decoded fonts, images and objects in a store; the worker's
 * address space is capped (memory_limit), so the store is kept small. */
#define PDF_STORE_MAX ((size_t)32 << 20)

static fz_context *ctx;
static int warnings;

/* MuPDF prints warnings and errors to stderr by default: a damaged file
 * would fill the daemon's log. They are counted instead; what matters
 * reaches the job's error or meta. */
static void on_warning(void *user, const char *msg)
{
	(void)user;
	(void)msg;
	warnings++;
}

static void on_error(void *user, const char *msg)
{
	(void)user;
	(void)msg;
}

int hp_pdf_init(void)
{
	if (ctx)
		return 0;
	ctx = fz_new_context(NULL, NULL, PDF_STORE_MAX);
	if (!ctx)
		return -ENOMEM;
	fz_set_warning_callback(ctx, on_warning, NULL);
	fz_set_error_callback(ctx, on_error, NULL);
	/* Touch the font machinery once (FreeType, a built-in face), so the
	 * first job does not find something missing under the sandbox. */
	int r = 0;
	fz_try(ctx)
	{
		fz_font *f = fz_new_base14_font(ctx, "Helvetica");
		fz_drop_font(ctx, f);
	}
	fz_catch(ctx)
	{
		r = -ENOMEM;
	}
	return r;
}

/* ---- the device: forward text, note images and rulings, watch the clock ---- */

typedef struct tee_dev {
	fz_device super;
	fz_device *text;        /* MuPDF's structured-text device */
	hp_pdf_page *pg;
	fz_cookie *cookie;
	uint64_t deadline_ms;   /* 0: no budget */
	int timed_out;
	int oom;
} tee_dev;

static void tick(fz_context *c, tee_dev *t)
{
	if (t->deadline_ms && hp_now_ms() > t->deadline_ms) {
		t->timed_out = 1;
		t->cookie->abort = 1;
		fz_throw(c, FZ_ERROR_ABORT, "page time budget exceeded");
	}
}

static void tee_fill_text(fz_context *c, fz_device *d, const fz_text *text, fz_matrix ctm,
                          fz_colorspace *cs, const float *color, float alpha, fz_color_params cp)
{
	tee_dev *t = (tee_dev *)d;
	tick(c, t);
	t->text->fill_text(c, t->text, text, ctm, cs, color, alpha, cp);
}

static void tee_stroke_text(fz_context *c, fz_device *d, const fz_text *text, const fz_stroke_state *st,
                            fz_matrix ctm, fz_colorspace *cs, const float *color, float alpha,
                            fz_color_params cp)
{
	tee_dev *t = (tee_dev *)d;
	tick(c, t);
	t->text->stroke_text(c, t->text, text, st, ctm, cs, color, alpha, cp);
}

static void tee_clip_text(fz_context *c, fz_device *d, const fz_text *text, fz_matrix ctm, fz_rect sc)
{
	tee_dev *t = (tee_dev *)d;
	tick(c, t);
	t->text->clip_text(c, t->text, text, ctm, sc);
}

static void tee_clip_stroke_text(fz_context *c, fz_device *d, const fz_text *text,
                                 const fz_stroke_state *st, fz_matrix ctm, fz_rect sc)
{
	tee_dev *t = (tee_dev *)d;
	tick(c, t);
	t->text->clip_stroke_text(c, t->text, text, st, ctm, sc);
}

/* Invisible text (render mode 3): the text layer of scanned-and-OCRed
 * files. It is text a reader can search, so it is kept. */
static void tee_ignore_text(fz_context *c, fz_device *d, const fz_text *text, fz_matrix ctm)
{
	tee_dev *t = (tee_dev *)d;
	tick(c, t);
	t->text->ignore_text(c, t->text, text, ctm);
}

static void note_rule(fz_context *c, tee_dev *t, fz_rect r)
{
	float w = r.x1 - r.x0, h = r.y1 - r.y0;
	if (!((w <= 2.5f && h >= 4) || (h <= 2.5f && w >= 4)))
		return;
	hp_pdf_rule ru = { r.x0, r.y0, r.x1, r.y1 };
	/* rulings are a hint; past a few thousand a page they are drawings */
	if (t->pg->n_rules < 4096 && hp_pdf_page_add_rule(t->pg, &ru) < 0) {
		t->oom = 1;
		fz_throw(c, FZ_ERROR_MEMORY, "out of memory");
	}
}

static void tee_fill_path(fz_context *c, fz_device *d, const fz_path *path, int eo, fz_matrix ctm,
                          fz_colorspace *cs, const float *color, float alpha, fz_color_params cp)
{
	tee_dev *t = (tee_dev *)d;
	tick(c, t);
	t->pg->n_paths++;
	note_rule(c, t, fz_bound_path(c, path, NULL, ctm));
}

static void tee_stroke_path(fz_context *c, fz_device *d, const fz_path *path, const fz_stroke_state *st,
                            fz_matrix ctm, fz_colorspace *cs, const float *color, float alpha,
                            fz_color_params cp)
{
	tee_dev *t = (tee_dev *)d;
	tick(c, t);
	t->pg->n_paths++;
	note_rule(c, t, fz_bound_path(c, path, NULL, ctm));
}

static void tee_clip_path(fz_context *c, fz_device *d, const fz_path *path, int eo, fz_matrix ctm,
                          fz_rect sc)
{
	tick(c, (tee_dev *)d);
}

static void tee_image(fz_context *c, fz_device *d, fz_image *img, fz_matrix ctm, float alpha,
                      fz_color_params cp)
{
	tee_dev *t = (tee_dev *)d;
	tick(c, t);
	t->pg->has_images = 1;
}

static void tee_image_mask(fz_context *c, fz_device *d, fz_image *img, fz_matrix ctm, fz_colorspace *cs,
                           const float *color, float alpha, fz_color_params cp)
{
	tee_dev *t = (tee_dev *)d;
	tick(c, t);
	t->pg->has_images = 1;
}

static void tee_shade(fz_context *c, fz_device *d, fz_shade *shd, fz_matrix ctm, float alpha,
                      fz_color_params cp)
{
	tick(c, (tee_dev *)d);
}

static void tee_close(fz_context *c, fz_device *d)
{
	fz_close_device(c, ((tee_dev *)d)->text);
}

static fz_device *new_tee(fz_device *text, hp_pdf_page *pg, fz_cookie *cookie, uint64_t deadline)
{
	tee_dev *t = fz_new_derived_device(ctx, tee_dev);
	t->super.fill_text = tee_fill_text;
	t->super.stroke_text = tee_stroke_text;
	t->super.clip_text = tee_clip_text;
	t->super.clip_stroke_text = tee_clip_stroke_text;
	t->super.ignore_text = tee_ignore_text;
	t->super.fill_path = tee_fill_path;
	t->super.stroke_path = tee_stroke_path;
	t->super.clip_path = tee_clip_path;
	t->super.fill_image = tee_image;
	t->super.fill_image_mask = tee_image_mask;
	t->super.fill_shade = tee_shade;
	t->super.close_device = tee_close;
	t->text = text;
	t->pg = pg;
	t->cookie = cookie;
	t->deadline_ms = deadline;
	return &t->super;
}

/* ---- structured text to segments ------------------------------------------------ */

static int put_utf8(char *o, int c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xC0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xE0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	o[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

static int is_space(int c)
{
	return c <= 0x20 || c == 0xA0 || (c >= 0x2000 && c <= 0x200B) || c == 0x3000 || c == 0x202F ||
	       c == 0x205F || c == 0xFEFF;
}

/* The last font looked at, a cache for runs of characters in one font.
 * Reset before every page: a freed font's address can come back. */
static fz_font *flags_font;
static unsigned flags_last;

static unsigned font_flags(fz_font *f)
{
	if (f == flags_font)
		return flags_last;
	unsigned fl = 0;
	const char *name = fz_font_name(ctx, f);
	if (fz_font_is_bold(ctx, f) ||
	    (name && (strstr(name, "Bold") || strstr(name, "Black") || strstr(name, "Heavy") ||
	              strstr(name, "Semibold") || strstr(name, "Demi") || strstr(name, ".B"))))
		fl |= HP_PDF_BOLD;
	if (fz_font_is_italic(ctx, f) || (name && (strstr(name, "Italic") || strstr(name, "Oblique"))))
		fl |= HP_PDF_ITALIC;
	if (fz_font_is_monospaced(ctx, f) || (name && (strstr(name, "Mono") || strstr(name, "Courier"))))
		fl |= HP_PDF_MONO;
	flags_font = f;
	flags_last = fl;
	return fl;
}

/* One MuPDF line to one segment: clean text (single spaces, no controls,
 * no U+FFFD), the size most characters have, bold/mono when 80% are. */
static int add_line(hp_pdf_page *pg, const fz_stext_line *ln, float ox, float oy, hp_buf *tmp)
{
	struct { float size; size_t n; } sizes[4] = { { 0, 0 } };
	size_t n_chars = 0, bold = 0, italic = 0, mono = 0;
	int r = 0;
	hp_buf_reset(tmp);
	for (const fz_stext_char *ch = ln->first_char; ch && r == 0; ch = ch->next) {
		int c = ch->c;
		if (is_space(c)) {
			if (tmp->len && tmp->data[tmp->len - 1] != ' ')
				r = hp_buf_addc(tmp, ' ');
			continue;
		}
		if (c < 0x20 || c == 0x7F || c == 0xFFFD || (c >= 0x80 && c < 0xA0) || c > 0x10FFFF ||
		    (c >= 0xD800 && c <= 0xDFFF))
			continue;
		char u[4];
		r = hp_buf_add(tmp, u, (size_t)put_utf8(u, c));
		n_chars++;
		unsigned fl = ch->font ? font_flags(ch->font) : 0;
		bold += (fl & HP_PDF_BOLD) != 0;
		italic += (fl & HP_PDF_ITALIC) != 0;
		mono += (fl & HP_PDF_MONO) != 0;
		size_t k = 0;
		while (k < 4 && sizes[k].n && fabsf(sizes[k].size - ch->size) > 0.05f)
			k++;
		if (k < 4) {
			sizes[k].size = ch->size;
			sizes[k].n++;
		}
	}
	if (r < 0 || n_chars == 0)
		return r;
	while (tmp->len && tmp->data[tmp->len - 1] == ' ')
		tmp->len--;
	hp_pdf_seg s = {
		.x0 = ln->bbox.x0 - ox, .y0 = ln->bbox.y0 - oy,
		.x1 = ln->bbox.x1 - ox, .y1 = ln->bbox.y1 - oy,
		.base = (ln->first_char ? ln->first_char->origin.y : ln->bbox.y1) - oy,
	};
	size_t best = 0;
	for (size_t k = 0; k < 4; k++)
		if (sizes[k].n > best) {
			best = sizes[k].n;
			s.size = sizes[k].size;
		}
	if (bold * 5 >= n_chars * 4)
		s.flags |= HP_PDF_BOLD;
	if (italic * 5 >= n_chars * 4)
		s.flags |= HP_PDF_ITALIC;
	if (mono * 5 >= n_chars * 4)
		s.flags |= HP_PDF_MONO;
	if (ln->wmode || ln->dir.x < 0.98f || fabsf(ln->dir.y) > 0.05f)
		s.flags |= HP_PDF_ROTATED;
	return hp_pdf_page_add_seg(pg, &s, tmp->data, tmp->len);
}

static int collect(hp_pdf_page *pg, const fz_stext_page *sp, float ox, float oy, hp_buf *tmp)
{
	int r = 0;
	flags_font = NULL;
	for (const fz_stext_block *b = sp->first_block; b && r == 0; b = b->next) {
		if (b->type != FZ_STEXT_BLOCK_TEXT)
			continue;
		for (const fz_stext_line *ln = b->u.t.first_line; ln && r == 0; ln = ln->next)
			r = add_line(pg, ln, ox, oy, tmp);
	}
	return r;
}

/* ---- pages without a text layer: OCR ------------------------------------------------ */

/* Resolution pages are rendered at for OCR ([workers] ocr_dpi), lowered for
 * pages so large that the picture would pass half of what OCR accepts. */
#define PDF_OCR_DPI 300
/* Render page i in grey and read it with OCR into pg->ocr_*. 0 (also when
 * the page had nothing to read), -ENOTSUP (OCR not available: msg says
 * why), -ENOMEM, -EIO (the page could not be rendered: msg says why). */
static int ocr_page(fz_document *doc, int i, hp_pdf_page *pg, const hp_convert_limits *lim,
                    uint64_t budget_ms, char *msg, size_t msglen)
{
	fz_page *volatile page = NULL;
	fz_pixmap *volatile pix = NULL;
	volatile int r = 0;
	fz_try(ctx)
	{
		page = fz_load_page(ctx, doc, i);
		float dpi = lim->ocr_dpi > 0 ? (float)lim->ocr_dpi : PDF_OCR_DPI;
		while (dpi > 72 && (double)pg->w * dpi / 72 * pg->h * dpi / 72 > HP_OCR_MAX_PIXELS / 2)
			dpi -= 25;
		pix = fz_new_pixmap_from_page(ctx, page, fz_scale(dpi / 72, dpi / 72), fz_device_gray(ctx), 0);
		hp_ocr_image img = {
			.gray = fz_pixmap_samples(ctx, pix),
			.width = fz_pixmap_width(ctx, pix),
			.height = fz_pixmap_height(ctx, pix),
			.stride = (int)fz_pixmap_stride(ctx, pix),
			.dpi = (int)dpi,
		};
		hp_ocr_result o = { 0 };
		r = hp_ocr_gray(&img, lim->ocr_languages, budget_ms, &o, msg, msglen);
		if (r == 0) {
			pg->ocr_text = o.text;
			pg->ocr_confidence = o.confidence;
			pg->ocr_lang = o.lang;
			pg->ocr_timed_out = o.timed_out;
			pg->ocr_dpi = (int)dpi;
		}
	}
	fz_always(ctx)
	{
		fz_drop_pixmap(ctx, pix);
		fz_drop_page(ctx, page);
	}
	fz_catch(ctx)
	{
		if (fz_caught(ctx) == FZ_ERROR_MEMORY)
			r = -ENOMEM;
		else {
			snprintf(msg, msglen, "%s", fz_caught_message(ctx));
			r = -EIO;
		}
	}
	return r;
}

/* ---- one document ------------------------------------------------------------------ */

typedef struct job {
	const hp_convert_limits *lim;
	hp_pdf_page *pages;
	int n_pages;
	hp_buf warn;            /* JSON array items, comma-separated */
	int n_warn;
	size_t text_total;
	int ocr_off;            /* OCR is not available here: do not try again */
	uint64_t ocr_ms;        /* OCR time spent on this document */
	int ocr_tried;          /* pages given to OCR */
	int ocr_left;           /* scanned pages left unread (budget spent) */
	const char *ocr_stop;   /* the budget that was spent: its config key */
} job;

static int warn(job *j, const char *fmt, ...) HP_PRINTF(2, 3);
static int warn(job *j, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (j->n_warn >= 20)
		return 0;  /* the first ones say enough */
	int r = j->n_warn ? hp_buf_addstr(&j->warn, ", ") : 0;
	if (r == 0)
		r = hp_json_str(&j->warn, msg);
	j->n_warn++;
	return r;
}

/* Run page i into j->pages[i]. 0, or -ETIMEDOUT (budget), -ENOMEM,
 * -EFBIG (text over the cap), or -EIO with msg set (the page is damaged). */
static int run_page(fz_document *doc, job *j, int i, hp_buf *tmp, char *msg, size_t msglen)
{
	hp_pdf_page *pg = &j->pages[i];
	fz_page *page = NULL;
	fz_stext_page *sp = NULL;
	fz_device *sdev = NULL, *tee = NULL;
	fz_cookie cookie = { 0 };
	volatile int r = 0;
	uint64_t deadline = j->lim->page_time_ms ? hp_now_ms() + j->lim->page_time_ms : 0;
	fz_stext_options opts = { .flags = FZ_STEXT_MEDIABOX_CLIP };

	fz_var(page);
	fz_var(sp);
	fz_var(sdev);
	fz_var(tee);
	fz_try(ctx)
	{
		page = fz_load_page(ctx, doc, i);
		fz_rect box = fz_bound_page(ctx, page);
		pg->w = box.x1 - box.x0;
		pg->h = box.y1 - box.y0;
		sp = fz_new_stext_page(ctx, box);
		sdev = fz_new_stext_device(ctx, sp, &opts);
		tee = new_tee(sdev, pg, &cookie, deadline);
		fz_run_page(ctx, page, tee, fz_identity, &cookie);
		fz_close_device(ctx, tee);
		if (((tee_dev *)tee)->timed_out)
			r = -ETIMEDOUT;
		else {
			r = collect(pg, sp, box.x0, box.y0, tmp);
			j->text_total += pg->text_len;
		}
	}
	fz_always(ctx)
	{
		if (tee && ((tee_dev *)tee)->timed_out)
			r = -ETIMEDOUT;
		fz_drop_device(ctx, tee);
		fz_drop_device(ctx, sdev);
		fz_drop_stext_page(ctx, sp);
		fz_drop_page(ctx, page);
	}
	fz_catch(ctx)
	{
		if (r == 0) {
			if (fz_caught(ctx) == FZ_ERROR_MEMORY)
				r = -ENOMEM;
			else {
				snprintf(msg, msglen, "%s", fz_caught_message(ctx));
				r = -EIO;
			}
		}
	}
	return r;
}

/* Metadata string by MuPDF key ("info:Title"), trimmed; NULL when absent
 * or empty. Caller frees. */
static char *meta_str(fz_document *doc, const char *key)
{
	char buf[512];
	volatile int n = -1;
	fz_try(ctx)
		n = fz_lookup_metadata(ctx, doc, key, buf, sizeof buf);
	fz_catch(ctx)
		n = -1;
	if (n <= 0)
		return NULL;
	buf[sizeof buf - 1] = '\0';
	char *s = buf;
	while (*s && isspace((unsigned char)*s))
		s++;
	size_t l = strlen(s);
	while (l && isspace((unsigned char)s[l - 1]))
		s[--l] = '\0';
	if (!l || !hp_utf8_valid(s, l))
		return NULL;
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return strdup(s);
}

/* A metadata title worth showing: not a placeholder, not a file name. */
static int title_useful(const char *t, const char *name)
{
	static const char *const junk[] = { "untitled", "(anonymous)", "anonymous", "title", "document",
	                                     "no title", "microsoft word" };
	for (size_t i = 0; i < HP_ARRAY_SIZE(junk); i++)
		if (strcasecmp(t, junk[i]) == 0)
			return 0;
	size_t l = strlen(t);
	static const char *const exts[] = { ".pdf", ".doc", ".docx", ".dvi", ".tex", ".indd", ".qxd", ".ps",
	                                    ".rtf", ".odt", ".ppt", ".pptx", ".xls", ".xlsx" };
	for (size_t i = 0; i < HP_ARRAY_SIZE(exts); i++) {
		size_t e = strlen(exts[i]);
		if (l > e && strcasecmp(t + l - e, exts[i]) == 0)
			return 0;
	}
	if (name) {
		const char *base = strrchr(name, '/');
		base = base ? base + 1 : name;
		const char *dot = strrchr(base, '.');
		size_t bl = dot ? (size_t)(dot - base) : strlen(base);
		if (bl == l && strncasecmp(base, t, l) == 0)
			return 0;
	}
	return 1;
}

/* "D:20240131120000+01'00'" -> "2024-01-31T12:00:00" (as far as given). */
static int add_date(hp_buf *m, const char *key, const char *d)
{
	if (!d)
		return 0;
	if (strncmp(d, "D:", 2) == 0)
		d += 2;
	size_t n = 0;
	while (d[n] && isdigit((unsigned char)d[n]) && n < 14)
		n++;
	if (n < 4)
		return 0;
	char iso[32];
	int k = snprintf(iso, sizeof iso, "%.4s", d);
	if (n >= 6)
		k += snprintf(iso + k, sizeof iso - (size_t)k, "-%.2s", d + 4);
	if (n >= 8)
		k += snprintf(iso + k, sizeof iso - (size_t)k, "-%.2s", d + 6);
	if (n >= 12)
		k += snprintf(iso + k, sizeof iso - (size_t)k, "T%.2s:%.2s", d + 8, d + 10);
	if (n >= 14)
		snprintf(iso + k, sizeof iso - (size_t)k, ":%.2s", d + 12);
	int r = hp_buf_addf(m, ", \"%s\": ", key);
	if (r == 0)
		r = hp_json_str(m, iso);
	return r;
}

static int add_meta_str(hp_buf *m, const char *key, const char *v)
{
	if (!v)
		return 0;
	int r = hp_buf_addf(m, ", \"%s\": ", key);
	if (r == 0)
		r = hp_json_str(m, v);
	return r;
}

/* Open the bytes as a PDF and count its pages. 0, or -ENOMEM, -EINVAL
 * (damaged, err says how), -EACCES (encrypted). *stm and *doc are set as
 * far as they got, for close_doc(). */
static int open_doc(const char *data, size_t len, fz_stream **ret_stm, fz_document **ret_doc,
                    int *ret_pages, char *err, size_t errlen)
{
	fz_stream *volatile stm = NULL;
	fz_document *volatile doc = NULL;
	volatile int r = 0, n = 0;
	fz_try(ctx)
	{
		stm = fz_open_memory(ctx, (const unsigned char *)data, len);
		doc = (fz_document *)pdf_open_document_with_stream(ctx, stm);
		if (fz_needs_password(ctx, doc)) {
			snprintf(err, errlen, "encrypted PDF: it needs a password to be read");
			r = -EACCES;
		} else
			n = fz_count_pages(ctx, doc);
	}
	fz_catch(ctx)
	{
		if (fz_caught(ctx) == FZ_ERROR_MEMORY)
			r = -ENOMEM;
		else {
			snprintf(err, errlen, "PDF is damaged: %s", fz_caught_message(ctx));
			r = -EINVAL;
		}
	}
	*ret_stm = stm;
	*ret_doc = doc;
	*ret_pages = n;
	return r;
}

static void close_doc(fz_stream *stm, fz_document *doc)
{
	fz_try(ctx)
	{
		fz_drop_document(ctx, doc);
		fz_drop_stream(ctx, stm);
	}
	fz_catch(ctx)
	{
	}
	fz_empty_store(ctx);
}

/* "ocr": {"pages": [..], "mean_confidence": N, "language": "..", "dpi": N,
 * "cut_short": [..], "skipped": [..], "stopped_by": "ocr_max_pages"} when
 * pages were read by OCR or skipped by it: pages read (cut_short: of
 * those, the ones OCR stopped at their time budget), and pages without
 * text left unread (the document's budget spent, or the page failed). */
static int add_ocr_meta(hp_buf *m, const job *j)
{
	int n = 0, n_skip = 0, sum = 0, r = 0, dpi = 0;
	const char *lang = NULL;
	for (int i = 0; i < j->n_pages; i++) {
		n += j->pages[i].ocr_text != NULL;
		n_skip += j->pages[i].ocr_note != NULL;
	}
	if (n == 0 && n_skip == 0)
		return 0;
	static const struct { const char *key; int what; } lists[] = {
		{ "pages", 0 }, { "cut_short", 1 }, { "skipped", 2 },
	};
	r = hp_buf_addstr(m, ", \"ocr\": {");
	for (size_t l = 0; l < HP_ARRAY_SIZE(lists) && r == 0; l++) {
		int k = 0;
		for (int i = 0; i < j->n_pages && r == 0; i++) {
			const hp_pdf_page *pg = &j->pages[i];
			int in = lists[l].what == 0 ? pg->ocr_text != NULL
			       : lists[l].what == 1 ? pg->ocr_text && pg->ocr_timed_out
			       : pg->ocr_note != NULL;
			if (!in)
				continue;
			if (lists[l].what == 0) {
				sum += pg->ocr_confidence;
				lang = pg->ocr_lang;
				if (!dpi || pg->ocr_dpi < dpi)
					dpi = pg->ocr_dpi;  /* the lowest: a page too large was rendered lower */
			}
			r = k ? hp_buf_addf(m, ", %d", i + 1) : hp_buf_addf(m, "%s\"%s\": [%d", l ? ", " : "", lists[l].key, i + 1);
			k++;
		}
		if (r == 0 && k)
			r = hp_buf_addc(m, ']');
		else if (r == 0 && l == 0)
			r = hp_buf_addstr(m, "\"pages\": []");
	}
	if (r == 0 && n)
		r = hp_buf_addf(m, ", \"mean_confidence\": %d, \"language\": ", sum / n);
	if (r == 0 && n)
		r = hp_json_str(m, lang ? lang : "");
	if (r == 0 && n)
		r = hp_buf_addf(m, ", \"dpi\": %d", dpi);
	if (r == 0 && j->ocr_stop)
		r = hp_buf_addf(m, ", \"stopped_by\": \"%s\"", j->ocr_stop);
	if (r == 0)
		r = hp_buf_addc(m, '}');
	return r;
}

/* Page i is left unread by OCR: why, for its place in the Markdown. */
static int skip_note(hp_pdf_page *pg, const char *fmt, ...) HP_PRINTF(2, 3);
static int skip_note(hp_pdf_page *pg, const char *fmt, ...)
{
	char msg[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* the note is an HTML comment: no "--" inside it */
	for (char *p = msg; (p = strstr(p, "--")); )
		p[1] = ' ';
	free(pg->ocr_note);
	pg->ocr_note = strdup(msg);
	return pg->ocr_note ? 0 : -ENOMEM;
}

/* Page i had no text layer but something drawn (a scan, outlined text):
 * read it by OCR if OCR is here and the document's OCR budget
 * (lim->ocr_max_pages pages, lim->ocr_time_ms) is not spent; else the page
 * gets a note. Failures are warnings. 0 or -ENOMEM. */
static int read_without_text(fz_document *fdoc, job *j, int i)
{
	hp_pdf_page *pg = &j->pages[i];
	const hp_convert_limits *lim = j->lim;
	char msg[256] = "";
	int max_pages = lim->ocr_max_pages > 0 ? lim->ocr_max_pages : HP_OCR_DEFAULT_MAX_PAGES;
	uint64_t max_ms = lim->ocr_time_ms ? lim->ocr_time_ms : HP_OCR_DEFAULT_TIME_MS;
	if (j->ocr_tried >= max_pages || j->ocr_ms >= max_ms) {
		int r = 0;
		if (j->ocr_left++ == 0) {
			if (j->ocr_tried >= max_pages) {
				j->ocr_stop = "ocr_max_pages";
				r = warn(j, "OCR stopped at page %d: the document's OCR budget of %d pages "
				         "([workers] ocr_max_pages) was spent", i + 1, max_pages);
			} else {
				j->ocr_stop = "ocr_time_budget";
				r = warn(j, "OCR stopped at page %d: the document's OCR time of %llu s "
				         "([workers] ocr_time_budget) was spent", i + 1,
				         (unsigned long long)(max_ms / 1000));
			}
		}
		if (r == 0)
			r = skip_note(pg, "page %d not read by OCR: the document's OCR budget (%s) was spent", i + 1,
			              j->ocr_stop);
		return r;
	}
	uint64_t budget = max_ms - j->ocr_ms;
	if (lim->page_time_ms && lim->page_time_ms < budget)
		budget = lim->page_time_ms;
	uint64_t t0 = hp_now_ms();
	j->ocr_tried++;
	int r = ocr_page(fdoc, i, pg, lim, budget, msg, sizeof msg);
	j->ocr_ms += hp_now_ms() - t0;
	if (r == -ENOTSUP) {
		j->ocr_off = 1;   /* say once, go on without */
		r = warn(j, "pages without text were not read: %s", msg);
	} else if (r == -EIO || r == -EINVAL || r == -EFBIG) {
		r = warn(j, "page %d could not be read by OCR: %s", i + 1, msg);
		if (r == 0)
			r = skip_note(pg, "page %d not read by OCR: %s", i + 1, msg);
	}
	if (r == 0 && pg->ocr_timed_out)
		r = warn(j, "page %d: OCR stopped at the page's time budget", i + 1);
	return r;
}

/* Read every page into j->pages. 0, or -errno with err set (a page over
 * its time budget, text past the output cap, no readable page). */
static int read_pages(fz_document *fdoc, job *j, char *err, size_t errlen)
{
	const hp_convert_limits *lim = j->lim;
	hp_buf tmp;
	hp_buf_init(&tmp, 0);
	char msg[256] = "";
	int r = 0, bad_pages = 0;
	for (int i = 0; i < j->n_pages && r == 0; i++) {
		msg[0] = '\0';
		r = run_page(fdoc, j, i, &tmp, msg, sizeof msg);
		if (r == -EIO) {
			bad_pages++;
			r = warn(j, "page %d could not be read: %s", i + 1, msg);
			continue;
		}
		if (r == -ETIMEDOUT)
			snprintf(err, errlen,
			         "page %d took longer than the per-page budget of %llu ms ([workers] pdf_page_timeout)",
			         i + 1, (unsigned long long)lim->page_time_ms);
		if (r < 0)
			break;
		const hp_pdf_page *pg = &j->pages[i];
		if (pg->n_segs == 0 && (pg->has_images || pg->n_paths > 50) && !j->ocr_off)
			r = read_without_text(fdoc, j, i);
		/* the text extracted is what the Markdown is made of: past twice
		 * the output cap, the output cap will be hit anyway */
		if (r == 0 && j->text_total > lim->max_output * 2)
			r = hp_conv_efbig(lim->max_output, err, errlen);
	}
	if (r == 0 && bad_pages == j->n_pages) {
		snprintf(err, errlen, "PDF is damaged: no page could be read (%s)", msg);
		r = -EINVAL;
	}
	hp_buf_free(&tmp);
	return r;
}

/* documents.meta: the page count, the document information dictionary,
 * OCR, what the layout found, warnings. 0 or -ENOMEM. */
static int make_meta(hp_buf *meta, fz_document *fdoc, job *j, const hp_pdf_layout_info *info)
{
	static const struct { const char *key, *name; int date; } fields[] = {
		{ "info:Author", "author", 0 }, { "info:Subject", "subject", 0 },
		{ "info:Keywords", "keywords", 0 }, { "info:Creator", "creator", 0 },
		{ "info:Producer", "producer", 0 }, { "info:CreationDate", "created", 1 },
		{ "info:ModDate", "modified", 1 },
	};
	int r = hp_buf_addf(meta, "{\"pages\": %d", j->n_pages);
	for (size_t i = 0; i < HP_ARRAY_SIZE(fields) && r == 0; i++) {
		char *v = meta_str(fdoc, fields[i].key);
		r = fields[i].date ? add_date(meta, fields[i].name, v) : add_meta_str(meta, fields[i].name, v);
		free(v);
	}
	if (r == 0)
		r = add_ocr_meta(meta, j);
	/* no text, and OCR did not read the pages (not available, failed) */
	int ocr_pages = 0;
	for (int i = 0; i < j->n_pages; i++)
		ocr_pages += j->pages[i].ocr_text != NULL;
	if (r == 0 && ((info->chars == 0 && !ocr_pages) || j->ocr_left))
		r = hp_buf_addstr(meta, ", \"ocr_needed\": true");
	else if (r == 0 && info->pages_without_text)
		r = hp_buf_addf(meta, ", \"pages_without_text\": %d", info->pages_without_text);
	if (r == 0)
		r = hp_buf_addf(meta, ", \"headings\": %d, \"tables\": %d, \"lists\": %d", info->headings,
		                info->tables, info->lists);
	if (r == 0 && info->dropped_lines)
		r = hp_buf_addf(meta, ", \"running_lines_dropped\": %d", info->dropped_lines);
	if (r == 0 && warnings && j->n_warn < 20)
		r = warn(j, "MuPDF repaired or skipped %d damaged part%s", warnings, warnings == 1 ? "" : "s");
	if (r == 0 && j->n_warn)
		r = hp_buf_addf(meta, ", \"warnings\": [%s]", j->warn.data);
	if (r == 0)
		r = hp_buf_addc(meta, '}');
	return r;
}

/* The title: the metadata's when it is a real one, else the largest text
 * on page 1, else (a scan) the first line OCR read. */
static int pick_title(fz_document *fdoc, const char *name, const job *j, const hp_pdf_layout_info *info,
                      char **ret)
{
	char *t = meta_str(fdoc, "info:Title");
	const char *use = t && title_useful(t, name) ? t : info->title ? info->title : j->pages[0].ocr_text;
	int r = use ? hp_title_from_line(use, strlen(use), HP_TITLE_MAX, ret) : 0;
	free(t);
	return r;
}

static int convert_pdf(const char *name, const char *data, size_t len, const hp_convert_limits *lim,
                       hp_doc *doc, char *err, size_t errlen)
{
	job j = { .lim = lim };
	fz_stream *stm = NULL;
	fz_document *fdoc = NULL;
	hp_buf out, meta;
	hp_pdf_layout_info info = { 0 };
	int r = 0, n_pages = 0;

	hp_buf_init(&out, lim->max_output);
	hp_buf_init(&meta, 0);
	hp_buf_init(&j.warn, 0);
	if (!ctx && (r = hp_pdf_init()) < 0)
		goto out;
	warnings = 0;

	r = open_doc(data, len, &stm, &fdoc, &n_pages, err, errlen);
	if (r < 0)
		goto out;
	if (n_pages <= 0) {
		snprintf(err, errlen, "PDF is damaged: no pages found");
		r = -EINVAL;
		goto out;
	}
	if (lim->max_pages && n_pages > lim->max_pages) {
		snprintf(err, errlen, "PDF has %d pages, over the limit of %d ([workers] pdf_max_pages)",
		         n_pages, lim->max_pages);
		r = -EFBIG;
		goto out;
	}
	j.pages = calloc((size_t)n_pages, sizeof(*j.pages));
	if (!j.pages) {
		r = -ENOMEM;
		goto out;
	}
	j.n_pages = n_pages;
	r = read_pages(fdoc, &j, err, errlen);
	if (r < 0)
		goto out;
	r = hp_pdf_layout(j.pages, (size_t)n_pages, &out, &info);
	if (r == -EFBIG)
		r = hp_conv_efbig(lim->max_output, err, errlen);
	if (r == 0)
		r = make_meta(&meta, fdoc, &j, &info);
	if (r == 0)
		r = pick_title(fdoc, name, &j, &info, &doc->title);
	if (r < 0)
		goto out;
	doc->pages = n_pages;
	doc->markdown_len = out.len;
	doc->markdown = hp_buf_steal(&out);
	doc->meta_json = hp_buf_steal(&meta);
	if (!doc->markdown || !doc->meta_json)
		r = -ENOMEM;
out:
	if (r < 0 && r != -ENOMEM && !err[0])
		snprintf(err, errlen, "PDF conversion failed: %s", strerror(-r));
	if (ctx)
		close_doc(stm, fdoc);
	for (int i = 0; i < j.n_pages; i++)
		hp_pdf_page_free(&j.pages[i]);
	free(j.pages);
	free(info.title);
	hp_buf_free(&out);
	hp_buf_free(&meta);
	hp_buf_free(&j.warn);
	return r;
}

const hp_converter hp_conv_pdf = { HP_FMT_PDF, convert_pdf };
