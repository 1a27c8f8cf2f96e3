/*
 * delta_optimize.c - compaction: bin-packing a table's small files into
 * files of about a target size, committed with dataChange:false (Delta's
 * OPTIMIZE).
 *
 * Plan: the live files of each partition (those the --where predicate on
 * partition columns keeps) are put in row order, and runs of consecutive
 * files under the target size are cut into bins of at most the target
 * size; a bin of one file is left alone. The tiered policy (automatic
 * maintenance) packs less in the partition that still grows: one bin of
 * the newest files, reaching back to an older file only while that file
 * is at most twice the size of the newer ones already in the bin. The
 * compacted files then shrink geometrically from oldest to newest, like
 * the digits of a counter: about log(partition / new rows) of them, each
 * row rewritten about that many times in all, where packing everything
 * again rewrote the whole partition at every compaction.
 *
 * Row order is the order the stages wrote the rows in, which is version
 * order; a compacted file
 * keeps the order key of its first input in its name
 * (part-optimized.v<key>-<uuid>...), so later compactions put it before
 * files appended after its inputs, and bronze/orders files, written in
 * orderid order, keep tight orderid min/max statistics.
 *
 * Rewrite: each bin's files are streamed one row group at a time into a
 * new Parquet file in the partition's folder (memory: one row group read,
 * one buffered), closed and fsynced. Then one commit removes the inputs
 * and adds the outputs, all dataChange:false, so incremental readers
 * (delta_changes) never see the rows again.
 *
 * Concurrency: the commit is put-if-absent on the snapshot the plan was
 * made from. When another writer took that version, the newest snapshot
 * is read: if every input is still live (an append), the same commit is
 * retried on top of it, since appends never touch our inputs; if any
 * input is gone (another compaction won), nothing is committed, the new
 * files are removed and DELTA_CONFLICT says so. A kill -9 at any point
 * leaves either the commit or only unreferenced files, which vacuum
 * removes.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta_internal.h"
#include "lake.h"
#include "lake_store.h"

#define DEFAULT_TARGET_SIZE (128LL << 20)
#define DEFAULT_MAX_ATTEMPTS 20
#define MAX_WHERE_TERMS 8
#define ORDER_KEY_PREFIX "part-optimized.v"

void
delta_optimize_opts_default(delta_optimize_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->target_size = DEFAULT_TARGET_SIZE;
	o->max_attempts = DEFAULT_MAX_ATTEMPTS;
}

/* --- the --where predicate ------------------------------------------ */

typedef enum where_op { W_EQ, W_NE, W_LT, W_LE, W_GT, W_GE } where_op;

typedef struct where_term {
	int column;		/* index into the partition columns */
	where_op op;
	char value[128];
} where_term;

typedef struct where_pred {
	where_term terms[MAX_WHERE_TERMS];
	int nterms;
} where_pred;

static const char *
skip_spaces(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

static const char *
parse_op(const char *p, where_op *op)
{
	static const struct {
		const char *text;
		where_op op;
	} ops[] = { { ">=", W_GE }, { "<=", W_LE }, { "!=", W_NE },
		{ "<>", W_NE }, { "=", W_EQ }, { ">", W_GT }, { "<", W_LT } };

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strncmp(p, ops[i].text, strlen(ops[i].text)) == 0) {
			*op = ops[i].op;
			return p + strlen(ops[i].text);
		}
	return NULL;
}

/* A quoted ('...' or "...") or bare value (letters, digits, _.:+-);
 * NULL when malformed. */
static const char *
parse_value(const char *p, char *out, size_t len)
{
	char quote = (*p == '\'' || *p == '"') ? *p++ : 0;
	size_t n = 0;

	while (*p != '\0' && (quote ? *p != quote : isalnum((unsigned
	    char)*p) || strchr("_.:+-", *p) != NULL)) {
		if (n + 1 >= len)
			return NULL;
		out[n++] = *p++;
	}
	out[n] = '\0';
	if (quote && *p++ != quote)
		return NULL;
	return n > 0 || quote ? p : NULL;
}

