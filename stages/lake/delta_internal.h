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

typedef struct delta_replay delta_replay;

delta_replay *delta_replay_new(void);
void delta_replay_free(delta_replay *st);
/* Applies one action object ({"add": {...}} etc.) of version. */
int delta_replay_action(delta_replay *st, json_t *action, int64_t version,
    lake_err *err);
/* Moves the reconciled state into snap. */
int delta_replay_finish(delta_replay *st, delta_snapshot *snap,
    lake_err *err);

/* Feeds every action of a single-part checkpoint file into st. */
int delta_checkpoint_read(const char *path, int64_t version,
    delta_replay *st, lake_err *err);

/* A random (version 4) UUID as 36 characters. */
void delta_uuid(char out[37]);

/* fsync(2) by path, opened with flags (any descriptor of the inode will
 * do); fsync_dir() of a folder, so new names in it survive a crash. */
int fsync_path(const char *path, int flags);
int fsync_dir(const char *dir);

/* Parses a Spark StructType schema string into a flat schema. */
int delta_parse_schema(const char *schema_string, pq_schema *schema,
    lake_err *err);
void delta_schema_free(pq_schema *schema);
/* The Spark type name of one of our types ("integer", "timestamp"...). */
const char *delta_type_name(pq_type t);

#endif
