#!/bin/bash
# run.sh - does a lake that runs for years cost what it cost in its first
# week? A base load (BULK_ORDERS orders via medallion-retailapp --bulk,
# then one pipeline run), then RUNS increments of EVENTS events each
# (medallion-retailapp --events), each followed by the stages run
# directly, as a schedule would: ingestion, transformation, serving, and
# maintenance when the build has it. Prints:
#  - each stage's median CPU time (user+sys of the stage process, from
#    wait4's rusage through bench/longrun/cputime) over the first and
#    the last window of WINDOW runs, and their ratio (target: at most
#    1.15x at 3,000 runs);
#  - the files the transformation opened for its point lookups
#    (commitInfo numOrderFilesRead and numSilverFilesRead), medians of
#    the same windows;
#  - each stage's instruction count (callgrind) in the middle run of the
#    first and of the last window, which the machine's load does not
#    move (those two runs are left out of the CPU medians);
#  - data files and bytes, and _delta_log files and bytes, per table
#    (target: bounded once maintenance runs);
#  - the transformation replayed: its CPU time over the two windows
#    again, measured after the long run on hard-linked snapshots of the
#    lake taken before each of those runs, the first window's runs and
#    the last's interleaved, REPLAY rounds (default 3; 0: none); for
#    each run its fastest round (the machine's noise only ever adds
#    time), then the median over the window. The medians above come
#    from runs minutes apart, each window under whatever else the
#    machine did then; replayed side by side, both windows share the
#    machine's state, which is what a ratio needs. Every round's copies
#    are made first, then synced, and removed only at the end, so no run
#    pays for the copying or for files deleted just before it (on an
#    ext4 without a journal, as here, creating a file steps over every
#    inode freed in the last 30 seconds).
#    The stage only reads the lake and adds files (renames over
#    _last_checkpoint), so a run on a hard-linked copy is the same run.
# Per-run figures stay in $work/cpu.tsv while it runs, and are copied to
# RESULTS (default /tmp/medallion-longrun.tsv) at the end.
# The workload: EVENT_MIX (default 1:1:1) weighs the simulator's NEW,
# INTRANSIT and DELIVERED events (--mix). With 1:1:1 every order is
# delivered in time, and the undelivered ones stay a few hundred, as in
# a shop that ships what it sells. EVENT_MIX=2:1:1, the simulator's own
# default, leaves half the orders undelivered for ever: 7.5 more each
# run, 22,500 after 3,000 runs, which the transformation looks up over
# ever more days of bronze and serving keeps in gold/branch_state. That
# measures a workload that grows, not a lake that ages.
# The simulated clock: EVENT_GAP (default 10s) is the retail app's mean
# gap between events (--event-gap), so a run of 30 events spans five
# minutes of simulated time, as on a real 5-minute schedule: bronze,
# partitioned by date, gets a new partition every 288 runs.
# EVENT_GAP=default keeps the simulator's own 1-59 minutes, which gives
# a new date partition every run or two: five years of partitions in
# 3,000 runs, the stress case.
# Maintenance runs with its defaults, as the default pipeline runs it;
# its retention windows (files 7 days, log 30 days, vacuum at most daily)
# do not pass within a benchmark, so MAINTENANCE_ARGS (e.g.
# "--vacuum-every 0 --file-retention 0s --log-retention 0s") shows the
# steady state a lake older than them reaches.
# Usage: bench/longrun/run.sh [RUNS] [BUILD-DIR]
#   (env: BULK_ORDERS=200000, EVENTS=30, EVENT_MIX=1:1:1, EVENT_GAP=10s,
#    WINDOW=50, RESULTS, MAINTENANCE_ARGS, REPLAY=3, KEEP_WORK=1 keeps
#    the lake, the stages' logs and the replay's snapshots in snap/RUN,
#    WORKDIR=/tmp: where the lake and PostgreSQL live;
#    WORKDIR=/dev/shm takes the filesystem out of the figures: on ext4
#    half of a transformation run's CPU is the kernel's, and what it
#    costs to create a file grows with the directory and with what was
#    deleted nearby, whatever the lake's age)
set -euo pipefail
export LC_ALL=C
src=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-3000}
build=$(cd "${2:-$src/build}" && pwd)
orders=${BULK_ORDERS:-200000}
events=${EVENTS:-30}
mix=${EVENT_MIX:-1:1:1}
gap=${EVENT_GAP:-10s}
gap_args=(--event-gap "$gap")
[ "$gap" != default ] || gap_args=()
window=${WINDOW:-50}
replay=${REPLAY:-3}
results=${RESULTS:-/tmp/medallion-longrun.tsv}
cputime=$build/bench/longrun/cputime
[ -x "$cputime" ] || { echo "run.sh: $cputime not built (ninja -C $build)" >&2; exit 1; }
[ "$runs" -ge "$window" ] || { echo "run.sh: RUNS ($runs) below one window ($window)" >&2; exit 2; }
work=$(mktemp -d "${WORKDIR:-/tmp}/medallion-longrun.XXXXXX")
chmod 711 "$work"
trap '"$src/tests/lib/pg-cluster" stop "$work/pg" >/dev/null 2>&1; [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
eval "$("$src/tests/lib/pg-cluster" start "$work/pg")"
export MEDALLION_LAKE=$work/lake
stages="ingestion transformation serving"
if [ -x "$build/stages/maintenance/maintenance" ]; then
	stages="$stages maintenance"
	note="the default pipeline's four stages, maintenance included${MAINTENANCE_ARGS:+ ($MAINTENANCE_ARGS)}"
