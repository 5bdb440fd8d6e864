/* Deterministic fuzz smoke run in the unit suite: thousands of random device reply streams through both stages. */
#include <stdlib.h>
#include <string.h>

#include "cmboot/cmboot.h"
#include "fuzz_transport.h"
#include "testutil.h"

static void test_random_device_replies(void **state)
{
    (void)state;
    char *dir = test_tmpdir("fuzz");
    uint8_t content[5000];
    test_fill_pattern(content, sizeof content, 9);
    test_write_file(dir, "bootcode4.bin", content, 300);
    test_write_file(dir, "start.elf", content, sizeof content);
    test_write_file(dir, "config.txt", "x", 1);
    uint8_t buf[4096];
    int outcomes[CMBOOT_ERR_COUNT] = {0};
    for (uint32_t seed = 1; seed <= 3000; seed++) {
        size_t len = 1 + (seed * 2654435761u) % sizeof buf;
        test_fill_pattern(buf, len, seed);
        /* plant plausible requests so the served-file paths are reached too */
        if (seed % 3 == 0 && len > 300) {
            memset(buf + 20, 0, 270);
            memcpy(buf + 24, "start.elf", 9);
        }
        int rc = fuzz_run_stages(buf, len, dir);
        assert_true(rc <= 0 && rc > -CMBOOT_ERR_COUNT);
        outcomes[-rc]++;
    }
    /* the run reached more than one way of ending */
    int kinds = 0;
    for (int i = 0; i < CMBOOT_ERR_COUNT; i++)
        kinds += outcomes[i] > 0;
    assert_true(kinds >= 3);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_random_device_replies),
};
CMBOOT_TEST_MAIN(tests)
