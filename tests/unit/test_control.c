/* Board control through the public API: hook commands as real child processes, the step list on a fake clock,
 * config checks and the control map file. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "testutil.h"

typedef struct logbuf {
    char text[8192];
    size_t len;
    int control_events;
} logbuf;

static void log_cb(void *user, const char *id, cmboot_log_level level, const char *msg)
{
    logbuf *b = user;
    (void)id;
    (void)level;
    int n = snprintf(b->text + b->len, sizeof b->text - b->len, "%s\n", msg);
    if (n > 0 && b->len + (size_t)n < sizeof b->text)
        b->len += (size_t)n;
}

static void event_cb(void *user, const cmboot_event *ev)
{
    logbuf *b = user;
    if (ev->type == CMBOOT_EV_CONTROL)
        b->control_events++;
}

static cmboot_ctx *make_ctx(logbuf *b)
{
    memset(b, 0, sizeof *b);
    cmboot_ctx_config cc;
    cmboot_ctx_config_default(&cc);
    cc.log = log_cb;
    cc.event = event_cb;
    cc.user = b;
    cc.log_level = CMBOOT_LOG_DEBUG;
    cmboot_ctx *ctx = NULL;
    assert_int_equal(cmboot_ctx_new(&cc, &ctx), CMBOOT_OK);
    return ctx;
}

static char *read_text(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void hook_success_passes_action_and_logs_output(void **state)
{
    (void)state;
    char *dir = test_tmpdir("control-hook-ok");
    char script[512], cmd[1200], out[600];
    snprintf(script, sizeof script, "%s/relay.sh", dir);
    snprintf(out, sizeof out, "%s/state", dir);
    static const char body[] = "echo \"$1\" >> \"$2\"; echo hello from relay; echo to stderr >&2\n";
    test_write_file(dir, "relay.sh", body, sizeof body - 1);
    snprintf(cmd, sizeof cmd, "sh '%s' {on|off} '%s'", script, out);
    logbuf b;
    cmboot_ctx *ctx = make_ctx(&b);
    cmboot_control_config cfg;
    cmboot_control_config_default(&cfg);
    cfg.ctx = ctx;
    cfg.power_cmd = cmd;
    cmboot_control *c = NULL;
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_OK);
    assert_true(cmboot_control_can_power(c));
    assert_false(cmboot_control_can_boot_mode(c));
    assert_int_equal(cmboot_control_power(c, false), CMBOOT_OK);
    assert_int_equal(cmboot_control_power(c, true), CMBOOT_OK);
    assert_string_equal(read_text(out), "off\non\n");
    assert_non_null(strstr(b.text, "power-cmd: hello from relay"));
    assert_non_null(strstr(b.text, "power-cmd: to stderr"));
    assert_int_equal(cmboot_control_steps(c), 2);
    assert_string_equal(cmboot_control_step_at(c, 0)->name, "power-off");
    assert_string_equal(cmboot_control_step_at(c, 1)->name, "power-on");
    assert_int_equal(cmboot_control_step_at(c, 1)->result, CMBOOT_OK);
    assert_non_null(strstr(cmboot_control_step_at(c, 1)->detail, " on "));
    assert_null(cmboot_control_step_at(c, 2));
    assert_int_equal(b.control_events, 2);
    cmboot_control_free(c);
    cmboot_ctx_free(ctx);
    test_rmtree(dir);
    free(dir);
}

static void hook_failure_exit_is_an_error(void **state)
{
    (void)state;
    logbuf b;
    cmboot_ctx *ctx = make_ctx(&b);
    cmboot_control_config cfg;
    cmboot_control_config_default(&cfg);
    cfg.ctx = ctx;
    cfg.boot_mode_cmd = "sh -c 'echo refusing $0; exit 3' {usb|normal}";
    cmboot_control *c = NULL;
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_OK);
    assert_int_equal(cmboot_control_boot_mode(c, CMBOOT_BOOT_MODE_USB), CMBOOT_ERR_IO);
    assert_int_equal(cmboot_control_step_at(c, 0)->result, CMBOOT_ERR_IO);
    assert_non_null(strstr(b.text, "boot-mode-cmd: refusing usb"));
    assert_non_null(strstr(b.text, "exited with status 3"));
    /* A command that does not exist. */
    cmboot_control *c2 = NULL;
    cfg.boot_mode_cmd = "/nonexistent/cmboot-relay {usb|normal}";
    assert_int_equal(cmboot_control_new(&cfg, &c2), CMBOOT_OK);
    assert_int_equal(cmboot_control_boot_mode(c2, CMBOOT_BOOT_MODE_NORMAL), CMBOOT_ERR_NOT_FOUND);
    cmboot_control_free(c2);
    cmboot_control_free(c);
    cmboot_ctx_free(ctx);
}

