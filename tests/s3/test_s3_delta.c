/*
 * test_s3_delta.c - the Delta log on an S3 lake, through the storage seam,
 * against a real S3 server (driven by tests/s3/delta.sh, which starts a
 * throwaway Ceph RGW and exports its AWS_* settings):
 *
 *   test_s3_delta log TABLE      commits 0..24 (checkpoints at 10 and 20
 *                                written by the committer), the newest
 *                                snapshot, time travel, changes, the hint
 *   test_s3_delta race TABLE N   N processes prepare version v+1 of one
 *                                table, then publish at once: exactly one
 *                                wins (412 is a conflict, never retried),
 *                                the others report DELTA_CONFLICT, and the
 *                                table holds the winner's add only; 20
 *                                rounds
 *   test_s3_delta cleanup TABLE  log cleanup with no retention keeps the
 *                                log readable from the newest checkpoint
 *   test_s3_delta vacuum TABLE   removes an unreferenced object, keeps the
 *                                referenced ones and the log
 *   test_s3_delta store URI      the seam's calls on S3: create-if-absent,
 *                                write, stat, ranges, list from a key,
 *                                held objects and barriers, delete
 *
 * TABLE is an s3://bucket/prefix URI. Exit 0 when every check passed.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "delta.h"
#include "delta_internal.h"
#include "expect.h"
#include "lake_store.h"

static pq_column_def cols[] = {
	{ "id", PQ_INT64, 0, 0, 0 },
};
static const pq_schema schema = { cols, 1 };

/* One commit on the newest snapshot adding a (fake) file name. */
static int
commit_add(const char *table, const char *name, int64_t *version,
    lake_err *err)
{
	delta_snapshot *base = NULL;
	delta_commit *c;
	int rc = delta_snapshot_load(table, -1, &base, err);

	if (rc == DELTA_ERROR)
		return rc;
	c = delta_commit_begin(table, base);
	if (base == NULL && delta_commit_set_metadata(c, &schema, NULL, 0,
	    err) == -1)
		rc = DELTA_ERROR;
	else if (delta_commit_add(c, name, NULL, 100, NULL, err) == -1 ||
	    delta_commit_set_info(c, "WRITE", "{}", err) == -1)
		rc = DELTA_ERROR;
	else
		rc = delta_commit_finish(c, version, err);
	delta_commit_free(c);
	delta_snapshot_free(base);
	return rc;
}

static void
test_log(const char *table)
{
	lake_err err;
	int64_t v = -1;
	delta_snapshot *s;
	delta_file *files;
	size_t n;
	char name[64];

	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "f%02d.parquet", i);
		EXPECT(commit_add(table, name, &v, &err) == DELTA_OK,
		    "commit %d: %s", i, err.msg);
		EXPECT(v == i, "commit %d got version %" PRId64, i, v);
	}
	EXPECT(delta_latest_version(table, &v, &err) == DELTA_OK && v == 24,
	    "latest version %" PRId64 ": %s", v, err.msg);
	EXPECT(delta_last_checkpoint_hint(table) == 20,
	    "_last_checkpoint says %" PRId64, delta_last_checkpoint_hint(table));
	EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_OK,
	    "load: %s", err.msg);
	if (s != NULL) {
		EXPECT(s->version == 24 && s->nfiles == 25,
		    "newest: version %" PRId64 ", %zu files", s->version,
		    s->nfiles);
		delta_snapshot_free(s);
	}
	EXPECT(delta_snapshot_load(table, 5, &s, &err) == DELTA_OK,
	    "time travel: %s", err.msg);
	if (s != NULL) {
		EXPECT(s->version == 5 && s->nfiles == 6,
		    "at 5: version %" PRId64 ", %zu files", s->version,
		    s->nfiles);
		delta_snapshot_free(s);
	}
	EXPECT(delta_changes(table, 10, 24, &files, &n, &err) == DELTA_OK,
	    "changes: %s", err.msg);
	if (files != NULL) {
		EXPECT(n == 14, "changes after 10: %zu files", n);
		delta_files_free(files, n);
	}
	snprintf(name, sizeof(name), "%.40s", "");
	{
		char none[4096];

		snprintf(none, sizeof(none), "%s-nothing", table);
		EXPECT(delta_snapshot_load(none, -1, &s, &err) ==
		    DELTA_NO_TABLE, "an empty prefix is no table: %s",
		    err.msg);
	}
}

