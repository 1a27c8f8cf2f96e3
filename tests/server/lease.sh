#!/usr/bin/env bash
# lease.sh - runner liveness leases, with real processes: a runner stopped
# by SIGSTOP mid-stage stops renewing its lease, and its driver becomes
# UNKNOWN within the lease timeout (plus one recovery pass), with a message
# that says so, and its stage's processes are killed; kill of such a driver
# answers failure and says why; a kill asked of a runner that stops before
# acting is carried out by the server (KILLED); SIGCONT afterwards does not
# bring either back: the runner sees its lease taken and exits without
# writing; and a runner that renews is never expired.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

LEASE_MS=3000
# Generous bound for a loaded 2-core machine: lease + a 2 s recovery pass.
BOUND_S=25
h_stage sleeper 'echo started; sleep 120'
h_stage short 'sleep 7; echo done'
h_server_start --lease-timeout-ms "$LEASE_MS" --kill-grace-ms 300

submit() {
	curl -sS -X POST "$H_URL/v1/submissions/create" -d "{\"action\":\"CreateSubmissionRequest\",
		\"clientSparkVersion\":\"4\",\"appResource\":\"$1\",\"mainClass\":\"m\",\"sparkProperties\":{}}" |
		jq -r .submissionId
}
state() { curl -sS "$H_URL/v1/submissions/status/$1" | jq -r '.driverState // "none"'; }
message() { curl -sS "$H_URL/v1/submissions/status/$1" | jq -r '.message // ""'; }
wait_state() { h_wait_until "${3:-$BOUND_S}" bash -c "[ \"\$(curl -sS '$H_URL/v1/submissions/status/$1' | jq -r .driverState)\" = '$2' ]"; }
pids_of() { sqlite3 -separator ' ' "$H_SERVER_DIR/state.db" "select runner_pid, stage_pid from drivers where id='$1'"; }
# proc_state PID: its state letter, or "gone".
proc_state() { awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null || echo gone; }
# group_is_dead PGID: no process of the group is alive (zombies wait for
# their stopped parent, but run nothing).
group_is_dead() {
	local f fields
	for f in /proc/[0-9]*/stat; do
		fields=$(sed 's/.*) //' "$f" 2>/dev/null) || continue
		set -- $fields	# state, ppid, pgrp, ...
		if [ "$3" = "$PGID" ] && [ "$1" != Z ] && [ "$1" != X ]; then
			return 1
		fi
	done
	return 0
}
export -f group_is_dead
is_gone_or_zombie() { case $(proc_state "$1") in gone|Z|X) return 0;; esac; return 1; }
running_with_stage() {	# running_with_stage ID: RUNNING and its stage pid known
	wait_state "$1" RUNNING 15 &&
		h_wait_until 10 bash -c "[ -n \"\$(sqlite3 '$H_SERVER_DIR/state.db' \"select stage_pid from drivers where id='$1'\")\" ]" &&
		h_wait_until 10 test -s "$H_SERVER_DIR/logs/$1.stdout"
}

# 1. SIGSTOP of a runner mid-stage.
id=$(submit sleeper)
h_check "sleeper runs" running_with_stage "$id"
read -r runner stage <<<"$(pids_of "$id")"
kill -STOP "$runner"
t0=$(date +%s)
h_check "a stopped runner's driver becomes UNKNOWN within ${BOUND_S}s" wait_state "$id" UNKNOWN
elapsed=$(( $(date +%s) - t0 ))
h_check "not before the lease ran out (${elapsed}s)" test "$elapsed" -ge $((LEASE_MS / 1000 - 1))
msg=$(message "$id")
h_match "UNKNOWN says the runner stopped renewing its lease" "$msg" 'stage runner \(pid [0-9]+\) stopped renewing its lease: stopped or hung'
h_check "its stage's process group was killed" h_wait_until 10 env PGID="$stage" bash -c group_is_dead
h_eq "the stopped runner was left alone" "$(proc_state "$runner")" T
h_curl POST "/v1/submissions/kill/$id"
h_eq "kill of the UNKNOWN driver answers 200" "$H_STATUS" 200
h_eq "kill of the UNKNOWN driver does not claim success" "$(h_jq .success)" false
h_match "kill says the driver already ended UNKNOWN, and why" "$(h_jq .message)" 'already finished .*\(it ended UNKNOWN: the stage runner .* stopped renewing'
kill -CONT "$runner"
h_check "the resumed runner exits by itself" h_wait_until 15 is_gone_or_zombie "$runner"
h_eq "SIGCONT does not resurrect the driver" "$(state "$id")" UNKNOWN
h_eq "nor rewrite its message" "$(message "$id")" "$msg"
h_match "the runner said why it exited" "$(cat "$H_SERVER_DIR/server.log")" "$id: the server has ended this driver \(my lease ran out"

# 2. Kill asked just after the runner was stopped: the runner cannot act,
# so the server carries the kill out when the lease runs out.
id=$(submit sleeper)
h_check "second sleeper runs" running_with_stage "$id"
read -r runner stage <<<"$(pids_of "$id")"
kill -STOP "$runner"
h_curl POST "/v1/submissions/kill/$id"
h_eq "kill is accepted" "$(h_jq .success)" true
h_check "the server ends it KILLED within ${BOUND_S}s" wait_state "$id" KILLED
h_match "KILLED says the server did it" "$(message "$id")" 'killed on request by the server itself: .*stopped renewing its lease'
h_check "its stage's process group was killed" h_wait_until 10 env PGID="$stage" bash -c group_is_dead
kill -CONT "$runner"
h_check "that runner exits too once resumed" h_wait_until 15 is_gone_or_zombie "$runner"
h_eq "and the driver stays KILLED" "$(state "$id")" KILLED

# 3. A runner that renews is never expired: a stage longer than two leases.
id=$(submit short)
h_check "a stage running 7 s under a 3 s lease finishes" wait_state "$id" FINISHED 40
h_eq "its output is whole" "$(curl -sS "$H_URL/v1/submissions/logs/$id")" done

h_done
