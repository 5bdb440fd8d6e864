/* In-process frontend: boards on a virtual bus behind cmboot_discovery and cmboot_transport, no threads inside. */
#include "front/sim_bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cmboot/error.h"

typedef struct sim_board {
    char path[CMBOOT_PORT_PATH_MAX];
    sim_device *dev;
    uint8_t busnum;
    int64_t plug_at;
    bool present; /* plug time reached */
    bool connected;
    bool gone;               /* vanished or unplugged */
    bool configured;         /* the bus's SET_CONFIGURATION went through */
    cmboot_stage stage;      /* the model's stage (also SIM_STAGE_FASTBOOT) */
    cmboot_device_info info; /* of the current enumeration, as reported in its ADDED event */
    unsigned gen;            /* enumerations so far: a transport belongs to one */
    struct sim_board *next;
} sim_board;

struct sim_bus {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sim_board *boards;
    cmboot_device_event *events; /* whole history, in order; each view has its own cursor */
    size_t nevents, events_cap;
    uint8_t next_devnum[256];
};

typedef struct sim_view {
    sim_bus *bus;
    size_t cursor;
    bool woken;
} sim_view;

typedef struct sim_xport {
    sim_bus *bus;
    sim_board *board;
    unsigned gen;
    bool cancelled;
    uint8_t ep_out; /* bound at open, as a real transport claims its interface */
    uint8_t ep_in;  /* the fastboot gadget's bulk IN; 0 = none (the boot protocol never answers bulk IN) */
} sim_xport;

/* ---- time and waiting ---- */

static void wait_until(sim_bus *bus, int64_t deadline_ms)
{
    if (deadline_ms == INT64_MAX) {
        pthread_cond_wait(&bus->cv, &bus->mu);
        return;
    }
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    pthread_cond_timedwait(&bus->cv, &bus->mu, &ts);
}

static int64_t next_wakeup(const sim_bus *bus)
{
    int64_t w = INT64_MAX;
    for (const sim_board *b = bus->boards; b; b = b->next) {
        int64_t t = !b->present ? b->plug_at : b->gone ? INT64_MAX : sim_device_next_wakeup(b->dev);
        if (t < w)
            w = t;
    }
    return w;
}

/* Waits until something may have changed: a signal, the caller's deadline or a board's wake-up. */
static void bus_wait(sim_bus *bus, int64_t deadline_ms)
{
    int64_t w = next_wakeup(bus);
    if (deadline_ms < w)
        w = deadline_ms;
    if (w <= cmboot_now_ms())
        return;
    wait_until(bus, w);
}

static int push_event(sim_bus *bus, cmboot_device_event_type type, const cmboot_device_info *info)
{
    if (bus->nevents == bus->events_cap) {
        size_t cap = bus->events_cap ? bus->events_cap * 2 : 32;
        cmboot_device_event *n = realloc(bus->events, cap * sizeof *n);
        if (!n)
            return CMBOOT_ERR_NO_MEMORY;
        bus->events = n;
        bus->events_cap = cap;
    }
    bus->events[bus->nevents].type = type;
    bus->events[bus->nevents].dev = *info;
    bus->nevents++;
    return CMBOOT_OK;
}

static void fill_info(sim_bus *bus, sim_board *b)
{
    sim_identity id;
    sim_device_identity(b->dev, &id);
    cmboot_device_info *i = &b->info;
    memset(i, 0, sizeof *i);
    i->vid = id.vid;
    i->pid = id.pid;
    i->serial_index = id.serial_index;
    i->num_interfaces = id.configured ? id.num_interfaces : 0; /* sysfs: empty until configured */
    i->busnum = b->busnum;
    uint8_t *d = &bus->next_devnum[b->busnum];
    if (*d < 2 || *d > 127)
        *d = 2;
    i->devnum = (*d)++;
    i->stage = cmboot_stage_of(id.vid, id.pid, id.serial_index); /* what a real discovery would tell */
    i->soc = i->stage == CMBOOT_STAGE_ROM || i->stage == CMBOOT_STAGE_SECOND ? cmboot_soc_by_product_id(id.pid) : NULL;
    snprintf(i->port_path, sizeof i->port_path, "%s", b->path);
    snprintf(i->serial, sizeof i->serial, "%s", id.serial);
    snprintf(i->syspath, sizeof i->syspath, "sim:%s", b->path);
}

