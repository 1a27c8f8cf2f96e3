/*
 * duration.h - the one parser of durations the programs share: pipeline
 * files ("timeout": "30m"), the orchestrator's --every, --timeout and
 * --patience, and medallion-lake's --retain.
 *
 * A duration is decimal digits and a unit: ms, s, m, h or d; a bare
 * number is seconds. The result is int64 microseconds (c-style.md), and
 * a value that does not fit (over 106,751,991 days, some 292,000 years)
 * is refused with a message instead of wrapping: "18446744073710s" once
 * wrapped to 0.45 s.
 */
#ifndef DURATION_H
#define DURATION_H

#include <stddef.h>
#include <stdint.h>

/* The longest duration int64 microseconds hold, in whole days. */
#define DURATION_MAX_DAYS 106751991

/*
 * Parses s into *us. Returns 0, or -1 with one line in err (which may be
 * NULL) saying why: not a duration, or too long.
 */
int duration_parse(const char *s, int64_t *us, char *err, size_t errlen);

#endif
