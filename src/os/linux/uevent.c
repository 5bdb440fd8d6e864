/* Kernel uevents: datagram parsing and a netlink socket that only believes the kernel. */
#include "os/linux/uevent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/netlink.h>
#endif

#include "cmboot/error.h"
#include "core/error_map.h"

/* Copies a value into a field; false when it does not fit. */
static bool set_field(char *dst, size_t size, const char *value)
{
    size_t n = strlen(value);
    if (n >= size)
        return false;
    memcpy(dst, value, n + 1);
    return true;
}

static bool parse_int(const char *s, int max, int *out)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < 0 || v > max)
        return false;
    *out = (int)v;
    return true;
}

/* PRODUCT is "vid/pid/bcdDevice" in lower-case hex without leading zeros. */
static bool parse_product(const char *s, int *vid, int *pid)
{
    unsigned long v[2];
    for (int i = 0; i < 2; i++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
            return false;
        char *end;
        errno = 0;
        v[i] = strtoul(s, &end, 16);
        if (errno || *end != '/' || v[i] > 0xffff)
            return false;
        s = end + 1;
    }
    *vid = (int)v[0];
    *pid = (int)v[1];
    return true;
}

static cmb_uevent_action action_of(const char *s)
{
    if (strcmp(s, "add") == 0)
        return CMB_UEVENT_ADD;
    if (strcmp(s, "remove") == 0)
        return CMB_UEVENT_REMOVE;
    if (strcmp(s, "bind") == 0)
        return CMB_UEVENT_BIND;
    if (strcmp(s, "unbind") == 0)
        return CMB_UEVENT_UNBIND;
    if (strcmp(s, "change") == 0)
        return CMB_UEVENT_CHANGE;
    return CMB_UEVENT_OTHER;
}

int cmb_uevent_parse(const void *buf, size_t len, cmb_uevent *out)
{
    if (!buf || !out)
        return CMBOOT_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    out->major = out->minor = out->busnum = out->devnum = out->vid = out->pid = -1;
    const char *p = buf;
    /* Work only within len: the last string must be terminated inside the datagram. */
    if (len == 0 || len > CMB_UEVENT_BUF || p[len - 1] != '\0')
        return CMBOOT_ERR_FORMAT;
    size_t first = strlen(p);
    if (strcmp(p, "libudev") == 0 || !memchr(p, '@', first))
        return CMBOOT_ERR_FORMAT;
    bool have_action = false, have_devpath = false;
    for (size_t off = first + 1; off < len;) {
        const char *kv = p + off;
        size_t n = strlen(kv);
        off += n + 1;
        const char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        size_t klen = (size_t)(eq - kv);
        const char *v = eq + 1;
        bool ok = true;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(kv, k, klen) == 0)
        if (KEY("ACTION")) {
            out->action = action_of(v);
            have_action = true;
        } else if (KEY("DEVPATH")) {
            ok = set_field(out->devpath, sizeof out->devpath, v) && v[0] == '/';
            have_devpath = ok;
        } else if (KEY("SUBSYSTEM")) {
            ok = set_field(out->subsystem, sizeof out->subsystem, v);
        } else if (KEY("DEVTYPE")) {
            ok = set_field(out->devtype, sizeof out->devtype, v);
        } else if (KEY("DEVNAME")) {
            ok = set_field(out->devname, sizeof out->devname, v);
        } else if (KEY("MAJOR")) {
            ok = parse_int(v, 4095, &out->major);
        } else if (KEY("MINOR")) {
            ok = parse_int(v, 0xfffff, &out->minor);
        } else if (KEY("BUSNUM")) {
            ok = parse_int(v, 255, &out->busnum);
        } else if (KEY("DEVNUM")) {
            ok = parse_int(v, 255, &out->devnum);
        } else if (KEY("PRODUCT")) {
            ok = parse_product(v, &out->vid, &out->pid);
        }
#undef KEY
        if (!ok)
            return CMBOOT_ERR_FORMAT;
    }
    if (!have_action || !have_devpath)
        return CMBOOT_ERR_FORMAT;
    const char *slash = strrchr(out->devpath, '/');
    if (!set_field(out->name, sizeof out->name, slash + 1) || out->name[0] == '\0')
        return CMBOOT_ERR_FORMAT;
    return CMBOOT_OK;
}

