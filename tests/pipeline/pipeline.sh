#!/bin/bash
# pipeline.sh - ingestion -> transformation -> serving on a real
# PostgreSQL, run several times while medallion-retailapp writes through 4
# connections, then once more after it stops:
#  - gold equals what SQL computes on the source: exact counts, averages
#    within 1e-9 relative, p50/p90 within the sketch's 0.5%, first and
#    last order times;
#  - DuckDB reading silver agrees with gold's counts;
#  - each validation case lands in silver/rejected with its reason, and
#    an event whose order has not arrived waits, then joins;
#  - kill -9 of transformation at random points, then a rerun, gives the
#    same silver and rejected as an uninterrupted run; the same for serving
#    and gold;
#  - a second serving run with nothing new changes nothing.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

b=$MEDALLION_BUILD_DIR
app=$b/retailapp/medallion-retailapp
lake=$b/stages/lake/medallion-lake
export MEDALLION_LAKE=$H_TMP/lake
pg_start
q() { pg_psql_admin -Atc "$1"; }
as_app() { (eval "$(pg_env_app)"; "$@"); }
pipeline() {
	(eval "$(pg_env_pipeline)"; "$b/stages/ingestion/ingestion") &&
	"$b/stages/transformation/transformation" && "$b/stages/serving/serving"
}

as_app "$app" --bulk 20000 --seed 5 --quiet 2>/dev/null
as_app "$app" --seed 1 --events 4000 --rate 800 --connections 4 --quiet 2>/dev/null &
writer=$!
runs=0 failed=0
while kill -0 $writer 2>/dev/null; do
	pipeline 2>>"$H_TMP/pipeline.log" || failed=$((failed + 1))
	runs=$((runs + 1))
done
wait $writer
h_check "final pipeline run after the writers stop" pipeline
h_eq "no run failed during the writes ($runs runs)" "$failed" 0

# Gold against SQL on the source.
. "$MEDALLION_SOURCE_DIR/tests/lib/gold.sh"
sql_gold() { gold_sql; }
our_gold() { gold_ours "$MEDALLION_LAKE/gold/branch_metrics.json"; }
compare_gold() { gold_compare "$MEDALLION_LAKE/gold/branch_metrics.json"; }
h_eq "gold has every branch the source has" "$(our_gold | wc -l)" "$(sql_gold | wc -l)"
diffs=$(compare_gold)
h_eq "gold equals SQL on the source (counts exact, avg 1e-9, p50/p90 0.5%)" "$diffs" ""
h_match "gold JSON names the busiest branch" "$(jq -r .busiest_branch.branch "$MEDALLION_LAKE/gold/branch_metrics.json")" \
	"^$(q "SELECT branch FROM orders GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")\$"
h_eq "gold JSON names the fastest branch" "$(jq -r .fastest_branch.branch "$MEDALLION_LAKE/gold/branch_metrics.json")" \
	"$(q "SELECT o.branch FROM ordershistory h JOIN orders o USING (orderid) WHERE h.status = 'DELIVERED'
	      GROUP BY 1 ORDER BY avg(h.updatedat - o.ordertime), 1 LIMIT 1")"
h_eq "gold JSON says which silver version it comes from" \
	"$(jq -r .silver_version "$MEDALLION_LAKE/gold/branch_metrics.json")" \
	"$("$lake" log --json "$MEDALLION_LAKE/silver/allorders" | tail -1 | jq -r .version)"
h_eq "the gold CSV has a header and a row per branch" \
	"$(head -1 "$MEDALLION_LAKE/gold/branch_metrics.csv" | tr -d '\r')" \
	"branch,orders_received,orders_delivered,avg_delivery_hours,p50_delivery_hours,p90_delivery_hours,first_order_at,last_order_at"
h_eq "the gold Delta table has the same rows" "$("$lake" cat --columns branch,orders_received "$MEDALLION_LAKE/gold/branch_metrics" | tail -n +2 | tr -d '\r"' | sort)" \
	"$(our_gold | cut -d'|' -f1,2 | tr '|' ',' | sort)"

