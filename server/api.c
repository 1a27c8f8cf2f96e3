/*
 * api.c - the endpoints of medallion-server.
 *
 * Spark's: create, kill, status, killall, clear, readyz, and the
 * ErrorServlet for every other path (proto.c routes). Ours, with the same
 * JSON conventions: GET /v1/submissions (list), GET
 * /v1/submissions/logs/{id} (a driver's output), GET /metrics, and the
 * long-poll of status (?waitMs=N&knownState=S: the answer waits for a
 * state change; advertised by the X-Medallion-Wait header). Every
 * non-200 answer carries an ErrorResponse JSON body, so both old Spark
 * clients (which parse it) and new ones (which show it as text) work.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proto.h"
#include "server.h"
#include "web.h"
#include "stage.h"

#define JSON_TYPE "application/json;charset=utf-8"
#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT 1000
/* Rows per transaction when clear forgets finished drivers: requests wait
 * for one batch at most, not for the whole clear. */
#define CLEAR_BATCH 128

static void
respond_json(api_response *resp, int status, json_t *msg)
{
	resp->status = status;
	resp->content_type = JSON_TYPE;
	resp->body = msg ? proto_dump(msg) : NULL;
	json_decref(msg);
	if (resp->body == NULL) {
		/* Out of memory while encoding: still answer in JSON. */
		resp->status = 500;
		resp->body = strdup("{\"action\":\"ErrorResponse\","
		    "\"message\":\"Internal server error: out of memory\","
		    "\"serverSparkVersion\":\"" PROTO_SERVER_SPARK_VERSION
		    "\"}");
	}
	resp->body_len = resp->body ? strlen(resp->body) : 0;
}

void
api_respond_error(api_response *resp, int status, const char *message)
{
	respond_json(resp, status, proto_error(message));
}

static void
respond_internal(api_response *resp, const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "Internal server error: %s; see the "
	    "server log", what);
	api_respond_error(resp, 500, msg);
}

/* --- create ---------------------------------------------------------- */

static int
check_environment(const proto_create *req, char *msg, size_t msglen)
{
	const char *name;
	json_t *value;

	if (req->environment == NULL)
		return 0;
	json_object_foreach(req->environment, name, value) {
		if (!stage_env_allowed(name, msg, msglen))
			return -1;
		if (strlen(json_string_value(value)) !=
		    json_string_length(value)) {
			snprintf(msg, msglen, "Environment variable '%s' has a "
			    "NUL byte in its value.", name);
			return -1;
		}
	}
	return 0;
}

/* The request's variables, minus those Spark drops too. New reference. */
static json_t *
environment_of(const proto_create *req)
{
	json_t *env = req->environment ? json_deep_copy(req->environment) :
	    json_object();

	json_object_del(env, "SPARK_LOCAL_IP");
	json_object_del(env, "SPARK_LOCAL_HOSTNAME");
	return env;
}

/* What the state keeps of the variables: their names (owned text). */
static char *
environment_names_json(json_t *env)
{
	json_t *names = json_array(), *value;
	const char *name;
	char *text;

	json_object_foreach(env, name, value)
		json_array_append_new(names, json_string(name));
	text = json_dumps(names, JSON_COMPACT);
	json_decref(names);
	return text;
}

/* The request as the state keeps it: environment values replaced by
 * "(redacted)" (owned text). */
static char *
redacted_request_json(const proto_create *req)
{
	json_t *copy = json_deep_copy(req->json), *env, *value;
	const char *name;
	char *text;

	env = json_object_get(copy, "environmentVariables");
	if (json_is_object(env)) {
		json_object_foreach(env, name, value)
			json_object_set_new(env, name, json_string("(redacted)"));
	}
	text = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	return text;
}

/* The submission could not be recorded. A state file that cannot be
 * written (full, I/O error) is a 503: Spark's clients and our orchestrator
 * try again later; anything else is a 500. */
static void
respond_unrecorded(server *s, api_response *resp)
{
	char msg[1024];

	if (store_unwritable(s->st, msg, sizeof(msg)))
		api_respond_error(resp, 503, msg);
	else
		respond_internal(resp, "cannot record the submission in the "
		    "state store");
}

