/* Pairing: the disk under the board's port path in a fake sysfs tree, exactly one, openable, with a deadline. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cmboot/device.h"
#include "cmboot/error.h"
#include "cmboot/flash.h"

typedef struct fake {
    char *root;
    char sys[4096];
    char dev[4096];
    cmboot_target_env env;
} fake;

static fake *make_fake(void)
{
    fake *f = calloc(1, sizeof *f);
    f->root = test_tmpdir("pair");
    snprintf(f->sys, sizeof f->sys, "%s/sys", f->root);
    snprintf(f->dev, sizeof f->dev, "%s/dev", f->root);
    test_write_file(f->dev, ".keep", "", 0);
    cmboot_target_env_default(&f->env);
    f->env.sys_root = f->sys;
    f->env.dev_root = f->dev;
    return f;
}

static void free_fake(fake *f)
{
    test_rmtree(f->root);
    free(f->root);
    free(f);
}

/* A USB device at port path pp (sysfs links bus/usb/devices/<pp> into devices/), with a disk. */
static void add_disk(fake *f, const char *pp, const char *lun, const char *name, const char *size)
{
    char rel[4096], link[4096], target[4096];
    snprintf(rel, sizeof rel, "devices/pci0000:00/usb/%s", pp);
    snprintf(link, sizeof link, "%s/bus/usb/devices/%s", f->sys, pp);
    snprintf(target, sizeof target, "%s/%s", f->sys, rel);
    test_write_file(target, ".keep", "", 0);
    test_write_file(f->sys, "bus/usb/devices/.keep", "", 0);
    if (access(link, F_OK) != 0)
        assert_int_equal(symlink(target, link), 0);
    char p[4096];
    snprintf(p, sizeof p, "%s/%s:1.0/host3/target3:0:0/%s/block/%s", target, pp, lun, name);
    test_write_file(p, "size", size, strlen(size));
    test_write_file(f->dev, name, "", 0);
}

/* A disk with its SCSI device's INQUIRY strings, as sysfs shows them (vendor 8, model 16 characters). */
static void add_disk_strings(fake *f, const char *pp, const char *hctl, const char *name, const char *size,
                             const char *vendor, const char *model)
{
    add_disk(f, pp, hctl, name, size);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/devices/pci0000:00/usb/%s/%s:1.0/host3/target3:0:0/%s", f->sys, pp, pp, hctl);
    char v[32], m[32];
    snprintf(v, sizeof v, "%-8s\n", vendor);
    snprintf(m, sizeof m, "%-16s\n", model);
    test_write_file(dir, "vendor", v, strlen(v));
    test_write_file(dir, "model", m, strlen(m));
}

/* The emulator's two-LUN gadget: LUN 0 an eMMC, LUN 1 an NVMe drive. */
static fake *two_luns(void)
{
    fake *f = make_fake();
    add_disk_strings(f, "1-3", "3:0:0:0", "sdb", "65536\n", "RPi-MSD-", "cmboot-sim eMMC");
    add_disk_strings(f, "1-3", "3:0:0:1", "sdc", "131072\n", "nvme0n1", "");
    add_disk_strings(f, "1-4", "4:0:0:1", "sdd", "131072\n", "nvme0n1", ""); /* another board's */
    return f;
}

static int select_disk(fake *f, int lun, const char *kind, char *out, size_t out_size, char *reason, size_t rsize)
{
    return cmboot_flash_pair_select(&f->env, "1-3", lun, kind, cmboot_now_ms() + 2000, NULL, out, out_size, reason,
                                    rsize);
}

