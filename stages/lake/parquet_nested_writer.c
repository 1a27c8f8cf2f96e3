/*
 * parquet_nested_writer.c - a Parquet writer for nested schemas (structs,
 * maps, lists), as Delta checkpoints need.
 *
 * The caller shreds its records itself: for each leaf of a row it hands
 * over entries of (repetition level, definition level, value), the
 * Dremel encoding that Parquet stores. The writer keeps, per leaf, one
 * byte per level and the PLAIN bytes of the values of the current row
 * group; when the buffered bytes reach row_group_bytes it writes the row
 * group: per leaf one v1 data page ([len][rep levels][len][def levels]
 * [values], compressed together), then drops the buffers. Memory is one
 * row group, whatever the file size.
 *
 * A row costs only the leaves it touches: a leaf that gets no entry in a
 * row (its top-level field is null) is not visited at the row's end.
 * Each leaf counts the rows it has entries for, and the rows it missed
 * are padded with null entries (levels 0) in one memset when it is next
 * touched or when its row group is written. A checkpoint's row is one
 * action, a handful of its 30 leaves, so walking them all per row cost
 * more than the row's own values. close() writes the footer: the
 * schema tree (groups with MAP/LIST annotations), the row groups and
 * each chunk's path_in_schema. No dictionaries and no statistics: the
 * files are read whole, by path, never pruned.
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

/* Parquet's ConvertedType and LogicalType ids for what we annotate. */
enum { CONVERTED_UTF8 = 0, CONVERTED_MAP = 1, CONVERTED_LIST = 3 };
enum { LOGICAL_STRING = 1, LOGICAL_MAP = 2, LOGICAL_LIST = 3 };

/* A chunk smaller than this is stored uncompressed (see parquet_writer.c). */
#define NESTED_SMALL_CHUNK 1024
#define NESTED_MAX_DEPTH 16

typedef struct nested_leaf {
	char *path;		/* dotted, below the root */
	char **parts;		/* path_in_schema */
	int nparts;
	pq_type type;
	int max_def;
	int max_rep;
	lake_buf reps;		/* one byte per entry */
	lake_buf defs;
	lake_buf values;	/* PLAIN; booleans one byte each */
	int64_t nentries;
	int64_t nvalues;
	int64_t rows;		/* rows of the row group with entries here,
				   the current one included once touched */
} nested_leaf;

typedef struct nested_chunk {
	int codec;
	int64_t num_values;	/* levels, nulls included */
	int64_t total_uncompressed;
	int64_t total_compressed;
	int64_t data_page_offset;
} nested_chunk;

typedef struct nested_row_group {
	int64_t num_rows;
	int64_t total_byte_size;
	int64_t file_offset;
	int64_t total_compressed;
	nested_chunk *chunks;	/* one per leaf */
} nested_row_group;

struct pq_nested_writer {
	char *path;
	lake_out *out_file;	/* through the storage seam */
	pq_writer_opts opts;
	pq_node *nodes;		/* names owned */
	int nnodes;
	nested_leaf *leaves;
	int nleaves;
	int *required;		/* leaves that cannot be null (max_def 0) */
	int nrequired;
	int row_leaves;		/* leaves touched in the current row */
	int64_t rg_rows;	/* rows ended in the current row group */
	int64_t total_rows;
	size_t buffered;
	int64_t offset;
	lake_buf page;
	lake_buf packed;
	lake_buf out;
	codec_ctx *codec;
	nested_row_group *rgs;
	int nrgs;
	int rgs_cap;
};

/* --- schema -------------------------------------------------------- */

static void
leaf_free(nested_leaf *l)
{
	free(l->path);
	for (int i = 0; l->parts != NULL && i < l->nparts; i++)
		free(l->parts[i]);
	free(l->parts);
	lake_buf_free(&l->reps);
	lake_buf_free(&l->defs);
	lake_buf_free(&l->values);
}

