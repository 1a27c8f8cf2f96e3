/*
 * delta_snapshot.c - reading a Delta table: from the log to a snapshot.
 *
 * Replay starts at the newest checkpoint at or below the wanted version
 * (found through _last_checkpoint, else by listing the log: delta_log.c),
 * then applies the JSON commits after it in order; every
 * version in between must be there, or the load fails with "version
 * gap". Actions reconcile as PROTOCOL.md says: the last protocol and
 * metaData win, the newest txn per appId wins, and an add or remove
 * decides whether a path is live. Only files the log names are ever
 * visible, so leftovers of a crashed writer are not. Incremental reads
 * (the commits after a bookmark) are in delta_changes.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta_internal.h"
#include "lake_json.h"

/* Reader features we can honour (protocol 3). */
static const char *known_reader_features[] = { "timestampNtz",
	"vacuumProtocolCheck", NULL };

char *
delta_log_file(const char *table_dir, int64_t version, const char *suffix)
{
	char *p;

	if (asprintf(&p, "%s/_delta_log/%020" PRId64 "%s", table_dir, version,
	    suffix) == -1)
		return NULL;
	return p;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
delta_unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (out == NULL)
		return NULL;
	while (*s) {
		if (s[0] == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) << 4 | hexval(s[2]));
			s += 3;
		} else
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

/*
 * The bytes delta_escape keeps as they are (1): letters, digits and
 * "-_.~/=" (tests/delta checks every byte against that rule); bytes from
 * 0x80 on (left at 0 here) are all escaped. A look-up per byte, as every
 * path of a checkpoint (thousands of tombstones) is checked.
 */
static const uint8_t escape_kept[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x10 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1,	/* 0x20 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0,	/* 0x30 */
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,	/* 0x50 */
	0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0,	/* 0x70 */
};

static int
escape_keeps(unsigned char c)
{
	return escape_kept[c];
}

size_t
delta_escape_plain_prefix(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), n = 0;

	/* Eight bytes a step: their bit tests do not wait on each other. */
	while (len - n >= 8 && (escape_keeps(p[n]) & escape_keeps(p[n + 1]) &
	    escape_keeps(p[n + 2]) & escape_keeps(p[n + 3]) &
	    escape_keeps(p[n + 4]) & escape_keeps(p[n + 5]) &
	    escape_keeps(p[n + 6]) & escape_keeps(p[n + 7])))
		n += 8;
	while (n < len && escape_keeps(p[n]))
		n++;
	return n;
}

char *
delta_escape(const char *s)
{
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (escape_keeps(c))
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	return out;
}

/* --- schema -------------------------------------------------------- */

static const struct {
	const char *name;
	pq_type type;
} type_names[] = {
	{ "integer", PQ_INT32 }, { "long", PQ_INT64 },
	{ "double", PQ_DOUBLE }, { "boolean", PQ_BOOLEAN },
	{ "string", PQ_STRING }, { "date", PQ_DATE },
	{ "timestamp", PQ_TIMESTAMP }, { "float", PQ_FLOAT },
	{ "binary", PQ_BINARY }, { "byte", PQ_INT8 }, { "short", PQ_INT16 },
	{ "timestamp_ntz", PQ_TIMESTAMP_NTZ },
};

const char *
delta_type_name(pq_type t)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == t)
			return type_names[i].name;
	return "decimal";
}

static void
delta_schema_free(pq_schema *schema)
{
	for (int i = 0; schema->cols != NULL && i < schema->ncols; i++)
		free((char *)schema->cols[i].name);
	free(schema->cols);
	schema->cols = NULL;
	schema->ncols = 0;
}

/*
 * Parses a Spark StructType schema string into a flat schema. Nested
 * columns (struct, array, map) are left out: this lake reads flat
 * tables, and Parquet readers skip the nested leaves the same way.
 */
