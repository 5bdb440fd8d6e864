/* cmboot_transport over libusb: vendor control, pipelined bulk OUT, bulk IN (fastboot); all cancellable. */
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/soc.h"
#include "transport_libusb.h"

#define MAX_IN_FLIGHT 16

typedef struct usb_transport {
    libusb_device_handle *h;
    libusb_context *ctx;       /* context the handle belongs to (for event handling) */
    libusb_context *owned_ctx; /* exited on close when we made it */
    int owned_fd;
    int iface;
    uint8_t ep_out;
    uint8_t ep_in; /* 0: none (only the fastboot interface has one we use) */
    cmboot_bulk_tuning tuning;
    atomic_bool cancelled;
    pthread_mutex_t lock; /* guards live[] against cancel() from another thread */
    struct libusb_transfer *live[MAX_IN_FLIGHT + 1];
} usb_transport;

int cmb_error_from_libusb(int err)
{
    switch (err) {
    case LIBUSB_SUCCESS: return CMBOOT_OK;
    case LIBUSB_ERROR_IO: return CMBOOT_ERR_IO;
    case LIBUSB_ERROR_INVALID_PARAM: return CMBOOT_ERR_INVALID_ARG;
    case LIBUSB_ERROR_ACCESS: return CMBOOT_ERR_ACCESS;
    case LIBUSB_ERROR_NO_DEVICE: return CMBOOT_ERR_NO_DEVICE;
    case LIBUSB_ERROR_NOT_FOUND: return CMBOOT_ERR_NOT_FOUND;
    case LIBUSB_ERROR_BUSY: return CMBOOT_ERR_BUSY;
    case LIBUSB_ERROR_TIMEOUT: return CMBOOT_ERR_TIMEOUT;
    case LIBUSB_ERROR_OVERFLOW: return CMBOOT_ERR_OVERFLOW;
    case LIBUSB_ERROR_PIPE: return CMBOOT_ERR_STALL;
    case LIBUSB_ERROR_INTERRUPTED: return CMBOOT_ERR_CANCELLED;
    case LIBUSB_ERROR_NO_MEM: return CMBOOT_ERR_NO_MEMORY;
    case LIBUSB_ERROR_NOT_SUPPORTED: return CMBOOT_ERR_UNSUPPORTED;
    default: return CMBOOT_ERR_IO;
    }
}

/* A libusb context that never scans the bus: the fd we found ourselves is all it gets. */
int cmb_libusb_ctx_no_discovery(libusb_context **out)
{
#if defined(LIBUSB_API_VERSION) && LIBUSB_API_VERSION >= 0x0100010A
    struct libusb_init_option opt = {.option = LIBUSB_OPTION_NO_DEVICE_DISCOVERY};
    return libusb_init_context(out, &opt, 1);
#else
    /* Before libusb 1.0.27 the option must be set before libusb_init and is process-wide (the Linux backend
     * keeps it in one flag), so it is set on the default options every later context inherits. */
    int rc = libusb_set_option(NULL, LIBUSB_OPTION_NO_DEVICE_DISCOVERY);
    if (rc != LIBUSB_SUCCESS)
        return rc;
    return libusb_init(out);
#endif
}

static int status_to_error(enum libusb_transfer_status st)
{
    switch (st) {
    case LIBUSB_TRANSFER_COMPLETED: return CMBOOT_OK;
    case LIBUSB_TRANSFER_TIMED_OUT: return CMBOOT_ERR_TIMEOUT;
    case LIBUSB_TRANSFER_CANCELLED: return CMBOOT_ERR_CANCELLED;
    case LIBUSB_TRANSFER_STALL: return CMBOOT_ERR_STALL;
    case LIBUSB_TRANSFER_NO_DEVICE: return CMBOOT_ERR_NO_DEVICE;
    case LIBUSB_TRANSFER_OVERFLOW: return CMBOOT_ERR_OVERFLOW;
    default: return CMBOOT_ERR_IO;
    }
}

