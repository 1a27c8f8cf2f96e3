/*
 * s3_multipart.h - a multipart upload one step at a time, for a writer
 * that sends an object's parts as its bytes come in and cannot hold the
 * whole object (the lake's S3 streams, lake_store_s3.c). s3_put's own
 * multipart path (s3_multi.c) takes the whole object at once instead.
 *
 * The steps: s3_multipart_create gives an upload id; each part goes up
 * with s3_multipart_part (numbers from 1, every part but the last at
 * least S3_PART_MIN bytes), which hands back its ETag;
 * s3_multipart_complete lists the ETags in order and the object appears;
 * s3_multipart_abort drops the upload and every part it stored. Each
 * call is one request, retried on transient faults like every call of
 * the client (s3.h), on the client of the calling thread: parts of one
 * upload may go up on different clients (threads) at once.
 */
#ifndef LAKE_S3_MULTIPART_H
#define LAKE_S3_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "s3.h"

#define S3_PART_MIN ((size_t)5 << 20)	/* S3's minimum, but the last */
#define S3_PARTS_LIMIT 10000		/* S3's most parts of an upload */
#define S3_UPLOAD_ID_MAX 512
#define S3_ETAG_MAX 160

/* One uploaded part: its ETag, as the server quoted it. */
typedef struct s3_part {
	char etag[S3_ETAG_MAX];
} s3_part;

/* CreateMultipartUpload of key: its id in upload_id. */
int s3_multipart_create(s3_client *c, const char *key,
    char upload_id[S3_UPLOAD_ID_MAX], s3_err *err);

/* UploadPart number (1..S3_PARTS_LIMIT) of len bytes; its ETag in out. */
int s3_multipart_part(s3_client *c, const char *key, const char *upload_id,
    size_t number, const void *data, size_t len, s3_part *out,
    s3_err *err);

/*
 * CompleteMultipartUpload of parts 1..n: the object appears under key.
 * size is the object's length: when an attempt's answer was lost and the
 * repeat finds the upload gone, an object of that size is ours (HEAD).
 */
int s3_multipart_complete(s3_client *c, const char *key,
    const char *upload_id, const s3_part *parts, size_t n, uint64_t size,
    s3_err *err);

/* AbortMultipartUpload: the stored parts are dropped. An upload that is
 * gone already (NoSuchUpload) is no error. */
int s3_multipart_abort(s3_client *c, const char *key, const char *upload_id,
    s3_err *err);

#endif
