/*
 * parquet_reader.c - reading Parquet files written by us, DuckDB, Spark
 * and pyarrow.
 *
 * open() reads the footer (bounded by the file size) into pq_file_meta.
 * Reading a column chunk fetches its bytes with one pread (or points into
 * the caller's buffer), then walks its pages: a dictionary page is decoded
 * into a dense dictionary; each data page (v1 or v2) yields repetition and
 * definition levels and the page's non-null values, decoded by encoding
 * and converted to our representation (timestamps to microseconds, FLOAT
 * to double, INT96 to microseconds, decimals to unscaled int64). Values
 * are kept dense; the flat API then spreads them over the rows using the
 * definition levels, in place, from the back.
 *
 * Every count and length from the file is checked against what is left of
 * the buffer it describes, so corrupt input ends in an error message.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "days.h"
#include "encoding.h"
#include "lake_store.h"
#include "parquet_internal.h"

/* Refuse row groups larger than this many values: a sanity bound. */
#define MAX_CHUNK_VALUES (1LL << 28)

struct pq_reader {
	char *name;
	int fd;
	lake_in *in;		/* an object-store file (fd is then -1) */
	lake_buf tail;		/* its last bytes, read first: the footer */
	uint64_t tail_off;
	const uint8_t *mem;
	lake_buf whole;		/* a small file, read at once (mem points in) */
	size_t size;
	pq_file_meta meta;
	pq_schema schema;
	int *schema_leaf;	/* schema column -> leaf */
	codec_ctx *codec;
	codec_ctx *own_codec;	/* freed at close; codec may be shared */
	lake_buf chunk;		/* raw column chunk (file mode) */
	lake_buf page;		/* decompressed page */
};

/* Dense decoded values of one leaf. */
typedef struct dense {
	pq_type type;
	size_t width;		/* bytes per value; 0 for byte arrays */
	uint8_t *fixed;
	uint32_t *offsets;	/* n + 1 entries for byte arrays */
	lake_buf data;
	int64_t n;
	int64_t cap;
	int adopted;
} dense;

static size_t
out_width(pq_type t)
{
	switch (t) {
	case PQ_INT32:
	case PQ_DATE:
	case PQ_INT8:
	case PQ_INT16:
		return 4;
	case PQ_BOOLEAN:
		return 1;
	case PQ_STRING:
	case PQ_BINARY:
		return 0;
	default:
		return 8;
	}
}

/*
 * Makes room for total values. Arrays grow as pages arrive rather than
 * from the chunk's claimed count, so a lying header costs no memory. The
 * first reservation is exact: a small file's columns take what they hold.
 */
static int
dense_reserve(dense *d, int64_t total)
{
	int64_t cap = d->cap ? d->cap : total;
	void *p;

	if (total <= d->cap)
		return 0;
	while (cap < total)
		cap *= 2;
	if (d->width) {
		p = realloc(d->fixed, (size_t)cap * d->width);
		if (p == NULL)
			return -1;
		d->fixed = p;
	} else {
		p = realloc(d->offsets, (size_t)(cap + 1) * sizeof(uint32_t));
		if (p == NULL)
			return -1;
		d->offsets = p;
	}
	d->cap = cap;
	return 0;
}

/* Takes over a batch column's arrays as the starting buffers. */
static void
dense_adopt(dense *d, pq_type type, pq_column_batch *b)
{
	memset(d, 0, sizeof(*d));
	d->type = type;
	d->width = out_width(type);
	d->cap = b->cap_values;
	if (d->width) {
		d->fixed = (uint8_t *)b->v.i64;
	} else {
		d->offsets = b->offsets;
		d->data.data = (uint8_t *)b->data;
		d->data.cap = b->cap_data;
	}
	b->v.i64 = NULL;
	b->offsets = NULL;
	b->data = NULL;
	b->cap_values = 0;
	b->cap_data = 0;
	d->adopted = 1;
}

static int
dense_init(dense *d, pq_type type, int64_t cap)
{
	if (!d->adopted) {
		memset(d, 0, sizeof(*d));
		d->type = type;
		d->width = out_width(type);
	}
	if (dense_reserve(d, cap ? cap : 1) == -1)
		return -1;
	if (d->offsets != NULL)
		d->offsets[0] = 0;
	return 0;
}

static void
dense_free(dense *d)
{
	free(d->fixed);
	free(d->offsets);
	lake_buf_free(&d->data);
	memset(d, 0, sizeof(*d));
}

static int
dense_put_bytes(dense *d, const uint8_t *p, size_t n)
{
	if (d->data.len + n > UINT32_MAX)
		return -1;
	lake_buf_append(&d->data, p, n);
	if (d->data.failed)
		return -1;
	d->n++;
	d->offsets[d->n] = (uint32_t)d->data.len;
	return 0;
}

/* --- open ---------------------------------------------------------- */

/*
 * Files up to this size are read whole when opened: on a disk, an
 * increment's few KiB in one pread(2) instead of one for the tail, the
 * footer and each column chunk; above it, a lookup's few pages and a
 * checkpoint reader's row groups (which skip a week of tombstones) cost
 * less read by range than a whole file copied into fresh pages. On an
 * object store a request costs far more than its bytes: one GET takes
 * up to REMOTE_WHOLE_FILE_BYTES.
 */
#define WHOLE_FILE_BYTES (32u << 10)
#define REMOTE_WHOLE_FILE_BYTES (256u << 10)

#define FAIL(...) do { lake_err_set(err, __VA_ARGS__); goto fail; } while (0)

static int
read_at(pq_reader *r, uint64_t off, size_t n, lake_buf *into,
    const uint8_t **p, lake_err *err)
{
	if (off > r->size || n > r->size - off) {
		lake_err_set(err, "%s: a length in the file points past its "
		    "end (offset %llu, %zu bytes, file %zu bytes)", r->name,
		    (unsigned long long)off, n, r->size);
		return -1;
	}
	if (r->mem != NULL) {
		*p = r->mem + off;
		return 0;
	}
	if (r->in != NULL && off >= r->tail_off) {
		*p = r->tail.data + (off - r->tail_off);
		return 0;
	}
	into->len = 0;
	if (lake_buf_reserve(into, n ? n : 1) == -1) {
		lake_err_set(err, "%s: out of memory", r->name);
		return -1;
	}
	if (r->in != NULL) {	/* a ranged GET */
		size_t got;

		if (lake_in_read_at(r->in, off, n, into->data, &got, err) == -1)
			return -1;
		if (got != n) {
			lake_err_set(err, "%s: %zu bytes at %llu, the object "
			    "ended after %zu", r->name, n,
			    (unsigned long long)off, got);
			return -1;
		}
		into->len = n;
		*p = into->data;
		return 0;
	}
	for (size_t done = 0; done < n;) {
		ssize_t k = pread(r->fd, into->data + done, n - done,
		    (off_t)(off + done));

		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			lake_err_errno(err, "%s: read", r->name);
			return -1;
		}
		done += (size_t)k;
	}
	into->len = n;
	*p = into->data;
	return 0;
}

static int
build_schema(pq_reader *r, lake_err *err)
{
	int n = 0;

	r->schema.cols = calloc((size_t)r->meta.nleaves + 1,
	    sizeof(pq_column_def));
	r->schema_leaf = calloc((size_t)r->meta.nleaves + 1, sizeof(int));
	if (r->schema.cols == NULL || r->schema_leaf == NULL) {
		lake_err_set(err, "%s: out of memory", r->name);
		return -1;
	}
	for (int i = 0; i < r->meta.nleaves; i++) {
		const pq_leaf *l = &r->meta.leaves[i];
		pq_column_def *c;

		if (!l->top_level || l->max_rep > 0)
			continue;
		c = &r->schema.cols[n];
		c->name = l->path;
		c->type = l->type;
		c->nullable = l->max_def > 0;
		c->decimal_precision = l->decimal_precision;
		c->decimal_scale = l->decimal_scale;
		r->schema_leaf[n++] = i;
	}
	r->schema.ncols = n;
	return 0;
}

