/* Unit tests of `cmboot flash`'s board-control cycle (cli/flash_cycle.c built in): the VID:PID option, the sysfs
 * look for the normal-mode device, and the steps of a whole cycle (hooks: `true`) in the report. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../cli/flash_cycle.c"
#include "../../cli/output.c"
#include "../../cli/signals.c"
#include "testutil.h"

static void put(const char *root, const char *dev, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/bus/usb/devices/%s", root, dev);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/bus/usb/devices/%s/%s", root, dev, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", text);
    fclose(f);
}

/* A fake /sys: 1-1 and 1-2 both 0525:a4aa (serials X1 and Y2), 1-3 without a serial, an interface 1-1:1.0. */
static char *fake_sys(void)
{
    char *root = test_tmpdir("cycle");
    char p[512];
    snprintf(p, sizeof p, "%s/bus", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/bus/usb", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/bus/usb/devices", root);
    mkdir(p, 0755);
    const char *devs[] = {"1-1", "1-2", "1-3", "1-1:1.0"};
    for (int i = 0; i < 4; i++) {
        put(root, devs[i], "idVendor", "0525");
        put(root, devs[i], "idProduct", "a4aa");
    }
    put(root, "1-1", "serial", "X1");
    put(root, "1-2", "serial", "Y2");
    return root;
}

static void parses_vid_pid(void **state)
{
    (void)state;
    uint16_t v = 0, p = 0;
    assert_int_equal(flash_cycle_parse_usb_id("0525:a4AA", &v, &p), 0);
    assert_int_equal(v, 0x0525);
    assert_int_equal(p, 0xa4aa);
    const char *bad[] = {"", "0525", "0525:a4a", "0525-a4aa", "0525:a4aag", "x525:a4aa", "0525:a4aa0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(flash_cycle_parse_usb_id(bad[i], &v, &p), -1);
}

static void finds_the_device_by_port_and_serial(void **state)
{
    (void)state;
    char *root = fake_sys();
    char found[64] = "";
    assert_int_equal(flash_cycle_find_device(root, 0x0525, 0xa4aa, "1-1", "X1", found, sizeof found), 1);
    assert_string_equal(found, "1-1");
    /* another board's serial at that port: not it */
    assert_int_equal(flash_cycle_find_device(root, 0x0525, 0xa4aa, "1-1", "Y2", found, sizeof found), 0);
    found[0] = 0;
    assert_int_equal(flash_cycle_find_device(root, 0x0525, 0xa4aa, NULL, "Y2", found, sizeof found), 1);
    assert_string_equal(found, "1-2");
    /* a device without a serial matches on its port */
    assert_int_equal(flash_cycle_find_device(root, 0x0525, 0xa4aa, "1-3", "Z3", found, sizeof found), 1);
    assert_string_equal(found, "1-3");
    assert_int_equal(flash_cycle_find_device(root, 0x0525, 0xa4ab, NULL, NULL, found, sizeof found), 0);
    /* interfaces are no devices */
    assert_int_equal(flash_cycle_find_device(root, 0x0525, 0xa4aa, "1-1:1.0", NULL, found, sizeof found), 0);
    assert_int_equal(flash_cycle_find_device("/nonexistent", 0x0525, 0xa4aa, NULL, NULL, found, sizeof found), 0);
    free(root);
}

static flash_cycle hook_cycle(const char *root, int64_t timeout_ms)
{
    cmboot_control_config cfg;
    cmboot_control_config_default(&cfg);
    cfg.power_cmd = "true {on|off}";
    cfg.boot_mode_cmd = "true {usb|normal}";
    flash_cycle fc = {
        .off_ms = 10, .expect = true, .vid = 0x0525, .pid = 0xa4aa, .normal_timeout_ms = timeout_ms, .sys_root = root};
    assert_int_equal(cmboot_control_new(&cfg, &fc.ctl), CMBOOT_OK);
    return fc;
}

/* The names and results of the report's control array, "name=result " each. */
static void control_list(const char *text, char *out, size_t size)
{
    json_object *o = json_tokener_parse(text), *arr = NULL;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "control", &arr));
    out[0] = 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *s = json_object_array_get_idx(arr, i), *n = NULL, *r = NULL;
        assert_true(json_object_object_get_ex(s, "name", &n) && json_object_object_get_ex(s, "result", &r));
        snprintf(out + strlen(out), size - strlen(out), "%s=%s ", json_object_get_string(n), json_object_get_string(r));
    }
    json_object_put(o);
}

static void whole_cycle_reports_every_step_in_order(void **state)
{
    (void)state;
    char *root = fake_sys();
    flash_cycle fc = hook_cycle(root, 5000);
    assert_int_equal(flash_cycle_start(&fc), CMBOOT_OK);
    assert_int_equal(flash_cycle_finish(&fc, "1-2", "Y2"), CMBOOT_OK);
    char *text = flash_cycle_report(&fc, "{\"result\":\"ok\"}");
    assert_non_null(text);
    assert_non_null(strstr(text, "\"result\":\"ok\",\"control\":"));
    assert_non_null(strstr(text, "\"detail\":\"0525:a4aa at 1-2 serial Y2\""));
    char list[1024];
    control_list(text, list, sizeof list);
    assert_string_equal(list, "boot-mode-usb=ok power-off=ok wait=ok power-on=ok boot-mode-normal=ok power-off=ok "
                              "wait=ok power-on=ok normal-check=ok release=ok ");
    free(text);
    cmboot_control_free(fc.ctl);
    free(root);
}

static void normal_device_missing_times_out(void **state)
{
    (void)state;
    char *root = fake_sys();
    flash_cycle fc = hook_cycle(root, 150);
    assert_int_equal(flash_cycle_start(&fc), CMBOOT_OK);
    int64_t t = cmboot_now_ms();
    assert_int_equal(flash_cycle_finish(&fc, "1-4", NULL), CMBOOT_ERR_TIMEOUT);
    assert_true(cmboot_now_ms() - t >= 150);
    char *text = flash_cycle_report(&fc, NULL);
    char list[1024];
    control_list(text, list, sizeof list);
    assert_non_null(strstr(list, "normal-check=CMBOOT_ERR_TIMEOUT release=ok "));
    free(text);
    cmboot_control_free(fc.ctl);
    free(root);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(parses_vid_pid),
    cmocka_unit_test(finds_the_device_by_port_and_serial),
    cmocka_unit_test(whole_cycle_reports_every_step_in_order),
    cmocka_unit_test(normal_device_missing_times_out),
};
CMBOOT_TEST_MAIN(tests)
