/* sysfs parsing and the native discovery against fake sysfs trees with injected uevents. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "usb/discovery_sysfs.h"
#include "os/linux/sysfs_usb.h"
#include "os/linux/usbfs_node.h"

/* Writes one attribute of a fake device. */
static void attr(const char *root, const char *name, const char *key, const char *value)
{
    char rel[512];
    snprintf(rel, sizeof rel, "bus/usb/devices/%s/%s", name, key);
    test_write_file(root, rel, value, strlen(value));
}

/* A fake device directory as the kernel shows it, with the device descriptor in `descriptors`. */
static void fake_device(const char *root, const char *name, uint16_t vid, uint16_t pid, unsigned bus, unsigned dev,
                        uint8_t serial_index, const char *serial)
{
    char v[32];
    snprintf(v, sizeof v, "%04x\n", vid);
    attr(root, name, "idVendor", v);
    snprintf(v, sizeof v, "%04x\n", pid);
    attr(root, name, "idProduct", v);
    snprintf(v, sizeof v, "%u\n", bus);
    attr(root, name, "busnum", v);
    snprintf(v, sizeof v, "%u\n", dev);
    attr(root, name, "devnum", v);
    attr(root, name, "bNumInterfaces", " 1\n");
    snprintf(v, sizeof v, "189:%u\n", (bus - 1) * 128 + dev - 1);
    attr(root, name, "dev", v);
    if (serial) {
        char s[128];
        snprintf(s, sizeof s, "%s\n", serial);
        attr(root, name, "serial", s);
    }
    uint8_t d[18 + 9] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, (uint8_t)vid, (uint8_t)(vid >> 8), (uint8_t)pid,
                         (uint8_t)(pid >> 8), 0, 0, 1, 2, serial_index, 1,
                         /* a configuration descriptor follows in the real file */
                         9, 2, 32, 0, 1, 1, 0, 0x80, 50};
    char rel[512];
    snprintf(rel, sizeof rel, "bus/usb/devices/%s/descriptors", name);
    test_write_file(root, rel, d, sizeof d);
}

static void remove_device(const char *root, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/bus/usb/devices/%s", root, name);
    test_rmtree(path);
}

static void sysfs_device_names(void **state)
{
    (void)state;
    assert_true(cmb_sysfs_is_device_name("1-1.3"));
    assert_true(cmb_sysfs_is_device_name("2-4"));
    assert_false(cmb_sysfs_is_device_name("usb1"));
    assert_false(cmb_sysfs_is_device_name("1-1:1.0"));
    assert_false(cmb_sysfs_is_device_name("1-1.3:1.1"));
    assert_false(cmb_sysfs_is_device_name("."));
    assert_false(cmb_sysfs_is_device_name(NULL));
}

static void sysfs_read_rom_device(void **state)
{
    (void)state;
    char *root = test_tmpdir("sysfs-rom");
    fake_device(root, "1-1.3", 0x0a5c, 0x2711, 1, 5, 3, "af04b2da");
    cmboot_device_info info;
    unsigned major = 0, minor = 0;
    assert_int_equal(cmb_sysfs_read_device(root, "1-1.3", &info, &major, &minor), CMBOOT_OK);
    assert_int_equal(info.vid, 0x0a5c);
    assert_int_equal(info.pid, 0x2711);
    assert_int_equal(info.busnum, 1);
    assert_int_equal(info.devnum, 5);
    assert_int_equal(info.serial_index, 3);
    assert_int_equal(info.num_interfaces, 1);
    assert_int_equal(info.stage, CMBOOT_STAGE_ROM);
    assert_non_null(info.soc);
    assert_string_equal(info.soc->name, "BCM2711");
    assert_string_equal(info.serial, "af04b2da");
    assert_string_equal(info.port_path, "1-1.3");
    assert_non_null(strstr(info.syspath, "/bus/usb/devices/1-1.3"));
    assert_int_equal(major, 189);
    assert_int_equal(minor, 4);
    test_rmtree(root);
    free(root);
}

