-- orchestrator.sql - medallion-orchestrator's run history (SQLite).
-- Created at start when missing; applying it again is harmless.
-- Times are integer microseconds since the Unix epoch, UTC.
--
-- The layout's version is the file's PRAGMA user_version, which history.c
-- reads and stamps (ORCH_HISTORY_VERSION in history.h, now 1; a file
-- without one, 0, is version 1). It is not set here: applying this file to
-- a history of a newer layout would mark it older. Readers other than the
-- orchestrator (medallion-server's /ui) go through history.h and refuse a
-- version they do not know. Bump it when a change would mislead such a
-- reader (a column renamed, dropped or given a new meaning).
--
-- auto_vacuum comes first: a new file takes it only before WAL mode writes
-- its header. With --retain, old runs are deleted and an incremental
-- vacuum gives their pages back (history.c switches an older file once).
PRAGMA auto_vacuum = INCREMENTAL;
PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS runs (
	run_id       INTEGER PRIMARY KEY,
	pipeline     TEXT NOT NULL,           -- pipeline name
	trigger      TEXT NOT NULL,           -- run, schedule, resume
	scheduled_at INTEGER,                 -- the tick, for scheduled runs
	started_at   INTEGER NOT NULL,
	ended_at     INTEGER,
	state        TEXT NOT NULL,           -- RUNNING, FINISHED, FAILED, ERROR,
	                                      -- KILLED, UNKNOWN, TIMEOUT,
	                                      -- UNREACHABLE, INTERRUPTED, LOST
	exit_code    INTEGER,
	failed_stage INTEGER,                 -- index of the stage that stopped it
	resumed_from INTEGER REFERENCES runs (run_id),
	message      TEXT,
	-- The orchestrator that runs it (history.c adds these to older files):
	-- a RUNNING run whose owner is gone (same host: no such process;
	-- another host: lease expired) is marked LOST and resumed.
	owner_host   TEXT,
	owner_pid    INTEGER,
	owner_start  INTEGER,                 -- the process's start, in ticks
	lease_until  INTEGER
);

CREATE TABLE IF NOT EXISTS attempts (
	run_id        INTEGER NOT NULL REFERENCES runs (run_id),
	stage_index   INTEGER NOT NULL,
	stage         TEXT NOT NULL,
	attempt       INTEGER NOT NULL,
	submission_id TEXT,
	state         TEXT NOT NULL,          -- last driverState seen
	submitted_at  INTEGER,
	running_at    INTEGER,
	ended_at      INTEGER,
	exit_code     INTEGER,
	message       TEXT,
	PRIMARY KEY (run_id, stage_index, attempt)
);

CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
-- Retention finds expired runs by their end without a scan.
CREATE INDEX IF NOT EXISTS runs_ended ON runs (ended_at)
	WHERE ended_at IS NOT NULL;
