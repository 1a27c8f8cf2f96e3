/*
 * lake_writer.c - rows into a partitioned Delta table, one commit.
 *
 * One Parquet writer per partition value, kept in a small array searched
 * linearly: a stage run touches a handful of dates, not thousands. Files
 * are named <col>=<value>/part-<uuid>.<codec>.parquet. When the buffered
 * bytes of all open writers pass max_buffered_bytes, the largest one
 * flushes its row group, so memory stays bounded whatever the input. A
 * partition's folder is made when its first row arrives; its file only
 * when it is first written (a small one: at commit, in one write).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "delta_internal.h"
#include "lake.h"
#include "lake_store.h"

typedef struct part_file {
	char *value;		/* partition value, NULL when unpartitioned */
	char *rel_path;		/* relative to the table */
	char *abs_path;
	pq_writer *w;
	pq_file_stats stats;
	int64_t size;
	int closed;
} part_file;

struct lake_writer {
	char *table_dir;
	codec_ctx *codec;	/* shared by every partition file */
	char *partition_column;
	pq_schema schema;
	lake_writer_opts opts;
	part_file *parts;
	int nparts;
	int cap;
	int64_t rows;
};

void
lake_writer_opts_default(lake_writer_opts *o)
{
	pq_writer_opts_default(&o->parquet);
	/*
	 * Row groups of 8 MiB of values (about 300,000 rows of
	 * ordershistory; DuckDB writes 122,880 rows, parquet-mr 128 MiB):
	 * engines that read a file's row groups in parallel get work for
	 * every core from a file of a few million rows, and a point lookup
	 * by orderid reads an eighth of what a 64 MiB group costs. Pages of
	 * 256 KiB: zstd's level 1 matches shorter sequences in inputs of at
	 * most 256 KiB, which makes files of integers and timestamps about
	 * 30% smaller for a few percent more instructions.
	 */
	o->parquet.row_group_bytes = 8u << 20;
	o->parquet.page_bytes = 256u << 10;
	o->max_buffered_bytes = 48u << 20;
	o->file_tag = NULL;
}

static void
free_parts(lake_writer *w, int remove_files)
{
	for (int i = 0; i < w->nparts; i++) {
		part_file *p = &w->parts[i];

		if (p->w != NULL)
			pq_writer_abort(p->w);
		else if (remove_files && p->closed)
			lake_store_delete(p->abs_path, NULL);
		pq_file_stats_free(&p->stats);
		free(p->value);
		free(p->rel_path);
		free(p->abs_path);
	}
	free(w->parts);
	w->parts = NULL;
	w->nparts = 0;
}

static void
writer_free(lake_writer *w, int remove_files)
{
	if (w == NULL)
		return;
	free_parts(w, remove_files);
	for (int i = 0; i < w->schema.ncols; i++)
		free((char *)w->schema.cols[i].name);
	free(w->schema.cols);
	codec_free(w->codec);
	free(w->table_dir);
	free(w->partition_column);
	free(w);
}

lake_writer *
lake_writer_open(const char *table_dir, const pq_schema *data_schema,
    const char *partition_column, const lake_writer_opts *opts,
    lake_err *err)
{
	lake_writer *w = calloc(1, sizeof(*w));

	if (w == NULL)
		goto nomem;
	if (opts != NULL)
		w->opts = *opts;
	else
		lake_writer_opts_default(&w->opts);
	w->opts.parquet.no_fsync = 1;	/* sync_parts() syncs them */
	/* A partition file is created by its first write and holds a
	 * descriptor only while writing: a run over a thousand dates stays
	 * far from RLIMIT_NOFILE, and the process's descriptor table never
	 * grows while threads share it (each growth then waits for an RCU
	 * grace period, milliseconds). */
	w->opts.parquet.defer_create = 1;
	/* One compression context for all partitions: a writer compresses
	 * one page at a time, and hundreds of small partition files must
	 * not each build their own. */
	if ((w->codec = codec_new()) == NULL)
		goto nomem;
	w->opts.parquet.shared_ctx = w->codec;
	if ((w->table_dir = strdup(table_dir)) == NULL ||
	    (partition_column != NULL && (w->partition_column =
	    strdup(partition_column)) == NULL))
		goto nomem;
	w->schema.cols = calloc((size_t)data_schema->ncols + 1,
	    sizeof(pq_column_def));
	if (w->schema.cols == NULL)
		goto nomem;
	for (int i = 0; i < data_schema->ncols; i++) {
		w->schema.cols[i] = data_schema->cols[i];
		if ((w->schema.cols[i].name = strdup(data_schema->cols[i].name))
		    == NULL)
			goto nomem;
		w->schema.ncols++;
	}
	return w;
nomem:
	lake_err_set(err, "%s: out of memory", table_dir);
	writer_free(w, 1);
	return NULL;
}

