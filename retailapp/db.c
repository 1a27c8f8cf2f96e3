/*
 * db.c - the retail simulator's PostgreSQL side (see db.h).
 *
 * Each event is one short transaction. Moving "a random order whose last
 * status is X" probes the partial index of orderstate: take the id range of
 * such orders, draw a random id in it, and lock the first such order at or
 * after it (FOR UPDATE SKIP LOCKED, so concurrent writers never wait on
 * each other). That stays cheap however large the history grows. The
 * schema's trigger refuses any out-of-order event, so a race can only end
 * in a retry, never in a broken lifecycle.
 */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define BACKOFF_FIRST_US 100000
#define BACKOFF_MAX_US 5000000
#define EVENT_ATTEMPTS 20
#define COPY_BUFFER 65536
/* PostgreSQL timestamps count from 2000-01-01; ours from 1970. */
#define UNIX_TO_PG_US 946684800000000LL

static int
connection_lost(rdb *db)
{
	return PQstatus(db->conn) != CONNECTION_OK;
}

int
rdb_connect(rdb *db)
{
	int64_t wait = BACKOFF_FIRST_US;

	for (;;) {
		if (db->conn == NULL)
			db->conn = PQconnectdb(db->dsn);
		else
			PQreset(db->conn);
		if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
			return 0;
		log_warnx("cannot connect to PostgreSQL: %s; retrying in %lld "
		    "ms (check PGHOST, PGPORT, PGDATABASE, PGUSER or --dsn)",
		    db->conn ? PQerrorMessage(db->conn) : "out of memory",
		    (long long)(wait / 1000));
		if (*db->stop)
			return -1;
		clock_sleep_us(wait);
		if (*db->stop)
			return -1;
		wait = wait * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : wait * 2;
		db->reconnects++;
	}
}

int
rdb_check(const char *dsn, char *err, size_t errlen)
{
	PGconn *conn = PQconnectdb(dsn);
	PGresult *res = NULL;
	int rc = -1;

	if (conn == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s",
		    PQerrorMessage(conn));
		goto out;
	}
	/* The tables the app writes, and its right to write them. */
	res = PQexec(conn, "SELECT has_table_privilege('orders', 'INSERT') AND "
	    "has_table_privilege('ordershistory', 'INSERT')");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "the retail schema is not there: %s",
		    PQresultErrorMessage(res));
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		snprintf(err, errlen, "role %s may not insert into orders and "
		    "ordershistory (use medallion_app)", PQuser(conn));
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	PQfinish(conn);
	return rc;
}

void
rdb_close(rdb *db)
{
	PQfinish(db->conn);
	db->conn = NULL;
}

static void
format_time(int64_t us, char *buf, size_t len)
{
	int64_t secs = us / 1000000, frac = us % 1000000;
	time_t t;
	struct tm tm;
	char day[32];

	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	t = (time_t)secs;
	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06d", day, (int)frac);
}

int
rdb_latest_time(rdb *db, int64_t *out)
{
	PGresult *r = PQexec(db->conn, "SELECT coalesce((extract(epoch FROM "
	    "max(updatedat)) * 1000000)::int8, 0) FROM ordershistory");

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_warnx("reading the latest order time: %s",
		    PQerrorMessage(db->conn));
		PQclear(r);
		return -1;
	}
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

/* Runs a command; 0 on success. The caller decides about retries. */
static int
exec_ok(rdb *db, const char *sql)
{
	PGresult *r = PQexec(db->conn, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	PQclear(r);
	return ok ? 0 : -1;
}

static PGresult *
exec_params(rdb *db, const char *sql, int n, const char *const *values)
{
	return PQexecParams(db->conn, sql, n, NULL, values, NULL, NULL, 0);
}

static int
insert_new_order(rdb *db, sim_rng *rng, int64_t time_us, rdb_event *out)
{
	char when[40];
	const char *v[2];
	PGresult *r;
	int branch = sim_pick_branch(rng);

	format_time(time_us, when, sizeof(when));
	v[0] = when;
	v[1] = sim_branch_name(branch);
	r = exec_params(db, "WITH o AS (INSERT INTO orders (ordertime, branch) "
	    "VALUES ($1, $2) RETURNING orderid) INSERT INTO ordershistory "
	    "(orderid, status, updatedat) SELECT orderid, 'NEW', $1 FROM o "
	    "RETURNING orderid", 2, v);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		PQclear(r);
		return -1;
	}
	out->status = SIM_NEW;
	out->orderid = atoi(PQgetvalue(r, 0, 0));
	out->branch = branch;
	snprintf(out->branch_name, sizeof(out->branch_name), "%s", v[1]);
	out->time_us = time_us;
	PQclear(r);
	return 0;
}

