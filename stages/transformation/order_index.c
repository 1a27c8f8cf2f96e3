/*
 * order_index.c - orderid hash for one transformation batch.
 *
 * Linear probing on a multiplicative hash, doubled when half full. Branch names are few (a chain's branches), interned in a
 * small array searched linearly.
 */
#include <stdlib.h>
#include <string.h>

#include "order_index.h"

int
order_index_init(order_index *ix, size_t n)
{
	size_t nslots = 1024;

	memset(ix, 0, sizeof(*ix));
	while (nslots < n * 2)
		nslots *= 2;
	ix->slots = calloc(nslots, sizeof(order_entry));
	if (ix->slots == NULL)
		return -1;
	ix->nslots = nslots;
	return 0;
}

int
order_index_init_dense(order_index *ix, int32_t lo, int32_t hi)
{
	memset(ix, 0, sizeof(*ix));
	if (lo <= 0 || hi < lo)
		return -1;
	ix->nslots = (size_t)(hi - lo) + 1;
	if ((ix->slots = calloc(ix->nslots, sizeof(order_entry))) == NULL)
		return -1;
	ix->dense = 1;
	ix->base = lo;
	ix->n = ix->nslots;
	return 0;
}

int
order_index_range(const order_index *ix, int32_t *lo, int32_t *hi)
{
	*lo = INT32_MAX;
	*hi = INT32_MIN;
	if (ix->dense) {
		*lo = ix->base;
		*hi = ix->base + (int32_t)ix->nslots - 1;
		return 1;
	}
	for (size_t i = 0; i < ix->nslots; i++) {
		int32_t id = ix->slots[i].orderid;

		if (id == 0)
			continue;
		*lo = id < *lo ? id : *lo;
		*hi = id > *hi ? id : *hi;
	}
	return ix->n > 0;
}

/* The dense slot of orderid, stamped with its id; NULL out of range. */
static order_entry *
dense_get(order_index *ix, int32_t orderid)
{
	order_entry *e;

	if (orderid < ix->base || (size_t)(orderid - ix->base) >= ix->nslots)
		return NULL;
	e = &ix->slots[orderid - ix->base];
	e->orderid = orderid;
	return e;
}

void
order_index_free(order_index *ix)
{
	for (size_t i = 0; i < ix->nbranches; i++)
		free(ix->branches[i]);
	free(ix->branches);
	free(ix->branch_len);
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

static size_t
slot_of(const order_index *ix, int32_t orderid)
{
	return (size_t)(((uint32_t)orderid * 2654435761u) & (ix->nslots - 1));
}

order_entry *
order_index_get(order_index *ix, int32_t orderid)
{
	size_t s;

	if (ix->dense)
		return dense_get(ix, orderid);
	if (orderid == 0)
		return NULL;
	s = slot_of(ix, orderid);
	while (ix->slots[s].orderid != 0) {
		if (ix->slots[s].orderid == orderid)
			return &ix->slots[s];
		s = (s + 1) & (ix->nslots - 1);
	}
	return NULL;
}

/* Doubles the table; entries keep their contents. */
static int
grow(order_index *ix)
{
	order_index bigger = *ix;

	bigger.nslots = ix->nslots * 2;
	bigger.slots = calloc(bigger.nslots, sizeof(order_entry));
	if (bigger.slots == NULL)
		return -1;
	for (size_t i = 0; i < ix->nslots; i++) {
		size_t s;

		if (ix->slots[i].orderid == 0)
			continue;
		s = slot_of(&bigger, ix->slots[i].orderid);
		while (bigger.slots[s].orderid != 0)
			s = (s + 1) & (bigger.nslots - 1);
		bigger.slots[s] = ix->slots[i];
	}
	free(ix->slots);
	ix->slots = bigger.slots;
	ix->nslots = bigger.nslots;
	return 0;
}

order_entry *
order_index_add(order_index *ix, int32_t orderid)
{
	size_t s;

	if (ix->dense)
		return dense_get(ix, orderid);
	/* Serial ids start at 1; 0 marks an empty slot and is refused. */
	if (orderid == 0)
		return NULL;
	if ((ix->n + 1) * 2 > ix->nslots && grow(ix) == -1)
		return NULL;
	s = slot_of(ix, orderid);
	while (ix->slots[s].orderid != 0) {
		if (ix->slots[s].orderid == orderid)
			return &ix->slots[s];
		s = (s + 1) & (ix->nslots - 1);
	}
	ix->slots[s].orderid = orderid;
	ix->n++;
	return &ix->slots[s];
}

int
order_index_branch(order_index *ix, const char *name, uint32_t len)
{
	char **names;
	uint32_t *lens;

	for (size_t i = 0; i < ix->nbranches; i++)
		if (ix->branch_len[i] == len &&
		    memcmp(ix->branches[i], name, len) == 0)
			return (int)i;
	if (ix->nbranches >= UINT16_MAX)
		return -1;
	names = realloc(ix->branches, (ix->nbranches + 1) * sizeof(*names));
	if (names == NULL)
		return -1;
	ix->branches = names;
	lens = realloc(ix->branch_len, (ix->nbranches + 1) * sizeof(*lens));
	if (lens == NULL)
		return -1;
	ix->branch_len = lens;
	if ((names[ix->nbranches] = malloc(len + 1)) == NULL)
		return -1;
	memcpy(names[ix->nbranches], name, len);
	names[ix->nbranches][len] = '\0';
	lens[ix->nbranches] = len;
	return (int)ix->nbranches++;
}
