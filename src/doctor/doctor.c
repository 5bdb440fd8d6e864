/* cmboot doctor: host checks against configurable sysfs/dev/proc roots, each finding with its fix. */
#include "cmboot/doctor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#ifdef __linux__
#include <dlfcn.h>
#include <libusb.h>
#endif

#include "cmboot/error.h"
#include "cmboot/files.h"
#include "elf_needed.h"
#include "core/abi.h"
#include "kconfig.h"
#include "core/error_map.h"
#include "core/sysroot.h"
#include "os/linux/sysfs_usb.h"
#include "os/linux/uevent.h"
#include "os/linux/usbfs_node.h"

#define UDEV_RULE "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"0a5c\", MODE=\"0660\", GROUP=\"plugdev\""
#define MDEV_LINE "SUBSYSTEM=usb;DEVTYPE=usb_device;.* root:plugdev 0660"

struct cmboot_doctor_report {
    cmboot_doctor_finding **findings; /* one allocation each: a finding's pointer stays valid as more come */
    size_t count, cap;
    cmboot_device_info *boards;
    size_t board_count, board_cap;
};

int cmboot_doctor_report_new(cmboot_doctor_report **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = calloc(1, sizeof **out);
    return *out ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
}

static void report_clear(cmboot_doctor_report *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->findings[i]);
    r->count = 0;
    r->board_count = 0;
}

void cmboot_doctor_report_free(cmboot_doctor_report *report)
{
    if (!report)
        return;
    report_clear(report);
    free(report->findings);
    free(report->boards);
    free(report);
}

size_t cmboot_doctor_report_findings(const cmboot_doctor_report *report)
{
    return report ? report->count : 0;
}

const cmboot_doctor_finding *cmboot_doctor_report_finding(const cmboot_doctor_report *report, size_t index)
{
    return report && index < report->count ? report->findings[index] : NULL;
}

size_t cmboot_doctor_report_boards(const cmboot_doctor_report *report)
{
    return report ? report->board_count : 0;
}

const cmboot_device_info *cmboot_doctor_report_board(const cmboot_doctor_report *report, size_t index)
{
    return report && index < report->board_count ? &report->boards[index] : NULL;
}

/* Room for one more element of size elem in *arr (count used of *cap); false when out of memory. */
static bool grow(void **arr, size_t *cap, size_t count, size_t elem)
{
    if (count < *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, n * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = n;
    return true;
}

typedef struct doc {
    const cmboot_doctor_config *cfg;
    cmboot_doctor_report *rep;
    cmb_sysroot roots;
    char release[128];
    long uid;
    bool oom; /* a finding or board could not be kept */
} doc;

__attribute__((format(printf, 5, 6))) static cmboot_doctor_finding *
add(doc *d, const char *id, cmboot_doctor_severity sev, const char *device, const char *fmt, ...)
{
    cmboot_doctor_report *r = d->rep;
    cmboot_doctor_finding *f = NULL;
    if (!grow((void **)&r->findings, &r->cap, r->count, sizeof *r->findings) || !(f = calloc(1, sizeof *f))) {
        d->oom = true;
        return NULL;
    }
    r->findings[r->count++] = f;
    snprintf(f->id, sizeof f->id, "%s", id);
    f->severity = sev;
    snprintf(f->device, sizeof f->device, "%s", device ? device : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
    return f;
}

__attribute__((format(printf, 2, 3))) static void set_fix(cmboot_doctor_finding *f, const char *fmt, ...)
{
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->fix, sizeof f->fix, fmt, ap);
    va_end(ap);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

__attribute__((format(printf, 3, 4))) static const char *pathf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        buf[0] = '\0';
    return buf;
}

/* A path under one of the roots; "" when it does not fit, so nothing is found there. */
__attribute__((format(printf, 4, 5))) static const char *under(char *buf, size_t size, const char *root,
                                                               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)cmb_path_vjoin(buf, size, root, root, fmt, ap);
    va_end(ap);
    return buf;
}

/* Whether a module file is installed for this kernel (modules.dep lists "kernel/.../name.ko[.xz]:"). */
static bool module_available(doc *d, const char *ko)
{
    char path[PATH_MAX];
    if (d->cfg->modules_dir)
        pathf(path, sizeof path, "%s/modules.dep", d->cfg->modules_dir);
    else
        pathf(path, sizeof path, "/lib/modules/%s/modules.dep", d->release);
    FILE *fp = fopen(path, "re");
    if (!fp)
        return false;
    char line[4096];
    bool found = false;
    size_t klen = strlen(ko);
    while (!found && fgets(line, sizeof line, fp)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        const char *base = strrchr(line, '/');
        base = base ? base + 1 : line;
        found = strncmp(base, ko, klen) == 0 && (base[klen] == '\0' || base[klen] == '.');
    }
    fclose(fp);
    return found;
}

