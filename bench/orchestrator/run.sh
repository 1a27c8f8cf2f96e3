#!/bin/bash
# run.sh - orchestrator benchmark: the gap between one stage reaching
# FINISHED and the next one RUNNING, over a pipeline of three trivial
# stages run RUNS times through medallion-server, printed beside the
# stages' own run time and against a bare posix_spawn of a program
# (measured in the same run by bench/server's launch-latency, which also
# gives the server's own create -> RUNNING path).
#
# The gap is taken from the server's state file (microseconds): the next
# driver's started_us (its runner recorded RUNNING) minus the previous
# driver's ended_us (its runner recorded FINISHED). In between: the
# server tells the orchestrator (a long-polled status answers at once),
# the orchestrator records the attempt and submits the next stage, the
# server starts a runner, and the runner records RUNNING.
# Target: p50 < 3 ms (Airflow's scheduler spends 3-6 s there).
#
# Usage: bench/orchestrator/run.sh [BUILD-DIR]
#   env: RUNS (default 30), LAUNCHES (posix_spawn comparison, default 100),
#        POLL=1 to make the orchestrator sleep-poll as against a Spark
#        master (the server then does not offer the long-poll).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
runs=${RUNS:-30}
launches=${LAUNCHES:-100}
for tool in sqlite3 awk; do
	command -v "$tool" >/dev/null ||
		{ echo "run.sh: $tool is missing" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/medallion-bench.XXXXXX)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

mkdir -p "$tmp/stages" "$tmp/logs"
for s in ingestion transformation serving; do
	printf '#!/bin/sh\nexit 0\n' > "$tmp/stages/$s"
	chmod 755 "$tmp/stages/$s"
done
cp "$build/bench/server/stamp" "$tmp/stages/stamp"
cat >"$tmp/pipeline.json" <<'JSON'
{"name": "bench", "stages": [{"name": "ingestion"},
	{"name": "transformation"}, {"name": "serving"}]}
JSON
extra=()
[ "${POLL:-0}" = 1 ] && extra+=(--no-long-poll)
"$build/server/medallion-server" --host 127.0.0.1 --port 0 --port-file "$tmp/port" \
	--state "$tmp/state.db" --stages-dir "$tmp/stages" --log-dir "$tmp/logs" \
	"${extra[@]}" >"$tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$tmp/port")

for i in $(seq "$runs"); do
	"$build/orchestrator/medallion-orchestrator" --master "$url" \
		--pipeline "$tmp/pipeline.json" --history "$tmp/history.db" \
		run 2>"$tmp/orch.log" ||
		{ echo "run.sh: run $i failed:" >&2; cat "$tmp/orch.log" >&2; exit 1; }
done
# Consecutive stages of one run, in submission order (microseconds).
sqlite3 -separator ' ' "$tmp/state.db" \
	"SELECT stage, started_us, ended_us FROM drivers WHERE stage <> 'stamp' ORDER BY seq" |
awk -v gaps="$tmp/gaps" -v durs="$tmp/durs" '
	{ print ($3 - $2) / 1000 > durs
	  if ($1 != "ingestion") print ($2 - prev_end) / 1000 > gaps
	  prev_end = $3 }'
pct() { sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p) + 1; if (i > NR) i = NR; print v[i] }'; }
gap50=$(pct "$tmp/gaps" 0.5)
gap90=$(pct "$tmp/gaps" 0.9)

"$build/bench/server/launch-latency" "$url" "$tmp/stages/stamp" stamp \
	"$launches" "$tmp" "$tmp/state.db" >"$tmp/launch.txt"
# "posix_spawn -> program runs  p50 N  p99 N" (microseconds).
spawn50=$(awk '/posix_spawn/ { for (i = 1; i <= NF; i++) if ($i == "p50") print $(i + 1) / 1000 }' "$tmp/launch.txt")

echo "orchestrator benchmark: $runs runs of ingestion -> transformation -> serving (trivial stages)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
[ "${POLL:-0}" = 1 ] && echo "(POLL=1: server without the long-poll, the orchestrator sleep-polls)"
printf 'gap FINISHED -> next RUNNING: p50 %.2f ms, p90 %.2f ms, max %.2f ms (target p50 < 3 ms; Airflow: 3000-6000 ms)\n' \
	"$gap50" "$gap90" "$(sort -g "$tmp/gaps" | tail -1)"
printf 'stage run time itself:       p50 %.2f ms, p90 %.2f ms\n' \
	"$(pct "$tmp/durs" 0.5)" "$(pct "$tmp/durs" 0.9)"
printf 'bare posix_spawn -> program runs: p50 %s ms; gap p50 / spawn p50 = %.1fx\n' \
	"$spawn50" "$(awk -v g="$gap50" -v s="$spawn50" 'BEGIN { print (s > 0 ? g / s : 0) }')"
cat "$tmp/launch.txt"
