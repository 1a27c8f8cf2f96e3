/*
 * s3_multi.c - the S3 client's calls over many transfers at once: many
 * small PUTs, many ranged GETs, many DELETEs, and the parts of one
 * multipart upload, all run by the engine with up to max_parallel
 * transfers in flight, so an increment that writes (or a scan that
 * reads) hundreds of files pays a few round trips, not hundreds one
 * after another.
 *
 * A multipart upload is three steps: CreateMultipartUpload (POST
 * ?uploads=) gives an UploadId; the parts go up in parallel (PUT
 * ?partNumber=N&uploadId=ID), each retried alone; CompleteMultipartUpload
 * (POST ?uploadId=ID) lists the parts' ETags in order. A part that fails
 * for good cancels the others and the upload is aborted (DELETE
 * ?uploadId=ID), so no stored part is left to bill for. Create, complete
 * and abort are s3_multipart.c's single requests; only the parallel
 * parts are this file's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3_internal.h"
#include "s3_multipart.h"

#define MIB ((size_t)1024 * 1024)

/* Fills err with a summary of n jobs of which failed did not succeed. */
static void
summarize(s3_err *err, const char *what, size_t n, size_t failed,
    const s3_err *first)
{
	if (err == NULL)
		return;
	*err = *first;
	snprintf(err->msg, sizeof(err->msg), "%s of %zu objects: %zu failed; "
	    "the first: %.400s", what, n, failed, first->msg);
}

/* Allocates n jobs and the pointer array the engine takes. */
static int
jobs_alloc(size_t n, s3_job **jobs, s3_job ***ptrs, s3_err *err)
{
	size_t i;

	*jobs = calloc(n ? n : 1, sizeof(**jobs));
	*ptrs = calloc(n ? n : 1, sizeof(**ptrs));
	if (*jobs == NULL || *ptrs == NULL) {
		free(*jobs);
		free(*ptrs);
		s3_err_set(err, S3_ERR_OTHER, "out of memory for %zu "
		    "transfers", n);
		return -1;
	}
	for (i = 0; i < n; i++)
		(*ptrs)[i] = &(*jobs)[i];
	return 0;
}

static void
jobs_free(s3_job *jobs, s3_job **ptrs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		s3_job_release(&jobs[i]);
	free(jobs);
	free(ptrs);
}

/* --- many small PUTs --------------------------------------------------- */

/* A put-if-absent answered "exists" after an attempt may have landed:
 * ours when the object holds exactly our bytes. */
static void
settle_if_absent(s3_client *c, s3_put_item *it, const s3_job *job)
{
	s3_err ignored;

	if (it->if_absent && it->err.kind == S3_ERR_EXISTS &&
	    job->body_may_have_landed &&
	    s3_object_equals(c, it->key, it->data, it->len, &ignored) == 1)
		memset(&it->err, 0, sizeof(it->err));
}

int
s3_put_many(s3_client *c, s3_put_item *items, size_t n, s3_err *err)
{
	s3_job *jobs, **ptrs, **todo;
	size_t i, ntodo = 0, failed = 0;
	const s3_err *first = NULL;

	if (jobs_alloc(n, &jobs, &ptrs, err) != 0)
		return -1;
	todo = ptrs;
	for (i = 0; i < n; i++) {
		s3_put_item *it = &items[i];

		memset(&it->err, 0, sizeof(it->err));
		if (s3_key_check(it->key, &it->err) != 0)
			continue;
		s3_job_init(&jobs[i], "PUT", it->if_absent ? "PUT if absent" :
		    "PUT", it->key);
		jobs[i].body = it->data;
		jobs[i].body_len = it->len;
		jobs[i].if_none_match = it->if_absent;
		todo[ntodo++] = &jobs[i];
	}
	s3_engine_run(c, todo, ntodo, 0);
	for (i = 0; i < n; i++) {
		if (items[i].err.kind == S3_ERR_NONE) {
			items[i].err = jobs[i].err;
			settle_if_absent(c, &items[i], &jobs[i]);
		}
		if (items[i].err.kind != S3_ERR_NONE && failed++ == 0)
			first = &items[i].err;
	}
	if (failed > 0)
		summarize(err, "PUT", n, failed, first);
	jobs_free(jobs, ptrs, n);
	return failed > 0 ? -1 : 0;
}

