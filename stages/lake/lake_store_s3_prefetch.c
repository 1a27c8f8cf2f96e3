/*
 * lake_store_s3_prefetch.c - reading a scan's next files from S3 at once.
 *
 * A scan opens its files one after another, and on S3 each open is a GET
 * (all of a small file, or a large one's footer): a round trip each, one
 * after another, was most of an increment's transformation on S3 (416
 * GETs of a few KiB in a row). lake_store_prefetch takes the names of the
 * files the scan will open next and reads a window of them with
 * s3_get_many, up to max_parallel GETs in flight, into this thread's
 * window; lake_in_open (lake_store.c) takes an entry's bytes over, so
 * the scan's reads are then memcpy's and no request.
 *
 * The window is per thread, as S3 clients are (a scan runs on one
 * thread; the transformation's two sorting workers each have theirs),
 * and bounded: at most LAKE_PREFETCH_FILES entries and
 * LAKE_PREFETCH_BYTES of buffers. Each call first drops what the last
 * left untaken (a scan that stopped early), so the window never grows
 * past one call's worth; the scan drops it at its end. Data files are
 * never rewritten under the same name, so bytes read a moment before
 * the open are the bytes the open would read.
 *
 * What is read of each file is what the Parquet reader's open asks for
 * first: a suffix GET of the file's size (from the log) when it is at most
 * LAKE_PREFETCH_WHOLE_BYTES, which is all of it, else of
 * LAKE_PREFETCH_TAIL_BYTES, the footer. Both answer with the object's
 * size (Content-Range), and the bytes always end at the object's end.
 *
 * A failed read is kept, as the seam's lake_err, and given to the lake_in
 * to report at its first read: the message is the one a GET of its own
 * would have given (the client's retries and kinds are the same), and a
 * gateway that is down is waited for once, not once here and once again
 * at the open.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lake_store_internal.h"
#include "s3.h"

typedef struct pf_entry {
	char *name;
	uint8_t *data;		/* owned; NULL after a failure */
	size_t len;
	uint64_t off;		/* of data[0] in the object */
	lake_err *err;		/* owned; the failure, or NULL */
} pf_entry;

typedef struct pf_window {
	pf_entry e[LAKE_PREFETCH_FILES];
	size_t n;
} pf_window;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t window_key;

static void
entry_free(pf_entry *e)
{
	free(e->name);
	free(e->data);
	free(e->err);
	memset(e, 0, sizeof(*e));
}

static void
window_clear(pf_window *w)
{
	for (size_t i = 0; i < w->n; i++)
		entry_free(&w->e[i]);
	w->n = 0;
}

static void
window_free(void *p)
{
	if (p != NULL)
		window_clear(p);
	free(p);
}

static void
init_once(void)
{
	pthread_key_create(&window_key, window_free);
}

/* This thread's window; NULL when there is none and create is 0 (or no
 * memory). */
static pf_window *
window_get(int create)
{
	pf_window *w;

	pthread_once(&once, init_once);
	w = pthread_getspecific(window_key);
	if (w == NULL && create && (w = calloc(1, sizeof(*w))) != NULL &&
	    pthread_setspecific(window_key, w) != 0) {
		free(w);
		w = NULL;
	}
	return w;
}

void
lake_store_prefetch_drop(void)
{
	pf_window *w = window_get(0);

	if (w != NULL)
		window_clear(w);
}

void
lake_store_prefetch_usage(size_t *files, size_t *bytes)
{
	pf_window *w = window_get(0);

	*files = w != NULL ? w->n : 0;
	*bytes = 0;
	for (size_t i = 0; i < *files; i++)
		*bytes += w->e[i].len;
}

/* The bytes to read of a file of size (-1: unknown). */
static size_t
want_bytes(int64_t size)
{
	return size > 0 && (uint64_t)size <= LAKE_PREFETCH_WHOLE_BYTES ?
	    (size_t)size : LAKE_PREFETCH_TAIL_BYTES;
}

/* Fills the window's entry from item it (whose buffer it takes). */
static int
entry_fill(pf_entry *e, const char *name, s3_get_item *it)
{
	if ((e->name = strdup(name)) == NULL)
		return -1;
	if (it->err.kind == S3_ERR_NONE) {
		e->data = it->buf;
		e->len = it->got;
		e->off = it->object_size - it->got;
		it->buf = NULL;
		return 0;
	}
	if ((e->err = malloc(sizeof(*e->err))) == NULL)
		return -1;
	lake_s3_error(&it->err, e->err);
	return 0;
}

size_t
lake_store_prefetch(const char *const *names, const int64_t *sizes,
    size_t n)
{
	s3_get_item items[LAKE_PREFETCH_FILES];
	s3_uri uris[LAKE_PREFETCH_FILES];
	s3_client *c = NULL;
	s3_err se;
	pf_window *w;
	size_t k = 0, bytes = 0, i;

	if (n == 0 || !lake_store_is_remote(names[0]))
		return n;
	if ((w = window_get(1)) == NULL)
		return 1;	/* no memory: the open reads it itself */
	window_clear(w);
	memset(items, 0, sizeof(items));
	/* The window: files in order while the count and the bytes allow,
	 * all of one bucket (one client). */
	for (; k < n && k < LAKE_PREFETCH_FILES; k++) {
		size_t want = want_bytes(sizes[k]);
		s3_client *ck;

		if (k > 0 && bytes + want > LAKE_PREFETCH_BYTES)
			break;
		if ((ck = lake_s3_client(names[k], &uris[k], NULL)) == NULL ||
		    (c != NULL && ck != c))
			break;
		c = ck;
		if ((items[k].buf = malloc(want)) == NULL)
			break;
		items[k].key = uris[k].prefix;
		items[k].len = want;
		items[k].tail = 1;
		bytes += want;
	}
	if (k == 0)
		return 1;
	(void)s3_get_many(c, items, k, &se);	/* each item's own outcome */
	for (i = 0; i < k; i++) {
		if (entry_fill(&w->e[w->n], names[i], &items[i]) == 0)
			w->n++;
		else
			entry_free(&w->e[w->n]);
		free(items[i].buf);
	}
	return k;
}

void
lake_s3_prefetch_take(lake_in *in)
{
	pf_window *w = window_get(0);

	for (size_t i = 0; w != NULL && i < w->n; i++) {
		pf_entry *e = &w->e[i];

		if (strcmp(e->name, in->name) != 0)
			continue;
		in->pre = e->data;
		in->pre_len = e->len;
		in->pre_off = e->off;
		in->pre_err = e->err;
		e->data = NULL;
		e->err = NULL;
		entry_free(e);
		w->e[i] = w->e[--w->n];
		memset(&w->e[w->n], 0, sizeof(w->e[w->n]));
		return;
	}
}
