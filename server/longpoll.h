/*
 * longpoll.h - status requests parked until their driver's state changes
 * (GET /v1/submissions/status/{id}?waitMs=N, our extension of Spark's
 * status; see README "Waiting for a change").
 *
 * A waiter names a driver, the state its client already knows, a
 * deadline and a wake callback. It is parked only while the driver is
 * still in that state; one thread (the waker) wakes it, exactly once, when
 * the state differs, the deadline passes or the server stops. The waker
 * looks again whenever something may have changed a state: a runner
 * (another process) or the server sends a datagram on the notification
 * socket after each state it writes (longpoll_notify_fd, longpoll_notify).
 * Because a waiter is checked against the store when it is parked, under
 * the same lock as the waker's passes, and every change after that check
 * is followed by a notification, no change can be missed; a runner that
 * cannot notify (started by an earlier server, whose socket is gone) is
 * still seen by a pass every LONGPOLL_RECHECK_US.
 *
 * This module knows nothing of HTTP: the caller suspends its connection
 * before it parks a waiter and resumes it from the wake callback.
 */
#ifndef SERVER_LONGPOLL_H
#define SERVER_LONGPOLL_H

#include <stdint.h>

#include "driver_state.h"
#include "store.h"

/* The longest wait a client may ask for (waitMs), in milliseconds;
 * advertised in the X-Medallion-Wait header of every status answer. */
#define LONGPOLL_MAX_WAIT_MS 30000
/* A pass over every waiter at least this often, even without a
 * notification (runners of an earlier server cannot send one). */
#define LONGPOLL_RECHECK_US 250000LL

typedef struct longpoll longpoll;

typedef struct longpoll_waiter {
	/* Filled in by the caller before longpoll_park. */
	char id[64];
	driver_state known;		/* the state the client has seen */
	int64_t deadline_us;		/* monotonic clock */
	void (*wake)(void *arg);	/* called once, by the waker thread */
	void *arg;
	/* The registry's. */
	struct longpoll_waiter *prev, *next;
} longpoll_waiter;

typedef enum longpoll_result {
	LONGPOLL_PARKED,	/* wake will be called */
	LONGPOLL_CHANGED,	/* the state differs already: answer now */
	LONGPOLL_BUSY,		/* max_waiters parked, or stopping: answer now */
} longpoll_result;

/* Starts the waker thread. NULL with err filled. */
longpoll *longpoll_new(store *st, int max_waiters, char *err, size_t errlen);
/* Wakes every waiter (longpoll_stop) and frees everything. */
void longpoll_free(longpoll *lp);
/* The socket end a runner sends its notifications on (left open in the
 * runner; see driver.c). */
int longpoll_notify_fd(const longpoll *lp);
/* Something may have changed a driver's state: look again. Any thread. */
void longpoll_notify(longpoll *lp);
/* Parks w (which must stay valid until its wake is called). */
longpoll_result longpoll_park(longpoll *lp, longpoll_waiter *w);
/* Wakes every parked waiter and refuses new ones (BUSY); waits for the
 * waker thread to end. Idempotent. */
void longpoll_stop(longpoll *lp);
/* Waiters parked now; waits parked since the start (for /metrics). */
int longpoll_parked(longpoll *lp);
long long longpoll_total(longpoll *lp);

#endif
