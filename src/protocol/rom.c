/* ROM stage (protocol.md section 3): boot message, second stage, status read within a deadline. */
#include <stdio.h>

#include "cmboot/error.h"
#include "cmboot/log.h"
#include "core/clock.h"
#include "protocol_internal.h"

/* Errors after which asking the ROM again may succeed: it may not be ready to answer yet. */
static int status_retryable(int rc)
{
    return rc == CMBOOT_ERR_TIMEOUT || rc == CMBOOT_ERR_STALL || rc == CMBOOT_ERR_SHORT_TRANSFER;
}

int cmboot_rom_stage_run(const cmboot_transport *t, cmboot_stream *second_stage, const uint8_t *signature,
                         const cmboot_stage_limits *limits, const cmboot_stage_hooks *hooks, int32_t *rom_status)
{
    cmboot_stage_limits lim;
    cmboot_stage_hooks hook_copy;
    int rc = cmb_stage_args_load(limits, hooks, &lim, &hook_copy);
    if (rc != CMBOOT_OK)
        return rc;
    hooks = &hook_copy;
    if (!cmb_transport_ok(t) || !second_stage)
        return CMBOOT_ERR_INVALID_ARG;
    if (rom_status)
        *rom_status = -1;
    if (second_stage->size == 0 || second_stage->size > lim.max_file_size || second_stage->size > 0x7fffffff)
        return CMBOOT_ERR_TOO_LARGE;

    uint8_t msg[CMBOOT_BOOT_MESSAGE_SIZE];
    cmboot_boot_message_encode(msg, (uint32_t)second_stage->size, signature);
    rc = cmboot_wire_write(t, msg, sizeof msg, lim.control_timeout_ms);
    if (rc < 0)
        return rc;
    rc = cmb_send_stream(t, second_stage, "second stage", &lim, hooks);
    if (rc < 0)
        return rc;

    /* The ROM answers once it has checked the second stage; ask until the deadline instead of sleeping first. */
    int64_t deadline = cmb_clock_now(lim.clock) + lim.status_deadline_ms;
    int backoff_ms = 10;
    for (;;) {
        int64_t left = deadline - cmb_clock_now(lim.clock);
        if (left <= 0) {
            rc = CMBOOT_ERR_TIMEOUT;
            break;
        }
        uint8_t st[4];
        rc = cmboot_wire_read(t, st, sizeof st, (unsigned)(left < 1000 ? left : 1000));
        if (rc == CMBOOT_OK) {
            int32_t status =
                (int32_t)((uint32_t)st[0] | (uint32_t)st[1] << 8 | (uint32_t)st[2] << 16 | (uint32_t)st[3] << 24);
            if (rom_status)
                *rom_status = status;
            if (status != 0) {
                char m[64];
                snprintf(m, sizeof m, "boot ROM status %d", (int)status);
                cmb_hook_log(hooks, CMBOOT_LOG_ERROR, m);
                return CMBOOT_ERR_ROM_REJECTED;
            }
            return CMBOOT_OK;
        }
        if (rc == CMBOOT_ERR_NO_DEVICE || rc == CMBOOT_ERR_IO) {
            /* Some ROMs leave the bus as soon as the second stage runs; the next stage proves success. */
            cmb_hook_log(hooks, CMBOOT_LOG_DEBUG, "boot ROM left before answering the status read");
            return CMBOOT_OK;
        }
        if (!status_retryable(rc))
            break;
        /* Bounded back-off between attempts the device refused at once (a stall returns immediately), cut to
         * what the read left of the deadline. */
        int64_t wait = backoff_ms;
        left = deadline - cmb_clock_now(lim.clock);
        if (wait > left)
            wait = left > 0 ? left : 0;
        if (wait > 0)
            cmb_clock_pause(lim.clock, (unsigned)wait);
        if (backoff_ms < 200)
            backoff_ms *= 2;
    }
    if (lim.rom_status_optional && rc != CMBOOT_ERR_CANCELLED) {
        /* Imager ignores this read and notes it may fail on BCM2711/2712: the second stage appearing is the
         * real answer, which the caller waits for. */
        char m[128];
        snprintf(m, sizeof m, "boot ROM status read failed (%s): carrying on, the second stage will tell",
                 cmboot_strerror(rc));
        cmb_hook_log(hooks, CMBOOT_LOG_WARN, m);
        return CMBOOT_OK;
    }
    return rc;
}
