#!/usr/bin/env bash
# kill.sh - exactly once on an s3:// lake (a throwaway Ceph RGW) under
# kill -9 of each stage at random points (issue 21). A base loaded with
# medallion-retailapp --bulk goes through the pipeline; then each round
# writes events, and each stage in turn (ingestion, transformation,
# serving, maintenance) is SIGKILLed at a delay drawn uniformly from its
# measured run time, the tables it writes must pass `medallion-lake
# check` straight after the kill, and a rerun must complete. At the end
# bronze and silver hold every source row once, gold equals SQL on the
# source, and `medallion-lake check --deep` passes on every table.
#
# A kill counts as landed mid-run when the stage died of it (wait status
# 137: it had not exited yet) and the gateway had taken at least one
# request since the stage started (its perf counter; nothing else talks
# to it meanwhile): the stage was at work on the lake, between its first
# request and its exit. Each landed kill is logged as before or after
# the stage's first commit (a table it writes has a newer log entry).
# The stage binary itself is the background job (no wrapper shell), so
# the signal reaches it and nothing else.
#
# Load-proofing: the span the delays are drawn from is the median of the
# stage's last three uninterrupted runs of a whole increment (three timed
# before the kills, then each rerun after a kill that came before any
# commit, which redoes the whole increment), so it follows the machine's
# load; and rounds go on past 8 until every stage had 4 kills land (16
# rounds at most: a kill can find a stage already done on a busy machine).
. "$MEDALLION_SOURCE_DIR/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/s3.sh"
b=$MEDALLION_BUILD_DIR
lake=$b/stages/lake/medallion-lake
app=$b/retailapp/medallion-retailapp
min_landed=4 min_rounds=8 max_rounds=16
events=1000	# per round, written through 2 connections
stages="ingestion transformation serving maintenance"
tables="bronze/orders bronze/ordershistory silver/allorders silver/rejected gold/branch_state gold/branch_metrics"
# Maintenance with work each round: compaction of the newest partition
# past 4 small files (older ones past 2), log cleanup and vacuum every
# run, and the files killed runs left (in no version) deleted at once:
# nothing else writes the lake meanwhile.
maint_args=(--compact-min-files 4 --vacuum-every 0 --file-retention 0s)

s3_start
pg_start
q() { pg_psql_admin -Atc "$1"; }
as_app() { (eval "$(pg_env_app)"; "$@"); }
write_events() { as_app "$app" --events "$events" --connections 2 --seed "$1" --quiet 2>/dev/null; }
# The stages are started directly (no subshell to carry the source's
# settings), so ingestion's libpq settings are the whole test's.
eval "$(pg_env_pipeline)"
export MEDALLION_LAKE=s3://$S3_BUCKET/lake
. "$MEDALLION_SOURCE_DIR/tests/lib/bronze.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/gold.sh"
log=$H_TMP/stages.log
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

args_of() { [ "$1" != maintenance ] || echo "${maint_args[@]}"; }
run() {	# STAGE: one uninterrupted run, its stderr kept
	# shellcheck disable=SC2046	# maintenance's options, words on purpose
	"$b/stages/$1/$1" $(args_of "$1") 2>>"$log"
}
writes() {	# STAGE: the tables it commits to that exist
	local t w
	case $1 in
	ingestion) w="bronze/orders bronze/ordershistory" ;;
	transformation) w="silver/allorders silver/rejected" ;;
	serving) w="gold/branch_state gold/branch_metrics" ;;
	maintenance) w=$tables ;;
	esac
	for t in $w; do [[ " $present " != *" $t "* ]] || echo "$t"; done
}
exists() { [ "$(s3_count "lake/$1/_delta_log/")" -gt 0 ]; }	# no rejects, no table
heads() {	# STAGE: the newest commit of each table it writes
	local t
	for t in $(writes "$1"); do s3_keys "lake/$t/_delta_log/" | grep '\.json$' | tail -n 1; done
}
# check_written STAGE ROUND: `medallion-lake check` of each table STAGE
# writes (in parallel: each mostly waits on requests); a failure is added
# to failed_check[STAGE] as TABLE@ROUND.
check_written() {
	local t pids=() names=() k
	for t in $(writes "$1"); do
		"$lake" check "$MEDALLION_LAKE/$t" >>"$log" 2>&1 &
		pids+=($!) names+=("$t")
	done
	for k in "${!pids[@]}"; do
		wait "${pids[$k]}" || failed_check[$1]="${failed_check[$1]} ${names[$k]}@$2"
	done
}
median3() { tr ' ' '\n' <<<"$1" | grep . | tail -n 3 | sort -n | sed -n 2p; }

