/* epub.c — EPUB 2/3 books to Markdown.
 *
 * META-INF/container.xml names the package document (OPF, EPUB 3.3 §4.2.6);
 * its metadata gives the title, authors (dc:creator), language and date,
 * its spine the reading order. Each spine item is converted by the HTML
 * converter (hp_conv_html) and the results are joined in spine order under
 * a "# Title" and "**Authors:** ..." header. Items that are not XHTML/HTML
 * are skipped with a warning; a missing item is a warning, not a failure.
 * The OPF may have a DOCTYPE (EPUB 2 tools write one) but never entity
 * declarations (hp_xr refuses those).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert-int.h"
#include "office.h"

#define MAX_ITEMS 20000

struct item {
	char *id, *href, *type;
};

struct epub {
	hp_zip *z;
	const hp_convert_limits *lim;
	char *err;
	size_t errlen;
	char opf[1024];
	struct item *items;
	size_t nitems;
	char **spine;
	size_t nspine;
	hp_buf authors;
	char *description;
	hp_md md;
	hp_meta meta;
};

/* META-INF/encryption.xml (OCF §3.5.4) lists encrypted resources. Fonts
 * are often "encrypted" by the IDPF/Adobe obfuscation, which is harmless;
 * encrypted chapters mean DRM, and their bytes would only be garbage. */
static int check_drm(struct epub *e)
{
	hp_xr *x;
	int r = hp_xr_open(e->z, "META-INF/encryption.xml", e->lim, HP_XR_ALLOW_DOCTYPE, &x, e->err, e->errlen);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	int drm = 0;
	while ((r = hp_xr_next(x)) > 0 && !drm) {
		if (hp_xr_type(x) != HP_XR_START || strcmp(hp_xr_local(x), "CipherReference") != 0)
			continue;
		const char *uri = hp_xr_attr(x, HP_NS_NONE, "URI");
		const char *dot = uri ? strrchr(uri, '.') : NULL;
		if (dot && (strcasecmp(dot, ".xhtml") == 0 || strcasecmp(dot, ".html") == 0 ||
		            strcasecmp(dot, ".htm") == 0 || strcasecmp(dot, ".opf") == 0))
			drm = 1;
	}
	hp_xr_close(x);
	if (r < 0)
		return r;
	if (drm)
		return hp_office_err(-EINVAL, e->err, e->errlen,
		                     "EPUB with encrypted chapters (DRM), cannot read its text");
	return 0;
}

static int find_opf(struct epub *e)
{
	hp_xr *x;
	int r = hp_xr_open(e->z, "META-INF/container.xml", e->lim, HP_XR_ALLOW_DOCTYPE, &x, e->err, e->errlen);
	if (r == -ENOENT)
		return hp_office_err(-EINVAL, e->err, e->errlen, "EPUB has no META-INF/container.xml");
	if (r < 0)
		return r;
	while ((r = hp_xr_next(x)) > 0) {
		if (hp_xr_type(x) == HP_XR_START && strcmp(hp_xr_local(x), "rootfile") == 0) {
			const char *p = hp_xr_attr(x, HP_NS_NONE, "full-path");
			if (p && !e->opf[0] && hp_zip_resolve("", p, e->opf, sizeof(e->opf)) < 0)
				e->opf[0] = '\0';
		}
	}
	hp_xr_close(x);
	if (r == 0 && !e->opf[0])
		r = hp_office_err(-EINVAL, e->err, e->errlen, "EPUB container.xml names no package document");
	return r;
}

static int item_cmp(const void *a, const void *b)
{
	const char *x = ((const struct item *)a)->id, *y = ((const struct item *)b)->id;
	return strcmp(x ? x : "", y ? y : "");
}

