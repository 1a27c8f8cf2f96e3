/*
 * encoding.c - RLE/bit-packing hybrid and DELTA_BINARY_PACKED.
 *
 * The hybrid encoder emits an RLE run for every stretch of 8 or more equal
 * values and bit-packs the rest in groups of 8, so a bit-packed run only
 * ever ends on a group boundary (or at the end, padded with zeros). Levels
 * (one byte each) are encoded straight from their bytes, runs found eight
 * bytes at a time: a nested file's leaves are mostly long runs of one
 * level (a checkpoint's row group of tombstones holds only nulls in its
 * add and metaData leaves), which then cost a few instructions per eight
 * levels. Decoding fills RLE runs without unpacking them one by one.
 */
#include <stdlib.h>
#include <string.h>

#include "encoding.h"

int
enc_bit_width(uint64_t max_value)
{
	int w = 0;

	while (max_value != 0) {
		w++;
		max_value >>= 1;
	}
	return w;
}

static void
put_rle_run(lake_buf *out, uint32_t value, size_t count, int bit_width)
{
	uint8_t bytes[4];
	int nbytes = (bit_width + 7) / 8;

	lake_put_varint(out, (uint64_t)count << 1);
	for (int i = 0; i < nbytes; i++)
		bytes[i] = (uint8_t)(value >> (8 * i));
	lake_buf_append(out, bytes, (size_t)nbytes);
}

/*
 * Bit-packs groups*8 values (v[0..n), zero padded) LSB first into dst,
 * which has room for groups * bit_width bytes. A group of 8 values fills
 * exactly bit_width bytes, so packing can be split on group boundaries.
 */
static void
pack_groups(uint8_t *dst, const uint32_t *v, size_t n, size_t groups,
    int bit_width)
{
	uint64_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < groups * 8; i++) {
		acc |= (uint64_t)(i < n ? v[i] : 0) << bits;
		bits += bit_width;
		while (bits >= 8) {
			*dst++ = (uint8_t)acc;
			acc >>= 8;
			bits -= 8;
		}
	}
}

static void
put_packed(lake_buf *out, const uint32_t *v, size_t n, size_t groups,
    int bit_width)
{
	size_t nbytes = groups * (size_t)bit_width;

	lake_put_varint(out, (uint64_t)groups << 1 | 1);
	if (lake_buf_reserve(out, nbytes) == -1)
		return;
	pack_groups(out->data + out->len, v, n, groups, bit_width);
	out->len += nbytes;
}

/* put_packed of byte values, widened 64 at a time. */
static void
put_packed_u8(lake_buf *out, const uint8_t *v, size_t n, size_t groups,
    int bit_width)
{
	size_t nbytes = groups * (size_t)bit_width;
	uint32_t wide[64];
	uint8_t *dst;

	lake_put_varint(out, (uint64_t)groups << 1 | 1);
	if (lake_buf_reserve(out, nbytes) == -1)
		return;
	dst = out->data + out->len;
	for (size_t g = 0; g < groups; g += 8) {
		size_t ng = groups - g < 8 ? groups - g : 8;
		size_t first = g * 8, k = n > first ? n - first : 0;

		if (k > 64)
			k = 64;
		for (size_t i = 0; i < k; i++)
			wide[i] = v[first + i];
		pack_groups(dst, wide, k, ng, bit_width);
		dst += ng * (size_t)bit_width;
	}
	out->len += nbytes;
}

static size_t
run_length(const uint32_t *v, size_t i, size_t n)
{
	size_t j = i + 1;

	while (j < n && v[j] == v[i])
		j++;
	return j - i;
}

/* The run of bytes equal to v[i] from i, compared eight at a time. */
static size_t
run_length_u8(const uint8_t *v, size_t i, size_t n)
{
	uint64_t same = 0x0101010101010101ULL * v[i], word;
	size_t j = i + 1;

	while (n - j >= 8) {
		memcpy(&word, v + j, 8);
		if (word != same)
			break;
		j += 8;
	}
	while (j < n && v[j] == v[i])
		j++;
	return j - i;
}

/*
 * Values to encode: 32-bit ones (v32) or bytes (v8, levels), one of the
 * two set. Runs and groups are found the same way for both; only reading
 * a value, measuring a run and packing a group look at the width.
 */
typedef struct rle_input {
	const uint32_t *v32;
	const uint8_t *v8;
	size_t n;
} rle_input;

