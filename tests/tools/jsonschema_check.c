/*
 * jsonschema_check - validate JSON documents against a JSON Schema, for
 * tests (the schemas in schemas/json).
 *
 *   jsonschema_check SCHEMA DOC...
 *
 * Prints "DOC: valid" or one line per violation, "DOC: /json/pointer:
 * what is wrong"; exits 0 when every DOC is valid, 1 when one is not, 2
 * when the schema cannot be used (unreadable, or a keyword outside the
 * subset below).
 *
 * It implements the subset of draft 2020-12 our schemas use, and is
 * strict about it: a schema keyword it does not know is an error, never
 * silently skipped, so a typo ("requried") or a new keyword cannot make
 * every document pass. Assertions: type (one or a list), properties,
 * required, additionalProperties (boolean or schema), items, minItems,
 * maxItems, enum, const, minimum, maximum, exclusiveMinimum,
 * exclusiveMaximum, minLength, maxLength (in code points), pattern, and
 * $ref to a local JSON pointer ("#/$defs/name"). Annotations ($schema,
 * $id, title, description, $comment, examples, default, $defs) are read
 * and ignored. Two liberties, both on the strict side and both shared by
 * medallion-server's gold reader: a document with a duplicated object key
 * is refused (jansson's JSON_REJECT_DUPLICATES), and pattern is matched
 * as a POSIX extended regular expression, which for the anchored classes
 * and counts our schemas use means the same as ECMA-262.
 */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MAX_REPORTED 50	/* violations printed per document */

typedef struct checker {
	json_t *root;		/* the schema, for $ref */
	const char *doc_name;
	int violations;
} checker;

static const char *const known_keywords[] = {
	"$schema", "$id", "title", "description", "$comment", "examples",
	"default", "$defs", "$ref", "type", "properties", "required",
	"additionalProperties", "items", "minItems", "maxItems", "enum",
	"const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
	"minLength", "maxLength", "pattern",
};

static int
is_known_keyword(const char *k)
{
	for (size_t i = 0; i < sizeof(known_keywords) /
	    sizeof(known_keywords[0]); i++)
		if (strcmp(k, known_keywords[i]) == 0)
			return 1;
	return 0;
}

/* Checks that every schema object under s uses known keywords only, and
 * that each pattern compiles. Returns 0, or -1 after printing why. */
static int
schema_lint(json_t *s, const char *where)
{
	const char *k;
	json_t *v, *sub;
	char path[1024];

	if (json_is_boolean(s))
		return 0;
	if (!json_is_object(s)) {
		fprintf(stderr, "jsonschema_check: schema at %s is not an "
		    "object or a boolean\n", where);
		return -1;
	}
	json_object_foreach(s, k, v) {
		if (!is_known_keyword(k)) {
			fprintf(stderr, "jsonschema_check: schema at %s uses "
			    "\"%s\", a keyword this checker does not implement "
			    "(add it to tests/tools/jsonschema_check.c)\n",
			    where, k);
			return -1;
		}
	}
	if ((v = json_object_get(s, "pattern")) != NULL) {
		regex_t re;

		if (!json_is_string(v) || regcomp(&re, json_string_value(v),
		    REG_EXTENDED | REG_NOSUB) != 0) {
			fprintf(stderr, "jsonschema_check: schema at %s: "
			    "pattern does not compile as a POSIX extended "
			    "regular expression\n", where);
			return -1;
		}
		regfree(&re);
	}
	static const char *const maps[] = { "properties", "$defs" };
	for (size_t i = 0; i < 2; i++) {
		json_object_foreach(json_object_get(s, maps[i]), k, sub) {
			snprintf(path, sizeof(path), "%s/%s/%s", where, maps[i],
			    k);
			if (schema_lint(sub, path) == -1)
				return -1;
		}
	}
	static const char *const subs[] = { "items", "additionalProperties" };
	for (size_t i = 0; i < 2; i++) {
		if ((sub = json_object_get(s, subs[i])) == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", where, subs[i]);
		if (schema_lint(sub, path) == -1)
			return -1;
	}
	return 0;
}

static void
violation(checker *c, const char *at, const char *fmt, const char *arg)
{
	if (c->violations++ >= MAX_REPORTED)
		return;
	printf("%s: %s: ", c->doc_name, *at ? at : "(document)");
	printf(fmt, arg);
	putchar('\n');
}

static int
is_integral(const json_t *v)
{
	double d;

	if (json_is_integer(v))
		return 1;
	if (!json_is_real(v))
		return 0;
	d = json_real_value(v);
	return isfinite(d) && floor(d) == d;
}

static int
has_type(const json_t *v, const char *type)
{
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return is_integral(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "null") == 0)
		return json_is_null(v);
	return 0;
}

