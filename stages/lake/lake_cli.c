/*
 * lake_cli.c - medallion-lake: look at lake tables and Parquet files.
 *
 *   medallion-lake ls TABLE          live files, partition values, rows
 *   medallion-lake log TABLE         one line per version
 *   medallion-lake schema TABLE|FILE columns and types
 *   medallion-lake cat TABLE|FILE    rows as CSV (or --json lines)
 *   medallion-lake check TABLE       every logged file exists and matches,
 *                                    and each commit its own metrics
 *   medallion-lake vacuum TABLE      remove files no version references
 *   medallion-lake optimize TABLE    compact small files (dataChange:false)
 *
 * A thin layer over the lake library: everything it knows about a table
 * comes from the Delta log. Exit status: 0 success, 1 failure, 2 usage,
 * 3 when check finds a problem, 4 when optimize gave up because another
 * writer compacted the same files first.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "delta.h"
#include "lake_store.h"
#include "duration.h"
#include "lake_format.h"
#include "log.h"
#include "size.h"
#include "medallion_version.h"

#define EXIT_USAGE 2
#define EXIT_CHECK 3
#define EXIT_GAVE_UP 4

typedef struct cli_opts {
	int json;
	int64_t limit;
	int64_t version;
	int dry_run;
	int64_t retain_seconds;
	const char *columns;
	int64_t target_size;
	const char *where;
	int deep;
} cli_opts;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: medallion-lake COMMAND [options] TABLE|FILE\n"
	    "\n"
	    "commands:\n"
	    "  ls TABLE            live data files, their partition values, "
	    "sizes and rows\n"
	    "  log TABLE           versions: time, operation, files added and "
	    "removed, txn\n"
	    "  schema TABLE|FILE   columns and types\n"
	    "  cat TABLE|FILE      rows as CSV with a header (--json: one "
	    "object per line)\n"
	    "  check TABLE         verify every logged file exists with its "
	    "size and row count,\n"
	    "                      and each commit's adds match its "
	    "commitInfo metrics\n"
	    "                      (--deep: also read and decode every page, "
	    "checking CRCs)\n"
	    "  vacuum TABLE        remove files that no version references\n"
	    "  optimize TABLE      compact small files per partition into "
	    "files of about\n"
	    "                      --target-size (committed as dataChange "
	    "false)\n"
	    "\n"
	    "options:\n"
	    "  --json              machine-readable output\n"
	    "  --limit N           cat: at most N rows\n"
	    "  --columns A,B       cat: only these columns, in this order\n"
	    "  --version N         read the table as of version N\n"
	    "  --retain DURATION   vacuum: keep unreferenced files younger "
	    "than this\n"
	    "                      (e.g. 0s, 30m, 168h; default 168h)\n"
	    "  --dry-run           vacuum: list, do not delete\n"
	    "  --target-size SIZE  optimize: bytes per file, e.g. 128MiB "
	    "(default), 512KiB\n"
	    "  --where 'PRED'      optimize: only partitions matching, e.g. "
	    "'date >= 2026-11-01'\n"
	    "  -h, --help          this help\n"
	    "  -V, --version-info  print the version\n"
	    "\n"
	    "exit status: 0 ok, 1 error, 2 usage, 3 check found problems, 4 "
	    "optimize gave up\n"
	    "(another writer compacted the same files first)\n");
}

/* --retain's duration in whole seconds (vacuum's resolution). */
static int
parse_retain(const char *s, int64_t *seconds)
{
	char why[128];
	int64_t us;

	if (duration_parse(s, &us, why, sizeof(why)) == -1) {
		log_warnx("--retain: %s", why);
		return -1;
	}
	*seconds = us / 1000000;
	return 0;
}

/* A Parquet file (a local regular file or an object) rather than a
 * table, which is a folder or a prefix. */
static int
is_parquet_file(const char *path)
{
	size_t n = strlen(path);

	return n > 8 && strcmp(path + n - 8, ".parquet") == 0 &&
	    lake_store_stat(path, NULL, NULL, NULL) == 0;
}

static delta_snapshot *
load(const char *table, const cli_opts *o)
{
	delta_snapshot *snap;
	lake_err err;

	if (delta_snapshot_load(table, o->version, &snap, &err) != DELTA_OK) {
		log_warnx("%s", err.msg);
		return NULL;
	}
	return snap;
}

