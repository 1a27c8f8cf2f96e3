/*
 * transformation.c - the transformation stage: bronze -> silver.
 *
 * Each run reads only the bronze commits newer than the ones silver last
 * consumed (txn appIds "transformation:orders" and
 * "transformation:ordershistory" in silver's own log), joins each new
 * history event with its order, and sorts it with validate.c's rules:
 * NEW and DELIVERED events go to silver/allorders, INTRANSIT is dropped,
 * broken events go to
 * silver/rejected with a reason, and events whose order has not arrived
 * wait: their ids and the oldest bronze version holding them are kept
 * with silver's commit as a typed object (catalog_pending.h), and the
 * next run reads them again. That state is read from the transformation's
 * own last commit, looking past compactions, which commit to silver
 * too; a malformed state stops the run (exit 1) instead of forgetting
 * the events.
 *
 * Silver's commit also records the source snapshot it reflects
 * (catalog_watermark.h): the bronze tables' watermarks at the versions
 * it read up to, the lower of the two (an event is joined only when
 * both its row and its order's are in), and never below silver's
 * previous watermark (silver only grows, so what it reflected it still
 * does). A bronze commit without one (written before watermarks) leaves
 * silver with only its previous one; a malformed one stops the run.
 *
 * The orders a batch needs are loaded from the bronze files whose orderid
 * statistics can hold them, and the events silver already has for those
 * orders (for duplicate checks) from the silver files likewise, so a run
 * costs in proportion to its new data. A small batch names a few orders
 * scattered over the ids of every still-open order: it looks them up as
 * a sorted set of ids (a file or row group is read only when one of them
 * falls within its [min, max]), not as one range, which would span
 * nearly every recent file. commitInfo's numOrderFilesRead and
 * numSilverFilesRead count the files opened for it.
 *
 * Silver is not partitioned: the event's date is a column, and each run
 * adds one file per worker, in arrival order, so its row groups' orderid
 * and date statistics stay narrow and let readers skip. (A date
 * partition per file would make an increment spread over many days
 * cost a file per day, however few its rows: Delta's own advice is not
 * to partition tables this small.)
 *
 * Atomicity: a run is numbered (txn "transformation" = run). Rejected
 * rows are committed first, tagged with the run in their file names; then
 * silver, with all bookmarks and the pending events, in one commit. A run that dies between the
 * two is redone: the redo removes the dead attempt's rejected files in
 * the same commit that adds its own, so nothing is counted twice.
 *
 * Exit status: 0 done (also when nothing was new), 1 failure, 2 usage.
 */
#include <malloc.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog.h"
#include "catalog_pending.h"
#include "catalog_watermark.h"
#include "clock.h"
#include "days.h"
#include "delta.h"
#include "lake.h"
#include "log.h"
#include "order_index.h"
#include "stage_frame.h"
#include "validate.h"

/*
 * The columns each scan reads (indexes of the catalog's enums), in the
 * order its batches hold them; the enums name the batch positions.
 * Pass 1 reads the first two event columns, pass 2 all four.
 */
enum { EV_HISTORYID, EV_ORDERID, EV_STATUS, EV_UPDATEDAT, EV_NCOLS };
static const int event_cols[EV_NCOLS] = {
	[EV_HISTORYID] = BRONZE_HISTORY_HISTORYID,
	[EV_ORDERID] = BRONZE_HISTORY_ORDERID,
	[EV_STATUS] = BRONZE_HISTORY_STATUS,
	[EV_UPDATEDAT] = BRONZE_HISTORY_UPDATEDAT,
};
enum { ORD_ORDERID, ORD_ORDERTIME, ORD_BRANCH, ORD_NCOLS };
static const int order_cols[ORD_NCOLS] = {
	[ORD_ORDERID] = BRONZE_ORDERS_ORDERID,
	[ORD_ORDERTIME] = BRONZE_ORDERS_ORDERTIME,
	[ORD_BRANCH] = BRONZE_ORDERS_BRANCH,
};
enum { FLAG_ORDERID, FLAG_STATUS, FLAG_NCOLS };
static const int flag_cols[FLAG_NCOLS] = {
	[FLAG_ORDERID] = SILVER_ORDERID,
	[FLAG_STATUS] = SILVER_STATUS,
};

/* A DELIVERED event seen before its order's NEW in the same batch. */
typedef struct deferred {
	int32_t historyid;
	int32_t orderid;
	int64_t updatedat;
} deferred;

typedef struct ids {
	int32_t *v;
	size_t n;
	size_t cap;
} ids;

struct tx_run;

/*
 * One worker sorts the events of the orders whose id has its parity (or
 * all of them when it works alone): an order's events all meet the same
 * worker, so its flags need no locks and duplicates are caught exactly as
 * with one thread. Each worker has its own writers and counters.
 */
typedef struct tx_worker {
	struct tx_run *r;
	int parity;		/* -1: every event */
	lake_writer *silver_w;
	lake_writer *rejected_w;
	deferred *deferred;
	size_t ndeferred;
	size_t deferred_cap;
	ids still_pending;
	int64_t still_pending_from;
	int64_t counts[V_COUNT];
	int64_t events_read;
	int rc;
	lake_err err;
} tx_worker;

#define MAX_WORKERS 2
/* Batches of this many events may use a dense index over ids they do
 * not all name (see init_index). */
#define DENSE_SLACK_FROM_ROWS 4096
#define DENSE_SLACK_IDS 65536
#define SILVER_ROW_GROUP_BYTES (8u << 20)