/* May run in another thread (whichever handles the shared context's events). Setting the flag is its last
 * touch of the caller's memory, so the caller may return as soon as it sees it; libusb also checks this flag
 * under its event-waiter lock (libusb_handle_events_timeout_completed), so no completion is missed. */
static void LIBUSB_CALL on_transfer_done(struct libusb_transfer *xfr)
{
    __atomic_store_n((int *)xfr->user_data, 1, __ATOMIC_RELEASE);
}

static void track(usb_transport *u, struct libusb_transfer *x, int add)
{
    pthread_mutex_lock(&u->lock);
    for (int i = 0; i < MAX_IN_FLIGHT + 1; i++) {
        if (add && !u->live[i]) {
            u->live[i] = x;
            break;
        }
        if (!add && u->live[i] == x) {
            u->live[i] = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&u->lock);
}

/* Runs libusb's event loop until *done is set; cancels everything live once cancelled. */
static void wait_done(usb_transport *u, int *done)
{
    int cancel_sent = 0;
    while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
        if (atomic_load(&u->cancelled) && !cancel_sent) {
            pthread_mutex_lock(&u->lock);
            for (int i = 0; i < MAX_IN_FLIGHT + 1; i++)
                if (u->live[i])
                    libusb_cancel_transfer(u->live[i]);
            pthread_mutex_unlock(&u->lock);
            cancel_sent = 1;
        }
        /* The wake-up bound is only for noticing cancel(); completions wake us at once. */
        struct timeval tv = {0, 100000};
        libusb_handle_events_timeout_completed(u->ctx, &tv, done);
    }
}

static int control(usb_transport *u, uint8_t type, uint8_t req, uint16_t v, uint16_t i, void *buf, size_t len,
                   size_t *actual, unsigned timeout_ms)
{
    if (atomic_load(&u->cancelled))
        return CMBOOT_ERR_CANCELLED;
    if (len > 4096)
        return CMBOOT_ERR_INVALID_ARG;
    unsigned char *setup = malloc(LIBUSB_CONTROL_SETUP_SIZE + len);
    struct libusb_transfer *x = libusb_alloc_transfer(0);
    if (!setup || !x) {
        free(setup);
        libusb_free_transfer(x);
        return CMBOOT_ERR_NO_MEMORY;
    }
    libusb_fill_control_setup(setup, type, req, v, i, (uint16_t)len);
    if (!(type & 0x80) && len)
        memcpy(setup + LIBUSB_CONTROL_SETUP_SIZE, buf, len);
    int done = 0;
    libusb_fill_control_transfer(x, u->h, setup, on_transfer_done, &done, timeout_ms);
    track(u, x, 1);
    int rc = libusb_submit_transfer(x);
    if (rc == 0) {
        wait_done(u, &done);
        rc = status_to_error(x->status);
        if (rc == CMBOOT_OK && (type & 0x80)) {
            size_t got = (size_t)x->actual_length;
            if (got > len)
                got = len;
            memcpy(buf, setup + LIBUSB_CONTROL_SETUP_SIZE, got);
            if (actual)
                *actual = got;
        }
    } else {
        rc = cmb_error_from_libusb(rc);
    }
    track(u, x, 0);
    libusb_free_transfer(x);
    free(setup);
    if (rc == CMBOOT_ERR_CANCELLED && !atomic_load(&u->cancelled))
        rc = CMBOOT_ERR_IO;
    return rc;
}

static int t_control_out(void *self, uint16_t v, uint16_t i, unsigned timeout_ms)
{
    return control(self, LIBUSB_ENDPOINT_OUT | LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_RECIPIENT_DEVICE, 0, v, i, NULL, 0,
                   NULL, timeout_ms);
}

static int t_control_in(void *self, uint16_t v, uint16_t i, void *buf, size_t len, size_t *actual, unsigned timeout_ms)
{
    if (actual)
        *actual = 0;
    return control(self, LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_VENDOR | LIBUSB_RECIPIENT_DEVICE, 0, v, i, buf, len,
                   actual, timeout_ms);
}