/* Prints obj as one line and releases it. */
static void
print_json(json_t *obj)
{
	char *line = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

	if (line != NULL)
		puts(line);
	free(line);
	json_decref(obj);
}

/* --- ls ------------------------------------------------------------ */

static int
cmd_ls(const char *table, const cli_opts *o)
{
	delta_snapshot *snap = load(table, o);
	int64_t rows = 0, bytes = 0;

	if (snap == NULL)
		return 1;
	if (!o->json)
		printf("version %" PRId64 ", %zu files\n", snap->version,
		    snap->nfiles);
	for (size_t i = 0; i < snap->nfiles; i++) {
		const delta_file *f = &snap->files[i];

		rows += f->num_records > 0 ? f->num_records : 0;
		bytes += f->size;
		if (o->json) {
			json_t *pv = json_object();

			for (int k = 0; k < snap->npartition_columns; k++)
				json_object_set_new(pv,
				    snap->partition_columns[k],
				    f->partition_values[k] ?
				    json_string(f->partition_values[k]) :
				    json_null());
			print_json(json_pack("{s:s, s:o, s:I, s:I, s:I}",
			    "path", f->path, "partitionValues", pv, "size",
			    (json_int_t)f->size, "rows",
			    (json_int_t)f->num_records, "version",
			    (json_int_t)f->added_in_version));
		} else
			printf("%10" PRId64 " rows %12" PRId64 " bytes  v%-4"
			    PRId64 " %s\n", f->num_records, f->size,
			    f->added_in_version, f->path);
	}
	if (!o->json)
		printf("total: %" PRId64 " rows, %" PRId64 " bytes\n", rows,
		    bytes);
	delta_snapshot_free(snap);
	return 0;
}

/* --- log ----------------------------------------------------------- */

/* What one commit file holds: its actions counted, and its commitInfo
 * and first txn (references the caller drops with commit_summary_free). */
typedef struct commit_summary {
	size_t adds;
	size_t removes;
	int64_t rows;		/* the adds' numRecords */
	size_t adds_without_rows;	/* adds whose stats lack numRecords */
	size_t bad_lines;	/* lines that are not JSON objects */
	json_t *info;
	json_t *txn;
} commit_summary;

static void
commit_summary_free(commit_summary *c)
{
	json_decref(c->info);
	json_decref(c->txn);
	memset(c, 0, sizeof(*c));
}

static void
count_add(commit_summary *c, json_t *add)
{
	json_t *st = json_loads(json_string_value(json_object_get(add,
	    "stats")) ?: "{}", 0, NULL);
	json_t *n = json_object_get(st, "numRecords");

	c->adds++;
	if (json_is_integer(n))
		c->rows += json_integer_value(n);
	else
		c->adds_without_rows++;
	json_decref(st);
}

/* Reads version v's commit file; -1 (logged) when it cannot be read. */
static int
read_commit(const char *table, int64_t v, commit_summary *c)
{
	char path[4096], *line, *cur, *end;
	uint8_t *text;
	size_t len;
	lake_err err;

	memset(c, 0, sizeof(*c));
	if (snprintf(path, sizeof(path), "%s/_delta_log/%020" PRId64 ".json",
	    table, v) >= (int)sizeof(path)) {
		log_warnx("%s: path too long", table);
		return -1;
	}
	if (lake_store_read_all(path, &text, &len, &err) != 0) {
		log_warnx("%s", err.msg);
		return -1;
	}
	end = (char *)text + len;
	for (cur = (char *)text; cur < end;) {
		json_t *a, *x;
		char *nl = memchr(cur, '\n', (size_t)(end - cur));

		line = cur;
		if (nl != NULL)
			*nl = '\0';
		cur = nl != NULL ? nl + 1 : end;
		a = json_loads(line, 0, NULL);

		if (!json_is_object(a) && line[strspn(line, " \t\r\n")] != '\0')
			c->bad_lines++;
		if ((x = json_object_get(a, "add")) != NULL)
			count_add(c, x);
		else if (json_object_get(a, "remove") != NULL)
			c->removes++;
		else if ((x = json_object_get(a, "commitInfo")) != NULL &&
		    c->info == NULL)
			c->info = json_incref(x);
		else if ((x = json_object_get(a, "txn")) != NULL &&
		    c->txn == NULL)
			c->txn = json_incref(x);
		json_decref(a);
	}
	free(text);
	return 0;
}

