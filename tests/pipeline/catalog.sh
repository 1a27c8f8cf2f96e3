#!/bin/bash
# catalog.sh - the table catalog and the transformation's pending state
# on a real pipeline (PostgreSQL -> ingestion -> transformation ->
# serving):
#  - every table the stages wrote has the catalog's schema (test_catalog
#    --lake);
#  - an event whose order has not arrived is kept as a typed state in
#    silver's commit, still joins after a compaction of silver made the
#    newest commit an OPTIMIZE (which carries no state), and after the
#    lake is taken back to the older form (pendingIds, pendingFrom as
#    strings in operationParameters), which an upgrade reads;
#  - a corrupt state in the last silver commit stops the transformation
#    with exit 1 and a message naming the table and version, writing
#    nothing.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

b=$MEDALLION_BUILD_DIR
app=$b/retailapp/medallion-retailapp
lake=$b/stages/lake/medallion-lake
tx=$b/stages/transformation/transformation
export MEDALLION_LAKE=$H_TMP/lake
silver=$MEDALLION_LAKE/silver/allorders
pg_start
q() { pg_psql_admin -Atc "$1"; }
as_app() { (eval "$(pg_env_app)"; "$@"); }
pipeline() {
	(eval "$(pg_env_pipeline)"; "$b/stages/ingestion/ingestion") &&
	"$tx" && "$b/stages/serving/serving"
}
increment() { as_app "$app" --seed "$1" --events 40 --quiet 2>/dev/null && pipeline; }
in_silver() { "$lake" cat --json --columns orderid,status "$silver" | jq -r "select(.orderid == $1) | .status" | sort | paste -sd' '; }
last_commit() { ls "$silver"/_delta_log/*.json | tail -1; }
state() { jq -c 'select(.commitInfo) | .commitInfo.transformationState' "$(last_commit)"; }
# wait_event ORDERID HOUR: an event of an order that has not arrived.
wait_event() { q "INSERT INTO ordershistory (orderid, status, updatedat) VALUES ($1, 'NEW', '$day $2:00')" >/dev/null; }
# arrive ORDERID: its order arrives.
arrive() { q "INSERT INTO orders (orderid, ordertime, branch) VALUES ($1, '$day 09:00', 'Testbranch')" >/dev/null; }
# rewrite_last JQ: applies JQ to the commitInfo of silver's last commit.
rewrite_last() {
	local f
	f=$(last_commit)
	jq -c "if .commitInfo then $1 else . end" "$f" >"$H_TMP/commit" && cat "$H_TMP/commit" >"$f"
}
lake_sum() { (cd "$MEDALLION_LAKE" && find . -type f ! -path './_maintenance/*' | sort | xargs md5sum | md5sum); }

as_app "$app" --bulk 2000 --seed 5 --quiet 2>/dev/null
h_check "a first pipeline run" pipeline
q "ALTER TABLE ordershistory DROP CONSTRAINT ordershistory_status_check;
   ALTER TABLE ordershistory DROP CONSTRAINT ordershistory_orderid_fkey;
   ALTER TABLE ordershistory DISABLE TRIGGER ordershistory_advance" >/dev/null
day=$(q "SELECT max(updatedat)::date FROM ordershistory")
q "INSERT INTO ordershistory (orderid, status, updatedat)
   SELECT orderid, 'LOST', '$day 23:00' FROM orders LIMIT 1" >/dev/null
h_check "a run with a rejected event" pipeline
h_check "every table the stages wrote has the catalog's schema" \
	"$b/tests/pipeline/test_catalog" --lake "$MEDALLION_LAKE"
h_eq "... all six of them" "$(find "$MEDALLION_LAKE" -name _delta_log -type d | wc -l)" 6

# A waiting event, carried through increments and a compaction.
wait_event 900006 10
h_check "a run with an event whose order has not arrived" pipeline
hid=$(q "SELECT historyid FROM ordershistory WHERE orderid = 900006")
h_eq "silver's commit keeps it as a typed state" \
	"$(state | jq -c '[.format, .pendingIds]')" "[1,[$hid]]"
h_eq "... and no longer as strings in operationParameters" \
	"$(jq -r 'select(.commitInfo) | .commitInfo.operationParameters | has("pendingIds")' "$(last_commit)")" false
ok=1
for seed in 31 32 33; do increment $seed 2>>"$H_TMP/stages.log" || ok=0; done
h_eq "three increments while it waits" "$ok" 1
h_eq "... each keeping it waiting" "$(state | jq -c .pendingIds)" "[$hid]"
"$lake" optimize "$silver" >"$H_TMP/optimize.out" 2>&1
h_eq "silver compacted: its newest commit is an OPTIMIZE" \
	"$(jq -r 'select(.commitInfo) | .commitInfo.operation' "$(last_commit)")" OPTIMIZE
h_check "the transformation runs on after the compaction" "$tx"
arrive 900006
h_check "the order arrives" pipeline
h_eq "the event waiting behind the compaction joins" "$(in_silver 900006)" NEW
h_eq "... and nothing waits any more" "$(state | jq -c '[.pendingFrom, .pendingIds]')" "[-1,[]]"

# The older form, as a lake written before the typed state holds it.
wait_event 900007 11
h_check "another waiting event" pipeline
rewrite_last '.commitInfo.operationParameters += {pendingFrom:
	(.commitInfo.transformationState.pendingFrom | tostring), pendingIds:
	(.commitInfo.transformationState.pendingIds | map(tostring) | join(","))}
	| del(.commitInfo.transformationState)'
h_eq "silver's last commit taken back to the older form" "$(state)" null
h_check "the upgraded transformation runs on that lake" "$tx"
h_eq "... keeping the event waiting, in the typed form" \
	"$(state | jq -c .pendingIds)" "[$(q "SELECT historyid FROM ordershistory WHERE orderid = 900007")]"
rewrite_last '.commitInfo.operationParameters += {pendingFrom:
	(.commitInfo.transformationState.pendingFrom | tostring), pendingIds:
	(.commitInfo.transformationState.pendingIds | map(tostring) | join(","))}
	| del(.commitInfo.transformationState)'
arrive 900007
h_check "its order arrives" pipeline
h_eq "the event the older form kept joins" "$(in_silver 900007)" NEW

# A corrupt state: exit 1, the table and version named, nothing written.
wait_event 900008 12
h_check "a third waiting event" pipeline
version=$(basename "$(last_commit)" .json | sed 's/^0*//')
arrive 900008	# new data, so a run would write if it went on
(eval "$(pg_env_pipeline)"; "$b/stages/ingestion/ingestion") 2>>"$H_TMP/stages.log"
# corrupt NAME JQ MESSAGE: with JQ applied to the last silver commit,
# the transformation fails saying MESSAGE and leaves the lake as it was.
corrupt() {
	local rc=0 before
	cp "$(last_commit)" "$H_TMP/good"
	rewrite_last "$2"
	before=$(lake_sum)
	"$tx" 2>"$H_TMP/err" || rc=$?
	h_eq "$1: the transformation exits 1" "$rc" 1
	h_match "... naming the table and version" "$(cat "$H_TMP/err")" \
		"$silver version $version: pending state is malformed: $3"
	h_eq "... and writes nothing" "$(lake_sum)" "$before"
	cp "$H_TMP/good" "$(last_commit)"
}
corrupt "an id that is not a number" '.commitInfo.transformationState.pendingIds[0] = "x"' \
	'pendingIds\[0\] is not an integer'
corrupt "ids that are not an array" '.commitInfo.transformationState.pendingIds = "1,2"' \
	'pendingIds is not an array'
corrupt "no pendingFrom" 'del(.commitInfo.transformationState.pendingFrom)' \
	'pendingFrom is missing'
corrupt "a newer format" '.commitInfo.transformationState.format = 2' \
	'format 2 is not the one this transformation reads'
corrupt "another run's state" '.commitInfo.transformationState.run += 5' \
	"it is run [0-9]+'s, but the table's last run is"
corrupt "the older form with a broken list" \
	'del(.commitInfo.transformationState) | .commitInfo.operationParameters += {pendingFrom: "1", pendingIds: "12,,30"}' \
	'operationParameters.pendingIds: item 1'
h_check "with the state intact again, the run goes on" "$tx"
h_eq "... and the waiting event joins" "$(in_silver 900008)" NEW
h_done
