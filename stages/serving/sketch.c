/*
 * sketch.c - logarithmic-bucket quantile sketch (see sketch.h).
 *
 * Buckets are one dense array from the lowest to the highest index seen,
 * grown at either end; delivery times span a few thousand buckets at
 * most (one second to months at 0.5%), so dense is smaller and simpler
 * than a map.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

#define MAX_BUCKETS 200000

static double
log_gamma(void)
{
	return log((1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA));
}

void
sketch_init(sketch *s)
{
	memset(s, 0, sizeof(*s));
}

void
sketch_free(sketch *s)
{
	free(s->counts);
	memset(s, 0, sizeof(*s));
}

/* The first and last nonzero bucket of s; *lo > *hi when none. */
static void
nonzero_range(const sketch *s, int32_t *lo, int32_t *hi)
{
	*lo = 0;
	*hi = s->n - 1;
	while (*lo <= *hi && s->counts[*lo] == 0)
		(*lo)++;
	while (*hi >= *lo && s->counts[*hi] == 0)
		(*hi)--;
}

/*
 * Makes room for bucket index i. The array grows by half its size more
 * than needed at the side that needs it, so a stream of new extremes
 * costs amortized constant time; sketch_encode leaves the spare zeros out.
 */
static int
cover(sketch *s, int32_t i)
{
	int32_t lo, hi, slack;
	int64_t *c;

	if (s->n > 0 && i >= s->first && i < s->first + s->n)
		return 0;
	lo = s->n > 0 && s->first < i ? s->first : i;
	hi = s->n > 0 && s->first + s->n - 1 > i ? s->first + s->n - 1 : i;
	if ((int64_t)hi - lo + 1 > MAX_BUCKETS)
		return -1;
	if (s->n > 0) {
		slack = s->n / 2 > 16 ? s->n / 2 : 16;
		if (slack > MAX_BUCKETS - (hi - lo + 1))
			slack = MAX_BUCKETS - (hi - lo + 1);
		if (i < s->first)
			lo -= slack;
		else
			hi += slack;
	}
	if ((c = calloc((size_t)(hi - lo + 1), sizeof(*c))) == NULL)
		return -1;
	if (s->n > 0)
		memcpy(c + (s->first - lo), s->counts, (size_t)s->n *
		    sizeof(*c));
	free(s->counts);
	s->counts = c;
	s->first = lo;
	s->n = hi - lo + 1;
	return 0;
}

int
sketch_add(sketch *s, double x)
{
	int32_t i;

	if (!(x > 0)) {
		s->zero++;
		s->total++;
		return 0;
	}
	i = (int32_t)ceil(log(x) / log_gamma());
	if (cover(s, i) == -1)
		return -1;
	s->counts[i - s->first]++;
	s->total++;
	return 0;
}

int
sketch_merge(sketch *dst, const sketch *src)
{
	int32_t lo, hi;

	/* src's nonzero range, covered at once before adding. */
	nonzero_range(src, &lo, &hi);
	if (hi >= lo && (cover(dst, src->first + lo) == -1 ||
	    cover(dst, src->first + hi) == -1))
		return -1;
	for (int32_t k = lo; k <= hi; k++)
		dst->counts[src->first + k - dst->first] += src->counts[k];
	dst->zero += src->zero;
	dst->total += src->total;
	return 0;
}

double
sketch_quantile(const sketch *s, double q)
{
	int64_t rank, seen;
	double g = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA);

	if (s->total == 0)
		return NAN;
	rank = (int64_t)ceil(q * (double)s->total) - 1;
	if (rank < 0)
		rank = 0;
	seen = s->zero;
	if (rank < seen)
		return 0;
	for (int32_t k = 0; k < s->n; k++) {
		seen += s->counts[k];
		if (rank < seen)
			return 2 * pow(g, s->first + k) / (g + 1);
	}
	return 2 * pow(g, s->first + s->n - 1) / (g + 1);
}

/* Writes v in decimal at p; returns the end. */
static char *
put_int(char *p, int64_t v)
{
	char digits[20];
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	int n = 0;

	if (v < 0)
		*p++ = '-';
	do {
		digits[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

/*
 * The state of every branch is written each run, so this is hand-rolled
 * rather than an snprintf per bucket: a sketch has thousands of buckets.
 */
char *
sketch_encode(const sketch *s)
{
	/* sign and 19 digits per number, a separator after each */
	char *text = malloc(((size_t)s->n + 2) * 21 + 1), *p = text;
	int32_t lo, hi;

	if (text == NULL)
		return NULL;
	nonzero_range(s, &lo, &hi);
	p = put_int(p, s->zero);
	*p++ = ';';
	p = put_int(p, lo <= hi ? s->first + lo : 0);
	*p++ = ';';
	for (int32_t k = lo; k <= hi; k++) {
		if (k > lo)
			*p++ = ',';
		p = put_int(p, s->counts[k]);
	}
	*p = '\0';
	return text;
}

/*
 * Reads a non-negative decimal int64 at *p, advancing it; -1 when there
 * is none or it overflows.
 */
static int64_t
get_count(const char **p)
{
	const char *q = *p;
	int64_t v = 0;

	if (*q < '0' || *q > '9')
		return -1;
	for (; *q >= '0' && *q <= '9'; q++) {
		if (v > (INT64_MAX - (*q - '0')) / 10)
			return -1;
		v = v * 10 + (*q - '0');
	}
	*p = q;
	return v;
}

/* Parses "zero;first;c0,c1,...", allocating the buckets once. */
int
sketch_decode(sketch *s, const char *text)
{
	long long zero;
	int first, used = 0;
	size_t n = 1;
	const char *p;

	sketch_init(s);
	if (sscanf(text, "%lld;%d;%n", &zero, &first, &used) != 2 ||
	    zero < 0 || used == 0)
		return -1;
	if (first < -MAX_BUCKETS || first > MAX_BUCKETS)
		return -1;
	s->zero = zero;
	s->total = zero;
	s->first = first;
	p = text + used;
	if (*p == '\0')
		return 0;
	for (const char *q = p; *q; q++)
		n += *q == ',';
	if (n > MAX_BUCKETS || (s->counts = calloc(n,
	    sizeof(*s->counts))) == NULL)
		goto bad;
	s->n = (int32_t)n;
	for (size_t k = 0; k < n; k++) {
		int64_t c = get_count(&p);

		if (c < 0 || c > INT64_MAX - s->total ||
		    *p != (k + 1 < n ? ',' : '\0'))
			goto bad;
		s->counts[k] = c;
		s->total += c;
		p++;
	}
	return 0;
bad:
	sketch_free(s);
	return -1;
}
