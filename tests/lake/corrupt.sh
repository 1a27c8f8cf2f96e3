#!/bin/bash
# corrupt.sh - silent corruption is caught: every page carries a CRC, so
# 64 random bytes overwritten in the middle of a bronze file (size
# unchanged) make `medallion-lake check --deep` report the file and the
# transformation refuse to read it, naming it, instead of writing wrong
# silver and gold; and of 40 single-bit flips at seeded random offsets,
# none changes the rows a reader gets without `check --deep` saying so.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

b=$MEDALLION_BUILD_DIR
lake=$b/stages/lake/medallion-lake
export MEDALLION_LAKE=$H_TMP/lake
pg_start
(eval "$(pg_env_app)"; "$b/retailapp/medallion-retailapp" --bulk 20000 --seed 9 --quiet 2>/dev/null)
h_check "ingestion writes bronze" bash -c "eval \"\$('$PG_CLUSTER' env '$PG_DIR' medallion_pipeline)\"; '$b/stages/ingestion/ingestion'"
orders=$MEDALLION_LAKE/bronze/orders
victim=$(find "$orders" -name '*.parquet' -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
size=$(stat -c %s "$victim")
h_log "victim: ${victim#"$MEDALLION_LAKE"/} ($size bytes)"
h_check "check --deep passes on the intact table" "$lake" check --deep "$orders"
"$lake" cat "$victim" > "$H_TMP/rows.intact"

# 64 random bytes in the middle: same size, same footer.
cp "$victim" "$H_TMP/victim.bak"
head -c 64 /dev/urandom | dd of="$victim" bs=1 seek=$((size / 2)) conv=notrunc status=none
h_eq "the corrupt file keeps its size" "$(stat -c %s "$victim")" "$size"
"$lake" check --deep "$orders" > "$H_TMP/out" 2>&1
h_eq "check --deep finds the corruption (exit 3)" "$?" 3
h_match "... naming the file and the failed CRC" "$(cat "$H_TMP/out")" "${victim##*/}.*(CRC|corrupt)"
"$b/stages/transformation/transformation" > "$H_TMP/out" 2>&1
h_check "the transformation refuses to read it (exit $?)" test "$?" -ne 0
h_match "... naming the file" "$(cat "$H_TMP/out")" "${victim##*/}"
h_check "... and writes no silver" test ! -d "$MEDALLION_LAKE/silver/allorders/_delta_log" -o -z "$(ls "$MEDALLION_LAKE/silver/allorders/_delta_log" 2>/dev/null | grep json)"
cp "$H_TMP/victim.bak" "$victim"
h_check "restored, the transformation runs" "$b/stages/transformation/transformation"

# 40 single-bit flips: each is either reported by check --deep or leaves
# the rows a reader gets unchanged (a bit in footer statistics, say).
scratch=$H_TMP/scratch
silent=0 caught=0 harmless=0
for off in $(awk -v n="$size" 'BEGIN { srand(20); for (i = 0; i < 40; i++) printf "%d\n", int(rand() * (n - 8)) + 4 }'); do
	rm -rf "$scratch"; cp -r "$orders" "$scratch"
	f=$scratch/${victim#"$orders"/}
	byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	bit=$(( 1 << (off % 8) ))
	printf "$(printf '\\%03o' $(( byte ^ bit )))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
	if ! "$lake" check --deep "$scratch" >/dev/null 2>&1; then
		caught=$((caught + 1))
	elif "$lake" cat "$f" 2>/dev/null | cmp -s - "$H_TMP/rows.intact"; then
		harmless=$((harmless + 1))
	else
		silent=$((silent + 1))
		h_log "flip at byte $off changed rows silently"
	fi
done
h_log "40 bit flips: $caught caught by check --deep, $harmless harmless, $silent silent"
h_eq "no bit flip changes rows silently" "$silent" 0
h_check "... and most are caught ($caught of 40)" test "$caught" -ge 30
h_done
