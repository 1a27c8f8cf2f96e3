/*
 * test_parquet.c - unit tests of the Parquet writer and reader: round
 * trips of every type with nulls and edge values, under each codec, with
 * several row groups and pages, the dictionary fallback, statistics,
 * deferred creation (no file and no descriptor while only buffering), and
 * corrupt files (truncated, bad magic, flipped bytes) that must give an
 * error rather than a crash, and the page index (OffsetIndex and
 * ColumnIndex) that point lookups read, ours and Spark's.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"
#include "parquet.h"
#include "parquet_internal.h"

#define NROWS 50000

static pq_column_def cols[] = {
	{ "id", PQ_INT32, 0, 0, 0 },
	{ "big", PQ_INT64, 1, 0, 0 },
	{ "ratio", PQ_DOUBLE, 1, 0, 0 },
	{ "flag", PQ_BOOLEAN, 1, 0, 0 },
	{ "status", PQ_STRING, 1, 0, 0 },
	{ "uniq", PQ_STRING, 0, 0, 0 },
	{ "day", PQ_DATE, 0, 0, 0 },
	{ "at", PQ_TIMESTAMP, 1, 0, 0 },
};
#define NCOLS ((int)(sizeof(cols) / sizeof(cols[0])))

static const char *statuses[] = { "NEW", "INTRANSIT", "DELIVERED", "",
	"Zürich ✓" };

static void
make_row(int i, pq_value *v, char *uniq, size_t uniq_len)
{
	memset(v, 0, sizeof(pq_value) * NCOLS);
	v[0].v.i32 = i;
	v[1].is_null = i % 7 == 3;
	v[1].v.i64 = i % 3 == 0 ? INT64_MIN + i : i % 3 == 1 ?
	    INT64_MAX - i : (int64_t)i * 1000003;
	v[2].is_null = i % 11 == 0;
	v[2].v.f64 = i / 7.0 - 1000;
	v[3].is_null = i % 5 == 0;
	v[3].v.b = i % 2;
	v[4].is_null = i % 13 == 0;
	v[4].v.s.ptr = statuses[i % 5];
	v[4].v.s.len = (uint32_t)strlen(statuses[i % 5]);
	snprintf(uniq, uniq_len, "order-%d-ß", i * 7919 % NROWS);
	v[5].v.s.ptr = uniq;
	v[5].v.s.len = (uint32_t)strlen(uniq);
	v[6].v.i32 = -1000 + i % 4000;
	v[7].is_null = i % 17 == 0;
	v[7].v.i64 = (int64_t)(i - NROWS / 2) * 1234567891LL;
}

static int
write_file(const char *path, const pq_writer_opts *o, pq_file_stats *stats)
{
	pq_schema schema = { cols, NCOLS };
	pq_value v[NCOLS];
	char uniq[64];
	lake_err err;
	pq_writer *w;

	unlink(path);
	if ((w = pq_writer_open(path, &schema, o, &err)) == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	for (int i = 0; i < NROWS; i++) {
		make_row(i, v, uniq, sizeof(uniq));
		if (pq_writer_append(w, v, &err) == -1) {
			fprintf(stderr, "%s\n", err.msg);
			pq_writer_abort(w);
			return -1;
		}
	}
	if (pq_writer_close(w, stats, &err) == -1) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	return 0;
}

static int
cell_equal(const pq_column_batch *b, int64_t r, const pq_value *want,
    pq_type t)
{
	int is_null = b->nulls != NULL && b->nulls[r];

	if (is_null || want->is_null)
		return is_null == want->is_null;
	switch (t) {
	case PQ_INT32:
	case PQ_DATE:
		return b->v.i32[r] == want->v.i32;
	case PQ_INT64:
	case PQ_TIMESTAMP:
		return b->v.i64[r] == want->v.i64;
	case PQ_DOUBLE:
		return b->v.f64[r] == want->v.f64;
	case PQ_BOOLEAN:
		return b->v.b[r] == (want->v.b != 0);
	default:
		return b->offsets[r + 1] - b->offsets[r] == want->v.s.len &&
		    memcmp(b->data + b->offsets[r], want->v.s.ptr,
		    want->v.s.len) == 0;
	}
}

static void
check_file(const char *path, const char *label, int min_row_groups)
{
	pq_value want[NCOLS];
	char uniq[64];
	lake_err err;
	pq_batch batch = { 0 };
	pq_reader *r = pq_reader_open(path, &err);
	int64_t row = 0;
	int mismatches = 0;

	EXPECT(r != NULL, "%s: open: %s", label, err.msg);
	if (r == NULL)
		return;
	EXPECT(pq_reader_num_rows(r) == NROWS, "%s: %lld rows", label,
	    (long long)pq_reader_num_rows(r));
	EXPECT(pq_reader_schema(r)->ncols == NCOLS, "%s: columns", label);
	for (int c = 0; c < NCOLS && c < pq_reader_schema(r)->ncols; c++) {
		EXPECT(pq_reader_schema(r)->cols[c].type == cols[c].type,
		    "%s: column %d type", label, c);
		EXPECT(pq_reader_schema(r)->cols[c].nullable ==
		    cols[c].nullable, "%s: column %d nullability", label, c);
	}
	EXPECT(pq_reader_num_row_groups(r) >= min_row_groups,
	    "%s: %d row groups, wanted >= %d", label,
	    pq_reader_num_row_groups(r), min_row_groups);
	for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
		if (pq_reader_read_row_group(r, g, NULL, 0, &batch,
		    &err) == -1) {
			EXPECT(0, "%s: row group %d: %s", label, g, err.msg);
			break;
		}
		for (int64_t i = 0; i < batch.nrows; i++, row++) {
			make_row((int)row, want, uniq, sizeof(uniq));
			for (int c = 0; c < NCOLS; c++)
				if (!cell_equal(&batch.cols[c], i, &want[c],
				    cols[c].type) && mismatches++ < 5)
					EXPECT(0, "%s: row %lld column %s "
					    "differs", label, (long long)row,
					    cols[c].name);
		}
	}
	EXPECT(row == NROWS && mismatches == 0, "%s: %lld rows read, %d "
	    "mismatches", label, (long long)row, mismatches);
	pq_batch_free(&batch);
	pq_reader_close(r);
}

static void
test_codecs(const char *dir)
{
	static const pq_codec codecs[] = { PQ_CODEC_UNCOMPRESSED,
		PQ_CODEC_SNAPPY, PQ_CODEC_GZIP, PQ_CODEC_ZSTD };
	char path[512];

	for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		pq_writer_opts o;
		pq_file_stats st;

		pq_writer_opts_default(&o);
		o.codec = codecs[i];
		o.row_group_bytes = 300000;
		o.page_bytes = 20000;
		snprintf(path, sizeof(path), "%s/codec%d.parquet", dir,
		    (int)codecs[i]);
		EXPECT(write_file(path, &o, &st) == 0, "write codec %d",
		    (int)codecs[i]);
		EXPECT(st.num_rows == NROWS, "stats rows");
		EXPECT(st.cols[0].has_min_max && st.cols[0].min.v.i32 == 0 &&
		    st.cols[0].max.v.i32 == NROWS - 1, "id min/max");
		EXPECT(st.cols[1].null_count == (NROWS + 3) / 7,
		    "big null count %lld", (long long)st.cols[1].null_count);
		EXPECT(st.cols[1].min.v.i64 == INT64_MIN &&
		    st.cols[1].max.v.i64 == INT64_MAX - 1, "big min/max");
		EXPECT(st.cols[4].has_min_max && st.cols[4].min.v.s.len == 0 &&
		    strcmp(st.cols[4].max.v.s.ptr, "Zürich ✓") == 0,
		    "status min/max strings");
		pq_file_stats_free(&st);
		check_file(path, path, 2);
	}
}

static void
test_dictionary_fallback(const char *dir)
{
	char path[512];
	pq_writer_opts o;

	pq_writer_opts_default(&o);
	o.dict_max_bytes = 4096;	/* "uniq" overflows it quickly */
	snprintf(path, sizeof(path), "%s/fallback.parquet", dir);
	EXPECT(write_file(path, &o, NULL) == 0, "write with fallback");
	check_file(path, "dictionary fallback", 1);
	o.dictionary = 0;
	snprintf(path, sizeof(path), "%s/plain.parquet", dir);
	EXPECT(write_file(path, &o, NULL) == 0, "write plain");
	check_file(path, "plain strings", 1);
}

