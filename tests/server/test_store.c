/*
 * test_store.c - unit tests of the state store's retention and counting
 * (server/store.c) on a real SQLite file in a temporary folder: counts
 * kept by triggers agree with the rows through every transition and
 * deletion, store_delete_finished takes only finished drivers that ended
 * before the cutoff, in batches, and calls back for each, keyset pages
 * equal offset pages, and the launch histogram keeps its launches;
 * runner leases (renewal by the claim holder only, expiry only once run
 * out, no outcome over the server's UNKNOWN), the version 2 to 3
 * migration of a file (environment values moved out of the state: a
 * queued driver's to its 0600 file, every row redacted), and the state
 * file's mode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.h"
#include "store.h"

#define SEC 1000000LL

struct ids {
	char items[64][64];
	int n;
};

static void
collect_deleted(const char *id, void *arg)
{
	struct ids *ids = arg;

	if (ids->n < 64)
		snprintf(ids->items[ids->n++], sizeof(ids->items[0]), "%s", id);
}

static int
collect_listed(const store_driver *d, void *arg)
{
	collect_deleted(d->id, arg);
	return 0;
}

/* Inserts a driver and takes it to state at time t (µs); its id in id. */
static void
make_driver(store *st, int i, driver_state state, int64_t t, char *id,
    size_t idlen)
{
	int64_t token;
	char claimed[64];

	snprintf(id, idlen, "driver-test-%04d", i);
	EXPECT(store_insert_driver(st, id, "ok", "{}", "[]", "{}", 0, t) == 0,
	    "insert %s", id);
	if (state == DRIVER_SUBMITTED)
		return;
	EXPECT(store_claim_next(st, t, claimed, sizeof(claimed), &token) == 1 &&
	    strcmp(claimed, id) == 0, "claim %s", id);
	EXPECT(store_runner_begin(st, id, token, 1, "x", t + 1000,
	    t + 1000 + 10 * SEC) == 1, "begin %s", id);
	if (state == DRIVER_RUNNING)
		return;
	EXPECT(store_runner_end(st, id, state, 0, 0, NULL, t + 2000) == 1,
	    "end %s", id);
}

static int
count_rows(store *st, const driver_state *state)
{
	struct ids ids = {.n = 0};

	store_list(st, state, INT64_MAX, 64, 0, collect_listed, &ids);
	return ids.n;
}

struct hist {
	int64_t count, sum_us;
};

static void
add_bucket(int64_t le_us, int64_t n, int64_t sum_us, void *arg)
{
	struct hist *h = arg;

	(void)le_us;
	h->count += n;
	h->sum_us += sum_us;
}

/* A lease is the claim holder's, runs out only after lease_until, and a
 * runner whose lease was taken cannot record an outcome. */
static void
test_leases(store *st, int64_t t)
{
	const char *id = "driver-test-0100";
	store_driver d;
	int64_t token;
	char claimed[64];

	EXPECT(store_insert_driver(st, id, "ok", "{}", "[]", "{}", 0, t) == 0,
	    "insert %s", id);
	EXPECT(store_claim_next(st, t, claimed, sizeof(claimed), &token) == 1,
	    "claim %s", id);
	EXPECT(store_runner_begin(st, id, token, 1, "x", t, t + 10 * SEC) == 1,
	    "begin %s", id);
	EXPECT(store_runner_renew_lease(st, id, token + 1, t + 20 * SEC) == 0,
	    "another token cannot renew the lease");
	EXPECT(store_runner_renew_lease(st, id, token, t + 20 * SEC) == 1,
	    "the claim holder renews its lease");
	EXPECT(store_expire_lease(st, id, DRIVER_UNKNOWN, "lease", t + 15 * SEC) ==
	    0, "a lease is not expired before lease_until");
	EXPECT(store_get_driver(st, id, &d) == 1 && d.lease_until_us == t +
	    20 * SEC && d.state == DRIVER_RUNNING, "lease_until is read "
	    "back (%lld)", (long long)d.lease_until_us);
	store_driver_free(&d);
	EXPECT(store_expire_lease(st, id, DRIVER_UNKNOWN, "lease", t + 21 * SEC) ==
	    1, "a lease that ran out is expired");
	EXPECT(store_runner_renew_lease(st, id, token, t + 40 * SEC) == 0,
	    "a taken lease cannot be renewed");
	EXPECT(store_runner_end(st, id, DRIVER_FINISHED, 0, 0, NULL, t) == 0,
	    "no outcome over UNKNOWN");
	EXPECT(store_get_driver(st, id, &d) == 1 && d.state == DRIVER_UNKNOWN &&
	    d.message != NULL && strcmp(d.message, "lease") == 0,
	    "the driver stays UNKNOWN (%s)", driver_state_name(d.state));
	store_driver_free(&d);
}

