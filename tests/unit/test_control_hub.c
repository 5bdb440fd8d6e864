/* Board control internals: hub port power requests against a fake transport, and the spec parsers. */
#include <string.h>

#include "cmboot/cmboot.h"
#include "control/control_internal.h"
#include "testutil.h"

typedef struct call {
    uint8_t type, req;
    uint16_t value, index;
    size_t len;
} call;

typedef struct fake_hub {
    uint8_t desc[16];
    size_t desc_len;
    bool stall_29;  /* a SuperSpeed hub: stalls the USB 2 descriptor type */
    int set_result; /* what Set/ClearPortFeature returns */
    call calls[8];
    size_t ncalls;
} fake_hub;

static int fh_control(void *self, uint8_t type, uint8_t req, uint16_t value, uint16_t index, void *buf, size_t len,
                      size_t *actual, unsigned timeout_ms)
{
    fake_hub *h = self;
    (void)timeout_ms;
    if (h->ncalls < 8)
        h->calls[h->ncalls++] = (call){type, req, value, index, len};
    if (type == 0xA0 && req == 6) {
        if (h->stall_29 && value == 0x2900)
            return CMBOOT_ERR_STALL;
        size_t n = h->desc_len < len ? h->desc_len : len;
        memcpy(buf, h->desc, n);
        h->desc[1] = (uint8_t)(value >> 8);
        memcpy(buf, h->desc, n);
        *actual = n;
        return CMBOOT_OK;
    }
    return h->set_result;
}

static const cmboot_transport_ops fh_ops = {.struct_size = sizeof(cmboot_transport_ops), .control = fh_control};

/* A 4-port hub: wHubCharacteristics as given, bPwrOn2PwrGood 50 (100 ms). */
static void fake_init(fake_hub *h, uint16_t chars)
{
    memset(h, 0, sizeof *h);
    const uint8_t d[] = {9, 0x29, 4, (uint8_t)chars, (uint8_t)(chars >> 8), 50, 100, 0, 0xff};
    memcpy(h->desc, d, sizeof d);
    h->desc_len = sizeof d;
}

static void hub_power_on_sends_set_port_feature(void **state)
{
    (void)state;
    fake_hub h;
    fake_init(&h, 0x0009); /* per-port switching, per-port over-current */
    cmboot_transport t = {&fh_ops, &h};
    cmb_hub_info info;
    char why[256] = "";
    assert_int_equal(cmb_hub_port_power(&t, 3, true, &info, why, sizeof why), CMBOOT_OK);
    assert_int_equal(h.ncalls, 2);
    /* GET_DESCRIPTOR(hub): IN, class, device; type 0x29 in the high byte. */
    assert_int_equal(h.calls[0].type, 0xA0);
    assert_int_equal(h.calls[0].req, 6);
    assert_int_equal(h.calls[0].value, 0x2900);
    assert_int_equal(h.calls[0].index, 0);
    /* SetPortFeature(PORT_POWER): OUT, class, other; bRequest 3, wValue 8, wIndex = port, no data. */
    assert_int_equal(h.calls[1].type, 0x23);
    assert_int_equal(h.calls[1].req, 3);
    assert_int_equal(h.calls[1].value, 8);
    assert_int_equal(h.calls[1].index, 3);
    assert_int_equal(h.calls[1].len, 0);
    assert_int_equal(info.ports, 4);
    assert_int_equal(info.power_good_ms, 100);
}

static void hub_power_off_sends_clear_port_feature(void **state)
{
    (void)state;
    fake_hub h;
    fake_init(&h, 0x0001);
    cmboot_transport t = {&fh_ops, &h};
    char why[256] = "";
    for (unsigned port = 1; port <= 4; port++) {
        h.ncalls = 0;
        assert_int_equal(cmb_hub_port_power(&t, port, false, NULL, why, sizeof why), CMBOOT_OK);
        assert_int_equal(h.ncalls, 2);
        assert_int_equal(h.calls[1].type, 0x23);
        assert_int_equal(h.calls[1].req, 1);
        assert_int_equal(h.calls[1].value, 8);
        assert_int_equal(h.calls[1].index, port);
    }
}

