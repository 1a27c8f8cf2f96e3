#!/bin/bash
# retailapp.sh - medallion-retailapp against a real, throwaway PostgreSQL:
# lifecycle invariants after concurrent runs, --seed reproducibility, role
# privileges, the schema's own refusals, --bulk consistency, usage errors,
# and surviving a server restart (reconnect with back-off).
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

app=$MEDALLION_BUILD_DIR/retailapp/medallion-retailapp
pg_start
q() { pg_psql_admin -Atc "$1"; }

invariants() {	# prints the number of broken rules (0 = all hold)
	q "SELECT
	 (SELECT count(*) FROM (SELECT orderid FROM ordershistory WHERE status = 'NEW'
	    GROUP BY orderid HAVING count(*) <> 1) x)
	+ (SELECT count(*) FROM orders o WHERE NOT EXISTS
	    (SELECT 1 FROM ordershistory h WHERE h.orderid = o.orderid AND h.status = 'NEW'))
	+ (SELECT count(*) FROM ordershistory d WHERE d.status = 'DELIVERED' AND NOT EXISTS
	    (SELECT 1 FROM ordershistory t WHERE t.orderid = d.orderid AND t.status = 'INTRANSIT'
	     AND t.historyid < d.historyid AND t.updatedat <= d.updatedat))
	+ (SELECT count(*) FROM (SELECT updatedat < lag(updatedat) OVER
	    (PARTITION BY orderid ORDER BY historyid) AS back FROM ordershistory) x WHERE back)
	+ (SELECT count(*) FROM ordershistory WHERE status NOT IN ('NEW','INTRANSIT','DELIVERED'))
	+ (SELECT count(*) FROM (SELECT orderid, status FROM ordershistory
	    GROUP BY 1, 2 HAVING count(*) > 1) x)"
}

# --check: the health check compose runs.
eval "$(pg_env_app)"
h_check "--check: medallion_app on the retail schema is ready" "$app" --check
(eval "$(pg_env_pipeline)"; "$app" --check) 2>"$H_TMP/check.err"
h_eq "--check: a role that may not insert fails (exit 1)" "$?" 1
h_match "... naming the role" "$(cat "$H_TMP/check.err")" 'role medallion_pipeline may not insert'
PGDATABASE=nosuchdb "$app" --check 2>"$H_TMP/check.err"
h_eq "--check: no such database fails at once (exit 1)" "$?" 1
h_match "... saying why" "$(cat "$H_TMP/check.err")" 'cannot connect to PostgreSQL'

# Concurrent writers: overlapping transactions, invariants hold.
h_check "4 concurrent writers, 3000 events" "$app" --events 3000 --connections 4 --quiet
h_eq "3000 events recorded" "$(q "SELECT count(*) FROM ordershistory")" 3000
h_eq "lifecycle invariants hold after a concurrent run" "$(invariants)" 0
h_check "all three statuses occurred" test "$(q "SELECT count(DISTINCT status) FROM ordershistory")" = 3
h_eq "orderstate agrees with the history" "$(q "SELECT count(*) FROM orderstate s WHERE laststatus <>
	(SELECT status FROM ordershistory h WHERE h.orderid = s.orderid ORDER BY historyid DESC LIMIT 1)")" 0
h_eq "every row carries its transaction id" "$(q "SELECT count(*) FROM ordershistory WHERE xid IS NULL")" 0
first=$(q "SELECT min(updatedat) FROM ordershistory")
h_check "a second run continues from the latest time" "$app" --events 50 --quiet
h_eq "no event before the first run's" "$(q "SELECT count(*) FROM ordershistory WHERE updatedat < '$first'")" 0
h_eq "still consistent" "$(invariants)" 0

# The schema itself refuses bad events, whoever writes them.
h_check_fails "a status outside the three is refused" pg_psql_admin -c \
	"INSERT INTO ordershistory (orderid, status, updatedat) VALUES (1, 'LOST', now())"
h_check_fails "a second NEW for an order is refused" pg_psql_admin -c \
	"INSERT INTO ordershistory (orderid, status, updatedat) VALUES (1, 'NEW', now())"
o=$(q "SELECT orderid FROM orderstate WHERE laststatus = 'NEW' LIMIT 1")
h_check_fails "DELIVERED straight after NEW is refused" pg_psql_admin -c \
	"INSERT INTO ordershistory (orderid, status, updatedat) VALUES ($o, 'DELIVERED', '2100-01-01')"
h_check_fails "an event back in time is refused" pg_psql_admin -c \
	"INSERT INTO ordershistory (orderid, status, updatedat) VALUES ($o, 'INTRANSIT', '1990-01-01')"
x1=$(q "SELECT xid FROM orders WHERE orderid = $o")
pg_psql_admin -c "UPDATE orders SET branch = branch WHERE orderid = $o"
h_check "an updated order gets a newer xid" test "$(q "SELECT xid > '$x1'::xid8 FROM orders WHERE orderid = $o")" = t

