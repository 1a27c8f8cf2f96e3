#!/bin/bash
# crash.sh - kill -9 a lake writer at random moments (while it writes
# data files, closes them, or commits) and check after every kill that
# readers see whole batches only: the table passes `check`, its row count
# is a multiple of the batch size, and rerunning the batch (idempotent by
# its txn) completes it exactly once. vacuum then removes the leftovers.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

lake=$MEDALLION_BUILD_DIR/stages/lake/medallion-lake
writer=$MEDALLION_BUILD_DIR/tests/delta/test_delta
t=$H_TMP/table
rows=1000000
batches=6
torn=0 kills=0

rows_now() { "$writer" rows "$t"; }
has_commit() { compgen -G "$t/_delta_log/*.json" >/dev/null; }

# How long one uninterrupted batch takes, so kills land all through it.
# Each batch's completing run measures it again: the delays follow the
# machine's load instead of one early probe.
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 + 1 )); }
start=$(date +%s%N)
"$writer" append "$H_TMP/probe" 1 $rows
span_ms=$(ms_since "$start")
h_log "one batch takes $span_ms ms"

# Up to five kills per batch must land while the writer runs: a kill
# that finds it already exited does not count, and the batch tries again
# (at most 12 attempts), with delays within 90% of the measured span.
# Once an attempt got as far as its commit, the batch is done (a rerun
# is a no-op by its txn) and the next batch starts.
for b in $(seq 1 $batches); do
	landed=0 attempt=0
	while [ $landed -lt 5 ] && [ $attempt -lt 12 ]; do
		attempt=$((attempt + 1))
		"$writer" append "$t" "$b" $rows &
		pid=$!
		ms=$((RANDOM % (span_ms * 9 / 10 + 1)))
		sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
		kill -9 $pid 2>/dev/null
		# 137: SIGKILL ended it; anything else: it had already exited.
		wait $pid 2>/dev/null
		[ $? -eq 137 ] && landed=$((landed + 1))
		n=$(rows_now)
		if [ $((n % rows)) -ne 0 ]; then torn=$((torn + 1)); fi
		if has_commit && ! "$lake" check "$t" >/dev/null 2>&1; then
			torn=$((torn + 1))
		fi
		[ "$n" -ge $((rows * b)) ] && break
	done
	h_log "batch $b: $landed of $attempt kills landed (span $span_ms ms)"
	kills=$((kills + landed))
	committed=$(rows_now)
	start=$(date +%s%N)
	h_check "batch $b completes (kill -9 landed mid-run $kills times so far)" "$writer" append "$t" "$b" $rows
	# Only a run that wrote the batch measures it.
	[ "$committed" -lt $((rows * b)) ] && span_ms=$(ms_since "$start")
done
h_check "kill -9 landed mid-run at least 15 times ($kills)" test "$kills" -ge 15
h_eq "no reader ever saw a partial batch" "$torn" 0
h_eq "every batch exactly once" "$(rows_now)" $((rows * batches))
h_eq "the txn records the last batch" "$("$lake" log --json "$t" | jq -r 'select(.txn) | .txn.version' | tail -1)" $batches
files=$("$lake" ls --json "$t" | jq -r --arg t "$t" '"\u0027" + $t + "/" + .path + "\u0027"' | paste -sd, -)
h_eq "DuckDB agrees: every id once" \
	"$(h_duckdb "SELECT count(*) AS n, count(DISTINCT id) AS d FROM read_parquet([$files])")" \
	"{\"n\":\"$((rows * batches))\",\"d\":\"$((rows * batches))\"}"
leftovers=$(find "$t" -name '*.parquet' | wc -l)
live=$("$lake" ls --json "$t" | wc -l)
h_log "$kills kills left $((leftovers - live)) orphan files"
"$lake" vacuum --retain 0s "$t" > "$H_TMP/vacuum.out"
h_eq "vacuum removes exactly the orphans" "$(grep -c '^removed .*\.parquet$' "$H_TMP/vacuum.out")" $((leftovers - live))
h_eq "only live files remain" "$(find "$t" -name '*.parquet' | wc -l)" "$live"
h_check "the table still checks out" "$lake" check "$t"
h_done