/* --- many ranged GETs -------------------------------------------------- */

static int
item_sink(const void *data, size_t n, void *arg)
{
	s3_get_item *it = arg;

	if (n > it->len - it->got)
		return -1;	/* more than asked: the engine never does */
	memcpy((uint8_t *)it->buf + it->got, data, n);
	it->got += n;
	return 0;
}

int
s3_get_many(s3_client *c, s3_get_item *items, size_t n, s3_err *err)
{
	s3_job *jobs, **ptrs, **todo;
	size_t i, ntodo = 0, failed = 0;
	const s3_err *first = NULL;

	if (jobs_alloc(n, &jobs, &ptrs, err) != 0)
		return -1;
	todo = ptrs;
	for (i = 0; i < n; i++) {
		s3_get_item *it = &items[i];

		memset(&it->err, 0, sizeof(it->err));
		it->got = 0;
		it->object_size = 0;
		s3_job_init(&jobs[i], "GET", "GET", it->key);
		if (s3_key_check(it->key, &it->err) != 0 || it->len == 0)
			continue;	/* no range: nothing to ask */
		if (it->tail) {
			jobs[i].suffix_len = it->len;
		} else {
			jobs[i].has_range = 1;
			jobs[i].range_first = it->offset;
			jobs[i].range_last = it->offset + it->len - 1;
		}
		jobs[i].sink = item_sink;
		jobs[i].sink_arg = it;
		jobs[i].accept_416 = 1;	/* past the end: nothing to read */
		todo[ntodo++] = &jobs[i];
	}
	s3_engine_run(c, todo, ntodo, 0);
	for (i = 0; i < n; i++) {
		s3_get_item *it = &items[i];

		if (it->err.kind == S3_ERR_NONE && it->len > 0)
			it->err = jobs[i].err;
		/* The size as s3_get_range finds it: Content-Range, a whole
		 * answer's length, else a HEAD (a server that sends
		 * neither; none we know). */
		if (it->err.kind == S3_ERR_NONE && jobs[i].total_size >= 0)
			it->object_size = (uint64_t)jobs[i].total_size;
		else if (it->err.kind == S3_ERR_NONE && jobs[i].status == 200 &&
		    jobs[i].content_length >= 0)
			it->object_size = (uint64_t)jobs[i].content_length;
		else if (it->err.kind == S3_ERR_NONE &&
		    s3_head(c, it->key, &it->object_size, &it->err) != 0)
			it->got = 0;
		if (it->err.kind != S3_ERR_NONE && failed++ == 0)
			first = &it->err;
	}
	if (failed > 0)
		summarize(err, "GET", n, failed, first);
	jobs_free(jobs, ptrs, n);
	return failed > 0 ? -1 : 0;
}

/* --- many DELETEs ------------------------------------------------------ */

int
s3_delete_many(s3_client *c, const char *const *keys, size_t n,
    s3_err *err)
{
	s3_job *jobs, **ptrs;
	s3_err bad;
	size_t i, failed = 0;
	const s3_err *first = NULL;

	for (i = 0; i < n; i++) {
		if (s3_key_check(keys[i], &bad) != 0) {
			summarize(err, "DELETE", n, 1, &bad);
			return -1;
		}
	}
	if (jobs_alloc(n, &jobs, &ptrs, err) != 0)
		return -1;
	for (i = 0; i < n; i++)
		s3_job_init(&jobs[i], "DELETE", "DELETE", keys[i]);
	s3_engine_run(c, ptrs, n, 0);
	for (i = 0; i < n; i++) {
		s3_err *e = &jobs[i].err;

		if (e->kind == S3_ERR_NOT_FOUND &&
		    strcmp(e->code, "NoSuchBucket") != 0)
			e->kind = S3_ERR_NONE;	/* gone already */
		if (e->kind != S3_ERR_NONE && failed++ == 0)
			first = e;
	}
	if (failed > 0)
		summarize(err, "DELETE", n, failed, first);
	jobs_free(jobs, ptrs, n);
	return failed > 0 ? -1 : 0;
}