static void
nested_free(pq_nested_writer *w)
{
	if (w == NULL)
		return;
	for (int i = 0; w->leaves != NULL && i < w->nleaves; i++)
		leaf_free(&w->leaves[i]);
	free(w->leaves);
	free(w->required);
	for (int i = 0; w->nodes != NULL && i < w->nnodes; i++)
		free((char *)w->nodes[i].name);
	free(w->nodes);
	for (int g = 0; g < w->nrgs; g++)
		free(w->rgs[g].chunks);
	free(w->rgs);
	lake_buf_free(&w->page);
	lake_buf_free(&w->packed);
	lake_buf_free(&w->out);
	codec_free(w->codec);
	free(w->path);
	free(w);
}

/* The names on the way down to a leaf, while walking the tree. */
typedef struct schema_walk {
	pq_nested_writer *w;
	int next;			/* node index */
	const char *names[NESTED_MAX_DEPTH];
	lake_err *err;
} schema_walk;

static int
add_leaf(schema_walk *s, const pq_node *n, int depth, int def, int rep)
{
	nested_leaf *l = &s->w->leaves[s->w->nleaves];
	size_t len = 0;

	if (n->type != PQ_STRING && pq_value_width(n->type) == 0) {
		lake_err_set(s->err, "%s: leaf %s: this type cannot be "
		    "written", s->w->path, n->name);
		return -1;
	}
	memset(l, 0, sizeof(*l));
	s->w->nleaves++;
	l->type = n->type;
	l->max_def = def;
	l->max_rep = rep;
	l->nparts = depth + 1;
	if ((l->parts = calloc((size_t)l->nparts, sizeof(char *))) == NULL)
		return -1;
	for (int i = 0; i <= depth; i++) {
		if ((l->parts[i] = strdup(s->names[i])) == NULL)
			return -1;
		len += strlen(s->names[i]) + 1;
	}
	if ((l->path = malloc(len + 1)) == NULL)
		return -1;
	len = 0;
	for (int i = 0; i <= depth; i++) {
		size_t n = strlen(s->names[i]);

		if (i > 0)
			l->path[len++] = '.';
		memcpy(l->path + len, s->names[i], n);
		len += n;
	}
	l->path[len] = '\0';
	return 0;
}

/* Walks nchildren subtrees from s->next, numbering leaves in order. */
static int
walk_schema(schema_walk *s, int nchildren, int depth, int def, int rep)
{
	if (depth >= NESTED_MAX_DEPTH) {
		lake_err_set(s->err, "%s: schema nested deeper than %d",
		    s->w->path, NESTED_MAX_DEPTH);
		return -1;
	}
	for (int c = 0; c < nchildren; c++) {
		const pq_node *n;
		int d = def, r = rep;

		if (s->next >= s->w->nnodes) {
			lake_err_set(s->err, "%s: schema has fewer nodes than "
			    "its groups' nchildren say", s->w->path);
			return -1;
		}
		n = &s->w->nodes[s->next++];
		s->names[depth] = n->name;
		if (n->repetition != PQ_REP_REQUIRED)
			d++;
		if (n->repetition == PQ_REP_REPEATED)
			r++;
		if (d > 255 || r > 255) {
			lake_err_set(s->err, "%s: schema too deep", s->w->path);
			return -1;
		}
		if (n->nchildren > 0) {
			if (walk_schema(s, n->nchildren, depth + 1, d, r) == -1)
				return -1;
		} else if (add_leaf(s, n, depth, d, r) == -1) {
			if (s->err != NULL && s->err->msg[0] == '\0')
				lake_err_set(s->err, "%s: out of memory",
				    s->w->path);
			return -1;
		}
	}
	return 0;
}

