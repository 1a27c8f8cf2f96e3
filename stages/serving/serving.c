/*
 * serving.c - the serving stage: silver -> gold per-branch metrics.
 *
 * Gold keeps per-branch state in the Delta table gold/branch_state:
 * counts, the exact sum of delivery times, first and last order time,
 * and a quantile sketch (sketch.h) of delivery times. A run reads only the
 * silver commits after the version the state has consumed (txn
 * "serving"), folds the new NEW and DELIVERED events into the state, and
 * then writes, at once:
 *   gold/branch_state          the new state (replacing the old file),
 *                              with the new silver version
 *   gold/branch_metrics.csv    RFC 4180, with a header
 *   gold/branch_metrics.json   the metrics, the busiest and the fastest
 *                              branch, when and from which silver version
 * and gold/branch_metrics, a Delta table replaced each run.
 * The CSV and JSON are written to a temporary file and fsynced while the
 * state commit and the metrics table are written, so their fsyncs
 * overlap; they are renamed into place (a reader sees the old file or the
 * new one, never half of one) only once the state commit they reflect is
 * published, and are dropped when it fails: what /api/gold and the
 * dashboard serve never runs ahead of the tables. They derive from
 * committed silver, and a rerun after a crash between the steps folds
 * again to the same state. The metrics table's txn version is what says
 * all outputs are current, so its commit is published last, once the
 * renamed CSV and JSON are durable. Rendering and publishing those files
 * is gold_files.c's, the copy in PostgreSQL gold_postgres.c's, and the
 * state they share is in gold.h.
 *
 * Gold reflects silver version V, so its source watermark
 * (catalog_watermark.h) is silver V's: the one the transformation's last
 * commit at or before V carries. The JSON shows it as source_watermark
 * (null when none is known: a lake written before watermarks, until a
 * transformation run records one), and both gold tables' commits carry
 * it, which is where the next run finds it when silver has changed only
 * by compactions. A malformed one stops the run (exit 1) naming the
 * table and version.
 *
 * Averages are exact (integer microseconds summed); p50 and p90 come from
 * the sketch, within 0.5% of the exact value of the same rank.
 *
 * Exit status: 0 done (also when nothing was new), 1 failure, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog.h"
#include "catalog_watermark.h"
#include "clock.h"
#include "delta.h"
#include "gold.h"
#include "lake.h"
#include "lake_format.h"
#include "lake_store.h"
#include "log.h"
#include "sketch.h"
#include "stage_frame.h"

#define APP CATALOG_APP_SERVING
#define US_PER_HOUR 3600000000.0

/*
 * The silver columns the fold reads (indexes of the catalog's enum), in
 * the order its batches hold them. The state is read whole, in the
 * catalog's order, and indexed by its enum.
 */
enum { FOLD_BRANCH, FOLD_STATUS, FOLD_ORDERTIME, FOLD_UPDATEDAT, FOLD_NCOLS };
static const int fold_cols[FOLD_NCOLS] = {
	[FOLD_BRANCH] = SILVER_BRANCH,
	[FOLD_STATUS] = SILVER_STATUS,
	[FOLD_ORDERTIME] = SILVER_ORDERTIME,
	[FOLD_UPDATEDAT] = SILVER_UPDATEDAT,
};


static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: serving [--lake DIR] [-v]\n"
	    "\n"
	    "Computes per-branch metrics from DIR/silver/allorders into "
	    "DIR/gold:\nthe Delta table gold/branch_metrics and "
	    "gold/branch_metrics.{csv,json}.\n"
	    "\n"
	    "  --lake DIR    lake root (default: $MEDALLION_LAKE)\n"
	    "  -v            more logging\n"
	    "  -h, --help    this help\n"
	    "\n"
	    "exit status: 0 ok (also when nothing was new), 1 error, 2 usage\n");
}

static void
gold_free(gold *g)
{
	for (size_t i = 0; i < g->nb; i++) {
		free(g->b[i].name);
		sketch_free(&g->b[i].deliveries);
	}
	free(g->b);
	g->b = NULL;
	g->nb = 0;
}

