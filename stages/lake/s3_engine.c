/*
 * s3_engine.c - runs S3 requests ("jobs") through one curl multi handle:
 * up to max_parallel at once on kept-alive connections, each retried on
 * transient faults with jittered exponential back-off within a time
 * budget, each ending with a kind and a message.
 *
 * A job's life: s3_job_init, its fields, s3_engine_run; then the caller
 * reads job->err (kind S3_ERR_NONE on success), job->answer, job->status,
 * and calls s3_job_release. The engine's loop starts every job that is due
 * on a free easy handle, lets curl move bytes, and on each finished
 * transfer decides: done, failed for good, or due again after a back-off
 * (the delay doubles from retry_base_us to retry_cap_us; half of it is
 * random, so clients that failed together do not return together). A job
 * that would pass retry_budget_us since its first attempt gives up with
 * S3_ERR_TRANSIENT, or S3_ERR_UNREACHABLE when it never got a connection.
 *
 * Signing is curl's (CURLOPT_AWS_SIGV4). Ceph RGW 16 with curl 7.88 needs
 * two things of us (shared/reference/object-storage.md §3): the header
 * x-amz-content-sha256 on every request, and a query string that is
 * already canonical (s3_query_build), since curl signs it as written.
 *
 * A GET whose body goes to a sink is resumable: the engine counts the
 * bytes the sink has taken and, after a broken transfer, asks for the rest
 * (Range from there, If-Match the first answer's ETag so a replaced object
 * is not stitched to the old one); bytes an answer repeats are skipped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "s3_internal.h"
#include "s3_xml.h"

#define ANSWER_LIMIT ((size_t)64 * 1024 * 1024)
#define ERROR_BODY_LIMIT ((size_t)64 * 1024)
/*
 * A PUT body below this size goes as curl's POST fields under the PUT
 * method: curl 7.88 then sends it right behind the headers (in the same
 * write up to 64 KiB) and asks for no "100 Continue", which it does on
 * every upload, costing each small PUT a round trip more (and the
 * gateway a write). Dropping the header instead ("Expect:") does not
 * work: curl's SigV4 signs the header it then removes. A larger body
 * still waits to hear that the request is accepted before it is sent
 * (curl 8 draws the line at 1 MiB too).
 */
#define EXPECT_FROM_BYTES ((size_t)1024 * 1024)

int
s3_mem_append(s3_mem *m, const void *data, size_t n)
{
	size_t room, cap;
	char *grown;

	room = m->limit > m->len ? m->limit - m->len : 0;
	if (n > room) {
		m->truncated = 1;
		n = room;
	}
	if (m->len + n + 1 > m->cap) {
		cap = m->cap ? m->cap : 1024;
		while (cap < m->len + n + 1)
			cap *= 2;
		grown = realloc(m->data, cap);
		if (grown == NULL)
			return -1;
		m->data = grown;
		m->cap = cap;
	}
	memcpy(m->data + m->len, data, n);
	m->len += n;
	m->data[m->len] = '\0';
	return 0;
}

void
s3_mem_free(s3_mem *m)
{
	free(m->data);
	memset(m, 0, sizeof(*m));
}

long
s3_uri_encode(const char *in, int keep_slash, char *out, size_t out_len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in != '\0'; in++) {
		unsigned char ch = (unsigned char)*in;
		int plain = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' &&
		    ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		    ch == '_' || ch == '.' || ch == '~' ||
		    (ch == '/' && keep_slash);

		if (o + (plain ? 1 : 3) >= out_len)
			return -1;
		if (plain) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	if (o >= out_len)
		return -1;
	out[o] = '\0';
	return (long)o;
}

static int
param_cmp(const void *a, const void *b)
{
	return strcmp(((const s3_param *)a)->name,
	    ((const s3_param *)b)->name);
}

