/*
 * test_writer.c - the lake writer (lake_writer.c): rows in, one Delta
 * commit out.
 *
 *   - a partitioned table: one file per partition, named with the tag,
 *     in Hive folders; the commit's adds carry row counts and the txn;
 *   - zero rows commit nothing and leave no file;
 *   - a commit on a stale base is DELTA_CONFLICT and leaves no file;
 *   - an abort removes what was written;
 *   - a tiny memory bound flushes row groups early and loses no row.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta.h"
#include "expect.h"
#include "lake.h"

/* The newest version, or the error code when there is none. */
static int64_t
newest_version(const char *table, lake_err *err)
{
	int64_t v;
	int rc = delta_latest_version(table, &v, err);

	return rc == DELTA_OK ? v : rc;
}

static pq_column_def cols[] = {
	{ "id", PQ_INT64, 0, 0, 0 },
	{ "name", PQ_STRING, 1, 0, 0 },
};
static const pq_schema schema = { cols, 2 };

/* Parquet files under dir, in any folder but _delta_log. */
static int
count_files(const char *dir, const char *must_contain)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.' ||
		    strcmp(de->d_name, "_delta_log") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_files(path, must_contain);
		else if (strstr(de->d_name, ".parquet") != NULL &&
		    (must_contain == NULL || strstr(de->d_name,
		    must_contain) != NULL))
			n++;
	}
	closedir(d);
	return n;
}

/* n rows: ids first.., names cycling, every fifth null, over dates. */
static int
append_rows(lake_writer *w, int64_t first, int64_t n, int ndates)
{
	static const char *const dates[] = { "2026-11-01", "2026-11-02",
		"2026-11-03" };
	static const char *const names[] = { "Amberfield", "Juniper Bay",
		"Ölmühle" };
	lake_err err;

	for (int64_t i = first; i < first + n; i++) {
		pq_value v[2];

		memset(v, 0, sizeof(v));
		v[0].v.i64 = i;
		v[1].is_null = i % 5 == 0;
		v[1].v.s.ptr = names[i % 3];
		v[1].v.s.len = (uint32_t)strlen(names[i % 3]);
		if (lake_writer_append(w, ndates ? dates[i % ndates] : NULL, v,
		    &err) == -1) {
			fprintf(stderr, "append: %s\n", err.msg);
			return -1;
		}
	}
	return 0;
}

static void
test_partitioned(const char *tmp)
{
	char dir[4096];
	lake_writer_opts o;
	lake_writer *w;
	delta_snapshot *s = NULL;
	lake_err err;
	int64_t version = -7, rows = 0, lo, hi;

	snprintf(dir, sizeof(dir), "%s/partitioned", tmp);
	lake_writer_opts_default(&o);
	o.file_tag = "t42";
	w = lake_writer_open(dir, &schema, "date", &o, &err);
	EXPECT(w != NULL, "open: %s", err.msg);
	if (w == NULL)
		return;
	EXPECT(append_rows(w, 1, 300, 3) == 0, "append 300 rows");
	EXPECT(lake_writer_rows(w) == 300, "300 rows counted, not %" PRId64,
	    lake_writer_rows(w));
	EXPECT(lake_writer_commit(w, NULL, "app-1", 9, "WRITE", NULL,
	    &version, &err) == DELTA_OK, "commit: %s", err.msg);
	EXPECT(version == 0, "a new table's first version is 0, not %"
	    PRId64, version);
	EXPECT(count_files(dir, "part-t42-") == 3, "one file per date, "
	    "named with the tag: %d", count_files(dir, "part-t42-"));
	EXPECT(delta_snapshot_load(dir, -1, &s, &err) == DELTA_OK, "load: %s",
	    err.msg);
	if (s == NULL)
		return;
	EXPECT(s->nfiles == 3 && s->npartition_columns == 1 &&
	    strcmp(s->partition_columns[0], "date") == 0,
	    "3 files, partitioned by date");
	for (size_t i = 0; i < s->nfiles; i++) {
		rows += s->files[i].num_records;
		EXPECT(strncmp(s->files[i].path, "date=2026-11-0", 14) == 0,
		    "a Hive folder: %s", s->files[i].path);
		EXPECT(delta_file_int_range(&s->files[i], "id", &lo, &hi) &&
		    lo >= 1 && hi <= 300 && lo <= hi, "id stats in range");
	}
	EXPECT(rows == 300, "the adds count 300 rows, not %" PRId64, rows);
	EXPECT(delta_snapshot_txn_version(s, "app-1") == 9, "the txn");
	delta_snapshot_free(s);
}