static void
test_projection_and_stats(const char *dir)
{
	char path[512];
	pq_writer_opts o;
	lake_err err;
	pq_reader *r;
	pq_batch b = { 0 };
	int proj[2];

	pq_writer_opts_default(&o);
	o.row_group_bytes = 200000;
	snprintf(path, sizeof(path), "%s/proj.parquet", dir);
	EXPECT(write_file(path, &o, NULL) == 0, "write");
	r = pq_reader_open(path, &err);
	EXPECT(r != NULL, "open: %s", r ? "" : err.msg);
	if (r == NULL)
		return;
	proj[0] = pq_reader_column_index(r, "day");
	proj[1] = pq_reader_column_index(r, "id");
	EXPECT(proj[0] == 6 && proj[1] == 0, "column_index");
	EXPECT(pq_reader_column_index(r, "nope") == -1, "missing column");
	EXPECT(pq_reader_read_row_group(r, 1, proj, 2, &b, &err) == 0,
	    "projected read: %s", err.msg);
	EXPECT(b.ncols == 2 && b.cols[0].col == 6 && b.cols[1].col == 0,
	    "projection order");
	if (b.ncols == 2) {
		const pq_column_stats *s = pq_reader_row_group_stats(r, 1, 0);

		EXPECT(s != NULL && s->has_min_max &&
		    s->min.v.i32 == b.cols[1].v.i32[0] &&
		    s->max.v.i32 == b.cols[1].v.i32[b.nrows - 1],
		    "row group id stats match its rows");
		EXPECT(s != NULL && s->null_count == 0, "null count 0");
	}
	EXPECT(pq_reader_read_row_group(r, 99, NULL, 0, &b, &err) == -1,
	    "missing row group is an error");
	pq_batch_free(&b);
	pq_reader_close(r);
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Reads everything; the result does not matter, only that it returns. */
static int
read_all(const uint8_t *buf, size_t len, lake_err *err)
{
	pq_reader *r = pq_reader_open_mem(buf, len, err);
	pq_batch b = { 0 };
	int rc = 0;

	if (r == NULL)
		return -1;
	for (int g = 0; g < pq_reader_num_row_groups(r) && rc == 0; g++)
		rc = pq_reader_read_row_group(r, g, NULL, 0, &b, err);
	pq_batch_free(&b);
	pq_reader_close(r);
	return rc;
}

static void
test_corrupt(const char *dir)
{
	char path[512];
	pq_writer_opts o;
	uint8_t *buf, *copy;
	size_t len;
	lake_err err;
	int errors = 0;

	pq_writer_opts_default(&o);
	o.row_group_bytes = 100000;
	snprintf(path, sizeof(path), "%s/corrupt.parquet", dir);
	EXPECT(write_file(path, &o, NULL) == 0, "write");
	buf = slurp(path, &len);
	EXPECT(buf != NULL, "read back");
	if (buf == NULL)
		return;
	EXPECT(read_all(buf, len, &err) == 0, "intact file reads: %s",
	    err.msg);
	copy = malloc(len);
	memcpy(copy, buf, len);
	copy[0] = 'X';
	EXPECT(read_all(copy, len, &err) == -1 &&
	    strstr(err.msg, "not a Parquet file") != NULL,
	    "wrong magic: %s", err.msg);
	/* Truncations: every one is an error, never a crash. */
	for (size_t cut = 0; cut < len; cut += len / 97 + 1)
		errors += read_all(buf, cut, &err) == -1;
	EXPECT(errors == (int)((len - 1) / (len / 97 + 1)) + 1,
	    "every truncation fails (%d)", errors);
	EXPECT(read_all(buf, len - 1, &err) == -1 &&
	    strstr(err.msg, "truncated") != NULL, "truncated: %s", err.msg);
	/* A lying footer length. */
	memcpy(copy, buf, len);
	copy[len - 8] = 0xff;
	copy[len - 7] = 0xff;
	copy[len - 6] = 0xff;
	copy[len - 5] = 0x7f;
	EXPECT(read_all(copy, len, &err) == -1 &&
	    strstr(err.msg, "footer length") != NULL, "footer length: %s",
	    err.msg);
	/* Flipped bytes all over: must return (ASan checks the rest). */
	srand(7);
	for (int i = 0; i < 400; i++) {
		memcpy(copy, buf, len);
		for (int k = 0; k < 4; k++)
			copy[(size_t)rand() % len] ^= (uint8_t)(1 + rand() %
			    255);
		(void)read_all(copy, len, &err);
	}
	free(copy);
	free(buf);
}

static void
test_required_null(const char *dir)
{
	pq_schema schema = { cols, NCOLS };
	pq_value v[NCOLS];
	char path[512], uniq[64];
	lake_err err;
	pq_writer *w;

	snprintf(path, sizeof(path), "%s/reqnull.parquet", dir);
	unlink(path);
	w = pq_writer_open(path, &schema, NULL, &err);
	EXPECT(w != NULL, "open");
	if (w == NULL)
		return;
	make_row(1, v, uniq, sizeof(uniq));
	v[0].is_null = 1;
	EXPECT(pq_writer_append(w, v, &err) == -1 &&
	    strstr(err.msg, "column id is required") != NULL,
	    "null in a required column: %s", err.msg);
	EXPECT(pq_writer_open(path, &schema, NULL, &err) == NULL &&
	    strstr(err.msg, "File exists") != NULL,
	    "O_EXCL refuses to overwrite: %s", err.msg);
	pq_writer_abort(w);
	EXPECT(access(path, F_OK) == -1, "abort removes the file");
}

/* Descriptors this process has open (counted in /proc/self/fd). */
static int
open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * defer_create: the file appears with its first write, no descriptor is
 * held between row groups, the result reads back whole, an abort removes
 * a file it created, and an existing path is still refused.
 */
static void
test_deferred_create(const char *dir)
{
	pq_schema schema = { cols, NCOLS };
	pq_value v[NCOLS];
	pq_writer_opts o;
	char path[512], uniq[64];
	lake_err err;
	pq_writer *w;
	int fds = open_fds(), i;

	pq_writer_opts_default(&o);
	o.defer_create = 1;
	snprintf(path, sizeof(path), "%s/deferred.parquet", dir);
	unlink(path);
	w = pq_writer_open(path, &schema, &o, &err);
	EXPECT(w != NULL, "deferred open: %s", err.msg);
	if (w == NULL)
		return;
	EXPECT(access(path, F_OK) == -1 && open_fds() == fds,
	    "no file and no descriptor after open");
	for (i = 0; i < NROWS / 2; i++) {
		make_row(i, v, uniq, sizeof(uniq));
		if (pq_writer_append(w, v, &err) == -1)
			break;
	}
	EXPECT(i == NROWS / 2, "append: %s", err.msg);
	EXPECT(access(path, F_OK) == -1, "buffered rows create no file");
	EXPECT(pq_writer_flush_row_group(w, &err) == 0, "flush: %s", err.msg);
	EXPECT(access(path, F_OK) == 0, "the first row group creates it");
	EXPECT(open_fds() == fds, "no descriptor held between row groups: "
	    "%d open, %d before", open_fds(), fds);
	for (; i < NROWS; i++) {
		make_row(i, v, uniq, sizeof(uniq));
		if (pq_writer_append(w, v, &err) == -1)
			break;
	}
	EXPECT(pq_writer_close(w, NULL, &err) == 0, "close: %s", err.msg);
	EXPECT(open_fds() == fds, "close leaves no descriptor");
	check_file(path, "deferred", 2);

	/* The path now exists: a deferred writer fails at its first write. */
	w = pq_writer_open(path, &schema, &o, &err);
	EXPECT(w != NULL, "deferred open of an existing path");
	if (w != NULL) {
		make_row(0, v, uniq, sizeof(uniq));
		EXPECT(pq_writer_append(w, v, &err) == 0 &&
		    pq_writer_flush_row_group(w, &err) == -1 &&
		    strstr(err.msg, "File exists") != NULL,
		    "O_EXCL at the first write: %s", err.msg);
		pq_writer_abort(w);
	}
	check_file(path, "deferred, after a refused writer", 2);

	snprintf(path, sizeof(path), "%s/deferred-abort.parquet", dir);
	unlink(path);
	w = pq_writer_open(path, &schema, &o, &err);
	EXPECT(w != NULL, "deferred open: %s", err.msg);
	if (w == NULL)
		return;
	make_row(0, v, uniq, sizeof(uniq));
	EXPECT(pq_writer_append(w, v, &err) == 0 &&
	    pq_writer_flush_row_group(w, &err) == 0 &&
	    access(path, F_OK) == 0, "flushed: %s", err.msg);
	pq_writer_abort(w);
	EXPECT(access(path, F_OK) == -1, "abort removes the created file");
}

/*
 * The nested writer: a struct with a map and a list, rows where the
 * struct, the map or the list is null or empty, several row groups; read
 * back leaf by leaf with the levels a Dremel record needs. Levels that do
 * not fit the schema are refused.
 */
static void
test_nested(const char *dir)
{
	static const pq_node nodes[] = {
		{ "s", PQ_REP_OPTIONAL, 3, PQ_STRING, PQ_GROUP_STRUCT },
		{ "n", PQ_REP_OPTIONAL, 0, PQ_INT64, PQ_GROUP_STRUCT },
		{ "m", PQ_REP_OPTIONAL, 1, PQ_STRING, PQ_GROUP_MAP },
		{ "key_value", PQ_REP_REPEATED, 2, PQ_STRING,
		    PQ_GROUP_STRUCT },
		{ "key", PQ_REP_REQUIRED, 0, PQ_STRING, PQ_GROUP_STRUCT },
		{ "value", PQ_REP_OPTIONAL, 0, PQ_STRING, PQ_GROUP_STRUCT },
		{ "l", PQ_REP_OPTIONAL, 1, PQ_STRING, PQ_GROUP_LIST },
		{ "list", PQ_REP_REPEATED, 1, PQ_STRING, PQ_GROUP_STRUCT },
		{ "element", PQ_REP_OPTIONAL, 0, PQ_BOOLEAN,
		    PQ_GROUP_STRUCT },
		{ "t", PQ_REP_OPTIONAL, 0, PQ_INT32, PQ_GROUP_STRUCT },
	};
	char path[512];
	pq_writer_opts opts;
	pq_nested_writer *w;
	pq_reader *r;
	pq_leaf_batch b;
	lake_err err;
	pq_value v;
	int key, val, el, n, rows = 3000;
	int64_t levels = 0;

	snprintf(path, sizeof(path), "%s/nested.parquet", dir);
	pq_writer_opts_default(&opts);
	opts.row_group_bytes = 16 << 10;	/* several row groups */
	w = pq_nested_writer_open(path, nodes, 10, &opts, &err);
	EXPECT(w != NULL, "open nested: %s", err.msg);
	if (w == NULL)
		return;
	n = pq_nested_writer_leaf(w, "s.n");
	key = pq_nested_writer_leaf(w, "s.m.key_value.key");
	val = pq_nested_writer_leaf(w, "s.m.key_value.value");
	el = pq_nested_writer_leaf(w, "s.l.list.element");
	EXPECT(n == 0 && key == 1 && val == 2 && el == 3 &&
	    pq_nested_writer_leaf(w, "t") == 4, "leaves in schema order");
	EXPECT(pq_nested_writer_max_def(w, key) == 3 &&
	    pq_nested_writer_max_def(w, val) == 4 &&
	    pq_nested_writer_max_rep(w, key) == 1 &&
	    pq_nested_writer_max_def(w, el) == 4, "levels of the leaves");
	memset(&v, 0, sizeof(v));
	for (int i = 0; i < rows; i++) {
		/* Row i: s null when i % 5 == 4, else n = i, a map of i % 3
		 * entries (the second one's value null), a list of i % 4
		 * booleans (absent list when 0); t = i always. */
		if (i % 5 != 4) {
			v.v.i64 = i;
			pq_nested_put(w, n, 0, 2, &v, &err);
			if (i % 3 == 0) {
				pq_nested_put(w, key, 0, 2, NULL, &err);
				pq_nested_put(w, val, 0, 2, NULL, &err);
			}
			for (int k = 0; k < i % 3; k++) {
				v.v.s.ptr = k ? "second" : "first";
				v.v.s.len = (uint32_t)strlen(v.v.s.ptr);
				pq_nested_put(w, key, k > 0, 3, &v, &err);
				v.v.s.ptr = "x";
				v.v.s.len = 1;
				pq_nested_put(w, val, k > 0, k ? 3 : 4, &v, &err);
			}
			if (i % 4 == 0)
				pq_nested_put(w, el, 0, 1, NULL, &err);
			for (int k = 0; k < i % 4; k++) {
				v.v.b = (i + k) % 2;
				pq_nested_put(w, el, k > 0, 4, &v, &err);
			}
		}
		v.v.i32 = i;
		EXPECT(pq_nested_put(w, 4, 0, 1, &v, &err) == 0, "t: %s",
		    err.msg);
		EXPECT(pq_nested_end_row(w, &err) == 0, "row %d: %s", i,
		    err.msg);
	}
	EXPECT(pq_nested_put(w, key, 1, 3, &v, &err) == -1,
	    "a repeated entry cannot open a row");
	EXPECT(pq_nested_put(w, n, 0, 9, &v, &err) == -1,
	    "a level above the maximum is refused");
	EXPECT(pq_nested_writer_close(w, &err) == 0, "close: %s", err.msg);

	r = pq_reader_open(path, &err);
	EXPECT(r != NULL, "reopen: %s", err.msg);
	if (r == NULL)
		return;
	EXPECT(pq_reader_num_rows(r) == rows, "rows");
	EXPECT(pq_reader_num_row_groups(r) > 1, "several row groups");
	EXPECT(pq_reader_leaf_index(r, "s.m.key_value.value") == 2 &&
	    pq_reader_leaf_max_def(r, 2) == 4 &&
	    pq_reader_leaf_max_rep(r, 2) == 1, "the reader sees the tree");
	memset(&b, 0, sizeof(b));
	{
		int64_t row = 0, nulls = 0, firsts = 0;

		for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
			EXPECT(pq_reader_read_leaf(r, g, key, &b, &err) == 0,
			    "read keys: %s", err.msg);
			levels += b.nlevels;
			for (int64_t i = 0, vi = 0; i < b.nlevels; i++) {
				if (b.rep[i] == 0)
					row++;
				if (b.def[i] < 2)
					nulls++;
				if (b.def[i] == 3) {
					firsts += b.rep[i] == 0;
					EXPECT(b.values.offsets[vi + 1] -
					    b.values.offsets[vi] == (b.rep[i] ?
					    6u : 5u), "key bytes");
					vi++;
				}
			}
			/* read_leaf replaces the batch without freeing it. */
			pq_leaf_batch_free(&b);
			memset(&b, 0, sizeof(b));
		}
		EXPECT(row == rows, "a key entry opens every row (%lld)",
		    (long long)row);
		EXPECT(nulls == rows / 5, "null structs: %lld",
		    (long long)nulls);
		/* Rows with 1 or 2 entries and s present. */
		EXPECT(firsts == 1600, "maps with entries: %lld",
		    (long long)firsts);
	}
	pq_leaf_batch_free(&b);
	pq_reader_close(r);
	EXPECT(levels > rows, "repeated levels (%lld)", (long long)levels);
}