static size_t
input_run(const rle_input *in, size_t i)
{
	return in->v8 ? run_length_u8(in->v8, i, in->n) :
	    run_length(in->v32, i, in->n);
}

static void
input_packed(lake_buf *out, const rle_input *in, size_t start, size_t n,
    size_t groups, int bit_width)
{
	if (in->v8)
		put_packed_u8(out, in->v8 + start, n, groups, bit_width);
	else
		put_packed(out, in->v32 + start, n, groups, bit_width);
}

static void
enc_rle(lake_buf *out, const rle_input *in, int bit_width)
{
	size_t i = 0, n = in->n;

	if (bit_width == 0) {
		if (n > 0)
			put_rle_run(out, 0, n, 0);
		return;
	}
	while (i < n) {
		size_t run = input_run(in, i);
		size_t start, groups;

		if (run >= 8) {
			put_rle_run(out, in->v8 ? in->v8[i] : in->v32[i], run,
			    bit_width);
			i += run;
			continue;
		}
		start = i;
		groups = 0;
		for (;;) {
			groups++;
			i += 8;
			if (i >= n || input_run(in, i) >= 8)
				break;
		}
		input_packed(out, in, start, (i < n ? i : n) - start, groups,
		    bit_width);
	}
}

void
enc_rle_u32(lake_buf *out, const uint32_t *v, size_t n, int bit_width)
{
	rle_input in = { v, NULL, n };

	enc_rle(out, &in, bit_width);
}

void
enc_rle_u8(lake_buf *out, const uint8_t *v, size_t n, int bit_width)
{
	rle_input in = { NULL, v, n };

	enc_rle(out, &in, bit_width);
}

/* --- decoding ------------------------------------------------------ */

int
rle_init(rle_decoder *d, const uint8_t *p, size_t n, int bit_width)
{
	memset(d, 0, sizeof(*d));
	if (bit_width < 0 || bit_width > 32)
		return -1;
	d->p = p;
	d->end = p + n;
	d->bit_width = bit_width;
	return 0;
}

static int
next_run(rle_decoder *d)
{
	uint64_t h;

	if (lake_get_varint(&d->p, d->end, &h) == -1)
		return -1;
	if (h & 1) {
		uint64_t groups = h >> 1;
		uint64_t nbytes = groups * (uint64_t)d->bit_width;

		if (groups == 0 || groups > UINT32_MAX / 8)
			return -1;
		/*
		 * A writer may cut the last run short of its padding; accept
		 * what is there and let the value count decide.
		 */
		if (nbytes > (uint64_t)(d->end - d->p)) {
			if (d->bit_width == 0)
				return -1;
			groups = (uint64_t)(d->end - d->p) * 8 /
			    (uint64_t)d->bit_width / 8;
			if (groups == 0 && d->end - d->p == 0)
				return -1;
			nbytes = (uint64_t)(d->end - d->p);
			d->run_left = (uint32_t)((nbytes * 8) /
			    (uint64_t)(d->bit_width ? d->bit_width : 1));
		} else
			d->run_left = (uint32_t)(groups * 8);
		d->is_rle = 0;
		d->packed = d->p;
		d->packed_bit = 0;
		d->p += nbytes;
		d->packed_end = d->p;
		if (d->run_left == 0)
			return -1;
	} else {
		int nbytes = (d->bit_width + 7) / 8;
		uint32_t v = 0;

		if (h >> 1 == 0 || h >> 1 > UINT32_MAX)
			return -1;
		if (d->end - d->p < nbytes)
			return -1;
		for (int i = 0; i < nbytes; i++)
			v |= (uint32_t)d->p[i] << (8 * i);
		d->p += nbytes;
		d->is_rle = 1;
		d->rle_value = v;
		d->run_left = (uint32_t)(h >> 1);
	}
	return 0;
}

static uint32_t
unpack_one(rle_decoder *d)
{
	uint64_t bit = d->packed_bit;
	const uint8_t *src = d->packed + bit / 8;
	int shift = (int)(bit % 8);
	uint64_t acc = 0;
	int need = (shift + d->bit_width + 7) / 8;

	/*
	 * next_run() sized run_left so these bytes are inside the run. One
	 * 8-byte load when the run has room for it (little-endian host).
	 */
	if (d->packed_end - src >= 8)
		memcpy(&acc, src, 8);
	else
		for (int i = 0; i < need; i++)
			acc |= (uint64_t)src[i] << (8 * i);
	d->packed_bit += (uint64_t)d->bit_width;
	return (uint32_t)((acc >> shift) & ((1ULL << d->bit_width) - 1));
}

