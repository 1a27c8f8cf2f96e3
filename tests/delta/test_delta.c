/*
 * test_delta.c - unit tests of the Delta log: create, append, reload,
 * txn bookkeeping, incremental changes, put-if-absent conflicts between
 * real processes, invisible leftovers of a crashed writer, vacuum, time
 * travel, and one commit over more partitions than the process may have
 * descriptors open.
 *
 * Also a helper mode for tests/delta/crash.sh:
 *   test_delta append TABLE BATCH ROWS
 * appends ROWS rows as batch BATCH (txn appId "crash-test"), unless that
 * batch is already committed; it is killed at random moments.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "delta.h"
#include "expect.h"
#include "lake.h"
#include "lake_format.h"

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
	{ "branch", PQ_STRING, 1, 0, 0 },
	{ "at", PQ_TIMESTAMP, 0, 0, 0 },
};
static const pq_schema schema = { cols, 3 };

/* Appends rows [first, first+n) spread over a few dates, in one commit. */
static int
append_batch(const char *table, int64_t first, int64_t n, const char *app,
    int64_t txn, int64_t *version, lake_err *err)
{
	delta_snapshot *base = NULL;
	lake_writer *w;
	pq_value v[3];
	char date[16];
	int rc;

	rc = delta_snapshot_load(table, -1, &base, err);
	if (rc == DELTA_ERROR)
		return -1;
	if (base != NULL && app != NULL &&
	    delta_snapshot_txn_version(base, app) >= txn) {
		delta_snapshot_free(base);
		return 1;	/* already committed */
	}
	if ((w = lake_writer_open(table, &schema, "date", NULL, err)) == NULL) {
		delta_snapshot_free(base);
		return -1;
	}
	for (int64_t i = first; i < first + n; i++) {
		memset(v, 0, sizeof(v));
		v[0].v.i64 = i;
		v[1].is_null = i % 10 == 0;
		v[1].v.s.ptr = i % 2 ? "Amberfield" : "Juniper Bay";
		v[1].v.s.len = (uint32_t)strlen(v[1].v.s.ptr);
		v[2].v.i64 = 1764000000000000LL + i * 3600000000LL;
		snprintf(date, sizeof(date), "2026-11-%02d", (int)(i % 3) + 1);
		if (lake_writer_append(w, date, v, err) == -1) {
			lake_writer_abort(w);
			delta_snapshot_free(base);
			return -1;
		}
	}
	rc = lake_writer_commit(w, base, app, txn, "WRITE", "{\"test\":1}",
	    version, err);
	delta_snapshot_free(base);
	return rc == DELTA_OK ? 0 : rc;
}

static int64_t
count_rows(const char *table, int64_t version)
{
	delta_snapshot *s;
	lake_err err;
	int64_t n = 0;

	if (delta_snapshot_load(table, version, &s, &err) != DELTA_OK)
		return -1;
	for (size_t i = 0; i < s->nfiles; i++) {
		char path[4096];
		pq_reader *r;

		snprintf(path, sizeof(path), "%s/%s", table, s->files[i].path);
		if ((r = pq_reader_open(path, &err)) == NULL) {
			delta_snapshot_free(s);
			return -1;
		}
		n += pq_reader_num_rows(r);
		pq_reader_close(r);
	}
	delta_snapshot_free(s);
	return n;
}