static int t_control(void *self, uint8_t type, uint8_t req, uint16_t v, uint16_t i, void *buf, size_t len,
                     size_t *actual, unsigned timeout_ms)
{
    if (actual)
        *actual = 0;
    if (len && !buf)
        return CMBOOT_ERR_INVALID_ARG;
    return control(self, type, req, v, i, buf, len, actual, timeout_ms);
}

typedef struct bulk_slot {
    struct libusb_transfer *x;
    int done;
} bulk_slot;

/* Bulk OUT in pieces with several transfers in flight, so the bus never idles between pieces. The slots form a
 * ring in submission order and are reaped oldest first (pieces on one endpoint complete in order). `actual` is
 * the prefix of buf the device took: whole pieces, plus what the first failed or cut piece got through; bytes
 * of later pieces would sit after a hole, so they do not count (the caller resends from `actual`). */
static int t_bulk_out(void *self, const void *buf, size_t len, size_t *actual, unsigned timeout_ms)
{
    usb_transport *u = self;
    if (actual)
        *actual = 0;
    if (atomic_load(&u->cancelled))
        return CMBOOT_ERR_CANCELLED;
    size_t piece = u->tuning.piece_size;
    unsigned depth = u->tuning.in_flight;
    bulk_slot slot[MAX_IN_FLIGHT];
    int rc = CMBOOT_OK;
    memset(slot, 0, sizeof slot);
    for (unsigned k = 0; k < depth; k++) {
        slot[k].x = libusb_alloc_transfer(0);
        if (!slot[k].x)
            rc = CMBOOT_ERR_NO_MEMORY;
    }
    size_t next = 0, sent = 0;
    bool hole = false;           /* a reaped piece did not arrive whole: nothing after it counts */
    unsigned head = 0, live = 0; /* oldest slot in flight, number in flight */
    for (;;) {
        while (rc == CMBOOT_OK && next < len && live < depth) {
            bulk_slot *s = &slot[(head + live) % depth];
            size_t n = len - next < piece ? len - next : piece;
            s->done = 0;
            libusb_fill_bulk_transfer(s->x, u->h, u->ep_out, (unsigned char *)buf + next, (int)n, on_transfer_done,
                                      &s->done, timeout_ms);
            track(u, s->x, 1);
            int r = libusb_submit_transfer(s->x);
            if (r == LIBUSB_ERROR_NO_MEM && live > 0) {
                /* usbfs caps the memory of all transfers in flight (usbfs_memory_mb, 16 MiB by default, shared
                 * by every board): queue fewer and go on as earlier pieces complete. */
                track(u, s->x, 0);
                break;
            }
            if (r != 0) {
                track(u, s->x, 0);
                rc = cmb_error_from_libusb(r);
                break;
            }
            live++;
            next += n;
        }
        if (live == 0)
            break;
        bulk_slot *s = &slot[head];
        wait_done(u, &s->done);
        head = (head + 1) % depth;
        live--;
        track(u, s->x, 0);
        int st = status_to_error(s->x->status);
        if (st == CMBOOT_OK && s->x->actual_length != s->x->length)
            st = CMBOOT_ERR_SHORT_TRANSFER;
        /* A stalled or cancelled piece still reports what went out before it stopped. */
        if (!hole && s->x->actual_length > 0)
            sent += (size_t)s->x->actual_length;
        if (s->x->actual_length != s->x->length)
            hole = true;
        if (st != CMBOOT_OK && rc == CMBOOT_OK)
            rc = st;
        if (rc != CMBOOT_OK && live) { /* stop the rest: they would land after a hole in the data */
            pthread_mutex_lock(&u->lock);
            for (unsigned k = 0; k < live; k++)
                libusb_cancel_transfer(slot[(head + k) % depth].x);
            pthread_mutex_unlock(&u->lock);
        }
    }
    for (unsigned k = 0; k < depth; k++)
        libusb_free_transfer(slot[k].x);
    if (actual)
        *actual = sent;
    if (rc == CMBOOT_ERR_CANCELLED && !atomic_load(&u->cancelled))
        rc = CMBOOT_ERR_IO;
    return rc;
}