static int
copy_schema(pq_nested_writer *w, const pq_node *nodes, int nnodes,
    lake_err *err)
{
	schema_walk s;
	int ntop = 0;

	w->nodes = calloc((size_t)nnodes, sizeof(pq_node));
	w->leaves = calloc((size_t)nnodes, sizeof(nested_leaf));
	if (w->nodes == NULL || w->leaves == NULL)
		goto nomem;
	for (int i = 0; i < nnodes; i++) {
		w->nodes[i] = nodes[i];
		if ((w->nodes[i].name = strdup(nodes[i].name)) == NULL)
			goto nomem;
		w->nnodes++;
	}
	/* The top-level fields: walk subtree by subtree. */
	memset(&s, 0, sizeof(s));
	s.w = w;
	s.err = err;
	if (err != NULL)
		err->msg[0] = '\0';
	while (s.next < nnodes) {
		if (walk_schema(&s, 1, 0, 0, 0) == -1)
			return -1;
		ntop++;
	}
	if (w->nleaves == 0) {
		lake_err_set(err, "%s: a Parquet file needs at least one "
		    "leaf column", w->path);
		return -1;
	}
	if ((w->required = calloc((size_t)w->nleaves, sizeof(int))) == NULL)
		goto nomem;
	for (int i = 0; i < w->nleaves; i++)
		if (w->leaves[i].max_def == 0)
			w->required[w->nrequired++] = i;
	return ntop;
nomem:
	lake_err_set(err, "%s: out of memory", w->path);
	return -1;
}

/* --- open ---------------------------------------------------------- */

pq_nested_writer *
pq_nested_writer_open(const char *path, const pq_node *nodes, int nnodes,
    const pq_writer_opts *opts, lake_err *err)
{
	pq_nested_writer *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		lake_err_set(err, "%s: out of memory", path);
		return NULL;
	}
	if (opts != NULL)
		w->opts = *opts;
	else
		pq_writer_opts_default(&w->opts);
	if ((w->path = strdup(path)) == NULL ||
	    (w->codec = codec_new()) == NULL) {
		lake_err_set(err, "%s: out of memory", path);
		goto fail;
	}
	if (copy_schema(w, nodes, nnodes, err) == -1)
		goto fail;
	if ((w->out_file = lake_out_create(path, 0, err)) == NULL)
		goto fail;
	lake_buf_append(&w->out, "PAR1", 4);
	w->offset = 4;
	if (w->out.failed) {
		lake_err_set(err, "%s: out of memory", path);
		pq_nested_writer_abort(w);
		return NULL;
	}
	return w;
fail:
	nested_free(w);
	return NULL;
}

int
pq_nested_writer_leaf(const pq_nested_writer *w, const char *path)
{
	for (int i = 0; i < w->nleaves; i++)
		if (strcmp(w->leaves[i].path, path) == 0)
			return i;
	return -1;
}

int
pq_nested_writer_max_def(const pq_nested_writer *w, int leaf)
{
	return w->leaves[leaf].max_def;
}

int
pq_nested_writer_max_rep(const pq_nested_writer *w, int leaf)
{
	return w->leaves[leaf].max_rep;
}

/* --- rows ---------------------------------------------------------- */

/* lake_buf_append, inline while the buffer has room: a value or a level
 * of a few bytes is appended per entry. */
static inline void
buf_put(lake_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len >= n && !b->failed) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
	} else
		lake_buf_append(b, p, n);
}

static void
put_value(pq_nested_writer *w, nested_leaf *l, const pq_value *v)
{
	uint8_t b;

	switch (l->type) {
	case PQ_INT32:
	case PQ_DATE:
		buf_put(&l->values, &v->v.i32, 4);
		break;
	case PQ_INT64:
	case PQ_TIMESTAMP:
		buf_put(&l->values, &v->v.i64, 8);
		break;
	case PQ_DOUBLE:
		buf_put(&l->values, &v->v.f64, 8);
		break;
	case PQ_BOOLEAN:
		b = v->v.b != 0;
		buf_put(&l->values, &b, 1);
		break;
	default:
		buf_put(&l->values, &v->v.s.len, 4);
		if (v->v.s.len > 0)
			buf_put(&l->values, v->v.s.ptr, v->v.s.len);
		w->buffered += v->v.s.len;
		break;
	}
	w->buffered += 4;
	l->nvalues++;
}

