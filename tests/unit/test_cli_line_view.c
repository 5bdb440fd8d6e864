/* Unit tests of the line view (cli/line_view.c built in): boards reporting from several threads at once onto a
 * fake terminal (a file of fixed width and height) or JSON lines; --quiet; --log-dir with hostile serials. */
#include <dirent.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../cli/line_view.c"
#include "cmboot/cmboot.h"
#include "testutil.h"

/* The view's clock: advanced by the boards' threads, so rates and throttles do not depend on the machine. */
static int64_t fake_ms;
static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;

static int64_t fake_clock(void *user)
{
    (void)user;
    pthread_mutex_lock(&fake_mu);
    int64_t t = fake_ms;
    pthread_mutex_unlock(&fake_mu);
    return t;
}

static void fake_advance(int64_t ms)
{
    pthread_mutex_lock(&fake_mu);
    fake_ms += ms;
    pthread_mutex_unlock(&fake_mu);
}

typedef struct script {
    line_view *v;
    char port[16];
    char serial[64];
    bool fail;
    bool finish;
    unsigned ticks; /* progress events in the write */
} script;

static void ev(line_view *v, cmboot_event_type type, const char *port, const char *serial, const char *stage,
               const char *name, const char *value, uint64_t done, uint64_t total, int error)
{
    cmboot_event e = {.type = type,
                      .device_id = port,
                      .serial = serial,
                      .soc = serial[0] ? "BCM2711" : "",
                      .stage = stage,
                      .name = name,
                      .value = value,
                      .json = "",
                      .done = done,
                      .total = total,
                      .error = error,
                      .elapsed_ms = 0};
    line_view_event(v, &e);
}

/* What the session and the writer report for one board (src/session/session.c, src/flash/writer.c). */
static void *board_main(void *arg)
{
    script *s = arg;
    const uint64_t total = 64u << 20;
    ev(s->v, CMBOOT_EV_DEVICE_SEEN, s->port, "", "rom", "", "", 0, 0, 0);
    ev(s->v, CMBOOT_EV_STAGE_START, s->port, "", "rom", "", "", 0, 0, 0);
    line_view_log(s->v, s->port, CMBOOT_LOG_INFO, "read bootcode4.bin");
    ev(s->v, CMBOOT_EV_STAGE_DONE, s->port, "", "rom", "", "ok", 0, 0, 0);
    ev(s->v, CMBOOT_EV_STAGE_START, s->port, s->serial, "mass-storage", "", "", 0, 0, 0);
    ev(s->v, CMBOOT_EV_BOARD_DONE, s->port, s->serial, "mass-storage", "", "ok", 0, 0, 0);
    ev(s->v, CMBOOT_EV_PHASE, s->port, "", "mass-storage", "check", "/dev/sdx", 0, 0, 0);
    ev(s->v, CMBOOT_EV_PHASE, s->port, "", "mass-storage", "write", "raw", 0, total, 0);
    for (unsigned i = 1; i <= s->ticks; i++) {
        fake_advance(1);
        ev(s->v, CMBOOT_EV_PROGRESS, s->port, "", "mass-storage", "write", "", total * i / s->ticks, total, 0);
    }
    ev(s->v, CMBOOT_EV_PHASE, s->port, "", "mass-storage", "sync", "/dev/sdx", 0, 0, 0);
    ev(s->v, CMBOOT_EV_PHASE, s->port, "", "mass-storage", "verify", "/dev/sdx", 0, 0, 0);
    ev(s->v, CMBOOT_EV_PHASE, s->port, "", "mass-storage", s->fail ? "failed" : "done", "", total, total,
       s->fail ? CMBOOT_ERR_VERIFY : 0);
    if (s->finish) {
        line_view_result r = {.port_path = s->port,
                              .serial = NULL,
                              .error = s->fail ? CMBOOT_ERR_VERIFY : CMBOOT_OK,
                              .reason = s->fail ? "the read-back differs at byte 4096" : NULL,
                              .bytes = total,
                              .elapsed_ms = 12500,
                              .verified = !s->fail};
        line_view_board_finished(s->v, &r);
    }
    return NULL;
}

