/*
 * test_s3_prefetch.c - a scan's read-ahead on S3 (lake_store_prefetch,
 * stages/lake/lake_store_s3_prefetch.c) against a real gateway, driven by
 * tests/s3/prefetch.sh, which starts a throwaway Ceph RGW and exports its
 * AWS_* settings:
 *
 *   test_s3_prefetch window URI   the window's bound (files and bytes),
 *                                 reads served from it without a
 *                                 request, a large file's footer, a
 *                                 missing file's error at its first
 *                                 read, leftovers dropped
 *   test_s3_prefetch scan URI     lake_scan over 100 small Parquet files:
 *                                 every row, one GET a file, as before
 *
 * URI is an s3://bucket/prefix to write under. Exit 0 when every check
 * passed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"
#include "lake.h"
#include "lake_store.h"

#define NSMALL 100

static uint64_t
requests(void)
{
	lake_store_stats st;

	lake_store_stats_get(&st);
	return st.requests;
}

static void
fill(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[i] = (uint8_t)seed;
	}
}

/* Writes name with n bytes of seed; the bytes (owned). */
static uint8_t *
put(const char *name, size_t n, uint64_t seed)
{
	uint8_t *data = malloc(n ? n : 1);
	lake_err err;

	fill(data, n, seed);
	EXPECT(lake_store_write(name, data, n, &err) == 0, "write %s: %s",
	    name, err.msg);
	return data;
}

/* Opens name and reads its last len bytes; 0 when they are want's. */
static int
read_tail_is(const char *name, int64_t size, size_t len, const uint8_t *want,
    uint64_t want_size, lake_err *err)
{
	uint8_t *buf = malloc(len);
	lake_in *in = lake_in_open(name, size, err);
	uint64_t got_size = 0;
	size_t got = 0;
	int rc = -1;

	if (in != NULL && lake_in_read_tail(in, len, buf, &got, &got_size,
	    err) == 0)
		rc = got_size == want_size && got == (len < want_size ? len :
		    want_size) && memcmp(buf, want + want_size - got, got) == 0 ?
		    0 : 1;
	lake_in_close(in);
	free(buf);
	return rc;
}

static void
test_window(const char *root)
{
	char *names[NSMALL + 3];
	int64_t sizes[NSMALL + 3];
	uint8_t *data[NSMALL + 3];
	size_t files, bytes, k, i, ok = 0;
	uint64_t r0;
	lake_err err;
	uint8_t head[100];
	lake_in *in;
	size_t got;

	for (i = 0; i < NSMALL + 3; i++) {
		/* 100 files of up to 256 KiB; 2 of 1 MiB; one absent */
		sizes[i] = i < NSMALL ? (int64_t)((i * 7919) % (256 * 1024) +
		    1) : 1024 * 1024;
		if (asprintf(&names[i], "%s/pf/%03zu.parquet", root, i) < 0)
			exit(1);
		data[i] = i < NSMALL + 2 ? put(names[i], (size_t)sizes[i],
		    i + 1) : NULL;
	}

	/* Local names: nothing to do, all covered. */
	EXPECT(lake_store_prefetch((const char *const *)(char *[]){
	    "/tmp/x", "/tmp/y" }, sizes, 2) == 2, "local names");

	r0 = requests();
	k = lake_store_prefetch((const char *const *)names, sizes, NSMALL);
	lake_store_prefetch_usage(&files, &bytes);
	printf("# a window of %zu files, %zu bytes, %" PRIu64 " requests\n",
	    files, bytes, requests() - r0);
	EXPECT(k > 0 && k <= LAKE_PREFETCH_FILES && files == k &&
	    bytes <= LAKE_PREFETCH_BYTES, "the bound: %zu files, %zu bytes",
	    files, bytes);
	EXPECT(requests() - r0 == k, "one GET a file: %" PRIu64 " for %zu",
	    requests() - r0, k);
	r0 = requests();
	for (i = 0; i < k; i++)
		ok += read_tail_is(names[i], sizes[i], (size_t)sizes[i],
		    data[i], (uint64_t)sizes[i], &err) == 0;
	EXPECT(ok == k, "%zu of %zu files read whole from the window", ok, k);
	EXPECT(requests() == r0, "and no request: %" PRIu64,
	    requests() - r0);
	lake_store_prefetch_usage(&files, &bytes);
	EXPECT(files == 0 && bytes == 0, "taken, the window is empty: %zu "
	    "files, %zu bytes", files, bytes);

	/* Leftovers go at the next call; sizes past the byte budget stop
	 * the window. */
	k = lake_store_prefetch((const char *const *)names, sizes, NSMALL);
	(void)lake_store_prefetch((const char *const *)names + k, sizes + k,
	    NSMALL - k);
	lake_store_prefetch_usage(&files, &bytes);
	EXPECT(files <= LAKE_PREFETCH_FILES && bytes <= LAKE_PREFETCH_BYTES,
	    "never more than one window: %zu files, %zu bytes", files, bytes);
	r0 = requests();
	EXPECT(read_tail_is(names[0], sizes[0], (size_t)sizes[0], data[0],
	    (uint64_t)sizes[0], &err) == 0 && requests() == r0 + 1,
	    "a dropped entry is read with a GET of its own: %s", err.msg);
	lake_store_prefetch_drop();
	lake_store_prefetch_usage(&files, &bytes);
	EXPECT(files == 0 && bytes == 0, "dropped: %zu files", files);

	/* Large files: the footer only; other reads are GETs. An unknown
	 * size: the last 64 KiB. An absent file: its error at the read. */
	r0 = requests();
	k = lake_store_prefetch((const char *const *)names + NSMALL,
	    (int64_t[]){ 1024 * 1024, -1, 4096 }, 3);
	lake_store_prefetch_usage(&files, &bytes);
	EXPECT(k == 3 && requests() - r0 == 3 && bytes == 2 *
	    LAKE_PREFETCH_TAIL_BYTES, "two footers and a failure: %zu files, "
	    "%zu bytes", files, bytes);
	r0 = requests();
	EXPECT(read_tail_is(names[NSMALL], 1024 * 1024,
	    LAKE_PREFETCH_TAIL_BYTES, data[NSMALL], 1024 * 1024, &err) == 0 &&
	    requests() == r0, "a footer from the window: %s", err.msg);
	in = lake_in_open(names[NSMALL + 1], -1, &err);
	EXPECT(in != NULL && lake_in_read_tail(in, 8, head, &got, &(uint64_t){
	    0 }, &err) == 0 && got == 8 && memcmp(head, data[NSMALL + 1] +
	    1024 * 1024 - 8, 8) == 0 && requests() == r0, "8 bytes of the "
	    "footer of a file of unknown size from the window: %s", err.msg);
	EXPECT(in != NULL && lake_in_read_at(in, 0, sizeof(head), head, &got,
	    &err) == 0 && got == sizeof(head) && memcmp(head,
	    data[NSMALL + 1], sizeof(head)) == 0 && requests() == r0 + 1,
	    "its start with a GET: %s", err.msg);
	lake_in_close(in);
	r0 = requests();
	in = lake_in_open(names[NSMALL + 2], 4096, &err);
	EXPECT(in != NULL && lake_in_read_tail(in, 4096, head, &got,
	    &(uint64_t){ 0 }, &err) == -1 && strstr(err.msg, "NoSuchKey") &&
	    strstr(err.msg, "pf/102.parquet") && requests() == r0,
	    "an absent file fails at its first read, with the GET's message, "
	    "and no second request: %s", err.msg);
	printf("# %s\n", err.msg);
	lake_in_close(in);

	for (i = 0; i < NSMALL + 3; i++) {
		if (i < NSMALL + 2)
			lake_store_delete(names[i], NULL);
		free(names[i]);
		free(data[i]);
	}
}