/* The environment file could not be written: a full or failing disk is
 * worth retrying (503), anything else is ours (500). */
static void
respond_env_unsaved(server *s, const char *id, api_response *resp)
{
	char msg[1024];
	int err = errno;

	snprintf(msg, sizeof(msg), "the environment file %s.env/%s cannot be "
	    "written: %s", s->state_path, id, strerror(err));
	log_warnx("create: %s", msg);
	if (err == ENOSPC || err == EDQUOT || err == EIO)
		api_respond_error(resp, 503, msg);
	else
		respond_internal(resp, "cannot keep the submission's environment "
		    "variables");
}

static void
handle_create(server *s, const api_request *req, api_response *resp)
{
	char msg[1024], stage[128], id[64];
	char *argv_text = NULL, *env_text = NULL, *names_text = NULL,
	    *request_text = NULL;
	proto_create create;
	json_t *argv = NULL, *env = NULL;
	int64_t now = clock_now_us();

	if (proto_parse_create(req->body, req->body_len, &create, msg,
	    sizeof(msg)) == -1) {
		api_respond_error(resp, 400, msg);
		return;
	}
	if (stage_resolve(s->stages_dir, &create, stage, sizeof(stage), &argv,
	    msg, sizeof(msg)) == -1 ||
	    check_environment(&create, msg, sizeof(msg)) == -1) {
		api_respond_error(resp, 400, msg);
		goto out;
	}
	argv_text = json_dumps(argv, JSON_COMPACT);
	if ((env = environment_of(&create)) != NULL) {
		env_text = json_dumps(env, JSON_COMPACT);
		names_text = environment_names_json(env);
	}
	request_text = redacted_request_json(&create);
	if (argv_text == NULL || env_text == NULL || names_text == NULL ||
	    request_text == NULL) {
		respond_internal(resp, "out of memory");
		goto out;
	}
	if (store_new_driver_id(s->st, now, id, sizeof(id)) == -1) {
		respond_unrecorded(s, resp);
		goto out;
	}
	/* The values first: the driver may be claimed once its row exists. */
	if (json_object_size(env) > 0 && store_env_save(s->st, id, env_text) ==
	    -1) {
		respond_env_unsaved(s, id, resp);
		goto out;
	}
	if (store_insert_driver(s->st, id, stage, request_text, argv_text,
	    names_text, create.supervise, now) == -1) {
		store_env_forget(s->st, id);
		respond_unrecorded(s, resp);
		goto out;
	}
	driver_wake(s);
	snprintf(msg, sizeof(msg), "Driver successfully submitted as %s", id);
	respond_json(resp, 200, proto_create_response(1, id, msg,
	    create.unknown_fields));
	/* Told at once, so a client follows its first status long-polled. */
	if (!s->no_long_poll)
		resp->wait_max_ms = LONGPOLL_MAX_WAIT_MS;
out:
	free(argv_text);
	free(env_text);
	free(names_text);
	free(request_text);
	json_decref(argv);
	json_decref(env);
	proto_create_free(&create);
}

/* --- kill, killall, status, clear, readyz ---------------------------- */

/* Why there was nothing to kill: Spark's words (clients match them), then,
 * for a driver the server lost track of (UNKNOWN), what happened. */
static void
kill_refusal(server *s, const char *id, char *msg, size_t len)
{
	store_driver d;
	int n = snprintf(msg, len, "Driver %s has already finished or does not "
	    "exist", id);

	if (n < 0 || (size_t)n >= len || store_get_driver(s->st, id, &d) != 1)
		return;
	if (d.state == DRIVER_UNKNOWN && d.message != NULL)
		snprintf(msg + n, len - (size_t)n, " (it ended %s: %.400s)",
		    driver_state_name(d.state), d.message);
	store_driver_free(&d);
}

static void
handle_kill(server *s, const char *id, api_response *resp)
{
	char msg[512];
	int rc = driver_kill(s, id);

	if (rc < 0 && store_unwritable(s->st, msg, sizeof(msg))) {
		api_respond_error(resp, 503, msg);
		return;
	}
	if (rc < 0) {
		respond_internal(resp, "cannot read the state store");
		return;
	}
	if (rc == 1)
		snprintf(msg, sizeof(msg), "Kill request for %s submitted", id);
	else
		kill_refusal(s, id, msg, sizeof(msg));
	respond_json(resp, 200, proto_kill_response(rc == 1, id, msg));
}

