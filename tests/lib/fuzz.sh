# fuzz.sh - build and run a libFuzzer target for a few seconds, for tests.
#
# Sourced by a test after harness.sh:
#   fuzz_build OUT SOURCE... [-- COMPILER-AND-LINKER-FLAGS...]
#   fuzz_run OUT CORPUS-DIR SECONDS
# fuzz_build compiles with clang -fsanitize=fuzzer,address,undefined (the
# test is skipped, saying so, when clang is absent). fuzz_run runs the
# target over a copy of the seed corpus for SECONDS, records one check that
# fails on any crash, leak or sanitizer report, and prints the number of
# executions ("# fuzz: N executions in S s"). For long runs by hand, run the
# built binary directly: OUT -max_total_time=3600 CORPUS-DIR.

fuzz_build() {
	local out=$1 cc srcs=() flags=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do srcs+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	flags=("$@")
	cc=$(command -v clang || command -v clang-14 || true)
	if [ -z "$cc" ]; then
		h_skip "clang is not installed (apt-get install clang)"
	fi
	mkdir -p "$(dirname "$out")"
	"$cc" -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -o "$out" "${srcs[@]}" "${flags[@]}" \
	    || { h_fail "fuzz target $out does not compile"; h_done; }
}

fuzz_run() {
	local bin=$1 seeds=$2 seconds=$3 work log runs
	work=$H_TMP/fuzz-corpus.$$
	log=$H_TMP/fuzz.log
	mkdir -p "$work"
	cp -r "$seeds"/. "$work"/
	if ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" \
	    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$H_TMP/" "$work" >"$log" 2>&1; then
		h_check "fuzz $(basename "$bin") for ${seconds}s: no crash" true
	else
		sed -n '/ERROR\|WARNING\|SUMMARY\|==[0-9]*==/p' "$log" | head -40 >&2
		h_check "fuzz $(basename "$bin") for ${seconds}s: no crash" false
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	echo "# fuzz: ${runs:-0} executions in ${seconds} s ($(basename "$bin"))"
	h_check "fuzz $(basename "$bin") executed inputs" test "${runs:-0}" -gt 0
}
