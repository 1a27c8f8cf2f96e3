/*
 * test_history.c - the history's read-only interface (history.h), on real
 * SQLite files in a temporary folder: runs written by the orchestrator's
 * own code read back with their attempts; a file from before layout
 * versions opens and is stamped by the writer; a file of a newer layout
 * is refused by reader and writer alike, with a message that says so,
 * and left untouched; a missing file and files that are no history are
 * told apart by their code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "expect.h"
#include "history.h"

static char dir[] = "/tmp/medallion-test-history.XXXXXX";

static void
path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* Runs SQL on the file directly, as another program could. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		EXPECT(0, "raw SQL on %s: %s", path, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static int
raw_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db,
	    "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

/* Two runs as the orchestrator records them: one finished after a
 * retried stage, one still running. */
static void
write_runs(const char *path)
{
	char err[512];
	orch_history *h = orch_history_open(path, err, sizeof(err));
	orch_busy busy;
	int64_t r1, r2;

	EXPECT(h != NULL, "open for writing: %s", err);
	if (h == NULL)
		return;
	r1 = orch_history_run_begin(h, "retail", "run", 0, 0, 60000000,
	    &busy);
	EXPECT(r1 > 0, "first run begins: %lld", (long long)r1);
	orch_history_attempt(h, r1, 0, "ingestion", 1, "driver-1",
	    "FINISHED", 1000, 2000, 3000, 0, NULL);
	orch_history_attempt(h, r1, 1, "transformation", 1, "driver-2",
	    "FAILED", 4000, 5000, 6000, 1, "exit 1");
	orch_history_attempt(h, r1, 1, "transformation", 2, "driver-3",
	    "FINISHED", 7000, 8000, 9000, 0, NULL);
	orch_history_run_end(h, r1, "FINISHED", 0, -1, NULL);
	r2 = orch_history_run_begin(h, "other", "schedule", 0, r1, 60000000,
	    &busy);
	EXPECT(r2 > r1, "second run begins: %lld", (long long)r2);
	orch_history_attempt(h, r2, 0, "ingestion", 1, NULL, "SUBMITTED", 0,
	    0, 0, -1, NULL);
	orch_history_close(h);
}

static void
test_read_back(void)
{
	char path[256], err[512];
	orch_history_error code = ORCH_HISTORY_UNREADABLE;
	orch_run_list l;
	orch_history *h;

	path_in_dir(path, sizeof(path), "written.db");
	write_runs(path);
	EXPECT(raw_version(path) == ORCH_HISTORY_VERSION, "the writer "
	    "records layout version %d, found %d", ORCH_HISTORY_VERSION,
	    raw_version(path));
	h = orch_history_open_readonly(path, &code, err, sizeof(err));
	EXPECT(h != NULL && code == ORCH_HISTORY_OK, "open read-only: %s",
	    err);
	if (h == NULL)
		return;
	EXPECT(orch_history_list(h, 10, &l, err, sizeof(err)) == 0,
	    "list: %s", err);
	EXPECT(l.n == 2, "2 runs, got %zu", l.n);
	if (l.n == 2) {
		orch_run_record *new = &l.runs[0], *old = &l.runs[1];

		EXPECT(strcmp(new->pipeline, "other") == 0 &&
		    strcmp(new->trigger, "schedule") == 0 &&
		    strcmp(new->state, "RUNNING") == 0, "newest first: %s %s "
		    "%s", new->pipeline, new->trigger, new->state);
		EXPECT(new->ended_at == 0 && !new->has_exit_code &&
		    new->failed_stage == -1 && new->resumed_from ==
		    old->run_id, "a running run: no end, no exit code, "
		    "resumed from %lld", (long long)new->resumed_from);
		EXPECT(new->nattempts == 1 &&
		    strcmp(new->attempts[0].submission_id, "") == 0 &&
		    new->attempts[0].exit_code == -1 &&
		    new->attempts[0].submitted_at == 0, "an unsubmitted "
		    "attempt reads as empty id, no exit code, no time");
		EXPECT(strcmp(old->state, "FINISHED") == 0 &&
		    old->has_exit_code && old->exit_code == 0 &&
		    old->ended_at >= old->started_at && old->started_at > 0,
		    "the finished run: %s exit %d", old->state,
		    old->exit_code);
		EXPECT(old->nattempts == 3, "3 attempts, got %zu",
		    old->nattempts);
		if (old->nattempts == 3) {
			orch_attempt_record *a = old->attempts;

			EXPECT(a[0].stage_index == 0 && a[1].stage_index == 1 &&
			    a[1].attempt == 1 && a[2].attempt == 2,
			    "attempts by stage, then attempt");
			EXPECT(strcmp(a[1].stage, "transformation") == 0 &&
			    strcmp(a[1].state, "FAILED") == 0 &&
			    a[1].exit_code == 1 &&
			    strcmp(a[1].message, "exit 1") == 0 &&
			    strcmp(a[1].submission_id, "driver-2") == 0 &&
			    a[1].submitted_at == 4000 &&
			    a[1].running_at == 5000 && a[1].ended_at == 6000,
			    "a failed attempt reads back as written");
			EXPECT(strcmp(a[2].message, "") == 0, "no message "
			    "reads as \"\"");
		}
	}
	orch_run_list_free(&l);
	EXPECT(orch_history_list(h, 1, &l, err, sizeof(err)) == 0 &&
	    l.n == 1 && strcmp(l.runs[0].pipeline, "other") == 0,
	    "limit 1: the newest run only");
	orch_run_list_free(&l);
	EXPECT(orch_history_list(h, 0, &l, err, sizeof(err)) == 0 &&
	    l.n == 0 && l.runs == NULL, "limit 0: nothing");
	orch_history_close(h);
}