static void sysfs_read_stages_and_fallbacks(void **state)
{
    (void)state;
    char *root = test_tmpdir("sysfs-stages");
    fake_device(root, "1-2", 0x0a5c, 0x2764, 1, 9, 1, "second");        /* BCM2837 second stage */
    fake_device(root, "1-3", 0x0a5c, 0x0104, 1, 10, 3, "10000000cafe"); /* mass-storage gadget */
    fake_device(root, "1-4", 0x046d, 0xc077, 1, 11, 0, NULL);           /* a mouse */
    fake_device(root, "2-1", 0x0a5c, 0x2763, 2, 3, 0, NULL);            /* BCM2835 ROM, no serial */
    char path[1024];
    snprintf(path, sizeof path, "%s/bus/usb/devices/2-1/dev", root);
    unlink(path); /* old kernels: numbers computed from bus and device */
    cmboot_device_info info;
    unsigned major, minor;
    assert_int_equal(cmb_sysfs_read_device(root, "1-2", &info, NULL, NULL), CMBOOT_OK);
    assert_int_equal(info.stage, CMBOOT_STAGE_SECOND);
    assert_string_equal(info.soc->name, "BCM2837");
    assert_int_equal(cmb_sysfs_read_device(root, "1-3", &info, NULL, NULL), CMBOOT_OK);
    assert_int_equal(info.stage, CMBOOT_STAGE_MASS_STORAGE);
    assert_null(info.soc);
    assert_string_equal(info.serial, "10000000cafe");
    assert_int_equal(cmb_sysfs_read_device(root, "1-4", &info, NULL, NULL), CMBOOT_OK);
    assert_int_equal(info.stage, CMBOOT_STAGE_UNKNOWN);
    assert_int_equal(cmb_sysfs_read_device(root, "2-1", &info, &major, &minor), CMBOOT_OK);
    assert_int_equal(info.stage, CMBOOT_STAGE_ROM);
    assert_string_equal(info.serial, "");
    assert_int_equal(major, 189);
    assert_int_equal(minor, 128 + 2);
    test_rmtree(root);
    free(root);
}

static void sysfs_read_hostile_attributes(void **state)
{
    (void)state;
    char *root = test_tmpdir("sysfs-bad");
    cmboot_device_info info;
    /* Missing device and missing descriptors: not (yet) there. */
    assert_int_equal(cmb_sysfs_read_device(root, "1-1", &info, NULL, NULL), CMBOOT_ERR_NOT_FOUND);
    fake_device(root, "1-1", 0x0a5c, 0x2711, 1, 5, 3, "x");
    char path[1024];
    snprintf(path, sizeof path, "%s/bus/usb/devices/1-1/descriptors", root);
    unlink(path);
    assert_int_equal(cmb_sysfs_read_device(root, "1-1", &info, NULL, NULL), CMBOOT_ERR_NOT_FOUND);
    /* A short or wrong descriptor. */
    test_write_file(root, "bus/usb/devices/1-1/descriptors", "\x12\x01\x00", 3);
    assert_int_equal(cmb_sysfs_read_device(root, "1-1", &info, NULL, NULL), CMBOOT_ERR_FORMAT);
    uint8_t wrong[18] = {18, 2};
    test_write_file(root, "bus/usb/devices/1-1/descriptors", wrong, sizeof wrong);
    assert_int_equal(cmb_sysfs_read_device(root, "1-1", &info, NULL, NULL), CMBOOT_ERR_FORMAT);
    fake_device(root, "1-1", 0x0a5c, 0x2711, 1, 5, 3, "x");
    /* Garbage numbers. */
    attr(root, "1-1", "idVendor", "zz5c\n");
    assert_int_equal(cmb_sysfs_read_device(root, "1-1", &info, NULL, NULL), CMBOOT_ERR_FORMAT);
    attr(root, "1-1", "idVendor", "10a5c\n");
    assert_int_equal(cmb_sysfs_read_device(root, "1-1", &info, NULL, NULL), CMBOOT_ERR_FORMAT);
    attr(root, "1-1", "idVendor", "0a5c\n");
    attr(root, "1-1", "devnum", "-5\n");
    assert_int_equal(cmb_sysfs_read_device(root, "1-1", &info, NULL, NULL), CMBOOT_ERR_FORMAT);
    attr(root, "1-1", "devnum", "0\n");
    assert_int_equal(cmb_sysfs_read_device(root, "1-1", &info, NULL, NULL), CMBOOT_ERR_FORMAT);
    attr(root, "1-1", "devnum", "5\n");
    /* A serial longer than the field and with control characters is cut and cleaned. */
    char serial[400];
    memset(serial, 'S', sizeof serial - 1);
    serial[1] = '\x1b';
    serial[sizeof serial - 1] = '\0';
    attr(root, "1-1", "serial", serial);
    assert_int_equal(cmb_sysfs_read_device(root, "1-1", &info, NULL, NULL), CMBOOT_OK);
    assert_string_equal(info.serial, ""); /* too long to be a serial: dropped, not cut */
    attr(root, "1-1", "serial", "ab\x1b[2Jcd\n");
    assert_int_equal(cmb_sysfs_read_device(root, "1-1", &info, NULL, NULL), CMBOOT_OK);
    assert_string_equal(info.serial, "ab[2Jcd");
    test_rmtree(root);
    free(root);
}

