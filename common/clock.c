/*
 * clock.c - wall and monotonic clocks in microseconds, and ISO-8601 output.
 */
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int64_t
clock_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
clock_sleep_us(int64_t us)
{
	struct timespec ts;

	if (us <= 0)
		return;
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = (us % 1000000) * 1000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

char *
clock_format_utc(int64_t us, char *buf, size_t len)
{
	time_t secs = (time_t)(us / 1000000);
	int millis = (int)((us % 1000000) / 1000);
	struct tm tm;

	if (us < 0 && us % 1000000 != 0) {
		secs -= 1;
		millis = (int)((1000000 + us % 1000000) / 1000);
	}
	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, millis);
	return buf;
}
