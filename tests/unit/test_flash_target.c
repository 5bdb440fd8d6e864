/* Target safety: every refusal against fake sysfs and mountinfo trees, plus regular files. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "flash_internal.h"

#define USB_HOST "devices/pci0000:00/0000:00:14.0/usb1"
#define SDB USB_HOST "/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
#define SDD USB_HOST "/1-2/1-2:1.0/host7/target7:0:0/7:0:0:0/block/sdd"
#define SDA "devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
#define SDC "devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sdc"
#define DM0 "devices/virtual/block/dm-0"

typedef struct tree {
    char *root;
    char sys[4096];
    char proc[4096];
    cmboot_target_env env;
    char reason[256];
} tree;

static void put(tree *t, const char *rel, const char *text)
{
    test_write_file(t->sys, rel, text, strlen(text));
}

static void link_to(tree *t, const char *rel_link, const char *rel_target)
{
    char l[4096], tg[4096];
    snprintf(l, sizeof l, "%s/%s", t->sys, rel_link);
    snprintf(tg, sizeof tg, "%s/%s", t->sys, rel_target);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", l);
    *strrchr(parent, '/') = 0;
    char mk[4200];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", parent);
    assert_int_equal(system(mk), 0);
    assert_int_equal(symlink(tg, l), 0);
}

static void disk(tree *t, const char *dir, const char *name, unsigned maj, unsigned min, const char *size)
{
    char p[4096], v[32];
    snprintf(v, sizeof v, "%u:%u\n", maj, min);
    snprintf(p, sizeof p, "%s/dev", dir);
    put(t, p, v);
    snprintf(p, sizeof p, "%s/size", dir);
    put(t, p, size);
    snprintf(p, sizeof p, "%s/holders/.keep", dir);
    put(t, p, "");
    snprintf(p, sizeof p, "dev/block/%u:%u", maj, min);
    link_to(t, p, dir);
    snprintf(p, sizeof p, "class/block/%s", name);
    link_to(t, p, dir);
}

static void part(tree *t, const char *diskdir, const char *name, unsigned maj, unsigned min)
{
    char dir[4096], p[4096];
    snprintf(dir, sizeof dir, "%s/%s", diskdir, name);
    disk(t, dir, name, maj, min, "1000\n");
    snprintf(p, sizeof p, "%s/partition", dir);
    put(t, p, "1\n");
}

static void mounts(tree *t, const char *text)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/self", t->proc);
    test_write_file(p, "mountinfo", text, strlen(text));
}

#define ROOT_MOUNTS                                                                                   \
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"                                         \
    "23 22 8:2 / /boot rw,relatime shared:2 - vfat /dev/sda2 rw\n"                                    \
    "24 22 0:5 / /dev rw,nosuid shared:3 - devtmpfs devtmpfs rw\n"

static tree *make_tree(void)
{
    tree *t = calloc(1, sizeof *t);
    t->root = test_tmpdir("target");
    snprintf(t->sys, sizeof t->sys, "%s/sys", t->root);
    snprintf(t->proc, sizeof t->proc, "%s/proc", t->root);
    put(t, "bus/usb/.keep", "");
    put(t, "bus/pci/.keep", "");
    link_to(t, USB_HOST "/subsystem", "bus/usb");
    link_to(t, USB_HOST "/1-1/subsystem", "bus/usb");
    link_to(t, USB_HOST "/1-2/subsystem", "bus/usb");
    link_to(t, "devices/pci0000:00/0000:00:1f.2/subsystem", "bus/pci");
    disk(t, SDB, "sdb", 8, 16, "2097152\n"); /* 1 GiB */
    part(t, SDB, "sdb1", 8, 17);
    part(t, SDB, "sdb2", 8, 18);
    disk(t, SDA, "sda", 8, 0, "500000000\n");
    part(t, SDA, "sda1", 8, 1);
    part(t, SDA, "sda2", 8, 2);
    disk(t, SDC, "sdc", 8, 32, "500000000\n");
    disk(t, SDD, "sdd", 8, 48, "500000000\n");
    part(t, SDD, "sdd1", 8, 49);
    disk(t, DM0, "dm-0", 253, 0, "1000\n");
    link_to(t, DM0 "/slaves/sdd1", SDD "/sdd1");
    mounts(t, ROOT_MOUNTS);
    t->env.sys_root = t->sys;
    t->env.proc_root = t->proc;
    return t;
}

