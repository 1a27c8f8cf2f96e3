/*
 * web.c - dashboard, operations page and /api/gold.
 *
 * Everything is rendered on the server from gold/branch_metrics.json,
 * the state store and the orchestrator's SQLite history: the pages hold
 * inline SVG and no script, so they work offline and a test can read the
 * numbers back from the markup (each bar carries data-branch and
 * data-value). Text from data is HTML-escaped. /api/gold sends the gold
 * file as is, with a strong ETag (a hash of its bytes) and Last-Modified,
 * and answers 304 to a matching If-None-Match.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "clock.h"
#include "sha256.h"
#include "store.h"
#include "web.h"

#define GOLD_MAX (4u << 20)

static void
html_escape(FILE *f, const char *s)
{
	for (; s != NULL && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* Reads gold's JSON file; NULL when there is none yet. */
static char *
read_gold(server *s, size_t *len, struct stat *st)
{
	char path[4096];
	char *buf;
	int fd;
	ssize_t n;

	if (s->lake_dir == NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/gold/branch_metrics.json",
	    s->lake_dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, st) == -1 || st->st_size > GOLD_MAX ||
	    (buf = malloc((size_t)st->st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	n = read(fd, buf, (size_t)st->st_size);
	close(fd);
	if (n != st->st_size) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static void
respond_text(api_response *r, int status, const char *type, char *body,
    size_t len)
{
	r->status = status;
	r->content_type = type;
	r->body = body;
	r->body_len = len;
}

static void
api_gold(server *s, const api_request *req, api_response *r)
{
	uint8_t digest[SHA256_DIGEST_LEN];
	char hex[17];
	struct stat st;
	struct tm tm;
	size_t len;
	char *gold = read_gold(s, &len, &st);

	if (gold == NULL) {
		api_respond_error(r, 404, s->lake_dir == NULL ? "The server "
		    "has no lake (start it with --lake DIR)." : "No gold yet: "
		    "run the pipeline (medallion-orchestrator run).");
		return;
	}
	sha256(gold, len, digest);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	snprintf(r->etag, sizeof(r->etag), "\"%s\"", hex);
	gmtime_r(&st.st_mtime, &tm);
	strftime(r->last_modified, sizeof(r->last_modified),
	    "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (req->if_none_match != NULL &&
	    strstr(req->if_none_match, r->etag) != NULL) {
		free(gold);
		respond_text(r, 304, "application/json", strdup(""), 0);
		return;
	}
	respond_text(r, 200, "application/json", gold, len);
}

/* --- dashboard ----------------------------------------------------- */

typedef struct bar {
	const char *label;
	double value;
} bar;

static int
cmp_bar_desc(const void *a, const void *b)
{
	double x = ((const bar *)a)->value, y = ((const bar *)b)->value;

	return x < y ? 1 : x > y ? -1 : 0;
}

static int
cmp_bar_asc(const void *a, const void *b)
{
	return -cmp_bar_desc(a, b);
}

/* A horizontal bar chart as inline SVG. */
static void
svg_bars(FILE *f, const char *id, const char *title, bar *bars, size_t n,
    const char *unit, int decimals)
{
	double max = 0;
	int h = 28 * (int)n + 10;

	for (size_t i = 0; i < n; i++)
		if (bars[i].value > max)
			max = bars[i].value;
	fprintf(f, "<figure><figcaption>");
	html_escape(f, title);
	fprintf(f, "</figcaption><svg id=\"%s\" role=\"img\" width=\"640\" "
	    "height=\"%d\" viewBox=\"0 0 640 %d\">", id, h, h);
	for (size_t i = 0; i < n; i++) {
		double w = max > 0 ? bars[i].value / max * 380 : 0;
		int y = 5 + 28 * (int)i;

		fprintf(f, "<text x=\"150\" y=\"%d\" text-anchor=\"end\">",
		    y + 17);
		html_escape(f, bars[i].label);
		fprintf(f, "</text><rect class=\"bar\" data-branch=\"");
		html_escape(f, bars[i].label);
		fprintf(f, "\" data-value=\"%.*f\" x=\"160\" y=\"%d\" "
		    "width=\"%.1f\" height=\"22\"></rect><text x=\"%.1f\" "
		    "y=\"%d\">%.*f %s</text>", decimals, bars[i].value, y, w,
		    166 + w, y + 17, decimals, bars[i].value, unit);
	}
	fprintf(f, "</svg></figure>\n");
}

static const char *page_style =
	"<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
	"h1{margin-bottom:.2em}.sub{color:#666;margin-top:0}"
	"figure{margin:1.5em 0}figcaption{font-weight:600;margin-bottom:.4em}"
	"rect.bar{fill:#3b6ea5}svg text{font-size:13px}"
	"table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;"
	"padding:.3em .8em;text-align:right}td:first-child,th:first-child"
	"{text-align:left}.answer{font-size:1.1em}"
	".FINISHED{color:#1a7f37}.FAILED,.ERROR,.KILLED,.UNKNOWN,.TIMEOUT"
	"{color:#b3261e}.RUNNING{color:#3b6ea5}</style>";

static void
dashboard_body(FILE *f, json_t *gold)
{
	json_t *branches = json_object_get(gold, "branches"), *b;
	json_t *busiest = json_object_get(gold, "busiest_branch");
	json_t *fastest = json_object_get(gold, "fastest_branch");
	size_t n = json_array_size(branches), i, nd = 0;
	bar *orders = calloc(n + 1, sizeof(bar));
	bar *speed = calloc(n + 1, sizeof(bar));

	fprintf(f, "<p class=\"sub\">gold computed at ");
	html_escape(f, json_string_value(json_object_get(gold,
	    "generated_at")));
	fprintf(f, " from silver version %" JSON_INTEGER_FORMAT "</p>\n",
	    json_integer_value(json_object_get(gold, "silver_version")));
	if (json_is_object(busiest)) {
		fprintf(f, "<p class=\"answer\" id=\"busiest\">Busiest branch: "
		    "<b>");
		html_escape(f, json_string_value(json_object_get(busiest,
		    "branch")));
		fprintf(f, "</b>, %" JSON_INTEGER_FORMAT " orders received.</p>",
		    json_integer_value(json_object_get(busiest,
		    "orders_received")));
	}
	if (json_is_object(fastest)) {
		fprintf(f, "<p class=\"answer\" id=\"fastest\">Fastest branch: "
		    "<b>");
		html_escape(f, json_string_value(json_object_get(fastest,
		    "branch")));
		fprintf(f, "</b>, %.2f hours from order to delivery on "
		    "average.</p>\n", json_number_value(json_object_get(fastest,
		    "avg_delivery_hours")));
	}
	if (orders == NULL || speed == NULL)
		goto out;
	json_array_foreach(branches, i, b) {
		json_t *avg = json_object_get(b, "avg_delivery_hours");

		orders[i].label = json_string_value(json_object_get(b,
		    "branch"));
		orders[i].value = (double)json_integer_value(json_object_get(b,
		    "orders_received"));
		if (json_is_number(avg)) {
			speed[nd].label = orders[i].label;
			speed[nd++].value = json_number_value(avg);
		}
	}
	qsort(orders, n, sizeof(bar), cmp_bar_desc);
	qsort(speed, nd, sizeof(bar), cmp_bar_asc);
	svg_bars(f, "orders-chart", "Orders received per branch", orders, n,
	    "orders", 0);
	svg_bars(f, "delivery-chart", "Average delivery time per branch "
	    "(fastest first)", speed, nd, "h", 2);
	fprintf(f, "<table id=\"metrics\"><tr><th>branch</th><th>orders "
	    "received</th><th>orders delivered</th><th>avg hours</th><th>p50 "
	    "hours</th><th>p90 hours</th><th>first order</th><th>last order"
	    "</th></tr>\n");
	json_array_foreach(branches, i, b) {
		fprintf(f, "<tr><td>");
		html_escape(f, json_string_value(json_object_get(b, "branch")));
		fprintf(f, "</td><td>%" JSON_INTEGER_FORMAT "</td><td>%"
		    JSON_INTEGER_FORMAT "</td><td>%.2f</td><td>%.2f</td><td>"
		    "%.2f</td><td>", json_integer_value(json_object_get(b,
		    "orders_received")), json_integer_value(json_object_get(b,
		    "orders_delivered")), json_number_value(json_object_get(b,
		    "avg_delivery_hours")), json_number_value(json_object_get(b,
		    "p50_delivery_hours")), json_number_value(json_object_get(b,
		    "p90_delivery_hours")));
		html_escape(f, json_string_value(json_object_get(b,
		    "first_order_at")));
		fprintf(f, "</td><td>");
		html_escape(f, json_string_value(json_object_get(b,
		    "last_order_at")));
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
out:
	free(orders);
	free(speed);
}

static void
dashboard(server *s, api_response *r)
{
	struct stat st;
	size_t len = 0;
	char *gold = read_gold(s, &len, &st), *html = NULL;
	json_t *doc = gold ? json_loads(gold, 0, NULL) : NULL;
	FILE *f = open_memstream(&html, &len);

	free(gold);
	if (f == NULL) {
		json_decref(doc);
		api_respond_error(r, 500, "cannot render the dashboard");
		return;
	}
	fprintf(f, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"refresh\" content=\"30\">"
	    "<title>Branches performance</title>%s</head><body>"
	    "<h1>Branches performance</h1>\n", page_style);
	if (doc == NULL)
		fprintf(f, "<p id=\"empty\">No gold yet: run the pipeline "
		    "(<code>medallion-orchestrator run</code>).</p>");
	else
		dashboard_body(f, doc);
	fprintf(f, "<p><a href=\"/ui\">operations</a> &middot; <a href=\""
	    "/api/gold\">gold as JSON</a></p></body></html>\n");
	fclose(f);
	json_decref(doc);
	respond_text(r, 200, "text/html; charset=utf-8", html, len);
}

/* --- operations page ----------------------------------------------- */

static void
fmt_time(int64_t us, char *buf, size_t len)
{
	if (us <= 0)
		snprintf(buf, len, "-");
	else
		clock_format_utc(us, buf, len);
}

static int
submission_row(const store_driver *d, void *arg)
{
	FILE *f = arg;
	char started[40], took[32] = "-";
	int64_t end = d->ended_us ? d->ended_us : clock_now_us();

	fmt_time(d->started_us, started, sizeof(started));
	if (d->started_us > 0)
		snprintf(took, sizeof(took), "%.2f", (end - d->started_us) /
		    1e6);
	fprintf(f, "<tr><td>%s</td><td>", d->id);
	html_escape(f, d->stage);
	fprintf(f, "</td><td class=\"%s\">%s</td><td>%s</td><td>%s</td><td>"
	    "<a href=\"/v1/submissions/logs/%s?stream=stdout\">stdout</a> "
	    "<a href=\"/v1/submissions/logs/%s?stream=stderr\">stderr</a>"
	    "</td></tr>\n", driver_state_name(d->state),
	    driver_state_name(d->state), started, took, d->id, d->id);
	return 0;
}

static void
runs_table(server *s, FILE *f)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	if (s->history_path == NULL) {
		fprintf(f, "<p>Start the server with <code>--history FILE"
		    "</code> to show the orchestrator's runs.</p>");
		return;
	}
	if (sqlite3_open_v2(s->history_path, &db, SQLITE_OPEN_READONLY,
	    NULL) != SQLITE_OK || sqlite3_prepare_v2(db, "SELECT run_id, "
	    "pipeline, trigger, started_at, ended_at, state, exit_code, "
	    "coalesce(message, '') FROM runs ORDER BY run_id DESC LIMIT 50",
	    -1, &st, NULL) != SQLITE_OK) {
		fprintf(f, "<p>No pipeline runs yet.</p>");
		sqlite3_close(db);
		return;
	}
	fprintf(f, "<table id=\"runs\"><tr><th>run</th><th>pipeline</th>"
	    "<th>trigger</th><th>started</th><th>seconds</th><th>state</th>"
	    "<th>exit</th><th>message</th></tr>\n");
	while (sqlite3_step(st) == SQLITE_ROW) {
		int64_t t0 = sqlite3_column_int64(st, 3);
		int64_t t1 = sqlite3_column_int64(st, 4);
		char started[40];

		fmt_time(t0, started, sizeof(started));
		fprintf(f, "<tr><td>%" PRId64 "</td><td>", (int64_t)
		    sqlite3_column_int64(st, 0));
		html_escape(f, (const char *)sqlite3_column_text(st, 1));
		fprintf(f, "</td><td>");
		html_escape(f, (const char *)sqlite3_column_text(st, 2));
		fprintf(f, "</td><td>%s</td><td>%.2f</td><td class=\"", started,
		    t1 > t0 ? (t1 - t0) / 1e6 : 0.0);
		html_escape(f, (const char *)sqlite3_column_text(st, 5));
		fprintf(f, "\">");
		html_escape(f, (const char *)sqlite3_column_text(st, 5));
		fprintf(f, "</td><td>%d</td><td>", sqlite3_column_int(st, 6));
		html_escape(f, (const char *)sqlite3_column_text(st, 7));
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void
operations(server *s, api_response *r)
{
	char *html = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&html, &len);

	if (f == NULL) {
		api_respond_error(r, 500, "cannot render the page");
		return;
	}
	fprintf(f, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"refresh\" content=\"5\">"
	    "<title>Medallion operations</title>%s</head><body>"
	    "<h1>Medallion operations</h1><p class=\"sub\">refreshes every 5 s"
	    " &middot; <a href=\"/\">dashboard</a></p>\n<h2>Submissions</h2>"
	    "<table id=\"submissions\"><tr><th>submission</th><th>stage</th>"
	    "<th>state</th><th>started</th><th>seconds</th><th>logs</th>"
	    "</tr>\n",
	    page_style);
	store_list(s->st, NULL, INT64_MAX, 100, 0, submission_row, f);
	fprintf(f, "</table>\n<h2>Pipeline runs</h2>\n");
	runs_table(s, f);
	fprintf(f, "</body></html>\n");
	fclose(f);
	respond_text(r, 200, "text/html; charset=utf-8", html, len);
}

/*
 * "/" stays Spark's ErrorResponse for API clients (the protocol's
 * conformance); a browser, which asks for HTML, gets the dashboard.
 * /dashboard serves it to everyone.
 */
static int
is_dashboard_page(const api_request *req)
{
	return strcmp(req->path, "/dashboard") == 0 ||
	    (strcmp(req->path, "/") == 0 && req->accept != NULL &&
	    strstr(req->accept, "text/html") != NULL);
}

int
web_is_dashboard(const api_request *req)
{
	return is_dashboard_page(req) || strcmp(req->path, "/api/gold") == 0;
}

int
web_handle(server *s, const api_request *req, api_response *resp)
{
	int page = is_dashboard_page(req);
	int ui = strcmp(req->path, "/ui") == 0;
	int gold = strcmp(req->path, "/api/gold") == 0;

	if (!page && !ui && !gold)
		return 0;
	if (strcmp(req->method, "GET") != 0 &&
	    strcmp(req->method, "HEAD") != 0) {
		api_respond_error(resp, 405, "Use GET.");
		resp->allow = "GET, HEAD";
		return 1;
	}
	if (gold)
		api_gold(s, req, resp);
	else if (ui)
		operations(s, resp);
	else
		dashboard(s, resp);
	return 1;
}
