/*
 * delta.h - Delta Lake tables on a local filesystem: snapshots and commits.
 *
 * A table is a folder of Parquet files (Hive-style partition folders such
 * as date=2026-11-24/) plus _delta_log/ with one JSON commit per version
 * (%020d.json). A snapshot is rebuilt from the log only (newest checkpoint,
 * then later commits), so files a crashed writer left behind stay
 * invisible. Protocol: reader 1, writer 2; newer protocols are refused.
 *
 * Commits are put-if-absent: the JSON is written to a temp file, fsynced,
 * then link(2)ed to its final name, and the folder is fsynced. EEXIST means
 * another writer won that version: delta_commit_finish() returns
 * DELTA_CONFLICT and the caller reloads and retries (or gives up).
 *
 * Idempotency: a stage records txn(appId, version) in the same commit as
 * its data; delta_snapshot_txn_version() tells a retried stage what it
 * already committed. Bookmarks live only in the log.
 *
 * Checkpoints: every delta.checkpointInterval commits (default 10) the
 * committing writer also writes N.checkpoint.parquet (Spark's schema)
 * and _last_checkpoint, so readers replay at most that many commits.
 * Then it deletes log files older than delta.logRetentionDuration
 * (default 30 days) that a newer checkpoint makes unnecessary
 * (delta_log_cleanup). Time travel reaches every version still retained.
 */
#ifndef LAKE_DELTA_H
#define LAKE_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "lake_err.h"
#include "parquet.h"

#define DELTA_OK 0
#define DELTA_ERROR (-1)
#define DELTA_CONFLICT (-2)	/* the version was taken by another writer */
#define DELTA_NO_TABLE (-3)	/* no _delta_log, or an empty one */

/*
 * The longest lake or table path the programs accept (bytes). Every path
 * they build below one (a partition folder, a data file's name, a log
 * file's) is then far shorter than the 4096-byte buffers that hold them,
 * so building one cannot truncate; a longer root is refused up front.
 */
#define LAKE_ROOT_MAX 1024

/* A live data file. path is relative to the table folder, unescaped. */
typedef struct delta_file {
	char *path;
	char **partition_values;	/* per partition column; NULL = null */
	int64_t size;
	int64_t modification_time;	/* ms since epoch */
	int64_t num_records;		/* -1 when the stats do not say */
	char *stats_json;		/* raw add.stats, may be NULL */
	int64_t added_in_version;	/* version of the commit that added it */
} delta_file;

typedef struct delta_txn {
	char *app_id;
	int64_t version;
} delta_txn;

typedef struct delta_snapshot {
	char *table_dir;
	int64_t version;
	char *table_id;			/* metaData.id */
	pq_schema schema;		/* every column, partition ones included */
	char **partition_columns;
	int npartition_columns;
	delta_file *files;		/* live files, sorted by path */
	size_t nfiles;
	delta_txn *txns;
	size_t ntxns;
	int64_t timestamp_ms;		/* commitInfo/modification time of the
					   newest commit, 0 if unknown */
	char **config_keys;		/* metaData.configuration */
	char **config_values;
	int nconfig;
} delta_snapshot;

/*
 * Loads the snapshot at version (or the newest when version < 0). Returns
 * DELTA_OK, DELTA_NO_TABLE, or DELTA_ERROR with err filled: a gap in the
 * versions, an unsupported protocol, malformed JSON, a missing checkpoint.
 */
int delta_snapshot_load(const char *table_dir, int64_t version,
    delta_snapshot **out, lake_err *err);
void delta_snapshot_free(delta_snapshot *snap);
/*
 * The newest snapshot without its file list (nfiles is 0): protocol,
 * metaData and txn only. Enough to read a bookmark and commit on top of
 * it, and it skips the add and remove lines unparsed, so it stays cheap
 * however many files the log has added.
 */
int delta_snapshot_load_meta(const char *table_dir, delta_snapshot **out,
    lake_err *err);
/* A table property (metaData.configuration), or NULL when unset. */
const char *delta_snapshot_property(const delta_snapshot *snap,
    const char *key);
/* The newest txn version recorded for app_id, or -1. */
int64_t delta_snapshot_txn_version(const delta_snapshot *snap,
    const char *app_id);
/*
 * The range of an integer column in a file, from the add's statistics
 * (minValues and maxValues): 1 and *min, *max when both are there.
 */
int delta_file_int_range(const delta_file *f, const char *column,
    int64_t *min, int64_t *max);