/* n copies of level byte b at the end of levels. */
static void
append_levels(lake_buf *levels, uint8_t b, size_t n)
{
	if (n == 0 || lake_buf_reserve(levels, n) == -1)
		return;
	memset(levels->data + levels->len, b, n);
	levels->len += n;
}

/*
 * Null entries (levels 0) for the rows of the row group before the
 * current one that l got no entry in: what its top-level field being
 * null is stored as.
 */
static int
pad_leaf(pq_nested_writer *w, nested_leaf *l, lake_err *err)
{
	int64_t missing = w->rg_rows - l->rows;

	if (missing <= 0)
		return 0;
	if (l->max_def == 0) {
		lake_err_set(err, "%s: %s: a value is missing", w->path,
		    l->path);
		return -1;
	}
	if (l->max_rep > 0)
		append_levels(&l->reps, 0, (size_t)missing);
	append_levels(&l->defs, 0, (size_t)missing);
	if (l->reps.failed || l->defs.failed) {
		lake_err_set(err, "%s: out of memory buffering %s", w->path,
		    l->path);
		return -1;
	}
	l->nentries += missing;
	l->rows = w->rg_rows;
	return 0;
}

int
pq_nested_put(pq_nested_writer *w, int leaf, int rep, int def,
    const pq_value *v, lake_err *err)
{
	nested_leaf *l;
	uint8_t r = (uint8_t)rep, d = (uint8_t)def;
	int touched;

	if (leaf < 0 || leaf >= w->nleaves) {
		lake_err_set(err, "%s: no leaf %d", w->path, leaf);
		return -1;
	}
	l = &w->leaves[leaf];
	touched = l->rows > w->rg_rows;
	/* A row's first entry, and only it, is at rep 0. */
	if (rep < 0 || rep > l->max_rep || def < 0 || def > l->max_def ||
	    (rep > 0) != touched) {
		lake_err_set(err, "%s: %s: levels (rep %d, def %d) do not fit "
		    "the schema or the row", w->path, l->path, rep, def);
		return -1;
	}
	if (def == l->max_def && (v == NULL || (l->type == PQ_STRING &&
	    v->v.s.ptr == NULL && v->v.s.len > 0))) {
		lake_err_set(err, "%s: %s: a value is missing", w->path,
		    l->path);
		return -1;
	}
	if (!touched) {
		if (l->rows < w->rg_rows && pad_leaf(w, l, err) == -1)
			return -1;
		l->rows++;
		w->row_leaves++;
	}
	if (l->max_rep > 0)
		buf_put(&l->reps, &r, 1);
	if (l->max_def > 0)
		buf_put(&l->defs, &d, 1);
	if (def == l->max_def)
		put_value(w, l, v);
	w->buffered += 2;
	l->nentries++;
	if (l->reps.failed || l->defs.failed || l->values.failed) {
		lake_err_set(err, "%s: out of memory buffering %s", w->path,
		    l->path);
		return -1;
	}
	return 0;
}

static int flush_row_group(pq_nested_writer *w, lake_err *err);

int
pq_nested_end_row(pq_nested_writer *w, lake_err *err)
{
	/* Only required leaves are looked at: the others are padded when
	 * next touched (pad_leaf), as if their null were written now. */
	for (int i = 0; i < w->nrequired; i++) {
		nested_leaf *l = &w->leaves[w->required[i]];

		if (l->rows <= w->rg_rows) {
			lake_err_set(err, "%s: %s: a value is missing",
			    w->path, l->path);
			return -1;
		}
	}
	/* The two level bytes each untouched leaf's null entry will take. */
	w->buffered += 2 * (size_t)(w->nleaves - w->row_leaves);
	w->row_leaves = 0;
	w->rg_rows++;
	if (w->buffered >= w->opts.row_group_bytes)
		return flush_row_group(w, err);
	return 0;
}