else
	note="the three stages: this build has no maintenance stage"
fi
app_env=$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)
pipe_env=$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_pipeline)

# stage NAME [RUN]: runs it, appends "user sys rss" to $work/cpu.NAME;
# in the runs named by $counted, under callgrind instead: "- - -" there,
# and "RUN instructions" to $work/ir.NAME.
stage() {
	local args=() wrap=("$cputime" "$work/cpu.$1")
	[ "$1" != maintenance ] || read -r -a args <<<"${MAINTENANCE_ARGS:-}"
	if [ -n "${2:-}" ] && [[ " $counted " == *" $2 "* ]]; then
		wrap=(valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file="$work/callgrind.log")
		echo "- - -" >>"$work/cpu.$1"
	fi
	(eval "$pipe_env"; "${wrap[@]}" "$build/stages/$1/$1" "${args[@]}") \
		2>>"$work/$1.log" || { echo "run.sh: $1 failed, see below" >&2; tail -5 "$work/$1.log" >&2; exit 1; }
	if [ "${wrap[0]}" = valgrind ]; then
		echo "$2 $(sed -n 's/.*Collected : //p' "$work/callgrind.log")" >>"$work/ir.$1"
	fi
}
# files_read: the last silver commit's point-lookup counters, "orders silver".
files_read() {
	local v
	v=$(sed -n 's/.*into silver v\([0-9]*\).*/\1/p' "$work/transformation.log" | tail -1)
	[ -n "$v" ] || { echo "- -"; return; }
	jq -r 'select(.commitInfo) | .commitInfo.operationMetrics |
		"\(.numOrderFilesRead // "-") \(.numSilverFilesRead // "-")"' \
		"$MEDALLION_LAKE/silver/allorders/_delta_log/$(printf %020d "$v").json"
}

(eval "$app_env"; "$build/retailapp/medallion-retailapp" --bulk "$orders" --seed 2 --quiet)
for s in $stages; do stage "$s"; done
rm -f "$work"/cpu.*
counted=
if command -v valgrind >/dev/null; then
	counted="$(((window + 1) / 2)) $((runs - window / 2))"
