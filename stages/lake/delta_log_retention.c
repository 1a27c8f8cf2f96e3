/*
 * delta_log_retention.c - deleting expired log files, as Delta's metadata
 * cleanup does.
 *
 * A commit or checkpoint file may go once it is older than the table's
 * delta.logRetentionDuration (by file modification time, as Delta) and a
 * newer checkpoint makes it unnecessary. We pick the boundary B: the
 * newest checkpoint such that every log file of an older version has
 * expired. Everything before B is deleted, oldest version first, so at
 * every moment (a crash included) the log still reads from B onwards;
 * versions before B are gone, and time travel to them says so. B itself,
 * the newest checkpoint and every later commit always stay. Before
 * deleting anything, B's checkpoint is read back: commits are never
 * traded for a checkpoint that cannot be read.
 *
 * The listing is one listing of _delta_log through the storage seam;
 * local files are stat(2)ed only when the oldest version has expired
 * (else nothing can go), so calling this after every checkpoint is
 * cheap; S3's listing carries each object's time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta_internal.h"
#include "lake_store.h"

#define DEFAULT_LOG_RETENTION "interval 30 days"

typedef struct log_entry {
	int64_t version;
	int is_checkpoint;
	char name[40];		/* %020d.json or %020d.checkpoint.parquet */
	int64_t mtime_us;	/* from the listing, -1 when it had none */
	int expired;		/* set by stat_entries */
} log_entry;

typedef struct temp_entry {
	char *name;
	int64_t mtime_us;
} temp_entry;

typedef struct log_names {
	log_entry *entries;	/* sorted by version, commit first */
	size_t n;
	size_t cap;
	temp_entry *temps;	/* .tmp-* leftovers of crashed writers */
	size_t ntemps;
} log_names;

static void
names_free(log_names *l)
{
	free(l->entries);
	for (size_t i = 0; i < l->ntemps; i++)
		free(l->temps[i].name);
	free(l->temps);
	memset(l, 0, sizeof(*l));
}

/* "%020d" + suffix: 0 and the version, or -1 for any other name. */
static int
parse_name(const char *name, int64_t *version, int *is_checkpoint)
{
	int64_t v = 0;

	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	if (strcmp(name + 20, ".json") == 0)
		*is_checkpoint = 0;
	else if (strcmp(name + 20, ".checkpoint.parquet") == 0)
		*is_checkpoint = 1;
	else
		return -1;
	*version = v;
	return 0;
}

static int
push_entry(log_names *l, int64_t version, int is_checkpoint,
    const char *name, int64_t mtime_us)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		log_entry *p = realloc(l->entries, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		l->entries = p;
		l->cap = cap;
	}
	l->entries[l->n].version = version;
	l->entries[l->n].is_checkpoint = is_checkpoint;
	l->entries[l->n].expired = 0;
	l->entries[l->n].mtime_us = mtime_us;
	/* parse_name() accepted it: at most 39 characters. */
	if (snprintf(l->entries[l->n].name, sizeof(l->entries[l->n].name),
	    "%.39s", name) >= (int)sizeof(l->entries[l->n].name))
		return -1;
	l->n++;
	return 0;
}

static int
push_temp(log_names *l, const char *name, int64_t mtime_us)
{
	temp_entry *p = realloc(l->temps, (l->ntemps + 1) * sizeof(*p));

	if (p == NULL)
		return -1;
	l->temps = p;
	if ((p[l->ntemps].name = strdup(name)) == NULL)
		return -1;
	p[l->ntemps].mtime_us = mtime_us;
	l->ntemps++;
	return 0;
}

static int
cmp_entry(const void *a, const void *b)
{
	const log_entry *x = a, *y = b;

	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return x->is_checkpoint - y->is_checkpoint;
}

typedef struct list_ctx {
	log_names *l;
	int failed;
} list_ctx;

static int
list_one(const lake_store_entry *e, void *arg)
{
	list_ctx *x = arg;
	int64_t v;
	int ck, rc = 0;

	if (strncmp(e->name, ".tmp-", 5) == 0)
		rc = push_temp(x->l, e->name, e->mtime_us);
	else if (parse_name(e->name, &v, &ck) == 0)
		rc = push_entry(x->l, v, ck, e->name, e->mtime_us);
	if (rc == -1)
		x->failed = 1;
	return rc == -1;
}

static int
list_names(const char *log_dir, log_names *l, lake_err *err)
{
	list_ctx x = { l, 0 };

	memset(l, 0, sizeof(*l));
	if (lake_store_list(log_dir, NULL, 0, list_one, &x, err) != 0) {
		names_free(l);
		return -1;
	}
	if (x.failed) {
		names_free(l);
		lake_err_set(err, "%s: out of memory", log_dir);
		return -1;
	}
	if (l->n > 0)
		qsort(l->entries, l->n, sizeof(log_entry), cmp_entry);
	return 0;
}

/* Whether the file was last modified at or before cutoff_us (by the
 * listing's time when it had one); a file that is gone already counts
 * as expired. */
static int
file_expired(const char *log_dir, const char *name, int64_t mtime_us,
    int64_t cutoff_us, int *expired, lake_err *err)
{
	char path[4200];
	int rc;

	if (mtime_us >= 0) {
		*expired = mtime_us <= cutoff_us;
		return 0;
	}
	if (snprintf(path, sizeof(path), "%s/%s", log_dir, name) >=
	    (int)sizeof(path)) {
		lake_err_set(err, "%s: path too long", log_dir);
		return -1;
	}
	if ((rc = lake_store_stat(path, NULL, &mtime_us, err)) != 0) {
		if (rc != LAKE_STORE_NOT_FOUND)
			return -1;
		*expired = 1;
		return 0;
	}
	*expired = mtime_us <= cutoff_us;
	return 0;
}

