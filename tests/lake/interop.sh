#!/bin/bash
# interop.sh - our Parquet against DuckDB's, both ways.
#  1. Files we write (every codec) read back in DuckDB with the types we
#     declared and exactly the values we wrote.
#  2. Files DuckDB writes (every codec, v1 and v2 pages, dictionary and
#     plain columns, several row groups) read back in our reader with
#     exactly DuckDB's values.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

lake=$MEDALLION_BUILD_DIR/stages/lake/medallion-lake
sample=$MEDALLION_BUILD_DIR/tests/lake/pq_sample
cols="{'id':'INTEGER','i32':'INTEGER','i64':'BIGINT','f64':'DOUBLE','flag':'BOOLEAN','status':'VARCHAR','note':'VARCHAR','day':'DATE','ts':'TIMESTAMP'}"

# diff_sql PARQUET_SELECT CSV: rows only in one side, and the row count.
diff_sql() {
	printf "SET TimeZone='UTC';
	WITH p AS (%s),
	c AS (SELECT * FROM read_csv('%s', header=true, allow_quoted_nulls=false,
	      quote='\"', escape='\"', columns=%s))
	SELECT (SELECT count(*) FROM (FROM p EXCEPT ALL FROM c)) AS only_parquet,
	       (SELECT count(*) FROM (FROM c EXCEPT ALL FROM p)) AS only_csv,
	       (SELECT count(*) FROM p) AS n" "$1" "$2" "$3"
}

for codec in none snappy gzip zstd; do
	f=$H_TMP/ours-$codec.parquet
	"$sample" "$f" $codec 5000 > "$H_TMP/ours-$codec.csv"
	out=$(h_duckdb "$(diff_sql "SELECT id, i32, i64, f64, flag, status, note, day, ts::TIMESTAMP AS ts FROM read_parquet('$f')" "$H_TMP/ours-$codec.csv" "$cols")")
	h_eq "ours ($codec) read by DuckDB: identical values" "$out" '{"only_parquet":"0","only_csv":"0","n":"5000"}'
done
# Row groups sorted by a nullable column, in aligned pages whose headers
# carry min/max (the layout maintenance compacts silver into).
f=$H_TMP/ours-sorted.parquet
"$sample" "$f" zstd 5000 sorted > "$H_TMP/ours-sorted.csv"
out=$(h_duckdb "$(diff_sql "SELECT id, i32, i64, f64, flag, status, note, day, ts::TIMESTAMP AS ts FROM read_parquet('$f')" "$H_TMP/ours-sorted.csv" "$cols")")
h_eq "ours (sorted rows, aligned pages with statistics) read by DuckDB: identical values" "$out" '{"only_parquet":"0","only_csv":"0","n":"5000"}'
# A file of a few rows: its chunks are under 1 KiB and stored
# uncompressed whatever the codec; the 5000-row file's are compressed.
f=$H_TMP/ours-small.parquet
"$sample" "$f" zstd 12 > "$H_TMP/ours-small.csv"
out=$(h_duckdb "$(diff_sql "SELECT id, i32, i64, f64, flag, status, note, day, ts::TIMESTAMP AS ts FROM read_parquet('$f')" "$H_TMP/ours-small.csv" "$cols")")
h_eq "ours (zstd, 12 rows) read by DuckDB: identical values" "$out" '{"only_parquet":"0","only_csv":"0","n":"12"}'
h_eq "ours: small chunks are stored uncompressed" \
	"$(h_duckdb "SELECT string_agg(DISTINCT compression, ',') AS c FROM parquet_metadata('$f')")" '{"c":"UNCOMPRESSED"}'
h_eq "ours: large chunks use the codec asked for" \
	"$(h_duckdb "SELECT string_agg(DISTINCT compression, ',') AS c FROM parquet_metadata('$H_TMP/ours-zstd.parquet') WHERE total_uncompressed_size >= 1024")" '{"c":"ZSTD"}'
types=$(h_duckdb "DESCRIBE SELECT * FROM read_parquet('$H_TMP/ours-zstd.parquet')" | jq -rs 'map(.column_type) | join(",")')
h_eq "DuckDB sees the types we declared" "$types" \
	"INTEGER,INTEGER,BIGINT,DOUBLE,BOOLEAN,VARCHAR,VARCHAR,DATE,TIMESTAMP WITH TIME ZONE"
