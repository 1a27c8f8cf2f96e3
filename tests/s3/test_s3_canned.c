/*
 * test_s3_canned.c - the S3 client (stages/lake/s3.h) against answers a
 * real gateway gives only by accident: an in-process HTTP peer
 * (libmicrohttpd on loopback) that records each request and answers as
 * the case decides. What a real Ceph RGW does is tests/s3/client.sh's
 * job; this one checks what the client sends (the session token and the
 * payload header, signed; canonical query strings; Range and If-Match on
 * a resumed GET) and how it reads answers: 503 SlowDown and 500 retried
 * within the budget, 412 and other 4xx never, kinds and messages with
 * S3's code, a broken GET resumed, an ambiguous put-if-absent settled by
 * reading back, a failed multipart upload aborted, a completion that
 * answers 200 with an <Error> retried, many GETs at once each retried,
 * resumed or refused alone, a stalled answer timed out, parallel PUTs
 * and GETs overlapping, and quick answers seen at once.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "expect.h"
#include "s3.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define TOKEN "FwoGZXIvYXdzEXAMPLE/session+token=="
#define SEEN_MAX 64

/* One request as the peer saw it. */
typedef struct seen {
	char method[8];
	char uri[1024];
	char host[128];
	char auth[512];
	char token[128];
	char sha[80];
	char range[64];
	char if_match[160];
	char if_none_match[8];
	size_t body_len;
	char body[4096];
} seen;

/* An answer: break_at >= 0 sends the headers of a body_len body, then
 * closes the connection after break_at bytes of it. */
typedef struct answer {
	int status;
	const char *body;
	size_t body_len;
	const char *etag;
	char content_range[96];
	long break_at;
	unsigned delay_ms;
} answer;

typedef struct peer peer;
typedef answer (*decide_fn)(peer *p, const seen *req, size_t index);

struct peer {
	struct MHD_Daemon *daemon;
	unsigned port;
	pthread_mutex_t mu;
	decide_fn decide;
	seen seen[SEEN_MAX];
	size_t nseen;
	int in_flight;
	int max_in_flight;
	char stored[4096];	/* for the cases that keep an object */
	size_t stored_len;
	int aborts;
	int completes;
};

typedef struct conn {
	char uri[1024];
	char body[4096];
	size_t len;
	int started;
} conn;

static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
	conn *cc = calloc(1, sizeof(*cc));

	(void)cls;
	(void)con;
	if (cc != NULL)
		snprintf(cc->uri, sizeof(cc->uri), "%s", uri);
	return cc;
}

static void
on_done(void *cls, struct MHD_Connection *con, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)con;
	(void)toe;
	free(*con_cls);
	*con_cls = NULL;
}

static void
header(struct MHD_Connection *con, const char *name, char *out, size_t len)
{
	const char *v = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
	    name);

	snprintf(out, len, "%s", v != NULL ? v : "");
}

typedef struct broken {
	const char *data;
	size_t len;
	long break_at;
} broken;

static ssize_t
broken_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	broken *b = cls;
	size_t n;

	if ((long)pos >= b->break_at)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = (size_t)b->break_at - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(buf, b->data + pos, n);
	return (ssize_t)n;
}

static struct MHD_Response *
make_response(const answer *a)
{
	broken *b;

	if (a->break_at < 0)
		return MHD_create_response_from_buffer(a->body_len,
		    (void *)a->body, MHD_RESPMEM_MUST_COPY);
	b = malloc(sizeof(*b));
	if (b == NULL)
		return NULL;
	*b = (broken){ a->body, a->body_len, a->break_at };
	return MHD_create_response_from_callback(a->body_len, 4096,
	    broken_reader, b, free);
}

