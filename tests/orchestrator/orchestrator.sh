#!/bin/bash
# orchestrator.sh - medallion-orchestrator against a real medallion-server
# on loopback, with small shell stages: the default pipeline, retries and
# their history, resume, each failure's exit code (FAILED, ERROR, KILLED,
# UNKNOWN, timeout, unreachable), following a driver across a server
# restart, scripting commands with --json, environment from variables and
# files, auth, master URL precedence, pipeline file errors, and schedules
# (skipped ticks, SIGTERM).
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

orch=$MEDALLION_BUILD_DIR/orchestrator/medallion-orchestrator
port=$(h_freeport)
h_server_start --port "$port"
export MEDALLION_MASTER=$H_URL
hist=$H_TMP/history.db
o() { "$orch" --history "$hist" "$@"; }
mark=$H_TMP/marks
mkdir -p "$mark"

h_stage ingestion "echo run >> $mark/ingestion"
h_stage transformation "echo run >> $mark/transformation"
h_stage serving "echo run >> $mark/serving; printf '%s|%s' \"\$MEDALLION_LAKE\" \"\$PGHOST\" > $mark/serving.env"
h_stage maintenance "echo run >> $mark/maintenance"

PGHOST=/var/run/somewhere o run > "$H_TMP/out" 2> "$H_TMP/err"
h_eq "the default pipeline runs to the end" "$?" 0
h_eq "... each stage once, in order" "$(cat "$mark"/ingestion "$mark"/transformation "$mark"/serving "$mark"/maintenance | wc -l)" 4
h_eq "... maintenance the fourth, after serving" "$(o history --json | head -1 | jq -r '[.attempts[].stage] | join(" ")')" "ingestion transformation serving maintenance"
h_match "... forwarding libpq's variables by default" "$(cat "$mark/serving.env")" '\|/var/run/somewhere$'
h_match "progress names each stage's state changes" "$(cat "$H_TMP/err")" 'transformation: driver-.* FINISHED after'
h_eq "history records the run as FINISHED" "$(o history --json | head -1 | jq -r '.state + " " + (.attempts | length | tostring)')" "FINISHED 4"

# Retries: a stage that fails once, then succeeds.
h_stage transformation "n=\$(cat $mark/t.count 2>/dev/null || echo 0); echo \$((n + 1)) > $mark/t.count; [ \$n -ge 1 ]"
cat > "$H_TMP/retry.json" <<JSON
{"name": "retrying", "stages": [
  {"name": "ingestion"},
  {"name": "transformation", "retries": 2, "backoff": "100ms", "maxBackoff": "1s"},
  {"name": "serving"}]}
JSON
o --pipeline "$H_TMP/retry.json" run 2>"$H_TMP/err"
h_eq "a FAILED attempt is retried and the run finishes" "$?" 0
h_match "... the retry is announced with its back-off" "$(cat "$H_TMP/err")" 'retry 1 of 2 in'
h_eq "... and both attempts are in the history" "$(o history --json | head -1 | jq -r '[.attempts[] | select(.stage == "transformation") | .state] | join(" ")')" "FAILED FINISHED"

# Exhausted retries, then --resume from the failed stage.
h_stage transformation "exit 3"
: > "$mark/ingestion"
o --pipeline "$H_TMP/retry.json" run 2>"$H_TMP/err"
h_eq "a stage that keeps failing ends the run with exit 3" "$?" 3
h_match "... saying which stage and why" "$(cat "$H_TMP/err")" 'stopped at transformation'
h_stage transformation "echo resumed >> $mark/transformation"
: > "$mark/ingestion"
o --pipeline "$H_TMP/retry.json" run --resume 2>/dev/null
h_eq "run --resume continues the failed run" "$?" 0
h_eq "... without rerunning the stages before it" "$(wc -l < "$mark/ingestion")" 0
h_eq "... and the history links the two runs" "$(o history --json | head -1 | jq -r .trigger)" resume

# ERROR: the stage cannot start.
printf '#!/nonexistent/interpreter\n' > "$H_STAGES_DIR/broken"; chmod 755 "$H_STAGES_DIR/broken"
echo '{"stages": [{"name": "broken", "retries": 1, "backoff": "50ms"}]}' > "$H_TMP/broken.json"
o --pipeline "$H_TMP/broken.json" run 2>"$H_TMP/err"
h_eq "a stage ending in ERROR, after its retries, exits 4" "$?" 4

