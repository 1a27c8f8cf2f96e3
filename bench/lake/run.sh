#!/bin/bash
# run.sh - lake benchmark: Parquet write and read throughput of a table
# shaped like ordershistory, ours against DuckDB in the same run, same
# rows, same codec. Prints rows/s, MB/s and the ratios (ours / DuckDB
# throughput; >= 0.8 is the target), and how fast DuckDB reads our file
# against the same rows written by DuckDB itself (same query, same run;
# >= 0.8 is the target: other engines should not pay for our layout).
# Our timestamps are instants (TIMESTAMPTZ in DuckDB), DuckDB writes
# naive ones: the layout is compared with DuckDB's own file rewritten
# with the same type, and the naive one is shown for reference.
#   bench/lake/run.sh [ROWS=6000000] [CODEC=zstd]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${MEDALLION_BUILD_DIR:-$src/build}
rows=${1:-6000000}
codec=${2:-zstd}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ninja -C "$build" bench/lake/lake_bench >/dev/null
[ -d "$src/tests/interop/node_modules" ] ||
	(cd "$src/tests/interop" && npm ci --no-audit --no-fund --loglevel=error)
export NODE_PATH=$src/tests/interop/node_modules

best() {	# best of 3 runs of a command printing JSON; key = seconds field
	local key=$1 best_line= best_s=
	shift
	for _ in 1 2 3; do
		line=$("$@")
		s=$(jq -r ".$key" <<<"$line")
		if [ -z "$best_s" ] || awk "BEGIN{exit !($s < $best_s)}"; then best_s=$s best_line=$line; fi
	done
	printf '%s\n' "$best_line"
}
w=$(best seconds "$build/bench/lake/lake_bench" write "$tmp/ours.parquet" "$rows" "$codec")
r=$(best seconds "$build/bench/lake/lake_bench" read "$tmp/ours.parquet")
cp "$here/duckdb-lake.mjs" "$src/tests/interop/.duckdb-lake.mjs"
trap 'rm -rf "$tmp" "$src/tests/interop/.duckdb-lake.mjs"' EXIT
d=$(best write_seconds node "$src/tests/interop/.duckdb-lake.mjs" "$tmp" "$rows" "$codec" "$tmp/ours.parquet")

jq -rn --argjson w "$w" --argjson r "$r" --argjson d "$d" --arg rows "$rows" --arg codec "$codec" '
  def mbs(b; s): (b / 1048576 / s * 10 | round / 10);
  def rps(s): ($rows | tonumber) / s | round;
  "lake benchmark: \($rows) rows shaped like ordershistory, codec \($codec), DuckDB threads \($d.threads)",
  "  write  ours   \(rps($w.seconds)) rows/s  \(mbs($w.bytes; $w.seconds)) MB/s  (\($w.seconds) s, \($w.bytes) bytes)",
  "  write  duckdb \(rps($d.write_seconds)) rows/s  \(mbs($d.bytes; $d.write_seconds)) MB/s  (\($d.write_seconds * 1000 | round / 1000) s, \($d.bytes) bytes)",
  "  read   ours   \(rps($r.seconds)) rows/s  \(mbs($w.bytes; $r.seconds)) MB/s  (\($r.seconds) s, \($r.threads) threads)",
  "  read   duckdb \(rps($d.read_seconds)) rows/s  \(mbs($d.bytes; $d.read_seconds)) MB/s  (\($d.read_seconds * 1000 | round / 1000) s)",
  "  read   duckdb reading ours \(rps($d.read_ours_seconds)) rows/s  (\($d.read_ours_seconds * 1000 | round / 1000) s, same sums: \($d.check_ours == $d.check))",
  "  read   duckdb reading its own, TIMESTAMPTZ like ours \(rps($d.read_tz_seconds)) rows/s  (\($d.read_tz_seconds * 1000 | round / 1000) s, same sums: \($d.check_tz == $d.check))",
  "  row groups (count/most rows): ours \($d.row_groups_ours), duckdb \($d.row_groups_duckdb)",
  "write ratio (ours/duckdb throughput): \($d.write_seconds / $w.seconds * 100 | round / 100)x",
  "read ratio (ours/duckdb throughput): \($d.read_seconds / $r.seconds * 100 | round / 100)x",
  "duckdb read ratio (duckdb reading ours / its own, same types, throughput): \($d.read_tz_seconds / $d.read_ours_seconds * 100 | round / 100)x (target >= 0.8)",
  "  (against its own file with naive timestamps: \($d.read_seconds / $d.read_ours_seconds * 100 | round / 100)x)"'
