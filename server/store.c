/*
 * store.c - SQLite state for drivers: schema, ids, transitions, queries.
 *
 * Every transition is one UPDATE guarded by the state it expects, and
 * sqlite3_changes() says whether this caller won it. The schema comes from
 * schemas/sqlite/server.sql, compiled in; PRAGMA user_version records
 * which version a file has, and store_open() migrates older files.
 *
 * No secrets in the state: the file (and its -wal and -shm) is 0600, and
 * the values of a request's environment variables are never written to
 * it. A queued driver's values wait in a 0600 file of their own,
 * <state>.env/<id>, from create until its runner has begun (the runner
 * then holds them in its environment, relaunches included), so a driver
 * still queued when the server restarts starts with its variables.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "server_schema.h"

#define STORE_SCHEMA_VERSION 3
#define STORE_BUSY_TIMEOUT_MS 10000
/* The WAL file is cut back to this size after a checkpoint, so a burst of
 * writes (a large clear) does not leave a large file behind for good. */
#define STORE_WAL_LIMIT_BYTES (4 * 1024 * 1024)

/* Prepared statements are kept, keyed by their SQL text: parsing is the
 * largest cost of a status request otherwise. */
#define STORE_CACHED_STATEMENTS 32

struct cached_statement {
	char *sql;
	sqlite3_stmt *stmt;
};

struct store {
	sqlite3 *db;
	char *path;
	pthread_mutex_t lock;	/* one connection, used by one thread at once */
	struct cached_statement cache[STORE_CACHED_STATEMENTS];
	int ncached;
	/* Writes that failed for want of space or an I/O error: whether the
	 * latest write did (a successful one clears it), when the latest
	 * such failure was (µs, wall clock; 0 never), and its cause. */
	int unwritable;
	int64_t last_write_failure_us;
	int failure_code, failure_errno;
};

/* Filled in once when a version 1 file becomes version 2: the counts and
 * the histogram that the triggers keep from then on. */
static const char seed_v2_sql[] =
    "UPDATE driver_counts SET n = (SELECT count(*) FROM drivers d WHERE "
    "d.state = driver_counts.state); "
    "WITH lat(us) AS (SELECT started_us - created_us FROM drivers WHERE "
    "started_us IS NOT NULL), b(le, us) AS (SELECT (SELECT min(le_us) FROM "
    "launch_latency WHERE le_us >= us), us FROM lat) "
    "UPDATE launch_latency SET n = (SELECT count(*) FROM b WHERE le = "
    "le_us), sum_us = (SELECT coalesce(sum(us), 0) FROM b WHERE le = "
    "le_us);";

static int run(store *st, const char *sql,
    int (*row_cb)(sqlite3_stmt *, void *), void *arg, const char *fmt, ...);

static const char finished_states[] =
    "('FINISHED', 'FAILED', 'KILLED', 'ERROR', 'UNKNOWN')";

static const char driver_columns[] =
    "id, stage, state, message, argv, env, supervise, created_us, "
    "claimed_us, started_us, ended_us, claim_token, exit_code, "
    "exit_signal, attempts, runner_pid, runner_start, stage_pid, "
    "kill_requested, lease_until";

