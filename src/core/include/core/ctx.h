/* Internal: the library context shared by sessions and discovery backends. */
#ifndef CMB_CORE_CTX_H
#define CMB_CORE_CTX_H

#include <pthread.h>
#include <stdatomic.h>
#include "cmboot/flash.h"
#include "cmboot/metadata.h"
#include "cmboot/session.h"
#include "core/log.h"

struct cmboot_ctx {
    cmb_logger log;
    cmboot_event_fn event;
    void *user;
    atomic_bool cancelled;
    cmboot_bulk_tuning bulk;
    pthread_mutex_t lock;      /* guards run */
    struct cmb_run_state *run; /* the cmboot_run in progress, for cancel */
    /* The pairings and writes of flash jobs in progress (one per board of a flash line), for cancel; guarded
     * by lock. */
    cmboot_flash_canceller **flash;
    size_t nflash, flash_cap;
};

const cmb_logger *cmb_ctx_logger(const cmboot_ctx *ctx);

#endif