static void
record(struct MHD_Connection *con, const conn *cc, const char *method,
    seen *r)
{
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->uri, sizeof(r->uri), "%s", cc->uri);
	header(con, "Host", r->host, sizeof(r->host));
	header(con, "Authorization", r->auth, sizeof(r->auth));
	header(con, "x-amz-security-token", r->token, sizeof(r->token));
	header(con, "x-amz-content-sha256", r->sha, sizeof(r->sha));
	header(con, "Range", r->range, sizeof(r->range));
	header(con, "If-Match", r->if_match, sizeof(r->if_match));
	header(con, "If-None-Match", r->if_none_match,
	    sizeof(r->if_none_match));
	memcpy(r->body, cc->body, cc->len);
	r->body_len = cc->len;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *con, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_len, void **con_cls)
{
	peer *p = cls;
	conn *cc = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result rc;
	seen req;
	answer a;
	size_t index;

	(void)url;
	(void)version;
	if (cc == NULL)
		return MHD_NO;
	if (!cc->started) {
		cc->started = 1;
		return MHD_YES;
	}
	if (*upload_len > 0) {
		size_t room = sizeof(cc->body) - cc->len;
		size_t n = *upload_len < room ? *upload_len : room;

		memcpy(cc->body + cc->len, upload, n);
		cc->len += n;
		*upload_len = 0;
		return MHD_YES;
	}
	memset(&req, 0, sizeof(req));
	record(con, cc, method, &req);
	pthread_mutex_lock(&p->mu);
	index = p->nseen++;
	if (index < SEEN_MAX)
		p->seen[index] = req;
	if (++p->in_flight > p->max_in_flight)
		p->max_in_flight = p->in_flight;
	a = p->decide(p, &req, index);
	pthread_mutex_unlock(&p->mu);
	if (a.delay_ms > 0)
		usleep(a.delay_ms * 1000);
	pthread_mutex_lock(&p->mu);
	p->in_flight--;
	pthread_mutex_unlock(&p->mu);
	resp = make_response(&a);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "application/xml");
	if (a.etag != NULL)
		MHD_add_response_header(resp, "ETag", a.etag);
	if (a.content_range[0] != '\0')
		MHD_add_response_header(resp, "Content-Range",
		    a.content_range);
	rc = MHD_queue_response(con, (unsigned)a.status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static int
peer_start(peer *p)
{
	struct sockaddr_in sa = { 0 };
	const union MHD_DaemonInfo *info;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
	    on_request, p, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, p,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, p, MHD_OPTION_END);
	if (p->daemon == NULL)
		return -1;
	info = MHD_get_daemon_info(p->daemon, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL || info->port == 0)
		return -1;
	p->port = info->port;
	return 0;
}

/* Sets the case's answers and forgets what was seen. */
static void
peer_case(peer *p, decide_fn decide)
{
	pthread_mutex_lock(&p->mu);
	p->decide = decide;
	p->nseen = 0;
	p->max_in_flight = 0;
	p->stored_len = 0;
	p->aborts = 0;
	p->completes = 0;
	pthread_mutex_unlock(&p->mu);
}

static size_t
peer_count(peer *p)
{
	size_t n;

	pthread_mutex_lock(&p->mu);
	n = p->nseen;
	pthread_mutex_unlock(&p->mu);
	return n;
}

static answer
reply(int status, const char *body)
{
	answer a = { status, body, body != NULL ? strlen(body) : 0, NULL, "",
		-1, 0 };

	if (a.body == NULL)
		a.body = "";
	return a;
}

#define ERR_XML(code, msg) \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" code \
	"</Code><Message>" msg "</Message><RequestId>tx1</RequestId></Error>"

/* --- the client under test ---------------------------------------------- */

static s3_client *
client_for(const peer *p, int64_t budget_us, const char *token)
{
	s3_config cfg;
	s3_err err;
	s3_client *c;

	s3_config_defaults(&cfg);
	snprintf(cfg.endpoint, sizeof(cfg.endpoint), "http://127.0.0.1:%u",
	    p->port);
	cfg.path_style = 1;
	snprintf(cfg.access_key, sizeof(cfg.access_key), "AKIDEXAMPLE");
	snprintf(cfg.secret_key, sizeof(cfg.secret_key), "%s", SECRET);
	snprintf(cfg.session_token, sizeof(cfg.session_token), "%s",
	    token != NULL ? token : "");
	snprintf(cfg.credentials_from, sizeof(cfg.credentials_from),
	    "the test");
	cfg.retry_budget_us = budget_us;
	cfg.retry_base_us = 10000;
	cfg.retry_cap_us = 100000;
	cfg.stall_timeout_us = 1000000;
	c = s3_client_new(&cfg, "bucket", &err);
	s3_config_wipe(&cfg);
	if (c == NULL) {
		fprintf(stderr, "client: %s\n", err.msg);
		exit(1);
	}
	return c;
}

static void
expect_clean(const s3_err *err)
{
	EXPECT(strstr(err->msg, SECRET) == NULL &&
	    strstr(err->msg, TOKEN) == NULL, "a secret in: %s", err->msg);
}

/* --- what is sent -------------------------------------------------------- */

static answer
ok_empty(peer *p, const seen *req, size_t i)
{
	(void)p;
	(void)req;
	(void)i;
	return reply(200, "");
}

