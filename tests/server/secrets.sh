#!/usr/bin/env bash
# secrets.sh - no secrets where others can read them, and one documented
# precedence for a stage's environment: the state file and its -wal/-shm
# are 0600 (a wider one is tightened with a warning); request variables'
# values never reach the state file, a status, a list or /ui; a queued
# driver's values wait in a 0600 file that is gone once its runner began,
# and still reach the stage after a server crash and restart; the claim
# token is in no runner's argv and not in its stage's environment; and a
# request variable replaces a server-set one of the same name (one entry,
# the request's value), while names the server refuses stay refused.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

SECRET=hunter2-$RANDOM$RANDOM
h_stage envdump 'env | sort; sleep "${SECS:-0}"'
h_stage flaky 'echo "attempt with SECRET_VAL=$SECRET_VAL"; exit 1'
# A wide umask: the server must not rely on its caller's.
umask 022
h_server_start --max-running 1 --lake /lake/of/server --stage-env FROM_OPERATOR=operator \
	--stage-env SHARED=operator --relaunch-backoff-ms 50 --max-relaunches 1
db=$H_SERVER_DIR/state.db

submit() {	# submit STAGE ENV_JSON [extra fields]
	curl -sS -X POST "$H_URL/v1/submissions/create" -d "{\"action\":\"CreateSubmissionRequest\",
		\"clientSparkVersion\":\"4\",\"appResource\":\"$1\",\"mainClass\":\"m\",
		\"sparkProperties\":{${3:-}},\"environmentVariables\":$2}" | jq -r '.submissionId // .message'
}
state() { curl -sS "$H_URL/v1/submissions/status/$1" | jq -r '.driverState // "none"'; }
wait_state() { h_wait_until "${3:-20}" bash -c "[ \"\$(curl -sS '$H_URL/v1/submissions/status/$1' | jq -r .driverState)\" = '$2' ]"; }
mode() { stat -c %a "$1"; }

# --- precedence: the request's value replaces the server's ---------------
id=$(submit envdump "{\"SHARED\":\"request\",\"MEDALLION_LAKE\":\"/lake/of/request\",\"SECRET_VAL\":\"$SECRET\"}")
h_check "envdump finishes" wait_state "$id" FINISHED
out=$(curl -sS "$H_URL/v1/submissions/logs/$id")
h_eq "one SHARED entry, the request's (it replaces --stage-env)" "$(grep -c '^SHARED=' <<<"$out") $(grep '^SHARED=' <<<"$out")" "1 SHARED=request"
h_eq "one MEDALLION_LAKE entry, the request's (it replaces --lake)" "$(grep '^MEDALLION_LAKE=' <<<"$out")" "MEDALLION_LAKE=/lake/of/request"
h_eq "an operator variable the request does not name stays" "$(grep '^FROM_OPERATOR=' <<<"$out")" "FROM_OPERATOR=operator"
h_eq "the secret reaches the stage" "$(grep '^SECRET_VAL=' <<<"$out")" "SECRET_VAL=$SECRET"
h_eq "no claim token in the stage's environment" "$(grep -c '^MEDALLION_RUNNER_TOKEN' <<<"$out")" 0
h_eq "no duplicate names at all" "$(sed 's/=.*//' <<<"$out" | sort | uniq -d)" ""
for name in PATH MEDALLION_SUBMISSION_ID MEDALLION_RUNNER_TOKEN LD_PRELOAD; do
	h_curl POST /v1/submissions/create -d "{\"action\":\"CreateSubmissionRequest\",\"clientSparkVersion\":\"4\",
		\"appResource\":\"envdump\",\"mainClass\":\"m\",\"sparkProperties\":{},\"environmentVariables\":{\"$name\":\"x\"}}"
	h_eq "a request may not set $name (400)" "$H_STATUS" 400
done

# --- modes ------------------------------------------------------------------
h_eq "state file is 0600 under umask 022" "$(mode "$db")" 600
h_eq "its -wal is 0600" "$(mode "$db-wal")" 600
h_eq "its -shm is 0600" "$(mode "$db-shm")" 600