static void pair_chooses_by_lun(void **state)
{
    (void)state;
    fake *f = two_luns();
    char out[4200], reason[512], want[4200];
    assert_int_equal(select_disk(f, 1, NULL, out, sizeof out, reason, sizeof reason), CMBOOT_OK);
    snprintf(want, sizeof want, "%s/sdc", f->dev);
    assert_string_equal(out, want);
    assert_int_equal(select_disk(f, 0, NULL, out, sizeof out, reason, sizeof reason), CMBOOT_OK);
    snprintf(want, sizeof want, "%s/sdb", f->dev);
    assert_string_equal(out, want);
    /* LUN and kind together must both hold */
    assert_int_equal(select_disk(f, 0, "emmc", out, sizeof out, reason, sizeof reason), CMBOOT_OK);
    assert_int_equal(select_disk(f, 0, "nvme", out, sizeof out, reason, sizeof reason), CMBOOT_ERR_NOT_FOUND);
    free_fake(f);
}

static void pair_chooses_by_kind(void **state)
{
    (void)state;
    fake *f = two_luns();
    char out[4200], reason[512], want[4200];
    assert_int_equal(select_disk(f, -1, "nvme", out, sizeof out, reason, sizeof reason), CMBOOT_OK);
    snprintf(want, sizeof want, "%s/sdc", f->dev);
    assert_string_equal(out, want);
    assert_int_equal(select_disk(f, -1, "emmc", out, sizeof out, reason, sizeof reason), CMBOOT_OK);
    snprintf(want, sizeof want, "%s/sdb", f->dev);
    assert_string_equal(out, want);
    /* no SD card on this board: refused with the list once it stayed so for a moment, not at the deadline */
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_flash_pair_select(&f->env, "1-3", -1, "sd", cmboot_now_ms() + 20000, NULL, out, sizeof out,
                                              reason, sizeof reason),
                     CMBOOT_ERR_NOT_FOUND);
    assert_true(cmboot_now_ms() - t0 < 10000);
    assert_non_null(strstr(reason, "no SD disk under port 1-3"));
    assert_non_null(strstr(reason, "sdb (LUN 0"));
    assert_non_null(strstr(reason, "sdc (LUN 1"));
    assert_non_null(strstr(reason, "--lun"));
    free_fake(f);
}

/* The usbboot gadget names each disk by its kernel device ("mmcblk0", "nvme0n1"), each LUN 0 of its own
 * interface (its own SCSI host): mmcblk answers either eMMC or SD. */
static void pair_kind_from_usbboot_gadget_names(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk_strings(f, "2-1", "5:0:0:0", "sde", "65536\n", "mmcblk0", "");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/devices/pci0000:00/usb/2-1/2-1:1.1/host6/target6:0:0/6:0:0:0", f->sys);
    char blk[4200];
    snprintf(blk, sizeof blk, "%s/block/sdf", dir);
    test_write_file(blk, "size", "131072\n", 7);
    test_write_file(dir, "vendor", "nvme0n1 \n", 9);
    test_write_file(dir, "model", "                \n", 17);
    test_write_file(f->dev, "sdf", "", 0);
    char out[4200], reason[512];
    assert_int_equal(cmboot_flash_pair_select(&f->env, "2-1", -1, "nvme", cmboot_now_ms() + 2000, NULL, out, sizeof out,
                                              reason, sizeof reason),
                     CMBOOT_OK);
    assert_non_null(strstr(out, "/sdf"));
    assert_int_equal(cmboot_flash_pair_select(&f->env, "2-1", -1, "sd", cmboot_now_ms() + 2000, NULL, out, sizeof out,
                                              reason, sizeof reason),
                     CMBOOT_OK);
    assert_non_null(strstr(out, "/sde"));
    assert_int_equal(cmboot_flash_pair_select(&f->env, "2-1", -1, "emmc", cmboot_now_ms() + 2000, NULL, out, sizeof out,
                                              reason, sizeof reason),
                     CMBOOT_OK);
    assert_non_null(strstr(out, "/sde"));
    /* both are LUN 0: --lun does not tell them apart, and says so */
    assert_int_equal(cmboot_flash_pair_select(&f->env, "2-1", 0, NULL, cmboot_now_ms() + 2000, NULL, out, sizeof out,
                                              reason, sizeof reason),
                     CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(reason, "\"mmcblk0\", eMMC or SD"));
    assert_non_null(strstr(reason, "\"nvme0n1\", NVMe"));
    free_fake(f);
}

