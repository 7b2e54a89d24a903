/* opc.c — OPC relationships for the OOXML converters. See office.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "office.h"

void hp_rels_free(hp_rels *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].id);
		free(r->v[i].type);
		free(r->v[i].target);
	}
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

static int rel_cmp(const void *a, const void *b)
{
	return strcmp(((const hp_rel *)a)->id, ((const hp_rel *)b)->id);
}

int hp_rels_load(hp_zip *z, const char *part, const hp_convert_limits *lim, hp_rels *ret,
                 char *err, size_t errlen)
{
	char name[1024];
	const char *slash = strrchr(part, '/');
	size_t dir = slash ? (size_t)(slash - part) + 1 : 0;
	if (snprintf(name, sizeof(name), "%.*s_rels/%s.rels", (int)dir, part, part + dir) >=
	    (int)sizeof(name))
		return hp_office_err(-EINVAL, err, errlen, "part name too long: %.100s", part);
	hp_rels rs = { 0 };
	hp_xr *x;
	int r = hp_xr_open(z, name, lim, 0, &x, err, errlen);
	if (r == -ENOENT) {
		*ret = rs;
		return 0;
	}
	if (r < 0)
		return r;
	size_t cap = 0;
	while ((r = hp_xr_next(x)) > 0) {
		if (hp_xr_type(x) != HP_XR_START || strcmp(hp_xr_local(x), "Relationship") != 0)
			continue;
		const char *id = hp_xr_attr(x, HP_NS_NONE, "Id");
		const char *type = hp_xr_attr(x, HP_NS_NONE, "Type");
		const char *target = hp_xr_attr(x, HP_NS_NONE, "Target");
		const char *mode = hp_xr_attr(x, HP_NS_NONE, "TargetMode");
		if (!id || !target)
			continue;
		if (rs.n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			hp_rel *v = realloc(rs.v, nc * sizeof(*v));
			if (!v) {
				r = -ENOMEM;
				break;
			}
			rs.v = v;
			cap = nc;
		}
		hp_rel *rel = &rs.v[rs.n];
		memset(rel, 0, sizeof(*rel));
		rel->external = mode && strcmp(mode, "External") == 0;
		rel->id = strdup(id);
		rel->type = strdup(type ? type : "");
		if (rel->external) {
			rel->target = strdup(target);
		} else {
			char res[1024];
			rel->target = hp_zip_resolve(part, target, res, sizeof(res)) == 0 ? strdup(res)
			                                                                  : strdup("");
		}
		rs.n++;
		if (!rel->id || !rel->type || !rel->target) {
			r = -ENOMEM;
			break;
		}
	}
	hp_xr_close(x);
	if (r < 0) {
		hp_rels_free(&rs);
		return r;
	}
	/* sorted for hp_rels_id: a part may have thousands of relationships */
	if (rs.n > 1)
		qsort(rs.v, rs.n, sizeof(*rs.v), rel_cmp);
	*ret = rs;
	return 0;
}

const hp_rel *hp_rels_id(const hp_rels *r, const char *id)
{
	if (!id || !r->n)
		return NULL;
	hp_rel key = { .id = (char *)id };
	return bsearch(&key, r->v, r->n, sizeof(*r->v), rel_cmp);
}

const hp_rel *hp_rels_type(const hp_rels *r, const char *suffix)
{
	size_t sl = strlen(suffix);
	for (size_t i = 0; i < r->n; i++) {
		size_t tl = strlen(r->v[i].type);
		if (tl > sl && r->v[i].type[tl - sl - 1] == '/' &&
		    strcmp(r->v[i].type + tl - sl, suffix) == 0)
			return &r->v[i];
	}
	return NULL;
}

int hp_opc_main(hp_zip *z, const hp_convert_limits *lim, const char *fallback, char *out,
                size_t outlen, char *err, size_t errlen)
{
	hp_rels rs;
	int r = hp_rels_load(z, "", lim, &rs, err, errlen);
	if (r < 0)
		return r;
	const hp_rel *m = hp_rels_type(&rs, "officeDocument");
	snprintf(out, outlen, "%s", m && !m->external && m->target[0] ? m->target : fallback);
	hp_rels_free(&rs);
	return 0;
}
