#!/bin/bash
# fuzz-s3-parse.sh - fuzzes the S3 client's parsers of untrusted text
# (stages/lake/s3_xml.c: ListObjectsV2 pages and error bodies;
# stages/lake/s3_config.c: s3:// URIs and keys) under ASan and UBSan with
# libFuzzer, seeded with real answers of Ceph RGW and AWS.
#   meson test s3_fuzz_parse                # a few seconds, in the suite
#   tests/s3/fuzz-s3-parse.sh --time 600    # by hand, longer
# (by hand: set MEDALLION_SOURCE_DIR and MEDALLION_BUILD_DIR first)
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/fuzz.sh"

seconds=${FUZZ_SECONDS:-5}
[ "${1:-}" = --time ] && seconds=$2
src=$MEDALLION_SOURCE_DIR
bin=$MEDALLION_BUILD_DIR/fuzz/fuzz_s3_parse

fuzz_build "$bin" "$src/tests/s3/fuzz_s3_parse.c" "$src/stages/lake/s3_xml.c" \
	"$src/stages/lake/s3_config.c" -- -I"$src/stages/lake" -I"$src/common" \
	-I"$MEDALLION_BUILD_DIR"

seeds=$H_TMP/seeds
mkdir -p "$seeds"
# The first byte picks the parser: 0 list, 1 error code, 2 URI.
printf '\000%s' '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>medallion</Name><Prefix>t/_delta_log/</Prefix><StartAfter>t/_delta_log/00000000000000000001.json</StartAfter><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>t/_delta_log/00000000000000000002.json</Key><LastModified>2026-11-29T17:00:00.000Z</LastModified><ETag>&quot;be80&quot;</ETag><Size>612</Size><StorageClass>STANDARD</StorageClass><Owner><ID>medallion-test</ID><DisplayName>medallion test user</DisplayName></Owner><Type>Normal</Type></Contents><Contents><Key>t/a&amp;b&#x20AC;<![CDATA[<c>]]></Key><Size>0</Size></Contents><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken><EncodingType>url</EncodingType></ListBucketResult>' >"$seeds/list"
printf '\000%s' '<ListBucketResult><IsTruncated>false</IsTruncated><!-- c --><Empty/></ListBucketResult>' >"$seeds/list-empty"
printf '\001%s' '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message></Message><BucketName>medallion</BucketName><RequestId>tx0000074f3bd9a087c5cb8-006b0c619d-100d-default</RequestId><HostId>100d-default-default</HostId></Error>' >"$seeds/error"
printf '\001%s' '<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>' >"$seeds/slowdown"
printf '\002%s' 's3://my-lake.data/warehouse/sales/' >"$seeds/uri"
printf '\002%s' 's3a://bucket/a/../b' >"$seeds/uri-dots"

fuzz_run "$bin" "$seeds" "$seconds"
h_done