static void pair_refuses_ambiguous_with_list(void **state)
{
    (void)state;
    fake *f = two_luns();
    char out[4200], reason[512];
    assert_int_equal(select_disk(f, -1, NULL, out, sizeof out, reason, sizeof reason), CMBOOT_ERR_UNSAFE_TARGET);
    assert_string_equal(reason, "2 disks under port 1-3: sdb (LUN 0, 32 MiB, \"RPi-MSD- cmboot-sim eMMC\", eMMC), "
                                "sdc (LUN 1, 64 MiB, \"nvme0n1\", NVMe); choose one with --lun N or --target-kind "
                                "emmc|nvme|sd (or give --target)");
    free_fake(f);
}

static void pair_refuses_bad_lun(void **state)
{
    (void)state;
    fake *f = two_luns();
    char out[4200], reason[512];
    assert_int_equal(select_disk(f, 5, NULL, out, sizeof out, reason, sizeof reason), CMBOOT_ERR_NOT_FOUND);
    assert_non_null(strstr(reason, "no LUN 5 under port 1-3; there: sdb (LUN 0"));
    assert_non_null(strstr(reason, "sdc (LUN 1"));
    assert_int_equal(select_disk(f, -2, NULL, out, sizeof out, reason, sizeof reason), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(select_disk(f, -1, "usb", out, sizeof out, reason, sizeof reason), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(select_disk(f, -1, "NVMe", out, sizeof out, reason, sizeof reason), CMBOOT_ERR_INVALID_ARG);
    free_fake(f);
}

static void *lun1_later(void *arg)
{
    fake *f = arg;
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    add_disk_strings(f, "1-6", "3:0:0:1", "sdc", "131072\n", "nvme0n1", "");
    return NULL;
}

/* sd attaches each LUN on its own: LUN 1's SCSI device is there before its disk. Asked for the NVMe LUN,
 * pairing waits for it instead of refusing on LUN 0 alone; without a choice it does not take LUN 0 as the only
 * disk either. */
static void pair_waits_for_a_probing_lun(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk_strings(f, "1-6", "3:0:0:0", "sdb", "65536\n", "RPi-MSD-", "cmboot-sim eMMC");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/devices/pci0000:00/usb/1-6/1-6:1.0/host3/target3:0:0/3:0:0:1", f->sys);
    test_write_file(dir, "type", "0\n", 2);
    char out[4200], reason[512];
    assert_int_equal(cmboot_flash_pair(&f->env, "1-6", cmboot_now_ms() + 200, out, sizeof out), CMBOOT_ERR_TIMEOUT);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, lun1_later, f), 0);
    int rc = cmboot_flash_pair_select(&f->env, "1-6", -1, "nvme", cmboot_now_ms() + 10000, NULL, out, sizeof out,
                                      reason, sizeof reason);
    pthread_join(th, NULL);
    assert_int_equal(rc, CMBOOT_OK);
    assert_non_null(strstr(out, "/sdc"));
    assert_string_equal(reason, "");
    free_fake(f);
}

/* A mass-storage interface of the board without its SCSI host yet: the one disk seen may not be the only one. */
static void pair_waits_for_every_interface(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk_strings(f, "1-5", "3:0:0:0", "sdb", "65536\n", "mmcblk0", "");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/devices/pci0000:00/usb/1-5/1-5:1.0", f->sys);
    test_write_file(dir, "bInterfaceClass", "08\n", 3);
    snprintf(dir, sizeof dir, "%s/devices/pci0000:00/usb/1-5/1-5:1.1", f->sys);
    test_write_file(dir, "bInterfaceClass", "08\n", 3);
    char out[4200];
    assert_int_equal(cmboot_flash_pair(&f->env, "1-5", cmboot_now_ms() + 150, out, sizeof out), CMBOOT_ERR_TIMEOUT);
    snprintf(dir, sizeof dir, "%s/devices/pci0000:00/usb/1-5/1-5:1.1/host4/target4:0:0/4:0:0:0/block/sdc", f->sys);
    test_write_file(dir, "size", "65536\n", 6);
    test_write_file(f->dev, "sdc", "", 0);
    assert_int_equal(cmboot_flash_pair(&f->env, "1-5", cmboot_now_ms() + 1000, out, sizeof out),
                     CMBOOT_ERR_UNSAFE_TARGET);
    free_fake(f);
}