static void sysfs_interface_driver_link(void **state)
{
    (void)state;
    char *root = test_tmpdir("sysfs-drv");
    fake_device(root, "1-1", 0x0a5c, 0x2711, 1, 5, 3, "x");
    attr(root, "1-1", "bConfigurationValue", "1\n");
    char dir[1024], link[1100];
    snprintf(dir, sizeof dir, "%s/bus/usb/devices/1-1", root);
    char drv[64];
    assert_int_equal(cmb_sysfs_interface_driver(dir, "1-1", 0, drv, sizeof drv), CMBOOT_ERR_NOT_FOUND);
    test_write_file(root, "bus/usb/devices/1-1/1-1:1.0/bInterfaceClass", "ff\n", 3);
    snprintf(link, sizeof link, "%s/1-1:1.0/driver", dir);
    assert_int_equal(symlink("../../../../bus/usb/drivers/usbfs", link), 0);
    assert_int_equal(cmb_sysfs_interface_driver(dir, "1-1", 0, drv, sizeof drv), CMBOOT_OK);
    assert_string_equal(drv, "usbfs");
    assert_int_equal(cmb_sysfs_interface_driver(dir, "1-1", 1, drv, sizeof drv), CMBOOT_ERR_NOT_FOUND);
    test_rmtree(root);
    free(root);
}

/* ---- discovery ---- */

typedef struct fixture {
    char *root;
    char devroot[1024];
    int feed; /* our end of the uevent socketpair */
    cmboot_discovery disc;
} fixture;

static void start(fixture *f, const char *tag)
{
    f->root = test_tmpdir(tag);
    snprintf(f->devroot, sizeof f->devroot, "%s/dev", f->root);
    mkdir(f->devroot, 0755);
    test_write_file(f->root, "bus/usb/devices/.keep", "", 0);
}

static void open_disc(fixture *f, unsigned settle_ms)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    f->feed = sv[1];
    cmb_sysfs_options opt = {.sys_root = f->root,
                             .dev_root = f->devroot,
                             .uevent_fd = sv[0],
                             .uevent_is_netlink = false,
                             .settle_ms = settle_ms};
    assert_int_equal(cmb_discovery_sysfs_new_opts(NULL, &opt, &f->disc), CMBOOT_OK);
    assert_string_equal(f->disc.ops->name, "sysfs");
}

static void stop(fixture *f)
{
    f->disc.ops->destroy(f->disc.self);
    close(f->feed);
    test_rmtree(f->root);
    free(f->root);
}

/* Sends a kernel-style uevent for a usb_device. */
static void send_uevent(fixture *f, const char *action, const char *name, const char *product, int devnum)
{
    char buf[1024];
    size_t len = 0;
    char parts[8][256];
    int n = 0;
    snprintf(parts[n++], 256, "%s@/devices/pci0000:00/usb1/%s", action, name);
    snprintf(parts[n++], 256, "ACTION=%s", action);
    snprintf(parts[n++], 256, "DEVPATH=/devices/pci0000:00/usb1/%s", name);
    snprintf(parts[n++], 256, "SUBSYSTEM=usb");
    snprintf(parts[n++], 256, "DEVTYPE=usb_device");
    if (product)
        snprintf(parts[n++], 256, "PRODUCT=%s", product);
    if (devnum > 0)
        snprintf(parts[n++], 256, "DEVNUM=%03d", devnum);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(parts[i]) + 1;
        memcpy(buf + len, parts[i], l);
        len += l;
    }
    assert_int_equal(write(f->feed, buf, len), (ssize_t)len);
}

static int next(fixture *f, cmboot_device_event *ev, int64_t wait_ms)
{
    return f->disc.ops->next_event(f->disc.self, ev, cmboot_now_ms() + wait_ms);
}

static void discovery_reports_present_boards_first(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-initial");
    fake_device(f.root, "1-1.3", 0x0a5c, 0x2711, 1, 5, 3, "af04b2da");
    fake_device(f.root, "1-1.4", 0x0a5c, 0x0104, 1, 6, 3, "1000cafe");
    fake_device(f.root, "1-2", 0x046d, 0xc077, 1, 7, 0, NULL);
    fake_device(f.root, "1-1", 0x05e3, 0x0608, 1, 2, 0, NULL); /* the hub */
    test_write_file(f.root, "bus/usb/devices/usb1/idVendor", "1d6b\n", 5);
    test_write_file(f.root, "bus/usb/devices/1-1.3:1.0/bInterfaceClass", "ff\n", 3);
    open_disc(&f, 0);
    cmboot_device_event ev;
    int seen_rom = 0, seen_msd = 0;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(next(&f, &ev, 0), CMBOOT_OK);
        assert_int_equal(ev.type, CMBOOT_DEVICE_ADDED);
        if (strcmp(ev.dev.port_path, "1-1.3") == 0) {
            seen_rom++;
            assert_int_equal(ev.dev.stage, CMBOOT_STAGE_ROM);
            assert_string_equal(ev.dev.serial, "af04b2da");
        } else {
            assert_string_equal(ev.dev.port_path, "1-1.4");
            assert_int_equal(ev.dev.stage, CMBOOT_STAGE_MASS_STORAGE);
            seen_msd++;
        }
    }
    assert_int_equal(seen_rom, 1);
    assert_int_equal(seen_msd, 1);
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(next(&f, &ev, 50), CMBOOT_ERR_TIMEOUT);
    assert_true(cmboot_now_ms() - t0 >= 45);
    stop(&f);
}

