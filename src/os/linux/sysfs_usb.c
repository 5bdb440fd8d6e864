/* Parsing of sysfs USB device directories: IDs, numbers, serial and the raw device descriptor. */
#include "os/linux/sysfs_usb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "core/error_map.h"
#include "core/sysroot.h"

/* usb_device char devices: major 189, minor (bus - 1) * 128 + (dev - 1) (drivers/usb/core/usb.h). */
#define USB_DEVICE_MAJOR 189u

bool cmb_sysfs_is_device_name(const char *name)
{
    if (!name || strchr(name, ':'))
        return false;
    return cmboot_port_path_valid(name) != 0;
}

/* Reads at most size-1 bytes of a file; the caller gets the count. */
static int read_file(const char *path, char *buf, size_t size, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cmb_error_from_errno(errno);
    size_t got = 0;
    while (got < size - 1) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            return CMBOOT_ERR_IO;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    /* One more byte tells whether the file was larger than the buffer. */
    char extra;
    ssize_t more = got == size - 1 ? read(fd, &extra, 1) : 0;
    close(fd);
    buf[got] = '\0';
    *len = got;
    return more > 0 ? CMBOOT_ERR_TOO_LARGE : CMBOOT_OK;
}

int cmb_sysfs_read_attr(const char *dir, const char *attr, char *buf, size_t size)
{
    if (!dir || !attr || !buf || size < 2)
        return CMBOOT_ERR_INVALID_ARG;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, attr);
    if (n < 0 || (size_t)n >= sizeof path)
        return CMBOOT_ERR_TOO_LARGE;
    size_t len = 0;
    int rc = read_file(path, buf, size, &len);
    if (rc != CMBOOT_OK) {
        buf[0] = '\0';
        return rc;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\r' || buf[len - 1] == '\t'))
        buf[--len] = '\0';
    return CMBOOT_OK;
}

/* Parses an attribute as an unsigned number in base (leading blanks allowed, as in bNumInterfaces). */
static int read_number(const char *dir, const char *attr, int base, unsigned long max, unsigned long *out)
{
    char buf[32];
    int rc = cmb_sysfs_read_attr(dir, attr, buf, sizeof buf);
    if (rc != CMBOOT_OK)
        return rc == CMBOOT_ERR_TOO_LARGE ? CMBOOT_ERR_FORMAT : rc;
    const char *s = buf;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s < '0' || (*s > '9' && !(base == 16 && ((*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))))
        return CMBOOT_ERR_FORMAT;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, base);
    if (errno || *end != '\0' || v > max)
        return CMBOOT_ERR_FORMAT;
    *out = v;
    return CMBOOT_OK;
}

