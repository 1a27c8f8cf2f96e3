#!/bin/bash
# run.sh - the lake on S3 against the local lake, in the same run, against
# a throwaway Ceph RGW (tests/lib/s3-cluster) on this machine:
#  1. a full ingestion of BULK_ORDERS orders (default 2 million, with about
#     3 history rows each) into an empty local lake and into an empty S3
#     lake (target: S3 at most 1.5x the local time);
#  2. an incremental run of EVENTS new events (default 10 thousand):
#     ingestion, transformation and serving, on each lake (target: S3 at
#     most 4x the local time); ROUNDS of them (default 1), the one of the
#     median ratio shown, as a loaded machine moves single runs a lot;
#  3. the increment stage by stage: seconds on each lake, the ratio, the
#     S3 requests, retries and bytes each stage logged, each stage's own
#     CPU on each lake, and the CPU the gateway (radosgw, the OSD and the
#     monitor, on the same cores) used during the S3 one.
# The events' clock: the retail app's own (1-59 simulated minutes an
# event, so 10,000 events span some 200 days and an increment writes a
# file per day and bronze table: the stress case), or EVENT_GAP (its
# --event-gap, e.g. 1s: the same events within a few hours, as a busy
# shop's increment on a schedule would be).
# Usage: bench/s3/run.sh [BUILD-DIR] (env: BULK_ORDERS, EVENTS, ROUNDS, EVENT_GAP;
# TRACE=DIR runs the S3 increment's stages under strace -f -tt, one round,
# one DIR/STAGE.strace each, and prints each stage's requests in phases
# with bench/s3/timeline.py: where the time goes, though strace slows the
# stages several times)
set -euo pipefail
export LC_ALL=C
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
orders=${BULK_ORDERS:-2000000}
events=${EVENTS:-10000}
rounds=${ROUNDS:-1}
gap=()
[ -n "${EVENT_GAP:-}" ] && gap=(--event-gap "$EVENT_GAP")
trace=${TRACE:-}
work=$(mktemp -d /tmp/medallion-bench.XXXXXX)
chmod 711 "$work"
trap '"$src/tests/lib/pg-cluster" stop "$work/pg" >/dev/null 2>&1; "$src/tests/lib/s3-cluster" stop "$work/s3" >/dev/null 2>&1; rm -rf "$work"' EXIT
eval "$("$src/tests/lib/pg-cluster" start "$work/pg")"
eval "$(S3_MEMSTORE_BYTES=$((3 << 30)) "$src/tests/lib/s3-cluster" start "$work/s3")"
local_lake=$work/lake s3_lake=s3://$S3_BUCKET/lake
mkdir -p "$local_lake"

(eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)"
 "$build/retailapp/medallion-retailapp" --bulk "$orders" --seed 2 --quiet)

