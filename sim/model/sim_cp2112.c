/* CP2112 USB GPIO bridge model: descriptors, HID report descriptor, feature reports (AN495) and the pin levels. */
#include "model/sim_cp2112.h"

#include <stdio.h>
#include <string.h>

#define IDX_MANUFACTURER 1
#define IDX_PRODUCT 2
#define IDX_SERIAL 3
#define MANUFACTURER "Silicon Labs"
#define PRODUCT "CP2112 HID USB-to-SMBus Bridge"

#define PART_NUMBER 0x0c
#define DEVICE_VERSION 0x02 /* > 1: the driver uses the write-read request (repeated start) */

enum { REP_INPUT = 1, REP_OUTPUT = 2, REP_FEATURE = 3 }; /* HID report types (wValue high byte) */

/* One report: its ID, type, data bytes after the ID, and what a host may do with it on the control pipe. */
typedef struct report_info {
    uint8_t id, type, size;
    bool get, set;
} report_info;

static const report_info reports[] = {
    {0x01, REP_FEATURE, 1, false, true},  /* reset device */
    {0x02, REP_FEATURE, 4, true, true},   /* GPIO configuration */
    {0x03, REP_FEATURE, 1, true, false},  /* GPIO get */
    {0x04, REP_FEATURE, 2, false, true},  /* GPIO set */
    {0x05, REP_FEATURE, 2, true, false},  /* version */
    {0x06, REP_FEATURE, 13, true, true},  /* SMBus configuration */
    {0x10, REP_OUTPUT, 3, false, false},  /* data read request */
    {0x11, REP_OUTPUT, 20, false, false}, /* data write-read request */
    {0x12, REP_OUTPUT, 2, false, false},  /* data read force send */
    {0x13, REP_INPUT, 63, false, false},  /* data read response */
    {0x14, REP_OUTPUT, 63, false, false}, /* data write */
    {0x15, REP_OUTPUT, 1, false, false},  /* transfer status request */
    {0x16, REP_INPUT, 6, false, false},   /* transfer status response */
    {0x17, REP_OUTPUT, 1, false, false},  /* cancel transfer */
    {0x20, REP_FEATURE, 1, true, true},   /* lock byte */
    {0x21, REP_FEATURE, 9, true, true},   /* USB configuration */
    {0x22, REP_FEATURE, 62, true, true},  /* manufacturer string */
    {0x23, REP_FEATURE, 62, true, true},  /* product string */
    {0x24, REP_FEATURE, 62, true, true},  /* serial string */
};
#define NREPORTS (sizeof reports / sizeof reports[0])

static const report_info *find_report(uint8_t id)
{
    for (size_t i = 0; i < NREPORTS; i++)
        if (reports[i].id == id)
            return &reports[i];
    return NULL;
}

static size_t put(uint8_t *buf, size_t cap, size_t off, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (off + i < cap)
            buf[off + i] = src[i];
    return off + n;
}

/* Our own report descriptor: one vendor collection, every report as bytes (logical 0..255, size 8). */
static size_t report_descriptor(uint8_t *buf, size_t cap)
{
    static const uint8_t head[] = {
        0x06, 0x00, 0xff, /* Usage Page (vendor 0xff00) */
        0x09, 0x01,       /* Usage (1) */
        0xa1, 0x01,       /* Collection (Application) */
        0x15, 0x00,       /* Logical Minimum (0) */
        0x26, 0xff, 0x00, /* Logical Maximum (255) */
        0x75, 0x08,       /* Report Size (8) */
    };
    static const uint8_t main_item[] = {0, 0x81, 0x91, 0xb1}; /* Input, Output, Feature */
    size_t off = put(buf, cap, 0, head, sizeof head);
    for (size_t i = 0; i < NREPORTS; i++) {
        const report_info *r = &reports[i];
        const uint8_t item[] = {0x85, r->id, 0x09, 0x01, 0x95, r->size, main_item[r->type], 0x02}; /* Data,Var,Abs */
        off = put(buf, cap, off, item, sizeof item);
    }
    const uint8_t end = 0xc0; /* End Collection */
    return put(buf, cap, off, &end, 1);
}