typedef struct tx_run {
	char bronze_orders[4096];
	char bronze_history[4096];
	char silver[4096];
	char rejected[4096];
	const char *event_names[EV_NCOLS];	/* projections (see
						   event_cols) */
	const char *order_names[ORD_NCOLS];
	const char *flag_names[FLAG_NCOLS];
	delta_snapshot *silver_snap;
	int64_t run;		/* this run's number */
	int64_t orders_from;	/* bronze versions already consumed */
	int64_t history_from;
	int64_t orders_to;	/* bronze versions this run reads up to */
	int64_t history_to;
	int64_t pending_from;	/* pending events live after this version */
	ids pending;		/* sorted historyids still waiting */
	catalog_watermark wm;	/* the source bound silver reflects */
	int has_wm;		/* 0: none known (catalog_watermark.h) */
	ids still_pending;	/* merged from the workers */
	int64_t still_pending_from;
	delta_file *history_files;
	size_t nhistory_files;
	order_index ix;
	int64_t *order_keys;	/* the batch's orderids, sorted; NULL when
				   the index is dense (a range) */
	size_t norder_keys;
	int64_t order_files_read;	/* bronze/orders files opened */
	int64_t silver_files_read;	/* silver files opened for flags */
	tx_worker workers[MAX_WORKERS];
	int nworkers;
	int64_t counts[V_COUNT];
	int64_t events_read;
	lake_err *err;
} tx_run;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: transformation [--lake DIR] [-v]\n"
	    "\n"
	    "Joins new bronze history events with their orders into "
	    "DIR/silver/allorders\n(NEW and DELIVERED events), rejects broken "
	    "events into DIR/silver/rejected,\nand lets events whose order has "
	    "not arrived wait for the next run.\n"
	    "\n"
	    "  --lake DIR    lake root (default: $MEDALLION_LAKE)\n"
	    "  -v            more logging\n"
	    "  -h, --help    this help\n"
	    "\n"
	    "exit status: 0 ok (also when nothing was new), 1 error, 2 usage\n");
}

