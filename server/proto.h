/*
 * proto.h - the Spark standalone REST protocol (/v1/submissions/...): path
 * routing, request parsing and validation, and response encoding.
 *
 * Pure functions over strings and jansson values, with no I/O, so they are
 * unit-tested and fuzzed directly. The rules follow Spark 4's
 * RestSubmissionServer (see shared/reference/spark-rest-protocol.md), with
 * two deliberate departures: no stack traces in messages, and an unknown
 * `action` is a 400, not Spark's 500.
 */
#ifndef SERVER_PROTO_H
#define SERVER_PROTO_H

#include <jansson.h>
#include <stddef.h>

/* The Spark version we answer as: clients only check it is present. */
#define PROTO_SERVER_SPARK_VERSION "4.0.0"
#define PROTO_VERSION "v1"

typedef enum proto_action {
	PROTO_ROUTE_CREATE,
	PROTO_ROUTE_KILL,
	PROTO_ROUTE_STATUS,
	PROTO_ROUTE_KILLALL,
	PROTO_ROUTE_CLEAR,
	PROTO_ROUTE_READYZ,
	PROTO_ROUTE_LIST,	/* ours: GET /v1/submissions */
	PROTO_ROUTE_LOGS,	/* ours: GET /v1/submissions/logs/{id} */
	PROTO_ROUTE_ERROR,	/* Spark's ErrorServlet answers */
} proto_action;

typedef struct proto_route {
	proto_action action;
	int method_ok;		/* 0: mapped path, wrong method (405) */
	char id[256];		/* kill/status/logs: first path segment, or "" */
	int status;		/* ROUTE_ERROR: 400 or 468 */
	char message[256];	/* ROUTE_ERROR or missing id: the text */
} proto_route;

/*
 * Routes a request path (without query string) and method, as Spark's
 * servlet mapping and ErrorServlet do.
 */
void proto_route_path(const char *method, const char *path, proto_route *r);

/* A validated CreateSubmissionRequest. Strings are owned by `json`. */
typedef struct proto_create {
	json_t *json;			/* the parsed request (owned) */
	const char *client_version;
	const char *app_resource;
	const char *main_class;
	json_t *app_args;		/* array of strings (owned by json) */
	json_t *spark_properties;	/* object string -> string */
	json_t *environment;		/* object string -> string */
	json_t *unknown_fields;		/* array of strings, or NULL */
	int supervise;
} proto_create;

/*
 * Parses and validates a create body. On success returns 0 and fills req
 * (free with proto_create_free). On failure returns -1 and writes the
 * ErrorResponse message (e.g. "Malformed request: ...") into msg.
 */
int proto_parse_create(const char *body, size_t len, proto_create *req,
    char *msg, size_t msglen);
void proto_create_free(proto_create *req);

/* Responses: each returns a new JSON object (caller decrefs). */
json_t *proto_error(const char *message);
json_t *proto_error_version(const char *message);	/* 468 */
json_t *proto_create_response(int success, const char *submission_id,
    const char *message, json_t *unknown_fields);
json_t *proto_kill_response(int success, const char *submission_id,
    const char *message);
json_t *proto_killall_response(int success, const char *message);
json_t *proto_clear_response(void);
json_t *proto_readyz_response(void);
/* driver_state and message may be NULL (left out, as Spark does). */
json_t *proto_status_response(int success, const char *submission_id,
    const char *driver_state, const char *message,
    const char *worker_id, const char *worker_host_port);

/*
 * Serializes a message as Spark's Jackson does: keys sorted, 2-space
 * indent. Returns malloc'd text; the caller frees it.
 */
char *proto_dump(const json_t *msg);

/* The text Spark appends to every ErrorServlet message. */
#define PROTO_PATH_HINT \
	" Please submit requests through http://[host]:[port]/v1/submissions/..."

#endif
