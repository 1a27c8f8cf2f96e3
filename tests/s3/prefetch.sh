#!/usr/bin/env bash
# prefetch.sh - a scan's read-ahead on an S3 lake (test_s3_prefetch against
# a throwaway Ceph RGW): a window of files read at once, bounded in files
# and bytes, its reads served without a request, a large file's footer, a
# missing file failing at its first read with the GET's message, and
# lake_scan over 100 small Parquet files reading every row with one GET a
# file.
. "$MEDALLION_SOURCE_DIR/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/s3.sh"
t=$MEDALLION_BUILD_DIR/tests/s3/test_s3_prefetch
s3_start
root=s3://$S3_BUCKET/prefetch-test

h_check "the window: bound, reads from it, footers, a failure" "$t" window "$root"
h_check "lake_scan over 100 files: every row, one GET a file" "$t" scan "$root"
h_done