/*
 * The newest committed version into *version: DELTA_OK, DELTA_NO_TABLE
 * or DELTA_ERROR (a version and an error code never share one value).
 * Cheap: no listing of the log (delta_log.c).
 */
int delta_latest_version(const char *table_dir, int64_t *version,
    lake_err *err);

/*
 * Files added by the commits in (after_version, upto_version], in commit
 * order of path, minus those removed again within that range: what an
 * incremental reader has not seen yet. Adds and removes that say
 * dataChange:false (compaction) are skipped: their rows were there
 * before, so a reader never sees them twice, and it reads the files it
 * has not seen yet as they were added (vacuum keeps a file as long as a
 * retained version names it). partition_values is NULL in these
 * (the data files carry the columns partitions derive from). The caller
 * frees with delta_files_free().
 */
int delta_changes(const char *table_dir, int64_t after_version,
    int64_t upto_version, delta_file **files, size_t *nfiles, lake_err *err);
void delta_files_free(delta_file *files, size_t nfiles);
/* The commitInfo object of a version as JSON text (malloc'd), or NULL
 * when the commit has none or cannot be read (err says which). */
char *delta_commit_info(const char *table_dir, int64_t version,
    lake_err *err);

/* --- commits ------------------------------------------------------- */

typedef struct delta_commit delta_commit;

/*
 * Starts a commit on top of base (NULL for a new table: version 0, and
 * delta_commit_set_metadata is then required).
 */
delta_commit *delta_commit_begin(const char *table_dir,
    const delta_snapshot *base);
/* protocol(1,2) and metaData for a new table (or a schema change). */
int delta_commit_set_metadata(delta_commit *c, const pq_schema *schema,
    const char *const *partition_columns, int npartition_columns,
    lake_err *err);
/* An add action; stats (may be NULL) fill numRecords/minValues/maxValues/
 * nullCount for the data (non-partition) columns. */
int delta_commit_add(delta_commit *c, const char *path,
    const char *const *partition_values, int64_t size,
    const pq_file_stats *stats, lake_err *err);
int delta_commit_remove(delta_commit *c, const char *path, lake_err *err);
/*
 * Marks the adds and removes made after this call dataChange:false: the
 * commit only rearranges rows already in the table (compaction), so
 * incremental readers (delta_changes) skip them.
 */
void delta_commit_set_rearrange_only(delta_commit *c);
/*
 * A table property (e.g. "delta.checkpointInterval" = "10") in the
 * metaData of this commit: call after delta_commit_set_metadata (which
 * keeps the base's properties).
 */
int delta_commit_set_property(delta_commit *c, const char *key,
    const char *value, lake_err *err);
/* txn(appId, version); several appIds may share one commit. */
int delta_commit_set_txn(delta_commit *c, const char *app_id,
    int64_t version, lake_err *err);
/* commitInfo: operation name and a JSON object text of extra fields. */
int delta_commit_set_info(delta_commit *c, const char *operation,
    const char *extra_json, lake_err *err);
/*
 * Writes version base+1 put-if-absent. Returns DELTA_OK (and the version
 * in *version), DELTA_CONFLICT, or DELTA_ERROR. Frees nothing: call
 * delta_commit_free() in every case.
 */
int delta_commit_finish(delta_commit *c, int64_t *version, lake_err *err);
/*
 * delta_commit_finish() in two steps, so a caller can make its data files
 * durable while the commit file is written: prepare writes and fsyncs the
 * commit as a temp file (DELTA_OK or DELTA_ERROR); publish links it as
 * version base+1 and fsyncs the log folder (as finish). A commit that is
 * prepared but never published is removed by delta_commit_free().
 */
int delta_commit_prepare(delta_commit *c, lake_err *err);
int delta_commit_publish(delta_commit *c, int64_t *version, lake_err *err);
void delta_commit_free(delta_commit *c);


/* --- checkpoints and log retention ---------------------------------- */

/*
 * Writes the checkpoint of committed version (the newest when < 0) if
 * there is none yet, and points _last_checkpoint at it. Commits do this
 * themselves every delta.checkpointInterval versions; this is for
 * maintenance (a table written before checkpoints existed) and tests.
 */
int delta_checkpoint(const char *table_dir, int64_t version, lake_err *err);

/*
 * Deletes the log files (commits, checkpoints, stale temp files) whose
 * modification time is older than now_us - retention_us and that a newer
 * checkpoint makes unnecessary: only versions before the newest
 * checkpoint whose older files have all expired, oldest first, so the
 * log stays readable from that checkpoint at every moment. retention_us
 * < 0 takes the table's delta.logRetentionDuration (default 30 days).
 * Each path deleted is passed to cb when cb is not NULL. Returns the
 * number of files deleted, or -1.
 */