files() { "$lake" ls --json "$MEDALLION_LAKE/$1" | jq -r --arg t "$MEDALLION_LAKE/$1" '"\u0027" + $t + "/" + .path + "\u0027"' | paste -sd, -; }
h_eq "DuckDB reading silver agrees with gold's counts" \
	"$(h_duckdb "SELECT count(*) FILTER (WHERE status = 'NEW') AS r, count(*) FILTER (WHERE status = 'DELIVERED') AS d FROM read_parquet([$(files silver/allorders)], hive_partitioning=false)" | jq -r '"\(.r) \(.d)"')" \
	"$(jq -r '[(.branches | map(.orders_received) | add), (.branches | map(.orders_delivered) | add)] | join(" ")' "$MEDALLION_LAKE/gold/branch_metrics.json")"
h_eq "silver has no INTRANSIT event and every event once" \
	"$(h_duckdb "SELECT count(*) FILTER (WHERE status = 'INTRANSIT') AS t, count(*) - count(DISTINCT historyid) AS dup FROM read_parquet([$(files silver/allorders)], hive_partitioning=false)" | jq -r '"\(.t) \(.dup)"')" "0 0"

before=$(cat "$MEDALLION_LAKE/gold/branch_metrics.csv")
h_check "a run with nothing new succeeds" pipeline
h_eq "... and leaves gold as it was" "$(cat "$MEDALLION_LAKE/gold/branch_metrics.csv")" "$before"

# Validation: break the source's own rules on purpose (as the superuser).
q "ALTER TABLE ordershistory DROP CONSTRAINT ordershistory_status_check;
   ALTER TABLE ordershistory DROP CONSTRAINT ordershistory_orderid_fkey;
   ALTER TABLE ordershistory DISABLE TRIGGER ordershistory_advance" >/dev/null
q "INSERT INTO orders (orderid, ordertime, branch) VALUES
     (900001, '2026-01-01 10:00', 'Testbranch'), (900002, '2026-01-01 10:00', 'Testbranch'),
     (900003, '2026-01-01 10:00', 'Testbranch'), (900004, '2026-01-01 10:00', 'Testbranch');
   INSERT INTO ordershistory (orderid, status, updatedat) VALUES
     (900001, 'NEW', '2026-01-01 10:00'), (900001, 'LOST', '2026-01-01 11:00'),
     (900002, 'DELIVERED', '2026-01-01 12:00'),
     (900003, 'NEW', '2026-01-01 10:00'), (900003, 'DELIVERED', '2026-01-01 09:00'),
     (900004, 'NEW', '2026-01-01 10:00'), (900004, 'DELIVERED', '2026-01-01 12:00'),
     (900004, 'DELIVERED', '2026-01-01 13:00'),
     (900006, 'NEW', '2026-01-02 10:00')" >/dev/null
h_check "a run over broken events succeeds" pipeline
rejected() { "$lake" cat --json --columns orderid,reason "$MEDALLION_LAKE/silver/rejected" | jq -r '"\(.orderid) \(.reason)"' | sort; }
in_silver() { "$lake" cat --json --columns orderid,status "$MEDALLION_LAKE/silver/allorders" | jq -r "select(.orderid == $1) | .status" | sort | paste -sd' '; }
h_eq "each broken event lands in rejected with its reason" "$(rejected)" \
"900001 unknown status
900002 DELIVERED without NEW
900003 delivery earlier than its order
900004 duplicated event"
h_eq "the good events of those orders are in silver" \
	"$(in_silver 900001)/$(in_silver 900003)/$(in_silver 900004)" "NEW/NEW/DELIVERED NEW"
h_eq "an event whose order has not arrived is neither in silver nor rejected" \
	"$(in_silver 900006)$(rejected | grep -c 900006)" "0"