/* One "column op value" term. */
static const char *
parse_term(const char *p, const delta_snapshot *snap, where_term *t,
    lake_err *err)
{
	char name[128];
	size_t n = 0;

	p = skip_spaces(p);
	while (isalnum((unsigned char)*p) || *p == '_')
		if (n + 1 < sizeof(name))
			name[n++] = *p++;
		else
			return NULL;
	name[n] = '\0';
	t->column = -1;
	for (int i = 0; i < snap->npartition_columns; i++)
		if (strcmp(snap->partition_columns[i], name) == 0)
			t->column = i;
	if (n > 0 && t->column < 0) {
		lake_err_set(err, "%s: --where may only name partition columns"
		    "%s%s, not %s", snap->table_dir, snap->npartition_columns ?
		    " such as " : " (the table has none)",
		    snap->npartition_columns ? snap->partition_columns[0] : "",
		    name);
		return NULL;
	}
	if (n == 0 || (p = parse_op(skip_spaces(p), &t->op)) == NULL)
		return NULL;
	return parse_value(skip_spaces(p), t->value, sizeof(t->value));
}

/* "col op value [and col op value]..." */
static int
parse_where(const char *text, const delta_snapshot *snap, where_pred *w,
    lake_err *err)
{
	const char *p = text;

	memset(w, 0, sizeof(*w));
	err->msg[0] = '\0';
	for (;;) {
		if (w->nterms == MAX_WHERE_TERMS)
			goto bad;
		if ((p = parse_term(p, snap, &w->terms[w->nterms++], err)) ==
		    NULL)
			goto bad;
		p = skip_spaces(p);
		if (*p == '\0')
			return 0;
		if (strncasecmp(p, "and", 3) != 0 || !isspace((unsigned
		    char)p[3]))
			goto bad;
		p += 3;
	}
bad:
	if (err->msg[0] == '\0')
		lake_err_set(err, "%s: cannot parse --where '%s': want "
		    "COLUMN OP VALUE [and ...], e.g. 'date >= 2026-11-01', with "
		    "OP one of = != < <= > >=", snap->table_dir, text);
	return -1;
}

/* Partition values compare as text: dates (YYYY-MM-DD) in time order. A
 * null partition matches no term. */
static int
where_matches(const where_pred *w, const delta_file *f)
{
	for (int i = 0; i < w->nterms; i++) {
		const where_term *t = &w->terms[i];
		const char *v = f->partition_values ?
		    f->partition_values[t->column] : NULL;
		int c;

		if (v == NULL)
			return 0;
		c = strcmp(v, t->value);
		if (!((t->op == W_EQ && c == 0) || (t->op == W_NE && c != 0) ||
		    (t->op == W_LT && c < 0) || (t->op == W_LE && c <= 0) ||
		    (t->op == W_GT && c > 0) || (t->op == W_GE && c >= 0)))
			return 0;
	}
	return 1;
}

/* --- planning ------------------------------------------------------- */

/* A live file in row order: its partition, then its order key. */
typedef struct plan_file {
	const delta_file *f;
	int64_t order_key;
} plan_file;

typedef struct bin {
	size_t first, n;	/* a run of plan files */
	int64_t bytes;
	char *rel_path;		/* the compacted file, once written */
	int64_t size;
	pq_file_stats stats;
	int written;
} bin;

typedef struct plan {
	const delta_snapshot *snap;
	plan_file *files;
	size_t nfiles;
	bin *bins;
	size_t nbins, cap;
	int npartitions;
	size_t row_group_bytes;	/* of the outputs; 0: the lake writer's */
	const char *sort_by;	/* the merge's column, or NULL */
	int page_rows;		/* of the outputs; 0: by bytes */
} plan;

/* The version a file's rows were first written in: a compacted file's
 * name carries its first input's, any other file was added with them. */
static int64_t
order_key(const delta_file *f)
{
	const char *base = strrchr(f->path, '/');
	char *end;
	long long v;

	base = base ? base + 1 : f->path;
	if (strncmp(base, ORDER_KEY_PREFIX, strlen(ORDER_KEY_PREFIX)) != 0)
		return f->added_in_version;
	v = strtoll(base + strlen(ORDER_KEY_PREFIX), &end, 10);
	return *end == '-' && v >= 0 ? v : f->added_in_version;
}

