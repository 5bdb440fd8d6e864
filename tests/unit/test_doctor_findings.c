/* doctor: one fake host per cause, and the finding (with its fix) each must produce. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/doctor.h"
#include "cmboot/error.h"
#include "doctor/elf_needed.h"
#include "doctor/kconfig.h"

static const char *const full_config = "CONFIG_USB=y\nCONFIG_USB_XHCI_HCD=y\nCONFIG_NET=y\nCONFIG_DEVTMPFS=y\n"
                                       "CONFIG_USB_STORAGE=y\nCONFIG_SCSI=y\nCONFIG_BLK_DEV_SD=y\n";

typedef struct host {
    char *root;
    char sys[1024], dev[1024], proc[1024], run[1024], mods[1024], kconfig[1024], libusb[1024], boot[1024];
    cmboot_doctor_config cfg;
    cmboot_doctor_report *rep;
} host;

static void put(host *h, const char *rel, const char *text)
{
    test_write_file(h->root, rel, text, strlen(text));
}

/* A crafted copy of this test program whose DT_NEEDED names libudev instead of libcmocka. */
static void make_udev_libusb(host *h, const char *dst)
{
    FILE *in = fopen("/proc/self/exe", "rb");
    assert_non_null(in);
    size_t cap = 64 << 20, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, in)) > 0)
        len += n;
    fclose(in);
    const char *from = "libcmocka.so.0";
    char *hit = NULL;
    for (size_t i = 0; i + strlen(from) + 1 <= len && !hit; i++)
        if (memcmp(buf + i, from, strlen(from) + 1) == 0 && (i == 0 || buf[i - 1] == '\0'))
            hit = buf + i;
    assert_non_null(hit);
    memcpy(hit, "libudev.so.1\0\0", 15);
    test_write_file(h->root, dst, buf, len);
    free(buf);
}

/* A healthy host: sysfs with one root hub, /dev/bus/usb, storage drivers, full config, libusb without udev. */
static void host_new(host *h, const char *tag)
{
    memset(h, 0, sizeof *h);
    h->root = test_tmpdir(tag);
    snprintf(h->sys, sizeof h->sys, "%s/sys", h->root);
    snprintf(h->dev, sizeof h->dev, "%s/dev", h->root);
    snprintf(h->proc, sizeof h->proc, "%s/proc", h->root);
    snprintf(h->run, sizeof h->run, "%s/run", h->root);
    snprintf(h->mods, sizeof h->mods, "%s/modules", h->root);
    snprintf(h->kconfig, sizeof h->kconfig, "%s/config", h->root);
    put(h, "sys/bus/usb/devices/usb1/idVendor", "1d6b\n");
    put(h, "sys/bus/usb/drivers/usb-storage/.keep", "");
    put(h, "sys/bus/scsi/drivers/sd/.keep", "");
    put(h, "dev/bus/usb/001/001", "");
    put(h, "proc/1/comm", "init\n");
    put(h, "run/.keep", "");
    put(h, "modules/modules.dep", "");
    put(h, "config", full_config);
    cmboot_doctor_config_default(&h->cfg);
    h->cfg.sys_root = h->sys;
    h->cfg.dev_root = h->dev;
    h->cfg.proc_root = h->proc;
    h->cfg.run_root = h->run;
    h->cfg.modules_dir = h->mods;
    h->cfg.kernel_config = h->kconfig;
    h->cfg.libusb_path = "/proc/self/exe"; /* an ELF without libudev */
    h->cfg.uid = 0;
    h->cfg.check_netlink = false;
    /* Boot files for every SoC in a directory of the fake host; nothing from the real host's rpiboot. */
    snprintf(h->boot, sizeof h->boot, "%s/boot", h->root);
    put(h, "boot/bootcode.bin", "second stage");
    put(h, "boot/bootcode4.bin", "second stage");
    put(h, "boot/bootcode5.bin", "second stage");
    static const char *const nothing[] = {NULL};
    h->cfg.boot_dir = h->boot;
    h->cfg.boot_fallback_dirs = nothing;
    assert_int_equal(cmboot_doctor_report_new(&h->rep), CMBOOT_OK);
}

static void host_free(host *h)
{
    test_rmtree(h->root);
    free(h->root);
    cmboot_doctor_report_free(h->rep);
}

static void run(host *h)
{
    assert_int_equal(cmboot_doctor_run(&h->cfg, h->rep), CMBOOT_OK);
}