static void
summarize_commit(const char *table, int64_t v, const cli_opts *o)
{
	char when[64] = "";
	const char *op = "";
	commit_summary c;
	int64_t ts;

	if (read_commit(table, v, &c) == -1)
		return;
	if (c.info != NULL) {
		op = json_string_value(json_object_get(c.info, "operation")) ?:
		    "";
		ts = json_integer_value(json_object_get(c.info, "timestamp"));
		if (ts > 0)
			lake_format_timestamp(when, sizeof(when), ts * 1000);
		when[19] = '\0';
	}
	if (o->json) {
		json_t *obj = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I}",
		    "version", (json_int_t)v, "timestamp", when, "operation", op,
		    "filesAdded", (json_int_t)c.adds, "filesRemoved",
		    (json_int_t)c.removes, "rowsAdded", (json_int_t)c.rows);

		if (c.txn != NULL)
			json_object_set(obj, "txn", c.txn);
		print_json(obj);
	} else {
		printf("v%-5" PRId64 " %-19s %-14s +%zu files (%" PRId64
		    " rows) -%zu files", v, when, op, c.adds, c.rows,
		    c.removes);
		if (c.txn != NULL)
			printf("  txn %s=%" PRId64, json_string_value(
			    json_object_get(c.txn, "appId")) ?: "?",
			    (int64_t)json_integer_value(json_object_get(c.txn,
			    "version")));
		putchar('\n');
	}
	commit_summary_free(&c);
}

/*
 * The first version whose commit file is still there: log cleanup
 * deletes the commits before a checkpoint, and the oldest readable
 * version is that checkpoint's, whose own commit may be gone too. One
 * listing of the log, not a stat per version.
 */
static int64_t
first_commit_file(const char *table, int64_t newest)
{
	char path[4096];
	int64_t first;

	if (delta_oldest_version(table, &first, NULL) != DELTA_OK)
		return 0;
	if (snprintf(path, sizeof(path), "%s/_delta_log/%020" PRId64 ".json",
	    table, first) < (int)sizeof(path) &&
	    lake_store_stat(path, NULL, NULL, NULL) != 0 && first < newest)
		first++;	/* only the checkpoint of that version is left */
	return first;
}

static int
cmd_log(const char *table, const cli_opts *o)
{
	delta_snapshot *snap = load(table, o);

	if (snap == NULL)
		return 1;
	for (int64_t v = first_commit_file(table, snap->version);
	    v <= snap->version; v++)
		summarize_commit(table, v, o);
	delta_snapshot_free(snap);
	return 0;
}

/* --- schema and cat ------------------------------------------------ */

static void
print_schema(const pq_schema *s, char **pcols, int npcols, const cli_opts *o)
{
	for (int i = 0; i < s->ncols; i++) {
		const pq_column_def *c = &s->cols[i];
		int part = 0;

		for (int k = 0; k < npcols; k++)
			part |= strcmp(pcols[k], c->name) == 0;
		if (o->json)
			print_json(json_pack("{s:s, s:s, s:b, s:b}", "name",
			    c->name, "type", lake_type_name(c->type),
			    "nullable", c->nullable, "partition", part));
		else
			printf("%-24s %-14s %s%s\n", c->name,
			    lake_type_name(c->type),
			    c->nullable ? "nullable" : "required",
			    part ? ", partition" : "");
	}
}

static int
cmd_schema(const char *target, const cli_opts *o)
{
	if (is_parquet_file(target)) {
		lake_err err;
		pq_reader *r = pq_reader_open(target, &err);

		if (r == NULL) {
			log_warnx("%s", err.msg);
			return 1;
		}
		print_schema(pq_reader_schema(r), NULL, 0, o);
		pq_reader_close(r);
		return 0;
	}
	delta_snapshot *snap = load(target, o);

	if (snap == NULL)
		return 1;
	print_schema(&snap->schema, snap->partition_columns,
	    snap->npartition_columns, o);
	delta_snapshot_free(snap);
	return 0;
}

/* What cat prints: output columns and where each comes from. */
typedef struct cat_plan {
	int n;
	const char **names;
	const pq_column_def **defs;
	int *partition;		/* index in partition columns, or -1 */
	int64_t printed;
} cat_plan;

