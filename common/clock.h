/*
 * clock.h - time as int64_t microseconds, the house unit (c-style.md).
 *
 * clock_now_us() is wall-clock UTC since the Unix epoch; clock_mono_us()
 * is monotonic, for durations and timeouts. clock_format_utc() renders an
 * instant as ISO-8601 ("2026-11-24T21:07:11.123Z") for logs and JSON.
 */
#ifndef MEDALLION_CLOCK_H
#define MEDALLION_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t clock_now_us(void);
int64_t clock_mono_us(void);
void clock_sleep_us(int64_t us);
/* Writes at most len bytes including the NUL; returns buf. */
char *clock_format_utc(int64_t us, char *buf, size_t len);

#endif
