/*
 * lake_store.c - the storage seam: the local backend, and the dispatch to
 * the S3 one (lake_store_s3.c) by the name's scheme.
 *
 * The local backend is exactly what the lake did before the seam: whole
 * files are written to a temp file beside the final name, fsynced and
 * renamed (or link(2)ed, for create-if-absent: link never replaces a
 * name, so EEXIST is the conflict), then the folder is fsynced so the
 * name survives a crash. Reads are pread(2); listings readdir(2).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lake_io.h"
#include "lake_store_internal.h"

/* A big file closed without fsync starts its write-back at once, so the
 * barrier that follows finds it mostly on disk (for a small one the call
 * would cost more than it saves). */
#define WRITEBACK_FROM_BYTES (1u << 20)

int
lake_store_is_remote(const char *name)
{
	return strncmp(name, "s3://", 5) == 0 ||
	    strncmp(name, "s3a://", 6) == 0;
}

int
lake_store_root(const char *name, char *out, size_t len, lake_err *err)
{
	size_t n = strlen(name);

	if (lake_store_is_remote(name))
		while (n > 0 && name[n - 1] == '/')
			n--;
	if (n == 0 || n >= len) {
		lake_err_set(err, "lake root '%s': empty or too long", name);
		return LAKE_STORE_ERROR;
	}
	memcpy(out, name, n);
	out[n] = '\0';
	if (lake_store_is_remote(out) && lake_s3_check_root(out, err) != 0) {
		lake_err_prefix(err, "lake %s", out);
		return LAKE_STORE_ERROR;
	}
	return 0;
}

/* "<dir of name>/.tmp-<random>.<base of name>" into out. */
static int
tmp_name(const char *name, char *out, size_t len)
{
	const char *slash = strrchr(name, '/');
	unsigned char r[8];
	int dlen = slash ? (int)(slash - name) : 0;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	return snprintf(out, len, "%.*s%s.tmp-%02x%02x%02x%02x%02x%02x%02x"
	    "%02x.%s", dlen, name, slash ? "/" : "", r[0], r[1], r[2], r[3],
	    r[4], r[5], r[6], r[7], slash ? slash + 1 : name) >= (int)len ?
	    -1 : 0;
}

static int
fsync_name(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC), rc;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The folder a name is in ("." for a bare name). */
static void
dir_of(const char *name, char *out, size_t len)
{
	const char *slash = strrchr(name, '/');

	if (slash == NULL)
		snprintf(out, len, ".");
	else if (slash == name)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - name), name);
}

int
lake_store_stat(const char *name, uint64_t *size, int64_t *mtime_us,
    lake_err *err)
{
	struct stat st;

	if (lake_store_is_remote(name))
		return lake_s3_stat(name, size, mtime_us, err);
	if (stat(name, &st) == -1) {
		lake_err_errno(err, "cannot stat %s", name);
		return errno == ENOENT ? LAKE_STORE_NOT_FOUND :
		    LAKE_STORE_ERROR;
	}
	if (size != NULL)
		*size = (uint64_t)st.st_size;
	if (mtime_us != NULL)
		*mtime_us = (int64_t)st.st_mtim.tv_sec * 1000000 +
		    st.st_mtim.tv_nsec / 1000;
	return 0;
}

int
lake_store_read_all(const char *name, uint8_t **data, size_t *len,
    lake_err *err)
{
	lake_buf b = { 0 };
	struct stat st;
	size_t chunk = 65536;
	int fd, rc = LAKE_STORE_ERROR;

	*data = NULL;
	*len = 0;
	if (lake_store_is_remote(name))
		return lake_s3_read_all(name, data, len, err);
	if ((fd = open(name, O_RDONLY | O_CLOEXEC)) == -1) {
		lake_err_errno(err, "cannot open %s", name);
		return errno == ENOENT ? LAKE_STORE_NOT_FOUND :
		    LAKE_STORE_ERROR;
	}
	/*
	 * Sized from fstat, with one byte to spare for the terminator and to
	 * see the end in the same read: a commit file is read with one
	 * allocation and no copy. A file that grows meanwhile is read on in
	 * 64 KiB steps.
	 */
	if (fstat(fd, &st) == 0 && st.st_size >= 0 &&
	    (uint64_t)st.st_size < SIZE_MAX / 2)
		chunk = (size_t)st.st_size + 2;
	for (;;) {
		ssize_t k;

		if (b.cap - b.len < 2 && lake_buf_reserve(&b, chunk) == -1) {
			lake_err_set(err, "%s: out of memory", name);
			goto out;
		}
		chunk = 65536;
		k = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1) {
			lake_err_errno(err, "cannot read %s", name);
			goto out;
		}
		if (k == 0)
			break;
		b.len += (size_t)k;
	}
	b.data[b.len] = '\0';
	*data = b.data;
	*len = b.len;
	b.data = NULL;
	rc = 0;
