/*
 * maintenance.c - the maintenance stage: keeps every lake table cheap to
 * read however long the pipeline has run. It only calls table operations
 * of the lake library, on each table of the catalog below:
 *
 *   checkpoint  when the newest version is delta.checkpointInterval or
 *               more past the newest checkpoint (commits write them
 *               themselves; this catches a table written before they
 *               did, which upgrades in place on the first run, and one
 *               whose checkpoint write failed);
 *   compaction  of the last partition (the only one of an unpartitioned
 *               table) once it holds more than --compact-min-files
 *               small files (under a quarter of --target-size), size
 *               tiered: the newest files, and older ones only while at
 *               most twice those, so each row is rewritten about
 *               log(table / new rows) times, not at every compaction;
 *               and of every other partition (closed: a day before the
 *               newest, for the date-partitioned bronze) packed whole
 *               once it holds two small files; all as medallion-lake
 *               optimize does (dataChange:false);
 *   log cleanup and vacuum, at most every --vacuum-every: log files past
 *               delta.logRetentionDuration before the newest expired
 *               checkpoint, then data files no retained version names
 *               and older than delta.deletedFileRetentionDuration.
 *
 * What is due is decided without loading a snapshot when nothing can be:
 * <lake>/_maintenance/<table>.state keeps, from the last run, the version
 * it looked at, the checkpoint interval and per partition folder an upper
 * bound of its small files (exact after a snapshot load, then raised by
 * the small files each later commit adds; removes are not subtracted, so
 * it only errs towards a snapshot load). A run reads the commits since
 * (delta_changes: one or two per table after a pipeline run), and loads
 * the snapshot only when a checkpoint or a compaction may be due, or the
 * state is missing. When the vacuum last ran is the mtime of
 * <lake>/_maintenance/<table>.vacuumed. Small files beside the lake, not
 * commits: recording them in the table's log would add commits and race
 * the stages' own for nothing, and losing them only costs a snapshot
 * load or one more vacuum. So a run with nothing due lists each table's
 * log, reads its few new commits and two small files, and writes one.
 *
 * Every step is safe under kill -9 and against the other stages running
 * at the same time: a checkpoint is create-if-absent, a compaction
 * commits put-if-absent and gives up when another writer removed its
 * files, log cleanup keeps the log readable at every moment, and vacuum
 * keeps what any retained version names.
 *
 * Exit status: 0 done (also when nothing was due), 1 failure, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "lake_store.h"
#include "clock.h"
#include "delta.h"
#include "duration.h"
#include "log.h"
#include "size.h"
#include "stage_frame.h"

#define DEFAULT_MIN_FILES 16
#define DEFAULT_TARGET_SIZE (128LL << 20)
#define DEFAULT_VACUUM_EVERY (86400LL * 1000000)
#define DEFAULT_CHECKPOINT_INTERVAL 10
/*
 * Row groups of the compacted files: 1 MiB of values (about 20,000
 * silver rows) rather than the stages' 8 MiB. Compacted files are where
 * the transformation's point lookups land (the orders a batch names, in
 * bronze/orders and silver), and a lookup decodes every row group whose
 * orderid range holds one of them: small groups keep that to a few
 * thousand rows per order however large the table grows, and a scanning
 * engine still gets a row group per core.
 */
#define COMPACT_ROW_GROUP_BYTES (1u << 20)
/*
 * Pages of the compacted files: 256 rows, the same rows in every column,
 * each integer page with its min and max in its header and in the file's
 * page index (ColumnIndex and OffsetIndex), integer columns
 * DELTA_BINARY_PACKED and uncompressed (pq_writer_opts.page_rows). In a
 * table clustered by orderid (catalog_table.cluster_by: compaction
 * merges its files in orderid order) a lookup of one order then reads
 * the key column's page bounds from the index and decodes one page per
 * column it reads, not the row group's 20,000 rows, nor any other page's
 * header. A page decoded is the cost a lookup pays per order as the lake
 * ages (the orders a batch names spread over more files and pages): on
 * one 1,000-run lake a batch's lookups cost 3.9 M instructions with
 * pages of 1,024 rows and no index, 1.9 M with 256 rows and the index,
 * most of the rest in zstd's set-up per page (about 20,000 instructions
 * whatever the page's size), which delta-packed integers do without.
 */
