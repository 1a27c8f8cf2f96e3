#!/bin/bash
# run.sh - the lake on S3 against the local lake, in the same run, against
# a throwaway Ceph RGW (tests/lib/s3-cluster) on this machine:
#  1. a full ingestion of BULK_ORDERS orders (default 2 million, with about
#     3 history rows each) into an empty local lake and into an empty S3
#     lake (target: S3 at most 1.5x the local time);
#  2. an incremental run of EVENTS new events (default 10 thousand):
#     ingestion, transformation and serving, on each lake (target: S3 at
#     most 4x the local time);
#  3. the S3 requests of each, from the stages' own log lines, and the
#     peak RSS of the full ingestion on each (/usr/bin/time's %M).
# Usage: bench/s3/run.sh [BUILD-DIR] (env: BULK_ORDERS, EVENTS)
set -euo pipefail
export LC_ALL=C
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
orders=${BULK_ORDERS:-2000000}
events=${EVENTS:-10000}
work=$(mktemp -d /tmp/medallion-bench.XXXXXX)
chmod 711 "$work"
trap '"$src/tests/lib/pg-cluster" stop "$work/pg" >/dev/null 2>&1; "$src/tests/lib/s3-cluster" stop "$work/s3" >/dev/null 2>&1; rm -rf "$work"' EXIT
eval "$("$src/tests/lib/pg-cluster" start "$work/pg")"
eval "$(S3_MEMSTORE_BYTES=$((3 << 30)) "$src/tests/lib/s3-cluster" start "$work/s3")"
local_lake=$work/lake s3_lake=s3://$S3_BUCKET/lake
mkdir -p "$local_lake"

(eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)"
 "$build/retailapp/medallion-retailapp" --bulk "$orders" --seed 2 --quiet)

# stage NAME LAKE LOG: runs it, prints seconds ($EPOCHREALTIME around it);
# its peak RSS in KiB goes to LOG.rss.
stage() {
	local t0 t1
	t0=$EPOCHREALTIME
	(eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_pipeline)"
	 MEDALLION_LAKE=$2 /usr/bin/time -f %M -o "$3.rss" "$build/stages/$1/$1" 2>>"$3")
	t1=$EPOCHREALTIME
	echo "$t1 - $t0" | bc -l
}
increment() {	# LAKE LOG: the three stages, seconds
	local a b c
	a=$(stage ingestion "$1" "$2"); b=$(stage transformation "$1" "$2")
	c=$(stage serving "$1" "$2")
	echo "$a + $b + $c" | bc -l
}
requests() { grep -o 'S3: [0-9]* requests' "$1" | awk '{s += $2} END {print s + 0}'; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

sync
full_local=$(stage ingestion "$local_lake" "$work/full-local.log")
full_s3=$(stage ingestion "$s3_lake" "$work/full-s3.log")
stage transformation "$local_lake" "$work/prep.log" >/dev/null
stage transformation "$s3_lake" "$work/prep.log" >/dev/null
stage serving "$local_lake" "$work/prep.log" >/dev/null
stage serving "$s3_lake" "$work/prep.log" >/dev/null
(eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)"
 "$build/retailapp/medallion-retailapp" --events "$events" --connections 4 --rate 0 --seed 3 --quiet 2>/dev/null)
sync
inc_local=$(increment "$local_lake" "$work/inc-local.log")
inc_s3=$(increment "$s3_lake" "$work/inc-s3.log")

echo "lake on S3 (Ceph RGW on loopback) vs local disk: $orders orders"
printf 'full ingestion: local %.3f s, S3 %.3f s: %sx (target <= 1.5x); %s S3 requests\n' \
	"$full_local" "$full_s3" "$(ratio "$full_s3" "$full_local")" "$(requests "$work/full-s3.log")"
printf 'full ingestion peak RSS: local %d MiB, S3 %d MiB\n' \
	$(($(cat "$work/full-local.log.rss") / 1024)) $(($(cat "$work/full-s3.log.rss") / 1024))
printf 'increment of %s events (3 stages): local %.3f s, S3 %.3f s: %sx (target <= 4x); %s S3 requests\n' \
	"$events" "$inc_local" "$inc_s3" "$(ratio "$inc_s3" "$inc_local")" "$(requests "$work/inc-s3.log")"
grep -h 'S3: ' "$work/inc-s3.log" | sed 's/^/  /'
