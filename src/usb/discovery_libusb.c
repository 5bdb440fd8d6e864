/* Portable discovery through libusb: hotplug where libusb delivers it, else a diff of the device list. */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "core/ctx.h"
#include "transport_libusb.h"

#define QUEUE_MAX 64
#define KNOWN_MAX 128
#define POLL_INTERVAL_MS 100
#define CONFIGURE_WAIT_MS 5000

typedef struct lu_event {
    cmboot_device_event_type type;
    libusb_device *dev; /* referenced */
} lu_event;

typedef struct lu_disc {
    cmboot_ctx *ctx;
    libusb_context *usb;
    bool hotplug;
    libusb_hotplug_callback_handle cb, cb_fastboot;
    pthread_mutex_t lock; /* queue and known[], touched from libusb's event handling in any thread */
    lu_event queue[QUEUE_MAX];
    unsigned qhead, qlen;
    libusb_device *known[KNOWN_MAX]; /* polling mode: devices reported as present */
    unsigned nknown;
    atomic_bool woken;
    int64_t next_poll;
} lu_disc;

static void push(lu_disc *d, cmboot_device_event_type type, libusb_device *dev)
{
    pthread_mutex_lock(&d->lock);
    if (d->qlen < QUEUE_MAX) {
        lu_event *e = &d->queue[(d->qhead + d->qlen++) % QUEUE_MAX];
        e->type = type;
        e->dev = libusb_ref_device(dev);
    } else {
        cmb_logf(&d->ctx->log, "", CMBOOT_LOG_WARN, "libusb discovery: event queue full, event dropped");
    }
    pthread_mutex_unlock(&d->lock);
}

static int LIBUSB_CALL on_hotplug(libusb_context *usb, libusb_device *dev, libusb_hotplug_event event, void *user)
{
    (void)usb;
    push(user, event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED ? CMBOOT_DEVICE_ADDED : CMBOOT_DEVICE_REMOVED, dev);
    return 0;
}

/* Polling mode: compare the device list with what was reported before. */
static void poll_list(lu_disc *d)
{
    libusb_device **list;
    ssize_t n = libusb_get_device_list(d->usb, &list);
    if (n < 0)
        return;
    for (unsigned k = 0; k < d->nknown;) {
        int present = 0;
        for (ssize_t i = 0; i < n; i++)
            present |= list[i] == d->known[k];
        if (!present) {
            push(d, CMBOOT_DEVICE_REMOVED, d->known[k]);
            libusb_unref_device(d->known[k]);
            d->known[k] = d->known[--d->nknown];
        } else {
            k++;
        }
    }
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor desc;
        if (libusb_get_device_descriptor(list[i], &desc) != 0 ||
            cmboot_stage_of(desc.idVendor, desc.idProduct, desc.iSerialNumber) == CMBOOT_STAGE_UNKNOWN)
            continue;
        int seen = 0;
        for (unsigned k = 0; k < d->nknown; k++)
            seen |= d->known[k] == list[i];
        if (!seen && d->nknown < KNOWN_MAX) {
            d->known[d->nknown++] = libusb_ref_device(list[i]);
            push(d, CMBOOT_DEVICE_ADDED, list[i]);
        }
    }
    libusb_free_device_list(list, 1);
}