/* ---- kernel USB support ---- */

static bool check_usb_core(doc *d)
{
    char p[PATH_MAX];
    if (!is_dir(under(p, sizeof p, d->roots.sys, "/bus"))) {
        cmboot_doctor_finding *f = add(d, "sysfs-missing", CMBOOT_DOCTOR_BLOCKER, NULL,
                                       "sysfs is not mounted (%s/bus does not exist), so cmboot cannot see any "
                                       "USB device.",
                                       d->roots.sys);
        set_fix(f, "Mount it: mount -t sysfs sysfs /sys (and add it to /etc/fstab or your init script).");
        return false;
    }
    if (!is_dir(under(p, sizeof p, d->roots.sys, "/bus/usb"))) {
        cmboot_doctor_finding *f = add(d, "usb-missing", CMBOOT_DOCTOR_BLOCKER, NULL,
                                       "This kernel has no USB support: %s/bus/usb does not exist, so no board "
                                       "can ever be seen on this host.",
                                       d->roots.sys);
        if (module_available(d, "usbcore"))
            set_fix(f, "The USB modules are installed but not loaded: modprobe usbcore; modprobe xhci_pci "
                       "(or ehci_pci, dwc2 on a Raspberry Pi host).");
        else
            set_fix(f, "Boot a kernel built with CONFIG_USB=y and a host controller driver "
                       "(CONFIG_USB_XHCI_HCD, CONFIG_USB_EHCI_HCD, or CONFIG_USB_DWC2 on a Raspberry Pi host). "
                       "In a VM, also give it a USB controller (QEMU: -device qemu-xhci).");
        return false;
    }
    DIR *dir = opendir(under(p, sizeof p, d->roots.sys, "/bus/usb/devices"));
    int hubs = 0;
    if (dir) {
        struct dirent *de;
        while ((de = readdir(dir)) != NULL)
            if (strncmp(de->d_name, "usb", 3) == 0 && de->d_name[3] >= '1' && de->d_name[3] <= '9')
                hubs++;
        closedir(dir);
    }
    if (hubs == 0) {
        cmboot_doctor_finding *f = add(d, "usb-no-host-controller", CMBOOT_DOCTOR_BLOCKER, NULL,
                                       "The kernel has USB support but no USB host controller is active (no "
                                       "root hub in %s/bus/usb/devices).",
                                       d->roots.sys);
        set_fix(f, "Load the host controller driver (modprobe xhci_pci, ehci_pci, or dwc2 with "
                   "dtoverlay=dwc2,dr_mode=host on a Raspberry Pi host), or enable it in the kernel config.");
        return false;
    }
    add(d, "usb-ok", CMBOOT_DOCTOR_OK, NULL, "USB support present with %d host controller%s.", hubs,
        hubs == 1 ? "" : "s");
    return true;
}

/* ---- kernel configuration ---- */

typedef struct kopt {
    const char *names[8]; /* any one of them satisfies the need */
    const char *what;
    cmboot_doctor_severity if_missing;
} kopt;

