/*
 * test_optimize.c - compaction (delta_optimize.c) against the rules it
 * must keep: the same rows, in order within each file, in fewer files;
 * dataChange:false so incremental readers (delta_changes) never see the
 * rows twice and still see the ones they have not read; an append racing
 * a compaction never conflicts; of two compactions of the same files one
 * wins and the other gives up and leaves no file behind.
 *
 * Also a helper for the shell tests:
 *   test_optimize make TABLE COMMITS ROWS   a table of many small files
 *   test_optimize append TABLE ROWS         one more commit
 *   test_optimize rows TABLE                "count sum sorted" of its rows
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	{ "branch", PQ_STRING, 1, 0, 0 },
	{ "at", PQ_TIMESTAMP, 0, 0, 0 },
};
static const pq_schema schema = { cols, 3 };

static int append_strided(const char *table, int64_t first, int64_t stride,
    int64_t n, int64_t *version);

/* Rows [first, first+n) in id order, over two dates, in one commit: 0,
 * 1 when another writer took the version (retry, as stages do), -1. */
static int
append_rows(const char *table, int64_t first, int64_t n, int64_t *version)
{
	return append_strided(table, first, 1, n, version);
}

/* Rows first, first+stride, ... (n of them; a negative stride writes a
 * file out of id order), as append_rows. */
static int
append_strided(const char *table, int64_t first, int64_t stride, int64_t n,
    int64_t *version)
{
	delta_snapshot *base = NULL;
	lake_writer *w;
	lake_err err;
	pq_value v[3];
	int rc;

	if (delta_snapshot_load(table, -1, &base, &err) == DELTA_ERROR ||
	    (w = lake_writer_open(table, &schema, "date", NULL, &err)) ==
	    NULL) {
		fprintf(stderr, "%s\n", err.msg);
		delta_snapshot_free(base);
		return -1;
	}
	for (int64_t k = 0, i = first; k < n; k++, i += stride) {
		memset(v, 0, sizeof(v));
		v[0].v.i64 = i;
		v[1].is_null = i % 10 == 0;
		v[1].v.s.ptr = i % 2 ? "Amberfield" : "Juniper Bay";
		v[1].v.s.len = (uint32_t)strlen(v[1].v.s.ptr);
		v[2].v.i64 = 1764000000000000LL + i * 1000000LL;
		if (lake_writer_append(w, i % 2 ? "2026-11-01" : "2026-11-02",
		    v, &err) == -1) {
			fprintf(stderr, "%s\n", err.msg);
			lake_writer_abort(w);
			delta_snapshot_free(base);
			return -1;
		}
	}
	rc = lake_writer_commit(w, base, NULL, 0, "WRITE", NULL, version,
	    &err);
	if (rc != DELTA_OK)
		fprintf(stderr, "%s\n", err.msg);
	delta_snapshot_free(base);
	return rc == DELTA_OK ? 0 : rc == DELTA_CONFLICT ? 1 : -1;
}

/* What a table holds: row count, id sum, and whether every file is in id
 * order and its rows agree with its stats' id range. */
typedef struct rows_seen {
	int64_t count, sum, last;
	int sorted;
	const delta_file *file;
} rows_seen;

static int
see_batch(const pq_batch *b, const delta_file *f, void *arg)
{
	rows_seen *r = arg;

	if (f != r->file) {
		r->file = f;
		r->last = INT64_MIN;
	}
	for (int64_t i = 0; i < b->nrows; i++) {
		int64_t id = b->cols[0].v.i64[i], lo, hi;

		r->sorted &= id >= r->last;
		if (delta_file_int_range(f, "id", &lo, &hi))
			r->sorted &= id >= lo && id <= hi;
		r->last = id;
		r->count++;
		r->sum += id;
	}
	return 0;
}

static rows_seen
scan_files(const char *table, const delta_file *files, size_t n)
{
	static const char *const names[] = { "id" };
	rows_seen r = { 0, 0, INT64_MIN, 1, NULL };
	lake_err err;

	if (lake_scan(table, files, n, names, 1, see_batch, &r, &err) == -1) {
		fprintf(stderr, "%s\n", err.msg);
		r.count = -1;
	}
	return r;
}

