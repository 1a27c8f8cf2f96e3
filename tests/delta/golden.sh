#!/bin/bash
# golden.sh - Delta tables written by Apache Spark (shared/testdata/
# delta-golden): our snapshot of each table must list exactly the live
# files that an independent replay of its log (jq, and DuckDB for
# checkpoints) lists, at the newest and at older versions; our Parquet
# reader must return, for every live file, the values DuckDB reads from
# the same file; and the broken tables must fail with a clear message.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

lake=$MEDALLION_BUILD_DIR/stages/lake/medallion-lake
golden=$MEDALLION_SOURCE_DIR/../shared/testdata/delta-golden
[ -d "$golden" ] || h_skip "no golden tables at $golden (Spark-written test data, in ../shared beside the checkout)"

# replay TABLE VERSION: live paths (still %-escaped) by a jq/awk replay,
# starting from the newest checkpoint at or below VERSION.
replay() {
	local t=$1 v=$2 cp=-1 f n
	for f in "$t"/_delta_log/*.checkpoint.parquet; do
		[ -e "$f" ] || continue
		n=$((10#$(basename "$f" .checkpoint.parquet)))
		[ "$n" -le "$v" ] && [ "$n" -gt "$cp" ] && cp=$n
	done
	{
		if [ "$cp" -ge 0 ]; then
			h_duckdb "SELECT add.path AS p FROM read_parquet('$(printf '%s/_delta_log/%020d.checkpoint.parquet' "$t" "$cp")') WHERE add IS NOT NULL" |
				jq -r '"A " + .p'
		fi
		for ((n = cp + 1; n <= v; n++)); do
			jq -r 'if .add then "A " + .add.path elif .remove then "R " + .remove.path else empty end' \
				"$(printf '%s/_delta_log/%020d.json' "$t" "$n")"
		done
	} | perl -pe 's/%([0-9A-Fa-f]{2})/chr(hex($1))/ge' |
		awk '$1 == "A" { live[substr($0, 3)] = 1 } $1 == "R" { delete live[substr($0, 3)] }
		END { for (p in live) print p }' | sort
}

ours() {	# TABLE VERSION: our live paths
	"$lake" ls --json --version "$2" "$1" | jq -r .path | sort
}

# compare_file FILE: our values against DuckDB's, flat columns only.
compare_file() {
	local f=$1 names cols sel psel
	names=$("$lake" schema --json "$f" | jq -r 'select(.type != "binary") | .name')
	h_duckdb "DESCRIBE SELECT * FROM read_parquet('$f', hive_partitioning=false)" > "$H_TMP/describe"
	psel=$(jq -rs --arg names "$names" '($names | split("\n")) as $n
			| map(select(.column_name as $c | $n | index($c)))
			| map("\"" + .column_name + "\"" + (if (.column_type | test("TIME ZONE")) then "::TIMESTAMP" else "" end)
				+ "::TEXT AS \"" + .column_name + "\"") | join(",")' "$H_TMP/describe")
	cols=$(cat "$H_TMP/describe" |
		jq -rs --arg names "$names" '($names | split("\n")) as $n
			| map(select(.column_name as $c | $n | index($c)))
			| map("'"'"'" + .column_name + "'"'"':'"'"'" + (.column_type | sub(" WITH TIME ZONE"; "")) + "'"'"'")
			| "{" + join(",") + "}"')
	sel=$(printf '%s\n' "$names" | sed 's/.*/"&"::TEXT AS "&"/' | paste -sd, -)
	"$lake" cat --columns "$(printf '%s\n' "$names" | paste -sd, -)" "$f" > "$H_TMP/ours.csv" || return 1
	h_duckdb "SET TimeZone='UTC';
		WITH p AS (SELECT $psel FROM read_parquet('$f', hive_partitioning=false)),
		c AS (SELECT $sel FROM read_csv('$H_TMP/ours.csv', header=true, allow_quoted_nulls=false, columns=$cols))
		SELECT (SELECT count(*) FROM (FROM p EXCEPT ALL FROM c)) + (SELECT count(*) FROM (FROM c EXCEPT ALL FROM p)) AS diff" | jq -r .diff
}

for t in "$golden"/*/; do
	t=${t%/}
	name=$(basename "$t")
	case $name in
	versions-not-contiguous|deltalog-invalid-protocol-version|no-delta-log-folder) continue ;;
	esac
	newest=$("$lake" log --json "$t" | tail -1 | jq -r .version)
	for v in $(seq 0 "$newest"); do
		ls "$t"/_delta_log/ | grep -q "^$(printf %020d "$v")\.\(json\|checkpoint.parquet\)$" || continue
		if [ "$name" = log-replay-special-characters ]; then continue; fi
		h_eq "$name v$v: live files match an independent replay" "$(ours "$t" "$v")" "$(replay "$t" "$v")"
	done
	bad=0 files=0
	while read -r p; do
		[ -f "$t/$p" ] || continue	# synthetic tables log files that do not exist
		files=$((files + 1))
		d=$(compare_file "$t/$p") || d=error
		[ "$d" = 0 ] || { bad=$((bad + 1)); h_log "$name/$p: $d differences"; }
	done < <("$lake" ls --json "$t" | jq -r .path)
	[ "$files" -gt 0 ] && h_eq "$name: $files files read like DuckDB reads them" "$bad" 0
done

t=$golden/log-replay-special-characters
h_eq "escaped paths: the add at v0 is live" "$("$lake" ls --json --version 0 "$t" | jq -r .path)" 'special p@#h'
h_eq "escaped paths: the remove at v1 matches it" "$("$lake" ls --json "$t" | wc -l)" 0

h_match "a gap in the versions is an error" "$("$lake" ls "$golden/versions-not-contiguous" 2>&1)" 'version gap'
h_check_fails "... and exits non-zero" "$lake" ls "$golden/versions-not-contiguous"
h_match "an unsupported protocol is an error" "$("$lake" cat "$golden/deltalog-invalid-protocol-version" 2>&1)" 'reader version 99'
h_match "a folder without a log is not a table" "$("$lake" ls "$golden/no-delta-log-folder" 2>&1)" 'not a Delta table'
h_eq "time travel: each version has its own rows" \
	"$(for v in 0 1 2; do "$lake" cat --version $v "$golden/time-travel-start-start20-start40" | tail -n +2 | wc -l; done | paste -sd' ')" \
	"$(for v in 0 1 2; do replay "$golden/time-travel-start-start20-start40" $v | while read -r p; do h_duckdb "SELECT count(*) AS n FROM read_parquet('$golden/time-travel-start-start20-start40/$p')" | jq -r .n; done | paste -sd+ | bc; done | paste -sd' ')"
# check holds only our own commits to their numFiles: Spark counts an
# empty file it wrote and dropped (this table's version 0: 2 files, 1 add).
h_check "check accepts Spark's commits (numFiles counting a dropped file)" \
	"$lake" check "$golden/data-skipping-basic-stats-all-types"
h_done
