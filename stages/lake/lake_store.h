/*
 * lake_store.h - the storage seam of the lake library: bytes by name.
 *
 * Everything above this layer (Parquet, the Delta log, table operations,
 * medallion-lake) names objects with plain strings, a local path or an
 * s3://bucket/key URI (s3a:// too), and builds names below a table with
 * "%s/%s" as before. The name picks the backend:
 *
 *   local  the filesystem, with today's guarantees: whole writes to a
 *          temp file, fsync, rename; create-if-absent by link(2), whose
 *          EEXIST is LAKE_STORE_EXISTS; barriers are fsync(2) of files
 *          and folders, or syncfs(2) for many files at once.
 *   s3     an S3-compatible object store (lake_store_s3.c over s3.h):
 *          whole writes are one PUT (multipart when large), create-if-
 *          absent is a PUT with If-None-Match: * (412 is
 *          LAKE_STORE_EXISTS), reads are ranged GETs, lists are
 *          ListObjectsV2 from a start key. Folders do not exist.
 *
 * Durability: a small stream written with lake_out and closed without
 * sync is, on S3, held in memory until a barrier (lake_store_sync_tree,
 * lake_store_sync_file) uploads it: the barrier sends many objects at
 * once (s3_put_many), which is what makes a commit of hundreds of small
 * files cheap, and it maps exactly onto "written, not yet durable" on a
 * disk. Memory stays bounded: a stream that reaches 8 MiB goes out as a
 * multipart upload while it is written, and closed files go up early
 * when the bytes held pass 64 MiB (lake_store_s3.c). lake_store_link of
 * a held temp object creates the final name directly, so a commit on S3
 * is one conditional PUT.
 *
 * Credentials for S3 come only from the environment and the shared
 * credentials file (s3_config_from_env). One client per bucket per
 * thread is kept for the life of the thread (S3 clients are not
 * thread-safe); that cache is the one piece of process state here,
 * kept because every lake call would otherwise need a handle threaded
 * through an API that names tables by path.
 */
#ifndef LAKE_STORE_H
#define LAKE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lake_err.h"

#define LAKE_STORE_OK 0
#define LAKE_STORE_ERROR (-1)
#define LAKE_STORE_EXISTS (-2)		/* create-if-absent found the name */
#define LAKE_STORE_NOT_FOUND (-3)	/* no such object (or folder) */

/* Whether name is an object-store URI (s3:// or s3a://). */
int lake_store_is_remote(const char *name);

/*
 * Checks a lake root given by a user before anything is read or written:
 * an s3:// URI must parse (bucket and key rules) and credentials must be
 * found (s3_config_from_env); a local path is taken as it is. Copies it
 * into out without trailing '/' (S3 keys would get empty segments).
 */
int lake_store_root(const char *name, char *out, size_t len, lake_err *err);

/* Size and modification time (us since the epoch). NOT_FOUND. */
int lake_store_stat(const char *name, uint64_t *size, int64_t *mtime_us,
    lake_err *err);

/* The whole object into *data (owned: free()), its length in *len.
 * NOT_FOUND when absent. A NUL byte is appended past *len. */
int lake_store_read_all(const char *name, uint8_t **data, size_t *len,
    lake_err *err);

/* Writes name whole, replacing it atomically: readers see the old or the
 * new bytes, never a mix (local: temp, fsync, rename, fsync folder). */
int lake_store_write(const char *name, const void *data, size_t len,
    lake_err *err);

/* Replaces name atomically but without durability: a crash may leave
 * the old bytes (a cache or a marker; local: temp and rename, no
 * fsync). */
int lake_store_write_cache(const char *name, const void *data, size_t len,
    lake_err *err);

/* Creates name with data only when absent: LAKE_STORE_EXISTS if it is
 * there (local: temp, fsync, link(2), fsync folder). */
int lake_store_create(const char *name, const void *data, size_t len,
    lake_err *err);

/*
 * Gives tmp (written with lake_out) the name final and removes tmp.
 * noreplace: create-if-absent (link(2); a conditional PUT),
 * LAKE_STORE_EXISTS when final is there, tmp then left in place;
 * otherwise final is replaced (rename(2); a PUT). No barrier on the
 * folder: call lake_store_sync_dir.
 */
int lake_store_link(const char *tmp, const char *final, int noreplace,
    lake_err *err);

/* Deletes name; an absent name is no error. */
int lake_store_delete(const char *name, lake_err *err);

/* Makes dir and its parents (local); nothing on S3. */
int lake_store_mkdirs(const char *dir, lake_err *err);

/* --- barriers ------------------------------------------------------ */

/* New names in dir survive a crash (fsync of the folder); S3: nothing. */
int lake_store_sync_dir(const char *dir, lake_err *err);
/* One file written without sync is durable (fsync by path; S3: uploads
 * it if held). */
int lake_store_sync_file(const char *name, lake_err *err);
/* n files written without sync are durable: an fsync each; S3: the
 * held ones uploaded, in parallel. */
int lake_store_sync_files(const char *const *names, size_t n,
    lake_err *err);
/* Everything written under dir is durable: syncfs(2) of its filesystem;
 * S3: every held object under dir uploaded, in parallel. */
int lake_store_sync_tree(const char *dir, lake_err *err);

/* --- listing ------------------------------------------------------- */

typedef struct lake_store_entry {
	const char *name;	/* relative to the folder listed */
	int64_t size;		/* -1 unless LAKE_LIST_STAT (S3: always) */
	int64_t mtime_us;	/* -1 unless LAKE_LIST_STAT (S3: always) */
} lake_store_entry;