static void
case_headers(peer *p)
{
	s3_client *c = client_for(p, 1000000, TOKEN);
	s3_err err;
	seen *r = &p->seen[0];

	peer_case(p, ok_empty);
	EXPECT(s3_put(c, "dir/a b+c.json", "{}", 2, &err) == 0, "put: %s",
	    err.msg);
	EXPECT(strcmp(r->method, "PUT") == 0 &&
	    strcmp(r->uri, "/bucket/dir/a%20b%2Bc.json") == 0,
	    "path-style, key encoded: %s %s", r->method, r->uri);
	EXPECT(strcmp(r->token, TOKEN) == 0, "x-amz-security-token: '%s'",
	    r->token);
	EXPECT(strcmp(r->sha, "UNSIGNED-PAYLOAD") == 0,
	    "x-amz-content-sha256: '%s'", r->sha);
	EXPECT(strncmp(r->auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/",
	    40) == 0, "Authorization: %s", r->auth);
	EXPECT(strstr(r->auth, "x-amz-security-token") != NULL &&
	    strstr(r->auth, "x-amz-content-sha256") != NULL,
	    "the token and payload headers are signed: %s", r->auth);
	EXPECT(strstr(r->auth, SECRET) == NULL, "the secret is sent");
	EXPECT(r->body_len == 2 && memcmp(r->body, "{}", 2) == 0, "body");
	EXPECT(r->if_none_match[0] == '\0', "If-None-Match on a plain PUT");
	EXPECT(s3_put_if_absent(c, "k", "x", 1, &err) == 0 &&
	    strcmp(p->seen[1].if_none_match, "*") == 0,
	    "put-if-absent sends If-None-Match: *");
	s3_client_free(c);
}

/* AWS's virtual-hosted style: the bucket in the host name (curl sends
 * every *.localhost to loopback). */
static void
case_virtual_host(peer *p)
{
	s3_config cfg;
	s3_client *c;
	s3_err err;

	s3_config_defaults(&cfg);
	snprintf(cfg.endpoint, sizeof(cfg.endpoint), "http://localhost:%u",
	    p->port);
	snprintf(cfg.access_key, sizeof(cfg.access_key), "AKID");
	snprintf(cfg.secret_key, sizeof(cfg.secret_key), "%s", SECRET);
	c = s3_client_new(&cfg, "bucket", &err);
	if (c == NULL)
		exit(1);
	peer_case(p, ok_empty);
	EXPECT(s3_put(c, "a/b", "x", 1, &err) == 0, "put: %s", err.msg);
	EXPECT(strcmp(p->seen[0].uri, "/a/b") == 0 &&
	    strncmp(p->seen[0].host, "bucket.localhost:", 17) == 0,
	    "virtual-hosted: Host %s, path %s", p->seen[0].host,
	    p->seen[0].uri);
	s3_client_free(c);
	c = s3_client_new(&cfg, "my.bucket", &err);
	if (c == NULL)
		exit(1);
	peer_case(p, ok_empty);
	EXPECT(s3_put(c, "a/b", "x", 1, &err) == 0 &&
	    strcmp(p->seen[0].uri, "/my.bucket/a/b") == 0, "a bucket with a "
	    "dot goes path-style: %s", p->seen[0].uri);
	s3_client_free(c);
	s3_config_wipe(&cfg);
}

static answer
list_pages(peer *p, const seen *req, size_t i)
{
	static const char page1[] = "<?xml version=\"1.0\"?>"
	    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Name>bucket</Name><IsTruncated>true</IsTruncated>"
	    "<Contents><Key>a b/c/x+z</Key><Size>3</Size></Contents>"
	    "<Contents><Key>a b/c/y&amp;&#x20AC;</Key><Size>4</Size></Contents>"
	    "<NextContinuationToken>tok/+==</NextContinuationToken>"
	    "</ListBucketResult>";
	static const char page2[] = "<ListBucketResult><IsTruncated>false"
	    "</IsTruncated><Contents><Key>a b/c/z</Key><Size>5</Size>"
	    "</Contents></ListBucketResult>";

	(void)p;
	(void)req;
	return reply(200, i == 0 ? page1 : page2);
}

typedef struct listed {
	char keys[8][64];
	uint64_t sizes[8];
	size_t n;
} listed;

static int
on_listed(const char *key, uint64_t size, void *arg)
{
	listed *l = arg;

	if (l->n < 8) {
		snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
		l->sizes[l->n] = size;
	}
	l->n++;
	return 0;
}