static branch_state *
branch_get(gold *g, const char *name, size_t len)
{
	branch_state *b;

	/* A chain has a handful of branches: a short scan, length first. */
	for (size_t i = 0; i < g->nb; i++)
		if (g->b[i].name_len == len &&
		    memcmp(g->b[i].name, name, len) == 0)
			return &g->b[i];
	b = realloc(g->b, (g->nb + 1) * sizeof(*b));
	if (b == NULL)
		return NULL;
	g->b = b;
	b = &g->b[g->nb];
	memset(b, 0, sizeof(*b));
	if ((b->name = strndup(name, len)) == NULL)
		return NULL;
	b->name_len = len;
	b->first_order = INT64_MAX;
	b->last_order = INT64_MIN;
	sketch_init(&b->deliveries);
	g->nb++;
	return b;
}

/* --- state --------------------------------------------------------- */

static int
load_state_cb(const pq_batch *bt, const delta_file *f, void *arg)
{
	gold *g = arg;

	(void)f;
	const pq_column_batch *name = &bt->cols[GOLD_STATE_BRANCH];
	const pq_column_batch *first = &bt->cols[GOLD_STATE_FIRST_ORDER_AT];
	const pq_column_batch *last = &bt->cols[GOLD_STATE_LAST_ORDER_AT];
	const pq_column_batch *sk = &bt->cols[GOLD_STATE_DELIVERY_SKETCH];

	for (int64_t i = 0; i < bt->nrows; i++) {
		branch_state *b = branch_get(g, name->data + name->offsets[i],
		    name->offsets[i + 1] - name->offsets[i]);
		char *text;

		if (b == NULL) {
			lake_err_set(g->err, "out of memory");
			return -1;
		}
		b->received = bt->cols[GOLD_STATE_ORDERS_RECEIVED].v.i64[i];
		b->delivered = bt->cols[GOLD_STATE_ORDERS_DELIVERED].v.i64[i];
		b->delivery_us = bt->cols[GOLD_STATE_DELIVERY_US_SUM].v.i64[i];
		if (!(first->nulls && first->nulls[i]))
			b->first_order = first->v.i64[i];
		if (!(last->nulls && last->nulls[i]))
			b->last_order = last->v.i64[i];
		text = strndup(sk->data + sk->offsets[i],
		    sk->offsets[i + 1] - sk->offsets[i]);
		sketch_free(&b->deliveries);
		if (text == NULL || sketch_decode(&b->deliveries, text) == -1) {
			free(text);
			lake_err_set(g->err, "%s: branch %s: unreadable "
			    "delivery sketch", g->state_dir, b->name);
			return -1;
		}
		free(text);
	}
	return 0;
}

static int
fold_silver_cb(const pq_batch *bt, const delta_file *f, void *arg)
{
	gold *g = arg;
	const pq_column_batch *br = &bt->cols[FOLD_BRANCH];
	const pq_column_batch *st = &bt->cols[FOLD_STATUS];
	const pq_column_batch *ot = &bt->cols[FOLD_ORDERTIME];
	const pq_column_batch *up = &bt->cols[FOLD_UPDATEDAT];

	(void)f;
	for (int64_t i = 0; i < bt->nrows; i++) {
		const char *s = st->data + st->offsets[i];
		uint32_t n = st->offsets[i + 1] - st->offsets[i];
		branch_state *b;
		int is_new = n == 3 && memcmp(s, "NEW", 3) == 0;
		int is_delivered = n == 9 && memcmp(s, "DELIVERED", 9) == 0;

		if ((br->nulls && br->nulls[i]) || (ot->nulls && ot->nulls[i]) ||
		    (!is_new && !is_delivered))
			continue;
		b = branch_get(g, br->data + br->offsets[i],
		    br->offsets[i + 1] - br->offsets[i]);
		if (b == NULL) {
			lake_err_set(g->err, "out of memory");
			return -1;
		}
		g->new_rows++;
		if (is_new) {
			b->received++;
			if (ot->v.i64[i] < b->first_order)
				b->first_order = ot->v.i64[i];
			if (ot->v.i64[i] > b->last_order)
				b->last_order = ot->v.i64[i];
		} else if (!(up->nulls && up->nulls[i])) {
			int64_t d = up->v.i64[i] - ot->v.i64[i];

			b->delivered++;
			b->delivery_us += d;
			if (sketch_add(&b->deliveries, d / US_PER_HOUR) == -1) {
				lake_err_set(g->err, "out of memory");
				return -1;
			}
		}
	}
	return 0;
}