/* The finding must exist with this severity, a fix, and every given word in its text or fix. */
static const cmboot_doctor_finding *expect(host *h, const char *id, cmboot_doctor_severity sev, const char *words)
{
    const cmboot_doctor_finding *f = cmboot_doctor_find(h->rep, id);
    if (!f) {
        for (size_t i = 0; i < cmboot_doctor_report_findings(h->rep); i++)
            fprintf(stderr, "  have %s: %s\n", cmboot_doctor_report_finding(h->rep, i)->id,
                    cmboot_doctor_report_finding(h->rep, i)->text);
        fail_msg("no finding %s", id);
    }
    assert_int_equal(f->severity, sev);
    if (sev >= CMBOOT_DOCTOR_WARN)
        assert_true(strlen(f->fix) > 10);
    char copy[256];
    snprintf(copy, sizeof copy, "%s", words ? words : "");
    for (char *save, *w = strtok_r(copy, "|", &save); w; w = strtok_r(NULL, "|", &save))
        if (!strstr(f->text, w) && !strstr(f->fix, w))
            fail_msg("finding %s lacks \"%s\": %s / %s", id, w, f->text, f->fix);
    return f;
}

/* A Broadcom device in the fake sysfs. */
static void board(host *h, const char *name, uint16_t pid, unsigned bus, unsigned devnum, uint8_t serial_index)
{
    char rel[256], v[64];
    snprintf(rel, sizeof rel, "sys/bus/usb/devices/%s/idVendor", name);
    put(h, rel, "0a5c\n");
    snprintf(rel, sizeof rel, "sys/bus/usb/devices/%s/idProduct", name);
    snprintf(v, sizeof v, "%04x\n", pid);
    put(h, rel, v);
    snprintf(rel, sizeof rel, "sys/bus/usb/devices/%s/busnum", name);
    snprintf(v, sizeof v, "%u\n", bus);
    put(h, rel, v);
    snprintf(rel, sizeof rel, "sys/bus/usb/devices/%s/devnum", name);
    snprintf(v, sizeof v, "%u\n", devnum);
    put(h, rel, v);
    snprintf(rel, sizeof rel, "sys/bus/usb/devices/%s/bNumInterfaces", name);
    put(h, rel, " 1\n");
    snprintf(rel, sizeof rel, "sys/bus/usb/devices/%s/serial", name);
    put(h, rel, "af04b2da\n");
    uint8_t d[18] = {18,           1, 0, 2, 0, 0, 0, 64, 0x5c, 0x0a, (uint8_t)pid, (uint8_t)(pid >> 8), 0, 0, 1, 2,
                     serial_index, 1};
    snprintf(rel, sizeof rel, "sys/bus/usb/devices/%s/descriptors", name);
    test_write_file(h->root, rel, d, sizeof d);
}

static void node(host *h, unsigned bus, unsigned devnum, mode_t mode)
{
    char rel[128], path[1200];
    snprintf(rel, sizeof rel, "dev/bus/usb/%03u/%03u", bus, devnum);
    put(h, rel, "");
    snprintf(path, sizeof path, "%s/%s", h->root, rel);
    assert_int_equal(chmod(path, mode), 0);
}

static void doctor_healthy_host_has_no_blocker(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-healthy");
    board(&h, "1-1.3", 0x2711, 1, 5, 3);
    node(&h, 1, 5, 0660);
    run(&h);
    assert_true(cmboot_doctor_worst(h.rep) <= CMBOOT_DOCTOR_INFO);
    expect(&h, "usb-ok", CMBOOT_DOCTOR_OK, "1 host controller");
    expect(&h, "kconfig-ok", CMBOOT_DOCTOR_OK, NULL);
    expect(&h, "usbfs-nodes-ok", CMBOOT_DOCTOR_OK, NULL);
    expect(&h, "mass-storage-ok", CMBOOT_DOCTOR_OK, NULL);
    expect(&h, "libusb-udev-ok", CMBOOT_DOCTOR_OK, "without udev");
    expect(&h, "board", CMBOOT_DOCTOR_INFO, "BCM2711|rom|1-1.3|af04b2da");
    assert_int_equal(cmboot_doctor_report_boards(h.rep), 1);
    assert_string_equal(cmboot_doctor_report_board(h.rep, 0)->port_path, "1-1.3");
    assert_null(cmboot_doctor_find(h.rep, "no-boards"));
    host_free(&h);
}

/* Without a SoC's second stage that SoC cannot be booted: a warning naming where cmboot looked and the fix;
 * without any at all nothing can be booted: a blocker. */