/* The bus plays the kernel's generic driver: SET_CONFIGURATION(1) after the connect, again while the device
 * NAKs it (a late configuration). Lock held. */
static void configure(sim_board *b, int64_t now)
{
    static const uint8_t set_config[8] = {0x00, 9, 1, 0, 0, 0, 0, 0};
    size_t n = 0;
    if (b->connected && !b->configured && sim_device_control(b->dev, set_config, NULL, &n, now) == SIM_OK)
        b->configured = true;
}

/* Lets every board's time pass and turns the models' events into bus events. Lock held. */
static void advance(sim_bus *bus)
{
    int64_t now = cmboot_now_ms();
    bool changed = false;
    for (sim_board *b = bus->boards; b; b = b->next) {
        if (!b->present) {
            if (now < b->plug_at)
                continue;
            b->present = true;
        }
        if (b->gone)
            continue;
        sim_device_poll(b->dev, now);
        sim_event ev;
        while (sim_device_take_event(b->dev, &ev)) {
            changed = true;
            if (ev.type == SIM_EV_CONNECT) {
                b->gen++;
                b->connected = true;
                b->configured = false;
                b->stage = ev.stage;
                configure(b, now);
                fill_info(bus, b);
                push_event(bus, CMBOOT_DEVICE_ADDED, &b->info);
            } else {
                if (b->connected)
                    push_event(bus, CMBOOT_DEVICE_REMOVED, &b->info);
                b->connected = false;
                if (ev.type == SIM_EV_VANISH)
                    b->gone = true;
            }
        }
        configure(b, now);
    }
    if (changed)
        pthread_cond_broadcast(&bus->cv);
}

static sim_board *find_board(sim_bus *bus, const char *path)
{
    for (sim_board *b = bus->boards; b; b = b->next)
        if (strcmp(b->path, path) == 0)
            return b;
    return NULL;
}

/* ---- bus ---- */

