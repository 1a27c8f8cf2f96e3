/*
 * proto.c - Spark REST protocol messages: routing, validation, encoding.
 *
 * Routing mirrors Spark's servlet mapping: each action is a prefix matched
 * on whole path segments ("/v1/submissions/kill" matches ".../kill/x" but
 * not ".../killall"), and everything else goes to the ErrorServlet rules of
 * section 2.7 of the reference. Validation mirrors
 * CreateSubmissionRequest.validate() of Spark 4 (appArgs,
 * environmentVariables and spark.app.name optional), but every message
 * names the offending field on one line instead of carrying a stack trace.
 */
#include "proto.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUBMISSIONS "/v1/submissions"

static const char *const known_create_fields[] = {
	"action", "message", "clientSparkVersion", "appResource", "mainClass",
	"appArgs", "sparkProperties", "environmentVariables", NULL,
};

/* Message classes a client could name that are not a create request. */
static const char *const other_message_types[] = {
	"CreateSubmissionResponse", "KillSubmissionResponse",
	"KillAllSubmissionResponse", "ClearResponse", "ReadyzResponse",
	"SubmissionStatusResponse", "ErrorResponse", NULL,
};

/* --- routing --------------------------------------------------------- */

/* Does path equal prefix, or continue it with '/'? Sets *rest. */
static int
match_prefix(const char *path, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);

	if (strncmp(path, prefix, n) != 0)
		return 0;
	if (path[n] != '\0' && path[n] != '/')
		return 0;
	*rest = path + n;
	return 1;
}

/* Spark's id rule: strip one '/', take the first '/'-separated element. */
static void
first_segment(const char *rest, char *id, size_t idlen)
{
	size_t n;

	if (*rest == '/')
		rest++;
	n = strcspn(rest, "/");
	if (n >= idlen)
		n = idlen - 1;
	memcpy(id, rest, n);
	id[n] = '\0';
}

static void
route_error(const char *path, proto_route *r)
{
	char first[128] = "", second[128] = "";
	const char *p = path;
	int nseg = 0;

	r->action = PROTO_ROUTE_ERROR;
	r->method_ok = 1;
	/* Collect the first two non-empty segments and count them. */
	while (*p != '\0') {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (nseg == 0)
			snprintf(first, sizeof(first), "%.*s", (int)n, p);
		else if (nseg == 1)
			snprintf(second, sizeof(second), "%.*s", (int)n, p);
		nseg++;
		p += n;
	}
	r->status = 400;
	if (nseg == 0) {
		snprintf(r->message, sizeof(r->message),
		    "Missing protocol version.%s", PROTO_PATH_HINT);
	} else if (nseg == 1 && strcmp(first, PROTO_VERSION) == 0) {
		snprintf(r->message, sizeof(r->message),
		    "Missing the /submissions prefix.%s", PROTO_PATH_HINT);
	} else if (strcmp(first, PROTO_VERSION) == 0 &&
	    strcmp(second, "submissions") == 0) {
		snprintf(r->message, sizeof(r->message),
		    "Missing an action: please specify one of /create, /kill, "
		    "/killall, /clear, /status, or /readyz.%s",
		    PROTO_PATH_HINT);
	} else {
		r->status = 468;
		snprintf(r->message, sizeof(r->message),
		    "Unknown protocol version '%s'.%s", first,
		    PROTO_PATH_HINT);
	}
}

struct route_entry {
	const char *suffix;
	proto_action action;
	const char *method;
	int takes_id;
	const char *missing_id;
};

static const struct route_entry route_table[] = {
	{"/create", PROTO_ROUTE_CREATE, "POST", 0, NULL},
	{"/killall", PROTO_ROUTE_KILLALL, "POST", 0, NULL},
	{"/kill", PROTO_ROUTE_KILL, "POST", 1,
	    "Submission ID is missing in kill request."},
	{"/status", PROTO_ROUTE_STATUS, "GET", 1,
	    "Submission ID is missing in status request."},
	{"/clear", PROTO_ROUTE_CLEAR, "POST", 0, NULL},
	{"/readyz", PROTO_ROUTE_READYZ, "GET", 0, NULL},
	{"/logs", PROTO_ROUTE_LOGS, "GET", 1,
	    "Submission ID is missing in logs request."},
	{NULL, PROTO_ROUTE_ERROR, NULL, 0, NULL},
};