static void doctor_boot_files(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-bootfiles");
    run(&h);
    expect(&h, "boot-files-BCM2711", CMBOOT_DOCTOR_OK, NULL);
    assert_null(cmboot_doctor_find(h.rep, "boot-files-none"));
    char partial[1100];
    snprintf(partial, sizeof partial, "%s/partial", h.root);
    put(&h, "partial/bootcode4.bin", "cm4 only");
    h.cfg.boot_dir = partial;
    run(&h);
    expect(&h, "boot-files-BCM2711", CMBOOT_DOCTOR_OK, NULL);
    expect(&h, "boot-files-BCM2837", CMBOOT_DOCTOR_WARN, "bootcode.bin");
    assert_non_null(strstr(cmboot_doctor_find(h.rep, "boot-files-BCM2837")->text, partial));
    assert_true(cmboot_doctor_worst(h.rep) < CMBOOT_DOCTOR_BLOCKER);
    char empty[1100];
    snprintf(empty, sizeof empty, "%s/empty", h.root);
    put(&h, "empty/.keep", "");
    h.cfg.boot_dir = empty;
    run(&h);
    expect(&h, "boot-files-none", CMBOOT_DOCTOR_BLOCKER, NULL);
    assert_non_null(strstr(cmboot_doctor_find(h.rep, "boot-files-none")->fix, "rpiboot"));
    host_free(&h);
}

static void doctor_no_sysfs(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-nosysfs");
    h.cfg.sys_root = h.mods; /* a directory without bus/ */
    run(&h);
    expect(&h, "sysfs-missing", CMBOOT_DOCTOR_BLOCKER, "mount -t sysfs");
    assert_int_equal(cmboot_doctor_worst(h.rep), CMBOOT_DOCTOR_BLOCKER);
    host_free(&h);
}

static void doctor_kernel_without_usb(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-nousb");
    char p[1100];
    snprintf(p, sizeof p, "%s/bus/usb", h.sys);
    test_rmtree(p);
    put(&h, "sys/bus/pci/.keep", "");
    put(&h, "config", "CONFIG_NET=y\n# CONFIG_USB is not set\nCONFIG_DEVTMPFS=y\n");
    run(&h);
    expect(&h, "usb-missing", CMBOOT_DOCTOR_BLOCKER, "no USB support|CONFIG_USB=y");
    expect(&h, "kconfig-missing-required", CMBOOT_DOCTOR_BLOCKER, "CONFIG_USB (USB core)|host controller");
    assert_null(cmboot_doctor_find(h.rep, "board"));
    /* When the modules are installed, the fix says to load them. */
    put(&h, "modules/modules.dep", "kernel/drivers/usb/core/usbcore.ko.xz: kernel/drivers/usb/common/usb-common.ko\n");
    run(&h);
    expect(&h, "usb-missing", CMBOOT_DOCTOR_BLOCKER, "modprobe usbcore");
    host_free(&h);
}

static void doctor_no_host_controller(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-nohcd");
    char p[1100];
    snprintf(p, sizeof p, "%s/bus/usb/devices/usb1", h.sys);
    test_rmtree(p);
    run(&h);
    expect(&h, "usb-no-host-controller", CMBOOT_DOCTOR_BLOCKER, "modprobe xhci_pci");
    host_free(&h);
}

/* A gzip member with one stored deflate block, made here so the test needs no compressor. */
static size_t gzip_stored(const char *text, uint8_t *out, size_t cap)
{
    size_t len = strlen(text);
    assert_true(len < 65535 && len + 26 <= cap);
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint8_t)text[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    crc ^= 0xffffffffu;
    size_t o = 0;
    const uint8_t hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memcpy(out, hdr, 10);
    o = 10;
    out[o++] = 1; /* final stored block */
    out[o++] = (uint8_t)len;
    out[o++] = (uint8_t)(len >> 8);
    out[o++] = (uint8_t)~len;
    out[o++] = (uint8_t)(~len >> 8);
    memcpy(out + o, text, len);
    o += len;
    for (int i = 0; i < 4; i++)
        out[o++] = (uint8_t)(crc >> (8 * i));
    for (int i = 0; i < 4; i++)
        out[o++] = (uint8_t)(len >> (8 * i));
    return o;
}