static int
delta_parse_schema(const char *schema_string, pq_schema *schema,
    lake_err *err)
{
	json_error_t jerr;
	json_t *root, *fields, *f;
	size_t i;

	memset(schema, 0, sizeof(*schema));
	root = json_loads(schema_string, 0, &jerr);
	fields = root ? json_object_get(root, "fields") : NULL;
	if (!json_is_array(fields)) {
		lake_err_set(err, "metaData.schemaString is not a Spark struct "
		    "type%s%s", root ? "" : ": ", root ? "" : jerr.text);
		json_decref(root);
		return -1;
	}
	schema->cols = calloc(json_array_size(fields) + 1,
	    sizeof(pq_column_def));
	if (schema->cols == NULL)
		goto nomem;
	json_array_foreach(fields, i, f) {
		const char *name = json_string_value(json_object_get(f,
		    "name"));
		json_t *type = json_object_get(f, "type");
		pq_column_def *c = &schema->cols[schema->ncols];
		const char *tn = json_string_value(type);
		int found = 0;

		if (name == NULL || type == NULL) {
			lake_err_set(err, "schemaString: field %zu has no name "
			    "or type", i);
			goto fail;
		}
		if (tn == NULL)
			continue;	/* nested */
		for (size_t k = 0; k < sizeof(type_names) /
		    sizeof(type_names[0]); k++)
			if (strcmp(tn, type_names[k].name) == 0) {
				c->type = type_names[k].type;
				found = 1;
			}
		if (!found && sscanf(tn, "decimal(%d,%d)",
		    &c->decimal_precision, &c->decimal_scale) == 2) {
			c->type = PQ_DECIMAL;
			found = 1;
		}
		if (!found) {
			lake_err_set(err, "schemaString: column %s has type %s, "
			    "which this reader does not know", name, tn);
			goto fail;
		}
		c->nullable = json_is_true(json_object_get(f, "nullable"));
		if ((c->name = strdup(name)) == NULL)
			goto nomem;
		schema->ncols++;
	}
	json_decref(root);
	return 0;
nomem:
	lake_err_set(err, "out of memory");
fail:
	json_decref(root);
	delta_schema_free(schema);
	return -1;
}

/* --- replay state -------------------------------------------------- */

typedef delta_file_entry file_entry;

delta_replay *
delta_replay_new(void)
{
	return calloc(1, sizeof(delta_replay));
}

static void
file_clear(delta_file *f, int nparts)
{
	free(f->path);
	for (int i = 0; f->partition_values != NULL && i < nparts; i++)
		free(f->partition_values[i]);
	free(f->partition_values);
	free(f->stats_json);
	memset(f, 0, sizeof(*f));
}

void
delta_replay_free(delta_replay *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->nfiles; i++) {
		/* partition_values is still a JSON text here (see below). */
		free(st->files[i].f.path);
		free(st->files[i].f.stats_json);
		free(st->files[i].f.partition_values);
	}
	free(st->files);
	free(st->slots);
	for (size_t i = 0; i < st->ntxns; i++)
		free(st->txns[i].app_id);
	free(st->txns);
	json_decref(st->metadata);
	json_decref(st->protocol);
	free(st);
}

/*
 * A path's slot hash, eight bytes at a time (a multiply and a fold per
 * word): paths are ~80 bytes, and every one is hashed again each time
 * the table doubles, so hashing byte by byte was a third of what a
 * checkpoint's tombstones cost to replay.
 */
static uint32_t
hash_str(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = (uint64_t)n * 0x9e3779b97f4a7c15ULL, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	for (w = 0; n > 0; n--)
		w = w << 8 | (uint8_t)s[n - 1];
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(h ^ h >> 29 ^ h >> 47);
}

static int
slots_grow(delta_replay *st)
{
	size_t n = st->nslots ? st->nslots * 2 : 1024;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < st->nfiles; i++) {
		size_t s = hash_str(st->files[i].f.path) & (n - 1);

		while (slots[s])
			s = (s + 1) & (n - 1);
		slots[s] = (uint32_t)i + 1;
	}
	free(st->slots);
	st->slots = slots;
	st->nslots = n;
	return 0;
}