static pq_reader *
reader_open(pq_reader *r, lake_err *err)
{
	const uint8_t *tail, *footer;
	uint32_t flen;

	if (r->size < 12)
		FAIL("%s: not a Parquet file (only %zu bytes)", r->name,
		    r->size);
	if (read_at(r, 0, 4, &r->page, &tail, err) == -1)
		goto fail;
	if (memcmp(tail, "PAR1", 4) != 0)
		FAIL("%s: not a Parquet file (wrong magic at the start)",
		    r->name);
	if (read_at(r, r->size - 8, 8, &r->page, &tail, err) == -1)
		goto fail;
	if (memcmp(tail + 4, "PAR1", 4) != 0)
		FAIL("%s: not a Parquet file, or truncated (no magic at the "
		    "end)", r->name);
	memcpy(&flen, tail, 4);
	if ((size_t)flen > r->size - 12)
		FAIL("%s: footer length %u is larger than the file", r->name,
		    flen);
	if (read_at(r, r->size - 8 - flen, flen, &r->chunk, &footer,
	    err) == -1)
		goto fail;
	if (pq_meta_decode(footer, flen, &r->meta, err) == -1) {
		lake_err_prefix(err, "%s", r->name);
		goto fail;
	}
	if (build_schema(r, err) == -1)
		goto fail;
	if ((r->own_codec = codec_new()) == NULL)
		FAIL("%s: out of memory", r->name);
	r->codec = r->own_codec;
	return r;
fail:
	pq_reader_close(r);
	return NULL;
}

pq_reader *
pq_reader_open(const char *path, lake_err *err)
{
	return pq_reader_openat(AT_FDCWD, path, -1, err);
}

/*
 * Reads a small file of known size whole: one pread(2) of a byte more
 * than expected, whose short count shows both that the file ends there
 * and that it is not shorter, with no fstat(2).
 */
static int
read_expected(pq_reader *r, size_t expected, lake_err *err)
{
	size_t done = 0;

	r->whole.len = 0;
	if (lake_buf_reserve(&r->whole, expected + 1) == -1) {
		lake_err_set(err, "%s: out of memory", r->name);
		return -1;
	}
	while (done <= expected) {
		ssize_t k = pread(r->fd, r->whole.data + done,
		    expected + 1 - done, (off_t)done);

		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1) {
			lake_err_errno(err, "%s: read", r->name);
			return -1;
		}
		done += (size_t)k;
		if (k == 0 || done == expected)	/* a short read: the end */
			break;
	}
	if (done != expected) {
		lake_err_set(err, "%s: the file is %s than the %zu bytes the "
		    "table's log records", r->name, done < expected ?
		    "shorter" : "longer", expected);
		return -1;
	}
	r->whole.len = done;
	r->size = done;
	r->mem = r->whole.data;
	return 0;
}

/* The file's size by fstat(2), checked against the expected one if any. */
static int
stat_size(pq_reader *r, int64_t expected, lake_err *err)
{
	struct stat st;

	if (fstat(r->fd, &st) == -1) {
		lake_err_errno(err, "cannot stat %s", r->name);
		return -1;
	}
	if (expected >= 0 && st.st_size != expected) {
		lake_err_set(err, "%s: the file has %lld bytes, the table's log "
		    "records %lld", r->name, (long long)st.st_size,
		    (long long)expected);
		return -1;
	}
	r->size = (size_t)st.st_size;
	return 0;
}

/* The bytes of an object-store file's end read when it is opened: the
 * footer of any file we write, and the whole of a small one. */
#define REMOTE_TAIL_BYTES (64u << 10)

/*
 * An object-store file (s3://...): one GET of its tail, which tells its
 * size too; then the footer is read from that tail (a longer footer with
 * one more GET) and each column chunk with a ranged GET. A small file
 * (an increment's) is read whole by that first request.
 */
static pq_reader *
open_remote(pq_reader *r, const char *path, int64_t size, lake_err *err)
{
	uint64_t total;
	size_t want, got;

	r->fd = -1;
	if ((r->name = strdup(path)) == NULL ||
	    (r->in = lake_in_open(path, size, err)) == NULL) {
		if (r->name == NULL)
			lake_err_set(err, "%s: out of memory", path);
		pq_reader_close(r);
		return NULL;
	}
	want = size >= 0 && (uint64_t)size <= REMOTE_WHOLE_FILE_BYTES ?
	    (size_t)size : REMOTE_TAIL_BYTES;
	if (lake_buf_reserve(&r->tail, want ? want : 1) == -1 ||
	    lake_in_read_tail(r->in, want, r->tail.data, &got, &total,
	    err) == -1) {
		if (r->tail.data == NULL)
			lake_err_set(err, "%s: out of memory", path);
		pq_reader_close(r);
		return NULL;
	}
	if (size >= 0 && (uint64_t)size != total) {
		lake_err_set(err, "%s: the object has %llu bytes, the table's "
		    "log records %lld", path, (unsigned long long)total,
		    (long long)size);
		pq_reader_close(r);
		return NULL;
	}
	r->tail.len = got;
	r->size = (size_t)total;
	r->tail_off = total - got;
	if (got == total)
		r->mem = r->tail.data;	/* the whole file */
	return reader_open(r, err);
}

pq_reader *
pq_reader_openat(int dirfd, const char *path, int64_t size, lake_err *err)
{
	pq_reader *r = calloc(1, sizeof(*r));
	const uint8_t *p;

	if (r == NULL) {
		lake_err_set(err, "%s: out of memory", path);
		return NULL;
	}
	if (lake_store_is_remote(path))
		return open_remote(r, path, size, err);
	/* Reading a file need not dirty its inode: a just-written file's
	 * first read would otherwise update its atime even under relatime.
	 * O_NOATIME is only for the file's owner; others open it plainly. */
	r->fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (r->fd == -1 && errno == EPERM)
		r->fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if ((r->name = strdup(path)) == NULL || r->fd == -1) {
		lake_err_errno(err, "cannot open %s", path);
		pq_reader_close(r);
		return NULL;
	}
	/*
	 * A small file (an increment's partition files are a few KiB) is
	 * read with one pread(2) instead of one for its tail, its footer
	 * and each column chunk.
	 */
	if (size >= 0 && size <= WHOLE_FILE_BYTES) {
		if (read_expected(r, (size_t)size, err) == -1)
			goto fail;
	} else {
		if (stat_size(r, size, err) == -1)
			goto fail;
		if (r->size > 0 && r->size <= WHOLE_FILE_BYTES) {
			if (read_at(r, 0, r->size, &r->whole, &p, err) == -1)
				goto fail;
			r->mem = p;
		}
	}
	if (r->mem != NULL) {
		close(r->fd);
		r->fd = -1;
	}
	return reader_open(r, err);
fail:
	pq_reader_close(r);
	return NULL;
}

pq_reader *
pq_reader_open_mem(const uint8_t *buf, size_t len, lake_err *err)
{
	pq_reader *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->name = strdup("(memory)")) == NULL) {
		free(r);
		lake_err_set(err, "out of memory");
		return NULL;
	}
	r->fd = -1;
	r->mem = buf;
	r->size = len;
	return reader_open(r, err);
}

void
pq_reader_share_codec(pq_reader *r, struct codec_ctx *shared)
{
	r->codec = shared != NULL ? shared : r->own_codec;
}

void
pq_reader_close(pq_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd != -1)
		close(r->fd);
	lake_in_close(r->in);
	lake_buf_free(&r->tail);
	pq_meta_free(&r->meta);
	free(r->schema.cols);
	free(r->schema_leaf);
	codec_free(r->own_codec);
	lake_buf_free(&r->chunk);
	lake_buf_free(&r->page);
	lake_buf_free(&r->whole);
	free(r->name);
	free(r);
}

const pq_schema *
pq_reader_schema(const pq_reader *r)
{
	return &r->schema;
}

int
pq_reader_column_index(const pq_reader *r, const char *name)
{
	for (int i = 0; i < r->schema.ncols; i++)
		if (strcmp(r->schema.cols[i].name, name) == 0)
			return i;
	return -1;
}

int64_t
pq_reader_num_rows(const pq_reader *r)
{
	return r->meta.num_rows;
}

int
pq_reader_num_row_groups(const pq_reader *r)
{
	return r->meta.nrow_groups;
}

int64_t
pq_reader_row_group_rows(const pq_reader *r, int rg)
{
	if (rg < 0 || rg >= r->meta.nrow_groups)
		return -1;
	return r->meta.row_groups[rg].num_rows;
}

