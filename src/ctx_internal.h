/* Internal: the library context shared by sessions and discovery backends. */
#ifndef CMBOOT_SRC_CTX_INTERNAL_H
#define CMBOOT_SRC_CTX_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
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
};

const cmboot_logger *cmboot_ctx_logger(const cmboot_ctx *ctx);

#endif
