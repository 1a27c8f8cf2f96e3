#!/usr/bin/env bash
# The throwaway S3 server of the tests (tests/lib/s3-cluster: Ceph's RADOS
# Gateway from Debian's packages) does what the lake's S3 backend will rely
# on: signed PUT and GET, ranged GETs, conditional create (If-None-Match: *,
# 200 then 412), ListObjectsV2 with prefix and start-after in key order, and
# a wrong secret refused; the gateway killed and started again serves the
# same objects; and `stop` leaves no daemon running and no folder.
# Requests are signed by curl itself (--aws-sigv4), with the key and secret
# only in the cluster's 0600 curl config, never on a command line.
. "$MEDALLION_SOURCE_DIR/tests/lib/harness.sh"

. "$MEDALLION_SOURCE_DIR/tests/lib/s3.sh"
s3_require_ceph

dir=$H_TMP/s3
h_defer "'$S3C' stop '$dir'"
t0=$(date +%s%N)
if ! exports=$("$S3C" start "$dir" 2>"$H_TMP/start.err"); then
	h_fail "s3-cluster start"
	sed 's/^/#   /' "$H_TMP/start.err" | tail -n 60 >&2
	h_done
fi
h_pass "s3-cluster start ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
eval "$exports"
h_match "start exports the endpoint" "${AWS_ENDPOINT_URL_S3:-}" '^http://127\.0\.0\.1:[0-9]+$'
h_match "start exports a key and a secret" "${AWS_ACCESS_KEY_ID:-}:${AWS_SECRET_ACCESS_KEY:-}" '^[A-Za-z0-9]{16,}:[A-Za-z0-9]{32,}$'
h_eq "start exports the region" "${AWS_REGION:-}" us-east-1
h_eq "env prints what start printed" "$("$S3C" env "$dir")" "$exports"
h_eq "the key, the secret and the curl config are 0600" \
	"$(stat -c %a "$dir/access_key" "$dir/secret_key" "$dir/curl.conf" | sort -u)" 600
h_check_fails "the secret is in no log" grep -rqF -- "$AWS_SECRET_ACCESS_KEY" "$dir/log"
h_check_fails "a second start in the same folder is refused" "$S3C" start "$dir"

url=$AWS_ENDPOINT_URL_S3/$S3_BUCKET
# s3 [curl args...]: a signed request as the test user; the body goes to
# $H_TMP/out, the status to stdout.
s3() {
	curl -sS -K "$S3_CURL_CONFIG" -o "$H_TMP/out" -w '%{http_code}' "$@" ||
		true
}

h_eq "signed GET / (ListBuckets)" "$(s3 "$AWS_ENDPOINT_URL_S3/")" 200
h_match "the bucket exists" "$(cat "$H_TMP/out")" "<Name>$S3_BUCKET</Name>"

# PUT and GET of an object (binary, 100 KiB).
head -c 102400 /dev/urandom >"$H_TMP/obj"
h_eq "PUT an object" "$(s3 -T "$H_TMP/obj" "$url/t/part-0.parquet")" 200
h_eq "GET it" "$(s3 "$url/t/part-0.parquet")" 200
h_check "GET returns the bytes PUT" cmp "$H_TMP/obj" "$H_TMP/out"

# A ranged GET of the last 8 bytes (a Parquet footer is read this way).
h_eq "ranged GET bytes=-8 answers 206" \
	"$(s3 -H 'Range: bytes=-8' "$url/t/part-0.parquet")" 206
h_eq "ranged GET returns the last 8 bytes" "$(od -An -tx1 "$H_TMP/out")" \
	"$(tail -c 8 "$H_TMP/obj" | od -An -tx1)"
h_eq "ranged GET bytes=100-109 returns 10 bytes" \
	"$(s3 -H 'Range: bytes=100-109' "$url/t/part-0.parquet"):$(wc -c <"$H_TMP/out")" 206:10

# Conditional create: the primitive of a Delta commit.
key=t/_delta_log/00000000000000000000.json
printf 'first\n' >"$H_TMP/c1"
printf 'second\n' >"$H_TMP/c2"
h_eq "If-None-Match: * on a new key answers 200" \
	"$(s3 -H 'If-None-Match: *' -T "$H_TMP/c1" "$url/$key")" 200
h_eq "If-None-Match: * on an existing key answers 412" \
	"$(s3 -H 'If-None-Match: *' -T "$H_TMP/c2" "$url/$key")" 412
h_match "the 412 names PreconditionFailed" "$(cat "$H_TMP/out")" PreconditionFailed
s3 "$url/$key" >/dev/null
h_eq "the losing write changed nothing" "$(cat "$H_TMP/out")" first

