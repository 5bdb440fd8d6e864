/* Internal: cmboot_run for the flash layer, which takes each board's result and metadata as it finishes. */
#ifndef CMB_SESSION_RUN_H
#define CMB_SESSION_RUN_H

#include "cmboot/metadata.h"
#include "cmboot/session.h"

/* Told on cmboot_run's thread when a board finishes, with the metadata it sent (valid during the call only):
 * how a flash job takes the board's result and metadata without collecting events a second time. */
typedef struct cmb_run_observer {
    void (*board_finished)(void *user, const cmboot_board_result *res, const cmboot_metadata *md);
    void *user;
} cmb_run_observer;

/* cmboot_run with an observer (may be NULL). */
int cmb_run_observed(cmboot_ctx *ctx, const cmboot_discovery *disc, const cmboot_boot_config *cfg,
                        cmboot_run_report *report, const cmb_run_observer *obs);

#endif
