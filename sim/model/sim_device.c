/* Device model core: configuration, bus events and scheduling, control dispatch to the stages, log and result. */
#include "sim_stage.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmboot/error.h"
#include "cmboot/protocol.h"
#include "sim_descriptors.h"

#define SIM_EVQ 8
#define SIM_LOG_MAX 20000

/* Every stage the device can connect as, with its ops. */
static const sim_stage_ops *const stages[] = {&sim_rom_stage, &sim_second_stage, &sim_mass_storage_stage,
                                              &sim_fastboot_stage, &sim_normal_stage};
#define NSTAGES (sizeof stages / sizeof stages[0])
static const sim_stage_ops no_stage = {.stage = CMBOOT_STAGE_UNKNOWN};

struct sim_device {
    sim_config cfg;
    sim_script script;
    char *save_dir;
    uint8_t expect_sig[20];
    bool has_expect_sig;
    void *state[NSTAGES]; /* each stage's own, opaque here */

    /* bus state */
    int64_t now; /* latest time the frontend gave us */
    bool connected;
    bool vanished;
    cmboot_stage stage;
    const sim_stage_ops *ops; /* of stage (no_stage before the first connect) */
    void *ops_state;
    unsigned config_reads;
    bool configured;         /* SET_CONFIGURATION(1) taken */
    int64_t config_ready_at; /* SET_CONFIGURATION NAKed before this; -1: set from the first time seen */
    uint32_t halted;         /* endpoint halts, bit ((ep & 0x80) >> 3) | (ep & 0x0f) */
    sim_event evq[SIM_EVQ];
    unsigned evq_head, evq_count;
    int64_t disconnect_at;   /* scheduled end of the current stage */
    int64_t connect_at;      /* scheduled start of next_stage */
    cmboot_stage next_stage; /* UNKNOWN: the disconnect is a vanish */

    sim_file_record *files;
    size_t nfiles, files_cap;

    char **log;
    size_t nlog, log_cap;
    sim_result res;
};

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
    cfg->fastboot_max_download = SIM_FASTBOOT_MAX_DOWNLOAD;
    cfg->msd_pid = (soc == CMBOOT_SOC_BCM2711 || soc == CMBOOT_SOC_BCM2712) ? SIM_PID_MSD_GADGET : SIM_PID_MSD_LEGACY;
}

const char *sim_stage_name(cmboot_stage stage)
{
    if (stage == SIM_STAGE_NORMAL)
        return "normal";
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
    dev->ops = &no_stage;
    dev->ops_state = NULL;
    for (size_t i = 0; i < NSTAGES; i++)
        if (stages[i]->stage == stage) {
            dev->ops = stages[i];
            dev->ops_state = dev->state[i];
        }
    dev->connected = true;
    dev->stage = stage;
    dev->config_reads = 0;
    dev->configured = false;
    dev->config_ready_at = -1;
    dev->halted = 0;
    dev->disconnect_at = dev->connect_at = SIM_NEVER;
    dev->res.enumerations++;
    if (dev->ops->enter)
        dev->ops->enter(dev->ops_state);
    sim_log(dev, "connect %s", sim_stage_name(stage));
    push_event(dev, SIM_EV_CONNECT, stage);
}

