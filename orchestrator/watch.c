/*
 * watch.c - when the source has new committed rows, for `watch`.
 *
 * The source's tables have a statement-level trigger that NOTIFYs
 * ORCH_WATCH_CHANNEL with the writer's xid (pg_current_xact_id(); equal
 * notifications of one transaction fold into one, so a transaction sends
 * one). A NOTIFY is delivered when its transaction commits, so a
 * notification means "rows of xid X are committed". This file keeps one
 * libpq connection that LISTENs, and decides when a run is worth starting:
 *
 *  - need: the highest notified xid + 1. covered: the source's snapshot
 *    bound, pg_snapshot_xmin(pg_current_snapshot()), read just before the
 *    last run. Ingestion takes its own bound the same way after that, and
 *    a bound never goes back, so the run took every xid below covered.
 *    Notified commits are pending while need > covered.
 *  - A pending commit is worth a run only once the bound has moved past
 *    covered: before that, an older transaction still open (anywhere in
 *    the cluster) holds ingestion's bound, and a run would take nothing.
 *    While that lasts the bound is read again every poll_us; that open
 *    transaction may write nothing here, so no notification would say
 *    when it ends.
 *  - Notifications sent while nobody listened are lost (a dropped
 *    connection, a restart). So a new connection makes a run due,
 *    unconditionally: nothing is missed, because ingestion reads by its
 *    xid bookmark, not from the notifications, which only say "now".
 *
 * Polling instead (--poll, poll_us > 0): no LISTEN and no trigger needed;
 * every poll_us one query reads the bound and the newest committed xid of
 * orders and ordershistory (index-only, by their (xid, id) indexes), and
 * that xid + 1 stands for need. It adds nothing to the source's writes,
 * but a query and a wake-up every poll_us, and half of poll_us to
 * freshness on average.
 *
 * The connection is made without blocking (PQconnectStartParams), so a
 * stop is seen within SLICE_US even then, and with TCP keepalives, so a
 * peer that vanished without a word is noticed within about a minute.
 * A failed connection is retried after BACKOFF_FIRST_US, doubling up to
 * BACKOFF_MAX_US. Settings come from libpq's environment only (PGHOST,
 * PGSERVICE, PGPASSFILE...): no password is ever in argv.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "clock.h"
#include "log.h"
#include "watch.h"

#define CONNECT_TIMEOUT_US 10000000
#define BACKOFF_FIRST_US 500000
#define BACKOFF_MAX_US 30000000
/* The longest single sleep: a stop that lands just before poll() is
 * seen within this. */
#define SLICE_US 100000

struct orch_watch {
	PGconn *conn;		/* NULL while disconnected */
	char channel[64];
	volatile sig_atomic_t *stop;
	int64_t retry_at;	/* monotonic µs: the next connection attempt */
	int64_t backoff_us;
	int connected_once;
	int due;		/* a run is due whatever the xids say */
	uint64_t need;		/* highest notified xid + 1, 0 for none */
	uint64_t covered;	/* the bound read before the last run */
	uint64_t covered_before;	/* ... and before that one */
	int64_t poll_us;	/* 0: LISTEN; else poll the source this often */
	int64_t bound_at;	/* monotonic µs: read the bound again then */
	uint64_t need_seen;	/* need when the bound was last read */
};

orch_watch *
orch_watch_new(const char *channel, int64_t poll_us,
    volatile sig_atomic_t *stop)
{
	orch_watch *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	if ((size_t)snprintf(w->channel, sizeof(w->channel), "%s", channel) >=
	    sizeof(w->channel)) {
		free(w);
		return NULL;
	}
	w->stop = stop;
	w->poll_us = poll_us;
	w->backoff_us = BACKOFF_FIRST_US;
	return w;
}

void
orch_watch_free(orch_watch *w)
{
	if (w == NULL)
		return;
	if (w->conn != NULL)
		PQfinish(w->conn);
	free(w);
}

/* libpq's last error on one line (its messages end in a newline). */
static const char *
pq_error(PGconn *c, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "%s", c != NULL ? PQerrorMessage(c) :
	    "out of memory");
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	return buf;
}

/* Closes a broken connection; the next attempt comes at once, then with
 * back-off if that fails too. */
static void
drop(orch_watch *w, const char *what)
{
	char err[512];

	log_warnx("source notifications: %s: %s; reconnecting (a run will "
	    "catch up)", what, pq_error(w->conn, err, sizeof(err)));
	PQfinish(w->conn);
	w->conn = NULL;
	w->retry_at = clock_mono_us();
}

/* libpq's notices (e.g. the FATAL of a terminated backend) in our voice,
 * instead of its own lines on stderr. */
static void
on_notice(void *arg, const char *message)
{
	char line[512];
	size_t n;

	(void)arg;
	snprintf(line, sizeof(line), "%s", message);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_debug("source notifications: PostgreSQL says: %s", line);
}

