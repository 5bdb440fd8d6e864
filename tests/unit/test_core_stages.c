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
    int rc;              /* result of the transfer */
    const uint8_t *data; /* control IN data */
    size_t len;          /* control IN: bytes answered; failed bulk OUT: bytes the device took first */
} reply;

typedef struct script_dev {
    const reply *replies;
    size_t nreplies, next;
    char log[4096];     /* "o(v,i) " control OUT, "i(len) " control IN, "b(len) " bulk OUT, "h " clear halt */
    uint8_t got[65536]; /* bulk bytes the device took, in order */
    size_t ngot;
    unsigned max_in_timeout;
    struct fake_clock *clock; /* NULL: no fake time; else a control IN that times out advances it by its timeout */
    bool repeat_last;         /* after the script the last reply again and again (else the device leaves) */
} script_dev;

/* A clock that moves only when a stage pauses or a scripted transfer times out: deadlines of seconds pass in
 * no real time, and every pause is on record. */
typedef struct fake_clock {
    int64_t now;
    unsigned pauses;
    char log[2048]; /* "ms " per pause */
} fake_clock;

static int64_t fake_now(void *user)
{
    return ((fake_clock *)user)->now;
}

static void fake_pause(void *user, unsigned ms)
{
    fake_clock *c = user;
    c->now += ms;
    c->pauses++;
    size_t n = strlen(c->log);
    snprintf(c->log + n, sizeof c->log - n, "%u ", ms);
}

static cmboot_clock fake_clock_of(fake_clock *c)
{
    return (cmboot_clock){fake_now, fake_pause, c};
}

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
    if (d->next >= d->nreplies && d->repeat_last && d->nreplies)
        return &d->replies[d->nreplies - 1];
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
    (void)i;
    script_dev *d = self;
    note(d, 'i', v, -1);
    if (t > d->max_in_timeout)
        d->max_in_timeout = t;
    const reply *r = take(d);
    *actual = 0;
    if (r->rc == CMBOOT_ERR_TIMEOUT && d->clock)
        d->clock->now += t; /* the device NAKed for the whole timeout */
    if (r->rc < 0)
        return r->rc;
    size_t n = r->len < len ? r->len : len;
    memcpy(buf, r->data, n);
    *actual = n;
    return CMBOOT_OK;
}

static int s_bulk_out(void *self, const void *buf, size_t len, size_t *actual, unsigned t)
{
    (void)t;
    script_dev *d = self;
    note(d, 'b', (unsigned)len, -1);
    const reply *r = take(d);
    size_t took = r->rc == CMBOOT_OK ? len : (r->len < len ? r->len : len);
    if (d->ngot + took <= sizeof d->got) {
        memcpy(d->got + d->ngot, buf, took);
        d->ngot += took;
    }
    *actual = took;
    return r->rc;
}

static int s_clear_halt(void *self)
{
    script_dev *d = self;
    size_t n = strlen(d->log);
    snprintf(d->log + n, sizeof d->log - n, "h ");
    return take(d)->rc;
}

static void s_cancel(void *self)
{
    (void)self;
}
static void s_close(void *self)
{
    (void)self;
}
/* Without clear_halt, as transports that cannot clear a halt. */
static const cmboot_transport_ops script_ops = {
    .struct_size = sizeof(cmboot_transport_ops),
    .control_out = s_control_out,
    .control_in = s_control_in,
    .bulk_out = s_bulk_out,
    .cancel = s_cancel,
    .close = s_close,
};
static const cmboot_transport_ops script_ops_halt = {
    .struct_size = sizeof(cmboot_transport_ops),
    .control_out = s_control_out,
    .control_in = s_control_in,
    .bulk_out = s_bulk_out,
    .cancel = s_cancel,
    .close = s_close,
    .clear_halt = s_clear_halt,
};

/* Log lines the stages sent, joined. */
typedef struct log_sink {
    char text[8192];
    int warnings;
    char keys[512]; /* metadata hook: "KEY=VALUE;" */
} log_sink;

static void sink_log(void *user, int level, const char *msg)
{
    log_sink *l = user;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s\n", msg);
    if (level == CMBOOT_LOG_WARN)
        l->warnings++;
}

static void sink_metadata(void *user, const char *key, const char *value)
{
    log_sink *l = user;
    size_t n = strlen(l->keys);
    snprintf(l->keys + n, sizeof l->keys - n, "%s=%s;", key, value);
}

static uint8_t *request(int32_t cmd, const char *name)
{
    uint8_t *b = malloc(CMBOOT_FS_REQUEST_SIZE);
    cmboot_fs_request_encode(b, cmd, name, strlen(name));
    return b;
}

static int no_files(void *user, const char *name, cmboot_stream *out)
{
    (void)user;
    (void)name;
    (void)out;
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
    cmboot_file_provider p = {sizeof p, no_files, NULL};
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
    cmboot_file_provider p = {sizeof p, no_files, NULL};
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
    cmboot_file_provider p = {sizeof p, no_files, NULL};
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, NULL, NULL), CMBOOT_OK);
    assert_string_equal(d.log, "i(260) ");
    free(done);
}

