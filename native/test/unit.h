/* unit.h - the smallest unit test harness: CHECK counts failures and names the
 * line; RUN runs one test function; unit_report prints a summary line that the
 * ava wrapper (test/core-unit.test.ts) reads, and gives the exit status. */
#ifndef CTN_UNIT_H
#define CTN_UNIT_H

#include <stdio.h>

static int unit_checks, unit_failures, unit_tests;

/** Count one check; print the failing expression and line. */
#define CHECK(cond)                                                                    \
	do {                                                                           \
		unit_checks++;                                                         \
		if (!(cond)) {                                                         \
			unit_failures++;                                               \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                      \
	} while (0)

/** Run test function @fn. */
#define RUN(fn)                                   \
	do {                                      \
		unit_tests++;                     \
		fn();                             \
	} while (0)

/** Print "SUITE: T tests, C checks, F failures" and return the exit status. */
static inline int unit_report(const char *suite)
{
	printf("%s: %d tests, %d checks, %d failures\n", suite, unit_tests, unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}

#endif