/* Takes the notifications libpq has read: raises need, or makes a run
 * due for a payload our trigger does not send. */
static void
take_notifications(orch_watch *w)
{
	PGnotify *n;

	while ((n = PQnotifies(w->conn)) != NULL) {
		char *end;
		unsigned long long xid;

		if (strcmp(n->relname, w->channel) == 0) {
			errno = 0;
			xid = strtoull(n->extra, &end, 10);
			if (errno != 0 || end == n->extra || *end != '\0')
				w->due = 1;
			else if (xid + 1 > w->need)
				w->need = xid + 1;
		}
		PQfreemem(n);
	}
}

/* Reads what the connection has received; drops it when it broke. */
static void
consume(orch_watch *w)
{
	if (PQconsumeInput(w->conn) == 0 ||
	    PQstatus(w->conn) == CONNECTION_BAD) {
		drop(w, "the connection was lost");
		return;
	}
	take_notifications(w);
}

/*
 * Drives a started connection to its end, without blocking longer than
 * SLICE_US at a time. Returns 0 when connected, -1 with err filled.
 */
static int
finish_connect(orch_watch *w, PGconn *c, char *err, size_t errlen)
{
	int64_t deadline = clock_mono_us() + CONNECT_TIMEOUT_US;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	struct pollfd pfd;
	int n;

	if (c == NULL || PQstatus(c) == CONNECTION_BAD) {
		pq_error(c, err, errlen);
		return -1;
	}
	PQsetNoticeProcessor(c, on_notice, NULL);
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED) {
			pq_error(c, err, errlen);
			return -1;
		}
		if (*w->stop) {
			snprintf(err, errlen, "stopped while connecting");
			return -1;
		}
		if (clock_mono_us() > deadline) {
			snprintf(err, errlen, "no connection within %d s",
			    CONNECT_TIMEOUT_US / 1000000);
			return -1;
		}
		pfd.fd = PQsocket(c);
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		pfd.revents = 0;
		n = poll(&pfd, 1, SLICE_US / 1000);
		if (n == -1 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
		if (n > 0)
			st = PQconnectPoll(c);
	}
	return 0;
}

/* LISTEN on the channel; 0, or -1 with err filled. */
static int
listen_channel(orch_watch *w, PGconn *c, char *err, size_t errlen)
{
	char *ident = PQescapeIdentifier(c, w->channel, strlen(w->channel));
	char sql[160];
	PGresult *r;
	int rc = -1;

	if (ident == NULL) {
		pq_error(c, err, errlen);
		return -1;
	}
	snprintf(sql, sizeof(sql), "LISTEN %s", ident);
	PQfreemem(ident);
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_COMMAND_OK)
		rc = 0;
	else
		pq_error(c, err, errlen);
	PQclear(r);
	return rc;
}

/* Says so when the source lacks retail.sql's notify triggers (a database
 * made before they were added): watch then runs only on its heartbeat. */
static void
check_triggers(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT count(*) FROM pg_trigger WHERE tgname "
	    "IN ('orders_notify', 'ordershistory_notify')");

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    strcmp(PQgetvalue(r, 0, 0), "2") != 0)
		log_warnx("source notifications: the source has no "
		    "orders_notify/ordershistory_notify triggers: apply "
		    "schemas/postgres/retail.sql again (it is idempotent); "
		    "until then runs come only with --max-interval");
	PQclear(r);
}

/* One connection attempt; on success a run becomes due (catch-up). */
static void
reconnect(orch_watch *w)
{
	/* Fallbacks only: PGAPPNAME still names it; keepalives have no
	 * environment variable, and only apply to TCP. */
	static const char *keys[] = { "fallback_application_name",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		NULL };
	static const char *values[] = { "medallion-orchestrator watch", "30",
		"10", "3", NULL };
	PGconn *c = PQconnectStartParams(keys, values, 0);
	char err[512];

	if (finish_connect(w, c, err, sizeof(err)) == -1 ||
	    (w->poll_us == 0 && listen_channel(w, c, err, sizeof(err)) == -1)) {
		if (c != NULL)
			PQfinish(c);
		if (*w->stop)
			return;
		log_warnx("source notifications: cannot listen on PostgreSQL "
		    "(libpq's environment: PGHOST, PGSERVICE, PGPASSFILE...): "
		    "%s; retrying in %.1f s, heartbeat runs go on", err,
		    w->backoff_us / 1e6);
		w->retry_at = clock_mono_us() + w->backoff_us;
		w->backoff_us = w->backoff_us * 2 > BACKOFF_MAX_US ?
		    BACKOFF_MAX_US : w->backoff_us * 2;
		return;
	}
	if (w->poll_us > 0)
		log_info("source notifications: polling every %.3f s (%s:%s)%s",
		    w->poll_us / 1e6, PQhost(c), PQport(c), w->connected_once ?
		    "; catching up" : "");
	else
		log_info("source notifications: listening on %s (%s:%s)%s",
		    w->channel, PQhost(c), PQport(c), w->connected_once ?
		    "; catching up" : "");
	if (!w->connected_once && w->poll_us == 0)
		check_triggers(c);
	w->conn = c;
	w->connected_once = 1;
	w->backoff_us = BACKOFF_FIRST_US;
	w->due = 1;
}

