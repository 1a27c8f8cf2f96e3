/*
 * driver_state.c - names of driver states (see driver_state.h). The table
 * is indexed by the enum, so adding a state is one line here and one in
 * the header, and the unit test checks the two agree.
 */
#include "driver_state.h"

#include <string.h>

static const char *const names[DRIVER_STATE_COUNT] = {
	[DRIVER_SUBMITTED] = "SUBMITTED",
	[DRIVER_RUNNING] = "RUNNING",
	[DRIVER_RELAUNCHING] = "RELAUNCHING",
	[DRIVER_FINISHED] = "FINISHED",
	[DRIVER_FAILED] = "FAILED",
	[DRIVER_KILLED] = "KILLED",
	[DRIVER_ERROR] = "ERROR",
	[DRIVER_UNKNOWN] = "UNKNOWN",
	[DRIVER_NOT_FOUND] = "NOT_FOUND",
};

const char *
driver_state_name(driver_state s)
{
	if ((int)s < 0 || s >= DRIVER_STATE_COUNT || names[s] == NULL)
		return "?";
	return names[s];
}

int
driver_state_parse(const char *name, driver_state *out)
{
	for (int i = 0; name != NULL && i < DRIVER_STATE_COUNT; i++) {
		if (names[i] != NULL && strcmp(names[i], name) == 0) {
			*out = (driver_state)i;
			return 0;
		}
	}
	return -1;
}

int
driver_state_final(driver_state s)
{
	switch (s) {
	case DRIVER_FINISHED:
	case DRIVER_FAILED:
	case DRIVER_KILLED:
	case DRIVER_ERROR:
	case DRIVER_UNKNOWN:
	case DRIVER_NOT_FOUND:
		return 1;
	default:
		return 0;
	}
}
