#!/usr/bin/env bash
# lifecycle.sh - drivers through their states with real stage processes:
# FINISHED/FAILED/ERROR, kill (SIGTERM then SIGKILL after the grace),
# supervise and relaunch, queueing under --max-running, refused stages and
# variables, and 200 concurrent creates all accounted for and finishing.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

h_stage ok 'echo "args: $*"; echo "FOO=$FOO PATH=$PATH"'
h_stage fails 'echo failing >&2; exit 3'
h_stage sleeper 'sleep 60'
# Ignores SIGTERM: only the SIGKILL after the grace period ends it.
h_stage stubborn 'trap "" TERM; echo started; while :; do sleep 0.1; done'
# Fails twice, then succeeds: counts attempts in a file.
h_stage flaky 'n=$(cat "$COUNTER" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$COUNTER"; [ $n -ge 3 ]'
h_server_start --max-running 2 --kill-grace-ms 300 --relaunch-backoff-ms 50 --max-relaunches 3

submit() {	# submit STAGE [extra JSON fields [sparkProperties]]; prints the id
	curl -sS -X POST "$H_URL/v1/submissions/create" -d "{\"action\":\"CreateSubmissionRequest\",
		\"clientSparkVersion\":\"4.0.0\",\"appResource\":\"$1\",\"mainClass\":\"m\",
		\"sparkProperties\":{${3:-}}${2:-}}" | jq -r '.submissionId // .message'
}
state() { curl -sS "$H_URL/v1/submissions/status/$1" | jq -r '.driverState // "none"'; }
wait_state() {	# wait_state ID STATE [seconds]
	h_wait_until "${3:-15}" bash -c "[ \"\$(curl -sS '$H_URL/v1/submissions/status/$1' | jq -r .driverState)\" = '$2' ]"
}

id=$(submit ok ',"appArgs":["x","y z"],"environmentVariables":{"FOO":"bar"}')
h_check "ok stage finishes" wait_state "$id" FINISHED
out=$(curl -sS "$H_URL/v1/submissions/logs/$id")
h_match "argv passed without a shell" "$out" 'args: x y z'
h_match "request variable reaches the stage, PATH is the server's" "$out" 'FOO=bar PATH=/usr/local/bin:/usr/bin:/bin'

id=$(submit fails)
h_check "failing stage ends FAILED" wait_state "$id" FAILED
h_match "FAILED status says the exit status" "$(curl -sS "$H_URL/v1/submissions/status/$id" | jq -r .message)" 'exited with status 3'
h_eq "stderr captured" "$(curl -sS "$H_URL/v1/submissions/logs/$id?stream=stderr")" failing

# ERROR: a registered stage that cannot be executed.
h_stage gone 'exit 0'
chmod 644 "$H_STAGES_DIR/gone"
h_curl POST /v1/submissions/create -d '{"action":"CreateSubmissionRequest","clientSparkVersion":"4","appResource":"gone","mainClass":"m","sparkProperties":{}}'
h_eq "a non-executable file is not a registered stage" "$H_STATUS" 400
h_stage broken2 'exit 0'
printf '#!/nonexistent/interpreter\n' >"$H_STAGES_DIR/broken2"
id=$(submit broken2)
h_check "exec failure ends ERROR" wait_state "$id" ERROR
h_match "ERROR says why" "$(curl -sS "$H_URL/v1/submissions/status/$id" | jq -r .message)" 'Exception from the cluster:.*cannot start stage'

# Refusals: unknown stage lists the registered ones; LD_PRELOAD refused.
h_curl POST /v1/submissions/create -d '{"action":"CreateSubmissionRequest","clientSparkVersion":"4","appResource":"nosuch","mainClass":"m","sparkProperties":{}}'
h_eq "unknown stage: 400" "$H_STATUS" 400
h_match "unknown stage: lists registered stages" "$(h_jq .message)" 'Registered stages: .*fails, .*ok, sleeper, stubborn'
h_curl POST /v1/submissions/create -d '{"action":"CreateSubmissionRequest","clientSparkVersion":"4","appResource":"ok","mainClass":"m","sparkProperties":{},"environmentVariables":{"LD_PRELOAD":"/tmp/evil.so"}}'
h_eq "LD_PRELOAD: 400" "$H_STATUS" 400
h_match "LD_PRELOAD: says why" "$(h_jq .message)" "'LD_PRELOAD' is not allowed"
h_eq "refusals created nothing" "$(curl -sS "$H_URL/v1/submissions?limit=1000" | jq '[.submissions[] | select(.stage == "nosuch")] | length')" 0

