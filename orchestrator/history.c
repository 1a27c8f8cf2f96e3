/*
 * history.c - run history in SQLite.
 *
 * Writes are single statements in autocommit mode (WAL, synchronous
 * NORMAL): each state change is durable on its own, and a history that
 * cannot be written only costs a warning, never the run.
 *
 * Ownership: a run records the orchestrator that runs it (host, pid, the
 * process's start time, and a lease it renews while it works). Starting a
 * run first reaps, in the same write transaction, the pipeline's RUNNING
 * runs whose owner is gone: on this host, no process with that pid and
 * start time; elsewhere, a lease past its end. A reaped run becomes LOST
 * with the stage it stopped at, so it can be resumed and its live driver
 * followed. A run whose owner lives makes the new one refuse to start:
 * two runs of one pipeline never overlap.
 *
 * Retention deletes expired runs and their attempts in transactions of
 * HISTORY_PRUNE_BATCH runs, oldest end first (index runs_ended), then
 * runs an incremental vacuum so the file shrinks rather than keeping a
 * free list: at one run every 5 minutes the history stays near 30 days
 * of runs (~4 MB at ~465 B a run) instead of growing ~50 MB a year.
 *
 * The layout is versioned in PRAGMA user_version (ORCH_HISTORY_VERSION):
 * the writer refuses a newer file and stamps an older one; a reader
 * (orch_history_open_readonly, for medallion-server) refuses a newer one
 * or a file without the tables, and gets runs through orch_history_list,
 * so no other program names the tables. This file links no libcurl: the
 * server links it as the library orchestrator_history.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "duration.h"
#include "history.h"
#include "log.h"
#include "orchestrator_schema.h"

/* Runs deleted per transaction: short enough never to hold the history's
 * write lock for long while a schedule and a `history` share it. */
#define HISTORY_PRUNE_BATCH 500

struct orch_history {
	sqlite3 *db;
	int64_t retain_us;	/* 0: keep every run */
	char host[256];		/* this orchestrator: the owner it records */
	int64_t pid, start;
};

static int ensure_owner_columns(orch_history *h);
static int64_t process_start(int64_t pid);

/* --- layout version ------------------------------------------------- */

/* One integer from a query (a PRAGMA or a count); -1 on failure. */
static int
query_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* The file's layout version (0 when none was recorded, or when the file
 * is new); -1 with err filled when it cannot be read. */
