/* Unit tests of the CLI's output and stop handling (cli/output.c, cli/signals.c built in): hostile device
 * strings never reach JSON readers as invalid UTF-8 nor terminals as raw controls; SIGHUP and a closed
 * stdout cancel like Ctrl-C, and the report then goes to stderr. */
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../cli/output.c"
#include "../../cli/signals.c"
#include "cmboot/cmboot.h"
#include "testutil.h"
#include "text_check.h"

static int temp_fd(void)
{
    char path[] = "/tmp/cmboot-cli-output-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

static char *slurp(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)len + 1);
    assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
    close(fd);
    return buf;
}

/* Runs fn with stdout and stderr going into temporary files; *out and *err get what it wrote (either
 * pointer may be NULL: that stream is captured and dropped). */
static void capture(void (*fn)(void *), void *arg, char **out, char **err)
{
    int o = temp_fd(), e = temp_fd();
    fflush(stdout);
    fflush(stderr);
    int so = dup(STDOUT_FILENO), se = dup(STDERR_FILENO);
    dup2(o, STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    fn(arg);
    fflush(stdout);
    fflush(stderr);
    dup2(so, STDOUT_FILENO);
    dup2(se, STDERR_FILENO);
    close(so);
    close(se);
    char *a = slurp(o), *b = slurp(e);
    if (out)
        *out = a;
    else
        free(a);
    if (err)
        *err = b;
    else
        free(b);
}

static cmboot_event event(cmboot_event_type type, const char *serial, const char *name, const char *value)
{
    cmboot_event ev = {.type = type,
                       .device_id = "1-1.3",
                       .serial = serial,
                       .soc = "BCM2711",
                       .stage = "second-stage",
                       .name = name,
                       .value = value,
                       .json = NULL};
    return ev;
}

/* Hostile strings as a board sends them: invalid bytes, ESC sequences, C1 CSI, bidi overrides. */
#define BAD_NAME "start\xff\xfe.elf\x1b[2J"
#define BAD_VALUE                                                                                                      \
    "ok\xc2\x9b"                                                                                                       \
    "31m\xe2\x80\xae"                                                                                                  \
    "gpj.exe"
#define BAD_SERIAL                                                                                                     \
    "ab\xe2\x81\xa6"                                                                                                   \
    "cd\xc0\xaf"
#define BAD_JSON "{\"MAC_ADDR\":\"d8\xff\xc2\x85\"}"

static void emit_all(void *arg)
{
    cli_output *out = arg;
    cmboot_event ev = event(CMBOOT_EV_FILE, BAD_SERIAL, BAD_NAME, BAD_VALUE);
    cli_event_cb(out, &ev);
    ev = event(CMBOOT_EV_METADATA, BAD_SERIAL, "MAC_ADDR", BAD_VALUE);
    cli_event_cb(out, &ev);
    ev = event(CMBOOT_EV_BOARD_DONE, BAD_SERIAL, "", BAD_VALUE);
    cli_event_cb(out, &ev);
    ev = event(CMBOOT_EV_METADATA_SAVED, BAD_SERIAL, "", "-");
    ev.json = BAD_JSON;
    cli_event_cb(out, &ev);
    cli_log_cb(out, "1-1.3", CMBOOT_LOG_WARN, "request for " BAD_NAME " \x1b]0;pwned\x07 " BAD_VALUE);
    cli_json_line("result", "serial", BAD_SERIAL, (const char *)NULL);
}

static bool in_list(json_object *o, const char *name)
{
    json_object *san = NULL;
    if (!json_object_object_get_ex(o, "sanitized", &san))
        return false;
    for (size_t i = 0; i < json_object_array_length(san); i++)
        if (strcmp(json_object_get_string(json_object_array_get_idx(san, i)), name) == 0)
            return true;
    return false;
}

/* Every line parses with a UTF-8 validating parser; returns how many lines named field as sanitized. */
static int check_json_lines(const char *text, const char *field)
{
    assert_true(text_utf8_valid(text));
    assert_false(text_has_raw_hazard(text));
    int hits = 0, lines = 0;
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_tokener *tok = json_tokener_new();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        json_object *o = json_tokener_parse_ex(tok, line, (int)strlen(line));
        json_tokener_free(tok);
        assert_non_null(o);
        hits += in_list(o, field);
        lines++;
        json_object_put(o);
    }
    free(copy);
    assert_true(lines > 0);
    return hits;
}

