/*
 * client.c - libcurl calls for create/status/kill, with retries on
 * connection failures only.
 *
 * One curl easy handle is reused, so requests share a kept-alive
 * connection. The bearer credential is re-read (token) or re-signed (JWS,
 * five minutes of validity) per request, so rotating the file needs no
 * restart. Secrets never go to argv or logs.
 *
 * Each answer's X-Medallion-Wait header is read (on_header); create and
 * status keep it as what the server offers. A long-polled status gets
 * its wait added to the request timeout, and any request is abandoned
 * within about a second of a stop (a signal) by curl's progress callback.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "client.h"
#include "clock.h"
#include "log.h"
#include "pipeline.h"
#include "sha256.h"

struct orch_client {
	CURL *curl;
	orch_client_opts o;
	char *master;
	char body[1 << 16];
	size_t body_len;
	int truncated;
	int warned;		/* said once that the server is away */
	int64_t answer_wait_ms;	/* X-Medallion-Wait of the last answer */
	int64_t wait_max_ms;	/* what the server offers (create, status) */
};

#define WAIT_HEADER "x-medallion-wait:"

/* Headers of an answer, one line per call: only X-Medallion-Wait counts. */
static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	orch_client *c = arg;
	size_t len = size * n, hlen = strlen(WAIT_HEADER);
	char value[32];
	long long ms;

	if (len > hlen && len - hlen < sizeof(value) &&
	    strncasecmp(p, WAIT_HEADER, hlen) == 0) {
		memcpy(value, p + hlen, len - hlen);
		value[len - hlen] = '\0';
		ms = strtoll(value, NULL, 10);
		/* A value no server of ours sends is not trusted. */
		c->answer_wait_ms = ms > 0 && ms <= 3600000 ? ms : 0;
	}
	return len;
}

/* libcurl's progress callback: non-zero abandons the transfer. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	const orch_client *c = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return c->o.stop != NULL && *c->o.stop;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	orch_client *c = arg;
	size_t len = size * n, room = sizeof(c->body) - 1 - c->body_len;

	if (len > room) {
		c->truncated = 1;
		len = room;
	}
	memcpy(c->body + c->body_len, p, len);
	c->body_len += len;
	c->body[c->body_len] = '\0';
	return size * n;
}

orch_client *
orch_client_new(const orch_client_opts *o, char *err, size_t errlen)
{
	orch_client *c = calloc(1, sizeof(*c));
	size_t n;

	if (c == NULL || (c->curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "cannot initialise libcurl");
		free(c);
		return NULL;
	}
	c->o = *o;
	if ((c->master = strdup(o->master)) == NULL) {
		orch_client_free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	n = strlen(c->master);
	while (n > 0 && c->master[n - 1] == '/')
		c->master[--n] = '\0';
	if (strncmp(c->master, "http://", 7) != 0 &&
	    strncmp(c->master, "https://", 8) != 0) {
		snprintf(err, errlen, "master URL %s must start with http:// or "
		    "https://", c->master);
		orch_client_free(c);
		return NULL;
	}
	return c;
}

void
orch_client_free(orch_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	free(c->master);
	free(c);
}

const char *
orch_client_master(const orch_client *c)
{
	return c->master;
}

int64_t
orch_client_wait_max_ms(const orch_client *c)
{
	return c->wait_max_ms;
}

static int
digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
orch_valid_submission_id(const char *id)
{
	size_t n;

	if (id == NULL || strncmp(id, "driver-", 7) != 0)
		return 0;
	id += 7;
	if (strlen(id) < 14 + 1 + 4 || !digits(id, 14) || id[14] != '-')
		return 0;
	id += 15;
	n = strlen(id);
	return n >= 4 && n <= 20 && digits(id, n);
}

/* A secret file's first line; an empty one is an error. */
static int
read_secret(const char *path, char *out, size_t len, char *err,
    size_t errlen)
{
	size_t n;

	if (orch_read_first_line(path, out, len, err, errlen) == -1)
		return -1;
	n = strlen(out);
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "%s is empty", path);
		return -1;
	}
	return 0;
}