/* One thread's share of the new silver files, folded into its own
 * per-branch state, merged into the run's afterwards. */
typedef struct fold_part {
	gold g;
	const char *silver;
	delta_file *files;
	size_t nfiles;
	int rc;
	lake_err err;
} fold_part;

static void *
fold_part_main(void *arg)
{
	const char *scols[FOLD_NCOLS];
	fold_part *p = arg;

	catalog_project(&catalog_silver, fold_cols, FOLD_NCOLS, scols);
	p->g.err = &p->err;
	p->rc = lake_scan(p->silver, p->files, p->nfiles, scols, FOLD_NCOLS,
	    fold_silver_cb, &p->g, &p->err);
	return NULL;
}

static int
merge_into(gold *g, const gold *part)
{
	for (size_t i = 0; i < part->nb; i++) {
		const branch_state *src = &part->b[i];
		branch_state *b = branch_get(g, src->name, src->name_len);

		if (b == NULL || sketch_merge(&b->deliveries,
		    &src->deliveries) == -1)
			return -1;
		b->received += src->received;
		b->delivered += src->delivered;
		b->delivery_us += src->delivery_us;
		if (src->first_order < b->first_order)
			b->first_order = src->first_order;
		if (src->last_order > b->last_order)
			b->last_order = src->last_order;
	}
	g->new_rows += part->new_rows;
	return 0;
}

/* Folds the new silver files on two threads, split file by file. */
static int
fold_changes(gold *g, delta_file *files, size_t nfiles, lake_err *err)
{
	fold_part parts[2];
	pthread_t tid;
	int threaded = 0, rc = 0;
	size_t half = nfiles / 2;

	memset(parts, 0, sizeof(parts));
	for (int k = 0; k < 2; k++)
		parts[k].silver = g->silver;
	parts[0].files = files;
	parts[0].nfiles = half;
	parts[1].files = files + half;
	parts[1].nfiles = nfiles - half;
	if (half > 0)
		threaded = pthread_create(&tid, NULL, fold_part_main,
		    &parts[0]) == 0;
	if (!threaded)
		fold_part_main(&parts[0]);
	fold_part_main(&parts[1]);
	if (threaded)
		pthread_join(tid, NULL);
	for (int k = 0; k < 2; k++) {
		if (parts[k].rc == -1 && rc == 0) {
			*err = parts[k].err;
			rc = -1;
		}
		if (rc == 0 && merge_into(g, &parts[k].g) == -1) {
			lake_err_set(err, "out of memory");
			rc = -1;
		}
		gold_free(&parts[k].g);
	}
	return rc;
}

static int
cmp_branch(const void *a, const void *b)
{
	return strcmp(((const branch_state *)a)->name,
	    ((const branch_state *)b)->name);
}

/*
 * A replacement of every live file of a gold table by the rows written to
 * w: durable, but not visible until published (so the metrics table can
 * wait for the CSV and JSON it vouches for).
 */
typedef struct staged_table {
	delta_snapshot *base;
	delta_commit *c;
	lake_writer *w;
} staged_table;

static void
drop_table(staged_table *st)
{
	if (st->w != NULL)
		lake_writer_abort(st->w);
	delta_commit_free(st->c);
	delta_snapshot_free(st->base);
	memset(st, 0, sizeof(*st));
}

/* Stages the replacement; on failure w is freed and st left empty. */
static int
stage_table(const char *dir, const pq_schema *schema, lake_writer *w,
    int64_t silver_version, const char *info, staged_table *st,
    lake_err *err)
{
	memset(st, 0, sizeof(*st));
	st->w = w;
	if (delta_snapshot_load(dir, -1, &st->base, err) == DELTA_ERROR)
		goto fail;
	if ((st->c = delta_commit_begin(dir, st->base)) == NULL) {
		lake_err_set(err, "out of memory");
		goto fail;
	}
	if (st->base == NULL && delta_commit_set_metadata(st->c, schema, NULL,
	    0, err) == -1)
		goto fail;
	for (size_t i = 0; st->base != NULL && i < st->base->nfiles; i++)
		if (delta_commit_remove(st->c, st->base->files[i].path,
		    err) == -1)
			goto fail;
	if (delta_commit_set_txn(st->c, APP, silver_version, err) == -1 ||
	    delta_commit_set_info(st->c, "WRITE", info, err) == -1)
		goto fail;
	if (lake_writers_prepare(&st->w, 1, st->c, err) != DELTA_OK) {
		st->w = NULL;	/* freed by prepare */
		goto fail;
	}
	return DELTA_OK;
fail:
	drop_table(st);
	return DELTA_ERROR;
}