/* The source's snapshot bound in *bound: 0, or -1 (connection dropped). */
static int
read_bound(orch_watch *w, uint64_t *bound)
{
	PGresult *r = PQexec(w->conn,
	    "SELECT pg_snapshot_xmin(pg_current_snapshot())");
	char *end;
	int rc = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		errno = 0;
		*bound = strtoull(PQgetvalue(r, 0, 0), &end, 10);
		rc = errno == 0 && *end == '\0' ? 0 : -1;
	}
	PQclear(r);
	if (rc == -1) {
		drop(w, "cannot read the snapshot bound");
		return -1;
	}
	take_notifications(w);
	return 0;
}

/*
 * --poll: the bound in *bound, and need from the newest committed xid of
 * the source's tables. 0, or -1 (connection dropped).
 */
static int
poll_source(orch_watch *w, uint64_t *bound)
{
	PGresult *r = PQexec(w->conn,
	    "SELECT pg_snapshot_xmin(pg_current_snapshot()), greatest("
	    "(SELECT xid FROM orders ORDER BY xid DESC LIMIT 1), "
	    "(SELECT xid FROM ordershistory ORDER BY xid DESC LIMIT 1))");
	unsigned long long newest = 0;
	char *end;
	int rc = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		errno = 0;
		*bound = strtoull(PQgetvalue(r, 0, 0), &end, 10);
		rc = errno == 0 && *end == '\0' ? 0 : -1;
		if (rc == 0 && !PQgetisnull(r, 0, 1)) {
			newest = strtoull(PQgetvalue(r, 0, 1), &end, 10);
			rc = errno == 0 && *end == '\0' ? 0 : -1;
		}
	}
	PQclear(r);
	if (rc == -1) {
		drop(w, "cannot read the source's newest xid");
		return -1;
	}
	if (newest + 1 > w->need)
		w->need = newest + 1;
	return 0;
}

/* Sleeps until `until` (monotonic µs) or at most SLICE_US, woken early
 * by anything on the connection, which is then read. */
static void
listen_until(orch_watch *w, int64_t until)
{
	int64_t left = until - clock_mono_us();
	struct pollfd pfd;
	int n;

	if (left > SLICE_US)
		left = SLICE_US;
	if (left < 0)
		left = 0;
	if (w->conn == NULL) {
		clock_sleep_us(left);
		return;
	}
	pfd.fd = PQsocket(w->conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	n = poll(&pfd, 1, (int)((left + 999) / 1000));
	if (n == -1 && errno != EINTR) {
		log_warn("source notifications: poll");
		clock_sleep_us(left);
		return;
	}
	if (n > 0)
		consume(w);
}

orch_watch_event
orch_watch_wait(orch_watch *w, int64_t deadline, int64_t poll_us)
{
	uint64_t bound;

	for (;;) {
		int64_t now = clock_mono_us(), until = deadline;

		if (*w->stop)
			return ORCH_WATCH_STOP;
		if (w->conn == NULL && now >= w->retry_at)
			reconnect(w);
		if (w->due)
			return ORCH_WATCH_CATCH_UP;
		if (w->conn != NULL && w->poll_us > 0) {
			if (now >= w->bound_at) {
				w->bound_at = now + w->poll_us;
				if (poll_source(w, &bound) == 0 &&
				    w->need > w->covered && bound > w->covered)
					return ORCH_WATCH_DATA;
			}
			if (w->conn != NULL && w->bound_at < until)
				until = w->bound_at;
		}
		/* Read again after poll_us, or at once when a commit came
		 * in: it may have been the transaction holding the bound. */
		else if (w->conn != NULL && w->need > w->covered &&
		    (now >= w->bound_at || w->need != w->need_seen)) {
			w->need_seen = w->need;
			w->bound_at = now + poll_us;
			if (read_bound(w, &bound) == 0 && bound > w->covered)
				return ORCH_WATCH_DATA;
		}
		if (w->conn != NULL && w->need > w->covered &&
		    w->bound_at < until)
			until = w->bound_at;
		if (w->conn == NULL && w->retry_at < until)
			until = w->retry_at;
		if (now >= deadline)
			return ORCH_WATCH_TIMEOUT;
		listen_until(w, until);
	}
}

void
orch_watch_run_starting(orch_watch *w)
{
	uint64_t bound;

	w->due = 0;
	w->covered_before = w->covered;
	if (w->conn != NULL)
		consume(w);
	if (w->conn != NULL && read_bound(w, &bound) == 0)
		w->covered = bound;
}

void
orch_watch_run_failed(orch_watch *w)
{
	w->covered = w->covered_before;
	w->due = 1;
}
