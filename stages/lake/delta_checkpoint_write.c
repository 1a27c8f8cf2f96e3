/*
 * delta_checkpoint_write.c - writing Delta checkpoints (N.checkpoint.parquet
 * and _last_checkpoint), as the committing writer does every
 * delta.checkpointInterval commits.
 *
 * The state at version N is replayed as a reader would (from the previous
 * checkpoint plus the commits after it), then written one action per row
 * in the columns Spark writes: protocol, metaData, one txn per appId, one
 * add per live file (partitionValues as a map, stats as the JSON text)
 * and one remove per tombstone younger than
 * delta.deletedFileRetentionDuration. Rows are shredded into repetition
 * and definition levels here and streamed to pq_nested_writer, so memory
 * is the replayed file list plus one row group.
 *
 * Crash safety is that of commits: the file is written and fsynced under
 * a temporary name that no reader lists (.tmp-<uuid>.checkpoint.parquet),
 * then given its final name put-if-absent through the storage seam
 * (link(2); on S3 a conditional PUT), which never replaces an existing
 * checkpoint, and the folder is fsynced. A reader therefore sees a
 * checkpoint whole or not at all; a crash leaves at most a temp file,
 * which vacuum and log cleanup remove. _last_checkpoint is only a hint and
 * is replaced with rename(2). A checkpoint is written only for a version
 * whose commit is already durable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "days.h"
#include "delta_internal.h"
#include "lake_store.h"
#include "log.h"

#define DEFAULT_CHECKPOINT_INTERVAL 10
#define DEFAULT_TOMBSTONE_RETENTION "interval 1 week"
#define DEFAULT_LOG_RETENTION "interval 30 days"
/* Checkpoint row groups: big enough for few, small enough to bound memory. */
#define CHECKPOINT_ROW_GROUP_BYTES (16u << 20)

/*
 * Spark's checkpoint columns, the ones this writer fills, in Spark's
 * order. Maps are MAP > repeated key_value > (required key, optional
 * value); lists are LIST > repeated list > optional element.
 * add.defaultRowCommitVersion is, as PROTOCOL.md defines it, the version
 * that first committed the file: readers of this lake use it (as
 * delta_file.added_in_version) to tell new files from old ones, so a
 * checkpoint must not make every file look added at its own version.
 */
