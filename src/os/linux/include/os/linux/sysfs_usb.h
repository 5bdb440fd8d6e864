/* Internal: reading USB devices from a sysfs tree (the root is configurable for tests). */
#ifndef CMB_OS_LINUX_SYSFS_USB_H
#define CMB_OS_LINUX_SYSFS_USB_H

#include <stdbool.h>
#include <stddef.h>
#include "cmboot/device.h"

/* Whether a name in bus/usb/devices is a device ("1-1.3"), not a root hub ("usb1") or interface ("1-1:1.0"). */
bool cmb_sysfs_is_device_name(const char *name);

/* Reads one attribute file of dir into buf (NUL-terminated, trailing whitespace cut). CMBOOT_ERR_NOT_FOUND
 * when absent, CMBOOT_ERR_TOO_LARGE when it does not fit. */
int cmb_sysfs_read_attr(const char *dir, const char *attr, char *buf, size_t size);

/* Reads device `name` under <sys_root>/bus/usb/devices (sys_root NULL or "" = "/sys") into info (port path =
 * name, syspath = its dir) and its char device numbers (from `dev`, else computed from bus/dev numbers).
 * CMBOOT_ERR_NOT_FOUND when the device or an attribute is missing (attributes can lag the uevent),
 * CMBOOT_ERR_FORMAT when malformed. */
int cmb_sysfs_read_device(const char *sys_root, const char *name, cmboot_device_info *info, unsigned *major,
                          unsigned *minor);

/* Name of the kernel driver bound to interface `iface` of the device dir (its `driver` link), into drv.
 * CMBOOT_ERR_NOT_FOUND when no driver is bound or the interface does not exist. */
int cmb_sysfs_interface_driver(const char *devdir, const char *name, int iface, char *drv, size_t size);

/* Switches off the mass-storage interface (interface 0, class 8) of a two-interface BCM2837 ROM by writing 0 to
 * its `authorized` attribute, what upstream's udev rule does, so usb-storage leaves the ROM alone. CMBOOT_OK when
 * it is off now (*changed says whether we did it), CMBOOT_ERR_NOT_FOUND when interface 0 is not mass storage. */
int cmb_sysfs_deauthorize_storage(const char *devdir, const char *name, bool *changed);

#endif
