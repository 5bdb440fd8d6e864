/* Internal: opening a device's usbfs node, or a private node when /dev has none. */
#ifndef CMB_OS_LINUX_USBFS_NODE_H
#define CMB_OS_LINUX_USBFS_NODE_H

#include <stddef.h>
#include <stdint.h>

/* Path of the usbfs node: <dev_root>/bus/usb/BBB/DDD (dev_root NULL or "" = "/dev"). */
int cmb_usbfs_node_path(char *out, size_t size, const char *dev_root, uint8_t bus, uint8_t dev);

/* Opens the device O_RDWR. When the node is missing (no devtmpfs, no mdev) it makes a private node from
 * major:minor with mknod in a fresh 0700 directory, opens it and removes it again. When the node exists but
 * refuses access (a fresh node whose owner/mode udev or mdev has not set yet) it waits for the node's
 * attributes to change (inotify) and retries until deadline_ms. Returns the fd, or a negative cmboot_error:
 * CMBOOT_ERR_ACCESS (permission), CMBOOT_ERR_NOT_FOUND (no node and none could be made). */
int cmb_usbfs_open(const char *dev_root, uint8_t bus, uint8_t dev, unsigned major, unsigned minor, int64_t deadline_ms);

#endif