static void discovery_sees_board_plugged_later(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-later");
    open_disc(&f, 0);
    cmboot_device_event ev;
    assert_int_equal(next(&f, &ev, 0), CMBOOT_ERR_TIMEOUT);
    /* A foreign device and an interface event are ignored. */
    fake_device(f.root, "1-2", 0x046d, 0xc077, 1, 7, 0, NULL);
    send_uevent(&f, "add", "1-2", "46d/c077/100", 7);
    send_uevent(&f, "add", "1-2:1.0", NULL, -1);
    fake_device(f.root, "1-1.3", 0x0a5c, 0x2711, 1, 5, 3, "af04b2da");
    send_uevent(&f, "add", "1-1.3", "a5c/2711/0", 5);
    assert_int_equal(next(&f, &ev, 1000), CMBOOT_OK);
    assert_int_equal(ev.type, CMBOOT_DEVICE_ADDED);
    assert_string_equal(ev.dev.port_path, "1-1.3");
    assert_int_equal(ev.dev.stage, CMBOOT_STAGE_ROM);
    assert_int_equal(ev.dev.devnum, 5);
    /* The same device announced again (bind) is not reported twice. */
    send_uevent(&f, "bind", "1-1.3", "a5c/2711/0", 5);
    assert_int_equal(next(&f, &ev, 30), CMBOOT_ERR_TIMEOUT);
    stop(&f);
}

static void discovery_follows_reenumeration(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-reenum");
    fake_device(f.root, "1-1.3", 0x0a5c, 0x2711, 1, 5, 3, "af04b2da");
    open_disc(&f, 0);
    cmboot_device_event ev;
    assert_int_equal(next(&f, &ev, 0), CMBOOT_OK);
    assert_int_equal(ev.dev.stage, CMBOOT_STAGE_ROM);
    /* ROM leaves, second stage arrives on the same port with a new device number. */
    remove_device(f.root, "1-1.3");
    send_uevent(&f, "remove", "1-1.3", "a5c/2711/0", 5);
    fake_device(f.root, "1-1.3", 0x0a5c, 0x2711, 1, 6, 1, "af04b2da");
    send_uevent(&f, "add", "1-1.3", "a5c/2711/0", 6);
    assert_int_equal(next(&f, &ev, 1000), CMBOOT_OK);
    assert_int_equal(ev.type, CMBOOT_DEVICE_REMOVED);
    assert_string_equal(ev.dev.port_path, "1-1.3");
    assert_int_equal(ev.dev.devnum, 5);
    assert_int_equal(next(&f, &ev, 1000), CMBOOT_OK);
    assert_int_equal(ev.type, CMBOOT_DEVICE_ADDED);
    assert_int_equal(ev.dev.stage, CMBOOT_STAGE_SECOND);
    assert_int_equal(ev.dev.devnum, 6);
    /* A stale remove for the old device number does not remove the new one. */
    send_uevent(&f, "remove", "1-1.3", "a5c/2711/0", 5);
    assert_int_equal(next(&f, &ev, 30), CMBOOT_ERR_TIMEOUT);
    /* Missed remove: an add with a new number on a known port reports the old one gone first. */
    remove_device(f.root, "1-1.3");
    fake_device(f.root, "1-1.3", 0x0a5c, 0x0104, 1, 7, 3, "1000cafe");
    send_uevent(&f, "add", "1-1.3", "a5c/104/0", 7);
    assert_int_equal(next(&f, &ev, 1000), CMBOOT_OK);
    assert_int_equal(ev.type, CMBOOT_DEVICE_REMOVED);
    assert_int_equal(ev.dev.devnum, 6);
    assert_int_equal(next(&f, &ev, 1000), CMBOOT_OK);
    assert_int_equal(ev.type, CMBOOT_DEVICE_ADDED);
    assert_int_equal(ev.dev.stage, CMBOOT_STAGE_MASS_STORAGE);
    stop(&f);
}