/* A reply of fewer than 4 bytes or more than asked is logged and acknowledged: the device sent a request and
 * waits for its answer (left unanswered, a real board hangs). 4..259 bytes are a request whose name ends where
 * the data ends (Imager's rule). */
static void test_short_request_read_again(void **state)
{
    (void)state;
    uint8_t *req = request(CMBOOT_FS_GET_FILE_SIZE, "start.elf");
    uint8_t *done = request(CMBOOT_FS_DONE, "");
    reply r[] = {{CMBOOT_OK, req, 3},                                  /* too short: acknowledged */
                 {CMBOOT_OK, NULL, 0}, {CMBOOT_ERR_OVERFLOW, NULL, 0}, /* too long: acknowledged */
                 {CMBOOT_OK, NULL, 0}, {CMBOOT_OK, req, 13},           /* "start.elf" without its NUL */
                 {CMBOOT_OK, NULL, 0},                                 /* its answer: absent */
                 {CMBOOT_OK, done, 4},                                 /* command only: empty name ends serving */
                 {CMBOOT_OK, NULL, 0}};
    script_dev d = {r, sizeof r / sizeof r[0], 0, ""};
    cmboot_transport t = {&script_ops, &d};
    cmboot_file_provider p = {sizeof p, no_files, NULL};
    log_sink l = {"", 0, ""};
    cmboot_stage_hooks h = {.struct_size = sizeof h, .log = sink_log, .user = &l};
    unsigned served = 0;
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, &h, &served), CMBOOT_OK);
    assert_string_equal(d.log, "i(260) o(0,0) i(260) o(0,0) i(260) o(0,0) i(260) o(0,0) ");
    assert_int_equal(served, 4);
    assert_non_null(strstr(l.text, "request of 3 bytes"));
    free(req);
    free(done);
}

/* The name asked for is the one that arrived in a short reply. */
static int record_name(void *user, const char *name, cmboot_stream *out)
{
    (void)out;
    snprintf(user, 64, "%s", name);
    return CMBOOT_ERR_NOT_FOUND;
}

static void test_short_request_name_ends_with_data(void **state)
{
    (void)state;
    uint8_t *req = request(CMBOOT_FS_READ_FILE, "config.txt");
    reply r[] = {{CMBOOT_OK, req, 10}, {CMBOOT_OK, NULL, 0}};
    script_dev d = {r, 2, 0, ""};
    cmboot_transport t = {&script_ops, &d};
    char seen[64] = "";
    cmboot_file_provider p = {sizeof p, record_name, seen};
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, NULL, NULL), CMBOOT_ERR_NO_DEVICE);
    assert_string_equal(seen, "config");
    assert_string_equal(d.log, "i(260) o(0,0) i(260) ");
    free(req);
}

/* An unknown command is acknowledged and serving goes on (also how a misaligned reply is recovered). */
static void test_unknown_command_acknowledged(void **state)
{
    (void)state;
    uint8_t *req = request(7, "start.elf");
    uint8_t *neg = request(-3, "a\"b\\c");
    uint8_t *done = request(CMBOOT_FS_DONE, "");
    reply r[] = {{CMBOOT_OK, req, CMBOOT_FS_REQUEST_SIZE},  {CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, neg, CMBOOT_FS_REQUEST_SIZE},  {CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, done, CMBOOT_FS_REQUEST_SIZE}, {CMBOOT_OK, NULL, 0}};
    script_dev d = {r, sizeof r / sizeof r[0], 0, ""};
    cmboot_transport t = {&script_ops, &d};
    char seen[64] = "";
    cmboot_file_provider p = {sizeof p, record_name, seen};
    log_sink l = {"", 0, ""};
    cmboot_stage_hooks h = {.struct_size = sizeof h, .log = sink_log, .user = &l};
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, &h, NULL), CMBOOT_OK);
    assert_string_equal(d.log, "i(260) o(0,0) i(260) o(0,0) i(260) o(0,0) ");
    assert_string_equal(seen, ""); /* never looked up */
    assert_int_equal(l.warnings, 2);
    assert_non_null(strstr(l.text, "unknown command (command 7, name \"start.elf\")"));
    assert_non_null(strstr(l.text, "command -3, name \"a\\x22b\\x5cc\""));
    free(req);
    free(neg);
    free(done);
}

/* Log lines about device names are bounded whatever the name holds. */
static void test_odd_request_log_bounded(void **state)
{
    (void)state;
    char name[255];
    memset(name, 0x80, sizeof name); /* each byte escapes to four characters */
    uint8_t *req = request(4, "");
    memcpy(req + 4, name, sizeof name);
    reply r[] = {{CMBOOT_OK, req, CMBOOT_FS_REQUEST_SIZE}, {CMBOOT_OK, NULL, 0}};
    script_dev d = {r, 2, 0, ""};
    cmboot_transport t = {&script_ops, &d};
    cmboot_file_provider p = {sizeof p, no_files, NULL};
    log_sink l = {"", 0, ""};
    cmboot_stage_hooks h = {.struct_size = sizeof h, .log = sink_log, .user = &l};
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, &h, NULL), CMBOOT_ERR_NO_DEVICE);
    assert_string_equal(d.log, "i(260) o(0,0) i(260) ");
    const char *line = strstr(l.text, "unknown command (command 4, name \"\\x80\\x80");
    assert_non_null(line);
    const char *end = strchr(line, '\n');
    assert_true(end - line < 320);
    assert_non_null(strstr(line, "...\"): acknowledged"));
    free(req);
}