int delta_log_cleanup(const char *table_dir, int64_t retention_us,
    int64_t now_us, void (*cb)(const char *path, void *arg), void *arg,
    lake_err *err);
/* The oldest version that can still be loaded into *version: DELTA_OK,
 * DELTA_NO_TABLE or DELTA_ERROR. */
int delta_oldest_version(const char *table_dir, int64_t *version,
    lake_err *err);

/*
 * medallion-lake vacuum: delta_vacuum_retained() with an explicit
 * retention in seconds, plus stale commit temp files in _delta_log.
 * dry_run lists without deleting. Each path handled is passed to cb when
 * cb is not NULL.
 */
int delta_vacuum(const char *table_dir, int64_t retain_seconds, int dry_run,
    void (*cb)(const char *path, void *arg), void *arg, lake_err *err);

/*
 * The vacuum maintenance runs (delta_vacuum_retained.c): removes files
 * under the table that no retained version names (neither live at the
 * oldest version the log can still read, nor added by a later commit)
 * and that are older than retention_us (< 0: the table's
 * delta.deletedFileRetentionDuration, default 7 days), so time travel,
 * older snapshots and incremental readers never miss a file. Each path
 * deleted is passed to cb. Returns the number deleted, or -1.
 */
int delta_vacuum_retained(const char *table_dir, int64_t retention_us,
    int64_t now_us, int dry_run, void (*cb)(const char *path, void *arg),
    void *arg, lake_err *err);

/* --- compaction ------------------------------------------------------ */

typedef struct delta_optimize_opts {
	int64_t target_size;	/* bytes; default 128 MiB */
	const char *where;	/* on partition columns, e.g. "date >=
				   2026-11-01" (and-ed terms); NULL: all */
	int min_small_files;	/* compact a partition only when it has more
				   small files than this; 0: whenever two
				   files fit in one */
	int64_t small_size;	/* "small" for min_small_files; default a
				   quarter of target_size */
	int max_attempts;	/* commits lost to appends; default 20 */
	size_t row_group_bytes;	/* of the compacted files; 0: the lake
				   writer's (8 MiB) */
	int page_rows;		/* aligned pages of this many rows
				   (pq_writer_opts.page_rows); 0: the lake
				   writer's pages, cut by bytes */
	int tiered;		/* automatic maintenance's policy: in the
				   last partition (in partition-value order)
				   only the newest files, and an older file
				   only while it is at most twice the newer
				   ones packed with it, so a row is
				   rewritten about log(table / new rows)
				   times, not at every compaction; every
				   other partition (closed: for a table
				   partitioned by date, every day but the
				   newest) packed whole once it holds two
				   small files, whatever min_small_files */
	const char *sort_by;	/* an INT32 or INT64 column, or NULL: a
				   compacted file's rows are then in its
				   order, merged from inputs that each are
				   (as the writer's sort_column and earlier
				   merges leave them), so lookups by it
				   skip most row groups and pages; a bin
				   with an input out of order is written
				   in input order instead */
} delta_optimize_opts;

typedef struct delta_optimize_result {
	int64_t version;	/* committed, -1 when nothing was */
	int64_t files_removed, files_added, rows;
	int64_t bytes_removed, bytes_added;
	int partitions;		/* partitions compacted */
} delta_optimize_result;

void delta_optimize_opts_default(delta_optimize_opts *o);
/*
 * Compacts the table's small files (see delta_optimize.c): per
 * partition, runs of files under the target size, in row order, become
 * files of about the target size, in one dataChange:false commit.
 * DELTA_OK (also when there was nothing to do: res->version is then -1),
 * DELTA_CONFLICT when another writer removed some of the inputs first
 * (nothing committed, err says so), DELTA_NO_TABLE or DELTA_ERROR.
 */
int delta_optimize(const char *table_dir, const delta_optimize_opts *opts,
    delta_optimize_result *res, lake_err *err);
/* The same on a snapshot already loaded (the newest). */
int delta_optimize_snapshot(const delta_snapshot *snap,
    const delta_optimize_opts *opts, delta_optimize_result *res,
    lake_err *err);
/* How many partitions delta_optimize would compact (cheap: the snapshot's
 * file list only), or -1 (a bad where). */
int delta_optimize_due(const delta_snapshot *snap,
    const delta_optimize_opts *opts, lake_err *err);

#endif
