/*
 * gold.h - serving's state of gold and what it publishes from it.
 *
 * serving.c folds silver's new events into per-branch state and writes
 * the gold tables; gold_files.c renders the metrics as the CSV and JSON
 * files /api/gold and the dashboard serve, staged under temporary names
 * and renamed into place only once the tables they reflect are
 * committed; gold_postgres.c copies them into PostgreSQL for BI tools.
 */
#ifndef GOLD_H
#define GOLD_H

#include <stddef.h>
#include <stdint.h>

#include "catalog_watermark.h"
#include "lake_err.h"
#include "sketch.h"

typedef struct branch_state {
	char *name;
	size_t name_len;
	int64_t received;
	int64_t delivered;
	int64_t delivery_us;	/* exact sum */
	int64_t first_order;	/* INT64_MAX when none */
	int64_t last_order;	/* INT64_MIN when none */
	sketch deliveries;	/* in hours */
} branch_state;

typedef struct gold {
	char state_dir[4096];
	char metrics_dir[4096];
	char gold_dir[4096];
	char silver[4096];
	branch_state *b;
	size_t nb;
	int64_t silver_version;
	int64_t new_rows;
	catalog_watermark wm;	/* the source snapshot gold reflects */
	int has_wm;		/* 0: none known */
	lake_err *err;
} gold;

/* A branch's metrics, computed from its state. */
typedef struct metric {
	const branch_state *b;
	double avg;		/* NaN without deliveries */
	double p50;
	double p90;
} metric;

/* Renders gold/branch_metrics.csv (RFC 4180, with a header) and .json
 * (schemas/json/branch_metrics.schema.json) under temporary names,
 * written and fsynced. 0 or -1 with err. */
int gold_write_csv(const gold *g, const metric *m, lake_err *err);
int gold_write_json(const gold *g, const metric *m, lake_err *err);
/* Renames the staged files into place (a reader sees the old file or
 * the new one), then makes the names durable; or drops them. */
int gold_publish_staged(const char *gold_dir, lake_err *err);
void gold_drop_staged(const char *gold_dir);
/* fsync of a folder, so the names just renamed into it are durable. */
int gold_sync_folder(const char *dir, lake_err *err);
/*
 * Replaces gold.branch_metrics (schemas/postgres/gold.sql) in the
 * database dsn names, in one transaction. 0 or -1 with err.
 */
int gold_publish_postgres(const gold *g, const metric *m, const char *dsn,
    lake_err *err);

#endif
