/* The status page's model (rows from scripted line events, counts, records, JSON), SSE framing and its server. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../cli/status_http.c"
#include "../../cli/status_model.c"
#include "../../cli/status_page.c"
#include "testutil.h"

typedef struct clk {
    int64_t mono, wall;
} clk;

static int64_t clk_mono(void *u)
{
    return ((clk *)u)->mono;
}

static int64_t clk_wall(void *u)
{
    return ((clk *)u)->wall;
}

static status_model *new_model(clk *c)
{
    status_model_config cfg = {.station = "st-1", .clock_ms = clk_mono, .wall_ms = clk_wall, .clock_user = c};
    status_model *m = status_model_new(&cfg);
    assert_non_null(m);
    return m;
}

static void ev(status_model *m, cmboot_event_type type, const char *port, const char *serial, const char *name,
               const char *stage, uint64_t done, uint64_t total, uint64_t elapsed, int error)
{
    cmboot_event e = {.type = type,
                      .device_id = port,
                      .serial = serial ? serial : "",
                      .soc = serial ? "BCM2711" : "",
                      .stage = stage ? stage : "",
                      .name = name,
                      .value = "",
                      .done = done,
                      .total = total,
                      .error = error,
                      .elapsed_ms = elapsed};
    status_model_event(m, &e);
}

static json_object *snapshot(status_model *m, uint64_t *version)
{
    char *text = status_model_json(m, version);
    assert_non_null(text);
    json_object *o = json_tokener_parse(text);
    free(text);
    assert_non_null(o);
    return o;
}

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no key %s", key);
    return v;
}

static const char *gets(json_object *o, const char *key)
{
    return json_object_get_string(get(o, key));
}

static int64_t geti(json_object *o, const char *key)
{
    return json_object_get_int64(get(o, key));
}

static json_object *row_at(json_object *snap, size_t i)
{
    json_object *rows = get(snap, "rows");
    assert_true(i < json_object_array_length(rows));
    return json_object_array_get_idx(rows, i);
}

/* Two boards through boot and write: rows in port order with phase, bytes, rate, ETA and percent. */
static void rows_follow_scripted_events(void **state)
{
    (void)state;
    clk c = {.mono = 1000, .wall = 1700000000000};
    status_model *m = new_model(&c);
    ev(m, CMBOOT_EV_DEVICE_SEEN, "1-2", "b0000002", NULL, "rom", 0, 0, 0, 0);
    ev(m, CMBOOT_EV_DEVICE_SEEN, "1-1", "b0000001", NULL, "rom", 0, 0, 0, 0);
    ev(m, CMBOOT_EV_STAGE_START, "1-1", "b0000001", NULL, "second-stage", 0, 0, 0, 0);
    ev(m, CMBOOT_EV_BOARD_DONE, "1-1", "b0000001", NULL, "mass-storage", 0, 0, 0, 0);
    ev(m, CMBOOT_EV_PHASE, "1-1", NULL, "check", NULL, 0, 0, 0, 0);
    ev(m, CMBOOT_EV_PHASE, "1-1", NULL, "write", NULL, 0, 4000, 0, 0);
    c.mono += 2000;
    ev(m, CMBOOT_EV_PROGRESS, "1-1", NULL, "write", NULL, 1000, 4000, 500, 0);
    json_object *s = snapshot(m, NULL);
    assert_string_equal(gets(s, "station"), "st-1");
    assert_int_equal(json_object_array_length(get(s, "rows")), 2);
    json_object *r = row_at(s, 0);
    assert_string_equal(gets(r, "port"), "1-1");
    assert_string_equal(gets(r, "state"), "flashing");
    assert_string_equal(gets(r, "phase"), "write");
    assert_string_equal(gets(r, "serial"), "b0000001"); /* the writer's events carry none: the row keeps it */
    assert_string_equal(gets(r, "soc"), "BCM2711");
    assert_int_equal(geti(r, "done"), 1000);
    assert_int_equal(geti(r, "total"), 4000);
    assert_int_equal(geti(r, "percent"), 25);
    assert_int_equal(geti(r, "rate_bps"), 2000); /* 1000 bytes in the writer's 500 ms */
    assert_int_equal(geti(r, "eta_ms"), 1500);
    assert_int_equal(geti(r, "elapsed_ms"), 2000);
    assert_true(json_object_is_type(get(r, "last"), json_type_null));
    json_object *r2 = row_at(s, 1);
    assert_string_equal(gets(r2, "port"), "1-2");
    assert_string_equal(gets(r2, "state"), "booting");
    assert_string_equal(gets(r2, "phase"), "found");
    assert_int_equal(geti(r2, "percent"), -1);
    json_object *cnt = get(s, "counts");
    assert_int_equal(geti(cnt, "in_progress"), 2);
    assert_int_equal(geti(cnt, "done"), 0);
    json_object_put(s);
    status_model_free(m);
}

