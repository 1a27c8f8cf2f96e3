/*
 * s3.c - the S3 client's object and bucket operations: the client itself,
 * HEAD, ranged and whole GETs, PUT, put-if-absent, DELETE and listing.
 *
 * Each operation fills one or more jobs (s3_internal.h) and hands them to
 * the engine (s3_engine.c), which sends, retries and classifies; this file
 * only says what to ask and how to read the answer. Keys are checked
 * (s3_key_check) before anything is sent, so a bad key is a configuration
 * error and never a confusing answer from the server.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "s3_internal.h"
#include "s3_xml.h"

#define MIB ((size_t)1024 * 1024)
#define PART_MIN (5 * MIB)
#define PART_MAX ((size_t)5 * 1024 * MIB)

/* --- the client -------------------------------------------------------- */

static int
config_check(const s3_config *cfg, s3_err *err)
{
	if (cfg->endpoint[0] == '\0' || cfg->access_key[0] == '\0' ||
	    cfg->secret_key[0] == '\0') {
		s3_err_set(err, S3_ERR_CONFIG, "S3 settings lack an endpoint, "
		    "an access key or a secret (s3_config_from_env fills "
		    "them)");
		return -1;
	}
	if (cfg->max_parallel < 1 || cfg->max_parallel > 64) {
		s3_err_set(err, S3_ERR_CONFIG, "max_parallel %d: choose 1 to "
		    "64 transfers at once", cfg->max_parallel);
		return -1;
	}
	if (cfg->part_size < PART_MIN || cfg->part_size > PART_MAX) {
		s3_err_set(err, S3_ERR_CONFIG, "part size %zu: S3 parts have "
		    "5 MiB to 5 GiB", cfg->part_size);
		return -1;
	}
	if (cfg->retry_budget_us < 0 || cfg->retry_base_us < 0 ||
	    cfg->retry_cap_us < cfg->retry_base_us) {
		s3_err_set(err, S3_ERR_CONFIG, "retry times must not be "
		    "negative, and the cap not below the base");
		return -1;
	}
	return 0;
}

static int
client_handles(s3_client *c)
{
	int i;

	c->multi = curl_multi_init();
	c->easy = calloc((size_t)c->cfg.max_parallel, sizeof(*c->easy));
	c->easy_busy = calloc((size_t)c->cfg.max_parallel,
	    sizeof(*c->easy_busy));
	if (c->multi == NULL || c->easy == NULL || c->easy_busy == NULL)
		return -1;
	for (i = 0; i < c->cfg.max_parallel; i++)
		if ((c->easy[i] = curl_easy_init()) == NULL)
			return -1;
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)c->cfg.max_parallel);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
	    (long)c->cfg.max_parallel);
	return 0;
}

s3_client *
s3_client_new(const s3_config *cfg, const char *bucket, s3_err *err)
{
	s3_client *c;
	char why[256];

	if (config_check(cfg, err) != 0 ||
	    s3_bucket_check(bucket, strlen(bucket), err) != 0)
		return NULL;
	if (s3_curl_load(why, sizeof(why)) != 0) {
		s3_err_set(err, S3_ERR_CONFIG, "%s", why);
		return NULL;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		s3_err_set(err, S3_ERR_OTHER, "cannot initialise libcurl");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		curl_global_cleanup();
		s3_err_set(err, S3_ERR_OTHER, "out of memory for an S3 client");
		return NULL;
	}
	c->cfg = *cfg;
	snprintf(c->bucket, sizeof(c->bucket), "%s", bucket);
	/* bucket.with.dots.s3.amazonaws.com matches no certificate. */
	if (strchr(bucket, '.') != NULL)
		c->cfg.path_style = 1;
	c->rng = (uint64_t)clock_mono_us() ^ ((uint64_t)getpid() << 32) ^
	    (uint64_t)(uintptr_t)c;
	if (c->rng == 0)
		c->rng = 0x9E3779B97F4A7C15ULL;
	if (client_handles(c) != 0) {
		s3_client_free(c);
		s3_err_set(err, S3_ERR_OTHER, "out of memory for an S3 "
		    "client's curl handles");
		return NULL;
	}
	return c;
}

