/*
 * fuzz_copy.c - libFuzzer target for the COPY binary decoder
 * (stages/ingestion/copy_decode.c) with the real bronze schemas.
 *
 * The first byte chooses: bit 0 the table (1 orders, 0 ordershistory),
 * bit 1 whether the message is the stream's first (a header, then a
 * tuple). The rest is one CopyData message. Checked:
 *  - any input ends in a row, the end, or an error, never a bad read
 *    (ASan) or an overflow (UBSan);
 *  - a row accounts for every byte: written back in COPY's format it
 *    gives the message again, timestamps by copy_timestamp_to_unix's
 *    rule (±infinity where int64 since 1970 cannot hold the time);
 *  - an error always says something.
 * A wrong answer aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "copy_decode.h"
#include "source.h"

#define PG_EPOCH_US 946684800000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Whether the decoded time d is what the rule makes of the raw one. */
static int
time_follows_rule(int64_t raw, int64_t d)
{
	int64_t sum;

	if (raw == INT64_MIN)
		return d == COPY_TS_MINUS_INFINITY;
	if (raw == INT64_MAX || __builtin_add_overflow(raw, PG_EPOCH_US, &sum))
		return d == COPY_TS_INFINITY;
	return d == sum;
}

/* Walks the tuple at p again and compares each field with row. */
static void
check_row(const pq_schema *schema, const uint8_t *p, size_t n,
    const pq_value *row)
{
	const uint8_t *end = p + n;

	if (n < 2 || (int16_t)be(p, 2) != schema->ncols)
		abort();
	p += 2;
	for (int c = 0; c < schema->ncols; c++) {
		int32_t len = (int32_t)be(p, 4);

		p += 4;
		if (len == -1) {
			if (!row[c].is_null)
				abort();
			continue;
		}
		if (row[c].is_null || len < 0 || len > end - p)
			abort();
		switch (schema->cols[c].type) {
		case PQ_INT32:
			if (len != 4 || row[c].v.i32 != (int32_t)be(p, 4))
				abort();
			break;
		case PQ_INT64:
			if (len != 8 || row[c].v.i64 != (int64_t)be(p, 8))
				abort();
			break;
		case PQ_TIMESTAMP:
			if (len != 8 || !time_follows_rule((int64_t)be(p, 8),
			    row[c].v.i64))
				abort();
			break;
		default:
			if (row[c].v.s.ptr != (const char *)p ||
			    row[c].v.s.len != (uint32_t)len)
				abort();
			break;
		}
		p += len;
	}
	if (p != end)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const source_table *t;
	pq_value row[16];
	lake_err err = { "", LAKE_ERR_FAILED };
	uint8_t *buf;
	size_t n;
	long skip = 0;
	int got;

	if (size < 2)
		return 0;
	t = data[0] & 1 ? &source_orders : &source_ordershistory;
	/* A copy of exactly the message's size, so ASan sees any overread. */
	n = size - 1;
	if ((buf = malloc(n)) == NULL)
		return 0;
	memcpy(buf, data + 1, n);
	if (data[0] & 2) {
		skip = copy_decode_header(t->name, (const char *)buf, n, &err);
		if (skip == -1 && err.msg[0] == '\0')
			abort();
		if (skip != -1 && (skip < 19 || (size_t)skip > n))
			abort();
	}
	if (skip != -1) {
		const uint8_t *tuple = buf + skip;

		n -= (size_t)skip;
		got = copy_decode_tuple(t->name, t->schema,
		    (const char *)tuple, n, row, 16, &err);
		if (got == COPY_ERROR && err.msg[0] == '\0')
			abort();
		if (got == COPY_END && be(tuple, 2) != 0xffff)
			abort();
		if (got == COPY_ROW)
			check_row(t->schema, tuple, n, row);
	}
	free(buf);
	return 0;
}