static void hub_ganged_or_unswitched_refused(void **state)
{
    (void)state;
    const uint16_t refused[] = {0x0000, 0x0002, 0x0003, 0x0008};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        fake_hub h;
        fake_init(&h, refused[i]);
        cmboot_transport t = {&fh_ops, &h};
        char why[256] = "";
        assert_int_equal(cmb_hub_port_power(&t, 1, true, NULL, why, sizeof why), CMBOOT_ERR_UNSUPPORTED);
        assert_int_equal(h.ncalls, 1); /* nothing switched */
        assert_non_null(strstr(why, "cannot switch one port"));
    }
}

static void hub_port_out_of_range(void **state)
{
    (void)state;
    fake_hub h;
    fake_init(&h, 0x0001);
    cmboot_transport t = {&fh_ops, &h};
    char why[256] = "";
    assert_int_equal(cmb_hub_port_power(&t, 5, true, NULL, why, sizeof why), CMBOOT_ERR_NOT_FOUND);
    assert_non_null(strstr(why, "4 ports"));
    assert_int_equal(cmb_hub_port_power(&t, 0, true, NULL, why, sizeof why), CMBOOT_ERR_NOT_FOUND);
    for (size_t i = 0; i < h.ncalls; i++)
        assert_int_equal(h.calls[i].req, 6); /* only descriptor reads */
}

static void hub_stall_and_bad_descriptor(void **state)
{
    (void)state;
    fake_hub h;
    fake_init(&h, 0x0001);
    h.set_result = CMBOOT_ERR_STALL;
    cmboot_transport t = {&fh_ops, &h};
    char why[256] = "";
    assert_int_equal(cmb_hub_port_power(&t, 2, true, NULL, why, sizeof why), CMBOOT_ERR_STALL);
    assert_non_null(strstr(why, "SetPortFeature"));
    fake_init(&h, 0x0001);
    h.desc_len = 5; /* too short for wHubCharacteristics + bPwrOn2PwrGood */
    assert_int_equal(cmb_hub_port_power(&t, 2, true, NULL, why, sizeof why), CMBOOT_ERR_PROTOCOL);
    /* A transport without the control op (an older vtable) cannot do it. */
    static const cmboot_transport_ops old = {.struct_size = offsetof(cmboot_transport_ops, control)};
    cmboot_transport t2 = {&old, &h};
    assert_int_equal(cmb_hub_port_power(&t2, 2, true, NULL, why, sizeof why), CMBOOT_ERR_UNSUPPORTED);
}

static void hub_superspeed_descriptor_after_stall(void **state)
{
    (void)state;
    fake_hub h;
    fake_init(&h, 0x0001);
    h.stall_29 = true;
    cmboot_transport t = {&fh_ops, &h};
    char why[256] = "";
    assert_int_equal(cmb_hub_port_power(&t, 4, true, NULL, why, sizeof why), CMBOOT_OK);
    assert_int_equal(h.ncalls, 3);
    assert_int_equal(h.calls[0].value, 0x2900);
    assert_int_equal(h.calls[1].value, 0x2A00);
    assert_int_equal(h.calls[2].req, 3);
}

static void gpio_spec_cases(void **state)
{
    (void)state;
    cmb_gpio_spec s;
    assert_int_equal(cmb_gpio_spec_parse("gpiochip0:5", true, &s), CMBOOT_OK);
    assert_string_equal(s.chip, "gpiochip0");
    assert_string_equal(s.line, "5");
    assert_true(s.active_low);
    assert_int_equal(cmb_gpio_spec_parse("gpiochip0:5=high", true, &s), CMBOOT_OK);
    assert_false(s.active_low);
    assert_int_equal(cmb_gpio_spec_parse("/dev/gpiochip1:nRPIBOOT=low", false, &s), CMBOOT_OK);
    assert_string_equal(s.chip, "/dev/gpiochip1");
    assert_string_equal(s.line, "nRPIBOOT");
    assert_true(s.active_low);
    assert_int_equal(cmb_gpio_spec_parse("cp2112:odd:label:GPIO3", false, &s), CMBOOT_OK); /* last ':' splits */
    assert_string_equal(s.chip, "cp2112:odd:label");
    assert_string_equal(s.line, "GPIO3");
    const char *bad[] = {"",    "gpiochip0", ":5", "gpiochip0:", "gpiochip0:5=", "gpiochip0:5=mid", "gpiochip0:=low",
                         "=low"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cmb_gpio_spec_parse(bad[i], false, &s), CMBOOT_ERR_INVALID_ARG);
}

