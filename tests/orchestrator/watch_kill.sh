#!/usr/bin/env bash
# watch_kill.sh - exactly once under kill -9 during `medallion-orchestrator
# watch`: a real PostgreSQL, a real medallion-server on a loopback port
# running the real stages, watch, and the retail app writing all along.
# Round after round, one process is killed with SIGKILL (the process
# itself, never a wrapper shell), then what was killed is restarted:
#  - a stage (ingestion, transformation, serving, maintenance) while it
#    runs: its driver ends FAILED, killed by signal 9, and the
#    orchestrator's retry of that stage finishes;
#  - the orchestrator while a run is in progress: the restarted watch
#    finds the run LOST, recovers it, and the recovering run finishes;
#  - the server while a driver is in flight (its runner or stage outlives
#    it): restarted on the same port, state and logs, it answers the
#    orchestrator, which followed on, and the runner recorded the outcome;
#  - the server with its whole session, runners and stages too (as a
#    container restart does) while a stage runs: the restarted server ends
#    the driver UNKNOWN and the orchestrator submits the stage again.
# Rounds go on until each kind has landed mid-run a minimum number of
# times, counted from the records (a stage killed by signal 9, a LOST
# run, an UNKNOWN driver; for the server alone, its runner or stage alive
# after it died), so a run of kills that all miss cannot pass. Once more,
# deterministically, the orchestrator is killed and its restart has to
# reap the lost run while another process holds the history's write
# lock: it still recovers it. Then the writer stops, watch catches up (a
# run started after the last commit finishes; gold's source watermark
# covers the last order), and bronze, silver and gold hold every source
# row exactly once, gold equal to SQL on the source (tests/lib/gold.sh).
# At the end nothing the test started is left running.
# No assertion is timed: every wait is h_wait_until on an outcome.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

b=$MEDALLION_BUILD_DIR
orch=$(readlink -f "$b/orchestrator/medallion-orchestrator")
app=$b/retailapp/medallion-retailapp
lake=$b/stages/lake/medallion-lake
hist=$H_TMP/history.db
log=$H_TMP/watch.log
export MEDALLION_LAKE=$H_TMP/lake
gold=$MEDALLION_LAKE/gold/branch_metrics.json
stages=(ingestion transformation serving maintenance)
pg_start
q() { pg_psql_admin -Atc "$1"; }
. "$MEDALLION_SOURCE_DIR/tests/lib/gold.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/bronze.sh"

# The real stages, under the names the server runs them by.
H_STAGES_DIR=$H_TMP/stages
mkdir -p "$H_STAGES_DIR"
for s in "${stages[@]}"; do
	ln -s "$b/stages/$s/$s" "$H_STAGES_DIR/$s"
done
server_opts=(--lake "$MEDALLION_LAKE" --history "$hist")
h_server_start "${server_opts[@]}" || exit 1
export MEDALLION_MASTER=$H_URL
sessions=("$H_SERVER_PID")	# every server session, for the last check

# server_restart: a new server on the same port (the orchestrator's
# --master does not change), state and logs. The port was ours a moment
# ago; should another process take it meanwhile, the start fails.
server_restart() {
	h_server_start "${server_opts[@]}" --port "$H_PORT" || return 1
	sessions+=("$H_SERVER_PID")
}

