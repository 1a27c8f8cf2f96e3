#!/bin/bash
# dashboard.sh - the server's pages in headless Chromium: the dashboard's
# bars carry exactly gold's numbers (orders received, and average delivery
# time fastest first), the answers are named, the page renders with no
# network, and a screenshot is kept as a test artifact. Also /api/gold's
# ETag and Last-Modified (304 on a match) and the operations page.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

chromium=$(command -v chromium || command -v chromium-browser || true)
artifacts=$MEDALLION_BUILD_DIR/tests/artifacts
mkdir -p "$artifacts" "$H_TMP/lake/gold"
gold=$H_TMP/lake/gold/branch_metrics.json
cat > "$gold" <<'JSON'
{"generated_at": "2026-11-25T04:50:31Z", "silver_version": 7,
 "units": {"avg_delivery_hours": "hours", "p50_delivery_hours": "hours (within 0.5%)",
   "p90_delivery_hours": "hours (within 0.5%)", "timestamps": "UTC, as stored in the source (no zone)"},
 "busiest_branch": {"branch": "Amberfield", "orders_received": 11008},
 "fastest_branch": {"branch": "Juniper <Bay>", "avg_delivery_hours": 1.77},
 "branches": [
  {"branch": "Amberfield", "orders_received": 11008, "orders_delivered": 10850, "avg_delivery_hours": 2.91, "p50_delivery_hours": 2.1, "p90_delivery_hours": 2.84, "first_order_at": "2026-01-01T08:00:52.000000", "last_order_at": "2026-02-26T21:45:14.000000"},
  {"branch": "Brightwater", "orders_received": 7295, "orders_delivered": 7211, "avg_delivery_hours": 2.4, "p50_delivery_hours": 1.51, "p90_delivery_hours": 2.06, "first_order_at": "2026-01-01T08:00:30.000000", "last_order_at": "2026-02-26T05:55:14.000000"},
  {"branch": "Juniper <Bay>", "orders_received": 3786, "orders_delivered": 3722, "avg_delivery_hours": 1.77, "p50_delivery_hours": 2.19, "p90_delivery_hours": 2.96, "first_order_at": "2026-01-01T08:00:08.000000", "last_order_at": "2026-02-27T01:40:14.000000"}]}
JSON
h_stage hello "echo hi"
h_server_start --lake "$H_TMP/lake"

h_curl GET /api/gold -D "$H_TMP/headers"
h_eq "/api/gold answers 200" "$H_STATUS" 200
h_eq "... with gold as is" "$(jq -r .silver_version "$H_TMP/body")" 7
etag=$(sed -n 's/^ETag: *//Ip' "$H_TMP/headers" | tr -d '\r')
h_match "... an ETag" "$etag" '^"[0-9a-f]{16}"$'
h_match "... and Last-Modified" "$(grep -i '^Last-Modified:' "$H_TMP/headers")" 'GMT'
h_curl GET /api/gold -H "If-None-Match: $etag"
h_eq "a matching If-None-Match gets 304" "$H_STATUS" 304
touch "$gold"; sed -i 's/"silver_version": 7/"silver_version": 8/' "$gold"
h_curl GET /api/gold -H "If-None-Match: $etag"
h_eq "a changed gold gets 200 again" "$H_STATUS" 200
# The server remembers a checked gold's ETag by the file's identity
# (server/gold_tag.h): an edit in place, of the same size, is a change,
# and a file that breaks the contract is refused, not answered 304.
etag=$(curl -s -D - -o /dev/null "$H_URL/api/gold" | sed -n 's/^ETag: *//Ip' | tr -d '\r')
h_curl GET /api/gold -H "If-None-Match: $etag"
h_eq "the changed gold's own ETag gets 304" "$H_STATUS" 304
cp "$gold" "$H_TMP/gold.checked"
printf '9' | dd of="$gold" bs=1 seek="$(grep -bo '"silver_version": 8' "$gold" | cut -d: -f1 | awk '{ print $1 + 18 }')" conv=notrunc status=none
h_eq "... (edited in place: same inode, same size)" "$(jq -r .silver_version "$gold")" 9
h_curl GET /api/gold -H "If-None-Match: $etag"
h_eq "an edit in place gets 200" "$H_STATUS $(jq -r .silver_version "$H_TMP/body")" "200 9"
cp "$H_TMP/gold.checked" "$gold"
etag=$(curl -s -D - -o /dev/null "$H_URL/api/gold" | sed -n 's/^ETag: *//Ip' | tr -d '\r')
echo '{"generated_at": 1}' > "$gold.new" && mv "$gold.new" "$gold"
h_curl GET /api/gold -H "If-None-Match: $etag"
h_eq "a gold that breaks the contract after a checked one: 500, not 304" "$H_STATUS" 500
cp "$H_TMP/gold.checked" "$gold"
h_curl GET /api/gold -H "If-None-Match: $etag"
h_eq "the checked gold back (a new file, same bytes): 304" "$H_STATUS" 304

