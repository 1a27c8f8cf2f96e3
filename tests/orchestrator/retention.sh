#!/bin/bash
# retention.sh - medallion-orchestrator --retain against a real
# medallion-server: runs that ended longer ago than the retention go with
# their attempts, recent runs and runs still RUNNING stay, `history` only
# reads, "forever" keeps everything, an old history file is switched to
# incremental vacuum and shrinks, and the file stops growing over many
# runs.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

orch=$MEDALLION_BUILD_DIR/orchestrator/medallion-orchestrator
h_stage ingestion 'true'
h_stage transformation 'true'
h_stage serving 'true'
h_stage maintenance 'true'
h_server_start
export MEDALLION_MASTER=$H_URL
hist=$H_TMP/history.db
o() { "$orch" --history "$hist" "$@"; }
sql() { sqlite3 "$hist" "$1"; }
day=$((86400 * 1000000))
# backdate RUN DAYS: the run and its attempts happened DAYS days earlier.
backdate() {
	sql "update runs set started_at = started_at - $2 * $day, ended_at = ended_at - $2 * $day where run_id = $1;
		update attempts set submitted_at = submitted_at - $2 * $day, running_at = running_at - $2 * $day,
			ended_at = ended_at - $2 * $day where run_id = $1"
}

for i in 1 2 3 4; do o run >/dev/null 2>&1; done
h_eq "four runs of four stages recorded" "$(sql "select count(*) from runs where state = 'FINISHED'") $(sql "select count(*) from attempts")" "4 16"
backdate 1 40
backdate 2 31
now=$(sql "select max(started_at) from runs")
sql "insert into runs (run_id, pipeline, trigger, started_at, state) values (100, 'default', 'run', $now - 90 * $day, 'RUNNING');
	insert into runs (run_id, pipeline, trigger, started_at, ended_at, state) values (101, 'default', 'run', $now - 90 * $day, $now - 90 * $day, 'RUNNING');
	insert into attempts (run_id, stage_index, stage, attempt, state) values (100, 0, 'ingestion', 1, 'RUNNING')"
o history >/dev/null
h_eq "history only reads: nothing is deleted" "$(sql "select count(*) from runs")" 6

o run >/dev/null 2>&1
h_eq "a run deletes runs that ended over 30 days ago (the default)" "$(sql "select count(*) from runs where run_id in (1, 2)")" 0
h_eq "... and their attempts" "$(sql "select count(*) from attempts where run_id in (1, 2)")" 0
h_eq "recent runs stay, with their attempts" "$(sql "select group_concat(run_id) from (select run_id from runs where run_id not in (100, 101) order by run_id)") $(sql "select count(*) from attempts where run_id in (3, 4, 102)")" "3,4,102 12"
h_eq "old runs still RUNNING stay" "$(sql "select count(*) from runs where run_id in (100, 101)") $(sql "select count(*) from attempts where run_id = 100")" "2 1"
h_match "history still shows the runs kept" "$(o history --limit 50)" 'run 102 .*run 4 .*run 3 '

backdate 3 20
o --retain forever run >/dev/null 2>&1
h_eq "--retain forever keeps a 20-day-old run" "$(sql "select count(*) from runs where run_id = 3")" 1
o --retain 10d run >/dev/null 2>&1
h_eq "--retain 10d deletes it" "$(sql "select count(*) from runs where run_id = 3")" 0
h_check_fails "a bad --retain is a usage error" o --retain 10x run
o --retain 10x run >/dev/null 2>&1
h_eq "... exit 2" "$?" 2

# An old history file (auto_vacuum NONE) with 3000 expired runs: one run
# deletes them all (batches of 500) and the file gives the space back.
old=$H_TMP/old.db
"$orch" --history "$old" history >/dev/null
sqlite3 "$old" "pragma auto_vacuum = NONE; vacuum;
	with recursive n(i) as (select 1 union all select i + 1 from n where i < 3000)
	insert into runs (run_id, pipeline, trigger, started_at, ended_at, state, message)
	select i, 'default', 'schedule', i * 1000000, i * 1000000 + 500, 'FINISHED', hex(zeroblob(200)) from n;
	insert into attempts (run_id, stage_index, stage, attempt, submission_id, state, message)
	select run_id, s.value, 'stage', 1, 'driver-x', 'FINISHED', hex(zeroblob(100)) from runs, generate_series(0, 2) s"
h_eq "(the old file has no incremental vacuum)" "$(sqlite3 "$old" "pragma auto_vacuum")" 0
big=$(stat -c %s "$old")
"$orch" --history "$old" run >/dev/null 2>&1
sqlite3 "$old" "pragma wal_checkpoint(truncate)" >/dev/null
small=$(stat -c %s "$old")
h_eq "all 3000 expired runs and their attempts are deleted" "$(sqlite3 "$old" "select count(*) from runs where trigger = 'schedule'") $(sqlite3 "$old" "select count(*) from attempts where stage = 'stage'")" "0 0"
h_eq "... the file now uses incremental vacuum" "$(sqlite3 "$old" "pragma auto_vacuum")" 2
h_check "... and shrank to under a tenth ($big -> $small bytes)" test $((small * 10)) -lt "$big"

# With --retain 1s each run deletes the previous ones: the file stops
# growing (each run and its attempts add ~1 KiB otherwise). Runs are at
# least 0.4 s apart, so at most three ended within the last second
# however fast a run is (long-polled, a run of trivial stages takes ms).
fresh=$H_TMP/fresh.db
sizes=()
for i in $(seq 16); do
	"$orch" --history "$fresh" --retain 1s run >/dev/null 2>&1
	sqlite3 "$fresh" "pragma wal_checkpoint(passive)" >/dev/null
	sizes+=("$(stat -c %s "$fresh")")
	sleep 0.4
done
h_log "history file size after each run: ${sizes[*]}"
h_check "with --retain 1s only the newest runs are kept" test "$(sqlite3 "$fresh" "select count(*) from runs")" -le 4
h_check "the history file stops growing (run 16: ${sizes[15]}, run 8: ${sizes[7]} bytes)" test "${sizes[15]}" -le "${sizes[7]}"

h_done