static void doctor_kernel_config_options(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-kconfig");
    /* /proc/config.gz, compressed: storage as modules, no devtmpfs, no NET. */
    uint8_t gz[2048];
    size_t n = gzip_stored("CONFIG_USB=y\nCONFIG_USB_DWC2=y\n# CONFIG_NET is not set\nCONFIG_USB_STORAGE=m\n"
                           "CONFIG_SCSI=y\nCONFIG_BLK_DEV_SD=m\n",
                           gz, sizeof gz);
    test_write_file(h.root, "proc/config.gz", gz, n);
    h.cfg.kernel_config = NULL;
    run(&h);
    const cmboot_doctor_finding *f = expect(&h, "kconfig-missing-required", CMBOOT_DOCTOR_BLOCKER, "CONFIG_NET");
    assert_null(strstr(f->text, "CONFIG_USB "));
    assert_null(strstr(f->text, "host controller"));
    expect(&h, "kconfig-modules", CMBOOT_DOCTOR_INFO, "CONFIG_USB_STORAGE|CONFIG_BLK_DEV_SD|loaded");
    expect(&h, "kconfig-missing-optional", CMBOOT_DOCTOR_INFO, "CONFIG_DEVTMPFS");
    assert_null(cmboot_doctor_find(h.rep, "kconfig-missing-storage"));
    assert_null(cmboot_doctor_find(h.rep, "kconfig-ok"));
    /* Plain text file: storage missing is a warning, not a blocker. */
    put(&h, "config",
        "CONFIG_USB=y\nCONFIG_USB_EHCI_HCD=m\nCONFIG_NET=y\nCONFIG_DEVTMPFS=y\n# CONFIG_SCSI is not set\n");
    h.cfg.kernel_config = h.kconfig;
    run(&h);
    expect(&h, "kconfig-missing-storage", CMBOOT_DOCTOR_WARN, "CONFIG_USB_STORAGE|CONFIG_SCSI|CONFIG_BLK_DEV_SD");
    expect(&h, "kconfig-modules", CMBOOT_DOCTOR_INFO, "CONFIG_USB_EHCI_HCD");
    assert_null(cmboot_doctor_find(h.rep, "kconfig-missing-required"));
    /* Unreadable: said, not guessed. */
    h.cfg.kernel_config = "/nonexistent/config";
    run(&h);
    expect(&h, "kconfig-unreadable", CMBOOT_DOCTOR_INFO, "CONFIG_IKCONFIG_PROC");
    host_free(&h);
}

static void doctor_usbfs_nodes_missing(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-nonodes");
    char p[1100];
    snprintf(p, sizeof p, "%s/bus", h.dev);
    test_rmtree(p);
    board(&h, "1-1", 0x2711, 1, 5, 3);
    run(&h);
    /* As root: cmboot makes private nodes, so it is only information. */
    expect(&h, "usbfs-nodes-missing", CMBOOT_DOCTOR_INFO, "works anyway|private node|devtmpfs|mdev");
    assert_true(cmboot_doctor_worst(h.rep) < CMBOOT_DOCTOR_BLOCKER);
    h.cfg.uid = 1000;
    run(&h);
    expect(&h, "usbfs-nodes-missing", CMBOOT_DOCTOR_BLOCKER, "root");
    host_free(&h);
}

static void doctor_permission_denied(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-perm");
    board(&h, "1-1.2", 0x2764, 1, 7, 0);
    node(&h, 1, 7, 0600);
    h.cfg.uid = 54321; /* not the owner, in no group */
    run(&h);
    expect(&h, "permission", CMBOOT_DOCTOR_BLOCKER,
           "Permission denied|001/007|mode 0600|54321|SUBSYSTEM==\"usb\", ATTR{idVendor}==\"0a5c\", MODE=\"0660\", "
           "GROUP=\"plugdev\"|mdev.conf|SUBSYSTEM=usb");
    const cmboot_doctor_finding *f = cmboot_doctor_find(h.rep, "permission");
    assert_string_equal(f->device, "1-1.2");
    /* World-writable: no finding. */
    node(&h, 1, 7, 0666);
    run(&h);
    assert_null(cmboot_doctor_find(h.rep, "permission"));
    host_free(&h);
}

static void doctor_interface_held_by_driver(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-driver");
    board(&h, "1-1", 0x2711, 1, 5, 3);
    node(&h, 1, 5, 0660);
    put(&h, "sys/bus/usb/devices/1-1/1-1:1.0/bInterfaceClass", "ff\n");
    char link[1200];
    snprintf(link, sizeof link, "%s/bus/usb/devices/1-1/1-1:1.0/driver", h.sys);
    assert_int_equal(symlink("../../../../bus/usb/drivers/rpi_hijack", link), 0);
    run(&h);
    expect(&h, "kernel-driver", CMBOOT_DOCTOR_WARN, "rpi_hijack|1-1:1.0|unbind");
    host_free(&h);
}

