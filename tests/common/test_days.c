/*
 * test_days.c - whole days of a time: rounding towards minus infinity on
 * both sides of 1970, at day boundaries, and at the ends of int64.
 */
#include <stdint.h>

#include "days.h"
#include "expect.h"

int
main(void)
{
	EXPECT(floor_div_i64(7, 2) == 3, "7/2");
	EXPECT(floor_div_i64(-7, 2) == -4, "-7/2 rounds down, not to 0");
	EXPECT(floor_div_i64(7, -2) == -4, "7/-2 rounds down");
	EXPECT(floor_div_i64(-7, -2) == 3, "-7/-2");
	EXPECT(floor_div_i64(-6, 2) == -3, "exact negative");
	EXPECT(day_of_micros(0) == 0, "the epoch is day 0");
	EXPECT(day_of_micros(MICROS_PER_DAY - 1) == 0, "the last µs of day 0");
	EXPECT(day_of_micros(MICROS_PER_DAY) == 1, "midnight starts day 1");
	EXPECT(day_of_micros(-1) == -1, "-1 µs is 1969-12-31, day -1");
	EXPECT(day_of_micros(-MICROS_PER_DAY) == -1, "midnight of day -1");
	EXPECT(day_of_micros(-MICROS_PER_DAY - 1) == -2, "just before it");
	/* 2026-11-29 00:00:00 UTC */
	EXPECT(day_of_micros(1795910400000000LL) == 20786, "2026-11-29");
	EXPECT(day_of_micros(INT64_MIN) == -106751992, "INT64_MIN");
	EXPECT(day_of_micros(INT64_MAX) == 106751991, "INT64_MAX");
	return expect_report("test_days");
}