char *
s3_query_build(s3_param *params, size_t n)
{
	size_t cap = 1, i, o = 0;
	char *q;
	long w;

	for (i = 0; i < n; i++)
		cap += strlen(params[i].name) + 3 * strlen(params[i].value) +
		    2;
	q = malloc(cap);
	if (q == NULL)
		return NULL;
	qsort(params, n, sizeof(*params), param_cmp);
	for (i = 0; i < n; i++) {
		o += (size_t)snprintf(q + o, cap - o, "%s%s=",
		    i > 0 ? "&" : "", params[i].name);
		w = s3_uri_encode(params[i].value, 0, q + o, cap - o);
		if (w < 0) {
			free(q);
			return NULL;
		}
		o += (size_t)w;
	}
	q[o] = '\0';
	return q;
}

void
s3_job_init(s3_job *job, const char *method, const char *op,
    const char *key)
{
	memset(job, 0, sizeof(*job));
	job->method = method;
	job->op = op;
	snprintf(job->key, sizeof(job->key), "%s", key);
	job->total_size = -1;
	job->content_length = -1;
	job->next_offset = -1;
	job->answer.limit = ANSWER_LIMIT;
}

void
s3_job_release(s3_job *job)
{
	free(job->query);
	job->query = NULL;
	curl_slist_free_all(job->headers);
	job->headers = NULL;
	s3_mem_free(&job->answer);
}

/* --- one attempt: URL, headers, callbacks ------------------------------ */

/* The request's URL: owned string, NULL when out of memory. */
static char *
job_url(const s3_client *c, const s3_job *job)
{
	char path[3 * S3_KEY_MAX + 2] = "";
	const char *ep = c->cfg.endpoint, *host = strstr(ep, "://");
	const char *q = job->query != NULL && job->query[0] != '\0' ?
	    job->query : NULL;
	char *url;
	int rc;

	if (!job->bucket_request) {
		path[0] = '/';
		if (s3_uri_encode(job->key, 1, path + 1, sizeof(path) - 1) < 0)
			return NULL;
	}
	host = host != NULL ? host + 3 : ep;
	if (c->cfg.path_style)
		rc = asprintf(&url, "%s/%s%s%s%s", ep, c->bucket, path,
		    q ? "?" : "", q ? q : "");
	else
		rc = asprintf(&url, "%.*s%s.%s%s%s%s", (int)(host - ep), ep,
		    c->bucket, host, path[0] ? path : "/", q ? "?" : "",
		    q ? q : "");
	return rc < 0 ? NULL : url;
}

