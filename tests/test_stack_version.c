/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stack_version.c - the version macros of the installed header and liteipc_version() agree
 * with each other and with the version the build was configured with (CMake's project version);
 * liteipc_errno_name names errnos.
 */
#include "sfix.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

static void test_string_matches_numbers(void **state)
{
    char expect[32];

    (void)state;
    snprintf(expect, sizeof(expect), "%d.%d.%d", LITEIPC_VERSION_MAJOR, LITEIPC_VERSION_MINOR,
             LITEIPC_VERSION_PATCH);
    assert_string_equal(LITEIPC_VERSION_STRING, expect);
    assert_string_equal(LITEIPC_VERSION_STRING, LITEIPC_TEST_PROJECT_VERSION);
}

static void test_library_is_the_headers_version(void **state)
{
    (void)state;
    assert_non_null(liteipc_version());
    assert_string_equal(liteipc_version(), LITEIPC_VERSION_STRING);
}

static void test_number_orders_versions(void **state)
{
    (void)state;
    assert_true(LITEIPC_VERSION_NUMBER ==
                LITEIPC_VERSION(LITEIPC_VERSION_MAJOR, LITEIPC_VERSION_MINOR,
                                LITEIPC_VERSION_PATCH));
    assert_true(LITEIPC_VERSION(0, 1, 9) < LITEIPC_VERSION(0, 2, 0));
    assert_true(LITEIPC_VERSION(0, 255, 255) < LITEIPC_VERSION(1, 0, 0));
}

/* One errno-name helper for the library's users, its tools and its tests. */
static void test_errno_names(void **state)
{
    (void)state;
    assert_string_equal(liteipc_errno_name(EACCES), "EACCES");
    assert_string_equal(liteipc_errno_name(-EACCES), "EACCES");
    assert_string_equal(liteipc_errno_name(ERFKILL), "ERFKILL");
    assert_string_equal(liteipc_errno_name(-ETIME), "ETIME");
    assert_string_equal(liteipc_errno_name(ESHUTDOWN), "ESHUTDOWN");
    assert_string_equal(liteipc_errno_name(0), "OK");
    assert_string_equal(liteipc_errno_name(99999), "EUNKNOWN");
    assert_string_equal(liteipc_errno_name(INT_MIN), "EUNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_matches_numbers),
        cmocka_unit_test(test_library_is_the_headers_version),
        cmocka_unit_test(test_number_orders_versions),
        cmocka_unit_test(test_errno_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