/* A result ends the board; late events change nothing; the next board on the port keeps the last result. */
static void result_then_next_board(void **state)
{
    (void)state;
    clk c = {.mono = 0, .wall = 1700000000000};
    status_model *m = new_model(&c);
    ev(m, CMBOOT_EV_DEVICE_SEEN, "1-1", "a1", NULL, "rom", 0, 0, 0, 0);
    ev(m, CMBOOT_EV_DEVICE_SEEN, "1-3", "a3", NULL, "rom", 0, 0, 0, 0);
    c.mono = 3600 * 1000 / 2; /* half an hour */
    c.wall += 5000;
    status_model_result(m, "1-1", NULL, CMBOOT_OK, NULL, 4096, true);
    status_model_result(m, "1-3", "a3", CMBOOT_ERR_VERIFY, "read back differs", 10, false);
    ev(m, CMBOOT_EV_PROGRESS, "1-1", NULL, "write", NULL, 5, 10, 1, 0); /* late: ignored */
    json_object *s = snapshot(m, NULL);
    json_object *r = row_at(s, 0);
    assert_string_equal(gets(r, "state"), "done");
    assert_int_equal(geti(r, "done"), 0);
    json_object *l = get(r, "last");
    assert_string_equal(gets(l, "result"), "ok");
    assert_string_equal(gets(l, "serial"), "a1");
    assert_true(json_object_get_boolean(get(l, "verified")));
    assert_int_equal(geti(l, "time_ms"), 1700000005000);
    assert_int_equal(geti(l, "bytes"), 4096);
    json_object *f = get(row_at(s, 1), "last");
    assert_string_equal(gets(row_at(s, 1), "state"), "failed");
    assert_string_equal(gets(f, "result"), "CMBOOT_ERR_VERIFY");
    assert_string_equal(gets(f, "reason"), "read back differs");
    json_object *cnt = get(s, "counts");
    assert_int_equal(geti(cnt, "done"), 1);
    assert_int_equal(geti(cnt, "failed"), 1);
    assert_int_equal(geti(cnt, "in_progress"), 0);
    assert_true(json_object_get_double(get(cnt, "boards_per_hour")) > 1.99); /* one board in half an hour */
    assert_string_equal(gets(cnt, "day_source"), "run");
    json_object_put(s);
    /* the operator swaps the board on 1-1 */
    ev(m, CMBOOT_EV_DEVICE_SEEN, "1-1", "a9", NULL, "rom", 0, 0, 0, 0);
    s = snapshot(m, NULL);
    r = row_at(s, 0);
    assert_string_equal(gets(r, "state"), "booting");
    assert_string_equal(gets(r, "serial"), "a9");
    assert_string_equal(gets(get(r, "last"), "serial"), "a1");
    assert_int_equal(geti(r, "boards"), 1);
    assert_int_equal(geti(get(s, "counts"), "in_progress"), 1);
    json_object_put(s);
    status_model_free(m);
}

/* The store's latest records and day counts replace the run's; text that is not an array is dropped. */
static void records_and_day_counts(void **state)
{
    (void)state;
    clk c = {0};
    status_model *m = new_model(&c);
    json_object *s = snapshot(m, NULL);
    assert_false(json_object_get_boolean(get(s, "records_configured")));
    assert_int_equal(json_object_array_length(get(s, "records")), 0);
    json_object_put(s);
    status_model_set_records(m, "[{\"serial\":\"x1\",\"result\":\"ok\"}]", true, 7, 2);
    s = snapshot(m, NULL);
    assert_true(json_object_get_boolean(get(s, "records_configured")));
    assert_string_equal(gets(json_object_array_get_idx(get(s, "records"), 0), "serial"), "x1");
    assert_string_equal(gets(get(s, "counts"), "day_source"), "records");
    assert_int_equal(geti(get(s, "counts"), "day_done"), 7);
    assert_int_equal(geti(get(s, "counts"), "day_failed"), 2);
    json_object_put(s);
    status_model_set_records(m, "{\"not\":\"an array\"}", false, 0, 0);
    s = snapshot(m, NULL);
    assert_int_equal(json_object_array_length(get(s, "records")), 0);
    json_object_put(s);
    status_model_free(m);
}

