#!/usr/bin/env bash
# longpoll.sh - the long-poll of status (GET .../status/{id}?waitMs=N
# [&knownState=S]) on a real server: a parked request answers with the new
# state once its driver's state changes (a stage that waits for a file the
# test creates, a kill), with the unchanged state once its wait ends, even
# past --request-timeout and --idle-timeout; bad parameters get 400 in the
# ErrorResponse shape; a plain status is unchanged; 20 parked requests do
# not stop one HTTP thread from answering others; SIGTERM with parked
# requests exits cleanly; --no-long-poll answers as Spark. No check
# depends on how fast anything is: waits are long and only bound a hang.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

# Runs until the file named by its first argument exists.
h_stage gate 'while [ ! -e "$1" ]; do sleep 0.05; done'

submit() {	# submit GATE-FILE; prints the id
	curl -sS -X POST "$H_URL/v1/submissions/create" -d "{\"action\":\"CreateSubmissionRequest\",
		\"clientSparkVersion\":\"4.0.0\",\"appResource\":\"gate\",\"mainClass\":\"m\",
		\"appArgs\":[\"$1\"],\"sparkProperties\":{}}" | jq -r '.submissionId // .message'
}
state_is() {	# state_is ID STATE
	[ "$(curl -sS "$H_URL/v1/submissions/status/$1" | jq -r .driverState)" = "$2" ]
}
waiting() {	# waiting N: the server has N requests parked
	curl -sS "$H_URL/metrics" | grep -qx "medallion_status_waiting $1"
}
# park OUT ID QUERY: a long-poll in the background; its body goes to OUT,
# its HTTP status to OUT.code. unpark waits for every one parked so far
# (not for the server, also a child of this shell).
parked=()
park() {
	curl -sS --max-time 60 -o "$1" -w '%{http_code}\n' \
		"$H_URL/v1/submissions/status/$2?$3" >"$1.code" 2>"$1.err" &
	parked+=($!)
}
unpark() {
	local p
	for p in "${parked[@]}"; do wait "$p"; done
	parked=()
}

# --threads 1: if a parked request held the HTTP thread, nothing else
# would be answered.
h_server_start --threads 1 --request-timeout 1 --idle-timeout 1 --kill-grace-ms 200

# --- a state change wakes the waiter --------------------------------
id=$(submit "$H_TMP/go1")
h_check "a gated driver runs" h_wait_until 15 state_is "$id" RUNNING
park "$H_TMP/w1" "$id" "waitMs=30000"
h_check "the long-poll is parked" h_wait_until 15 waiting 1
touch "$H_TMP/go1"
unpark
h_eq "woken by the change: 200" "$(cat "$H_TMP/w1.code")" 200
h_eq "... answering the new state (it was RUNNING)" "$(jq -r .driverState "$H_TMP/w1")" FINISHED
h_eq "... in the status response's shape" "$(jq -c '[keys[], .action]' "$H_TMP/w1")" \
	'["action","driverState","serverSparkVersion","submissionId","success","SubmissionStatusResponse"]'
h_check "no request is left parked" waiting 0

# --- knownState: a state already left answers at once ---------------
h_curl GET "/v1/submissions/status/$id?waitMs=30000&knownState=RUNNING"
h_eq "knownState=RUNNING of a FINISHED driver: answered (200)" "$H_STATUS" 200
h_eq "... with the state it is in" "$(h_jq .driverState)" FINISHED

# --- the wait ends: the unchanged state, past both server timeouts ----
id=$(submit "$H_TMP/go2")
h_check "a second gated driver runs" h_wait_until 15 state_is "$id" RUNNING
h_curl GET "/v1/submissions/status/$id?waitMs=2500&knownState=RUNNING" -D "$H_TMP/headers"
h_eq "a wait longer than --request-timeout and --idle-timeout (1 s) is answered: 200" "$H_STATUS" 200
h_eq "... with the unchanged state" "$(h_jq .driverState)" RUNNING
h_match "... advertising the longest wait" "$(cat "$H_TMP/headers")" $'X-Medallion-Wait: 30000\r'

# --- a plain status is Spark's -------------------------------------
h_curl GET "/v1/submissions/status/$id"
h_eq "a plain status: 200" "$H_STATUS" 200
h_eq "... Spark's fields, nothing more" "$(printf '%s' "$H_BODY" | jq -c '[keys[], .action, .driverState]')" \
	'["action","driverState","serverSparkVersion","submissionId","success","SubmissionStatusResponse","RUNNING"]'