/* Runs n boards at once (ports 1-1.1 .. 1-1.n, serials from serials[] or generated); the i-th fails when
 * (fail_mask >> i) & 1; only the first `finish` boards finish. */
static void run_boards(line_view *v, unsigned n, unsigned fail_mask, unsigned finish, const char *const *serials,
                       unsigned ticks)
{
    script s[32];
    pthread_t t[32];
    assert_true(n <= 32);
    for (unsigned i = 0; i < n; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].v = v;
        snprintf(s[i].port, sizeof s[i].port, "1-1.%u", i + 1);
        if (serials)
            snprintf(s[i].serial, sizeof s[i].serial, "%s", serials[i]);
        else
            snprintf(s[i].serial, sizeof s[i].serial, "1000000%09x", 0xabc00 + i);
        s[i].fail = (fail_mask >> i) & 1;
        s[i].finish = i < finish;
        s[i].ticks = ticks;
        assert_int_equal(pthread_create(&t[i], NULL, board_main, &s[i]), 0);
    }
    for (unsigned i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

typedef struct term {
    char *buf;
    size_t len;
    FILE *f;
} term;

static line_view *term_view(term *t, int width, int height, bool rows, bool quiet, const char *log_dir)
{
    memset(t, 0, sizeof *t);
    t->f = open_memstream(&t->buf, &t->len);
    assert_non_null(t->f);
    line_view_config cfg;
    line_view_config_default(&cfg);
    cfg.out = t->f;
    cfg.rows = rows;
    cfg.quiet = quiet;
    cfg.width = width;
    cfg.height = height;
    cfg.log_level = CMBOOT_LOG_INFO;
    cfg.log_dir = log_dir;
    cfg.clock_ms = fake_clock;
    line_view *v = NULL;
    assert_int_equal(line_view_new(&cfg, &v), 0);
    return v;
}

static char *term_close(term *t, line_view *v)
{
    line_view_free(v);
    fclose(t->f);
    return t->buf;
}

/* The lines of the last frame: what follows the last "erase to the end of the screen". */
static int last_frame(const char *out, char lines[][512], int max)
{
    const char *p = out, *q;
    while ((q = strstr(p, "\033[J")))
        p = q + 3;
    int n = 0;
    while (*p && n < max) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (strncmp(p, "\033[K", 3) == 0) {
            p += 3;
            len -= 3;
        }
        snprintf(lines[n], 512, "%.*s", (int)len, p);
        n++;
        p += len + (nl ? 1 : 0);
    }
    return n;
}

/* What a terminal keeps of out, scrollback included: the text lines after the cursor moves and erases the
 * view sends (\r, ESC[nA, ESC[J, ESC[K, \n). */
static int emulate(const char *out, char lines[][512], int max)
{
    int row = 0, col = 0, n = 1;
    lines[0][0] = 0;
    for (const char *p = out; *p; p++) {
        if (*p == '\033' && p[1] == '[') {
            int k = (int)strtol(p + 2, (char **)&p, 10);
            if (*p == 'A')
                row = row - k < 0 ? 0 : row - k;
            else if (*p == 'J')
                n = row + 1;
            if (*p == 'J' || *p == 'K')
                lines[row][col] = 0;
        } else if (*p == '\r') {
            col = 0;
        } else if (*p == '\n') {
            row++;
            col = 0;
            if (row >= n && n < max)
                lines[n++][0] = 0;
        } else if (col < 511 && row < max) {
            if (lines[row][col] == 0)
                lines[row][col + 1] = 0;
            lines[row][col++] = *p;
        }
    }
    if (n > 0 && lines[n - 1][0] == 0)
        n--;
    return n;
}

static int count_lines_with(char lines[][512], int n, const char *needle)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += strstr(lines[i], needle) != NULL;
    return c;
}

