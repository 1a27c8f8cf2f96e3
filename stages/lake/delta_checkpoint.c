/*
 * delta_checkpoint.c - reading Delta checkpoints (N.checkpoint.parquet).
 *
 * A checkpoint is a Parquet file of nested rows, one action per row
 * (txn, add, remove, metaData, protocol). We read the leaves we need with
 * their definition and repetition levels, rebuild each row as the same
 * JSON action a commit would hold, and hand it to the replay, so
 * checkpoints and commits reconcile through one code path. A replay
 * that wants only the table's metadata does not decode the add and
 * remove leaves at all (most of a checkpoint's bytes), and one that
 * wants only the live files does not decode the removes (tombstones).
 *
 * Row groups are read action by action: each action has a key leaf
 * (add.path, remove.path, metaData.schemaString, ...) that is non-null
 * exactly in its rows, and the action's other leaves are decoded only
 * when its key has a value in the row group. Our writer puts each kind
 * in row groups of its own, so a group of 6,000 tombstones costs the
 * three remove leaves read and four all-null keys, not all 24 leaves
 * (a writer that mixes kinds gets them all read, as before). A leaf
 * without nulls or repetition needs no level-to-value map.
 */
#include <stdlib.h>
#include <string.h>

#include "delta_internal.h"
#include "lake_json_write.h"

/* One leaf of the checkpoint, with per-level value positions. */
typedef struct ck_leaf {
	int leaf;		/* -1 when the file does not have it or the
				   replay does not read it */
	int max_def;
	int max_rep;
	int has_values;		/* loaded in this row group, with a value:
				   otherwise every row reads as null */
	pq_leaf_batch b;
	int64_t *value_at;	/* level -> dense value index, or -1; NULL
				   when level i is value i */
	int64_t *row_start;	/* repeated leaves: row -> first level;
				   NULL when row i is level i */
	int64_t nrows;
} ck_leaf;

enum { L_ADD_PATH, L_ADD_SIZE, L_ADD_MTIME, L_ADD_DATACHANGE, L_ADD_STATS,
	L_ADD_FIRST_VERSION, L_ADD_PV_KEY, L_ADD_PV_VALUE, L_REMOVE_PATH, L_REMOVE_DELETED,
	L_REMOVE_SIZE, L_FILE_LEAVES,	/* the add and remove leaves end here */
	L_META_ID = L_FILE_LEAVES, L_META_SCHEMA, L_META_PCOLS,
	L_META_PROVIDER, L_META_CONF_KEY, L_META_CONF_VALUE, L_META_CREATED,
	L_PROTO_READER, L_PROTO_WRITER, L_PROTO_FEATURES,
	L_PROTO_WFEATURES, L_TXN_APP, L_TXN_VERSION, L_COUNT };

static const char *leaf_paths[L_COUNT][2] = {
	{ "add.path", NULL },
	{ "add.size", NULL },
	{ "add.modificationTime", NULL },
	{ "add.dataChange", NULL },
	{ "add.stats", NULL },
	{ "add.defaultRowCommitVersion", NULL },
	{ "add.partitionValues.key_value.key", "add.partitionValues.map.key" },
	{ "add.partitionValues.key_value.value",
	    "add.partitionValues.map.value" },
	{ "remove.path", NULL },
	{ "remove.deletionTimestamp", NULL },
	{ "remove.size", NULL },
	{ "metaData.id", NULL },
	{ "metaData.schemaString", NULL },
	{ "metaData.partitionColumns.list.element",
	    "metaData.partitionColumns.bag.array" },
	{ "metaData.format.provider", NULL },
	{ "metaData.configuration.key_value.key",
	    "metaData.configuration.map.key" },
	{ "metaData.configuration.key_value.value",
	    "metaData.configuration.map.value" },
	{ "metaData.createdTime", NULL },
	{ "protocol.minReaderVersion", NULL },
	{ "protocol.minWriterVersion", NULL },
	{ "protocol.readerFeatures.list.element",
	    "protocol.readerFeatures.bag.array" },
	{ "protocol.writerFeatures.list.element",
	    "protocol.writerFeatures.bag.array" },
	{ "txn.appId", NULL },
	{ "txn.version", NULL },
};

