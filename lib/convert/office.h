/* office.h — private to lib/convert/: what the ZIP-based converters (DOCX,
 * XLSX, PPTX, ODT/ODS/ODP, EPUB) share.
 *
 *  - hp_zip:  a ZIP reader on libzip that enforces the per-job limits
 *             (entry count, bytes inflated in total, compression ratio)
 *             on the bytes actually inflated, not on what headers claim.
 *  - hp_xr:   libxml2's streaming xmlTextReader over one ZIP entry, with
 *             no network, no DTD loading, no entity declarations at all
 *             (refused before the parser sees them) and a depth limit.
 *  - hp_il / hp_md / hp_tbl: a small Markdown writer (inline runs with
 *             bold/italic/strike, blocks, pipe tables) with the output cap.
 *
 * Threat model: every byte of the archive is hostile. Sizes and counts in
 * ZIP headers are only used as upper bounds that the actual data must stay
 * under; nothing is allocated from a count the file claims.
 * Errors: functions return 0 / -errno and write a human sentence naming the
 * part into err (the first error wins: later calls do not overwrite it).
 */
#ifndef HOPPER_OFFICE_H
#define HOPPER_OFFICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hopper/common.h"
#include "hopper/convert.h"

/* ---- ZIP ----------------------------------------------------------------- */

typedef struct hp_zip hp_zip;

/* Open an archive held in memory (borrowed: data must outlive the hp_zip).
 * -EINVAL "not a valid ZIP archive (...)"; -EFBIG when there are more
 * entries than lim->zip_max_entries. */
int hp_zip_open(const void *data, size_t len, const hp_convert_limits *lim,
                hp_zip **ret, char *err, size_t errlen);
void hp_zip_close(hp_zip *z);

/* Index of entry `name` (case-insensitive, as OPC part names are), or -1. */
int64_t hp_zip_find(hp_zip *z, const char *name);
uint64_t hp_zip_count(hp_zip *z);
/* Name of entry i (borrowed, valid until hp_zip_close), NULL if none. */
const char *hp_zip_name(hp_zip *z, uint64_t i);

/* Read a whole entry into a malloc'd NUL-terminated buffer (caller frees).
 * -ENOENT when there is no such entry (err untouched); -EFBIG when it is
 * larger than max or a job limit is hit; -EINVAL when it is corrupt. */
int hp_zip_read(hp_zip *z, const char *name, size_t max, char **ret, size_t *ret_len,
                char *err, size_t errlen);

/* Stream an entry: open, read (returns bytes, 0 at end, -errno with err
 * set), close. Limits are enforced on every read. */
typedef struct hp_zip_stream hp_zip_stream;
int hp_zip_stream_open(hp_zip *z, const char *name, hp_zip_stream **ret, char *err, size_t errlen);
ssize_t hp_zip_stream_read(hp_zip_stream *s, void *buf, size_t n, char *err, size_t errlen);
void hp_zip_stream_close(hp_zip_stream *s);

/* Resolve an OPC relationship target against the part that holds the
 * relationship ("word/document.xml" + "media/a.png" -> "word/media/a.png",
 * "/xl/x.xml" -> "xl/x.xml", ".." handled). Writes into out; -ENAMETOOLONG. */
int hp_zip_resolve(const char *base_part, const char *target, char *out, size_t outlen);

/* ---- XML ----------------------------------------------------------------- */

enum hp_ns {
	HP_NS_NONE = 0, HP_NS_OTHER,
	HP_NS_W, HP_NS_A, HP_NS_P, HP_NS_S, HP_NS_R, HP_NS_M, HP_NS_WP, HP_NS_PIC, HP_NS_RELS,
	HP_NS_CP, HP_NS_DC, HP_NS_DCTERMS, HP_NS_EP,
	HP_NS_OFFICE, HP_NS_TEXT, HP_NS_TABLE, HP_NS_DRAW, HP_NS_STYLE, HP_NS_FO, HP_NS_XLINK,
	HP_NS_SVG, HP_NS_PRES, HP_NS_META, HP_NS_NUMBER,
	HP_NS_OPF, HP_NS_CONTAINER,
};

