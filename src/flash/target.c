/* Target safety and identity: opened once, every check on that descriptor, the disk remembered to re-check. */
#include "flash_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "core/error_map.h"
#include "core/sysroot.h"
#include "os/linux/sysfs_usb.h"

#define MAX_PARTS 128
#define MAX_SLAVE_DEPTH 8
#define MAX_STACK 32 /* devices met walking one dm/md stack */

#ifndef BLKGETDISKSEQ
#define BLKGETDISKSEQ _IOR(0x12, 128, uint64_t) /* Linux 5.15 */
#endif

typedef struct blockdev {
    unsigned maj, min;
    char name[64];
} blockdev;

struct cmboot_target {
    int fd;
    int dirfd;      /* directory of a file we created (to remove it on failure), else -1 */
    char base[256]; /* that file's name */
    cmboot_target_identity id;
    char sys[PATH_MAX];    /* sysfs root, resolved ("" for a read-only open) */
    char sysdir[PATH_MAX]; /* /sys/dev/block/MAJ:MIN resolved when checked */
};

typedef struct disk_info {
    char dir[PATH_MAX]; /* sysfs directory of the whole disk */
    char name[64];
    blockdev devs[MAX_PARTS + 1]; /* the disk and its partitions */
    size_t ndevs;
} disk_info;

static int refuse(char *reason, size_t size, int err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(char *reason, size_t size, int err, const char *fmt, ...)
{
    if (reason && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, size, fmt, ap);
        va_end(ap);
    }
    return err;
}

static bool read_line(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(out, (int)size, f) != NULL;
    fclose(f);
    if (ok)
        out[strcspn(out, "\n")] = 0;
    return ok;
}

static bool path_exists(const char *dir, const char *name)
{
    char p[PATH_MAX];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p)
        return false;
    return access(p, F_OK) == 0;
}

static bool read_devnum(const char *dir, unsigned *maj, unsigned *min)
{
    char p[PATH_MAX], line[64];
    if ((size_t)snprintf(p, sizeof p, "%s/dev", dir) >= sizeof p || !read_line(p, line, sizeof line))
        return false;
    return sscanf(line, "%u:%u", maj, min) == 2;
}

/* sysfs directory of a block device number; false when unknown. */
static bool sysdir_of(const char *sys, unsigned maj, unsigned min, char *out)
{
    char p[PATH_MAX];
    if (cmb_path_join(p, sizeof p, sys, CMB_SYS_ROOT, "/dev/block/%u:%u", maj, min) != CMBOOT_OK)
        return false;
    return realpath(p, out) != NULL;
}

/* Whole-disk directory for a disk or partition directory. */
static void disk_dir_of(const char *dir, char *out)
{
    snprintf(out, PATH_MAX, "%s", dir);
    if (path_exists(dir, "partition")) {
        char *slash = strrchr(out, '/');
        if (slash)
            *slash = 0;
    }
}

static void load_disk(const char *diskdir, disk_info *d)
{
    snprintf(d->dir, sizeof d->dir, "%s", diskdir);
    const char *slash = strrchr(diskdir, '/');
    if ((size_t)snprintf(d->name, sizeof d->name, "%s", slash ? slash + 1 : diskdir) >= sizeof d->name)
        d->name[sizeof d->name - 1] = 0;
    d->ndevs = 0;
    if (read_devnum(diskdir, &d->devs[0].maj, &d->devs[0].min)) {
        snprintf(d->devs[0].name, sizeof d->devs[0].name, "%s", d->name);
        d->ndevs = 1;
    }
    DIR *dir = opendir(diskdir);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL && d->ndevs < MAX_PARTS + 1) {
        if (e->d_name[0] == '.')
            continue;
        char sub[PATH_MAX];
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", diskdir, e->d_name) >= sizeof sub)
            continue;
        blockdev *b = &d->devs[d->ndevs];
        if (path_exists(sub, "partition") && read_devnum(sub, &b->maj, &b->min) &&
            (size_t)snprintf(b->name, sizeof b->name, "%s", e->d_name) < sizeof b->name)
            d->ndevs++;
    }
    closedir(dir);
}

/* Devices met walking down a dm/md stack through slaves/: whole-disk directories. */
typedef struct stack_set {
    char dirs[MAX_STACK][PATH_MAX];
    size_t n;
} stack_set;

static void stack_add(stack_set *s, const char *dir)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->dirs[i], dir) == 0)
            return;
    }
    if (s->n < MAX_STACK)
        snprintf(s->dirs[s->n++], PATH_MAX, "%s", dir);
}

