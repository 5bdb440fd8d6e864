/* Target safety and identity: every refusal against fake sysfs and mountinfo trees, regular files, and loop
 * devices (real descriptors) described by fake sysfs entries. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cmboot/device.h"
#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "flash/flash_internal.h"
#include "test_flash_util.h"

#define USB_HOST "devices/pci0000:00/0000:00:14.0/usb1"
#define SDB USB_HOST "/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
#define SDD USB_HOST "/1-2/1-2:1.0/host7/target7:0:0/7:0:0:0/block/sdd"
#define SDA "devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda"
#define SDC "devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sdc"
#define DM0 "devices/virtual/block/dm-0"
#define DM1 "devices/virtual/block/dm-1"
#define DM2 "devices/virtual/block/dm-2"
#define MD0 "devices/virtual/block/md0"

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

#define ROOT_MOUNTS                                                                                                    \
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"                                                          \
    "23 22 8:2 / /boot rw,relatime shared:2 - vfat /dev/sda2 rw\n"                                                     \
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
    cmboot_target_env_default(&t->env);
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

static int check_full(tree *t, unsigned maj, unsigned min, uint64_t seq, const char *port, uint64_t size,
                      unsigned flags, cmboot_target_identity *id)
{
    t->reason[0] = 0;
    int rc = cmb_target_check_blockdev(&t->env, maj, min, seq, 0, port, size, flags, id, t->reason, sizeof t->reason);
    if (rc != CMBOOT_OK)
        assert_true(t->reason[0] != 0); /* every refusal says why */
    return rc;
}

static int check(tree *t, unsigned maj, unsigned min, uint64_t size, unsigned flags)
{
    return check_full(t, maj, min, 0, NULL, size, flags, NULL);
}

static void target_usb_disk_accepted(void **state)
{
    (void)state;
    tree *t = make_tree();
    cmboot_target_identity id;
    assert_int_equal(check_full(t, 8, 16, 0, NULL, 512 * 1024 * 1024, 0, &id), CMBOOT_OK);
    assert_string_equal(id.name, "sdb");
    assert_string_equal(id.port_path, "1-1");
    assert_false(id.partition);
    assert_false(id.removable);
    put(t, SDB "/removable", "1\n");
    assert_int_equal(check_full(t, 8, 16, 0, NULL, 0, 0, &id), CMBOOT_OK);
    assert_true(id.removable);
    assert_int_equal(id.size, 1024ull * 1024 * 1024);
    assert_int_equal(check(t, 8, 17, 0, CMBOOT_TARGET_PARTITION_OK), CMBOOT_OK); /* a partition of it, allowed */
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
    assert_int_equal(check(t, 8, 17, 0, CMBOOT_TARGET_PARTITION_OK), CMBOOT_ERR_UNSAFE_TARGET); /* same disk */
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
    assert_int_equal(check(t, 8, 2, 0, CMBOOT_TARGET_FORCE | CMBOOT_TARGET_PARTITION_OK), CMBOOT_ERR_UNSAFE_TARGET);
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
    assert_int_equal(cmboot_target_check(NULL, "/dev/null", 4096, 0, reason, sizeof reason), CMBOOT_ERR_UNSAFE_TARGET);
    test_rmtree(dir);
    free(dir);
}

/* A partition is refused unless asked for: a whole-disk image written into sdb1 does not boot. */
static void target_partition_refused_unless_partition_ok(void **state)
{
    (void)state;
    tree *t = make_tree();
    cmboot_target_identity id;
    assert_int_equal(check_full(t, 8, 17, 0, NULL, 0, 0, &id), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "partition"));
    assert_non_null(strstr(t->reason, "--partition-ok"));
    assert_int_equal(check_full(t, 8, 17, 0, NULL, 0, CMBOOT_TARGET_PARTITION_OK, &id), CMBOOT_OK);
    assert_true(id.partition);
    assert_string_equal(id.name, "sdb1");
    assert_string_equal(id.disk, "sdb");
    free_tree(t);
}

