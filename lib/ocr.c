/* ocr.c — see include/hopper/ocr.h */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>

#include "hopper/common.h"
#include "hopper/ocr.h"

#define TESSDATA_DEFAULT "/usr/share/tesseract-ocr/5/tessdata"
#define LANG_MAX 16
#define PRELOAD_MAX (512u << 20) /* all language data together */
/* What Tesseract takes to read a page besides the picture it is given:
 * measured with the tesseract command under ulimit -v on an A4 page of
 * text at 150..600 dpi, 3.3 bytes of address space per pixel (the decoded
 * picture, 1 byte a pixel, included) on ~100 MiB for the program. Four
 * bytes a pixel and 32 MiB cover the binarised copies and line images. */
#define OCR_BYTES_PER_PIXEL 4u
#define OCR_FIXED_BYTES ((size_t)32 << 20)

typedef struct lang {
	char name[32];
	char *data;           /* the .traineddata bytes, mapped read-only */
	size_t len;
	TessBaseAPI *api;     /* made on first use */
	int broken;           /* Init failed once: do not try again */
} lang;

static lang langs[LANG_MAX];
static size_t n_langs;
static int ready = -1;    /* -1 not preloaded; 0 no OCR; 1 OCR available */
static const char *why_not = "OCR is not set up in this process";

/* Map a language file: its pages come from the page cache, shared by every
 * worker, and cost nothing until an image needs the language. The mapping
 * outlives the sandbox's closing; the file is not opened again. */
static int map_file(const char *path, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > PRELOAD_MAX) {
		r = -EINVAL;
		goto out;
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto out;
	}
	*ret = p;
	*ret_len = (size_t)st.st_size;
out:
	close(fd);
	return r;
}

void hp_ocr_single_thread(char **argv)
{
	const char *limit = getenv("OMP_THREAD_LIMIT");
	if (limit && strcmp(limit, "1") == 0)
		return;
	if (setenv("OMP_THREAD_LIMIT", "1", 1) == 0)
		execv("/proc/self/exe", argv);
}

/* At exit: engines ended in order, or Tesseract's caches complain on
 * stderr (and the worker's stderr is a log). */
static void release(void)
{
	for (size_t i = 0; i < n_langs; i++) {
		if (langs[i].api) {
			TessBaseAPIEnd(langs[i].api);
			TessBaseAPIDelete(langs[i].api);
			langs[i].api = NULL;
		}
		munmap(langs[i].data, langs[i].len);
		langs[i].data = NULL;
	}
	n_langs = 0;
}

int hp_ocr_preload(void)
{
	if (ready >= 0)
		return ready ? 0 : -ENOTSUP;
	ready = 0;
	const char *limit = getenv("OMP_THREAD_LIMIT");
	if (!limit || strcmp(limit, "1") != 0) {
		/* libgomp read its environment when the process started: too late
		 * to set it now, and the sandbox would kill the first thread. */
		why_not = "OCR needs OMP_THREAD_LIMIT=1 in the converter's environment";
		hp_debug("ocr: %s", why_not);
		return -EPERM;
	}
	const char *dir = getenv("TESSDATA_PREFIX");
	if (!dir || !*dir)
		dir = TESSDATA_DEFAULT;
	DIR *d = opendir(dir);
	if (!d) {
		why_not = "OCR is not available: no Tesseract language data (apt-get install tesseract-ocr-eng)";
		hp_debug("ocr: %s: %m", dir);
		return -ENOENT;
	}
	size_t total = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n_langs < LANG_MAX) {
		size_t l = strlen(de->d_name);
		const char *suffix = ".traineddata";
		if (l <= strlen(suffix) || strcmp(de->d_name + l - strlen(suffix), suffix) != 0 ||
		    l - strlen(suffix) >= sizeof langs[0].name || strncmp(de->d_name, "osd.", 4) == 0)
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		lang *g = &langs[n_langs];
		if (map_file(path, &g->data, &g->len) < 0)
			continue;
		if (total + g->len > PRELOAD_MAX) {
			munmap(g->data, g->len);
			g->data = NULL;
			continue;
		}
		total += g->len;
		memcpy(g->name, de->d_name, l - strlen(suffix));
		g->name[l - strlen(suffix)] = '\0';
		n_langs++;
	}
	closedir(d);
	if (n_langs == 0) {
		why_not = "OCR is not available: no Tesseract language data (apt-get install tesseract-ocr-eng)";
		return -ENOENT;
	}
	/* Leptonica prints its own errors to stderr; ours say what failed. */
	setMsgSeverity(L_SEVERITY_NONE);
	ready = 1;
	return 0;
}

