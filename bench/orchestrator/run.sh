#!/bin/bash
# run.sh - orchestrator benchmark: the gap between one stage reaching
# FINISHED and the next one RUNNING (server timestamps), over a pipeline
# of three trivial stages run RUNS times, printed beside the stages' own
# run time. Airflow's scheduler spends 3-6 s there; target p50 < 50 ms.
# Usage: bench/orchestrator/run.sh [BUILD-DIR]   (env: RUNS, default 30)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
runs=${RUNS:-30}
tmp=$(mktemp -d /tmp/medallion-bench.XXXXXX)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

mkdir -p "$tmp/stages" "$tmp/logs"
for s in ingestion transformation serving; do
	printf '#!/bin/sh\nexit 0\n' > "$tmp/stages/$s"
	chmod 755 "$tmp/stages/$s"
done
"$build/server/medallion-server" --host 127.0.0.1 --port 0 --port-file "$tmp/port" \
	--state "$tmp/state.db" --stages-dir "$tmp/stages" --log-dir "$tmp/logs" \
	>"$tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$tmp/port")

for _ in $(seq "$runs"); do
	"$build/orchestrator/medallion-orchestrator" --master "$url" \
		--history "$tmp/history.db" run 2>/dev/null
done
curl -s "$url/v1/submissions?limit=1000" >"$tmp/list.json"
# Consecutive stages of one run: gap = next startedAt - previous endedAt
# (the server's timestamps, in milliseconds).
jq -r '.submissions | sort_by(.createdAt) | .[] | [.stage, .startedAt, .endedAt, .durationMs] | @tsv' "$tmp/list.json" |
awk -F'\t' -v gaps="$tmp/gaps" -v durs="$tmp/durs" '
	function ms(t,   d) {	# "YYYY-MM-DDTHH:MM:SS.mmmZ" -> ms of the day
		split(substr(t, 12, 12), d, ":")
		return ((d[1] * 60 + d[2]) * 60 + d[3]) * 1000
	}
	{ print $4 > durs
	  if (NR > 1 && $1 != "ingestion") print ms($2) - prev_end > gaps
	  prev_end = ms($3) }'
pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int(NR * p) + 1; if (i > NR) i = NR; print v[i] }'; }
echo "orchestrator benchmark: $runs runs of ingestion -> transformation -> serving (trivial stages)"
printf 'gap FINISHED -> next RUNNING: p50 %s ms, p90 %s ms, max %s ms (target p50 < 50 ms; Airflow: 3000-6000 ms)\n' \
	"$(pct "$tmp/gaps" 0.5)" "$(pct "$tmp/gaps" 0.9)" "$(sort -n "$tmp/gaps" | tail -1)"
printf 'stage run time itself:       p50 %s ms, p90 %s ms\n' "$(pct "$tmp/durs" 0.5)" "$(pct "$tmp/durs" 0.9)"
