/* The one helper for the /sys, /dev, /proc and /run roots: defaults for NULL and "", joins that never cut. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "core/sysroot.h"
#include "os/linux/usbfs_node.h"

static void sysroot_defaults(void **state)
{
    (void)state;
    assert_string_equal(cmb_root_or(NULL, CMB_SYS_ROOT), "/sys");
    assert_string_equal(cmb_root_or("", CMB_DEV_ROOT), "/dev");
    assert_string_equal(cmb_root_or("/tmp/x", CMB_PROC_ROOT), "/tmp/x");
    cmb_sysroot *r = calloc(1, sizeof *r);
    assert_int_equal(cmb_sysroot_init(r, NULL, "", NULL, "/fake/run"), CMBOOT_OK);
    assert_string_equal(r->sys, "/sys");
    assert_string_equal(r->dev, "/dev");
    assert_string_equal(r->proc, "/proc");
    assert_string_equal(r->run, "/fake/run");
    /* a root that does not fit is an error, never a cut root */
    char *longroot = malloc(CMB_SYSROOT_MAX + 1);
    memset(longroot, 'a', CMB_SYSROOT_MAX);
    longroot[0] = '/';
    longroot[CMB_SYSROOT_MAX] = 0;
    assert_int_equal(cmb_sysroot_init(r, "/s", "/d", longroot, "/r"), CMBOOT_ERR_TOO_LARGE);
    assert_string_equal(r->proc, "");
    assert_string_equal(r->sys, "/s");
    longroot[CMB_SYSROOT_MAX - 1] = 0;
    assert_int_equal(cmb_sysroot_init(r, longroot, NULL, NULL, NULL), CMBOOT_OK);
    assert_int_equal(strlen(r->sys), CMB_SYSROOT_MAX - 1);
    free(longroot);
    free(r);
}

static void sysroot_join_bounded(void **state)
{
    (void)state;
    char p[32];
    assert_int_equal(cmb_path_join(p, sizeof p, NULL, CMB_SYS_ROOT, "/bus/usb/devices/%s", "1-1"), CMBOOT_OK);
    assert_string_equal(p, "/sys/bus/usb/devices/1-1");
    assert_int_equal(cmb_path_join(p, sizeof p, "", CMB_PROC_ROOT, "/self/mountinfo"), CMBOOT_OK);
    assert_string_equal(p, "/proc/self/mountinfo");
    assert_int_equal(cmb_path_join(p, sizeof p, "/t/sys", CMB_SYS_ROOT, "%s", ""), CMBOOT_OK);
    assert_string_equal(p, "/t/sys");
    /* exactly full (31 chars and the NUL) fits; one more does not, and leaves "" rather than a cut path */
    assert_int_equal(cmb_path_join(p, sizeof p, "/0123456789", NULL, "/%s", "0123456789012345678"), CMBOOT_OK);
    assert_int_equal(strlen(p), 31);
    assert_int_equal(cmb_path_join(p, sizeof p, "/0123456789", NULL, "/%s", "01234567890123456789"),
                     CMBOOT_ERR_TOO_LARGE);
    assert_string_equal(p, "");
    assert_int_equal(cmb_path_join(p, sizeof p, "/0123456789012345678901234567890123", NULL, "/x"),
                     CMBOOT_ERR_TOO_LARGE);
    assert_string_equal(p, "");
    assert_int_equal(cmb_path_join(p, 0, "/", NULL, "/x"), CMBOOT_ERR_INVALID_ARG);
}

/* A module's root parameter through the helper: NULL and "" both mean /dev (the usbfs node path). */
static void sysroot_used_by_usbfs(void **state)
{
    (void)state;
    char path[64];
    assert_int_equal(cmb_usbfs_node_path(path, sizeof path, NULL, 1, 5), CMBOOT_OK);
    assert_string_equal(path, "/dev/bus/usb/001/005");
    assert_int_equal(cmb_usbfs_node_path(path, sizeof path, "", 3, 120), CMBOOT_OK);
    assert_string_equal(path, "/dev/bus/usb/003/120");
    assert_int_equal(cmb_usbfs_node_path(path, 10, "/dev", 3, 120), CMBOOT_ERR_TOO_LARGE);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(sysroot_defaults),
    cmocka_unit_test(sysroot_join_bounded),
    cmocka_unit_test(sysroot_used_by_usbfs),
};
CMBOOT_TEST_MAIN(tests)
