/*
 * sim.c - the retail simulator's pure logic (see sim.h).
 *
 * The generator is splitmix64: tiny, fast, and the same on every machine,
 * which is what --seed needs. Weighted choices walk a cumulative table.
 */
#include <stdlib.h>

#include "sim.h"

#define MINUTE_US (60LL * 1000000)
#define SECOND_US 1000000LL

static const char *const branch_names[SIM_BRANCHES] = {
	"Amberfield", "Brightwater", "Cobblestone", "Duskmoor", "Elmstead",
	"Foxhollow", "Greywick", "Harrowgate", "Ivybridge", "Juniper Bay",
};
static const int branch_weights[SIM_BRANCHES] = {3, 2, 2, 1, 1, 1, 1, 1,
    1, 1};
static const int branch_weight_total = 14;

/* Typical minutes from INTRANSIT to DELIVERED, per branch. */
static const int branch_delivery_minutes[SIM_BRANCHES] = {95, 60, 140, 75,
    50, 120, 85, 110, 65, 100};

void
sim_seed(sim_rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t
sim_next(sim_rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int64_t
sim_range(sim_rng *r, int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)(hi - lo) + 1;

	return lo + (int64_t)(sim_next(r) % span);
}

double
sim_unit(sim_rng *r)
{
	return (double)(sim_next(r) >> 11) / (double)(1ULL << 53);
}

const sim_mix sim_default_mix = { { 2, 1, 1 } };

int
sim_mix_parse(const char *s, sim_mix *m)
{
	sim_mix out;
	char *end;
	int total = 0;

	for (int i = 0; i < 3; i++) {
		long v;

		if (*s < '0' || *s > '9')
			return -1;
		v = strtol(s, &end, 10);
		if (v > SIM_MIX_MAX_WEIGHT || *end != (i < 2 ? ':' : '\0'))
			return -1;
		out.weight[i] = (int)v;
		total += (int)v;
		s = end + 1;
	}
	if (total == 0)
		return -1;
	*m = out;
	return 0;
}

sim_status
sim_pick_event(sim_rng *r, const sim_mix *m)
{
	int64_t v = sim_range(r, 0, m->weight[SIM_NEW] +
	    m->weight[SIM_INTRANSIT] + m->weight[SIM_DELIVERED] - 1);

	if (v < m->weight[SIM_NEW])
		return SIM_NEW;
	return v < m->weight[SIM_NEW] + m->weight[SIM_INTRANSIT] ?
	    SIM_INTRANSIT : SIM_DELIVERED;
}

int
sim_pick_branch(sim_rng *r)
{
	int64_t v = sim_range(r, 0, branch_weight_total - 1);
	int i;

	for (i = 0; i < SIM_BRANCHES - 1; i++) {
		if (v < branch_weights[i])
			return i;
		v -= branch_weights[i];
	}
	return SIM_BRANCHES - 1;
}

const char *
sim_branch_name(int branch)
{
	if (branch < 0 || branch >= SIM_BRANCHES)
		return "?";
	return branch_names[branch];
}

const char *
sim_status_name(sim_status s)
{
	switch (s) {
	case SIM_NEW:
		return "NEW";
	case SIM_INTRANSIT:
		return "INTRANSIT";
	case SIM_DELIVERED:
		return "DELIVERED";
	}
	return "?";
}

int64_t
sim_event_step_us(sim_rng *r, int64_t mean_us)
{
	int64_t mean_s = mean_us / SECOND_US;

	if (mean_us == 0)
		return sim_range(r, 1, 59) * MINUTE_US;
	if (mean_s < 1)
		mean_s = 1;
	return sim_range(r, 1, mean_s > 1 ? 2 * mean_s - 1 : 1) * SECOND_US;
}

void
sim_bulk_order(sim_rng *r, int64_t *clock_us, sim_lifecycle *out)
{
	int typical;

	*clock_us += sim_range(r, 1, 5) * SECOND_US;
	out->branch = sim_pick_branch(r);
	out->ordered_us = *clock_us;
	out->transit_us = out->ordered_us + sim_range(r, 1, 59) * MINUTE_US;
	typical = branch_delivery_minutes[out->branch];
	out->delivered_us = out->transit_us +
	    sim_range(r, typical / 2, typical * 3 / 2) * MINUTE_US;
}
