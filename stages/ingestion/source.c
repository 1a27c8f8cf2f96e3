/*
 * source.c - PostgreSQL side of ingestion: snapshot, schema check, and
 * streaming COPY (FORMAT binary), whose messages copy_decode.c decodes:
 * int4, timestamp (±infinity by its documented rule, never overflowed),
 * xid8 as uint64, and varchar as its UTF-8 bytes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_decode.h"
#include "source.h"

/* The widest table a row buffer holds; the tables are checked against
 * it before their COPY starts. */
#define SOURCE_MAX_COLUMNS 16

/*
 * The source's column types, one per bronze column (catalog.h), which
 * the source's columns must match by name and order. Bronze columns are
 * REQUIRED, as the source's are NOT NULL; the schema check refuses a
 * source column that allows nulls.
 */
static const char *const orders_types[] = {
	[BRONZE_ORDERS_ORDERID] = "integer",
	[BRONZE_ORDERS_ORDERTIME] = "timestamp without time zone",
	[BRONZE_ORDERS_BRANCH] = "character varying",
	[BRONZE_ORDERS_XID] = "xid8",
};
_Static_assert(sizeof(orders_types) / sizeof(orders_types[0]) ==
    BRONZE_ORDERS_NCOLS, "orders: one source type per bronze column");

static const char *const history_types[] = {
	[BRONZE_HISTORY_HISTORYID] = "integer",
	[BRONZE_HISTORY_ORDERID] = "integer",
	[BRONZE_HISTORY_STATUS] = "character varying",
	[BRONZE_HISTORY_UPDATEDAT] = "timestamp without time zone",
	[BRONZE_HISTORY_XID] = "xid8",
};
_Static_assert(sizeof(history_types) / sizeof(history_types[0]) ==
    BRONZE_HISTORY_NCOLS, "ordershistory: one source type per bronze column");

const source_table source_orders = { "orders", orders_types,
	&catalog_bronze_orders_schema, &catalog_bronze_orders };
const source_table source_ordershistory = { "ordershistory", history_types,
	&catalog_bronze_history_schema, &catalog_bronze_history };

struct source {
	PGconn *conn;
	int64_t hi;
	int64_t snapshot_at;	/* PostgreSQL's clock at the snapshot, us */
};

