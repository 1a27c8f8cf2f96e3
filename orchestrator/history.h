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
 */
#ifndef ORCH_HISTORY_H
#define ORCH_HISTORY_H

#include <stdint.h>
#include <stdio.h>

typedef struct orch_history orch_history;

/* How long finished runs are kept unless --retain says otherwise. */
#define ORCH_HISTORY_RETAIN_DEFAULT_US (30 * 86400 * 1000000LL)

orch_history *orch_history_open(const char *path, char *err, size_t errlen);
void orch_history_close(orch_history *h);

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
/* The pipeline's newest run, when it is LOST: its id and stage. */
int orch_history_newest_lost(orch_history *h, const char *pipeline,
    int64_t *run, int *stage);
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