static int
cmp_partition(const delta_file *a, const delta_file *b, int npcols)
{
	for (int i = 0; i < npcols; i++) {
		const char *x = a->partition_values ? a->partition_values[i] :
		    NULL;
		const char *y = b->partition_values ? b->partition_values[i] :
		    NULL;

		if (x == NULL || y == NULL) {
			if (x != y)
				return x == NULL ? -1 : 1;
			continue;
		}
		if (strcmp(x, y) != 0)
			return strcmp(x, y);
	}
	return 0;
}

static int
cmp_plan_file(const void *pa, const void *pb, void *npcols)
{
	const plan_file *a = pa, *b = pb;
	int c = cmp_partition(a->f, b->f, *(const int *)npcols);

	if (c != 0)
		return c;
	if (a->order_key != b->order_key)
		return a->order_key < b->order_key ? -1 : 1;
	return strcmp(a->f->path, b->f->path);
}

static int
plan_add_bin(plan *p, size_t first, size_t n, int64_t bytes)
{
	if (p->nbins == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		bin *nb = realloc(p->bins, cap * sizeof(*nb));

		if (nb == NULL)
			return -1;
		p->bins = nb;
		p->cap = cap;
	}
	memset(&p->bins[p->nbins], 0, sizeof(bin));
	p->bins[p->nbins].first = first;
	p->bins[p->nbins].n = n;
	p->bins[p->nbins].bytes = bytes;
	p->nbins++;
	return 0;
}

/*
 * The tiered bin of a growing partition's files [a, b): the newest files
 * under the target, back to the first older one that is more than twice
 * as large as all the newer ones together (twice: appends of about the
 * same size join), at most the target in all.
 */
static int
plan_newest(plan *p, size_t a, size_t b, const delta_optimize_opts *o)
{
	size_t start = b;
	int64_t bytes = 0;

	while (start > a) {
		int64_t size = p->files[start - 1].f->size;

		if (size >= o->target_size || bytes + size > o->target_size ||
		    (bytes > 0 && size > 2 * bytes))
			break;
		bytes += size;
		start--;
	}
	if (b - start < 2)
		return 0;
	if (plan_add_bin(p, start, b - start, bytes) == -1)
		return -1;
	p->npartitions++;
	return 0;
}

/*
 * Cuts the partition's files [a, b) into bins: consecutive files under
 * the target, at most the target together; a file at or over the target
 * ends a run, so no output spans it. last: the partition is the last one
 * (for the tiered policy, the one still growing).
 */
static int
plan_partition(plan *p, size_t a, size_t b, int last,
    const delta_optimize_opts *o)
{
	size_t start = a, small = 0;
	int64_t bytes = 0, small_size = o->small_size > 0 ? o->small_size :
	    o->target_size / 4;
	size_t nbins_before = p->nbins;

	for (size_t i = a; i < b; i++)
		small += p->files[i].f->size < small_size;
	if (o->tiered && !last) {
		if (small < 2)
			return 0;
	} else if (o->min_small_files > 0 &&
	    small <= (size_t)o->min_small_files)
		return 0;
	if (o->tiered && last)
		return plan_newest(p, a, b, o);
	for (size_t i = a; i <= b; i++) {
		int64_t size = i < b ? p->files[i].f->size : 0;
		int fits = i < b && size < o->target_size;

		if (fits && (bytes == 0 || bytes + size <= o->target_size)) {
			bytes += size;
			continue;
		}
		if (i - start >= 2 && plan_add_bin(p, start, i - start,
		    bytes) == -1)
			return -1;
		start = fits ? i : i + 1;
		bytes = fits ? size : 0;
	}
	p->npartitions += p->nbins > nbins_before;
	return 0;
}

