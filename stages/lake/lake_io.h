/*
 * lake_io.h - small file I/O helpers the lake library's writers share.
 */
#ifndef LAKE_IO_H
#define LAKE_IO_H

#include <stddef.h>

/*
 * Writes all n bytes at p to fd, going on after EINTR and short writes.
 * 0, or -1 with errno set by the failed write(2).
 */
int lake_write_all(int fd, const void *p, size_t n);

#endif
