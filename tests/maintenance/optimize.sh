#!/bin/bash
# optimize.sh - medallion-lake optimize as a process, against a table of
# many small files (test_optimize make):
#  - kill -9 of the real process at random points of its run: the table
#    reads the same rows after each kill, check finds no problem, a rerun
#    compacts, and vacuum removes what no version names and keeps the
#    inputs retained versions still name;
#  - appends racing a compaction all land, the compaction too;
#  - two compactions started together: each ends 0 or 4 (gave up), rows
#    once;
#  - DuckDB reads the compacted files and finds the same rows.
. "${MEDALLION_SOURCE_DIR:?run the test with meson test}/tests/lib/harness.sh"

b=$MEDALLION_BUILD_DIR
lake=$b/stages/lake/medallion-lake
tool=$b/tests/maintenance/test_optimize
ref=$H_TMP/ref

"$tool" make "$ref" 300 40 || { echo "Bail out! cannot make the table"; exit 1; }
want=$("$tool" rows "$ref")
files_before=$("$lake" ls --json "$ref" | wc -l)
h_log "table of $files_before files, rows (count sum sorted): $want"

# The span of one uninterrupted run, for where the kills land.
cp -r "$ref" "$H_TMP/timed"
start=$(date +%s%N)
"$lake" optimize "$H_TMP/timed" >/dev/null
span_ms=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
h_eq "one run compacts to a file per partition" "$("$lake" ls --json "$H_TMP/timed" | wc -l)" 2
h_eq "... with the same rows, each file in order" "$("$tool" rows "$H_TMP/timed")" "$want"

