/* Device model core: configuration, bus events and scheduling, control dispatch, log and result. */
#include "sim_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cmboot/error.h"
#include "cmboot/protocol.h"

void sim_config_default(sim_config *cfg, cmboot_soc_id soc)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->soc = soc;
    cfg->config_quirk = soc == CMBOOT_SOC_BCM2711;
    snprintf(cfg->serial, sizeof cfg->serial, "%s", soc == CMBOOT_SOC_BCM2712 ? "a1b2c3d4" : "af04b2da");
    cfg->start_stage = CMBOOT_STAGE_ROM;
    cfg->rom_reject_status = 1;
    cfg->expect_second_stage_size = -1;
    cfg->disconnect_delay_ms = 5;
    cfg->reenum_delay_ms = 20;
    cfg->rom_to_second_ms = -1;
    cfg->done_to_next_ms = -1;
    cfg->done_ack_timeout_ms = 1000;
    cfg->second_serial_index = (soc == CMBOOT_SOC_BCM2711 || soc == CMBOOT_SOC_BCM2712) ? 4 : 1;
    cfg->after_done = SIM_AFTER_MASS_STORAGE;
    cfg->msd_pid = (soc == CMBOOT_SOC_BCM2711 || soc == CMBOOT_SOC_BCM2712) ? SIM_PID_MSD_GADGET
                                                                            : SIM_PID_MSD_LEGACY;
}

const char *sim_stage_name(cmboot_stage stage)
{
    return stage == SIM_STAGE_FASTBOOT ? "fastboot" : cmboot_stage_name(stage);
}

static void push_event(sim_device *dev, sim_event_type type, cmboot_stage stage)
{
    if (dev->evq_count == SIM_EVQ) /* cannot happen: at most a disconnect and a connect are pending */
        return;
    sim_event *e = &dev->evq[(dev->evq_head + dev->evq_count) % SIM_EVQ];
    e->type = type;
    e->stage = stage;
    dev->evq_count++;
}

static void enter_stage(sim_device *dev, cmboot_stage stage)
{
    dev->connected = true;
    dev->stage = stage;
    dev->config_reads = 0;
    dev->configured = false;
    dev->config_ready_at = -1;
    dev->halted = 0;
    dev->disconnect_at = dev->connect_at = SIM_NEVER;
    dev->res.enumerations++;
    sim_rom_reset(dev);
    sim_fs_reset(dev);
    sim_log(dev, "connect %s", sim_stage_name(stage));
    push_event(dev, SIM_EV_CONNECT, stage);
}

int sim_device_new(const sim_config *cfg, sim_device **out)
{
    *out = NULL;
    if (!cfg || (int)cfg->soc < 0 || cfg->soc >= CMBOOT_SOC_COUNT)
        return CMBOOT_ERR_INVALID_ARG;
    if (cfg->start_stage != CMBOOT_STAGE_ROM && cfg->start_stage != CMBOOT_STAGE_SECOND &&
        cfg->start_stage != CMBOOT_STAGE_MASS_STORAGE)
        return CMBOOT_ERR_INVALID_ARG;
    if (cfg->two_interfaces && cfg->soc != CMBOOT_SOC_BCM2837)
        return CMBOOT_ERR_INVALID_ARG;
    /* 0 and 3 mean "boot ROM" to every host */
    if (cfg->second_serial_index == 0 || cfg->second_serial_index == 3)
        return CMBOOT_ERR_INVALID_ARG;
    if (cfg->rom_to_second_ms < -1 || cfg->done_to_next_ms < -1 || (unsigned)cfg->after_done > SIM_AFTER_ROM)
        return CMBOOT_ERR_INVALID_ARG;
    sim_device *dev = calloc(1, sizeof *dev);
    if (!dev)
        return CMBOOT_ERR_NO_MEMORY;
    dev->cfg = *cfg;
    dev->cfg.serial[SIM_SERIAL_MAX - 1] = 0;
    int rc = cfg->script ? sim_script_copy(&dev->script, cfg->script) : sim_script_default(&dev->script, cfg->soc);
    if (rc == CMBOOT_OK && cfg->save_dir) {
        dev->save_dir = strdup(cfg->save_dir);
        if (!dev->save_dir)
            rc = CMBOOT_ERR_NO_MEMORY;
    }
    dev->cfg.script = NULL;
    dev->cfg.save_dir = dev->save_dir;
    if (cfg->expect_signature) {
        memcpy(dev->expect_sig, cfg->expect_signature, sizeof dev->expect_sig);
        dev->has_expect_sig = true;
    }
    dev->cfg.expect_signature = NULL;
    dev->sha = EVP_MD_CTX_new();
    if (rc == CMBOOT_OK && !dev->sha)
        rc = CMBOOT_ERR_NO_MEMORY;
    if (rc != CMBOOT_OK) {
        sim_device_free(dev);
        return rc;
    }
    enter_stage(dev, cfg->start_stage);
    *out = dev;
    return CMBOOT_OK;
}

