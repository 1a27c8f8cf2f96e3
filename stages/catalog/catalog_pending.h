/*
 * catalog_pending.h - the transformation's pending events, as kept with
 * each silver/allorders commit.
 *
 * Events whose order has not arrived wait: the transformation reads them
 * again from bronze/ordershistory on its next run. Which events (their
 * historyids) and from which bronze version on is state that must move
 * atomically with silver's bookmarks, so it is written in the same
 * commit: a typed, versioned object in the commit's commitInfo, the one
 * place of a commit our lake library lets a writer fill freely (Delta's
 * protocol allows any JSON there; a domainMetadata action would need
 * writer version 7 and table features, which the library does not
 * write):
 *
 *   "transformationState": {"format": 1, "run": 12, "pendingFrom": 40,
 *                           "pendingIds": [1001, 1007]}
 *
 * run is the transformation run that wrote it (the table's txn
 * "transformation"), pendingFrom the newest bronze/ordershistory version
 * before every pending event (-1: none), pendingIds the events' ids in
 * ascending order. Before format 1 the state was two strings in
 * operationParameters (pendingFrom, and pendingIds comma separated);
 * catalog_pending_parse reads that form too when the object is absent,
 * so a lake written by an older transformation upgrades in place.
 *
 * Parsing distrusts the text: a missing, mistyped or out-of-range field
 * is an error saying which, never an empty state.
 */
#ifndef CATALOG_PENDING_H
#define CATALOG_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CATALOG_PENDING_KEY "transformationState"
#define CATALOG_PENDING_FORMAT 1

typedef struct catalog_pending {
	int64_t run;		/* the transformation run that wrote it */
	int64_t from;		/* bronze history version before the
				   pending events; -1 when none */
	int32_t *ids;		/* ascending; owned, catalog_pending_free */
	size_t n;
} catalog_pending;

/*
 * Reads the state out of a commit's commitInfo (JSON text). Returns 1
 * with *out filled (the caller frees it), 0 when the commit is not the
 * transformation's (e.g. a compaction: the caller looks further back),
 * or -1 when it is but its state is malformed, with why saying what is
 * wrong.
 */
int catalog_pending_parse(const char *commit_info, catalog_pending *out,
    char *why, size_t whylen);
/* The state as the object to store under CATALOG_PENDING_KEY (a new
 * reference), or NULL when out of memory. */
json_t *catalog_pending_json(const catalog_pending *p);
void catalog_pending_free(catalog_pending *p);

#endif
