/*
 * http_guard.c - deadlines for slow clients, and room for new ones (see
 * http_guard.h for the policy).
 *
 * Connections live in a doubly linked list under one mutex: the daemon's
 * threads add and remove them, the sweeper walks them. Removal happens in
 * the daemon's close notification, which it sends before it closes the
 * socket, so a sweep under the same mutex never shuts down a descriptor
 * that was already closed and reused. A sweep is O(connections), at most
 * --max-connections, a few times a second.
 */
#include "http_guard.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

struct http_guard_conn {
	http_guard_conn *prev, *next;
	int fd;
	int answering;		/* an answer is queued or being sent */
	int shut;		/* shut down by the guard already */
	int64_t waiting_since_us;
};

struct http_guard {
	pthread_mutex_t lock;
	http_guard_conn *head;
	int count;
	int pressure_at;	/* evict waiting connections from here on */
	int64_t request_timeout_us;
};

http_guard *
http_guard_new(int max_connections, int64_t request_timeout_us)
{
	http_guard *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	g->pressure_at = max_connections - max_connections / 8;
	if (g->pressure_at >= max_connections)
		g->pressure_at = max_connections - 1;
	if (g->pressure_at < 1)
		g->pressure_at = 1;
	g->request_timeout_us = request_timeout_us;
	return g;
}

void
http_guard_free(http_guard *g)
{
	http_guard_conn *c, *next;

	if (g == NULL)
		return;
	for (c = g->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	pthread_mutex_destroy(&g->lock);
	free(g);
}

http_guard_conn *
http_guard_open(http_guard *g, int fd, int64_t now_us)
{
	http_guard_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->waiting_since_us = now_us;
	pthread_mutex_lock(&g->lock);
	c->next = g->head;
	if (g->head != NULL)
		g->head->prev = c;
	g->head = c;
	g->count++;
	pthread_mutex_unlock(&g->lock);
	return c;
}

void
http_guard_close(http_guard *g, http_guard_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	g->count--;
	pthread_mutex_unlock(&g->lock);
	free(c);
}

void
http_guard_answering(http_guard *g, http_guard_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	c->answering = 1;
	pthread_mutex_unlock(&g->lock);
}

void
http_guard_waiting(http_guard *g, http_guard_conn *c, int64_t now_us)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	c->answering = 0;
	c->waiting_since_us = now_us;
	pthread_mutex_unlock(&g->lock);
}

/* Whether the sweep at now_us closes c, a connection not yet shut. */
static int
overdue(const http_guard *g, const http_guard_conn *c, int64_t now_us,
    int pressure)
{
	int64_t waited = now_us - c->waiting_since_us;

	if (c->answering)
		return 0;
	if (g->request_timeout_us > 0 && waited > g->request_timeout_us)
		return 1;
	return pressure && waited > HTTP_GUARD_EVICT_GRACE_US;
}

int
http_guard_sweep(http_guard *g, int64_t now_us)
{
	http_guard_conn *c;
	int closed = 0, pressure;

	pthread_mutex_lock(&g->lock);
	pressure = g->count >= g->pressure_at;
	for (c = g->head; c != NULL; c = c->next) {
		if (c->shut || !overdue(g, c, now_us, pressure))
			continue;
		/* The daemon reads an end of stream and closes it. */
		shutdown(c->fd, SHUT_RDWR);
		c->shut = 1;
		closed++;
	}
	pthread_mutex_unlock(&g->lock);
	return closed;
}

int
http_guard_count(http_guard *g)
{
	int n;

	pthread_mutex_lock(&g->lock);
	n = g->count;
	pthread_mutex_unlock(&g->lock);
	return n;
}