static lang *find_lang(const char *name, size_t n)
{
	for (size_t i = 0; i < n_langs; i++)
		if (strlen(langs[i].name) == n && strncmp(langs[i].name, name, n) == 0)
			return &langs[i];
	return NULL;
}

static TessBaseAPI *engine(lang *g, char *err, size_t errlen)
{
	if (g->api)
		return g->api;
	if (g->broken) {
		snprintf(err, errlen, "OCR language %s could not be loaded", g->name);
		return NULL;
	}
	TessBaseAPI *api = TessBaseAPICreate();
	if (!api || TessBaseAPIInit5(api, g->data, (int)g->len, g->name, OEM_DEFAULT, NULL, 0, NULL, NULL, 0, 0) != 0) {
		if (api)
			TessBaseAPIDelete(api);
		g->broken = 1;
		snprintf(err, errlen, "OCR language %s could not be loaded", g->name);
		return NULL;
	}
	/* Whole pages: let Tesseract find the columns and blocks. */
	TessBaseAPISetPageSegMode(api, PSM_AUTO);
	g->api = api;
	/* Registered after Tesseract made its caches, so it runs before their
	 * destructors do. */
	static int registered;
	if (!registered++)
		atexit(release);
	return api;
}

/* Tesseract's text has single newlines inside paragraphs and blank lines
 * between them; keep that, drop trailing spaces and form feeds. */
static char *tidy(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		if (*p == '\f')
			continue;
		if (*p == '\n')
			while (o > out && o[-1] == ' ')
				o--;
		*o++ = *p;
	}
	while (o > out && (o[-1] == '\n' || o[-1] == ' '))
		o--;
	*o = '\0';
	return out;
}

/* The worker's memory is an address-space limit (RLIMIT_AS), and
 * Tesseract, which is C++, aborts the process when an allocation fails:
 * before reading a page, make sure the memory it will need can be had now,
 * by taking it and giving it back (a large malloc is an mmap of address
 * space; no page of it is touched). 0, or -EFBIG with err set. */
static int memory_for(const PIX *pix, char *err, size_t errlen)
{
	size_t need = (size_t)pixGetWidth(pix) * (size_t)pixGetHeight(pix) * OCR_BYTES_PER_PIXEL + OCR_FIXED_BYTES;
	void *volatile p = malloc(need);   /* volatile: not optimised away */
	if (!p) {
		snprintf(err, errlen, "page of %dx%d pixels needs about %zu MiB for OCR, more than the worker "
		         "has left ([workers] memory_limit)", pixGetWidth(pix), pixGetHeight(pix), need >> 20);
		return -EFBIG;
	}
	free(p);
	return 0;
}

