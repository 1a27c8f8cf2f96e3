#!/bin/bash
# gold_schema.sh - serving's real gold/branch_metrics.json, from ingestion
# -> transformation -> serving on a real PostgreSQL, against its contract
# schemas/json/branch_metrics.schema.json (checked by
# tests/tools/jsonschema_check):
#  - orders received but none delivered yet (null averages, no fastest
#    branch), one branch with a Unicode name;
#  - then the retail app's bulk load: many branches, deliveries;
#  - the checker is not a rubber stamp: it refuses a schema keyword it
#    does not implement (a typo cannot pass everything), and serving's
#    own output with one field dropped, one added, one of the wrong type
#    or one time laid out otherwise fails validation, so drift in serving
#    fails this test.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

b=$MEDALLION_BUILD_DIR
schema=$MEDALLION_SOURCE_DIR/schemas/json/branch_metrics.schema.json
check=$b/tests/pipeline/jsonschema_check
export MEDALLION_LAKE=$H_TMP/lake
gold=$MEDALLION_LAKE/gold/branch_metrics.json
pg_start
q() { pg_psql_admin -Atc "$1"; }
pipeline() {
	(eval "$(pg_env_pipeline)"; "$b/stages/ingestion/ingestion") &&
	"$b/stages/transformation/transformation" && "$b/stages/serving/serving"
}

sed 's/"additionalProperties"/"additionalProperty"/' "$schema" > "$H_TMP/typo.schema.json"
"$check" "$H_TMP/typo.schema.json" "$H_TMP/typo.schema.json" >/dev/null 2>&1
h_eq "the checker refuses a schema with a keyword it does not know (exit 2)" "$?" 2

# Orders in, none delivered: the nullable fields are null.
q "INSERT INTO orders (ordertime, branch) VALUES
	('2026-03-01 09:00:00.25', 'Zürich 東京 🚚'), ('2026-03-01 10:30:00', 'Zürich 東京 🚚');
   INSERT INTO ordershistory (orderid, status, updatedat)
	SELECT orderid, 'NEW', ordertime FROM orders" >/dev/null
h_check "pipeline run: two orders received, none delivered" pipeline
h_eq "gold has the branch, no delivery, no fastest branch" \
	"$(jq -c '[.branches[0].branch, .branches[0].orders_received, .branches[0].avg_delivery_hours, .fastest_branch]' "$gold")" \
	'["Zürich 東京 🚚",2,null,null]'
h_check "serving's output, nothing delivered, is valid under the schema" "$check" "$schema" "$gold"
cp "$gold" "$H_TMP/undelivered.json"

# The retail app's history: many branches, deliveries.
(eval "$(pg_env_app)"; "$b/retailapp/medallion-retailapp" --bulk 3000 --seed 3 --quiet) 2>/dev/null
h_check "pipeline run after the retail app's bulk load" pipeline
h_eq "gold has several branches, and a fastest one" \
	"$(jq '(.branches | length) > 2 and .fastest_branch != null and .busiest_branch != null' "$gold")" true
h_check "serving's output, with deliveries, is valid under the schema" "$check" "$schema" "$gold"

# Drift: serving's own output, changed one way at a time, must fail.
drift() {	# DESC JQ-FILTER [FILE]
	jq "$2" "${3:-$gold}" > "$H_TMP/drift.json"
	"$check" "$schema" "$H_TMP/drift.json" > "$H_TMP/drift.out"
	h_eq "drift caught: $1" "$?" 1
}
drift "a branch field dropped" 'del(.branches[0].p90_delivery_hours)'
drift "a field added" '.branches[0].orders_cancelled = 0'
drift "a top-level field added" '.schema_version = 2'
drift "a count written as text" '.branches[1].orders_received |= tostring'
drift "a negative average" '.branches[0].avg_delivery_hours = -1'
drift "a time with a zone" '.branches[0].first_order_at += "Z"'
drift "a time without microseconds" '.branches[0].last_order_at |= .[0:19]'
drift "generated_at with microseconds" '.generated_at = "2026-03-01T09:00:00.000000Z"'
drift "units changed" '.units.p50_delivery_hours = "hours"'
drift "fastest_branch without its average" 'del(.fastest_branch.avg_delivery_hours)'
drift "a null count (no order yet, wrongly)" '.branches[0].orders_received = null' "$H_TMP/undelivered.json"
drift "branches as an object" '.branches = {}'
h_done
