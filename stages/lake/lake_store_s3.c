/*
 * lake_store_s3.c - the S3 backend of the storage seam, over s3.h.
 *
 * A name s3://bucket/key maps to one object; a "folder" is a key prefix
 * ending in '/'. Each thread keeps one client per bucket (clients are not
 * thread-safe; their connections stay alive between calls), made on first
 * use from the AWS CLI's settings (s3_config_from_env): credentials never
 * come from anywhere else.
 *
 * Held objects: a stream closed without sync (a data file the caller
 * makes durable later, a commit's prepared temp file) smaller than a
 * part stays in memory in a process-wide table until a barrier uploads
 * it, or lake_store_link gives it its final name (one PUT, conditional
 * for a commit), or it is deleted (no request at all). So a commit of N
 * small data files costs N PUTs sent max_parallel at a time, plus one
 * conditional PUT, and no temp object is ever written to the bucket. A
 * larger stream is sent in parts as it is written (multipart upload
 * under its final name), and the table's bytes are kept under a budget
 * by sending closed files early: "streams and memory" below. The table
 * and the uploads are shared by every thread (a writer's barrier runs on
 * a helper thread), under one mutex.
 *
 * Errors: the client's messages already name the bucket, key, HTTP status
 * and S3 code; they are copied as they are. NOT_FOUND and EXISTS become
 * the seam's results of those names; transient faults and an unreachable
 * endpoint (after the client's retries) are LAKE_ERR_IO, the rest
 * LAKE_ERR_FAILED.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "lake_store_internal.h"
#include "s3.h"
#include "s3_multipart.h"

#define CLIENTS_MAX 4
/* Streams and the held table's budget: "streams and memory" below. */
#define PART_BYTES ((size_t)8 << 20)		/* S3's minimum is 5 MiB */
#define PARTS_AHEAD 2				/* a stream's, in flight */
#define UPLOADERS 4				/* threads sending parts */
#define QUEUE_PARTS UPLOADERS			/* parts waiting for one */
#define HELD_BUDGET ((size_t)64 << 20)
#define EARLY_BATCH_MIN (HELD_BUDGET / 4)	/* an early batch, at least */

typedef struct thread_clients {
	struct {
		char bucket[S3_BUCKET_MAX + 1];
		s3_client *c;
	} slot[CLIENTS_MAX];
	int n;
} thread_clients;

typedef struct held {
	char *name;
	lake_buf buf;
} held;

/*
 * An object on its way up that a barrier must wait for: a stream's
 * multipart upload (id set), or a held object sent early (a PUT). It
 * stays in the list until a barrier, a delete or the stream's abort
 * collects it.
 */
typedef struct lake_s3_upload {
	char *name;
	char id[S3_UPLOAD_ID_MAX];	/* "" for a PUT */
	s3_part *parts;			/* ETags, by part number - 1 */
	size_t nparts, parts_cap;	/* parts numbered so far */
	uint64_t size;			/* bytes handed to parts */
	int inflight;			/* parts queued or being sent */
	int closed;			/* no part to come */
	int finishing;			/* a thread completes (or aborts) it */
	int done;			/* its outcome is known */
	int failed;			/* ... and it failed: err */
	lake_err err;
	struct lake_s3_upload *next;
} upload;

/* A part on its way to an uploader thread; data is owned. */
typedef struct part_job {
	upload *u;
	size_t number;
	uint8_t *data;
	size_t len;
	struct part_job *next;
} part_job;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t clients_key;
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
/* Every thread's clients, for lake_store_stats_get, and the counts of
 * the clients freed already. */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static s3_client **live;
static size_t nlive;
static lake_store_stats retired;
static held *held_objs;
static size_t nheld, held_cap;
/* Under held_lock as well: uploads, the part queue, the uploaders.
 * work_cv: a part is queued, or the uploaders are to quit; done_cv: a
 * part was sent or an upload ended. */
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static upload *uploads;
static part_job *queue_head, *queue_tail;
static size_t nqueued;
static pthread_t uploader_tid[UPLOADERS];
static int nuploaders, uploaders_quit;
/* Bytes of the held table, and bytes open streams have not sent yet:
 * read without the lock for the budget's test. */
static atomic_size_t held_bytes, open_bytes;

static void init_once(void);
static void uploaders_stop(void);
static void uploads_drop(void);

static void
stats_add(lake_store_stats *to, const s3_stats *s)
{
	to->requests += s->requests;
	to->retries += s->retries;
	to->bytes_up += s->bytes_up;
	to->bytes_down += s->bytes_down;
}

static void
client_retire(s3_client *c)
{
	s3_stats st;

	pthread_mutex_lock(&stats_lock);
	s3_client_stats(c, &st);
	stats_add(&retired, &st);
	for (size_t i = 0; i < nlive; i++)
		if (live[i] == c) {
			live[i] = live[--nlive];
			break;
		}
	pthread_mutex_unlock(&stats_lock);
	s3_client_free(c);
}

static int
client_register(s3_client *c)
{
	s3_client **p;

	pthread_mutex_lock(&stats_lock);
	if ((p = realloc(live, (nlive + 1) * sizeof(*p))) != NULL) {
		live = p;
		live[nlive++] = c;
	}
	pthread_mutex_unlock(&stats_lock);
	return p != NULL ? 0 : -1;
}

