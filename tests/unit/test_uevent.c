/* Kernel uevent parsing and the sender check of the netlink socket. */
#include "testutil.h"

#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "os/linux/uevent.h"

/* Builds a datagram from NUL-separated parts; returns its length. */
static size_t build(char *buf, size_t size, const char *const *parts, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]) + 1;
        assert_true(len + l <= size);
        memcpy(buf + len, parts[i], l);
        len += l;
    }
    return len;
}

static const char *const add_msg[] = {
    "add@/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.3",
    "ACTION=add",
    "DEVPATH=/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.3",
    "SUBSYSTEM=usb",
    "MAJOR=189",
    "MINOR=4",
    "DEVNAME=bus/usb/001/005",
    "DEVTYPE=usb_device",
    "PRODUCT=a5c/2711/0",
    "TYPE=0/0/0",
    "BUSNUM=001",
    "DEVNUM=005",
    "SEQNUM=2417",
};

static void uevent_parse_add(void **state)
{
    (void)state;
    char buf[1024];
    size_t len = build(buf, sizeof buf, add_msg, sizeof add_msg / sizeof add_msg[0]);
    cmb_uevent u;
    assert_int_equal(cmb_uevent_parse(buf, len, &u), CMBOOT_OK);
    assert_int_equal(u.action, CMB_UEVENT_ADD);
    assert_string_equal(u.name, "1-1.3");
    assert_string_equal(u.subsystem, "usb");
    assert_string_equal(u.devtype, "usb_device");
    assert_string_equal(u.devname, "bus/usb/001/005");
    assert_int_equal(u.major, 189);
    assert_int_equal(u.minor, 4);
    assert_int_equal(u.busnum, 1);
    assert_int_equal(u.devnum, 5);
    assert_int_equal(u.vid, 0x0a5c);
    assert_int_equal(u.pid, 0x2711);
    assert_true(cmb_uevent_is_usb_device(&u));
}

static void uevent_parse_actions_and_interfaces(void **state)
{
    (void)state;
    const char *rm[] = {"remove@/devices/x/usb1/1-1/1-1:1.0",
                        "ACTION=remove",
                        "DEVPATH=/devices/x/usb1/1-1/1-1:1.0",
                        "SUBSYSTEM=usb",
                        "DEVTYPE=usb_interface",
                        "INTERFACE=255/0/0"};
    char buf[512];
    cmb_uevent u;
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, rm, 6), &u), CMBOOT_OK);
    assert_int_equal(u.action, CMB_UEVENT_REMOVE);
    assert_string_equal(u.name, "1-1:1.0");
    assert_false(cmb_uevent_is_usb_device(&u));
    assert_int_equal(u.vid, -1);
    assert_int_equal(u.busnum, -1);
    const char *bind[] = {"bind@/devices/x/1-2", "ACTION=bind",        "DEVPATH=/devices/x/1-2",
                          "SUBSYSTEM=usb",       "DEVTYPE=usb_device", "DRIVER=usb"};
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, bind, 6), &u), CMBOOT_OK);
    assert_int_equal(u.action, CMB_UEVENT_BIND);
    assert_true(cmb_uevent_is_usb_device(&u));
    const char *other[] = {"offline@/devices/x/1-2", "ACTION=offline", "DEVPATH=/devices/x/1-2"};
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, other, 3), &u), CMBOOT_OK);
    assert_int_equal(u.action, CMB_UEVENT_OTHER);
}