/* Every '*' message but Done is acknowledged; what parses is recorded, the rest logged (escaped). */
static void test_odd_metadata_acknowledged(void **state)
{
    (void)state;
    uint8_t *m1 = request(CMBOOT_FS_GET_FILE_SIZE, "*NOVALUE");
    uint8_t *m2 = request(CMBOOT_FS_READ_FILE, "*BAD KEY*x");
    uint8_t *m3 = request(CMBOOT_FS_READ_FILE, "*EEPROM_UPDATE*");
    uint8_t *m4 = request(5, "*MAC_ADDR*d8:3a");
    uint8_t *m5 = request(CMBOOT_FS_GET_FILE_SIZE, "*\xff*v");
    uint8_t *m6 = request(CMBOOT_FS_GET_FILE_SIZE, "*K*a\tb"); /* control character: refused, still answered */
    uint8_t *done = request(CMBOOT_FS_DONE, "");
    reply r[] = {{CMBOOT_OK, m1, CMBOOT_FS_REQUEST_SIZE},   {CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, m2, CMBOOT_FS_REQUEST_SIZE},   {CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, m3, CMBOOT_FS_REQUEST_SIZE},   {CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, m4, CMBOOT_FS_REQUEST_SIZE},   {CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, m5, CMBOOT_FS_REQUEST_SIZE},   {CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, m6, CMBOOT_FS_REQUEST_SIZE},   {CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, done, CMBOOT_FS_REQUEST_SIZE}, {CMBOOT_OK, NULL, 0}};
    script_dev d = {r, sizeof r / sizeof r[0], 0, ""};
    cmboot_transport t = {&script_ops, &d};
    char seen[64] = "";
    cmboot_file_provider p = {sizeof p, record_name, seen};
    log_sink l = {"", 0, ""};
    cmboot_stage_hooks h = {.struct_size = sizeof h, .metadata = sink_metadata, .log = sink_log, .user = &l};
    unsigned served = 0;
    assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, &h, &served), CMBOOT_OK);
    assert_string_equal(d.log, "i(260) o(0,0) i(260) o(0,0) i(260) o(0,0) i(260) o(0,0) i(260) o(0,0) "
                               "i(260) o(0,0) i(260) o(0,0) ");
    assert_int_equal(served, 7);
    assert_string_equal(l.keys, "EEPROM_UPDATE=;MAC_ADDR=d8:3a;");
    assert_string_equal(seen, "");
    assert_non_null(strstr(l.text, "\"*NOVALUE\""));
    assert_non_null(strstr(l.text, "\"*BAD KEY*x\""));
    assert_non_null(strstr(l.text, "\"*\\xff*v\""));
    assert_non_null(strstr(l.text, "\"*K*a\\x09b\""));
    assert_int_equal(l.warnings, 4);
    free(m1);
    free(m2);
    free(m3);
    free(m4);
    free(m5);
    free(m6);
    free(done);
}

/* An empty name ends serving whatever the command, after a zero-length write. */
static void test_empty_name_ends_any_command(void **state)
{
    (void)state;
    static const int32_t cmds[] = {CMBOOT_FS_GET_FILE_SIZE, CMBOOT_FS_READ_FILE, 9, -1};
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++) {
        uint8_t *req = request(cmds[k], "");
        reply r[] = {{CMBOOT_OK, req, CMBOOT_FS_REQUEST_SIZE}, {CMBOOT_ERR_NO_DEVICE, NULL, 0}};
        script_dev d = {r, 2, 0, ""};
        cmboot_transport t = {&script_ops, &d};
        cmboot_file_provider p = {sizeof p, no_files, NULL};
        assert_int_equal(cmboot_fileserver_run(&t, &p, NULL, NULL, NULL), CMBOOT_OK);
        assert_string_equal(d.log, "i(260) o(0,0) ");
        free(req);
    }
}

