/*
 * duration.c - parsing "250ms", "90s", "5m", "2h", "1d" (see duration.h).
 *
 * The digits are read by hand rather than with strtoll, which would also
 * take leading blanks, a sign and "0x"; every multiplication is checked,
 * so the number and its unit together either fit int64 microseconds or
 * are refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

typedef struct duration_unit {
	const char *suffix;
	int64_t us;
} duration_unit;

static const duration_unit units[] = {
	{ "ms", 1000LL },
	{ "s", 1000000LL },
	{ "", 1000000LL },	/* a bare number is seconds */
	{ "m", 60000000LL },
	{ "h", 3600000000LL },
	{ "d", 86400000000LL },
};

static void __attribute__((format(printf, 3, 4)))
say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	/* A message cut short still says what is wrong: no check needed. */
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int
duration_parse(const char *s, int64_t *us, char *err, size_t errlen)
{
	const char *p = s;
	int64_t n = 0, total;
	int overflow = 0;

	if (s == NULL || *s < '0' || *s > '9') {
		say(err, errlen, "'%s' is not a duration such as 250ms, 30s, "
		    "5m, 1h or 1d", s != NULL ? s : "");
		return -1;
	}
	for (; *p >= '0' && *p <= '9'; p++)
		overflow |= __builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, *p - '0', &n);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].suffix) != 0)
			continue;
		if (overflow || __builtin_mul_overflow(n, units[i].us, &total)) {
			say(err, errlen, "duration %s is too long (at most %d "
			    "days)", s, DURATION_MAX_DAYS);
			return -1;
		}
		*us = total;
		return 0;
	}
	say(err, errlen, "'%s' is not a duration such as 250ms, 30s, 5m, 1h "
	    "or 1d", s);
	return -1;
}
