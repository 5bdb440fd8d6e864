/* Whether this host's kernel can give a mass-storage gadget a block device: usb-storage and sd_mod states. */
#include "cmboot/doctor.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "cmboot/error.h"
#include "core/sysroot.h"

/* Module names compare with '-' and '_' alike, as modprobe does. */
static bool same_name(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
        if (x != y)
            return false;
    }
    return true;
}

/* Whether a modules.dep / modules.builtin line's path ("kernel/.../usb-storage.ko[.xz]") names module. */
static bool path_names(const char *path, const char *module)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *ko = strstr(base, ".ko");
    return ko && (ko[3] == '\0' || ko[3] == '.') && same_name(base, (size_t)(ko - base), module);
}

/* 1 when the list file names module (text before ':' on a line), 0 when not, -1 when it cannot be read. */
static int list_names(const char *file, const char *module)
{
    FILE *fp = file[0] ? fopen(file, "re") : NULL;
    if (!fp)
        return -1;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, fp)) {
        line[strcspn(line, ":\r\n")] = '\0';
        found = path_names(line, module);
    }
    fclose(fp);
    return found;
}

/* 1 when /proc/modules lists module as loaded, 0 when not, -1 when it cannot be read. */
static int proc_lists(const char *file, const char *module)
{
    FILE *fp = file[0] ? fopen(file, "re") : NULL;
    if (!fp)
        return -1;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, fp))
        found = same_name(line, strcspn(line, " \n"), module);
    fclose(fp);
    return found;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return path[0] && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
    struct stat st;
    return path[0] && stat(path, &st) == 0;
}

/* One module: its name, and the driver directory that shows it active ("" = none). */
static cmboot_host_module module_state(const cmb_sysroot *r, const char *mods, const char *module,
                                       const char *driver_dir)
{
    char p[PATH_MAX];
    (void)cmb_path_join(p, sizeof p, r->proc, CMB_PROC_ROOT, "/modules");
    if (proc_lists(p, module) == 1)
        return CMBOOT_MODULE_LOADED;
    int builtin = -1, dep = -1;
    if (mods[0]) {
        if (snprintf(p, sizeof p, "%s/modules.builtin", mods) < (int)sizeof p)
            builtin = list_names(p, module);
        if (builtin == 1)
            return CMBOOT_MODULE_BUILTIN;
    }
    char sysname[64];
    snprintf(sysname, sizeof sysname, "%s", module);
    for (char *c = sysname; *c; c++)
        if (*c == '-')
            *c = '_';
    (void)cmb_path_join(p, sizeof p, r->sys, CMB_SYS_ROOT, "/module/%s", sysname);
    if (is_dir(p)) { /* a loaded module has initstate; a built-in one with parameters has the directory only */
        (void)cmb_path_join(p, sizeof p, r->sys, CMB_SYS_ROOT, "/module/%s/initstate", sysname);
        return exists(p) ? CMBOOT_MODULE_LOADED : CMBOOT_MODULE_BUILTIN;
    }
    (void)cmb_path_join(p, sizeof p, r->sys, CMB_SYS_ROOT, "%s", driver_dir);
    if (is_dir(p))
        return CMBOOT_MODULE_LOADED; /* its driver is registered: active, however it came */
    if (mods[0] && snprintf(p, sizeof p, "%s/modules.dep", mods) < (int)sizeof p)
        dep = list_names(p, module);
    if (dep == 1)
        return CMBOOT_MODULE_LOADABLE;
    /* Absent only when both lists could be read: without them nothing tells a module that is not there. */
    return builtin == 0 && dep == 0 ? CMBOOT_MODULE_ABSENT : CMBOOT_MODULE_UNKNOWN;
}

int cmboot_host_usb_storage(const char *sys_root, const char *proc_root, const char *modules_dir,
                            cmboot_host_module *usb_storage, cmboot_host_module *sd)
{
    if (!usb_storage && !sd)
        return CMBOOT_ERR_INVALID_ARG;
    cmb_sysroot r;
    int rc = cmb_sysroot_init(&r, sys_root, NULL, proc_root, NULL);
    if (rc != CMBOOT_OK)
        return rc;
    char mods[PATH_MAX] = "";
    if (modules_dir) {
        if (snprintf(mods, sizeof mods, "%s", modules_dir) >= (int)sizeof mods)
            return CMBOOT_ERR_TOO_LARGE;
    } else {
        struct utsname un;
        if (uname(&un) == 0)
            snprintf(mods, sizeof mods, "/lib/modules/%.200s", un.release);
    }
    if (usb_storage)
        *usb_storage = module_state(&r, mods, "usb-storage", "/bus/usb/drivers/usb-storage");
    if (sd)
        *sd = module_state(&r, mods, "sd_mod", "/bus/scsi/drivers/sd");
    return CMBOOT_OK;
}

bool cmboot_host_module_usable(cmboot_host_module state)
{
    return state != CMBOOT_MODULE_ABSENT;
}

const char *cmboot_host_module_name(cmboot_host_module state)
{
    switch (state) {
    case CMBOOT_MODULE_ABSENT: return "absent";
    case CMBOOT_MODULE_LOADABLE: return "loadable";
    case CMBOOT_MODULE_LOADED: return "loaded";
    case CMBOOT_MODULE_BUILTIN: return "built-in";
    case CMBOOT_MODULE_UNKNOWN: break;
    }
    return "unknown";
}