static int
method_is(const char *method, const char *want)
{
	if (strcmp(method, want) == 0)
		return 1;
	/* HEAD runs the GET handler (the HTTP layer drops the body). */
	return strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

void
proto_route_path(const char *method, const char *path, proto_route *r)
{
	const struct route_entry *e;
	const char *rest;
	char prefix[64];

	memset(r, 0, sizeof(*r));
	for (e = route_table; e->suffix != NULL; e++) {
		snprintf(prefix, sizeof(prefix), "%s%s", SUBMISSIONS, e->suffix);
		if (!match_prefix(path, prefix, &rest))
			continue;
		r->action = e->action;
		r->method_ok = method_is(method, e->method);
		if (e->takes_id) {
			first_segment(rest, r->id, sizeof(r->id));
			if (r->id[0] == '\0') {
				r->status = 400;
				snprintf(r->message, sizeof(r->message), "%s",
				    e->missing_id);
			}
		}
		return;
	}
	if ((strcmp(path, SUBMISSIONS) == 0 ||
	    strcmp(path, SUBMISSIONS "/") == 0) && method_is(method, "GET")) {
		r->action = PROTO_ROUTE_LIST;
		r->method_ok = 1;
		return;
	}
	route_error(path, r);
}

/* --- create requests ------------------------------------------------- */

/*
 * Jackson binds JSON scalars to String fields loosely: a number or boolean
 * becomes its text. Replace such a value in place by a JSON string, so the
 * rest of the server sees strings only. Returns 0, or -1 for a value that
 * cannot be a string (object, array, null).
 */
static int
coerce_string(json_t *parent, const char *key, size_t index, json_t *value)
{
	char buf[64];
	json_t *s;

	if (json_is_string(value))
		return 0;
	if (json_is_integer(value))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(value));
	else if (json_is_real(value))
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(value));
	else if (json_is_boolean(value))
		snprintf(buf, sizeof(buf), "%s",
		    json_is_true(value) ? "true" : "false");
	else
		return -1;
	s = json_string(buf);
	if (s == NULL)
		return -1;
	if (key != NULL)
		return json_object_set_new(parent, key, s);
	return json_array_set_new(parent, index, s);
}

static int
is_known_field(const char *key)
{
	int i;

	for (i = 0; known_create_fields[i] != NULL; i++)
		if (strcmp(known_create_fields[i], key) == 0)
			return 1;
	return 0;
}

/* Top-level keys Spark would not bind: unknown names, and known names
 * whose value is null (Spark's diff-based detection reports those too). */
static json_t *
find_unknown_fields(json_t *obj)
{
	json_t *list = NULL, *value;
	const char *key;

	json_object_foreach(obj, key, value) {
		if (is_known_field(key) && !json_is_null(value))
			continue;
		if (list == NULL && (list = json_array()) == NULL)
			return NULL;
		json_array_append_new(list, json_string(key));
	}
	return list;
}

static int
fail(char *msg, size_t msglen, const char *fmt, const char *arg)
{
	char text[512];

	snprintf(text, sizeof(text), fmt, arg);
	snprintf(msg, msglen, "Malformed request: %s", text);
	return -1;
}

static int
missing(char *msg, size_t msglen, const char *field)
{
	return fail(msg, msglen,
	    "Validation of message CreateSubmissionRequest failed: "
	    "'%s' is missing.", field);
}

/* Required string field: present, not null, string-like. */
static int
required_string(json_t *obj, const char *field, const char **out, char *msg,
    size_t msglen)
{
	json_t *v = json_object_get(obj, field);

	if (v == NULL || json_is_null(v))
		return missing(msg, msglen, field);
	if (coerce_string(obj, field, 0, v) == -1)
		return fail(msg, msglen, "'%s' must be a string.", field);
	*out = json_string_value(json_object_get(obj, field));
	return 0;
}

static int
string_array(json_t *obj, const char *field, json_t **out, char *msg,
    size_t msglen)
{
	json_t *v = json_object_get(obj, field), *item;
	size_t i;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return fail(msg, msglen, "'%s' must be an array of strings.",
		    field);
	json_array_foreach(v, i, item) {
		if (coerce_string(v, NULL, i, item) == -1)
			return fail(msg, msglen,
			    "'%s' must be an array of strings.", field);
	}
	*out = v;
	return 0;
}

