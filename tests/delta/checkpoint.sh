#!/bin/bash
# checkpoint.sh - our Delta checkpoints seen from outside: DuckDB reads a
# checkpoint we wrote and finds the same add paths as our reader; Spark's
# golden checkpoints still read the same as their JSON commits, and so do
# ours written over them; and kill -9 of a writer while it writes
# checkpoints (the real process, not a wrapper) leaves a table that reads
# the same as a JSON replay, with every named checkpoint whole.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

lake=$MEDALLION_BUILD_DIR/stages/lake/medallion-lake
helper=$MEDALLION_BUILD_DIR/tests/delta/test_checkpoint
golden=${MEDALLION_GOLDEN:-$MEDALLION_SOURCE_DIR/../shared/testdata/delta-golden}

# --- DuckDB reads our checkpoint -----------------------------------------
t=$H_TMP/special
"$helper" make "$t"
ck=$t/_delta_log/00000000000000000020.checkpoint.parquet
h_check "version 20 has a checkpoint" test -s "$ck"
"$helper" paths "$t" | sort > "$H_TMP/ours.txt"
h_duckdb "SELECT add.path AS p FROM read_parquet('$ck') WHERE add IS NOT NULL" |
	jq -r .p | sort > "$H_TMP/duck.txt"
h_eq "DuckDB finds the add paths our reader has" "$(cat "$H_TMP/duck.txt")" "$(cat "$H_TMP/ours.txt")"
h_eq "and as many" "$(wc -l < "$H_TMP/duck.txt")" 22
h_eq "DuckDB sees protocol, metaData, 3 txns, 18 tombstones" \
	"$(h_duckdb "SELECT count(protocol) AS p, count(metaData) AS m, count(txn) AS t, count(remove) AS r FROM read_parquet('$ck')")" \
	'{"p":"1","m":"1","t":"3","r":"18"}'
h_eq "DuckDB reads the partition values map (null and empty labels)" \
	"$(h_duckdb "SELECT count(*) AS n FROM read_parquet('$ck') WHERE add IS NOT NULL AND (add.partitionValues['label'] IS NULL OR add.partitionValues['label'] = '')")" \
	'{"n":"8"}'
h_eq "DuckDB reads the table properties" \
	"$(h_duckdb "SELECT metaData.configuration['delta.checkpointInterval'] AS i FROM read_parquet('$ck') WHERE metaData IS NOT NULL")" \
	'{"i":"10"}'

# --- Spark's golden checkpoints, and ours over them ----------------------
# Files as a JSON replay sees them (path, size, partition values).
files_of() { "$lake" ls --json "$1" | jq -c '{path, size, partitionValues}' | sort; }
json_only() {
	mkdir -p "$2/_delta_log"
	cp "$1"/_delta_log/*.json "$2/_delta_log/"
}
for name in checkpoint basic-with-inserts-deletes-checkpoint; do
	if [ ! -d "$golden/$name" ]; then
		h_fail "golden table $name is missing under $golden"
		continue
	fi
	g=$H_TMP/golden-$name
	cp -r "$golden/$name" "$g"
	json_only "$g" "$g-json"
	want=$(files_of "$g-json")
	h_eq "$name: Spark's checkpoint reads as its commits" "$(files_of "$g")" "$want"
	latest=$(ls "$g/_delta_log" | grep -c '\.json$')
	latest=$((latest - 1))
	h_check "$name: we write a checkpoint of version $latest" "$helper" checkpoint "$g" "$latest"
	h_check "$name: it exists" test -s "$(printf '%s/_delta_log/%020d.checkpoint.parquet' "$g" "$latest")"
	h_eq "$name: ours reads as the commits too" "$(files_of "$g")" "$want"
	h_check "$name: every checkpoint reads whole" "$helper" verify "$g"
done

# --- kill -9 while checkpoints are written -------------------------------
t=$H_TMP/churn
files=20000
"$helper" churn "$t" $files 0
start=$(date +%s%N)
"$helper" churn "$H_TMP/probe" $files 3
span_ms=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
h_log "3 commits with a $files-file checkpoint each take $span_ms ms"

# Odd rounds kill at a random point of the span; even rounds as soon as a
# checkpoint's temp file appears, so kills land inside checkpoint writing
# however small its share of the span is on this machine.
checkpoint_started() { compgen -G "$t/_delta_log/.tmp-*.checkpoint.parquet" >/dev/null; }
# Whether pid still runs (a zombie, exited but not yet waited for, does not).
running() {
	local _pid _comm state
	read -r _pid _comm state _ < "/proc/$1/stat" 2>/dev/null && [ "$state" != Z ]
}
rounds=12 landed=0 torn=0 mid_checkpoint=0
for round in $(seq 1 $rounds); do
	rm -f "$t"/_delta_log/.tmp-*	# earlier rounds' leftovers
	# A simple command in the background: $! is the writer itself.
	"$helper" churn "$t" $files 3 &
	pid=$!
	if [ $((round % 2)) -eq 0 ]; then
		# A tight poll on a builtin (a checkpoint takes milliseconds),
		# bounded by the writer's own end and 30 s.
		deadline=$((SECONDS + 30))
		while ! checkpoint_started && running "$pid" &&
		    [ $SECONDS -lt $deadline ]; do :; done
	else
		ms=$((RANDOM % span_ms))
		sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	fi
	if kill -9 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null
		if [ $? -eq 137 ]; then landed=$((landed + 1)); fi
	else
		wait "$pid" 2>/dev/null
	fi
	if compgen -G "$t/_delta_log/.tmp-*.checkpoint.parquet" >/dev/null; then
		mid_checkpoint=$((mid_checkpoint + 1))
	fi
	"$helper" same "$t" >/dev/null 2>&1 || torn=$((torn + 1))
	"$helper" verify "$t" >/dev/null 2>&1 || torn=$((torn + 1))
done
h_log "$landed of $rounds kills landed in a running writer, $mid_checkpoint left a partial checkpoint behind"
h_check "at least half the kills landed mid-run ($landed of $rounds)" test "$landed" -ge $((rounds / 2))
h_check "some kills landed while a checkpoint was being written ($mid_checkpoint)" test "$mid_checkpoint" -ge 1
h_eq "after every kill the table read as its JSON replay, every checkpoint whole" "$torn" 0
h_check "a rerun completes" "$helper" churn "$t" $files 2
h_check "and reads the same" "$helper" same "$t"
h_check "partial checkpoints stay invisible: every named one is whole" "$helper" verify "$t"
"$lake" vacuum --retain 0s "$t" > /dev/null 2>&1
h_eq "vacuum sweeps the partial checkpoints" \
	"$(compgen -G "$t/_delta_log/.tmp-*" | wc -l)" 0
h_done