static void pair_finds_the_board_disk(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk(f, "1-1.2", "3:0:0:0", "sdb", "2048\n");
    add_disk(f, "1-1.3", "4:0:0:0", "sdc", "4096\n"); /* another board's disk: never ours */
    char out[256];
    assert_int_equal(cmboot_flash_pair(&f->env, "1-1.3", cmboot_now_ms() + 1000, out, sizeof out), CMBOOT_OK);
    char want[4200];
    snprintf(want, sizeof want, "%s/sdc", f->dev);
    assert_string_equal(out, want);
    free_fake(f);
}

static void pair_refuses_two_disks(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk(f, "2-4", "3:0:0:0", "sdb", "2048\n");
    add_disk(f, "2-4", "3:0:0:1", "sdc", "2048\n");
    char out[256];
    assert_int_equal(cmboot_flash_pair(&f->env, "2-4", cmboot_now_ms() + 1000, out, sizeof out),
                     CMBOOT_ERR_UNSAFE_TARGET);
    free_fake(f);
}

static void pair_times_out_without_disk(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk(f, "1-1.2", "3:0:0:0", "sdb", "2048\n");
    char out[256];
    assert_int_equal(cmboot_flash_pair(&f->env, "1-1.4", cmboot_now_ms() + 150, out, sizeof out), CMBOOT_ERR_TIMEOUT);
    free_fake(f);
}

static void pair_waits_for_medium(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk(f, "1-1.2", "3:0:0:0", "sdb", "0\n"); /* no medium yet: not ready */
    char out[256];
    assert_int_equal(cmboot_flash_pair(&f->env, "1-1.2", cmboot_now_ms() + 150, out, sizeof out), CMBOOT_ERR_TIMEOUT);
    free_fake(f);
}

static void *appear_later(void *arg)
{
    fake *f = arg;
    struct timespec ts = {0, 120 * 1000 * 1000};
    nanosleep(&ts, NULL);
    add_disk(f, "3-1", "5:0:0:0", "sdd", "8192\n");
    return NULL;
}

static void pair_waits_for_late_disk(void **state)
{
    (void)state;
    fake *f = make_fake();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, appear_later, f), 0);
    char out[256];
    int rc = cmboot_flash_pair(&f->env, "3-1", cmboot_now_ms() + 10000, out, sizeof out);
    pthread_join(th, NULL);
    assert_int_equal(rc, CMBOOT_OK);
    assert_non_null(strstr(out, "/sdd"));
    free_fake(f);
}

typedef struct later_cancel {
    cmboot_flash_canceller *c;
    int64_t at_ms;
} later_cancel;

static void *cancel_later(void *arg)
{
    later_cancel *lc = arg;
    struct timespec ts = {1, 200 * 1000 * 1000}; /* past the back-off's growth: it waits 500 ms at a time */
    nanosleep(&ts, NULL);
    lc->at_ms = cmboot_now_ms();
    cmboot_flash_cancel(lc->c);
    return NULL;
}

