/*
 * test_catalog.c - the table catalog (stages/catalog) is consistent and
 * is what the lake holds.
 *
 * Without arguments: every enum names the column at its position (the
 * layout pinned here is what the lake's readers, DuckDB's included,
 * see: a change to it must change this test too), names and paths are
 * unique, partitions and app ids are well formed; each table written
 * through the lake writer with the catalog's schema reads back from its
 * Delta log with the same columns, types, nullability and partition;
 * the transformation's pending state parses in its typed and its
 * older form and refuses malformed values, saying which field; and so
 * does the source watermark (catalog_watermark.h), which tells a stage's
 * commit without one from another writer's commit.
 *
 * With --lake DIR: every table the stages wrote under DIR has the
 * catalog's schema (tests/pipeline/catalog.sh runs it on a real lake).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "catalog_pending.h"
#include "catalog_watermark.h"
#include "expect.h"
#include "lake.h"

_Static_assert(BRONZE_ORDERS_NCOLS == 4, "bronze/orders has 4 columns");
_Static_assert(BRONZE_HISTORY_NCOLS == 5, "bronze/ordershistory has 5");
_Static_assert(SILVER_NCOLS == 7, "silver/allorders has 7 columns");
_Static_assert(REJECTED_NCOLS == 8, "silver/rejected has 8 columns");
_Static_assert(GOLD_STATE_NCOLS == 7, "gold/branch_state has 7 columns");
_Static_assert(GOLD_METRICS_NCOLS == 8, "gold/branch_metrics has 8");

typedef struct pinned {
	const catalog_table *t;
	int col;
	const char *name;
	pq_type type;
	int nullable;
} pinned;

/* The layout as the tables were first written. */
static const pinned layout[] = {
	{ &catalog_bronze_orders, BRONZE_ORDERS_ORDERID, "orderid", PQ_INT32, 0 },
	{ &catalog_bronze_orders, BRONZE_ORDERS_ORDERTIME, "ordertime",
	    PQ_TIMESTAMP, 0 },
	{ &catalog_bronze_orders, BRONZE_ORDERS_BRANCH, "branch", PQ_STRING, 0 },
	{ &catalog_bronze_orders, BRONZE_ORDERS_XID, "xid", PQ_INT64, 0 },
	{ &catalog_bronze_history, BRONZE_HISTORY_HISTORYID, "historyid",
	    PQ_INT32, 0 },
	{ &catalog_bronze_history, BRONZE_HISTORY_ORDERID, "orderid", PQ_INT32,
	    0 },
	{ &catalog_bronze_history, BRONZE_HISTORY_STATUS, "status", PQ_STRING,
	    0 },
	{ &catalog_bronze_history, BRONZE_HISTORY_UPDATEDAT, "updatedat",
	    PQ_TIMESTAMP, 0 },
	{ &catalog_bronze_history, BRONZE_HISTORY_XID, "xid", PQ_INT64, 0 },
	{ &catalog_silver, SILVER_ORDERID, "orderid", PQ_INT32, 1 },
	{ &catalog_silver, SILVER_ORDERTIME, "ordertime", PQ_TIMESTAMP, 1 },
	{ &catalog_silver, SILVER_BRANCH, "branch", PQ_STRING, 1 },
	{ &catalog_silver, SILVER_HISTORYID, "historyid", PQ_INT32, 1 },
	{ &catalog_silver, SILVER_STATUS, "status", PQ_STRING, 1 },
	{ &catalog_silver, SILVER_UPDATEDAT, "updatedat", PQ_TIMESTAMP, 1 },
	{ &catalog_silver, SILVER_DATE, "date", PQ_DATE, 1 },
	{ &catalog_rejected, REJECTED_HISTORYID, "historyid", PQ_INT32, 1 },
	{ &catalog_rejected, REJECTED_ORDERID, "orderid", PQ_INT32, 1 },
	{ &catalog_rejected, REJECTED_STATUS, "status", PQ_STRING, 1 },
	{ &catalog_rejected, REJECTED_UPDATEDAT, "updatedat", PQ_TIMESTAMP, 1 },
	{ &catalog_rejected, REJECTED_ORDERTIME, "ordertime", PQ_TIMESTAMP, 1 },
	{ &catalog_rejected, REJECTED_BRANCH, "branch", PQ_STRING, 1 },
	{ &catalog_rejected, REJECTED_REASON, "reason", PQ_STRING, 1 },
	{ &catalog_rejected, REJECTED_RUN, "run", PQ_INT64, 1 },
	{ &catalog_gold_state, GOLD_STATE_BRANCH, "branch", PQ_STRING, 0 },
	{ &catalog_gold_state, GOLD_STATE_ORDERS_RECEIVED, "orders_received",
	    PQ_INT64, 0 },
	{ &catalog_gold_state, GOLD_STATE_ORDERS_DELIVERED, "orders_delivered",
	    PQ_INT64, 0 },
	{ &catalog_gold_state, GOLD_STATE_DELIVERY_US_SUM, "delivery_us_sum",
	    PQ_INT64, 0 },
	{ &catalog_gold_state, GOLD_STATE_FIRST_ORDER_AT, "first_order_at",
	    PQ_TIMESTAMP, 1 },
	{ &catalog_gold_state, GOLD_STATE_LAST_ORDER_AT, "last_order_at",
	    PQ_TIMESTAMP, 1 },
	{ &catalog_gold_state, GOLD_STATE_DELIVERY_SKETCH, "delivery_sketch",
	    PQ_STRING, 0 },
	{ &catalog_gold_metrics, GOLD_METRICS_BRANCH, "branch", PQ_STRING, 0 },
	{ &catalog_gold_metrics, GOLD_METRICS_ORDERS_RECEIVED,
	    "orders_received", PQ_INT64, 0 },
	{ &catalog_gold_metrics, GOLD_METRICS_ORDERS_DELIVERED,
	    "orders_delivered", PQ_INT64, 0 },
	{ &catalog_gold_metrics, GOLD_METRICS_AVG_DELIVERY_HOURS,
	    "avg_delivery_hours", PQ_DOUBLE, 1 },
	{ &catalog_gold_metrics, GOLD_METRICS_P50_DELIVERY_HOURS,
	    "p50_delivery_hours", PQ_DOUBLE, 1 },
	{ &catalog_gold_metrics, GOLD_METRICS_P90_DELIVERY_HOURS,
	    "p90_delivery_hours", PQ_DOUBLE, 1 },
	{ &catalog_gold_metrics, GOLD_METRICS_FIRST_ORDER_AT, "first_order_at",
	    PQ_TIMESTAMP, 1 },
	{ &catalog_gold_metrics, GOLD_METRICS_LAST_ORDER_AT, "last_order_at",
	    PQ_TIMESTAMP, 1 },
};

