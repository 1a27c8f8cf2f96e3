#!/usr/bin/env bash
# conformance.sh - the Spark REST conformance list (spark-rest-protocol.md
# section 6) against a real medallion-server on loopback, over HTTP.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

h_stage sleeper 'sleep 30'
h_stage quick 'echo done'
h_server_start --kill-grace-ms 500

create_body() {	# create_body STAGE [extra top-level JSON]
	printf '{"action":"CreateSubmissionRequest","clientSparkVersion":"4.0.0",
	 "appResource":"%s","mainClass":"org.example.Main","appArgs":[],
	 "sparkProperties":{"spark.app.name":"%s"},"environmentVariables":{}%s}' \
		"$1" "$1" "${2:-}"
}

# 1. create
h_curl POST /v1/submissions/create -d "$(create_body sleeper)"
h_eq "create: 200" "$H_STATUS" 200
h_eq "create: action" "$(h_jq .action)" CreateSubmissionResponse
h_eq "create: serverSparkVersion" "$(h_jq .serverSparkVersion)" 4.0.0
h_eq "create: success" "$(h_jq .success)" true
id1=$(h_jq .submissionId)
h_match "create: driver id format" "$id1" '^driver-[0-9]{14}-[0-9]{4}$'
h_eq "create: message" "$(h_jq .message)" "Driver successfully submitted as $id1"
# 25. no unknownFields on a clean body
h_eq "create: no unknownFields key" "$(h_jq 'has("unknownFields")')" false
h_check "create: JSON content type" bash -c \
	"curl -sS -D - -o /dev/null -X POST '$H_URL/v1/submissions/create' -d '$(create_body quick)' | grep -qi '^content-type: application/json'"

# 3/4. status, then kill only the named one
h_curl POST /v1/submissions/create -d "$(create_body sleeper)"
id2=$(h_jq .submissionId)
h_wait_until 10 bash -c "curl -s '$H_URL/v1/submissions/status/$id2' | grep -q RUNNING"
h_curl GET "/v1/submissions/status/$id1"
h_eq "status: action" "$(h_jq .action)" SubmissionStatusResponse
h_eq "status: success" "$(h_jq .success)" true
h_eq "status: submissionId echoed" "$(h_jq .submissionId)" "$id1"
h_eq "status: RUNNING" "$(h_jq .driverState)" RUNNING
# 2/7. kill
h_curl POST "/v1/submissions/kill/$id1"
h_eq "kill: 200" "$H_STATUS" 200
h_eq "kill: action" "$(h_jq .action)" KillSubmissionResponse
h_eq "kill: success" "$(h_jq .success)" true
h_eq "kill: submissionId" "$(h_jq .submissionId)" "$id1"
h_eq "kill: message" "$(h_jq .message)" "Kill request for $id1 submitted"
h_check "kill: becomes KILLED" h_wait_until 10 bash -c \
	"curl -s '$H_URL/v1/submissions/status/$id1' | grep -q '\"KILLED\"'"
h_curl GET "/v1/submissions/status/$id2"
h_eq "kill changed only the named driver" "$(h_jq .driverState)" RUNNING
# 40. kill of a finished driver
h_curl POST "/v1/submissions/kill/$id1"
h_eq "kill finished: success false" "$(h_jq .success)" false
h_eq "kill finished: message" "$(h_jq .message)" "Driver $id1 has already finished or does not exist"

# 5. unknown ids
h_curl POST /v1/submissions/kill/does-not-exist
h_eq "kill unknown: 200" "$H_STATUS" 200
h_eq "kill unknown: success false" "$(h_jq .success)" false
h_eq "kill unknown: id echoed" "$(h_jq .submissionId)" does-not-exist
h_curl GET /v1/submissions/status/does-not-exist
h_eq "status unknown: 200" "$H_STATUS" 200
h_eq "status unknown: success false" "$(h_jq .success)" false
h_eq "status unknown: no driverState" "$(h_jq 'has("driverState")')" false

# 13/14. paths with extra segments
h_curl POST /v1/submissions/kill/any/thing
h_eq "kill/any/thing -> id any" "$(h_jq .submissionId)" any
h_curl GET /v1/submissions/status/any/thing
h_eq "status/any/thing -> id any" "$(h_jq .submissionId)" any

