/*
 * ingestion.c - the ingestion stage: new source rows into bronze.
 *
 * For each table (orders, then ordershistory) it reads the bookmark lo
 * from the bronze table's Delta log (txn appId "ingestion:<table>", as
 * the catalog names the table's app),
 * streams the rows with lo <= xid < hi from the one snapshot both tables
 * share, writes them as Parquet partitioned by event date, and commits
 * the files together with txn version hi in one Delta commit. A crash at
 * any point leaves either the old commit or the new one; a rerun reads
 * the same range again. If another run commits first, the commit
 * conflicts and the whole run starts over from the new bookmark.
 * commitInfo's sourceWatermark (catalog_watermark.h) records the bound
 * and the snapshot's time, which the transformation carries on.
 *
 * Exit status: 0 done (also when nothing was new), 1 failure, 2 usage,
 * 3 the source schema does not match what bronze expects.
 */
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_watermark.h"
#include "clock.h"
#include "copy_decode.h"
#include "days.h"
#include "delta.h"
#include "lake.h"
#include "lake_format.h"
#include "log.h"
#include "source.h"
#include "stage_frame.h"

#define EXIT_SCHEMA 3

typedef struct table_run {
	const source_table *src;
	source *conn;		/* the connection this table streams on */
	int ends_conn;		/* the last table on conn: end it after COPY */
	int rc;			/* DELTA_* result */
	lake_err own_err;
	char table_dir[4096];
	const char *app_id;	/* its bookmark's txn (catalog.h) */
	lake_writer *w;
	lake_err *err;
	int64_t date_days;	/* last partition day seen, for its string */
	char date[16];
} table_run;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: ingestion [--lake DIR] [--table orders|ordershistory]... "
	    "[-v]\n"
	    "\n"
	    "Copies new rows of the retail tables into the bronze Delta tables\n"
	    "DIR/bronze/orders and DIR/bronze/ordershistory, exactly once.\n"
	    "\n"
	    "  --lake DIR    lake root (default: $MEDALLION_LAKE)\n"
	    "  --table T     only this table (repeatable; default both)\n"
	    "  -v            more logging\n"
	    "  -h, --help    this help\n"
	    "\n"
	    "PostgreSQL: libpq's environment (PGHOST, PGPORT, PGDATABASE, "
	    "PGUSER,\nPGPASSFILE or PGSERVICE); run it as medallion_pipeline.\n"
	    "exit status: 0 ok (also when nothing was new), 1 error, 2 usage,\n"
	    "3 the source schema does not match bronze\n");
}

static int
on_row(const pq_value *row, void *arg)
{
	table_run *t = arg;
	const pq_value *ts = &row[t->src->bronze->partition_from];
	const char *date = NULL;

	/* ±infinity has no date: its rows go to the null partition
	 * (date=__HIVE_DEFAULT_PARTITION__), as Hive and Spark put them. */
	if (!ts->is_null && ts->v.i64 != COPY_TS_INFINITY &&
	    ts->v.i64 != COPY_TS_MINUS_INFINITY) {
		int64_t days = day_of_micros(ts->v.i64);

		if (days != t->date_days) {
			lake_format_date(t->date, sizeof(t->date),
			    (int32_t)days);
			t->date_days = days;
		}
		date = t->date;
	}
	return lake_writer_append(t->w, date, row, t->err);
}

/*
 * Ends the session as soon as its last COPY is done, so PostgreSQL lets
 * go of the snapshot while the files are still being written.
 */
static void
end_conn_if_last(table_run *t)
{
	if (!t->ends_conn)
		return;
	source_end(t->conn);
	t->conn = NULL;
}

static void
writer_opts(lake_writer_opts *o)
{
	lake_writer_opts_default(o);
	/* Two tables stream at once: together they stay under 64 MiB. */
	o->parquet.row_group_bytes = 12u << 20;
	o->max_buffered_bytes = 16u << 20;
}

/*
 * Ingests one table on top of the bronze snapshot. Returns DELTA_OK,
 * DELTA_CONFLICT (the caller starts over) or DELTA_ERROR.
 */