/* Adds the disk of `dir` and, through slaves/ of the device and of its disk, every device below it. */
static void stack_collect(const char *dir, stack_set *s, int depth)
{
    if (depth > MAX_SLAVE_DEPTH)
        return;
    char whole[PATH_MAX];
    disk_dir_of(dir, whole);
    stack_add(s, whole);
    const char *levels[2] = {dir, whole};
    for (int l = 0; l < (strcmp(dir, whole) == 0 ? 1 : 2); l++) {
        char slaves[PATH_MAX];
        if ((size_t)snprintf(slaves, sizeof slaves, "%s/slaves", levels[l]) >= sizeof slaves)
            continue;
        DIR *d = opendir(slaves);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char link[PATH_MAX], real[PATH_MAX];
            if ((size_t)snprintf(link, sizeof link, "%s/%s", slaves, e->d_name) < sizeof link && realpath(link, real))
                stack_collect(real, s, depth + 1);
        }
        closedir(d);
    }
}

/* A device both stacks rest on, or NULL. */
static const char *stack_shared(const stack_set *a, const stack_set *b)
{
    for (size_t i = 0; i < a->n; i++) {
        for (size_t j = 0; j < b->n; j++) {
            if (strcmp(a->dirs[i], b->dirs[j]) == 0)
                return a->dirs[i];
        }
    }
    return NULL;
}

typedef struct mount_entry {
    unsigned maj, min;
    char point[PATH_MAX];
    char source[PATH_MAX];
} mount_entry;

/* Parses one mountinfo line: "id parent MAJ:MIN root point opts [tags] - fstype source superopts". */
static bool parse_mountinfo(char *line, mount_entry *m)
{
    char root[PATH_MAX];
    if (sscanf(line, "%*s %*s %u:%u %4095s %4095s", &m->maj, &m->min, root, m->point) != 4)
        return false;
    m->source[0] = 0;
    char *sep = strstr(line, " - ");
    if (sep)
        sscanf(sep + 3, "%*s %4095s", m->source);
    return true;
}

/* sysfs directory of a mount: by device number, else by a /dev/NAME source (major 0 file systems). */
static bool mount_sysdir(const char *sys, const mount_entry *m, char *out)
{
    if (m->maj != 0 && sysdir_of(sys, m->maj, m->min, out))
        return true;
    if (strncmp(m->source, "/dev/", 5) == 0) {
        const char *name = strrchr(m->source, '/') + 1;
        char p[PATH_MAX];
        if (cmb_path_join(p, sizeof p, sys, CMB_SYS_ROOT, "/class/block/%s", name) == CMBOOT_OK && realpath(p, out))
            return true;
    }
    return false;
}

static bool is_host_mount(const char *point)
{
    return strcmp(point, "/") == 0 || strcmp(point, "/boot") == 0 || strcmp(point, "/boot/firmware") == 0 ||
           strcmp(point, "/boot/efi") == 0 || strcmp(point, "/usr") == 0;
}

/* The host's file systems, followed down their stacks and down the target's: never a shared device. Then
 * the target's disk and partitions must not be mounted. */