/* Drops what was read of the leaf in a row group; it stays chosen. */
static void
ck_leaf_unload(ck_leaf *l)
{
	pq_leaf_batch_free(&l->b);
	free(l->value_at);
	free(l->row_start);
	l->value_at = NULL;
	l->row_start = NULL;
	l->has_values = 0;
	l->nrows = 0;
}

/* row_start of a repeated leaf: where each row's levels begin. */
static int
map_rows(ck_leaf *l, int64_t nrows)
{
	int64_t row = 0;

	if ((l->row_start = malloc((size_t)(nrows + 1) *
	    sizeof(int64_t))) == NULL)
		return -1;
	for (int64_t i = 0; i < l->b.nlevels; i++) {
		if (l->b.rep[i] != 0)
			continue;
		if (row >= nrows)
			return 0;
		l->row_start[row++] = i;
	}
	l->row_start[nrows] = l->b.nlevels;
	return row == nrows;
}

/* value_at: which levels hold a value, and which one. */
static int
map_values(ck_leaf *l)
{
	int64_t v = 0;

	if ((l->value_at = malloc((size_t)(l->b.nlevels + 1) *
	    sizeof(int64_t))) == NULL)
		return -1;
	for (int64_t i = 0; i < l->b.nlevels; i++) {
		int def = l->b.def ? l->b.def[i] : 0;

		l->value_at[i] = def == l->max_def ? v++ : -1;
	}
	return v == l->b.nvalues;
}

static int
ck_leaf_load(pq_reader *r, int rg, ck_leaf *l, int64_t nrows, lake_err *err)
{
	int rows_ok, values_ok = 1;

	if (l->leaf < 0)
		return 0;
	if (pq_reader_read_leaf(r, rg, l->leaf, &l->b, err) == -1)
		return -1;
	l->nrows = nrows;
	if (l->max_rep > 0 && l->b.rep != NULL)
		rows_ok = map_rows(l, nrows);
	else
		rows_ok = l->b.nlevels == nrows;
	/* The reader decodes one value per level at max_def: as many
	 * values as levels, and no repetition, is level i = value i. */
	if (rows_ok == 1 && l->b.nvalues > 0 && (l->row_start != NULL ||
	    l->b.nvalues != l->b.nlevels))
		values_ok = map_values(l);
	if (rows_ok == -1 || values_ok == -1) {
		lake_err_set(err, "checkpoint: out of memory");
		return -1;
	}
	if (rows_ok == 0 || values_ok == 0) {
		lake_err_set(err, "checkpoint: levels of %s do not match its "
		    "rows", l->b.values.type == PQ_STRING ? "a string column" :
		    "a column");
		return -1;
	}
	l->has_values = l->b.nvalues > 0;
	return 0;
}

static int64_t
level_begin(const ck_leaf *l, int64_t row)
{
	return l->row_start != NULL ? l->row_start[row] : row;
}

static int64_t
level_end(const ck_leaf *l, int64_t row)
{
	return l->row_start != NULL ? l->row_start[row + 1] : row + 1;
}

/* The dense value index of level i, or -1 when it is null. */
static int64_t
value_index(const ck_leaf *l, int64_t i)
{
	if (!l->has_values || i < 0 || i >= l->b.nlevels)
		return -1;
	return l->value_at != NULL ? l->value_at[i] : i;
}

