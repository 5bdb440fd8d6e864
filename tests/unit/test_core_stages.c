/* ROM stage and file server against a scripted transport: exact wire traffic, retries, acks and errors. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "testutil.h"

/* One scripted device reply per transfer, in order; what the host did is logged. */
typedef struct reply {
    int rc;                 /* result of the transfer */
    const uint8_t *data;    /* control IN data */
    size_t len;
} reply;

typedef struct script_dev {
    const reply *replies;
    size_t nreplies, next;
    char log[4096];         /* "o(v,i) " control OUT, "i(len) " control IN, "b(len) " bulk OUT */
} script_dev;

static void note(script_dev *d, char kind, unsigned a, int b)
{
    size_t n = strlen(d->log);
    if (b >= 0)
        snprintf(d->log + n, sizeof d->log - n, "%c(%u,%d) ", kind, a, b);
    else
        snprintf(d->log + n, sizeof d->log - n, "%c(%u) ", kind, a);
}

static const reply *take(script_dev *d)
{
    static const reply gone = {CMBOOT_ERR_NO_DEVICE, NULL, 0};
    return d->next < d->nreplies ? &d->replies[d->next++] : &gone;
}

static int s_control_out(void *self, uint16_t v, uint16_t i, unsigned t)
{
    (void)t;
    note(self, 'o', v, i);
    return take(self)->rc;
}

static int s_control_in(void *self, uint16_t v, uint16_t i, void *buf, size_t len, size_t *actual, unsigned t)
{
    (void)i; (void)t;
    note(self, 'i', v, -1);
    const reply *r = take(self);
    *actual = 0;
    if (r->rc < 0)
        return r->rc;
    size_t n = r->len < len ? r->len : len;
    memcpy(buf, r->data, n);
    *actual = n;
    return CMBOOT_OK;
}

static int s_bulk_out(void *self, const void *buf, size_t len, size_t *actual, unsigned t)
{
    (void)buf; (void)t;
    note(self, 'b', (unsigned)len, -1);
    int rc = take(self)->rc;
    *actual = rc == CMBOOT_OK ? len : 0;
    return rc;
}

static void s_cancel(void *self) { (void)self; }
static void s_close(void *self) { (void)self; }
static const cmboot_transport_ops script_ops = {s_control_out, s_control_in, s_bulk_out, s_cancel, s_close};

static uint8_t *request(int32_t cmd, const char *name)
{
    uint8_t *b = malloc(CMBOOT_FS_REQUEST_SIZE);
    cmboot_fs_request_encode(b, cmd, name, strlen(name));
    return b;
}

static int no_files(void *user, const char *name, cmboot_stream *out)
{
    (void)user; (void)name; (void)out;
    return CMBOOT_ERR_NOT_FOUND;
}

/* protocol.md section 4 step 2 comes before the command: Done with an empty name is acknowledged like any
 * empty name (the reference does the same), and serving ends with success. */
static void test_done_with_empty_name_is_acknowledged(void **state)
{
    (void)state;
    uint8_t *done = request(CMBOOT_FS_DONE, "");
    reply r[] = {{CMBOOT_OK, done, CMBOOT_FS_REQUEST_SIZE}, {CMBOOT_OK, NULL, 0}};
    script_dev d = {r, 2, 0, ""};
    cmboot_transport t = {&script_ops, &d};
    cmboot_file_provider p = {no_files, NULL};
    unsigned served = 0;
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, NULL, &served), CMBOOT_OK);
    assert_string_equal(d.log, "i(260) o(0,0) ");
    assert_int_equal(served, 1);
    free(done);
}

/* A device that leaves right after Done does not turn the Done into a failure. */
static void test_done_ack_failure_still_done(void **state)
{
    (void)state;
    uint8_t *done = request(CMBOOT_FS_DONE, "");
    reply r[] = {{CMBOOT_OK, done, CMBOOT_FS_REQUEST_SIZE}, {CMBOOT_ERR_NO_DEVICE, NULL, 0}};
    script_dev d = {r, 2, 0, ""};
    cmboot_transport t = {&script_ops, &d};
    cmboot_file_provider p = {no_files, NULL};
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, NULL, NULL), CMBOOT_OK);
    free(done);
}

