#!/bin/bash
# watermark.sh - the source watermark travels from ingestion through
# silver into gold (stages/catalog/catalog_watermark.h), on a real
# PostgreSQL:
#  - gold/branch_metrics.json and /api/gold carry source_watermark, and
#    gold's counts per branch equal SQL on the source restricted to the
#    rows below the bound (xid < xid_bound on both tables), with every
#    row committed before the run below it;
#  - a transaction still open when a run starts holds the bound back:
#    it and a transaction committed after it are neither below the bound
#    nor in gold, and the next run takes both in and moves the bound;
#  - the bound never goes back; a run with nothing new keeps it, and so
#    does a run that brings rows of one table only (the other table's
#    bronze bound did not move: silver's is the lower of the two);
#  - a lake written before watermarks (stripped from every commit and
#    from gold) is still served, gets source_watermark null while one
#    bronze table's last commit has none, and a watermark again once
#    both have one;
#  - a malformed watermark in silver's last commit stops serving (exit 1,
#    naming the table and version), and gold stays as it was.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

b=$MEDALLION_BUILD_DIR
schema=$MEDALLION_SOURCE_DIR/schemas/json/branch_metrics.schema.json
check=$b/tests/pipeline/jsonschema_check
export MEDALLION_LAKE=$H_TMP/lake
gold=$MEDALLION_LAKE/gold/branch_metrics.json
pg_start
q() { pg_psql_admin -Atc "$1"; }
ingest() { (eval "$(pg_env_pipeline)"; "$b/stages/ingestion/ingestion"); }
pipeline() {
	ingest && "$b/stages/transformation/transformation" &&
	"$b/stages/serving/serving"
}
bound() { jq -r '.source_watermark.xid_bound // "null"' "$gold"; }
# Gold's counts, and SQL's over the rows below bound $1: branch|NEW|DELIVERED.
ours() { jq -r '.branches | sort_by(.branch)[] | "\(.branch)|\(.orders_received)|\(.orders_delivered)"' "$gold"; }
below() {
	q "SELECT o.branch, count(*) FILTER (WHERE h.status = 'NEW'),
	  count(*) FILTER (WHERE h.status = 'DELIVERED')
	  FROM ordershistory h JOIN orders o USING (orderid)
	  WHERE h.xid < '$1'::xid8 AND o.xid < '$1'::xid8
	  GROUP BY 1 ORDER BY o.branch COLLATE \"C\""
}
# An order of branch $1 and its NEW event, in one transaction.
order() {
	echo "WITH o AS (INSERT INTO orders (ordertime, branch)
	  VALUES ('2026-03-01 09:00:00', '$1') RETURNING orderid, ordertime)
	  INSERT INTO ordershistory (orderid, status, updatedat)
	  SELECT orderid, 'NEW', ordertime FROM o;"
}
# Branch $1's orders delivered, hours $2 after their order (INTRANSIT
# first, as the source's lifecycle trigger requires).
deliver() {
	q "INSERT INTO ordershistory (orderid, status, updatedat)
	   SELECT orderid, 'INTRANSIT', ordertime + interval '1 hour'
	   FROM orders WHERE branch = '$1';
	   INSERT INTO ordershistory (orderid, status, updatedat)
	   SELECT orderid, 'DELIVERED', ordertime + interval '$2 hours'
	   FROM orders WHERE branch = '$1'" >/dev/null
}
now_utc() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }

q "$(order Alpha) $(order Alpha) $(order Beta)" >/dev/null
t0=$(now_utc)
h_check "pipeline run on three orders" pipeline
t1=$(now_utc)
b1=$(bound)
h_match "gold carries an xid bound" "$b1" '^[1-9][0-9]*$'
h_check "... valid under the schema" "$check" "$schema" "$gold"
h_eq "every row committed before the run is below the bound" \
	"$(q "SELECT count(*) FROM orders WHERE xid >= '$b1'::xid8") $(q "SELECT count(*) FROM ordershistory WHERE xid >= '$b1'::xid8")" "0 0"
h_eq "gold's counts equal SQL on the rows below the bound" "$(ours)" "$(below "$b1")"
h_eq "... which are all three orders" "$(ours | tr '\n' ' ')" "Alpha|2|0 Beta|1|0 "
at=$(jq -r .source_watermark.snapshot_at "$gold")
h_eq "snapshot_at is PostgreSQL's time during the run" \
	"$([[ "$t0" < "$at" && "$at" < "$t1" ]] && echo yes) $at" "yes $at"
h_match "bronze, silver and gold commits all record it" \
	"$(cat "$MEDALLION_LAKE"/bronze/orders/_delta_log/00000000000000000000.json \
		"$MEDALLION_LAKE"/silver/allorders/_delta_log/00000000000000000000.json \
		"$MEDALLION_LAKE"/gold/branch_state/_delta_log/00000000000000000000.json \
		"$MEDALLION_LAKE"/gold/branch_metrics/_delta_log/00000000000000000000.json |
		grep -o "\"sourceWatermark\":{\"format\":1,\"xidBound\":$b1," | wc -l)" '^4$'

h_server_start --lake "$MEDALLION_LAKE"
h_eq "/api/gold carries the same watermark" \
	"$(curl -fsS "$H_URL/api/gold" | jq -c .source_watermark)" "$(jq -c .source_watermark "$gold")"