static int
kill_one(const store_driver *d, void *arg)
{
	driver_kill(arg, d->id);
	return 0;
}

static void
handle_killall(server *s, api_response *resp)
{
	if (store_list_unfinished(s->st, kill_one, s) == -1) {
		respond_internal(resp, "cannot read the state store");
		return;
	}
	respond_json(resp, 200, proto_killall_response(1,
	    "Kill request for all drivers submitted"));
}

/* A ?state= filter: a state a driver can be in on this server (not the
 * client-side NOT_FOUND). */
static int
parse_state_filter(const char *name, driver_state *out)
{
	return driver_state_parse(name, out) == 0 && *out != DRIVER_NOT_FOUND ?
	    0 : -1;
}

static int
query_int(const api_request *req, const char *key, long def, long lo,
    long hi, long *out, char *msg, size_t msglen)
{
	const char *v = req->query(req->query_ctx, key);
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	errno = 0;
	*out = strtol(v, &end, 10);
	if (errno != 0 || *v == '\0' || *end != '\0' || *out < lo ||
	    *out > hi) {
		snprintf(msg, msglen, "Query parameter '%s' must be an integer "
		    "from %ld to %ld, not '%.40s'.", key, lo, hi, v);
		return -1;
	}
	return 0;
}

static void
respond_status(server *s, const char *id, api_response *resp)
{
	store_driver d;
	char msg[1200];
	const char *message = NULL;
	int rc = store_get_driver(s->st, id, &d);

	if (rc < 0) {
		respond_internal(resp, "cannot read the state store");
		return;
	}
	if (rc == 0) {
		respond_json(resp, 200, proto_status_response(0, id, NULL, NULL,
		    NULL, NULL));
		return;
	}
	if (d.message != NULL) {
		/* Spark's clients look for this prefix on ERROR. */
		snprintf(msg, sizeof(msg), "%s%s", d.state == DRIVER_ERROR ?
		    "Exception from the cluster:\n" : "", d.message);
		message = msg;
	}
	respond_json(resp, 200, proto_status_response(1, id,
	    driver_state_name(d.state), message, NULL, NULL));
	store_driver_free(&d);
}

/*
 * The long-poll parameters of a status request: *wait_ms -1 without
 * waitMs (a plain status), *known the knownState (DRIVER_STATE_COUNT
 * without it). -1 with a 400 answered for values that are not usable.
 */
static int
status_wait_params(const api_request *req, long *wait_ms,
    driver_state *known, api_response *resp)
{
	const char *state = req->query(req->query_ctx, "knownState");
	char msg[256];

	*known = DRIVER_STATE_COUNT;
	if (query_int(req, "waitMs", -1, 0, LONGPOLL_MAX_WAIT_MS, wait_ms, msg,
	    sizeof(msg)) == -1) {
		api_respond_error(resp, 400, msg);
		return -1;
	}
	if (state != NULL && *wait_ms < 0) {
		snprintf(msg, sizeof(msg), "Query parameter 'knownState' needs "
		    "'waitMs' (how long to wait for the driver to leave that "
		    "state, at most %d ms).", LONGPOLL_MAX_WAIT_MS);
		api_respond_error(resp, 400, msg);
		return -1;
	}
	if (state != NULL && parse_state_filter(state, known) == -1) {
		snprintf(msg, sizeof(msg), "Query parameter 'knownState' must be "
		    "a driver state such as SUBMITTED or RUNNING, not '%.40s'.",
		    state);
		api_respond_error(resp, 400, msg);
		return -1;
	}
	return 0;
}

/*
 * GET /v1/submissions/status/{id}[?waitMs=N[&knownState=S]]. Without
 * waitMs (Spark's clients), the status at once. With it, the answer is
 * the same status, given when the driver's state differs from knownState
 * (default: its state when the request arrived) or after N ms, whichever
 * comes first: until then the request is parked (resp->park). An unknown
 * id, a state that differs already, or waitMs=0 answer at once.
 */
