/* The library context: callbacks and cancellation, no global state. */
#include <stdlib.h>

#include "cmboot/error.h"
#include "cmboot/version.h"
#include "core/abi.h"
#include "core/ctx.h"

/* Sizes in release 0.2, the first with struct_size (docs/abi.md). */
#define CTX_CONFIG_MIN CMB_SIZE_THROUGH(cmboot_ctx_config, log_level)
#define BULK_TUNING_MIN CMB_SIZE_THROUGH(cmboot_bulk_tuning, in_flight)

int cmboot_ctx_config_init(cmboot_ctx_config *cfg, size_t struct_size)
{
    const cmboot_ctx_config d = {.struct_size = sizeof d, .log_level = CMBOOT_LOG_ERROR};
    return cmb_struct_init(cfg, struct_size, &d, sizeof d, CTX_CONFIG_MIN);
}

int cmboot_bulk_tuning_init(cmboot_bulk_tuning *tuning, size_t struct_size)
{
    const cmboot_bulk_tuning d = {.struct_size = sizeof d};
    return cmb_struct_init(tuning, struct_size, &d, sizeof d, BULK_TUNING_MIN);
}

int cmboot_ctx_new(const cmboot_ctx_config *caller_cfg, cmboot_ctx **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    cmboot_ctx_config cfg;
    cmboot_ctx_config_default(&cfg);
    if (caller_cfg) {
        int rc = cmb_struct_load(&cfg, sizeof cfg, caller_cfg, CTX_CONFIG_MIN);
        if (rc != CMBOOT_OK)
            return rc;
    }
    cmboot_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return CMBOOT_ERR_NO_MEMORY;
    ctx->log.fn = cfg.log;
    ctx->log.user = cfg.user;
    ctx->log.level = cfg.log_level;
    ctx->event = cfg.event;
    ctx->user = cfg.user;
    cmboot_bulk_tuning_default(&ctx->bulk);
    atomic_init(&ctx->cancelled, false);
    pthread_mutex_init(&ctx->lock, NULL);
    *out = ctx;
    return CMBOOT_OK;
}

void cmboot_ctx_free(cmboot_ctx *ctx)
{
    if (!ctx)
        return;
    pthread_mutex_destroy(&ctx->lock);
    free(ctx->flash);
    free(ctx);
}

const cmb_logger *cmb_ctx_logger(const cmboot_ctx *ctx)
{
    return ctx ? &ctx->log : NULL;
}

const char *cmboot_version(void)
{
    return CMBOOT_VERSION_STRING;
}

unsigned int cmboot_api_version(void)
{
    return CMBOOT_API_VERSION;
}

int cmboot_ctx_set_bulk_tuning(cmboot_ctx *ctx, const cmboot_bulk_tuning *tuning)
{
    if (!ctx)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_bulk_tuning t;
    cmboot_bulk_tuning_default(&t);
    int rc = cmb_struct_load(&t, sizeof t, tuning, BULK_TUNING_MIN);
    if (rc == CMBOOT_OK)
        ctx->bulk = t;
    return rc;
}

const cmboot_bulk_tuning *cmboot_ctx_bulk_tuning(const cmboot_ctx *ctx)
{
    return ctx ? &ctx->bulk : NULL;
}
