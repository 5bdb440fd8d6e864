/* The emulated board's normal mode (its own system's g_cdc-like gadget): identity, descriptors, start stage. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include "cmboot/error.h"
#include "model/sim_device.h"

static int get_desc(sim_device *d, uint8_t type, uint8_t index, uint8_t *buf, uint16_t len)
{
    uint8_t s[8] = {0x80, 6, index, type, 0, 0, (uint8_t)len, (uint8_t)(len >> 8)};
    size_t n = 0;
    return sim_device_control(d, s, buf, &n, 0) == SIM_OK ? (int)n : -1;
}

static sim_device *normal_board(const char *serial)
{
    sim_config cfg;
    sim_config_default(&cfg, CMBOOT_SOC_BCM2837);
    snprintf(cfg.serial, sizeof cfg.serial, "%s", serial);
    cfg.start_stage = SIM_STAGE_NORMAL;
    sim_device *d = NULL;
    assert_int_equal(sim_device_new(&cfg, &d), CMBOOT_OK);
    sim_event ev;
    assert_true(sim_device_take_event(d, &ev));
    assert_int_equal(ev.type, SIM_EV_CONNECT);
    assert_int_equal(ev.stage, SIM_STAGE_NORMAL);
    return d;
}

static void normal_mode_identity(void **state)
{
    (void)state;
    sim_device *d = normal_board("c3f00001");
    sim_identity id;
    sim_device_identity(d, &id);
    assert_int_equal(id.vid, 0x0525);
    assert_int_equal(id.pid, 0xa4aa);
    assert_false(id.full_speed);
    assert_int_equal(id.num_interfaces, 4);
    assert_string_equal(id.serial, "c3f00001");
    assert_string_equal(sim_stage_name(SIM_STAGE_NORMAL), "normal");
    /* the serial is reachable through iSerialNumber like on any gadget */
    uint8_t dev[18], str[64];
    assert_int_equal(get_desc(d, 1, 0, dev, sizeof dev), 18);
    assert_int_equal(dev[4], 0xef); /* interface associations */
    int n = get_desc(d, 3, dev[16], str, sizeof str);
    assert_int_equal(n, 2 + 2 * 8);
    assert_int_equal(str[2], 'c');
    assert_int_equal(str[16], '1');
    sim_device_free(d);
}

/* The configuration descriptor is well formed: wTotalLength, 4 interfaces (ECM control + data with two
 * alternate settings, ACM control + data), interrupt notifications and bulk data endpoints. */
static void normal_mode_configuration(void **state)
{
    (void)state;
    sim_device *d = normal_board("c3f00002");
    uint8_t c[256];
    int n = get_desc(d, 2, 0, c, sizeof c);
    assert_true(n > 9);
    assert_int_equal(c[2] | c[3] << 8, n);
    assert_int_equal(c[4], 4);
    int off = 0, interfaces = 0, alts = 0, interrupts = 0, bulks = 0, iads = 0;
    while (off + 2 <= n) {
        assert_true(c[off] >= 2 && off + c[off] <= n);
        if (c[off + 1] == 4)
            *(c[off + 3] == 0 ? &interfaces : &alts) += 1;
        if (c[off + 1] == 11)
            iads++;
        if (c[off + 1] == 5)
            *((c[off + 3] & 3) == 3 ? &interrupts : &bulks) += 1;
        off += c[off];
    }
    assert_int_equal(off, n);
    assert_int_equal(interfaces, 4);
    assert_int_equal(alts, 1);
    assert_int_equal(iads, 2);
    assert_int_equal(interrupts, 2);
    assert_int_equal(bulks, 4);
    /* the ECM MAC address string exists (index 5) */
    uint8_t mac[64];
    assert_int_equal(get_desc(d, 3, 5, mac, sizeof mac), 2 + 2 * 12);
    sim_device_free(d);
}

/* Normal mode stays: no re-enumeration is ever scheduled, nothing fails. */
static void normal_mode_stays_on_the_bus(void **state)
{
    (void)state;
    sim_device *d = normal_board("c3f00003");
    uint8_t setconf[8] = {0x00, 9, 1, 0, 0, 0, 0, 0};
    assert_int_equal(sim_device_control(d, setconf, NULL, NULL, 1), SIM_OK);
    assert_int_equal(sim_device_next_wakeup(d), INT64_MAX);
    sim_device_poll(d, 100000);
    sim_event ev;
    assert_false(sim_device_take_event(d, &ev));
    sim_result r;
    sim_device_result(d, &r);
    assert_int_equal(r.stage, SIM_STAGE_NORMAL);
    assert_int_equal(r.failures, 0);
    sim_device_free(d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(normal_mode_identity),
    cmocka_unit_test(normal_mode_configuration),
    cmocka_unit_test(normal_mode_stays_on_the_bus),
};

CMBOOT_TEST_MAIN(tests)
