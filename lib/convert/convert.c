/* convert.c — format detection, the converter table, charset handling.
 * See include/hopper/convert.h for the contract.
 *
 * Detection: signatures at offset 0 first (PDF, ZIP, OLE, images,
 * archives); office formats (ZIP containers) are told apart by the member
 * names inside the archive ("word/", "xl/", "ppt/", an ODF/EPUB "mimetype"
 * member). Then text: a byte order mark, UTF-16 without one, or bytes with
 * no NULs and few controls. For text, a text extension decides between
 * text, Markdown, HTML, CSV, JSON, XML and source code, since those are
 * often indistinguishable by content; without one, the first bytes
 * (HTML, XML, JSON, #!) and only then libmagic. Bytes that are neither a
 * known type nor text are HP_FMT_UNKNOWN, named by libmagic's MIME type.
 *
 * Empty input: hp_detect() still answers (by extension, else text), but
 * hp_convert() fails with -EINVAL "empty file (0 bytes)": an empty document
 * carries nothing to store, and a zero-byte drop is usually a writer that
 * has not finished, which a person should see in hopper.failures.
 *
 * Sandbox: the worker enters a seccomp filter after hp_convert_init(), so
 * everything that needs a file (the magic database, glibc's gconv modules)
 * is loaded there, once. iconv descriptors for the common charsets are kept
 * open for the life of the process and reset before each use.
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uchardet.h>

#include <libxml/parser.h>

#include "hopper/common.h"
#include "hopper/convert.h"
#include "hopper/ocr.h"
#include "convert-int.h"

/* ---- the converter table ------------------------------------------------- */

static const hp_converter *const converters[] = {
	&hp_conv_text, &hp_conv_markdown, &hp_conv_html, &hp_conv_csv,
	&hp_conv_json, &hp_conv_code, &hp_conv_xml, &hp_conv_image,
	&hp_conv_pdf,
	&hp_conv_docx, &hp_conv_xlsx, &hp_conv_pptx, &hp_conv_epub,
	&hp_conv_odt, &hp_conv_ods, &hp_conv_odp,
};

static const hp_converter *converter_for(hp_format f)
{
	for (size_t i = 0; i < HP_ARRAY_SIZE(converters); i++)
		if (converters[i]->format == f)
			return converters[i];
	return NULL;
}

int hp_format_supported(hp_format f)
{
	return converter_for(f) != NULL;
}

/* ---- process-wide state loaded by hp_convert_init() ----------------------- */

static magic_t magic_cookie;
static int init_done;

/* Charsets opened at init. `iconv` is glibc's name; `aliases` are the
 * spellings uchardet and HTML <meta charset> use, separated by '|'. Where
 * a label is in practice written for a superset (Shift_JIS files are
 * CP932, "ISO-8859-1" pages are windows-1252: WHATWG Encoding §4), the
 * label maps to the superset. */
static struct charset {
	const char *iconv;
	const char *aliases;
	iconv_t cd;
} charsets[] = {
	{ "UTF-16LE", "UTF-16|UTF16LE|UTF-16LE", NULL },
	{ "UTF-16BE", "UTF16BE", NULL },
	{ "UTF-32LE", "UTF-32|UTF32LE", NULL },
	{ "UTF-32BE", "UTF32BE", NULL },
	{ "WINDOWS-1250", "CP1250|X-CP1250", NULL },
	{ "WINDOWS-1251", "CP1251|X-CP1251", NULL },
	{ "WINDOWS-1252", "CP1252|ISO-8859-1|ISO8859-1|LATIN1|L1|ISO_8859-1|US-ASCII|ASCII|X-CP1252", NULL },
	{ "WINDOWS-1253", "CP1253", NULL },
	{ "WINDOWS-1254", "CP1254|ISO-8859-9|LATIN5", NULL },
	{ "WINDOWS-1255", "CP1255", NULL },
	{ "WINDOWS-1256", "CP1256", NULL },
	{ "WINDOWS-1257", "CP1257", NULL },
	{ "WINDOWS-1258", "CP1258", NULL },
	{ "ISO-8859-2", "LATIN2|ISO8859-2", NULL },
	{ "ISO-8859-3", "LATIN3", NULL },
	{ "ISO-8859-4", "LATIN4", NULL },
	{ "ISO-8859-5", "CYRILLIC", NULL },
	{ "ISO-8859-6", "ARABIC", NULL },
	{ "ISO-8859-7", "GREEK", NULL },
	{ "ISO-8859-8", "HEBREW|ISO-8859-8-I", NULL },
	{ "ISO-8859-10", "LATIN6", NULL },
	{ "ISO-8859-13", "LATIN7", NULL },
	{ "ISO-8859-14", "LATIN8", NULL },
	{ "ISO-8859-15", "LATIN9|LATIN-9", NULL },
	{ "ISO-8859-16", "LATIN10", NULL },
	{ "CP932", "SHIFT_JIS|SHIFT-JIS|SJIS|MS_KANJI|X-SJIS|WINDOWS-31J|CSSHIFTJIS", NULL },
	{ "EUC-JP", "EUCJP|X-EUC-JP", NULL },
	{ "ISO-2022-JP", "CSISO2022JP", NULL },
	{ "GB18030", "GB2312|GBK|X-GBK|CP936|EUC-CN|HZ-GB-2312", NULL },
	{ "BIG5", "BIG-5|CN-BIG5|X-X-BIG5", NULL },
	{ "BIG5-HKSCS", "", NULL },
	{ "EUC-TW", "", NULL },
	{ "CP949", "EUC-KR|UHC|KS_C_5601-1987|WINDOWS-949", NULL },
	{ "ISO-2022-KR", "", NULL },
	{ "ISO-2022-CN", "", NULL },
	{ "KOI8-R", "KOI8", NULL },
	{ "KOI8-U", "KOI8-RU", NULL },
	{ "IBM866", "CP866|866", NULL },
	{ "IBM852", "CP852|852", NULL },
	{ "MAC-CYRILLIC", "X-MAC-CYRILLIC|MACCYRILLIC", NULL },
	{ "MAC-CENTRALEUROPE", "X-MAC-CE|MACCENTRALEUROPE", NULL },
	{ "MACINTOSH", "MAC|X-MAC-ROMAN|MACROMAN", NULL },
	{ "TIS-620", "ISO-8859-11|WINDOWS-874|CP874", NULL },
	{ "VISCII", "", NULL },
};