static int
exec_sql(store *st, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", st->path, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
user_version(store *st)
{
	sqlite3_stmt *s;
	int v = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* A file made before version 3 has its drivers table already, so the
 * schema's CREATE TABLE did not add the lease: ALTER TABLE does, unless
 * the column is there (a file taken back to an older version by hand). */
static int
add_lease_column(store *st, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int present = 0;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM pragma_table_info("
	    "'drivers') WHERE name = 'lease_until'", -1, &s, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot read the drivers table: %s",
		    st->path, sqlite3_errmsg(st->db));
		return -1;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		present = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (present)
		return 0;
	return exec_sql(st, "ALTER TABLE drivers ADD COLUMN lease_until "
	    "INTEGER", err, errlen);
}

/* Redacts every row: env becomes the array of its names, the request's
 * environmentVariables values become "(redacted)". secure_delete zeroes
 * the cells that held them. CASE, not AND, guards the JSON functions,
 * which fail on text that is not JSON (rows written by hand). */
static const char redact_v3_sql[] =
    "PRAGMA secure_delete = ON; "
    "UPDATE drivers SET env = (SELECT json_group_array(key) FROM "
    "json_each(drivers.env)) WHERE CASE WHEN json_valid(env) THEN "
    "json_type(env) = 'object' ELSE 0 END; "
    "UPDATE drivers SET request = json_set(request, "
    "'$.environmentVariables', json((SELECT json_group_object(key, "
    "'(redacted)') FROM json_each(drivers.request, "
    "'$.environmentVariables')))) WHERE CASE WHEN json_valid(request) "
    "THEN json_type(request, '$.environmentVariables') = 'object' ELSE 0 "
    "END;";

struct env_move {
	store *st;
	int failed;
};

static int
save_env_row(sqlite3_stmt *s, void *arg)
{
	struct env_move *m = arg;
	const char *id = (const char *)sqlite3_column_text(s, 0);
	const char *env = (const char *)sqlite3_column_text(s, 1);

	if (id != NULL && env != NULL && store_env_save(m->st, id, env) == -1 &&
	    errno != EEXIST) {
		log_warn("cannot keep the environment of queued driver %s in "
		    "%s.env", id, m->st->path);
		m->failed = 1;
		return 1;
	}
	return 0;
}

/*
 * Version 3 keeps no environment values in the state: a queued driver's
 * go to its file first (it still needs them), then every row is redacted.
 */
static int
move_environment_out(store *st, char *err, size_t errlen)
{
	struct env_move m = {st, 0};
	int rc;

	if (run(st, "SELECT id, env FROM drivers WHERE state = 'SUBMITTED' AND "
	    "CASE WHEN json_valid(env) THEN json_type(env) = 'object' AND "
	    "env <> '{}' ELSE 0 END", save_env_row, &m, "") < 0 || m.failed) {
		snprintf(err, errlen, "%s: cannot move the environment values "
		    "of queued drivers to %s.env (see above); the file is left "
		    "at version 2", st->path, st->path);
		return -1;
	}
	rc = exec_sql(st, redact_v3_sql, err, errlen);
	sqlite3_exec(st->db, "PRAGMA secure_delete = OFF", NULL, NULL, NULL);
	return rc;
}

/* 0 up to date or created, 1 an older file was migrated, -1 error. */
static int
migrate(store *st, char *err, size_t errlen)
{
	char sql[64];
	int v = user_version(st);

	if (v < 0) {
		snprintf(err, errlen, "%s: cannot read schema version: %s",
		    st->path, sqlite3_errmsg(st->db));
		return -1;
	}
	if (v > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: schema version %d is newer than this "
		    "server understands (%d); use a newer medallion-server",
		    st->path, v, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (v == STORE_SCHEMA_VERSION)
		return 0;
	/*
	 * Every step of the schema is CREATE ... IF NOT EXISTS, so applying
	 * it again brings a file of any older version up to date; the steps
	 * that move data are applied per version after it.
	 */
	if (exec_sql(st, "BEGIN IMMEDIATE", err, errlen) == -1)
		return -1;
	if (exec_sql(st, server_schema_sql, err, errlen) == -1)
		goto rollback;
	if (v == 1 && exec_sql(st, seed_v2_sql, err, errlen) == -1)
		goto rollback;
	if (v >= 1 && v < 3 && (add_lease_column(st, err, errlen) == -1 ||
	    move_environment_out(st, err, errlen) == -1))
		goto rollback;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
	    STORE_SCHEMA_VERSION);
	if (exec_sql(st, sql, err, errlen) == -1 ||
	    exec_sql(st, "COMMIT", err, errlen) == -1)
		goto rollback;
	return v == 1;
rollback:
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/*
 * A file created before version 2 has auto_vacuum NONE, and only a full
 * VACUUM switches it: done once, when the server migrates the file at
 * start (runners, which open an up-to-date file, never pay for it).
 * Failing costs only disk space (deleted pages stay on the free list and
 * are reused), so it is a warning that says how to do it by hand.
 */
static void
switch_to_incremental_vacuum(store *st)
{
	char err[512];
	sqlite3_stmt *s;
	int mode = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA auto_vacuum", -1, &s, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			mode = sqlite3_column_int(s, 0);
		sqlite3_finalize(s);
	}
	if (mode == 2)
		return;
	if (exec_sql(st, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM", err,
	    sizeof(err)) == -1)
		log_warnx("state store %s: cannot switch "
		    "to incremental vacuum, so deleted drivers will not shrink "
		    "the file (%s); stop the server and run: sqlite3 %s "
		    "'PRAGMA auto_vacuum = INCREMENTAL; VACUUM'", st->path,
		    err, st->path);
}

/*
 * The state file is created 0600 before SQLite opens it (SQLite gives the
 * -wal and -shm files the mode of the database file), and a file, -wal or
 * -shm found open to others is tightened, with a warning.
 */
static int
protect_state_file(const char *path, char *err, size_t errlen)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char file[4096];
	struct stat sb;
	size_t i;
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "cannot open state file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	close(fd);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if ((size_t)snprintf(file, sizeof(file), "%s%s", path,
		    suffixes[i]) >= sizeof(file)) {
			snprintf(err, errlen, "state file name too long: %.200s",
			    path);
			return -1;
		}
		if (stat(file, &sb) == -1 || (sb.st_mode & 077) == 0)
			continue;
		if (chmod(file, sb.st_mode & 0700) == -1)
			log_warn("state file %s is open to other users (mode "
			    "%04o) and cannot be made 0600", file,
			    (unsigned)(sb.st_mode & 07777));
		else
			log_warnx("state file %s was open to other users (mode "
			    "%04o); it is now %04o", file, (unsigned)(sb.st_mode &
			    07777), (unsigned)(sb.st_mode & 0700));
	}
	return 0;
}

