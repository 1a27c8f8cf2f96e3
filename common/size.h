/*
 * size.h - the one parser of byte sizes the programs share (medallion-lake
 * optimize --target-size, the maintenance stage's --target-size):
 * decimal digits and an optional binary unit, "134217728", "512k",
 * "128MiB", "1G" (k, m, g with or without b or ib; any case).
 */
#ifndef SIZE_H
#define SIZE_H

#include <stdint.h>

/* Parses s into *bytes (> 0). 0, or -1 for no size or one that does not
 * fit int64. */
int size_parse(const char *s, int64_t *bytes);

#endif