/* The entry for path, created (not live) when absent. */
static file_entry *
file_lookup(delta_replay *st, const char *path)
{
	size_t s;

	if ((st->nfiles + 1) * 2 > st->nslots && slots_grow(st) == -1)
		return NULL;
	for (s = hash_str(path) & (st->nslots - 1); st->slots[s];
	    s = (s + 1) & (st->nslots - 1))
		if (strcmp(st->files[st->slots[s] - 1].f.path, path) == 0)
			return &st->files[st->slots[s] - 1];
	if (st->nfiles == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 256;
		file_entry *p = realloc(st->files, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		st->files = p;
		st->cap = cap;
	}
	memset(&st->files[st->nfiles], 0, sizeof(file_entry));
	if ((st->files[st->nfiles].f.path = strdup(path)) == NULL)
		return NULL;
	st->slots[s] = (uint32_t)++st->nfiles;
	return &st->files[st->nfiles - 1];
}

static int
check_protocol(json_t *p, lake_err *err)
{
	json_int_t rv = json_integer_value(json_object_get(p,
	    "minReaderVersion"));
	json_t *features = json_object_get(p, "readerFeatures"), *f;
	size_t i;

	if (rv < 1) {
		lake_err_set(err, "protocol action without minReaderVersion");
		return -1;
	}
	if (rv > 3) {
		lake_err_set(err, "table needs Delta reader version %lld; "
		    "medallion reads versions 1 to 3", (long long)rv);
		return -1;
	}
	if (rv == 3) {
		json_array_foreach(features, i, f) {
			const char *name = json_string_value(f);
			int ok = 0;

			for (int k = 0; name && known_reader_features[k]; k++)
				ok |= strcmp(name, known_reader_features[k]) ==
				    0;
			if (!ok) {
				lake_err_set(err, "table needs reader feature "
				    "%s, which medallion does not support",
				    name ? name : "(unnamed)");
				return -1;
			}
		}
	}
	return 0;
}

/*
 * Applies an add (or remove) of the file at raw_path (as the log spells
 * it). when is the add's modificationTime or the remove's
 * deletionTimestamp. stats and pv_text (the partitionValues object's JSON
 * text) are taken over, whatever the outcome.
 */
static int
apply_file_fields(delta_replay *st, const char *raw_path, int64_t version,
    int add, int64_t size, int64_t when, char *stats, char *pv_text,
    lake_err *err)
{
	const char *path = raw_path;
	char *unescaped = NULL;
	file_entry *e;
	int rc = -1;

	if (raw_path == NULL) {
		lake_err_set(err, "%s action without a path",
		    add ? "add" : "remove");
		goto out;
	}
	/* A path without escapes (ours never have any) is its own
	 * unescaped form: no copy to make and free per action. */
	if ((strchr(raw_path, '%') != NULL && (path = unescaped =
	    delta_unescape(raw_path)) == NULL) ||
	    (e = file_lookup(st, path)) == NULL) {
		free(unescaped);
		lake_err_set(err, "out of memory");
		goto out;
	}
	free(unescaped);
	e->live = add;
	free(e->f.stats_json);
	e->f.stats_json = NULL;
	free(e->f.partition_values);
	e->f.partition_values = NULL;
	rc = 0;
	if (!add) {
		e->deletion_timestamp = when;
		if (size > 0)
			e->f.size = size;
		goto out;
	}
	e->deletion_timestamp = 0;
	e->f.size = size;
	e->f.modification_time = when;
	e->f.added_in_version = version;
	e->f.num_records = -1;
	e->f.stats_json = stats;
	stats = NULL;
	/* Partition values stay JSON text until the schema is known. */
	e->f.partition_values = (char **)pv_text;
	pv_text = NULL;
out:
	free(stats);
	free(pv_text);
	return rc;
}

int
delta_replay_file(delta_replay *st, const char *raw_path, int64_t version,
    int add, int data_change, int64_t size, int64_t when, char *stats,
    char *pv_text, lake_err *err)
{
	if (st->meta_only || (st->data_change_only && !data_change)) {
		free(stats);
		free(pv_text);
		return 0;
	}
	return apply_file_fields(st, raw_path, version, add, size, when,
	    stats, pv_text, err);
}

static int
apply_file(delta_replay *st, json_t *a, int64_t version, int add,
    lake_err *err)
{
	json_t *stats = json_object_get(a, "stats");
	json_t *pv = json_object_get(a, "partitionValues");
	json_t *first = json_object_get(a, "defaultRowCommitVersion");
	char *stats_text = NULL, *pv_text = NULL;

	/* The version that first committed the file, when the action says
	 * (checkpoints do): not the checkpoint's own version. */
	if (add && json_is_integer(first) && json_integer_value(first) >= 0 &&
	    json_integer_value(first) <= version)
		version = json_integer_value(first);

	if (add && json_is_string(stats) && (stats_text =
	    strdup(json_string_value(stats))) == NULL)
		goto nomem;
	if (add && pv != NULL && (pv_text = json_dumps(pv, JSON_COMPACT)) ==
	    NULL)
		goto nomem;
	return apply_file_fields(st, json_string_value(json_object_get(a,
	    "path")), version, add, json_integer_value(json_object_get(a,
	    "size")), json_integer_value(json_object_get(a, add ?
	    "modificationTime" : "deletionTimestamp")), stats_text, pv_text,
	    err);
nomem:
	free(stats_text);
	lake_err_set(err, "out of memory");
	return -1;
}

static int
apply_txn(delta_replay *st, json_t *a, lake_err *err)
{
	const char *app = json_string_value(json_object_get(a, "appId"));
	json_int_t v = json_integer_value(json_object_get(a, "version"));
	delta_txn *t;

	if (app == NULL) {
		lake_err_set(err, "txn action without an appId");
		return -1;
	}
	for (size_t i = 0; i < st->ntxns; i++)
		if (strcmp(st->txns[i].app_id, app) == 0) {
			st->txns[i].version = v;
			return 0;
		}
	t = realloc(st->txns, (st->ntxns + 1) * sizeof(*t));
	if (t == NULL)
		goto nomem;
	st->txns = t;
	if ((t[st->ntxns].app_id = strdup(app)) == NULL)
		goto nomem;
	t[st->ntxns++].version = v;
	return 0;
nomem:
	lake_err_set(err, "out of memory");
	return -1;
}

/* An add or remove an incremental reader skips: dataChange:false. */
static int
rearranges(const delta_replay *st, json_t *file_action)
{
	return st->data_change_only && json_is_false(json_object_get(
	    file_action, "dataChange"));
}

int
delta_replay_action(delta_replay *st, json_t *action, int64_t version,
    lake_err *err)
{
	json_t *a;

	if (!json_is_object(action)) {
		lake_err_set(err, "an action is not a JSON object");
		return -1;
	}
	if ((a = json_object_get(action, "add")) != NULL)
		return st->meta_only || rearranges(st, a) ? 0 :
		    apply_file(st, a, version, 1, err);
	if ((a = json_object_get(action, "remove")) != NULL)
		return st->meta_only || rearranges(st, a) ? 0 :
		    apply_file(st, a, version, 0, err);
	if ((a = json_object_get(action, "txn")) != NULL)
		return apply_txn(st, a, err);
	if ((a = json_object_get(action, "protocol")) != NULL) {
		if (check_protocol(a, err) == -1)
			return -1;
		json_decref(st->protocol);
		st->protocol = json_incref(a);
		return 0;
	}
	if ((a = json_object_get(action, "metaData")) != NULL) {
		json_decref(st->metadata);
		st->metadata = json_incref(a);
		return 0;
	}
	if ((a = json_object_get(action, "commitInfo")) != NULL) {
		json_int_t ts = json_integer_value(json_object_get(a,
		    "timestamp"));

		if (ts > 0)
			st->timestamp_ms = ts;
		return 0;
	}
	return 0;	/* cdc, domainMetadata, unknown: ignored */
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const delta_file *)a)->path,
	    ((const delta_file *)b)->path);
}

