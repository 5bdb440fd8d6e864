/* Pairing: the disk of a mass-storage board found through sysfs under the board's own USB port path. */
#include "flash_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/device.h"
#include "cmboot/error.h"
#include "core/sysroot.h"
#include "os/linux/uevent.h"

#define PAIR_BACKOFF_MIN_MS 10
#define PAIR_BACKOFF_MAX_MS 500
#define PAIR_SETTLE_MS 1500 /* no disk of the LUN / kind asked for this long: refused */

/* Whether the node opens (read-only, no O_EXCL: only a probe); other errors are left for the writer to report. */
static bool openable(const char *node)
{
    int fd = open(node, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    return errno != ENXIO && errno != ENOMEDIUM && errno != ENOENT;
}

/* Reads the first line of dir/attr, trailing blanks and newline cut; false when missing. */
static bool read_attr(const char *dir, const char *attr, char *out, size_t size)
{
    char p[PATH_MAX];
    out[0] = 0;
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, attr) >= sizeof p)
        return false;
    FILE *f = fopen(p, "re");
    if (!f)
        return false;
    bool ok = fgets(out, (int)size, f) != NULL;
    fclose(f);
    if (!ok)
        out[0] = 0;
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\t'))
        out[--n] = 0;
    return ok;
}

/* Whether the (lowercased) text holds word as a whole token (letters and digits around it end it). */
static bool has_token(const char *text, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = text; (p = strstr(p, word)) != NULL; p++) {
        bool left = p == text || !isalnum((unsigned char)p[-1]);
        bool right = !isalnum((unsigned char)p[wl]);
        if (left && right)
            return true;
    }
    return false;
}