/* Makes a staged replacement the table's next version; frees st. */
static int
publish_table(staged_table *st, lake_err *err)
{
	int64_t version;
	int rc = lake_writers_publish(&st->w, 1, st->c, &version, err);

	st->w = NULL;	/* freed by publish */
	drop_table(st);
	return rc;
}

static int
replace_table(const char *dir, const pq_schema *schema, lake_writer *w,
    int64_t silver_version, const char *info, lake_err *err)
{
	staged_table st;

	if (stage_table(dir, schema, w, silver_version, info, &st,
	    err) != DELTA_OK)
		return DELTA_ERROR;
	return publish_table(&st, err);
}

/* The commitInfo member carrying gold's watermark, or "" without one. */
static const char *
wm_info(const gold *g, char *buf, size_t len)
{
	if (!g->has_wm)
		return "";
	snprintf(buf, len, ",\"" CATALOG_WATERMARK_KEY "\":{\"format\":%d,"
	    "\"xidBound\":%" PRId64 ",\"snapshotAt\":%" PRId64 "}",
	    CATALOG_WATERMARK_FORMAT, g->wm.xid_bound, g->wm.snapshot_at);
	return buf;
}

static int
write_state(const gold *g, lake_err *err)
{
	lake_writer *w = lake_writer_open(g->state_dir,
	    catalog_gold_state.schema, catalog_gold_state.partition, NULL, err);
	char info[384], wm[128];

	if (w == NULL)
		return DELTA_ERROR;
	for (size_t i = 0; i < g->nb; i++) {
		const branch_state *b = &g->b[i];
		char *sk = sketch_encode(&b->deliveries);
		pq_value v[GOLD_STATE_NCOLS];
		int rc;

		if (sk == NULL) {
			lake_writer_abort(w);
			lake_err_set(err, "out of memory");
			return DELTA_ERROR;
		}
		memset(v, 0, sizeof(v));
		v[GOLD_STATE_BRANCH].v.s.ptr = b->name;
		v[GOLD_STATE_BRANCH].v.s.len = (uint32_t)strlen(b->name);
		v[GOLD_STATE_ORDERS_RECEIVED].v.i64 = b->received;
		v[GOLD_STATE_ORDERS_DELIVERED].v.i64 = b->delivered;
		v[GOLD_STATE_DELIVERY_US_SUM].v.i64 = b->delivery_us;
		v[GOLD_STATE_FIRST_ORDER_AT].is_null =
		    b->first_order == INT64_MAX;
		v[GOLD_STATE_FIRST_ORDER_AT].v.i64 = b->first_order;
		v[GOLD_STATE_LAST_ORDER_AT].is_null = b->last_order == INT64_MIN;
		v[GOLD_STATE_LAST_ORDER_AT].v.i64 = b->last_order;
		v[GOLD_STATE_DELIVERY_SKETCH].v.s.ptr = sk;
		v[GOLD_STATE_DELIVERY_SKETCH].v.s.len = (uint32_t)strlen(sk);
		rc = lake_writer_append(w, NULL, v, err);
		free(sk);
		if (rc == -1) {
			lake_writer_abort(w);
			return DELTA_ERROR;
		}
	}
	snprintf(info, sizeof(info), "{\"operationParameters\":{\"stage\":"
	    "\"serving\",\"silverVersion\":\"%" PRId64 "\"},"
	    "\"operationMetrics\":{\"numSourceRows\":\"%" PRId64 "\"}%s}",
	    g->silver_version, g->new_rows, wm_info(g, wm, sizeof(wm)));
	return replace_table(g->state_dir, catalog_gold_state.schema, w,
	    g->silver_version, info, err);
}

/* --- outputs ------------------------------------------------------- */