static void
plan_free(plan *p)
{
	for (size_t i = 0; i < p->nbins; i++) {
		bin *bn = &p->bins[i];

		if (bn->written && bn->rel_path != NULL) {
			char path[4096];

			if (snprintf(path, sizeof(path), "%s/%s",
			    p->snap->table_dir, bn->rel_path) <
			    (int)sizeof(path))
				lake_store_delete(path, NULL);
		}
		free(bn->rel_path);
		pq_file_stats_free(&bn->stats);
	}
	free(p->bins);
	free(p->files);
	memset(p, 0, sizeof(*p));
}

static int
plan_make(plan *p, const delta_snapshot *snap, const delta_optimize_opts *o,
    lake_err *err)
{
	where_pred w;

	memset(p, 0, sizeof(*p));
	p->snap = snap;
	p->row_group_bytes = o->row_group_bytes;
	p->sort_by = o->sort_by;
	p->page_rows = o->page_rows;
	if (o->where != NULL && *o->where != '\0' && parse_where(o->where,
	    snap, &w, err) == -1)
		return -1;
	if ((p->files = calloc(snap->nfiles + 1, sizeof(plan_file))) == NULL)
		goto nomem;
	for (size_t i = 0; i < snap->nfiles; i++)
		if (o->where == NULL || *o->where == '\0' ||
		    where_matches(&w, &snap->files[i])) {
			p->files[p->nfiles].f = &snap->files[i];
			p->files[p->nfiles++].order_key = order_key(
			    &snap->files[i]);
		}
	qsort_r(p->files, p->nfiles, sizeof(plan_file), cmp_plan_file,
	    (void *)&snap->npartition_columns);
	for (size_t a = 0, b; a < p->nfiles; a = b) {
		for (b = a + 1; b < p->nfiles && cmp_partition(p->files[a].f,
		    p->files[b].f, snap->npartition_columns) == 0; b++)
			;
		if (plan_partition(p, a, b, b == p->nfiles, o) == -1)
			goto nomem;
	}
	return 0;
nomem:
	lake_err_set(err, "%s: out of memory planning compaction",
	    snap->table_dir);
	plan_free(p);
	return -1;
}

int
delta_optimize_due(const delta_snapshot *snap, const delta_optimize_opts *o,
    lake_err *err)
{
	lake_err ignored;
	plan p;
	int n;

	if (err == NULL)
		err = &ignored;

	if (plan_make(&p, snap, o, err) == -1)
		return -1;
	n = p.npartitions;
	plan_free(&p);
	return n;
}

/* --- rewriting ------------------------------------------------------ */

/* The data columns (partition columns live in folder names). */
static int
data_schema(const delta_snapshot *snap, pq_schema *out, const char ***names,
    lake_err *err)
{
	out->cols = calloc((size_t)snap->schema.ncols + 1,
	    sizeof(pq_column_def));
	*names = calloc((size_t)snap->schema.ncols + 1, sizeof(char *));
	out->ncols = 0;
	if (out->cols == NULL || *names == NULL) {
		lake_err_set(err, "%s: out of memory", snap->table_dir);
		return -1;
	}
	for (int i = 0; i < snap->schema.ncols; i++) {
		const pq_column_def *d = &snap->schema.cols[i];
		int is_partition = 0;

		for (int k = 0; k < snap->npartition_columns; k++)
			is_partition |= strcmp(d->name,
			    snap->partition_columns[k]) == 0;
		if (is_partition)
			continue;
		if (d->type > PQ_TIMESTAMP) {
			lake_err_set(err, "%s: column %s has a type this "
			    "library reads but does not write; cannot compact "
			    "the table", snap->table_dir, d->name);
			return -1;
		}
		(*names)[out->ncols] = d->name;
		out->cols[out->ncols++] = *d;
	}
	return 0;
}

typedef struct copy_ctx {
	pq_writer *w;
	const pq_schema *schema;
	pq_value *row;
	lake_err *err;
} copy_ctx;

