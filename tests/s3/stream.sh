#!/usr/bin/env bash
# stream.sh - data files written to an S3 lake go out with bounded memory
# (test_s3_stream against a throwaway Ceph RGW): a 200 MiB file sent in
# parts as it is written and read back, with a peak RSS well under its
# size; many small files sent together at their barrier; files sent
# early past the held budget; a large temp object never sent under its
# temp name; an aborted or deleted stream leaving no object and no
# multipart upload; a failure naming bucket, key, status and code.
. "$MEDALLION_SOURCE_DIR/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/s3.sh"
t=$MEDALLION_BUILD_DIR/tests/s3/test_s3_stream
s3_start
root=s3://$S3_BUCKET/stream

# The bucket's multipart uploads in progress (ListMultipartUploads).
uploads() {
	local page
	page=$(curl -sS -f -K "$S3_CURL_CONFIG" "$AWS_ENDPOINT_URL_S3/$S3_BUCKET?uploads=") ||
		{ echo "ListMultipartUploads failed"; return; }
	printf '%s' "$page" | grep -o '<Key>[^<]*</Key>' | sed 's/<Key>\(.*\)<\/Key>/\1/'
}

# h_check, then the figures the program printed ("# ..." lines).
check() {
	h_check "$@"
	sed -n 's/^# //p' "$H_TMP/.check.out" | while read -r line; do h_log "$line"; done
}

check "a 200 MiB file in parts: the same bytes back, peak RSS under 1/4 of it" \
	"$t" big "$root/big" 200
check "200 small files: no request until their barrier, then 200 PUTs" \
	"$t" small "$root/small" 200
check "past the held budget, closed files go up early; temps never" \
	"$t" budget "$root/budget"
h_eq "no temp object was ever sent" "$(s3_keys stream/ | grep -c '\.tmp-')" 0
check "an aborted or deleted stream leaves no object" "$t" abort "$root/abort"
h_eq "... and no multipart upload" "$(uploads | wc -l)" 0
h_eq "no object left under abort/" "$(s3_count stream/abort/)" 0
check "a stream into a missing bucket fails clearly" \
	"$t" fail "s3://no-such-bucket-$$/big"
h_done