/* --- writing ------------------------------------------------------- */

static int
out_flush(pq_nested_writer *w, lake_err *err)
{
	if (lake_out_write(w->out_file, w->out.data, w->out.len, err) == -1)
		return -1;
	w->out.len = 0;
	return 0;
}

/* Small pieces are gathered in w->out; a page of OUT_DIRECT bytes or more
 * goes out as it is, after what was gathered, rather than copied. */
#define OUT_DIRECT (64u << 10)

static int
out_write(pq_nested_writer *w, const void *p, size_t n, lake_err *err)
{
	if (n >= OUT_DIRECT) {
		if (out_flush(w, err) == -1 ||
		    lake_out_write(w->out_file, p, n, err) == -1)
			return -1;
		w->offset += (int64_t)n;
		return 0;
	}
	lake_buf_append(&w->out, p, n);
	if (w->out.failed) {
		lake_err_set(err, "%s: out of memory", w->path);
		return -1;
	}
	w->offset += (int64_t)n;
	return w->out.len >= (1u << 20) ? out_flush(w, err) : 0;
}

/* Appends [u32 length][RLE levels] to the page, as v1 pages hold them. */
static void
put_levels(lake_buf *page, const lake_buf *levels, int64_t n, int max)
{
	uint32_t len = 0;
	size_t at = page->len;

	lake_buf_append(page, &len, 4);
	enc_rle_u8(page, levels->data, (size_t)n, enc_bit_width(
	    (uint64_t)max));
	if (page->failed)
		return;
	len = (uint32_t)(page->len - at - 4);
	memcpy(page->data + at, &len, 4);
}

/* One v1 data page with every entry of the leaf's row group. */
static int
write_chunk(pq_nested_writer *w, nested_leaf *l, nested_chunk *k,
    lake_err *err)
{
	pq_page_header h;
	lake_buf header = { 0 };
	const lake_buf *body = &w->page;	/* what the page stores */
	int rc = -1;

	w->page.len = 0;
	if (l->max_rep > 0)
		put_levels(&w->page, &l->reps, l->nentries, l->max_rep);
	if (l->max_def > 0)
		put_levels(&w->page, &l->defs, l->nentries, l->max_def);
	if (l->type == PQ_BOOLEAN)
		pq_pack_booleans(&w->page, l->values.data, (size_t)(l->nvalues));
	else
		lake_buf_append(&w->page, l->values.data, l->values.len);
	if (w->page.failed || w->page.len > INT32_MAX ||
	    l->nentries > INT32_MAX) {
		lake_err_set(err, "%s: %s: page too large or out of memory",
		    w->path, l->path);
		return -1;
	}
	k->codec = w->page.len < NESTED_SMALL_CHUNK ? PQ_CODEC_UNCOMPRESSED :
	    (int)w->opts.codec;
	if (k->codec != PQ_CODEC_UNCOMPRESSED) {
		if (codec_compress(w->codec, k->codec, w->opts.zstd_level,
		    w->page.data, w->page.len, &w->packed, err) == -1) {
			lake_err_prefix(err, "%s", w->path);
			return -1;
		}
		body = &w->packed;
	}
	memset(&h, 0, sizeof(h));
	h.type = PAGE_DATA;
	h.num_values = (int32_t)l->nentries;
	h.encoding = ENC_PLAIN;
	h.uncompressed_size = (int32_t)w->page.len;
	h.compressed_size = (int32_t)body->len;
	h.has_crc = 1;
	h.crc = pq_page_crc(body->data, body->len);
	pq_page_header_encode(&header, &h);
	if (header.failed) {
		lake_err_set(err, "%s: out of memory", w->path);
		goto out;
	}
	k->num_values = l->nentries;
	k->data_page_offset = w->offset;
	k->total_uncompressed = (int64_t)(header.len + w->page.len);
	k->total_compressed = (int64_t)(header.len + body->len);
	if (out_write(w, header.data, header.len, err) == -1 ||
	    out_write(w, body->data, body->len, err) == -1)
		goto out;
	rc = 0;
out:
	lake_buf_free(&header);
	return rc;
}

