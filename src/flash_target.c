/* Target safety: refuse, with the reason, disks that are mounted, held, not on USB, too small or the host's. */
#include "flash_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cmboot/error.h"

#define MAX_PARTS 128
#define MAX_SLAVE_DEPTH 8

typedef struct blockdev {
    unsigned maj, min;
    char name[64];
} blockdev;

typedef struct disk_info {
    char dir[PATH_MAX];     /* sysfs directory of the whole disk */
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

static const char *root_or(const char *root, const char *dflt)
{
    return root && *root ? root : dflt;
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
    if ((size_t)snprintf(p, sizeof p, "%s/dev/block/%u:%u", sys, maj, min) >= sizeof p)
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

/* Whether the device whose sysfs directory is `dir` sits on the disk `diskdir`, through partitions and
 * stacked devices (dm, md: slaves/). */
static bool rests_on(const char *dir, const char *diskdir, int depth)
{
    if (depth > MAX_SLAVE_DEPTH)
        return false;
    char whole[PATH_MAX];
    disk_dir_of(dir, whole);
    if (strcmp(whole, diskdir) == 0)
        return true;
    char slaves[PATH_MAX];
    if ((size_t)snprintf(slaves, sizeof slaves, "%s/slaves", dir) >= sizeof slaves)
        return false;
    DIR *d = opendir(slaves);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char link[PATH_MAX], real[PATH_MAX];
        if ((size_t)snprintf(link, sizeof link, "%s/%s", slaves, e->d_name) >= sizeof link)
            continue;
        if (realpath(link, real))
            found = rests_on(real, diskdir, depth + 1);
    }
    closedir(d);
    return found;
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
        if ((size_t)snprintf(p, sizeof p, "%s/class/block/%s", sys, name) < sizeof p && realpath(p, out))
            return true;
    }
    return false;
}

static bool is_host_mount(const char *point)
{
    return strcmp(point, "/") == 0 || strcmp(point, "/boot") == 0 || strcmp(point, "/boot/firmware") == 0 ||
           strcmp(point, "/boot/efi") == 0 || strcmp(point, "/usr") == 0;
}

static int check_mounts(const cmboot_target_env *env, const disk_info *d, char *reason, size_t size)
{
    const char *sys = root_or(env ? env->sys_root : NULL, "/sys");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/self/mountinfo", root_or(env ? env->proc_root : NULL, "/proc"));
    FILE *f = fopen(path, "re");
    if (!f)
        return refuse(reason, size, CMBOOT_ERR_UNSAFE_TARGET, "cannot read %s to check mounts: %s", path,
                      strerror(errno));
    char line[3 * PATH_MAX];
    mount_entry m;
    int rc = CMBOOT_OK;
    char mounted_note[PATH_MAX + 128] = "";
    while (rc == CMBOOT_OK && fgets(line, sizeof line, f)) {
        if (!parse_mountinfo(line, &m))
            continue;
        char dir[PATH_MAX];
        bool known = mount_sysdir(sys, &m, dir);
        if (is_host_mount(m.point) && known && rests_on(dir, d->dir, 0)) {
            rc = refuse(reason, size, CMBOOT_ERR_UNSAFE_TARGET,
                        "%s holds the host's %s file system; never writing it", d->name, m.point);
            break;
        }
        if (mounted_note[0])
            continue;
        for (size_t i = 0; i < d->ndevs; i++) {
            bool same = (m.maj == d->devs[i].maj && m.min == d->devs[i].min) ||
                        (known && strncmp(dir, d->dir, strlen(d->dir)) == 0 &&
                         (dir[strlen(d->dir)] == 0 || dir[strlen(d->dir)] == '/') &&
                         strcmp(strrchr(dir, '/') + 1, d->devs[i].name) == 0);
            if (same) {
                snprintf(mounted_note, sizeof mounted_note, "%s is mounted at %s; unmount it first",
                         d->devs[i].name, m.point);
                break;
            }
        }
    }
    fclose(f);
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
            return refuse(reason, size, CMBOOT_ERR_BUSY, "%s is held by %s (device mapper, RAID or LVM); release it first",
                          d->devs[i].name, holder);
    }
    return CMBOOT_OK;
}

/* Whether an ancestor of the disk in sysfs belongs to the usb subsystem. */
static bool on_usb(const char *diskdir, const char *sys)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", diskdir);
    size_t syslen = strlen(sys);
    for (;;) {
        char *slash = strrchr(p, '/');
        if (!slash || (size_t)(slash - p) <= syslen)
            return false;
        *slash = 0;
        char link[PATH_MAX], real[PATH_MAX];
        if ((size_t)snprintf(link, sizeof link, "%s/subsystem", p) >= sizeof link)
            return false;
        if (realpath(link, real)) {
            const char *base = strrchr(real, '/');
            if (base && strcmp(base + 1, "usb") == 0)
                return true;
        }
    }
}

