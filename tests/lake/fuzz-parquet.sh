#!/bin/bash
# fuzz-parquet.sh - fuzzes the Parquet reader under ASan and UBSan with
# libFuzzer, seeded with files from our writer, DuckDB (v1 and v2 pages,
# each codec) and Spark (the golden tables).
#   meson test lake_fuzz                   # a few seconds, in the suite
#   tests/lake/fuzz-parquet.sh --time 600  # by hand, longer
# (by hand: set MEDALLION_SOURCE_DIR and MEDALLION_BUILD_DIR first)
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/fuzz.sh"

seconds=${FUZZ_SECONDS:-5}
[ "${1:-}" = --time ] && seconds=$2
src=$MEDALLION_SOURCE_DIR
lk=$src/stages/lake
bin=$MEDALLION_BUILD_DIR/fuzz/fuzz_parquet

# The reader reads through the lake's storage layer, which has an S3
# backend: the Parquet part and the S3 client, as meson.build lists them.
mapfile -t storage_sources < <(sed -n '/^lake_parquet_sources/,/)/p; /^lake_s3_lib/,/)/p' \
	"$lk/meson.build" | grep -o "'[a-z_0-9]*\.c'" | tr -d "'" | sed "s#^#$lk/#")
fuzz_build "$bin" "$src/tests/lake/fuzz_parquet.c" "${storage_sources[@]}" \
	"$src/common/days.c" "$src/common/log.c" "$src/common/clock.c" \
	"$src/common/sha256.c" -- -I"$lk" -I"$src/common" \
	-I"$MEDALLION_BUILD_DIR" -ljansson -lzstd -lz -lm -ldl -lpthread

seeds=$H_TMP/seeds
mkdir -p "$seeds"
"$MEDALLION_BUILD_DIR/tests/lake/pq_sample" "$seeds/ours-zstd" zstd 300 >/dev/null
"$MEDALLION_BUILD_DIR/tests/lake/pq_sample" "$seeds/ours-snappy" snappy 40 >/dev/null
"$MEDALLION_BUILD_DIR/tests/lake/pq_sample" "$seeds/ours-none" none 40 >/dev/null
for v in V1 V2; do
	h_duckdb "COPY (SELECT i::INT AS a, i::BIGINT * 7 AS b, (i % 3)::VARCHAR AS s,
		CASE WHEN i % 4 = 0 THEN NULL ELSE i / 3.0 END AS d, i % 2 = 0 AS f,
		DATE '1969-12-30' + i::INTEGER AS day FROM range(200) t(i))
		TO '$seeds/duck-$v' (FORMAT parquet, PARQUET_VERSION $v, COMPRESSION gzip)" >/dev/null ||
		h_log "DuckDB seeds unavailable; fuzzing with our own"
done
golden=$src/../shared/testdata/delta-golden
[ -d "$golden" ] && find "$golden" -name '*.parquet' -size -4k | head -8 |
	while read -r f; do cp "$f" "$seeds/golden-$(basename "$f" | cut -c1-20)-$RANDOM"; done

ASAN_OPTIONS=allocator_may_return_null=1 fuzz_run "$bin" "$seeds" "$seconds"
h_done
