/*
 * db.h - the retail simulator's PostgreSQL side (libpq): connecting with
 * back-off, one transaction per event, and the bulk COPY loader.
 */
#ifndef RETAIL_DB_H
#define RETAIL_DB_H

#include <libpq-fe.h>
#include <stdint.h>
#include <signal.h>

#include "sim.h"

typedef struct rdb {
	PGconn *conn;
	const char *dsn;		/* "" = libpq's environment */
	int reconnects;
	volatile sig_atomic_t *stop;	/* set by SIGINT: give up waiting */
} rdb;

/* The outcome of one event. */
typedef struct rdb_event {
	sim_status status;		/* what happened (NEW if none to move) */
	int orderid;
	int branch;			/* index, or -1 when only the name is known */
	char branch_name[64];
	int64_t time_us;		/* the event's simulated time */
} rdb_event;

/* Connects, retrying with back-off while *stop is 0. 0, or -1. */
int rdb_connect(rdb *db);
/*
 * One connection attempt and a read of the schema, for health checks:
 * 0 when the app could write now, else -1 with the reason in err.
 */
int rdb_check(const char *dsn, char *err, size_t errlen);
void rdb_close(rdb *db);
/* Latest time in the database (µs since 1970), 0 when empty; -1 error. */
int rdb_latest_time(rdb *db, int64_t *out);
/*
 * Runs one event transaction: a NEW order, or moving a random order whose
 * last status is the one before `want`. With none to move, does a NEW.
 * The event's time is max(time_us, the order's last time). Reconnects and
 * retries on a lost connection or a conflict. 0, or -1 (stop requested or
 * a permanent error, already reported).
 */
int rdb_event_run(rdb *db, sim_rng *rng, sim_status want, int64_t time_us,
    rdb_event *out);
/*
 * Reserves `orders` consecutive order ids (moving the sequence past them);
 * *first_id is the first. 0, or -1.
 */
int rdb_bulk_reserve(rdb *db, long orders, long long *first_id);
/*
 * Writes `orders` complete lifecycles with ids from first_id, times after
 * clock_us, drawn from rng, with COPY in one transaction. 0, or -1 (then
 * nothing of this chunk was written).
 */
int rdb_bulk(rdb *db, sim_rng rng, long orders, long long first_id,
    int64_t clock_us);

#endif