int sim_bus_new(sim_bus **out)
{
    *out = NULL;
    sim_bus *bus = calloc(1, sizeof *bus);
    if (!bus)
        return CMBOOT_ERR_NO_MEMORY;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int e1 = pthread_mutex_init(&bus->mu, NULL);
    int e2 = pthread_cond_init(&bus->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (e1 || e2) {
        if (!e1)
            pthread_mutex_destroy(&bus->mu);
        if (!e2)
            pthread_cond_destroy(&bus->cv);
        free(bus);
        return CMBOOT_ERR_NO_MEMORY;
    }
    *out = bus;
    return CMBOOT_OK;
}

void sim_bus_free(sim_bus *bus)
{
    if (!bus)
        return;
    for (sim_board *b = bus->boards, *n; b; b = n) {
        n = b->next;
        sim_device_free(b->dev);
        free(b);
    }
    free(bus->events);
    pthread_cond_destroy(&bus->cv);
    pthread_mutex_destroy(&bus->mu);
    free(bus);
}

int sim_bus_plug(sim_bus *bus, const char *port_path, const sim_config *cfg, int64_t plug_at_ms)
{
    if (!bus || !port_path || !cfg || !cmboot_port_path_valid(port_path) || strlen(port_path) >= CMBOOT_PORT_PATH_MAX)
        return CMBOOT_ERR_INVALID_ARG;
    int busnum = atoi(port_path);
    if (busnum < 1 || busnum > 255)
        return CMBOOT_ERR_INVALID_ARG;
    sim_board *b = calloc(1, sizeof *b);
    if (!b)
        return CMBOOT_ERR_NO_MEMORY;
    int rc = sim_device_new(cfg, &b->dev);
    if (rc != CMBOOT_OK) {
        free(b);
        return rc;
    }
    snprintf(b->path, sizeof b->path, "%s", port_path);
    b->busnum = (uint8_t)busnum;
    b->plug_at = plug_at_ms;
    pthread_mutex_lock(&bus->mu);
    sim_board *old = find_board(bus, port_path);
    if (old && !old->gone) {
        pthread_mutex_unlock(&bus->mu);
        sim_device_free(b->dev);
        free(b);
        return CMBOOT_ERR_BUSY;
    }
    /* Newest first, so a path reused after a vanish finds the new board; boards are never freed before
     * the bus, so transports of the old one stay valid (and answer CMBOOT_ERR_NO_DEVICE). */
    b->next = bus->boards;
    bus->boards = b;
    advance(bus);
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
    return CMBOOT_OK;
}

int sim_bus_unplug(sim_bus *bus, const char *port_path)
{
    pthread_mutex_lock(&bus->mu);
    sim_board *b = find_board(bus, port_path);
    int rc = CMBOOT_ERR_NOT_FOUND;
    if (b && !b->gone) {
        if (b->connected)
            push_event(bus, CMBOOT_DEVICE_REMOVED, &b->info);
        b->connected = false;
        b->gone = true;
        b->present = true;
        rc = CMBOOT_OK;
    }
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
    return rc;
}

int sim_bus_wait_stage(sim_bus *bus, const char *port_path, cmboot_stage stage, int64_t deadline_ms)
{
    int rc;
    pthread_mutex_lock(&bus->mu);
    for (;;) {
        advance(bus);
        sim_board *b = find_board(bus, port_path);
        if (!b) {
            rc = CMBOOT_ERR_NOT_FOUND;
            break;
        }
        if (stage == CMBOOT_STAGE_UNKNOWN && b->gone) {
            rc = CMBOOT_OK;
            break;
        }
        if (b->gone) {
            rc = CMBOOT_ERR_NO_DEVICE;
            break;
        }
        if (b->connected && b->stage == stage) {
            rc = CMBOOT_OK;
            break;
        }
        if (cmboot_now_ms() >= deadline_ms) {
            rc = CMBOOT_ERR_TIMEOUT;
            break;
        }
        bus_wait(bus, deadline_ms);
    }
    pthread_mutex_unlock(&bus->mu);
    return rc;
}

int sim_bus_with_device(sim_bus *bus, const char *port_path, void (*fn)(sim_device *dev, void *user), void *user)
{
    pthread_mutex_lock(&bus->mu);
    sim_board *b = find_board(bus, port_path);
    if (b)
        fn(b->dev, user);
    pthread_mutex_unlock(&bus->mu);
    return b ? CMBOOT_OK : CMBOOT_ERR_NOT_FOUND;
}

static void get_result(sim_device *dev, void *user)
{
    sim_device_result(dev, user);
}

int sim_bus_result(sim_bus *bus, const char *port_path, sim_result *out)
{
    return sim_bus_with_device(bus, port_path, get_result, out);
}

typedef struct log_copy {
    char *buf;
    size_t size;
} log_copy;

static void copy_log(sim_device *dev, void *user)
{
    log_copy *c = user;
    size_t o = 0;
    c->buf[0] = 0;
    for (size_t i = 0; i < sim_device_log_count(dev); i++) {
        int n = snprintf(c->buf + o, c->size - o, "%s\n", sim_device_log_line(dev, i));
        if (n < 0 || (size_t)n >= c->size - o) {
            c->buf[o] = 0;
            return;
        }
        o += (size_t)n;
    }
}

int sim_bus_log(sim_bus *bus, const char *port_path, char *buf, size_t size)
{
    if (!buf || size == 0)
        return CMBOOT_ERR_INVALID_ARG;
    log_copy c = {buf, size};
    return sim_bus_with_device(bus, port_path, copy_log, &c);
}

typedef struct file_copy {
    const char *name;
    sim_file_record *out;
    bool found;
} file_copy;

static void copy_file(sim_device *dev, void *user)
{
    file_copy *c = user;
    const sim_file_record *r = sim_device_file(dev, c->name);
    if (r) {
        *c->out = *r;
        c->found = true;
    }
}

int sim_bus_file(sim_bus *bus, const char *port_path, const char *name, sim_file_record *out)
{
    file_copy c = {name, out, false};
    int rc = sim_bus_with_device(bus, port_path, copy_file, &c);
    if (rc == CMBOOT_OK && !c.found)
        rc = CMBOOT_ERR_NOT_FOUND;
    return rc;
}

/* ---- transport ---- */

static int map_status(sim_status st)
{
    switch (st) {
    case SIM_OK: return CMBOOT_OK;
    case SIM_STALL: return CMBOOT_ERR_STALL;
    case SIM_NO_DEVICE: return CMBOOT_ERR_NO_DEVICE;
    case SIM_OVERFLOW: return CMBOOT_ERR_OVERFLOW;
    default: return CMBOOT_ERR_TIMEOUT;
    }
}

/* Lock held. CMBOOT_OK when the transport may talk to its device. */
static int xport_check(sim_xport *t)
{
    if (t->cancelled)
        return CMBOOT_ERR_CANCELLED;
    sim_board *b = t->board;
    if (b->gone || !b->connected || b->gen != t->gen)
        return CMBOOT_ERR_NO_DEVICE;
    return CMBOOT_OK;
}

/* Submits a control transfer until it is answered, the timeout passes or the device goes. */
static int xport_control(sim_xport *t, const uint8_t setup[8], uint8_t *data, size_t *actual, unsigned timeout_ms)
{
    sim_bus *bus = t->bus;
    int64_t deadline = cmboot_now_ms() + timeout_ms;
    int rc;
    pthread_mutex_lock(&bus->mu);
    for (;;) {
        advance(bus);
        rc = xport_check(t);
        if (rc != CMBOOT_OK)
            break;
        size_t in_len = 0;
        sim_status st = sim_device_control(t->board->dev, setup, data, &in_len, cmboot_now_ms());
        if (st != SIM_PENDING) {
            if (actual)
                *actual = in_len;
            rc = map_status(st);
            advance(bus);
            pthread_cond_broadcast(&bus->cv);
            break;
        }
        if (cmboot_now_ms() >= deadline) {
            /* like libusb at its timeout: the pending transfer is cancelled */
            sim_device_cancel(t->board->dev, setup, cmboot_now_ms());
            rc = CMBOOT_ERR_TIMEOUT;
            break;
        }
        bus_wait(bus, deadline);
        if (t->cancelled) /* cancel() of the transport while this transfer was pending */
            sim_device_cancel(t->board->dev, setup, cmboot_now_ms());
    }
    pthread_mutex_unlock(&bus->mu);
    return rc;
}

static void setup_bytes(uint8_t s[8], uint8_t type, uint16_t wValue, uint16_t wIndex, uint16_t wLength)
{
    s[0] = type;
    s[1] = 0;
    s[2] = (uint8_t)wValue;
    s[3] = (uint8_t)(wValue >> 8);
    s[4] = (uint8_t)wIndex;
    s[5] = (uint8_t)(wIndex >> 8);
    s[6] = (uint8_t)wLength;
    s[7] = (uint8_t)(wLength >> 8);
}

static int xp_control_out(void *self, uint16_t wValue, uint16_t wIndex, unsigned timeout_ms)
{
    uint8_t s[8];
    setup_bytes(s, 0x40, wValue, wIndex, 0);
    return xport_control(self, s, NULL, NULL, timeout_ms);
}

static int xp_control_in(void *self, uint16_t wValue, uint16_t wIndex, void *buf, size_t len, size_t *actual,
                         unsigned timeout_ms)
{
    uint8_t s[8];
    if (actual)
        *actual = 0;
    if (len > 0xffff || (len && !buf))
        return CMBOOT_ERR_INVALID_ARG;
    setup_bytes(s, 0xc0, wValue, wIndex, (uint16_t)len);
    uint8_t scratch[1];
    return xport_control(self, s, len ? buf : scratch, actual, timeout_ms);
}

static int xp_bulk_out(void *self, const void *buf, size_t len, size_t *actual, unsigned timeout_ms)
{
    sim_xport *t = self;
    sim_bus *bus = t->bus;
    const uint8_t *p = buf;
    size_t done = 0;
    int64_t deadline = cmboot_now_ms() + timeout_ms;
    int rc = CMBOOT_OK;
    if (actual)
        *actual = 0;
    if (len && !buf)
        return CMBOOT_ERR_INVALID_ARG;
    pthread_mutex_lock(&bus->mu);
    while (done < len || len == 0) {
        advance(bus);
        rc = xport_check(t);
        if (rc != CMBOOT_OK)
            break;
        size_t took = 0;
        sim_status st = sim_device_bulk_out(t->board->dev, t->ep_out, p + done, len - done, &took, cmboot_now_ms());
        done += took;
        if (st == SIM_OK && (took > 0 || len == 0)) {
            if (len == 0)
                break;
            continue;
        }
        if (st != SIM_OK && st != SIM_PENDING) {
            rc = map_status(st);
            break;
        }
        if (cmboot_now_ms() >= deadline) {
            rc = CMBOOT_ERR_TIMEOUT;
            break;
        }
        bus_wait(bus, deadline);
    }
    advance(bus);
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
    if (actual)
        *actual = done;
    return rc;
}

/* One bulk IN transfer: waits (NAK) until the device sends, the timeout passes or the device goes. */
static int xp_bulk_in(void *self, void *buf, size_t len, size_t *actual, unsigned timeout_ms)
{
    sim_xport *t = self;
    sim_bus *bus = t->bus;
    int64_t deadline = cmboot_now_ms() + timeout_ms;
    int rc;
    size_t got = 0;
    if (actual)
        *actual = 0;
    if (!buf || !len)
        return CMBOOT_ERR_INVALID_ARG;
    if (!t->ep_in)
        return CMBOOT_ERR_UNSUPPORTED;
    pthread_mutex_lock(&bus->mu);
    for (;;) {
        advance(bus);
        rc = xport_check(t);
        if (rc != CMBOOT_OK)
            break;
        sim_status st = sim_device_bulk_in(t->board->dev, t->ep_in, buf, len, &got, cmboot_now_ms());
        if (st != SIM_PENDING) {
            rc = map_status(st);
            break;
        }
        if (cmboot_now_ms() >= deadline) {
            rc = CMBOOT_ERR_TIMEOUT;
            break;
        }
        bus_wait(bus, deadline);
    }
    advance(bus);
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
    if (actual)
        *actual = got;
    return rc;
}

/* Standard CLEAR_FEATURE(ENDPOINT_HALT) on the bulk OUT endpoint, as libusb_clear_halt sends it. */
static int xp_clear_halt(void *self)
{
    sim_xport *t = self;
    pthread_mutex_lock(&t->bus->mu);
    int rc = xport_check(t);
    pthread_mutex_unlock(&t->bus->mu);
    if (rc != CMBOOT_OK)
        return rc;
    /* The endpoint this transport sends on (bound at open), as libusb clears the endpoint it used. */
    const uint8_t setup[8] = {0x02, 0x01, 0x00, 0x00, t->ep_out, 0x00, 0x00, 0x00};
    return xport_control(t, setup, NULL, NULL, 5000);
}

static void xp_cancel(void *self)
{
    sim_xport *t = self;
    pthread_mutex_lock(&t->bus->mu);
    t->cancelled = true;
    pthread_cond_broadcast(&t->bus->cv);
    pthread_mutex_unlock(&t->bus->mu);
}

static void xp_close(void *self)
{
    free(self);
}

static const cmboot_transport_ops xport_ops = {
    .struct_size = sizeof(cmboot_transport_ops),
    .control_out = xp_control_out,
    .control_in = xp_control_in,
    .bulk_out = xp_bulk_out,
    .bulk_in = xp_bulk_in,
    .clear_halt = xp_clear_halt,
    .cancel = xp_cancel,
    .close = xp_close,
};

/* ---- discovery ---- */

static int view_next_event(void *self, cmboot_device_event *ev, int64_t deadline_ms)
{
    sim_view *v = self;
    sim_bus *bus = v->bus;
    int rc;
    pthread_mutex_lock(&bus->mu);
    for (;;) {
        advance(bus);
        if (v->cursor < bus->nevents) {
            *ev = bus->events[v->cursor++];
            rc = CMBOOT_OK;
            break;
        }
        if (v->woken) {
            v->woken = false;
            rc = CMBOOT_ERR_CANCELLED;
            break;
        }
        if (cmboot_now_ms() >= deadline_ms) {
            rc = CMBOOT_ERR_TIMEOUT;
            break;
        }
        bus_wait(bus, deadline_ms);
    }
    pthread_mutex_unlock(&bus->mu);
    return rc;
}

static int view_open(void *self, const cmboot_device_info *dev, cmboot_transport *out)
{
    sim_view *v = self;
    sim_bus *bus = v->bus;
    int rc = CMBOOT_OK;
    pthread_mutex_lock(&bus->mu);
    advance(bus);
    sim_board *b = find_board(bus, dev->port_path);
    if (!b || b->gone || !b->connected || b->info.devnum != dev->devnum)
        rc = CMBOOT_ERR_NO_DEVICE;
    else if (b->stage != CMBOOT_STAGE_ROM && b->stage != CMBOOT_STAGE_SECOND && b->stage != SIM_STAGE_FASTBOOT)
        rc = CMBOOT_ERR_UNSUPPORTED; /* mass storage, normal mode: no interface a transport drives */
    sim_xport *t = NULL;
    if (rc == CMBOOT_OK) {
        t = calloc(1, sizeof *t);
        if (!t)
            rc = CMBOOT_ERR_NO_MEMORY;
    }
    if (rc == CMBOOT_OK) {
        t->bus = bus;
        t->board = b;
        t->gen = b->gen;
        /* The interface is chosen from what the bus shows now: before the configuration is set that is no
         * interface at all, which a host reads as one (interface 0, OUT 0x01) -- wrong on a two-interface
         * ROM, where the device refuses it. */
        sim_identity id;
        sim_device_identity(b->dev, &id);
        cmboot_vendor_endpoint(id.configured ? id.num_interfaces : 0, NULL, &t->ep_out);
        if (b->stage == SIM_STAGE_FASTBOOT) { /* the gadget's one interface: OUT 0x01, IN 0x81 */
            t->ep_out = 0x01;
            t->ep_in = 0x81;
        }
        out->ops = &xport_ops;
        out->self = t;
    }
    pthread_mutex_unlock(&bus->mu);
    return rc;
}

static void view_wakeup(void *self)
{
    sim_view *v = self;
    pthread_mutex_lock(&v->bus->mu);
    v->woken = true;
    pthread_cond_broadcast(&v->bus->cv);
    pthread_mutex_unlock(&v->bus->mu);
}

static void view_destroy(void *self)
{
    free(self);
}

static const cmboot_discovery_ops view_ops = {
    .struct_size = sizeof(cmboot_discovery_ops),
    .next_event = view_next_event,
    .open = view_open,
    .wakeup = view_wakeup,
    .destroy = view_destroy,
    .name = "sim",
};

int sim_bus_discovery(sim_bus *bus, cmboot_discovery *out)
{
    sim_view *v = calloc(1, sizeof *v);
    if (!v)
        return CMBOOT_ERR_NO_MEMORY;
    v->bus = bus;
    out->ops = &view_ops;
    out->self = v;
    return CMBOOT_OK;
}
