#!/bin/bash
# maintenance.sh - compaction and the maintenance stage on a lake written
# by many small increments of the real pipeline against PostgreSQL:
#  - bronze and silver compacted (medallion-lake optimize) between
#    increments: silver and gold still equal SQL on the source, and no
#    event is in silver twice (incremental readers skip dataChange:false);
#  - maintenance after each run keeps the files per partition bounded and
#    every table's rows as they were;
#  - a table from before checkpoints gets one on the first run;
#  - a no-op run is cheap (its time is printed);
#  - vacuum keeps every file a retained version names, and removes the
#    compacted-away files once log cleanup has dropped those versions;
#  - kill -9 of maintenance at random points, then a rerun: every table
#    reads the same rows, and further increments still match SQL.
. "${MEDALLION_SOURCE_DIR:?run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/gold.sh"

b=$MEDALLION_BUILD_DIR
app=$b/retailapp/medallion-retailapp
lake=$b/stages/lake/medallion-lake
maint=$b/stages/maintenance/maintenance
export MEDALLION_LAKE=$H_TMP/lake
tables="bronze/orders bronze/ordershistory silver/allorders silver/rejected gold/branch_state gold/branch_metrics"
pg_start
q() { pg_psql_admin -Atc "$1"; }
as_app() { (eval "$(pg_env_app)"; "$@"); }
stages() {
	(eval "$(pg_env_pipeline)"; "$b/stages/ingestion/ingestion") &&
	"$b/stages/transformation/transformation" && "$b/stages/serving/serving"
}
increment() {	# SEED: a few dozen new events, then the three stages
	as_app "$app" --seed "$1" --events 40 --quiet 2>/dev/null && stages 2>>"$H_TMP/stages.log"
}
gold_matches() { [ -z "$(gold_compare "$MEDALLION_LAKE/gold/branch_metrics.json")" ]; }
silver_once() {	# every event at most once in silver, and as many as SQL says
	local ours dups
	ours=$("$lake" cat --json --columns historyid "$MEDALLION_LAKE/silver/allorders" | jq -r .historyid | sort)
	dups=$(printf '%s\n' "$ours" | uniq -d | wc -l)
	[ "$dups" = 0 ] && [ "$(printf '%s\n' "$ours" | wc -l)" = "$(q "SELECT count(*) FROM ordershistory WHERE status IN ('NEW', 'DELIVERED')")" ]
}
rows_of() {	# LAKE: every table's rows, sorted, as one digest per table
	local t
	for t in $tables; do
		printf '%s ' "$t"
		"$lake" cat "$1/$t" 2>/dev/null | tail -n +2 | sort | md5sum
	done
}
max_files_per_partition() {	# TABLE
	"$lake" ls --json "$MEDALLION_LAKE/$1" | jq -r '.path | split("/") | if length > 1 then .[0] else "-" end' |
		sort | uniq -c | sort -rn | head -1 | awk '{print $1 + 0}'
}

as_app "$app" --bulk 3000 --seed 5 --quiet 2>/dev/null
h_check "the base load runs" stages

# Increments with compactions between them: bronze and silver are
# rewritten under the stages' bookmarks, which must not see those rows
# again.
ok=1
for i in $(seq 1 24); do
	increment $((100 + i)) || ok=0
	if [ $((i % 6)) = 0 ]; then
		for t in bronze/orders bronze/ordershistory silver/allorders silver/rejected; do
			[ -d "$MEDALLION_LAKE/$t/_delta_log" ] || continue	# no rejects yet
			"$lake" optimize --target-size 4MiB "$MEDALLION_LAKE/$t" >>"$H_TMP/optimize.log" 2>&1 || ok=0
		done
	fi
