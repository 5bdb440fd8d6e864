/* USB GPIO bridge model (CP2112): descriptors, HID feature reports, pin levels, refused reports. */
#include "testutil.h"

#include <string.h>
#include "model/sim_cp2112.h"

/* ---- a hand-driven host: the requests hid-core and usbhid send ---- */

static sim_status get_report(sim_cp2112 *c, uint8_t type, uint8_t id, uint16_t len, uint8_t *buf, size_t *n)
{
    uint8_t s[8] = {0xa1, 0x01, id, type, 0, 0, (uint8_t)len, (uint8_t)(len >> 8)};
    return sim_cp2112_control(c, s, buf, n);
}

static sim_status set_report(sim_cp2112 *c, uint8_t type, uint8_t id, const uint8_t *data, uint16_t len)
{
    uint8_t s[8] = {0x21, 0x09, id, type, 0, 0, (uint8_t)len, (uint8_t)(len >> 8)};
    uint8_t buf[64];
    memcpy(buf, data, len);
    size_t n = 0;
    return sim_cp2112_control(c, s, buf, &n);
}

static int get_desc(sim_cp2112 *c, uint8_t recipient, uint8_t type, uint8_t index, uint8_t *buf, uint16_t len)
{
    uint8_t s[8] = {(uint8_t)(0x80 | recipient), 6, index, type, 0, 0, (uint8_t)len, (uint8_t)(len >> 8)};
    size_t n = 0;
    return sim_cp2112_control(c, s, buf, &n) == SIM_OK ? (int)n : -1;
}

static sim_cp2112 fresh(void)
{
    sim_cp2112 c;
    sim_cp2112_init(&c, "b1d9e001");
    return c;
}

/* ---- tests ---- */

static void test_descriptors_make_a_hid_device(void **state)
{
    (void)state;
    sim_cp2112 c = fresh();
    uint8_t d[256];
    assert_int_equal(get_desc(&c, 0, 1, 0, d, 18), 18);
    assert_int_equal(d[8] | d[9] << 8, 0x10c4);
    assert_int_equal(d[10] | d[11] << 8, 0xea90);
    int n = get_desc(&c, 0, 2, 0, d, sizeof d);
    assert_true(n > 9);
    assert_int_equal(d[2] | d[3] << 8, n);
    /* interface 0 is HID, its HID descriptor names the report descriptor, both endpoints are interrupt */
    int rlen = -1, interrupts = 0;
    bool hid_interface = false;
    for (int off = 0; off + 2 <= n; off += d[off]) {
        if (d[off + 1] == 4)
            hid_interface = d[off + 5] == 0x03;
        if (d[off + 1] == 0x21)
            rlen = d[off + 7] | d[off + 8] << 8;
        if (d[off + 1] == 5 && (d[off + 3] & 3) == 3)
            interrupts++;
    }
    assert_true(hid_interface);
    assert_int_equal(interrupts, 2);
    uint8_t r[512];
    assert_int_equal(get_desc(&c, 1, 0x22, 0, r, sizeof r), rlen);
    /* the serial string is the configured one */
    n = get_desc(&c, 0, 3, 3, d, sizeof d);
    assert_int_equal(n, 2 + 2 * 8);
    assert_int_equal(d[2], 'b');
    assert_int_equal(d[16], '1');
}

/* Every report the driver asks for is declared as a feature report with its size (hid-core parses these). */
static void test_report_descriptor_declares_feature_reports(void **state)
{
    (void)state;
    sim_cp2112 c = fresh();
    uint8_t r[512];
    int n = get_desc(&c, 1, 0x22, 0, r, sizeof r);
    assert_true(n > 0);
    static const struct {
        uint8_t id, size;
    } want[] = {{0x02, 4}, {0x03, 1}, {0x04, 2}, {0x05, 2}, {0x06, 13}, {0x20, 1}, {0x21, 9}};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        bool found = false;
        for (int i = 0; i + 7 < n; i++)
            if (r[i] == 0x85 && r[i + 1] == want[k].id && r[i + 4] == 0x95 && r[i + 5] == want[k].size &&
                r[i + 6] == 0xb1)
                found = true;
        assert_true(found);
    }
    assert_int_equal(r[n - 1], 0xc0);
}

