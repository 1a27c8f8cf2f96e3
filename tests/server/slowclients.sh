#!/usr/bin/env bash
# slowclients.sh - slow clients cannot block the server: connections that
# send their request head a line at a time are closed at --request-timeout,
# and under connection pressure after a second, so readiness probes and
# the API keep answering while hundreds of them hold on (bounded, loopback,
# with tests/tools/slowclient).
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

slow=$MEDALLION_BUILD_DIR/tests/server/slowclient
probe() { curl -fsS --max-time 5 -o /dev/null "$H_URL/v1/submissions/readyz"; }

# Deadline: 5 slow clients, a header line every 500 ms, 2 s to send a
# request: each is closed after about 2 s, however it keeps trickling.
h_server_start --request-timeout 2
out=$("$slow" "$H_PORT" 5 8 500)
h_match "the request deadline closes every slow client" "$out" 'opened=5 closed_by_server=5 still_open=0'
ms=$(sed -n 's/.*longest_open_ms=\([0-9]*\).*/\1/p' <<<"$out")
h_check "... after the 2 s deadline, not before (longest ${ms} ms)" test "$ms" -ge 2000 -a "$ms" -lt 4000
h_check "... and the server answers afterwards" probe
h_server_stop

# Pressure: 300 slow clients against --max-connections 64 for 12 s (the
# deadline alone, 30 s, would not help): readyz answers throughout.
h_server_start --max-connections 64
"$slow" "$H_PORT" 300 12 1000 > "$H_TMP/slow.out" &
slowpid=$!
sleep 2
ok=0
for i in $(seq 1 16); do
	probe && ok=$((ok + 1))
	sleep 0.5
done
wait "$slowpid"
h_eq "readyz answered all 16 probes (5 s each) while 300 slow clients held on" "$ok" 16
left=$(sed -n 's/.*still_open=\([0-9]*\).*/\1/p' "$H_TMP/slow.out")
h_check "slow clients were evicted down to below 7/8 of the limit (left: $left)" test "$left" -lt 56
h_check "a create still works afterwards" h_curl POST /v1/submissions/create \
	-d '{"action":"CreateSubmissionRequest","clientSparkVersion":"4","appResource":"nosuch","mainClass":"m","sparkProperties":{}}'
h_eq "... answering (400 for an unregistered stage)" "$H_STATUS" 400
h_server_stop
h_done
