/*
 * codec.h - page compression: UNCOMPRESSED, SNAPPY, GZIP and ZSTD.
 *
 * Compression writes into a caller buffer it grows as needed. Decompression
 * is told the exact uncompressed size from the page header and fails when
 * the data does not inflate to exactly that size, so a lying header cannot
 * make it write out of bounds.
 */
#ifndef LAKE_CODEC_H
#define LAKE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "lake_err.h"
#include "thrift.h"

typedef struct codec_ctx codec_ctx;

codec_ctx *codec_new(void);
void codec_free(codec_ctx *c);

const char *codec_name(int codec);
/* Replaces out's contents with src compressed by codec. */
int codec_compress(codec_ctx *c, int codec, int level, const uint8_t *src,
    size_t n, lake_buf *out, lake_err *err);
/* Inflates src into dst, which has room for exactly dst_len bytes. */
int codec_decompress(codec_ctx *c, int codec, const uint8_t *src, size_t n,
    uint8_t *dst, size_t dst_len, lake_err *err);

#endif