int sim_device_new(const sim_config *cfg, sim_device **out)
{
    *out = NULL;
    if (!cfg || (int)cfg->soc < 0 || cfg->soc >= CMBOOT_SOC_COUNT)
        return CMBOOT_ERR_INVALID_ARG;
    if (cfg->start_stage != CMBOOT_STAGE_ROM && cfg->start_stage != CMBOOT_STAGE_SECOND &&
        cfg->start_stage != CMBOOT_STAGE_MASS_STORAGE && cfg->start_stage != SIM_STAGE_NORMAL &&
        cfg->start_stage != SIM_STAGE_FASTBOOT)
        return CMBOOT_ERR_INVALID_ARG;
    if (cfg->two_interfaces && cfg->soc != CMBOOT_SOC_BCM2837)
        return CMBOOT_ERR_INVALID_ARG;
    /* 0 and 3 mean "boot ROM" to every host */
    if (cfg->second_serial_index == 0 || cfg->second_serial_index == 3)
        return CMBOOT_ERR_INVALID_ARG;
    if (cfg->rom_to_second_ms < -1 || cfg->done_to_next_ms < -1 || (unsigned)cfg->after_done > SIM_AFTER_ROM)
        return CMBOOT_ERR_INVALID_ARG;
    if (cfg->n_fastboot_parts > SIM_FASTBOOT_PARTS_MAX || (cfg->n_fastboot_parts && !cfg->fastboot_parts))
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
    const sim_stage_env env = {dev, &dev->cfg, &dev->script, dev->has_expect_sig ? dev->expect_sig : NULL, &dev->res};
    for (size_t i = 0; i < NSTAGES && rc == CMBOOT_OK; i++)
        if (stages[i]->create)
            rc = stages[i]->create(&env, &dev->state[i]);
    /* the fastboot stage copied what these point to */
    dev->cfg.fastboot_parts = NULL;
    dev->cfg.n_fastboot_parts = 0;
    dev->cfg.fastboot_fail_cmd = NULL;
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
    for (size_t i = 0; i < NSTAGES; i++)
        if (stages[i]->destroy)
            stages[i]->destroy(dev->state[i]);
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

/* The current stage leaves the bus. */
static void leave_stage(sim_device *dev)
{
    if (dev->connected && dev->ops->leave)
        dev->ops->leave(dev->ops_state);
}

void sim_vanish(sim_device *dev, const char *why)
{
    leave_stage(dev);
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
    return sim_desc_bulk_out_ep(&dev->cfg, dev->stage);
}

int64_t sim_now(const sim_device *dev)
{
    return dev->now;
}

sim_file_record *sim_new_file_record(sim_device *dev)
{
    if (dev->nfiles == dev->files_cap) {
        size_t cap = dev->files_cap ? dev->files_cap * 2 : 16;
        sim_file_record *n = realloc(dev->files, cap * sizeof *n);
        if (!n)
            return NULL;
        dev->files = n;
        dev->files_cap = cap;
    }
    sim_file_record *r = &dev->files[dev->nfiles++];
    memset(r, 0, sizeof *r);
    return r;
}

static uint32_t ep_bit(uint8_t ep)
{
    return 1u << (((ep & 0x80) >> 3) | (ep & 0x0f));
}

void sim_halt(sim_device *dev, uint8_t ep)
{
    dev->halted |= ep_bit(ep);
}

/* Disconnect -> connect of the next stage: the ROM's hand-over to the second stage is quick, booting what
 * the second stage loaded (Linux for a gadget) is not. */
static unsigned reenum_ms(const sim_device *dev, cmboot_stage from, cmboot_stage to)
{
    int ms =
        from == CMBOOT_STAGE_ROM && to == CMBOOT_STAGE_SECOND ? dev->cfg.rom_to_second_ms : dev->cfg.done_to_next_ms;
    return ms >= 0 ? (unsigned)ms : dev->cfg.reenum_delay_ms;
}

void sim_device_poll(sim_device *dev, int64_t now_ms)
{
    if (now_ms > dev->now)
        dev->now = now_ms;
    if (dev->vanished)
        return;
    if (dev->connected && dev->ops->poll)
        dev->ops->poll(dev->ops_state, now_ms);
    if (dev->connected && now_ms >= dev->disconnect_at) {
        int64_t at = dev->disconnect_at;
        if (dev->next_stage == CMBOOT_STAGE_UNKNOWN) {
            sim_vanish(dev, "stage over, nothing follows");
            return;
        }
        leave_stage(dev);
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
    if (dev->connected && dev->ops->wakeup) {
        int64_t s = dev->ops->wakeup(dev->ops_state);
        w = s < w ? s : w;
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
    if (setup[0] == 0xc0 && setup[1] == 0 && dev->ops->cancel_read)
        dev->ops->cancel_read(dev->ops_state);
}

int sim_device_settled_config(const sim_device *dev, uint8_t *buf, size_t cap)
{
    if (!dev->connected)
        return -1;
    return sim_desc_settled_config(&dev->cfg, dev->stage, buf, cap);
}

int sim_device_descriptor(sim_device *dev, uint8_t type, uint8_t index, uint8_t *buf, size_t cap)
{
    if (!dev->connected)
        return -1;
    return sim_desc_build(&dev->cfg, dev->stage, &dev->config_reads, type, index, buf, cap);
}

void sim_device_identity(const sim_device *dev, sim_identity *out)
{
    if (!dev->connected) {
        memset(out, 0, sizeof *out);
        out->stage = CMBOOT_STAGE_UNKNOWN;
        return;
    }
    sim_desc_identity(&dev->cfg, dev->stage, out);
    out->configured = dev->configured;
}

/* Endpoint recipient: GET_STATUS and CLEAR/SET_FEATURE(ENDPOINT_HALT) on an endpoint of the configuration. */
static sim_status endpoint_request(sim_device *dev, const uint8_t *setup, uint8_t *data, size_t *in_len)
{
    uint8_t req = setup[1], ep = setup[4];
    uint16_t wValue = (uint16_t)(setup[2] | setup[3] << 8);
    uint16_t wLength = (uint16_t)(setup[6] | setup[7] << 8);
    bool in = (setup[0] & 0x80) != 0;
    bool ep0 = (ep & 0x7f) == 0;
    if (!ep0 && (!dev->configured || !sim_desc_has_endpoint(&dev->cfg, dev->stage, ep)))
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
    case 1:                    /* CLEAR_FEATURE */
    case 3:                    /* SET_FEATURE */
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
    default: return SIM_STALL;
    }
}

/* Standard requests a USB stack sends during enumeration. */
static sim_status standard_request(sim_device *dev, const uint8_t *setup, uint8_t *data, size_t *in_len, int64_t now)
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
        int len = sim_desc_build(&dev->cfg, dev->stage, &dev->config_reads, (uint8_t)(wValue >> 8), (uint8_t)wValue,
                                 data, wLength);
        if (len < 0)
            return SIM_STALL;
        *in_len = (size_t)len;
        return SIM_OK;
    }
    case 0: /* GET_STATUS */ n = 2; break;
    case 8: /* GET_CONFIGURATION */
        tmp[0] = dev->configured ? 1 : 0;
        n = 1;
        break;
    case 10: /* GET_INTERFACE */ n = 1; break;
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
    case 1:
    case 3:
    case 5:
    case 11: /* CLEAR/SET_FEATURE (device, interface), SET_ADDRESS, SET_INTERFACE */
        if (in)
            return SIM_STALL;
        return SIM_OK;
    default: return SIM_STALL;
    }
    if (!in)
        return SIM_STALL;
    n = n < wLength ? n : wLength;
    memcpy(data, tmp, n);
    *in_len = n;
    return SIM_OK;
}

