/* Cancelling a write or verification from another thread: a flag plus a wake-up of the waiting pipeline. */
#include "flash_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cmboot/error.h"

struct cmboot_flash_canceller {
    atomic_bool requested;
    pthread_mutex_t mu; /* guards the attached wait point */
    pthread_mutex_t *wait_mu;
    pthread_cond_t *wait_cv;
    int fd; /* eventfd, readable once cancelled: wakes poll() waits (pairing) */
};

int cmboot_flash_canceller_new(cmboot_flash_canceller **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_flash_canceller *c = calloc(1, sizeof *c);
    if (!c)
        return CMBOOT_ERR_NO_MEMORY;
    atomic_init(&c->requested, false);
    c->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->fd < 0 || pthread_mutex_init(&c->mu, NULL) != 0) {
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return CMBOOT_ERR_NO_MEMORY;
    }
    *out = c;
    return CMBOOT_OK;
}

void cmboot_flash_cancel(cmboot_flash_canceller *c)
{
    if (!c)
        return;
    atomic_store(&c->requested, true);
    uint64_t one = 1;
    if (write(c->fd, &one, sizeof one) != (ssize_t)sizeof one) {
        /* The counter is already non-zero: the fd is readable anyway. */
    }
    /* The flag is set before the broadcast, under the waiters' mutex: no waiter can miss it. */
    pthread_mutex_lock(&c->mu);
    if (c->wait_mu) {
        pthread_mutex_lock(c->wait_mu);
        pthread_cond_broadcast(c->wait_cv);
        pthread_mutex_unlock(c->wait_mu);
    }
    pthread_mutex_unlock(&c->mu);
}

bool cmboot_flash_cancel_requested(const cmboot_flash_canceller *c)
{
    return c && atomic_load(&c->requested);
}

void cmboot_flash_canceller_free(cmboot_flash_canceller *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    close(c->fd);
    free(c);
}

void cmb_flash_cancel_attach(cmboot_flash_canceller *c, pthread_mutex_t *mu, pthread_cond_t *cv)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->wait_mu = mu;
    c->wait_cv = cv;
    pthread_mutex_unlock(&c->mu);
}

int cmb_flash_cancel_fd(const cmboot_flash_canceller *c)
{
    return c ? c->fd : -1;
}