/* A device serial with quotes, a newline and bad UTF-8 stays one valid JSON value. */
static void hostile_serial_stays_json(void **state)
{
    (void)state;
    clk c = {0};
    status_model *m = new_model(&c);
    ev(m, CMBOOT_EV_DEVICE_SEEN, "1-1", "a\"b\n<script>\xff", NULL, "rom", 0, 0, 0, 0);
    json_object *s = snapshot(m, NULL);
    const char *serial = gets(row_at(s, 0), "serial");
    assert_non_null(strstr(serial, "<script>"));
    assert_non_null(strstr(serial, "a\"b\n"));
    json_object_put(s);
    status_model_free(m);
}

static void sse_frame_splits_lines(void **state)
{
    (void)state;
    char *f = status_sse_frame("status", "a\nb\r\nc\rd");
    assert_string_equal(f, "event: status\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
    free(f);
    f = status_sse_frame("x\ny", "");
    assert_string_equal(f, "event: xy\ndata: \n\n"); /* no name can end the event early */
    free(f);
    f = status_sse_frame(NULL, "{}");
    assert_string_equal(f, "data: {}\n\n");
    free(f);
}

/* Version counter: a waiter wakes on a change, times out without one, and returns at once once stopped. */
static void wait_sees_changes(void **state)
{
    (void)state;
    clk c = {0};
    status_model *m = new_model(&c);
    uint64_t v = 0;
    free(status_model_json(m, &v));
    assert_int_equal(status_model_wait(m, v, 20), v);
    ev(m, CMBOOT_EV_DEVICE_SEEN, "1-1", "a1", NULL, "rom", 0, 0, 0, 0);
    assert_true(status_model_wait(m, v, 20) != v);
    status_model_stop(m);
    assert_true(status_model_stopped(m));
    int64_t t0 = cmboot_now_ms();
    uint64_t now;
    free(status_model_json(m, &now));
    (void)status_model_wait(m, now, 5000);
    assert_true(cmboot_now_ms() - t0 < 1000);
    status_model_free(m);
}

static void http_spec_parse(void **state)
{
    (void)state;
    char addr[128], why[256];
    uint16_t port = 1;
    assert_int_equal(status_http_parse("8080", addr, sizeof addr, &port, why, sizeof why), 0);
    assert_string_equal(addr, "127.0.0.1"); /* loopback unless told */
    assert_int_equal(port, 8080);
    assert_int_equal(status_http_parse("0.0.0.0:80", addr, sizeof addr, &port, why, sizeof why), 0);
    assert_string_equal(addr, "0.0.0.0");
    assert_int_equal(status_http_parse("[::1]:9000", addr, sizeof addr, &port, why, sizeof why), 0);
    assert_string_equal(addr, "::1");
    assert_int_equal(port, 9000);
    const char *bad[] = {"",    "host.example:80", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                         ":80", "::1:80",          "[::1:80",    "1.2.3.4:8x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(status_http_parse(bad[i], addr, sizeof addr, &port, why, sizeof why), -EINVAL);
}

/* One request on a fresh connection; the whole answer (headers and body) up to max bytes or the close. */
static size_t http_request(uint16_t port, const char *req, char *out, size_t max)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    size_t n = 0;
    ssize_t got;
    while (n + 1 < max && (got = read(fd, out + n, max - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = 0;
    close(fd);
    return n;
}

/* libmicrohttpd is loaded by the first server, not before (this program does not link it), and a missing
 * library is told apart from the other failures. */
static void http_loads_libmicrohttpd_on_demand(void **state)
{
    (void)state;
    clk c = {0};
    status_model *m = new_model(&c);
    assert_null(dlopen(STATUS_HTTP_MHD_SONAME, RTLD_NOW | RTLD_NOLOAD));
    status_http *h = NULL;
    assert_int_equal(status_http_start_with("libcmboot-test-no-such-mhd.so.12", m, "127.0.0.1", 0, &h), -ENOPKG);
    assert_null(h);
    assert_int_equal(status_http_start_with("libz.so.1", m, "127.0.0.1", 0, &h), -ELIBBAD);
    assert_null(h);
    assert_null(dlopen(STATUS_HTTP_MHD_SONAME, RTLD_NOW | RTLD_NOLOAD));
    assert_int_equal(status_http_start(m, "127.0.0.1", 0, &h), 0);
    assert_non_null(h);
    void *lib = dlopen(STATUS_HTTP_MHD_SONAME, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(lib);
    dlclose(lib);
    status_http_stop(h);
    status_model_free(m);
}

static void http_serves_read_only(void **state)
{
    (void)state;
    clk c = {0};
    status_model *m = new_model(&c);
    ev(m, CMBOOT_EV_DEVICE_SEEN, "1-4", "c4", NULL, "rom", 0, 0, 0, 0);
    status_http *h = NULL;
    assert_int_equal(status_http_start(m, "127.0.0.1", 0, &h), 0);
    uint16_t port = status_http_port(h);
    assert_true(port > 0);
    static char buf[65536];
    http_request(port, "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "application/json"));
    json_object *o = json_tokener_parse(strstr(buf, "\r\n\r\n") + 4);
    assert_non_null(o);
    assert_string_equal(gets(row_at(o, 0), "serial"), "c4");
    json_object_put(o);
    http_request(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "new EventSource(\"/events\")"));
    assert_null(strstr(buf, "http://")); /* nothing fetched from elsewhere */
    assert_null(strstr(buf, "https://"));
    const char *writes[] = {"POST", "PUT", "DELETE", "PATCH"};
    for (size_t i = 0; i < 4; i++) {
        char req[256];
        snprintf(req, sizeof req,
                 "%s /api/status HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                 writes[i]);
        http_request(port, req, buf, sizeof buf);
        assert_non_null(strstr(buf, "HTTP/1.1 405"));
        assert_non_null(strstr(buf, "Allow: GET, HEAD"));
    }
    http_request(port, "GET /api/status HTTP/1.1\r\nHost: rebound.example:80\r\nConnection: close\r\n\r\n", buf,
                 sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 403"));
    assert_null(strstr(buf, "\"rows\""));
    http_request(port, "GET / HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    http_request(port, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    http_request(port, "GET /nothing HTTP/1.1\r\nHost: 127.0.0.1:1\r\nConnection: close\r\n\r\n", buf, sizeof buf);
    assert_non_null(strstr(buf, "HTTP/1.1 404"));
    status_http_stop(h);
    status_model_free(m);
}

typedef struct sse_reader {
    uint16_t port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char buf[16384];
    size_t n;
    bool seen; /* a frame naming board d1 arrived */
} sse_reader;

/* Reads the stream as it comes until the server closes it. */
static void *read_events(void *arg)
{
    sse_reader *r = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(r->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char *req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n";
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, req, strlen(req)) > 0) {
        char chunk[4096];
        ssize_t got;
        while ((got = read(fd, chunk, sizeof chunk)) > 0) {
            pthread_mutex_lock(&r->mu);
            size_t take = (size_t)got < sizeof r->buf - 1 - r->n ? (size_t)got : sizeof r->buf - 1 - r->n;
            memcpy(r->buf + r->n, chunk, take);
            r->n += take;
            r->buf[r->n] = 0;
            if (strstr(r->buf, "\"serial\":\"d1\""))
                r->seen = true;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->mu);
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* The stream sends the state at once and on each change; stopping the server ends an open stream. */
static void http_events_stream(void **state)
{
    (void)state;
    clk c = {0};
    status_model *m = new_model(&c);
    status_http *h = NULL;
    assert_int_equal(status_http_start(m, "127.0.0.1", 0, &h), 0);
    static sse_reader r;
    memset(&r, 0, sizeof r);
    r.port = status_http_port(h);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_events, &r), 0);
    ev(m, CMBOOT_EV_DEVICE_SEEN, "2-1", "d1", NULL, "rom", 0, 0, 0, 0);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&r.mu);
    while (!r.seen && pthread_cond_timedwait(&r.cv, &r.mu, &ts) == 0)
        ;
    bool seen = r.seen;
    pthread_mutex_unlock(&r.mu);
    assert_true(seen);
    int64_t t0 = cmboot_now_ms();
    status_http_stop(h);
    pthread_join(t, NULL);
    assert_true(cmboot_now_ms() - t0 < 3000);
    assert_non_null(strstr(r.buf, "text/event-stream"));
    assert_non_null(strstr(r.buf, "retry: 2000\nevent: status\ndata: {"));
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    status_model_free(m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(rows_follow_scripted_events),
    cmocka_unit_test(result_then_next_board),
    cmocka_unit_test(records_and_day_counts),
    cmocka_unit_test(hostile_serial_stays_json),
    cmocka_unit_test(sse_frame_splits_lines),
    cmocka_unit_test(wait_sees_changes),
    cmocka_unit_test(http_spec_parse),
    cmocka_unit_test(http_loads_libmicrohttpd_on_demand),
    cmocka_unit_test(http_serves_read_only),
    cmocka_unit_test(http_events_stream),
};
CMBOOT_TEST_MAIN(tests)