static int
add_header(s3_job *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
add_header(s3_job *job, const char *fmt, ...)
{
	struct curl_slist *l;
	char line[S3_TOKEN_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	l = curl_slist_append(job->headers, line);
	explicit_bzero(line, sizeof(line));
	if (l == NULL)
		return -1;
	job->headers = l;
	return 0;
}

/* The Range of this attempt: the job's, or the rest of a broken GET. */
static int
add_range_header(s3_job *job)
{
	if (job->delivered > 0) {
		/* The rest of a broken transfer, of the same object. */
		if (job->etag[0] != '\0' &&
		    add_header(job, "If-Match: %s", job->etag) != 0)
			return -1;
		if (job->has_range)
			return add_header(job, "Range: bytes=%" PRId64 "-%"
			    PRIu64, job->next_offset, job->range_last);
		return add_header(job, "Range: bytes=%" PRId64 "-",
		    job->next_offset);
	}
	if (job->has_range)
		return add_header(job, "Range: bytes=%" PRIu64 "-%" PRIu64,
		    job->range_first, job->range_last);
	if (job->suffix_len > 0)
		return add_header(job, "Range: bytes=-%" PRIu64,
		    job->suffix_len);
	return 0;
}

/* A PUT whose body goes with its headers (EXPECT_FROM_BYTES). */
static int
small_put(const s3_job *job)
{
	return strcmp(job->method, "PUT") == 0 &&
	    job->body_len < EXPECT_FROM_BYTES;
}

static int
job_headers(const s3_client *c, s3_job *job)
{
	curl_slist_free_all(job->headers);
	job->headers = NULL;
	if (add_header(job, "x-amz-content-sha256: UNSIGNED-PAYLOAD") != 0)
		return -1;
	if (c->cfg.session_token[0] != '\0' &&
	    add_header(job, "x-amz-security-token: %s",
	    c->cfg.session_token) != 0)
		return -1;
	if (job->if_none_match && add_header(job, "If-None-Match: *") != 0)
		return -1;
	if (job->content_type != NULL &&
	    add_header(job, "Content-Type: %s", job->content_type) != 0)
		return -1;
	/* Not the form type curl gives POST fields. */
	if (job->content_type == NULL && small_put(job) &&
	    add_header(job, "Content-Type: application/octet-stream") != 0)
		return -1;
	if (strcmp(job->method, "GET") == 0 && add_range_header(job) != 0)
		return -1;
	return 0;
}

/* "bytes FIRST-LAST/TOTAL" or "bytes * /TOTAL" (a 416). */
static void
parse_content_range(s3_job *job, const char *v)
{
	unsigned long long first, last, total;

	if (sscanf(v, "bytes %llu-%llu/%llu", &first, &last, &total) == 3) {
		job->answer_offset = (int64_t)first;
		job->total_size = (int64_t)total;
	} else if (sscanf(v, "bytes */%llu", &total) == 1) {
		job->total_size = (int64_t)total;
	}
}

/*
 * A body sent without waiting for "100 Continue" (small_put) may be left
 * unread when the server refuses the request (RGW answers a 403 or a 412
 * before reading it, and keeps the connection): the next request on it
 * would start with those bytes (RGW then answers 405). A refused
 * upload's connection is therefore closed, not reused. The flag is read
 * when the transfer ends, so setting it here, mid-transfer, takes.
 */
static void
forbid_reuse_after_refusal(s3_job *job, const char *line, size_t n)
{
	char status[4] = "";
	const char *sp = memchr(line, ' ', n);

	if (job->body_len == 0 || job->body_len >= EXPECT_FROM_BYTES ||
	    sp == NULL || (size_t)(sp - line) + 4 > n)
		return;
	memcpy(status, sp + 1, 3);
	if (status[0] != '1' && status[0] != '2')
		curl_easy_setopt(job->easy, CURLOPT_FORBID_REUSE, 1L);
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	s3_job *job = arg;
	size_t n = size * nmemb, vlen;
	char line[256], *v;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new answer (after a 100 Continue, too). */
		job->answer_offset = 0;
		job->total_size = -1;
		job->content_length = -1;
		forbid_reuse_after_refusal(job, data, n);
		return n;
	}
	if (n >= sizeof(line))
		return n;	/* no header we read is this long */
	memcpy(line, data, n);
	line[n] = '\0';
	v = strchr(line, ':');
	if (v == NULL)
		return n;
	*v++ = '\0';
	v += strspn(v, " \t");
	vlen = strcspn(v, "\r\n");
	v[vlen] = '\0';
	if (strcasecmp(line, "Content-Range") == 0)
		parse_content_range(job, v);
	else if (strcasecmp(line, "Content-Length") == 0)
		job->content_length = strtoll(v, NULL, 10);
	else if (strcasecmp(line, "ETag") == 0 && job->delivered == 0 &&
	    vlen < sizeof(job->etag))
		memcpy(job->etag, v, vlen + 1);	/* kept once bytes are in */
	return n;
}

/* The first absolute offset the sink wants, once an answer starts. */
static int64_t
first_wanted_offset(const s3_job *job, long status)
{
	int64_t total;

	if (job->has_range)
		return (int64_t)job->range_first;
	if (job->suffix_len == 0)
		return 0;
	if (status == 206)
		return job->answer_offset;
	/* A 200 to a suffix range: the whole object came; skip to its end. */
	total = job->content_length;
	return total > (int64_t)job->suffix_len ?
	    total - (int64_t)job->suffix_len : 0;
}

/* Hands the part of [abs, abs+n) the sink still wants to it. */
static size_t
deliver(s3_job *job, long status, const char *data, size_t n)
{
	int64_t abs, skip, end;
	size_t take;

	if (job->next_offset < 0)
		job->next_offset = first_wanted_offset(job, status);
	abs = job->answer_offset + (int64_t)job->answer_received;
	job->answer_received += n;
	end = abs + (int64_t)n;
	if (job->has_range && end > (int64_t)job->range_last + 1)
		end = (int64_t)job->range_last + 1;
	skip = job->next_offset - abs;
	if (skip < 0)
		return 0;	/* a gap: cannot happen with a sane server */
	if (end - abs <= skip)
		return n;
	take = (size_t)(end - abs - skip);
	if (job->sink(data + skip, take, job->sink_arg) != 0) {
		job->sink_stopped = 1;
		return 0;
	}
	job->next_offset += (int64_t)take;
	job->delivered += take;
	return n;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	s3_job *job = arg;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
	if (job->sink != NULL && status >= 200 && status < 300)
		return deliver(job, status, data, n);
	if (status < 200 || status >= 300)
		job->answer.limit = ERROR_BODY_LIMIT;
	return s3_mem_append(&job->answer, data, n) == 0 ? n : 0;
}

static size_t
on_upload(char *buf, size_t size, size_t nmemb, void *arg)
{
	s3_job *job = arg;
	size_t n = size * nmemb, left = job->body_len - job->body_sent;

	if (n > left)
		n = left;
	if (n == 0)
		return 0;
	memcpy(buf, job->body + job->body_sent, n);
	job->body_sent += n;
	return n;
}

static int
on_upload_seek(void *arg, curl_off_t offset, int origin)
{
	s3_job *job = arg;

	if (origin != SEEK_SET || offset < 0 ||
	    (uint64_t)offset > job->body_len)
		return CURL_SEEKFUNC_FAIL;
	job->body_sent = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static long
ms(int64_t us)
{
	return us > 0 ? (long)((us + 999) / 1000) : 1;
}

static void
setup_method(s3_job *job)
{
	CURL *e = job->easy;

	if (strcmp(job->method, "PUT") == 0 && !small_put(job)) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(e, CURLOPT_READDATA, job);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_upload_seek);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, job);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)job->body_len);
	} else if (small_put(job)) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(e, CURLOPT_POSTFIELDS,
		    job->body != NULL ? (const char *)job->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)job->body_len);
	} else if (strcmp(job->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS,
		    job->body != NULL ? (const char *)job->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)job->body_len);
	} else if (strcmp(job->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(job->method, "DELETE") == 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
}

/* Sets up job->easy for one attempt; -1 when out of memory. */
static int
setup_attempt(s3_client *c, s3_job *job)
{
	CURL *e = job->easy;
	char sigv4[96];
	char *url;

	url = job_url(c, job);
	if (url == NULL || job_headers(c, job) != 0) {
		free(url);
		return -1;
	}
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", c->cfg.region);
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);	/* curl keeps its own copy */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(e, CURLOPT_USERNAME, c->cfg.access_key);
	curl_easy_setopt(e, CURLOPT_PASSWORD, c->cfg.secret_key);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, job->headers);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    ms(c->cfg.connect_timeout_us));
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
	    ms(c->cfg.stall_timeout_us) / 1000 > 0 ?
	    ms(c->cfg.stall_timeout_us) / 1000 : 1L);
	if (c->cfg.ca_bundle[0] != '\0')
		curl_easy_setopt(e, CURLOPT_CAINFO, c->cfg.ca_bundle);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job->curl_error);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, job);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, job);
	curl_easy_setopt(e, CURLOPT_PRIVATE, job);
	setup_method(job);
	return 0;
}