static int check_mounts(const cmboot_target_env *env, const disk_info *d, const char *target_dir, char *reason,
                        size_t size)
{
    const char *sys = cmb_root_or(env ? env->sys_root : NULL, CMB_SYS_ROOT);
    char path[PATH_MAX];
    if (cmb_path_join(path, sizeof path, env ? env->proc_root : NULL, CMB_PROC_ROOT, "/self/mountinfo") != CMBOOT_OK)
        return refuse(reason, size, CMBOOT_ERR_UNSAFE_TARGET, "the proc root is too long to check mounts");
    FILE *f = fopen(path, "re");
    if (!f)
        return refuse(reason, size, CMBOOT_ERR_UNSAFE_TARGET, "cannot read %s to check mounts: %s", path,
                      strerror(errno));
    stack_set *mine = calloc(1, sizeof *mine), *theirs = calloc(1, sizeof *theirs);
    if (!mine || !theirs) {
        free(mine);
        free(theirs);
        fclose(f);
        return CMBOOT_ERR_NO_MEMORY;
    }
    stack_collect(target_dir, mine, 0);
    stack_add(mine, d->dir);
    char line[3 * PATH_MAX];
    mount_entry m;
    int rc = CMBOOT_OK;
    char mounted_note[PATH_MAX + 128] = "";
    while (rc == CMBOOT_OK && fgets(line, sizeof line, f)) {
        if (!parse_mountinfo(line, &m))
            continue;
        char dir[PATH_MAX];
        bool known = mount_sysdir(sys, &m, dir);
        if (is_host_mount(m.point) && known) {
            theirs->n = 0;
            stack_collect(dir, theirs, 0);
            const char *shared = stack_shared(mine, theirs);
            if (shared) {
                const char *via = strrchr(shared, '/') + 1;
                if (strcmp(shared, d->dir) == 0)
                    rc = refuse(reason, size, CMBOOT_ERR_UNSAFE_TARGET,
                                "%s holds the host's %s file system; never writing it", d->name, m.point);
                else
                    rc = refuse(reason, size, CMBOOT_ERR_UNSAFE_TARGET,
                                "%s rests on %s, which holds the host's %s file system; never writing it", d->name, via,
                                m.point);
                break;
            }
        }
        if (mounted_note[0])
            continue;
        for (size_t i = 0; i < d->ndevs; i++) {
            bool same = (m.maj == d->devs[i].maj && m.min == d->devs[i].min) ||
                        (known && strncmp(dir, d->dir, strlen(d->dir)) == 0 &&
                         (dir[strlen(d->dir)] == 0 || dir[strlen(d->dir)] == '/') &&
                         strcmp(strrchr(dir, '/') + 1, d->devs[i].name) == 0);
            if (same) {
                snprintf(mounted_note, sizeof mounted_note, "%s is mounted at %s; unmount it first", d->devs[i].name,
                         m.point);
                break;
            }
        }
    }
    fclose(f);
    free(mine);
    free(theirs);
    if (rc == CMBOOT_OK && mounted_note[0])
        rc = refuse(reason, size, CMBOOT_ERR_UNSAFE_TARGET, "%s", mounted_note);
    return rc;
}

static int check_holders(const disk_info *d, char *reason, size_t size)
{
    for (size_t i = 0; i < d->ndevs; i++) {
        char p[PATH_MAX];
        if (i == 0)
            snprintf(p, sizeof p, "%s/holders", d->dir);
        else if ((size_t)snprintf(p, sizeof p, "%s/%s/holders", d->dir, d->devs[i].name) >= sizeof p)
            continue;
        DIR *dir = opendir(p);
        if (!dir)
            continue;
        struct dirent *e;
        char holder[256] = "";
        while ((e = readdir(dir)) != NULL) {
            if (e->d_name[0] != '.') {
                snprintf(holder, sizeof holder, "%s", e->d_name);
                break;
            }
        }
        closedir(dir);
        if (holder[0])
            return refuse(reason, size, CMBOOT_ERR_BUSY,
                          "%s is held by %s (device mapper, RAID or LVM); release it first", d->devs[i].name, holder);
    }
    return CMBOOT_OK;
}

/* Walks the disk's sysfs ancestors: whether one belongs to the usb subsystem, and the port path of the
 * nearest USB device (the board or stick the disk is on) into port ("" when none). */
static bool usb_port_of(const char *diskdir, const char *sys, char *port, size_t port_size)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", diskdir);
    port[0] = 0;
    bool usb = false;
    size_t syslen = strlen(sys);
    for (;;) {
        char *slash = strrchr(p, '/');
        if (!slash || (size_t)(slash - p) <= syslen)
            return usb;
        *slash = 0;
        char link[PATH_MAX], real[PATH_MAX];
        if ((size_t)snprintf(link, sizeof link, "%s/subsystem", p) >= sizeof link)
            return usb;
        if (realpath(link, real)) {
            const char *base = strrchr(real, '/');
            if (base && strcmp(base + 1, "usb") == 0) {
                usb = true;
                const char *name = strrchr(p, '/') + 1;
                if (!port[0] && cmb_sysfs_is_device_name(name) && strlen(name) < port_size)
                    snprintf(port, port_size, "%s", name);
            }
        }
    }
}

static bool read_u64(const char *dir, const char *attr, uint64_t *v)
{
    char p[PATH_MAX], line[64], *end;
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, attr) >= sizeof p || !read_line(p, line, sizeof line))
        return false;
    errno = 0;
    unsigned long long x = strtoull(line, &end, 10);
    if (errno || end == line)
        return false;
    *v = x;
    return true;
}

static void copy_name(char *out, size_t size, const char *dir)
{
    const char *slash = strrchr(dir, '/');
    if ((size_t)snprintf(out, size, "%s", slash ? slash + 1 : dir) >= size)
        out[size - 1] = 0;
}