static void
clients_free(void *p)
{
	thread_clients *t = p;

	if (t == NULL)
		return;
	for (int i = 0; i < t->n; i++)
		client_retire(t->slot[i].c);
	free(t);
}

static void
drop_all_held(void)
{
	pthread_mutex_lock(&held_lock);
	for (size_t i = 0; i < nheld; i++) {
		free(held_objs[i].name);
		lake_buf_free(&held_objs[i].buf);
	}
	free(held_objs);
	held_objs = NULL;
	nheld = held_cap = 0;
	atomic_store(&held_bytes, 0);
	pthread_mutex_unlock(&held_lock);
}

void
lake_store_shutdown(void)
{
	thread_clients *t;

	pthread_once(&once, init_once);
	t = pthread_getspecific(clients_key);
	pthread_setspecific(clients_key, NULL);
	clients_free(t);
}

static void
at_exit(void)
{
	uploaders_stop();
	lake_store_shutdown();
	drop_all_held();
	uploads_drop();
	pthread_mutex_lock(&stats_lock);
	free(live);
	live = NULL;
	nlive = 0;
	pthread_mutex_unlock(&stats_lock);
}

/*
 * A child of fork(2) must not use its parent's connections (both would
 * read one socket): it starts with no client. The parent's are left
 * unfreed in the child, which a child that goes on to exec or _exit
 * never notices. Nor has it the parent's uploader threads: it starts
 * with none, no upload and an empty queue (the parent's, taken with the
 * table's lock held around the fork, are its own to finish).
 */
static void
before_fork(void)
{
	pthread_mutex_lock(&held_lock);
}

static void
after_fork_parent(void)
{
	pthread_mutex_unlock(&held_lock);
}

static void
after_fork_child(void)
{
	pthread_setspecific(clients_key, NULL);
	nlive = 0;
	uploads = NULL;
	queue_head = queue_tail = NULL;
	nqueued = 0;
	nuploaders = uploaders_quit = 0;
	pthread_mutex_unlock(&held_lock);
}

static void
init_once(void)
{
	pthread_key_create(&clients_key, clients_free);
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
	atexit(at_exit);
}

static int
from_s3(const s3_err *se, lake_err *err)
{
	lake_err_kind kind = se->kind == S3_ERR_TRANSIENT ||
	    se->kind == S3_ERR_UNREACHABLE ? LAKE_ERR_IO : LAKE_ERR_FAILED;

	lake_err_set_kind(err, kind, "%s", se->msg);
	if (se->kind == S3_ERR_NOT_FOUND)
		return LAKE_STORE_NOT_FOUND;
	if (se->kind == S3_ERR_EXISTS)
		return LAKE_STORE_EXISTS;
	return LAKE_STORE_ERROR;
}

/* The bucket and key of a name; the client for the bucket. */
static s3_client *
resolve(const char *name, s3_uri *u, lake_err *err)
{
	const char *text = name;
	char fixed[S3_KEY_MAX + S3_BUCKET_MAX + 16];
	thread_clients *t;
	s3_config cfg;
	s3_err se = { 0 };
	s3_client *c;

	/* s3a:// as Spark spells it: the same bucket and key. */
	if (strncmp(name, "s3a://", 6) == 0) {
		snprintf(fixed, sizeof(fixed), "s3://%s", name + 6);
		text = fixed;
	}
	if (s3_uri_parse(text, u, &se) != 0) {
		from_s3(&se, err);
		return NULL;
	}
	pthread_once(&once, init_once);
	if ((t = pthread_getspecific(clients_key)) == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL) {
			lake_err_set(err, "out of memory");
			return NULL;
		}
		pthread_setspecific(clients_key, t);
	}
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->slot[i].bucket, u->bucket) == 0)
			return t->slot[i].c;
	if (s3_config_from_env(&cfg, &se) != 0) {
		from_s3(&se, err);
		return NULL;
	}
	c = s3_client_new(&cfg, u->bucket, &se);
	s3_config_wipe(&cfg);
	if (c == NULL) {
		from_s3(&se, err);
		return NULL;
	}
	if (client_register(c) == -1) {
		s3_client_free(c);
		lake_err_set(err, "out of memory");
		return NULL;
	}
	if (t->n == CLIENTS_MAX) {	/* the oldest goes */
		client_retire(t->slot[0].c);
		memmove(&t->slot[0], &t->slot[1],
		    (CLIENTS_MAX - 1) * sizeof(t->slot[0]));
		t->n--;
	}
	snprintf(t->slot[t->n].bucket, sizeof(t->slot[t->n].bucket), "%s",
	    u->bucket);
	t->slot[t->n++].c = c;
	return c;
}

/* Reads counters of clients other threads own: call it when they are
 * idle (a stage's end). */
void
lake_store_stats_get(lake_store_stats *out)
{
	pthread_mutex_lock(&stats_lock);
	*out = retired;
	for (size_t i = 0; i < nlive; i++) {
		s3_stats s;

		s3_client_stats(live[i], &s);
		stats_add(out, &s);
	}
	pthread_mutex_unlock(&stats_lock);
}

