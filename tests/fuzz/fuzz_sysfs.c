/* libFuzzer target: sysfs USB attributes and the `descriptors` file (src/os/linux/sysfs_usb.c), read from a fake
 * bus/usb/devices/<name> directory whose files the input writes into the scratch directory. A board's serial
 * string and descriptors come from the device; the kernel only copies them. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "fuzz_util.h"
#include "os/linux/sysfs_usb.h"

static const char *const attrs[] = {"idVendor",
                                    "idProduct",
                                    "busnum",
                                    "devnum",
                                    "descriptors",
                                    "bNumInterfaces",
                                    "serial",
                                    "dev",
                                    "bConfigurationValue",
                                    ":1.0/bInterfaceClass",
                                    ":1.0/authorized",
                                    ":1.1/bInterfaceClass",
                                    ":2.0/bInterfaceClass",
                                    ":2.0/authorized"}; /* ":": inside the interface directory <name>:C.I */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"1-1", "1-1.3", "3-2.1.4.4", "2-1.2.3.4.5.6.7", "1-1:1.0", "usb1", "0-0"};
    fuzz_in in = {data, size};
    uint8_t sel = fuzz_u8(&in);
    const char *name = names[sel % (sizeof names / sizeof names[0])];
    char sys[PATH_MAX], dir[PATH_MAX];
    snprintf(sys, sizeof sys, "%s/sys", fuzz_scratch());
    snprintf(dir, sizeof dir, "%s/bus/usb/devices/%s", sys, name);
    fuzz_rm_tree(sys);
    fuzz_mkdirs(dir, 1);
    /* each attribute: a length byte (0xff: absent) and that many bytes */
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && in.left; i++) {
        uint8_t len = fuzz_u8(&in);
        if (len == 0xff)
            continue;
        char rel[64], path[PATH_MAX];
        snprintf(rel, sizeof rel, "%s%s", attrs[i][0] == ':' ? name : "", attrs[i]);
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        fuzz_mkdirs(path, 0);
        const uint8_t *p;
        size_t n = fuzz_bytes(&in, len, &p);
        fuzz_write_file(path, p, n);
    }
    /* the driver bound to interface 0: a link whose last component is input */
    uint8_t dl = fuzz_u8(&in) % 12;
    if (dl) {
        char target[64] = "../../../bus/usb/drivers/", link[PATH_MAX];
        const uint8_t *p;
        size_t n = fuzz_bytes(&in, dl - 1, &p);
        size_t at = strlen(target);
        for (size_t i = 0; i < n; i++)
            target[at++] = p[i] == 0 ? '_' : (char)p[i];
        target[at] = 0;
        snprintf(link, sizeof link, "%s/%s:1.0", dir, name);
        fuzz_mkdirs(link, 1);
        strcat(link, "/driver");
        if (symlink(target, link) != 0)
            fuzz_fail("cannot make the driver link");
    }

    cmboot_device_info info;
    unsigned maj = 0, min = 0;
    int rc = cmb_sysfs_read_device(sys, name, &info, &maj, &min);
    if (rc == CMBOOT_OK) {
        if (strnlen(info.serial, sizeof info.serial) == sizeof info.serial ||
            strnlen(info.port_path, sizeof info.port_path) == sizeof info.port_path)
            fuzz_fail("device strings not terminated");
        for (const char *s = info.serial; *s; s++)
            if (*s < 0x20 || *s > 0x7e)
                fuzz_fail("serial keeps a non-printable byte");
        if (info.busnum == 0 || info.devnum == 0)
            fuzz_fail("device with bus or device number 0 accepted");
    }
    char drv[32];
    for (int iface = 0; iface < 3; iface++) {
        if (cmb_sysfs_interface_driver(dir, name, iface, drv, sizeof drv) == CMBOOT_OK &&
            (strnlen(drv, sizeof drv) == sizeof drv || strchr(drv, '/')))
            fuzz_fail("driver name not a terminated base name");
    }
    bool changed = false;
    (void)cmb_sysfs_deauthorize_storage(dir, name, &changed);
    char small[4];
    (void)cmb_sysfs_read_attr(dir, "serial", small, sizeof small);
    /* a name straight from the input (directory names under bus/usb/devices are the kernel's, but the check
     * guards path building) */
    char raw[40];
    size_t rn = in.left < sizeof raw - 1 ? in.left : sizeof raw - 1;
    memcpy(raw, in.p, rn);
    raw[rn] = 0;
    (void)cmb_sysfs_is_device_name(raw);
    return 0;
}