int cmb_target_check_blockdev(const cmboot_target_env *env, unsigned major_no, unsigned minor_no, uint64_t fd_diskseq,
                              uint64_t fd_size, const char *port_path, uint64_t image_size, unsigned flags,
                              cmboot_target_identity *id, char *reason, size_t reason_size)
{
    char sysreal[PATH_MAX];
    const char *sys = cmb_root_or(env ? env->sys_root : NULL, CMB_SYS_ROOT);
    if (!realpath(sys, sysreal))
        return refuse(reason, reason_size, CMBOOT_ERR_NOT_FOUND, "cannot open sysfs at %s", sys);
    char dir[PATH_MAX];
    if (!sysdir_of(sysreal, major_no, minor_no, dir))
        return refuse(reason, reason_size, CMBOOT_ERR_NOT_FOUND, "block device %u:%u has no sysfs entry", major_no,
                      minor_no);
    char diskdir[PATH_MAX];
    disk_dir_of(dir, diskdir);
    disk_info *d = calloc(1, sizeof *d);
    if (!d)
        return CMBOOT_ERR_NO_MEMORY;
    load_disk(diskdir, d);
    cmboot_target_identity local;
    if (!id)
        id = &local;
    memset(id, 0, sizeof *id);
    id->is_block = true;
    id->major = major_no;
    id->minor = minor_no;
    id->partition = strcmp(dir, diskdir) != 0;
    copy_name(id->name, sizeof id->name, dir);
    copy_name(id->disk, sizeof id->disk, diskdir);
    bool usb = usb_port_of(diskdir, sysreal, id->port_path, sizeof id->port_path);
    uint64_t sysseq = 0, removable = 0;
    id->removable = read_u64(diskdir, "removable", &removable) && removable == 1;
    bool have_sysseq = read_u64(diskdir, "diskseq", &sysseq);
    id->diskseq = fd_diskseq ? fd_diskseq : sysseq;
    int rc = CMBOOT_OK;
    /* The descriptor's disk and the sysfs entry of its numbers must be one disk, or every check below
     * would be about another one (a number re-used between open and check). */
    if (fd_diskseq && (!have_sysseq || sysseq != fd_diskseq))
        rc = refuse(reason, reason_size, CMBOOT_ERR_UNSAFE_TARGET,
                    "the disk opened (diskseq %llu) is not the one sysfs shows at %u:%u (%s, diskseq %s%llu): "
                    "it changed while being opened; nothing written",
                    (unsigned long long)fd_diskseq, major_no, minor_no, d->name, have_sysseq ? "" : "none ",
                    (unsigned long long)sysseq);
    cmboot_target_env e = {.struct_size = sizeof e,
                           .proc_root = env ? env->proc_root : NULL,
                           .sys_root = sysreal,
                           .dev_root = env ? env->dev_root : NULL};
    if (rc == CMBOOT_OK)
        rc = check_mounts(&e, d, dir, reason, reason_size);
    if (rc == CMBOOT_OK)
        rc = check_holders(d, reason, reason_size);
    if (rc == CMBOOT_OK && id->partition && !(flags & CMBOOT_TARGET_PARTITION_OK))
        rc = refuse(reason, reason_size, CMBOOT_ERR_UNSAFE_TARGET,
                    "%s is a partition of %s; give the whole disk, or pass --partition-ok to write only it", id->name,
                    d->name);
    if (rc == CMBOOT_OK && port_path && strcmp(id->port_path, port_path) != 0) {
        if (id->port_path[0])
            rc = refuse(reason, reason_size, CMBOOT_ERR_UNSAFE_TARGET,
                        "%s is on USB port %s, not on the board's port %s; nothing written", d->name, id->port_path,
                        port_path);
        else
            rc = refuse(reason, reason_size, CMBOOT_ERR_UNSAFE_TARGET,
                        "%s is not on USB, so it is not the disk of the board at %s; nothing written", d->name,
                        port_path);
    }
    if (rc == CMBOOT_OK && !usb && !(flags & CMBOOT_TARGET_FORCE))
        rc = refuse(reason, reason_size, CMBOOT_ERR_UNSAFE_TARGET,
                    "%s is not on USB; pass --force if you really mean this disk", d->name);
    if (rc == CMBOOT_OK) {
        uint64_t bytes = fd_size, sectors = 0;
        if (!bytes && read_u64(dir, "size", &sectors) && sectors <= UINT64_MAX / 512)
            bytes = sectors * 512u;
        id->size = bytes;
        if (image_size > 0 && bytes == 0)
            rc = refuse(reason, reason_size, CMBOOT_ERR_NO_SPACE, "%s reports size 0 (no medium?)", id->name);
        else if (image_size > bytes)
            rc = refuse(reason, reason_size, CMBOOT_ERR_NO_SPACE, "%s holds %llu bytes, the image needs %llu", id->name,
                        (unsigned long long)bytes, (unsigned long long)image_size);
    }
    free(d);
    return rc;
}

