/*
 * delta_vacuum.c - removing files no snapshot references.
 *
 * Walks the table folder (not _delta_log, not hidden or _-prefixed
 * folders), and deletes regular files that the newest snapshot does not
 * list and whose modification time is older than the retention. The age
 * check is what keeps a writer that is still writing safe: its files are
 * young. Stale commit temp files in _delta_log are removed the same way.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "delta_internal.h"

typedef struct vacuum_ctx {
	const delta_snapshot *snap;
	time_t cutoff;
	int dry_run;
	void (*cb)(const char *path, void *arg);
	void *arg;
	lake_err *err;
	size_t prefix_len;	/* strlen(table_dir) + 1 */
} vacuum_ctx;

static int
cmp_path(const void *key, const void *elem)
{
	return strcmp((const char *)key, ((const delta_file *)elem)->path);
}

static int
is_live(const delta_snapshot *snap, const char *rel)
{
	return snap->nfiles > 0 && bsearch(rel, snap->files, snap->nfiles, sizeof(delta_file),
	    cmp_path) != NULL;
}

static int
consider(vacuum_ctx *v, const char *path, const struct stat *st)
{
	if (st->st_mtime > v->cutoff)
		return 0;
	if (v->cb != NULL)
		v->cb(path + v->prefix_len, v->arg);
	if (!v->dry_run && unlink(path) == -1 && errno != ENOENT) {
		lake_err_errno(v->err, "cannot remove %s", path);
		return -1;
	}
	return 0;
}

static int
walk(vacuum_ctx *v, const char *dir, int depth)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (depth > 16)
		return 0;
	if ((d = opendir(dir)) == NULL) {
		lake_err_errno(v->err, "cannot list %s", dir);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.' || (depth == 0 &&
		    de->d_name[0] == '_'))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path) || lstat(path, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode))
			rc = walk(v, path, depth + 1);
		else if (S_ISREG(st.st_mode) &&
		    !is_live(v->snap, path + v->prefix_len))
			rc = consider(v, path, &st);
	}
	closedir(d);
	return rc;
}

static int
sweep_log_temps(vacuum_ctx *v, const char *table_dir)
{
	char dir[4096];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/_delta_log", table_dir);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char path[4400];
		struct stat st;

		if (strncmp(de->d_name, ".tmp-", 5) != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			rc = consider(v, path, &st);
	}
	closedir(d);
	return rc;
}

int
delta_vacuum(const char *table_dir, int64_t retain_seconds, int dry_run,
    void (*cb)(const char *path, void *arg), void *arg, lake_err *err)
{
	delta_snapshot *snap;
	vacuum_ctx v;
	int rc;

	if ((rc = delta_snapshot_load(table_dir, -1, &snap, err)) !=
	    DELTA_OK)
		return rc;
	v.snap = snap;
	v.cutoff = time(NULL) - (time_t)retain_seconds;
	v.dry_run = dry_run;
	v.cb = cb;
	v.arg = arg;
	v.err = err;
	v.prefix_len = strlen(table_dir) + 1;
	rc = walk(&v, table_dir, 0) == 0 && sweep_log_temps(&v,
	    table_dir) == 0 ? DELTA_OK : DELTA_ERROR;
	delta_snapshot_free(snap);
	return rc;
}