#define CONFIG_LEN (9 + 9 + 9 + 7 + 7)

static void hid_descriptor(uint8_t out[9])
{
    uint16_t rlen = (uint16_t)report_descriptor(NULL, 0);
    const uint8_t d[9] = {9, 0x21, 0x11, 0x01, 0, 1, 0x22, (uint8_t)rlen, (uint8_t)(rlen >> 8)}; /* HID 1.11 */
    memcpy(out, d, sizeof d);
}

int sim_cp2112_config_descriptor(uint8_t *buf, size_t cap)
{
    const uint8_t cfg[9] = {9, 2, CONFIG_LEN, 0, 1, 1, 0, 0x80, 50}; /* bus powered, 100 mA */
    const uint8_t itf[9] = {9, 4, 0, 0, 2, 0x03, 0, 0, 0};           /* HID, no boot protocol */
    uint8_t hid[9];
    hid_descriptor(hid);
    const uint8_t in[7] = {7, 5, SIM_CP2112_EP_IN, 3, SIM_CP2112_MAX_PACKET, 0, 1}; /* interrupt, 1 ms */
    const uint8_t out[7] = {7, 5, SIM_CP2112_EP_OUT, 3, SIM_CP2112_MAX_PACKET, 0, 1};
    size_t off = put(buf, cap, 0, cfg, sizeof cfg);
    off = put(buf, cap, off, itf, sizeof itf);
    off = put(buf, cap, off, hid, sizeof hid);
    off = put(buf, cap, off, in, sizeof in);
    off = put(buf, cap, off, out, sizeof out);
    return (int)(off < cap ? off : cap);
}

static size_t string_descriptor(const sim_cp2112 *c, uint8_t index, uint8_t *d, size_t cap)
{
    const char *s = index == IDX_MANUFACTURER ? MANUFACTURER
                    : index == IDX_PRODUCT    ? PRODUCT
                    : index == IDX_SERIAL     ? c->serial
                                              : NULL;
    size_t n = 2;
    if (!s)
        return 0;
    for (; *s && n + 2 <= cap; s++) {
        d[n++] = (uint8_t)*s;
        d[n++] = 0;
    }
    d[0] = (uint8_t)n;
    d[1] = 3;
    return n;
}