/* Down the target's stack: a dm or md device whose slaves lead to the root disk is that disk, --force or not. */
static void target_dm_over_root_disk_refused_even_forced(void **state)
{
    (void)state;
    tree *t = make_tree();
    part(t, SDA, "sda3", 8, 3);
    disk(t, DM1, "dm-1", 253, 1, "1000\n");
    link_to(t, DM1 "/slaves/sda3", SDA "/sda3"); /* an LV on a PV of the root disk */
    disk(t, DM2, "dm-2", 253, 2, "1000\n");
    link_to(t, DM2 "/slaves/dm-1", DM1); /* and a mapping on top of that */
    disk(t, MD0, "md0", 9, 0, "1000\n");
    link_to(t, MD0 "/slaves/sdc", SDC);
    link_to(t, MD0 "/slaves/sda2", SDA "/sda2"); /* RAID with the /boot partition */
    unsigned flags = CMBOOT_TARGET_FORCE | CMBOOT_TARGET_PARTITION_OK;
    assert_int_equal(check(t, 253, 1, 0, flags), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "sda"));
    assert_non_null(strstr(t->reason, "host"));
    assert_int_equal(check(t, 253, 2, 0, flags), CMBOOT_ERR_UNSAFE_TARGET);
    assert_int_equal(check(t, 9, 0, 0, flags), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "md0"));
    /* A mapping on a disk the host does not use is only --force's business. */
    assert_int_equal(check(t, 253, 0, 0, 0), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "--force"));
    assert_int_equal(check(t, 253, 0, 0, CMBOOT_TARGET_FORCE), CMBOOT_OK);
    free_tree(t);
}

/* Up from the root file system (md partition): md0p1 holds / and rests on md0, whose slaves are sdc. */
static void target_under_md_root_refused(void **state)
{
    (void)state;
    tree *t = make_tree();
    disk(t, MD0, "md0", 9, 0, "1000\n");
    part(t, MD0, "md0p1", 259, 0);
    link_to(t, MD0 "/slaves/sdc", SDC);
    mounts(t, "22 1 259:0 / / rw - ext4 /dev/md0p1 rw\n");
    assert_int_equal(check(t, 8, 32, 0, CMBOOT_TARGET_FORCE), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "host"));
    free_tree(t);
}

/* flash: the disk must sit under the board's port path, --force or not. */
static void target_wrong_port_refused(void **state)
{
    (void)state;
    tree *t = make_tree();
    assert_int_equal(check_full(t, 8, 16, 0, "1-1", 0, 0, NULL), CMBOOT_OK);
    assert_int_equal(check_full(t, 8, 16, 0, "1-2", 0, CMBOOT_TARGET_FORCE, NULL), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "1-2"));
    assert_int_equal(check_full(t, 8, 48, 0, "1-2", 0, 0, NULL), CMBOOT_OK); /* sdd is on 1-2 */
    assert_int_equal(check_full(t, 8, 32, 0, "1-1", 0, CMBOOT_TARGET_FORCE, NULL), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "not on USB"));
    free_tree(t);
}

/* The descriptor's diskseq must be the one sysfs shows for its numbers, else the checks were about another disk. */
static void target_diskseq_mismatch_refused(void **state)
{
    (void)state;
    tree *t = make_tree();
    cmboot_target_identity id;
    assert_int_equal(check_full(t, 8, 16, 0, NULL, 0, 0, &id), CMBOOT_OK);
    assert_int_equal(id.diskseq, 0); /* a kernel without diskseq */
    assert_int_equal(check_full(t, 8, 16, 41, NULL, 0, 0, &id), CMBOOT_ERR_UNSAFE_TARGET); /* sysfs has none */
    put(t, SDB "/diskseq", "41\n");
    assert_int_equal(check_full(t, 8, 16, 41, NULL, 0, 0, &id), CMBOOT_OK);
    assert_int_equal(id.diskseq, 41);
    assert_int_equal(check_full(t, 8, 16, 0, NULL, 0, 0, &id), CMBOOT_OK);
    assert_int_equal(id.diskseq, 41); /* from sysfs when the descriptor cannot say */
    assert_int_equal(check_full(t, 8, 17, 42, NULL, 0, CMBOOT_TARGET_PARTITION_OK, &id), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(t->reason, "diskseq"));
    free_tree(t);
}

