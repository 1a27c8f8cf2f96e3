/*
 * delta_log.c - the _delta_log folder: which commits and checkpoints it
 * holds.
 *
 * Readers of the newest version never list the folder, whose size
 * follows delta.logRetentionDuration: they start from _last_checkpoint
 * and probe the commits after it by name (delta_log_list_from_hint).
 * Time travel, a stale or dangling hint, and log cleanup list it whole
 * (delta_log_list). Versions are contiguous, each commit put-if-absent
 * after the one before it, and log cleanup deletes only what lies before
 * a checkpoint, so "the oldest readable version" is commit 0 while it is
 * there, else the oldest checkpoint.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "delta_internal.h"

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int
push_i64(int64_t **arr, size_t *n, int64_t v)
{
	int64_t *p = realloc(*arr, (*n + 1) * sizeof(int64_t));

	if (p == NULL)
		return -1;
	p[(*n)++] = v;
	*arr = p;
	return 0;
}

static int
parse_log_name(const char *name, int64_t *version, const char **suffix)
{
	int64_t v = 0;
	int i;

	for (i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	*version = v;
	*suffix = name + 20;
	return 0;
}

void
delta_log_listing_free(delta_log_listing *l)
{
	free(l->versions);
	free(l->checkpoints);
	memset(l, 0, sizeof(*l));
}

/* Returns DELTA_OK, DELTA_NO_TABLE or DELTA_ERROR. */
int
delta_log_list(const char *table_dir, delta_log_listing *l,
    lake_err *err)
{
	char path[4096];
	struct dirent *de;
	DIR *d;

	memset(l, 0, sizeof(*l));
	snprintf(path, sizeof(path), "%s/_delta_log", table_dir);
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT) {
			lake_err_set(err, "%s: not a Delta table (no "
			    "_delta_log folder)", table_dir);
			return DELTA_NO_TABLE;
		}
		lake_err_errno(err, "cannot list %s", path);
		return DELTA_ERROR;
	}
	while ((de = readdir(d)) != NULL) {
		int64_t v;
		const char *suffix;
		int rc = 0;

		if (parse_log_name(de->d_name, &v, &suffix) == -1)
			continue;
		if (strcmp(suffix, ".json") == 0)
			rc = push_i64(&l->versions, &l->n, v);
		else if (strcmp(suffix, ".checkpoint.parquet") == 0)
			rc = push_i64(&l->checkpoints, &l->ncheckpoints, v);
		if (rc == -1) {
			closedir(d);
			delta_log_listing_free(l);
			lake_err_set(err, "out of memory");
			return DELTA_ERROR;
		}
	}
	closedir(d);
	if (l->n == 0 && l->ncheckpoints == 0) {
		delta_log_listing_free(l);
		lake_err_set(err, "%s: not a Delta table (empty _delta_log)",
		    table_dir);
		return DELTA_NO_TABLE;
	}
	if (l->n > 0)
		qsort(l->versions, l->n, sizeof(int64_t), cmp_i64);
	if (l->ncheckpoints > 0)
		qsort(l->checkpoints, l->ncheckpoints, sizeof(int64_t),
		    cmp_i64);
	return DELTA_OK;
}

/*
 * The log from _last_checkpoint on, without listing the folder, whose
 * size follows delta.logRetentionDuration (some 8,600 commits at one a
 * run every 5 minutes): the hinted checkpoint, and the commits after it
 * probed one name at a time (commits are contiguous, each put-if-absent
 * after the one before it). 0 with l filled; 1 when there is no usable
 * hint (no _last_checkpoint, or its checkpoint is gone): list the folder
 * instead; -1 with err when a name cannot be looked up.
 */