/* Whether the file has no database in it yet (just created). */
static int
is_new_file(store *st)
{
	sqlite3_stmt *s;
	int pages = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA page_count", -1, &s, NULL) !=
	    SQLITE_OK)
		return 1;	/* setting auto_vacuum is harmless, only slower */
	if (sqlite3_step(s) == SQLITE_ROW)
		pages = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return pages <= 0;
}

store *
store_open(const char *path, char *err, size_t errlen)
{
	store *st = calloc(1, sizeof(*st));
	char sql[256];
	int migrated;

	if (st == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&st->lock, NULL);
	if ((st->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (protect_state_file(path, err, errlen) == -1)
		goto fail;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open state file %s: %s", path,
		    st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	/*
	 * auto_vacuum first: a new file takes it only before its header is
	 * written, which switching to WAL does. Only a new file: on an
	 * existing one the pragma is a write transaction, synced (before
	 * synchronous = NORMAL applies), that every runner paid at its start
	 * (~0.5 ms of a stage's launch); older files are switched by
	 * migrate's VACUUM instead.
	 */
	snprintf(sql, sizeof(sql), "%sPRAGMA journal_mode = WAL; "
	    "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
	    "PRAGMA journal_size_limit = %d", is_new_file(st) ?
	    "PRAGMA auto_vacuum = INCREMENTAL; " : "", STORE_WAL_LIMIT_BYTES);
	if (exec_sql(st, sql, err, errlen) == -1 ||
	    (migrated = migrate(st, err, errlen)) == -1)
		goto fail;
	if (migrated)
		switch_to_incremental_vacuum(st);
	return st;
fail:
	store_close(st);
	return NULL;
}

void
store_close(store *st)
{
	int i;

	if (st == NULL)
		return;
	for (i = 0; i < st->ncached; i++) {
		sqlite3_finalize(st->cache[i].stmt);
		free(st->cache[i].sql);
	}
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st->path);
	free(st);
}

/*
 * Runs one statement with bound arguments. fmt names the argument types:
 * 's' text, 'i' int64, 'n' text-or-NULL. Returns the number of changed
 * rows, or -1. Rows, when row_cb is given, go to it.
 */
/*
 * Returns a ready statement for sql: a cached one (reset), or a newly
 * prepared one, cached while there is room. *cached says which, so the
 * caller resets rather than finalizes it. Called with st->lock held.
 */
static sqlite3_stmt *
statement(store *st, const char *sql, int *cached)
{
	sqlite3_stmt *s = NULL;
	char *copy;
	int i;

	for (i = 0; i < st->ncached; i++) {
		if (strcmp(st->cache[i].sql, sql) == 0) {
			*cached = 1;
			return st->cache[i].stmt;
		}
	}
	*cached = 0;
	if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s,
	    NULL) != SQLITE_OK)
		return NULL;
	if (st->ncached < STORE_CACHED_STATEMENTS &&
	    (copy = strdup(sql)) != NULL) {
		st->cache[st->ncached].sql = copy;
		st->cache[st->ncached].stmt = s;
		st->ncached++;
		*cached = 1;
	}
	return s;
}

/* Remembers why a statement failed when the cause is the file system
 * (full, quota, I/O error): create answers 503 then, and the scheduler
 * gives runners time to write once it can be written again. */
static void
note_result(store *st, sqlite3_stmt *s, int failed)
{
	int code = sqlite3_extended_errcode(st->db) & 0xff;

	if (!failed) {
		if (s != NULL && !sqlite3_stmt_readonly(s))
			st->unwritable = 0;
		return;
	}
	if (code != SQLITE_FULL && code != SQLITE_IOERR)
		return;
	st->unwritable = 1;
	st->last_write_failure_us = clock_now_us();
	st->failure_code = code;
	st->failure_errno = sqlite3_system_errno(st->db);
}

static int
run(store *st, const char *sql, int (*row_cb)(sqlite3_stmt *, void *),
    void *arg, const char *fmt, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	int rc, i, cached = 0, changes = -1;

	pthread_mutex_lock(&st->lock);
	if ((s = statement(st, sql, &cached)) == NULL)
		goto out;
	va_start(ap, fmt);
	for (i = 0; fmt[i] != '\0'; i++) {
		const char *text;

		switch (fmt[i]) {
		case 's':
			sqlite3_bind_text(s, i + 1, va_arg(ap, const char *), -1,
			    SQLITE_TRANSIENT);
			break;
		case 'n':
			text = va_arg(ap, const char *);
			if (text == NULL)
				sqlite3_bind_null(s, i + 1);
			else
				sqlite3_bind_text(s, i + 1, text, -1,
				    SQLITE_TRANSIENT);
			break;
		default:
			sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
			break;
		}
	}
	va_end(ap);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (row_cb != NULL && row_cb(s, arg) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto out;
	changes = sqlite3_changes(st->db);
out:
	note_result(st, s, changes < 0);
	if (changes < 0)
		log_warnx("state store %s: %s%s%s", st->path,
		    sqlite3_errmsg(st->db), sqlite3_system_errno(st->db) ?
		    ": " : "", sqlite3_system_errno(st->db) ?
		    strerror(sqlite3_system_errno(st->db)) : "");
	if (cached) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	} else
		sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return changes;
}

