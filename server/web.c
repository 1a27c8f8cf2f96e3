/*
 * web.c - dashboard, operations page and /api/gold.
 *
 * Everything is rendered on the server from gold/branch_metrics.json,
 * the state store and the orchestrator's history: the pages hold inline
 * SVG, so they work offline and a test can read the numbers back from
 * the markup (each bar carries data-branch and data-value). Text from
 * data is HTML-escaped.
 *
 * The dashboard is live without a reload: a small inline script polls
 * /api/gold every 500 ms with If-None-Match (a 304 while gold is
 * unchanged), and when the answer changes it fetches the same server-side
 * rendering of gold, /dashboard/content, and swaps it in. The script
 * draws nothing itself, so the live page and the page without scripts
 * cannot disagree; without scripts a meta refresh inside <noscript>
 * reloads the page instead (a script-enabled browser ignores it). Why
 * polling and not server-sent events: README, "Dashboard and gold for
 * other tools".
 *
 * Gold is distrusted at this edge: gold_parse checks it against its
 * contract, schemas/json/branch_metrics.schema.json (every field, its
 * type, nullability and bounds, and no other field), and hands the
 * renderer a gold_doc. A file that breaks the contract is refused with
 * the field at fault (the dashboard and /api/gold answer 500 saying so),
 * never drawn with zeroes or sent on. /api/gold then sends the file's
 * bytes as they are, with a strong ETag (a hash of its bytes) and
 * Last-Modified, and answers 304 to a matching If-None-Match; the ETag
 * of a file already checked is remembered by the file's identity
 * (gold_tag.h), so a poll of an unchanged gold costs a stat(), not a
 * read, a schema check and a hash (a watch-mode client polling every few
 * ms made these the largest part of the server's CPU).
 *
 * The orchestrator's runs come through its history interface
 * (orchestrator/history.h), which checks the file's layout version: a
 * history this server cannot read is a message on /ui, and the rest of
 * the page still renders.
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

#include "catalog.h"
#include "clock.h"
#include "gold_tag.h"
#include "history.h"
#include "lake_store.h"
#include "sha256.h"
#include "store.h"
#include "web.h"

#define GOLD_MAX (4u << 20)
/* Serving's JSON, under the lake root (stages/catalog). */
#define GOLD_FILE CATALOG_GOLD_DIR "/" CATALOG_GOLD_JSON
#define GOLD_SCHEMA "schemas/json/branch_metrics.schema.json"
#define HISTORY_RUNS_SHOWN 50
/* #gold of the dashboard alone, for the live page; relative to / and
 * /dashboard, so the page also works under a proxy's path prefix. */
#define DASHBOARD_PART "/dashboard/content"
#define DASHBOARD_PART_REL "dashboard/content"

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

/* --- reading gold ---------------------------------------------------- */

typedef enum gold_status {
	GOLD_OK,
	GOLD_NONE,	/* no lake, or serving has not run yet */
	GOLD_BAD,	/* unreadable, or not what the schema allows */
} gold_status;

/* Gold's JSON file under the lake: 0, or -1 when the path is too long. */
static int
gold_path(server *s, char *path, size_t len)
{
	return (size_t)snprintf(path, len, "%s/" GOLD_FILE, s->lake_dir) >= len ?
	    -1 : 0;
}

/*
 * Gold on an object-store lake (s3://): one GET through the lake's
 * storage seam, credentials from the server's environment. st gets the
 * size and the time only (no inode: api_gold_unchanged never trusts it,
 * the ETag is then always the content's).
 */
static gold_status
read_gold_remote(const char *path, char **buf, size_t *len, struct stat *st,
    char *err, size_t errlen)
{
	uint8_t *data;
	lake_err lerr;
	int rc = lake_store_read_all(path, &data, len, &lerr);

	if (rc == LAKE_STORE_NOT_FOUND)
		return GOLD_NONE;
	if (rc != 0) {
		snprintf(err, errlen, "cannot read " GOLD_FILE ": %.400s",
		    lerr.msg);
		return GOLD_BAD;
	}
	if (*len > GOLD_MAX) {
		snprintf(err, errlen, GOLD_FILE " is larger than the 4 MiB the "
		    "server reads");
		free(data);
		return GOLD_BAD;
	}
	memset(st, 0, sizeof(*st));
	st->st_size = (off_t)*len;
	st->st_mtime = time(NULL);
	*buf = (char *)data;
	return GOLD_OK;
}