out:
	lake_buf_free(&b);
	close(fd);
	return rc;
}

/* Writes data to a new temp file beside name and fsyncs it. */
static int
write_tmp(const char *name, const void *data, size_t len, char *tmp,
    size_t tmp_len, lake_err *err)
{
	int fd;

	if (tmp_name(name, tmp, tmp_len) == -1) {
		lake_err_set(err, "%s: path too long", name);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) == -1) {
		lake_err_errno(err, "cannot create %s", tmp);
		return -1;
	}
	if (lake_write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		lake_err_errno(err, "cannot write %s", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) == -1) {
		lake_err_errno(err, "cannot write %s", tmp);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
publish_tmp(const char *tmp, const char *name, int noreplace,
    lake_err *err)
{
	char dir[4096];
	int rc;

	if ((rc = lake_store_link(tmp, name, noreplace, err)) != 0) {
		unlink(tmp);
		return rc;
	}
	dir_of(name, dir, sizeof(dir));
	return lake_store_sync_dir(dir, err);
}

int
lake_store_write(const char *name, const void *data, size_t len,
    lake_err *err)
{
	char tmp[4200];

	if (lake_store_is_remote(name))
		return lake_s3_write(name, data, len, 0, err);
	if (write_tmp(name, data, len, tmp, sizeof(tmp), err) == -1)
		return LAKE_STORE_ERROR;
	return publish_tmp(tmp, name, 0, err);
}

int
lake_store_write_cache(const char *name, const void *data, size_t len,
    lake_err *err)
{
	char tmp[4200];
	int fd;

	if (lake_store_is_remote(name))
		return lake_s3_write(name, data, len, 0, err);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp)) {
		lake_err_set(err, "%s: path too long", name);
		return LAKE_STORE_ERROR;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1 || lake_write_all(fd, data, len) == -1) {
		lake_err_errno(err, "cannot write %s", name);
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		return LAKE_STORE_ERROR;
	}
	if (close(fd) == -1 || rename(tmp, name) == -1) {
		lake_err_errno(err, "cannot write %s", name);
		unlink(tmp);
		return LAKE_STORE_ERROR;
	}
	return 0;
}

int
lake_store_create(const char *name, const void *data, size_t len,
    lake_err *err)
{
	char tmp[4200];

	if (lake_store_is_remote(name))
		return lake_s3_write(name, data, len, 1, err);
	if (write_tmp(name, data, len, tmp, sizeof(tmp), err) == -1)
		return LAKE_STORE_ERROR;
	return publish_tmp(tmp, name, 1, err);
}

int
lake_store_link(const char *tmp, const char *final, int noreplace,
    lake_err *err)
{
	if (lake_store_is_remote(final))
		return lake_s3_link(tmp, final, noreplace, err);
	if (noreplace) {
		if (link(tmp, final) == -1) {
			if (errno == EEXIST) {
				lake_err_set(err, "%s exists already", final);
				return LAKE_STORE_EXISTS;
			}
			lake_err_errno(err, "cannot create %s", final);
			return LAKE_STORE_ERROR;
		}
		unlink(tmp);
		return 0;
	}
	if (rename(tmp, final) == -1) {
		lake_err_errno(err, "cannot replace %s", final);
		return LAKE_STORE_ERROR;
	}
	return 0;
}

int
lake_store_delete(const char *name, lake_err *err)
{
	if (lake_store_is_remote(name))
		return lake_s3_delete(name, err);
	if (unlink(name) == -1 && errno != ENOENT) {
		lake_err_errno(err, "cannot remove %s", name);
		return LAKE_STORE_ERROR;
	}
	return 0;
}

/* The common case is one new folder inside an existing one: one
 * mkdir(2). */