/* One bulk IN transfer (fastboot replies and fetched data): up to len bytes, a short packet ends it. */
static int t_bulk_in(void *self, void *buf, size_t len, size_t *actual, unsigned timeout_ms)
{
    usb_transport *u = self;
    if (actual)
        *actual = 0;
    if (atomic_load(&u->cancelled))
        return CMBOOT_ERR_CANCELLED;
    if (!u->ep_in)
        return CMBOOT_ERR_UNSUPPORTED;
    if ((len && !buf) || len > (16u << 20))
        return CMBOOT_ERR_INVALID_ARG;
    struct libusb_transfer *x = libusb_alloc_transfer(0);
    if (!x)
        return CMBOOT_ERR_NO_MEMORY;
    int done = 0;
    libusb_fill_bulk_transfer(x, u->h, u->ep_in, buf, (int)len, on_transfer_done, &done, timeout_ms);
    track(u, x, 1);
    int rc = libusb_submit_transfer(x);
    if (rc == 0) {
        wait_done(u, &done);
        rc = status_to_error(x->status);
        size_t got = x->actual_length > 0 ? (size_t)x->actual_length : 0;
        if (actual)
            *actual = got > len ? len : got;
    } else {
        rc = cmb_error_from_libusb(rc);
    }
    track(u, x, 0);
    libusb_free_transfer(x);
    if (rc == CMBOOT_ERR_CANCELLED && !atomic_load(&u->cancelled))
        rc = CMBOOT_ERR_IO;
    return rc;
}

/* After a stall: CLEAR_FEATURE(ENDPOINT_HALT) re-arms the endpoint and resets its data toggle on both sides. */
static int t_clear_halt(void *self)
{
    usb_transport *u = self;
    if (atomic_load(&u->cancelled))
        return CMBOOT_ERR_CANCELLED;
    return cmb_error_from_libusb(libusb_clear_halt(u->h, u->ep_out));
}

static void t_cancel(void *self)
{
    usb_transport *u = self;
    atomic_store(&u->cancelled, true);
    pthread_mutex_lock(&u->lock);
    for (int i = 0; i < MAX_IN_FLIGHT + 1; i++)
        if (u->live[i])
            libusb_cancel_transfer(u->live[i]);
    pthread_mutex_unlock(&u->lock);
    if (u->ctx)
        libusb_interrupt_event_handler(u->ctx);
}

static void t_close(void *self)
{
    usb_transport *u = self;
    if (u->iface >= 0)
        libusb_release_interface(u->h, u->iface);
    libusb_close(u->h);
    if (u->owned_ctx)
        libusb_exit(u->owned_ctx);
    if (u->owned_fd >= 0)
        close(u->owned_fd);
    pthread_mutex_destroy(&u->lock);
    free(u);
}

static const cmboot_transport_ops usb_ops = {
    .struct_size = sizeof(cmboot_transport_ops),
    .control_out = t_control_out,
    .control_in = t_control_in,
    .bulk_out = t_bulk_out,
    .cancel = t_cancel,
    .close = t_close,
    .clear_halt = t_clear_halt,
    .control = t_control,
    .bulk_in = t_bulk_in,
};

/* A fastboot gadget's interface (class 0xff, subclass 0x42, protocol 0x03) in the active configuration: its
 * number and bulk endpoints. Returns false when there is none, so the vendor interface stays the choice. */