enum {
	LAKE_LIST_STAT = 1,	/* fill size and mtime (local: lstat(2)) */
	LAKE_LIST_TREE = 2,	/* regular files in subfolders too, skipping
				   names that start with '.' at any depth and
				   with '_' at the top (Delta's log, Spark's
				   markers); order then unspecified */
};

/*
 * The objects in folder dir whose names sort after start_after (NULL:
 * all), in byte order of their names (without LAKE_LIST_TREE), each
 * handed to fn, which returns 0 to go on or 1 to stop. 0 at the end or
 * when fn stopped it, NOT_FOUND when dir does not exist (local; on S3,
 * where folders do not exist, an empty prefix simply lists nothing), -1
 * on failure. Held objects (not yet durable) are not listed.
 */
int lake_store_list(const char *dir, const char *start_after, int flags,
    int (*fn)(const lake_store_entry *e, void *arg), void *arg,
    lake_err *err);

/* --- streams ------------------------------------------------------- */

typedef struct lake_out lake_out;

/*
 * Creates name exclusively (local: O_CREAT | O_EXCL) for appending. With
 * defer, the local file is created at the first write, and
 * lake_out_release closes it until the next one (for thousands of
 * writers at once).
 */
lake_out *lake_out_create(const char *name, int defer, lake_err *err);
int lake_out_write(lake_out *o, const void *data, size_t len,
    lake_err *err);
/* A deferred stream gives up its descriptor until the next write. */
int lake_out_release(lake_out *o, lake_err *err);
/* Bytes written so far. */
uint64_t lake_out_size(const lake_out *o);
enum {
	LAKE_OUT_LATER = 0,	/* durable at the next barrier (local: write-
				   back started for a big file; S3: held) */
	LAKE_OUT_SYNC = 1,	/* durable now (fsync; S3: PUT) */
	LAKE_OUT_TEMP = 2,	/* a temp object that lake_store_link will
				   name: durable now locally (link needs
				   it), held on S3 (the link uploads it
				   under its final name) */
};

/* Closes and frees o, durable as mode says. On failure the object is
 * removed. */
int lake_out_close(lake_out *o, int mode, lake_err *err);
/* Removes what was written and frees o. */
void lake_out_abort(lake_out *o);

typedef struct lake_in lake_in;

/* Opens name for reading. size: its size when the caller knows it (a
 * Delta add's), else -1. NOT_FOUND through err's kind is not told
 * apart: a missing data file is an error for every caller. */
lake_in *lake_in_open(const char *name, int64_t size, lake_err *err);
/* The size: from the caller, else fstat(2) or a HEAD. */
int lake_in_size(lake_in *in, uint64_t *size, lake_err *err);
/* len bytes at off into buf; *got is shorter only at the end. */
int lake_in_read_at(lake_in *in, uint64_t off, size_t len, void *buf,
    size_t *got, lake_err *err);
/* The last len bytes (all of a shorter object) into buf, and the size:
 * on S3 one suffix GET, which is how a Parquet footer is read. */
int lake_in_read_tail(lake_in *in, size_t len, void *buf, size_t *got,
    uint64_t *size, lake_err *err);
void lake_in_close(lake_in *in);
/* The name it was opened with. */
const char *lake_in_name(const lake_in *in);

/*
 * Prefetch: a scan about to open files in this order names them (and
 * their sizes from the log, -1 when unknown), and on S3 a window of them
 * is read at once, up to the client's max_parallel GETs in flight, into
 * this thread's cache; lake_in_open of the same name takes its bytes over
 * (held once, freed when a read has handed them all out). Of each file
 * it reads what the Parquet reader's open asks for first: all of a file
 * of at most LAKE_PREFETCH_WHOLE_BYTES, else its last
 * LAKE_PREFETCH_TAIL_BYTES (the footer); other reads are ranged GETs as
 * before. The window is at most LAKE_PREFETCH_FILES files and
 * LAKE_PREFETCH_BYTES of buffers (so at most 8 MiB with these sizes); a
 * call first drops what the last one left untaken, so the cache never
 * holds more, whatever the table's size. A read that failed is reported
 * by the first read of its lake_in, with the kind and message its own
 * GET would have had. Returns how many of the n names, from the first,
 * the window covers (at least 1 when n > 0): call again on reaching the
 * next. Local files: nothing to do (the page cache reads ahead), n.
 */
#define LAKE_PREFETCH_FILES 32
#define LAKE_PREFETCH_BYTES ((size_t)16 << 20)
#define LAKE_PREFETCH_WHOLE_BYTES ((size_t)256 << 10)
#define LAKE_PREFETCH_TAIL_BYTES ((size_t)64 << 10)

size_t lake_store_prefetch(const char *const *names, const int64_t *sizes,
    size_t n);
/* Frees what this thread's window still holds (a scan's end). */
void lake_store_prefetch_drop(void);
/* What this thread's window holds, not yet taken (for tests). */
void lake_store_prefetch_usage(size_t *files, size_t *bytes);

/* --- S3 backend (lake_store_s3.c) ---------------------------------- */

/* Requests the process's S3 clients have made (for benchmarks and
 * logs); all zero when none were used. */
typedef struct lake_store_stats {
	uint64_t requests, retries, bytes_up, bytes_down;
} lake_store_stats;

void lake_store_stats_get(lake_store_stats *out);

/* Frees this thread's clients and drops held objects (they were never
 * made durable: nothing refers to them). Called at thread and process
 * exit by itself. */
void lake_store_shutdown(void);

#endif