static void free_tree(tree *t)
{
    test_rmtree(t->root);
    free(t->root);
    free(t);
}

static int check(tree *t, unsigned maj, unsigned min, uint64_t size, unsigned flags)
{
    t->reason[0] = 0;
    int rc = cmboot_target_check_blockdev(&t->env, maj, min, NULL, size, flags | CMBOOT_TARGET_NO_EXCL, t->reason,
                                          sizeof t->reason);
    if (rc != CMBOOT_OK)
        assert_true(t->reason[0] != 0); /* every refusal says why */
    return rc;
}

static void target_usb_disk_accepted(void **state)
{
    (void)state;
    tree *t = make_tree();
    assert_int_equal(check(t, 8, 16, 512 * 1024 * 1024, 0), CMBOOT_OK);
    assert_int_equal(check(t, 8, 17, 0, 0), CMBOOT_OK); /* a partition of it */
    free_tree(t);
}

static void target_refuses_mounted_partition(void **state)
{
    (void)state;
    tree *t = make_tree();
    mounts(t, ROOT_MOUNTS "40 22 8:18 / /media/usb rw - vfat /dev/sdb2 rw\n");
    assert_int_equal(check(t, 8, 16, 0, CMBOOT_TARGET_FORCE), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "sdb2"));
    assert_non_null(strstr(t->reason, "/media/usb"));
    assert_int_equal(check(t, 8, 17, 0, 0), CMBOOT_ERR_UNSAFE_TARGET); /* sibling partition: same disk */
    free_tree(t);
}

static void target_refuses_mounted_by_name(void **state)
{
    (void)state;
    tree *t = make_tree();
    /* btrfs and friends report an anonymous device number: the source names the partition. */
    mounts(t, ROOT_MOUNTS "41 22 0:44 / /mnt rw - btrfs /dev/sdb1 rw\n");
    assert_int_equal(check(t, 8, 16, 0, 0), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "/mnt"));
    free_tree(t);
}

static void target_refuses_held(void **state)
{
    (void)state;
    tree *t = make_tree();
    put(t, SDB "/sdb1/holders/dm-3", "");
    assert_int_equal(check(t, 8, 16, 0, CMBOOT_TARGET_FORCE), CMBOOT_ERR_BUSY);
    assert_non_null(strstr(t->reason, "dm-3"));
    free_tree(t);
}

static void target_refuses_not_usb_unless_forced(void **state)
{
    (void)state;
    tree *t = make_tree();
    assert_int_equal(check(t, 8, 32, 0, 0), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "USB"));
    assert_int_equal(check(t, 8, 32, 0, CMBOOT_TARGET_FORCE), CMBOOT_OK);
    free_tree(t);
}

static void target_refuses_too_small(void **state)
{
    (void)state;
    tree *t = make_tree();
    assert_int_equal(check(t, 8, 16, 1024ull * 1024 * 1024, 0), CMBOOT_OK);
    assert_int_equal(check(t, 8, 16, 1024ull * 1024 * 1024 + 1, 0), CMBOOT_ERR_NO_SPACE);
    put(t, SDB "/size", "0\n"); /* no medium */
    assert_int_equal(check(t, 8, 16, 4096, 0), CMBOOT_ERR_NO_SPACE);
    free_tree(t);
}

static void target_refuses_host_root_even_forced(void **state)
{
    (void)state;
    tree *t = make_tree();
    assert_int_equal(check(t, 8, 0, 0, CMBOOT_TARGET_FORCE), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "host"));
    assert_int_equal(check(t, 8, 2, 0, CMBOOT_TARGET_FORCE), CMBOOT_ERR_UNSAFE_TARGET);
    free_tree(t);
}

