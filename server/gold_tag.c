/*
 * gold_tag.c - the remembered ETag of gold, keyed by the file's identity
 * (see gold_tag.h for why that identity is enough).
 */
#include <stdio.h>
#include <string.h>

#include "gold_tag.h"

void
gold_tag_init(gold_tag *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
}

void
gold_tag_free(gold_tag *t)
{
	pthread_mutex_destroy(&t->lock);
}

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && same_time(&a->st_mtim, &b->st_mtim) &&
	    same_time(&a->st_ctim, &b->st_ctim);
}

int
gold_tag_lookup(gold_tag *t, const struct stat *st, char *etag,
    size_t etag_len, char *last_modified, size_t lm_len)
{
	int hit;

	pthread_mutex_lock(&t->lock);
	if ((hit = t->valid && same_file(&t->id, st))) {
		snprintf(etag, etag_len, "%s", t->etag);
		snprintf(last_modified, lm_len, "%s", t->last_modified);
	}
	pthread_mutex_unlock(&t->lock);
	return hit;
}

void
gold_tag_store(gold_tag *t, const struct stat *st, const char *etag,
    const char *last_modified)
{
	pthread_mutex_lock(&t->lock);
	t->id = *st;
	snprintf(t->etag, sizeof(t->etag), "%s", etag);
	snprintf(t->last_modified, sizeof(t->last_modified), "%s",
	    last_modified);
	t->valid = 1;
	pthread_mutex_unlock(&t->lock);
}
