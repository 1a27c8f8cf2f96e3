/*
 * s3_xml.c - a bounded scanner for the XML answers of S3 (see s3_xml.h).
 *
 * One pass over the buffer keeps the path of open elements in a fixed
 * array (names joined by '/', with each level's length on a stack) and
 * the decoded text of the innermost element in a growable buffer, reset
 * whenever an element opens or closes. At each closing tag the callback
 * gets the path and that text. Everything an S3 answer never needs
 * (DOCTYPE, entity definitions, namespaces beyond the plain names) is
 * refused or skipped, never interpreted.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "s3_xml.h"

#define XML_DEPTH_MAX 32
#define XML_PATH_MAX 512
#define XML_TEXT_MAX (64 * 1024)

typedef struct xml_scan {
	const char *p;
	const char *end;
	char path[XML_PATH_MAX];
	size_t path_len;
	size_t level_len[XML_DEPTH_MAX];	/* path_len before each level */
	int depth;
	int roots;		/* top-level elements seen */
	char *text;
	size_t text_len;
	size_t text_cap;
	s3_xml_fn fn;
	void *arg;
} xml_scan;

static int
starts(const xml_scan *s, const char *lit)
{
	size_t n = strlen(lit);

	return (size_t)(s->end - s->p) >= n && memcmp(s->p, lit, n) == 0;
}

/* Moves past the first occurrence of lit; -1 when there is none. */
static int
skip_past(xml_scan *s, const char *lit)
{
	size_t n = strlen(lit);

	while ((size_t)(s->end - s->p) >= n) {
		if (memcmp(s->p, lit, n) == 0) {
			s->p += n;
			return 0;
		}
		s->p++;
	}
	return -1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
	    c == ':';
}

static void
skip_spaces(xml_scan *s)
{
	while (s->p < s->end && is_space(*s->p))
		s->p++;
}

static int
text_append(xml_scan *s, const char *data, size_t n)
{
	char *grown;
	size_t cap;

	if (n > XML_TEXT_MAX - s->text_len)
		return -1;
	if (s->text_len + n + 1 > s->text_cap) {
		cap = s->text_cap ? s->text_cap : 256;
		while (cap < s->text_len + n + 1)
			cap *= 2;
		grown = realloc(s->text, cap);
		if (grown == NULL)
			return -1;
		s->text = grown;
		s->text_cap = cap;
	}
	memcpy(s->text + s->text_len, data, n);
	s->text_len += n;
	s->text[s->text_len] = '\0';
	return 0;
}

static void
text_reset(xml_scan *s)
{
	s->text_len = 0;
	if (s->text != NULL)
		s->text[0] = '\0';
}

/* Appends code point cp as UTF-8; -1 for one XML forbids. */
static int
append_code_point(xml_scan *s, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return -1;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return text_append(s, u, n);
}

/* A character reference's digits (after "&#" or "&#x"), up to ';'. */
static int
decode_char_ref(xml_scan *s, const char *digits, const char *semi)
{
	int base = 10;
	unsigned long cp = 0;
	const char *d = digits;

	if (d < semi && *d == 'x') {
		base = 16;
		d++;
	}
	if (d == semi || semi - d > 8)
		return -1;
	for (; d < semi; d++) {
		int v;

		if (*d >= '0' && *d <= '9')
			v = *d - '0';
		else if (base == 16 && *d >= 'a' && *d <= 'f')
			v = *d - 'a' + 10;
		else if (base == 16 && *d >= 'A' && *d <= 'F')
			v = *d - 'A' + 10;
		else
			return -1;
		cp = cp * (unsigned long)base + (unsigned long)v;
	}
	return append_code_point(s, cp);
}

/* At '&': decodes one entity or character reference. */
static int
decode_entity(xml_scan *s)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {
		{ "lt", '<' }, { "gt", '>' }, { "amp", '&' },
		{ "quot", '"' }, { "apos", '\'' },
	};
	const char *start = s->p + 1, *semi;
	size_t i, n;

	semi = memchr(start, ';', (size_t)(s->end - start));
	if (semi == NULL || semi - start > 10)
		return -1;
	n = (size_t)(semi - start);
	s->p = semi + 1;
	if (n > 1 && start[0] == '#')
		return decode_char_ref(s, start + 1, semi);
	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (strlen(named[i].name) == n &&
		    memcmp(named[i].name, start, n) == 0)
			return text_append(s, &named[i].c, 1);
	return -1;
}

/* Character data up to the next '<'. */
static int
scan_text(xml_scan *s)
{
	while (s->p < s->end && *s->p != '<') {
		const char *run = s->p;

		if (*s->p == '&') {
			if (decode_entity(s) != 0)
				return -1;
			continue;
		}
		while (s->p < s->end && *s->p != '<' && *s->p != '&')
			s->p++;
		/* Text outside the root is ignored (whitespace, in practice). */
		if (s->depth > 0 && text_append(s, run, (size_t)(s->p - run)))
			return -1;
	}
	return 0;
}