# Roles: the pipeline reads only; the app cannot drop or delete.
eval "$(pg_env_pipeline)"
h_check "pipeline role can read" "$PG_BINDIR/psql" -XAtqc "SELECT count(*) FROM ordershistory"
for sql in "INSERT INTO orders (ordertime, branch) VALUES (now(), 'x')" \
	   "UPDATE orders SET branch = 'x'" "DELETE FROM ordershistory" \
	   "TRUNCATE orders CASCADE"; do
	h_check_fails "pipeline role cannot: ${sql%% *}" "$PG_BINDIR/psql" -XAtq -v ON_ERROR_STOP=1 -c "$sql"
done
eval "$(pg_env_app)"
h_check_fails "app role cannot DELETE" "$PG_BINDIR/psql" -XAtq -v ON_ERROR_STOP=1 -c "DELETE FROM ordershistory"
h_check_fails "app role cannot DROP" "$PG_BINDIR/psql" -XAtq -v ON_ERROR_STOP=1 -c "DROP TABLE orderstate"

# --seed: two fresh databases, the same single-connection run, same data.
for db in seeda seedb; do
	pg_psql_admin -c "CREATE DATABASE $db" -d postgres
	pg_psql_admin -d "$db" -f "$MEDALLION_SOURCE_DIR/schemas/postgres/retail.sql"
	PGDATABASE=$db "$app" --events 400 --seed 77 >"$H_TMP/$db.out"
	pg_psql_admin -d "$db" -Atc "SELECT h.historyid, h.orderid, o.branch, o.ordertime, h.status, h.updatedat
		FROM ordershistory h JOIN orders o USING (orderid) ORDER BY historyid" >"$H_TMP/$db.dump"
done
h_check "the seeded runs printed 400 events" test "$(wc -l <"$H_TMP/seeda.out")" = 400
h_check "--seed reproduces the output exactly" cmp "$H_TMP/seeda.out" "$H_TMP/seedb.out"
h_check "--seed reproduces the database exactly" cmp "$H_TMP/seeda.dump" "$H_TMP/seedb.dump"
PGDATABASE=seeda "$app" --events 5 --seed 78 --json >"$H_TMP/json.out"
h_eq "--json: one object per event, then the summary" \
	"$(jq -c 'select(.summary) | .summary.events' "$H_TMP/json.out")" 5
h_eq "--json events have the four fields" \
	"$(jq -c 'select(.status) | keys' "$H_TMP/json.out" | sort -u)" '["branch","orderid","status","time"]'

# --bulk: complete, consistent lifecycles.
pg_psql_admin -c "CREATE DATABASE bulk" -d postgres
pg_psql_admin -d bulk -f "$MEDALLION_SOURCE_DIR/schemas/postgres/retail.sql"
h_check "--bulk 20000" env PGDATABASE=bulk "$app" --bulk 20000 --seed 5
h_eq "bulk: 20000 orders" "$(pg_psql_admin -d bulk -Atc "SELECT count(*) FROM orders")" 20000
h_eq "bulk: three events each" "$(pg_psql_admin -d bulk -Atc "SELECT count(*) FROM ordershistory")" 60000
PG_DB=bulk
h_eq "bulk: invariants hold" "$(invariants)" 0
h_eq "bulk: every order delivered" "$(q "SELECT count(*) FROM orderstate WHERE laststatus <> 'DELIVERED'")" 0
h_check "events go on after a bulk load" env PGDATABASE=bulk "$app" --events 200 --connections 2 --quiet
h_eq "bulk + events: invariants hold" "$(invariants)" 0
unset PG_DB

# Usage errors: exit 2 with a message.
for args in "--events x" "--rate -1" "--connections 0" "--bulk 0" "--nope" "extra"; do
	# shellcheck disable=SC2086
	"$app" $args >"$H_TMP/usage.out" 2>&1; rc=$?
	h_eq "usage error ($args): exit 2" "$rc" 2
	h_match "usage error ($args): says what is wrong" "$(cat "$H_TMP/usage.out")" "medallion-retailapp: .*(wants|unrecognized|unexpected)"
done

# A lost connection: the app reconnects with back-off and goes on.
"$app" --rate 50 --quiet 2>"$H_TMP/restart.err" &
pid=$!
h_defer "kill $pid"
sleep 1
"$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w restart -l "$PG_DIR/server.log" >/dev/null 2>&1 ||
	runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w restart -l "$PG_DIR/server.log" >/dev/null 2>&1
before=$(q "SELECT count(*) FROM ordershistory")
h_check "events continue after a PostgreSQL restart" h_wait_until 20 bash -c \
	"[ \$('$PG_BINDIR/psql' -h '$PG_HOST' -p '$PG_PORT' -U postgres -d retail -XAtc 'SELECT count(*) FROM ordershistory') -gt $((before + 20)) ]"
kill -INT $pid
h_check "SIGINT ends the run cleanly" wait $pid
h_match "the summary says it was stopped" "$(cat "$H_TMP/restart.err")" "stopped by signal"
h_match "it reported the lost connection" "$(cat "$H_TMP/restart.err")" "lost the connection|cannot connect"
h_eq "invariants hold after the restart" "$(invariants)" 0
h_done
