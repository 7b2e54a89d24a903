/* zip.c — a ZIP reader for untrusted archives, on libzip. See office.h.
 *
 * Threat model: the archive is hostile. ZIP headers say how large each
 * entry is (APPNOTE.TXT §4.4.8-9), but a bomb can lie. So:
 *  - the number of entries is checked at open (an archive with a million
 *    empty entries costs memory in the central directory alone);
 *  - the declared size of an entry must fit the job's remaining inflate
 *    budget, and its declared ratio the ratio limit, before a byte is read;
 *  - while reading, the bytes actually inflated are counted against the
 *    declared size (more is an error) and the job's budget, so a lying
 *    header gains nothing;
 *  - encrypted entries are refused (no password to try).
 * Small entries are exempt from the ratio check (a 600 KB run of spaces
 * compresses 1000:1 and is harmless); the total budget still holds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zip.h>

#include "convert-int.h"
#include "office.h"

/* Below this declared size the ratio limit does not apply. */
#define RATIO_FLOOR ((uint64_t)1 << 20)

struct hp_zip {
	zip_t *za;
	uint64_t n;
	uint64_t max_total, inflated;
	uint32_t max_ratio;
};

struct hp_zip_stream {
	hp_zip *z;
	zip_file_t *f;
	char name[512];
	uint64_t size, comp, got;
};

