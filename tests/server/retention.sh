#!/usr/bin/env bash
# retention.sh - medallion-server --retain and what keeps it cheap: old
# finished drivers and their log files are deleted (never queued or
# running ones, never recent ones), clear removes log files too, /metrics'
# counters agree with a full count after transitions, deletions, a restart
# and a migration from a version 1 state file, ?before= paging returns the
# rows offset paging does, and the state file stops growing over many
# create/finish/retain cycles.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

h_stage ok 'echo "out of $MEDALLION_SUBMISSION_ID"; echo "err of $MEDALLION_SUBMISSION_ID" >&2'
h_stage fail 'echo failing >&2; exit 3'
h_stage slow 'sleep 60'

submit() {
	curl -sS -X POST "$H_URL/v1/submissions/create" -d "{\"action\":\"CreateSubmissionRequest\",
		\"clientSparkVersion\":\"4\",\"appResource\":\"$1\",\"mainClass\":\"m\",\"sparkProperties\":{},
		\"environmentVariables\":{${2:-}}}" | jq -r .submissionId
}
state() { curl -sS "$H_URL/v1/submissions/status/$1" | jq -r '.driverState // "none"'; }
sql() { sqlite3 "$H_SERVER_DIR/state.db" "$1"; }
count_state() { sql "select count(*) from drivers where state = '$1'"; }

# /metrics' medallion_submissions lines against a count of the rows.
metrics_agree() {
	local scraped counted
	scraped=$(curl -sS "$H_URL/metrics" | sed -n 's/^medallion_submissions{state="\([A-Z]*\)"} \([0-9]*\)$/\1 \2/p')
	counted=$(sql "select state || ' ' || count(*) from drivers group by state order by state")
	[ "$scraped" = "$counted" ] || { printf 'metrics:\n%s\ncount:\n%s\n' "$scraped" "$counted"; return 1; }
}
histogram_count() { curl -sS "$H_URL/metrics" | sed -n 's/^medallion_launch_latency_seconds_count //p'; }

# --- retention: old finished drivers and their logs go, others stay ----
h_server_start --max-running 1 --retain 1h
db=$H_SERVER_DIR/state.db
logs=$H_SERVER_DIR/logs
done_ids=()
for i in 1 2 3 4 5 6; do done_ids+=("$(submit ok)"); done
done_ids+=("$(submit fail)" "$(submit fail)")
for id in "${done_ids[@]}"; do
	h_wait_until 20 bash -c "[ \"\$(curl -sS '$H_URL/v1/submissions/status/$id' | jq -r .driverState)\" != SUBMITTED ] && [ \"\$(curl -sS '$H_URL/v1/submissions/status/$id' | jq -r .driverState)\" != RUNNING ]"
done
h_eq "six drivers FINISHED, two FAILED" "$(count_state FINISHED) $(count_state FAILED)" "6 2"
running=$(submit slow)
queued=$(submit slow)
h_check "one slow driver runs" h_wait_until 10 bash -c "[ \"\$(curl -sS '$H_URL/v1/submissions/status/$running' | jq -r .driverState)\" = RUNNING ]"
h_eq "... and one waits (--max-running 1)" "$(state "$queued")" SUBMITTED
h_check "finished drivers have their two log files" test -s "$logs/${done_ids[0]}.stdout" -a -s "$logs/${done_ids[0]}.stderr"
launches=$(sql "select count(*) from drivers where started_us is not null")
h_eq "the launch histogram counts every launch" "$(histogram_count)" "$launches"

# Make three FINISHED and one FAILED driver two hours old, and the
# running and queued ones two days old: only the four finished may go.
old=("${done_ids[0]}" "${done_ids[1]}" "${done_ids[2]}" "${done_ids[6]}")
two_h=$((2 * 3600 * 1000000))
for id in "${old[@]}"; do
	sql "update drivers set created_us = created_us - $two_h, started_us = started_us - $two_h, ended_us = ended_us - $two_h where id = '$id'"
done
sql "update drivers set created_us = created_us - 24 * $two_h, started_us = started_us - 24 * $two_h where id in ('$running', '$queued')"
h_check "retention deletes drivers that ended more than --retain ago" h_wait_until 10 bash -c \
	"[ \$(sqlite3 '$db' \"select count(*) from drivers where id in ('${old[0]}', '${old[1]}', '${old[2]}', '${old[3]}')\") -eq 0 ]"
