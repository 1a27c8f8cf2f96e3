/*
 * test_driver_state.c - every state has a name that parses back to it,
 * unknown and empty names are refused, and exactly the states that end a
 * driver are final.
 */
#include <string.h>

#include "driver_state.h"
#include "expect.h"

int
main(void)
{
	driver_state s;
	int final = 0;

	for (int i = 0; i < DRIVER_STATE_COUNT; i++) {
		const char *name = driver_state_name((driver_state)i);

		EXPECT(strcmp(name, "?") != 0, "state %d has no name", i);
		EXPECT(driver_state_parse(name, &s) == 0 && (int)s == i,
		    "%s does not parse back to %d", name, i);
		final += driver_state_final((driver_state)i);
	}
	EXPECT(final == 6, "6 final states, counted %d", final);
	EXPECT(driver_state_final(DRIVER_UNKNOWN), "UNKNOWN is final");
	EXPECT(!driver_state_final(DRIVER_RELAUNCHING), "RELAUNCHING is not");
	EXPECT(driver_state_parse("running", &s) == -1, "names are exact");
	EXPECT(driver_state_parse("", &s) == -1, "empty is refused");
	EXPECT(driver_state_parse(NULL, &s) == -1, "NULL is refused");
	EXPECT(strcmp(driver_state_name(DRIVER_STATE_COUNT), "?") == 0,
	    "out of range is ?");
	return expect_report("test_driver_state");
}
