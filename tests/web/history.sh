#!/bin/bash
# history.sh - the operations page (/ui) reads the orchestrator's history
# through its versioned interface (orchestrator/history.h), on a real
# server and a history written by a real medallion-orchestrator run:
#  - no file yet: "No pipeline runs yet.";
#  - the run is listed, and the file carries layout version 1;
#  - a file from before versions (user_version 0) is still listed;
#  - a newer layout: /ui still answers 200 with the submissions and says
#    why the runs are missing; the dashboard and the API go on; the
#    orchestrator refuses to write the file and leaves it as it was;
#  - a file that is no SQLite database: said on /ui, nothing else breaks.
. "${MEDALLION_SOURCE_DIR:?set it to the source tree, or run the test with meson test}/tests/lib/harness.sh"

orch=$MEDALLION_BUILD_DIR/orchestrator/medallion-orchestrator
hist=$H_TMP/history.db
for s in ingestion transformation serving maintenance; do h_stage "$s" true; done
h_server_start --history "$hist"
export MEDALLION_MASTER=$H_URL

ui() { ui_status=$(curl -sS -o "$H_TMP/ui.html" -w '%{http_code}' "$H_URL/ui"); }
# history_error: the message /ui shows about the history, unescaped.
history_error() {
	sed -n 's/.*id="history-error">\([^<]*\)<.*/\1/p' "$H_TMP/ui.html" |
		sed 's/&gt;/>/g; s/&lt;/</g; s/&quot;/"/g; s/&#39;/'"'"'/g; s/&amp;/\&/g'
}

ui
h_eq "no history file yet: /ui says there is no run" "$ui_status $(grep -c 'No pipeline runs yet' "$H_TMP/ui.html")" "200 1"

h_check "the orchestrator runs the pipeline" "$orch" --history "$hist" run
ui
h_eq "/ui lists the run, FINISHED" \
	"$ui_status $(grep -c '<table id="runs">' "$H_TMP/ui.html") $(grep -o '<td class="FINISHED">FINISHED</td><td>0</td>' "$H_TMP/ui.html" | wc -l)" "200 1 1"
h_eq "the orchestrator records layout version 1" "$(sqlite3 "$hist" 'PRAGMA user_version')" 1

sqlite3 "$hist" 'PRAGMA user_version = 0'
ui
h_eq "a history from before versions (0) is still listed" \
	"$ui_status $(grep -o '<td class="FINISHED">FINISHED</td><td>0</td>' "$H_TMP/ui.html" | wc -l)" "200 1"

sqlite3 "$hist" 'PRAGMA user_version = 99'
ui
h_eq "a newer layout: /ui still answers, without a runs table" \
	"$ui_status $(grep -c '<table id="runs">' "$H_TMP/ui.html")" "200 0"
h_match "... saying why, with the versions" "$(history_error)" \
	"^Cannot show the pipeline runs: history $hist has layout version 99, newer than the 1 this program reads"
h_check "... and still listing the submissions" grep -q 'stream=stderr' "$H_TMP/ui.html"
h_eq "the dashboard and the API go on" \
	"$(curl -s -o /dev/null -w '%{http_code}' "$H_URL/dashboard") $(curl -s -o /dev/null -w '%{http_code}' "$H_URL/v1/submissions/readyz")" "200 200"
"$orch" --history "$hist" run 2>"$H_TMP/orch.err"
h_eq "the orchestrator refuses to write a newer history (exit non-zero)" "$([ $? -ne 0 ] && echo refused)" refused
h_match "... saying so" "$(cat "$H_TMP/orch.err")" "layout version 99, newer than the 1 this medallion-orchestrator writes"
h_eq "... and leaves it as it was" "$(sqlite3 "$hist" 'PRAGMA user_version; SELECT count(*) FROM runs')" "$(printf '99\n1')"

rm -f "$hist" "$hist-wal" "$hist-shm"
printf 'not a database, only text long enough to be read as a header\n' > "$hist"
ui
h_eq "a file that is no database: /ui still answers" "$ui_status" 200
h_match "... and says it cannot read the history" "$(history_error)" "^Cannot show the pipeline runs: cannot read history $hist: .*is it a medallion-orchestrator history"
h_done
