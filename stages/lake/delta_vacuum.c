/*
 * delta_vacuum.c - medallion-lake vacuum: the vacuum maintenance runs
 * (delta_vacuum_retained.c: a file goes only when no retained version
 * names it and it is older than the retention, so a compaction's inputs
 * stay for time travel and readers behind), with an explicit retention,
 * a dry run, and stale commit temp files in _delta_log, which a writer
 * that died between writing and linking its commit leaves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "delta_internal.h"
#include "lake_store.h"

typedef struct temps_ctx {
	int64_t cutoff_us;	/* whole seconds, as before the seam */
	int dry_run;
	void (*cb)(const char *path, void *arg);
	void *arg;
	lake_err *err;
	const char *log_dir;
	int failed;
} temps_ctx;

static int
drop_temp(const lake_store_entry *e, void *arg)
{
	temps_ctx *v = arg;
	char path[4400], rel[4400];
	int64_t mtime_us = e->mtime_us;

	if (strncmp(e->name, ".tmp-", 5) != 0 ||
	    snprintf(path, sizeof(path), "%s/%s", v->log_dir, e->name) >=
	    (int)sizeof(path))
		return 0;
	/* Stat only the temp files (listing with times would stat the
	 * whole log); S3's listing has the times already. */
	if (mtime_us < 0 && lake_store_stat(path, NULL, &mtime_us, NULL) != 0)
		return 0;
	if (mtime_us > v->cutoff_us)
		return 0;
	snprintf(rel, sizeof(rel), "_delta_log/%s", e->name);
	if (v->cb != NULL)
		v->cb(rel, v->arg);
	if (!v->dry_run && lake_store_delete(path, v->err) != 0) {
		v->failed = 1;
		return 1;
	}
	return 0;
}

static int
sweep_log_temps(temps_ctx *v, const char *table_dir)
{
	char dir[4096];
	int rc;

	snprintf(dir, sizeof(dir), "%s/_delta_log", table_dir);
	v->log_dir = dir;
	rc = lake_store_list(dir, NULL, 0, drop_temp, v, v->err);
	if (rc == LAKE_STORE_NOT_FOUND)
		return 0;
	return rc == 0 && !v->failed ? 0 : -1;
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
	memset(&v, 0, sizeof(v));
	v.cutoff_us = (now_us / 1000000 - retain_seconds) * 1000000 + 999999;
	v.dry_run = dry_run;
	v.cb = cb;
	v.arg = arg;
	v.err = err;
	return sweep_log_temps(&v, table_dir) == 0 ? DELTA_OK : DELTA_ERROR;
}
