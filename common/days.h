/*
 * days.h - whole days of a time, the one way every program computes them.
 *
 * Times are int64 microseconds since 1970-01-01 UTC (c-style.md); a date
 * is days since then. A time before 1970 is negative, and its day must
 * round towards minus infinity, not zero as C's division does: -1 µs is
 * on 1969-12-31, day -1. Bronze partitions, silver's date column and the
 * printed dates all use this, so a row's partition and its date agree.
 */
#ifndef DAYS_H
#define DAYS_H

#include <stdint.h>

#define MICROS_PER_DAY 86400000000LL

/* a / b rounded towards minus infinity (b != 0). */
int64_t floor_div_i64(int64_t a, int64_t b);
/* The day of a time: floor(micros / MICROS_PER_DAY). */
int64_t day_of_micros(int64_t micros);

#endif
