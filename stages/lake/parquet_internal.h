/*
 * parquet_internal.h - the footer model shared by the Parquet reader and
 * writer, and the Thrift (de)serialisation of footers and page headers.
 */
#ifndef LAKE_PARQUET_INTERNAL_H
#define LAKE_PARQUET_INTERNAL_H

#include "parquet.h"
#include "thrift.h"

/* Parquet's enums (parquet.thrift). */
enum { PT_BOOLEAN, PT_INT32, PT_INT64, PT_INT96, PT_FLOAT, PT_DOUBLE,
	PT_BYTE_ARRAY, PT_FIXED };
enum { REP_REQUIRED, REP_OPTIONAL, REP_REPEATED };
enum { ENC_PLAIN = 0, ENC_PLAIN_DICTIONARY = 2, ENC_RLE = 3,
	ENC_BIT_PACKED = 4, ENC_DELTA_BINARY_PACKED = 5,
	ENC_DELTA_LENGTH_BYTE_ARRAY = 6, ENC_DELTA_BYTE_ARRAY = 7,
	ENC_RLE_DICTIONARY = 8, ENC_BYTE_STREAM_SPLIT = 9 };
enum { PAGE_DATA = 0, PAGE_INDEX = 1, PAGE_DICTIONARY = 2,
	PAGE_DATA_V2 = 3 };

/* A leaf (primitive) column of the schema tree. */
typedef struct pq_leaf {
	char *path;		/* dotted path below the root */
	int physical;		/* PT_* */
	int type_length;	/* FIXED_LEN_BYTE_ARRAY width */
	pq_type type;		/* how we present it */
	int repetition;		/* REP_* of the leaf itself */
	int max_def;
	int max_rep;
	int time_unit;		/* 1 ms, 2 µs, 3 ns (timestamps) */
	int decimal_precision;
	int decimal_scale;
	int top_level;		/* a direct child of the root */
} pq_leaf;

typedef struct pq_chunk_meta {
	int physical;
	int codec;
	int64_t num_values;
	int64_t total_uncompressed;
	int64_t total_compressed;
	int64_t data_page_offset;
	int64_t dictionary_page_offset;	/* -1 when absent */
	pq_column_stats stats;
} pq_chunk_meta;

typedef struct pq_row_group_meta {
	int64_t num_rows;
	int64_t total_byte_size;
	pq_chunk_meta *chunks;		/* one per leaf */
} pq_row_group_meta;

typedef struct pq_file_meta {
	int64_t num_rows;
	pq_leaf *leaves;
	int nleaves;
	pq_row_group_meta *row_groups;
	int nrow_groups;
	char *created_by;
} pq_file_meta;

int pq_meta_decode(const uint8_t *p, size_t n, pq_file_meta *m,
    lake_err *err);
void pq_meta_free(pq_file_meta *m);

/* What the writer knows about one written column chunk. */
typedef struct pq_chunk_out {
	int codec;			/* PQ_CODEC_*, per chunk */
	int64_t num_values;
	int64_t total_uncompressed;
	int64_t total_compressed;
	int64_t data_page_offset;
	int64_t dictionary_page_offset;	/* -1 when none */
	int used_dictionary;
	int used_plain;
	pq_column_stats stats;
} pq_chunk_out;

typedef struct pq_row_group_out {
	int64_t num_rows;
	int64_t total_byte_size;
	int64_t file_offset;
	int64_t total_compressed;
	pq_chunk_out *chunks;		/* one per schema column */
} pq_row_group_out;

void pq_meta_encode(lake_buf *out, const pq_schema *schema,
    const pq_row_group_out *rgs, int nrgs, int64_t num_rows,
    const char *created_by);

typedef struct pq_page_header {
	int type;
	int32_t uncompressed_size;
	int32_t compressed_size;
	int32_t num_values;
	int encoding;
	/* v2 only */
	int32_t num_nulls;
	int32_t num_rows;
	int32_t def_levels_len;
	int32_t rep_levels_len;
	int is_compressed;
	/* CRC-32 (zlib's, as gzip) of the page's bytes after the header, as
	 * stored; written on every page, checked when present. */
	int has_crc;
	uint32_t crc;
	/* A data page's min and max of an INT32 or INT64 column, from the
	 * statistics in its header (min_value and max_value, 4 or 8 bytes
	 * little-endian); written when the writer cuts aligned pages. */
	int has_int_range;
	int int_width;		/* 4 or 8: the column's width, for writing */
	int64_t min_int;
	int64_t max_int;
} pq_page_header;

/* Bytes of a fixed-width value type; 0 for strings. */
size_t pq_value_width(pq_type t);
/* Appends n booleans (0 or 1) to out, bit-packed as PLAIN stores them. */
void pq_pack_booleans(lake_buf *out, const uint8_t *v, size_t n);
/* The Parquet physical type (PT_*) that stores a value type. */
int pq_physical_type(pq_type t);

/* The page CRC of the bytes that follow a page header. */
uint32_t pq_page_crc(const uint8_t *page, size_t len);

/* Parses a page header at p; *used gets its length. */
int pq_page_header_decode(const uint8_t *p, size_t n, pq_page_header *h,
    size_t *used);
void pq_page_header_encode(lake_buf *out, const pq_page_header *h);

/* Frees the strings a stats struct owns and sets them to empty. */
void pq_column_stats_clear(pq_column_stats *s, pq_type type);
/* Copies a stats value, duplicating strings. */
int pq_stats_value_copy(pq_value *dst, const pq_value *src, pq_type type);

/* a * b clamped to the int64 range: corrupt files must not overflow. */
static inline int64_t
pq_mul_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

static inline int64_t
pq_add_sat(int64_t a, int64_t b)
{
	int64_t r;

	if (__builtin_add_overflow(a, b, &r))
		return b < 0 ? INT64_MIN : INT64_MAX;
	return r;
}

#endif
