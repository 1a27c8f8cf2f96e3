/*
 * lake_scan.c - streaming the rows of a table's data files, column
 * projected, one row group at a time. Memory is one row group of the
 * projected columns; the batch's arrays are reused from one row group to
 * the next.
 */
#include <stdio.h>
#include <stdlib.h>

#include "codec.h"
#include "lake.h"

int
lake_scan(const char *table_dir, const delta_file *files, size_t nfiles,
    const char *const *columns, int ncols,
    int (*cb)(const pq_batch *b, const delta_file *f, void *arg), void *arg,
    lake_err *err)
{
	pq_batch batch = { 0 };
	codec_ctx *codec;
	int proj[64];
	int rc = -1;

	if (ncols > 64) {
		lake_err_set(err, "lake_scan: too many columns");
		return -1;
	}
	if ((codec = codec_new()) == NULL) {
		lake_err_set(err, "lake_scan: out of memory");
		return -1;
	}
	for (size_t i = 0; i < nfiles; i++) {
		char path[4096];
		pq_reader *r;
		int failed = 0;

		snprintf(path, sizeof(path), "%s/%s", table_dir, files[i].path);
		if ((r = pq_reader_open(path, err)) == NULL)
			goto out;
		pq_reader_share_codec(r, codec);
		for (int c = 0; c < ncols; c++) {
			if ((proj[c] = pq_reader_column_index(r,
			    columns[c])) < 0) {
				lake_err_set(err, "%s: no column %s", path,
				    columns[c]);
				failed = 1;
			}
		}
		for (int g = 0; !failed && g < pq_reader_num_row_groups(r);
		    g++) {
			if (pq_reader_read_row_group(r, g, proj, ncols, &batch,
			    err) == -1 || cb(&batch, &files[i], arg) == -1)
				failed = 1;
		}
		pq_reader_close(r);
		if (failed)
			goto out;
	}
	rc = 0;
out:
	pq_batch_free(&batch);
	codec_free(codec);
	return rc;
}