static int
string_map(json_t *obj, const char *field, json_t **out, char *msg,
    size_t msglen)
{
	json_t *v = json_object_get(obj, field), *item;
	const char *key;
	void *tmp;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail(msg, msglen,
		    "'%s' must be an object of string values.", field);
	json_object_foreach_safe(v, tmp, key, item) {
		if (coerce_string(v, key, 0, item) == -1)
			return fail(msg, msglen,
			    "'%s' must be an object of string values.", field);
	}
	*out = v;
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	if (strcasecmp(s, "true") == 0)
		*out = 1;
	else if (strcasecmp(s, "false") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int
parse_double(const char *s)
{
	char *end;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	(void)strtod(s, &end);
	return *end == '\0' ? 0 : -1;
}

/* A JVM memory string: digits and an optional b/k/m/g/t/p (+ 'b') unit. */
static int
parse_memory(const char *s)
{
	static const char *const units[] = {"", "b", "k", "kb", "m", "mb",
	    "g", "gb", "t", "tb", "p", "pb", NULL};
	const char *p = s;
	int i;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p))
		p++;
	for (i = 0; units[i] != NULL; i++)
		if (strcasecmp(p, units[i]) == 0)
			return 0;
	return -1;
}

static int
check_properties(proto_create *req, char *msg, size_t msglen)
{
	static const char *const numeric[] = {"spark.driver.cores",
	    "spark.cores.max", NULL};
	static const char *const memory[] = {"spark.driver.memory",
	    "spark.executor.memory", NULL};
	const char *v;
	int i;

	v = json_string_value(json_object_get(req->spark_properties,
	    "spark.driver.supervise"));
	if (v != NULL && parse_bool(v, &req->supervise) == -1)
		return fail(msg, msglen, "Property 'spark.driver.supervise' "
		    "must be true or false, not '%s'.", v);
	for (i = 0; numeric[i] != NULL; i++) {
		v = json_string_value(json_object_get(req->spark_properties,
		    numeric[i]));
		if (v != NULL && parse_double(v) == -1)
			return fail(msg, msglen, "Property '%s' must be numeric.",
			    numeric[i]);
	}
	for (i = 0; memory[i] != NULL; i++) {
		v = json_string_value(json_object_get(req->spark_properties,
		    memory[i]));
		if (v != NULL && parse_memory(v) == -1)
			return fail(msg, msglen, "Property '%s' must be a memory "
			    "size such as 512m or 2g.", memory[i]);
	}
	return 0;
}

static int
is_other_message_type(const char *action)
{
	int i;

	for (i = 0; other_message_types[i] != NULL; i++)
		if (strcmp(other_message_types[i], action) == 0)
			return 1;
	return 0;
}

static int
parse_action(json_t *obj, char *msg, size_t msglen)
{
	json_t *action = json_object_get(obj, "action");
	const char *name;

	if (action == NULL || json_is_null(action))
		return fail(msg, msglen, "the 'action' field is missing; "
		    "expected \"%s\".", "CreateSubmissionRequest");
	if (!json_is_string(action))
		return fail(msg, msglen, "the 'action' field must be a "
		    "string such as \"%s\".", "CreateSubmissionRequest");
	name = json_string_value(action);
	if (strcmp(name, "CreateSubmissionRequest") == 0)
		return 0;
	if (is_other_message_type(name)) {
		snprintf(msg, msglen, "Received message of unexpected type %s.",
		    name);
		return -1;
	}
	return fail(msg, msglen, "unknown action '%.200s'; expected "
	    "\"CreateSubmissionRequest\".", name);
}