/* The JSON value of l at level i, or NULL when null/absent. */
static json_t *
ck_value(const ck_leaf *l, int64_t i)
{
	const pq_column_batch *b = &l->b.values;
	int64_t v;

	if ((v = value_index(l, i)) < 0)
		return NULL;
	switch (b->type) {
	case PQ_STRING:
	case PQ_BINARY:
		return json_stringn(b->data + b->offsets[v],
		    b->offsets[v + 1] - b->offsets[v]);
	case PQ_INT32:
	case PQ_INT8:
	case PQ_INT16:
	case PQ_DATE:
		return json_integer(b->v.i32[v]);
	case PQ_BOOLEAN:
		return json_boolean(b->v.b[v]);
	case PQ_DOUBLE:
	case PQ_FLOAT:
		return json_real(b->v.f64[v]);
	default:
		return json_integer(b->v.i64[v]);
	}
}

static json_t *
row_value(const ck_leaf *l, int64_t row)
{
	return l->has_values ? ck_value(l, level_begin(l, row)) : NULL;
}

static void
set(json_t *obj, const char *key, json_t *v)
{
	if (v != NULL)
		json_object_set_new(obj, key, v);
}

/* Sets a feature list only when it names features: protocols before
 * table features have none, and an absent list reads back empty. */
static void
set_nonempty(json_t *obj, const char *key, json_t *arr)
{
	if (json_array_size(arr) > 0)
		json_object_set_new(obj, key, arr);
	else
		json_decref(arr);
}

/* A list<string> of the row as a JSON array (absent list: empty). */
static json_t *
row_list(const ck_leaf *l, int64_t row)
{
	json_t *arr = json_array();

	if (!l->has_values)
		return arr;
	for (int64_t i = level_begin(l, row); i < level_end(l, row); i++) {
		json_t *v = ck_value(l, i);

		if (v != NULL)
			json_array_append_new(arr, v);
	}
	return arr;
}

static json_t *
row_map(const ck_leaf *k, const ck_leaf *val, int64_t row)
{
	json_t *obj = json_object();

	if (!k->has_values || val->leaf < 0)
		return obj;
	for (int64_t i = level_begin(k, row); i < level_end(k, row); i++) {
		json_t *key = ck_value(k, i);
		json_t *v;

		if (key == NULL)
			continue;
		v = ck_value(val, i);
		json_object_set_new(obj, json_string_value(key),
		    v ? v : json_null());
		json_decref(key);
	}
	return obj;
}

/* The value index of l at row (its first level), or -1 when null. */
static int64_t
row_index(const ck_leaf *l, int64_t row)
{
	return l->has_values ? value_index(l, level_begin(l, row)) : -1;
}

static int64_t
row_int(const ck_leaf *l, int64_t row, int64_t otherwise)
{
	int64_t v = row_index(l, row);

	if (v < 0)
		return otherwise;
	return l->b.values.type == PQ_INT32 ? l->b.values.v.i32[v] :
	    l->b.values.v.i64[v];
}

/* The string of l at row, NUL-terminated in scratch (good until its
 * next use); NULL when null or out of memory (scratch->failed). */
static const char *
row_cstr(const ck_leaf *l, int64_t row, lake_buf *scratch)
{
	int64_t v = row_index(l, row);
	const pq_column_batch *b = &l->b.values;
	uint32_t n;

	if (v < 0 || (b->type != PQ_STRING && b->type != PQ_BINARY))
		return NULL;
	n = b->offsets[v + 1] - b->offsets[v];
	scratch->len = 0;
	if (lake_buf_reserve(scratch, (size_t)n + 1) == -1)
		return NULL;
	memcpy(scratch->data, b->data + b->offsets[v], n);
	scratch->data[n] = '\0';
	return (const char *)scratch->data;
}

/* A copy of the string of l at row, NUL-terminated; NULL when null or
 * out of memory (*nomem says which). */
static char *
row_string(const ck_leaf *l, int64_t row, int *nomem)
{
	int64_t v = row_index(l, row);
	const pq_column_batch *b = &l->b.values;
	char *s;

	if (v < 0 || (b->type != PQ_STRING && b->type != PQ_BINARY))
		return NULL;
	if ((s = strndup(b->data + b->offsets[v], b->offsets[v + 1] -
	    b->offsets[v])) == NULL)
		*nomem = 1;
	return s;
}