/* "Authorization: Bearer ..." into hdr, or "" without credentials. */
static int
auth_header(orch_client *c, char *hdr, size_t len, char *err, size_t errlen)
{
	char secret[1024], head[64], payload[128], sig[64], input[256];
	uint8_t key[512], mac[SHA256_DIGEST_LEN];
	long klen;
	int n;

	hdr[0] = '\0';
	if (c->o.token_file != NULL) {
		if (read_secret(c->o.token_file, secret, sizeof(secret), err,
		    errlen) == -1)
			return -1;
		snprintf(hdr, len, "Authorization: Bearer %s", secret);
		return 0;
	}
	if (c->o.jws_secret_file == NULL)
		return 0;
	if (read_secret(c->o.jws_secret_file, secret, sizeof(secret), err,
	    errlen) == -1)
		return -1;
	if ((klen = base64url_decode(secret, strlen(secret), key,
	    sizeof(key))) < 32) {
		snprintf(err, errlen, "%s: the JWS key must be base64url and at "
		    "least 256 bits", c->o.jws_secret_file);
		return -1;
	}
	base64url_encode("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27, head,
	    sizeof(head));
	n = snprintf(input, sizeof(input), "{\"exp\":%lld}",
	    (long long)time(NULL) + 300);
	base64url_encode(input, (size_t)n, payload, sizeof(payload));
	n = snprintf(input, sizeof(input), "%s.%s", head, payload);
	hmac_sha256(key, (size_t)klen, input, (size_t)n, mac);
	base64url_encode(mac, sizeof(mac), sig, sizeof(sig));
	snprintf(hdr, len, "Authorization: Bearer %s.%s", input, sig);
	return 0;
}

/* request()'s failures, below any HTTP status. */
#define REQUEST_UNREACHABLE (-1)	/* no answer within the patience */
#define REQUEST_LOCAL (-2)		/* the credential cannot be read */

/*
 * One request; wait_ms is how long the server may hold it (a long-poll),
 * added to the timeout. Connection-level failures are retried with
 * back-off (100 ms doubling to 5 s) until the patience is spent. Returns
 * the HTTP status, with the body in c->body, or REQUEST_UNREACHABLE or
 * REQUEST_LOCAL with err filled.
 */
static long
request(orch_client *c, const char *method, const char *path,
    const char *body, int64_t wait_ms, char *err, size_t errlen)
{
	char url[2048], auth[2048];
	int64_t deadline = clock_mono_us() + c->o.patience_us, backoff = 100000;
	struct curl_slist *hdrs = NULL;
	long code = -1;

	snprintf(url, sizeof(url), "%s%s", c->master, path);
	for (;;) {
		CURLcode rc;

		if (auth_header(c, auth, sizeof(auth), err, errlen) == -1)
			return REQUEST_LOCAL;
		hdrs = curl_slist_append(NULL,
		    "Content-Type: application/json;charset=UTF-8");
		if (auth[0])
			hdrs = curl_slist_append(hdrs, auth);
		curl_easy_reset(c->curl);
		curl_easy_setopt(c->curl, CURLOPT_URL, url);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
		curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
		curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
		    (long)(c->o.request_timeout_us / 1000 + wait_ms));
		curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
		if (body != NULL)
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		else if (strcmp(method, "POST") == 0)
			curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
		c->body_len = 0;
		c->body[0] = '\0';
		c->truncated = 0;
		c->answer_wait_ms = 0;
		rc = curl_easy_perform(c->curl);
		curl_slist_free_all(hdrs);
		memset(auth, 0, sizeof(auth));
		if (rc == CURLE_OK) {
			curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
			if (code != 503) {
				c->warned = 0;
				return code;
			}
			snprintf(err, errlen, "%s answered 503 (starting or "
			    "stopping)", c->master);
		} else
			snprintf(err, errlen, "cannot reach %s: %s", c->master,
			    curl_easy_strerror(rc));
		/* A create may have reached the server before a timeout: the
		 * caller must not resend it, so only connect errors retry. */
		if (rc != CURLE_OK && rc != CURLE_COULDNT_CONNECT &&
		    rc != CURLE_COULDNT_RESOLVE_HOST &&
		    !(rc == CURLE_OPERATION_TIMEDOUT && body == NULL))
			return REQUEST_UNREACHABLE;
		if (c->o.stop != NULL && *c->o.stop)
			return REQUEST_UNREACHABLE;
		if (clock_mono_us() + backoff > deadline)
			return REQUEST_UNREACHABLE;
		if (!c->warned) {
			log_warnx("%s; retrying for up to %.0f s", err,
			    c->o.patience_us / 1e6);
			c->warned = 1;
		}
		clock_sleep_us(backoff);
		backoff = backoff * 2 > 5000000 ? 5000000 : backoff * 2;
	}
}