static int
int_row(sqlite3_stmt *s, void *arg)
{
	*(int64_t *)arg = sqlite3_column_int64(s, 0);
	return 0;
}

static char *
column_strdup(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return t ? strdup((const char *)t) : NULL;
}

static void
column_copy(sqlite3_stmt *s, int col, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(buf, len, "%s", t ? (const char *)t : "");
}

static void
driver_from_row(sqlite3_stmt *s, store_driver *d)
{
	memset(d, 0, sizeof(*d));
	column_copy(s, 0, d->id, sizeof(d->id));
	column_copy(s, 1, d->stage, sizeof(d->stage));
	/* A name no state has (a damaged row) reads as UNKNOWN. */
	if (driver_state_parse((const char *)sqlite3_column_text(s, 2),
	    &d->state) == -1)
		d->state = DRIVER_UNKNOWN;
	d->message = column_strdup(s, 3);
	d->argv_json = column_strdup(s, 4);
	d->env_json = column_strdup(s, 5);
	d->supervise = sqlite3_column_int(s, 6);
	d->created_us = sqlite3_column_int64(s, 7);
	d->claimed_us = sqlite3_column_int64(s, 8);
	d->started_us = sqlite3_column_int64(s, 9);
	d->ended_us = sqlite3_column_int64(s, 10);
	d->claim_token = sqlite3_column_int64(s, 11);
	d->exit_code = sqlite3_column_type(s, 12) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(s, 12);
	d->exit_signal = sqlite3_column_int(s, 13);
	d->attempts = sqlite3_column_int(s, 14);
	d->runner_pid = (pid_t)sqlite3_column_int(s, 15);
	column_copy(s, 16, d->runner_start, sizeof(d->runner_start));
	d->stage_pid = (pid_t)sqlite3_column_int(s, 17);
	d->kill_requested = sqlite3_column_int(s, 18);
	d->lease_until_us = sqlite3_column_int64(s, 19);
}

void
store_driver_free(store_driver *d)
{
	free(d->message);
	free(d->argv_json);
	free(d->env_json);
	d->message = d->argv_json = d->env_json = NULL;
}

int
store_new_driver_id(store *st, int64_t now_us, char *id, size_t idlen)
{
	int64_t counter = -1;
	time_t secs = (time_t)(now_us / 1000000);
	struct tm tm;
	char stamp[32];

	/* The counter survives restarts, so ids never repeat. */
	if (run(st, "INSERT INTO meta (key, value) VALUES ('driver_counter', "
	    "'0') ON CONFLICT (key) DO UPDATE SET value = value + 1 "
	    "RETURNING value", int_row, &counter, "") < 0 || counter < 0)
		return -1;
	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	if ((size_t)snprintf(id, idlen, "driver-%s-%04lld", stamp,
	    (long long)counter) >= idlen)
		return -1;
	return 0;
}

int
store_insert_driver(store *st, const char *id, const char *stage,
    const char *request_json, const char *argv_json, const char *env_json,
    int supervise, int64_t created_us)
{
	return run(st, "INSERT INTO drivers (id, stage, state, request, argv, "
	    "env, supervise, created_us) VALUES (?, ?, 'SUBMITTED', ?, ?, ?, "
	    "?, ?)", NULL, NULL, "sssssii", id, stage, request_json, argv_json,
	    env_json, (int64_t)supervise, created_us) == 1 ? 0 : -1;
}

static int
driver_row(sqlite3_stmt *s, void *arg)
{
	driver_from_row(s, arg);
	return 1;
}

int
store_get_driver(store *st, const char *id, store_driver *d)
{
	char sql[512];

	d->id[0] = '\0';
	snprintf(sql, sizeof(sql), "SELECT %s FROM drivers WHERE id = ?",
	    driver_columns);
	if (run(st, sql, driver_row, d, "s", id) < 0)
		return -1;
	return d->id[0] != '\0';
}

int
store_count_active(store *st)
{
	int64_t n = -1;

	if (run(st, "SELECT count(*) FROM drivers WHERE state IN ('RUNNING', "
	    "'RELAUNCHING') OR (state = 'SUBMITTED' AND claimed_us IS NOT "
	    "NULL)", int_row, &n, "") < 0)
		return -1;
	return (int)n;
}

struct claim {
	char *id;
	size_t idlen;
	int found;
};

