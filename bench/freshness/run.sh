#!/bin/bash
# run.sh - freshness in watch mode: for every event the retail app
# commits, the time until /api/gold reflects it, while the app writes
# RATE events/s on 4 connections and `medallion-orchestrator watch` runs
# the default pipeline (four stages) through a real medallion-server.
#
# How each event is timed. The throwaway cluster runs with
# track_commit_timestamp, so every event's commit time is
# pg_xact_commit_timestamp(xmin) of its ordershistory row (one event, one
# transaction). gold-watch polls /api/gold every POLL_MS with
# If-None-Match and notes when each new source watermark first appeared;
# latency.py then takes, for each event, the first watermark whose
# xid_bound is above the event's xid (gold's promise: every xid below the
# bound is in gold) and subtracts the commit time. Both clocks are this
# machine's wall clock.
#
# Prints p50, p90, p99 and max over every event committed in the
# measured window, runs a minute (from the history), CPU as a share of
# one core (the orchestrator's own, from /proc/PID/stat; the server's
# own; its runners and every stage they ran, which the runners reap and
# the server reaps the runners, so the kernel adds them to the server's
# cutime/cstime; their sum is the pipeline's), whether the per-run cost
# stayed flat (CPU per run and median run time, first minute against
# last), where a run's milliseconds go (from the server's state file and
# each stage's last log line), and the load average.
# Usage: bench/freshness/run.sh [SECONDS] [BUILD-DIR]
#   (SECONDS: the measured window, default 600; env: RATE=200,
#    EVENT_GAP=1s (the app's simulated time between events; "default"
#    for its 1-59 minutes, which at 200 events/s opens a new date
#    partition in bronze every ~50 events, seven years of days in 10
#    minutes), BULK_ORDERS=20000, MIN_INTERVAL=200ms, POLL_MS=5, KEEP_WORK=1,
#    WATCH_ARGS: more watch options, e.g. "--poll 50ms" to poll the
#    source instead of LISTEN)
set -euo pipefail
export LC_ALL=C
src=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-600}
build=$(cd "${2:-$src/build}" && pwd)
rate=${RATE:-200}
gap=${EVENT_GAP:-1s}
orders=${BULK_ORDERS:-20000}
poll_ms=${POLL_MS:-5}
minute=$((seconds < 60 ? seconds : 60))
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
die() { echo "run.sh: $*" >&2; exit 1; }
[ -x "$build/bench/freshness/gold-watch" ] ||
	die "no $build/bench/freshness/gold-watch: build the tree (ninja -C $build)"

eval "$("$src/tests/lib/pg-cluster" start "$work/pg")"
app_env=$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)
pipe_env=$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_pipeline)
admin_env=$("$src/tests/lib/pg-cluster" env "$work/pg" admin)
psql_admin() { (eval "$admin_env"; "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"); }
# Commit timestamps need a restart to take effect; pg-cluster's settings
# stay in the data folder, so a restart comes back the same otherwise.
psql_admin -c "ALTER SYSTEM SET track_commit_timestamp = on"
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_owner "$PG_BINDIR/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w -t 60 \
	-m fast restart >/dev/null || die "cannot restart PostgreSQL with track_commit_timestamp"
[ "$(psql_admin -c 'SHOW track_commit_timestamp')" = on ] ||
	die "track_commit_timestamp is still off after the restart"

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
runs_started() { sqlite3 "$work/history.db" "SELECT count(*) FROM runs" 2>/dev/null || echo 0; }
# sample: one line "WALL_S ORCH SERVER_SELF SERVER_CHILDREN RUNS" (ticks).
sample() {
	echo "$EPOCHREALTIME $(cpu_ticks "$watch" children) $(cpu_ticks "$server") \
$(($(cpu_ticks "$server" children) - $(cpu_ticks "$server"))) $(runs_started)"
}

"$build/server/medallion-server" --host 127.0.0.1 --port 0 --port-file "$work/port" \
	--state "$work/server.db" --stages-dir "$work/stages" --log-dir "$work/logs" \
	--lake "$MEDALLION_LAKE" --history "$work/history.db" >"$work/server.log" 2>&1 &
