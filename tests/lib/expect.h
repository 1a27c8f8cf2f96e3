/*
 * expect.h - the one assertion the C unit tests share. EXPECT(cond, fmt,
 * ...) reports file, line and the message when cond is false and counts
 * the failure; a test's main() ends with `return expect_report("name");`.
 * Include it from a single .c file per test program.
 */
#ifndef TESTS_EXPECT_H
#define TESTS_EXPECT_H

#include <stdio.h>

static int expect_failures;

#define EXPECT(cond, ...) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);		\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		expect_failures++;					\
	}								\
} while (0)

/* Prints the outcome; the exit status for main(). */
static inline int
expect_report(const char *name)
{
	if (expect_failures > 0) {
		fprintf(stderr, "%s: %d failure(s)\n", name, expect_failures);
		return 1;
	}
	printf("%s: all passed\n", name);
	return 0;
}

#endif
