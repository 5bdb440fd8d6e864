/* The installed shape: libcmboot.so does not need libpq (loaded on demand for postgresql:// records only). */
#include "testutil.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "cmboot/records.h"

/* readelf -d on the libcmboot.so this test runs against: its NEEDED list has no libpq, and does have
 * SQLite (so the list read is the real one, not an empty answer). */
static void records_libcmboot_does_not_need_libpq(void **state)
{
    (void)state;
    Dl_info info;
    assert_int_not_equal(dladdr((void *)cmboot_records_open, &info), 0);
    assert_non_null(info.dli_fname);
    assert_non_null(strstr(info.dli_fname, "libcmboot.so"));
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "readelf -d '%s'", info.dli_fname);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512];
    int needed = 0, sqlite = 0, pq = 0;
    while (fgets(line, sizeof line, p)) {
        if (!strstr(line, "(NEEDED)"))
            continue;
        needed++;
        sqlite += strstr(line, "libsqlite3") != NULL;
        pq += strstr(line, "libpq") != NULL;
    }
    assert_int_equal(pclose(p), 0);
    assert_true(needed > 0);
    assert_int_equal(sqlite, 1);
    assert_int_equal(pq, 0);
    void *h = dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD);
    assert_null(h);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(records_libcmboot_does_not_need_libpq),
};

CMBOOT_TEST_MAIN(tests)