/* Turns the add's partitionValues JSON into one string per column. */
static int
split_partition_values(delta_file *f, char *json_text, char **cols,
    int ncols, lake_err *err)
{
	lake_json s;
	char key[1024];
	int rc = 0;

	f->partition_values = calloc((size_t)ncols + 1, sizeof(char *));
	if (f->partition_values == NULL) {
		free(json_text);
		lake_err_set(err, "out of memory");
		return -1;
	}
	if (json_text == NULL)
		return 0;
	lake_json_init(&s, json_text, strlen(json_text));
	if (lake_json_object_begin(&s) == -1)
		rc = -1;
	while (rc == 0 && (rc = lake_json_next_key(&s, key,
	    sizeof(key))) == 1) {
		int i;

		for (i = 0; i < ncols && strcmp(cols[i], key) != 0; i++)
			;
		if (i < ncols && f->partition_values[i] == NULL &&
		    lake_json_peek(&s) == '"')
			rc = lake_json_string(&s, &f->partition_values[i]);
		else
			rc = lake_json_skip(&s);
	}
	free(json_text);
	if (rc == -1) {
		lake_err_set(err, "%s: bad partitionValues", f->path);
		return -1;
	}
	return 0;
}

int64_t
delta_stats_num_records(const char *stats)
{
	int64_t v;

	if (stats == NULL || lake_json_find_int(stats, NULL, "numRecords",
	    &v) != 1)
		return -1;
	return v;
}

