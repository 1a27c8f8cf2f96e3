# bronze.sh - bronze against the source, for the ingestion tests. Source
# after pg.sh, with $lake (medallion-lake) and q (SQL on the source) set:
#   same_as_source TABLE COLUMN WHEN   three checks: bronze TABLE has every
#                                      source id, no extra one, no duplicate

# ids TABLE COLUMN: the ids in bronze, one per line, sorted numerically.
bronze_ids() { "$lake" cat --columns "$2" "$MEDALLION_LAKE/bronze/$1" | tail -n +2 | tr -d '\r' | sort -n; }
source_ids() { q "SELECT $2 FROM $1 ORDER BY 1"; }
same_as_source() {	# TABLE COLUMN WHEN
	local b s
	b=$(bronze_ids "$1" "$2"); s=$(source_ids "$1" "$2")
	h_eq "$3: bronze $1 has every source id" "$(comm -13 <(echo "$b") <(echo "$s") | wc -l)" 0
	h_eq "$3: bronze $1 has no extra id" "$(comm -23 <(echo "$b") <(echo "$s") | wc -l)" 0
	h_eq "$3: bronze $1 has no duplicate" "$(echo "$b" | uniq -d | wc -l)" 0
}