/* Nothing under the dev root is ever created or written as a file; elsewhere only with CREATE or *.img. */
static void target_missing_or_file_under_dev_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("target-dev");
    char devroot[4096], path[4200], reason[256];
    snprintf(devroot, sizeof devroot, "%s/dev", dir);
    test_write_file(devroot, "stale", "x", 1);
    cmboot_target_env env = {sizeof env, NULL, NULL, devroot};
    cmboot_target *tg = NULL;
    snprintf(path, sizeof path, "%s/sdzz", devroot);
    assert_int_equal(cmboot_target_open(&env, path, 4096, CMBOOT_TARGET_CREATE, NULL, &tg, reason, sizeof reason),
                     CMBOOT_ERR_NOT_FOUND);
    assert_null(tg);
    assert_non_null(strstr(reason, "no such disk"));
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/sdzz.img", devroot);
    assert_int_equal(cmboot_target_open(&env, path, 4096, 0, NULL, &tg, reason, sizeof reason), CMBOOT_ERR_NOT_FOUND);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/stale", devroot); /* a file left there by an older tool */
    assert_int_equal(cmboot_target_open(&env, path, 1, 0, NULL, &tg, reason, sizeof reason), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(reason, "not a disk"));
    /* Outside it: a missing file needs CREATE, unless it is named like an image. */
    snprintf(path, sizeof path, "%s/out.bin", dir);
    assert_int_equal(cmboot_target_open(&env, path, 4096, 0, NULL, &tg, reason, sizeof reason), CMBOOT_ERR_NOT_FOUND);
    assert_non_null(strstr(reason, "--create"));
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(cmboot_target_open(&env, path, 4096, CMBOOT_TARGET_CREATE, NULL, &tg, reason, sizeof reason),
                     CMBOOT_OK);
    assert_true(cmboot_target_get_identity(tg)->created);
    assert_int_equal(access(path, F_OK), 0);
    cmboot_target_close(tg, true); /* never written: removed again */
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/out.img", dir);
    assert_int_equal(cmboot_target_open(&env, path, 4096, 0, NULL, &tg, reason, sizeof reason), CMBOOT_OK);
    cmboot_target_close(tg, false);
    assert_int_equal(access(path, F_OK), 0);
    /* A dangling symbolic link is not followed to create its target. */
    char link[4200], where[4200];
    snprintf(link, sizeof link, "%s/link.img", dir);
    snprintf(where, sizeof where, "%s/elsewhere.img", dir);
    assert_int_equal(symlink(where, link), 0);
    assert_int_equal(cmboot_target_open(&env, link, 4096, CMBOOT_TARGET_CREATE, NULL, &tg, reason, sizeof reason),
                     CMBOOT_ERR_UNSAFE_TARGET);
    assert_int_not_equal(access(where, F_OK), 0);
    test_rmtree(dir);
    free(dir);
}

/* ---- Real block devices: loop devices whose numbers a fake sysfs tree describes. ---- */

typedef struct loopdisk {
    char backing[4200];
    ft_loop loop;
} loopdisk;

/* A loop device over a zeroed file of `size` bytes, described in t's sysfs as disk `name` under `usbdir`
 * (e.g. USB_HOST "/1-1") with its real diskseq; skips the test when loop devices cannot be made. */