static void
leaf_reset(nested_leaf *l)
{
	lake_buf_free(&l->reps);
	lake_buf_free(&l->defs);
	lake_buf_free(&l->values);
	l->nentries = 0;
	l->nvalues = 0;
	l->rows = 0;
}

static int
flush_row_group(pq_nested_writer *w, lake_err *err)
{
	nested_row_group *rg;

	if (w->row_leaves > 0) {
		lake_err_set(err, "%s: a row group cannot end inside a row",
		    w->path);
		return -1;
	}
	if (w->rg_rows == 0)
		return 0;
	if (w->nrgs == w->rgs_cap) {
		int cap = w->rgs_cap ? w->rgs_cap * 2 : 4;
		nested_row_group *p = realloc(w->rgs, (size_t)cap *
		    sizeof(*p));

		if (p == NULL)
			goto nomem;
		w->rgs = p;
		w->rgs_cap = cap;
	}
	rg = &w->rgs[w->nrgs];
	memset(rg, 0, sizeof(*rg));
	if ((rg->chunks = calloc((size_t)w->nleaves,
	    sizeof(nested_chunk))) == NULL)
		goto nomem;
	w->nrgs++;
	rg->num_rows = w->rg_rows;
	rg->file_offset = w->offset;
	for (int i = 0; i < w->nleaves; i++) {
		if (pad_leaf(w, &w->leaves[i], err) == -1 ||
		    write_chunk(w, &w->leaves[i], &rg->chunks[i], err) == -1)
			return -1;
		rg->total_byte_size += rg->chunks[i].total_uncompressed;
		rg->total_compressed += rg->chunks[i].total_compressed;
		leaf_reset(&w->leaves[i]);
	}
	w->total_rows += w->rg_rows;
	w->rg_rows = 0;
	w->buffered = 0;
	lake_buf_free(&w->page);
	lake_buf_free(&w->packed);
	return out_flush(w, err);
nomem:
	lake_err_set(err, "%s: out of memory writing a row group", w->path);
	return -1;
}

/* --- footer -------------------------------------------------------- */

static void
encode_node(thrift_writer *t, const pq_node *n)
{
	tw_elem_struct_begin(t);
	if (n->nchildren == 0)
		tw_i32(t, 1, pq_physical_type(n->type));
	tw_i32(t, 3, n->repetition);
	tw_string(t, 4, n->name);
	if (n->nchildren > 0)
		tw_i32(t, 5, n->nchildren);
	if (n->nchildren == 0 && n->type == PQ_STRING) {
		tw_i32(t, 6, CONVERTED_UTF8);
		tw_struct_begin(t, 10);
		tw_struct_begin(t, LOGICAL_STRING);
		tw_struct_end(t);
		tw_struct_end(t);
	} else if (n->nchildren > 0 && n->kind != PQ_GROUP_STRUCT) {
		int map = n->kind == PQ_GROUP_MAP;

		tw_i32(t, 6, map ? CONVERTED_MAP : CONVERTED_LIST);
		tw_struct_begin(t, 10);
		tw_struct_begin(t, map ? LOGICAL_MAP : LOGICAL_LIST);
		tw_struct_end(t);
		tw_struct_end(t);
	}
	tw_struct_end(t);
}