int
delta_file_int_range(const delta_file *f, const char *column, int64_t *min,
    int64_t *max)
{
	static const char *const bounds[2] = { "minValues", "maxValues" };
	int64_t v[2];

	if (f->stats_json == NULL || lake_json_find_ints(f->stats_json, bounds,
	    2, column, v) != 3)
		return 0;
	*min = v[0];
	*max = v[1];
	return 1;
}

/* The table properties of metaData.configuration, as strings. */
static int
copy_configuration(delta_snapshot *snap, json_t *config)
{
	const char *key;
	json_t *v;
	size_t n = json_object_size(config);

	snap->config_keys = calloc(n + 1, sizeof(char *));
	snap->config_values = calloc(n + 1, sizeof(char *));
	if (snap->config_keys == NULL || snap->config_values == NULL)
		return -1;
	json_object_foreach(config, key, v) {
		if (!json_is_string(v))
			continue;
		if ((snap->config_keys[snap->nconfig] = strdup(key)) == NULL ||
		    (snap->config_values[snap->nconfig] = strdup(
		    json_string_value(v))) == NULL)
			return -1;
		snap->nconfig++;
	}
	return 0;
}

const char *
delta_snapshot_property(const delta_snapshot *snap, const char *key)
{
	for (int i = 0; i < snap->nconfig; i++)
		if (strcmp(snap->config_keys[i], key) == 0)
			return snap->config_values[i];
	return NULL;
}

/* Moves the reconciled state into snap. */
static int
delta_replay_finish(delta_replay *st, delta_snapshot *snap, lake_err *err)
{
	json_t *m = st->metadata, *pcols, *c;
	const char *schema_string;
	size_t i, nlive = 0;

	if (st->protocol == NULL || m == NULL) {
		lake_err_set(err, "the log has no %s action",
		    m == NULL ? "metaData" : "protocol");
		return -1;
	}
	schema_string = json_string_value(json_object_get(m, "schemaString"));
	if (schema_string == NULL || delta_parse_schema(schema_string,
	    &snap->schema, err) == -1) {
		if (schema_string == NULL)
			lake_err_set(err, "metaData has no schemaString");
		return -1;
	}
	if ((snap->table_id = strdup(json_string_value(json_object_get(m,
	    "id")) ?: "")) == NULL)
		goto nomem;
	pcols = json_object_get(m, "partitionColumns");
	snap->partition_columns = calloc(json_array_size(pcols) + 1,
	    sizeof(char *));
	if (snap->partition_columns == NULL)
		goto nomem;
	json_array_foreach(pcols, i, c) {
		if (!json_is_string(c) || (snap->partition_columns[i] =
		    strdup(json_string_value(c))) == NULL)
			goto nomem;
		snap->npartition_columns++;
	}
	if (copy_configuration(snap, json_object_get(m, "configuration")) ==
	    -1)
		goto nomem;
	for (i = 0; i < st->nfiles; i++)
		nlive += st->files[i].live;
	snap->files = calloc(nlive + 1, sizeof(delta_file));
	if (snap->files == NULL)
		goto nomem;
	for (i = 0; i < st->nfiles; i++) {
		file_entry *e = &st->files[i];
		delta_file *f;

		if (!e->live)
			continue;
		f = &snap->files[snap->nfiles++];
		*f = e->f;
		memset(&e->f, 0, sizeof(e->f));
		if (split_partition_values(f, (char *)f->partition_values,
		    snap->partition_columns, snap->npartition_columns,
		    err) == -1)
			return -1;
		f->num_records = delta_stats_num_records(f->stats_json);
	}
	if (snap->nfiles > 0)
		qsort(snap->files, snap->nfiles, sizeof(delta_file), cmp_file);
	snap->txns = st->txns;
	snap->ntxns = st->ntxns;
	st->txns = NULL;
	st->ntxns = 0;
	snap->timestamp_ms = st->timestamp_ms;
	return 0;
nomem:
	lake_err_set(err, "out of memory");
	return -1;
}

/* --- the log folder ------------------------------------------------ */