static void
handle_status(server *s, const api_request *req, const char *id,
    api_response *resp)
{
	driver_state known = DRIVER_STATE_COUNT;
	store_driver d;
	long wait_ms = -1;

	if (!s->no_long_poll && !req->resumed &&
	    status_wait_params(req, &wait_ms, &known, resp) == -1) {
		resp->wait_max_ms = LONGPOLL_MAX_WAIT_MS;
		return;
	}
	if (wait_ms > 0 && store_get_driver(s->st, id, &d) == 1) {
		if (known == DRIVER_STATE_COUNT)
			known = d.state;
		if (d.state == known) {
			resp->park = 1;
			snprintf(resp->waiter.id, sizeof(resp->waiter.id),
			    "%.63s", id);
			resp->waiter.known = known;
			resp->waiter.deadline_us = clock_mono_us() +
			    (int64_t)wait_ms * 1000;
		}
		store_driver_free(&d);
		if (resp->park)
			return;
	}
	respond_status(s, id, resp);
	if (!s->no_long_poll)
		resp->wait_max_ms = LONGPOLL_MAX_WAIT_MS;
}

/* A driver's two log files, named as the runner names them. */
static void
remove_logs(const char *id, void *arg)
{
	const server *s = arg;
	static const char *const streams[] = {"stdout", "stderr"};
	char path[4096];
	size_t i;
	int n;

	for (i = 0; i < 2; i++) {
		n = snprintf(path, sizeof(path), "%s/%s.%s", s->log_dir, id,
		    streams[i]);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			log_warnx("%s: log path under %s is too long; its log "
			    "files are left in place", id, s->log_dir);
			continue;
		}
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("cannot remove the log file %s of a forgotten "
			    "driver; remove it by hand", path);
	}
}

int
api_forget_finished(server *s, int64_t ended_before_us, int max)
{
	return store_delete_finished(s->st, ended_before_us, max, remove_logs,
	    s);
}

static void
handle_clear(server *s, api_response *resp)
{
	int n, total = 0;

	while ((n = api_forget_finished(s, INT64_MAX, CLEAR_BATCH)) > 0)
		total += n;
	if (n < 0) {
		respond_internal(resp, "cannot clear the state store");
		return;
	}
	log_info("clear: forgot %d finished driver(s) and their logs", total);
	respond_json(resp, 200, proto_clear_response());
}

static void
handle_readyz(server *s, api_response *resp)
{
	if (!atomic_load(&s->ready) || s->stopping)
		api_respond_error(resp, 503, "Master is not ready.");
	else
		respond_json(resp, 200, proto_readyz_response());
}

/* --- list and logs (ours) -------------------------------------------- */

static json_t *
iso_time_or_null(int64_t us)
{
	char buf[40];

	if (us == 0)
		return json_null();
	return json_string(clock_format_utc(us, buf, sizeof(buf)));
}

static int
list_one(const store_driver *d, void *arg)
{
	json_t *item = json_object();
	int64_t end = d->ended_us ? d->ended_us : clock_now_us();

	json_object_set_new(item, "submissionId", json_string(d->id));
	json_object_set_new(item, "stage", json_string(d->stage));
	json_object_set_new(item, "driverState",
	    json_string(driver_state_name(d->state)));
	json_object_set_new(item, "createdAt", iso_time_or_null(d->created_us));
	json_object_set_new(item, "startedAt", iso_time_or_null(d->started_us));
	json_object_set_new(item, "endedAt", iso_time_or_null(d->ended_us));
	json_object_set_new(item, "durationMs", d->started_us ?
	    json_integer((end - d->started_us) / 1000) : json_null());
	json_object_set_new(item, "attempts", json_integer(d->attempts));
	json_object_set_new(item, "exitCode", d->exit_code >= 0 ?
	    json_integer(d->exit_code) : json_null());
	if (d->message != NULL)
		json_object_set_new(item, "message", json_string(d->message));
	json_array_append_new(arg, item);
	return 0;
}

/* A list page: the JSON items, and the id of the last one when more
 * rows follow (for ?before=). */
struct list_page {
	json_t *items;
	int limit;
	int rows;
	char last_id[64];
};