typedef struct late_writer {
    const char *root;
    int delay_ms;
} late_writer;

static void *write_late(void *arg)
{
    late_writer *w = arg;
    /* The test's own pacing, outside the library: the attributes appear a while after the uevent. */
    struct timespec ts = {0, (long)w->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    fake_device(w->root, "1-4", 0x0a5c, 0x2712, 1, 12, 3, "5e7f00d");
    return NULL;
}

static void discovery_waits_for_lagging_attributes(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-lag");
    open_disc(&f, 2000);
    /* The uevent arrives before sysfs has the attributes. */
    send_uevent(&f, "add", "1-4", "a5c/2712/0", 12);
    late_writer w = {f.root, 80};
    pthread_t th;
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(pthread_create(&th, NULL, write_late, &w), 0);
    cmboot_device_event ev;
    assert_int_equal(next(&f, &ev, 1500), CMBOOT_OK);
    int64_t took = cmboot_now_ms() - t0;
    pthread_join(th, NULL);
    assert_int_equal(ev.type, CMBOOT_DEVICE_ADDED);
    assert_string_equal(ev.dev.port_path, "1-4");
    assert_string_equal(ev.dev.soc->name, "BCM2712");
    assert_true(took >= 70);
    assert_true(took < 1000); /* bounded back-off: not the whole settle window */
    stop(&f);
}

static void *configure_late(void *arg)
{
    late_writer *w = arg;
    struct timespec ts = {0, (long)w->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    attr(w->root, "1-6", "bNumInterfaces", " 2\n"); /* what the generic driver's SET_CONFIGURATION brings */
    return NULL;
}

/* The kernel announces a device before its configuration is set: a two-interface BCM2837 ROM then shows an
 * empty bNumInterfaces, and reporting it at once would make the host open interface 0 / EP 0x01, which is the
 * ROM's mass-storage interface. It is reported only once configured, with both interfaces. */
static void discovery_waits_for_configuration(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-unconfigured");
    fake_device(f.root, "1-6", 0x0a5c, 0x2764, 1, 4, 0, NULL);
    attr(f.root, "1-6", "bNumInterfaces", "\n");
    cmboot_device_info info;
    assert_int_equal(cmb_sysfs_read_device(f.root, "1-6", &info, NULL, NULL), CMBOOT_OK);
    assert_int_equal(info.num_interfaces, 0);
    open_disc(&f, 2000);
    send_uevent(&f, "add", "1-6", "a5c/2764/0", 4);
    cmboot_device_event ev;
    assert_int_equal(next(&f, &ev, 150), CMBOOT_ERR_TIMEOUT); /* not before it is configured */
    late_writer w = {f.root, 50};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, configure_late, &w), 0);
    assert_int_equal(next(&f, &ev, 1500), CMBOOT_OK);
    pthread_join(th, NULL);
    assert_int_equal(ev.type, CMBOOT_DEVICE_ADDED);
    assert_string_equal(ev.dev.port_path, "1-6");
    assert_int_equal(ev.dev.num_interfaces, 2);
    int iface = -1;
    uint8_t ep = 0;
    cmboot_vendor_endpoint(ev.dev.num_interfaces, &iface, &ep);
    assert_int_equal(iface, 1);
    assert_int_equal(ep, 0x03);
    stop(&f);
}

static void *configure_gadget_late(void *arg)
{
    late_writer *w = arg;
    struct timespec ts = {0, (long)w->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    attr(w->root, "1-8", "bNumInterfaces", " 1\n");
    return NULL;
}

/* The fastboot gadget announced before its configuration is set: opened then, the transport finds no fastboot
 * interface in an active configuration (none yet) and has no bulk IN (seen in the QEMU bench: getvar failed as
 * unsupported). It is reported only once configured. */
static void discovery_waits_for_fastboot_configuration(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-fb-unconfigured");
    fake_device(f.root, "1-8", CMBOOT_VID_FASTBOOT, CMBOOT_PID_FASTBOOT, 1, 6, 3, "c5fb0001");
    attr(f.root, "1-8", "bNumInterfaces", "\n");
    open_disc(&f, 2000);
    send_uevent(&f, "add", "1-8", "18d1/4e40/100", 6);
    cmboot_device_event ev;
    assert_int_equal(next(&f, &ev, 150), CMBOOT_ERR_TIMEOUT); /* not before it is configured */
    late_writer w = {f.root, 50};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, configure_gadget_late, &w), 0);
    assert_int_equal(next(&f, &ev, 1500), CMBOOT_OK);
    pthread_join(th, NULL);
    assert_int_equal(ev.type, CMBOOT_DEVICE_ADDED);
    assert_string_equal(ev.dev.port_path, "1-8");
    assert_int_equal(ev.dev.stage, CMBOOT_STAGE_FASTBOOT);
    assert_int_equal(ev.dev.num_interfaces, 1);
    stop(&f);
}