static void
test_create_and_append(const char *dir)
{
	char table[512];
	delta_snapshot *s;
	lake_err err;
	int64_t v = -1;
	delta_file *ch;
	size_t nch;

	snprintf(table, sizeof(table), "%s/t1", dir);
	EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_NO_TABLE,
	    "missing table is DELTA_NO_TABLE");
	EXPECT(append_batch(table, 0, 1000, "app", 1, &v, &err) == 0,
	    "first append: %s", err.msg);
	EXPECT(v == 0, "first commit is version 0, got %lld", (long long)v);
	EXPECT(append_batch(table, 1000, 500, "app", 2, &v, &err) == 0 &&
	    v == 1, "second append is version 1");
	EXPECT(append_batch(table, 1000, 500, "app", 2, &v, &err) == 1,
	    "a retried batch is skipped by its txn");
	EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_OK,
	    "load: %s", err.msg);
	if (s != NULL) {
		EXPECT(s->version == 1, "version 1");
		EXPECT(s->nfiles == 6, "3 dates x 2 commits = 6 files, got %zu",
		    s->nfiles);
		EXPECT(delta_snapshot_txn_version(s, "app") == 2, "txn 2");
		EXPECT(delta_snapshot_txn_version(s, "other") == -1, "no txn");
		EXPECT(s->npartition_columns == 1 &&
		    strcmp(s->partition_columns[0], "date") == 0,
		    "partitioned by date");
		EXPECT(s->schema.ncols == 4 && s->schema.cols[3].type ==
		    PQ_DATE, "schema has the date partition column");
		EXPECT(s->files[0].num_records > 0 &&
		    s->files[0].partition_values[0] != NULL &&
		    strncmp(s->files[0].partition_values[0], "2026-11-", 8) ==
		    0, "file has stats and its partition value");
		EXPECT(strstr(s->files[0].stats_json, "\"minValues\"") &&
		    strstr(s->files[0].stats_json, "\"nullCount\""),
		    "stats JSON: %s", s->files[0].stats_json);
		delta_snapshot_free(s);
	}
	EXPECT(count_rows(table, -1) == 1500, "1500 rows");
	EXPECT(count_rows(table, 0) == 1000, "time travel to v0: 1000 rows");
	EXPECT(newest_version(table, &err) == 1, "latest version");
	EXPECT(delta_changes(table, 0, 1, &ch, &nch, &err) == 0 && nch == 3,
	    "changes after v0: 3 files, got %zu", nch);
	if (nch == 3) {
		int64_t n = 0;

		for (size_t i = 0; i < nch; i++)
			n += ch[i].num_records;
		EXPECT(n == 500, "changes carry 500 rows");
		EXPECT(ch[0].added_in_version == 1, "added in v1");
	}
	delta_files_free(ch, nch);
}

/* Files in table's log named .tmp-*, or -1 if it cannot be read. */
static int
count_temp_commits(const char *table)
{
	char log[600];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(log, sizeof(log), "%s/_delta_log", table);
	if ((d = opendir(log)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, ".tmp-", 5) == 0)
			n++;
	closedir(d);
	return n;
}

/* Two processes race for each version: exactly one may win it. */
static void
test_conflicts(const char *dir)
{
	char table[512];
	lake_err err;
	int64_t v;
	int wins = 0, conflicts = 0;

	snprintf(table, sizeof(table), "%s/race", dir);
	EXPECT(append_batch(table, 0, 10, NULL, 0, &v, &err) == 0, "create");
	for (int round = 0; round < 20; round++) {
		delta_snapshot *base;
		pid_t pid[2];

		if (delta_snapshot_load(table, -1, &base, &err) != DELTA_OK)
			break;
		for (int k = 0; k < 2; k++) {
			if ((pid[k] = fork()) == 0) {
				lake_writer *w = lake_writer_open(table,
				    &schema, "date", NULL, &err);
				pq_value row[3];
				int64_t got;
				int rc;

				memset(row, 0, sizeof(row));
				row[0].v.i64 = round * 10 + k;
				row[1].is_null = 1;
				lake_writer_append(w, "2026-11-24", row, &err);
				rc = lake_writer_commit(w, base, NULL, 0,
				    "WRITE", NULL, &got, &err);
				_exit(rc == DELTA_OK ? 0 : rc ==
				    DELTA_CONFLICT ? 3 : 1);
			}
		}
		for (int k = 0; k < 2; k++) {
			int st;

			waitpid(pid[k], &st, 0);
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				wins++;
			else if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
				conflicts++;
		}
		delta_snapshot_free(base);
	}
	EXPECT(wins == 20 && conflicts == 20, "each version won once: %d wins, "
	    "%d conflicts", wins, conflicts);
	EXPECT(newest_version(table, &err) == 20, "20 versions");
	EXPECT(count_rows(table, -1) == 10 + 20, "only winners' rows visible");
	EXPECT(count_temp_commits(table) == 0, "losers left no temp commit "
	    "in the log: %d", count_temp_commits(table));
}

static void
count_cb(const char *path, void *arg)
{
	(void)path;
	(*(int *)arg)++;
}

