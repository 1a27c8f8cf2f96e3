/*
 * delta_vacuum.c - medallion-lake vacuum: the vacuum maintenance runs
 * (delta_vacuum_retained.c: a file goes only when no retained version
 * names it and it is older than the retention, so a compaction's inputs
 * stay for time travel and readers behind), with an explicit retention,
 * a dry run, and stale commit temp files in _delta_log, which a writer
 * that died between writing and linking its commit leaves.
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

typedef struct temps_ctx {
	time_t cutoff;
	int dry_run;
	void (*cb)(const char *path, void *arg);
	void *arg;
	lake_err *err;
	size_t prefix_len;	/* strlen(table_dir) + 1 */
} temps_ctx;

static int
drop_temp(temps_ctx *v, const char *path, const struct stat *st)
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
sweep_log_temps(temps_ctx *v, const char *table_dir)
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
			rc = drop_temp(v, path, &st);
	}
	closedir(d);
	return rc;
}

int
delta_vacuum(const char *table_dir, int64_t retain_seconds, int dry_run,
    void (*cb)(const char *path, void *arg), void *arg, lake_err *err)
{
	int64_t now_us = (int64_t)time(NULL) * 1000000, newest;
	temps_ctx v;
	int rc;

	if ((rc = delta_latest_version(table_dir, &newest, err)) != DELTA_OK)
		return rc;
	if (delta_vacuum_retained(table_dir, retain_seconds * 1000000, now_us,
	    dry_run, cb, arg, err) < 0)
		return DELTA_ERROR;
	v.cutoff = (time_t)(now_us / 1000000 - retain_seconds);
	v.dry_run = dry_run;
	v.cb = cb;
	v.arg = arg;
	v.err = err;
	v.prefix_len = strlen(table_dir) + 1;
	return sweep_log_temps(&v, table_dir) == 0 ? DELTA_OK : DELTA_ERROR;
}
