/*
 * lake_err.c - filling the lake library's one-line error messages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lake_err.h"

void
lake_err_set(lake_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->kind = LAKE_ERR_FAILED;
}

void
lake_err_set_kind(lake_err *err, lake_err_kind kind, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->kind = kind;
}

void
lake_err_errno(lake_err *err, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
	    strerror(saved));
	err->kind = LAKE_ERR_IO;
	errno = saved;
}

void
lake_err_prefix(lake_err *err, const char *fmt, ...)
{
	char prefix[256], old[sizeof(err->msg)];
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation keeps the start of the message, which names the file. */
	if (snprintf(err->msg, sizeof(err->msg), "%.255s: %.254s", prefix,
	    old) < 0)
		err->msg[0] = '\0';
}