static json_t *
parse_answer(orch_client *c, long code, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j = json_loads(c->body, 0, &jerr);

	if (j == NULL)
		snprintf(err, errlen, "%s answered %ld with a body that is not "
		    "JSON: %.200s", c->master, code, c->body);
	return j;
}

/* The kind of a failed request, from request()'s result. */
static orch_result
request_failure(long code)
{
	return code == REQUEST_LOCAL ? ORCH_LOCAL : ORCH_UNREACHABLE;
}

orch_result
orch_create(orch_client *c, json_t *req, char *id, size_t idlen, char *err,
    size_t errlen)
{
	char *body = json_dumps(req, JSON_COMPACT);
	long code;
	json_t *ans;
	const char *sid;
	orch_result rc = ORCH_REFUSED;

	if (body == NULL) {
		snprintf(err, errlen, "out of memory");
		return ORCH_LOCAL;
	}
	code = request(c, "POST", "/v1/submissions/create", body, 0, err,
	    errlen);
	free(body);
	if (code < 0)
		return request_failure(code);
	c->wait_max_ms = c->answer_wait_ms;
	if ((ans = parse_answer(c, code, err, errlen)) == NULL)
		return ORCH_BAD_ANSWER;
	sid = json_string_value(json_object_get(ans, "submissionId"));
	if (!json_is_object(ans) || (code == 200 && json_is_true(
	    json_object_get(ans, "success")) && sid == NULL)) {
		snprintf(err, errlen, "%s answered the submission with no "
		    "submissionId (HTTP %ld): %.200s", c->master, code, c->body);
		rc = ORCH_BAD_ANSWER;
	} else if (code == 200 && json_is_true(json_object_get(ans,
	    "success")) && !orch_valid_submission_id(sid)) {
		snprintf(err, errlen, "%s accepted the submission but answered "
		    "a submissionId that is not a Spark id (driver-"
		    "YYYYMMDDHHMMSS-NNNN): \"%.80s\"; not following it",
		    c->master, sid);
		rc = ORCH_BAD_ANSWER;
	} else if (code == 200 && json_is_true(json_object_get(ans,
	    "success")) && sid != NULL) {
		snprintf(id, idlen, "%s", sid);
		rc = ORCH_OK;
	} else
		snprintf(err, errlen, "the server refused the submission "
		    "(HTTP %ld): %s", code, json_string_value(json_object_get(
		    ans, "message")) ?: c->body);
	json_decref(ans);
	return rc;
}

orch_result
orch_status_get(orch_client *c, const char *id, orch_status *st, char *err,
    size_t errlen)
{
	return orch_status_wait(c, id, DRIVER_NOT_FOUND, 0, st, err, errlen);
}