#define COMPACT_PAGE_ROWS 256
#define STATE_DIR "_maintenance"

/*
 * The lake's tables are the catalog's (catalog_tables, catalog.h),
 * which also says which table's compaction waits for another's
 * (catalog_table.settled_by).
 */

typedef struct maint_opts {
	int compact_min_files;		/* 0: never compact */
	int64_t target_size;
	int64_t vacuum_every_us;	/* < 0: never vacuum */
	int64_t file_retention_us;	/* < 0: the table's property */
	int64_t log_retention_us;	/* < 0: the table's property */
} maint_opts;

/* The process's one context: the frame's run callback has none. */
static maint_opts opts = { DEFAULT_MIN_FILES, DEFAULT_TARGET_SIZE,
	DEFAULT_VACUUM_EVERY, -1, -1 };

typedef struct maint_counts {
	int tables, snapshots, checkpoints, compactions, vacuums;
	int64_t files_compacted, files_written, log_files_deleted;
	int64_t data_files_deleted;
} maint_counts;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: maintenance [--lake DIR] [-v] [options]\n"
	    "\n"
	    "Keeps the lake's tables cheap to read: a checkpoint where one is\n"
	    "due, compaction of partitions with many small files, and every\n"
	    "so often log cleanup and vacuum. Tables: bronze/orders,\n"
	    "bronze/ordershistory, silver/allorders, silver/rejected,\n"
	    "gold/branch_state, gold/branch_metrics.\n"
	    "\n"
	    "  --lake DIR                the lake (default $MEDALLION_LAKE)\n"
	    "  --compact-min-files N     compact the newest partition once it "
	    "holds more\n"
	    "                            than N small files (default 16; 0: "
	    "never);\n"
	    "                            an older one once it holds two\n"
	    "  --target-size SIZE        compacted file size, small = under a "
	    "quarter\n"
	    "                            (default 128MiB)\n"
	    "  --vacuum-every DURATION   log cleanup and vacuum at most this "
	    "often\n"
	    "                            (default 1d; 0: every run; never)\n"
	    "  --file-retention DURATION override "
	    "delta.deletedFileRetentionDuration\n"
	    "  --log-retention DURATION  override delta.logRetentionDuration\n"
	    "  -v                        say what each table needed\n"
	    "  -h, --help                this help\n"
	    "  -V, --version             print the version\n"
	    "\n"
	    "exit status: 0 done (also when nothing was due), 1 failure, 2 "
	    "usage\n");
}

/* --- options ---------------------------------------------------------- */

