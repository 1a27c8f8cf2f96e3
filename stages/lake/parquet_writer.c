/*
 * parquet_writer.c - streaming Parquet writer for flat schemas.
 *
 * Rows are appended into per-column buffers for the current row group:
 * fixed-width values as they will be stored (PLAIN, little-endian),
 * definition levels as one byte per row, and strings either as
 * dictionary indices (with a per-chunk hash dictionary) or, once the
 * dictionary passes dict_max_bytes, as PLAIN length-prefixed bytes. When
 * the buffered bytes reach row_group_bytes the row group is written: for
 * each column an optional dictionary page, then v1 data pages of about
 * page_bytes each, compressed, and the buffers are reset. Memory therefore
 * stays at one row group. close() writes the footer (FileMetaData with
 * statistics and column orders), fsyncs and closes.
 *
 * With defer_create the file is created only by its first write (for a
 * small file: at close, in one write) and closed again after each row
 * group, so hundreds of writers buffering at once hold no descriptors.
 * The file is a lake_out of the storage seam (lake_store.h): on S3 its
 * bytes are one PUT at close, or at the caller's barrier with no_fsync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "encoding.h"
#include "medallion_version.h"
#include "lake_store.h"
#include "parquet_internal.h"

#define OUT_FLUSH_BYTES (1u << 20)
/*
 * A column chunk smaller than this is stored uncompressed, whatever the
 * codec: compressing it would save a few hundred bytes at most, less
 * than the file's last filesystem block wastes anyway, and would cost a
 * codec frame's set-up to write and again to read. (An increment spread
 * over hundreds of date partitions writes hundreds of such chunks.)
 */
#define SMALL_CHUNK_BYTES 1024

typedef struct col_buf {
	pq_column_def def;
	lake_buf values;	/* PLAIN values (booleans: one byte each) */
	lake_buf defs;		/* one byte per row when nullable */
	int64_t nvalues;	/* non-null values buffered */
	/* Dictionary state (strings). */
	int dict_mode;
	lake_buf dict;		/* PLAIN entries: [u32 len][bytes] */
	uint32_t *dict_off;	/* entry -> offset in dict */
	uint32_t ndict;
	uint32_t dict_cap;
	uint32_t *slots;	/* hash table of entry+1, 0 = empty */
	uint32_t nslots;
	lake_buf indices;	/* uint32 per non-null value */
	pq_column_stats rg_stats;
	pq_column_stats file_stats;
} col_buf;

struct pq_writer {
	char *path;
	lake_out *o;		/* the file, through the storage seam (a
				   deferred one holds no descriptor
				   between row groups) */
	pq_schema schema;
	pq_writer_opts opts;
	col_buf *cols;
	int64_t rg_rows;
	int64_t total_rows;
	size_t buffered;	/* value bytes in the row group (estimate) */
	int64_t offset;		/* bytes written to the file so far */
	lake_buf out;		/* pending file bytes */
	lake_buf page;		/* scratch: uncompressed page body */
	lake_buf packed;	/* scratch: compressed page body */
	lake_buf header;	/* scratch: page header */
	codec_ctx *codec;
	pq_row_group_out *rgs;
	int nrgs;
	int rgs_cap;
};

void
pq_writer_opts_default(pq_writer_opts *o)
{
	o->codec = PQ_CODEC_ZSTD;
	o->zstd_level = 1;
	o->row_group_bytes = 64u << 20;
	o->page_bytes = 1u << 20;
	o->dictionary = 1;
	o->dict_max_bytes = 1u << 20;
	o->no_fsync = 0;
	o->shared_ctx = NULL;
	o->defer_create = 0;
	o->page_rows = 0;
	o->sort = 0;
	o->sort_column = 0;
}

size_t
pq_value_width(pq_type t)
{
	switch (t) {
	case PQ_INT32:
	case PQ_DATE:
		return 4;
	case PQ_INT64:
	case PQ_TIMESTAMP:
	case PQ_DOUBLE:
		return 8;
	case PQ_BOOLEAN:
		return 1;
	default:
		return 0;
	}
}

static int
writable_type(pq_type t)
{
	return pq_value_width(t) != 0 || t == PQ_STRING;
}

/* --- output -------------------------------------------------------- */

/* A deferred writer holds no descriptor while it only buffers rows. */
static int
out_release(pq_writer *w, lake_err *err)
{
	return lake_out_release(w->o, err);
}

static int
out_flush(pq_writer *w, lake_err *err)
{
	if (lake_out_write(w->o, w->out.data, w->out.len, err) == -1)
		return -1;
	w->out.len = 0;
	return 0;
}

static int
out_write(pq_writer *w, const void *p, size_t n, lake_err *err)
{
	lake_buf_append(&w->out, p, n);
	if (w->out.failed) {
		lake_err_set(err, "%s: out of memory", w->path);
		return -1;
	}
	w->offset += (int64_t)n;
	if (w->out.len >= OUT_FLUSH_BYTES)
		return out_flush(w, err);
	return 0;
}

/* --- open ---------------------------------------------------------- */

static void
col_free(col_buf *c)
{
	lake_buf_free(&c->values);
	lake_buf_free(&c->defs);
	lake_buf_free(&c->dict);
	lake_buf_free(&c->indices);
	free(c->dict_off);
	free(c->slots);
	pq_column_stats_clear(&c->rg_stats, c->def.type);
	pq_column_stats_clear(&c->file_stats, c->def.type);
	free((char *)c->def.name);
}