static void doctor_board_not_openable(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-unopen");
    board(&h, "2-3", 0x2712, 2, 4, 3);
    put(&h, "dev/bus/usb/002/004/.keep", ""); /* a directory where the node should be: open fails */
    run(&h);
    expect(&h, "board-unopenable", CMBOOT_DOCTOR_BLOCKER, "2-3|002/004|boot mode");
    host_free(&h);
}

static void doctor_last_stage_support(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-msd");
    char p[1100];
    snprintf(p, sizeof p, "%s/bus/usb/drivers", h.sys);
    test_rmtree(p);
    snprintf(p, sizeof p, "%s/bus/scsi", h.sys);
    test_rmtree(p);
    run(&h);
    expect(&h, "mass-storage-missing", CMBOOT_DOCTOR_WARN, "usb-storage|SCSI disk|CONFIG_USB_STORAGE");
    put(&h, "modules/modules.dep",
        "kernel/drivers/usb/storage/usb-storage.ko: kernel/drivers/scsi/scsi_mod.ko\n"
        "kernel/drivers/scsi/sd_mod.ko.zst: kernel/drivers/scsi/scsi_mod.ko\n");
    run(&h);
    expect(&h, "mass-storage-missing", CMBOOT_DOCTOR_INFO, "modprobe usb-storage sd_mod");
    host_free(&h);
}

static void doctor_libusb_with_udev_but_no_udevd(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-udev");
    make_udev_libusb(&h, "libusb-udev.so");
    snprintf(h.libusb, sizeof h.libusb, "%s/libusb-udev.so", h.root);
    h.cfg.libusb_path = h.libusb;
    run(&h);
    expect(&h, "libusb-udev-no-udevd", CMBOOT_DOCTOR_WARN,
           "built with udev|udevd is not running|cmboot works regardless|--disable-udev");
    assert_true(cmboot_doctor_worst(h.rep) < CMBOOT_DOCTOR_BLOCKER);
    /* udevd seen by its process name... */
    put(&h, "proc/321/comm", "systemd-udevd\n");
    run(&h);
    expect(&h, "libusb-udev-ok", CMBOOT_DOCTOR_OK, "udevd is running");
    /* ...or by its control socket. */
    unlink(strcat(strcpy((char[1200]){0}, h.proc), "/321/comm"));
    put(&h, "run/udev/control", "");
    run(&h);
    expect(&h, "libusb-udev-ok", CMBOOT_DOCTOR_OK, "udevd is running");
    host_free(&h);
}

static void doctor_lists_boards_or_none(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-boards");
    run(&h);
    expect(&h, "no-boards", CMBOOT_DOCTOR_INFO, "boot mode");
    assert_int_equal(cmboot_doctor_report_boards(h.rep), 0);
    board(&h, "1-1", 0x2711, 1, 5, 3);
    board(&h, "1-2", 0x0104, 1, 6, 3);
    board(&h, "1-3", 0x2764, 1, 8, 1);
    node(&h, 1, 5, 0660);
    node(&h, 1, 6, 0660);
    node(&h, 1, 8, 0660);
    put(&h, "sys/bus/usb/devices/1-4/idVendor", "046d\n"); /* not a board, unreadable rest: ignored */
    run(&h);
    assert_int_equal(cmboot_doctor_report_boards(h.rep), 3);
    assert_null(cmboot_doctor_find(h.rep, "no-boards"));
    int stages[4] = {0};
    for (size_t i = 0; i < cmboot_doctor_report_boards(h.rep); i++)
        stages[cmboot_doctor_report_board(h.rep, i)->stage]++;
    assert_int_equal(stages[CMBOOT_STAGE_ROM], 1);
    assert_int_equal(stages[CMBOOT_STAGE_SECOND], 1);
    assert_int_equal(stages[CMBOOT_STAGE_MASS_STORAGE], 1);
    host_free(&h);
}

