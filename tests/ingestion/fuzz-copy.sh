#!/bin/bash
# fuzz-copy.sh - fuzzes the COPY binary decoder (copy_decode.c) under ASan
# and UBSan with libFuzzer, seeded with tuples of both tables, ±infinity,
# a header, the trailer, and the input that found issue 20's overflow.
#   meson test ingestion_fuzz_copy          # a few seconds, in the suite
#   tests/ingestion/fuzz-copy.sh --time 600 # by hand, longer
# (by hand: set MEDALLION_SOURCE_DIR and MEDALLION_BUILD_DIR first)
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/fuzz.sh"

seconds=${FUZZ_SECONDS:-5}
[ "${1:-}" = --time ] && seconds=$2
src=$MEDALLION_SOURCE_DIR
bin=$MEDALLION_BUILD_DIR/fuzz/fuzz_copy

fuzz_build "$bin" "$src/tests/ingestion/fuzz_copy.c" \
	"$src/stages/ingestion/copy_decode.c" "$src/stages/ingestion/source.c" \
	"$src/stages/lake/lake_err.c" "$src/stages/catalog/catalog.c" \
	-- -I"$src/stages/ingestion" -I"$src/stages/lake" \
	-I"$src/stages/catalog" \
	$(pkg-config --cflags --libs libpq 2>/dev/null || echo -I/usr/include/postgresql -lpq)

seeds=$H_TMP/seeds
mkdir -p "$seeds"
seed() { printf '%s' "$2" | xxd -r -p >"$seeds/$1"; }
# orders: orderid, ordertime, branch, xid; ordershistory: historyid,
# orderid, status, updatedat, xid.
seed orders '01 0004 00000004 000f4241 00000008 000291a2b3c4d5e6 00000008 4272616e63682031 00000008 000000000000abcd'
seed issue20 '01 0004 00000004 000f4241 00000008 7fffffffff4d5000 00000000 00000000 080002b51a0a00002b'
seed infinity '01 0004 00000004 00000001 00000008 7fffffffffffffff 00000001 41 00000008 00000000000000ff'
seed minus-infinity '01 0004 00000004 00000001 00000008 8000000000000000 ffffffff 00000008 00000000000000ff'
seed history '00 0005 00000004 00000007 00000004 000f4241 00000009 44454c495645524544 00000008 00029a0000000000 00000008 0000000000001234'
seed header '03 5047434f50590aff0d0a00 00000000 00000004 01020304 0004 00000004 00000001 00000008 0000000000000000 00000001 41 00000008 000000000000000a'
seed trailer '00 ffff'
seed header-trailer '02 5047434f50590aff0d0a00 00000000 00000000 ffff'
fuzz_run "$bin" "$seeds" "$seconds"
h_done