fi
t0=$EPOCHREALTIME
for ((i = 1; i <= runs; i++)); do
	(eval "$app_env"; "$build/retailapp/medallion-retailapp" --events "$events" --mix "$mix" "${gap_args[@]}" --seed "$i" --quiet 2>/dev/null)
	for s in $stages; do
		if [ "$s" = transformation ] && [ "$replay" -gt 0 ] &&
			{ [ "$i" -le "$window" ] || [ "$i" -gt $((runs - window)) ]; }; then
			mkdir -p "$work/snap"
			cp -al "$MEDALLION_LAKE" "$work/snap/$i"
			sync	# the copy's metadata written, not the run's to write
		fi
		stage "$s" "$i"
		# before maintenance, whose log cleanup may remove that commit
		[ "$s" != transformation ] || read_now=$(files_read)
	done
	echo "$i $read_now" >>"$work/files_read"
	[ $((i % 100)) -ne 0 ] || printf 'run %d of %d, %.0f s\n' "$i" "$runs" "$(echo "$EPOCHREALTIME - $t0" | bc -l)" >&2
done

# median FILE FIRST LAST: median of user+sys (ms) of lines FIRST..LAST.
median() {
	sed -n "$2,$3p" "$1" | awk '$1 != "-" { print ($1 + $2) / 1000 }' | sort -n |
		awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
median_col() {	# FILE COLUMN FIRST LAST
	sed -n "$3,$4p" "$1" | awk -v c="$2" '$c != "-" { print $c }' | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) print "-"; else print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
last0=$((runs - window + 1))
echo "long run: $orders-order base, $runs increments of $events events (mix $mix, mean gap $gap), $note"
echo "lake and PostgreSQL in $(df --output=fstype "$work" | tail -1) ($work)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(printf '%.0f' "$(echo "$EPOCHREALTIME - $t0" | bc -l)") s"
printf '%-16s %14s %14s %8s\n' "CPU median (ms)" "runs 1-$window" "runs $last0-$runs" ratio
worst=0
for s in $stages; do
	a=$(median "$work/cpu.$s" 1 "$window")
	b=$(median "$work/cpu.$s" "$last0" "$runs")
	r=$(echo "$b / $a" | bc -l)
	printf '%-16s %14.1f %14.1f %7.2fx\n' "$s" "$a" "$b" "$r"
	[ "$(echo "$r > $worst" | bc -l)" = 1 ] && worst=$r
done
printf 'worst ratio last/first window: %.2fx (target <= 1.15x at 3,000 runs)\n' "$worst"
if [ -n "$counted" ]; then
	read -r c0 c1 <<<"$counted"
	printf '%-16s %14s %14s %8s\n' "instructions (M)" "run $c0" "run $c1" ratio
	for s in $stages; do
		a=$(awk -v r="$c0" '$1 == r { gsub(",", "", $2); print $2 }' "$work/ir.$s")
		b=$(awk -v r="$c1" '$1 == r { gsub(",", "", $2); print $2 }' "$work/ir.$s")
		printf '%-16s %14.1f %14.1f %7.2fx\n' "$s" "$(echo "$a / 1000000" | bc -l)" "$(echo "$b / 1000000" | bc -l)" "$(echo "$b / $a" | bc -l)"
	done
fi
if [ "$replay" -gt 0 ]; then
	# replay ROUND RUN: the transformation once more on the copy of the
	# lake as it was before run RUN, $work/replay/ROUND/RUN; "user sys
	# rss" to $work/replay.RUN.
	replay_run() {
		(eval "$pipe_env"; MEDALLION_LAKE=$work/replay/$1/$2 "$cputime" "$work/replay.$2" \
			"$build/stages/transformation/transformation") 2>>"$work/replay.log" ||
			{ echo "run.sh: replay of run $2 failed, see below" >&2; tail -5 "$work/replay.log" >&2; exit 1; }
	}
	for ((round = 0; round < replay; round++)); do
		mkdir -p "$work/replay/$round"
		for ((k = 1; k <= window; k++)); do
			cp -al "$work/snap/$k" "$work/replay/$round/$k"
			cp -al "$work/snap/$((runs - window + k))" "$work/replay/$round/$((runs - window + k))"
		done
	done
	sync
	for ((round = 0; round < replay; round++)); do
		for ((k = 1; k <= window; k++)); do
			replay_run "$round" "$k"
			replay_run "$round" $((runs - window + k))
		done
	done
	rm -rf "$work/replay"
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work/snap"
	# fastest FIRST LAST: each run's fastest round, "user sys" (us) per line.
	fastest() {
		for ((k = $1; k <= $2; k++)); do
			awk '{ t = $1 + $2; if (NR == 1 || t < best) { best = t; line = $1 " " $2 } } END { print line }' "$work/replay.$k"
		done
	}
	a=$(fastest 1 "$window" >"$work/replay.first"; median "$work/replay.first" 1 '$')
	b=$(fastest "$last0" "$runs" >"$work/replay.last"; median "$work/replay.last" 1 '$')
	printf 'transformation replayed (each run its fastest of %d rounds, the windows interleaved): %.2f -> %.2f ms, %.2fx\n' \
		"$replay" "$a" "$b" "$(echo "$b / $a" | bc -l)"
fi
printf 'files opened by the transformation (median): bronze/orders %s -> %s, silver %s -> %s\n' \
	"$(median_col "$work/files_read" 2 1 "$window")" "$(median_col "$work/files_read" 2 "$last0" "$runs")" \
	"$(median_col "$work/files_read" 3 1 "$window")" "$(median_col "$work/files_read" 3 "$last0" "$runs")"
# Live: the files the newest version names; on disk: those and the ones
# compaction replaced, kept until vacuum (delta.deletedFileRetentionDuration).
printf '%-22s %10s %9s %10s %9s %10s %9s\n' table "live files" "live MiB" "disk files" "disk MiB" "log files" "log KiB"
for t in bronze/orders bronze/ordershistory silver/allorders silver/rejected gold/branch_metrics gold/branch_state; do
	d=$MEDALLION_LAKE/$t
	[ -d "$d" ] || continue
	read -r lf lb < <("$build/stages/lake/medallion-lake" ls --json "$d" | jq -r .size |
		awk '{ n++; b += $1 } END { print n + 0, b + 0 }')
	read -r df db < <(find "$d" -path "$d/_delta_log" -prune -o -type f -name '*.parquet' -printf '%s\n' |
		awk '{ n++; b += $1 } END { print n + 0, b + 0 }')
	read -r gf gb < <(find "$d/_delta_log" -type f -printf '%s\n' | awk '{ n++; b += $1 } END { print n + 0, b + 0 }')
	printf '%-22s %10d %9.1f %10d %9.1f %10d %9.0f\n' "$t" "$lf" "$(echo "$lb / 1048576" | bc -l)" \
		"$df" "$(echo "$db / 1048576" | bc -l)" "$gf" "$(echo "$gb / 1024" | bc -l)"
done
printf 'lake on disk: %s (du)\n' "$(du -sh "$MEDALLION_LAKE" | cut -f1)"
# Per-run figures: run, then user and sys (us) of each stage.
{
	printf 'run'; for s in $stages; do printf '\t%s_user_us\t%s_sys_us' "$s" "$s"; done; printf '\torder_files\tsilver_files\n'
	files=()
	for s in $stages; do files+=("$work/cpu.$s"); done
	awk -v n="${#files[@]}" '
		FNR == 1 { f++ }
		f <= n { row[f, FNR] = $1 "\t" $2; next }
		{ line = $1; for (k = 1; k <= n; k++) line = line "\t" row[k, FNR]; print line "\t" $2 "\t" $3 }
	' "${files[@]}" "$work/files_read"
} >"$results"
echo "per-run figures: $results"
