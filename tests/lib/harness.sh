# harness.sh - the shell test harness every integration test sources.
#
# It gives each test a private temp folder, runs registered clean-ups on any
# exit (pass, fail, or a signal), counts checks, and starts and stops a real
# medallion-server on a free loopback port. Servers are started in their own
# session (setsid), so stopping one also reaps every stage runner and stage
# it forked: a test leaves nothing running.
#
# Use:   . "$MEDALLION_SOURCE_DIR/tests/lib/harness.sh"
#        h_server_start; h_check "readyz answers" curl -fsS "$H_URL/v1/submissions/readyz"
#        h_done
# meson passes MEDALLION_SOURCE_DIR and MEDALLION_BUILD_DIR to every test.

set -u
set -o pipefail

: "${MEDALLION_SOURCE_DIR:?run tests through meson test}"
: "${MEDALLION_BUILD_DIR:?run tests through meson test}"

H_TMP=$(mktemp -d "${TMPDIR:-/tmp}/medallion-test.XXXXXX")
chmod 755 "$H_TMP"
H_PASSED=0
H_FAILED=0
H_CLEANUPS=()

h_log() { printf '# %s\n' "$*" >&2; }

# h_defer CMD...: run CMD (as one eval'd string) at exit, newest first.
h_defer() { H_CLEANUPS+=("$*"); }

h_on_exit() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#H_CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${H_CLEANUPS[$i]}" >/dev/null 2>&1 || true
	done
	if [ "${H_KEEP_TMP:-0}" = 1 ] || { [ "$rc" -ne 0 ] && [ -n "${H_KEEP_ON_FAIL:-}" ]; }; then
		h_log "kept temp folder $H_TMP"
	else
		rm -rf "$H_TMP"
	fi
	exit "$rc"
}
trap h_on_exit EXIT
trap 'h_log "interrupted"; exit 130' INT TERM

h_pass() { H_PASSED=$((H_PASSED + 1)); printf 'ok %d - %s\n' $((H_PASSED + H_FAILED)) "$1"; }
h_fail() { H_FAILED=$((H_FAILED + 1)); printf 'not ok %d - %s\n' $((H_PASSED + H_FAILED)) "$1"; }

# h_check DESC CMD...: passes when CMD exits 0.
h_check() {
	local desc=$1; shift
	if "$@" >"$H_TMP/.check.out" 2>&1; then
		h_pass "$desc"
	else
		h_fail "$desc"
		sed 's/^/#   /' "$H_TMP/.check.out" | head -20 >&2
	fi
}

# h_check_fails DESC CMD...: passes when CMD exits non-zero.
h_check_fails() {
	local desc=$1; shift
	if "$@" >"$H_TMP/.check.out" 2>&1; then
		h_fail "$desc (command succeeded, failure expected)"
	else
		h_pass "$desc"
	fi
}

# h_eq DESC ACTUAL EXPECTED
h_eq() {
	if [ "$2" == "$3" ]; then
		h_pass "$1"
	else
		h_fail "$1"
		printf '#   got:  %s\n#   want: %s\n' "$2" "$3" >&2
	fi
}

# h_match DESC STRING REGEX (bash ERE)
h_match() {
	if [[ "$2" =~ $3 ]]; then
		h_pass "$1"
	else
		h_fail "$1"
		printf '#   got:   %s\n#   match: %s\n' "$2" "$3" >&2
	fi
}

