/*
 * catalog_pending.c - parsing and writing the transformation's pending
 * events (format in catalog_pending.h).
 *
 * The parser looks for the typed object first and falls back to the
 * strings an older transformation left in operationParameters. Both
 * are checked field by field; the first fault found is reported with
 * the field's name and the value's position, and nothing is returned.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_pending.h"

static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
push_id(catalog_pending *p, size_t *cap, int32_t id)
{
	if (p->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		int32_t *v = realloc(p->ids, ncap * sizeof(*v));

		if (v == NULL)
			return -1;
		p->ids = v;
		*cap = ncap;
	}
	p->ids[p->n++] = id;
	return 0;
}

static int
cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x < y ? -1 : x > y;
}

/* A whole decimal int64 (an optional '-', then digits only). */
static int
parse_i64(const char *s, size_t len, int64_t *out)
{
	char buf[32], *end;
	long long v;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
		return -1;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* --- the typed object (format 1) ----------------------------------- */

static int
get_int(json_t *o, const char *key, int64_t min, int64_t *out, char *why,
    size_t whylen)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		return fail(why, whylen, "%s is missing", key);
	if (!json_is_integer(v))
		return fail(why, whylen, "%s is not an integer", key);
	if (json_integer_value(v) < min)
		return fail(why, whylen, "%s is %" JSON_INTEGER_FORMAT
		    ", below %" PRId64, key, json_integer_value(v), min);
	*out = json_integer_value(v);
	return 0;
}

static int
parse_ids(json_t *arr, catalog_pending *p, char *why, size_t whylen)
{
	size_t cap = 0, i;
	json_t *v;

	if (arr == NULL)
		return fail(why, whylen, "pendingIds is missing");
	if (!json_is_array(arr))
		return fail(why, whylen, "pendingIds is not an array");
	json_array_foreach(arr, i, v) {
		json_int_t id;

		if (!json_is_integer(v))
			return fail(why, whylen, "pendingIds[%zu] is not an "
			    "integer", i);
		id = json_integer_value(v);
		if (id < INT32_MIN || id > INT32_MAX)
			return fail(why, whylen, "pendingIds[%zu] = %"
			    JSON_INTEGER_FORMAT " is not a historyid (int32)",
			    i, id);
		if (p->n > 0 && id < p->ids[p->n - 1])
			return fail(why, whylen, "pendingIds[%zu] = %"
			    JSON_INTEGER_FORMAT " is out of order (ids ascend)",
			    i, id);
		if (push_id(p, &cap, (int32_t)id) == -1)
			return fail(why, whylen, "out of memory for %zu "
			    "pending ids", json_array_size(arr));
	}
	return 0;
}

static int
parse_object(json_t *st, catalog_pending *p, char *why, size_t whylen)
{
	static const char *const keys[] = { "format", "run", "pendingFrom",
		"pendingIds" };
	const char *key;
	int64_t format;
	json_t *v;

	if (!json_is_object(st))
		return fail(why, whylen, "%s is not an object",
		    CATALOG_PENDING_KEY);
	if (get_int(st, "format", 1, &format, why, whylen) == -1)
		return -1;
	if (format != CATALOG_PENDING_FORMAT)
		return fail(why, whylen, "format %" PRId64 " is not the one "
		    "this transformation reads (%d): run the version that "
		    "wrote it", format, CATALOG_PENDING_FORMAT);
	json_object_foreach(st, key, v) {
		size_t k = 0;

		while (k < sizeof(keys) / sizeof(keys[0]) &&
		    strcmp(keys[k], key) != 0)
			k++;
		if (k == sizeof(keys) / sizeof(keys[0]))
			return fail(why, whylen, "unknown field %s in format "
			    "%d", key, CATALOG_PENDING_FORMAT);
	}
	if (get_int(st, "run", 1, &p->run, why, whylen) == -1 ||
	    get_int(st, "pendingFrom", -1, &p->from, why, whylen) == -1)
		return -1;
	return parse_ids(json_object_get(st, "pendingIds"), p, why, whylen);
}

/* --- the strings of an older transformation ------------------------ */