# start_watch [MAX_INTERVAL]: watch in the background, the orchestrator
# itself as the job (the subshell execs it), as the pipeline role; sets
# $watch.
start_watch() {
	(eval "$(pg_env_pipeline)"; exec "$orch" --history "$hist" -v watch \
		--max-interval "${1:-10s}") 2>>"$log" &
	watch=$!
}
# is_orch PID: PID is our watch, not a pid since reused.
is_orch() {
	[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$orch" ] &&
		tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "--history $hist "
}
stop_watch() { if is_orch "$watch"; then kill -KILL "$watch"; fi; }
h_defer stop_watch

# runs N|all JQ_ARGS...: jq -s over the newest N runs of the history.
runs() {
	local n=$1
	shift
	[ "$n" = all ] && n=1000000
	"$orch" --history "$hist" history --json --limit "$n" | jq -s "$@"
}
newest() { "$orch" --history "$hist" history --json --limit 1 | jq -r "$1"; }
newest_run() { newest '.run_id'; }
# finished_since RUN: RUN or a newer run finished.
finished_since() { runs 20 "any(.[]; .run_id >= $1 and .state == \"FINISHED\")" | grep -qx true; }

# The stages' processes: argv is exactly the stage's path in the stages
# folder (their runners' argv only names it, after --stage-path).
stage_pattern="$H_STAGES_DIR/($(IFS='|'; echo "${stages[*]}"))"
stage_running() { pgrep -xf "$stage_pattern" >/dev/null; }
# in_flight: a runner (of any of our servers: they share the state file)
# or a stage is alive, so a driver is under way.
in_flight() {
	pgrep -f "^medallion-runner --state $H_SERVER_DIR/state.db " >/dev/null ||
		stage_running
}

# --- the kills -------------------------------------------------------------

# Each kill waits for its moment (a stage or driver under way), then a
# random 0 to 39 ms more, so kills land all through a stage's run (about
# 10 to 40 ms here), commits included, not only at its start.
jitter() { sleep "$(printf '0.%03d' $((RANDOM % 40)))"; }

# kill_stage STAGE: kill -9 a process of STAGE at a random point of its
# run, trying run after run for up to 60 s. Whether it died mid-run, the
# driver's outcome tells (counted by landed_stage): a stage that had
# already exited is a miss, and the next run is tried.
kill_stage() {
	local end=$((SECONDS + 60)) pid
	while [ "$SECONDS" -lt "$end" ]; do
		pid=$(pgrep -n -xf "$H_STAGES_DIR/$1") || continue
		jitter
		# Still that stage, not a pid since reused (a zombie's
		# command line is empty).
		if [ "$(tr -d '\0' 2>/dev/null <"/proc/$pid/cmdline")" = "$H_STAGES_DIR/$1" ] &&
			kill -KILL "$pid" 2>/dev/null; then
			return 0
		fi
	done
	return 1
}

# kill_orchestrator: kill -9 watch while a stage runs (runs take a stage
# at a time, so one is under way), then a new watch. Whether the run was
# still going, its LOST state tells.
kill_orchestrator() {
	h_wait_until 30 stage_running || return 1
	jitter
	is_orch "$watch" || { h_log "watch (pid $watch) is gone"; return 1; }
	{ kill -KILL "$watch"; wait "$watch"; } 2>/dev/null
	start_watch
}

# kill_server: kill -9 the server alone (its runners and stages live on)
# while a driver is in flight, then a new one. Counts in server_landed
# the kills after which a runner or stage of ours was still alive: the
# server died under a driver.
server_landed=0
kill_server() {
	h_wait_until 30 in_flight || return 1
	jitter
	{ kill -KILL "$H_SERVER_PID"; wait "$H_SERVER_PID"; } 2>/dev/null
	if in_flight; then
		server_landed=$((server_landed + 1))
	fi
	server_restart
}

# kill_session: kill -9 the server's whole session (runners and stages)
# while a stage runs, then a new server. A driver it ended is UNKNOWN
# in the restarted server (counted by landed_session).
kill_session() {
	h_wait_until 30 stage_running || return 1
	jitter
	{ pkill -KILL -s "$H_SERVER_PID"; wait "$H_SERVER_PID"; } 2>/dev/null
	server_restart
}

# --- what landed, from the records ---------------------------------------

# landed_stage STAGE: attempts of STAGE that its kill -9 ended.
landed_stage() {
	runs all "[.[].attempts[] | select(.stage == \"$1\" and .state == \"FAILED\"
		and (.message | test(\"signal 9\")))] | length"
}
landed_orchestrator() { runs all '[.[] | select(.state == "LOST")] | length'; }
landed_session() {
	curl -fsS "$H_URL/v1/submissions?state=UNKNOWN&limit=1" | jq .total
}
landed() {
	case $1 in
	orchestrator) landed_orchestrator ;;
	server) echo "$server_landed" ;;
	server+stages) landed_session ;;
	*) landed_stage "$1" ;;
	esac
}

# --- the run ---------------------------------------------------------------

(eval "$(pg_env_app)"; exec "$app" --bulk 2000 --seed 3 --quiet) 2>>"$H_TMP/app.log" ||
	{ echo "Bail out! the retail app's bulk load failed"; exit 1; }
start_watch
h_check "watch catches up at start: gold equals SQL on the bulk load" \
	h_wait_until 60 eval '[ -s "$gold" ] && [ -z "$(gold_compare "$gold")" ]'
(eval "$(pg_env_app)"; exec "$app" --rate 150 --connections 4 --seed 1 \
	--quiet) 2>>"$H_TMP/app.log" &
writer=$!
stop_writer() {
	if [ "$(readlink "/proc/$writer/exe" 2>/dev/null)" = "$(readlink -f "$app")" ]; then
		kill -KILL "$writer"
	fi
}
h_defer stop_writer

kinds=(ingestion orchestrator transformation server serving server+stages maintenance)
declare -A want=([ingestion]=3 [transformation]=3 [serving]=3 [maintenance]=3
	[orchestrator]=3 [server]=3 [server+stages]=3)