static void
writer_free(pq_writer *w)
{
	if (w == NULL)
		return;
	for (int i = 0; w->cols != NULL && i < w->schema.ncols; i++)
		col_free(&w->cols[i]);
	for (int g = 0; g < w->nrgs; g++) {
		for (int i = 0; i < w->schema.ncols; i++) {
			pq_column_stats_clear(&w->rgs[g].chunks[i].stats,
			    w->schema.cols[i].type);
			free(w->rgs[g].chunks[i].pages);
		}
		free(w->rgs[g].chunks);
	}
	free(w->rgs);
	free(w->cols);
	free(w->schema.cols);
	lake_buf_free(&w->out);
	lake_buf_free(&w->page);
	lake_buf_free(&w->packed);
	lake_buf_free(&w->header);
	if (w->codec != w->opts.shared_ctx)
		codec_free(w->codec);
	free(w->path);
	free(w);
}

pq_writer *
pq_writer_open(const char *path, const pq_schema *schema,
    const pq_writer_opts *opts, lake_err *err)
{
	pq_writer *w;

	if (schema->ncols <= 0) {
		lake_err_set(err, "%s: a Parquet file needs at least one "
		    "column", path);
		return NULL;
	}
	for (int i = 0; i < schema->ncols; i++) {
		if (!writable_type(schema->cols[i].type)) {
			lake_err_set(err, "%s: column %s: this type can be "
			    "read but not written", path,
			    schema->cols[i].name);
			return NULL;
		}
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto nomem;
	if (opts != NULL)
		w->opts = *opts;
	else
		pq_writer_opts_default(&w->opts);
	if (w->opts.page_bytes < 1024)
		w->opts.page_bytes = 1024;
	if (w->opts.codec != PQ_CODEC_UNCOMPRESSED &&
	    w->opts.codec != PQ_CODEC_SNAPPY &&
	    w->opts.codec != PQ_CODEC_GZIP && w->opts.codec != PQ_CODEC_ZSTD) {
		lake_err_set(err, "%s: codec %d is not supported", path,
		    w->opts.codec);
		free(w);
		return NULL;
	}
	if (w->opts.sort && (w->opts.sort_column < 0 ||
	    w->opts.sort_column >= schema->ncols ||
	    (pq_value_width(schema->cols[w->opts.sort_column].type) != 4 &&
	    pq_value_width(schema->cols[w->opts.sort_column].type) != 8) ||
	    schema->cols[w->opts.sort_column].type == PQ_DOUBLE)) {
		lake_err_set(err, "%s: cannot sort by column %d: rows sort "
		    "only by an integer, date or timestamp column", path,
		    w->opts.sort_column);
		free(w);
		return NULL;
	}
	if ((w->path = strdup(path)) == NULL)
		goto nomem;
	w->codec = w->opts.shared_ctx;
	if (w->codec == NULL && (w->codec = codec_new()) == NULL)
		goto nomem;
	w->schema.ncols = schema->ncols;
	w->schema.cols = calloc((size_t)schema->ncols, sizeof(pq_column_def));
	w->cols = calloc((size_t)schema->ncols, sizeof(col_buf));
	if (w->schema.cols == NULL || w->cols == NULL)
		goto nomem;
	for (int i = 0; i < schema->ncols; i++) {
		col_buf *c = &w->cols[i];

		c->def = schema->cols[i];
		if ((c->def.name = strdup(schema->cols[i].name)) == NULL)
			goto nomem;
		w->schema.cols[i] = c->def;
		c->dict_mode = c->def.type == PQ_STRING && w->opts.dictionary;
		c->rg_stats.null_count = 0;
		c->file_stats.null_count = 0;
	}
	if ((w->o = lake_out_create(w->path, w->opts.defer_create,
	    err)) == NULL) {
		writer_free(w);
		return NULL;
	}
	if (out_write(w, "PAR1", 4, err) == -1) {
		pq_writer_abort(w);
		return NULL;
	}
	return w;
nomem:
	lake_err_set(err, "%s: out of memory", path);
	writer_free(w);
	return NULL;
}

/* --- append -------------------------------------------------------- */

/* lake_buf_append, with the common case (it fits) inline. */
static inline void
put(lake_buf *b, const void *p, size_t n)
{
	if (b->len + n <= b->cap) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
	} else
		lake_buf_append(b, p, n);
}

static uint32_t
hash_bytes(const char *p, uint32_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (uint32_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 1099511628211ULL;
	}
	return (uint32_t)(h ^ (h >> 32));
}

static int
dict_grow(col_buf *c)
{
	uint32_t nslots = c->nslots ? c->nslots * 2 : 64;
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (uint32_t e = 0; e < c->ndict; e++) {
		uint32_t len;
		const uint8_t *p = c->dict.data + c->dict_off[e];
		uint32_t s;

		memcpy(&len, p, 4);
		s = hash_bytes((const char *)p + 4, len) & (nslots - 1);
		while (slots[s] != 0)
			s = (s + 1) & (nslots - 1);
		slots[s] = e + 1;
	}
	free(c->slots);
	c->slots = slots;
	c->nslots = nslots;
	return 0;
}

/* Turns the buffered indices into PLAIN strings and leaves dict mode. */
static int
dict_fallback(col_buf *c)
{
	const uint32_t *idx = (const uint32_t *)c->indices.data;
	size_t n = c->indices.len / 4;

	c->values.len = 0;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = c->dict.data + c->dict_off[idx[i]];
		uint32_t len;

		memcpy(&len, p, 4);
		lake_buf_append(&c->values, p, 4 + (size_t)len);
	}
	if (c->values.failed)
		return -1;
	c->dict_mode = 0;
	c->dict.len = 0;
	c->ndict = 0;
	c->indices.len = 0;
	if (c->slots != NULL)
		memset(c->slots, 0, c->nslots * sizeof(*c->slots));
	return 0;
}

