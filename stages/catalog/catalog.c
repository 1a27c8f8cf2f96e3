/*
 * catalog.c - the lake's tables: paths, columns, partitions, app ids.
 *
 * Each column array is indexed by its table's enum (catalog.h) through
 * designated initializers, so a column's position is its enum value by
 * construction; the static asserts below tie each array's length to the
 * enum's count, and tests/pipeline/test_catalog.c checks that no
 * position was left empty, that names are unique and that each column
 * is still the one the lake holds. The arrays are not const only
 * because pq_schema points at mutable column definitions; nothing
 * writes them.
 *
 * Bronze columns are REQUIRED, as the source's are NOT NULL (ingestion's
 * schema check refuses a source column that allows nulls). Silver's are
 * OPTIONAL, as the tables were first written; gold's are REQUIRED except
 * where a branch may have no value yet.
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"

static pq_column_def bronze_orders_cols[] = {
	[BRONZE_ORDERS_ORDERID] = { "orderid", PQ_INT32, 0, 0, 0 },
	[BRONZE_ORDERS_ORDERTIME] = { "ordertime", PQ_TIMESTAMP, 0, 0, 0 },
	[BRONZE_ORDERS_BRANCH] = { "branch", PQ_STRING, 0, 0, 0 },
	[BRONZE_ORDERS_XID] = { "xid", PQ_INT64, 0, 0, 0 },
};
_Static_assert(sizeof(bronze_orders_cols) / sizeof(bronze_orders_cols[0]) ==
    BRONZE_ORDERS_NCOLS, "bronze/orders: one column per enum value");
const pq_schema catalog_bronze_orders_schema = { bronze_orders_cols,
	BRONZE_ORDERS_NCOLS };

static pq_column_def bronze_history_cols[] = {
	[BRONZE_HISTORY_HISTORYID] = { "historyid", PQ_INT32, 0, 0, 0 },
	[BRONZE_HISTORY_ORDERID] = { "orderid", PQ_INT32, 0, 0, 0 },
	[BRONZE_HISTORY_STATUS] = { "status", PQ_STRING, 0, 0, 0 },
	[BRONZE_HISTORY_UPDATEDAT] = { "updatedat", PQ_TIMESTAMP, 0, 0, 0 },
	[BRONZE_HISTORY_XID] = { "xid", PQ_INT64, 0, 0, 0 },
};
_Static_assert(sizeof(bronze_history_cols) / sizeof(bronze_history_cols[0]) ==
    BRONZE_HISTORY_NCOLS, "bronze/ordershistory: one column per enum value");
const pq_schema catalog_bronze_history_schema = { bronze_history_cols,
	BRONZE_HISTORY_NCOLS };

static pq_column_def silver_cols[] = {
	[SILVER_ORDERID] = { "orderid", PQ_INT32, 1, 0, 0 },
	[SILVER_ORDERTIME] = { "ordertime", PQ_TIMESTAMP, 1, 0, 0 },
	[SILVER_BRANCH] = { "branch", PQ_STRING, 1, 0, 0 },
	[SILVER_HISTORYID] = { "historyid", PQ_INT32, 1, 0, 0 },
	[SILVER_STATUS] = { "status", PQ_STRING, 1, 0, 0 },
	[SILVER_UPDATEDAT] = { "updatedat", PQ_TIMESTAMP, 1, 0, 0 },
	[SILVER_DATE] = { "date", PQ_DATE, 1, 0, 0 },
};
_Static_assert(sizeof(silver_cols) / sizeof(silver_cols[0]) == SILVER_NCOLS,
    "silver/allorders: one column per enum value");
const pq_schema catalog_silver_schema = { silver_cols, SILVER_NCOLS };

static pq_column_def rejected_cols[] = {
	[REJECTED_HISTORYID] = { "historyid", PQ_INT32, 1, 0, 0 },
	[REJECTED_ORDERID] = { "orderid", PQ_INT32, 1, 0, 0 },
	[REJECTED_STATUS] = { "status", PQ_STRING, 1, 0, 0 },
	[REJECTED_UPDATEDAT] = { "updatedat", PQ_TIMESTAMP, 1, 0, 0 },
	[REJECTED_ORDERTIME] = { "ordertime", PQ_TIMESTAMP, 1, 0, 0 },
	[REJECTED_BRANCH] = { "branch", PQ_STRING, 1, 0, 0 },
	[REJECTED_REASON] = { "reason", PQ_STRING, 1, 0, 0 },
	[REJECTED_RUN] = { "run", PQ_INT64, 1, 0, 0 },
};
_Static_assert(sizeof(rejected_cols) / sizeof(rejected_cols[0]) ==
    REJECTED_NCOLS, "silver/rejected: one column per enum value");
const pq_schema catalog_rejected_schema = { rejected_cols, REJECTED_NCOLS };

static pq_column_def gold_state_cols[] = {
	[GOLD_STATE_BRANCH] = { "branch", PQ_STRING, 0, 0, 0 },
	[GOLD_STATE_ORDERS_RECEIVED] = { "orders_received", PQ_INT64, 0, 0, 0 },
	[GOLD_STATE_ORDERS_DELIVERED] = { "orders_delivered", PQ_INT64, 0, 0,
	    0 },
	[GOLD_STATE_DELIVERY_US_SUM] = { "delivery_us_sum", PQ_INT64, 0, 0, 0 },
	[GOLD_STATE_FIRST_ORDER_AT] = { "first_order_at", PQ_TIMESTAMP, 1, 0,
	    0 },
	[GOLD_STATE_LAST_ORDER_AT] = { "last_order_at", PQ_TIMESTAMP, 1, 0, 0 },
	[GOLD_STATE_DELIVERY_SKETCH] = { "delivery_sketch", PQ_STRING, 0, 0,
	    0 },
};
_Static_assert(sizeof(gold_state_cols) / sizeof(gold_state_cols[0]) ==
    GOLD_STATE_NCOLS, "gold/branch_state: one column per enum value");
const pq_schema catalog_gold_state_schema = { gold_state_cols,
	GOLD_STATE_NCOLS };

static pq_column_def gold_metrics_cols[] = {
	[GOLD_METRICS_BRANCH] = { "branch", PQ_STRING, 0, 0, 0 },
	[GOLD_METRICS_ORDERS_RECEIVED] = { "orders_received", PQ_INT64, 0, 0,
	    0 },
	[GOLD_METRICS_ORDERS_DELIVERED] = { "orders_delivered", PQ_INT64, 0, 0,
	    0 },
	[GOLD_METRICS_AVG_DELIVERY_HOURS] = { "avg_delivery_hours", PQ_DOUBLE,
	    1, 0, 0 },
	[GOLD_METRICS_P50_DELIVERY_HOURS] = { "p50_delivery_hours", PQ_DOUBLE,
	    1, 0, 0 },
	[GOLD_METRICS_P90_DELIVERY_HOURS] = { "p90_delivery_hours", PQ_DOUBLE,
	    1, 0, 0 },
	[GOLD_METRICS_FIRST_ORDER_AT] = { "first_order_at", PQ_TIMESTAMP, 1, 0,
	    0 },
	[GOLD_METRICS_LAST_ORDER_AT] = { "last_order_at", PQ_TIMESTAMP, 1, 0,
	    0 },
};
_Static_assert(sizeof(gold_metrics_cols) / sizeof(gold_metrics_cols[0]) ==
    GOLD_METRICS_NCOLS, "gold/branch_metrics: one column per enum value");
const pq_schema catalog_gold_metrics_schema = { gold_metrics_cols,
	GOLD_METRICS_NCOLS };

const catalog_table catalog_bronze_orders = {
	"bronze/orders", &catalog_bronze_orders_schema, "date",
	BRONZE_ORDERS_ORDERTIME, { CATALOG_APP_INGESTION_ORDERS }, NULL, NULL,
	"orderid"
};

const catalog_table catalog_bronze_history = {
	"bronze/ordershistory", &catalog_bronze_history_schema, "date",
	BRONZE_HISTORY_UPDATEDAT, { CATALOG_APP_INGESTION_HISTORY }, NULL, NULL,
	NULL
};

const catalog_table catalog_silver = {
	"silver/allorders", &catalog_silver_schema, NULL, -1,
	{ CATALOG_APP_TRANSFORMATION, CATALOG_APP_TRANSFORMATION_ORDERS,
	    CATALOG_APP_TRANSFORMATION_HISTORY }, NULL, NULL, "orderid"
};

const catalog_table catalog_rejected = {
	"silver/rejected", &catalog_rejected_schema, NULL, -1,
	{ CATALOG_APP_TRANSFORMATION }, &catalog_silver,
	CATALOG_APP_TRANSFORMATION, NULL
};

const catalog_table catalog_gold_state = {
	CATALOG_GOLD_DIR "/branch_state", &catalog_gold_state_schema, NULL, -1,
	{ CATALOG_APP_SERVING }, NULL, NULL, NULL
};

const catalog_table catalog_gold_metrics = {
	CATALOG_GOLD_DIR "/branch_metrics", &catalog_gold_metrics_schema, NULL, -1,
	{ CATALOG_APP_SERVING }, NULL, NULL, NULL
};

const catalog_table *const catalog_tables[CATALOG_NTABLES] = {
	&catalog_bronze_orders, &catalog_bronze_history, &catalog_silver,
	&catalog_rejected, &catalog_gold_state, &catalog_gold_metrics,
};

const char *
catalog_col(const catalog_table *t, int col)
{
	return t->schema->cols[col].name;
}

void
catalog_project(const catalog_table *t, const int *cols, int n,
    const char **names)
{
	for (int i = 0; i < n; i++)
		names[i] = catalog_col(t, cols[i]);
}

const catalog_table *
catalog_find(const char *path)
{
	for (int i = 0; i < CATALOG_NTABLES; i++)
		if (strcmp(catalog_tables[i]->path, path) == 0)
			return catalog_tables[i];
	return NULL;
}

int
catalog_table_dir(const catalog_table *t, const char *lake, char *buf,
    size_t len)
{
	int n = snprintf(buf, len, "%s/%s", lake, t->path);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}
