/*
 * parquet.h - a focused Parquet reader and writer for flat tables.
 *
 * The writer streams rows into column buffers, cuts a row group when its
 * buffered size reaches opts.row_group_bytes, and writes the footer (with
 * per-column min/max/null_count statistics) on close. Memory is bounded by
 * one row group, whatever the file size. Strings are dictionary encoded
 * (RLE_DICTIONARY) until the dictionary grows past opts.dict_max_bytes, then
 * fall back to PLAIN. Pages are data page v1; the codec is ZSTD by default.
 *
 * The reader reads what the writer writes plus what DuckDB, Spark and
 * pyarrow write for these types: data page v1 and v2, PLAIN,
 * PLAIN_DICTIONARY and RLE_DICTIONARY, SNAPPY/GZIP/ZSTD/UNCOMPRESSED, and
 * INT96 timestamps. It reads whole row groups of the projected columns into
 * a pq_batch, so a caller can skip row groups by their statistics first.
 * Every length in the file is bounds-checked: a corrupt file is an error,
 * never a crash.
 *
 * Files written with aligned pages (page_rows) carry Parquet's page
 * index: an OffsetIndex for every column chunk and a ColumnIndex for the
 * integer ones. A point lookup (pq_reader_read_row_group_keys) plans from
 * the key column's ColumnIndex and reads only the pages it wants through
 * the OffsetIndex, in our files and in other writers' (Spark writes both).
 *
 * pq_nested_writer writes nested files (structs, maps, lists) from
 * entries with explicit repetition and definition levels: what Delta
 * checkpoints need, read back with pq_reader_read_leaf.
 *
 * Logical types (ours) and their Parquet encoding: see parquet-facts.md §4.
 * TIMESTAMP is int64 microseconds since the epoch, written as
 * TIMESTAMP(isAdjustedToUTC=true, MICROS): source timestamps carry no zone
 * and are stored as if they were UTC (see README, "Time zones").
 */
#ifndef LAKE_PARQUET_H
#define LAKE_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "lake_err.h"

typedef enum pq_type {
	PQ_INT32,
	PQ_INT64,
	PQ_DOUBLE,
	PQ_BOOLEAN,
	PQ_STRING,	/* BYTE_ARRAY + UTF8 */
	PQ_DATE,	/* int32 days since 1970-01-01 */
	PQ_TIMESTAMP,	/* int64 microseconds since 1970-01-01 UTC */
	/* Read-only types, for files other writers made: */
	PQ_FLOAT,	/* widened to double in batches */
	PQ_BINARY,	/* BYTE_ARRAY without UTF8 annotation */
	PQ_INT8,	/* INT32 annotated INT(8); widened to int32 */
	PQ_INT16,	/* INT32 annotated INT(16); widened to int32 */
	PQ_DECIMAL,	/* INT32/INT64/FIXED_LEN_BYTE_ARRAY; unscaled int64 + scale */
	PQ_TIMESTAMP_NTZ, /* isAdjustedToUTC=false; same µs storage */
} pq_type;

typedef enum pq_codec {
	PQ_CODEC_UNCOMPRESSED = 0,
	PQ_CODEC_SNAPPY = 1,
	PQ_CODEC_GZIP = 2,
	PQ_CODEC_ZSTD = 6,
} pq_codec;

typedef struct pq_column_def {
	const char *name;
	pq_type type;
	int nullable;		/* OPTIONAL when 1, REQUIRED when 0 */
	int decimal_precision;	/* PQ_DECIMAL only */
	int decimal_scale;
} pq_column_def;

typedef struct pq_schema {
	pq_column_def *cols;
	int ncols;
} pq_schema;

/* One cell. Strings point into caller memory (writer) or batch memory. */
typedef struct pq_value {
	int is_null;
	union {
		int32_t i32;	/* INT32, DATE, INT8, INT16 */
		int64_t i64;	/* INT64, TIMESTAMP, DECIMAL unscaled */
		double f64;	/* DOUBLE, FLOAT */
		int b;		/* BOOLEAN */
		struct {
			const char *ptr;
			uint32_t len;
		} s;		/* STRING, BINARY */
	} v;
} pq_value;