static int
claim_row(sqlite3_stmt *s, void *arg)
{
	struct claim *c = arg;

	column_copy(s, 0, c->id, c->idlen);
	c->found = 1;
	return 1;
}

int
store_claim_next(store *st, int64_t now_us, char *id, size_t idlen,
    int64_t *token)
{
	struct claim c = {id, idlen, 0};

	/* The token makes a claim unforgeable by a stale runner. */
	if (getrandom(token, sizeof(*token), 0) != sizeof(*token))
		*token = now_us;
	*token &= INT64_MAX;
	if (run(st, "UPDATE drivers SET claimed_us = ?, claim_token = ?, "
	    "attempts = attempts + 1 WHERE seq = (SELECT seq FROM drivers "
	    "WHERE state = 'SUBMITTED' AND claimed_us IS NULL ORDER BY seq "
	    "LIMIT 1) RETURNING id", claim_row, &c, "ii", now_us, *token) < 0)
		return -1;
	return c.found;
}

int
store_set_runner_pid(store *st, const char *id, pid_t pid)
{
	return run(st, "UPDATE drivers SET runner_pid = ? WHERE id = ? AND "
	    "runner_pid IS NULL", NULL, NULL, "is", (int64_t)pid, id);
}

int
store_requeue(store *st, const char *id, int64_t token)
{
	return run(st, "UPDATE drivers SET claimed_us = NULL, claim_token = "
	    "NULL, runner_pid = NULL WHERE id = ? AND state = 'SUBMITTED' AND "
	    "claim_token = ?", NULL, NULL, "si", id, token);
}

int
store_runner_begin(store *st, const char *id, int64_t token, pid_t pid,
    const char *start, int64_t now_us, int64_t lease_until_us)
{
	return run(st, "UPDATE drivers SET state = 'RUNNING', runner_pid = ?, "
	    "runner_start = ?, started_us = ?, lease_until = ? WHERE id = ? "
	    "AND state = 'SUBMITTED' AND claim_token = ?", NULL, NULL,
	    "isiisi", (int64_t)pid, start, now_us, lease_until_us, id, token);
}

int
store_runner_renew_lease(store *st, const char *id, int64_t token,
    int64_t lease_until_us)
{
	return run(st, "UPDATE drivers SET lease_until = ? WHERE id = ? AND "
	    "state IN ('RUNNING', 'RELAUNCHING') AND claim_token = ?", NULL,
	    NULL, "isi", lease_until_us, id, token);
}

int
store_runner_stage_started(store *st, const char *id, pid_t stage_pid)
{
	return run(st, "UPDATE drivers SET stage_pid = ? WHERE id = ?", NULL,
	    NULL, "is", (int64_t)stage_pid, id);
}

int
store_runner_relaunching(store *st, const char *id, int exit_code,
    int exit_signal)
{
	return run(st, "UPDATE drivers SET state = 'RELAUNCHING', exit_code = "
	    "?, exit_signal = ?, stage_pid = NULL WHERE id = ? AND state = "
	    "'RUNNING' AND kill_requested = 0", NULL, NULL, "iis",
	    (int64_t)exit_code, (int64_t)exit_signal, id);
}

int
store_runner_running_again(store *st, const char *id)
{
	return run(st, "UPDATE drivers SET state = 'RUNNING', attempts = "
	    "attempts + 1 WHERE id = ? AND state = 'RELAUNCHING' AND "
	    "kill_requested = 0", NULL, NULL, "s", id);
}

int
store_runner_end(store *st, const char *id, driver_state state, int exit_code,
    int exit_signal, const char *message, int64_t now_us)
{
	return run(st, "UPDATE drivers SET state = ?, exit_code = ?, "
	    "exit_signal = ?, message = ?, ended_us = ?, stage_pid = NULL "
	    "WHERE id = ? AND state IN ('RUNNING', 'RELAUNCHING')", NULL, NULL,
	    "siinis", driver_state_name(state), (int64_t)exit_code,
	    (int64_t)exit_signal, message, now_us, id);
}

static int
pid_row(sqlite3_stmt *s, void *arg)
{
	*(pid_t *)arg = (pid_t)sqlite3_column_int(s, 0);
	return 0;	/* step to the end, or sqlite3_changes() is stale */
}

int
store_request_kill(store *st, const char *id, int64_t now_us,
    pid_t *runner_pid)
{
	int n;

	*runner_pid = 0;
	n = run(st, "UPDATE drivers SET state = 'KILLED', ended_us = ?, "
	    "kill_requested = 1 WHERE id = ? AND state = 'SUBMITTED'", NULL,
	    NULL, "is", now_us, id);
	if (n != 0)
		return n;
	n = run(st, "UPDATE drivers SET kill_requested = 1 WHERE id = ? AND "
	    "state IN ('RUNNING', 'RELAUNCHING') RETURNING coalesce("
	    "runner_pid, 0)", pid_row, runner_pid, "s", id);
	return n;
}

