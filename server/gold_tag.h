/*
 * gold_tag.h - the ETag of the gold file /api/gold last checked, keyed by
 * the file's identity, so that a poll of an unchanged gold (a 304) costs
 * one stat() instead of a read, a schema check and a hash of the file.
 *
 * The identity is what stat() says: device, inode, size, and modification
 * and change times to the nanosecond. Serving publishes gold by writing a
 * new file and renaming it over the old one, so every new gold is a new
 * inode; an edit in place changes the times. A file with the same
 * identity is therefore the same bytes, already checked against the
 * schema, and its ETag is the one remembered. Only a checked gold is
 * remembered: a file that broke its contract is read and refused again
 * at each request. The HTTP worker threads share one gold_tag, under its
 * mutex.
 */
#ifndef SERVER_GOLD_TAG_H
#define SERVER_GOLD_TAG_H

#include <pthread.h>
#include <stddef.h>
#include <sys/stat.h>

typedef struct gold_tag {
	pthread_mutex_t lock;
	int valid;
	struct stat id;		/* identity of the file the tags are for */
	char etag[48];
	char last_modified[40];
} gold_tag;

void gold_tag_init(gold_tag *t);
void gold_tag_free(gold_tag *t);
/* 1 with etag and last_modified copied when st is the remembered file,
 * else 0. */
int gold_tag_lookup(gold_tag *t, const struct stat *st, char *etag,
    size_t etag_len, char *last_modified, size_t lm_len);
/* Remembers the tags of a checked gold file whose stat is st. */
void gold_tag_store(gold_tag *t, const struct stat *st, const char *etag,
    const char *last_modified);

#endif