orch_result
orch_status_wait(orch_client *c, const char *id, driver_state known,
    int64_t wait_ms, orch_status *st, char *err, size_t errlen)
{
	char path[512];
	long code;
	json_t *ans, *ex;
	const char *state, *msg;

	memset(st, 0, sizeof(*st));
	st->exit_code = -1;
	if (!orch_valid_submission_id(id)) {
		snprintf(err, errlen, "\"%.80s\" is not a submission id "
		    "(driver-YYYYMMDDHHMMSS-NNNN)", id);
		return ORCH_LOCAL;
	}
	if (wait_ms > 0 && known != DRIVER_NOT_FOUND)
		snprintf(path, sizeof(path), "/v1/submissions/status/%s?waitMs="
		    "%lld&knownState=%s", id, (long long)wait_ms,
		    driver_state_name(known));
	else if (wait_ms > 0)
		snprintf(path, sizeof(path), "/v1/submissions/status/%s?waitMs="
		    "%lld", id, (long long)wait_ms);
	else
		snprintf(path, sizeof(path), "/v1/submissions/status/%s", id);
	code = request(c, "GET", path, NULL, wait_ms, err, errlen);
	if (code < 0)
		return request_failure(code);
	c->wait_max_ms = c->answer_wait_ms;
	if ((ans = parse_answer(c, code, err, errlen)) == NULL)
		return ORCH_BAD_ANSWER;
	state = json_string_value(json_object_get(ans, "driverState"));
	msg = json_string_value(json_object_get(ans, "message"));
	snprintf(st->message, sizeof(st->message), "%s", msg ? msg : "");
	/*
	 * Spark answers an unknown id with HTTP 200 and success:false (a
	 * 404 from others). Any other answer without a state is an error
	 * (a 403 after a credential changed, a 500), never "unknown": that
	 * is final, and would give up a driver that still runs.
	 */
	if (code == 404 || (code == 200 && !json_is_true(json_object_get(ans,
	    "success")) && (state == NULL || strcmp(state, "NOT_FOUND") ==
	    0))) {
		st->state = DRIVER_NOT_FOUND;
		st->known = 0;
	} else if (code != 200) {
		snprintf(err, errlen, "status of %s: the server answered HTTP "
		    "%ld: %.200s", id, code, msg ? msg : c->body);
		json_decref(ans);
		return ORCH_REFUSED;
	} else if (state == NULL || driver_state_parse(state, &st->state) ==
	    -1) {
		snprintf(err, errlen, "status of %s: %s driverState in the "
		    "answer (HTTP %ld)%s%.40s", id, state ? "an unknown" : "no",
		    code, state ? ": " : "", state ? state : "");
		json_decref(ans);
		return ORCH_BAD_ANSWER;
	} else {
		st->known = 1;
	}
	if (json_is_integer(ex = json_object_get(ans, "exitCode")))
		st->exit_code = json_integer_value(ex);
	json_decref(ans);
	return ORCH_OK;
}

orch_result
orch_kill(orch_client *c, const char *id, char *err, size_t errlen)
{
	char path[512];
	long code;
	json_t *ans;
	orch_result rc;

	if (!orch_valid_submission_id(id)) {
		snprintf(err, errlen, "\"%.80s\" is not a submission id "
		    "(driver-YYYYMMDDHHMMSS-NNNN)", id);
		return ORCH_LOCAL;
	}
	snprintf(path, sizeof(path), "/v1/submissions/kill/%s", id);
	code = request(c, "POST", path, NULL, 0, err, errlen);
	if (code < 0)
		return request_failure(code);
	if ((ans = parse_answer(c, code, err, errlen)) == NULL)
		return ORCH_BAD_ANSWER;
	rc = json_is_true(json_object_get(ans, "success")) ? ORCH_OK :
	    ORCH_REFUSED;
	if (rc != ORCH_OK)
		snprintf(err, errlen, "kill %s: %s", id, json_string_value(
		    json_object_get(ans, "message")) ?: c->body);
	json_decref(ans);
	return rc;
}