const pq_column_stats *
pq_reader_row_group_stats(const pq_reader *r, int rg, int col)
{
	if (rg < 0 || rg >= r->meta.nrow_groups || col < 0 ||
	    col >= r->schema.ncols)
		return NULL;
	return &r->meta.row_groups[rg].chunks[r->schema_leaf[col]].stats;
}

int
pq_reader_num_leaves(const pq_reader *r)
{
	return r->meta.nleaves;
}

const char *
pq_reader_leaf_path(const pq_reader *r, int leaf)
{
	return leaf >= 0 && leaf < r->meta.nleaves ?
	    r->meta.leaves[leaf].path : NULL;
}

int
pq_reader_leaf_index(const pq_reader *r, const char *path)
{
	for (int i = 0; i < r->meta.nleaves; i++)
		if (strcmp(r->meta.leaves[i].path, path) == 0)
			return i;
	return -1;
}

int
pq_reader_leaf_max_def(const pq_reader *r, int leaf)
{
	return r->meta.leaves[leaf].max_def;
}

int
pq_reader_leaf_max_rep(const pq_reader *r, int leaf)
{
	return r->meta.leaves[leaf].max_rep;
}

/* --- value conversion ---------------------------------------------- */

static size_t
physical_width(const pq_leaf *l)
{
	switch (l->physical) {
	case PT_INT32:
	case PT_FLOAT:
		return 4;
	case PT_INT64:
	case PT_DOUBLE:
		return 8;
	case PT_INT96:
		return 12;
	case PT_FIXED:
		return (size_t)l->type_length;
	default:
		return 0;
	}
}

static int64_t
big_endian_signed(const uint8_t *p, size_t n)
{
	uint64_t v = (n > 0 && (p[0] & 0x80)) ? UINT64_MAX : 0;

	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return (int64_t)v;
}

/* Converts one fixed-width physical value into the dense output. */
static void
put_fixed(dense *d, const pq_leaf *l, const uint8_t *raw)
{
	uint8_t *dst = d->fixed + (size_t)d->n * d->width;
	int32_t i32;
	int64_t i64;
	float f;

	switch (l->physical) {
	case PT_INT32:
		memcpy(&i32, raw, 4);
		if (d->width == 4)
			memcpy(dst, &i32, 4);
		else {
			i64 = i32;
			memcpy(dst, &i64, 8);
		}
		break;
	case PT_INT64:
		memcpy(&i64, raw, 8);
		if (l->type == PQ_TIMESTAMP || l->type == PQ_TIMESTAMP_NTZ) {
			if (l->time_unit == 1)
				i64 = pq_mul_sat(i64, 1000);
			else if (l->time_unit == 3)
				i64 = floor_div_i64(i64, 1000);
		}
		memcpy(dst, &i64, 8);
		break;
	case PT_INT96: {
		int64_t nanos;
		int32_t jday;

		memcpy(&nanos, raw, 8);
		memcpy(&jday, raw + 8, 4);
		i64 = pq_add_sat(pq_mul_sat((int64_t)jday - 2440588,
		    MICROS_PER_DAY), floor_div_i64(nanos, 1000));
		memcpy(dst, &i64, 8);
		break;
	}
	case PT_FLOAT: {
		double dv;

		memcpy(&f, raw, 4);
		dv = f;
		memcpy(dst, &dv, 8);
		break;
	}
	case PT_DOUBLE:
		memcpy(dst, raw, 8);
		break;
	case PT_FIXED:
		i64 = big_endian_signed(raw, (size_t)l->type_length);
		memcpy(dst, &i64, 8);
		break;
	default:
		break;
	}
	d->n++;
}

/* Appends n physical values stored back to back at p (fixed width). */
static void
put_fixed_run(dense *d, const pq_leaf *l, const uint8_t *p, size_t n)
{
	size_t pw = physical_width(l);
	int plain_copy = pw == d->width &&
	    (l->physical == PT_INT32 || l->physical == PT_DOUBLE ||
	    (l->physical == PT_INT64 && l->time_unit == 2));

	if (plain_copy) {
		memcpy(d->fixed + (size_t)d->n * d->width, p, n * pw);
		d->n += (int64_t)n;
		return;
	}
	for (size_t i = 0; i < n; i++)
		put_fixed(d, l, p + i * pw);
}

/* A byte array value: strings and binaries, or a decimal in bytes. */
static int
put_bytes(dense *d, const pq_leaf *l, const uint8_t *p, size_t n)
{
	if (d->width == 8) {	/* DECIMAL from BYTE_ARRAY */
		int64_t v;

		if (n > 8)
			return -1;
		v = big_endian_signed(p, n);
		memcpy(d->fixed + (size_t)d->n * 8, &v, 8);
		d->n++;
		return 0;
	}
	(void)l;
	return dense_put_bytes(d, p, n);
}

/* --- value decoders ------------------------------------------------ */

typedef struct page_values {
	const uint8_t *p;
	size_t len;
	size_t count;		/* non-null values in the page */
} page_values;

static int
decode_plain(dense *d, const pq_leaf *l, const page_values *v)
{
	size_t pw = physical_width(l);

	if (l->physical == PT_BOOLEAN) {
		if ((v->count + 7) / 8 > v->len)
			return -1;
		for (size_t i = 0; i < v->count; i++)
			d->fixed[d->n++] = (v->p[i / 8] >> (i % 8)) & 1;
		return 0;
	}
	if (l->physical == PT_BYTE_ARRAY) {
		const uint8_t *p = v->p, *end = v->p + v->len;

		for (size_t i = 0; i < v->count; i++) {
			uint32_t n;

			if (end - p < 4)
				return -1;
			memcpy(&n, p, 4);
			p += 4;
			if (n > (size_t)(end - p))
				return -1;
			if (put_bytes(d, l, p, n) == -1)
				return -1;
			p += n;
		}
		return 0;
	}
	if (pw == 0 || v->count > v->len / pw)
		return -1;
	if (l->physical == PT_FIXED && d->width == 0) {
		for (size_t i = 0; i < v->count; i++)
			if (dense_put_bytes(d, v->p + i * pw, pw) == -1)
				return -1;
		return 0;
	}
	put_fixed_run(d, l, v->p, v->count);
	return 0;
}

/* Copies dictionary strings for k indices: one reservation per batch. */
static int
dict_strings(dense *d, const dense *dict, const uint32_t *idx, size_t k)
{
	size_t need = 0;
	uint8_t *dst;

	for (size_t i = 0; i < k; i++) {
		if ((int64_t)idx[i] >= dict->n)
			return -1;
		need += dict->offsets[idx[i] + 1] - dict->offsets[idx[i]];
	}
	if (d->data.len + need > UINT32_MAX ||
	    lake_buf_reserve(&d->data, need) == -1)
		return -1;
	dst = d->data.data + d->data.len;
	for (size_t i = 0; i < k; i++) {
		uint32_t from = dict->offsets[idx[i]];
		uint32_t n = dict->offsets[idx[i] + 1] - from;

		memcpy(dst, dict->data.data + from, n);
		dst += n;
		d->data.len += n;
		d->offsets[++d->n] = (uint32_t)d->data.len;
	}
	return 0;
}

static int
decode_dictionary(dense *d, const dense *dict, const page_values *v)
{
	uint32_t idx[1024];
	rle_decoder rd;

	if (v->len < 1 || rle_init(&rd, v->p + 1, v->len - 1, v->p[0]) == -1)
		return -1;
	for (size_t done = 0; done < v->count;) {
		size_t k = v->count - done < 1024 ? v->count - done : 1024;

		if (rle_get_u32(&rd, idx, k) == -1)
			return -1;
		if (d->width == 0) {
			if (dict_strings(d, dict, idx, k) == -1)
				return -1;
			done += k;
			continue;
		}
		for (size_t i = 0; i < k; i++) {
			if ((int64_t)idx[i] >= dict->n)
				return -1;
			memcpy(d->fixed + (size_t)d->n * d->width,
			    dict->fixed + (size_t)idx[i] * d->width, d->width);
			d->n++;
		}
		done += k;
	}
	return 0;
}

static int
decode_rle_booleans(dense *d, const page_values *v)
{
	uint32_t len, tmp[1024];
	rle_decoder rd;

	if (v->len < 4)
		return -1;
	memcpy(&len, v->p, 4);
	if (len > v->len - 4 || rle_init(&rd, v->p + 4, len, 1) == -1)
		return -1;
	for (size_t done = 0; done < v->count;) {
		size_t k = v->count - done < 1024 ? v->count - done : 1024;

		if (rle_get_u32(&rd, tmp, k) == -1)
			return -1;
		for (size_t i = 0; i < k; i++)
			d->fixed[d->n++] = tmp[i] != 0;
		done += k;
	}
	return 0;
}