static void make_loopdisk(tree *t, loopdisk *ld, const char *usbdir, const char *name, size_t size, const char *lun)
{
    snprintf(ld->backing, sizeof ld->backing, "%s/%s.bin", t->root, name);
    int fd = open(ld->backing, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
    if (!ft_loop_attach(&ld->loop, ld->backing)) {
        print_message("no loop device (needs root and loop support): %s\n", strerror(errno));
        free_tree(t);
        skip();
    }
    char dir[4096], v[64];
    const char *port = strrchr(usbdir, '/') + 1;
    snprintf(dir, sizeof dir, "%s/%s:1.0/host9/target9:0:0/%s/block/%s", usbdir, port, lun, name);
    snprintf(v, sizeof v, "%zu\n", size / 512);
    disk(t, dir, name, ld->loop.maj, ld->loop.min, v);
    char p[4200];
    snprintf(p, sizeof p, "%s/diskseq", dir);
    snprintf(v, sizeof v, "%llu\n", (unsigned long long)ld->loop.diskseq);
    put(t, p, v);
    char busdir[4200];
    snprintf(busdir, sizeof busdir, "bus/usb/devices/%s", port);
    char l[4200];
    snprintf(l, sizeof l, "%s/%s", t->sys, busdir);
    if (access(l, F_OK) != 0)
        link_to(t, busdir, usbdir);
}

static void write_image(const char *dir, const char *name, size_t size, uint8_t **data)
{
    *data = malloc(size);
    test_fill_pattern(*data, size, 5);
    test_write_file(dir, name, *data, size);
}

/* flash: the board's disk is paired as <dev>/sdb, then the name is re-used by another USB disk before it is
 * opened. The descriptor's disk is on another port: refused, nothing written anywhere. */
static void target_swapped_after_check_refused(void **state)
{
    (void)state;
    tree *t = make_tree();
    loopdisk a, b;
    make_loopdisk(t, &a, USB_HOST "/1-3", "sdx", 4 << 20, "9:0:0:0");
    make_loopdisk(t, &b, USB_HOST "/1-4", "sdy", 4 << 20, "10:0:0:0");
    link_to(t, USB_HOST "/1-3/subsystem", "bus/usb");
    link_to(t, USB_HOST "/1-4/subsystem", "bus/usb");
    char devdir[4200], node[4300];
    snprintf(devdir, sizeof devdir, "%s/dev", t->root);
    snprintf(node, sizeof node, "%s/sdx", devdir);
    test_write_file(devdir, ".keep", "", 0);
    assert_int_equal(symlink(a.loop.dev, node), 0);
    t->env.dev_root = devdir;
    char paired[256];
    assert_int_equal(cmboot_flash_pair(&t->env, "1-3", cmboot_now_ms() + 1000, paired, sizeof paired), CMBOOT_OK);
    assert_string_equal(paired, node);
    /* The board's disk goes, another stick takes its name. */
    assert_int_equal(unlink(node), 0);
    assert_int_equal(symlink(b.loop.dev, node), 0);
    uint8_t *img;
    write_image(t->root, "img.raw", 1 << 20, &img);
    char image[4200];
    snprintf(image, sizeof image, "%s/img.raw", t->root);
    cmboot_flash_config cfg;
    cmboot_flash_config_default(&cfg);
    cfg.image = image;
    cfg.target = paired;
    cfg.port_path = "1-3";
    cfg.env = &t->env;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(res.reason, "1-4"));
    assert_false(res.target_touched);
    assert_int_equal(res.bytes_written, 0);
    assert_true(ft_file_zero(b.backing, 4 << 20));
    assert_true(ft_file_zero(a.backing, 4 << 20));
    /* Control: the name back on the board's disk is written and verified. */
    assert_int_equal(unlink(node), 0);
    assert_int_equal(symlink(a.loop.dev, node), 0);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_true(res.verified);
    assert_string_equal(res.target.port_path, "1-3");
    assert_int_equal(res.target.diskseq, a.loop.diskseq);
    assert_int_equal(res.target.major, a.loop.maj);
    cmboot_flash_report rep = {sizeof rep, NULL, "1-3", NULL, NULL, image, NULL, paired, -1, -1, &res};
    char *json = NULL, want[96];
    assert_int_equal(cmboot_flash_report_json(&rep, &json), CMBOOT_OK);
    snprintf(want, sizeof want, "\"device\":\"%u:%u\"", a.loop.maj, a.loop.min);
    assert_non_null(strstr(json, want));
    snprintf(want, sizeof want, "\"diskseq\":%llu", (unsigned long long)a.loop.diskseq);
    assert_non_null(strstr(json, a.loop.diskseq ? want : "\"diskseq\":null"));
    assert_non_null(strstr(json, "\"port_path\":\"1-3\""));
    free(json);
    ft_loop_detach(&a.loop);
    ft_loop_detach(&b.loop);
    size_t n;
    uint8_t *got = ft_read_file(a.backing, &n);
    assert_memory_equal(got, img, 1 << 20);
    free(got);
    free(img);
    free_tree(t);
}

