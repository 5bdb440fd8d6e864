/* Version macros of cmboot/version.h against the library actually loaded (libcmboot.so). */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "cmboot/cmboot.h"

static void version_string_matches_headers(void **state)
{
    (void)state;
    assert_string_equal(cmboot_version(), CMBOOT_VERSION_STRING);
    unsigned major = 99, minor = 99, patch = 99;
    char tail = 0;
    assert_int_equal(sscanf(cmboot_version(), "%u.%u.%u%c", &major, &minor, &patch, &tail), 3);
    assert_int_equal(major, CMBOOT_VERSION_MAJOR);
    assert_int_equal(minor, CMBOOT_VERSION_MINOR);
    assert_int_equal(patch, CMBOOT_VERSION_PATCH);
}

static void api_version_matches_headers(void **state)
{
    (void)state;
    assert_int_equal(cmboot_api_version(), CMBOOT_API_VERSION);
    assert_int_equal(CMBOOT_API_VERSION,
                     (CMBOOT_VERSION_MAJOR << 16) | (CMBOOT_VERSION_MINOR << 8) | CMBOOT_VERSION_PATCH);
}

static void api_version_orders_releases(void **state)
{
    (void)state;
    assert_true(CMBOOT_MAKE_API_VERSION(0, 2, 0) > CMBOOT_MAKE_API_VERSION(0, 1, 255));
    assert_true(CMBOOT_MAKE_API_VERSION(1, 0, 0) > CMBOOT_MAKE_API_VERSION(0, 255, 255));
    assert_int_equal(CMBOOT_MAKE_API_VERSION(0, 1, 0), 0x000100);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(version_string_matches_headers),
    cmocka_unit_test(api_version_matches_headers),
    cmocka_unit_test(api_version_orders_releases),
};

CMBOOT_TEST_MAIN(tests)
