/* usbfs nodes: open /dev/bus/usb/BBB/DDD, wait out a fresh node's permissions, or make a private node. */
#include "os/linux/usbfs_node.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#include <sys/sysmacros.h>
#endif

#include "cmboot/device.h"
#include "cmboot/error.h"
#include "core/error_map.h"
#include "core/sysroot.h"

int cmb_usbfs_node_path(char *out, size_t size, const char *dev_root, uint8_t bus, uint8_t dev)
{
    return cmb_path_join(out, size, dev_root, CMB_DEV_ROOT, "/bus/usb/%03u/%03u", (unsigned)bus, (unsigned)dev);
}

#ifdef __linux__

/* Makes a char node in a private directory under base, opens it, and removes both. */
static int open_private_node(const char *base, unsigned major, unsigned minor)
{
    char dir[PATH_MAX], node[PATH_MAX];
    int n = snprintf(dir, sizeof dir, "%s/.cmboot-usb-XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof dir || !mkdtemp(dir))
        return -errno;
    if ((size_t)snprintf(node, sizeof node, "%s/dev", dir) >= sizeof node) {
        rmdir(dir);
        return -ENAMETOOLONG;
    }
    int fd = -1, err = 0;
    if (mknod(node, S_IFCHR | 0600, makedev(major, minor)) < 0) {
        err = errno;
    } else {
        fd = open(node, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            err = errno;
        unlink(node);
    }
    rmdir(dir);
    return fd >= 0 ? fd : -err;
}

/* Tries the places a private node can live: /dev itself (a plain tmpfs without devtmpfs), then /run and
 * the temporary directory (either may be mounted nodev: then open fails with EACCES and the next is tried). */
static int make_private(const char *dev_root, unsigned major, unsigned minor, int *err_out)
{
    const char *tmp = getenv("TMPDIR");
    const char *bases[] = {dev_root, CMB_RUN_ROOT, tmp && *tmp ? tmp : "/tmp"}; /* the host's /run, always */
    int err = ENOENT;
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        int fd = open_private_node(bases[i], major, minor);
        if (fd >= 0)
            return fd;
        /* Keep the most telling reason: no permission to make nodes beats a missing directory. */
        if (-fd == EPERM || err == ENOENT)
            err = -fd;
    }
    *err_out = err;
    return -1;
}

static int wait_inotify(int ifd, int64_t deadline_ms)
{
    for (;;) {
        int64_t left = deadline_ms - cmboot_now_ms();
        if (left <= 0)
            return CMBOOT_ERR_TIMEOUT;
        struct pollfd p = {.fd = ifd, .events = POLLIN};
        int r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (r < 0 && errno != EINTR)
            return CMBOOT_ERR_IO;
        if (r > 0) {
            char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
            while (read(ifd, buf, sizeof buf) > 0) {
            }
            return CMBOOT_OK;
        }
    }
}

int cmb_usbfs_open(const char *dev_root, uint8_t bus, uint8_t dev, unsigned major, unsigned minor, int64_t deadline_ms)
{
    char path[PATH_MAX], dir[PATH_MAX];
    dev_root = cmb_root_or(dev_root, CMB_DEV_ROOT);
    int rc = cmb_usbfs_node_path(path, sizeof path, dev_root, bus, dev);
    if (rc != CMBOOT_OK)
        return rc;
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    /* The directory is watched, not the node: a node we may not read cannot be watched itself, and the
     * directory reports both a node appearing and a child's mode or owner changing. The watch is in place
     * before the retry, so a change between a failed open and the wait is not lost. */
    int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    bool watching = false;
    int result = CMBOOT_ERR_NOT_FOUND;
    for (;;) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            result = fd;
            break;
        }
        int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
            int perr = 0;
            fd = make_private(dev_root, major, minor, &perr);
            if (fd >= 0) {
                result = fd;
                break;
            }
            /* No private node either: mdev may still be making the node, so wait for it (a failed mknod is
             * NOT_FOUND, not its own errno, on purpose: the node may yet appear). */
            result = perr == EPERM || perr == EACCES ? CMBOOT_ERR_ACCESS : CMBOOT_ERR_NOT_FOUND;
        } else {
            result = cmb_error_from_errno(err);
            if (result != CMBOOT_ERR_ACCESS)
                break; /* only a refused node may yet change: udev/mdev setting its owner and mode */
        }
        if (ifd < 0)
            break;
        if (!watching) {
            if (inotify_add_watch(ifd, dir, IN_CREATE | IN_ATTRIB | IN_MOVED_TO) < 0)
                break;
            watching = true;
            continue; /* retry once with the watch in place */
        }
        if (wait_inotify(ifd, deadline_ms) != CMBOOT_OK)
            break;
    }
    if (ifd >= 0)
        close(ifd);
    return result;
}

#else /* !__linux__ */

int cmb_usbfs_open(const char *dev_root, uint8_t bus, uint8_t dev, unsigned major, unsigned minor, int64_t deadline_ms)
{
    (void)dev_root;
    (void)bus;
    (void)dev;
    (void)major;
    (void)minor;
    (void)deadline_ms;
    return CMBOOT_ERR_UNSUPPORTED;
}

#endif