# 9/38. killall
h_curl POST /v1/submissions/killall
h_eq "killall: 200" "$H_STATUS" 200
h_eq "killall: action" "$(h_jq .action)" KillAllSubmissionResponse
h_eq "killall: success" "$(h_jq .success)" true
h_eq "killall: message" "$(h_jq .message)" "Kill request for all drivers submitted"
h_check "killall: second driver KILLED" h_wait_until 10 bash -c \
	"curl -s '$H_URL/v1/submissions/status/$id2' | grep -q '\"KILLED\"'"

# 8/39. clear forgets finished drivers
h_curl POST /v1/submissions/clear
h_eq "clear: action" "$(h_jq .action)" ClearResponse
h_eq "clear: success" "$(h_jq .success)" true
h_eq "clear: empty message" "$(h_jq .message)" ""
h_curl GET "/v1/submissions/status/$id1"
h_eq "cleared id is unknown" "$(h_jq .success)" false

# 10. readyz
h_curl GET /v1/submissions/readyz
h_eq "readyz: 200" "$H_STATUS" 200
h_eq "readyz: action" "$(h_jq .action)" ReadyzResponse
h_eq "readyz: message blank" "$(h_jq .message)" ""

# 15-18, 30. bad bodies -> 400 ErrorResponse
h_curl POST /v1/submissions/create
h_eq "no body: 400" "$H_STATUS" 400
h_eq "no body: ErrorResponse" "$(h_jq .action)" ErrorResponse
h_curl POST /v1/submissions/create -d "$(create_body quick | sed 's/action/fraction/g')"
h_eq "missing action: 400" "$H_STATUS" 400
h_curl POST /v1/submissions/create -d "$(create_body quick | tail -c 60)"
h_eq "half a JSON: 400" "$H_STATUS" 400
h_curl POST /v1/submissions/create -d '"hello, world"'
h_eq "not an object: 400" "$H_STATUS" 400
h_curl POST /v1/submissions/create -d '{"action":"CreateSubmissionRequest"}'
h_eq "empty create request: 400" "$H_STATUS" 400
h_match "names the missing field" "$(h_jq .message)" "'clientSparkVersion' is missing"
h_eq "ErrorResponse has no success" "$(h_jq 'has("success")')" false
# 32. invalid property values
for prop in '"spark.driver.cores":"one hundred feet"' '"spark.driver.supervise":"nope, never"' '"spark.cores.max":"two men"'; do
	body=$(create_body quick | sed "s/\"spark.app.name\":\"quick\"/$prop/")
	h_curl POST /v1/submissions/create -d "$body"
	h_eq "invalid ${prop%%:*}: 400" "$H_STATUS" 400
done
# 34. missing mainClass
h_curl POST /v1/submissions/create -d "$(create_body quick | sed 's/"mainClass":"org.example.Main",//')"
h_eq "missing mainClass: 400" "$H_STATUS" 400
h_match "missing mainClass: text" "$(h_jq .message)" '^Malformed request: .*Main class is missing\.'
# 35. another message type
h_curl POST /v1/submissions/create -d '{"action":"KillSubmissionResponse","serverSparkVersion":"4.0.0","submissionId":"x","success":true}'
h_eq "unexpected type: 400" "$H_STATUS" 400
h_eq "unexpected type: text" "$(h_jq .message)" "Received message of unexpected type KillSubmissionResponse."
# unknown action is 400, not Spark's 500
h_curl POST /v1/submissions/create -d '{"action":"Bogus"}'
h_eq "unknown action: 400" "$H_STATUS" 400
# 26/27. unknown fields
h_curl POST /v1/submissions/create -d "$(create_body quick ',"tomato":"not-a-fruit","potato":"not-po-tah-to","message":null')"
h_eq "unknown fields: 200" "$H_STATUS" 200
h_eq "unknownFields in order" "$(h_jq '.unknownFields | join(",")')" "tomato,potato,message"
# 36. a 4.0 minimal body
h_curl POST /v1/submissions/create -d '{"action":"CreateSubmissionRequest","clientSparkVersion":"","appResource":"quick","mainClass":"org.apache.spark.deploy.SparkSubmit","sparkProperties":{}}'
h_eq "minimal 4.0 body accepted" "$(h_jq .success)" true

# 19/20. missing ids
for p in /v1/submissions/kill /v1/submissions/kill/; do
	h_curl POST "$p"
	h_eq "POST $p: 400" "$H_STATUS" 400
	h_eq "POST $p: text" "$(h_jq .message)" "Submission ID is missing in kill request."
