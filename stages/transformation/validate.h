/*
 * validate.h - the rules that decide where a history event goes in
 * silver: kept, dropped (INTRANSIT), rejected with a reason, or waiting
 * for its order. Pure functions over one event and its order's flags, so
 * they are unit-tested on their own.
 */
#ifndef VALIDATE_H
#define VALIDATE_H

#include <stddef.h>
#include <stdint.h>

/* Per-order flags: which events silver already holds for it. */
#define ORDER_HAS_NEW 0x1
#define ORDER_HAS_DELIVERED 0x2

typedef enum verdict {
	V_KEEP,			/* into silver/allorders */
	V_DROP,			/* INTRANSIT: not part of silver */
	V_WAIT,			/* its order has not arrived yet */
	V_DEFER,		/* DELIVERED before its NEW in this batch */
	V_UNKNOWN_STATUS,	/* rejections from here on */
	V_DELIVERED_WITHOUT_NEW,
	V_DELIVERY_BEFORE_ORDER,
	V_DUPLICATE,
	V_TIME_OUT_OF_RANGE,	/* event or order time outside the sane range */
	V_COUNT
} verdict;

/*
 * The sane range of event and order times: [1900-01-01, 10000-01-01)
 * UTC, in microseconds since 1970. Outside it a time is an error in the
 * source (PostgreSQL's ±infinity, a year 294,247), and a delivery time
 * computed from it would be meaningless or overflow.
 */
#define VALIDATE_TIME_MIN (-2208988800LL * 1000000)
#define VALIDATE_TIME_END (253402300800LL * 1000000)

/* The reason text stored in silver/rejected, or NULL for non-rejections. */
const char *verdict_reason(verdict v);

/*
 * Classifies one event. flags is the order's flags (updated when the
 * event is kept); have_order says whether the order is known. With
 * final_pass set, a DELIVERED whose NEW is missing is rejected instead of
 * deferred.
 */
verdict validate_event(const char *status, size_t status_len, int have_order,
    uint8_t *flags, int64_t updatedat, int64_t ordertime, int final_pass);

#endif