static void check_kconfig(doc *d)
{
    char path[PATH_MAX];
    char *text = NULL;
    int rc = CMBOOT_ERR_NOT_FOUND;
    if (d->cfg->kernel_config) {
        snprintf(path, sizeof path, "%s", d->cfg->kernel_config);
        rc = cmb_kconfig_load(path, &text, NULL);
    } else {
        rc = cmb_kconfig_load(under(path, sizeof path, d->roots.proc, "/config.gz"), &text, NULL);
        if (rc != CMBOOT_OK)
            rc = cmb_kconfig_load(pathf(path, sizeof path, "/boot/config-%s", d->release), &text, NULL);
    }
    if (rc != CMBOOT_OK) {
        cmboot_doctor_finding *f = add(d, "kconfig-unreadable", CMBOOT_DOCTOR_INFO, NULL,
                                       "The kernel configuration is not readable (%s), so kernel options could "
                                       "not be checked.",
                                       cmboot_strerror(rc));
        set_fix(f,
                "To let doctor check options: build the kernel with CONFIG_IKCONFIG_PROC=y (gives "
                "/proc/config.gz) or install /boot/config-%s.",
                d->release);
        return;
    }
    const kopt opts[] = {
        {{"CONFIG_USB"}, "USB core", CMBOOT_DOCTOR_BLOCKER},
        {{"CONFIG_USB_XHCI_HCD", "CONFIG_USB_EHCI_HCD", "CONFIG_USB_OHCI_HCD", "CONFIG_USB_UHCI_HCD", "CONFIG_USB_DWC2",
          "CONFIG_USB_DWC3", "CONFIG_USB_MUSB_HDRC", "CONFIG_USB_DWCOTG"},
         "a USB host controller driver",
         CMBOOT_DOCTOR_BLOCKER},
        {{"CONFIG_NET"},
         "networking, for the netlink uevents that announce new devices and stages",
         CMBOOT_DOCTOR_BLOCKER},
        {{"CONFIG_DEVTMPFS"},
         "devtmpfs, for /dev/bus/usb nodes (cmboot makes private nodes without it, as root)",
         CMBOOT_DOCTOR_INFO},
        {{"CONFIG_USB_STORAGE"}, "usb-storage, for the mass-storage stage", CMBOOT_DOCTOR_WARN},
        {{"CONFIG_SCSI"}, "SCSI, under usb-storage", CMBOOT_DOCTOR_WARN},
        {{"CONFIG_BLK_DEV_SD"}, "SCSI disk (sd), to see the board's eMMC as /dev/sdX", CMBOOT_DOCTOR_WARN},
    };
    char missing[3][400] = {{0}};
    char modules[400] = "";
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        char best = 0;
        const char *which = opts[i].names[0];
        for (size_t j = 0; j < 8 && opts[i].names[j]; j++) {
            char v = cmb_kconfig_value(text, opts[i].names[j]);
            if (v == 'y' || (v == 'm' && best != 'y')) {
                best = v;
                which = opts[i].names[j];
            }
        }
        if (best == 'm') {
            size_t l = strlen(modules);
            snprintf(modules + l, sizeof modules - l, "%s%s", l ? ", " : "", which);
        } else if (best == 0) {
            int slot = opts[i].if_missing == CMBOOT_DOCTOR_BLOCKER ? 0
                       : opts[i].if_missing == CMBOOT_DOCTOR_WARN  ? 1
                                                                   : 2;
            size_t l = strlen(missing[slot]);
            if (opts[i].names[1])
                snprintf(missing[slot] + l, sizeof missing[slot] - l, "%s%s (any of %s, %s, ...)", l ? "; " : "",
                         opts[i].what, opts[i].names[0], opts[i].names[1]);
            else
                snprintf(missing[slot] + l, sizeof missing[slot] - l, "%s%s (%s)", l ? "; " : "", opts[i].names[0],
                         opts[i].what);
        }
    }
    free(text);
    cmboot_doctor_finding *f;
    if (missing[0][0]) {
        f = add(d, "kconfig-missing-required", CMBOOT_DOCTOR_BLOCKER, NULL,
                "The kernel (%s) is built without options cmboot needs: %s.", path, missing[0]);
        set_fix(f, "Rebuild the kernel with these set to y (or m and load the modules), e.g. in buildroot: "
                   "make linux-menuconfig.");
    }
    if (missing[1][0]) {
        f = add(d, "kconfig-missing-storage", CMBOOT_DOCTOR_WARN, NULL,
                "The kernel lacks what the last stage needs: %s. Booting works, but the board's eMMC will not "
                "appear as a disk, so it cannot be flashed from this host.",
                missing[1]);
        set_fix(f, "Enable CONFIG_SCSI, CONFIG_BLK_DEV_SD and CONFIG_USB_STORAGE (y, or m and modprobe "
                   "usb-storage sd_mod).");
    }
    if (missing[2][0]) {
        f = add(d, "kconfig-missing-optional", CMBOOT_DOCTOR_INFO, NULL, "Not in the kernel: %s.", missing[2]);
        set_fix(f, "Optional: enable CONFIG_DEVTMPFS and mount it on /dev (CONFIG_DEVTMPFS_MOUNT=y).");
    }
    if (modules[0]) {
        f = add(d, "kconfig-modules", CMBOOT_DOCTOR_INFO, NULL,
                "Built as modules (present, but they must be loaded): %s.", modules);
        set_fix(f, "Make sure they load at boot (modprobe, or list them in /etc/modules).");
    }
    if (!missing[0][0] && !missing[1][0])
        add(d, "kconfig-ok", CMBOOT_DOCTOR_OK, NULL, "Kernel options for every stage are present (%s).", path);
}

/* ---- kernel uevents ---- */