server=$!
pids+=("$server")
for ((i = 0; i < 200; i++)); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || die "the server did not start: $(cat "$work/server.log")"
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
"$build/bench/freshness/gold-watch" "$url/api/gold" "$poll_ms" "$work/watermarks" 2>"$work/gold-watch.log" &
poller=$!
pids+=("$poller")
gap_arg=()
[ "$gap" = default ] || gap_arg=(--event-gap "$gap")
(eval "$app_env"; exec "$build/retailapp/medallion-retailapp" --rate "$rate" --connections 4 \
	--events $((rate * (seconds + 120))) "${gap_arg[@]}" --seed 2 --quiet) 2>"$work/app.log" &
app=$!
pids+=("$app")
sleep 2	# the load is under way

hz=$(getconf CLK_TCK)
sample >"$work/samples"
load=$(cut -d' ' -f1 /proc/loadavg)
for ((left = seconds; left > 0; left -= minute)); do
	sleep $((left < minute ? left : minute))
	sample >>"$work/samples"
	load="$load $(cut -d' ' -f1 /proc/loadavg)"
done
read -r t0 _ <"$work/samples"
t1=$(tail -1 "$work/samples" | cut -d' ' -f1)
kill -INT "$app"
wait "$app" || true
# Every event of the window must reach gold: wait for a watermark above
# the newest xid (at most 60 s), then stop polling.
newest=$(psql_admin -c "SELECT max(xid) FROM ordershistory")
for ((i = 0; i < 600; i++)); do
	[ -s "$work/watermarks" ] && [ "$(tail -1 "$work/watermarks" | cut -d' ' -f2)" -gt "$newest" ] && break
	sleep 0.1
done
kill -TERM "$poller"
wait "$poller" || die "gold-watch failed: $(cat "$work/gold-watch.log")"

# Every event committed in the window, with its xid and commit time (µs).
psql_admin -F ' ' -c "SELECT xid, (extract(epoch FROM c) * 1000000)::bigint
	FROM (SELECT xid, pg_xact_commit_timestamp(xmin) AS c FROM ordershistory) e
	WHERE c >= to_timestamp($t0) AND c < to_timestamp($t1)" >"$work/events"

