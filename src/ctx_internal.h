/* Internal: the library context shared by sessions and discovery backends. */
#ifndef CMBOOT_SRC_CTX_INTERNAL_H
#define CMBOOT_SRC_CTX_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include "cmboot/flash.h"
#include "cmboot/metadata.h"
#include "cmboot/session.h"
#include "log_internal.h"

struct cmboot_ctx {
    cmboot_logger log;
    cmboot_event_fn event;
    void *user;
    atomic_bool cancelled;
    cmboot_bulk_tuning bulk;
    pthread_mutex_t lock;            /* guards run */
    struct cmboot_run_state *run;    /* the cmboot_run in progress, for cancel */
    cmboot_flash_canceller *flash; /* a cmboot_flash_job's pairing or write in progress, for cancel */
};

/* Told on cmboot_run's thread when a board finishes, with the metadata it sent (valid during the call only):
 * how a flash job takes the board's result and metadata without collecting events a second time. */
typedef struct cmboot_run_observer {
    void (*board_finished)(void *user, const cmboot_board_result *res, const cmboot_metadata *md);
    void *user;
} cmboot_run_observer;

/* cmboot_run with an observer (may be NULL). */
int cmboot_run_observed(cmboot_ctx *ctx, const cmboot_discovery *disc, const cmboot_boot_config *cfg,
                        cmboot_run_report *report, const cmboot_run_observer *obs);

const cmboot_logger *cmboot_ctx_logger(const cmboot_ctx *ctx);

#endif
