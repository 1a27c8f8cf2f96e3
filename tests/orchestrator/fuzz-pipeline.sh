#!/bin/bash
# fuzz-pipeline.sh - fuzzes the orchestrator's pipeline file parser
# (pipeline.c, orch_pipeline_parse, with common/duration.c) under ASan
# and UBSan with libFuzzer, seeded with valid and broken files.
#   meson test orchestrator_fuzz_pipeline          # a few seconds, in the suite
#   tests/orchestrator/fuzz-pipeline.sh --time 600 # by hand, longer
# (by hand: set MEDALLION_SOURCE_DIR and MEDALLION_BUILD_DIR first)
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/fuzz.sh"

seconds=${FUZZ_SECONDS:-5}
[ "${1:-}" = --time ] && seconds=$2
src=$MEDALLION_SOURCE_DIR
bin=$MEDALLION_BUILD_DIR/fuzz/fuzz_pipeline

fuzz_build "$bin" "$src/tests/orchestrator/fuzz_pipeline.c" \
	"$src/orchestrator/pipeline.c" "$src/common/duration.c" \
	-- -I"$src/orchestrator" -I"$src/common" -I"$MEDALLION_BUILD_DIR" -ljansson

seeds=$H_TMP/seeds
mkdir -p "$seeds"
printf '%s' '{"name":"nightly","stages":[{"name":"ingestion","timeout":"30m","retries":3,"backoff":"250ms","maxBackoff":"1h","environment":[{"name":"PGHOST","fromEnv":"PGHOST"},{"name":"PGPASSFILE","file":"/run/secrets/pgpass"}]},{"name":"transformation","appResource":"hdfs://nn:8020/jobs/transformation.py","mainClass":"org.apache.spark.deploy.SparkSubmit","appArgs":["transformation","--lake","/lake"],"sparkProperties":{"spark.app.name":"t"}},{"name":"serving"}]}' >"$seeds/full"
printf '%s' '{"stages":[{"name":"ingestion","timeout":"18446744073710s"}]}' >"$seeds/overflow"
printf '%s' '{"stages":[{"name":"x","retry":1}]}' >"$seeds/unknown-key"
printf '%s' '{"stages":[]}' >"$seeds/empty"
[ -d "$src/deploy" ] && find "$src/deploy" "$src/schemas" -name '*pipeline*.json' 2>/dev/null | head -5 |
	while read -r f; do cp "$f" "$seeds/file-$(basename "$f")"; done

fuzz_run "$bin" "$seeds" "$seconds"
h_done
