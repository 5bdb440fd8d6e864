/* The protocol API's caller-allocated structs and vtables: defaults, and reading them up to their struct_size. */
#include <stdbool.h>
#include <string.h>

#include "cmboot/error.h"
#include "core/abi.h"
#include "protocol/abi.h"
#include "protocol_internal.h"

/* Sizes in release 0.2, the first with struct_size (docs/abi.md). */
#define STAGE_LIMITS_MIN CMB_SIZE_THROUGH(cmboot_stage_limits, clock)
#define STAGE_HOOKS_MIN CMB_SIZE_THROUGH(cmboot_stage_hooks, user)
#define FILE_PROVIDER_MIN CMB_SIZE_THROUGH(cmboot_file_provider, user)
#define TRANSPORT_OPS_MIN CMB_SIZE_THROUGH(cmboot_transport_ops, clear_halt)

int cmboot_stage_limits_init(cmboot_stage_limits *limits, size_t struct_size)
{
    const cmboot_stage_limits d = {
        .struct_size = sizeof d,
        .control_timeout_ms = 5000,
        .bulk_timeout_ms = 5000,
        .request_timeout_ms = 20000,
        .status_deadline_ms = 5000,
        /* docs/performance.md: the pipeline drains between chunks; 4 MiB keeps most of the gain of 8 MiB at
         * half the memory per board, which matters on small hosts serving many boards. */
        .chunk_size = 4u << 20,
        .max_file_size = 2ull << 30,
        .request_idle_limit_ms = 0, /* the reference polls as long as the device is there */
        .retry_backoff_max_ms = 250,
        .rom_status_optional = false,
        .clock = NULL, /* the system clock */
    };
    return cmb_struct_init(limits, struct_size, &d, sizeof d, STAGE_LIMITS_MIN);
}

int cmb_stage_limits_load(const cmboot_stage_limits *in, cmboot_stage_limits *out)
{
    cmboot_stage_limits_default(out);
    return in ? cmb_struct_load(out, sizeof *out, in, STAGE_LIMITS_MIN) : CMBOOT_OK;
}

int cmb_stage_args_load(const cmboot_stage_limits *limits, const cmboot_stage_hooks *hooks,
                        cmboot_stage_limits *lim_out, cmboot_stage_hooks *hooks_out)
{
    int rc = cmb_stage_limits_load(limits, lim_out);
    memset(hooks_out, 0, sizeof *hooks_out); /* members past the caller's size: none */
    hooks_out->struct_size = sizeof *hooks_out;
    if (rc == CMBOOT_OK && hooks)
        rc = cmb_struct_load(hooks_out, sizeof *hooks_out, hooks, STAGE_HOOKS_MIN);
    return rc;
}

bool cmb_transport_ok(const cmboot_transport *t)
{
    return t && t->ops && t->ops->struct_size >= TRANSPORT_OPS_MIN;
}

bool cmb_file_provider_ok(const cmboot_file_provider *files)
{
    return files && files->struct_size >= FILE_PROVIDER_MIN;
}
