#!/bin/bash
# ingestion.sh - the ingestion stage against a real PostgreSQL:
#  - repeated runs while medallion-retailapp writes through 4 connections,
#    and a transaction that takes its ids before a run and commits after
#    it: bronze ends equal to the source, every id exactly once;
#  - kill -9 at random points of runs, then a rerun: still exactly once;
#  - a changed or missing source column: a clear error, exit 3, no commit;
#  - DuckDB reading the files the log lists agrees on counts and values;
#  - timestamps 'infinity' and '-infinity' kept as such, in the null date
#    partition, never overflowed (issue 20);
#  - a commit that lost its trailing lines fails check (issue 20).
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

app=$MEDALLION_BUILD_DIR/retailapp/medallion-retailapp
ingest=$MEDALLION_BUILD_DIR/stages/ingestion/ingestion
lake=$MEDALLION_BUILD_DIR/stages/lake/medallion-lake
export MEDALLION_LAKE=$H_TMP/lake
pg_start
q() { pg_psql_admin -Atc "$1"; }
as_app() { (eval "$(pg_env_app)"; "$@"); }
as_pipeline() { (eval "$(pg_env_pipeline)"; "$@"); }

. "$MEDALLION_SOURCE_DIR/tests/lib/bronze.sh"

h_check "first run on an empty source and lake exits 0" as_pipeline "$ingest"
h_check "... and makes no commit" test ! -e "$MEDALLION_LAKE/bronze/orders/_delta_log/00000000000000000000.json"

as_app "$app" --seed 1 --events 3000 --rate 1500 --connections 4 --quiet &
writer=$!
runs=0
while kill -0 $writer 2>/dev/null; do
	as_pipeline "$ingest" 2>>"$H_TMP/ingest.log" || h_fail "an ingestion run during writes failed"
	runs=$((runs + 1))
done
wait $writer
h_log "$runs ingestion runs while the app wrote"

# A transaction that takes its ids before a run and commits after it.
cat >"$H_TMP/slow.sql" <<'SQL'
BEGIN;
INSERT INTO orders (ordertime, branch) VALUES ('2026-11-20 10:00', 'Slowpoke') RETURNING orderid;
INSERT INTO ordershistory (orderid, status, updatedat)
  SELECT max(orderid), 'NEW', '2026-11-20 10:00' FROM orders WHERE branch = 'Slowpoke';
SELECT pg_sleep(3);
COMMIT;
SQL
pg_psql_admin -q -f "$H_TMP/slow.sql" >/dev/null &
slow=$!
sleep 1
as_app "$app" --seed 2 --events 200 --connections 2 --quiet
h_check "a run while a transaction is open succeeds" as_pipeline "$ingest"
h_eq "the open transaction's order is not in bronze yet" \
	"$("$lake" cat --columns branch "$MEDALLION_LAKE/bronze/orders" | grep -c Slowpoke)" 0
wait $slow
h_check "a run after it commits succeeds" as_pipeline "$ingest"
h_eq "... and brings the late order" \
	"$("$lake" cat --columns branch "$MEDALLION_LAKE/bronze/orders" | grep -c Slowpoke)" 1
same_as_source orders orderid "after concurrent writers"
same_as_source ordershistory historyid "after concurrent writers"
before=$("$lake" log --json "$MEDALLION_LAKE/bronze/orders" | tail -1 | jq -r .version)
h_check "a run with nothing new exits 0" as_pipeline "$ingest"
h_eq "... and makes no commit" "$("$lake" log --json "$MEDALLION_LAKE/bronze/orders" | tail -1 | jq -r .version)" "$before"

# kill -9 at random points of runs of the same size as the one timed;
# every run starts from what is committed. The ingestion process itself
# is the background job (exec, no wrapper shell), and a kill counts as
# landed only when it ended the run (exit 137).
as_app "$app" --bulk 20000 --quiet
start=$(date +%s%N)
as_pipeline "$ingest" 2>/dev/null
span_ms=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
landed=0
for i in $(seq 1 12); do
	as_app "$app" --bulk 20000 --quiet 2>/dev/null
	(eval "$(pg_env_pipeline)"; exec "$ingest" 2>/dev/null) &
	pid=$!
	ms=$((RANDOM % span_ms))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	[ $? -eq 137 ] && landed=$((landed + 1))
done
h_check "kill -9 landed in the middle of at least 6 of 12 runs ($landed; a run takes $span_ms ms)" test "$landed" -ge 6
h_check "a rerun after the kills succeeds" as_pipeline "$ingest"
same_as_source orders orderid "after $landed kill -9s mid-run"
same_as_source ordershistory historyid "after $landed kill -9s mid-run"
h_check "bronze orders passes check" "$lake" check "$MEDALLION_LAKE/bronze/orders"
h_check "bronze ordershistory passes check" "$lake" check "$MEDALLION_LAKE/bronze/ordershistory"

# DuckDB reads the files the log lists and agrees on counts and values.
files() { "$lake" ls --json "$MEDALLION_LAKE/bronze/$1" | jq -r --arg t "$MEDALLION_LAKE/bronze/$1" '"\u0027" + $t + "/" + .path + "\u0027"' | paste -sd, -; }
h_eq "DuckDB: orders count, id sum and branches match the source" \
	"$(h_duckdb "SELECT count(*) AS n, sum(orderid) AS s, count(DISTINCT branch) AS b, max(ordertime::TIMESTAMP)::TEXT AS t FROM read_parquet([$(files orders)], hive_partitioning=false)" | jq -r '[.n, .s, .b, .t] | join(" ")')" \
	"$(q "SELECT count(*), sum(orderid), count(DISTINCT branch), to_char(max(ordertime), 'YYYY-MM-DD HH24:MI:SS') FROM orders" | tr '|' ' ')"