# named_on_disk TABLE: every data file on disk is named by a commit of
# the log (vacuum removed what a killed compaction left unnamed, and kept
# the compacted-away inputs that retained versions still name), and the
# live ones are all there.
named_on_disk() {
	local named disk live
	named=$(cat "$1"/_delta_log/*.json | jq -r 'select(.add) | .add.path' | sort -u)
	disk=$(cd "$1" && find . -name '*.parquet' -not -path './_delta_log/*' | sed 's|^\./||' | sort)
	live=$("$lake" ls --json "$1" | jq -r .path | sort)
	[ -z "$(comm -23 <(echo "$disk") <(echo "$named"))" ] &&
	    [ -z "$(comm -13 <(echo "$disk") <(echo "$live"))" ]
}

# kill -9 at a random point of the run (the process itself: $! of a
# simple command is the program, exec'd by bash's fork). A kill landed
# when wait reports SIGKILL (137), not a normal exit.
landed=0 same=0 clean=0
for i in $(seq 1 12); do
	rm -rf "$H_TMP/t"
	cp -r "$ref" "$H_TMP/t"
	"$lake" optimize "$H_TMP/t" >/dev/null 2>&1 &
	pid=$!
	ms=$((RANDOM % (span_ms * 4 / 5 + 1)))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid"
	[ $? -eq 137 ] && landed=$((landed + 1))
	if [ "$("$tool" rows "$H_TMP/t")" = "$want" ] &&
	    "$lake" check "$H_TMP/t" >/dev/null 2>&1 &&
	    "$lake" optimize "$H_TMP/t" >/dev/null 2>&1 &&
	    [ "$("$tool" rows "$H_TMP/t")" = "$want" ] &&
	    [ "$("$lake" ls --json "$H_TMP/t" | wc -l)" = 2 ]; then
		same=$((same + 1))
	fi
	"$lake" vacuum --retain 0s "$H_TMP/t" >/dev/null 2>&1 &&
		named_on_disk "$H_TMP/t" && [ "$("$tool" rows "$H_TMP/t")" = "$want" ] &&
		clean=$((clean + 1))
done
h_log "one optimize run takes $span_ms ms; kill -9 landed mid-run $landed times of 12"
h_check "kills landed mid-run ($landed of 12, at least 4)" test "$landed" -ge 4
h_eq "after each kill the table reads the same rows, and a rerun compacts them" "$same" 12
h_eq "... and vacuum removes what no version names, keeps what one does, same rows" "$clean" 12

# Appends racing a compaction: the appends never conflict with it (it
# retries on top of them), and every row lands once.
ok=0 on_top=0
for round in 1 2 3; do
	rm -rf "$H_TMP/race"
	"$tool" make "$H_TMP/race" 200 20 >/dev/null
	"$lake" optimize "$H_TMP/race" >"$H_TMP/race.out" 2>&1 &
	opt=$!
	appended=0
	for k in $(seq 1 15); do "$tool" append "$H_TMP/race" 20 && appended=$((appended + 1)); done
	wait "$opt"; rc=$?
	rows=$("$tool" rows "$H_TMP/race" | cut -d' ' -f1)
	ops=$("$lake" log --json "$H_TMP/race" | jq -r .operation | grep -c OPTIMIZE)
	[ "$("$lake" log --json "$H_TMP/race" | jq -r 'select(.operation == "OPTIMIZE") | .version')" -gt 200 ] &&
		on_top=$((on_top + 1))
	if [ "$rc" = 0 ] && [ "$appended" = 15 ] && [ "$rows" = $((4000 + 15 * 20)) ] && [ "$ops" = 1 ] &&
	    "$lake" check "$H_TMP/race" >/dev/null 2>&1; then
		ok=$((ok + 1))
	else
		h_log "round $round: optimize $rc, $appended appends, $rows rows, $ops compactions: $(cat "$H_TMP/race.out")"
	fi
done
h_log "the compaction committed after some of the appends (on top of them) in $on_top of 3 rounds"
h_eq "appends racing a compaction all land, and so does the compaction (3 rounds)" "$ok" 3

# Two compactions of the same files at once: one wins; the other gave
# up (4) or found nothing left to do (0).
ok=0 gave_up=0
for round in $(seq 1 5); do
	rm -rf "$H_TMP/two"
	cp -r "$ref" "$H_TMP/two"
	"$lake" optimize "$H_TMP/two" >"$H_TMP/one.out" 2>&1 &
	p1=$!
	"$lake" optimize "$H_TMP/two" >"$H_TMP/two.out" 2>&1 &
	p2=$!
	wait "$p1"; r1=$?
	wait "$p2"; r2=$?
	[ "$r1" = 4 ] || [ "$r2" = 4 ] && gave_up=$((gave_up + 1))
	ops=$("$lake" log --json "$H_TMP/two" | jq -r .operation | grep -c OPTIMIZE)
	if [[ "$r1$r2" =~ ^(00|04|40)$ ]] && [ "$ops" = 1 ] &&
	    [ "$("$tool" rows "$H_TMP/two")" = "$want" ] &&
	    "$lake" check "$H_TMP/two" >/dev/null 2>&1; then
		ok=$((ok + 1))
	else
		h_log "round $round: exits $r1 $r2, $ops compactions"
	fi
done
h_log "two compactions at once: the second gave up in $gave_up of 5 rounds"
h_eq "two compactions at once: one commits, the other gives up or has nothing to do" "$ok" 5
grep -h 'gave up' "$H_TMP/one.out" "$H_TMP/two.out" >/dev/null 2>&1 || [ "$gave_up" = 0 ] ||
	h_fail "the one that gave up says so"

# Another engine reads the compacted files.
paths=$("$lake" ls --json "$H_TMP/timed" | jq -r --arg t "$H_TMP/timed" '"\u0027" + $t + "/" + .path + "\u0027"' | paste -sd, -)
h_eq "DuckDB reads the compacted files: same count and sum" \
	"$(h_duckdb "SELECT count(*) AS n, sum(id) AS s FROM read_parquet([$paths], hive_partitioning=false)" | jq -r '"\(.n) \(.s)"')" \
	"$(echo "$want" | cut -d' ' -f1,2)"

out=$("$lake" optimize --where 'branch = x' "$H_TMP/timed" 2>&1); rc=$?
h_eq "--where on a data column is a failure" "$rc" 1
h_match "... saying which columns it may name" "$out" 'partition columns'
h_done