/* Row i of a batch as values (strings point into the batch). */
static void
batch_row(const pq_batch *b, int64_t i, const pq_schema *schema,
    pq_value *row)
{
	for (int c = 0; c < b->ncols; c++) {
		const pq_column_batch *cb = &b->cols[c];
		pq_value *v = &row[c];

		memset(v, 0, sizeof(*v));
		if (cb->nulls && cb->nulls[i]) {
			v->is_null = 1;
			continue;
		}
		switch (schema->cols[c].type) {
		case PQ_INT32:
		case PQ_DATE:
			v->v.i32 = cb->v.i32[i];
			break;
		case PQ_INT64:
		case PQ_TIMESTAMP:
			v->v.i64 = cb->v.i64[i];
			break;
		case PQ_DOUBLE:
			v->v.f64 = cb->v.f64[i];
			break;
		case PQ_BOOLEAN:
			v->v.b = cb->v.b[i];
			break;
		default:	/* PQ_STRING */
			v->v.s.ptr = cb->data + cb->offsets[i];
			v->v.s.len = cb->offsets[i + 1] - cb->offsets[i];
			break;
		}
	}
}

static int
copy_batch(const pq_batch *b, const delta_file *f, void *arg)
{
	copy_ctx *cc = arg;

	for (int64_t i = 0; i < b->nrows; i++) {
		batch_row(b, i, cc->schema, cc->row);
		if (pq_writer_append(cc->w, cc->row, cc->err) == -1) {
			lake_err_prefix(cc->err, "rewriting %s", f->path);
			return -1;
		}
	}
	return 0;
}

/* "<dir of first input>/part-optimized.v<key>-<uuid>.c000.zstd.parquet" */
static char *
bin_rel_path(const plan *p, const bin *bn)
{
	const plan_file *first = &p->files[bn->first];
	const char *slash = strrchr(first->f->path, '/');
	int dirlen = slash ? (int)(slash - first->f->path) + 1 : 0;
	char uuid[37], *path;

	delta_uuid(uuid);
	if (asprintf(&path, "%.*s" ORDER_KEY_PREFIX "%" PRId64 "-%s.c000.zstd"
	    ".parquet", dirlen, first->f->path, first->order_key, uuid) == -1)
		return NULL;
	return path;
}

/* --- merging sorted inputs ----------------------------------------- */

/* One input of a merge: its reader, its current row group, a cursor. */
typedef struct merge_input {
	pq_reader *r;
	pq_batch batch;
	int next_rg;
	int64_t row;
	int64_t last_key;
	int done;
} merge_input;

static int64_t
merge_key(const merge_input *in, int key)
{
	const pq_column_batch *c = &in->batch.cols[key];

	if (c->nulls && c->nulls[in->row])
		return INT64_MIN;
	return c->type == PQ_INT32 ? c->v.i32[in->row] : c->v.i64[in->row];
}

/* Moves to the next row, reading row groups as needed. */
static int
merge_advance(merge_input *in, const int *proj, int ncols, lake_err *err)
{
	in->row++;
	while (in->row >= in->batch.nrows) {
		if (in->next_rg >= pq_reader_num_row_groups(in->r)) {
			in->done = 1;
			return 0;
		}
		if (pq_reader_read_row_group(in->r, in->next_rg++, proj, ncols,
		    &in->batch, err) == -1)
			return -1;
		in->row = 0;
	}
	return 0;
}

static void
merge_inputs_free(merge_input *in, size_t n)
{
	for (size_t i = 0; in != NULL && i < n; i++) {
		pq_batch_free(&in[i].batch);
		pq_reader_close(in[i].r);
	}
	free(in);
}

/* Opens the bin's inputs, each at its first row. */
static merge_input *
merge_open(const plan *p, const bin *bn, const pq_schema *schema,
    const char *const *names, int *proj, lake_err *err)
{
	const char *table = p->snap->table_dir;
	merge_input *in = calloc(bn->n, sizeof(*in));
	char path[4096];

	if (in == NULL) {
		lake_err_set(err, "%s: out of memory", table);
		return NULL;
	}
	for (size_t i = 0; i < bn->n; i++) {
		const delta_file *f = p->files[bn->first + i].f;

		snprintf(path, sizeof(path), "%s/%s", table, f->path);
		if ((in[i].r = pq_reader_open(path, err)) == NULL)
			goto fail;
		for (int c = 0; c < schema->ncols; c++)
			if ((proj[c] = pq_reader_column_index(in[i].r,
			    names[c])) < 0) {
				lake_err_set(err, "%s: no column %s", path,
				    names[c]);
				goto fail;
			}
		in[i].row = -1;
		in[i].last_key = INT64_MIN;
		if (merge_advance(&in[i], proj, schema->ncols, err) == -1)
			goto fail;
	}
	return in;
fail:
	lake_err_prefix(err, "merging");
	merge_inputs_free(in, bn->n);
	return NULL;
}

