/* A thread that waits for SIGINT/SIGTERM/SIGHUP and cancels the session, so no library call runs in a handler. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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
 * (the output code that notices a closed stdout may be inside a library callback and holds its own lock,
 * so it takes no lock here either: atomics only). */
static _Atomic int stdout_gone_fd = -1;
static atomic_bool stdout_lost;

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
        int efd = atomic_load(&stdout_gone_fd);
        struct pollfd p[2] = {{sfd, POLLIN, 0}, {efd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0)
            continue; /* EINTR: nothing is handled here, but stay */
        const char *cause = NULL;
        struct signalfd_siginfo si;
        if ((p[0].revents & POLLIN) && read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
            cause = si.ssi_signo == SIGHUP ? "SIGHUP" : si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
        uint64_t n;
        if ((p[1].revents & POLLIN) && read(efd, &n, sizeof n) == (ssize_t)sizeof n && !cause)
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
    if (!cancel_seen && atomic_load(&stdout_lost)) {
        cancel_seen = true; /* stdout went before the signal thread ran */
        cancel_cause = "stdout closed";
    }
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
        int efd = eventfd(0, EFD_CLOEXEC);
        atomic_store(&stdout_gone_fd, efd);
        pthread_t t;
        if (sfd >= 0 && efd >= 0 && pthread_create(&t, NULL, signal_thread, (void *)(intptr_t)sfd) == 0) {
            pthread_detach(t);
            thread_started = true;
        } else {
            /* Without the thread the default actions stay: a signal still ends the process. */
            atomic_store(&stdout_gone_fd, -1);
            pthread_sigmask(SIG_UNBLOCK, &set, NULL);
            if (sfd >= 0)
                close(sfd);
            if (efd >= 0)
                close(efd);
        }
    }
    pthread_mutex_unlock(&cancel_mu);
}

void cli_cancel_stdout_gone(void)
{
    atomic_store(&stdout_lost, true);
    int fd = atomic_load(&stdout_gone_fd);
    uint64_t one = 1;
    /* No thread yet: nothing to cancel either; the next cli_cancel_targets sees the flag. */
    if (fd >= 0 && write(fd, &one, sizeof one) != (ssize_t)sizeof one) {
        /* The counter is already non-zero: the thread wakes anyway. */
    }
}

bool cli_cancel_requested(void)
{
    pthread_mutex_lock(&cancel_mu);
    bool seen = cancel_seen || atomic_load(&stdout_lost);
    pthread_mutex_unlock(&cancel_mu);
    return seen;
}

const char *cli_cancel_cause(void)
{
    pthread_mutex_lock(&cancel_mu);
    const char *cause = cancel_cause ? cancel_cause : atomic_load(&stdout_lost) ? "stdout closed" : NULL;
    pthread_mutex_unlock(&cancel_mu);
    return cause;
}

void cli_cancel_on_signals(cmboot_ctx *ctx)
{
    cli_cancel_targets(ctx, NULL);
}
