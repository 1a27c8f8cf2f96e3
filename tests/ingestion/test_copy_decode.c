/*
 * test_copy_decode.c - unit tests of the COPY binary decoder
 * (stages/ingestion/copy_decode.c) on crafted and truncated messages:
 * ±infinity and out-of-range timestamps by their documented rule, every
 * truncation an error naming the column, bad headers refused with a
 * message, and rows never wider than the caller's buffer. The input the
 * hardening fuzzing found (issue 20) is one of the cases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_decode.h"
#include "expect.h"
#include "source.h"

#define PG_EPOCH_US 946684800000000LL
/* PostgreSQL's first timestamp too late for it (294277-01-01), since 2000. */
#define PG_END_TIMESTAMP 9223371331200000000LL

/* Parses hex digits into buf; returns the byte count. */
static size_t
unhex(const char *hex, char *buf, size_t cap)
{
	size_t n = 0;

	for (; hex[0] && hex[1] && n < cap; hex += 2) {
		unsigned v;

		if (sscanf(hex, "%2x", &v) != 1)
			abort();
		buf[n++] = (char)v;
	}
	return n;
}

/* An orders tuple (orderid, ordertime, branch, xid) with a raw time. */
static size_t
orders_tuple(char *buf, int64_t pg_time)
{
	char hex[128];

	snprintf(hex, sizeof(hex), "0004" "00000004" "0000002a" "00000008"
	    "%016llx" "00000003" "414243" "00000008" "0000000000000007",
	    (unsigned long long)pg_time);
	return unhex(hex, buf, 64);
}

static int64_t
decoded_time(int64_t pg_time)
{
	pq_value row[16];
	char buf[64];
	size_t n = orders_tuple(buf, pg_time);
	lake_err err = { "", LAKE_ERR_FAILED };

	if (copy_decode_tuple("orders", source_orders.schema, buf, n, row, 16,
	    &err) != COPY_ROW) {
		fprintf(stderr, "unexpected error: %s\n", err.msg);
		return 0;
	}
	return row[1].v.i64;
}

static void
test_issue_input(void)
{
	/* First byte 01 chose the orders table; the rest is the tuple. */
	static const char hex[] = "01000400000004000f4241000000087fffffffff4d50"
	    "000000000000000000080002b51a0a00002b";
	char buf[64];
	size_t n = unhex(hex, buf, sizeof(buf));
	pq_value row[16];
	lake_err err = { "", LAKE_ERR_FAILED };

	EXPECT(buf[0] == 1, "the input selects orders");
	/* Its ordertime is past PostgreSQL's range, and its xid is 0 bytes
	 * long: the decoder used to overflow on the first (UBSan) before
	 * refusing the second. */
	EXPECT(copy_decode_tuple("orders", source_orders.schema, buf + 1, n - 1,
	    row, 16, &err) == COPY_ERROR && strstr(err.msg, "column xid") !=
	    NULL, "the issue's input is refused, naming the column: %s",
	    err.msg);
	EXPECT(row[0].v.i32 == 1000001, "orderid %d", row[0].v.i32);
	EXPECT(row[1].v.i64 == COPY_TS_INFINITY, "a time past int64 since "
	    "1970 is +infinity, not year -290278: %lld",
	    (long long)row[1].v.i64);
	EXPECT(row[2].v.s.len == 0 && !row[2].is_null, "empty branch");
}

static void
test_timestamps(void)
{
	EXPECT(decoded_time(0) == PG_EPOCH_US, "2000-01-01");
	EXPECT(decoded_time(-PG_EPOCH_US) == 0, "1970-01-01");
	EXPECT(decoded_time(INT64_MAX) == COPY_TS_INFINITY, "infinity");
	EXPECT(decoded_time(INT64_MIN) == COPY_TS_MINUS_INFINITY,
	    "-infinity is -INT64_MAX (DuckDB's -infinity), got %lld",
	    (long long)decoded_time(INT64_MIN));
	EXPECT(decoded_time(PG_END_TIMESTAMP - 1) == COPY_TS_INFINITY,
	    "PostgreSQL's last finite time is past int64: +infinity");
	EXPECT(decoded_time(INT64_MAX - PG_EPOCH_US - 1) == INT64_MAX - 1,
	    "the last representable time is kept exactly");
	EXPECT(copy_timestamp_to_unix(-211813488000000000LL) ==
	    -211813488000000000LL + PG_EPOCH_US, "4714 BC, PostgreSQL's "
	    "first time, is kept");
}

