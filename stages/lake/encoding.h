/*
 * encoding.h - Parquet's integer encodings below the value level.
 *
 * The RLE/bit-packing hybrid carries definition and repetition levels and
 * dictionary indices. DELTA_BINARY_PACKED (and the two byte-array
 * encodings built on it) is what DuckDB and Spark write into v2 pages.
 * Decoders are bounded by the bytes they were given and report corrupt
 * input with -1; they never read past the end.
 */
#ifndef LAKE_ENCODING_H
#define LAKE_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "thrift.h"

/* Bits needed for values up to max_value (0 for 0). */
int enc_bit_width(uint64_t max_value);

/* Appends the hybrid encoding of n values (each < 2^bit_width). */
void enc_rle_u32(lake_buf *out, const uint32_t *values, size_t n,
    int bit_width);
void enc_rle_u8(lake_buf *out, const uint8_t *values, size_t n,
    int bit_width);

typedef struct rle_decoder {
	const uint8_t *p;
	const uint8_t *end;
	int bit_width;
	uint32_t run_left;	/* values left in the current run */
	int is_rle;
	uint32_t rle_value;
	const uint8_t *packed;	/* bit-packed run: its bytes */
	const uint8_t *packed_end;
	uint64_t packed_bit;	/* next bit to read in packed */
} rle_decoder;

int rle_init(rle_decoder *d, const uint8_t *p, size_t n, int bit_width);
/* Decodes exactly n values; -1 when the input runs out or is bad. */
int rle_get_u32(rle_decoder *d, uint32_t *out, size_t n);
int rle_get_i16(rle_decoder *d, int16_t *out, size_t n);

/*
 * DELTA_BINARY_PACKED: appends n values (int32 or int64 by width 4 or
 * 8) in blocks of 128 deltas, four miniblocks of 32 each. Deltas wrap in
 * the values' own width, as every reader computes them.
 */
void enc_delta_encode(lake_buf *out, const void *values, size_t n,
    int width);
/*
 * DELTA_BINARY_PACKED: decodes n values into out (int32 or int64 by
 * width 4 or 8). *used receives the bytes consumed.
 */
int enc_delta_decode(const uint8_t *p, size_t len, size_t n, int width,
    void *out, size_t *used);

#endif
