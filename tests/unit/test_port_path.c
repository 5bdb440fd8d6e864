/* Port-path formatting and validation: the name that follows a board through its stages. */
#include "testutil.h"

#include <string.h>

#include "cmboot/device.h"
#include "cmboot/error.h"

static void port_path_format_basic(void **state)
{
    (void)state;
    char buf[CMBOOT_PORT_PATH_MAX];
    uint8_t ports[] = {1, 3};
    assert_int_equal(cmboot_port_path_format(buf, sizeof buf, 1, ports, 2), CMBOOT_OK);
    assert_string_equal(buf, "1-1.3");
    uint8_t one[] = {4};
    assert_int_equal(cmboot_port_path_format(buf, sizeof buf, 12, one, 1), CMBOOT_OK);
    assert_string_equal(buf, "12-4");
    uint8_t deep[] = {255, 255, 255, 255, 255, 255, 255};
    assert_int_equal(cmboot_port_path_format(buf, sizeof buf, 255, deep, 7), CMBOOT_OK);
    assert_string_equal(buf, "255-255.255.255.255.255.255.255");
}

static void port_path_format_limits(void **state)
{
    (void)state;
    char buf[CMBOOT_PORT_PATH_MAX];
    uint8_t ports[] = {1, 3};
    char small[5];
    assert_int_equal(cmboot_port_path_format(small, sizeof small, 1, ports, 2), CMBOOT_ERR_TOO_LARGE);
    assert_string_equal(small, "");
    assert_int_equal(cmboot_port_path_format(buf, sizeof buf, 1, ports, 0), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmboot_port_path_format(buf, sizeof buf, 0, ports, 2), CMBOOT_ERR_INVALID_ARG);
    uint8_t zero[] = {1, 0};
    assert_int_equal(cmboot_port_path_format(buf, sizeof buf, 1, zero, 2), CMBOOT_ERR_INVALID_ARG);
    uint8_t eight[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    assert_int_equal(cmboot_port_path_format(buf, sizeof buf, 1, eight, 8), CMBOOT_ERR_INVALID_ARG);
}

static void port_path_valid_cases(void **state)
{
    (void)state;
    const char *good[] = {"1-1", "1-1.3", "3-2.4.1", "255-255.255.255.255.255.255.255", "10-12"};
    const char *bad[] = {"",     "1",   "1-",    "-1",    "1-1.",  "1-.1",  "usb1",   "1-1:1.0",
                         "0-1",  "1-0", "1-01",  "01-1",  "256-1", "1-256", "1-1..2", "1-1.2.3.4.5.6.7.8",
                         "1-1 ", "a-1", "1-1/2", "1-1.3x"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(cmboot_port_path_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (cmboot_port_path_valid(bad[i]))
            fail_msg("accepted %s", bad[i]);
    }
    assert_false(cmboot_port_path_valid(NULL));
}

static void port_path_last_port_cases(void **state)
{
    (void)state;
    assert_int_equal(cmboot_port_path_last_port("1-1.3"), 3);
    assert_int_equal(cmboot_port_path_last_port("1-7"), 7);
    assert_int_equal(cmboot_port_path_last_port("2-1.4.12"), 12);
    assert_int_equal(cmboot_port_path_last_port("1-1:1.0"), -1);
    assert_int_equal(cmboot_port_path_last_port("garbage"), -1);
    assert_int_equal(cmboot_port_path_last_port(NULL), -1);
}

static void port_path_roundtrip(void **state)
{
    (void)state;
    char buf[CMBOOT_PORT_PATH_MAX];
    for (int depth = 1; depth <= 7; depth++) {
        uint8_t ports[7];
        for (int i = 0; i < depth; i++)
            ports[i] = (uint8_t)(i * 37 + depth);
        assert_int_equal(cmboot_port_path_format(buf, sizeof buf, (uint8_t)depth, ports, depth), CMBOOT_OK);
        assert_true(cmboot_port_path_valid(buf));
        assert_int_equal(cmboot_port_path_last_port(buf), ports[depth - 1]);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(port_path_format_basic), cmocka_unit_test(port_path_format_limits),
    cmocka_unit_test(port_path_valid_cases),  cmocka_unit_test(port_path_last_port_cases),
    cmocka_unit_test(port_path_roundtrip),
};

CMBOOT_TEST_MAIN(tests)
