/*
 * test_checkpoint.c - unit tests of Delta checkpoints and log retention.
 *
 * A table of 60+ commits (adds, removes, partition values with special
 * characters and nulls, txns of several appIds, checkpointInterval 7) is
 * loaded at every version through its checkpoints and compared with a
 * pure JSON replay of the same commits (a copy of the log without the
 * checkpoints). Also: the meta-only load, an explicit checkpoint, a
 * damaged checkpoint that readers must not trust, a checkpoint failure
 * that must not fail its commit, tombstones kept within retention, and
 * log cleanup with backdated modification times (what goes, what stays,
 * what time travel says about versions that are gone).
 *
 * Helper modes for tests/delta/checkpoint.sh:
 *   test_checkpoint make TABLE [N]        the special-character table,
 *                                         N commits (default 20)
 *   test_checkpoint paths TABLE           the live add paths, escaped
 *   test_checkpoint churn TABLE FILES N   N commits of one add and one
 *                                         remove over FILES live files,
 *                                         a checkpoint after each
 *   test_checkpoint same TABLE            0 when the table's snapshot
 *                                         equals a JSON replay of its log
 *   test_checkpoint verify TABLE          0 when every checkpoint file
 *                                         reads whole (no fallback)
 *   test_checkpoint checkpoint TABLE V    writes the checkpoint of V
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "clock.h"
#include "delta.h"
#include "delta_internal.h"
#include "expect.h"

/* The newest version, or the error code when there is none. */
static int64_t
newest_version(const char *table, lake_err *err)
{
	int64_t v;
	int rc = delta_latest_version(table, &v, err);

	return rc == DELTA_OK ? v : rc;
}

/* The oldest readable version, or the error code. */
static int64_t
oldest_version(const char *table, lake_err *err)
{
	int64_t v;
	int rc = delta_oldest_version(table, &v, err);

	return rc == DELTA_OK ? v : rc;
}

#define DAY_US (86400LL * 1000000)

static pq_column_def cols[] = {
	{ "id", PQ_INT64, 0, 0, 0 },
};
static const pq_schema schema = { cols, 1 };
static const char *const pcols[] = { "date", "label" };

/* Partition labels that need escaping in paths and care in maps. */
static const char *const labels[] = { "plain", "a b", "x/y=z", "%41",
	"caf\xc3\xa9", "", NULL };
#define NLABELS 7

/* --- building tables ---------------------------------------------- */

static int
commit_new_table(const char *dir, const char *interval, lake_err *err)
{
	delta_commit *c = delta_commit_begin(dir, NULL);
	int64_t v;
	int rc = -1;

	if (c != NULL && delta_commit_set_metadata(c, &schema, pcols, 2,
	    err) == 0 && (interval == NULL || delta_commit_set_property(c,
	    "delta.checkpointInterval", interval, err) == 0) &&
	    delta_commit_set_info(c, "CREATE TABLE", NULL, err) == 0 &&
	    delta_commit_finish(c, &v, err) == DELTA_OK)
		rc = 0;
	delta_commit_free(c);
	return rc;
}

/*
 * Commit number k (k >= 1): two adds, and from k >= 3 a remove of a file
 * the commit k-2 added; a txn of one of three appIds.
 */
