/* Confinement of device-chosen names: checks and opening beneath the boot directory only. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/files.h"
#include "error_internal.h"

/* Longest relative path opened beneath a directory (a device name joined to a prefix or port path). */
#define BENEATH_PATH_MAX 1024

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
    /* would leave the directory, or a symlink we refuse */
    if (e == EXDEV || e == ELOOP)
        return CMBOOT_ERR_UNSAFE_NAME;
    return cmboot_error_from_errno(e);
}

/* Kernels before 5.6 lack openat2: walk the path one component at a time, refusing every symlink. */
static int open_beneath_walk(int dirfd, const char *name)
{
    char buf[BENEATH_PATH_MAX + 1];
    strncpy(buf, name, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    int cur = dup(dirfd);
    if (cur < 0)
        return errno_to_error(errno);
    char *save = NULL;
    char *comp = strtok_r(buf, "/", &save);
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (next ? O_DIRECTORY : O_NONBLOCK);
        int fd = openat(cur, comp, flags);
        int e = errno;
        close(cur);
        if (fd < 0)
            return errno_to_error(e);
        cur = fd;
        comp = next;
    }
    return cur;
}

int cmboot_open_beneath(int dirfd, const char *name)
{
    int rc = relative_path_check(name, BENEATH_PATH_MAX);
    if (rc < 0)
        return rc;
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK; /* a FIFO must not block the open until a writer comes */
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof how);
    if (fd < 0 && (errno == ENOSYS || errno == EPERM)) /* EPERM: seccomp filters that predate openat2 */
        fd = open_beneath_walk(dirfd, name);
    else if (fd < 0)
        return errno_to_error(errno);
    if (fd < 0)
        return (int)fd;
    struct stat st;
    if (fstat((int)fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close((int)fd);
        return CMBOOT_ERR_NOT_FOUND; /* directories, FIFOs and devices are not boot files */
    }
    int fl = fcntl((int)fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl((int)fd, F_SETFL, fl & ~O_NONBLOCK);
    return (int)fd;
}
