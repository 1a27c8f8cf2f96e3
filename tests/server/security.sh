#!/usr/bin/env bash
# security.sh - bearer token and JWS auth (403 texts of Spark's JWSFilter,
# readyz and metrics left open), the 1 MiB body limit, the refusal to bind
# a non-loopback address without auth, idle connection timeouts, and no
# stack traces in any answer.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

h_stage ok 'exit 0'
body='{"action":"CreateSubmissionRequest","clientSparkVersion":"4","appResource":"ok","mainClass":"m","sparkProperties":{}}'

# Static token.
printf 'sekrit-token-%s\n' "$RANDOM$RANDOM" >"$H_TMP/token"
chmod 600 "$H_TMP/token"
token=$(cat "$H_TMP/token")
h_server_start --token-file "$H_TMP/token" --idle-timeout 2
h_curl POST /v1/submissions/create -d "$body"
h_eq "token: no header is 403" "$H_STATUS" 403
h_eq "token: missing header text" "$(h_jq .message)" "Authorization header is missing."
h_curl POST /v1/submissions/create -d "$body" -H "Authorization: Basic abc"
h_eq "token: malformed header text" "$(h_jq .message)" "Malformed Authorization header."
h_curl POST /v1/submissions/create -d "$body" -H "Authorization: Bearer wrong"
h_eq "token: wrong token is 403" "$H_STATUS" 403
h_curl POST /v1/submissions/create -d "$body" -H "Authorization: Bearer $token"
h_eq "token: right token is 200" "$H_STATUS" 200
h_curl GET /v1/submissions/readyz
h_eq "readyz needs no auth" "$H_STATUS" 200
h_curl GET /metrics
h_eq "metrics needs no auth" "$H_STATUS" 200
h_curl GET /v1/submissions/status/x
h_eq "status needs auth" "$H_STATUS" 403
h_curl GET /dashboard
h_eq "the dashboard needs auth by default" "$H_STATUS" 403
h_server_stop

# --public-dashboard: gold's read-only views open, everything else not.
h_server_start --token-file "$H_TMP/token" --public-dashboard
for path in /dashboard /api/gold; do
	h_curl GET "$path"
	h_check "--public-dashboard: GET $path needs no auth" test "$H_STATUS" != 403
done
h_curl GET / -H "Accept: text/html"
h_check "--public-dashboard: a browser's GET / needs no auth" test "$H_STATUS" != 403
for path in /ui /v1/submissions /v1/submissions/status/x /v1/submissions/logs/x; do
	h_curl GET "$path"
	h_eq "--public-dashboard: $path still needs auth" "$H_STATUS" 403
done
h_curl POST /v1/submissions/create -d "$body"
h_eq "--public-dashboard: create still needs auth" "$H_STATUS" 403
h_curl POST /api/gold -d x
h_eq "--public-dashboard: only GET and HEAD are open" "$H_STATUS" 403
h_server_stop
h_server_start --token-file "$H_TMP/token" --idle-timeout 2

# Body limit: 1 MiB + 1 byte is 413 with an ErrorResponse.
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$H_TMP/big"
h_curl POST /v1/submissions/create --data-binary @"$H_TMP/big" -H "Authorization: Bearer $token"
h_eq "body over 1 MiB: 413" "$H_STATUS" 413
h_eq "413 body is an ErrorResponse" "$(h_jq .action)" ErrorResponse
h_curl POST /v1/submissions/create --data-binary @"$H_TMP/big" -H "Authorization: Bearer $token" -H "Transfer-Encoding: chunked"
h_eq "chunked body over 1 MiB: 413" "$H_STATUS" 413

# Idle connections are closed by the server.
start=$(date +%s)
timeout 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$H_PORT; cat <&3" >/dev/null 2>&1
h_check "idle connection closed by the server before 20 s" test $(( $(date +%s) - start )) -lt 15

# No stack traces, whatever the input.
for b in '' '{' '[]' '{"action":1}' '{"action":"CreateSubmissionRequest","appArgs":"x"}'; do
	h_curl POST /v1/submissions/create -d "$b" -H "Authorization: Bearer $token"
	h_check "no stack trace for body '$b'" bash -c "! grep -q -e '\tat ' -e 'Exception' <<<\"\$1\"" _ "$H_BODY"
done
h_server_stop

# JWS (HS256), as Spark's JWSFilter.
key=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
printf '%s\n' "$key" >"$H_TMP/jws.key"
jwt() {	# jwt PAYLOAD_JSON -> signed token with the key above
	local b64u='base64 -w0 | tr "+/" "-_" | tr -d "="'
	local h p sig keyhex
	h=$(printf '{"alg":"HS256","typ":"JWT"}' | eval "$b64u")
	p=$(printf '%s' "$1" | eval "$b64u")
	keyhex=$(printf '%s' "$key" | tr -- '-_' '+/' | awk '{l=length($0)%4; if(l==2)$0=$0"=="; else if(l==3)$0=$0"="; print}' | base64 -d | od -An -tx1 | tr -d ' \n')
	sig=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$keyhex" -binary | eval "$b64u")
	printf '%s.%s.%s' "$h" "$p" "$sig"
}
if command -v openssl >/dev/null; then
	H_SERVER_DIR=$H_TMP/server2 h_server_start --jws-secret-file "$H_TMP/jws.key"
	good=$(jwt "{\"sub\":\"test\",\"exp\":$(( $(date +%s) + 600 ))}")
	expired=$(jwt "{\"sub\":\"test\",\"exp\":$(( $(date +%s) - 10 ))}")
	h_curl POST /v1/submissions/create -d "$body" -H "Authorization: Bearer $good"
	h_eq "JWS: valid token is 200" "$H_STATUS" 200
	h_curl POST /v1/submissions/create -d "$body" -H "Authorization: Bearer $expired"
	h_eq "JWS: expired token is 403" "$H_STATUS" 403
	h_eq "JWS: failure text" "$(h_jq .message)" "JWT Validate Fail"
	# A signature with its first character changed: six bits of data
	# differ whatever the character was (the last one holds spare bits).
	sig=${good##*.}
	[ "${sig:0:1}" = A ] && c=B || c=A
	h_curl POST /v1/submissions/create -d "$body" -H "Authorization: Bearer ${good%.*}.$c${sig:1}"
	h_eq "JWS: bad signature is 403" "$H_STATUS" 403
	# The last character with its spare bits set decodes to the same
	# bytes in a lenient decoder; ours refuses the non-canonical form.
	last=${sig: -1}
	alphabet=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_
	rest=${alphabet#*"$last"}
	h_curl POST /v1/submissions/create -d "$body" -H "Authorization: Bearer ${good%?}${rest:0:1}"
	h_eq "JWS: non-canonical signature is 403" "$H_STATUS" 403
	h_server_stop
fi

# A non-loopback address without auth is refused at start.
out=$("$H_SERVER_BIN" --host 0.0.0.0 --port 0 --data-dir "$H_TMP/d3" 2>&1)
rc=$?
h_eq "non-loopback without auth: exit 1" "$rc" 1
h_match "non-loopback without auth: says why" "$out" 'not a loopback address, without authentication'
h_check "bad option: usage error (exit 2)" bash -c "'$H_SERVER_BIN' --port nope >/dev/null 2>&1; [ \$? -eq 2 ]"
h_check "--help documents every option" bash -c "'$H_SERVER_BIN' --help | grep -q -- --jws-secret-file"

h_done
