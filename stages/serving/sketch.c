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

#include "lake_buf.h"
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

/* Makes room for bucket index i. */
static int
cover(sketch *s, int32_t i)
{
	int32_t lo, hi, n;
	int64_t *c;

	if (s->n > 0 && i >= s->first && i < s->first + s->n)
		return 0;
	lo = s->n == 0 ? i : (i < s->first ? i : s->first);
	hi = s->n == 0 ? i : (i >= s->first + s->n ? i : s->first + s->n - 1);
	n = hi - lo + 1;
	if (n > MAX_BUCKETS)
		return -1;
	if ((c = calloc((size_t)n, sizeof(*c))) == NULL)
		return -1;
	if (s->n > 0)
		memcpy(c + (s->first - lo), s->counts, (size_t)s->n *
		    sizeof(*c));
	free(s->counts);
	s->counts = c;
	s->first = lo;
	s->n = n;
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
	for (int32_t k = 0; k < src->n; k++) {
		if (src->counts[k] == 0)
			continue;
		if (cover(dst, src->first + k) == -1)
			return -1;
		dst->counts[src->first + k - dst->first] += src->counts[k];
	}
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

char *
sketch_encode(const sketch *s)
{
	lake_buf b = { 0 };
	char num[48];
	int n;

	n = snprintf(num, sizeof(num), "%lld;%d;", (long long)s->zero,
	    s->first);
	lake_buf_append(&b, num, (size_t)n);
	for (int32_t k = 0; k < s->n; k++) {
		n = snprintf(num, sizeof(num), "%s%lld", k ? "," : "",
		    (long long)s->counts[k]);
		lake_buf_append(&b, num, (size_t)n);
	}
	lake_buf_append(&b, "", 1);
	if (b.failed) {
		lake_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

int
sketch_decode(sketch *s, const char *text)
{
	long long zero;
	int first, used = 0;
	const char *p;

	sketch_init(s);
	if (sscanf(text, "%lld;%d;%n", &zero, &first, &used) != 2 ||
	    zero < 0 || used == 0)
		return -1;
	s->zero = zero;
	s->total = zero;
	p = text + used;
	for (int32_t i = first; *p; i++) {
		char *end;
		long long c = strtoll(p, &end, 10);

		if (end == p || c < 0)
			goto bad;
		if (c > 0) {
			if (cover(s, i) == -1)
				goto bad;
			s->counts[i - s->first] += c;
			s->total += c;
		}
		p = *end == ',' ? end + 1 : end;
		if (*end != ',' && *end != '\0')
			goto bad;
	}
	return 0;
bad:
	sketch_free(s);
	return -1;
}
