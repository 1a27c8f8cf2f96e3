#!/usr/bin/env bash
# pipeline.sh - the whole pipeline on an s3:// lake (a throwaway Ceph RGW)
# against the same pipeline on a local lake, from one source: the same
# bronze, silver and gold after a full run and after an increment (every
# table's rows, and gold equal to SQL on the source); the run survives the
# gateway going away for a moment (refused connections, retried); a
# maintenance run on S3; `medallion-lake check` finds no problem on any S3
# table; and the S3 tables copied to a local folder read in DuckDB exactly
# as the local lake's.
. "$MEDALLION_SOURCE_DIR/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/s3.sh"
b=$MEDALLION_BUILD_DIR
lake=$b/stages/lake/medallion-lake
app=$b/retailapp/medallion-retailapp
tables="bronze/orders bronze/ordershistory silver/allorders silver/rejected gold/branch_state gold/branch_metrics"
s3_start
pg_start
q() { pg_psql_admin -Atc "$1"; }
. "$MEDALLION_SOURCE_DIR/tests/lib/gold.sh"
as_app() { (eval "$(pg_env_app)"; "$@"); }
local_lake=$H_TMP/lake
s3_lake=s3://$S3_BUCKET/lake
mkdir -p "$local_lake"

# run_all LAKE LOG: the three stages, each one's stderr appended to LOG.
run_all() {
	(export MEDALLION_LAKE=$1
	 (eval "$(pg_env_pipeline)"; "$b/stages/ingestion/ingestion") 2>>"$2" &&
	 "$b/stages/transformation/transformation" 2>>"$2" &&
	 "$b/stages/serving/serving" 2>>"$2")
}
# rows TABLE LAKE: the table's rows, sorted (CSV).
rows() { "$lake" cat "$2/$1" | tail -n +2 | sort; }
same_tables() {
	local t bad=""
	for t in $tables; do
		if ! cmp -s <(rows "$t" "$local_lake") <(rows "$t" "$s3_lake"); then
			bad="$bad $t"
		fi
	done
	h_eq "$1: every table holds the same rows on S3 as on disk" "$bad" ""
}
requests() { grep -o 'S3: [0-9]* requests[^,]*' "$1" | awk '{s += $2} END {print s + 0}'; }

as_app "$app" --bulk 3000 --seed 5 --quiet 2>/dev/null
h_check "a full run on a local lake" run_all "$local_lake" "$H_TMP/local.log"
h_check "a full run on the S3 lake" run_all "$s3_lake" "$H_TMP/s3.log"
h_log "full run: $(requests "$H_TMP/s3.log") S3 requests"
same_tables "after the full run"
s3_get lake/gold/branch_metrics.json >"$H_TMP/gold.json"
h_eq "gold on S3 equals SQL on the source" "$(gold_compare "$H_TMP/gold.json")" ""

as_app "$app" --seed 6 --events 800 --quiet 2>/dev/null
: >"$H_TMP/s3-inc.log"
h_check "an increment on the local lake" run_all "$local_lake" "$H_TMP/local.log"
h_check "an increment on the S3 lake" run_all "$s3_lake" "$H_TMP/s3-inc.log"
h_log "increment of 800 events: $(requests "$H_TMP/s3-inc.log") S3 requests"
same_tables "after an increment"

# The gateway goes away for two seconds in the middle of a run: its
# requests meet refused connections and are retried with back-off.
as_app "$app" --seed 7 --events 500 --quiet 2>/dev/null
(sleep 0.3; "$S3C" gateway-stop "$S3_DIR"; sleep 2; "$S3C" gateway-start "$S3_DIR") &
fault=$!
h_check "a run while the gateway stops and starts again succeeds" \
	run_all "$s3_lake" "$H_TMP/s3-fault.log"
wait "$fault"
h_check "... after retries" grep -q 'retried' "$H_TMP/s3-fault.log"
h_log "$(grep -o 'S3: .*' "$H_TMP/s3-fault.log" | tr '\n' ';')"
h_check "the same increment on the local lake" run_all "$local_lake" "$H_TMP/local.log"
same_tables "after the gateway's outage"
s3_get lake/gold/branch_metrics.json >"$H_TMP/gold.json"
h_eq "gold on S3 still equals SQL on the source" "$(gold_compare "$H_TMP/gold.json")" ""

h_check "maintenance on the S3 lake" env MEDALLION_LAKE="$s3_lake" "$b/stages/maintenance/maintenance"
same_tables "after maintenance"
for t in $tables; do
	[ -d "$local_lake/$t/_delta_log" ] || continue	# no rejects, no table
	h_check "medallion-lake check $t on S3 (--deep)" "$lake" check --deep "$s3_lake/$t"
done

# DuckDB reads the S3 tables' live files, copied to a folder, as it reads
# the local lake's.
s3_mirror lake/ "$H_TMP/mirror"
duck_rows() {	# LAKE TABLE: DuckDB's digest of the live files' rows
	local files
	files=$("$lake" ls --json "$1/$2" | jq -r '.path' | sed "s|^|'$1/$2/|; s|$|'|" | paste -sd, -)
	h_duckdb "SELECT count(*) AS n, md5(string_agg(r, '|' ORDER BY r)) AS d FROM
		(SELECT CAST(t AS VARCHAR) AS r FROM read_parquet([$files]) t)"
}
for t in silver/allorders gold/branch_metrics bronze/orders; do
	h_eq "DuckDB reads $t copied from S3 as the local one" \
		"$(duck_rows "$H_TMP/mirror" "$t")" "$(duck_rows "$local_lake" "$t")"
done
h_done
