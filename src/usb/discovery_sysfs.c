/* Native Linux discovery: sysfs enumeration, kernel uevents over netlink and usbfs nodes; no udev. */
#include "discovery_sysfs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "core/ctx.h"
#include "core/sysroot.h"

#ifdef __linux__
#include <sys/eventfd.h>

#include "os/linux/sysfs_usb.h"
#include "transport_libusb.h"
#include "os/linux/uevent.h"
#include "os/linux/usbfs_node.h"

#define KNOWN_MAX 128    /* devices tracked at once (boards in every stage) */
#define PENDING_MAX 32   /* added devices whose sysfs attributes are not readable yet */
#define RETRY_FIRST_MS 5 /* bounded back-off while waiting for lagging attributes */
#define RETRY_MAX_MS 200

typedef struct known_dev {
    bool used;
    bool reported; /* ADDED delivered */
    bool gone;     /* REMOVED to deliver */
    cmboot_device_info info;
} known_dev;

typedef struct pending_dev {
    bool used;
    char name[CMBOOT_PORT_PATH_MAX];
    int64_t deadline_ms;
    int64_t next_try_ms;
    unsigned backoff_ms;
} pending_dev;

typedef struct sysfs_disc {
    cmb_sysroot roots; /* sys and dev used */
    cmb_logger log;
    cmboot_bulk_tuning bulk; /* how transports split bulk data (from the context) */
    int uevent_fd;
    bool netlink;
    int wake_fd;
    unsigned settle_ms;
    unsigned open_wait_ms;
    known_dev known[KNOWN_MAX];
    pending_dev pending[PENDING_MAX];
} sysfs_disc;

/* Boards in a boot stage and their payload stages (mass storage, fastboot gadget); every other device is
 * ignored. */
static bool relevant(const cmboot_device_info *info)
{
    return info->stage != CMBOOT_STAGE_UNKNOWN;
}

/* A boot stage or fastboot gadget whose configuration the kernel has not set yet: its vendor interface cannot
 * be chosen yet (a two-interface ROM would be taken for a one-interface one), nor the gadget's fastboot
 * interface found (no active configuration to look in). It is reported once configured. */
static bool unconfigured(const cmboot_device_info *info)
{
    return (info->stage == CMBOOT_STAGE_ROM || info->stage == CMBOOT_STAGE_SECOND ||
            info->stage == CMBOOT_STAGE_FASTBOOT) &&
           info->num_interfaces == 0;
}

/* A two-interface BCM2837 ROM offers a mass-storage interface of no use; without udev nobody applies the
 * rule that switches it off, so do it here before usb-storage trips over it. */
static void deauthorize_storage(sysfs_disc *d, const char *devdir, const char *port)
{
    bool changed = false;
    int rc = cmb_sysfs_deauthorize_storage(devdir, port, &changed);
    if (rc == CMBOOT_OK && changed)
        cmb_logf(&d->log, port, CMBOOT_LOG_INFO,
                 "switched off the boot ROM's mass-storage interface (as upstream's udev rule does)");
    else if (rc != CMBOOT_OK && rc != CMBOOT_ERR_NOT_FOUND)
        cmb_logf(&d->log, port, CMBOOT_LOG_WARN, "cannot switch off the boot ROM's mass-storage interface: %s",
                 cmboot_strerror(rc));
}

static void quiet_rom_storage(sysfs_disc *d, const cmboot_device_info *info)
{
    if (info->stage == CMBOOT_STAGE_ROM && info->num_interfaces >= 2)
        deauthorize_storage(d, info->syspath, info->port_path);
}

static known_dev *find_known(sysfs_disc *d, const char *name)
{
    for (size_t i = 0; i < KNOWN_MAX; i++)
        if (d->known[i].used && strcmp(d->known[i].info.port_path, name) == 0)
            return &d->known[i];
    return NULL;
}

static pending_dev *find_pending(sysfs_disc *d, const char *name)
{
    for (size_t i = 0; i < PENDING_MAX; i++)
        if (d->pending[i].used && strcmp(d->pending[i].name, name) == 0)
            return &d->pending[i];
    return NULL;
}

static known_dev *add_known(sysfs_disc *d, const cmboot_device_info *info, bool reported)
{
    for (size_t i = 0; i < KNOWN_MAX; i++) {
        if (!d->known[i].used) {
            d->known[i] = (known_dev){.used = true, .reported = reported, .info = *info};
            return &d->known[i];
        }
    }
    cmb_logf(&d->log, info->port_path, CMBOOT_LOG_WARN, "too many devices tracked; ignoring this one");
    return NULL;
}

