/* Hook commands: a child process with a deadline, its output logged, its exit status checked; no shell here. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmboot/device.h"
#include "cmboot/error.h"
#include "control_internal.h"
#include "core/error_map.h"

extern char **environ;

typedef struct out_stream {
    int fd;
    char line[CMB_HOOK_LINE_MAX];
    size_t len;
} out_stream;

static void flush_line(out_stream *s, const cmb_logger *log, const char *id, const char *tag)
{
    if (s->len)
        cmb_logf(log, id, CMBOOT_LOG_INFO, "%s: %.*s", tag, (int)s->len, s->line);
    s->len = 0;
}

/* Reads what is there (the fd is non-blocking); closes it at EOF. */
static void drain(out_stream *s, const cmb_logger *log, const char *id, const char *tag)
{
    char buf[4096];
    while (s->fd >= 0) {
        ssize_t n = read(s->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0 || errno != EAGAIN) {
                close(s->fd);
                s->fd = -1;
                flush_line(s, log, id, tag);
            }
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || s->len == sizeof s->line) {
                flush_line(s, log, id, tag);
                if (buf[i] == '\n')
                    continue;
            }
            s->line[s->len++] = buf[i] == '\r' || buf[i] == '\0' ? ' ' : buf[i];
        }
    }
}

static int spawn(char *const argv[], int out_w, int err_w, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return CMBOOT_ERR_NO_MEMORY;
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return CMBOOT_ERR_NO_MEMORY;
    }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_w, 1);
    posix_spawn_file_actions_adddup2(&fa, err_w, 2);
    /* Its own process group, so a timeout kills what it started too; default signal dispositions and an empty
     * mask (the CLI blocks SIGINT/SIGTERM in every thread). */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int e = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return e == 0 ? CMBOOT_OK : cmb_error_from_errno(e);
}

int cmb_hook_run(char *const argv[], unsigned timeout_ms, const cmb_logger *log, const char *device_id, const char *tag,
                 int wake_fd, bool (*cancelled)(void *arg), void *arg, char *why, size_t why_size)
{
    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0)
        return cmb_error_from_errno(errno);
    if (pipe2(pe, O_CLOEXEC) < 0) {
        int e = errno;
        close(po[0]);
        close(po[1]);
        return cmb_error_from_errno(e);
    }
    pid_t pid = -1;
    int rc = spawn(argv, po[1], pe[1], &pid);
    close(po[1]);
    close(pe[1]);
    if (rc != CMBOOT_OK) {
        close(po[0]);
        close(pe[0]);
        snprintf(why, why_size, "cannot run '%s': %s", argv[0], cmboot_strerror(rc));
        return rc;
    }
    out_stream s[2] = {{.fd = po[0]}, {.fd = pe[0]}};
    fcntl(po[0], F_SETFL, O_NONBLOCK);
    fcntl(pe[0], F_SETFL, O_NONBLOCK);
    /* A pidfd wakes the wait when the child exits (Linux 5.3); without one, waitpid every 100 ms. */
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int64_t deadline = cmboot_now_ms() + timeout_ms;
    int status = 0;
    bool exited = false;
    rc = CMBOOT_OK;
    while (!exited) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            exited = true;
            break;
        }
        if (cancelled && cancelled(arg)) {
            rc = CMBOOT_ERR_CANCELLED;
            break;
        }
        int64_t left = deadline - cmboot_now_ms();
        if (left <= 0) {
            rc = CMBOOT_ERR_TIMEOUT;
            break;
        }
        struct pollfd p[4];
        int np = 0;
        for (int i = 0; i < 2; i++)
            if (s[i].fd >= 0)
                p[np++] = (struct pollfd){.fd = s[i].fd, .events = POLLIN};
        if (pidfd >= 0)
            p[np++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        if (wake_fd >= 0)
            p[np++] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
        /* The 100 ms bound is only for noticing a cancel that comes without wake_fd (the context's). */
        int n = poll(p, (nfds_t)np, left < 100 ? (int)left : 100);
        if (n < 0 && errno != EINTR) {
            rc = cmb_error_from_errno(errno);
            break;
        }
        drain(&s[0], log, device_id, tag);
        drain(&s[1], log, device_id, tag);
    }
    if (!exited) {
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        snprintf(why, why_size, "'%s' %s; killed", argv[0],
                 rc == CMBOOT_ERR_TIMEOUT ? "ran past its timeout" : "was cancelled");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        rc = CMBOOT_ERR_IO;
        snprintf(why, why_size, "'%s' exited with status %d", argv[0], WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        rc = CMBOOT_ERR_IO;
        snprintf(why, why_size, "'%s' was killed by signal %d", argv[0], WTERMSIG(status));
    }
    /* What it printed before it ended; a grandchild that keeps the pipe open is not waited for. */
    drain(&s[0], log, device_id, tag);
    drain(&s[1], log, device_id, tag);
    for (int i = 0; i < 2; i++) {
        flush_line(&s[i], log, device_id, tag);
        if (s[i].fd >= 0)
            close(s[i].fd);
    }
    if (pidfd >= 0)
        close(pidfd);
    return rc;
}