int
rle_get_u32(rle_decoder *d, uint32_t *out, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t k;

		if (d->run_left == 0 && next_run(d) == -1)
			return -1;
		k = d->run_left;
		if (k > n - i)
			k = (uint32_t)(n - i);
		if (d->is_rle) {
			for (uint32_t j = 0; j < k; j++)
				out[i + j] = d->rle_value;
		} else if (d->bit_width == 0) {
			memset(out + i, 0, k * sizeof(*out));
		} else {
			for (uint32_t j = 0; j < k; j++)
				out[i + j] = unpack_one(d);
		}
		d->run_left -= k;
		i += k;
	}
	return 0;
}

/* rle_get_u32 into levels: a value above INT16_MAX is corrupt input. */
int
rle_get_i16(rle_decoder *d, int16_t *out, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t k;

		if (d->run_left == 0 && next_run(d) == -1)
			return -1;
		k = d->run_left;
		if (k > n - i)
			k = (uint32_t)(n - i);
		if (d->is_rle) {
			if (d->rle_value > INT16_MAX)
				return -1;
			for (uint32_t j = 0; j < k; j++)
				out[i + j] = (int16_t)d->rle_value;
		} else {
			for (uint32_t j = 0; j < k; j++) {
				uint32_t x = d->bit_width ? unpack_one(d) : 0;

				if (x > INT16_MAX)
					return -1;
				out[i + j] = (int16_t)x;
			}
		}
		d->run_left -= k;
		i += k;
	}
	return 0;
}

/* --- DELTA_BINARY_PACKED ------------------------------------------- */

