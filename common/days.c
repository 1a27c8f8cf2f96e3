/*
 * days.c - whole days of a time (see days.h).
 */
#include "days.h"

int64_t
floor_div_i64(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && (a < 0) != (b < 0))
		q--;
	return q;
}

int64_t
day_of_micros(int64_t micros)
{
	return floor_div_i64(micros, MICROS_PER_DAY);
}