static void rows_one_per_board_with_results(void **state)
{
    (void)state;
    term t;
    line_view *v = term_view(&t, 132, 40, true, false, NULL);
    run_boards(v, 6, 0x12 /* 1-1.2 and 1-1.5 fail */, 6, NULL, 50);
    unsigned done, failed, active;
    line_view_counts(v, &done, &failed, &active);
    assert_int_equal(done, 4);
    assert_int_equal(failed, 2);
    assert_int_equal(active, 0);
    line_view_finish(v);
    char *out = term_close(&t, v);
    char lines[64][512];
    int n = last_frame(out, lines, 64);
    assert_int_equal(n, 7); /* six rows and the summary */
    for (unsigned i = 0; i < 6; i++) {
        char port[16];
        snprintf(port, sizeof port, "1-1.%u ", i + 1);
        assert_non_null(strstr(lines[i], port)); /* in port path order, one row each */
        assert_non_null(strstr(lines[i], "BCM2711"));
        char serial[32];
        snprintf(serial, sizeof serial, "1000000%09x", 0xabc00 + i);
        assert_non_null(strstr(lines[i], serial)); /* kept from the boot when the writer names none */
        if (i == 1 || i == 4) {
            assert_non_null(strstr(lines[i], "FAILED"));
            assert_non_null(strstr(lines[i], "read-back differs"));
        } else {
            assert_non_null(strstr(lines[i], "OK"));
            assert_non_null(strstr(lines[i], "64.0 MiB in 0:12, verified"));
        }
    }
    assert_non_null(strstr(lines[6], "4 done, 2 failed, 0 in progress"));
    assert_non_null(strstr(lines[6], "boards/h"));
    /* Log lines went above the frame, each on a line of its own. */
    assert_non_null(strstr(out, "[1-1.3] read bootcode4.bin\n"));
    free(out);
}

static void rows_in_progress_show_bytes_rate_eta(void **state)
{
    (void)state;
    term t;
    line_view *v = term_view(&t, 160, 40, true, false, NULL);
    run_boards(v, 3, 0, 1, NULL, 10); /* two boards stay at work */
    ev(v, CMBOOT_EV_PHASE, "1-1.2", "", "mass-storage", "write", "raw", 0, 100u << 20, 0);
    cmboot_event e = {.type = CMBOOT_EV_PROGRESS,
                      .device_id = "1-1.2",
                      .serial = "",
                      .soc = "",
                      .stage = "mass-storage",
                      .name = "write",
                      .value = "",
                      .json = "",
                      .done = 25u << 20,
                      .total = 100u << 20,
                      .elapsed_ms = 1000};
    line_view_event(v, &e);
    line_view_refresh(v);
    char *out = term_close(&t, v);
    char lines[64][512];
    int n = last_frame(out, lines, 64);
    assert_int_equal(n, 4);
    assert_non_null(strstr(lines[0], "OK"));
    assert_non_null(strstr(lines[1], "write"));
    assert_non_null(strstr(lines[1], "25.0 MiB / 100.0 MiB"));
    assert_non_null(strstr(lines[1], " 25%"));
    assert_non_null(strstr(lines[1], "25.0 MiB/s"));
    assert_non_null(strstr(lines[1], "ETA 0:03"));
    assert_non_null(strstr(lines[2], "done")); /* the writer's last phase; no result yet */
    assert_non_null(strstr(lines[3], "1 done, 0 failed, 2 in progress"));
    free(out);
}

static void rows_cut_to_terminal_width(void **state)
{
    (void)state;
    term t;
    line_view *v = term_view(&t, 40, 30, true, false, NULL);
    const char *serials[] = {"1000000000abc000", "\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5",
                             "x\x1b[2Jy"};
    run_boards(v, 3, 0x1, 3, serials, 10);
    line_view_finish(v);
    char *out = term_close(&t, v);
    char lines[64][512];
    int n = last_frame(out, lines, 64);
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) {
        size_t cols = 0;
        for (const unsigned char *p = (const unsigned char *)lines[i]; *p; p++)
            cols += (*p & 0xc0) != 0x80;
        assert_true(cols <= 39); /* one column short of the width: the terminal never wraps a row */
        assert_true(cols >= 30);
        assert_null(strchr(lines[i], '\x1b')); /* a device string cannot drive the terminal */
    }
    free(out);
}