static int
ingest_table(source *src, table_run *t, lake_err *err)
{
	delta_snapshot *base = NULL;
	lake_writer_opts opts;
	source_stats st;
	/* Both read now: src may end once its last COPY is done. */
	int64_t lo = 0, hi = source_high_watermark(src), version = -1;
	int64_t snapshot_at = source_snapshot_time(src);
	int64_t t0 = clock_mono_us();
	char info[512];
	int rc;

	/* The bookmark and the base to commit on; not the file list. */
	rc = delta_snapshot_load_meta(t->table_dir, &base, err);
	if (rc == DELTA_ERROR)
		return DELTA_ERROR;
	if (base != NULL && (lo = delta_snapshot_txn_version(base,
	    t->app_id)) < 0)
		lo = 0;
	if (lo >= hi) {
		log_info("%s: nothing new (bookmark %" PRId64 ", snapshot "
		    "bound %" PRId64 ")", t->src->name, lo, hi);
		delta_snapshot_free(base);
		return DELTA_OK;
	}
	writer_opts(&opts);
	t->date_days = INT64_MIN;
	t->err = err;
	if ((t->w = lake_writer_open(t->table_dir, t->src->schema,
	    t->src->bronze->partition, &opts, err)) == NULL) {
		delta_snapshot_free(base);
		return DELTA_ERROR;
	}
	rc = source_copy(src, t->src, lo, on_row, t, &st, err);
	end_conn_if_last(t);
	if (rc == -1) {
		lake_writer_abort(t->w);
		delta_snapshot_free(base);
		return DELTA_ERROR;
	}
	if (st.rows == 0) {
		/* A bare bookmark move is not worth a commit: the next run
		 * scans the same (empty) range through the xid index. */
		lake_writer_abort(t->w);
		log_info("%s: nothing new (xid %" PRId64 "..%" PRId64 ")",
		    t->src->name, lo, hi);
		delta_snapshot_free(base);
		return DELTA_OK;
	}
	/* The watermark (catalog_watermark.h) is the same bound as the
	 * txn version, with the snapshot's time. */
	snprintf(info, sizeof(info), "{\"operationParameters\":{\"stage\":"
	    "\"ingestion\",\"table\":\"%s\",\"xidFrom\":\"%" PRId64 "\","
	    "\"xidTo\":\"%" PRId64 "\"},\"operationMetrics\":{\"numOutputRows\""
	    ":\"%" PRId64 "\",\"numSourceBytes\":\"%" PRId64 "\"},\""
	    CATALOG_WATERMARK_KEY "\":{\"format\":%d,\"xidBound\":%" PRId64
	    ",\"snapshotAt\":%" PRId64 "}}", t->src->name, lo, hi, st.rows,
	    st.bytes, CATALOG_WATERMARK_FORMAT, hi, snapshot_at);
	rc = lake_writer_commit(t->w, base, t->app_id, hi, "STREAMING UPDATE",
	    info, &version, err);
	t->w = NULL;
	delta_snapshot_free(base);
	if (rc == DELTA_OK)
		log_info("%s: %" PRId64 " rows, %.1f MB from PostgreSQL in "
		    "%.2f s -> %s version %" PRId64 " (xid %" PRId64 "..%"
		    PRId64 ")", t->src->name, st.rows, st.bytes / 1e6,
		    (clock_mono_us() - t0) / 1e6, t->table_dir, version, lo,
		    hi);
	return rc;
}

static void *
table_thread(void *arg)
{
	table_run *t = arg;

	t->rc = ingest_table(t->conn, t, &t->own_err);
	return NULL;
}

/* The second connection is opened while the first begins its snapshot. */
typedef struct connect_job {
	source *src;
	lake_err err;
} connect_job;

static void *
connect_thread(void *arg)
{
	connect_job *j = arg;

	j->src = source_connect(&j->err);
	return NULL;
}

/*
 * Opens the run's connections: the first holds the snapshot and has
 * checked the tables; *second, when two tables are read, shares that
 * snapshot, or is NULL if it could not (the tables are then read one
 * after the other). Returns NULL on error.
 */
static source *
open_sources(const source_table *const *tables, int ntables, source **second,
    int *schema_error, lake_err *err)
{
	connect_job job = { 0 };
	pthread_t tid;
	int threaded = ntables == 2 &&
	    pthread_create(&tid, NULL, connect_thread, &job) == 0;
	source *src;

	*second = NULL;
	if ((src = source_connect(err)) != NULL && source_begin(src, tables,
	    ntables, err) == -1) {
		*schema_error = err->kind == LAKE_ERR_SCHEMA;
		source_end(src);
		src = NULL;
	}
	if (threaded)
		pthread_join(tid, NULL);
	if (src == NULL) {
		source_end(job.src);
		return NULL;
	}
	if (threaded && job.src == NULL)
		log_warnx("%s; reading the tables one after the other",
		    job.err.msg);
	else if (job.src != NULL && source_share_snapshot(src, job.src,
	    &job.err) == -1) {
		log_warnx("%s; reading the tables one after the other",
		    job.err.msg);
		source_end(job.src);
	} else
		*second = job.src;
	return src;
}