# Kill: SIGTERM, then SIGKILL after the grace period.
id=$(submit stubborn)
h_check "stubborn runs" wait_state "$id" RUNNING
h_wait_until 5 bash -c "curl -sS '$H_URL/v1/submissions/logs/$id' | grep -q started"
pgid=$(sqlite3 "$H_SERVER_DIR/state.db" "select stage_pid from drivers where id='$id'")
curl -sS -X POST "$H_URL/v1/submissions/kill/$id" >/dev/null
h_check "SIGTERM-ignoring stage is KILLED after the grace" wait_state "$id" KILLED
h_check "its process group is gone" h_wait_until 5 bash -c "! kill -0 -$pgid 2>/dev/null"

# Supervise: relaunch until success, showing the attempts.
export COUNTER=$H_TMP/flaky.count
id=$(submit flaky ",\"environmentVariables\":{\"COUNTER\":\"$COUNTER\"}" '"spark.driver.supervise":"true"')
h_check "supervised flaky stage ends FINISHED" wait_state "$id" FINISHED 20
h_eq "it ran three times" "$(cat "$COUNTER")" 3
h_eq "attempts recorded" "$(curl -sS "$H_URL/v1/submissions?limit=50" | jq -r ".submissions[] | select(.submissionId == \"$id\") | .attempts")" 3
id=$(submit fails '' '"spark.driver.supervise":"true"')
h_check "supervised failing stage gives up: FAILED" wait_state "$id" FAILED 20
h_match "gave up after the cap" "$(curl -sS "$H_URL/v1/submissions/status/$id" | jq -r .message)" 'gave up after 3 relaunches'

# Queueing: with --max-running 2, the third waits as SUBMITTED.
a=$(submit sleeper); b=$(submit sleeper); c=$(submit sleeper)
h_check "two run" bash -c "$(declare -f wait_state h_wait_until); H_URL=$H_URL; wait_state $a RUNNING && wait_state $b RUNNING"
sleep 0.5
h_eq "the third is queued" "$(state "$c")" SUBMITTED
curl -sS -X POST "$H_URL/v1/submissions/kill/$a" >/dev/null
h_check "a freed slot starts the queued one" wait_state "$c" RUNNING
curl -sS -X POST "$H_URL/v1/submissions/killall" >/dev/null
h_check "killall ends all" bash -c "$(declare -f wait_state h_wait_until); H_URL=$H_URL; wait_state $b KILLED && wait_state $c KILLED"

# A kill while queued: KILLED at once, never started.
d=$(submit sleeper); e=$(submit sleeper); f=$(submit ok)
curl -sS -X POST "$H_URL/v1/submissions/kill/$f" >/dev/null
h_eq "queued driver killed at once" "$(state "$f")" KILLED
h_eq "it never started" "$(sqlite3 "$H_SERVER_DIR/state.db" "select coalesce(started_us,'never') from drivers where id='$f'")" never
curl -sS -X POST "$H_URL/v1/submissions/killall" >/dev/null

# 200 concurrent creates: every one accounted for, every one finishing.
seq 200 | xargs -P 32 -I@ curl -sS -X POST "$H_URL/v1/submissions/create" \
	-d '{"action":"CreateSubmissionRequest","clientSparkVersion":"4","appResource":"ok","mainClass":"m","appArgs":["@"],"sparkProperties":{}}' \
	-o "$H_TMP/create.@.json"
h_eq "200 creates answered success" "$(cat "$H_TMP"/create.*.json | jq -s '[.[] | select(.success)] | length')" 200
h_eq "200 distinct ids" "$(cat "$H_TMP"/create.*.json | jq -rs '.[].submissionId' | sort -u | wc -l)" 200
h_check "all 200 finish" h_wait_until 120 bash -c \
	"[ \$(sqlite3 '$H_SERVER_DIR/state.db' \"select count(*) from drivers where stage='ok' and state='FINISHED' and argv != '[\\\"x\\\",\\\"y z\\\"]'\") -eq 200 ]"
h_eq "each ran exactly once" "$(sqlite3 "$H_SERVER_DIR/state.db" "select count(*) from drivers where stage='ok' and attempts=1 and state='FINISHED'")" 201

h_done
