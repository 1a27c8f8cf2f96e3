#!/usr/bin/env bash
# distrust.sh - medallion-orchestrator against answers a real server would
# never give (tests/tools/cannedhttp): a submissionId that is no Spark id
# is never put into a URL; a status without a driverState, or with one the
# protocol does not know, is given up on after --patience, not followed
# until the stage's hour-long timeout; a server that vanished after a
# submission likewise; ids typed by a user are checked before any request.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

orch=$MEDALLION_BUILD_DIR/orchestrator/medallion-orchestrator
canned=$MEDALLION_BUILD_DIR/tests/orchestrator/cannedhttp
o() { "$orch" --history "$H_TMP/history.db" --master "http://127.0.0.1:$(cat "$H_TMP/port")" "$@"; }

# canned CREATE_JSON STATUS_JSON: a peer answering those for 60 s at most.
canned() {
	printf '%s' "$1" > "$H_TMP/create.json"
	printf '%s' "$2" > "$H_TMP/status.json"
	rm -f "$H_TMP/port"
	"$canned" "$H_TMP/port" 60 "$H_TMP/create.json" "$H_TMP/status.json" > "$H_TMP/served" &
	CANNED_PID=$!
	h_defer "kill $CANNED_PID"
	h_wait_until 10 test -s "$H_TMP/port"
}
created() { printf '{"action":"CreateSubmissionResponse","serverSparkVersion":"4.0.0","submissionId":"%s","success":true}' "$1"; }

canned "$(created '../../killall')" '{"action":"SubmissionStatusResponse","success":true,"driverState":"RUNNING"}'
o submit ingestion 2>"$H_TMP/err"
h_eq "a submissionId that is no Spark id is refused (exit 1)" "$?" 1
h_match "... saying so" "$(cat "$H_TMP/err")" 'not a Spark id.*killall'
o run 2>"$H_TMP/err" >/dev/null
h_eq "... and a run stops at once instead of following it" "$?" 1
kill "$CANNED_PID"; wait "$CANNED_PID" 2>/dev/null
h_eq "... having sent only the creates, no status or kill" "$(tail -1 "$H_TMP/served")" 2

for answer in '{"action":"SubmissionStatusResponse","success":true}' \
    '{"action":"SubmissionStatusResponse","success":true,"driverState":"BANANA"}'; do
	canned "$(created driver-20260101000000-0001)" "$answer"
	start=$(date +%s)
	o --patience 2s run 2>"$H_TMP/err" >/dev/null
	rc=$?
	h_eq "status answer $answer: the run gives up (exit 8)" "$rc" 8
	h_check "... after --patience, not the stage's timeout ($(( $(date +%s) - start )) s)" test $(( $(date +%s) - start )) -lt 10
	h_match "... naming the fault" "$(cat "$H_TMP/err")" 'driverState in the answer'
	kill "$CANNED_PID"; wait "$CANNED_PID" 2>/dev/null
done
h_eq "... and history says UNREACHABLE" "$("$orch" --history "$H_TMP/history.db" history --json | head -1 | jq -r .state)" UNREACHABLE

# A server that vanishes after accepting the submission.
canned "$(created driver-20260101000000-0002)" '{"action":"SubmissionStatusResponse","success":true,"driverState":"RUNNING"}'
port=$(cat "$H_TMP/port")
( sleep 1; kill "$CANNED_PID" ) &
start=$(date +%s)
"$orch" --history "$H_TMP/history.db" --master "http://127.0.0.1:$port" --patience 3s run 2>"$H_TMP/err" >/dev/null
h_eq "a server gone after the submission: the run gives up (exit 8)" "$?" 8
h_check "... within its patience ($(( $(date +%s) - start )) s)" test $(( $(date +%s) - start )) -lt 15

for id in '../x' 'driver-1-2' 'driver-20260101000000-12/../../killall' ''; do
	"$orch" --master http://127.0.0.1:1 status "$id" 2>"$H_TMP/err"
	h_eq "status '$id': a usage error before any request (exit 2)" "$?" 2
done
"$orch" --master http://127.0.0.1:1 kill '../killall' 2>/dev/null
h_eq "kill of a malformed id: exit 2" "$?" 2
"$orch" --master http://127.0.0.1:1 wait '../killall' 2>/dev/null
h_eq "wait on a malformed id: exit 2" "$?" 2
h_done