h_check "ours: several row groups" test "$(h_duckdb "SELECT count(DISTINCT row_group_id) AS g FROM parquet_metadata('$H_TMP/ours-zstd.parquet')" | jq -r .g)" -gt 1
h_eq "ours: string stats are readable by DuckDB" \
	"$(h_duckdb "SELECT min(stats_min_value) AS mn, max(stats_max_value) AS mx FROM parquet_metadata('$H_TMP/ours-zstd.parquet') WHERE path_in_schema = 'status'")" \
	'{"mn":"","mx":"東京"}'

# DuckDB writes the same shape of data: low-cardinality columns become
# dictionaries, unique ones stay plain; nulls everywhere; pre-1970 values.
gen="SELECT i::INTEGER AS id,
	CASE WHEN i % 9 = 1 THEN NULL WHEN i % 4 = 0 THEN -2147483648 + i ELSE i * 37 - 5000 END::INTEGER AS i32,
	CASE WHEN i % 7 = 2 THEN NULL WHEN i % 5 = 0 THEN -9223372036854775808 + i ELSE i * -987654321 END::BIGINT AS i64,
	CASE WHEN i % 11 = 3 THEN NULL ELSE (i - 500) / 3.0e3 END::DOUBLE AS f64,
	CASE WHEN i % 6 = 4 THEN NULL ELSE i % 3 = 0 END AS flag,
	CASE WHEN i % 10 = 5 THEN NULL ELSE ['NEW','DELIVERED','','Zürich','東京','say \"hi\", then' || chr(10) || 'leave'][i % 6 + 1] END AS status,
	CASE WHEN i % 8 = 6 THEN NULL ELSE 'n' || (i * 7919 % 100003) || '-ß' END AS note,
	CASE WHEN i % 12 = 7 THEN NULL ELSE DATE '1888-01-01' + (i * 17)::INTEGER END AS day,
	CASE WHEN i % 13 = 8 THEN NULL ELSE TIMESTAMP '1900-01-01' + to_microseconds(i * 98765432101) END AS ts
	FROM range(20000) t(i)"
for codec in uncompressed snappy gzip zstd; do
	for v in V1 V2; do
		f=$H_TMP/duck-$codec-$v.parquet
		h_duckdb "COPY ($gen) TO '$f' (FORMAT parquet, COMPRESSION $codec, PARQUET_VERSION $v, ROW_GROUP_SIZE 6000)" >/dev/null
		if ! "$lake" cat "$f" > "$H_TMP/read-$codec-$v.csv" 2> "$H_TMP/err"; then
			h_fail "DuckDB ($codec, $v) read by ours: $(cat "$H_TMP/err")"
			continue
		fi
		out=$(h_duckdb "$(diff_sql "SELECT * FROM read_parquet('$f')" "$H_TMP/read-$codec-$v.csv" "$cols")")
		h_eq "DuckDB ($codec, $v pages) read by ours: identical values" "$out" '{"only_parquet":"0","only_csv":"0","n":"20000"}'
	done
done
encodings=$(h_duckdb "SELECT string_agg(DISTINCT encodings, ',' ORDER BY encodings) AS e FROM parquet_metadata('$H_TMP/duck-zstd-V2.parquet')" | jq -r .e)
h_log "encodings DuckDB used in v2: $encodings"
h_match "the v2 file exercises dictionary and delta encodings" "$encodings" 'DELTA_BINARY_PACKED.*DELTA_LENGTH_BYTE_ARRAY.*RLE_DICTIONARY'
h_match "the v1 file exercises dictionary pages" \
	"$(h_duckdb "SELECT string_agg(DISTINCT encodings, ',') AS e FROM parquet_metadata('$H_TMP/duck-snappy-V1.parquet')" | jq -r .e)" 'DICTIONARY'

h_check_fails "a non-Parquet file is refused" "$lake" cat "$H_TMP/ours-none.csv"
printf 'PAR1garbage' > "$H_TMP/bad.parquet"
h_match "a corrupt file gives a clear error" "$("$lake" cat "$H_TMP/bad.parquet" 2>&1)" 'not a Parquet file'
h_done
