#!/bin/bash
# point_lookup.sh - a small batch opens only the bronze/orders files that
# can hold its orders, whatever the table's size: after many small
# increments (one bronze/orders file each), the last transformation run
# reports in commitInfo how many files it opened for its orders
# (numOrderFilesRead); it must be at most the number of orders the batch
# names, and a small share of the table's files (a range from the oldest
# to the newest open order would read most of them). Silver still equals
# what the source holds for the events it kept.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

b=$MEDALLION_BUILD_DIR
app=$b/retailapp/medallion-retailapp
lake=$b/stages/lake/medallion-lake
transformation=${TRANSFORMATION:-$b/stages/transformation/transformation}
export MEDALLION_LAKE=$H_TMP/lake
runs=${POINT_LOOKUP_RUNS:-80}
pg_start
q() { pg_psql_admin -Atc "$1"; }
as_app() { (eval "$(pg_env_app)"; "$@"); }
ingest() { (eval "$(pg_env_pipeline)"; "$b/stages/ingestion/ingestion"); }

as_app "$app" --bulk 2000 --seed 5 --quiet 2>/dev/null
failed=0
for ((i = 1; i <= runs; i++)); do
	[ "$i" = "$runs" ] && before=$(q "SELECT max(historyid) FROM ordershistory")
	as_app "$app" --events 30 --seed "$i" --quiet 2>/dev/null || failed=$((failed + 1))
	ingest 2>>"$H_TMP/stages.log" || failed=$((failed + 1))
	"$transformation" 2>>"$H_TMP/stages.log" || failed=$((failed + 1))
done
h_eq "every increment and stage ran ($runs runs)" "$failed" 0

v=$("$lake" log --json "$MEDALLION_LAKE/silver/allorders" | tail -1 | jq -r .version)
metrics=$(jq -c 'select(.commitInfo) | .commitInfo.operationMetrics' \
	"$MEDALLION_LAKE/silver/allorders/_delta_log/$(printf %020d "$v").json")
h_log "last run: $metrics"
read_files=$(jq -r '.numOrderFilesRead // "none"' <<<"$metrics")
orders_named=$(q "SELECT count(DISTINCT orderid) FROM ordershistory WHERE historyid > $before")
bronze_files=$("$lake" ls --json "$MEDALLION_LAKE/bronze/orders" | wc -l)
h_match "the last run counts the bronze/orders files it opened" "$read_files" '^[0-9]+$'
h_check "it opened at most one file per order its batch names ($read_files <= $orders_named)" \
	test "${read_files/none/999999}" -le "$orders_named"
h_check "... a small share of bronze/orders ($read_files of $bronze_files files, at most 1/4)" \
	test $((${read_files/none/999999} * 4)) -le "$bronze_files"
h_match "silver counts the silver files it opened for duplicate checks" \
	"$(jq -r '.numSilverFilesRead // "none"' <<<"$metrics")" '^[0-9]+$'
h_eq "silver holds every NEW and DELIVERED event of the source, once" \
	"$("$lake" cat --columns historyid,status "$MEDALLION_LAKE/silver/allorders" | tail -n +2 | tr -d '\r"' | sort -n | md5sum)" \
	"$(q "SELECT historyid || ',' || status FROM ordershistory WHERE status <> 'INTRANSIT' ORDER BY historyid" | sort -n | md5sum)"
h_done
