#!/usr/bin/env bash
# restart.sh - kill -9 of the server with drivers in flight, then a restart
# on the same state file: every submission is still there, running drivers
# finish and are recorded, queued ones start, nothing runs twice; and a
# runner killed -9 leaves its driver UNKNOWN, not RUNNING forever.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

# Each run appends one line to a file named after its submission.
h_stage work 'echo run >> "$RUNS/$MEDALLION_SUBMISSION_ID"; sleep "${SECS:-2}"'
export RUNS=$H_TMP/runs
mkdir -p "$RUNS"
h_server_start --max-running 2

submit() {
	curl -sS -X POST "$H_URL/v1/submissions/create" -d "{\"action\":\"CreateSubmissionRequest\",
		\"clientSparkVersion\":\"4\",\"appResource\":\"work\",\"mainClass\":\"m\",\"sparkProperties\":{},
		\"environmentVariables\":{\"RUNS\":\"$RUNS\",\"SECS\":\"${1:-2}\"}}" | jq -r .submissionId
}
state() { curl -sS "$H_URL/v1/submissions/status/$1" | jq -r '.driverState // "none"'; }

ids=()
for i in 1 2 3 4 5; do ids+=("$(submit 2)"); done
h_wait_until 10 bash -c "[ \$(curl -sS '$H_URL/v1/submissions?state=RUNNING' | jq .total) -eq 2 ]"
h_eq "two running, three queued before the crash" \
	"$(curl -sS "$H_URL/v1/submissions?state=SUBMITTED" | jq .total)" 3
h_server_crash
sleep 0.3
h_server_start --max-running 2
h_eq "all five submissions survived" "$(curl -sS "$H_URL/v1/submissions" | jq .total)" 5
for id in "${ids[@]}"; do
	h_check "$id finishes after the restart" h_wait_until 30 bash -c \
		"[ \"\$(curl -sS '$H_URL/v1/submissions/status/$id' | jq -r .driverState)\" = FINISHED ]"
	h_eq "$id ran exactly once" "$(wc -l <"$RUNS/$id")" 1
done

# A runner killed -9 mid-run: its driver becomes UNKNOWN, its stage stops.
id=$(submit 60)
h_wait_until 10 bash -c "[ \"\$(curl -sS '$H_URL/v1/submissions/status/$id' | jq -r .driverState)\" = RUNNING ]"
h_wait_until 5 test -s "$RUNS/$id"
read -r runner stage <<<"$(sqlite3 -separator ' ' "$H_SERVER_DIR/state.db" "select runner_pid, stage_pid from drivers where id='$id'")"
kill -KILL "$runner"
h_check "driver of a dead runner becomes UNKNOWN" h_wait_until 10 bash -c \
	"[ \"\$(curl -sS '$H_URL/v1/submissions/status/$id' | jq -r .driverState)\" = UNKNOWN ]"
h_match "UNKNOWN says what happened" "$(curl -sS "$H_URL/v1/submissions/status/$id" | jq -r .message)" 'runner .* exited without recording an outcome'
h_check "its stage was stopped" h_wait_until 5 bash -c "! kill -0 -$stage 2>/dev/null"

# A server crash while a driver runs: the runner records FINISHED alone.
id=$(submit 2)
h_wait_until 10 bash -c "[ \"\$(curl -sS '$H_URL/v1/submissions/status/$id' | jq -r .driverState)\" = RUNNING ]"
h_server_crash
h_check "the runner records FINISHED with no server up" h_wait_until 15 bash -c \
	"[ \"\$(sqlite3 '$H_SERVER_DIR/state.db' \"select state from drivers where id='$id'\")\" = FINISHED ]"
h_server_start
h_eq "status after restart says FINISHED" "$(state "$id")" FINISHED

h_done