static void
compute(const gold *g, metric *m)
{
	for (size_t i = 0; i < g->nb; i++) {
		const branch_state *b = &g->b[i];

		m[i].b = b;
		m[i].avg = b->delivered > 0 ? (double)b->delivery_us /
		    (double)b->delivered / US_PER_HOUR : NAN;
		m[i].p50 = sketch_quantile(&b->deliveries, 0.5);
		m[i].p90 = sketch_quantile(&b->deliveries, 0.9);
	}
}

/* Stages the metrics table's replacement (see write_outputs). */
static int
stage_metrics(const gold *g, const metric *m, staged_table *st,
    lake_err *err)
{
	lake_writer *w = lake_writer_open(g->metrics_dir,
	    catalog_gold_metrics.schema, catalog_gold_metrics.partition, NULL,
	    err);
	char info[384], wm[128];

	if (w == NULL)
		return DELTA_ERROR;
	for (size_t i = 0; i < g->nb; i++) {
		const branch_state *b = m[i].b;
		pq_value v[GOLD_METRICS_NCOLS];

		memset(v, 0, sizeof(v));
		v[GOLD_METRICS_BRANCH].v.s.ptr = b->name;
		v[GOLD_METRICS_BRANCH].v.s.len = (uint32_t)strlen(b->name);
		v[GOLD_METRICS_ORDERS_RECEIVED].v.i64 = b->received;
		v[GOLD_METRICS_ORDERS_DELIVERED].v.i64 = b->delivered;
		v[GOLD_METRICS_AVG_DELIVERY_HOURS].is_null = isnan(m[i].avg);
		v[GOLD_METRICS_AVG_DELIVERY_HOURS].v.f64 = m[i].avg;
		v[GOLD_METRICS_P50_DELIVERY_HOURS].is_null = isnan(m[i].p50);
		v[GOLD_METRICS_P50_DELIVERY_HOURS].v.f64 = m[i].p50;
		v[GOLD_METRICS_P90_DELIVERY_HOURS].is_null = isnan(m[i].p90);
		v[GOLD_METRICS_P90_DELIVERY_HOURS].v.f64 = m[i].p90;
		v[GOLD_METRICS_FIRST_ORDER_AT].is_null =
		    b->first_order == INT64_MAX;
		v[GOLD_METRICS_FIRST_ORDER_AT].v.i64 = b->first_order;
		v[GOLD_METRICS_LAST_ORDER_AT].is_null =
		    b->last_order == INT64_MIN;
		v[GOLD_METRICS_LAST_ORDER_AT].v.i64 = b->last_order;
		if (lake_writer_append(w, NULL, v, err) == -1) {
			lake_writer_abort(w);
			return DELTA_ERROR;
		}
	}
	snprintf(info, sizeof(info), "{\"operationParameters\":{\"stage\":"
	    "\"serving\",\"silverVersion\":\"%" PRId64 "\"}%s}",
	    g->silver_version, wm_info(g, wm, sizeof(wm)));
	return stage_table(g->metrics_dir, catalog_gold_metrics.schema, w,
	    g->silver_version, info, st, err);
}

/* One of the run's writes, on a helper thread (see write_outputs). */
typedef struct output_job {
	const gold *g;
	const metric *m;
	int (*write)(struct output_job *j);
	staged_table *staged;	/* the metrics job's result */
	lake_err err;
	int rc;			/* DELTA_OK, DELTA_CONFLICT or DELTA_ERROR */
} output_job;

static int
json_job(output_job *j)
{
	return gold_write_json(j->g, j->m, &j->err) == -1 ? DELTA_ERROR : DELTA_OK;
}

static int
state_job(output_job *j)
{
	return write_state(j->g, &j->err);
}

static int
metrics_job(output_job *j)
{
	return stage_metrics(j->g, j->m, j->staged, &j->err);
}

static void *
output_thread(void *arg)
{
	output_job *j = arg;

	j->rc = j->write(j);
	return NULL;
}

/*
 * Writes the run's outputs. The state commit (when the run folded new
 * rows), and, staged (durable but not visible), the CSV, the JSON and the
 * metrics table, all go at once, each waiting only for its own fsyncs.
 * Only when all of them succeeded are the CSV and JSON renamed into
 * place (one fsync of the folder for both), so they never show a state
 * that was not committed; on any failure they are dropped. Last, the
 * metrics commit is published: it is what says the CSV and JSON are
 * current. After a crash between the steps the rerun, finding the
 * metrics table behind, writes them all again. An error outranks a
 * conflict (a commit lost a race; the caller starts over).
 */
