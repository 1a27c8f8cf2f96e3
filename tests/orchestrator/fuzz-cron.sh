#!/bin/bash
# fuzz-cron.sh - fuzzes the orchestrator's schedules (schedule.c: cron
# expressions and --every intervals) under ASan and UBSan with
# libFuzzer, seeded with valid and broken expressions.
#   meson test orchestrator_fuzz_cron          # a few seconds, in the suite
#   tests/orchestrator/fuzz-cron.sh --time 600 # by hand, longer
# (by hand: set MEDALLION_SOURCE_DIR and MEDALLION_BUILD_DIR first)
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/fuzz.sh"

seconds=${FUZZ_SECONDS:-5}
[ "${1:-}" = --time ] && seconds=$2
src=$MEDALLION_SOURCE_DIR
bin=$MEDALLION_BUILD_DIR/fuzz/fuzz_cron

fuzz_build "$bin" "$src/tests/orchestrator/fuzz_cron.c" \
	"$src/orchestrator/schedule.c" -- -I"$src/orchestrator"

seeds=$H_TMP/seeds
mkdir -p "$seeds"
# First byte even: a cron expression follows; odd: an 8-byte interval.
printf '\0%s' '*/15 9-17 * * 1-5' >"$seeds/workdays"
printf '\0%s' '0 0 29 2 *' >"$seeds/leap"
printf '\0%s' '5,35 */2 1-7,15 1/3 0,7' >"$seeds/lists"
printf '\0%s' '0 0 31 4 *' >"$seeds/never"
printf '\0%s' '1/2147483647 * * * *' >"$seeds/step"
printf '\001\000\000\000\000\021\342\032\000' >"$seeds/every"
printf '\001\177\377\377\377\377\377\377\377' >"$seeds/every-max"

fuzz_run "$bin" "$seeds" "$seconds"
h_done
