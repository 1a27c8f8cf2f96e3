/*
 * schedule.h - when the next scheduled run is due.
 *
 * Two forms: a fixed interval (--every 5m), aligned to the epoch so ticks
 * fall on round times, and a standard five-field cron expression (minute
 * hour day-of-month month day-of-week; *, lists, ranges, steps; when both
 * day fields are restricted either may match, as in cron). Cron fields
 * are read in the orchestrator's time zone (TZ, UTC by default).
 */
#ifndef ORCH_SCHEDULE_H
#define ORCH_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

typedef struct orch_schedule {
	int64_t every_us;		/* > 0 for --every */
	uint64_t minute;		/* bit sets, cron */
	uint32_t hour;
	uint32_t mday;
	uint16_t month;
	uint8_t wday;
	int mday_star;
	int wday_star;
} orch_schedule;

int orch_schedule_every(orch_schedule *s, int64_t every_us);
int orch_schedule_cron(orch_schedule *s, const char *expr, char *err,
    size_t errlen);
/* The first tick strictly after t (µs since the epoch), or -1. */
int64_t orch_schedule_next(const orch_schedule *s, int64_t t);

#endif