# ListObjectsV2 with prefix and start-after: keys in UTF-8 binary order.
# curl signs the query as written: parameters sorted, values
# percent-encoded.
for k in 00000000000000000001.json 00000000000000000002.json \
	00000000000000000003.json B _ a; do
	s3 -T "$H_TMP/c1" "$url/t/_delta_log/$k" >/dev/null
done
s3 -T "$H_TMP/c1" "$url/u/other.json" >/dev/null
keys() { grep -o '<Key>[^<]*</Key>' "$H_TMP/out" | sed 's/<[^>]*>//g' | paste -sd' '; }
h_eq "ListObjectsV2 with a prefix" \
	"$(s3 "$url?list-type=2&prefix=t%2F_delta_log%2F")" 200
h_eq "it lists the prefix's keys in binary order" "$(keys)" \
	"t/_delta_log/00000000000000000000.json t/_delta_log/00000000000000000001.json t/_delta_log/00000000000000000002.json t/_delta_log/00000000000000000003.json t/_delta_log/B t/_delta_log/_ t/_delta_log/a"
h_eq "ListObjectsV2 with prefix and start-after" \
	"$(s3 "$url?list-type=2&prefix=t%2F_delta_log%2F&start-after=t%2F_delta_log%2F00000000000000000001.json")" 200
h_eq "it lists only the keys after start-after" "$(keys)" \
	"t/_delta_log/00000000000000000002.json t/_delta_log/00000000000000000003.json t/_delta_log/B t/_delta_log/_ t/_delta_log/a"
h_eq "ListObjectsV2 pages with max-keys" \
	"$(s3 "$url?list-type=2&max-keys=2&prefix=t%2F")" 200
h_match "a page of 2 is truncated with a continuation token" "$(cat "$H_TMP/out")" \
	'<IsTruncated>true</IsTruncated>.*<NextContinuationToken>'

# A wrong secret, and no signature at all, are refused.
umask 077
printf 'user = "%s:%s"\naws-sigv4 = "aws:amz:%s:s3"\nheader = "x-amz-content-sha256: UNSIGNED-PAYLOAD"\n' \
	"$AWS_ACCESS_KEY_ID" "wrong${AWS_SECRET_ACCESS_KEY#?????}" "$AWS_REGION" >"$H_TMP/wrong.conf"
status=$(curl -sS -K "$H_TMP/wrong.conf" -o "$H_TMP/out" -w '%{http_code}' "$url/t/part-0.parquet" || true)
h_eq "a wrong secret gets 403" "$status" 403
h_match "saying SignatureDoesNotMatch" "$(cat "$H_TMP/out")" SignatureDoesNotMatch
status=$(curl -sS -o "$H_TMP/out" -w '%{http_code}' "$url/t/part-0.parquet" || true)
h_eq "an unsigned GET gets 403" "$status" 403

# DELETE, then the key is gone.
h_eq "DELETE an object" "$(s3 -X DELETE "$url/u/other.json")" 204
h_eq "a deleted object answers 404" "$(s3 "$url/u/other.json")" 404

# The gateway alone killed and started again (fault injection for the
# lake's tests): refused meanwhile, then the same objects, key and port.
h_check "gateway-stop" "$S3C" gateway-stop "$dir"
h_eq "a request to a stopped gateway is refused" "$(s3 --max-time 5 "$url/t/part-0.parquet")" 000
h_check "gateway-start" "$S3C" gateway-start "$dir"
h_eq "the restarted gateway serves the same object" "$(s3 "$url/t/part-0.parquet")" 200
h_check "with the same bytes" cmp "$H_TMP/obj" "$H_TMP/out"
h_eq "conditional create still answers 412 on an existing key" \
	"$(s3 -H 'If-None-Match: *' -T "$H_TMP/c2" "$url/$key")" 412
h_eq "and 200 on a new one" \
	"$(s3 -H 'If-None-Match: *' -T "$H_TMP/c2" "$url/t/_delta_log/00000000000000000004.json")" 200

# stop: every daemon of this cluster gone (by pid), and the folder.
pids=$(cat "$dir"/run/*.pid 2>/dev/null | sort -u | paste -sd' ')
h_match "three daemons ran" "$(wc -w <<<"$pids")" '^3$'
h_check "s3-cluster stop" "$S3C" stop "$dir"
alive() {
	# A killed daemon may stay a zombie until init reaps it: not running.
	local p
	for p in $pids; do
		[ -r "/proc/$p/stat" ] || continue
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && continue
		echo "$p"
	done
}
h_eq "no daemon of the cluster is left (pids $pids)" "$(alive)" ""
h_eq "no process uses the cluster's ceph.conf" \
	"$(grep -lF -- "$dir/ceph.conf" /proc/[0-9]*/cmdline 2>/dev/null)" ""
h_check_fails "the folder is gone" test -e "$dir"
h_check "stop of a stopped cluster is a no-op" "$S3C" stop "$dir"
h_done
