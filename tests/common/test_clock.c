/*
 * test_clock - unit tests for common/clock.c: ISO-8601 rendering of
 * instants before, at and after the epoch, and monotonic progress.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"

static int failures;

static void
expect_utc(int64_t us, const char *want)
{
	char buf[40];

	clock_format_utc(us, buf, sizeof(buf));
	if (strcmp(buf, want) != 0) {
		fprintf(stderr, "clock_format_utc(%lld) = %s, want %s\n",
		    (long long)us, buf, want);
		failures++;
	}
}

int
main(void)
{
	int64_t a, b;

	expect_utc(0, "1970-01-01T00:00:00.000Z");
	expect_utc(1795555631123456, "2026-11-24T21:27:11.123Z");
	expect_utc(-1, "1969-12-31T23:59:59.999Z");
	expect_utc(-86400000000, "1969-12-31T00:00:00.000Z");
	a = clock_mono_us();
	clock_sleep_us(2000);
	b = clock_mono_us();
	if (b - a < 2000) {
		fprintf(stderr, "monotonic clock advanced %lld us, want >= 2000\n",
		    (long long)(b - a));
		failures++;
	}
	if (failures == 0)
		printf("test_clock: all passed\n");
	return failures ? 1 : 0;
}
