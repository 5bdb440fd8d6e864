/* Whether the host kernel has usb-storage and sd_mod: one fake tree per state, doctor's finding, --via auto's choice.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/doctor.h"
#include "cmboot/error.h"
#include "cmboot/flash.h"

typedef struct tree {
    char *root;
    char sys[1024], proc[1024], mods[1024];
} tree;

static void put(tree *t, const char *rel, const char *text)
{
    test_write_file(t->root, rel, text, strlen(text));
}

/* A host with sysfs and /proc but no trace of either module, and empty module lists: both absent. */
static void tree_new(tree *t, const char *tag)
{
    memset(t, 0, sizeof *t);
    t->root = test_tmpdir(tag);
    snprintf(t->sys, sizeof t->sys, "%s/sys", t->root);
    snprintf(t->proc, sizeof t->proc, "%s/proc", t->root);
    snprintf(t->mods, sizeof t->mods, "%s/modules", t->root);
    put(t, "sys/bus/usb/devices/usb1/idVendor", "1d6b\n");
    put(t, "proc/modules", "xhci_hcd 1 0 - Live 0x0\n");
    put(t, "modules/modules.dep", "kernel/drivers/usb/host/xhci-hcd.ko:\n");
    put(t, "modules/modules.builtin", "kernel/drivers/usb/core/usbcore.ko\n");
}

static void tree_free(tree *t)
{
    test_rmtree(t->root);
    free(t->root);
}

static void states(tree *t, cmboot_host_module us, cmboot_host_module sd)
{
    cmboot_host_module a = 99, b = 99;
    assert_int_equal(cmboot_host_usb_storage(t->sys, t->proc, t->mods, &a, &b), CMBOOT_OK);
    if (a != us || b != sd)
        fail_msg("usb-storage %s (want %s), sd_mod %s (want %s)", cmboot_host_module_name(a),
                 cmboot_host_module_name(us), cmboot_host_module_name(sd), cmboot_host_module_name(b));
}

/* --via auto for a board that came up as a USB disk on this tree. */
static int auto_for_disk(tree *t, char *why, size_t size)
{
    cmboot_target_env env;
    cmboot_target_env_default(&env);
    env.sys_root = t->sys;
    env.proc_root = t->proc;
    env.modules_dir = t->mods;
    return cmboot_flash_via_auto(&env, false, why, size);
}

static void absent_everywhere(void **state)
{
    (void)state;
    tree t;
    tree_new(&t, "us-absent");
    states(&t, CMBOOT_MODULE_ABSENT, CMBOOT_MODULE_ABSENT);
    char why[256];
    assert_int_equal(auto_for_disk(&t, why, sizeof why), CMBOOT_FLASH_VIA_FASTBOOT);
    assert_non_null(strstr(why, "no usb-storage"));
    tree_free(&t);
}

static void builtin_from_modules_builtin(void **state)
{
    (void)state;
    tree t;
    tree_new(&t, "us-builtin");
    put(&t, "modules/modules.builtin", "kernel/drivers/usb/storage/usb-storage.ko\nkernel/drivers/scsi/sd_mod.ko\n");
    states(&t, CMBOOT_MODULE_BUILTIN, CMBOOT_MODULE_BUILTIN);
    char why[256];
    assert_int_equal(auto_for_disk(&t, why, sizeof why), CMBOOT_FLASH_VIA_MSD);
    assert_non_null(strstr(why, "built-in"));
    tree_free(&t);
}

/* Built in with parameters: <sys>/module/usb_storage without initstate; loaded: with it. */
static void sys_module_tells_builtin_or_loaded(void **state)
{
    (void)state;
    tree t;
    tree_new(&t, "us-sysmod");
    put(&t, "sys/module/usb_storage/parameters/delay_use", "1\n");
    put(&t, "sys/module/sd_mod/initstate", "live\n");
    states(&t, CMBOOT_MODULE_BUILTIN, CMBOOT_MODULE_LOADED);
    assert_int_equal(auto_for_disk(&t, NULL, 0), CMBOOT_FLASH_VIA_MSD);
    tree_free(&t);
}

static void loaded_from_proc_modules(void **state)
{
    (void)state;
    tree t;
    tree_new(&t, "us-loaded");
    put(&t, "proc/modules", "usb_storage 81920 1 uas, Live 0x0\nsd_mod 61440 2 - Live 0x0\n");
    states(&t, CMBOOT_MODULE_LOADED, CMBOOT_MODULE_LOADED);
    assert_int_equal(auto_for_disk(&t, NULL, 0), CMBOOT_FLASH_VIA_MSD);
    tree_free(&t);
}

static void loadable_from_modules_dep(void **state)
{
    (void)state;
    tree t;
    tree_new(&t, "us-loadable");
    put(&t, "modules/modules.dep",
        "kernel/drivers/usb/storage/usb-storage.ko.xz: kernel/drivers/scsi/scsi_mod.ko.xz\n"
        "kernel/drivers/scsi/sd_mod.ko.zst: kernel/drivers/scsi/scsi_mod.ko.zst\n");
    states(&t, CMBOOT_MODULE_LOADABLE, CMBOOT_MODULE_LOADABLE);
    assert_int_equal(auto_for_disk(&t, NULL, 0), CMBOOT_FLASH_VIA_MSD);
    /* usb-storage there but no SCSI disk support: still no disk, so fastboot */
    put(&t, "modules/modules.dep", "kernel/drivers/usb/storage/usb-storage.ko:\n");
    states(&t, CMBOOT_MODULE_LOADABLE, CMBOOT_MODULE_ABSENT);
    assert_int_equal(auto_for_disk(&t, NULL, 0), CMBOOT_FLASH_VIA_FASTBOOT);
    tree_free(&t);
}