static void test_version_report(void **state)
{
    (void)state;
    sim_cp2112 c = fresh();
    uint8_t b[8];
    size_t n = 0;
    assert_int_equal(get_report(&c, 3, 0x05, 3, b, &n), SIM_OK);
    assert_int_equal(n, 3);
    assert_int_equal(b[0], 0x05);
    assert_int_equal(b[1], 0x0c);
}

static void test_gpio_config_round_trip(void **state)
{
    (void)state;
    sim_cp2112 c = fresh();
    uint8_t b[8];
    size_t n = 0;
    assert_int_equal(get_report(&c, 3, 0x02, 5, b, &n), SIM_OK);
    assert_int_equal(n, 5);
    assert_int_equal(b[1], 0x00); /* power-on: every pin an input */
    const uint8_t cfg[5] = {0x02, 0x83, 0xff, 0x00, 0x00};
    assert_int_equal(set_report(&c, 3, 0x02, cfg, 5), SIM_OK);
    assert_int_equal(get_report(&c, 3, 0x02, 5, b, &n), SIM_OK);
    assert_memory_equal(b, cfg, 5);
    /* a short GET_REPORT gets the start of the report */
    assert_int_equal(get_report(&c, 3, 0x02, 2, b, &n), SIM_OK);
    assert_int_equal(n, 2);
}

static void test_gpio_set_get_and_levels(void **state)
{
    (void)state;
    sim_cp2112 c = fresh();
    uint8_t b[8];
    size_t n = 0;
    assert_int_equal(sim_cp2112_levels(&c), 0xff); /* pulled up */
    /* GPIO.0 and GPIO.1 outputs (latches still 1: high) */
    const uint8_t cfg[5] = {0x02, 0x03, 0xff, 0x00, 0x00};
    assert_int_equal(set_report(&c, 3, 0x02, cfg, 5), SIM_OK);
    assert_int_equal(sim_cp2112_levels(&c), 0xff);
    /* drive GPIO.1 low, as the driver does: value 0, mask 1 << 1 */
    const uint8_t low1[3] = {0x04, 0x00, 0x02};
    assert_int_equal(set_report(&c, 3, 0x04, low1, 3), SIM_OK);
    assert_int_equal(get_report(&c, 3, 0x03, 2, b, &n), SIM_OK);
    assert_int_equal(n, 2);
    assert_int_equal(b[0], 0x03);
    assert_int_equal(b[1], 0xfd);
    /* the mask keeps the other latches: GPIO.0 high again changes only GPIO.0 */
    const uint8_t high0[3] = {0x04, 0xff, 0x01};
    assert_int_equal(set_report(&c, 3, 0x04, high0, 3), SIM_OK);
    assert_int_equal(sim_cp2112_levels(&c), 0xfd);
    /* a latch at 0 on an input pin drives nothing: the pull-up wins */
    const uint8_t low7[3] = {0x04, 0x00, 0x80};
    assert_int_equal(set_report(&c, 3, 0x04, low7, 3), SIM_OK);
    assert_int_equal(sim_cp2112_levels(&c), 0xfd);
    /* making it an output drives the latched 0 */
    const uint8_t out7[5] = {0x02, 0x83, 0xff, 0x00, 0x00};
    assert_int_equal(set_report(&c, 3, 0x02, out7, 5), SIM_OK);
    assert_int_equal(sim_cp2112_levels(&c), 0x7d);
    assert_int_equal(c.gpio_sets, 5);
    assert_int_equal(c.refused, 0);
}

static void test_smbus_config_round_trip(void **state)
{
    (void)state;
    sim_cp2112 c = fresh();
    uint8_t b[16];
    size_t n = 0;
    assert_int_equal(get_report(&c, 3, 0x06, 14, b, &n), SIM_OK);
    assert_int_equal(n, 14);
    assert_int_equal(b[0], 0x06);
    b[12] = 0x00;
    b[13] = 0x01; /* retry_time 1, as the driver's probe sets it */
    assert_int_equal(set_report(&c, 3, 0x06, b, 14), SIM_OK);
    uint8_t again[16];
    assert_int_equal(get_report(&c, 3, 0x06, 14, again, &n), SIM_OK);
    assert_memory_equal(again, b, 14);
}

