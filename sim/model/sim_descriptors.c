/* USB descriptors of each emulated stage (protocol.md sections 1, 9, 10), including the BCM2711 and BCM2837 quirks. */
#include "sim_descriptors.h"

#include <stdio.h>
#include <string.h>

#define VID 0x0a5c
#define IDX_MANUFACTURER 1
#define IDX_PRODUCT 2
#define IDX_SERIAL 3
#define IDX_FASTBOOT_INTERFACE 4
#define IDX_NORMAL_MAC 5 /* the ECM function's iMACAddress */

static const uint16_t rom_pids[CMBOOT_SOC_COUNT] = {0x2763, 0x2764, 0x2711, 0x2712};
static const char *const rom_products[CMBOOT_SOC_COUNT] = {"BCM2708 Boot", "BCM2710 Boot", "BCM2711 Boot",
                                                           "BCM2712 Boot"};

static bool modern(const sim_config *cfg)
{
    return cfg->soc == CMBOOT_SOC_BCM2711 || cfg->soc == CMBOOT_SOC_BCM2712;
}

static bool fastboot(cmboot_stage stage)
{
    return stage == SIM_STAGE_FASTBOOT;
}

static bool normal(cmboot_stage stage)
{
    return stage == SIM_STAGE_NORMAL;
}

/* The BCM2835/2837 boot ROM runs its USB controller at full speed; every later stage is high speed. */
static bool full_speed(const sim_config *cfg, cmboot_stage stage)
{
    return stage == CMBOOT_STAGE_ROM && !modern(cfg);
}

static uint16_t stage_vid(cmboot_stage stage)
{
    if (normal(stage))
        return SIM_VID_NORMAL;
    return fastboot(stage) ? SIM_VID_FASTBOOT : VID;
}

static uint16_t stage_pid(const sim_config *cfg, cmboot_stage stage)
{
    if (fastboot(stage))
        return SIM_PID_FASTBOOT;
    if (normal(stage))
        return SIM_PID_NORMAL;
    return stage == CMBOOT_STAGE_MASS_STORAGE ? cfg->msd_pid : rom_pids[cfg->soc];
}

static uint16_t stage_bcd(cmboot_stage stage)
{
    if (normal(stage))
        return 0x0601; /* a gadget's bcdDevice is its kernel's version: Linux 6.1 */
    return stage == CMBOOT_STAGE_MASS_STORAGE || fastboot(stage) ? 0x0100 : 0x0000;
}

static const char *stage_product(const sim_config *cfg, cmboot_stage stage)
{
    if (fastboot(stage))
        return "Raspberry Pi fastboot";
    if (normal(stage))
        return "CDC Composite Gadget";
    if (stage != CMBOOT_STAGE_MASS_STORAGE)
        return rom_products[cfg->soc];
    return cfg->msd_pid == SIM_PID_MSD_GADGET ? "Raspberry Pi multi-function USB device" : "RPi-MSD- 0001";
}

static uint8_t serial_index(const sim_config *cfg, cmboot_stage stage)
{
    switch (stage) {
    case CMBOOT_STAGE_ROM: return modern(cfg) ? 3 : 0;
    case CMBOOT_STAGE_SECOND: return cfg->second_serial_index;
    default: return IDX_SERIAL;
    }
}

static bool two_interfaces(const sim_config *cfg, cmboot_stage stage)
{
    return stage == CMBOOT_STAGE_ROM && cfg->two_interfaces;
}

/* The normal gadget's MAC address string: locally administered, derived from the serial (12 hex digits). */
static void normal_mac(const sim_config *cfg, char out[13])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *s = cfg->serial; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    snprintf(out, 13, "0252%08x", (unsigned)h);
}