/*
 * Both tables stream at once, each on its own connection in the same
 * snapshot (two cores: PostgreSQL's and ours overlap). Each table still
 * commits on its own, atomically with its bookmark.
 */
static int
run_once(const source_table *const *tables, int ntables, const char *lake,
    int *schema_error, lake_err *err)
{
	table_run runs[2];
	pthread_t tid;
	source *src, *second;
	int rc = DELTA_OK, threaded = 0;

	for (int i = 0; i < ntables; i++) {
		table_run *t = &runs[i];

		memset(t, 0, sizeof(*t));
		t->src = tables[i];
		t->ends_conn = i == ntables - 1;
		t->app_id = t->src->bronze->apps[0];
		if (catalog_table_dir(t->src->bronze, lake, t->table_dir,
		    sizeof(t->table_dir)) == -1) {
			lake_err_set(err, "%s/%s: path too long", lake,
			    t->src->bronze->path);
			return DELTA_ERROR;
		}
	}
	if ((src = open_sources(tables, ntables, &second, schema_error,
	    err)) == NULL)
		return DELTA_ERROR;
	for (int i = 0; i < ntables; i++)
		runs[i].conn = src;
	if (second != NULL) {
		runs[0].conn = second;
		runs[0].ends_conn = 1;
		threaded = pthread_create(&tid, NULL, table_thread,
		    &runs[0]) == 0;
	}
	for (int i = threaded ? 1 : 0; i < ntables; i++) {
		runs[i].rc = ingest_table(runs[i].conn, &runs[i],
		    &runs[i].own_err);
		if (runs[i].rc != DELTA_OK && !threaded)
			break;
	}
	if (threaded)
		pthread_join(tid, NULL);
	for (int i = 0; i < ntables; i++) {
		if (runs[i].rc == DELTA_OK)
			continue;
		/* An error outranks a conflict: it will not go away. */
		if (rc == DELTA_OK || runs[i].rc == DELTA_ERROR) {
			rc = runs[i].rc;
			*err = runs[i].own_err;
		}
	}
	/* Sessions whose last table stopped before its COPY. */
	for (int i = 0; i < ntables; i++)
		end_conn_if_last(&runs[i]);
	return rc;
}

/* What the command line chose, and how the run ended: the frame's ctx. */
typedef struct ingestion_choice {
	const source_table *chosen[2];
	int nchosen;
	int schema_error;
} ingestion_choice;

static int
take_table(void *ctx, const char *name)
{
	ingestion_choice *ch = ctx;
	const source_table *t;

	if (strcmp(name, "orders") == 0)
		t = &source_orders;
	else if (strcmp(name, "ordershistory") == 0)
		t = &source_ordershistory;
	else {
		fprintf(stderr, "ingestion: unknown table %s (orders or "
		    "ordershistory)\n", name);
		return STAGE_EXIT_USAGE;
	}
	for (int i = 0; i < ch->nchosen; i++)
		if (ch->chosen[i] == t)
			return 0;	/* named twice: once is enough */
	ch->chosen[ch->nchosen++] = t;
	return 0;
}

static int
run_chosen(void *ctx, const char *lake, lake_err *err)
{
	ingestion_choice *ch = ctx;

	if (ch->nchosen == 0) {
		ch->chosen[ch->nchosen++] = &source_orders;
		ch->chosen[ch->nchosen++] = &source_ordershistory;
	}
	return run_once(ch->chosen, ch->nchosen, lake, &ch->schema_error,
	    err);
}

static int
failure_status(void *ctx)
{
	const ingestion_choice *ch = ctx;

	return ch->schema_error ? EXIT_SCHEMA : 1;
}

int
main(int argc, char **argv)
{
	ingestion_choice choice = { { NULL, NULL }, 0, 0 };
	const stage_frame stage = { "ingestion", usage, run_chosen, "table",
		take_table, failure_status, &choice };

	return stage_frame_run_main(argc, argv, &stage);
}
