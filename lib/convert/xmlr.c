/* xmlr.c — libxml2's streaming xmlTextReader over one ZIP entry, made safe
 * for hostile parts. See office.h.
 *
 * Threat model: the XML is hostile. What that rules out:
 *  - external entities and DTDs (XXE, network): the parser gets no
 *    XML_PARSE_NOENT, XML_PARSE_DTDLOAD, XML_PARSE_DTDATTR or XINCLUDE, and
 *    XML_PARSE_NONET; the worker's seccomp filter refuses open() anyway;
 *  - entity expansion bombs ("billion laughs"): no OOXML or ODF part has a
 *    DOCTYPE (ECMA-376 Part 2 §8.1.4 forbids DTDs in OPC parts), and EPUB
 *    metadata never declares entities. So the bytes are scanned as they
 *    stream in, before the parser sees them: "<!ENTITY" anywhere fails the
 *    part, and so does "<!DOCTYPE" unless the caller allows a plain one.
 *    Nothing is ever declared, so nothing can be expanded;
 *  - deep nesting: the element depth is checked against lim->max_depth
 *    (libxml2's own limit of 256 stays in force: no XML_PARSE_HUGE);
 *  - size: the bytes come through hp_zip_stream, which enforces the job's
 *    inflate budget; no DOM is built (one node at a time).
 * mc:Fallback subtrees (ECMA-376 Part 3 §10.2.1) are skipped here, so the
 * converters see each drawing or equation once (the mc:Choice).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlreader.h>

#include "office.h"

#define NATTR 8

struct hp_xr {
	xmlTextReaderPtr r;
	hp_zip_stream *s;
	char part[256];
	int flags, max_depth;
	char tail[16];           /* last bytes of the previous read */
	size_t ntail;
	char msg[300];           /* our own reason to stop (scan, zip) */
	int msg_r;
	char xmlmsg[300];        /* the parser's first error */
	int xmlline;
	int type, pending;
	char *err;               /* the caller's, for hp_xr_next */
	size_t errlen;
	char *attrv[NATTR];
	int nattr;
	const xmlChar *last_uri;
	enum hp_ns last_ns;
};

static const struct { const char *uri; enum hp_ns ns; } ns_table[] = {
	{ "http://schemas.openxmlformats.org/wordprocessingml/2006/main", HP_NS_W },
	{ "http://purl.oclc.org/ooxml/wordprocessingml/main", HP_NS_W },
	{ "http://schemas.openxmlformats.org/drawingml/2006/main", HP_NS_A },
	{ "http://purl.oclc.org/ooxml/drawingml/main", HP_NS_A },
	{ "http://schemas.openxmlformats.org/presentationml/2006/main", HP_NS_P },
	{ "http://purl.oclc.org/ooxml/presentationml/main", HP_NS_P },
	{ "http://schemas.openxmlformats.org/spreadsheetml/2006/main", HP_NS_S },
	{ "http://purl.oclc.org/ooxml/spreadsheetml/main", HP_NS_S },
	{ "http://schemas.openxmlformats.org/officeDocument/2006/relationships", HP_NS_R },
	{ "http://purl.oclc.org/ooxml/officeDocument/relationships", HP_NS_R },
	{ "http://schemas.openxmlformats.org/officeDocument/2006/math", HP_NS_M },
	{ "http://purl.oclc.org/ooxml/officeDocument/math", HP_NS_M },
	{ "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing", HP_NS_WP },
	{ "http://purl.oclc.org/ooxml/drawingml/wordprocessingDrawing", HP_NS_WP },
	{ "http://schemas.openxmlformats.org/drawingml/2006/picture", HP_NS_PIC },
	{ "http://schemas.openxmlformats.org/package/2006/relationships", HP_NS_RELS },
	{ "http://schemas.openxmlformats.org/package/2006/metadata/core-properties", HP_NS_CP },
	{ "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties", HP_NS_EP },
	{ "http://purl.org/dc/elements/1.1/", HP_NS_DC },
	{ "http://purl.org/dc/terms/", HP_NS_DCTERMS },
	{ "urn:oasis:names:tc:opendocument:xmlns:office:1.0", HP_NS_OFFICE },
	{ "urn:oasis:names:tc:opendocument:xmlns:text:1.0", HP_NS_TEXT },
	{ "urn:oasis:names:tc:opendocument:xmlns:table:1.0", HP_NS_TABLE },
	{ "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0", HP_NS_DRAW },
	{ "urn:oasis:names:tc:opendocument:xmlns:style:1.0", HP_NS_STYLE },
	{ "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0", HP_NS_FO },
	{ "http://www.w3.org/1999/xlink", HP_NS_XLINK },
	{ "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0", HP_NS_SVG },
	{ "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0", HP_NS_PRES },
	{ "urn:oasis:names:tc:opendocument:xmlns:meta:1.0", HP_NS_META },
	{ "urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0", HP_NS_NUMBER },
	{ "http://www.idpf.org/2007/opf", HP_NS_OPF },
	{ "urn:oasis:names:tc:opendocument:xmlns:container", HP_NS_CONTAINER },
};