typedef struct hp_xr hp_xr;

enum { HP_XR_ALLOW_DOCTYPE = 1 };  /* a DOCTYPE without entity declarations (EPUB) */

/* Open part `name` of z for streaming. -ENOENT when absent (err untouched).
 * err/errlen are kept: hp_xr_next writes its errors there. */
int hp_xr_open(hp_zip *z, const char *name, const hp_convert_limits *lim, int flags,
               hp_xr **ret, char *err, size_t errlen);
void hp_xr_close(hp_xr *x);

/* Next node: 1 = a node, 0 = end of document, <0 = error (err set, naming
 * the part and line). Only element starts, element ends, text
 * (text/CDATA/significant whitespace) are returned. */
enum { HP_XR_START = 1, HP_XR_END = 2, HP_XR_TEXT = 3 };
int hp_xr_next(hp_xr *x);
int hp_xr_type(hp_xr *x);
int hp_xr_depth(hp_xr *x);
int hp_xr_empty(hp_xr *x);            /* START of <a/>: no END follows */
const char *hp_xr_local(hp_xr *x);    /* local name (borrowed until next) */
enum hp_ns hp_xr_ns(hp_xr *x);
int hp_xr_is(hp_xr *x, enum hp_ns ns, const char *local);
const char *hp_xr_text(hp_xr *x);     /* TEXT value (borrowed until next) */
/* Attribute by namespace and local name (HP_NS_NONE: no namespace). Borrowed
 * until the next hp_xr_next; NULL when absent. */
const char *hp_xr_attr(hp_xr *x, enum hp_ns ns, const char *local);
/* Skip the subtree of the current START element (to its END). */
int hp_xr_skip(hp_xr *x);
/* Concatenated text of the current element's subtree into b (appended),
 * leaving the reader on its END. */
int hp_xr_collect_text(hp_xr *x, hp_buf *b);
const char *hp_xr_part(hp_xr *x);

/* ---- Markdown writer ------------------------------------------------------ */

enum { HP_IL_B = 1, HP_IL_I = 2, HP_IL_S = 4 };

/* Inline text of one paragraph or cell: runs with formatting; markers are
 * closed before whitespace, so `**a **b` never happens. */
typedef struct hp_il {
	hp_buf b;
	char open[4];     /* stack of open markers: 'B', 'I', 'S' */
	int nopen;
	char ws;          /* pending whitespace (one space) */
	int in_table;     /* escape '|', no line breaks */
} hp_il;

void hp_il_init(hp_il *il, size_t limit);
void hp_il_free(hp_il *il);
int hp_il_text(hp_il *il, const char *s, size_t n, int flags);
int hp_il_raw(hp_il *il, const char *s);        /* markup, not escaped */
int hp_il_break(hp_il *il);                      /* hard line break */
int hp_il_link_open(hp_il *il);
int hp_il_link_close(hp_il *il, const char *url);
int hp_il_image(hp_il *il, const char *alt, const char *name);
/* Close markers, trim, and return the text (borrowed until the next call). */
const char *hp_il_finish(hp_il *il, size_t *ret_len);
void hp_il_reset(hp_il *il);

/* The document: blocks separated by blank lines; list items tight. */
typedef struct hp_md {
	hp_buf out;
	int last_list;  /* the previous block was a list item */
} hp_md;

void hp_md_init(hp_md *m, size_t limit);
void hp_md_free(hp_md *m);
/* A block with a prefix ("## ", "   1. ", "> "): text may hold newlines;
 * continuation lines get the prefix's width of indentation. */
int hp_md_block(hp_md *m, const char *prefix, const char *text, size_t n, int list_item);
int hp_md_raw(hp_md *m, const char *s);          /* e.g. "<!-- slide 3 -->" as a block */