# A transaction open while the run starts holds the bound back.
mkfifo "$H_TMP/open.in"
pg_psql_admin -At < "$H_TMP/open.in" > "$H_TMP/open.out" 2>&1 &
open_pid=$!
exec 7>"$H_TMP/open.in"
echo "BEGIN; $(order Gamma) SELECT pg_current_xact_id();" >&7
h_wait_until 10 grep -q '^[0-9]' "$H_TMP/open.out" || h_fail "the open transaction did not start"
open_xid=$(grep '^[0-9]' "$H_TMP/open.out")
q "$(order Beta)" >/dev/null	# committed, after the open one began
h_check "pipeline run while a transaction is open" pipeline
b2=$(bound)
h_eq "the bound did not go back, nor past the open transaction" \
	"$(q "SELECT '$b2'::xid8 >= '$b1'::xid8, '$b2'::xid8 <= '$open_xid'::xid8")" "t|t"
h_eq "gold's counts equal SQL below the bound" "$(ours)" "$(below "$b2")"
h_eq "... without the open transaction's order nor the one committed after it" \
	"$(ours | tr '\n' ' ') $(q "SELECT count(*) FROM orders WHERE branch = 'Beta'")" "Alpha|2|0 Beta|1|0  2"
echo "COMMIT;" >&7
exec 7>&-
wait "$open_pid"
h_check "pipeline run after it committed" pipeline
b3=$(bound)
h_eq "the bound passed both" "$(q "SELECT '$b3'::xid8 > '$open_xid'::xid8")" t
h_eq "gold's counts equal SQL below the bound, and on the whole source" \
	"$(ours | tr '\n' ' ') $(below "$b3" | tr '\n' ' ')" "Alpha|2|0 Beta|2|0 Gamma|1|0  Alpha|2|0 Beta|2|0 Gamma|1|0 "

h_check "pipeline run with nothing new" pipeline
h_eq "a run with nothing new keeps the bound" "$(bound)" "$b3"
deliver Gamma 2
h_check "pipeline run with deliveries only (ordershistory, no orders)" pipeline
h_eq "... keeps the bound too (bronze/orders' did not move), and counts them" \
	"$(bound) $(ours | tr '\n' ' ')" "$b3 Alpha|2|0 Beta|2|0 Gamma|1|1 "
q "$(order Delta)" >/dev/null
h_check "pipeline run with a new order" pipeline
b4=$(bound)
h_eq "the bound moves on with rows in both tables" "$(q "SELECT '$b4'::xid8 > '$b3'::xid8")" t
h_eq "gold's counts equal SQL below it" "$(ours)" "$(below "$b4")"

# A lake written before watermarks: none in any commit, none in gold.
for f in "$MEDALLION_LAKE"/*/*/_delta_log/*.json; do
	sed -i 's/,"sourceWatermark":{[^}]*}//' "$f"
done
jq 'del(.source_watermark)' "$gold" > "$H_TMP/old.json" && cp "$H_TMP/old.json" "$gold"
h_eq "no watermark is left in the lake" "$(cat "$MEDALLION_LAKE"/*/*/_delta_log/*.json | grep -c sourceWatermark)" 0
h_eq "an older serving's gold (no source_watermark) is still served" \
	"$(curl -sS -o /dev/null -w '%{http_code}' "$H_URL/api/gold") $(curl -sS -o /dev/null -w '%{http_code}' "$H_URL/dashboard")" "200 200"
deliver Delta 3
h_check "pipeline run on the old lake, deliveries only" pipeline
h_eq "gold has no watermark while bronze/orders' last commit has none" \
	"$(jq -c .source_watermark "$gold") $(ours | grep Delta)" "null Delta|1|1"
h_check "... and is valid under the schema" "$check" "$schema" "$gold"
q "$(order Epsilon)" >/dev/null
h_check "pipeline run on the old lake, a new order" pipeline
b5=$(bound)
h_eq "gold has a watermark again, past the old one" "$(q "SELECT '$b5'::xid8 > '$b4'::xid8")" t
h_eq "gold's counts equal SQL below it" "$(ours)" "$(below "$b5")"

# A malformed watermark in silver's last commit.
q "$(order Alpha)" >/dev/null
h_check "ingestion and transformation on a new order" \
	eval 'ingest && "$b/stages/transformation/transformation"'
last=$(ls "$MEDALLION_LAKE"/silver/allorders/_delta_log/*.json | tail -1)
version=$((10#$(basename "$last" .json)))
sed -i 's/"xidBound":[0-9]*/"xidBound":"12x"/' "$last"
cp "$gold" "$H_TMP/gold.before"
"$b/stages/serving/serving" > "$H_TMP/serving.out" 2>&1
h_eq "serving stops (exit 1)" "$?" 1
h_check "... naming the table, the version and the field" \
	grep -qF "silver/allorders version $version: source watermark is malformed: sourceWatermark.xidBound is not an integer" "$H_TMP/serving.out"
h_check "... and gold is as it was" cmp -s "$gold" "$H_TMP/gold.before"
"$b/stages/transformation/transformation" > "$H_TMP/transformation.out" 2>&1
h_eq "the transformation's next run stops on it too (exit 1)" \
	"$? $(grep -c "allorders version $version: source watermark is malformed" "$H_TMP/transformation.out")" "1 1"
h_done
