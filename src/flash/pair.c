/* Pairing: the disk of a mass-storage board found through sysfs under the board's own USB port path. */
#include "flash_internal.h"

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

/* One look at sysfs: 1 = found exactly one ready disk, 0 = none yet, <0 = error. */
static int scan(const char *sys, const char *dev, const char *pp, char *out, size_t out_size)
{
    char pattern[PATH_MAX];
    /* pp is a valid port path (digits, '-', '.'): nothing in it is a glob character */
    if (cmb_path_join(pattern, sizeof pattern, sys, CMB_SYS_ROOT, "/bus/usb/devices/%s/%s:*/host*/target*/*/block/*",
                      pp, pp) != CMBOOT_OK)
        return CMBOOT_ERR_TOO_LARGE;
    glob_t g;
    int r = glob(pattern, GLOB_NOSORT, NULL, &g);
    if (r == GLOB_NOMATCH)
        return 0;
    if (r != 0)
        return CMBOOT_ERR_NO_MEMORY;
    int rc = 0;
    if (g.gl_pathc > 1) {
        rc = CMBOOT_ERR_UNSAFE_TARGET; /* never guess between disks */
    } else {
        const char *name = strrchr(g.gl_pathv[0], '/') + 1;
        char p[PATH_MAX], line[64] = "";
        unsigned long long sectors = 0;
        if ((size_t)snprintf(p, sizeof p, "%s/size", g.gl_pathv[0]) < sizeof p) {
            FILE *f = fopen(p, "re");
            if (f) {
                if (fgets(line, sizeof line, f))
                    sectors = strtoull(line, NULL, 10);
                fclose(f);
            }
        }
        /* Ready once the medium has a size, devtmpfs/udev made the node and the kernel lets it be opened:
         * ENXIO/ENOMEDIUM while sd is still probing or in error recovery (the writer's one open would fail). */
        if (sectors > 0 && cmb_path_join(p, sizeof p, dev, CMB_DEV_ROOT, "/%s", name) == CMBOOT_OK && openable(p)) {
            if ((size_t)snprintf(out, out_size, "%s", p) >= out_size)
                rc = CMBOOT_ERR_TOO_LARGE;
            else
                rc = 1;
        }
    }
    globfree(&g);
    return rc;
}

int cmboot_flash_pair(const cmboot_target_env *env, const char *port_path, int64_t deadline_ms, char *out,
                      size_t out_size)
{
    return cmboot_flash_pair_cancellable(env, port_path, deadline_ms, NULL, out, out_size);
}

int cmboot_flash_pair_cancellable(const cmboot_target_env *env, const char *port_path, int64_t deadline_ms,
                                  cmboot_flash_canceller *cancel, char *out, size_t out_size)
{
    if (!port_path || !out || out_size == 0 || !cmboot_port_path_valid(port_path))
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
    int rc;
    for (;;) {
        if (cmboot_flash_cancel_requested(cancel)) {
            rc = CMBOOT_ERR_CANCELLED;
            break;
        }
        rc = scan(sys, dev, port_path, out, out_size);
        if (rc != 0)
            break;
        int64_t left = deadline_ms - cmboot_now_ms();
        if (left <= 0) {
            rc = CMBOOT_ERR_TIMEOUT;
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
    return rc == 1 ? CMBOOT_OK : rc;
}
