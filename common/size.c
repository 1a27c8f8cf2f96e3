/*
 * size.c - byte sizes with binary units (see size.h). A unit is a shift,
 * and a number too large for it is refused rather than wrapped.
 */
#include "size.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>

int
size_parse(const char *s, int64_t *bytes)
{
	static const struct {
		const char *unit;
		int shift;
	} units[] = { { "", 0 }, { "b", 0 }, { "k", 10 }, { "kb", 10 },
		{ "kib", 10 }, { "m", 20 }, { "mb", 20 }, { "mib", 20 },
		{ "g", 30 }, { "gb", 30 }, { "gib", 30 } };
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || n <= 0 || errno != 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].unit) != 0)
			continue;
		if (n > (INT64_MAX >> units[i].shift))
			return -1;
		*bytes = (int64_t)n << units[i].shift;
		return 0;
	}
	return -1;
}