static int
write_outputs(const gold *g, const metric *m, int with_state, lake_err *err)
{
	staged_table metrics;
	output_job jobs[3] = {
		{ g, m, metrics_job, &metrics, { { 0 }, LAKE_ERR_FAILED },
		    DELTA_ERROR },
		{ g, m, json_job, NULL, { { 0 }, LAKE_ERR_FAILED },
		    DELTA_ERROR },
		{ g, m, state_job, NULL, { { 0 }, LAKE_ERR_FAILED },
		    DELTA_ERROR },
	};
	int njobs = with_state ? 3 : 2, started[3] = { 0, 0, 0 }, rc;
	pthread_t tid[3];

	memset(&metrics, 0, sizeof(metrics));
	for (int i = 0; i < njobs; i++)
		started[i] = pthread_create(&tid[i], NULL, output_thread,
		    &jobs[i]) == 0;
	rc = gold_write_csv(g, m, err) == -1 ? DELTA_ERROR : DELTA_OK;
	for (int i = 0; i < njobs; i++) {
		if (started[i])
			pthread_join(tid[i], NULL);
		else
			output_thread(&jobs[i]);
	}
	for (int i = 0; i < njobs; i++) {
		if (jobs[i].rc == DELTA_OK || rc == DELTA_ERROR)
			continue;
		rc = jobs[i].rc;
		*err = jobs[i].err;
	}
	if (rc == DELTA_OK && (gold_publish_staged(g->gold_dir, err) == -1 ||
	    gold_sync_folder(g->gold_dir, err) == -1))
		rc = DELTA_ERROR;
	if (rc != DELTA_OK) {
		gold_drop_staged(g->gold_dir);
		drop_table(&metrics);
		return rc;
	}
	return publish_table(&metrics, err);
}

/* --- one run ------------------------------------------------------- */

static int
outputs_current(const gold *g)
{
	char path[4200];
	delta_snapshot *s;
	lake_err err;
	int ok;

	if (delta_snapshot_load(g->metrics_dir, -1, &s, &err) != DELTA_OK)
		return 0;
	ok = delta_snapshot_txn_version(s, APP) == g->silver_version;
	delta_snapshot_free(s);
	snprintf(path, sizeof(path), "%s/" CATALOG_GOLD_JSON, g->gold_dir);
	ok = ok && lake_store_stat(path, NULL, NULL, NULL) == 0;
	snprintf(path, sizeof(path), "%s/" CATALOG_GOLD_CSV, g->gold_dir);
	return ok && lake_store_stat(path, NULL, NULL, NULL) == 0;
}

/*
 * Gold's watermark: the transformation's newest commit among the silver
 * versions this run folds (after consumed), or, when those are only
 * compactions or there are none (only the outputs are behind), the
 * previous gold's, from gold/branch_state's last commit.
 */
static int
gold_watermark(gold *g, int64_t consumed, const delta_snapshot *state,
    lake_err *err)
{
	int rc;

	g->has_wm = 0;
	rc = catalog_watermark_find(g->silver, g->silver_version, consumed + 1,
	    "transformation", &g->wm, &g->has_wm, err);
	if (rc != 0 || state == NULL)
		return rc < 0 ? -1 : 0;
	rc = catalog_watermark_find(g->state_dir, state->version, 0,
	    "serving", &g->wm, &g->has_wm, err);
	return rc < 0 ? -1 : 0;
}

/* The folders of gold and silver under lake, from the catalog. */
static int
gold_paths(gold *g, const char *lake, lake_err *err)
{
	const catalog_table *too_long = NULL;
	int n = snprintf(g->gold_dir, sizeof(g->gold_dir), "%s/"
	    CATALOG_GOLD_DIR, lake);

	if (n < 0 || (size_t)n >= sizeof(g->gold_dir)) {
		lake_err_set(err, "%s/" CATALOG_GOLD_DIR ": path too long",
		    lake);
		return -1;
	}
	if (catalog_table_dir(&catalog_gold_state, lake, g->state_dir,
	    sizeof(g->state_dir)) == -1)
		too_long = &catalog_gold_state;
	else if (catalog_table_dir(&catalog_gold_metrics, lake, g->metrics_dir,
	    sizeof(g->metrics_dir)) == -1)
		too_long = &catalog_gold_metrics;
	else if (catalog_table_dir(&catalog_silver, lake, g->silver,
	    sizeof(g->silver)) == -1)
		too_long = &catalog_silver;
	if (too_long != NULL) {
		lake_err_set(err, "%s/%s: path too long", lake, too_long->path);
		return -1;
	}
	return 0;
}

