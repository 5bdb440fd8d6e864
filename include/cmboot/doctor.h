/* Host checks: every reason a board can be invisible or unusable, as findings with a fix each. */
#ifndef CMBOOT_DOCTOR_H
#define CMBOOT_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include "cmboot/device.h"
#include "cmboot/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cmboot_doctor_severity {
    CMBOOT_DOCTOR_OK = 0,     /* checked and fine */
    CMBOOT_DOCTOR_INFO = 1,   /* worth knowing, nothing to do */
    CMBOOT_DOCTOR_WARN = 2,   /* may stop some boards or stages */
    CMBOOT_DOCTOR_BLOCKER = 3 /* cmboot cannot work until fixed */
} cmboot_doctor_severity;

/* One finding. Handed out by the library as a const pointer (the report's); plain members, appended only. */
typedef struct cmboot_doctor_finding {
    char id[40]; /* stable machine name: "usb-missing", "permission", ... */
    cmboot_doctor_severity severity;
    char device[CMBOOT_PORT_PATH_MAX]; /* port path when about one board, else "" */
    char text[512];                    /* what is wrong, in plain words */
    char fix[768];                     /* what to do about it ("" when nothing) */
} cmboot_doctor_finding;

typedef struct cmboot_doctor_config {
    size_t struct_size;                    /* set by cmboot_doctor_config_default() (session.h, docs/abi.md) */
    const char *sys_root;                  /* NULL = "/sys" */
    const char *dev_root;                  /* NULL = "/dev" */
    const char *proc_root;                 /* NULL = "/proc" */
    const char *run_root;                  /* NULL = "/run" (udev's control socket lives in <run>/udev/control) */
    const char *kernel_config;             /* NULL = <proc>/config.gz, then /boot/config-<release> */
    const char *modules_dir;               /* NULL = /lib/modules/<release> */
    const char *libusb_path;               /* the libusb library to inspect; NULL = the one this process loaded */
    long uid;                              /* whose access to check; -1 = this process */
    bool check_netlink;                    /* try opening the kernel uevent socket (off in tests with fake trees) */
    bool check_boot_files;                 /* look for every SoC's boot files, as `cmboot boot` would (default on) */
    const char *boot_dir;                  /* -d DIR to check; NULL = the default directories */
    const char *const *boot_default_dirs;  /* NULL = built-in (see cmboot_files_config) */
    const char *const *boot_fallback_dirs; /* NULL = built-in */
} cmboot_doctor_config;

/* What a run found: opaque, any number of findings and boards, read through the accessors. Made and freed by
 * the caller; one thread at a time. */
typedef struct cmboot_doctor_report cmboot_doctor_report;

/* An empty report (caller frees with cmboot_doctor_report_free). CMBOOT_ERR_NO_MEMORY or CMBOOT_OK. */
CMBOOT_API int cmboot_doctor_report_new(cmboot_doctor_report **out);
/* Frees the report and every finding and board it handed out (NULL is fine). */
CMBOOT_API void cmboot_doctor_report_free(cmboot_doctor_report *report);
/* Findings in the order the checks made them; index < cmboot_doctor_report_findings, else NULL. */
CMBOOT_API size_t cmboot_doctor_report_findings(const cmboot_doctor_report *report);
CMBOOT_API const cmboot_doctor_finding *cmboot_doctor_report_finding(const cmboot_doctor_report *report, size_t index);
/* Boards seen in a boot stage or mass storage (Broadcom vendor ID); index < cmboot_doctor_report_boards, else
 * NULL. */
CMBOOT_API size_t cmboot_doctor_report_boards(const cmboot_doctor_report *report);
CMBOOT_API const cmboot_device_info *cmboot_doctor_report_board(const cmboot_doctor_report *report, size_t index);
/* Every pointer the report hands out (findings, boards) is valid until the report is freed or run again. */

/* Defaults (every root NULL, uid -1, check_netlink and check_boot_files on) into the caller's struct of
 * struct_size bytes. Use cmboot_doctor_config_default(). */
CMBOOT_API int cmboot_doctor_config_init(cmboot_doctor_config *cfg, size_t struct_size);
static inline void cmboot_doctor_config_default(cmboot_doctor_config *cfg)
{
    (void)cmboot_doctor_config_init(cfg, sizeof *cfg);
}
/* Runs every check into report (emptied first); boards, and the findings about boards, come in port path
 * order (cmboot_port_path_compare). Returns CMBOOT_OK, CMBOOT_ERR_NO_MEMORY when a finding or board
 * could not be kept (the report holds the others), or an error for bad arguments (a bad struct_size: session.h). */
CMBOOT_API int cmboot_doctor_run(const cmboot_doctor_config *cfg, cmboot_doctor_report *report);
/* Highest severity in the report. */
CMBOOT_API cmboot_doctor_severity cmboot_doctor_worst(const cmboot_doctor_report *report);
/* The finding with this id, or NULL. */
CMBOOT_API const cmboot_doctor_finding *cmboot_doctor_find(const cmboot_doctor_report *report, const char *id);
CMBOOT_API const char *cmboot_doctor_severity_name(cmboot_doctor_severity s);

/* ---- Whether this host's kernel can give a mass-storage gadget a block device (usb-storage and sd_mod) ---- */

typedef enum cmboot_host_module {
    CMBOOT_MODULE_UNKNOWN = 0,  /* cannot tell: modules.builtin or modules.dep unreadable, no trace in /proc, /sys */
    CMBOOT_MODULE_ABSENT = 1,   /* not loaded, not built in, no module file installed */
    CMBOOT_MODULE_LOADABLE = 2, /* a module file is installed (modules.dep) but not loaded */
    CMBOOT_MODULE_LOADED = 3,   /* loaded (/proc/modules, <sys>/module/NAME/initstate) or its driver registered */
    CMBOOT_MODULE_BUILTIN = 4   /* built in (modules.builtin, or <sys>/module/NAME without initstate) */
} cmboot_host_module;

/* The states of usb-storage and of sd_mod (SCSI disk), read from <proc>/modules, <sys>/module/,
 * <sys>/bus/{usb,scsi}/drivers/ and modules_dir's modules.builtin and modules.dep. sys_root and proc_root NULL or
 * "" = /sys and /proc; modules_dir NULL = /lib/modules/<release>, "" = none (a fake tree without module lists).
 * Either out may be NULL, not both. CMBOOT_OK, CMBOOT_ERR_INVALID_ARG, CMBOOT_ERR_TOO_LARGE (a path). */
CMBOOT_API int cmboot_host_usb_storage(const char *sys_root, const char *proc_root, const char *modules_dir,
                                       cmboot_host_module *usb_storage, cmboot_host_module *sd);
/* Whether a state lets the module be used (built in, loaded, loadable) or may (unknown): all but absent. */
CMBOOT_API bool cmboot_host_module_usable(cmboot_host_module state);
/* "unknown", "absent", "loadable", "loaded", "built-in". */
CMBOOT_API const char *cmboot_host_module_name(cmboot_host_module state);

#ifdef __cplusplus
}
#endif
#endif
