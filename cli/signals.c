/* A thread that waits for SIGINT/SIGTERM and cancels the session, so no library call runs in a handler. */
#include <pthread.h>
#include <signal.h>

#include "signals.h"

static void *signal_thread(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig;
    if (sigwait(&set, &sig) == 0)
        cmboot_ctx_cancel(arg);
    return NULL;
}

void cli_cancel_on_signals(cmboot_ctx *ctx)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t t;
    if (pthread_create(&t, NULL, signal_thread, ctx) == 0)
        pthread_detach(t);
}