/* A history written before layout versions (user_version 0). */
static void
test_unversioned(void)
{
	char path[256], err[512];
	orch_history_error code;
	orch_run_list l;
	orch_history *h;

	path_in_dir(path, sizeof(path), "unversioned.db");
	write_runs(path);
	raw_exec(path, "PRAGMA user_version = 0");
	h = orch_history_open_readonly(path, &code, err, sizeof(err));
	EXPECT(h != NULL && code == ORCH_HISTORY_OK, "a file from before "
	    "versions opens read-only: %s", err);
	if (h != NULL) {
		EXPECT(orch_history_list(h, 10, &l, err, sizeof(err)) == 0 &&
		    l.n == 2, "... and lists its runs");
		orch_run_list_free(&l);
		orch_history_close(h);
	}
	EXPECT(raw_version(path) == 0, "reading writes no version");
	h = orch_history_open(path, err, sizeof(err));
	EXPECT(h != NULL, "the writer opens it: %s", err);
	orch_history_close(h);
	EXPECT(raw_version(path) == ORCH_HISTORY_VERSION, "... and stamps "
	    "version %d, found %d", ORCH_HISTORY_VERSION, raw_version(path));
}

static void
test_newer(void)
{
	char path[256], sql[64], err[512];
	orch_history_error code = ORCH_HISTORY_OK;
	orch_history *h;

	path_in_dir(path, sizeof(path), "newer.db");
	write_runs(path);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    ORCH_HISTORY_VERSION + 1);
	raw_exec(path, sql);
	h = orch_history_open_readonly(path, &code, err, sizeof(err));
	EXPECT(h == NULL && code == ORCH_HISTORY_NEWER, "a newer layout is "
	    "refused (code %d)", code);
	orch_history_close(h);
	snprintf(sql, sizeof(sql), "layout version %d",
	    ORCH_HISTORY_VERSION + 1);
	EXPECT(strstr(err, path) != NULL && strstr(err, "newer") != NULL &&
	    strstr(err, sql) != NULL, "... saying which file, its version "
	    "and that it is newer: %s", err);
	h = orch_history_open(path, err, sizeof(err));
	EXPECT(h == NULL && strstr(err, "newer") != NULL, "the writer "
	    "refuses it too: %s", err);
	orch_history_close(h);
	EXPECT(raw_version(path) == ORCH_HISTORY_VERSION + 1, "... and "
	    "leaves it as it was");
}

static void
test_missing_and_foreign(void)
{
	char path[256], err[512];
	orch_history_error code = ORCH_HISTORY_OK;
	orch_history *h;
	FILE *f;

	path_in_dir(path, sizeof(path), "missing.db");
	h = orch_history_open_readonly(path, &code, err, sizeof(err));
	EXPECT(h == NULL && code == ORCH_HISTORY_MISSING, "a missing file "
	    "is MISSING (code %d)", code);
	EXPECT(strstr(err, path) != NULL, "... naming it: %s", err);
	EXPECT(access(path, F_OK) == -1, "... and is not created");

	path_in_dir(path, sizeof(path), "other.db");
	raw_exec(path, "CREATE TABLE runs (x)");
	h = orch_history_open_readonly(path, &code, err, sizeof(err));
	EXPECT(h == NULL && code == ORCH_HISTORY_UNREADABLE, "SQLite without "
	    "the tables is UNREADABLE (code %d)", code);
	EXPECT(strstr(err, "not a medallion-orchestrator history") != NULL,
	    "... saying so: %s", err);

	path_in_dir(path, sizeof(path), "text.db");
	if ((f = fopen(path, "w")) != NULL) {
		fputs("not a database at all, just some text to fill a page\n",
		    f);
		fclose(f);
	}
	h = orch_history_open_readonly(path, &code, err, sizeof(err));
	EXPECT(h == NULL && code == ORCH_HISTORY_UNREADABLE, "a text file "
	    "is UNREADABLE (code %d): %s", code, err);
}

int
main(void)
{
	char cmd[128];
	int rc;

	if (mkdtemp(dir) == NULL) {
		perror("test_history: mkdtemp");
		return 1;
	}
	test_read_back();
	test_unversioned();
	test_newer();
	test_missing_and_foreign();
	rc = expect_report("orchestrator_history");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_history: could not remove %s\n", dir);
	return rc;
}
