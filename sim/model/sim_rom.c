/* Boot ROM stage of the model (protocol.md section 3): boot message, second stage, status, re-enumeration. */
#include "sim_stage.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "cmboot/error.h"

typedef enum rom_phase {
    ROM_WAIT_MSG_LEN = 0, /* control OUT announcing the 24-byte boot message */
    ROM_WAIT_MSG_BULK,
    ROM_WAIT_SS_LEN, /* control OUT announcing the second stage */
    ROM_WAIT_SS_BULK,
    ROM_WAIT_STATUS, /* control IN 4 */
    ROM_FINISHED     /* accepted; disconnect scheduled */
} rom_phase;

typedef struct sim_rom {
    sim_device *dev;
    const sim_config *cfg;
    const sim_script *script;
    sim_result *res;
    const uint8_t *expect_sig;
    rom_phase phase;
    uint64_t bulk_expected, bulk_got;
    uint8_t msg[24];
    EVP_MD_CTX *sha;
    int64_t status_ready_at;
    int64_t fault_delay_until; /* an injected delay in progress, -1 none */
    bool fault_used;           /* one-shot faults (stall) already fired */
    bool mismatch;             /* the boot message or second stage is not the expected one: reject */
} sim_rom;

static void rom_reset(sim_rom *s)
{
    s->phase = ROM_WAIT_MSG_LEN;
    s->bulk_expected = s->bulk_got = 0;
    s->status_ready_at = SIM_NEVER;
    s->fault_delay_until = -1;
    s->fault_used = false;
    s->mismatch = false;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool rejecting(const sim_rom *s)
{
    return s->cfg->rom_reject || s->script->rom_reject || s->mismatch;
}

static int32_t reject_status(const sim_rom *s)
{
    if (s->script->rom_reject)
        return s->script->rom_reject_status;
    return s->cfg->rom_reject_status ? s->cfg->rom_reject_status : 1;
}

static sim_status status_read(sim_rom *s, uint16_t wLength, uint8_t *data, size_t *in_len, int64_t now)
{
    const sim_fault *f = &s->script->rom_fault;
    if (s->phase != ROM_WAIT_STATUS || now < s->status_ready_at)
        return SIM_PENDING; /* second stage not complete (or still "checking"): NAK */
    if (wLength < 4) {
        sim_fail(s->dev, "ROM status read of %u bytes, expected 4", wLength);
        return SIM_STALL;
    }
    switch (f->kind) {
    case SIM_FAULT_VANISH: sim_vanish(s->dev, "fault at the ROM status read"); return SIM_NO_DEVICE;
    case SIM_FAULT_STALL:
        if (!s->fault_used) {
            s->fault_used = true;
            sim_log(s->dev, "rom: status read stalled (fault)");
            return SIM_STALL;
        }
        break;
    case SIM_FAULT_DELAY:
        if (s->fault_delay_until < 0)
            s->fault_delay_until = now + (int64_t)f->arg;
        if (now < s->fault_delay_until)
            return SIM_PENDING;
        break;
    default: break;
    }
    int32_t status = rejecting(s) ? reject_status(s) : 0;
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
        sim_log(s->dev, "rom: status answered with %s (fault)", sim_fault_name(f->kind));
        rom_reset(s);
        return SIM_OK;
    }
    if (status == 0) {
        s->res->rom_accepted = true;
        s->phase = ROM_FINISHED;
        sim_log(s->dev, "rom: status 0 (accepted)");
        sim_schedule_stage_end(s->dev, now + s->cfg->disconnect_delay_ms, CMBOOT_STAGE_SECOND);
    } else {
        s->res->rom_rejections++;
        sim_log(s->dev, "rom: status %d (rejected)", (int)status);
        rom_reset(s); /* a real ROM waits for another attempt */
    }
    return SIM_OK;
}

static sim_status rom_bulk_out(void *self, const uint8_t *data, size_t len, size_t *consumed, int64_t now);

static sim_status rom_vendor(void *self, bool in, uint32_t len, uint16_t wLength, uint8_t *data, size_t *in_len,
                             int64_t now)
{
    sim_rom *s = self;
    if (in)
        return status_read(s, wLength, data, in_len, now);
    switch (s->phase) {
    case ROM_WAIT_MSG_LEN:
        if (len != 24) {
            sim_fail(s->dev, "rom: boot message announced with %u bytes, expected 24", len);
            return SIM_STALL;
        }
        sim_log(s->dev, "rom: write(24) boot message");
        s->phase = ROM_WAIT_MSG_BULK;
        s->bulk_expected = 24;
        s->bulk_got = 0;
        return SIM_OK;
    case ROM_WAIT_SS_LEN:
        sim_log(s->dev, "rom: write(%u) second stage", len);
        if (len != s->res->second_stage_size)
            sim_fail(s->dev, "rom: second stage announced with %u bytes, boot message said %u", len,
                     s->res->second_stage_size);
        EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL);
        s->bulk_expected = len;
        s->bulk_got = 0;
        s->res->second_stage_received = 0;
        s->phase = ROM_WAIT_SS_BULK;
        if (len == 0) {
            size_t none;
            rom_bulk_out(s, NULL, 0, &none, now);
        }
        return SIM_OK;
    case ROM_FINISHED: return SIM_PENDING; /* accepted, about to leave the bus */
    default: sim_fail(s->dev, "rom: unexpected control OUT (len %u) in phase %d", len, (int)s->phase); return SIM_STALL;
    }
}