static void target_refuses_host_boot_on_usb(void **state)
{
    (void)state;
    tree *t = make_tree();
    mounts(t, "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
              "23 22 8:18 / /boot/firmware rw - vfat /dev/sdb2 rw\n");
    assert_int_equal(check(t, 8, 16, 0, CMBOOT_TARGET_FORCE), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "/boot/firmware"));
    free_tree(t);
}

static void target_refuses_root_on_lvm(void **state)
{
    (void)state;
    tree *t = make_tree();
    mounts(t, "22 1 253:0 / / rw - ext4 /dev/mapper/vg-root rw\n");
    assert_int_equal(check(t, 8, 48, 0, CMBOOT_TARGET_FORCE), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "sdd"));
    free_tree(t);
}

static void target_refuses_without_mountinfo(void **state)
{
    (void)state;
    tree *t = make_tree();
    snprintf(t->proc, sizeof t->proc, "%s/nowhere", t->root);
    assert_int_equal(check(t, 8, 16, 0, 0), CMBOOT_ERR_UNSAFE_TARGET);
    free_tree(t);
}

static void target_unknown_device(void **state)
{
    (void)state;
    tree *t = make_tree();
    assert_int_equal(check(t, 9, 99, 0, 0), CMBOOT_ERR_NOT_FOUND);
    free_tree(t);
}

static void target_regular_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir("target-file");
    char path[4096];
    snprintf(path, sizeof path, "%s/new.img", dir);
    char reason[256];
    assert_int_equal(cmboot_target_check(NULL, path, 4096, 0, reason, sizeof reason), CMBOOT_OK);
    assert_int_equal(cmboot_target_check(NULL, path, 1ull << 62, 0, reason, sizeof reason), CMBOOT_ERR_NO_SPACE);
    assert_non_null(strstr(reason, "new.img"));
    assert_int_equal(cmboot_target_check(NULL, dir, 4096, 0, reason, sizeof reason), CMBOOT_ERR_UNSAFE_TARGET);
    assert_int_equal(cmboot_target_check(NULL, "/dev/null", 4096, 0, reason, sizeof reason),
                     CMBOOT_ERR_UNSAFE_TARGET);
    test_rmtree(dir);
    free(dir);
}

/* A real block device held open with O_EXCL (as a mount would) is refused as busy. */
static void target_refuses_exclusively_open(void **state)
{
    (void)state;
    int fd = -1;
    char dev[64] = "";
    for (int i = 0; i < 8 && fd < 0; i++) {
        snprintf(dev, sizeof dev, "/dev/loop%d", i);
        fd = open(dev, O_RDONLY | O_EXCL);
    }
    if (fd < 0) {
        print_message("no loop device to hold exclusively (needs root): %s\n", strerror(errno));
        skip();
    }
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char reason[256];
    int rc = cmboot_target_check_blockdev(NULL, major(st.st_rdev), minor(st.st_rdev), dev, 0, CMBOOT_TARGET_FORCE,
                                          reason, sizeof reason);
    close(fd);
    assert_int_equal(rc, CMBOOT_ERR_BUSY);
    assert_non_null(strstr(reason, dev));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(target_usb_disk_accepted),
    cmocka_unit_test(target_refuses_mounted_partition),
    cmocka_unit_test(target_refuses_mounted_by_name),
    cmocka_unit_test(target_refuses_held),
    cmocka_unit_test(target_refuses_not_usb_unless_forced),
    cmocka_unit_test(target_refuses_too_small),
    cmocka_unit_test(target_refuses_host_root_even_forced),
    cmocka_unit_test(target_refuses_host_boot_on_usb),
    cmocka_unit_test(target_refuses_root_on_lvm),
    cmocka_unit_test(target_refuses_without_mountinfo),
    cmocka_unit_test(target_unknown_device),
    cmocka_unit_test(target_regular_file),
    cmocka_unit_test(target_refuses_exclusively_open),
};

CMBOOT_TEST_MAIN(tests)