int
lake_store_mkdirs(const char *dir, lake_err *err)
{
	char buf[4096], *slash;

	if (lake_store_is_remote(dir))
		return 0;
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT || snprintf(buf, sizeof(buf), "%s", dir) >=
	    (int)sizeof(buf) || (slash = strrchr(buf, '/')) == NULL ||
	    slash == buf) {
		lake_err_errno(err, "cannot create %s", dir);
		return LAKE_STORE_ERROR;
	}
	*slash = '\0';
	if (lake_store_mkdirs(buf, err) != 0)
		return LAKE_STORE_ERROR;
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		lake_err_errno(err, "cannot create %s", dir);
		return LAKE_STORE_ERROR;
	}
	return 0;
}

/* --- barriers ------------------------------------------------------ */

int
lake_store_sync_dir(const char *dir, lake_err *err)
{
	if (lake_store_is_remote(dir))
		return 0;
	if (fsync_name(dir, O_RDONLY | O_DIRECTORY) == -1) {
		lake_err_errno(err, "fsync %s", dir);
		return LAKE_STORE_ERROR;
	}
	return 0;
}

int
lake_store_sync_file(const char *name, lake_err *err)
{
	if (lake_store_is_remote(name))
		return lake_s3_sync_file(name, err);
	if (fsync_name(name, O_RDONLY) == -1) {
		lake_err_errno(err, "fsync %s", name);
		return LAKE_STORE_ERROR;
	}
	return 0;
}

int
lake_store_sync_files(const char *const *names, size_t n, lake_err *err)
{
	if (n > 0 && lake_store_is_remote(names[0]))
		return lake_s3_sync_names(names, n, err);
	for (size_t i = 0; i < n; i++)
		if (lake_store_sync_file(names[i], err) != 0)
			return LAKE_STORE_ERROR;
	return 0;
}

int
lake_store_sync_tree(const char *dir, lake_err *err)
{
	int fd;

	if (lake_store_is_remote(dir))
		return lake_s3_sync_tree(dir, err);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || syncfs(fd) == -1) {
		lake_err_errno(err, "cannot sync %s", dir);
		if (fd != -1)
			close(fd);
		return LAKE_STORE_ERROR;
	}
	close(fd);
	return 0;
}

/* --- listing ------------------------------------------------------- */

typedef struct name_list {
	char **names;
	size_t n, cap;
} name_list;

static void
names_free(name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

static int
names_push(name_list *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		char **p = realloc(l->names, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		l->names = p;
		l->cap = cap;
	}
	if ((l->names[l->n] = strdup(name)) == NULL)
		return -1;
	l->n++;
	return 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct tree_walk {
	int (*fn)(const lake_store_entry *e, void *arg);
	void *arg;
	size_t prefix_len;	/* of the folder listed, with its '/' */
	lake_err *err;
} tree_walk;

/* Regular files below dir, depth-first; 1 when fn stopped the walk. */
static int
walk_tree(tree_walk *t, const char *dir, int depth)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (depth > 16)
		return 0;
	if ((d = opendir(dir)) == NULL) {
		lake_err_errno(t->err, "cannot list %s", dir);
		return errno == ENOENT && depth == 0 ? LAKE_STORE_NOT_FOUND :
		    LAKE_STORE_ERROR;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		lake_store_entry e;

		if (de->d_name[0] == '.' || (depth == 0 &&
		    de->d_name[0] == '_'))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path) || lstat(path, &st) == -1)
			continue;
		if (S_ISDIR(st.st_mode)) {
			rc = walk_tree(t, path, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		e.name = path + t->prefix_len;
		e.size = st.st_size;
		e.mtime_us = (int64_t)st.st_mtim.tv_sec * 1000000 +
		    st.st_mtim.tv_nsec / 1000;
		rc = t->fn(&e, t->arg) != 0 ? 1 : 0;
	}
	closedir(d);
	return rc;
}

int
lake_store_list(const char *dir, const char *start_after, int flags,
    int (*fn)(const lake_store_entry *e, void *arg), void *arg,
    lake_err *err)
{
	name_list l = { 0 };
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (lake_store_is_remote(dir))
		return lake_s3_list(dir, start_after, flags, fn, arg, err);
	if (flags & LAKE_LIST_TREE) {
		tree_walk t = { fn, arg, strlen(dir) + 1, err };

		rc = walk_tree(&t, dir, 0);
		return rc == 1 ? 0 : rc;
	}
	if ((d = opendir(dir)) == NULL) {
		lake_err_errno(err, "cannot list %s", dir);
		return errno == ENOENT ? LAKE_STORE_NOT_FOUND :
		    LAKE_STORE_ERROR;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    (start_after != NULL &&
		    strcmp(de->d_name, start_after) <= 0))
			continue;
		if (names_push(&l, de->d_name) == -1) {
			closedir(d);
			names_free(&l);
			lake_err_set(err, "%s: out of memory", dir);
			return LAKE_STORE_ERROR;
		}
	}
	closedir(d);
	if (l.n > 1)
		qsort(l.names, l.n, sizeof(char *), cmp_name);
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		lake_store_entry e = { l.names[i], -1, -1 };

		if (flags & LAKE_LIST_STAT) {
			char path[4200];
			struct stat st;

			if (snprintf(path, sizeof(path), "%s/%s", dir,
			    l.names[i]) >= (int)sizeof(path) ||
			    lstat(path, &st) == -1 || !S_ISREG(st.st_mode))
				continue;
			e.size = st.st_size;
			e.mtime_us = (int64_t)st.st_mtim.tv_sec * 1000000 +
			    st.st_mtim.tv_nsec / 1000;
		}
		rc = fn(&e, arg) != 0;
	}
	names_free(&l);
	return 0;
}