static void
test_truncation(void)
{
	pq_value row[16];
	char buf[64];
	size_t n = orders_tuple(buf, 0);
	int all_errors = 1, named = 1;

	for (size_t cut = 0; cut < n; cut++) {
		lake_err err = { "", LAKE_ERR_FAILED };

		if (copy_decode_tuple("orders", source_orders.schema, buf, cut,
		    row, 16, &err) != COPY_ERROR)
			all_errors = 0;
		else if (cut >= 2 && strstr(err.msg, "column") == NULL)
			named = 0;
	}
	EXPECT(all_errors, "every truncated tuple is an error");
	EXPECT(named, "a truncation names the column it cut");
}

static void
test_malformed(void)
{
	pq_value row[16];
	char buf[64];
	lake_err err = { "", LAKE_ERR_FAILED };
	size_t n;

	n = unhex("ffff", buf, sizeof(buf));
	EXPECT(copy_decode_tuple("orders", source_orders.schema, buf, n, row,
	    16, &err) == COPY_END, "the trailer ends the stream");

	n = unhex("0003", buf, sizeof(buf));
	EXPECT(copy_decode_tuple("orders", source_orders.schema, buf, n, row,
	    16, &err) == COPY_ERROR && strstr(err.msg, "3 fields") != NULL,
	    "wrong field count: %s", err.msg);

	/* orderid sent as 8 bytes */
	n = unhex("0004" "00000008" "0000000000000001", buf, sizeof(buf));
	EXPECT(copy_decode_tuple("orders", source_orders.schema, buf, n, row,
	    16, &err) == COPY_ERROR && strstr(err.msg, "orderid") != NULL &&
	    strstr(err.msg, "orders") != NULL, "wrong width names table and "
	    "column: %s", err.msg);

	n = unhex("0004" "fffffffe", buf, sizeof(buf));
	EXPECT(copy_decode_tuple("orders", source_orders.schema, buf, n, row,
	    16, &err) == COPY_ERROR, "negative length other than -1");

	n = unhex("0004" "7fffffff" "00", buf, sizeof(buf));
	EXPECT(copy_decode_tuple("orders", source_orders.schema, buf, n, row,
	    16, &err) == COPY_ERROR, "length past the message");

	n = unhex("0004" "ffffffff" "00000008" "0000000000000000" "ffffffff"
	    "ffffffff", buf, sizeof(buf));
	EXPECT(copy_decode_tuple("orders", source_orders.schema, buf, n, row,
	    16, &err) == COPY_ROW && row[0].is_null && row[2].is_null &&
	    row[3].is_null && !row[1].is_null, "NULLs decode as nulls");

	n = orders_tuple(buf, 0);
	buf[n++] = 0;
	EXPECT(copy_decode_tuple("orders", source_orders.schema, buf, n, row,
	    16, &err) == COPY_ERROR && strstr(err.msg, "after") != NULL,
	    "bytes after the tuple are an error: %s", err.msg);

	n = orders_tuple(buf, 0);
	EXPECT(copy_decode_tuple("orders", source_orders.schema, buf, n, row,
	    3, &err) == COPY_ERROR && strstr(err.msg, "room") != NULL,
	    "a schema wider than the row buffer is refused: %s", err.msg);
}

static void
test_header(void)
{
	static const char sig[] = "PGCOPY\n\377\r\n";	/* + its NUL */
	char buf[64];
	lake_err err = { "", LAKE_ERR_FAILED };

	memset(buf, 0, sizeof(buf));
	memcpy(buf, sig, 11);
	EXPECT(copy_decode_header("orders", buf, 19, &err) == 19,
	    "a plain header is 19 bytes");
	EXPECT(copy_decode_header("orders", buf, 21, &err) == 19,
	    "a tuple may follow the header");
	buf[18] = 4;
	EXPECT(copy_decode_header("orders", buf, 25, &err) == 23,
	    "an extension is skipped");
	err.msg[0] = '\0';
	EXPECT(copy_decode_header("orders", buf, 21, &err) == -1 &&
	    strstr(err.msg, "extension") != NULL, "an extension past the "
	    "message is refused with a message: %s", err.msg);
	memset(buf + 15, 0xff, 4);
	EXPECT(copy_decode_header("orders", buf, 64, &err) == -1,
	    "a 4 GiB extension is refused, not wrapped");
	memset(buf + 15, 0, 4);
	buf[12] = 1;	/* flags bit 16: OIDs */
	EXPECT(copy_decode_header("orders", buf, 19, &err) == -1 &&
	    strstr(err.msg, "flags") != NULL, "OIDs are refused: %s", err.msg);
	buf[12] = 0;
	EXPECT(copy_decode_header("orders", buf, 18, &err) == -1,
	    "a short header");
	buf[0] = 'X';
	EXPECT(copy_decode_header("orders", buf, 19, &err) == -1 &&
	    strstr(err.msg, "signature") != NULL, "a wrong signature");
}

int
main(void)
{
	test_issue_input();
	test_timestamps();
	test_truncation();
	test_malformed();
	test_header();
	return expect_report("test_copy_decode");
}