/*
 * Locks a random order whose last status is `from`. Returns 1 with its id,
 * branch and last time, 0 when there is none, -1 on error.
 */
static int
pick_order(rdb *db, sim_rng *rng, const char *from, int *orderid,
    char *branch, size_t branchlen, int64_t *last_us)
{
	char start[32];
	const char *v[2] = {from, start};
	PGresult *r;
	long long lo, hi;
	int pass;

	r = exec_params(db, "SELECT min(orderid), max(orderid) FROM orderstate "
	    "WHERE laststatus = $1", 1, v);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		return -1;
	}
	if (PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return 0;
	}
	lo = atoll(PQgetvalue(r, 0, 0));
	hi = atoll(PQgetvalue(r, 0, 1));
	PQclear(r);
	snprintf(start, sizeof(start), "%lld", (long long)sim_range(rng, lo,
	    hi));
	/* From the random id upwards, then from the start (wrap around). */
	for (pass = 0; pass < 2; pass++) {
		r = exec_params(db, "SELECT s.orderid, o.branch, (extract(epoch "
		    "FROM s.lastupdate) * 1000000)::int8 FROM orderstate s JOIN "
		    "orders o USING (orderid) WHERE s.laststatus = $1 AND "
		    "s.orderid >= $2::int ORDER BY s.orderid LIMIT 1 "
		    "FOR UPDATE OF s SKIP LOCKED", 2, v);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			PQclear(r);
			return -1;
		}
		if (PQntuples(r) == 1) {
			*orderid = atoi(PQgetvalue(r, 0, 0));
			snprintf(branch, branchlen, "%s", PQgetvalue(r, 0, 1));
			*last_us = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
			PQclear(r);
			return 1;
		}
		PQclear(r);
		snprintf(start, sizeof(start), "%lld", lo);
	}
	return 0;
}

/* One attempt: 0 done, -1 failed (transaction rolled back or lost). */
static int
event_attempt(rdb *db, sim_rng *rng, sim_status want, int64_t time_us,
    rdb_event *out)
{
	const char *from = want == SIM_INTRANSIT ? "NEW" : "INTRANSIT";
	char when[40], id[16], branch[64];
	const char *v[3];
	int64_t last_us;
	int orderid, found;
	PGresult *r;

	if (exec_ok(db, "BEGIN") == -1)
		return -1;
	if (want == SIM_NEW)
		found = 0;
	else if ((found = pick_order(db, rng, from, &orderid, branch,
	    sizeof(branch), &last_us)) == -1)
		goto rollback;
	if (!found) {
		if (insert_new_order(db, rng, time_us, out) == -1)
			goto rollback;
	} else {
		if (last_us > time_us)
			time_us = last_us;
		format_time(time_us, when, sizeof(when));
		snprintf(id, sizeof(id), "%d", orderid);
		v[0] = id;
		v[1] = sim_status_name(want);
		v[2] = when;
		r = exec_params(db, "INSERT INTO ordershistory (orderid, status, "
		    "updatedat) VALUES ($1, $2, $3)", 3, v);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			PQclear(r);
			goto rollback;
		}
		PQclear(r);
		out->status = want;
		out->orderid = orderid;
		out->branch = -1;
		snprintf(out->branch_name, sizeof(out->branch_name), "%s",
		    branch);
		out->time_us = time_us;
	}
	if (exec_ok(db, "COMMIT") == -1)
		return -1;
	return 0;
rollback:
	exec_ok(db, "ROLLBACK");
	return -1;
}

int
rdb_event_run(rdb *db, sim_rng *rng, sim_status want, int64_t time_us,
    rdb_event *out)
{
	int attempt;

	for (attempt = 0; attempt < EVENT_ATTEMPTS; attempt++) {
		if (event_attempt(db, rng, want, time_us, out) == 0)
			return 0;
		if (connection_lost(db)) {
			log_warnx("lost the connection to PostgreSQL; "
			    "reconnecting");
			if (rdb_connect(db) == -1)
				return -1;
			continue;
		}
		/* A conflict with another writer: try another order. */
		log_debug("event retried: %s", PQerrorMessage(db->conn));
	}
	log_warnx("giving up on an event after %d attempts: %s",
	    EVENT_ATTEMPTS, PQerrorMessage(db->conn));
	return -1;
}

/* --- bulk ------------------------------------------------------------- */

typedef struct copybuf {
	PGconn *conn;
	char data[COPY_BUFFER];
	size_t len;
	int failed;
} copybuf;

static void
copy_flush(copybuf *b)
{
	if (b->len > 0 && !b->failed &&
	    PQputCopyData(b->conn, b->data, (int)b->len) != 1)
		b->failed = 1;
	b->len = 0;
}

static void
copy_line(copybuf *b, const char *line, size_t len)
{
	if (b->len + len > sizeof(b->data))
		copy_flush(b);
	memcpy(b->data + b->len, line, len);
	b->len += len;
}

