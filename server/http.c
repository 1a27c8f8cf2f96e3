/*
 * http.c - libmicrohttpd wiring: accept, read bodies, enforce limits,
 * hand each complete request to api_handle(), send the answer.
 *
 * MHD runs its own epoll threads on a socket we bound ourselves (so port 0
 * works and the port is known). Limits: bodies over SERVER_MAX_BODY get
 * 413 (at once when Content-Length says so), idle connections time out
 * after --idle-timeout seconds, --max-connections caps concurrent
 * connections, and the connection guard (http_guard.c), swept by a thread
 * of ours every GUARD_SWEEP_US, closes requests that do not arrive whole
 * within --request-timeout and makes room under connection pressure. No
 * Server header is sent, like Spark 4.
 *
 * A long-polled status (api.c answers "park") is suspended with
 * MHD_suspend_connection, so it holds no thread: the daemon's threads go
 * on serving other requests while the waiter sits in longpoll.c, whose
 * thread resumes the connection when the driver's state changes or the
 * wait ends; the daemon then calls on_request again and the status is
 * answered as usual. A parked request has arrived whole, so the guard
 * counts it as being answered (never overdue, never evicted), and MHD
 * does not time out suspended connections; the wait is bounded by
 * LONGPOLL_MAX_WAIT_MS instead. At most --max-connections / 2 requests are
 * parked at once (more are answered at once), so waiters never fill the
 * connection limit. On stop, every waiter is woken and given up to
 * STOP_DRAIN_US to be answered before the daemon closes its connections.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "http_guard.h"
#include "log.h"
#include "proto.h"
#include "server.h"

#define GUARD_SWEEP_US 100000
#define STOP_DRAIN_US 1000000

struct http_server {
	struct MHD_Daemon *daemon;
	server *s;
	http_guard *guard;
	pthread_t sweeper;
	int sweeper_started;
	atomic_int stopping;
	atomic_int parked;	/* parked requests not yet completed */
};

/* Per-request state, kept between MHD's calls for one request. */
typedef struct http_request {
	char *body;
	size_t len, cap;
	int too_large;
	int parked;		/* a long-polled status was parked once */
	struct MHD_Connection *conn;
	longpoll_waiter waiter;
} http_request;

static const char *
query_lookup(void *ctx, const char *key)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

/* The guard's record of a connection (its MHD socket context). */
static http_guard_conn *
guarded(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

static enum MHD_Result
send_response(http_server *h, struct MHD_Connection *c, api_response *r)
{
	server *s = h->s;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	http_guard_answering(h->guard, guarded(c));
	if (r->fd >= 0) {
		resp = MHD_create_response_from_fd(r->fd_size, r->fd);
	} else {
		/* r->body is always heap memory here (never a literal). */
		resp = MHD_create_response_from_buffer(r->body_len, r->body,
		    MHD_RESPMEM_MUST_FREE);
	}
	if (resp == NULL) {
		if (r->fd >= 0)
			close(r->fd);
		else
			free(r->body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    r->content_type ? r->content_type : "application/json");
	/* With a validator, clients may keep a copy but must revalidate. */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    r->etag[0] ? "no-cache" : "no-cache, no-store, must-revalidate");
	if (r->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->etag[0] != '\0')
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
	if (r->last_modified[0] != '\0')
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED,
		    r->last_modified);
	if (r->wait_max_ms > 0) {
		char ms[16];

		snprintf(ms, sizeof(ms), "%d", r->wait_max_ms);
		MHD_add_response_header(resp, "X-Medallion-Wait", ms);
	}
	metrics_count(&s->metrics, r->status);
	ret = MHD_queue_response(c, (unsigned int)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
send_error(http_server *h, struct MHD_Connection *c, int status,
    const char *msg)
{
	api_response r;

	memset(&r, 0, sizeof(r));
	r.fd = -1;
	api_respond_error(&r, status, msg);
	if (r.body == NULL)
		return MHD_NO;
	return send_response(h, c, &r);
}

static int
body_append(http_request *req, const char *data, size_t n)
{
	if (req->len + n > SERVER_MAX_BODY) {
		req->too_large = 1;
		return 0;
	}
	if (req->len + n + 1 > req->cap) {
		size_t cap = req->cap ? req->cap : 4096;
		char *p;

		while (cap < req->len + n + 1)
			cap *= 2;
		if ((p = realloc(req->body, cap)) == NULL)
			return -1;
		req->body = p;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, n);
	req->len += n;
	req->body[req->len] = '\0';
	return 0;
}

/* The waker thread's call: the driver's state changed or the wait ended. */
static void
wake_parked(void *arg)
{
	http_request *req = arg;

	MHD_resume_connection(req->conn);
}

/*
 * Parks a long-polled status: the connection is suspended first, so the
 * waker can only resume a suspended connection; a waiter that cannot be
 * parked (state changed already, too many parked, stopping) is resumed
 * at once and answered on the next call.
 */
static enum MHD_Result
park(http_server *h, struct MHD_Connection *c, http_request *req,
    const api_response *r)
{
	req->waiter = r->waiter;
	req->waiter.wake = wake_parked;
	req->waiter.arg = req;
	req->conn = c;
	req->parked = 1;
	atomic_fetch_add(&h->parked, 1);
	http_guard_answering(h->guard, guarded(c));
	MHD_suspend_connection(c);
	if (longpoll_park(h->s->lp, &req->waiter) != LONGPOLL_PARKED)
		MHD_resume_connection(c);
	return MHD_YES;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	http_server *h = cls;
	server *s = h->s;
	http_request *req = *con_cls;
	api_request areq;
	api_response aresp;
	char msg[128];

	(void)version;
	if (req == NULL) {
		const char *cl = MHD_lookup_connection_value(c,
		    MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		if ((req = calloc(1, sizeof(*req))) == NULL)
			return MHD_NO;
		*con_cls = req;
		if (cl != NULL && strtoull(cl, NULL, 10) > SERVER_MAX_BODY) {
			snprintf(msg, sizeof(msg), "Request body is larger than "
			    "the limit of %d bytes.", SERVER_MAX_BODY);
			return send_error(h, c, 413, msg);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!req->too_large &&
		    body_append(req, upload_data, *upload_size) == -1)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->too_large) {
		snprintf(msg, sizeof(msg), "Request body is larger than the "
		    "limit of %d bytes.", SERVER_MAX_BODY);
		return send_error(h, c, 413, msg);
	}
	memset(&areq, 0, sizeof(areq));
	areq.method = method;
	areq.path = url;
	areq.body = req->body ? req->body : "";
	areq.body_len = req->len;
	areq.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	areq.if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);
	areq.accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT);
	areq.query = query_lookup;
	areq.query_ctx = c;
	areq.resumed = req->parked;
	api_handle(s, &areq, &aresp);
	if (aresp.park)
		return park(h, c, req, &aresp);
	if (aresp.body == NULL && aresp.fd < 0)
		aresp.body = strdup("");
	return send_response(h, c, &aresp);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	http_server *h = cls;
	http_request *req = *con_cls;

	(void)toe;
	http_guard_waiting(h->guard, guarded(c), clock_mono_us());
	if (req != NULL) {
		if (req->parked)
			atomic_fetch_sub(&h->parked, 1);
		free(req->body);
		free(req);
		*con_cls = NULL;
	}
}

static void
on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("http: %s", buf);
}

