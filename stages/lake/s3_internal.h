/*
 * s3_internal.h - what the S3 client's files share and nobody else needs:
 * the client struct, one request ("job") with its retry state, the engine
 * that runs jobs in parallel with retries (s3_engine.c), URL and query
 * encoding, and error filling.
 *
 * The files: s3_config.c (URIs, keys, settings, credentials), s3_xml.c
 * (answers), s3_engine.c (transfers, retries, classification, messages),
 * s3.c (single-object operations and listing), s3_multi.c (many objects
 * at once and multipart uploads).
 */
#ifndef LAKE_S3_INTERNAL_H
#define LAKE_S3_INTERNAL_H

#include <curl/curl.h>

#include "s3_curl.h"	/* libcurl through dlopen(3) */
#include <stdarg.h>

#include "s3.h"

/* A growable byte buffer with a cap (answers held in memory). */
typedef struct s3_mem {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;		/* bytes beyond it are dropped; truncated set */
	int truncated;
} s3_mem;

int s3_mem_append(s3_mem *m, const void *data, size_t n);
void s3_mem_free(s3_mem *m);

/*
 * One HTTP request with its retries. The caller fills the request part
 * (s3_job_init, then the fields), runs it with s3_engine_run, reads the
 * outcome, and calls s3_job_release.
 */
typedef struct s3_job {
	/* The request. */
	const char *method;	/* GET, PUT, HEAD, DELETE, POST */
	const char *op;		/* for messages: "PUT", "list", "upload part" */
	char key[S3_KEY_MAX + 1];	/* for messages too */
	int bucket_request;	/* the URL names the bucket, not key */
	char *query;		/* canonical query (s3_query_build), owned */
	const uint8_t *body;	/* PUT/POST body, not owned */
	size_t body_len;
	const char *content_type;
	int if_none_match;	/* send If-None-Match: * */
	int has_range;		/* Range: bytes=range_first-range_last */
	uint64_t range_first;
	uint64_t range_last;
	uint64_t suffix_len;	/* when not 0: Range: bytes=-suffix_len */
	int accept_416;		/* a 416 is an answer, not a failure */
	s3_sink_fn sink;	/* a 2xx answer's body; NULL: into answer */
	void *sink_arg;

	/* The answer of the last attempt. */
	long status;
	char etag[160];
	int64_t total_size;	/* from Content-Range; -1 */
	int64_t content_length;	/* -1 when the answer had none */
	s3_mem answer;		/* the body, when no sink or not a 2xx */

	/* The outcome, once the engine is done with the job. */
	s3_err err;		/* kind S3_ERR_NONE on success */
	int attempts;
	int body_may_have_landed;	/* an attempt failed after sending */
	int cancelled;		/* stopped because another job failed */

	/* The engine's state. */
	CURL *easy;
	struct curl_slist *headers;
	char curl_error[CURL_ERROR_SIZE];
	CURLcode curl_rc;
	size_t body_sent;
	int64_t next_offset;	/* absolute offset the sink wants next; -1 */
	int64_t answer_offset;	/* offset of this answer's first byte */
	uint64_t answer_received;
	uint64_t delivered;	/* bytes the sink took, over all attempts */
	int sink_stopped;
	int done;
	int64_t first_try_us;
	int64_t due_us;
	s3_err_kind last_fault;	/* UNREACHABLE or TRANSIENT */
} s3_job;

struct s3_client {
	s3_config cfg;
	char bucket[S3_BUCKET_MAX + 1];
	CURLM *multi;
	CURL **easy;		/* cfg.max_parallel handles */
	int *easy_busy;
	s3_stats stats;
	uint64_t rng;		/* xorshift64 state, for back-off jitter */
};

void s3_job_init(s3_job *job, const char *method, const char *op,
    const char *key);
void s3_job_release(s3_job *job);

/*
 * Runs n jobs, up to max_parallel at once, each retried on transient
 * faults within the retry budget. With stop_on_failure, the first job
 * that fails for good cancels the others (S3_ERR_OTHER "cancelled").
 * Returns the number of jobs that failed; each job's err says why.
 */
size_t s3_engine_run(s3_client *c, s3_job **jobs, size_t n,
    int stop_on_failure);
/* One job: 0 or -1 with *err copied from the job. */
int s3_engine_run_one(s3_client *c, s3_job *job, s3_err *err);

/* Percent-encodes per SigV4 (unreserved kept; '/' kept when keep_slash):
 * the length written, or -1 when out is too small. */
long s3_uri_encode(const char *in, int keep_slash, char *out,
    size_t out_len);

/* A query parameter; value "" for a bare flag, written "name=". */
typedef struct s3_param {
	const char *name;
	const char *value;
} s3_param;

/* The canonical query SigV4 in curl 7.88 needs (names sorted, values
 * encoded): owned string, NULL when out of memory. */
char *s3_query_build(s3_param *params, size_t n);

/* Checks a bucket name of n bytes; -1 with S3_ERR_CONFIG when invalid. */
int s3_bucket_check(const char *bucket, size_t n, s3_err *err);

/* Multipart upload of data (s3_multi.c), for s3_put. */
int s3_put_multipart(s3_client *c, const char *key, const void *data,
    size_t len, s3_err *err);

/* Whether key holds exactly data: 1, 0, or -1 with err set. */
int s3_object_equals(s3_client *c, const char *key, const void *data,
    size_t len, s3_err *err);

/* snprintf for messages, where cutting the end is the intended outcome
 * of a long one (the start names what failed): the length written. */
size_t s3_format(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills err (kind, no HTTP status, no code) with a formatted message. */
void s3_err_set(s3_err *err, s3_err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