int
proto_parse_create(const char *body, size_t len, proto_create *req,
    char *msg, size_t msglen)
{
	json_error_t jerr;
	json_t *obj;

	memset(req, 0, sizeof(*req));
	if (len == 0)
		return fail(msg, msglen, "%s", "the request body is empty; "
		    "send a CreateSubmissionRequest JSON object.");
	obj = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		char text[300];

		snprintf(text, sizeof(text), "invalid JSON at line %d, column "
		    "%d: %s", jerr.line, jerr.column, jerr.text);
		return fail(msg, msglen, "%s", text);
	}
	req->json = obj;
	if (!json_is_object(obj)) {
		fail(msg, msglen, "%s", "the request body is not a JSON object.");
		goto err;
	}
	if (parse_action(obj, msg, msglen) == -1)
		goto err;
	/* Unknown fields are judged on the request as the client sent it. */
	req->unknown_fields = find_unknown_fields(obj);
	if (required_string(obj, "clientSparkVersion", &req->client_version,
	    msg, msglen) == -1 ||
	    required_string(obj, "appResource", &req->app_resource, msg,
	    msglen) == -1)
		goto err;
	if (string_map(obj, "sparkProperties", &req->spark_properties, msg,
	    msglen) == -1)
		goto err;
	if (req->spark_properties == NULL) {
		missing(msg, msglen, "sparkProperties");
		goto err;
	}
	if (string_array(obj, "appArgs", &req->app_args, msg, msglen) == -1 ||
	    string_map(obj, "environmentVariables", &req->environment, msg,
	    msglen) == -1 ||
	    check_properties(req, msg, msglen) == -1)
		goto err;
	if (json_object_get(obj, "message") != NULL &&
	    !json_is_null(json_object_get(obj, "message")) &&
	    coerce_string(obj, "message", 0, json_object_get(obj, "message"))
	    == -1) {
		fail(msg, msglen, "%s", "'message' must be a string.");
		goto err;
	}
	if (json_object_get(obj, "mainClass") == NULL ||
	    json_is_null(json_object_get(obj, "mainClass"))) {
		fail(msg, msglen, "%s", "Main class is missing.");
		goto err;
	}
	if (required_string(obj, "mainClass", &req->main_class, msg,
	    msglen) == -1)
		goto err;
	return 0;
err:
	proto_create_free(req);
	return -1;
}

void
proto_create_free(proto_create *req)
{
	json_decref(req->unknown_fields);
	json_decref(req->json);
	memset(req, 0, sizeof(*req));
}

/* --- responses ------------------------------------------------------- */

static json_t *
message_base(const char *action)
{
	return json_pack("{s:s, s:s}", "action", action,
	    "serverSparkVersion", PROTO_SERVER_SPARK_VERSION);
}

static json_t *
with_success(const char *action, int success, const char *message)
{
	json_t *m = message_base(action);

	if (m == NULL)
		return NULL;
	json_object_set_new(m, "success", json_boolean(success));
	if (message != NULL)
		json_object_set_new(m, "message", json_string(message));
	return m;
}

json_t *
proto_error(const char *message)
{
	json_t *m = message_base("ErrorResponse");

	if (m != NULL)
		json_object_set_new(m, "message", json_string(message));
	return m;
}

json_t *
proto_error_version(const char *message)
{
	json_t *m = proto_error(message);

	if (m != NULL)
		json_object_set_new(m, "highestProtocolVersion",
		    json_string(PROTO_VERSION));
	return m;
}

json_t *
proto_create_response(int success, const char *submission_id,
    const char *message, json_t *unknown_fields)
{
	json_t *m = with_success("CreateSubmissionResponse", success, message);

	if (m == NULL)
		return NULL;
	if (submission_id != NULL)
		json_object_set_new(m, "submissionId",
		    json_string(submission_id));
	if (unknown_fields != NULL && json_array_size(unknown_fields) > 0)
		json_object_set(m, "unknownFields", unknown_fields);
	return m;
}

json_t *
proto_kill_response(int success, const char *submission_id,
    const char *message)
{
	json_t *m = with_success("KillSubmissionResponse", success, message);

	if (m != NULL)
		json_object_set_new(m, "submissionId",
		    json_string(submission_id));
	return m;
}

json_t *
proto_killall_response(int success, const char *message)
{
	return with_success("KillAllSubmissionResponse", success, message);
}

json_t *
proto_clear_response(void)
{
	return with_success("ClearResponse", 1, "");
}

json_t *
proto_readyz_response(void)
{
	return with_success("ReadyzResponse", 1, "");
}

json_t *
proto_status_response(int success, const char *submission_id,
    const char *driver_state, const char *message, const char *worker_id,
    const char *worker_host_port)
{
	json_t *m = with_success("SubmissionStatusResponse", success, message);

	if (m == NULL)
		return NULL;
	json_object_set_new(m, "submissionId", json_string(submission_id));
	if (driver_state != NULL)
		json_object_set_new(m, "driverState", json_string(driver_state));
	if (worker_id != NULL)
		json_object_set_new(m, "workerId", json_string(worker_id));
	if (worker_host_port != NULL)
		json_object_set_new(m, "workerHostPort",
		    json_string(worker_host_port));
	return m;
}

char *
proto_dump(const json_t *msg)
{
	return json_dumps(msg, JSON_INDENT(2) | JSON_SORT_KEYS);
}