gone=0
for id in "${old[@]}"; do
	[ "$(state "$id")" = none ] || gone=1
	[ -e "$logs/$id.stdout" ] || [ -e "$logs/$id.stderr" ] && gone=1
done
h_eq "... status no longer knows them, and their log files are gone" "$gone" 0
kept=0
for id in "${done_ids[3]}" "${done_ids[4]}" "${done_ids[5]}" "${done_ids[7]}"; do
	[ "$(state "$id")" = FINISHED ] || [ "$(state "$id")" = FAILED ] || kept=1
	[ -s "$logs/$id.stderr" ] || kept=1
done
h_eq "recent finished drivers and their logs stay" "$kept" 0
h_eq "an old RUNNING driver stays" "$(state "$running")" RUNNING
h_eq "an old SUBMITTED driver stays" "$(state "$queued")" SUBMITTED
h_check "/metrics agrees with a count after retention" metrics_agree
h_eq "the launch histogram does not forget deleted drivers' launches" "$(histogram_count)" "$launches"

# --- clear forgets finished drivers and their logs ----------------------
h_curl POST /v1/submissions/clear
h_eq "clear answers as Spark's ClearResponse" "$H_STATUS $(h_jq .action)" "200 ClearResponse"
h_eq "... no finished driver is left" "$(sql "select count(*) from drivers where state not in ('RUNNING', 'SUBMITTED')")" 0
h_eq "... and no log file but the running driver's" "$(cd "$logs" && ls | sed 's/\.std\(out\|err\)$//' | sort -u)" "$running"
h_check "/metrics agrees with a count after clear" metrics_agree

# --- counters across transitions and a restart ---------------------------
curl -sS -X POST "$H_URL/v1/submissions/kill/$queued" >/dev/null
curl -sS -X POST "$H_URL/v1/submissions/kill/$running" >/dev/null
h_check "killed drivers end KILLED" h_wait_until 20 bash -c "[ \"\$(curl -sS '$H_URL/v1/submissions/status/$running' | jq -r .driverState)\" = KILLED ]"
for i in 1 2 3; do submit ok >/dev/null; submit fail >/dev/null; done
h_wait_until 30 bash -c "[ \$(sqlite3 '$db' \"select count(*) from drivers where state in ('SUBMITTED', 'RUNNING')\") -eq 0 ]"
h_check "/metrics agrees with a count after kills and more runs" metrics_agree
h_server_stop
h_server_start --max-running 1 --retain 1h
h_check "/metrics agrees with a count after a restart" metrics_agree

# --- keyset paging --------------------------------------------------------
# 500 more rows that ended a minute ago, each with a 2 KB request,
# straight into the store (the triggers count them too).
sql "with recursive n(i) as (select 1 union all select i + 1 from n where i < 500)
	insert into drivers (id, stage, state, request, argv, env, created_us, ended_us)
	select printf('driver-20200101000000-p%04d', i), 'ok', case when i % 3 = 0 then 'FAILED' else 'FINISHED' end,
	hex(zeroblob(1000)), '[]', '{}', (unixepoch() - 60) * 1000000 + i, (unixepoch() - 60) * 1000000 + i from n"
h_check "/metrics agrees with a count after rows written by another process" metrics_agree
pages_by() {	# pages_by offset|before [state]: every id, one per line
	local mode=$1 filter=${2:+&state=$2} cursor="" offset=0 body
	while :; do
		if [ "$mode" = offset ]; then
			body=$(curl -sS "$H_URL/v1/submissions?limit=37&offset=$offset$filter")
			offset=$((offset + 37))
		else
			body=$(curl -sS "$H_URL/v1/submissions?limit=37$filter${cursor:+&before=$cursor}")
		fi
		printf '%s' "$body" | jq -r '.submissions[].submissionId'
		if [ "$mode" = offset ]; then
			[ "$(printf '%s' "$body" | jq -r '.nextOffset // empty')" ] || break
		else
			cursor=$(printf '%s' "$body" | jq -r '.nextBefore // empty')
			[ -n "$cursor" ] || break
		fi
	done
}
all=$(sql "select id from drivers order by seq desc")
h_eq "offset paging lists every driver, newest first" "$(pages_by offset)" "$all"
h_eq "?before= paging lists the same rows" "$(pages_by before)" "$all"
h_eq "... with a state filter too" "$(pages_by before FAILED)" "$(pages_by offset FAILED)"
h_check "... which is not empty" test "$(pages_by before FAILED | wc -l)" -gt 150
h_curl GET "/v1/submissions?before=driver-20200101000000-p0100&limit=2"
h_eq "?before=ID starts just below ID" "$(h_jq '[.submissions[].submissionId] | join(" ")')" \
	"driver-20200101000000-p0099 driver-20200101000000-p0098"