/* Reads a tag name at s->p; its length, 0 when there is none. */
static size_t
scan_name(xml_scan *s)
{
	const char *start = s->p;

	while (s->p < s->end && is_name_char(*s->p))
		s->p++;
	return (size_t)(s->p - start);
}

static int
push_level(xml_scan *s, const char *name, size_t n)
{
	size_t sep = s->depth > 0 ? 1 : 0;

	if (s->depth == XML_DEPTH_MAX ||
	    s->path_len + sep + n + 1 > sizeof(s->path))
		return -1;
	if (s->depth == 0 && s->roots++ > 0)
		return -1;	/* a second root element */
	s->level_len[s->depth++] = s->path_len;
	if (sep)
		s->path[s->path_len++] = '/';
	memcpy(s->path + s->path_len, name, n);
	s->path_len += n;
	s->path[s->path_len] = '\0';
	text_reset(s);
	return 0;
}

/* Ends the innermost element: the callback, then one level up. */
static int
pop_level(xml_scan *s)
{
	int rc;

	rc = s->fn(s->path, s->text != NULL ? s->text : "", s->text_len,
	    s->arg);
	if (rc != 0)
		return rc;
	s->path_len = s->level_len[--s->depth];
	s->path[s->path_len] = '\0';
	text_reset(s);
	return 0;
}

/* Skips attributes up to '>' or "/>"; 1 for a self-closing tag. */
static int
skip_attributes(xml_scan *s)
{
	for (;;) {
		char quote;

		skip_spaces(s);
		if (starts(s, "/>")) {
			s->p += 2;
			return 1;
		}
		if (starts(s, ">")) {
			s->p++;
			return 0;
		}
		if (scan_name(s) == 0)
			return -1;
		skip_spaces(s);
		if (!starts(s, "="))
			return -1;
		s->p++;
		skip_spaces(s);
		if (s->p == s->end || (*s->p != '"' && *s->p != '\''))
			return -1;
		quote = *s->p++;
		s->p = memchr(s->p, quote, (size_t)(s->end - s->p));
		if (s->p == NULL)
			return -1;
		s->p++;
	}
}

/* At "<name": an opening (or self-closing) tag. */
static int
scan_open_tag(xml_scan *s)
{
	const char *name;
	size_t n;
	int closed;

	s->p++;
	name = s->p;
	n = scan_name(s);
	if (n == 0 || push_level(s, name, n) != 0)
		return -1;
	closed = skip_attributes(s);
	if (closed < 0)
		return -1;
	return closed ? pop_level(s) : 0;
}

/* At "</name>": must close the innermost element. */
static int
scan_close_tag(xml_scan *s)
{
	const char *name;
	size_t n, top;

	s->p += 2;
	name = s->p;
	n = scan_name(s);
	if (n == 0 || s->depth == 0)
		return -1;
	top = s->level_len[s->depth - 1] + (s->depth > 1 ? 1 : 0);
	if (s->path_len - top != n || memcmp(s->path + top, name, n) != 0)
		return -1;
	skip_spaces(s);
	if (!starts(s, ">"))
		return -1;
	s->p++;
	return pop_level(s);
}

static int
scan_markup(xml_scan *s)
{
	if (starts(s, "<?"))
		return skip_past(s, "?>");
	if (starts(s, "<!--"))
		return skip_past(s, "-->");
	if (starts(s, "<![CDATA[")) {
		const char *data = s->p + 9;

		s->p = data;
		if (skip_past(s, "]]>") != 0)
			return -1;
		if (s->depth == 0)
			return -1;
		return text_append(s, data, (size_t)(s->p - 3 - data));
	}
	if (starts(s, "<!"))
		return -1;	/* DOCTYPE and the like: never in S3's answers */
	if (starts(s, "</"))
		return scan_close_tag(s);
	return scan_open_tag(s);
}

int
s3_xml_walk(const char *xml, size_t len, s3_xml_fn fn, void *arg)
{
	xml_scan s;
	int rc = 0;

	if (xml == NULL)
		return -1;	/* no body at all */
	memset(&s, 0, sizeof(s));
	s.p = xml;
	s.end = xml + len;
	s.fn = fn;
	s.arg = arg;
	while (rc == 0 && s.p < s.end) {
		if (*s.p == '<')
			rc = scan_markup(&s);
		else
			rc = scan_text(&s);
	}
	if (rc == 0 && (s.depth != 0 || s.roots == 0))
		rc = -1;
	free(s.text);
	return rc;
}

typedef struct find_state {
	const char *path;
	char *out;
	size_t out_len;
} find_state;

static int
find_one(const char *path, const char *text, size_t len, void *arg)
{
	find_state *f = arg;

	if (strcmp(path, f->path) != 0)
		return 0;
	if (len >= f->out_len)
		len = f->out_len - 1;
	memcpy(f->out, text, len);
	f->out[len] = '\0';
	return 1;
}