static int
page_one(const store_driver *d, void *arg)
{
	struct list_page *p = arg;

	/* One row past the page is read only to know that more follow. */
	if (p->rows++ == p->limit)
		return 1;
	snprintf(p->last_id, sizeof(p->last_id), "%s", d->id);
	return list_one(d, p->items);
}

/* ?before=ID as a submission order; INT64_MAX without it. 0 or a 400. */
static int
list_before(server *s, const api_request *req, int64_t *before_seq,
    api_response *resp)
{
	const char *before = req->query(req->query_ctx, "before");
	char msg[256];
	int rc;

	*before_seq = INT64_MAX;
	if (before == NULL)
		return 0;
	if ((rc = store_driver_seq(s->st, before, before_seq)) < 0) {
		respond_internal(resp, "cannot read the state store");
		return -1;
	}
	if (rc == 0) {
		snprintf(msg, sizeof(msg), "Query parameter 'before' names no "
		    "submission: '%.80s' (it may have been removed by "
		    "retention); start again from the newest.", before);
		api_respond_error(resp, 400, msg);
		return -1;
	}
	return 0;
}

/*
 * Pages: ?offset=N skips N rows (its cost grows with N); ?before=ID
 * starts just below submission ID, which costs the same at any depth.
 * nextBefore, the last id of a page that has more after it, is the
 * cursor of the next page.
 */
static void
handle_list(server *s, const api_request *req, api_response *resp)
{
	const char *state = req->query(req->query_ctx, "state");
	const char *before = req->query(req->query_ctx, "before");
	struct list_page page;
	char msg[256];
	long limit, offset;
	int64_t before_seq;
	driver_state filter;
	json_t *msgj;
	int total;

	if (state != NULL && parse_state_filter(state, &filter) == -1) {
		snprintf(msg, sizeof(msg), "Query parameter 'state' must be a "
		    "driver state such as RUNNING or FINISHED, not '%.40s'.",
		    state);
		api_respond_error(resp, 400, msg);
		return;
	}
	if (query_int(req, "limit", LIST_DEFAULT_LIMIT, 1, LIST_MAX_LIMIT,
	    &limit, msg, sizeof(msg)) == -1 ||
	    query_int(req, "offset", 0, 0, 1000000000, &offset, msg,
	    sizeof(msg)) == -1) {
		api_respond_error(resp, 400, msg);
		return;
	}
	if (list_before(s, req, &before_seq, resp) == -1)
		return;
	memset(&page, 0, sizeof(page));
	page.items = json_array();
	page.limit = (int)limit;
	total = store_count(s->st, state != NULL ? &filter : NULL);
	if (page.items == NULL || total < 0 || store_list(s->st,
	    state != NULL ? &filter : NULL, before_seq, (int)limit + 1,
	    (int)offset, page_one, &page) == -1) {
		json_decref(page.items);
		respond_internal(resp, "cannot read the state store");
		return;
	}
	msgj = json_pack("{s:s, s:s, s:b, s:o, s:i, s:i, s:i}",
	    "action", "SubmissionListResponse",
	    "serverSparkVersion", PROTO_SERVER_SPARK_VERSION,
	    "success", 1, "submissions", page.items, "total", total,
	    "limit", (int)limit, "offset", (int)offset);
	if (msgj != NULL && before == NULL && offset + limit < total)
		json_object_set_new(msgj, "nextOffset",
		    json_integer(offset + limit));
	if (msgj != NULL && before != NULL)
		json_object_set_new(msgj, "before", json_string(before));
	if (msgj != NULL && page.rows > page.limit)
		json_object_set_new(msgj, "nextBefore",
		    json_string(page.last_id));
	respond_json(resp, 200, msgj);
}

