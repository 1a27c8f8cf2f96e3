#!/bin/bash
# pg_stop.sh - PostgreSQL stopped in the middle of an ingestion's COPY
# (immediate shutdown, three times, at random points of runs as large as
# the one timed): the ingestion fails saying it lost the server, commits
# nothing half-done, and once PostgreSQL is back the next run leaves
# bronze equal to the source, every id exactly once.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

app=$MEDALLION_BUILD_DIR/retailapp/medallion-retailapp
ingest=$MEDALLION_BUILD_DIR/stages/ingestion/ingestion
lake=$MEDALLION_BUILD_DIR/stages/lake/medallion-lake
export MEDALLION_LAKE=$H_TMP/lake
# Durable: an immediate stop is a crash, and a throwaway cluster without
# fsync and synchronous commit would lose transactions ingestion already
# copied (the source would then lack rows bronze has).
PG_DURABLE=1 pg_start
q() { pg_psql_admin -Atc "$1"; }
. "$MEDALLION_SOURCE_DIR/tests/lib/bronze.sh"
as_app() { (eval "$(pg_env_app)"; "$@"); }
as_pipeline() { (eval "$(pg_env_pipeline)"; "$@"); }

as_app "$app" --bulk 50000 --quiet
start=$(date +%s%N)
as_pipeline "$ingest" 2>/dev/null
span_ms=$(( ($(date +%s%N) - start) / 1000000 + 1 ))
landed=0
for i in 1 2 3; do
	as_app "$app" --bulk 50000 --quiet
	(eval "$(pg_env_pipeline)"; exec "$ingest") 2>"$H_TMP/err.$i" &
	pid=$!
	# Stop the server while the ingestion's COPY streams (seen in
	# pg_stat_activity), not after a guessed delay: under the
	# sanitizers and a loaded machine a run's length varies too much.
	for ((k = 0; k < 2000; k++)); do
		[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'medallion_pipeline' AND state = 'active' AND query LIKE 'COPY%'")" = 0 ] || break
		kill -0 "$pid" 2>/dev/null || break
	done
	pg_ctl_cluster -m immediate stop >/dev/null 2>&1
	wait $pid
	rc=$?
	if [ $rc -ne 0 ]; then
		landed=$((landed + 1))
		h_match "stop $i: the ingestion says what failed (exit $rc)" "$(cat "$H_TMP/err.$i")" \
			'(server closed the connection|terminating connection|lost|cannot connect|could not receive)'
	fi
	h_check "stop $i: bronze passes check" "$lake" check "$MEDALLION_LAKE/bronze/orders"
	pg_ctl_cluster -w start >/dev/null 2>&1
	h_check "stop $i: PostgreSQL is back" h_wait_until 20 q "SELECT 1"
	h_check "stop $i: the next run succeeds" as_pipeline "$ingest"
	same_as_source orders orderid "after stop $i"
	same_as_source ordershistory historyid "after stop $i"
done
h_check "the stop landed in the middle of at least 2 of 3 runs ($landed; a run takes $span_ms ms)" test "$landed" -ge 2
h_done