/* A table: rows of cells (strings already inline-rendered). */
typedef struct hp_tbl {
	char ***rows;
	size_t *ncells;
	size_t nrows, cap;
	size_t limit, bytes;
} hp_tbl;

void hp_tbl_init(hp_tbl *t, size_t limit);
void hp_tbl_free(hp_tbl *t);
int hp_tbl_row(hp_tbl *t);                              /* start a new row */
int hp_tbl_cell(hp_tbl *t, const char *s, size_t n);    /* append a cell to the last row */
/* Cell c of row r, NULL when the row is shorter. */
const char *hp_tbl_get(const hp_tbl *t, size_t r, size_t c);
/* Emit as a pipe table (first row is the header); nothing for no rows. */
int hp_tbl_emit(hp_tbl *t, hp_md *m);

/* ---- OPC relationships (ECMA-376 Part 2 §9) ------------------------------ */

typedef struct hp_rel {
	char *id, *type, *target;   /* target: resolved part name, or the URL when external */
	int external;
} hp_rel;

typedef struct hp_rels {
	hp_rel *v;
	size_t n;
} hp_rels;

/* Load the relationships of `part` (its _rels/NAME.rels; "" for the
 * package's own). A missing .rels file is an empty set. */
int hp_rels_load(hp_zip *z, const char *part, const hp_convert_limits *lim, hp_rels *ret,
                 char *err, size_t errlen);
void hp_rels_free(hp_rels *r);
const hp_rel *hp_rels_id(const hp_rels *r, const char *id);
/* First relationship whose type ends with "/suffix". */
const hp_rel *hp_rels_type(const hp_rels *r, const char *suffix);
/* The main part of an OOXML package: the officeDocument relationship of
 * _rels/.rels, else `fallback`. Writes into out. */
int hp_opc_main(hp_zip *z, const hp_convert_limits *lim, const char *fallback, char *out,
                size_t outlen, char *err, size_t errlen);

/* ---- documents.meta -------------------------------------------------------- */

typedef struct hp_meta {
	char *title, *author, *created, *lang;
	int pages, sheets, slides;
	char **warn;       /* sentences, handed to hp_doc_warn by hp_meta_finish */
	int nwarn;
} hp_meta;

void hp_meta_init(hp_meta *mt);
void hp_meta_free(hp_meta *mt);
int hp_meta_warn(hp_meta *mt, const char *fmt, ...) HP_PRINTF(2, 3);
/* Read docProps/core.xml (OOXML) or meta.xml (ODF) if present; absent or
 * broken metadata is only a warning. */
int hp_meta_ooxml(hp_meta *mt, hp_zip *z, const hp_convert_limits *lim, char *err, size_t errlen);
/* Fill doc->meta_json (and doc->title from mt->title when not set). */
int hp_meta_finish(hp_meta *mt, hp_doc *doc);

/* Finish a conversion: md's text into doc (one trailing newline). */
int hp_md_finish(hp_md *m, hp_doc *doc, const hp_convert_limits *lim, char *err, size_t errlen);

/* ---- charts --------------------------------------------------------------- */

/* Append chart part `part` to out as "Chart: TITLE" and a table of its
 * cached series values. A missing part is a warning in meta. 0 or -errno. */
int hp_chart_md(hp_zip *z, const char *part, const hp_convert_limits *lim, hp_md *out,
                hp_meta *meta, char *err, size_t errlen);

/* Set err to the first error: "what" with printf args, only when err is
 * still empty. Returns r. */
int hp_office_err(int r, char *err, size_t errlen, const char *fmt, ...) HP_PRINTF(4, 5);

/* Defaults for limits a caller left at 0. */
#define HP_ZIP_DEFAULT_MAX_TOTAL ((uint64_t)512 << 20)
#define HP_ZIP_DEFAULT_MAX_RATIO 200u
#define HP_ZIP_DEFAULT_MAX_ENTRIES 10000u
#define HP_SHEET_DEFAULT_MAX_ROWS 10000u

#endif
