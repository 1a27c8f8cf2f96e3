#!/bin/bash
# fuzz-delta-log.sh - fuzzes Delta log replay (delta_snapshot.c) under
# ASan and UBSan with libFuzzer: fuzzed commit files in a scratch table,
# seeded with logs our writer makes and Spark's golden tables' logs.
#   meson test lake_fuzz_delta_log             # a few seconds, in the suite
#   tests/lake/fuzz-delta-log.sh --time 600    # by hand, longer
# (by hand: set MEDALLION_SOURCE_DIR and MEDALLION_BUILD_DIR first)
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/fuzz.sh"

seconds=${FUZZ_SECONDS:-5}
[ "${1:-}" = --time ] && seconds=$2
src=$MEDALLION_SOURCE_DIR
bin=$MEDALLION_BUILD_DIR/fuzz/fuzz_delta_log

# The whole lake library, as stages/lake/meson.build lists it (its file
# list grows), with the S3 client its storage layer calls, and the
# common pieces it logs and times with.
mapfile -t lake_sources < <(sed -n '/^lake_\(parquet\|delta\)_sources/,/)/p; /^lake_s3_lib/,/)/p' \
	"$src/stages/lake/meson.build" | grep -o "'[a-z_0-9]*\.c'" | tr -d "'" |
	sed "s#^#$src/stages/lake/#")
fuzz_build "$bin" "$src/tests/lake/fuzz_delta_log.c" "${lake_sources[@]}" \
	"$src/common/log.c" "$src/common/clock.c" "$src/common/sha256.c" \
	"$src/common/days.c" \
	-- -I"$src/stages/lake" -I"$src/common" -I"$MEDALLION_BUILD_DIR" \
	-ljansson -lzstd -lz -lm -ldl -lpthread

# A seed is a table's log: its commits joined by NUL bytes.
seeds=$H_TMP/seeds
mkdir -p "$seeds"
join_log() {	# LOG-FOLDER OUT
	local first=1 f
	for f in "$1"/0*.json; do
		[ -e "$f" ] || continue
		[ $first = 1 ] || printf '\0'
		head -c 20000 "$f"
		first=0
	done >"$2"
}
table=$H_TMP/ours
"$MEDALLION_BUILD_DIR/tests/delta/test_delta" append "$table" 0 40 >/dev/null 2>&1 &&
	"$MEDALLION_BUILD_DIR/tests/delta/test_delta" append "$table" 1 30 >/dev/null 2>&1
[ -d "$table/_delta_log" ] && join_log "$table/_delta_log" "$seeds/ours"
golden=$src/../shared/testdata/delta-golden
[ -d "$golden" ] && for d in "$golden"/*/_delta_log; do
	n=$(ls "$d"/0*.json 2>/dev/null | wc -l)
	[ "$n" -ge 1 ] && [ "$n" -le 8 ] && join_log "$d" "$seeds/golden-$(basename "$(dirname "$d")")"
done
printf '%s' '{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}' >"$seeds/protocol-only"

TMPDIR=$H_TMP fuzz_run "$bin" "$seeds" "$seconds"
h_done