static void
test_layout(void)
{
	int seen[CATALOG_NTABLES] = { 0 };

	for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
		const pinned *p = &layout[i];
		const pq_column_def *c = &p->t->schema->cols[p->col];

		EXPECT(p->col < p->t->schema->ncols, "%s: column %d of %d",
		    p->t->path, p->col, p->t->schema->ncols);
		EXPECT(c->name != NULL && strcmp(c->name, p->name) == 0,
		    "%s: column %d is %s, expected %s", p->t->path, p->col,
		    c->name ? c->name : "(empty)", p->name);
		EXPECT(c->type == p->type && c->nullable == p->nullable,
		    "%s.%s: type %d nullable %d, expected %d %d", p->t->path,
		    p->name, c->type, c->nullable, p->type, p->nullable);
		for (int k = 0; k < CATALOG_NTABLES; k++)
			seen[k] += catalog_tables[k] == p->t;
	}
	for (int k = 0; k < CATALOG_NTABLES; k++)
		EXPECT(seen[k] == catalog_tables[k]->schema->ncols,
		    "%s: %d columns pinned of %d", catalog_tables[k]->path,
		    seen[k], catalog_tables[k]->schema->ncols);
}

static void
test_table_shape(const catalog_table *t)
{
	const pq_schema *s = t->schema;

	EXPECT(catalog_find(t->path) == t, "%s: found by its path", t->path);
	for (int i = 0; i < s->ncols; i++) {
		EXPECT(s->cols[i].name != NULL && s->cols[i].name[0] != '\0',
		    "%s: column %d has no name", t->path, i);
		for (int j = 0; j < i && s->cols[i].name != NULL; j++)
			EXPECT(s->cols[j].name == NULL ||
			    strcmp(s->cols[i].name, s->cols[j].name) != 0,
			    "%s: column %s twice", t->path, s->cols[i].name);
		EXPECT(t->partition == NULL || s->cols[i].name == NULL ||
		    strcmp(t->partition, s->cols[i].name) != 0,
		    "%s: partition %s is also a data column", t->path,
		    t->partition);
	}
	EXPECT((t->partition == NULL) == (t->partition_from < 0),
	    "%s: a partition needs the column it comes from", t->path);
	EXPECT(t->partition_from < 0 || (t->partition_from < s->ncols &&
	    s->cols[t->partition_from].type == PQ_TIMESTAMP),
	    "%s: partition from a timestamp column", t->path);
	EXPECT(t->apps[0] != NULL, "%s: written by no stage", t->path);
	EXPECT(t->settled_by == NULL || (catalog_find(t->settled_by->path) ==
	    t->settled_by && t->settled_app != NULL),
	    "%s: waits for a table outside the catalog", t->path);
	for (int k = 0; k < CATALOG_NTABLES; k++)
		EXPECT(catalog_tables[k] == t || strcmp(catalog_tables[k]->path,
		    t->path) != 0, "%s: two tables at one path", t->path);
}