int
store_expire_lease(store *st, const char *id, driver_state state,
    const char *message, int64_t now_us)
{
	return run(st, "UPDATE drivers SET state = ?, message = ?, ended_us = "
	    "?, stage_pid = NULL WHERE id = ? AND state IN ('RUNNING', "
	    "'RELAUNCHING') AND lease_until < ?", NULL, NULL, "ssisi",
	    driver_state_name(state),
	    message, now_us, id, now_us);
}

int
store_mark_lost(store *st, const char *id, driver_state state,
    const char *message, int64_t now_us)
{
	return run(st, "UPDATE drivers SET state = ?, message = ?, ended_us = "
	    "?, stage_pid = NULL WHERE id = ? AND state IN ('SUBMITTED', "
	    "'RUNNING', 'RELAUNCHING')", NULL, NULL, "ssis",
	    driver_state_name(state), message, now_us, id);
}

struct doomed {
	int64_t seq;
	char id[64];
};

struct doomed_ctx {
	struct doomed *items;
	int n, cap;
};

static int
doomed_row(sqlite3_stmt *s, void *arg)
{
	struct doomed_ctx *c = arg;

	if (c->n == c->cap)
		return 1;
	c->items[c->n].seq = sqlite3_column_int64(s, 0);
	column_copy(s, 1, c->items[c->n].id, sizeof(c->items[c->n].id));
	c->n++;
	return 0;
}

/* Deletes the rows of one batch in one transaction; their count, or -1. */
static int
delete_batch(store *st, const struct doomed *items, int n)
{
	char sql[160];
	sqlite3_stmt *del = NULL;
	int i, deleted = 0;

	snprintf(sql, sizeof(sql), "DELETE FROM drivers WHERE seq = ? AND "
	    "state IN %s", finished_states);
	pthread_mutex_lock(&st->lock);
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto err;
	if (sqlite3_prepare_v2(st->db, sql, -1, &del, NULL) != SQLITE_OK)
		goto rollback;
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(del, 1, items[i].seq);
		if (sqlite3_step(del) != SQLITE_DONE)
			goto rollback;
		deleted += sqlite3_changes(st->db);
		sqlite3_reset(del);
	}
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto rollback;
	sqlite3_finalize(del);
	pthread_mutex_unlock(&st->lock);
	/* Hand the freed pages back to the file system, under the lock
	 * again so requests waiting on the delete go first: this moves
	 * about the pages of this batch, not the whole file. */
	pthread_mutex_lock(&st->lock);
	if (sqlite3_exec(st->db, "PRAGMA incremental_vacuum", NULL, NULL,
	    NULL) != SQLITE_OK)
		log_warnx("state store %s: incremental "
		    "vacuum: %s", st->path, sqlite3_errmsg(st->db));
	pthread_mutex_unlock(&st->lock);
	return deleted;
rollback:
	log_warnx("state store %s: cannot delete "
	    "finished drivers: %s", st->path, sqlite3_errmsg(st->db));
	sqlite3_finalize(del);
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&st->lock);
	return -1;
err:
	log_warnx("state store %s: cannot delete "
	    "finished drivers: %s", st->path, sqlite3_errmsg(st->db));
	pthread_mutex_unlock(&st->lock);
	return -1;
}

/*
 * The batch is chosen under the lock, its callbacks (log files) run
 * without it, then its rows go in one transaction: requests wait at most
 * for one batch's SELECT or DELETE, never for the file work. A finished
 * driver never changes again, so the rows chosen are still finished when
 * they are deleted; one that a concurrent clear deleted first is skipped.
 */
int
store_delete_finished(store *st, int64_t ended_before_us, int limit,
    store_deleted_cb cb, void *arg)
{
	struct doomed_ctx c = {NULL, 0, limit};
	char sql[256];
	int i, rc = -1;

	if (limit <= 0 || (c.items = calloc((size_t)limit,
	    sizeof(*c.items))) == NULL)
		return -1;
	/* "+state": not by drivers_state, which would read every finished
	 * row and sort them; by ended time (drivers_ended) or in submission
	 * order, a batch reads about the rows it takes. */
	if (ended_before_us == INT64_MAX)
		snprintf(sql, sizeof(sql), "SELECT seq, id FROM drivers WHERE "
		    "+state IN %s ORDER BY seq LIMIT ?", finished_states);
	else
		snprintf(sql, sizeof(sql), "SELECT seq, id FROM drivers WHERE "
		    "ended_us < ? AND +state IN %s ORDER BY ended_us LIMIT ?",
		    finished_states);
	if ((ended_before_us == INT64_MAX ?
	    run(st, sql, doomed_row, &c, "i", (int64_t)limit) :
	    run(st, sql, doomed_row, &c, "ii", ended_before_us,
	    (int64_t)limit)) < 0)
		goto out;
	if (c.n == 0) {
		rc = 0;
		goto out;
	}
	for (i = 0; cb != NULL && i < c.n; i++)
		cb(c.items[i].id, arg);
	rc = delete_batch(st, c.items, c.n);
out:
	free(c.items);
	return rc;
}