/* A read that times out or stalls is read again (the reference keeps polling); a gone device ends it. */
static void test_request_timeout_reads_again(void **state)
{
    (void)state;
    uint8_t *done = request(CMBOOT_FS_DONE, "");
    reply r[] = {{CMBOOT_ERR_TIMEOUT, NULL, 0},
                 {CMBOOT_ERR_TIMEOUT, NULL, 0},
                 {CMBOOT_ERR_STALL, NULL, 0},
                 {CMBOOT_ERR_STALL, NULL, 0},
                 {CMBOOT_OK, done, CMBOOT_FS_REQUEST_SIZE},
                 {CMBOOT_OK, NULL, 0}};
    script_dev d = {r, sizeof r / sizeof r[0], 0, ""};
    cmboot_transport t = {&script_ops, &d};
    cmboot_file_provider p = {sizeof p, no_files, NULL};
    cmboot_stage_limits lim;
    cmboot_stage_limits_default(&lim);
    assert_int_equal(lim.request_timeout_ms, 20000);
    assert_int_equal(lim.request_idle_limit_ms, 0);
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_fileserver_run(&t, &p, &lim, NULL, NULL), CMBOOT_OK);
    assert_true(cmboot_now_ms() - t0 < 1000); /* the back-off stays short */
    assert_string_equal(d.log, "i(260) i(260) i(260) i(260) i(260) o(0,0) ");
    assert_int_equal(d.max_in_timeout, 20000);
    free(done);

    /* device gone: the stage ends with the transport's error */
    static const int gone[] = {CMBOOT_ERR_NO_DEVICE, CMBOOT_ERR_IO, CMBOOT_ERR_CANCELLED};
    for (size_t k = 0; k < 3; k++) {
        reply g[] = {{CMBOOT_ERR_TIMEOUT, NULL, 0}, {gone[k], NULL, 0}};
        script_dev dg = {g, 2, 0, ""};
        cmboot_transport tg = {&script_ops, &dg};
        assert_int_equal(cmboot_fileserver_run(&tg, &p, &lim, NULL, NULL), gone[k]);
        assert_string_equal(dg.log, "i(260) i(260) ");
    }
}

/* Reads the device refuses at once are spaced by a growing pause, capped by retry_backoff_max_ms; the pauses
 * are the clock's (a fake one here: on record, no real wait). */
static void test_request_backoff_bounded(void **state)
{
    (void)state;
    uint8_t *done = request(CMBOOT_FS_DONE, "");
    reply r[] = {{CMBOOT_ERR_STALL, NULL, 0},
                 {CMBOOT_ERR_STALL, NULL, 0},
                 {CMBOOT_ERR_STALL, NULL, 0},
                 {CMBOOT_ERR_STALL, NULL, 0},
                 {CMBOOT_ERR_STALL, NULL, 0},
                 {CMBOOT_ERR_STALL, NULL, 0},
                 {CMBOOT_OK, done, CMBOOT_FS_REQUEST_SIZE},
                 {CMBOOT_OK, NULL, 0}};
    cmboot_file_provider p = {sizeof p, no_files, NULL};
    cmboot_stage_limits lim;
    cmboot_stage_limits_default(&lim);
    assert_int_equal(lim.retry_backoff_max_ms, 250);
    assert_null(lim.clock);
    fake_clock fc = {0, 0, ""};
    cmboot_clock clk = fake_clock_of(&fc);
    lim.clock = &clk;
    int64_t t0 = cmboot_now_ms();
    /* default: the first read again at once, then 10 ms doubling */
    script_dev dd = {r, sizeof r / sizeof r[0], 0, ""};
    cmboot_transport t = {&script_ops, &dd};
    assert_int_equal(cmboot_fileserver_run(&t, &p, &lim, NULL, NULL), CMBOOT_OK);
    assert_string_equal(fc.log, "10 20 40 80 160 ");
    /* capped */
    memset(&fc, 0, sizeof fc);
    lim.retry_backoff_max_ms = 20;
    script_dev d = {r, sizeof r / sizeof r[0], 0, ""};
    t.self = &d;
    assert_int_equal(cmboot_fileserver_run(&t, &p, &lim, NULL, NULL), CMBOOT_OK);
    assert_string_equal(fc.log, "10 20 20 20 20 ");
    assert_int_equal(fc.now, 90);
    /* no pause at all */
    memset(&fc, 0, sizeof fc);
    lim.retry_backoff_max_ms = 0;
    script_dev d0 = {r, sizeof r / sizeof r[0], 0, ""};
    t.self = &d0;
    assert_int_equal(cmboot_fileserver_run(&t, &p, &lim, NULL, NULL), CMBOOT_OK);
    assert_int_equal(fc.pauses, 0);
    assert_string_equal(d0.log, d.log);
    assert_true(cmboot_now_ms() - t0 < 300); /* 400 ms of pauses, none of them real */
    free(done);
}

/* A device that never answers: each read waits its timeout (on the fake clock: advances it); the idle limit
 * ends the stage. */
typedef struct mute_dev {
    unsigned reads, max_timeout;
    fake_clock *clock;
} mute_dev;

static int m_control_in(void *self, uint16_t v, uint16_t i, void *buf, size_t len, size_t *actual, unsigned t)
{
    (void)v;
    (void)i;
    (void)buf;
    (void)len;
    mute_dev *m = self;
    m->reads++;
    if (t > m->max_timeout)
        m->max_timeout = t;
    *actual = 0;
    m->clock->now += t; /* stands for the device NAKing until the timeout */
    return CMBOOT_ERR_TIMEOUT;
}

static int m_fail(void *self, uint16_t v, uint16_t i, unsigned t)
{
    (void)self;
    (void)v;
    (void)i;
    (void)t;
    return CMBOOT_ERR_IO;
}

/* The default 20 s reads and a 60 s idle limit: the limit fires on the fake clock within milliseconds of real
 * time (on the system clock this test would take a minute). */