/* String at an index of the current stage, NULL when there is none. */
static const char *string_at(const sim_config *cfg, cmboot_stage stage, uint8_t index, char mac[13])
{
    bool later = stage == CMBOOT_STAGE_MASS_STORAGE || fastboot(stage) || normal(stage);
    if (index == IDX_MANUFACTURER)
        return later ? "Raspberry Pi" : "Broadcom";
    if (index == IDX_PRODUCT)
        return stage_product(cfg, stage);
    if (fastboot(stage) && index == IDX_FASTBOOT_INTERFACE)
        return "fastbootd-provisioner";
    if (normal(stage) && index == IDX_NORMAL_MAC) {
        normal_mac(cfg, mac);
        return mac;
    }
    if (index == serial_index(cfg, stage) &&
        (later || stage == CMBOOT_STAGE_SECOND || (stage == CMBOOT_STAGE_ROM && modern(cfg))))
        return cfg->serial;
    return NULL;
}

static size_t put(uint8_t *buf, size_t cap, size_t off, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (off + i < cap)
            buf[off + i] = src[i];
    return off + n;
}

typedef struct iface_desc {
    uint8_t number, cls, sub, proto, string, ep_out, ep_in;
} iface_desc;

static size_t put_interface(uint8_t *buf, size_t cap, size_t off, const iface_desc *d, uint16_t mps)
{
    const uint8_t itf[9] = {9, 4, d->number, 0, 2, d->cls, d->sub, d->proto, d->string};
    const uint8_t out[7] = {7, 5, d->ep_out, 2, (uint8_t)mps, (uint8_t)(mps >> 8), 0};
    const uint8_t in[7] = {7, 5, d->ep_in, 2, (uint8_t)mps, (uint8_t)(mps >> 8), 0};
    off = put(buf, cap, off, itf, sizeof itf);
    off = put(buf, cap, off, out, sizeof out);
    return put(buf, cap, off, in, sizeof in);
}

/* Interfaces of the current stage; returns how many. */
static unsigned stage_interfaces(const sim_config *cfg, cmboot_stage stage, iface_desc out[2])
{
    if (stage == CMBOOT_STAGE_MASS_STORAGE) {
        out[0] = (iface_desc){0, 0x08, 0x06, 0x50, 0, 0x01, 0x82}; /* as msc_bot on the bench */
        return 1;
    }
    if (fastboot(stage)) {
        out[0] = (iface_desc){0, 0xff, 0x42, 0x03, IDX_FASTBOOT_INTERFACE, 0x01, 0x81};
        return 1;
    }
    if (two_interfaces(cfg, stage)) {
        out[0] = (iface_desc){0, 0x08, 0x06, 0x50, 0, 0x02, 0x81};
        out[1] = (iface_desc){1, 0xff, 0x00, 0x00, 0, 0x03, 0x84};
        return 2;
    }
    out[0] = (iface_desc){0, 0xff, 0x00, 0x00, 0, 0x01, 0x82};
    return 1;
}

/* The normal gadget, laid out like g_cdc: an ECM function (control interface 0 with its notification endpoint,
 * data interface 1 without endpoints in alt 0 and with two bulk endpoints in alt 1) and an ACM function
 * (interfaces 2 and 3), each behind an interface association. High speed. One array per descriptor, in order;
 * the configuration's wTotalLength is filled in when built. */
