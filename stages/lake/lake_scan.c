/*
 * lake_scan.c - streaming the rows of a table's data files, column
 * projected, one row group at a time. Memory is one row group of the
 * projected columns; the batch's arrays are reused from one row group to
 * the next. A range on an integer column skips the row groups whose
 * footer statistics rule it out, so a lookup of a few recent ids in a
 * large file reads only the row groups that may hold them; with a
 * sorted set of keys, only the files and row groups whose statistics
 * hold one of the keys and, in files written with aligned pages, only
 * the pages whose header statistics do (a batch may then hold part of a
 * row group). Files are opened relative to the table's folder, opened
 * once. On an object store the files are read ahead a window at a time
 * (lake_store_prefetch: many GETs in flight), since opening them one
 * after another would cost a round trip each.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "codec.h"
#include "lake.h"
#include "lake_store.h"

/* Whether values in [mn, mx] may include one the lookup wants. */
static int
span_wanted(int64_t mn, int64_t mx, const lake_lookup *lk)
{
	if (mx < lk->range.lo || mn > lk->range.hi)
		return 0;
	return lk->keys == NULL || pq_keys_overlap(lk->keys, lk->nkeys, mn,
	    mx);
}

delta_file *
lake_files_for_lookup(const delta_snapshot *snap, const lake_lookup *lookup,
    size_t *n)
{
	delta_file *out = calloc(snap->nfiles + 1, sizeof(delta_file));

	*n = 0;
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < snap->nfiles; i++) {
		int64_t lo, hi;

		if (delta_file_int_range(&snap->files[i], lookup->range.column,
		    &lo, &hi) && !span_wanted(lo, hi, lookup))
			continue;
		out[(*n)++] = snap->files[i];	/* borrowed */
	}
	return out;
}

/* Whether row group g may hold a value of the range's column in range. */
static int
row_group_wanted(const pq_reader *r, int g, int col, const lake_lookup *lk)
{
	const pq_column_stats *st;
	int64_t mn, mx;

	if (col < 0 || (st = pq_reader_row_group_stats(r, g, col)) == NULL ||
	    !st->has_min_max)
		return 1;
	switch (pq_reader_schema(r)->cols[col].type) {
	case PQ_INT32:
		mn = st->min.v.i32;
		mx = st->max.v.i32;
		break;
	case PQ_INT64:
		mn = st->min.v.i64;
		mx = st->max.v.i64;
		break;
	default:
		return 1;
	}
	return span_wanted(mn, mx, lk);
}

/*
 * Row group g, or with a set of keys only the pages of it that may hold
 * one (pq_reader_read_row_group_keys: files with aligned pages).
 */
static int
read_group(pq_reader *r, int g, const int *proj, int ncols, int key_col,
    const lake_lookup *lk, pq_batch *batch, lake_err *err)
{
	if (lk == NULL || lk->keys == NULL || key_col < 0)
		return pq_reader_read_row_group(r, g, proj, ncols, batch, err);
	return pq_reader_read_row_group_keys(r, g, proj, ncols, key_col,
	    lk->keys, lk->nkeys, batch, err);
}

/*
 * Reads ahead the files from first on: as many as one prefetch window
 * takes (lake_store_prefetch). Returns the index past the window.
 */
static size_t
prefetch_from(const char *table_dir, const delta_file *files, size_t nfiles,
    size_t first)
{
	char *names[LAKE_PREFETCH_FILES];
	int64_t sizes[LAKE_PREFETCH_FILES];
	size_t n = 0, took;

	for (; n < LAKE_PREFETCH_FILES && first + n < nfiles; n++) {
		const delta_file *f = &files[first + n];

		if (asprintf(&names[n], "%s/%s", table_dir, f->path) < 0)
			break;
		sizes[n] = f->size > 0 ? f->size : -1;
	}
	took = lake_store_prefetch((const char *const *)names, sizes, n);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return first + (took > 0 ? took : 1);
}

