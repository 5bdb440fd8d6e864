/* The fastboot client against a scripted device: every reply kind and every fault, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmboot/error.h"
#include "cmboot/fastboot.h"
#include "testutil.h"

/* One scripted bulk IN: bytes (len, may be > 256 to test bounds) or an error after `wait_ms` on the clock. */
typedef struct step {
    const char *data;
    size_t len;
    int rc;
} step;

typedef struct fake {
    const step *in;
    size_t n_in, at_in;
    int out_fail_at; /* 1-based bulk OUT call that fails with out_rc (0: none) */
    int out_rc;
    int out_calls;
    char out[1 << 16]; /* everything sent, commands separated by '|' */
    size_t out_len;
    int64_t now;
    unsigned last_in_timeout;
    char log[4096];
} fake;

static int f_bulk_out(void *self, const void *buf, size_t len, size_t *actual, unsigned timeout_ms)
{
    fake *f = self;
    (void)timeout_ms;
    f->out_calls++;
    if (f->out_fail_at == f->out_calls) {
        *actual = len / 2;
        return f->out_rc;
    }
    if (f->out_len + len + 1 < sizeof f->out) {
        memcpy(f->out + f->out_len, buf, len);
        f->out_len += len;
        f->out[f->out_len++] = '|';
    }
    *actual = len;
    return CMBOOT_OK;
}

static int f_bulk_in(void *self, void *buf, size_t len, size_t *actual, unsigned timeout_ms)
{
    fake *f = self;
    *actual = 0;
    f->last_in_timeout = timeout_ms;
    if (f->at_in >= f->n_in)
        return CMBOOT_ERR_NO_DEVICE; /* the script ran out: the device is gone */
    const step *s = &f->in[f->at_in++];
    if (s->rc == CMBOOT_ERR_TIMEOUT) {
        f->now += timeout_ms;
        return s->rc;
    }
    if (s->rc)
        return s->rc;
    size_t n = s->len ? s->len : strlen(s->data);
    if (n > len)
        return CMBOOT_ERR_OVERFLOW; /* what libusb says when the device sends more than the buffer */
    memcpy(buf, s->data, n);
    *actual = n;
    return CMBOOT_OK;
}

static void f_cancel(void *self)
{
    (void)self;
}
static void f_close(void *self)
{
    (void)self;
}

static const cmboot_transport_ops fake_ops = {
    .struct_size = sizeof(cmboot_transport_ops),
    .bulk_out = f_bulk_out,
    .cancel = f_cancel,
    .close = f_close,
    .bulk_in = f_bulk_in,
};

static int64_t f_now(void *user)
{
    return ((fake *)user)->now;
}
static void f_pause(void *user, unsigned ms)
{
    ((fake *)user)->now += ms;
}

static void f_log(void *user, cmboot_fastboot_message kind, const char *text)
{
    fake *f = user;
    size_t n = strlen(f->log);
    snprintf(f->log + n, sizeof f->log - n, "%c:%s;", "ITF"[kind], text);
}

typedef struct harness {
    fake f;
    cmboot_clock clock;
    cmboot_fastboot *fb;
} harness;

static harness *start(const step *in, size_t n, uint32_t cap)
{
    harness *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->f.in = in;
    h->f.n_in = n;
    h->clock = (cmboot_clock){f_now, f_pause, &h->f};
    cmboot_fastboot_options o;
    cmboot_fastboot_options_default(&o);
    o.clock = &h->clock;
    o.log = f_log;
    o.log_user = &h->f;
    o.max_download_size = cap;
    cmboot_transport t = {&fake_ops, &h->f};
    assert_int_equal(cmboot_fastboot_new(t, &o, &h->fb), CMBOOT_OK);
    return h;
}

static void stop(harness *h)
{
    cmboot_fastboot_free(h->fb);
    free(h);
}

#define START(steps, cap) start(steps, sizeof steps / sizeof steps[0], cap)

static void sent_is(harness *h, const char *want)
{
    h->f.out[h->f.out_len] = 0;
    assert_string_equal(h->f.out, want);
}

static void getvar_okay_with_info_and_text(void **state)
{
    (void)state;
    static const step in[] = {{"INFOhello"}, {"TEXTraw\001x"}, {"OKAYCM5"}};
    harness *h = START(in, 0);
    char v[64];
    assert_int_equal(cmboot_fastboot_getvar(h->fb, "product", v, sizeof v), CMBOOT_OK);
    assert_string_equal(v, "CM5");
    sent_is(h, "getvar:product|");
    assert_string_equal(h->f.log, "I:hello;T:raw?x;");
    stop(h);
}