/* The sysfs entry of the descriptor's numbers shows another disk (diskseq differs): nothing written. */
static void target_sysfs_of_another_disk_refused(void **state)
{
    (void)state;
    tree *t = make_tree();
    loopdisk a;
    make_loopdisk(t, &a, USB_HOST "/1-3", "sdx", 4 << 20, "9:0:0:0");
    link_to(t, USB_HOST "/1-3/subsystem", "bus/usb");
    if (!a.loop.diskseq) {
        ft_loop_detach(&a.loop);
        free_tree(t);
        print_message("this kernel has no diskseq\n");
        skip();
    }
    char p[4200], v[64];
    snprintf(p, sizeof p, USB_HOST "/1-3/1-3:1.0/host9/target9:0:0/9:0:0:0/block/sdx/diskseq");
    snprintf(v, sizeof v, "%llu\n", (unsigned long long)a.loop.diskseq + 1000);
    put(t, p, v);
    uint8_t *img;
    write_image(t->root, "img.raw", 1 << 20, &img);
    char image[4200];
    snprintf(image, sizeof image, "%s/img.raw", t->root);
    cmboot_flash_config cfg;
    cmboot_flash_config_default(&cfg);
    cfg.image = image;
    cfg.target = a.loop.dev;
    cfg.env = &t->env;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(res.reason, "diskseq"));
    assert_int_equal(res.bytes_written, 0);
    ft_loop_detach(&a.loop);
    assert_true(ft_file_zero(a.backing, 4 << 20));
    free(img);
    free_tree(t);
}

typedef struct reseq {
    tree *t;
    const char *attr;
    const char *value;
} reseq;

/* At the sync phase (written, not yet verified) the disk's numbers come to describe another disk. */
static void change_at_sync(void *user, const cmboot_event *ev)
{
    reseq *r = user;
    if (ev->type == CMBOOT_EV_PHASE && strcmp(ev->name, "sync") == 0)
        put(r->t, r->attr, r->value);
}

static void target_diskseq_changed_before_verify_refused(void **state)
{
    (void)state;
    tree *t = make_tree();
    loopdisk a;
    make_loopdisk(t, &a, USB_HOST "/1-3", "sdx", 4 << 20, "9:0:0:0");
    link_to(t, USB_HOST "/1-3/subsystem", "bus/usb");
    if (!a.loop.diskseq) {
        ft_loop_detach(&a.loop);
        free_tree(t);
        print_message("this kernel has no diskseq\n");
        skip();
    }
    uint8_t *img;
    write_image(t->root, "img.raw", 1 << 20, &img);
    char image[4200];
    snprintf(image, sizeof image, "%s/img.raw", t->root);
    char v[64];
    snprintf(v, sizeof v, "%llu\n", (unsigned long long)a.loop.diskseq + 7);
    reseq r = {t, USB_HOST "/1-3/1-3:1.0/host9/target9:0:0/9:0:0:0/block/sdx/diskseq", v};
    cmboot_flash_config cfg;
    cmboot_flash_config_default(&cfg);
    cfg.image = image;
    cfg.target = a.loop.dev;
    cfg.env = &t->env;
    cfg.event = change_at_sync;
    cfg.user = &r;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_NO_DEVICE);
    assert_false(res.verified);
    assert_non_null(strstr(res.reason, "diskseq"));
    ft_loop_detach(&a.loop);
    free(img);
    free_tree(t);
}