int hp_convert_init(void)
{
	if (init_done)
		return 0;
	int r = 0;
	/* No decompression: it would fork helpers and multiply the input. */
	magic_t m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS);
	if (!m) {
		r = -errno ? -errno : -ENOMEM;
		hp_err("convert: cannot start libmagic: %s", strerror(-r));
		goto out;
	}
	if (magic_load(m, NULL) < 0) {
		hp_err("convert: cannot load the libmagic database: %s", magic_error(m));
		magic_close(m);
		r = -ENOENT;
		goto out;
	}
	magic_cookie = m;
	for (size_t i = 0; i < HP_ARRAY_SIZE(charsets); i++) {
		iconv_t cd = iconv_open("UTF-8", charsets[i].iconv);
		/* A charset glibc lacks is only a smaller table, not a failure. */
		if (cd == (iconv_t)-1) {
			hp_debug("convert: iconv has no %s", charsets[i].iconv);
			continue;
		}
		charsets[i].cd = cd;
	}
	xmlInitParser();
	r = hp_pdf_init();
	if (r < 0) {
		hp_err("convert: cannot start MuPDF: %s", strerror(-r));
		goto out;
	}
	/* Language data for OCR; without it images fail with the reason. */
	hp_ocr_preload();
	init_done = 1;
out:
	return r;
}

/* ---- small shared helpers ------------------------------------------------ */

int hp_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		/* ASCII runs 8 bytes at a time: most text is mostly ASCII */
		while (len - i >= 8) {
			uint64_t w;
			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		unsigned lo = 0x80, hi = 0xBF;
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if (c == 0xE0)
				lo = 0xA0;        /* overlong */
			else if (c == 0xED)
				hi = 0x9F;        /* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if (c == 0xF0)
				lo = 0x90;
			else if (c == 0xF4)
				hi = 0x8F;        /* > U+10FFFF */
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= n; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
		i += n + 1;
	}
	return 1;
}

int hp_conv_efbig(size_t limit, char *err, size_t errlen)
{
	const size_t mib = 1024 * 1024;
	if (limit >= mib && limit % mib == 0)
		snprintf(err, errlen, "output over %zu MiB", limit / mib);
	else {
		char sz[32];
		hp_format_size(limit, sz, sizeof(sz));
		snprintf(err, errlen, "output over %s", sz);
	}
	return -EFBIG;
}

int hp_json_str(hp_buf *b, const char *s)
{
	int r = hp_buf_addc(b, '"');
	for (; r == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			r = hp_buf_addf(b, "\\%c", c);
		else if (c < 0x20)
			r = hp_buf_addf(b, "\\u%04x", c);
		else
			r = hp_buf_addc(b, (char)c);
	}
	if (r == 0)
		r = hp_buf_addc(b, '"');
	return r;
}

int hp_title_from_line(const char *s, size_t len, size_t max, char **ret)
{
	size_t i = 0;
	char *t = NULL;
	while (i < len) {
		size_t e = i;
		while (e < len && s[e] != '\n')
			e++;
		size_t a = i, z = e;
		while (a < z && isspace((unsigned char)s[a]))
			a++;
		while (z > a && isspace((unsigned char)s[z - 1]))
			z--;
		if (z > a) {
			if (z - a > max) {
				z = a + max;
				/* back off to a UTF-8 lead byte */
				while (z > a && ((unsigned char)s[z] & 0xC0) == 0x80)
					z--;
			}
			t = strndup(s + a, z - a);
			if (!t)
				return -ENOMEM;
			break;
		}
		i = e + 1;
	}
	*ret = t;
	return 0;
}

size_t hp_crlf_to_lf(char *s, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
			continue;
		s[j++] = s[i];
	}
	s[j] = '\0';
	return j;
}

/* ---- charsets ------------------------------------------------------------- */

static struct charset *charset_find(const char *name)
{
	if (!name || !*name)
		return NULL;
	size_t nl = strlen(name);
	for (size_t i = 0; i < HP_ARRAY_SIZE(charsets); i++) {
		struct charset *c = &charsets[i];
		if (strcasecmp(c->iconv, name) == 0)
			return c->cd ? c : NULL;
		for (const char *a = c->aliases; *a;) {
			const char *bar = strchr(a, '|');
			size_t al = bar ? (size_t)(bar - a) : strlen(a);
			if (al == nl && strncasecmp(a, name, nl) == 0)
				return c->cd ? c : NULL;
			a += al + (bar ? 1 : 0);
		}
	}
	return NULL;
}

int hp_charset_known(const char *charset)
{
	return charset_find(charset) != NULL;
}

static int check_text(const char *s, size_t len, char *err, size_t errlen)
{
	if (memchr(s, '\0', len)) {
		snprintf(err, errlen, "contains NUL bytes: binary data, not text");
		return -EINVAL;
	}
	return 0;
}

