#!/usr/bin/env bash
# delta.sh - the Delta log on an S3 lake (test_s3_delta against a throwaway
# Ceph RGW): the storage seam's calls, commits with checkpoints and time
# travel, racing writers with exactly one winner, log cleanup, vacuum,
# medallion-lake on the table, and refused credentials or an unreachable
# endpoint failing with a clear message and changing nothing.
. "$MEDALLION_SOURCE_DIR/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/s3.sh"
t=$MEDALLION_BUILD_DIR/tests/s3/test_s3_delta
lake=$MEDALLION_BUILD_DIR/stages/lake/medallion-lake
s3_start
root=s3://$S3_BUCKET/delta-test
table=$root/t

h_check "the storage seam on S3" "$t" store "$root"
h_check "25 commits, checkpoints, time travel, changes" "$t" log "$table"
h_eq "the checkpoints at 10 and 20 are in the bucket" \
	"$(s3_keys delta-test/t/_delta_log/ | grep -c 'checkpoint.parquet$')" 2
h_eq "no temp object is ever written (commits are one conditional PUT)" \
	"$(s3_keys delta-test/t/_delta_log/ | grep -c '\.tmp-')" 0
h_match "medallion-lake log reads it" "$("$lake" log "$table" 2>&1 | tail -n 1)" '^ *v24 '
h_check "medallion-lake check: no problem but the missing files" \
	bash -c "'$lake' check '$table' 2>&1 | grep -q 'logged in version'"
h_check "4 writers racing for each of 20 versions: one winner each" "$t" race "$root/race" 4
h_check "log cleanup keeps the log readable from the newest checkpoint" "$t" cleanup "$table"
h_check "vacuum removes an unreferenced object only" "$t" vacuum "$table"

before=$(s3_keys delta-test/ | md5sum)
err=$(AWS_SECRET_ACCESS_KEY=wrong "$lake" log "$table" 2>&1 >/dev/null)
h_match "a refused secret fails, naming bucket, key, status and code" "$err" \
	"s3://$S3_BUCKET/delta-test/t.*403.*SignatureDoesNotMatch"
t0=$(date +%s)
# One request's retry budget (30 s) passes before it gives up.
err=$(AWS_ENDPOINT_URL_S3=http://127.0.0.1:$(h_freeport) "$lake" log "$table" 2>&1 >/dev/null)
h_match "an unreachable endpoint fails, saying so" "$err" "unreachable|connect"
h_log "gave up after $(( $(date +%s) - t0 )) s"
h_eq "... and neither changed anything in the bucket" "$(s3_keys delta-test/ | md5sum)" "$before"
h_done
