/* Boot ROM stage of the model (protocol.md section 3): boot message, second stage, status, re-enumeration. */
#include "sim_internal.h"

#include <string.h>

void sim_rom_reset(sim_device *dev)
{
    dev->rom = ROM_WAIT_MSG_LEN;
    dev->bulk_expected = dev->bulk_got = 0;
    dev->status_ready_at = SIM_NEVER;
    dev->fault_delay_until = -1;
    dev->fault_used = false;
    dev->rom_mismatch = false;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool rejecting(const sim_device *dev)
{
    return dev->cfg.rom_reject || dev->script.rom_reject || dev->rom_mismatch;
}

static int32_t reject_status(const sim_device *dev)
{
    if (dev->script.rom_reject)
        return dev->script.rom_reject_status;
    return dev->cfg.rom_reject_status ? dev->cfg.rom_reject_status : 1;
}

static sim_status status_read(sim_device *dev, uint16_t wLength, uint8_t *data, size_t *in_len, int64_t now)
{
    const sim_fault *f = &dev->script.rom_fault;
    if (dev->rom != ROM_WAIT_STATUS || now < dev->status_ready_at)
        return SIM_PENDING; /* second stage not complete (or still "checking"): NAK */
    if (wLength < 4) {
        sim_fail(dev, "ROM status read of %u bytes, expected 4", wLength);
        return SIM_STALL;
    }
    switch (f->kind) {
    case SIM_FAULT_VANISH:
        sim_vanish(dev, "fault at the ROM status read");
        return SIM_NO_DEVICE;
    case SIM_FAULT_STALL:
        if (!dev->fault_used) {
            dev->fault_used = true;
            sim_log(dev, "rom: status read stalled (fault)");
            return SIM_STALL;
        }
        break;
    case SIM_FAULT_DELAY:
        if (dev->fault_delay_until < 0)
            dev->fault_delay_until = now + (int64_t)f->arg;
        if (now < dev->fault_delay_until)
            return SIM_PENDING;
        break;
    default:
        break;
    }
    int32_t status = rejecting(dev) ? reject_status(dev) : 0;
    uint32_t u = (uint32_t)status;
    uint8_t ans[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    size_t n = 4;
    if (f->kind == SIM_FAULT_GARBAGE)
        memset(ans, 0xa5, sizeof ans);
    if (f->kind == SIM_FAULT_SHORT)
        n = f->arg < 4 ? (size_t)f->arg : 3;
    memcpy(data, ans, n);
    *in_len = n;
    if (f->kind == SIM_FAULT_GARBAGE || f->kind == SIM_FAULT_SHORT) {
        sim_log(dev, "rom: status answered with %s (fault)", sim_fault_name(f->kind));
        sim_rom_reset(dev);
        return SIM_OK;
    }
    if (status == 0) {
        dev->res.rom_accepted = true;
        dev->rom = ROM_FINISHED;
        sim_log(dev, "rom: status 0 (accepted)");
        sim_schedule_stage_end(dev, now + dev->cfg.disconnect_delay_ms, CMBOOT_STAGE_SECOND);
    } else {
        dev->res.rom_rejections++;
        sim_log(dev, "rom: status %d (rejected)", (int)status);
        sim_rom_reset(dev); /* a real ROM waits for another attempt */
    }
    return SIM_OK;
}

sim_status sim_rom_control(sim_device *dev, bool in, uint32_t len, uint16_t wLength, uint8_t *data,
                           size_t *in_len, int64_t now)
{
    if (in)
        return status_read(dev, wLength, data, in_len, now);
    switch (dev->rom) {
    case ROM_WAIT_MSG_LEN:
        if (len != 24) {
            sim_fail(dev, "rom: boot message announced with %u bytes, expected 24", len);
            return SIM_STALL;
        }
        sim_log(dev, "rom: write(24) boot message");
        dev->rom = ROM_WAIT_MSG_BULK;
        dev->bulk_expected = 24;
        dev->bulk_got = 0;
        return SIM_OK;
    case ROM_WAIT_SS_LEN:
        sim_log(dev, "rom: write(%u) second stage", len);
        if (len != dev->res.second_stage_size)
            sim_fail(dev, "rom: second stage announced with %u bytes, boot message said %u", len,
                     dev->res.second_stage_size);
        EVP_DigestInit_ex(dev->sha, EVP_sha256(), NULL);
        dev->bulk_expected = len;
        dev->bulk_got = 0;
        dev->res.second_stage_received = 0;
        dev->rom = ROM_WAIT_SS_BULK;
        if (len == 0) {
            size_t none;
            sim_rom_bulk(dev, NULL, 0, &none, now);
        }
        return SIM_OK;
    case ROM_FINISHED:
        return SIM_PENDING; /* accepted, about to leave the bus */
    default:
        sim_fail(dev, "rom: unexpected control OUT (len %u) in phase %d", len, (int)dev->rom);
        return SIM_STALL;
    }
}

static void second_stage_complete(sim_device *dev, int64_t now)
{
    unsigned int n = 0;
    EVP_DigestFinal_ex(dev->sha, dev->res.second_stage_sha256, &n);
    const sim_config *c = &dev->cfg;
    if (c->expect_second_stage_size >= 0 && (int64_t)dev->bulk_got != c->expect_second_stage_size) {
        sim_fail(dev, "rom: second stage is %llu bytes, expected %lld", (unsigned long long)dev->bulk_got,
                 (long long)c->expect_second_stage_size);
        dev->rom_mismatch = true;
    }
    if (c->expect_second_stage_sha && memcmp(dev->res.second_stage_sha256, c->second_stage_sha256, 32) != 0) {
        sim_fail(dev, "rom: second stage SHA-256 differs from the expected one");
        dev->rom_mismatch = true;
    }
    sim_log(dev, "rom: second stage received (%llu bytes)", (unsigned long long)dev->bulk_got);
    dev->rom = ROM_WAIT_STATUS;
    dev->status_ready_at = now + c->rom_status_delay_ms;
    dev->fault_delay_until = -1;
    if (c->rom_status_lost && !dev->rom_mismatch && !rejecting(dev)) {
        /* Runs what it got at once: the status read is never answered, the next stage is the answer. */
        dev->res.rom_accepted = true;
        dev->rom = ROM_FINISHED;
        sim_log(dev, "rom: running the second stage without answering the status read");
        sim_schedule_stage_end(dev, now + c->disconnect_delay_ms, CMBOOT_STAGE_SECOND);
    }
}

sim_status sim_rom_bulk(sim_device *dev, const uint8_t *data, size_t len, size_t *consumed, int64_t now)
{
    *consumed = 0;
    if (dev->rom != ROM_WAIT_MSG_BULK && dev->rom != ROM_WAIT_SS_BULK) {
        if (len)
            sim_fail(dev, "rom: %zu bulk bytes nobody announced", len);
        return SIM_STALL;
    }
    uint64_t left = dev->bulk_expected - dev->bulk_got;
    size_t take = len < left ? len : (size_t)left;
    const sim_fault *f = &dev->script.rom_fault;
    bool vanish = false;
    if (dev->rom == ROM_WAIT_SS_BULK) {
        if (f->kind == SIM_FAULT_STALL_BULK && !dev->fault_used && take) {
            dev->fault_used = true;
            sim_halt(dev, sim_bulk_out_ep(dev));
            sim_log(dev, "rom: second stage bulk stalled, endpoint halted until CLEAR_FEATURE (fault)");
            return SIM_STALL;
        }
        if (f->kind == SIM_FAULT_VANISH_AFTER_BYTES && dev->bulk_got + take > f->arg) {
            take = (size_t)(f->arg - dev->bulk_got);
            vanish = true;
        }
    }
    if (dev->rom == ROM_WAIT_MSG_BULK && take) { /* a zero-length packet may come with no buffer */
        memcpy(dev->msg + dev->bulk_got, data, take);
    } else if (take) {
        EVP_DigestUpdate(dev->sha, data, take);
        dev->res.second_stage_received += take;
    }
    dev->bulk_got += take;
    *consumed = take;
    if (vanish) {
        sim_vanish(dev, "fault during the second stage's bulk data");
        return SIM_NO_DEVICE;
    }
    if (dev->bulk_got == dev->bulk_expected) {
        if (dev->rom == ROM_WAIT_MSG_BULK) {
            dev->res.second_stage_size = le32(dev->msg);
            memcpy(dev->res.signature, dev->msg + 4, 20);
            sim_log(dev, "rom: boot message length %u", dev->res.second_stage_size);
            if (dev->has_expect_sig && memcmp(dev->expect_sig, dev->msg + 4, 20) != 0) {
                sim_fail(dev, "rom: boot message signature differs from the expected one");
                dev->rom_mismatch = true;
            }
            dev->rom = ROM_WAIT_SS_LEN;
        } else {
            second_stage_complete(dev, now);
        }
    }
    if (take < len) {
        sim_fail(dev, "rom: %zu bulk bytes more than announced", len - take);
        return SIM_STALL;
    }
    return SIM_OK;
}

int64_t sim_rom_wakeup(const sim_device *dev)
{
    if (dev->rom != ROM_WAIT_STATUS)
        return SIM_NEVER;
    int64_t w = dev->status_ready_at > dev->now ? dev->status_ready_at : SIM_NEVER;
    if (dev->fault_delay_until > dev->now && dev->fault_delay_until < w)
        w = dev->fault_delay_until;
    return w;
}