h_curl GET "/v1/submissions?before=driver-19990101000000-0000"
h_eq "?before= an unknown id is a 400 that says so" "$H_STATUS $(h_jq .message | grep -c 'names no submission')" "400 1"

# --- a version 1 state file is migrated, its counts seeded ----------------
h_server_stop
sql "drop trigger drivers_count_insert; drop trigger drivers_count_update; drop trigger drivers_count_delete;
	drop trigger drivers_launch_latency; drop table driver_counts; drop table launch_latency;
	drop index drivers_ended; alter table drivers drop column lease_until;
	pragma user_version = 1; pragma auto_vacuum = NONE; vacuum"
h_eq "(the file now looks like version 1)" "$(sql "pragma auto_vacuum") $(sql "pragma user_version")" "0 1"
h_server_start --max-running 1 --retain 1h
h_eq "a version 1 file becomes version 3 with incremental vacuum" "$(sql "pragma user_version") $(sql "pragma auto_vacuum")" "3 2"
h_check "... and /metrics agrees with a count of its rows" metrics_agree
h_eq "... the histogram counts the launches already made" "$(histogram_count)" "$(sql "select count(*) from drivers where started_us is not null")"

# A big clear shrinks the file (pages go back, not to a free list).
sql "pragma wal_checkpoint(truncate)" >/dev/null
before_size=$(stat -c %s "$db")
h_curl POST /v1/submissions/clear
sql "pragma wal_checkpoint(truncate)" >/dev/null
after_size=$(stat -c %s "$db")
h_check "clearing 500 rows shrinks the state file to less than half ($before_size -> $after_size bytes)" test $((after_size * 2)) -lt "$before_size"
h_server_stop

# --- the state file stops growing over create/finish/retain cycles --------
# Each driver carries a 4 KiB variable (stored twice: the request and the
# environment), so a cycle adds ~300 KiB if nothing were deleted.
H_SERVER_DIR=$H_TMP/cycles
h_server_start --max-running 4 --retain 1s
db=$H_SERVER_DIR/state.db
pad=$(head -c 3072 /dev/zero | base64 -w0)
sizes=()
for cycle in 1 2 3 4 5 6 7 8 9 10; do
	for i in $(seq 30); do submit ok "\"PAD\":\"$pad\"" >/dev/null; done
	h_wait_until 60 bash -c "[ \$(sqlite3 '$db' 'select count(*) from drivers') -eq 0 ]" ||
		h_log "cycle $cycle: drivers left: $(sql "select state, count(*) from drivers group by state")"
	sql "pragma wal_checkpoint(passive)" >/dev/null
	sizes+=("$(stat -c %s "$db")")
done
h_log "state file size after each cycle: ${sizes[*]}"
h_eq "every driver of every cycle was deleted, and its logs" "$(sql 'select count(*) from drivers') $(ls "$H_SERVER_DIR/logs" | wc -l)" "0 0"
first=0 last=0
for i in 0 1 2 3 4; do [ "${sizes[$i]}" -gt "$first" ] && first=${sizes[$i]}; done
for i in 5 6 7 8 9; do [ "${sizes[$i]}" -gt "$last" ] && last=${sizes[$i]}; done
h_check "the state file stops growing (largest of cycles 6-10: $last bytes, of 1-5: $first)" test "$last" -le "$first"
h_check "... and stays small (under 256 KiB)" test "$last" -lt 262144
h_eq "/metrics counts nothing left" "$(curl -sS "$H_URL/metrics" | grep -c '^medallion_submissions{')" 0
h_eq "... but every launch in its histogram" "$(histogram_count)" 300

h_done