static void test_request_idle_limit(void **state)
{
    (void)state;
    static const cmboot_transport_ops mute_ops = {
        .struct_size = sizeof(cmboot_transport_ops), .control_out = m_fail, .control_in = m_control_in};
    fake_clock fc = {1000000, 0, ""}; /* any origin */
    cmboot_clock clk = fake_clock_of(&fc);
    mute_dev m = {0, 0, &fc};
    cmboot_transport t = {&mute_ops, &m};
    cmboot_file_provider p = {sizeof p, no_files, NULL};
    cmboot_stage_limits lim;
    cmboot_stage_limits_default(&lim);
    lim.request_idle_limit_ms = 60000;
    lim.clock = &clk;
    log_sink l = {"", 0, ""};
    cmboot_stage_hooks h = {.struct_size = sizeof h, .log = sink_log, .user = &l};
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_fileserver_run(&t, &p, &lim, &h, NULL), CMBOOT_ERR_TIMEOUT);
    assert_true(cmboot_now_ms() - t0 < 500);
    assert_int_equal(fc.now, 1000000 + 60000);
    assert_int_equal(m.reads, 3); /* read again after each timeout */
    assert_int_equal(m.max_timeout, 20000);
    assert_int_equal(fc.pauses, 0); /* a timed-out read is read again at once */
    assert_non_null(strstr(l.text, "no request from the device for 60000 ms"));

    /* the last read is cut to what is left of the limit */
    memset(&fc, 0, sizeof fc);
    m = (mute_dev){0, 0, &fc};
    lim.request_idle_limit_ms = 50000;
    assert_int_equal(cmboot_fileserver_run(&t, &p, &lim, NULL, NULL), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(fc.now, 50000);
    assert_int_equal(m.reads, 3);
}

/* A device that stalls every read: the back-off pauses count towards the idle limit, the last one cut to what
 * is left, so the stage ends exactly at the limit. */
static void test_request_idle_limit_stalls(void **state)
{
    (void)state;
    reply r[] = {{CMBOOT_ERR_STALL, NULL, 0}};
    script_dev d = {r, 1, 0, ""};
    d.repeat_last = true;
    cmboot_transport t = {&script_ops, &d};
    cmboot_file_provider p = {sizeof p, no_files, NULL};
    fake_clock fc = {0, 0, ""};
    cmboot_clock clk = fake_clock_of(&fc);
    cmboot_stage_limits lim;
    cmboot_stage_limits_default(&lim);
    lim.request_idle_limit_ms = 60000;
    lim.clock = &clk;
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_fileserver_run(&t, &p, &lim, NULL, NULL), CMBOOT_ERR_TIMEOUT);
    assert_true(cmboot_now_ms() - t0 < 500);
    assert_int_equal(fc.now, 60000);
    /* 10 20 40 80 160, then 250 each: 310 + 238 * 250 = 59810, and the last pause is the 190 ms left */
    assert_int_equal(fc.pauses, 5 + 238 + 1);
    assert_non_null(strstr(fc.log, "160 250 250 "));
    size_t n = strlen(fc.log);
    assert_true(n > 5);
    assert_string_equal(fc.log + n - 8, "250 190 ");
}

/* A file served from memory. */
typedef struct mem_file {
    const uint8_t *data;
    size_t size, pos;
} mem_file;

static long mem_read(void *self, void *buf, size_t len)
{
    mem_file *f = self;
    size_t n = f->size - f->pos < len ? f->size - f->pos : len;
    memcpy(buf, f->data + f->pos, n);
    f->pos += n;
    return (long)n;
}

static int mem_open(void *user, const char *name, cmboot_stream *out)
{
    mem_file *f = user;
    if (strcmp(name, "boot.img") != 0)
        return CMBOOT_ERR_NOT_FOUND;
    f->pos = 0;
    memset(out, 0, sizeof *out);
    out->size = f->size;
    out->read = mem_read;
    out->self = f;
    snprintf(out->source, sizeof out->source, "memory");
    return CMBOOT_OK;
}

/* ReadFile of boot.img (10000 bytes, 4096-byte chunks) against a script; returns the file server's result. */
static int serve_boot_img(script_dev *d, const cmboot_transport_ops *ops, uint8_t *content, log_sink *l)
{
    test_fill_pattern(content, 10000, 77);
    mem_file f = {content, 10000, 0};
    cmboot_transport t = {ops, d};
    cmboot_file_provider p = {sizeof p, mem_open, &f};
    cmboot_stage_limits lim;
    cmboot_stage_limits_default(&lim);
    lim.chunk_size = 4096;
    cmboot_stage_hooks h = {.struct_size = sizeof h, .log = sink_log, .user = l};
    return cmboot_fileserver_run(&t, &p, &lim, &h, NULL);
}