static int
append_dict(pq_writer *w, col_buf *c, const char *p, uint32_t len)
{
	uint32_t h, s, e;

	if ((uint64_t)c->ndict * 2 >= c->nslots && dict_grow(c) == -1)
		return -1;
	h = hash_bytes(p, len);
	for (s = h & (c->nslots - 1); c->slots[s] != 0;
	    s = (s + 1) & (c->nslots - 1)) {
		const uint8_t *q = c->dict.data + c->dict_off[c->slots[s] - 1];
		uint32_t qlen;

		memcpy(&qlen, q, 4);
		if (qlen == len && memcmp(q + 4, p, len) == 0) {
			e = c->slots[s] - 1;
			put(&c->indices, &e, 4);
			return c->indices.failed ? -1 : 0;
		}
	}
	if (c->dict.len + 4 + len > w->opts.dict_max_bytes) {
		if (dict_fallback(c) == -1)
			return -1;
		lake_buf_append(&c->values, &len, 4);
		lake_buf_append(&c->values, p, len);
		return c->values.failed ? -1 : 0;
	}
	if (c->ndict == c->dict_cap) {
		uint32_t cap = c->dict_cap ? c->dict_cap * 2 : 32;
		uint32_t *off = realloc(c->dict_off, cap * sizeof(*off));

		if (off == NULL)
			return -1;
		c->dict_off = off;
		c->dict_cap = cap;
	}
	e = c->ndict++;
	w->buffered += 4 + (size_t)len;
	c->dict_off[e] = (uint32_t)c->dict.len;
	c->slots[s] = e + 1;
	lake_buf_append(&c->dict, &len, 4);
	lake_buf_append(&c->dict, p, len);
	lake_buf_append(&c->indices, &e, 4);
	return c->dict.failed || c->indices.failed ? -1 : 0;
}

static int
value_less(pq_type t, const pq_value *a, const pq_value *b)
{
	switch (t) {
	case PQ_INT32:
	case PQ_DATE:
		return a->v.i32 < b->v.i32;
	case PQ_INT64:
	case PQ_TIMESTAMP:
		return a->v.i64 < b->v.i64;
	case PQ_DOUBLE:
		return a->v.f64 < b->v.f64;
	case PQ_BOOLEAN:
		return !a->v.b && b->v.b;
	default: {
		uint32_t n = a->v.s.len < b->v.s.len ? a->v.s.len : b->v.s.len;
		int c = memcmp(a->v.s.ptr, b->v.s.ptr, n);

		return c < 0 || (c == 0 && a->v.s.len < b->v.s.len);
	}
	}
}

static int
stats_add(pq_column_stats *s, pq_type t, const pq_value *v)
{
	/* NaN is left out of min/max, as other writers do. */
	if (t == PQ_DOUBLE && v->v.f64 != v->v.f64)
		return 0;
	if (!s->has_min_max) {
		if (pq_stats_value_copy(&s->min, v, t) == -1 ||
		    pq_stats_value_copy(&s->max, v, t) == -1)
			return -1;
		s->has_min_max = 1;
		return 0;
	}
	if (value_less(t, v, &s->min) &&
	    pq_stats_value_copy(&s->min, v, t) == -1)
		return -1;
	if (value_less(t, &s->max, v) &&
	    pq_stats_value_copy(&s->max, v, t) == -1)
		return -1;
	return 0;
}

static int
append_value(pq_writer *w, col_buf *c, const pq_value *v)
{
	uint8_t b;

	switch (c->def.type) {
	case PQ_INT32:
	case PQ_DATE:
		put(&c->values, &v->v.i32, 4);
		w->buffered += 4;
		break;
	case PQ_INT64:
	case PQ_TIMESTAMP:
		put(&c->values, &v->v.i64, 8);
		w->buffered += 8;
		break;
	case PQ_DOUBLE:
		put(&c->values, &v->v.f64, 8);
		w->buffered += 8;
		break;
	case PQ_BOOLEAN:
		b = v->v.b != 0;
		put(&c->values, &b, 1);
		w->buffered += 1;
		break;
	default:
		if (c->dict_mode) {
			if (append_dict(w, c, v->v.s.ptr, v->v.s.len) == -1)
				return -1;
		} else {
			put(&c->values, &v->v.s.len, 4);
			put(&c->values, v->v.s.ptr, v->v.s.len);
		}
		/* An estimate for strings: dictionary bytes are counted once
		 * per row group, indices as four bytes. */
		w->buffered += 4 + (c->dict_mode ? 0 : v->v.s.len);
		break;
	}
	if (c->values.failed)
		return -1;
	c->nvalues++;
	/* Min and max are computed per row group at flush (see
	 * chunk_min_max), over arrays, not per value here. */
	return 0;
}

size_t
pq_writer_buffered_bytes(const pq_writer *w)
{
	return w->buffered;
}