/* A version 2 row, which kept environment values in env and request. */
#define V2_ROW(id, state) "INSERT INTO drivers (id, stage, state, request, " \
	"argv, env, created_us) VALUES ('" id "', 'ok', '" state "', " \
	"'{\"appResource\":\"ok\",\"environmentVariables\":{\"PW\":" \
	"\"s3cret\"}}', '[]', '{\"PW\":\"s3cret\"}', 1);"

/* Rows whose env or request still hold the value "s3cret"; -1 error. */
static int
rows_holding_the_secret(const char *path)
{
	sqlite3_stmt *q = NULL;
	sqlite3 *db;
	int n = -1;

	if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db,
	    "SELECT count(*) FROM drivers WHERE request LIKE '%s3cret%' OR "
	    "env LIKE '%s3cret%'", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

/* Makes path a version 2 file (no lease_until, values in the rows) and
 * opens it again: the store adds the column, keeps the rows, moves the
 * queued driver's values to its file and redacts every row. */
static void
test_migration_from_v2(const char *path)
{
	char err[256], envfile[256];
	store_driver d;
	struct stat sb;
	sqlite3 *db;
	store *st;
	char *values;

	EXPECT(sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db,
	    "ALTER TABLE drivers DROP COLUMN lease_until; "
	    V2_ROW("driver-test-0200", "SUBMITTED")
	    V2_ROW("driver-test-0201", "FINISHED")
	    "PRAGMA user_version = 2", NULL, NULL, NULL) == SQLITE_OK,
	    "make a version 2 file: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	if ((st = store_open(path, err, sizeof(err))) == NULL) {
		EXPECT(0, "open a version 2 file: %s", err);
		return;
	}
	EXPECT(store_get_driver(st, "driver-test-0100", &d) == 1 &&
	    d.lease_until_us == 0, "rows kept, lease_until added (none)");
	store_driver_free(&d);
	EXPECT(store_get_driver(st, "driver-test-0201", &d) == 1 &&
	    strcmp(d.env_json, "[\"PW\"]") == 0, "env keeps names: %s",
	    d.env_json);
	store_driver_free(&d);
	values = store_env_load(st, "driver-test-0200");
	EXPECT(values != NULL && strcmp(values, "{\"PW\":\"s3cret\"}") == 0,
	    "the queued driver's values are in its file: %s", values);
	free(values);
	snprintf(envfile, sizeof(envfile), "%s.env/driver-test-0200", path);
	EXPECT(stat(envfile, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "its file is 0600");
	EXPECT(store_env_load(st, "driver-test-0201") == NULL, "a finished "
	    "driver's values are not kept");
	store_close(st);
	EXPECT(rows_holding_the_secret(path) == 0, "no row holds a value "
	    "after migration");
	EXPECT(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "the state file is 0600 (%o)", (unsigned)(sb.st_mode & 0777));
	unlink(envfile);
	*strrchr(envfile, '/') = '\0';
	rmdir(envfile);
}

int
main(void)
{
	char dir[] = "/tmp/test_store.XXXXXX", path[128], err[256], id[64];
	static const driver_state states[] = {DRIVER_SUBMITTED,
	    DRIVER_RUNNING, DRIVER_FINISHED, DRIVER_FAILED, DRIVER_KILLED,
	    DRIVER_ERROR, DRIVER_RELAUNCHING, DRIVER_UNKNOWN};
	struct ids deleted = {.n = 0}, by_offset = {.n = 0},
	    by_before = {.n = 0};
	struct hist h = {0, 0};
	int64_t now = 1800000000 * SEC, seq;
	pid_t pid;
	store *st;
	size_t i;
	int n;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/state.db", dir);
	if ((st = store_open(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "store_open: %s\n", err);
		return 1;
	}
	/* 0-9 finished 100 days ago, 10-11 failed 100 days ago, 12 running
	 * since then, 14-15 finished just now, 13 queued 100 days ago
	 * (created last: the claims take the oldest queued). */
	for (i = 0; i < 10; i++)
		make_driver(st, (int)i, DRIVER_FINISHED, now - 100 * 86400 * SEC, id,
		    sizeof(id));
	make_driver(st, 10, DRIVER_FAILED, now - 100 * 86400 * SEC, id, sizeof(id));
	make_driver(st, 11, DRIVER_FAILED, now - 100 * 86400 * SEC, id, sizeof(id));
	make_driver(st, 12, DRIVER_RUNNING, now - 100 * 86400 * SEC, id, sizeof(id));
	make_driver(st, 14, DRIVER_FINISHED, now, id, sizeof(id));
	make_driver(st, 15, DRIVER_FINISHED, now, id, sizeof(id));
	make_driver(st, 13, DRIVER_SUBMITTED, now - 100 * 86400 * SEC, id,
	    sizeof(id));
	EXPECT(store_request_kill(st, "driver-test-0013", now, &pid) == 1,
	    "kill the queued driver");
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		EXPECT(store_count(st, &states[i]) == count_rows(st,
		    &states[i]), "count of %s: %d, rows %d",
		    driver_state_name(states[i]), store_count(st, &states[i]),
		    count_rows(st, &states[i]));
	EXPECT(store_count(st, NULL) == 16, "16 drivers, not %d",
	    store_count(st, NULL));
	store_launch_histogram(st, add_bucket, &h);
	EXPECT(h.count == 15 && h.sum_us == 15 * 1000, "15 launches of 1 ms, "
	    "not %lld of %lld µs", (long long)h.count, (long long)h.sum_us);

	/* Keyset pages of 5 equal offset pages of 5. */
	for (i = 0; i < 4; i++)
		store_list(st, NULL, INT64_MAX, 5, (int)i * 5, collect_listed,
		    &by_offset);
	seq = INT64_MAX;
	while (by_before.n < 16) {
		n = by_before.n;
		store_list(st, NULL, seq, 5, 0, collect_listed, &by_before);
		if (by_before.n == n ||
		    store_driver_seq(st, by_before.items[by_before.n - 1],
		    &seq) != 1)
			break;
	}
	EXPECT(by_offset.n == 16 && by_before.n == 16, "16 rows paged, not %d "
	    "and %d", by_offset.n, by_before.n);
	for (i = 0; i < 16; i++)
		EXPECT(strcmp(by_offset.items[i], by_before.items[i]) == 0,
		    "row %zu: %s by offset, %s by before", i,
		    by_offset.items[i], by_before.items[i]);
	EXPECT(store_driver_seq(st, "driver-none", &seq) == 0, "unknown id");

	/* Retention in batches of 5: 12 old finished (10 + 2 failed) and
	 * the killed one (ended now) -> the 12 older than a day. */
	n = store_delete_finished(st, now - 86400 * SEC, 5, collect_deleted,
	    &deleted);
	EXPECT(n == 5 && deleted.n == 5, "a batch of 5, not %d (%d calls)", n,
	    deleted.n);
	while ((n = store_delete_finished(st, now - 86400 * SEC, 5,
	    collect_deleted, &deleted)) > 0)
		;
	EXPECT(n == 0 && deleted.n == 12, "12 old finished drivers deleted, "
	    "not %d", deleted.n);
	EXPECT(strcmp(deleted.items[0], "driver-test-0000") == 0, "oldest "
	    "first: %s", deleted.items[0]);
	EXPECT(store_count(st, &(driver_state){DRIVER_RUNNING}) == 1, "the old running one stays");
	EXPECT(store_count(st, &(driver_state){DRIVER_KILLED}) == 1, "the one killed now stays");
	EXPECT(store_count(st, &(driver_state){DRIVER_FINISHED}) == 2, "recent finished stay");
	EXPECT(store_count(st, NULL) == 4 && count_rows(st, NULL) == 4,
	    "4 drivers left, counted %d, listed %d", store_count(st, NULL),
	    count_rows(st, NULL));

	/* Clear: every finished one, whatever its age. */
	deleted.n = 0;
	n = store_delete_finished(st, INT64_MAX, 100, collect_deleted,
	    &deleted);
	EXPECT(n == 3 && deleted.n == 3, "clear deletes 3, not %d", n);
	EXPECT(store_count(st, NULL) == 1 && count_rows(st, &(driver_state){DRIVER_RUNNING}) == 1,
	    "only the running driver is left");
	h.count = h.sum_us = 0;
	store_launch_histogram(st, add_bucket, &h);
	EXPECT(h.count == 15, "the histogram keeps deleted drivers' launches "
	    "(%lld)", (long long)h.count);

	test_leases(st, now);
	store_close(st);
	test_migration_from_v2(path);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.db-shm", dir);
	unlink(path);
	rmdir(dir);
	return expect_report("test_store");
}