int
delta_log_list_from_hint(const char *table_dir, delta_log_listing *l,
    lake_err *err)
{
	char path[4096];
	struct stat sb;
	int64_t hint = delta_last_checkpoint_hint(table_dir);

	memset(l, 0, sizeof(*l));
	if (hint < 0 || snprintf(path, sizeof(path), "%s/_delta_log/%020"
	    PRId64 ".checkpoint.parquet", table_dir, hint) >=
	    (int)sizeof(path) || stat(path, &sb) == -1)
		return 1;
	if (push_i64(&l->checkpoints, &l->ncheckpoints, hint) == -1)
		goto nomem;
	for (int64_t v = hint + 1;; v++) {
		snprintf(path, sizeof(path), "%s/_delta_log/%020" PRId64
		    ".json", table_dir, v);
		if (stat(path, &sb) == -1) {
			if (errno == ENOENT)
				return 0;
			lake_err_errno(err, "cannot look up %s", path);
			delta_log_listing_free(l);
			return -1;
		}
		if (push_i64(&l->versions, &l->n, v) == -1)
			goto nomem;
	}
nomem:
	delta_log_listing_free(l);
	lake_err_set(err, "out of memory");
	return -1;
}

/* The newest version of a listing. */
int64_t
delta_log_listing_newest(const delta_log_listing *l)
{
	int64_t v = l->n > 0 ? l->versions[l->n - 1] : -1;

	if (l->ncheckpoints > 0 && l->checkpoints[l->ncheckpoints - 1] > v)
		v = l->checkpoints[l->ncheckpoints - 1];
	return v;
}

int
delta_latest_version(const char *table_dir, int64_t *version,
    lake_err *err)
{
	delta_log_listing l;
	int rc = delta_log_list_from_hint(table_dir, &l, err);

	if (rc == -1)
		return DELTA_ERROR;
	if (rc == 1 && (rc = delta_log_list(table_dir, &l, err)) != DELTA_OK)
		return rc;
	*version = delta_log_listing_newest(&l);
	delta_log_listing_free(&l);
	return DELTA_OK;
}

/* _last_checkpoint's version, or -1 when absent or unreadable. */
int64_t
delta_last_checkpoint_hint(const char *table_dir)
{
	char path[4096];
	json_t *j;
	int64_t v = -1;

	snprintf(path, sizeof(path), "%s/_delta_log/_last_checkpoint",
	    table_dir);
	if ((j = json_load_file(path, 0, NULL)) == NULL)
		return -1;
	if (json_is_integer(json_object_get(j, "version")) &&
	    json_object_get(j, "parts") == NULL)
		v = json_integer_value(json_object_get(j, "version"));
	json_decref(j);
	return v;
}

int
delta_log_has_version(const int64_t *arr, size_t n, int64_t v)
{
	return n > 0 && bsearch(&v, arr, n, sizeof(int64_t), cmp_i64) != NULL;
}

/* Every commit in (from, to] is in the listing. */
int
delta_log_commits_cover(const delta_log_listing *l, int64_t from,
    int64_t to)
{
	for (int64_t v = from + 1; v <= to; v++)
		if (!delta_log_has_version(l->versions, l->n, v))
			return 0;
	return 1;
}

/*
 * The oldest version a reader can still rebuild: 0 while the first
 * commit is there, else the oldest checkpoint (log cleanup deletes only
 * what lies before a checkpoint). -1 when there is neither.
 */
int64_t
delta_log_oldest_readable(const delta_log_listing *l)
{
	if (l->n > 0 && l->versions[0] == 0)
		return 0;
	return l->ncheckpoints > 0 ? l->checkpoints[0] : -1;
}

int
delta_oldest_version(const char *table_dir, int64_t *version,
    lake_err *err)
{
	delta_log_listing l;
	int rc = delta_log_list(table_dir, &l, err);

	if (rc != DELTA_OK)
		return rc;
	*version = delta_log_oldest_readable(&l);
	delta_log_listing_free(&l);
	if (*version < 0) {
		lake_err_set(err, "%s: the log has neither its first commit "
		    "nor a checkpoint", table_dir);
		return DELTA_ERROR;
	}
	return DELTA_OK;
}