# gw_cpu: milliseconds of CPU the gateway's three daemons have used.
gw_cpu() {
	local f a t=0
	for f in "$work"/s3/run/*.pid; do
		read -r -a a < <(sed 's/.*) //' "/proc/$(cat "$f")/stat")
		t=$((t + a[11] + a[12]))	# utime, stime
	done
	echo $((t * 1000 / $(getconf CLK_TCK)))
}
# stage NAME LAKE LOG [STRACE]: runs it, prints seconds ($EPOCHREALTIME
# around it); its peak RSS in KiB goes to LOG.rss, the gateway's CPU
# meanwhile (ms) to LOG.gw.
stage() {
	local t0 t1 g0 wrap=()
	[ -n "${4:-}" ] && wrap=(strace -f -tt -s 200 -e trace=network,openat,read,write -o "$4")
	g0=$(gw_cpu)
	t0=$EPOCHREALTIME
	(eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_pipeline)"
	 MEDALLION_LAKE=$2 /usr/bin/time -f %M -o "$3.rss" "${wrap[@]}" "$build/stages/$1/$1" 2>>"$3")
	t1=$EPOCHREALTIME
	echo $(($(gw_cpu) - g0)) >"$3.gw"
	echo "$t1 - $t0" | bc -l
}
# increment LAKE LOGPREFIX [TRACEDIR]: the three stages, each's seconds
# in LOGPREFIX-STAGE.time and its log in LOGPREFIX-STAGE.log.
increment() {
	local s
	for s in ingestion transformation serving; do
		stage $s "$1" "$2-$s.log" ${3:+"$3/$s.strace"} >"$2-$s.time"
	done
}
sum_times() { cat "$1"-*.time | paste -sd+ | bc -l; }
requests() { cat "$@" | grep -o 'S3: [0-9]* requests' | awk '{s += $2} END {print s + 0}'; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

sync
full_local=$(stage ingestion "$local_lake" "$work/full-local.log")
full_s3=$(stage ingestion "$s3_lake" "$work/full-s3.log")
stage transformation "$local_lake" "$work/prep.log" >/dev/null
stage transformation "$s3_lake" "$work/prep.log" >/dev/null
stage serving "$local_lake" "$work/prep.log" >/dev/null
stage serving "$s3_lake" "$work/prep.log" >/dev/null
[ -n "$trace" ] && mkdir -p "$trace" && rounds=1
for r in $(seq "$rounds"); do
	(eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)"
	 "$build/retailapp/medallion-retailapp" --events "$events" "${gap[@]}" --connections 4 --rate 0 --seed $((r + 2)) --quiet 2>/dev/null)
	sync
	increment "$local_lake" "$work/inc$r-local"
	increment "$s3_lake" "$work/inc$r-s3" "$trace"
	echo "$(ratio "$(sum_times "$work/inc$r-s3")" "$(sum_times "$work/inc$r-local")") $r" >>"$work/rounds"
done
# The round of the median ratio is the one shown.
m=$(sort -n "$work/rounds" | sed -n "$(((rounds + 1) / 2))p" | cut -d' ' -f2)
inc_local=$(sum_times "$work/inc$m-local") inc_s3=$(sum_times "$work/inc$m-s3")

echo "lake on S3 (Ceph RGW on loopback) vs local disk: $orders orders; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'full ingestion: local %.3f s, S3 %.3f s: %sx (target <= 1.5x); %s S3 requests\n' \
	"$full_local" "$full_s3" "$(ratio "$full_s3" "$full_local")" "$(requests "$work/full-s3.log")"
printf 'full ingestion peak RSS: local %d MiB, S3 %d MiB\n' \
	$(($(cat "$work/full-local.log.rss") / 1024)) $(($(cat "$work/full-s3.log.rss") / 1024))
[ "$rounds" -gt 1 ] && echo "increments, S3 against local: $(sort -n "$work/rounds" | cut -d' ' -f1 | sed 's/$/x/' | paste -sd' '); the median round:"
printf 'increment of %s events (3 stages, clock %s): local %.3f s, S3 %.3f s: %sx (target <= 4x); %s S3 requests\n' \
	"$events" "${EVENT_GAP:-the app default}" "$inc_local" "$inc_s3" "$(ratio "$inc_s3" "$inc_local")" \
	"$(requests "$work/inc$m"-s3-*.log)"
# Each stage's CPU from its own log line ("done in ... s, CPU ... ms").
cpu_ms() { sed -n 's/.* done in .* s, CPU \([0-9.]*\) ms.*/\1/p' "$1" | tail -1; }
printf '  %-15s %8s %8s %7s %9s %8s %10s %10s %10s %10s %12s\n' stage \
	'local s' 'S3 s' ratio requests retried 'bytes up' down \
	'CPU local' 'CPU S3' 'gateway CPU'
for s in ingestion transformation serving; do
	l=$(cat "$work/inc$m-local-$s.time") r=$(cat "$work/inc$m-s3-$s.time")
	read -r n rt up down < <(sed -n 's/.*S3: \([0-9]*\) requests (\([0-9]*\) retried), \([0-9]*\) bytes up, \([0-9]*\) down.*/\1 \2 \3 \4/p' \
		"$work/inc$m-s3-$s.log" | tail -1)
	printf '  %-15s %8.3f %8.3f %6sx %9s %8s %10s %10s %7s ms %7s ms %9s ms\n' \
		"$s" "$l" "$r" "$(ratio "$r" "$l")" "${n:-0}" "${rt:-0}" \
		"${up:-0}" "${down:-0}" "$(cpu_ms "$work/inc$m-local-$s.log")" \
		"$(cpu_ms "$work/inc$m-s3-$s.log")" "$(cat "$work/inc$m-s3-$s.log.gw")"
done
if [ -n "$trace" ]; then
	for s in ingestion transformation serving; do
		echo "$s on S3, under strace (bench/s3/timeline.py $trace/$s.strace):"
		python3 "$src/bench/s3/timeline.py" "$trace/$s.strace" | sed 's/^/  /'
	done
fi