/* --- outcome: classify, message ---------------------------------------- */

typedef enum outcome { OUTCOME_OK, OUTCOME_FAIL, OUTCOME_RETRY } outcome;

static outcome
classify_curl(s3_job *job, s3_err_kind *kind)
{
	curl_off_t connect_us = 0;

	*kind = S3_ERR_OTHER;
	switch (job->curl_rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		*kind = S3_ERR_UNREACHABLE;
		return OUTCOME_RETRY;
	case CURLE_OPERATION_TIMEDOUT:
		curl_easy_getinfo(job->easy, CURLINFO_CONNECT_TIME_T,
		    &connect_us);
		*kind = connect_us == 0 ? S3_ERR_UNREACHABLE :
		    S3_ERR_TRANSIENT;
		job->body_may_have_landed |= connect_us != 0;
		return OUTCOME_RETRY;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		*kind = S3_ERR_TRANSIENT;
		job->body_may_have_landed = 1;
		return OUTCOME_RETRY;
	case CURLE_WRITE_ERROR:
		/* The sink stopped, or an answer's buffer could not grow. */
		return OUTCOME_FAIL;
	default:
		return OUTCOME_FAIL;
	}
}

static int
code_is(const s3_job *job, const char *code)
{
	return strcmp(job->err.code, code) == 0;
}