/* --- streams ------------------------------------------------------- */

lake_out *
lake_out_create(const char *name, int defer, lake_err *err)
{
	lake_out *o = calloc(1, sizeof(*o));

	if (o == NULL || (o->name = strdup(name)) == NULL) {
		free(o);
		lake_err_set(err, "%s: out of memory", name);
		return NULL;
	}
	o->fd = -1;
	o->defer = defer;
	o->remote = lake_store_is_remote(name);
	if (o->remote || defer)
		return o;
	if ((o->fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) == -1) {
		lake_err_errno(err, "cannot create %s", name);
		free(o->name);
		free(o);
		return NULL;
	}
	o->created = 1;
	return o;
}

/* Opens the file for the next write: created exclusively the first
 * time, appended to after that (a deferred one is closed between). */
static int
out_open(lake_out *o, lake_err *err)
{
	int flags = O_WRONLY | O_CLOEXEC;

	if (o->fd != -1)
		return 0;
	flags |= o->created ? O_APPEND : O_CREAT | O_EXCL;
	if ((o->fd = open(o->name, flags, 0644)) == -1) {
		lake_err_errno(err, "cannot %s %s", o->created ? "reopen" :
		    "create", o->name);
		return -1;
	}
	o->created = 1;
	return 0;
}

int
lake_out_write(lake_out *o, const void *data, size_t len, lake_err *err)
{
	if (len == 0)
		return 0;
	if (o->remote)
		return lake_s3_out_write(o, data, len, err);
	if (out_open(o, err) == -1)
		return -1;
	if (lake_write_all(o->fd, data, len) == -1) {
		lake_err_errno(err, "%s: write", o->name);
		return -1;
	}
	o->size += len;
	return 0;
}

int
lake_out_release(lake_out *o, lake_err *err)
{
	int rc;

	if (!o->defer || o->fd == -1)
		return 0;
	rc = close(o->fd);
	o->fd = -1;
	if (rc == -1) {
		lake_err_errno(err, "%s: close", o->name);
		return -1;
	}
	return 0;
}

uint64_t
lake_out_size(const lake_out *o)
{
	return o->size;
}

static void
out_free(lake_out *o)
{
	lake_buf_free(&o->buf);
	free(o->name);
	free(o);
}

int
lake_out_close(lake_out *o, int mode, lake_err *err)
{
	int sync = mode != LAKE_OUT_LATER, rc = -1;

	if (o->remote) {
		rc = lake_s3_out_close(o, mode, err) == 0 ? 0 : -1;
		out_free(o);
		return rc;
	}
	if (out_open(o, err) == -1)
		goto fail;
	if (!sync) {
		if (o->size >= WRITEBACK_FROM_BYTES)
			(void)sync_file_range(o->fd, 0, 0,
			    SYNC_FILE_RANGE_WRITE);
	} else if (fsync(o->fd) == -1) {
		lake_err_errno(err, "%s: fsync", o->name);
		goto fail;
	}
	rc = close(o->fd);
	o->fd = -1;
	if (rc == -1) {
		lake_err_errno(err, "%s: close", o->name);
		goto fail;
	}
	out_free(o);
	return 0;
fail:
	lake_out_abort(o);
	return -1;
}

void
lake_out_abort(lake_out *o)
{
	if (o == NULL)
		return;
	if (o->remote)
		lake_s3_out_abort(o);
	if (o->fd != -1)
		close(o->fd);
	if (o->created)
		unlink(o->name);
	out_free(o);
}