static void uevent_rejects_libudev_and_malformed(void **state)
{
    (void)state;
    char buf[1024];
    cmb_uevent u;
    /* libudev's re-broadcasts start with "libudev\0" and a binary header: not the kernel's. */
    memcpy(buf, "libudev\0\xfe\xed\xca\xfe", 12);
    memset(buf + 12, 0, 20);
    assert_int_equal(cmb_uevent_parse(buf, 32, &u), CMBOOT_ERR_FORMAT);
    size_t len = build(buf, sizeof buf, add_msg, sizeof add_msg / sizeof add_msg[0]);
    /* Not terminated inside the datagram. */
    assert_int_equal(cmb_uevent_parse(buf, len - 1, &u), CMBOOT_ERR_FORMAT);
    assert_int_equal(cmb_uevent_parse(buf, 0, &u), CMBOOT_ERR_FORMAT);
    /* Missing ACTION / DEVPATH. */
    const char *noact[] = {"add@/devices/x/1-2", "DEVPATH=/devices/x/1-2"};
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, noact, 2), &u), CMBOOT_ERR_FORMAT);
    const char *nopath[] = {"add@/devices/x/1-2", "ACTION=add"};
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, nopath, 2), &u), CMBOOT_ERR_FORMAT);
    /* Header without '@'. */
    const char *nohdr[] = {"hello", "ACTION=add", "DEVPATH=/devices/x/1-2"};
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, nohdr, 3), &u), CMBOOT_ERR_FORMAT);
    /* Numbers out of range and bad PRODUCT. */
    const char *badnum[] = {"add@/d/1-2", "ACTION=add", "DEVPATH=/d/1-2", "BUSNUM=999"};
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, badnum, 4), &u), CMBOOT_ERR_FORMAT);
    const char *badprod[] = {"add@/d/1-2", "ACTION=add", "DEVPATH=/d/1-2", "PRODUCT=12345/1/0"};
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, badprod, 4), &u), CMBOOT_ERR_FORMAT);
    const char *neg[] = {"add@/d/1-2", "ACTION=add", "DEVPATH=/d/1-2", "MINOR=-1"};
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, neg, 4), &u), CMBOOT_ERR_FORMAT);
    /* A value longer than its field. */
    char longpath[400] = "DEVPATH=/";
    memset(longpath + 9, 'a', 300);
    longpath[309] = '\0';
    const char *toolong[] = {"add@/x", "ACTION=add", longpath};
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, toolong, 3), &u), CMBOOT_ERR_FORMAT);
    /* Trailing slash: no device name. */
    const char *slash[] = {"add@/d/", "ACTION=add", "DEVPATH=/d/"};
    assert_int_equal(cmb_uevent_parse(buf, build(buf, sizeof buf, slash, 3), &u), CMBOOT_ERR_FORMAT);
}

static void uevent_parse_garbage_is_bounded(void **state)
{
    (void)state;
    /* Random datagrams must never be read beyond their length (ASan checks) nor crash. */
    uint8_t buf[600];
    cmb_uevent u;
    for (uint32_t seed = 1; seed < 2000; seed++) {
        size_t len = 1 + seed % sizeof buf;
        test_fill_pattern(buf, len, seed);
        if (seed % 3 == 0)
            buf[len - 1] = 0;
        int rc = cmb_uevent_parse(buf, len, &u);
        assert_true(rc == CMBOOT_OK || rc == CMBOOT_ERR_FORMAT);
    }
}

static void uevent_recv_socketpair(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
    char buf[1024], in[CMB_UEVENT_BUF];
    size_t len = build(buf, sizeof buf, add_msg, sizeof add_msg / sizeof add_msg[0]);
    size_t got = 0;
    assert_int_equal(cmb_uevent_recv(sv[0], false, in, sizeof in, &got), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(write(sv[1], buf, len), (ssize_t)len);
    assert_int_equal(cmb_uevent_recv(sv[0], false, in, sizeof in, &got), CMBOOT_OK);
    assert_int_equal(got, len);
    assert_memory_equal(in, buf, len);
    /* A datagram bigger than the buffer is refused, not cut. */
    assert_int_equal(write(sv[1], buf, len), (ssize_t)len);
    assert_int_equal(cmb_uevent_recv(sv[0], false, in, 16, &got), CMBOOT_ERR_TOO_LARGE);
    close(sv[1]);
    assert_int_equal(cmb_uevent_recv(sv[0], false, in, sizeof in, &got), CMBOOT_ERR_NO_DEVICE);
    close(sv[0]);
}

/* A userspace process sending on the uevent group must never be believed: either the kernel refuses to
 * deliver it (no privilege) or our receiver drops it as not from the kernel. */
static void uevent_netlink_refuses_userspace_sender(void **state)
{
    (void)state;
    int fd = cmb_uevent_socket_open();
    assert_true(fd >= 0);
    int snd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
    assert_true(snd >= 0);
    struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_groups = 1};
    char buf[1024];
    size_t len = build(buf, sizeof buf, add_msg, sizeof add_msg / sizeof add_msg[0]);
    ssize_t sent = sendto(snd, buf, len, 0, (struct sockaddr *)&to, sizeof to);
    int rejected = 0;
    char in[CMB_UEVENT_BUF];
    for (int i = 0; i < 100; i++) {
        size_t got = 0;
        int rc = cmb_uevent_recv(fd, true, in, sizeof in, &got);
        if (rc == CMBOOT_ERR_TIMEOUT)
            break;
        if (rc == CMBOOT_ERR_ACCESS)
            rejected++;
        if (rc == CMBOOT_OK && got == len && memcmp(in, buf, len) == 0)
            fail_msg("a userspace uevent was accepted as the kernel's");
    }
    if (sent == (ssize_t)len)
        assert_true(rejected >= 1);
    else
        assert_true(sent < 0 && (errno == EPERM || errno == EACCES || errno == ECONNREFUSED));
    close(snd);
    close(fd);
}

