/*
 * http.c - libmicrohttpd wiring: accept, read bodies, enforce limits,
 * hand each complete request to api_handle(), send the answer.
 *
 * MHD runs its own epoll threads on a socket we bound ourselves (so port 0
 * works and the port is known). Limits: bodies over SERVER_MAX_BODY get
 * 413 (at once when Content-Length says so), idle connections time out
 * after --idle-timeout seconds, and --max-connections caps concurrent
 * connections. No Server header is sent, like Spark 4.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "server.h"

struct http_server {
	struct MHD_Daemon *daemon;
	server *s;
};

/* Per-request state, kept between MHD's calls for one request. */
typedef struct http_request {
	char *body;
	size_t len, cap;
	int too_large;
} http_request;

static const char *
query_lookup(void *ctx, const char *key)
{
	return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result
send_response(server *s, struct MHD_Connection *c, api_response *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

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
	metrics_count(&s->metrics, r->status);
	ret = MHD_queue_response(c, (unsigned int)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
send_error(server *s, struct MHD_Connection *c, int status, const char *msg)
{
	api_response r;
	json_t *m = proto_error(msg);

	memset(&r, 0, sizeof(r));
	r.fd = -1;
	r.status = status;
	r.content_type = "application/json;charset=utf-8";
	r.body = m ? proto_dump(m) : NULL;
	json_decref(m);
	if (r.body == NULL)
		return MHD_NO;
	r.body_len = strlen(r.body);
	return send_response(s, c, &r);
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

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_size, void **con_cls)
{
	server *s = cls;
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
			return send_error(s, c, 413, msg);
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
		return send_error(s, c, 413, msg);
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
	api_handle(s, &areq, &aresp);
	if (aresp.body == NULL && aresp.fd < 0)
		aresp.body = strdup("");
	return send_response(s, c, &aresp);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	http_request *req = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (req != NULL) {
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

http_server *
http_start(server *s, int listen_fd)
{
	http_server *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->s = s;
	h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_TURBO,
	    0, NULL, NULL, on_request, s,
	    MHD_OPTION_LISTEN_SOCKET, listen_fd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)s->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)s->idle_timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
	    MHD_OPTION_END);
	if (h->daemon == NULL) {
		free(h);
		return NULL;
	}
	return h;
}

void
http_stop(http_server *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->daemon);
	free(h);
}
