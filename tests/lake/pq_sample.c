/*
 * pq_sample.c - writes a Parquet file of awkward values with our writer
 * and prints the values it wrote as CSV, so DuckDB can compare the two.
 *
 *   pq_sample OUT.parquet CODEC(none|snappy|gzip|zstd) ROWS [sorted]
 *       > expected.csv
 *
 * With "sorted", each row group is written in the order of the nullable
 * i32 column, in aligned pages of 500 rows with min/max in their headers
 * (pq_writer_opts.sort and page_rows), as maintenance compacts silver;
 * the CSV stays in the order the rows were given.
 *
 * The values: nulls in every nullable column, extreme integers, NaN-free
 * doubles printed with 17 digits, empty and multi-byte UTF-8 strings with
 * quotes, commas and newlines, dates and timestamps before 1970.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lake_format.h"
#include "parquet.h"

static pq_column_def cols[] = {
	{ "id", PQ_INT32, 0, 0, 0 },
	{ "i32", PQ_INT32, 1, 0, 0 },
	{ "i64", PQ_INT64, 1, 0, 0 },
	{ "f64", PQ_DOUBLE, 1, 0, 0 },
	{ "flag", PQ_BOOLEAN, 1, 0, 0 },
	{ "status", PQ_STRING, 1, 0, 0 },
	{ "note", PQ_STRING, 1, 0, 0 },
	{ "day", PQ_DATE, 1, 0, 0 },
	{ "ts", PQ_TIMESTAMP, 1, 0, 0 },
};
#define NCOLS 9

static const char *words[] = { "NEW", "DELIVERED", "", "Zürich", "東京",
	"say \"hi\", then\nleave", "emoji 🚚" };

static void
row(int i, pq_value *v, char *note, size_t len)
{
	memset(v, 0, sizeof(pq_value) * NCOLS);
	v[0].v.i32 = i;
	v[1].is_null = i % 9 == 1;
	v[1].v.i32 = i % 4 == 0 ? INT32_MIN + i : i % 4 == 1 ? INT32_MAX - i :
	    i * 37 - 5000;
	v[2].is_null = i % 7 == 2;
	v[2].v.i64 = i % 5 == 0 ? INT64_MIN + i : i % 5 == 1 ? INT64_MAX - i :
	    (int64_t)i * -987654321;
	v[3].is_null = i % 11 == 3;
	v[3].v.f64 = (i - 500) / 3.0 * 1e-3 + (i % 13 == 0 ? 1e300 : 0);
	v[4].is_null = i % 6 == 4;
	v[4].v.b = i % 3 == 0;
	v[5].is_null = i % 10 == 5;
	v[5].v.s.ptr = words[i % 7];
	v[5].v.s.len = (uint32_t)strlen(words[i % 7]);
	v[6].is_null = i % 8 == 6;
	snprintf(note, len, "n%d-%s", i * 7919 % 100003, words[(i / 7) % 7]);
	v[6].v.s.ptr = note;
	v[6].v.s.len = (uint32_t)strlen(note);
	v[7].is_null = i % 12 == 7;
	v[7].v.i32 = -30000 + i * 17;
	v[8].is_null = i % 13 == 8;
	v[8].v.i64 = -2208988800000000LL + (int64_t)i * 98765432101LL + i;
}

static void
print_csv(const pq_value *v)
{
	char buf[64];

	for (int c = 0; c < NCOLS; c++) {
		if (c)
			putchar(',');
		if (v[c].is_null)
			continue;
		switch (cols[c].type) {
		case PQ_INT32:
			printf("%" PRId32, v[c].v.i32);
			break;
		case PQ_INT64:
			printf("%" PRId64, v[c].v.i64);
			break;
		case PQ_DOUBLE:
			printf("%.17g", v[c].v.f64);
			break;
		case PQ_BOOLEAN:
			fputs(v[c].v.b ? "true" : "false", stdout);
			break;
		case PQ_STRING:
			lake_print_csv_string(stdout, v[c].v.s.ptr,
			    v[c].v.s.len);
			break;
		case PQ_DATE:
			lake_format_date(buf, sizeof(buf), v[c].v.i32);
			fputs(buf, stdout);
			break;
		default:
			lake_format_timestamp(buf, sizeof(buf), v[c].v.i64);
			fputs(buf, stdout);
			break;
		}
	}
	fputs("\r\n", stdout);
}

int
main(int argc, char **argv)
{
	pq_schema schema = { cols, NCOLS };
	pq_writer_opts o;
	pq_value v[NCOLS];
	char note[128];
	lake_err err;
	pq_writer *w;
	int n;

	if (argc != 4 && !(argc == 5 && strcmp(argv[4], "sorted") == 0)) {
		fprintf(stderr, "usage: pq_sample OUT CODEC ROWS [sorted]\n");
		return 2;
	}
	pq_writer_opts_default(&o);
	o.codec = strcmp(argv[2], "none") == 0 ? PQ_CODEC_UNCOMPRESSED :
	    strcmp(argv[2], "snappy") == 0 ? PQ_CODEC_SNAPPY :
	    strcmp(argv[2], "gzip") == 0 ? PQ_CODEC_GZIP : PQ_CODEC_ZSTD;
	o.row_group_bytes = 64 * 1024;	/* several row groups */
	o.page_bytes = 8 * 1024;	/* several pages each */
	if (argc == 5) {
		o.sort = 1;
		o.sort_column = 1;	/* i32 */
		o.page_rows = 500;
	}
	n = atoi(argv[3]);
	if ((w = pq_writer_open(argv[1], &schema, &o, &err)) == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	printf("id,i32,i64,f64,flag,status,note,day,ts\r\n");
	for (int i = 0; i < n; i++) {
		row(i, v, note, sizeof(note));
		if (pq_writer_append(w, v, &err) == -1) {
			fprintf(stderr, "%s\n", err.msg);
			pq_writer_abort(w);
			return 1;
		}
		print_csv(v);
	}
	if (pq_writer_close(w, NULL, &err) == -1) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	return 0;
}