static rows_seen
table_rows(const char *table, size_t *nfiles)
{
	delta_snapshot *s;
	rows_seen r = { -1, 0, 0, 0, NULL };
	lake_err err;

	if (delta_snapshot_load(table, -1, &s, &err) != DELTA_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return r;
	}
	r = scan_files(table, s->files, s->nfiles);
	if (nfiles != NULL)
		*nfiles = s->nfiles;
	delta_snapshot_free(s);
	return r;
}

/* Rows an incremental reader gets for (after, newest]. */
static rows_seen
changed_rows(const char *table, int64_t after)
{
	rows_seen r = { -1, 0, 0, 0, NULL };
	delta_file *files;
	size_t n;
	lake_err err;
	int64_t newest = newest_version(table, &err);

	if (delta_changes(table, after, newest, &files, &n, &err) == -1) {
		fprintf(stderr, "%s\n", err.msg);
		return r;
	}
	r = scan_files(table, files, n);
	delta_files_free(files, n);
	return r;
}

/* Parquet files on disk under the table, referenced or not. */
static int
count_parquet(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.' || de->d_name[0] == '_')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_parquet(path);
		else if (strstr(de->d_name, ".parquet") != NULL)
			n++;
	}
	closedir(d);
	return n;
}

static int
make_table(const char *table, int commits, int64_t rows_per_commit)
{
	int64_t v;

	for (int c = 0; c < commits; c++)
		if (append_rows(table, c * rows_per_commit, rows_per_commit,
		    &v) != 0)
			return -1;
	return 0;
}

static void
opts_small(delta_optimize_opts *o)
{
	delta_optimize_opts_default(o);
	o->target_size = 1 << 20;
}

static void
test_compacts_in_order(const char *dir)
{
	char table[4096];
	delta_optimize_opts o;
	delta_optimize_result res;
	size_t before_files, after_files;
	rows_seen before, after, changes;
	lake_err err;
	int64_t v0;

	snprintf(table, sizeof(table), "%s/basic", dir);
	EXPECT(make_table(table, 40, 50) == 0, "make table");
	before = table_rows(table, &before_files);
	v0 = newest_version(table, &err);
	opts_small(&o);
	EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_OK, "%s",
	    err.msg);
	after = table_rows(table, &after_files);
	EXPECT(before_files == 80 && after_files == 2, "files %zu -> %zu, "
	    "want 80 -> 2", before_files, after_files);
	EXPECT(res.files_removed == 80 && res.files_added == 2 &&
	    res.partitions == 2 && res.rows == 2000, "result %" PRId64 " %"
	    PRId64 " %d %" PRId64, res.files_removed, res.files_added,
	    res.partitions, res.rows);
	EXPECT(after.count == before.count && after.sum == before.sum,
	    "rows %" PRId64 "/%" PRId64 " -> %" PRId64 "/%" PRId64,
	    before.count, before.sum, after.count, after.sum);
	EXPECT(after.sorted, "compacted files are in id order within their "
	    "stats' range");
	changes = changed_rows(table, v0);
	EXPECT(changes.count == 0, "an incremental reader caught up before "
	    "the compaction reads %" PRId64 " rows after it", changes.count);
	changes = changed_rows(table, -1);
	EXPECT(changes.count == 2000 && changes.sum == before.sum, "a reader "
	    "from the start reads each row once: %" PRId64, changes.count);
	changes = changed_rows(table, 19);
	EXPECT(changes.count == 1000, "a reader at version 19 reads the "
	    "1000 rows it has not seen, from their original files: %" PRId64,
	    changes.count);
	EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_OK &&
	    res.version == -1, "a second run has nothing to do");
}

