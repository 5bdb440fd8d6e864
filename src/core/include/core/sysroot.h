/* Internal: the /sys, /dev, /proc and /run roots the host-facing layers read (fake trees in tests), their
 * defaults, and paths under them that never overflow. */
#ifndef CMB_CORE_SYSROOT_H
#define CMB_CORE_SYSROOT_H

#include <stdarg.h>
#include <stddef.h>

#define CMB_SYS_ROOT "/sys"
#define CMB_DEV_ROOT "/dev"
#define CMB_PROC_ROOT "/proc"
#define CMB_RUN_ROOT "/run"
#define CMB_SYSROOT_MAX 2048 /* longest root kept; paths under it get PATH_MAX */

/* Copies of the roots a module was given, defaults filled in. */
typedef struct cmb_sysroot {
    char sys[CMB_SYSROOT_MAX];
    char dev[CMB_SYSROOT_MAX];
    char proc[CMB_SYSROOT_MAX];
    char run[CMB_SYSROOT_MAX];
} cmb_sysroot;

/* root, or dflt when root is NULL or "" (what every public root parameter promises). */
const char *cmb_root_or(const char *root, const char *dflt);

/* Fills r from the caller's roots, each NULL or "" for its default. CMBOOT_ERR_TOO_LARGE when one does not fit
 * (r then holds "" for it). */
int cmb_sysroot_init(cmb_sysroot *r, const char *sys, const char *dev, const char *proc, const char *run);

/* out = root (NULL or "" = dflt) followed by the formatted rest, which starts with '/':
 * cmb_path_join(p, sizeof p, env->sys_root, CMB_SYS_ROOT, "/bus/usb/devices/%s", name). CMBOOT_ERR_TOO_LARGE
 * and out = "" when it does not fit, so a cut path is never used. */
int cmb_path_join(char *out, size_t size, const char *root, const char *dflt, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int cmb_path_vjoin(char *out, size_t size, const char *root, const char *dflt, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

#endif
