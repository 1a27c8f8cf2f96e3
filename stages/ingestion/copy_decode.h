/*
 * copy_decode.h - PostgreSQL's COPY binary format, one message at a time.
 *
 * Pure functions over bytes, apart from libpq, so they are unit-tested
 * and fuzzed on crafted and truncated input (tests/ingestion). The
 * stream is an 11-byte signature, a flags word and a header extension,
 * then one tuple per CopyData message: a 16-bit field count (-1 ends the
 * stream) and for each field a 32-bit length (-1 for NULL) and the value
 * in the type's binary send format, big-endian.
 *
 * Timestamps arrive as int64 microseconds since 2000-01-01 and leave as
 * microseconds since 1970-01-01. PostgreSQL's 'infinity' and '-infinity'
 * (and finite values too late for int64 microseconds since 1970, after
 * year 294,247, which PostgreSQL accepts up to 294,276) never overflow:
 * they become COPY_TS_INFINITY and COPY_TS_MINUS_INFINITY, the int64
 * extremes DuckDB also reads as infinity and -infinity. The rows are kept
 * (bronze is the source's copy, nothing lost); transformation refuses
 * them into silver/rejected.
 */
#ifndef COPY_DECODE_H
#define COPY_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "lake_err.h"
#include "parquet.h"

#define COPY_TS_INFINITY INT64_MAX
#define COPY_TS_MINUS_INFINITY (-INT64_MAX)

/* What copy_decode_tuple found. */
enum {
	COPY_ERROR = -1,	/* err says what and where */
	COPY_ROW = 0,		/* row holds one tuple */
	COPY_END = 1		/* the trailer: no more tuples */
};

/*
 * Checks the header at the start of the first CopyData message: the
 * signature, flags without OIDs or unknown critical bits, and an
 * extension that fits in the message. Returns the header's length (what
 * to skip before the first tuple), or -1 with err set. table names the
 * table in messages.
 */
long copy_decode_header(const char *table, const char *p, size_t len,
    lake_err *err);

/*
 * Decodes one tuple of schema's columns (INT32, INT64 for xid8,
 * TIMESTAMP, STRING) from p[0..len) into row, which has room for
 * row_cap values; a schema wider than row_cap is an error, not an
 * overrun. Strings point into p. Returns COPY_ROW, COPY_END or
 * COPY_ERROR; an error names the table, the column and what was wrong.
 */
int copy_decode_tuple(const char *table, const pq_schema *schema,
    const char *p, size_t len, pq_value *row, int row_cap, lake_err *err);

/* PostgreSQL's timestamp (since 2000) as microseconds since 1970, by the
 * rule above. */
int64_t copy_timestamp_to_unix(int64_t pg_us);

#endif