# Timeout: the driver is killed, exit 7.
h_stage slow "sleep 30"
echo '{"stages": [{"name": "slow", "timeout": "1s"}]}' > "$H_TMP/slow.json"
start=$(date +%s)
o --pipeline "$H_TMP/slow.json" run 2>"$H_TMP/err"
h_eq "a stage past its timeout exits 7" "$?" 7
h_check "... promptly" test $(( $(date +%s) - start )) -lt 10
id=$(o history --json | head -1 | jq -r '.attempts[0].submission_id')
h_wait_until 10 sh -c "curl -s $H_URL/v1/submissions/status/$id | jq -e '.driverState == \"KILLED\"' >/dev/null"
h_check "... after killing the driver" curl -s "$H_URL/v1/submissions/status/$id" -o /dev/null
h_eq "... which the server shows as KILLED" "$(curl -s "$H_URL/v1/submissions/status/$id" | jq -r .driverState)" KILLED

# KILLED from outside: exit 5, no retry.
echo '{"stages": [{"name": "slow", "retries": 3}]}' > "$H_TMP/slow3.json"
o --pipeline "$H_TMP/slow3.json" run 2>/dev/null &
runner=$!
h_wait_until 10 sh -c "curl -s '$H_URL/v1/submissions?state=RUNNING' | jq -e '.submissions | length > 0' >/dev/null"
victim=$(curl -s "$H_URL/v1/submissions?state=RUNNING" | jq -r '.submissions[0].submissionId')
curl -s -X POST "$H_URL/v1/submissions/kill/$victim" >/dev/null
wait $runner
h_eq "a driver killed from outside ends the run with exit 5" "$?" 5
h_eq "... and is not retried" "$(o history --json | head -1 | jq -r '.attempts | length')" 1

# Scripting: submit, status, wait, kill, all with --json.
id=$("$orch" submit ingestion)
h_match "submit prints the submission id" "$id" '^driver-[0-9]{14}-[0-9]{4}$'
"$orch" wait "$id" >/dev/null
h_eq "wait exits 0 for FINISHED" "$?" 0
h_eq "status --json gives the driver state" "$("$orch" --json status "$id" | jq -r .driverState)" FINISHED
id=$("$orch" --json submit slow | jq -r .submissionId)
"$orch" --json kill "$id" | jq -e .killed >/dev/null
h_eq "kill --json confirms" "$?" 0
"$orch" wait "$id" >/dev/null
h_eq "wait exits 5 for KILLED" "$?" 5
id=$("$orch" submit slow)
"$orch" --timeout 1s wait "$id" 2>/dev/null
h_eq "wait --timeout exits 7" "$?" 7
"$orch" kill "$id"
"$orch" status driver-20000101000000-9999 | grep -q NOT_FOUND
h_eq "status of an unknown id says NOT_FOUND" "$?" 0
"$orch" wait driver-20000101000000-9999 >/dev/null
h_eq "wait on an unknown id exits 6" "$?" 6
"$orch" submit nosuchstage 2>"$H_TMP/err"
h_eq "submitting an unregistered stage fails (exit 1)" "$?" 1
h_match "... with the server's reason" "$(cat "$H_TMP/err")" 'refused the submission.*Registered stages'


# A restart of the server mid-stage: the driver is followed to the end.
h_stage pause "sleep 3; echo done >> $mark/pause"
echo '{"stages": [{"name": "pause"}]}' > "$H_TMP/pause.json"
o --pipeline "$H_TMP/pause.json" run 2>"$H_TMP/err" &
runner=$!
h_wait_until 10 sh -c "curl -s '$H_URL/v1/submissions?state=RUNNING' | jq -e '.submissions | length > 0' >/dev/null"
h_server_crash
sleep 1
h_server_start --port "$port"
wait $runner
h_eq "a server restart mid-stage does not lose the driver" "$?" 0
h_match "... the orchestrator said it was retrying" "$(cat "$H_TMP/err")" 'retrying for up to'