declare -A tries got
for k in "${kinds[@]}"; do tries[$k]=0; got[$k]=0; done
healthy=1
for ((round = 0; round < 150; round++)); do
	kind=
	for ((i = 0; i < ${#kinds[@]}; i++)); do
		k=${kinds[(round + i) % ${#kinds[@]}]}
		if [ "${got[$k]}" -lt "${want[$k]}" ]; then kind=$k; break; fi
	done
	[ -n "$kind" ] || break
	tries[$kind]=$((tries[$kind] + 1))
	case $kind in
	orchestrator) kill_orchestrator ;;
	server) kill_server ;;
	server+stages) kill_session ;;
	*) kill_stage "$kind" ;;
	esac || h_log "round $round: could not kill $kind"
	# Carry on only once the pipeline works again: the run under way at
	# the kill (watch runs one at a time), or a later one, finished.
	m=$(newest_run)
	if ! h_wait_until 180 finished_since "$m"; then
		h_log "round $round ($kind): no run finished since run $m; watch's log ends:"
		tail -20 "$log" | sed 's/^/#   /' >&2
		healthy=0
		break
	fi
	got[$kind]=$(landed "$kind")
done
h_eq "the pipeline recovered after every kill" "$healthy" 1
for k in "${kinds[@]}"; do
	h_log "$k: ${got[$k]} of ${tries[$k]} kills landed mid-run"
	h_check "kill -9 of $k landed mid-run at least ${want[$k]} times (${got[$k]} of ${tries[$k]})" \
		test "${got[$k]}" -ge "${want[$k]}"
done

# Every kill was made good: a stage killed by signal 9 or ended UNKNOWN
# was submitted again, and that attempt finished, in the same run or in
# the run that recovered it (when the orchestrator died during the retry);
# a LOST run was recovered by a run that finished.
h_eq "every killed or UNKNOWN stage attempt was retried, and the retry finished" \
	"$(runs all '. as $all | [.[] | . as $r | .attempts[] | select(.state == "FAILED" or .state == "UNKNOWN")
		| select(. as $a | (any($r.attempts[]; .stage == $a.stage and .attempt > $a.attempt
			and .state == "FINISHED") or any($all[] | select(.resumed_from == $r.run_id)
			| .attempts[]; .stage == $a.stage and .state == "FINISHED")) | not)] | length')" 0
h_eq "every LOST run was recovered by a run that finished" \
	"$(runs all '. as $all | [.[] | select(.state == "LOST") | select(.run_id as $l |
		any($all[]; .resumed_from == $l and .state == "FINISHED") | not)] | length')" 0

# kill -9 of the orchestrator, then another process writes the history
# just as the restarted watch reaps the lost run (a `history`, which
# reaps too, did in the rounds above, under the sanitizers): the watch
# still recovers it. Made deterministic: the new watch is kept from
# PostgreSQL (its role NOLOGIN) until the test holds the history's write
# lock, and the lock is let go once the watch, connected, sleeps waiting
# for it (SQLite's busy handler: hrtimer_nanosleep in /proc/PID/wchan).
db() { sqlite3 "$hist" "$1"; }
listener() { q "SELECT pid FROM pg_stat_activity WHERE application_name = 'medallion-orchestrator watch'"; }
waiting_for_lock() { [ -n "$(listener)" ] && [ "$(cat "/proc/$watch/wchan" 2>/dev/null)" = hrtimer_nanosleep ]; }
sleep 30 &
probe=$!
h_wait_until 5 eval '[ "$(cat /proc/$probe/wchan 2>/dev/null)" = hrtimer_nanosleep ]'
wchan_ok=$?
kill "$probe"; wait "$probe" 2>/dev/null
if [ "$wchan_ok" -ne 0 ]; then
	h_log "/proc/PID/wchan does not name the sleep here: the check with the history locked is left out"
