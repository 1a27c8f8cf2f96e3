/*
 * lake_buf.h - a growable byte buffer, used throughout the lake library
 * and by the stages. A failed allocation sets failed; later appends do
 * nothing, so callers check once at the end.
 */
#ifndef LAKE_BUF_H
#define LAKE_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct lake_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int failed;		/* an allocation failed; contents are invalid */
} lake_buf;

int lake_buf_reserve(lake_buf *b, size_t extra);
void lake_buf_append(lake_buf *b, const void *p, size_t n);
void lake_buf_free(lake_buf *b);

#endif