# A runner killed with its stage (a server container restarting takes its
# runners with it): the driver becomes UNKNOWN and the stage is submitted
# again, so the run still finishes.
: > "$mark/pause"
echo '{"stages": [{"name": "pause", "backoff": "100ms"}]}' > "$H_TMP/pause-retry.json"
o --pipeline "$H_TMP/pause-retry.json" run 2>"$H_TMP/err" &
runner=$!
h_wait_until 10 sh -c "curl -s '$H_URL/v1/submissions?state=RUNNING' | jq -e '.submissions | length > 0' >/dev/null"
pkill -KILL -f "medallion-runner.*pause" 2>/dev/null
kills=$?
pkill -KILL -f "$H_STAGES_DIR/pause" 2>/dev/null
h_eq "the runner was killed mid-stage" "$kills" 0
wait $runner
h_eq "a driver lost with its runner is retried and the run finishes" "$?" 0
h_match "... announcing the retry of the UNKNOWN driver" "$(cat "$H_TMP/err")" 'pause: UNKNOWN .*retry 1 of 2'
h_eq "... and the stage ran to its end once" "$(wc -l < "$mark/pause")" 1
h_eq "... both attempts are in the history" "$(o history --json | head -1 | jq -r '[.attempts[] | .state] | join(" ")')" "UNKNOWN FINISHED"

# The server forgets the driver (a new state file): retried, or with no
# retries left, exit 6.
echo '{"stages": [{"name": "pause", "retries": 0}]}' > "$H_TMP/pause-once.json"
for plan in pause-retry pause-once; do
	o --pipeline "$H_TMP/$plan.json" run 2>"$H_TMP/err" &
	runner=$!
	h_wait_until 10 sh -c "curl -s '$H_URL/v1/submissions?state=RUNNING' | jq -e '.submissions | length > 0' >/dev/null"
	h_server_crash
	mv "$H_SERVER_DIR/state.db" "$H_SERVER_DIR/state.old"
	rm -f "$H_SERVER_DIR"/state.db-*
	h_server_start --port "$port"
	wait $runner
	echo $? > "$H_TMP/$plan.rc"
done
h_eq "a driver the server no longer knows is submitted again" "$(cat "$H_TMP/pause-retry.rc")" 0
h_eq "... and with no retries left ends the run with exit 6" "$(cat "$H_TMP/pause-once.rc")" 6
h_match "... with a clear message" "$(cat "$H_TMP/err")" 'no longer knows'

# Unreachable server: bounded retries, exit 8.
start=$(date +%s)
"$orch" --history "$hist" --master "http://127.0.0.1:$(h_freeport)" --patience 2s run 2>"$H_TMP/err"
h_eq "an unreachable server exits 8" "$?" 8
h_check "... after the bounded patience" test $(( $(date +%s) - start )) -lt 8
h_match "... naming the URL it tried" "$(cat "$H_TMP/err")" 'cannot reach http://127.0.0.1'

# Master URL: --master, then MEDALLION_MASTER, then SPARK_REST_URL.
id=$(env -u MEDALLION_MASTER SPARK_REST_URL="$H_URL" "$orch" submit ingestion)
h_match "SPARK_REST_URL is honoured" "$id" '^driver-'
env MEDALLION_MASTER="http://127.0.0.1:1" SPARK_REST_URL="$H_URL" "$orch" --patience 1s submit ingestion >/dev/null 2>&1
h_eq "MEDALLION_MASTER comes before SPARK_REST_URL" "$?" 8

# Environment from variables and files; secrets never in the file.
h_stage envy "printf '%s|%s' \"\$TEST_PLAIN\" \"\$TEST_SECRET\" > $mark/envy"
printf 's3cr3t\n' > "$H_TMP/secret"; chmod 600 "$H_TMP/secret"
cat > "$H_TMP/env.json" <<JSON
{"stages": [{"name": "envy", "environment": ["TEST_PLAIN", {"name": "TEST_SECRET", "file": "$H_TMP/secret"}]}]}
JSON
TEST_PLAIN=plain o --pipeline "$H_TMP/env.json" run 2>/dev/null
h_eq "environment entries come from variables and files" "$(cat "$mark/envy")" "plain|s3cr3t"
echo '{"stages": [{"name": "envy", "environment": [{"name": "X", "value": "pw"}]}]}' > "$H_TMP/bad.json"
out=$(o --pipeline "$H_TMP/bad.json" run 2>&1); rc=$?
h_eq "a value in the pipeline file is refused" "$rc" 1
h_match "... explaining where values come from" "$out" 'never the pipeline file'
echo '{"stages": [{"name": "x", "retry": 2}]}' > "$H_TMP/typo.json"
h_match "a misspelt key is named" "$(o --pipeline "$H_TMP/typo.json" run 2>&1)" 'unknown key "retry"'
echo '{"stages": [' > "$H_TMP/broken-json.json"
h_match "a malformed pipeline file gives its line" "$(o --pipeline "$H_TMP/broken-json.json" run 2>&1)" 'broken-json.json:[0-9]+:'