void
s3_client_free(s3_client *c)
{
	int i;

	if (c == NULL)
		return;
	for (i = 0; c->easy != NULL && i < c->cfg.max_parallel; i++)
		if (c->easy[i] != NULL)
			curl_easy_cleanup(c->easy[i]);
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	free(c->easy);
	free(c->easy_busy);
	s3_config_wipe(&c->cfg);
	free(c);
	curl_global_cleanup();
}

void
s3_client_stats(const s3_client *c, s3_stats *out)
{
	*out = c->stats;
}

/* Validates key before a request; the message names the operation. */
static int
key_ok(const s3_client *c, const char *op, const char *key, s3_err *err)
{
	s3_err why;

	if (s3_key_check(key, &why) == 0)
		return 0;
	s3_err_set(err, S3_ERR_CONFIG, "%s in bucket %s: %s", op, c->bucket,
	    why.msg);
	return -1;
}

/* --- reading ----------------------------------------------------------- */

int
s3_head(s3_client *c, const char *key, uint64_t *size, s3_err *err)
{
	s3_job job;
	int rc;

	if (key_ok(c, "HEAD", key, err) != 0)
		return -1;
	s3_job_init(&job, "HEAD", "HEAD", key);
	rc = s3_engine_run_one(c, &job, err);
	if (rc == 0 && job.content_length < 0) {
		s3_err_set(err, S3_ERR_OTHER, "HEAD s3://%s/%.300s: HTTP %ld "
		    "without a Content-Length", c->bucket, key, job.status);
		rc = -1;
	}
	if (rc == 0 && size != NULL)
		*size = (uint64_t)job.content_length;
	s3_job_release(&job);
	return rc;
}

typedef struct range_buf {
	uint8_t *buf;
	size_t len;
	size_t got;
} range_buf;

static int
range_sink(const void *data, size_t n, void *arg)
{
	range_buf *rb = arg;

	if (n > rb->len - rb->got)
		return -1;	/* more than asked: the engine never does */
	memcpy(rb->buf + rb->got, data, n);
	rb->got += n;
	return 0;
}

/* Runs a ranged GET job into buf; the size from the answer or a HEAD. */
static int
ranged_get(s3_client *c, s3_job *job, void *buf, size_t len, size_t *got,
    uint64_t *object_size, s3_err *err)
{
	range_buf rb = { buf, len, 0 };
	int rc;

	job->sink = range_sink;
	job->sink_arg = &rb;
	job->accept_416 = 1;	/* past the end: nothing to read */
	rc = s3_engine_run_one(c, job, err);
	*got = rb.got;
	if (rc != 0 || object_size == NULL)
		return rc;
	if (job->total_size >= 0)
		*object_size = (uint64_t)job->total_size;
	else if (job->status == 200 && job->content_length >= 0)
		*object_size = (uint64_t)job->content_length;
	else
		return s3_head(c, job->key, object_size, err);
	return 0;
}

int
s3_get_range(s3_client *c, const char *key, uint64_t offset, size_t len,
    void *buf, size_t *got, uint64_t *object_size, s3_err *err)
{
	s3_job job;
	int rc;

	*got = 0;
	if (key_ok(c, "GET", key, err) != 0)
		return -1;
	if (len == 0)
		return object_size != NULL ? s3_head(c, key, object_size, err) :
		    0;
	s3_job_init(&job, "GET", "GET", key);
	job.has_range = 1;
	job.range_first = offset;
	job.range_last = offset + len - 1;
	rc = ranged_get(c, &job, buf, len, got, object_size, err);
	s3_job_release(&job);
	return rc;
}

int
s3_get_tail(s3_client *c, const char *key, size_t len, void *buf,
    size_t *got, uint64_t *object_size, s3_err *err)
{
	s3_job job;
	int rc;

	*got = 0;
	if (key_ok(c, "GET", key, err) != 0)
		return -1;
	if (len == 0)
		return object_size != NULL ? s3_head(c, key, object_size, err) :
		    0;
	s3_job_init(&job, "GET", "GET", key);
	job.suffix_len = len;
	rc = ranged_get(c, &job, buf, len, got, object_size, err);
	s3_job_release(&job);
	return rc;
}