struct list_ctx {
	store_driver_cb cb;
	void *arg;
};

static int
list_row(sqlite3_stmt *s, void *arg)
{
	struct list_ctx *l = arg;
	store_driver d;
	int stop;

	driver_from_row(s, &d);
	stop = l->cb(&d, l->arg);
	store_driver_free(&d);
	return stop;
}

/*
 * Newest first, from just below before_seq. Keyset paging: the cost is
 * that of the page however deep it is (seq is the rowid, and
 * drivers_state is (state, seq)); offset still works, and still costs
 * the rows it skips.
 */
int
store_list(store *st, const driver_state *state, int64_t before_seq,
    int limit, int offset, store_driver_cb cb, void *arg)
{
	struct list_ctx l = {cb, arg};
	char sql[512];

	if (state == NULL) {
		snprintf(sql, sizeof(sql), "SELECT %s FROM drivers WHERE seq < "
		    "?1 ORDER BY seq DESC LIMIT ?2 OFFSET ?3", driver_columns);
		return run(st, sql, list_row, &l, "iii", before_seq,
		    (int64_t)limit, (int64_t)offset) < 0 ? -1 : 0;
	}
	snprintf(sql, sizeof(sql), "SELECT %s FROM drivers WHERE state = ?4 "
	    "AND seq < ?1 ORDER BY seq DESC LIMIT ?2 OFFSET ?3",
	    driver_columns);
	return run(st, sql, list_row, &l, "iiis", before_seq, (int64_t)limit,
	    (int64_t)offset, driver_state_name(*state)) < 0 ? -1 : 0;
}

int
store_driver_seq(store *st, const char *id, int64_t *seq)
{
	int64_t found = -1;

	if (run(st, "SELECT seq FROM drivers WHERE id = ?", int_row, &found,
	    "s", id) < 0)
		return -1;
	*seq = found;
	return found >= 0;
}

/* Kept by triggers (server.sql): one row read, however many drivers. */
int
store_count(store *st, const driver_state *state)
{
	int64_t n = -1;

	if (run(st, "SELECT sum(n) FROM driver_counts WHERE (?1 IS NULL OR "
	    "state = ?1)", int_row, &n, "n", state != NULL ?
	    driver_state_name(*state) : NULL) < 0)
		return -1;
	return (int)n;
}

struct collect_ctx {
	store_driver *items;
	size_t n, cap;
	int failed;
};

static int
collect_row(sqlite3_stmt *s, void *arg)
{
	struct collect_ctx *c = arg;
	store_driver *grown;

	if (c->n == c->cap) {
		size_t cap = c->cap == 0 ? 16 : c->cap * 2;

		grown = realloc(c->items, cap * sizeof(*grown));
		if (grown == NULL) {
			c->failed = 1;
			return 1;
		}
		c->items = grown;
		c->cap = cap;
	}
	driver_from_row(s, &c->items[c->n++]);
	return 0;
}

/*
 * Unfinished drivers are collected first and handed to the callback after
 * the store lock is released, so the callback may update the store.
 */
int
store_list_unfinished(store *st, store_driver_cb cb, void *arg)
{
	struct collect_ctx c = {NULL, 0, 0, 0};
	char sql[512];
	size_t i;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT %s FROM drivers WHERE state IN "
	    "('SUBMITTED', 'RUNNING', 'RELAUNCHING') ORDER BY seq",
	    driver_columns);
	rc = run(st, sql, collect_row, &c, "") < 0 || c.failed ? -1 : 0;
	for (i = 0; i < c.n; i++) {
		if (rc == 0 && cb(&c.items[i], arg) != 0)
			rc = 1;
		store_driver_free(&c.items[i]);
	}
	free(c.items);
	return rc < 0 ? -1 : 0;
}

struct count_ctx {
	void (*cb)(const char *, int64_t, void *);
	void *arg;
};

static int
count_row(sqlite3_stmt *s, void *arg)
{
	struct count_ctx *c = arg;

	c->cb((const char *)sqlite3_column_text(s, 0),
	    sqlite3_column_int64(s, 1), c->arg);
	return 0;
}

int
store_count_by_state(store *st, void (*cb)(const char *, int64_t, void *),
    void *arg)
{
	struct count_ctx c = {cb, arg};

	return run(st, "SELECT state, n FROM driver_counts WHERE n > 0 ORDER "
	    "BY state", count_row, &c, "") < 0 ? -1 : 0;
}

struct histogram_ctx {
	void (*cb)(int64_t, int64_t, int64_t, void *);
	void *arg;
};

static int
histogram_row(sqlite3_stmt *s, void *arg)
{
	struct histogram_ctx *c = arg;

	c->cb(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
	    sqlite3_column_int64(s, 2), c->arg);
	return 0;
}