static void hook_timeout_kills_the_group(void **state)
{
    (void)state;
    char *dir = test_tmpdir("control-hook-timeout");
    char cmd[1200], pidfile[600];
    snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
    /* The hook starts a grandchild and hangs: both must be gone after the timeout. */
    snprintf(cmd, sizeof cmd, "sh -c 'sleep 30 & echo $! > \"$1\"; wait' sh '%s' {on|off}", pidfile);
    cmboot_control_config cfg;
    cmboot_control_config_default(&cfg);
    cfg.power_cmd = cmd;
    cfg.hook_timeout_ms = 300;
    cmboot_control *c = NULL;
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_OK);
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_control_power(c, true), CMBOOT_ERR_TIMEOUT);
    int64_t took = cmboot_now_ms() - t0;
    assert_true(took >= 300 && took < 5000);
    char *p = read_text(pidfile);
    assert_non_null(p);
    pid_t gc = (pid_t)atoi(p);
    assert_true(gc > 0);
    /* Killed by SIGKILL; reaped by init once it is reparented, so poll for it to vanish. */
    int64_t until = cmboot_now_ms() + 5000;
    while (kill(gc, 0) == 0 && cmboot_now_ms() < until) {
        char st[64], path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)gc);
        FILE *f = fopen(path, "r");
        if (!f || !fgets(st, sizeof st, f) || strstr(st, ") Z")) { /* a zombie is dead */
            if (f)
                fclose(f);
            break;
        }
        fclose(f);
        usleep(10000);
    }
    char path[64], st[128] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)gc);
    FILE *f = fopen(path, "r");
    if (f) {
        assert_non_null(fgets(st, sizeof st, f));
        fclose(f);
        assert_non_null(strstr(st, ") Z"));
    }
    cmboot_control_free(c);
    test_rmtree(dir);
    free(dir);
}

static void hook_no_shell_injection_unless_asked(void **state)
{
    (void)state;
    char *dir = test_tmpdir("control-hook-shell");
    char cmd[1200], marker[600];
    snprintf(marker, sizeof marker, "%s/injected", dir);
    snprintf(cmd, sizeof cmd, "echo $(touch %s) ; touch %s {on|off}", marker, marker);
    cmboot_control_config cfg;
    cmboot_control_config_default(&cfg);
    cfg.power_cmd = cmd;
    cmboot_control *c = NULL;
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_OK);
    assert_int_equal(cmboot_control_power(c, true), CMBOOT_OK); /* echo printed it all literally */
    struct stat sb;
    assert_int_equal(stat(marker, &sb), -1);
    cmboot_control_free(c);
    /* The same line with hook_shell: the shell runs it (the test above is not vacuous). */
    cfg.hook_shell = true;
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_OK);
    assert_int_equal(cmboot_control_power(c, true), CMBOOT_OK);
    assert_int_equal(stat(marker, &sb), 0);
    cmboot_control_free(c);
    test_rmtree(dir);
    free(dir);
}

static void *cancel_later(void *arg)
{
    usleep(200000);
    cmboot_control_cancel(arg);
    return NULL;
}