done
h_eq "24 increments with bronze and silver compacted every 6th" "$ok" 1
h_match "... the compactions committed" "$("$lake" log "$MEDALLION_LAKE/silver/allorders" | grep -c OPTIMIZE)" '^[1-9]'
h_check "silver has every event SQL has, once, after compactions" silver_once
h_check "gold equals SQL on the source after compactions" gold_matches
h_eq "a compaction commit says dataChange false" \
	"$(grep -h '"add"' "$(grep -l OPTIMIZE "$MEDALLION_LAKE"/silver/allorders/_delta_log/*.json | tail -1)" | jq -r .add.dataChange | sort -u)" false

# An event whose order has not arrived waits (transformation re-reads it
# from the bronze commit that added it); compacting that file away must
# neither lose it nor make it join twice.
q "ALTER TABLE ordershistory DROP CONSTRAINT ordershistory_orderid_fkey;
   ALTER TABLE ordershistory DISABLE TRIGGER ordershistory_advance" >/dev/null
day=$(q "SELECT max(updatedat)::date FROM ordershistory")
q "INSERT INTO ordershistory (orderid, status, updatedat) VALUES (900006, 'NEW', '$day 10:00')" >/dev/null
stages 2>>"$H_TMP/stages.log"
q "INSERT INTO ordershistory (orderid, status, updatedat) VALUES (900007, 'NEW', '$day 11:00')" >/dev/null
stages 2>>"$H_TMP/stages.log"
waiting=$(jq -r 'select(.commitInfo) | .commitInfo.operationMetrics.numWaitingForOrder' "$(ls "$MEDALLION_LAKE"/silver/allorders/_delta_log/*.json | tail -1)")
"$lake" optimize --where "date = $day" "$MEDALLION_LAKE/bronze/ordershistory" >"$H_TMP/optimize.out" 2>&1
h_match "the waiting events' bronze files are compacted away (2 waiting)" "$waiting $(cat "$H_TMP/optimize.out")" '^2 .*compacted into 1'
# (Delivered too: gold.sh's tolerance check fails a branch without
# deliveries, whose averages are -1.)
q "INSERT INTO orders (orderid, ordertime, branch) VALUES (900006, '$day 09:00', 'Testbranch'), (900007, '$day 09:00', 'Testbranch');
   INSERT INTO ordershistory (orderid, status, updatedat) VALUES (900006, 'DELIVERED', '$day 12:00'), (900007, 'DELIVERED', '$day 13:00');
   ALTER TABLE ordershistory ENABLE TRIGGER ordershistory_advance" >/dev/null
increment 150
h_eq "... and they join once their orders arrive, each once" \
	"$("$lake" cat --json --columns orderid,status "$MEDALLION_LAKE/silver/allorders" | jq -r 'select(.orderid >= 900006) | "\(.orderid) \(.status)"' | sort | paste -sd' ')" "900006 DELIVERED 900006 NEW 900007 DELIVERED 900007 NEW"
h_check "... silver still has every event SQL has, once" silver_once
h_check "... and gold equals SQL" gold_matches

# A transformation increment on a lake of many small files, then on the
# same lake compacted (figures only).
time_transformation() {
	local start
	as_app "$app" --seed "$1" --events 40 --quiet 2>/dev/null
	(eval "$(pg_env_pipeline)"; "$b/stages/ingestion/ingestion" 2>/dev/null)
	start=$(date +%s%N)
	"$b/stages/transformation/transformation" 2>/dev/null
	echo $(( ($(date +%s%N) - start) / 1000000 ))
}
for i in $(seq 1 40); do increment $((200 + i)) >/dev/null; done
files_before=$("$lake" ls --json "$MEDALLION_LAKE/bronze/ordershistory" | wc -l)
before_ms=$(time_transformation 300)
"$b/stages/serving/serving" 2>/dev/null

# Kept for the kill -9 rounds below: many small files, and no
# checkpoints (as a lake from before them), so everything is due.
cp -r "$MEDALLION_LAKE" "$H_TMP/reference"
for t in $tables; do
	rm -f "$H_TMP/reference/$t"/_delta_log/*.checkpoint.parquet "$H_TMP/reference/$t/_delta_log/_last_checkpoint"
done

# Maintenance over that lake: the same rows, fewer files. (Events span
# many days, so each date partition of bronze holds only a few files.)
rows_before=$(rows_of "$MEDALLION_LAKE")
"$maint" --compact-min-files 2 --vacuum-every 0 2>"$H_TMP/maint.err"
h_eq "maintenance over a lake of small increments succeeds" "$?" 0
h_eq "... every table has the same rows" "$(rows_of "$MEDALLION_LAKE")" "$rows_before"
files_after=$("$lake" ls --json "$MEDALLION_LAKE/bronze/ordershistory" | wc -l)
after_ms=$(time_transformation 301)
"$b/stages/serving/serving" 2>/dev/null
h_log "bronze/ordershistory: $files_before files before maintenance, $files_after after; a transformation increment took $before_ms ms before, $after_ms ms after"
h_check "... and fewer files ($files_before -> $files_after)" test "$files_after" -lt "$files_before"
bad=""
for t in $tables; do
	[ -d "$MEDALLION_LAKE/$t/_delta_log" ] || continue
	"$lake" check "$MEDALLION_LAKE/$t" >/dev/null 2>&1 || bad="$bad $t"
done
h_eq "... every table passes check" "$bad" ""

# Maintenance after every run: files per partition stay bounded.
for i in $(seq 1 30); do
	increment $((400 + i)) && "$maint" --compact-min-files 2 2>>"$H_TMP/maint.err" || h_fail "increment $i and maintenance"
done
worst=0
for t in bronze/orders bronze/ordershistory silver/allorders silver/rejected; do
	n=$(max_files_per_partition "$t")
	[ "${n:-0}" -gt "$worst" ] && worst=$n
done
h_log "most files in one partition after 30 runs with maintenance: $worst"
h_check "maintenance after each run keeps at most 2x --compact-min-files files per partition ($worst)" test "$worst" -le 4
h_check "silver has every event SQL has, once, with maintenance" silver_once
h_check "gold equals SQL on the source with maintenance" gold_matches

# A no-op run: nothing due.
"$maint" 2>/dev/null
start=$(date +%s%N)
for i in 1 2 3 4 5; do "$maint" 2>"$H_TMP/noop.err"; done
noop_ms=$(( ($(date +%s%N) - start) / 5000000 ))
h_log "a no-op maintenance run takes $noop_ms ms (whole process; its own count: $(grep -o 'in [0-9.]* ms' "$H_TMP/noop.err"))"
h_match "... and says nothing was due" "$(cat "$H_TMP/noop.err")" '0 checkpoints, 0 compactions .* 0 vacuums'
h_match "... having loaded no snapshot (its time depends on the machine's load; this does not)" \
	"$(cat "$H_TMP/noop.err")" '\(0 snapshots read\)'

# A table from before checkpoints: its checkpoints and hint removed.
hist=$MEDALLION_LAKE/bronze/ordershistory
rm -f "$hist"/_delta_log/*.checkpoint.parquet "$hist/_delta_log/_last_checkpoint"
latest=$("$lake" log --json "$hist" | tail -1 | jq -r .version)
"$maint" 2>/dev/null
h_eq "a table without checkpoints gets one at its newest version on the first run" \
	"$(ls "$hist"/_delta_log/*.checkpoint.parquet 2>/dev/null | xargs -n1 basename)" "$(printf '%020d.checkpoint.parquet' "$latest")"
h_eq "... and _last_checkpoint points at it" "$(jq -r .version "$hist/_delta_log/_last_checkpoint")" "$latest"

# Vacuum: aged files a retained version names stay; once log cleanup has
# dropped those versions, the compacted-away files go.
find "$MEDALLION_LAKE" -name '*.parquet' -not -path '*/_delta_log/*' -exec touch -d '10 days ago' {} +
first_version=$("$lake" log --json "$hist" | head -1 | jq -r .version)
rows_before=$(rows_of "$MEDALLION_LAKE")
"$maint" --vacuum-every 0 2>"$H_TMP/vacuum.err"
h_eq "vacuum of files 10 days old succeeds" "$?" 0
h_check "... time travel to the oldest retained version still reads" "$lake" cat --version "$first_version" "$hist"
h_eq "... every table has the same rows" "$(rows_of "$MEDALLION_LAKE")" "$rows_before"
on_disk=$(find "$hist" -name '*.parquet' -not -path '*/_delta_log/*' | wc -l)
live=$("$lake" ls --json "$hist" | wc -l)
h_check "... the compacted-away files are kept for the retained versions ($on_disk on disk, $live live)" test "$on_disk" -gt "$live"
# The stages read what that run committed (it may have compacted a day
# that closed) before the log ages: on a lake 40 days old every reader
# has long read the commits that expire.
h_check "an increment after that vacuum runs" increment 499
rows_before=$(rows_of "$MEDALLION_LAKE")
find "$MEDALLION_LAKE" -path '*/_delta_log/*' -exec touch -d '40 days ago' {} +
# (no compaction in this run: the files it would replace stay named by
# the versions after it, which the check below does not expect)
"$maint" --vacuum-every 0 --compact-min-files 0 2>"$H_TMP/vacuum.err"
h_eq "log cleanup and vacuum after the log expired succeed" "$?" 0
h_match "... deleting expired log files and unreferenced data files" "$(cat "$H_TMP/vacuum.err")" 'vacuums \([1-9][0-9]* log and [1-9][0-9]* data files deleted\)'
h_eq "... every table has the same rows" "$(rows_of "$MEDALLION_LAKE")" "$rows_before"
h_eq "... bronze/ordershistory keeps just its live files" \
	"$(find "$hist" -name '*.parquet' -not -path '*/_delta_log/*' | wc -l)" "$("$lake" ls --json "$hist" | wc -l)"
h_check "the next increment still runs" increment 500
h_check "... and gold equals SQL" gold_matches

# kill -9 of maintenance at random points of a run with everything due
# (the lake kept above: small files, no checkpoints, vacuum due). A rerun
# finishes the work; every table reads the same rows each time.
want=$(rows_of "$H_TMP/reference")
span_ms=	# the shortest of three runs: fsync times vary a lot
for i in 1 2 3; do
	rm -rf "$H_TMP/timed"
	cp -r "$H_TMP/reference" "$H_TMP/timed"
	start=$(date +%s%N)
	"$maint" --lake "$H_TMP/timed" --compact-min-files 1 2>/dev/null
	ms=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
	[ -z "$span_ms" ] || [ "$ms" -lt "$span_ms" ] && span_ms=$ms
done
landed=0 same=0
for i in $(seq 1 10); do
	rm -rf "$H_TMP/k"
	cp -r "$H_TMP/reference" "$H_TMP/k"
	"$maint" --lake "$H_TMP/k" --compact-min-files 1 2>/dev/null &
	pid=$!
	# In the first half: runs vary with the machine's load, and a kill
	# after the run ended tests nothing (landed counts those that hit).
	ms=$((RANDOM % (span_ms / 2 + 1)))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid"
	[ $? -eq 137 ] && landed=$((landed + 1))
	[ "$(rows_of "$H_TMP/k")" = "$want" ] &&
		"$maint" --lake "$H_TMP/k" --compact-min-files 1 2>/dev/null &&
		[ "$(rows_of "$H_TMP/k")" = "$want" ] &&
		"$lake" check "$H_TMP/k/silver/allorders" >/dev/null 2>&1 &&
		same=$((same + 1))
done
h_log "one maintenance run with everything due takes $span_ms ms; kill -9 landed mid-run $landed times of 10"
h_check "kill -9 landed in the middle of at least 4 of 10 runs ($landed)" test "$landed" -ge 4
h_eq "after each kill every table reads the same rows, before and after a rerun" "$same" 10
# The last killed-and-rerun lake carries on: increments still match SQL.
export MEDALLION_LAKE=$H_TMP/k
ok=1
for i in $(seq 1 5); do increment $((700 + i)) && "$maint" --compact-min-files 2 2>/dev/null || ok=0; done
h_eq "increments after the kills run" "$ok" 1
h_check "... silver has every event once" silver_once
h_check "... and gold equals SQL" gold_matches

out=$("$maint" --compact-min-files lots 2>&1); rc=$?
h_eq "a bad option is a usage error" "$rc" 2
h_match "... naming it" "$out" 'compact-min-files wants a count'
out=$(env -u MEDALLION_LAKE "$maint" 2>&1); rc=$?
h_eq "no lake is a usage error" "$rc" 2
h_done