/*
 * Reads gold's JSON file into *buf (owned by the caller), with its stat.
 * GOLD_BAD with err filled when it exists but cannot be read whole.
 */
static gold_status
read_gold(server *s, char **buf, size_t *len, struct stat *st, char *err,
    size_t errlen)
{
	char path[4096];
	ssize_t n;
	int fd;

	*buf = NULL;
	if (s->lake_dir == NULL)
		return GOLD_NONE;
	if (gold_path(s, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "the lake's path is too long");
		return GOLD_BAD;
	}
	if (lake_store_is_remote(path))
		return read_gold_remote(path, buf, len, st, err, errlen);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return GOLD_NONE;
		snprintf(err, errlen, "cannot open " GOLD_FILE ": %s",
		    strerror(errno));
		return GOLD_BAD;
	}
	if (fstat(fd, st) == -1) {
		snprintf(err, errlen, "cannot stat " GOLD_FILE ": %s",
		    strerror(errno));
		close(fd);
		return GOLD_BAD;
	}
	if (st->st_size > GOLD_MAX) {
		snprintf(err, errlen, GOLD_FILE " is larger than the 4 MiB the "
		    "server reads");
		close(fd);
		return GOLD_BAD;
	}
	if ((*buf = malloc((size_t)st->st_size + 1)) == NULL) {
		snprintf(err, errlen, "out of memory reading " GOLD_FILE);
		close(fd);
		return GOLD_BAD;
	}
	n = read(fd, *buf, (size_t)st->st_size);
	close(fd);
	if (n != st->st_size) {
		snprintf(err, errlen, "cannot read " GOLD_FILE ": %s", n == -1 ?
		    strerror(errno) : "it changed size while read");
		free(*buf);
		*buf = NULL;
		return GOLD_BAD;
	}
	(*buf)[n] = '\0';
	*len = (size_t)n;
	return GOLD_OK;
}

/* One branch of gold, checked. Strings belong to the gold_doc's JSON. */
typedef struct gold_branch {
	const char *name;
	int64_t received;
	int64_t delivered;
	double avg, p50, p90;		/* hours; NAN when null */
	const char *first_order;	/* NULL when null */
	const char *last_order;
} gold_branch;

/* Gold as the schema describes it; only gold_parse makes one. */
typedef struct gold_doc {
	json_t *json;			/* owns every string below */
	const char *generated_at;
	int64_t silver_version;
	const char *xid_bound;		/* source_watermark's; NULL when */
	const char *snapshot_at;	/* null or absent (older gold) */
	const char *busiest;		/* NULL when null */
	int64_t busiest_orders;
	const char *fastest;		/* NULL when null */
	double fastest_hours;
	gold_branch *branches;
	size_t nbranches;
} gold_doc;

static void
gold_free(gold_doc *g)
{
	json_decref(g->json);
	free(g->branches);
	memset(g, 0, sizeof(*g));
}

/* Fills err with "where.key: what"; returns -1. */
static int
gold_fail(char *err, size_t errlen, const char *where, const char *key,
    const char *what)
{
	snprintf(err, errlen, "%s%s%s: %s", where, *where ? "." : "", key,
	    what);
	return -1;
}

/* o has each of keys' first nreq, may have the rest, and has no other
 * (the schema's additionalProperties false: a field serving does not
 * write is a contract change). */
