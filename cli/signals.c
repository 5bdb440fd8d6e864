/* A thread that waits for SIGINT/SIGTERM/SIGHUP and cancels the session, so no library call runs in a handler. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "signals.h"

/* What the signal thread cancels; swapped by the commands as they move from booting to writing. */
static pthread_mutex_t cancel_mu = PTHREAD_MUTEX_INITIALIZER;
static cmboot_ctx *cancel_ctx;
static cmboot_flash_canceller *cancel_flash;
static bool cancel_seen;
static const char *cancel_cause;
static bool thread_started;
/* Written by cli_cancel_stdout_gone: the cancel then runs in the signal thread, which holds no library lock
 * (the output code that notices a closed stdout may be inside a library callback). */
static int stdout_gone_fd = -1;

static void stop_sigset(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP); /* the terminal or the ssh session went away: nobody will see a later prompt */
}

/* With cancel_mu held. */
static void cancel_locked(const char *cause)
{
    if (!cancel_seen)
        cancel_cause = cause;
    cancel_seen = true;
    if (cancel_ctx)
        cmboot_ctx_cancel(cancel_ctx);
    if (cancel_flash)
        cmboot_flash_cancel(cancel_flash);
}

static void *signal_thread(void *arg)
{
    int sfd = (int)(intptr_t)arg;
    for (;;) {
        struct pollfd p[2] = {{sfd, POLLIN, 0}, {stdout_gone_fd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0)
            continue; /* EINTR: nothing is handled here, but stay */
        const char *cause = NULL;
        struct signalfd_siginfo si;
        if ((p[0].revents & POLLIN) && read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
            cause = si.ssi_signo == SIGHUP ? "SIGHUP" : si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
        uint64_t n;
        if ((p[1].revents & POLLIN) && read(stdout_gone_fd, &n, sizeof n) == (ssize_t)sizeof n && !cause)
            cause = "stdout closed";
        if (cause) {
            pthread_mutex_lock(&cancel_mu);
            cancel_locked(cause);
            pthread_mutex_unlock(&cancel_mu);
        }
    }
    return NULL;
}

void cli_cancel_targets(cmboot_ctx *ctx, cmboot_flash_canceller *flash)
{
    pthread_mutex_lock(&cancel_mu);
    cancel_ctx = ctx;
    cancel_flash = flash;
    /* A signal that came between two steps still stops the next one. */
    if (cancel_seen && ctx)
        cmboot_ctx_cancel(ctx);
    if (cancel_seen && flash)
        cmboot_flash_cancel(flash);
    if (!thread_started) {
        /* A reader of stdout that goes away must not kill us mid-write: the write fails with EPIPE instead
         * and the output code calls cli_cancel_stdout_gone (SIGPIPE is aimed at the writing thread, so the
         * signal thread could not take it). */
        signal(SIGPIPE, SIG_IGN);
        sigset_t set;
        stop_sigset(&set);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        int sfd = signalfd(-1, &set, SFD_CLOEXEC);
        stdout_gone_fd = eventfd(0, EFD_CLOEXEC);
        pthread_t t;
        if (sfd >= 0 && stdout_gone_fd >= 0 &&
            pthread_create(&t, NULL, signal_thread, (void *)(intptr_t)sfd) == 0) {
            pthread_detach(t);
            thread_started = true;
        } else {
            /* Without the thread the default actions stay: a signal still ends the process. */
            pthread_sigmask(SIG_UNBLOCK, &set, NULL);
            if (sfd >= 0)
                close(sfd);
            if (stdout_gone_fd >= 0)
                close(stdout_gone_fd);
            stdout_gone_fd = -1;
        }
    }
    pthread_mutex_unlock(&cancel_mu);
}

void cli_cancel_stdout_gone(void)
{
    pthread_mutex_lock(&cancel_mu);
    int fd = stdout_gone_fd;
    if (fd < 0) {
        /* No signal thread yet, so nothing to cancel either: only remember it for what comes next. */
        if (!cancel_seen)
            cancel_cause = "stdout closed";
        cancel_seen = true;
    }
    pthread_mutex_unlock(&cancel_mu);
    uint64_t one = 1;
    if (fd >= 0 && write(fd, &one, sizeof one) != (ssize_t)sizeof one) {
        /* The counter is already non-zero: the thread wakes anyway. */
    }
}

bool cli_cancel_requested(void)
{
    pthread_mutex_lock(&cancel_mu);
    bool seen = cancel_seen;
    pthread_mutex_unlock(&cancel_mu);
    return seen;
}

const char *cli_cancel_cause(void)
{
    pthread_mutex_lock(&cancel_mu);
    const char *cause = cancel_cause;
    pthread_mutex_unlock(&cancel_mu);
    return cause;
}

void cli_cancel_on_signals(cmboot_ctx *ctx)
{
    cli_cancel_targets(ctx, NULL);
}