static const uint8_t n_config[] = {9, 2, 0, 0, 4, 1, 0, 0x80, 250};
static const uint8_t n_iad_ecm[] = {8, 0x0b, 0, 2, 0x02, 0x06, 0, 0};
static const uint8_t n_ecm_control[] = {9, 4, 0, 0, 1, 0x02, 0x06, 0, 0};
static const uint8_t n_ecm_header[] = {5, 0x24, 0x00, 0x10, 0x01}; /* CDC 1.10 */
static const uint8_t n_ecm_union[] = {5, 0x24, 0x06, 0, 1};
/* ethernet networking: iMACAddress, no statistics, max segment 1514, no filters */
static const uint8_t n_ecm_ethernet[] = {13, 0x24, 0x0f, IDX_NORMAL_MAC, 0, 0, 0, 0, 0xea, 0x05, 0, 0, 0};
static const uint8_t n_ecm_notify[] = {7, 5, 0x81, 3, 16, 0, 9};
static const uint8_t n_ecm_data_alt0[] = {9, 4, 1, 0, 0, 0x0a, 0, 0, 0};
static const uint8_t n_ecm_data_alt1[] = {9, 4, 1, 1, 2, 0x0a, 0, 0, 0};
static const uint8_t n_ecm_in[] = {7, 5, 0x82, 2, 0x00, 0x02, 0};
static const uint8_t n_ecm_out[] = {7, 5, 0x01, 2, 0x00, 0x02, 0};
static const uint8_t n_iad_acm[] = {8, 0x0b, 2, 2, 0x02, 0x02, 0x01, 0};
static const uint8_t n_acm_control[] = {9, 4, 2, 0, 1, 0x02, 0x02, 0x01, 0}; /* AT commands */
static const uint8_t n_acm_header[] = {5, 0x24, 0x00, 0x10, 0x01};
static const uint8_t n_acm_call[] = {5, 0x24, 0x01, 0x00, 3}; /* call management: data on interface 3 */
static const uint8_t n_acm_acm[] = {4, 0x24, 0x02, 0x02};     /* line coding and serial state */
static const uint8_t n_acm_union[] = {5, 0x24, 0x06, 2, 3};
static const uint8_t n_acm_notify[] = {7, 5, 0x83, 3, 10, 0, 9};
static const uint8_t n_acm_data[] = {9, 4, 3, 0, 2, 0x0a, 0, 0, 0};
static const uint8_t n_acm_in[] = {7, 5, 0x84, 2, 0x00, 0x02, 0};
static const uint8_t n_acm_out[] = {7, 5, 0x02, 2, 0x00, 0x02, 0};
static const uint8_t *const normal_config[] = {
    n_config,        n_iad_ecm,       n_ecm_control, n_ecm_header, n_ecm_union, n_ecm_ethernet, n_ecm_notify,
    n_ecm_data_alt0, n_ecm_data_alt1, n_ecm_in,      n_ecm_out,    n_iad_acm,   n_acm_control,  n_acm_header,
    n_acm_call,      n_acm_acm,       n_acm_union,   n_acm_notify, n_acm_data,  n_acm_in,       n_acm_out,
};
#define NORMAL_PARTS (sizeof normal_config / sizeof normal_config[0])

static int build_normal_config(uint8_t *buf, size_t cap)
{
    size_t off = 0;
    for (size_t i = 0; i < NORMAL_PARTS; i++)
        off = put(buf, cap, off, normal_config[i], normal_config[i][0]);
    const uint8_t total[2] = {(uint8_t)off, (uint8_t)(off >> 8)};
    put(buf, cap, 2, total, sizeof total);
    return (int)(off < cap ? off : cap);
}

static int build_config(const sim_config *cfg, cmboot_stage stage, uint8_t *buf, size_t cap, bool quirk)
{
    if (normal(stage))
        return build_normal_config(buf, cap);
    iface_desc itf[2];
    unsigned n = stage_interfaces(cfg, stage, itf);
    uint16_t mps = full_speed(cfg, stage) ? 64 : 512;
    size_t off = 9;
    for (unsigned i = 0; i < n; i++)
        off = put_interface(buf, cap, off, &itf[i], mps);
    size_t total = off;
    /* The quirk: the first read claims two interfaces (55 bytes); what follows, and every later read, is the
     * real descriptor. */
    uint16_t claimed = quirk ? 55 : (uint16_t)total;
    const uint8_t hdr[9] = {9, 2, (uint8_t)claimed, (uint8_t)(claimed >> 8), quirk ? 2 : (uint8_t)n, 1, 0, 0x80, 250};
    put(buf, cap, 0, hdr, sizeof hdr);
    return (int)(total < cap ? total : cap);
}

int sim_desc_settled_config(const sim_config *cfg, cmboot_stage stage, uint8_t *buf, size_t cap)
{
    return build_config(cfg, stage, buf, cap, false);
}

