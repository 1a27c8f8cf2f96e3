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
export LC_ALL=C	# $EPOCHREALTIME with a decimal point

(eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)"
 "$build/retailapp/medallion-retailapp" --bulk "$orders" --seed 2 --quiet)
PGUSER=$PG_SUPERUSER "$PG_BINDIR/psql" -h "$PG_HOST" -p "$PG_PORT" -d retail \
	-XAtqc "VACUUM ANALYZE orders, ordershistory" >/dev/null
eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_pipeline)"
rows=$("$PG_BINDIR/psql" -XAtc "SELECT (SELECT count(*) FROM orders) || ' orders, ' || (SELECT count(*) FROM ordershistory) || ' history rows'")

# Times are taken with bash's $EPOCHREALTIME around the measured command
# itself, with no date(1) or time(1) process inside the span (together
# about 3 ms, more than a tenth of the incremental budget). Peak RSS comes
# from the stage's last log line ("done in ..., peak RSS N MiB").
copy_both() {
	"$PG_BINDIR/psql" -XAtqc "COPY (SELECT orderid, ordertime, branch, xid FROM orders) TO STDOUT (FORMAT binary)" >/dev/null
	"$PG_BINDIR/psql" -XAtqc "COPY (SELECT historyid, orderid, status, updatedat, xid FROM ordershistory) TO STDOUT (FORMAT binary)" >/dev/null
}
# ingest LAKE LOG: runs the stage on LAKE, prints seconds.
ingest() {
	local t0 t1
	t0=$EPOCHREALTIME
	MEDALLION_LAKE=$1 "$build/stages/ingestion/ingestion" 2>"$2"
	t1=$EPOCHREALTIME
	echo "$t1 - $t0" | bc -l
}
rss_of() { sed -n 's/.*peak RSS \([0-9]*\) MiB.*/\1/p' "$1" | tail -1; }
min() { echo "if ($1 < $2) $1 else $2" | bc -l; }

copy_s=999999
for _ in 1 2 3; do	# best of three, page cache warm for both
	t0=$EPOCHREALTIME; copy_both; t1=$EPOCHREALTIME
	copy_s=$(min "$(echo "$t1 - $t0" | bc -l)" "$copy_s")
done
# Each full load goes into a new, empty lake, and none is deleted before
# the incremental runs: on ext4 without a journal, inodes freed in the
# last minute or so are skipped one by one when new ones are allocated
# (recently_deleted() in fs/ext4/ialloc.c), so deleting a lake here would
# slow the increment's file creation by the benchmark's own doing.
full_s=999999 full_rss=0
for i in 1 2 3; do
	sync	# the last load's data is not this one's to write back
	full_s=$(min "$(ingest "$work/lake.$i" "$work/full.log")" "$full_s")
	r=$(rss_of "$work/full.log"); [ "$r" -gt "$full_rss" ] && full_rss=$r
done
(eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)"
 "$build/retailapp/medallion-retailapp" --events "$events" --connections 4 --rate 0 --seed 3 --quiet 2>/dev/null)
# The same increment three times, each on its own copy of a full lake
# (copied, not re-ingested, before any is measured); the median counts.
cp -a "$work/lake.1" "$work/lake.1b"
cp -a "$work/lake.2" "$work/lake.2b"
# Nothing of the benchmark's own left dirty in the page cache: the stage's
# syncfs(2) would write it back inside the measured span.
sync
inc=() inc_rss=0
for l in lake.3 lake.1b lake.2b; do
	inc+=("$(ingest "$work/$l" "$work/inc.log")")
	r=$(rss_of "$work/inc.log"); [ "$r" -gt "$inc_rss" ] && inc_rss=$r
done
inc_s=$(printf '%s\n' "${inc[@]}" | sort -n | sed -n 2p)

echo "ingestion benchmark: $rows"
sed 's/^/  /' "$work/full.log" | grep -v 'nothing new'
printf 'full load:        %7.3f s   psql COPY binary of both tables: %7.3f s   ratio %.2fx (target <= 1.5x)\n' \
	"$full_s" "$copy_s" "$(echo "$full_s / $copy_s" | bc -l)"
printf 'incremental:      %7.3f s   for %d new events = %.2f%% of the full load (target < 2%%); median of %s s\n' \
	"$inc_s" "$events" "$(echo "$inc_s * 100 / $full_s" | bc -l)" "$(printf '%.3f ' "${inc[@]}")"
printf 'peak RSS:         full %d MiB, incremental %d MiB (target < 64 MiB)\n' \
	"$full_rss" "$inc_rss"