int
pq_writer_append(pq_writer *w, const pq_value *values, lake_err *err)
{
	for (int i = 0; i < w->schema.ncols; i++) {
		if (values[i].is_null && !w->cols[i].def.nullable) {
			lake_err_set(err, "%s: column %s is required but the "
			    "row has a null", w->path, w->cols[i].def.name);
			return -1;
		}
		if (w->cols[i].def.type == PQ_STRING && !values[i].is_null &&
		    values[i].v.s.ptr == NULL && values[i].v.s.len != 0) {
			lake_err_set(err, "%s: column %s: string without "
			    "bytes", w->path, w->cols[i].def.name);
			return -1;
		}
	}
	for (int i = 0; i < w->schema.ncols; i++) {
		col_buf *c = &w->cols[i];

		if (c->def.nullable) {
			uint8_t d = !values[i].is_null;

			put(&c->defs, &d, 1);
			w->buffered++;
			if (c->defs.failed)
				goto nomem;
		}
		if (values[i].is_null)
			c->rg_stats.null_count++;
		else if (append_value(w, c, &values[i]) == -1)
			goto nomem;
	}
	w->rg_rows++;
	if (w->buffered >= w->opts.row_group_bytes)
		return pq_writer_flush_row_group(w, err);
	return 0;
nomem:
	lake_err_set(err, "%s: out of memory buffering a row", w->path);
	return -1;
}

/* --- flushing a row group ------------------------------------------ */

static int
write_page(pq_writer *w, pq_page_header *h, pq_chunk_out *k, lake_err *err)
{
	if (w->page.failed) {
		lake_err_set(err, "%s: out of memory building a page",
		    w->path);
		return -1;
	}
	if (w->page.len > INT32_MAX) {
		lake_err_set(err, "%s: page too large", w->path);
		return -1;
	}
	if (codec_compress(w->codec, k->codec, w->opts.zstd_level,
	    w->page.data, w->page.len, &w->packed, err) == -1) {
		lake_err_prefix(err, "%s", w->path);
		return -1;
	}
	h->uncompressed_size = (int32_t)w->page.len;
	h->compressed_size = (int32_t)w->packed.len;
	h->has_crc = 1;
	h->crc = pq_page_crc(w->packed.data, w->packed.len);
	w->header.len = 0;
	pq_page_header_encode(&w->header, h);
	if (w->header.failed) {
		lake_err_set(err, "%s: out of memory", w->path);
		return -1;
	}
	k->total_uncompressed += (int64_t)(w->header.len + w->page.len);
	k->total_compressed += (int64_t)(w->header.len + w->packed.len);
	if (out_write(w, w->header.data, w->header.len, err) == -1 ||
	    out_write(w, w->packed.data, w->packed.len, err) == -1)
		return -1;
	return 0;
}

void
pq_pack_booleans(lake_buf *out, const uint8_t *v, size_t n)
{
	size_t nbytes = (n + 7) / 8;
	uint8_t *dst;

	if (lake_buf_reserve(out, nbytes) == -1)
		return;
	dst = out->data + out->len;
	memset(dst, 0, nbytes);
	for (size_t i = 0; i < n; i++)
		dst[i / 8] |= (uint8_t)(v[i] << (i % 8));
	out->len += nbytes;
}

/*
 * A cursor over one column's buffered rows, cut into pages. For each page
 * it yields the row range and the matching range of values (value index
 * and, for PLAIN strings, byte offset).
 */
typedef struct page_cursor {
	int64_t row;
	int64_t value;
	size_t byte;
} page_cursor;

static void
next_page_end(pq_writer *w, const col_buf *c, const page_cursor *from,
    page_cursor *to)
{
	size_t width = pq_value_width(c->def.type);
	size_t budget = w->opts.page_bytes, size = 0;
	const uint8_t *defs = c->defs.data;

	int64_t last = w->rg_rows;

	if (w->opts.page_rows > 0) {	/* aligned: rows decide alone */
		budget = SIZE_MAX;
		if (from->row + w->opts.page_rows < last)
			last = from->row + w->opts.page_rows;
	}
	*to = *from;
	while (to->row < last && size < budget) {
		int present = !c->def.nullable || defs[to->row];

		to->row++;
		if (!present)
			continue;
		if (c->dict_mode)
			size += 4;
		else if (width)
			size += width;
		else {
			uint32_t len;

			memcpy(&len, c->values.data + to->byte, 4);
			size += 4 + (size_t)len;
			to->byte += 4 + (size_t)len;
		}
		to->value++;
	}
}

/* About the bytes the chunk's pages hold before compression. */
static size_t
chunk_raw_bytes(const col_buf *c)
{
	size_t n = c->defs.len / 8 + 8;

	if (c->dict_mode)
		return n + c->dict.len + c->indices.len / 4;
	return n + c->values.len;
}

static int
write_dictionary(pq_writer *w, col_buf *c, pq_chunk_out *k, lake_err *err)
{
	pq_page_header h;

	memset(&h, 0, sizeof(h));
	h.type = PAGE_DICTIONARY;
	h.num_values = (int32_t)c->ndict;
	k->dictionary_page_offset = w->offset;
	w->page.len = 0;
	lake_buf_append(&w->page, c->dict.data, c->dict.len);
	return write_page(w, &h, k, err);
}

/*
 * The min and max of an integer column's values in one page, for its
 * header (other types, and pages of nulls only, get none).
 */
static void
page_int_range(const col_buf *c, const page_cursor *at,
    const page_cursor *end, pq_page_header *h)
{
	const uint8_t *v = c->values.data;
	int64_t mn = INT64_MAX, mx = INT64_MIN;

	if (c->dict_mode || end->value == at->value)
		return;
	for (int64_t i = at->value; i < end->value; i++) {
		int64_t x;

		if (c->def.type == PQ_INT32 || c->def.type == PQ_DATE) {
			int32_t x32;

			memcpy(&x32, v + (size_t)i * 4, 4);
			x = x32;
		} else if (c->def.type == PQ_INT64 ||
		    c->def.type == PQ_TIMESTAMP)
			memcpy(&x, v + (size_t)i * 8, 8);
		else
			return;
		mn = x < mn ? x : mn;
		mx = x > mx ? x : mx;
	}
	h->has_int_range = 1;
	h->int_width = c->def.type == PQ_INT32 || c->def.type == PQ_DATE ?
	    4 : 8;
	h->min_int = mn;
	h->max_int = mx;
}

