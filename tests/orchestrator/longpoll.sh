#!/bin/bash
# longpoll.sh - medallion-orchestrator follows stages with the server's
# long-poll of status when the server offers it (X-Medallion-Wait), and
# keeps polling when it does not (--no-long-poll, as a Spark master):
# both runs succeed, and the server's counter of parked status requests
# (medallion_status_waits_total) tells which way the run went. `wait`
# long-polls too, and a stage timeout still ends a long-polled stage.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

orch=$MEDALLION_BUILD_DIR/orchestrator/medallion-orchestrator
hist=$H_TMP/history.db
o() { "$orch" --master "$H_URL" --history "$hist" "$@"; }
waits() { curl -sS "$H_URL/metrics" | awk '$1 == "medallion_status_waits_total" { print $2 }'; }

# The first stage runs until the test lets it go: its driver is followed
# while RUNNING for as long as the test takes, whatever the machine's speed.
h_stage first 'while [ ! -e "$1" ]; do sleep 0.05; done'
h_stage second 'exit 0'
h_stage stuck 'sleep 60'
cat > "$H_TMP/pipeline.json" <<JSON
{"name": "lp", "stages": [
  {"name": "first", "appArgs": ["$H_TMP/go"]},
  {"name": "second"}]}
JSON

h_server_start
o --pipeline "$H_TMP/pipeline.json" run 2>"$H_TMP/err1" &
run=$!
h_check "the first stage's status request is parked" \
	h_wait_until 30 bash -c "curl -sS '$H_URL/metrics' | grep -qx 'medallion_status_waiting 1'"
touch "$H_TMP/go"
wait "$run"
h_eq "a run against a server with the long-poll finishes" "$?" 0
h_check "... having parked status requests (waits: $(waits))" test "$(waits)" -ge 1
h_eq "... both stages FINISHED in the history" \
	"$(o history --json | head -1 | jq -r '[.attempts[].state] | join(" ")')" "FINISHED FINISHED"

# wait ID long-polls as well; a stage timeout still ends a stage.
id=$(curl -sS -X POST "$H_URL/v1/submissions/create" -d '{"action":"CreateSubmissionRequest","clientSparkVersion":"4","appResource":"second","mainClass":"m","sparkProperties":{}}' | jq -r .submissionId)
o wait "$id" >/dev/null 2>&1
h_eq "wait of a short driver exits 0 (FINISHED)" "$?" 0
cat > "$H_TMP/timeout.json" <<'JSON'
{"name": "to", "stages": [{"name": "stuck", "timeout": "2s", "retries": 0}]}
JSON
before=$(waits)
o --pipeline "$H_TMP/timeout.json" run 2>"$H_TMP/err2"
h_eq "a long-polled stage past its timeout ends the run with exit 7" "$?" 7
h_match "... killed for its timeout" "$(cat "$H_TMP/err2")" 'after its 2 s timeout; killing it'
h_check "... having long-polled ($before, then $(waits) waits)" test "$(waits)" -gt "$before"
h_server_stop

# A server that does not offer it: the orchestrator polls, as with Spark.
H_SERVER_DIR=$H_TMP/server2
rm -f "$H_TMP/go"
h_server_start --no-long-poll
o --pipeline "$H_TMP/pipeline.json" run 2>"$H_TMP/err3" &
run=$!
h_check "the first stage runs (no long-poll)" h_wait_until 30 bash -c \
	"curl -sS '$H_URL/v1/submissions?state=RUNNING' | jq -e '.total == 1'"
touch "$H_TMP/go"
wait "$run"
h_eq "a run against a server without the long-poll finishes" "$?" 0
h_eq "... without parking any status request" "$(waits)" 0
h_server_stop
h_done
