#!/bin/bash
# fuzz-request.sh - fuzzes the server's request parsing (route, create body,
# Authorization header) under ASan and UBSan with libFuzzer.
#   meson test server_fuzz            # a few seconds, part of the suite
#   tests/server/fuzz-request.sh --time 600   # by hand, longer
# (by hand: set MEDALLION_SOURCE_DIR and MEDALLION_BUILD_DIR first)
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/fuzz.sh"

seconds=${FUZZ_SECONDS:-5}
[ "${1:-}" = --time ] && seconds=$2
src=$MEDALLION_SOURCE_DIR
bin=$MEDALLION_BUILD_DIR/fuzz/fuzz_request

fuzz_build "$bin" "$src/tests/server/fuzz_request.c" "$src/server/proto.c" \
	"$src/server/stage.c" "$src/server/auth.c" "$src/common/sha256.c" \
	"$src/common/log.c" "$src/common/clock.c" -- \
	-I"$src/server" -I"$src/common" -I"$MEDALLION_BUILD_DIR" \
	$(pkg-config --cflags --libs jansson)

seeds=$H_TMP/seeds
mkdir -p "$seeds"
printf '%s' '{"action":"CreateSubmissionRequest","clientSparkVersion":"4.0.0","appResource":"hdfs://nn:8020/jobs/ingestion.py","mainClass":"org.apache.spark.deploy.SparkSubmit","appArgs":["ingestion","--x"],"sparkProperties":{"spark.app.name":"ingestion","spark.driver.supervise":"true","spark.driver.cores":"1"},"environmentVariables":{"LD_PRELOAD":"x","FOO":"bar"},"extra":1}' >"$seeds/create"
printf '%s' '{"action":"CreateSubmissionRequest","clientSparkVersion":"4","appResource":"","mainClass":"m","appArgs":[],"sparkProperties":{"spark.cores.max":"two"}}' >"$seeds/create-bad"
printf '%s' '/v1/submissions/status/driver-20261124000000-0001' >"$seeds/path"
printf '%s' '/v2/submissions/kill/x/y' >"$seeds/path-version"
printf '%s' 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.AAAA' >"$seeds/jws"
printf '%s' 'Bearer secret-token' >"$seeds/token"

fuzz_run "$bin" "$seeds" "$seconds"
h_done