/* A compressed image of unknown size on a disk too small: a write failure with the bytes written, not a refusal. */
static void target_full_midway_is_write_failure(void **state)
{
    (void)state;
    tree *t = make_tree();
    loopdisk a;
    make_loopdisk(t, &a, USB_HOST "/1-3", "sdx", 1 << 20, "9:0:0:0");
    link_to(t, USB_HOST "/1-3/subsystem", "bus/usb");
    uint8_t *img;
    write_image(t->root, "img.raw", 3 << 20, &img);
    char cmd[8800], image[4200];
    snprintf(image, sizeof image, "%s/img.raw.xz", t->root);
    snprintf(cmd, sizeof cmd, "xz -0 -c '%s/img.raw' > '%s'", t->root, image);
    if (system(cmd) != 0) {
        ft_loop_detach(&a.loop);
        free(img);
        free_tree(t);
        print_message("no xz command\n");
        skip();
    }
    cmboot_flash_config cfg;
    cmboot_flash_config_default(&cfg);
    cfg.image = image;
    cfg.target = a.loop.dev;
    cfg.env = &t->env;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_NO_SPACE);
    assert_true(res.target_touched);
    assert_int_equal(res.bytes_written, 1 << 20);
    assert_non_null(strstr(res.reason, "1048576 bytes written"));
    assert_false(res.verified);
    ft_loop_detach(&a.loop);
    size_t n;
    uint8_t *got = ft_read_file(a.backing, &n);
    assert_memory_equal(got, img, 1 << 20);
    free(got);
    free(img);
    free_tree(t);
}

/* A real block device held open with O_EXCL (as a mount would) is refused as busy. */
static void target_refuses_exclusively_open(void **state)
{
    (void)state;
    tree *t = make_tree();
    loopdisk a;
    make_loopdisk(t, &a, USB_HOST "/1-3", "sdx", 1 << 20, "9:0:0:0");
    int fd = open(a.loop.dev, O_RDONLY | O_EXCL);
    assert_true(fd >= 0);
    char reason[256];
    int rc = cmboot_target_check(&t->env, a.loop.dev, 0, CMBOOT_TARGET_FORCE, reason, sizeof reason);
    close(fd);
    assert_int_equal(rc, CMBOOT_ERR_BUSY);
    assert_non_null(strstr(reason, a.loop.dev));
    link_to(t, USB_HOST "/1-3/subsystem", "bus/usb");
    assert_int_equal(cmboot_target_check(&t->env, a.loop.dev, 0, 0, reason, sizeof reason), CMBOOT_OK);
    ft_loop_detach(&a.loop);
    free_tree(t);
}

/* The writer's last word on a gadget with several disks: the disk opened must be the LUN / kind chosen. */
static void target_disk_must_be_the_chosen_lun_and_kind(void **state)
{
    (void)state;
    tree *t = make_tree();
    put(t, USB_HOST "/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/vendor", "RPi-MSD-\n");
    put(t, USB_HOST "/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/model", "cmboot-sim eMMC \n");
    char reason[256] = "";
    assert_int_equal(cmb_disk_check_choice(&t->env, "sdb", -1, NULL, reason, sizeof reason), CMBOOT_OK);
    assert_int_equal(cmb_disk_check_choice(&t->env, "sdb", 0, "emmc", reason, sizeof reason), CMBOOT_OK);
    assert_int_equal(cmb_disk_check_choice(&t->env, "sdb", 1, NULL, reason, sizeof reason), CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(reason, "not the one chosen (LUN 1)"));
    assert_non_null(strstr(reason, "sdb (LUN 0"));
    assert_int_equal(cmb_disk_check_choice(&t->env, "sdb", -1, "nvme", reason, sizeof reason),
                     CMBOOT_ERR_UNSAFE_TARGET);
    assert_non_null(strstr(reason, "(NVMe)"));
    assert_int_equal(cmb_disk_check_choice(&t->env, "sdb", -1, "ssd", reason, sizeof reason), CMBOOT_ERR_INVALID_ARG);
    /* no SCSI address to check: refused rather than trusted */
    assert_int_equal(cmb_disk_check_choice(&t->env, "dm-0", 0, NULL, reason, sizeof reason), CMBOOT_ERR_UNSAFE_TARGET);
    free_tree(t);
}

