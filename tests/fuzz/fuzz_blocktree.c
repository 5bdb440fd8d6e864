/* libFuzzer target: target safety and pairing on a fake machine (src/flash/target.c, src/flash/pair.c):
 * /proc/self/mountinfo from the input, a sysfs block tree (a USB disk, a SATA disk, a dm device on the SATA
 * disk) extended by records from the input (tests/fuzz/fuzz_util.h), then the checks and the pairing scan.
 * Invariant on the unextended tree: a disk that holds the host's "/" (directly, through a partition, or under
 * a dm device) is never accepted, whatever else mountinfo says. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/device.h"
#include "cmboot/error.h"
#include "flash/flash_internal.h"
#include "fuzz_util.h"

#define USBDEV "devices/pci0000:00/usb1/1-1"
#define SDA USBDEV "/1-1:1.0/host0/target0:0:0/0:0:0:0/block/sda"
#define SDB "devices/pci0000:00/ata1/host1/target1:0:0/1:0:0:0/block/sdb"
#define DM "devices/virtual/block/dm-0"

static const char *const names[] = {
    "sys",       "dev",       "block",      "class", "bus",     "usb",   "devices",     "8:0",     "8:1",
    "8:16",      "253:0",     "sda",        "sda1",  "sdb",     "sdb1",  "dm-0",        "slaves",  "holders",
    "partition", "size",      "subsystem",  "1-1",   "1-1:1.0", "host0", "target0:0:0", "0:0:0:0", "proc",
    "self",      "mountinfo", "pci0000:00", "usb1",  "virtual", "sdc",   "8:32"};

static void file(const char *root, const char *rel, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    fuzz_mkdirs(p, 0);
    fuzz_write_file(p, text, strlen(text));
}

static void dir(const char *root, const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    fuzz_mkdirs(p, 1);
}

static void link_rel(const char *root, const char *rel, const char *target)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    fuzz_mkdirs(p, 0);
    if (symlink(target, p) != 0)
        fuzz_fail("cannot link the base tree");
}

static void base_tree(const char *r)
{
    file(r, "sys/" SDA "/dev", "8:0\n");
    file(r, "sys/" SDA "/size", "2000000\n");
    file(r, "sys/" SDA "/sda1/dev", "8:1\n");
    file(r, "sys/" SDA "/sda1/partition", "1\n");
    file(r, "sys/" SDA "/sda1/size", "1000\n");
    dir(r, "sys/" SDA "/holders");
    dir(r, "sys/" SDA "/sda1/holders");
    dir(r, "sys/bus/usb");
    link_rel(r, "sys/" USBDEV "/subsystem", "../../../../bus/usb");
    link_rel(r, "sys/bus/usb/devices/1-1", "../../../" USBDEV);
    file(r, "sys/" SDB "/dev", "8:16\n");
    file(r, "sys/" SDB "/size", "8000000\n");
    file(r, "sys/" SDB "/sdb1/dev", "8:17\n");
    file(r, "sys/" SDB "/sdb1/partition", "1\n");
    dir(r, "sys/" SDB "/sdb1/holders");
    file(r, "sys/" DM "/dev", "253:0\n");
    file(r, "sys/" DM "/size", "7000000\n");
    link_rel(r, "sys/" DM "/slaves/sdb1", "../../../../pci0000:00/ata1/host1/target1:0:0/1:0:0:0/block/sdb/sdb1");
    link_rel(r, "sys/dev/block/8:0", "../../" SDA);
    link_rel(r, "sys/dev/block/8:1", "../../" SDA "/sda1");
    link_rel(r, "sys/dev/block/8:16", "../../" SDB);
    link_rel(r, "sys/dev/block/8:17", "../../" SDB "/sdb1");
    link_rel(r, "sys/dev/block/253:0", "../../" DM);
    link_rel(r, "sys/class/block/sda", "../../" SDA);
    link_rel(r, "sys/class/block/sda1", "../../" SDA "/sda1");
    link_rel(r, "sys/class/block/sdb", "../../" SDB);
    link_rel(r, "sys/class/block/sdb1", "../../" SDB "/sdb1");
    link_rel(r, "sys/class/block/dm-0", "../../" DM);
    file(r, "dev/sda", "");
    file(r, "dev/sdb", "");
}

typedef struct devnum {
    unsigned maj, min;
    int family; /* 0: sda, 1: sdb, 2: dm-0 (on sdb1), -1 unknown */
} devnum;

static const devnum devs[] = {{8, 0, 0}, {8, 1, 0}, {8, 16, 1}, {8, 17, 1}, {253, 0, 2}, {8, 32, -1}};