static void add_pending(sysfs_disc *d, const char *name)
{
    pending_dev *p = find_pending(d, name);
    int64_t now = cmboot_now_ms();
    if (!p) {
        for (size_t i = 0; i < PENDING_MAX && !p; i++)
            if (!d->pending[i].used)
                p = &d->pending[i];
        if (!p) {
            cmb_logf(&d->log, name, CMBOOT_LOG_WARN, "too many devices settling; ignoring this one");
            return;
        }
        *p = (pending_dev){.used = true, .deadline_ms = now + d->settle_ms};
        snprintf(p->name, sizeof p->name, "%s", name);
    }
    p->next_try_ms = now;
    p->backoff_ms = RETRY_FIRST_MS;
}

/* Marks every relevant device of the tree as known; gone ones as removed. Used at start and after the
 * netlink queue overflowed (events were lost, so the tree is the truth). */
static void rescan(sysfs_disc *d)
{
    char path[PATH_MAX];
    cmb_path_join(path, sizeof path, d->roots.sys, CMB_SYS_ROOT, "/bus/usb/devices");
    for (size_t i = 0; i < KNOWN_MAX; i++) {
        known_dev *k = &d->known[i];
        cmboot_device_info now;
        if (k->used && !k->gone &&
            (cmb_sysfs_read_device(d->roots.sys, k->info.port_path, &now, NULL, NULL) != CMBOOT_OK ||
             now.devnum != k->info.devnum || now.pid != k->info.pid))
            k->gone = true;
    }
    DIR *dir = opendir(path);
    if (!dir) {
        cmb_logf(&d->log, "", CMBOOT_LOG_DEBUG, "%s not readable: no USB in this kernel yet", path);
        return;
    }
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (!cmb_sysfs_is_device_name(de->d_name))
            continue;
        known_dev *k = find_known(d, de->d_name);
        if (k && !k->gone)
            continue;
        cmboot_device_info info;
        int rc = cmb_sysfs_read_device(d->roots.sys, de->d_name, &info, NULL, NULL);
        if (rc == CMBOOT_OK && relevant(&info) && unconfigured(&info))
            add_pending(d, de->d_name);
        else if (rc == CMBOOT_OK && relevant(&info))
            add_known(d, &info, false);
        else if (rc != CMBOOT_OK)
            cmb_logf(&d->log, de->d_name, CMBOOT_LOG_DEBUG, "skipped: %s", cmboot_strerror(rc));
    }
    closedir(dir);
}

/* Delivers a queued ADDED or REMOVED from the known table, if any. */
static bool take_known_event(sysfs_disc *d, cmboot_device_event *ev)
{
    for (size_t i = 0; i < KNOWN_MAX; i++) {
        known_dev *k = &d->known[i];
        if (!k->used)
            continue;
        if (k->gone) {
            bool was_reported = k->reported;
            ev->type = CMBOOT_DEVICE_REMOVED;
            ev->dev = k->info;
            k->used = false;
            if (was_reported)
                return true;
        } else if (!k->reported) {
            k->reported = true;
            quiet_rom_storage(d, &k->info);
            ev->type = CMBOOT_DEVICE_ADDED;
            ev->dev = k->info;
            return true;
        }
    }
    return false;
}

/* Reads a device that a uevent announced; true with ev filled when it is a board to report. */
static bool try_add(sysfs_disc *d, const char *name, cmboot_device_event *ev, bool from_pending)
{
    cmboot_device_info info;
    int rc = cmb_sysfs_read_device(d->roots.sys, name, &info, NULL, NULL);
    if (rc == CMBOOT_ERR_NOT_FOUND || rc == CMBOOT_ERR_FORMAT ||
        (rc == CMBOOT_OK && relevant(&info) && unconfigured(&info))) {
        if (!from_pending)
            add_pending(d, name);
        return false;
    }
    pending_dev *p = find_pending(d, name);
    if (p)
        p->used = false;
    if (rc != CMBOOT_OK || !relevant(&info))
        return false;
    known_dev *k = find_known(d, name);
    if (k && !k->gone && k->info.devnum == info.devnum && k->info.pid == info.pid)
        return false; /* already known (seen by the scan and announced again) */
    if (k && !k->gone) {
        /* A new device on the same port while we missed the remove: report the old one gone first. */
        k->gone = true;
        add_known(d, &info, false);
        return take_known_event(d, ev);
    }
    k = add_known(d, &info, true);
    if (!k)
        return false;
    cmb_logf(&d->log, name, CMBOOT_LOG_DEBUG, "added %04x:%04x %s (bus %u dev %u)", info.vid, info.pid,
             cmboot_stage_name(info.stage), info.busnum, info.devnum);
    quiet_rom_storage(d, &info);
    ev->type = CMBOOT_DEVICE_ADDED;
    ev->dev = info;
    return true;
}

