/*
 * watch.h - learning of the source's new commits, for `watch`: a libpq
 * connection that LISTENs to the channel the source's triggers NOTIFY
 * (schemas/postgres/retail.sql), or polls the source (--poll),
 * reconnected with back-off when it drops.
 * See watch.c for how a notification becomes a run.
 */
#ifndef ORCH_WATCH_H
#define ORCH_WATCH_H

#include <signal.h>
#include <stdint.h>

/* The channel retail.sql's trigger notifies, with the writer's xid. */
#define ORCH_WATCH_CHANNEL "medallion_source"

typedef enum orch_watch_event {
	ORCH_WATCH_DATA,	/* a run would find new committed rows */
	ORCH_WATCH_CATCH_UP,	/* (re)connected, or the last run failed:
				 * a run is due, whatever was notified */
	ORCH_WATCH_TIMEOUT,	/* the deadline passed with nothing new */
	ORCH_WATCH_STOP,	/* *stop was set */
} orch_watch_event;

typedef struct orch_watch orch_watch;

/*
 * A watch on channel, not yet connected (orch_watch_wait connects, with
 * libpq's environment: PGHOST, PGSERVICE, PGPASSFILE...); poll_us > 0
 * polls the source's newest xid that often instead of listening. stop is
 * the flag the signal handlers set. Returns an owned watch
 * (orch_watch_free), or NULL when out of memory.
 */
orch_watch *orch_watch_new(const char *channel, int64_t poll_us,
    volatile sig_atomic_t *stop);
void orch_watch_free(orch_watch *w);

/*
 * Waits until a run would find new committed rows, deadline (monotonic
 * µs) passes, or a stop is requested. While notified commits wait behind
 * an older open transaction, the source's snapshot bound is read again
 * every poll_us. (Re)connecting counts as new data: notifications sent
 * while no connection listened are lost, so a run catches up.
 */
orch_watch_event orch_watch_wait(orch_watch *w, int64_t deadline,
    int64_t poll_us);

/* Just before a run: reads the bound the run's ingestion will reach at
 * least, so the commits notified below it count as taken. */
void orch_watch_run_starting(orch_watch *w);

/* After a run that did not finish: what it was to take is due again. */
void orch_watch_run_failed(orch_watch *w);

#endif