int
lake_scan(const char *table_dir, const delta_file *files, size_t nfiles,
    const char *const *columns, int ncols,
    int (*cb)(const pq_batch *b, const delta_file *f, void *arg), void *arg,
    lake_err *err)
{
	return lake_scan_range(table_dir, files, nfiles, columns, ncols, NULL,
	    cb, arg, err);
}

int
lake_scan_range(const char *table_dir, const delta_file *files,
    size_t nfiles, const char *const *columns, int ncols,
    const lake_range *range,
    int (*cb)(const pq_batch *b, const delta_file *f, void *arg), void *arg,
    lake_err *err)
{
	lake_lookup lookup = { { NULL, 0, 0 }, NULL, 0 };

	if (range != NULL)
		lookup.range = *range;
	return lake_scan_lookup(table_dir, files, nfiles, columns, ncols,
	    range != NULL ? &lookup : NULL, cb, arg, err);
}

int
lake_scan_lookup(const char *table_dir, const delta_file *files,
    size_t nfiles, const char *const *columns, int ncols,
    const lake_lookup *lookup,
    int (*cb)(const pq_batch *b, const delta_file *f, void *arg), void *arg,
    lake_err *err)
{
	pq_batch batch = { 0 };
	codec_ctx *codec;
	int proj[64];
	int rc = -1, dirfd = -1, remote = lake_store_is_remote(table_dir);
	size_t fetched_to = 0;	/* files before it were prefetched */

	if (ncols > 64) {
		lake_err_set(err, "lake_scan: too many columns");
		return -1;
	}
	if ((codec = codec_new()) == NULL) {
		lake_err_set(err, "lake_scan: out of memory");
		return -1;
	}
	/* An object store has no folder to open: its files are opened by
	 * their whole names (pq_reader_openat takes those as absolute). */
	if (nfiles > 0 && !remote &&
	    (dirfd = open(table_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		lake_err_errno(err, "cannot open table %s", table_dir);
		goto out;
	}
	for (size_t i = 0; i < nfiles; i++) {
		const char *path = files[i].path;
		char full[4200];
		pq_reader *r;
		int failed = 0, range_col = -1;

		if (dirfd == -1) {
			snprintf(full, sizeof(full), "%s/%s", table_dir, path);
			path = full;
		}
		if (remote && i >= fetched_to)
			fetched_to = prefetch_from(table_dir, files, nfiles, i);
		/* The log's size spares a stat; none (0) is not trusted. */
		if ((r = pq_reader_openat(dirfd == -1 ? AT_FDCWD : dirfd, path,
		    files[i].size > 0 ?
		    files[i].size : -1, err)) == NULL) {
			lake_err_prefix(err, "%s", table_dir);
			goto out;
		}
		pq_reader_share_codec(r, codec);
		for (int c = 0; c < ncols; c++) {
			if ((proj[c] = pq_reader_column_index(r,
			    columns[c])) < 0) {
				lake_err_set(err, "%s/%s: no column %s",
				    table_dir, files[i].path, columns[c]);
				failed = 1;
			}
		}
		if (lookup != NULL)
			range_col = pq_reader_column_index(r,
			    lookup->range.column);
		for (int g = 0; !failed && g < pq_reader_num_row_groups(r);
		    g++) {
			if (lookup != NULL && !row_group_wanted(r, g,
			    range_col, lookup))
				continue;
			if (read_group(r, g, proj, ncols, range_col, lookup,
			    &batch, err) == -1) {
				lake_err_prefix(err, "%s", table_dir);
				failed = 1;
			} else if (batch.nrows > 0 && cb(&batch, &files[i],
			    arg) == -1)
				failed = 1;
		}
		pq_reader_close(r);
		if (failed)
			goto out;
	}
	rc = 0;
out:
	if (remote)
		lake_store_prefetch_drop();
	if (dirfd != -1)
		close(dirfd);
	pq_batch_free(&batch);
	codec_free(codec);
	return rc;
}
