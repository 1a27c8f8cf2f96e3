/*
 * s3_multipart.c - a multipart upload one request at a time
 * (s3_multipart.h): create, a part, complete, abort, each a job run by
 * the engine on the caller's client with its retries and messages
 * (operation, s3://bucket/key, HTTP status, S3 code).
 *
 * s3_multi.c's whole-object upload uses create, complete and abort too,
 * sending its parts in parallel itself. The requests: POST
 * ?uploads= answers an <UploadId>; PUT ?partNumber=N&uploadId=ID answers
 * the part's ETag in a header; POST ?uploadId=ID with the ETags in order
 * completes; DELETE ?uploadId=ID aborts. The query parameters are sorted
 * by name, as curl 7.88 signs the query as written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"
#include "s3_multipart.h"
#include "s3_xml.h"

/* A job on the upload (or, with upload_id NULL, creating one). */
static int
upload_job(const s3_client *c, s3_job *job, const char *method,
    const char *op, const char *key, const char *upload_id, s3_err *err)
{
	s3_param p = { upload_id != NULL ? "uploadId" : "uploads",
		upload_id != NULL ? upload_id : "" };

	s3_job_init(job, method, op, key);
	if (s3_key_check(key, err) != 0)
		return -1;
	if ((job->query = s3_query_build(&p, 1)) == NULL) {
		s3_err_set(err, S3_ERR_OTHER, "%s s3://%s/%.300s: out of "
		    "memory", op, c->bucket, key);
		return -1;
	}
	return 0;
}

int
s3_multipart_create(s3_client *c, const char *key,
    char upload_id[S3_UPLOAD_ID_MAX], s3_err *err)
{
	s3_job job;
	int rc = -1;

	if (upload_job(c, &job, "POST", "create multipart upload", key, NULL,
	    err) == 0 && (rc = s3_engine_run_one(c, &job, err)) == 0 &&
	    s3_xml_find(job.answer.data, job.answer.len,
	    "InitiateMultipartUploadResult/UploadId", upload_id,
	    S3_UPLOAD_ID_MAX) != 1) {
		s3_err_set(err, S3_ERR_OTHER, "create multipart upload "
		    "s3://%s/%.300s: HTTP %ld without an <UploadId>",
		    c->bucket, key, job.status);
		rc = -1;
	}
	s3_job_release(&job);
	return rc;
}

int
s3_multipart_part(s3_client *c, const char *key, const char *upload_id,
    size_t number, const void *data, size_t len, s3_part *out, s3_err *err)
{
	char num[24];
	s3_param p[2] = { { "partNumber", num }, { "uploadId", upload_id } };
	s3_job job;
	int rc = -1;

	snprintf(num, sizeof(num), "%zu", number);
	s3_job_init(&job, "PUT", "upload part", key);
	if (number < 1 || number > S3_PARTS_LIMIT) {
		s3_err_set(err, S3_ERR_OTHER, "upload part %zu of s3://%s/"
		    "%.300s: S3 takes parts 1 to %d", number, c->bucket, key,
		    S3_PARTS_LIMIT);
		goto out;
	}
	if (s3_key_check(key, err) != 0)
		goto out;
	if ((job.query = s3_query_build(p, 2)) == NULL) {
		s3_err_set(err, S3_ERR_OTHER, "upload part %zu of s3://%s/"
		    "%.300s: out of memory", number, c->bucket, key);
		goto out;
	}
	job.body = data;
	job.body_len = len;
	if (s3_engine_run_one(c, &job, err) != 0)
		goto out;
	if (job.etag[0] == '\0') {
		s3_err_set(err, S3_ERR_OTHER, "upload part %zu of s3://%s/"
		    "%.300s: HTTP %ld without an ETag", number, c->bucket, key,
		    job.status);
		goto out;
	}
	snprintf(out->etag, sizeof(out->etag), "%s", job.etag);
	rc = 0;
out:
	s3_job_release(&job);
	return rc;
}

/* CompleteMultipartUpload's body: owned string, NULL when out of memory
 * or when an ETag holds what XML would need escaped (never hex). */
static char *
complete_body(const s3_part *parts, size_t n)
{
	s3_mem m = { .limit = SIZE_MAX };
	char line[64 + S3_ETAG_MAX];
	int ok = 1;

	ok &= s3_mem_append(&m, "<CompleteMultipartUpload>", 25) == 0;
	for (size_t i = 0; ok && i < n; i++) {
		size_t len = s3_format(line, sizeof(line), "<Part><PartNumber>"
		    "%zu</PartNumber><ETag>%s</ETag></Part>", i + 1,
		    parts[i].etag);

		ok &= strpbrk(parts[i].etag, "<&") == NULL &&
		    s3_mem_append(&m, line, len) == 0;
	}
	ok &= s3_mem_append(&m, "</CompleteMultipartUpload>", 26) == 0;
	if (!ok) {
		s3_mem_free(&m);
		return NULL;
	}
	return m.data;
}

int
s3_multipart_complete(s3_client *c, const char *key, const char *upload_id,
    const s3_part *parts, size_t n, uint64_t size, s3_err *err)
{
	s3_job job;
	char *body = NULL;
	uint64_t found;
	int rc = -1;

	if (upload_job(c, &job, "POST", "complete multipart upload", key,
	    upload_id, err) != 0)
		goto out;
	if (n == 0 || (body = complete_body(parts, n)) == NULL) {
		s3_err_set(err, S3_ERR_OTHER, "complete multipart upload "
		    "s3://%s/%.300s: %s", c->bucket, key, n == 0 ? "no part" :
		    "out of memory");
		goto out;
	}
	job.body = (const uint8_t *)body;
	job.body_len = strlen(body);
	job.content_type = "application/xml";
	rc = s3_engine_run_one(c, &job, err);
	/* A repeat after a completion whose answer was lost finds the
	 * upload gone; the object of our size is then ours. */
	if (rc != 0 && job.body_may_have_landed &&
	    strcmp(job.err.code, "NoSuchUpload") == 0 &&
	    s3_head(c, key, &found, NULL) == 0 && found == size)
		rc = 0;
out:
	s3_job_release(&job);
	free(body);
	return rc;
}

int
s3_multipart_abort(s3_client *c, const char *key, const char *upload_id,
    s3_err *err)
{
	s3_job job;
	int rc = -1;

	if (upload_job(c, &job, "DELETE", "abort multipart upload", key,
	    upload_id, err) == 0) {
		rc = s3_engine_run_one(c, &job, err);
		if (rc != 0 && strcmp(job.err.code, "NoSuchUpload") == 0)
			rc = 0;
	}
	s3_job_release(&job);
	return rc;
}