int
store_launch_histogram(store *st, void (*cb)(int64_t le_us, int64_t n,
    int64_t sum_us, void *), void *arg)
{
	struct histogram_ctx c = {cb, arg};

	return run(st, "SELECT le_us, n, sum_us FROM launch_latency ORDER BY "
	    "le_us", histogram_row, &c, "") < 0 ? -1 : 0;
}

/* --- environment values of queued drivers --------------------------- */

/* <state>.env, or <state>.env/<id> when id is given; -1 if too long. */
static int
env_path(const store *st, const char *id, char *buf, size_t len)
{
	int n = id == NULL ? snprintf(buf, len, "%s.env", st->path) :
	    snprintf(buf, len, "%s.env/%s", st->path, id);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, text, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		text += w;
		len -= (size_t)w;
	}
	return 0;
}

int
store_env_save(store *st, const char *id, const char *env_json)
{
	char dir[4096], path[4096];
	int fd = -1, saved;

	if (env_path(st, NULL, dir, sizeof(dir)) == -1 ||
	    env_path(st, id, path, sizeof(path)) == -1)
		return -1;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		return -1;
	/* Durable before the row that refers to it is committed. */
	if (write_all(fd, env_json, strlen(env_json)) == -1 || fsync(fd) == -1)
		goto err;
	if (close(fd) == -1) {
		fd = -1;
		goto err;
	}
	return 0;
err:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlink(path);
	errno = saved;
	return -1;
}

char *
store_env_load(store *st, const char *id)
{
	char path[4096], *text = NULL;
	struct stat sb;
	int fd, saved;

	if (env_path(st, id, path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return NULL;
	if (fstat(fd, &sb) == -1 || sb.st_size > 16 * 1024 * 1024)
		goto err;
	if ((text = calloc(1, (size_t)sb.st_size + 1)) == NULL ||
	    read(fd, text, (size_t)sb.st_size) != sb.st_size)
		goto err;
	close(fd);
	return text;
err:
	saved = errno != 0 ? errno : EIO;
	free(text);
	close(fd);
	errno = saved;
	return NULL;
}

void
store_env_forget(store *st, const char *id)
{
	char path[4096];

	if (env_path(st, id, path, sizeof(path)) == 0 && unlink(path) == -1 &&
	    errno != ENOENT)
		log_warn("cannot remove the environment file %s", path);
}

static int
text_row(sqlite3_stmt *s, void *arg)
{
	column_copy(s, 0, arg, 16);
	return 1;
}

/* 1 if the file of a driver that is not queued (or of none, written
 * more than a minute ago: not a create in progress) should go. */
static int
env_file_is_stale(store *st, const char *dir, const char *name,
    int64_t now_us)
{
	char state[16] = "", path[4096];
	struct stat sb;

	if (run(st, "SELECT state FROM drivers WHERE id = ?", text_row, state,
	    "s", name) < 0)
		return 0;
	if (state[0] != '\0')
		return strcmp(state, "SUBMITTED") != 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path) || stat(path, &sb) == -1)
		return 0;
	return (int64_t)sb.st_mtime * 1000000 < now_us - 60 * 1000000LL;
}

int
store_env_sweep(store *st, int64_t now_us)
{
	char dir[4096];
	struct dirent *e;
	DIR *d;
	int removed = 0;

	if (env_path(st, NULL, dir, sizeof(dir)) == -1 ||
	    (d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "driver-", 7) != 0 ||
		    !env_file_is_stale(st, dir, e->d_name, now_us))
			continue;
		store_env_forget(st, e->d_name);
		removed++;
	}
	closedir(d);
	return removed;
}

/* --- when the state cannot be written -------------------------------- */

int
store_unwritable(store *st, char *msg, size_t len)
{
	int unwritable, code, err;

	pthread_mutex_lock(&st->lock);
	unwritable = st->unwritable;
	code = st->failure_code;
	err = st->failure_errno;
	pthread_mutex_unlock(&st->lock);
	if (!unwritable)
		return 0;
	snprintf(msg, len, "the state file %s cannot be written: %s; try "
	    "again once there is space", st->path, err != 0 ? strerror(err) :
	    code == SQLITE_FULL ? strerror(ENOSPC) : sqlite3_errstr(code));
	return 1;
}

int64_t
store_last_write_failure_us(store *st)
{
	int64_t us;

	pthread_mutex_lock(&st->lock);
	us = st->last_write_failure_us;
	pthread_mutex_unlock(&st->lock);
	return us;
}

int
store_probe_write(store *st, int64_t now_us)
{
	char value[32];

	snprintf(value, sizeof(value), "%lld", (long long)now_us);
	return run(st, "INSERT INTO meta (key, value) VALUES ('write_probe', ?) "
	    "ON CONFLICT (key) DO UPDATE SET value = excluded.value", NULL,
	    NULL, "s", value) < 0 ? -1 : 0;
}