/*
 * Keeps a data page's place (from its header at `from` to `to`) and its
 * integer range for the page index that close writes.
 */
static int
note_page(pq_chunk_out *k, const pq_page_header *h, int64_t from,
    int64_t to, int64_t first_row)
{
	pq_page_out *pg;

	if (k->npages == k->pages_cap) {
		int cap = k->pages_cap ? k->pages_cap * 2 : 16;
		pq_page_out *p = realloc(k->pages, (size_t)cap * sizeof(*p));

		if (p == NULL)
			return -1;
		k->pages = p;
		k->pages_cap = cap;
	}
	pg = &k->pages[k->npages++];
	pg->loc.offset = from;
	pg->loc.size = (int32_t)(to - from);
	pg->loc.first_row = first_row;
	pg->has_range = h->has_int_range;
	pg->min = h->min_int;
	pg->max = h->max_int;
	return 0;
}

static int
write_chunk(pq_writer *w, col_buf *c, pq_chunk_out *k, lake_err *err)
{
	page_cursor at = { 0, 0, 0 }, end;
	int64_t page_at;
	size_t width = pq_value_width(c->def.type);
	/* Width 0 is legal for a one-entry dictionary, but not every reader
	 * takes it. */
	int bit_width = enc_bit_width(c->ndict > 1 ? c->ndict - 1 : 1);
	int use_dict = c->dict_mode && c->nvalues > 0;

	/*
	 * Aligned pages are for point lookups, which decode a page or two
	 * per column: an integer column's pages are DELTA_BINARY_PACKED and
	 * not compressed. A clustered key or a time then takes a byte or
	 * three a row, less than zstd makes of its PLAIN values, and a page
	 * costs its unpacking instead of a zstd frame's set-up (about
	 * 20,000 instructions, whatever the page's size). A dictionary
	 * column's pages are its bit-packed indices, which zstd barely
	 * shrinks: not compressed either.
	 */
	int use_delta = w->opts.page_rows > 0 && (c->def.type == PQ_INT32 ||
	    c->def.type == PQ_DATE || c->def.type == PQ_INT64 ||
	    c->def.type == PQ_TIMESTAMP);
	int raw = chunk_raw_bytes(c) < SMALL_CHUNK_BYTES || use_delta ||
	    (use_dict && w->opts.page_rows > 0);

	k->dictionary_page_offset = -1;
	k->num_values = w->rg_rows;
	k->codec = raw ? PQ_CODEC_UNCOMPRESSED : w->opts.codec;
	if (use_dict && write_dictionary(w, c, k, err) == -1)
		return -1;
	k->used_dictionary = use_dict;
	k->used_delta = use_delta;
	k->used_plain = !use_dict && !use_delta;
	k->data_page_offset = w->offset;
	if (w->opts.page_rows > 0)
		k->index_width = c->def.type == PQ_INT32 || c->def.type ==
		    PQ_DATE ? 4 : c->def.type == PQ_INT64 || c->def.type ==
		    PQ_TIMESTAMP ? 8 : 0;
	do {
		pq_page_header h;
		size_t lenpos;
		uint32_t n;

		next_page_end(w, c, &at, &end);
		w->page.len = 0;
		if (c->def.nullable) {
			n = 0;
			lake_buf_append(&w->page, &n, 4);
			lenpos = w->page.len;
			enc_rle_u8(&w->page, c->defs.data + at.row,
			    (size_t)(end.row - at.row), 1);
			if (w->page.failed)
				goto nomem;
			n = (uint32_t)(w->page.len - lenpos);
			memcpy(w->page.data + lenpos - 4, &n, 4);
		}
		if (use_dict) {
			uint8_t bw = (uint8_t)bit_width;

			lake_buf_append(&w->page, &bw, 1);
			enc_rle_u32(&w->page,
			    (const uint32_t *)c->indices.data + at.value,
			    (size_t)(end.value - at.value), bit_width);
		} else if (use_delta) {
			enc_delta_encode(&w->page, c->values.data +
			    (size_t)at.value * width,
			    (size_t)(end.value - at.value), (int)width);
		} else if (c->def.type == PQ_BOOLEAN) {
			pq_pack_booleans(&w->page, c->values.data + at.value,
			    (size_t)(end.value - at.value));
		} else if (width) {
			lake_buf_append(&w->page, c->values.data +
			    (size_t)at.value * width,
			    (size_t)(end.value - at.value) * width);
		} else {
			lake_buf_append(&w->page, c->values.data + at.byte,
			    end.byte - at.byte);
		}
		memset(&h, 0, sizeof(h));
		h.type = PAGE_DATA;
		h.num_values = (int32_t)(end.row - at.row);
		h.encoding = use_dict ? ENC_RLE_DICTIONARY : use_delta ?
		    ENC_DELTA_BINARY_PACKED : ENC_PLAIN;
		if (w->opts.page_rows > 0)
			page_int_range(c, &at, &end, &h);
		page_at = w->offset;
		if (write_page(w, &h, k, err) == -1)
			return -1;
		if (w->opts.page_rows > 0 && note_page(k, &h, page_at,
		    w->offset, at.row) == -1)
			goto nomem;
		at = end;
	} while (at.row < w->rg_rows);
	return 0;
nomem:
	lake_err_set(err, "%s: out of memory", w->path);
	return -1;
}

