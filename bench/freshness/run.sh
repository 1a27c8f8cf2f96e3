#!/bin/bash
# run.sh - freshness in watch mode: the time from a commit on the source
# to the moment /api/gold reflects it, while the retail app writes RATE
# events/s on 4 connections and `medallion-orchestrator watch` runs the
# default pipeline (four stages) through a real medallion-server.
#
# Latency comes from probes (bench/freshness/probe.py): one probe order a
# second, committed by psql, and /api/gold read every 10 ms until its
# 'Probe' branch counts it. Gold carries no source watermark yet (issue 22,
# item 3), so only probes are timed, not every event. Prints p50, p90,
# p99 and max, runs a minute (from the history), and CPU as a share of one
# core: the orchestrator's (user+sys from /proc/PID/stat), and the
# pipeline's (the server, its runners and every stage they reaped, whose
# times the kernel adds to the server's cutime/cstime, plus the
# orchestrator), and the load average.
# Usage: bench/freshness/run.sh [SECONDS] [BUILD-DIR]
#   (env: RATE=200, BULK_ORDERS=20000, MIN_INTERVAL=200ms, KEEP_WORK=1,
#    WATCH_ARGS: more watch options, e.g. "--poll 50ms" to poll the source
#    instead of LISTEN)
set -euo pipefail
export LC_ALL=C
src=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-120}
build=$(cd "${2:-$src/build}" && pwd)
rate=${RATE:-200}
orders=${BULK_ORDERS:-20000}
work=$(mktemp -d /tmp/medallion-freshness.XXXXXX)
chmod 711 "$work"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	"$src/tests/lib/pg-cluster" stop "$work/pg" >/dev/null 2>&1 || true
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
eval "$("$src/tests/lib/pg-cluster" start "$work/pg")"
app_env=$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)
pipe_env=$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_pipeline)
export MEDALLION_LAKE=$work/lake
mkdir -p "$work/stages" "$work/logs" "$MEDALLION_LAKE"
for s in ingestion transformation serving maintenance; do
	ln -s "$build/stages/$s/$s" "$work/stages/$s"
done
(eval "$app_env"; "$build/retailapp/medallion-retailapp" --bulk "$orders" --seed 1 --quiet 2>/dev/null)

# cpu_ticks PID [children]: utime+stime (+cutime+cstime) in clock ticks.
cpu_ticks() {
	awk -v c="${2:-}" '{ sub(/.*\) /, ""); t = $12 + $13; if (c != "") t += $14 + $15; print t }' "/proc/$1/stat"
}

"$build/server/medallion-server" --host 127.0.0.1 --port 0 --port-file "$work/port" \
	--state "$work/server.db" --stages-dir "$work/stages" --log-dir "$work/logs" \
	--lake "$MEDALLION_LAKE" --history "$work/history.db" >"$work/server.log" 2>&1 &
server=$!
pids+=("$server")
for ((i = 0; i < 200; i++)); do [ -s "$work/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$work/port")
(eval "$pipe_env"; exec "$build/orchestrator/medallion-orchestrator" --master "$url" \
	--history "$work/history.db" watch --min-interval "${MIN_INTERVAL:-200ms}" ${WATCH_ARGS:-}) 2>"$work/watch.log" &
watch=$!
pids+=("$watch")
# The catch-up run of the bulk load first, then the measured window.
for ((i = 0; i < 600; i++)); do
	[ "$(sqlite3 "$work/history.db" "SELECT count(*) FROM runs WHERE state = 'FINISHED'" 2>/dev/null || echo 0)" -ge 1 ] && break
	sleep 0.1
done

(eval "$app_env"; exec "$build/retailapp/medallion-retailapp" --rate "$rate" --connections 4 \
	--events $((rate * (seconds + 5))) --seed 2 --quiet) 2>"$work/app.log" &
app=$!
pids+=("$app")
sleep 2	# the load is under way
hz=$(getconf CLK_TCK)
o0=$(cpu_ticks "$watch") s0=$(cpu_ticks "$server" children)
r0=$(sqlite3 "$work/history.db" "SELECT count(*) FROM runs")
t0=$EPOCHREALTIME
python3 "$src/bench/freshness/probe.py" "$url/api/gold" "$seconds" \
	"$PG_BINDIR/psql" -X -q -h "$PG_HOST" -p "$PG_PORT" -U medallion_app -d retail >"$work/latency"
# CPU over the probes' window (the last probe's 30 s grace is not load).
t1=$EPOCHREALTIME
o1=$(cpu_ticks "$watch") s1=$(cpu_ticks "$server" children)
r1=$(sqlite3 "$work/history.db" "SELECT count(*) FROM runs")
failed=$(sqlite3 "$work/history.db" "SELECT count(*) FROM runs WHERE state NOT IN ('FINISHED', 'RUNNING')")
wall=$(echo "$t1 - $t0" | bc -l)

pct() { grep -v lost "$work/latency" | sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; printf "%.0f", v[i] * 1000 }'; }
echo "freshness, watch mode: retail app at $rate events/s on 4 connections, $orders-order base, ${seconds} s, --min-interval ${MIN_INTERVAL:-200ms} ${WATCH_ARGS:-}"
printf 'commit -> /api/gold (%d probes, %d lost): p50 %s ms, p90 %s ms, p99 %s ms, max %s ms\n' \
	"$(grep -vc lost "$work/latency")" "$(grep -c lost "$work/latency" || true)" "$(pct 50)" "$(pct 90)" "$(pct 99)" "$(pct 100)"
printf 'runs: %.1f a minute (%d not finished)\n' "$(echo "($r1 - $r0) * 60 / $wall" | bc -l)" "$failed"
printf 'CPU, share of one core: orchestrator %.3f; pipeline (server, runners, stages, orchestrator) %.3f\n' \
	"$(echo "($o1 - $o0) / $hz / $wall" | bc -l)" "$(echo "($o1 - $o0 + $s1 - $s0) / $hz / $wall" | bc -l)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
