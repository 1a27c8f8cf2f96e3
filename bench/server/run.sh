#!/bin/bash
# run.sh - medallion-server benchmarks, each against a peer in the same run:
#   1. status requests/s with wrk, against nginx serving the same JSON
#      bytes as a static file (target >= 0.7x);
#   2. submit -> stage running latency, p50/p99, against a bare
#      posix_spawn of the same program (target <= 3x).
# Usage: bench/server/run.sh [BUILD-DIR]   (default: build)
# Needs wrk and nginx (scripts/install-deps bench). Uses loopback ports only
# and stops everything it started.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
seconds=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-64}
launches=${BENCH_LAUNCHES:-200}
for tool in wrk nginx curl jq; do
	command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin command -v "$tool" \
		>/dev/null || { echo "run.sh: $tool is missing: scripts/install-deps bench" >&2; exit 1; }
done
PATH=$PATH:/usr/sbin

tmp=$(mktemp -d /tmp/medallion-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

mkdir -p "$tmp/stages" "$tmp/logs" "$tmp/www"
cp "$build/bench/server/stamp" "$tmp/stages/stamp"
"$build/server/medallion-server" --port 0 --port-file "$tmp/port" \
	--state "$tmp/state.db" --stages-dir "$tmp/stages" --log-dir "$tmp/logs" \
	--max-running 4 2>"$tmp/server.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat "$tmp/port")

echo "== status requests per second (wrk -t2 -c$conns -d${seconds}s, loopback)"
id=$(curl -sS -X POST "$url/v1/submissions/create" -d "{\"action\":\"CreateSubmissionRequest\",\"clientSparkVersion\":\"4.0.0\",\"appResource\":\"stamp\",\"mainClass\":\"m\",\"appArgs\":[\"$tmp/first\"],\"sparkProperties\":{}}" | jq -r .submissionId)
for _ in $(seq 100); do
	[ "$(curl -sS "$url/v1/submissions/status/$id" | jq -r .driverState)" = FINISHED ] && break
	sleep 0.05
done
mkdir -p "$tmp/www/v1/submissions/status"
curl -sS "$url/v1/submissions/status/$id" -o "$tmp/www/v1/submissions/status/$id"
chmod 755 "$tmp"; chmod -R a+rX "$tmp/www"	# nginx workers may run as www-data
nport=$("$build/tests/freeport")
cat >"$tmp/nginx.conf" <<NGINX
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx-body;
	proxy_temp_path $tmp/nginx-proxy;
	fastcgi_temp_path $tmp/nginx-fastcgi;
	uwsgi_temp_path $tmp/nginx-uwsgi;
	scgi_temp_path $tmp/nginx-scgi;
	server {
		listen 127.0.0.1:$nport;
		root $tmp/www;
		default_type application/json;
	}
}
NGINX
nginx -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log"
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$nport/v1/submissions/status/$id" >/dev/null && break; sleep 0.05; done
cmp <(curl -sS "http://127.0.0.1:$nport/v1/submissions/status/$id") \
    <(curl -sS "$url/v1/submissions/status/$id") \
	|| { echo "run.sh: nginx and the server answer different bytes" >&2; exit 1; }

rps() { wrk -t2 -c"$conns" -d"${seconds}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
ours=$(rps "$url/v1/submissions/status/$id")
peer=$(rps "http://127.0.0.1:$nport/v1/submissions/status/$id")
printf '  %-26s %10.0f req/s\n' "nginx (static file)" "$peer"
printf '  %-26s %10.0f req/s\n' "medallion-server" "$ours"
printf '  ratio server/nginx         %10.2fx (target >= 0.7x)\n' \
	"$(echo "$ours / $peer" | bc -l)"
kill "$(cat "$tmp/nginx.pid")"; rm -f "$tmp/nginx.pid"

echo "== submit -> running latency"
"$build/bench/server/launch-latency" "$url" "$tmp/stages/stamp" stamp \
	"$launches" "$tmp" "$tmp/state.db"