h_curl GET "/v1/submissions/status/$id?waitMs=0"
h_eq "waitMs=0 answers at once, the same" "$(printf '%s' "$H_BODY" | jq -c '[keys[], .driverState]')" \
	'["action","driverState","serverSparkVersion","submissionId","success","RUNNING"]'
h_curl GET "/v1/submissions/status/driver-20000101000000-9999?waitMs=30000"
h_eq "an unknown id answers at once: 200" "$H_STATUS" 200
h_eq "... success false, as Spark" "$(h_jq .success)" false

# --- bad parameters: 400 in the ErrorResponse shape ------------------
for q in "waitMs=-1" "waitMs=abc" "waitMs=99999999999999999999" "waitMs=30001" "waitMs=" "waitMs=1.5"; do
	h_curl GET "/v1/submissions/status/$id?$q"
	h_eq "$q: 400" "$H_STATUS" 400
	h_match "$q: an ErrorResponse naming the range" "$(h_jq '.action + ": " + .message')" \
		"^ErrorResponse: Query parameter 'waitMs' must be an integer from 0 to 30000"
done
h_curl GET "/v1/submissions/status/$id?waitMs=100&knownState=BOGUS"
h_eq "knownState=BOGUS: 400" "$H_STATUS" 400
h_match "... says what a state is" "$(h_jq .message)" "'knownState' must be a driver state"
h_curl GET "/v1/submissions/status/$id?knownState=RUNNING"
h_eq "knownState without waitMs: 400" "$H_STATUS" 400
h_match "... says it needs waitMs" "$(h_jq .message)" "'knownState' needs 'waitMs'"

# --- 20 parked requests; the one HTTP thread still answers ----------
for i in $(seq 1 20); do park "$H_TMP/m$i" "$id" "waitMs=30000&knownState=RUNNING"; done
h_check "20 long-polls are parked" h_wait_until 20 waiting 20
h_curl GET "/v1/submissions/status/$id"
h_eq "a status answers while 20 are parked" "$H_STATUS:$(h_jq .driverState)" 200:RUNNING
other=$(submit "$H_TMP/go3")
h_match "a create answers while 20 are parked" "$other" '^driver-'
h_check "readyz answers while 20 are parked" curl -fsS --max-time 10 -o /dev/null "$H_URL/v1/submissions/readyz"

# --- kill wakes them ------------------------------------------------
h_curl POST "/v1/submissions/kill/$id"
h_eq "kill of the driver they wait on: submitted" "$(h_jq .success)" true
unpark
codes=$(cat "$H_TMP"/m*.code | sort -u | tr '\n' ' ')
h_eq "all 20 answered: 200" "$codes" "200 "
states=$(for i in $(seq 1 20); do jq -r .driverState "$H_TMP/m$i"; done | sort -u | tr '\n' ' ')
h_eq "... each with KILLED" "$states" "KILLED "

# --- SIGTERM with parked requests ----------------------------------
h_check "the other gated driver runs" h_wait_until 15 state_is "$other" RUNNING
for i in $(seq 1 5); do park "$H_TMP/t$i" "$other" "waitMs=30000"; done
h_check "5 long-polls are parked" h_wait_until 20 waiting 5
kill -TERM "$H_SERVER_PID"
wait "$H_SERVER_PID"
h_eq "SIGTERM with 5 parked: the server exits 0" "$?" 0
unpark
answered=$(cat "$H_TMP"/t*.code | grep -c '^200$' || true)
h_log "parked requests answered at shutdown: $answered of 5 (others saw the connection close)"
h_check "... every parked client got an answer or a closed connection, none hangs" \
	test "$(ls "$H_TMP"/t*.code | wc -l)" -eq 5
h_check_fails "... and the log has no MHD panic" grep -qi "panic\|suspended" "$H_SERVER_DIR/server.log"
touch "$H_TMP/go3"

# --- --no-long-poll: as Spark, waitMs is ignored --------------------
H_SERVER_DIR=$H_TMP/server2
h_server_start --no-long-poll
id=$(submit "$H_TMP/go4")
h_check "a gated driver runs (--no-long-poll)" h_wait_until 15 state_is "$id" RUNNING
h_curl GET "/v1/submissions/status/$id?waitMs=bogus" -D "$H_TMP/headers2"
h_eq "--no-long-poll: waitMs is not even read (200)" "$H_STATUS:$(h_jq .driverState)" 200:RUNNING
h_check_fails "... and no X-Medallion-Wait is offered" grep -qi '^X-Medallion-Wait' "$H_TMP/headers2"
touch "$H_TMP/go4"
h_server_stop
h_done
