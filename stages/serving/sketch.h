/*
 * sketch.h - a mergeable quantile sketch with a relative error bound.
 *
 * Logarithmic buckets (the DDSketch idea): a positive value x lands in
 * bucket ceil(log_gamma(x)) with gamma = (1 + a) / (1 - a), and a bucket
 * answers with the value within relative error a of everything in it.
 * Zero (and negative) values count in their own bucket and answer 0.
 * With a = 0.005, a quantile is within 0.5% of the exact value of the
 * same rank, whatever the data; two sketches merge by adding counts, so
 * gold keeps one per branch and adds each run's new deliveries.
 */
#ifndef SKETCH_H
#define SKETCH_H

#include <stddef.h>
#include <stdint.h>

#define SKETCH_ALPHA 0.005

typedef struct sketch {
	int64_t zero;		/* values <= 0 */
	int32_t first;		/* bucket index of counts[0] */
	int32_t n;		/* buckets in counts */
	int64_t *counts;
	int64_t total;
} sketch;

void sketch_init(sketch *s);
void sketch_free(sketch *s);
int sketch_add(sketch *s, double x);
/* Adds src's counts to dst (merging two sketches). */
int sketch_merge(sketch *dst, const sketch *src);
/* The value of rank ceil(q * total) - 1 (percentile_disc's), within
 * SKETCH_ALPHA relative; NaN when empty. */
double sketch_quantile(const sketch *s, double q);
/* Text form "zero;first;c0,c1,..." (malloc'd), and back. */
char *sketch_encode(const sketch *s);
int sketch_decode(sketch *s, const char *text);

#endif