uint8_t sim_desc_bulk_out_ep(const sim_config *cfg, cmboot_stage stage)
{
    return two_interfaces(cfg, stage) ? 0x03 : 0x01;
}

bool sim_desc_has_endpoint(const sim_config *cfg, cmboot_stage stage, uint8_t ep)
{
    if (normal(stage)) {
        for (size_t i = 0; i < NORMAL_PARTS; i++)
            if (normal_config[i][1] == 5 && normal_config[i][2] == ep)
                return true;
        return false;
    }
    iface_desc itf[2];
    unsigned n = stage_interfaces(cfg, stage, itf);
    for (unsigned i = 0; i < n; i++)
        if (itf[i].ep_out == ep || itf[i].ep_in == ep)
            return true;
    return false;
}

static int string_descriptor(const sim_config *cfg, cmboot_stage stage, uint8_t index, uint8_t *buf, size_t cap)
{
    uint8_t d[2 + 2 * 126];
    size_t n;
    if (index == 0) {
        d[2] = 0x09; /* en-US */
        d[3] = 0x04;
        n = 4;
    } else {
        char mac[13];
        const char *s = string_at(cfg, stage, index, mac);
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

int sim_desc_build(const sim_config *cfg, cmboot_stage stage, unsigned *config_reads, uint8_t type, uint8_t index,
                   uint8_t *buf, size_t cap)
{
    if (type == 1) {
        uint16_t vid = stage_vid(stage), pid = stage_pid(cfg, stage), bcd = stage_bcd(stage);
        bool iad = normal(stage); /* a composite with interface associations: class EF/02/01 */
        const uint8_t d[18] = {18,
                               1,
                               0x00,
                               0x02,
                               iad ? 0xef : 0,
                               iad ? 0x02 : 0,
                               iad ? 0x01 : 0,
                               64,
                               (uint8_t)vid,
                               (uint8_t)(vid >> 8),
                               (uint8_t)pid,
                               (uint8_t)(pid >> 8),
                               (uint8_t)bcd,
                               (uint8_t)(bcd >> 8),
                               IDX_MANUFACTURER,
                               IDX_PRODUCT,
                               serial_index(cfg, stage),
                               1};
        size_t m = sizeof d < cap ? sizeof d : cap;
        memcpy(buf, d, m);
        return (int)m;
    }
    if (type == 2) {
        if (index != 0)
            return -1;
        bool first = (*config_reads)++ == 0;
        return build_config(cfg, stage, buf, cap, first && stage == CMBOOT_STAGE_ROM && cfg->config_quirk);
    }
    if (type == 3)
        return string_descriptor(cfg, stage, index, buf, cap);
    /* No device qualifier (6) or other-speed configuration (7): stalled, as by a device that is not
     * dual-speed (a host asks only a full-speed device, and then just notes the answer). */
    return -1;
}

void sim_desc_identity(const sim_config *cfg, cmboot_stage stage, sim_identity *out)
{
    memset(out, 0, sizeof *out);
    out->stage = stage;
    out->vid = stage_vid(stage);
    out->pid = stage_pid(cfg, stage);
    out->bcd_device = stage_bcd(stage);
    out->serial_index = serial_index(cfg, stage);
    out->full_speed = full_speed(cfg, stage);
    out->bulk_max_packet = full_speed(cfg, stage) ? 64 : 512;
    out->num_interfaces = normal(stage) ? 4 : two_interfaces(cfg, stage) ? 2 : 1;
    out->vendor_interface = two_interfaces(cfg, stage) ? 1 : 0;
    out->bulk_out_ep = sim_desc_bulk_out_ep(cfg, stage);
    char mac[13];
    const char *s = out->serial_index ? string_at(cfg, stage, out->serial_index, mac) : NULL;
    snprintf(out->serial, sizeof out->serial, "%s", s ? s : "");
    snprintf(out->product, sizeof out->product, "%s", stage_product(cfg, stage));
}