static void
stats_merge(pq_column_stats *into, const pq_column_stats *s, pq_type t,
    int *failed)
{
	into->null_count += s->null_count;
	if (!s->has_min_max)
		return;
	if (stats_add(into, t, &s->min) == -1 ||
	    stats_add(into, t, &s->max) == -1)
		*failed = 1;
}

/*
 * Empties a buffer after its row group is written. Big ones are freed:
 * a lake writer may keep dozens of partition files open, and idle ones
 * must not hold on to the peak size of their last row group.
 */
static void
buf_release(lake_buf *b)
{
	if (b->cap > (64u << 10))
		lake_buf_free(b);
	else
		b->len = 0;
}

static void
col_reset(col_buf *c, const pq_writer_opts *o)
{
	buf_release(&c->values);
	buf_release(&c->defs);
	buf_release(&c->indices);
	buf_release(&c->dict);
	c->ndict = 0;
	c->nvalues = 0;
	if (c->slots != NULL)
		memset(c->slots, 0, c->nslots * sizeof(*c->slots));
	c->dict_mode = c->def.type == PQ_STRING && o->dictionary;
	memset(&c->rg_stats, 0, sizeof(c->rg_stats));
}

/* Min and max of a column's buffered values, into c->rg_stats. */
static int
chunk_min_max(col_buf *c)
{
	const uint8_t *p = c->values.data;
	pq_value v;
	int64_t n = c->nvalues;

	memset(&v, 0, sizeof(v));
	switch (c->def.type) {
	case PQ_INT32:
	case PQ_DATE: {
		int32_t mn = INT32_MAX, mx = INT32_MIN, x;

		for (int64_t i = 0; i < n; i++) {
			memcpy(&x, p + i * 4, 4);
			mn = x < mn ? x : mn;
			mx = x > mx ? x : mx;
		}
		if (n == 0)
			return 0;
		v.v.i32 = mn;
		if (stats_add(&c->rg_stats, c->def.type, &v) == -1)
			return -1;
		v.v.i32 = mx;
		return stats_add(&c->rg_stats, c->def.type, &v);
	}
	case PQ_INT64:
	case PQ_TIMESTAMP: {
		int64_t mn = INT64_MAX, mx = INT64_MIN, x;

		for (int64_t i = 0; i < n; i++) {
			memcpy(&x, p + i * 8, 8);
			mn = x < mn ? x : mn;
			mx = x > mx ? x : mx;
		}
		if (n == 0)
			return 0;
		v.v.i64 = mn;
		if (stats_add(&c->rg_stats, c->def.type, &v) == -1)
			return -1;
		v.v.i64 = mx;
		return stats_add(&c->rg_stats, c->def.type, &v);
	}
	case PQ_DOUBLE:
		for (int64_t i = 0; i < n; i++) {
			memcpy(&v.v.f64, p + i * 8, 8);
			if (stats_add(&c->rg_stats, c->def.type, &v) == -1)
				return -1;
		}
		return 0;
	case PQ_BOOLEAN:
		for (int64_t i = 0; i < n; i++) {
			v.v.b = p[i];
			if (stats_add(&c->rg_stats, c->def.type, &v) == -1)
				return -1;
		}
		return 0;
	default:
		break;
	}
	/* Strings: the dictionary's entries, or every PLAIN value. */
	if (c->dict_mode) {
		for (uint32_t e = 0; e < c->ndict; e++) {
			const uint8_t *q = c->dict.data + c->dict_off[e];

			memcpy(&v.v.s.len, q, 4);
			v.v.s.ptr = (const char *)q + 4;
			if (stats_add(&c->rg_stats, c->def.type, &v) == -1)
				return -1;
		}
		return 0;
	}
	for (size_t off = 0; off < c->values.len;) {
		memcpy(&v.v.s.len, p + off, 4);
		v.v.s.ptr = (const char *)p + off + 4;
		if (stats_add(&c->rg_stats, c->def.type, &v) == -1)
			return -1;
		off += 4 + (size_t)v.v.s.len;
	}
	return 0;
}

/* --- sorting a row group ------------------------------------------ */

/* The sort column's key of each buffered row; nulls sort first. */
static int64_t *
row_keys(const col_buf *c, int64_t nrows)
{
	int64_t *keys = malloc((size_t)(nrows ? nrows : 1) * sizeof(*keys));
	int64_t v = 0;

	if (keys == NULL)
		return NULL;
	for (int64_t r = 0; r < nrows; r++) {
		int32_t x32;

		if (c->def.nullable && !c->defs.data[r]) {
			keys[r] = INT64_MIN;
			continue;
		}
		if (pq_value_width(c->def.type) == 4) {
			memcpy(&x32, c->values.data + (size_t)v * 4, 4);
			keys[r] = x32;
		} else
			memcpy(&keys[r], c->values.data + (size_t)v * 8, 8);
		v++;
	}
	return keys;
}

static int
cmp_row_by_key(const void *pa, const void *pb, void *keys)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	const int64_t *k = keys;

	if (k[a] != k[b])
		return k[a] < k[b] ? -1 : 1;
	return a < b ? -1 : a > b;	/* stable */
}

/* Each value's byte offset in a PLAIN string buffer, and one past. */
static uint32_t *
string_offsets(const col_buf *c)
{
	uint32_t *off = malloc(((size_t)c->nvalues + 1) * sizeof(*off));
	size_t pos = 0;

	if (off == NULL)
		return NULL;
	for (int64_t i = 0; i < c->nvalues; i++) {
		uint32_t len;

		off[i] = (uint32_t)pos;
		memcpy(&len, c->values.data + pos, 4);
		pos += 4 + (size_t)len;
	}
	off[c->nvalues] = (uint32_t)pos;
	return off;
}