/* Whether a Delta snapshot holds exactly t's columns and partition. */
static void
expect_snapshot_matches(const catalog_table *t, const delta_snapshot *snap)
{
	int data = 0;

	EXPECT(snap->npartition_columns == (t->partition != NULL) &&
	    (t->partition == NULL || strcmp(snap->partition_columns[0],
	    t->partition) == 0), "%s: partitioned by %s, catalog says %s",
	    t->path, snap->npartition_columns ? snap->partition_columns[0] :
	    "nothing", t->partition ? t->partition : "nothing");
	for (int i = 0; i < snap->schema.ncols; i++) {
		const pq_column_def *got = &snap->schema.cols[i], *want;

		if (t->partition != NULL && strcmp(got->name, t->partition) == 0)
			continue;
		if (data >= t->schema->ncols) {
			EXPECT(0, "%s: extra column %s", t->path, got->name);
			continue;
		}
		want = &t->schema->cols[data++];
		EXPECT(strcmp(got->name, want->name) == 0 &&
		    got->type == want->type && got->nullable == want->nullable,
		    "%s: column %d is %s (type %d, nullable %d), catalog says "
		    "%s (%d, %d)", t->path, data - 1, got->name, got->type,
		    got->nullable, want->name, want->type, want->nullable);
	}
	EXPECT(data == t->schema->ncols, "%s: %d data columns, catalog has %d",
	    t->path, data, t->schema->ncols);
}