/*
 * Sorted row groups and aligned pages: rows written in a scrambled order
 * with sort on "id" come back ascending within each row group, every
 * column moved with its row; a lookup decodes only the pages that may
 * hold its keys, and a file with pages cut by bytes is read whole.
 */
static int
scrambled(int i)
{
	return (int)((int64_t)i * 7919 % NROWS);	/* 7919 is prime */
}

static void
check_rows_of(const pq_batch *b, const char *label, int *mismatches)
{
	pq_value want[NCOLS];
	char uniq[64];

	for (int64_t i = 0; i < b->nrows; i++) {
		make_row(b->cols[0].v.i32[i], want, uniq, sizeof(uniq));
		for (int c = 0; c < NCOLS; c++)
			if (!cell_equal(&b->cols[c], i, &want[c],
			    cols[c].type) && (*mismatches)++ < 5)
				EXPECT(0, "%s: row of id %d, column %s differs",
				    label, b->cols[0].v.i32[i], cols[c].name);
	}
}

static void
test_sorted_pages(const char *dir)
{
	pq_schema schema = { cols, NCOLS };
	static uint8_t seen[NROWS];
	int all[NCOLS], mismatches = 0, unsorted = 0, dup = 0;
	const int64_t keys[] = { 5, 20000, 49999 };
	int64_t rows = 0, looked = 0, found = 0;
	pq_batch b = { 0 };
	pq_value v[NCOLS];
	char path[512], uniq[64];
	pq_writer_opts o;
	lake_err err;
	pq_writer *w;
	pq_reader *r;

	pq_writer_opts_default(&o);
	o.sort = 1;
	o.sort_column = 4;	/* a string: refused */
	snprintf(path, sizeof(path), "%s/sorted.parquet", dir);
	EXPECT(pq_writer_open(path, &schema, &o, &err) == NULL &&
	    strstr(err.msg, "cannot sort by column 4") != NULL,
	    "sorting by a string column is refused: %s", err.msg);
	o.sort_column = 0;
	o.page_rows = 1000;
	o.row_group_bytes = 1u << 20;
	o.dict_max_bytes = 64u << 10;	/* "uniq" turns PLAIN */
	w = pq_writer_open(path, &schema, &o, &err);
	EXPECT(w != NULL, "open sorted writer: %s", w ? "" : err.msg);
	if (w == NULL)
		return;
	for (int i = 0; i < NROWS; i++) {
		make_row(scrambled(i), v, uniq, sizeof(uniq));
		if (pq_writer_append(w, v, &err) == -1)
			break;
	}
	EXPECT(pq_writer_close(w, NULL, &err) == 0, "close: %s", err.msg);
	if ((r = pq_reader_open(path, &err)) == NULL) {
		EXPECT(0, "open sorted file: %s", err.msg);
		return;
	}
	EXPECT(pq_reader_num_row_groups(r) >= 3, "%d row groups, wanted >= 3",
	    pq_reader_num_row_groups(r));
	for (int c = 0; c < NCOLS; c++)
		all[c] = c;
	for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
		if (pq_reader_read_row_group(r, g, all, NCOLS, &b, &err) == -1) {
			EXPECT(0, "row group %d: %s", g, err.msg);
			break;
		}
		for (int64_t i = 0; i < b.nrows; i++) {
			int id = b.cols[0].v.i32[i];

			unsorted += i > 0 && b.cols[0].v.i32[i - 1] > id;
			dup += id < 0 || id >= NROWS || seen[id]++;
		}
		check_rows_of(&b, "sorted", &mismatches);
		rows += b.nrows;
	}
	EXPECT(rows == NROWS && unsorted == 0 && dup == 0 && mismatches == 0,
	    "sorted: %lld rows, %d out of order, %d repeated, %d cells wrong",
	    (long long)rows, unsorted, dup, mismatches);
	for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
		if (pq_reader_read_row_group_keys(r, g, all, NCOLS, 0, keys, 3,
		    &b, &err) == -1) {
			EXPECT(0, "lookup in row group %d: %s", g, err.msg);
			break;
		}
		looked += b.nrows;
		for (int64_t i = 0; i < b.nrows; i++)
			found += b.cols[0].v.i32[i] == 5 ||
			    b.cols[0].v.i32[i] == 20000 ||
			    b.cols[0].v.i32[i] == 49999;
		check_rows_of(&b, "lookup", &mismatches);
	}
	/* Each row group spans all ids, so each key matches a page in
	 * each: at most one page of 1,000 rows per key and row group. */
	EXPECT(found == 3 && looked >= 3 && looked <= 3 * 1000 *
	    pq_reader_num_row_groups(r) && looked < NROWS / 4 &&
	    mismatches == 0, "a lookup of 3 ids decoded %lld of %d rows (at "
	    "most a page of 1,000 per key and row group), found %lld of them",
	    (long long)looked, NROWS, (long long)found);
	/* A nullable key ("big", null in every 7th row): the same. */
	{
		pq_value want[NCOLS];
		int64_t big;

		make_row(20000, want, uniq, sizeof(uniq));
		big = want[1].v.i64;
		found = 0;
		for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
			if (pq_reader_read_row_group_keys(r, g, all, NCOLS, 1,
			    &big, 1, &b, &err) == -1) {
				EXPECT(0, "lookup by big: %s", err.msg);
				break;
			}
			for (int64_t i = 0; i < b.nrows; i++)
				found += !(b.cols[1].nulls &&
				    b.cols[1].nulls[i]) &&
				    b.cols[1].v.i64[i] == big;
			check_rows_of(&b, "lookup by big", &mismatches);
		}
		EXPECT(found == 1 && mismatches == 0, "a lookup by a nullable "
		    "column finds its row: %lld", (long long)found);
	}
	pq_reader_close(r);
	/* Pages cut by bytes: the lookup reads the whole row group. */
	snprintf(path, sizeof(path), "%s/plain.parquet", dir);
	if ((r = pq_reader_open(path, &err)) != NULL) {
		EXPECT(pq_reader_read_row_group_keys(r, 0, all, NCOLS, 0, keys,
		    3, &b, &err) == 0 && b.nrows ==
		    pq_reader_row_group_rows(r, 0), "unaligned pages: whole "
		    "row group (%lld rows)", (long long)b.nrows);
		pq_reader_close(r);
	} else
		EXPECT(0, "open %s: %s", path, err.msg);
	pq_batch_free(&b);
}