/* Compacted files come before the files appended after their inputs. */
static void
test_order_across_compactions(const char *dir)
{
	char table[4096];
	delta_optimize_opts o;
	delta_optimize_result res;
	rows_seen r;
	size_t n;
	int64_t v;
	lake_err err;

	snprintf(table, sizeof(table), "%s/again", dir);
	EXPECT(make_table(table, 10, 20) == 0, "make table");
	opts_small(&o);
	EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_OK, "%s",
	    err.msg);
	for (int i = 0; i < 5; i++)
		EXPECT(append_rows(table, 200 + i * 20, 20, &v) == 0, "append");
	EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_OK &&
	    res.files_added == 2, "second compaction: %s", err.msg);
	r = table_rows(table, &n);
	EXPECT(n == 2 && r.count == 300 && r.sorted, "%zu files, %" PRId64
	    " rows, sorted %d", n, r.count, r.sorted);
}

/* The snapshot a compaction planned on moves under it. */
static void
test_append_during_compaction(const char *dir)
{
	char table[4096];
	delta_snapshot *planned;
	delta_optimize_opts o;
	delta_optimize_result res;
	rows_seen r;
	size_t n;
	int64_t v;
	lake_err err;

	snprintf(table, sizeof(table), "%s/race", dir);
	EXPECT(make_table(table, 12, 10) == 0, "make table");
	EXPECT(delta_snapshot_load(table, -1, &planned, &err) == DELTA_OK,
	    "%s", err.msg);
	EXPECT(append_rows(table, 1000, 10, &v) == 0, "append");
	opts_small(&o);
	EXPECT(delta_optimize_snapshot(planned, &o, &res, &err) == DELTA_OK,
	    "a compaction that lost its version to an append retries on top "
	    "of it: %s", err.msg);
	EXPECT(res.version == v + 1, "committed at %" PRId64 ", want %" PRId64,
	    res.version, v + 1);
	r = table_rows(table, &n);
	EXPECT(r.count == 130 && n == 4, "the append's files stay live: %"
	    PRId64 " rows in %zu files", r.count, n);
	delta_snapshot_free(planned);
}

static void
test_two_compactions(const char *dir)
{
	char table[4096];
	delta_snapshot *planned;
	delta_optimize_opts o;
	delta_optimize_result res;
	rows_seen r;
	int on_disk;
	lake_err err;

	snprintf(table, sizeof(table), "%s/twice", dir);
	EXPECT(make_table(table, 12, 10) == 0, "make table");
	EXPECT(delta_snapshot_load(table, -1, &planned, &err) == DELTA_OK,
	    "%s", err.msg);
	opts_small(&o);
	EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_OK &&
	    res.files_added == 2, "the first compaction wins");
	on_disk = count_parquet(table);
	EXPECT(delta_optimize_snapshot(planned, &o, &res, &err) ==
	    DELTA_CONFLICT, "the second one gives up");
	EXPECT(strstr(err.msg, "another writer removed") != NULL, "saying "
	    "why: %s", err.msg);
	EXPECT(res.version == -1 && count_parquet(table) == on_disk, "and "
	    "leaves no file behind (%d on disk, %d before)",
	    count_parquet(table), on_disk);
	r = table_rows(table, NULL);
	EXPECT(r.count == 120, "rows once: %" PRId64, r.count);
	delta_snapshot_free(planned);
}

static void
test_where_and_threshold(const char *dir)
{
	char table[4096];
	delta_snapshot *s;
	delta_optimize_opts o;
	delta_optimize_result res;
	lake_err err;

	snprintf(table, sizeof(table), "%s/where", dir);
	EXPECT(make_table(table, 6, 10) == 0, "make table");
	opts_small(&o);
	o.where = "date >= '2026-11-02'";
	EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_OK &&
	    res.partitions == 1 && res.files_removed == 6, "--where keeps "
	    "one partition: %d partitions, %" PRId64 " files", res.partitions,
	    res.files_removed);
	o.where = "branch = x";
	EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_ERROR &&
	    strstr(err.msg, "partition columns") != NULL, "a data column in "
	    "--where is refused: %s", err.msg);
	o.where = "date >>";
	EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_ERROR,
	    "a bad --where is refused");
	o.where = NULL;
	o.min_small_files = 6;
	EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_OK, "load");
	EXPECT(delta_optimize_due(s, &o, &err) == 0, "6 small files are not "
	    "more than 6");
	o.min_small_files = 5;
	EXPECT(delta_optimize_due(s, &o, &err) == 1, "6 are more than 5");
	delta_snapshot_free(s);
}

