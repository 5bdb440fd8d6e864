/* Internal: the sysfs discovery with its uevent source swappable, so tests can feed fake trees and events. */
#ifndef CMB_USB_DISCOVERY_SYSFS_H
#define CMB_USB_DISCOVERY_SYSFS_H

#include <stdbool.h>
#include "cmboot/session.h"

typedef struct cmb_sysfs_options {
    const char *sys_root;   /* NULL or "" = "/sys" */
    const char *dev_root;   /* NULL or "" = "/dev" */
    int uevent_fd;          /* -1 = open the kernel netlink socket; else taken over (closed on destroy) */
    bool uevent_is_netlink; /* check that messages come from the kernel (false for a test socketpair) */
    unsigned settle_ms;     /* how long a new device's sysfs attributes may lag its uevent (0 = 2000) */
    unsigned open_wait_ms;  /* how long open waits for a fresh node's permissions (0 = 2000) */
} cmb_sysfs_options;

int cmb_discovery_sysfs_new_opts(cmboot_ctx *ctx, const cmb_sysfs_options *opt, cmboot_discovery *out);

#endif