static int
type_ok(const json_t *type, const json_t *v)
{
	size_t i;
	json_t *t;

	if (json_is_string(type))
		return has_type(v, json_string_value(type));
	json_array_foreach(type, i, t)
		if (has_type(v, json_string_value(t)))
			return 1;
	return 0;
}

/* Resolves "#/a/b" in the schema's root; NULL when it names nothing. */
static json_t *
resolve_ref(checker *c, const char *ref)
{
	char buf[1024], *part, *save;
	json_t *at = c->root;

	if (strncmp(ref, "#/", 2) != 0 || strlen(ref) >= sizeof(buf))
		return NULL;
	snprintf(buf, sizeof(buf), "%s", ref + 2);
	for (part = strtok_r(buf, "/", &save); part != NULL && at != NULL;
	    part = strtok_r(NULL, "/", &save))
		at = json_object_get(at, part);
	return at;
}

static size_t
utf8_length(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static void validate(checker *c, json_t *schema, json_t *v, const char *at);

static void
check_number(checker *c, json_t *s, json_t *v, const char *at)
{
	double d = json_number_value(v);
	json_t *b;

	if ((b = json_object_get(s, "minimum")) && d < json_number_value(b))
		violation(c, at, "%s", "below the minimum");
	if ((b = json_object_get(s, "maximum")) && d > json_number_value(b))
		violation(c, at, "%s", "above the maximum");
	if ((b = json_object_get(s, "exclusiveMinimum")) &&
	    d <= json_number_value(b))
		violation(c, at, "%s", "not above the exclusive minimum");
	if ((b = json_object_get(s, "exclusiveMaximum")) &&
	    d >= json_number_value(b))
		violation(c, at, "%s", "not below the exclusive maximum");
}

static void
check_string(checker *c, json_t *s, json_t *v, const char *at)
{
	const char *str = json_string_value(v);
	size_t n = utf8_length(str);
	json_t *b;

	if ((b = json_object_get(s, "minLength")) &&
	    (json_int_t)n < json_integer_value(b))
		violation(c, at, "%s", "shorter than minLength");
	if ((b = json_object_get(s, "maxLength")) &&
	    (json_int_t)n > json_integer_value(b))
		violation(c, at, "%s", "longer than maxLength");
	if ((b = json_object_get(s, "pattern")) != NULL) {
		regex_t re;

		/* Compiled by schema_lint already; cannot fail here. */
		if (regcomp(&re, json_string_value(b), REG_EXTENDED |
		    REG_NOSUB) == 0) {
			if (regexec(&re, str, 0, NULL, 0) != 0)
				violation(c, at, "does not match %s",
				    json_string_value(b));
			regfree(&re);
		}
	}
}

static void
check_object(checker *c, json_t *s, json_t *v, const char *at)
{
	json_t *props = json_object_get(s, "properties");
	json_t *extra = json_object_get(s, "additionalProperties");
	json_t *req = json_object_get(s, "required"), *x, *sub;
	const char *k;
	char path[2048];
	size_t i;

	json_array_foreach(req, i, x)
		if (json_object_get(v, json_string_value(x)) == NULL)
			violation(c, at, "lacks the required \"%s\"",
			    json_string_value(x));
	json_object_foreach(v, k, x) {
		snprintf(path, sizeof(path), "%s/%s", at, k);
		if ((sub = json_object_get(props, k)) != NULL)
			validate(c, sub, x, path);
		else if (json_is_false(extra))
			violation(c, path, "%s", "is not a known property "
			    "(additionalProperties is false)");
		else if (json_is_object(extra))
			validate(c, extra, x, path);
	}
}

static void
check_array(checker *c, json_t *s, json_t *v, const char *at)
{
	json_t *items = json_object_get(s, "items"), *x, *b;
	size_t n = json_array_size(v), i;
	char path[2048];

	if ((b = json_object_get(s, "minItems")) &&
	    (json_int_t)n < json_integer_value(b))
		violation(c, at, "%s", "has fewer items than minItems");
	if ((b = json_object_get(s, "maxItems")) &&
	    (json_int_t)n > json_integer_value(b))
		violation(c, at, "%s", "has more items than maxItems");
	if (items == NULL)
		return;
	json_array_foreach(v, i, x) {
		snprintf(path, sizeof(path), "%s/%zu", at, i);
		validate(c, items, x, path);
	}
}

static int
in_enum(json_t *list, json_t *v)
{
	size_t i;
	json_t *x;

	json_array_foreach(list, i, x)
		if (json_equal(x, v))
			return 1;
	return 0;
}

static void
validate(checker *c, json_t *s, json_t *v, const char *at)
{
	json_t *b;

	if (json_is_false(s)) {
		violation(c, at, "%s", "is not allowed here (schema false)");
		return;
	}
	if (!json_is_object(s))
		return;
	if ((b = json_object_get(s, "$ref")) != NULL) {
		json_t *target = resolve_ref(c, json_string_value(b));

		if (target == NULL)
			violation(c, at, "$ref %s names nothing in the schema",
			    json_string_value(b));
		else
			validate(c, target, v, at);
	}
	if ((b = json_object_get(s, "type")) && !type_ok(b, v)) {
		char *want = json_dumps(b, JSON_ENCODE_ANY | JSON_COMPACT);

		violation(c, at, "is not of type %s", want ? want : "?");
		free(want);
		return;
	}
	if ((b = json_object_get(s, "const")) && !json_equal(b, v))
		violation(c, at, "%s", "differs from the schema's const");
	if ((b = json_object_get(s, "enum")) && !in_enum(b, v))
		violation(c, at, "%s", "is none of the schema's enum");
	if (json_is_number(v))
		check_number(c, s, v, at);
	else if (json_is_string(v))
		check_string(c, s, v, at);
	else if (json_is_object(v))
		check_object(c, s, v, at);
	else if (json_is_array(v))
		check_array(c, s, v, at);
}

/* 0 valid, 1 invalid (reported), 1 too when unreadable. */
static int
check_file(json_t *schema, const char *path)
{
	json_error_t e;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, &e);
	checker c = { schema, path, 0 };

	if (doc == NULL) {
		printf("%s: not JSON: %s (line %d)\n", path, e.text, e.line);
		return 1;
	}
	validate(&c, schema, doc, "");
	json_decref(doc);
	if (c.violations > MAX_REPORTED)
		printf("%s: ... %d violations in all\n", path, c.violations);
	if (c.violations == 0)
		printf("%s: valid\n", path);
	return c.violations > 0;
}

int
main(int argc, char **argv)
{
	json_error_t e;
	json_t *schema;
	int rc = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: jsonschema_check SCHEMA DOC...\n");
		return 2;
	}
	if ((schema = json_load_file(argv[1], JSON_REJECT_DUPLICATES, &e)) ==
	    NULL) {
		fprintf(stderr, "jsonschema_check: cannot read schema %s: %s "
		    "(line %d)\n", argv[1], e.text, e.line);
		return 2;
	}
	if (schema_lint(schema, "#") == -1) {
		json_decref(schema);
		return 2;
	}
	for (int i = 2; i < argc; i++)
		if (check_file(schema, argv[i]) != 0)
			rc = 1;
	json_decref(schema);
	return rc;
}