/* A child: prepares the commit, waits for the go, publishes. */
static int
race_child(const char *table, int go_fd, int round, int who)
{
	lake_err err;
	delta_snapshot *base = NULL;
	delta_commit *c;
	char name[64], b;
	int64_t v;
	int rc;

	if (delta_snapshot_load(table, -1, &base, &err) != DELTA_OK)
		return 1;
	snprintf(name, sizeof(name), "race-%d-%d.parquet", round, who);
	c = delta_commit_begin(table, base);
	if (delta_commit_add(c, name, NULL, 1, NULL, &err) == -1 ||
	    delta_commit_set_info(c, "WRITE", "{}", &err) == -1 ||
	    delta_commit_prepare(c, &err) != DELTA_OK)
		return 1;
	if (read(go_fd, &b, 1) != 1)
		return 1;
	rc = delta_commit_publish(c, &v, &err);
	delta_commit_free(c);
	delta_snapshot_free(base);
	if (rc == DELTA_CONFLICT && strstr(err.msg, "another writer") == NULL)
		return 1;
	return rc == DELTA_OK ? 0 : rc == DELTA_CONFLICT ? 3 : 1;
}

static void
test_race(const char *table, int nproc)
{
	lake_err err;
	int64_t v;

	EXPECT(commit_add(table, "base.parquet", &v, &err) == DELTA_OK,
	    "base: %s", err.msg);
	for (int round = 0; round < 20; round++) {
		int go[2], won = 0, lost = 0, other = 0;
		pid_t pids[16];
		delta_snapshot *s;
		int64_t before = -1;

		delta_latest_version(table, &before, &err);
		if (pipe(go) == -1)
			return;
		fflush(NULL);
		for (int i = 0; i < nproc && i < 16; i++) {
			if ((pids[i] = fork()) == 0) {
				close(go[1]);
				_exit(race_child(table, go[0], round, i));
			}
		}
		close(go[0]);
		usleep(300000);	/* let all prepare */
		for (int i = 0; i < nproc; i++)
			if (write(go[1], "g", 1) != 1)
				break;
		close(go[1]);
		for (int i = 0; i < nproc && i < 16; i++) {
			int st;

			waitpid(pids[i], &st, 0);
			if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
				won++;
			else if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
				lost++;
			else
				other++;
		}
		EXPECT(won == 1 && lost == nproc - 1 && other == 0,
		    "round %d: %d won, %d lost, %d failed", round, won, lost,
		    other);
		EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_OK,
		    "load after round %d: %s", round, err.msg);
		if (s != NULL) {
			size_t racers = 0;
			char prefix[32];

			snprintf(prefix, sizeof(prefix), "race-%d-", round);
			for (size_t i = 0; i < s->nfiles; i++)
				racers += strncmp(s->files[i].path, prefix,
				    strlen(prefix)) == 0;
			EXPECT(s->version == before + 1 && racers == 1,
			    "round %d: version %" PRId64 " (was %" PRId64
			    "), %zu of the racers' files", round, s->version,
			    before, racers);
			delta_snapshot_free(s);
		}
	}
}

static void
test_cleanup(const char *table)
{
	lake_err err;
	int64_t oldest = -1;
	delta_snapshot *s;
	int removed;

	removed = delta_log_cleanup(table, 0, INT64_MAX / 2, NULL, NULL, &err);
	EXPECT(removed >= 20, "cleanup removed %d: %s", removed, err.msg);
	EXPECT(delta_oldest_version(table, &oldest, &err) == DELTA_OK &&
	    oldest == 20, "oldest %" PRId64 ": %s", oldest, err.msg);
	EXPECT(delta_snapshot_load(table, -1, &s, &err) == DELTA_OK,
	    "load after cleanup: %s", err.msg);
	delta_snapshot_free(s);
	EXPECT(delta_snapshot_load(table, 5, &s, &err) == DELTA_ERROR,
	    "version 5 is gone after cleanup");
}

static void
test_vacuum(const char *table)
{
	char path[4096];
	lake_err err;
	int n;

	snprintf(path, sizeof(path), "%s/f24.parquet", table);
	EXPECT(lake_store_write(path, "live", 4, &err) == 0, "%s", err.msg);
	snprintf(path, sizeof(path), "%s/orphan.parquet", table);
	EXPECT(lake_store_write(path, "dead", 4, &err) == 0, "%s", err.msg);
	n = delta_vacuum_retained(table, 0, INT64_MAX / 2, 0, NULL, NULL,
	    &err);
	EXPECT(n == 1, "vacuum removed %d: %s", n, err.msg);
	EXPECT(lake_store_stat(path, NULL, NULL, NULL) == LAKE_STORE_NOT_FOUND,
	    "the orphan is gone");
	snprintf(path, sizeof(path), "%s/f24.parquet", table);
	EXPECT(lake_store_stat(path, NULL, NULL, NULL) == 0,
	    "the live file stays");
}

typedef struct seen {
	char names[16][64];
	int n;
} seen;

static int
collect(const lake_store_entry *e, void *arg)
{
	seen *s = arg;

	if (s->n < 16)
		snprintf(s->names[s->n++], 64, "%s", e->name);
	return 0;
}

