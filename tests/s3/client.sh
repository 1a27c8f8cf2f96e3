#!/usr/bin/env bash
# The lake's S3 client (stages/lake/s3.h) against a real Ceph RADOS Gateway
# (tests/lib/s3-cluster): put, get, ranges and sizes; put-if-absent races
# with exactly one winner; listing past 1000 keys with prefix and
# start-after; parallel small puts and deletes; a 12 MiB multipart upload
# read back byte for byte; many ranged GETs at once (s3_get_many); a wrong
# secret refused with the auth kind; an unreachable endpoint; a PUT and a
# GET that ride out a gateway restart; credentials from a profile of a
# shared credentials file, from ~/.aws/credentials and with a session
# token; AWS_ENDPOINT_URL; latency and throughput figures; and no secret
# in any output. Each case is a subcommand of test_s3_client
# (tests/s3/test_s3_client.c).
. "$MEDALLION_SOURCE_DIR/tests/lib/harness.sh"

BIN=$MEDALLION_BUILD_DIR/tests/s3/test_s3_client
. "$MEDALLION_SOURCE_DIR/tests/lib/s3.sh"
s3_require_ceph

dir=$H_TMP/s3
h_defer "'$S3C' stop '$dir'"
if ! exports=$("$S3C" start "$dir" 2>"$H_TMP/start.err"); then
	h_fail "s3-cluster start"
	sed 's/^/#   /' "$H_TMP/start.err" | tail -n 60 >&2
	h_done
fi
eval "$exports"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_SHARED_CREDENTIALS_FILE
export HOME=$H_TMP/home	# no ~/.aws of the machine's user
mkdir -p "$HOME"
ALL=$H_TMP/all.out	# every output of every case, checked for secrets

# case DESC [env NAME=VALUE... --] SUBCOMMAND [ARG]: one check; the case's
# "# " lines (measurements, messages) go to the TAP output.
case_() {
	local desc=$1 out=$H_TMP/case.out; shift
	if "$@" >"$out" 2>&1; then
		h_pass "$desc"
	else
		h_fail "$desc"
		grep -v '^# ' "$out" | sed 's/^/#   /' | head -30 >&2
	fi
	grep '^# ' "$out"
	cat "$out" >>"$ALL"
}

case_ "put, get, ranges, sizes, HEAD, DELETE, odd keys, kinds" "$BIN" basic
case_ "put-if-absent races: exactly one winner, the others 'exists'" "$BIN" race
case_ "list past 1000 keys: pages, order, prefix, start-after" "$BIN" list
case_ "parallel small puts and deletes" "$BIN" many
case_ "multipart upload of 12 MiB read back byte-identical" "$BIN" multipart
case_ "many ranged GETs at once: bytes, sizes, an absent and an invalid key failing alone" \
	"$BIN" get-many
case_ "a wrong secret: auth kind, a clear message, no retry" "$BIN" wrong-secret
case_ "an unreachable endpoint: unreachable kind within the budget" \
	"$BIN" unreachable "$(h_freeport)"

# A request that meets a stopped gateway retries until it is back.
outage() {
	local what=$1 key=$2 pid rc=0
	"$S3C" gateway-stop "$dir" || return 1
	"$BIN" "$what" "$key" >"$H_TMP/outage.out" 2>&1 &
	pid=$!
	sleep 1.5
	"$S3C" gateway-start "$dir" >"$H_TMP/gateway.out" 2>&1 || rc=1
	wait "$pid" || rc=1
	cat "$H_TMP/outage.out" "$H_TMP/gateway.out" >>"$ALL"
	grep '^# ' "$H_TMP/outage.out"
	return $rc
}
key=outage/$RANDOM$RANDOM
if outage outage-write "$key"; then h_pass "a PUT rides out a gateway restart"
else h_fail "a PUT rides out a gateway restart"; sed 's/^/#   /' "$H_TMP/outage.out" >&2; fi
if outage outage-read "$key"; then h_pass "a GET rides out a gateway restart"
else h_fail "a GET rides out a gateway restart"; sed 's/^/#   /' "$H_TMP/outage.out" >&2; fi

# Credentials from a shared credentials file: the profile AWS_PROFILE
# names, "default" otherwise.
umask 077
wrong=X${AWS_SECRET_ACCESS_KEY#?}
cat >"$H_TMP/credentials" <<EOF
# a comment
[default]
aws_access_key_id = $AWS_ACCESS_KEY_ID
aws_secret_access_key = $wrong

[lake]
aws_access_key_id=$AWS_ACCESS_KEY_ID
aws_secret_access_key=$AWS_SECRET_ACCESS_KEY
EOF
nokeys=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY)
case_ "credentials from profile 'lake' of AWS_SHARED_CREDENTIALS_FILE" \
	"${nokeys[@]}" AWS_SHARED_CREDENTIALS_FILE="$H_TMP/credentials" \
	AWS_PROFILE=lake "$BIN" roundtrip
h_match "the case says where the credentials came from" "$(grep '^# cred' "$H_TMP/case.out")" \
	"profile lake in $H_TMP/credentials"
case_ "profile 'default' (a wrong secret) is used without AWS_PROFILE" \
	"${nokeys[@]}" AWS_SHARED_CREDENTIALS_FILE="$H_TMP/credentials" \
	"$BIN" expect-auth
mkdir -p "$HOME/.aws"
sed -n '/^\[lake\]/,$p' "$H_TMP/credentials" | sed 's/^\[lake\]/[default]/' >"$HOME/.aws/credentials"
case_ "credentials from ~/.aws/credentials" "${nokeys[@]}" "$BIN" roundtrip
case_ "environment credentials win over the file" \
	env AWS_SHARED_CREDENTIALS_FILE="$H_TMP/credentials" "$BIN" roundtrip
case_ "a session token is sent (and signed) with every request" \
	env AWS_SESSION_TOKEN="FwoGZXIvYXdzEXAMPLETOKEN/+=" "$BIN" roundtrip
case_ "AWS_ENDPOINT_URL when AWS_ENDPOINT_URL_S3 is not set" \
	env -u AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL="$AWS_ENDPOINT_URL_S3" \
	"$BIN" roundtrip
case_ "no credentials at all: a configuration error" \
	"${nokeys[@]}" AWS_SHARED_CREDENTIALS_FILE="$H_TMP/none" \
	sh -c '! "$0" roundtrip' "$BIN"
h_match "saying what to set" "$(cat "$H_TMP/case.out")" \
	"no S3 credentials: AWS_ACCESS_KEY_ID is not set and the credentials file .*/none cannot be read"

case_ "latency on one kept-alive connection" "$BIN" bench
case_ "small PUTs and GETs at 1, 8, 16 and 32 in flight" "$BIN" throughput

h_check_fails "no secret in any output" grep -qF -- "$AWS_SECRET_ACCESS_KEY" "$ALL"
h_check_fails "nor the wrong one" grep -qF -- "$wrong" "$ALL"
h_done