static void hook_cancel_kills_and_release_still_runs(void **state)
{
    (void)state;
    char *dir = test_tmpdir("control-hook-cancel");
    char cmd[1200], out[600];
    snprintf(out, sizeof out, "%s/mode", dir);
    snprintf(cmd, sizeof cmd, "sh -c 'echo $0 >> \"$1\"; [ $0 = normal ] || sleep 30' {usb|normal} '%s'", out);
    cmboot_control_config cfg;
    cmboot_control_config_default(&cfg);
    cfg.boot_mode_cmd = cmd;
    cmboot_control *c = NULL;
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_OK);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, c), 0);
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_control_boot_mode(c, CMBOOT_BOOT_MODE_USB), CMBOOT_ERR_CANCELLED);
    assert_true(cmboot_now_ms() - t0 < 5000);
    pthread_join(th, NULL);
    assert_int_equal(cmboot_control_boot_mode(c, CMBOOT_BOOT_MODE_USB), CMBOOT_ERR_CANCELLED);
    /* Release sets the boot mode back to normal even though the object is cancelled. */
    assert_int_equal(cmboot_control_release(c), CMBOOT_OK);
    assert_string_equal(read_text(out), "usb\nnormal\n");
    cmboot_control_free(c);
    test_rmtree(dir);
    free(dir);
}

/* A hub on a fake transport and a fake clock: the cycle's steps and their times. */
typedef struct fake {
    int64_t now;
    int sets, clears;
} fake;

static int64_t fk_now(void *u)
{
    return ((fake *)u)->now;
}

static void fk_pause(void *u, unsigned ms)
{
    ((fake *)u)->now += ms;
}

static int fk_control(void *self, uint8_t type, uint8_t req, uint16_t value, uint16_t index, void *buf, size_t len,
                      size_t *actual, unsigned timeout_ms)
{
    fake *f = self;
    (void)value;
    (void)timeout_ms;
    if (type == 0xA0) {
        const uint8_t d[] = {9, 0x29, 7, 0x01, 0x00, 50, 100, 0, 0xff};
        memcpy(buf, d, len < sizeof d ? len : sizeof d);
        *actual = len < sizeof d ? len : sizeof d;
        return CMBOOT_OK;
    }
    assert_int_equal(type, 0x23);
    assert_int_equal(index, 6);
    if (req == 3)
        f->sets++;
    else
        f->clears++;
    f->now += 5; /* each switch takes 5 ms */
    return CMBOOT_OK;
}

static void hub_cycle_steps_on_the_clock(void **state)
{
    (void)state;
    fake f = {.now = 1000};
    static const cmboot_transport_ops ops = {.struct_size = sizeof(cmboot_transport_ops), .control = fk_control};
    cmboot_transport t = {&ops, &f};
    cmboot_clock clk = {fk_now, fk_pause, &f};
    cmboot_control_config cfg;
    cmboot_control_config_default(&cfg);
    cfg.power_hub = "1-1.4:6";
    cfg.hub_transport = &t;
    cfg.clock = &clk;
    cfg.device_id = "1-1.4.6";
    cmboot_control *c = NULL;
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_OK);
    assert_int_equal(cmboot_control_power_cycle(c, 2500), CMBOOT_OK);
    assert_int_equal(f.clears, 1);
    assert_int_equal(f.sets, 1);
    assert_int_equal(cmboot_control_steps(c), 3);
    const cmboot_control_step *off = cmboot_control_step_at(c, 0), *w = cmboot_control_step_at(c, 1),
                              *on = cmboot_control_step_at(c, 2);
    assert_string_equal(off->name, "power-off");
    assert_string_equal(off->detail, "hub 1-1.4 port 6");
    assert_int_equal(off->start_ms, 1000);
    assert_int_equal(off->duration_ms, 5);
    assert_string_equal(w->name, "wait");
    assert_int_equal(w->start_ms, 1005);
    assert_int_equal(w->duration_ms, 2500);
    assert_string_equal(on->name, "power-on");
    assert_int_equal(on->duration_ms, 5 + 100); /* bPwrOn2PwrGood 50 x 2 ms */
    /* No boot-mode way: refused and recorded. */
    assert_int_equal(cmboot_control_boot_mode(c, CMBOOT_BOOT_MODE_USB), CMBOOT_ERR_UNSUPPORTED);
    assert_int_equal(cmboot_control_step_at(c, 3)->result, CMBOOT_ERR_UNSUPPORTED);
    cmboot_control_steps_clear(c);
    assert_int_equal(cmboot_control_steps(c), 0);
    /* A cancel ends a hold at once; the borrowed transport is not closed (its ops have no close). */
    cmboot_control_cancel(c);
    assert_int_equal(cmboot_control_hold(c, 0), CMBOOT_ERR_CANCELLED);
    assert_int_equal(cmboot_control_power_cycle(c, 10), CMBOOT_ERR_CANCELLED);
    assert_int_equal(cmboot_control_release(c), CMBOOT_OK);
    cmboot_control_free(c);
}