static void fail_reply_is_refused_with_message(void **state)
{
    (void)state;
    static const step in[] = {{"FAILno such partition"}};
    harness *h = START(in, 0);
    assert_int_equal(cmboot_fastboot_erase(h->fb, "bogus"), CMBOOT_ERR_REFUSED);
    assert_string_equal(cmboot_fastboot_last_fail(h->fb), "no such partition");
    assert_string_equal(h->f.log, "F:no such partition;");
    sent_is(h, "erase:bogus|");
    stop(h);
}

static void short_garbage_and_oversized_replies_are_protocol_errors(void **state)
{
    (void)state;
    static const step shortr[] = {{"OKA"}};
    static const step garbage[] = {{"HELLO"}};
    static char big[300];
    memset(big, 'A', sizeof big);
    memcpy(big, "OKAY", 4);
    const step huge[] = {{big, sizeof big, 0}};
    static const step data_here[] = {{"DATA00000010"}};
    const step *cases[] = {shortr, garbage, huge, data_here};
    for (size_t i = 0; i < 4; i++) {
        harness *h = start(cases[i], 1, 0);
        assert_int_equal(cmboot_fastboot_reboot(h->fb), CMBOOT_ERR_PROTOCOL);
        stop(h);
    }
}

static void timeout_is_on_the_clock(void **state)
{
    (void)state;
    static const step in[] = {{NULL, 0, CMBOOT_ERR_TIMEOUT}};
    harness *h = START(in, 0);
    assert_int_equal(cmboot_fastboot_reboot(h->fb), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(h->f.last_in_timeout, 5000);
    assert_int_equal(h->f.now, 5000);
    stop(h);
}

static void long_command_deadline_covers_info_lines(void **state)
{
    (void)state;
    /* flash: INFO lines do not extend the deadline; each read gets what is left of it. */
    static const step in[] = {{"INFOa"}, {NULL, 0, CMBOOT_ERR_TIMEOUT}};
    harness *h = START(in, 0);
    assert_int_equal(cmboot_fastboot_flash(h->fb, "mmc0"), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(h->f.last_in_timeout, 600000);
    stop(h);
}

static void endless_info_is_a_protocol_error(void **state)
{
    (void)state;
    enum { N = 5000 };
    step *in = calloc(N, sizeof *in);
    assert_non_null(in);
    for (size_t i = 0; i < N; i++)
        in[i] = (step){"INFOx", 0, 0};
    harness *h = start(in, N, 0);
    assert_int_equal(cmboot_fastboot_reboot(h->fb), CMBOOT_ERR_PROTOCOL);
    stop(h);
    free(in);
}

static void download_sends_data_in_order(void **state)
{
    (void)state;
    static const step in[] = {{"OKAY0x100000"}, {"DATA00000006"}, {"INFOgot it"}, {"OKAY"}};
    harness *h = START(in, 0);
    assert_int_equal(cmboot_fastboot_download_buffer(h->fb, "abcdef", 6, NULL, NULL), CMBOOT_OK);
    sent_is(h, "getvar:max-download-size|download:00000006|abcdef|");
    uint32_t max = 0;
    assert_int_equal(cmboot_fastboot_max_download_size(h->fb, &max), CMBOOT_OK);
    assert_int_equal(max, 0x100000); /* asked once */
    stop(h);
}

static void download_larger_than_max_is_refused_before_sending(void **state)
{
    (void)state;
    static const step in[] = {{"OKAY4"}};
    harness *h = START(in, 0);
    assert_int_equal(cmboot_fastboot_download_buffer(h->fb, "abcdef", 6, NULL, NULL), CMBOOT_ERR_TOO_LARGE);
    sent_is(h, "getvar:max-download-size|");
    stop(h);
}

static void option_caps_max_download_size(void **state)
{
    (void)state;
    static const step in[] = {{"OKAY0x1000"}};
    harness *h = START(in, 16);
    uint32_t max = 0;
    assert_int_equal(cmboot_fastboot_max_download_size(h->fb, &max), CMBOOT_OK);
    assert_int_equal(max, 16);
    stop(h);
}

static void bad_max_download_size_values(void **state)
{
    (void)state;
    const char *bad[] = {"OKAY", "OKAY0x", "OKAY12q", "OKAY0", "OKAY0x1ffffffffffffffffff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        step in[] = {{bad[i], 0, 0}};
        harness *h = start(in, 1, 0);
        uint32_t max = 1;
        assert_int_equal(cmboot_fastboot_max_download_size(h->fb, &max), CMBOOT_ERR_PROTOCOL);
        assert_int_equal(max, 0);
        stop(h);
    }
    static const step huge[] = {{"OKAY0x200000000"}};
    harness *h = START(huge, 0);
    uint32_t max = 0;
    assert_int_equal(cmboot_fastboot_max_download_size(h->fb, &max), CMBOOT_OK);
    assert_int_equal(max, UINT32_MAX);
    stop(h);
}

static void download_data_size_mismatch(void **state)
{
    (void)state;
    const char *bad[] = {"DATA00000007", "DATA00000005", "DATA0000006", "DATA0000000g", "OKAY"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        step in[] = {{"OKAY100"}, {bad[i], 0, 0}};
        harness *h = start(in, 2, 0);
        assert_int_equal(cmboot_fastboot_download_buffer(h->fb, "abcdef", 6, NULL, NULL), CMBOOT_ERR_PROTOCOL);
        sent_is(h, "getvar:max-download-size|download:00000006|"); /* no data went out */
        stop(h);
    }
}

static void download_refused_by_device(void **state)
{
    (void)state;
    static const step in[] = {{"OKAY100"}, {"FAILno room"}};
    harness *h = START(in, 0);
    assert_int_equal(cmboot_fastboot_download_buffer(h->fb, "abcdef", 6, NULL, NULL), CMBOOT_ERR_REFUSED);
    assert_string_equal(cmboot_fastboot_last_fail(h->fb), "no room");
    stop(h);
}

static void device_vanishes_mid_download(void **state)
{
    (void)state;
    static const step in[] = {{"OKAY100"}, {"DATA00000006"}};
    harness *h = START(in, 0);
    h->f.out_fail_at = 3; /* getvar, download, then the data */
    h->f.out_rc = CMBOOT_ERR_NO_DEVICE;
    assert_int_equal(cmboot_fastboot_download_buffer(h->fb, "abcdef", 6, NULL, NULL), CMBOOT_ERR_NO_DEVICE);
    stop(h);
}

static void device_vanishes_before_final_okay(void **state)
{
    (void)state;
    static const step in[] = {{"OKAY100"}, {"DATA00000006"}};
    harness *h = START(in, 0);
    assert_int_equal(cmboot_fastboot_download_buffer(h->fb, "abcdef", 6, NULL, NULL), CMBOOT_ERR_NO_DEVICE);
    stop(h);
}

typedef struct sink {
    char buf[64];
    size_t len;
    uint64_t progress;
} sink;

static int sink_write(void *user, const void *buf, size_t len)
{
    sink *s = user;
    assert_true(s->len + len <= sizeof s->buf);
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    return CMBOOT_OK;
}

static void sink_progress(void *user, uint64_t done, uint64_t total)
{
    sink *s = user;
    assert_true(done <= total);
    s->progress = done;
}

static void fetch_reads_data_in_pieces(void **state)
{
    (void)state;
    static const step in[] = {{"DATA00000008"}, {"", 0, 0}, {"1234"}, {"5678"}, {"OKAY"}};
    harness *h = START(in, 0);
    sink s = {0};
    uint32_t got = 0;
    assert_int_equal(cmboot_fastboot_fetch(h->fb, "mmc0", 0x1000, 8, sink_write, &s, &got, sink_progress, &s),
                     CMBOOT_OK);
    sent_is(h, "fetch:mmc0:0x00001000:0x00000008|");
    assert_int_equal(got, 8);
    assert_int_equal(s.len, 8);
    assert_memory_equal(s.buf, "12345678", 8);
    assert_int_equal(s.progress, 8);
    stop(h);
}

static void fetch_shorter_at_partition_end_is_fine(void **state)
{
    (void)state;
    static const step in[] = {{"DATA00000004"}, {"abcd"}, {"OKAY"}};
    harness *h = START(in, 0);
    sink s = {0};
    uint32_t got = 0;
    assert_int_equal(cmboot_fastboot_fetch(h->fb, "mmc0", 0, 8, sink_write, &s, &got, NULL, NULL), CMBOOT_OK);
    assert_int_equal(got, 4);
    stop(h);
}

static void fetch_faults(void **state)
{
    (void)state;
    /* More than asked announced; more than announced sent; the device vanishing mid-data; a FAIL. */
    static const step more[] = {{"DATA00000009"}};
    static const step overflow[] = {{"DATA00000004"}, {"abcdef"}};
    static const step vanish[] = {{"DATA00000004"}, {"ab"}};
    static const step fail[] = {{"FAILfetch unsupported"}};
    const struct {
        const step *s;
        size_t n;
        int rc;
    } cases[] = {{more, 1, CMBOOT_ERR_PROTOCOL},
                 {overflow, 2, CMBOOT_ERR_PROTOCOL},
                 {vanish, 2, CMBOOT_ERR_NO_DEVICE},
                 {fail, 1, CMBOOT_ERR_REFUSED}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        harness *h = start(cases[i].s, cases[i].n, 0);
        sink s = {0};
        uint32_t got = 99;
        assert_int_equal(cmboot_fastboot_fetch(h->fb, "mmc0", 0, 8, sink_write, &s, &got, NULL, NULL), cases[i].rc);
        assert_true(got <= 4);
        stop(h);
    }
    static const step zlps[] = {{"DATA00000004"}, {"", 0, 0}, {"", 0, 0}};
    step *many = calloc(100, sizeof *many);
    assert_non_null(many);
    many[0] = zlps[0];
    for (int i = 1; i < 100; i++)
        many[i] = zlps[1];
    harness *h = start(many, 100, 0);
    sink s = {0};
    assert_int_equal(cmboot_fastboot_fetch(h->fb, "mmc0", 0, 8, sink_write, &s, NULL, NULL, NULL), CMBOOT_ERR_PROTOCOL);
    stop(h);
    free(many);
}

static void oem_and_commands_are_bounded(void **state)
{
    (void)state;
    static const step in[] = {{"OKAYdone"}};
    harness *h = START(in, 0);
    char out[4];
    assert_int_equal(cmboot_fastboot_oem(h->fb, "led on", out, sizeof out), CMBOOT_ERR_TOO_LARGE);
    assert_string_equal(out, "don"); /* cut to fit, still terminated */
    sent_is(h, "oem led on|");
    char longname[80];
    memset(longname, 'p', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(cmboot_fastboot_flash(h->fb, longname), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmboot_fastboot_command(h->fb, "bad\ncommand", NULL, 0), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmboot_fastboot_command(h->fb, "", NULL, 0), CMBOOT_ERR_INVALID_ARG);
    sent_is(h, "oem led on|"); /* nothing more went out */
    stop(h);
}

static void transport_without_bulk_in_is_unsupported(void **state)
{
    (void)state;
    cmboot_transport_ops old = fake_ops;
    old.struct_size = offsetof(cmboot_transport_ops, bulk_in); /* an older implementer's vtable */
    fake f = {0};
    cmboot_transport t = {&old, &f};
    cmboot_fastboot *fb = (cmboot_fastboot *)1;
    assert_int_equal(cmboot_fastboot_new(t, NULL, &fb), CMBOOT_ERR_UNSUPPORTED);
    assert_null(fb);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(getvar_okay_with_info_and_text),
    cmocka_unit_test(fail_reply_is_refused_with_message),
    cmocka_unit_test(short_garbage_and_oversized_replies_are_protocol_errors),
    cmocka_unit_test(timeout_is_on_the_clock),
    cmocka_unit_test(long_command_deadline_covers_info_lines),
    cmocka_unit_test(endless_info_is_a_protocol_error),
    cmocka_unit_test(download_sends_data_in_order),
    cmocka_unit_test(download_larger_than_max_is_refused_before_sending),
    cmocka_unit_test(option_caps_max_download_size),
    cmocka_unit_test(bad_max_download_size_values),
    cmocka_unit_test(download_data_size_mismatch),
    cmocka_unit_test(download_refused_by_device),
    cmocka_unit_test(device_vanishes_mid_download),
    cmocka_unit_test(device_vanishes_before_final_okay),
    cmocka_unit_test(fetch_reads_data_in_pieces),
    cmocka_unit_test(fetch_shorter_at_partition_end_is_fine),
    cmocka_unit_test(fetch_faults),
    cmocka_unit_test(oem_and_commands_are_bounded),
    cmocka_unit_test(transport_without_bulk_in_is_unsupported),
};
CMBOOT_TEST_MAIN(tests)