/*
 * The boundary: the index of the newest checkpoint entry before which
 * every file has expired, or 0 when there is none (nothing to delete).
 * Stats files in version order and stops at the first live one.
 */
static int
find_boundary(const char *log_dir, log_names *l, int64_t cutoff_us,
    size_t *boundary, lake_err *err)
{
	size_t i = 0;

	*boundary = 0;
	while (i < l->n) {
		int64_t v = l->entries[i].version;
		size_t first = i;
		int all_expired = 1;

		/* A checkpoint at v may be the boundary if all before it
		 * expired (files at v itself stay). */
		for (size_t k = first; k < l->n && l->entries[k].version == v;
		    k++)
			if (l->entries[k].is_checkpoint && first > 0)
				*boundary = k;
		for (; i < l->n && l->entries[i].version == v; i++) {
			if (file_expired(log_dir, l->entries[i].name,
			    l->entries[i].mtime_us, cutoff_us,
			    &l->entries[i].expired, err) == -1)
				return -1;
			all_expired &= l->entries[i].expired;
		}
		if (!all_expired)
			break;
	}
	return 0;
}

/* Reads the boundary checkpoint's metadata back: never trade commits for
 * a checkpoint that cannot be read. */
static int
checkpoint_readable(const char *log_dir, const log_entry *e, lake_err *err)
{
	char path[4200];
	delta_replay *st = delta_replay_new();
	int rc = -1;

	if (st == NULL) {
		lake_err_set(err, "out of memory");
		return -1;
	}
	st->meta_only = 1;
	if (snprintf(path, sizeof(path), "%s/%s", log_dir, e->name) >=
	    (int)sizeof(path))
		lake_err_set(err, "%s: path too long", log_dir);
	else if (delta_checkpoint_read(path, e->version, st, err) == 0 &&
	    st->metadata != NULL && st->protocol != NULL)
		rc = 0;
	else if (st->metadata == NULL || st->protocol == NULL)
		lake_err_set(err, "%s: checkpoint has no metaData or protocol",
		    path);
	delta_replay_free(st);
	if (rc == -1)
		lake_err_prefix(err, "kept every log file");
	return rc;
}

static int
remove_file(const char *log_dir, const char *name,
    void (*cb)(const char *path, void *arg), void *arg, lake_err *err)
{
	char path[4200];

	if (snprintf(path, sizeof(path), "%s/%s", log_dir, name) >=
	    (int)sizeof(path)) {
		lake_err_set(err, "%s: path too long", log_dir);
		return -1;
	}
	if (lake_store_delete(path, err) != 0)
		return -1;
	if (cb != NULL)
		cb(path, arg);
	return 0;
}

/* Temp files of crashed writers, once expired: no reader lists them. */
static int
remove_stale_temps(const char *log_dir, const log_names *l, int64_t cutoff_us,
    void (*cb)(const char *path, void *arg), void *arg, lake_err *err)
{
	int removed = 0;

	for (size_t i = 0; i < l->ntemps; i++) {
		int expired;

		if (file_expired(log_dir, l->temps[i].name,
		    l->temps[i].mtime_us, cutoff_us, &expired, err) == -1)
			return -1;
		if (!expired)
			continue;
		if (remove_file(log_dir, l->temps[i].name, cb, arg, err) == -1)
			return -1;
		removed++;
	}
	return removed;
}

static int64_t
table_log_retention(const char *table_dir, lake_err *err)
{
	delta_snapshot *snap;
	int64_t us;

	if (delta_snapshot_load_meta(table_dir, &snap, err) != DELTA_OK)
		return -1;
	us = delta_parse_interval(delta_snapshot_property(snap,
	    "delta.logRetentionDuration"));
	delta_snapshot_free(snap);
	return us >= 0 ? us : delta_parse_interval(DEFAULT_LOG_RETENTION);
}

int
delta_log_cleanup(const char *table_dir, int64_t retention_us,
    int64_t now_us, void (*cb)(const char *path, void *arg), void *arg,
    lake_err *err)
{
	char log_dir[4096];
	log_names l;
	size_t boundary;
	int64_t cutoff_us;
	int removed = 0, rc = -1;

	if (snprintf(log_dir, sizeof(log_dir), "%s/_delta_log", table_dir) >=
	    (int)sizeof(log_dir)) {
		lake_err_set(err, "%s: path too long", table_dir);
		return -1;
	}
	if (retention_us < 0 && (retention_us = table_log_retention(table_dir,
	    err)) < 0)
		return -1;
	cutoff_us = now_us - retention_us;
	if (list_names(log_dir, &l, err) == -1)
		return -1;
	if ((removed = remove_stale_temps(log_dir, &l, cutoff_us, cb, arg,
	    err)) == -1)
		goto out;
	if (find_boundary(log_dir, &l, cutoff_us, &boundary, err) == -1)
		goto out;
	if (boundary > 0 && checkpoint_readable(log_dir,
	    &l.entries[boundary], err) == -1)
		goto out;
	for (size_t i = 0; i < boundary &&
	    l.entries[i].version < l.entries[boundary].version; i++) {
		if (remove_file(log_dir, l.entries[i].name, cb, arg, err) == -1)
			goto out;
		removed++;
	}
	if (removed > 0 && lake_store_sync_dir(log_dir, err) != 0)
		goto out;
	rc = removed;
out:
	names_free(&l);
	return rc;
}