/* Column statistics as kept in the footer and copied into Delta stats. */
typedef struct pq_column_stats {
	int has_min_max;	/* 0 when all values are null or unknown */
	pq_value min, max;	/* strings owned by the stats struct */
	int64_t null_count;	/* -1 when unknown */
} pq_column_stats;

typedef struct pq_file_stats {
	int64_t num_rows;
	int64_t file_size;	/* bytes on disk after close */
	int ncols;
	pq_column_stats *cols;	/* one per schema column */
	pq_type *types;		/* the columns' types (to free strings) */
} pq_file_stats;

void pq_file_stats_free(pq_file_stats *stats);

/* --- writer -------------------------------------------------------- */

struct codec_ctx;

typedef struct pq_writer_opts {
	pq_codec codec;			/* default PQ_CODEC_ZSTD */
	int zstd_level;			/* default 1 */
	size_t row_group_bytes;		/* default 64 MiB of buffered values */
	size_t page_bytes;		/* default 1 MiB */
	int dictionary;			/* dictionary-encode strings; default 1 */
	size_t dict_max_bytes;		/* default 1 MiB; then PLAIN */
	int no_fsync;			/* the caller syncs (e.g. syncfs once
					   for many files); default 0 */
	struct codec_ctx *shared_ctx;	/* a compression context to share
					   (not freed by the writer), or NULL */
	int defer_create;		/* create the file at its first write
					   and hold no descriptor between row
					   groups (many writers at once);
					   default 0: created by open */
	int page_rows;			/* when > 0: every column's pages end
					   at the same rows, page_rows each
					   (page_bytes is then ignored), and
					   integer pages carry min/max in
					   their headers, so a lookup decodes
					   only the pages that may hold a key;
					   default 0 */
	int sort;			/* when set, each row group is written
					   in the order of sort_column (an
					   INT32 or INT64 column; a stable
					   sort, nulls first); default 0 */
	int sort_column;
} pq_writer_opts;

void pq_writer_opts_default(pq_writer_opts *opts);

typedef struct pq_writer pq_writer;

/*
 * Creates path exclusively (O_EXCL; with defer_create, at the first
 * write) and writes the magic. The schema is copied. Returns NULL and
 * fills err on failure.
 */
pq_writer *pq_writer_open(const char *path, const pq_schema *schema,
    const pq_writer_opts *opts, lake_err *err);
/* Appends one row: values[i] for schema column i. Strings are copied. */
int pq_writer_append(pq_writer *w, const pq_value *values, lake_err *err);
/* Bytes currently buffered (for callers that bound memory across
 * several open writers). */
size_t pq_writer_buffered_bytes(const pq_writer *w);
/* Flushes the buffered row group now (it is otherwise cut by size). */
int pq_writer_flush_row_group(pq_writer *w, lake_err *err);
/*
 * Flushes, writes the footer, fsyncs and closes the file, and frees w.
 * When stats is not NULL it receives the file's statistics (free them with
 * pq_file_stats_free). On failure the file is removed.
 */
int pq_writer_close(pq_writer *w, pq_file_stats *stats, lake_err *err);
/* Closes, removes the file and frees w. */
void pq_writer_abort(pq_writer *w);

/* --- nested writer (Delta checkpoints) ---------------------------- */

/*
 * A schema tree in Parquet's own order: a preorder list of nodes, where a
 * group (nchildren > 0) is followed by its nchildren subtrees. The root
 * is implicit: nodes[] are the top-level fields and what follows them.
 * Leaves take the types the flat writer writes.
 */