h_eq "DuckDB: history per status matches the source" \
	"$(h_duckdb "SELECT status, count(*) AS n, sum(historyid) AS s FROM read_parquet([$(files ordershistory)], hive_partitioning=false) GROUP BY 1 ORDER BY 1" | jq -r '[.status, .n, .s] | join(" ")')" \
	"$(q "SELECT status, count(*), sum(historyid) FROM ordershistory GROUP BY 1 ORDER BY 1" | tr '|' ' ')"
h_eq "DuckDB: each file holds only its partition's date" \
	"$(h_duckdb "SELECT count(*) AS bad FROM read_parquet([$(files ordershistory)], hive_partitioning=true) WHERE updatedat::TIMESTAMP::DATE <> \"date\"::DATE" | jq -r .bad)" 0

# Schema changes stop the stage before anything is written.
as_app "$app" --seed 99 --events 50 --quiet
before=$("$lake" log --json "$MEDALLION_LAKE/bronze/ordershistory" | tail -1 | jq -r .version)
q "ALTER TABLE ordershistory ALTER COLUMN status TYPE text" >/dev/null
out=$(as_pipeline "$ingest" 2>&1); rc=$?
h_eq "a changed column type exits 3" "$rc" 3
h_match "... saying which column and what changed" "$out" 'ordershistory.status is text, but bronze expects character varying'
q "ALTER TABLE ordershistory ALTER COLUMN status TYPE varchar(20)" >/dev/null
q "ALTER TABLE orders RENAME COLUMN branch TO store" >/dev/null
out=$(as_pipeline "$ingest" 2>&1); rc=$?
h_eq "a missing column exits 3" "$rc" 3
h_match "... naming it" "$out" 'orders has no column branch'
h_eq "no commit was made" "$("$lake" log --json "$MEDALLION_LAKE/bronze/ordershistory" | tail -1 | jq -r .version)" "$before"
q "ALTER TABLE orders RENAME COLUMN store TO branch" >/dev/null
h_check "after the fix the stage runs again" as_pipeline "$ingest"
same_as_source ordershistory historyid "after the schema is fixed"

# PostgreSQL's ±infinity: the row is kept, as infinity (the int64
# extremes DuckDB reads as such), in the null date partition; it used to
# overflow into year -290278 (issue 20).
q "INSERT INTO orders (ordertime, branch) VALUES ('infinity', 'Forever'), ('-infinity', 'Never')" >/dev/null
h_check "a run over ±infinity timestamps succeeds" as_pipeline "$ingest"
same_as_source orders orderid "after ±infinity"
h_eq "... both are in the null date partition" \
	"$("$lake" ls --json "$MEDALLION_LAKE/bronze/orders" | jq -r 'select(.partitionValues.date == null) | .rows' | paste -sd+ | bc)" 2
h_eq "... and no partition has a year outside 4 digits" \
	"$("$lake" ls --json "$MEDALLION_LAKE/bronze/orders" | jq -r '.partitionValues.date // empty' | grep -cvE '^[0-9]{4}-')" 0
h_eq "DuckDB reads them as infinity and -infinity" \
	"$(h_duckdb "SELECT string_agg(ordertime::TEXT, ' ' ORDER BY ordertime) AS t FROM read_parquet([$(files orders)], hive_partitioning=false) WHERE branch IN ('Forever', 'Never')" | jq -r .t)" \
	"-infinity infinity"

# A commit that lost its trailing lines still replays; check finds it by
# its own commitInfo metrics (issue 20: 1,484 of 3,000 rows were lost).
cut=$H_TMP/cut-history
cp -r "$MEDALLION_LAKE/bronze/ordershistory" "$cut"
commit=$(wc -l "$cut"/_delta_log/0*.json | sort -n | sed -n 'x;$p' | awk '{print $2}')
version=$((10#$(basename "$commit" .json)))
lines=$(wc -l <"$commit")
said=$(head -1 "$commit" | jq -r .commitInfo.operationMetrics.numOutputRows)
head -n $((lines / 2)) "$commit" >"$commit.tmp" && mv "$commit.tmp" "$commit"
kept=$(grep '"add"' "$commit" | jq -r '.add.stats | fromjson | .numRecords' | paste -sd+ | bc)
out=$("$lake" check "$cut" 2>&1); rc=$?
h_eq "a commit cut to $((lines / 2)) of its $lines lines fails check" "$rc" 3
h_match "... naming the version and both row counts" "$out" "version $version: commitInfo says $said output rows, its [0-9]+ adds hold $kept"
h_check "the intact table passes" "$lake" check "$MEDALLION_LAKE/bronze/ordershistory"
out=$("$lake" vacuum --retain 18446744073710s "$cut" 2>&1); rc=$?
h_eq "an overflowing --retain is a usage error" "$rc" 2
h_match "... saying it is too long" "$out" 'duration 18446744073710s is too long'

out=$(env -u MEDALLION_LAKE "$ingest" 2>&1); rc=$?
h_eq "no lake is a usage error" "$rc" 2
h_match "... with a clear message" "$out" 'set MEDALLION_LAKE'
out=$("$ingest" --table order 2>&1); rc=$?
h_eq "an unknown --table is a usage error" "$rc" 2
h_match "... naming the tables it knows" "$out" 'unknown table order \(orders or ordershistory\)'
out=$("$ingest" --table 2>&1); rc=$?
h_eq "--table without a name is a usage error" "$rc" 2
out=$(PGHOST=/nonexistent PGPORT=1 "$ingest" 2>&1); rc=$?
h_eq "an unreachable PostgreSQL fails" "$rc" 1
h_match "... saying where it tried" "$out" 'cannot connect to PostgreSQL'
h_done