static void second_stage_complete(sim_rom *s, int64_t now)
{
    unsigned int n = 0;
    EVP_DigestFinal_ex(s->sha, s->res->second_stage_sha256, &n);
    const sim_config *c = s->cfg;
    if (c->expect_second_stage_size >= 0 && (int64_t)s->bulk_got != c->expect_second_stage_size) {
        sim_fail(s->dev, "rom: second stage is %llu bytes, expected %lld", (unsigned long long)s->bulk_got,
                 (long long)c->expect_second_stage_size);
        s->mismatch = true;
    }
    if (c->expect_second_stage_sha && memcmp(s->res->second_stage_sha256, c->second_stage_sha256, 32) != 0) {
        sim_fail(s->dev, "rom: second stage SHA-256 differs from the expected one");
        s->mismatch = true;
    }
    sim_log(s->dev, "rom: second stage received (%llu bytes)", (unsigned long long)s->bulk_got);
    s->phase = ROM_WAIT_STATUS;
    s->status_ready_at = now + c->rom_status_delay_ms;
    s->fault_delay_until = -1;
    if (c->rom_status_lost && !s->mismatch && !rejecting(s)) {
        /* Runs what it got at once: the status read is never answered, the next stage is the answer. */
        s->res->rom_accepted = true;
        s->phase = ROM_FINISHED;
        sim_log(s->dev, "rom: running the second stage without answering the status read");
        sim_schedule_stage_end(s->dev, now + c->disconnect_delay_ms, CMBOOT_STAGE_SECOND);
    }
}

static sim_status rom_bulk_out(void *self, const uint8_t *data, size_t len, size_t *consumed, int64_t now)
{
    sim_rom *s = self;
    *consumed = 0;
    if (s->phase != ROM_WAIT_MSG_BULK && s->phase != ROM_WAIT_SS_BULK) {
        if (len)
            sim_fail(s->dev, "rom: %zu bulk bytes nobody announced", len);
        return SIM_STALL;
    }
    uint64_t left = s->bulk_expected - s->bulk_got;
    size_t take = len < left ? len : (size_t)left;
    const sim_fault *f = &s->script->rom_fault;
    bool vanish = false;
    if (s->phase == ROM_WAIT_SS_BULK) {
        if (f->kind == SIM_FAULT_STALL_BULK && !s->fault_used && take) {
            s->fault_used = true;
            sim_halt(s->dev, sim_bulk_out_ep(s->dev));
            sim_log(s->dev, "rom: second stage bulk stalled, endpoint halted until CLEAR_FEATURE (fault)");
            return SIM_STALL;
        }
        if (f->kind == SIM_FAULT_VANISH_AFTER_BYTES && s->bulk_got + take > f->arg) {
            take = (size_t)(f->arg - s->bulk_got);
            vanish = true;
        }
    }
    if (s->phase == ROM_WAIT_MSG_BULK && take) { /* a zero-length packet may come with no buffer */
        memcpy(s->msg + s->bulk_got, data, take);
    } else if (take) {
        EVP_DigestUpdate(s->sha, data, take);
        s->res->second_stage_received += take;
    }
    s->bulk_got += take;
    *consumed = take;
    if (vanish) {
        sim_vanish(s->dev, "fault during the second stage's bulk data");
        return SIM_NO_DEVICE;
    }
    if (s->bulk_got == s->bulk_expected) {
        if (s->phase == ROM_WAIT_MSG_BULK) {
            s->res->second_stage_size = le32(s->msg);
            memcpy(s->res->signature, s->msg + 4, 20);
            sim_log(s->dev, "rom: boot message length %u", s->res->second_stage_size);
            if (s->expect_sig && memcmp(s->expect_sig, s->msg + 4, 20) != 0) {
                sim_fail(s->dev, "rom: boot message signature differs from the expected one");
                s->mismatch = true;
            }
            s->phase = ROM_WAIT_SS_LEN;
        } else {
            second_stage_complete(s, now);
        }
    }
    if (take < len) {
        sim_fail(s->dev, "rom: %zu bulk bytes more than announced", len - take);
        return SIM_STALL;
    }
    return SIM_OK;
}

static int64_t rom_wakeup(const void *self)
{
    const sim_rom *s = self;
    if (s->phase != ROM_WAIT_STATUS)
        return SIM_NEVER;
    int64_t w = s->status_ready_at > sim_now(s->dev) ? s->status_ready_at : SIM_NEVER;
    if (s->fault_delay_until > sim_now(s->dev) && s->fault_delay_until < w)
        w = s->fault_delay_until;
    return w;
}

static int rom_create(const sim_stage_env *env, void **state)
{
    sim_rom *s = calloc(1, sizeof *s);
    if (!s)
        return CMBOOT_ERR_NO_MEMORY;
    s->dev = env->dev;
    s->cfg = env->cfg;
    s->script = env->script;
    s->res = env->res;
    s->expect_sig = env->expect_sig;
    s->sha = EVP_MD_CTX_new();
    if (!s->sha) {
        free(s);
        return CMBOOT_ERR_NO_MEMORY;
    }
    rom_reset(s);
    *state = s;
    return CMBOOT_OK;
}

static void rom_destroy(void *self)
{
    sim_rom *s = self;
    if (!s)
        return;
    EVP_MD_CTX_free(s->sha);
    free(s);
}

static void rom_enter(void *self)
{
    rom_reset(self);
}

const sim_stage_ops sim_rom_stage = {
    .stage = CMBOOT_STAGE_ROM,
    .create = rom_create,
    .destroy = rom_destroy,
    .enter = rom_enter,
    .vendor = rom_vendor,
    .bulk_out = rom_bulk_out,
    .wakeup = rom_wakeup,
};