/* --- multipart upload -------------------------------------------------- */

/* A whole object sent as a multipart upload: create, complete and abort
 * are s3_multipart.h's; only the parts go up here, all in parallel. */
typedef struct upload {
	const char *key;
	const uint8_t *data;
	size_t len;
	size_t part_size;
	size_t nparts;
	char id[S3_UPLOAD_ID_MAX];
} upload;

/* Uploads every part; their ETags into parts[i]. */
static int
upload_parts(s3_client *c, upload *u, s3_job *jobs, s3_job **ptrs,
    s3_part *parts, s3_err *err)
{
	char number[24];
	size_t i, failed;

	for (i = 0; i < u->nparts; i++) {
		s3_param p[2] = { { "partNumber", number },
			{ "uploadId", u->id } };
		size_t off = i * u->part_size;

		snprintf(number, sizeof(number), "%zu", i + 1);
		s3_job_init(&jobs[i], "PUT", "upload part", u->key);
		jobs[i].query = s3_query_build(p, 2);
		if (jobs[i].query == NULL) {
			s3_err_set(err, S3_ERR_OTHER, "out of memory");
			return -1;
		}
		jobs[i].body = u->data + off;
		jobs[i].body_len = u->len - off < u->part_size ?
		    u->len - off : u->part_size;
	}
	failed = s3_engine_run(c, ptrs, u->nparts, 1);
	for (i = 0; failed > 0 && i < u->nparts; i++) {
		if (jobs[i].err.kind != S3_ERR_NONE && !jobs[i].cancelled) {
			if (err != NULL)
				*err = jobs[i].err;
			break;
		}
	}
	for (i = 0; failed == 0 && i < u->nparts; i++) {
		if (jobs[i].etag[0] == '\0') {
			s3_err_set(err, S3_ERR_OTHER, "upload part %zu of "
			    "s3://%s/%.300s: HTTP %ld without an ETag", i + 1,
			    c->bucket, u->key, jobs[i].status);
			return -1;
		}
		snprintf(parts[i].etag, sizeof(parts[i].etag), "%s",
		    jobs[i].etag);
	}
	return failed > 0 ? -1 : 0;
}

/* Best effort: on failure, says so after the message in err. */
static void
upload_abort(s3_client *c, upload *u, s3_err *err)
{
	s3_err why;
	size_t len;

	if (s3_multipart_abort(c, u->key, u->id, &why) == 0 || err == NULL)
		return;
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, "; and the upload's "
	    "parts could not be removed (abort: HTTP %ld): a bucket lifecycle "
	    "rule for incomplete uploads removes them", why.http_status);
}

/* The part size: the configured one, larger when S3_PARTS_LIMIT parts of
 * it would not hold len. */
static size_t
part_size_for(const s3_client *c, size_t len)
{
	size_t part = c->cfg.part_size;

	if ((len + part - 1) / part > S3_PARTS_LIMIT)
		part = ((len / S3_PARTS_LIMIT) / MIB + 1) * MIB;
	return part;
}

int
s3_put_multipart(s3_client *c, const char *key, const void *data,
    size_t len, s3_err *err)
{
	upload u = { key, data, len, 0, 0, "" };
	s3_job *jobs, **ptrs;
	s3_part *parts;
	int rc;

	u.part_size = part_size_for(c, len);
	u.nparts = len == 0 ? 1 : (len + u.part_size - 1) / u.part_size;
	if ((parts = calloc(u.nparts, sizeof(*parts))) == NULL) {
		s3_err_set(err, S3_ERR_OTHER, "out of memory");
		return -1;
	}
	if (jobs_alloc(u.nparts, &jobs, &ptrs, err) != 0) {
		free(parts);
		return -1;
	}
	rc = s3_multipart_create(c, key, u.id, err);
	if (rc == 0) {
		rc = upload_parts(c, &u, jobs, ptrs, parts, err);
		if (rc == 0)
			rc = s3_multipart_complete(c, key, u.id, parts,
			    u.nparts, len, err);
		if (rc != 0)
			upload_abort(c, &u, err);
	}
	jobs_free(jobs, ptrs, u.nparts);
	free(parts);
	return rc;
}