int cmboot_target_check_blockdev(const cmboot_target_env *env, unsigned major_no, unsigned minor_no,
                                 const char *dev_path, uint64_t image_size, unsigned flags, char *reason,
                                 size_t reason_size)
{
    char sysreal[PATH_MAX];
    const char *sys = root_or(env ? env->sys_root : NULL, "/sys");
    if (!realpath(sys, sysreal))
        return refuse(reason, reason_size, CMBOOT_ERR_NOT_FOUND, "cannot open sysfs at %s", sys);
    char dir[PATH_MAX];
    if (!sysdir_of(sysreal, major_no, minor_no, dir))
        return refuse(reason, reason_size, CMBOOT_ERR_NOT_FOUND, "block device %u:%u has no sysfs entry",
                      major_no, minor_no);
    char diskdir[PATH_MAX];
    disk_dir_of(dir, diskdir);
    disk_info *d = calloc(1, sizeof *d);
    if (!d)
        return CMBOOT_ERR_NO_MEMORY;
    load_disk(diskdir, d);
    cmboot_target_env e = {env ? env->proc_root : NULL, sysreal, env ? env->dev_root : NULL};
    int rc = check_mounts(&e, d, reason, reason_size);
    if (rc == CMBOOT_OK)
        rc = check_holders(d, reason, reason_size);
    if (rc == CMBOOT_OK && dev_path && !(flags & CMBOOT_TARGET_NO_EXCL)) {
        int fd = open(dev_path, O_RDONLY | O_EXCL | O_CLOEXEC);
        if (fd < 0 && errno == EBUSY)
            rc = refuse(reason, reason_size, CMBOOT_ERR_BUSY,
                        "%s is in use by another program (open exclusively: mounted, swap, RAID?)", dev_path);
        else if (fd < 0 && (errno == EACCES || errno == EPERM))
            rc = refuse(reason, reason_size, CMBOOT_ERR_ACCESS, "no permission to open %s", dev_path);
        if (fd >= 0)
            close(fd);
    }
    if (rc == CMBOOT_OK && !on_usb(d->dir, sysreal) && !(flags & CMBOOT_TARGET_FORCE))
        rc = refuse(reason, reason_size, CMBOOT_ERR_UNSAFE_TARGET,
                    "%s is not on USB; pass --force if you really mean this disk", d->name);
    if (rc == CMBOOT_OK && image_size > 0) {
        char p[PATH_MAX], line[64];
        unsigned long long sectors = 0;
        if ((size_t)snprintf(p, sizeof p, "%s/size", dir) < sizeof p && read_line(p, line, sizeof line))
            sectors = strtoull(line, NULL, 10);
        if (sectors == 0)
            rc = refuse(reason, reason_size, CMBOOT_ERR_NO_SPACE, "%s reports size 0 (no medium?)", d->name);
        else if (sectors > UINT64_MAX / 512 || image_size > sectors * 512ull)
            rc = refuse(reason, reason_size, CMBOOT_ERR_NO_SPACE, "%s holds %llu bytes, the image needs %llu",
                        strrchr(dir, '/') + 1, sectors * 512ull, (unsigned long long)image_size);
    }
    free(d);
    return rc;
}

static int check_regular(const char *path, const struct stat *st, uint64_t image_size, char *reason, size_t size)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return refuse(reason, size, CMBOOT_ERR_NOT_FOUND, "cannot reach the directory of %s: %s", path,
                      strerror(errno));
    uint64_t have = (uint64_t)vfs.f_bavail * vfs.f_frsize + (st ? (uint64_t)st->st_blocks * 512u : 0);
    if (image_size > 0 && image_size > have)
        return refuse(reason, size, CMBOOT_ERR_NO_SPACE, "%s: %llu bytes free, the image needs %llu", path,
                      (unsigned long long)have, (unsigned long long)image_size);
    return CMBOOT_OK;
}

int cmboot_target_check(const cmboot_target_env *env, const char *path, uint64_t image_size, unsigned flags,
                        char *reason, size_t reason_size)
{
    if (reason && reason_size)
        reason[0] = 0;
    if (!path || !*path)
        return refuse(reason, reason_size, CMBOOT_ERR_INVALID_ARG, "no target given");
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return check_regular(path, NULL, image_size, reason, reason_size); /* a new image file */
        return refuse(reason, reason_size, errno == EACCES ? CMBOOT_ERR_ACCESS : CMBOOT_ERR_NOT_FOUND,
                      "cannot stat %s: %s", path, strerror(errno));
    }
    if (S_ISBLK(st.st_mode))
        return cmboot_target_check_blockdev(env, major(st.st_rdev), minor(st.st_rdev), path, image_size, flags,
                                            reason, reason_size);
    if (S_ISREG(st.st_mode))
        return check_regular(path, &st, image_size, reason, reason_size);
    return refuse(reason, reason_size, CMBOOT_ERR_UNSAFE_TARGET, "%s is neither a block device nor a regular file",
                  path);
}
