/*
 * fuzz_json.c - libFuzzer target for the Delta log's JSON scanner
 * (lake_json.c), checked against jansson as an independent parser:
 *  - any input ends in a result or an error, never a bad read (ASan);
 *  - every text jansson accepts (nesting under the scanner's limit) the
 *    scanner accepts too, and a string decodes to the same bytes;
 *  - lake_json_find_int agrees with jansson on what it finds, and
 *    lake_json_find_ints with lake_json_find_int.
 * A differing answer aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lake_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
shallow(const uint8_t *data, size_t size)
{
	size_t open = 0;

	for (size_t i = 0; i < size; i++)
		open += data[i] == '[' || data[i] == '{';
	return open < 60;
}

static void
check_string(const char *text, size_t size, json_t *j)
{
	lake_json s;
	char *out;

	lake_json_init(&s, text, size);
	if (lake_json_string(&s, &out) == -1)
		abort();
	if (strlen(out) != json_string_length(j) ||
	    memcmp(out, json_string_value(j), strlen(out)) != 0)
		abort();
	free(out);
}

/* One pass over "a" and "c" finds what two lookups find. */
static void
check_find_ints(const char *text)
{
	static const char *const outers[2] = { "a", "c" };
	int64_t both[2] = { 0, 0 }, a = 0, c = 0;
	int mask = lake_json_find_ints(text, outers, 2, "b", both);
	int ra = lake_json_find_int(text, "a", "b", &a);
	int rc = lake_json_find_int(text, "c", "b", &c);

	if (mask == -1) {
		if (ra != -1 || rc != -1)
			abort();
		return;
	}
	if ((mask & 1) != ra || (mask >> 1 & 1) != rc)
		abort();
	if ((ra == 1 && both[0] != a) || (rc == 1 && both[1] != c))
		abort();
}

static void
check_find_int(const char *text, json_t *j)
{
	json_t *inner = json_object_get(json_object_get(j, "a"), "b");
	json_t *top = json_object_get(j, "b");
	int64_t v = 0;
	int rc;

	rc = lake_json_find_int(text, "a", "b", &v);
	if (json_is_object(j) && json_is_object(json_object_get(j, "a")) &&
	    (rc == 1) != json_is_integer(inner))
		abort();
	if (rc == 1 && v != json_integer_value(inner))
		abort();
	rc = lake_json_find_int(text, NULL, "b", &v);
	if (json_is_object(j) && (rc == 1) != json_is_integer(top))
		abort();
	if (rc == 1 && v != json_integer_value(top))
		abort();
	check_find_ints(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	lake_json s;
	json_t *j, *unique;
	int ok;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	lake_json_init(&s, text, size);
	ok = lake_json_skip(&s) == 0 && lake_json_at_end(&s);
	j = json_loadb(text, size, JSON_DECODE_ANY, NULL);
	if (j != NULL && memchr(text, '\0', size) == NULL) {
		if (!ok && shallow(data, size))
			abort();
		if (json_is_string(j))
			check_string(text, size, j);
		/* Duplicate keys: jansson keeps the last, the scanner the
		 * first; lookups are compared only on texts without any. */
		if ((unique = json_loadb(text, size, JSON_DECODE_ANY |
		    JSON_REJECT_DUPLICATES, NULL)) != NULL)
			check_find_int(text, unique);
		json_decref(unique);
	}
	json_decref(j);
	free(text);
	return 0;
}