static void
handle_logs(server *s, const api_request *req, const char *id,
    api_response *resp)
{
	const char *stream = req->query(req->query_ctx, "stream");
	char path[4096], msg[300];
	store_driver d;
	struct stat sb;
	int rc, fd;

	if (stream == NULL)
		stream = "stdout";
	if (strcmp(stream, "stdout") != 0 && strcmp(stream, "stderr") != 0) {
		api_respond_error(resp, 400, "Query parameter 'stream' must be "
		    "stdout or stderr.");
		return;
	}
	if ((rc = store_get_driver(s->st, id, &d)) <= 0) {
		if (rc < 0) {
			respond_internal(resp, "cannot read the state store");
			return;
		}
		snprintf(msg, sizeof(msg), "Submission %.200s does not exist.",
		    id);
		api_respond_error(resp, 404, msg);
		return;
	}
	store_driver_free(&d);
	resp->status = 200;
	resp->content_type = "text/plain;charset=utf-8";
	snprintf(path, sizeof(path), "%s/%s.%s", s->log_dir, id, stream);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		/* Not started yet: no output so far. */
		resp->body = strdup("");
		return;
	}
	if (fstat(fd, &sb) == -1) {
		close(fd);
		respond_internal(resp, "cannot read the driver's log");
		return;
	}
	resp->fd = fd;
	resp->fd_size = (uint64_t)sb.st_size;
}

/* --- dispatch -------------------------------------------------------- */

static void
method_not_allowed(const char *method, const char *allow,
    api_response *resp)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "HTTP method %.20s is not supported by this "
	    "URL; use %s.", method, allow);
	api_respond_error(resp, 405, msg);
	resp->allow = allow;
}

static int
handle_extension(server *s, const api_request *req, api_response *resp)
{
	if (strcmp(req->path, "/metrics") == 0) {
		if (strcmp(req->method, "GET") != 0 &&
		    strcmp(req->method, "HEAD") != 0) {
			method_not_allowed(req->method, "GET", resp);
			return 1;
		}
		resp->status = 200;
		resp->content_type = "text/plain; version=0.0.4;charset=utf-8";
		resp->body = metrics_render(s, &resp->body_len);
		if (resp->body == NULL)
			respond_internal(resp, "cannot render metrics");
		return 1;
	}
	return 0;
}

/* Paths open without credentials: probes and scrapers, and with
 * --public-dashboard the read-only views of gold (GET only: they render
 * aggregates, never submissions, logs or request bodies). */
static int
is_public(const server *s, const api_request *req)
{
	const char *path = req->path;

	if (strcmp(path, "/metrics") == 0 ||
	    strncmp(path, "/v1/submissions/readyz", 22) == 0)
		return 1;
	return s->public_dashboard && (strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0) && web_is_dashboard(req);
}

static const char *
allowed_method(proto_action a)
{
	switch (a) {
	case PROTO_ROUTE_STATUS:
	case PROTO_ROUTE_READYZ:
	case PROTO_ROUTE_LOGS:
	case PROTO_ROUTE_LIST:
		return "GET";
	default:
		return "POST";
	}
}

void
api_handle(server *s, const api_request *req, api_response *resp)
{
	const char *reason;
	proto_route r;

	memset(resp, 0, sizeof(*resp));
	resp->fd = -1;
	if (!is_public(s, req) && auth_check(&s->auth, req->authorization,
	    clock_now_us() / 1000000, &reason) == -1) {
		api_respond_error(resp, 403, reason);
		return;
	}
	if (handle_extension(s, req, resp) || web_handle(s, req, resp))
		return;
	proto_route_path(req->method, req->path, &r);
	if (r.action == PROTO_ROUTE_ERROR) {
		respond_json(resp, r.status, r.status == 468 ?
		    proto_error_version(r.message) : proto_error(r.message));
		return;
	}
	if (!r.method_ok) {
		method_not_allowed(req->method, allowed_method(r.action), resp);
		return;
	}
	if (r.status == 400) {
		api_respond_error(resp, 400, r.message);
		return;
	}
	switch (r.action) {
	case PROTO_ROUTE_CREATE: handle_create(s, req, resp); break;
	case PROTO_ROUTE_KILL: handle_kill(s, r.id, resp); break;
	case PROTO_ROUTE_STATUS: handle_status(s, req, r.id, resp); break;
	case PROTO_ROUTE_KILLALL: handle_killall(s, resp); break;
	case PROTO_ROUTE_CLEAR: handle_clear(s, resp); break;
	case PROTO_ROUTE_READYZ: handle_readyz(s, resp); break;
	case PROTO_ROUTE_LIST: handle_list(s, req, resp); break;
	case PROTO_ROUTE_LOGS: handle_logs(s, req, r.id, resp); break;
	default: respond_internal(resp, "unroutable request"); break;
	}
}
