/* USB descriptors of each emulated stage (protocol.md section 1), including the BCM2711 and BCM2837 quirks. */
#include "sim_internal.h"

#include <string.h>

#define VID 0x0a5c
#define IDX_MANUFACTURER 1
#define IDX_PRODUCT 2
#define IDX_SERIAL 3

static const uint16_t rom_pids[CMBOOT_SOC_COUNT] = {0x2763, 0x2764, 0x2711, 0x2712};
static const char *const rom_products[CMBOOT_SOC_COUNT] = {"BCM2708 Boot", "BCM2710 Boot", "BCM2711 Boot",
                                                           "BCM2712 Boot"};

static bool modern(const sim_device *dev)
{
    return dev->cfg.soc == CMBOOT_SOC_BCM2711 || dev->cfg.soc == CMBOOT_SOC_BCM2712;
}

static uint16_t stage_pid(const sim_device *dev)
{
    return dev->stage == CMBOOT_STAGE_MASS_STORAGE ? dev->cfg.msd_pid : rom_pids[dev->cfg.soc];
}

static const char *stage_product(const sim_device *dev)
{
    if (dev->stage != CMBOOT_STAGE_MASS_STORAGE)
        return rom_products[dev->cfg.soc];
    return dev->cfg.msd_pid == SIM_PID_MSD_GADGET ? "Raspberry Pi multi-function USB device" : "RPi-MSD- 0001";
}

static uint8_t serial_index(const sim_device *dev)
{
    switch (dev->stage) {
    case CMBOOT_STAGE_ROM: return modern(dev) ? 3 : 0;
    case CMBOOT_STAGE_SECOND: return 1;
    default: return IDX_SERIAL;
    }
}

static bool two_interfaces(const sim_device *dev)
{
    return dev->stage == CMBOOT_STAGE_ROM && dev->cfg.two_interfaces;
}

/* String at an index of the current stage, NULL when there is none. */
static const char *string_at(const sim_device *dev, uint8_t index)
{
    switch (index) {
    case IDX_MANUFACTURER:
        return dev->stage == CMBOOT_STAGE_MASS_STORAGE ? "Raspberry Pi" : "Broadcom";
    case IDX_PRODUCT:
        return stage_product(dev);
    case IDX_SERIAL:
        if (dev->stage == CMBOOT_STAGE_MASS_STORAGE || (dev->stage == CMBOOT_STAGE_ROM && modern(dev)))
            return dev->cfg.serial;
        return NULL;
    default:
        return NULL;
    }
}

static size_t put(uint8_t *buf, size_t cap, size_t off, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (off + i < cap)
            buf[off + i] = src[i];
    return off + n;
}

static size_t put_interface(uint8_t *buf, size_t cap, size_t off, uint8_t number, uint8_t cls, uint8_t sub,
                            uint8_t proto, uint8_t ep_out, uint8_t ep_in)
{
    const uint8_t itf[9] = {9, 4, number, 0, 2, cls, sub, proto, 0};
    const uint8_t out[7] = {7, 5, ep_out, 2, 0x00, 0x02, 0};
    const uint8_t in[7] = {7, 5, ep_in, 2, 0x00, 0x02, 0};
    off = put(buf, cap, off, itf, sizeof itf);
    off = put(buf, cap, off, out, sizeof out);
    return put(buf, cap, off, in, sizeof in);
}

static int config_descriptor(sim_device *dev, uint8_t *buf, size_t cap)
{
    bool first = dev->config_reads++ == 0;
    bool two = two_interfaces(dev);
    size_t off = 9;
    if (dev->stage == CMBOOT_STAGE_MASS_STORAGE) {
        off = put_interface(buf, cap, off, 0, 0x08, 0x06, 0x50, 0x01, 0x81);
    } else if (two) {
        off = put_interface(buf, cap, off, 0, 0x08, 0x06, 0x50, 0x02, 0x81);
        off = put_interface(buf, cap, off, 1, 0xff, 0x00, 0x00, 0x03, 0x84);
    } else {
        off = put_interface(buf, cap, off, 0, 0xff, 0x00, 0x00, 0x01, 0x82);
    }
    size_t total = off;
    uint8_t num = two ? 2 : 1;
    /* BCM2711 ROM: the first read claims two interfaces (55 bytes); what follows, and every later read,
     * is the real one-interface descriptor of 32 bytes. */
    bool quirk = first && dev->stage == CMBOOT_STAGE_ROM && dev->cfg.config_quirk;
    uint16_t claimed = quirk ? 55 : (uint16_t)total;
    const uint8_t hdr[9] = {9, 2, (uint8_t)claimed, (uint8_t)(claimed >> 8), quirk ? 2 : num, 1, 0, 0x80, 250};
    put(buf, cap, 0, hdr, sizeof hdr);
    return (int)(total < cap ? total : cap);
}

static int string_descriptor(const sim_device *dev, uint8_t index, uint8_t *buf, size_t cap)
{
    uint8_t d[2 + 2 * 126];
    size_t n;
    if (index == 0) {
        d[2] = 0x09; /* en-US */
        d[3] = 0x04;
        n = 4;
    } else {
        const char *s = string_at(dev, index);
        if (!s)
            return -1;
        n = 2;
        for (; *s && n + 2 <= sizeof d; s++) {
            d[n++] = (uint8_t)*s;
            d[n++] = 0;
        }
    }
    d[0] = (uint8_t)n;
    d[1] = 3;
    size_t m = n < cap ? n : cap;
    memcpy(buf, d, m);
    return (int)m;
}

int sim_desc_build(sim_device *dev, uint8_t type, uint8_t index, uint8_t *buf, size_t cap)
{
    if (type == 1) {
        uint16_t pid = stage_pid(dev);
        uint16_t bcd = dev->stage == CMBOOT_STAGE_MASS_STORAGE ? 0x0100 : 0x0000;
        const uint8_t d[18] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, VID & 0xff, VID >> 8, (uint8_t)pid,
                               (uint8_t)(pid >> 8), (uint8_t)bcd, (uint8_t)(bcd >> 8), IDX_MANUFACTURER,
                               IDX_PRODUCT, serial_index(dev), 1};
        size_t m = sizeof d < cap ? sizeof d : cap;
        memcpy(buf, d, m);
        return (int)m;
    }
    if (type == 2) {
        if (index != 0)
            return -1;
        return config_descriptor(dev, buf, cap);
    }
    if (type == 3)
        return string_descriptor(dev, index, buf, cap);
    return -1;
}

void sim_desc_identity(const sim_device *dev, sim_identity *out)
{
    memset(out, 0, sizeof *out);
    out->stage = dev->connected ? dev->stage : CMBOOT_STAGE_UNKNOWN;
    if (!dev->connected)
        return;
    out->vid = VID;
    out->pid = stage_pid(dev);
    out->bcd_device = dev->stage == CMBOOT_STAGE_MASS_STORAGE ? 0x0100 : 0x0000;
    out->serial_index = serial_index(dev);
    out->num_interfaces = two_interfaces(dev) ? 2 : 1;
    out->vendor_interface = two_interfaces(dev) ? 1 : 0;
    out->bulk_out_ep = sim_bulk_out_ep(dev);
    const char *s = out->serial_index ? string_at(dev, out->serial_index) : NULL;
    snprintf(out->serial, sizeof out->serial, "%s", s ? s : "");
    snprintf(out->product, sizeof out->product, "%s", stage_product(dev));
}