static void check_netlink(doc *d)
{
    if (!d->cfg->check_netlink)
        return;
    int fd = cmb_uevent_socket_open();
    if (fd >= 0) {
        close(fd);
        add(d, "uevents-ok", CMBOOT_DOCTOR_OK, NULL, "Kernel uevents can be received (netlink).");
        return;
    }
    cmboot_doctor_finding *f = add(d, "uevents-unavailable", CMBOOT_DOCTOR_BLOCKER, NULL,
                                   "Kernel uevents cannot be received (%s): a board plugged in later, and every "
                                   "next boot stage, would go unseen.",
                                   cmboot_strerror(fd));
    set_fix(f, "Use a kernel with CONFIG_NET=y (netlink); in a container, give it the host's network namespace "
               "or run cmboot on the host.");
}

/* ---- usbfs nodes and permissions ---- */

static void check_usbfs(doc *d, bool *nodes_present)
{
    char p[PATH_MAX];
    *nodes_present = is_dir(under(p, sizeof p, d->roots.dev, "/bus/usb"));
    if (*nodes_present) {
        add(d, "usbfs-nodes-ok", CMBOOT_DOCTOR_OK, NULL, "USB device nodes exist under %s.", p);
        return;
    }
    cmboot_doctor_severity sev = d->uid == 0 ? CMBOOT_DOCTOR_INFO : CMBOOT_DOCTOR_BLOCKER;
    cmboot_doctor_finding *f =
        add(d, "usbfs-nodes-missing", sev, NULL,
            "There are no USB device nodes under %s (no devtmpfs and no mdev/udev making them). cmboot works "
            "anyway: it makes a private node from the numbers in sysfs%s.",
            p, d->uid == 0 ? "" : ", but that needs root (CAP_MKNOD) and you are not root");
    set_fix(f,
            "Mount devtmpfs: mount -t devtmpfs devtmpfs /dev (needs CONFIG_DEVTMPFS=y), or run mdev: "
            "echo /sbin/mdev > /proc/sys/kernel/hotplug; mdev -s%s",
            d->uid == 0 ? "." : "; or run cmboot as root.");
}

static void describe_owner(const struct stat *st, char *buf, size_t size)
{
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;
    char b1[1024], b2[1024];
    getpwuid_r(st->st_uid, &pw, b1, sizeof b1, &pwp);
    getgrgid_r(st->st_gid, &gr, b2, sizeof b2, &grp);
    char u[64], g[64];
    if (pwp)
        snprintf(u, sizeof u, "%s", pwp->pw_name);
    else
        snprintf(u, sizeof u, "%u", (unsigned)st->st_uid);
    if (grp)
        snprintf(g, sizeof g, "%s", grp->gr_name);
    else
        snprintf(g, sizeof g, "%u", (unsigned)st->st_gid);
    snprintf(buf, size, "%s:%s mode %04o", u, g, (unsigned)(st->st_mode & 07777));
}

/* Whether d->uid may read and write a node by its owner, group and mode (root always may). */
static bool may_rw(doc *d, const struct stat *st)
{
    if (d->uid == 0)
        return true;
    if ((long)st->st_uid == d->uid)
        return (st->st_mode & 0600) == 0600;
    bool in_group = false;
    if (d->cfg->uid < 0) {
        gid_t groups[256];
        int n = getgroups(256, groups);
        in_group = getegid() == st->st_gid;
        for (int i = 0; i < n && !in_group; i++)
            in_group = groups[i] == st->st_gid;
    }
    if (in_group)
        return (st->st_mode & 0060) == 0060;
    return (st->st_mode & 0006) == 0006;
}