static void config_checks(void **state)
{
    (void)state;
    cmboot_control_config cfg;
    cmboot_control *c = NULL;
    cmboot_control_config_default(&cfg);
    assert_int_equal(cfg.hook_timeout_ms, 30000);
    cfg.power_gpio = "gpiochip0:6";
    cfg.power_cmd = "relay {on|off}";
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_ERR_INVALID_ARG); /* two ways to switch power */
    cmboot_control_config_default(&cfg);
    cfg.boot_gpio = "gpiochip0:5";
    cfg.boot_mode_cmd = "relay {usb|normal}";
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_ERR_INVALID_ARG);
    cmboot_control_config_default(&cfg);
    cfg.boot_gpio = "gpiochip0";
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_ERR_INVALID_ARG);
    cmboot_control_config_default(&cfg);
    cfg.power_cmd = "relay 'open {on|off}";
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_ERR_INVALID_ARG);
    cmboot_control_config_default(&cfg);
    cfg.struct_size = 8;
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_ERR_INVALID_ARG);
    assert_null(c);
    assert_int_equal(cmboot_control_config_init(&cfg, 8), CMBOOT_ERR_INVALID_ARG);
    /* A GPIO line on a chip that does not exist: found out when used, not at new(). */
    cmboot_control_config_default(&cfg);
    cfg.boot_gpio = "cmboot-no-such-chip:3=low";
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_OK);
#ifdef CMBOOT_TEST_HAVE_GPIO
    assert_int_equal(cmboot_control_boot_mode(c, CMBOOT_BOOT_MODE_USB), CMBOOT_ERR_NOT_FOUND);
#else /* built without libgpiod (CMBOOT_GPIO off) */
    assert_int_equal(cmboot_control_boot_mode(c, CMBOOT_BOOT_MODE_USB), CMBOOT_ERR_UNSUPPORTED);
#endif
    assert_int_equal(cmboot_control_power(c, true), CMBOOT_ERR_UNSUPPORTED);
    cmboot_control_free(c);
    cmboot_control_free(NULL);
}

static void map_parses_ports(void **state)
{
    (void)state;
    const char text[] = "# bench A\n"
                        "1-1.2  boot-gpio=gpiochip0:5=low power-gpio=gpiochip0:6   # CM4 IO board\n"
                        "\n"
                        "1-1.3 power-hub=1-1:3 boot-mode-cmd='relay 3 {usb|normal} # not a comment' hook-shell=yes "
                        "hook-timeout=10\n"
                        "  2-1 reset-gpio=\"cp2112 label:GPIO2\"";
    char err[256];
    cmboot_control_map *m = NULL;
    assert_int_equal(cmboot_control_map_parse(text, sizeof text - 1, &m, err, sizeof err), CMBOOT_OK);
    assert_int_equal(cmboot_control_map_count(m), 3);
    assert_string_equal(cmboot_control_map_port(m, 0), "1-1.2");
    assert_string_equal(cmboot_control_map_port(m, 2), "2-1");
    assert_null(cmboot_control_map_port(m, 3));
    cmboot_control_config cfg;
    cmboot_control_config_default(&cfg);
    assert_int_equal(cmboot_control_map_config(m, "1-1.3", &cfg), CMBOOT_OK);
    assert_string_equal(cfg.power_hub, "1-1:3");
    assert_string_equal(cfg.boot_mode_cmd, "relay 3 {usb|normal} # not a comment");
    assert_true(cfg.hook_shell);
    assert_int_equal(cfg.hook_timeout_ms, 10000);
    assert_null(cfg.boot_gpio);
    cmboot_control_config_default(&cfg);
    assert_int_equal(cmboot_control_map_config(m, "1-1.2", &cfg), CMBOOT_OK);
    assert_string_equal(cfg.boot_gpio, "gpiochip0:5=low");
    assert_string_equal(cfg.power_gpio, "gpiochip0:6");
    assert_int_equal(cmboot_control_map_config(m, "2-1", &cfg), CMBOOT_OK);
    assert_string_equal(cfg.reset_gpio, "cp2112 label:GPIO2");
    assert_int_equal(cmboot_control_map_config(m, "1-1.9", &cfg), CMBOOT_ERR_NOT_FOUND);
    /* What the map gives makes a control object. */
    cmboot_control *c = NULL;
    assert_int_equal(cmboot_control_new(&cfg, &c), CMBOOT_OK);
    cmboot_control_free(c);
    cmboot_control_map_free(m);
}

