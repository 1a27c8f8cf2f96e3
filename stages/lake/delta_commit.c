/*
 * delta_commit.c - writing a Delta commit, put-if-absent.
 *
 * Actions are collected as JSON; finish() writes them one per line to a
 * temporary object in _delta_log, then gives it the version's name
 * put-if-absent through the storage seam (lake_store_link): locally the
 * temp file is fsynced and link(2)ed, which never replaces a name; on S3
 * it is one PUT with If-None-Match: *. Of two writers racing for one
 * version exactly one wins; the other gets EEXIST (or 412) and reports
 * DELTA_CONFLICT, and its caller rereads the log. The folder is fsynced
 * so the new name survives a crash. The caller must have fsynced its data files first
 * (pq_writer_close does), which makes the commit the moment the data
 * becomes visible.
 *
 * Once a commit is durable, every delta.checkpointInterval versions the
 * committer also writes a checkpoint (delta_checkpoint_write.c); a
 * failure there is only a warning, the commit stands.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "delta_internal.h"
#include "lake_format.h"
#include "lake_io.h"
#include "lake_store.h"
#include "medallion_version.h"

#include "lake_json_write.h"
#include "thrift.h"

/* The timestamps a stats bound can spell, with a millisecond to spare for
 * rounding outwards: 0001-01-01 to 9999-12-31 23:59:59. */
#define STATS_TS_MIN_US (-62135596800000000LL + 1000)
#define STATS_TS_MAX_US (253402300799000000LL - 1000)

struct delta_commit {
	char *table_dir;
	int64_t version;	/* the version this commit will take */
	json_t *protocol;
	json_t *metadata;
	json_t *txns;		/* one txn action per appId */
	json_t *info;
	lake_buf files;		/* add and remove action lines, in order */
	const delta_snapshot *base;
	pq_schema schema;	/* data columns, for stats */
	char **partition_columns;
	int npartition_columns;
	char *tmp_path;		/* prepared, not yet published */
	char *log_dir;
	int rearrange_only;	/* adds and removes say dataChange:false */
};

delta_commit *
delta_commit_begin(const char *table_dir, const delta_snapshot *base)
{
	delta_commit *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->version = base ? base->version + 1 : 0;
	c->base = base;
	if ((c->table_dir = strdup(table_dir)) == NULL ||
	    (c->txns = json_array()) == NULL) {
		delta_commit_free(c);
		return NULL;
	}
	return c;
}

void
delta_commit_free(delta_commit *c)
{
	if (c == NULL)
		return;
	json_decref(c->protocol);
	json_decref(c->metadata);
	json_decref(c->txns);
	json_decref(c->info);
	lake_buf_free(&c->files);
	if (c->tmp_path != NULL)
		lake_store_delete(c->tmp_path, NULL);	/* prepared, never
						   published */
	free(c->tmp_path);
	free(c->log_dir);
	free(c->table_dir);
	free(c);
}

static json_t *
schema_json(const pq_schema *schema, const char *const *pcols, int npcols)
{
	json_t *fields = json_array();

	for (int i = 0; i < schema->ncols; i++) {
		const pq_column_def *d = &schema->cols[i];

		json_array_append_new(fields, json_pack("{s:s, s:s, s:b, s:{}}",
		    "name", d->name, "type", delta_type_name(d->type),
		    "nullable", d->nullable, "metadata"));
	}
	for (int i = 0; i < npcols; i++)
		json_array_append_new(fields, json_pack("{s:s, s:s, s:b, s:{}}",
		    "name", pcols[i], "type", strcmp(pcols[i], "date") == 0 ?
		    "date" : "string", "nullable", 1, "metadata"));
	return json_pack("{s:s, s:o}", "type", "struct", "fields", fields);
}

/*
 * Random bytes for file names, drawn from the kernel a few hundred at a
 * time: an increment over hundreds of partitions names hundreds of files.
 * The pool is per thread, so writers on several threads need no lock.
 */
static _Thread_local uint8_t uuid_pool[512];
static _Thread_local size_t uuid_pool_left;

static pthread_once_t uuid_once = PTHREAD_ONCE_INIT;

/* A forked child must not reuse its parent's bytes. */
static void
uuid_pool_forget(void)
{
	uuid_pool_left = 0;
}

static void
uuid_pool_init(void)
{
	(void)pthread_atfork(NULL, NULL, uuid_pool_forget);
}

