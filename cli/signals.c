/* A thread that waits for SIGINT/SIGTERM and cancels the session, so no library call runs in a handler. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "signals.h"

/* What the signal thread cancels; swapped by the commands as they move from booting to writing. */
static pthread_mutex_t cancel_mu = PTHREAD_MUTEX_INITIALIZER;
static cmboot_ctx *cancel_ctx;
static cmboot_flash_canceller *cancel_flash;
static bool cancel_seen;
static bool thread_started;

static void *signal_thread(void *arg)
{
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig;
    while (sigwait(&set, &sig) == 0) {
        pthread_mutex_lock(&cancel_mu);
        cancel_seen = true;
        if (cancel_ctx)
            cmboot_ctx_cancel(cancel_ctx);
        if (cancel_flash)
            cmboot_flash_cancel(cancel_flash);
        pthread_mutex_unlock(&cancel_mu);
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
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        pthread_t t;
        if (pthread_create(&t, NULL, signal_thread, NULL) == 0) {
            pthread_detach(t);
            thread_started = true;
        }
    }
    pthread_mutex_unlock(&cancel_mu);
}

bool cli_cancel_requested(void)
{
    pthread_mutex_lock(&cancel_mu);
    bool seen = cancel_seen;
    pthread_mutex_unlock(&cancel_mu);
    return seen;
}

void cli_cancel_on_signals(cmboot_ctx *ctx)
{
    cli_cancel_targets(ctx, NULL);
}