/* The iSerialNumber index is not an attribute: it is byte 16 of the cached device descriptor. */
static int read_serial_index(const char *dir, uint8_t *index)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/descriptors", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return CMBOOT_ERR_TOO_LARGE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cmb_error_from_errno(errno);
    uint8_t desc[18];
    size_t got = 0;
    while (got < sizeof desc) {
        ssize_t r = read(fd, desc + got, sizeof desc - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    /* bLength 18, bDescriptorType 1 (device): anything else is not a device descriptor. */
    if (got < sizeof desc || desc[0] != 18 || desc[1] != 1)
        return CMBOOT_ERR_FORMAT;
    *index = desc[16];
    return CMBOOT_OK;
}

/* Copies a device-supplied string keeping printable ASCII only, always terminated. */
static void copy_printable(char *dst, size_t size, const char *src)
{
    size_t j = 0;
    for (size_t i = 0; src[i] && j + 1 < size; i++)
        if (src[i] >= 0x20 && src[i] < 0x7f)
            dst[j++] = src[i];
    dst[j] = '\0';
}

int cmb_sysfs_read_device(const char *sys_root, const char *name, cmboot_device_info *info, unsigned *major,
                          unsigned *minor)
{
    if (!info || !cmb_sysfs_is_device_name(name))
        return CMBOOT_ERR_INVALID_ARG;
    memset(info, 0, sizeof *info);
    int rc = cmb_path_join(info->syspath, sizeof info->syspath, sys_root, CMB_SYS_ROOT, "/bus/usb/devices/%s", name);
    if (rc != CMBOOT_OK)
        return rc;
    const char *dir = info->syspath;
    unsigned long vid, pid, bus, dev, nif;
    if ((rc = read_number(dir, "idVendor", 16, 0xffff, &vid)) != CMBOOT_OK ||
        (rc = read_number(dir, "idProduct", 16, 0xffff, &pid)) != CMBOOT_OK ||
        (rc = read_number(dir, "busnum", 10, 255, &bus)) != CMBOOT_OK ||
        (rc = read_number(dir, "devnum", 10, 255, &dev)) != CMBOOT_OK ||
        (rc = read_serial_index(dir, &info->serial_index)) != CMBOOT_OK)
        return rc;
    /* An unconfigured device shows an empty bNumInterfaces: 0 says "not configured yet". The kernel sends the
     * ADD uevent before the generic driver sets the configuration, so a two-interface BCM2837 ROM looks like a
     * one-interface one for a moment; nobody may pick its interface before it is configured. */
    rc = read_number(dir, "bNumInterfaces", 10, 32, &nif);
    if (rc == CMBOOT_ERR_FORMAT || rc == CMBOOT_ERR_NOT_FOUND)
        nif = 0;
    else if (rc != CMBOOT_OK)
        return rc;
    if (bus == 0 || dev == 0)
        return CMBOOT_ERR_FORMAT;
    info->vid = (uint16_t)vid;
    info->pid = (uint16_t)pid;
    info->busnum = (uint8_t)bus;
    info->devnum = (uint8_t)dev;
    info->num_interfaces = (uint8_t)nif;
    info->stage = cmboot_stage_of(info->vid, info->pid, info->serial_index);
    info->soc = info->stage == CMBOOT_STAGE_ROM || info->stage == CMBOOT_STAGE_SECOND
                    ? cmboot_soc_by_product_id(info->pid)
                    : NULL;
    snprintf(info->port_path, sizeof info->port_path, "%s", name);
    /* The serial is optional (a device may have none); an unreadable one is left empty. */
    char serial[256];
    if (info->serial_index != 0 && cmb_sysfs_read_attr(dir, "serial", serial, sizeof serial) == CMBOOT_OK)
        copy_printable(info->serial, sizeof info->serial, serial);

    unsigned long mj = USB_DEVICE_MAJOR, mn = (bus - 1) * 128 + (dev - 1);
    char devnums[32];
    if (cmb_sysfs_read_attr(dir, "dev", devnums, sizeof devnums) == CMBOOT_OK) {
        char *end;
        unsigned long a = strtoul(devnums, &end, 10);
        if (*end == ':') {
            unsigned long b = strtoul(end + 1, &end, 10);
            if (*end == '\0' && a <= 4095 && b <= 0xfffff) {
                mj = a;
                mn = b;
            }
        }
    }
    if (major)
        *major = (unsigned)mj;
    if (minor)
        *minor = (unsigned)mn;
    return CMBOOT_OK;
}

/* Configuration value of a device dir: bConfigurationValue, 1 when unset or unreadable. */
static unsigned long config_value(const char *devdir)
{
    char buf[16];
    if (cmb_sysfs_read_attr(devdir, "bConfigurationValue", buf, sizeof buf) == CMBOOT_OK && buf[0]) {
        char *end;
        unsigned long v = strtoul(buf, &end, 10);
        if (*end == '\0' && v > 0 && v < 256)
            return v;
    }
    return 1;
}

int cmb_sysfs_deauthorize_storage(const char *devdir, const char *name, bool *changed)
{
    if (!devdir || !name || !changed)
        return CMBOOT_ERR_INVALID_ARG;
    *changed = false;
    char dir[PATH_MAX], buf[16];
    int n = snprintf(dir, sizeof dir, "%s/%s:%lu.0", devdir, name, config_value(devdir));
    if (n < 0 || (size_t)n >= sizeof dir)
        return CMBOOT_ERR_TOO_LARGE;
    int rc = cmb_sysfs_read_attr(dir, "bInterfaceClass", buf, sizeof buf);
    if (rc != CMBOOT_OK)
        return rc;
    if (strcmp(buf, "08") != 0)
        return CMBOOT_ERR_NOT_FOUND;
    if (cmb_sysfs_read_attr(dir, "authorized", buf, sizeof buf) == CMBOOT_OK && strcmp(buf, "0") == 0)
        return CMBOOT_OK;
    char path[PATH_MAX];
    n = snprintf(path, sizeof path, "%s/authorized", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return CMBOOT_ERR_TOO_LARGE;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return cmb_error_from_errno(errno);
    ssize_t w = write(fd, "0", 1);
    int e = errno;
    close(fd);
    if (w != 1)
        return cmb_error_from_errno(e);
    *changed = true;
    return CMBOOT_OK;
}

int cmb_sysfs_interface_driver(const char *devdir, const char *name, int iface, char *drv, size_t size)
{
    if (!devdir || !name || !drv || size == 0 || iface < 0)
        return CMBOOT_ERR_INVALID_ARG;
    drv[0] = '\0';
    unsigned long cfg = config_value(devdir);
    char path[PATH_MAX], target[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s:%lu.%d/driver", devdir, name, cfg, iface);
    if (n < 0 || (size_t)n >= sizeof path)
        return CMBOOT_ERR_TOO_LARGE;
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len < 0)
        return CMBOOT_ERR_NOT_FOUND;
    target[len] = '\0';
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (!*base)
        return CMBOOT_ERR_FORMAT;
    snprintf(drv, size, "%s", base);
    return CMBOOT_OK;
}