int
lake_s3_check_root(const char *name, lake_err *err)
{
	s3_config cfg;
	s3_uri u;
	s3_err se = { 0 };
	char fixed[S3_KEY_MAX + S3_BUCKET_MAX + 16];
	const char *text = name;

	if (strncmp(name, "s3a://", 6) == 0) {
		snprintf(fixed, sizeof(fixed), "s3://%s", name + 6);
		text = fixed;
	}
	if (s3_uri_parse(text, &u, &se) != 0 ||
	    s3_config_from_env(&cfg, &se) != 0) {
		from_s3(&se, err);
		return LAKE_STORE_ERROR;
	}
	s3_config_wipe(&cfg);
	return 0;
}

/* --- held objects -------------------------------------------------- */

/* A temp object: ".tmp-" in its last segment (a commit or checkpoint
 * prepared in _delta_log, a staged gold file), which lake_store_link
 * sends under its final name. Never streamed, never sent by a barrier. */
static int
is_temp(const char *name)
{
	const char *slash = strrchr(name, '/');

	return strstr(slash != NULL ? slash + 1 : name, ".tmp-") != NULL;
}

/* Index of name in the table, or -1; call under held_lock. */
static ssize_t
held_find(const char *name)
{
	for (size_t i = 0; i < nheld; i++)
		if (strcmp(held_objs[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* Takes held object name out of the table into *buf: 1, or 0 when it is
 * not held. */
static int
held_take(const char *name, lake_buf *buf)
{
	ssize_t i;

	pthread_mutex_lock(&held_lock);
	if ((i = held_find(name)) >= 0) {
		*buf = held_objs[i].buf;
		atomic_fetch_sub(&held_bytes, buf->len);
		free(held_objs[i].name);
		held_objs[i] = held_objs[--nheld];
	}
	pthread_mutex_unlock(&held_lock);
	return i >= 0;
}

/* Puts it (back) in the table, taking over name's copy and buf. */
static int
held_put(const char *name, lake_buf *buf)
{
	int rc = -1;

	pthread_mutex_lock(&held_lock);
	if (nheld == held_cap) {
		size_t cap = held_cap ? held_cap * 2 : 64;
		held *p = realloc(held_objs, cap * sizeof(*p));

		if (p == NULL)
			goto out;
		held_objs = p;
		held_cap = cap;
	}
	if ((held_objs[nheld].name = strdup(name)) == NULL)
		goto out;
	held_objs[nheld].buf = *buf;
	nheld++;
	atomic_fetch_add(&held_bytes, buf->len);
	memset(buf, 0, sizeof(*buf));
	rc = 0;
out:
	pthread_mutex_unlock(&held_lock);
	return rc;
}

/* --- streams and memory -------------------------------------------- */

/*
 * A stream keeps its bytes until they make a part of PART_BYTES; then it
 * starts a multipart upload under its own, final name, and its parts go
 * up on UPLOADERS background threads (each with its own clients), at
 * most PARTS_AHEAD of one stream and QUEUE_PARTS of all streams waiting
 * for a thread: the writer waits for room. So a file of any size costs
 * its writer about PARTS_AHEAD + 1 parts of memory (24 MiB) while the
 * Parquet encoding and the uploads overlap. Closing it sends the rest as
 * the last part, of any size; whichever thread sends the last part
 * completes the upload, and a barrier waits for that.
 *
 * A stream closed smaller than a part is held whole (above). When the
 * bytes held and the bytes open streams have not sent pass HELD_BUDGET,
 * the closed data files of the bucket are sent early, all at once and
 * in parallel (once they are at least EARLY_BATCH_MIN, so they still go
 * in batches), and a stream with S3_PART_MIN bytes sends them as a part.
 * What the budget cannot bound: streams kept open, each with less than a
 * part (a writer with a file open per partition holds them all until
 * its commit closes them).
 *
 * The commit rule is the disk's: a data file may exist under its name
 * before the commit that names it (an upload completed at close, a file
 * sent early), and no reader sees it; one no commit names is vacuum's.
 * An aborted stream aborts its upload (the stored parts are dropped). A
 * part that fails for good fails the stream's next write or its close,
 * or the barrier that waits for a closed one; the upload is aborted
 * then. A process killed mid-upload leaves an incomplete multipart
 * upload, which a bucket lifecycle rule (AbortIncompleteMultipartUpload)
 * removes, or an object no commit names.
 */
static int
over_budget(void)
{
	return atomic_load(&held_bytes) + atomic_load(&open_bytes) >
	    HELD_BUDGET;
}

/* A new upload record for name, in the list; NULL when out of memory. */
static upload *
upload_new(const char *name)
{
	upload *u = calloc(1, sizeof(*u));

	if (u == NULL || (u->name = strdup(name)) == NULL) {
		free(u);
		return NULL;
	}
	pthread_mutex_lock(&held_lock);
	u->next = uploads;
	uploads = u;
	pthread_mutex_unlock(&held_lock);
	return u;
}

/* Takes u out of the list and frees it; call under held_lock. */
static void
upload_free(upload *u)
{
	for (upload **pp = &uploads; *pp != NULL; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	free(u->name);
	free(u->parts);
	free(u);
}

static void
uploads_drop(void)
{
	pthread_mutex_lock(&held_lock);
	while (uploads != NULL)
		upload_free(uploads);
	pthread_mutex_unlock(&held_lock);
}

/* Marks u failed with err (the first failure stays); under held_lock. */
static void
upload_fail(upload *u, const lake_err *err)
{
	if (!u->failed) {
		u->failed = 1;
		u->err = *err;
	}
}

/*
 * Completes a closed upload whose parts are all in, or aborts it when
 * one failed, on this thread's client; then its outcome is known.
 */
static void
upload_finish(upload *u)
{
	lake_err err = { { 0 }, LAKE_ERR_FAILED };
	s3_err se = { 0 }, ignored;
	s3_uri uri;
	s3_client *c = resolve(u->name, &uri, &err);
	int failed;

	pthread_mutex_lock(&held_lock);
	failed = u->failed;
	pthread_mutex_unlock(&held_lock);
	if (c != NULL && !failed && s3_multipart_complete(c, uri.prefix,
	    u->id, u->parts, u->nparts, u->size, &se) != 0) {
		from_s3(&se, &err);
		failed = 1;
	}
	if (c != NULL && failed)
		(void)s3_multipart_abort(c, uri.prefix, u->id, &ignored);
	pthread_mutex_lock(&held_lock);
	if (c == NULL || failed)
		upload_fail(u, &err);
	u->done = 1;
	pthread_cond_broadcast(&done_cv);
	pthread_mutex_unlock(&held_lock);
}

/* Sends one part (unless its upload failed already) and frees it; the
 * part that ends a closed upload completes it. */
static void
part_send(part_job *j)
{
	upload *u = j->u;
	lake_err err = { { 0 }, LAKE_ERR_FAILED };
	s3_err se = { 0 };
	s3_part part;
	s3_uri uri;
	s3_client *c;
	int skip, rc = -1, finish;

	pthread_mutex_lock(&held_lock);
	skip = u->failed;
	pthread_mutex_unlock(&held_lock);
	if (!skip && (c = resolve(u->name, &uri, &err)) != NULL &&
	    (rc = s3_multipart_part(c, uri.prefix, u->id, j->number, j->data,
	    j->len, &part, &se)) != 0)
		from_s3(&se, &err);
	free(j->data);
	pthread_mutex_lock(&held_lock);
	if (rc == 0)
		u->parts[j->number - 1] = part;
	else if (!skip)
		upload_fail(u, &err);
	u->inflight--;
	finish = u->closed && u->inflight == 0 && !u->finishing;
	if (finish)
		u->finishing = 1;
	pthread_cond_broadcast(&done_cv);
	pthread_mutex_unlock(&held_lock);
	free(j);
	if (finish)
		upload_finish(u);
}

static void *
uploader(void *arg)
{
	part_job *j;

	(void)arg;
	pthread_mutex_lock(&held_lock);
	for (;;) {
		while (queue_head == NULL && !uploaders_quit)
			pthread_cond_wait(&work_cv, &held_lock);
		if ((j = queue_head) == NULL)
			break;
		if ((queue_head = j->next) == NULL)
			queue_tail = NULL;
		nqueued--;
		pthread_cond_broadcast(&done_cv);	/* room in the queue */
		pthread_mutex_unlock(&held_lock);
		part_send(j);
		pthread_mutex_lock(&held_lock);
	}
	pthread_mutex_unlock(&held_lock);
	lake_store_shutdown();
	return NULL;
}

/* Starts the uploader threads once, with every signal blocked (the
 * process's handlers run on its own threads): how many there are. Call
 * under held_lock. */
static int
uploaders_start(void)
{
	sigset_t all, old;

	if (nuploaders > 0 || uploaders_quit)
		return nuploaders;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	while (nuploaders < UPLOADERS && pthread_create(
	    &uploader_tid[nuploaders], NULL, uploader, NULL) == 0)
		nuploaders++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return nuploaders;
}

/* At exit: the queued parts are sent, then the threads end. */
static void
uploaders_stop(void)
{
	int n;

	pthread_mutex_lock(&held_lock);
	uploaders_quit = 1;
	n = nuploaders;
	pthread_cond_broadcast(&work_cv);
	pthread_mutex_unlock(&held_lock);
	for (int i = 0; i < n; i++)
		pthread_join(uploader_tid[i], NULL);
	pthread_mutex_lock(&held_lock);
	nuploaders = 0;
	pthread_mutex_unlock(&held_lock);
}

/* Starts o's multipart upload under its name (one request). */
static int
stream_start(lake_out *o, lake_err *err)
{
	char id[S3_UPLOAD_ID_MAX];
	s3_err se = { 0 }, ignored;
	s3_uri uri;
	s3_client *c;

	if ((c = resolve(o->name, &uri, err)) == NULL)
		return -1;
	if (s3_multipart_create(c, uri.prefix, id, &se) != 0) {
		from_s3(&se, err);
		return -1;
	}
	if ((o->upload = upload_new(o->name)) == NULL) {
		(void)s3_multipart_abort(c, uri.prefix, id, &ignored);
		lake_err_set(err, "%s: out of memory", o->name);
		return -1;
	}
	memcpy(o->upload->id, id, sizeof(id));
	return 0;
}

/*
 * Hands o's bytes to the uploaders as its next part (starting its
 * upload with the first), once there is room: the writer waits for its
 * earlier parts. With no uploader thread, it is sent here.
 */
static int
stream_send(lake_out *o, lake_err *err)
{
	part_job *j;
	upload *u;
	size_t len = o->buf.len;
	int threads;

	if (o->upload == NULL && stream_start(o, err) != 0)
		return -1;
	u = o->upload;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		lake_err_set(err, "%s: out of memory", o->name);
		return -1;
	}
	pthread_mutex_lock(&held_lock);
	while (!u->failed && (u->inflight >= PARTS_AHEAD ||
	    nqueued >= QUEUE_PARTS))
		pthread_cond_wait(&done_cv, &held_lock);
	if (!u->failed && u->nparts == S3_PARTS_LIMIT) {
		lake_err e;

		lake_err_set(&e, "%s: more than %d parts of %zu bytes: too "
		    "large for one object", o->name, S3_PARTS_LIMIT,
		    (size_t)PART_BYTES);
		upload_fail(u, &e);
	}
	if (!u->failed && u->nparts == u->parts_cap) {
		size_t cap = u->parts_cap ? u->parts_cap * 2 : 16;
		s3_part *p = realloc(u->parts, cap * sizeof(*p));

		if (p == NULL) {
			lake_err e;

			lake_err_set(&e, "%s: out of memory", o->name);
			upload_fail(u, &e);
		} else {
			u->parts = p;
			u->parts_cap = cap;
		}
	}
	if (u->failed) {
		if (err != NULL)
			*err = u->err;
		pthread_mutex_unlock(&held_lock);
		free(j);
		return -1;
	}
	j->u = u;
	j->number = ++u->nparts;
	j->data = o->buf.data;
	j->len = len;
	u->size += len;
	u->inflight++;
	memset(&o->buf, 0, sizeof(o->buf));
	atomic_fetch_sub(&open_bytes, len);
	if ((threads = uploaders_start()) > 0) {
		if (queue_tail != NULL)
			queue_tail->next = j;
		else
			queue_head = j;
		queue_tail = j;
		nqueued++;
		pthread_cond_signal(&work_cv);
	}
	pthread_mutex_unlock(&held_lock);
	if (threads == 0)
		part_send(j);
	return 0;
}

/*
 * Aborts a stream's upload: its queued parts are dropped, the ones in
 * flight waited for, the stored ones removed (AbortMultipartUpload).
 */
static void
stream_abort(upload *u)
{
	lake_err err = { { 0 }, LAKE_ERR_FAILED };
	s3_err ignored;
	s3_uri uri;
	s3_client *c;

	lake_err_set(&err, "%s: aborted", u->name);
	pthread_mutex_lock(&held_lock);
	upload_fail(u, &err);
	while (u->inflight > 0)
		pthread_cond_wait(&done_cv, &held_lock);
	pthread_mutex_unlock(&held_lock);
	if ((c = resolve(u->name, &uri, &err)) != NULL)
		(void)s3_multipart_abort(c, uri.prefix, u->id, &ignored);
	pthread_mutex_lock(&held_lock);
	upload_free(u);
	pthread_mutex_unlock(&held_lock);
}

/* Whether name is in bucket s3://B/ (or s3a://B/) of other's. */
static int
same_bucket(const char *name, const void *other)
{
	const char *a = strstr(name, "://"), *b = strstr(other, "://");
	size_t n;

	if (a == NULL || b == NULL)
		return 0;
	a += 3;
	b += 3;
	n = strcspn(a, "/");
	return n == strcspn(b, "/") && strncmp(a, b, n) == 0;
}

static int upload_held(held *mine, size_t n, upload **sent, lake_err *err);

/*
 * Over the budget: the closed data files held in name's bucket go up
 * now, at once, when they are EARLY_BATCH_MIN or more. Each gets an
 * upload record first (its barrier waits for it, and finds a failure
 * there); the caller goes on whatever happened.
 */
static void
send_early(const char *name)
{
	held *mine = NULL;
	upload **sent = NULL;
	size_t n = 0, bytes = 0;
	lake_err ignored = { { 0 }, LAKE_ERR_FAILED };

	if (!over_budget() || atomic_load(&held_bytes) < EARLY_BATCH_MIN)
		return;
	pthread_mutex_lock(&held_lock);
	if ((mine = calloc(nheld + 1, sizeof(*mine))) == NULL ||
	    (sent = calloc(nheld + 1, sizeof(*sent))) == NULL)
		goto out;
	for (size_t i = 0; i < nheld; i++)
		if (!is_temp(held_objs[i].name) &&
		    same_bucket(held_objs[i].name, name))
			bytes += held_objs[i].buf.len;
	if (bytes < EARLY_BATCH_MIN)
		goto out;
	for (size_t i = 0; i < nheld;) {
		held *h = &held_objs[i];
		upload *u = NULL;

		if (is_temp(h->name) || !same_bucket(h->name, name) ||
		    (u = calloc(1, sizeof(*u))) == NULL ||
		    (u->name = strdup(h->name)) == NULL) {
			if (u != NULL)
				free(u);
			i++;
			continue;
		}
		u->closed = u->finishing = 1;
		u->next = uploads;
		uploads = u;
		sent[n] = u;
		mine[n++] = *h;
		atomic_fetch_sub(&held_bytes, h->buf.len);
		*h = held_objs[--nheld];
	}
out:
	pthread_mutex_unlock(&held_lock);
	if (n > 0)
		(void)upload_held(mine, n, sent, &ignored);
	else
		free(mine);
	free(sent);
}

int
lake_s3_out_write(lake_out *o, const void *data, size_t len,
    lake_err *err)
{
	const uint8_t *p = data;
	int temp = is_temp(o->name);

	if (o->upload != NULL) {
		int failed;

		pthread_mutex_lock(&held_lock);
		if ((failed = o->upload->failed) && err != NULL)
			*err = o->upload->err;
		pthread_mutex_unlock(&held_lock);
		if (failed)
			return -1;
	}
	while (len > 0) {
		size_t n = temp || len < PART_BYTES - o->buf.len ? len :
		    PART_BYTES - o->buf.len;

		if (o->upload != NULL && o->buf.data == NULL)
			lake_buf_reserve(&o->buf, PART_BYTES);
		lake_buf_append(&o->buf, p, n);
		if (o->buf.failed) {
			lake_err_set(err, "%s: out of memory", o->name);
			return -1;
		}
		atomic_fetch_add(&open_bytes, n);
		o->size += n;
		p += n;
		len -= n;
		if (!temp && o->buf.len == PART_BYTES &&
		    stream_send(o, err) != 0)
			return -1;
	}
	if (!temp && over_budget()) {
		send_early(o->name);
		if (over_budget() && o->buf.len >= S3_PART_MIN)
			return stream_send(o, err);
	}
	return 0;
}

/*
 * Closes a stream. SYNC: its object is written now (the last part and
 * the completion, or one PUT). LATER: a streamed one's last part goes to
 * the uploaders, its barrier waits for the completion; a small one is
 * held. TEMP: held for its link (never streamed: see is_temp).
 */
int
lake_s3_out_close(lake_out *o, int mode, lake_err *err)
{
	upload *u = o->upload;
	size_t len = o->buf.len;
	int rc = 0, finish;

	if (u == NULL) {
		atomic_fetch_sub(&open_bytes, len);
		o->buf.len = 0;
		if (mode == LAKE_OUT_SYNC)
			return lake_s3_write(o->name, o->buf.data, len, 0, err);
		o->buf.len = len;
		if (held_put(o->name, &o->buf) == -1) {
			lake_err_set(err, "%s: out of memory", o->name);
			return -1;
		}
		if (mode == LAKE_OUT_LATER && !is_temp(o->name))
			send_early(o->name);
		return 0;
	}
	if (mode == LAKE_OUT_TEMP) {
		lake_err_set(err, "%s: a temp object larger than %zu bytes "
		    "was sent in parts (a temp name holds \".tmp-\")",
		    o->name, (size_t)PART_BYTES);
		lake_s3_out_abort(o);
		return -1;
	}
	if (len > 0 && stream_send(o, err) != 0) {
		lake_s3_out_abort(o);
		return -1;
	}
	o->upload = NULL;
	pthread_mutex_lock(&held_lock);
	if (u->failed) {	/* a part failed: nothing is to complete */
		if (err != NULL)
			*err = u->err;
		pthread_mutex_unlock(&held_lock);
		stream_abort(u);
		return -1;
	}
	u->closed = 1;	/* from now on, the last part's sender ends it */
	if ((finish = u->inflight == 0))
		u->finishing = 1;
	pthread_mutex_unlock(&held_lock);
	if (finish)
		upload_finish(u);
	pthread_mutex_lock(&held_lock);
	while (mode == LAKE_OUT_SYNC && !u->done)
		pthread_cond_wait(&done_cv, &held_lock);
	if (u->done && (mode == LAKE_OUT_SYNC || u->failed)) {
		if (u->failed) {
			if (err != NULL)
				*err = u->err;
			rc = -1;
		}
		upload_free(u);
	}
	pthread_mutex_unlock(&held_lock);
	return rc;
}

void
lake_s3_out_abort(lake_out *o)
{
	atomic_fetch_sub(&open_bytes, o->buf.len);
	o->buf.len = 0;
	if (o->upload != NULL)
		stream_abort(o->upload);
	o->upload = NULL;
}

/*
 * Waits for the closed uploads whose names match to end, and takes them
 * out of the list: 0, or the first failure. keep leaves them listed (a
 * stat waits, the barrier still reports).
 */
static int
uploads_wait(int (*match)(const char *name, const void *arg),
    const void *arg, int keep, lake_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&held_lock);
	for (;;) {
		upload *u, *next;
		int waiting = 0;

		for (u = uploads; u != NULL; u = next) {
			next = u->next;
			if (!u->closed || !match(u->name, arg))
				continue;
			if (!u->done) {
				waiting = 1;
				continue;
			}
			if (u->failed && rc == 0) {
				if (err != NULL)
					*err = u->err;
				rc = LAKE_STORE_ERROR;
			}
			if (!keep)
				upload_free(u);
		}
		if (!waiting)
			break;
		pthread_cond_wait(&done_cv, &held_lock);
	}
	pthread_mutex_unlock(&held_lock);
	return rc;
}

static int
same_name(const char *name, const void *arg)
{
	return strcmp(name, arg) == 0;
}

/* --- calls --------------------------------------------------------- */

typedef struct stat_find {
	const char *key;
	uint64_t size;
	int64_t mtime_us;
	int found;
} stat_find;

static int
stat_one(const s3_object *o, void *arg)
{
	stat_find *f = arg;

	if (strcmp(o->key, f->key) == 0) {
		f->found = 1;
		f->size = o->size;
		f->mtime_us = o->mtime_us;
	}
	return 1;	/* the key itself sorts first under its own prefix */
}

/*
 * A listing of the key as prefix, not a HEAD: it carries LastModified,
 * which log retention and vacuum decide on, in the same one request.
 */
int
lake_s3_stat(const char *name, uint64_t *size, int64_t *mtime_us,
    lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };
	stat_find f = { 0 };
	int rc;

	pthread_mutex_lock(&held_lock);
	rc = held_find(name) >= 0;
	if (rc) {
		if (size != NULL)
			*size = held_objs[held_find(name)].buf.len;
		if (mtime_us != NULL)
			*mtime_us = clock_now_us();
	}
	pthread_mutex_unlock(&held_lock);
	if (rc)
		return 0;
	(void)uploads_wait(same_name, name, 1, NULL);	/* on its way up */
	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	f.key = u.prefix;
	if (s3_list_objects(c, u.prefix, NULL, stat_one, &f, &se) < 0)
		return from_s3(&se, err);
	if (!f.found) {
		lake_err_set(err, "s3://%s/%s: no such key", u.bucket,
		    u.prefix);
		return LAKE_STORE_NOT_FOUND;
	}
	if (size != NULL)
		*size = f.size;
	if (mtime_us != NULL)
		*mtime_us = f.mtime_us;
	return 0;
}

int
lake_s3_read_all(const char *name, uint8_t **data, size_t *len,
    lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };
	uint8_t *d, *grown;
	size_t n;

	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	if (s3_get_alloc(c, u.prefix, &d, &n, &se) != 0)
		return from_s3(&se, err);
	if ((grown = realloc(d, n + 1)) == NULL) {
		free(d);
		lake_err_set(err, "%s: out of memory", name);
		return LAKE_STORE_ERROR;
	}
	grown[n] = '\0';
	*data = grown;
	*len = n;
	return 0;
}

int
lake_s3_read_range(const char *name, uint64_t off, size_t len, void *buf,
    size_t *got, uint64_t *object_size, lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };

	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	if (s3_get_range(c, u.prefix, off, len, buf, got, object_size,
	    &se) != 0)
		return from_s3(&se, err);
	return 0;
}