static int
commit_step(const char *dir, int k, lake_err *err)
{
	delta_snapshot *base = NULL;
	delta_commit *c = NULL;
	char path[256], date[16], app[16];
	int64_t v;
	int rc = -1;

	if (delta_snapshot_load_meta(dir, &base, err) != DELTA_OK ||
	    (c = delta_commit_begin(dir, base)) == NULL)
		goto out;
	for (int i = 0; i < 2; i++) {
		const char *label = labels[(k + i) % NLABELS];
		const char *pv[2] = { date, label };

		snprintf(date, sizeof(date), "2026-11-%02d", k % 28 + 1);
		snprintf(path, sizeof(path), "date=%s/label=%s/part-%d-%d "
		    "x%%.parquet", date, label ? label : "__null__", k, i);
		if (delta_commit_add(c, path, pv, 1000 + k * 10 + i, NULL,
		    err) == -1)
			goto out;
	}
	if (k >= 3) {
		const char *label = labels[(k - 2) % NLABELS];

		snprintf(date, sizeof(date), "2026-11-%02d", (k - 2) % 28 + 1);
		snprintf(path, sizeof(path), "date=%s/label=%s/part-%d-0 "
		    "x%%.parquet", date, label ? label : "__null__", k - 2);
		if (delta_commit_remove(c, path, err) == -1)
			goto out;
	}
	snprintf(app, sizeof(app), "app-%d", k % 3);
	if (delta_commit_set_txn(c, app, k, err) == -1 ||
	    delta_commit_set_info(c, "WRITE", NULL, err) == -1 ||
	    delta_commit_finish(c, &v, err) != DELTA_OK)
		goto out;
	rc = v == k ? 0 : -1;
	if (rc == -1)
		lake_err_set(err, "commit %d took version %" PRId64, k, v);
out:
	delta_commit_free(c);
	delta_snapshot_free(base);
	return rc;
}

static int
make_table(const char *dir, int commits, const char *interval,
    lake_err *err)
{
	if (commit_new_table(dir, interval, err) == -1)
		return -1;
	for (int k = 1; k <= commits; k++)
		if (commit_step(dir, k, err) == -1)
			return -1;
	return 0;
}