/* Opens the object behind the O_PATH descriptor pfd again with real access flags: through /proc/self/fd,
 * so no path is looked up twice; without /proc, by path and then compared with what pfd is. */
static int reopen(int pfd, const char *path, int flags, const struct stat *want)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", pfd); /* the real /proc whatever proc_root says: pfd is ours */
    int fd = open(p, flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT && access("/proc/self/fd", F_OK) != 0)
        fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_dev != want->st_dev || st.st_ino != want->st_ino || st.st_rdev != want->st_rdev ||
        (st.st_mode & S_IFMT) != (want->st_mode & S_IFMT)) {
        close(fd);
        return -ESTALE;
    }
    return fd;
}

/* Whether a regular file (resolved path, st_dev) lies in the dev root: under it by path, or on its file
 * system when the dev root is a mount point (devtmpfs). */
static bool in_dev_root(const cmboot_target_env *env, const char *resolved, dev_t st_dev)
{
    const char *dev = cmb_root_or(env ? env->dev_root : NULL, CMB_DEV_ROOT);
    char real[PATH_MAX];
    if (!realpath(dev, real))
        return false;
    size_t n = strlen(real);
    if (resolved && strncmp(resolved, real, n) == 0 && (resolved[n] == '/' || resolved[n] == 0 || n == 1))
        return true;
    char parent[PATH_MAX + 4];
    snprintf(parent, sizeof parent, "%s/..", real);
    struct stat ds, ps;
    return stat(real, &ds) == 0 && stat(parent, &ps) == 0 && ds.st_dev != ps.st_dev && ds.st_dev == st_dev;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a > b && strcmp(s + a - b, tail) == 0;
}

static cmboot_target *target_new(void)
{
    cmboot_target *t = calloc(1, sizeof *t);
    if (t) {
        t->fd = -1;
        t->dirfd = -1;
    }
    return t;
}

/* A target that does not exist: created as a regular file only outside the dev root, and only when asked
 * (CREATE) or named like an image file (*.img). */
static int open_missing(const cmboot_target_env *env, const char *path, uint64_t image_size, unsigned flags,
                        bool check_only, cmboot_target *t, char *reason, size_t rsize)
{
    char dir[PATH_MAX];
    if ((size_t)snprintf(dir, sizeof dir, "%s", path) >= sizeof dir)
        return refuse(reason, rsize, CMBOOT_ERR_TOO_LARGE, "target path too long");
    char *slash = strrchr(dir, '/');
    const char *base = slash ? path + (slash - dir) + 1 : path;
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    if (!*base || strlen(base) >= sizeof t->base)
        return refuse(reason, rsize, CMBOOT_ERR_NOT_FOUND, "%s does not exist", path);
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return refuse(reason, rsize, CMBOOT_ERR_NOT_FOUND, "%s does not exist (nor does its directory %s)", path, dir);
    struct stat ds;
    char dreal[PATH_MAX];
    const char *dev = cmb_root_or(env ? env->dev_root : NULL, CMB_DEV_ROOT);
    int rc = CMBOOT_OK;
    if (fstat(dfd, &ds) != 0)
        rc = refuse(reason, rsize, CMBOOT_ERR_IO, "cannot stat the directory of %s: %s", path, strerror(errno));
    else if (in_dev_root(env, realpath(dir, dreal) ? dreal : NULL, ds.st_dev))
        rc = refuse(reason, rsize, CMBOOT_ERR_NOT_FOUND,
                    "%s does not exist: no such disk (cmboot never creates files in %s)", path, dev);
    else if (!(flags & CMBOOT_TARGET_CREATE) && !ends_with(base, ".img"))
        rc = refuse(reason, rsize, CMBOOT_ERR_NOT_FOUND,
                    "%s does not exist; pass --create to create it as an image file", path);
    struct statvfs vfs;
    if (rc == CMBOOT_OK && fstatvfs(dfd, &vfs) == 0 && vfs.f_blocks > 0 &&
        image_size > (uint64_t)vfs.f_bavail * vfs.f_frsize)
        rc = refuse(reason, rsize, CMBOOT_ERR_NO_SPACE, "%s: %llu bytes free, the image needs %llu", path,
                    (unsigned long long)vfs.f_bavail * vfs.f_frsize, (unsigned long long)image_size);
    if (rc != CMBOOT_OK || check_only) {
        close(dfd);
        return rc;
    }
    /* O_EXCL|O_NOFOLLOW: a file or symbolic link planted meanwhile is never followed nor reused. */
    int fd = openat(dfd, base, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        close(dfd);
        return refuse(reason, rsize, e == EEXIST ? CMBOOT_ERR_UNSAFE_TARGET : cmb_error_from_errno(e),
                      "cannot create %s: %s", path,
                      e == EEXIST ? "it appeared meanwhile (or is a dangling symbolic link)" : strerror(e));
    }
    t->fd = fd;
    t->dirfd = dfd;
    snprintf(t->base, sizeof t->base, "%s", base);
    t->id.created = true;
    t->id.file_dev = (uint64_t)st.st_dev;
    t->id.file_ino = (uint64_t)st.st_ino;
    return CMBOOT_OK;
}