static void check_board(doc *d, const cmboot_device_info *b, bool nodes_present)
{
    const char *pp = b->port_path;
    add(d, "board", CMBOOT_DOCTOR_INFO, pp, "%s in the %s stage at port %s (bus %u device %u)%s%s.",
        b->soc ? b->soc->name : "Raspberry Pi", cmboot_stage_name(b->stage), pp, b->busnum, b->devnum,
        b->serial[0] ? ", serial " : "", b->serial);
    if (b->stage == CMBOOT_STAGE_MASS_STORAGE)
        return; /* the disk belongs to usb-storage: nothing for cmboot to open */
    /* An interface held by a kernel driver: the transport detaches it, but say so. */
    int iface = 0;
    cmboot_vendor_endpoint(b->num_interfaces, &iface, NULL);
    char drv[64];
    if (cmb_sysfs_interface_driver(b->syspath, pp, iface, drv, sizeof drv) == CMBOOT_OK && strcmp(drv, "usbfs") != 0) {
        cmboot_doctor_finding *f =
            add(d, "kernel-driver", CMBOOT_DOCTOR_WARN, pp,
                "Interface %d of the board at %s is held by the kernel driver \"%s\".", iface, pp, drv);
        set_fix(f,
                "cmboot detaches it when it opens the board. If that fails, unbind it: "
                "echo -n '%s:1.%d' > /sys/bus/usb/drivers/%s/unbind",
                pp, iface, drv);
    }
    char node[PATH_MAX];
    cmb_usbfs_node_path(node, sizeof node, d->roots.dev, b->busnum, b->devnum);
    struct stat st;
    if (stat(node, &st) != 0) {
        if (nodes_present) {
            cmboot_doctor_finding *f = add(d, "node-missing", d->uid == 0 ? CMBOOT_DOCTOR_INFO : CMBOOT_DOCTOR_BLOCKER,
                                           pp, "The board at %s has no device node %s.", pp, node);
            set_fix(f, "%s",
                    d->uid == 0 ? "Nothing to do: cmboot makes a private node as root."
                                : "Run cmboot as root, or have mdev/udev create the node (mdev -s).");
        }
        return;
    }
    if (!may_rw(d, &st)) {
        char owner[160];
        describe_owner(&st, owner, sizeof owner);
        cmboot_doctor_finding *f =
            add(d, "permission", CMBOOT_DOCTOR_BLOCKER, pp,
                "Permission denied: %s (the board at %s) is %s, and user %ld may not open it read-write.", node, pp,
                owner, d->uid);
        set_fix(f, "Add a udev rule, e.g. /etc/udev/rules.d/60-cmboot.rules: " UDEV_RULE
                   " then: udevadm control --reload && udevadm trigger; add yourself to group plugdev. "
                   "With mdev, put this line in /etc/mdev.conf: " MDEV_LINE ". Or run cmboot as root.");
        return;
    }
    int fd = open(node, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int err = errno;
        cmboot_doctor_finding *f =
            add(d, "board-unopenable", CMBOOT_DOCTOR_BLOCKER, pp,
                "The board at %s is in boot mode in sysfs, but %s cannot be opened: %s.", pp, node, strerror(err));
        set_fix(f, "%s",
                cmb_error_from_errno(err) == CMBOOT_ERR_ACCESS
                    ? "A security module (SELinux, AppArmor) or a read-only mount refuses it; allow "
                      "cmboot access to /dev/bus/usb or run it unconfined."
                    : "Unplug and replug the board (or power-cycle the hub); if it keeps failing, check "
                      "dmesg for USB errors (cable, power, hub).");
        return;
    }
    close(fd);
}

static void check_boards(doc *d, bool nodes_present)
{
    char p[PATH_MAX];
    DIR *dir = opendir(under(p, sizeof p, d->roots.sys, "/bus/usb/devices"));
    if (!dir)
        return;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (!cmb_sysfs_is_device_name(de->d_name))
            continue;
        cmboot_device_info info;
        if (cmb_sysfs_read_device(d->roots.sys, de->d_name, &info, NULL, NULL) != CMBOOT_OK)
            continue;
        if (info.vid != CMBOOT_VID_BROADCOM || info.stage == CMBOOT_STAGE_UNKNOWN)
            continue;
        cmboot_doctor_report *r = d->rep;
        if (grow((void **)&r->boards, &r->board_cap, r->board_count, sizeof *r->boards))
            r->boards[r->board_count++] = info;
        else
            d->oom = true;
        check_board(d, &info, nodes_present);
    }
    closedir(dir);
    if (d->rep->board_count == 0) {
        cmboot_doctor_finding *f = add(d, "no-boards", CMBOOT_DOCTOR_INFO, NULL,
                                       "No Raspberry Pi in boot mode or mass-storage mode is connected now.");
        set_fix(f, "Put the board in USB boot mode (CM: nRPIBOOT/EMMC_DISABLE jumper; Pi 4/5: boot order or "
                   "button), connect its USB device port to this host, then run doctor again.");
    }
}

/* ---- last stage: usb-storage and sd ---- */

