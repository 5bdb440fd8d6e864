/* Cancelling a write or verification from another thread: prompt CMBOOT_ERR_CANCELLED, threads joined. */
#include "testutil.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"

#define SIZE (8u * 1024u * 1024u + 333u)

typedef struct fixture {
    char *dir;
    char image[4096];
    char target[4096];
    cmboot_flash_canceller *cancel;
    /* Handshake: the event callback (writer thread) parks on the first progress of `phase` until the
     * test thread has cancelled from a third thread, so the cancel lands mid-operation every time. */
    const char *phase;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool parked, resume;
    uint64_t done_when_parked;
    bool failed_event;
    int failed_error;
    cmboot_flash_result res;
    int rc;
} fixture;

static fixture *setup(const char *tag)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    cmboot_flash_result_default(&f->res);
    f->dir = test_tmpdir(tag);
    uint8_t *data = malloc(SIZE);
    assert_non_null(data);
    test_fill_pattern(data, SIZE, 7);
    test_write_file(f->dir, "disk.img", data, SIZE);
    free(data);
    snprintf(f->image, sizeof f->image, "%s/disk.img", f->dir);
    snprintf(f->target, sizeof f->target, "%s/target.bin", f->dir);
    assert_int_equal(cmboot_flash_canceller_new(&f->cancel), CMBOOT_OK);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    return f;
}

static void teardown(fixture *f)
{
    cmboot_flash_canceller_free(f->cancel);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
}

/* Runs on the writer's thread: no cmocka asserts here, only records. */
static void on_event(void *user, const cmboot_event *ev)
{
    fixture *f = user;
    if (ev->type == CMBOOT_EV_PHASE && strcmp(ev->name, "failed") == 0) {
        f->failed_event = true;
        f->failed_error = ev->error;
    }
    if (ev->type != CMBOOT_EV_PROGRESS || !f->phase || strcmp(ev->name, f->phase) != 0)
        return;
    pthread_mutex_lock(&f->mu);
    if (!f->parked) {
        f->parked = true;
        f->done_when_parked = ev->done;
        pthread_cond_broadcast(&f->cv);
        while (!f->resume)
            pthread_cond_wait(&f->cv, &f->mu);
    }
    pthread_mutex_unlock(&f->mu);
}

static void config(cmboot_flash_config *cfg, fixture *f)
{
    cmboot_flash_config_default(cfg);
    cfg->image = f->image;
    cfg->target = f->target;
    cfg->target_flags = CMBOOT_TARGET_CREATE; /* target.bin does not exist yet */
    cfg->cancel = f->cancel;
    cfg->event = on_event;
    cfg->user = f;
    cfg->buffer_size = 64 * 1024; /* many buffers: the producer fills the queue and waits while parked */
    cfg->buffers = 2;
}

typedef struct job {
    fixture *f;
    cmboot_flash_config cfg;
} job;

static void *write_thread(void *arg)
{
    job *j = arg;
    j->f->rc = cmboot_flash_write(&j->cfg, &j->f->res);
    return NULL;
}

static void *cancel_thread(void *arg)
{
    cmboot_flash_cancel(arg);
    return NULL;
}

/* Starts the write, waits until it is parked in `phase`, cancels from another thread, lets it go, joins. */
static void run_and_cancel(fixture *f, const char *phase)
{
    job j = {f, {0}};
    config(&j.cfg, f);
    f->phase = phase;
    pthread_t writer, canceller;
    assert_int_equal(pthread_create(&writer, NULL, write_thread, &j), 0);
    pthread_mutex_lock(&f->mu);
    while (!f->parked)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
    assert_false(cmboot_flash_cancel_requested(f->cancel));
    assert_int_equal(pthread_create(&canceller, NULL, cancel_thread, f->cancel), 0);
    assert_int_equal(pthread_join(canceller, NULL), 0);
    assert_true(cmboot_flash_cancel_requested(f->cancel));
    pthread_mutex_lock(&f->mu);
    f->resume = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(pthread_join(writer, NULL), 0);
}

static void cancel_mid_write(void **state)
{
    (void)state;
    fixture *f = setup("cancel-write");
    run_and_cancel(f, "write");
    assert_int_equal(f->rc, CMBOOT_ERR_CANCELLED);
    assert_int_equal(f->res.error, CMBOOT_ERR_CANCELLED);
    assert_true(f->done_when_parked > 0);
    /* It stopped at the next buffer: what was written when parked, not the whole image. */
    assert_int_equal(f->res.bytes_written, f->done_when_parked);
    assert_true(f->res.bytes_written < SIZE);
    assert_false(f->res.verified);
    assert_int_equal(f->res.bytes_verified, 0);
    assert_non_null(strstr(f->res.reason, "interrupted"));
    assert_true(f->failed_event);
    assert_int_equal(f->failed_error, CMBOOT_ERR_CANCELLED);
    teardown(f);
}

static void cancel_mid_verify(void **state)
{
    (void)state;
    fixture *f = setup("cancel-verify");
    run_and_cancel(f, "verify");
    assert_int_equal(f->rc, CMBOOT_ERR_CANCELLED);
    assert_int_equal(f->res.bytes_written, SIZE);
    assert_false(f->res.verified);
    assert_true(f->res.bytes_verified > 0);
    assert_true(f->res.bytes_verified < SIZE);
    assert_int_equal(f->res.bytes_verified, f->done_when_parked);
    assert_non_null(strstr(f->res.reason, "interrupted"));
    teardown(f);
}

static void cancelled_before_writes_nothing(void **state)
{
    (void)state;
    fixture *f = setup("cancel-before");
    cmboot_flash_cancel(f->cancel);
    cmboot_flash_config cfg;
    config(&cfg, f);
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_CANCELLED);
    assert_int_equal(res.bytes_written, 0);
    assert_false(res.verified);
    /* A later operation with the same canceller stays cancelled (it is a one-way flag). */
    res.image_sha256_valid = true;
    res.image_size = SIZE;
    assert_int_equal(cmboot_flash_verify(&cfg, &res), CMBOOT_ERR_CANCELLED);
    teardown(f);
}

static void canceller_basics(void **state)
{
    (void)state;
    assert_int_equal(cmboot_flash_canceller_new(NULL), CMBOOT_ERR_INVALID_ARG);
    assert_false(cmboot_flash_cancel_requested(NULL));
    cmboot_flash_cancel(NULL); /* no-op */
    cmboot_flash_canceller_free(NULL);
    cmboot_flash_canceller *c = NULL;
    assert_int_equal(cmboot_flash_canceller_new(&c), CMBOOT_OK);
    assert_false(cmboot_flash_cancel_requested(c));
    cmboot_flash_cancel(c);
    cmboot_flash_cancel(c);
    assert_true(cmboot_flash_cancel_requested(c));
    cmboot_flash_canceller_free(c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(cancel_mid_write),
    cmocka_unit_test(cancel_mid_verify),
    cmocka_unit_test(cancelled_before_writes_nothing),
    cmocka_unit_test(canceller_basics),
};

CMBOOT_TEST_MAIN(tests)