int
s3_xml_find(const char *xml, size_t len, const char *path, char *out,
    size_t out_len)
{
	find_state f = { path, out, out_len };
	int rc;

	if (out_len == 0)
		return -1;
	out[0] = '\0';
	rc = s3_xml_walk(xml, len, find_one, &f);
	return rc == 1 ? 1 : rc == 0 ? 0 : -1;
}

typedef struct list_state {
	s3_list_page *page;
	size_t cap;
	char *key;		/* of the <Contents> being read */
	uint64_t size;
	int have_size;
	int64_t mtime_us;
	int saw_root;
	const char *why;
} list_state;

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
 * days_from_civil). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int64_t
s3_xml_parse_time(const char *text)
{
	int y, mo, d, h, mi, s, n = 0;
	int64_t us = 0, scale = 100000;
	const char *p;

	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi,
	    &s, &n) != 6 || n != 19 || mo < 1 || mo > 12 || d < 1 ||
	    d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	p = text + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			us += (*p - '0') * scale;
	if (strcmp(p, "Z") != 0)
		return -1;
	return ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + s) * 1000000) + us;
}

static int
parse_u64(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (text[0] < '0' || text[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
list_add_entry(list_state *st)
{
	s3_list_page *pg = st->page;

	if (st->key == NULL) {
		st->why = "a <Contents> without a <Key>";
		return -1;
	}
	if (pg->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		s3_list_entry *grown = realloc(pg->entries,
		    cap * sizeof(*grown));

		if (grown == NULL) {
			st->why = "out of memory";
			return -1;
		}
		pg->entries = grown;
		st->cap = cap;
	}
	pg->entries[pg->n].key = st->key;
	pg->entries[pg->n].size = st->have_size ? st->size : 0;
	pg->entries[pg->n].mtime_us = st->mtime_us;
	pg->n++;
	st->key = NULL;
	st->have_size = 0;
	st->mtime_us = -1;
	return 0;
}

static int
list_on_element(const char *path, const char *text, size_t len, void *arg)
{
	list_state *st = arg;
	const char *leaf;

	if (strncmp(path, "ListBucketResult", 16) != 0 ||
	    (path[16] != '\0' && path[16] != '/')) {
		st->why = "the answer is not a ListBucketResult";
		return -1;
	}
	leaf = path + 16;
	if (*leaf == '\0') {
		st->saw_root = 1;
	} else if (strcmp(leaf, "/Contents/Key") == 0) {
		free(st->key);
		st->key = strndup(text, len);
		if (st->key == NULL || len == 0 || strlen(st->key) != len) {
			st->why = "an empty <Key>, or one with a NUL byte";
			return -1;
		}
	} else if (strcmp(leaf, "/Contents/Size") == 0) {
		if (parse_u64(text, &st->size) != 0) {
			st->why = "a <Size> that is not a number";
			return -1;
		}
		st->have_size = 1;
	} else if (strcmp(leaf, "/Contents/LastModified") == 0) {
		st->mtime_us = s3_xml_parse_time(text);
	} else if (strcmp(leaf, "/Contents") == 0) {
		return list_add_entry(st);
	} else if (strcmp(leaf, "/IsTruncated") == 0) {
		st->page->truncated = strcmp(text, "true") == 0;
	} else if (strcmp(leaf, "/NextContinuationToken") == 0 && len > 0) {
		free(st->page->next_token);
		st->page->next_token = strndup(text, len);
		if (st->page->next_token == NULL) {
			st->why = "out of memory";
			return -1;
		}
	}
	return 0;
}

static void
set_why(char *why, size_t why_len, const char *text)
{
	if (why_len > 0) {
		strncpy(why, text, why_len - 1);
		why[why_len - 1] = '\0';
	}
}

int
s3_xml_list_parse(const char *xml, size_t len, s3_list_page *page,
    char *why, size_t why_len)
{
	list_state st;
	int rc;

	memset(page, 0, sizeof(*page));
	memset(&st, 0, sizeof(st));
	st.mtime_us = -1;
	st.page = page;
	rc = s3_xml_walk(xml, len, list_on_element, &st);
	free(st.key);
	if (rc == 0 && !st.saw_root) {
		rc = -1;
		st.why = "the answer is not a ListBucketResult";
	}
	if (rc == 0 && page->truncated && page->next_token == NULL) {
		rc = -1;
		st.why = "a truncated page without a <NextContinuationToken>";
	}
	if (rc != 0) {
		set_why(why, why_len,
		    st.why != NULL ? st.why : "malformed XML");
		s3_list_page_free(page);
		return -1;
	}
	return 0;
}

void
s3_list_page_free(s3_list_page *page)
{
	size_t i;

	for (i = 0; i < page->n; i++)
		free(page->entries[i].key);
	free(page->entries);
	free(page->next_token);
	memset(page, 0, sizeof(*page));
}