/* More boards and findings than the old report's fixed arrays (32 boards, 64 findings): none is lost. */
static void doctor_reports_every_board_and_finding(void **state)
{
    (void)state;
    host h;
    host_new(&h, "doc-many");
    enum { N = 70 };
    for (int i = 0; i < N; i++) {
        char port[CMBOOT_PORT_PATH_MAX];
        snprintf(port, sizeof port, "%d-%d.%d", 1 + i / 25, 1 + i / 5 % 5, 1 + i % 5);
        board(&h, port, 0x2711, 1 + i / 25, 2 + i % 25, 3); /* no device node: one finding per board */
    }
    run(&h);
    assert_int_equal(cmboot_doctor_report_boards(h.rep), N);
    assert_null(cmboot_doctor_report_board(h.rep, N));
    size_t per_board = 0, n = cmboot_doctor_report_findings(h.rep);
    assert_true(n > 64);
    for (size_t i = 0; i < n; i++)
        per_board += strcmp(cmboot_doctor_report_finding(h.rep, i)->id, "node-missing") == 0;
    assert_int_equal(per_board, N);
    assert_null(cmboot_doctor_report_finding(h.rep, n));
    host_free(&h);
}

static void doctor_elf_and_kconfig_readers(void **state)
{
    (void)state;
    bool found = true;
    assert_int_equal(cmb_elf_needs("/proc/self/exe", "libcmocka", &found), CMBOOT_OK);
    assert_true(found);
    assert_int_equal(cmb_elf_needs("/proc/self/exe", "libudev", &found), CMBOOT_OK);
    assert_false(found);
    assert_int_equal(cmb_elf_needs("/nonexistent.so", "libudev", &found), CMBOOT_ERR_NOT_FOUND);
    char *dir = test_tmpdir("doc-elf");
    test_write_file(dir, "text.so", "not an elf at all, just text", 28);
    char p[1100];
    snprintf(p, sizeof p, "%s/text.so", dir);
    assert_int_equal(cmb_elf_needs(p, "libudev", &found), CMBOOT_ERR_FORMAT);
    /* A truncated ELF header and hostile section offsets are refused, not followed. */
    uint8_t elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    elf[0x3a] = 64;   /* e_shentsize */
    elf[0x3c] = 200;  /* e_shnum */
    elf[0x28] = 0xff; /* e_shoff far beyond the file */
    test_write_file(dir, "bad.so", elf, sizeof elf);
    snprintf(p, sizeof p, "%s/bad.so", dir);
    assert_int_equal(cmb_elf_needs(p, "libudev", &found), CMBOOT_ERR_FORMAT);
    test_write_file(dir, "short.so", elf, 20);
    snprintf(p, sizeof p, "%s/short.so", dir);
    assert_int_equal(cmb_elf_needs(p, "libudev", &found), CMBOOT_ERR_FORMAT);

    const char *cfg = "CONFIG_USB=y\n# CONFIG_SCSI is not set\nCONFIG_USB_STORAGE=m\nCONFIG_USBX=y\n"
                      "CONFIG_HZ=250\nCONFIG_NET=y";
    assert_int_equal(cmb_kconfig_value(cfg, "CONFIG_USB"), 'y');
    assert_int_equal(cmb_kconfig_value(cfg, "CONFIG_USB_STORAGE"), 'm');
    assert_int_equal(cmb_kconfig_value(cfg, "CONFIG_SCSI"), 0);
    assert_int_equal(cmb_kconfig_value(cfg, "CONFIG_US"), 0);
    assert_int_equal(cmb_kconfig_value(cfg, "CONFIG_HZ"), 0);
    assert_int_equal(cmb_kconfig_value(cfg, "CONFIG_NET"), 'y');
    char *text = NULL;
    test_write_file(dir, "binary", "\x1f\x8b\x08\x00garbage", 12);
    snprintf(p, sizeof p, "%s/binary", dir);
    assert_int_not_equal(cmb_kconfig_load(p, &text, NULL), CMBOOT_OK);
    assert_null(text);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(doctor_healthy_host_has_no_blocker),
    cmocka_unit_test(doctor_no_sysfs),
    cmocka_unit_test(doctor_boot_files),
    cmocka_unit_test(doctor_kernel_without_usb),
    cmocka_unit_test(doctor_no_host_controller),
    cmocka_unit_test(doctor_kernel_config_options),
    cmocka_unit_test(doctor_usbfs_nodes_missing),
    cmocka_unit_test(doctor_permission_denied),
    cmocka_unit_test(doctor_interface_held_by_driver),
    cmocka_unit_test(doctor_board_not_openable),
    cmocka_unit_test(doctor_last_stage_support),
    cmocka_unit_test(doctor_libusb_with_udev_but_no_udevd),
    cmocka_unit_test(doctor_lists_boards_or_none),
    cmocka_unit_test(doctor_reports_every_board_and_finding),
    cmocka_unit_test(doctor_elf_and_kconfig_readers),
};

CMBOOT_TEST_MAIN(tests)