static void
case_list_query(peer *p)
{
	s3_client *c = client_for(p, 1000000, NULL);
	listed l = { .n = 0 };
	s3_err err;

	peer_case(p, list_pages);
	EXPECT(s3_list(c, "a b/c/", "a b/c/x+y", on_listed, &l, &err) == 0,
	    "list: %s", err.msg);
	EXPECT(strcmp(p->seen[0].uri, "/bucket?list-type=2&prefix=a%20b%2Fc"
	    "%2F&start-after=a%20b%2Fc%2Fx%2By") == 0,
	    "first page's query sorted and encoded: %s", p->seen[0].uri);
	EXPECT(strcmp(p->seen[1].uri, "/bucket?continuation-token=tok%2F%2B"
	    "%3D%3D&list-type=2&prefix=a%20b%2Fc%2F") == 0,
	    "second page's query: %s", p->seen[1].uri);
	EXPECT(l.n == 3 && strcmp(l.keys[0], "a b/c/x+z") == 0 &&
	    strcmp(l.keys[1], "a b/c/y&\xe2\x82\xac") == 0 &&
	    strcmp(l.keys[2], "a b/c/z") == 0 && l.sizes[1] == 4 &&
	    l.sizes[2] == 5, "listed %zu keys, entities decoded", l.n);
	s3_client_free(c);
}

/* --- retries and kinds -------------------------------------------------- */

static answer
slow_down_twice(peer *p, const seen *req, size_t i)
{
	(void)p;
	(void)req;
	if (i < 2)
		return reply(503, ERR_XML("SlowDown", "Please reduce your "
		    "request rate."));
	return reply(200, "");
}

static answer
always_500(peer *p, const seen *req, size_t i)
{
	(void)p;
	(void)req;
	(void)i;
	return reply(500, ERR_XML("InternalError", "We encountered an "
	    "internal error. Please try again."));
}

static answer
request_timeout_once(peer *p, const seen *req, size_t i)
{
	(void)p;
	(void)req;
	return i == 0 ? reply(400, ERR_XML("RequestTimeout", "Your socket "
	    "connection to the server was not read from or written to "
	    "within the timeout period.")) : reply(200, "");
}

static answer
precondition(peer *p, const seen *req, size_t i)
{
	(void)p;
	(void)req;
	(void)i;
	return reply(412, ERR_XML("PreconditionFailed", "At least one of "
	    "the pre-conditions you specified did not hold"));
}

static answer
invalid_argument(peer *p, const seen *req, size_t i)
{
	(void)p;
	(void)req;
	(void)i;
	return reply(400, ERR_XML("InvalidArgument", "Invalid Argument"));
}

static answer
access_denied(peer *p, const seen *req, size_t i)
{
	(void)p;
	(void)req;
	(void)i;
	return reply(403, ERR_XML("AccessDenied", "Access Denied"));
}

static answer
no_such_key(peer *p, const seen *req, size_t i)
{
	(void)p;
	(void)req;
	(void)i;
	return reply(404, ERR_XML("NoSuchKey", "The specified key does not "
	    "exist."));
}

static answer
no_such_bucket(peer *p, const seen *req, size_t i)
{
	(void)p;
	(void)req;
	(void)i;
	return reply(404, ERR_XML("NoSuchBucket", "The specified bucket "
	    "does not exist"));
}

/* Runs a PUT (or put-if-absent) against decide: its error, the count. */
static size_t
put_against(peer *p, decide_fn decide, int if_absent, int64_t budget_us,
    s3_err *err)
{
	s3_client *c = client_for(p, budget_us, NULL);
	int rc;

	peer_case(p, decide);
	memset(err, 0, sizeof(*err));
	rc = if_absent ? s3_put_if_absent(c, "t/_delta_log/1.json", "x", 1,
	    err) : s3_put(c, "t/_delta_log/1.json", "x", 1, err);
	if (rc == 0)
		err->kind = S3_ERR_NONE;
	s3_client_free(c);
	printf("# %s\n", rc != 0 ? err->msg : "(success)");
	expect_clean(err);
	return peer_count(p);
}