done
for p in /v1/submissions/status /v1/submissions/status/; do
	h_curl GET "$p"
	h_eq "GET $p: 400" "$H_STATUS" 400
	h_eq "GET $p: text" "$(h_jq .message)" "Submission ID is missing in status request."
done

# 21-24. bad paths (GET /v1/submissions is our list extension; README)
hint=" Please submit requests through http://[host]:[port]/v1/submissions/..."
check_bad_path() {	# METHOD PATH STATUS MESSAGE HIGHEST
	h_curl "$1" "$2"
	h_eq "$1 '$2': $3" "$H_STATUS" "$3"
	h_eq "$1 '$2': message" "$(h_jq .message)" "$4$hint"
	h_eq "$1 '$2': highestProtocolVersion" "$(h_jq '.highestProtocolVersion // "none"')" "$5"
}
check_bad_path GET "" 400 "Missing protocol version." none
check_bad_path GET / 400 "Missing protocol version." none
check_bad_path GET /v1 400 "Missing the /submissions prefix." none
check_bad_path GET /v1/ 400 "Missing the /submissions prefix." none
check_bad_path POST /v1/submissions 400 "Missing an action: please specify one of /create, /kill, /killall, /clear, /status, or /readyz." none
check_bad_path GET /v1/submissions/bad 400 "Missing an action: please specify one of /create, /kill, /killall, /clear, /status, or /readyz." none
check_bad_path GET /bad-version 468 "Unknown protocol version 'bad-version'." v1
check_bad_path GET /v1/foo 468 "Unknown protocol version 'v1'." v1
check_bad_path PUT /v1/foo 468 "Unknown protocol version 'v1'." v1
check_bad_path DELETE /favicon.ico 468 "Unknown protocol version 'favicon.ico'." v1

# 41/44. every non-200 has a JSON body; wrong method -> 405 JSON
h_curl GET /v1/submissions/create
h_eq "GET /create: 405" "$H_STATUS" 405
h_eq "405 body is an ErrorResponse" "$(h_jq .action)" ErrorResponse
h_check "405 sends Allow: POST" bash -c \
	"curl -sS -D - -o /dev/null '$H_URL/v1/submissions/create' | grep -qi '^allow: POST'"
# 43. POST without a body or Content-Length
h_check "kill without Content-Length" bash -c \
	"printf 'POST /v1/submissions/kill/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' | timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$H_PORT; cat >&3; cat <&3' | grep -q KillSubmissionResponse"
# 41. HEAD on status
h_check "HEAD status: 200, no body" bash -c \
	"curl -sS -I '$H_URL/v1/submissions/status/x' | head -1 | grep -q 200"

# Our extensions: list, logs, metrics.
h_curl POST /v1/submissions/create -d "$(create_body quick)"
idq=$(h_jq .submissionId)
h_wait_until 10 bash -c "curl -s '$H_URL/v1/submissions/status/$idq' | grep -q FINISHED"
h_curl GET "/v1/submissions?state=FINISHED&limit=1"
h_eq "list: action" "$(h_jq .action)" SubmissionListResponse
h_eq "list: newest first" "$(h_jq '.submissions[0].submissionId')" "$idq"
h_eq "list: one item per page" "$(h_jq '.submissions | length')" 1
h_eq "list: filtered by state" "$(h_jq '[.submissions[].driverState] | unique | join(",")')" FINISHED
h_eq "list: next page offered" "$(h_jq .nextOffset)" 1
h_curl GET "/v1/submissions?state=NOPE"
h_eq "list: bad state 400" "$H_STATUS" 400
h_curl GET "/v1/submissions/logs/$idq"
h_eq "logs: stdout" "$H_BODY" done
h_curl GET "/v1/submissions/logs/$idq?stream=nope"
h_eq "logs: bad stream 400" "$H_STATUS" 400
h_curl GET "/v1/submissions/logs/nope"
h_eq "logs: unknown id 404" "$H_STATUS" 404
h_curl GET /metrics
h_match "metrics: submissions by state" "$H_BODY" 'medallion_submissions\{state="FINISHED"\} [1-9]'
h_match "metrics: latency histogram" "$H_BODY" 'medallion_launch_latency_seconds_count [1-9]'
h_match "metrics: requests by code" "$H_BODY" 'medallion_http_requests_total\{code="468"\} [1-9]'

h_done
