/*
 * test_duration - unit tests for common/duration.c: every unit, the
 * largest durations that fit int64 microseconds and the first that do
 * not (issue 20: "18446744073710s" wrapped to 0.45 s), and text that is
 * not a duration.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"
#include "expect.h"

static void
expect_us(const char *s, int64_t want)
{
	int64_t got = -1;
	char err[128] = "";

	EXPECT(duration_parse(s, &got, err, sizeof(err)) == 0 && got == want,
	    "%s: want %lld us, got %lld (%s)", s, (long long)want,
	    (long long)got, err);
}

static void
expect_refused(const char *s, const char *why)
{
	int64_t got = 12345;
	char err[128] = "";

	EXPECT(duration_parse(s, &got, err, sizeof(err)) == -1 &&
	    strstr(err, why) != NULL && got == 12345, "'%s' should be refused "
	    "with \"%s\"; got %lld, \"%s\"", s, why, (long long)got, err);
}

int
main(void)
{
	expect_us("250ms", 250000);
	expect_us("90", 90000000);
	expect_us("90s", 90000000);
	expect_us("5m", 300000000);
	expect_us("2h", 7200000000LL);
	expect_us("1d", 86400000000LL);
	expect_us("0s", 0);
	expect_us("007s", 7000000);
	expect_us("9223372036854775ms", 9223372036854775000LL);
	expect_us("9223372036854s", 9223372036854000000LL);
	expect_us("106751991d", 106751991LL * 86400000000LL);
	expect_us("2562047788h", 2562047788LL * 3600000000LL);
	expect_us("153722867280m", 153722867280LL * 60000000LL);

	expect_refused("18446744073710s", "too long");
	expect_refused("9223372036855s", "too long");
	expect_refused("106751992d", "too long");
	expect_refused("153722867281m", "too long");
	expect_refused("2562047789h", "too long");
	expect_refused("9223372036854776ms", "too long");
	expect_refused("99999999999999999999999999", "too long");
	expect_refused("", "not a duration");
	expect_refused("-1s", "not a duration");
	expect_refused("+1s", "not a duration");
	expect_refused(" 1s", "not a duration");
	expect_refused("1 s", "not a duration");
	expect_refused("1.5h", "not a duration");
	expect_refused("1x", "not a duration");
	expect_refused("1sm", "not a duration");
	expect_refused("0x10s", "not a duration");
	expect_refused("s", "not a duration");
	EXPECT(duration_parse(NULL, &(int64_t){ 0 }, NULL, 0) == -1,
	    "NULL is refused, and a NULL err is allowed");
	return expect_report("test_duration");
}
