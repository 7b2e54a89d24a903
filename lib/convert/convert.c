/* convert.c — format detection, the converter table, charset handling.
 * See include/hopper/convert.h for the contract.
 *
 * Detection: content first. libmagic gives a MIME type; office formats
 * (ZIP containers) are told apart by the member names inside the archive
 * ("word/", "xl/", "ppt/", an ODF/EPUB "mimetype" member), because libmagic
 * says only "application/zip" when [Content_Types].xml is not the first
 * member. For text-like content the file extension decides between text,
 * Markdown, HTML, CSV, JSON, XML and source code, since those are often
 * indistinguishable by content. Bytes that are neither a known type nor
 * text are HP_FMT_UNKNOWN.
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
};

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
		r = -EINVAL;    /* EILSEQ or a truncated sequence (EINVAL) */
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

static int finish_utf8(char *s, size_t n, char **ret, size_t *ret_len, char *err, size_t errlen)
{
	if (!hp_utf8_valid(s, n)) {
		free(s);
		snprintf(err, errlen, "not valid UTF-8 after charset detection");
		return -EINVAL;
	}
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
		return finish_utf8(s, len, ret, ret_len, err, errlen);
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
	if (hp_utf8_valid(data, len))
		return hp_to_utf8_from("UTF-8", data, len, ret, ret_len, err, errlen);
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

/* Does this look like text in some charset? No NUL bytes (unless a UTF-16/32
 * BOM says so) and few C0 controls other than the usual whitespace. */
static int looks_textual(const unsigned char *d, size_t len)
{
	if (len >= 2 && ((d[0] == 0xFF && d[1] == 0xFE) || (d[0] == 0xFE && d[1] == 0xFF)))
		return 1;
	size_t n = len < 65536 ? len : 65536, ctl = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = d[i];
		if (c == 0)
			return 0;
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1B)
			ctl++;
	}
	return ctl * 100 <= n;
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

static int is_zip_mime(const char *mime)
{
	return strcmp(mime, "application/zip") == 0 || strcmp(mime, "application/x-zip") == 0 ||
	       strcmp(mime, "application/x-zip-compressed") == 0 ||
	       strcmp(mime, "application/java-archive") == 0;
}

/* The detection behind hp_detect(); also reports libmagic's MIME type for
 * error messages. */
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
	if (hp_convert_init() == 0) {
		const char *m = magic_buffer(magic_cookie, data, len);
		if (m)
			snprintf(mime, mimelen, "%s", m);
	}

	hp_format by_mime = HP_FMT_UNKNOWN;
	for (size_t i = 0; i < HP_ARRAY_SIZE(mime_formats); i++)
		if (strcmp(mime_formats[i].mime, mime) == 0)
			by_mime = mime_formats[i].fmt;

	if (is_zip_mime(mime) || (len >= 4 && memcmp(d, "PK\3\4", 4) == 0 && !by_mime)) {
		hp_format z = zip_format(data, len);
		if (z)
			return z;
		if (by_ext >= HP_FMT_DOCX && by_ext <= HP_FMT_EPUB)
			return by_ext;
		return HP_FMT_UNKNOWN;
	}
	if (by_mime && !text_like(by_mime))
		return by_mime;    /* PDF and office types: the content says so */

	int textual = by_mime || strncmp(mime, "text/", 5) == 0 ||
	              ((strcmp(mime, "application/octet-stream") == 0 ||
	                strcmp(mime, "application/x-wine-extension-ini") == 0) &&
	               looks_textual(d, len));
	if (!textual)
		return HP_FMT_UNKNOWN;
	/* Text-like content: the name disambiguates (a Markdown file with
	 * HTML in it is Markdown; a .txt file that libmagic thinks is C is
	 * text). */
	if (text_like(by_ext))
		return by_ext;
	if (by_mime)
		return by_mime;
	return HP_FMT_TEXT;
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
	free(doc->title);
	free(doc->markdown);
	free(doc->meta_json);
	free(doc);
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
		snprintf(err, errlen, "unrecognised format (%s)", mime);
		r = -ENOTSUP;
		goto fail;
	}
	const hp_converter *conv = NULL;
	for (size_t i = 0; i < HP_ARRAY_SIZE(converters); i++)
		if (converters[i]->format == f)
			conv = converters[i];
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