static pq_column_def cols[] = {
	{ "id", PQ_INT64, 0, 0, 0 },
};
static const pq_schema schema = { cols, 1 };

typedef struct sum {
	int64_t rows, total;
} sum;

static int
add_rows(const pq_batch *b, const delta_file *f, void *arg)
{
	sum *s = arg;

	(void)f;
	for (int64_t i = 0; i < b->nrows; i++)
		s->total += b->cols[0].v.i64[i];
	s->rows += b->nrows;
	return 0;
}

static void
test_scan(const char *root)
{
	delta_file files[NSMALL];
	pq_writer_opts opts;
	const char *names[] = { "id" };
	int64_t want = 0;
	sum s = { 0, 0 };
	uint64_t r0;
	lake_err err;
	char table[512];

	snprintf(table, sizeof(table), "%s/scan", root);
	pq_writer_opts_default(&opts);
	memset(files, 0, sizeof(files));
	for (int i = 0; i < NSMALL; i++) {
		char path[600];
		pq_file_stats st;
		pq_writer *w;

		if (asprintf(&files[i].path, "f%03d.parquet", i) < 0)
			exit(1);
		snprintf(path, sizeof(path), "%s/%s", table, files[i].path);
		w = pq_writer_open(path, &schema, &opts, &err);
		EXPECT(w != NULL, "open %s: %s", path, err.msg);
		if (w == NULL)
			return;
		for (int j = 0; j <= i; j++) {
			pq_value v = { 0, { .i64 = i * 1000 + j } };

			want += v.v.i64;
			EXPECT(pq_writer_append(w, &v, &err) == 0, "%s",
			    err.msg);
		}
		EXPECT(pq_writer_close(w, &st, &err) == 0, "close: %s",
		    err.msg);
		files[i].size = st.file_size;
		files[i].num_records = st.num_rows;
		pq_file_stats_free(&st);
	}
	r0 = requests();
	EXPECT(lake_scan(table, files, NSMALL, names, 1, add_rows, &s,
	    &err) == 0, "scan: %s", err.msg);
	printf("# lake_scan of %d files: %" PRIu64 " requests\n", NSMALL,
	    requests() - r0);
	EXPECT(s.rows == NSMALL * (NSMALL + 1) / 2 && s.total == want,
	    "every row: %" PRId64 " rows", s.rows);
	EXPECT(requests() - r0 == NSMALL, "one GET a file: %" PRIu64,
	    requests() - r0);
	for (int i = 0; i < NSMALL; i++) {
		char path[600];

		snprintf(path, sizeof(path), "%s/%s", table, files[i].path);
		lake_store_delete(path, NULL);
		free(files[i].path);
	}
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: test_s3_prefetch window|scan URI\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(argv[1], "window") == 0)
		test_window(argv[2]);
	else if (strcmp(argv[1], "scan") == 0)
		test_scan(argv[2]);
	else
		return 2;
	return expect_report(argv[1]);
}
