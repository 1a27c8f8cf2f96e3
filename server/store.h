/*
 * store.h - the SQLite state store shared by the server and its runners.
 *
 * One file, WAL mode, busy timeout: the server's HTTP threads, its
 * scheduler and every stage runner process write to it concurrently. A
 * store handle is safe to use from several threads (calls are serialized
 * by a mutex). State changes are single conditional UPDATEs ("... WHERE
 * state = 'SUBMITTED' AND claim_token = ?"), so two parties can never both
 * win a transition: that is how nothing runs twice after a restart.
 *
 * Counts per state and the launch latency histogram are kept by triggers
 * (schemas/sqlite/server.sql), so reading them costs the same at ten
 * drivers or a million. Finished drivers are deleted in small batches
 * (store_delete_finished) and the file gives the pages back (incremental
 * vacuum).
 */
#ifndef SERVER_STORE_H
#define SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "driver_state.h"

typedef struct store store;

typedef struct store_driver {
	char id[64];
	char stage[128];
	driver_state state;
	char *message;		/* may be NULL */
	char *argv_json;	/* JSON array of strings */
	char *env_json;		/* JSON object */
	int supervise;
	int64_t created_us, claimed_us, started_us, ended_us; /* 0 = unset */
	int64_t claim_token;
	int exit_code;		/* -1 = none */
	int exit_signal;	/* 0 = none */
	int attempts;
	pid_t runner_pid;	/* 0 = none */
	char runner_start[32];
	pid_t stage_pid;	/* 0 = none */
	int kill_requested;
	int64_t lease_until_us;	/* the runner's lease; 0 = none (v2 runner) */
} store_driver;

/* Opens (creating or migrating) the store. NULL with err filled. */
store *store_open(const char *path, char *err, size_t errlen);
void store_close(store *st);

/* A new unique driver id, driver-<yyyyMMddHHmmss>-<NNNN>. */
int store_new_driver_id(store *st, int64_t now_us, char *id, size_t idlen);
int store_insert_driver(store *st, const char *id, const char *stage,
    const char *request_json, const char *argv_json, const char *env_json,
    int supervise, int64_t created_us);
/* 1 found, 0 not found, -1 error. Free with store_driver_free. */
int store_get_driver(store *st, const char *id, store_driver *d);
void store_driver_free(store_driver *d);

/* Drivers holding a run slot: RUNNING, RELAUNCHING, claimed SUBMITTED. */
int store_count_active(store *st);
/* Claims the oldest unclaimed SUBMITTED driver: 1 and id/token, 0 none. */
int store_claim_next(store *st, int64_t now_us, char *id, size_t idlen,
    int64_t *token);
int store_set_runner_pid(store *st, const char *id, pid_t pid);
/* Puts a claimed driver whose runner never started back in the queue. */
int store_requeue(store *st, const char *id, int64_t token);

/* Runner side. Each returns 1 if the transition happened, 0 if not. */
int store_runner_begin(store *st, const char *id, int64_t token, pid_t pid,
    const char *start, int64_t now_us, int64_t lease_until_us);
/*
 * Renews the lease of the runner holding the claim token: 1 renewed, 0
 * the driver is no longer the runner's (the server ended it when the
 * lease ran out, e.g. while the runner was stopped), -1 error.
 */
int store_runner_renew_lease(store *st, const char *id, int64_t token,
    int64_t lease_until_us);
int store_runner_stage_started(store *st, const char *id, pid_t stage_pid);
int store_runner_relaunching(store *st, const char *id, int exit_code,
    int exit_signal);
int store_runner_running_again(store *st, const char *id);
int store_runner_end(store *st, const char *id, driver_state state,
    int exit_code, int exit_signal, const char *message, int64_t now_us);

/*
 * Kill. A SUBMITTED driver becomes KILLED at once (result 1, *runner_pid
 * 0); a RUNNING/RELAUNCHING one is flagged kill_requested (result 1,
 * *runner_pid set, the caller signals it); a finished or unknown id
 * gives 0.
 */
int store_request_kill(store *st, const char *id, int64_t now_us,
    pid_t *runner_pid);
/* Ends a RUNNING/RELAUNCHING driver whose runner's lease ran out before
 * now_us (checked in the same UPDATE, so a renewal meanwhile wins). */
int store_expire_lease(store *st, const char *id, driver_state state,
    const char *message, int64_t now_us);
/* Ends a driver from outside its runner (recovery). */
int store_mark_lost(store *st, const char *id, driver_state state,
    const char *message, int64_t now_us);
/*
 * Deletes at most limit finished drivers (FINISHED, FAILED, KILLED,
 * ERROR, UNKNOWN; never one that is queued or running) that ended before
 * ended_before_us, oldest end first; INT64_MAX: every finished one,
 * oldest submission first. cb sees each id before its row is deleted (to
 * remove its log files). Returns how many rows went, or -1.
 */
typedef void (*store_deleted_cb)(const char *id, void *arg);
int store_delete_finished(store *st, int64_t ended_before_us, int limit,
    store_deleted_cb cb, void *arg);

/* Calls cb for each driver, newest first, of one state (or all, state
 * NULL), from just below before_seq (INT64_MAX: from the newest),
 * skipping offset. */
typedef int (*store_driver_cb)(const store_driver *d, void *arg);
int store_list(store *st, const driver_state *state, int64_t before_seq,
    int limit, int offset, store_driver_cb cb, void *arg);
/* The submission order of a driver, for store_list's before_seq: 1 and
 * *seq, 0 unknown id, -1 error. */
int store_driver_seq(store *st, const char *id, int64_t *seq);
/* Drivers in a state, or all (state NULL); constant time. */
int store_count(store *st, const driver_state *state);
/* Drivers not yet finished (SUBMITTED, RUNNING, RELAUNCHING); cb runs
 * without the store lock held, so it may update the store. */
int store_list_unfinished(store *st, store_driver_cb cb, void *arg);
/* Count per state, for states with drivers, by name; cb(state, count).
 * Constant time: the counts are kept by triggers. */
int store_count_by_state(store *st, void (*cb)(const char *, int64_t,
    void *), void *arg);
/* The submit->RUNNING latency histogram of every launch ever made, one
 * call per bucket in order: its upper bound (INT64_MAX for +Inf), its own
 * (not cumulative) count and the sum of its latencies, in µs. */
int store_launch_histogram(store *st, void (*cb)(int64_t le_us, int64_t n,
    int64_t sum_us, void *), void *arg);

/*
 * The values of a queued driver's environment variables, never stored in
 * the state itself: a 0600 file <state>.env/<id> (folder 0700), written
 * at create before the driver's row, read when its runner is started,
 * removed by the runner once it has begun. Save and load return -1 or
 * NULL with errno set (ENOENT: none was saved). The sweep removes the
 * files of drivers that are no longer queued; how many.
 */
int store_env_save(store *st, const char *id, const char *env_json);
char *store_env_load(store *st, const char *id);	/* owned text */
void store_env_forget(store *st, const char *id);
int store_env_sweep(store *st, int64_t now_us);

/*
 * When the state cannot be written. store_unwritable: 1 if the latest
 * write failed for want of space or an I/O error, with a message naming
 * the file and the cause ("... cannot be written: No space left on
 * device"). store_last_write_failure_us: when such a failure last
 * happened (0 never). store_probe_write: a small write, to find out now;
 * 0 or -1.
 */
int store_unwritable(store *st, char *msg, size_t len);
int64_t store_last_write_failure_us(store *st);
int store_probe_write(store *st, int64_t now_us);

#endif
