#!/usr/bin/env bash
# retention-bench.sh - run by hand, not by meson: what /metrics, list pages
# and retention cost at scale. Usage:
#
#   tests/server/retention-bench.sh BUILD_DIR [N]     (N default 80000)
#
# 1. A state file with N finished drivers (~1 KB of request each), then the
#    median of 21 requests on one keep-alive connection: readyz (the
#    floor), /metrics, the first list page, offset pages deep in the list
#    and, when the server knows it, the same depth by ?before=.
# 2. The same N drivers expired, with two log files each: how long the
#    default --retain takes to delete them, and status request latencies
#    (p99, p99.9, max) while it does; the state file and log folder after.
#
# Works against a server without --retain/?before= too (an older build),
# to compare: it then skips what that server does not have.
set -eu
build=${1:?usage: retention-bench.sh BUILD_DIR [N]}
n=${2:-80000}
bin=$build/server/medallion-server
work=$(mktemp -d "${TMPDIR:-/tmp}/retention-bench.XXXXXX")
pid=
cleanup() { [ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/logs" "$work/stages"
has_retain=0
"$bin" --help | grep -q -- --retain && has_retain=1

start() {	# start [options]: the server on a free port; sets url
	rm -f "$work/port"
	"$bin" --port 0 --port-file "$work/port" --state "$work/state.db" \
		--stages-dir "$work/stages" --log-dir "$work/logs" "$@" \
		>>"$work/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do [ -s "$work/port" ] && break; sleep 0.05; done
	url=http://127.0.0.1:$(cat "$work/port")
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
# fill ENDED_BASE_US: N finished drivers, the i-th submitted i ms after the base.
fill() {
	sqlite3 "$work/state.db" "with recursive k(i) as (select 1 union all select i + 1 from k where i < $n)
	 insert into drivers (id, stage, state, request, argv, env, created_us, claimed_us, started_us, ended_us, attempts, exit_code)
	 select printf('driver-20261101000000-%06d', i), 'ingestion', case when i % 10 = 0 then 'FAILED' else 'FINISHED' end,
	 hex(zeroblob(500)), '[]', '{}', $1 + i * 1000, $1 + i * 1000, $1 + i * 1000 + 3000, $1 + i * 1000 + 900000, 1, 0 from k"
}
median() {	# median PATH: of 21 requests on one connection, in ms
	local args=()
	for _ in $(seq 21); do args+=("$url$1" -o /dev/null); done
	curl -s -w '%{time_total}\n' "${args[@]}" | sort -n | sed -n 11p |
		awk '{printf "%.3f ms", $1 * 1000}'
}

keep=(); [ "$has_retain" = 1 ] && keep=(--retain forever)
start "${keep[@]}"; stop		# creates the schema
now_us=$(($(date +%s) * 1000000))
fill $((now_us - n * 1000 - 3600 * 1000000))
start "${keep[@]}"
echo "$n drivers, $(stat -c %s "$work/state.db") bytes of state ($bin)"
echo "  readyz (floor)            $(median /v1/submissions/readyz)"
echo "  /metrics                  $(median /metrics)"
echo "  list, first page          $(median '/v1/submissions?limit=50')"
echo "  list, offset $((n - 1000))        $(median "/v1/submissions?limit=50&offset=$((n - 1000))")"
echo "  FAILED, offset $((n / 10 - 100))       $(median "/v1/submissions?limit=50&state=FAILED&offset=$((n / 10 - 100))")"
if [ "$has_retain" = 1 ]; then
	echo "  list, before the 1000th   $(median '/v1/submissions?limit=50&before=driver-20261101000000-001000')"
	echo "  FAILED, before the 1000th $(median '/v1/submissions?limit=50&state=FAILED&before=driver-20261101000000-001000')"
fi
stop
[ "$has_retain" = 1 ] || exit 0

# Expire them all (ended 40 days ago) and give each its two log files.
sqlite3 "$work/state.db" "update drivers set ended_us = ended_us - 40 * 86400 * 1000000"
(cd "$work/logs" && seq -f 'driver-20261101000000-%06g' 1 "$n" |
	awk '{print $0 ".stdout"; print $0 ".stderr"}' | xargs touch)
t0=$(date +%s%N)
start
args=()
for _ in $(seq 400); do args+=("$url/v1/submissions/status/driver-20261101000000-000001" -o /dev/null); done
while [ "$(sqlite3 "$work/state.db" "select sum(n) from driver_counts where state in ('FINISHED', 'FAILED')")" != 0 ]; do
	curl -s -w '%{time_total}\n' "${args[@]}" >>"$work/times"
done
t1=$(date +%s%N)
sort -n "$work/times" -o "$work/times"
count=$(wc -l <"$work/times")
pick() { sed -n "$((count * $1 / 1000))p" "$work/times" | awk '{printf "%.1f ms", $1 * 1000}'; }
echo "retention of $n expired drivers: $(((t1 - t0) / 1000000)) ms;" \
	"$count status requests meanwhile: p99 $(pick 990), p99.9 $(pick 999)," \
	"max $(tail -1 "$work/times" | awk '{printf "%.1f ms", $1 * 1000}')"
sqlite3 "$work/state.db" "pragma wal_checkpoint(truncate)" >/dev/null
echo "  after: $(stat -c %s "$work/state.db") bytes of state, $(ls "$work/logs" | wc -l) log files"