static int
decode_delta_ints(dense *d, const pq_leaf *l, const page_values *v)
{
	size_t pw = l->physical == PT_INT32 ? 4 : 8, used;
	uint8_t *tmp;
	int rc;

	if (l->physical != PT_INT32 && l->physical != PT_INT64)
		return -1;
	if ((tmp = malloc(v->count ? v->count * pw : 1)) == NULL)
		return -1;
	rc = enc_delta_decode(v->p, v->len, v->count, (int)pw, tmp, &used);
	if (rc == 0)
		put_fixed_run(d, l, tmp, v->count);
	free(tmp);
	return rc;
}

/* Lengths (DELTA_BINARY_PACKED) then the bytes back to back. */
static int
decode_delta_length(dense *d, const pq_leaf *l, const page_values *v)
{
	int32_t *lens;
	size_t used;
	const uint8_t *p, *end = v->p + v->len;
	int rc = -1;

	if ((lens = malloc(v->count ? v->count * 4 : 1)) == NULL)
		return -1;
	if (enc_delta_decode(v->p, v->len, v->count, 4, lens, &used) == -1)
		goto out;
	p = v->p + used;
	for (size_t i = 0; i < v->count; i++) {
		if (lens[i] < 0 || (size_t)lens[i] > (size_t)(end - p))
			goto out;
		if (put_bytes(d, l, p, (size_t)lens[i]) == -1)
			goto out;
		p += lens[i];
	}
	rc = 0;
out:
	free(lens);
	return rc;
}

/* Prefix lengths, then suffixes as DELTA_LENGTH_BYTE_ARRAY. */
static int
decode_delta_byte_array(dense *d, const pq_leaf *l, const page_values *v)
{
	int32_t *pre = NULL, *suf = NULL;
	size_t used1, used2;
	const uint8_t *p, *end = v->p + v->len;
	lake_buf prev = { 0 }, cur = { 0 };
	int rc = -1;

	pre = malloc(v->count ? v->count * 4 : 1);
	suf = malloc(v->count ? v->count * 4 : 1);
	if (pre == NULL || suf == NULL)
		goto out;
	if (enc_delta_decode(v->p, v->len, v->count, 4, pre, &used1) == -1)
		goto out;
	if (enc_delta_decode(v->p + used1, v->len - used1, v->count, 4, suf,
	    &used2) == -1)
		goto out;
	p = v->p + used1 + used2;
	for (size_t i = 0; i < v->count; i++) {
		if (pre[i] < 0 || (size_t)pre[i] > prev.len || suf[i] < 0 ||
		    (size_t)suf[i] > (size_t)(end - p))
			goto out;
		cur.len = 0;
		lake_buf_append(&cur, prev.data, (size_t)pre[i]);
		lake_buf_append(&cur, p, (size_t)suf[i]);
		if (cur.failed)
			goto out;
		p += suf[i];
		if (put_bytes(d, l, cur.data, cur.len) == -1)
			goto out;
		prev.len = 0;
		lake_buf_append(&prev, cur.data, cur.len);
	}
	rc = 0;
out:
	lake_buf_free(&prev);
	lake_buf_free(&cur);
	free(pre);
	free(suf);
	return rc;
}

static int
decode_byte_stream_split(dense *d, const pq_leaf *l, const page_values *v)
{
	size_t pw = physical_width(l);
	uint8_t raw[16];

	if (pw == 0 || pw > sizeof(raw) || l->physical == PT_INT96 ||
	    v->count > v->len / pw)
		return -1;
	for (size_t i = 0; i < v->count; i++) {
		for (size_t b = 0; b < pw; b++)
			raw[b] = v->p[b * v->count + i];
		if (l->physical == PT_FIXED && d->width == 0) {
			if (dense_put_bytes(d, raw, pw) == -1)
				return -1;
		} else
			put_fixed(d, l, raw);
	}
	return 0;
}

static int
decode_values(dense *d, const dense *dict, const pq_leaf *l, int encoding,
    const page_values *v)
{
	if (dense_reserve(d, d->n + (int64_t)v->count) == -1)
		return -1;
	switch (encoding) {
	case ENC_PLAIN:
		return decode_plain(d, l, v);
	case ENC_PLAIN_DICTIONARY:
	case ENC_RLE_DICTIONARY:
		if (dict == NULL)
			return -1;
		return decode_dictionary(d, dict, v);
	case ENC_RLE:
		if (l->physical != PT_BOOLEAN)
			return -1;
		return decode_rle_booleans(d, v);
	case ENC_DELTA_BINARY_PACKED:
		return decode_delta_ints(d, l, v);
	case ENC_DELTA_LENGTH_BYTE_ARRAY:
		if (l->physical != PT_BYTE_ARRAY)
			return -1;
		return decode_delta_length(d, l, v);
	case ENC_DELTA_BYTE_ARRAY:
		if (l->physical != PT_BYTE_ARRAY && l->physical != PT_FIXED)
			return -1;
		return decode_delta_byte_array(d, l, v);
	case ENC_BYTE_STREAM_SPLIT:
		return decode_byte_stream_split(d, l, v);
	default:
		return -1;
	}
}

/* --- pages --------------------------------------------------------- */

typedef struct chunk_state {
	pq_reader *r;
	const pq_leaf *leaf;
	int codec;
	int64_t nlevels_max;	/* what the chunk metadata claims */
	int64_t nlevels_cap;	/* allocated in def/rep */
	int64_t nlevels;
	int16_t *def;
	int16_t *rep;
	dense values;
	dense dict;
	int have_dict;
} chunk_state;

static int
inflate_page(chunk_state *s, const uint8_t *src, size_t n, size_t out_len,
    int compressed, const uint8_t **out, lake_err *err)
{
	if (!compressed || s->codec == PQ_CODEC_UNCOMPRESSED) {
		if (n != out_len) {
			lake_err_set(err, "page sizes disagree");
			return -1;
		}
		*out = src;
		return 0;
	}
	s->r->page.len = 0;
	if (lake_buf_reserve(&s->r->page, out_len ? out_len : 1) == -1) {
		lake_err_set(err, "out of memory for a %zu-byte page",
		    out_len);
		return -1;
	}
	if (codec_decompress(s->r->codec, s->codec, src, n, s->r->page.data,
	    out_len, err) == -1)
		return -1;
	*out = s->r->page.data;
	return 0;
}

static int
read_dictionary_page(chunk_state *s, const pq_page_header *h,
    const uint8_t *body, lake_err *err)
{
	const uint8_t *p;
	page_values v;

	if (s->have_dict) {
		lake_err_set(err, "a second dictionary page");
		return -1;
	}
	if (inflate_page(s, body, (size_t)h->compressed_size,
	    (size_t)h->uncompressed_size, 1, &p, err) == -1)
		return -1;
	if (h->num_values > h->uncompressed_size * 8LL + 8 ||
	    dense_init(&s->dict, s->leaf->type, h->num_values + 1) == -1) {
		lake_err_set(err, "dictionary of %d values does not fit",
		    h->num_values);
		return -1;
	}
	s->have_dict = 1;
	v.p = p;
	v.len = (size_t)h->uncompressed_size;
	v.count = (size_t)h->num_values;
	if (decode_plain(&s->dict, s->leaf, &v) == -1) {
		lake_err_set(err, "corrupt dictionary page");
		return -1;
	}
	return 0;
}