static void
case_kinds(peer *p)
{
	s3_err err;
	size_t n;
	int64_t t0;

	n = put_against(p, slow_down_twice, 0, 5000000, &err);
	EXPECT(err.kind == S3_ERR_NONE && n == 3, "503 SlowDown twice, then "
	    "200: %s after %zu requests", s3_err_kind_name(err.kind), n);
	n = put_against(p, request_timeout_once, 0, 5000000, &err);
	EXPECT(err.kind == S3_ERR_NONE && n == 2, "400 RequestTimeout is "
	    "retried: %zu requests", n);

	t0 = clock_mono_us();
	n = put_against(p, always_500, 0, 300000, &err);
	EXPECT(err.kind == S3_ERR_TRANSIENT && n >= 3 &&
	    clock_mono_us() - t0 < 2000000, "500 until the budget of 0.3 s "
	    "runs out: %s after %zu requests", s3_err_kind_name(err.kind), n);
	EXPECT(strstr(err.msg, "s3://bucket/t/_delta_log/1.json") &&
	    strstr(err.msg, "HTTP 500 InternalError") &&
	    strstr(err.msg, "gave up after"), "the message names key, status, "
	    "code and attempts: %s", err.msg);
	EXPECT(err.http_status == 500 && strcmp(err.code, "InternalError") ==
	    0, "status %ld, code %s", err.http_status, err.code);

	n = put_against(p, precondition, 1, 5000000, &err);
	EXPECT(err.kind == S3_ERR_EXISTS && n == 1, "412 on put-if-absent: "
	    "%s after %zu requests", s3_err_kind_name(err.kind), n);
	n = put_against(p, precondition, 0, 5000000, &err);
	EXPECT(err.kind == S3_ERR_OTHER && n == 1, "412 on a plain PUT is "
	    "not 'exists': %s", s3_err_kind_name(err.kind));
	n = put_against(p, invalid_argument, 0, 5000000, &err);
	EXPECT(err.kind == S3_ERR_OTHER && n == 1 &&
	    strstr(err.msg, "HTTP 400 InvalidArgument (Invalid Argument)"),
	    "400 is final, with code and message: %s", err.msg);
	n = put_against(p, access_denied, 0, 5000000, &err);
	EXPECT(err.kind == S3_ERR_AUTH && n == 1 &&
	    strstr(err.msg, "AccessDenied"), "403: %s", err.msg);
	n = put_against(p, no_such_bucket, 0, 5000000, &err);
	EXPECT(err.kind == S3_ERR_NOT_FOUND && strstr(err.msg, "no such "
	    "bucket"), "404 NoSuchBucket: %s", err.msg);
}

static void
case_not_found(peer *p)
{
	s3_client *c = client_for(p, 1000000, NULL);
	uint8_t *data = NULL;
	size_t len;
	s3_err err;

	peer_case(p, no_such_key);
	EXPECT(s3_get_alloc(c, "nope", &data, &len, &err) == -1 &&
	    err.kind == S3_ERR_NOT_FOUND && peer_count(p) == 1,
	    "404 NoSuchKey: %s", s3_err_kind_name(err.kind));
	EXPECT(s3_delete(c, "nope", &err) == 0, "deleting an absent key");
	s3_client_free(c);
}

/* --- a broken GET, resumed ---------------------------------------------- */

static char big[100000];

static answer
broken_then_rest(peer *p, const seen *req, size_t i)
{
	answer a = reply(200, NULL);
	long from;

	(void)p;
	a.etag = "\"e1\"";
	if (i == 0) {
		a.body = big;
		a.body_len = sizeof(big);
		a.break_at = 30000;
		return a;
	}
	if (sscanf(req->range, "bytes=%ld-", &from) != 1 ||
	    strcmp(req->if_match, "\"e1\"") != 0)
		return reply(400, ERR_XML("InvalidRequest", "no resume"));
	a.status = 206;
	a.body = big + from;
	a.body_len = sizeof(big) - (size_t)from;
	snprintf(a.content_range, sizeof(a.content_range),
	    "bytes %ld-%zu/%zu", from, sizeof(big) - 1, sizeof(big));
	return a;
}

static void
case_resume(peer *p)
{
	s3_client *c = client_for(p, 5000000, NULL);
	uint8_t *data = NULL;
	size_t len = 0, i;
	s3_err err;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	peer_case(p, broken_then_rest);
	EXPECT(s3_get_alloc(c, "big", &data, &len, &err) == 0, "resumed GET: "
	    "%s", err.msg);
	EXPECT(len == sizeof(big) && memcmp(data, big, len) == 0,
	    "the bytes of a resumed GET: %zu", len);
	EXPECT(peer_count(p) == 2 && strcmp(p->seen[1].range,
	    "bytes=30000-") == 0, "the resume asked for '%s'",
	    p->seen[1].range);
	free(data);
	s3_client_free(c);
}

/* --- an ambiguous put-if-absent ---------------------------------------- */

/* The first PUT lands but its answer breaks; later ones find the key. */
static answer
landed_then_exists(peer *p, const seen *req, size_t i)
{
	answer a;

	if (strcmp(req->method, "GET") == 0) {
		a = reply(200, NULL);
		a.body = p->stored;
		a.body_len = p->stored_len;
		return a;
	}
	if (i == 0) {
		memcpy(p->stored, req->body, req->body_len);
		p->stored_len = req->body_len;
		a = reply(200, "0123456789");
		a.break_at = 0;
		return a;
	}
	return precondition(p, req, i);
}

/* As above, but another writer's bytes are there. */
static answer
other_writer(peer *p, const seen *req, size_t i)
{
	answer a = landed_then_exists(p, req, i);

	if (i == 0)
		memcpy(p->stored, "theirs", p->stored_len = 6);
	return a;
}