static void block_numbers(int fd, uint64_t *seq, uint64_t *size)
{
    *seq = 0;
    *size = 0;
    uint64_t v = 0;
    if (ioctl(fd, BLKGETDISKSEQ, &v) == 0)
        *seq = v;
    v = 0;
    if (ioctl(fd, BLKGETSIZE64, &v) == 0)
        *size = v;
}

static int target_open(const cmboot_target_env *env, const char *path, uint64_t image_size, unsigned flags,
                       const char *port_path, bool check_only, cmboot_target **out, char *reason, size_t rsize)
{
    if (reason && rsize)
        reason[0] = 0;
    if (out)
        *out = NULL;
    if (!path || !*path)
        return refuse(reason, rsize, CMBOOT_ERR_INVALID_ARG, "no target given");
    cmboot_target *t = target_new();
    if (!t)
        return CMBOOT_ERR_NO_MEMORY;
    int rc = CMBOOT_OK;
    /* O_PATH: nothing is opened for real (no device side effects) until the type is known. */
    int pfd = open(path, O_PATH | O_CLOEXEC);
    struct stat st;
    if (pfd < 0 && errno == ENOENT) {
        rc = open_missing(env, path, image_size, flags, check_only, t, reason, rsize);
    } else if (pfd < 0 || fstat(pfd, &st) != 0) {
        rc = refuse(reason, rsize, cmb_error_from_errno(errno), "cannot open %s: %s", path, strerror(errno));
    } else if (S_ISBLK(st.st_mode)) {
        int mode = check_only ? O_RDONLY : O_RDWR;
        int fd = reopen(pfd, path, mode | (flags & CMBOOT_TARGET_NO_EXCL ? 0 : O_EXCL), &st);
        if (fd == -EBUSY)
            rc = refuse(reason, rsize, CMBOOT_ERR_BUSY,
                        "%s is in use by another program (open exclusively: mounted, swap, RAID?)", path);
        else if (fd < 0)
            rc = refuse(reason, rsize, fd == -ESTALE ? CMBOOT_ERR_UNSAFE_TARGET : cmb_error_from_errno(-fd),
                        "cannot open %s: %s", path, fd == -ESTALE ? "it changed while being opened" : strerror(-fd));
        if (rc == CMBOOT_OK) {
            t->fd = fd;
            uint64_t seq, size;
            block_numbers(fd, &seq, &size);
            rc = cmb_target_check_blockdev(env, major(st.st_rdev), minor(st.st_rdev), seq, size, port_path, image_size,
                                           flags, &t->id, reason, rsize);
            const char *sys = cmb_root_or(env ? env->sys_root : NULL, CMB_SYS_ROOT);
            if (rc == CMBOOT_OK && (!realpath(sys, t->sys) || !sysdir_of(t->sys, t->id.major, t->id.minor, t->sysdir)))
                rc = refuse(reason, rsize, CMBOOT_ERR_NOT_FOUND, "%s went away from sysfs", path);
        }
    } else if (S_ISREG(st.st_mode)) {
        char real[PATH_MAX];
        if (in_dev_root(env, realpath(path, real) ? real : NULL, st.st_dev))
            rc = refuse(reason, rsize, CMBOOT_ERR_UNSAFE_TARGET,
                        "%s is a regular file in %s, not a disk; refusing to write it", path,
                        cmb_root_or(env ? env->dev_root : NULL, CMB_DEV_ROOT));
        else if (port_path)
            rc = refuse(reason, rsize, CMBOOT_ERR_UNSAFE_TARGET,
                        "%s is a regular file, not the disk of the board at %s", path, port_path);
        int fd = rc == CMBOOT_OK ? reopen(pfd, path, check_only ? O_RDONLY : O_RDWR, &st) : -1;
        if (rc == CMBOOT_OK && fd < 0)
            rc = refuse(reason, rsize, fd == -ESTALE ? CMBOOT_ERR_UNSAFE_TARGET : cmb_error_from_errno(-fd),
                        "cannot open %s: %s", path, fd == -ESTALE ? "it changed while being opened" : strerror(-fd));
        struct statvfs vfs;
        if (rc == CMBOOT_OK) {
            t->fd = fd;
            t->id.file_dev = (uint64_t)st.st_dev;
            t->id.file_ino = (uint64_t)st.st_ino;
            t->id.size = (uint64_t)st.st_size;
            uint64_t have = (uint64_t)st.st_blocks * 512u;
            bool limited = fstatvfs(fd, &vfs) == 0 && vfs.f_blocks > 0; /* 0 blocks: no limit (memfd, tmpfs) */
            if (limited)
                have += (uint64_t)vfs.f_bavail * vfs.f_frsize;
            if (limited && image_size > have)
                rc = refuse(reason, rsize, CMBOOT_ERR_NO_SPACE, "%s: %llu bytes free, the image needs %llu", path,
                            (unsigned long long)have, (unsigned long long)image_size);
        }
    } else {
        rc = refuse(reason, rsize, CMBOOT_ERR_UNSAFE_TARGET, "%s is neither a block device nor a regular file", path);
    }
    if (pfd >= 0)
        close(pfd);
    if (rc == CMBOOT_OK)
        t->id.known = true;
    if (rc != CMBOOT_OK || check_only || !out) {
        cmboot_target_close(t, true);
        return rc;
    }
    *out = t;
    return CMBOOT_OK;
}

