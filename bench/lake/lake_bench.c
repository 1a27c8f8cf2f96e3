/*
 * lake_bench.c - our side of the lake benchmark: write, then read back,
 * a table shaped like ordershistory (historyid, orderid, status,
 * updatedat, xid) with the Parquet writer and reader, and print one JSON
 * line with the timings. bench/lake/run.sh runs DuckDB on the same data
 * and prints the ratios.
 *
 *   lake_bench write FILE ROWS CODEC   -> {"rows":..,"seconds":..,"bytes":..}
 *   lake_bench read FILE [THREADS]     -> {"rows":..,"seconds":..,"check":..}
 *
 * Writing uses the lake writer's options (row group and page sizes, as
 * the stages write them); LAKE_BENCH_ROW_GROUP_BYTES and
 * LAKE_BENCH_PAGE_BYTES override them, to compare layouts. Reading runs
 * THREADS readers (default 2, like DuckDB on this machine), each taking
 * every THREADS-th row group, the way stages read files in parallel.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "lake.h"
#include "parquet.h"

static const char *statuses[] = { "NEW", "INTRANSIT", "DELIVERED" };

/* A size in bytes from the environment, or dflt when unset or not one. */
static size_t
size_from_env(const char *name, size_t dflt)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0')
		return dflt;
	v = strtoull(s, &end, 10);
	return *end == '\0' && v > 0 ? (size_t)v : dflt;
}

static int
bench_write(const char *path, int64_t rows, const char *codec)
{
	pq_column_def cols[] = {
		{ "historyid", PQ_INT32, 0, 0, 0 },
		{ "orderid", PQ_INT32, 0, 0, 0 },
		{ "status", PQ_STRING, 0, 0, 0 },
		{ "updatedat", PQ_TIMESTAMP, 0, 0, 0 },
		{ "xid", PQ_INT64, 0, 0, 0 },
	};
	pq_schema schema = { cols, 5 };
	lake_writer_opts lake_opts;
	pq_writer_opts o;
	pq_value v[5];
	lake_err err;
	pq_writer *w;
	struct stat st;
	int64_t t0;

	lake_writer_opts_default(&lake_opts);
	o = lake_opts.parquet;
	o.row_group_bytes = size_from_env("LAKE_BENCH_ROW_GROUP_BYTES",
	    o.row_group_bytes);
	o.page_bytes = size_from_env("LAKE_BENCH_PAGE_BYTES", o.page_bytes);
	o.codec = strcmp(codec, "snappy") == 0 ? PQ_CODEC_SNAPPY :
	    strcmp(codec, "none") == 0 ? PQ_CODEC_UNCOMPRESSED : PQ_CODEC_ZSTD;
	unlink(path);
	t0 = clock_mono_us();
	if ((w = pq_writer_open(path, &schema, &o, &err)) == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	memset(v, 0, sizeof(v));
	for (int64_t i = 0; i < rows; i++) {
		v[0].v.i32 = (int32_t)(i + 1);
		v[1].v.i32 = (int32_t)(i / 3 + 1);
		v[2].v.s.ptr = statuses[i % 3];
		v[2].v.s.len = (uint32_t)strlen(statuses[i % 3]);
		v[3].v.i64 = 1764000000000000LL + i * 1000000;
		v[4].v.i64 = 1000 + i / 7;
		if (pq_writer_append(w, v, &err) == -1) {
			fprintf(stderr, "%s\n", err.msg);
			pq_writer_abort(w);
			return 1;
		}
	}
	if (pq_writer_close(w, NULL, &err) == -1) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	stat(path, &st);
	printf("{\"rows\":%" PRId64 ",\"seconds\":%.4f,\"bytes\":%lld}\n", rows,
	    (clock_mono_us() - t0) / 1e6, (long long)st.st_size);
	return 0;
}

typedef struct read_part {
	const char *path;
	int first;
	int step;
	int failed;
	int64_t rows, sum_h, sum_o, sum_len, max_at, sum_xid;
} read_part;

static void *
read_some(void *arg)
{
	read_part *p = arg;
	pq_batch b = { 0 };
	lake_err err;
	pq_reader *r = pq_reader_open(p->path, &err);
	int proj[5];

	p->max_at = INT64_MIN;
	if (r == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		p->failed = 1;
		return NULL;
	}
	proj[0] = pq_reader_column_index(r, "historyid");
	proj[1] = pq_reader_column_index(r, "orderid");
	proj[2] = pq_reader_column_index(r, "status");
	proj[3] = pq_reader_column_index(r, "updatedat");
	proj[4] = pq_reader_column_index(r, "xid");
	for (int g = p->first; g < pq_reader_num_row_groups(r); g += p->step) {
		if (pq_reader_read_row_group(r, g, proj, 5, &b, &err) == -1) {
			fprintf(stderr, "%s\n", err.msg);
			p->failed = 1;
			break;
		}
		for (int64_t i = 0; i < b.nrows; i++) {
			p->sum_h += b.cols[0].v.i32[i];
			p->sum_o += b.cols[1].v.i32[i];
			p->sum_len += b.cols[2].offsets[i + 1] -
			    b.cols[2].offsets[i];
			if (b.cols[3].v.i64[i] > p->max_at)
				p->max_at = b.cols[3].v.i64[i];
			p->sum_xid += b.cols[4].v.i64[i];
		}
		p->rows += b.nrows;
	}
	pq_batch_free(&b);
	pq_reader_close(r);
	return NULL;
}

static int
bench_read(const char *path, int threads)
{
	read_part parts[16];
	pthread_t tid[16];
	int64_t t0 = clock_mono_us();
	read_part total = { 0 };

	total.max_at = INT64_MIN;
	if (threads < 1 || threads > 16)
		threads = 2;
	for (int t = 0; t < threads; t++) {
		memset(&parts[t], 0, sizeof(parts[t]));
		parts[t].path = path;
		parts[t].first = t;
		parts[t].step = threads;
		if (pthread_create(&tid[t], NULL, read_some, &parts[t]) != 0) {
			fprintf(stderr, "cannot start a thread\n");
			return 1;
		}
	}
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		if (parts[t].failed)
			return 1;
		total.rows += parts[t].rows;
		total.sum_h += parts[t].sum_h;
		total.sum_o += parts[t].sum_o;
		total.sum_len += parts[t].sum_len;
		total.sum_xid += parts[t].sum_xid;
		if (parts[t].max_at > total.max_at)
			total.max_at = parts[t].max_at;
	}
	printf("{\"rows\":%" PRId64 ",\"seconds\":%.4f,\"threads\":%d,"
	    "\"check\":\"%" PRId64 "/%" PRId64 "/%" PRId64 "/%" PRId64 "/%"
	    PRId64 "\"}\n", total.rows, (clock_mono_us() - t0) / 1e6, threads,
	    total.sum_h, total.sum_o, total.sum_len, total.max_at,
	    total.sum_xid);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "write") == 0)
		return bench_write(argv[2], atoll(argv[3]), argv[4]);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "read") == 0)
		return bench_read(argv[2], argc == 4 ? atoi(argv[3]) : 2);
	fprintf(stderr, "usage: lake_bench write FILE ROWS CODEC | read FILE\n");
	return 2;
}