/* Decodes n levels of the hybrid encoding at bit width for max_level. */
static int
read_levels(const uint8_t *p, size_t len, int max_level, int16_t *out,
    size_t n)
{
	rle_decoder rd;

	if (rle_init(&rd, p, len, enc_bit_width((uint64_t)max_level)) == -1 ||
	    rle_get_i16(&rd, out, n) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (out[i] < 0 || out[i] > max_level)
			return -1;
	return 0;
}

/* Makes room for n more levels; -1 past the chunk's claimed count. */
static int
levels_reserve(chunk_state *s, size_t n, lake_err *err)
{
	int64_t need = s->nlevels + (int64_t)n, cap;
	void *p;

	if ((int64_t)n > s->nlevels_max - s->nlevels) {
		lake_err_set(err, "more values in pages than the chunk holds");
		return -1;
	}
	if (need <= s->nlevels_cap)
		return 0;
	cap = s->nlevels_cap ? s->nlevels_cap : 1024;
	while (cap < need)
		cap *= 2;
	if (s->leaf->max_def > 0) {
		if ((p = realloc(s->def, (size_t)cap * 2)) == NULL)
			goto nomem;
		s->def = p;
	}
	if (s->leaf->max_rep > 0) {
		if ((p = realloc(s->rep, (size_t)cap * 2)) == NULL)
			goto nomem;
		s->rep = p;
	}
	s->nlevels_cap = cap;
	return 0;
nomem:
	lake_err_set(err, "out of memory for %lld levels", (long long)cap);
	return -1;
}

static size_t
count_present(const int16_t *def, size_t n, int max_def)
{
	size_t present = 0;

	for (size_t i = 0; i < n; i++)
		present += def[i] == max_def;
	return present;
}

/*
 * The common case of a required fixed-width column in PLAIN: the page body
 * is exactly the values, so it is decompressed straight into place.
 * Returns 1 when it handled the page, 0 when the general path must.
 */
static int
read_plain_required(chunk_state *s, const pq_page_header *h,
    const uint8_t *body, lake_err *err)
{
	const pq_leaf *l = s->leaf;
	dense *d = &s->values;
	size_t n = (size_t)h->num_values;

	if (l->max_def != 0 || l->max_rep != 0 || h->encoding != ENC_PLAIN ||
	    s->codec == PQ_CODEC_UNCOMPRESSED || d->width == 0 ||
	    physical_width(l) != d->width ||
	    !(l->physical == PT_INT32 || l->physical == PT_DOUBLE ||
	    (l->physical == PT_INT64 && l->time_unit == 2)) ||
	    (size_t)h->uncompressed_size != n * d->width)
		return 0;
	if (levels_reserve(s, n, err) == -1 ||
	    dense_reserve(d, d->n + (int64_t)n) == -1)
		return -1;
	if (codec_decompress(s->r->codec, s->codec, body,
	    (size_t)h->compressed_size, d->fixed + (size_t)d->n * d->width,
	    n * d->width, err) == -1)
		return -1;
	d->n += (int64_t)n;
	s->nlevels += (int64_t)n;
	return 1;
}

static int
read_data_page(chunk_state *s, const pq_page_header *h, const uint8_t *body,
    lake_err *err)
{
	const pq_leaf *l = s->leaf;
	size_t n = (size_t)h->num_values, present;
	const uint8_t *p, *end;
	int16_t *def, *rep;
	page_values v;
	uint32_t len;

	if (levels_reserve(s, n, err) == -1)
		return -1;
	def = s->def ? s->def + s->nlevels : NULL;
	rep = s->rep ? s->rep + s->nlevels : NULL;
	if (inflate_page(s, body, (size_t)h->compressed_size,
	    (size_t)h->uncompressed_size, 1, &p, err) == -1)
		return -1;
	end = p + h->uncompressed_size;
	if (l->max_rep > 0) {
		if (end - p < 4 || (memcpy(&len, p, 4), len > (size_t)(end -
		    p - 4)) || read_levels(p + 4, len, l->max_rep, rep, n) == -1)
			goto corrupt;
		p += 4 + len;
	}
	if (l->max_def > 0) {
		if (end - p < 4 || (memcpy(&len, p, 4), len > (size_t)(end -
		    p - 4)) || read_levels(p + 4, len, l->max_def, def, n) == -1)
			goto corrupt;
		p += 4 + len;
		present = count_present(def, n, l->max_def);
	} else
		present = n;
	v.p = p;
	v.len = (size_t)(end - p);
	v.count = present;
	if (decode_values(&s->values, s->have_dict ? &s->dict : NULL, l,
	    h->encoding, &v) == -1)
		goto corrupt;
	s->nlevels += (int64_t)n;
	return 0;
corrupt:
	lake_err_set(err, "corrupt data page (encoding %d)", h->encoding);
	return -1;
}

static int
read_data_page_v2(chunk_state *s, const pq_page_header *h,
    const uint8_t *body, lake_err *err)
{
	const pq_leaf *l = s->leaf;
	size_t n = (size_t)h->num_values, present;
	size_t levels = (size_t)h->rep_levels_len + (size_t)h->def_levels_len;
	int16_t *def, *rep;
	const uint8_t *p;
	page_values v;

	if (levels_reserve(s, n, err) == -1)
		return -1;
	def = s->def ? s->def + s->nlevels : NULL;
	rep = s->rep ? s->rep + s->nlevels : NULL;
	if (l->max_rep > 0 && read_levels(body, (size_t)h->rep_levels_len,
	    l->max_rep, rep, n) == -1)
		goto corrupt;
	if (l->max_def > 0) {
		if (read_levels(body + h->rep_levels_len,
		    (size_t)h->def_levels_len, l->max_def, def, n) == -1)
			goto corrupt;
		present = count_present(def, n, l->max_def);
	} else
		present = n;
	if (inflate_page(s, body + levels, (size_t)h->compressed_size - levels,
	    (size_t)h->uncompressed_size - levels, h->is_compressed, &p,
	    err) == -1)
		return -1;
	v.p = p;
	v.len = (size_t)h->uncompressed_size - levels;
	v.count = present;
	if (decode_values(&s->values, s->have_dict ? &s->dict : NULL, l,
	    h->encoding, &v) == -1)
		goto corrupt;
	s->nlevels += (int64_t)n;
	return 0;
corrupt:
	lake_err_set(err, "corrupt v2 data page (encoding %d)", h->encoding);
	return -1;
}

static void
chunk_state_free(chunk_state *s)
{
	free(s->def);
	free(s->rep);
	dense_free(&s->values);
	dense_free(&s->dict);
}

/*
 * Which data pages of a row group to decode, for a lookup: page k of
 * every column holds rows[k] rows (the writer's aligned pages) and is
 * decoded when wanted[k].
 */
typedef struct page_plan {
	int npages;
	int32_t *rows;
	uint8_t *wanted;
	int64_t nrows_wanted;
	int indexed;		/* made from the page index */
	int key_leaf;		/* with indexed: the key column's leaf, */
	pq_page_loc *key_locs;	/* its OffsetIndex (read once) */
	int key_nlocs;
} page_plan;

/*
 * Checks, decompresses and decodes one page (its header h, its body at
 * p; at is its file offset, for messages) into s.
 */
static int
decode_page(chunk_state *s, const pq_page_header *h, const uint8_t *p,
    int64_t at, lake_err *err)
{
	int rc = 0;

	if (h->has_crc && pq_page_crc(p, (size_t)h->compressed_size) !=
	    h->crc) {
		lake_err_set(err, "%s: column %s: a page at offset %lld fails "
		    "its CRC check: the file is corrupt (restore it, or see "
		    "README, \"Failure behaviour\")", s->r->name, s->leaf->path,
		    (long long)at);
		return -1;
	}
	if (h->type == PAGE_DICTIONARY)
		rc = read_dictionary_page(s, h, p, err);
	else if (h->type == PAGE_DATA) {
		rc = read_plain_required(s, h, p, err);
		if (rc == 0)
			rc = read_data_page(s, h, p, err);
	} else if (h->type == PAGE_DATA_V2)
		rc = read_data_page_v2(s, h, p, err);
	if (rc == -1) {
		lake_err_prefix(err, "%s: column %s", s->r->name,
		    s->leaf->path);
		return -1;
	}
	return 0;
}

/*
 * Sets s up for one column chunk: checks the chunk's place and count
 * and makes room for its values (the plan's rows with a plan). *start
 * gets the offset of its first page.
 */
static int
chunk_begin(pq_reader *r, int rg, int leaf, chunk_state *s,
    pq_column_batch *reuse, const page_plan *plan, int64_t *start,
    lake_err *err)
{
	const pq_chunk_meta *c = &r->meta.row_groups[rg].chunks[leaf];
	const pq_leaf *l = &r->meta.leaves[leaf];

	memset(s, 0, sizeof(*s));
	s->r = r;
	s->leaf = l;
	s->codec = c->codec;
	*start = c->data_page_offset;
	if (c->dictionary_page_offset > 0 &&
	    c->dictionary_page_offset < *start)
		*start = c->dictionary_page_offset;
	if (c->num_values > MAX_CHUNK_VALUES) {
		lake_err_set(err, "%s: column %s: %lld values in one row group "
		    "is more than this reader allows", r->name, l->path,
		    (long long)c->num_values);
		return -1;
	}
	if ((uint64_t)*start + (uint64_t)c->total_compressed >
	    r->size - 8) {
		lake_err_set(err, "%s: column %s: chunk runs past the footer",
		    r->name, l->path);
		return -1;
	}
	s->nlevels_max = c->num_values;
	if (reuse != NULL && reuse->type == l->type && reuse->cap_values > 0)
		dense_adopt(&s->values, l->type, reuse);
	/*
	 * Room for the claimed count up front, unless the chunk is too small
	 * to hold that many values (a lying header): then grow as pages come.
	 */
	if (dense_init(&s->values, l->type, plan != NULL ?
	    (plan->nrows_wanted > 0 ? plan->nrows_wanted : 1) :
	    c->num_values <= c->total_uncompressed * 8 + 1024 ?
	    c->num_values : 1) == -1) {
		lake_err_set(err, "%s: column %s: out of memory", r->name,
		    l->path);
		return -1;
	}
	return 0;
}

/*
 * Reads the pages of one column chunk into s: every page, or with plan
 * only the data pages it wants (and the dictionary). reuse, when not
 * NULL, is a batch column whose arrays s may take over instead of
 * allocating. Returns 0, -1 on error, or 1 when the chunk's pages are not
 * the plan's (another writer's file): then the caller reads it whole.
 */
static int
read_chunk(pq_reader *r, int rg, int leaf, chunk_state *s,
    pq_column_batch *reuse, const page_plan *plan, lake_err *err)
{
	const pq_chunk_meta *c = &r->meta.row_groups[rg].chunks[leaf];
	const pq_leaf *l = &r->meta.leaves[leaf];
	int64_t start, consumed = 0;
	const uint8_t *buf, *p, *end;
	int page = 0;

	if (chunk_begin(r, rg, leaf, s, reuse, plan, &start, err) == -1)
		return -1;
	if (read_at(r, (uint64_t)start, (size_t)c->total_compressed, &r->chunk,
	    &buf, err) == -1)
		return -1;
	p = buf;
	end = buf + c->total_compressed;
	while (consumed < c->num_values) {
		pq_page_header h;
		size_t used;
		int skip = 0;

		if (p >= end || pq_page_header_decode(p, (size_t)(end - p), &h,
		    &used) == -1) {
			lake_err_set(err, "%s: column %s: corrupt or missing "
			    "page header", r->name, l->path);
			return -1;
		}
		p += used;
		if ((size_t)h.compressed_size > (size_t)(end - p)) {
			lake_err_set(err, "%s: column %s: page of %d bytes runs "
			    "past its chunk", r->name, l->path,
			    h.compressed_size);
			return -1;
		}
		if (h.type == PAGE_DATA || h.type == PAGE_DATA_V2) {
			if (plan != NULL) {
				if (h.type != PAGE_DATA || page >=
				    plan->npages || h.num_values !=
				    plan->rows[page])
					return 1;
				skip = !plan->wanted[page++];
			}
			consumed += h.num_values;
		}
		if (skip) {
			p += h.compressed_size;
			continue;
		}
		if (decode_page(s, &h, p, start + (p - buf), err) == -1)
			return -1;
		p += h.compressed_size;
	}
	return 0;
}

/* --- flat reading -------------------------------------------------- */

/* Moves the decoded arrays from s to the batch column (with their sizes,
 * so the next read into it can reuse them). */
static void
hand_over(chunk_state *s, pq_column_batch *b)
{
	b->cap_values = s->values.cap;
	if (s->values.width) {
		b->v.i64 = (int64_t *)(void *)s->values.fixed;
		s->values.fixed = NULL;
		return;
	}
	if (s->values.data.data == NULL)
		s->values.data.data = calloc(1, 1);
	b->offsets = s->values.offsets;
	b->data = (char *)s->values.data.data;
	b->cap_data = s->values.data.data ? (s->values.data.cap ?
	    s->values.data.cap : 1) : 0;
	s->values.offsets = NULL;
	s->values.data.data = NULL;
}

/* Moves dense values to their rows, from the back, marking nulls. */
static int
spread(chunk_state *s, pq_column_batch *b, int64_t nrows)
{
	dense *d = &s->values;
	int64_t v = d->n;

	if (s->def == NULL)
		return d->n == nrows ? 0 : -1;
	if (s->nlevels != nrows)
		return -1;
	if (d->n == nrows)	/* a value at every level: no nulls */
		return 0;
	if (dense_reserve(d, nrows) == -1)
		return -1;
	if ((b->nulls = calloc((size_t)nrows + 1, 1)) == NULL)
		return -1;
	for (int64_t row = nrows - 1; row >= 0; row--) {
		int present = s->def[row] == s->leaf->max_def;

		b->nulls[row] = !present;
		if (present)
			v--;
		if (v < 0)
			return -1;
		if (d->width) {
			if (present)
				memmove(d->fixed + (size_t)row * d->width,
				    d->fixed + (size_t)v * d->width, d->width);
			else
				memset(d->fixed + (size_t)row * d->width, 0,
				    d->width);
		} else
			d->offsets[row + 1] = present ? d->offsets[v + 1] :
			    d->offsets[v];
	}
	return v == 0 ? 0 : -1;
}

/* Whether batch holds the same projection, so its memory can be reused. */
static int
same_projection(const pq_batch *batch, const int *cols, int ncols)
{
	if (batch->cols == NULL || batch->ncols != ncols)
		return 0;
	for (int i = 0; i < ncols; i++)
		if (batch->cols[i].col != (cols ? cols[i] : i))
			return 0;
	return 1;
}

int
pq_reader_read_row_group(pq_reader *r, int rg, const int *cols, int ncols,
    pq_batch *batch, lake_err *err)
{
	int64_t nrows;

	if (cols == NULL)
		ncols = r->schema.ncols;
	if (!same_projection(batch, cols, ncols))
		pq_batch_free(batch);
	if (rg < 0 || rg >= r->meta.nrow_groups) {
		lake_err_set(err, "%s: no row group %d", r->name, rg);
		goto fail;
	}
	nrows = r->meta.row_groups[rg].num_rows;
	batch->nrows = nrows;
	if (batch->cols == NULL)
		batch->cols = calloc((size_t)(ncols ? ncols : 1),
		    sizeof(*batch->cols));
	if (batch->cols == NULL) {
		lake_err_set(err, "%s: out of memory", r->name);
		return -1;
	}
	batch->ncols = ncols;
	for (int i = 0; i < ncols; i++) {
		int col = cols ? cols[i] : i;
		pq_column_batch *b = &batch->cols[i];
		chunk_state s;
		int leaf;

		if (col < 0 || col >= r->schema.ncols) {
			lake_err_set(err, "%s: no column %d", r->name, col);
			goto fail;
		}
		leaf = r->schema_leaf[col];
		b->col = col;
		b->type = r->schema.cols[col].type;
		free(b->nulls);
		b->nulls = NULL;
		if (r->meta.row_groups[rg].chunks[leaf].num_values != nrows) {
			lake_err_set(err, "%s: column %s: %lld values in a row "
			    "group of %lld rows", r->name,
			    r->schema.cols[col].name, (long long)
			    r->meta.row_groups[rg].chunks[leaf].num_values,
			    (long long)nrows);
			goto fail;
		}
		if (read_chunk(r, rg, leaf, &s, b, NULL, err) == -1) {
			chunk_state_free(&s);
			goto fail;
		}
		if (spread(&s, b, nrows) == -1) {
			chunk_state_free(&s);
			lake_err_set(err, "%s: column %s: levels and values "
			    "disagree", r->name, r->schema.cols[col].name);
			goto fail;
		}
		hand_over(&s, b);
		chunk_state_free(&s);
	}
	return 0;
fail:
	pq_batch_free(batch);
	return -1;
}

/* --- point lookups ------------------------------------------------- */

int
pq_keys_overlap(const int64_t *keys, size_t nkeys, int64_t lo, int64_t hi)
{
	size_t a = 0, b = nkeys;

	while (a < b) {		/* the first key >= lo */
		size_t m = a + (b - a) / 2;

		if (keys[m] < lo)
			a = m + 1;
		else
			b = m;
	}
	return a < nkeys && keys[a] <= hi;
}

static void
page_plan_free(page_plan *pl)
{
	free(pl->rows);
	free(pl->wanted);
	free(pl->key_locs);
	memset(pl, 0, sizeof(*pl));
}

static int
page_plan_add(page_plan *pl, int32_t rows, int wanted)
{
	if ((pl->npages & (pl->npages - 1)) == 0) {	/* 0 or a power of 2 */
		size_t cap = pl->npages ? (size_t)pl->npages * 2 : 16;
		int32_t *r = realloc(pl->rows, cap * sizeof(*r));
		uint8_t *w;

		if (r == NULL)
			return -1;
		pl->rows = r;
		if ((w = realloc(pl->wanted, cap)) == NULL)
			return -1;
		pl->wanted = w;
	}
	pl->rows[pl->npages] = rows;
	pl->wanted[pl->npages++] = (uint8_t)wanted;
	if (wanted)
		pl->nrows_wanted += rows;
	return 0;
}

/*
 * The plan of a lookup from the key column's page headers: a page is
 * wanted when its min/max may hold one of the keys. A flat column's v1
 * page counts its rows, nulls included, so a nullable key column plans
 * as well as a required one. Returns 0, -1 on error, 1 when the pages
 * cannot tell (a page without statistics, such as one of nulls only, a
 * v2 page, a repeated column).
 */
static int
plan_pages(pq_reader *r, int rg, int leaf, const int64_t *keys,
    size_t nkeys, page_plan *pl, lake_err *err)
{
	const pq_chunk_meta *c = &r->meta.row_groups[rg].chunks[leaf];
	const pq_leaf *l = &r->meta.leaves[leaf];
	int64_t start = c->data_page_offset, consumed = 0;
	const uint8_t *buf, *p, *end;

	if (l->max_def > 1 || l->max_rep != 0)
		return 1;
	if (c->dictionary_page_offset > 0 && c->dictionary_page_offset < start)
		start = c->dictionary_page_offset;
	if (c->total_compressed < 0 || (uint64_t)start +
	    (uint64_t)c->total_compressed > r->size - 8) {
		lake_err_set(err, "%s: column %s: chunk runs past the footer",
		    r->name, l->path);
		return -1;
	}
	if (read_at(r, (uint64_t)start, (size_t)c->total_compressed,
	    &r->chunk, &buf, err) == -1)
		return -1;
	p = buf;
	end = buf + c->total_compressed;
	while (consumed < c->num_values) {
		pq_page_header h;
		size_t used;

		if (p >= end || pq_page_header_decode(p, (size_t)(end - p), &h,
		    &used) == -1 || (size_t)h.compressed_size >
		    (size_t)(end - p - used)) {
			lake_err_set(err, "%s: column %s: corrupt or missing "
			    "page header", r->name, l->path);
			return -1;
		}
		p += used + (size_t)h.compressed_size;
		if (h.type == PAGE_DICTIONARY)
			continue;
		if (h.type != PAGE_DATA || !h.has_int_range)
			return 1;
		if (page_plan_add(pl, h.num_values, pq_keys_overlap(keys,
		    nkeys, h.min_int, h.max_int)) == -1) {
			lake_err_set(err, "%s: out of memory", r->name);
			return -1;
		}
		consumed += h.num_values;
	}
	return pl->npages > 1 ? 0 : 1;
}

/*
 * The OffsetIndex of a chunk, checked against the chunk: pages in file
 * order inside it, the first at row 0, rows rising below the row
 * group's count. Returns 0 with *locs (the caller frees it), 1 when the
 * chunk has none or a malformed one (the caller reads without it), -1
 * when it cannot be read.
 */
static int
load_offset_index(pq_reader *r, int rg, int leaf, pq_page_loc **locs,
    int *n, lake_err *err)
{
	const pq_chunk_meta *c = &r->meta.row_groups[rg].chunks[leaf];
	int64_t nrows = r->meta.row_groups[rg].num_rows;
	int64_t lo = c->data_page_offset, hi;
	const uint8_t *p;

	*locs = NULL;
	if (c->offset_index_length <= 0)
		return 1;
	if (read_at(r, (uint64_t)c->offset_index_offset,
	    (size_t)c->offset_index_length, &r->chunk, &p, err) == -1)
		return -1;
	if (pq_offset_index_decode(p, (size_t)c->offset_index_length, locs,
	    n) == -1)
		return 1;
	if (c->dictionary_page_offset > 0 && c->dictionary_page_offset < lo)
		lo = c->dictionary_page_offset;
	hi = pq_add_sat(lo, c->total_compressed);
	for (int k = 0; k < *n; k++) {
		const pq_page_loc *l = &(*locs)[k];

		if (l->offset < (k ? (*locs)[k - 1].offset +
		    (*locs)[k - 1].size : c->data_page_offset) ||
		    l->size > hi - l->offset || (k == 0 && l->first_row != 0) ||
		    l->first_row >= nrows ||
		    (k && l->first_row <= (*locs)[k - 1].first_row)) {
			free(*locs);
			*locs = NULL;
			return 1;
		}
	}
	if (*n == 0) {
		free(*locs);
		*locs = NULL;
		return 1;
	}
	return 0;
}

/* Rows of page k of n, from the offset index. */
static int64_t
loc_rows(const pq_page_loc *locs, int n, int k, int64_t nrows)
{
	return (k + 1 < n ? locs[k + 1].first_row : nrows) - locs[k].first_row;
}

/*
 * The plan of a lookup from the page index: the key column's ColumnIndex
 * gives each page's min and max, its OffsetIndex each page's rows; a
 * page of nulls only is not wanted. No page header is read. Returns 0, 1
 * when the chunk has no usable index, -1 on a read error.
 */
static int
plan_from_index(pq_reader *r, int rg, int leaf, const int64_t *keys,
    size_t nkeys, page_plan *pl, lake_err *err)
{
	const pq_chunk_meta *c = &r->meta.row_groups[rg].chunks[leaf];
	const pq_leaf *l = &r->meta.leaves[leaf];
	int64_t nrows = r->meta.row_groups[rg].num_rows;
	pq_int_index ix = { 0 };
	pq_page_loc *locs;
	const uint8_t *p;
	int n, rc;

	if (l->max_def > 1 || l->max_rep != 0 || c->column_index_length <= 0)
		return 1;
	if ((rc = load_offset_index(r, rg, leaf, &locs, &n, err)) != 0)
		return rc;
	rc = 1;
	if (read_at(r, (uint64_t)c->column_index_offset,
	    (size_t)c->column_index_length, &r->chunk, &p, err) == -1) {
		rc = -1;
		goto out;
	}
	if (pq_column_index_decode_int(p, (size_t)c->column_index_length,
	    &ix) == -1 || ix.npages != n)
		goto out;
	for (int k = 0; k < n; k++) {
		int64_t rows = loc_rows(locs, n, k, nrows);
		int wanted = ix.known[k] ? pq_keys_overlap(keys, nkeys,
		    ix.min[k], ix.max[k]) : !ix.null_page[k];

		if (rows > INT32_MAX || page_plan_add(pl, (int32_t)rows,
		    wanted) == -1) {
			lake_err_set(err, "%s: out of memory", r->name);
			rc = -1;
			goto out;
		}
	}
	pl->indexed = 1;
	pl->key_leaf = leaf;
	pl->key_locs = locs;
	pl->key_nlocs = n;
	locs = NULL;
	rc = 0;
out:
	if (rc != 0)
		page_plan_free(pl);
	pq_int_index_free(&ix);
	free(locs);
	return rc;
}

/*
 * The pages in front of a chunk's first data page (len bytes at buf,
 * file offset at): its dictionary, if any. Returns 0, 1 when they do not
 * parse (the caller walks the chunk instead), -1 on error.
 */
static int
decode_front(chunk_state *s, const uint8_t *buf, size_t len, int64_t at,
    lake_err *err)
{
	const uint8_t *p = buf, *end = buf + len;

	while (p < end) {
		pq_page_header h;
		size_t used;

		if (pq_page_header_decode(p, (size_t)(end - p), &h,
		    &used) == -1 || (size_t)h.compressed_size >
		    (size_t)(end - p) - used)
			return 1;
		if (h.type == PAGE_DICTIONARY && decode_page(s, &h, p + used,
		    at + (p - buf) + (int64_t)used, err) == -1)
			return -1;
		p += used + (size_t)h.compressed_size;
	}
	return 0;
}

/*
 * Reads the plan's pages of one chunk through its OffsetIndex: the
 * dictionary (if any) and the span from the first wanted page to the
 * end of the last, with only the wanted pages' headers decoded. On an
 * object store the dictionary and that span are one ranged read. Returns
 * 0, -1 on error, 1 when the chunk has no offset index or its pages are
 * not the plan's (the caller then walks the page headers).
 */
static int
read_chunk_indexed(pq_reader *r, int rg, int leaf, chunk_state *s,
    pq_column_batch *reuse, const page_plan *plan, lake_err *err)
{
	int64_t nrows = r->meta.row_groups[rg].num_rows, start, from, to;
	pq_page_loc *locs = NULL;
	const uint8_t *buf, *p;
	int n, a = -1, b = -1, rc, front;

	if (chunk_begin(r, rg, leaf, s, reuse, plan, &start, err) == -1)
		return -1;
	if (leaf == plan->key_leaf && plan->key_locs != NULL) {
		locs = plan->key_locs;	/* the plan's: not freed here */
		n = plan->key_nlocs;
	} else if ((rc = load_offset_index(r, rg, leaf, &locs, &n, err)) != 0)
		return rc;
	rc = 1;
	if (n != plan->npages)
		goto out;
	for (int k = 0; k < n; k++) {
		if (loc_rows(locs, n, k, nrows) != plan->rows[k])
			goto out;
		if (plan->wanted[k]) {
			if (a < 0)
				a = k;
			b = k;
		}
	}
	rc = 0;
	if (a < 0)		/* no page wanted: no rows */
		goto out;
	front = start < locs[0].offset;
	from = front && r->in != NULL ? start : locs[a].offset;
	to = locs[b].offset + locs[b].size;
	if (front && from != start) {
		if (read_at(r, (uint64_t)start, (size_t)(locs[0].offset -
		    start), &r->chunk, &buf, err) == -1 ||
		    (rc = decode_front(s, buf, (size_t)(locs[0].offset -
		    start), start, err)) != 0)
			goto out_rc;
	}
	if (read_at(r, (uint64_t)from, (size_t)(to - from), &r->chunk, &buf,
	    err) == -1)
		goto out_rc;
	if (front && from == start && (rc = decode_front(s, buf,
	    (size_t)(locs[0].offset - start), start, err)) != 0)
		goto out;
	for (int k = a; k <= b; k++) {
		pq_page_header h;
		size_t used;

		if (!plan->wanted[k])
			continue;
		p = buf + (locs[k].offset - from);
		if (pq_page_header_decode(p, (size_t)locs[k].size, &h,
		    &used) == -1 || h.type != PAGE_DATA || h.num_values !=
		    plan->rows[k] || (size_t)h.compressed_size !=
		    (size_t)locs[k].size - used) {
			rc = 1;
			goto out;
		}
		if (decode_page(s, &h, p + used, locs[k].offset +
		    (int64_t)used, err) == -1)
			goto out_rc;
	}
	goto out;
out_rc:
	if (rc != 1)
		rc = -1;
out:
	if (locs != plan->key_locs)
		free(locs);
	return rc;
}

/* One column of a lookup's rows into batch column b. */
static int
read_planned_column(pq_reader *r, int rg, int col, const page_plan *pl,
    pq_column_batch *b, lake_err *err)
{
	chunk_state s;
	int rc = 1;

	b->col = col;
	b->type = r->schema.cols[col].type;
	free(b->nulls);
	b->nulls = NULL;
	if (pl->indexed &&
	    (rc = read_chunk_indexed(r, rg, r->schema_leaf[col], &s, b, pl,
	    err)) == 1)
		chunk_state_free(&s);
	if (rc == 1)
		rc = read_chunk(r, rg, r->schema_leaf[col], &s, b, pl, err);
	if (rc == 0 && spread(&s, b, pl->nrows_wanted) == -1) {
		lake_err_set(err, "%s: column %s: levels and values disagree",
		    r->name, r->schema.cols[col].name);
		rc = -1;
	}
	if (rc == 0)
		hand_over(&s, b);
	chunk_state_free(&s);
	return rc;
}

int
pq_reader_read_row_group_keys(pq_reader *r, int rg, const int *cols,
    int ncols, int key_col, const int64_t *keys, size_t nkeys,
    pq_batch *batch, lake_err *err)
{
	page_plan pl = { 0 };
	int rc;

	if (rg < 0 || rg >= r->meta.nrow_groups || key_col < 0 ||
	    key_col >= r->schema.ncols || ncols <= 0 ||
	    (r->schema.cols[key_col].type != PQ_INT32 &&
	    r->schema.cols[key_col].type != PQ_INT64))
		return pq_reader_read_row_group(r, rg, cols, ncols, batch, err);
	rc = plan_from_index(r, rg, r->schema_leaf[key_col], keys, nkeys, &pl,
	    err);
	if (rc == 1)
		rc = plan_pages(r, rg, r->schema_leaf[key_col], keys, nkeys,
		    &pl, err);
	if (rc == 0) {
		if (!same_projection(batch, cols, ncols))
			pq_batch_free(batch);
		if (batch->cols == NULL && (batch->cols = calloc((size_t)ncols,
		    sizeof(*batch->cols))) == NULL) {
			lake_err_set(err, "%s: out of memory", r->name);
			rc = -1;
		}
		batch->ncols = ncols;
		batch->nrows = pl.nrows_wanted;
		for (int i = 0; rc == 0 && i < ncols; i++) {
			if (cols[i] < 0 || cols[i] >= r->schema.ncols) {
				lake_err_set(err, "%s: no column %d", r->name,
				    cols[i]);
				rc = -1;
			} else
				rc = read_planned_column(r, rg, cols[i], &pl,
				    &batch->cols[i], err);
		}
		if (rc == -1)
			pq_batch_free(batch);
	}
	page_plan_free(&pl);
	if (rc == 1)	/* the pages cannot tell: the whole row group */
		return pq_reader_read_row_group(r, rg, cols, ncols, batch, err);
	return rc;
}

int
pq_reader_page_index(const pq_reader *r, int rg, int col)
{
	const pq_chunk_meta *c;

	if (rg < 0 || rg >= r->meta.nrow_groups || col < 0 ||
	    col >= r->schema.ncols)
		return 0;
	c = &r->meta.row_groups[rg].chunks[r->schema_leaf[col]];
	return (c->offset_index_length > 0 ? PQ_OFFSET_INDEX : 0) |
	    (c->column_index_length > 0 ? PQ_COLUMN_INDEX : 0);
}

void
pq_batch_free(pq_batch *batch)
{
	for (int i = 0; batch->cols != NULL && i < batch->ncols; i++) {
		pq_column_batch *b = &batch->cols[i];

		free(b->nulls);
		free(b->v.i64);
		free(b->offsets);
		free(b->data);
	}
	free(batch->cols);
	memset(batch, 0, sizeof(*batch));
}

/* --- nested reading (checkpoints) ---------------------------------- */

int
pq_reader_read_leaf(pq_reader *r, int rg, int leaf, pq_leaf_batch *out,
    lake_err *err)
{
	chunk_state s;
	pq_column_batch *b = &out->values;

	memset(out, 0, sizeof(*out));
	if (rg < 0 || rg >= r->meta.nrow_groups || leaf < 0 ||
	    leaf >= r->meta.nleaves) {
		lake_err_set(err, "%s: no row group %d or leaf %d", r->name,
		    rg, leaf);
		return -1;
	}
	if (read_chunk(r, rg, leaf, &s, NULL, NULL, err) == -1) {
		chunk_state_free(&s);
		return -1;
	}
	out->nlevels = s.nlevels;
	out->def = s.def;
	out->rep = s.rep;
	out->nvalues = s.values.n;
	s.def = NULL;
	s.rep = NULL;
	b->type = s.leaf->type;
	b->col = leaf;
	hand_over(&s, b);
	chunk_state_free(&s);
	return 0;
}

void
pq_leaf_batch_free(pq_leaf_batch *out)
{
	free(out->def);
	free(out->rep);
	free(out->values.v.i64);
	free(out->values.offsets);
	free(out->values.data);
	memset(out, 0, sizeof(*out));
}
