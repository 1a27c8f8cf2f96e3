#!/bin/bash
# gold_schema.sh - medallion-server's gold reader against gold's contract,
# schemas/json/branch_metrics.schema.json, on a real server:
#  - documents the schema accepts (several branches, one, none, 300, no
#    delivered order so null averages and no fastest branch, Unicode and
#    markup in branch names, a count written 5.0, no source watermark
#    yet, and an older serving's file without the field at all) render
#    on /dashboard with gold's figures and go out byte for byte on
#    /api/gold;
#  - documents the schema refuses (a field missing or unknown, a wrong
#    type, a negative count, a null that may not be, a badly laid out
#    time, other units, a malformed source watermark, truncated JSON, a
#    duplicated key, ...) get a 500
#    from both, naming the field at fault, and the server goes on serving.
# Every document is first put through tests/tools/jsonschema_check, so a
# case the schema and the server disagree on fails here.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

schema=$MEDALLION_SOURCE_DIR/schemas/json/branch_metrics.schema.json
check=$MEDALLION_BUILD_DIR/tests/pipeline/jsonschema_check
mkdir -p "$H_TMP/lake/gold" "$H_TMP/docs"
gold=$H_TMP/lake/gold/branch_metrics.json
units='{"avg_delivery_hours": "hours", "p50_delivery_hours": "hours (within 0.5%)",
	"p90_delivery_hours": "hours (within 0.5%)", "timestamps": "UTC, as stored in the source (no zone)"}'

cat > "$H_TMP/docs/three.json" <<JSON
{"generated_at": "2026-11-25T04:50:31Z", "silver_version": 7,
 "source_watermark": {"xid_bound": "18446744073709551615", "snapshot_at": "2026-11-25T04:50:30.912345Z"},
 "units": $units,
 "busiest_branch": {"branch": "Amberfield", "orders_received": 11008},
 "fastest_branch": {"branch": "Juniper", "avg_delivery_hours": 1.77},
 "branches": [
  {"branch": "Amberfield", "orders_received": 11008, "orders_delivered": 10850, "avg_delivery_hours": 2.91, "p50_delivery_hours": 2.1, "p90_delivery_hours": 2.84, "first_order_at": "2026-01-01T08:00:52.000000", "last_order_at": "2026-02-26T21:45:14.000000"},
  {"branch": "Brightwater", "orders_received": 7295, "orders_delivered": 7211, "avg_delivery_hours": 2.4, "p50_delivery_hours": 1.51, "p90_delivery_hours": 2.06, "first_order_at": "2026-01-01T08:00:30.000000", "last_order_at": "2026-02-26T05:55:14.000000"},
  {"branch": "Juniper", "orders_received": 3786, "orders_delivered": 3722, "avg_delivery_hours": 1.77, "p50_delivery_hours": 2.19, "p90_delivery_hours": 2.96, "first_order_at": "2026-01-01T08:00:08.000000", "last_order_at": "2026-02-27T01:40:14.000000"}]}
JSON
base=$H_TMP/docs/three.json
jqdoc() { jq "$1" "$base" > "$H_TMP/docs/$2.json"; }

# Valid edge cases.
jqdoc '.branches |= .[:1] | .fastest_branch.branch = "Amberfield" | .fastest_branch.avg_delivery_hours = 2.91' one
jqdoc '.branches = [] | .busiest_branch = null | .fastest_branch = null' none
jqdoc '.fastest_branch = null | .branches |= map(.orders_delivered = 0 | .avg_delivery_hours = null |
	.p50_delivery_hours = null | .p90_delivery_hours = null)' undelivered
jqdoc '.branches = [range(300) as $i | .branches[0] | .branch = "Branch \($i)" | .orders_received = $i] |
	.busiest_branch = {"branch": "Branch 299", "orders_received": 299}' many
jqdoc '.branches[0].branch = "Zürich Hauptbahnhof" | .branches[1].branch = "東京 🚚 Ελλάδα" |
	.branches[2].branch = "<b>Tom & \"Jerry'"'"'s\"</b>" | .busiest_branch.branch = "Zürich Hauptbahnhof" |
	.fastest_branch.branch = "<b>Tom & \"Jerry'"'"'s\"</b>"' unicode
jqdoc '.branches[1].first_order_at = null | .branches[1].last_order_at = null | .branches[1].orders_received = 0' no_orders
sed 's/"orders_received": 3786/"orders_received": 3786.0/' "$base" > "$H_TMP/docs/integral_real.json"
jqdoc '.source_watermark = null' no_watermark
jqdoc 'del(.source_watermark)' before_watermarks
jqdoc '.source_watermark.xid_bound = "742"' small_bound
valid="three one none undelivered many unicode no_orders integral_real no_watermark before_watermarks small_bound"