as_app "$app" --bulk 5000 --seed 5 --quiet 2>/dev/null
for s in $stages; do
	h_check "the base: $s on the S3 lake" run "$s"
done
present=$(for t in $tables; do exists "$t" && echo "$t"; done | paste -sd' ')

# Three uninterrupted runs of each stage on increments of a round's size.
declare -A times full_req landed attempts at failed_check failed_rerun failed_exit commits
for i in 1 2 3; do
	write_events "$i"
	for s in $stages; do
		r0=$(s3_requests)
		t0=$(now_ms)
		run "$s" || h_fail "a timed $s run"
		times[$s]="${times[$s]:-} $(( $(now_ms) - t0 + 1 ))"
		full_req[$s]=$(( $(s3_requests) - r0 ))
	done
done
for s in $stages; do
	landed[$s]=0 attempts[$s]=0 at[$s]="" failed_check[$s]="" failed_rerun[$s]=0 failed_exit[$s]="" commits[$s]=0
	h_log "$s: increments of $events events take${times[$s]} ms, ${full_req[$s]} requests"
done

# kill_run STAGE: starts it, SIGKILLs it at a random point of its span,
# and sets kind: exited (it was done), before-S3 (no request yet), or
# landed (sent: its requests so far).
kill_run() {
	local s=$1 ms pid rc r0 span
	span=$(median3 "${times[$s]}")
	ms=$(( (RANDOM * 32768 + RANDOM) % span ))
	r0=$(s3_requests)
	# shellcheck disable=SC2046
	"$b/stages/$s/$s" $(args_of "$s") 2>>"$log" &
	pid=$!
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rc=$?
	sent=$(( $(s3_requests) - r0 ))
	attempts[$s]=$(( attempts[$s] + 1 ))
	if [ "$rc" -ne 137 ]; then
		kind=exited at[$s]="${at[$s]} exited@${ms}/${span}ms"
		[ "$rc" -eq 0 ] || failed_exit[$s]="${failed_exit[$s]} $rc"
	elif [ "$sent" -eq 0 ]; then
		kind=before-S3 at[$s]="${at[$s]} before-S3@${ms}/${span}ms"
	else
		kind=landed at[$s]="${at[$s]} ${sent}@${ms}/${span}ms"
		landed[$s]=$(( landed[$s] + 1 ))
	fi
}

enough() {
	local s
	for s in $stages; do [ "${landed[$s]}" -ge "$min_landed" ] || return 1; done
}
round=0
while [ "$round" -lt "$min_rounds" ] || { ! enough && [ "$round" -lt "$max_rounds" ]; }; do
	round=$((round + 1))
	write_events $((100 + round))
	for s in $stages; do
		before=$(heads "$s") committed=0
		kill_run "$s"
		if [ "$kind" = landed ] && [ "$(heads "$s")" != "$before" ]; then
			committed=1 commits[$s]=$(( commits[$s] + 1 )) at[$s]="${at[$s]}+commit"
		fi
		# A reader straight after the kill sees whole commits only.
		check_written "$s" "$round"
		t0=$(now_ms)
		run "$s" || failed_rerun[$s]=$(( failed_rerun[$s] + 1 ))
		# A rerun after a kill before any commit did the whole increment.
		[ "$kind" = exited ] || [ "$committed" = 1 ] ||
			times[$s]="${times[$s]} $(( $(now_ms) - t0 + 1 ))"
	done
done

