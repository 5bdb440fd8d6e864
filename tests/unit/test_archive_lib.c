/* core/archive_lib: libarchive's functions resolved on demand, and a missing library told by its package. */
#include "testutil.h"

#include <string.h>

#include "cmboot/error.h"
#include "core/archive_lib.h"

static void archive_lib_loads_and_reads(void **state)
{
    (void)state;
    cmb_archive_lib al;
    char why[256] = "x";
    assert_int_equal(cmb_archive_lib_load(&al, why, sizeof why), CMBOOT_OK);
    assert_string_equal(why, "");
    struct archive *a = al.read_new();
    assert_non_null(a);
    assert_int_equal(al.read_support_format_raw(a), ARCHIVE_OK);
    assert_int_equal(al.read_free(a), ARCHIVE_OK);
    cmb_archive_lib_unload(&al);
    assert_null(al.read_new);
    cmb_archive_lib_unload(&al); /* twice is fine */
}

static void archive_lib_missing_names_the_package(void **state)
{
    (void)state;
    cmb_archive_lib al;
    char why[256];
    assert_int_equal(cmb_archive_lib_load_from(&al, "libcmboot-test-no-such-archive.so.13", why, sizeof why),
                     CMBOOT_ERR_UNSUPPORTED);
    assert_non_null(strstr(why, "libarchive13"));
    assert_null(al.read_new);
    /* A library without libarchive's functions: the first missing one is named. */
    assert_int_equal(cmb_archive_lib_load_from(&al, "libz.so.1", why, sizeof why), CMBOOT_ERR_UNSUPPORTED);
    assert_non_null(strstr(why, "archive_read_new"));
    assert_null(al.read_new);
    cmb_archive_lib_unload(&al);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(archive_lib_loads_and_reads),
    cmocka_unit_test(archive_lib_missing_names_the_package),
};

CMBOOT_TEST_MAIN(tests)