static int
copy_begin(rdb *db, const char *sql, copybuf *b)
{
	PGresult *r = PQexec(db->conn, sql);
	int ok = PQresultStatus(r) == PGRES_COPY_IN;

	PQclear(r);
	b->conn = db->conn;
	b->len = 0;
	b->failed = !ok;
	if (!ok)
		log_warnx("%s: %s", sql, PQerrorMessage(db->conn));
	return ok ? 0 : -1;
}

static int
copy_end(rdb *db, copybuf *b)
{
	PGresult *r;
	int ok;

	copy_flush(b);
	if (PQputCopyEnd(db->conn, b->failed ? "write failed" : NULL) != 1)
		return -1;
	r = PQgetResult(db->conn);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		log_warnx("bulk COPY failed: %s", PQerrorMessage(db->conn));
	PQclear(r);
	while ((r = PQgetResult(db->conn)) != NULL)
		PQclear(r);
	return ok && !b->failed ? 0 : -1;
}

/*
 * One COPY per table, each replaying the same seeded lifecycles: orders,
 * then history, then orderstate. The rng is copied so all three see the
 * same orders.
 */
static int
bulk_table(rdb *db, int table, sim_rng rng, long n, long long first_id,
    int64_t clock_us, copybuf *b)
{
	static const char *const sql[] = {
		"COPY orders (orderid, ordertime, branch) FROM STDIN",
		"COPY ordershistory (orderid, status, updatedat) FROM STDIN",
		"COPY orderstate (orderid, laststatus, lastupdate) FROM STDIN",
	};
	char line[256], t0[40], t1[40], t2[40];
	sim_lifecycle lc;
	long i;
	int len;

	if (copy_begin(db, sql[table], b) == -1)
		return -1;
	for (i = 0; i < n && !b->failed; i++) {
		long long id = first_id + i;

		sim_bulk_order(&rng, &clock_us, &lc);
		format_time(lc.ordered_us, t0, sizeof(t0));
		if (table == 0) {
			len = snprintf(line, sizeof(line), "%lld\t%s\t%s\n", id,
			    t0, sim_branch_name(lc.branch));
		} else if (table == 1) {
			format_time(lc.transit_us, t1, sizeof(t1));
			format_time(lc.delivered_us, t2, sizeof(t2));
			len = snprintf(line, sizeof(line), "%lld\tNEW\t%s\n"
			    "%lld\tINTRANSIT\t%s\n%lld\tDELIVERED\t%s\n", id, t0,
			    id, t1, id, t2);
		} else {
			format_time(lc.delivered_us, t2, sizeof(t2));
			len = snprintf(line, sizeof(line),
			    "%lld\tDELIVERED\t%s\n", id, t2);
		}
		copy_line(b, line, (size_t)len);
	}
	return copy_end(db, b);
}

int
rdb_bulk_reserve(rdb *db, long orders, long long *first_id)
{
	PGresult *r;
	char sql[256];

	if (exec_ok(db, "BEGIN") == -1 ||
	    exec_ok(db, "LOCK TABLE orders IN EXCLUSIVE MODE") == -1)
		goto fail;
	snprintf(sql, sizeof(sql), "SELECT setval('orders_orderid_seq', "
	    "greatest((SELECT coalesce(max(orderid), 0) FROM orders), "
	    "(SELECT last_value FROM orders_orderid_seq)) + %ld) - %ld + 1",
	    orders, orders);
	r = PQexec(db->conn, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		goto fail;
	}
	*first_id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (exec_ok(db, "COMMIT") == -1)
		goto fail;
	return 0;
fail:
	log_warnx("cannot reserve order ids for the bulk load: %s",
	    PQerrorMessage(db->conn));
	exec_ok(db, "ROLLBACK");
	return -1;
}

int
rdb_bulk(rdb *db, sim_rng rng, long orders, long long first_id,
    int64_t clock_us)
{
	copybuf *b = malloc(sizeof(*b));
	int table;

	if (b == NULL) {
		log_warnx("out of memory");
		return -1;
	}
	if (exec_ok(db, "BEGIN") == -1 ||
	    exec_ok(db, "SET LOCAL medallion.bulk_load = 'on'") == -1)
		goto fail;
	for (table = 0; table < 3; table++) {
		if (bulk_table(db, table, rng, orders, first_id, clock_us,
		    b) == -1)
			goto fail;
	}
	if (exec_ok(db, "COMMIT") == -1)
		goto fail;
	free(b);
	return 0;
fail:
	log_warnx("a bulk load chunk failed, its orders were not written: %s",
	    PQerrorMessage(db->conn));
	exec_ok(db, "ROLLBACK");
	free(b);
	return -1;
}