sim_status sim_device_control(sim_device *dev, const uint8_t setup[8], uint8_t *data, size_t *in_len, int64_t now_ms)
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
    case 0: return standard_request(dev, setup, data, in_len, now_ms);
    case 1: return dev->ops->class_request ? dev->ops->class_request(dev->ops_state, setup, data, in_len) : SIM_STALL;
    case 2: break;
    default: return SIM_STALL;
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
    if (!dev->ops->vendor)
        return SIM_STALL;
    return dev->ops->vendor(dev->ops_state, in, len, wLength, data, in_len, now_ms);
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
    if (!dev->ops->bulk_out)
        return SIM_STALL; /* mass storage: its Bulk-Only Transport is msc_bot's, beside the model */
    return dev->ops->bulk_out(dev->ops_state, data, len, consumed, now_ms);
}

sim_status sim_device_bulk_in(sim_device *dev, uint8_t ep, uint8_t *buf, size_t cap, size_t *len, int64_t now_ms)
{
    *len = 0;
    sim_device_poll(dev, now_ms);
    if (!dev->connected)
        return SIM_NO_DEVICE;
    if (!dev->configured) {
        sim_fail(dev, "bulk IN on endpoint 0x%02x before SET_CONFIGURATION", ep);
        return SIM_STALL;
    }
    if (!(ep & 0x80) || !sim_desc_has_endpoint(&dev->cfg, dev->stage, ep)) {
        sim_fail(dev, "bulk IN on endpoint 0x%02x, not an IN endpoint of this stage", ep);
        return SIM_STALL;
    }
    if (dev->halted & ep_bit(ep))
        return SIM_STALL;
    if (!dev->ops->bulk_in)
        return SIM_PENDING;
    return dev->ops->bulk_in(dev->ops_state, buf, cap, len, now_ms);
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