/* Without udev nobody applies upstream's rule that switches off the ROM's mass-storage interface: cmboot does. */
static void discovery_deauthorizes_rom_storage(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-deauth");
    fake_device(f.root, "1-7", 0x0a5c, 0x2764, 1, 5, 0, NULL);
    attr(f.root, "1-7", "bNumInterfaces", " 2\n");
    attr(f.root, "1-7", "bConfigurationValue", "1\n");
    test_write_file(f.root, "bus/usb/devices/1-7/1-7:1.0/bInterfaceClass", "08\n", 3);
    test_write_file(f.root, "bus/usb/devices/1-7/1-7:1.0/authorized", "1\n", 2);
    test_write_file(f.root, "bus/usb/devices/1-7/1-7:1.1/bInterfaceClass", "ff\n", 3);
    test_write_file(f.root, "bus/usb/devices/1-7/1-7:1.1/authorized", "1\n", 2);
    /* A one-interface second stage on another port keeps its vendor interface. */
    fake_device(f.root, "1-8", 0x0a5c, 0x2764, 1, 6, 1, "x");
    test_write_file(f.root, "bus/usb/devices/1-8/1-8:1.0/bInterfaceClass", "ff\n", 3);
    test_write_file(f.root, "bus/usb/devices/1-8/1-8:1.0/authorized", "1\n", 2);
    open_disc(&f, 0);
    cmboot_device_event ev;
    assert_int_equal(next(&f, &ev, 0), CMBOOT_OK);
    assert_int_equal(next(&f, &ev, 0), CMBOOT_OK);
    char buf[8];
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/bus/usb/devices/1-7/1-7:1.0", f.root);
    assert_int_equal(cmb_sysfs_read_attr(dir, "authorized", buf, sizeof buf), CMBOOT_OK);
    assert_string_equal(buf, "0");
    snprintf(dir, sizeof dir, "%s/bus/usb/devices/1-7/1-7:1.1", f.root);
    assert_int_equal(cmb_sysfs_read_attr(dir, "authorized", buf, sizeof buf), CMBOOT_OK);
    assert_string_equal(buf, "1");
    snprintf(dir, sizeof dir, "%s/bus/usb/devices/1-8/1-8:1.0", f.root);
    assert_int_equal(cmb_sysfs_read_attr(dir, "authorized", buf, sizeof buf), CMBOOT_OK);
    assert_string_equal(buf, "1");
    stop(&f);
}

/* With cmboot already running (a production line), the ROM's mass-storage interface is switched off as soon as
 * its own uevent arrives, before usb-storage's first SCSI command, not only once the device is reported. */
static void discovery_deauthorizes_on_interface_uevent(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-deauth-early");
    open_disc(&f, 2000);
    fake_device(f.root, "1-9", 0x0a5c, 0x2764, 1, 5, 0, NULL);
    attr(f.root, "1-9", "bNumInterfaces", "\n"); /* the device itself is not configured as far as sysfs says */
    test_write_file(f.root, "bus/usb/devices/1-9/1-9:1.0/bInterfaceClass", "08\n", 3);
    test_write_file(f.root, "bus/usb/devices/1-9/1-9:1.0/authorized", "1\n", 2);
    const char msg[] = "add@/devices/pci0000:00/usb1/1-9/1-9:1.0\0ACTION=add\0"
                       "DEVPATH=/devices/pci0000:00/usb1/1-9/1-9:1.0\0SUBSYSTEM=usb\0DEVTYPE=usb_interface\0"
                       "PRODUCT=a5c/2764/0\0INTERFACE=8/6/80\0";
    assert_int_equal(write(f.feed, msg, sizeof msg), (ssize_t)sizeof msg);
    cmboot_device_event ev;
    assert_int_equal(next(&f, &ev, 50), CMBOOT_ERR_TIMEOUT); /* nothing to report yet */
    char buf[8], dir[1024];
    snprintf(dir, sizeof dir, "%s/bus/usb/devices/1-9/1-9:1.0", f.root);
    assert_int_equal(cmb_sysfs_read_attr(dir, "authorized", buf, sizeof buf), CMBOOT_OK);
    assert_string_equal(buf, "0");
    /* A CM4's interface is never touched. */
    fake_device(f.root, "1-10", 0x0a5c, 0x2711, 1, 6, 3, "x");
    test_write_file(f.root, "bus/usb/devices/1-10/1-10:1.0/bInterfaceClass", "08\n", 3);
    test_write_file(f.root, "bus/usb/devices/1-10/1-10:1.0/authorized", "1\n", 2);
    const char msg4[] = "add@/devices/pci0000:00/usb1/1-10/1-10:1.0\0ACTION=add\0"
                        "DEVPATH=/devices/pci0000:00/usb1/1-10/1-10:1.0\0SUBSYSTEM=usb\0DEVTYPE=usb_interface\0"
                        "PRODUCT=a5c/2711/0\0INTERFACE=8/6/80\0";
    assert_int_equal(write(f.feed, msg4, sizeof msg4), (ssize_t)sizeof msg4);
    assert_int_equal(next(&f, &ev, 50), CMBOOT_ERR_TIMEOUT);
    snprintf(dir, sizeof dir, "%s/bus/usb/devices/1-10/1-10:1.0", f.root);
    assert_int_equal(cmb_sysfs_read_attr(dir, "authorized", buf, sizeof buf), CMBOOT_OK);
    assert_string_equal(buf, "1");
    stop(&f);
}

