/*
 * client.h - the orchestrator's side of Spark's standalone REST protocol.
 *
 * Create, status and kill against /v1/submissions/..., over libcurl. The
 * same calls drive medallion-server or a real Spark master. A connection
 * failure (server down, restarting) is retried with capped back-off until
 * the client's patience runs out; an HTTP answer is never retried here,
 * because a create that reached the server must not be sent twice.
 *
 * medallion-server's long-poll of status (?waitMs=N&knownState=S) is used
 * only once the server has said it offers it: its create and status
 * answers carry X-Medallion-Wait (the longest wait, ms), which a Spark
 * master never sends (orch_client_wait_max_ms).
 */
#ifndef ORCH_CLIENT_H
#define ORCH_CLIENT_H

#include <signal.h>
#include <stdint.h>

#include <jansson.h>

#include "driver_state.h"

typedef struct orch_client orch_client;

typedef struct orch_client_opts {
	const char *master;		/* http://host:port */
	const char *token_file;		/* Bearer token, or NULL */
	const char *jws_secret_file;	/* HS256 key (base64url), or NULL */
	int64_t patience_us;		/* retry connection failures this long */
	int64_t request_timeout_us;	/* per request (plus a long-poll's wait) */
	/* Set by a signal handler: a request under way is abandoned. */
	volatile sig_atomic_t *stop;
} orch_client_opts;

orch_client *orch_client_new(const orch_client_opts *o, char *err,
    size_t errlen);
void orch_client_free(orch_client *c);
const char *orch_client_master(const orch_client *c);

typedef struct orch_status {
	driver_state state;	/* driverState, or DRIVER_NOT_FOUND */
	char message[512];
	int known;		/* the server knows the submission */
	int64_t exit_code;	/* -1 when the server did not say */
} orch_status;

/*
 * What a request came to. Callers decide retries and exit codes from this
 * kind, never from the message text, which is for people.
 */
typedef enum orch_result {
	ORCH_OK = 0,
	ORCH_UNREACHABLE,	/* no answer (or 503) within the patience */
	ORCH_REFUSED,		/* the server answered no (4xx, success false) */
	ORCH_BAD_ANSWER,	/* an answer no Spark server gives */
	ORCH_LOCAL,		/* ours: a credential or an id that cannot be used */
} orch_result;

/* POSTs a CreateSubmissionRequest (request is the full JSON body). */
orch_result orch_create(orch_client *c, json_t *request, char *id,
    size_t idlen, char *err, size_t errlen);
orch_result orch_status_get(orch_client *c, const char *id,
    orch_status *st, char *err, size_t errlen);
/*
 * A status that the server answers when the driver's state differs from
 * known, or after wait_ms (1 to orch_client_wait_max_ms) at most. Only
 * for a server that offers it; wait_ms 0 is orch_status_get.
 */
orch_result orch_status_wait(orch_client *c, const char *id,
    driver_state known, int64_t wait_ms, orch_status *st, char *err,
    size_t errlen);
/* The longest status wait the server offers, in ms, as its latest create
 * or status answer said; 0 when it does not (a Spark master). */
int64_t orch_client_wait_max_ms(const orch_client *c);
orch_result orch_kill(orch_client *c, const char *id, char *err,
    size_t errlen);

/*
 * Whether id has the shape of a Spark submission id, driver-
 * YYYYMMDDHHMMSS-NNNN (four or more digits): the only ids the client puts
 * into a URL, whether a server answered them or a user typed them.
 */
int orch_valid_submission_id(const char *id);

#endif
