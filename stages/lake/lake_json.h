/*
 * lake_json.h - a small pull scanner for JSON text.
 *
 * It walks an object key by key, reads strings and integers, and skips
 * any other value while checking its grammar. Nothing is allocated but
 * the strings a caller asks for. The Delta log's hot lines (add and
 * remove actions, and the statistics inside them) go through it: a
 * general parser builds a tree of hash tables for each line, several
 * times slower. Everything else in the log goes through jansson.
 *
 *	lake_json s;
 *	char key[64];
 *	lake_json_init(&s, text, len);
 *	if (lake_json_object_begin(&s) == -1) ...
 *	while ((rc = lake_json_next_key(&s, key, sizeof(key))) == 1)
 *		if (strcmp(key, "size") == 0) lake_json_int64(&s, &size);
 *		else lake_json_skip(&s);
 *	(rc == 0: the object ended; rc == -1: malformed)
 */
#ifndef LAKE_JSON_H
#define LAKE_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct lake_json {
	const char *p;
	const char *end;
	int depth;
	int first;	/* the current object has had no member yet */
} lake_json;

void lake_json_init(lake_json *s, const char *text, size_t len);
/* The next significant character, or 0 at the end; consumes nothing. */
int lake_json_peek(lake_json *s);
/* Consumes the '{' of an object. 0, or -1 if the value is not one. */
int lake_json_object_begin(lake_json *s);
/*
 * The object's next key, decoded into key (a longer key is cut to an
 * empty string, so it matches nothing), with the scanner on its value:
 * 1. At the closing '}' (consumed): 0. Malformed: -1.
 */
int lake_json_next_key(lake_json *s, char *key, size_t key_size);
/* Skips one value of any kind, checking its grammar. 0 or -1. */
int lake_json_skip(lake_json *s);
/* Skips one value and gives its text (start and length). 0 or -1. */
int lake_json_span(lake_json *s, const char **start, size_t *len);
/* A string value, decoded into a malloc'd copy. 0, or -1 if not one. */
int lake_json_string(lake_json *s, char **out);
/* An integer value (no fraction or exponent) in int64 range. 0 or -1. */
int lake_json_int64(lake_json *s, int64_t *v);
/* Whether only white space remains. */
int lake_json_at_end(lake_json *s);

/*
 * Looks up an integer member of a member object of a JSON object, as in
 * {"minValues": {"orderid": 12}}, or with outer NULL a member of the
 * object itself: 1 and *v when found, 0 when absent or not an integer,
 * -1 when the text is malformed. With outer NULL the lookup stops at the
 * member (numRecords leads Delta's stats): the text after it is not
 * checked.
 */
int lake_json_find_int(const char *text, const char *outer,
    const char *inner, int64_t *v);
/*
 * The same inner member in several member objects, in one pass, as
 * "orderid" in both minValues and maxValues (n <= 30): returns a mask with
 * bit i set when outers[i] held it (then in v[i]), or -1 when malformed.
 */
int lake_json_find_ints(const char *text, const char *const *outers, int n,
    const char *inner, int64_t *v);

#endif