static int
plan_columns(cat_plan *p, const pq_schema *s, char **pcols, int npcols,
    const char *wanted)
{
	char *list = wanted ? strdup(wanted) : NULL, *save = NULL, *tok;
	int cap = s->ncols + 1;

	if (wanted != NULL) {
		cap = 1;
		for (const char *c = wanted; *c; c++)
			cap += *c == ',';
	}
	p->names = calloc((size_t)cap, sizeof(char *));
	p->defs = calloc((size_t)cap, sizeof(*p->defs));
	p->partition = calloc((size_t)cap, sizeof(int));
	if (p->names == NULL || p->defs == NULL || p->partition == NULL)
		fatalx("out of memory");
	for (int i = 0; wanted == NULL && i < s->ncols; i++)
		p->names[p->n++] = s->cols[i].name;
	for (tok = list ? strtok_r(list, ",", &save) : NULL; tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		int found = 0;

		for (int i = 0; i < s->ncols && !found; i++)
			if (strcmp(s->cols[i].name, tok) == 0) {
				p->names[p->n++] = s->cols[i].name;
				found = 1;
			}
		if (!found) {
			log_warnx("no column named %s", tok);
			free(list);
			return -1;
		}
	}
	free(list);
	for (int i = 0; i < p->n; i++) {
		p->partition[i] = -1;
		for (int k = 0; k < npcols; k++)
			if (strcmp(pcols[k], p->names[i]) == 0)
				p->partition[i] = k;
		for (int k = 0; k < s->ncols; k++)
			if (strcmp(s->cols[k].name, p->names[i]) == 0)
				p->defs[i] = &s->cols[k];
	}
	return 0;
}

static void
plan_free(cat_plan *p)
{
	free(p->names);
	free(p->defs);
	free(p->partition);
}

static void
print_header(const cat_plan *p, const cli_opts *o)
{
	if (o->json)
		return;
	for (int i = 0; i < p->n; i++) {
		if (i)
			putchar(',');
		lake_print_csv_string(stdout, p->names[i],
		    strlen(p->names[i]));
	}
	fputs("\r\n", stdout);
}

/* Partition values are text in the log; numbers print unquoted. */
static void
print_partition_value(const char *v, const pq_column_def *def,
    const cli_opts *o)
{
	int numeric = def != NULL && def->type != PQ_STRING &&
	    def->type != PQ_BINARY && def->type != PQ_DATE &&
	    def->type != PQ_TIMESTAMP && def->type != PQ_TIMESTAMP_NTZ;

	if (v == NULL) {
		if (o->json)
			fputs("null", stdout);
		return;
	}
	if (numeric || (!o->json && def != NULL && def->type != PQ_STRING &&
	    def->type != PQ_BINARY))
		fputs(v, stdout);
	else if (o->json)
		lake_print_json_string(stdout, v, strlen(v));
	else
		lake_print_csv_string(stdout, v, strlen(v));
}

/* Prints the rows of one Parquet file; 1 when the limit is reached. */
static int
cat_file(const char *path, cat_plan *p, char **pvalues, const cli_opts *o)
{
	pq_batch b = { 0 };
	lake_err err;
	pq_reader *r = pq_reader_open(path, &err);
	int *proj, *slot, nproj = 0, rc = -1;

	if (r == NULL) {
		log_warnx("%s", err.msg);
		return -1;
	}
	proj = calloc((size_t)p->n + 1, sizeof(int));
	slot = calloc((size_t)p->n + 1, sizeof(int));
	if (proj == NULL || slot == NULL)
		fatalx("out of memory");
	for (int i = 0; i < p->n; i++) {
		int idx = p->partition[i] >= 0 ? -1 :
		    pq_reader_column_index(r, p->names[i]);

		slot[i] = -1;
		if (idx >= 0) {
			slot[i] = nproj;
			proj[nproj++] = idx;
		}
	}
	for (int g = 0; g < pq_reader_num_row_groups(r); g++) {
		if (pq_reader_read_row_group(r, g, proj, nproj, &b,
		    &err) == -1) {
			log_warnx("%s", err.msg);
			goto out;
		}
		for (int64_t row = 0; row < b.nrows; row++) {
			if (o->limit >= 0 && p->printed >= o->limit) {
				rc = 1;
				goto out;
			}
			if (o->json)
				putchar('{');
			for (int i = 0; i < p->n; i++) {
				if (i)
					putchar(',');
				if (o->json) {
					lake_print_json_string(stdout,
					    p->names[i], strlen(p->names[i]));
					putchar(':');
				}
				if (p->partition[i] >= 0)
					print_partition_value(pvalues ?
					    pvalues[p->partition[i]] : NULL,
					    p->defs[i], o);
				else if (slot[i] >= 0)
					lake_print_cell(stdout, o->json ?
					    LAKE_JSON : LAKE_CSV,
					    &b.cols[slot[i]], row, p->defs[i]);
				else if (o->json)
					fputs("null", stdout);
			}
			fputs(o->json ? "}\n" : "\r\n", stdout);
			p->printed++;
		}
	}
	rc = 0;
out:
	pq_batch_free(&b);
	pq_reader_close(r);
	free(proj);
	free(slot);
	return rc;
}