void sim_device_free(sim_device *dev)
{
    if (!dev)
        return;
    sim_fs_close_file(dev);
    EVP_MD_CTX_free(dev->sha);
    sim_script_free(&dev->script);
    free(dev->save_dir);
    free(dev->files);
    for (size_t i = 0; i < dev->nlog; i++)
        free(dev->log[i]);
    free(dev->log);
    free(dev);
}

void sim_log(sim_device *dev, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (dev->nlog >= SIM_LOG_MAX)
        return;
    if (dev->nlog == dev->log_cap) {
        size_t cap = dev->log_cap ? dev->log_cap * 2 : 64;
        char **n = realloc(dev->log, cap * sizeof *n);
        if (!n)
            return;
        dev->log = n;
        dev->log_cap = cap;
    }
    char *copy = strdup(dev->nlog + 1 == SIM_LOG_MAX ? "log truncated" : line);
    if (copy)
        dev->log[dev->nlog++] = copy;
}

void sim_fail(sim_device *dev, const char *fmt, ...)
{
    char msg[SIM_FAILURE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (dev->res.failures++ == 0)
        snprintf(dev->res.first_failure, sizeof dev->res.first_failure, "%s", msg);
    sim_log(dev, "FAIL %s", msg);
}

void sim_vanish(sim_device *dev, const char *why)
{
    sim_fs_close_file(dev);
    if (dev->connected)
        push_event(dev, SIM_EV_VANISH, dev->stage);
    dev->connected = false;
    dev->vanished = true;
    dev->stage = CMBOOT_STAGE_UNKNOWN;
    dev->disconnect_at = dev->connect_at = SIM_NEVER;
    sim_log(dev, "vanish (%s)", why);
}

void sim_schedule_stage_end(sim_device *dev, int64_t at, cmboot_stage next)
{
    dev->disconnect_at = at;
    dev->next_stage = next;
    dev->connect_at = SIM_NEVER;
}

uint8_t sim_bulk_out_ep(const sim_device *dev)
{
    return (dev->stage == CMBOOT_STAGE_ROM && dev->cfg.two_interfaces) ? 0x03 : 0x01;
}

static uint32_t ep_bit(uint8_t ep)
{
    return 1u << (((ep & 0x80) >> 3) | (ep & 0x0f));
}

void sim_halt(sim_device *dev, uint8_t ep)
{
    dev->halted |= ep_bit(ep);
}

cmboot_stage sim_after_done_stage(const sim_device *dev)
{
    switch (dev->cfg.after_done) {
    case SIM_AFTER_MASS_STORAGE: return CMBOOT_STAGE_MASS_STORAGE;
    case SIM_AFTER_FASTBOOT: return SIM_STAGE_FASTBOOT;
    case SIM_AFTER_ROM: return CMBOOT_STAGE_ROM;
    default: return CMBOOT_STAGE_UNKNOWN;
    }
}

/* Disconnect -> connect of the next stage: the ROM's hand-over to the second stage is quick, booting what
 * the second stage loaded (Linux for a gadget) is not. */
static unsigned reenum_ms(const sim_device *dev, cmboot_stage from, cmboot_stage to)
{
    int ms = from == CMBOOT_STAGE_ROM && to == CMBOOT_STAGE_SECOND ? dev->cfg.rom_to_second_ms
                                                                     : dev->cfg.done_to_next_ms;
    return ms >= 0 ? (unsigned)ms : dev->cfg.reenum_delay_ms;
}

void sim_device_poll(sim_device *dev, int64_t now_ms)
{
    if (now_ms > dev->now)
        dev->now = now_ms;
    if (dev->vanished)
        return;
    if (dev->connected && dev->stage == CMBOOT_STAGE_SECOND)
        sim_fs_poll(dev, now_ms);
    if (dev->connected && now_ms >= dev->disconnect_at) {
        int64_t at = dev->disconnect_at;
        if (dev->next_stage == CMBOOT_STAGE_UNKNOWN) {
            sim_vanish(dev, "stage over, nothing follows");
            return;
        }
        sim_fs_close_file(dev);
        dev->connected = false;
        dev->disconnect_at = SIM_NEVER;
        dev->connect_at = at + reenum_ms(dev, dev->stage, dev->next_stage);
        sim_log(dev, "disconnect %s", sim_stage_name(dev->stage));
        push_event(dev, SIM_EV_DISCONNECT, dev->stage);
        dev->stage = CMBOOT_STAGE_UNKNOWN;
    }
    if (!dev->connected && now_ms >= dev->connect_at)
        enter_stage(dev, dev->next_stage);
    /* the late configuration counts from the first time seen after the connect */
    if (dev->connected && dev->config_ready_at < 0)
        dev->config_ready_at = dev->now + (dev->stage == CMBOOT_STAGE_ROM ? dev->cfg.set_config_delay_ms : 0);
}

int64_t sim_device_next_wakeup(const sim_device *dev)
{
    if (dev->vanished)
        return SIM_NEVER;
    int64_t w = dev->connected ? dev->disconnect_at : dev->connect_at;
    if (dev->connected && !dev->configured && dev->config_ready_at > dev->now && dev->config_ready_at < w)
        w = dev->config_ready_at;
    if (dev->connected && dev->stage == CMBOOT_STAGE_ROM) {
        int64_t r = sim_rom_wakeup(dev);
        w = r < w ? r : w;
    }
    if (dev->connected && dev->stage == CMBOOT_STAGE_SECOND) {
        int64_t f = sim_fs_wakeup(dev);
        w = f < w ? f : w;
    }
    return w;
}

bool sim_device_take_event(sim_device *dev, sim_event *ev)
{
    if (dev->evq_count == 0)
        return false;
    *ev = dev->evq[dev->evq_head];
    dev->evq_head = (dev->evq_head + 1) % SIM_EVQ;
    dev->evq_count--;
    return true;
}

bool sim_device_connected(const sim_device *dev)
{
    return dev->connected;
}

void sim_device_reset(sim_device *dev)
{
    /* back to the default state: the host configures again; the late configuration counts from the connect */
    dev->config_reads = 0;
    dev->configured = false;
    dev->halted = 0;
}

void sim_device_cancel(sim_device *dev, const uint8_t setup[8], int64_t now_ms)
{
    sim_device_poll(dev, now_ms);
    if (!dev->connected)
        return;
    sim_log(dev, "host cancelled control 0x%02x bRequest %u wLength %u", setup[0], setup[1],
            (unsigned)(setup[6] | setup[7] << 8));
    if (dev->stage == CMBOOT_STAGE_SECOND && setup[0] == 0xc0 && setup[1] == 0)
        sim_fs_cancel_read(dev);
}

int sim_device_settled_config(const sim_device *dev, uint8_t *buf, size_t cap)
{
    return sim_desc_settled_config(dev, buf, cap);
}

int sim_device_descriptor(sim_device *dev, uint8_t type, uint8_t index, uint8_t *buf, size_t cap)
{
    if (!dev->connected)
        return -1;
    return sim_desc_build(dev, type, index, buf, cap);
}

void sim_device_identity(const sim_device *dev, sim_identity *out)
{
    sim_desc_identity(dev, out);
}

/* Endpoint recipient: GET_STATUS and CLEAR/SET_FEATURE(ENDPOINT_HALT) on an endpoint of the configuration. */
static sim_status endpoint_request(sim_device *dev, const uint8_t *setup, uint8_t *data, size_t *in_len)
{
    uint8_t req = setup[1], ep = setup[4];
    uint16_t wValue = (uint16_t)(setup[2] | setup[3] << 8);
    uint16_t wLength = (uint16_t)(setup[6] | setup[7] << 8);
    bool in = (setup[0] & 0x80) != 0;
    bool ep0 = (ep & 0x7f) == 0;
    if (!ep0 && (!dev->configured || !sim_desc_has_endpoint(dev, ep)))
        return SIM_STALL; /* no such endpoint (yet) */
    switch (req) {
    case 0: { /* GET_STATUS: bit 0 = halted */
        if (!in)
            return SIM_STALL;
        uint8_t st[2] = {(dev->halted & ep_bit(ep)) ? 1 : 0, 0};
        size_t n = wLength < 2 ? wLength : 2;
        memcpy(data, st, n);
        *in_len = n;
        return SIM_OK;
    }
    case 1: /* CLEAR_FEATURE */
    case 3: /* SET_FEATURE */
        if (in || wValue != 0) /* ENDPOINT_HALT is the only endpoint feature */
            return SIM_STALL;
        if (ep0)
            return SIM_OK;
        if (req == 1) {
            if (dev->halted & ep_bit(ep))
                sim_log(dev, "CLEAR_FEATURE(ENDPOINT_HALT) 0x%02x: endpoint takes data again", ep);
            dev->halted &= ~ep_bit(ep);
        } else {
            sim_log(dev, "SET_FEATURE(ENDPOINT_HALT) 0x%02x", ep);
            sim_halt(dev, ep);
        }
        return SIM_OK;
    default:
        return SIM_STALL;
    }
}

/* Standard requests a USB stack sends during enumeration. */
static sim_status standard_request(sim_device *dev, const uint8_t *setup, uint8_t *data, size_t *in_len,
                                   int64_t now)
{
    uint8_t type = setup[0], req = setup[1];
    uint16_t wValue = (uint16_t)(setup[2] | setup[3] << 8);
    uint16_t wLength = (uint16_t)(setup[6] | setup[7] << 8);
    bool in = (type & 0x80) != 0;
    size_t n = 0;
    uint8_t tmp[2] = {0, 0};
    if ((type & 0x1f) == 2)
        return endpoint_request(dev, setup, data, in_len);
    switch (req) {
    case 6: { /* GET_DESCRIPTOR */
        if (!in)
            return SIM_STALL;
        int len = sim_desc_build(dev, (uint8_t)(wValue >> 8), (uint8_t)wValue, data, wLength);
        if (len < 0)
            return SIM_STALL;
        *in_len = (size_t)len;
        return SIM_OK;
    }
    case 0: /* GET_STATUS */
        n = 2;
        break;
    case 8: /* GET_CONFIGURATION */
        tmp[0] = dev->configured ? 1 : 0;
        n = 1;
        break;
    case 10: /* GET_INTERFACE */
        n = 1;
        break;
    case 9: /* SET_CONFIGURATION: late on some ROMs (the bus shows no interfaces until then) */
        if (in || wValue > 1)
            return SIM_STALL;
        if (wValue == 1 && !dev->configured && (dev->config_ready_at < 0 || now < dev->config_ready_at))
            return SIM_PENDING;
        if (dev->configured != (wValue == 1))
            sim_log(dev, "SET_CONFIGURATION(%u)", wValue);
        dev->configured = wValue == 1;
        dev->halted = 0;
        return SIM_OK;
    case 1: case 3: case 5: case 11: /* CLEAR/SET_FEATURE (device, interface), SET_ADDRESS, SET_INTERFACE */
        if (in)
            return SIM_STALL;
        return SIM_OK;
    default:
        return SIM_STALL;
    }
    if (!in)
        return SIM_STALL;
    n = n < wLength ? n : wLength;
    memcpy(data, tmp, n);
    *in_len = n;
    return SIM_OK;
}

sim_status sim_device_control(sim_device *dev, const uint8_t setup[8], uint8_t *data, size_t *in_len,
                              int64_t now_ms)
{
    size_t dummy;
    if (!in_len)
        in_len = &dummy;
    *in_len = 0;
    sim_device_poll(dev, now_ms);
    if (!dev->connected)
        return SIM_NO_DEVICE;
    uint8_t type = setup[0];
    uint16_t wValue = (uint16_t)(setup[2] | setup[3] << 8);
    uint16_t wIndex = (uint16_t)(setup[4] | setup[5] << 8);
    uint16_t wLength = (uint16_t)(setup[6] | setup[7] << 8);
    bool in = (type & 0x80) != 0;
    switch ((type >> 5) & 3) {
    case 0:
        return standard_request(dev, setup, data, in_len, now_ms);
    case 1: /* class: only mass storage's GET MAX LUN is answered here */
        if (dev->stage == CMBOOT_STAGE_MASS_STORAGE && in && setup[1] == 0xfe && wLength >= 1) {
            data[0] = 0;
            *in_len = 1;
            return SIM_OK;
        }
        return SIM_STALL;
    case 2:
        break;
    default:
        return SIM_STALL;
    }
    if ((type & 0x1f) != 0 || setup[1] != 0) {
        sim_log(dev, "vendor request type 0x%02x bRequest %u stalled", type, setup[1]);
        return SIM_STALL;
    }
    uint32_t len = cmboot_wire_length_join(wValue, wIndex);
    if (!in && wLength != 0) {
        sim_fail(dev, "vendor control OUT with a data stage (wLength %u)", wLength);
        return SIM_STALL;
    }
    switch (dev->stage) {
    case CMBOOT_STAGE_ROM:
        return sim_rom_control(dev, in, len, wLength, data, in_len, now_ms);
    case CMBOOT_STAGE_SECOND:
        return sim_fs_control(dev, in, len, wLength, data, in_len, now_ms);
    default:
        return SIM_STALL;
    }
}

sim_status sim_device_bulk_out(sim_device *dev, uint8_t ep, const uint8_t *data, size_t len, size_t *consumed,
                               int64_t now_ms)
{
    *consumed = 0;
    sim_device_poll(dev, now_ms);
    if (!dev->connected)
        return SIM_NO_DEVICE;
    if (!dev->configured) {
        sim_fail(dev, "bulk OUT on endpoint 0x%02x before SET_CONFIGURATION", ep);
        return SIM_STALL;
    }
    if (dev->stage == CMBOOT_STAGE_ROM && dev->cfg.two_interfaces && ep == 0x02) {
        /* the ROM's mass-storage interface: a kernel driver probing it, not the boot protocol */
        sim_log(dev, "bulk OUT on the mass-storage interface's endpoint 0x02 stalled");
        return SIM_STALL;
    }
    if (ep != sim_bulk_out_ep(dev)) {
        sim_fail(dev, "bulk OUT on endpoint 0x%02x, the vendor OUT endpoint is 0x%02x", ep, sim_bulk_out_ep(dev));
        return SIM_STALL;
    }
    if (dev->halted & ep_bit(ep)) {
        sim_log(dev, "bulk OUT of %zu bytes on halted endpoint 0x%02x stalled (not taken)", len, ep);
        return SIM_STALL;
    }
    switch (dev->stage) {
    case CMBOOT_STAGE_ROM:
        return sim_rom_bulk(dev, data, len, consumed, now_ms);
    case CMBOOT_STAGE_SECOND:
        return sim_fs_bulk(dev, data, len, consumed, now_ms);
    case CMBOOT_STAGE_MASS_STORAGE:
        return SIM_STALL; /* mass storage's BOT side is the QEMU bench's */
    default:
        return SIM_PENDING; /* fastboot: the protocol is not emulated, its endpoints NAK */
    }
}

void sim_device_result(const sim_device *dev, sim_result *out)
{
    *out = dev->res;
    out->stage = dev->connected ? dev->stage : CMBOOT_STAGE_UNKNOWN;
    out->vanished = dev->vanished;
}

size_t sim_device_log_count(const sim_device *dev)
{
    return dev->nlog;
}

const char *sim_device_log_line(const sim_device *dev, size_t i)
{
    return i < dev->nlog ? dev->log[i] : NULL;
}

const sim_file_record *sim_device_file(const sim_device *dev, const char *name)
{
    for (size_t i = dev->nfiles; i-- > 0;)
        if (strcmp(dev->files[i].name, name) == 0)
            return &dev->files[i];
    return NULL;
}