cmb_disk_kind cmb_disk_kind_of(const char *vendor, const char *model)
{
    char t[64];
    snprintf(t, sizeof t, "%s %s", vendor ? vendor : "", model ? model : "");
    for (char *c = t; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    /* The usbboot gadget names each disk by its kernel device ("nvme0n1", "mmcblk0"); the emulator and other
     * gadgets put the kind in the model ("... NVMe", "... eMMC", "... SD"). */
    if (strstr(t, "nvme"))
        return CMB_DISK_NVME;
    if (strstr(t, "emmc") || strncmp(t, "rpi-msd-", 8) == 0) /* the legacy msd firmware exports the eMMC */
        return CMB_DISK_EMMC;
    if (has_token(t, "sd") || strstr(t, "sdcard") || strstr(t, "sd card"))
        return CMB_DISK_SD;
    if (strstr(t, "mmcblk")) /* eMMC or SD card: the device name does not tell */
        return CMB_DISK_MMC;
    return CMB_DISK_UNKNOWN;
}

const char *cmb_disk_kind_name(cmb_disk_kind k)
{
    switch (k) {
    case CMB_DISK_EMMC: return "eMMC";
    case CMB_DISK_NVME: return "NVMe";
    case CMB_DISK_SD: return "SD";
    case CMB_DISK_MMC: return "eMMC or SD";
    default: return "kind unknown";
    }
}

int cmb_disk_kind_parse(const char *name, cmb_disk_kind *out)
{
    if (!name) {
        *out = CMB_DISK_UNKNOWN;
        return CMBOOT_OK;
    }
    if (strcmp(name, "emmc") == 0)
        *out = CMB_DISK_EMMC;
    else if (strcmp(name, "nvme") == 0)
        *out = CMB_DISK_NVME;
    else if (strcmp(name, "sd") == 0)
        *out = CMB_DISK_SD;
    else
        return CMBOOT_ERR_INVALID_ARG;
    return CMBOOT_OK;
}

/* Whether a disk of kind `is` answers a request for `want` (an mmcblk disk may be either eMMC or SD). */
static bool kind_matches(cmb_disk_kind is, cmb_disk_kind want)
{
    return is == want || (is == CMB_DISK_MMC && (want == CMB_DISK_EMMC || want == CMB_DISK_SD));
}

int cmb_disk_describe(const char *blockdir, cmb_disk_info *d)
{
    memset(d, 0, sizeof *d);
    d->lun = -1;
    const char *slash = strrchr(blockdir, '/');
    if (!slash || strlen(slash + 1) >= sizeof d->name)
        return CMBOOT_ERR_INVALID_ARG;
    snprintf(d->name, sizeof d->name, "%s", slash + 1);
    char line[64];
    if (read_attr(blockdir, "size", line, sizeof line))
        d->sectors = strtoull(line, NULL, 10);
    /* blockdir is <H:C:T:L>/block/<name>: the SCSI device two levels up holds the address and INQUIRY strings */
    char real[PATH_MAX], hctl[PATH_MAX];
    if (!realpath(blockdir, real))
        return CMBOOT_ERR_NOT_FOUND;
    snprintf(hctl, sizeof hctl, "%s", real);
    for (int i = 0; i < 2; i++) {
        char *s = strrchr(hctl, '/');
        if (!s)
            return CMBOOT_ERR_NOT_FOUND;
        *s = 0;
    }
    const char *addr = strrchr(hctl, '/');
    addr = addr ? addr + 1 : hctl;
    unsigned h, c, t;
    unsigned long long l;
    char end;
    if (sscanf(addr, "%u:%u:%u:%llu%c", &h, &c, &t, &l, &end) == 4 && l <= INT_MAX)
        d->lun = (int)l;
    read_attr(hctl, "vendor", d->vendor, sizeof d->vendor);
    read_attr(hctl, "model", d->model, sizeof d->model);
    d->kind = cmb_disk_kind_of(d->vendor, d->model);
    return CMBOOT_OK;
}

/* "sdb (LUN 1, 64 MiB, \"nvme0n1\", NVMe)" appended to out. */
static void append_disk(char *out, size_t size, const cmb_disk_info *d, bool first)
{
    size_t n = strlen(out);
    if (n >= size)
        return;
    char strings[64];
    snprintf(strings, sizeof strings, "%s%s%s", d->vendor, d->vendor[0] && d->model[0] ? " " : "", d->model);
    char lun[24] = "LUN ?";
    if (d->lun >= 0)
        snprintf(lun, sizeof lun, "LUN %d", d->lun);
    snprintf(out + n, size - n, "%s%s (%s, %llu MiB, \"%s\", %s)", first ? "" : ", ", d->name, lun,
             (unsigned long long)(d->sectors / 2048), strings, cmb_disk_kind_name(d->kind));
}

static void list_disks(char *reason, size_t size, const char *lead, const cmb_disk_info *disks, size_t n,
                       const char *hint)
{
    if (!reason || size == 0)
        return;
    snprintf(reason, size, "%s", lead);
    for (size_t i = 0; i < n; i++)
        append_disk(reason, size, &disks[i], i == 0);
    size_t len = strlen(reason);
    if (len < size)
        snprintf(reason + len, size - len, "%s", hint);
}

#define PAIR_MAX_DISKS 16
/* GLOB_ONLYDIR is a GNU hint (glibc may still list other entries; sysfs has no files named like these patterns);
 * musl has no such flag. */
#ifdef GLOB_ONLYDIR
#define CMB_GLOB_DIRS GLOB_ONLYDIR
#else
#define CMB_GLOB_DIRS 0
#endif

/* Mass-storage interfaces of the board without a SCSI host yet: the gadget's other disks are still coming. */
static bool interfaces_pending(const char *sys, const char *pp)
{
    char pattern[PATH_MAX];
    if (cmb_path_join(pattern, sizeof pattern, sys, CMB_SYS_ROOT, "/bus/usb/devices/%s/%s:*", pp, pp) != CMBOOT_OK)
        return false;
    glob_t g;
    if (glob(pattern, GLOB_NOSORT | CMB_GLOB_DIRS, NULL, &g) != 0)
        return false;
    bool pending = false;
    for (size_t i = 0; i < g.gl_pathc && !pending; i++) {
        char cls[8], hosts[PATH_MAX];
        if (!read_attr(g.gl_pathv[i], "bInterfaceClass", cls, sizeof cls) || strcmp(cls, "08") != 0)
            continue;
        if ((size_t)snprintf(hosts, sizeof hosts, "%s/host*", g.gl_pathv[i]) >= sizeof hosts)
            continue;
        glob_t h;
        if (glob(hosts, GLOB_NOSORT, NULL, &h) == GLOB_NOMATCH)
            pending = true;
        globfree(&h);
    }
    globfree(&g);
    return pending;
}

/* SCSI disks of the board that have no block device yet: sd attaches each LUN on its own, so LUN 0's disk can
 * be there while LUN 1's is still probing. */
static bool luns_pending(const char *sys, const char *pp)
{
    char pattern[PATH_MAX];
    if (cmb_path_join(pattern, sizeof pattern, sys, CMB_SYS_ROOT, "/bus/usb/devices/%s/%s:*/host*/target*/*:*:*:*", pp,
                      pp) != CMBOOT_OK)
        return false;
    glob_t g;
    if (glob(pattern, GLOB_NOSORT | CMB_GLOB_DIRS, NULL, &g) != 0)
        return false;
    bool pending = false;
    for (size_t i = 0; i < g.gl_pathc && !pending; i++) {
        char type[8], blk[PATH_MAX];
        if (read_attr(g.gl_pathv[i], "type", type, sizeof type) && strcmp(type, "0") != 0)
            continue; /* not a direct-access device: never a disk */
        /* an entry inside block/, not the directory: the kernel makes the directory just before the disk */
        if ((size_t)snprintf(blk, sizeof blk, "%s/block/*", g.gl_pathv[i]) >= sizeof blk)
            continue;
        glob_t b;
        pending = glob(blk, GLOB_NOSORT, NULL, &b) != 0;
        globfree(&b);
    }
    globfree(&g);
    return pending;
}

/* One look at sysfs: 1 = the chosen disk is ready (its node in out), 0 = not yet, 2 = no disk matches (reason
 * set, *seen = how many disks there are), <0 = refused or error (reason set). */
static int scan(const char *sys, const char *dev, const char *pp, int lun, cmb_disk_kind kind, char *out,
                size_t out_size, char *reason, size_t reason_size, size_t *seen)
{
    char pattern[PATH_MAX];
    /* pp is a valid port path (digits, '-', '.'): nothing in it is a glob character */
    if (cmb_path_join(pattern, sizeof pattern, sys, CMB_SYS_ROOT, "/bus/usb/devices/%s/%s:*/host*/target*/*/block/*",
                      pp, pp) != CMBOOT_OK)
        return CMBOOT_ERR_TOO_LARGE;
    /* Before listing the disks: a disk that appears between the two looks is then in the list, never missed. */
    if (interfaces_pending(sys, pp) || luns_pending(sys, pp))
        return 0; /* another disk of this gadget may still appear: never decide on a part of the list */
    glob_t g;
    int r = glob(pattern, 0, NULL, &g); /* sorted: the list in a refusal reads in order */
    if (r == GLOB_NOMATCH)
        return 0;
    if (r != 0)
        return CMBOOT_ERR_NO_MEMORY;
    size_t n = g.gl_pathc < PAIR_MAX_DISKS ? g.gl_pathc : PAIR_MAX_DISKS;
    cmb_disk_info *disks = calloc(n, sizeof *disks);
    if (!disks) {
        globfree(&g);
        return CMBOOT_ERR_NO_MEMORY;
    }
    size_t matches = 0, chosen = 0;
    for (size_t i = 0; i < n; i++) {
        cmb_disk_describe(g.gl_pathv[i], &disks[i]);
        bool match =
            (lun < 0 || disks[i].lun == lun) && (kind == CMB_DISK_UNKNOWN || kind_matches(disks[i].kind, kind));
        if (match) {
            if (matches == 0)
                chosen = i;
            matches++;
        }
    }
    globfree(&g);
    int rc = 0;
    char lead[96];
    bool any = lun < 0 && kind == CMB_DISK_UNKNOWN;
    *seen = n;
    if (matches > 1) {
        snprintf(lead, sizeof lead, "%zu disks under port %s%s: ", matches, pp, any ? "" : " match");
        list_disks(reason, reason_size, lead, disks, n,
                   "; choose one with --lun N or --target-kind emmc|nvme|sd (or give --target)");
        rc = CMBOOT_ERR_UNSAFE_TARGET; /* never guess between disks */
    } else if (matches == 0) {
        char want[64] = "";
        if (lun >= 0)
            snprintf(want, sizeof want, "LUN %d", lun);
        if (kind != CMB_DISK_UNKNOWN)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s disk", lun >= 0 ? " " : "",
                     cmb_disk_kind_name(kind));
        snprintf(lead, sizeof lead, "no %s under port %s; there: ", want, pp);
        list_disks(reason, reason_size, lead, disks, n,
                   kind != CMB_DISK_UNKNOWN ? "; if the strings do not tell the kind, choose by --lun N" : "");
        rc = 2; /* the caller refuses once the list has been the same for a while */
    } else {
        char p[PATH_MAX];
        /* Ready once the medium has a size, devtmpfs/udev made the node and the kernel lets it be opened:
         * ENXIO/ENOMEDIUM while sd is still probing or in error recovery (the writer's one open would fail). */
        if (disks[chosen].sectors > 0 &&
            cmb_path_join(p, sizeof p, dev, CMB_DEV_ROOT, "/%s", disks[chosen].name) == CMBOOT_OK && openable(p)) {
            if ((size_t)snprintf(out, out_size, "%s", p) >= out_size)
                rc = CMBOOT_ERR_TOO_LARGE;
            else
                rc = 1;
        }
    }
    free(disks);
    return rc;
}