static void rows_never_exceed_terminal_height(void **state)
{
    (void)state;
    term t;
    line_view *v = term_view(&t, 120, 8, true, false, NULL);
    run_boards(v, 11, 0, 4, NULL, 5); /* four finished, seven at work: 11 rows for 6 lines */
    line_view_refresh(v);
    char *out = term_close(&t, v);
    char lines[64][512];
    int n = last_frame(out, lines, 64);
    assert_int_equal(n, 7);                                  /* height - 1: the cursor's line stays free */
    assert_int_equal(count_lines_with(lines, n, " OK "), 0); /* finished rows scrolled off first... */
    assert_non_null(strstr(lines[5], "... and 2 more boards in progress"));
    assert_non_null(strstr(lines[6], "4 done, 0 failed, 7 in progress")); /* ...the summary kept */
    /* ...and each was printed once above the frame, where the terminal keeps it. */
    static char screen[256][512];
    int all = emulate(out, screen, 256);
    assert_int_equal(all, 11 + 4 + 7); /* the log lines, the rows scrolled off, the frame */
    for (int i = 0; i < 7; i++)
        assert_string_equal(screen[all - 7 + i], lines[i]);
    for (unsigned i = 1; i <= 4; i++) {
        char want[16];
        snprintf(want, sizeof want, "1-1.%u ", i);
        assert_int_equal(count_lines_with(screen, all - 7, want), 1);
        assert_int_equal(count_lines_with(screen, all - 7, " OK "), 4);
    }
    free(out);
}

/* Parses JSON lines; checks the tags every line carries. Returns the count of lines with event == type. */
static int json_count(const char *out, const char *type, const char *port)
{
    int n = 0;
    const char *p = out;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        char *line = strndup(p, (size_t)(nl - p));
        json_object *o = json_tokener_parse(line);
        assert_non_null(o);
        json_object *e, *tm, *pt, *se;
        assert_true(json_object_object_get_ex(o, "event", &e));
        assert_true(json_object_object_get_ex(o, "time", &tm));
        assert_true(json_object_object_get_ex(o, "port", &pt));
        assert_true(json_object_object_get_ex(o, "serial", &se));
        assert_int_equal(strlen(json_object_get_string(tm)), 24); /* 2024-01-02T03:04:05.678Z */
        const char *ps = json_object_get_string(pt);
        const char *ev = json_object_get_string(e);
        /* The writer names no serial: the view tags its lines with the one the boot reported. */
        if (strcmp(ev, "phase") == 0 || strcmp(ev, "progress") == 0 || strcmp(ev, "board-finished") == 0)
            assert_int_equal(strlen(json_object_get_string(se)), 16);
        if (strcmp(json_object_get_string(e), type) == 0 && (!port || strcmp(ps, port) == 0))
            n++;
        json_object_put(o);
        free(line);
        p = nl + 1;
    }
    return n;
}

static void json_lines_per_state_change(void **state)
{
    (void)state;
    term t;
    line_view *v = term_view(&t, 0, 0, false, false, NULL);
    run_boards(v, 4, 0x8, 4, NULL, 1000); /* 1000 progress ticks each */
    line_view_finish(v);
    char *out = term_close(&t, v);
    for (unsigned i = 1; i <= 4; i++) {
        char port[16];
        snprintf(port, sizeof port, "1-1.%u", i);
        assert_int_equal(json_count(out, "board-seen", port), 1);
        assert_int_equal(json_count(out, "stage", port), 3); /* rom start + done, mass-storage start */
        assert_int_equal(json_count(out, "boot-done", port), 1);
        assert_int_equal(json_count(out, "phase", port), 5); /* check write sync verify done|failed */
        assert_int_equal(json_count(out, "board-finished", port), 1);
        /* Every 10 %, not every tick: 1000 ticks make ten lines. */
        assert_int_equal(json_count(out, "progress", port), 10);
    }
    assert_int_equal(json_count(out, "log", NULL), 4);
    assert_int_equal(json_count(out, "summary", NULL), 5); /* after each board, and the last one */
    assert_non_null(strstr(out, "\"error\":\"CMBOOT_ERR_VERIFY\""));
    char *last = strstr(out, "{\"event\":\"summary\"");
    for (char *q; last && (q = strstr(last + 1, "{\"event\":\"summary\""));)
        last = q;
    assert_non_null(last);
    assert_non_null(strstr(last, "\"done\":3,\"failed\":1,\"in_progress\":0"));
    free(out);
}