# h_wait_until TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds.
h_wait_until() {
	local timeout=$1 deadline; shift
	deadline=$(( $(date +%s%N) / 1000000 + timeout * 1000 ))
	until "$@" >/dev/null 2>&1; do
		if [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.05
	done
}

# h_skip REASON: the whole test is skipped, with its reason in the TAP
# plan that meson reads (protocol 'tap'), e.g. "1..0 # SKIP no clang".
h_skip() {
	printf '1..0 # SKIP %s\n' "$*"
	exit 0
}

# h_done: print the plan and exit 0 only if every check passed and at
# least one ran (a test that asserts nothing is a defect).
h_done() {
	local total=$((H_PASSED + H_FAILED))
	printf '1..%d\n' "$total"
	if [ "$total" -eq 0 ]; then
		h_log "no checks ran"
		exit 1
	fi
	[ "$H_FAILED" -eq 0 ] || exit 1
	exit 0
}

h_freeport() { "$MEDALLION_BUILD_DIR/tests/freeport"; }

# --- medallion-server -----------------------------------------------------

H_SERVER_BIN="$MEDALLION_BUILD_DIR/server/medallion-server"

# h_server_start [extra medallion-server options...]
# Sets H_URL, H_SERVER_PID, H_SERVER_DIR (state.db, logs/, server.log) and
# uses H_STAGES_DIR (default $H_TMP/stages, created) as --stages-dir.
h_server_start() {
	H_SERVER_DIR=${H_SERVER_DIR:-$H_TMP/server}
	H_STAGES_DIR=${H_STAGES_DIR:-$H_TMP/stages}
	mkdir -p "$H_SERVER_DIR/logs" "$H_STAGES_DIR"
	rm -f "$H_SERVER_DIR/port"
	setsid "$H_SERVER_BIN" --host 127.0.0.1 --port 0 \
		--port-file "$H_SERVER_DIR/port" \
		--state "$H_SERVER_DIR/state.db" \
		--stages-dir "$H_STAGES_DIR" \
		--log-dir "$H_SERVER_DIR/logs" "$@" \
		>>"$H_SERVER_DIR/server.log" 2>&1 </dev/null &
	H_SERVER_PID=$!
	h_defer "h_server_kill_session $H_SERVER_PID"
	if ! h_wait_until 10 test -s "$H_SERVER_DIR/port"; then
		h_log "medallion-server did not start; its log:"
		sed 's/^/#   /' "$H_SERVER_DIR/server.log" >&2
		return 1
	fi
	H_PORT=$(cat "$H_SERVER_DIR/port")
	H_URL="http://127.0.0.1:$H_PORT"
}

# h_server_stop: SIGTERM, wait up to 10 s, then SIGKILL the whole session.
h_server_stop() {
	local pid=${1:-$H_SERVER_PID} i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# h_server_crash: kill -9 the server only; its runners and stages live on.
h_server_crash() {
	kill -KILL "$H_SERVER_PID" 2>/dev/null || true
	wait "$H_SERVER_PID" 2>/dev/null || true
}

# Clean-up: the server and every process left in its session.
h_server_kill_session() {
	local sid=$1
	h_server_stop "$sid"
	pkill -KILL -s "$sid" 2>/dev/null || true
}

# h_stage NAME BODY: install a shell-script stage in the stages folder.
h_stage() {
	H_STAGES_DIR=${H_STAGES_DIR:-$H_TMP/stages}
	mkdir -p "$H_STAGES_DIR"
	printf '#!/bin/sh\n%s\n' "$2" >"$H_STAGES_DIR/$1"
	chmod 755 "$H_STAGES_DIR/$1"
}

# h_curl METHOD PATH [curl args...]: prints "STATUS\n" then the body to
# $H_TMP/body; sets H_STATUS and H_BODY.
h_curl() {
	local method=$1 path=$2; shift 2
	H_STATUS=$(curl -sS -o "$H_TMP/body" -w '%{http_code}' -X "$method" \
		"$@" "$H_URL$path") || H_STATUS=000
	H_BODY=$(cat "$H_TMP/body" 2>/dev/null || true)
}

# h_jq FILTER: apply jq to the last h_curl body.
h_jq() { printf '%s' "$H_BODY" | jq -r "$1"; }

# h_duckdb SQL: runs SQL in DuckDB from npm (tests/interop), an engine
# independent of ours; prints one JSON object per result row.
h_duckdb() { node "$MEDALLION_SOURCE_DIR/tests/interop/duckdb-query.mjs" "$1"; }
