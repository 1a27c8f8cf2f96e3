/*
 * test_layout.c - the lake's file layout as the stages write and read
 * it: a large write through the lake writer's default options is cut
 * into several row groups (other engines read a file's row groups in
 * parallel), and a point lookup by a sorted set of ids opens only the
 * files and reads only the row groups whose min/max holds one of them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "lake.h"

static pq_column_def cols[] = {
	{ "orderid", PQ_INT32, 0, 0, 0 },
	{ "status", PQ_STRING, 0, 0, 0 },
	{ "updatedat", PQ_TIMESTAMP, 0, 0, 0 },
	{ "xid", PQ_INT64, 0, 0, 0 },
};
static const pq_schema schema = { cols, 4 };

/* Appends orderids first..last (one row each) to a new commit of table. */
static int
write_ids(const char *table, int32_t first, int32_t last, lake_err *err)
{
	static const char *statuses[] = { "NEW", "INTRANSIT", "DELIVERED" };
	delta_snapshot *base = NULL;
	lake_writer_opts opts;
	lake_writer *w;
	pq_value v[4];
	int64_t version;
	int rc;

	if (delta_snapshot_load(table, -1, &base, err) == DELTA_ERROR)
		return -1;
	lake_writer_opts_default(&opts);
	if ((w = lake_writer_open(table, &schema, NULL, &opts, err)) == NULL) {
		delta_snapshot_free(base);
		return -1;
	}
	memset(v, 0, sizeof(v));
	for (int32_t id = first; id <= last; id++) {
		v[0].v.i32 = id;
		v[1].v.s.ptr = statuses[id % 3];
		v[1].v.s.len = (uint32_t)strlen(statuses[id % 3]);
		v[2].v.i64 = 1764000000000000LL + (int64_t)id * 1000000;
		v[3].v.i64 = 1000 + id / 7;
		if (lake_writer_append(w, NULL, v, err) == -1) {
			lake_writer_abort(w);
			delta_snapshot_free(base);
			return -1;
		}
	}
	rc = lake_writer_commit(w, base, NULL, 0, "WRITE", NULL, &version, err);
	delta_snapshot_free(base);
	return rc == DELTA_OK ? 0 : -1;
}

static void
test_large_write_has_several_row_groups(const char *dir)
{
	char table[4096], path[8192];
	delta_snapshot *s = NULL;
	pq_reader *r = NULL;
	lake_err err;
	int groups = 0;
	int64_t most = 0;

	snprintf(table, sizeof(table), "%s/large", dir);
	EXPECT(write_ids(table, 1, 1500000, &err) == 0, "write: %s", err.msg);
	EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_OK &&
	    s->nfiles == 1, "one file: %s", err.msg);
	if (s == NULL || s->nfiles != 1)
		goto out;
	snprintf(path, sizeof(path), "%s/%s", table, s->files[0].path);
	EXPECT((r = pq_reader_open(path, &err)) != NULL, "open: %s", err.msg);
	if (r == NULL)
		goto out;
	groups = pq_reader_num_row_groups(r);
	for (int g = 0; g < groups; g++)
		if (pq_reader_row_group_rows(r, g) > most)
			most = pq_reader_row_group_rows(r, g);
	/* 1.5 M rows of about 25 bytes: 37 MB of values. */
	EXPECT(groups >= 4, "1.5 M rows in several row groups, got %d", groups);
	EXPECT(most <= 500000, "at most 500 000 rows a group, got %" PRId64,
	    most);
out:
	pq_reader_close(r);
	delta_snapshot_free(s);
}

typedef struct seen {
	int64_t rows;
	int64_t found[4];
} seen;

static int
count_cb(const pq_batch *b, const delta_file *f, void *arg)
{
	static const int64_t wanted[4] = { 150, 9001, 9002, 40000 };
	seen *s = arg;

	(void)f;
	s->rows += b->nrows;
	for (int64_t i = 0; i < b->nrows; i++)
		for (int k = 0; k < 4; k++)
			s->found[k] += b->cols[0].v.i32[i] == wanted[k];
	return 0;
}

static void
test_point_lookup(const char *dir)
{
	static const char *proj[] = { "orderid" };
	static const int64_t keys[4] = { 150, 9001, 9002, 40000 };
	lake_lookup lookup = { { "orderid", 150, 40000 }, keys, 4 };
	lake_lookup range = { { "orderid", 150, 40000 }, NULL, 0 };
	char table[4096];
	delta_snapshot *s = NULL;
	delta_file *sel = NULL;
	seen got = { 0, { 0 } };
	lake_err err;
	size_t n = 0;

	snprintf(table, sizeof(table), "%s/lookup", dir);
	/* Ten files of 5 000 ids each, written in id order. */
	for (int32_t f = 0; f < 10; f++)
		EXPECT(write_ids(table, f * 5000 + 1, (f + 1) * 5000,
		    &err) == 0, "write %d: %s", f, err.msg);
	EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_OK &&
	    s->nfiles == 10, "ten files: %s", err.msg);
	if (s == NULL)
		return;
	sel = lake_files_for_lookup(s, &range, &n);
	EXPECT(sel != NULL && n == 8, "the range 150..40000 spans 8 files, "
	    "got %zu", n);
	free(sel);
	sel = lake_files_for_lookup(s, &lookup, &n);
	EXPECT(sel != NULL && n == 3, "ids 150, 9001, 9002, 40000 are in 3 "
	    "files, got %zu", n);
	EXPECT(lake_scan_lookup(table, sel, n, proj, 1, &lookup, count_cb,
	    &got, &err) == 0, "scan: %s", err.msg);
	for (int k = 0; k < 4; k++)
		EXPECT(got.found[k] == 1, "id %" PRId64 " found once, %" PRId64
		    " times", keys[k], got.found[k]);
	EXPECT(got.rows == 15000, "three files of 5 000 rows read, %" PRId64,
	    got.rows);
	EXPECT(pq_keys_overlap(keys, 4, 151, 9000) == 0 &&
	    pq_keys_overlap(keys, 4, 9002, 9002) == 1 &&
	    pq_keys_overlap(keys, 4, 40001, 50000) == 0 &&
	    pq_keys_overlap(keys, 0, 1, 100) == 0 &&
	    pq_keys_overlap(keys, 4, 0, 150) == 1,
	    "key overlap at the edges");
	free(sel);
	delta_snapshot_free(s);
}

int
main(void)
{
	char dir[] = "/tmp/test_layout.XXXXXX", cmd[128];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_large_write_has_several_row_groups(dir);
	test_point_lookup(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return expect_report("test_layout");
}