static void
case_ambiguous_create(peer *p)
{
	s3_err err;
	size_t n;

	n = put_against(p, landed_then_exists, 1, 5000000, &err);
	EXPECT(err.kind == S3_ERR_NONE && n == 3, "a broken answer, then 412, "
	    "then our own bytes read back: %s after %zu requests",
	    s3_err_kind_name(err.kind), n);
	n = put_against(p, other_writer, 1, 5000000, &err);
	EXPECT(err.kind == S3_ERR_EXISTS && n == 3, "another writer's bytes "
	    "there: %s", s3_err_kind_name(err.kind));
}

/* --- multipart ------------------------------------------------------------ */

static int part_fails;		/* the case: parts answer 400 */
static int complete_errors;	/* completions left to answer 200 <Error> */

/* Out of line: GCC 12's -Wstringop-overread misjudges strstr on the
 * record's array under the sanitizers. */
static __attribute__((noinline)) int
uri_has(const seen *req, const char *part)
{
	return strstr(req->uri, part) != NULL;
}

static answer
multipart(peer *p, const seen *req, size_t i)
{
	answer a;

	(void)i;
	if (strcmp(req->method, "POST") == 0 && uri_has(req, "?uploads="))
		return reply(200, "<InitiateMultipartUploadResult><Bucket>bucket"
		    "</Bucket><Key>big</Key><UploadId>up/1+x</UploadId>"
		    "</InitiateMultipartUploadResult>");
	if (strcmp(req->method, "PUT") == 0) {
		if (part_fails)
			return reply(400, ERR_XML("InvalidDigest", "bad part"));
		a = reply(200, "");
		a.etag = "\"abc\"";
		return a;
	}
	if (strcmp(req->method, "DELETE") == 0) {
		p->aborts++;
		return reply(204, "");
	}
	p->completes++;
	if (complete_errors > 0) {
		complete_errors--;
		return reply(200, ERR_XML("InternalError", "try again"));
	}
	return reply(200, "<CompleteMultipartUploadResult><ETag>\"x-3\""
	    "</ETag></CompleteMultipartUploadResult>");
}

static void
case_multipart(peer *p)
{
	size_t n = 11 * 1024 * 1024;
	uint8_t *data = calloc(1, n);
	s3_client *c;
	s3_config cfg;
	s3_err err;
	size_t i, parts = 0, encoded = 0;

	s3_config_defaults(&cfg);
	snprintf(cfg.endpoint, sizeof(cfg.endpoint), "http://127.0.0.1:%u",
	    p->port);
	cfg.path_style = 1;
	snprintf(cfg.access_key, sizeof(cfg.access_key), "AKID");
	snprintf(cfg.secret_key, sizeof(cfg.secret_key), "%s", SECRET);
	cfg.part_size = cfg.multipart_threshold = 5 * 1024 * 1024;
	cfg.retry_base_us = 1000;
	c = s3_client_new(&cfg, "bucket", &err);
	if (c == NULL || data == NULL)
		exit(1);

	part_fails = 1;
	peer_case(p, multipart);
	EXPECT(s3_put(c, "big", data, n, &err) == -1 &&
	    err.kind == S3_ERR_OTHER && strstr(err.msg, "InvalidDigest"),
	    "a part refused: %s", err.msg);
	EXPECT(p->aborts == 1 && p->completes == 0, "aborted %d, completed "
	    "%d", p->aborts, p->completes);
	printf("# %s\n", err.msg);

	part_fails = 0;
	complete_errors = 1;
	peer_case(p, multipart);
	EXPECT(s3_put(c, "big", data, n, &err) == 0, "multipart: %s",
	    err.msg);
	EXPECT(p->completes == 2 && p->aborts == 0, "a completion answering "
	    "200 <Error> is retried: %d completions", p->completes);
	for (i = 0; i < peer_count(p); i++) {
		parts += strcmp(p->seen[i].method, "PUT") == 0;
		encoded += strstr(p->seen[i].uri, "uploadId=up%2F1%2Bx") != NULL;
	}
	EXPECT(parts == 3 && encoded == 5, "3 parts, the upload id encoded "
	    "in 5 requests: %zu, %zu", parts, encoded);
	for (i = 0; i < peer_count(p); i++)
		if (strcmp(p->seen[i].method, "POST") == 0 &&
		    strstr(p->seen[i].uri, "uploadId=") != NULL)
			EXPECT(strstr(p->seen[i].body, "<Part><PartNumber>3"
			    "</PartNumber><ETag>\"abc\"</ETag></Part>") != NULL,
			    "the completion lists the parts: %s",
			    p->seen[i].body);
	free(data);
	s3_config_wipe(&cfg);
	s3_client_free(c);
}

/* --- many GETs at once ------------------------------------------------- */