static bool find_fastboot_interface(libusb_device_handle *h, int *iface, uint8_t *ep_out, uint8_t *ep_in)
{
    struct libusb_config_descriptor *cfg = NULL;
    if (libusb_get_active_config_descriptor(libusb_get_device(h), &cfg) != 0 || !cfg)
        return false;
    bool found = false;
    for (uint8_t i = 0; i < cfg->bNumInterfaces && !found; i++) {
        const struct libusb_interface *itf = &cfg->interface[i];
        for (int a = 0; a < itf->num_altsetting && !found; a++) {
            const struct libusb_interface_descriptor *d = &itf->altsetting[a];
            if (d->bInterfaceClass != 0xff || d->bInterfaceSubClass != 0x42 || d->bInterfaceProtocol != 0x03)
                continue;
            uint8_t out = 0, in = 0;
            for (uint8_t e = 0; e < d->bNumEndpoints; e++) {
                const struct libusb_endpoint_descriptor *ep = &d->endpoint[e];
                if ((ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK)
                    continue;
                if (ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) {
                    if (!in)
                        in = ep->bEndpointAddress;
                } else if (!out) {
                    out = ep->bEndpointAddress;
                }
            }
            if (in && out) {
                *iface = d->bInterfaceNumber;
                *ep_out = out;
                *ep_in = in;
                found = true;
            }
        }
    }
    libusb_free_config_descriptor(cfg);
    return found;
}

static int transport_new(libusb_device_handle *handle, libusb_context *ctx, uint8_t num_interfaces,
                         const cmboot_bulk_tuning *tuning, libusb_context *owned_ctx, int owned_fd, bool claim,
                         cmboot_transport *out)
{
    usb_transport *u = calloc(1, sizeof *u);
    if (!u) {
        libusb_close(handle);
        if (owned_ctx)
            libusb_exit(owned_ctx);
        if (owned_fd >= 0)
            close(owned_fd);
        return CMBOOT_ERR_NO_MEMORY;
    }
    u->h = handle;
    u->ctx = ctx;
    u->owned_ctx = owned_ctx;
    u->owned_fd = owned_fd;
    pthread_mutex_init(&u->lock, NULL);
    cmboot_vendor_endpoint(num_interfaces, &u->iface, &u->ep_out);
    /* Measured on the QEMU bench (docs/performance.md): 256 KiB pieces, 4 in flight. */
    u->tuning.piece_size = 256 * 1024;
    u->tuning.in_flight = 4;
    if (tuning && tuning->piece_size >= 512 && tuning->piece_size <= (16u << 20))
        u->tuning.piece_size = tuning->piece_size & ~(size_t)511;
    if (tuning && tuning->in_flight >= 1 && tuning->in_flight <= MAX_IN_FLIGHT)
        u->tuning.in_flight = tuning->in_flight;
    if (!claim) { /* a hub: control transfers to the device and its ports need no interface, and its driver stays */
        u->iface = -1;
        out->ops = &usb_ops;
        out->self = u;
        return CMBOOT_OK;
    }
    (void)find_fastboot_interface(handle, &u->iface, &u->ep_out, &u->ep_in);
    libusb_set_auto_detach_kernel_driver(handle, 1);
    int rc = libusb_claim_interface(handle, u->iface);
    if (rc != 0) {
        out->ops = NULL;
        t_close(u);
        return cmb_error_from_libusb(rc);
    }
    out->ops = &usb_ops;
    out->self = u;
    return CMBOOT_OK;
}

int cmb_libusb_transport_new(libusb_device_handle *handle, uint8_t num_interfaces, const cmboot_bulk_tuning *tuning,
                             libusb_context *owned_ctx, int owned_fd, cmboot_transport *out)
{
    return transport_new(handle, owned_ctx, num_interfaces, tuning, owned_ctx, owned_fd, true, out);
}

int cmb_libusb_transport_new_shared(libusb_device_handle *handle, libusb_context *ctx, uint8_t num_interfaces,
                                    const cmboot_bulk_tuning *tuning, cmboot_transport *out)
{
    return transport_new(handle, ctx, num_interfaces, tuning, NULL, -1, true, out);
}

int cmb_libusb_transport_new_unclaimed(libusb_device_handle *handle, libusb_context *owned_ctx, int owned_fd,
                                       cmboot_transport *out)
{
    return transport_new(handle, owned_ctx, 1, NULL, owned_ctx, owned_fd, false, out);
}
