/*
 * lake_json.c - the pull scanner of lake_json.h: a recursive-descent
 * walk over the text that checks JSON's grammar (RFC 8259) as it goes,
 * with nesting limited to LAKE_JSON_MAX_DEPTH. Strings are decoded with
 * their escapes, \u surrogate pairs included, into UTF-8.
 */
#include <stdlib.h>
#include <string.h>

#include "lake_json.h"

#define LAKE_JSON_MAX_DEPTH 64

void
lake_json_init(lake_json *s, const char *text, size_t len)
{
	s->p = text;
	s->end = text + len;
	s->depth = 0;
}

static void
skip_space(lake_json *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

int
lake_json_peek(lake_json *s)
{
	skip_space(s);
	return s->p < s->end ? (unsigned char)*s->p : 0;
}

int
lake_json_at_end(lake_json *s)
{
	return lake_json_peek(s) == 0 && s->p == s->end;
}

static int
expect(lake_json *s, char c)
{
	if (lake_json_peek(s) != (unsigned char)c)
		return -1;
	s->p++;
	return 0;
}

static int
hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Appends code point cp as UTF-8 at *o (room for 4 bytes). */
static void
put_utf8(char **o, unsigned cp)
{
	unsigned char *u = (unsigned char *)*o;

	if (cp < 0x80) {
		*u++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*u++ = (unsigned char)(0xc0 | cp >> 6);
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*u++ = (unsigned char)(0xe0 | cp >> 12);
		*u++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*u++ = (unsigned char)(0xf0 | cp >> 18);
		*u++ = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		*u++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*u++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*o = (char *)u;
}

/* Whether byte c ends a run of plain string characters. */
static inline int
string_special(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/*
 * Scans the string at s->p (on its opening quote). With out non-NULL,
 * decodes it there (room for as many bytes as the raw text; a \u escape
 * of 6 or 12 bytes never yields more than 4). Returns the decoded length
 * or -1.
 */
static long
scan_string(lake_json *s, char *out)
{
	char *o = out;

	if (expect(s, '"') == -1)
		return -1;
	while (s->p < s->end) {
		const char *run = s->p;
		unsigned char c;
		unsigned cp, lo;

		/* Most of a string is plain characters: copy them in runs. */
		while (s->p < s->end && !string_special((unsigned char)*s->p))
			s->p++;
		if (out != NULL && s->p > run) {
			memcpy(o, run, (size_t)(s->p - run));
			o += s->p - run;
		}
		if (s->p >= s->end)
			return -1;
		c = (unsigned char)*s->p++;
		if (c == '"')
			return out != NULL ? o - out : 0;
		if (c < 0x20)
			return -1;
		if (s->p >= s->end)
			return -1;
		c = (unsigned char)*s->p++;
		switch (c) {
		case '"': case '\\': case '/':
			break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			if (s->end - s->p < 4 || hex4(s->p, &cp) == -1)
				return -1;
			s->p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -1;	/* a lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (s->end - s->p < 6 || s->p[0] != '\\' ||
				    s->p[1] != 'u' || hex4(s->p + 2, &lo) ==
				    -1 || lo < 0xdc00 || lo > 0xdfff)
					return -1;
				s->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
			}
			if (out != NULL)
				put_utf8(&o, cp);
			continue;
		default:
			return -1;
		}
		if (out != NULL)
			*o++ = (char)c;
	}
	return -1;
}

static int
scan_number(lake_json *s)
{
	const char *p = s->p;

	if (p < s->end && *p == '-')
		p++;
	if (p >= s->end || *p < '0' || *p > '9')
		return -1;
	if (*p == '0')
		p++;
	else
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	if (p < s->end && *p == '.') {
		if (++p >= s->end || *p < '0' || *p > '9')
			return -1;
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < s->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= s->end || *p < '0' || *p > '9')
			return -1;
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	}
	s->p = p;
	return 0;
}

static int
scan_word(lake_json *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int skip_value(lake_json *s);

static int
skip_container(lake_json *s, char close)
{
	int first = 1;

	if (++s->depth > LAKE_JSON_MAX_DEPTH)
		return -1;
	s->p++;			/* the opening bracket */
	for (;;) {
		if (lake_json_peek(s) == (unsigned char)close) {
			s->p++;
			break;
		}
		if (!first && expect(s, ',') == -1)
			return -1;
		first = 0;
		if (close == '}' && (lake_json_peek(s) != '"' ||
		    scan_string(s, NULL) == -1 || expect(s, ':') == -1))
			return -1;
		if (skip_value(s) == -1)
			return -1;
	}
	s->depth--;
	return 0;
}

static int
skip_value(lake_json *s)
{
	switch (lake_json_peek(s)) {
	case '{':
		return skip_container(s, '}');
	case '[':
		return skip_container(s, ']');
	case '"':
		return scan_string(s, NULL) == -1 ? -1 : 0;
	case 't':
		return scan_word(s, "true");
	case 'f':
		return scan_word(s, "false");
	case 'n':
		return scan_word(s, "null");
	default:
		return scan_number(s);
	}
}

int
lake_json_skip(lake_json *s)
{
	return skip_value(s);
}

int
lake_json_span(lake_json *s, const char **start, size_t *len)
{
	skip_space(s);
	*start = s->p;
	if (skip_value(s) == -1)
		return -1;
	*len = (size_t)(s->p - *start);
	return 0;
}

int
lake_json_object_begin(lake_json *s)
{
	if (expect(s, '{') == -1)
		return -1;
	s->first = 1;
	s->depth++;
	return s->depth > LAKE_JSON_MAX_DEPTH ? -1 : 0;
}

int
lake_json_next_key(lake_json *s, char *key, size_t key_size)
{
	const char *raw;
	int c = lake_json_peek(s);
	long n;

	if (c == '}') {
		s->p++;
		s->depth--;
		/* Whatever encloses this object is past its first member. */
		s->first = 0;
		return 0;
	}
	/* Members after the first start with a comma. */
	if (!s->first) {
		if (c != ',')
			return -1;
		s->p++;
		c = lake_json_peek(s);
	}
	s->first = 0;
	if (c != '"')
		return -1;
	raw = s->p;
	if ((n = scan_string(s, NULL)) == -1)
		return -1;
	if ((size_t)(s->p - raw) - 2 < key_size) {
		lake_json k;

		lake_json_init(&k, raw, (size_t)(s->p - raw));
		n = scan_string(&k, key);
		key[n] = '\0';
	} else {
		key[0] = '\0';
	}
	return expect(s, ':') == -1 ? -1 : 1;
}

int
lake_json_string(lake_json *s, char **out)
{
	lake_json probe;
	const char *raw;
	char *buf;
	long n;

	if (lake_json_peek(s) != '"')
		return -1;
	raw = s->p;
	probe = *s;
	if (scan_string(&probe, NULL) == -1)
		return -1;
	if ((buf = malloc((size_t)(probe.p - raw) + 1)) == NULL)
		return -1;
	n = scan_string(s, buf);
	buf[n] = '\0';
	*out = buf;
	return 0;
}

int
lake_json_int64(lake_json *s, int64_t *v)
{
	const char *p;
	uint64_t mag = 0, limit = (uint64_t)INT64_MAX;
	int neg = 0;

	skip_space(s);
	p = s->p;
	if (p < s->end && *p == '-') {
		neg = 1;
		limit++;
		p++;
	}
	if (p >= s->end || *p < '0' || *p > '9' ||
	    (*p == '0' && p + 1 < s->end && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; p < s->end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (mag > (limit - d) / 10)
			return -1;
		mag = mag * 10 + d;
	}
	if (p < s->end && (*p == '.' || *p == 'e' || *p == 'E'))
		return -1;
	s->p = p;
	*v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

/* In the object at s, the integer member key: 1 found, 0 not, -1 bad. */
static int
find_member_int(lake_json *s, const char *key, int64_t *v)
{
	char k[64];
	int rc, found = 0;

	if (lake_json_object_begin(s) == -1)
		return -1;
	while ((rc = lake_json_next_key(s, k, sizeof(k))) == 1) {
		if (!found && strcmp(k, key) == 0 &&
		    lake_json_int64(s, v) == 0)
			found = 1;
		else if (lake_json_skip(s) == -1)
			return -1;
	}
	return rc == -1 ? -1 : found;
}

int
lake_json_find_int(const char *text, const char *outer, const char *inner,
    int64_t *v)
{
	lake_json s;
	int mask;

	if (outer == NULL) {
		lake_json_init(&s, text, strlen(text));
		return find_member_int(&s, inner, v);
	}
	mask = lake_json_find_ints(text, &outer, 1, inner, v);
	return mask == -1 ? -1 : mask & 1;
}

int
lake_json_find_ints(const char *text, const char *const *outers, int n,
    const char *inner, int64_t *v)
{
	lake_json s;
	char key[64];
	int rc, mask = 0;

	lake_json_init(&s, text, strlen(text));
	if (lake_json_object_begin(&s) == -1)
		return -1;
	while ((rc = lake_json_next_key(&s, key, sizeof(key))) == 1) {
		int i;

		for (i = 0; i < n; i++)
			if (!(mask & 1 << i) && strcmp(key, outers[i]) == 0)
				break;
		if (i < n && lake_json_peek(&s) == '{') {
			if ((rc = find_member_int(&s, inner, &v[i])) == -1)
				return -1;
			mask |= rc << i;
		} else if (lake_json_skip(&s) == -1)
			return -1;
	}
	return rc == -1 ? -1 : mask;
}
