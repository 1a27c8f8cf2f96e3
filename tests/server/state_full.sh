#!/usr/bin/env bash
# state_full.sh - the state folder runs out of space mid-run (a small tmpfs,
# filled up): create answers 503 (try again) naming the state file and the
# cause; a stage that ends meanwhile is not lost: its runner keeps trying
# to record the outcome, the driver is not taken as UNKNOWN while the
# state cannot be written, and it shows FINISHED once space returns; a
# runner that dies with its outcome unrecorded leaves an UNKNOWN that says
# the stage had ended and its outcome could not be recorded (not that the
# stage was stopped). Needs root (mount); skips, saying why, otherwise.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

[ "$(id -u)" = 0 ] || h_skip "needs root to mount a tmpfs for the state folder"
statedir=$H_TMP/statefs
mkdir -p "$statedir"
mount -t tmpfs -o size=4m,mode=0700 tmpfs "$statedir" 2>"$H_TMP/mount.err" ||
	h_skip "cannot mount a tmpfs: $(cat "$H_TMP/mount.err")"
h_defer "umount -l '$statedir'"

h_stage work 'sleep "${SECS:-4}"; echo done'
h_server_start --state "$statedir/state.db" --lease-timeout-ms 3000
db=$statedir/state.db

submit() {
	curl -sS -X POST "$H_URL/v1/submissions/create" -d "{\"action\":\"CreateSubmissionRequest\",
		\"clientSparkVersion\":\"4\",\"appResource\":\"work\",\"mainClass\":\"m\",\"sparkProperties\":{},
		\"environmentVariables\":{\"SECS\":\"$1\"}}" | jq -r .submissionId
}
state() { curl -sS "$H_URL/v1/submissions/status/$1" | jq -r '.driverState // "none"'; }
message() { curl -sS "$H_URL/v1/submissions/status/$1" | jq -r '.message // ""'; }
wait_state() { h_wait_until "${3:-30}" bash -c "[ \"\$(curl -sS '$H_URL/v1/submissions/status/$1' | jq -r .driverState)\" = '$2' ]"; }
running_with_stage() {
	wait_state "$1" RUNNING 15 &&
		h_wait_until 10 bash -c "[ -n \"\$(sqlite3 '$db' \"select stage_pid from drivers where id='$1'\")\" ]"
}
fill() { dd if=/dev/zero of="$statedir/fill" bs=4k 2>/dev/null; sync; true; }
unfill() { rm -f "$statedir/fill"; }
create_status() {
	h_curl POST /v1/submissions/create -d '{"action":"CreateSubmissionRequest","clientSparkVersion":"4",
		"appResource":"work","mainClass":"m","sparkProperties":{},"environmentVariables":{"SECS":"0"}}'
}

# 1. The stage ends while the state is full: its outcome waits, then lands.
id=$(submit 4)
h_check "a 4 s stage runs" running_with_stage "$id"
fill
h_eq "(the state folder is full)" "$(df --output=avail "$statedir" | tail -1 | tr -d ' ')" 0
create_status
h_eq "create while the state is full answers 503 (try again)" "$H_STATUS" 503
h_match "and names the state file and the cause" "$(h_jq .message)" "the state file $db cannot be written: No space left on device"
h_check "the runner says it cannot record the outcome" h_wait_until 20 grep -q "$id: cannot record its outcome (FINISHED)" "$H_SERVER_DIR/server.log"
sleep 6	# two leases past the stage's end
h_eq "the driver is not taken as UNKNOWN while the state cannot be written" "$(state "$id")" RUNNING
unfill
h_check "once space returns it shows FINISHED" wait_state "$id" FINISHED 30
h_match "the runner said so" "$(cat "$H_SERVER_DIR/server.log")" "$id: recorded its outcome \(FINISHED\) after [0-9]+ failed tries"
create_status
h_eq "create works again" "$H_STATUS" 200

# 2. A runner that dies with its outcome unrecorded.
id=$(submit 2)
h_check "a 2 s stage runs" running_with_stage "$id"
read -r runner <<<"$(sqlite3 "$db" "select runner_pid from drivers where id='$id'")"
fill
h_check "its runner cannot record the outcome" h_wait_until 20 grep -q "$id: cannot record its outcome" "$H_SERVER_DIR/server.log"
kill -KILL "$runner"
sleep 3
h_eq "still RUNNING while nothing can be written" "$(state "$id")" RUNNING
unfill
h_check "then UNKNOWN" wait_state "$id" UNKNOWN 30
msg=$(message "$id")
h_match "which says the stage had ended and its outcome was not recorded" "$msg" 'stage had already ended, but its outcome could not be recorded'
h_eq "and not that the stage was stopped" "$(grep -c 'stage was stopped' <<<"$msg")" 0

h_done