if [ -z "$chromium" ]; then
	h_log "chromium is not installed (apt-get install chromium): browser checks skipped"
	h_done
fi
browse() {	# URL OUT: the DOM after rendering, with no network
	TMPDIR=$H_TMP timeout 60 "$chromium" --headless=new --no-sandbox --disable-gpu \
		--no-first-run --disable-extensions --proxy-server=127.0.0.1:9 \
		--proxy-bypass-list='127.0.0.1' --user-data-dir="$H_TMP/chrome" \
		"$@" 2>>"$H_TMP/chrome.log"
}
browse --dump-dom "$H_URL/" > "$H_TMP/dom.html"
h_match "the page is titled Branches performance" "$(cat "$H_TMP/dom.html")" '<title>Branches performance</title>'
bars() {	# CHART: "branch=value" per bar, in page order
	sed 's/></>\n</g' "$H_TMP/dom.html" | sed -n "/id=\"$1\"/,/<\/svg>/p" |
		sed -n 's/.*data-branch="\([^"]*\)" data-value="\([^"]*\)".*/\1=\2/p' |
		sed 's/&lt;/</g; s/&gt;/>/g'
}
h_eq "orders chart: one bar per branch with gold's counts, largest first" "$(bars orders-chart)" \
	"$(jq -r '.branches | sort_by(-.orders_received)[] | "\(.branch)=\(.orders_received)"' "$gold")"
h_eq "delivery chart: gold's averages, fastest first" "$(bars delivery-chart)" \
	"$(jq -r '.branches | sort_by(.avg_delivery_hours)[] | "\(.branch)=\(.avg_delivery_hours * 100 | round / 100 | tostring | if test("\\.") then (if test("\\.[0-9]$") then . + "0" else . end) else . + ".00" end)"' "$gold")"
h_match "the busiest branch is named" "$(cat "$H_TMP/dom.html")" 'Busiest branch: <b>Amberfield</b>'
h_match "the fastest branch is named, escaped" "$(cat "$H_TMP/dom.html")" 'Fastest branch: <b>Juniper &lt;Bay&gt;</b>'
h_match "when gold was computed" "$(cat "$H_TMP/dom.html")" '2026-11-25T04:50:31Z from silver version 8'
h_eq "the table has a row per branch" "$(grep -o '<tr><td>' "$H_TMP/dom.html" | wc -l)" 3
browse --screenshot="$artifacts/dashboard.png" --window-size=1000,1100 "$H_URL/" >/dev/null
h_check "a screenshot is saved ($artifacts/dashboard.png)" test -s "$artifacts/dashboard.png"
h_check "... and is a PNG" sh -c "head -c 8 '$artifacts/dashboard.png' | od -An -c | grep -q 'P   N   G'"

id=$(curl -s -X POST "$H_URL/v1/submissions/create" -d '{"action":"CreateSubmissionRequest","clientSparkVersion":"3.5.1","appResource":"hello","mainClass":"m","sparkProperties":{}}' | jq -r .submissionId)
h_wait_until 10 sh -c "curl -s $H_URL/v1/submissions/status/$id | grep -q FINISHED"
browse --dump-dom "$H_URL/ui" > "$H_TMP/ui.html"
h_match "the operations page lists the submission" "$(cat "$H_TMP/ui.html")" "$id"
h_match "... with links to its logs" "$(cat "$H_TMP/ui.html")" "/v1/submissions/logs/$id\\?stream=stderr"
h_match "... and refreshes itself" "$(cat "$H_TMP/ui.html")" 'http-equiv="refresh"'
h_curl POST /dashboard
h_eq "the dashboard refuses POST" "$H_STATUS" 405
h_curl GET /
h_eq "an API client asking / still gets Spark's ErrorResponse" "$(jq -r .action "$H_TMP/body") $H_STATUS" "ErrorResponse 400"
h_curl GET / -H 'Accept: text/html'
h_match "a browser asking / gets the dashboard" "$(cat "$H_TMP/body")" '<title>Branches performance</title>'
h_done