/* The drain pairing waits on: true for a kernel event of the subsystem among others; libudev's, malformed
 * and oversized datagrams are dropped; the queue is empty afterwards. */
static void uevent_drain_for_subsystem(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    static const char *const block_msg[] = {"add@/devices/virtual/block/sda",
                                            "ACTION=add",
                                            "DEVPATH=/devices/virtual/block/sda",
                                            "SUBSYSTEM=block",
                                            "DEVNAME=sda",
                                            "DEVTYPE=disk"};
    static const char *const udev_block[] = {"libudev", "ACTION=add", "DEVPATH=/devices/virtual/block/sda",
                                             "SUBSYSTEM=block"};
    static const char *const value_only[] = {"add@/devices/x", "ACTION=add", "DEVPATH=/devices/x",
                                             "ID_NOTE=SUBSYSTEM=block"};
    char buf[1024];
    size_t len;
    /* nothing queued */
    assert_false(cmb_uevent_drain_for(sv[0], false, "block"));
    /* a usb event, libudev's copy of a block event and a key that only looks like it: not ours */
    len = build(buf, sizeof buf, add_msg, sizeof add_msg / sizeof add_msg[0]);
    assert_int_equal(write(sv[1], buf, len), (ssize_t)len);
    len = build(buf, sizeof buf, udev_block, sizeof udev_block / sizeof udev_block[0]);
    assert_int_equal(write(sv[1], buf, len), (ssize_t)len);
    len = build(buf, sizeof buf, value_only, sizeof value_only / sizeof value_only[0]);
    assert_int_equal(write(sv[1], buf, len), (ssize_t)len);
    assert_false(cmb_uevent_drain_for(sv[0], false, "block"));
    /* the kernel's block event among others */
    len = build(buf, sizeof buf, add_msg, sizeof add_msg / sizeof add_msg[0]);
    assert_int_equal(write(sv[1], buf, len), (ssize_t)len);
    len = build(buf, sizeof buf, block_msg, sizeof block_msg / sizeof block_msg[0]);
    assert_int_equal(write(sv[1], buf, len), (ssize_t)len);
    assert_true(cmb_uevent_drain_for(sv[0], false, "block"));
    assert_false(cmb_uevent_drain_for(sv[0], false, "block")); /* drained */
    assert_false(cmb_uevent_drain_for(-1, false, "block"));
    close(sv[0]);
    close(sv[1]);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(uevent_parse_add),
    cmocka_unit_test(uevent_parse_actions_and_interfaces),
    cmocka_unit_test(uevent_rejects_libudev_and_malformed),
    cmocka_unit_test(uevent_parse_garbage_is_bounded),
    cmocka_unit_test(uevent_recv_socketpair),
    cmocka_unit_test(uevent_netlink_refuses_userspace_sender),
    cmocka_unit_test(uevent_drain_for_subsystem),
};

CMBOOT_TEST_MAIN(tests)
