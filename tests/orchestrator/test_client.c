/*
 * test_client.c - unit tests of the orchestrator's REST client (client.c)
 * against a real HTTP peer on a loopback port that gives canned answers.
 *
 * Nothing is mocked: libcurl talks HTTP to a libmicrohttpd daemon running
 * in this process (the "canned" peer below). The test scripts the answers
 * (status, X-Medallion-Wait, body) the peer gives, in order, and the peer
 * records what it received (method, URL with its query, Authorization,
 * Content-Type, body), so a case asserts on both sides of the exchange.
 * Retry rules are checked by counting the requests the peer saw, never by
 * timing them; patience and timeouts are kept short through
 * orch_client_opts so the whole program runs in a second or two.
 *
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "client.h"
#include "expect.h"
#include "log.h"
#include "sha256.h"

#define MS 1000LL
#define ID "driver-20240501120000-0007"

/* One scripted answer; wait is X-Medallion-Wait's value, or NULL. */
typedef struct canned_answer {
	unsigned status;
	const char *wait;
	const char *body;
} canned_answer;

/* One request as the peer received it. */
typedef struct canned_request {
	char method[16];
	char uri[1024];		/* path and query, as sent */
	char auth[1024];	/* Authorization, "" when absent */
	char content_type[128];
	char body[4096];
} canned_request;

#define CANNED_MAX 16

/*
 * The peer: answers script[0], script[1], ... in order, repeating the
 * last once the script runs out; delay_ms holds each answer back (a
 * server too slow for the client's timeout). One thread per connection,
 * so a held answer does not hold the daemon.
 */
typedef struct canned {
	struct MHD_Daemon *daemon;
	unsigned port;
	pthread_mutex_t mu;
	canned_answer script[CANNED_MAX];
	size_t nscript;
	unsigned delay_ms;
	canned_request seen[CANNED_MAX];
	size_t nseen;		/* all requests, though only CANNED_MAX kept */
} canned;

/* Per request: the raw URI (MHD's URI log callback) and the body. */
typedef struct canned_conn {
	char uri[1024];
	char body[4096];
	size_t len;
	int started;
} canned_conn;

static void *
canned_on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	canned_conn *cc = calloc(1, sizeof(*cc));

	(void)cls;
	(void)con;
	if (cc != NULL)
		snprintf(cc->uri, sizeof(cc->uri), "%s", uri);
	return cc;
}

static void
canned_on_done(void *cls, struct MHD_Connection *con, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)con;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static void
copy_header(struct MHD_Connection *con, const char *name, char *out,
    size_t len)
{
	const char *v = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
	    name);

	snprintf(out, len, "%s", v != NULL ? v : "");
}

