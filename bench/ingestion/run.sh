#!/bin/bash
# run.sh - ingestion benchmark on a throwaway PostgreSQL holding 2 million
# orders and about 6 million history rows (medallion-retailapp --bulk):
#  1. a full load into an empty lake, against psql streaming the same rows
#     of both tables with COPY ... TO STDOUT (FORMAT binary) > /dev/null,
#     in the same run (target: at most 1.5x COPY's time);
#  2. with all of that in bronze, ingesting 10 thousand new events
#     (target: under 2% of the full load's time);
#  3. peak RSS of both runs (target: under 64 MiB).
# Usage: bench/ingestion/run.sh [BUILD-DIR] (env: BULK_ORDERS, EVENTS)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
orders=${BULK_ORDERS:-2000000}
events=${EVENTS:-10000}
work=$(mktemp -d /tmp/medallion-bench.XXXXXX)
chmod 711 "$work"
trap '"$src/tests/lib/pg-cluster" stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
eval "$("$src/tests/lib/pg-cluster" start "$work/pg")"
export MEDALLION_LAKE=$work/lake

(eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)"
 "$build/retailapp/medallion-retailapp" --bulk "$orders" --seed 2 --quiet)
PGUSER=$PG_SUPERUSER "$PG_BINDIR/psql" -h "$PG_HOST" -p "$PG_PORT" -d retail \
	-XAtqc "VACUUM ANALYZE orders, ordershistory" >/dev/null
eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_pipeline)"
rows=$("$PG_BINDIR/psql" -XAtc "SELECT (SELECT count(*) FROM orders) || ' orders, ' || (SELECT count(*) FROM ordershistory) || ' history rows'")

now() { date +%s.%N; }
copy_both() {
	"$PG_BINDIR/psql" -XAtqc "COPY (SELECT orderid, ordertime, branch, xid FROM orders) TO STDOUT (FORMAT binary)" >/dev/null
	"$PG_BINDIR/psql" -XAtqc "COPY (SELECT historyid, orderid, status, updatedat, xid FROM ordershistory) TO STDOUT (FORMAT binary)" >/dev/null
}
# ingest LOG: runs the stage, prints seconds; its log has the peak RSS.
ingest() {
	local t0 t1
	t0=$(now)
	/usr/bin/env time -f '%M' -o "$work/rss" "$build/stages/ingestion/ingestion" 2>"$1"
	t1=$(now)
	echo "$t1 - $t0" | bc -l
}

copy_s=999999
for _ in 1 2 3; do	# best of three, page cache warm for both
	t0=$(now); copy_both; t1=$(now)
	s=$(echo "$t1 - $t0" | bc -l)
	copy_s=$(echo "if ($s < $copy_s) $s else $copy_s" | bc -l)
done
full_s=999999 full_rss=0
for i in 1 2 3; do	# each full load into an empty lake
	rm -rf "$MEDALLION_LAKE"
	s=$(ingest "$work/full.log")
	full_s=$(echo "if ($s < $full_s) $s else $full_s" | bc -l)
	r=$(cat "$work/rss"); [ "$r" -gt "$full_rss" ] && full_rss=$r
done
(eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)"
 "$build/retailapp/medallion-retailapp" --events "$events" --connections 4 --rate 0 --seed 3 --quiet 2>/dev/null)
inc_s=$(ingest "$work/inc.log")
inc_rss=$(cat "$work/rss")

echo "ingestion benchmark: $rows"
sed 's/^/  /' "$work/full.log" | grep -v 'nothing new'
printf 'full load:        %7.3f s   psql COPY binary of both tables: %7.3f s   ratio %.2fx (target <= 1.5x)\n' \
	"$full_s" "$copy_s" "$(echo "$full_s / $copy_s" | bc -l)"
printf 'incremental:      %7.3f s   for %d new events = %.2f%% of the full load (target < 2%%)\n' \
	"$inc_s" "$events" "$(echo "$inc_s * 100 / $full_s" | bc -l)"
printf 'peak RSS:         full %d MiB, incremental %d MiB (target < 64 MiB)\n' \
	$((full_rss / 1024)) $((inc_rss / 1024))
