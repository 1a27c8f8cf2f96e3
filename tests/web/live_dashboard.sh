#!/bin/bash
# live_dashboard.sh - the dashboard follows gold without a reload: headless
# Chromium opens /dashboard of a real medallion-server, the test reads a
# branch's orders received on the page, marks the page's window, replaces
# gold/branch_metrics.json (as serving does, with a rename) with another
# number, and waits (bounded) until the open page shows it; the mark is
# still there and no second load happened, so the page was not reloaded.
# With scripts disabled the page still renders gold and keeps its meta
# refresh; with scripts on, that refresh is inert (inside <noscript>).
# /dashboard/content, which the live page fetches, needs a token exactly
# when the page does (open with --public-dashboard).
# Chromium is driven by live_dashboard.mjs over the DevTools protocol,
# with Node's own WebSocket (no npm package).
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || h_skip "chromium is not installed (scripts/install-deps test installs it)"
command -v node >/dev/null || h_skip "node is not installed (scripts/install-deps test installs nodejs)"
node --experimental-websocket -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' 2>/dev/null ||
	h_skip "this node ($(node --version)) has no WebSocket client (Node >= 20.10 has one)"

check=$MEDALLION_BUILD_DIR/tests/pipeline/jsonschema_check
schema=$MEDALLION_SOURCE_DIR/schemas/json/branch_metrics.schema.json
mkdir -p "$H_TMP/lake/gold" "$H_TMP/docs"
gold=$H_TMP/lake/gold/branch_metrics.json
cat > "$H_TMP/docs/before.json" <<'JSON'
{"generated_at": "2026-11-25T04:50:31Z", "silver_version": 7,
 "units": {"avg_delivery_hours": "hours", "p50_delivery_hours": "hours (within 0.5%)",
   "p90_delivery_hours": "hours (within 0.5%)", "timestamps": "UTC, as stored in the source (no zone)"},
 "busiest_branch": {"branch": "Amberfield", "orders_received": 11008},
 "fastest_branch": {"branch": "Juniper", "avg_delivery_hours": 1.77},
 "branches": [
  {"branch": "Amberfield", "orders_received": 11008, "orders_delivered": 10850, "avg_delivery_hours": 2.91, "p50_delivery_hours": 2.1, "p90_delivery_hours": 2.84, "first_order_at": "2026-01-01T08:00:52.000000", "last_order_at": "2026-02-26T21:45:14.000000"},
  {"branch": "Juniper", "orders_received": 3786, "orders_delivered": 3722, "avg_delivery_hours": 1.77, "p50_delivery_hours": 2.19, "p90_delivery_hours": 2.96, "first_order_at": "2026-01-01T08:00:08.000000", "last_order_at": "2026-02-27T01:40:14.000000"}]}
JSON
# The next run's gold: Amberfield received more orders, a branch is new.
jq '.silver_version = 8 | .generated_at = "2026-11-25T04:50:32Z" |
	.busiest_branch.orders_received = 11042 | .branches[0].orders_received = 11042 |
	.branches += [.branches[1] | .branch = "Cedar Hill" | .orders_received = 12 |
		.orders_delivered = 11]' "$H_TMP/docs/before.json" > "$H_TMP/docs/after.json"
for doc in before after; do
	h_check "$doc.json is gold as the schema has it" "$check" "$schema" "$H_TMP/docs/$doc.json"
done
cp "$H_TMP/docs/before.json" "$gold"
h_server_start --lake "$H_TMP/lake"

h_curl GET /dashboard/content
h_eq "/dashboard/content answers 200" "$H_STATUS" 200
h_match "... with gold's numbers and no page around them" "$(cat "$H_TMP/body")" \
	'^<p class="sub">gold computed at .*data-value="11008"'
h_curl POST /dashboard/content
h_eq "... and refuses POST" "$H_STATUS" 405

# Scripts off: the page as the server drew it, refreshing itself.
browse() {	# MODE PROFILE URL ARGS...: live_dashboard.mjs, bounded
	h_defer "kill -9 \$(cat '$H_TMP/$2.pid' 2>/dev/null) 2>/dev/null"
	# TMPDIR: Chromium keeps its singleton socket in a directory of its
	# own under it, which a killed browser leaves behind.
	TMPDIR=$H_TMP timeout 120 node --experimental-websocket "$MEDALLION_SOURCE_DIR/tests/web/live_dashboard.mjs" \
		"$1" "$chromium" "$H_TMP/$2" "${@:3}" 2>>"$H_TMP/chrome.log"
}
browse noscript chrome-noscript "$H_URL/dashboard" > "$H_TMP/noscript.html"
h_match "with scripts disabled the page renders gold's numbers" "$(cat "$H_TMP/noscript.html")" \
	'data-branch="Amberfield" data-value="11008"'
h_eq "... a row per branch" "$(grep -o '<tr><td>' "$H_TMP/noscript.html" | wc -l)" 2
h_match "... and refreshes itself" "$(cat "$H_TMP/noscript.html")" \
	'<noscript><meta http-equiv="refresh" content="30"></noscript>'
h_match "... and says so" "$(cat "$H_TMP/noscript.html")" 'id="live"><noscript>refreshes every 30 s'

# Scripts on: the open page follows gold.
if ! browse live chrome-live "$H_URL/dashboard" "$gold" "$H_TMP/docs/after.json" Amberfield \
	> "$H_TMP/seen.json"; then
	h_fail "the browser session ran"
	sed 's/^/#   /' "$H_TMP/chrome.log" | tail -20 >&2
	h_done
fi
seen() { jq -r ".$1" "$H_TMP/seen.json"; }
h_eq "the open page shows Amberfield's orders" "$(seen before)" 11008
h_match "... and its script polls" "$(seen live)" '^live'
h_eq "after new gold the open page shows the new number" "$(seen after)" 11042
h_eq "... without a reload: the window's mark is still set" "$(seen marker)" 1
h_eq "... and the page loaded once" "$(seen loads_before) $(seen loads_after)" "1 1"
h_match "... the answers follow" "$(seen busiest)" 'Amberfield, 11042 orders'
h_eq "... and the table has the new branch's row" "$(seen rows)" 4

# The live page's requests are open exactly when the page is.
h_server_stop
printf 'live-token-%s\n' "$RANDOM$RANDOM" > "$H_TMP/token"
chmod 600 "$H_TMP/token"
h_server_start --lake "$H_TMP/lake" --token-file "$H_TMP/token"
h_curl GET /dashboard/content
h_eq "with a token, /dashboard/content needs it too" "$H_STATUS" 403
h_server_stop
h_server_start --lake "$H_TMP/lake" --token-file "$H_TMP/token" --public-dashboard
h_curl GET /dashboard/content
h_eq "with --public-dashboard it is open, as the page is" "$H_STATUS" 200
h_done