static void
encode_chunk_meta(thrift_writer *t, const nested_leaf *l,
    const nested_chunk *k)
{
	tw_elem_struct_begin(t);
	tw_i64(t, 2, k->data_page_offset);
	tw_struct_begin(t, 3);
	tw_i32(t, 1, pq_physical_type(l->type));
	tw_list_begin(t, 2, T_I32, 2);
	tw_elem_i32(t, ENC_PLAIN);
	tw_elem_i32(t, ENC_RLE);
	tw_list_begin(t, 3, T_BINARY, (uint32_t)l->nparts);
	for (int i = 0; i < l->nparts; i++)
		tw_elem_string(t, l->parts[i]);
	tw_i32(t, 4, k->codec);
	tw_i64(t, 5, k->num_values);
	tw_i64(t, 6, k->total_uncompressed);
	tw_i64(t, 7, k->total_compressed);
	tw_i64(t, 9, k->data_page_offset);
	tw_struct_end(t);
	tw_struct_end(t);
}

static void
encode_footer(const pq_nested_writer *w, lake_buf *out, int ntop)
{
	char created_by[64];
	thrift_writer t;

	snprintf(created_by, sizeof(created_by),
	    "medallion version %s (build lake)", MEDALLION_VERSION);
	tw_init(&t, out);
	tw_i32(&t, 1, 1);
	tw_list_begin(&t, 2, T_STRUCT, (uint32_t)w->nnodes + 1);
	tw_elem_struct_begin(&t);
	tw_string(&t, 4, "schema");
	tw_i32(&t, 5, ntop);
	tw_struct_end(&t);
	for (int i = 0; i < w->nnodes; i++)
		encode_node(&t, &w->nodes[i]);
	tw_i64(&t, 3, w->total_rows);
	tw_list_begin(&t, 4, T_STRUCT, (uint32_t)w->nrgs);
	for (int g = 0; g < w->nrgs; g++) {
		const nested_row_group *rg = &w->rgs[g];

		tw_elem_struct_begin(&t);
		tw_list_begin(&t, 1, T_STRUCT, (uint32_t)w->nleaves);
		for (int i = 0; i < w->nleaves; i++)
			encode_chunk_meta(&t, &w->leaves[i], &rg->chunks[i]);
		tw_i64(&t, 2, rg->total_byte_size);
		tw_i64(&t, 3, rg->num_rows);
		tw_i64(&t, 5, rg->file_offset);
		tw_i64(&t, 6, rg->total_compressed);
		tw_struct_end(&t);
	}
	tw_string(&t, 6, created_by);
	tw_end(&t);
}

static int
top_level_count(const pq_nested_writer *w)
{
	int ntop = 0, pending = 0;

	/* Each node closes one pending slot and opens nchildren. */
	for (int i = 0; i < w->nnodes; i++) {
		if (pending == 0)
			ntop++;
		else
			pending--;
		pending += w->nodes[i].nchildren;
	}
	return ntop;
}

int
pq_nested_writer_cut(pq_nested_writer *w, lake_err *err)
{
	return flush_row_group(w, err);
}

int
pq_nested_writer_close(pq_nested_writer *w, lake_err *err)
{
	lake_buf footer = { 0 };
	uint32_t flen;
	int rc;

	if (flush_row_group(w, err) == -1)
		goto fail;
	encode_footer(w, &footer, top_level_count(w));
	if (footer.failed || footer.len > UINT32_MAX) {
		lake_err_set(err, "%s: cannot build the footer", w->path);
		goto fail;
	}
	flen = (uint32_t)footer.len;
	if (out_write(w, footer.data, footer.len, err) == -1 ||
	    out_write(w, &flen, 4, err) == -1 ||
	    out_write(w, "PAR1", 4, err) == -1 || out_flush(w, err) == -1)
		goto fail;
	rc = lake_out_close(w->out_file, w->opts.no_fsync ? LAKE_OUT_LATER :
	    LAKE_OUT_SYNC, err);
	w->out_file = NULL;	/* removed by lake_out_close on failure */
	if (rc == -1)
		goto fail;
	lake_buf_free(&footer);
	nested_free(w);
	return 0;
fail:
	lake_buf_free(&footer);
	pq_nested_writer_abort(w);
	return -1;
}

void
pq_nested_writer_abort(pq_nested_writer *w)
{
	if (w == NULL)
		return;
	lake_out_abort(w->out_file);
	nested_free(w);
}
