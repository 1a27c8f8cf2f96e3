/*
 * delta_vacuum_retained.c - the vacuum automatic maintenance runs: it
 * never deletes a file that a reader of a retained version may open.
 *
 * delta_vacuum() keeps what the newest snapshot lists and judges every
 * other file by its age; a file compacted away today but written weeks
 * ago would go at once, while time travel to a version still in the log,
 * a reader holding an older snapshot, or an incremental reader (which
 * reads the files of the commits it has not seen, see delta_changes)
 * still needs it. Here the files kept are every file live at the oldest
 * retained version plus every file any later retained commit adds; a
 * file outside that set goes only once it is also older than the
 * retention (delta.deletedFileRetentionDuration, default one week), which
 * keeps the files of a writer that has not committed yet.
 *
 * Cost: one replay at the oldest retained version (from its checkpoint)
 * and one pass over every retained commit's add lines, so it is meant to
 * run every so often (maintenance: once a day by default), not after
 * every commit. A compacted-away file's disk space comes back once log
 * cleanup has dropped the versions that name it (delta.logRetentionDuration).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "delta_internal.h"
#include "lake_store.h"

#define DEFAULT_FILE_RETENTION "interval 1 week"
#define RETRIES 3

typedef struct path_set {
	char **paths;
	size_t n, cap;
} path_set;

static void
path_set_free(path_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->paths[i]);
	free(s->paths);
	memset(s, 0, sizeof(*s));
}

/* Takes ownership of path. */
static int
path_set_add(path_set *s, char *path)
{
	if (path == NULL)
		return -1;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		char **np = realloc(s->paths, cap * sizeof(*np));

		if (np == NULL) {
			free(path);
			return -1;
		}
		s->paths = np;
		s->cap = cap;
	}
	s->paths[s->n++] = path;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
path_set_has(const path_set *s, const char *path)
{
	return s->n > 0 && bsearch(&path, s->paths, s->n, sizeof(char *),
	    cmp_str) != NULL;
}

/* The files live at version (its checkpoint and the commits after). */
static int
add_live_at(const char *table_dir, int64_t version, path_set *keep,
    lake_err *err)
{
	delta_replay *st;
	int64_t replayed;
	int rc;

	if ((rc = delta_replay_load(table_dir, version, REPLAY_LIVE, &st,
	    &replayed, err)) != DELTA_OK)
		return -1;
	for (size_t i = 0; i < st->nfiles; i++)
		if (st->files[i].live && path_set_add(keep,
		    strdup(st->files[i].f.path)) == -1) {
			lake_err_set(err, "%s: out of memory", table_dir);
			delta_replay_free(st);
			return -1;
		}
	delta_replay_free(st);
	return 0;
}

/*
 * Every path commit version adds. 1 when the commit is gone (log
 * cleanup ran meanwhile: start over from the new oldest version).
 */
