/*
 * test_schedule.c - unit tests of schedule.c (intervals and cron, in UTC
 * and in another zone) and of the pipeline file's duration parser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expect.h"
#include "pipeline.h"
#include "schedule.h"

#define S 1000000LL

/* Seconds since the epoch of a UTC date and time. */
static int64_t
utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (int64_t)timegm(&tm) * S;
}

int
main(void)
{
	orch_schedule s;
	char err[256];
	int64_t t, us;

	setenv("TZ", "UTC", 1);
	tzset();
	EXPECT(orch_schedule_every(&s, 300 * S) == 0, "every 5m");
	t = utc(2026, 11, 24, 10, 2);
	EXPECT(orch_schedule_next(&s, t) == utc(2026, 11, 24, 10, 5),
	    "interval ticks are aligned to round times");
	EXPECT(orch_schedule_next(&s, utc(2026, 11, 24, 10, 5)) ==
	    utc(2026, 11, 24, 10, 10), "strictly after a tick");
	EXPECT(orch_schedule_every(&s, 10) == -1, "sub-second refused");

	EXPECT(orch_schedule_cron(&s, "*/15 9-17 * * 1-5", err,
	    sizeof(err)) == 0, "cron: %s", err);
	/* 2026-11-28 is a Saturday: the next tick is Monday 09:00. */
	EXPECT(orch_schedule_next(&s, utc(2026, 11, 27, 17, 50)) ==
	    utc(2026, 11, 30, 9, 0), "weekdays only, business hours");
	EXPECT(orch_schedule_next(&s, utc(2026, 11, 30, 9, 0)) ==
	    utc(2026, 11, 30, 9, 15), "every 15 minutes");
	EXPECT(orch_schedule_cron(&s, "0 0 29 2 *", err, sizeof(err)) == 0 &&
	    orch_schedule_next(&s, utc(2026, 3, 1, 0, 0)) ==
	    utc(2028, 2, 29, 0, 0), "Feb 29 waits for a leap year");
	EXPECT(orch_schedule_cron(&s, "0 12 1 * 0", err, sizeof(err)) == 0 &&
	    orch_schedule_next(&s, utc(2026, 11, 24, 0, 0)) ==
	    utc(2026, 11, 29, 12, 0), "day of month OR day of week (Sunday)");
	EXPECT(orch_schedule_cron(&s, "0 12 * * 7", err, sizeof(err)) == 0 &&
	    orch_schedule_next(&s, utc(2026, 11, 24, 0, 0)) ==
	    utc(2026, 11, 29, 12, 0), "7 is Sunday too");
	EXPECT(orch_schedule_cron(&s, "61 * * * *", err, sizeof(err)) == -1 &&
	    strstr(err, "minute") != NULL, "bad minute: %s", err);
	EXPECT(orch_schedule_cron(&s, "* * *", err, sizeof(err)) == -1 &&
	    strstr(err, "5 fields") != NULL, "field count: %s", err);
	EXPECT(orch_schedule_cron(&s, "*/0 * * * *", err, sizeof(err)) == -1,
	    "step 0 refused");

	/* Cron fields in another zone: 09:00 in Paris is 08:00 UTC in
	 * winter. */
	setenv("TZ", "Europe/Paris", 1);
	tzset();
	EXPECT(orch_schedule_cron(&s, "0 9 * * *", err, sizeof(err)) == 0 &&
	    orch_schedule_next(&s, utc(2026, 11, 24, 10, 0)) ==
	    utc(2026, 11, 25, 8, 0), "cron in Europe/Paris");
	setenv("TZ", "UTC", 1);
	tzset();

	EXPECT(orch_parse_duration("250ms", &us) == 0 && us == 250000, "ms");
	EXPECT(orch_parse_duration("90", &us) == 0 && us == 90 * S, "bare");
	EXPECT(orch_parse_duration("2h", &us) == 0 && us == 7200 * S, "h");
	EXPECT(orch_parse_duration("1w", &us) == -1, "unknown unit");
	EXPECT(orch_parse_duration("-5s", &us) == -1, "negative");
	return expect_report("test_schedule");
}
