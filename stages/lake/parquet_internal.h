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
	/* The chunk's page index (ColumnChunk fields 4-7), where the
	 * writer left one: lengths are 0 when absent. */
	int64_t offset_index_offset;
	int32_t offset_index_length;
	int64_t column_index_offset;
	int32_t column_index_length;
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

/*
 * One data page of a column chunk as its OffsetIndex places it: where
 * its header starts, the bytes of header and body together, and the
 * row (of the row group) its first value belongs to.
 */
typedef struct pq_page_loc {
	int64_t offset;
	int32_t size;
	int64_t first_row;
} pq_page_loc;

/* What the writer keeps of each data page for the page index: its
 * place, and an integer page's min and max (has_range 0: no values). */
typedef struct pq_page_out {
	pq_page_loc loc;
	int has_range;
	int64_t min;
	int64_t max;
} pq_page_out;

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
	int used_delta;			/* DELTA_BINARY_PACKED pages */
	pq_column_stats stats;
	/* The page index, written for aligned pages (page_rows): every
	 * column gets an OffsetIndex, an integer column a ColumnIndex too
	 * (index_width 4 or 8; 0: none). Offsets are set at close. */
	pq_page_out *pages;
	int npages;
	int pages_cap;
	int index_width;
	int64_t offset_index_offset;
	int32_t offset_index_length;
	int64_t column_index_offset;
	int32_t column_index_length;
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

/* A chunk's OffsetIndex and, for an integer column, its ColumnIndex. */
void pq_offset_index_encode(lake_buf *out, const pq_chunk_out *k);
void pq_column_index_encode(lake_buf *out, const pq_chunk_out *k);
/*
 * Decodes an OffsetIndex into *locs (malloc'd, *n entries; the caller
 * frees it). Offsets and sizes are checked by the caller against the
 * chunk they belong to.
 */
int pq_offset_index_decode(const uint8_t *p, size_t n, pq_page_loc **locs,
    int *nlocs);
/*
 * The ColumnIndex of an INT32 or INT64 column: per page, whether it
 * holds only nulls, and otherwise its min and max when they are 4- or
 * 8-byte integers (known 0: a page the index cannot tell about).
 */
typedef struct pq_int_index {
	int npages;
	uint8_t *null_page;	/* 1: a page of nulls only */
	uint8_t *known;		/* 1: min and max below are the page's */
	int64_t *min;
	int64_t *max;
} pq_int_index;

/* Fills ix (arrays owned by it: pq_int_index_free); -1 when malformed. */
int pq_column_index_decode_int(const uint8_t *p, size_t n,
    pq_int_index *ix);
void pq_int_index_free(pq_int_index *ix);

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