/*
 * Parquet's page index. Its encoding round-trips and no truncation of it
 * decodes; a file with aligned pages has an OffsetIndex on every column
 * and a ColumnIndex on the integer ones, one with pages cut by bytes has
 * none; and a Spark-written file's index (parquet-mr writes both) serves
 * a lookup with the rows a whole read finds.
 */
static void
test_index_encoding(void)
{
	pq_page_out pages[5];
	pq_chunk_out k;
	lake_buf b = { 0 };
	pq_page_loc *locs = NULL;
	pq_int_index ix;
	int n = 0, bad = 0;

	memset(&k, 0, sizeof(k));
	for (int i = 0; i < 5; i++) {
		pages[i].loc.offset = 4 + 1000LL * i;
		pages[i].loc.size = 900 + i;
		pages[i].loc.first_row = 256LL * i;
		pages[i].has_range = i != 2;	/* page 2: nulls only */
		pages[i].min = -5 + 100LL * i;
		pages[i].max = 50 + 100LL * i;
	}
	k.pages = pages;
	k.npages = 5;
	k.index_width = 4;
	pq_offset_index_encode(&b, &k);
	EXPECT(!b.failed && pq_offset_index_decode(b.data, b.len, &locs,
	    &n) == 0 && n == 5, "offset index decodes: %d pages", n);
	for (int i = 0; locs != NULL && i < n; i++)
		bad += locs[i].offset != pages[i].loc.offset ||
		    locs[i].size != pages[i].loc.size ||
		    locs[i].first_row != pages[i].loc.first_row;
	EXPECT(bad == 0, "offset index round trip: %d pages differ", bad);
	free(locs);
	for (size_t cut = 0; cut < b.len; cut++) {
		locs = NULL;
		if (pq_offset_index_decode(b.data, cut, &locs, &n) == 0) {
			EXPECT(0, "an offset index cut at %zu bytes decodes",
			    cut);
			free(locs);
			break;
		}
	}
	b.len = 0;
	pq_column_index_encode(&b, &k);
	EXPECT(!b.failed && pq_column_index_decode_int(b.data, b.len,
	    &ix) == 0 && ix.npages == 5, "column index decodes");
	for (int i = 0; i < ix.npages; i++)
		bad += ix.null_page[i] != (i == 2) || ix.known[i] != (i != 2) ||
		    (i != 2 && (ix.min[i] != pages[i].min ||
		    ix.max[i] != pages[i].max));
	EXPECT(bad == 0, "column index round trip: %d pages differ", bad);
	pq_int_index_free(&ix);
	for (size_t cut = 0; cut < b.len; cut++) {
		if (pq_column_index_decode_int(b.data, cut, &ix) == 0) {
			EXPECT(0, "a column index cut at %zu bytes decodes",
			    cut);
			pq_int_index_free(&ix);
			break;
		}
	}
	lake_buf_free(&b);
}

