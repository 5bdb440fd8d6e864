/* Error vocabulary: names and texts for every code, and the one errno -> cmboot_error mapping. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "cmboot/error.h"
#include "core/error_map.h"

static void error_every_code_has_a_distinct_name_and_text(void **state)
{
    (void)state;
    for (int code = 0; code > -CMBOOT_ERR_COUNT; code--) {
        const char *name = cmboot_error_name(code);
        assert_non_null(name);
        assert_true(strncmp(name, "CMBOOT_", 7) == 0);
        assert_string_not_equal(name, "CMBOOT_ERR_UNKNOWN");
        assert_true(strlen(cmboot_strerror(code)) > 0);
        assert_string_not_equal(cmboot_strerror(code), "unknown error");
        for (int other = 0; other > code; other--) {
            assert_string_not_equal(name, cmboot_error_name(other));
            assert_string_not_equal(cmboot_strerror(code), cmboot_strerror(other));
        }
    }
    assert_string_equal(cmboot_error_name(CMBOOT_ERR_TIMEOUT), "CMBOOT_ERR_TIMEOUT");
    assert_string_equal(cmboot_error_name(CMBOOT_ERR_ROM_LOOP), "CMBOOT_ERR_ROM_LOOP");
    assert_string_equal(cmboot_error_name(-CMBOOT_ERR_COUNT), "CMBOOT_ERR_UNKNOWN");
    assert_string_equal(cmboot_error_name(1), "CMBOOT_ERR_UNKNOWN");
    assert_string_equal(cmboot_strerror(-CMBOOT_ERR_COUNT), "unknown error");
}

static void error_from_errno_mapping(void **state)
{
    (void)state;
    static const struct {
        int e;
        int want;
    } cases[] = {
        {ENOENT, CMBOOT_ERR_NOT_FOUND}, {ENOTDIR, CMBOOT_ERR_NOT_FOUND}, {EACCES, CMBOOT_ERR_ACCESS},
        {EPERM, CMBOOT_ERR_ACCESS},     {ENOMEM, CMBOOT_ERR_NO_MEMORY},  {EBUSY, CMBOOT_ERR_BUSY},
        {ENODEV, CMBOOT_ERR_NO_DEVICE}, {ENXIO, CMBOOT_ERR_NO_DEVICE},   {EIO, CMBOOT_ERR_IO},
        {ENOSPC, CMBOOT_ERR_IO},        {ELOOP, CMBOOT_ERR_IO},          {0, CMBOOT_ERR_IO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = cmb_error_from_errno(cases[i].e);
        if (got != cases[i].want)
            fail_msg("errno %d (%s): got %s, want %s", cases[i].e, strerror(cases[i].e), cmboot_error_name(got),
                     cmboot_error_name(cases[i].want));
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(error_every_code_has_a_distinct_name_and_text),
    cmocka_unit_test(error_from_errno_mapping),
};

CMBOOT_TEST_MAIN(tests)