static int iconv_all(iconv_t cd, const char *data, size_t len, char **ret, size_t *ret_len)
{
	size_t cap = len * 2 + 16, used = 0;
	char *out = malloc(cap + 1);
	int r = 0, flushing = 0;
	if (!out)
		return -ENOMEM;
	iconv(cd, NULL, NULL, NULL, NULL);    /* reset shift state */
	char *in = (char *)data;
	size_t inleft = len;
	for (;;) {
		char *op = out + used;
		size_t oleft = cap - used;
		/* After the input, one call with NULL input writes any final
		 * shift sequence (stateful encodings such as ISO-2022-JP). */
		size_t n = flushing ? iconv(cd, NULL, NULL, &op, &oleft)
		                    : iconv(cd, &in, &inleft, &op, &oleft);
		used = (size_t)(op - out);
		if (n != (size_t)-1) {
			if (flushing)
				break;
			flushing = 1;
			continue;
		}
		if (errno == E2BIG) {
			size_t ncap = cap * 2;
			char *p = realloc(out, ncap + 1);
			if (!p) {
				r = -ENOMEM;
				goto fail;
			}
			out = p;
			cap = ncap;
			continue;
		}
		/* EINVAL: an incomplete sequence at the very end of the input, a
		 * file cut short mid-character: keep what came before it. */
		if (errno == EINVAL && !flushing && inleft < 8) {
			flushing = 1;
			continue;
		}
		r = -EINVAL;    /* EILSEQ */
		goto fail;
	}
	out[used] = '\0';
	*ret = out;
	*ret_len = used;
	return 0;
fail:
	free(out);
	return r;
}

/* s (malloc'd, valid UTF-8) as the result: no NULs, no BOM. Frees s on
 * failure. */
static int finish_valid(char *s, size_t n, char **ret, size_t *ret_len, char *err, size_t errlen)
{
	int r = check_text(s, n, err, errlen);
	if (r < 0) {
		free(s);
		return r;
	}
	/* A BOM may also survive decoding from UTF-16/32. */
	if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		memmove(s, s + 3, n - 3 + 1);
		n -= 3;
	}
	*ret = s;
	*ret_len = n;
	return 0;
}

static int finish_utf8(char *s, size_t n, char **ret, size_t *ret_len, char *err, size_t errlen)
{
	if (!hp_utf8_valid(s, n)) {
		free(s);
		snprintf(err, errlen, "not valid UTF-8 after charset detection");
		return -EINVAL;
	}
	return finish_valid(s, n, ret, ret_len, err, errlen);
}

int hp_to_utf8_from(const char *charset, const char *data, size_t len,
                    char **ret, size_t *ret_len, char *err, size_t errlen)
{
	int r = hp_convert_init();
	if (r < 0) {
		snprintf(err, errlen, "charset conversion is not available");
		return r;
	}
	if (strcasecmp(charset, "UTF-8") == 0 || strcasecmp(charset, "UTF8") == 0) {
		if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
			data += 3;
			len -= 3;
		}
		if (!hp_utf8_valid(data, len)) {
			snprintf(err, errlen, "not valid UTF-8");
			return -EINVAL;
		}
		char *s = malloc(len + 1);
		if (!s)
			return -ENOMEM;
		memcpy(s, data, len);
		s[len] = '\0';
		return finish_valid(s, len, ret, ret_len, err, errlen);
	}
	struct charset *c = charset_find(charset);
	if (!c) {
		snprintf(err, errlen, "unsupported charset %.40s", charset);
		return -ENOTSUP;
	}
	char *s;
	size_t n;
	r = iconv_all(c->cd, data, len, &s, &n);
	if (r == -EINVAL) {
		snprintf(err, errlen, "not valid %s text", c->iconv);
		return r;
	}
	if (r < 0)
		return r;
	return finish_utf8(s, n, ret, ret_len, err, errlen);
}

int hp_to_utf8(const char *data, size_t len, char **ret, size_t *ret_len,
               char *err, size_t errlen)
{
	const unsigned char *u = (const unsigned char *)data;
	int r;
	/* Byte order marks decide (WHATWG Encoding §6 "BOM sniff"). */
	if (len >= 4 && memcmp(u, "\xFF\xFE\0\0", 4) == 0)
		return hp_to_utf8_from("UTF-32LE", data + 4, len - 4, ret, ret_len, err, errlen);
	if (len >= 4 && memcmp(u, "\0\0\xFE\xFF", 4) == 0)
		return hp_to_utf8_from("UTF-32BE", data + 4, len - 4, ret, ret_len, err, errlen);
	if (len >= 2 && u[0] == 0xFF && u[1] == 0xFE)
		return hp_to_utf8_from("UTF-16LE", data + 2, len - 2, ret, ret_len, err, errlen);
	if (len >= 2 && u[0] == 0xFE && u[1] == 0xFF)
		return hp_to_utf8_from("UTF-16BE", data + 2, len - 2, ret, ret_len, err, errlen);
	if (len >= 3 && memcmp(u, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
	}
	/* Before the UTF-8 check: ASCII in UTF-16 is "valid UTF-8" with NULs. */
	const char *u16 = hp_utf16_bomless(data, len);
	if (u16)
		return hp_to_utf8_from(u16, data, len, ret, ret_len, err, errlen);
	/* UTF-8 cut short inside a character: the text before it. Only when
	 * that text has other UTF-8 characters: "caf\xE9" is Latin-1 "café". */
	for (size_t k = 1; k <= 3 && k < len; k++) {
		unsigned char c = (unsigned char)data[len - k];
		if ((c & 0xC0) == 0x80)
			continue;
		size_t need = c >= 0xF5 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
		int multibyte = 0;
		for (size_t i = 0; need > k && i < len - k && !multibyte; i++)
			multibyte = (unsigned char)data[i] >= 0x80;
		if (multibyte && hp_utf8_valid(data, len - k))
			len -= k;
		break;
	}
	if (hp_utf8_valid(data, len)) {
		char *c = malloc(len + 1);
		if (!c)
			return -ENOMEM;
		memcpy(c, data, len);
		c[len] = '\0';
		return finish_valid(c, len, ret, ret_len, err, errlen);
	}
	if (memchr(data, '\0', len)) {
		snprintf(err, errlen, "contains NUL bytes: binary data, not text");
		return -EINVAL;
	}

	uchardet_t ud = uchardet_new();
	if (!ud)
		return -ENOMEM;
	char name[64] = "";
	if (uchardet_handle_data(ud, data, len) == 0) {
		uchardet_data_end(ud);
		snprintf(name, sizeof(name), "%s", uchardet_get_charset(ud));
	}
	uchardet_delete(ud);
	r = -EINVAL;
	if (name[0] && strcasecmp(name, "UTF-8") != 0 && strcasecmp(name, "ASCII") != 0)
		r = hp_to_utf8_from(name, data, len, ret, ret_len, err, errlen);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		snprintf(err, errlen, "not valid UTF-8 after charset detection");
		return -EINVAL;
	}
	return 0;
}

