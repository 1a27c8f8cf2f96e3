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
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "delta_internal.h"
#include "lake_store.h"

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

typedef struct list_ctx {
	delta_log_listing *l;
	int failed;
} list_ctx;

static int
list_one(const lake_store_entry *e, void *arg)
{
	list_ctx *x = arg;
	delta_log_listing *l = x->l;
	int64_t v;
	const char *suffix;
	int rc = 0;

	if (parse_log_name(e->name, &v, &suffix) == -1)
		return 0;
	if (strcmp(suffix, ".json") == 0)
		rc = push_i64(&l->versions, &l->n, v);
	else if (strcmp(suffix, ".checkpoint.parquet") == 0)
		rc = push_i64(&l->checkpoints, &l->ncheckpoints, v);
	if (rc == -1)
		x->failed = 1;
	return rc == -1;
}

/* The log's commits and checkpoints whose names sort after start_after
 * (NULL: all). */
static int
list_log(const char *table_dir, const char *start_after,
    delta_log_listing *l, lake_err *err)
{
	char path[4096];
	list_ctx x = { l, 0 };
	int rc;

	memset(l, 0, sizeof(*l));
	snprintf(path, sizeof(path), "%s/_delta_log", table_dir);
	rc = lake_store_list(path, start_after, 0, list_one, &x, err);
	if (rc == LAKE_STORE_NOT_FOUND) {
		lake_err_set(err, "%s: not a Delta table (no "
		    "_delta_log folder)", table_dir);
		return DELTA_NO_TABLE;
	}
	if (rc != 0) {
		delta_log_listing_free(l);
		return DELTA_ERROR;
	}
	if (x.failed) {
		delta_log_listing_free(l);
		lake_err_set(err, "out of memory");
		return DELTA_ERROR;
	}
	/* Names sort as versions: %020d. */
	return DELTA_OK;
}

/* Returns DELTA_OK, DELTA_NO_TABLE or DELTA_ERROR. */
int
delta_log_list(const char *table_dir, delta_log_listing *l,
    lake_err *err)
{
	int rc = list_log(table_dir, NULL, l, err);

	if (rc != DELTA_OK)
		return rc;
	if (l->n == 0 && l->ncheckpoints == 0) {
		delta_log_listing_free(l);
		lake_err_set(err, "%s: not a Delta table (empty _delta_log)",
		    table_dir);
		return DELTA_NO_TABLE;
	}
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
	char path[4096], start[64];
	int64_t hint = delta_last_checkpoint_hint(table_dir);
	int rc;

	memset(l, 0, sizeof(*l));
	if (hint < 0 || snprintf(path, sizeof(path), "%s/_delta_log/%020"
	    PRId64 ".checkpoint.parquet", table_dir, hint) >=
	    (int)sizeof(path))
		return 1;
	if (lake_store_is_remote(table_dir)) {
		/*
		 * One listing from the hint on (a request per commit probed
		 * would cost more): every name after "<hint>.checkpoint",
		 * the hinted checkpoint itself included.
		 */
		size_t k = 0;
		int found;

		snprintf(start, sizeof(start), "%020" PRId64 ".checkpoint",
		    hint);
		if ((rc = list_log(table_dir, start, l, err)) != DELTA_OK)
			return rc == DELTA_NO_TABLE ? 1 : -1;
		found = delta_log_has_version(l->checkpoints,
		    l->ncheckpoints, hint);
		l->ncheckpoints = 0;	/* as below: the hinted one only */
		if (!found) {
			delta_log_listing_free(l);
			return 1;
		}
		if (push_i64(&l->checkpoints, &l->ncheckpoints, hint) == -1)
			goto nomem;
		/* <hint>.json sorts after <hint>.checkpoint: drop it; keep
		 * the contiguous run after the hint, as probing would. */
		for (size_t i = 0; i < l->n; i++) {
			if (l->versions[i] <= hint)
				continue;
			if (l->versions[i] != hint + 1 + (int64_t)k)
				break;
			l->versions[k++] = l->versions[i];
		}
		l->n = k;
		return 0;
	}
	if (lake_store_stat(path, NULL, NULL, NULL) != 0)
		return 1;
	if (push_i64(&l->checkpoints, &l->ncheckpoints, hint) == -1)
		goto nomem;
	for (int64_t v = hint + 1;; v++) {
		snprintf(path, sizeof(path), "%s/_delta_log/%020" PRId64
		    ".json", table_dir, v);
		rc = lake_store_stat(path, NULL, NULL, err);
		if (rc == LAKE_STORE_NOT_FOUND)
			return 0;
		if (rc != 0) {
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
	uint8_t *text;
	size_t len;
	json_t *j;
	int64_t v = -1;

	snprintf(path, sizeof(path), "%s/_delta_log/_last_checkpoint",
	    table_dir);
	if (lake_store_read_all(path, &text, &len, NULL) != 0)
		return -1;
	j = json_loadb((const char *)text, len, 0, NULL);
	free(text);
	if (j == NULL)
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

int
delta_commit_text(const char *path, char **text, size_t *len, lake_err *err)
{
	uint8_t *data;
	int rc = lake_store_read_all(path, &data, len, err);

	if (rc == LAKE_STORE_NOT_FOUND)
		return 1;
	if (rc != 0)
		return -1;
	*text = (char *)data;
	return 0;
}

char *
delta_next_line(char **cur, char *end, size_t *len)
{
	char *line = *cur, *nl;

	if (line >= end)
		return NULL;
	if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
		nl = end;	/* the last line, without a newline */
	*nl = '\0';
	*len = (size_t)(nl - line);
	*cur = nl + 1;
	return line;
}