static void
test_empty_conflict_abort(const char *tmp)
{
	char dir[4096];
	lake_writer *w;
	delta_snapshot *stale = NULL;
	lake_err err;
	int64_t version = -7;

	snprintf(dir, sizeof(dir), "%s/plain", tmp);
	w = lake_writer_open(dir, &schema, NULL, NULL, &err);
	EXPECT(w != NULL, "open: %s", err.msg);
	if (w == NULL)
		return;
	EXPECT(lake_writer_commit(w, NULL, NULL, 0, "WRITE", NULL, &version,
	    &err) == DELTA_OK && version == -7, "zero rows: no commit, the "
	    "version untouched");
	EXPECT(newest_version(dir, &err) == DELTA_NO_TABLE, "no table");
	EXPECT(count_files(dir, NULL) == 0, "no file");

	w = lake_writer_open(dir, &schema, NULL, NULL, &err);
	EXPECT(w != NULL && append_rows(w, 1, 10, 0) == 0 &&
	    lake_writer_commit(w, NULL, NULL, 0, "WRITE", NULL, &version,
	    &err) == DELTA_OK && version == 0, "version 0: %s", err.msg);
	EXPECT(delta_snapshot_load(dir, -1, &stale, &err) == DELTA_OK,
	    "load: %s", err.msg);
	w = lake_writer_open(dir, &schema, NULL, NULL, &err);
	EXPECT(w != NULL && append_rows(w, 11, 10, 0) == 0 &&
	    lake_writer_commit(w, stale, NULL, 0, "WRITE", NULL, &version,
	    &err) == DELTA_OK && version == 1, "version 1: %s", err.msg);

	/* A writer still on version 0 loses version 1. */
	w = lake_writer_open(dir, &schema, NULL, NULL, &err);
	EXPECT(w != NULL && append_rows(w, 21, 10, 0) == 0, "third writer");
	EXPECT(lake_writer_commit(w, stale, NULL, 0, "WRITE", NULL, &version,
	    &err) == DELTA_CONFLICT, "a stale base is a conflict");
	EXPECT(count_files(dir, NULL) == 2, "the loser's file is removed: "
	    "%d files", count_files(dir, NULL));
	delta_snapshot_free(stale);

	w = lake_writer_open(dir, &schema, NULL, NULL, &err);
	EXPECT(w != NULL && append_rows(w, 31, 10, 0) == 0, "fourth writer");
	lake_writer_abort(w);
	EXPECT(count_files(dir, NULL) == 2, "an abort leaves no file");
	EXPECT(newest_version(dir, &err) == 1, "and no commit");
}

/* A memory bound far below one row group: flushed early, no row lost. */
static void
test_memory_bound(const char *tmp)
{
	char dir[4096];
	lake_writer_opts o;
	lake_writer *w;
	delta_snapshot *s = NULL;
	lake_err err;
	int64_t version = -1, rows = 0;

	snprintf(dir, sizeof(dir), "%s/bounded", tmp);
	lake_writer_opts_default(&o);
	o.max_buffered_bytes = 4096;
	w = lake_writer_open(dir, &schema, "date", &o, &err);
	EXPECT(w != NULL && append_rows(w, 1, 20000, 2) == 0 &&
	    lake_writer_commit(w, NULL, NULL, 0, "WRITE", NULL, &version,
	    &err) == DELTA_OK, "commit under a 4 KiB bound: %s", err.msg);
	EXPECT(delta_snapshot_load(dir, -1, &s, &err) == DELTA_OK, "load");
	for (size_t i = 0; s != NULL && i < s->nfiles; i++)
		rows += s->files[i].num_records;
	EXPECT(rows == 20000, "every row kept: %" PRId64, rows);
	delta_snapshot_free(s);
}

int
main(void)
{
	char tmp[] = "/tmp/test_writer.XXXXXX";
	char cmd[4200];

	if (mkdtemp(tmp) == NULL)
		return 1;
	test_partitioned(tmp);
	test_empty_conflict_abort(tmp);
	test_memory_bound(tmp);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
	return expect_report("test_writer");
}
