#!/usr/bin/env bash
# lease.sh - runs have owners: kill -9 of the orchestrator (the real
# process) in the middle of a stage leaves a run that the next start
# detects, marks LOST and recovers, following the driver still going
# instead of submitting the stage again; `history` shows LOST at once;
# `run --resume` recovers likewise; a run stopped by SIGTERM (recorded
# INTERRUPTED, its driver left going) is recovered the same way by the
# next run; and two runs of one pipeline never
# overlap (the second exits 9, naming the first).
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

orch=$MEDALLION_BUILD_DIR/orchestrator/medallion-orchestrator
h_server_start
export MEDALLION_MASTER=$H_URL
hist=$H_TMP/history.db
mark=$H_TMP/marks
mkdir -p "$mark"
h_stage first "echo run >> $mark/first; sleep 2"
h_stage second "echo run >> $mark/second"
cat > "$H_TMP/p.json" <<JSON
{"name": "leased", "stages": [{"name": "first"}, {"name": "second"}]}
JSON
running() { curl -s "$H_URL/v1/submissions?state=RUNNING" | jq -e '.submissions | length > 0'; }
newest() { "$orch" --history "$hist" history --json | head -1 | jq -r "$1"; }

# kill -9 of the orchestrator while "first" runs, three times over: once
# recovered by a plain run, once by run --resume, once by a schedule tick.
landed=0
for how in run resume schedule; do
	: > "$mark/first"; : > "$mark/second"
	# The orchestrator itself is the background job (no wrapper shell).
	"$orch" --history "$hist" --pipeline "$H_TMP/p.json" run 2>/dev/null &
	pid=$!
	h_wait_until 10 running
	kill -KILL "$pid" && landed=$((landed + 1))
	wait "$pid" 2>/dev/null
	h_eq "$how: history shows the killed run LOST" "$(newest .state)" LOST
	lost=$(newest .run_id)
	lost_driver=$(newest '.attempts[0].submission_id')
	case $how in
	run) "$orch" --history "$hist" --pipeline "$H_TMP/p.json" run 2>"$H_TMP/err" ;;
	resume) "$orch" --history "$hist" --pipeline "$H_TMP/p.json" run --resume 2>"$H_TMP/err" ;;
	schedule)
		"$orch" --history "$hist" --pipeline "$H_TMP/p.json" schedule --every 1s 2>"$H_TMP/err" &
		spid=$!
		h_wait_until 20 bash -c "[ \"\$('$orch' --history '$hist' history --json | head -1 | jq -r .state)\" = FINISHED ]"
		kill -TERM "$spid"; wait "$spid"
		;;
	esac
	# The recovering run, and the driver the killed one left going.
	recovery=$("$orch" --history "$hist" history --json --limit 50 |
	    jq -c "select(.resumed_from == $lost)")
	h_eq "$how: the recovering run finishes" "$(jq -r .state <<<"$recovery")" FINISHED
	h_match "$how: ... following the lost run's driver" "$(cat "$H_TMP/err")" 'following driver-.* left going by unfinished run'
	h_eq "$how: ... the same driver, not a new submission" \
		"$(jq -r '.attempts[0].submission_id' <<<"$recovery")" "$lost_driver"
	if [ "$how" != schedule ]; then	# later ticks run the pipeline again
		h_eq "$how: ... so the killed stage ran once" "$(wc -l < "$mark/first")" 1
		h_eq "$how: ... and the next stage once" "$(wc -l < "$mark/second")" 1
	fi
done
h_eq "every kill landed while a stage ran (3 of 3)" "$landed" 3

# SIGTERM of a run while "first" runs: INTERRUPTED, the driver left to
# finish; the next run follows that driver instead of submitting the
# stage beside it, and the pipeline's stages each run once.
: > "$mark/first"; : > "$mark/second"
"$orch" --history "$hist" --pipeline "$H_TMP/p.json" run 2>/dev/null &
pid=$!
h_wait_until 10 running
kill -TERM "$pid"
wait "$pid"
h_eq "SIGTERM mid-run: the run exits 130" "$?" 130
h_eq "... and history shows it INTERRUPTED" "$(newest .state)" INTERRUPTED
stopped=$(newest .run_id)
stopped_driver=$(newest '.attempts[0].submission_id')
"$orch" --history "$hist" --pipeline "$H_TMP/p.json" run 2>"$H_TMP/err"
h_eq "the next run recovers the interrupted one and finishes" "$?" 0
h_match "... saying so" "$(cat "$H_TMP/err")" "run $stopped of leased was interrupted by a signal; recovering it from first"
recovery=$("$orch" --history "$hist" history --json --limit 50 |
    jq -c "select(.resumed_from == $stopped)")
h_eq "... following the interrupted run's driver" \
	"$(jq -r '.attempts[0].submission_id' <<<"$recovery")" "$stopped_driver"
h_eq "... so the interrupted stage ran once" "$(wc -l < "$mark/first")" 1
h_eq "... and the next stage once" "$(wc -l < "$mark/second")" 1

# Two runs at once: the second refuses, naming the first.
: > "$mark/first"
"$orch" --history "$hist" --pipeline "$H_TMP/p.json" run 2>/dev/null &
first=$!
h_wait_until 10 running
"$orch" --history "$hist" --pipeline "$H_TMP/p.json" run 2>"$H_TMP/err"
h_eq "a second run of a running pipeline exits 9" "$?" 9
h_match "... naming the run and its orchestrator" "$(cat "$H_TMP/err")" "already running as run [0-9]+ \\(orchestrator pid $first"
wait "$first"
h_eq "... and the first finishes" "$?" 0
h_eq "... with the stage run once" "$(wc -l < "$mark/first")" 1
h_done