static int
parse_count(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < 0 || v > 1000000) {
		log_warnx("--compact-min-files wants a count (0 to 1000000), "
		    "not %s", s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* --target-size: bytes, binary units (common/size.c). */
static int
parse_size(const char *s, int64_t *bytes)
{
	if (size_parse(s, bytes) == 0)
		return 0;
	log_warnx("--target-size wants a positive size such as 128MiB, not "
	    "%s", s);
	return -1;
}

/* A duration, or "never" (-1) where allowed. */
static int
parse_when(const char *name, const char *s, int never_ok, int64_t *us)
{
	char why[128];

	if (never_ok && strcmp(s, "never") == 0) {
		*us = -1;
		return 0;
	}
	if (duration_parse(s, us, why, sizeof(why)) == -1) {
		log_warnx("%s: %s", name, why);
		return -1;
	}
	return 0;
}

/* One of our options at argv[i] (as "--x V" or "--x=V"): 1 and the
 * arguments it took in *used, 0 when it is not ours, -1 when bad. */
static int
take_option(int argc, char **argv, int i, int *used)
{
	static const char *const names[] = { "--compact-min-files",
		"--target-size", "--vacuum-every", "--file-retention",
		"--log-retention" };
	const char *arg = argv[i], *value = NULL;
	size_t k, n = 0;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		n = strlen(names[k]);
		if (strncmp(arg, names[k], n) == 0 && (arg[n] == '\0' ||
		    arg[n] == '='))
			break;
	}
	if (k == sizeof(names) / sizeof(names[0]))
		return 0;
	if (arg[n] == '=') {
		value = arg + n + 1;
		*used = 1;
	} else if (i + 1 < argc) {
		value = argv[i + 1];
		*used = 2;
	} else {
		log_warnx("%s needs a value", names[k]);
		return -1;
	}
	switch (k) {
	case 0:
		return parse_count(value, &opts.compact_min_files) == 0 ? 1 : -1;
	case 1:
		return parse_size(value, &opts.target_size) == 0 ? 1 : -1;
	case 2:
		return parse_when(names[k], value, 1, &opts.vacuum_every_us) ==
		    0 ? 1 : -1;
	case 3:
		return parse_when(names[k], value, 0, &opts.file_retention_us) ==
		    0 ? 1 : -1;
	default:
		return parse_when(names[k], value, 0, &opts.log_retention_us) ==
		    0 ? 1 : -1;
	}
}

/* Takes our options out of argv, leaving the frame's (--lake, -v...). */
static int
take_options(int *argc, char **argv)
{
	int out = 1;

	for (int i = 1; i < *argc;) {
		int used = 1, rc;

		if (strcmp(argv[i], "--") == 0)
			break;
		if ((rc = take_option(*argc, argv, i, &used)) == -1)
			return -1;
		if (rc == 0)
			argv[out++] = argv[i];
		i += used;
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

/* --- steps ------------------------------------------------------------ */

static int64_t
checkpoint_interval(const delta_snapshot *snap)
{
	const char *v = delta_snapshot_property(snap,
	    "delta.checkpointInterval");
	long long n = v ? strtoll(v, NULL, 10) : 0;

	return n > 0 ? n : DEFAULT_CHECKPOINT_INTERVAL;
}

/* The version of the newest checkpoint (_last_checkpoint), or -1. */
static int64_t
last_checkpoint(const char *table)
{
	char path[4200], *p;
	uint8_t *buf;
	size_t n;
	int64_t v = -1;

	if (snprintf(path, sizeof(path), "%s/_delta_log/_last_checkpoint",
	    table) >= (int)sizeof(path) || lake_store_read_all(path, &buf, &n,
	    NULL) != 0)
		return -1;
	if (n > 0 && (p = strstr((char *)buf, "\"version\":")) != NULL)
		v = strtoll(p + 10, NULL, 10);
	free(buf);
	return v;
}

/*
 * A checkpoint when the newest version is an interval or more past the
 * newest checkpoint (or past version 0 when there is none: a table from
 * before checkpoints, upgraded in place).
 */
static int
checkpoint_if_due(const char *table, const delta_snapshot *snap,
    maint_counts *c, lake_err *err)
{
	int64_t last = last_checkpoint(table);

	if (snap->version - (last < 0 ? 0 : last) < checkpoint_interval(snap))
		return 0;
	if (delta_checkpoint(table, snap->version, err) != DELTA_OK) {
		lake_err_prefix(err, "checkpoint of %s at version %" PRId64,
		    table, snap->version);
		return -1;
	}
	log_info("%s: checkpoint at version %" PRId64 " (the newest was %s)",
	    table, snap->version, last < 0 ? "none" : "older");
	c->checkpoints++;
	return 0;
}

/* Whether an unfinished multi-table write may still need table's files
 * as they are (see catalog_table.settled_by). */
static int
unsettled(const char *lake, const catalog_table *t,
    const delta_snapshot *snap, lake_err *err)
{
	char other[4096];
	delta_snapshot *s;
	int64_t ours, theirs;
	int rc;

	if (t->settled_by == NULL)
		return 0;
	if (catalog_table_dir(t->settled_by, lake, other, sizeof(other)) ==
	    -1) {
		lake_err_set(err, "%s/%s: path too long", lake,
		    t->settled_by->path);
		return -1;
	}
	ours = delta_snapshot_txn_version(snap, t->settled_app);
	if ((rc = delta_snapshot_load_meta(other, &s, err)) == DELTA_ERROR)
		return -1;
	theirs = rc == DELTA_OK ? delta_snapshot_txn_version(s,
	    t->settled_app) : -1;
	delta_snapshot_free(s);
	return ours > theirs;
}

static int
compact_if_due(const char *lake, const catalog_table *t, const char *table,
    const delta_snapshot *snap, maint_counts *c, lake_err *err)
{
	delta_optimize_opts o;
	delta_optimize_result res;
	int rc;

	if (opts.compact_min_files == 0)
		return 0;
	delta_optimize_opts_default(&o);
	o.target_size = opts.target_size;
	o.min_small_files = opts.compact_min_files;
	o.tiered = 1;
	o.row_group_bytes = COMPACT_ROW_GROUP_BYTES;
	o.page_rows = COMPACT_PAGE_ROWS;
	o.sort_by = t->cluster_by;
	if ((rc = delta_optimize_due(snap, &o, err)) <= 0)
		return rc;
	if ((rc = unsettled(lake, t, snap, err)) != 0) {
		if (rc == 1)
			log_info("%s: compaction waits for an unfinished %s run",
			    table, t->settled_app);
		return rc == 1 ? 0 : -1;
	}
	rc = delta_optimize_snapshot(snap, &o, &res, err);
	if (rc == DELTA_CONFLICT) {
		/* Another compaction won: what it left waits for the next run. */
		log_warnx("%s", err->msg);
		return 0;
	}
	if (rc != DELTA_OK) {
		lake_err_prefix(err, "compaction of %s", table);
		return -1;
	}
	log_info("%s: version %" PRId64 ": %" PRId64 " small files compacted "
	    "into %" PRId64 " in %d partitions", table, res.version,
	    res.files_removed, res.files_added, res.partitions);
	c->compactions++;
	c->files_compacted += res.files_removed;
	c->files_written += res.files_added;
	return 0;
}

/* <lake>/_maintenance/<table, / as .><suffix> */
static int
marker_path(const char *lake, const char *name, const char *suffix,
    char *out, size_t len)
{
	char *p;
	int n = snprintf(out, len, "%s/" STATE_DIR "/%s%s", lake, name,
	    suffix);

	if (n < 0 || (size_t)n >= len)
		return -1;
	for (p = out + strlen(lake) + strlen(STATE_DIR) + 2; *p; p++)
		if (*p == '/')
			*p = '.';
	return 0;
}

static int
vacuum_due(const char *marker, int64_t now_us)
{
	int64_t mtime_us;

	if (opts.vacuum_every_us < 0)
		return 0;
	if (lake_store_stat(marker, NULL, &mtime_us, NULL) != 0)
		return 1;
	/* Whole seconds, as st_mtime was. */
	return now_us - mtime_us / 1000000 * 1000000 >= opts.vacuum_every_us;
}

static int
make_state_dir(const char *lake, lake_err *err)
{
	char dir[4096];

	if (snprintf(dir, sizeof(dir), "%s/" STATE_DIR, lake) >=
	    (int)sizeof(dir)) {
		lake_err_set(err, "%s: path too long", lake);
		return -1;
	}
	return lake_store_mkdirs(dir, err) == 0 ? 0 : -1;
}

/* Creates or touches the marker; its mtime says when the vacuum ran. */
static int
touch_marker(const char *lake, const char *marker, lake_err *err)
{
	if (make_state_dir(lake, err) == -1)
		return -1;
	/* Rewritten empty: its new modification time is what counts. */
	return lake_store_write_cache(marker, "", 0, err) == 0 ? 0 : -1;
}

static int
vacuum_if_due(const char *lake, const catalog_table *t, const char *table,
    maint_counts *c, lake_err *err)
{
	char marker[4200];
	int64_t now = clock_now_us();
	int logs, files;

	if (marker_path(lake, t->path, ".vacuumed", marker, sizeof(marker)) ==
	    -1) {
		lake_err_set(err, "%s: path too long", lake);
		return -1;
	}
	if (!vacuum_due(marker, now))
		return 0;
	if ((logs = delta_log_cleanup(table, opts.log_retention_us, now, NULL,
	    NULL, err)) < 0) {
		lake_err_prefix(err, "log cleanup of %s", table);
		return -1;
	}
	if ((files = delta_vacuum_retained(table, opts.file_retention_us, now, 0,
	    NULL, NULL, err)) < 0) {
		lake_err_prefix(err, "vacuum of %s", table);
		return -1;
	}
	if (touch_marker(lake, marker, err) == -1)
		return -1;
	if (logs > 0 || files > 0)
		log_info("%s: %d expired log files and %d unreferenced data "
		    "files deleted", table, logs, files);
	c->vacuums++;
	c->log_files_deleted += logs;
	c->data_files_deleted += files;
	return 0;
}

/* --- what the last run learnt ---------------------------------------- */

typedef struct table_state {
	int64_t version;	/* looked at; -1: unknown, load the snapshot */
	int64_t small_size;	/* what "small" meant then */
	int64_t interval;	/* delta.checkpointInterval */
	int64_t log_ino;	/* _delta_log's inode: a table deleted and
				   written again is another table */
	char **folders;		/* partition folders ("" unpartitioned) */
	int64_t *small;		/* small files in each, an upper bound */
	size_t n, cap;
} table_state;

static void
state_clear(table_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->folders[i]);
	free(st->folders);
	free(st->small);
	memset(st, 0, sizeof(*st));
	st->version = -1;
}

/* folder against the first len bytes of key, as strcmp would order them. */
static int
folder_cmp(const char *folder, const char *key, size_t len)
{
	int c = strncmp(folder, key, len);

	return c != 0 ? c : folder[len] != '\0';
}

/*
 * Where folder key[0..len) is in st->folders, kept in name order, or
 * where it would go: a binary search. A linear one made every run
 * quadratic in the partitions (a bronze table of 2,500 date partitions,
 * seven years of days: 45 ms a run, all in strncmp).
 */
static size_t
state_find(const table_state *st, const char *key, size_t len, int *found)
{
	size_t lo = 0, hi = st->n;

	*found = 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = folder_cmp(st->folders[mid], key, len);

		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
state_grow(table_state *st)
{
	size_t cap = st->cap ? st->cap * 2 : 16;
	char **nf;
	int64_t *ns;

	if ((nf = realloc(st->folders, cap * sizeof(*nf))) == NULL)
		return -1;
	st->folders = nf;
	if ((ns = realloc(st->small, cap * sizeof(*ns))) == NULL)
		return -1;
	st->small = ns;
	st->cap = cap;
	return 0;
}

/* Adds k small files to folder (the part of path before its name). */
static int
state_count(table_state *st, const char *path, int64_t k)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;
	int found;
	size_t i = state_find(st, path, len, &found);
	char *folder;

	if (found) {
		st->small[i] += k;
		return 0;
	}
	if ((st->n == st->cap && state_grow(st) == -1) ||
	    (folder = strndup(path, len)) == NULL)
		return -1;
	memmove(st->folders + i + 1, st->folders + i,
	    (st->n - i) * sizeof(*st->folders));
	memmove(st->small + i + 1, st->small + i,
	    (st->n - i) * sizeof(*st->small));
	st->folders[i] = folder;
	st->small[i] = k;
	st->n++;
	return 0;
}

/*
 * Whether a compaction may be due by the counts: the last folder (in
 * name order, which is partition-value order for a date, and the order
 * st->folders is kept in) holds more than min_files small files, or
 * another one holds two or more.
 */
static int
state_compaction_may_be_due(const table_state *st, int min_files)
{
	size_t last = st->n - 1;

	for (size_t i = 0; i < st->n; i++)
		if (st->small[i] > (i == last ? min_files : 1))
			return 1;
	return 0;
}

/* Reads the state file; st->version stays -1 when it is missing or not
 * ours (a snapshot load then rebuilds it). */
static void
state_read(const char *path, table_state *st)
{
	char line[4200];
	long long a, b;
	int n;
	uint8_t *text;
	size_t len;
	FILE *f;

	state_clear(st);
	if (lake_store_read_all(path, &text, &len, NULL) != 0)
		return;
	if (len == 0 || (f = fmemopen(text, len, "r")) == NULL) {
		free(text);
		return;
	}
	if (fgets(line, sizeof(line), f) == NULL ||
	    strcmp(line, "medallion-maintenance 1\n") != 0 ||
	    fscanf(f, "version %lld small %lld interval %lld log %lld\n", &a,
	    &b, (long long *)&st->interval, (long long *)&st->log_ino) != 4)
		goto bad;
	while (fgets(line, sizeof(line), f) != NULL) {
		long long count;
		size_t len = strcspn(line, "\n");

		/* "<count> <folder>/" (the folder may be empty): the slash
		 * ends it as a file name would, for state_count. */
		line[len] = '\0';
		if (sscanf(line, "%lld %n", &count, &n) != 1 || count < 0 ||
		    len == 0 || line[len - 1] != '/' ||
		    state_count(st, line + n, count) == -1)
			goto bad;
	}
	fclose(f);
	free(text);
	st->version = a;
	st->small_size = b;
	return;
bad:
	fclose(f);
	free(text);
	state_clear(st);
}

/* Written whole to a temp file and renamed: a crash leaves the old
 * state or the new, and a lost one only costs a snapshot load. */
static int
state_write(const char *lake, const char *path, const table_state *st,
    lake_err *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int bad;

	if (make_state_dir(lake, err) == -1)
		return -1;
	if ((f = open_memstream(&text, &len)) == NULL) {
		lake_err_errno(err, "cannot write %s", path);
		return -1;
	}
	fprintf(f, "medallion-maintenance 1\nversion %lld small %lld interval "
	    "%lld log %lld\n", (long long)st->version, (long long)st->small_size,
	    (long long)st->interval, (long long)st->log_ino);
	for (size_t i = 0; i < st->n; i++)
		if (st->small[i] > 0)
			fprintf(f, "%lld %s/\n", (long long)st->small[i],
			    st->folders[i]);
	bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		lake_err_errno(err, "cannot write %s", path);
		free(text);
		return -1;
	}
	bad = lake_store_write_cache(path, text, len, err) != 0;
	free(text);
	return bad ? -1 : 0;
}

/* The exact state of a snapshot. */
static int
state_from_snapshot(table_state *st, const delta_snapshot *snap,
    int64_t small_size)
{
	state_clear(st);
	st->version = snap->version;
	st->small_size = small_size;
	st->interval = checkpoint_interval(snap);
	for (size_t i = 0; i < snap->nfiles; i++)
		if (snap->files[i].size < small_size &&
		    state_count(st, snap->files[i].path, 1) == -1)
			return -1;
	return 0;
}

/*
 * Brings st from its version to latest with the small files the commits
 * since added (delta_changes: compaction outputs are skipped, which is
 * safe since each replaces at least two counted inputs). 0, or -1 when
 * those commits cannot be read (cleaned up): load the snapshot.
 */
static int
state_advance(table_state *st, const char *table, int64_t latest)
{
	delta_file *files;
	size_t n;
	lake_err err;
	int rc = 0;

	if (latest <= st->version)
		return 0;
	if (delta_changes(table, st->version, latest, &files, &n, &err) == -1)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (files[i].size < st->small_size)
			rc = state_count(st, files[i].path, 1);
	delta_files_free(files, n);
	st->version = latest;
	return rc;
}

/* Whether a checkpoint or a compaction may be due, by the state alone. */
static int
may_be_due(const table_state *st, const char *table)
{
	int64_t last = last_checkpoint(table);

	if (st->version - (last < 0 ? 0 : last) >= st->interval)
		return 1;
	return opts.compact_min_files > 0 &&
	    state_compaction_may_be_due(st, opts.compact_min_files);
}

/* The snapshot steps: checkpoint and compaction, then the exact state
 * (unknown after a compaction: the next run loads the snapshot). */
static int
snapshot_steps(const char *lake, const catalog_table *t, const char *table,
    table_state *st, maint_counts *c, lake_err *err)
{
	delta_snapshot *snap = NULL;
	int compactions = c->compactions, rc;

	if ((rc = delta_snapshot_load(table, -1, &snap, err)) != DELTA_OK)
		return rc == DELTA_NO_TABLE ? 0 : -1;
	rc = checkpoint_if_due(table, snap, c, err) == 0 &&
	    compact_if_due(lake, t, table, snap, c, err) == 0 ? 0 : -1;
	if (rc == 0 && state_from_snapshot(st, snap, opts.target_size / 4) ==
	    -1) {
		lake_err_set(err, "%s: out of memory", table);
		rc = -1;
	}
	if (c->compactions > compactions)
		st->version = -1;
	delta_snapshot_free(snap);
	return rc;
}

static int64_t
log_inode(const char *table)
{
	char path[4200];
	struct stat sb;
	int64_t mtime_us;

	/* An object store has no folder to be the table's identity: the
	 * first commit's time stands in (gone after log cleanup, so the
	 * state is then rebuilt from a snapshot each time). */
	if (lake_store_is_remote(table)) {
		snprintf(path, sizeof(path), "%s/_delta_log/%020d.json", table,
		    0);
		return lake_store_stat(path, NULL, &mtime_us, NULL) == 0 ?
		    mtime_us : -1;
	}
	snprintf(path, sizeof(path), "%s/_delta_log", table);
	return stat(path, &sb) == 0 ? (int64_t)sb.st_ino : -1;
}

static int
maintain(const char *lake, const catalog_table *t, maint_counts *c,
    lake_err *err)
{
	table_state st = { 0 };
	char table[4096], state_path[4200];
	int64_t latest;
	int rc = -1, found;

	if (snprintf(table, sizeof(table), "%s/%s", lake, t->path) >=
	    (int)sizeof(table) || marker_path(lake, t->path, ".state",
	    state_path, sizeof(state_path)) == -1) {
		lake_err_set(err, "%s/%s: path too long", lake, t->path);
		return -1;
	}
	if ((found = delta_latest_version(table, &latest, err)) ==
	    DELTA_NO_TABLE)
		return 0;	/* not written yet */
	if (found != DELTA_OK)
		return -1;
	c->tables++;
	state_read(state_path, &st);
	if (st.version < 0 || st.version > latest ||
	    st.log_ino != log_inode(table) ||
	    st.small_size != opts.target_size / 4 ||
	    state_advance(&st, table, latest) == -1 || may_be_due(&st, table)) {
		c->snapshots++;
		if (snapshot_steps(lake, t, table, &st, c, err) == -1)
			goto out;
		st.log_ino = log_inode(table);
	}
	rc = vacuum_if_due(lake, t, table, c, err) == 0 &&
	    state_write(lake, state_path, &st, err) == 0 ? 0 : -1;
out:
	state_clear(&st);
	return rc;
}

/* Every table, even after one fails; the first failure is reported.
 * (The options are parsed before the frame's: they live in opts.) */
static int
run(void *ctx, const char *lake, lake_err *err)
{
	maint_counts c = { 0 };
	int64_t t0 = clock_mono_us();
	int failed = 0;

	(void)ctx;
	for (int i = 0; i < CATALOG_NTABLES; i++) {
		lake_err e;

		e.msg[0] = '\0';
		if (maintain(lake, catalog_tables[i], &c, &e) == -1) {
			log_warnx("%s", e.msg);
			if (!failed++)
				*err = e;
		}
	}
	log_info("%d tables (%d snapshots read): %d checkpoints, %d "
	    "compactions (%" PRId64
	    " files into %" PRId64 "), %d vacuums (%" PRId64 " log and %"
	    PRId64 " data files deleted) in %.1f ms", c.tables, c.snapshots,
	    c.checkpoints,
	    c.compactions, c.files_compacted, c.files_written, c.vacuums,
	    c.log_files_deleted, c.data_files_deleted,
	    (clock_mono_us() - t0) / 1e3);
	if (failed > 1)
		lake_err_prefix(err, "%d tables failed, the first", failed);
	return failed ? DELTA_ERROR : DELTA_OK;
}

int
main(int argc, char **argv)
{
	static const stage_frame stage = { "maintenance", usage, run, NULL,
		NULL, NULL, NULL };

	log_init("maintenance", 0);
	if (take_options(&argc, argv) == -1) {
		usage(stderr);
		return STAGE_EXIT_USAGE;
	}
	return stage_frame_run_main(argc, argv, &stage);
}
