/*
 * lake_io.c - whole-buffer writes for the lake library's writers (the
 * Parquet writers' output buffers and the commit files): write(2) may
 * write less than asked or be interrupted, and every caller wants all
 * or an error.
 */
#include "lake_io.h"

#include <errno.h>
#include <unistd.h>

int
lake_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t k = write(fd, c, n);

		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}
