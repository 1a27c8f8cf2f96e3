/*
 * fuzz_cron.c - libFuzzer target for the orchestrator's schedules
 * (orchestrator/schedule.c): cron expressions and --every intervals.
 *
 * The first byte chooses: even, the rest is a cron expression; odd, its
 * next 8 bytes are an interval in microseconds and the 8 after them the
 * time to ask about (non-negative). Checked:
 *  - any input ends in a schedule or an error message, never a bad read
 *    (ASan) or an overflow (UBSan);
 *  - the next tick of a schedule is later than the time asked about and,
 *    for cron, falls on a whole minute whose minute, hour and month the
 *    expression allows (TZ=UTC), or is -1 when none comes in four years.
 * A wrong answer aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schedule.h"

#define T0 1795585665000000LL	/* 2026-11-25 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_cron_tick(const orch_schedule *s, int64_t t, int64_t next)
{
	struct tm tm;
	time_t sec;

	if (next == -1)
		return;
	if (next <= t || next % 60000000 != 0)
		abort();
	sec = (time_t)(next / 1000000);
	gmtime_r(&sec, &tm);
	if (!((s->minute >> tm.tm_min) & 1) || !((s->hour >> tm.tm_hour) & 1) ||
	    !((s->month >> (tm.tm_mon + 1)) & 1))
		abort();
}

static void
fuzz_cron(const uint8_t *data, size_t size)
{
	char expr[300], err[512] = "";
	orch_schedule s;
	size_t n = size < sizeof(expr) - 1 ? size : sizeof(expr) - 1;

	memcpy(expr, data, n);
	expr[n] = '\0';
	if (orch_schedule_cron(&s, expr, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
		return;
	}
	check_cron_tick(&s, T0, orch_schedule_next(&s, T0));
}

static int64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static void
fuzz_every(const uint8_t *data, size_t size)
{
	orch_schedule s;
	int64_t every, t = T0, next;

	if (size < 8)
		return;
	every = be64(data);
	if (size >= 16)
		t = be64(data + 8) & INT64_MAX;
	if (orch_schedule_every(&s, every) == -1)
		return;
	next = orch_schedule_next(&s, t);
	if (next != -1 && (next <= t || next % every != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int zone_set;

	if (!zone_set) {
		setenv("TZ", "UTC", 1);
		tzset();
		zone_set = 1;
	}
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_every(data + 1, size - 1);
	else
		fuzz_cron(data + 1, size - 1);
	return 0;
}