static void hub_spec_cases(void **state)
{
    (void)state;
    cmb_hub_spec s;
    assert_int_equal(cmb_hub_spec_parse("1-1.2:3", &s), CMBOOT_OK);
    assert_string_equal(s.path, "1-1.2");
    assert_int_equal(s.port, 3);
    assert_int_equal(cmb_hub_spec_parse("2-1:255", &s), CMBOOT_OK);
    assert_int_equal(s.port, 255);
    const char *bad[] = {"1-1.2",   "1-1.2:", "1-1.2:0", "1-1.2:256", "1-1.2:03",
                         "1-1.2:x", ":3",     "usb1:3",  "1-1.2:3:4", "1-1.2:99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cmb_hub_spec_parse(bad[i], &s), CMBOOT_ERR_INVALID_ARG);
}

static void hook_argv_placeholder_and_quotes(void **state)
{
    (void)state;
    char buf[1024];
    char *argv[16];
    assert_int_equal(cmb_hook_argv("relay 'port 3' {on|off}", "on", false, buf, sizeof buf, argv, 16), CMBOOT_OK);
    assert_string_equal(argv[0], "relay");
    assert_string_equal(argv[1], "port 3");
    assert_string_equal(argv[2], "on");
    assert_null(argv[3]);
    /* Inside a word, "{}" and only the first placeholder. */
    assert_int_equal(cmb_hook_argv("ctl --mode={} x{}", "usb", false, buf, sizeof buf, argv, 16), CMBOOT_OK);
    assert_string_equal(argv[1], "--mode=usb");
    assert_string_equal(argv[2], "x{}");
    /* No placeholder: the action is appended. */
    assert_int_equal(cmb_hook_argv("\"my relay\"", "off", false, buf, sizeof buf, argv, 16), CMBOOT_OK);
    assert_string_equal(argv[0], "my relay");
    assert_string_equal(argv[1], "off");
    assert_null(argv[2]);
    /* Shell: one command line for sh -c. */
    assert_int_equal(cmb_hook_argv("relay 3 {usb|normal} | logger", "normal", true, buf, sizeof buf, argv, 16),
                     CMBOOT_OK);
    assert_string_equal(argv[0], "/bin/sh");
    assert_string_equal(argv[1], "-c");
    assert_string_equal(argv[2], "relay 3 normal | logger");
    assert_int_equal(cmb_hook_argv("relay 'open", "on", false, buf, sizeof buf, argv, 16), CMBOOT_ERR_FORMAT);
    assert_int_equal(cmb_hook_argv("   ", "on", false, buf, sizeof buf, argv, 16), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmb_hook_argv("a b c d e f g h i j k l m n o p q", "on", false, buf, sizeof buf, argv, 16),
                     CMBOOT_ERR_TOO_LARGE);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(hub_power_on_sends_set_port_feature),
    cmocka_unit_test(hub_power_off_sends_clear_port_feature),
    cmocka_unit_test(hub_ganged_or_unswitched_refused),
    cmocka_unit_test(hub_port_out_of_range),
    cmocka_unit_test(hub_stall_and_bad_descriptor),
    cmocka_unit_test(hub_superspeed_descriptor_after_stall),
    cmocka_unit_test(gpio_spec_cases),
    cmocka_unit_test(hub_spec_cases),
    cmocka_unit_test(hook_argv_placeholder_and_quotes),
};

CMBOOT_TEST_MAIN(tests)