static void json_progress_every_few_seconds_too(void **state)
{
    (void)state;
    term t;
    line_view *v = term_view(&t, 0, 0, false, false, NULL);
    ev(v, CMBOOT_EV_PHASE, "2-1", "", "mass-storage", "write", "raw", 0, 1000000, 0);
    for (unsigned i = 1; i < 60; i++) { /* a slow board: 0.1 % a second, a minute long */
        fake_advance(1000);
        ev(v, CMBOOT_EV_PROGRESS, "2-1", "", "mass-storage", "write", "", i * 1000, 1000000, 0);
    }
    char *out = term_close(&t, v);
    int n = 0;
    for (const char *p = out; (p = strstr(p, "\"event\":\"progress\"")); p++)
        n++;
    assert_int_equal(n, 11); /* every 5 s of 59 */
    free(out);
}

static void quiet_rows_only_results_and_summary(void **state)
{
    (void)state;
    term t;
    line_view *v = term_view(&t, 120, 30, true, true, NULL);
    run_boards(v, 3, 0x2, 3, NULL, 20);
    line_view_log(v, "1-1.1", CMBOOT_LOG_ERROR, "a log line quiet hides");
    line_view_finish(v);
    char *out = term_close(&t, v);
    assert_null(strchr(out, '\x1b')); /* nothing redrawn */
    char lines[16][512];
    int n = last_frame(out, lines, 16);
    assert_int_equal(n, 4);
    assert_int_equal(count_lines_with(lines, n, " OK "), 2);
    assert_int_equal(count_lines_with(lines, n, "FAILED"), 1);
    assert_non_null(strstr(lines[3], "2 done, 1 failed, 0 in progress"));
    free(out);
}