static void pair_cancelled_from_another_thread(void **state)
{
    (void)state;
    fake *f = make_fake();
    later_cancel lc = {NULL, 0};
    assert_int_equal(cmboot_flash_canceller_new(&lc.c), CMBOOT_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &lc), 0);
    char out[256];
    int rc = cmboot_flash_pair_cancellable(&f->env, "1-1.4", cmboot_now_ms() + 20000, lc.c, out, sizeof out);
    int64_t back = cmboot_now_ms();
    pthread_join(th, NULL);
    assert_int_equal(rc, CMBOOT_ERR_CANCELLED);
    /* Woken by the canceller's fd, not by the next 500 ms back-off step. */
    assert_true(back - lc.at_ms < 250);
    /* Once cancelled, a new wait ends at once even though the disk is there. */
    add_disk(f, "1-1.4", "3:0:0:0", "sdb", "2048\n");
    assert_int_equal(cmboot_flash_pair_cancellable(&f->env, "1-1.4", cmboot_now_ms() + 20000, lc.c, out, sizeof out),
                     CMBOOT_ERR_CANCELLED);
    assert_int_equal(cmboot_flash_pair_cancellable(&f->env, "1-1.4", cmboot_now_ms() + 20000, NULL, out, sizeof out),
                     CMBOOT_OK);
    cmboot_flash_canceller_free(lc.c);
    free_fake(f);
}

/* The node exists but the kernel does not open it yet (ENXIO: sd still probing or resetting): not ready. A UNIX
 * socket stands for such a node: opening it fails with ENXIO. */
static void pair_waits_until_disk_opens(void **state)
{
    (void)state;
    fake *f = make_fake();
    add_disk(f, "1-1.2", "3:0:0:0", "sdb", "2048\n");
    char node[4200];
    snprintf(node, sizeof node, "%s/sdb", f->dev);
    assert_int_equal(unlink(node), 0);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(node) >= sizeof sa.sun_path) {
        close(s);
        free_fake(f);
        print_message("temporary path too long for a UNIX socket\n");
        skip();
    }
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", node);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    char out[256];
    assert_int_equal(cmboot_flash_pair(&f->env, "1-1.2", cmboot_now_ms() + 150, out, sizeof out), CMBOOT_ERR_TIMEOUT);
    close(s);
    assert_int_equal(unlink(node), 0);
    test_write_file(f->dev, "sdb", "", 0); /* the disk opens now */
    assert_int_equal(cmboot_flash_pair(&f->env, "1-1.2", cmboot_now_ms() + 1000, out, sizeof out), CMBOOT_OK);
    assert_string_equal(out, node);
    free_fake(f);
}

static void pair_rejects_bad_port_path(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(cmboot_flash_pair(NULL, "../1-1", cmboot_now_ms(), out, sizeof out), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmboot_flash_pair(NULL, "1-1/*", cmboot_now_ms(), out, sizeof out), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmboot_flash_pair(NULL, "", cmboot_now_ms(), out, sizeof out), CMBOOT_ERR_INVALID_ARG);
    /* made of digits, '-' and '.' but no port path (cmboot_port_path_valid): refused, not waited for */
    static const char *const odd[] = {"1-0", "01-1", "1-1..2", "1-", "-1", "1-1.2.3.4.5.6.7.8", "1-256", "1-1-1"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
        assert_int_equal(cmboot_flash_pair(NULL, odd[i], cmboot_now_ms(), out, sizeof out), CMBOOT_ERR_INVALID_ARG);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pair_finds_the_board_disk),
    cmocka_unit_test(pair_refuses_two_disks),
    cmocka_unit_test(pair_times_out_without_disk),
    cmocka_unit_test(pair_waits_for_medium),
    cmocka_unit_test(pair_waits_for_late_disk),
    cmocka_unit_test(pair_rejects_bad_port_path),
    cmocka_unit_test(pair_cancelled_from_another_thread),
    cmocka_unit_test(pair_waits_until_disk_opens),
    cmocka_unit_test(pair_chooses_by_lun),
    cmocka_unit_test(pair_chooses_by_kind),
    cmocka_unit_test(pair_kind_from_usbboot_gadget_names),
    cmocka_unit_test(pair_refuses_ambiguous_with_list),
    cmocka_unit_test(pair_refuses_bad_lun),
    cmocka_unit_test(pair_waits_for_every_interface),
    cmocka_unit_test(pair_waits_for_a_probing_lun),
};

CMBOOT_TEST_MAIN(tests)