int cmb_disk_check_choice(const cmboot_target_env *env, const char *disk, int lun, const char *target_kind,
                          char *reason, size_t reason_size)
{
    cmb_disk_kind kind;
    if (!disk || cmb_disk_kind_parse(target_kind, &kind) != CMBOOT_OK)
        return CMBOOT_ERR_INVALID_ARG;
    if (lun < 0 && kind == CMB_DISK_UNKNOWN)
        return CMBOOT_OK;
    char p[PATH_MAX];
    if (cmb_path_join(p, sizeof p, env ? env->sys_root : NULL, CMB_SYS_ROOT, "/class/block/%s", disk) != CMBOOT_OK)
        return CMBOOT_ERR_TOO_LARGE;
    cmb_disk_info d;
    if (cmb_disk_describe(p, &d) != CMBOOT_OK) {
        snprintf(reason, reason_size, "cannot read the SCSI address of %s to check its LUN and kind; nothing written",
                 disk);
        return CMBOOT_ERR_UNSAFE_TARGET;
    }
    if ((lun >= 0 && d.lun != lun) || (kind != CMB_DISK_UNKNOWN && !kind_matches(d.kind, kind))) {
        char lunbuf[16] = "";
        if (lun >= 0)
            snprintf(lunbuf, sizeof lunbuf, "LUN %d", lun);
        char head[128];
        snprintf(head, sizeof head, "the disk opened is not the one chosen (%s%s%s): ", lunbuf,
                 lun >= 0 && kind != CMB_DISK_UNKNOWN ? ", " : "",
                 kind != CMB_DISK_UNKNOWN ? cmb_disk_kind_name(kind) : "");
        list_disks(reason, reason_size, head, &d, 1, "; nothing written");
        return CMBOOT_ERR_UNSAFE_TARGET;
    }
    return CMBOOT_OK;
}