static int
cmd_cat(const char *target, const cli_opts *o)
{
	cat_plan p = { 0 };
	int rc = 0;

	if (is_parquet_file(target)) {
		lake_err err;
		pq_reader *r = pq_reader_open(target, &err);

		if (r == NULL) {
			log_warnx("%s", err.msg);
			return 1;
		}
		if (plan_columns(&p, pq_reader_schema(r), NULL, 0,
		    o->columns) == 0) {
			print_header(&p, o);
			rc = cat_file(target, &p, NULL, o) == -1;
		} else
			rc = EXIT_USAGE;
		pq_reader_close(r);
		plan_free(&p);
		return rc;
	}
	delta_snapshot *snap = load(target, o);

	if (snap == NULL)
		return 1;
	if (plan_columns(&p, &snap->schema, snap->partition_columns,
	    snap->npartition_columns, o->columns) == -1) {
		delta_snapshot_free(snap);
		plan_free(&p);
		return EXIT_USAGE;
	}
	print_header(&p, o);
	for (size_t i = 0; i < snap->nfiles; i++) {
		char path[4096];
		int got;

		snprintf(path, sizeof(path), "%s/%s", target,
		    snap->files[i].path);
		got = cat_file(path, &p, snap->files[i].partition_values, o);
		if (got == -1)
			rc = 1;
		if (got != 0)
			break;
	}
	plan_free(&p);
	delta_snapshot_free(snap);
	return rc;
}

/* --- check and vacuum ---------------------------------------------- */

/*
 * A count in commitInfo.operationMetrics (Spark writes them as strings,
 * "3000"), or -1 when it is absent or not a count.
 */
static int64_t
info_metric(json_t *info, const char *key)
{
	json_t *v = json_object_get(json_object_get(info, "operationMetrics"),
	    key);
	const char *s = json_string_value(v);
	int64_t n = 0;

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++)
		if (*s < '0' || *s > '9' || __builtin_mul_overflow(n, 10, &n) ||
		    __builtin_add_overflow(n, *s - '0', &n))
			return -1;
	return n;
}

/*
 * --deep: reads every page of every column of every row group, which
 * checks each page's CRC and decodes it, and sets each row group's rows
 * against the footer. Returns the number of problems, logged.
 */
static size_t
check_pages(const char *path, pq_reader *r)
{
	size_t bad = 0;

	for (int rg = 0; rg < pq_reader_num_row_groups(r); rg++) {
		for (int leaf = 0; leaf < pq_reader_num_leaves(r); leaf++) {
			pq_leaf_batch b;
			lake_err err;
			int64_t rows = pq_reader_row_group_rows(r, rg);

			memset(&b, 0, sizeof(b));
			if (pq_reader_read_leaf(r, rg, leaf, &b, &err) == -1) {
				log_warnx("%s", err.msg);
				bad++;
			} else if (pq_reader_leaf_max_rep(r, leaf) == 0 &&
			    b.nlevels != rows && !(b.nlevels == 0 &&
			    b.nvalues == rows)) {
				log_warnx("%s: row group %d, column %s: %" PRId64
				    " values for %" PRId64 " rows", path, rg,
				    pq_reader_leaf_path(r, leaf), b.nlevels > 0 ?
				    b.nlevels : b.nvalues, rows);
				bad++;
			}
			pq_leaf_batch_free(&b);
		}
	}
	return bad;
}

/* Whether a commit's commitInfo says Medallion wrote it. */
static int
written_by_us(json_t *info)
{
	const char *engine = json_string_value(json_object_get(info,
	    "engineInfo"));

	return engine != NULL && strncmp(engine, "medallion/", 10) == 0;
}