/* A string parameter as an int64; 0 when absent (*present = 0). */
static int
old_int(json_t *params, const char *key, int64_t min, int64_t *out,
    int *present, char *why, size_t whylen)
{
	json_t *v = json_object_get(params, key);
	const char *s = json_string_value(v);

	*present = v != NULL;
	if (v == NULL)
		return 0;
	if (s == NULL || parse_i64(s, strlen(s), out) == -1)
		return fail(why, whylen, "operationParameters.%s is not a "
		    "decimal integer string", key);
	if (*out < min)
		return fail(why, whylen, "operationParameters.%s is %" PRId64
		    ", below %" PRId64, key, *out, min);
	return 0;
}

static int
old_ids(const char *list, catalog_pending *p, char *why, size_t whylen)
{
	size_t cap = 0, i = 0;

	for (const char *s = list;; i++) {
		const char *comma = strchr(s, ',');
		size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
		int64_t id;

		if (parse_i64(s, len, &id) == -1 || id < INT32_MIN ||
		    id > INT32_MAX)
			return fail(why, whylen, "operationParameters."
			    "pendingIds: item %zu (\"%.*s\") is not a "
			    "historyid", i, (int)(len > 20 ? 20 : len), s);
		if (push_id(p, &cap, (int32_t)id) == -1)
			return fail(why, whylen, "out of memory for pending "
			    "ids");
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	qsort(p->ids, p->n, sizeof(int32_t), cmp_i32);
	return 0;
}

static int
parse_old(json_t *params, catalog_pending *p, char *why, size_t whylen)
{
	json_t *ids = json_object_get(params, "pendingIds");
	int has_run, has_from;

	if (old_int(params, "run", 1, &p->run, &has_run, why, whylen) == -1 ||
	    old_int(params, "pendingFrom", -1, &p->from, &has_from, why,
	    whylen) == -1)
		return -1;
	if (!has_run)
		return fail(why, whylen, "operationParameters.run is missing");
	if (ids == NULL && !has_from) {
		p->from = -1;
		return 0;
	}
	if (ids == NULL || !has_from)
		return fail(why, whylen, "operationParameters has %s without "
		    "%s", ids ? "pendingIds" : "pendingFrom",
		    ids ? "pendingFrom" : "pendingIds");
	if (!json_is_string(ids))
		return fail(why, whylen, "operationParameters.pendingIds is "
		    "not a string");
	return old_ids(json_string_value(ids), p, why, whylen);
}

int
catalog_pending_parse(const char *commit_info, catalog_pending *out,
    char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *info = json_loads(commit_info, 0, &jerr), *st, *params;
	const char *stage;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(info)) {
		json_decref(info);
		return fail(why, whylen, "commitInfo is not a JSON object: %s",
		    jerr.text);
	}
	params = json_object_get(info, "operationParameters");
	stage = json_string_value(json_object_get(params, "stage"));
	if ((st = json_object_get(info, CATALOG_PENDING_KEY)) != NULL)
		rc = parse_object(st, out, why, whylen);
	else if (stage != NULL && strcmp(stage, "transformation") == 0)
		rc = parse_old(params, out, why, whylen);
	else {
		json_decref(info);
		return 0;	/* someone else's commit */
	}
	json_decref(info);
	if (rc == -1) {
		catalog_pending_free(out);
		return -1;
	}
	return 1;
}

json_t *
catalog_pending_json(const catalog_pending *p)
{
	json_t *ids = json_array(), *o;

	for (size_t i = 0; ids != NULL && i < p->n; i++)
		if (json_array_append_new(ids, json_integer(p->ids[i])) == -1) {
			json_decref(ids);
			return NULL;
		}
	if (ids == NULL)
		return NULL;
	o = json_pack("{s:i, s:I, s:I, s:o}", "format", CATALOG_PENDING_FORMAT,
	    "run", (json_int_t)p->run, "pendingFrom", (json_int_t)p->from,
	    "pendingIds", ids);
	return o;
}

void
catalog_pending_free(catalog_pending *p)
{
	free(p->ids);
	p->ids = NULL;
	p->n = 0;
}
