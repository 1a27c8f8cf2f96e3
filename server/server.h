/*
 * server.h - the one context struct of medallion-server, and the
 * interfaces between its modules: the HTTP layer (http.c) turns requests
 * into api_request and sends api_response; the API (api.c) implements the
 * endpoints; the driver scheduler (driver.c) starts runners for queued
 * drivers and notices lost ones; longpoll.c parks status requests that
 * wait for a state change; metrics.c counts.
 */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "gold_tag.h"
#include "longpoll.h"
#include "store.h"

#define SERVER_MAX_BODY (1024 * 1024)

/* HTTP status codes counted separately in /metrics; others are "other". */
#define METRICS_NCODES 12

typedef struct metrics {
	atomic_llong requests[METRICS_NCODES];
} metrics;

typedef struct server {
	/* configuration */
	const char *host;
	int port;
	const char *port_file;
	const char *state_path;
	const char *stages_dir;
	const char *log_dir;
	const char *lake_dir;		/* may be NULL */
	const char *history_path;	/* orchestrator history, may be NULL */
	int max_running;
	int64_t grace_ms;
	int max_relaunches;
	int64_t relaunch_backoff_ms;
	int64_t lease_timeout_ms;	/* a runner silent this long is lost */
	int max_connections;
	int idle_timeout_s;
	int request_timeout_s;		/* a request must arrive whole in this */
	int threads;
	int insecure;
	int public_dashboard;		/* /dashboard and /api/gold need no auth */
	int no_long_poll;		/* --no-long-poll: ignore waitMs, as Spark */
	int64_t retain_us;		/* --retain; 0 keeps drivers forever */
	char runner_path[4096];
	char **stage_env;		/* "NAME=VALUE", NULL-terminated */
	size_t nstage_env;
	auth auth;
	/* state */
	store *st;
	longpoll *lp;			/* parked status requests */
	gold_tag gold_tag;		/* /api/gold's ETag, by file identity */
	metrics metrics;
	int wake_fd[2];			/* self-pipe: wakes the scheduler */
	volatile sig_atomic_t stopping;
	atomic_int ready;
	int64_t last_recover_us;	/* scheduler thread only */
	int64_t last_retain_us;		/* scheduler thread only */
} server;

/* A request as the API sees it. */
typedef struct api_request {
	const char *method;
	const char *path;		/* decoded, without the query string */
	const char *body;
	size_t body_len;
	const char *authorization;	/* header value or NULL */
	const char *if_none_match;	/* header value or NULL */
	const char *accept;		/* header value or NULL */
	/* Query parameter lookup (NULL when absent). */
	const char *(*query)(void *ctx, const char *key);
	void *query_ctx;
	int resumed;			/* a parked status, woken: answer now */
} api_request;

typedef struct api_response {
	int status;
	char *body;			/* malloc'd, or NULL */
	size_t body_len;
	const char *content_type;
	int fd;				/* >= 0: send this file instead */
	uint64_t fd_size;
	const char *allow;		/* Allow header for 405 */
	char etag[48];			/* ETag header when set */
	char last_modified[40];		/* Last-Modified header when set */
	int wait_max_ms;		/* > 0: X-Medallion-Wait header */
	/* park: no answer yet; the HTTP layer parks the request as this
	 * waiter (id, known state, deadline) and asks again once woken. */
	int park;
	longpoll_waiter waiter;
} api_response;

void api_handle(server *s, const api_request *req, api_response *resp);
/* The server's one error body: Spark's ErrorResponse (action, message,
 * serverSparkVersion) as application/json;charset=utf-8, for every part
 * of the server that answers an error. */
void api_respond_error(api_response *resp, int status, const char *message);
/* Deletes at most max finished drivers that ended before ended_before_us
 * (INT64_MAX: all) and their log files; how many, or -1. */
int api_forget_finished(server *s, int64_t ended_before_us, int max);

/* driver.c */
void driver_wake(server *s);
void driver_tick(server *s);		/* reap, recover, schedule */
void driver_recover(server *s);
int driver_kill(server *s, const char *id);	/* 1 submitted, 0 not */

/* metrics.c */
void metrics_count(metrics *m, int status);
char *metrics_render(server *s, size_t *len);

/* http.c */
typedef struct http_server http_server;
http_server *http_start(server *s, int listen_fd);
void http_stop(http_server *h);

#endif