static const char MC_URI[] = "http://schemas.openxmlformats.org/markup-compatibility/2006";

static enum hp_ns ns_of(hp_xr *x, const xmlChar *uri)
{
	if (!uri || !*uri)
		return HP_NS_NONE;
	if (uri == x->last_uri)   /* names come from the parser's dictionary */
		return x->last_ns;
	enum hp_ns ns = HP_NS_OTHER;
	for (size_t i = 0; i < HP_ARRAY_SIZE(ns_table); i++)
		if (strcmp((const char *)uri, ns_table[i].uri) == 0) {
			ns = ns_table[i].ns;
			break;
		}
	x->last_uri = uri;
	x->last_ns = ns;
	return ns;
}

static void set_msg(hp_xr *x, int r, const char *fmt, ...) HP_PRINTF(3, 4);
static void set_msg(hp_xr *x, int r, const char *fmt, ...)
{
	if (x->msg[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
	x->msg_r = r;
}

/* Refuse declarations before the parser sees them (see the top). */
static int scan(hp_xr *x, const char *p, size_t n)
{
	static const char ent[] = "<!ENTITY", dt[] = "<!DOCTYPE";
	char joint[32];
	size_t h = n < 15 ? n : 15;
	memcpy(joint, x->tail, x->ntail);
	memcpy(joint + x->ntail, p, h);
	size_t jn = x->ntail + h;
	int has_ent = memmem(p, n, ent, 8) || memmem(joint, jn, ent, 8);
	int has_dt = memmem(p, n, dt, 9) || memmem(joint, jn, dt, 9);
	if (has_ent) {
		set_msg(x, -EINVAL, "XML part %s declares entities (<!ENTITY>): refused, office documents never need them",
		        x->part);
		return -1;
	}
	if (has_dt && !(x->flags & HP_XR_ALLOW_DOCTYPE)) {
		set_msg(x, -EINVAL, "XML part %s has a DOCTYPE: refused, office documents never have one",
		        x->part);
		return -1;
	}
	size_t keep = n < 15 ? n : 15;
	if (keep < 15 && x->ntail + keep > 15) {
		size_t drop = x->ntail + keep - 15;
		memmove(x->tail, x->tail + drop, x->ntail - drop);
		x->ntail -= drop;
	} else if (keep == 15) {
		x->ntail = 0;
	}
	memcpy(x->tail + x->ntail, p + n - keep, keep);
	x->ntail += keep;
	return 0;
}

static int io_read(void *ctx, char *buf, int len)
{
	hp_xr *x = ctx;
	char err[300] = "";
	ssize_t k = hp_zip_stream_read(x->s, buf, (size_t)len, err, sizeof(err));
	if (k < 0) {
		if (err[0])
			set_msg(x, (int)k, "%s", err);
		else
			set_msg(x, (int)k, "%s", k == -ENOMEM ? "out of memory" : "cannot read");
		return -1;
	}
	if (k > 0 && scan(x, buf, (size_t)k) < 0)
		return -1;
	return (int)k;
}

static int io_close(void *ctx)
{
	(void)ctx;
	return 0;
}

static void on_error(void *arg, xmlErrorPtr e)
{
	hp_xr *x = arg;
	if (!e || e->level < XML_ERR_ERROR || x->xmlmsg[0])
		return;
	snprintf(x->xmlmsg, sizeof(x->xmlmsg), "%s", e->message ? e->message : "malformed XML");
	/* libxml2 messages end with a newline */
	size_t l = strlen(x->xmlmsg);
	while (l && (x->xmlmsg[l - 1] == '\n' || x->xmlmsg[l - 1] == ' '))
		x->xmlmsg[--l] = '\0';
	x->xmlline = e->line;
}

int hp_xr_open(hp_zip *z, const char *name, const hp_convert_limits *lim, int flags,
               hp_xr **ret, char *err, size_t errlen)
{
	hp_xr *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	int r = hp_zip_stream_open(z, name, &x->s, err, errlen);
	if (r < 0) {
		free(x);
		return r;
	}
	snprintf(x->part, sizeof(x->part), "%s", name);
	x->err = err;
	x->errlen = errlen;
	x->flags = flags;
	x->max_depth = lim && lim->max_depth > 0 ? lim->max_depth : 256;
	x->r = xmlReaderForIO(io_read, io_close, x, NULL, NULL,
	                      XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT);
	if (!x->r) {
		hp_zip_stream_close(x->s);
		free(x);
		return -ENOMEM;
	}
	xmlTextReaderSetStructuredErrorHandler(x->r, on_error, x);
	*ret = x;
	return 0;
}

static void attrs_free(hp_xr *x)
{
	for (int i = 0; i < x->nattr; i++)
		free(x->attrv[i]);
	x->nattr = 0;
}

void hp_xr_close(hp_xr *x)
{
	if (!x)
		return;
	attrs_free(x);
	if (x->r)
		xmlFreeTextReader(x->r);
	hp_zip_stream_close(x->s);
	free(x);
}

const char *hp_xr_part(hp_xr *x)
{
	return x->part;
}

static int fail(hp_xr *x)
{
	char *err = x->err;
	size_t errlen = x->errlen;
	if (x->msg[0])
		return hp_office_err(x->msg_r ? x->msg_r : -EINVAL, err, errlen, "%s", x->msg);
	if (x->xmlmsg[0])
		return hp_office_err(-EINVAL, err, errlen, "XML part %s is malformed (line %d: %s)",
		                     x->part, x->xmlline, x->xmlmsg);
	return hp_office_err(-EINVAL, err, errlen, "XML part %s is malformed", x->part);
}

int hp_xr_next(hp_xr *x)
{
	attrs_free(x);
	for (;;) {
		int k;
		if (x->pending) {
			x->pending = 0;
			k = 1;
		} else {
			k = xmlTextReaderRead(x->r);
		}
		if (k == 0 && !x->msg[0] && !x->xmlmsg[0])
			return 0;
		if (k <= 0)
			return fail(x);
		int t = xmlTextReaderNodeType(x->r);
		if (xmlTextReaderDepth(x->r) > x->max_depth) {
			set_msg(x, -EINVAL, "XML part %s nested deeper than %d levels", x->part, x->max_depth);
			return fail(x);
		}
		switch (t) {
		case XML_READER_TYPE_ELEMENT: {
			const xmlChar *uri = xmlTextReaderConstNamespaceUri(x->r);
			if (uri && strcmp((const char *)uri, MC_URI) == 0 &&
			    strcmp((const char *)xmlTextReaderConstLocalName(x->r), "Fallback") == 0) {
				if (xmlTextReaderIsEmptyElement(x->r) == 1)
					continue;
				/* past the subtree, to a node not yet seen */
				k = xmlTextReaderNext(x->r);
				if (k < 0 || (k == 0 && (x->msg[0] || x->xmlmsg[0])))
					return fail(x);
				if (k == 0)
					return 0;
				x->pending = 1;
				continue;
			}
			x->type = HP_XR_START;
			return 1;
		}
		case XML_READER_TYPE_END_ELEMENT:
			x->type = HP_XR_END;
			return 1;
		case XML_READER_TYPE_TEXT:
		case XML_READER_TYPE_CDATA:
		case XML_READER_TYPE_WHITESPACE:
		case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
			x->type = HP_XR_TEXT;
			return 1;
		default:
			/* comments, PIs, the DOCTYPE; entity references are never
			 * declared here (scan), so never expanded */
			continue;
		}
	}
}

int hp_xr_type(hp_xr *x)
{
	return x->type;
}

int hp_xr_depth(hp_xr *x)
{
	return xmlTextReaderDepth(x->r);
}

int hp_xr_empty(hp_xr *x)
{
	return x->type == HP_XR_START && xmlTextReaderIsEmptyElement(x->r) == 1;
}

const char *hp_xr_local(hp_xr *x)
{
	const xmlChar *n = xmlTextReaderConstLocalName(x->r);
	return n ? (const char *)n : "";
}

enum hp_ns hp_xr_ns(hp_xr *x)
{
	return ns_of(x, xmlTextReaderConstNamespaceUri(x->r));
}

int hp_xr_is(hp_xr *x, enum hp_ns ns, const char *local)
{
	return strcmp(hp_xr_local(x), local) == 0 && hp_xr_ns(x) == ns;
}

const char *hp_xr_text(hp_xr *x)
{
	const xmlChar *v = xmlTextReaderConstValue(x->r);
	return v ? (const char *)v : "";
}

const char *hp_xr_attr(hp_xr *x, enum hp_ns ns, const char *local)
{
	if (x->type != HP_XR_START || x->nattr == NATTR)
		return NULL;
	const char *found = NULL;
	if (xmlTextReaderMoveToFirstAttribute(x->r) != 1)
		return NULL;
	do {
		const xmlChar *ln = xmlTextReaderConstLocalName(x->r);
		if (!ln || strcmp((const char *)ln, local) != 0)
			continue;
		if (ns_of(x, xmlTextReaderConstNamespaceUri(x->r)) != ns)
			continue;
		const xmlChar *v = xmlTextReaderConstValue(x->r);
		char *c = strdup(v ? (const char *)v : "");
		if (c) {
			x->attrv[x->nattr++] = c;
			found = c;
		}
		break;
	} while (xmlTextReaderMoveToNextAttribute(x->r) == 1);
	xmlTextReaderMoveToElement(x->r);
	return found;
}

int hp_xr_skip(hp_xr *x)
{
	if (x->type != HP_XR_START || hp_xr_empty(x))
		return 0;
	int d = hp_xr_depth(x);
	int r;
	while ((r = hp_xr_next(x)) > 0)
		if (x->type == HP_XR_END && hp_xr_depth(x) == d)
			return 0;
	return r < 0 ? r : -EINVAL;
}

int hp_xr_collect_text(hp_xr *x, hp_buf *b)
{
	if (x->type != HP_XR_START || hp_xr_empty(x))
		return 0;
	int d = hp_xr_depth(x);
	int r;
	while ((r = hp_xr_next(x)) > 0) {
		if (x->type == HP_XR_END && hp_xr_depth(x) == d)
			return 0;
		if (x->type == HP_XR_TEXT && (r = hp_buf_addstr(b, hp_xr_text(x))) < 0)
			return r;
	}
	return r < 0 ? r : -EINVAL;
}
