/*
 * longpoll.c - parked status requests and the thread that wakes them (see
 * longpoll.h for the contract).
 *
 * Waiters live in a doubly linked list under one mutex. The waker thread
 * sleeps in poll(2) on the read end of a datagram socket pair until a
 * notification arrives, the nearest deadline passes, or
 * LONGPOLL_RECHECK_US; then, under the mutex, it reads the state of each
 * waiter's driver and wakes (unlinks, then calls back) those whose state
 * differs or whose deadline has passed. A pass costs one indexed read per
 * waiter, and waiters are few (at most max_waiters): the orchestrator
 * parks one per stage it follows.
 *
 * Datagrams rather than a pipe: a runner's send on a socket whose reader
 * is gone (the server exited) fails with an error instead of raising
 * SIGPIPE, and sends never block (MSG_DONTWAIT; a full queue already
 * holds a wake-up, so a lost datagram loses nothing).
 */
#include "longpoll.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

struct longpoll {
	store *st;
	int max_waiters;
	int fds[2];		/* [0] read by the waker, [1] sent on */
	pthread_mutex_t lock;
	longpoll_waiter *head;
	int parked;
	long long total;
	int stopping;
	pthread_t thread;
	int thread_started;
};

/* The driver's state now; DRIVER_NOT_FOUND when it is gone (cleared,
 * retention), and the known state itself when the store cannot be read,
 * so a failing read wakes nobody early (the deadline still does). */
static driver_state
current_state(longpoll *lp, const longpoll_waiter *w)
{
	store_driver d;
	driver_state state;
	int rc = store_get_driver(lp->st, w->id, &d);

	if (rc < 0)
		return w->known;
	if (rc == 0)
		return DRIVER_NOT_FOUND;
	state = d.state;
	store_driver_free(&d);
	return state;
}

static void
unlink_waiter(longpoll *lp, longpoll_waiter *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		lp->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	lp->parked--;
}

/*
 * One pass, lock held: wakes the waiters that are due. Returns the
 * nearest deadline left (INT64_MAX with none).
 */
static int64_t
wake_due(longpoll *lp, int64_t now)
{
	longpoll_waiter *w, *next;
	int64_t nearest = INT64_MAX;

	for (w = lp->head; w != NULL; w = next) {
		next = w->next;
		if (lp->stopping || now >= w->deadline_us ||
		    current_state(lp, w) != w->known) {
			unlink_waiter(lp, w);
			w->wake(w->arg);
			continue;
		}
		if (w->deadline_us < nearest)
			nearest = w->deadline_us;
	}
	return nearest;
}

static void
drain(int fd)
{
	char buf[64];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void *
waker_loop(void *arg)
{
	longpoll *lp = arg;
	struct pollfd pfd = {lp->fds[0], POLLIN, 0};
	int64_t nearest = INT64_MAX, timeout_us;
	int stopping = 0;

	while (!stopping) {
		timeout_us = LONGPOLL_RECHECK_US;
		if (nearest != INT64_MAX && nearest - clock_mono_us() <
		    timeout_us)
			timeout_us = nearest - clock_mono_us();
		if (timeout_us < 0)
			timeout_us = 0;
		/* Rounded up: waking a little after a deadline, never before. */
		if (poll(&pfd, 1, (int)((timeout_us + 999) / 1000)) > 0)
			drain(lp->fds[0]);
		pthread_mutex_lock(&lp->lock);
		nearest = wake_due(lp, clock_mono_us());
		stopping = lp->stopping;
		pthread_mutex_unlock(&lp->lock);
	}
	return NULL;
}

longpoll *
longpoll_new(store *st, int max_waiters, char *err, size_t errlen)
{
	longpoll *lp = calloc(1, sizeof(*lp));

	if (lp == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	lp->st = st;
	lp->max_waiters = max_waiters;
	lp->fds[0] = lp->fds[1] = -1;
	pthread_mutex_init(&lp->lock, NULL);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, lp->fds) == -1) {
		snprintf(err, errlen, "cannot create the state-change "
		    "notification socket: %s", strerror(errno));
		goto err;
	}
	if (pthread_create(&lp->thread, NULL, waker_loop, lp) != 0) {
		snprintf(err, errlen, "cannot start the long-poll waker thread");
		goto err;
	}
	lp->thread_started = 1;
	return lp;
err:
	longpoll_free(lp);
	return NULL;
}

void
longpoll_stop(longpoll *lp)
{
	if (lp == NULL)
		return;
	pthread_mutex_lock(&lp->lock);
	lp->stopping = 1;
	pthread_mutex_unlock(&lp->lock);
	longpoll_notify(lp);
	if (lp->thread_started) {
		pthread_join(lp->thread, NULL);
		lp->thread_started = 0;
	}
	/* Parked after the waker's last pass: none can be (park refuses
	 * once stopping), but a final pass costs nothing. */
	pthread_mutex_lock(&lp->lock);
	wake_due(lp, clock_mono_us());
	pthread_mutex_unlock(&lp->lock);
}

void
longpoll_free(longpoll *lp)
{
	if (lp == NULL)
		return;
	longpoll_stop(lp);
	if (lp->fds[0] != -1)
		close(lp->fds[0]);
	if (lp->fds[1] != -1)
		close(lp->fds[1]);
	pthread_mutex_destroy(&lp->lock);
	free(lp);
}

int
longpoll_notify_fd(const longpoll *lp)
{
	return lp->fds[1];
}

void
longpoll_notify(longpoll *lp)
{
	char c = 1;

	/* EAGAIN: the queue is full of wake-ups already. */
	(void)send(lp->fds[1], &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

longpoll_result
longpoll_park(longpoll *lp, longpoll_waiter *w)
{
	longpoll_result rc = LONGPOLL_PARKED;

	pthread_mutex_lock(&lp->lock);
	if (lp->stopping || lp->parked >= lp->max_waiters) {
		rc = LONGPOLL_BUSY;
	} else if (current_state(lp, w) != w->known) {
		/* Changed since the caller looked: no wait at all. */
		rc = LONGPOLL_CHANGED;
	} else {
		w->prev = NULL;
		w->next = lp->head;
		if (lp->head != NULL)
			lp->head->prev = w;
		lp->head = w;
		lp->parked++;
		lp->total++;
	}
	pthread_mutex_unlock(&lp->lock);
	/* The waker's timeout may be later than this deadline. */
	if (rc == LONGPOLL_PARKED)
		longpoll_notify(lp);
	return rc;
}

int
longpoll_parked(longpoll *lp)
{
	int n;

	pthread_mutex_lock(&lp->lock);
	n = lp->parked;
	pthread_mutex_unlock(&lp->lock);
	return n;
}

long long
longpoll_total(longpoll *lp)
{
	long long n;

	pthread_mutex_lock(&lp->lock);
	n = lp->total;
	pthread_mutex_unlock(&lp->lock);
	return n;
}