int cmboot_flash_pair(const cmboot_target_env *env, const char *port_path, int64_t deadline_ms, char *out,
                      size_t out_size)
{
    return cmboot_flash_pair_select(env, port_path, -1, NULL, deadline_ms, NULL, out, out_size, NULL, 0);
}

int cmboot_flash_pair_cancellable(const cmboot_target_env *env, const char *port_path, int64_t deadline_ms,
                                  cmboot_flash_canceller *cancel, char *out, size_t out_size)
{
    return cmboot_flash_pair_select(env, port_path, -1, NULL, deadline_ms, cancel, out, out_size, NULL, 0);
}

int cmboot_flash_pair_select(const cmboot_target_env *env, const char *port_path, int lun, const char *target_kind,
                             int64_t deadline_ms, cmboot_flash_canceller *cancel, char *out, size_t out_size,
                             char *reason, size_t reason_size)
{
    if (reason && reason_size)
        reason[0] = 0;
    cmb_disk_kind kind;
    if (!port_path || !out || out_size == 0 || !cmboot_port_path_valid(port_path) || lun < -1 ||
        cmb_disk_kind_parse(target_kind, &kind) != CMBOOT_OK)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_target_env e;
    int load = cmb_target_env_load(env, &e); /* up to its struct_size (docs/abi.md) */
    if (load != CMBOOT_OK)
        return load;
    env = &e;
    const char *sys = cmb_root_or(env->sys_root, CMB_SYS_ROOT);
    const char *dev = cmb_root_or(env->dev_root, CMB_DEV_ROOT);
    /* Kernel uevents wake us when a disk appears; without them (containers) the back-off rescans. */
    int fd = cmb_uevent_socket_open();
    int backoff = PAIR_BACKOFF_MIN_MS;
    int64_t nomatch_since = -1;
    size_t nomatch_disks = 0;
    int rc;
    for (;;) {
        if (cmboot_flash_cancel_requested(cancel)) {
            rc = CMBOOT_ERR_CANCELLED;
            break;
        }
        size_t seen = 0;
        rc = scan(sys, dev, port_path, lun, kind, out, out_size, reason, reason_size, &seen);
        if (rc == 2) {
            /* None matches: a disk may still be on its way (another LUN), so refuse only once the same
             * number of disks has been there for PAIR_SETTLE_MS. */
            int64_t now = cmboot_now_ms();
            if (seen != nomatch_disks || nomatch_since < 0) {
                nomatch_disks = seen;
                nomatch_since = now;
            } else if (now - nomatch_since >= PAIR_SETTLE_MS) {
                rc = CMBOOT_ERR_NOT_FOUND;
                break;
            }
            rc = 0;
        } else {
            nomatch_since = -1;
        }
        if (rc != 0)
            break;
        int64_t left = deadline_ms - cmboot_now_ms();
        if (left <= 0) {
            rc = nomatch_since >= 0 ? CMBOOT_ERR_NOT_FOUND : CMBOOT_ERR_TIMEOUT; /* the reason lists the disks */
            break;
        }
        int wait = backoff < left ? backoff : (int)left;
        /* Slot 0: uevents (skipped when fd < 0); slot 1: the canceller's eventfd (skipped when -1). */
        struct pollfd pfd[2] = {{fd, POLLIN, 0}, {cmb_flash_cancel_fd(cancel), POLLIN, 0}};
        int pr = poll(pfd, 2, wait);
        if (pr < 0 && errno != EINTR) {
            rc = CMBOOT_ERR_IO;
            break;
        }
        if (pr > 0 && fd >= 0 && (pfd[0].revents & POLLIN) && cmb_uevent_drain_for(fd, true, "block"))
            backoff = PAIR_BACKOFF_MIN_MS; /* something changed: look again soon */
        else if (backoff < PAIR_BACKOFF_MAX_MS)
            backoff *= 2;
    }
    if (fd >= 0)
        close(fd);
    if (rc == 1 && reason && reason_size)
        reason[0] = 0; /* an earlier look's list no longer applies */
    return rc == 1 ? CMBOOT_OK : rc;
}