else
	lost=
	for ((try = 0; try < 20 && ${#lost} == 0; try++)); do
		h_wait_until 30 stage_running || break
		is_orch "$watch" || break
		{ kill -KILL "$watch"; wait "$watch"; } 2>/dev/null
		lost=$(db "SELECT run_id FROM runs WHERE state = 'RUNNING'")
		[ -n "$lost" ] || start_watch	# it died between runs: again
	done
	h_check "kill -9 of the orchestrator left run ${lost:-?} RUNNING" test -n "$lost"
	h_wait_until 10 eval '[ -z "$(listener)" ]'
	q "ALTER ROLE medallion_pipeline NOLOGIN" >/dev/null
	refused=$(grep -c "cannot listen on PostgreSQL" "$log")
	from=$(($(wc -l <"$log") + 1))
	start_watch 1m	# no heartbeat run meanwhile
	h_check "... the new watch cannot reach PostgreSQL yet" h_wait_until 30 \
		eval '[ "$(grep -c "cannot listen on PostgreSQL" "$log")" -gt "$refused" ]'
	mkfifo "$H_TMP/lock.in"
	sqlite3 "$hist" <"$H_TMP/lock.in" >"$H_TMP/lock.out" 2>&1 &
	locker=$!
	exec 7>"$H_TMP/lock.in"
	printf 'BEGIN IMMEDIATE;\n.print locked\n' >&7
	h_check "... the test holds the history's write lock" h_wait_until 10 grep -q locked "$H_TMP/lock.out"
	q "ALTER ROLE medallion_pipeline LOGIN" >/dev/null
	h_check "... the watch, connected, waits for the lock" h_wait_until 30 waiting_for_lock
	printf 'COMMIT;\n' >&7
	exec 7>&-
	wait "$locker"
	h_check "... and once it is free, recovers run $lost, and that run finishes" h_wait_until 60 \
		eval '[ "$(db "SELECT count(*) FROM runs WHERE resumed_from = $lost AND state = '"'FINISHED'"'")" = 1 ]'
	h_check_fails "... without 'database is locked' on the way" \
		eval 'tail -n "+$from" "$log" | grep "database is locked"'
	kill -TERM "$watch"
	wait "$watch"
	start_watch
fi

# The writer stops; watch takes its last commits.
kill -INT "$writer"
wait "$writer"
h_eq "the retail app wrote without an error all along" "$?" 0
# The run after the newest one now starts after the last commit (on its
# notification, or on the heartbeat), so its snapshot has every row.
m=$(($(newest_run) + 1))
h_check "watch catches up: run $m, the first to start after the writer stopped, or a later one finishes" \
	h_wait_until 120 finished_since "$m"
# Gold's bound moves with runs that bring rows of both tables (README,
# "The source watermark": deliveries alone keep it), so it covers the
# last order's commit, not necessarily the last delivery's.
last=$(q "SELECT xid FROM orders ORDER BY xid DESC LIMIT 1")
covers() { [ "$(jq -r '.source_watermark.xid_bound // 0' "$gold")" -gt "$last" ]; }
h_check "gold's source watermark covers the last order's commit (xid $last)" \
	h_wait_until 60 covers
h_log "$(runs all 'length') runs, not finished: $(runs all -c '[.[] | select(.state != "FINISHED") | .state] | group_by(.) | map({(.[0]): length}) | add // {}'); $(q "SELECT count(*) FROM ordershistory") events"

# Exactly once, layer by layer.
same_as_source orders orderid "after the kills"
same_as_source ordershistory historyid "after the kills"
silver_ids() { "$lake" cat --columns historyid "$MEDALLION_LAKE/silver/allorders" | tail -n +2 | tr -d '\r' | sort -n; }
source_events() { q "SELECT historyid FROM ordershistory WHERE status IN ('NEW', 'DELIVERED') ORDER BY 1"; }
s=$(silver_ids); e=$(source_events)
h_eq "silver has every NEW and DELIVERED event" "$(comm -13 <(echo "$s") <(echo "$e") | wc -l)" 0
h_eq "... and no other" "$(comm -23 <(echo "$s") <(echo "$e") | wc -l)" 0
h_eq "... each once" "$(echo "$s" | uniq -d | wc -l)" 0
rejected() {
	if [ -d "$MEDALLION_LAKE/silver/rejected/_delta_log" ]; then
		"$lake" cat --columns historyid "$MEDALLION_LAKE/silver/rejected" | tail -n +2 | wc -l
	else
		echo 0
	fi
}
h_eq "nothing was rejected (a duplicate would be)" "$(rejected)" 0
h_eq "gold has every branch the source has" "$(gold_ours "$gold" | wc -l)" "$(gold_sql | wc -l)"
h_eq "gold equals SQL on the source (counts exact, avg 1e-9, p50/p90 0.5%)" "$(gold_compare "$gold")" ""

# Nothing left running: watch stops on SIGTERM, the server too; the
# runners that outlived a killed server have ended on their own.
kill -TERM "$watch"
wait "$watch"
h_eq "SIGTERM stops watch with exit 0" "$?" 0
h_eq "no run is left RUNNING" "$(runs all '[.[] | select(.state == "RUNNING")] | length')" 0
h_server_stop
leftovers() {
	local sid
	pgrep -f "($H_TMP/(stages|server)/|--history $hist)" && return 0
	for sid in "${sessions[@]}"; do pgrep -s "$sid" && return 0; done
	return 1
}
h_check "nothing the test started is left running" h_wait_until 30 eval '! leftovers'
h_done
