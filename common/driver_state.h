/*
 * driver_state.h - the states of a driver in Spark's submission protocol,
 * as values. One name table serves the server, its runners and the
 * orchestrator: code compares enum values (a typo does not compile), and
 * names appear only where a state crosses SQL or JSON.
 */
#ifndef COMMON_DRIVER_STATE_H
#define COMMON_DRIVER_STATE_H

typedef enum driver_state {
	DRIVER_SUBMITTED,
	DRIVER_RUNNING,
	DRIVER_RELAUNCHING,
	DRIVER_FINISHED,
	DRIVER_FAILED,
	DRIVER_KILLED,
	DRIVER_ERROR,
	DRIVER_UNKNOWN,
	DRIVER_NOT_FOUND,	/* a client's view: the server knows no such id */
	DRIVER_STATE_COUNT
} driver_state;

/* The protocol's name ("RUNNING"); "?" for a value out of range. */
const char *driver_state_name(driver_state s);
/* 0 with *out set, or -1 for a name the protocol does not define. */
int driver_state_parse(const char *name, driver_state *out);
/* Whether a driver in this state will not change any more. */
int driver_state_final(driver_state s);

#endif