int
lake_s3_read_tail(const char *name, size_t len, void *buf, size_t *got,
    uint64_t *object_size, lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };

	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	if (s3_get_tail(c, u.prefix, len, buf, got, object_size, &se) != 0)
		return from_s3(&se, err);
	return 0;
}

int
lake_s3_write(const char *name, const void *data, size_t len,
    int if_absent, lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };
	int rc;

	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	rc = if_absent ? s3_put_if_absent(c, u.prefix, data, len, &se) :
	    s3_put(c, u.prefix, data, len, &se);
	return rc == 0 ? 0 : from_s3(&se, err);
}

int
lake_s3_link(const char *tmp, const char *final, int noreplace,
    lake_err *err)
{
	lake_buf b = { 0 };
	int rc;

	if (held_take(tmp, &b)) {
		rc = lake_s3_write(final, b.data, b.len, noreplace, err);
		if (rc != 0 && held_put(tmp, &b) == 0)
			return rc;	/* the caller deletes it */
		lake_buf_free(&b);
		return rc;
	}
	/* Uploaded already: copy through here (S3 has no rename). */
	if ((rc = uploads_wait(same_name, tmp, 0, err)) != 0 ||
	    (rc = lake_s3_read_all(tmp, &b.data, &b.len, err)) != 0)
		return rc;
	rc = lake_s3_write(final, b.data, b.len, noreplace, err);
	free(b.data);
	if (rc == 0)
		rc = lake_s3_delete(tmp, err);
	return rc;
}