static int
add_commit_adds(const char *table_dir, int64_t version, path_set *keep,
    lake_err *err)
{
	char *path = delta_log_file(table_dir, version, ".json");
	char *text = NULL, *cur, *line;
	size_t len, n;
	int rc;

	if (path == NULL) {
		lake_err_set(err, "out of memory");
		return -1;
	}
	if ((rc = delta_commit_text(path, &text, &len, err)) != 0) {
		free(path);
		return rc;
	}
	rc = -1;
	cur = text;
	while ((line = delta_next_line(&cur, text + len, &n)) != NULL) {
		json_t *a;
		const char *p;

		if (strncmp(line, "{\"add\":", 7) != 0)
			continue;
		a = json_loads(line, 0, NULL);
		p = json_string_value(json_object_get(json_object_get(a,
		    "add"), "path"));
		if (p != NULL && path_set_add(keep, delta_unescape(p)) == -1) {
			json_decref(a);
			lake_err_set(err, "%s: out of memory", table_dir);
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

/* 0, 1 to start over (the log moved under us), -1. */
static int
collect_retained(const char *table_dir, path_set *keep, lake_err *err)
{
	int64_t oldest, newest, now_oldest;
	int rc;

	if (delta_oldest_version(table_dir, &oldest, err) != DELTA_OK ||
	    delta_latest_version(table_dir, &newest, err) != DELTA_OK)
		return -1;
	if (add_live_at(table_dir, oldest, keep, err) == -1)
		return delta_oldest_version(table_dir, &now_oldest, NULL) ==
		    DELTA_OK && now_oldest > oldest ? 1 : -1;
	for (int64_t v = oldest + 1; v <= newest; v++)
		if ((rc = add_commit_adds(table_dir, v, keep, err)) != 0)
			return rc;
	return 0;
}

typedef struct sweep {
	const path_set *keep;
	int64_t cutoff_us;	/* whole seconds, as the files' mtimes were
				   compared before */
	const char *table_dir;
	int failed;
	void (*cb)(const char *path, void *arg);
	void *arg;
	int dry_run;		/* list, delete nothing */
	int deleted;
	lake_err *err;
} sweep;

/* One file of the table's tree (not the log, nor hidden files). */
static int
sweep_one(const lake_store_entry *e, void *arg)
{
	sweep *s = arg;
	char path[4200];

	if (e->mtime_us < 0 || e->mtime_us > s->cutoff_us ||
	    path_set_has(s->keep, e->name))
		return 0;
	if (snprintf(path, sizeof(path), "%s/%s", s->table_dir, e->name) >=
	    (int)sizeof(path))
		return 0;
	if (!s->dry_run && lake_store_delete(path, s->err) != 0) {
		s->failed = 1;
		return 1;
	}
	s->deleted++;
	if (s->cb != NULL)
		s->cb(e->name, s->arg);
	return 0;
}

/* retention_us, or the table's delta.deletedFileRetentionDuration. */
static int64_t
file_retention(const char *table_dir, int64_t retention_us, lake_err *err)
{
	delta_replay *st;
	int64_t v, us;
	const char *text;

	if (retention_us >= 0)
		return retention_us;
	if (delta_replay_load(table_dir, -1, REPLAY_META, &st, &v, err) !=
	    DELTA_OK)
		return -1;
	text = delta_config_get(st->metadata,
	    "delta.deletedFileRetentionDuration");
	us = delta_parse_interval(text ? text : DEFAULT_FILE_RETENTION);
	if (us < 0) {
		lake_err_set(err, "%s: delta.deletedFileRetentionDuration '%s' "
		    "is not an interval such as '7 days'", table_dir,
		    text ? text : DEFAULT_FILE_RETENTION);
	}
	delta_replay_free(st);
	return us;
}

int
delta_vacuum_retained(const char *table_dir, int64_t retention_us,
    int64_t now_us, int dry_run, void (*cb)(const char *path, void *arg),
    void *arg, lake_err *err)
{
	path_set keep = { 0 };
	sweep s;
	int rc = 1;

	if ((retention_us = file_retention(table_dir, retention_us, err)) < 0)
		return -1;
	for (int attempt = 0; attempt < RETRIES && rc == 1; attempt++) {
		path_set_free(&keep);
		rc = collect_retained(table_dir, &keep, err);
	}
	if (rc != 0) {
		if (rc == 1)
			lake_err_set(err, "%s: the log kept changing under the "
			    "vacuum; try again", table_dir);
		path_set_free(&keep);
		return -1;
	}
	qsort(keep.paths, keep.n, sizeof(char *), cmp_str);
	memset(&s, 0, sizeof(s));
	s.keep = &keep;
	s.cutoff_us = ((now_us - retention_us) / 1000000) * 1000000 + 999999;
	s.table_dir = table_dir;
	s.cb = cb;
	s.arg = arg;
	s.dry_run = dry_run;
	s.err = err;
	rc = lake_store_list(table_dir, NULL, LAKE_LIST_TREE | LAKE_LIST_STAT,
	    sweep_one, &s, err);
	path_set_free(&keep);
	return rc == 0 && !s.failed ? s.deleted : -1;
}