/* A copy of dir's log with its JSON commits only (hard links). */
static int
json_only_copy(const char *dir, const char *copy)
{
	char from[4096], to[4096];
	struct dirent *de;
	DIR *d;

	snprintf(to, sizeof(to), "%s/_delta_log", copy);
	if (mkdir(copy, 0755) == -1 || mkdir(to, 0755) == -1)
		return -1;
	snprintf(from, sizeof(from), "%s/_delta_log", dir);
	if ((d = opendir(from)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		char a[8192], b[8192];

		if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0 ||
		    de->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, de->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, de->d_name);
		if (link(a, b) == -1) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* --- comparing snapshots ------------------------------------------ */

static int
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Describes the first difference into why; 0 when equal. */
static int
snapshot_diff(const delta_snapshot *a, const delta_snapshot *b,
    char *why, size_t len)
{
	if (a->version != b->version || !str_eq(a->table_id, b->table_id) ||
	    a->schema.ncols != b->schema.ncols || a->npartition_columns !=
	    b->npartition_columns || a->nfiles != b->nfiles || a->ntxns !=
	    b->ntxns || a->nconfig != b->nconfig) {
		snprintf(why, len, "counts differ: v %" PRId64 "/%" PRId64
		    " files %zu/%zu txns %zu/%zu config %d/%d", a->version,
		    b->version, a->nfiles, b->nfiles, a->ntxns, b->ntxns,
		    a->nconfig, b->nconfig);
		return 1;
	}
	for (int i = 0; i < a->schema.ncols; i++)
		if (!str_eq(a->schema.cols[i].name, b->schema.cols[i].name) ||
		    a->schema.cols[i].type != b->schema.cols[i].type) {
			snprintf(why, len, "column %d differs", i);
			return 1;
		}
	for (size_t i = 0; i < a->nfiles; i++) {
		const delta_file *x = &a->files[i], *y = &b->files[i];

		if (!str_eq(x->path, y->path) || x->size != y->size ||
		    x->modification_time != y->modification_time ||
		    x->num_records != y->num_records ||
		    !str_eq(x->stats_json, y->stats_json) ||
		    x->added_in_version != y->added_in_version) {
			snprintf(why, len, "file %zu differs: %s / %s", i,
			    x->path, y->path);
			return 1;
		}
		for (int k = 0; k < a->npartition_columns; k++)
			if (!str_eq(x->partition_values[k],
			    y->partition_values[k])) {
				snprintf(why, len, "%s: partition value %d "
				    "differs: %s / %s", x->path, k,
				    x->partition_values[k] ?: "null",
				    y->partition_values[k] ?: "null");
				return 1;
			}
	}
	for (size_t i = 0; i < a->ntxns; i++)
		if (delta_snapshot_txn_version(b, a->txns[i].app_id) !=
		    a->txns[i].version) {
			snprintf(why, len, "txn %s differs", a->txns[i].app_id);
			return 1;
		}
	for (int i = 0; i < a->nconfig; i++)
		if (!str_eq(delta_snapshot_property(b, a->config_keys[i]),
		    a->config_values[i])) {
			snprintf(why, len, "property %s differs",
			    a->config_keys[i]);
			return 1;
		}
	return 0;
}

/* Loads both tables at version and compares; 0 when equal. */
static int
compare_at(const char *dir, const char *copy, int64_t version)
{
	delta_snapshot *a = NULL, *b = NULL;
	lake_err err;
	char why[512] = "";
	int rc = 1;

	if (delta_snapshot_load(dir, version, &a, &err) != DELTA_OK) {
		EXPECT(0, "load %s at %" PRId64 ": %s", dir, version, err.msg);
		goto out;
	}
	if (delta_snapshot_load(copy, version, &b, &err) != DELTA_OK) {
		EXPECT(0, "load %s at %" PRId64 ": %s", copy, version,
		    err.msg);
		goto out;
	}
	rc = snapshot_diff(a, b, why, sizeof(why));
	EXPECT(rc == 0, "version %" PRId64 ": checkpoint and JSON replay "
	    "differ: %s", version, why);
out:
	delta_snapshot_free(a);
	delta_snapshot_free(b);
	return rc;
}

static int
log_file_exists(const char *dir, int64_t version, const char *suffix)
{
	char *p = delta_log_file(dir, version, suffix);
	int ok = p != NULL && access(p, F_OK) == 0;

	free(p);
	return ok;
}

/* --- tests -------------------------------------------------------- */

static void
test_replay_equivalence(const char *tmp)
{
	char dir[4096], copy[4096];
	lake_err err;
	delta_snapshot *meta = NULL, *full = NULL;
	int diffs = 0;

	snprintf(dir, sizeof(dir), "%s/special", tmp);
	snprintf(copy, sizeof(copy), "%s/special-json", tmp);
	EXPECT(make_table(dir, 62, "7", &err) == 0, "make table: %s",
	    err.msg);
	for (int64_t v = 7; v <= 62; v += 7)
		EXPECT(log_file_exists(dir, v, ".checkpoint.parquet"),
		    "checkpoint %" PRId64 " written", v);
	EXPECT(!log_file_exists(dir, 8, ".checkpoint.parquet"),
	    "no checkpoint off the interval");
	EXPECT(delta_last_checkpoint_hint(dir) == 56,
	    "_last_checkpoint names 56, not %" PRId64,
	    delta_last_checkpoint_hint(dir));
	EXPECT(json_only_copy(dir, copy) == 0, "copy the JSON log");
	for (int64_t v = 0; v <= 62; v++)
		diffs += compare_at(dir, copy, v);
	EXPECT(diffs == 0, "%d versions differ", diffs);

	/* The meta-only load starts at the checkpoint too. */
	EXPECT(delta_snapshot_load_meta(dir, &meta, &err) == DELTA_OK,
	    "load meta: %s", err.msg);
	EXPECT(delta_snapshot_load(copy, -1, &full, &err) == DELTA_OK,
	    "load: %s", err.msg);
	if (meta != NULL && full != NULL) {
		EXPECT(meta->nfiles == 0 && meta->version == 62 &&
		    meta->ntxns == 3 && delta_snapshot_txn_version(meta,
		    "app-2") == delta_snapshot_txn_version(full, "app-2"),
		    "meta-only snapshot has the txns");
		EXPECT(str_eq(delta_snapshot_property(meta,
		    "delta.checkpointInterval"), "7"), "property kept");
	}
	delta_snapshot_free(meta);
	delta_snapshot_free(full);

	/* An explicit checkpoint off the interval reads the same. */
	EXPECT(delta_checkpoint(dir, 60, &err) == DELTA_OK, "checkpoint 60: "
	    "%s", err.msg);
	EXPECT(log_file_exists(dir, 60, ".checkpoint.parquet"),
	    "checkpoint 60 exists");
	for (int64_t v = 60; v <= 62; v++)
		EXPECT(compare_at(dir, copy, v) == 0, "from checkpoint 60");
	EXPECT(delta_last_checkpoint_hint(dir) == 60, "hint moved to 60");
}

/* A checkpoint that cannot be read is not trusted: readers start from an
 * older one (or from commit 0) instead. */
static void
test_damaged_checkpoint(const char *tmp)
{
	char dir[4096], copy[4096];
	char *ck;
	struct stat st;
	lake_err err;

	snprintf(dir, sizeof(dir), "%s/damaged", tmp);
	snprintf(copy, sizeof(copy), "%s/damaged-json", tmp);
	EXPECT(make_table(dir, 22, "5", &err) == 0, "make: %s", err.msg);
	EXPECT(json_only_copy(dir, copy) == 0, "copy");
	ck = delta_log_file(dir, 20, ".checkpoint.parquet");
	EXPECT(stat(ck, &st) == 0 && truncate(ck, st.st_size / 2) == 0,
	    "truncate checkpoint 20");
	EXPECT(compare_at(dir, copy, 22) == 0, "reads past a torn checkpoint");
	EXPECT(compare_at(dir, copy, 20) == 0, "reads version 20 without it");
	EXPECT(truncate(ck, 0) == 0, "empty checkpoint 20");
	EXPECT(compare_at(dir, copy, 21) == 0, "reads past an empty one");
	free(ck);
}

/* Writes _last_checkpoint naming version. */
static int
set_hint(const char *dir, int64_t version)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/_delta_log/_last_checkpoint", dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "{\"version\":%" PRId64 ",\"size\":1}\n", version);
	return fclose(f);
}

/*
 * The newest version and snapshot come from _last_checkpoint and the
 * commits after it, without listing the log: a stale hint, one naming a
 * checkpoint that is gone, and none at all give the same answers.
 */
static void
test_hint(const char *tmp)
{
	char dir[4096], copy[4096], path[4200];
	lake_err err;

	snprintf(dir, sizeof(dir), "%s/hint", tmp);
	snprintf(copy, sizeof(copy), "%s/hint-json", tmp);
	EXPECT(make_table(dir, 33, "10", &err) == 0, "make: %s", err.msg);
	EXPECT(json_only_copy(dir, copy) == 0, "copy");
	EXPECT(delta_last_checkpoint_hint(dir) == 30, "hint 30");
	EXPECT(newest_version(dir, &err) == 33, "newest 33 from hint");
	EXPECT(compare_at(dir, copy, -1) == 0, "newest from the hint");
	EXPECT(compare_at(dir, copy, 31) == 0, "31, after the hint");

	EXPECT(set_hint(dir, 10) == 0, "stale hint");
	EXPECT(newest_version(dir, &err) == 33, "newest 33 from a "
	    "stale hint");
	EXPECT(compare_at(dir, copy, -1) == 0, "newest from a stale hint");

	EXPECT(set_hint(dir, 40) == 0, "hint past the end");
	EXPECT(newest_version(dir, &err) == 33, "newest 33 when the "
	    "hinted checkpoint does not exist");
	EXPECT(compare_at(dir, copy, -1) == 0, "newest, hint past the end");

	EXPECT(set_hint(dir, 30) == 0, "hint 30 again");
	snprintf(path, sizeof(path), "%s/_delta_log/%020d.checkpoint.parquet",
	    dir, 30);
	EXPECT(unlink(path) == 0, "remove checkpoint 30");
	EXPECT(newest_version(dir, &err) == 33, "newest 33 when the "
	    "hinted checkpoint is gone");
	EXPECT(compare_at(dir, copy, -1) == 0, "newest, hinted one gone");
	EXPECT(compare_at(dir, copy, 25) == 0, "25, before the hint");

	snprintf(path, sizeof(path), "%s/_delta_log/_last_checkpoint", dir);
	EXPECT(unlink(path) == 0, "remove the hint");
	EXPECT(newest_version(dir, &err) == 33, "newest 33 with no "
	    "hint");
	EXPECT(compare_at(dir, copy, -1) == 0, "newest with no hint");
}

/* Removes stay in the checkpoint as tombstones within retention only. */
static void
test_tombstones(const char *tmp)
{
	char dir[4096], *ck;
	delta_replay *st;
	lake_err err;
	size_t dead = 0, live = 0;

	snprintf(dir, sizeof(dir), "%s/tombstones", tmp);
	EXPECT(make_table(dir, 10, "10", &err) == 0, "make: %s", err.msg);
	ck = delta_log_file(dir, 10, ".checkpoint.parquet");
	st = delta_replay_new();
	EXPECT(delta_checkpoint_read(ck, 10, st, &err) == 0, "read: %s",
	    err.msg);
	for (size_t i = 0; i < st->nfiles; i++) {
		if (st->files[i].live)
			live++;
		else {
			dead++;
			EXPECT(st->files[i].deletion_timestamp > 0,
			    "tombstone keeps its deletionTimestamp");
		}
	}
	/* Commits 3..10 each removed one file the commit two before added. */
	EXPECT(dead == 8 && live == 12, "8 tombstones and 12 adds, not %zu "
	    "and %zu", dead, live);
	delta_replay_free(st);
	free(ck);
}

/* A checkpoint that cannot be written leaves its commit standing. */
static void
test_checkpoint_failure_keeps_commit(const char *tmp)
{
	char dir[4096], log_dir[4200];
	lake_err err;
	pid_t pid;
	int status = -1;

	snprintf(dir, sizeof(dir), "%s/failing", tmp);
	EXPECT(make_table(dir, 4, "5", &err) == 0, "make: %s", err.msg);
	snprintf(log_dir, sizeof(log_dir), "%s/_delta_log", dir);
	/* A file as large as a commit, but smaller than a checkpoint. */
	if ((pid = fork()) == 0) {
		struct rlimit rl = { 1800, 1800 };

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &rl);
		_exit(commit_step(dir, 5, &err) == 0 ? 0 : 1);
	}
	EXPECT(pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the commit succeeds although its checkpoint fails");
	EXPECT(log_file_exists(dir, 5, ".json"), "commit 5 exists");
	EXPECT(!log_file_exists(dir, 5, ".checkpoint.parquet"),
	    "checkpoint 5 does not");
	EXPECT(newest_version(dir, &err) == 5, "table at version 5");
	/* The next due checkpoint (or maintenance) writes it later. */
	EXPECT(delta_checkpoint(dir, 5, &err) == DELTA_OK, "retry: %s",
	    err.msg);
	EXPECT(log_file_exists(dir, 5, ".checkpoint.parquet"),
	    "checkpoint 5 now");
	(void)log_dir;
}

static void
interval_cases(void)
{
	EXPECT(delta_parse_interval("interval 30 days") == 30 * DAY_US,
	    "30 days");
	EXPECT(delta_parse_interval("interval 1 week") == 7 * DAY_US,
	    "1 week");
	EXPECT(delta_parse_interval("2 hours 30 minutes") ==
	    9000LL * 1000000, "2h30m");
	EXPECT(delta_parse_interval("interval 0 seconds") == 0, "0 s");
	EXPECT(delta_parse_interval("interval 3 fortnights") == -1, "bad unit");
	EXPECT(delta_parse_interval("interval") == -1, "no terms");
	EXPECT(delta_parse_interval("interval -1 days") == -1, "negative");
	EXPECT(delta_checkpoint_interval(NULL) == 10, "default interval");
	EXPECT(delta_checkpoint_interval("3") == 3, "interval 3");
	EXPECT(delta_checkpoint_interval("0") == 10, "interval 0 ignored");
}

/* Sets the modification time of every log file of versions <= upto. */
static void
backdate(const char *dir, int64_t upto, int64_t when_us)
{
	static const char *const suffixes[] = { ".json",
		".checkpoint.parquet" };
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = (time_t)(when_us / 1000000);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	for (int64_t v = 0; v <= upto; v++)
		for (int k = 0; k < 2; k++) {
			char *p = delta_log_file(dir, v, suffixes[k]);

			(void)utimensat(AT_FDCWD, p, ts, 0);
			free(p);
		}
}

static void
test_log_cleanup(const char *tmp)
{
	char dir[4096], copy[4096], temp[4200];
	int64_t now = clock_now_us();
	delta_snapshot *snap = NULL;
	lake_err err;
	int n, fd;

	snprintf(dir, sizeof(dir), "%s/retention", tmp);
	snprintf(copy, sizeof(copy), "%s/retention-json", tmp);
	EXPECT(make_table(dir, 23, "5", &err) == 0, "make: %s", err.msg);
	EXPECT(json_only_copy(dir, copy) == 0, "copy");

	/* Nothing has expired: nothing goes. */
	EXPECT(delta_log_cleanup(dir, -1, now, NULL, NULL, &err) == 0,
	    "fresh log kept");
	EXPECT(log_file_exists(dir, 0, ".json"), "commit 0 kept");

	/* Versions 0..12 are 40 days old: everything before checkpoint 10
	 * goes (commits 0-9 and checkpoint 5); 10..12 stay, since the
	 * next checkpoint (15) is not expired. */
	backdate(dir, 12, now - 40 * DAY_US);
	snprintf(temp, sizeof(temp), "%s/_delta_log/.tmp-crashed.checkpoint"
	    ".parquet", dir);
	fd = open(temp, O_WRONLY | O_CREAT, 0644);
	EXPECT(fd >= 0 && write(fd, "PAR1", 4) == 4 && close(fd) == 0,
	    "a crashed writer's temp file");
	{
		struct timespec ts[2] = { { (time_t)((now - 40 * DAY_US) /
		    1000000), 0 }, { (time_t)((now - 40 * DAY_US) / 1000000),
		    0 } };

		utimensat(AT_FDCWD, temp, ts, 0);
	}
	n = delta_log_cleanup(dir, -1, now, NULL, NULL, &err);
	EXPECT(n == 12, "10 commits, checkpoint 5 and the temp file "
	    "removed, not %d (%s)", n, n < 0 ? err.msg : "");
	EXPECT(!log_file_exists(dir, 9, ".json") &&
	    !log_file_exists(dir, 5, ".checkpoint.parquet") &&
	    access(temp, F_OK) == -1, "old files gone");
	EXPECT(log_file_exists(dir, 10, ".json") &&
	    log_file_exists(dir, 10, ".checkpoint.parquet"),
	    "the boundary checkpoint and its commit stay");
	EXPECT(oldest_version(dir, &err) == 10, "oldest is 10");
	for (int64_t v = 10; v <= 23; v++)
		EXPECT(compare_at(dir, copy, v) == 0, "version %" PRId64
		    " still reads", v);
	EXPECT(delta_snapshot_load(dir, 9, &snap, &err) == DELTA_ERROR,
	    "version 9 is gone");
	EXPECT(strstr(err.msg, "version 9 is no longer retained: the oldest "
	    "readable version is 10") != NULL, "says so: %s", err.msg);
	delta_snapshot_free(snap);
	snap = NULL;
	{
		delta_file *files = NULL;
		size_t nfiles = 0;

		EXPECT(delta_changes(dir, 5, 12, &files, &nfiles, &err) == -1 &&
		    strstr(err.msg, "version 6 is no longer retained") != NULL,
		    "changes after 5 are gone: %s", err.msg);
		EXPECT(delta_changes(dir, 9, 12, &files, &nfiles, &err) == 0 &&
		    nfiles == 5, "changes after 9 still read: 6 adds, one "
		    "removed again (%zu files)",
		    nfiles);
		delta_files_free(files, nfiles);
	}

	/* A shorter table retention (property) and everything expired: all
	 * before the newest checkpoint (20) goes, never it or what follows. */
	backdate(dir, 23, now - 3 * DAY_US);
	EXPECT(delta_log_cleanup(dir, -1, now, NULL, NULL, &err) == 0,
	    "3 days old is within the default 30 days");
	n = delta_log_cleanup(dir, 2 * DAY_US, now, NULL, NULL, &err);
	EXPECT(n == 12, "commits 10-19, checkpoints 10 and 15 go, not %d", n);
	EXPECT(log_file_exists(dir, 20, ".checkpoint.parquet") &&
	    log_file_exists(dir, 20, ".json") &&
	    log_file_exists(dir, 23, ".json"), "newest checkpoint and later "
	    "commits stay");
	EXPECT(compare_at(dir, copy, 23) == 0, "latest reads");
	EXPECT(compare_at(dir, copy, 20) == 0, "20 reads");
	EXPECT(delta_log_cleanup(dir, 0, now, NULL, NULL, &err) == 0,
	    "nothing more to delete without a newer checkpoint");
}

/* The table property decides the retention when none is given. */
static void
test_cleanup_property(const char *tmp)
{
	char dir[4096];
	int64_t now = clock_now_us(), v;
	delta_snapshot *base = NULL;
	delta_commit *c;
	lake_err err;

	snprintf(dir, sizeof(dir), "%s/property", tmp);
	EXPECT(make_table(dir, 9, "3", &err) == 0, "make: %s", err.msg);
	/* Version 10 sets delta.logRetentionDuration = 2 days. */
	EXPECT(delta_snapshot_load(dir, -1, &base, &err) == DELTA_OK, "load");
	c = delta_commit_begin(dir, base);
	EXPECT(delta_commit_set_metadata(c, &schema, pcols, 2, &err) == 0 &&
	    delta_commit_set_property(c, "delta.logRetentionDuration",
	    "interval 2 days", &err) == 0 &&
	    delta_commit_finish(c, &v, &err) == DELTA_OK && v == 10,
	    "property commit: %s", err.msg);
	delta_commit_free(c);
	delta_snapshot_free(base);
	base = NULL;
	EXPECT(delta_snapshot_load(dir, -1, &base, &err) == DELTA_OK &&
	    str_eq(delta_snapshot_property(base, "delta.checkpointInterval"),
	    "3"), "a new metaData keeps the older properties");
	delta_snapshot_free(base);
	backdate(dir, 7, now - 3 * DAY_US);
	EXPECT(delta_log_cleanup(dir, -1, now, NULL, NULL, &err) == 7,
	    "commits 0-5 and checkpoint 3 are past 2 days");
	EXPECT(oldest_version(dir, &err) == 6, "oldest is 6");
}

/* --- helper modes ------------------------------------------------- */

static int
print_paths(const char *dir)
{
	delta_snapshot *snap;
	lake_err err;

	if (delta_snapshot_load(dir, -1, &snap, &err) != DELTA_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < snap->nfiles; i++) {
		char *e = delta_escape(snap->files[i].path);

		printf("%s\n", e);
		free(e);
	}
	delta_snapshot_free(snap);
	return 0;
}

/* FILES adds at version 0, then n commits each adding one file and
 * removing one, with a checkpoint after every commit. */
static int
churn(const char *dir, int files, int n)
{
	delta_snapshot *base = NULL;
	delta_commit *c = NULL;
	char path[64];
	lake_err err;
	int64_t v, start;
	int rc = 1;

	if (delta_snapshot_load_meta(dir, &base, &err) == DELTA_NO_TABLE) {
		c = delta_commit_begin(dir, NULL);
		if (delta_commit_set_metadata(c, &schema, NULL, 0, &err) == -1 ||
		    delta_commit_set_property(c, "delta.checkpointInterval",
		    "1", &err) == -1)
			goto out;
		for (int i = 0; i < files; i++) {
			snprintf(path, sizeof(path), "f-%d.parquet", i);
			if (delta_commit_add(c, path, NULL, 100, NULL,
			    &err) == -1)
				goto out;
		}
		if (delta_commit_finish(c, &v, &err) != DELTA_OK)
			goto out;
		delta_commit_free(c);
		c = NULL;
	}
	delta_snapshot_free(base);
	base = NULL;
	for (int k = 0; k < n; k++) {
		if (delta_snapshot_load_meta(dir, &base, &err) != DELTA_OK ||
		    (c = delta_commit_begin(dir, base)) == NULL)
			goto out;
		start = base->version;
		snprintf(path, sizeof(path), "f-%" PRId64 ".parquet", start +
		    files);
		if (delta_commit_add(c, path, NULL, 100, NULL, &err) == -1)
			goto out;
		snprintf(path, sizeof(path), "f-%" PRId64 ".parquet", start);
		if (delta_commit_remove(c, path, &err) == -1 ||
		    delta_commit_finish(c, &v, &err) != DELTA_OK)
			goto out;
		delta_commit_free(c);
		c = NULL;
		delta_snapshot_free(base);
		base = NULL;
	}
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "churn: %s\n", err.msg);
	delta_commit_free(c);
	delta_snapshot_free(base);
	return rc;
}