/* A stall mid-file: the halt is cleared and the rest resent from the first byte the device did not take. */
static void test_bulk_stall_cleared_and_resent(void **state)
{
    (void)state;
    uint8_t *req = request(CMBOOT_FS_READ_FILE, "boot.img");
    uint8_t content[10000];
    reply r[] = {{CMBOOT_OK, req, CMBOOT_FS_REQUEST_SIZE},
                 {CMBOOT_OK, NULL, 0},           /* size announced */
                 {CMBOOT_OK, NULL, 0},           /* chunk 1: 4096 */
                 {CMBOOT_ERR_STALL, NULL, 1000}, /* chunk 2: stalls after 1000 bytes */
                 {CMBOOT_OK, NULL, 0},           /* clear halt */
                 {CMBOOT_OK, NULL, 0},           /* the other 3096 */
                 {CMBOOT_OK, NULL, 0}};          /* chunk 3: 1808 */
    script_dev *d = calloc(1, sizeof *d);
    d->replies = r;
    d->nreplies = sizeof r / sizeof r[0];
    log_sink l = {"", 0, ""};
    assert_int_equal(serve_boot_img(d, &script_ops_halt, content, &l), CMBOOT_ERR_NO_DEVICE);
    assert_string_equal(d->log, "i(260) o(10000,0) b(4096) b(4096) h b(3096) b(1808) i(260) ");
    assert_int_equal(d->ngot, 10000);
    assert_memory_equal(d->got, content, 10000); /* complete and in order */
    assert_non_null(strstr(l.text, "after 1000 of 4096 bytes"));
    free(d);
    free(req);
}

/* One retry per file: a second failure ends the stage with it; I/O errors are retried like stalls. */
static void test_bulk_second_failure_fails(void **state)
{
    (void)state;
    uint8_t *req = request(CMBOOT_FS_READ_FILE, "boot.img");
    uint8_t content[10000];
    reply r[] = {{CMBOOT_OK, req, CMBOOT_FS_REQUEST_SIZE},
                 {CMBOOT_OK, NULL, 0},
                 {CMBOOT_ERR_IO, NULL, 100},  /* chunk 1 */
                 {CMBOOT_OK, NULL, 0},        /* clear halt */
                 {CMBOOT_OK, NULL, 0},        /* 3996 */
                 {CMBOOT_ERR_STALL, NULL, 0}, /* chunk 2 */
                 {CMBOOT_OK, NULL, 0}};       /* a clear halt that must not come */
    script_dev *d = calloc(1, sizeof *d);
    d->replies = r;
    d->nreplies = sizeof r / sizeof r[0];
    log_sink l = {"", 0, ""};
    assert_int_equal(serve_boot_img(d, &script_ops_halt, content, &l), CMBOOT_ERR_STALL);
    assert_string_equal(d->log, "i(260) o(10000,0) b(4096) h b(3996) b(4096) ");
    assert_int_equal(d->ngot, 4096);
    assert_memory_equal(d->got, content, 4096);
    free(d);
    free(req);
}

/* No retry without clear_halt, when clearing fails, or when the device is gone. */
static void test_bulk_no_retry(void **state)
{
    (void)state;
    uint8_t *req = request(CMBOOT_FS_READ_FILE, "boot.img");
    uint8_t content[10000];
    reply r1[] = {{CMBOOT_OK, req, CMBOOT_FS_REQUEST_SIZE}, {CMBOOT_OK, NULL, 0}, {CMBOOT_ERR_STALL, NULL, 10}};
    script_dev *d = calloc(1, sizeof *d);
    d->replies = r1;
    d->nreplies = 3;
    log_sink l = {"", 0, ""};
    assert_int_equal(serve_boot_img(d, &script_ops, content, &l), CMBOOT_ERR_STALL);
    assert_string_equal(d->log, "i(260) o(10000,0) b(4096) ");

    reply r2[] = {{CMBOOT_OK, req, CMBOOT_FS_REQUEST_SIZE},
                  {CMBOOT_OK, NULL, 0},
                  {CMBOOT_ERR_STALL, NULL, 10},
                  {CMBOOT_ERR_STALL, NULL, 0}};
    memset(d, 0, sizeof *d);
    d->replies = r2;
    d->nreplies = 4;
    assert_int_equal(serve_boot_img(d, &script_ops_halt, content, &l), CMBOOT_ERR_STALL);
    assert_string_equal(d->log, "i(260) o(10000,0) b(4096) h ");
    assert_non_null(strstr(l.text, "clearing the bulk OUT halt failed"));

    reply r3[] = {{CMBOOT_OK, req, CMBOOT_FS_REQUEST_SIZE}, {CMBOOT_OK, NULL, 0}, {CMBOOT_ERR_NO_DEVICE, NULL, 0}};
    memset(d, 0, sizeof *d);
    d->replies = r3;
    d->nreplies = 3;
    assert_int_equal(serve_boot_img(d, &script_ops_halt, content, &l), CMBOOT_ERR_NO_DEVICE);
    assert_string_equal(d->log, "i(260) o(10000,0) b(4096) ");
    free(d);
    free(req);
}