/* One attempt (stage_frame.h); serving keeps nothing in ctx. */
static int
run_once(void *ctx, const char *lake, lake_err *err)
{
	const char *state_names[GOLD_STATE_NCOLS];
	delta_snapshot *state = NULL;
	delta_file *changes = NULL;
	size_t nchanges = 0;
	int64_t consumed = -1, t0 = clock_mono_us();
	const char *dsn = getenv("MEDALLION_GOLD_DSN");
	metric *m = NULL;
	gold g;
	int rc = DELTA_ERROR;

	(void)ctx;
	memset(&g, 0, sizeof(g));
	g.err = err;
	for (int c = 0; c < GOLD_STATE_NCOLS; c++)
		state_names[c] = catalog_col(&catalog_gold_state, c);
	if (gold_paths(&g, lake, err) == -1)
		return DELTA_ERROR;
	rc = delta_latest_version(g.silver, &g.silver_version, err);
	if (rc == DELTA_NO_TABLE) {
		log_info("silver is empty: run transformation first");
		return DELTA_OK;
	}
	if (rc != DELTA_OK)
		return DELTA_ERROR;
	rc = delta_snapshot_load(g.state_dir, -1, &state, err);
	if (rc == DELTA_ERROR)
		return DELTA_ERROR;
	rc = DELTA_ERROR;
	if (state != NULL) {
		consumed = delta_snapshot_txn_version(state, APP);
		if (lake_scan(g.state_dir, state->files, state->nfiles,
		    state_names, GOLD_STATE_NCOLS, load_state_cb, &g,
		    err) == -1)
			goto out;
	}
	if (consumed >= g.silver_version && outputs_current(&g)) {
		log_info("nothing new in silver (v%" PRId64 ")",
		    g.silver_version);
		rc = DELTA_OK;
		/* PostgreSQL may have missed the last run's gold: cheap to
		 * send again, a handful of rows in one transaction. */
		if (dsn != NULL && (m = calloc(g.nb + 1, sizeof(*m))) != NULL) {
			g.silver_version = consumed;
			compute(&g, m);
			if (gold_publish_postgres(&g, m, dsn, err) == -1)
				rc = DELTA_ERROR;
		}
		goto out;
	}
	if (consumed < g.silver_version) {
		if (delta_changes(g.silver, consumed, g.silver_version,
		    &changes, &nchanges, err) == -1 ||
		    fold_changes(&g, changes, nchanges, err) == -1)
			goto out;
		if (g.nb > 0)
			qsort(g.b, g.nb, sizeof(*g.b), cmp_branch);
	} else
		g.silver_version = consumed;	/* only the outputs are behind */
	if (gold_watermark(&g, consumed, state, err) == -1)
		goto out;
	if (lake_store_mkdirs(g.gold_dir, err) != 0)
		goto out;
	if ((m = calloc(g.nb + 1, sizeof(*m))) == NULL) {
		lake_err_set(err, "out of memory");
		goto out;
	}
	compute(&g, m);
	if ((rc = write_outputs(&g, m, consumed < g.silver_version,
	    err)) != DELTA_OK)
		goto out;
	rc = DELTA_ERROR;
	if (dsn != NULL && gold_publish_postgres(&g, m, dsn, err) == -1)
		goto out;
	log_info("%" PRId64 " new silver rows (v%" PRId64 "..v%" PRId64
	    ") -> %zu branches in %.2f s", g.new_rows, consumed + 1,
	    g.silver_version, g.nb, (clock_mono_us() - t0) / 1e6);
	rc = DELTA_OK;
out:
	free(m);
	delta_files_free(changes, nchanges);
	delta_snapshot_free(state);
	gold_free(&g);
	return rc;
}

int
main(int argc, char **argv)
{
	return stage_frame_main(argc, argv, "serving", usage, run_once, NULL);
}