enum { PQ_REP_REQUIRED = 0, PQ_REP_OPTIONAL = 1, PQ_REP_REPEATED = 2 };
typedef enum pq_group_kind {
	PQ_GROUP_STRUCT,
	PQ_GROUP_MAP,	/* annotated MAP; its one child is the repeated
			   key_value group of a key and a value */
	PQ_GROUP_LIST,	/* annotated LIST; its one child is the repeated
			   list group of one element */
} pq_group_kind;

typedef struct pq_node {
	const char *name;
	int repetition;		/* PQ_REP_* */
	int nchildren;		/* 0 for a leaf */
	pq_type type;		/* leaves */
	pq_group_kind kind;	/* groups */
} pq_node;

typedef struct pq_nested_writer pq_nested_writer;

/*
 * Creates path exclusively and writes the magic. Leaves are numbered in
 * schema order; find them by dotted path. opts as for pq_writer_open
 * (codec, row_group_bytes, no_fsync; no dictionaries).
 */
pq_nested_writer *pq_nested_writer_open(const char *path,
    const pq_node *nodes, int nnodes, const pq_writer_opts *opts,
    lake_err *err);
int pq_nested_writer_leaf(const pq_nested_writer *w, const char *path);
int pq_nested_writer_max_def(const pq_nested_writer *w, int leaf);
int pq_nested_writer_max_rep(const pq_nested_writer *w, int leaf);
/*
 * One entry of a leaf in the current row, with its repetition and
 * definition levels (Dremel); v is read only when def is the leaf's
 * maximum (a value), and may be NULL otherwise.
 */
int pq_nested_put(pq_nested_writer *w, int leaf, int rep, int def,
    const pq_value *v, lake_err *err);
/*
 * Ends the row. A leaf that got no entry in it gets one at levels 0: its
 * top-level field is null. So a caller fills only the leaves of the
 * fields a row has. Cuts a row group at opts.row_group_bytes.
 */
int pq_nested_end_row(pq_nested_writer *w, lake_err *err);
/* Ends the current row group now (nothing when it has no rows), so the
 * rows that follow start a new one. */
int pq_nested_writer_cut(pq_nested_writer *w, lake_err *err);
/* Footer, fsync (unless no_fsync), close; frees w. On failure the file
 * is removed. */
int pq_nested_writer_close(pq_nested_writer *w, lake_err *err);
void pq_nested_writer_abort(pq_nested_writer *w);

/* --- reader -------------------------------------------------------- */

typedef struct pq_reader pq_reader;

pq_reader *pq_reader_open(const char *path, lake_err *err);
/*
 * The same with path relative to the folder open as dirfd (openat(2)):
 * a scan of many files then walks the table's own path only once. size
 * is the file's size when the caller knows it (a Delta add action's), or
 * -1: a small file is then read without an fstat(2), and a file of
 * another size is an error.
 */
pq_reader *pq_reader_openat(int dirfd, const char *path, int64_t size,
    lake_err *err);
/* Reads from memory (the buffer must outlive the reader): for fuzzing. */
pq_reader *pq_reader_open_mem(const uint8_t *buf, size_t len, lake_err *err);
void pq_reader_close(pq_reader *r);
/*
 * Decompresses with a context the caller keeps (codec_new()) instead of
 * the reader's own: a scan over many files then sets up zstd once.
 */
void pq_reader_share_codec(pq_reader *r, struct codec_ctx *shared);

const pq_schema *pq_reader_schema(const pq_reader *r);
int pq_reader_column_index(const pq_reader *r, const char *name); /* -1 */
int64_t pq_reader_num_rows(const pq_reader *r);
int pq_reader_num_row_groups(const pq_reader *r);
int64_t pq_reader_row_group_rows(const pq_reader *r, int rg);
/* Statistics of one column chunk; has_min_max 0 when absent. The struct
 * stays owned by the reader. */
const pq_column_stats *pq_reader_row_group_stats(const pq_reader *r, int rg,
    int col);

