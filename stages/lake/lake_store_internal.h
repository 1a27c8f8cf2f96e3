/*
 * lake_store_internal.h - what the storage seam (lake_store.c, the local
 * backend and the dispatch) shares with its S3 backend
 * (lake_store_s3.c): the stream structs and the backend's entry points,
 * each the S3 form of the lake_store_* call of the same name.
 */
#ifndef LAKE_STORE_INTERNAL_H
#define LAKE_STORE_INTERNAL_H

#include "lake_buf.h"
#include "lake_store.h"

struct lake_out {
	char *name;
	uint64_t size;
	int remote;
	/* local */
	int fd;
	int defer;
	int created;
	/* S3: the bytes not sent yet (all of a small object, uploaded at
	 * close(sync) or at a barrier; a large one's next part), and the
	 * multipart upload of a large one (lake_store_s3.c) */
	lake_buf buf;
	struct lake_s3_upload *upload;
};

struct lake_in {
	char *name;
	int64_t size;		/* -1 until known */
	int remote;
	int fd;			/* local */
	/* S3: bytes a prefetch brought (lake_store_s3_prefetch.c), owned,
	 * [pre_off, pre_off + pre_len) of the object; or its failure */
	uint8_t *pre;
	size_t pre_len;
	uint64_t pre_off;
	lake_err *pre_err;
};

int lake_s3_stat(const char *name, uint64_t *size, int64_t *mtime_us,
    lake_err *err);
int lake_s3_read_all(const char *name, uint8_t **data, size_t *len,
    lake_err *err);
int lake_s3_read_range(const char *name, uint64_t off, size_t len,
    void *buf, size_t *got, uint64_t *object_size, lake_err *err);
int lake_s3_read_tail(const char *name, size_t len, void *buf, size_t *got,
    uint64_t *object_size, lake_err *err);
int lake_s3_write(const char *name, const void *data, size_t len,
    int if_absent, lake_err *err);
int lake_s3_link(const char *tmp, const char *final, int noreplace,
    lake_err *err);
int lake_s3_delete(const char *name, lake_err *err);
int lake_s3_sync_file(const char *name, lake_err *err);
int lake_s3_sync_tree(const char *dir, lake_err *err);
int lake_s3_sync_names(const char *const *names, size_t n, lake_err *err);
int lake_s3_list(const char *dir, const char *start_after, int flags,
    int (*fn)(const lake_store_entry *e, void *arg), void *arg,
    lake_err *err);
int lake_s3_check_root(const char *name, lake_err *err);
/* The S3 forms of lake_out_write, lake_out_close (which leaves o for
 * the caller to free) and lake_out_abort (likewise). */
int lake_s3_out_write(lake_out *o, const void *data, size_t len,
    lake_err *err);
int lake_s3_out_close(lake_out *o, int mode, lake_err *err);
void lake_s3_out_abort(lake_out *o);

/* For the prefetch (lake_store_s3_prefetch.c): this thread's client for
 * name's bucket, and an S3 error in the seam's terms (its result). */
struct s3_client;
struct s3_uri;
struct s3_err;
struct s3_client *lake_s3_client(const char *name, struct s3_uri *u,
    lake_err *err);
int lake_s3_error(const struct s3_err *se, lake_err *err);
/* Gives in the bytes prefetched for its name, if any (in->pre...). */
void lake_s3_prefetch_take(lake_in *in);

#endif