static void map_errors_name_the_line(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        const char *msg;
    } cases[] = {
        {"1-1.2 boot-gpio=gpiochip0\n", CMBOOT_ERR_FORMAT, "line 1: boot-gpio"},
        {"\n1-1.2 colour=red\n", CMBOOT_ERR_FORMAT, "line 2: unknown key 'colour'"},
        {"1-1.2 power-gpio=a:1\n1-1.2 power-gpio=a:2\n", CMBOOT_ERR_FORMAT, "line 2: port 1-1.2 given twice"},
        {"1-1.2 power-gpio=a:1 power-cmd=x\n", CMBOOT_ERR_FORMAT, "one way"},
        {"1-1.2 power-gpio=a:1 power-gpio=a:2\n", CMBOOT_ERR_FORMAT, "given twice"},
        {"1-1.2\n", CMBOOT_ERR_FORMAT, "nothing to control"},
        {"bogus power-gpio=a:1\n", CMBOOT_ERR_FORMAT, "no port path"},
        {"1-1.2 power-cmd='open\n", CMBOOT_ERR_FORMAT, "unterminated quote"},
        {"1-1.2 power-hub=1-1\n", CMBOOT_ERR_FORMAT, "power-hub"},
        {"1-1.2 power-cmd=x hook-timeout=0\n", CMBOOT_ERR_FORMAT, "hook-timeout"},
        {"1-1.2 power-cmd=x hook-shell=maybe\n", CMBOOT_ERR_FORMAT, "hook-shell"},
        {"1-1.2 power-cmd\n", CMBOOT_ERR_FORMAT, "KEY=VALUE"},
        /* Found by fuzz_control_map: a quote inside the quoted value, which the hook's own split refuses. */
        {"1-1.3 boot-mode-cmd='relay 3 {usb|norm\"l}'\n", CMBOOT_ERR_FORMAT, "line 1: boot-mode-cmd: unterminated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        cmboot_control_map *m = NULL;
        assert_int_equal(cmboot_control_map_parse(cases[i].text, strlen(cases[i].text), &m, err, sizeof err),
                         cases[i].rc);
        assert_null(m);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].msg);
    }
    /* Bounds: a line too long, a NUL, too many ports. */
    char *big = malloc(5000);
    memset(big, 'a', 5000);
    cmboot_control_map *m = NULL;
    char err[256];
    assert_int_equal(cmboot_control_map_parse(big, 5000, &m, err, sizeof err), CMBOOT_ERR_TOO_LARGE);
    assert_int_equal(cmboot_control_map_parse("1-1 power-cmd=x\0", 16, &m, err, sizeof err), CMBOOT_ERR_FORMAT);
    free(big);
    size_t cap = 1100 * 32, len = 0;
    char *many = malloc(cap);
    for (int i = 0; i < 1100; i++)
        len += (size_t)snprintf(many + len, cap - len, "%d-%d.%d power-cmd=x\n", 1 + i / 1000, 1 + (i / 10) % 100,
                                1 + i % 10);
    assert_int_equal(cmboot_control_map_parse(many, len, &m, err, sizeof err), CMBOOT_ERR_TOO_LARGE);
    free(many);
    assert_int_equal(cmboot_control_map_load("/nonexistent/cmboot-map", &m, err, sizeof err), CMBOOT_ERR_NOT_FOUND);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(hook_success_passes_action_and_logs_output),
    cmocka_unit_test(hook_failure_exit_is_an_error),
    cmocka_unit_test(hook_timeout_kills_the_group),
    cmocka_unit_test(hook_no_shell_injection_unless_asked),
    cmocka_unit_test(hook_cancel_kills_and_release_still_runs),
    cmocka_unit_test(hub_cycle_steps_on_the_clock),
    cmocka_unit_test(config_checks),
    cmocka_unit_test(map_parses_ports),
    cmocka_unit_test(map_errors_name_the_line),
};

CMBOOT_TEST_MAIN(tests)
