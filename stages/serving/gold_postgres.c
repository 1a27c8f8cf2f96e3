/*
 * gold_postgres.c - gold's metrics copied into PostgreSQL
 * (gold.branch_metrics, schemas/postgres/gold.sql) for BI tools, when
 * MEDALLION_GOLD_DSN names a database. libpq is loaded at run time
 * (libpq_load.c), so serving needs it only when this is asked for.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "gold.h"
#include "lake_format.h"
#include "libpq_load.h"
#include "log.h"

static void
param_double(char *buf, size_t len, double v, const char **p)
{
	if (isnan(v)) {
		*p = NULL;
		return;
	}
	snprintf(buf, len, "%.17g", v);
	*p = buf;
}

static void
param_time(char *buf, size_t len, int64_t t, int64_t none, const char **p)
{
	if (t == none) {
		*p = NULL;
		return;
	}
	lake_format_timestamp(buf, len, t);
	*p = buf;
}

/*
 * Replaces gold.branch_metrics (schemas/postgres/gold.sql) in the
 * database MEDALLION_GOLD_DSN names, in one transaction, so a BI tool
 * reads the old rows or the new ones. Values go as parameters; the
 * password comes from PGPASSFILE or PGSERVICE, never the DSN.
 */
int
gold_publish_postgres(const gold *g, const metric *m, const char *dsn,
    lake_err *err)
{
	const libpq_api *pq;
	PGconn *conn;
	PGresult *res;
	char now[40];
	int rc = -1;

	if (strstr(dsn, "password") != NULL) {
		lake_err_set(err, "MEDALLION_GOLD_DSN must not hold a password: "
		    "put it in PGPASSFILE or a PGSERVICE file");
		return -1;
	}
	if ((pq = libpq_load(err)) == NULL)
		return -1;
	conn = pq->connectdb(dsn);
	if (pq->status(conn) != CONNECTION_OK) {
		lake_err_set(err, "gold: cannot connect to MEDALLION_GOLD_DSN: "
		    "%s", pq->error_message(conn));
		goto out;
	}
	lake_format_timestamp(now, sizeof(now), clock_now_us());
	strncat(now, "+00", sizeof(now) - strlen(now) - 1);
	res = pq->exec(conn, "BEGIN; DELETE FROM gold.branch_metrics");
	if (pq->result_status(res) != PGRES_COMMAND_OK) {
		lake_err_set(err, "gold: %s(apply schemas/postgres/gold.sql to "
		    "that database)", pq->result_error_message(res));
		pq->clear(res);
		goto out;
	}
	pq->clear(res);
	for (size_t i = 0; i < g->nb; i++) {
		char rec[24], del[24], avg[32], p50[32], p90[32], t0[40], t1[40];
		char ver[24];
		const char *v[10];

		snprintf(rec, sizeof(rec), "%" PRId64, m[i].b->received);
		snprintf(del, sizeof(del), "%" PRId64, m[i].b->delivered);
		snprintf(ver, sizeof(ver), "%" PRId64, g->silver_version);
		v[0] = m[i].b->name;
		v[1] = rec;
		v[2] = del;
		param_double(avg, sizeof(avg), m[i].avg, &v[3]);
		param_double(p50, sizeof(p50), m[i].p50, &v[4]);
		param_double(p90, sizeof(p90), m[i].p90, &v[5]);
		param_time(t0, sizeof(t0), m[i].b->first_order, INT64_MAX,
		    &v[6]);
		param_time(t1, sizeof(t1), m[i].b->last_order, INT64_MIN,
		    &v[7]);
		v[8] = ver;
		v[9] = now;
		res = pq->exec_params(conn, "INSERT INTO gold.branch_metrics "
		    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		    10, NULL, v, NULL, NULL, 0);
		if (pq->result_status(res) != PGRES_COMMAND_OK) {
			lake_err_set(err, "gold: %s", pq->result_error_message(res));
			pq->clear(res);
			goto out;
		}
		pq->clear(res);
	}
	res = pq->exec(conn, "COMMIT");
	if (pq->result_status(res) != PGRES_COMMAND_OK)
		lake_err_set(err, "gold: %s", pq->result_error_message(res));
	else {
		rc = 0;
		log_info("gold: %zu branches replaced in PostgreSQL "
		    "(gold.branch_metrics)", g->nb);
	}
	pq->clear(res);
out:
	pq->finish(conn);
	return rc;
}
