/*
 * catalog.h - the lake's tables, in one place: the data contract between
 * the stages.
 *
 * Every Delta table the stages write or read is described here once: its
 * folder under the lake root, the columns of its data files in order
 * (pq_column_def, as the lake writer takes them), an enum of column
 * positions that writers and readers index rows and schemas by
 * (v[SILVER_BRANCH], never v[2]), its partition column, and the Delta
 * txn app ids its writers keep their bookmarks under. The stages,
 * maintenance and the server name tables and columns only through it,
 * so adding or reordering a column is a change here that the compiler
 * (the enums) and tests/pipeline/test_catalog.c check: the layout
 * pinned column by column, and the schemas against tables the lake
 * writer and a real pipeline made.
 *
 * Readers project columns by name: a projection array built from
 * catalog_col() keeps the batch's column order next to the enum that
 * indexes it.
 *
 * The transformation's typed state (its pending events, kept with each
 * silver commit) is described in catalog_state.h.
 */
#ifndef CATALOG_H
#define CATALOG_H

#include <stddef.h>

#include "parquet.h"

/* bronze/orders: the source's orders, partitioned by ordertime's day. */
typedef enum bronze_orders_col {
	BRONZE_ORDERS_ORDERID,
	BRONZE_ORDERS_ORDERTIME,
	BRONZE_ORDERS_BRANCH,
	BRONZE_ORDERS_XID,
	BRONZE_ORDERS_NCOLS
} bronze_orders_col;

/* bronze/ordershistory: the source's events, partitioned by updatedat's
 * day. */
typedef enum bronze_history_col {
	BRONZE_HISTORY_HISTORYID,
	BRONZE_HISTORY_ORDERID,
	BRONZE_HISTORY_STATUS,
	BRONZE_HISTORY_UPDATEDAT,
	BRONZE_HISTORY_XID,
	BRONZE_HISTORY_NCOLS
} bronze_history_col;

/* silver/allorders: NEW and DELIVERED events joined with their order. */
typedef enum silver_col {
	SILVER_ORDERID,
	SILVER_ORDERTIME,
	SILVER_BRANCH,
	SILVER_HISTORYID,
	SILVER_STATUS,
	SILVER_UPDATEDAT,
	SILVER_DATE,
	SILVER_NCOLS
} silver_col;

/* silver/rejected: broken events with the reason and the run. */
typedef enum rejected_col {
	REJECTED_HISTORYID,
	REJECTED_ORDERID,
	REJECTED_STATUS,
	REJECTED_UPDATEDAT,
	REJECTED_ORDERTIME,
	REJECTED_BRANCH,
	REJECTED_REASON,
	REJECTED_RUN,
	REJECTED_NCOLS
} rejected_col;

/* gold/branch_state: serving's per-branch running state. */
typedef enum gold_state_col {
	GOLD_STATE_BRANCH,
	GOLD_STATE_ORDERS_RECEIVED,
	GOLD_STATE_ORDERS_DELIVERED,
	GOLD_STATE_DELIVERY_US_SUM,
	GOLD_STATE_FIRST_ORDER_AT,
	GOLD_STATE_LAST_ORDER_AT,
	GOLD_STATE_DELIVERY_SKETCH,
	GOLD_STATE_NCOLS
} gold_state_col;

/* gold/branch_metrics: the per-branch metrics, replaced each run. */
typedef enum gold_metrics_col {
	GOLD_METRICS_BRANCH,
	GOLD_METRICS_ORDERS_RECEIVED,
	GOLD_METRICS_ORDERS_DELIVERED,
	GOLD_METRICS_AVG_DELIVERY_HOURS,
	GOLD_METRICS_P50_DELIVERY_HOURS,
	GOLD_METRICS_P90_DELIVERY_HOURS,
	GOLD_METRICS_FIRST_ORDER_AT,
	GOLD_METRICS_LAST_ORDER_AT,
	GOLD_METRICS_NCOLS
} gold_metrics_col;

