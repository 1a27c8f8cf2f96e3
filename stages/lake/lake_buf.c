/*
 * lake_buf.c - the growable byte buffer (lake_buf.h): doubling capacity
 * from 256 bytes; a failed allocation or a size that would overflow sets
 * failed, and the buffer then ignores appends until freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lake_buf.h"

int
lake_buf_reserve(lake_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (b->failed)
		return -1;
	if (extra > SIZE_MAX - b->len)
		goto fail;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		goto fail;
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->failed = 1;
	return -1;
}

void
lake_buf_append(lake_buf *b, const void *p, size_t n)
{
	if (n == 0 || lake_buf_reserve(b, n) == -1)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
lake_buf_free(lake_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