/* How many requests before this one asked for the same URI. */
static size_t
earlier_for(const peer *p, const seen *req, size_t i)
{
	size_t n = 0;

	for (size_t j = 0; j < i && j < SEEN_MAX; j++)
		n += strcmp(p->seen[j].uri, req->uri) == 0;
	return n;
}

/* An object of big's bytes, answered to a suffix or an open range. */
static answer
part_of_big(const seen *req)
{
	answer a = reply(206, NULL);
	long from = 0, suffix;

	if (sscanf(req->range, "bytes=-%ld", &suffix) == 1)
		from = suffix < (long)sizeof(big) ? (long)sizeof(big) - suffix :
		    0;
	else if (sscanf(req->range, "bytes=%ld-", &from) != 1)
		return reply(400, ERR_XML("InvalidRange", "no range"));
	a.etag = "\"e2\"";
	a.body = big + from;
	a.body_len = sizeof(big) - (size_t)from;
	snprintf(a.content_range, sizeof(a.content_range),
	    "bytes %ld-%zu/%zu", from, sizeof(big) - 1, sizeof(big));
	return a;
}

/* g/ok answers; g/slow says SlowDown first; g/broken breaks off once;
 * g/missing and g/denied refuse. */
static answer
many_gets(peer *p, const seen *req, size_t i)
{
	size_t before = earlier_for(p, req, i);
	answer a;

	if (strstr(req->uri, "/g/missing") != NULL)
		return no_such_key(p, req, i);
	if (strstr(req->uri, "/g/denied") != NULL)
		return access_denied(p, req, i);
	if (strstr(req->uri, "/g/slow") != NULL && before == 0)
		return slow_down_twice(p, req, 0);
	a = part_of_big(req);
	if (strstr(req->uri, "/g/broken") != NULL && before == 0)
		a.break_at = 50000;
	if (strstr(req->uri, "/g/broken") != NULL && before > 0 &&
	    strcmp(req->if_match, "\"e2\"") != 0)
		return reply(400, ERR_XML("InvalidRequest", "no If-Match"));
	return a;
}

static size_t
count_uri(peer *p, const char *part)
{
	size_t n = 0;

	for (size_t j = 0; j < peer_count(p) && j < SEEN_MAX; j++)
		n += strstr(p->seen[j].uri, part) != NULL;
	return n;
}

static void
case_get_many(peer *p)
{
	static const char *keys[] = { "g/ok", "g/slow", "g/broken",
		"g/missing", "g/denied" };
	static uint8_t bufs[5][sizeof(big)];
	s3_client *c = client_for(p, 5000000, NULL);
	s3_get_item items[5];
	s3_err err;
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	peer_case(p, many_gets);
	for (i = 0; i < 5; i++)
		items[i] = (s3_get_item){ .key = keys[i], .len = sizeof(big),
			.tail = 1, .buf = bufs[i] };
	EXPECT(s3_get_many(c, items, 5, &err) == -1 && strstr(err.msg,
	    "GET of 5 objects: 2 failed; the first: GET s3://bucket/g/missing"),
	    "the call's error: %s", err.msg);
	printf("# %s\n", err.msg);
	expect_clean(&err);
	for (i = 0; i < 3; i++)
		EXPECT(items[i].err.kind == S3_ERR_NONE &&
		    items[i].got == sizeof(big) &&
		    items[i].object_size == sizeof(big) &&
		    memcmp(bufs[i], big, sizeof(big)) == 0, "%s: %s, %zu bytes",
		    keys[i], items[i].err.msg, items[i].got);
	EXPECT(count_uri(p, "/g/slow") == 2, "SlowDown retried: %zu requests",
	    count_uri(p, "/g/slow"));
	EXPECT(count_uri(p, "/g/broken") == 2, "a broken GET resumed: %zu "
	    "requests", count_uri(p, "/g/broken"));
	EXPECT(items[3].err.kind == S3_ERR_NOT_FOUND &&
	    items[3].err.http_status == 404 &&
	    strstr(items[3].err.msg, "GET s3://bucket/g/missing: HTTP 404 "
	    "NoSuchKey") != NULL && count_uri(p, "/g/missing") == 1,
	    "404: %s", items[3].err.msg);
	EXPECT(items[4].err.kind == S3_ERR_AUTH &&
	    strstr(items[4].err.msg, "AccessDenied") != NULL &&
	    count_uri(p, "/g/denied") == 1, "403, not retried: %s",
	    items[4].err.msg);
	s3_client_free(c);
}

/* --- timing: a stall, parallel PUTs ------------------------------------- */

static answer
stalls(peer *p, const seen *req, size_t i)
{
	answer a = reply(200, "");

	(void)p;
	(void)req;
	(void)i;
	a.delay_ms = 6000;
	return a;
}

