/* Opening boot files: checks of device-chosen names and the symlink policy (follow, or stay beneath). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#ifdef CMB_HAVE_OPENAT2_H /* src/CMakeLists.txt: kernel headers before 5.6 lack it */
#include <linux/openat2.h>
#endif
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "core/error_map.h"
#include "files_internal.h"

#if defined(CMB_HAVE_OPENAT2_H) && defined(SYS_openat2)
#define CMB_USE_OPENAT2 1
#endif

/* Longest relative path opened beneath a directory (a device name joined to a prefix or port path). */
#define BENEATH_PATH_MAX 1024
/* Symlinks one lookup may follow, as the kernel's own limit. */
#define WALK_MAX_LINKS 40

static int relative_path_check(const char *name, size_t max)
{
    if (!name)
        return CMBOOT_ERR_UNSAFE_NAME;
    size_t len = strnlen(name, max + 1);
    if (len == 0 || len > max)
        return CMBOOT_ERR_UNSAFE_NAME;
    if (name[0] == '/')
        return CMBOOT_ERR_UNSAFE_NAME;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return CMBOOT_ERR_UNSAFE_NAME;
    }
    /* No ".." component anywhere ("..", "../x", "x/..", "x/../y"). */
    for (const char *p = name; *p;) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return CMBOOT_ERR_UNSAFE_NAME;
        p += n;
        if (*p == '/')
            p++;
    }
    return CMBOOT_OK;
}

int cmboot_name_check(const char *name)
{
    return relative_path_check(name, CMBOOT_FS_NAME_MAX);
}

static int errno_to_error(int e)
{
    /* EXDEV: would leave the directory (strict); ELOOP: a magic link, or a symlink loop */
    if (e == EXDEV || e == ELOOP || e == ENAMETOOLONG)
        return CMBOOT_ERR_UNSAFE_NAME;
    return cmb_error_from_errno(e);
}

/* Opens for reading the regular file that the O_PATH fd pfd (named comp in dir) refers to, without opening
 * anything else: FIFOs and devices never get opened, so they cannot block or have side effects. */