lake_in *
lake_in_open(const char *name, int64_t size, lake_err *err)
{
	lake_in *in = calloc(1, sizeof(*in));

	if (in == NULL || (in->name = strdup(name)) == NULL) {
		free(in);
		lake_err_set(err, "%s: out of memory", name);
		return NULL;
	}
	in->size = size;
	in->fd = -1;
	in->remote = lake_store_is_remote(name);
	if (in->remote) {
		lake_s3_prefetch_take(in);
		return in;
	}
	if ((in->fd = open(name, O_RDONLY | O_CLOEXEC)) == -1) {
		lake_err_errno(err, "cannot open %s", name);
		free(in->name);
		free(in);
		return NULL;
	}
	return in;
}

int
lake_in_size(lake_in *in, uint64_t *size, lake_err *err)
{
	struct stat st;

	if (in->size >= 0) {
		*size = (uint64_t)in->size;
		return 0;
	}
	if (in->remote) {
		if (lake_s3_stat(in->name, size, NULL, err) != 0)
			return -1;
	} else if (fstat(in->fd, &st) == -1) {
		lake_err_errno(err, "cannot stat %s", in->name);
		return -1;
	} else
		*size = (uint64_t)st.st_size;
	in->size = (int64_t)*size;
	return 0;
}

/*
 * Serves [off, off + len) of a remote object from its prefetched bytes:
 * 1 when they hold it (*got as a GET would say), 0 when a GET must, -1
 * when the prefetch failed (its error). The bytes are freed once a read
 * has handed them all out (a small file read whole, a footer): the
 * caller has its copy, and a later read is a GET.
 */
static int
in_prefetched(lake_in *in, uint64_t off, size_t len, void *buf,
    size_t *got, lake_err *err)
{
	uint64_t end, obj = in->pre_off + in->pre_len;

	if (in->pre_err != NULL) {
		if (err != NULL)
			*err = *in->pre_err;
		return -1;
	}
	if (in->pre == NULL || off < in->pre_off)
		return 0;
	end = off + len < obj ? off + len : obj;
	if (off > end)
		off = end;	/* past the object's end: nothing */
	else if (len > 0)
		memcpy(buf, in->pre + (off - in->pre_off), end - off);
	*got = (size_t)(end - off);
	in->size = (int64_t)obj;
	if (off == in->pre_off && end == obj) {
		free(in->pre);
		in->pre = NULL;
	}
	return 1;
}

int
lake_in_read_at(lake_in *in, uint64_t off, size_t len, void *buf,
    size_t *got, lake_err *err)
{
	size_t done = 0;
	int rc;

	if (in->remote) {
		uint64_t size;

		if ((rc = in_prefetched(in, off, len, buf, got, err)) != 0)
			return rc == 1 ? 0 : -1;

		if (lake_s3_read_range(in->name, off, len, buf, got, &size,
		    err) != 0)
			return -1;
		in->size = (int64_t)size;
		return 0;
	}
	while (done < len) {
		ssize_t k = pread(in->fd, (char *)buf + done, len - done,
		    (off_t)(off + done));

		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1) {
			lake_err_errno(err, "cannot read %s", in->name);
			return -1;
		}
		if (k == 0)
			break;
		done += (size_t)k;
	}
	*got = done;
	return 0;
}

int
lake_in_read_tail(lake_in *in, size_t len, void *buf, size_t *got,
    uint64_t *size, lake_err *err)
{
	if (in->remote && (in->pre != NULL || in->pre_err != NULL)) {
		uint64_t obj = in->pre_off + in->pre_len;
		int rc = in_prefetched(in, obj > len ? obj - len : 0, len, buf,
		    got, err);

		if (rc != 0) {
			*size = obj;
			return rc == 1 ? 0 : -1;
		}
	}
	if (in->remote) {
		if (lake_s3_read_tail(in->name, len, buf, got, size, err) != 0)
			return -1;
		in->size = (int64_t)*size;
		return 0;
	}
	if (lake_in_size(in, size, err) == -1)
		return -1;
	if (len > *size)
		len = (size_t)*size;
	return lake_in_read_at(in, *size - len, len, buf, got, err);
}

void
lake_in_close(lake_in *in)
{
	if (in == NULL)
		return;
	if (in->fd != -1)
		close(in->fd);
	free(in->pre);
	free(in->pre_err);
	free(in->name);
	free(in);
}

const char *
lake_in_name(const lake_in *in)
{
	return in->name;
}