static int
ids_push(ids *s, int32_t v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		int32_t *p = realloc(s->v, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
	return 0;
}

static int
cmp_i32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int
ids_has(const ids *s, int32_t v)
{
	return s->n > 0 && bsearch(&v, s->v, s->n, sizeof(int32_t),
	    cmp_i32) != NULL;
}

static void
run_free(tx_run *r)
{
	delta_snapshot_free(r->silver_snap);
	delta_files_free(r->history_files, r->nhistory_files);
	order_index_free(&r->ix);
	free(r->order_keys);
	for (int k = 0; k < r->nworkers; k++) {
		tx_worker *w = &r->workers[k];

		if (w->silver_w != NULL)
			lake_writer_abort(w->silver_w);
		if (w->rejected_w != NULL)
			lake_writer_abort(w->rejected_w);
		free(w->deferred);
		free(w->still_pending.v);
	}
	free(r->pending.v);
	free(r->still_pending.v);
}

/* --- state --------------------------------------------------------- */

/* The one message of a bad pending state: table, version, what. */
static void
malformed(lake_err *err, const tx_run *r, int64_t version, const char *fmt,
    ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	lake_err_set(err, "%s version %" PRId64 ": pending state is "
	    "malformed: %s", r->silver, version, why);
}

/*
 * Finds the transformation's last commit to silver, at or before
 * version, and reads its pending events into *p and its source
 * watermark into r->wm: the newest commits may be compactions, which
 * carry neither. Returns 0, or -1 with err
 * naming the table and version: a commit that cannot be read, a state
 * that is malformed or belongs to another run, or no commit of the
 * transformation left in the log.
 */
static int
find_pending(tx_run *r, int64_t version, catalog_pending *p, lake_err *err)
{
	catalog_watermark_found wm = CATALOG_WM_NONE;
	char why[256];

	for (int64_t v = version; v >= 0; v--) {
		lake_err e = { 0 };
		char *info = delta_commit_info(r->silver, v, &e);
		int rc;

		if (info == NULL && e.kind == LAKE_ERR_IO) {
			lake_err_set(err, "%s version %" PRId64 ": cannot read "
			    "the commit that holds the pending events: %s",
			    r->silver, v, e.msg);
			return -1;
		}
		if (info == NULL)
			continue;	/* no commitInfo: not ours */
		rc = catalog_pending_parse(info, p, why, sizeof(why));
		if (rc == 1 && (wm = catalog_watermark_parse(info,
		    "transformation", &r->wm, why, sizeof(why))) ==
		    CATALOG_WM_MALFORMED) {
			free(info);
			catalog_pending_free(p);
			lake_err_set(err, "%s version %" PRId64 ": source "
			    "watermark is malformed: %s", r->silver, v, why);
			return -1;
		}
		free(info);
		if (rc == 0)
			continue;
		if (rc == -1) {
			malformed(err, r, v, "%s", why);
			return -1;
		}
		r->has_wm = wm == CATALOG_WM_FOUND;
		if (p->run != r->run - 1)
			malformed(err, r, v, "it is run %" PRId64 "'s, but the "
			    "table's last run is %" PRId64, p->run, r->run - 1);
		else if (p->from > r->history_from)
			malformed(err, r, v, "pendingFrom %" PRId64 " is past "
			    "the bronze history consumed (%" PRId64 ")",
			    p->from, r->history_from);
		else
			return 0;
		catalog_pending_free(p);
		return -1;
	}
	lake_err_set(err, "%s: no commit of the transformation at or before "
	    "version %" PRId64 " is left in the log, so its pending events "
	    "are unknown", r->silver, version);
	return -1;
}

/*
 * The watermark of bronze table dir at version: the one its ingestion
 * commit at or before it carries (a compaction carries none). *found is
 * 0 when the ingestion's commit has none (written before watermarks),
 * or when the log no longer holds it (log retention): the caller then
 * keeps silver's previous watermark, which stays true. Returns 0, or -1
 * with err naming the table and version of a malformed one.
 */
static int
bronze_watermark(const char *dir, int64_t version, catalog_watermark *out,
    int *found, lake_err *err)
{
	int rc = catalog_watermark_find(dir, version, 0, "ingestion", out,
	    found, err);

	if (rc == CATALOG_WM_FIND_UNREADABLE) {
		log_warnx("%s; silver keeps its previous source watermark",
		    err->msg);
		*found = 0;
		return 0;
	}
	return rc == -1 ? -1 : 0;
}

/*
 * Silver's watermark after this run (see the top of this file): the
 * lower of the bronze tables', or the previous one if that is higher or
 * either table's is unknown.
 */
static int
run_watermark(tx_run *r, lake_err *err)
{
	catalog_watermark o, h, *low;
	int has_o = 0, has_h = 0;

	if (r->orders_to < 0)
		return 0;
	if (bronze_watermark(r->bronze_orders, r->orders_to, &o, &has_o,
	    err) == -1 || bronze_watermark(r->bronze_history, r->history_to,
	    &h, &has_h, err) == -1)
		return -1;
	if (!has_o || !has_h)
		return 0;
	low = o.xid_bound <= h.xid_bound ? &o : &h;
	if (!r->has_wm || low->xid_bound > r->wm.xid_bound) {
		r->wm = *low;
		r->has_wm = 1;
	}
	return 0;
}

/* Reads silver's bookmarks and the pending events of its last run. */
static int
load_state(tx_run *r, lake_err *err)
{
	catalog_pending p;
	int rc;

	r->orders_from = r->history_from = -1;
	r->pending_from = -1;
	rc = delta_snapshot_load(r->silver, -1, &r->silver_snap, err);
	if (rc == DELTA_NO_TABLE) {
		r->run = 1;
		return 0;
	}
	if (rc != DELTA_OK)
		return -1;
	r->run = delta_snapshot_txn_version(r->silver_snap,
	    CATALOG_APP_TRANSFORMATION) + 1;
	r->orders_from = delta_snapshot_txn_version(r->silver_snap,
	    CATALOG_APP_TRANSFORMATION_ORDERS);
	r->history_from = delta_snapshot_txn_version(r->silver_snap,
	    CATALOG_APP_TRANSFORMATION_HISTORY);
	if (find_pending(r, r->silver_snap->version, &p, err) == -1)
		return -1;
	r->pending_from = p.n > 0 ? p.from : -1;
	r->pending.v = p.ids;	/* ascending, as ids_has needs */
	r->pending.n = r->pending.cap = p.n;
	return 0;
}

/* Whether row i of a history file belongs to this batch. */
static int
in_batch(const tx_run *r, const delta_file *f, int32_t historyid)
{
	if (f->added_in_version > r->history_from)
		return 1;
	return ids_has(&r->pending, historyid);
}

/* --- pass 1: the orders the batch names ---------------------------- */

static int
collect_orderids(const pq_batch *b, const delta_file *f, void *arg)
{
	tx_run *r = arg;
	const pq_column_batch *hid = &b->cols[EV_HISTORYID];
	const pq_column_batch *oid = &b->cols[EV_ORDERID];

	for (int64_t i = 0; i < b->nrows; i++) {
		if ((oid->nulls && oid->nulls[i]) || (hid->nulls &&
		    hid->nulls[i]) || !in_batch(r, f, hid->v.i32[i]))
			continue;
		if (oid->v.i32[i] != 0 &&
		    order_index_add(&r->ix, oid->v.i32[i]) == NULL) {
			lake_err_set(r->err, "out of memory indexing orders");
			return -1;
		}
	}
	return 0;
}

/* The orderid range a file's statistics promise, or 0 when unknown. */
static int
file_orderid_range(const delta_file *f, int64_t *lo, int64_t *hi)
{
	return delta_file_int_range(f, "orderid", lo, hi);
}

static int
load_orders_cb(const pq_batch *b, const delta_file *f, void *arg)
{
	tx_run *r = arg;
	const pq_column_batch *oid = &b->cols[ORD_ORDERID];
	const pq_column_batch *ot = &b->cols[ORD_ORDERTIME];
	const pq_column_batch *br = &b->cols[ORD_BRANCH];

	(void)f;
	for (int64_t i = 0; i < b->nrows; i++) {
		order_entry *e;
		int branch;

		if (oid->nulls && oid->nulls[i])
			continue;
		if ((e = order_index_get(&r->ix, oid->v.i32[i])) == NULL)
			continue;
		if ((ot->nulls && ot->nulls[i]) || (br->nulls && br->nulls[i]))
			continue;	/* an order without time or branch */
		branch = order_index_branch(&r->ix, br->data + br->offsets[i],
		    br->offsets[i + 1] - br->offsets[i]);
		if (branch < 0) {
			lake_err_set(r->err, "out of memory for branch names");
			return -1;
		}
		e->known = 1;
		e->ordertime = ot->v.i64[i];
		e->branch = (uint16_t)branch;
	}
	return 0;
}

static int
silver_flags_cb(const pq_batch *b, const delta_file *f, void *arg)
{
	tx_run *r = arg;
	const pq_column_batch *oid = &b->cols[FLAG_ORDERID];
	const pq_column_batch *st = &b->cols[FLAG_STATUS];

	(void)f;
	for (int64_t i = 0; i < b->nrows; i++) {
		order_entry *e;
		const char *s;
		uint32_t n;

		if ((oid->nulls && oid->nulls[i]) || (st->nulls &&
		    st->nulls[i]) || (e = order_index_get(&r->ix,
		    oid->v.i32[i])) == NULL)
			continue;
		s = st->data + st->offsets[i];
		n = st->offsets[i + 1] - st->offsets[i];
		if (n == 3 && memcmp(s, "NEW", 3) == 0)
			e->flags |= ORDER_HAS_NEW;
		else if (n == 9 && memcmp(s, "DELIVERED", 9) == 0)
			e->flags |= ORDER_HAS_DELIVERED;
	}
	return 0;
}

/*
 * The batch's orderids as a sorted array, for point lookups. A dense
 * index stands for its whole range and needs none.
 */
static int
collect_order_keys(tx_run *r, lake_err *err)
{
	size_t n = 0;

	if (r->ix.dense || r->ix.n == 0)
		return 0;
	if ((r->order_keys = malloc(r->ix.n * sizeof(int64_t))) == NULL) {
		lake_err_set(err, "out of memory for %zu order ids", r->ix.n);
		return -1;
	}
	for (size_t i = 0; i < r->ix.nslots && n < r->ix.n; i++)
		if (r->ix.slots[i].orderid != 0)
			r->order_keys[n++] = r->ix.slots[i].orderid;
	qsort(r->order_keys, n, sizeof(int64_t), cmp_i64);
	r->norder_keys = n;
	return 0;
}

/*
 * Reads the files of one table (snap) that may hold the batch's orders,
 * with cb; *nread counts the files opened.
 */
static int
scan_for_orders(tx_run *r, const delta_snapshot *snap,
    const lake_lookup *lookup, const char *const *cols, int ncols,
    int (*cb)(const pq_batch *, const delta_file *, void *), int64_t *nread,
    lake_err *err)
{
	delta_file *sel;
	size_t n;
	int rc;

	if ((sel = lake_files_for_lookup(snap, lookup, &n)) == NULL) {
		lake_err_set(err, "out of memory choosing files of %s",
		    snap->table_dir);
		return -1;
	}
	log_debug("%s: reading %zu of %zu files for %zu orders",
	    snap->table_dir, n, snap->nfiles, r->order_keys != NULL ?
	    r->norder_keys : r->ix.n);
	*nread += (int64_t)n;
	rc = lake_scan_lookup(snap->table_dir, sel, n, cols, ncols, lookup,
	    cb, r, err);
	free(sel);
	return rc;
}

/* Loads the batch's orders from bronze and their flags from silver. */
static int
load_orders(tx_run *r, lake_err *err)
{
	delta_snapshot *orders = NULL;
	lake_lookup lookup = { { r->order_names[ORD_ORDERID], 0, 0 }, NULL,
		0 };
	int32_t lo, hi;
	int rc;

	if (!order_index_range(&r->ix, &lo, &hi))
		return 0;
	if (collect_order_keys(r, err) == -1)
		return -1;
	lookup.range.lo = lo;
	lookup.range.hi = hi;
	lookup.keys = r->order_keys;
	lookup.nkeys = r->norder_keys;
	rc = delta_snapshot_load(r->bronze_orders, r->orders_to, &orders, err);
	if (rc == DELTA_ERROR)
		return -1;
	if (orders != NULL) {
		rc = scan_for_orders(r, orders, &lookup, r->order_names,
		    ORD_NCOLS,
		    load_orders_cb, &r->order_files_read, err);
		delta_snapshot_free(orders);
		if (rc == -1)
			return -1;
	}
	/* Silver's orderid has bronze's name: one lookup serves both. */
	if (r->silver_snap != NULL && scan_for_orders(r, r->silver_snap,
	    &lookup, r->flag_names, FLAG_NCOLS, silver_flags_cb,
	    &r->silver_files_read, err) == -1)
		return -1;
	return 0;
}

/* --- pass 2: sorting the events ------------------------------------ */

static int
emit_silver(tx_worker *w, const order_entry *e, int32_t historyid,
    const char *status, uint32_t slen, int64_t updatedat)
{
	tx_run *r = w->r;
	pq_value v[SILVER_NCOLS];

	memset(v, 0, sizeof(v));
	v[SILVER_ORDERID].v.i32 = e->orderid;
	v[SILVER_ORDERTIME].v.i64 = e->ordertime;
	v[SILVER_BRANCH].v.s.ptr = r->ix.branches[e->branch];
	v[SILVER_BRANCH].v.s.len = r->ix.branch_len[e->branch];
	v[SILVER_HISTORYID].v.i32 = historyid;
	v[SILVER_STATUS].v.s.ptr = status;
	v[SILVER_STATUS].v.s.len = slen;
	v[SILVER_UPDATEDAT].v.i64 = updatedat;
	v[SILVER_DATE].v.i32 = (int32_t)day_of_micros(updatedat);
	return lake_writer_append(w->silver_w, NULL, v, &w->err);
}

static int
emit_rejected(tx_worker *w, const order_entry *e, int32_t historyid,
    int32_t orderid, int orderid_null, const char *status, uint32_t slen,
    int status_null, int64_t updatedat, int updatedat_null, verdict why)
{
	tx_run *r = w->r;
	const char *reason = verdict_reason(why);
	pq_value v[REJECTED_NCOLS];

	memset(v, 0, sizeof(v));
	v[REJECTED_HISTORYID].v.i32 = historyid;
	v[REJECTED_ORDERID].is_null = orderid_null;
	v[REJECTED_ORDERID].v.i32 = orderid;
	v[REJECTED_STATUS].is_null = status_null;
	v[REJECTED_STATUS].v.s.ptr = status;
	v[REJECTED_STATUS].v.s.len = slen;
	v[REJECTED_UPDATEDAT].is_null = updatedat_null;
	v[REJECTED_UPDATEDAT].v.i64 = updatedat;
	v[REJECTED_ORDERTIME].is_null = e == NULL || !e->known;
	v[REJECTED_BRANCH].is_null = e == NULL || !e->known;
	if (e != NULL && e->known) {
		v[REJECTED_ORDERTIME].v.i64 = e->ordertime;
		v[REJECTED_BRANCH].v.s.ptr = r->ix.branches[e->branch];
		v[REJECTED_BRANCH].v.s.len = r->ix.branch_len[e->branch];
	}
	v[REJECTED_REASON].v.s.ptr = reason;
	v[REJECTED_REASON].v.s.len = (uint32_t)strlen(reason);
	v[REJECTED_RUN].v.i64 = r->run;
	w->counts[why]++;
	return lake_writer_append(w->rejected_w, NULL, v, &w->err);
}

static int
defer_event(tx_worker *w, int32_t historyid, int32_t orderid,
    int64_t updatedat)
{
	if (w->ndeferred == w->deferred_cap) {
		size_t cap = w->deferred_cap ? w->deferred_cap * 2 : 64;
		deferred *p = realloc(w->deferred, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		w->deferred = p;
		w->deferred_cap = cap;
	}
	w->deferred[w->ndeferred].historyid = historyid;
	w->deferred[w->ndeferred].orderid = orderid;
	w->deferred[w->ndeferred].updatedat = updatedat;
	w->ndeferred++;
	return 0;
}

static int
sort_events_cb(const pq_batch *b, const delta_file *f, void *arg)
{
	tx_worker *w = arg;
	tx_run *r = w->r;
	const pq_column_batch *hid = &b->cols[EV_HISTORYID];
	const pq_column_batch *oid = &b->cols[EV_ORDERID];
	const pq_column_batch *st = &b->cols[EV_STATUS];
	const pq_column_batch *up = &b->cols[EV_UPDATEDAT];

	for (int64_t i = 0; i < b->nrows; i++) {
		int oid_null = oid->nulls && oid->nulls[i];
		int st_null = st->nulls && st->nulls[i];
		int up_null = up->nulls && up->nulls[i];
		int32_t historyid = hid->v.i32[i];
		const char *s = st->data + st->offsets[i];
		uint32_t slen = st->offsets[i + 1] - st->offsets[i];
		order_entry *e;
		verdict v;
		int rc = 0;

		if (w->parity >= 0 && (oid_null ? 0 : (int)(oid->v.i32[i] &
		    1)) != w->parity)
			continue;
		if ((hid->nulls && hid->nulls[i]) || !in_batch(r, f, historyid))
			continue;
		w->events_read++;
		e = oid_null ? NULL : order_index_get(&r->ix, oid->v.i32[i]);
		if (st_null || up_null) {
			v = V_UNKNOWN_STATUS;
		} else {
			uint8_t none = 0;

			v = validate_event(s, slen, e != NULL && e->known,
			    e ? &e->flags : &none, up->v.i64[i],
			    e ? e->ordertime : 0, 0);
		}
		switch (v) {
		case V_KEEP:
			w->counts[v]++;
			rc = emit_silver(w, e, historyid, s, slen,
			    up->v.i64[i]);
			break;
		case V_DROP:
			w->counts[v]++;
			break;
		case V_WAIT:
			w->counts[v]++;
			rc = ids_push(&w->still_pending, historyid);
			if (f->added_in_version - 1 < w->still_pending_from)
				w->still_pending_from = f->added_in_version -
				    1;
			break;
		case V_DEFER:
			rc = defer_event(w, historyid, oid->v.i32[i],
			    up->v.i64[i]);
			break;
		default:
			rc = emit_rejected(w, e, historyid, oid_null ? 0 :
			    oid->v.i32[i], oid_null, s, slen, st_null,
			    up_null ? 0 : up->v.i64[i], up_null, v);
			break;
		}
		if (rc == -1) {
			if (w->err.msg[0] == '\0')
				lake_err_set(&w->err, "out of memory");
			return -1;
		}
	}
	return 0;
}

static int
finish_deferred(tx_worker *w)
{
	for (size_t i = 0; i < w->ndeferred; i++) {
		deferred *d = &w->deferred[i];
		order_entry *e = order_index_get(&w->r->ix, d->orderid);
		verdict v = validate_event("DELIVERED", 9, 1, &e->flags,
		    d->updatedat, e->ordertime, 1);
		int rc;

		if (v == V_KEEP) {
			w->counts[v]++;
			rc = emit_silver(w, e, d->historyid, "DELIVERED", 9,
			    d->updatedat);
		} else
			rc = emit_rejected(w, e, d->historyid, d->orderid, 0,
			    "DELIVERED", 9, 0, d->updatedat, 0, v);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* --- commits ------------------------------------------------------- */

/*
 * Rejected rows first. Files of an earlier attempt at this same run (a
 * crash after this commit, before silver's) are removed in this commit.
 */
static int
commit_rejected(tx_run *r, lake_err *err)
{
	delta_snapshot *base = NULL;
	delta_commit *c = NULL;
	char tag[40], info[256];
	lake_writer *ws[MAX_WORKERS];
	int64_t version, rejected = 0;
	int rc, nstale = 0;

	for (int k = 0; k < r->nworkers; k++) {
		ws[k] = r->workers[k].rejected_w;
		rejected += lake_writer_rows(ws[k]);
	}

	snprintf(tag, sizeof(tag), "part-r%06" PRId64 "-", r->run);
	rc = delta_snapshot_load(r->rejected, -1, &base, err);
	if (rc == DELTA_ERROR)
		goto fail;
	for (size_t i = 0; base != NULL && i < base->nfiles; i++)
		nstale += strstr(base->files[i].path, tag) != NULL;
	if (rejected == 0 && nstale == 0) {
		for (int k = 0; k < r->nworkers; k++) {
			lake_writer_abort(r->workers[k].rejected_w);
			r->workers[k].rejected_w = NULL;
		}
		delta_snapshot_free(base);
		return DELTA_OK;
	}
	if ((c = delta_commit_begin(r->rejected, base)) == NULL)
		goto nomem;
	if (base == NULL && delta_commit_set_metadata(c,
	    catalog_rejected.schema, NULL, 0, err) == -1)
		goto fail;
	for (size_t i = 0; base != NULL && i < base->nfiles; i++)
		if (strstr(base->files[i].path, tag) != NULL &&
		    delta_commit_remove(c, base->files[i].path, err) == -1)
			goto fail;
	snprintf(info, sizeof(info), "{\"operationParameters\":{\"stage\":"
	    "\"transformation\",\"run\":\"%" PRId64 "\"},\"operationMetrics\":"
	    "{\"numOutputRows\":\"%" PRId64 "\",\"numRemovedFiles\":\"%d\"}}",
	    r->run, rejected, nstale);
	if (delta_commit_set_txn(c, CATALOG_APP_TRANSFORMATION, r->run,
	    err) == -1 || delta_commit_set_info(c, "WRITE", info, err) == -1)
		goto fail;
	rc = lake_writers_commit_with(ws, r->nworkers, c, &version, err);
	for (int k = 0; k < r->nworkers; k++)
		r->workers[k].rejected_w = NULL;
	delta_commit_free(c);
	delta_snapshot_free(base);
	return rc;
nomem:
	lake_err_set(err, "out of memory");
fail:
	delta_commit_free(c);
	delta_snapshot_free(base);
	return DELTA_ERROR;
}

static void
set_int(json_t *obj, const char *key, int64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRId64, v);
	json_object_set_new(obj, key, json_string(num));
}

/*
 * The silver commit's commitInfo: the run's parameters and metrics, and
 * the events still waiting (catalog_pending.h) and the source watermark
 * when one is known (catalog_watermark.h). NULL when out of memory.
 */
static char *
silver_info(tx_run *r)
{
	catalog_pending p = { r->run, r->still_pending.n > 0 ?
		r->still_pending_from : -1, r->still_pending.v,
		r->still_pending.n };
	json_t *params, *metrics, *info, *state;
	char *text;

	if ((state = catalog_pending_json(&p)) == NULL)
		return NULL;
	params = json_object();
	metrics = json_object();
	json_object_set_new(params, "stage", json_string("transformation"));
	set_int(params, "run", r->run);
	set_int(params, "bronzeOrdersVersion", r->orders_to);
	set_int(params, "bronzeHistoryVersion", r->history_to);
	set_int(metrics, "numSourceRows", r->events_read);
	set_int(metrics, "numOutputRows", r->counts[V_KEEP]);
	set_int(metrics, "numDroppedInTransit", r->counts[V_DROP]);
	set_int(metrics, "numWaitingForOrder", r->counts[V_WAIT]);
	set_int(metrics, "numOrderFilesRead", r->order_files_read);
	set_int(metrics, "numSilverFilesRead", r->silver_files_read);
	for (int v = V_UNKNOWN_STATUS; v < V_COUNT; v++) {
		char key[64];

		snprintf(key, sizeof(key), "numRejected: %s",
		    verdict_reason((verdict)v));
		set_int(metrics, key, r->counts[v]);
	}
	info = json_pack("{s:o, s:o, s:o}", "operationParameters", params,
	    "operationMetrics", metrics, CATALOG_PENDING_KEY, state);
	if (info != NULL && r->has_wm && json_object_set_new(info,
	    CATALOG_WATERMARK_KEY, catalog_watermark_json(&r->wm)) == -1) {
		json_decref(info);
		return NULL;
	}
	text = info != NULL ? json_dumps(info, JSON_COMPACT) : NULL;
	json_decref(info);
	return text;
}

static int
commit_silver(tx_run *r, int64_t *version, lake_err *err)
{
	lake_writer *ws[MAX_WORKERS];
	delta_commit *c;
	char *info = silver_info(r);
	int rc = DELTA_ERROR;

	if (info == NULL ||
	    (c = delta_commit_begin(r->silver, r->silver_snap)) == NULL) {
		free(info);
		lake_err_set(err, "out of memory");
		return DELTA_ERROR;
	}
	if ((r->silver_snap == NULL && delta_commit_set_metadata(c,
	    catalog_silver.schema, NULL, 0, err) == -1) ||
	    delta_commit_set_txn(c, CATALOG_APP_TRANSFORMATION, r->run,
	    err) == -1 ||
	    delta_commit_set_txn(c, CATALOG_APP_TRANSFORMATION_ORDERS,
	    r->orders_to, err) == -1 ||
	    delta_commit_set_txn(c, CATALOG_APP_TRANSFORMATION_HISTORY,
	    r->history_to, err) == -1 ||
	    delta_commit_set_info(c, "STREAMING UPDATE", info, err) == -1)
		goto out;
	for (int k = 0; k < r->nworkers; k++)
		ws[k] = r->workers[k].silver_w;
	rc = lake_writers_commit_with(ws, r->nworkers, c, version, err);
	for (int k = 0; k < r->nworkers; k++)
		r->workers[k].silver_w = NULL;
out:
	delta_commit_free(c);
	free(info);
	return rc;
}

/* --- one run ------------------------------------------------------- */

/*
 * A dense index when the batch's orderid statistics say its ids fill a
 * range (a full load, or a large batch of recent orders); it needs no
 * first pass over the events. Otherwise a hash of the ids pass 1 finds,
 * which also gives the sorted ids to look up: a small batch names a few
 * orders over a range as wide as the oldest still-open order, and the
 * range would read every file in it. A large batch keeps some slack
 * (DENSE_SLACK_IDS): its events span many new files, which pass 1 would
 * open a second time, while its range holds little it does not need.
 */
static int
init_index(tx_run *r, lake_err *err)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN, rows = 0;
	int rc;

	for (size_t i = 0; i < r->nhistory_files; i++) {
		const delta_file *f = &r->history_files[i];
		int64_t flo, fhi;

		if (f->num_records < 0 || !file_orderid_range(f, &flo, &fhi)) {
			lo = INT64_MAX;
			break;
		}
		rows += f->num_records;
		lo = flo < lo ? flo : lo;
		hi = fhi > hi ? fhi : hi;
	}
	if (lo != INT64_MAX && lo > 0 && hi <= INT32_MAX &&
	    (hi - lo + 1 <= 4 * rows || (rows >= DENSE_SLACK_FROM_ROWS &&
	    hi - lo + 1 <= 4 * rows + DENSE_SLACK_IDS)))
		rc = order_index_init_dense(&r->ix, (int32_t)lo, (int32_t)hi);
	else
		rc = order_index_init(&r->ix, 1024);
	if (rc == -1)
		lake_err_set(err, "out of memory for the order index");
	return rc;
}

static void *
worker_main(void *arg)
{
	tx_worker *w = arg;
	tx_run *r = w->r;

	w->rc = lake_scan(r->bronze_history, r->history_files,
	    r->nhistory_files, r->event_names, EV_NCOLS, sort_events_cb, w,
	    &w->err) == -1 ||
	    finish_deferred(w) == -1 ? -1 : 0;
	return NULL;
}

/*
 * Sorts the batch's events, on two threads when the batch is large (a
 * small increment is not worth twice the files), and merges the
 * workers' counters and waiting events.
 */
static int
sort_events(tx_run *r, lake_err *err)
{
	lake_writer_opts opts, silver_opts;
	pthread_t tid[MAX_WORKERS];
	int64_t rows = 0;
	char tag[32];
	int started[MAX_WORKERS] = { 0 }, rc = 0;

	for (size_t i = 0; i < r->nhistory_files; i++)
		rows += r->history_files[i].num_records > 0 ?
		    r->history_files[i].num_records : 0;
	r->nworkers = rows >= 200000 ? MAX_WORKERS : 1;
	lake_writer_opts_default(&opts);
	snprintf(tag, sizeof(tag), "r%06" PRId64, r->run);
	opts.file_tag = tag;
	opts.max_buffered_bytes /= (size_t)r->nworkers;
	/* Row groups of about 200 000 events: their statistics are what
	 * the next run's duplicate check skips by. */
	opts.parquet.row_group_bytes = SILVER_ROW_GROUP_BYTES;
	/*
	 * Silver clustered by orderid (catalog_silver.cluster_by): an
	 * increment's file, one row group, is written sorted, which
	 * compaction's merge keeps. A large batch is not: its files hold
	 * several row groups, which the merge cannot take as one sorted
	 * input anyway, and sorting them cost a full load half again its
	 * CPU (2.2 s -> 3.5 s for 4 million rows).
	 */
	silver_opts = opts;
	silver_opts.parquet.sort = r->nworkers == 1;
	silver_opts.parquet.sort_column = SILVER_ORDERID;
	for (int k = 0; k < r->nworkers; k++) {
		tx_worker *w = &r->workers[k];

		w->r = r;
		w->parity = r->nworkers > 1 ? k : -1;
		w->still_pending_from = INT64_MAX;
		if ((w->silver_w = lake_writer_open(r->silver,
		    catalog_silver.schema, catalog_silver.partition,
		    &silver_opts, err)) == NULL ||
		    (w->rejected_w = lake_writer_open(r->rejected,
		    catalog_rejected.schema, catalog_rejected.partition, &opts,
		    err)) == NULL)
			return -1;
	}
	for (int k = 1; k < r->nworkers; k++)
		started[k] = pthread_create(&tid[k], NULL, worker_main,
		    &r->workers[k]) == 0;
	worker_main(&r->workers[0]);
	for (int k = 1; k < r->nworkers; k++) {
		if (started[k])
			pthread_join(tid[k], NULL);
		else
			worker_main(&r->workers[k]);
	}
	for (int k = 0; k < r->nworkers; k++) {
		tx_worker *w = &r->workers[k];

		if (w->rc == -1 && rc == 0) {
			*err = w->err;
			rc = -1;
		}
		for (int v = 0; v < V_COUNT; v++)
			r->counts[v] += w->counts[v];
		r->events_read += w->events_read;
		for (size_t i = 0; i < w->still_pending.n; i++)
			if (ids_push(&r->still_pending, w->still_pending.v[i]) ==
			    -1 && rc == 0) {
				lake_err_set(err, "out of memory");
				rc = -1;
			}
		if (w->still_pending_from < r->still_pending_from)
			r->still_pending_from = w->still_pending_from;
	}
	return rc;
}

/*
 * The table's newest version into *version (-1: no table yet). 0, or -1
 * when the log cannot be read.
 */
static int
latest(const char *table, int64_t *version, lake_err *err)
{
	int rc = delta_latest_version(table, version, err);

	if (rc == DELTA_NO_TABLE)
		*version = -1;
	return rc == DELTA_OK || rc == DELTA_NO_TABLE ? 0 : -1;
}

static int
table_dir(const catalog_table *t, const char *lake, char *buf, size_t len,
    lake_err *err)
{
	if (catalog_table_dir(t, lake, buf, len) == 0)
		return 0;
	lake_err_set(err, "%s/%s: path too long", lake, t->path);
	return -1;
}

/* The tables' folders and the scans' projections, from the catalog. */
static int
run_tables(tx_run *r, const char *lake, lake_err *err)
{
	if (table_dir(&catalog_bronze_orders, lake, r->bronze_orders,
	    sizeof(r->bronze_orders), err) == -1 ||
	    table_dir(&catalog_bronze_history, lake, r->bronze_history,
	    sizeof(r->bronze_history), err) == -1 ||
	    table_dir(&catalog_silver, lake, r->silver, sizeof(r->silver),
	    err) == -1 ||
	    table_dir(&catalog_rejected, lake, r->rejected,
	    sizeof(r->rejected), err) == -1)
		return -1;
	catalog_project(&catalog_bronze_history, event_cols, EV_NCOLS,
	    r->event_names);
	catalog_project(&catalog_bronze_orders, order_cols, ORD_NCOLS,
	    r->order_names);
	catalog_project(&catalog_silver, flag_cols, FLAG_NCOLS, r->flag_names);
	return 0;
}

/* One attempt (stage_frame.h); the transformation keeps nothing in ctx. */
static int
run_once(void *ctx, const char *lake, lake_err *err)
{
	int64_t t0 = clock_mono_us(), version = -1;
	tx_run r;
	int rc = DELTA_ERROR;

	(void)ctx;
	memset(&r, 0, sizeof(r));
	r.err = err;
	r.still_pending_from = INT64_MAX;
	if (run_tables(&r, lake, err) == -1 || load_state(&r, err) == -1)
		goto out;
	if (latest(r.bronze_orders, &r.orders_to, err) == -1 ||
	    latest(r.bronze_history, &r.history_to, err) == -1)
		goto out;
	if (r.history_to < 0) {
		log_info("bronze has no history yet: run ingestion first");
		rc = DELTA_OK;
		goto out;
	}
	if (r.orders_to == r.orders_from && r.history_to == r.history_from &&
	    r.pending.n == 0) {
		log_info("nothing new in bronze (orders v%" PRId64 ", history v%"
		    PRId64 ")", r.orders_to, r.history_to);
		rc = DELTA_OK;
		goto out;
	}
	if (run_watermark(&r, err) == -1)
		goto out;
	if (delta_changes(r.bronze_history, r.pending.n > 0 && r.pending_from <
	    r.history_from ? r.pending_from : r.history_from, r.history_to,
	    &r.history_files, &r.nhistory_files, err) == -1)
		goto out;
	if (init_index(&r, err) == -1)
		goto out;
	if ((!r.ix.dense && lake_scan(r.bronze_history, r.history_files,
	    r.nhistory_files, r.event_names, EV_ORDERID + 1,
	    collect_orderids, &r, err) == -1) ||
	    load_orders(&r, err) == -1)
		goto out;
	if (sort_events(&r, err) == -1)
		goto out;
	if (r.still_pending.n > 0)
		qsort(r.still_pending.v, r.still_pending.n, sizeof(int32_t),
		    cmp_i32);
	if ((rc = commit_rejected(&r, err)) != DELTA_OK)
		goto out;
	if ((rc = commit_silver(&r, &version, err)) != DELTA_OK)
		goto out;
	log_info("run %" PRId64 ": %" PRId64 " events (bronze history v%"
	    PRId64 "..v%" PRId64 "): %" PRId64 " into silver v%" PRId64
	    ", %" PRId64 " INTRANSIT dropped, %" PRId64 " waiting for their "
	    "order, in %.2f s", r.run, r.events_read, r.history_from + 1,
	    r.history_to, r.counts[V_KEEP], version, r.counts[V_DROP],
	    r.counts[V_WAIT], (clock_mono_us() - t0) / 1e6);
	for (int v = V_UNKNOWN_STATUS; v < V_COUNT; v++)
		if (r.counts[v] > 0 || log_verbose())
			log_info("rejected (%s): %" PRId64,
			    verdict_reason((verdict)v), r.counts[v]);
out:
	run_free(&r);
	return rc;
}

int
main(int argc, char **argv)
{
	/*
	 * Partition writers free and regrow their row-group buffers; keep
	 * that memory in the heap instead of returning it to the kernel and
	 * faulting it back in on every row group.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	return stage_frame_main(argc, argv, "transformation", usage, run_once,
	    NULL);
}