/* The members of an add or remove action, read with the scanner. */
static int
read_file_action(delta_replay *st, lake_json *s, int64_t version, int add,
    lake_err *err)
{
	char key[32], *path = NULL, *stats = NULL, *pv = NULL;
	const char *what = NULL;
	int64_t size = 0, mtime = 0;
	int rc, data_change = 1;

	if (lake_json_object_begin(s) == -1) {
		what = "is not an object";
		goto bad;
	}
	while ((rc = lake_json_next_key(s, key, sizeof(key))) == 1) {
		const char *start;
		size_t n;

		if (strcmp(key, "path") == 0 && path == NULL) {
			if (lake_json_string(s, &path) == -1)
				what = "has a path that is not a string";
		} else if (strcmp(key, "size") == 0) {
			if (lake_json_int64(s, &size) == -1)
				what = "has a size that is not an integer";
		} else if (strcmp(key, add ? "modificationTime" :
		    "deletionTimestamp") == 0) {
			if (lake_json_int64(s, &mtime) == -1)
				what = "has a modificationTime that is not an "
				    "integer";
		} else if (add && strcmp(key, "stats") == 0 && stats == NULL &&
		    lake_json_peek(s) == '"') {
			if (lake_json_string(s, &stats) == -1)
				what = "has bad stats";
		} else if (add && strcmp(key, "partitionValues") == 0 &&
		    pv == NULL && lake_json_peek(s) == '{') {
			if (lake_json_span(s, &start, &n) == -1 ||
			    (pv = strndup(start, n)) == NULL)
				what = "has bad partitionValues";
		} else if (strcmp(key, "dataChange") == 0 &&
		    lake_json_peek(s) == 'f') {
			data_change = 0;
			if (lake_json_skip(s) == -1)
				what = "is malformed JSON";
		} else if (lake_json_skip(s) == -1)
			what = "is malformed JSON";
		if (what != NULL)
			goto bad;
	}
	if (rc == -1) {
		what = "is malformed JSON";
		goto bad;
	}
	if (st->data_change_only && !data_change) {
		free(path);
		free(stats);
		free(pv);
		return 0;
	}
	rc = apply_file_fields(st, path, version, add, size, mtime, stats,
	    pv, err);
	free(path);
	return rc;
bad:
	free(path);
	free(stats);
	free(pv);
	lake_err_set(err, "the %s action %s", add ? "add" : "remove", what);
	return -1;
}

/*
 * Replays an add or remove line with the scanner rather than jansson:
 * such lines are nearly all of a log, one per file, and building a JSON
 * tree for each is most of the cost of reading a snapshot.
 */
static int
replay_file_line(delta_replay *st, const char *line, size_t len,
    int64_t version, lake_err *err)
{
	lake_json s;
	char key[32];
	int rc, done = 0;

	lake_json_init(&s, line, len);
	if (lake_json_object_begin(&s) == -1)
		goto bad;
	while ((rc = lake_json_next_key(&s, key, sizeof(key))) == 1) {
		int add = strcmp(key, "add") == 0;

		if (done || (!add && strcmp(key, "remove") != 0)) {
			if (lake_json_skip(&s) == -1)
				goto bad;
			continue;
		}
		if (read_file_action(st, &s, version, add, err) == -1)
			return -1;
		done = 1;
	}
	if (rc == -1 || !lake_json_at_end(&s))
		goto bad;
	return 0;
bad:
	lake_err_set(err, "malformed JSON");
	return -1;
}

/* Feeds every line of commit version into st. */
int
delta_replay_commit(const char *table_dir, int64_t version, delta_replay *st,
    lake_err *err)
{
	char *path = delta_log_file(table_dir, version, ".json");
	char *text = NULL, *cur, *line;
	size_t len, n;
	int lineno = 0, rc = -1;

	if (path == NULL || delta_commit_text(path, &text, &len, err) != 0) {
		if (path == NULL)
			lake_err_set(err, "out of memory");
		free(path);
		return -1;
	}
	cur = text;
	while ((line = delta_next_line(&cur, text + len, &n)) != NULL) {
		json_error_t jerr;
		json_t *a;

		lineno++;
		if (n == 0)
			continue;
		if (strncmp(line, "{\"add\":", 7) == 0 ||
		    strncmp(line, "{\"remove\":", 10) == 0) {
			if (st->meta_only)
				continue;
			if (replay_file_line(st, line, (size_t)n, version,
			    err) == -1) {
				lake_err_prefix(err, "%s:%d", path, lineno);
				goto out;
			}
			continue;
		}
		if ((a = json_loads(line, 0, &jerr)) == NULL) {
			lake_err_set(err, "%s:%d: malformed JSON: %s", path,
			    lineno, jerr.text);
			goto out;
		}
		if (delta_replay_action(st, a, version, err) == -1) {
			json_decref(a);
			lake_err_prefix(err, "%s:%d", path, lineno);
			goto out;
		}
		json_decref(a);
	}
	rc = 0;
out:
	free(text);
	free(path);
	return rc;
}

