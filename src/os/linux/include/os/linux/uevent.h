/* Internal: kernel uevents (NETLINK_KOBJECT_UEVENT): parsing, and a socket that accepts the kernel only. */
#ifndef CMB_OS_LINUX_UEVENT_H
#define CMB_OS_LINUX_UEVENT_H

#include <stdbool.h>
#include <stddef.h>

#define CMB_UEVENT_BUF 8192 /* the kernel's UEVENT_BUFFER_SIZE is 2048; leave room */

typedef enum cmb_uevent_action {
    CMB_UEVENT_OTHER = 0,
    CMB_UEVENT_ADD,
    CMB_UEVENT_REMOVE,
    CMB_UEVENT_BIND,
    CMB_UEVENT_UNBIND,
    CMB_UEVENT_CHANGE
} cmb_uevent_action;

typedef struct cmb_uevent {
    cmb_uevent_action action;
    char devpath[256]; /* DEVPATH: /devices/.../1-1.3 */
    char subsystem[32];
    char devtype[32]; /* usb_device, usb_interface */
    char devname[64]; /* DEVNAME: bus/usb/001/005 */
    char name[64];    /* last component of devpath: "1-1.3" */
    int major;        /* -1 when absent */
    int minor;
    int busnum; /* -1 when absent */
    int devnum;
    int vid; /* from PRODUCT=vid/pid/bcd; -1 when absent */
    int pid;
} cmb_uevent;

/* Parses one kernel uevent datagram ("ACTION@DEVPATH\0KEY=VALUE\0..."). Messages from libudev (which start
 * with "libudev\0") and malformed ones give CMBOOT_ERR_FORMAT. Unknown keys are ignored, values too long
 * for their field make the message malformed. */
int cmb_uevent_parse(const void *buf, size_t len, cmb_uevent *out);

/* Whether the event is about a USB device (not an interface). */
bool cmb_uevent_is_usb_device(const cmb_uevent *ev);

/* Opens a non-blocking NETLINK_KOBJECT_UEVENT socket on the kernel's group with sender credentials on.
 * Returns the fd or a negative cmboot_error (CMBOOT_ERR_UNSUPPORTED without netlink). */
int cmb_uevent_socket_open(void);

/* Receives one datagram. With `netlink`, only messages the kernel sent (netlink port id 0, uid 0) are
 * accepted: others give CMBOOT_ERR_ACCESS and are dropped. Without it (tests: a socketpair) the datagram is
 * taken as is. CMBOOT_ERR_TIMEOUT when nothing is queued. */
int cmb_uevent_recv(int fd, bool netlink, void *buf, size_t size, size_t *len);

/* Reads every queued datagram (cmb_uevent_recv, then cmb_uevent_parse; forged, oversized and malformed ones
 * dropped) and says whether one was an event of `subsystem` ("block"), or events were lost (queue overflow),
 * either way a reason to look at sysfs again. */
bool cmb_uevent_drain_for(int fd, bool netlink, const char *subsystem);

#endif