# Invalid documents: NAME, jq filter on the valid base, the field the
# server must name.
invalid=(
	"missing_field|del(.branches[1].orders_delivered)|branches[1].orders_delivered: missing"
	"unknown_field|.extra = 1|extra: not a field of gold"
	"unknown_in_branch|.branches[2].note = \"x\"|branches[2].note: not a field of gold"
	"string_count|.branches[0].orders_received = \"11008\"|branches[0].orders_received: not an integer >= 0"
	"negative_count|.branches[0].orders_delivered = -1|branches[0].orders_delivered: not an integer >= 0"
	"fractional_count|.silver_version = 7.5|silver_version: not an integer >= 0"
	"null_count|.branches[1].orders_received = null|branches[1].orders_received: not an integer >= 0"
	"negative_hours|.branches[1].p90_delivery_hours = -0.5|branches[1].p90_delivery_hours: not a number >= 0 or null"
	"string_hours|.branches[1].avg_delivery_hours = \"2.4\"|branches[1].avg_delivery_hours: not a number >= 0 or null"
	"fastest_null_hours|.fastest_branch.avg_delivery_hours = null|fastest_branch.avg_delivery_hours: not a number >= 0"
	"busiest_text|.busiest_branch = \"Amberfield\"|busiest_branch: not an object or null"
	"branch_number|.branches[0].branch = 12|branches[0].branch: not a string"
	"time_with_space|.branches[0].first_order_at = \"2026-01-01 08:00:52.000000\"|branches[0].first_order_at: not a time"
	"time_with_zone|.branches[2].last_order_at = \"2026-02-27T01:40:14.000000Z\"|branches[2].last_order_at: not a time"
	"generated_no_z|.generated_at = \"2026-11-25T04:50:31\"|generated_at: not a time"
	"other_units|.units.avg_delivery_hours = \"minutes\"|units.avg_delivery_hours: not the text serving writes"
	"branches_object|.branches = {}|branches: not an array"
	"branch_not_object|.branches[1] = 5|branches[1]: not an object"
	"no_generated_at|del(.generated_at)|generated_at: missing"
	"watermark_number|.source_watermark.xid_bound = 742|source_watermark.xid_bound: not a string"
	"watermark_signed|.source_watermark.xid_bound = \"-742\"|source_watermark.xid_bound: not an xid8"
	"watermark_leading_zero|.source_watermark.xid_bound = \"0742\"|source_watermark.xid_bound: not an xid8"
	"watermark_empty_bound|.source_watermark.xid_bound = \"\"|source_watermark.xid_bound: not an xid8"
	"watermark_too_long|.source_watermark.xid_bound = \"123456789012345678901\"|source_watermark.xid_bound: not an xid8"
	"watermark_no_bound|del(.source_watermark.xid_bound)|source_watermark.xid_bound: missing"
	"watermark_no_time|del(.source_watermark.snapshot_at)|source_watermark.snapshot_at: missing"
	"watermark_time_no_z|.source_watermark.snapshot_at = \"2026-11-25T04:50:30.912345\"|source_watermark.snapshot_at: not a time"
	"watermark_time_ms|.source_watermark.snapshot_at = \"2026-11-25T04:50:30.912Z\"|source_watermark.snapshot_at: not a time"
	"watermark_extra|.source_watermark.lsn = \"0/16B3748\"|source_watermark.lsn: not a field of gold"
	"watermark_text|.source_watermark = \"12345\"|source_watermark: not an object or null"
)
for case in "${invalid[@]}"; do
	IFS='|' read -r name filter _ <<<"$case"
	jqdoc "$filter" "$name" || h_fail "jq could not make $name"
done
head -c 200 "$base" > "$H_TMP/docs/truncated.json"
sed 's/"silver_version": 7,/"silver_version": 7, "silver_version": 8,/' "$base" > "$H_TMP/docs/duplicate_key.json"
echo '[1, 2]' > "$H_TMP/docs/array.json"
invalid+=("truncated||not JSON" "duplicate_key||duplicate object key" "array||not a JSON object")

h_server_start --lake "$H_TMP/lake"

