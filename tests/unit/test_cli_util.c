/* Unit tests of the CLI's option value parsers and port path order (cli/cli_util.c built in). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cli/cli_util.c"
#include "cmboot/device.h"
#include "cmboot/error.h"
#include "testutil.h"

static void parses_whole_numbers_strictly(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_int_equal(cli_opt_uint("t", "--n", "0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cli_opt_uint("t", "--n", "18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    const char *bad[] = {"", " 1", "1 ", "+1", "-1", "0x1", "1e1", "1.0", "11", "18446744073709551616", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        assert_int_equal(cli_opt_uint("t", "--n", bad[i], 0, 10, &v), -1);
        assert_int_equal(v, 7); /* untouched on failure */
    }
}

static void parses_one_word_of_a_list(void **state)
{
    (void)state;
    static const char *const kinds[] = {"emmc", "nvme", "sd"};
    assert_int_equal(cli_opt_word("t", "--k", "emmc", kinds, 3), 0);
    assert_int_equal(cli_opt_word("t", "--k", "sd", kinds, 3), 2);
    const char *bad[] = {"", "EMMC", "nvme ", "s", "sdd", "usb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cli_opt_word("t", "--k", bad[i], kinds, 3), -1);
}

static void parses_byte_counts_with_suffixes(void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal(cli_opt_bytes("t", "--b", "4K", 1, UINT64_MAX, 1, &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(cli_opt_bytes("t", "--b", "3MiB", 1, UINT64_MAX, 1, &v), 0);
    assert_int_equal(v, 3u << 20);
    assert_int_equal(cli_opt_bytes("t", "--b", "2G", 1, UINT64_MAX, 1, &v), 0);
    assert_true(v == 2ull << 30);
    assert_int_equal(cli_opt_bytes("t", "--b", "1000", 512, 4096, 512, &v), -1);           /* not a multiple */
    assert_int_equal(cli_opt_bytes("t", "--b", "17179869184G", 1, UINT64_MAX, 1, &v), -1); /* 2^64: overflow */
    assert_int_equal(cli_opt_bytes("t", "--b", "4m", 1, UINT64_MAX, 1, &v), -1);
    assert_int_equal(cli_opt_bytes("t", "--b", "4KB", 1, UINT64_MAX, 1, &v), -1);
    assert_int_equal(cli_opt_bytes("t", "--b", "K", 1, UINT64_MAX, 1, &v), -1);
}

static void parses_seconds_to_milliseconds(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(cli_opt_seconds("t", "--s", "1.5", 0, 1000000000, &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(cli_opt_seconds("t", "--s", ".25", 0, 1000000000, &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(cli_opt_seconds("t", "--s", "0.001", 1, 1000000000, &ms), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(cli_opt_seconds("t", "--s", "30", 0, 1000000000, &ms), 0);
    assert_int_equal(ms, 30000);
    const char *bad[] = {"",
                         ".",
                         "1.",
                         "1.2345",
                         "-1",
                         "+1",
                         "1e3",
                         "nan",
                         "inf",
                         "0x10",
                         "1,5",
                         "5s",
                         " 5",
                         "9223372036854775807",
                         "99999999999999999999",
                         "0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cli_opt_seconds("t", "--s", bad[i], 1, 1000000000, &ms), -1);
}

/* The rejection is one line naming the command, the option and the value. */
static void rejection_names_option_and_value(void **state)
{
    (void)state;
    char path[] = "/tmp/cmboot-cli-util-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    int64_t ms;
    int rc = cli_opt_seconds("cmboot boot", "--timeout", "-5", 0, 1000, &ms);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    assert_int_equal(rc, -1);
    char buf[512] = {0};
    assert_true(pread(fd, buf, sizeof buf - 1, 0) > 0);
    close(fd);
    assert_non_null(strstr(buf, "cmboot boot: "));
    assert_non_null(strstr(buf, "--timeout"));
    assert_non_null(strstr(buf, "'-5'"));
    char *nl = strchr(buf, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], 0); /* one line */
}

static void port_paths_in_natural_order(void **state)
{
    (void)state;
    const char *in_order[] = {"1-1", "1-1.2", "1-1.3", "1-1.10", "1-2", "2-1", "2-1.1.1", "10-1"};
    size_t n = sizeof in_order / sizeof in_order[0];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cmboot_port_path_compare(in_order[i], in_order[i]), 0);
        for (size_t j = i + 1; j < n; j++) {
            assert_true(cmboot_port_path_compare(in_order[i], in_order[j]) < 0);
            assert_true(cmboot_port_path_compare(in_order[j], in_order[i]) > 0);
        }
    }
}

static void boot_failures_in_words(void **state)
{
    (void)state;
    char buf[256];
    const char *t = cli_boot_failure_text(CMBOOT_ERR_TIMEOUT, 0, 1500, NULL, buf, sizeof buf);
    assert_non_null(strstr(t, "no board appeared within 1.5 s"));
    t = cli_boot_failure_text(CMBOOT_ERR_CANCELLED, 1, 0, "SIGTERM", buf, sizeof buf);
    assert_string_equal(t, "interrupted (SIGTERM)");
    for (int rc = -1; rc > -CMBOOT_ERR_COUNT; rc--) {
        for (unsigned boards = 0; boards < 3; boards++) {
            t = cli_boot_failure_text(rc, boards, 1000, NULL, buf, sizeof buf);
            assert_null(strstr(t, "CMBOOT_"));
            assert_true(strlen(t) > 0);
        }
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(parses_whole_numbers_strictly),    cmocka_unit_test(parses_byte_counts_with_suffixes),
    cmocka_unit_test(parses_one_word_of_a_list),        cmocka_unit_test(parses_seconds_to_milliseconds),
    cmocka_unit_test(rejection_names_option_and_value), cmocka_unit_test(port_paths_in_natural_order),
    cmocka_unit_test(boot_failures_in_words),
};
CMBOOT_TEST_MAIN(tests)
