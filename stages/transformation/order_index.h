/*
 * order_index.h - the orders a transformation batch refers to.
 *
 * An open-addressing hash from orderid to the order's time, branch (an
 * index into an interned list of branch names) and silver flags. It
 * holds only the orders the batch's events name, loaded from the bronze
 * files whose orderid statistics can contain them, so its size follows
 * the batch, not the table.
 */
#ifndef ORDER_INDEX_H
#define ORDER_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct order_entry {
	int32_t orderid;	/* 0 = empty slot */
	uint16_t branch;
	uint8_t flags;
	uint8_t known;		/* the order itself was found in bronze */
	int64_t ordertime;
} order_entry;

typedef struct order_index {
	order_entry *slots;
	size_t nslots;		/* a power of two (hash), or the id range */
	size_t n;
	int dense;		/* slots[id - base]: every id in range */
	int32_t base;
	char **branches;
	uint32_t *branch_len;
	size_t nbranches;
} order_index;

/* Creates an index sized for about n orders (it grows). */
int order_index_init(order_index *ix, size_t n);
/*
 * Creates a dense index over the ids lo..hi: serial ids of one batch
 * usually fill a range, and an array indexed by id is far faster than a
 * hash. Every id in the range counts as referenced.
 */
int order_index_init_dense(order_index *ix, int32_t lo, int32_t hi);
/* The lowest and highest referenced id; 0 when the index is empty. */
int order_index_range(const order_index *ix, int32_t *lo, int32_t *hi);
void order_index_free(order_index *ix);
/* The entry for orderid, or NULL when the batch does not refer to it. */
order_entry *order_index_get(order_index *ix, int32_t orderid);
/* Adds orderid as referenced by the batch (not yet known); NULL when
 * out of memory or orderid is 0. */
order_entry *order_index_add(order_index *ix, int32_t orderid);
/* Interns a branch name; returns its index or -1. */
int order_index_branch(order_index *ix, const char *name, uint32_t len);

#endif