int cmboot_target_open(const cmboot_target_env *env, const char *path, uint64_t image_size, unsigned flags,
                       const char *port_path, cmboot_target **out, char *reason, size_t reason_size)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_target_env e;
    int rc = cmb_target_env_load(env, &e);
    return rc ? rc : target_open(&e, path, image_size, flags, port_path, false, out, reason, reason_size);
}

int cmboot_target_check(const cmboot_target_env *env, const char *path, uint64_t image_size, unsigned flags,
                        char *reason, size_t reason_size)
{
    cmboot_target_env e;
    int rc = cmb_target_env_load(env, &e);
    return rc ? rc : target_open(&e, path, image_size, flags, NULL, true, NULL, reason, reason_size);
}

int cmb_target_open_readonly(const char *path, cmboot_target **out, char *reason, size_t rsize)
{
    *out = NULL;
    cmboot_target *t = target_new();
    if (!t)
        return CMBOOT_ERR_NO_MEMORY;
    int pfd = open(path, O_PATH | O_CLOEXEC);
    struct stat st;
    int rc = CMBOOT_OK;
    if (pfd < 0 || fstat(pfd, &st) != 0)
        rc = refuse(reason, rsize, cmb_error_from_errno(errno), "cannot open %s to verify: %s", path, strerror(errno));
    else if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
        rc = refuse(reason, rsize, CMBOOT_ERR_UNSAFE_TARGET, "%s is neither a block device nor a regular file", path);
    int fd = rc == CMBOOT_OK ? reopen(pfd, path, O_RDONLY, &st) : -1;
    if (rc == CMBOOT_OK && fd < 0)
        rc = refuse(reason, rsize, cmb_error_from_errno(-fd), "cannot open %s to verify: %s", path, strerror(-fd));
    if (pfd >= 0)
        close(pfd);
    if (rc != CMBOOT_OK) {
        cmboot_target_close(t, false);
        return rc;
    }
    t->fd = fd;
    t->id.known = true;
    t->id.is_block = S_ISBLK(st.st_mode);
    if (t->id.is_block) {
        t->id.major = major(st.st_rdev);
        t->id.minor = minor(st.st_rdev);
        block_numbers(fd, &t->id.diskseq, &t->id.size);
    } else {
        t->id.file_dev = (uint64_t)st.st_dev;
        t->id.file_ino = (uint64_t)st.st_ino;
        t->id.size = (uint64_t)st.st_size;
    }
    *out = t;
    return CMBOOT_OK;
}