/* One decoded column of a row group. */
typedef struct pq_column_batch {
	int col;		/* schema index */
	pq_type type;
	uint8_t *nulls;		/* 1 = null; NULL when no value is null */
	union {
		int32_t *i32;	/* INT32, DATE, INT8, INT16 */
		int64_t *i64;	/* INT64, TIMESTAMP(_NTZ), DECIMAL, INT96 */
		double *f64;	/* DOUBLE, FLOAT */
		uint8_t *b;	/* BOOLEAN, 0 or 1 */
	} v;
	/* STRING/BINARY: value i is data[offsets[i] .. offsets[i+1]) */
	uint32_t *offsets;
	char *data;
	/* Allocated sizes, so the next read into this batch reuses them. */
	int64_t cap_values;
	size_t cap_data;
} pq_column_batch;

typedef struct pq_batch {
	int64_t nrows;
	int ncols;
	pq_column_batch *cols;	/* in the order the caller projected */
} pq_batch;

/*
 * Decodes row group rg for the projected columns (cols[0..ncols), schema
 * indexes; cols NULL means every column, in schema order) into batch,
 * replacing what it held and reusing its memory when the projection is
 * the same. Start with a zeroed batch. Returns 0 or -1 with err filled.
 */
int pq_reader_read_row_group(pq_reader *r, int rg, const int *cols,
    int ncols, pq_batch *batch, lake_err *err);
/* Whether a sorted set of keys has one in [lo, hi] (a binary search). */
int pq_keys_overlap(const int64_t *keys, size_t nkeys, int64_t lo,
    int64_t hi);

/*
 * A point lookup in row group rg: like pq_reader_read_row_group, but in
 * a file whose pages are aligned (pq_writer_opts.page_rows) only the rows
 * of the pages whose key_col (INT32 or INT64, flat) min/max may hold
 * one of keys (sorted ascending) are decoded, so batch may hold a part of
 * the row group, or no rows. Any other file is read whole. cols must not
 * be NULL. The caller still filters the rows by key.
 */
int pq_reader_read_row_group_keys(pq_reader *r, int rg, const int *cols,
    int ncols, int key_col, const int64_t *keys, size_t nkeys,
    pq_batch *batch, lake_err *err);
void pq_batch_free(pq_batch *batch);
/*
 * Which parts of Parquet's page index a column chunk has:
 * PQ_OFFSET_INDEX (its pages' places, which a lookup reads its pages
 * by) and PQ_COLUMN_INDEX (its pages' min and max, which a lookup of an
 * integer key plans by); 0 for none or no such chunk.
 */
enum { PQ_OFFSET_INDEX = 1, PQ_COLUMN_INDEX = 2 };
int pq_reader_page_index(const pq_reader *r, int rg, int col);

/*
 * Nested files (Delta checkpoints hold structs and maps): leaf columns by
 * dotted path ("add.partitionValues.key_value.key") with their raw
 * definition and repetition levels, so a caller can rebuild records.
 * Flat files have one leaf per column. pq_reader_schema() lists only the
 * top-level primitive columns of a nested file.
 */
int pq_reader_num_leaves(const pq_reader *r);
const char *pq_reader_leaf_path(const pq_reader *r, int leaf);
int pq_reader_leaf_index(const pq_reader *r, const char *path); /* -1 */
int pq_reader_leaf_max_def(const pq_reader *r, int leaf);
int pq_reader_leaf_max_rep(const pq_reader *r, int leaf);

typedef struct pq_leaf_batch {
	int64_t nlevels;	/* entries in def/rep */
	int16_t *def;		/* NULL when max_def == 0 */
	int16_t *rep;		/* NULL when max_rep == 0 */
	int64_t nvalues;	/* non-null values (def == max_def) */
	pq_column_batch values;	/* nvalues dense values; nulls unused */
} pq_leaf_batch;

int pq_reader_read_leaf(pq_reader *r, int rg, int leaf, pq_leaf_batch *out,
    lake_err *err);
void pq_leaf_batch_free(pq_leaf_batch *out);

#endif