static void
test_leftovers_and_vacuum(const char *dir)
{
	char table[512], orphan[600], tmpcommit[600];
	pq_writer *w;
	pq_value row[3];
	lake_err err;
	int64_t v;
	int removed = 0;
	FILE *f;
	const pq_schema data = { cols, 3 };

	snprintf(table, sizeof(table), "%s/crashy", dir);
	EXPECT(append_batch(table, 0, 100, "a", 1, &v, &err) == 0, "create");
	/* A writer that died after its data file and before its commit. */
	snprintf(orphan, sizeof(orphan), "%s/date=2026-11-01/part-dead."
	    "parquet", table);
	w = pq_writer_open(orphan, &data, NULL, &err);
	memset(row, 0, sizeof(row));
	pq_writer_append(w, row, &err);
	EXPECT(pq_writer_close(w, NULL, &err) == 0, "orphan written");
	/* ... and one that died with its commit only in a temp file. */
	snprintf(tmpcommit, sizeof(tmpcommit), "%s/_delta_log/.tmp-dead.json",
	    table);
	if ((f = fopen(tmpcommit, "w")) != NULL) {
		fputs("{\"add\":{\"path\":\"date=2026-11-01/part-dead.parquet\","
		    "\"partitionValues\":{},\"size\":1,\"modificationTime\":1,"
		    "\"dataChange\":true}}\n", f);
		fclose(f);
	}
	EXPECT(count_rows(table, -1) == 100, "leftovers are invisible");
	EXPECT(delta_vacuum(table, 3600, 0, count_cb, &removed, &err) ==
	    DELTA_OK && removed == 0, "young leftovers are kept (%d)",
	    removed);
	EXPECT(delta_vacuum(table, 0, 1, count_cb, &removed, &err) ==
	    DELTA_OK && removed == 2, "dry run lists 2, got %d", removed);
	EXPECT(access(orphan, F_OK) == 0, "dry run deletes nothing");
	removed = 0;
	EXPECT(delta_vacuum(table, 0, 0, count_cb, &removed, &err) ==
	    DELTA_OK && removed == 2, "vacuum removes 2, got %d", removed);
	EXPECT(access(orphan, F_OK) == -1 && access(tmpcommit, F_OK) == -1,
	    "orphans gone");
	EXPECT(count_rows(table, -1) == 100, "live data kept");
}

static void
test_bad_logs(const char *dir)
{
	char table[512], path[600];
	delta_snapshot *s;
	lake_err err;
	int64_t v;
	FILE *f;

	snprintf(table, sizeof(table), "%s/bad", dir);
	EXPECT(append_batch(table, 0, 10, NULL, 0, &v, &err) == 0, "create");
	EXPECT(append_batch(table, 10, 10, NULL, 0, &v, &err) == 0, "v1");
	snprintf(path, sizeof(path), "%s/_delta_log/%020d.json", table, 3);
	if ((f = fopen(path, "w")) != NULL) {
		fputs("{\"commitInfo\":{}}\n", f);
		fclose(f);
	}
	EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_ERROR &&
	    strstr(err.msg, "version gap") != NULL, "gap: %s", err.msg);
	snprintf(path, sizeof(path), "%s/_delta_log/%020d.json", table, 2);
	if ((f = fopen(path, "w")) != NULL) {
		fputs("{not json\n", f);
		fclose(f);
	}
	EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_ERROR &&
	    strstr(err.msg, "malformed JSON") != NULL, "bad JSON: %s",
	    err.msg);
	EXPECT(delta_snapshot_load(table, 1, &s, &err) == DELTA_OK,
	    "older versions still load: %s", err.msg);
	delta_snapshot_free(s);
}

