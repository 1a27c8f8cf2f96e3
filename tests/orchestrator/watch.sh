#!/usr/bin/env bash
# watch.sh - `medallion-orchestrator watch` on a real PostgreSQL and a real
# medallion-server running the real stages:
#  - it catches up at start (a "catch-up" run), then runs ("watch") after
#    new rows are committed, and gold reflects them (gold equals SQL on
#    the source, tests/lib/gold.sh); with the heartbeat 10 minutes away,
#    only commits can have woken it;
#  - a burst of commits, many during runs, takes fewer runs than commits,
#    and every row reaches gold;
#  - with nothing new, the only runs are heartbeats (--max-interval),
#    at most one per interval;
#  - the LISTEN connection killed (pg_terminate_backend), and kept out
#    while rows are committed: it reconnects, a "catch-up" run takes the
#    rows, which reach gold;
#  - SIGTERM: exit 0, no run left RUNNING, no listener left in PostgreSQL;
#  - --poll, with the triggers disabled: commits still reach gold.
# No assertion is timed: every wait is h_wait_until on an outcome.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

b=$MEDALLION_BUILD_DIR
orch=$b/orchestrator/medallion-orchestrator
app=$b/retailapp/medallion-retailapp
hist=$H_TMP/history.db
log=$H_TMP/watch.log
export MEDALLION_LAKE=$H_TMP/lake
gold=$MEDALLION_LAKE/gold/branch_metrics.json
pg_start
q() { pg_psql_admin -Atc "$1"; }
as_app() { (eval "$(pg_env_app)"; "$@"); }
. "$MEDALLION_SOURCE_DIR/tests/lib/gold.sh"

# The real stages, under the names the server runs them by.
H_STAGES_DIR=$H_TMP/stages
mkdir -p "$H_STAGES_DIR"
for s in ingestion transformation serving maintenance; do
	ln -s "$b/stages/$s/$s" "$H_STAGES_DIR/$s"
done
h_server_start --lake "$MEDALLION_LAKE" --history "$hist" || exit 1
export MEDALLION_MASTER=$H_URL