static int
read_version(sqlite3 *db, const char *path, int *version, char *err,
    size_t errlen)
{
	if (query_int(db, "PRAGMA user_version", version) == -1) {
		snprintf(err, errlen, "cannot read history %s: %s (is it a "
		    "medallion-orchestrator history?)", path,
		    sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

static int
stamp_version(sqlite3 *db)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    ORCH_HISTORY_VERSION);
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* What a reader accepts: a version it knows, and the tables. */
static orch_history_error
check_layout(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	int version, tables = 0;

	if (read_version(db, path, &version, err, errlen) == -1)
		return ORCH_HISTORY_UNREADABLE;
	if (version > ORCH_HISTORY_VERSION) {
		snprintf(err, errlen, "history %s has layout version %d, newer "
		    "than the %d this program reads: install the Medallion "
		    "release of the orchestrator that wrote it", path,
		    version, ORCH_HISTORY_VERSION);
		return ORCH_HISTORY_NEWER;
	}
	if (version < 0 || query_int(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name IN ('runs', 'attempts')",
	    &tables) == -1 || tables != 2) {
		snprintf(err, errlen, "%s is not a medallion-orchestrator "
		    "history (layout version %d, %d of its 2 tables)", path,
		    version, tables);
		return ORCH_HISTORY_UNREADABLE;
	}
	return ORCH_HISTORY_OK;
}

orch_history *
orch_history_open_readonly(const char *path, orch_history_error *code,
    char *err, size_t errlen)
{
	orch_history *h;
	struct stat sb;

	*code = ORCH_HISTORY_UNREADABLE;
	if (stat(path, &sb) == -1) {
		if (errno == ENOENT)
			*code = ORCH_HISTORY_MISSING;
		snprintf(err, errlen, "cannot open history %s: %s%s", path,
		    strerror(errno), errno == ENOENT ? " (the orchestrator "
		    "creates it at its first run)" : "");
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open history %s: %s", path,
		    sqlite3_errmsg(h->db));
		goto fail;
	}
	sqlite3_busy_timeout(h->db, 2000);
	if ((*code = check_layout(h->db, path, err, errlen)) !=
	    ORCH_HISTORY_OK)
		goto fail;
	return h;
fail:
	sqlite3_close(h->db);
	free(h);
	return NULL;
}

orch_history *
orch_history_open(const char *path, char *err, size_t errlen)
{
	orch_history *h = calloc(1, sizeof(*h));
	char *msg = NULL;
	int version;

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open history %s: %s", path,
		    sqlite3_errmsg(h->db));
		goto fail;
	}
	sqlite3_busy_timeout(h->db, 5000);
	/* Before the schema is applied: a newer layout is left untouched. */
	if (read_version(h->db, path, &version, err, errlen) == -1)
		goto fail;
	if (version > ORCH_HISTORY_VERSION) {
		snprintf(err, errlen, "history %s has layout version %d, newer "
		    "than the %d this medallion-orchestrator writes: run the "
		    "newer orchestrator, or use another --history file", path,
		    version, ORCH_HISTORY_VERSION);
		goto fail;
	}
	if (sqlite3_exec(h->db, orchestrator_schema_sql, NULL, NULL, &msg) !=
	    SQLITE_OK || sqlite3_exec(h->db, "PRAGMA synchronous = NORMAL",
	    NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "cannot set up history %s: %s", path,
		    msg ? msg : "?");
		sqlite3_free(msg);
		goto fail;
	}
	if (ensure_owner_columns(h) == -1) {
		snprintf(err, errlen, "cannot add the owner columns to history "
		    "%s: %s", path, sqlite3_errmsg(h->db));
		goto fail;
	}
	if (version < ORCH_HISTORY_VERSION && stamp_version(h->db) == -1) {
		snprintf(err, errlen, "cannot record the layout version in "
		    "history %s: %s", path, sqlite3_errmsg(h->db));
		goto fail;
	}
	if (gethostname(h->host, sizeof(h->host)) == -1)
		snprintf(h->host, sizeof(h->host), "unknown");
	h->host[sizeof(h->host) - 1] = '\0';
	h->pid = getpid();
	h->start = process_start(h->pid);
	return h;
fail:
	sqlite3_close(h->db);
	free(h);
	return NULL;
}

void
orch_history_close(orch_history *h)
{
	if (h == NULL)
		return;
	sqlite3_close(h->db);
	free(h);
}

static void
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void
bind_time(sqlite3_stmt *st, int i, int64_t t)
{
	if (t > 0)
		sqlite3_bind_int64(st, i, t);
	else
		sqlite3_bind_null(st, i);
}

static int
run_stmt(orch_history *h, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("history: %s", sqlite3_errmsg(h->db));
		return -1;
	}
	return 0;
}

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
warn_sql(orch_history *h, const char *what)
{
	log_warnx("history: %s: %s", what, sqlite3_errmsg(h->db));
}

/*
 * Deletes up to HISTORY_PRUNE_BATCH runs that ended before cutoff_us, and
 * their attempts, in one transaction (both DELETEs see the same runs:
 * nobody else writes in between), then gives the freed pages back.
 * Returns how many runs went, or -1.
 */
static int
prune_batch(orch_history *h, int64_t cutoff_us)
{
	static const char expired[] = "SELECT run_id FROM runs WHERE "
	    "ended_at < ?1 AND state <> 'RUNNING' ORDER BY ended_at LIMIT ?2";
	char sql[2][256];
	sqlite3_stmt *st = NULL;
	int i, n = 0;

	snprintf(sql[0], sizeof(sql[0]), "DELETE FROM attempts WHERE run_id "
	    "IN (%s)", expired);
	snprintf(sql[1], sizeof(sql[1]), "DELETE FROM runs WHERE run_id IN "
	    "(%s)", expired);
	if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		warn_sql(h, "cannot delete expired runs");
		return -1;
	}
	for (i = 0; i < 2; i++) {
		if (sqlite3_prepare_v2(h->db, sql[i], -1, &st, NULL) !=
		    SQLITE_OK)
			goto err;
		sqlite3_bind_int64(st, 1, cutoff_us);
		sqlite3_bind_int(st, 2, HISTORY_PRUNE_BATCH);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto err;
		n = sqlite3_changes(h->db);
		sqlite3_finalize(st);
		st = NULL;
	}
	if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto err;
	if (n > 0 && sqlite3_exec(h->db, "PRAGMA incremental_vacuum", NULL,
	    NULL, NULL) != SQLITE_OK)
		warn_sql(h, "incremental vacuum");
	return n;
