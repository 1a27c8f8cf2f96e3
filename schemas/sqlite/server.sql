-- server.sql - the state store of medallion-server (SQLite, WAL mode).
--
-- One row per driver (submission). The server inserts rows and claims
-- queued ones; each stage runner (a supervisor process per driver) writes
-- RUNNING, its pids, the exit status and the end time itself, so a crash
-- or restart of the server loses nothing. PRAGMA user_version is the
-- schema version; the server migrates older files at start.

CREATE TABLE IF NOT EXISTS meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS drivers (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- submission order
	id TEXT NOT NULL UNIQUE,                -- driver-YYYYMMDDHHMMSS-NNNN
	stage TEXT NOT NULL,                    -- registered stage name
	state TEXT NOT NULL CHECK (state IN ('SUBMITTED', 'RUNNING',
		'FINISHED', 'FAILED', 'KILLED', 'ERROR', 'RELAUNCHING',
		'UNKNOWN')),
	request TEXT NOT NULL,                  -- the request, values redacted (v3)
	argv TEXT NOT NULL,                     -- JSON array: stage arguments
	env TEXT NOT NULL,                      -- JSON array: variables' names (v3)
	supervise INTEGER NOT NULL DEFAULT 0,
	message TEXT,                           -- why it ended in ERROR/UNKNOWN…
	created_us INTEGER NOT NULL,            -- µs since epoch, UTC
	claimed_us INTEGER,                     -- the server handed it to a runner
	claim_token INTEGER,                    -- the runner proves its claim
	started_us INTEGER,                     -- first RUNNING
	ended_us INTEGER,
	exit_code INTEGER,                      -- stage exit status
	exit_signal INTEGER,                    -- or the signal that ended it
	attempts INTEGER NOT NULL DEFAULT 0,    -- launches, relaunches included
	runner_pid INTEGER,
	runner_start TEXT,                      -- /proc start time, against pid reuse
	stage_pid INTEGER,                      -- also the stage's process group
	kill_requested INTEGER NOT NULL DEFAULT 0,
	lease_until INTEGER                     -- v3: the runner's lease, µs
);

CREATE INDEX IF NOT EXISTS drivers_state ON drivers (state, seq);

-- Version 2: retention and constant-time counts.
--
-- Finished drivers are deleted by age (medallion-server --retain), oldest
-- end first: this partial index finds them without a scan. auto_vacuum is
-- INCREMENTAL (set by the server before these tables exist, or by one
-- VACUUM when it migrates a version 1 file), so pages freed by deletions
-- are given back to the file system instead of waiting on a free list.
CREATE INDEX IF NOT EXISTS drivers_ended ON drivers (ended_us)
	WHERE ended_us IS NOT NULL;

-- Drivers per state, kept by triggers in the same transaction as each
-- insert, transition and delete, whichever process makes it (the server
-- or a runner): /metrics and the list's total read eight rows instead of
-- counting the table.
CREATE TABLE IF NOT EXISTS driver_counts (
	state TEXT PRIMARY KEY,
	n INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT OR IGNORE INTO driver_counts (state) VALUES ('SUBMITTED'),
	('RUNNING'), ('FINISHED'), ('FAILED'), ('KILLED'), ('ERROR'),
	('RELAUNCHING'), ('UNKNOWN');

CREATE TRIGGER IF NOT EXISTS drivers_count_insert AFTER INSERT ON drivers
BEGIN
	UPDATE driver_counts SET n = n + 1 WHERE state = new.state;
END;
CREATE TRIGGER IF NOT EXISTS drivers_count_update AFTER UPDATE OF state
	ON drivers WHEN old.state <> new.state
BEGIN
	UPDATE driver_counts SET n = n - 1 WHERE state = old.state;
	UPDATE driver_counts SET n = n + 1 WHERE state = new.state;
END;
CREATE TRIGGER IF NOT EXISTS drivers_count_delete AFTER DELETE ON drivers
BEGIN
	UPDATE driver_counts SET n = n - 1 WHERE state = old.state;
END;

-- The submit-to-RUNNING latency histogram of /metrics, one row per bucket
-- (not cumulative; le_us is the bucket's upper bound, the last one +Inf).
-- It counts every launch ever made: deleting a driver does not take its
-- launch back, so it behaves as a Prometheus histogram should.
CREATE TABLE IF NOT EXISTS launch_latency (
	le_us INTEGER PRIMARY KEY,
	n INTEGER NOT NULL DEFAULT 0,
	sum_us INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO launch_latency (le_us) VALUES (1000), (2000), (5000),
	(10000), (25000), (50000), (100000), (250000), (500000), (1000000),
	(2500000), (5000000), (10000000), (9223372036854775807);

CREATE TRIGGER IF NOT EXISTS drivers_launch_latency AFTER UPDATE OF
	started_us ON drivers
	WHEN old.started_us IS NULL AND new.started_us IS NOT NULL
BEGIN
	UPDATE launch_latency SET n = n + 1,
		sum_us = sum_us + (new.started_us - new.created_us)
	WHERE le_us = (SELECT min(le_us) FROM launch_latency
		WHERE le_us >= new.started_us - new.created_us);
END;

-- Version 3: runner leases, and no secrets.
--
-- lease_until: a runner renews it about every second while it supervises
-- its driver (now + the server's --lease-timeout-ms); a RUNNING or
-- RELAUNCHING driver whose lease has passed has a stopped or hung runner,
-- and the server ends it UNKNOWN. A version 2 file gets the column by
-- ALTER TABLE (store.c), as CREATE TABLE IF NOT EXISTS cannot add it.
--
-- Environment values are never stored: env holds the names of the
-- request's variables, request has their values replaced by "(redacted)".
-- A queued driver's values wait in a 0600 file beside the state file
-- (<state>.env/<id>, folder 0700) until its runner has begun. Migration
-- to version 3 moves queued drivers' values there and redacts every row
-- (with secure_delete on). The file itself is created 0600.
