/*
 * lake_err.h - the error carrier of the lake library.
 *
 * Every fallible lake call takes a lake_err * and, on failure, fills msg
 * with one line that says what failed, on which file, and why, e.g.
 * "bronze/orders/_delta_log/00000000000000000007.json: version gap after 5".
 * Callers print it as is. Passing NULL is allowed when the caller does not
 * care about the text.
 */
#ifndef LAKE_ERR_H
#define LAKE_ERR_H

#include <stdarg.h>

typedef struct lake_err {
	char msg[512];
} lake_err;

void lake_err_set(lake_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Like lake_err_set, then ": <strerror(errno)>". */
void lake_err_errno(lake_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix the existing message: "<prefix>: <old message>". */
void lake_err_prefix(lake_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