/* Done that carries a name is not an empty-name request: no write follows (as the reference). */
static void test_done_with_name_not_answered(void **state)
{
    (void)state;
    uint8_t *done = request(CMBOOT_FS_DONE, "bye");
    reply r[] = {{CMBOOT_OK, done, CMBOOT_FS_REQUEST_SIZE}};
    script_dev d = {r, 1, 0, ""};
    cmboot_transport t = {&script_ops, &d};
    cmboot_file_provider p = {no_files, NULL};
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, NULL, NULL), CMBOOT_OK);
    assert_string_equal(d.log, "i(260) ");
    free(done);
}

/* A short request is detected, not parsed from stale bytes. */
static void test_short_request_is_an_error(void **state)
{
    (void)state;
    uint8_t *req = request(CMBOOT_FS_GET_FILE_SIZE, "start.elf");
    reply r[] = {{CMBOOT_OK, req, 100}};
    script_dev d = {r, 1, 0, ""};
    cmboot_transport t = {&script_ops, &d};
    cmboot_file_provider p = {no_files, NULL};
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, NULL, NULL), CMBOOT_ERR_SHORT_TRANSFER);
    assert_string_equal(d.log, "i(260) ");
    free(req);
}

static void test_unknown_command_is_protocol_error(void **state)
{
    (void)state;
    uint8_t *req = request(7, "start.elf");
    reply r[] = {{CMBOOT_OK, req, CMBOOT_FS_REQUEST_SIZE}};
    script_dev d = {r, 1, 0, ""};
    cmboot_transport t = {&script_ops, &d};
    cmboot_file_provider p = {no_files, NULL};
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, NULL, NULL), CMBOOT_ERR_PROTOCOL);
    free(req);
}

/* ROM stage: the status read is retried (stall, timeout) within the deadline, then the status decides. */
static void test_rom_status_retried_until_answer(void **state)
{
    (void)state;
    char *dir = test_tmpdir("rom");
    test_write_file(dir, "bootcode.bin", "0123456789", 10);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    int f = cmboot_open_beneath(fd, "bootcode.bin");
    assert_true(f >= 0);
    cmboot_stream s;
    assert_int_equal(cmboot_stream_from_fd(f, "bootcode.bin", &s), CMBOOT_OK);
    static const uint8_t ok[4] = {0, 0, 0, 0};
    reply r[] = {{CMBOOT_OK, NULL, 0},   {CMBOOT_OK, NULL, 0},   /* boot message */
                 {CMBOOT_OK, NULL, 0},   {CMBOOT_OK, NULL, 0},   /* second stage */
                 {CMBOOT_ERR_STALL, NULL, 0}, {CMBOOT_ERR_TIMEOUT, NULL, 0}, {CMBOOT_OK, ok, 2},
                 {CMBOOT_OK, ok, 4}};
    script_dev d = {r, sizeof r / sizeof r[0], 0, ""};
    cmboot_transport t = {&script_ops, &d};
    int32_t status = -1;
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_rom_stage_run(&t, &s, NULL, NULL, NULL, &status), CMBOOT_OK);
    assert_true(cmboot_now_ms() - t0 < 1000); /* back-off is short, no fixed one-second sleep */
    assert_int_equal(status, 0);
    assert_string_equal(d.log, "o(24,0) b(24) o(10,0) b(10) i(4) i(4) i(4) i(4) ");
    cmboot_stream_close(&s);
    close(fd);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_done_with_empty_name_is_acknowledged),
    cmocka_unit_test(test_done_ack_failure_still_done),
    cmocka_unit_test(test_done_with_name_not_answered),
    cmocka_unit_test(test_short_request_is_an_error),
    cmocka_unit_test(test_unknown_command_is_protocol_error),
    cmocka_unit_test(test_rom_status_retried_until_answer),
};
CMBOOT_TEST_MAIN(tests)