/* Retries settling devices that are due; drops those past their deadline. */
static bool retry_pending(sysfs_disc *d, cmboot_device_event *ev, int64_t now)
{
    for (size_t i = 0; i < PENDING_MAX; i++) {
        pending_dev *p = &d->pending[i];
        if (!p->used || p->next_try_ms > now)
            continue;
        char name[CMBOOT_PORT_PATH_MAX];
        snprintf(name, sizeof name, "%s", p->name);
        if (try_add(d, name, ev, true))
            return true;
        if (!p->used)
            continue;
        if (now >= p->deadline_ms) {
            cmb_logf(&d->log, name, CMBOOT_LOG_WARN,
                     "not ready in time (sysfs attributes unreadable or no configuration set); ignored until "
                     "its next uevent");
            p->used = false;
            continue;
        }
        p->next_try_ms = now + p->backoff_ms;
        p->backoff_ms = p->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : p->backoff_ms * 2;
    }
    return false;
}

/* The interface of a BCM2835/2837 ROM appears: switch a mass-storage interface off at once. Its driver binds in
 * the same moment, but usb-storage waits delay_use (1 s by default) before its first SCSI command; switching
 * off later means waiting for its error handling on a ROM that answers no SCSI. */
static void early_quiet_rom_storage(sysfs_disc *d, const cmb_uevent *u)
{
    if (u->action != CMB_UEVENT_ADD || strcmp(u->subsystem, "usb") != 0 || strcmp(u->devtype, "usb_interface") != 0 ||
        u->vid != CMBOOT_VID_BROADCOM)
        return;
    const cmboot_soc_info *soc = u->pid >= 0 ? cmboot_soc_by_product_id((uint16_t)u->pid) : NULL;
    const char *colon = strchr(u->name, ':');
    if (!soc || soc->id > CMBOOT_SOC_BCM2837 || !colon || strcmp(colon + strcspn(colon, "."), ".0") != 0)
        return;
    char port[CMBOOT_PORT_PATH_MAX], devdir[PATH_MAX];
    snprintf(port, sizeof port, "%.*s", (int)(colon - u->name), u->name);
    if (!cmb_sysfs_is_device_name(port))
        return;
    if (cmb_path_join(devdir, sizeof devdir, d->roots.sys, CMB_SYS_ROOT, "/bus/usb/devices/%s", port) != CMBOOT_OK)
        return;
    deauthorize_storage(d, devdir, port);
}

static bool handle_uevent(sysfs_disc *d, const cmb_uevent *u, cmboot_device_event *ev)
{
    early_quiet_rom_storage(d, u);
    if (!cmb_uevent_is_usb_device(u) || !cmb_sysfs_is_device_name(u->name))
        return false;
    if (u->vid >= 0 && u->vid != CMBOOT_VID_BROADCOM && u->vid != CMBOOT_VID_FASTBOOT)
        return false;
    switch (u->action) {
    case CMB_UEVENT_ADD:
    case CMB_UEVENT_BIND:
    case CMB_UEVENT_CHANGE: return try_add(d, u->name, ev, false);
    case CMB_UEVENT_REMOVE: {
        pending_dev *p = find_pending(d, u->name);
        if (p)
            p->used = false;
        known_dev *k = find_known(d, u->name);
        /* Only the device we know on that port: a late remove of an older device number is stale. */
        if (!k || k->gone || (u->devnum >= 0 && u->devnum != k->info.devnum))
            return false;
        k->gone = true;
        return take_known_event(d, ev);
    }
    default: return false;
    }
}