static int
exec_ok(PGconn *conn, const char *sql, lake_err *err)
{
	PGresult *res = PQexec(conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		lake_err_set(err, "PostgreSQL: %s", PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

/*
 * Compares a table's columns with what bronze expects. The catalog is
 * read directly (pg_attribute), several times cheaper than
 * information_schema in a fresh backend; the table is resolved through
 * the search_path exactly as COPY's query will resolve it.
 */
static int
check_table(PGconn *conn, const source_table *t, lake_err *err)
{
	const char *params[1] = { t->name };
	PGresult *res;
	int rc = -1;

	res = PQexecParams(conn, "SELECT a.attname, format_type(a.atttypid, "
	    "NULL), a.attnotnull FROM pg_catalog.pg_attribute a WHERE "
	    "a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT "
	    "a.attisdropped", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		lake_err_set(err, "cannot read the columns of %s: %s", t->name,
		    PQresultErrorMessage(res));
		goto out;
	}
	if (PQntuples(res) == 0) {
		lake_err_set(err, "source table %s does not exist in database "
		    "%s (on the search_path of %s); load "
		    "schemas/postgres/retail.sql", t->name, PQdb(conn),
		    PQuser(conn));
		goto out;
	}
	for (int c = 0; c < t->schema->ncols; c++) {
		const char *want = t->schema->cols[c].name;
		int found = -1;

		for (int r = 0; r < PQntuples(res); r++)
			if (strcmp(PQgetvalue(res, r, 0), want) == 0)
				found = r;
		if (found < 0) {
			lake_err_set_kind(err, LAKE_ERR_SCHEMA, "source table "
			    "%s has no column %s; "
			    "bronze needs it (see schemas/postgres/retail.sql)",
			    t->name, want);
			goto out;
		}
		if (strcmp(PQgetvalue(res, found, 1), t->pg_types[c]) != 0) {
			lake_err_set_kind(err, LAKE_ERR_SCHEMA, "source column "
			    "%s.%s is %s, but "
			    "bronze expects %s; nothing was written", t->name,
			    want, PQgetvalue(res, found, 1), t->pg_types[c]);
			goto out;
		}
		if (strcmp(PQgetvalue(res, found, 2), "t") != 0) {
			lake_err_set_kind(err, LAKE_ERR_SCHEMA, "source column "
			    "%s.%s allows nulls, but "
			    "bronze expects NOT NULL; nothing was written",
			    t->name, want);
			goto out;
		}
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

source *
source_connect(lake_err *err)
{
	source *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		lake_err_set(err, "out of memory");
		return NULL;
	}
	s->conn = PQconnectdb("");
	if (PQstatus(s->conn) != CONNECTION_OK) {
		lake_err_set(err, "cannot connect to PostgreSQL (PGHOST=%s "
		    "PGPORT=%s PGDATABASE=%s PGUSER=%s): %s",
		    getenv("PGHOST") ?: "", getenv("PGPORT") ?: "",
		    getenv("PGDATABASE") ?: "", getenv("PGUSER") ?: "",
		    PQerrorMessage(s->conn));
		PQfinish(s->conn);
		free(s);
		return NULL;
	}
	return s;
}

int
source_begin(source *s, const source_table *const *tables, int ntables,
    lake_err *err)
{
	PGresult *res;

	/*
	 * One round trip: the transaction and its first query, which fixes
	 * the snapshot every later one sees. clock_timestamp() is read while
	 * that query runs, after the snapshot was taken, so every
	 * transaction below the bound committed before it (now() would be
	 * the transaction's start, before the snapshot).
	 */
	res = PQexec(s->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
	    " SELECT pg_snapshot_xmin(pg_current_snapshot())::text, "
	    "floor(extract(epoch FROM clock_timestamp()) * 1000000)::int8");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQnfields(res) != 2) {
		lake_err_set(err, "cannot take the snapshot watermark: %s",
		    PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	s->hi = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	s->snapshot_at = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	for (int i = 0; i < ntables; i++)
		if (check_table(s->conn, tables[i], err) == -1)
			return -1;
	return 0;
}

/* Snapshot ids are hex digits and dashes ("00000003-0000001B-1"). */
static int
valid_snapshot_id(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'A' && id[i] <= 'F') || id[i] == '-'))
			return 0;
	return 1;
}

int
source_share_snapshot(source *s, source *f, lake_err *err)
{
	PGresult *res;
	char sql[160];

	res = PQexec(s->conn, "SELECT pg_export_snapshot()");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    !valid_snapshot_id(PQgetvalue(res, 0, 0))) {
		lake_err_set(err, "cannot export the snapshot: %s",
		    PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	/*
	 * SET TRANSACTION SNAPSHOT takes no parameters; the id comes from
	 * the server and was checked to be hex digits and dashes.
	 */
	snprintf(sql, sizeof(sql), "BEGIN ISOLATION LEVEL REPEATABLE READ READ "
	    "ONLY; SET TRANSACTION SNAPSHOT '%s'", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (exec_ok(f->conn, sql, err) == -1)
		return -1;
	f->hi = s->hi;
	f->snapshot_at = s->snapshot_at;
	return 0;
}

int64_t
source_high_watermark(const source *s)
{
	return s->hi;
}

int64_t
source_snapshot_time(const source *s)
{
	return s->snapshot_at;
}

void
source_end(source *s)
{
	if (s == NULL)
		return;
	/*
	 * No COMMIT: the transaction only read, so ending the session
	 * (which rolls it back) releases its snapshot just the same,
	 * without waiting a round trip for the reply.
	 */
	PQfinish(s->conn);
	free(s);
}

static int
set_setting(PGconn *conn, const char *name, int64_t value, lake_err *err)
{
	char buf[32];
	const char *params[2] = { name, buf };
	PGresult *res;
	int ok;

	snprintf(buf, sizeof(buf), "%" PRId64, value);
	res = PQexecParams(conn, "SELECT set_config($1, $2, true)", 2, NULL,
	    params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		lake_err_set(err, "set_config(%s): %s", name,
		    PQresultErrorMessage(res));
	PQclear(res);
	return ok ? 0 : -1;
}

/* Asks the server to stop a COPY we no longer want. */
static void
cancel(PGconn *conn)
{
	PGcancel *c = PQgetCancel(conn);
	char msg[256];

	if (c != NULL) {
		(void)PQcancel(c, msg, sizeof(msg));
		PQfreeCancel(c);
	}
}

static char *
copy_sql(const source_table *t)
{
	char cols[512] = "";
	char *sql;

	for (int c = 0; c < t->schema->ncols; c++) {
		strncat(cols, c ? ", " : "", sizeof(cols) - strlen(cols) - 1);
		strncat(cols, t->schema->cols[c].name, sizeof(cols) -
		    strlen(cols) - 1);
	}
	/* Table and column names are constants of this program. */
	/*
	 * The bounds are scalar subqueries, so PostgreSQL reads each setting
	 * once (an InitPlan) instead of once per row: on a full load that is
	 * a quarter of the query's time. They still serve as index bounds.
	 */
	if (asprintf(&sql, "COPY (SELECT %s FROM %s WHERE xid >= (SELECT "
	    "current_setting('medallion.lo')::xid8) AND xid < (SELECT "
	    "current_setting('medallion.hi')::xid8)) TO STDOUT "
	    "(FORMAT binary)", cols, t->name) == -1)
		return NULL;
	return sql;
}

/*
 * Decodes one CopyData message (the first one starts with the header)
 * and hands its row, if it holds one, to row_cb, counting it in *rows.
 * Returns COPY_ROW (also for a message holding only the header),
 * COPY_END at the trailer, or COPY_ERROR.
 */
static int
take_message(const source_table *t, const char *p, size_t n, int first,
    pq_value *row, int (*row_cb)(const pq_value *row, void *arg), void *arg,
    int64_t *rows, lake_err *err)
{
	int got;

	if (first) {
		long skip = copy_decode_header(t->name, p, n, err);

		if (skip == -1)
			return COPY_ERROR;
		p += skip;
		n -= (size_t)skip;
		if (n == 0)
			return COPY_ROW;	/* rows come in later messages */
	}
	got = copy_decode_tuple(t->name, t->schema, p, n, row,
	    SOURCE_MAX_COLUMNS, err);
	if (got != COPY_ROW)
		return got;
	if (row_cb(row, arg) == -1)
		return COPY_ERROR;
	(*rows)++;
	return COPY_ROW;
}

int
source_copy(source *s, const source_table *t, int64_t lo,
    int (*row_cb)(const pq_value *row, void *arg), void *arg,
    source_stats *stats, lake_err *err)
{
	pq_value row[SOURCE_MAX_COLUMNS];
	PGresult *res;
	char *sql, *buf;
	int len, first = 1, rc = 0, done = 0;

	memset(stats, 0, sizeof(*stats));
	if (t->schema->ncols > SOURCE_MAX_COLUMNS) {
		lake_err_set(err, "%s: %d columns, more than the %d ingestion "
		    "can hold; raise SOURCE_MAX_COLUMNS in source.c", t->name,
		    t->schema->ncols, SOURCE_MAX_COLUMNS);
		return -1;
	}
	if (set_setting(s->conn, "medallion.lo", lo, err) == -1 ||
	    set_setting(s->conn, "medallion.hi", s->hi, err) == -1)
		return -1;
	/*
	 * COPY's query sees lo and hi only as settings, so the planner cannot
	 * tell a small increment from a full load. An increment (lo > 0) is a
	 * range on the (xid, id) index: keep the planner off a full scan.
	 */
	if (exec_ok(s->conn, lo > 0 ? "SET LOCAL enable_seqscan = off" :
	    "SET LOCAL enable_seqscan = on", err) == -1)
		return -1;
	if ((sql = copy_sql(t)) == NULL) {
		lake_err_set(err, "out of memory");
		return -1;
	}
	res = PQexec(s->conn, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		lake_err_set(err, "COPY %s: %s", t->name,
		    PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	while ((len = PQgetCopyData(s->conn, &buf, 0)) > 0) {
		stats->bytes += len;
		if (rc == 0 && !done) {
			int got = take_message(t, buf, (size_t)len, first, row,
			    row_cb, arg, &stats->rows, err);

			if (got == COPY_END)
				done = 1;
			else if (got == COPY_ERROR) {
				rc = -1;
				cancel(s->conn);
			}
			first = 0;
		}
		PQfreemem(buf);
		/* After an error, drain what the cancel did not stop, so the
		 * connection stays usable. */
	}
	if (len == -2) {
		lake_err_set(err, "COPY %s: %s", t->name,
		    PQerrorMessage(s->conn));
		return -1;
	}
	res = PQgetResult(s->conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0) {
		lake_err_set(err, "COPY %s: %s", t->name,
		    PQresultErrorMessage(res));
		rc = -1;
	}
	PQclear(res);
	while ((res = PQgetResult(s->conn)) != NULL)
		PQclear(res);
	return rc;
}