static int
gold_keys(json_t *o, const char *where, const char *const *keys, size_t n,
    size_t nreq, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	size_t i;

	for (i = 0; i < nreq; i++)
		if (json_object_get(o, keys[i]) == NULL)
			return gold_fail(err, errlen, where, keys[i],
			    "missing");
	json_object_foreach(o, k, v) {
		for (i = 0; i < n && strcmp(k, keys[i]) != 0; i++)
			;
		if (i == n)
			return gold_fail(err, errlen, where, k, "not a field "
			    "of gold (the schema allows no other)");
	}
	return 0;
}

/* A count: an integer >= 0 (1.0 is an integer to JSON Schema too). */
static int
gold_count(json_t *o, const char *where, const char *key, int64_t *out,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	double d;

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && (d = json_real_value(v)) >= 0 &&
	    d == floor(d) && d < 9e18) {
		*out = (int64_t)d;
		return 0;
	}
	return gold_fail(err, errlen, where, key, "not an integer >= 0");
}

static int
gold_hours(json_t *o, const char *where, const char *key, int nullable,
    double *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (nullable && json_is_null(v)) {
		*out = NAN;
		return 0;
	}
	if (json_is_number(v) && json_number_value(v) >= 0) {
		*out = json_number_value(v);
		return 0;
	}
	return gold_fail(err, errlen, where, key, nullable ? "not a number "
	    ">= 0 or null" : "not a number >= 0");
}

/* Whether s has layout's shape: '9' stands for an ASCII digit, any other
 * character for itself (the schema's patterns, without a regex engine). */
static int
text_fits(const char *s, const char *layout)
{
	for (; *layout; s++, layout++) {
		if (*layout == '9' ? !(*s >= '0' && *s <= '9') : *s != *layout)
			return 0;
	}
	return *s == '\0';
}

static int
gold_text(json_t *o, const char *where, const char *key, const char *layout,
    int nullable, const char **out, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, key);
	char what[96];

	if (nullable && json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (json_is_string(v) && (layout == NULL ||
	    text_fits(json_string_value(v), layout))) {
		*out = json_string_value(v);
		return 0;
	}
	if (layout != NULL)
		snprintf(what, sizeof(what), "not a time laid out as %s%s",
		    layout, nullable ? " or null" : "");
	else
		snprintf(what, sizeof(what), "not a string");
	return gold_fail(err, errlen, where, key, what);
}

#define GENERATED_LAYOUT "9999-99-99T99:99:99Z"
#define SNAPSHOT_LAYOUT "9999-99-99T99:99:99.999999Z"
#define ORDER_TIME_LAYOUT "9999-99-99T99:99:99.999999"

/* units: always the same four texts, for people reading the file. */
static int
gold_units(json_t *doc, char *err, size_t errlen)
{
	static const char *const keys[] = { "avg_delivery_hours",
	    "p50_delivery_hours", "p90_delivery_hours", "timestamps" };
	static const char *const texts[] = { "hours", "hours (within 0.5%)",
	    "hours (within 0.5%)", "UTC, as stored in the source (no zone)" };
	json_t *u = json_object_get(doc, "units");

	if (!json_is_object(u))
		return gold_fail(err, errlen, "", "units", "not an object");
	if (gold_keys(u, "units", keys, 4, 4, err, errlen) == -1)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		const char *t = json_string_value(json_object_get(u, keys[i]));

		if (t == NULL || strcmp(t, texts[i]) != 0)
			return gold_fail(err, errlen, "units", keys[i],
			    "not the text serving writes");
	}
	return 0;
}

/*
 * source_watermark: null, or the source's xid8 bound (decimal digits, no
 * sign or leading zero) and the snapshot's time. Gold written before
 * watermarks has no such field: still valid, served with none.
 */