static int read_pix(PIX *pix, int dpi, const char *langs_s, uint64_t budget_ms, hp_ocr_result *ret, char *err,
                    size_t errlen)
{
	if (ready <= 0) {
		snprintf(err, errlen, "%s", why_not);
		return -ENOTSUP;
	}
	/* Tesseract keeps coordinates in 16 bits and refuses wider or taller
	 * images ("Image too large") with no text and no reason of its own. */
	if (pixGetWidth(pix) > INT16_MAX || pixGetHeight(pix) > INT16_MAX) {
		snprintf(err, errlen, "image of %dx%d pixels has a side over %d pixels, more than OCR can read",
		         pixGetWidth(pix), pixGetHeight(pix), INT16_MAX);
		return -EFBIG;
	}
	const char *spec = langs_s && *langs_s ? langs_s : HP_OCR_DEFAULT_LANGS;
	hp_ocr_result best = { .confidence = -1 };
	uint64_t start = hp_now_ms();
	int r = 0;
	for (const char *p = spec; *p;) {
		size_t n = strcspn(p, " +,");
		if (n == 0) {
			p++;
			continue;
		}
		lang *g = find_lang(p, n);
		if (!g) {
			snprintf(err, errlen, "OCR language %.*s is not installed (apt-get install tesseract-ocr-%.*s)",
			         (int)n, p, (int)n, p);
			r = -ENOTSUP;
			break;
		}
		p += n;
		TessBaseAPI *api = engine(g, err, errlen);
		if (!api) {
			r = -ENOTSUP;
			break;
		}
		r = memory_for(pix, err, errlen);
		if (r < 0)
			break;
		TessBaseAPISetImage2(api, pix);
		TessBaseAPISetSourceResolution(api, dpi > 0 ? dpi : 300);
		ETEXT_DESC *mon = TessMonitorCreate();
		uint64_t spent = hp_now_ms() - start;
		if (mon && budget_ms)
			TessMonitorSetDeadlineMSecs(mon, budget_ms > spent ? (int)(budget_ms - spent) : 1);
		TessBaseAPIRecognize(api, mon);
		if (mon)
			TessMonitorDelete(mon);
		char *text = TessBaseAPIGetUTF8Text(api);
		int conf = TessBaseAPIMeanTextConf(api);
		TessBaseAPIClear(api);
		if (!text) {
			snprintf(err, errlen, "OCR (%s) could not read the image", g->name);
			r = -EINVAL;
			break;
		}
		if (conf > best.confidence) {
			free(best.text);
			best.text = tidy(text);
			best.confidence = conf;
			best.lang = g->name;
		}
		TessDeleteText(text);
		if (!best.text) {
			r = -ENOMEM;
			break;
		}
		if (budget_ms && hp_now_ms() - start >= budget_ms) {
			best.timed_out = 1;
			break;
		}
	}
	if (r < 0) {
		free(best.text);
		return r;
	}
	if (!best.text) {
		snprintf(err, errlen, "no OCR language given");
		return -ENOTSUP;
	}
	*ret = best;
	return 0;
}

int hp_ocr_gray(const hp_ocr_image *img, const char *langs_s, uint64_t budget_ms, hp_ocr_result *ret,
                char *err, size_t errlen)
{
	if (img->width <= 0 || img->height <= 0 || img->stride < img->width) {
		snprintf(err, errlen, "empty page image");
		return -EINVAL;
	}
	if ((uint64_t)img->width * (uint64_t)img->height > HP_OCR_MAX_PIXELS) {
		snprintf(err, errlen, "page image of %dx%d pixels is over the OCR limit of %u megapixels", img->width,
		         img->height, HP_OCR_MAX_PIXELS / 1000000);
		return -EFBIG;
	}
	PIX *pix = pixCreate(img->width, img->height, 8);
	if (!pix) {
		snprintf(err, errlen, "out of memory for a page image");
		return -ENOMEM;
	}
	l_uint32 *data = pixGetData(pix);
	l_int32 wpl = pixGetWpl(pix);
	for (int y = 0; y < img->height; y++) {
		const uint8_t *row = img->gray + (size_t)y * (size_t)img->stride;
		l_uint32 *line = data + (size_t)y * (size_t)wpl;
		for (int x = 0; x < img->width; x++)
			SET_DATA_BYTE(line, x, row[x]);
	}
	pixSetResolution(pix, img->dpi, img->dpi);
	int r = read_pix(pix, img->dpi, langs_s, budget_ms, ret, err, errlen);
	pixDestroy(&pix);
	return r;
}

int hp_ocr_encoded(const void *data, size_t len, const char *langs_s, uint64_t budget_ms, hp_ocr_result *ret,
                   char *err, size_t errlen)
{
	l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, cmap = 0;
	if (pixReadHeaderMem(data, len, &format, &w, &h, &bps, &spp, &cmap) != 0 || w <= 0 || h <= 0) {
		snprintf(err, errlen, "image header is damaged or of an unsupported kind");
		return -EINVAL;
	}
	if ((uint64_t)w * (uint64_t)h > HP_OCR_MAX_PIXELS) {
		snprintf(err, errlen, "image of %dx%d pixels is over the OCR limit of %u megapixels", w, h,
		         HP_OCR_MAX_PIXELS / 1000000);
		return -EFBIG;
	}
	PIX *pix = pixReadMem(data, len);
	if (!pix) {
		snprintf(err, errlen, "image does not decode (damaged or truncated)");
		return -EINVAL;
	}
	/* Most scans carry their resolution; a phone photo says 72 or nothing,
	 * and Tesseract guesses better from 300 than from 72. */
	int dpi = pixGetXRes(pix);
	if (dpi < 70)
		dpi = 300;
	int r = read_pix(pix, dpi, langs_s, budget_ms, ret, err, errlen);
	pixDestroy(&pix);
	return r;
}