/*
 * Replays from checkpoint start (or from commit 0 when start < 0): 0, -1
 * when a commit fails, -2 when the checkpoint does.
 */
static int
replay_from(const char *table_dir, int64_t start, int64_t target,
    delta_replay *st, lake_err *err)
{
	int rc = 0;

	if (start >= 0) {
		char *cp = delta_log_file(table_dir, start,
		    ".checkpoint.parquet");

		if (cp == NULL) {
			lake_err_set(err, "out of memory");
			return -1;
		}
		rc = delta_checkpoint_read(cp, start, st, err);
		free(cp);
		if (rc == -1)
			return -2;
	}
	for (int64_t v = start + 1; v <= target; v++)
		if (delta_replay_commit(table_dir, v, st, err) == -1)
			return -1;
	return 0;
}

/* Says why no start point reaches target: expired, or a damaged log. */
static void
explain_unreachable(const char *table_dir, const delta_log_listing *l,
    int64_t target, lake_err *err)
{
	int64_t oldest = delta_log_oldest_readable(l);

	if (oldest > target) {
		lake_err_set(err, "%s: version %lld is no longer retained: "
		    "the oldest readable version is %lld", table_dir,
		    (long long)target, (long long)oldest);
		return;
	}
	for (int64_t v = oldest + 1; v <= target; v++)
		if (!delta_log_has_version(l->versions, l->n, v)) {
			lake_err_set(err, "%s: version gap: commit %lld is "
			    "missing before %lld; the log is damaged",
			    table_dir, (long long)v, (long long)target);
			return;
		}
	lake_err_set(err, "%s: no checkpoint or first commit to read "
	    "version %lld from; the log is damaged", table_dir,
	    (long long)target);
}

/*
 * Tries the start points from the newest checkpoint at or below target
 * down to commit 0, and takes the first that replays: a checkpoint that
 * cannot be read (damaged, or from a writer we do not understand) costs
 * a longer replay, not the table. Only complete checkpoints ever get
 * their final name (see delta_checkpoint_write.c), so this is rare.
 */
static int
replay_best(const char *table_dir, const delta_log_listing *l, int64_t target,
    delta_replay_want want, delta_replay **out, lake_err *err)
{
	lake_err first = { { 0 }, LAKE_ERR_FAILED }, attempt;
	int tried = 0, rc;

	for (size_t i = l->ncheckpoints + 1; i-- > 0;) {
		int64_t start = i > 0 ? l->checkpoints[i - 1] : -1;
		delta_replay *st;

		if (start > target || (start < 0 &&
		    !delta_log_has_version(l->versions, l->n, 0)) ||
		    !delta_log_commits_cover(l, start, target))
			continue;
		if ((st = delta_replay_new()) == NULL) {
			lake_err_set(err, "out of memory");
			return -1;
		}
		st->meta_only = want == REPLAY_META;
		st->live_only = want == REPLAY_LIVE;
		if ((rc = replay_from(table_dir, start, target, st,
		    &attempt)) == 0) {
			*out = st;
			return 0;
		}
		delta_replay_free(st);
		if (!tried++)
			first = attempt;
		/* A bad commit breaks every start point: stop there. */
		if (rc == -1)
			break;
	}
	if (tried && err != NULL)
		*err = first;
	else if (!tried)
		explain_unreachable(table_dir, l, target, err);
	return -1;
}