last_commit=$(ls "$MEDALLION_LAKE"/silver/allorders/_delta_log/*.json | tail -1)
h_eq "... and silver's commit records it as waiting" \
	"$(jq -r 'select(.commitInfo) | .commitInfo.operationMetrics.numWaitingForOrder' "$last_commit")" 1
q "INSERT INTO orders (orderid, ordertime, branch) VALUES (900006, '2026-01-02 10:00', 'Testbranch');
   INSERT INTO ordershistory (orderid, status, updatedat) VALUES (900001, 'NEW', '2026-01-03 10:00')" >/dev/null
h_check "the next run succeeds" pipeline
h_eq "the waiting event joins once its order arrives" "$(in_silver 900006)" "NEW"
h_eq "a duplicate across runs is rejected too" "$(rejected | grep -c '900001 duplicated event')" 1
h_eq "Testbranch in gold counts only valid events" \
	"$(jq -r '.branches[] | select(.branch == "Testbranch") | "\(.orders_received) \(.orders_delivered)"' "$MEDALLION_LAKE/gold/branch_metrics.json")" "4 1"

# kill -9 of transformation at a random point of a run from empty silver,
# then a rerun: the same silver and rejected as one clean run, each of ten
# times (a killed run that got as far as a commit is redone, not repeated).
cp -r "$MEDALLION_LAKE" "$H_TMP/reference"
rm -rf "$H_TMP/reference/silver" "$H_TMP/reference/gold" "$MEDALLION_LAKE/silver" "$MEDALLION_LAKE/gold"
start=$(date +%s%N)
"$b/stages/transformation/transformation" --lake "$H_TMP/reference" 2>/dev/null
span_ms=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
# kill_within MS CMD...: starts CMD (the process itself is the background
# job, no wrapper shell), kill -9s it at a random point of its first MS
# milliseconds; counts in $kills the kills that ended it mid-run (it died
# of SIGKILL, exit 137, rather than having exited already).
kill_within() {
	local span=$1 ms pid
	shift
	"$@" 2>/dev/null &
	pid=$!
	ms=$((RANDOM % span))
	sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	[ $? -eq 137 ] && kills=$((kills + 1))
}
table() { "$lake" cat --columns "$2" "$1" | tail -n +2 | sort; }
kill_rounds() {	# STAGE FOLDER OUTPUT-FN WANT: ten rounds of emptying the
	# stage's FOLDER, a kill -9 within one run's time and a rerun, which
	# must give WANT; sets $kills and $same (rounds that matched)
	kills=0 same=0
	for i in $(seq 1 10); do
		rm -rf "${MEDALLION_LAKE:?}/$2"
		kill_within "$span_ms" "$b/stages/$1/$1"
		"$b/stages/$1/$1" 2>/dev/null &&
			[ "$("$3" "$MEDALLION_LAKE")" = "$4" ] && same=$((same + 1))
	done
}
silver_of() {	# LAKE: silver and rejected, as a rerun must reproduce them
	table "$1/silver/allorders" historyid,status,orderid,branch,ordertime,updatedat | md5sum
	table "$1/silver/rejected" historyid,reason | md5sum
}
kill_rounds transformation silver silver_of "$(silver_of "$H_TMP/reference")"
h_check "kill -9 landed in the middle of at least 3 of 10 transformation runs ($kills; a run takes $span_ms ms)" test "$kills" -ge 3
h_eq "after each kill, a rerun gives an uninterrupted run's silver and rejected" "$same" 10
h_check "silver passes check" "$lake" check "$MEDALLION_LAKE/silver/allorders"

# kill -9 of serving at a random point of a run from empty gold, then a
# rerun: the same gold as one clean run, each of ten times.
rm -rf "$H_TMP/reference"
cp -r "$MEDALLION_LAKE" "$H_TMP/reference"
rm -rf "$H_TMP/reference/gold"
start=$(date +%s%N)
"$b/stages/serving/serving" --lake "$H_TMP/reference" 2>/dev/null
span_ms=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
gold_of() {	# LAKE: what a rerun must reproduce (the JSON's time aside)
	md5sum <"$1/gold/branch_metrics.csv"
	jq -c '[.branches, .silver_version]' "$1/gold/branch_metrics.json"
	"$lake" cat "$1/gold/branch_state" | md5sum
	"$lake" cat "$1/gold/branch_metrics" | md5sum
}
kill_rounds serving gold gold_of "$(gold_of "$H_TMP/reference")"
h_check "kill -9 landed in the middle of at least 3 of 10 serving runs ($kills; a run takes $span_ms ms)" test "$kills" -ge 3
h_eq "after each kill, a rerun gives an uninterrupted run's gold" "$same" 10

# The same stages through medallion-server and medallion-orchestrator.
H_STAGES_DIR=$H_TMP/stages
mkdir -p "$H_STAGES_DIR"
for s in ingestion transformation serving maintenance; do ln -s "$b/stages/$s/$s" "$H_STAGES_DIR/$s"; done
h_server_start --lake "$MEDALLION_LAKE"
before=$(q "SELECT count(DISTINCT orderid) FROM ordershistory WHERE status = 'NEW'")
as_app "$app" --seed 77 --events 300 --connections 2 --quiet 2>/dev/null
(eval "$(pg_env_pipeline)"; "$b/orchestrator/medallion-orchestrator" --master "$H_URL" \
	--history "$H_TMP/history.db" run 2>"$H_TMP/orch.err")
h_eq "the orchestrator runs the four stages through the server" "$?" 0
h_eq "... maintenance the fourth, after serving" \
	"$("$b/orchestrator/medallion-orchestrator" --history "$H_TMP/history.db" history --json | head -1 | jq -r '[.attempts[] | .stage + ":" + .state] | join(" ")')" \
	"ingestion:FINISHED transformation:FINISHED serving:FINISHED maintenance:FINISHED"
h_eq "... and gold counts the new orders" \
	"$(jq -r '[.branches[].orders_received] | add' "$MEDALLION_LAKE/gold/branch_metrics.json")" \
	"$(q "SELECT count(DISTINCT orderid) FROM ordershistory WHERE status = 'NEW'")"
h_check "... including the orders written just before" test "$before" -lt "$(jq -r '[.branches[].orders_received] | add' "$MEDALLION_LAKE/gold/branch_metrics.json")"

# Gold into PostgreSQL for BI tools, replaced in one transaction, read by
# a read-only role.
pg_psql_admin -q -f "$MEDALLION_SOURCE_DIR/schemas/postgres/gold.sql"
gold_dsn="host=$PG_HOST port=$PG_PORT dbname=retail user=medallion_gold"
as_bi() { pg_psql_admin -Atc "SET ROLE medallion_bi; $1" 2>&1; }
MEDALLION_GOLD_DSN=$gold_dsn "$b/stages/serving/serving" 2>"$H_TMP/gold.err"
h_eq "serving publishes gold into PostgreSQL" "$?" 0
h_eq "gold.branch_metrics holds every branch with gold's numbers" \
	"$(as_bi "SELECT branch || '|' || orders_received || '|' || orders_delivered || '|' || silver_version FROM gold.branch_metrics ORDER BY branch")" \
	"$(jq -r '. as $g | .branches | sort_by(.branch)[] | "\(.branch)|\(.orders_received)|\(.orders_delivered)|\($g.silver_version)"' "$MEDALLION_LAKE/gold/branch_metrics.json")"
# Averages are doubles: each branch's, compared to within 1e-9 of itself
# (a sum of them rounded to 6 places once differed in the last place,
# the two sums being added in different orders).
avg_pg=$(as_bi "SELECT branch || '|' || coalesce(avg_delivery_hours::text, 'null') FROM gold.branch_metrics ORDER BY branch")
avg_gold=$(jq -r '.branches | sort_by(.branch)[] | "\(.branch)|\(.avg_delivery_hours)"' "$MEDALLION_LAKE/gold/branch_metrics.json")
h_eq "... averages included (branches with an average: $(grep -vc '|null$' <<<"$avg_gold"))" \
	"$(paste -d'|' <(echo "$avg_pg") <(echo "$avg_gold") | awk -F'|' '
		$1 != $3 { print "branch " $1 " against " $3; next }
		($2 == "null") != ($4 == "null") { print $1 ": " $2 " against " $4; next }
		$2 != "null" { d = $2 - $4; if (d < 0) d = -d; m = $4 < 0 ? -$4 : $4
			if (d > 1e-9 * (m > 1 ? m : 1)) print $1 ": " $2 " against " $4 }
		END { print NR " branches" }')" \
	"$(grep -c . <<<"$avg_gold") branches"
h_match "the read-only role cannot change it" "$(as_bi "DELETE FROM gold.branch_metrics")" 'permission denied'
MEDALLION_GOLD_DSN=$gold_dsn "$b/stages/serving/serving" 2>/dev/null
h_eq "a second run replaces the rows, not adds to them" \
	"$(as_bi "SELECT count(*) FROM gold.branch_metrics")" "$(jq '.branches | length' "$MEDALLION_LAKE/gold/branch_metrics.json")"
out=$(MEDALLION_GOLD_DSN="$gold_dsn password=x" "$b/stages/serving/serving" 2>&1); rc=$?
h_eq "a password in the DSN is refused" "$rc" 1
h_match "... saying where it belongs" "$out" 'PGPASSFILE'

out=$(env -u MEDALLION_LAKE "$b/stages/serving/serving" 2>&1); rc=$?
h_eq "serving without a lake is a usage error" "$rc" 2
h_match "... with a clear message" "$out" 'MEDALLION_LAKE'
h_done
