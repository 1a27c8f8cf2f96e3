/*
 * lake_json.c - the pull scanner of lake_json.h: a recursive-descent
 * walk over the text that checks JSON's grammar (RFC 8259) as it goes,
 * with nesting limited to LAKE_JSON_MAX_DEPTH. Strings are decoded with
 * their escapes, \u surrogate pairs included, into UTF-8.
 */
#include <stddef.h>
#include <stdint.h>
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
 * The first byte at or after p (before end) that ends a run of plain
 * string characters, or end. Eight bytes at a time: a byte of the word
 * is flagged when it is '"', '\\' or below 0x20 (the classic "has a zero
 * byte" test, whose lowest flag is always exact). Delta's stats strings
 * escape a quote every few characters, so the runs are short and the
 * branch per byte of a plain loop was most of a log's parsing time.
 */
static const char *
skip_plain(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;

	while (end - p >= 8) {
		uint64_t v, quote, bslash, flags;

		memcpy(&v, p, 8);
		quote = v ^ (ones * '"');
		bslash = v ^ (ones * '\\');
		flags = ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) |
		    ((v - ones * 0x20) & ~v);
		flags &= highs;
		if (flags != 0)
			return p + __builtin_ctzll(flags) / 8;
		p += 8;
	}
#endif
	while (p < end && !string_special((unsigned char)*p))
		p++;
	return p;
}

/*
 * The closing quote of the string whose opening quote is at p, or NULL:
 * the first '"' after it that an even run of backslashes precedes (the
 * decoder's own reading, as each escape is a backslash and one more
 * character, a quote only in \\"). It bounds the decoded length, so a
 * string is decoded in one pass; the decoder still checks its grammar.
 */
static const char *
closing_quote(const char *p, const char *end)
{
	const char *from = p + 1;

	for (;;) {
		const char *q = memchr(from, '"', (size_t)(end - from));
		size_t backslashes = 0;

		if (q == NULL)
			return NULL;
		while (q - backslashes - 1 > p && q[-1 - (ptrdiff_t)backslashes]
		    == '\\')
			backslashes++;
		if (backslashes % 2 == 0)
			return q;
		from = q + 1;
	}
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
	const char *p, *end = s->end;
	char *o = out;

	if (expect(s, '"') == -1)
		return -1;
	for (p = s->p;;) {
		const char *run = p;
		unsigned char c;
		unsigned cp, lo;

		p = skip_plain(p, end);
		if (out != NULL && p > run) {
			memcpy(o, run, (size_t)(p - run));
			o += p - run;
		}
		if (p >= end)
			return -1;	/* no closing quote */
		c = (unsigned char)*p++;
		if (c == '"') {
			s->p = p;
			return out != NULL ? o - out : 0;
		}
		if (c < 0x20 || p >= end)
			return -1;
		c = (unsigned char)*p++;
		switch (c) {
		case '"': case '\\': case '/':
			break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			if (end - p < 4 || hex4(p, &cp) == -1)
				return -1;
			p += 4;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -1;	/* a lone low surrogate */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (end - p < 6 || p[0] != '\\' ||
				    p[1] != 'u' || hex4(p + 2, &lo) ==
				    -1 || lo < 0xdc00 || lo > 0xdfff)
					return -1;
				p += 6;
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
	const char *q;
	int c = lake_json_peek(s), fits;
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
	if ((q = closing_quote(s->p, s->end)) == NULL)
		return -1;
	/* A key too long for key[] is scanned but not kept. */
	fits = (size_t)(q - s->p) - 1 < key_size;
	if ((n = scan_string(s, fits ? key : NULL)) == -1)
		return -1;
	key[fits ? n : 0] = '\0';
	return expect(s, ':') == -1 ? -1 : 1;
}

int
lake_json_string(lake_json *s, char **out)
{
	const char *q = NULL;
	size_t room;
	char *buf, *shrunk;
	long n;

	if (lake_json_peek(s) != '"')
		return -1;
	/*
	 * The raw text bounds the decoded length, so the string is decoded
	 * in one pass: the rest of a short text (a Delta log line), else
	 * the text up to the closing quote.
	 */
	room = (size_t)(s->end - s->p);
	if (room > 4096) {
		if ((q = closing_quote(s->p, s->end)) == NULL)
			return -1;
		room = (size_t)(q - s->p);
	}
	if ((buf = malloc(room)) == NULL)
		return -1;
	if ((n = scan_string(s, buf)) == -1) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	if (room - (size_t)n > 256 && (shrunk = realloc(buf, (size_t)n + 1)))
		buf = shrunk;
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
find_member_int(lake_json *s, const char *key, int64_t *v, int stop)
{
	char k[64];
	int rc, found = 0;

	if (lake_json_object_begin(s) == -1)
		return -1;
	while ((rc = lake_json_next_key(s, k, sizeof(k))) == 1) {
		if (!found && strcmp(k, key) == 0 &&
		    lake_json_int64(s, v) == 0) {
			if (stop)
				return 1;
			found = 1;
		} else if (lake_json_skip(s) == -1)
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
		return find_member_int(&s, inner, v, 1);
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
			if ((rc = find_member_int(&s, inner, &v[i], 0)) == -1)
				return -1;
			mask |= rc << i;
		} else if (lake_json_skip(&s) == -1)
			return -1;
	}
	return rc == -1 ? -1 : mask;
}