int cmboot_target_fd(const cmboot_target *t)
{
    return t ? t->fd : -1;
}

const cmboot_target_identity *cmboot_target_get_identity(const cmboot_target *t)
{
    return t ? &t->id : NULL;
}

int cmboot_target_recheck(const cmboot_target *t, char *reason, size_t reason_size)
{
    if (!t || t->fd < 0)
        return CMBOOT_ERR_INVALID_ARG;
    if (!t->id.is_block)
        return CMBOOT_OK;
    const cmboot_target_identity *id = &t->id;
    uint64_t seq = 0, size = 0;
    block_numbers(t->fd, &seq, &size);
    if (id->diskseq && seq && seq != id->diskseq)
        return refuse(reason, reason_size, CMBOOT_ERR_NO_DEVICE,
                      "the descriptor of %s now reports diskseq %llu, not %llu", id->name, (unsigned long long)seq,
                      (unsigned long long)id->diskseq);
    if (!t->sys[0])
        return CMBOOT_OK; /* opened read-only: no sysfs entry was checked */
    char now[PATH_MAX];
    if (!sysdir_of(t->sys, id->major, id->minor, now))
        return refuse(reason, reason_size, CMBOOT_ERR_NO_DEVICE, "%s (%u:%u) went away (no sysfs entry any more)",
                      id->name, id->major, id->minor);
    if (strcmp(now, t->sysdir) != 0)
        return refuse(reason, reason_size, CMBOOT_ERR_NO_DEVICE,
                      "%u:%u is now another device (%s), not the %s that was checked and written", id->major, id->minor,
                      strrchr(now, '/') + 1, id->name);
    char diskdir[PATH_MAX];
    disk_dir_of(now, diskdir);
    uint64_t sysseq = 0;
    if (id->diskseq && (!read_u64(diskdir, "diskseq", &sysseq) || sysseq != id->diskseq))
        return refuse(reason, reason_size, CMBOOT_ERR_NO_DEVICE,
                      "%s is now another disk (diskseq %llu, the one written had %llu)", id->disk,
                      (unsigned long long)sysseq, (unsigned long long)id->diskseq);
    return CMBOOT_OK;
}

void cmboot_target_close(cmboot_target *t, bool remove_created)
{
    if (!t)
        return;
    if (remove_created && t->dirfd >= 0 && t->id.created) {
        struct stat st;
        /* Only the file we made: the name may have been replaced meanwhile. */
        if (fstatat(t->dirfd, t->base, &st, AT_SYMLINK_NOFOLLOW) == 0 && (uint64_t)st.st_dev == t->id.file_dev &&
            (uint64_t)st.st_ino == t->id.file_ino)
            unlinkat(t->dirfd, t->base, 0);
    }
    if (t->fd >= 0)
        close(t->fd);
    if (t->dirfd >= 0)
        close(t->dirfd);
    free(t);
}

void cmb_flash_report_target(json_object *o, const cmboot_flash_result *res)
{
    const cmboot_target_identity *id = &res->target;
    if (!id->known)
        return;
    json_object *t = json_object_new_object();
    if (!t)
        return;
    json_object_object_add(t, "kind", json_object_new_string(id->is_block ? "block" : "file"));
    if (id->is_block) {
        char num[32];
        snprintf(num, sizeof num, "%u:%u", id->major, id->minor);
        json_object_object_add(t, "device", json_object_new_string(num));
        json_object_object_add(t, "name", json_object_new_string(id->name));
        json_object_object_add(t, "disk", json_object_new_string(id->disk));
        json_object_object_add(t, "partition", json_object_new_boolean(id->partition));
        json_object_object_add(t, "removable", json_object_new_boolean(id->removable));
        json_object_object_add(t, "diskseq", id->diskseq ? json_object_new_int64((int64_t)id->diskseq) : NULL);
        json_object_object_add(t, "port_path", id->port_path[0] ? json_object_new_string(id->port_path) : NULL);
    } else {
        json_object_object_add(t, "created", json_object_new_boolean(id->created));
        json_object_object_add(t, "truncated_from",
                               res->truncated_from ? json_object_new_int64((int64_t)res->truncated_from) : NULL);
    }
    json_object_object_add(t, "size", json_object_new_int64((int64_t)id->size));
    json_object_object_add(o, "target_identity", t);
}