/* Writes one row of t under root with the lake writer, reads it back. */
static void
test_written(const catalog_table *t, const char *root)
{
	pq_value v[16];
	delta_snapshot *snap = NULL;
	lake_writer *w;
	lake_err err = { 0 };
	int64_t version = -1;
	char dir[4096];

	EXPECT(t->schema->ncols <= 16, "%s: too wide for this test", t->path);
	if (catalog_table_dir(t, root, dir, sizeof(dir)) == -1 ||
	    t->schema->ncols > 16)
		return;
	memset(v, 0, sizeof(v));
	for (int i = 0; i < t->schema->ncols; i++)
		if (t->schema->cols[i].type == PQ_STRING) {
			v[i].v.s.ptr = "x";
			v[i].v.s.len = 1;
		}
	if ((w = lake_writer_open(dir, t->schema, t->partition, NULL,
	    &err)) == NULL || lake_writer_append(w, t->partition ?
	    "2026-11-24" : NULL, v, &err) == -1 ||
	    lake_writer_commit(w, NULL, t->apps[0], 1, "WRITE", NULL, &version,
	    &err) != DELTA_OK) {
		EXPECT(0, "%s: cannot write: %s", t->path, err.msg);
		return;
	}
	if (delta_snapshot_load(dir, -1, &snap, &err) != DELTA_OK) {
		EXPECT(0, "%s: cannot read back: %s", t->path, err.msg);
		return;
	}
	expect_snapshot_matches(t, snap);
	EXPECT(delta_snapshot_txn_version(snap, t->apps[0]) == 1,
	    "%s: txn %s", t->path, t->apps[0]);
	delta_snapshot_free(snap);
}

/* --- the pending state --------------------------------------------- */

static int
parse(const char *info, catalog_pending *p, char *why)
{
	return catalog_pending_parse(info, p, why, 256);
}

static void
expect_malformed(const char *info, const char *needle)
{
	catalog_pending p;
	char why[256] = "";
	int rc = parse(info, &p, why);

	EXPECT(rc == -1 && strstr(why, needle) != NULL,
	    "%s: rc %d, '%s', expected '%s'", info, rc, why, needle);
}

static void
test_pending(void)
{
	int32_t ids[] = { 5, 9, 9, 40 };
	catalog_pending p = { .run = 12, .from = 40, .ids = ids, .n = 4 }, q;
	char why[256];
	json_t *o, *info;
	char *text;

	EXPECT(parse("{\"operationParameters\":{\"stage\":\"maintenance\"}}",
	    &q, why) == 0, "a compaction's commit is not the state");
	EXPECT(parse("{\"operation\":\"OPTIMIZE\"}", &q, why) == 0,
	    "a commit without parameters is not the state");

	/* The typed form, written and read back. */
	o = catalog_pending_json(&p);
	info = json_pack("{s:s, s:o}", "operation", "STREAMING UPDATE",
	    CATALOG_PENDING_KEY, o);
	text = json_dumps(info, JSON_COMPACT);
	EXPECT(parse(text, &q, why) == 1 && q.run == 12 && q.from == 40 &&
	    q.n == 4 && q.ids[0] == 5 && q.ids[3] == 40, "round trip: %s",
	    text);
	catalog_pending_free(&q);
	free(text);
	json_decref(info);
	EXPECT(parse("{\"" CATALOG_PENDING_KEY "\":{\"format\":1,\"run\":3,"
	    "\"pendingFrom\":-1,\"pendingIds\":[]}}", &q, why) == 1 &&
	    q.n == 0 && q.from == -1, "an empty state");

	/* The strings an older transformation wrote. */
	EXPECT(parse("{\"operationParameters\":{\"stage\":\"transformation\","
	    "\"run\":\"7\",\"pendingFrom\":\"3\",\"pendingIds\":\"44,12,30\"}}",
	    &q, why) == 1 && q.run == 7 && q.from == 3 && q.n == 3 &&
	    q.ids[0] == 12 && q.ids[2] == 44, "the older form: %s", why);
	catalog_pending_free(&q);
	EXPECT(parse("{\"operationParameters\":{\"stage\":\"transformation\","
	    "\"run\":\"7\"}}", &q, why) == 1 && q.n == 0 && q.from == -1,
	    "the older form without pending events: %s", why);

	expect_malformed("{\"" CATALOG_PENDING_KEY "\":[]}", "not an object");
	expect_malformed("{\"" CATALOG_PENDING_KEY "\":{\"format\":2,\"run\":3,"
	    "\"pendingFrom\":-1,\"pendingIds\":[]}}", "format 2");
	expect_malformed("{\"" CATALOG_PENDING_KEY "\":{\"format\":1,\"run\":3,"
	    "\"pendingFrom\":-1,\"pendingIds\":[],\"x\":1}}", "unknown field x");
	expect_malformed("{\"" CATALOG_PENDING_KEY "\":{\"format\":1,\"run\":3,"
	    "\"pendingIds\":[]}}", "pendingFrom is missing");
	expect_malformed("{\"" CATALOG_PENDING_KEY "\":{\"format\":1,\"run\":3,"
	    "\"pendingFrom\":\"4\",\"pendingIds\":[]}}",
	    "pendingFrom is not an integer");
	expect_malformed("{\"" CATALOG_PENDING_KEY "\":{\"format\":1,\"run\":0,"
	    "\"pendingFrom\":4,\"pendingIds\":[]}}", "run is 0");
	expect_malformed("{\"" CATALOG_PENDING_KEY "\":{\"format\":1,\"run\":3,"
	    "\"pendingFrom\":4,\"pendingIds\":\"1,2\"}}", "not an array");
	expect_malformed("{\"" CATALOG_PENDING_KEY "\":{\"format\":1,\"run\":3,"
	    "\"pendingFrom\":4,\"pendingIds\":[1,\"2\"]}}",
	    "pendingIds[1] is not an integer");
	expect_malformed("{\"" CATALOG_PENDING_KEY "\":{\"format\":1,\"run\":3,"
	    "\"pendingFrom\":4,\"pendingIds\":[1,3000000000]}}",
	    "pendingIds[1] = 3000000000 is not a historyid");
	expect_malformed("{\"" CATALOG_PENDING_KEY "\":{\"format\":1,\"run\":3,"
	    "\"pendingFrom\":4,\"pendingIds\":[8,2]}}", "out of order");
	expect_malformed("{\"operationParameters\":{\"stage\":"
	    "\"transformation\",\"run\":\"7\",\"pendingFrom\":\"3\","
	    "\"pendingIds\":\"12,x,30\"}}", "item 1 (\"x\")");
	expect_malformed("{\"operationParameters\":{\"stage\":"
	    "\"transformation\",\"run\":\"7\",\"pendingFrom\":\"3\","
	    "\"pendingIds\":\"\"}}", "item 0");
	expect_malformed("{\"operationParameters\":{\"stage\":"
	    "\"transformation\",\"run\":\"7\",\"pendingIds\":\"12\"}}",
	    "pendingIds without pendingFrom");
	expect_malformed("{\"operationParameters\":{\"stage\":"
	    "\"transformation\",\"run\":\"7\",\"pendingFrom\":\"3x\","
	    "\"pendingIds\":\"12\"}}", "pendingFrom is not a decimal");
	expect_malformed("not json", "not a JSON object");
}

