/* SPDX-License-Identifier: GPL-2.0-only */
/* Runs a list of check tests as one suite; the exit status main returns. */
#ifndef VX_CHECK_RUN_H
#define VX_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

/*
 * @setup and @teardown (may be NULL) run around each test, in its process.
 * VX_TEST=name runs only the test of that name.
 */
static inline int run_tests(const char *name, const TTest *const *tests,
			    size_t n, SFun setup, SFun teardown, int timeout)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create("rules");
	const char *only = getenv("VX_TEST");
	SRunner *sr;
	size_t i;
	int failed;

	if (timeout)
		tcase_set_timeout(tc, timeout);
	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	for (i = 0; i < n; i++)
		if (!only || !strcmp(only, tests[i]->name))
			_tcase_add_test(tc, tests[i], 0, 0, 0, 1);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define RUN_TESTS(name, tests, setup, teardown, timeout) \
	run_tests(name, tests, sizeof(tests) / sizeof((tests)[0]), setup, \
		  teardown, timeout)

#endif