# Runs: the history's, started in the window.
us() { printf '%.0f' "$(echo "$1 * 1000000" | bc -l)"; }
t0_us=$(us "$t0") t1_us=$(us "$t1")
q() { sqlite3 -separator ' ' "$1" "$2"; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", v[int((NR + 1) / 2)]; else printf "-" }'; }
runs=$(q "$work/history.db" "SELECT count(*) FROM runs WHERE started_at >= $t0_us AND started_at < $t1_us")
failed=$(q "$work/history.db" "SELECT count(*) FROM runs WHERE started_at >= $t0_us AND started_at < $t1_us AND state <> 'FINISHED'")
wall=$(echo "$t1 - $t0" | bc -l)
# share TICKS: ticks over the window as a share of one core.
share() { printf '%.3f' "$(echo "$1 / $hz / $wall" | bc -l)"; }
read -r _ o0 ss0 sc0 _ < <(head -1 "$work/samples")
read -r _ o1 ss1 sc1 _ < <(tail -1 "$work/samples")

echo "freshness, watch mode: retail app at $rate events/s on 4 connections (--event-gap $gap), $orders-order base, ${seconds} s," \
	"--min-interval ${MIN_INTERVAL:-200ms} ${WATCH_ARGS:-}, /api/gold polled every $poll_ms ms"
python3 "$src/bench/freshness/latency.py" "$work/watermarks" "$work/events" "$((minute * 1000000))"
printf 'runs: %.1f a minute (%d in the window, %d not FINISHED)\n' \
	"$(echo "$runs * 60 / $wall" | bc -l)" "$runs" "$failed"
printf 'CPU, share of one core: pipeline %s (orchestrator %s, server %s, runners and stages %s)\n' \
	"$(share $((o1 - o0 + ss1 - ss0 + sc1 - sc0)))" "$(share $((o1 - o0)))" \
	"$(share $((ss1 - ss0)))" "$(share $((sc1 - sc0)))"

# Flatness: pipeline CPU per run and the median run, first and last minute.
per_run() {	# LINE_A LINE_B: pipeline CPU ms per run between two samples
	echo "$1 $2" | awk -v hz="$hz" '{ r = $10 - $5; printf "%.1f", r ? ($7 + $8 + $9 - $2 - $3 - $4) * 1000 / hz / r : 0 }'
}
run_wall() {	# FROM_US TO_US: median ms of the runs started between
	q "$work/history.db" "SELECT (ended_at - started_at) / 1000.0 FROM runs
		WHERE started_at >= $1 AND started_at < $2 AND state = 'FINISHED'" | median
}
n=$(wc -l <"$work/samples")
first=$(per_run "$(sed -n 1p "$work/samples")" "$(sed -n 2p "$work/samples")")
last=$(per_run "$(sed -n "$((n - 1))p" "$work/samples")" "$(sed -n "${n}p" "$work/samples")")
m_us=$((minute * 1000000))
printf 'per run, first minute -> last minute: pipeline CPU %s -> %s ms (%.2fx); run time median %s -> %s ms\n' \
	"$first" "$last" "$(echo "$last / $first" | bc -l)" \
	"$(run_wall "$t0_us" $((t0_us + m_us)))" "$(run_wall $((t1_us - m_us)) "$t1_us")"
printf '  pipeline CPU per run, each minute:'
for ((i = 1; i < n; i++)); do
	printf ' %s' "$(per_run "$(sed -n "${i}p" "$work/samples")" "$(sed -n "$((i + 1))p" "$work/samples")")"
done
echo

# Where a run's milliseconds go: medians over the window's drivers, from
# the server's state file (created, started = runner recorded RUNNING,
# ended = runner recorded the exit), and each stage's CPU from its last
# log line ("done in S s, CPU C ms, ...").
echo "where a run's milliseconds go (medians over the window's runs):"
for s in ingestion transformation serving maintenance; do
	launch=$(q "$work/server.db" "SELECT (started_us - created_us) / 1000.0 FROM drivers
		WHERE stage = '$s' AND created_us >= $t0_us AND created_us < $t1_us AND state = 'FINISHED'" | median)
	ran=$(q "$work/server.db" "SELECT (ended_us - started_us) / 1000.0 FROM drivers
		WHERE stage = '$s' AND created_us >= $t0_us AND created_us < $t1_us AND state = 'FINISHED'" | median)
	cpu=$(q "$work/server.db" "SELECT id FROM drivers WHERE stage = '$s'
		AND created_us >= $t0_us AND created_us < $t1_us AND state = 'FINISHED'" |
		sed "s|.*|$work/logs/&.stderr|" | xargs -r sed -n 's/.*done in [0-9.]* s, CPU \([0-9.]*\) ms.*/\1/p' | median)
	printf '  %-15s create -> RUNNING %5s ms, RUNNING -> ended %6s ms, the stage process CPU %5s ms\n' \
		"$s" "$launch" "$ran" "$cpu"
done
# The orchestrator's part: a run's wall time less its drivers' (from
# create to end), and the pause between runs (min-interval, waiting for
# a commit).
q "$work/history.db" "SELECT run_id, started_at, ended_at FROM runs
	WHERE started_at >= $t0_us AND started_at < $t1_us AND state = 'FINISHED' ORDER BY run_id" >"$work/runs"
q "$work/server.db" "SELECT created_us, ended_us FROM drivers
	WHERE created_us >= $t0_us AND created_us < $t1_us ORDER BY created_us" >"$work/drivers"
awk 'NR == FNR { s[NR] = $2; e[NR] = $3; n = NR; next }
	{ c[FNR] = $1; d[FNR] = $2; m = FNR }
	END {
		j = 1
		for (i = 1; i <= n; i++) {
			busy = 0
			while (j <= m && c[j] < s[i]) j++
			while (j <= m && c[j] < e[i]) { busy += d[j] - c[j]; j++ }
			print (e[i] - s[i] - busy) / 1000.0, (i < n ? (s[i + 1] - e[i]) / 1000.0 : -1)
		}
	}' "$work/runs" "$work/drivers" >"$work/run-parts"
printf '  orchestrator between and around the stages %s ms a run; pause between runs %s ms\n' \
	"$(cut -d' ' -f1 "$work/run-parts" | median)" "$(cut -d' ' -f2 "$work/run-parts" | grep -v '^-1$' | median)"
echo "machine: $(nproc) cores, load average (1 min) $load, one a minute from the start"
