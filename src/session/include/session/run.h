/* Internal: cmboot_run for the flash layer, which takes each board's result and metadata as it finishes. */
#ifndef CMB_SESSION_RUN_H
#define CMB_SESSION_RUN_H

#include "cmboot/metadata.h"
#include "cmboot/session.h"

/* Told on cmboot_run's thread when a board finishes, with the metadata it sent (valid during the call only):
 * how a flash job takes the board's result and metadata without collecting events a second time. adopted: the
 * board was found in its mass-storage stage, not booted by this run (cmboot_boot_config.adopt_mass_storage). */
typedef struct cmb_run_observer {
    void (*board_finished)(void *user, const cmboot_board_result *res, const cmboot_metadata *md, bool adopted);
    void *user;
    /* Told just before board_finished, with the device of the board's last stage (may be NULL): how a flash job
     * opens a board that came up as the fastboot gadget. */
    void (*board_device)(void *user, const cmboot_device_info *dev);
} cmb_run_observer;

/* The caller's boot config read up to its struct_size into out (this library's size), with out->limits pointing
 * to limits (the caller's limits read the same way, or the defaults). CMBOOT_ERR_INVALID_ARG for a NULL or too
 * small config (docs/abi.md). */
int cmb_boot_config_load(const cmboot_boot_config *in, cmboot_boot_config *out, cmboot_stage_limits *limits);

/* cmboot_run with an observer (may be NULL); cfg is read with cmb_boot_config_load. */
int cmb_run_observed(cmboot_ctx *ctx, const cmboot_discovery *disc, const cmboot_boot_config *cfg,
                     cmboot_run_report *report, const cmb_run_observer *obs);

#endif
