/*
 * schedule.c - interval and cron ticks.
 *
 * The next cron tick is found by stepping minute by minute from t, with
 * whole days skipped when the day does not match; at most four years
 * are searched, which covers Feb 29 schedules. Local time comes from
 * localtime_r/mktime, so the zone follows TZ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "schedule.h"

int
orch_schedule_every(orch_schedule *s, int64_t every_us)
{
	memset(s, 0, sizeof(*s));
	if (every_us < 1000000)
		return -1;
	s->every_us = every_us;
	return 0;
}

/*
 * Reads the decimal number at *p (digits only; it stops growing past
 * 1000, far above any cron field's range, so it cannot overflow) and
 * moves *p past it. Returns -1 when no digit is there.
 */
static int
read_number(const char **p)
{
	int v = 0;

	if (**p < '0' || **p > '9')
		return -1;
	for (; **p >= '0' && **p <= '9'; (*p)++)
		if (v <= 1000)
			v = v * 10 + (**p - '0');
	return v;
}

/* Parses one cron part ("*", "5", "1-5", "*\/15", "10-50/5") into a..b
 * and step; -1 when it is malformed. */
static int
parse_part(const char *part, int lo, int hi, int *a, int *b, int *step)
{
	const char *p = part;

	*a = lo;
	*b = hi;
	*step = 1;
	if (*p == '*')
		p++;
	else {
		if ((*a = read_number(&p)) == -1)
			return -1;
		*b = *a;
		if (*p == '-') {
			p++;
			if ((*b = read_number(&p)) == -1)
				return -1;
		} else if (*p == '/')
			*b = hi;	/* "5/15": from 5 to the end */
	}
	if (*p == '/') {
		p++;
		if ((*step = read_number(&p)) < 1)
			return -1;
	}
	return *p == '\0' ? 0 : -1;
}

/* Parses one cron field into a bit set of values lo..hi. */
static int
parse_field(const char *f, int lo, int hi, uint64_t *bits, int *star)
{
	char buf[128], *save = NULL, *part;

	*bits = 0;
	*star = strcmp(f, "*") == 0;
	if (snprintf(buf, sizeof(buf), "%s", f) >= (int)sizeof(buf))
		return -1;
	for (part = strtok_r(buf, ",", &save); part != NULL;
	    part = strtok_r(NULL, ",", &save)) {
		int a, b, step;

		if (parse_part(part, lo, hi, &a, &b, &step) == -1)
			return -1;
		if (a < lo || b > hi || a > b)
			return -1;
		/* A step past the range ends it (and never overflows v). */
		for (int v = a; v <= b; v += step) {
			*bits |= 1ULL << v;
			if (step > b - v)
				break;
		}
	}
	return *bits ? 0 : -1;
}

int
orch_schedule_cron(orch_schedule *s, const char *expr, char *err,
    size_t errlen)
{
	static const char *names[] = { "minute", "hour", "day of month",
		"month", "day of week" };
	static const int lo[] = { 0, 0, 1, 1, 0 }, hi[] = { 59, 23, 31, 12, 7 };
	char buf[256], *save = NULL, *f[6];
	uint64_t bits[5];
	int n = 0, star[5];

	memset(s, 0, sizeof(*s));
	snprintf(buf, sizeof(buf), "%s", expr);
	for (char *t = strtok_r(buf, " \t", &save); t != NULL && n < 6;
	    t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	if (n != 5) {
		snprintf(err, errlen, "cron \"%s\": wants 5 fields (minute hour "
		    "day-of-month month day-of-week), got %d", expr, n);
		return -1;
	}
	for (int i = 0; i < 5; i++) {
		if (parse_field(f[i], lo[i], hi[i], &bits[i], &star[i]) == -1) {
			snprintf(err, errlen, "cron \"%s\": bad %s field \"%s\" "
			    "(allowed %d-%d, *, lists, ranges, /steps)", expr,
			    names[i], f[i], lo[i], hi[i]);
			return -1;
		}
	}
	s->minute = bits[0];
	s->hour = (uint32_t)bits[1];
	s->mday = (uint32_t)bits[2];
	s->month = (uint16_t)bits[3];
	/* 7 is Sunday too. */
	s->wday = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);
	s->mday_star = star[2];
	s->wday_star = star[4];
	return 0;
}

static int
day_matches(const orch_schedule *s, const struct tm *tm)
{
	int md = (s->mday >> tm->tm_mday) & 1, wd = (s->wday >> tm->tm_wday) &
	    1;

	if (!((s->month >> (tm->tm_mon + 1)) & 1))
		return 0;
	if (s->mday_star || s->wday_star)
		return md && wd;
	return md || wd;
}

int64_t
orch_schedule_next(const orch_schedule *s, int64_t t)
{
	time_t now, limit;
	struct tm tm;

	if (s->every_us > 0) {
		int64_t next;

		/* An interval of centuries may land past int64: no tick. */
		if (__builtin_mul_overflow(t / s->every_us + 1, s->every_us,
		    &next))
			return -1;
		return next;
	}
	now = (time_t)(t / 1000000) + 60;
	now -= now % 60;
	limit = now + 4 * 366 * 86400;
	while (now < limit) {
		localtime_r(&now, &tm);
		if (!day_matches(s, &tm)) {
			/* Jump to the next local midnight. */
			tm.tm_hour = 0;
			tm.tm_min = 0;
			tm.tm_sec = 0;
			tm.tm_mday++;
			tm.tm_isdst = -1;
			now = mktime(&tm);
			continue;
		}
		if (((s->hour >> tm.tm_hour) & 1) &&
		    ((s->minute >> tm.tm_min) & 1))
			return (int64_t)now * 1000000;
		now += 60;
	}
	return -1;
}
