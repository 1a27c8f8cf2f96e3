/*
 * delta_internal.h - what the Delta modules share: log file names, path
 * escaping, and the replay state that JSON commits and Parquet
 * checkpoints both feed, one action at a time.
 */
#ifndef LAKE_DELTA_INTERNAL_H
#define LAKE_DELTA_INTERNAL_H

#include <jansson.h>

#include "delta.h"

/* "<table>/_delta_log/<%020lld><suffix>"; malloc'd, NULL on overflow. */
char *delta_log_file(const char *table_dir, int64_t version,
    const char *suffix);
/* Decodes %XX escapes of a path in an add/remove action. */
char *delta_unescape(const char *s);
/* Escapes a relative path for an add/remove action. */
char *delta_escape(const char *s);
/* How many bytes from the start of s delta_escape keeps as they are: all
 * of them (strlen(s)) for a path that needs no escaping. */
size_t delta_escape_plain_prefix(const char *s);

/*
 * The replay state: every path the log named, live or tombstoned, with
 * the newest protocol, metaData and txns. A checkpoint is written from
 * it (tombstones included), and a snapshot is taken from it.
 */
typedef struct delta_file_entry {
	delta_file f;		/* partition_values: the add's JSON text
				   until delta_replay_finish splits it */
	int live;
	int64_t deletion_timestamp;	/* ms, tombstones (remove actions) */
} delta_file_entry;

typedef struct delta_replay {
	delta_file_entry *files;
	size_t nfiles;
	size_t cap;
	uint32_t *slots;	/* path hash -> index + 1 */
	size_t nslots;
	delta_txn *txns;
	size_t ntxns;
	json_t *metadata;	/* the newest metaData action's object */
	json_t *protocol;	/* the newest protocol action's object */
	int64_t timestamp_ms;
	int meta_only;		/* ignore add and remove actions */
	int live_only;		/* ignore a checkpoint's removes: the live
				   files do not need its tombstones, which
				   only the next checkpoint carries on */
	int data_change_only;	/* ignore dataChange:false adds and removes
				   (compaction), for incremental readers */
} delta_replay;

delta_replay *delta_replay_new(void);
void delta_replay_free(delta_replay *st);
/* Applies one action object ({"add": {...}} etc.) of version. */
int delta_replay_action(delta_replay *st, json_t *action, int64_t version,
    lake_err *err);
/*
 * Applies one add (add 1) or remove of the file at raw_path (as the log
 * spells it, escaped) without a JSON action: what a checkpoint reader
 * decodes from its columns. when: the add's modificationTime or the
 * remove's deletionTimestamp; stats and pv_text (the partitionValues
 * object as JSON text, or NULL) are taken over whatever the outcome.
 */
int delta_replay_file(delta_replay *st, const char *raw_path,
    int64_t version, int add, int data_change, int64_t size, int64_t when,
    char *stats, char *pv_text, lake_err *err);

/* --- the log folder (delta_log.c) ---------------------------------- */

typedef struct delta_log_listing {
	int64_t *versions;	/* commits, sorted */
	size_t n;
	int64_t *checkpoints;	/* single-part checkpoints, sorted */
	size_t ncheckpoints;
} delta_log_listing;

/* Every commit and checkpoint in _delta_log: DELTA_OK, DELTA_NO_TABLE
 * or DELTA_ERROR. */
int delta_log_list(const char *table_dir, delta_log_listing *l,
    lake_err *err);
/*
 * The hinted checkpoint (_last_checkpoint) and the commits after it,
 * probed by name: 0; 1 when there is no usable hint (list instead); -1
 * when a name cannot be looked up.
 */
int delta_log_list_from_hint(const char *table_dir, delta_log_listing *l,
    lake_err *err);
void delta_log_listing_free(delta_log_listing *l);
/* The newest version a listing holds, -1 when none. */
int64_t delta_log_listing_newest(const delta_log_listing *l);
/* Whether v is in the sorted array. */
int delta_log_has_version(const int64_t *arr, size_t n, int64_t v);
/* Every commit in (from, to] is in the listing. */
int delta_log_commits_cover(const delta_log_listing *l, int64_t from,
    int64_t to);
/*
 * The oldest version a reader can still rebuild: 0 while the first
 * commit is there, else the oldest checkpoint. -1 when neither is.
 */
int64_t delta_log_oldest_readable(const delta_log_listing *l);

/* --- replay (delta_snapshot.c) ------------------------------------- */

/*
 * A commit file's text, read whole through the storage seam (owned:
 * free(); NUL-terminated past *len): 0, 1 when it does not exist, -1
 * with err.
 */
int delta_commit_text(const char *path, char **text, size_t *len,
    lake_err *err);
/* The next line from *cur (before end), NUL-terminated in place without
 * its newline, its length in *len; NULL at the end. */
char *delta_next_line(char **cur, char *end, size_t *len);

/* Replays commit version's JSON into st. 0 or -1 with err. */
int delta_replay_commit(const char *table_dir, int64_t version,
    delta_replay *st, lake_err *err);
/* add.stats' numRecords, -1 when absent. */
int64_t delta_stats_num_records(const char *stats);

/* What a replay keeps. */
typedef enum delta_replay_want {
	REPLAY_TOMBSTONES,	/* live files and every tombstone: for the
				   checkpoint writer */
	REPLAY_LIVE,		/* live files; a checkpoint's tombstones
				   (one per file replaced within
				   delta.deletedFileRetentionDuration) are
				   not even decoded */
	REPLAY_META,		/* protocol, metaData and txn only */
} delta_replay_want;

/*
 * The replay state at version (the newest when < 0), from the newest
 * checkpoint at or below it and the commits after it, keeping what want
 * says. *version_out gets the version replayed. DELTA_OK, DELTA_NO_TABLE
 * or DELTA_ERROR.
 */
int delta_replay_load(const char *table_dir, int64_t version,
    delta_replay_want want, delta_replay **out, int64_t *version_out,
    lake_err *err);

/* Feeds every action of a single-part checkpoint file into st (only
 * protocol, metaData and txn rows when st->meta_only). */
int delta_checkpoint_read(const char *path, int64_t version,
    delta_replay *st, lake_err *err);

/*
 * Writes the checkpoint of committed version (create-if-absent: temp
 * file, fsync, link(2)), then replaces _last_checkpoint. DELTA_OK when
 * the checkpoint exists afterwards (ours or another writer's).
 */
int delta_checkpoint_write(const char *table_dir, int64_t version,
    lake_err *err);
/*
 * After commit version: writes its checkpoint when version is a multiple
 * of interval, then cleans up expired log files. Failures are logged as
 * warnings only: the commit itself already succeeded.
 */
void delta_checkpoint_after_commit(const char *table_dir, int64_t version,
    int64_t interval);

/* A table property of a metaData object's configuration, or NULL. */
const char *delta_config_get(json_t *metadata, const char *key);
/*
 * A Spark interval ("interval 30 days", "7 days", "1 hour") in
 * microseconds; -1 when it does not parse.
 */
int64_t delta_parse_interval(const char *text);
/* A delta.checkpointInterval value (NULL when unset) as a count; the
 * default, 10, when unset or not a positive number. */
int64_t delta_checkpoint_interval(const char *value);

/* "<table>/_delta_log/_last_checkpoint"'s version, or -1. */
int64_t delta_last_checkpoint_hint(const char *table_dir);

/* A random (version 4) UUID as 36 characters. */
void delta_uuid(char out[37]);

/* The Spark type name of one of our types ("integer", "timestamp"...). */
const char *delta_type_name(pq_type t);

#endif