/* ---- detection ------------------------------------------------------------ */

struct ext_map {
	const char *ext;
	hp_format fmt;
};

static const struct ext_map ext_formats[] = {
	{ "md", HP_FMT_MARKDOWN }, { "markdown", HP_FMT_MARKDOWN }, { "mdown", HP_FMT_MARKDOWN },
	{ "mkd", HP_FMT_MARKDOWN }, { "mdx", HP_FMT_MARKDOWN },
	{ "html", HP_FMT_HTML }, { "htm", HP_FMT_HTML }, { "xhtml", HP_FMT_HTML },
	{ "txt", HP_FMT_TEXT }, { "text", HP_FMT_TEXT }, { "log", HP_FMT_TEXT },
	{ "rst", HP_FMT_TEXT }, { "org", HP_FMT_TEXT },
	{ "csv", HP_FMT_CSV }, { "tsv", HP_FMT_CSV },
	{ "json", HP_FMT_JSON }, { "geojson", HP_FMT_JSON },
	{ "xml", HP_FMT_XML }, { "svg", HP_FMT_XML }, { "xsd", HP_FMT_XML }, { "xsl", HP_FMT_XML },
	{ "rss", HP_FMT_XML }, { "atom", HP_FMT_XML },
	{ "pdf", HP_FMT_PDF }, { "docx", HP_FMT_DOCX }, { "xlsx", HP_FMT_XLSX },
	{ "pptx", HP_FMT_PPTX }, { "odt", HP_FMT_ODT }, { "ods", HP_FMT_ODS },
	{ "odp", HP_FMT_ODP }, { "epub", HP_FMT_EPUB },
};

/* Source and configuration files: detected as code. */
static const char *const code_exts[] = {
	"c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx", "py", "pyi", "rb", "pl", "pm",
	"php", "js", "mjs", "cjs", "ts", "tsx", "jsx", "java", "kt", "kts", "scala", "go",
	"rs", "swift", "m", "mm", "cs", "fs", "vb", "lua", "sh", "bash", "zsh", "fish",
	"ps1", "bat", "cmd", "sql", "r", "jl", "dart", "ex", "exs", "erl", "hrl", "hs",
	"ml", "mli", "clj", "cljs", "el", "lisp", "scm", "rkt", "nim", "zig", "d", "pas",
	"f90", "f", "asm", "s", "cmake", "mk", "toml", "yaml", "yml", "ini", "cfg", "css",
	"scss", "less", "vue", "svelte", "tex", "proto", "gradle", "groovy", "tf",
};

/* Lower-case extension of name's base name into out ("" when none). */
static void name_ext(const char *name, char *out, size_t outlen)
{
	out[0] = '\0';
	if (!name)
		return;
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const char *dot = strrchr(base, '.');
	if (!dot || dot == base || strlen(dot + 1) >= outlen)
		return;
	size_t i = 0;
	for (const char *p = dot + 1; *p; p++)
		out[i++] = (char)tolower((unsigned char)*p);
	out[i] = '\0';
}

static hp_format ext_format(const char *ext)
{
	if (!*ext)
		return HP_FMT_UNKNOWN;
	for (size_t i = 0; i < HP_ARRAY_SIZE(ext_formats); i++)
		if (strcmp(ext_formats[i].ext, ext) == 0)
			return ext_formats[i].fmt;
	for (size_t i = 0; i < HP_ARRAY_SIZE(code_exts); i++)
		if (strcmp(code_exts[i], ext) == 0)
			return HP_FMT_CODE;
	return HP_FMT_UNKNOWN;
}

static int text_like(hp_format f)
{
	return f == HP_FMT_HTML || f == HP_FMT_MARKDOWN || f == HP_FMT_TEXT ||
	       f == HP_FMT_CSV || f == HP_FMT_JSON || f == HP_FMT_XML || f == HP_FMT_CODE;
}

/* Which document is inside a ZIP container? Member names are stored
 * uncompressed in the local headers and the central directory
 * (APPNOTE.TXT §4.3.7, §4.3.12), and ODF/EPUB store a "mimetype" member
 * first and uncompressed (ODF 1.2 part 3 §3.3, OCF §4.3). */