int
lake_s3_delete(const char *name, lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };
	lake_buf b = { 0 };

	if (held_take(name, &b)) {	/* never sent: nothing to delete */
		lake_buf_free(&b);
		return 0;
	}
	/* Sent, or on its way: whatever became of it, it goes. */
	(void)uploads_wait(same_name, name, 0, NULL);
	if ((c = resolve(name, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	return s3_delete(c, u.prefix, &se) == 0 ? 0 : from_s3(&se, err);
}

/* A temp object needs no barrier: its link sends it. */
int
lake_s3_sync_file(const char *name, lake_err *err)
{
	lake_buf b = { 0 };
	int rc = 0;

	if (is_temp(name))
		return 0;
	if (held_take(name, &b)) {
		rc = lake_s3_write(name, b.data, b.len, 0, err);
		lake_buf_free(&b);
	}
	if (rc == 0)
		rc = uploads_wait(same_name, name, 0, err);
	return rc;
}

/*
 * Uploads held objects taken out of the table (n of them in mine, which
 * this frees) at once: up to the client's max_parallel PUTs in flight.
 * sent, when not NULL, holds their upload records (send_early's), which
 * get their own outcomes for the barriers that wait for them.
 */
static int
upload_held(held *mine, size_t n, upload **sent, lake_err *err)
{
	s3_put_item *items = NULL;
	s3_uri *uris = NULL;
	s3_client *c = NULL;
	s3_err se = { 0 };
	int rc = LAKE_STORE_ERROR, put = 0;

	if (n == 0) {
		free(mine);
		return 0;
	}
	if ((items = calloc(n, sizeof(*items))) == NULL ||
	    (uris = calloc(n, sizeof(*uris))) == NULL) {
		lake_err_set(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		s3_client *ci = resolve(mine[i].name, &uris[i], err);

		if (ci == NULL)
			goto out;
		if (c != NULL && ci != c) {
			lake_err_set(err, "%s: one barrier over two buckets",
			    mine[i].name);
			goto out;
		}
		c = ci;
		items[i].key = uris[i].prefix;
		items[i].data = mine[i].buf.data;
		items[i].len = mine[i].buf.len;
	}
	put = 1;
	if (s3_put_many(c, items, n, &se) != 0) {
		rc = from_s3(&se, err);
		goto out;
	}
	rc = 0;
out:
	if (sent != NULL) {
		pthread_mutex_lock(&held_lock);
		for (size_t i = 0; i < n; i++) {
			lake_err e = { { 0 }, LAKE_ERR_FAILED };

			if (put && items[i].err.kind != S3_ERR_NONE)
				from_s3(&items[i].err, &e);
			else if (!put && err != NULL)
				e = *err;
			if (rc != 0 && (!put || items[i].err.kind !=
			    S3_ERR_NONE))
				upload_fail(sent[i], &e);
			sent[i]->done = 1;
		}
		pthread_cond_broadcast(&done_cv);
		pthread_mutex_unlock(&held_lock);
	}
	for (size_t i = 0; i < n; i++) {
		free(mine[i].name);
		lake_buf_free(&mine[i].buf);
	}
	free(mine);
	free(items);
	free(uris);
	return rc;
}

/* Takes the held objects that match out of the table, temps aside. */
static held *
take_matching(int (*match)(const char *name, const void *arg),
    const void *arg, size_t *n, lake_err *err)
{
	held *mine;

	*n = 0;
	pthread_mutex_lock(&held_lock);
	if ((mine = calloc(nheld + 1, sizeof(*mine))) == NULL) {
		pthread_mutex_unlock(&held_lock);
		lake_err_set(err, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < nheld;) {
		if (!is_temp(held_objs[i].name) &&
		    match(held_objs[i].name, arg)) {
			atomic_fetch_sub(&held_bytes, held_objs[i].buf.len);
			mine[(*n)++] = held_objs[i];
			held_objs[i] = held_objs[--nheld];
		} else
			i++;
	}
	pthread_mutex_unlock(&held_lock);
	return mine;
}

static int
under_dir(const char *name, const void *arg)
{
	const char *dir = arg;
	size_t dlen = strlen(dir);

	return strncmp(name, dir, dlen) == 0 && name[dlen] == '/';
}

/* The held objects that match go up at once; then the uploads that
 * match, on their way already, are waited for. */
static int
sync_matching(int (*match)(const char *name, const void *arg),
    const void *arg, lake_err *err)
{
	size_t n;
	held *mine = take_matching(match, arg, &n, err);
	int rc = mine == NULL ? LAKE_STORE_ERROR :
	    upload_held(mine, n, NULL, err);
	lake_err later;

	if (uploads_wait(match, arg, 0, &later) != 0 && rc == 0) {
		if (err != NULL)
			*err = later;
		rc = LAKE_STORE_ERROR;
	}
	return rc;
}

int
lake_s3_sync_tree(const char *dir, lake_err *err)
{
	return sync_matching(under_dir, dir, err);
}

typedef struct name_set {
	const char *const *names;
	size_t n;
} name_set;

static int
in_set(const char *name, const void *arg)
{
	const name_set *s = arg;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return 1;
	return 0;
}

int
lake_s3_sync_names(const char *const *names, size_t n, lake_err *err)
{
	name_set set = { names, n };

	return sync_matching(in_set, &set, err);
}

typedef struct list_ctx {
	size_t prefix_len;
	int flags;
	int (*fn)(const lake_store_entry *e, void *arg);
	void *arg;
} list_ctx;

static int
list_one(const s3_object *o, void *arg)
{
	list_ctx *l = arg;
	const char *rel = o->key + l->prefix_len;
	lake_store_entry e = { rel, (int64_t)o->size, o->mtime_us };

	if (l->flags & LAKE_LIST_TREE) {
		if (rel[0] == '_' || rel[0] == '.' || strstr(rel, "/.") != NULL)
			return 0;
	} else if (strchr(rel, '/') != NULL)
		return 0;
	return l->fn(&e, l->arg) != 0;
}

int
lake_s3_list(const char *dir, const char *start_after, int flags,
    int (*fn)(const lake_store_entry *e, void *arg), void *arg,
    lake_err *err)
{
	s3_uri u;
	s3_client *c;
	s3_err se = { 0 };
	char prefix[S3_KEY_MAX + 2], start[2 * S3_KEY_MAX + 2];
	list_ctx l = { 0, flags, fn, arg };

	if ((c = resolve(dir, &u, err)) == NULL)
		return LAKE_STORE_ERROR;
	if (snprintf(prefix, sizeof(prefix), "%s%s", u.prefix,
	    u.prefix[0] != '\0' ? "/" : "") >= (int)sizeof(prefix) ||
	    snprintf(start, sizeof(start), "%s%s", prefix,
	    start_after ? start_after : "") >= (int)sizeof(start)) {
		lake_err_set(err, "%s: key too long", dir);
		return LAKE_STORE_ERROR;
	}
	l.prefix_len = strlen(prefix);
	if (s3_list_objects(c, prefix, start_after ? start : NULL, list_one,
	    &l, &se) < 0)
		return from_s3(&se, err);
	return 0;
}

/* The prefetch's way in (lake_store_s3_prefetch.c). */
s3_client *
lake_s3_client(const char *name, s3_uri *u, lake_err *err)
{
	return resolve(name, u, err);
}

int
lake_s3_error(const s3_err *se, lake_err *err)
{
	return from_s3(se, err);
}
