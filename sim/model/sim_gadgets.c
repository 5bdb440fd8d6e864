/* Stages after the second stage as far as the model goes: mass storage (GET MAX LUN) and fastboot (endpoints NAK). */
#include "sim_stage.h"

/* The Bulk-Only Transport itself is msc_bot's (the usbredir frontend drives it beside the model). */
static sim_status msd_class_request(void *self, const uint8_t setup[8], uint8_t *data, size_t *in_len)
{
    (void)self;
    uint16_t wLength = (uint16_t)(setup[6] | setup[7] << 8);
    if ((setup[0] & 0x80) && setup[1] == 0xfe && wLength >= 1) { /* GET MAX LUN: one LUN */
        data[0] = 0;
        *in_len = 1;
        return SIM_OK;
    }
    return SIM_STALL;
}

const sim_stage_ops sim_mass_storage_stage = {
    .stage = CMBOOT_STAGE_MASS_STORAGE,
    .class_request = msd_class_request,
};

/* The fastboot protocol is not emulated: its bulk endpoints accept nothing and never fail. */
static sim_status fastboot_bulk_out(void *self, const uint8_t *data, size_t len, size_t *consumed, int64_t now)
{
    (void)self, (void)data, (void)len, (void)consumed, (void)now;
    return SIM_PENDING;
}

const sim_stage_ops sim_fastboot_stage = {
    .stage = SIM_STAGE_FASTBOOT,
    .bulk_out = fastboot_bulk_out,
};