/* The partitionValues map of the row as JSON text ({} when absent). */
static char *
row_map_text(const ck_leaf *k, const ck_leaf *val, int64_t row,
    lake_err *err)
{
	lake_buf b = { 0 };
	int first = 1;

	lake_buf_append(&b, "{", 1);
	for (int64_t i = k->has_values ? level_begin(k, row) : 0;
	    k->has_values && val->leaf >= 0 && i < level_end(k, row); i++) {
		int64_t kv = value_index(k, i), vv = value_index(val, i);
		const pq_column_batch *kb = &k->b.values, *vb = &val->b.values;

		if (kv < 0)
			continue;
		if (!first)
			lake_buf_append(&b, ",", 1);
		first = 0;
		if (lake_json_put_string(&b, kb->data + kb->offsets[kv],
		    kb->offsets[kv + 1] - kb->offsets[kv]) == -1)
			goto bad;
		lake_buf_append(&b, ":", 1);
		if (vv < 0)
			lake_json_put_raw(&b, "null");
		else if (lake_json_put_string(&b, vb->data + vb->offsets[vv],
		    vb->offsets[vv + 1] - vb->offsets[vv]) == -1)
			goto bad;
	}
	lake_buf_append(&b, "}", 2);	/* with its NUL */
	if (b.failed) {
		lake_err_set(err, "checkpoint: out of memory");
		lake_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
bad:
	lake_err_set(err, "checkpoint: a partition value is not UTF-8");
	lake_buf_free(&b);
	return NULL;
}

/*
 * The add of the row, straight from its columns into the replay: a
 * checkpoint holds one per live file, and building each as a JSON
 * object first cost more than the rest of the load. The path goes
 * through scratch: the replay keeps its own (unescaped) copy.
 */
static int
replay_add_row(ck_leaf *L, int64_t row, int64_t version, delta_replay *st,
    lake_buf *scratch, lake_err *err)
{
	int nomem = 0;
	const char *path;
	char *stats, *pv;
	int64_t first = row_int(&L[L_ADD_FIRST_VERSION], row, -1);
	int64_t dc = row_index(&L[L_ADD_DATACHANGE], row);

	if (st->meta_only)
		return 0;
	/* The version that first committed the file, when the row says:
	 * not the checkpoint's own version. */
	if (first >= 0 && first <= version)
		version = first;
	stats = row_string(&L[L_ADD_STATS], row, &nomem);
	path = row_cstr(&L[L_ADD_PATH], row, scratch);
	if ((pv = row_map_text(&L[L_ADD_PV_KEY], &L[L_ADD_PV_VALUE], row,
	    err)) == NULL || nomem || scratch->failed) {
		if (nomem || scratch->failed)
			lake_err_set(err, "checkpoint: out of memory");
		free(stats);
		free(pv);
		return -1;
	}
	return delta_replay_file(st, path, version, 1, dc < 0 ||
	    L[L_ADD_DATACHANGE].b.values.v.b[dc], row_int(&L[L_ADD_SIZE], row,
	    0), row_int(&L[L_ADD_MTIME], row, 0), stats, pv, err);
}

/* The remove (tombstone) of the row, straight into the replay. */
static int
replay_remove_row(ck_leaf *L, int64_t row, int64_t version,
    delta_replay *st, lake_buf *scratch, lake_err *err)
{
	const char *path = row_cstr(&L[L_REMOVE_PATH], row, scratch);

	if (scratch->failed) {
		lake_err_set(err, "checkpoint: out of memory");
		return -1;
	}
	/* dataChange is not read: only incremental readers ask, and they
	 * read commits, never checkpoints. */
	return delta_replay_file(st, path, version, 0, 1, row_int(
	    &L[L_REMOVE_SIZE], row, 0), row_int(&L[L_REMOVE_DELETED], row, 0),
	    NULL, NULL, err);
}

/*
 * Whether the row holds none of the actions read: a tombstone when the
 * remove leaves are skipped, most rows of a checkpoint that a snapshot
 * of live files reads.
 */
static int
row_unread(ck_leaf *L, int64_t row)
{
	return row_index(&L[L_REMOVE_PATH], row) < 0 &&
	    row_index(&L[L_META_SCHEMA], row) < 0 &&
	    row_index(&L[L_PROTO_READER], row) < 0 &&
	    row_index(&L[L_TXN_APP], row) < 0;
}

static json_t *
build_action(ck_leaf *L, int64_t row)
{
	json_t *a = json_object(), *inner = json_object(), *v;

	if ((v = row_value(&L[L_ADD_PATH], row)) != NULL) {
		set(inner, "path", v);
		set(inner, "size", row_value(&L[L_ADD_SIZE], row));
		set(inner, "modificationTime",
		    row_value(&L[L_ADD_MTIME], row));
		set(inner, "dataChange", row_value(&L[L_ADD_DATACHANGE], row));
		set(inner, "stats", row_value(&L[L_ADD_STATS], row));
		set(inner, "defaultRowCommitVersion", row_value(
		    &L[L_ADD_FIRST_VERSION], row));
		set(inner, "partitionValues", row_map(&L[L_ADD_PV_KEY],
		    &L[L_ADD_PV_VALUE], row));
		json_object_set_new(a, "add", inner);
	} else if ((v = row_value(&L[L_REMOVE_PATH], row)) != NULL) {
		set(inner, "path", v);
		set(inner, "deletionTimestamp", row_value(&L[L_REMOVE_DELETED],
		    row));
		set(inner, "size", row_value(&L[L_REMOVE_SIZE], row));
		json_object_set_new(a, "remove", inner);
	} else if ((v = row_value(&L[L_META_SCHEMA], row)) != NULL) {
		json_t *provider = row_value(&L[L_META_PROVIDER], row);

		set(inner, "schemaString", v);
		set(inner, "id", row_value(&L[L_META_ID], row));
		set(inner, "partitionColumns", row_list(&L[L_META_PCOLS],
		    row));
		set(inner, "configuration", row_map(&L[L_META_CONF_KEY],
		    &L[L_META_CONF_VALUE], row));
		set(inner, "createdTime", row_value(&L[L_META_CREATED], row));
		if (provider != NULL)
			set(inner, "format", json_pack("{s:o, s:{}}",
			    "provider", provider, "options"));
		json_object_set_new(a, "metaData", inner);
	} else if ((v = row_value(&L[L_PROTO_READER], row)) != NULL) {
		set(inner, "minReaderVersion", v);
		set(inner, "minWriterVersion", row_value(&L[L_PROTO_WRITER],
		    row));
		set_nonempty(inner, "readerFeatures", row_list(
		    &L[L_PROTO_FEATURES], row));
		set_nonempty(inner, "writerFeatures", row_list(
		    &L[L_PROTO_WFEATURES], row));
		json_object_set_new(a, "protocol", inner);
	} else if ((v = row_value(&L[L_TXN_APP], row)) != NULL) {
		set(inner, "appId", v);
		set(inner, "version", row_value(&L[L_TXN_VERSION], row));
		json_object_set_new(a, "txn", inner);
	} else
		json_decref(inner);
	return a;
}

/*
 * Each action's key leaf, non-null exactly in the action's rows, and the
 * range of its leaves in L (key included).
 */
static const struct {
	int key, first, last;
} actions[] = {
	{ L_ADD_PATH, L_ADD_PATH, L_ADD_PV_VALUE },
	{ L_REMOVE_PATH, L_REMOVE_PATH, L_REMOVE_SIZE },
	{ L_META_SCHEMA, L_META_ID, L_META_CREATED },
	{ L_PROTO_READER, L_PROTO_READER, L_PROTO_WFEATURES },
	{ L_TXN_APP, L_TXN_APP, L_TXN_VERSION },
};

/*
 * Loads row group g's leaves of the actions it holds: the key leaves
 * first, then the other leaves of each action whose key has a value
 * there. 1 when the row group holds none of the actions read (the
 * tombstones' row groups of our checkpoints, for a replay of live
 * files), 0 when loaded, -1 on error.
 */
static int
load_row_group(pq_reader *r, int g, ck_leaf *L, int64_t nrows,
    lake_err *err)
{
	const size_t nactions = sizeof(actions) / sizeof(actions[0]);
	int any = 0;

	for (size_t a = 0; a < nactions; a++) {
		if (ck_leaf_load(r, g, &L[actions[a].key], nrows, err) == -1)
			return -1;
		any |= L[actions[a].key].has_values;
	}
	for (size_t a = 0; a < nactions; a++) {
		if (!L[actions[a].key].has_values)
			continue;
		for (int i = actions[a].first; i <= actions[a].last; i++)
			if (i != actions[a].key && ck_leaf_load(r, g, &L[i],
			    nrows, err) == -1)
				return -1;
	}
	return any ? 0 : 1;
}

/* Feeds row group g's rows (loaded) into st. */
static int
replay_rows(ck_leaf *L, int64_t nrows, int64_t version, delta_replay *st,
    lake_buf *scratch, lake_err *err)
{
	for (int64_t row = 0; row < nrows; row++) {
		json_t *a;
		int rc;

		if (row_index(&L[L_ADD_PATH], row) >= 0)
			rc = replay_add_row(L, row, version, st, scratch, err);
		else if (row_index(&L[L_REMOVE_PATH], row) >= 0)
			rc = replay_remove_row(L, row, version, st, scratch,
			    err);
		else if (row_unread(L, row))
			continue;
		else {
			a = build_action(L, row);
			rc = delta_replay_action(st, a, version, err);
			json_decref(a);
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

int
delta_checkpoint_read(const char *path, int64_t version, delta_replay *st,
    lake_err *err)
{
	ck_leaf L[L_COUNT];
	lake_buf scratch = { 0 };
	pq_reader *r;
	int rc = -1;

	if ((r = pq_reader_open(path, err)) == NULL)
		return -1;
	memset(L, 0, sizeof(L));
	for (int i = 0; i < L_COUNT; i++) {
		L[i].leaf = pq_reader_leaf_index(r, leaf_paths[i][0]);
		if (L[i].leaf < 0 && leaf_paths[i][1] != NULL)
			L[i].leaf = pq_reader_leaf_index(r, leaf_paths[i][1]);
		if (L[i].leaf >= 0) {
			L[i].max_def = pq_reader_leaf_max_def(r, L[i].leaf);
			L[i].max_rep = pq_reader_leaf_max_rep(r, L[i].leaf);
		}
	}
	if (L[L_ADD_PATH].leaf < 0 || L[L_META_SCHEMA].leaf < 0) {
		lake_err_set(err, "%s: not a Delta checkpoint (no add.path or "
		    "metaData.schemaString column)", path);
		goto out;
	}
	if (st->meta_only)
		for (int i = 0; i < L_FILE_LEAVES; i++)
			L[i].leaf = -1;
	if (st->live_only)
		for (int i = L_REMOVE_PATH; i <= L_REMOVE_SIZE; i++)
			L[i].leaf = -1;
	for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
		int64_t nrows = pq_reader_row_group_rows(r, g);
		int loaded = load_row_group(r, g, L, nrows, err);

		if (loaded == -1 || (loaded == 0 && replay_rows(L, nrows,
		    version, st, &scratch, err) == -1)) {
			lake_err_prefix(err, "%s", path);
			goto out;
		}
		for (int i = 0; i < L_COUNT; i++)
			ck_leaf_unload(&L[i]);
	}
	rc = 0;
out:
	for (int i = 0; i < L_COUNT; i++)
		ck_leaf_unload(&L[i]);
	lake_buf_free(&scratch);
	pq_reader_close(r);
	return rc;
}
