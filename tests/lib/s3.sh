# s3.sh - a throwaway S3 server (tests/lib/s3-cluster: Ceph's RADOS
# Gateway) for a test, after harness.sh.
#   s3_require_ceph  installs Ceph's packages as root when they are
#                missing, else skips saying how
#   s3_start     starts it in $H_TMP/s3 (stopped at exit) and exports
#                AWS_*, S3_BUCKET and S3_CURL_CONFIG
#   s3_get KEY   prints an object of the bucket (curl, signed)
#   s3_keys PREFIX  every key under PREFIX, one a line, in key order
#   s3_count PREFIX the number of keys under PREFIX
#   s3_mirror PREFIX DIR  copies every object under PREFIX into DIR
#   s3_requests  how many requests the gateway has taken since it started
#                (its perf counter, read through its admin socket)
S3C=$MEDALLION_SOURCE_DIR/tests/lib/s3-cluster

s3_have_ceph() {
	command -v ceph-mon && command -v ceph-osd && command -v radosgw &&
		command -v radosgw-admin && command -v ceph-authtool
} >/dev/null 2>&1

# Installs Ceph's packages when root and they are missing (once more
# after an apt-get update if the first try fails), else skips the test.
s3_require_ceph() {
	local pkgs=(ceph-mon ceph-osd radosgw)
	s3_have_ceph && return 0
	[ "$(id -u)" = 0 ] ||
		h_skip "Ceph is not installed and only root can install it: apt-get install --no-install-recommends ${pkgs[*]}"
	h_log "installing ${pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${pkgs[@]}" >"$H_TMP/apt.log" 2>&1 || {
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$H_TMP/apt.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${pkgs[@]}" >>"$H_TMP/apt.log" 2>&1
	} || h_skip "cannot install ${pkgs[*]}: $(tail -n 1 "$H_TMP/apt.log")"
	s3_have_ceph || h_skip "${pkgs[*]} installed, but their programs are missing"
}

s3_start() {
	local exports
	s3_require_ceph
	S3_DIR=$H_TMP/s3
	h_defer "'$S3C' stop '$S3_DIR'"
	exports=$("$S3C" start "$S3_DIR" 2>"$H_TMP/s3-start.err") || {
		sed 's/^/#   /' "$H_TMP/s3-start.err" | tail -n 30 >&2
		h_fail "s3-cluster start"
		h_done
	}
	eval "$exports"
}

s3_get() {	# the key's segments percent-encoded ('=' of date=...), as signed
	curl -sS -f -K "$S3_CURL_CONFIG" \
		"$AWS_ENDPOINT_URL_S3/$S3_BUCKET/$(printf %s "$1" | jq -sRr @uri | sed 's|%2F|/|g')"
}

s3_keys() {
	local token="" page q
	# Signed as written: parameters sorted by name, values encoded.
	while :; do
		q="list-type=2&prefix=$(printf %s "$1" | jq -sRr @uri)"
		[ -z "$token" ] || q="continuation-token=$(printf %s "$token" | jq -sRr @uri)&$q"
		page=$(curl -sS -f -K "$S3_CURL_CONFIG" "$AWS_ENDPOINT_URL_S3/$S3_BUCKET?$q") || return 1
		printf '%s' "$page" | grep -o '<Key>[^<]*</Key>' | sed 's/<Key>\(.*\)<\/Key>/\1/'
		printf '%s' "$page" | grep -q '<IsTruncated>true</IsTruncated>' || break
		token=$(printf '%s' "$page" | grep -o '<NextContinuationToken>[^<]*' | sed 's/.*>//')
	done
}

s3_count() { s3_keys "$1" | wc -l; }

s3_mirror() {
	local key rel
	s3_keys "$1" | while read -r key; do
		rel=${key#"$1"}
		mkdir -p "$2/$(dirname "$rel")"
		s3_get "$key" >"$2/$rel" || return 1
	done
}

# Counted as a request starts, whoever sent it; a gateway-start resets it.
s3_requests() {
	ceph --admin-daemon "$S3_DIR/run/client.rgw.asok" perf dump rgw req | jq -e '.rgw.req'
}