static enum MHD_Result
canned_on_request(void *cls, struct MHD_Connection *con, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **con_cls)
{
	canned *p = cls;
	canned_conn *cc = *con_cls;
	canned_answer a;
	canned_request *r;
	struct MHD_Response *resp;
	enum MHD_Result rc;
	unsigned delay;

	(void)url;
	(void)version;
	if (cc == NULL)
		return MHD_NO;
	if (!cc->started) {
		cc->started = 1;
		return MHD_YES;
	}
	if (*upload_len > 0) {
		size_t room = sizeof(cc->body) - 1 - cc->len;
		size_t n = *upload_len < room ? *upload_len : room;

		memcpy(cc->body + cc->len, upload, n);
		cc->len += n;
		cc->body[cc->len] = '\0';
		*upload_len = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&p->mu);
	if (p->nseen < CANNED_MAX) {
		r = &p->seen[p->nseen];
		snprintf(r->method, sizeof(r->method), "%s", method);
		snprintf(r->uri, sizeof(r->uri), "%s", cc->uri);
		snprintf(r->body, sizeof(r->body), "%s", cc->body);
		copy_header(con, "Authorization", r->auth, sizeof(r->auth));
		copy_header(con, "Content-Type", r->content_type,
		    sizeof(r->content_type));
	}
	a = p->script[p->nseen < p->nscript ? p->nseen : p->nscript - 1];
	p->nseen++;
	delay = p->delay_ms;
	pthread_mutex_unlock(&p->mu);
	if (delay > 0)
		usleep(delay * 1000);
	resp = MHD_create_response_from_buffer(strlen(a.body),
	    (void *)a.body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type",
	    "application/json;charset=UTF-8");
	if (a.wait != NULL)
		MHD_add_response_header(resp, "X-Medallion-Wait", a.wait);
	rc = MHD_queue_response(con, a.status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* Starts the peer on a free loopback port; 0 or -1. */
static int
canned_start(canned *p)
{
	struct sockaddr_in sa = { 0 };
	const union MHD_DaemonInfo *info;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    canned_on_request, p,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_URI_LOG_CALLBACK, canned_on_uri, p,
	    MHD_OPTION_NOTIFY_COMPLETED, canned_on_done, p,
	    MHD_OPTION_END);
	if (p->daemon == NULL)
		return -1;
	info = MHD_get_daemon_info(p->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0)
		return -1;
	p->port = info->port;
	return 0;
}

static void
canned_stop(canned *p)
{
	if (p->daemon != NULL)
		MHD_stop_daemon(p->daemon);
	pthread_mutex_destroy(&p->mu);
}

/* Replaces the script (n answers) and forgets what was seen. */
static void
canned_script(canned *p, const canned_answer *a, size_t n)
{
	pthread_mutex_lock(&p->mu);
	memcpy(p->script, a, n * sizeof(*a));
	p->nscript = n;
	p->nseen = 0;
	p->delay_ms = 0;
	pthread_mutex_unlock(&p->mu);
}

/* One answer, given to every request. */
static void
canned_always(canned *p, unsigned status, const char *wait, const char *body)
{
	canned_answer a = { status, wait, body };

	canned_script(p, &a, 1);
}

/* Holds each answer back ms (0: answers at once). */
static void
canned_delay(canned *p, unsigned ms)
{
	pthread_mutex_lock(&p->mu);
	p->delay_ms = ms;
	pthread_mutex_unlock(&p->mu);
}

static size_t
canned_count(canned *p)
{
	size_t n;

	pthread_mutex_lock(&p->mu);
	n = p->nseen;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* The i-th request seen (a copy: the peer's thread may still write). */
static canned_request
canned_seen(canned *p, size_t i)
{
	canned_request r = { 0 };

	pthread_mutex_lock(&p->mu);
	if (i < p->nseen && i < CANNED_MAX)
		r = p->seen[i];
	pthread_mutex_unlock(&p->mu);
	return r;
}

/* The test's context: the peer, and the files a client may read. */
typedef struct tctx {
	canned peer;
	char master[64];
	char dir[64];
	char token_file[128];
	char empty_file[128];
	char jws_file[128];
	uint8_t jws_key[32];
} tctx;

#define TOKEN "s3cret-Tok3n-never-logged"

static orch_client *
client_for(const char *master, const char *token_file, const char *jws_file,
    int64_t patience_us, int64_t timeout_us)
{
	orch_client_opts o = { 0 };
	char err[512] = "";
	orch_client *c;

	o.master = master;
	o.token_file = token_file;
	o.jws_secret_file = jws_file;
	o.patience_us = patience_us;
	o.request_timeout_us = timeout_us;
	if ((c = orch_client_new(&o, err, sizeof(err))) == NULL)
		fprintf(stderr, "orch_client_new: %s\n", err);
	return c;
}

/* A client of the peer with short patience, and no credential. */
static orch_client *
plain_client(tctx *t)
{
	return client_for(t->master, NULL, NULL, 300 * MS, 2000 * MS);
}

static json_t *
create_request(void)
{
	return json_pack("{s:s, s:s, s:s, s:[s], s:{s:s}, s:{}}",
	    "action", "CreateSubmissionRequest",
	    "clientSparkVersion", "3.5.1",
	    "appResource", "file:/opt/medallion/bin/ingestion",
	    "appArgs", "--once",
	    "sparkProperties", "spark.app.name", "ingestion",
	    "environmentVariables");
}

static int
has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

static void
test_valid_ids(void)
{
	static const char *good[] = {
		"driver-20240501120000-0007",
		"driver-20240501120000-00071",
		"driver-20240501120000-01234567890123456789",
	};
	static const char *bad[] = {
		"", "driver-", "driver-20240501120000-007",
		"driver-20240501120000-012345678901234567890",
		"driver-2024050112000-0007", "driver-20240501120000_0007",
		"driver-2024050112000x-0007", "driver-20240501120000-00a7",
		"app-20240501120000-0007", "DRIVER-20240501120000-0007",
		"driver-20240501120000-0007/../kill",
		"driver-20240501120000-0007?x=1", "driver-20240501120000-0007 ",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		EXPECT(orch_valid_submission_id(good[i]), "%s is valid",
		    good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT(!orch_valid_submission_id(bad[i]), "\"%s\" is not valid",
		    bad[i]);
	EXPECT(!orch_valid_submission_id(NULL), "NULL is not valid");
}

static void
test_new(void)
{
	orch_client_opts o = { 0 };
	char err[512] = "";
	orch_client *c;

	o.master = "ftp://127.0.0.1:1";
	EXPECT(orch_client_new(&o, err, sizeof(err)) == NULL &&
	    has(err, "ftp://127.0.0.1:1") && has(err, "http://"),
	    "a master that is not http(s) is refused, naming it: %s", err);
	o.master = "http://127.0.0.1:6066//";
	c = orch_client_new(&o, err, sizeof(err));
	EXPECT(c != NULL && strcmp(orch_client_master(c),
	    "http://127.0.0.1:6066") == 0, "trailing slashes go: %s",
	    c ? orch_client_master(c) : err);
	EXPECT(c == NULL || orch_client_wait_max_ms(c) == 0,
	    "no wait is offered before any answer");
	orch_client_free(c);
}

/* A create answered as Spark does, and the request as Spark expects it. */
static void
test_create_ok(tctx *t)
{
	orch_client *c = plain_client(t);
	json_t *req = create_request(), *sent;
	char id[64] = "", err[512] = "";
	canned_request r;
	orch_result rc;

	canned_always(&t->peer, 200, NULL, "{\"action\":"
	    "\"CreateSubmissionResponse\",\"message\":\"Driver successfully "
	    "submitted as " ID "\",\"serverSparkVersion\":\"3.5.1\","
	    "\"submissionId\":\"" ID "\",\"success\":true}");
	rc = orch_create(c, req, id, sizeof(id), err, sizeof(err));
	EXPECT(rc == ORCH_OK && strcmp(id, ID) == 0, "create gives the id: "
	    "%d %s %s", rc, id, err);
	EXPECT(canned_count(&t->peer) == 1, "one request: %zu",
	    canned_count(&t->peer));
	r = canned_seen(&t->peer, 0);
	EXPECT(strcmp(r.method, "POST") == 0 &&
	    strcmp(r.uri, "/v1/submissions/create") == 0,
	    "POST /v1/submissions/create: %s %s", r.method, r.uri);
	EXPECT(has(r.content_type, "application/json"),
	    "JSON content type: %s", r.content_type);
	EXPECT(r.auth[0] == '\0', "no credential, no Authorization: %s",
	    r.auth);
	sent = json_loads(r.body, 0, NULL);
	EXPECT(sent != NULL && json_equal(sent, req),
	    "the body is the request: %s", r.body);
	EXPECT(orch_client_wait_max_ms(c) == 0,
	    "a Spark master offers no wait: %lld",
	    (long long)orch_client_wait_max_ms(c));
	json_decref(sent);
	json_decref(req);
	orch_client_free(c);
}

/* One create against one canned answer: its kind, err and the id left. */
static orch_result
create_against(tctx *t, unsigned status, const char *body, char *err,
    size_t errlen, char *id, size_t idlen)
{
	orch_client *c = plain_client(t);
	json_t *req = create_request();
	orch_result rc;

	canned_always(&t->peer, status, NULL, body);
	snprintf(id, idlen, "untouched");
	err[0] = '\0';
	rc = orch_create(c, req, id, idlen, err, errlen);
	json_decref(req);
	orch_client_free(c);
	return rc;
}

static void
test_create_refused(tctx *t)
{
	char id[64], err[1024];
	orch_result rc;

	rc = create_against(t, 200, "{\"action\":\"CreateSubmissionResponse\","
	    "\"success\":false,\"message\":\"Current state is not alive: "
	    "STANDBY\"}", err, sizeof(err), id, sizeof(id));
	EXPECT(rc == ORCH_REFUSED && has(err, "refused") &&
	    has(err, "not alive: STANDBY") && strcmp(id, "untouched") == 0,
	    "success false is refused with the server's message: %d %s", rc,
	    err);
	EXPECT(canned_count(&t->peer) == 1, "a refusal is not retried: %zu",
	    canned_count(&t->peer));

	rc = create_against(t, 400, "{\"action\":\"ErrorResponse\","
	    "\"message\":\"Malformed request: missing appResource\"}", err,
	    sizeof(err), id, sizeof(id));
	EXPECT(rc == ORCH_REFUSED && has(err, "HTTP 400") &&
	    has(err, "missing appResource"),
	    "400 is refused, naming status and message: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) == 1, "a 400 is not retried: %zu",
	    canned_count(&t->peer));

	rc = create_against(t, 500, "{\"action\":\"ErrorResponse\","
	    "\"message\":\"Internal server error\"}", err, sizeof(err), id,
	    sizeof(id));
	EXPECT(rc == ORCH_REFUSED && has(err, "HTTP 500") &&
	    has(err, "Internal server error"),
	    "500 is refused, naming status and message: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) == 1,
	    "a 500 is an answer: never sent twice: %zu",
	    canned_count(&t->peer));

	rc = create_against(t, 500, "{\"action\":\"ErrorResponse\"}", err,
	    sizeof(err), id, sizeof(id));
	EXPECT(rc == ORCH_REFUSED && has(err, "HTTP 500") &&
	    has(err, "ErrorResponse"),
	    "without a message the body is named: %d %s", rc, err);
}

static void
test_create_bad_answers(tctx *t)
{
	char id[64], err[1024];
	orch_result rc;

	rc = create_against(t, 200, "<html>Bad Gateway</html>", err,
	    sizeof(err), id, sizeof(id));
	EXPECT(rc == ORCH_BAD_ANSWER && has(err, "not JSON") &&
	    has(err, "<html>Bad Gateway") && has(err, "200") &&
	    strcmp(id, "untouched") == 0,
	    "a body that is not JSON, quoted: %d %s", rc, err);

	rc = create_against(t, 200, "", err, sizeof(err), id, sizeof(id));
	EXPECT(rc == ORCH_BAD_ANSWER && has(err, "not JSON"),
	    "an empty body: %d %s", rc, err);

	rc = create_against(t, 200, "{\"success\":true,\"submissionId\":"
	    "\"driver-1-1\"}", err, sizeof(err), id, sizeof(id));
	EXPECT(rc == ORCH_BAD_ANSWER && has(err, "driver-1-1") &&
	    has(err, "not a Spark id") && strcmp(id, "untouched") == 0,
	    "an invalid submission id is not followed: %d %s", rc, err);

	rc = create_against(t, 200, "{\"success\":true,\"submissionId\":"
	    "\"../../kill/driver-20240501120000-0007\"}", err, sizeof(err), id,
	    sizeof(id));
	EXPECT(rc == ORCH_BAD_ANSWER && has(err, "not a Spark id") &&
	    strcmp(id, "untouched") == 0,
	    "a path in the id is not followed: %d %s", rc, err);

	/* Wrong shapes the client turns down rather than believing (their
	 * kind: test_error_answers). */
	rc = create_against(t, 200, "{\"success\":true,\"submissionId\":7}",
	    err, sizeof(err), id, sizeof(id));
	EXPECT(rc != ORCH_OK && strcmp(id, "untouched") == 0,
	    "a numeric submissionId is not an id: %d %s", rc, err);
	rc = create_against(t, 200, "{\"success\":\"true\",\"submissionId\":"
	    "\"" ID "\"}", err, sizeof(err), id, sizeof(id));
	EXPECT(rc != ORCH_OK && strcmp(id, "untouched") == 0,
	    "success must be the JSON true: %d %s", rc, err);
	rc = create_against(t, 200, "[\"" ID "\"]", err, sizeof(err), id,
	    sizeof(id));
	EXPECT(rc != ORCH_OK && strcmp(id, "untouched") == 0,
	    "an array is not an answer: %d %s", rc, err);
	rc = create_against(t, 201, "{\"success\":true,\"submissionId\":"
	    "\"" ID "\"}", err, sizeof(err), id, sizeof(id));
	EXPECT(rc != ORCH_OK && has(err, "201"),
	    "only a 200 accepts: %d %s", rc, err);
}

/* One status against one canned answer. */
static orch_result
status_against(tctx *t, unsigned status, const char *body, orch_status *st,
    char *err, size_t errlen)
{
	orch_client *c = plain_client(t);
	orch_result rc;

	canned_always(&t->peer, status, NULL, body);
	err[0] = '\0';
	rc = orch_status_get(c, ID, st, err, errlen);
	orch_client_free(c);
	return rc;
}

static void
test_status_states(tctx *t)
{
	static const struct {
		const char *name;
		driver_state state;
	} states[] = {
		{ "SUBMITTED", DRIVER_SUBMITTED },
		{ "RUNNING", DRIVER_RUNNING },
		{ "RELAUNCHING", DRIVER_RELAUNCHING },
		{ "FINISHED", DRIVER_FINISHED },
		{ "FAILED", DRIVER_FAILED },
		{ "ERROR", DRIVER_ERROR },
		{ "KILLED", DRIVER_KILLED },
		{ "UNKNOWN", DRIVER_UNKNOWN },
	};
	char body[512], err[512];
	orch_status st;
	canned_request r;
	orch_result rc;

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		snprintf(body, sizeof(body), "{\"action\":"
		    "\"SubmissionStatusResponse\",\"driverState\":\"%s\","
		    "\"serverSparkVersion\":\"3.5.1\",\"submissionId\":\"" ID
		    "\",\"success\":true,\"workerHostPort\":\"10.0.0.2:7078\","
		    "\"workerId\":\"worker-1\"}", states[i].name);
		rc = status_against(t, 200, body, &st, err, sizeof(err));
		EXPECT(rc == ORCH_OK && st.state == states[i].state &&
		    st.known == 1 && st.exit_code == -1,
		    "%s parses: rc %d state %s known %d exit %lld %s",
		    states[i].name, rc, driver_state_name(st.state), st.known,
		    (long long)st.exit_code, err);
	}
	r = canned_seen(&t->peer, 0);
	EXPECT(canned_count(&t->peer) == 1 && strcmp(r.method, "GET") == 0 &&
	    strcmp(r.uri, "/v1/submissions/status/" ID) == 0,
	    "GET /v1/submissions/status/<id>, no query: %s %s", r.method,
	    r.uri);

	rc = status_against(t, 200, "{\"driverState\":\"FAILED\",\"success\":"
	    "true,\"exitCode\":3,\"message\":\"Exception from the cluster:\\n"
	    "boom\"}", &st, err, sizeof(err));
	EXPECT(rc == ORCH_OK && st.state == DRIVER_FAILED && st.exit_code == 3 &&
	    strcmp(st.message, "Exception from the cluster:\nboom") == 0,
	    "exitCode and message are kept: %lld %s", (long long)st.exit_code,
	    st.message);
	rc = status_against(t, 200, "{\"driverState\":\"FINISHED\",\"success\":"
	    "true,\"exitCode\":\"0\"}", &st, err, sizeof(err));
	EXPECT(rc == ORCH_OK && st.exit_code == -1,
	    "an exitCode that is not an integer is not believed: %lld",
	    (long long)st.exit_code);
}

static void
test_status_not_found_and_bad(tctx *t)
{
	char err[512];
	orch_status st;
	orch_result rc;

	/* Spark's answer for an id it does not know (or no longer keeps). */
	rc = status_against(t, 200, "{\"action\":\"SubmissionStatusResponse\","
	    "\"serverSparkVersion\":\"3.5.1\",\"submissionId\":\"" ID "\","
	    "\"success\":false}", &st, err, sizeof(err));
	EXPECT(rc == ORCH_OK && st.state == DRIVER_NOT_FOUND && st.known == 0,
	    "success false without a state: not found: %d %s %d", rc,
	    driver_state_name(st.state), st.known);
	rc = status_against(t, 200, "{\"success\":false,\"driverState\":"
	    "\"NOT_FOUND\"}", &st, err, sizeof(err));
	EXPECT(rc == ORCH_OK && st.state == DRIVER_NOT_FOUND && st.known == 0,
	    "the Mesos dispatcher's NOT_FOUND: %d %s", rc,
	    driver_state_name(st.state));
	rc = status_against(t, 404, "{\"success\":false,\"message\":\"no such "
	    "submission\"}", &st, err, sizeof(err));
	EXPECT(rc == ORCH_OK && st.state == DRIVER_NOT_FOUND && st.known == 0,
	    "404: not found: %d %s", rc, driver_state_name(st.state));

	rc = status_against(t, 200, "{\"success\":true,\"driverState\":"
	    "\"BOGUS\"}", &st, err, sizeof(err));
	EXPECT(rc == ORCH_BAD_ANSWER && has(err, "BOGUS") && has(err, ID) &&
	    has(err, "unknown driverState"),
	    "a state the protocol lacks names it: %d %s", rc, err);
	rc = status_against(t, 200, "{\"success\":true}", &st, err,
	    sizeof(err));
	EXPECT(rc == ORCH_BAD_ANSWER && has(err, "no driverState"),
	    "success without a state: %d %s", rc, err);
	rc = status_against(t, 200, "{\"success\":true,\"driverState\":7}",
	    &st, err, sizeof(err));
	EXPECT(rc == ORCH_BAD_ANSWER && has(err, "driverState"),
	    "a state that is not a string: %d %s", rc, err);
	rc = status_against(t, 200, "RUNNING", &st, err, sizeof(err));
	EXPECT(rc == ORCH_BAD_ANSWER && has(err, "not JSON") &&
	    has(err, "RUNNING"), "a body that is not JSON: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) == 1, "a bad answer is not retried: %zu",
	    canned_count(&t->peer));
}

/* Ids that are not Spark's are never put into a URL: nothing is sent. */
static void
test_local_ids(tctx *t)
{
	orch_client *c = plain_client(t);
	char err[512] = "";
	orch_status st;
	orch_result rc;

	canned_always(&t->peer, 200, NULL, "{\"success\":true}");
	rc = orch_status_get(c, "driver-1/../../kill/x", &st, err, sizeof(err));
	EXPECT(rc == ORCH_LOCAL && has(err, "driver-1/../../kill/x") &&
	    has(err, "not a submission id"), "status of a bad id: %d %s", rc,
	    err);
	rc = orch_status_wait(c, "nope", DRIVER_RUNNING, 100, &st, err,
	    sizeof(err));
	EXPECT(rc == ORCH_LOCAL && has(err, "nope"), "wait on a bad id: %d %s",
	    rc, err);
	rc = orch_kill(c, "driver-x", err, sizeof(err));
	EXPECT(rc == ORCH_LOCAL && has(err, "driver-x"),
	    "kill of a bad id: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) == 0, "nothing sent: %zu",
	    canned_count(&t->peer));
	orch_client_free(c);
}

static void
test_kill(tctx *t)
{
	orch_client *c = plain_client(t);
	char err[512] = "";
	canned_request r;
	orch_result rc;

	canned_always(&t->peer, 200, NULL, "{\"action\":\"KillSubmissionResponse"
	    "\",\"message\":\"Kill request for " ID " submitted\","
	    "\"serverSparkVersion\":\"3.5.1\",\"submissionId\":\"" ID "\","
	    "\"success\":true}");
	rc = orch_kill(c, ID, err, sizeof(err));
	r = canned_seen(&t->peer, 0);
	EXPECT(rc == ORCH_OK, "kill answered success: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) == 1 && strcmp(r.method, "POST") == 0 &&
	    strcmp(r.uri, "/v1/submissions/kill/" ID) == 0,
	    "POST /v1/submissions/kill/<id>: %s %s", r.method, r.uri);

	canned_always(&t->peer, 200, NULL, "{\"success\":false,\"message\":"
	    "\"Driver " ID " has already finished or does not exist\"}");
	rc = orch_kill(c, ID, err, sizeof(err));
	EXPECT(rc == ORCH_REFUSED && has(err, "already finished") &&
	    has(err, ID), "kill refused names why: %d %s", rc, err);

	canned_always(&t->peer, 500, NULL, "oops");
	rc = orch_kill(c, ID, err, sizeof(err));
	EXPECT(rc == ORCH_BAD_ANSWER && has(err, "not JSON") &&
	    has(err, "500"), "kill answered garbage: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) == 1, "not retried: %zu",
	    canned_count(&t->peer));
	orch_client_free(c);
}

/*
 * X-Medallion-Wait: what the server offers comes from create and status
 * answers; orch_status_wait puts waitMs and knownState in the query.
 */
static void
test_long_poll(tctx *t)
{
	static const struct {
		const char *value;
		int64_t ms;
	} waits[] = {
		{ "30000", 30000 }, { "3600000", 3600000 }, { "3600001", 0 },
		{ "0", 0 }, { "-5", 0 }, { "soon", 0 },
	};
	orch_client *c = plain_client(t);
	json_t *req = create_request();
	char id[64] = "", err[512] = "";
	orch_status st;
	canned_request r;
	orch_result rc;

	canned_always(&t->peer, 200, "30000", "{\"success\":true,"
	    "\"submissionId\":\"" ID "\"}");
	rc = orch_create(c, req, id, sizeof(id), err, sizeof(err));
	EXPECT(rc == ORCH_OK && orch_client_wait_max_ms(c) == 30000,
	    "create's X-Medallion-Wait is the offer: %d %lld", rc,
	    (long long)orch_client_wait_max_ms(c));

	canned_always(&t->peer, 200, "30000", "{\"success\":true,"
	    "\"driverState\":\"FINISHED\",\"exitCode\":0}");
	rc = orch_status_wait(c, ID, DRIVER_RUNNING, 250, &st, err,
	    sizeof(err));
	r = canned_seen(&t->peer, 0);
	EXPECT(rc == ORCH_OK && st.state == DRIVER_FINISHED &&
	    st.exit_code == 0, "the long-poll's answer: %d %s", rc,
	    driver_state_name(st.state));
	EXPECT(strcmp(r.method, "GET") == 0 && strcmp(r.uri,
	    "/v1/submissions/status/" ID "?waitMs=250&knownState=RUNNING") == 0,
	    "waitMs and knownState in the query: %s", r.uri);

	canned_always(&t->peer, 200, "30000", "{\"success\":true,"
	    "\"driverState\":\"SUBMITTED\"}");
	orch_status_wait(c, ID, DRIVER_NOT_FOUND, 40, &st, err, sizeof(err));
	r = canned_seen(&t->peer, 0);
	EXPECT(strcmp(r.uri, "/v1/submissions/status/" ID "?waitMs=40") == 0,
	    "no state known yet: waitMs alone: %s", r.uri);
	canned_always(&t->peer, 200, "30000", "{\"success\":true,"
	    "\"driverState\":\"SUBMITTED\"}");
	orch_status_wait(c, ID, DRIVER_RUNNING, 0, &st, err, sizeof(err));
	r = canned_seen(&t->peer, 0);
	EXPECT(strcmp(r.uri, "/v1/submissions/status/" ID) == 0,
	    "wait_ms 0 is a plain status: %s", r.uri);

	/* A status answer without the header (a Spark master behind the
	 * same address) withdraws the offer. */
	canned_always(&t->peer, 200, NULL, "{\"success\":true,"
	    "\"driverState\":\"RUNNING\"}");
	rc = orch_status_get(c, ID, &st, err, sizeof(err));
	EXPECT(rc == ORCH_OK && orch_client_wait_max_ms(c) == 0,
	    "no header, no offer: %lld", (long long)orch_client_wait_max_ms(c));

	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		canned_always(&t->peer, 200, waits[i].value, "{\"success\":"
		    "true,\"driverState\":\"RUNNING\"}");
		orch_status_get(c, ID, &st, err, sizeof(err));
		EXPECT(orch_client_wait_max_ms(c) == waits[i].ms,
		    "X-Medallion-Wait: %s offers %lld, not %lld",
		    waits[i].value, (long long)waits[i].ms,
		    (long long)orch_client_wait_max_ms(c));
	}

	/* A kill answer's header is not an offer. */
	canned_always(&t->peer, 200, "30000", "{\"success\":true}");
	orch_kill(c, ID, err, sizeof(err));
	EXPECT(orch_client_wait_max_ms(c) == waits[5].ms,
	    "kill leaves the offer as it was: %lld",
	    (long long)orch_client_wait_max_ms(c));
	json_decref(req);
	orch_client_free(c);
}

/*
 * 503 means the server is starting or stopping and took nothing: retried
 * within the patience, create included. Any other answer is final.
 */
static void
test_503(tctx *t)
{
	static const canned_answer restart[] = {
		{ 503, NULL, "{\"action\":\"ErrorResponse\",\"message\":"
		    "\"Master is not ready.\"}" },
		{ 200, NULL, "{\"success\":true,\"submissionId\":\"" ID "\"}" },
	};
	static const canned_answer restart_status[] = {
		{ 503, NULL, "{\"action\":\"ErrorResponse\"}" },
		{ 503, NULL, "{\"action\":\"ErrorResponse\"}" },
		{ 200, NULL, "{\"success\":true,\"driverState\":\"RUNNING\"}" },
	};
	orch_client *c = client_for(t->master, NULL, NULL, 3000 * MS,
	    2000 * MS);
	json_t *req = create_request();
	char id[64] = "", err[512] = "";
	orch_status st;
	orch_result rc;

	canned_script(&t->peer, restart, 2);
	rc = orch_create(c, req, id, sizeof(id), err, sizeof(err));
	EXPECT(rc == ORCH_OK && strcmp(id, ID) == 0,
	    "a 503 then an answer: the answer: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) == 2, "503 retried once: %zu requests",
	    canned_count(&t->peer));

	canned_script(&t->peer, restart_status, 3);
	rc = orch_status_get(c, ID, &st, err, sizeof(err));
	EXPECT(rc == ORCH_OK && st.state == DRIVER_RUNNING,
	    "status after two 503s: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) == 3, "three requests: %zu",
	    canned_count(&t->peer));
	orch_client_free(c);

	/* A server that stays at 503: unreachable once patience is spent. */
	c = client_for(t->master, NULL, NULL, 300 * MS, 2000 * MS);
	canned_always(&t->peer, 503, NULL, "{\"action\":\"ErrorResponse\"}");
	rc = orch_create(c, req, id, sizeof(id), err, sizeof(err));
	EXPECT(rc == ORCH_UNREACHABLE && has(err, "503") &&
	    has(err, t->master), "503 throughout: unreachable: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) >= 2, "503 was retried: %zu requests",
	    canned_count(&t->peer));
	json_decref(req);
	orch_client_free(c);
}

/*
 * A timeout after the request left: a create may have been taken, so it
 * is not sent again; a status is harmless to repeat, so it is retried.
 */
static void
test_timeouts(tctx *t)
{
	orch_client *c = client_for(t->master, NULL, NULL, 600 * MS, 100 * MS);
	json_t *req = create_request();
	char id[64] = "", err[512] = "";
	orch_status st;
	orch_result rc;

	canned_always(&t->peer, 200, NULL, "{\"success\":true,"
	    "\"submissionId\":\"" ID "\",\"driverState\":\"RUNNING\"}");
	canned_delay(&t->peer, 400);
	rc = orch_create(c, req, id, sizeof(id), err, sizeof(err));
	EXPECT(rc == ORCH_UNREACHABLE && has(err, "cannot reach"),
	    "a create that timed out: unreachable: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) == 1,
	    "a create that timed out is never resent: %zu",
	    canned_count(&t->peer));

	canned_always(&t->peer, 200, NULL, "{\"success\":true,"
	    "\"driverState\":\"RUNNING\"}");
	canned_delay(&t->peer, 400);
	rc = orch_status_get(c, ID, &st, err, sizeof(err));
	EXPECT(rc == ORCH_UNREACHABLE && has(err, "cannot reach"),
	    "a status that keeps timing out: unreachable: %d %s", rc, err);
	EXPECT(canned_count(&t->peer) >= 2,
	    "a status that timed out is asked again: %zu",
	    canned_count(&t->peer));
	json_decref(req);
	orch_client_free(c);
}

/* No server on the port: unreachable after the patience, every call. */
static void
test_refused(tctx *t)
{
	struct sockaddr_in sa = { 0 };
	socklen_t len = sizeof(sa);
	char master[64], id[64] = "untouched", err[512] = "";
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	json_t *req = create_request();
	orch_client *c;
	orch_status st;
	orch_result rc;

	/* A bound socket that never listens: the port is ours, and a
	 * connection to it is refused. */
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
		EXPECT(0, "cannot bind a loopback socket");
		goto out;
	}
	snprintf(master, sizeof(master), "http://127.0.0.1:%u",
	    ntohs(sa.sin_port));
	c = client_for(master, t->token_file, NULL, 250 * MS, 1000 * MS);
	rc = orch_create(c, req, id, sizeof(id), err, sizeof(err));
	EXPECT(rc == ORCH_UNREACHABLE && has(err, "cannot reach") &&
	    has(err, master) && strcmp(id, "untouched") == 0,
	    "create, nobody listening: %d %s", rc, err);
	EXPECT(!has(err, TOKEN), "the token is not in the error: %s", err);
	rc = orch_status_get(c, ID, &st, err, sizeof(err));
	EXPECT(rc == ORCH_UNREACHABLE && has(err, "cannot reach"),
	    "status, nobody listening: %d %s", rc, err);
	rc = orch_kill(c, ID, err, sizeof(err));
	EXPECT(rc == ORCH_UNREACHABLE && has(err, "cannot reach"),
	    "kill, nobody listening: %d %s", rc, err);
	orch_client_free(c);
out:
	if (fd != -1)
		close(fd);
	json_decref(req);
}

/* A token file: the Authorization header carries it, errors never. */
static void
test_token(tctx *t)
{
	orch_client *c = client_for(t->master, t->token_file, NULL, 300 * MS,
	    2000 * MS);
	json_t *req = create_request();
	char id[64] = "", err[1024] = "";
	orch_status st;
	canned_request r;
	orch_result rc;

	canned_always(&t->peer, 200, NULL, "{\"success\":true,"
	    "\"submissionId\":\"" ID "\"}");
	rc = orch_create(c, req, id, sizeof(id), err, sizeof(err));
	r = canned_seen(&t->peer, 0);
	EXPECT(rc == ORCH_OK && strcmp(r.auth, "Bearer " TOKEN) == 0,
	    "create carries the token: %d [%s]", rc, r.auth);
	canned_always(&t->peer, 200, NULL, "{\"success\":true,"
	    "\"driverState\":\"RUNNING\"}");
	orch_status_wait(c, ID, DRIVER_SUBMITTED, 20, &st, err, sizeof(err));
	r = canned_seen(&t->peer, 0);
	EXPECT(strcmp(r.auth, "Bearer " TOKEN) == 0,
	    "status carries the token: [%s]", r.auth);
	canned_always(&t->peer, 200, NULL, "{\"success\":true}");
	orch_kill(c, ID, err, sizeof(err));
	r = canned_seen(&t->peer, 0);
	EXPECT(strcmp(r.auth, "Bearer " TOKEN) == 0,
	    "kill carries the token: [%s]", r.auth);

	canned_always(&t->peer, 403, NULL, "{\"action\":\"ErrorResponse\","
	    "\"message\":\"bad credential\"}");
	rc = orch_create(c, req, id, sizeof(id), err, sizeof(err));
	EXPECT(rc == ORCH_REFUSED && has(err, "403") && !has(err, TOKEN),
	    "a 403 says so without the token: %d %s", rc, err);
	canned_always(&t->peer, 200, NULL, "not json");
	rc = orch_create(c, req, id, sizeof(id), err, sizeof(err));
	EXPECT(rc == ORCH_BAD_ANSWER && !has(err, TOKEN),
	    "a bad answer without the token: %s", err);
	canned_always(&t->peer, 200, NULL, "{\"success\":true,"
	    "\"driverState\":\"NOPE\"}");
	rc = orch_status_get(c, ID, &st, err, sizeof(err));
	EXPECT(rc == ORCH_BAD_ANSWER && !has(err, TOKEN),
	    "a bad state without the token: %s", err);
	canned_always(&t->peer, 503, NULL, "{}");
	rc = orch_kill(c, ID, err, sizeof(err));
	EXPECT(rc == ORCH_UNREACHABLE && !has(err, TOKEN),
	    "unreachable without the token: %s", err);
	orch_client_free(c);

	/* A credential that cannot be read: ours, and nothing is sent. */
	c = client_for(t->master, t->empty_file, NULL, 300 * MS, 2000 * MS);
	canned_always(&t->peer, 200, NULL, "{\"success\":true}");
	rc = orch_create(c, req, id, sizeof(id), err, sizeof(err));
	EXPECT(rc == ORCH_LOCAL && has(err, t->empty_file) && has(err, "empty"),
	    "an empty token file: %d %s", rc, err);
	rc = orch_status_get(c, ID, &st, err, sizeof(err));
	EXPECT(rc == ORCH_LOCAL, "status with an empty token file: %d", rc);
	EXPECT(canned_count(&t->peer) == 0, "nothing sent: %zu",
	    canned_count(&t->peer));
	orch_client_free(c);
	json_decref(req);
}

/* A JWS secret: an HS256 token the server can verify, fresh each time. */
static void
test_jws(tctx *t)
{
	orch_client *c = client_for(t->master, NULL, t->jws_file, 300 * MS,
	    2000 * MS);
	char err[512] = "", sig[64], *dot, expect_head[64];
	uint8_t mac[SHA256_DIGEST_LEN];
	orch_status st;
	canned_request r;
	orch_result rc;

	canned_always(&t->peer, 200, NULL, "{\"success\":true,"
	    "\"driverState\":\"RUNNING\"}");
	rc = orch_status_get(c, ID, &st, err, sizeof(err));
	r = canned_seen(&t->peer, 0);
	base64url_encode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27,
	    expect_head, sizeof(expect_head));
	EXPECT(rc == ORCH_OK && strncmp(r.auth, "Bearer ", 7) == 0 &&
	    strncmp(r.auth + 7, expect_head, strlen(expect_head)) == 0,
	    "a JWS bearer: [%s]", r.auth);
	if ((dot = strrchr(r.auth, '.')) != NULL && strlen(r.auth) > 7) {
		hmac_sha256(t->jws_key, sizeof(t->jws_key), r.auth + 7,
		    (size_t)(dot - (r.auth + 7)), mac);
		base64url_encode(mac, sizeof(mac), sig, sizeof(sig));
		EXPECT(strcmp(dot + 1, sig) == 0,
		    "signed with the key: %s vs %s", dot + 1, sig);
	} else
		EXPECT(0, "no signature in [%s]", r.auth);
	orch_client_free(c);
}

/*
 * Two cases this test found where client.c departed from client.h, both
 * fixed: an error answer to a status is not "unknown submission", and a
 * create answer without an id is a bad answer, not a refusal.
 */
static void
test_error_answers(tctx *t)
{
	char id[64], err[1024];
	orch_status st;
	orch_result rc;

	/* An ErrorResponse to a status (no "success" field) is not the
	 * server saying it does not know the submission: answered as
	 * ORCH_OK with DRIVER_NOT_FOUND, a final state, a 403 from a
	 * rotated credential or a 500 ended the attempt as lost. */
	rc = status_against(t, 500, "{\"action\":\"ErrorResponse\","
	    "\"message\":\"Internal server error\"}", &st, err, sizeof(err));
	EXPECT(rc != ORCH_OK, "status answered 500 is not NOT_FOUND: "
	    "rc %d state %s known %d", rc, driver_state_name(st.state),
	    st.known);
	rc = status_against(t, 403, "{\"action\":\"ErrorResponse\","
	    "\"message\":\"bad credential\"}", &st, err, sizeof(err));
	EXPECT(rc == ORCH_REFUSED, "status answered 403 is refused: rc %d "
	    "state %s known %d", rc, driver_state_name(st.state), st.known);

	/* "The server answered no" is ORCH_REFUSED; an answer no Spark
	 * server gives is ORCH_BAD_ANSWER: a 200 saying success without an
	 * id, or JSON that is not an object. */
	rc = create_against(t, 200, "{\"success\":true}", err, sizeof(err), id,
	    sizeof(id));
	EXPECT(rc == ORCH_BAD_ANSWER, "success without submissionId is a bad "
	    "answer: %d %s", rc, err);
	rc = create_against(t, 200, "[\"" ID "\"]", err, sizeof(err), id,
	    sizeof(id));
	EXPECT(rc == ORCH_BAD_ANSWER, "a JSON array is a bad answer: %d %s",
	    rc, err);
}

/* The token, empty and JWS key files in a private temporary folder. */
static int
write_files(tctx *t)
{
	const char *tmp = getenv("TMPDIR");
	char key64[64];
	FILE *f;

	snprintf(t->dir, sizeof(t->dir), "%s/test_client.XXXXXX",
	    tmp != NULL && strlen(tmp) < 30 ? tmp : "/tmp");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->token_file, sizeof(t->token_file), "%s/token", t->dir);
	snprintf(t->empty_file, sizeof(t->empty_file), "%s/empty", t->dir);
	snprintf(t->jws_file, sizeof(t->jws_file), "%s/jws", t->dir);
	for (size_t i = 0; i < sizeof(t->jws_key); i++)
		t->jws_key[i] = (uint8_t)(i * 37 + 11);
	base64url_encode(t->jws_key, sizeof(t->jws_key), key64, sizeof(key64));
	if ((f = fopen(t->token_file, "w")) == NULL)
		return -1;
	fprintf(f, "%s\n", TOKEN);
	fclose(f);
	if ((f = fopen(t->empty_file, "w")) == NULL)
		return -1;
	fclose(f);
	if ((f = fopen(t->jws_file, "w")) == NULL)
		return -1;
	fprintf(f, "%s\n", key64);
	fclose(f);
	return 0;
}

static void
remove_files(tctx *t)
{
	unlink(t->token_file);
	unlink(t->empty_file);
	unlink(t->jws_file);
	rmdir(t->dir);
}

int
main(int argc, char **argv)
{
	static tctx t;

	(void)argc;
	(void)argv;
	log_init("test_client", 0);
	if (write_files(&t) == -1 || canned_start(&t.peer) == -1) {
		fprintf(stderr, "test_client: cannot set up the canned peer or "
		    "its files\n");
		remove_files(&t);
		return 1;
	}
	snprintf(t.master, sizeof(t.master), "http://127.0.0.1:%u",
	    t.peer.port);
	{
		test_valid_ids();
		test_new();
		test_create_ok(&t);
		test_create_refused(&t);
		test_create_bad_answers(&t);
		test_status_states(&t);
		test_status_not_found_and_bad(&t);
		test_local_ids(&t);
		test_kill(&t);
		test_long_poll(&t);
		test_503(&t);
		test_timeouts(&t);
		test_refused(&t);
		test_token(&t);
		test_jws(&t);
		test_error_answers(&t);
	}
	canned_stop(&t.peer);
	remove_files(&t);
	return expect_report("test_client");
}
