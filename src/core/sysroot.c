/* The /sys, /dev, /proc and /run roots: defaults and bounded joins, one place for every layer. */
#include <stdio.h>
#include <string.h>

#include "cmboot/error.h"
#include "core/sysroot.h"

const char *cmb_root_or(const char *root, const char *dflt)
{
    return root && *root ? root : dflt;
}

static int copy_root(char *dst, const char *root, const char *dflt)
{
    const char *r = cmb_root_or(root, dflt);
    size_t n = strlen(r);
    if (n >= CMB_SYSROOT_MAX) {
        dst[0] = '\0';
        return CMBOOT_ERR_TOO_LARGE;
    }
    memcpy(dst, r, n + 1);
    return CMBOOT_OK;
}

int cmb_sysroot_init(cmb_sysroot *r, const char *sys, const char *dev, const char *proc, const char *run)
{
    if (!r)
        return CMBOOT_ERR_INVALID_ARG;
    int rc = copy_root(r->sys, sys, CMB_SYS_ROOT);
    int rc2 = copy_root(r->dev, dev, CMB_DEV_ROOT);
    int rc3 = copy_root(r->proc, proc, CMB_PROC_ROOT);
    int rc4 = copy_root(r->run, run, CMB_RUN_ROOT);
    return rc ? rc : rc2 ? rc2 : rc3 ? rc3 : rc4;
}

int cmb_path_vjoin(char *out, size_t size, const char *root, const char *dflt, const char *fmt, va_list ap)
{
    if (!out || size == 0)
        return CMBOOT_ERR_INVALID_ARG;
    const char *r = cmb_root_or(root, dflt);
    size_t n = strlen(r);
    if (n >= size)
        goto too_large;
    memcpy(out, r, n);
    int m = vsnprintf(out + n, size - n, fmt, ap);
    if (m < 0 || (size_t)m >= size - n)
        goto too_large;
    return CMBOOT_OK;
too_large:
    out[0] = '\0';
    return CMBOOT_ERR_TOO_LARGE;
}

int cmb_path_join(char *out, size_t size, const char *root, const char *dflt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cmb_path_vjoin(out, size, root, dflt, fmt, ap);
    va_end(ap);
    return rc;
}