/* Connections start and end here: the guard keeps a record of each. */
static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	http_server *h = cls;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = ci == NULL ? NULL :
		    http_guard_open(h->guard, ci->connect_fd, clock_mono_us());
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		http_guard_close(h->guard, *socket_context);
		*socket_context = NULL;
	}
}

static void *
sweep_loop(void *arg)
{
	http_server *h = arg;
	int n;

	while (!atomic_load(&h->stopping)) {
		clock_sleep_us(GUARD_SWEEP_US);
		n = http_guard_sweep(h->guard, clock_mono_us());
		if (n > 0)
			log_debug("http: closed %d connection%s that did not send "
			    "a whole request in time (%d open)", n, n == 1 ? "" :
			    "s", http_guard_count(h->guard));
	}
	return NULL;
}

http_server *
http_start(server *s, int listen_fd)
{
	http_server *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->s = s;
	h->guard = http_guard_new(s->max_connections,
	    (int64_t)s->request_timeout_s * 1000000);
	if (h->guard == NULL)
		goto err;
	h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_TURBO |
	    MHD_ALLOW_SUSPEND_RESUME,
	    0, NULL, NULL, on_request, h,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)s->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->idle_timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
	    MHD_OPTION_END);
	if (h->daemon == NULL)
		goto err;
	if (pthread_create(&h->sweeper, NULL, sweep_loop, h) != 0) {
		log_warnx("cannot start the connection sweeper thread");
		goto err;
	}
	h->sweeper_started = 1;
	return h;
err:
	http_stop(h);
	return NULL;
}

/* Gives woken waiters a moment to get their answer before the daemon
 * closes their connections (they would then see the connection close,
 * which a client retries anyway). */
static void
drain_parked(http_server *h)
{
	int64_t until = clock_mono_us() + STOP_DRAIN_US;

	while (atomic_load(&h->parked) > 0 && clock_mono_us() < until)
		clock_sleep_us(5000);
}

void
http_stop(http_server *h)
{
	if (h == NULL)
		return;
	atomic_store(&h->stopping, 1);
	if (h->sweeper_started)
		pthread_join(h->sweeper, NULL);
	/* MHD must not be stopped with a connection still suspended. */
	longpoll_stop(h->s->lp);
	drain_parked(h);
	if (h->daemon != NULL)
		MHD_stop_daemon(h->daemon);
	http_guard_free(h->guard);
	free(h);
}