static void test_bad_reports_refused(void **state)
{
    (void)state;
    sim_cp2112 c = fresh();
    uint8_t b[64];
    size_t n = 0;
    assert_int_equal(get_report(&c, 3, 0x07, 8, b, &n), SIM_STALL);  /* no such report */
    assert_int_equal(get_report(&c, 3, 0x04, 3, b, &n), SIM_STALL);  /* GPIO set cannot be read */
    assert_int_equal(get_report(&c, 1, 0x02, 5, b, &n), SIM_STALL);  /* 0x02 is a feature, not an input */
    assert_int_equal(get_report(&c, 3, 0x13, 64, b, &n), SIM_STALL); /* an input report, not a feature */
    const uint8_t cfg[6] = {0x02, 0xff, 0xff, 0x00, 0x00, 0x00};
    assert_int_equal(set_report(&c, 3, 0x02, cfg, 6), SIM_STALL); /* too long */
    assert_int_equal(set_report(&c, 3, 0x02, cfg, 4), SIM_STALL); /* too short */
    const uint8_t wrong_id[5] = {0x04, 0xff, 0xff, 0x00, 0x00};
    assert_int_equal(set_report(&c, 3, 0x02, wrong_id, 5), SIM_STALL); /* data[0] is not the report ID */
    const uint8_t get_only[2] = {0x03, 0x00};
    assert_int_equal(set_report(&c, 3, 0x03, get_only, 2), SIM_STALL); /* GPIO get cannot be written */
    const uint8_t as_output[3] = {0x04, 0x00, 0xff};
    assert_int_equal(set_report(&c, 2, 0x04, as_output, 3), SIM_STALL); /* an output report on the control pipe */
    assert_int_equal(c.refused, 9);
    /* nothing refused changed anything */
    assert_int_equal(c.direction, 0);
    assert_int_equal(c.latch, 0xff);
    assert_int_equal(c.gpio_sets, 0);
    /* a request for another interface is not ours */
    uint8_t s[8] = {0xa1, 0x01, 0x05, 0x03, 1, 0, 3, 0};
    assert_int_equal(sim_cp2112_control(&c, s, b, &n), SIM_STALL);
}

static void test_reset_report_restores_power_on_state(void **state)
{
    (void)state;
    sim_cp2112 c = fresh();
    const uint8_t cfg[5] = {0x02, 0x0f, 0xff, 0x00, 0x00};
    const uint8_t low[3] = {0x04, 0x00, 0x0f};
    assert_int_equal(set_report(&c, 3, 0x02, cfg, 5), SIM_OK);
    assert_int_equal(set_report(&c, 3, 0x04, low, 3), SIM_OK);
    assert_int_equal(sim_cp2112_levels(&c), 0xf0);
    const uint8_t reset[2] = {0x01, 0x01};
    assert_int_equal(set_report(&c, 3, 0x01, reset, 2), SIM_OK);
    assert_int_equal(sim_cp2112_levels(&c), 0xff);
    assert_int_equal(c.direction, 0);
    /* a USB reset keeps the pins as they are */
    assert_int_equal(set_report(&c, 3, 0x02, cfg, 5), SIM_OK);
    assert_int_equal(set_report(&c, 3, 0x04, low, 3), SIM_OK);
    sim_cp2112_usb_reset(&c);
    assert_int_equal(sim_cp2112_levels(&c), 0xf0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_descriptors_make_a_hid_device),
    cmocka_unit_test(test_report_descriptor_declares_feature_reports),
    cmocka_unit_test(test_version_report),
    cmocka_unit_test(test_gpio_config_round_trip),
    cmocka_unit_test(test_gpio_set_get_and_levels),
    cmocka_unit_test(test_smbus_config_round_trip),
    cmocka_unit_test(test_bad_reports_refused),
    cmocka_unit_test(test_reset_report_restores_power_on_state),
};

CMBOOT_TEST_MAIN(tests)