int
s3_get(s3_client *c, const char *key, s3_sink_fn sink, void *arg,
    s3_err *err)
{
	s3_job job;
	int rc;

	if (key_ok(c, "GET", key, err) != 0)
		return -1;
	s3_job_init(&job, "GET", "GET", key);
	job.sink = sink;
	job.sink_arg = arg;
	rc = s3_engine_run_one(c, &job, err);
	s3_job_release(&job);
	return rc;
}

static int
mem_sink(const void *data, size_t n, void *arg)
{
	return s3_mem_append(arg, data, n);
}

int
s3_get_alloc(s3_client *c, const char *key, uint8_t **data, size_t *len,
    s3_err *err)
{
	s3_mem m = { .limit = SIZE_MAX };

	*data = NULL;
	*len = 0;
	if (s3_get(c, key, mem_sink, &m, err) != 0) {
		s3_mem_free(&m);
		return -1;
	}
	if (m.data == NULL && (m.data = malloc(1)) == NULL) {
		s3_err_set(err, S3_ERR_OTHER, "out of memory");
		return -1;
	}
	*data = (uint8_t *)m.data;
	*len = m.len;
	return 0;
}

typedef struct compare_state {
	const uint8_t *data;
	size_t len;
	size_t at;
	int differs;
} compare_state;

static int
compare_sink(const void *data, size_t n, void *arg)
{
	compare_state *cs = arg;

	if (n > cs->len - cs->at || memcmp(cs->data + cs->at, data, n)) {
		cs->differs = 1;
		return -1;
	}
	cs->at += n;
	return 0;
}

int
s3_object_equals(s3_client *c, const char *key, const void *data,
    size_t len, s3_err *err)
{
	compare_state cs = { data, len, 0, 0 };

	if (s3_get(c, key, compare_sink, &cs, err) == 0)
		return cs.at == len;
	return cs.differs ? 0 : -1;
}

/* --- writing ----------------------------------------------------------- */

static int
put_once(s3_client *c, const char *key, const void *data, size_t len,
    int if_absent, s3_err *err)
{
	s3_job job;
	int rc, landed;

	s3_job_init(&job, "PUT", if_absent ? "PUT if absent" : "PUT", key);
	job.body = data;
	job.body_len = len;
	job.if_none_match = if_absent;
	rc = s3_engine_run_one(c, &job, err);
	landed = job.body_may_have_landed;
	s3_job_release(&job);
	if (rc != 0 && if_absent && err->kind == S3_ERR_EXISTS && landed) {
		/* An earlier attempt may have created it: ours if equal. */
		s3_err saved = *err;

		if (s3_object_equals(c, key, data, len, err) == 1)
			return 0;
		*err = saved;
	}
	return rc;
}

int
s3_put(s3_client *c, const char *key, const void *data, size_t len,
    s3_err *err)
{
	if (key_ok(c, "PUT", key, err) != 0)
		return -1;
	if (len > c->cfg.multipart_threshold)
		return s3_put_multipart(c, key, data, len, err);
	return put_once(c, key, data, len, 0, err);
}

int
s3_put_if_absent(s3_client *c, const char *key, const void *data,
    size_t len, s3_err *err)
{
	s3_err local;

	if (key_ok(c, "PUT if absent", key, err) != 0)
		return -1;
	return put_once(c, key, data, len, 1, err != NULL ? err : &local);
}

int
s3_delete(s3_client *c, const char *key, s3_err *err)
{
	s3_job job;
	int rc;

	if (key_ok(c, "DELETE", key, err) != 0)
		return -1;
	s3_job_init(&job, "DELETE", "DELETE", key);
	rc = s3_engine_run_one(c, &job, err);
	if (rc != 0 && job.err.kind == S3_ERR_NOT_FOUND &&
	    strcmp(job.err.code, "NoSuchBucket") != 0)
		rc = 0;		/* gone already: what DELETE wants */
	s3_job_release(&job);
	return rc;
}

/* --- listing ----------------------------------------------------------- */

typedef struct list_walk {
	const char *prefix;
	char *last;		/* the last key handed out (owned) */
	s3_object_fn fn;
	void *arg;
} list_walk;