static int64_t
unzigzag(uint64_t u)
{
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/*
 * The width-bit value at bit of src, LSB first; end bounds the buffer.
 * One 8-byte load when it fits (widths up to 56 bits, 8 bytes left, a
 * little-endian host as everywhere in this file); byte by byte else.
 */
static uint64_t
unpack_bits(const uint8_t *src, const uint8_t *end, uint64_t bit, int width)
{
	const uint8_t *p = src + bit / 8;
	int shift = (int)(bit % 8);
	int need = (shift + width + 7) / 8;
	uint64_t lo = 0, hi = 0;

	if (width <= 56 && end - p >= 8) {
		memcpy(&lo, p, 8);
		return (lo >> shift) & ((1ULL << width) - 1);
	}
	for (int i = 0; i < need && i < 8; i++)
		lo |= (uint64_t)p[i] << (8 * i);
	if (need > 8)
		hi = p[8];
	if (shift)
		lo = (lo >> shift) | (hi << (64 - shift));
	if (width < 64)
		lo &= (1ULL << width) - 1;
	return lo;
}

typedef struct delta_header {
	uint64_t block_size;
	uint64_t miniblocks;
	uint64_t count;
	int64_t first;
} delta_header;

static int
delta_read_header(const uint8_t **p, const uint8_t *end, delta_header *h)
{
	uint64_t first;

	if (lake_get_varint(p, end, &h->block_size) == -1 ||
	    lake_get_varint(p, end, &h->miniblocks) == -1 ||
	    lake_get_varint(p, end, &h->count) == -1 ||
	    lake_get_varint(p, end, &first) == -1)
		return -1;
	if (h->block_size == 0 || h->block_size % 128 != 0 ||
	    h->block_size > 65536 || h->miniblocks == 0 ||
	    h->block_size % h->miniblocks != 0 ||
	    (h->block_size / h->miniblocks) % 32 != 0)
		return -1;
	h->first = unzigzag(first);
	return 0;
}

static void
store(void *out, int width, size_t i, uint64_t v)
{
	if (width == 4)
		((int32_t *)out)[i] = (int32_t)(uint32_t)v;
	else
		((int64_t *)out)[i] = (int64_t)v;
}

static uint64_t
delta_load(const void *in, int width, size_t i)
{
	if (width == 4) {
		int32_t v;

		memcpy(&v, (const uint8_t *)in + i * 4, 4);
		return (uint64_t)(int64_t)v;
	}
	{
		int64_t v;

		memcpy(&v, (const uint8_t *)in + i * 8, 8);
		return (uint64_t)v;
	}
}

/* Appends 32 values of bw bits each, LSB first (a miniblock). */
static void
pack_miniblock(lake_buf *out, const uint64_t *v, int bw)
{
	uint8_t bytes[32 * 8];
	size_t nbytes = 32 * (size_t)bw / 8;

	memset(bytes, 0, nbytes);
	for (int j = 0; j < 32; j++) {
		uint64_t x = v[j], pos = (uint64_t)j * (uint64_t)bw;
		int left = bw;

		while (left > 0) {
			int shift = (int)(pos % 8), take = 8 - shift;

			if (take > left)
				take = left;
			bytes[pos / 8] |= (uint8_t)((x & ((1u << take) - 1)) <<
			    shift);
			x >>= take;
			pos += (uint64_t)take;
			left -= take;
		}
	}
	lake_buf_append(out, bytes, nbytes);
}

void
enc_delta_encode(lake_buf *out, const void *values, size_t n, int width)
{
	uint64_t prev = n > 0 ? delta_load(values, width, 0) : 0;

	lake_put_varint(out, 128);
	lake_put_varint(out, 4);
	lake_put_varint(out, n);
	lake_put_varint(out, (prev << 1) ^ (uint64_t)((int64_t)prev >> 63));
	for (size_t i = 1; i < n; i += 128) {
		size_t k = n - i < 128 ? n - i : 128;
		int64_t d[128], min = INT64_MAX;
		uint64_t rel[128];
		uint8_t bw[4];

		for (size_t j = 0; j < k; j++) {
			uint64_t v = delta_load(values, width, i + j);

			/* In int32's width: the difference of two int32s. */
			d[j] = width == 4 ? (int64_t)(int32_t)(uint32_t)(v -
			    prev) : (int64_t)(v - prev);
			prev = v;
			min = d[j] < min ? d[j] : min;
		}
		lake_put_varint(out, ((uint64_t)min << 1) ^
		    (uint64_t)(min >> 63));
		for (size_t j = 0; j < 128; j++)
			rel[j] = j < k ? (width == 4 ? (uint64_t)(uint32_t)
			    ((uint64_t)d[j] - (uint64_t)min) : (uint64_t)d[j] -
			    (uint64_t)min) : 0;
		for (int m = 0; m < 4; m++) {
			uint64_t max = 0;

			for (int j = 0; j < 32; j++)
				max |= rel[m * 32 + j];
			bw[m] = (uint8_t)((size_t)m * 32 < k ?
			    enc_bit_width(max) : 0);
		}
		lake_buf_append(out, bw, 4);
		/* Miniblocks past the last value are left out. */
		for (int m = 0; m < 4 && (size_t)m * 32 < k; m++)
			pack_miniblock(out, rel + m * 32, bw[m]);
	}
}

int
enc_delta_decode(const uint8_t *p, size_t len, size_t n, int width,
    void *out, size_t *used)
{
	const uint8_t *start = p, *end = p + len;
	delta_header h;
	uint64_t value, per_mini;
	size_t i = 0;

	if (delta_read_header(&p, end, &h) == -1 || h.count < n)
		return -1;
	per_mini = h.block_size / h.miniblocks;
	value = (uint64_t)h.first;
	if (n > 0)
		store(out, width, i++, value);
	while (i < n) {
		uint64_t mu;
		int64_t min_delta;
		const uint8_t *widths;

		if (lake_get_varint(&p, end, &mu) == -1)
			return -1;
		min_delta = unzigzag(mu);
		if ((uint64_t)(end - p) < h.miniblocks)
			return -1;
		widths = p;
		p += h.miniblocks;
		for (uint64_t m = 0; m < h.miniblocks && i < n; m++) {
			int bw = widths[m];
			uint64_t nbytes = per_mini * (uint64_t)bw / 8;

			if (bw > 64 || nbytes > (uint64_t)(end - p))
				return -1;
			for (uint64_t j = 0; j < per_mini && i < n; j++) {
				uint64_t d = bw ? unpack_bits(p, end,
				    j * (uint64_t)bw, bw) : 0;

				value += (uint64_t)min_delta + d;
				store(out, width, i++, value);
			}
			p += nbytes;
		}
	}
	*used = (size_t)(p - start);
	return 0;
}