/* Lookups by an integer column of a Spark file with a page index: the
 * rows found are those a whole read holds. Returns the files checked. */
static int
spark_lookup(const char *path, const char *key_name)
{
	pq_batch whole = { 0 }, hit = { 0 };
	int all[64], key, ncols, checked = 0;
	lake_err err;
	pq_reader *r;

	if ((r = pq_reader_open(path, &err)) == NULL) {
		EXPECT(0, "open %s: %s", path, err.msg);
		return 0;
	}
	key = pq_reader_column_index(r, key_name);
	ncols = pq_reader_schema(r)->ncols;
	if (key < 0 || ncols > 64 || (pq_reader_page_index(r, 0, key) !=
	    (PQ_OFFSET_INDEX | PQ_COLUMN_INDEX)))
		goto out;
	for (int c = 0; c < ncols; c++)
		all[c] = c;
	for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
		int64_t keys[2];

		if (pq_reader_read_row_group(r, g, all, ncols, &whole,
		    &err) == -1 || whole.nrows == 0) {
			EXPECT(whole.nrows == 0, "%s: %s", path, err.msg);
			continue;
		}
		/* A key the group holds, and one past its largest. */
		keys[0] = pq_reader_schema(r)->cols[key].type == PQ_INT64 ?
		    whole.cols[key].v.i64[0] : whole.cols[key].v.i32[0];
		keys[1] = pq_reader_row_group_stats(r, g, key)->max.v.i64 +
		    1000000;
		for (int k = 0; k < 2; k++) {
			int64_t want = 0, got = 0;

			for (int64_t i = 0; i < whole.nrows; i++)
				want += (pq_reader_schema(r)->cols[key].type ==
				    PQ_INT64 ? whole.cols[key].v.i64[i] :
				    whole.cols[key].v.i32[i]) == keys[k];
			if (pq_reader_read_row_group_keys(r, g, all, ncols,
			    key, &keys[k], 1, &hit, &err) == -1) {
				EXPECT(0, "%s: lookup: %s", path, err.msg);
				continue;
			}
			for (int64_t i = 0; i < hit.nrows; i++)
				got += (pq_reader_schema(r)->cols[key].type ==
				    PQ_INT64 ? hit.cols[key].v.i64[i] :
				    hit.cols[key].v.i32[i]) == keys[k];
			EXPECT(got == want, "%s: a lookup of %lld through "
			    "Spark's page index finds %lld rows, a whole read "
			    "%lld", path, (long long)keys[k], (long long)got,
			    (long long)want);
		}
		checked = 1;
	}
