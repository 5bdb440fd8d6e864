/* The flash API's caller-allocated structs: defaults, and reading them up to their struct_size (docs/abi.md). */
#include <string.h>

#include "cmboot/error.h"
#include "core/abi.h"
#include "flash_internal.h"

/* Sizes in release 0.2, the first with struct_size: a caller's struct is never smaller. */
#define TARGET_ENV_MIN CMB_SIZE_THROUGH(cmboot_target_env, dev_root)
#define FLASH_CONFIG_MIN CMB_SIZE_THROUGH(cmboot_flash_config, cancel)
#define FLASH_RESULT_MIN CMB_SIZE_THROUGH(cmboot_flash_result, verify_ms)
#define FLASH_REPORT_MIN CMB_SIZE_THROUGH(cmboot_flash_report, flash)

int cmboot_target_env_init(cmboot_target_env *env, size_t struct_size)
{
    const cmboot_target_env d = {.struct_size = sizeof d};
    return cmb_struct_init(env, struct_size, &d, sizeof d, TARGET_ENV_MIN);
}

int cmb_target_env_load(const cmboot_target_env *in, cmboot_target_env *out)
{
    cmboot_target_env_init(out, sizeof *out);
    return in ? cmb_struct_load(out, sizeof *out, in, TARGET_ENV_MIN) : CMBOOT_OK;
}

int cmboot_flash_config_init(cmboot_flash_config *cfg, size_t struct_size)
{
    const cmboot_flash_config d = {.struct_size = sizeof d,
                                   .verify = true,
                                   .image_digest = true,
                                   .buffer_size = 0, /* by source and hashing, see stream_image */
                                   .buffers = 0,
                                   .device_id = "",
                                   .lun = -1};
    return cmb_struct_init(cfg, struct_size, &d, sizeof d, FLASH_CONFIG_MIN);
}

int cmb_flash_config_load(const cmboot_flash_config *in, cmboot_flash_config *out, cmboot_target_env *env)
{
    if (!in)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_flash_config_init(out, sizeof *out);
    int rc = cmb_struct_load(out, sizeof *out, in, FLASH_CONFIG_MIN);
    cmb_disk_kind kind;
    if (rc == CMBOOT_OK && (out->lun < -1 || cmb_disk_kind_parse(out->target_kind, &kind) != CMBOOT_OK ||
                            out->via < CMBOOT_FLASH_VIA_AUTO || out->via > CMBOOT_FLASH_VIA_FASTBOOT))
        rc = CMBOOT_ERR_INVALID_ARG;
    if (rc == CMBOOT_OK)
        rc = cmb_target_env_load(out->env, env);
    out->env = env;
    return rc;
}

int cmboot_flash_result_init(cmboot_flash_result *res, size_t struct_size)
{
    const cmboot_flash_result d = {.struct_size = sizeof d};
    return cmb_struct_init(res, struct_size, &d, sizeof d, FLASH_RESULT_MIN);
}

int cmb_flash_result_load(const cmboot_flash_result *in, cmboot_flash_result *out)
{
    if (!in)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_flash_result_init(out, sizeof *out);
    return cmb_struct_load(out, sizeof *out, in, FLASH_RESULT_MIN);
}

void cmb_flash_result_store(const cmboot_flash_result *full, cmboot_flash_result *res)
{
    size_t n = res->struct_size;
    memcpy(res, full, n < sizeof *full ? n : sizeof *full);
    res->struct_size = n;
}

int64_t cmboot_flash_result_phase_ms(const cmboot_flash_result *res, int phase)
{
    if (!res)
        return -1;
    switch (phase) { /* a member past the caller's struct_size is not there */
    case CMBOOT_FLASH_PHASE_CHECK: return CMB_HAS(res, cmboot_flash_result, check_ms) ? res->check_ms : -1;
    case CMBOOT_FLASH_PHASE_WRITE: return CMB_HAS(res, cmboot_flash_result, write_ms) ? res->write_ms : -1;
    case CMBOOT_FLASH_PHASE_SYNC: return CMB_HAS(res, cmboot_flash_result, sync_ms) ? res->sync_ms : -1;
    case CMBOOT_FLASH_PHASE_VERIFY: return CMB_HAS(res, cmboot_flash_result, verify_ms) ? res->verify_ms : -1;
    default: return -1;
    }
}

int cmboot_flash_report_init(cmboot_flash_report *rep, size_t struct_size)
{
    const cmboot_flash_report d = {.struct_size = sizeof d, .boot_ms = -1, .pair_ms = -1};
    return cmb_struct_init(rep, struct_size, &d, sizeof d, FLASH_REPORT_MIN);
}

int cmb_flash_report_load(const cmboot_flash_report *in, cmboot_flash_report *out)
{
    if (!in)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_flash_report_init(out, sizeof *out);
    return cmb_struct_load(out, sizeof *out, in, FLASH_REPORT_MIN);
}