/* cmboot_wire_write (boot message path) retries the same way. */
static void test_wire_write_retries_bulk(void **state)
{
    (void)state;
    uint8_t msg[24];
    test_fill_pattern(msg, sizeof msg, 5);
    reply r[] = {{CMBOOT_OK, NULL, 0}, {CMBOOT_ERR_STALL, NULL, 20}, {CMBOOT_OK, NULL, 0}, {CMBOOT_OK, NULL, 0}};
    script_dev *d = calloc(1, sizeof *d);
    d->replies = r;
    d->nreplies = 4;
    cmboot_transport t = {&script_ops_halt, d};
    assert_int_equal(cmboot_wire_write(&t, msg, sizeof msg, 1000), CMBOOT_OK);
    assert_string_equal(d->log, "o(24,0) b(24) h b(4) ");
    assert_int_equal(d->ngot, 24);
    assert_memory_equal(d->got, msg, 24);
    free(d);
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
    reply r[] = {{CMBOOT_OK, NULL, 0},        {CMBOOT_OK, NULL, 0}, /* boot message */
                 {CMBOOT_OK, NULL, 0},        {CMBOOT_OK, NULL, 0}, /* second stage */
                 {CMBOOT_ERR_STALL, NULL, 0}, {CMBOOT_ERR_TIMEOUT, NULL, 0}, {CMBOOT_OK, ok, 2}, {CMBOOT_OK, ok, 4}};
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

/* Opens a 10-byte bootcode.bin as a stream; *dir and *fd to be released by rom_close. */
static void rom_open(char **dir, int *fd, cmboot_stream *s)
{
    *dir = test_tmpdir("rom");
    test_write_file(*dir, "bootcode.bin", "0123456789", 10);
    *fd = open(*dir, O_RDONLY | O_DIRECTORY);
    assert_true(*fd >= 0);
    int f = cmboot_open_beneath(*fd, "bootcode.bin");
    assert_true(f >= 0);
    assert_int_equal(cmboot_stream_from_fd(f, "bootcode.bin", s), CMBOOT_OK);
}

static void rom_close(char *dir, int fd, cmboot_stream *s)
{
    cmboot_stream_close(s);
    close(fd);
    test_rmtree(dir);
    free(dir);
}

/* Runs the ROM stage against writes that succeed followed by `status_replies` (the last one repeated for ever),
 * on a fake clock with the default 5 s status deadline; *clock_ms gets the fake time the stage took. */
static int rom_run_at(const reply *status_replies, size_t n, bool optional, int32_t *status, log_sink *l,
                      unsigned deadline_ms, int64_t *clock_ms)
{
    reply r[16] = {{CMBOOT_OK, NULL, 0}, {CMBOOT_OK, NULL, 0}, {CMBOOT_OK, NULL, 0}, {CMBOOT_OK, NULL, 0}};
    assert_true(n >= 1 && n <= 12);
    memcpy(r + 4, status_replies, n * sizeof *r);
    fake_clock *fc = calloc(1, sizeof *fc);
    cmboot_clock clk = fake_clock_of(fc);
    script_dev *d = calloc(1, sizeof *d);
    d->replies = r;
    d->nreplies = 4 + n;
    d->repeat_last = true;
    d->clock = fc;
    cmboot_transport t = {&script_ops, d};
    char *dir;
    int fd;
    cmboot_stream s;
    rom_open(&dir, &fd, &s);
    cmboot_stage_limits lim;
    cmboot_stage_limits_default(&lim);
    assert_false(lim.rom_status_optional);
    assert_int_equal(lim.status_deadline_ms, 5000);
    if (deadline_ms)
        lim.status_deadline_ms = deadline_ms;
    lim.rom_status_optional = optional;
    lim.clock = &clk;
    cmboot_stage_hooks h = {.struct_size = sizeof h, .log = sink_log, .user = l};
    int rc = cmboot_rom_stage_run(&t, &s, NULL, &lim, &h, status);
    if (clock_ms)
        *clock_ms = fc->now;
    rom_close(dir, fd, &s);
    free(d);
    free(fc);
    return rc;
}

static int rom_run(const reply *status_replies, size_t n, bool optional, int32_t *status, log_sink *l)
{
    return rom_run_at(status_replies, n, optional, status, l, 0, NULL);
}

/* rom_status_optional: a status read that fails is a warning and the stage succeeds; a non-zero status is
 * still a rejection, a cancel still a cancel. */
static void test_rom_status_optional(void **state)
{
    (void)state;
    static const uint8_t bad[4] = {5, 0, 0, 0};
    const reply stalls[] = {{CMBOOT_ERR_STALL, NULL, 0}};
    const reply overflow[] = {{CMBOOT_ERR_OVERFLOW, NULL, 0}};
    const reply access[] = {{CMBOOT_ERR_ACCESS, NULL, 0}};
    const reply reject[] = {{CMBOOT_OK, bad, 4}};
    const reply cancel[] = {{CMBOOT_ERR_CANCELLED, NULL, 0}};
    int32_t st = 0;
    log_sink l = {"", 0, ""};

    /* stalls until the deadline */
    assert_int_equal(rom_run(stalls, 1, false, &st, &l), CMBOOT_ERR_TIMEOUT);
    memset(&l, 0, sizeof l);
    assert_int_equal(rom_run(stalls, 1, true, &st, &l), CMBOOT_OK);
    assert_int_equal(st, -1);
    assert_int_equal(l.warnings, 1);
    assert_non_null(strstr(l.text, "boot ROM status read failed"));

    assert_int_equal(rom_run(overflow, 1, false, &st, &l), CMBOOT_ERR_OVERFLOW);
    assert_int_equal(rom_run(overflow, 1, true, &st, &l), CMBOOT_OK);
    assert_int_equal(rom_run(access, 1, false, &st, &l), CMBOOT_ERR_ACCESS);
    assert_int_equal(rom_run(access, 1, true, &st, &l), CMBOOT_OK);

    assert_int_equal(rom_run(reject, 1, true, &st, &l), CMBOOT_ERR_ROM_REJECTED);
    assert_int_equal(st, 5);
    assert_int_equal(rom_run(cancel, 1, true, &st, &l), CMBOOT_ERR_CANCELLED);
}

/* A 15 s status deadline fires on the fake clock within milliseconds of real time, exactly at 15 s: for a ROM
 * that stalls (the back-off pauses add up, the last cut to the deadline) and for one that lets every read time
 * out (each read waits at most the second left). */
static void test_rom_status_deadline_fake_clock(void **state)
{
    (void)state;
    const reply stalls[] = {{CMBOOT_ERR_STALL, NULL, 0}};
    const reply timeouts[] = {{CMBOOT_ERR_TIMEOUT, NULL, 0}};
    static const uint8_t ok[4] = {0, 0, 0, 0};
    const reply late[] = {{CMBOOT_ERR_TIMEOUT, NULL, 0}, {CMBOOT_ERR_TIMEOUT, NULL, 0}, {CMBOOT_OK, ok, 4}};
    log_sink l = {"", 0, ""};
    int32_t st = 0;
    int64_t took = 0;
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(rom_run_at(stalls, 1, false, &st, &l, 15000, &took), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(took, 15000);
    assert_int_equal(rom_run_at(timeouts, 1, false, &st, &l, 15000, &took), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(took, 15000);
    /* an answer after two timed-out reads (1 s each) and their pauses (10, 20 ms) */
    assert_int_equal(rom_run_at(late, 3, false, &st, &l, 15000, &took), CMBOOT_OK);
    assert_int_equal(st, 0);
    assert_int_equal(took, 2030);
    assert_true(cmboot_now_ms() - t0 < 500);
}

/* The system clock behind cmboot_clock_system() is cmboot_now_ms(); a clock missing a member is not used (fake
 * time with real waits would mix two time lines), so the system clock ends the deadline. */
static void test_clock_system_and_half_clock(void **state)
{
    (void)state;
    const cmboot_clock *sys = cmboot_clock_system();
    assert_non_null(sys);
    assert_non_null(sys->now_ms);
    assert_non_null(sys->pause_ms);
    int64_t a = cmboot_now_ms();
    int64_t b = sys->now_ms(sys->user);
    sys->pause_ms(sys->user, 20);
    int64_t c = cmboot_now_ms();
    assert_true(b >= a && b - a < 100);
    assert_true(c - b >= 20);

    /* a "clock" whose time never moves and that cannot pause: used, the stalling ROM would never time out */
    fake_clock fc = {0, 0, ""};
    cmboot_clock half = {fake_now, NULL, &fc};
    reply r[] = {{CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, NULL, 0},
                 {CMBOOT_OK, NULL, 0},
                 {CMBOOT_ERR_STALL, NULL, 0}};
    script_dev *d = calloc(1, sizeof *d);
    d->replies = r;
    d->nreplies = 5;
    d->repeat_last = true;
    cmboot_transport t = {&script_ops, d};
    char *dir;
    int fd;
    cmboot_stream s;
    rom_open(&dir, &fd, &s);
    cmboot_stage_limits lim;
    cmboot_stage_limits_default(&lim);
    lim.status_deadline_ms = 50;
    lim.clock = &half;
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_rom_stage_run(&t, &s, NULL, &lim, NULL, NULL), CMBOOT_ERR_TIMEOUT);
    int64_t took = cmboot_now_ms() - t0;
    assert_true(took >= 50 && took < 1000);
    rom_close(dir, fd, &s);
    free(d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_done_with_empty_name_is_acknowledged),
    cmocka_unit_test(test_done_ack_failure_still_done),
    cmocka_unit_test(test_done_with_name_not_answered),
    cmocka_unit_test(test_short_request_read_again),
    cmocka_unit_test(test_short_request_name_ends_with_data),
    cmocka_unit_test(test_unknown_command_acknowledged),
    cmocka_unit_test(test_odd_request_log_bounded),
    cmocka_unit_test(test_odd_metadata_acknowledged),
    cmocka_unit_test(test_empty_name_ends_any_command),
    cmocka_unit_test(test_request_timeout_reads_again),
    cmocka_unit_test(test_request_backoff_bounded),
    cmocka_unit_test(test_request_idle_limit),
    cmocka_unit_test(test_request_idle_limit_stalls),
    cmocka_unit_test(test_bulk_stall_cleared_and_resent),
    cmocka_unit_test(test_bulk_second_failure_fails),
    cmocka_unit_test(test_bulk_no_retry),
    cmocka_unit_test(test_wire_write_retries_bulk),
    cmocka_unit_test(test_rom_status_retried_until_answer),
    cmocka_unit_test(test_rom_status_optional),
    cmocka_unit_test(test_rom_status_deadline_fake_clock),
    cmocka_unit_test(test_clock_system_and_half_clock),
};
CMBOOT_TEST_MAIN(tests)
