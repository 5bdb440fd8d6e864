/* The library context: callbacks and cancellation, no global state. */
#include <stdlib.h>

#include "cmboot/error.h"
#include "cmboot/version.h"
#include "core/ctx.h"

int cmboot_ctx_new(const cmboot_ctx_config *cfg, cmboot_ctx **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return CMBOOT_ERR_NO_MEMORY;
    if (cfg) {
        ctx->log.fn = cfg->log;
        ctx->log.user = cfg->user;
        ctx->log.level = cfg->log_level;
        ctx->event = cfg->event;
        ctx->user = cfg->user;
    }
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

void cmboot_ctx_set_bulk_tuning(cmboot_ctx *ctx, const cmboot_bulk_tuning *tuning)
{
    if (ctx && tuning)
        ctx->bulk = *tuning;
}

const cmboot_bulk_tuning *cmboot_ctx_bulk_tuning(const cmboot_ctx *ctx)
{
    return ctx ? &ctx->bulk : NULL;
}