/* The kind rules of docs/flash.md, one string each. */
static void target_disk_kind_rules(void **state)
{
    (void)state;
    assert_int_equal(cmb_disk_kind_of("nvme0n1", ""), CMB_DISK_NVME);
    assert_int_equal(cmb_disk_kind_of("Linux", "File-Stor NVMe"), CMB_DISK_NVME);
    assert_int_equal(cmb_disk_kind_of("mmcblk0", ""), CMB_DISK_MMC);
    assert_int_equal(cmb_disk_kind_of("RPi-MSD-", "0001"), CMB_DISK_EMMC);
    assert_int_equal(cmb_disk_kind_of("Vendor", "eMMC 32GB"), CMB_DISK_EMMC);
    assert_int_equal(cmb_disk_kind_of("Generic", "SD Card"), CMB_DISK_SD);
    assert_int_equal(cmb_disk_kind_of("Linux", "File-Stor Gadget"), CMB_DISK_UNKNOWN);
    assert_int_equal(cmb_disk_kind_of("sdx", "Disk"), CMB_DISK_UNKNOWN); /* "sd" only as a whole word */
}

/* A usb-storage disk in a fake sysfs tree: device/max_sectors (NULL: none) and the queue's limits. */
static char *transfer_tree(const char *tag, const char *ms, const char *kb, const char *hw_kb, const char *segs,
                           const char *seg_size)
{
    char *root = test_tmpdir(tag);
    char d[4096];
    snprintf(d, sizeof d, "%s/class/block/sdb/device", root);
    if (ms)
        test_write_file(d, "max_sectors", ms, strlen(ms));
    else
        test_write_file(d, "vendor", "RPi", 3);
    snprintf(d, sizeof d, "%s/class/block/sdb/queue", root);
    test_write_file(d, "max_sectors_kb", kb, strlen(kb));
    test_write_file(d, "max_hw_sectors_kb", hw_kb, strlen(hw_kb));
    test_write_file(d, "max_segments", segs, strlen(segs));
    test_write_file(d, "max_segment_size", seg_size, strlen(seg_size));
    return root;
}

static unsigned long tree_value(const char *root, const char *rel)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/class/block/sdb/%s", root, rel);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    unsigned long v = 0;
    assert_int_equal(fscanf(f, "%lu", &v), 1);
    fclose(f);
    return v;
}

/* usb-storage's 240 sectors (120 KiB) per command raised to 1 MiB, and the queue's soft limit with it. */
static void transfer_raised_to_1mib(void **state)
{
    (void)state;
    char *root = transfer_tree("xfer-raise", "240\n", "120\n", "32767\n", "2048\n", "65536\n");
    char msg[512];
    assert_int_equal(cmb_disk_raise_transfer(root, "sdb", CMB_DISK_TRANSFER_SECTORS, msg, sizeof msg), CMBOOT_OK);
    assert_int_equal(tree_value(root, "device/max_sectors"), 2048);
    assert_int_equal(tree_value(root, "queue/max_sectors_kb"), 1024);
    assert_non_null(strstr(msg, "max_sectors 240 -> 2048"));
    assert_non_null(strstr(msg, "max_sectors_kb 120 -> 1024"));
    test_rmtree(root);
    free(root);
}