/*
 * The tiered policy: a closed partition (2026-11-01, before the last) is
 * packed whole once it holds two small files; in the last one only the
 * newest files are, up to an older file larger than all of them.
 */
static void
test_tiered(const char *dir)
{
	char table[4096];
	delta_optimize_opts o;
	delta_optimize_result res;
	lake_err err;
	rows_seen before, after;
	size_t nfiles;
	int64_t v;

	snprintf(table, sizeof(table), "%s/tiered", dir);
	EXPECT(make_table(table, 2, 10) == 0, "make table");
	opts_small(&o);
	o.min_small_files = 16;
	o.tiered = 1;
	EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_OK &&
	    res.partitions == 1 && res.files_removed == 2 &&
	    res.files_added == 1, "two small files in a closed partition are "
	    "packed, the last partition waits: %d partitions, %" PRId64
	    " files", res.partitions, res.files_removed);

	/* One large commit, then 17 small ones. */
	snprintf(table, sizeof(table), "%s/tiered2", dir);
	EXPECT(append_rows(table, 0, 20000, &v) == 0, "large commit");
	for (int c = 0; c < 17; c++)
		EXPECT(append_rows(table, 20000 + c * 10, 10, &v) == 0,
		    "small commit %d", c);
	before = table_rows(table, NULL);
	EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_OK &&
	    res.partitions == 2 && res.files_removed == 18 + 17 &&
	    res.files_added == 2, "the closed partition whole (18 files), "
	    "the last one's 17 small files but not its large one: %d "
	    "partitions, %" PRId64 " files removed, %" PRId64 " added (%s)",
	    res.partitions, res.files_removed, res.files_added,
	    res.version < 0 ? err.msg : "committed");
	after = table_rows(table, &nfiles);
	EXPECT(after.count == before.count && after.sum == before.sum &&
	    after.sorted, "the same rows in order: %" PRId64 " of %" PRId64,
	    after.count, before.count);
	EXPECT(nfiles == 3, "3 files left, not %zu", nfiles);

	/* Rounds of 17 small commits: the last partition's files stay few,
	 * like the digits of a binary counter, and each round rewrites far
	 * less than the partition. */
	for (int round = 0; round < 6; round++) {
		for (int c = 0; c < 17; c++)
			EXPECT(append_rows(table, before.count + (round * 17 +
			    c) * 10, 10, &v) == 0, "round %d commit %d", round,
			    c);
		EXPECT(delta_optimize(table, &o, &res, &err) == DELTA_OK &&
		    res.version >= 0, "round %d compacts", round);
	}
	after = table_rows(table, &nfiles);
	EXPECT(after.count == before.count + 6 * 170 && after.sorted,
	    "every row kept in order: %" PRId64, after.count);
	EXPECT(nfiles == 3, "after 7 rounds: the closed partition's file, "
	    "the large one never rewritten, and one compacted: %zu files",
	    nfiles);
	EXPECT(res.files_removed == 18 + 18 && res.bytes_removed < 36495 +
	    34492, "the last round rewrote the closed partition (18 files) "
	    "and the last one's 17 new and 1 compacted, not its large one: "
	    "%" PRId64 " files, %" PRId64 " bytes", res.files_removed,
	    res.bytes_removed);
}

/* Counts the rows a lookup decodes. */
static int
count_batch(const pq_batch *b, const delta_file *f, void *arg)
{
	(void)f;
	*(int64_t *)arg += b->nrows;
	return 0;
}

/*
 * sort_by: files each in id order but with overlapping ranges merge into
 * files in id order (in aligned pages a lookup then reads a page of);
 * without sort_by they are only concatenated; an input out of order
 * makes the bin fall back to input order, losing nothing.
 */