void sim_cp2112_init(sim_cp2112 *c, const char *serial)
{
    memset(c, 0, sizeof *c);
    snprintf(c->serial, sizeof c->serial, "%s", serial ? serial : "0001");
    c->latch = 0xff;
    /* SMBus defaults: 100 kHz, address 0x02, no auto send read, no timeouts, no retry limit */
    static const uint8_t smbus[13] = {0x00, 0x01, 0x86, 0xa0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(c->smbus, smbus, sizeof smbus);
}

void sim_cp2112_usb_reset(sim_cp2112 *c)
{
    c->configured = false;
}

uint8_t sim_cp2112_levels(const sim_cp2112 *c)
{
    return (uint8_t) ~(c->direction & (uint8_t)~c->latch);
}

/* A PROM string report: length (bytes after the ID, minus itself), type 3, UTF-16LE. */
static void string_report(const char *s, uint8_t *r, size_t size)
{
    size_t n = 0;
    memset(r, 0, size);
    for (; *s && 2 + 2 * n + 2 <= size; s++, n++)
        r[2 + 2 * n] = (uint8_t)*s;
    r[0] = (uint8_t)(2 + 2 * n);
    r[1] = 3;
}

/* GET_REPORT(feature id): the report's data bytes after the ID into r (size bytes). */
static void get_feature(const sim_cp2112 *c, uint8_t id, uint8_t *r, size_t size)
{
    memset(r, 0, size);
    switch (id) {
    case 0x02:
        r[0] = c->direction;
        r[1] = c->push_pull;
        r[2] = c->special;
        r[3] = c->clock_div;
        break;
    case 0x03: r[0] = sim_cp2112_levels(c); break;
    case 0x05:
        r[0] = PART_NUMBER;
        r[1] = DEVICE_VERSION;
        break;
    case 0x06: memcpy(r, c->smbus, sizeof c->smbus); break;
    case 0x20: r[0] = 0x00; break; /* every PROM field programmed: writes are ignored */
    case 0x21: {
        const uint8_t u[9] = {
            SIM_CP2112_VID & 0xff, SIM_CP2112_VID >> 8, SIM_CP2112_PID & 0xff, SIM_CP2112_PID >> 8, 50, 0, 1, 0, 0};
        memcpy(r, u, sizeof u);
        break;
    }
    case 0x22: string_report(MANUFACTURER, r, size); break;
    case 0x23: string_report(PRODUCT, r, size); break;
    case 0x24: string_report(c->serial, r, size); break;
    default: break;
    }
}

static void set_feature(sim_cp2112 *c, uint8_t id, const uint8_t *r)
{
    switch (id) {
    case 0x01: { /* reset: back to the power-on state (the chip re-enumerates; the bus side is the frontend's) */
        sim_cp2112 keep = *c;
        sim_cp2112_init(c, keep.serial);
        c->configured = keep.configured;
        c->get_reports = keep.get_reports;
        c->set_reports = keep.set_reports;
        c->refused = keep.refused;
        c->gpio_sets = keep.gpio_sets;
        break;
    }
    case 0x02:
        c->direction = r[0];
        c->push_pull = r[1];
        c->special = r[2];
        c->clock_div = r[3];
        c->gpio_sets++;
        break;
    case 0x04:
        c->latch = (uint8_t)((c->latch & ~r[1]) | (r[0] & r[1]));
        c->gpio_sets++;
        break;
    case 0x06: memcpy(c->smbus, r, sizeof c->smbus); break;
    default: break; /* the PROM (0x20-0x24) is locked: the write is taken and ignored, as by the chip */
    }
}

/* HID class requests on interface 0. */
static sim_status class_request(sim_cp2112 *c, const uint8_t *setup, uint8_t *data, size_t *in_len)
{
    uint8_t req = setup[1], id = setup[2], type = setup[3];
    uint16_t wLength = (uint16_t)(setup[6] | setup[7] << 8);
    bool in = (setup[0] & 0x80) != 0;
    if ((setup[0] & 0x1f) != 1 || setup[4] != 0 || setup[5] != 0)
        return SIM_STALL; /* interface 0 only */
    const report_info *r = find_report(id);
    switch (req) {
    case 0x01: /* GET_REPORT */
        if (!in || !r || r->type != type || type != REP_FEATURE || !r->get)
            break;
        uint8_t rep[64];
        rep[0] = id;
        get_feature(c, id, rep + 1, r->size);
        *in_len = (size_t)r->size + 1 < wLength ? (size_t)r->size + 1 : wLength;
        memcpy(data, rep, *in_len);
        c->get_reports++;
        return SIM_OK;
    case 0x09: /* SET_REPORT: the whole report, its ID first */
        if (in || !r || r->type != type || type != REP_FEATURE || !r->set || wLength != r->size + 1 || data[0] != id)
            break;
        set_feature(c, id, data + 1);
        c->set_reports++;
        return SIM_OK;
    case 0x02: /* GET_IDLE */
        if (!in || wLength < 1)
            break;
        data[0] = c->idle_rate;
        *in_len = 1;
        return SIM_OK;
    case 0x0a: /* SET_IDLE */
        if (in)
            break;
        c->idle_rate = setup[3];
        return SIM_OK;
    default: break; /* GET/SET_PROTOCOL: not a boot device */
    }
    c->refused++;
    return SIM_STALL;
}

static sim_status reply(const uint8_t *src, size_t n, uint16_t wLength, uint8_t *data, size_t *in_len)
{
    *in_len = n < wLength ? n : wLength;
    memcpy(data, src, *in_len);
    return SIM_OK;
}

static sim_status get_descriptor(sim_cp2112 *c, const uint8_t *setup, uint8_t *data, size_t *in_len)
{
    uint8_t type = setup[3], index = setup[2], recipient = setup[0] & 0x1f;
    uint16_t wLength = (uint16_t)(setup[6] | setup[7] << 8);
    uint8_t d[256];
    size_t n = 0;
    if (recipient == 1) { /* interface: the HID class descriptors */
        if (setup[4] != 0 || index != 0)
            return SIM_STALL;
        if (type == 0x21) {
            hid_descriptor(d);
            n = 9;
        } else if (type == 0x22) {
            n = report_descriptor(d, sizeof d);
        } else {
            return SIM_STALL;
        }
        return reply(d, n, wLength, data, in_len);
    }
    if (recipient != 0)
        return SIM_STALL;
    if (type == 1) {
        const uint8_t dev[18] = {18,
                                 1,
                                 0x00,
                                 0x02,
                                 0,
                                 0,
                                 0,
                                 64,
                                 SIM_CP2112_VID & 0xff,
                                 SIM_CP2112_VID >> 8,
                                 SIM_CP2112_PID & 0xff,
                                 SIM_CP2112_PID >> 8,
                                 0x00,
                                 0x01,
                                 IDX_MANUFACTURER,
                                 IDX_PRODUCT,
                                 IDX_SERIAL,
                                 1};
        return reply(dev, sizeof dev, wLength, data, in_len);
    }
    if (type == 2 && index == 0)
        n = (size_t)sim_cp2112_config_descriptor(d, sizeof d);
    else if (type == 3 && index == 0) {
        const uint8_t langs[4] = {4, 3, 0x09, 0x04};
        return reply(langs, sizeof langs, wLength, data, in_len);
    } else if (type == 3)
        n = string_descriptor(c, index, d, sizeof d);
    if (n == 0)
        return SIM_STALL; /* no qualifier: a full-speed-only device */
    return reply(d, n, wLength, data, in_len);
}

sim_status sim_cp2112_control(sim_cp2112 *c, const uint8_t setup[8], uint8_t *data, size_t *in_len)
{
    size_t dummy;
    if (!in_len)
        in_len = &dummy;
    *in_len = 0;
    uint8_t kind = (setup[0] >> 5) & 3, req = setup[1];
    uint16_t wValue = (uint16_t)(setup[2] | setup[3] << 8);
    uint16_t wLength = (uint16_t)(setup[6] | setup[7] << 8);
    bool in = (setup[0] & 0x80) != 0;
    if (kind == 1)
        return class_request(c, setup, data, in_len);
    if (kind != 0)
        return SIM_STALL;
    uint8_t two[2] = {0, 0};
    switch (req) {
    case 6: return in ? get_descriptor(c, setup, data, in_len) : SIM_STALL;
    case 9: /* SET_CONFIGURATION */
        if (in || wValue > 1)
            return SIM_STALL;
        c->configured = wValue == 1;
        return SIM_OK;
    case 8: /* GET_CONFIGURATION */
        two[0] = c->configured ? 1 : 0;
        return in ? reply(two, 1, wLength, data, in_len) : SIM_STALL;
    case 0: return in ? reply(two, 2, wLength, data, in_len) : SIM_STALL;  /* GET_STATUS */
    case 10: return in ? reply(two, 1, wLength, data, in_len) : SIM_STALL; /* GET_INTERFACE */
    case 11: return !in && wValue == 0 ? SIM_OK : SIM_STALL;               /* SET_INTERFACE: alt 0 only */
    case 1:
    case 3:
    case 5: return in ? SIM_STALL : SIM_OK; /* CLEAR/SET_FEATURE, SET_ADDRESS */
    default: return SIM_STALL;
    }
}