/*
 * Writes the bin's rows in the order of column key, merging its inputs:
 * each step appends the smallest current row (the earliest input on a
 * tie). Returns 0, -1 on error, or 1 when an input turns out not to be
 * in order (then the file written so far must be discarded).
 */
static int
merge_bin(const plan *p, const bin *bn, const pq_schema *schema,
    const char *const *names, int key, copy_ctx *cc, lake_err *err)
{
	int proj[64];
	merge_input *in;
	int rc = -1;

	if (schema->ncols > 64) {
		lake_err_set(err, "%s: too many columns to merge",
		    p->snap->table_dir);
		return -1;
	}
	if ((in = merge_open(p, bn, schema, names, proj, err)) == NULL)
		return -1;
	for (;;) {
		merge_input *best = NULL;
		int64_t best_key = 0;

		for (size_t i = 0; i < bn->n; i++) {
			int64_t k;

			if (in[i].done)
				continue;
			k = merge_key(&in[i], key);
			if (k < in[i].last_key) {
				rc = 1;		/* not sorted */
				goto out;
			}
			in[i].last_key = k;
			if (best == NULL || k < best_key) {
				best = &in[i];
				best_key = k;
			}
		}
		if (best == NULL)
			break;
		batch_row(&best->batch, best->row, schema, cc->row);
		if (pq_writer_append(cc->w, cc->row, err) == -1 ||
		    merge_advance(best, proj, schema->ncols, err) == -1)
			goto out;
	}
	rc = 0;
out:
	merge_inputs_free(in, bn->n);
	return rc;
}

/* The index of the bin's sort column in schema, or -1 for none. */
static int
sort_key_index(const char *sort_by, const pq_schema *schema)
{
	if (sort_by == NULL)
		return -1;
	for (int c = 0; c < schema->ncols; c++)
		if (strcmp(schema->cols[c].name, sort_by) == 0 &&
		    (schema->cols[c].type == PQ_INT32 ||
		    schema->cols[c].type == PQ_INT64))
			return c;
	return -1;
}

/* Streams the bin's input files into one new file, closed and fsynced. */
static int
write_bin(const plan *p, bin *bn, const pq_schema *schema,
    const char *const *names, lake_err *err)
{
	const char *table = p->snap->table_dir;
	delta_file *inputs = NULL;
	lake_writer_opts lw;
	pq_writer_opts wo;
	copy_ctx cc = { 0 };
	char path[4096];
	int key = sort_key_index(p->sort_by, schema), merged = 1, rc = -1;

	if ((bn->rel_path = bin_rel_path(p, bn)) == NULL ||
	    (inputs = calloc(bn->n, sizeof(*inputs))) == NULL ||
	    (cc.row = calloc((size_t)schema->ncols + 1, sizeof(pq_value))) ==
	    NULL) {
		lake_err_set(err, "%s: out of memory", table);
		goto out;
	}
	if (snprintf(path, sizeof(path), "%s/%s", table, bn->rel_path) >=
	    (int)sizeof(path)) {
		lake_err_set(err, "%s/%s: path too long", table, bn->rel_path);
		goto out;
	}
	for (size_t i = 0; i < bn->n; i++)
		inputs[i] = *p->files[bn->first + i].f;	/* shallow */
	lake_writer_opts_default(&lw);
	/* The stages' file layout (lake_writer.c), not the bare Parquet
	 * writer's 64 MiB row groups and 1 MiB pages, unless asked. */
	wo = lw.parquet;
	if (p->row_group_bytes > 0)
		wo.row_group_bytes = p->row_group_bytes;
	wo.page_rows = p->page_rows;
	if ((cc.w = pq_writer_open(path, schema, &wo, err)) == NULL)
		goto out;
	bn->written = 1;	/* plan_free removes it unless committed */
	cc.schema = schema;
	cc.err = err;
	if (key >= 0 && (merged = merge_bin(p, bn, schema, names, key, &cc,
	    err)) != 1) {
		if (merged == -1) {
			pq_writer_abort(cc.w);
			goto out;
		}
	} else {
		if (key >= 0) {	/* an input out of order: input order */
			pq_writer_abort(cc.w);
			if ((cc.w = pq_writer_open(path, schema, &wo, err)) ==
			    NULL)
				goto out;
		}
		if (lake_scan(table, inputs, bn->n, names, schema->ncols,
		    copy_batch, &cc, err) == -1) {
			pq_writer_abort(cc.w);
			goto out;
		}
	}
	rc = pq_writer_close(cc.w, &bn->stats, err);
	bn->size = bn->stats.file_size;
out:
	free(cc.row);
	free(inputs);
	return rc;
}