static int
gold_watermark(json_t *doc, gold_doc *g, char *err, size_t errlen)
{
	static const char *const keys[] = { "xid_bound", "snapshot_at" };
	static const char *const at = "source_watermark";
	json_t *w = json_object_get(doc, at);
	const char *x;

	if (w == NULL || json_is_null(w))
		return 0;
	if (!json_is_object(w))
		return gold_fail(err, errlen, "", at, "not an object or null");
	if (gold_keys(w, at, keys, 2, 2, err, errlen) == -1 ||
	    gold_text(w, at, "xid_bound", NULL, 0, &x, err, errlen) == -1 ||
	    gold_text(w, at, "snapshot_at", SNAPSHOT_LAYOUT, 0,
	    &g->snapshot_at, err, errlen) == -1)
		return -1;
	if (strlen(x) == 0 || strlen(x) > 20 || x[0] == '0' ||
	    strspn(x, "0123456789") != strlen(x))
		return gold_fail(err, errlen, at, "xid_bound", "not an xid8 "
		    "in decimal digits");
	g->xid_bound = x;
	return 0;
}

/* busiest_branch: null, or the branch and its orders. */
static int
gold_busiest(json_t *doc, gold_doc *g, char *err, size_t errlen)
{
	static const char *const keys[] = { "branch", "orders_received" };
	static const char *const at = "busiest_branch";
	json_t *b = json_object_get(doc, at);

	if (json_is_null(b))
		return 0;
	if (!json_is_object(b))
		return gold_fail(err, errlen, "", at, "not an object or null");
	if (gold_keys(b, at, keys, 2, 2, err, errlen) == -1 ||
	    gold_text(b, at, "branch", NULL, 0, &g->busiest, err, errlen) ==
	    -1 ||
	    gold_count(b, at, "orders_received", &g->busiest_orders, err,
	    errlen) == -1)
		return -1;
	return 0;
}

/* fastest_branch: null, or the branch and its average hours. */
static int
gold_fastest(json_t *doc, gold_doc *g, char *err, size_t errlen)
{
	static const char *const keys[] = { "branch", "avg_delivery_hours" };
	static const char *const at = "fastest_branch";
	json_t *f = json_object_get(doc, at);

	if (json_is_null(f))
		return 0;
	if (!json_is_object(f))
		return gold_fail(err, errlen, "", at, "not an object or null");
	if (gold_keys(f, at, keys, 2, 2, err, errlen) == -1 ||
	    gold_text(f, at, "branch", NULL, 0, &g->fastest, err, errlen) ==
	    -1 ||
	    gold_hours(f, at, "avg_delivery_hours", 0, &g->fastest_hours, err,
	    errlen) == -1)
		return -1;
	return 0;
}

static int
gold_branch_parse(json_t *o, const char *where, gold_branch *b, char *err,
    size_t errlen)
{
	static const char *const keys[] = { "branch", "orders_received",
	    "orders_delivered", "avg_delivery_hours", "p50_delivery_hours",
	    "p90_delivery_hours", "first_order_at", "last_order_at" };

	if (!json_is_object(o)) {
		snprintf(err, errlen, "%s: not an object", where);
		return -1;
	}
	if (gold_keys(o, where, keys, 8, 8, err, errlen) == -1 ||
	    gold_text(o, where, "branch", NULL, 0, &b->name, err, errlen) ==
	    -1 ||
	    gold_count(o, where, "orders_received", &b->received, err,
	    errlen) == -1 ||
	    gold_count(o, where, "orders_delivered", &b->delivered, err,
	    errlen) == -1 ||
	    gold_hours(o, where, "avg_delivery_hours", 1, &b->avg, err,
	    errlen) == -1 ||
	    gold_hours(o, where, "p50_delivery_hours", 1, &b->p50, err,
	    errlen) == -1 ||
	    gold_hours(o, where, "p90_delivery_hours", 1, &b->p90, err,
	    errlen) == -1 ||
	    gold_text(o, where, "first_order_at", ORDER_TIME_LAYOUT, 1,
	    &b->first_order, err, errlen) == -1 ||
	    gold_text(o, where, "last_order_at", ORDER_TIME_LAYOUT, 1,
	    &b->last_order, err, errlen) == -1)
		return -1;
	return 0;
}