int
delta_replay_load(const char *table_dir, int64_t version,
    delta_replay_want want, delta_replay **out, int64_t *version_out,
    lake_err *err)
{
	delta_log_listing l;
	int64_t target;
	int rc;

	*out = NULL;
	if ((rc = delta_log_list_from_hint(table_dir, &l, err)) == -1)
		return DELTA_ERROR;
	if (rc == 0) {
		/* The newest version, or one at or after the hinted
		 * checkpoint: no listing. Any failure (a checkpoint just
		 * deleted by log cleanup, say) retries on the full listing,
		 * which also says why. */
		lake_err ignored;

		target = delta_log_listing_newest(&l);
		if (version <= target && (version < 0 ||
		    version >= l.checkpoints[0]) && replay_best(table_dir, &l,
		    version < 0 ? target : version, want, out,
		    &ignored) == 0) {
			delta_log_listing_free(&l);
			*version_out = version < 0 ? target : version;
			return DELTA_OK;
		}
		delta_log_listing_free(&l);
	}
	if ((rc = delta_log_list(table_dir, &l, err)) != DELTA_OK)
		return rc;
	target = l.n ? l.versions[l.n - 1] : -1;
	if (l.ncheckpoints && l.checkpoints[l.ncheckpoints - 1] > target)
		target = l.checkpoints[l.ncheckpoints - 1];
	if (version >= 0) {
		if (version > target) {
			lake_err_set(err, "%s: version %lld does not exist "
			    "(newest is %lld)", table_dir, (long long)version,
			    (long long)target);
			delta_log_listing_free(&l);
			return DELTA_ERROR;
		}
		target = version;
	}
	rc = replay_best(table_dir, &l, target, want, out, err);
	delta_log_listing_free(&l);
	if (rc == -1)
		return DELTA_ERROR;
	*version_out = target;
	return DELTA_OK;
}

static int
snapshot_load(const char *table_dir, int64_t version, int meta_only,
    delta_snapshot **out, lake_err *err)
{
	delta_replay *st = NULL;
	delta_snapshot *snap = NULL;
	int64_t target;
	int rc;

	*out = NULL;
	if ((rc = delta_replay_load(table_dir, version, meta_only ?
	    REPLAY_META : REPLAY_LIVE, &st, &target, err)) != DELTA_OK)
		return rc;
	if ((snap = calloc(1, sizeof(*snap))) == NULL ||
	    (snap->table_dir = strdup(table_dir)) == NULL) {
		lake_err_set(err, "out of memory");
		goto fail;
	}
	snap->version = target;
	if (delta_replay_finish(st, snap, err) == -1) {
		lake_err_prefix(err, "%s", table_dir);
		goto fail;
	}
	delta_replay_free(st);
	*out = snap;
	return DELTA_OK;
fail:
	delta_replay_free(st);
	delta_snapshot_free(snap);
	return DELTA_ERROR;
}

int
delta_snapshot_load(const char *table_dir, int64_t version,
    delta_snapshot **out, lake_err *err)
{
	return snapshot_load(table_dir, version, 0, out, err);
}

int
delta_snapshot_load_meta(const char *table_dir, delta_snapshot **out,
    lake_err *err)
{
	return snapshot_load(table_dir, -1, 1, out, err);
}

void
delta_files_free(delta_file *files, size_t nfiles)
{
	/* Partition value arrays are NULL-terminated by construction. */
	for (size_t i = 0; i < nfiles; i++) {
		delta_file *f = &files[i];

		for (int k = 0; f->partition_values && f->partition_values[k];
		    k++)
			free(f->partition_values[k]);
		free(f->partition_values);
		free(f->path);
		free(f->stats_json);
	}
	free(files);
}

void
delta_snapshot_free(delta_snapshot *snap)
{
	if (snap == NULL)
		return;
	for (size_t i = 0; i < snap->nfiles; i++)
		file_clear(&snap->files[i], snap->npartition_columns);
	free(snap->files);
	for (size_t i = 0; i < snap->ntxns; i++)
		free(snap->txns[i].app_id);
	free(snap->txns);
	for (int i = 0; i < snap->npartition_columns; i++)
		free(snap->partition_columns[i]);
	free(snap->partition_columns);
	for (int i = 0; snap->config_keys != NULL && snap->config_keys[i] !=
	    NULL; i++)
		free(snap->config_keys[i]);
	for (int i = 0; snap->config_values != NULL &&
	    snap->config_values[i] != NULL; i++)
		free(snap->config_values[i]);
	free(snap->config_keys);
	free(snap->config_values);
	delta_schema_free(&snap->schema);
	free(snap->table_id);
	free(snap->table_dir);
	free(snap);
}

int64_t
delta_snapshot_txn_version(const delta_snapshot *snap, const char *app_id)
{
	for (size_t i = 0; i < snap->ntxns; i++)
		if (strcmp(snap->txns[i].app_id, app_id) == 0)
			return snap->txns[i].version;
	return -1;
}