static int
append_main(const char *table, const char *batch, const char *rows)
{
	lake_err err;
	int64_t v, b = atoll(batch), n = atoll(rows);
	int rc = append_batch(table, b * n, n, "crash-test", b, &v, &err);

	if (rc < 0) {
		fprintf(stderr, "append: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/* lake_scan_range's callback: counts rows and the ones in [150, 160]. */
typedef struct range_count {
	int64_t rows;
	int64_t in_range;
} range_count;

static int
count_range_cb(const pq_batch *b, const delta_file *f, void *arg)
{
	range_count *c = arg;

	(void)f;
	for (int64_t i = 0; i < b->nrows; i++) {
		int64_t id = b->cols[0].v.i64[i];

		c->rows++;
		c->in_range += id >= 150 && id <= 160;
	}
	return 0;
}

/*
 * A file of three row groups (ids 0-99, 100-199, 200-299): a range scan
 * reads only the row group that can hold the range, and every row in it;
 * the whole scan reads them all.
 */
static int64_t
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void
test_scan_range(const char *dir)
{
	static const char *cols_id[] = { "id" };
	lake_range range = { "id", 150, 160 };
	range_count c = { 0, 0 };
	char path[4096], name[] = "ranged.parquet";
	delta_file f;
	pq_writer *w;
	lake_err err;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	w = pq_writer_open(path, &schema, NULL, &err);
	EXPECT(w != NULL, "open: %s", err.msg);
	if (w == NULL)
		return;
	for (int64_t i = 0; i < 300; i++) {
		pq_value v[3];

		memset(v, 0, sizeof(v));
		v[0].v.i64 = i;
		v[1].is_null = 1;
		v[2].v.i64 = i;
		EXPECT(pq_writer_append(w, v, &err) == 0, "append: %s",
		    err.msg);
		if (i % 100 == 99)
			EXPECT(pq_writer_flush_row_group(w, &err) == 0,
			    "flush: %s", err.msg);
	}
	EXPECT(pq_writer_close(w, NULL, &err) == 0, "close: %s", err.msg);
	memset(&f, 0, sizeof(f));
	f.path = name;
	EXPECT(lake_scan_range(dir, &f, 1, cols_id, 1, &range, count_range_cb,
	    &c, &err) == 0, "scan: %s", err.msg);
	EXPECT(c.rows == 100 && c.in_range == 11, "range scan read %lld "
	    "rows, %lld in range (want 100 and 11)", (long long)c.rows,
	    (long long)c.in_range);
	memset(&c, 0, sizeof(c));
	EXPECT(lake_scan(dir, &f, 1, cols_id, 1, count_range_cb, &c,
	    &err) == 0 && c.rows == 300 && c.in_range == 11,
	    "full scan read %lld rows", (long long)c.rows);

	/* With the size the log records: read as is when it matches, an
	 * error naming the difference when it does not. */
	f.size = file_size(path);
	memset(&c, 0, sizeof(c));
	EXPECT(f.size > 0 && lake_scan(dir, &f, 1, cols_id, 1,
	    count_range_cb, &c, &err) == 0 && c.rows == 300,
	    "scan with the right size: %s", err.msg);
	f.size += 1;
	EXPECT(lake_scan(dir, &f, 1, cols_id, 1, count_range_cb, &c,
	    &err) == -1 && strstr(err.msg, "shorter than") != NULL,
	    "a file shorter than its log size: %s", err.msg);
	f.size -= 2;
	EXPECT(lake_scan(dir, &f, 1, cols_id, 1, count_range_cb, &c,
	    &err) == -1 && strstr(err.msg, "longer than") != NULL,
	    "a file longer than its log size: %s", err.msg);
}

/*
 * One commit over 400 date partitions with the descriptor limit at 64:
 * the writer holds a partition's file open only while writing it.
 */
static void
test_many_partitions(const char *dir)
{
	struct rlimit saved, low;
	char table[512], date[16];
	delta_snapshot *s = NULL;
	lake_writer *w;
	lake_err err;
	pq_value v[3];
	int64_t version = -1;
	int rc = DELTA_ERROR;

	snprintf(table, sizeof(table), "%s/many", dir);
	if (getrlimit(RLIMIT_NOFILE, &saved) == -1) {
		EXPECT(0, "getrlimit: %s", strerror(errno));
		return;
	}
	low = saved;
	low.rlim_cur = 64;
	EXPECT(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit: %s",
	    strerror(errno));
	if ((w = lake_writer_open(table, &schema, "date", NULL, &err)) ==
	    NULL) {
		EXPECT(0, "open: %s", err.msg);
		setrlimit(RLIMIT_NOFILE, &saved);
		return;
	}
	for (int64_t i = 0; i < 800; i++) {
		memset(v, 0, sizeof(v));
		v[0].v.i64 = i;
		v[1].v.s.ptr = "Amberfield";
		v[1].v.s.len = 10;
		v[2].v.i64 = 1764000000000000LL + (i % 400) * 86400000000LL;
		lake_format_date(date, sizeof(date),
		    (int32_t)(v[2].v.i64 / 86400000000LL));
		if (lake_writer_append(w, date, v, &err) == -1) {
			lake_writer_abort(w);
			w = NULL;
			break;
		}
	}
	if (w != NULL)
		rc = lake_writer_commit(w, NULL, NULL, 0, "WRITE", NULL,
		    &version, &err);
	setrlimit(RLIMIT_NOFILE, &saved);
	EXPECT(rc == DELTA_OK && version == 0,
	    "commit of 400 partitions under 64 descriptors: %s", err.msg);
	EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_OK &&
	    s->nfiles == 400, "400 files, got %zu", s ? s->nfiles : 0);
	delta_snapshot_free(s);
	EXPECT(count_rows(table, -1) == 800, "800 rows");
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/test_delta.XXXXXX", cmd[600];

	if (argc == 5 && strcmp(argv[1], "append") == 0)
		return append_main(argv[2], argv[3], argv[4]);
	if (argc == 3 && strcmp(argv[1], "rows") == 0) {
		lake_err err;

		/* A crash before the first commit leaves no table: 0 rows. */
		if (newest_version(argv[2], &err) == DELTA_NO_TABLE)
			puts("0");
		else
			printf("%" PRId64 "\n", count_rows(argv[2], -1));
		return 0;
	}
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_create_and_append(dir);
	test_conflicts(dir);
	test_leftovers_and_vacuum(dir);
	test_bad_logs(dir);
	test_scan_range(dir);
	test_many_partitions(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return expect_report("test_delta");
}