/*
 * Rewrites one column's buffers in the order perm gives (perm[i] is the
 * old row of new row i). vidx maps an old row to its value index.
 */
static int
permute_column(col_buf *c, const uint32_t *perm, int64_t nrows,
    uint32_t *vidx)
{
	lake_buf defs = { 0 }, vals = { 0 };
	lake_buf *src = c->dict_mode ? &c->indices : &c->values;
	size_t width = c->dict_mode ? 4 : pq_value_width(c->def.type);
	uint32_t *off = NULL;
	uint32_t v = 0;

	for (int64_t r = 0; r < nrows; r++) {
		vidx[r] = v;
		v += !c->def.nullable || c->defs.data[r];
	}
	if (width == 0 && (off = string_offsets(c)) == NULL)
		return -1;
	if (lake_buf_reserve(&vals, src->len + 1) == -1 ||
	    (c->def.nullable && lake_buf_reserve(&defs, (size_t)nrows) ==
	    -1))
		goto fail;
	for (int64_t i = 0; i < nrows; i++) {
		uint32_t r = perm[i], k = vidx[r];

		if (c->def.nullable) {
			lake_buf_append(&defs, c->defs.data + r, 1);
			if (!c->defs.data[r])
				continue;
		}
		if (width)
			lake_buf_append(&vals, src->data + (size_t)k * width,
			    width);
		else
			lake_buf_append(&vals, c->values.data + off[k],
			    off[k + 1] - off[k]);
	}
	if (vals.failed || defs.failed)
		goto fail;
	free(off);
	lake_buf_free(src);
	*src = vals;
	if (c->def.nullable) {
		lake_buf_free(&c->defs);
		c->defs = defs;
	}
	return 0;
fail:
	free(off);
	lake_buf_free(&vals);
	lake_buf_free(&defs);
	return -1;
}

/*
 * Puts the buffered rows in the order of the sort column (opts.sort):
 * nothing to do when they already are, else a stable sort of the row
 * numbers by key, then every column rewritten in that order. Memory: a
 * second copy of the row group's buffers, one column at a time.
 */
static int
sort_row_group(pq_writer *w)
{
	int64_t n = w->rg_rows, *keys;
	uint32_t *perm = NULL, *vidx = NULL;
	int64_t r;
	int rc = -1;

	if (n > UINT32_MAX ||
	    (keys = row_keys(&w->cols[w->opts.sort_column], n)) == NULL)
		return -1;
	for (r = 1; r < n && keys[r - 1] <= keys[r]; r++)
		;
	if (r >= n) {
		free(keys);
		return 0;
	}
	perm = malloc((size_t)n * sizeof(*perm));
	vidx = malloc((size_t)n * sizeof(*vidx));
	if (perm == NULL || vidx == NULL)
		goto out;
	for (r = 0; r < n; r++)
		perm[r] = (uint32_t)r;
	qsort_r(perm, (size_t)n, sizeof(*perm), cmp_row_by_key, keys);
	for (int i = 0; i < w->schema.ncols; i++)
		if (permute_column(&w->cols[i], perm, n, vidx) == -1)
			goto out;
	rc = 0;
out:
	free(keys);
	free(perm);
	free(vidx);
	return rc;
}

/*
 * Encodes the buffered rows as a row group into the output buffer. The
 * caller writes it out: pq_writer_flush_row_group() at once, close with
 * the footer, so a small file is one write(2).
 */
static int
encode_row_group(pq_writer *w, lake_err *err)
{
	pq_row_group_out *rg;
	int failed = 0;

	if (w->nrgs == w->rgs_cap) {
		int cap = w->rgs_cap ? w->rgs_cap * 2 : 8;
		pq_row_group_out *p = realloc(w->rgs, (size_t)cap *
		    sizeof(*p));

		if (p == NULL)
			goto nomem;
		w->rgs = p;
		w->rgs_cap = cap;
	}
	rg = &w->rgs[w->nrgs];
	memset(rg, 0, sizeof(*rg));
	rg->chunks = calloc((size_t)w->schema.ncols, sizeof(*rg->chunks));
	if (rg->chunks == NULL)
		goto nomem;
	w->nrgs++;
	rg->num_rows = w->rg_rows;
	rg->file_offset = w->offset;
	if (w->opts.sort && sort_row_group(w) == -1)
		goto nomem;
	for (int i = 0; i < w->schema.ncols; i++) {
		col_buf *c = &w->cols[i];
		pq_chunk_out *k = &rg->chunks[i];

		if (chunk_min_max(c) == -1)
			goto nomem;
		if (write_chunk(w, c, k, err) == -1)
			return -1;
		/* The chunk takes the row group's stats; the file merges. */
		k->stats = c->rg_stats;
		stats_merge(&c->file_stats, &c->rg_stats, c->def.type,
		    &failed);
		rg->total_byte_size += k->total_uncompressed;
		rg->total_compressed += k->total_compressed;
		col_reset(c, &w->opts);
	}
	if (failed)
		goto nomem;
	w->total_rows += w->rg_rows;
	w->rg_rows = 0;
	w->buffered = 0;
	return 0;
nomem:
	lake_err_set(err, "%s: out of memory writing a row group", w->path);
	return -1;
}

int
pq_writer_flush_row_group(pq_writer *w, lake_err *err)
{
	if (w->rg_rows == 0)
		return 0;
	if (encode_row_group(w, err) == -1 || out_flush(w, err) == -1 ||
	    out_release(w, err) == -1)
		return -1;
	buf_release(&w->out);
	buf_release(&w->page);
	buf_release(&w->packed);
	/* A compression context is about a megabyte: an idle partition
	 * writer should not keep its own (a shared one stays). */
	if (w->codec != w->opts.shared_ctx) {
		codec_free(w->codec);
		if ((w->codec = codec_new()) == NULL) {
			lake_err_set(err, "%s: out of memory", w->path);
			return -1;
		}
	}
	return 0;
}

