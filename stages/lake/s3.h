/*
 * s3.h - a small S3 client over libcurl: the requests the lake's S3
 * storage backend makes, and nothing else.
 *
 * Configuration is taken the way the AWS CLI takes it (s3_config_from_env:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
 * AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the shared
 * credentials file with AWS_PROFILE). A lake is named by an s3://bucket/prefix
 * URI (s3_uri_parse). libcurl signs every request itself (SigV4).
 *
 * An s3_client is bound to one bucket and holds a curl multi handle with a
 * few easy handles: connections are kept alive between calls, and the calls
 * that move many objects (s3_put_many, s3_get_many, s3_delete_many, the
 * parts of a multipart upload) run up to max_parallel transfers at once. A client is
 * not thread-safe: use one per thread.
 *
 * Every call returns 0 on success and -1 on failure with an s3_err whose
 * kind callers decide on (never its text). Transient faults (500, 502, 503
 * SlowDown, 504, 408, 429, 400 RequestTimeout, connection refused or reset,
 * timeouts) are retried with jittered exponential back-off for at most
 * retry_budget_us; other answers are final. A put-if-absent that finds the
 * key answers S3_ERR_EXISTS and is never retried. Messages name the bucket,
 * key, HTTP status and S3 error code, and never hold a secret.
 */
#ifndef LAKE_S3_H
#define LAKE_S3_H

#include <stddef.h>
#include <stdint.h>

/* What kind of failure, for decisions (retries, conflicts, exit codes). */
typedef enum s3_err_kind {
	S3_ERR_NONE = 0,
	S3_ERR_NOT_FOUND,	/* 404: no such key or bucket */
	S3_ERR_EXISTS,		/* put-if-absent found the key (412) */
	S3_ERR_AUTH,		/* 401/403: the credentials were refused */
	S3_ERR_UNREACHABLE,	/* no connection to the endpoint within the
				   retry budget */
	S3_ERR_TRANSIENT,	/* 5xx, SlowDown, resets or timeouts until
				   the retry budget ran out */
	S3_ERR_CONFIG,		/* settings missing or malformed: a rerun
				   cannot help */
	S3_ERR_OTHER,		/* any other failure: another 4xx, a malformed
				   answer, out of memory, a sink that stopped */
} s3_err_kind;

/*
 * The error carrier, shaped like lake_err (a one-line msg and a kind) so
 * the storage layer can copy one into the other, plus what the server
 * said: http_status (0 when nothing answered) and S3's <Code> ("" when
 * none).
 */
typedef struct s3_err {
	char msg[512];
	s3_err_kind kind;
	long http_status;
	char code[64];
} s3_err;

/* "not found", "exists", ...: for messages and tests. */
const char *s3_err_kind_name(s3_err_kind kind);

#define S3_BUCKET_MAX 63
#define S3_KEY_MAX 1024

/* s3://bucket/prefix (s3a:// too, as Spark writes it). */
typedef struct s3_uri {
	char bucket[S3_BUCKET_MAX + 1];
	char prefix[S3_KEY_MAX + 1];	/* no leading '/'; may be "" */
} s3_uri;

/*
 * Parses and validates a URI: a bucket of 3-63 lowercase letters, digits,
 * '.' and '-' (starting and ending with a letter or digit), and a prefix
 * that is a valid key (s3_key_check) or empty. S3_ERR_CONFIG on failure.
 */
int s3_uri_parse(const char *text, s3_uri *out, s3_err *err);

/*
 * A key must be 1-1024 bytes with no control character (ListObjectsV2's
 * XML could not carry it back) and no "." or ".." segment (URLs would
 * fold it). 0 when valid, else -1 with S3_ERR_CONFIG naming the problem.
 */
int s3_key_check(const char *key, s3_err *err);

#define S3_SECRET_MAX 256
#define S3_TOKEN_MAX 4096