static const pq_node checkpoint_schema[] = {
	{ "txn", PQ_REP_OPTIONAL, 3, PQ_STRING, PQ_GROUP_STRUCT },
	{ "appId", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "version", PQ_REP_OPTIONAL, 0, PQ_INT64, PQ_GROUP_STRUCT },
	{ "lastUpdated", PQ_REP_OPTIONAL, 0, PQ_INT64, PQ_GROUP_STRUCT },
	{ "add", PQ_REP_OPTIONAL, 7, PQ_STRING, PQ_GROUP_STRUCT },
	{ "path", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "partitionValues", PQ_REP_OPTIONAL, 1, PQ_STRING, PQ_GROUP_MAP },
	{ "key_value", PQ_REP_REPEATED, 2, PQ_STRING, PQ_GROUP_STRUCT },
	{ "key", PQ_REP_REQUIRED, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "value", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "size", PQ_REP_OPTIONAL, 0, PQ_INT64, PQ_GROUP_STRUCT },
	{ "modificationTime", PQ_REP_OPTIONAL, 0, PQ_INT64, PQ_GROUP_STRUCT },
	{ "dataChange", PQ_REP_OPTIONAL, 0, PQ_BOOLEAN, PQ_GROUP_STRUCT },
	{ "defaultRowCommitVersion", PQ_REP_OPTIONAL, 0, PQ_INT64,
	    PQ_GROUP_STRUCT },
	{ "stats", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "remove", PQ_REP_OPTIONAL, 4, PQ_STRING, PQ_GROUP_STRUCT },
	{ "path", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "deletionTimestamp", PQ_REP_OPTIONAL, 0, PQ_INT64, PQ_GROUP_STRUCT },
	{ "dataChange", PQ_REP_OPTIONAL, 0, PQ_BOOLEAN, PQ_GROUP_STRUCT },
	{ "size", PQ_REP_OPTIONAL, 0, PQ_INT64, PQ_GROUP_STRUCT },
	{ "metaData", PQ_REP_OPTIONAL, 8, PQ_STRING, PQ_GROUP_STRUCT },
	{ "id", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "name", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "description", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "format", PQ_REP_OPTIONAL, 2, PQ_STRING, PQ_GROUP_STRUCT },
	{ "provider", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "options", PQ_REP_OPTIONAL, 1, PQ_STRING, PQ_GROUP_MAP },
	{ "key_value", PQ_REP_REPEATED, 2, PQ_STRING, PQ_GROUP_STRUCT },
	{ "key", PQ_REP_REQUIRED, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "value", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "schemaString", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "partitionColumns", PQ_REP_OPTIONAL, 1, PQ_STRING, PQ_GROUP_LIST },
	{ "list", PQ_REP_REPEATED, 1, PQ_STRING, PQ_GROUP_STRUCT },
	{ "element", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "configuration", PQ_REP_OPTIONAL, 1, PQ_STRING, PQ_GROUP_MAP },
	{ "key_value", PQ_REP_REPEATED, 2, PQ_STRING, PQ_GROUP_STRUCT },
	{ "key", PQ_REP_REQUIRED, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "value", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "createdTime", PQ_REP_OPTIONAL, 0, PQ_INT64, PQ_GROUP_STRUCT },
	{ "protocol", PQ_REP_OPTIONAL, 4, PQ_STRING, PQ_GROUP_STRUCT },
	{ "minReaderVersion", PQ_REP_OPTIONAL, 0, PQ_INT32, PQ_GROUP_STRUCT },
	{ "minWriterVersion", PQ_REP_OPTIONAL, 0, PQ_INT32, PQ_GROUP_STRUCT },
	{ "readerFeatures", PQ_REP_OPTIONAL, 1, PQ_STRING, PQ_GROUP_LIST },
	{ "list", PQ_REP_REPEATED, 1, PQ_STRING, PQ_GROUP_STRUCT },
	{ "element", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
	{ "writerFeatures", PQ_REP_OPTIONAL, 1, PQ_STRING, PQ_GROUP_LIST },
	{ "list", PQ_REP_REPEATED, 1, PQ_STRING, PQ_GROUP_STRUCT },
	{ "element", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
};

/* --- table properties ---------------------------------------------- */

const char *
delta_config_get(json_t *metadata, const char *key)
{
	return json_string_value(json_object_get(json_object_get(metadata,
	    "configuration"), key));
}

static int64_t
unit_us(const char *unit, size_t n)
{
	static const struct {
		const char *name;
		int64_t us;
	} units[] = {
		{ "microsecond", 1 }, { "millisecond", 1000 },
		{ "second", 1000000 }, { "minute", 60000000 },
		{ "hour", 3600000000LL }, { "day", MICROS_PER_DAY },
		{ "week", 604800000000LL },
	};

	if (n > 1 && unit[n - 1] == 's')
		n--;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strlen(units[i].name) == n &&
		    strncmp(units[i].name, unit, n) == 0)
			return units[i].us;
	return -1;
}

int64_t
delta_parse_interval(const char *text)
{
	const char *p = text;
	int64_t total = 0;
	int terms = 0;

	if (p == NULL)
		return -1;
	while (*p == ' ')
		p++;
	if (strncmp(p, "interval", 8) == 0)
		p += 8;
	for (;;) {
		char *end;
		long long n;
		int64_t us, term;
		size_t len = 0;

		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		errno = 0;
		n = strtoll(p, &end, 10);
		if (end == p || errno != 0 || n < 0)
			return -1;
		for (p = end; *p == ' '; p++)
			;
		while (p[len] >= 'a' && p[len] <= 'z')
			len++;
		if ((us = unit_us(p, len)) < 0 ||
		    __builtin_mul_overflow((int64_t)n, us, &term) ||
		    __builtin_add_overflow(total, term, &total))
			return -1;
		p += len;
		terms++;
	}
	return terms > 0 ? total : -1;
}

int64_t
delta_checkpoint_interval(const char *v)
{
	char *end;
	long long n;

	if (v == NULL)
		return DEFAULT_CHECKPOINT_INTERVAL;
	n = strtoll(v, &end, 10);
	return end != v && *end == '\0' && n > 0 ? n :
	    DEFAULT_CHECKPOINT_INTERVAL;
}

/* A duration property, or its default when unset or unreadable. */
static int64_t
config_duration(json_t *metadata, const char *key, const char *fallback)
{
	int64_t us = delta_parse_interval(delta_config_get(metadata, key));

	return us >= 0 ? us : delta_parse_interval(fallback);
}

/* --- shredding rows ------------------------------------------------ */

/*
 * The leaves this writer fills (all 30 of the schema), found by path once
 * per checkpoint: a lookup by path per value was a string search over
 * the leaves, for every value of every row. Maps name their key leaf (the
 * value leaf follows it), lists their element leaf.
 */
typedef enum ck_col {
	C_TXN_APP, C_TXN_VERSION, C_TXN_UPDATED,
	C_ADD_PATH, C_ADD_PV_KEY, C_ADD_PV_VALUE, C_ADD_SIZE, C_ADD_MTIME,
	C_ADD_DATA_CHANGE, C_ADD_FIRST_VERSION, C_ADD_STATS,
	C_REMOVE_PATH, C_REMOVE_DELETED, C_REMOVE_DATA_CHANGE, C_REMOVE_SIZE,
	C_META_ID, C_META_NAME, C_META_DESCRIPTION, C_META_PROVIDER,
	C_META_OPTIONS_KEY, C_META_OPTIONS_VALUE, C_META_SCHEMA,
	C_META_PCOLS, C_META_CONF_KEY, C_META_CONF_VALUE, C_META_CREATED,
	C_PROTO_READER, C_PROTO_WRITER, C_PROTO_RFEATURES, C_PROTO_WFEATURES,
	C_COUNT
} ck_col;

static const char *const ck_col_paths[C_COUNT] = {
	[C_TXN_APP] = "txn.appId",
	[C_TXN_VERSION] = "txn.version",
	[C_TXN_UPDATED] = "txn.lastUpdated",
	[C_ADD_PATH] = "add.path",
	[C_ADD_PV_KEY] = "add.partitionValues.key_value.key",
	[C_ADD_PV_VALUE] = "add.partitionValues.key_value.value",
	[C_ADD_SIZE] = "add.size",
	[C_ADD_MTIME] = "add.modificationTime",
	[C_ADD_DATA_CHANGE] = "add.dataChange",
	[C_ADD_FIRST_VERSION] = "add.defaultRowCommitVersion",
	[C_ADD_STATS] = "add.stats",
	[C_REMOVE_PATH] = "remove.path",
	[C_REMOVE_DELETED] = "remove.deletionTimestamp",
	[C_REMOVE_DATA_CHANGE] = "remove.dataChange",
	[C_REMOVE_SIZE] = "remove.size",
	[C_META_ID] = "metaData.id",
	[C_META_NAME] = "metaData.name",
	[C_META_DESCRIPTION] = "metaData.description",
	[C_META_PROVIDER] = "metaData.format.provider",
	[C_META_OPTIONS_KEY] = "metaData.format.options.key_value.key",
	[C_META_OPTIONS_VALUE] = "metaData.format.options.key_value.value",
	[C_META_SCHEMA] = "metaData.schemaString",
	[C_META_PCOLS] = "metaData.partitionColumns.list.element",
	[C_META_CONF_KEY] = "metaData.configuration.key_value.key",
	[C_META_CONF_VALUE] = "metaData.configuration.key_value.value",
	[C_META_CREATED] = "metaData.createdTime",
	[C_PROTO_READER] = "protocol.minReaderVersion",
	[C_PROTO_WRITER] = "protocol.minWriterVersion",
	[C_PROTO_RFEATURES] = "protocol.readerFeatures.list.element",
	[C_PROTO_WFEATURES] = "protocol.writerFeatures.list.element",
};

typedef struct ck_out {
	pq_nested_writer *w;
	lake_err *err;
	int64_t rows;
	int leaf[C_COUNT];	/* the writer's leaf of each column */
	int max_def[C_COUNT];
} ck_out;

static int
resolve_columns(ck_out *o)
{
	for (int c = 0; c < C_COUNT; c++) {
		if ((o->leaf[c] = pq_nested_writer_leaf(o->w,
		    ck_col_paths[c])) < 0) {
			lake_err_set(o->err, "checkpoint schema has no %s",
			    ck_col_paths[c]);
			return -1;
		}
		o->max_def[c] = pq_nested_writer_max_def(o->w, o->leaf[c]);
	}
	return 0;
}

/* A field directly under a top-level struct: null when v is NULL. */
static int
put_field(ck_out *o, ck_col c, const pq_value *v)
{
	return pq_nested_put(o->w, o->leaf[c], 0, v ? o->max_def[c] :
	    o->max_def[c] - 1, v, o->err);
}

static int
put_stringn(ck_out *o, ck_col c, const char *s, size_t len)
{
	pq_value v;

	memset(&v, 0, sizeof(v));
	v.v.s.ptr = s;
	v.v.s.len = (uint32_t)len;
	return put_field(o, c, &v);
}

static int
put_string(ck_out *o, ck_col c, const char *s)
{
	return s == NULL ? put_field(o, c, NULL) : put_stringn(o, c, s,
	    strlen(s));
}

static int
put_int64(ck_out *o, ck_col c, int64_t n)
{
	pq_value v;

	memset(&v, 0, sizeof(v));
	v.v.i64 = n;
	return put_field(o, c, &v);
}

static int
put_bool(ck_out *o, ck_col c, int b)
{
	pq_value v;

	memset(&v, 0, sizeof(v));
	v.v.b = b;
	return put_field(o, c, &v);
}

/* An integer field of a JSON object, or null. */
static int
put_json_int(ck_out *o, ck_col c, json_t *obj, const char *key,
    int is_int32)
{
	json_t *j = json_object_get(obj, key);
	pq_value v;

	if (!json_is_integer(j))
		return put_field(o, c, NULL);
	memset(&v, 0, sizeof(v));
	if (is_int32)
		v.v.i32 = (int32_t)json_integer_value(j);
	else
		v.v.i64 = json_integer_value(j);
	return put_field(o, c, &v);
}

/* A value entry of a map or list leaf. */
static int
put_entry(ck_out *o, ck_col c, int rep, int def, const char *s)
{
	pq_value v;

	memset(&v, 0, sizeof(v));
	if (s != NULL) {
		v.v.s.ptr = s;
		v.v.s.len = (uint32_t)strlen(s);
	}
	return pq_nested_put(o->w, o->leaf[c], rep, def, s ? &v : NULL,
	    o->err);
}

/*
 * A map<string,string> (MAP > repeated key_value > required key,
 * optional value) from a JSON object, its key column k and value column
 * v; NULL writes a null map. Below the key's maximum definition level D:
 * D-2 is a null map, D-1 an empty one.
 */
static int
put_map(ck_out *o, ck_col k, ck_col v, json_t *obj)
{
	int d = o->max_def[k], rep = 0;
	const char *key;
	json_t *val;

	if (!json_is_object(obj) || json_object_size(obj) == 0) {
		int level = json_is_object(obj) ? d - 1 : d - 2;

		return put_entry(o, k, 0, level, NULL) == -1 ||
		    put_entry(o, v, 0, level, NULL) == -1 ? -1 : 0;
	}
	json_object_foreach(obj, key, val) {
		const char *s = json_string_value(val);

		if (put_entry(o, k, rep, d, key) == -1 ||
		    put_entry(o, v, rep, s ? d + 1 : d, s) == -1)
			return -1;
		rep = 1;
	}
	return 0;
}

/* A list<string> (LIST > repeated list > optional element) of its
 * element column e; arr NULL writes a null list. */
static int
put_list(ck_out *o, ck_col e, json_t *arr)
{
	int d = o->max_def[e];
	size_t i;
	json_t *val;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return put_entry(o, e, 0, json_is_array(arr) ? d - 2 : d - 3,
		    NULL);
	json_array_foreach(arr, i, val) {
		const char *s = json_string_value(val);

		if (put_entry(o, e, i > 0, s ? d : d - 1, s) == -1)
			return -1;
	}
	return 0;
}

/*
 * A file's path as add and remove actions spell it (delta_escape's
 * escapes), written to column c. Our own paths (date=.../part-<uuid>)
 * need no escape and are written as they are, without the copy
 * delta_escape makes.
 */
static int
put_path(ck_out *o, ck_col c, const char *path)
{
	size_t len = strlen(path);
	char *escaped;
	int rc;

	if (delta_escape_plain_prefix(path) == len)
		return put_stringn(o, c, path, len);
	if ((escaped = delta_escape(path)) == NULL) {
		lake_err_set(o->err, "%s: out of memory", path);
		return -1;
	}
	rc = put_string(o, c, escaped);
	free(escaped);
	return rc;
}

static int
end_row(ck_out *o)
{
	o->rows++;
	return pq_nested_end_row(o->w, o->err);
}

/* --- the actions --------------------------------------------------- */

static int
write_protocol(ck_out *o, json_t *p)
{
	if (put_json_int(o, C_PROTO_READER, p, "minReaderVersion", 1) == -1 ||
	    put_json_int(o, C_PROTO_WRITER, p, "minWriterVersion", 1) == -1 ||
	    put_list(o, C_PROTO_RFEATURES, json_object_get(p,
	    "readerFeatures")) == -1 ||
	    put_list(o, C_PROTO_WFEATURES, json_object_get(p,
	    "writerFeatures")) == -1)
		return -1;
	return end_row(o);
}

static int
write_metadata(ck_out *o, json_t *m)
{
	json_t *format = json_object_get(m, "format");
	const char *provider = json_string_value(json_object_get(format,
	    "provider"));

	if (put_string(o, C_META_ID, json_string_value(json_object_get(m,
	    "id"))) == -1 ||
	    put_string(o, C_META_NAME, json_string_value(
	    json_object_get(m, "name"))) == -1 ||
	    put_string(o, C_META_DESCRIPTION, json_string_value(
	    json_object_get(m, "description"))) == -1 ||
	    put_string(o, C_META_SCHEMA, json_string_value(
	    json_object_get(m, "schemaString"))) == -1 ||
	    put_list(o, C_META_PCOLS, json_object_get(m,
	    "partitionColumns")) == -1 ||
	    put_map(o, C_META_CONF_KEY, C_META_CONF_VALUE, json_object_get(m,
	    "configuration")) == -1 ||
	    put_json_int(o, C_META_CREATED, m, "createdTime", 0) == -1)
		return -1;
	/* format is a struct inside metaData, always present: its provider
	 * at the leaf's full definition level. */
	if (put_string(o, C_META_PROVIDER, provider ? provider : "parquet") ==
	    -1 || put_map(o, C_META_OPTIONS_KEY, C_META_OPTIONS_VALUE,
	    json_object_get(format, "options")) == -1)
		return -1;
	return end_row(o);
}

static int
write_txn(ck_out *o, const delta_txn *t)
{
	if (put_string(o, C_TXN_APP, t->app_id) == -1 ||
	    put_int64(o, C_TXN_VERSION, t->version) == -1 ||
	    put_field(o, C_TXN_UPDATED, NULL) == -1)
		return -1;
	return end_row(o);
}

static int
write_add(ck_out *o, const delta_file_entry *e)
{
	const char *pv_text = (const char *)e->f.partition_values;
	json_t *pv = pv_text ? json_loads(pv_text, 0, NULL) : NULL;
	int rc = -1;

	if (pv_text != NULL && pv == NULL) {
		lake_err_set(o->err, "%s: bad partitionValues in the log",
		    e->f.path);
		goto out;
	}
	if (put_path(o, C_ADD_PATH, e->f.path) == -1 ||
	    put_map(o, C_ADD_PV_KEY, C_ADD_PV_VALUE, pv) == -1 ||
	    put_int64(o, C_ADD_SIZE, e->f.size) == -1 ||
	    put_int64(o, C_ADD_MTIME, e->f.modification_time) == -1 ||
	    put_bool(o, C_ADD_DATA_CHANGE, 0) == -1 ||
	    put_int64(o, C_ADD_FIRST_VERSION, e->f.added_in_version) == -1 ||
	    put_string(o, C_ADD_STATS, e->f.stats_json) == -1)
		goto out;
	rc = end_row(o);
out:
	json_decref(pv);
	return rc;
}

static int
write_remove(ck_out *o, const delta_file_entry *e)
{
	if (put_path(o, C_REMOVE_PATH, e->f.path) == -1 ||
	    put_int64(o, C_REMOVE_DELETED, e->deletion_timestamp) == -1 ||
	    put_bool(o, C_REMOVE_DATA_CHANGE, 0) == -1 ||
	    (e->f.size > 0 ? put_int64(o, C_REMOVE_SIZE, e->f.size) :
	    put_field(o, C_REMOVE_SIZE, NULL)) == -1)
		return -1;
	return end_row(o);
}

/*
 * Every action of the state: protocol, metaData and txns first, as Spark
 * writes them, then the adds, then the tombstones, each kind in row
 * groups of its own. A reader skips the row groups it has no use for
 * after looking at four columns (delta_checkpoint.c): one that wants the
 * bookmarks (ingestion) reads no add, and one that wants the live files
 * no tombstone, of which a table replaced every run keeps a week's
 * (delta.deletedFileRetentionDuration): some 2,000 rows at one run every
 * 5 minutes, against one add.
 */
static int
write_actions(ck_out *o, const delta_replay *st, int64_t tombstone_cutoff_ms)
{
	if (write_protocol(o, st->protocol) == -1 ||
	    write_metadata(o, st->metadata) == -1)
		return -1;
	for (size_t i = 0; i < st->ntxns; i++)
		if (write_txn(o, &st->txns[i]) == -1)
			return -1;
	if (pq_nested_writer_cut(o->w, o->err) == -1)
		return -1;
	for (size_t i = 0; i < st->nfiles; i++)
		if (st->files[i].live && write_add(o, &st->files[i]) == -1)
			return -1;
	if (pq_nested_writer_cut(o->w, o->err) == -1)
		return -1;
	for (size_t i = 0; i < st->nfiles; i++) {
		const delta_file_entry *e = &st->files[i];

		if (!e->live && e->deletion_timestamp >= tombstone_cutoff_ms &&
		    write_remove(o, e) == -1)
			return -1;
	}
	return 0;
}

/* --- publishing ---------------------------------------------------- */

/* Replaces _last_checkpoint (advisory) unless it already names a newer
 * checkpoint. */
static int
write_hint(const char *table_dir, int64_t version, int64_t rows,
    lake_err *err)
{
	char final[4200], text[128];
	int n;

	if (delta_last_checkpoint_hint(table_dir) >= version)
		return 0;
	n = snprintf(text, sizeof(text), "{\"version\":%" PRId64 ",\"size\":%"
	    PRId64 "}\n", version, rows);
	if (snprintf(final, sizeof(final), "%s/_delta_log/_last_checkpoint",
	    table_dir) >= (int)sizeof(final) || n >= (int)sizeof(text)) {
		lake_err_set(err, "%s: path too long", table_dir);
		return -1;
	}
	/* Temp, fsync, rename, fsync of the folder; one PUT on S3. */
	return lake_store_write(final, text, (size_t)n, err) == 0 ? 0 : -1;
}

/*
 * Writes st as the checkpoint of version: temp file, fsync, link to the
 * final name (EEXIST: another writer's checkpoint is there already, which
 * is as good), fsync of the folder. *rows gets the actions written.
 */
static int
publish_checkpoint(const char *table_dir, int64_t version,
    const delta_replay *st, int64_t *rows, lake_err *err)
{
	char dir[4096], tmp[4200], uuid[37];
	char *final = delta_log_file(table_dir, version, ".checkpoint.parquet");
	pq_writer_opts opts;
	ck_out o = { .w = NULL, .err = err, .rows = 0 };
	int64_t now_ms = clock_now_us() / 1000;
	int64_t cutoff_ms = now_ms - config_duration(st->metadata,
	    "delta.deletedFileRetentionDuration",
	    DEFAULT_TOMBSTONE_RETENTION) / 1000;
	int rc = -1;

	delta_uuid(uuid);
	if (final == NULL || snprintf(dir, sizeof(dir), "%s/_delta_log",
	    table_dir) >= (int)sizeof(dir) || snprintf(tmp, sizeof(tmp),
	    "%s/.tmp-%s.checkpoint.parquet", dir, uuid) >= (int)sizeof(tmp)) {
		lake_err_set(err, "%s: path too long", table_dir);
		goto out;
	}
	pq_writer_opts_default(&opts);
	/* On S3 the temp object stays in memory, and the link below sends
	 * it once, under its final name (a conditional PUT). */
	opts.no_fsync = lake_store_is_remote(table_dir);
	opts.row_group_bytes = CHECKPOINT_ROW_GROUP_BYTES;
	/*
	 * zstd at its fast level -5: a checkpoint is mostly tombstone paths
	 * (a UUID each), and a table keeps 30 days of checkpoints for time
	 * travel. On 6,000 tombstones: 241 KB for 3.8 M instructions more
	 * than writing it uncompressed (628 KB), where level 1 made 136 KB
	 * for 12.5 M more and 4 M more again for the next checkpoint to
	 * read it back.
	 */
	opts.codec = PQ_CODEC_ZSTD;
	opts.zstd_level = -5;
	if ((o.w = pq_nested_writer_open(tmp, checkpoint_schema,
	    (int)(sizeof(checkpoint_schema) / sizeof(checkpoint_schema[0])),
	    &opts, err)) == NULL)
		goto out;
	if (resolve_columns(&o) == -1 || write_actions(&o, st, cutoff_ms) ==
	    -1) {
		pq_nested_writer_abort(o.w);
		goto out;
	}
	if (pq_nested_writer_close(o.w, err) == -1)
		goto out;
	if ((rc = lake_store_link(tmp, final, 1, err)) != 0) {
		lake_store_delete(tmp, NULL);
		if (rc != LAKE_STORE_EXISTS) {
			lake_err_prefix(err, "cannot publish %s", final);
			rc = -1;
			goto out;
		}
	}
	rc = -1;
	if (lake_store_sync_dir(dir, err) != 0)
		goto out;
	*rows = o.rows;
	rc = 0;
out:
	free(final);
	return rc;
}

/*
 * The checkpoint of version, and the table's log retention (for the
 * cleanup that follows) in *log_retention_us.
 */
static int
checkpoint_write(const char *table_dir, int64_t version,
    int64_t *log_retention_us, lake_err *err)
{
	delta_replay *st = NULL;
	char *final = NULL;
	int64_t replayed, rows = 0;
	int rc;

	if ((rc = delta_replay_load(table_dir, version, REPLAY_TOMBSTONES,
	    &st, &replayed, err)) != DELTA_OK)
		return rc;
	*log_retention_us = config_duration(st->metadata,
	    "delta.logRetentionDuration", DEFAULT_LOG_RETENTION);
	if ((final = delta_log_file(table_dir, replayed,
	    ".checkpoint.parquet")) == NULL) {
		lake_err_set(err, "out of memory");
		rc = DELTA_ERROR;
		goto out;
	}
	rc = DELTA_OK;
	if (lake_store_stat(final, NULL, NULL, NULL) == 0)
		goto out;	/* never replaced */
	if (publish_checkpoint(table_dir, replayed, st, &rows, err) == -1 ||
	    write_hint(table_dir, replayed, rows, err) == -1)
		rc = DELTA_ERROR;
out:
	free(final);
	delta_replay_free(st);
	return rc;
}

int
delta_checkpoint_write(const char *table_dir, int64_t version,
    lake_err *err)
{
	int64_t retention;

	return checkpoint_write(table_dir, version, &retention, err);
}

int
delta_checkpoint(const char *table_dir, int64_t version, lake_err *err)
{
	return delta_checkpoint_write(table_dir, version, err);
}

void
delta_checkpoint_after_commit(const char *table_dir, int64_t version,
    int64_t interval)
{
	int64_t retention;
	lake_err err = { { 0 }, LAKE_ERR_FAILED };

	if (interval <= 0 || version <= 0 || version % interval != 0)
		return;
	if (checkpoint_write(table_dir, version, &retention, &err) !=
	    DELTA_OK) {
		log_warnx("%s: version %" PRId64 " is committed, but its "
		    "checkpoint was not written (readers replay the commits "
		    "instead): %s", table_dir, version, err.msg);
		return;
	}
	if (delta_log_cleanup(table_dir, retention, clock_now_us(), NULL, NULL,
	    &err) == -1)
		log_warnx("%s: expired log files were not cleaned up: %s",
		    table_dir, err.msg);
}