/*
 * Checks one commit against its own commitInfo, which our writers (and
 * Spark) put on its first line: a commit that lost its trailing lines
 * still replays, and only numOutputRows and numFiles, set against the
 * adds that are left, tell. Returns the number of problems, logged.
 */
static size_t
check_commit(const char *table, int64_t v)
{
	commit_summary c;
	int64_t rows, files;
	size_t bad = 0;

	if (read_commit(table, v, &c) == -1)
		return 1;
	rows = info_metric(c.info, "numOutputRows");
	files = info_metric(c.info, "numFiles");
	if (c.bad_lines > 0) {
		log_warnx("%s: version %" PRId64 ": %zu lines of its commit are "
		    "not JSON actions", table, v, c.bad_lines);
		bad++;
	}
	if (rows >= 0 && c.adds_without_rows == 0 && rows != c.rows) {
		log_warnx("%s: version %" PRId64 ": commitInfo says %" PRId64
		    " output rows, its %zu adds hold %" PRId64 " (a commit cut "
		    "short?)", table, v, rows, c.adds, c.rows);
		bad++;
	}
	/* Spark counts files it wrote and then dropped (empty ones) in
	 * numFiles: only our own commits' file counts can be held to it. */
	if (files >= 0 && files != (int64_t)c.adds && written_by_us(c.info)) {
		log_warnx("%s: version %" PRId64 ": commitInfo says %" PRId64
		    " files, the commit adds %zu (a commit cut short?)", table,
		    v, files, c.adds);
		bad++;
	}
	commit_summary_free(&c);
	return bad;
}

static int
cmd_check(const char *table, const cli_opts *o)
{
	delta_snapshot *snap = load(table, o);
	size_t bad = 0;

	if (snap == NULL)
		return 1;
	for (size_t i = 0; i < snap->nfiles; i++) {
		const delta_file *f = &snap->files[i];
		char path[4096];
		uint64_t size;
		lake_err err;
		pq_reader *r;
		int rc;

		snprintf(path, sizeof(path), "%s/%s", table, f->path);
		if ((rc = lake_store_stat(path, &size, NULL, &err)) != 0) {
			if (rc == LAKE_STORE_NOT_FOUND)
				log_warnx("%s: logged in version %" PRId64 " but "
				    "missing: %s", path, f->added_in_version,
				    err.msg);
			else
				log_warnx("%s", err.msg);
			bad++;
			continue;
		}
		if ((int64_t)size != f->size) {
			log_warnx("%s: %llu bytes in storage, %" PRId64 " in "
			    "the log", path, (unsigned long long)size,
			    f->size);
			bad++;
			continue;
		}
		if ((r = pq_reader_open(path, &err)) == NULL) {
			log_warnx("%s", err.msg);
			bad++;
			continue;
		}
		if (f->num_records >= 0 &&
		    pq_reader_num_rows(r) != f->num_records) {
			log_warnx("%s: %" PRId64 " rows in the file, %" PRId64
			    " in the log", path, pq_reader_num_rows(r),
			    f->num_records);
			bad++;
		}
		if (o->deep)
			bad += check_pages(path, r);
		pq_reader_close(r);
	}
	for (int64_t v = first_commit_file(table, snap->version);
	    v <= snap->version; v++)
		bad += check_commit(table, v);
	if (o->json)
		print_json(json_pack("{s:I, s:I, s:I}", "version",
		    (json_int_t)snap->version, "files",
		    (json_int_t)snap->nfiles, "problems", (json_int_t)bad));
	else
		printf("%s: version %" PRId64 ", %zu files, %zu problem%s\n",
		    table, snap->version, snap->nfiles, bad,
		    bad == 1 ? "" : "s");
	delta_snapshot_free(snap);
	return bad ? EXIT_CHECK : 0;
}

static void
vacuum_print(const char *path, void *arg)
{
	const cli_opts *o = arg;

	if (o->json)
		print_json(json_pack("{s:s, s:b}", "path", path, "deleted",
		    !o->dry_run));
	else
		printf("%s %s\n", o->dry_run ? "would remove" : "removed",
		    path);
}