# --- values never in the state, a status, a list or /ui -------------------
h_check "the state file holds no value (main file and WAL)" bash -c "! grep -aq '$SECRET' '$db' '$db-wal'"
h_eq "the state keeps the names" "$(sqlite3 "$db" "select env from drivers where id='$id'")" '["SHARED","MEDALLION_LAKE","SECRET_VAL"]'
h_match "the stored request is redacted" "$(sqlite3 "$db" "select request from drivers where id='$id'")" '"SECRET_VAL":"\(redacted\)"'
h_check "no value in a status" bash -c "! curl -sS '$H_URL/v1/submissions/status/$id' | grep -q '$SECRET'"
h_check "no value in the list" bash -c "! curl -sS '$H_URL/v1/submissions?limit=1000' | grep -q '$SECRET'"
h_check "no value in /ui" bash -c "! curl -sS '$H_URL/ui' | grep -q '$SECRET'"

# --- the token is not in argv ---------------------------------------------
id=$(submit envdump '{"SECS":"30"}')
h_check "a long envdump runs" wait_state "$id" RUNNING
h_wait_until 10 bash -c "[ -n \"\$(sqlite3 '$db' \"select runner_pid from drivers where id='$id' and runner_start is not null\")\" ]"
read -r runner token <<<"$(sqlite3 -separator ' ' "$db" "select runner_pid, claim_token from drivers where id='$id'")"
cmdline=$(tr '\0' ' ' <"/proc/$runner/cmdline")
h_match "(the runner's argv was read)" "$cmdline" "medallion-runner .*--id $id"
h_check "the claim token is not in the runner's argv" bash -c "! grep -q -- '$token' <<<'$cmdline' && ! grep -q -- '--token' <<<'$cmdline'"
h_check "nor readable in its /proc environ any more" bash -c "! tr '\0' '\n' </proc/$runner/environ | grep -q '$token'"
h_curl POST "/v1/submissions/kill/$id"
wait_state "$id" KILLED

# --- a queued driver's values: a 0600 file, through a crash and restart ---
blocker=$(submit envdump '{"SECS":"4"}')
wait_state "$blocker" RUNNING
queued=$(submit envdump "{\"SECRET_VAL\":\"$SECRET\"}")
h_eq "queued behind the blocker" "$(state "$queued")" SUBMITTED
envfile=$db.env/$queued
h_eq "its values wait in a 0600 file" "$(mode "$envfile")" 600
h_eq "in a 0700 folder" "$(mode "$db.env")" 700
h_server_crash
h_server_start --max-running 1 --lake /lake/of/server --stage-env FROM_OPERATOR=operator \
	--stage-env SHARED=operator --relaunch-backoff-ms 50 --max-relaunches 1
h_check "after a crash and restart the queued driver finishes" wait_state "$queued" FINISHED 40
h_eq "with its secret" "$(curl -sS "$H_URL/v1/submissions/logs/$queued" | grep '^SECRET_VAL=')" "SECRET_VAL=$SECRET"
h_check "its environment file is gone" h_wait_until 10 bash -c "! test -e '$envfile'"
h_check "the state file still holds no value" bash -c "! grep -aq '$SECRET' '$db' '$db-wal'"

# A queued driver killed before it ran: its file goes too.
blocker=$(submit envdump '{"SECS":"4"}')
wait_state "$blocker" RUNNING
queued=$(submit envdump "{\"SECRET_VAL\":\"$SECRET\"}")
h_check "(its file exists while queued)" test -e "$db.env/$queued"
h_curl POST "/v1/submissions/kill/$queued"
h_check "a killed queued driver's file is removed" h_wait_until 10 bash -c "! test -e '$db.env/$queued'"

# Relaunches of a supervised driver still get the values (from the runner).
id=$(submit flaky "{\"SECRET_VAL\":\"$SECRET\"}" '"spark.driver.supervise":"true"')
h_check "the supervised driver fails after its relaunch" wait_state "$id" FAILED 30
h_eq "both attempts had the secret" "$(curl -sS "$H_URL/v1/submissions/logs/$id" | grep -c "SECRET_VAL=$SECRET")" 2

# --- an existing file open to others is tightened, with a warning --------
h_server_stop
chmod 644 "$db"
h_server_start --max-running 1
h_eq "a 0644 state file is made 0600 at start" "$(mode "$db")" 600
h_match "with a warning that names it" "$(cat "$H_SERVER_DIR/server.log")" "state file $db was open to other users \(mode 0644\); it is now 0600"

h_done
