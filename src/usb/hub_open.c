/* Opening a hub's usbfs node as a transport for hub class requests, leaving its kernel driver bound. */
#include <libusb.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/device.h"
#include "cmboot/error.h"
#include "core/sysroot.h"
#include "os/linux/sysfs_usb.h"
#include "os/linux/usbfs_node.h"
#include "transport_libusb.h"
#include "usb/hub.h"

int cmb_usb_hub_open(const char *sys_root, const char *dev_root, const char *port_path, cmboot_transport *out)
{
    if (!port_path || !out || !cmb_sysfs_is_device_name(port_path))
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_device_info info;
    unsigned major = 0, minor = 0;
    int rc = cmb_sysfs_read_device(sys_root, port_path, &info, &major, &minor);
    if (rc != CMBOOT_OK)
        return rc == CMBOOT_ERR_FORMAT ? CMBOOT_ERR_IO : rc;
    char dir[PATH_MAX], cls[16];
    rc = cmb_path_join(dir, sizeof dir, sys_root, CMB_SYS_ROOT, "/bus/usb/devices/%s", port_path);
    if (rc != CMBOOT_OK)
        return rc;
    if (cmb_sysfs_read_attr(dir, "bDeviceClass", cls, sizeof cls) != CMBOOT_OK || strcmp(cls, "09") != 0)
        return CMBOOT_ERR_INVALID_ARG;
    /* A hub's node is there long before we look: no wait for its permissions. */
    int fd = cmb_usbfs_open(dev_root, info.busnum, info.devnum, major, minor, cmboot_now_ms());
    if (fd < 0)
        return fd;
    libusb_context *uctx = NULL;
    rc = cmb_libusb_ctx_no_discovery(&uctx);
    if (rc != LIBUSB_SUCCESS) {
        close(fd);
        return cmb_error_from_libusb(rc);
    }
    libusb_device_handle *h = NULL;
    rc = libusb_wrap_sys_device(uctx, (intptr_t)fd, &h);
    if (rc != LIBUSB_SUCCESS) {
        libusb_exit(uctx);
        close(fd);
        return cmb_error_from_libusb(rc);
    }
    return cmb_libusb_transport_new_unclaimed(h, uctx, fd, out);
}