static int
cmd_vacuum(const char *table, const cli_opts *o)
{
	lake_err err;

	if (delta_vacuum(table, o->retain_seconds, o->dry_run, vacuum_print,
	    (void *)o, &err) != DELTA_OK) {
		log_warnx("%s", err.msg);
		return 1;
	}
	return 0;
}

static int
cmd_optimize(const char *table, const cli_opts *o)
{
	delta_optimize_opts opts;
	delta_optimize_result res;
	lake_err err;
	int rc;

	delta_optimize_opts_default(&opts);
	if (o->target_size > 0)
		opts.target_size = o->target_size;
	opts.where = o->where;
	rc = delta_optimize(table, &opts, &res, &err);
	if (rc == DELTA_CONFLICT) {
		log_warnx("%s", err.msg);
		return EXIT_GAVE_UP;
	}
	if (rc != DELTA_OK) {
		log_warnx("%s", rc == DELTA_NO_TABLE ? "no Delta table there" :
		    err.msg);
		return 1;
	}
	if (o->json)
		print_json(json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:i}",
		    "version", (json_int_t)res.version, "filesRemoved",
		    (json_int_t)res.files_removed, "filesAdded",
		    (json_int_t)res.files_added, "rows", (json_int_t)res.rows,
		    "bytesRemoved", (json_int_t)res.bytes_removed, "bytesAdded",
		    (json_int_t)res.bytes_added, "partitions", res.partitions));
	else if (res.version < 0)
		printf("%s: nothing to compact\n", table);
	else
		printf("%s: version %" PRId64 ": %" PRId64 " files (%" PRId64
		    " bytes) compacted into %" PRId64 " (%" PRId64 " bytes, %"
		    PRId64 " rows) in %d partitions\n", table, res.version,
		    res.files_removed, res.bytes_removed, res.files_added,
		    res.bytes_added, res.rows, res.partitions);
	return 0;
}

/* --target-size: bytes, binary units (common/size.c). */
static int
parse_size(const char *s, int64_t *bytes)
{
	if (size_parse(s, bytes) == 0)
		return 0;
	log_warnx("--target-size wants a positive size such as 128MiB or "
	    "512KiB, not %s", s);
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'n' },
		{ "columns", required_argument, NULL, 'c' },
		{ "version", required_argument, NULL, 'v' },
		{ "retain", required_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "deep", no_argument, NULL, 'D' },
		{ "target-size", required_argument, NULL, 't' },
		{ "where", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version-info", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	cli_opts o = { 0, -1, -1, 0, 7 * 86400, NULL, 0, NULL, 0 };
	const char *cmd, *target;
	char *end;
	int ch;

	log_init("medallion-lake", 0);
	while ((ch = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			o.json = 1;
			break;
		case 'n':
			o.limit = strtoll(optarg, &end, 10);
			if (*end != '\0' || o.limit < 0) {
				log_warnx("--limit wants a count, not %s",
				    optarg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			o.columns = optarg;
			break;
		case 'v':
			o.version = strtoll(optarg, &end, 10);
			if (*end != '\0' || o.version < 0) {
				log_warnx("--version wants a version number, "
				    "not %s", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'r':
			if (parse_retain(optarg, &o.retain_seconds) == -1)
				return EXIT_USAGE;
			break;
		case 'd':
			o.dry_run = 1;
			break;
		case 'D':
			o.deep = 1;
			break;
		case 't':
			if (parse_size(optarg, &o.target_size) == -1)
				return EXIT_USAGE;
			break;
		case 'w':
			o.where = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("medallion-lake %s\n", MEDALLION_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	target = argv[optind + 1];
	if (strlen(target) > LAKE_ROOT_MAX) {
		log_warnx("the path is %zu bytes, longer than the %d accepted: "
		    "use a shorter one (a symbolic link to it will do)",
		    strlen(target), LAKE_ROOT_MAX);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "ls") == 0)
		return cmd_ls(target, &o);
	if (strcmp(cmd, "log") == 0)
		return cmd_log(target, &o);
	if (strcmp(cmd, "schema") == 0)
		return cmd_schema(target, &o);
	if (strcmp(cmd, "cat") == 0)
		return cmd_cat(target, &o);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(target, &o);
	if (strcmp(cmd, "vacuum") == 0)
		return cmd_vacuum(target, &o);
	if (strcmp(cmd, "optimize") == 0)
		return cmd_optimize(target, &o);
	log_warnx("unknown command %s (try --help)", cmd);
	return EXIT_USAGE;
}