static hp_format zip_format(const char *d, size_t len)
{
	hp_format sniffed = hp_office_sniff(d, len);
	if (sniffed)
		return sniffed;
	static const struct { const char *needle; hp_format fmt; } sig[] = {
		{ "mimetypeapplication/vnd.oasis.opendocument.text", HP_FMT_ODT },
		{ "mimetypeapplication/vnd.oasis.opendocument.spreadsheet", HP_FMT_ODS },
		{ "mimetypeapplication/vnd.oasis.opendocument.presentation", HP_FMT_ODP },
		{ "mimetypeapplication/epub+zip", HP_FMT_EPUB },
		{ "word/document.xml", HP_FMT_DOCX },
		{ "xl/workbook.xml", HP_FMT_XLSX },
		{ "ppt/presentation.xml", HP_FMT_PPTX },
	};
	for (size_t i = 0; i < HP_ARRAY_SIZE(sig); i++)
		if (memmem(d, len, sig[i].needle, strlen(sig[i].needle)))
			return sig[i].fmt;
	return HP_FMT_UNKNOWN;
}

/* Signatures that decide by themselves (WHATWG MIME Sniffing §6.1-6.2,
 * APPNOTE.TXT §4.3.7, [MS-CFB] §2.2): checked at offset 0 before anything
 * else, so a text file that merely mentions "%PDF-" later is still text.
 * `fmt` UNKNOWN means "binary, and we know which": the MIME type goes into
 * the error message. WebP and BMP need more than a prefix: image_sig(). */
static const struct magic_sig {
	const char *sig;
	size_t len;
	hp_format fmt;
	const char *mime;
} magic_sigs[] = {
	{ "%PDF-", 5, HP_FMT_PDF, "application/pdf" },
	{ "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8, HP_FMT_UNKNOWN, "application/x-ole-storage" },
	{ "\x89PNG\r\n\x1A\n", 8, HP_FMT_IMAGE, "image/png" },
	{ "\xFF\xD8\xFF", 3, HP_FMT_IMAGE, "image/jpeg" },
	{ "GIF87a", 6, HP_FMT_IMAGE, "image/gif" },
	{ "GIF89a", 6, HP_FMT_IMAGE, "image/gif" },
	{ "II*\0", 4, HP_FMT_IMAGE, "image/tiff" },
	{ "MM\0*", 4, HP_FMT_IMAGE, "image/tiff" },
	{ "\x1F\x8B", 2, HP_FMT_UNKNOWN, "application/gzip" },
	{ "\x28\xB5\x2F\xFD", 4, HP_FMT_UNKNOWN, "application/zstd" },
	{ "\xFD" "7zXZ\0", 6, HP_FMT_UNKNOWN, "application/x-xz" },
	{ "7z\xBC\xAF\x27\x1C", 6, HP_FMT_UNKNOWN, "application/x-7z-compressed" },
	{ "Rar!\x1A\x07", 6, HP_FMT_UNKNOWN, "application/x-rar" },
	{ "\x7F" "ELF", 4, HP_FMT_UNKNOWN, "application/x-executable" },
	{ "{\\rtf", 5, HP_FMT_UNKNOWN, "text/rtf" },
};

/* WebP ("RIFF" size "WEBP", RFC 9649 §2) and BMP ("BM", two reserved
 * zero words, a known DIB header size): the MIME type, or NULL. Checked
 * in full, since "BM" alone starts ordinary text. */
static const char *image_sig(const unsigned char *d, size_t len)
{
	if (len >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
		return "image/webp";
	if (len >= 18 && d[0] == 'B' && d[1] == 'M' && !d[6] && !d[7] && !d[8] && !d[9]) {
		uint32_t dib = (uint32_t)d[14] | (uint32_t)d[15] << 8 | (uint32_t)d[16] << 16 |
		               (uint32_t)d[17] << 24;
		if (dib == 12 || dib == 40 || dib == 52 || dib == 56 || dib == 64 || dib == 108 ||
		    dib == 124)
			return "image/bmp";
	}
	return NULL;
}

/* Lower-case ASCII prefix match of s[0..n) against lit. */
static int starts_ci(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && strncasecmp(s, lit, l) == 0;
}

/* The bytes of d decoded as UTF-16 without a byte order mark? Text in a
 * Latin script has a NUL in every other byte; 'L' (little endian), 'B'
 * (big endian) or 0. Only the first 4 KiB are looked at, and they must
 * decode (surrogates paired) to characters that are not controls. */
static int utf16_guess(const unsigned char *d, size_t len)
{
	size_t n = (len < 4096 ? len : 4096) & ~(size_t)1;
	if (n < 4)
		return 0;    /* one character says nothing */
	size_t zero_even = 0, zero_odd = 0;
	for (size_t i = 0; i < n; i += 2) {
		zero_even += d[i] == 0;
		zero_odd += d[i + 1] == 0;
	}
	size_t units = n / 2;
	int le;
	if (zero_odd * 10 >= units * 7 && zero_even * 20 <= units)
		le = 1;
	else if (zero_even * 10 >= units * 7 && zero_odd * 20 <= units)
		le = 0;
	else
		return 0;
	for (size_t i = 0; i < n; i += 2) {
		unsigned u = le ? (unsigned)d[i] | (unsigned)d[i + 1] << 8
		                : (unsigned)d[i] << 8 | (unsigned)d[i + 1];
		if (u == 0 || (u < 0x20 && u != '\t' && u != '\n' && u != '\r' && u != '\f'))
			return 0;
		if (u >= 0xDC00 && u <= 0xDFFF)
			return 0;                    /* a low surrogate alone */
		if (u >= 0xD800 && u <= 0xDBFF) {
			if (i + 3 >= n)
				break;               /* cut at the 4 KiB window */
			unsigned v = le ? (unsigned)d[i + 2] | (unsigned)d[i + 3] << 8
			                : (unsigned)d[i + 2] << 8 | (unsigned)d[i + 3];
			if (v < 0xDC00 || v > 0xDFFF)
				return 0;
			i += 2;
		}
	}
	return le ? 'L' : 'B';
}

const char *hp_utf16_bomless(const char *data, size_t len)
{
	switch (utf16_guess((const unsigned char *)data, len)) {
	case 'L': return "UTF-16LE";
	case 'B': return "UTF-16BE";
	default: return NULL;
	}
}

/* Does this look like text in some charset? A byte order mark, UTF-16
 * without one, or no NUL bytes and few C0 controls other than the usual
 * whitespace in the first 64 KiB. */
static int looks_textual(const unsigned char *d, size_t len)
{
	if (len >= 2 && ((d[0] == 0xFF && d[1] == 0xFE) || (d[0] == 0xFE && d[1] == 0xFF)))
		return 1;
	if (len >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0)
		return 1;
	if (utf16_guess(d, len))
		return 1;
	size_t n = len < 65536 ? len : 65536, ctl = 0;
	for (size_t i = 0; i < n; i++) {
		/* skip 8 bytes at a time while none is below 0x20 */
		while (n - i >= 8) {
			uint64_t w;
			memcpy(&w, d + i, 8);
			const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
			if ((w - ones * 0x20) & ~w & highs)
				break;     /* some byte < 0x20 (Mycroft's "has less than") */
			i += 8;
		}
		if (i >= n)
			break;
		unsigned char c = d[i];
		if (c == 0)
			return 0;
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1B)
			ctl++;
	}
	return ctl * 100 <= n;
}

/* What text with no telling extension is, from its first bytes: HTML by
 * the WHATWG "scriptable MIME type" patterns (MIME Sniffing §7.1), XML by
 * its declaration, JSON by its brackets, code by a #! line. UNKNOWN when
 * the start says nothing (libmagic is asked then). Only ASCII-compatible
 * text is sniffed; UTF-16 is left to the extension. */
static hp_format sniff_text(const char *s, size_t len)
{
	static const char *const html_tags[] = {
		"<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div",
		"<font", "<table", "<a", "<style", "<title", "<b", "<body", "<br", "<p",
		"<!--",
	};
	if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		len -= 3;
	}
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\f'))
		i++;
	s += i;
	len -= i;
	if (len == 0)
		return HP_FMT_UNKNOWN;
	if (starts_ci(s, len, "<?xml")) {
		size_t w = len < 1024 ? len : 1024;
		if (memmem(s, w, "<html", 5) || memmem(s, w, "<!DOCTYPE html", 14))
			return HP_FMT_HTML;      /* XHTML */
		return HP_FMT_XML;
	}
	for (size_t k = 0; k < HP_ARRAY_SIZE(html_tags); k++) {
		size_t l = strlen(html_tags[k]);
		if (starts_ci(s, len, html_tags[k]) && len > l &&
		    (s[l] == ' ' || s[l] == '>' || (k == HP_ARRAY_SIZE(html_tags) - 1 && s[l] != 0)))
			return HP_FMT_HTML;
	}
	if (s[0] == '#' && len > 1 && s[1] == '!' && i == 0)
		return HP_FMT_CODE;
	if (s[0] == '{' || s[0] == '[') {
		size_t e = len;
		while (e > 0 && isspace((unsigned char)s[e - 1]))
			e--;
		size_t k = 1;
		while (k < e && isspace((unsigned char)s[k]))
			k++;
		/* "[section]" is INI, not JSON: after '[' comes a JSON value */
		int value_next = k < e && (strchr("{[\"-]", s[k]) || isdigit((unsigned char)s[k]) ||
		                           s[k] == 't' || s[k] == 'f' || s[k] == 'n');
		if (e > 0 && ((s[0] == '{' && s[e - 1] == '}' && k < e && (s[k] == '"' || s[k] == '}')) ||
		              (s[0] == '[' && s[e - 1] == ']' && value_next)))
			return HP_FMT_JSON;
	}
	return HP_FMT_UNKNOWN;
}