static void
test_store(const char *root)
{
	char a[4096], b[4096], tmp[4096], buf[16];
	const char *names[1];
	uint8_t *data;
	size_t len, got;
	uint64_t size;
	int64_t mtime;
	lake_err err;
	lake_out *o;
	lake_in *in;
	seen s = { .n = 0 };

	snprintf(a, sizeof(a), "%s/store/a", root);
	snprintf(b, sizeof(b), "%s/store/b", root);
	snprintf(tmp, sizeof(tmp), "%s/store/.tmp-1", root);
	EXPECT(lake_store_create(a, "first", 5, &err) == 0, "%s", err.msg);
	EXPECT(lake_store_create(a, "second", 6, &err) == LAKE_STORE_EXISTS,
	    "create-if-absent of an existing key is EXISTS: %s", err.msg);
	EXPECT(lake_store_read_all(a, &data, &len, &err) == 0 && len == 5 &&
	    memcmp(data, "first", 5) == 0, "never overwritten");
	free(data);
	EXPECT(lake_store_write(a, "replaced", 8, &err) == 0, "%s", err.msg);
	EXPECT(lake_store_stat(a, &size, &mtime, &err) == 0 && size == 8 &&
	    mtime > 0, "stat: %s", err.msg);
	EXPECT((in = lake_in_open(a, -1, &err)) != NULL, "%s", err.msg);
	if (in != NULL) {
		EXPECT(lake_in_read_at(in, 2, 4, buf, &got, &err) == 0 &&
		    got == 4 && memcmp(buf, "plac", 4) == 0, "range: %s",
		    err.msg);
		EXPECT(lake_in_size(in, &size, &err) == 0 && size == 8,
		    "size from the range");
		lake_in_close(in);
	}
	EXPECT(lake_store_read_all(b, &data, &len, &err) ==
	    LAKE_STORE_NOT_FOUND, "absent: NOT_FOUND");
	/* Held until the barrier, then uploaded. */
	EXPECT((o = lake_out_create(b, 0, &err)) != NULL, "%s", err.msg);
	lake_out_write(o, "held", 4, &err);
	EXPECT(lake_out_close(o, LAKE_OUT_LATER, &err) == 0, "%s", err.msg);
	names[0] = b;
	EXPECT(lake_store_sync_files(names, 1, &err) == 0, "%s", err.msg);
	EXPECT(lake_store_read_all(b, &data, &len, &err) == 0 && len == 4,
	    "uploaded at the barrier: %s", err.msg);
	free(data);
	/* A held temp linked put-if-absent: EXISTS leaves it to delete. */
	o = lake_out_create(tmp, 0, &err);
	lake_out_write(o, "tmp", 3, &err);
	EXPECT(lake_out_close(o, LAKE_OUT_TEMP, &err) == 0, "%s", err.msg);
	EXPECT(lake_store_link(tmp, a, 1, &err) == LAKE_STORE_EXISTS,
	    "link over an existing key: EXISTS");
	EXPECT(lake_store_delete(tmp, &err) == 0, "%s", err.msg);
	snprintf(buf, sizeof(buf), "c");
	snprintf(tmp, sizeof(tmp), "%s/store/c", root);
	EXPECT(lake_store_create(tmp, "c", 1, &err) == 0, "%s", err.msg);
	snprintf(tmp, sizeof(tmp), "%s/store", root);
	EXPECT(lake_store_list(tmp, "a", 0, collect, &s, &err) == 0,
	    "list: %s", err.msg);
	EXPECT(s.n == 2 && strcmp(s.names[0], "b") == 0 &&
	    strcmp(s.names[1], "c") == 0, "list after a: %d names, %s %s",
	    s.n, s.names[0], s.names[1]);
	EXPECT(lake_store_delete(a, &err) == 0, "%s", err.msg);
	EXPECT(lake_store_stat(a, NULL, NULL, NULL) == LAKE_STORE_NOT_FOUND,
	    "deleted");
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 3) {
		fprintf(stderr, "usage: test_s3_delta log|race|cleanup|vacuum|"
		    "store TABLE [N]\n");
		return 2;
	}
	if (strcmp(argv[1], "log") == 0)
		test_log(argv[2]);
	else if (strcmp(argv[1], "race") == 0)
		test_race(argv[2], argc > 3 ? atoi(argv[3]) : 3);
	else if (strcmp(argv[1], "cleanup") == 0)
		test_cleanup(argv[2]);
	else if (strcmp(argv[1], "vacuum") == 0)
		test_vacuum(argv[2]);
	else if (strcmp(argv[1], "store") == 0)
		test_store(argv[2]);
	else
		return 2;
	return expect_report(argv[1]);
}