/* Reads every queued uevent until one yields an event. */
static int drain_uevents(sysfs_disc *d, cmboot_device_event *ev, bool *got)
{
    char buf[CMB_UEVENT_BUF];
    *got = false;
    for (;;) {
        size_t len = 0;
        int rc = cmb_uevent_recv(d->uevent_fd, d->netlink, buf, sizeof buf, &len);
        if (rc == CMBOOT_ERR_TIMEOUT)
            return CMBOOT_OK;
        if (rc == CMBOOT_ERR_OVERFLOW) {
            cmb_logf(&d->log, "", CMBOOT_LOG_WARN, "uevent queue overflowed; rescanning sysfs");
            rescan(d);
            continue;
        }
        if (rc == CMBOOT_ERR_ACCESS || rc == CMBOOT_ERR_TOO_LARGE)
            continue; /* not from the kernel, or not a uevent: drop it */
        if (rc != CMBOOT_OK)
            return rc;
        cmb_uevent u;
        if (cmb_uevent_parse(buf, len, &u) != CMBOOT_OK)
            continue;
        if (handle_uevent(d, &u, ev)) {
            *got = true;
            return CMBOOT_OK;
        }
    }
}

static bool take_wakeup(sysfs_disc *d)
{
    uint64_t v;
    return read(d->wake_fd, &v, sizeof v) == (ssize_t)sizeof v;
}

static int sd_next_event(void *self, cmboot_device_event *ev, int64_t deadline_ms)
{
    sysfs_disc *d = self;
    if (!ev)
        return CMBOOT_ERR_INVALID_ARG;
    memset(ev, 0, sizeof *ev);
    for (;;) {
        if (take_wakeup(d))
            return CMBOOT_ERR_CANCELLED;
        if (take_known_event(d, ev))
            return CMBOOT_OK;
        int64_t now = cmboot_now_ms();
        if (retry_pending(d, ev, now))
            return CMBOOT_OK;
        bool got = false;
        int rc = drain_uevents(d, ev, &got);
        if (got)
            return CMBOOT_OK;
        if (rc != CMBOOT_OK)
            return rc;
        if (take_known_event(d, ev))
            return CMBOOT_OK;
        /* Sleep until the deadline, a uevent, a wakeup, or the next settling retry. */
        now = cmboot_now_ms();
        int64_t until = deadline_ms;
        for (size_t i = 0; i < PENDING_MAX; i++)
            if (d->pending[i].used && d->pending[i].next_try_ms < until)
                until = d->pending[i].next_try_ms;
        if (now >= deadline_ms)
            return CMBOOT_ERR_TIMEOUT;
        int64_t wait = until - now;
        if (wait < 0)
            wait = 0;
        if (wait > 60000)
            wait = 60000;
        struct pollfd pfd[2] = {{.fd = d->uevent_fd, .events = POLLIN}, {.fd = d->wake_fd, .events = POLLIN}};
        int n = poll(pfd, 2, (int)wait);
        if (n < 0 && errno != EINTR)
            return CMBOOT_ERR_IO;
        if (n > 0 && (pfd[0].revents & (POLLHUP | POLLERR)) && !(pfd[0].revents & POLLIN))
            return CMBOOT_ERR_IO;
    }
}

static int sd_open(void *self, const cmboot_device_info *dev, cmboot_transport *out)
{
    sysfs_disc *d = self;
    if (!dev || !out)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_device_info now;
    unsigned major = 0, minor = 0;
    int rc = cmb_sysfs_read_device(d->roots.sys, dev->port_path, &now, &major, &minor);
    if (rc == CMBOOT_ERR_NOT_FOUND || (rc == CMBOOT_OK && (now.devnum != dev->devnum || now.busnum != dev->busnum)))
        return CMBOOT_ERR_NO_DEVICE; /* re-enumerated or unplugged since it was reported */
    if (rc != CMBOOT_OK)
        return rc;
    int fd = cmb_usbfs_open(d->roots.dev, now.busnum, now.devnum, major, minor, cmboot_now_ms() + d->open_wait_ms);
    if (fd < 0) {
        cmb_logf(&d->log, dev->port_path, CMBOOT_LOG_ERROR, "cannot open usbfs node of bus %u dev %u: %s", now.busnum,
                 now.devnum, cmboot_strerror(fd));
        return fd;
    }
    libusb_context *uctx = NULL;
    rc = cmb_libusb_ctx_no_discovery(&uctx);
    if (rc != LIBUSB_SUCCESS) {
        close(fd);
        return cmb_error_from_libusb(rc);
    }
    libusb_device_handle *h = NULL;
    rc = libusb_wrap_sys_device(uctx, (intptr_t)fd, &h);
    if (rc != LIBUSB_SUCCESS) {
        cmb_logf(&d->log, dev->port_path, CMBOOT_LOG_ERROR, "libusb_wrap_sys_device: %s", libusb_error_name(rc));
        libusb_exit(uctx);
        close(fd);
        return cmb_error_from_libusb(rc);
    }
    return cmb_libusb_transport_new(h, now.num_interfaces, &d->bulk, uctx, fd, out);
}