/* --- the source watermark ------------------------------------------ */

#define WM "{\"" CATALOG_WATERMARK_KEY "\":"

static void
expect_wm_malformed(const char *info, const char *needle)
{
	catalog_watermark w;
	char why[256] = "";
	catalog_watermark_found rc = catalog_watermark_parse(info,
	    "transformation", &w, why, sizeof(why));

	EXPECT(rc == CATALOG_WM_MALFORMED && strstr(why, needle) != NULL,
	    "%s: rc %d, '%s', expected '%s'", info, (int)rc, why, needle);
}

static void
test_watermark(void)
{
	catalog_watermark w = { .xid_bound = 5000000000LL,
		.snapshot_at = 1764428400123456LL }, r;
	json_t *info = json_pack("{s:{s:s}, s:o}", "operationParameters",
	    "stage", "ingestion", CATALOG_WATERMARK_KEY,
	    catalog_watermark_json(&w));
	char *text = json_dumps(info, JSON_COMPACT), why[256];

	EXPECT(catalog_watermark_parse(text, "ingestion", &r, why,
	    sizeof(why)) == CATALOG_WM_FOUND && r.xid_bound == w.xid_bound &&
	    r.snapshot_at == w.snapshot_at, "round trip: %s", text);
	EXPECT(catalog_watermark_parse(text, "transformation", &r, why,
	    sizeof(why)) == CATALOG_WM_FOUND,
	    "found in any writer's commit: %s", text);
	free(text);
	json_decref(info);
	EXPECT(catalog_watermark_parse("{\"operationParameters\":{\"stage\":"
	    "\"transformation\",\"run\":\"3\"}}", "transformation", &r, why,
	    sizeof(why)) == CATALOG_WM_NONE,
	    "the stage's commit of before watermarks has none");
	EXPECT(catalog_watermark_parse("{\"operationParameters\":{\"stage\":"
	    "\"maintenance\"}}", "transformation", &r, why, sizeof(why)) ==
	    CATALOG_WM_OTHER, "a compaction's commit says nothing");
	EXPECT(catalog_watermark_parse("{\"operation\":\"OPTIMIZE\"}",
	    "serving", &r, why, sizeof(why)) == CATALOG_WM_OTHER,
	    "a commit without parameters says nothing");

	expect_wm_malformed(WM "[]}", "not an object");
	expect_wm_malformed(WM "{\"format\":2,\"xidBound\":9,"
	    "\"snapshotAt\":1}}", "format 2");
	expect_wm_malformed(WM "{\"format\":1,\"xidBound\":9,"
	    "\"snapshotAt\":1,\"lsn\":1}}", "unknown field sourceWatermark.lsn");
	expect_wm_malformed(WM "{\"format\":1,\"snapshotAt\":1}}",
	    "sourceWatermark.xidBound is missing");
	expect_wm_malformed(WM "{\"format\":1,\"xidBound\":\"9\","
	    "\"snapshotAt\":1}}", "sourceWatermark.xidBound is not an integer");
	expect_wm_malformed(WM "{\"format\":1,\"xidBound\":2,"
	    "\"snapshotAt\":1}}", "sourceWatermark.xidBound is 2, below 3");
	expect_wm_malformed(WM "{\"format\":1,\"xidBound\":9,"
	    "\"snapshotAt\":-1}}", "sourceWatermark.snapshotAt is -1");
	expect_wm_malformed(WM "{\"format\":1,\"xidBound\":9}}",
	    "sourceWatermark.snapshotAt is missing");
	expect_wm_malformed(WM "{\"xidBound\":9,\"snapshotAt\":1}}",
	    "sourceWatermark.format is missing");
	expect_wm_malformed("not json", "not a JSON object");
}