static int
uuid_random(uint8_t b[16])
{
	(void)pthread_once(&uuid_once, uuid_pool_init);
	if (uuid_pool_left < 16) {
		if (getrandom(uuid_pool, sizeof(uuid_pool), 0) !=
		    (ssize_t)sizeof(uuid_pool))
			return -1;
		uuid_pool_left = sizeof(uuid_pool);
	}
	uuid_pool_left -= 16;
	memcpy(b, uuid_pool + uuid_pool_left, 16);
	return 0;
}

void
delta_uuid(char out[37])
{
	uint8_t b[16];

	if (uuid_random(b) == -1) {
		/* getrandom() only fails before the pool is ready. */
		uint64_t t = (uint64_t)clock_now_us() ^ (uint64_t)getpid();

		for (int i = 0; i < 16; i++)
			b[i] = (uint8_t)(t >> (i % 8 * 8)) ^ (uint8_t)i;
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* The base's table properties, kept by a new metaData action. */
static json_t *
base_configuration(const delta_snapshot *base)
{
	json_t *config = json_object();

	for (int i = 0; base != NULL && config != NULL && i < base->nconfig;
	    i++)
		json_object_set_new(config, base->config_keys[i],
		    json_string(base->config_values[i]));
	return config;
}

int
delta_commit_set_metadata(delta_commit *c, const pq_schema *schema,
    const char *const *partition_columns, int npartition_columns,
    lake_err *err)
{
	json_t *schema_obj, *pcols = json_array();
	char *schema_text, uuid[37];

	for (int i = 0; i < schema->ncols; i++)
		for (int k = 0; k < npartition_columns; k++)
			if (strcmp(schema->cols[i].name,
			    partition_columns[k]) == 0) {
				lake_err_set(err, "column %s cannot be both "
				    "stored and a partition column",
				    partition_columns[k]);
				json_decref(pcols);
				return -1;
			}
	schema_obj = schema_json(schema, partition_columns,
	    npartition_columns);
	schema_text = json_dumps(schema_obj, JSON_COMPACT);
	json_decref(schema_obj);
	for (int i = 0; i < npartition_columns; i++)
		json_array_append_new(pcols, json_string(partition_columns[i]));
	delta_uuid(uuid);
	json_decref(c->protocol);
	json_decref(c->metadata);
	c->protocol = json_pack("{s:{s:i, s:i}}", "protocol",
	    "minReaderVersion", 1, "minWriterVersion", 2);
	c->metadata = json_pack("{s:{s:s, s:{s:s, s:{}}, s:s, s:o, s:o, "
	    "s:I}}", "metaData", "id", c->base && c->base->table_id ?
	    c->base->table_id : uuid, "format", "provider", "parquet",
	    "options", "schemaString", schema_text ? schema_text : "",
	    "partitionColumns", pcols, "configuration",
	    base_configuration(c->base), "createdTime",
	    (json_int_t)(clock_now_us() / 1000));
	free(schema_text);
	if (c->protocol == NULL || c->metadata == NULL) {
		lake_err_set(err, "out of memory");
		return -1;
	}
	c->schema = *schema;
	return 0;
}

/* Spark writes stats timestamps in milliseconds; round outwards. */
/*
 * Writes "name":value for a statistic, or nothing when the value has no
 * JSON form (NaN, a string that is not UTF-8, a long string's max).
 * *first tracks the comma.
 */
static void
put_stat(lake_buf *b, const char *name, pq_type t, const pq_value *v,
    int is_max, int *first)
{
	size_t mark = b->len;
	char buf[64];
	int ok = 1;

	lake_buf_append(b, ",", *first ? 0 : 1);
	lake_json_put_string(b, name, strlen(name));
	lake_buf_append(b, ":", 1);
	switch (t) {
	case PQ_INT32:
		lake_json_put_int(b, v->v.i32);
		break;
	case PQ_INT64:
		lake_json_put_int(b, v->v.i64);
		break;
	case PQ_DOUBLE:
		ok = lake_json_put_double(b, v->v.f64) == 0;
		break;
	case PQ_DATE:
		lake_format_date(buf, sizeof(buf), v->v.i32);
		lake_json_put_string(b, buf, strlen(buf));
		break;
	case PQ_TIMESTAMP: {
		/* Milliseconds, rounded outwards so they still bound. */
		int64_t us = v->v.i64, ms = us / 1000;

		/* Stats spell four-digit years; a bound beyond them (±infinity,
		 * kept as the int64 extremes) is left out: no skipping on
		 * this column in this file, never an overflow. */
		if (us < STATS_TS_MIN_US || us > STATS_TS_MAX_US) {
			ok = 0;
			break;
		}
		if (us % 1000 != 0 && (us < 0) == !is_max)
			ms += is_max ? 1 : -1;
		lake_format_timestamp(buf, sizeof(buf), ms * 1000);
		buf[10] = 'T';
		/* "YYYY-MM-DDTHH:MM:SS.mmm" + "Z" */
		buf[23] = 'Z';
		lake_json_put_string(b, buf, 24);
		break;
	}
	case PQ_STRING: {
		/* Long strings: min truncated (still a lower bound) at a
		 * character boundary; no max (a cut max is no bound). */
		uint32_t n = v->v.s.len;

		if (n > 32) {
			n = 32;
			while (n > 0 && ((unsigned char)v->v.s.ptr[n] &
			    0xc0) == 0x80)
				n--;
		}
		ok = !(is_max && n < v->v.s.len) &&
		    lake_json_put_string(b, v->v.s.ptr, n) == 0;
		break;
	}
	default:
		ok = 0;
	}
	if (ok)
		*first = 0;
	else
		b->len = mark;
}

/* The add action's stats: numRecords, minValues, maxValues, nullCount. */
static void
put_stats_text(lake_buf *b, const pq_schema *schema, const pq_file_stats *st)
{
	int first = 1;

	lake_json_put_raw(b, "{\"numRecords\":");
	lake_json_put_int(b, st->num_rows);
	for (int m = 0; m < 2; m++) {
		lake_json_put_raw(b, m == 0 ? ",\"minValues\":{" :
		    ",\"maxValues\":{");
		first = 1;
		for (int i = 0; i < schema->ncols && i < st->ncols; i++)
			if (st->cols[i].has_min_max)
				put_stat(b, schema->cols[i].name,
				    schema->cols[i].type, m == 0 ?
				    &st->cols[i].min : &st->cols[i].max, m,
				    &first);
		lake_buf_append(b, "}", 1);
	}
	lake_json_put_raw(b, ",\"nullCount\":{");
	first = 1;
	for (int i = 0; i < schema->ncols && i < st->ncols; i++) {
		const char *name = schema->cols[i].name;

		if (st->cols[i].null_count < 0)
			continue;
		lake_buf_append(b, ",", first ? 0 : 1);
		lake_json_put_string(b, name, strlen(name));
		lake_buf_append(b, ":", 1);
		lake_json_put_int(b, st->cols[i].null_count);
		first = 0;
	}
	lake_buf_append(b, "}}", 2);
}

/* "name":"value" (or null) for each partition column, comma separated. */
static int
put_partition_values(const delta_commit *c,
    const char *const *partition_values, lake_buf *b)
{
	const delta_snapshot *base = c->base;
	json_t *arr = c->metadata ? json_object_get(json_object_get(
	    c->metadata, "metaData"), "partitionColumns") : NULL;
	int n = arr ? (int)json_array_size(arr) :
	    base ? base->npartition_columns : 0;

	for (int i = 0; i < n; i++) {
		const char *name = arr ? json_string_value(json_array_get(arr,
		    (size_t)i)) : base->partition_columns[i];
		const char *v = partition_values ? partition_values[i] : NULL;

		if (name == NULL)
			return -1;
		lake_buf_append(b, ",", i > 0 ? 1 : 0);
		if (lake_json_put_string(b, name, strlen(name)) == -1)
			return -1;
		lake_buf_append(b, ":", 1);
		if (v == NULL)
			lake_json_put_raw(b, "null");
		else if (lake_json_put_string(b, v, strlen(v)) == -1)
			return -1;
	}
	return 0;
}

int
delta_commit_add(delta_commit *c, const char *path,
    const char *const *partition_values, int64_t size,
    const pq_file_stats *stats, lake_err *err)
{
	const pq_schema *schema = c->metadata ? &c->schema :
	    c->base ? &c->base->schema : NULL;
	char *escaped = delta_escape(path);
	lake_buf *b = &c->files;
	size_t mark = b->len;
	int bad = escaped == NULL;

	lake_json_put_raw(b, "{\"add\":{\"path\":");
	bad = bad || lake_json_put_string(b, escaped, strlen(escaped)) == -1;
	lake_json_put_raw(b, ",\"partitionValues\":{");
	bad = bad || put_partition_values(c, partition_values, b) == -1;
	lake_json_put_raw(b, "},\"size\":");
	lake_json_put_int(b, size);
	lake_json_put_raw(b, ",\"modificationTime\":");
	lake_json_put_int(b, clock_now_us() / 1000);
	lake_json_put_raw(b, c->rearrange_only ? ",\"dataChange\":false" :
	    ",\"dataChange\":true");
	if (!bad && stats != NULL && schema != NULL) {
		lake_buf text = { 0 };

		put_stats_text(&text, schema, stats);
		lake_json_put_raw(b, ",\"stats\":");
		/* Our own text from UTF-8 pieces: always UTF-8. */
		lake_json_put_string(b, (const char *)text.data, text.len);
		bad = text.failed;
		lake_buf_free(&text);
	}
	lake_json_put_raw(b, "}}\n");
	free(escaped);
	if (bad || b->failed) {
		lake_err_set(err, "%s: %s", path, b->failed || escaped ==
		    NULL ? "out of memory" : "a partition value is not UTF-8");
		b->len = mark;
		b->failed = 0;
		return -1;
	}
	return 0;
}

int
delta_commit_remove(delta_commit *c, const char *path, lake_err *err)
{
	char *escaped = delta_escape(path);
	lake_buf *b = &c->files;
	size_t mark = b->len;

	if (escaped != NULL) {
		lake_json_put_raw(b, "{\"remove\":{\"path\":");
		lake_json_put_string(b, escaped, strlen(escaped));
		lake_json_put_raw(b, ",\"deletionTimestamp\":");
		lake_json_put_int(b, clock_now_us() / 1000);
		lake_json_put_raw(b, c->rearrange_only ?
		    ",\"dataChange\":false}}\n" : ",\"dataChange\":true}}\n");
	}
	free(escaped);
	if (escaped == NULL || b->failed) {
		lake_err_set(err, "out of memory");
		b->len = mark;
		b->failed = 0;
		return -1;
	}
	return 0;
}

void
delta_commit_set_rearrange_only(delta_commit *c)
{
	c->rearrange_only = 1;
}

int
delta_commit_set_property(delta_commit *c, const char *key,
    const char *value, lake_err *err)
{
	json_t *config = json_object_get(json_object_get(c->metadata,
	    "metaData"), "configuration");

	if (!json_is_object(config)) {
		lake_err_set(err, "%s: a table property needs the commit's "
		    "metaData: call delta_commit_set_metadata first",
		    c->table_dir);
		return -1;
	}
	if (json_object_set_new(config, key, json_string(value)) == -1) {
		lake_err_set(err, "%s: property %s: out of memory or not UTF-8",
		    c->table_dir, key);
		return -1;
	}
	return 0;
}

int
delta_commit_set_txn(delta_commit *c, const char *app_id, int64_t version,
    lake_err *err)
{
	json_t *t = json_pack("{s:{s:s, s:I, s:I}}", "txn", "appId", app_id,
	    "version", (json_int_t)version, "lastUpdated",
	    (json_int_t)(clock_now_us() / 1000));
	size_t i;
	json_t *old;

	if (t == NULL) {
		lake_err_set(err, "out of memory");
		return -1;
	}
	/* One txn per appId in a commit: a second call replaces the first. */
	json_array_foreach(c->txns, i, old) {
		const char *id = json_string_value(json_object_get(
		    json_object_get(old, "txn"), "appId"));

		if (id != NULL && strcmp(id, app_id) == 0) {
			json_array_set_new(c->txns, i, t);
			return 0;
		}
	}
	if (json_array_append_new(c->txns, t) == -1) {
		lake_err_set(err, "out of memory");
		return -1;
	}
	return 0;
}

int
delta_commit_set_info(delta_commit *c, const char *operation,
    const char *extra_json, lake_err *err)
{
	json_t *extra = NULL, *info;

	if (extra_json != NULL && (extra = json_loads(extra_json, 0,
	    NULL)) == NULL) {
		lake_err_set(err, "commitInfo extra fields are not JSON");
		return -1;
	}
	info = json_pack("{s:I, s:s, s:s, s:b}", "timestamp",
	    (json_int_t)(clock_now_us() / 1000), "operation", operation,
	    "engineInfo", "medallion/" MEDALLION_VERSION, "isBlindAppend",
	    c->base != NULL);
	if (info == NULL) {
		json_decref(extra);
		lake_err_set(err, "out of memory");
		return -1;
	}
	if (json_is_object(extra))
		json_object_update(info, extra);
	json_decref(extra);
	json_decref(c->info);
	c->info = json_pack("{s:o}", "commitInfo", info);
	return c->info ? 0 : -1;
}

static int
append_line(lake_buf *b, json_t *action)
{
	char *s;

	if (action == NULL)
		return 0;
	if ((s = json_dumps(action, JSON_COMPACT)) == NULL)
		return -1;
	lake_buf_append(b, s, strlen(s));
	lake_buf_append(b, "\n", 1);
	free(s);
	return b->failed ? -1 : 0;
}

int
delta_commit_prepare(delta_commit *c, lake_err *err)
{
	char log_dir[4096], tmp[4200], uuid[37];
	lake_buf text = { 0 };
	lake_out *o;
	size_t i;
	json_t *a;
	int rc = DELTA_ERROR;

	if (c->tmp_path != NULL) {
		lake_err_set(err, "%s: commit already prepared", c->table_dir);
		return DELTA_ERROR;
	}
	if (c->base == NULL && c->metadata == NULL) {
		lake_err_set(err, "%s: a new table needs its metadata",
		    c->table_dir);
		return DELTA_ERROR;
	}
	snprintf(log_dir, sizeof(log_dir), "%s/_delta_log", c->table_dir);
	if (lake_store_mkdirs(log_dir, err) != 0)
		return DELTA_ERROR;
	if (append_line(&text, c->info) == -1 ||
	    append_line(&text, c->protocol) == -1 ||
	    append_line(&text, c->metadata) == -1)
		goto nomem;
	json_array_foreach(c->txns, i, a)
		if (append_line(&text, a) == -1)
			goto nomem;
	lake_buf_append(&text, c->files.data, c->files.len);
	if (text.failed)
		goto nomem;
	delta_uuid(uuid);
	snprintf(tmp, sizeof(tmp), "%s/.tmp-%s.json", log_dir, uuid);
	if ((o = lake_out_create(tmp, 0, err)) == NULL)
		goto out;
	if (lake_out_write(o, text.data, text.len, err) == -1) {
		lake_out_abort(o);
		goto out;
	}
	if (lake_out_close(o, LAKE_OUT_TEMP, err) == -1)
		goto out;
	if ((c->tmp_path = strdup(tmp)) == NULL ||
	    (c->log_dir = strdup(log_dir)) == NULL)
		goto nomem_unlink;
	rc = DELTA_OK;
	goto out;
nomem_unlink:
	free(c->tmp_path);
	c->tmp_path = NULL;
	lake_store_delete(tmp, NULL);
nomem:
	lake_err_set(err, "out of memory");
out:
	lake_buf_free(&text);
	return rc;
}

/* delta.checkpointInterval of the table as this commit leaves it. */
static int64_t
commit_checkpoint_interval(const delta_commit *c)
{
	static const char key[] = "delta.checkpointInterval";
	json_t *meta = json_object_get(c->metadata, "metaData");

	if (meta != NULL || c->base == NULL)
		return delta_checkpoint_interval(delta_config_get(meta, key));
	return delta_checkpoint_interval(delta_snapshot_property(c->base,
	    key));
}

int
delta_commit_publish(delta_commit *c, int64_t *version, lake_err *err)
{
	char *final;
	int rc = DELTA_ERROR;

	if (c->tmp_path == NULL) {
		lake_err_set(err, "%s: commit not prepared", c->table_dir);
		return DELTA_ERROR;
	}
	if ((final = delta_log_file(c->table_dir, c->version, ".json")) ==
	    NULL) {
		lake_err_set(err, "out of memory");
		return DELTA_ERROR;
	}
	/* Put-if-absent: link(2) locally, If-None-Match: * on S3. The
	 * other writer's version is never overwritten. */
	if ((rc = lake_store_link(c->tmp_path, final, 1, err)) != 0) {
		if (rc == LAKE_STORE_EXISTS) {
			lake_err_set(err, "%s: version %" PRId64 " was "
			    "committed by another writer", c->table_dir,
			    c->version);
			rc = DELTA_CONFLICT;
		} else {
			lake_err_prefix(err, "cannot commit %s", final);
			rc = DELTA_ERROR;
		}
		goto out;	/* delta_commit_free removes the temp file */
	}
	rc = DELTA_ERROR;
	free(c->tmp_path);
	c->tmp_path = NULL;
	if (lake_store_sync_dir(c->log_dir, err) != 0)
		goto out;	/* the commit exists; only its durability
				   is in doubt */
	*version = c->version;
	rc = DELTA_OK;
	delta_checkpoint_after_commit(c->table_dir, c->version,
	    commit_checkpoint_interval(c));
out:
	free(final);
	return rc;
}

int
delta_commit_finish(delta_commit *c, int64_t *version, lake_err *err)
{
	int rc = delta_commit_prepare(c, err);

	return rc == DELTA_OK ? delta_commit_publish(c, version, err) : rc;
}