static outcome
classify_http(s3_job *job, s3_err_kind *kind)
{
	long st = job->status;

	*kind = S3_ERR_OTHER;
	if (s3_xml_find(job->answer.data, job->answer.len, "Error/Code",
	    job->err.code, sizeof(job->err.code)) != 1)
		job->err.code[0] = '\0';
	/* CompleteMultipartUpload (a POST) may answer 200 and then an
	 * <Error>; any other 2xx is what it says. */
	if (st >= 200 && st < 300 && strcmp(job->method, "POST") != 0)
		job->err.code[0] = '\0';
	if (st >= 200 && st < 300 && job->err.code[0] == '\0')
		return OUTCOME_OK;
	if (st == 416 && job->accept_416)
		return OUTCOME_OK;
	if (st == 500 || st == 502 || st == 503 || st == 504 || st == 408 ||
	    st == 429 || (st >= 200 && st < 300) ||
	    code_is(job, "RequestTimeout") || code_is(job, "SlowDown") ||
	    code_is(job, "InternalError")) {
		*kind = S3_ERR_TRANSIENT;
		job->body_may_have_landed = 1;
		return OUTCOME_RETRY;
	}
	if (st == 412 && job->if_none_match)
		*kind = S3_ERR_EXISTS;
	else if (st == 404)
		*kind = S3_ERR_NOT_FOUND;
	else if (st == 401 || st == 403)
		*kind = S3_ERR_AUTH;
	return OUTCOME_FAIL;
}

static outcome
classify(s3_job *job, s3_err_kind *kind)
{
	if (job->sink_stopped) {
		*kind = S3_ERR_OTHER;
		return OUTCOME_FAIL;
	}
	if (job->curl_rc != CURLE_OK)
		return classify_curl(job, kind);
	return classify_http(job, kind);
}

static const char *
hint(const s3_client *c, const s3_job *job, s3_err_kind kind,
    char *buf, size_t len)
{
	switch (kind) {
	case S3_ERR_NOT_FOUND:
		return code_is(job, "NoSuchBucket") ?
		    "no such bucket: check the lake URI" : "no such key";
	case S3_ERR_EXISTS:
		return "the key exists already (If-None-Match: *)";
	case S3_ERR_AUTH:
		s3_format(buf, len, "credentials refused: check the access "
		    "key and secret (from %s), the region (%s) and the clock",
		    c->cfg.credentials_from, c->cfg.region);
		return buf;
	case S3_ERR_UNREACHABLE:
		s3_format(buf, len, "cannot reach %s: check "
		    "AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL) and that the "
		    "server runs", c->cfg.endpoint);
		return buf;
	case S3_ERR_TRANSIENT:
		return "the server kept failing: try again later";
	default:
		return job->sink_stopped ? "the reader stopped the transfer" :
		    "the request was refused";
	}
}

/* The message of a job that ended with kind. */
static void
job_fail(s3_client *c, s3_job *job, s3_err_kind kind, int gave_up)
{
	char server_msg[128] = "", tries[96] = "", answer[320], hbuf[400];
	const char *curl_msg;

	if (gave_up)
		s3_format(tries, sizeof(tries), " (gave up after %d attempt%s "
		    "in %.1f s)", job->attempts, job->attempts == 1 ? "" : "s",
		    (double)(clock_mono_us() - job->first_try_us) / 1e6);
	if (job->curl_rc != CURLE_OK) {
		curl_msg = job->curl_error[0] != '\0' ? job->curl_error :
		    curl_easy_strerror(job->curl_rc);
		s3_format(answer, sizeof(answer), "no HTTP answer (%.200s)",
		    job->sink_stopped ? "stopped by the reader" : curl_msg);
	} else {
		if (s3_xml_find(job->answer.data, job->answer.len,
		    "Error/Message", server_msg, sizeof(server_msg)) != 1)
			server_msg[0] = '\0';
		s3_format(answer, sizeof(answer), "HTTP %ld%s%s%s%s%s",
		    job->status, job->err.code[0] ? " " : "", job->err.code,
		    server_msg[0] ? " (" : "", server_msg,
		    server_msg[0] ? ")" : "");
	}
	s3_format(job->err.msg, sizeof(job->err.msg), "%s s3://%s/%.300s: "
	    "%s%s: %s", job->op, c->bucket, job->key, answer, tries,
	    hint(c, job, kind, hbuf, sizeof(hbuf)));
	job->err.kind = kind;
	job->err.http_status = job->curl_rc == CURLE_OK ? job->status : 0;
}

