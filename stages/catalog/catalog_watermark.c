/*
 * catalog_watermark.c - parsing and writing the source watermark a
 * commit carries (format in catalog_watermark.h).
 *
 * A commit is classified by its writer first: one of stage's commits
 * without the object was written before watermarks existed (none, not
 * an error); another writer's commit says nothing either way. The
 * object itself is checked field by field, and unknown fields are
 * refused, so a newer format is never half read.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "catalog_watermark.h"

static catalog_watermark_found
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return CATALOG_WM_MALFORMED;
}

static int
get_int(json_t *o, const char *key, int64_t min, int64_t *out, char *why,
    size_t whylen)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return fail(why, whylen, "%s.%s is missing",
		    CATALOG_WATERMARK_KEY, key);
	if (!json_is_integer(v))
		return fail(why, whylen, "%s.%s is not an integer",
		    CATALOG_WATERMARK_KEY, key);
	if (json_integer_value(v) < min)
		return fail(why, whylen, "%s.%s is %" JSON_INTEGER_FORMAT
		    ", below %" PRId64, CATALOG_WATERMARK_KEY, key,
		    json_integer_value(v), min);
	*out = json_integer_value(v);
	return 0;
}

static catalog_watermark_found
parse_object(json_t *o, catalog_watermark *out, char *why, size_t whylen)
{
	static const char *const keys[] = { "format", "xidBound",
		"snapshotAt" };
	const char *key;
	int64_t format;
	json_t *v;

	if (!json_is_object(o))
		return fail(why, whylen, "%s is not an object",
		    CATALOG_WATERMARK_KEY);
	if (get_int(o, "format", 1, &format, why, whylen) == -1)
		return CATALOG_WM_MALFORMED;
	if (format != CATALOG_WATERMARK_FORMAT)
		return fail(why, whylen, "%s.format %" PRId64 " is not the "
		    "one this program reads (%d): run the version that wrote "
		    "it", CATALOG_WATERMARK_KEY, format,
		    CATALOG_WATERMARK_FORMAT);
	json_object_foreach(o, key, v) {
		size_t k = 0;

		while (k < sizeof(keys) / sizeof(keys[0]) &&
		    strcmp(keys[k], key) != 0)
			k++;
		if (k == sizeof(keys) / sizeof(keys[0]))
			return fail(why, whylen, "unknown field %s.%s in "
			    "format %d", CATALOG_WATERMARK_KEY, key,
			    CATALOG_WATERMARK_FORMAT);
	}
	/* xid8 0..2 are special (invalid, bootstrap, frozen): a real bound
	 * is at least 3. */
	if (get_int(o, "xidBound", 3, &out->xid_bound, why, whylen) == -1 ||
	    get_int(o, "snapshotAt", 0, &out->snapshot_at, why, whylen) == -1)
		return CATALOG_WM_MALFORMED;
	return CATALOG_WM_FOUND;
}

catalog_watermark_found
catalog_watermark_parse(const char *commit_info, const char *stage,
    catalog_watermark *out, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *info = json_loads(commit_info, 0, &jerr), *o;
	const char *writer;
	catalog_watermark_found rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(info)) {
		json_decref(info);
		return fail(why, whylen, "commitInfo is not a JSON object: %s",
		    jerr.text);
	}
	writer = json_string_value(json_object_get(json_object_get(info,
	    "operationParameters"), "stage"));
	if ((o = json_object_get(info, CATALOG_WATERMARK_KEY)) != NULL)
		rc = parse_object(o, out, why, whylen);
	else if (writer != NULL && strcmp(writer, stage) == 0)
		rc = CATALOG_WM_NONE;
	else
		rc = CATALOG_WM_OTHER;
	json_decref(info);
	return rc;
}

json_t *
catalog_watermark_json(const catalog_watermark *w)
{
	return json_pack("{s:i, s:I, s:I}", "format", CATALOG_WATERMARK_FORMAT,
	    "xidBound", (json_int_t)w->xid_bound, "snapshotAt",
	    (json_int_t)w->snapshot_at);
}