static void sd_wakeup(void *self)
{
    sysfs_disc *d = self;
    uint64_t one = 1;
    ssize_t n = write(d->wake_fd, &one, sizeof one);
    (void)n; /* a full counter already means "wake up" */
}

static void sd_destroy(void *self)
{
    sysfs_disc *d = self;
    if (!d)
        return;
    if (d->uevent_fd >= 0)
        close(d->uevent_fd);
    if (d->wake_fd >= 0)
        close(d->wake_fd);
    free(d);
}

static const cmboot_discovery_ops sysfs_ops = {
    .struct_size = sizeof(cmboot_discovery_ops),
    .next_event = sd_next_event,
    .open = sd_open,
    .wakeup = sd_wakeup,
    .destroy = sd_destroy,
    .name = "sysfs",
};

int cmb_discovery_sysfs_new_opts(cmboot_ctx *ctx, const cmb_sysfs_options *opt, cmboot_discovery *out)
{
    if (!opt || !out)
        return CMBOOT_ERR_INVALID_ARG;
    sysfs_disc *d = calloc(1, sizeof *d);
    if (!d) {
        if (opt->uevent_fd >= 0)
            close(opt->uevent_fd);
        return CMBOOT_ERR_NO_MEMORY;
    }
    d->uevent_fd = opt->uevent_fd;
    d->wake_fd = -1;
    if (cmb_sysroot_init(&d->roots, opt->sys_root, opt->dev_root, NULL, NULL) != CMBOOT_OK) {
        sd_destroy(d);
        return CMBOOT_ERR_TOO_LARGE;
    }
    if (ctx) {
        const cmb_logger *lg = cmb_ctx_logger(ctx);
        if (lg)
            d->log = *lg;
        d->bulk = *cmboot_ctx_bulk_tuning(ctx);
    }
    d->settle_ms = opt->settle_ms ? opt->settle_ms : 2000;
    d->open_wait_ms = opt->open_wait_ms ? opt->open_wait_ms : 2000;
    d->netlink = opt->uevent_fd < 0 || opt->uevent_is_netlink;
    d->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (d->wake_fd < 0) {
        sd_destroy(d);
        return CMBOOT_ERR_IO;
    }
    /* The socket is opened before the scan so a device appearing in between is not missed. */
    if (d->uevent_fd < 0) {
        int fd = cmb_uevent_socket_open();
        if (fd < 0) {
            cmb_logf(&d->log, "", CMBOOT_LOG_ERROR, "cannot listen to kernel uevents: %s", cmboot_strerror(fd));
            sd_destroy(d);
            return fd;
        }
        d->uevent_fd = fd;
    }
    rescan(d);
    out->ops = &sysfs_ops;
    out->self = d;
    return CMBOOT_OK;
}

int cmboot_discovery_sysfs_new(cmboot_ctx *ctx, const char *sys_root, const char *dev_root, cmboot_discovery *out)
{
    cmb_sysfs_options opt = {.sys_root = sys_root, .dev_root = dev_root, .uevent_fd = -1, .uevent_is_netlink = true};
    return cmb_discovery_sysfs_new_opts(ctx, &opt, out);
}

#else /* !__linux__ */

int cmb_discovery_sysfs_new_opts(cmboot_ctx *ctx, const cmb_sysfs_options *opt, cmboot_discovery *out)
{
    (void)ctx;
    (void)opt;
    (void)out;
    return CMBOOT_ERR_UNSUPPORTED;
}

int cmboot_discovery_sysfs_new(cmboot_ctx *ctx, const char *sys_root, const char *dev_root, cmboot_discovery *out)
{
    (void)ctx;
    (void)sys_root;
    (void)dev_root;
    (void)out;
    return CMBOOT_ERR_UNSUPPORTED;
}

#endif