/* Hands a page's keys to fn, checking S3's promises on the way. */
static int
list_hand_out(s3_client *c, list_walk *w, const s3_list_page *pg,
    s3_err *err)
{
	size_t i, plen = strlen(w->prefix);

	for (i = 0; i < pg->n; i++) {
		const char *key = pg->entries[i].key;

		if (strncmp(key, w->prefix, plen) != 0 ||
		    (w->last != NULL && strcmp(key, w->last) <= 0)) {
			s3_err_set(err, S3_ERR_OTHER, "list s3://%s/%.300s: "
			    "the server listed '%.300s' out of order or "
			    "outside the prefix", c->bucket, w->prefix, key);
			return -1;
		}
		free(w->last);
		if ((w->last = strdup(key)) == NULL) {
			s3_err_set(err, S3_ERR_OTHER, "out of memory");
			return -1;
		}
		s3_object o = { key, pg->entries[i].size,
		    pg->entries[i].mtime_us };

		if (w->fn(&o, w->arg) != 0)
			return 1;
	}
	return 0;
}

/* One ListObjectsV2 request: its page in *pg. */
static int
list_page(s3_client *c, const char *prefix, const char *start_after,
    const char *token, s3_list_page *pg, s3_err *err)
{
	s3_param p[4];
	size_t n = 0;
	s3_job job;
	char why[128];
	int rc;

	p[n++] = (s3_param){ "list-type", "2" };
	if (prefix[0] != '\0')
		p[n++] = (s3_param){ "prefix", prefix };
	if (token != NULL)
		p[n++] = (s3_param){ "continuation-token", token };
	else if (start_after != NULL && start_after[0] != '\0')
		p[n++] = (s3_param){ "start-after", start_after };
	s3_job_init(&job, "GET", "list", prefix);
	job.bucket_request = 1;
	job.query = s3_query_build(p, n);
	if (job.query == NULL) {
		s3_err_set(err, S3_ERR_OTHER, "out of memory");
		return -1;
	}
	rc = s3_engine_run_one(c, &job, err);
	if (rc == 0 && (job.answer.truncated ||
	    s3_xml_list_parse(job.answer.data, job.answer.len, pg, why,
	    sizeof(why)) != 0)) {
		s3_err_set(err, S3_ERR_OTHER, "list s3://%s/%.300s: HTTP %ld "
		    "with an unreadable answer: %s", c->bucket, prefix,
		    job.status, job.answer.truncated ? "too long" : why);
		rc = -1;
	}
	s3_job_release(&job);
	return rc;
}

typedef struct list_adapter {
	s3_list_fn fn;
	void *arg;
} list_adapter;

static int
list_adapt(const s3_object *o, void *arg)
{
	list_adapter *a = arg;

	return a->fn(o->key, o->size, a->arg);
}

int
s3_list(s3_client *c, const char *prefix, const char *start_after,
    s3_list_fn fn, void *arg, s3_err *err)
{
	list_adapter a = { fn, arg };

	return s3_list_objects(c, prefix, start_after, list_adapt, &a, err);
}

int
s3_list_objects(s3_client *c, const char *prefix, const char *start_after,
    s3_object_fn fn, void *arg, s3_err *err)
{
	list_walk w = { prefix, NULL, fn, arg };
	s3_list_page pg;
	char *token = NULL;
	int rc;

	if (prefix[0] != '\0' && key_ok(c, "list", prefix, err) != 0)
		return -1;
	for (;;) {
		memset(&pg, 0, sizeof(pg));
		rc = list_page(c, prefix, start_after, token, &pg, err);
		if (rc == 0)
			rc = list_hand_out(c, &w, &pg, err);
		if (rc == 0 && pg.truncated && token != NULL &&
		    strcmp(token, pg.next_token) == 0) {
			s3_err_set(err, S3_ERR_OTHER, "list s3://%s/%.300s: "
			    "the server gave the same continuation token "
			    "twice", c->bucket, prefix);
			rc = -1;
		}
		free(token);
		token = NULL;
		if (rc != 0 || !pg.truncated)
			break;
		token = pg.next_token;
		pg.next_token = NULL;
		s3_list_page_free(&pg);
	}
	s3_list_page_free(&pg);
	free(w.last);
	return rc;
}
