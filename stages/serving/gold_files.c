/*
 * gold_files.c - the gold files /api/gold and the dashboard serve:
 * gold/branch_metrics.csv (RFC 4180, with a header) and
 * gold/branch_metrics.json (schemas/json/branch_metrics.schema.json).
 *
 * Each is written to a temporary name beside its final one and fsynced
 * (through the storage seam: on S3 it is held in memory) while the gold
 * tables commit; gold_publish_staged() renames them into
 * place only once the commit they reflect is published, so what is
 * served never runs ahead of the tables, and a reader sees the old file
 * or the new one, never half of one. A failed run drops them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog.h"
#include "clock.h"
#include "gold.h"
#include "lake_format.h"
#include "lake_store.h"
#include "log.h"

/* The temp name a file is staged under until it is renamed into place. */
static int
staged_name(const char *path, char *tmp, size_t len, lake_err *err)
{
	if ((size_t)snprintf(tmp, len, "%s.tmp-%ld", path, (long)getpid()) >=
	    len) {
		lake_err_set(err, "path too long: %s", path);
		return -1;
	}
	return 0;
}

/*
 * Writes text to path's temp name and fsyncs it: durable, but not visible
 * until gold_publish_staged() renames it (see write_outputs).
 */
static int
stage_file(const char *path, const char *text, size_t len, lake_err *err)
{
	char tmp[4200];
	lake_out *o;

	if (staged_name(path, tmp, sizeof(tmp), err) == -1)
		return -1;
	/* A crashed run of the same pid may have left it. */
	if (lake_store_delete(tmp, err) != 0 ||
	    (o = lake_out_create(tmp, 0, err)) == NULL)
		return -1;
	if (lake_out_write(o, text, len, err) == -1) {
		lake_out_abort(o);
		return -1;
	}
	/* Durable now locally; on S3 held until published under its
	 * final name (one PUT). */
	return lake_out_close(o, LAKE_OUT_TEMP, err);
}

static const char *const staged_files[] = { CATALOG_GOLD_CSV,
	CATALOG_GOLD_JSON };

/* Renames the staged CSV and JSON into place; durable once the caller
 * fsyncs the folder. */
int
gold_publish_staged(const char *gold_dir, lake_err *err)
{
	char path[4200], tmp[4200];

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", gold_dir, staged_files[i]);
		if (staged_name(path, tmp, sizeof(tmp), err) == -1)
			return -1;
		if (lake_store_link(tmp, path, 0, err) != 0) {
			lake_err_prefix(err, "cannot publish %s", path);
			return -1;
		}
	}
	return 0;
}

/* Removes the staged CSV and JSON of a run that failed. */
void
gold_drop_staged(const char *gold_dir)
{
	char path[4200], tmp[4200];
	lake_err ignored;

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", gold_dir, staged_files[i]);
		if (staged_name(path, tmp, sizeof(tmp), &ignored) == 0)
			lake_store_delete(tmp, NULL);
	}
}

static void
csv_number(FILE *f, double v)
{
	if (!isnan(v))
		fprintf(f, "%.6f", v);
}

static void
csv_time(FILE *f, int64_t t, int64_t none)
{
	char buf[40];

	if (t == none)
		return;
	lake_format_timestamp(buf, sizeof(buf), t);
	fputs(buf, f);
}