bool cmb_uevent_is_usb_device(const cmb_uevent *ev)
{
    return ev && strcmp(ev->subsystem, "usb") == 0 && strcmp(ev->devtype, "usb_device") == 0;
}

bool cmb_uevent_drain_for(int fd, bool netlink, const char *subsystem)
{
    bool seen = false;
    char buf[CMB_UEVENT_BUF];
    for (;;) {
        size_t len = 0;
        int rc = cmb_uevent_recv(fd, netlink, buf, sizeof buf, &len);
        if (rc == CMBOOT_ERR_OVERFLOW) {
            seen = true; /* events were lost: one may have been ours */
            continue;
        }
        if (rc == CMBOOT_ERR_ACCESS || rc == CMBOOT_ERR_TOO_LARGE)
            continue; /* not from the kernel, or not a uevent: dropped */
        if (rc != CMBOOT_OK)
            return seen; /* nothing queued (TIMEOUT), or the socket failed */
        cmb_uevent ev;
        if (cmb_uevent_parse(buf, len, &ev) == CMBOOT_OK && strcmp(ev.subsystem, subsystem) == 0)
            seen = true;
    }
}

#ifdef __linux__

int cmb_uevent_socket_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
    /* Not the common errno mapping on purpose: a socket that cannot be made for any reason but permission
     * means this kernel or container has no uevent netlink, and the caller falls back. */
    if (fd < 0)
        return errno == EACCES || errno == EPERM ? CMBOOT_ERR_ACCESS : CMBOOT_ERR_UNSUPPORTED;
    struct sockaddr_nl addr;
    memset(&addr, 0, sizeof addr);
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = 1; /* the kernel's group; libudev uses group 2 */
    int on = 1;
    /* A bigger queue survives the burst of events a hub full of boards makes. */
    int rcvbuf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int err = errno;
        close(fd);
        return cmb_error_from_errno(err);
    }
    return fd;
}

int cmb_uevent_recv(int fd, bool netlink, void *buf, size_t size, size_t *len)
{
    if (fd < 0 || !buf || size == 0 || !len)
        return CMBOOT_ERR_INVALID_ARG;
    struct sockaddr_nl from;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = size};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(&from, 0, sizeof from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (netlink) {
        msg.msg_name = &from;
        msg.msg_namelen = sizeof from;
        msg.msg_control = &control;
        msg.msg_controllen = sizeof control;
    }
    ssize_t n;
    do
        n = recvmsg(fd, &msg, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    /* Receive-specific, not the common mapping: nothing queued yet, or the kernel dropped events. */
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? CMBOOT_ERR_TIMEOUT
               : errno == ENOBUFS                      ? CMBOOT_ERR_OVERFLOW
                                                       : CMBOOT_ERR_IO;
    if (n == 0 && !netlink)
        return CMBOOT_ERR_NO_DEVICE; /* test feeder closed its end */
    if (msg.msg_flags & MSG_TRUNC)
        return CMBOOT_ERR_TOO_LARGE;
    if (netlink) {
        /* The kernel sends from port id 0 with uid 0 credentials; anything else is forged or userspace. */
        if (msg.msg_namelen != sizeof from || from.nl_pid != 0)
            return CMBOOT_ERR_ACCESS;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_CREDENTIALS)
            return CMBOOT_ERR_ACCESS;
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        if (cred.uid != 0)
            return CMBOOT_ERR_ACCESS;
    }
    *len = (size_t)n;
    return CMBOOT_OK;
}

#else /* !__linux__ */

int cmb_uevent_socket_open(void)
{
    return CMBOOT_ERR_UNSUPPORTED;
}

int cmb_uevent_recv(int fd, bool netlink, void *buf, size_t size, size_t *len)
{
    (void)fd;
    (void)netlink;
    (void)buf;
    (void)size;
    (void)len;
    return CMBOOT_ERR_UNSUPPORTED;
}

#endif