#ifndef CMB_USE_OPENAT2
struct open_how; /* never defined: without the header only the walk below is compiled */
#endif
static int reopen_regular(int dirfd, const char *comp, int pfd, const struct open_how *how_path)
{
    struct stat st, st2;
    if (fstat(pfd, &st) != 0)
        return errno_to_error(errno);
    if (!S_ISREG(st.st_mode))
        return CMBOOT_ERR_NOT_FOUND; /* directories, FIFOs and devices are not boot files */
    int fd;
    int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
#ifdef CMB_USE_OPENAT2
    if (how_path) {
        struct open_how how = *how_path;
        how.flags = (uint64_t)flags;
        fd = (int)syscall(SYS_openat2, dirfd, comp, &how, sizeof how);
    } else
#endif
    {
        (void)how_path;
        fd = openat(dirfd, comp, flags | O_NOFOLLOW);
    }
    if (fd < 0)
        return errno_to_error(errno);
    /* the name must still be the file checked above (it could have been swapped in between) */
    if (fstat(fd, &st2) != 0 || !S_ISREG(st2.st_mode) || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev) {
        close(fd);
        return CMBOOT_ERR_NOT_FOUND;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

/* The links of /proc/<pid>/ (fd/N, cwd, root, exe...) are the magic ones; /proc/self itself is not. */
static bool is_magic_link(int parent_fd, int link_fd)
{
    struct statfs fs;
    struct stat st;
    if (fstatfs(link_fd, &fs) != 0 || fs.f_type != PROC_SUPER_MAGIC)
        return false;
    return fstat(parent_fd, &st) != 0 || st.st_ino != 1; /* 1: the root of procfs */
}

/* Kernels before 5.6 lack openat2: resolve the path here, one component at a time, reading symlinks as text.
 * The kernel never follows a link itself (O_NOFOLLOW throughout) and /proc magic links are refused;
 * beneath refuses absolute targets and ".." above the start like RESOLVE_BENEATH. */
static int open_walk(int dirfd, const char *rel, bool beneath)
{
    char todo[2 * PATH_MAX];
    size_t len = strlen(rel);
    if (len >= sizeof todo)
        return CMBOOT_ERR_UNSAFE_NAME;
    memcpy(todo, rel, len + 1);
    int cur = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cur < 0)
        return errno_to_error(errno);
    int depth = 0, links = 0, rc = CMBOOT_ERR_NOT_FOUND;
    char *p = todo;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p) {
            rc = CMBOOT_ERR_NOT_FOUND; /* the path names a directory */
            break;
        }
        char comp[NAME_MAX + 1];
        size_t n = strcspn(p, "/");
        if (n > NAME_MAX) {
            rc = CMBOOT_ERR_UNSAFE_NAME;
            break;
        }
        memcpy(comp, p, n);
        comp[n] = 0;
        p += n;
        while (*p == '/')
            p++;
        bool last = *p == 0;
        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0 && beneath && depth == 0) {
            rc = CMBOOT_ERR_UNSAFE_NAME;
            break;
        }
        int nfd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (nfd < 0 || fstat(nfd, &st) != 0) {
            rc = errno_to_error(errno);
            if (nfd >= 0)
                close(nfd);
            break;
        }
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t tl = is_magic_link(cur, nfd) ? -1 : readlinkat(nfd, "", target, sizeof target - 1);
            close(nfd);
            if (tl <= 0 || ++links > WALK_MAX_LINKS) {
                rc = CMBOOT_ERR_UNSAFE_NAME;
                break;
            }
            target[tl] = 0;
            if (target[0] == '/') {
                if (beneath) {
                    rc = CMBOOT_ERR_UNSAFE_NAME;
                    break;
                }
                int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (root < 0) {
                    rc = errno_to_error(errno);
                    break;
                }
                close(cur);
                cur = root;
            }
            /* what is left to resolve: the link's target, then the rest of the path */
            size_t rest = strlen(p);
            if ((size_t)tl + 1 + rest >= sizeof todo) {
                rc = CMBOOT_ERR_UNSAFE_NAME;
                break;
            }
            memmove(todo + tl + 1, p, rest + 1);
            memcpy(todo, target, (size_t)tl);
            todo[tl] = '/';
            if (rest == 0)
                todo[tl] = 0;
            p = todo;
            continue;
        }
        if (last) {
            rc = reopen_regular(cur, comp, nfd, NULL);
            close(nfd);
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            close(nfd);
            rc = CMBOOT_ERR_NOT_FOUND;
            break;
        }
        close(cur);
        cur = nfd;
        depth += strcmp(comp, "..") == 0 ? -1 : 1;
    }
    close(cur);
    return rc;
}

int cmb_open_in(int dirfd, const char *rel, unsigned flags)
{
    int rc = relative_path_check(rel, BENEATH_PATH_MAX);
    if (rc < 0)
        return rc;
    bool beneath = flags & CMB_OPEN_BENEATH;
#ifndef CMB_USE_OPENAT2
    (void)flags;
    return open_walk(dirfd, rel, beneath);
#else
    if (flags & CMB_OPEN_NO_OPENAT2)
        return open_walk(dirfd, rel, beneath);
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_NO_MAGICLINKS | (beneath ? RESOLVE_BENEATH : 0);
    int pfd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    if (pfd < 0 && (errno == ENOSYS || errno == EPERM)) /* EPERM: seccomp filters that predate openat2 */
        return open_walk(dirfd, rel, beneath);
    if (pfd < 0)
        return errno_to_error(errno);
    rc = reopen_regular(dirfd, rel, pfd, &how);
    close(pfd);
    return rc;
#endif
}

int cmboot_open_beneath(int dirfd, const char *name)
{
    return cmb_open_in(dirfd, name, CMB_OPEN_BENEATH);
}
