/*
 * test_rules.c - unit tests of the pipeline's pure logic: silver's
 * validation rules, the order index, and gold's quantile sketch (its
 * error bound against exact ranks, its text form, and merging).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "order_index.h"
#include "sketch.h"
#include "validate.h"

#define H 3600000000LL

static void
test_validate(void)
{
	uint8_t f = 0;

	EXPECT(validate_event("LOST", 4, 1, &f, 0, 0, 0) == V_UNKNOWN_STATUS,
	    "unknown status");
	EXPECT(validate_event("", 0, 0, &f, 0, 0, 0) == V_UNKNOWN_STATUS,
	    "empty status is unknown, order or not");
	EXPECT(validate_event("NEW", 3, 0, &f, 0, 0, 0) == V_WAIT,
	    "no order yet: wait");
	EXPECT(validate_event("INTRANSIT", 9, 1, &f, H, 0, 0) == V_DROP,
	    "INTRANSIT is dropped");
	EXPECT(validate_event("DELIVERED", 9, 1, &f, H, 0, 0) == V_DEFER,
	    "DELIVERED before NEW in a batch waits for the batch end");
	EXPECT(validate_event("DELIVERED", 9, 1, &f, H, 0, 1) ==
	    V_DELIVERED_WITHOUT_NEW, "... then is rejected");
	EXPECT(f == 0, "rejections do not set flags");
	EXPECT(validate_event("NEW", 3, 1, &f, 0, 0, 0) == V_KEEP &&
	    f == ORDER_HAS_NEW, "NEW is kept and flagged");
	EXPECT(validate_event("NEW", 3, 1, &f, 0, 0, 0) == V_DUPLICATE,
	    "second NEW is a duplicate");
	EXPECT(validate_event("DELIVERED", 9, 1, &f, -1, 0, 0) ==
	    V_DELIVERY_BEFORE_ORDER, "delivery before its order");
	EXPECT(validate_event("DELIVERED", 9, 1, &f, 2 * H, 0, 0) == V_KEEP &&
	    f == (ORDER_HAS_NEW | ORDER_HAS_DELIVERED), "DELIVERED kept");
	EXPECT(validate_event("DELIVERED", 9, 1, &f, 3 * H, 0, 0) ==
	    V_DUPLICATE, "second DELIVERED is a duplicate");
	EXPECT(validate_event("new", 3, 1, &f, 0, 0, 0) == V_UNKNOWN_STATUS,
	    "statuses are case-sensitive");
	EXPECT(strcmp(verdict_reason(V_DELIVERED_WITHOUT_NEW),
	    "DELIVERED without NEW") == 0, "reason text");
	EXPECT(verdict_reason(V_KEEP) == NULL, "no reason for a keep");
}

/*
 * Times outside 1900..9999 (PostgreSQL's ±infinity as ingestion stores
 * them, a corrupted year) are refused, whatever the status, before they
 * can reach a delivery time; a negative delivery time is refused too.
 */
static void
test_time_range(void)
{
	static const char *statuses[] = { "NEW", "INTRANSIT", "DELIVERED" };
	const int64_t bad[] = { INT64_MAX, -INT64_MAX, INT64_MIN,
		VALIDATE_TIME_END, VALIDATE_TIME_MIN - 1 };
	uint8_t f;
	int all = 1;

	for (size_t s = 0; s < 3; s++)
		for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
			size_t n = strlen(statuses[s]);

			f = ORDER_HAS_NEW;
			all &= validate_event(statuses[s], n, 1, &f, bad[b], 0,
			    0) == V_TIME_OUT_OF_RANGE;
			all &= validate_event(statuses[s], n, 1, &f, H, bad[b],
			    0) == V_TIME_OUT_OF_RANGE;
			all &= f == ORDER_HAS_NEW;
		}
	EXPECT(all, "event or order times outside the range are rejected, "
	    "flags untouched");
	f = 0;
	EXPECT(validate_event("NEW", 3, 1, &f, VALIDATE_TIME_MIN,
	    VALIDATE_TIME_MIN, 0) == V_KEEP, "1900-01-01 is in range");
	EXPECT(validate_event("DELIVERED", 9, 1, &f, VALIDATE_TIME_END - 1,
	    VALIDATE_TIME_MIN, 0) == V_KEEP, "9999-12-31 23:59:59.999999 is in "
	    "range, and its delivery time does not overflow");
	f = ORDER_HAS_NEW;
	EXPECT(validate_event("DELIVERED", 9, 1, &f, 10 * H - 1, 10 * H, 0) ==
	    V_DELIVERY_BEFORE_ORDER, "a negative delivery time is rejected");
	EXPECT(validate_event("DELIVERED", 9, 1, &f, 10 * H, 10 * H, 0) ==
	    V_KEEP, "a zero delivery time is kept");
	EXPECT(validate_event("DELIVERED", 9, 0, &f, INT64_MAX, 0, 0) ==
	    V_WAIT, "without its order an event waits: the order's time is "
	    "checked when it comes");
	EXPECT(strcmp(verdict_reason(V_TIME_OUT_OF_RANGE),
	    "time outside years 1900-9999") == 0, "reason text");
}

