/*
 * catalog_watermark_find.c - finding a stage's source watermark in a
 * table's log: the commits from a version back to a floor, newest first,
 * until one written by that stage says whether it carries one. Commits
 * of other writers (a compaction) are passed over. The transformation
 * looks in bronze, serving in silver and in its own state table.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "catalog_watermark.h"
#include "delta.h"

int
catalog_watermark_find(const char *dir, int64_t version, int64_t stop,
    const char *stage, catalog_watermark *out, int *found, lake_err *err)
{
	char why[256];

	*found = 0;
	for (int64_t v = version; v >= stop && v >= 0; v--) {
		lake_err e = { { 0 }, LAKE_ERR_FAILED };
		char *info = delta_commit_info(dir, v, &e);
		catalog_watermark_found rc;

		if (info == NULL && e.kind == LAKE_ERR_IO) {
			lake_err_set_kind(err, LAKE_ERR_IO, "%s version %" PRId64
			    ": cannot read the commit that holds the source "
			    "watermark: %s", dir, v, e.msg);
			return CATALOG_WM_FIND_UNREADABLE;
		}
		if (info == NULL)
			continue;	/* no commitInfo: not stage's */
		rc = catalog_watermark_parse(info, stage, out, why,
		    sizeof(why));
		free(info);
		if (rc == CATALOG_WM_OTHER)
			continue;
		if (rc == CATALOG_WM_MALFORMED) {
			lake_err_set(err, "%s version %" PRId64 ": source "
			    "watermark is malformed: %s", dir, v, why);
			return -1;
		}
		*found = rc == CATALOG_WM_FOUND;
		return 1;
	}
	return 0;
}
