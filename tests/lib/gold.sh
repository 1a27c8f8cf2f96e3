# gold.sh - gold against SQL on the source, for the tests that run the
# whole pipeline (tests/pipeline, tests/deploy). Source it after defining
#   q SQL        runs SQL on the source database, prints rows as a|b|c
# Then:
#   gold_sql                     the metrics computed by SQL, a line a branch
#   gold_ours JSON_FILE          the same fields from gold's JSON
#   gold_compare JSON_FILE       prints the lines that differ beyond
#                                tolerance (counts exact, avg 1e-9,
#                                p50/p90 0.5%: percentile_disc vs sketch)

gold_sql() {
	q "SELECT o.branch, count(*) FILTER (WHERE h.status = 'NEW'),
	  count(*) FILTER (WHERE h.status = 'DELIVERED'),
	  coalesce(avg(extract(epoch FROM h.updatedat - o.ordertime)) FILTER (WHERE h.status = 'DELIVERED') / 3600, -1),
	  coalesce(percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM h.updatedat - o.ordertime) / 3600) FILTER (WHERE h.status = 'DELIVERED'), -1),
	  coalesce(percentile_disc(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM h.updatedat - o.ordertime) / 3600) FILTER (WHERE h.status = 'DELIVERED'), -1),
	  to_char(min(o.ordertime) FILTER (WHERE h.status = 'NEW'), 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),
	  to_char(max(o.ordertime) FILTER (WHERE h.status = 'NEW'), 'YYYY-MM-DD\"T\"HH24:MI:SS.US')
	  FROM ordershistory h JOIN orders o USING (orderid) GROUP BY 1 ORDER BY 1"
}

gold_ours() {
	jq -r '.branches | sort_by(.branch)[] | [.branch, .orders_received, .orders_delivered,
		(.avg_delivery_hours // -1), (.p50_delivery_hours // -1), (.p90_delivery_hours // -1),
		.first_order_at, .last_order_at] | map(tostring) | join("|")' "$1"
}

gold_compare() {
	paste -d'#' <(gold_sql) <(gold_ours "$1") | awk -F'#' '{
		split($1, s, "|"); split($2, o, "|"); bad = 0
		for (i in s) if (i != 4 && i != 5 && i != 6 && s[i] != o[i]) bad = 1
		# Tolerances relative to |SQL| (-1 stands for "no delivery yet").
		if (s[4] != o[4]) { d = s[4] - o[4]; if (d < 0) d = -d; if (d > 1e-9 * (s[4] < 0 ? -s[4] : s[4])) bad = 1 }
		for (i = 5; i <= 6; i++) { d = s[i] - o[i]; if (d < 0) d = -d; if (d > 0.0051 * (s[i] < 0 ? -s[i] : s[i])) bad = 1 }
		if (bad) print "sql: " $1 " ours: " $2 }'
}