/* Delta txn app ids: each stage's bookmarks in the tables it writes. */
#define CATALOG_APP_INGESTION_ORDERS "ingestion:orders"
#define CATALOG_APP_INGESTION_HISTORY "ingestion:ordershistory"
/* The transformation's run number, in silver/allorders and
 * silver/rejected. */
#define CATALOG_APP_TRANSFORMATION "transformation"
/* The bronze versions silver has consumed, in silver/allorders. */
#define CATALOG_APP_TRANSFORMATION_ORDERS "transformation:orders"
#define CATALOG_APP_TRANSFORMATION_HISTORY "transformation:ordershistory"
/* The silver version gold reflects, in both gold tables. */
#define CATALOG_APP_SERVING "serving"

/* Serving's plain files beside the gold tables (CATALOG_GOLD_DIR/...). */
#define CATALOG_GOLD_DIR "gold"
#define CATALOG_GOLD_CSV "branch_metrics.csv"
#define CATALOG_GOLD_JSON "branch_metrics.json"

#define CATALOG_MAX_APPS 3

typedef struct catalog_table catalog_table;

struct catalog_table {
	const char *path;		/* under the lake root */
	const pq_schema *schema;	/* the data files' columns, in order */
	const char *partition;		/* partition column, or NULL; Delta
					   type DATE when named "date" */
	int partition_from;		/* the column whose UTC day is the
					   partition value, or -1 */
	const char *apps[CATALOG_MAX_APPS];	/* txn app ids kept in it,
						   NULL after the last */
	/*
	 * Compaction waits while this table's txn settled_app is newer than
	 * settled_by's: silver/rejected is committed before
	 * silver/allorders, and a rerun of an unfinished transformation
	 * removes the dead attempt's rejected files by name, which a
	 * compaction would have merged away. NULL when nothing waits.
	 */
	const catalog_table *settled_by;
	const char *settled_app;
	/*
	 * The column the transformation looks rows up by (an INT32), or
	 * NULL: compaction merges the table's files in its order
	 * (delta_optimize_opts.sort_by) and the writers sort each row group
	 * by it, so a lookup of a few keys decodes a few pages.
	 */
	const char *cluster_by;
};

/* The tables' schemas, also by themselves for static initializers. */
extern const pq_schema catalog_bronze_orders_schema;
extern const pq_schema catalog_bronze_history_schema;
extern const pq_schema catalog_silver_schema;
extern const pq_schema catalog_rejected_schema;
extern const pq_schema catalog_gold_state_schema;
extern const pq_schema catalog_gold_metrics_schema;

extern const catalog_table catalog_bronze_orders;
extern const catalog_table catalog_bronze_history;
extern const catalog_table catalog_silver;
extern const catalog_table catalog_rejected;
extern const catalog_table catalog_gold_state;
extern const catalog_table catalog_gold_metrics;

/* Every table, in the order the pipeline writes them. */
#define CATALOG_NTABLES 6
extern const catalog_table *const catalog_tables[CATALOG_NTABLES];

/* The name of column col of t (an index from t's enum). */
const char *catalog_col(const catalog_table *t, int col);
/*
 * A projection for the lake's scans: names[i] is the name of column
 * cols[i] of t (indexes from t's enum), so a reader's batch column i
 * holds it. A reader declares its own enum of batch positions beside
 * cols.
 */
void catalog_project(const catalog_table *t, const int *cols, int n,
    const char **names);
/* The table of that path ("silver/allorders"), or NULL. */
const catalog_table *catalog_find(const char *path);
/*
 * Writes lake/t->path into buf. Returns 0, or -1 when it does not fit
 * (the caller says so: "<lake>/<path>: path too long").
 */
int catalog_table_dir(const catalog_table *t, const char *lake, char *buf,
    size_t len);

#endif
