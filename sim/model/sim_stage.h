/* Between the device model and its stages: the stage ops table and the few device services a stage may call. */
#ifndef CMBOOT_SIM_STAGE_H
#define CMBOOT_SIM_STAGE_H

/*
 * The device (sim_device.c) owns the bus side: connection, configuration, endpoint halts, events, scheduling,
 * the log and the result. A stage (sim_rom.c, sim_second_stage.c, sim_gadgets.c) owns what it does with the
 * protocol's traffic. The device dispatches through the ops table of the stage it is connected as and never
 * looks inside a stage's state; a stage sees the device only through this header.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model/sim_device.h"

#define SIM_NEVER INT64_MAX

/* What the device hands a stage to create its state with; every pointer lives as long as the device. */
typedef struct sim_stage_env {
    sim_device *dev;       /* for the services below */
    const sim_config *cfg; /* the device's copy (script and expect_signature are NULL in it) */
    const sim_script *script;
    const uint8_t *expect_sig; /* 20 bytes the boot message must carry, NULL = any */
    sim_result *res;           /* the counters the stages keep */
} sim_stage_env;

/* One stage of the board. Every entry may be NULL: the comment says what the device does then. */
typedef struct sim_stage_ops {
    cmboot_stage stage;
    /* Allocates the stage's state for one device (NULL: the stage has none). CMBOOT_ERR_NO_MEMORY. */
    int (*create)(const sim_stage_env *env, void **state);
    void (*destroy)(void *state);
    /* The device connects as this stage: back to its start. */
    void (*enter)(void *state);
    /* The stage leaves the bus (disconnect or vanish). */
    void (*leave)(void *state);
    /* The protocol's vendor request (bRequest 0, recipient device, no OUT data stage: checked by the device);
     * len = wValue | wIndex << 16. NULL: stall. */
    sim_status (*vendor)(void *state, bool in, uint32_t len, uint16_t wLength, uint8_t *data, size_t *in_len,
                         int64_t now);
    /* A class request (bmRequestType type bits 01). NULL: stall. */
    sim_status (*class_request)(void *state, const uint8_t setup[8], uint8_t *data, size_t *in_len);
    /* Bulk OUT on the vendor endpoint, configured and not halted (checked by the device). NULL: stall. */
    sim_status (*bulk_out)(void *state, const uint8_t *data, size_t len, size_t *consumed, int64_t now);
    /* Bulk IN on the stage's bulk IN endpoint, configured and not halted: one transfer of up to cap bytes.
     * NULL: NAK (SIM_PENDING). */
    sim_status (*bulk_in)(void *state, uint8_t *buf, size_t cap, size_t *len, int64_t now);
    /* The host cancelled a vendor IN read the stage was NAKing. NULL: nothing happens. */
    void (*cancel_read)(void *state);
    /* Time passes (called while connected as this stage). */
    void (*poll)(void *state, int64_t now);
    /* When the stage needs poll next; NULL: only traffic changes it (SIM_NEVER). */
    int64_t (*wakeup)(const void *state);
} sim_stage_ops;

/* The stages of the model. */
extern const sim_stage_ops sim_rom_stage;          /* sim_rom.c */
extern const sim_stage_ops sim_second_stage;       /* sim_second_stage.c */
extern const sim_stage_ops sim_mass_storage_stage; /* sim_gadgets.c */
extern const sim_stage_ops sim_fastboot_stage;     /* sim_fastboot.c */
extern const sim_stage_ops sim_normal_stage;       /* sim_gadgets.c */

/* Device services (sim_device.c). */
void sim_log(sim_device *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_fail(sim_device *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Gone for good: the current stage leaves, a VANISH event follows. */
void sim_vanish(sim_device *dev, const char *why);
/* Ends the current stage at `at`: disconnect, then connect as next (UNKNOWN = vanish instead). */
void sim_schedule_stage_end(sim_device *dev, int64_t at, cmboot_stage next);
/* The current stage's vendor bulk OUT endpoint. */
uint8_t sim_bulk_out_ep(const sim_device *dev);
/* Halts the endpoint until the host clears it (CLEAR_FEATURE(ENDPOINT_HALT)). */
void sim_halt(sim_device *dev, uint8_t ep);
/* The latest time the frontend gave the device. */
int64_t sim_now(const sim_device *dev);
/* A new, zeroed record of a requested file (sim_device_file finds it); NULL when out of memory. Valid until
 * the next call. */
sim_file_record *sim_new_file_record(sim_device *dev);

#endif