static void
test_merge_sorted(const char *dir)
{
	static const char *const names[] = { "id", "branch", "at" };
	const int64_t keys[] = { 5, 1777 };
	char merged[4096], plain[4096], broken[4096];
	delta_optimize_opts o;
	delta_optimize_result res;
	delta_snapshot *s;
	rows_seen before, after;
	lake_lookup lk = { { "id", 5, 1777 }, keys, 2 };
	int64_t v, decoded = 0;
	lake_err err;
	int ok = 1;

	snprintf(merged, sizeof(merged), "%s/merged", dir);
	snprintf(plain, sizeof(plain), "%s/concatenated", dir);
	snprintf(broken, sizeof(broken), "%s/unsorted", dir);
	for (int c = 0; c < 40; c++)	/* ids c, c+40, c+80, ... */
		ok &= append_strided(merged, c, 40, 50, &v) == 0 &&
		    append_strided(plain, c, 40, 50, &v) == 0 &&
		    append_strided(broken, c, 40, 50, &v) == 0;
	ok &= append_strided(broken, 5000, -1, 50, &v) == 0;
	EXPECT(ok, "make the tables");
	before = table_rows(merged, NULL);
	opts_small(&o);
	o.sort_by = "id";
	o.page_rows = 100;
	EXPECT(delta_optimize(merged, &o, &res, &err) == DELTA_OK &&
	    res.files_added == 2, "merge: %s", err.msg);
	after = table_rows(merged, NULL);
	EXPECT(after.count == before.count && after.sum == before.sum &&
	    after.sorted, "merged: %" PRId64 " rows (want %" PRId64 "), "
	    "sorted %d", after.count, before.count, after.sorted);
	if (delta_snapshot_load(merged, -1, &s, &err) == DELTA_OK) {
		EXPECT(lake_scan_lookup(merged, s->files, s->nfiles, names, 3,
		    &lk, count_batch, &decoded, &err) == 0 && decoded > 0 &&
		    decoded <= 2 * 2 * 100, "a lookup of 2 ids decodes at "
		    "most a page of each of the 2 files per id (of 2,000 "
		    "rows): %" PRId64 " rows", decoded);
		delta_snapshot_free(s);
	}
	opts_small(&o);
	EXPECT(delta_optimize(plain, &o, &res, &err) == DELTA_OK, "%s",
	    err.msg);
	after = table_rows(plain, NULL);
	EXPECT(after.count == before.count && !after.sorted, "without "
	    "sort_by the files are concatenated, not sorted");
	before = table_rows(broken, NULL);
	o.sort_by = "id";
	EXPECT(delta_optimize(broken, &o, &res, &err) == DELTA_OK, "%s",
	    err.msg);
	after = table_rows(broken, NULL);
	EXPECT(after.count == before.count && after.sum == before.sum &&
	    after.count == 2050, "an input out of order: the bin is written "
	    "in input order, %" PRId64 " rows of %" PRId64, after.count,
	    before.count);
}

static int
tool(int argc, char **argv)
{
	rows_seen r;
	int64_t v;

	if (argc == 5 && strcmp(argv[1], "make") == 0)
		return make_table(argv[2], atoi(argv[3]), atoll(argv[4])) ==
		    0 ? 0 : 1;
	if (argc == 4 && strcmp(argv[1], "append") == 0) {
		rows_seen before = table_rows(argv[2], NULL);
		int rc = 1;

		/* Like a stage's frame: a lost version is retried on the
		 * newest snapshot. */
		for (int attempt = 0; attempt < 5 && rc == 1; attempt++)
			rc = append_rows(argv[2], before.count > 0 ?
			    before.count : 0, atoll(argv[3]), &v);
		return rc == 0 ? 0 : 1;
	}
	if (argc == 3 && strcmp(argv[1], "rows") == 0) {
		r = table_rows(argv[2], NULL);
		printf("%" PRId64 " %" PRId64 " %d\n", r.count, r.sum,
		    r.sorted);
		return r.count < 0;
	}
	fprintf(stderr, "usage: test_optimize [make TABLE COMMITS ROWS | "
	    "append TABLE ROWS | rows TABLE]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/test_optimize.XXXXXX";
	char cmd[4200];

	if (argc > 1)
		return tool(argc, argv);
	if (mkdtemp(dir) == NULL)
		return 1;
	test_compacts_in_order(dir);
	test_order_across_compactions(dir);
	test_append_during_compaction(dir);
	test_two_compactions(dir);
	test_where_and_threshold(dir);
	test_tiered(dir);
	test_merge_sorted(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return expect_report("test_optimize");
}
