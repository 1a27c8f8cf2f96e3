/*
 * sim.h - the retail simulator's pure logic: a seeded random generator,
 * the choice of event (NEW, INTRANSIT, DELIVERED weighted 2:1:1 unless
 * the caller gives other weights) and
 * branch (ten fictional branches weighted 3,2,2,1,...), simulated time
 * steps, and the lifecycle of a bulk-generated order. No I/O here, so the
 * same seed always gives the same sequence.
 */
#ifndef RETAIL_SIM_H
#define RETAIL_SIM_H

#include <stdint.h>

#define SIM_BRANCHES 10

typedef enum sim_status {
	SIM_NEW,
	SIM_INTRANSIT,
	SIM_DELIVERED,
} sim_status;

typedef struct sim_rng {
	uint64_t state;
} sim_rng;

void sim_seed(sim_rng *r, uint64_t seed);
uint64_t sim_next(sim_rng *r);
/* Uniform in [lo, hi]. */
int64_t sim_range(sim_rng *r, int64_t lo, int64_t hi);
/* Uniform in [0, 1). */
double sim_unit(sim_rng *r);

/*
 * Weights of NEW, INTRANSIT and DELIVERED events. The default 2:1:1
 * leaves half the orders undelivered for ever (their number grows with
 * every event); 1:1:1 delivers every order in the long run.
 */
typedef struct sim_mix {
	int weight[3];		/* indexed by sim_status */
} sim_mix;

#define SIM_MIX_MAX_WEIGHT 1000

extern const sim_mix sim_default_mix;
/* Parses "N:I:D" (weights 0 to 1000, at least one above 0): 0, or -1. */
int sim_mix_parse(const char *s, sim_mix *m);
sim_status sim_pick_event(sim_rng *r, const sim_mix *m);
int sim_pick_branch(sim_rng *r);		/* index into sim_branch_name */
const char *sim_branch_name(int branch);
const char *sim_status_name(sim_status s);
/*
 * Simulated time step between events, in microseconds: with mean_us 0,
 * 1 to 59 whole minutes (a mean of 30); else uniform in whole seconds
 * from 1 to twice the mean less one (at least 1 s).
 */
int64_t sim_event_step_us(sim_rng *r, int64_t mean_us);

/* A complete lifecycle, for --bulk: times in microseconds. */
typedef struct sim_lifecycle {
	int branch;
	int64_t ordered_us;	/* NEW */
	int64_t transit_us;	/* INTRANSIT */
	int64_t delivered_us;	/* DELIVERED */
} sim_lifecycle;

/*
 * The next order of a bulk history: orders arrive 1 to 5 seconds apart
 * (*clock_us advances); each branch has its own typical delivery time, so
 * the gold metrics have a fastest branch to find.
 */
void sim_bulk_order(sim_rng *r, int64_t *clock_us, sim_lifecycle *out);

#endif