/* Without module lists nothing says "absent": unknown counts as present (nothing refused on a guess). A fake sysfs
 * tree without a modules_dir of its own never reads the real /lib/modules. */
static void unknown_without_lists(void **state)
{
    (void)state;
    tree t;
    tree_new(&t, "us-unknown");
    snprintf(t.mods, sizeof t.mods, "%s/nowhere", t.root);
    states(&t, CMBOOT_MODULE_UNKNOWN, CMBOOT_MODULE_UNKNOWN);
    assert_true(cmboot_host_module_usable(CMBOOT_MODULE_UNKNOWN));
    assert_false(cmboot_host_module_usable(CMBOOT_MODULE_ABSENT));
    assert_int_equal(auto_for_disk(&t, NULL, 0), CMBOOT_FLASH_VIA_MSD);
    cmboot_target_env env;
    cmboot_target_env_default(&env);
    env.sys_root = t.sys;
    env.proc_root = t.proc;
    assert_int_equal(cmboot_flash_via_auto(&env, false, NULL, 0), CMBOOT_FLASH_VIA_MSD);
    /* the driver registered in sysfs: active */
    put(&t, "sys/bus/usb/drivers/usb-storage/.keep", "");
    put(&t, "sys/bus/scsi/drivers/sd/.keep", "");
    states(&t, CMBOOT_MODULE_LOADED, CMBOOT_MODULE_LOADED);
    assert_int_equal(cmboot_host_usb_storage(t.sys, t.proc, t.mods, NULL, NULL), CMBOOT_ERR_INVALID_ARG);
    tree_free(&t);
}

/* A board that came up as the gadget is written through it whatever the host has. */
static void auto_follows_the_gadget(void **state)
{
    (void)state;
    tree t;
    tree_new(&t, "us-gadget");
    put(&t, "proc/modules", "usb_storage 81920 1 uas, Live 0x0\nsd_mod 61440 2 - Live 0x0\n");
    cmboot_target_env env;
    cmboot_target_env_default(&env);
    env.sys_root = t.sys;
    env.proc_root = t.proc;
    env.modules_dir = t.mods;
    char why[256];
    assert_int_equal(cmboot_flash_via_auto(&env, true, why, sizeof why), CMBOOT_FLASH_VIA_FASTBOOT);
    assert_non_null(strstr(why, "fastboot gadget"));
    tree_free(&t);
}

/* doctor's finding for each case, with the hint. */
static const cmboot_doctor_finding *doctor_on(tree *t, cmboot_doctor_report *rep)
{
    cmboot_doctor_config cfg;
    cmboot_doctor_config_default(&cfg);
    cfg.sys_root = t->sys;
    cfg.proc_root = t->proc;
    char dev[1100], run[1100];
    snprintf(dev, sizeof dev, "%s/dev", t->root);
    snprintf(run, sizeof run, "%s/run", t->root);
    cfg.dev_root = dev;
    cfg.run_root = run;
    cfg.modules_dir = t->mods;
    cfg.kernel_config = "/nonexistent";
    cfg.libusb_path = "/proc/self/exe";
    cfg.uid = 0;
    cfg.check_netlink = false;
    cfg.check_boot_files = false;
    assert_int_equal(cmboot_doctor_run(&cfg, rep), CMBOOT_OK);
    for (size_t i = 0; i < cmboot_doctor_report_findings(rep); i++) {
        const cmboot_doctor_finding *f = cmboot_doctor_report_finding(rep, i);
        if (strncmp(f->id, "usb-storage", 11) == 0)
            return f;
    }
    fail_msg("no usb-storage finding");
    return NULL;
}

static void doctor_reports_usb_storage(void **state)
{
    (void)state;
    tree t;
    tree_new(&t, "us-doctor");
    cmboot_doctor_report *rep = NULL;
    assert_int_equal(cmboot_doctor_report_new(&rep), CMBOOT_OK);
    const cmboot_doctor_finding *f = doctor_on(&t, rep);
    assert_string_equal(f->id, "usb-storage-absent");
    assert_int_equal(f->severity, CMBOOT_DOCTOR_WARN);
    assert_non_null(strstr(f->fix, "this kernel has no usb-storage: flash through fastboot (--via fastboot) or "
                                   "load/build usb-storage"));
    assert_non_null(strstr(f->text, "absent"));
    put(&t, "modules/modules.dep", "kernel/drivers/usb/storage/usb-storage.ko:\nkernel/drivers/scsi/sd_mod.ko:\n");
    f = doctor_on(&t, rep);
    assert_string_equal(f->id, "usb-storage");
    assert_int_equal(f->severity, CMBOOT_DOCTOR_OK);
    assert_non_null(strstr(f->text, "loadable"));
    snprintf(t.mods, sizeof t.mods, "%s/nowhere", t.root);
    f = doctor_on(&t, rep);
    assert_string_equal(f->id, "usb-storage-unknown");
    assert_int_equal(f->severity, CMBOOT_DOCTOR_INFO);
    cmboot_doctor_report_free(rep);
    tree_free(&t);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(absent_everywhere),
    cmocka_unit_test(builtin_from_modules_builtin),
    cmocka_unit_test(sys_module_tells_builtin_or_loaded),
    cmocka_unit_test(loaded_from_proc_modules),
    cmocka_unit_test(loadable_from_modules_dep),
    cmocka_unit_test(unknown_without_lists),
    cmocka_unit_test(auto_follows_the_gadget),
    cmocka_unit_test(doctor_reports_usb_storage),
};
CMBOOT_TEST_MAIN(tests)
