/*
 * history.h - the orchestrator's run history in SQLite
 * (schemas/sqlite/orchestrator.sql): one row per run, one per stage
 * attempt, written as they happen so a crash loses nothing and
 * `run --resume` knows where a failed run stopped.
 */
#ifndef ORCH_HISTORY_H
#define ORCH_HISTORY_H

#include <stdint.h>
#include <stdio.h>

typedef struct orch_history orch_history;

orch_history *orch_history_open(const char *path, char *err, size_t errlen);
void orch_history_close(orch_history *h);

int64_t orch_history_run_begin(orch_history *h, const char *pipeline,
    const char *trigger, int64_t scheduled_at, int64_t resumed_from);
void orch_history_run_end(orch_history *h, int64_t run, const char *state,
    int exit_code, int failed_stage, const char *message);
void orch_history_attempt(orch_history *h, int64_t run, int stage_index,
    const char *stage, int attempt, const char *submission_id,
    const char *state, int64_t submitted_at, int64_t running_at,
    int64_t ended_at, int64_t exit_code, const char *message);
/* The newest run that did not finish, and the stage it stopped at. */
int orch_history_last_failed(orch_history *h, int64_t run_id,
    int64_t *run, int *stage);
/* Prints the last limit runs with their attempts (text or JSON lines). */
int orch_history_print(orch_history *h, FILE *out, int limit, int json);

#endif