static void discovery_gives_up_on_attributes_after_deadline(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-settle");
    open_disc(&f, 100);
    send_uevent(&f, "add", "1-5", "a5c/2711/0", 3);
    cmboot_device_event ev;
    assert_int_equal(next(&f, &ev, 300), CMBOOT_ERR_TIMEOUT);
    /* Past the settle deadline the device is dropped: attributes appearing later need a new event. */
    fake_device(f.root, "1-5", 0x0a5c, 0x2711, 1, 3, 3, "x");
    assert_int_equal(next(&f, &ev, 50), CMBOOT_ERR_TIMEOUT);
    send_uevent(&f, "bind", "1-5", "a5c/2711/0", 3);
    assert_int_equal(next(&f, &ev, 500), CMBOOT_OK);
    assert_string_equal(ev.dev.port_path, "1-5");
    stop(&f);
}

static void discovery_ignores_libudev_and_garbage(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-garbage");
    open_disc(&f, 0);
    fake_device(f.root, "1-1", 0x0a5c, 0x2711, 1, 5, 3, "x");
    char udev[64] = "libudev";
    memcpy(udev + 8, "\xfe\xed\xca\xfe", 4);
    assert_int_equal(write(f.feed, udev, sizeof udev), (ssize_t)sizeof udev);
    assert_int_equal(write(f.feed, "add@/x\0ACTION", 13), 13);
    cmboot_device_event ev;
    assert_int_equal(next(&f, &ev, 30), CMBOOT_ERR_TIMEOUT);
    stop(&f);
}

typedef struct waker {
    cmboot_discovery *disc;
    int delay_ms;
} waker;

static void *wake_later(void *arg)
{
    waker *w = arg;
    struct timespec ts = {0, (long)w->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    w->disc->ops->wakeup(w->disc->self);
    return NULL;
}

static void discovery_wakeup_interrupts_wait(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-wake");
    open_disc(&f, 0);
    cmboot_device_event ev;
    waker w = {&f.disc, 50};
    pthread_t th;
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(pthread_create(&th, NULL, wake_later, &w), 0);
    assert_int_equal(next(&f, &ev, 5000), CMBOOT_ERR_CANCELLED);
    int64_t took = cmboot_now_ms() - t0;
    pthread_join(th, NULL);
    assert_true(took >= 40 && took < 2000);
    /* A wakeup is consumed once: the next wait times out normally. */
    assert_int_equal(next(&f, &ev, 20), CMBOOT_ERR_TIMEOUT);
    /* A wakeup before the call also cancels it. */
    f.disc.ops->wakeup(f.disc.self);
    assert_int_equal(next(&f, &ev, 5000), CMBOOT_ERR_CANCELLED);
    stop(&f);
}

static void discovery_open_gone_device(void **state)
{
    (void)state;
    fixture f;
    start(&f, "disc-open");
    fake_device(f.root, "1-1", 0x0a5c, 0x2711, 1, 5, 3, "x");
    open_disc(&f, 0);
    cmboot_device_event ev;
    assert_int_equal(next(&f, &ev, 0), CMBOOT_OK);
    /* Re-enumerated since it was reported: open refuses the stale device. */
    attr(f.root, "1-1", "devnum", "9\n");
    cmboot_transport t;
    assert_int_equal(f.disc.ops->open(f.disc.self, &ev.dev, &t), CMBOOT_ERR_NO_DEVICE);
    remove_device(f.root, "1-1");
    assert_int_equal(f.disc.ops->open(f.disc.self, &ev.dev, &t), CMBOOT_ERR_NO_DEVICE);
    stop(&f);
}

/* ---- usbfs nodes ---- */

static int count_private_dirs(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, ".cmboot-usb-", 12) == 0)
            n++;
    closedir(d);
    return n;
}

