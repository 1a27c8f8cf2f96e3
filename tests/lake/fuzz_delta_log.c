/*
 * fuzz_delta_log.c - libFuzzer target for Delta log replay
 * (delta_snapshot.c): the input is a table's log, commits separated by
 * NUL bytes (which JSON never holds), written as versions 0, 1, ... into
 * a scratch table folder and read back the ways the stages read it:
 * the newest snapshot, version 0, the metadata-only load, the latest
 * version, the changes since nothing, commitInfo, and file statistics.
 * Checked:
 *  - any log ends in a snapshot or an error message, never a bad read,
 *    a leak (ASan) or an overflow (UBSan);
 *  - a snapshot that loads is the version asked for, and its live files
 *    are sorted by path with no path twice.
 * A wrong answer aborts, which libFuzzer reports as a crash.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta.h"

/* The newest version, or the error code when there is none. */
static int64_t
newest_version(const char *table, lake_err *err)
{
	int64_t v;
	int rc = delta_latest_version(table, &v, err);

	return rc == DELTA_OK ? v : rc;
}

#define MAX_COMMITS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char table[PATH_MAX];

static void
remove_table(void)
{
	char path[PATH_MAX + 64];

	for (int v = 0; v < MAX_COMMITS; v++) {
		snprintf(path, sizeof(path), "%s/_delta_log/%020d.json", table,
		    v);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/_delta_log", table);
	rmdir(path);
	rmdir(table);
}

/* The scratch table, made once per process and removed at its exit. */
static int
make_table(void)
{
	const char *tmp = getenv("TMPDIR");
	char log[PATH_MAX + 16];

	if (snprintf(table, sizeof(table), "%s/fuzz-delta.XXXXXX", tmp ? tmp :
	    "/tmp") >= (int)sizeof(table) || mkdtemp(table) == NULL)
		return -1;
	snprintf(log, sizeof(log), "%s/_delta_log", table);
	if (mkdir(log, 0700) == -1)
		return -1;
	atexit(remove_table);
	return 0;
}

/* Writes the commits; returns how many. */
static int
write_commits(const uint8_t *data, size_t size)
{
	char path[PATH_MAX + 64];
	int n = 0;

	for (int v = 0; v < MAX_COMMITS; v++) {
		snprintf(path, sizeof(path), "%s/_delta_log/%020d.json", table,
		    v);
		unlink(path);
	}
	while (n < MAX_COMMITS) {
		const uint8_t *nul = memchr(data, 0, size);
		size_t len = nul ? (size_t)(nul - data) : size;
		FILE *f;

		snprintf(path, sizeof(path), "%s/_delta_log/%020d.json", table,
		    n);
		if ((f = fopen(path, "w")) == NULL)
			abort();
		if (len > 0 && fwrite(data, 1, len, f) != len)
			abort();
		fclose(f);
		n++;
		if (nul == NULL)
			break;
		data += len + 1;
		size -= len + 1;
	}
	return n;
}

static void
check_snapshot(const delta_snapshot *s, int64_t want_version)
{
	int64_t lo, hi;

	if (s->version != want_version)
		abort();
	for (size_t i = 0; i < s->nfiles; i++) {
		if (s->files[i].path == NULL)
			abort();
		if (i > 0 && strcmp(s->files[i - 1].path, s->files[i].path) >= 0)
			abort();
		(void)delta_file_int_range(&s->files[i], "orderid", &lo, &hi);
	}
	(void)delta_snapshot_txn_version(s, "ingestion:orders");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	delta_snapshot *snap = NULL;
	delta_file *files = NULL;
	size_t nfiles = 0;
	lake_err err;
	char *info;
	int n, rc;

	if (!ready) {
		if (make_table() == -1)
			abort();
		ready = 1;
	}
	n = write_commits(data, size);
	err.msg[0] = '\0';
	rc = delta_snapshot_load(table, -1, &snap, &err);
	if (rc == DELTA_OK)
		check_snapshot(snap, n - 1);
	else if (rc == DELTA_ERROR && err.msg[0] == '\0')
		abort();
	delta_snapshot_free(snap);
	snap = NULL;
	if (delta_snapshot_load(table, 0, &snap, &err) == DELTA_OK)
		check_snapshot(snap, 0);
	delta_snapshot_free(snap);
	snap = NULL;
	if (delta_snapshot_load_meta(table, &snap, &err) == DELTA_OK &&
	    snap->nfiles != 0)
		abort();
	delta_snapshot_free(snap);
	if (newest_version(table, &err) >= 0 && delta_changes(table, -1,
	    n - 1, &files, &nfiles, &err) == 0)
		delta_files_free(files, nfiles);
	free(delta_commit_info(table, 0, &err));
	return 0;
}
