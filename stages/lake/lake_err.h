/*
 * lake_err.h - the error carrier of the lake library.
 *
 * Every fallible lake call takes a lake_err * and, on failure, fills msg
 * with one line that says what failed, on which file, and why, e.g.
 * "bronze/orders/_delta_log/00000000000000000007.json: version gap after 5",
 * and sets kind, which is what callers decide on. Callers print msg as
 * is. Passing NULL is allowed when the caller does not care.
 */
#ifndef LAKE_ERR_H
#define LAKE_ERR_H

#include <stdarg.h>

/*
 * What kind of failure, for decisions (exit codes, retries): callers
 * never look at the text for them.
 */
typedef enum lake_err_kind {
	LAKE_ERR_FAILED,	/* any other failure */
	LAKE_ERR_IO,		/* a system call failed (lake_err_errno) */
	LAKE_ERR_SCHEMA,	/* data and a table's (or the source's)
				   schema disagree: a rerun cannot help */
} lake_err_kind;

typedef struct lake_err {
	char msg[512];
	lake_err_kind kind;
} lake_err;

/* Sets the message; the kind becomes LAKE_ERR_FAILED. */
void lake_err_set(lake_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sets the message and its kind. */
void lake_err_set_kind(lake_err *err, lake_err_kind kind, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
/* Like lake_err_set, then ": <strerror(errno)>"; kind LAKE_ERR_IO. */
void lake_err_errno(lake_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix the existing message: "<prefix>: <old message>"; the kind
 * stays. */
void lake_err_prefix(lake_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
