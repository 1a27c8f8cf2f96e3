/*
 * lake.h - writing rows into a partitioned Delta table in one commit.
 *
 * A lake_writer keeps one Parquet writer open per partition value seen
 * (e.g. one per date), names each file uniquely
 * (<col>=<value>/part-<uuid>.<codec>.parquet), and on lake_writer_commit()
 * closes and fsyncs them and commits their add actions together with the
 * caller's txn and commitInfo in one Delta commit. If anything fails, or
 * the caller aborts, the files are removed; a crash leaves only orphans
 * that readers never see and vacuum removes.
 *
 * Memory: each open partition buffers at most one row group; the writer
 * flushes the largest partitions early when the sum passes
 * opts.max_buffered_bytes.
 */
#ifndef LAKE_LAKE_H
#define LAKE_LAKE_H

#include <stdint.h>

#include "delta.h"
#include "parquet.h"

typedef struct lake_writer_opts {
	pq_writer_opts parquet;
	size_t max_buffered_bytes;	/* default 48 MiB across partitions */
	const char *file_tag;		/* in file names: part-<tag>-<uuid>;
					   default "00000" */
} lake_writer_opts;

void lake_writer_opts_default(lake_writer_opts *opts);

typedef struct lake_writer lake_writer;

/*
 * data_schema: the columns stored in the files (partition column not
 * included). partition_column: NULL for an unpartitioned table; its Delta
 * type is DATE when named "date", else STRING.
 */
lake_writer *lake_writer_open(const char *table_dir,
    const pq_schema *data_schema, const char *partition_column,
    const lake_writer_opts *opts, lake_err *err);
int lake_writer_append(lake_writer *w, const char *partition_value,
    const pq_value *row, lake_err *err);
int64_t lake_writer_rows(const lake_writer *w);
/*
 * Commits every file in one Delta commit on top of base (NULL: creates the
 * table with metadata), with txn (app_id, txn_version) when app_id is not
 * NULL and commitInfo(operation, info_json). With zero rows nothing is
 * written and *version is left as it was. Returns DELTA_OK,
 * DELTA_CONFLICT or DELTA_ERROR; the writer is freed in every case.
 */
int lake_writer_commit(lake_writer *w, const delta_snapshot *base,
    const char *app_id, int64_t txn_version, const char *operation,
    const char *info_json, int64_t *version, lake_err *err);
/*
 * The general form, for several writers of one table (e.g. one per
 * thread): closes the files and adds them to commit c (which the caller
 * began on the right base and fills with its own txns, removes and
 * commitInfo), then finishes it. With zero rows the commit is still made
 * when it has other actions (remove_only set), else skipped. The writers
 * are freed in every case; uncommitted files are removed.
 */
int lake_writers_commit_with(lake_writer **ws, int nws, delta_commit *c,
    int64_t *version, lake_err *err);
/*
 * lake_writers_commit_with() in two steps, for a caller that must make
 * something else durable before the commit becomes visible: prepare
 * closes and syncs the files and writes the commit as a temp file (on
 * failure the writers are freed and their files removed); publish links
 * it as the next version and frees the writers, removing their files
 * unless it returns DELTA_OK. A prepared commit that will not be
 * published is dropped with lake_writer_abort() on each writer and
 * delta_commit_free().
 */
int lake_writers_prepare(lake_writer **ws, int nws, delta_commit *c,
    lake_err *err);
int lake_writers_publish(lake_writer **ws, int nws, delta_commit *c,
    int64_t *version, lake_err *err);
void lake_writer_abort(lake_writer *w);

/*
 * Streams the rows of a table's files: for each file, each row group,
 * the named columns (a column the file lacks is an error) are decoded
 * into a batch and passed to cb with the file. Partition columns are not
 * in the files; take them from f->partition_values.
 */
int lake_scan(const char *table_dir, const delta_file *files, size_t nfiles,
    const char *const *columns, int ncols,
    int (*cb)(const pq_batch *b, const delta_file *f, void *arg), void *arg,
    lake_err *err);

/* An integer column's range: row groups whose statistics are outside it
 * are skipped (a row group without statistics is read). */
typedef struct lake_range {
	const char *column;	/* INT32 or INT64 */
	int64_t lo, hi;		/* inclusive */
} lake_range;

/*
 * A point lookup: the range, and a sorted set of keys within it. Only
 * the files and row groups whose [min, max] holds one of the keys are
 * read, so a few ids scattered over a wide range (a batch's orders)
 * skip the files and groups between them. keys NULL: the whole range.
 */
typedef struct lake_lookup {
	lake_range range;
	const int64_t *keys;	/* NULL, or sorted ascending */
	size_t nkeys;
} lake_lookup;


/*
 * The live files of snap that may hold a row the lookup wants, by the
 * per-file min/max statistics of its column (a file without them is
 * kept). Returns a calloc'ed array whose entries are borrowed from snap
 * (free() only the array), *n set to its length; NULL when out of
 * memory.
 */
delta_file *lake_files_for_lookup(const delta_snapshot *snap,
    const lake_lookup *lookup, size_t *n);

/* lake_scan() reading only the row groups the lookup may want. */
int lake_scan_lookup(const char *table_dir, const delta_file *files,
    size_t nfiles, const char *const *columns, int ncols,
    const lake_lookup *lookup,
    int (*cb)(const pq_batch *b, const delta_file *f, void *arg), void *arg,
    lake_err *err);

/* lake_scan() reading only the row groups that may hold rows in range. */
int lake_scan_range(const char *table_dir, const delta_file *files,
    size_t nfiles, const char *const *columns, int ncols,
    const lake_range *range,
    int (*cb)(const pq_batch *b, const delta_file *f, void *arg), void *arg,
    lake_err *err);

#endif