out:
	pq_batch_free(&whole);
	pq_batch_free(&hit);
	pq_reader_close(r);
	return checked;
}

static void
test_page_index(const char *dir)
{
	const char *src = getenv("MEDALLION_SOURCE_DIR");
	char path[1024];
	int files = 0;
	pq_reader *r;
	lake_err err;
	DIR *d;
	struct dirent *e;

	test_index_encoding();
	snprintf(path, sizeof(path), "%s/sorted.parquet", dir);
	if ((r = pq_reader_open(path, &err)) != NULL) {
		int bad = 0;

		for (int g = 0; g < pq_reader_num_row_groups(r); g++)
			for (int c = 0; c < NCOLS; c++)
				bad += pq_reader_page_index(r, g, c) !=
				    (PQ_OFFSET_INDEX | (cols[c].type ==
				    PQ_INT32 || cols[c].type == PQ_INT64 ||
				    cols[c].type == PQ_DATE || cols[c].type ==
				    PQ_TIMESTAMP ? PQ_COLUMN_INDEX : 0));
		EXPECT(bad == 0, "aligned pages: an offset index on every "
		    "chunk, a column index on the integer ones (%d wrong)",
		    bad);
		pq_reader_close(r);
	} else
		EXPECT(0, "open %s: %s", path, err.msg);
	snprintf(path, sizeof(path), "%s/plain.parquet", dir);
	if ((r = pq_reader_open(path, &err)) != NULL) {
		EXPECT(pq_reader_page_index(r, 0, 0) == 0, "pages cut by bytes: "
		    "no page index");
		pq_reader_close(r);
	}
	if (src == NULL)
		return;
	snprintf(path, sizeof(path), "%s/../shared/testdata/delta-golden/"
	    "basic-with-inserts-deletes-checkpoint", src);
	if ((d = opendir(path)) == NULL) {
		printf("# no Spark golden tables at %s: skipped\n", path);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char file[2048];
		size_t n = strlen(e->d_name);

		if (n < 8 || strcmp(e->d_name + n - 8, ".parquet") != 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		files += spark_lookup(file, "id");
	}
	closedir(d);
	EXPECT(files > 0, "Spark files with a page index looked up: %d",
	    files);
}

int
main(void)
{
	char dir[] = "/tmp/test_parquet.XXXXXX";
	char cmd[600];

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_codecs(dir);
	test_dictionary_fallback(dir);
	test_projection_and_stats(dir);
	test_corrupt(dir);
	test_required_null(dir);
	test_deferred_create(dir);
	test_nested(dir);
	test_sorted_pages(dir);
	test_page_index(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return expect_report("test_parquet");
}
