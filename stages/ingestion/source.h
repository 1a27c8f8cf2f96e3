/*
 * source.h - reading the retail tables out of PostgreSQL, exactly once.
 *
 * One REPEATABLE READ, READ ONLY transaction per run gives every query the
 * same snapshot. source_begin() opens it, checks the tables' columns and
 * types against what bronze expects, and takes the safe upper watermark
 * hi = pg_snapshot_xmin(pg_current_snapshot()): every transaction below it
 * has finished, so no row with xid < hi can appear later. A table is then
 * streamed with COPY (SELECT ... WHERE xid >= lo AND xid < hi) TO STDOUT
 * (FORMAT binary) and decoded row by row. lo and hi reach the query as
 * session settings written by parameterized set_config() calls, because
 * COPY itself takes no parameters: nothing is ever pasted into SQL.
 */
#ifndef SOURCE_H
#define SOURCE_H

#include <stdint.h>

#include <libpq-fe.h>

#include "catalog.h"
#include "lake_err.h"
#include "parquet.h"

/* A source table and the bronze table it lands in. */
typedef struct source_table {
	const char *name;		/* orders, ordershistory */
	const char *const *pg_types;	/* format_type() of each column */
	const pq_schema *schema;	/* bronze's: same columns, same order */
	const catalog_table *bronze;
} source_table;

extern const source_table source_orders;
extern const source_table source_ordershistory;

typedef struct source source;

/* Connects with libpq's environment. Free it with source_end(). */
source *source_connect(lake_err *err);
/* Begins the snapshot on s, takes its watermark and checks the tables. */
int source_begin(source *s, const source_table *const *tables, int ntables,
    lake_err *err);
/*
 * Puts the connection f into s's snapshot (pg_export_snapshot), so two
 * tables can stream at once and still agree.
 */
int source_share_snapshot(source *s, source *f, lake_err *err);
/* The snapshot's safe upper bound (an xid8 as an integer). */
int64_t source_high_watermark(const source *s);
/* When the snapshot was taken, on PostgreSQL's clock (clock_timestamp()
 * in the query that took it), in microseconds since the epoch: every
 * transaction below the bound committed before it. */
int64_t source_snapshot_time(const source *s);
void source_end(source *s);	/* ends the read-only session */

typedef struct source_stats {
	int64_t rows;
	int64_t bytes;
} source_stats;

/*
 * Streams the rows with lo <= xid < hi, calling row_cb once per row with
 * the decoded values (strings point into libpq's buffer, valid during the
 * call). Stops at the first callback error.
 */
int source_copy(source *s, const source_table *t, int64_t lo,
    int (*row_cb)(const pq_value *row, void *arg), void *arg,
    source_stats *stats, lake_err *err);

#endif