# start_watch MAX_INTERVAL: sets $watch, logs to $log. watch connects as
# the pipeline role with libpq's environment (and the default pipeline
# hands the same variables to the stages).
start_watch() {
	(eval "$(pg_env_pipeline)"; exec "$orch" --history "$hist" -v watch \
		--max-interval "$1") 2>>"$log" &
	watch=$!
	h_defer "kill -KILL $watch"
}
runs() { "$orch" --history "$hist" history --json --limit 100000 | jq -rs "$1"; }
gold_matches() { [ -s "$gold" ] && [ -z "$(gold_compare "$gold")" ] && [ "$(gold_ours "$gold" | wc -l)" = "$(gold_sql | wc -l)" ]; }
listener() { q "SELECT pid FROM pg_stat_activity WHERE application_name = 'medallion-orchestrator watch'"; }
listening() { [ -n "$(listener)" ]; }
# relistening OLD_PID: a listener other than OLD_PID is up.
relistening() { local n; n=$(listener); [ -n "$n" ] && [ "$n" != "$1" ]; }
count_at_least() { [ "$(runs "map(select(.trigger == \"$1\")) | length")" -ge "$2" ]; }
newest_ended() { [ "$("$orch" --history "$hist" history --json | head -1 | jq -r .state)" != RUNNING ]; }

as_app "$app" --bulk 300 --seed 3 --quiet 2>/dev/null
# First with a heartbeat too far away to matter: only commits wake it.
start_watch 10m
h_check "watch catches up at start: gold equals SQL on the bulk load" h_wait_until 60 gold_matches
h_check "the LISTEN connection is up" h_wait_until 10 listening

# New rows: a run follows, and gold has them.
as_app "$app" --events 40 --seed 4 --quiet 2>/dev/null
h_check "40 new events reach gold" h_wait_until 60 gold_matches
h_eq "no run so far failed" "$(runs 'map(select(.state != "FINISHED" and .state != "RUNNING")) | length')" 0

# A burst: 600 events on 4 connections as fast as they go; runs take
# whatever committed during the one before.
first=$(q "SELECT coalesce(max(historyid), 0) FROM ordershistory")
before=$(runs 'map(select(.trigger == "watch")) | length')
as_app "$app" --events 600 --connections 4 --seed 5 --quiet 2>/dev/null
commits=$(q "SELECT count(DISTINCT xid) FROM ordershistory WHERE historyid > $first")
h_check "the burst reaches gold, every row" h_wait_until 120 gold_matches
sleep 1	# a run still due from the burst starts before counting
h_wait_until 30 newest_ended
burst=$(( $(runs 'map(select(.trigger == "watch")) | length') - before ))
h_log "burst: $commits commits, $burst runs"
h_check "the burst took fewer runs ($burst) than commits ($commits)" test "$burst" -ge 1 -a "$burst" -lt "$commits"
h_eq "no burst run failed" "$(runs 'map(select(.state != "FINISHED" and .state != "RUNNING")) | length')" 0
h_eq "no heartbeat run so far: commits woke every run" "$(runs 'map(select(.trigger == "heartbeat")) | length')" 0
kill -TERM "$watch"
wait "$watch"

# Nothing new: only heartbeats, at most one per --max-interval (3 s).
start_watch 3s
h_check "a new watch listens" h_wait_until 10 listening
h_check "... and catches up at start" h_wait_until 30 count_at_least catch-up 2
h_wait_until 30 newest_ended
t0=$(date +%s%N)
n0=$(runs 'length')
w0=$(runs 'map(select(.trigger == "watch")) | length')
hb0=$(runs 'map(select(.trigger == "heartbeat")) | length')
h_check "heartbeat runs come with nothing new" h_wait_until 30 count_at_least heartbeat $((hb0 + 2))
elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
idle=$(( $(runs 'length') - n0 ))
h_eq "no data-triggered run while nothing was committed" "$(runs 'map(select(.trigger == "watch")) | length')" "$w0"
h_check "idle runs ($idle in ${elapsed_ms} ms) are at most one per 3 s, plus one" \
	test "$idle" -le $(( elapsed_ms / 3000 + 1 ))

# The listener killed, and kept out (NOLOGIN) while rows are committed:
# their notifications reach nobody. Back in, it catches up.
old=$(listener)
c0=$(runs 'map(select(.trigger == "catch-up")) | length')
q "ALTER ROLE medallion_pipeline NOLOGIN" >/dev/null
q "SELECT pg_terminate_backend($old)" >/dev/null
h_check "watch notices the lost connection and cannot get back in" \
	h_wait_until 30 grep -q "cannot listen on PostgreSQL" "$log"
as_app "$app" --events 30 --seed 6 --quiet 2>/dev/null
q "ALTER ROLE medallion_pipeline LOGIN" >/dev/null
h_check "it reconnects" h_wait_until 60 relistening "$old"
h_check "the rows committed while nobody listened reach gold" h_wait_until 60 gold_matches
h_match "it said it catches up" "$(cat "$log")" "catching up"
h_check "a catch-up run finished after the reconnection" h_wait_until 30 \
	eval '[ "$(runs "map(select(.trigger == \"catch-up\" and .state == \"FINISHED\")) | length")" -gt "$c0" ]'
h_check "no password on watch's command line" bash -c "! tr '\\0' ' ' </proc/$watch/cmdline | grep -qi password"

# SIGTERM: stops between runs (or lets a run end as `run` does), exit 0.
kill -TERM "$watch"
wait "$watch"
h_eq "SIGTERM stops watch with exit 0" "$?" 0
h_eq "no run is left RUNNING" "$(runs 'map(select(.state == "RUNNING")) | length')" 0
h_check "no listener is left in PostgreSQL" h_wait_until 10 eval '! listening'
h_check "... and no watch process" bash -c "! kill -0 $watch 2>/dev/null"
h_match "history shows watch's runs as any others" \
	"$("$orch" --history "$hist" history --limit 5)" "(watch|heartbeat|catch-up)"

# --poll: no trigger needed (they are disabled here), commits still wake it.
q "ALTER TABLE orders DISABLE TRIGGER orders_notify;
   ALTER TABLE ordershistory DISABLE TRIGGER ordershistory_notify" >/dev/null
c1=$(runs 'map(select(.trigger == "catch-up")) | length')
(eval "$(pg_env_pipeline)"; exec "$orch" --history "$hist" -v watch \
	--poll 50ms --max-interval 10m) 2>>"$log" &
watch=$!
h_defer "kill -KILL $watch"
h_check "--poll: a watch polls" h_wait_until 10 listening
h_wait_until 30 count_at_least catch-up $((c1 + 1))
h_wait_until 30 newest_ended
w0=$(runs 'map(select(.trigger == "watch")) | length')
as_app "$app" --events 30 --seed 7 --quiet 2>/dev/null
h_check "--poll: 30 events committed without notifications reach gold" h_wait_until 60 gold_matches
h_check "--poll: ... through a run the commits woke" test "$(runs 'map(select(.trigger == "watch")) | length')" -gt "$w0"
kill -TERM "$watch"
wait "$watch"
h_eq "--poll: SIGTERM stops it with exit 0" "$?" 0
h_done
