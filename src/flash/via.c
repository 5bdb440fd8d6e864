/* --via auto: the board's fastboot gadget when it came up as one or when this host has no usb-storage. */
#include <stdio.h>

#include "cmboot/doctor.h"
#include "cmboot/error.h"
#include "flash_internal.h"

int cmboot_flash_via_auto(const cmboot_target_env *env, bool board_fastboot, char *why, size_t why_size)
{
    cmboot_target_env e;
    (void)cmb_target_env_load(env, &e);
    /* A fake sysfs tree without module lists of its own says nothing about this host's modules. */
    const char *mods = e.modules_dir ? e.modules_dir : e.sys_root && e.sys_root[0] ? "" : NULL;
    cmboot_host_module us = CMBOOT_MODULE_UNKNOWN, sd = CMBOOT_MODULE_UNKNOWN;
    (void)cmboot_host_usb_storage(e.sys_root, e.proc_root, mods, &us, &sd);
    bool storage = cmboot_host_module_usable(us) && cmboot_host_module_usable(sd);
    char buf[1];
    if (!why || !why_size) {
        why = buf;
        why_size = sizeof buf;
    }
    if (board_fastboot) {
        snprintf(why, why_size, "via fastboot: the board came up as the fastboot gadget");
        return CMBOOT_FLASH_VIA_FASTBOOT;
    }
    if (!storage) {
        snprintf(why, why_size,
                 "via fastboot: this host's kernel has no usb-storage (usb-storage: %s, sd_mod: %s), so a board's "
                 "USB disk cannot appear here",
                 cmboot_host_module_name(us), cmboot_host_module_name(sd));
        return CMBOOT_FLASH_VIA_FASTBOOT;
    }
    snprintf(why, why_size, "via its USB disk: the board came up as mass storage and this host has usb-storage (%s)",
             cmboot_host_module_name(us));
    return CMBOOT_FLASH_VIA_MSD;
}