static void cli_json_hostile_strings_valid_utf8(void **state)
{
    (void)state;
    cli_output out;
    cli_output_init(&out, true, 2);
    char *so, *se;
    capture(emit_all, &out, &so, &se);
    /* events on stdout: name (invalid bytes), serial (overlong), metadata (invalid byte) are marked */
    assert_true(check_json_lines(so, "name") >= 1);
    assert_true(check_json_lines(so, "serial") >= 3);
    assert_true(check_json_lines(so, "metadata") == 1);
    assert_true(check_json_lines(so, "value") == 0); /* C1/bidi are valid UTF-8: escaped, not altered */
    assert_null(strstr(so, "\x1b"));
    /* the same value comes back out of the JSON */
    json_object *first = json_tokener_parse(so);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(first, "value", &v));
    assert_string_equal(json_object_get_string(v), BAD_VALUE);
    json_object_put(first);
    /* logs on stderr */
    assert_true(check_json_lines(se, "message") == 1);
    free(so);
    free(se);
}

static void cli_human_output_controls_escaped(void **state)
{
    (void)state;
    cli_output out;
    cli_output_init(&out, false, 2);
    out.tty = false;
    char *so, *se;
    capture(emit_all, &out, &so, &se);
    assert_true(text_utf8_valid(se));
    assert_false(text_has_raw_hazard(se));
    assert_false(text_has_raw_c0(se)); /* no ESC, BEL, ... : only the newlines between lines */
    assert_non_null(strstr(se, "\\x1b[2J"));
    assert_non_null(strstr(se, "\\u{202E}gpj.exe"));
    assert_non_null(strstr(se, "\\u{2066}"));
    /* the metadata printed on stdout (rpiboot's -j) is JSON: valid, with no raw C1 */
    assert_true(text_utf8_valid(so));
    assert_false(text_has_raw_hazard(so));
    free(so);
    free(se);
}

/* Waits (bounded, polling) until the signal thread has cancelled c. */
static bool wait_cancelled(cmboot_flash_canceller *c)
{
    for (int i = 0; i < 500 && !cmboot_flash_cancel_requested(c); i++)
        poll(NULL, 0, 10);
    return cmboot_flash_cancel_requested(c);
}

static void cli_sighup_cancels_like_sigint(void **state)
{
    (void)state;
    cmboot_flash_canceller *c = NULL;
    assert_int_equal(cmboot_flash_canceller_new(&c), CMBOOT_OK);
    cli_cancel_targets(NULL, c);
    assert_false(cmboot_flash_cancel_requested(c));
    kill(getpid(), SIGHUP); /* without handling, this ends the test program */
    assert_true(wait_cancelled(c));
    assert_true(cli_cancel_requested());
    cli_cancel_targets(NULL, NULL);
    cmboot_flash_canceller_free(c);
}

static void write_after_close(void *arg)
{
    (void)arg;
    cli_json_line("progress", "name", "write", (const char *)NULL);
}

static void report_after_close(void *arg)
{
    cli_stdout_report(arg);
}

static void cli_closed_stdout_cancels_and_reports_on_stderr(void **state)
{
    (void)state;
    cmboot_flash_canceller *c = NULL;
    assert_int_equal(cmboot_flash_canceller_new(&c), CMBOOT_OK);
    cli_cancel_targets(NULL, c);
    /* stdout is a pipe whose reader left */
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[0]);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(p[1], STDOUT_FILENO);
    close(p[1]);
    write_after_close(NULL); /* EPIPE, not death by SIGPIPE */
    assert_true(wait_cancelled(c));
    assert_true(cli_stdout_closed());
    assert_string_equal(cli_cancel_cause(), "stdout closed");
    /* stderr captured; stdout still the dead pipe underneath the capture's own redirection */
    int e = temp_fd();
    fflush(stderr);
    int saved_err = dup(STDERR_FILENO);
    dup2(e, STDERR_FILENO);
    report_after_close("{\"event\":\"report\",\"report\":{\"bytes_written\":42}}");
    fflush(stderr);
    dup2(saved_err, STDERR_FILENO);
    close(saved_err);
    char *se = slurp(e);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    clearerr(stdout);
    assert_non_null(strstr(se, "\"bytes_written\":42"));
    free(se);
    cli_cancel_targets(NULL, NULL);
    cmboot_flash_canceller_free(c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(cli_json_hostile_strings_valid_utf8),
    cmocka_unit_test(cli_human_output_controls_escaped),
    cmocka_unit_test(cli_sighup_cancels_like_sigint),
    cmocka_unit_test(cli_closed_stdout_cancels_and_reports_on_stderr),
};
CMBOOT_TEST_MAIN(tests)
