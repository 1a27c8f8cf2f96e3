#!/bin/bash
# fuzz-json.sh - fuzzes the Delta log's JSON scanner (lake_json.c) under
# ASan and UBSan with libFuzzer, against jansson's answers, seeded with
# real log lines (ours and Spark's golden tables).
#   meson test lake_fuzz_json            # a few seconds, in the suite
#   tests/lake/fuzz-json.sh --time 600   # by hand, longer
# (by hand: set MEDALLION_SOURCE_DIR and MEDALLION_BUILD_DIR first)
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/fuzz.sh"

seconds=${FUZZ_SECONDS:-5}
[ "${1:-}" = --time ] && seconds=$2
src=$MEDALLION_SOURCE_DIR
bin=$MEDALLION_BUILD_DIR/fuzz/fuzz_json

fuzz_build "$bin" "$src/tests/lake/fuzz_json.c" "$src/stages/lake/lake_json.c" \
	-- -I"$src/stages/lake" -ljansson

seeds=$H_TMP/seeds
mkdir -p "$seeds"
printf '%s' '{"add":{"path":"date=2026-11-01/part-00000-x.parquet","partitionValues":{"date":"2026-11-01"},"size":1312,"modificationTime":1795585665628,"dataChange":true,"stats":"{\"numRecords\":44,\"minValues\":{\"orderid\":2000002,\"status\":\"DELIVERED\"},\"maxValues\":{\"orderid\":2000026}}"}}' >"$seeds/add"
printf '%s' '{"a":{"b":-9223372036854775808,"c":[1,2.5e3,null,true]},"b":"\u00e9\ud83d\ude00\n"}' >"$seeds/mixed"
printf '%s' '"caf\u00e9 \"q\" \\ \/ \b\f\r\t"' >"$seeds/string"
golden=$src/../shared/testdata/delta-golden
[ -d "$golden" ] && find "$golden" -name '0*.json' -size -4k | head -20 |
	while read -r f; do head -n1 "$f" | head -c 3000 >"$seeds/golden-$RANDOM-$(basename "$f")"; done

fuzz_run "$bin" "$seeds" "$seconds"
h_done