/* A small unsigned number from a sysfs file; false when absent or not a number. */
static bool read_uint(const char *path, unsigned long *out)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    char buf[32];
    bool ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    char *end = NULL;
    errno = 0;
    unsigned long v = ok ? strtoul(buf, &end, 10) : 0;
    if (!ok || errno || end == buf || (*end && *end != '\n'))
        return false;
    *out = v;
    return true;
}

static bool write_uint(const char *path, unsigned long v)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lu\n", v);
    bool ok = write(fd, buf, (size_t)n) == n;
    return close(fd) == 0 && ok;
}

int cmb_disk_raise_transfer(const char *sys_root, const char *disk, unsigned long want, char *msg, size_t msg_size)
{
    char dev_ms[PATH_MAX], soft[PATH_MAX], hard[PATH_MAX], segs[PATH_MAX], seg_size[PATH_MAX];
    msg[0] = 0;
    if (!disk || strchr(disk, '/') || want == 0)
        return CMBOOT_ERR_INVALID_ARG;
    if (cmb_path_join(dev_ms, sizeof dev_ms, sys_root, CMB_SYS_ROOT, "/class/block/%s/device/max_sectors", disk) ||
        cmb_path_join(soft, sizeof soft, sys_root, CMB_SYS_ROOT, "/class/block/%s/queue/max_sectors_kb", disk) ||
        cmb_path_join(hard, sizeof hard, sys_root, CMB_SYS_ROOT, "/class/block/%s/queue/max_hw_sectors_kb", disk) ||
        cmb_path_join(segs, sizeof segs, sys_root, CMB_SYS_ROOT, "/class/block/%s/queue/max_segments", disk) ||
        cmb_path_join(seg_size, sizeof seg_size, sys_root, CMB_SYS_ROOT, "/class/block/%s/queue/max_segment_size",
                      disk))
        return CMBOOT_ERR_TOO_LARGE;
    unsigned long before = 0;
    if (!read_uint(dev_ms, &before)) {
        /* only usb-storage has it (UAS and others set their own limit) */
        snprintf(msg, msg_size, "%s has no usb-storage max_sectors: transfer size left as the kernel set it", disk);
        return CMBOOT_ERR_UNSUPPORTED;
    }
    /* The host's scatter-gather list bounds one command: never ask beyond it. */
    unsigned long nseg = 0, segsz = 0;
    if (read_uint(segs, &nseg) && read_uint(seg_size, &segsz) && nseg > 0 && segsz >= 512 &&
        nseg * (segsz / 512) < want)
        want = nseg * (segsz / 512);
    unsigned long after = before;
    int err = 0;
    if (before < want) {
        if (write_uint(dev_ms, want))
            after = read_uint(dev_ms, &after) ? after : want;
        else
            err = errno ? errno : EIO;
    }
    /* The block queue's own limit (max_sectors_kb) follows the device's up to a kernel default; raise it to
     * the same size, within max_hw_sectors_kb. */
    unsigned long soft_before = 0, soft_after = 0, hw = 0;
    bool have_soft = read_uint(soft, &soft_before);
    soft_after = soft_before;
    if (have_soft && read_uint(hard, &hw)) {
        unsigned long kb = (after < want ? after : want) / 2;
        if (kb > hw)
            kb = hw;
        if (soft_before < kb) {
            if (write_uint(soft, kb))
                soft_after = read_uint(soft, &soft_after) ? soft_after : kb;
            else if (!err)
                err = errno ? errno : EIO;
        }
    }
    int n = snprintf(msg, msg_size, "%s: max_sectors %lu", disk, before);
    if (n >= 0 && (size_t)n < msg_size && after != before)
        n += snprintf(msg + n, msg_size - (size_t)n, " -> %lu", after);
    if (n >= 0 && (size_t)n < msg_size && have_soft)
        n += snprintf(msg + n, msg_size - (size_t)n, ", max_sectors_kb %lu", soft_before);
    if (n >= 0 && (size_t)n < msg_size && soft_after != soft_before)
        n += snprintf(msg + n, msg_size - (size_t)n, " -> %lu", soft_after);
    if (n >= 0 && (size_t)n < msg_size && err)
        snprintf(msg + n, msg_size - (size_t)n, " (could not raise to %lu sectors: %s)", want, strerror(err));
    return err ? CMBOOT_ERR_ACCESS : CMBOOT_OK;
}
