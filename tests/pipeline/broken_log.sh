#!/bin/bash
# broken_log.sh - a table whose _delta_log is not a folder (a file left by
# a bad copy, say) is an error every stage reports, naming the path, with
# exit status 1 and nothing written; a lake with no table yet is not: the
# transformation then says to run ingestion first and exits 0. A lake
# path too long for the paths built below it is refused up front (exit
# 2), never truncated.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

b=$MEDALLION_BUILD_DIR
export MEDALLION_LAKE=$H_TMP/lake

# stage_fails NAME STAGE TABLE: STAGE with TABLE's _delta_log a file.
stage_fails() {
	local rc=0
	rm -rf "$MEDALLION_LAKE"
	mkdir -p "$MEDALLION_LAKE/$3"
	: >"$MEDALLION_LAKE/$3/_delta_log"
	"$b/stages/$2/$2" 2>"$H_TMP/err" || rc=$?
	h_eq "$1: $2 exits 1" "$rc" 1
	h_match "... naming the table's log" "$(cat "$H_TMP/err")" "$MEDALLION_LAKE/$3/_delta_log: Not a directory"
	h_eq "... and writes no table" "$(find "$MEDALLION_LAKE" -name _delta_log -type d | wc -l)" 0
}

stage_fails "bronze/ordershistory's log a file" transformation bronze/ordershistory
stage_fails "bronze/orders' log a file" transformation bronze/orders
stage_fails "silver/allorders' log a file" transformation silver/allorders
stage_fails "silver/allorders' log a file" serving silver/allorders
stage_fails "bronze/orders' log a file" maintenance bronze/orders

rm -rf "$MEDALLION_LAKE"
mkdir -p "$MEDALLION_LAKE"
rc=0
"$b/stages/transformation/transformation" 2>"$H_TMP/err" || rc=$?
h_eq "an empty lake: the transformation exits 0" "$rc" 0
h_match "... saying to run ingestion first" "$(cat "$H_TMP/err")" "run ingestion first"

long=$H_TMP/$(printf '%01100d' 0)
for s in transformation serving maintenance; do
	rc=0
	MEDALLION_LAKE=$long "$b/stages/$s/$s" 2>"$H_TMP/err" || rc=$?
	h_eq "a lake path of 1,100+ bytes: $s exits 2" "$rc" 2
	h_match "... saying it is too long" "$(cat "$H_TMP/err")" "longer than the 1024 accepted"
done
rc=0
"$b/stages/lake/medallion-lake" ls "$long" 2>"$H_TMP/err" || rc=$?
h_eq "... and medallion-lake exits 2" "$rc" 2
h_match "... saying so" "$(cat "$H_TMP/err")" "longer than the 1024 accepted"
h_done