static int
write_bins(plan *p, delta_optimize_result *res, lake_err *err)
{
	pq_schema schema = { 0 };
	const char **names = NULL;
	int rc = -1;

	if (data_schema(p->snap, &schema, &names, err) == -1)
		goto out;
	for (size_t i = 0; i < p->nbins; i++) {
		if (write_bin(p, &p->bins[i], &schema, names, err) == -1)
			goto out;
		res->files_removed += (int64_t)p->bins[i].n;
		res->files_added++;
		res->bytes_removed += p->bins[i].bytes;
		res->bytes_added += p->bins[i].size;
		res->rows += p->bins[i].stats.num_rows;
	}
	res->partitions = p->npartitions;
	rc = 0;
out:
	free(schema.cols);
	free(names);
	return rc;
}

/* --- committing ----------------------------------------------------- */

static int
cmp_live_path(const void *key, const void *elem)
{
	return strcmp((const char *)key, ((const delta_file *)elem)->path);
}

/* Whether every input of the plan is live in snap. */
static int
inputs_live(const plan *p, const delta_snapshot *snap)
{
	for (size_t i = 0; i < p->nbins; i++)
		for (size_t k = 0; k < p->bins[i].n; k++)
			if (snap->nfiles == 0 || bsearch(p->files[
			    p->bins[i].first + k].f->path, snap->files,
			    snap->nfiles, sizeof(delta_file),
			    cmp_live_path) == NULL)
				return 0;
	return 1;
}

static char *
commit_info_json(const delta_optimize_opts *o,
    const delta_optimize_result *res)
{
	json_t *info = json_pack("{s:b, s:{s:s, s:I}, s:{s:I, s:I, s:I, "
	    "s:I, s:I, s:I}}", "isBlindAppend", 0, "operationParameters",
	    "predicate", o->where ? o->where : "", "targetSize",
	    (json_int_t)o->target_size, "operationMetrics", "numRemovedFiles",
	    (json_int_t)res->files_removed, "numAddedFiles",
	    (json_int_t)res->files_added, "numFiles",
	    (json_int_t)res->files_added, "numOutputRows",
	    (json_int_t)res->rows, "numRemovedBytes",
	    (json_int_t)res->bytes_removed, "numAddedBytes",
	    (json_int_t)res->bytes_added);
	char *text = info ? json_dumps(info, JSON_COMPACT) : NULL;

	json_decref(info);
	return text;
}

/* One attempt to commit the plan on top of base. */
static int
commit_on(const plan *p, const delta_snapshot *base, const char *info,
    int64_t *version, lake_err *err)
{
	delta_commit *c = delta_commit_begin(base->table_dir, base);
	int rc = DELTA_ERROR;

	if (c == NULL) {
		lake_err_set(err, "%s: out of memory", base->table_dir);
		return DELTA_ERROR;
	}
	delta_commit_set_rearrange_only(c);
	for (size_t i = 0; i < p->nbins; i++) {
		const bin *bn = &p->bins[i];
		const delta_file *first = p->files[bn->first].f;

		for (size_t k = 0; k < bn->n; k++)
			if (delta_commit_remove(c, p->files[bn->first +
			    k].f->path, err) == -1)
				goto out;
		if (delta_commit_add(c, bn->rel_path, (const char *const *)
		    first->partition_values, bn->size, &bn->stats, err) == -1)
			goto out;
	}
	if (delta_commit_set_info(c, "OPTIMIZE", info, err) == -1)
		goto out;
	rc = delta_commit_finish(c, version, err);
out:
	delta_commit_free(c);
	return rc;
}