int hp_office_err(int r, char *err, size_t errlen, const char *fmt, ...)
{
	if (errlen && !err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

static void size_words(uint64_t b, char *out, size_t outlen)
{
	const uint64_t mib = (uint64_t)1 << 20;
	if (b >= mib && b % mib == 0)
		snprintf(out, outlen, "%" PRIu64 " MiB", b / mib);
	else
		hp_format_size(b, out, outlen);
}

int hp_zip_open(const void *data, size_t len, const hp_convert_limits *lim,
                hp_zip **ret, char *err, size_t errlen)
{
	zip_error_t ze;
	zip_error_init(&ze);
	hp_zip *z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->max_total = lim && lim->zip_max_total ? lim->zip_max_total : HP_ZIP_DEFAULT_MAX_TOTAL;
	z->max_ratio = lim && lim->zip_max_ratio ? lim->zip_max_ratio : HP_ZIP_DEFAULT_MAX_RATIO;
	uint64_t max_entries = lim && lim->zip_max_entries ? lim->zip_max_entries
	                                                   : HP_ZIP_DEFAULT_MAX_ENTRIES;
	int r;
	zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
	if (!src) {
		r = -ENOMEM;
		goto fail;
	}
	z->za = zip_open_from_source(src, ZIP_RDONLY, &ze);
	if (!z->za) {
		zip_source_free(src);
		int code = zip_error_code_zip(&ze);
		r = code == ZIP_ER_MEMORY ? -ENOMEM : -EINVAL;
		hp_office_err(r, err, errlen, "not a valid ZIP archive (%s)",
		              code == ZIP_ER_NOZIP ? "no central directory: truncated or not a ZIP file"
		                                   : zip_error_strerror(&ze));
		goto fail;
	}
	zip_int64_t n = zip_get_num_entries(z->za, 0);
	if (n < 0) {
		r = hp_office_err(-EINVAL, err, errlen, "not a valid ZIP archive");
		goto fail;
	}
	if ((uint64_t)n > max_entries) {
		r = hp_office_err(-EFBIG, err, errlen,
		                  "zip has %" PRId64 " entries, over the limit of %" PRIu64 " (zip_max_entries)",
		                  (int64_t)n, max_entries);
		goto fail;
	}
	z->n = (uint64_t)n;
	zip_error_fini(&ze);
	*ret = z;
	return 0;
fail:
	zip_error_fini(&ze);
	hp_zip_close(z);
	return r;
}

void hp_zip_close(hp_zip *z)
{
	if (!z)
		return;
	if (z->za)
		zip_discard(z->za);
	free(z);
}

uint64_t hp_zip_count(hp_zip *z)
{
	return z->n;
}

const char *hp_zip_name(hp_zip *z, uint64_t i)
{
	return i < z->n ? zip_get_name(z->za, i, 0) : NULL;
}

int64_t hp_zip_find(hp_zip *z, const char *name)
{
	if (name[0] == '/')
		name++;
	zip_int64_t i = zip_name_locate(z->za, name, ZIP_FL_NOCASE);
	return i < 0 ? -1 : (int64_t)i;
}

int hp_zip_stream_open(hp_zip *z, const char *name, hp_zip_stream **ret, char *err, size_t errlen)
{
	int64_t i = hp_zip_find(z, name);
	if (i < 0)
		return -ENOENT;
	zip_stat_t st;
	zip_stat_init(&st);
	if (zip_stat_index(z->za, (zip_uint64_t)i, 0, &st) < 0 ||
	    !(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
		return hp_office_err(-EINVAL, err, errlen, "zip entry %s: unreadable header", name);
	if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
		return hp_office_err(-EINVAL, err, errlen, "zip entry %s is encrypted", name);
	uint64_t ratio = st.comp_size ? st.size / st.comp_size : st.size;
	char total[32];
	size_words(z->max_total, total, sizeof(total));
	if (st.size > z->max_total - z->inflated)
		return hp_office_err(-EFBIG, err, errlen,
		                     "zip entry %s expands past %s (ratio %" PRIu64 ":1; zip_max_total)",
		                     name, total, ratio);
	if (st.size >= RATIO_FLOOR && ratio > z->max_ratio)
		return hp_office_err(-EFBIG, err, errlen,
		                     "zip entry %s expands %" PRIu64 ":1, over the limit of %u:1 (zip_max_ratio)",
		                     name, ratio, z->max_ratio);
	hp_zip_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->f = zip_fopen_index(z->za, (zip_uint64_t)i, 0);
	if (!s->f) {
		zip_error_t *ze = zip_get_error(z->za);
		int code = zip_error_code_zip(ze);
		free(s);
		if (code == ZIP_ER_MEMORY)
			return -ENOMEM;
		return hp_office_err(-EINVAL, err, errlen, "zip entry %s cannot be read (%s)", name,
		                     code == ZIP_ER_COMPNOTSUPP ? "unsupported compression method"
		                                                : zip_error_strerror(ze));
	}
	s->z = z;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->size = st.size;
	s->comp = st.comp_size;
	*ret = s;
	return 0;
}

ssize_t hp_zip_stream_read(hp_zip_stream *s, void *buf, size_t n, char *err, size_t errlen)
{
	/* One byte more than declared is enough to tell a lying header. */
	uint64_t room = s->size - s->got + 1;
	if (n > room)
		n = (size_t)room;
	zip_int64_t got = zip_fread(s->f, buf, n);
	if (got < 0) {
		zip_error_t *ze = zip_file_get_error(s->f);
		int code = zip_error_code_zip(ze);
		if (code == ZIP_ER_MEMORY)
			return -ENOMEM;
		return hp_office_err(-EINVAL, err, errlen, "zip entry %s is corrupt (%s)", s->name,
		                     code == ZIP_ER_CRC ? "checksum mismatch" : zip_error_strerror(ze));
	}
	s->got += (uint64_t)got;
	if (s->got > s->size)
		return hp_office_err(-EINVAL, err, errlen,
		                     "zip entry %s is larger than its header says", s->name);
	hp_zip *z = s->z;
	z->inflated += (uint64_t)got;
	if (z->inflated > z->max_total) {
		char total[32];
		size_words(z->max_total, total, sizeof(total));
		return hp_office_err(-EFBIG, err, errlen,
		                     "zip entry %s expands past %s (ratio %" PRIu64 ":1; zip_max_total)",
		                     s->name, total, s->comp ? s->size / s->comp : s->size);
	}
	return (ssize_t)got;
}

void hp_zip_stream_close(hp_zip_stream *s)
{
	if (!s)
		return;
	if (s->f)
		zip_fclose(s->f);
	free(s);
}

int hp_zip_read(hp_zip *z, const char *name, size_t max, char **ret, size_t *ret_len,
                char *err, size_t errlen)
{
	hp_zip_stream *s;
	int r = hp_zip_stream_open(z, name, &s, err, errlen);
	if (r < 0)
		return r;
	hp_buf b;
	hp_buf_init(&b, max);
	for (;;) {
		if (b.len == max) {
			/* Full: one more byte means over max. */
			char c;
			ssize_t k = hp_zip_stream_read(s, &c, 1, err, errlen);
			r = k < 0 ? (int)k
			          : k > 0 ? hp_office_err(-EFBIG, err, errlen,
			                                  "zip entry %s is larger than %zu bytes", name, max)
			                  : 0;
			break;
		}
		size_t want = max - b.len < 65536 ? max - b.len : 65536;
		if ((r = hp_buf_reserve(&b, want)) < 0)
			break;
		ssize_t k = hp_zip_stream_read(s, b.data + b.len, want, err, errlen);
		if (k <= 0) {
			r = (int)k;
			break;
		}
		b.len += (size_t)k;
		b.data[b.len] = '\0';
	}
	hp_zip_stream_close(s);
	if (r < 0) {
		hp_buf_free(&b);
		return r;
	}
	size_t len = b.len;
	char *p = hp_buf_steal(&b);
	if (!p)
		return -ENOMEM;
	*ret = p;
	*ret_len = len;
	return 0;
}

hp_format hp_office_sniff(const void *data, size_t len)
{
	static const struct { const char *needle; hp_format fmt; } types[] = {
		/* ODF 1.2 part 3 §3.3 and OCF §4.3: the whole "mimetype" entry */
		{ "application/vnd.oasis.opendocument.text", HP_FMT_ODT },
		{ "application/vnd.oasis.opendocument.spreadsheet", HP_FMT_ODS },
		{ "application/vnd.oasis.opendocument.presentation", HP_FMT_ODP },
		{ "application/epub+zip", HP_FMT_EPUB },
		/* ECMA-376 Part 2 §10.1.2.4: the main part's content type */
		{ "wordprocessingml.document.main+xml", HP_FMT_DOCX },
		{ "wordprocessingml.template.main+xml", HP_FMT_DOCX },
		{ "ms-word.document.macroEnabled.main+xml", HP_FMT_DOCX },
		{ "ms-word.template.macroEnabledTemplate.main+xml", HP_FMT_DOCX },
		{ "spreadsheetml.sheet.main+xml", HP_FMT_XLSX },
		{ "spreadsheetml.template.main+xml", HP_FMT_XLSX },
		{ "ms-excel.sheet.macroEnabled.main+xml", HP_FMT_XLSX },
		{ "presentationml.presentation.main+xml", HP_FMT_PPTX },
		{ "presentationml.slideshow.main+xml", HP_FMT_PPTX },
		{ "presentationml.template.main+xml", HP_FMT_PPTX },
		{ "ms-powerpoint.presentation.macroEnabled.main+xml", HP_FMT_PPTX },
	};
	hp_convert_limits lim = { .zip_max_total = 2u << 20 };
	hp_zip *z;
	char err[8] = "";
	hp_format f = HP_FMT_UNKNOWN;
	if (hp_zip_open(data, len, &lim, &z, err, sizeof(err)) < 0)
		return HP_FMT_UNKNOWN;
	char *s = NULL;
	size_t n;
	size_t first = 0, last = 4;
	if (hp_zip_read(z, "mimetype", 4096, &s, &n, err, sizeof(err)) == 0) {
		/* trailing whitespace is a common writer mistake */
		while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
			s[--n] = '\0';
	} else if (hp_zip_read(z, "[Content_Types].xml", 1u << 20, &s, &n, err, sizeof(err)) == 0) {
		first = 4;
		last = HP_ARRAY_SIZE(types);
	}
	for (size_t i = first; s && i < last && !f; i++)
		if (first ? strstr(s, types[i].needle) != NULL : strcmp(s, types[i].needle) == 0)
			f = types[i].fmt;
	free(s);
	hp_zip_close(z);
	return f;
}

int hp_zip_resolve(const char *base_part, const char *target, char *out, size_t outlen)
{
	char tmp[1024];
	size_t n = 0;
	if (target[0] == '/') {
		target++;
	} else {
		const char *slash = strrchr(base_part, '/');
		n = slash ? (size_t)(slash - base_part) + 1 : 0;
		if (n >= sizeof(tmp))
			return -ENAMETOOLONG;
		memcpy(tmp, base_part, n);
	}
	if (n + strlen(target) >= sizeof(tmp))
		return -ENAMETOOLONG;
	strcpy(tmp + n, target);
	/* Normalise segments: drop "." and empty ones, ".." pops. */
	char *seg[128];
	int ns = 0;
	for (char *save = NULL, *p = strtok_r(tmp, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (strcmp(p, ".") == 0)
			continue;
		if (strcmp(p, "..") == 0) {
			if (ns > 0)
				ns--;
			continue;
		}
		if (ns == (int)HP_ARRAY_SIZE(seg))
			return -ENAMETOOLONG;
		seg[ns++] = p;
	}
	size_t o = 0;
	for (int i = 0; i < ns; i++) {
		size_t l = strlen(seg[i]);
		if (o + l + 2 > outlen)
			return -ENAMETOOLONG;
		if (i)
			out[o++] = '/';
		memcpy(out + o, seg[i], l);
		o += l;
	}
	if (outlen == 0)
		return -ENAMETOOLONG;
	out[o] = '\0';
	/* Percent-encoded names (%20) in targets: decode in place. */
	char *w = out;
	for (const char *p = out; *p; p++) {
		if (p[0] == '%' && p[1] && p[2] && strchr("0123456789abcdefABCDEF", p[1]) &&
		    strchr("0123456789abcdefABCDEF", p[2])) {
			char hx[3] = { p[1], p[2], 0 };
			*w++ = (char)strtol(hx, NULL, 16);
			p += 2;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return 0;
}