/* --- close --------------------------------------------------------- */

static int
copy_file_stats(pq_writer *w, pq_file_stats *stats)
{
	memset(stats, 0, sizeof(*stats));
	stats->num_rows = w->total_rows;
	stats->file_size = w->offset;
	stats->ncols = w->schema.ncols;
	stats->cols = calloc((size_t)w->schema.ncols, sizeof(*stats->cols));
	stats->types = calloc((size_t)w->schema.ncols, sizeof(*stats->types));
	if (stats->cols == NULL || stats->types == NULL)
		return -1;
	for (int i = 0; i < w->schema.ncols; i++)
		stats->types[i] = w->schema.cols[i].type;
	for (int i = 0; i < w->schema.ncols; i++) {
		const pq_column_stats *s = &w->cols[i].file_stats;
		pq_column_stats *d = &stats->cols[i];
		pq_type t = w->schema.cols[i].type;

		d->null_count = s->null_count;
		if (s->has_min_max) {
			if (pq_stats_value_copy(&d->min, &s->min, t) == -1 ||
			    pq_stats_value_copy(&d->max, &s->max, t) == -1)
				return -1;
			d->has_min_max = 1;
		}
	}
	return 0;
}

/*
 * The page index of aligned pages, between the last row group and the
 * footer as the format places it: every integer chunk's ColumnIndex
 * (each page's min and max), then every chunk's OffsetIndex (where each
 * page starts and which row it starts at). A point lookup then reads
 * the key column's bounds and the pages it wants, not whole chunks and
 * their page headers; other engines (Spark, Arrow) use them the same way.
 */
static int
write_page_index(pq_writer *w, lake_err *err)
{
	lake_buf b = { 0 };
	int rc = -1;

	for (int pass = 0; pass < 2; pass++) {
		for (int g = 0; g < w->nrgs; g++) {
			for (int i = 0; i < w->schema.ncols; i++) {
				pq_chunk_out *k = &w->rgs[g].chunks[i];

				if (k->npages == 0 || (pass == 0 &&
				    k->index_width == 0))
					continue;
				b.len = 0;
				if (pass == 0)
					pq_column_index_encode(&b, k);
				else
					pq_offset_index_encode(&b, k);
				if (b.failed || b.len > INT32_MAX) {
					lake_err_set(err, "%s: out of memory",
					    w->path);
					goto out;
				}
				if (pass == 0) {
					k->column_index_offset = w->offset;
					k->column_index_length = (int32_t)b.len;
				} else {
					k->offset_index_offset = w->offset;
					k->offset_index_length = (int32_t)b.len;
				}
				if (out_write(w, b.data, b.len, err) == -1)
					goto out;
			}
		}
	}
	rc = 0;
out:
	lake_buf_free(&b);
	return rc;
}

int
pq_writer_close(pq_writer *w, pq_file_stats *stats, lake_err *err)
{
	char created_by[64];
	lake_buf footer = { 0 };
	uint32_t flen;
	int rc;

	if (w->rg_rows > 0 && encode_row_group(w, err) == -1)
		goto fail;
	if (write_page_index(w, err) == -1)
		goto fail;
	snprintf(created_by, sizeof(created_by),
	    "medallion version %s (build lake)", MEDALLION_VERSION);
	pq_meta_encode(&footer, &w->schema, w->rgs, w->nrgs,
	    w->total_rows, created_by);
	if (footer.failed || footer.len > UINT32_MAX) {
		lake_err_set(err, "%s: cannot build the footer", w->path);
		goto fail;
	}
	flen = (uint32_t)footer.len;
	if (out_write(w, footer.data, footer.len, err) == -1 ||
	    out_write(w, &flen, 4, err) == -1 ||
	    out_write(w, "PAR1", 4, err) == -1 || out_flush(w, err) == -1)
		goto fail;
	/* Without fsync the write-back of a big file starts now, so the
	 * caller's later barrier finds it mostly on disk already; on S3
	 * the file waits for that barrier (lake_out_close). */
	rc = lake_out_close(w->o, w->opts.no_fsync ? LAKE_OUT_LATER :
	    LAKE_OUT_SYNC, err);
	w->o = NULL;
	if (rc == -1)
		goto fail_closed;	/* removed by lake_out_close */
	if (stats != NULL && copy_file_stats(w, stats) == -1) {
		pq_file_stats_free(stats);
		lake_err_set(err, "%s: out of memory", w->path);
		lake_store_delete(w->path, NULL);
		goto fail_closed;
	}
	lake_buf_free(&footer);
	writer_free(w);
	return 0;
fail:
	lake_buf_free(&footer);
	pq_writer_abort(w);
	return -1;
fail_closed:
	lake_buf_free(&footer);
	writer_free(w);
	return -1;
}

void
pq_writer_abort(pq_writer *w)
{
	if (w == NULL)
		return;
	lake_out_abort(w->o);
	w->o = NULL;
	writer_free(w);
}

void
pq_file_stats_free(pq_file_stats *stats)
{
	if (stats == NULL)
		return;
	for (int i = 0; stats->cols != NULL && i < stats->ncols; i++) {
		pq_type t = stats->types != NULL ? stats->types[i] : PQ_INT64;

		pq_column_stats_clear(&stats->cols[i], t);
	}
	free(stats->cols);
	free(stats->types);
	memset(stats, 0, sizeof(*stats));
}
