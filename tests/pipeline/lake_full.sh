#!/bin/bash
# lake_full.sh - a full lake disk (a small tmpfs, so root only): serving
# that fails for lack of space leaves the CSV and JSON (what /api/gold and
# the dashboard serve) as they were, never ahead of the gold tables, and
# leaves no temporary files; with space back, a rerun publishes gold equal
# to SQL on the source.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"
. "$MEDALLION_SOURCE_DIR/tests/lib/pg.sh"

if [ "$(id -u)" -ne 0 ]; then
	h_skip "mounting a small tmpfs needs root"
fi
b=$MEDALLION_BUILD_DIR
app=$b/retailapp/medallion-retailapp
export MEDALLION_LAKE=$H_TMP/lake
mkdir -p "$MEDALLION_LAKE"
if ! mount -t tmpfs -o size=64m medallion-test "$MEDALLION_LAKE" 2>"$H_TMP/err"; then
	h_skip "cannot mount a tmpfs here: $(cat "$H_TMP/err")"
fi
h_defer "umount -l '$MEDALLION_LAKE'"
pg_start
q() { pg_psql_admin -Atc "$1"; }
. "$MEDALLION_SOURCE_DIR/tests/lib/gold.sh"
as_app() { (eval "$(pg_env_app)"; "$@"); }
upstream() {
	(eval "$(pg_env_pipeline)"; "$b/stages/ingestion/ingestion") &&
	"$b/stages/transformation/transformation"
}
gold=$MEDALLION_LAKE/gold

as_app "$app" --bulk 2000 --seed 3 --quiet 2>/dev/null
whole_run() { upstream && "$b/stages/serving/serving"; }
h_check "a first run publishes gold" whole_run
cp "$gold/branch_metrics.csv" "$gold/branch_metrics.json" "$H_TMP/"
as_app "$app" --seed 4 --events 500 --quiet 2>/dev/null
h_check "new events reach silver" upstream

# Fill the disk but for a few pages: the CSV and JSON fit, the state does not.
free_kb() { df -k --output=avail "$MEDALLION_LAKE" | tail -1 | tr -d ' '; }
fallocate -l $(( ($(free_kb) - 16) * 1024 )) "$MEDALLION_LAKE/filler" 2>/dev/null ||
	dd if=/dev/zero of="$MEDALLION_LAKE/filler" bs=1k count=$(( $(free_kb) - 16 )) 2>/dev/null
h_log "free on the lake: $(free_kb) KiB"
rc=0
"$b/stages/serving/serving" 2>"$H_TMP/err" || rc=$?
h_check "serving on a full lake fails (exit $rc)" test "$rc" -ne 0
h_match "... saying the disk is full" "$(cat "$H_TMP/err")" 'No space left on device'
h_check "... and the CSV is as it was" cmp "$gold/branch_metrics.csv" "$H_TMP/branch_metrics.csv"
h_check "... and the JSON is as it was" cmp "$gold/branch_metrics.json" "$H_TMP/branch_metrics.json"
h_eq "... with no temporary files left in gold/" "$(find "$gold" -maxdepth 1 -name '*.tmp-*' | wc -l)" 0

rm -f "$MEDALLION_LAKE/filler"
h_check "with space back, serving runs" "$b/stages/serving/serving"
h_check "... and publishes new gold" bash -c "! cmp -s '$gold/branch_metrics.json' '$H_TMP/branch_metrics.json'"
h_eq "... equal to SQL on the source" "$(gold_compare "$gold/branch_metrics.json")" ""
h_done