static answer
slow_ok(peer *p, const seen *req, size_t i)
{
	answer a = reply(200, "");

	(void)p;
	(void)req;
	(void)i;
	a.delay_ms = 200;
	return a;
}

static void
timing_gets(peer *p, s3_client *c)
{
	s3_get_item items[16];
	char keys[16][32], bufs[16][8];
	int64_t t0, took;
	s3_err err;
	size_t i;

	peer_case(p, slow_ok);
	for (i = 0; i < 16; i++) {
		snprintf(keys[i], sizeof(keys[i]), "small/%02zu", i);
		items[i] = (s3_get_item){ .key = keys[i], .len = sizeof(bufs[i]),
			.tail = 1, .buf = bufs[i] };
	}
	t0 = clock_mono_us();
	EXPECT(s3_get_many(c, items, 16, &err) == 0, "get_many: %s", err.msg);
	took = clock_mono_us() - t0;
	printf("# 16 GETs answered after 200 ms each: %lld ms, at most %d "
	    "at once\n", (long long)took / 1000, p->max_in_flight);
	EXPECT(p->max_in_flight == 8 && took < 1500000, "8 at once: %d, %lld "
	    "ms", p->max_in_flight, (long long)took / 1000);
}

/*
 * Requests one after another to a peer that answers at once: a transfer
 * that curl finishes in one call must be seen finished then, not after
 * the engine's wait on the sockets timed out (100 ms each, as it was).
 */
static void
timing_no_stall(peer *p, s3_client *c)
{
	uint8_t buf[8];
	int64_t t0, took;
	size_t got;
	s3_err err;
	int i;

	peer_case(p, ok_empty);
	t0 = clock_mono_us();
	for (i = 0; i < 50; i++) {
		EXPECT(s3_put(c, "quick", "x", 1, &err) == 0, "put: %s",
		    err.msg);
		EXPECT(s3_get_tail(c, "quick", sizeof(buf), buf, &got, NULL,
		    &err) == 0, "get: %s", err.msg);
	}
	took = clock_mono_us() - t0;
	printf("# 50 PUTs and 50 GETs one after another, answered at once: "
	    "%lld ms\n", (long long)took / 1000);
	EXPECT(took < 1500000, "100 requests in %lld ms: a wait for nothing",
	    (long long)took / 1000);
}

static void
case_timing(peer *p)
{
	s3_client *c;
	s3_put_item items[16];
	char keys[16][32];
	int64_t t0, took;
	s3_err err;
	size_t n, i;

	t0 = clock_mono_us();
	n = put_against(p, stalls, 0, 200000, &err);
	took = clock_mono_us() - t0;
	EXPECT(err.kind == S3_ERR_TRANSIENT && n == 1 && took < 5000000,
	    "a stalled answer times out after the 1 s stall timeout (set "
	    "below): %s after %lld ms", s3_err_kind_name(err.kind),
	    (long long)took / 1000);

	/* The stalled answer's thread still sleeps: wait for it. */
	for (i = 0; i < 200; i++) {
		int busy;

		pthread_mutex_lock(&p->mu);
		busy = p->in_flight;
		pthread_mutex_unlock(&p->mu);
		if (!busy)
			break;
		usleep(50000);
	}
	c = client_for(p, 1000000, NULL);
	peer_case(p, slow_ok);
	memset(items, 0, sizeof(items));
	for (i = 0; i < 16; i++) {
		snprintf(keys[i], sizeof(keys[i]), "small/%02zu", i);
		items[i].key = keys[i];
		items[i].data = "x";
		items[i].len = 1;
	}
	t0 = clock_mono_us();
	EXPECT(s3_put_many(c, items, 16, &err) == 0, "put_many: %s", err.msg);
	took = clock_mono_us() - t0;
	printf("# 16 PUTs answered after 200 ms each: %lld ms, at most %d "
	    "at once\n", (long long)took / 1000, p->max_in_flight);
	EXPECT(p->max_in_flight == 8 && took < 1500000, "8 at once: %d, %lld "
	    "ms", p->max_in_flight, (long long)took / 1000);
	timing_gets(p, c);
	timing_no_stall(p, c);
	s3_client_free(c);
}

int
main(void)
{
	peer p;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (peer_start(&p) != 0) {
		fprintf(stderr, "cannot start the HTTP peer\n");
		return 1;
	}
	case_headers(&p);
	case_virtual_host(&p);
	case_list_query(&p);
	case_kinds(&p);
	case_not_found(&p);
	case_resume(&p);
	case_ambiguous_create(&p);
	case_multipart(&p);
	case_get_many(&p);
	case_timing(&p);
	MHD_stop_daemon(p.daemon);
	pthread_mutex_destroy(&p.mu);
	return expect_report("test_s3_canned");
}