static int
gold_branches(json_t *doc, gold_doc *g, char *err, size_t errlen)
{
	json_t *a = json_object_get(doc, "branches"), *o;
	char where[40];
	size_t i;

	if (!json_is_array(a))
		return gold_fail(err, errlen, "", "branches", "not an array");
	g->nbranches = json_array_size(a);
	if ((g->branches = calloc(g->nbranches + 1, sizeof(*g->branches))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_array_foreach(a, i, o) {
		snprintf(where, sizeof(where), "branches[%zu]", i);
		if (gold_branch_parse(o, where, &g->branches[i], err,
		    errlen) == -1)
			return -1;
	}
	return 0;
}

/*
 * Parses and checks gold against schemas/json/branch_metrics.schema.json.
 * 0 with *g filled (gold_free it), or -1 with err naming the field at
 * fault. Duplicated keys are refused, as tests/tools/jsonschema_check
 * refuses them.
 */
static int
gold_parse(const char *text, size_t len, gold_doc *g, char *err,
    size_t errlen)
{
	static const char *const keys[] = { "generated_at", "silver_version",
	    "units", "busiest_branch", "fastest_branch", "branches",
	    "source_watermark" };
	json_error_t je;

	memset(g, 0, sizeof(*g));
	if ((g->json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		snprintf(err, errlen, "not JSON: %s (line %d)", je.text,
		    je.line);
		return -1;
	}
	if (!json_is_object(g->json)) {
		snprintf(err, errlen, "not a JSON object");
		goto fail;
	}
	if (gold_keys(g->json, "", keys, 7, 6, err, errlen) == -1 ||
	    gold_text(g->json, "", "generated_at", GENERATED_LAYOUT, 0,
	    &g->generated_at, err, errlen) == -1 ||
	    gold_count(g->json, "", "silver_version", &g->silver_version, err,
	    errlen) == -1 ||
	    gold_watermark(g->json, g, err, errlen) == -1 ||
	    gold_units(g->json, err, errlen) == -1 ||
	    gold_busiest(g->json, g, err, errlen) == -1 ||
	    gold_fastest(g->json, g, err, errlen) == -1 ||
	    gold_branches(g->json, g, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	gold_free(g);
	return -1;
}

/* The message for gold that breaks its contract, for people. */
static void
gold_refusal(char *msg, size_t msglen, const char *why)
{
	snprintf(msg, msglen, GOLD_FILE " does not match its schema ("
	    GOLD_SCHEMA "): %s. The serving stage writes this file: run the "
	    "pipeline again (medallion-orchestrator run) to rewrite it.", why);
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

/*
 * A conditional GET of a gold already checked and unchanged since (the
 * same file, by gold_tag): 1 with the 304 in r, after one stat() and no
 * read. 0 when the request must be answered in full.
 */
static int
api_gold_unchanged(server *s, const api_request *req, api_response *r)
{
	char path[4096];
	struct stat st;

	if (req->if_none_match == NULL || s->lake_dir == NULL ||
	    gold_path(s, path, sizeof(path)) == -1 ||
	    lake_store_is_remote(path) || stat(path, &st) == -1 ||
	    !gold_tag_lookup(&s->gold_tag, &st, r->etag, sizeof(r->etag),
	    r->last_modified, sizeof(r->last_modified)))
		return 0;
	if (strstr(req->if_none_match, r->etag) == NULL) {
		r->etag[0] = r->last_modified[0] = '\0';
		return 0;
	}
	respond_text(r, 304, "application/json", strdup(""), 0);
	return 1;
}

static void
api_gold(server *s, const api_request *req, api_response *r)
{
	uint8_t digest[SHA256_DIGEST_LEN];
	char hex[17], why[512], msg[1024];
	struct stat st;
	struct tm tm;
	size_t len = 0;
	char *gold;
	gold_doc doc;

	if (api_gold_unchanged(s, req, r))
		return;
	switch (read_gold(s, &gold, &len, &st, why, sizeof(why))) {
	case GOLD_NONE:
		api_respond_error(r, 404, s->lake_dir == NULL ? "The server "
		    "has no lake (start it with --lake DIR)." : "No gold yet: "
		    "run the pipeline (medallion-orchestrator run).");
		return;
	case GOLD_BAD:
		api_respond_error(r, 500, why);
		return;
	case GOLD_OK:
		break;
	}
	if (gold_parse(gold, len, &doc, why, sizeof(why)) == -1) {
		free(gold);
		gold_refusal(msg, sizeof(msg), why);
		api_respond_error(r, 500, msg);
		return;
	}
	gold_free(&doc);	/* checked: the bytes go out as they are */
	sha256(gold, len, digest);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	snprintf(r->etag, sizeof(r->etag), "\"%s\"", hex);
	gmtime_r(&st.st_mtime, &tm);
	strftime(r->last_modified, sizeof(r->last_modified),
	    "%a, %d %b %Y %H:%M:%S GMT", &tm);
	gold_tag_store(&s->gold_tag, &st, r->etag, r->last_modified);
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
	",.error{color:#b3261e}.RUNNING{color:#3b6ea5}</style>";

/* A figure with two decimals, or "-" when there is none (null). */
static void
print_hours(FILE *f, double v)
{
	if (isnan(v))
		fputs("-", f);
	else
		fprintf(f, "%.2f", v);
}

static void
print_text_or_dash(FILE *f, const char *s)
{
	if (s == NULL)
		fputs("-", f);
	else
		html_escape(f, s);
}

static void
dashboard_answers(FILE *f, const gold_doc *g)
{
	fprintf(f, "<p class=\"sub\">gold computed at ");
	html_escape(f, g->generated_at);
	fprintf(f, " from silver version %" PRId64 "</p>\n",
	    g->silver_version);
	if (g->busiest != NULL) {
		fprintf(f, "<p class=\"answer\" id=\"busiest\">Busiest branch: "
		    "<b>");
		html_escape(f, g->busiest);
		fprintf(f, "</b>, %" PRId64 " orders received.</p>",
		    g->busiest_orders);
	}
	if (g->fastest != NULL) {
		fprintf(f, "<p class=\"answer\" id=\"fastest\">Fastest branch: "
		    "<b>");
		html_escape(f, g->fastest);
		fprintf(f, "</b>, %.2f hours from order to delivery on "
		    "average.</p>\n", g->fastest_hours);
	}
}

static void
dashboard_table(FILE *f, const gold_doc *g)
{
	fprintf(f, "<table id=\"metrics\"><tr><th>branch</th><th>orders "
	    "received</th><th>orders delivered</th><th>avg hours</th><th>p50 "
	    "hours</th><th>p90 hours</th><th>first order</th><th>last order"
	    "</th></tr>\n");
	for (size_t i = 0; i < g->nbranches; i++) {
		const gold_branch *b = &g->branches[i];

		fprintf(f, "<tr><td>");
		html_escape(f, b->name);
		fprintf(f, "</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>",
		    b->received, b->delivered);
		print_hours(f, b->avg);
		fprintf(f, "</td><td>");
		print_hours(f, b->p50);
		fprintf(f, "</td><td>");
		print_hours(f, b->p90);
		fprintf(f, "</td><td>");
		print_text_or_dash(f, b->first_order);
		fprintf(f, "</td><td>");
		print_text_or_dash(f, b->last_order);
		fprintf(f, "</td></tr>\n");
	}
	fprintf(f, "</table>\n");
}

/* The answers, both charts and the table; -1 when out of memory. */
static int
dashboard_body(FILE *f, const gold_doc *g)
{
	bar *orders = calloc(g->nbranches + 1, sizeof(bar));
	bar *speed = calloc(g->nbranches + 1, sizeof(bar));
	size_t nd = 0;

	if (orders == NULL || speed == NULL) {
		free(orders);
		free(speed);
		return -1;
	}
	for (size_t i = 0; i < g->nbranches; i++) {
		orders[i].label = g->branches[i].name;
		orders[i].value = (double)g->branches[i].received;
		if (!isnan(g->branches[i].avg)) {
			speed[nd].label = g->branches[i].name;
			speed[nd++].value = g->branches[i].avg;
		}
	}
	qsort(orders, g->nbranches, sizeof(bar), cmp_bar_desc);
	qsort(speed, nd, sizeof(bar), cmp_bar_asc);
	dashboard_answers(f, g);
	svg_bars(f, "orders-chart", "Orders received per branch", orders,
	    g->nbranches, "orders", 0);
	svg_bars(f, "delivery-chart", "Average delivery time per branch "
	    "(fastest first)", speed, nd, "h", 2);
	dashboard_table(f, g);
	free(orders);
	free(speed);
	return 0;
}

/* The dashboard's content for gold in whatever state it is; the HTTP
 * status: 200, or 500 when gold is unreadable or breaks its contract. */
static int
dashboard_content(server *s, FILE *f)
{
	char why[512], msg[1024], *text;
	struct stat st;
	size_t len = 0;
	gold_doc g;
	int status = 200;

	switch (read_gold(s, &text, &len, &st, why, sizeof(why))) {
	case GOLD_NONE:
		fprintf(f, "<p id=\"empty\">No gold yet: run the pipeline "
		    "(<code>medallion-orchestrator run</code>).</p>");
		return 200;
	case GOLD_BAD:
		fprintf(f, "<p class=\"error\" id=\"gold-error\">Cannot show "
		    "gold: ");
		html_escape(f, why);
		fprintf(f, "</p>");
		return 500;
	case GOLD_OK:
		break;
	}
	if (gold_parse(text, len, &g, why, sizeof(why)) == -1) {
		gold_refusal(msg, sizeof(msg), why);
		fprintf(f, "<p class=\"error\" id=\"gold-error\">");
		html_escape(f, msg);
		fprintf(f, "</p>");
		status = 500;
	} else {
		if (dashboard_body(f, &g) == -1) {
			fprintf(f, "<p class=\"error\" id=\"gold-error\">Out of "
			    "memory drawing the dashboard.</p>");
			status = 500;
		}
		gold_free(&g);
	}
	free(text);
	return status;
}

/*
 * The live dashboard's script. It polls with If-None-Match, so an
 * unchanged gold costs a 304 with no body; any other answer (new gold,
 * gold gone or broken) that differs from the last one seen fetches the
 * server's rendering of it. URLs are relative, so the page also works
 * behind a proxy that mounts the server under a path. A failed poll is
 * said on the page and retried; the numbers shown stay as they were.
 * Browsers slow timers in hidden tabs, which slows the polling with them.
 */
static const char *dashboard_script =
	"<script>(function(){"
	"var box=document.getElementById('gold'),"
	"live=document.getElementById('live'),etag=null,seen=null;"
	"function say(t){live.textContent=t;}"
	"function show(key,tag){"
	"return fetch('" DASHBOARD_PART_REL "',{cache:'no-store'})"
	".then(function(r){return r.text();})"
	".then(function(t){box.innerHTML=t;seen=key;etag=tag;});}"
	"function tick(){"
	"var h={};if(etag)h['If-None-Match']=etag;"
	"fetch('api/gold',{cache:'no-store',headers:h})"
	".then(function(r){"
	"if(r.status===304)return;"
	"var tag=r.status===200&&r.headers.get('ETag')||null,"
	"key=r.status+' '+tag;"
	"if(key!==seen)return show(key,tag);})"
	".then(function(){say('live: updates as gold changes');},"
	"function(){say('cannot reach the server: retrying');})"
	".then(function(){setTimeout(tick,500);});}"
	"tick();})();</script>";

/*
 * The dashboard: with whole_page, the page (head, live status line, gold
 * in #gold, links, script); else what #gold holds, alone, which the live
 * page swaps in.
 */
static void
dashboard(server *s, api_response *r, int whole_page)
{
	char *html = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&html, &len);
	int status;

	if (f == NULL) {
		api_respond_error(r, 500, "cannot render the dashboard");
		return;
	}
	if (whole_page)
		fprintf(f, "<!doctype html><html lang=\"en\"><head><meta "
		    "charset=\"utf-8\"><noscript><meta http-equiv=\"refresh\" "
		    "content=\"30\"></noscript><title>Branches performance"
		    "</title>%s</head><body><h1>Branches performance</h1>\n"
		    "<p class=\"sub\" id=\"live\"><noscript>refreshes every "
		    "30 s</noscript></p>\n<div id=\"gold\">", page_style);
	status = dashboard_content(s, f);
	if (whole_page)
		fprintf(f, "</div>\n<p><a href=\"/ui\">operations</a> &middot; "
		    "<a href=\"/api/gold\">gold as JSON</a></p>%s</body></html>"
		    "\n", dashboard_script);
	fclose(f);
	respond_text(r, status, "text/html; charset=utf-8", html, len);
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
run_row(FILE *f, const orch_run_record *r)
{
	char started[40];

	fmt_time(r->started_at, started, sizeof(started));
	fprintf(f, "<tr><td>%" PRId64 "</td><td>", r->run_id);
	html_escape(f, r->pipeline);
	fprintf(f, "</td><td>");
	html_escape(f, r->trigger);
	fprintf(f, "</td><td>%s</td><td>%.2f</td><td class=\"", started,
	    r->ended_at > r->started_at ? (r->ended_at - r->started_at) /
	    1e6 : 0.0);
	html_escape(f, r->state);
	fprintf(f, "\">");
	html_escape(f, r->state);
	fprintf(f, "</td><td>");
	if (r->has_exit_code)
		fprintf(f, "%d", r->exit_code);
	else
		fputs("-", f);
	fprintf(f, "</td><td>");
	html_escape(f, r->message);
	fprintf(f, "</td></tr>\n");
}

static void
history_message(FILE *f, const char *what, const char *why)
{
	fprintf(f, "<p class=\"error\" id=\"history-error\">%s: ", what);
	html_escape(f, why);
	fprintf(f, "</p>");
}

/* The orchestrator's newest runs, read through its history interface:
 * a history this server cannot read is said on the page, not fatal. */
static void
runs_table(server *s, FILE *f)
{
	orch_history_error code;
	orch_run_list runs;
	orch_history *h;
	char err[1024];

	if (s->history_path == NULL) {
		fprintf(f, "<p>Start the server with <code>--history FILE"
		    "</code> to show the orchestrator's runs.</p>");
		return;
	}
	if ((h = orch_history_open_readonly(s->history_path, &code, err,
	    sizeof(err))) == NULL) {
		if (code == ORCH_HISTORY_MISSING)
			fprintf(f, "<p>No pipeline runs yet.</p>");
		else
			history_message(f, "Cannot show the pipeline runs",
			    err);
		return;
	}
	if (orch_history_list(h, HISTORY_RUNS_SHOWN, &runs, err,
	    sizeof(err)) == -1) {
		history_message(f, "Cannot show the pipeline runs", err);
		orch_history_close(h);
		return;
	}
	orch_history_close(h);
	if (runs.n == 0) {
		fprintf(f, "<p>No pipeline runs yet.</p>");
		return;
	}
	fprintf(f, "<table id=\"runs\"><tr><th>run</th><th>pipeline</th>"
	    "<th>trigger</th><th>started</th><th>seconds</th><th>state</th>"
	    "<th>exit</th><th>message</th></tr>\n");
	for (size_t i = 0; i < runs.n; i++)
		run_row(f, &runs.runs[i]);
	fprintf(f, "</table>\n");
	orch_run_list_free(&runs);
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
	return is_dashboard_page(req) || strcmp(req->path, "/api/gold") == 0 ||
	    strcmp(req->path, DASHBOARD_PART) == 0;
}

int
web_handle(server *s, const api_request *req, api_response *resp)
{
	int page = is_dashboard_page(req);
	int part = strcmp(req->path, DASHBOARD_PART) == 0;
	int ui = strcmp(req->path, "/ui") == 0;
	int gold = strcmp(req->path, "/api/gold") == 0;

	if (!page && !part && !ui && !gold)
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
	else if (part)
		dashboard(s, resp, 0);
	else
		dashboard(s, resp, 1);
	return 1;
}
