/*
 * test_schedule.c - unit tests of schedule.c (intervals and cron, in UTC
 * and in another zone), of the pipeline file's duration parser, and of
 * a pipeline file's durations that do not fit.
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

/* Issue 20: this timeout wrapped to about 0.45 s and the stage was
 * killed; now the file is refused, naming the stage and the key. */
static void
test_pipeline_timeout(void)
{
	static const char wrapped[] = "{\"stages\":[{\"name\":\"ingestion\","
	    "\"timeout\":\"18446744073710s\"}]}";
	static const char fits[] = "{\"stages\":[{\"name\":\"ingestion\","
	    "\"timeout\":\"106751991d\",\"backoff\":\"250ms\"}]}";
	orch_pipeline p;
	char err[512] = "";

	EXPECT(orch_pipeline_parse(wrapped, strlen(wrapped), "p.json", &p, err,
	    sizeof(err)) == -1 && strstr(err, "timeout") != NULL &&
	    strstr(err, "too long") != NULL && strstr(err, "ingestion") != NULL,
	    "an overflowing timeout is refused: %s", err);
	EXPECT(orch_pipeline_parse(fits, strlen(fits), "p.json", &p, err,
	    sizeof(err)) == 0, "the longest timeout loads: %s", err);
	if (p.nstages == 1)
		EXPECT(p.stages[0].timeout_us == 106751991LL * 86400 * S &&
		    p.stages[0].backoff_us == 250000, "its values");
	orch_pipeline_free(&p);
	EXPECT(orch_pipeline_parse("[1]", 3, "p.json", &p, err, sizeof(err)) ==
	    -1 && strstr(err, "object") != NULL, "not an object: %s", err);
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
	EXPECT(orch_parse_duration("18446744073710s", &us) == -1,
	    "a duration past int64 microseconds is refused, not wrapped");
	test_pipeline_timeout();
	/* Found by fuzz_cron: a step near INT_MAX overflowed the loop's int,
	 * and an interval of centuries overflowed the next tick. */
	EXPECT(orch_schedule_cron(&s, "1/2147483647 * * * *", err,
	    sizeof(err)) == 0 && s.minute == 2, "a huge step keeps one value");
	EXPECT(orch_schedule_cron(&s, "0-59/99999999999 * * * *", err,
	    sizeof(err)) == 0 && s.minute == 1, "a step past int keeps one "
	    "value");
	EXPECT(orch_schedule_cron(&s, "99999999999 * * * *", err,
	    sizeof(err)) == -1, "a number past int is out of range");
	EXPECT(orch_schedule_cron(&s, "5/15 * * * *", err, sizeof(err)) == 0 &&
	    s.minute == (1ULL << 5 | 1ULL << 20 | 1ULL << 35 | 1ULL << 50),
	    "a start with a step runs to the end of the range");
	EXPECT(orch_schedule_every(&s, 1000000) == 0 &&
	    orch_schedule_next(&s, INT64_MAX - 10) == -1,
	    "a next tick past int64 is none, not a wrapped time");
	return expect_report("test_schedule");
}