/* Bounded by the host: its scatter-gather list (128 x 4 KiB = 1024 sectors) and max_hw_sectors_kb. */
static void transfer_bounded_by_host(void **state)
{
    (void)state;
    char *root = transfer_tree("xfer-bound", "240\n", "120\n", "256\n", "128\n", "4096\n");
    char msg[512];
    assert_int_equal(cmb_disk_raise_transfer(root, "sdb", CMB_DISK_TRANSFER_SECTORS, msg, sizeof msg), CMBOOT_OK);
    assert_int_equal(tree_value(root, "device/max_sectors"), 1024);
    assert_int_equal(tree_value(root, "queue/max_sectors_kb"), 256);
    test_rmtree(root);
    free(root);
}

/* Never lowered; a disk without usb-storage's attribute is left alone; a refused write is a warning's
 * reason (CMBOOT_ERR_ACCESS), never a crash. */
static void transfer_kept_or_refused(void **state)
{
    (void)state;
    char msg[512];
    char *root = transfer_tree("xfer-keep", "4096\n", "2048\n", "2048\n", "2048\n", "65536\n");
    assert_int_equal(cmb_disk_raise_transfer(root, "sdb", CMB_DISK_TRANSFER_SECTORS, msg, sizeof msg), CMBOOT_OK);
    assert_int_equal(tree_value(root, "device/max_sectors"), 4096);
    assert_int_equal(tree_value(root, "queue/max_sectors_kb"), 2048);
    assert_null(strchr(msg, '>'));
    test_rmtree(root);
    free(root);

    root = transfer_tree("xfer-none", NULL, "120\n", "32767\n", "2048\n", "65536\n");
    assert_int_equal(cmb_disk_raise_transfer(root, "sdb", CMB_DISK_TRANSFER_SECTORS, msg, sizeof msg),
                     CMBOOT_ERR_UNSUPPORTED);
    assert_int_equal(tree_value(root, "queue/max_sectors_kb"), 120);
    test_rmtree(root);
    free(root);

    /* A number not writable even by root (a sysctl of mode 0444) stands for a sysfs file we may not write. */
    root = transfer_tree("xfer-ro", NULL, "120\n", "32767\n", "2048\n", "65536\n");
    char p[4096];
    snprintf(p, sizeof p, "%s/class/block/sdb/device/max_sectors", root);
    assert_int_equal(symlink("/proc/sys/kernel/cap_last_cap", p), 0);
    assert_int_equal(cmb_disk_raise_transfer(root, "sdb", CMB_DISK_TRANSFER_SECTORS, msg, sizeof msg),
                     CMBOOT_ERR_ACCESS);
    assert_non_null(strstr(msg, "could not raise to 2048 sectors"));
    test_rmtree(root);
    free(root);

    assert_int_equal(cmb_disk_raise_transfer(NULL, "../sdb", CMB_DISK_TRANSFER_SECTORS, msg, sizeof msg),
                     CMBOOT_ERR_INVALID_ARG);
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
    cmocka_unit_test(target_partition_refused_unless_partition_ok),
    cmocka_unit_test(target_dm_over_root_disk_refused_even_forced),
    cmocka_unit_test(target_under_md_root_refused),
    cmocka_unit_test(target_wrong_port_refused),
    cmocka_unit_test(target_diskseq_mismatch_refused),
    cmocka_unit_test(target_missing_or_file_under_dev_refused),
    cmocka_unit_test(target_swapped_after_check_refused),
    cmocka_unit_test(target_sysfs_of_another_disk_refused),
    cmocka_unit_test(target_diskseq_changed_before_verify_refused),
    cmocka_unit_test(target_full_midway_is_write_failure),
    cmocka_unit_test(target_disk_must_be_the_chosen_lun_and_kind),
    cmocka_unit_test(target_disk_kind_rules),
    cmocka_unit_test(transfer_raised_to_1mib),
    cmocka_unit_test(transfer_bounded_by_host),
    cmocka_unit_test(transfer_kept_or_refused),
};

CMBOOT_TEST_MAIN(tests)