typedef struct s3_config {
	char endpoint[256];	/* scheme://host[:port], no trailing '/' */
	int path_style;		/* 1: endpoint/bucket/key; 0: bucket.host */
	char region[64];
	char access_key[128];
	char secret_key[S3_SECRET_MAX];
	char session_token[S3_TOKEN_MAX];	/* "" when none */
	char credentials_from[320];	/* "the environment" or "profile P in
					   FILE": for messages, never a secret */
	char ca_bundle[512];		/* CA certificates for TLS; "": the
					   system's */
	int64_t retry_budget_us;	/* retrying one request: 30 s */
	int64_t retry_base_us;		/* the first back-off: 50 ms */
	int64_t retry_cap_us;		/* the longest back-off: 2 s */
	int64_t connect_timeout_us;	/* 5 s */
	int64_t stall_timeout_us;	/* no byte moved for this long: 30 s */
	int max_parallel;		/* transfers at once: 8 */
	size_t part_size;		/* multipart parts: 8 MiB (5 MiB min) */
	size_t multipart_threshold;	/* s3_put goes multipart above: 16 MiB */
} s3_config;

/* The defaults above, no endpoint, no credentials. */
void s3_config_defaults(s3_config *cfg);

/*
 * Defaults, then the AWS CLI's settings from the environment:
 *   credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+
 *     AWS_SESSION_TOKEN), else profile AWS_PROFILE ("default") of the
 *     shared credentials file AWS_SHARED_CREDENTIALS_FILE
 *     (~/.aws/credentials);
 *   region: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1;
 *   endpoint: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL (path-style), else
 *     https://s3.<region>.amazonaws.com (virtual-hosted style; path-style
 *     for a bucket with a '.', which no wildcard certificate covers);
 *   TLS: AWS_CA_BUNDLE, a file of CA certificates.
 * S3_ERR_CONFIG when no credentials are found or a setting is malformed.
 */
int s3_config_from_env(s3_config *cfg, s3_err *err);

/*
 * Reads aws_access_key_id, aws_secret_access_key and aws_session_token of
 * [profile] in an AWS shared credentials file into cfg. S3_ERR_CONFIG when
 * the file cannot be read, has no such profile, or lacks a key or secret.
 */
int s3_credentials_from_file(s3_config *cfg, const char *path,
    const char *profile, s3_err *err);

/* Overwrites the secret and the token (before freeing or reusing cfg). */
void s3_config_wipe(s3_config *cfg);

typedef struct s3_client s3_client;

/*
 * A client for bucket (validated as in s3_uri_parse), with a copy of cfg.
 * Owned: free with s3_client_free, which also wipes the copied secret.
 */
s3_client *s3_client_new(const s3_config *cfg, const char *bucket,
    s3_err *err);
void s3_client_free(s3_client *c);

/* Counters since s3_client_new: what a run cost in requests. */
typedef struct s3_stats {
	uint64_t requests;	/* HTTP requests sent, retries included */
	uint64_t retries;	/* of them, repeats after a transient fault */
	uint64_t bytes_up;
	uint64_t bytes_down;
} s3_stats;

void s3_client_stats(const s3_client *c, s3_stats *out);

/* HEAD: the object's size. */
int s3_head(s3_client *c, const char *key, uint64_t *size, s3_err *err);

/*
 * Ranged GETs into buf. s3_get_range reads len bytes at offset;
 * s3_get_tail reads the last len bytes (a Parquet footer; all of the
 * object when it is shorter). *got is less than len only at the object's
 * end (0 past it). object_size, when not NULL, gets the object's size,
 * from the answer's Content-Range: no extra request.
 */
int s3_get_range(s3_client *c, const char *key, uint64_t offset, size_t len,
    void *buf, size_t *got, uint64_t *object_size, s3_err *err);
int s3_get_tail(s3_client *c, const char *key, size_t len, void *buf,
    size_t *got, uint64_t *object_size, s3_err *err);

/*
 * Receives an object's bytes in order, each byte once, even when a
 * transfer broken off is resumed (a ranged GET from where it stopped,
 * If-Match the first answer's ETag). Returns 0 to go on; anything else
 * stops the GET (S3_ERR_OTHER). It runs inside the client's transfer
 * loop: it must not call the same client.
 */