static const struct { const char *mime; hp_format fmt; } mime_formats[] = {
	{ "application/pdf", HP_FMT_PDF },
	{ "application/vnd.openxmlformats-officedocument.wordprocessingml.document", HP_FMT_DOCX },
	{ "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", HP_FMT_XLSX },
	{ "application/vnd.openxmlformats-officedocument.presentationml.presentation", HP_FMT_PPTX },
	{ "application/vnd.oasis.opendocument.text", HP_FMT_ODT },
	{ "application/vnd.oasis.opendocument.spreadsheet", HP_FMT_ODS },
	{ "application/vnd.oasis.opendocument.presentation", HP_FMT_ODP },
	{ "application/epub+zip", HP_FMT_EPUB },
	{ "text/html", HP_FMT_HTML },
	{ "application/xhtml+xml", HP_FMT_HTML },
	{ "text/xml", HP_FMT_XML },
	{ "application/xml", HP_FMT_XML },
	{ "image/svg+xml", HP_FMT_XML },
	{ "application/json", HP_FMT_JSON },
	{ "text/csv", HP_FMT_CSV },
	{ "application/csv", HP_FMT_CSV },
	{ "text/markdown", HP_FMT_MARKDOWN },
	{ "text/x-shellscript", HP_FMT_CODE },
	{ "text/x-script.python", HP_FMT_CODE },
	{ "text/x-perl", HP_FMT_CODE },
	{ "text/x-ruby", HP_FMT_CODE },
	{ "text/x-php", HP_FMT_CODE },
	{ "text/x-lua", HP_FMT_CODE },
	{ "text/x-tcl", HP_FMT_CODE },
	{ "application/javascript", HP_FMT_CODE },
	{ "text/javascript", HP_FMT_CODE },
	{ "image/png", HP_FMT_IMAGE },
	{ "image/jpeg", HP_FMT_IMAGE },
	{ "image/tiff", HP_FMT_IMAGE },
	{ "image/webp", HP_FMT_IMAGE },
	{ "image/gif", HP_FMT_IMAGE },
	{ "image/bmp", HP_FMT_IMAGE },
	{ "image/x-ms-bmp", HP_FMT_IMAGE },
};