static void
test_order_index(void)
{
	order_index ix;
	int ok = 1;

	EXPECT(order_index_init(&ix, 4) == 0, "init");
	for (int32_t id = 1; id <= 100000; id++)
		ok &= order_index_add(&ix, id * 7) != NULL;
	EXPECT(ok && ix.n == 100000, "100000 adds with growth");
	EXPECT(order_index_add(&ix, 0) == NULL, "id 0 is refused");
	EXPECT(order_index_get(&ix, 7 * 500)->orderid == 3500, "lookup");
	EXPECT(order_index_get(&ix, 8) == NULL, "absent id");
	EXPECT(order_index_add(&ix, 70) == order_index_get(&ix, 70) &&
	    ix.n == 100000, "adding twice returns the same entry");
	EXPECT(order_index_branch(&ix, "Amberfield", 10) == 0 &&
	    order_index_branch(&ix, "Elmstead", 8) == 1 &&
	    order_index_branch(&ix, "Amberfield", 10) == 0, "interning");
	order_index_free(&ix);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The count of bucket i in s, 0 outside its array. */
static int64_t
bucket(const sketch *s, int32_t i)
{
	return i >= s->first && i < s->first + s->n ? s->counts[i -
	    s->first] : 0;
}

/* Whether x and y count the same in every bucket either has. */
static int
same_buckets(const sketch *x, const sketch *y)
{
	int32_t lo = x->first < y->first ? x->first : y->first;
	int32_t hi = x->first + x->n > y->first + y->n ? x->first + x->n :
	    y->first + y->n;

	for (int32_t i = lo; i < hi; i++)
		if (bucket(x, i) != bucket(y, i))
			return 0;
	return 1;
}

static void
test_sketch(void)
{
	enum { N = 200000 };
	static double v[N];
	sketch a, b, whole, back;
	double worst = 0;
	char *text, *again;

	sketch_init(&a);
	sketch_init(&b);
	sketch_init(&whole);
	srand(42);
	for (int i = 0; i < N; i++) {
		/* Log-normal-ish delivery hours, plus some zeros. */
		double u = (rand() + 1.0) / (RAND_MAX + 2.0);
		double w = (rand() + 1.0) / (RAND_MAX + 2.0);

		v[i] = i % 997 == 0 ? 0 : exp(sqrt(-2 * log(u)) *
		    cos(6.283185307 * w)) * 2.5;
		sketch_add(i % 2 ? &a : &b, v[i]);
		sketch_add(&whole, v[i]);
	}
	qsort(v, N, sizeof(v[0]), cmp_double);
	for (double q = 0.01; q < 1.0; q += 0.01) {
		long rank = (long)ceil(q * N) - 1;
		double got = sketch_quantile(&whole, q), want = v[rank];
		double rel = want == 0 ? fabs(got) : fabs(got - want) / want;

		if (rel > worst)
			worst = rel;
	}
	EXPECT(worst <= SKETCH_ALPHA + 1e-12, "quantiles within %.3f%%, worst "
	    "%.4f%%", SKETCH_ALPHA * 100, worst * 100);
	text = sketch_encode(&a);
	EXPECT(text != NULL && sketch_decode(&back, text) == 0,
	    "encode/decode");
	EXPECT(back.total == a.total && back.zero == a.zero &&
	    same_buckets(&back, &a), "round trip keeps every bucket (%d "
	    "buckets from %d)", back.n, back.first);
	again = sketch_encode(&back);
	EXPECT(again != NULL && strcmp(again, text) == 0, "the text form "
	    "is canonical: spare buckets are left out");
	free(again);
	free(text);
	sketch_free(&back);
	EXPECT(sketch_decode(&back, "2;-3;1,0,9223372036854775000") == 0 &&
	    (text = sketch_encode(&back)) != NULL &&
	    strcmp(text, "2;-3;1,0,9223372036854775000") == 0,
	    "text form: negative first bucket, zero and large counts");
	free(text);
	sketch_free(&back);
	EXPECT(sketch_decode(&back, "4;7;") == 0 && back.total == 4 &&
	    back.n == 0 && (text = sketch_encode(&back)) != NULL &&
	    strcmp(text, "4;0;") == 0, "text form: only zeros");
	free(text);
	sketch_free(&back);
	EXPECT(sketch_decode(&back, "1;2;3,") == -1 &&
	    sketch_decode(&back, "1;2;3,,4") == -1 &&
	    sketch_decode(&back, "1;2;99999999999999999999") == -1 &&
	    sketch_decode(&back, "1;2;9223372036854775807,1") == -1 &&
	    sketch_decode(&back, "1;300000;1") == -1 &&
	    sketch_decode(&back, "1;2;3 ") == -1, "malformed counts are "
	    "refused");
	EXPECT(sketch_decode(&back, text = sketch_encode(&a)) == 0,
	    "decode again");
	free(text);
	/* Merging adds counts: a's copy plus b equals the whole. */
	text = sketch_encode(&b);
	EXPECT(sketch_merge(&back, &b) == 0, "merge");
	EXPECT(back.total == whole.total && sketch_quantile(&back, 0.5) ==
	    sketch_quantile(&whole, 0.5) && sketch_quantile(&back, 0.9) ==
	    sketch_quantile(&whole, 0.9), "merged halves equal the whole");
	sketch_free(&back);
	EXPECT(sketch_decode(&back, "x;1;2") == -1 &&
	    sketch_decode(&back, "1;2;3,-4") == -1, "bad text is refused");
	EXPECT(isnan(sketch_quantile(&back, 0.5)), "empty sketch: NaN");
	free(text);
	sketch_free(&back);
	sketch_free(&a);
	sketch_free(&b);
	sketch_free(&whole);
}

int
main(void)
{
	test_validate();
	test_time_range();
	test_order_index();
	test_sketch();
	return expect_report("test_rules");
}
