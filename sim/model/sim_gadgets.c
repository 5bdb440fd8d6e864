/* Stages after the second stage as far as the model goes: mass storage (GET MAX LUN) and normal mode. */
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

/* Normal mode's data endpoints accept nothing and never fail. */
static sim_status normal_bulk_out(void *self, const uint8_t *data, size_t len, size_t *consumed, int64_t now)
{
    (void)self, (void)data, (void)len, (void)consumed, (void)now;
    return SIM_PENDING;
}

/* Normal mode: the board's own system with its g_cdc-like gadget. Enumerated only: the CDC class requests a
 * host driver sends while binding are taken, the data endpoints never move anything. */
static sim_status normal_class_request(void *self, const uint8_t setup[8], uint8_t *data, size_t *in_len)
{
    (void)self;
    uint16_t wLength = (uint16_t)(setup[6] | setup[7] << 8);
    bool in = (setup[0] & 0x80) != 0;
    static const uint8_t line_coding[7] = {0x00, 0xc2, 0x01, 0x00, 0, 0, 8}; /* 115200 8N1 */
    switch (setup[1]) {
    case 0x20: /* SET_LINE_CODING */
    case 0x22: /* SET_CONTROL_LINE_STATE */
    case 0x43: /* SET_ETHERNET_PACKET_FILTER */ return in ? SIM_STALL : SIM_OK;
    case 0x21: /* GET_LINE_CODING */
        if (!in)
            return SIM_STALL;
        *in_len = wLength < sizeof line_coding ? wLength : sizeof line_coding;
        for (size_t i = 0; i < *in_len; i++)
            data[i] = line_coding[i];
        return SIM_OK;
    default: return SIM_STALL;
    }
}

const sim_stage_ops sim_normal_stage = {
    .stage = SIM_STAGE_NORMAL,
    .class_request = normal_class_request,
    .bulk_out = normal_bulk_out,
};