# Auth: a token-protected server.
h_server_stop
printf 'orchestrator-token-0123456789abcdef\n' > "$H_TMP/token"; chmod 600 "$H_TMP/token"
h_server_start --port "$port" --token-file "$H_TMP/token"
"$orch" submit ingestion >/dev/null 2>&1
h_eq "without the token the server refuses" "$?" 1
id=$("$orch" --token-file "$H_TMP/token" submit ingestion)
h_match "with --token-file it accepts" "$id" '^driver-'
id=$(MEDALLION_TOKEN_FILE=$H_TMP/token "$orch" submit ingestion)
h_match "... and so does MEDALLION_TOKEN_FILE, as compose.yaml sets it" "$id" '^driver-'
MEDALLION_TOKEN_FILE=$H_TMP/nosuchtoken "$orch" submit ingestion 2>"$H_TMP/err"
h_eq "a MEDALLION_TOKEN_FILE that cannot be read is an error (exit 1)" "$?" 1
h_match "... naming the file" "$(cat "$H_TMP/err")" 'nosuchtoken'
h_server_stop
head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' > "$H_TMP/jws.key"; chmod 600 "$H_TMP/jws.key"
h_server_start --port "$port" --jws-secret-file "$H_TMP/jws.key"
"$orch" submit ingestion >/dev/null 2>&1
h_eq "a JWS-protected server refuses an unsigned request" "$?" 1
id=$("$orch" --jws-secret-file "$H_TMP/jws.key" submit ingestion)
h_match "--jws-secret-file signs each request" "$id" '^driver-'
h_server_stop
h_server_start --port "$port"

# Schedules.
out=$("$orch" schedule --cron "61 * * * *" 2>&1); rc=$?
h_eq "a bad cron field is a usage error" "$rc" 2
h_match "... naming the field" "$out" 'bad minute field "61"'
h_match "schedule wants exactly one of --every and --cron" "$("$orch" schedule 2>&1)" 'one of them'
h_stage tick "echo tick >> $mark/ticks; sleep 1.5"
echo '{"stages": [{"name": "tick"}]}' > "$H_TMP/tick.json"
"$orch" --history "$hist" --pipeline "$H_TMP/tick.json" schedule --every 1s 2>"$H_TMP/sched.err" &
sched=$!
h_wait_until 20 sh -c "[ \$(cat $mark/ticks 2>/dev/null | wc -l) -ge 3 ]"
kill -TERM $sched
wait $sched
h_eq "SIGTERM stops the schedule cleanly (exit 0)" "$?" 0
h_match "overlapping ticks are skipped and logged" "$(cat "$H_TMP/sched.err")" 'skipped [0-9]+ tick'
h_eq "never two runs at once" "$(sqlite3 "$hist" "SELECT count(*) FROM runs a JOIN runs b ON a.run_id < b.run_id AND b.started_at < a.ended_at WHERE a.trigger = 'schedule' AND b.trigger = 'schedule'")" 0
h_stage tick "sleep 2.5"
"$orch" --history "$H_TMP/catchup.db" --pipeline "$H_TMP/tick.json" schedule --every 1s --catch-up 1 2>"$H_TMP/catchup.err" &
sched=$!
h_wait_until 30 sh -c "[ \$(sqlite3 $H_TMP/catchup.db \"SELECT count(*) FROM runs WHERE trigger = 'catch-up' AND state = 'FINISHED'\" 2>/dev/null || echo 0) -ge 1 ]"
kill -TERM $sched
wait $sched
h_check "--catch-up 1 runs a missed tick after a long run" test "$(sqlite3 "$H_TMP/catchup.db" "SELECT count(*) FROM runs WHERE trigger = 'catch-up'")" -ge 1
h_eq "... one at a time" "$(sqlite3 "$H_TMP/catchup.db" "SELECT count(*) FROM runs a JOIN runs b ON a.run_id < b.run_id AND b.started_at < a.ended_at")" 0
h_eq "scheduled runs record their tick" "$(sqlite3 "$hist" "SELECT count(*) FROM runs WHERE trigger = 'schedule' AND scheduled_at % 1000000 = 0 AND scheduled_at IS NOT NULL")" \
	"$(sqlite3 "$hist" "SELECT count(*) FROM runs WHERE trigger = 'schedule'")"
h_done
