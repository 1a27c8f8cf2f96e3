/*
 * lake_json_write.c - see lake_json_write.h. Strings are checked to be
 * UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF) before anything is appended, then escaped straight into
 * the buffer, which is first grown once for the worst case.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lake_json_write.h"

void
lake_json_put_raw(lake_buf *b, const char *text)
{
	lake_buf_append(b, text, strlen(text));
}

/* The length of the UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t
utf8_sequence(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static int
valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t len = utf8_sequence(p + i, n - i);

		if (len == 0)
			return 0;
		i += len;
	}
	return 1;
}

int
lake_json_put_string(lake_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o;

	if (!valid_utf8(s, n))
		return -1;
	/* Room for the worst case (every byte a \u00XX) and the quotes. */
	if (n > (SIZE_MAX - 2) / 6)
		b->failed = 1;
	if (b->failed || lake_buf_reserve(b, n * 6 + 2) == -1)
		return 0;	/* the caller checks b->failed */
	o = (char *)b->data + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - (char *)b->data);
	return 0;
}

void
lake_json_put_int(lake_buf *b, int64_t v)
{
	char digits[24], *p = digits + sizeof(digits);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--p = '-';
	lake_buf_append(b, p, (size_t)(digits + sizeof(digits) - p));
}

int
lake_json_put_double(lake_buf *b, double v)
{
	char text[40];
	int n;

	if (!isfinite(v))
		return -1;
	n = snprintf(text, sizeof(text), "%.17g", v);
	/* "1e+20" and "3" are JSON numbers; keep them reading as reals. */
	if (strpbrk(text, ".eE") == NULL)
		n += snprintf(text + n, sizeof(text) - (size_t)n, ".0");
	lake_buf_append(b, text, (size_t)n);
	return 0;
}