/* Hive-style escaping of a partition value for a folder name. */
static char *
escape_partition_value(const char *v)
{
	char *out = malloc(strlen(v) * 3 + 1), *o = out;

	if (out == NULL)
		return NULL;
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (c < 0x20 || c == 0x7f || strchr("\"#%'*/:=?\\{[]^", c))
			o += sprintf(o, "%%%02X", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

/* A new file's path in the table: in its partition's folder if any. */
static char *
part_rel_path(const lake_writer *w, const char *escaped_value,
    const char *uuid)
{
	const char *tag = w->opts.file_tag ? w->opts.file_tag : "00000";
	const char *codec = codec_name(w->opts.parquet.codec);
	char *path;
	int n;

	if (escaped_value != NULL)
		n = asprintf(&path, "%s=%s/part-%s-%s.c000.%s.parquet",
		    w->partition_column, escaped_value, tag, uuid, codec);
	else
		n = asprintf(&path, "part-%s-%s.c000.%s.parquet", tag, uuid,
		    codec);
	return n == -1 ? NULL : path;	/* asprintf leaves it undefined */
}

static char *
join_path(const char *dir, const char *name)
{
	char *path;

	return asprintf(&path, "%s/%s", dir, name) == -1 ? NULL : path;
}

static part_file *
open_part(lake_writer *w, const char *value, lake_err *err)
{
	char uuid[40], dir[4096], *esc = NULL;
	part_file *p;

	if (w->nparts == w->cap) {
		int cap = w->cap ? w->cap * 2 : 8;
		part_file *np = realloc(w->parts, (size_t)cap * sizeof(*np));

		if (np == NULL) {
			lake_err_set(err, "%s: out of memory", w->table_dir);
			return NULL;
		}
		w->parts = np;
		w->cap = cap;
	}
	p = &w->parts[w->nparts];
	memset(p, 0, sizeof(*p));
	delta_uuid(uuid);
	if (w->partition_column != NULL && (esc = escape_partition_value(
	    value ? value : "__HIVE_DEFAULT_PARTITION__")) == NULL)
		goto nomem;
	if ((p->rel_path = part_rel_path(w, esc, uuid)) == NULL ||
	    (p->abs_path = join_path(w->table_dir, p->rel_path)) == NULL)
		goto nomem;
	free(esc);
	esc = NULL;
	if (value != NULL && (p->value = strdup(value)) == NULL)
		goto nomem;
	snprintf(dir, sizeof(dir), "%s", p->abs_path);
	*strrchr(dir, '/') = '\0';
	if (lake_store_mkdirs(dir, err) != 0 || (p->w = pq_writer_open(p->abs_path,
	    &w->schema, &w->opts.parquet, err)) == NULL)
		goto fail;
	w->nparts++;
	return p;
nomem:
	lake_err_set(err, "%s: out of memory", w->table_dir);
fail:
	/* Not counted: the writer stays usable for abort (or a retry). */
	free(esc);
	free(p->value);
	free(p->rel_path);
	free(p->abs_path);
	return NULL;
}

static int
same_value(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Flushes the largest open writers until the total fits the bound. */
static int
bound_memory(lake_writer *w, lake_err *err)
{
	for (;;) {
		size_t total = 0, biggest = 0;
		part_file *victim = NULL;

		for (int i = 0; i < w->nparts; i++) {
			size_t n;

			if (w->parts[i].w == NULL)
				continue;
			n = pq_writer_buffered_bytes(w->parts[i].w);
			total += n;
			if (n > biggest) {
				biggest = n;
				victim = &w->parts[i];
			}
		}
		if (total <= w->opts.max_buffered_bytes || victim == NULL)
			return 0;
		if (pq_writer_flush_row_group(victim->w, err) == -1)
			return -1;
	}
}

int
lake_writer_append(lake_writer *w, const char *partition_value,
    const pq_value *row, lake_err *err)
{
	part_file *p = NULL;

	if (w->partition_column == NULL)
		partition_value = NULL;
	/* The last partition used is the likeliest next one. */
	for (int i = w->nparts - 1; i >= 0; i--)
		if (same_value(w->parts[i].value, partition_value)) {
			p = &w->parts[i];
			break;
		}
	if (p == NULL && (p = open_part(w, partition_value, err)) == NULL)
		return -1;
	if (pq_writer_append(p->w, row, err) == -1)
		return -1;
	w->rows++;
	if ((w->rows & 1023) == 0)
		return bound_memory(w, err);
	return 0;
}

int64_t
lake_writer_rows(const lake_writer *w)
{
	return w->rows;
}

/* Closes every file: its last row group and footer are written. */
static int
close_parts(lake_writer *w, lake_err *err)
{
	for (int i = 0; i < w->nparts; i++) {
		part_file *p = &w->parts[i];
		pq_writer *pw = p->w;

		p->w = NULL;
		if (pq_writer_close(pw, &p->stats, err) == -1)
			return -1;
		p->closed = 1;
		p->size = p->stats.file_size;
	}
	return 0;
}

/*
 * Makes the closed files durable before a commit may name them: their
 * data (sync_files) and their names (sync_dirs), run at once. A few
 * files: an fsync per file and per folder that gained entries. Many (an
 * increment spread over hundreds of dates): one syncfs(2), which is one
 * call but also waits for other writers' dirty data on the same file
 * system, so it pays only when the per-file calls would be many more.
 */
#define SYNCFS_FROM_FILES 32

static int
sync_files(lake_writer *w, lake_err *err)
{
	const char **names;
	int rc;

	if (w->nparts >= SYNCFS_FROM_FILES)
		return lake_store_sync_tree(w->table_dir, err) == 0 ? 0 : -1;
	if ((names = calloc((size_t)w->nparts + 1, sizeof(*names))) == NULL) {
		lake_err_set(err, "%s: out of memory", w->table_dir);
		return -1;
	}
	for (int i = 0; i < w->nparts; i++)
		names[i] = w->parts[i].abs_path;
	rc = lake_store_sync_files(names, (size_t)w->nparts, err);
	free(names);
	return rc == 0 ? 0 : -1;
}

static int
sync_dirs(lake_writer *w, lake_err *err)
{
	char dir[4096], last[4096] = "";

	if (w->nparts >= SYNCFS_FROM_FILES)
		return 0;	/* sync_files' syncfs covers the folders */
	for (int i = 0; i < w->nparts; i++) {
		snprintf(dir, sizeof(dir), "%s", w->parts[i].abs_path);
		*strrchr(dir, '/') = '\0';
		if (strcmp(dir, last) == 0)
			continue;
		if (lake_store_sync_dir(dir, err) != 0)
			return -1;
		snprintf(last, sizeof(last), "%s", dir);
	}
	if (w->nparts > 0 && w->partition_column != NULL &&
	    lake_store_sync_dir(w->table_dir, err) != 0)
		return -1;
	return 0;
}

/* One kind of sync for every writer, on a helper thread. */
typedef struct sync_job {
	lake_writer **ws;
	int nws;
	int (*sync)(lake_writer *w, lake_err *err);
	lake_err err;
	int rc;
	pthread_t tid;
	int threaded;
} sync_job;

static void *
sync_thread(void *arg)
{
	sync_job *j = arg;

	j->rc = 0;
	for (int k = 0; k < j->nws && j->rc == 0; k++)
		j->rc = j->sync(j->ws[k], &j->err);
	return NULL;
}

/*
 * Makes closed files committable: their data and their folders are synced
 * on two helper threads while the commit file is written and fsynced
 * here. Publishing (linking it as the next version) may follow once all
 * three are durable.
 */
static int
sync_and_prepare(lake_writer **ws, int nws, delta_commit *c, lake_err *err)
{
	sync_job jobs[2] = {
		{ ws, nws, sync_files, { { 0 }, LAKE_ERR_FAILED }, -1, 0, 0 },
		{ ws, nws, sync_dirs, { { 0 }, LAKE_ERR_FAILED }, -1, 0, 0 },
	};
	int rc;

	for (int i = 0; i < 2; i++)
		jobs[i].threaded = pthread_create(&jobs[i].tid, NULL,
		    sync_thread, &jobs[i]) == 0;
	rc = delta_commit_prepare(c, err);
	for (int i = 0; i < 2; i++) {
		if (jobs[i].threaded)
			pthread_join(jobs[i].tid, NULL);
		else
			sync_thread(&jobs[i]);
	}
	for (int i = 0; i < 2; i++) {
		if (jobs[i].rc == 0)
			continue;
		if (rc == DELTA_OK)
			*err = jobs[i].err;
		return DELTA_ERROR;
	}
	return rc;
}

int
lake_writer_commit(lake_writer *w, const delta_snapshot *base,
    const char *app_id, int64_t txn_version, const char *operation,
    const char *info_json, int64_t *version, lake_err *err)
{
	const char *pcols[1] = { w->partition_column };
	delta_commit *c;
	int rc;

	if (w->rows == 0) {
		writer_free(w, 1);
		return DELTA_OK;
	}
	if ((c = delta_commit_begin(w->table_dir, base)) == NULL) {
		lake_err_set(err, "out of memory");
		writer_free(w, 1);
		return DELTA_ERROR;
	}
	if ((base == NULL && delta_commit_set_metadata(c, &w->schema, pcols,
	    w->partition_column ? 1 : 0, err) == -1) ||
	    (app_id != NULL && delta_commit_set_txn(c, app_id, txn_version,
	    err) == -1) ||
	    delta_commit_set_info(c, operation, info_json, err) == -1) {
		delta_commit_free(c);
		writer_free(w, 1);
		return DELTA_ERROR;
	}
	rc = lake_writers_commit_with(&w, 1, c, version, err);
	delta_commit_free(c);
	return rc;
}

int
lake_writers_prepare(lake_writer **ws, int nws, delta_commit *c,
    lake_err *err)
{
	int rc = DELTA_ERROR;

	for (int k = 0; k < nws; k++) {
		lake_writer *w = ws[k];

		if (close_parts(w, err) == -1)
			goto out;
		for (int i = 0; i < w->nparts; i++) {
			const char *pv[1] = { w->parts[i].value };

			if (delta_commit_add(c, w->parts[i].rel_path, pv,
			    w->parts[i].size, &w->parts[i].stats, err) == -1)
				goto out;
		}
	}
	rc = sync_and_prepare(ws, nws, c, err);
out:
	if (rc != DELTA_OK)
		for (int k = 0; k < nws; k++)
			writer_free(ws[k], 1);
	return rc;
}

int
lake_writers_publish(lake_writer **ws, int nws, delta_commit *c,
    int64_t *version, lake_err *err)
{
	int rc = delta_commit_publish(c, version, err);

	for (int k = 0; k < nws; k++)
		writer_free(ws[k], rc != DELTA_OK);
	return rc;
}

int
lake_writers_commit_with(lake_writer **ws, int nws, delta_commit *c,
    int64_t *version, lake_err *err)
{
	int rc = lake_writers_prepare(ws, nws, c, err);

	if (rc != DELTA_OK)
		return rc;
	return lake_writers_publish(ws, nws, c, version, err);
}

void
lake_writer_abort(lake_writer *w)
{
	writer_free(w, 1);
}