static int
same_as_json(const char *dir)
{
	char copy[4200];
	int rc;

	snprintf(copy, sizeof(copy), "%s.json-only-%d", dir, (int)getpid());
	if (json_only_copy(dir, copy) == -1) {
		fprintf(stderr, "cannot copy the log of %s\n", dir);
		return 1;
	}
	rc = compare_at(dir, copy, -1);
	return rc == 0 && expect_failures == 0 ? 0 : 1;
}

/* Reads every checkpoint file of the table directly: a torn one fails
 * here even though readers would fall back past it. */
static int
verify_checkpoints(const char *dir)
{
	char log_dir[4096];
	struct dirent *de;
	DIR *d;
	int bad = 0, n = 0;

	snprintf(log_dir, sizeof(log_dir), "%s/_delta_log", dir);
	if ((d = opendir(log_dir)) == NULL) {
		perror(log_dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		char path[8192];
		delta_replay *st;
		lake_err err = { { 0 }, LAKE_ERR_FAILED };
		int64_t v;

		if (de->d_name[0] == '.' || strstr(de->d_name,
		    ".checkpoint.parquet") == NULL)
			continue;
		v = atoll(de->d_name);
		snprintf(path, sizeof(path), "%s/%s", log_dir, de->d_name);
		st = delta_replay_new();
		if (delta_checkpoint_read(path, v, st, &err) == -1 ||
		    st->metadata == NULL || st->protocol == NULL) {
			fprintf(stderr, "%s: %s\n", path, err.msg);
			bad++;
		}
		n++;
		delta_replay_free(st);
	}
	closedir(d);
	printf("%d checkpoints, %d unreadable\n", n, bad);
	return bad == 0 ? 0 : 1;
}

/*
 * Every byte against the rule of Delta's path escapes (letters, digits
 * and "-_.~/=" kept, all else %XX): delta_escape and the plain-prefix
 * test the checkpoint writer uses must both follow it.
 */
static void
escape_cases(void)
{
	int wrong = 0;

	for (int c = 1; c < 256; c++) {
		char path[4] = { 'a', (char)c, 'b', '\0' };
		int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-_.~/=", c) != NULL;
		char *e = delta_escape(path), want[8];

		snprintf(want, sizeof(want), keep ? "a%cb" : "a%%%02Xb",
		    keep ? c : (unsigned char)c);
		if (e == NULL || strcmp(e, want) != 0 ||
		    delta_escape_plain_prefix(path) != (keep ? 3u : 1u))
			wrong++;
		free(e);
	}
	EXPECT(wrong == 0, "escapes follow Delta's rule for every byte "
	    "(%d bytes wrong)", wrong);
}

int
main(int argc, char **argv)
{
	char tmp[] = "/tmp/test_checkpoint.XXXXXX";
	char cmd[256];
	lake_err err;

	if ((argc == 3 || argc == 4) && strcmp(argv[1], "make") == 0) {
		if (make_table(argv[2], argc == 4 ? atoi(argv[3]) : 20, "10",
		    &err) == -1) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "paths") == 0)
		return print_paths(argv[2]);
	if (argc == 5 && strcmp(argv[1], "churn") == 0)
		return churn(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 3 && strcmp(argv[1], "same") == 0)
		return same_as_json(argv[2]);
	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return verify_checkpoints(argv[2]);
	if (argc == 4 && strcmp(argv[1], "checkpoint") == 0) {
		if (delta_checkpoint(argv[2], atoll(argv[3]), &err) !=
		    DELTA_OK) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		return 0;
	}
	if (mkdtemp(tmp) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	interval_cases();
	escape_cases();
	test_replay_equivalence(tmp);
	test_damaged_checkpoint(tmp);
	test_hint(tmp);
	test_tombstones(tmp);
	test_checkpoint_failure_keeps_commit(tmp);
	test_log_cleanup(tmp);
	test_cleanup_property(tmp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (expect_failures == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return expect_report("test_checkpoint");
}
