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
	request TEXT NOT NULL,                  -- the CreateSubmissionRequest
	argv TEXT NOT NULL,                     -- JSON array: stage arguments
	env TEXT NOT NULL,                      -- JSON object: request variables
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
	kill_requested INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS drivers_state ON drivers (state, seq);
