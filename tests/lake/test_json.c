/*
 * test_json.c - unit tests of the Delta log's JSON scanner (lake_json.c):
 * grammar accepted and refused, string escapes decoded to UTF-8, integer
 * limits, object walking, and lake_json_find_int; and the writer
 * (lake_json_write.c): escapes, UTF-8 refused when invalid, integer and
 * double forms. Each case that should be valid JSON is also given to
 * jansson, so the expectations themselves are checked by an independent
 * parser.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "expect.h"
#include "lake_json.h"
#include "lake_json_write.h"

static int
scanner_accepts(const char *text)
{
	lake_json s;

	lake_json_init(&s, text, strlen(text));
	return lake_json_skip(&s) == 0 && lake_json_at_end(&s);
}

static int
jansson_accepts(const char *text)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);

	json_decref(j);
	return j != NULL;
}

static void
test_grammar(void)
{
	static const char *valid[] = {
		"{}", "[]", "0", "-0", "12", "-1.5e+3", "1E-2", "true",
		"false", "null", "\"\"", " { \"a\" : [ 1 , { } , \"x\" ] } ",
		"{\"a\":{\"b\":{\"c\":[[[]]]}}}", "\"\\u00e9\\ud83d\\ude00\"",
		"[1,2,3]", "{\"k\":null,\"l\":false}",
	};
	static const char *invalid[] = {
		"", "{", "}", "[1,]", "{\"a\":1,}", "{,\"a\":1}", "{\"a\" 1}",
		"{a:1}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul",
		"\"abc", "\"\\x\"", "\"\\u12g4\"", "\"\\udc00\"",
		"\"\\ud83d\"", "\"\\ud83dx\"", "[1 2]", "{\"a\":1}{}", "\"a\tb\"",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		"[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
		"]]]]]]]]]]]]]]",
	};

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		EXPECT(jansson_accepts(valid[i]), "jansson refuses %s",
		    valid[i]);
		EXPECT(scanner_accepts(valid[i]), "scanner refuses %s",
		    valid[i]);
	}
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		EXPECT(!scanner_accepts(invalid[i]), "scanner accepts %s",
		    invalid[i]);
}

static void
test_strings(void)
{
	const char *text = "\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\"";
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	lake_json s;
	char *out = NULL;

	lake_json_init(&s, text, strlen(text));
	EXPECT(lake_json_string(&s, &out) == 0, "string not decoded");
	EXPECT(j != NULL && out != NULL && strcmp(out,
	    json_string_value(j)) == 0, "decoded %s, jansson %s",
	    out ? out : "(null)", j ? json_string_value(j) : "(null)");
	EXPECT(out != NULL && strcmp(out, "a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80")
	    == 0, "wrong UTF-8");
	free(out);
	json_decref(j);
	lake_json_init(&s, "12", 2);
	EXPECT(lake_json_string(&s, &out) == -1, "a number read as a string");
}

/* Decodes text (one JSON string) with both lake_json and jansson. */
static void
expect_same_string(const char *text, const char *what)
{
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	lake_json s;
	char *out = NULL;

	lake_json_init(&s, text, strlen(text));
	EXPECT(j != NULL && lake_json_string(&s, &out) == 0 &&
	    lake_json_at_end(&s) && strcmp(out, json_string_value(j)) == 0,
	    "%s: decoded differently from jansson", what);
	free(out);
	json_decref(j);
}

/*
 * Plain runs are scanned eight bytes at a time: a quote, backslash or
 * control byte must stop the scan at every offset in the word, and the
 * decoded length is bounded by the rest of a short text or, past 4 KiB,
 * by the closing quote, found by counting backslashes.
 */
static void
test_string_runs(void)
{
	char text[6000], what[64];
	lake_json s;
	char *out;

	for (int at = 0; at < 20; at++) {
		int n = 0;

		text[n++] = '"';
		for (int i = 0; i < at; i++)
			text[n++] = (char)('a' + i);
		memcpy(text + n, "\\\\\\\"x\\\"", 7);	/* \\ \" x \" */
		n += 7;
		text[n++] = '"';
		text[n] = '\0';
		snprintf(what, sizeof(what), "escapes after %d plain bytes",
		    at);
		expect_same_string(text, what);
		text[at + 1] = '\x01';	/* a raw control byte */
		lake_json_init(&s, text, (size_t)n);
		out = NULL;
		EXPECT(lake_json_string(&s, &out) == -1,
		    "a control byte after %d plain bytes accepted", at);
		free(out);
	}
	/* Past 4 KiB, with escaped quotes and backslash pairs before a
	 * quote: "\\" ends with an even run, so its quote closes. */
	text[0] = '"';
	for (int i = 1; i < 5000; i += 4)
		memcpy(text + i, "ab\\\"", 4);
	memcpy(text + 5001, "\\\\\"", 3);
	text[5004] = '\0';
	expect_same_string(text, "a long string");
	/* The closing quote as the text's last byte; none at all. */
	expect_same_string("\"\"", "the empty string");
	lake_json_init(&s, "\"abc\\\"", 6);
	out = NULL;
	EXPECT(lake_json_string(&s, &out) == -1, "an unclosed string accepted");
	free(out);
}

