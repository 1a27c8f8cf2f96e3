/*
 * validate.c - silver's validation rules.
 *
 * Checks run cheapest first and a rejection names the first rule broken:
 * an unknown status needs no order; a missing order makes the event
 * wait; then a time outside the sane range (the event's or its
 * order's), duplicates, a delivery before its order (a negative delivery
 * time), and a delivery without a NEW event.
 */
#include <string.h>

#include "validate.h"

static const char *reasons[V_COUNT] = {
	[V_UNKNOWN_STATUS] = "unknown status",
	[V_DELIVERED_WITHOUT_NEW] = "DELIVERED without NEW",
	[V_DELIVERY_BEFORE_ORDER] = "delivery earlier than its order",
	[V_DUPLICATE] = "duplicated event",
	[V_TIME_OUT_OF_RANGE] = "time outside years 1900-9999",
};

const char *
verdict_reason(verdict v)
{
	return v >= 0 && v < V_COUNT ? reasons[v] : NULL;
}

static int
sane_time(int64_t micros)
{
	return micros >= VALIDATE_TIME_MIN && micros < VALIDATE_TIME_END;
}

static int
is(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

verdict
validate_event(const char *status, size_t status_len, int have_order,
    uint8_t *flags, int64_t updatedat, int64_t ordertime, int final_pass)
{
	int is_new = is(status, status_len, "NEW");
	int is_delivered = is(status, status_len, "DELIVERED");

	if (!is_new && !is_delivered && !is(status, status_len, "INTRANSIT"))
		return V_UNKNOWN_STATUS;
	if (!have_order)
		return V_WAIT;
	if (!sane_time(updatedat) || !sane_time(ordertime))
		return V_TIME_OUT_OF_RANGE;
	if (is_new) {
		if (*flags & ORDER_HAS_NEW)
			return V_DUPLICATE;
		*flags |= ORDER_HAS_NEW;
		return V_KEEP;
	}
	if (!is_delivered)
		return V_DROP;
	if (*flags & ORDER_HAS_DELIVERED)
		return V_DUPLICATE;
	if (updatedat < ordertime)
		return V_DELIVERY_BEFORE_ORDER;
	if (!(*flags & ORDER_HAS_NEW))
		return final_pass ? V_DELIVERED_WITHOUT_NEW : V_DEFER;
	*flags |= ORDER_HAS_DELIVERED;
	return V_KEEP;
}