static int family_of(unsigned maj, unsigned min)
{
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
        if (devs[i].maj == maj && devs[i].min == min)
            return devs[i].family;
    return -1;
}

/* Whether writing the target's disk destroys a file system mounted from mount_family, in both directions of a
 * dm stack (issue 9 item 4: a dm target over the disk of a mount counts too). */
static int covers(int target, int mount)
{
    if (target < 0 || mount < 0)
        return 0;
    if (target == mount || (target == 1 && mount == 2))
        return 1;
    return target == 2 && mount == 1;
}

/* Whether a plain, well-formed mountinfo line (as the kernel writes them) mounts "/" from a device that the
 * target of `family` covers: the case the check exists for. */
static int root_on_family(const char *text, int family)
{
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[512];
        if (len < sizeof buf) {
            memcpy(buf, line, len);
            buf[len] = 0;
            unsigned id, parent, maj, min;
            char root[256], point[256];
            int n = 0;
            if (sscanf(buf, "%u %u %u:%u %255s %255s%n", &id, &parent, &maj, &min, root, point, &n) == 6 && n > 0 &&
                (buf[n] == ' ' || buf[n] == 0) && strcmp(point, "/") == 0 && buf[0] != ' ' &&
                covers(family, family_of(maj, min)))
                return 1;
        }
        if (!end)
            break;
        line = end + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    char top[PATH_MAX], root[PATH_MAX];
    snprintf(top, sizeof top, "%s/t", fuzz_scratch());
    snprintf(root, sizeof root, "%s/a/b/root", top); /* links of records go at most 3 levels up */
    fuzz_rm_tree(top);
    base_tree(root);
    /* mountinfo: a 16-bit length, then the text (NULs kept: the file is what it is) */
    size_t mlen = fuzz_u16(&in);
    const uint8_t *m;
    mlen = fuzz_bytes(&in, mlen, &m);
    char *mtext = malloc(mlen + 1);
    if (!mtext)
        return 0;
    memcpy(mtext, m, mlen);
    mtext[mlen] = 0;
    char mi[PATH_MAX];
    snprintf(mi, sizeof mi, "%s/proc/self/mountinfo", root);
    fuzz_mkdirs(mi, 0);
    fuzz_write_file(mi, m, mlen);
    bool extended = flags & 0x80;
    if (extended)
        fuzz_tree_build(&in, root, names, sizeof names / sizeof names[0]);

    char sys[PATH_MAX], proc[PATH_MAX], dev[PATH_MAX];
    snprintf(sys, sizeof sys, "%s/sys", root);
    snprintf(proc, sizeof proc, "%s/proc", root);
    snprintf(dev, sizeof dev, "%s/dev", root);
    cmboot_target_env env = {sizeof env, proc, sys, dev};
    const devnum *d = &devs[(flags & 7) % (sizeof devs / sizeof devs[0])];
    unsigned tflags = CMBOOT_TARGET_NO_EXCL | (flags & 8 ? CMBOOT_TARGET_FORCE : 0);
    uint64_t image = flags & 0x10 ? 0 : flags & 0x20 ? 512 * 1000ull : 1ull << 40;
    char reason[256];
    static const char *const want_ports[] = {NULL, "1-1", "1-1.2"};
    cmboot_target_identity id;
    /* diskseq and size as the descriptor would give them: unknown (0) or a value sysfs may contradict. */
    uint64_t fd_seq = flags & 0x40 ? 7 : 0;
    int rc = cmb_target_check_blockdev(&env, d->maj, d->min, fd_seq, 0, want_ports[(flags >> 3) % 3], image, tflags,
                                       &id, reason, sizeof reason);
    if (strnlen(reason, sizeof reason) == sizeof reason)
        fuzz_fail("reason not terminated");
    if (!extended && rc == CMBOOT_OK && d->family >= 0 && root_on_family(mtext, d->family)) {
        fprintf(stderr, "target %u:%u accepted although mountinfo mounts / from its disk\n", d->maj, d->min);
        fuzz_fail("the host's root disk was accepted as a target");
    }
    char out[PATH_MAX];
    static const char *const ports[] = {"1-1", "1-1.2", "2-1"};
    int prc = cmboot_flash_pair(&env, ports[(flags >> 5) % 3], cmboot_now_ms() - 1, out, sizeof out);
    if (prc == CMBOOT_OK && strncmp(out, dev, strlen(dev)) != 0)
        fuzz_fail("paired node outside the dev directory");
    free(mtext);
    return 0;
}
