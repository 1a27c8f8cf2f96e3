#!/bin/bash
# run.sh - medallion-retailapp's event rate on an empty database against
# its rate once the history holds 6 million rows (2 million orders loaded
# with --bulk), in the same run, on a throwaway PostgreSQL. Target: the
# loaded rate stays above half the empty rate. Also prints the --bulk time.
# Usage: bench/retailapp/run.sh [BUILD-DIR] (env: EVENTS, BULK_ORDERS)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
app=$build/retailapp/medallion-retailapp
events=${EVENTS:-5000}
orders=${BULK_ORDERS:-2000000}
work=$(mktemp -d /tmp/medallion-bench.XXXXXX)
chmod 711 "$work"
trap '"$src/tests/lib/pg-cluster" stop "$work/pg" >/dev/null 2>&1; rm -rf "$work"' EXIT
eval "$("$src/tests/lib/pg-cluster" start "$work/pg")"
eval "$("$src/tests/lib/pg-cluster" env "$work/pg" medallion_app)"

rate() { "$app" --events "$events" --quiet --json "$@" | jq -r '.summary.events_per_second'; }
empty=$(rate --seed 1)
echo "empty database:          $(printf '%8.0f' "$empty") events/s ($events events, 1 connection)"
start=$(date +%s.%N)
"$app" --bulk "$orders" --seed 2 2>&1 | sed 's/^/  /'
end=$(date +%s.%N)
PGUSER=postgres "$PG_BINDIR/psql" -XAtqc "ANALYZE orders, ordershistory, orderstate" >/dev/null
rows=$("$PG_BINDIR/psql" -XAtc "SELECT count(*) FROM ordershistory")
loaded=$(rate --seed 3)
echo "with $rows history rows: $(printf '%8.0f' "$loaded") events/s"
printf 'ratio loaded/empty:      %8.2fx (target > 0.5x)\n' "$(echo "$loaded / $empty" | bc -l)"
printf 'bulk load of %d orders:  %8.1f s\n' "$orders" "$(echo "$end - $start" | bc -l)"