static void quiet_json_only_finished_and_summary(void **state)
{
    (void)state;
    term t;
    line_view *v = term_view(&t, 0, 0, false, true, NULL);
    run_boards(v, 3, 0x2, 3, NULL, 20);
    line_view_finish(v);
    char *out = term_close(&t, v);
    int lines = 0;
    for (const char *p = out; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(json_count(out, "board-finished", NULL), 3);
    assert_int_equal(json_count(out, "summary", NULL), 4);
    assert_int_equal(lines, 7);
    free(out);
}

/* A fresh directory under the test tmp dir, inside a parent that must stay empty. */
static void make_dirs(char *parent, size_t size, char *dir, size_t dsize)
{
    const char *base = getenv("CMBOOT_TEST_TMP") ? getenv("CMBOOT_TEST_TMP") : "/tmp";
    mkdir(base, 0755);
    snprintf(parent, size, "%s/line-view-XXXXXX", base);
    assert_non_null(mkdtemp(parent));
    snprintf(dir, dsize, "%s/logs", parent);
    assert_int_equal(mkdir(dir, 0755), 0);
}

static int list_dir(const char *dir, char names[][256], int max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (e->d_name[0] != '.' || (e->d_name[1] && strcmp(e->d_name, "..") != 0))
            snprintf(names[n++], 256, "%s", e->d_name);
    closedir(d);
    return n;
}

static char *read_text(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void rm_tree(const char *parent, const char *dir)
{
    char names[16][256], path[1024];
    int n = list_dir(dir, names, 16);
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    rmdir(parent);
}

static void log_dir_one_file_per_board_by_serial(void **state)
{
    (void)state;
    char parent[512], dir[600];
    make_dirs(parent, sizeof parent, dir, sizeof dir);
    term t;
    line_view *v = term_view(&t, 0, 0, false, false, dir);
    const char *serials[] = {"10000000abcdef01", "../x", "..", "a\x1b[2J\nb/c"};
    run_boards(v, 4, 0x2, 4, serials, 10);
    /* A board that never says its serial: named by its port. */
    ev(v, CMBOOT_EV_DEVICE_SEEN, "3-2", "", "rom", "", "", 0, 0, 0);
    line_view_result r = {.port_path = "3-2", .error = CMBOOT_ERR_TIMEOUT, .elapsed_ms = -1};
    line_view_board_finished(v, &r);
    line_view_finish(v);
    free(term_close(&t, v));
    char names[16][256];
    int n = list_dir(dir, names, 16);
    assert_int_equal(n, 5);
    const char *want[] = {"10000000abcdef01-", "_._x-", "_.-", "a__2J_b_c-", "port-3-2-"};
    for (int w = 0; w < 5; w++) {
        int found = -1;
        for (int i = 0; i < n; i++)
            if (strncmp(names[i], want[w], strlen(want[w])) == 0 && strstr(names[i], ".log"))
                found = i;
        assert_true(found >= 0);
        char *text = read_text(dir, names[found]);
        /* The board's whole story, from before its serial was known to its result, as text. */
        if (w < 4) {
            assert_non_null(strstr(text, "board found"));
            assert_non_null(strstr(text, "read bootcode4.bin"));
            assert_non_null(strstr(text, "write 33554432 / 67108864 bytes"));
            assert_non_null(strstr(text, w == 1 ? "board failed: the read-back differs" : "board done: ok"));
        } else {
            assert_non_null(strstr(text, "board failed"));
        }
        assert_null(strchr(text, '\x1b'));
        free(text);
    }
    /* Nothing beside DIR: "../x" named no file outside it. */
    char pnames[16][256];
    assert_int_equal(list_dir(parent, pnames, 16), 1);
    assert_string_equal(pnames[0], "logs");
    rm_tree(parent, dir);
}

static void log_dir_file_renamed_when_serial_comes_late(void **state)
{
    (void)state;
    char parent[512], dir[600];
    make_dirs(parent, sizeof parent, dir, sizeof dir);
    term t;
    line_view *v = term_view(&t, 0, 0, false, true, dir);
    ev(v, CMBOOT_EV_DEVICE_SEEN, "1-4", "", "rom", "", "", 0, 0, 0);
    char msg[200];
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = 0;
    for (unsigned i = 0; i < 500; i++) /* more than is kept in memory: the file opens under the port's name */
        line_view_log(v, "1-4", CMBOOT_LOG_DEBUG, msg);
    char names[4][256];
    assert_int_equal(list_dir(dir, names, 4), 1);
    assert_int_equal(strncmp(names[0], "port-1-4-", 9), 0);
    ev(v, CMBOOT_EV_STAGE_START, "1-4", "100000001234abcd", "mass-storage", "", "", 0, 0, 0);
    assert_int_equal(list_dir(dir, names, 4), 1);
    assert_int_equal(strncmp(names[0], "100000001234abcd-", 17), 0);
    line_view_finish(v);
    free(term_close(&t, v));
    rm_tree(parent, dir);
}

static void log_dir_must_be_a_directory(void **state)
{
    (void)state;
    line_view_config cfg;
    line_view_config_default(&cfg);
    cfg.log_dir = "/nonexistent/cmboot-logs";
    line_view *v = (line_view *)1;
    assert_true(line_view_new(&cfg, &v) < 0);
    assert_null(v);
}

static void file_part_keeps_names_inside_the_dir(void **state)
{
    (void)state;
    char out[16];
    assert_true(line_view_file_part("../../etc/passwd", out, sizeof out));
    assert_null(strchr(out, '/'));
    assert_true(out[0] != '.');
    assert_string_equal(out, "_._.._etc_passw"); /* cut to the buffer */
    assert_false(line_view_file_part("", out, sizeof out));
    assert_true(line_view_file_part(".", out, sizeof out));
    assert_string_equal(out, "_");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(rows_one_per_board_with_results),
    cmocka_unit_test(rows_in_progress_show_bytes_rate_eta),
    cmocka_unit_test(rows_cut_to_terminal_width),
    cmocka_unit_test(rows_never_exceed_terminal_height),
    cmocka_unit_test(json_lines_per_state_change),
    cmocka_unit_test(json_progress_every_few_seconds_too),
    cmocka_unit_test(quiet_rows_only_results_and_summary),
    cmocka_unit_test(quiet_json_only_finished_and_summary),
    cmocka_unit_test(log_dir_one_file_per_board_by_serial),
    cmocka_unit_test(log_dir_file_renamed_when_serial_comes_late),
    cmocka_unit_test(log_dir_must_be_a_directory),
    cmocka_unit_test(file_part_keeps_names_inside_the_dir),
};
CMBOOT_TEST_MAIN(tests)