err:
	warn_sql(h, "cannot delete expired runs");
	sqlite3_finalize(st);
	sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* A file made before retention has auto_vacuum NONE; one VACUUM
 * switches it. Failing costs only disk space, so it is a warning. */
static void
ensure_incremental_vacuum(orch_history *h)
{
	sqlite3_stmt *st;
	int mode = -1;

	if (sqlite3_prepare_v2(h->db, "PRAGMA auto_vacuum", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			mode = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (mode != 2 && sqlite3_exec(h->db, "PRAGMA auto_vacuum = "
	    "INCREMENTAL; VACUUM", NULL, NULL, NULL) != SQLITE_OK)
		warn_sql(h, "cannot switch to incremental vacuum (deleted runs "
		    "will not shrink the file until it succeeds)");
}

int
orch_history_parse_retention(const char *s, int64_t *us, char *err,
    size_t errlen)
{
	if (strcmp(s, "forever") == 0) {
		*us = 0;
		return 0;
	}
	return duration_parse(s, us, err, errlen);
}

int64_t
orch_history_retain(orch_history *h, int64_t retain_us)
{
	int64_t total = 0;
	int n;

	h->retain_us = retain_us;
	if (retain_us <= 0)
		return 0;
	ensure_incremental_vacuum(h);
	while ((n = prune_batch(h, now_us() - retain_us)) ==
	    HISTORY_PRUNE_BATCH)
		total += n;
	if (n < 0)
		return -1;
	total += n;
	if (total > 0)
		log_debug("history: deleted %lld run(s) that ended over the "
		    "retention ago", (long long)total);
	return total;
}

/* --- ownership ------------------------------------------------------ */

/* Adds the owner columns to a history made before they existed. */
static int
ensure_owner_columns(orch_history *h)
{
	static const char *const add[] = {
		"ALTER TABLE runs ADD COLUMN owner_host TEXT",
		"ALTER TABLE runs ADD COLUMN owner_pid INTEGER",
		"ALTER TABLE runs ADD COLUMN owner_start INTEGER",
		"ALTER TABLE runs ADD COLUMN lease_until INTEGER",
	};
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(h->db, "SELECT 1 FROM pragma_table_info('runs')"
	    " WHERE name = 'lease_until'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	for (size_t i = 0; !found && i < sizeof(add) / sizeof(add[0]); i++)
		if (sqlite3_exec(h->db, add[i], NULL, NULL, NULL) != SQLITE_OK)
			return -1;
	return 0;
}

/*
 * A process's start time in clock ticks since boot (/proc/PID/stat, field
 * 22), which tells a live owner from a later process given its pid; -1
 * when there is no such process.
 */
static int64_t
process_start(int64_t pid)
{
	char path[64], buf[1024], *p;
	long long start = -1;
	size_t n;
	FILE *f;
	int field;

	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces: count after its ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p != NULL)
		start = strtoll(p + 1, NULL, 10);
	return start;
}

/* Whether the orchestrator recorded as a run's owner still runs it. */
static int
owner_alive(const orch_history *h, const char *host, int64_t pid,
    int64_t start, int64_t lease_until)
{
	if (host == NULL || pid <= 0)
		return 0;	/* written before owners were recorded */
	if (strcmp(host, h->host) == 0)
		return start >= 0 && process_start(pid) == start;
	return lease_until > now_us();
}

/* The stage a lost run stopped at: its newest attempted stage, or the one
 * after it when that stage had finished. */
static int
lost_stage(orch_history *h, int64_t run)
{
	sqlite3_stmt *st;
	int stage = 0;

	if (sqlite3_prepare_v2(h->db, "SELECT stage_index, state FROM attempts"
	    " WHERE run_id = ? ORDER BY stage_index DESC, attempt DESC LIMIT 1",
	    -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, run);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 1);

		stage = sqlite3_column_int(st, 0);
		if (state != NULL && strcmp(state, "FINISHED") == 0)
			stage++;
	}
	sqlite3_finalize(st);
	return stage;
}

static int
mark_lost(orch_history *h, int64_t run, int64_t pid, const char *host)
{
	char msg[512];
	sqlite3_stmt *st;

	snprintf(msg, sizeof(msg), "its orchestrator (pid %lld on %.200s) "
	    "stopped without ending it", (long long)pid, host ? host : "?");
	/* Still RUNNING: another process may have reaped it since we read
	 * it (reap reads first, then writes). */
	if (sqlite3_prepare_v2(h->db, "UPDATE runs SET state = 'LOST', "
	    "ended_at = ?, failed_stage = ?, message = ? WHERE run_id = ? AND "
	    "state = 'RUNNING'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, now_us());
	sqlite3_bind_int(st, 2, lost_stage(h, run));
	bind_text(st, 3, msg);
	sqlite3_bind_int64(st, 4, run);
	if (run_stmt(h, st) == -1)
		return -1;
	if (sqlite3_changes(h->db) == 0)
		return 0;
	log_warnx("run %lld was left RUNNING: %s; marked LOST (the next run "
	    "of its pipeline recovers it)", (long long)run, msg);
	return 0;
}

/* A RUNNING run whose owner is gone, as reap reads it. */
typedef struct ownerless_run {
	int64_t run, pid;
	char host[256];
} ownerless_run;

/*
 * Marks the pipeline's (every pipeline's, when NULL) RUNNING runs whose
 * owner is gone as LOST. The newest one with a live owner goes to *busy.
 * Inside the caller's transaction, or on its own.
 *
 * The runs are all read before any is marked. An UPDATE made while the
 * SELECT still holds its read transaction cannot wait for another writer
 * (SQLite calls no busy handler to turn a read transaction into a write
 * one): it failed at once with "database is locked" whenever another
 * process (a `history`, which reaps too) was writing, and a watch
 * restarted after a kill -9 then found its lost run still RUNNING and did
 * not recover it. Once the read is over, each UPDATE is a transaction of
 * its own and waits for the lock like any other write.
 */
static int
reap(orch_history *h, const char *pipeline, orch_busy *busy)
{
	sqlite3_stmt *st;
	ownerless_run *gone = NULL, *more;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (sqlite3_prepare_v2(h->db, "SELECT run_id, owner_host, owner_pid, "
	    "owner_start, lease_until FROM runs WHERE state = 'RUNNING' AND "
	    "(?1 IS NULL OR pipeline = ?1) ORDER BY run_id", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	bind_text(st, 1, pipeline);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t run = sqlite3_column_int64(st, 0);
		const char *host = (const char *)sqlite3_column_text(st, 1);
		int64_t pid = sqlite3_column_int64(st, 2);

		if (owner_alive(h, host, pid, sqlite3_column_int64(st, 3),
		    sqlite3_column_int64(st, 4))) {
			if (busy != NULL) {
				busy->run = run;
				busy->pid = pid;
				snprintf(busy->host, sizeof(busy->host), "%s",
				    host);
			}
			continue;
		}
		if (n == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			if ((more = realloc(gone, cap * sizeof(*gone))) ==
			    NULL) {
				log_warnx("history: out of memory reading the "
				    "runs whose orchestrator is gone");
				rc = -1;
				break;
			}
			gone = more;
		}
		gone[n].run = run;
		gone[n].pid = pid;
		snprintf(gone[n].host, sizeof(gone[n].host), "%s",
		    host != NULL ? host : "?");
		n++;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++)
		if (mark_lost(h, gone[i].run, gone[i].pid, gone[i].host) == -1)
			rc = -1;
	free(gone);
	return rc;
}

int
orch_history_reap(orch_history *h)
{
	return h == NULL ? 0 : reap(h, NULL, NULL);
}

static int64_t
insert_run(orch_history *h, const char *pipeline, const char *trigger,
    int64_t scheduled_at, int64_t resumed_from, int64_t lease_us)
{
	sqlite3_stmt *st;
	int64_t now = now_us();

	if (sqlite3_prepare_v2(h->db, "INSERT INTO runs (pipeline, trigger, "
	    "scheduled_at, started_at, state, resumed_from, owner_host, "
	    "owner_pid, owner_start, lease_until) VALUES (?, ?, ?, ?, "
	    "'RUNNING', ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
		return 0;
	bind_text(st, 1, pipeline);
	bind_text(st, 2, trigger);
	bind_time(st, 3, scheduled_at);
	sqlite3_bind_int64(st, 4, now);
	if (resumed_from > 0)
		sqlite3_bind_int64(st, 5, resumed_from);
	else
		sqlite3_bind_null(st, 5);
	bind_text(st, 6, h->host);
	sqlite3_bind_int64(st, 7, h->pid);
	sqlite3_bind_int64(st, 8, h->start);
	sqlite3_bind_int64(st, 9, now + lease_us);
	if (run_stmt(h, st) == -1)
		return 0;
	return sqlite3_last_insert_rowid(h->db);
}

int64_t
orch_history_run_begin(orch_history *h, const char *pipeline,
    const char *trigger, int64_t scheduled_at, int64_t resumed_from,
    int64_t lease_us, orch_busy *busy)
{
	int64_t run = 0;

	memset(busy, 0, sizeof(*busy));
	if (h == NULL)
		return 0;
	/* One write transaction: two orchestrators starting at once see
	 * each other, and only one inserts. */
	if (sqlite3_exec(h->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		warn_sql(h, "cannot start a run");
		return 0;
	}
	if (reap(h, pipeline, busy) == -1)
		goto err;
	if (busy->run > 0) {
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if ((run = insert_run(h, pipeline, trigger, scheduled_at,
	    resumed_from, lease_us)) == 0)
		goto err;
	if (sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto err;
	return run;
err:
	warn_sql(h, "cannot start a run");
	sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
	return 0;
}

void
orch_history_renew(orch_history *h, int64_t run, int64_t lease_us)
{
	sqlite3_stmt *st;

	if (h == NULL || run <= 0)
		return;
	if (sqlite3_prepare_v2(h->db, "UPDATE runs SET lease_until = ? WHERE "
	    "run_id = ? AND state = 'RUNNING'", -1, &st, NULL) != SQLITE_OK) {
		warn_sql(h, "cannot renew the run's lease");
		return;
	}
	sqlite3_bind_int64(st, 1, now_us() + lease_us);
	sqlite3_bind_int64(st, 2, run);
	run_stmt(h, st);
}

int
orch_history_live_driver(orch_history *h, int64_t run, int stage,
    char *id, size_t idlen, int *attempt)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(h->db, "SELECT submission_id, attempt FROM "
	    "attempts WHERE run_id = ? AND stage_index = ? AND submission_id "
	    "IS NOT NULL AND state IN ('SUBMITTED', 'RUNNING', 'RELAUNCHING') "
	    "ORDER BY attempt DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int(st, 2, stage);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(id, idlen, "%s", sqlite3_column_text(st, 0));
		*attempt = sqlite3_column_int(st, 1);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
orch_history_newest_unfinished(orch_history *h, const char *pipeline,
    int64_t *run, int *stage, char *state, size_t statelen)
{
	const char *s;

	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(h->db, "SELECT run_id, state, failed_stage "
	    "FROM runs WHERE pipeline = ? ORDER BY run_id DESC LIMIT 1", -1,
	    &st, NULL) != SQLITE_OK)
		return -1;
	bind_text(st, 1, pipeline);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (s = (const char *)sqlite3_column_text(st, 1)) != NULL &&
	    (strcmp(s, "LOST") == 0 || (strcmp(s, "INTERRUPTED") == 0 &&
	    sqlite3_column_type(st, 2) != SQLITE_NULL))) {
		snprintf(state, statelen, "%s", s);
		*run = sqlite3_column_int64(st, 0);
		*stage = sqlite3_column_int(st, 2);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

void
orch_history_run_end(orch_history *h, int64_t run, const char *state,
    int exit_code, int failed_stage, const char *message)
{
	sqlite3_stmt *st;
	struct timespec ts;

	if (h == NULL || run <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (sqlite3_prepare_v2(h->db, "UPDATE runs SET ended_at = ?, state = ?,"
	    " exit_code = ?, failed_stage = ?, message = ? WHERE run_id = ?",
	    -1, &st, NULL) != SQLITE_OK) {
		log_warnx("history: %s", sqlite3_errmsg(h->db));
		return;
	}
	sqlite3_bind_int64(st, 1, (int64_t)ts.tv_sec * 1000000 +
	    ts.tv_nsec / 1000);
	bind_text(st, 2, state);
	sqlite3_bind_int(st, 3, exit_code);
	if (failed_stage >= 0)
		sqlite3_bind_int(st, 4, failed_stage);
	else
		sqlite3_bind_null(st, 4);
	bind_text(st, 5, message);
	sqlite3_bind_int64(st, 6, run);
	run_stmt(h, st);
	if (h->retain_us > 0)
		prune_batch(h, now_us() - h->retain_us);
}

void
orch_history_attempt(orch_history *h, int64_t run, int stage_index,
    const char *stage, int attempt, const char *submission_id,
    const char *state, int64_t submitted_at, int64_t running_at,
    int64_t ended_at, int64_t exit_code, const char *message)
{
	sqlite3_stmt *st;

	if (h == NULL || run <= 0)
		return;
	if (sqlite3_prepare_v2(h->db, "INSERT OR REPLACE INTO attempts (run_id,"
	    " stage_index, stage, attempt, submission_id, state, submitted_at,"
	    " running_at, ended_at, exit_code, message) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("history: %s", sqlite3_errmsg(h->db));
		return;
	}
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int(st, 2, stage_index);
	bind_text(st, 3, stage);
	sqlite3_bind_int(st, 4, attempt);
	bind_text(st, 5, submission_id);
	bind_text(st, 6, state);
	bind_time(st, 7, submitted_at);
	bind_time(st, 8, running_at);
	bind_time(st, 9, ended_at);
	if (exit_code >= 0)
		sqlite3_bind_int64(st, 10, exit_code);
	else
		sqlite3_bind_null(st, 10);
	bind_text(st, 11, message);
	run_stmt(h, st);
}

int
orch_history_last_failed(orch_history *h, int64_t run_id, int64_t *run,
    int *stage)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (sqlite3_prepare_v2(h->db, "SELECT run_id, failed_stage FROM runs "
	    "WHERE state NOT IN ('FINISHED', 'RUNNING') AND failed_stage IS "
	    "NOT NULL AND (?1 = 0 OR run_id = ?1) ORDER BY run_id DESC "
	    "LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, run_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*run = sqlite3_column_int64(st, 0);
		*stage = sqlite3_column_int(st, 1);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static void
fmt_time(sqlite3_stmt *st, int col, char *buf, size_t len)
{
	int64_t us;
	time_t s;
	struct tm tm;

	if (sqlite3_column_type(st, col) == SQLITE_NULL) {
		snprintf(buf, len, "-");
		return;
	}
	us = sqlite3_column_int64(st, col);
	s = (time_t)(us / 1000000);
	gmtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *
col_text(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s ? (const char *)s : "";
}

int
orch_history_print(orch_history *h, FILE *out, int limit, int json)
{
	sqlite3_stmt *runs, *att;

	if (sqlite3_prepare_v2(h->db, "SELECT run_id, pipeline, trigger, "
	    "started_at, ended_at, state, exit_code, failed_stage, "
	    "resumed_from, message FROM runs ORDER BY run_id DESC LIMIT ?",
	    -1, &runs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db, "SELECT stage_index, stage, attempt, "
	    "submission_id, state, submitted_at, running_at, ended_at, "
	    "exit_code, message FROM attempts WHERE run_id = ? ORDER BY "
	    "stage_index, attempt", -1, &att, NULL) != SQLITE_OK) {
		log_warnx("history: %s", sqlite3_errmsg(h->db));
		return -1;
	}
	sqlite3_bind_int(runs, 1, limit);
	while (sqlite3_step(runs) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(runs, 0);
		int64_t started = sqlite3_column_int64(runs, 3);
		int64_t ended = sqlite3_column_int64(runs, 4);
		char t0[32], t1[32];
		json_t *attempts = json_array();

		fmt_time(runs, 3, t0, sizeof(t0));
		fmt_time(runs, 4, t1, sizeof(t1));
		if (!json)
			fprintf(out, "run %" PRId64 "  %-10s %-8s started %s  "
			    "%.1fs  exit %s%s%s\n", id, col_text(runs, 5),
			    col_text(runs, 2), t0, ended > started ?
			    (ended - started) / 1e6 : 0.0, col_text(runs, 6),
			    sqlite3_column_type(runs, 8) == SQLITE_NULL ? "" :
			    "  resumed from run ", col_text(runs, 8));
		sqlite3_reset(att);
		sqlite3_bind_int64(att, 1, id);
		while (sqlite3_step(att) == SQLITE_ROW) {
			int64_t sub = sqlite3_column_int64(att, 5);
			int64_t end = sqlite3_column_int64(att, 7);

			if (json) {
				json_array_append_new(attempts, json_pack(
				    "{s:i, s:s, s:i, s:s, s:s, s:f, s:s}",
				    "stage_index", sqlite3_column_int(att, 0),
				    "stage", col_text(att, 1),
				    "attempt", sqlite3_column_int(att, 2),
				    "submission_id", col_text(att, 3),
				    "state", col_text(att, 4),
				    "seconds", end > sub ? (end - sub) / 1e6 :
				    0.0, "message", col_text(att, 9)));
				continue;
			}
			fprintf(out, "    %-15s attempt %d  %-28s %-9s %.2fs%s%s\n",
			    col_text(att, 1), sqlite3_column_int(att, 2),
			    col_text(att, 3), col_text(att, 4), end > sub ?
			    (end - sub) / 1e6 : 0.0, *col_text(att, 9) ?
			    "  " : "", col_text(att, 9));
		}
		if (json) {
			json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, "
			    "s:o, s:s, s:o}", "run_id", (json_int_t)id,
			    "pipeline", col_text(runs, 1), "trigger",
			    col_text(runs, 2), "started_at", t0, "ended_at", t1,
			    "state", col_text(runs, 5), "exit_code",
			    sqlite3_column_type(runs, 6) == SQLITE_NULL ?
			    json_null() : json_integer(sqlite3_column_int(runs,
			    6)), "message", col_text(runs, 9), "attempts",
			    attempts);

			json_object_set_new(o, "resumed_from",
			    sqlite3_column_type(runs, 8) == SQLITE_NULL ?
			    json_null() : json_integer(sqlite3_column_int64(
			    runs, 8)));
			char *line = json_dumps(o, JSON_COMPACT);

			if (line)
				fprintf(out, "%s\n", line);
			free(line);
			json_decref(o);
		} else
			json_decref(attempts);
	}
	sqlite3_finalize(runs);
	sqlite3_finalize(att);
	return 0;
}

/* --- reading runs (orch_history_list) ------------------------------- */

/* A copy of a text column, "" for NULL; NULL only when out of memory. */
static char *
col_dup(sqlite3_stmt *st, int col)
{
	return strdup(col_text(st, col));
}

static int64_t
col_int64_or(sqlite3_stmt *st, int col, int64_t none)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? none :
	    sqlite3_column_int64(st, col);
}

static void
attempt_free(orch_attempt_record *a)
{
	free(a->stage);
	free(a->submission_id);
	free(a->state);
	free(a->message);
}

static void
run_free(orch_run_record *r)
{
	for (size_t i = 0; i < r->nattempts; i++)
		attempt_free(&r->attempts[i]);
	free(r->attempts);
	free(r->pipeline);
	free(r->trigger);
	free(r->state);
	free(r->message);
}

void
orch_run_list_free(orch_run_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		run_free(&l->runs[i]);
	free(l->runs);
	l->runs = NULL;
	l->n = 0;
}

/* Fills *a from a row of the attempts query; -1 when out of memory. */
static int
attempt_from_row(sqlite3_stmt *st, orch_attempt_record *a)
{
	a->stage_index = sqlite3_column_int(st, 0);
	a->stage = col_dup(st, 1);
	a->attempt = sqlite3_column_int(st, 2);
	a->submission_id = col_dup(st, 3);
	a->state = col_dup(st, 4);
	a->submitted_at = col_int64_or(st, 5, 0);
	a->running_at = col_int64_or(st, 6, 0);
	a->ended_at = col_int64_or(st, 7, 0);
	a->exit_code = col_int64_or(st, 8, -1);
	a->message = col_dup(st, 9);
	return a->stage && a->submission_id && a->state && a->message ? 0 :
	    -1;
}

/* Reads run r's attempts with the prepared statement att: SQLITE_DONE,
 * SQLITE_NOMEM when out of memory, or SQLite's error. */
static int
read_attempts(sqlite3_stmt *att, orch_run_record *r)
{
	size_t cap = 0;
	int rc;

	sqlite3_reset(att);
	sqlite3_bind_int64(att, 1, r->run_id);
	while ((rc = sqlite3_step(att)) == SQLITE_ROW) {
		if (r->nattempts == cap) {
			size_t ncap = cap ? 2 * cap : 4;
			orch_attempt_record *p = realloc(r->attempts,
			    ncap * sizeof(*p));

			if (p == NULL)
				return SQLITE_NOMEM;
			r->attempts = p;
			cap = ncap;
		}
		memset(&r->attempts[r->nattempts], 0, sizeof(*r->attempts));
		if (attempt_from_row(att, &r->attempts[r->nattempts++]) == -1)
			return SQLITE_NOMEM;
	}
	return rc;
}

/* Fills *r from a row of the runs query; -1 when out of memory. */
static int
run_from_row(sqlite3_stmt *st, orch_run_record *r)
{
	r->run_id = sqlite3_column_int64(st, 0);
	r->pipeline = col_dup(st, 1);
	r->trigger = col_dup(st, 2);
	r->started_at = col_int64_or(st, 3, 0);
	r->ended_at = col_int64_or(st, 4, 0);
	r->state = col_dup(st, 5);
	r->has_exit_code = sqlite3_column_type(st, 6) != SQLITE_NULL;
	r->exit_code = sqlite3_column_int(st, 6);
	r->failed_stage = (int)col_int64_or(st, 7, -1);
	r->resumed_from = col_int64_or(st, 8, 0);
	r->message = col_dup(st, 9);
	return r->pipeline && r->trigger && r->state && r->message ? 0 : -1;
}

int
orch_history_list(orch_history *h, int limit, orch_run_list *out,
    char *err, size_t errlen)
{
	sqlite3_stmt *runs = NULL, *att = NULL;
	int rc = SQLITE_DONE;

	memset(out, 0, sizeof(*out));
	if (limit <= 0)
		return 0;
	if (sqlite3_prepare_v2(h->db, "SELECT run_id, pipeline, trigger, "
	    "started_at, ended_at, state, exit_code, failed_stage, "
	    "resumed_from, message FROM runs ORDER BY run_id DESC LIMIT ?",
	    -1, &runs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db, "SELECT stage_index, stage, attempt, "
	    "submission_id, state, submitted_at, running_at, ended_at, "
	    "exit_code, message FROM attempts WHERE run_id = ? ORDER BY "
	    "stage_index, attempt", -1, &att, NULL) != SQLITE_OK)
		goto sql_err;
	if ((out->runs = calloc((size_t)limit, sizeof(*out->runs))) == NULL)
		goto oom;
	sqlite3_bind_int(runs, 1, limit);
	while (out->n < (size_t)limit && (rc = sqlite3_step(runs)) ==
	    SQLITE_ROW) {
		orch_run_record *r = &out->runs[out->n++];

		if (run_from_row(runs, r) == -1)
			goto oom;
		if ((rc = read_attempts(att, r)) == SQLITE_NOMEM)
			goto oom;
		if (rc != SQLITE_DONE)
			goto sql_err;
	}
	if (rc != SQLITE_DONE)
		goto sql_err;
	sqlite3_finalize(runs);
	sqlite3_finalize(att);
	return 0;
sql_err:
	snprintf(err, errlen, "cannot read the history's runs: %s",
	    sqlite3_errmsg(h->db));
	goto fail;
oom:
	snprintf(err, errlen, "out of memory reading the history's runs");
fail:
	sqlite3_finalize(runs);
	sqlite3_finalize(att);
	orch_run_list_free(out);
	return -1;
}