static void check_mass_storage(doc *d)
{
    char p[PATH_MAX];
    bool storage = is_dir(under(p, sizeof p, d->roots.sys, "/bus/usb/drivers/usb-storage")) ||
                   is_dir(under(p, sizeof p, d->roots.sys, "/bus/usb/drivers/uas"));
    bool sd = is_dir(under(p, sizeof p, d->roots.sys, "/bus/scsi/drivers/sd"));
    if (storage && sd) {
        add(d, "mass-storage-ok", CMBOOT_DOCTOR_OK, NULL,
            "usb-storage and SCSI disk support are loaded: the last stage will appear as a disk.");
        return;
    }
    char what[128] = "";
    char load[128] = "";
    bool loadable = true;
    if (!storage) {
        strcat(what, "usb-storage");
        if (module_available(d, "usb-storage"))
            strcat(load, " usb-storage");
        else
            loadable = false;
    }
    if (!sd) {
        strcat(what, what[0] ? " and SCSI disk (sd)" : "SCSI disk (sd)");
        if (module_available(d, "sd_mod"))
            strcat(load, " sd_mod");
        else
            loadable = false;
    }
    cmboot_doctor_finding *f = add(d, "mass-storage-missing", loadable ? CMBOOT_DOCTOR_INFO : CMBOOT_DOCTOR_WARN, NULL,
                                   "%s %s not active: booting works, but the board's eMMC will not appear as a "
                                   "disk in its last stage, so it cannot be flashed from this host.",
                                   what, storage || sd ? "is" : "are");
    if (loadable)
        set_fix(f, "The modules are installed: modprobe%s", load);
    else
        set_fix(f, "Enable CONFIG_USB_STORAGE, CONFIG_SCSI and CONFIG_BLK_DEV_SD in the kernel (y, or m and "
                   "modprobe usb-storage sd_mod).");
}

/* ---- can this kernel give the last stage a disk at all (usb-storage, sd_mod), or is fastboot the way ---- */

static void check_host_storage(doc *d)
{
    cmboot_host_module us = CMBOOT_MODULE_UNKNOWN, sd = CMBOOT_MODULE_UNKNOWN;
    if (cmboot_host_usb_storage(d->roots.sys, d->roots.proc, d->cfg->modules_dir, &us, &sd) != CMBOOT_OK)
        return;
    const char *un = cmboot_host_module_name(us), *sn = cmboot_host_module_name(sd);
    if (us == CMBOOT_MODULE_ABSENT || sd == CMBOOT_MODULE_ABSENT) {
        cmboot_doctor_finding *f =
            add(d, "usb-storage-absent", CMBOOT_DOCTOR_WARN, NULL,
                "This kernel has no %s (usb-storage: %s, sd_mod: %s): a board's mass-storage stage can never be a "
                "disk here, so `cmboot flash --via auto` flashes through the board's fastboot gadget instead.",
                us == CMBOOT_MODULE_ABSENT ? "usb-storage" : "SCSI disk support (sd_mod)", un, sn);
        set_fix(f, "this kernel has no usb-storage: flash through fastboot (--via fastboot) or load/build usb-storage "
                   "(CONFIG_USB_STORAGE, CONFIG_SCSI, CONFIG_BLK_DEV_SD).");
        return;
    }
    if (us == CMBOOT_MODULE_UNKNOWN || sd == CMBOOT_MODULE_UNKNOWN) {
        cmboot_doctor_finding *f = add(d, "usb-storage-unknown", CMBOOT_DOCTOR_INFO, NULL,
                                       "Cannot tell whether this kernel has usb-storage (usb-storage: %s, sd_mod: %s): "
                                       "no modules.builtin or modules.dep for it.",
                                       un, sn);
        set_fix(f, "Nothing to do unless flashing fails to find a disk; then see --via fastboot.");
        return;
    }
    add(d, "usb-storage", CMBOOT_DOCTOR_OK, NULL,
        "This kernel has usb-storage (%s) and SCSI disk support (sd_mod: %s): flashing can write a board's USB disk.",
        un, sn);
}

/* ---- libusb built with udev while udevd is not running: the field case ---- */

static bool udevd_running(doc *d)
{
    char p[PATH_MAX];
    if (exists(under(p, sizeof p, d->roots.run, "/udev/control")))
        return true;
    DIR *dir = opendir(d->roots.proc);
    if (!dir)
        return false;
    bool found = false;
    struct dirent *de;
    while (!found && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        char comm[64];
        char pdir[PATH_MAX];
        under(pdir, sizeof pdir, d->roots.proc, "/%s", de->d_name);
        if (cmb_sysfs_read_attr(pdir, "comm", comm, sizeof comm) == CMBOOT_OK)
            found = strcmp(comm, "systemd-udevd") == 0 || strcmp(comm, "udevd") == 0 || strcmp(comm, "eudev") == 0;
    }
    closedir(dir);
    return found;
}