/*
 * Commits on the plan's snapshot, and on a conflict on the newest one
 * while every input is still live. DELTA_CONFLICT when one is not.
 */
static int
commit_plan(const plan *p, const delta_optimize_opts *o, const char *info,
    int64_t *version, lake_err *err)
{
	const delta_snapshot *base = p->snap;
	delta_snapshot *newer = NULL;
	int rc = DELTA_ERROR;

	for (int attempt = 1; attempt <= o->max_attempts; attempt++) {
		rc = commit_on(p, base, info, version, err);
		if (rc != DELTA_CONFLICT)
			break;
		delta_snapshot_free(newer);
		newer = NULL;
		if ((rc = delta_snapshot_load(p->snap->table_dir, -1, &newer,
		    err)) != DELTA_OK) {
			rc = DELTA_ERROR;
			break;
		}
		if (!inputs_live(p, newer)) {
			lake_err_set(err, "%s: gave up: another writer removed "
			    "some of the files being compacted (version %" PRId64
			    "); nothing committed, run optimize again to compact "
			    "what is left", p->snap->table_dir, newer->version);
			rc = DELTA_CONFLICT;
			break;
		}
		base = newer;
		rc = DELTA_CONFLICT;
	}
	if (rc == DELTA_CONFLICT && err->msg[0] == '\0')
		lake_err_set(err, "%s: gave up after %d commit attempts lost to "
		    "other writers", p->snap->table_dir, o->max_attempts);
	delta_snapshot_free(newer);
	return rc;
}

int
delta_optimize_snapshot(const delta_snapshot *snap,
    const delta_optimize_opts *opts, delta_optimize_result *res,
    lake_err *err)
{
	delta_optimize_opts o = *opts;
	lake_err ignored;
	plan p;
	char *info = NULL;
	int rc = DELTA_ERROR;

	if (err == NULL)
		err = &ignored;
	memset(res, 0, sizeof(*res));
	res->version = -1;
	if (o.target_size <= 0)
		o.target_size = DEFAULT_TARGET_SIZE;
	if (o.max_attempts <= 0)
		o.max_attempts = DEFAULT_MAX_ATTEMPTS;
	if (plan_make(&p, snap, &o, err) == -1)
		return DELTA_ERROR;
	if (p.nbins == 0) {
		plan_free(&p);
		return DELTA_OK;
	}
	if (write_bins(&p, res, err) == -1)
		goto out;
	if ((info = commit_info_json(&o, res)) == NULL) {
		lake_err_set(err, "%s: out of memory", snap->table_dir);
		goto out;
	}
	err->msg[0] = '\0';
	if ((rc = commit_plan(&p, &o, info, &res->version, err)) == DELTA_OK)
		for (size_t i = 0; i < p.nbins; i++)
			p.bins[i].written = 0;	/* committed: keep them */
out:
	if (rc != DELTA_OK) {
		res->files_removed = res->files_added = res->rows = 0;
		res->bytes_removed = res->bytes_added = 0;
		res->version = -1;
	}
	free(info);
	plan_free(&p);
	return rc;
}

int
delta_optimize(const char *table_dir, const delta_optimize_opts *opts,
    delta_optimize_result *res, lake_err *err)
{
	delta_snapshot *snap;
	int rc;

	memset(res, 0, sizeof(*res));
	res->version = -1;
	if ((rc = delta_snapshot_load(table_dir, -1, &snap, err)) != DELTA_OK)
		return rc;
	rc = delta_optimize_snapshot(snap, opts, res, err);
	delta_snapshot_free(snap);
	return rc;
}