static int fill_info(lu_disc *d, libusb_device *dev, cmboot_device_info *info, bool read_serial)
{
    memset(info, 0, sizeof *info);
    struct libusb_device_descriptor desc;
    if (libusb_get_device_descriptor(dev, &desc) != 0)
        return CMBOOT_ERR_IO;
    info->vid = desc.idVendor;
    info->pid = desc.idProduct;
    info->serial_index = desc.iSerialNumber;
    info->busnum = libusb_get_bus_number(dev);
    info->devnum = libusb_get_device_address(dev);
    info->stage = cmboot_stage_of(info->vid, info->pid, info->serial_index);
    info->soc = info->stage == CMBOOT_STAGE_ROM || info->stage == CMBOOT_STAGE_SECOND
                    ? cmboot_soc_by_product_id(info->pid)
                    : NULL;
    uint8_t ports[8];
    int depth = libusb_get_port_numbers(dev, ports, sizeof ports);
    if (depth < 0 || cmboot_port_path_format(info->port_path, sizeof info->port_path, info->busnum, ports, depth) < 0)
        snprintf(info->port_path, sizeof info->port_path, "%u-0", info->busnum);
    snprintf(info->syspath, sizeof info->syspath, "libusb:%u:%u", info->busnum, info->devnum);
    struct libusb_config_descriptor *cfg;
    info->num_interfaces = 1;
    if (libusb_get_config_descriptor(dev, 0, &cfg) == 0) {
        info->num_interfaces = cfg->bNumInterfaces;
        libusb_free_config_descriptor(cfg);
    }
    if (read_serial && desc.iSerialNumber && info->stage != CMBOOT_STAGE_UNKNOWN) {
        libusb_device_handle *h;
        if (libusb_open(dev, &h) == 0) {
            unsigned char s[CMBOOT_SERIAL_MAX];
            int n = libusb_get_string_descriptor_ascii(h, desc.iSerialNumber, s, sizeof s);
            if (n > 0) {
                for (int i = 0; i < n && i < CMBOOT_SERIAL_MAX - 1; i++)
                    info->serial[i] = (char)((s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?');
            }
            libusb_close(h);
        } else {
            cmb_logf(&d->ctx->log, info->port_path, CMBOOT_LOG_DEBUG, "cannot open to read the serial");
        }
    }
    return CMBOOT_OK;
}

static int lu_next_event(void *self, cmboot_device_event *ev, int64_t deadline_ms)
{
    lu_disc *d = self;
    for (;;) {
        if (atomic_exchange(&d->woken, false))
            return CMBOOT_ERR_CANCELLED;
        pthread_mutex_lock(&d->lock);
        if (d->qlen) {
            lu_event e = d->queue[d->qhead];
            d->qhead = (d->qhead + 1) % QUEUE_MAX;
            d->qlen--;
            pthread_mutex_unlock(&d->lock);
            ev->type = e.type;
            int rc = fill_info(d, e.dev, &ev->dev, e.type == CMBOOT_DEVICE_ADDED);
            libusb_unref_device(e.dev);
            if (rc == CMBOOT_OK && ev->dev.stage != CMBOOT_STAGE_UNKNOWN)
                return CMBOOT_OK;
            continue;
        }
        pthread_mutex_unlock(&d->lock);
        int64_t now = cmboot_now_ms();
        if (now >= deadline_ms)
            return CMBOOT_ERR_TIMEOUT;
        if (!d->hotplug && now >= d->next_poll) {
            poll_list(d);
            d->next_poll = now + POLL_INTERVAL_MS;
            continue;
        }
        int64_t wait = deadline_ms - now;
        if (!d->hotplug && d->next_poll - now < wait)
            wait = d->next_poll - now;
        if (wait > 1000)
            wait = 1000;
        struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
        int flag = 0;
        libusb_handle_events_timeout_completed(d->usb, &tv, &flag);
    }
}

/* The kernel announces a device before its generic driver sets the configuration; choosing the interface
 * before that could take a two-interface ROM for a one-interface one. Bounded back-off, then give up. */
static int wait_configured(libusb_device_handle *h)
{
    int64_t deadline = cmboot_now_ms() + CONFIGURE_WAIT_MS;
    int backoff = 5;
    for (;;) {
        int c = 0;
        int r = libusb_get_configuration(h, &c);
        if (r != 0)
            return cmb_error_from_libusb(r);
        if (c != 0)
            return CMBOOT_OK;
        int64_t left = deadline - cmboot_now_ms();
        if (left <= 0)
            return CMBOOT_ERR_TIMEOUT;
        poll(NULL, 0, (int)(left < backoff ? left : backoff));
        if (backoff < 200)
            backoff *= 2;
    }
}

static int lu_open(void *self, const cmboot_device_info *info, cmboot_transport *out)
{
    lu_disc *d = self;
    libusb_device **list;
    ssize_t n = libusb_get_device_list(d->usb, &list);
    if (n < 0)
        return cmb_error_from_libusb((int)n);
    int rc = CMBOOT_ERR_NO_DEVICE;
    for (ssize_t i = 0; i < n; i++) {
        if (libusb_get_bus_number(list[i]) != info->busnum || libusb_get_device_address(list[i]) != info->devnum)
            continue;
        libusb_device_handle *h;
        int r = libusb_open(list[i], &h);
        if (r != 0) {
            rc = cmb_error_from_libusb(r);
            break;
        }
        rc = wait_configured(h);
        if (rc != CMBOOT_OK) {
            cmb_logf(&d->ctx->log, info->port_path, CMBOOT_LOG_ERROR,
                     "the kernel never set the device's configuration: %s", cmboot_strerror(rc));
            libusb_close(h);
            break;
        }
        rc = cmb_libusb_transport_new_shared(h, d->usb, info->num_interfaces, &d->ctx->bulk, out);
        break;
    }
    libusb_free_device_list(list, 1);
    return rc;
}

static void lu_wakeup(void *self)
{
    lu_disc *d = self;
    atomic_store(&d->woken, true);
    libusb_interrupt_event_handler(d->usb);
}

static void lu_destroy(void *self)
{
    lu_disc *d = self;
    if (d->hotplug) {
        libusb_hotplug_deregister_callback(d->usb, d->cb);
        libusb_hotplug_deregister_callback(d->usb, d->cb_fastboot);
    }
    while (d->qlen) {
        libusb_unref_device(d->queue[d->qhead].dev);
        d->qhead = (d->qhead + 1) % QUEUE_MAX;
        d->qlen--;
    }
    for (unsigned k = 0; k < d->nknown; k++)
        libusb_unref_device(d->known[k]);
    libusb_exit(d->usb);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static const cmboot_discovery_ops lu_ops = {
    sizeof(cmboot_discovery_ops), lu_next_event, lu_open, lu_wakeup, lu_destroy, "libusb"};

int cmboot_discovery_libusb_new(cmboot_ctx *ctx, cmboot_discovery *out)
{
    if (!ctx || !out)
        return CMBOOT_ERR_INVALID_ARG;
    lu_disc *d = calloc(1, sizeof *d);
    if (!d)
        return CMBOOT_ERR_NO_MEMORY;
    d->ctx = ctx;
    pthread_mutex_init(&d->lock, NULL);
    int r = libusb_init(&d->usb);
    if (r != 0) {
        pthread_mutex_destroy(&d->lock);
        free(d);
        return cmb_error_from_libusb(r);
    }
    if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
        r = libusb_hotplug_register_callback(
            d->usb, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, LIBUSB_HOTPLUG_ENUMERATE,
            CMBOOT_VID_BROADCOM, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, d, &d->cb);
        if (r == 0) {
            /* A board's payload may come up as the fastboot gadget, which has Google's vendor ID. */
            r = libusb_hotplug_register_callback(d->usb,
                                                 LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
                                                 LIBUSB_HOTPLUG_ENUMERATE, CMBOOT_VID_FASTBOOT, CMBOOT_PID_FASTBOOT,
                                                 LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, d, &d->cb_fastboot);
            if (r != 0)
                libusb_hotplug_deregister_callback(d->usb, d->cb);
        }
        d->hotplug = r == 0;
    }
    cmb_logf(&ctx->log, "", CMBOOT_LOG_DEBUG, "libusb discovery: %s", d->hotplug ? "hotplug" : "polling");
    out->ops = &lu_ops;
    out->self = d;
    return CMBOOT_OK;
}