static bool loaded_libusb_path(char *buf, size_t size)
{
#ifdef __linux__
    Dl_info info;
    void *sym = (void *)(uintptr_t)&libusb_init;
    if (dladdr(sym, &info) && info.dli_fname && info.dli_fname[0] == '/') {
        snprintf(buf, size, "%s", info.dli_fname);
        /* A static libusb resolves to our own program: it has no DT_NEEDED of its own to read. */
        return strstr(info.dli_fname, "libusb") != NULL;
    }
#else
    (void)buf;
    (void)size;
#endif
    return false;
}

static void check_libusb_udev(doc *d)
{
    char path[PATH_MAX];
    if (d->cfg->libusb_path)
        snprintf(path, sizeof path, "%s", d->cfg->libusb_path);
    else if (!loaded_libusb_path(path, sizeof path)) {
        add(d, "libusb-static", CMBOOT_DOCTOR_INFO, NULL,
            "libusb is linked into this program statically; how it was built could not be inspected.");
        return;
    }
    bool needs_udev = false;
    int rc = cmb_elf_needs(path, "libudev", &needs_udev);
    if (rc != CMBOOT_OK) {
        add(d, "libusb-unknown", CMBOOT_DOCTOR_INFO, NULL, "Could not inspect %s: %s.", path, cmboot_strerror(rc));
        return;
    }
    bool running = udevd_running(d);
    if (!needs_udev) {
        add(d, "libusb-udev-ok", CMBOOT_DOCTOR_OK, NULL,
            "libusb (%s) is built without udev: it watches kernel uevents itself.", path);
    } else if (running) {
        add(d, "libusb-udev-ok", CMBOOT_DOCTOR_OK, NULL, "libusb (%s) uses udev, and udevd is running.", path);
    } else {
        cmboot_doctor_finding *f =
            add(d, "libusb-udev-no-udevd", CMBOOT_DOCTOR_WARN, NULL,
                "libusb (%s) is built with udev, but udevd is not running. Tools that rely on libusb's device list "
                "never see a board plugged in after they start, nor its next boot stage: they wait forever while "
                "dmesg shows the board arriving. cmboot works regardless: its default discovery (--discovery=sysfs) "
                "reads sysfs and kernel uevents itself and does not need udev.",
                path);
        set_fix(f, "Nothing to do for cmboot (keep the default --discovery=sysfs; avoid --discovery=libusb here). "
                   "For other libusb tools: run a udev daemon (eudev or systemd-udevd), or use a libusb built "
                   "with --disable-udev (buildroot: BR2_PACKAGE_LIBUSB without udev).");
    }
}

/* ---- entry points ---- */

/* Size in release 0.2, the first with struct_size (docs/abi.md). */
#define DOCTOR_CONFIG_MIN CMB_SIZE_THROUGH(cmboot_doctor_config, boot_fallback_dirs)

int cmboot_doctor_config_init(cmboot_doctor_config *cfg, size_t struct_size)
{
    const cmboot_doctor_config d = {
        .struct_size = sizeof d, .uid = -1, .check_netlink = true, .check_boot_files = true};
    return cmb_struct_init(cfg, struct_size, &d, sizeof d, DOCTOR_CONFIG_MIN);
}

/* Boot files for every SoC, found as `cmboot boot` finds them: a SoC without them cannot be booted here. */
static void check_boot_files(doc *d)
{
    cmboot_files_config fc = {.struct_size = sizeof fc,
                              .boot_dir = d->cfg->boot_dir,
                              .default_dirs = d->cfg->boot_default_dirs,
                              .fallback_dirs = d->cfg->boot_fallback_dirs};
    cmboot_files *files = NULL;
    if (cmboot_files_new(&fc, &files) != CMBOOT_OK)
        return;
    unsigned usable = 0;
    for (int id = 0; id < CMBOOT_SOC_COUNT; id++) {
        const cmboot_soc_info *soc = cmboot_soc_by_id((cmboot_soc_id)id);
        char msg[1024], fid[40];
        snprintf(fid, sizeof fid, "boot-files-%s", soc->name);
        bool ok = cmboot_files_probe(files, soc, msg, sizeof msg) == CMBOOT_OK;
        usable += ok;
        cmboot_doctor_finding *f = add(d, fid, ok ? CMBOOT_DOCTOR_OK : CMBOOT_DOCTOR_WARN, NULL, "%.500s", msg);
        if (!ok)
            set_fix(f, "%s",
                    d->cfg->boot_dir ? "pass -d a payload directory for this SoC (e.g. from a usbboot clone)"
                                     : "apt install rpiboot, or clone https://github.com/raspberrypi/usbboot "
                                       "and pass -d usbboot/mass-storage-gadget64");
    }
    if (!usable)
        set_fix(add(d, "boot-files-none", CMBOOT_DOCTOR_BLOCKER, NULL,
                    "no boot files for any board: cmboot could not boot anything"),
                "apt install rpiboot (files in /usr/share/rpiboot), or clone https://github.com/raspberrypi/usbboot "
                "and pass -d usbboot/mass-storage-gadget64");
    cmboot_files_free(files);
}

