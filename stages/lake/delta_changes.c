/*
 * delta_changes.c - incremental reading: what the commits after a
 * reader's bookmark added.
 *
 * A stage keeps, as a txn in its own output table, the version of each
 * input it has consumed; the next run replays only the commits after it
 * (never a checkpoint), skipping dataChange:false actions (compaction),
 * so rows rewritten by OPTIMIZE are never read twice. A bookmark that
 * fell behind log cleanup is an error that names the oldest version
 * left, never a silent gap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "delta_internal.h"
#include "lake_store.h"

/*
 * Whether commit version is still in the log; when log cleanup has
 * deleted it, err says so and names the oldest version left, so an
 * incremental reader that fell that far behind knows to start over from
 * a snapshot.
 */
static int
commit_retained(const char *table_dir, int64_t version, lake_err *err)
{
	char *path = delta_log_file(table_dir, version, ".json");
	int64_t oldest = -1;
	int ok = path != NULL && lake_store_stat(path, NULL, NULL, NULL) == 0;

	free(path);
	if (ok)
		return 1;
	if (delta_oldest_version(table_dir, &oldest, NULL) == DELTA_OK &&
	    oldest > version)
		lake_err_set(err, "%s: version %lld is no longer retained: the "
		    "oldest readable version is %lld", table_dir,
		    (long long)version, (long long)oldest);
	else
		lake_err_set(err, "%s: commit %lld is missing; the log is "
		    "damaged", table_dir, (long long)version);
	return 0;
}

int
delta_changes(const char *table_dir, int64_t after_version,
    int64_t upto_version, delta_file **files, size_t *nfiles, lake_err *err)
{
	delta_replay *st = delta_replay_new();
	size_t n = 0;

	*files = NULL;
	*nfiles = 0;
	if (st == NULL) {
		lake_err_set(err, "out of memory");
		return -1;
	}
	st->data_change_only = 1;
	if (after_version < upto_version && !commit_retained(table_dir,
	    after_version + 1, err)) {
		delta_replay_free(st);
		return -1;
	}
	for (int64_t v = after_version + 1; v <= upto_version; v++) {
		if (delta_replay_commit(table_dir, v, st, err) == -1) {
			delta_replay_free(st);
			return -1;
		}
	}
	/* Only adds and removes matter here. */
	*files = calloc(st->nfiles + 1, sizeof(delta_file));
	if (*files == NULL) {
		delta_replay_free(st);
		lake_err_set(err, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < st->nfiles; i++) {
		delta_file_entry *e = &st->files[i];

		if (!e->live)
			continue;
		(*files)[n] = e->f;
		memset(&e->f, 0, sizeof(e->f));
		free((*files)[n].partition_values);
		(*files)[n].partition_values = NULL;
		(*files)[n].num_records = delta_stats_num_records(
		    (*files)[n].stats_json);
		n++;
	}
	*nfiles = n;
	delta_replay_free(st);
	return 0;
}

char *
delta_commit_info(const char *table_dir, int64_t version, lake_err *err)
{
	char *path = delta_log_file(table_dir, version, ".json");
	char *text = NULL, *cur, *line, *out = NULL;
	size_t len, n;

	if (path == NULL || delta_commit_text(path, &text, &len, err) != 0) {
		if (path == NULL)
			lake_err_set(err, "out of memory");
		free(path);
		return NULL;
	}
	cur = text;
	while (out == NULL &&
	    (line = delta_next_line(&cur, text + len, &n)) != NULL) {
		json_t *a = json_loads(line, 0, NULL);
		json_t *info = json_object_get(a, "commitInfo");

		if (info != NULL)
			out = json_dumps(info, JSON_COMPACT);
		json_decref(a);
	}
	if (out == NULL)
		lake_err_set(err, "%s has no commitInfo", path);
	free(text);
	free(path);
	return out;
}
