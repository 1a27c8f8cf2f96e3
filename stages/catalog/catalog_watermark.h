/*
 * catalog_watermark.h - which source snapshot a table's commit reflects,
 * carried from bronze through silver into gold.
 *
 * Ingestion reads PostgreSQL in one snapshot and takes its bound
 * hi = pg_snapshot_xmin(pg_current_snapshot()): every transaction with
 * an xid8 below hi had finished when the snapshot was taken, so every
 * committed row below it is in what the run read, and none can appear
 * later. The watermark is that bound and the time of the snapshot on
 * PostgreSQL's clock (clock_timestamp() in the query that took it: every
 * transaction below the bound committed before it). Each stage keeps it
 * in its commits' commitInfo, the one place of a commit our lake library
 * lets a writer fill (as the transformation's pending state,
 * catalog_pending.h):
 *
 *   "sourceWatermark": {"format": 1, "xidBound": 12345,
 *                       "snapshotAt": 1764428400123456}
 *
 * snapshotAt is microseconds since the Unix epoch, UTC. What it promises
 * for each table: every source row committed with xid < xidBound is
 * reflected in the table as of that commit.
 *   bronze/<table>  the bound the ingestion run read up to (each table's
 *                   own: a run with no new rows for a table commits
 *                   nothing to it, so its bound stays);
 *   silver          the lower of the two bronze bounds at the bronze
 *                   versions the transformation read up to, and never
 *                   below silver's previous one;
 *   gold            the watermark of the silver version it reflects.
 * A commit written before watermarks existed has none; readers then
 * report none rather than guess.
 *
 * Parsing distrusts the text: a mistyped, missing or out-of-range field
 * is an error saying which.
 */
#ifndef CATALOG_WATERMARK_H
#define CATALOG_WATERMARK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lake_err.h"

#define CATALOG_WATERMARK_KEY "sourceWatermark"
#define CATALOG_WATERMARK_FORMAT 1

typedef struct catalog_watermark {
	int64_t xid_bound;	/* an xid8; every source xid below it is in */
	int64_t snapshot_at;	/* microseconds since the epoch, UTC */
} catalog_watermark;

/* What catalog_watermark_parse found in a commit. */
typedef enum catalog_watermark_found {
	CATALOG_WM_MALFORMED = -1,	/* why says what is wrong */
	CATALOG_WM_NONE = 0,		/* stage's commit, without one */
	CATALOG_WM_FOUND = 1,		/* *out filled */
	CATALOG_WM_OTHER = 2,		/* another writer's commit (e.g. a
					   compaction): look further back */
} catalog_watermark_found;

/*
 * Reads the watermark out of a commit's commitInfo (JSON text); stage
 * is the writer whose commits carry it ("ingestion", "transformation",
 * "serving", as operationParameters.stage names it).
 */
catalog_watermark_found catalog_watermark_parse(const char *commit_info,
    const char *stage, catalog_watermark *out, char *why, size_t whylen);
/*
 * Looks for stage's watermark in table dir's commits from version down
 * to stop (catalog_watermark_find.c; needs the lake library). Returns 1
 * when a commit of stage decides it (*found: it carries one), 0 when
 * none of them is stage's, CATALOG_WM_FIND_UNREADABLE when a commit
 * cannot be read (log retention deleted it, say), or -1 for a malformed
 * watermark; err names the table and version of either.
 */
#define CATALOG_WM_FIND_UNREADABLE (-2)
int catalog_watermark_find(const char *dir, int64_t version, int64_t stop,
    const char *stage, catalog_watermark *out, int *found,
    lake_err *err);
/* The object to store under CATALOG_WATERMARK_KEY (a new reference), or
 * NULL when out of memory. */
json_t *catalog_watermark_json(const catalog_watermark *w);

#endif
