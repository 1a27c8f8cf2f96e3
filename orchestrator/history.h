/*
 * history.h - the orchestrator's run history in SQLite
 * (schemas/sqlite/orchestrator.sql): one row per run, one per stage
 * attempt, written as they happen so a crash loses nothing and
 * `run --resume` knows where a failed run stopped. Each RUNNING run names
 * its owner; a run whose orchestrator died is marked LOST (see
 * history.c), and two runs of one pipeline never overlap.
 *
 * Retention (--retain): runs that ended longer ago than the retention are
 * deleted with their attempts, at open and after each run, a batch at a
 * time; a run still RUNNING is never deleted.
 *
 * Other programs (medallion-server's /ui) read the history only through
 * orch_history_open_readonly and orch_history_list, never its tables: the
 * file's layout is versioned (PRAGMA user_version, ORCH_HISTORY_VERSION),
 * and a reader refuses a version it does not know instead of guessing.
 */
#ifndef ORCH_HISTORY_H
#define ORCH_HISTORY_H

#include <stdint.h>
#include <stdio.h>

typedef struct orch_history orch_history;

/* How long finished runs are kept unless --retain says otherwise. */
#define ORCH_HISTORY_RETAIN_DEFAULT_US (30 * 86400 * 1000000LL)

/*
 * The layout of the history file, kept in its PRAGMA user_version. Bump
 * it when a change would mislead a reader built before it (a column
 * renamed, dropped or given a new meaning); adding a column or a table
 * does not need it. A file from before versions were recorded (0) that
 * has the tables is version 1: the writer stamps it at its next open.
 */
#define ORCH_HISTORY_VERSION 1

/* Why a history could not be opened: a code beside the message. */
typedef enum orch_history_error {
	ORCH_HISTORY_OK = 0,
	ORCH_HISTORY_MISSING,		/* no such file: no run has been made */
	ORCH_HISTORY_NEWER,		/* layout newer than this program's */
	ORCH_HISTORY_UNREADABLE,	/* not a history, or cannot be read */
} orch_history_error;

/* Opens (creating it if needed) for the orchestrator, which writes.
 * Refuses a file of a newer layout. NULL with err filled on failure. */
orch_history *orch_history_open(const char *path, char *err, size_t errlen);
/*
 * Opens an existing history to read it, writing nothing (another process,
 * the orchestrator, may be writing it). NULL with *code and err filled
 * when there is no file, it is of a newer layout, or it is no history.
 */
orch_history *orch_history_open_readonly(const char *path,
    orch_history_error *code, char *err, size_t errlen);
void orch_history_close(orch_history *h);

/* One attempt at one stage of a run, as orch_history_list reads it. */
typedef struct orch_attempt_record {
	int stage_index;
	char *stage;
	int attempt;
	char *submission_id;	/* "" when it was never submitted */
	char *state;		/* the last driverState seen */
	int64_t submitted_at;	/* microseconds; 0 when not reached */
	int64_t running_at;
	int64_t ended_at;
	int64_t exit_code;	/* -1 when none */
	char *message;		/* "" when none */
} orch_attempt_record;

/* One run with its attempts, stage by stage. */
typedef struct orch_run_record {
	int64_t run_id;
	char *pipeline;
	char *trigger;		/* run, schedule, resume */
	int64_t started_at;	/* microseconds */
	int64_t ended_at;	/* 0 while it runs */
	char *state;		/* RUNNING, FINISHED, FAILED, LOST, ... */
	int has_exit_code;
	int exit_code;
	int failed_stage;	/* -1 when none */
	int64_t resumed_from;	/* 0 when none */
	char *message;		/* "" when none */
	orch_attempt_record *attempts;
	size_t nattempts;
} orch_run_record;

/* Runs, newest first; owned by the caller: orch_run_list_free. */
typedef struct orch_run_list {
	orch_run_record *runs;
	size_t n;
} orch_run_list;

/* Reads the newest limit runs with their attempts into *out (emptied
 * first). 0, or -1 with err filled (and *out empty). */
int orch_history_list(orch_history *h, int limit, orch_run_list *out,
    char *err, size_t errlen);
void orch_run_list_free(orch_run_list *l);

/* The run that stopped a new one from starting. */
typedef struct orch_busy {
	int64_t run;
	int64_t pid;
	char host[256];
} orch_busy;

/*
 * Starts a run owned by this process, with a lease of lease_us (renew it
 * with orch_history_renew while the run works). First marks the
 * pipeline's runs whose orchestrator is gone as LOST. Returns the run id;
 * -1 with *busy filled when a live orchestrator runs the pipeline already;
 * 0 when the history cannot be written (logged; the run goes on).
 */
int64_t orch_history_run_begin(orch_history *h, const char *pipeline,
    const char *trigger, int64_t scheduled_at, int64_t resumed_from,
    int64_t lease_us, orch_busy *busy);
void orch_history_renew(orch_history *h, int64_t run, int64_t lease_us);
/* Marks every RUNNING run whose orchestrator is gone as LOST. */
int orch_history_reap(orch_history *h);
/* The pipeline's newest run, when it did not finish: LOST (its
 * orchestrator died) or INTERRUPTED (stopped by a signal, its driver
 * left going): its id, the stage it stopped at and that state. */
int orch_history_newest_unfinished(orch_history *h, const char *pipeline,
    int64_t *run, int *stage, char *state, size_t statelen);
/* A driver of run's stage that was still going when last seen: its id
 * and attempt number; -1 when none. */
int orch_history_live_driver(orch_history *h, int64_t run, int stage,
    char *id, size_t idlen, int *attempt);
void orch_history_run_end(orch_history *h, int64_t run, const char *state,
    int exit_code, int failed_stage, const char *message);
void orch_history_attempt(orch_history *h, int64_t run, int stage_index,
    const char *stage, int attempt, const char *submission_id,
    const char *state, int64_t submitted_at, int64_t running_at,
    int64_t ended_at, int64_t exit_code, const char *message);
/* --retain's argument: a duration (common/duration.c), or "forever"; 0
 * means forever too. 0 or -1 with err filled. */
int orch_history_parse_retention(const char *s, int64_t *us, char *err,
    size_t errlen);
/*
 * Keeps finished runs for retain_us (0: forever) from now on, and deletes
 * those already older, with their attempts. The first time, switches an
 * older history file to incremental vacuum (one VACUUM). Returns the
 * number of runs deleted, or -1 (logged; the history still works).
 */
int64_t orch_history_retain(orch_history *h, int64_t retain_us);
/* The newest run that did not finish, and the stage it stopped at. */
int orch_history_last_failed(orch_history *h, int64_t run_id,
    int64_t *run, int *stage);
/* Prints the last limit runs with their attempts (text or JSON lines). */
int orch_history_print(orch_history *h, FILE *out, int limit, int json);

#endif