static int board_by_port(const void *a, const void *b)
{
    return cmboot_port_path_compare(((const cmboot_device_info *)a)->port_path,
                                    ((const cmboot_device_info *)b)->port_path);
}

/* Boards in port path order, and the findings about boards in the same order: each board's findings keep
 * their order and the other findings their places (a stable insertion sort over the board findings' slots). */
static void sort_by_port(cmboot_doctor_report *r)
{
    if (r->board_count > 1)
        qsort(r->boards, r->board_count, sizeof r->boards[0], board_by_port);
    size_t prev = SIZE_MAX; /* the slot of the previous board finding */
    for (size_t i = 0; i < r->count; i++) {
        if (!r->findings[i]->device[0])
            continue;
        /* Move finding i back over board findings that sort after it, board slots only. */
        size_t cur = i, p = prev;
        while (p != SIZE_MAX && cmboot_port_path_compare(r->findings[p]->device, r->findings[cur]->device) > 0) {
            cmboot_doctor_finding *t = r->findings[p];
            r->findings[p] = r->findings[cur];
            r->findings[cur] = t;
            cur = p;
            size_t q = p;
            p = SIZE_MAX;
            while (q-- > 0)
                if (r->findings[q]->device[0]) {
                    p = q;
                    break;
                }
        }
        prev = i;
    }
}

int cmboot_doctor_run(const cmboot_doctor_config *caller_cfg, cmboot_doctor_report *report)
{
    if (!caller_cfg || !report)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_doctor_config full;
    cmboot_doctor_config_default(&full);
    int load = cmb_struct_load(&full, sizeof full, caller_cfg, DOCTOR_CONFIG_MIN);
    if (load != CMBOOT_OK)
        return load;
    const cmboot_doctor_config *cfg = &full;
    report_clear(report);
    doc *d = calloc(1, sizeof *d);
    if (!d)
        return CMBOOT_ERR_NO_MEMORY;
    d->cfg = cfg;
    d->rep = report;
    int rc = cmb_sysroot_init(&d->roots, cfg->sys_root, cfg->dev_root, cfg->proc_root, cfg->run_root);
    if (rc != CMBOOT_OK) {
        free(d);
        return rc; /* a root too long to be a path: a bad argument */
    }
    struct utsname un;
    snprintf(d->release, sizeof d->release, "%s", uname(&un) == 0 ? un.release : "unknown");
    d->uid = cfg->uid >= 0 ? cfg->uid : (long)geteuid();

    bool usb = check_usb_core(d);
    check_kconfig(d);
    check_netlink(d);
    if (usb) {
        bool nodes = false;
        check_usbfs(d, &nodes);
        check_boards(d, nodes);
        check_mass_storage(d); /* without USB at all, the blocker above says it all */
        check_host_storage(d);
    }
    check_libusb_udev(d);
    if (cfg->check_boot_files)
        check_boot_files(d);
    rc = d->oom ? CMBOOT_ERR_NO_MEMORY : CMBOOT_OK;
    sort_by_port(report);
    free(d);
    return rc;
}

cmboot_doctor_severity cmboot_doctor_worst(const cmboot_doctor_report *report)
{
    cmboot_doctor_severity worst = CMBOOT_DOCTOR_OK;
    for (size_t i = 0; report && i < report->count; i++)
        if (report->findings[i]->severity > worst)
            worst = report->findings[i]->severity;
    return worst;
}

const cmboot_doctor_finding *cmboot_doctor_find(const cmboot_doctor_report *report, const char *id)
{
    for (size_t i = 0; report && id && i < report->count; i++)
        if (strcmp(report->findings[i]->id, id) == 0)
            return report->findings[i];
    return NULL;
}

const char *cmboot_doctor_severity_name(cmboot_doctor_severity s)
{
    switch (s) {
    case CMBOOT_DOCTOR_OK: return "ok";
    case CMBOOT_DOCTOR_INFO: return "info";
    case CMBOOT_DOCTOR_WARN: return "warn";
    case CMBOOT_DOCTOR_BLOCKER: return "blocker";
    }
    return "?";
}