/* libmagic's MIME type for data into mime; the format it names, or
 * UNKNOWN. */
static hp_format magic_format(const void *data, size_t len, char *mime, size_t mimelen)
{
	if (hp_convert_init() == 0) {
		const char *m = magic_buffer(magic_cookie, data, len);
		if (m)
			snprintf(mime, mimelen, "%s", m);
	}
	for (size_t i = 0; i < HP_ARRAY_SIZE(mime_formats); i++)
		if (strcmp(mime_formats[i].mime, mime) == 0)
			return mime_formats[i].fmt;
	return HP_FMT_UNKNOWN;
}

/* The detection behind hp_detect(); also reports a MIME type for error
 * messages. Order: signatures at offset 0 (PDF, ZIP containers, OLE,
 * images, archives); then text (a byte order mark, UTF-16 without one, or
 * bytes with no NULs and few controls), where a text extension decides and
 * else the first bytes do; libmagic only for what is still open: text with
 * no telling extension or start, and binary data with no known signature.
 * libmagic costs most of the instructions of a small file, and its text
 * guesses ("message/rfc822" for a .txt whose first line is "From:",
 * "application/pdf" for Go source mentioning "%PDF-", "image/x-tga" for
 * UTF-16 Markdown) are exactly where the name knows better. */
static hp_format detect(const char *name, const void *data, size_t len,
                        char *mime, size_t mimelen)
{
	char ext[16];
	name_ext(name, ext, sizeof(ext));
	hp_format by_ext = ext_format(ext);
	const unsigned char *d = data;

	snprintf(mime, mimelen, "application/octet-stream");
	if (len == 0) {
		snprintf(mime, mimelen, "inode/x-empty");
		return text_like(by_ext) ? by_ext : HP_FMT_TEXT;
	}
	if ((len >= 4 && memcmp(d, "PK\3\4", 4) == 0) || (len >= 4 && memcmp(d, "PK\5\6", 4) == 0)) {
		snprintf(mime, mimelen, "application/zip");
		hp_format z = zip_format(data, len);
		if (z)
			return z;
		if (by_ext >= HP_FMT_DOCX && by_ext <= HP_FMT_EPUB)
			return by_ext;
		return HP_FMT_UNKNOWN;
	}
	for (size_t i = 0; i < HP_ARRAY_SIZE(magic_sigs); i++)
		if (len >= magic_sigs[i].len && memcmp(d, magic_sigs[i].sig, magic_sigs[i].len) == 0) {
			snprintf(mime, mimelen, "%s", magic_sigs[i].mime);
			return magic_sigs[i].fmt;
		}
	const char *img = image_sig(d, len);
	if (img) {
		snprintf(mime, mimelen, "%s", img);
		return HP_FMT_IMAGE;
	}
	/* A PDF may have junk before its header (ISO 32000-2 §7.5.2 allows
	 * readers to look in the first 1024 bytes); trust that with the name. */
	if (by_ext == HP_FMT_PDF && memmem(d, len < 1024 ? len : 1024, "%PDF-", 5)) {
		snprintf(mime, mimelen, "application/pdf");
		return HP_FMT_PDF;
	}

	if (looks_textual(d, len)) {
		snprintf(mime, mimelen, "text/plain");
		/* A clear text extension wins: a Markdown file with HTML in it is
		 * Markdown; a .txt file that starts like a mail is text. */
		if (text_like(by_ext))
			return by_ext;
		hp_format f = sniff_text(data, len);
		if (f)
			return f;
		f = magic_format(data, len, mime, mimelen);
		if (f && text_like(f))
			return f;
		return HP_FMT_TEXT;
	}
	/* Binary with no signature we know: ask libmagic (for the formats it
	 * knows by deeper rules, and for the error message). */
	hp_format f = magic_format(data, len, mime, mimelen);
	if (strcmp(mime, "application/zip") == 0 && (f = zip_format(data, len)))
		return f;    /* a ZIP behind a prefix (self-extracting) */
	if (f && !text_like(f))
		return f;
	return HP_FMT_UNKNOWN;
}

hp_format hp_detect(const char *name, const void *data, size_t len)
{
	char mime[128];
	return detect(name, data, len, mime, sizeof(mime));
}

/* ---- conversion ----------------------------------------------------------- */

void hp_doc_free(hp_doc *doc)
{
	if (!doc)
		return;
	for (size_t i = 0; i < doc->nwarnings; i++)
		free(doc->warnings[i]);
	free(doc->warnings);
	free(doc->title);
	free(doc->markdown);
	free(doc->meta_json);
	free(doc);
}