/* --- a real lake --------------------------------------------------- */

static int
check_lake(const char *lake)
{
	int found = 0;

	for (int k = 0; k < CATALOG_NTABLES; k++) {
		const catalog_table *t = catalog_tables[k];
		delta_snapshot *snap = NULL;
		lake_err err = { 0 };
		char dir[4096];
		int rc;

		if (catalog_table_dir(t, lake, dir, sizeof(dir)) == -1) {
			EXPECT(0, "%s/%s: path too long", lake, t->path);
			continue;
		}
		rc = delta_snapshot_load_meta(dir, &snap, &err);
		if (rc == DELTA_NO_TABLE)
			continue;
		if (rc != DELTA_OK) {
			EXPECT(0, "%s: %s", dir, err.msg);
			continue;
		}
		found++;
		expect_snapshot_matches(t, snap);
		delta_snapshot_free(snap);
	}
	printf("%d of %d catalog tables in %s checked\n", found,
	    CATALOG_NTABLES, lake);
	EXPECT(found > 0, "%s holds none of the catalog's tables", lake);
	return expect_report("catalog (lake)");
}

int
main(int argc, char **argv)
{
	char root[] = "/tmp/medallion-catalog.XXXXXX";
	char cmd[64];

	if (argc == 3 && strcmp(argv[1], "--lake") == 0)
		return check_lake(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: test_catalog [--lake DIR]\n");
		return 2;
	}
	test_layout();
	for (int k = 0; k < CATALOG_NTABLES; k++)
		test_table_shape(catalog_tables[k]);
	test_pending();
	test_watermark();
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	for (int k = 0; k < CATALOG_NTABLES; k++)
		test_written(catalog_tables[k], root);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	return expect_report("catalog");
}