int
gold_write_csv(const gold *g, const metric *m, lake_err *err)
{
	char path[4200], *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	if (f == NULL) {
		lake_err_errno(err, "open_memstream");
		return -1;
	}
	/* The metrics table's columns, in its order. */
	for (int c = 0; c < GOLD_METRICS_NCOLS; c++)
		fprintf(f, "%s%s", c > 0 ? "," : "",
		    catalog_col(&catalog_gold_metrics, c));
	fputs("\r\n", f);
	for (size_t i = 0; i < g->nb; i++) {
		lake_print_csv_string(f, m[i].b->name, strlen(m[i].b->name));
		fprintf(f, ",%" PRId64 ",%" PRId64 ",", m[i].b->received,
		    m[i].b->delivered);
		csv_number(f, m[i].avg);
		fputc(',', f);
		csv_number(f, m[i].p50);
		fputc(',', f);
		csv_number(f, m[i].p90);
		fputc(',', f);
		csv_time(f, m[i].b->first_order, INT64_MAX);
		fputc(',', f);
		csv_time(f, m[i].b->last_order, INT64_MIN);
		fputs("\r\n", f);
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/" CATALOG_GOLD_CSV, g->gold_dir);
	rc = stage_file(path, text, len, err);
	free(text);
	return rc;
}

static json_t *
json_number_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *
json_time(int64_t t, int64_t none)
{
	char buf[40];

	if (t == none)
		return json_null();
	lake_format_timestamp(buf, sizeof(buf), t);
	buf[10] = 'T';
	return json_string(buf);
}

/*
 * source_watermark: the xid8 bound as a decimal string (PostgreSQL's
 * text form; a JSON number is exact only to 2^53 in most readers) and
 * the snapshot's time to the microsecond, UTC; null when unknown.
 */
static json_t *
json_watermark(const gold *g)
{
	char bound[24], at[40];

	if (!g->has_wm)
		return json_null();
	snprintf(bound, sizeof(bound), "%" PRId64, g->wm.xid_bound);
	lake_format_timestamp(at, sizeof(at), g->wm.snapshot_at);
	at[10] = 'T';
	strncat(at, "Z", sizeof(at) - strlen(at) - 1);
	return json_pack("{s:s, s:s}", "xid_bound", bound, "snapshot_at", at);
}

int
gold_write_json(const gold *g, const metric *m, lake_err *err)
{
	json_t *branches = json_array(), *doc;
	const metric *busiest = NULL, *fastest = NULL;
	char path[4200], now[40], *text;
	int rc;

	for (size_t i = 0; i < g->nb; i++) {
		if (busiest == NULL || m[i].b->received > busiest->b->received)
			busiest = &m[i];
		if (!isnan(m[i].avg) && (fastest == NULL ||
		    m[i].avg < fastest->avg))
			fastest = &m[i];
		json_array_append_new(branches, json_pack(
		    "{s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o}",
		    "branch", m[i].b->name,
		    "orders_received", (json_int_t)m[i].b->received,
		    "orders_delivered", (json_int_t)m[i].b->delivered,
		    "avg_delivery_hours", json_number_or_null(m[i].avg),
		    "p50_delivery_hours", json_number_or_null(m[i].p50),
		    "p90_delivery_hours", json_number_or_null(m[i].p90),
		    "first_order_at", json_time(m[i].b->first_order, INT64_MAX),
		    "last_order_at", json_time(m[i].b->last_order, INT64_MIN)));
	}
	lake_format_timestamp(now, sizeof(now), clock_now_us());
	now[10] = 'T';
	now[19] = 'Z';
	now[20] = '\0';
	doc = json_pack("{s:s, s:I, s:o, s:{s:s, s:s, s:s, s:s}, s:o, s:o, "
	    "s:o}",
	    "generated_at", now,
	    "silver_version", (json_int_t)g->silver_version,
	    "source_watermark", json_watermark(g),
	    "units", "avg_delivery_hours", "hours", "p50_delivery_hours",
	    "hours (within 0.5%)", "p90_delivery_hours", "hours (within 0.5%)",
	    "timestamps", "UTC, as stored in the source (no zone)",
	    "busiest_branch", busiest ? json_pack("{s:s, s:I}", "branch",
	    busiest->b->name, "orders_received",
	    (json_int_t)busiest->b->received) : json_null(),
	    "fastest_branch", fastest ? json_pack("{s:s, s:f}", "branch",
	    fastest->b->name, "avg_delivery_hours", fastest->avg) :
	    json_null(),
	    "branches", branches);
	text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	json_decref(doc);
	if (text == NULL) {
		lake_err_set(err, "out of memory");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/" CATALOG_GOLD_JSON, g->gold_dir);
	rc = stage_file(path, text, strlen(text), err);
	free(text);
	if (rc == 0 && busiest != NULL)
		log_info("busiest branch: %s (%" PRId64 " orders); fastest: %s "
		    "(%.2f h on average)", busiest->b->name,
		    busiest->b->received, fastest ? fastest->b->name : "none",
		    fastest ? fastest->avg : 0.0);
	return rc;
}

/* Makes the names just renamed into dir durable. */
int
gold_sync_folder(const char *dir, lake_err *err)
{
	return lake_store_sync_dir(dir, err) == 0 ? 0 : -1;
}