static HP_PRINTF(3, 0) int doc_vwarn(hp_doc *doc, char **ret_s, const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return -ENOMEM;
	*ret_s = s;
	if (doc->nwarnings >= HP_WARN_MAX)
		return 0;    /* counted when merged; the caller still owns s */
	char **w = realloc(doc->warnings, (doc->nwarnings + 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	doc->warnings = w;
	w[doc->nwarnings++] = s;
	*ret_s = NULL;
	return 0;
}

int hp_doc_warn(hp_doc *doc, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = doc_vwarn(doc, &s, fmt, ap);
	va_end(ap);
	if (r == 0 && s)
		doc->nwarnings_over++;
	free(s);
	return r;
}

int hp_conv_note(hp_doc *doc, hp_buf *md, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = hp_doc_warn(doc, "%s", s);
	if (r == 0) {
		/* its own paragraph, whatever came before */
		const char *sep = md->len == 0 ? "" :
		                  md->data[md->len - 1] != '\n' ? "\n\n" :
		                  md->len >= 2 && md->data[md->len - 2] == '\n' ? "" : "\n";
		r = hp_buf_addf(md, "%s> Note: %s\n", sep, s);
	}
	free(s);
	return r;
}

/* doc->meta_json with "warnings": [...] added. 0 or -ENOMEM. */
static int merge_warnings(hp_doc *doc)
{
	if (!doc->nwarnings)
		return 0;
	hp_buf b;
	hp_buf_init(&b, 0);
	int r = 0;
	const char *m = doc->meta_json;
	size_t ml = m ? strlen(m) : 0;
	while (ml && (m[ml - 1] == ' ' || m[ml - 1] == '\n'))
		ml--;
	if (m && ml >= 2 && m[0] == '{' && m[ml - 1] == '}') {
		size_t inner = ml - 1;
		while (inner > 1 && (m[inner - 1] == ' ' || m[inner - 1] == '\n'))
			inner--;
		r = hp_buf_add(&b, m, inner);
		if (r == 0 && inner > 1)
			r = hp_buf_addstr(&b, ", ");
	} else
		r = hp_buf_addc(&b, '{');
	if (r == 0)
		r = hp_buf_addstr(&b, "\"warnings\": [");
	for (size_t i = 0; r == 0 && i < doc->nwarnings; i++) {
		if (i)
			r = hp_buf_addstr(&b, ", ");
		if (r == 0)
			r = hp_json_str(&b, doc->warnings[i]);
	}
	if (r == 0 && doc->nwarnings_over)
		r = hp_buf_addf(&b, ", \"and %zu more\"", doc->nwarnings_over);
	if (r == 0)
		r = hp_buf_addstr(&b, "]}");
	if (r < 0) {
		hp_buf_free(&b);
		return r;
	}
	free(doc->meta_json);
	doc->meta_json = hp_buf_steal(&b);
	return doc->meta_json ? 0 : -ENOMEM;
}

static const char *const not_yet_names[HP_FMT__MAX] = {
	[HP_FMT_PDF] = "PDF", [HP_FMT_DOCX] = "DOCX", [HP_FMT_XLSX] = "XLSX",
	[HP_FMT_PPTX] = "PPTX", [HP_FMT_ODT] = "ODT", [HP_FMT_ODS] = "ODS",
	[HP_FMT_ODP] = "ODP", [HP_FMT_EPUB] = "EPUB",
};

int hp_convert(const char *name, const void *data, size_t len,
               const hp_convert_limits *lim, hp_doc **ret_doc,
               char *err, size_t errlen)
{
	static const hp_convert_limits defaults = { .max_output = 64u << 20, .max_depth = 256 };
	hp_convert_limits l = lim ? *lim : defaults;
	if (!l.max_output)
		l.max_output = defaults.max_output;
	if (l.max_depth <= 0)
		l.max_depth = defaults.max_depth;
	char mime[128];
	hp_doc *doc = NULL;
	int r;

	if (len == 0) {
		snprintf(err, errlen, "empty file (0 bytes)");
		r = -EINVAL;
		goto fail;
	}
	hp_format f = detect(name, data, len, mime, sizeof(mime));
	if (f == HP_FMT_UNKNOWN) {
		if (strcmp(mime, "application/x-ole-storage") == 0)
			snprintf(err, errlen, "legacy Office file (OLE2: .doc, .xls, .ppt or .msg) is not "
			         "supported; save it as .docx, .xlsx or .pptx");
		else
			snprintf(err, errlen, "unrecognised format (%s)", mime);
		r = -ENOTSUP;
		goto fail;
	}
	const hp_converter *conv = converter_for(f);
	if (!conv) {
		if (not_yet_names[f])
			snprintf(err, errlen, "%s documents are not supported yet", not_yet_names[f]);
		else
			snprintf(err, errlen, "%s documents are not supported yet", hp_format_name(f));
		r = -ENOTSUP;
		goto fail;
	}
	doc = calloc(1, sizeof(*doc));
	if (!doc) {
		r = -ENOMEM;
		goto fail;
	}
	doc->format = f;
	err[0] = '\0';
	r = conv->convert(name, data, len, &l, doc, err, errlen);
	if (r < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s conversion failed: %s", hp_format_name(f), strerror(-r));
		goto fail;
	}
	if (!doc->markdown) {
		snprintf(err, errlen, "%s conversion produced no output", hp_format_name(f));
		r = -EINVAL;
		goto fail;
	}
	if (doc->markdown_len > l.max_output) {
		r = hp_conv_efbig(l.max_output, err, errlen);
		goto fail;
	}
	if ((r = merge_warnings(doc)) < 0)
		goto fail;
	*ret_doc = doc;
	return 0;
fail:
	hp_doc_free(doc);
	if (r == -ENOMEM && errlen)
		snprintf(err, errlen, "out of memory");
	return r;
}

int hp_conv_as_is(const char *data, size_t len, const hp_convert_limits *lim,
                  int (*title_fn)(const char *s, size_t n, char **ret), hp_doc *doc,
                  char *err, size_t errlen)
{
	char *s = NULL, *title = NULL;
	size_t n;
	int r = hp_to_utf8(data, len, &s, &n, err, errlen);
	if (r < 0)
		goto fail;
	n = hp_crlf_to_lf(s, n);
	if (n > lim->max_output) {
		r = hp_conv_efbig(lim->max_output, err, errlen);
		goto fail;
	}
	r = title_fn(s, n, &title);
	if (r < 0)
		goto fail;
	doc->markdown = s;
	doc->markdown_len = n;
	doc->title = title;
	return 0;
fail:
	free(s);
	return r;
}