typedef int (*s3_sink_fn)(const void *data, size_t len, void *arg);

int s3_get(s3_client *c, const char *key, s3_sink_fn sink, void *arg,
    s3_err *err);
/* The whole object in *data (owned: free()), its size in *len. */
int s3_get_alloc(s3_client *c, const char *key, uint8_t **data, size_t *len,
    s3_err *err);

/*
 * Writes an object whole: one PUT, or a multipart upload with parts sent
 * in parallel when len exceeds multipart_threshold (aborted on failure,
 * so no part is left behind).
 */
int s3_put(s3_client *c, const char *key, const void *data, size_t len,
    s3_err *err);

/*
 * Creates the object only when the key is absent (PUT with If-None-Match:
 * *): S3_ERR_EXISTS when it is there, never retried. When an attempt
 * broke off after the body was sent and the repeat finds the key, the
 * object is read back: if it holds exactly data, the first attempt won
 * and this returns 0.
 */
int s3_put_if_absent(s3_client *c, const char *key, const void *data,
    size_t len, s3_err *err);

/* One object of s3_put_many; err is its own outcome. */
typedef struct s3_put_item {
	const char *key;
	const void *data;
	size_t len;
	int if_absent;		/* as s3_put_if_absent */
	s3_err err;		/* out: kind S3_ERR_NONE when written */
} s3_put_item;

/*
 * Writes n objects with up to max_parallel PUTs in flight (single PUTs:
 * for small objects). 0 when all were written; else -1, each item's err
 * says its outcome and err says how many failed and the first failure.
 */
int s3_put_many(s3_client *c, s3_put_item *items, size_t n, s3_err *err);

/*
 * One read of s3_get_many: len bytes at offset, or with tail the last len
 * bytes (all of a shorter object), into the caller's buf of len bytes.
 */
typedef struct s3_get_item {
	const char *key;
	uint64_t offset;	/* ignored with tail */
	size_t len;
	int tail;
	void *buf;
	size_t got;		/* out: less than len only at the object's
				   end (0 past it) */
	uint64_t object_size;	/* out: from Content-Range */
	s3_err err;		/* out: kind S3_ERR_NONE when read */
} s3_get_item;

/*
 * Reads n ranges (s3_get_range, s3_get_tail) with up to max_parallel GETs
 * in flight, each retried and resumed alone as a single GET is, with the
 * same kinds and messages. 0 when all were read; else -1, each item's err
 * says its outcome and err says how many failed and the first failure.
 */
int s3_get_many(s3_client *c, s3_get_item *items, size_t n, s3_err *err);

/* DELETE; deleting an absent key succeeds, as in S3. */
int s3_delete(s3_client *c, const char *key, s3_err *err);
/* Deletes n keys with up to max_parallel DELETEs in flight. */
int s3_delete_many(s3_client *c, const char *const *keys, size_t n,
    s3_err *err);

/* One listed object; returns 0 to go on, anything else stops the list. */
typedef int (*s3_list_fn)(const char *key, uint64_t size, void *arg);

/*
 * Lists the keys under prefix ("" for all) that sort after start_after
 * (NULL or "" for all), in S3's order (UTF-8 binary), page after page
 * (ListObjectsV2, continuation tokens). 0 at the end, 1 when fn stopped
 * it, -1 on failure.
 */
int s3_list(s3_client *c, const char *prefix, const char *start_after,
    s3_list_fn fn, void *arg, s3_err *err);

/* One listed object with its time (for retention decisions). */
typedef struct s3_object {
	const char *key;
	uint64_t size;
	int64_t mtime_us;	/* LastModified, us since the epoch; -1 when
				   the server did not say */
} s3_object;

typedef int (*s3_object_fn)(const s3_object *o, void *arg);

/* s3_list() handing out each object's LastModified as well. */
int s3_list_objects(s3_client *c, const char *prefix,
    const char *start_after, s3_object_fn fn, void *arg, s3_err *err);

#endif