static void
test_integers(void)
{
	static const struct {
		const char *text;
		int ok;
		int64_t v;
	} cases[] = {
		{ "0", 1, 0 }, { "-7", 1, -7 },
		{ "9223372036854775807", 1, INT64_MAX },
		{ "-9223372036854775808", 1, INT64_MIN },
		{ "9223372036854775808", 0, 0 }, { "1.0", 0, 0 },
		{ "1e3", 0, 0 }, { "007", 0, 0 }, { "\"5\"", 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		lake_json s;
		int64_t v = 0;
		int ok;

		lake_json_init(&s, cases[i].text, strlen(cases[i].text));
		ok = lake_json_int64(&s, &v) == 0;
		EXPECT(ok == cases[i].ok && (!ok || v == cases[i].v),
		    "%s: ok %d value %lld", cases[i].text, ok, (long long)v);
	}
}

static void
test_objects(void)
{
	const char *text = "{ \"path\" : \"p%20q\", \"skip\": {\"x\": [1, {}]},"
	    " \"size\": 42, \"n\\u0061me\": \"k\", \"empty\": {} }";
	const char *seen[8];
	char key[16], *path = NULL;
	int64_t size = 0;
	lake_json s;
	int rc, n = 0;

	lake_json_init(&s, text, strlen(text));
	EXPECT(lake_json_object_begin(&s) == 0, "not an object");
	while ((rc = lake_json_next_key(&s, key, sizeof(key))) == 1 && n < 8) {
		if (strcmp(key, "path") == 0) {
			EXPECT(lake_json_string(&s, &path) == 0, "path");
			seen[n++] = "path";
		} else if (strcmp(key, "size") == 0) {
			EXPECT(lake_json_int64(&s, &size) == 0, "size");
			seen[n++] = "size";
		} else if (strcmp(key, "name") == 0) {
			seen[n++] = "name";	/* an escaped key, decoded */
			EXPECT(lake_json_skip(&s) == 0, "skip name");
		} else if (strcmp(key, "empty") == 0) {
			EXPECT(lake_json_object_begin(&s) == 0 &&
			    lake_json_next_key(&s, key, sizeof(key)) == 0,
			    "empty object");
			seen[n++] = "empty";
		} else {
			EXPECT(lake_json_skip(&s) == 0, "skip %s", key);
			seen[n++] = "other";
		}
	}
	EXPECT(rc == 0 && lake_json_at_end(&s), "object did not end cleanly");
	EXPECT(n == 5 && strcmp(seen[0], "path") == 0 &&
	    strcmp(seen[1], "other") == 0 && strcmp(seen[2], "size") == 0 &&
	    strcmp(seen[3], "name") == 0 && strcmp(seen[4], "empty") == 0,
	    "keys seen: %d", n);
	EXPECT(path != NULL && strcmp(path, "p%20q") == 0, "path %s",
	    path ? path : "(null)");
	EXPECT(size == 42, "size %lld", (long long)size);
	free(path);

	lake_json_init(&s, "{\"a\":1 \"b\":2}", 13);
	EXPECT(lake_json_object_begin(&s) == 0 && lake_json_next_key(&s, key,
	    sizeof(key)) == 1 && lake_json_int64(&s, &size) == 0 &&
	    lake_json_next_key(&s, key, sizeof(key)) == -1,
	    "a missing comma is not caught");
}

static void
test_find_int(void)
{
	const char *stats = "{\"numRecords\":44,\"minValues\":{\"status\":"
	    "\"NEW\",\"orderid\":2000002,\"t\":\"2026-03-12T00:21:02Z\"},"
	    "\"maxValues\":{\"orderid\":2000026,\"nested\":{\"orderid\":1}},"
	    "\"nullCount\":{\"orderid\":0}}";
	int64_t v = 0;

	EXPECT(lake_json_find_int(stats, NULL, "numRecords", &v) == 1 &&
	    v == 44, "numRecords %lld", (long long)v);
	EXPECT(lake_json_find_int(stats, "minValues", "orderid", &v) == 1 &&
	    v == 2000002, "min orderid %lld", (long long)v);
	EXPECT(lake_json_find_int(stats, "maxValues", "orderid", &v) == 1 &&
	    v == 2000026, "max orderid %lld", (long long)v);
	EXPECT(lake_json_find_int(stats, "minValues", "status", &v) == 0,
	    "a string found as an integer");
	EXPECT(lake_json_find_int(stats, "minValues", "absent", &v) == 0,
	    "an absent column found");
	EXPECT(lake_json_find_int(stats, "nothere", "orderid", &v) == 0,
	    "an absent object found");
	EXPECT(lake_json_find_int("{\"minValues\":{\"orderid\":1", "minValues",
	    "orderid", &v) == -1, "truncated stats accepted");
	/* A top-level lookup stops at its member, as documented. */
	EXPECT(lake_json_find_int("{\"numRecords\":7,\"minValues\":{", NULL,
	    "numRecords", &v) == 1 && v == 7, "numRecords before a cut");
	EXPECT(lake_json_find_int("{\"x\":1,\"numRecords\":", NULL,
	    "numRecords", &v) == -1, "a cut before numRecords accepted");
}

/* What the writer appends for s[0..n), NUL-terminated in buf. */
static int
written_string(const char *s, size_t n, char *buf, size_t size)
{
	lake_buf b = { 0 };
	int rc = lake_json_put_string(&b, s, n);

	snprintf(buf, size, "%.*s", (int)b.len, b.data ? (char *)b.data : "");
	if (rc == 0 && b.len == 0)
		rc = -2;	/* success must write the quotes */
	lake_buf_free(&b);
	return rc;
}

static void
test_write_strings(void)
{
	static const char raw[] = "q\"b\\s/\n\t\r\b\f\x01\x1f\x7f \xc3\xa9\xf0\x9f\x98\x80";
	static const char *const invalid[] = {
		"\xc0\x80",		/* overlong NUL */
		"\xe0\x80\xaf",	/* overlong '/' */
		"\xed\xa0\x80",	/* a surrogate */
		"\xf4\x90\x80\x80",	/* past U+10FFFF */
		"\xf5\x80\x80\x80",
		"\xc3",		/* cut short */
		"ab\x80",		/* a lone continuation byte */
	};
	char buf[256];
	json_t *j;

	EXPECT(written_string(raw, sizeof(raw) - 1, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "\"q\\\"b\\\\s/\\n\\t\\r\\b\\f\\u0001\\u001f\x7f "
	    "\xc3\xa9\xf0\x9f\x98\x80\"") == 0, "escaped as %s", buf);
	j = json_loads(buf, JSON_DECODE_ANY, NULL);
	EXPECT(j != NULL && json_string_length(j) == sizeof(raw) - 1 &&
	    memcmp(json_string_value(j), raw, sizeof(raw) - 1) == 0,
	    "jansson reads back what was written");
	json_decref(j);
	EXPECT(written_string("a\0b", 3, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "\"a\\u0000b\"") == 0, "NUL escaped: %s", buf);
	EXPECT(written_string("", 0, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "\"\"") == 0, "empty string: %s", buf);
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		EXPECT(written_string(invalid[i], strlen(invalid[i]), buf,
		    sizeof(buf)) == -1 && buf[0] == '\0', "invalid UTF-8 "
		    "case %zu written as %s", i, buf);
}

static void
test_write_numbers(void)
{
	static const double doubles[] = { 1.0, 0.1, -2.5e-300, 1e300,
		123456789.125, -0.0 };
	lake_buf b = { 0 };
	json_t *j;

	lake_json_put_int(&b, INT64_MIN);
	lake_json_put_raw(&b, " ");
	lake_json_put_int(&b, INT64_MAX);
	lake_json_put_raw(&b, " ");
	lake_json_put_int(&b, 0);
	lake_buf_append(&b, "", 1);
	EXPECT(strcmp((char *)b.data, "-9223372036854775808 "
	    "9223372036854775807 0") == 0, "integers as %s", (char *)b.data);
	for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); i++) {
		b.len = 0;
		EXPECT(lake_json_put_double(&b, doubles[i]) == 0, "double %zu",
		    i);
		lake_buf_append(&b, "", 1);
		j = json_loads((char *)b.data, JSON_DECODE_ANY, NULL);
		EXPECT(j != NULL && json_is_real(j) && json_real_value(j) ==
		    doubles[i], "%s does not read back as a real %.17g",
		    (char *)b.data, doubles[i]);
		json_decref(j);
	}
	b.len = 0;
	EXPECT(lake_json_put_double(&b, NAN) == -1 &&
	    lake_json_put_double(&b, INFINITY) == -1 && b.len == 0,
	    "NaN and infinity have no JSON form");
	lake_buf_free(&b);
}

int
main(void)
{
	test_grammar();
	test_strings();
	test_string_runs();
	test_integers();
	test_objects();
	test_find_int();
	test_write_strings();
	test_write_numbers();
	return expect_report("test_json");
}