# show DOC: installs it as gold; fetches /dashboard and /api/gold.
show() {
	cp "$H_TMP/docs/$1.json" "$gold"
	dash_status=$(curl -sS -o "$H_TMP/dash.html" -w '%{http_code}' "$H_URL/dashboard")
	api_status=$(curl -sS -o "$H_TMP/api.json" -w '%{http_code}' "$H_URL/api/gold")
}
# html_of TEXT: TEXT escaped as web.c escapes it.
html_of() { sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g; s/'"'"'/\&#39;/g' <<<"$1"; }

for name in $valid; do
	doc=$H_TMP/docs/$name.json
	h_check "$name: valid under the schema" "$check" "$schema" "$doc"
	show "$name"
	h_eq "$name: /dashboard renders (200, no error)" \
		"$dash_status $(grep -c 'gold-error' "$H_TMP/dash.html")" "200 0"
	h_eq "$name: ... a table row per branch" \
		"$(grep -o '<tr><td>' "$H_TMP/dash.html" | wc -l)" "$(jq '.branches | length' "$doc")"
	missing=0
	while IFS= read -r branch; do
		grep -qF "data-branch=\"$(html_of "$branch")\"" "$H_TMP/dash.html" || missing=$((missing + 1))
	done < <(jq -r '.branches[].branch' "$doc")
	h_eq "$name: ... a bar for each branch, named as in gold (escaped)" "$missing" 0
	h_eq "$name: ... the orders chart carries gold's counts" \
		"$(grep -o 'data-value="[0-9.]*"' "$H_TMP/dash.html" | head -"$(jq '.branches | length' "$doc")" | sort | md5sum)" \
		"$(jq -r '.branches[] | "data-value=\"\(.orders_received | floor)\""' "$doc" | sort | md5sum)"
	h_eq "$name: /api/gold sends the file byte for byte" "$api_status $(cmp -s "$doc" "$H_TMP/api.json" && echo same)" "200 same"
done

show none
h_eq "no branch: no busiest or fastest answer" "$(grep -c 'id="busiest"\|id="fastest"' "$H_TMP/dash.html")" 0
show undelivered
h_eq "no delivered order: no fastest branch, an empty delivery chart" \
	"$(grep -c 'id="fastest"' "$H_TMP/dash.html") $(sed 's/<figure>/\n&/g' "$H_TMP/dash.html" | grep 'id="delivery-chart"' | grep -c 'data-branch')" "0 0"
h_check "... and the averages shown as -, not 0.00" \
	grep -qF '<tr><td>Amberfield</td><td>11008</td><td>0</td><td>-</td><td>-</td><td>-</td>' "$H_TMP/dash.html"
show unicode
h_match "Unicode branch names are sent as UTF-8" "$(cat "$H_TMP/dash.html")" 'Busiest branch: <b>Zürich Hauptbahnhof</b>'
h_match "markup in a branch name is escaped" "$(cat "$H_TMP/dash.html")" \
	'Fastest branch: <b>&lt;b&gt;Tom &amp; &quot;Jerry&#39;s&quot;&lt;/b&gt;</b>'

for case in "${invalid[@]}"; do
	IFS='|' read -r name _ want <<<"$case"
	doc=$H_TMP/docs/$name.json
	"$check" "$schema" "$doc" > "$H_TMP/check.out" 2>&1
	h_eq "$name: refused by the schema" "$?" 1
	show "$name"
	h_eq "$name: /dashboard answers 500 with the page and the reason" \
		"$dash_status $(grep -c 'id="gold-error"' "$H_TMP/dash.html") $(grep -c '<title>Branches performance</title>' "$H_TMP/dash.html")" "500 1 1"
	sed -n 's/.*id="gold-error">\([^<]*\)<.*/\1/p' "$H_TMP/dash.html" |
		sed 's/&gt;/>/g; s/&lt;/</g; s/&quot;/"/g; s/&#39;/'"'"'/g; s/&amp;/\&/g' > "$H_TMP/reason"
	h_check "$name: ... naming the field ($want)" grep -qF "$want" "$H_TMP/reason"
	h_eq "$name: /api/gold refuses it (500, JSON naming the field)" \
		"$api_status $(jq -r '.message | contains("does not match its schema") and contains($w)' --arg w "$want" "$H_TMP/api.json")" "500 true"
done
h_check "the server still answers after every refusal" curl -fsS "$H_URL/v1/submissions/readyz"
show three
h_eq "and a valid gold renders again" "$dash_status $api_status" "200 200"
rm -f "$gold"
show_missing=$(curl -sS -o "$H_TMP/dash.html" -w '%{http_code}' "$H_URL/dashboard")
h_eq "no gold at all: 200 and 'No gold yet'" "$show_missing $(grep -c 'id="empty"' "$H_TMP/dash.html")" "200 1"
h_done