kills=0
for s in $stages; do
	kills=$(( kills + attempts[$s] ))
	h_log "$s: ${landed[$s]} of ${attempts[$s]} kills landed, ${commits[$s]} of them after a commit; requests sent@delay/span, of ${full_req[$s]} in a whole run:${at[$s]}"
	h_check "kill -9 landed mid-run in at least $min_landed of ${attempts[$s]} $s runs (${landed[$s]}; ${commits[$s]} after a commit)" \
		test "${landed[$s]}" -ge "$min_landed"
	h_eq "a run of $s the kill found done had succeeded" "${failed_exit[$s]}" ""
	h_eq "after each kill of $s, the tables it writes pass check" "${failed_check[$s]}" ""
	h_eq "every rerun of $s after its kill succeeds" "${failed_rerun[$s]}" 0
done

# Exactly once: bronze and silver against the source, gold against SQL.
after="after $kills kills"
same_as_source orders orderid "$after"
same_as_source ordershistory historyid "$after"
ts="'YYYY-MM-DD HH24:MI:SS.US'"
silver_sql() {
	q "SELECT h.historyid || '|' || h.status || '|' || h.orderid || '|' || o.branch || '|' ||
	     to_char(o.ordertime, $ts) || '|' || to_char(h.updatedat, $ts)
	   FROM ordershistory h JOIN orders o USING (orderid)
	   WHERE h.status IN ('NEW', 'DELIVERED')" | sort
}
silver_ours() {
	"$lake" cat --json --columns historyid,status,orderid,branch,ordertime,updatedat \
		"$MEDALLION_LAKE/silver/allorders" |
		jq -r '[.historyid, .status, .orderid, .branch, .ordertime, .updatedat] | map(tostring) | join("|")' | sort
}
silver_sql >"$H_TMP/silver.want"
silver_ours >"$H_TMP/silver.got"
h_eq "$after: silver holds every NEW and DELIVERED event of the source once ($(wc -l <"$H_TMP/silver.want") rows)" \
	"$(diff "$H_TMP/silver.got" "$H_TMP/silver.want" | grep -c '^[<>]')" 0
if exists silver/rejected; then
	h_eq "$after: nothing rejected (the app writes only valid events)" \
		"$("$lake" cat "$MEDALLION_LAKE/silver/rejected" | tail -n +2 | wc -l)" 0
fi
s3_get lake/gold/branch_metrics.json >"$H_TMP/gold.json"
h_eq "$after: gold has every branch the source has" "$(gold_ours "$H_TMP/gold.json" | wc -l)" "$(gold_sql | wc -l)"
h_eq "$after: gold equals SQL on the source" "$(gold_compare "$H_TMP/gold.json")" ""
h_eq "$after: the gold Delta table has the JSON's rows" \
	"$("$lake" cat --columns branch,orders_received,orders_delivered "$MEDALLION_LAKE/gold/branch_metrics" | tail -n +2 | tr -d '\r"' | sort)" \
	"$(gold_ours "$H_TMP/gold.json" | cut -d'|' -f1-3 | tr '|' ',' | sort)"
for t in $tables; do
	exists "$t" || continue
	h_check "medallion-lake check --deep $t" "$lake" check --deep "$MEDALLION_LAKE/$t"
done
# Every run ended with maintenance's vacuum (files in no version, of any
# age): whatever killed runs uploaded and never committed is gone, and
# every data file left is one a version adds (read from the log itself).
unnamed() {	# TABLE: its data files that no commit adds
	comm -23 <(s3_keys "lake/$1/" | grep -v '/_delta_log/' | sed "s|^lake/$1/||" | sort) \
		<(s3_keys "lake/$1/_delta_log/" | grep '\.json$' | while read -r k; do s3_get "$k"; done |
			jq -r 'select(.add) | .add.path' | sed 's/%3D/=/g' | sort -u)
}
h_eq "$after: no table holds a data file that no version adds (vacuum deleted $(
	sed -n 's/.* and \([0-9]*\) data files deleted.*/\1/p' "$log" | awk '{n += $1} END {print n + 0}') files left by kills)" \
	"$(for t in $present; do unnamed "$t" | sed "s|^|$t/|"; done)" ""
h_eq "no sanitizer report from a stage or a check" "$(grep -c 'Sanitizer\|runtime error' "$log")" 0
h_log "$round rounds; $(grep -o 'S3: [0-9]* requests ([0-9]* retried)' "$log" | awk '{n++; r += $2; x += substr($4, 2)} END {print n " stage runs that ended, " r " requests, " x " retried"}')"
h_done