/* --- the loop ---------------------------------------------------------- */

static uint64_t
next_random(s3_client *c)
{
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return c->rng;
}

/* The n-th back-off: half of base * 2^(n-1) (capped), plus as much at
 * random. */
static int64_t
backoff_us(s3_client *c, int attempt)
{
	int64_t d = c->cfg.retry_base_us;
	int i;

	for (i = 1; i < attempt && d < c->cfg.retry_cap_us; i++)
		d *= 2;
	if (d > c->cfg.retry_cap_us)
		d = c->cfg.retry_cap_us;
	if (d < 2)
		return d;
	return d / 2 + (int64_t)(next_random(c) % (uint64_t)(d / 2 + 1));
}

static int
take_easy(s3_client *c, s3_job *job)
{
	int i;

	for (i = 0; i < c->cfg.max_parallel; i++) {
		if (!c->easy_busy[i]) {
			c->easy_busy[i] = 1;
			job->easy = c->easy[i];
			return 0;
		}
	}
	return -1;
}

static void
give_easy(s3_client *c, s3_job *job)
{
	int i;

	for (i = 0; i < c->cfg.max_parallel; i++)
		if (c->easy[i] == job->easy)
			c->easy_busy[i] = 0;
	job->easy = NULL;
}

static void
start_attempt(s3_client *c, s3_job *job)
{
	if (job->attempts == 0)
		job->first_try_us = clock_mono_us();
	job->attempts++;
	c->stats.requests++;
	if (job->attempts > 1)
		c->stats.retries++;
	job->status = 0;
	job->curl_rc = CURLE_OK;
	job->curl_error[0] = '\0';
	job->body_sent = 0;
	job->answer_received = 0;
	job->answer_offset = 0;
	job->answer.len = 0;
	job->answer.truncated = 0;
	job->answer.limit = ANSWER_LIMIT;
	job->err.code[0] = '\0';
	if (setup_attempt(c, job) != 0 ||
	    curl_multi_add_handle(c->multi, job->easy) != CURLM_OK) {
		give_easy(c, job);
		s3_err_set(&job->err, S3_ERR_OTHER, "%s s3://%s/%.300s: out "
		    "of memory setting up the request", job->op, c->bucket,
		    job->key);
		job->done = 1;
	}
}

