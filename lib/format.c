/* format.c — the spellings of the formats, see include/hopper/convert.h
 *
 * Apart from the converters so that the supervisor (frames, queue, logs)
 * can name a format without linking a single converter or its libraries.
 * The spellings are shared with SQL (hopper.documents.format).
 */
#include <string.h>

#include "hopper/convert.h"

static const char *const format_names[HP_FMT__MAX] = {
	[HP_FMT_UNKNOWN] = "unknown", [HP_FMT_PDF] = "pdf",
	[HP_FMT_DOCX] = "docx", [HP_FMT_XLSX] = "xlsx", [HP_FMT_PPTX] = "pptx",
	[HP_FMT_ODT] = "odt", [HP_FMT_ODS] = "ods", [HP_FMT_ODP] = "odp",
	[HP_FMT_EPUB] = "epub", [HP_FMT_HTML] = "html",
	[HP_FMT_MARKDOWN] = "markdown", [HP_FMT_TEXT] = "text",
	[HP_FMT_CSV] = "csv", [HP_FMT_JSON] = "json", [HP_FMT_XML] = "xml",
	[HP_FMT_CODE] = "code", [HP_FMT_IMAGE] = "image",
};

const char *hp_format_name(hp_format f)
{
	if ((int)f < 0 || f >= HP_FMT__MAX || !format_names[f])
		return "unknown";
	return format_names[f];
}

hp_format hp_format_from_name(const char *name)
{
	if (!name)
		return HP_FMT_UNKNOWN;
	for (int f = 1; f < HP_FMT__MAX; f++)
		if (strcmp(format_names[f], name) == 0)
			return (hp_format)f;
	return HP_FMT_UNKNOWN;
}