static int take(char **dst, const char *v)
{
	if (!v) {
		*dst = NULL;
		return 0;
	}
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

static int read_opf(struct epub *e)
{
	hp_xr *x;
	int r = hp_xr_open(e->z, e->opf, e->lim, HP_XR_ALLOW_DOCTYPE, &x, e->err, e->errlen);
	if (r == -ENOENT)
		return hp_office_err(-EINVAL, e->err, e->errlen, "EPUB package document %s is missing", e->opf);
	if (r < 0)
		return r;
	hp_buf b;
	hp_buf_init(&b, 64 * 1024);
	size_t icap = 0, scap = 0;
	while ((r = hp_xr_next(x)) > 0) {
		if (hp_xr_type(x) != HP_XR_START)
			continue;
		enum hp_ns ns = hp_xr_ns(x);
		const char *ln = hp_xr_local(x);
		if (ns == HP_NS_DC) {
			char **dst = strcmp(ln, "title") == 0 ? &e->meta.title
			           : strcmp(ln, "language") == 0 ? &e->meta.lang
			           : strcmp(ln, "date") == 0 ? &e->meta.created
			           : strcmp(ln, "description") == 0 ? &e->description : NULL;
			int creator = strcmp(ln, "creator") == 0;
			if (!dst && !creator)
				continue;
			hp_buf_reset(&b);
			if ((r = hp_xr_collect_text(x, &b)) < 0)
				break;
			if (!b.len)
				continue;
			if (creator) {
				if (e->authors.len && (r = hp_buf_addstr(&e->authors, ", ")) < 0)
					break;
				if ((r = hp_buf_addstr(&e->authors, b.data)) < 0)
					break;
			} else if (!*dst && !(*dst = strdup(b.data))) {
				r = -ENOMEM;
				break;
			}
		} else if (strcmp(ln, "item") == 0 && e->nitems < MAX_ITEMS) {
			if (e->nitems == icap) {
				size_t nc = icap ? icap * 2 : 32;
				struct item *v = realloc(e->items, nc * sizeof(*v));
				if (!v) {
					r = -ENOMEM;
					break;
				}
				e->items = v;
				icap = nc;
			}
			struct item *it = &e->items[e->nitems];
			memset(it, 0, sizeof(*it));
			e->nitems++;
			if ((r = take(&it->id, hp_xr_attr(x, HP_NS_NONE, "id"))) < 0 ||
			    (r = take(&it->href, hp_xr_attr(x, HP_NS_NONE, "href"))) < 0 ||
			    (r = take(&it->type, hp_xr_attr(x, HP_NS_NONE, "media-type"))) < 0)
				break;
		} else if (strcmp(ln, "itemref") == 0 && e->nspine < MAX_ITEMS) {
			const char *id = hp_xr_attr(x, HP_NS_NONE, "idref");
			if (!id)
				continue;
			if (e->nspine == scap) {
				size_t nc = scap ? scap * 2 : 32;
				char **v = realloc(e->spine, nc * sizeof(*v));
				if (!v) {
					r = -ENOMEM;
					break;
				}
				e->spine = v;
				scap = nc;
			}
			if (!(e->spine[e->nspine] = strdup(id))) {
				r = -ENOMEM;
				break;
			}
			e->nspine++;
		}
	}
	hp_buf_free(&b);
	hp_xr_close(x);
	if (r == 0 && e->nitems > 1)
		qsort(e->items, e->nitems, sizeof(*e->items), item_cmp);
	return r;
}

/* The manifest is sorted by id after reading (read_opf). */
static const struct item *item_by_id(struct epub *e, const char *id)
{
	struct item key = { .id = (char *)id };
	return e->nitems ? bsearch(&key, e->items, e->nitems, sizeof(*e->items), item_cmp) : NULL;
}

static int do_item(struct epub *e, const struct item *it)
{
	if (!it->href)
		return 0;
	if (it->type && !strstr(it->type, "html"))
		return hp_meta_warn(&e->meta, "spine item %s skipped: %s is not XHTML", it->href, it->type);
	char part[1024];
	char href[1024];
	snprintf(href, sizeof(href), "%s", it->href);
	char *hash = strchr(href, '#');
	if (hash)
		*hash = '\0';
	if (hp_zip_resolve(e->opf, href, part, sizeof(part)) < 0)
		return hp_meta_warn(&e->meta, "spine item %.100s skipped: name too long", it->href);
	char *data = NULL;
	size_t len = 0;
	char err2[512] = "";
	/* one chapter is parsed into a DOM by the HTML converter: keep it to
	 * what can give max_output of Markdown (16 MiB at least) */
	size_t cap = e->lim->max_output > (16u << 20) ? e->lim->max_output : (16u << 20);
	int r = hp_zip_read(e->z, part, cap, &data, &len, err2, sizeof(err2));
	if (r == -ENOENT)
		return hp_meta_warn(&e->meta, "spine item %s skipped: not in the archive", part);
	if (r < 0)
		return hp_office_err(r, e->err, e->errlen, "%s", err2[0] ? err2 : "cannot read a spine item");
	if (len == 0) {
		free(data);
		return 0;
	}
	hp_doc sub;
	memset(&sub, 0, sizeof(sub));
	hp_convert_limits l = *e->lim;
	r = hp_conv_html.convert(part, data, len, &l, &sub, err2, sizeof(err2));
	free(data);
	if (r == -ENOMEM)
		return r;
	if (r == -EFBIG)
		return hp_conv_efbig(e->lim->max_output, e->err, e->errlen);
	if (r < 0) {
		r = hp_meta_warn(&e->meta, "spine item %s skipped: %s", part, err2);
	} else if (sub.markdown && sub.markdown_len) {
		size_t ml = sub.markdown_len;
		while (ml && (sub.markdown[ml - 1] == '\n' || sub.markdown[ml - 1] == ' '))
			sub.markdown[--ml] = '\0';
		const char *m = sub.markdown;
		while (*m == '\n' || *m == ' ')
			m++;
		if (*m)
			r = hp_md_raw(&e->md, m);
	}
	free(sub.markdown);
	free(sub.title);
	free(sub.meta_json);
	return r;
}

static int convert_epub(const char *name, const char *data, size_t len,
                        const hp_convert_limits *lim, hp_doc *doc, char *err, size_t errlen)
{
	(void)name;
	struct epub e;
	memset(&e, 0, sizeof(e));
	e.lim = lim;
	e.err = err;
	e.errlen = errlen;
	hp_md_init(&e.md, lim->max_output);
	hp_meta_init(&e.meta);
	hp_buf_init(&e.authors, 64 * 1024);
	int r = hp_zip_open(data, len, lim, &e.z, err, errlen);
	if (r < 0)
		goto out;
	if ((r = check_drm(&e)) < 0 || (r = find_opf(&e)) < 0 || (r = read_opf(&e)) < 0)
		goto out;
	if (e.authors.len && !(e.meta.author = strdup(e.authors.data))) {
		r = -ENOMEM;
		goto out;
	}
	if (e.meta.title) {
		hp_il il;
		hp_il_init(&il, lim->max_output);
		size_t n;
		r = hp_il_text(&il, e.meta.title, strlen(e.meta.title), 0);
		const char *t = hp_il_finish(&il, &n);
		if (r == 0 && n)
			r = hp_md_block(&e.md, "# ", t, n, 0);
		hp_il_reset(&il);
		if (r == 0 && e.meta.author) {
			r = hp_il_text(&il, e.meta.author, strlen(e.meta.author), 0);
			t = hp_il_finish(&il, &n);
			if (r == 0)
				r = hp_md_block(&e.md, "**Authors:** ", t, n, 0);
		}
		hp_il_reset(&il);
		if (r == 0 && e.description) {
			r = hp_il_text(&il, e.description, strlen(e.description), 0);
			t = hp_il_finish(&il, &n);
			if (r == 0)
				r = hp_md_block(&e.md, "", t, n, 0);
		}
		hp_il_free(&il);
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < e.nspine; i++) {
		const struct item *it = item_by_id(&e, e.spine[i]);
		if (!it) {
			if ((r = hp_meta_warn(&e.meta, "spine item %s skipped: not in the manifest", e.spine[i])) < 0)
				goto out;
			continue;
		}
		if ((r = do_item(&e, it)) < 0)
			goto out;
	}
	if (e.meta.title &&
	    (r = hp_title_from_line(e.meta.title, strlen(e.meta.title), HP_TITLE_MAX, &doc->title)) < 0)
		goto out;
	if ((r = hp_md_finish(&e.md, doc, lim, err, errlen)) < 0)
		goto out;
	r = hp_meta_finish(&e.meta, doc);
out:
	if (r == -EFBIG && !err[0])
		r = hp_conv_efbig(lim->max_output, err, errlen);
	for (size_t i = 0; i < e.nitems; i++) {
		free(e.items[i].id);
		free(e.items[i].href);
		free(e.items[i].type);
	}
	free(e.items);
	for (size_t i = 0; i < e.nspine; i++)
		free(e.spine[i]);
	free(e.spine);
	hp_buf_free(&e.authors);
	free(e.description);
	hp_md_free(&e.md);
	hp_meta_free(&e.meta);
	hp_zip_close(e.z);
	return r;
}

const hp_converter hp_conv_epub = { HP_FMT_EPUB, convert_epub };