static void usbfs_opens_existing_node(void **state)
{
    (void)state;
    char *root = test_tmpdir("usbfs-node");
    test_write_file(root, "bus/usb/001/005", "", 0);
    char path[256];
    assert_int_equal(cmb_usbfs_node_path(path, sizeof path, "/dev", 1, 5), CMBOOT_OK);
    assert_string_equal(path, "/dev/bus/usb/001/005");
    int fd = cmb_usbfs_open(root, 1, 5, 189, 4, cmboot_now_ms() + 100);
    assert_true(fd >= 0);
    close(fd);
    test_rmtree(root);
    free(root);
}

static void usbfs_makes_private_node_when_missing(void **state)
{
    (void)state;
    char *root = test_tmpdir("usbfs-private");
    /* No bus/usb at all (no devtmpfs, no mdev). 1:3 is /dev/null, a char device any test host has. */
    int fd = cmb_usbfs_open(root, 1, 5, 1, 3, cmboot_now_ms() + 100);
    if (geteuid() == 0) {
        assert_true(fd >= 0);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_int_equal(write(fd, "x", 1), 1);
        close(fd);
    } else {
        assert_int_equal(fd, CMBOOT_ERR_ACCESS); /* mknod needs CAP_MKNOD */
    }
    assert_int_equal(count_private_dirs(root), 0); /* nothing left behind */
    test_rmtree(root);
    free(root);
}

/* The permission race: a fresh node is refused until udev/mdev sets its mode. The open waits (inotify)
 * and succeeds once the mode changes; without a change it gives up at the deadline. Runs as an
 * unprivileged child, since root is never refused. */
static int child_open(const char *root, int64_t wait_ms, int64_t *took)
{
    int64_t t0 = cmboot_now_ms();
    int fd = cmb_usbfs_open(root, 1, 9, 189, 8, t0 + wait_ms);
    *took = cmboot_now_ms() - t0;
    if (fd >= 0)
        close(fd);
    return fd;
}

static void usbfs_waits_for_node_permissions(void **state)
{
    (void)state;
    char root[] = "/tmp/cmboot-perm.XXXXXX";
    assert_non_null(mkdtemp(root));
    assert_int_equal(chmod(root, 0755), 0);
    test_write_file(root, "bus/usb/001/009", "", 0);
    char node[256];
    snprintf(node, sizeof node, "%s/bus/usb/001/009", root);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(chmod(node, 0000), 0);
        int pipefd[2];
        assert_int_equal(pipe(pipefd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
                _exit(10);
            char go;
            if (read(pipefd[0], &go, 1) != 1)
                _exit(11);
            int64_t took = 0;
            int fd = child_open(root, round == 0 ? 3000 : 150, &took);
            if (round == 0)
                _exit(fd >= 0 && took >= 40 && took < 2500 ? 0 : 12);
            _exit(fd == CMBOOT_ERR_ACCESS && took >= 140 ? 0 : 13);
        }
        assert_int_equal(write(pipefd[1], "g", 1), 1);
        if (round == 0) {
            struct timespec ts = {0, 80 * 1000000L}; /* the test plays udev, a little later */
            nanosleep(&ts, NULL);
            assert_int_equal(chmod(node, 0666), 0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        close(pipefd[0]);
        close(pipefd[1]);
    }
    test_rmtree(root);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(sysfs_device_names),
    cmocka_unit_test(sysfs_read_rom_device),
    cmocka_unit_test(sysfs_read_stages_and_fallbacks),
    cmocka_unit_test(sysfs_read_hostile_attributes),
    cmocka_unit_test(sysfs_interface_driver_link),
    cmocka_unit_test(discovery_reports_present_boards_first),
    cmocka_unit_test(discovery_sees_board_plugged_later),
    cmocka_unit_test(discovery_follows_reenumeration),
    cmocka_unit_test(discovery_waits_for_lagging_attributes),
    cmocka_unit_test(discovery_waits_for_configuration),
    cmocka_unit_test(discovery_waits_for_fastboot_configuration),
    cmocka_unit_test(discovery_deauthorizes_rom_storage),
    cmocka_unit_test(discovery_deauthorizes_on_interface_uevent),
    cmocka_unit_test(discovery_gives_up_on_attributes_after_deadline),
    cmocka_unit_test(discovery_ignores_libudev_and_garbage),
    cmocka_unit_test(discovery_wakeup_interrupts_wait),
    cmocka_unit_test(discovery_open_gone_device),
    cmocka_unit_test(usbfs_opens_existing_node),
    cmocka_unit_test(usbfs_makes_private_node_when_missing),
    cmocka_unit_test(usbfs_waits_for_node_permissions),
};

CMBOOT_TEST_MAIN(tests)
