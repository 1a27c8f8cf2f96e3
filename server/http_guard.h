/*
 * http_guard.h - deadlines for slow clients, and room for new ones.
 *
 * libmicrohttpd's idle timeout measures only the gaps between bytes, so a
 * client sending one header line every few seconds holds its connection
 * forever, and a few hundred such clients fill --max-connections. The
 * guard tracks every connection and closes (shutdown(2), so the daemon
 * sees an end of stream and cleans up itself) those that are waiting for
 * a request:
 *   - when the request, head and body, has not arrived whole within the
 *     request timeout, counted from the connection's start or the end of
 *     its previous answer;
 *   - under connection pressure (at 7/8 of the limit), every one that has
 *     been waiting longer than half a second, so the daemon keeps room for
 *     clients that send their request at once (probes, the orchestrator).
 * A connection whose answer is being sent is never touched by the guard.
 */
#ifndef SERVER_HTTP_GUARD_H
#define SERVER_HTTP_GUARD_H

#include <stdint.h>

typedef struct http_guard http_guard;
typedef struct http_guard_conn http_guard_conn;

/* Grace before a waiting connection may be evicted under pressure. */
#define HTTP_GUARD_EVICT_GRACE_US 500000LL

/* NULL when out of memory. */
http_guard *http_guard_new(int max_connections, int64_t request_timeout_us);
void http_guard_free(http_guard *g);
/* A new connection on fd, waiting for its first request since now_us.
 * NULL when out of memory (the connection is then not guarded). */
http_guard_conn *http_guard_open(http_guard *g, int fd, int64_t now_us);
void http_guard_close(http_guard *g, http_guard_conn *c);
/* The connection's request arrived whole and its answer is queued. */
void http_guard_answering(http_guard *g, http_guard_conn *c);
/* The answer was sent: the connection waits for its next request. */
void http_guard_waiting(http_guard *g, http_guard_conn *c, int64_t now_us);
/*
 * Shuts down the connections past their deadline or evicted under
 * pressure; returns how many. Each is shut down once.
 */
int http_guard_sweep(http_guard *g, int64_t now_us);
/* Connections tracked now. */
int http_guard_count(http_guard *g);

#endif