/* A transfer ended: done, failed, or due again later. */
static void
end_attempt(s3_client *c, s3_job *job, CURLcode rc)
{
	curl_off_t up = 0, down = 0;
	s3_err_kind kind;
	int64_t now, delay;

	job->curl_rc = rc;
	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &job->status);
	curl_easy_getinfo(job->easy, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(job->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
	c->stats.bytes_up += (uint64_t)up;
	c->stats.bytes_down += (uint64_t)down;
	switch (classify(job, &kind)) {
	case OUTCOME_OK:
		job->err.kind = S3_ERR_NONE;
		job->err.msg[0] = '\0';
		job->err.http_status = job->status;
		job->done = 1;
		break;
	case OUTCOME_FAIL:
		job_fail(c, job, kind, 0);
		job->done = 1;
		break;
	case OUTCOME_RETRY:
		job->last_fault = kind;
		now = clock_mono_us();
		delay = backoff_us(c, job->attempts);
		if (now + delay - job->first_try_us > c->cfg.retry_budget_us) {
			job_fail(c, job, kind, 1);
			job->done = 1;
		} else {
			job->due_us = now + delay;
		}
		break;
	}
	curl_multi_remove_handle(c->multi, job->easy);
	give_easy(c, job);
}

/* Ends a job that had not finished: another failed (why NULL), or the
 * transfer loop itself broke (why says how). */
static void
cancel_job(s3_client *c, s3_job *job, const char *why)
{
	if (job->easy != NULL) {
		curl_multi_remove_handle(c->multi, job->easy);
		give_easy(c, job);
	}
	if (why != NULL)
		s3_err_set(&job->err, S3_ERR_OTHER, "%s s3://%s/%.300s: the "
		    "transfer loop failed: %s", job->op, c->bucket, job->key,
		    why);
	else
		s3_err_set(&job->err, S3_ERR_OTHER, "%s s3://%s/%.300s: "
		    "cancelled after another transfer of the same call failed",
		    job->op, c->bucket, job->key);
	job->cancelled = why == NULL;
	job->done = 1;
}

/* Starts the jobs that are due while handles are free; the time until
 * the next waiting one (or 1 s). */
static int64_t
start_due(s3_client *c, s3_job **jobs, size_t n, size_t *running)
{
	int64_t now = clock_mono_us(), wait = 1000000;
	size_t i;

	for (i = 0; i < n; i++) {
		s3_job *j = jobs[i];

		if (j->done || j->easy != NULL)
			continue;
		if (j->due_us > now) {
			if (j->due_us - now < wait)
				wait = j->due_us - now;
			continue;
		}
		if (take_easy(c, j) != 0)
			break;
		start_attempt(c, j);
		if (j->easy != NULL)
			(*running)++;
	}
	return wait;
}

/* Reads finished transfers: how many ended an attempt; *failed set when
 * a job failed for good. */
static size_t
collect_done(s3_client *c, size_t *running, int *failed)
{
	CURLMsg *m;
	size_t ended = 0;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		s3_job *job = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &job);
		end_attempt(c, job, m->data.result);
		(*running)--;
		ended++;
		*failed |= job->done && job->err.kind != S3_ERR_NONE;
	}
	return ended;
}

static size_t
count_failed(s3_job **jobs, size_t n)
{
	size_t i, failed = 0;

	for (i = 0; i < n; i++)
		failed += jobs[i]->err.kind != S3_ERR_NONE;
	return failed;
}

/*
 * The loop: start what is due, let curl move bytes, read what finished,
 * and wait on the sockets only when nothing did. A transfer that ends in
 * curl_multi_perform must be read before waiting: curl_multi_poll knows
 * sockets, not finished transfers, and would sleep its whole timeout
 * with the answer in hand (100 ms a call, measured, when it was read
 * after the wait).
 */
size_t
s3_engine_run(s3_client *c, s3_job **jobs, size_t n, int stop_on_failure)
{
	size_t running = 0, i, pending;
	CURLMcode mc = CURLM_OK;
	int64_t wait;
	int still, failed = 0;

	for (i = 0; i < n; i++)
		jobs[i]->due_us = 0;
	for (;;) {
		wait = start_due(c, jobs, n, &running);
		for (i = 0, pending = 0; i < n; i++)
			pending += !jobs[i]->done;
		if (pending == 0)
			break;
		mc = curl_multi_perform(c->multi, &still);
		if (mc != CURLM_OK)
			break;
		if (collect_done(c, &running, &failed) > 0) {
			if (failed && stop_on_failure)
				break;
			continue;	/* start the next before waiting */
		}
		/* Wake at least every 100 ms while transfers run. */
		mc = curl_multi_poll(c->multi, NULL, 0, (int)(running > 0 &&
		    wait > 100000 ? 100 : ms(wait)), NULL);
		if (mc != CURLM_OK)
			break;
	}
	for (i = 0; i < n; i++)
		if (!jobs[i]->done)
			cancel_job(c, jobs[i], mc != CURLM_OK ?
			    curl_multi_strerror(mc) : NULL);
	return count_failed(jobs, n);
}

int
s3_engine_run_one(s3_client *c, s3_job *job, s3_err *err)
{
	s3_job *jobs[1] = { job };

	if (s3_engine_run(c, jobs, 1, 0) == 0)
		return 0;
	if (err != NULL)
		*err = job->err;
	return -1;
}
