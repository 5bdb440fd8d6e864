/* The board-control object: power and boot mode through one of three kinds, each step timed and reported. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cmboot/control.h"
#include "cmboot/error.h"
#include "control_internal.h"
#include "core/abi.h"
#include "core/clock.h"
#include "core/ctx.h"
#include "usb/hub.h"

#define HOOK_TIMEOUT_DEFAULT_MS 30000
#define STEPS_MAX 4096 /* a long-lived object keeps the newest steps */

enum { BOOT_NONE, BOOT_GPIO, BOOT_CMD };
enum { POWER_NONE, POWER_GPIO, POWER_RESET, POWER_HUB, POWER_CMD };

struct cmboot_control {
    cmboot_control_config cfg; /* strings point to the copies below */
    char *copies[8];
    cmb_logger log;
    char id[64];
    int boot_kind, power_kind;
    cmb_gpio_spec boot_spec, power_spec; /* power_spec: the power or the reset line */
    cmb_hub_spec hub;
    cmb_gpio_line *boot_line, *power_line;
    cmboot_transport hub_t;
    bool hub_open, hub_owned;
    bool usb_mode_set; /* this object set USB mode and has not set it back */
    atomic_bool cancelled;
    int wake_fd;
    cmboot_control_step *steps;
    size_t nsteps, cap;
};

int cmboot_control_config_init(cmboot_control_config *cfg, size_t struct_size)
{
    cmboot_control_config d;
    memset(&d, 0, sizeof d);
    d.hook_timeout_ms = HOOK_TIMEOUT_DEFAULT_MS;
    return cmb_struct_init(cfg, struct_size, &d, sizeof d, CMB_SIZE_THROUGH(cmboot_control_config, clock));
}

static bool is_cancelled(void *arg)
{
    cmboot_control *c = arg;
    return atomic_load(&c->cancelled) || (c->cfg.ctx && atomic_load(&c->cfg.ctx->cancelled));
}

static int64_t now(const cmboot_control *c)
{
    return cmb_clock_now(c->cfg.clock);
}

static void step_done(cmboot_control *c, const char *name, const char *detail, int64_t start, int rc, const char *why)
{
    int64_t dur = now(c) - start;
    if (c->nsteps == STEPS_MAX) {
        memmove(c->steps, c->steps + 1, (STEPS_MAX - 1) * sizeof *c->steps);
        c->nsteps--;
    }
    if (c->nsteps == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        cmboot_control_step *s = realloc(c->steps, cap * sizeof *s);
        if (s) {
            c->steps = s;
            c->cap = cap;
        }
    }
    if (c->nsteps < c->cap) {
        cmboot_control_step *s = &c->steps[c->nsteps++];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s", name);
        snprintf(s->detail, sizeof s->detail, "%s", detail);
        s->start_ms = start;
        s->duration_ms = dur;
        s->result = rc;
    }
    if (rc != CMBOOT_OK)
        cmb_logf(&c->log, c->id, CMBOOT_LOG_ERROR, "%s (%s): %s", name, detail,
                 why && *why ? why : cmboot_strerror(rc));
    else
        cmb_logf(&c->log, c->id, CMBOOT_LOG_DEBUG, "%s (%s) done in %lld ms", name, detail, (long long)dur);
    if (c->cfg.ctx && c->cfg.ctx->event) {
        cmboot_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = CMBOOT_EV_CONTROL;
        ev.device_id = c->id;
        ev.serial = ev.soc = ev.stage = ev.json = "";
        ev.name = name;
        ev.value = detail;
        ev.error = rc;
        ev.elapsed_ms = dur > 0 ? (uint64_t)dur : 0;
        c->cfg.ctx->event(c->cfg.ctx->user, &ev);
    }
}

/* Waits ms on the clock (forever when ms == 0 and forever), ending early on a cancel. */
static int wait_ms(cmboot_control *c, unsigned ms, bool forever)
{
    int64_t deadline = now(c) + ms;
    for (;;) {
        if (is_cancelled(c))
            return CMBOOT_ERR_CANCELLED;
        int64_t left = forever ? 100 : deadline - now(c);
        if (left <= 0)
            return CMBOOT_OK;
        /* Slices of 100 ms at most, to notice the context's cancel, which has no fd to wake us. */
        unsigned slice = left > 100 ? 100u : (unsigned)left;
        if (c->cfg.clock) {
            cmb_clock_pause(c->cfg.clock, slice);
        } else {
            struct pollfd p = {.fd = c->wake_fd, .events = POLLIN};
            if (poll(&p, 1, (int)slice) < 0 && errno != EINTR)
                return CMBOOT_ERR_IO;
        }
    }
}

static char *dup_opt(cmboot_control *c, size_t slot, const char *s)
{
    if (!s)
        return NULL;
    c->copies[slot] = strdup(s);
    return c->copies[slot];
}

static int config_error(const cmb_logger *log, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int config_error(const cmb_logger *log, const char *id, const char *fmt, ...)
{
    char msg[CMB_SPEC_MAX + 200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cmb_logf(log, id, CMBOOT_LOG_ERROR, "%s", msg);
    return CMBOOT_ERR_INVALID_ARG;
}

static int check_config(cmboot_control *c)
{
    const cmboot_control_config *f = &c->cfg;
    int boots = (f->boot_gpio != NULL) + (f->boot_mode_cmd != NULL);
    int powers = (f->power_gpio != NULL) + (f->reset_gpio != NULL) + (f->power_hub != NULL) + (f->power_cmd != NULL);
    if (boots > 1)
        return config_error(&c->log, c->id, "board control: give either a boot GPIO or a boot-mode command, not both");
    if (powers > 1)
        return config_error(
            &c->log, c->id,
            "board control: give one way to switch power (power GPIO, reset GPIO, hub port or command)");
    if (f->boot_gpio) {
        if (cmb_gpio_spec_parse(f->boot_gpio, true, &c->boot_spec) != CMBOOT_OK)
            return config_error(&c->log, c->id, "boot GPIO '%s': expected CHIP:LINE[=high|low]", f->boot_gpio);
        c->boot_kind = BOOT_GPIO;
    }
    if (f->power_gpio || f->reset_gpio) {
        const char *s = f->power_gpio ? f->power_gpio : f->reset_gpio;
        if (cmb_gpio_spec_parse(s, f->reset_gpio != NULL, &c->power_spec) != CMBOOT_OK)
            return config_error(&c->log, c->id, "%s GPIO '%s': expected CHIP:LINE[=high|low]",
                                f->power_gpio ? "power" : "reset", s);
        c->power_kind = f->power_gpio ? POWER_GPIO : POWER_RESET;
    }
    if (f->power_hub) {
        if (cmb_hub_spec_parse(f->power_hub, &c->hub) != CMBOOT_OK)
            return config_error(&c->log, c->id, "power hub '%s': expected HUBPATH:PORT (like 1-1.2:3)", f->power_hub);
        c->power_kind = POWER_HUB;
    }
    const char *hooks[2] = {f->power_cmd, f->boot_mode_cmd};
    for (int i = 0; i < 2; i++) {
        if (!hooks[i])
            continue;
        char buf[CMB_SPEC_MAX * 3];
        char *argv[CMB_HOOK_MAX_ARGS + 4];
        int rc = strlen(hooks[i]) >= CMB_SPEC_MAX
                     ? CMBOOT_ERR_TOO_LARGE
                     : cmb_hook_argv(hooks[i], "normal", f->hook_shell, buf, sizeof buf, argv, CMB_HOOK_MAX_ARGS + 4);
        if (rc != CMBOOT_OK)
            return config_error(&c->log, c->id, "%s '%s': %s", i ? "boot-mode command" : "power command", hooks[i],
                                rc == CMBOOT_ERR_FORMAT ? "unterminated quote" : "empty or too long");
    }
    if (f->power_cmd)
        c->power_kind = POWER_CMD;
    if (f->boot_mode_cmd)
        c->boot_kind = BOOT_CMD;
    return CMBOOT_OK;
}

int cmboot_control_new(const cmboot_control_config *cfg, cmboot_control **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    cmboot_control *c = calloc(1, sizeof *c);
    if (!c)
        return CMBOOT_ERR_NO_MEMORY;
    c->wake_fd = -1;
    cmboot_control_config_default(&c->cfg);
    int rc = cmb_struct_load(&c->cfg, sizeof c->cfg, cfg, CMB_SIZE_THROUGH(cmboot_control_config, clock));
    if (rc != CMBOOT_OK) {
        free(c);
        return rc;
    }
    if (c->cfg.ctx)
        c->log = *cmb_ctx_logger(c->cfg.ctx);
    snprintf(c->id, sizeof c->id, "%s", c->cfg.device_id ? c->cfg.device_id : "");
    if (c->cfg.hook_timeout_ms == 0)
        c->cfg.hook_timeout_ms = HOOK_TIMEOUT_DEFAULT_MS;
    cmboot_control_config *f = &c->cfg;
    const char **strs[] = {&f->boot_gpio, &f->power_gpio,    &f->reset_gpio, &f->power_hub,
                           &f->power_cmd, &f->boot_mode_cmd, &f->consumer,   &f->sys_root};
    bool oom = false;
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        const char *orig = *strs[i];
        *strs[i] = dup_opt(c, i, orig);
        oom = oom || (orig && !*strs[i]);
    }
    /* dev_root is kept by pointer only for the call that opens the hub: copy it too. */
    f->device_id = NULL;
    char *dev_root = f->dev_root ? strdup(f->dev_root) : NULL;
    oom = oom || (f->dev_root && !dev_root);
    f->dev_root = dev_root;
    c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (oom || c->wake_fd < 0) {
        free(dev_root);
        f->dev_root = NULL;
        cmboot_control_free(c);
        return oom ? CMBOOT_ERR_NO_MEMORY : CMBOOT_ERR_IO;
    }
    rc = check_config(c);
    if (rc != CMBOOT_OK) {
        cmboot_control_free(c);
        return rc;
    }
    *out = c;
    return CMBOOT_OK;
}

bool cmboot_control_can_power(const cmboot_control *c)
{
    return c && c->power_kind != POWER_NONE;
}

bool cmboot_control_can_boot_mode(const cmboot_control *c)
{
    return c && c->boot_kind != BOOT_NONE;
}

static void describe_gpio(char *out, size_t size, const cmb_gpio_spec *s)
{
    snprintf(out, size, "gpio %.100s:%s=%s", s->chip, s->line, s->active_low ? "low" : "high");
}

static int run_hook(cmboot_control *c, const char *cmd, const char *action, const char *tag, bool cancellable,
                    char *detail, size_t detail_size, char *why, size_t why_size)
{
    char buf[CMB_SPEC_MAX * 3];
    char *argv[CMB_HOOK_MAX_ARGS + 4];
    int rc = cmb_hook_argv(cmd, action, c->cfg.hook_shell, buf, sizeof buf, argv, CMB_HOOK_MAX_ARGS + 4);
    snprintf(detail, detail_size, "%s %s", c->cfg.hook_shell ? "sh -c" : "hook", c->cfg.hook_shell ? argv[2] : cmd);
    if (rc != CMBOOT_OK)
        return rc;
    if (!c->cfg.hook_shell) { /* what runs, words joined */
        size_t o = (size_t)snprintf(detail, detail_size, "hook");
        for (size_t i = 0; argv[i] && o < detail_size; i++)
            o += (size_t)snprintf(detail + o, detail_size - o, " %s", argv[i]);
    }
    return cmb_hook_run(argv, c->cfg.hook_timeout_ms, &c->log, c->id, tag, c->wake_fd,
                        cancellable ? is_cancelled : NULL, c, why, why_size);
}

static int ensure_line(cmboot_control *c, cmb_gpio_line **line, const cmb_gpio_spec *spec, char *why, size_t size)
{
    if (*line)
        return CMBOOT_OK;
    return cmb_gpio_line_open(spec, c->cfg.consumer, line, why, size);
}

static int hub_power(cmboot_control *c, bool on, char *why, size_t size)
{
    if (!c->hub_open) {
        if (c->cfg.hub_transport) {
            c->hub_t = *c->cfg.hub_transport;
        } else {
            int rc = cmb_usb_hub_open(c->cfg.sys_root, c->cfg.dev_root, c->hub.path, &c->hub_t);
            if (rc != CMBOOT_OK) {
                snprintf(why, size, "hub %s: %s", c->hub.path,
                         rc == CMBOOT_ERR_INVALID_ARG ? "not a hub" : cmboot_strerror(rc));
                return rc == CMBOOT_ERR_INVALID_ARG ? CMBOOT_ERR_NOT_FOUND : rc;
            }
            c->hub_owned = true;
        }
        c->hub_open = true;
    }
    cmb_hub_info info;
    int rc = cmb_hub_port_power(&c->hub_t, c->hub.port, on, &info, why, size);
    /* The port's power is good bPwrOn2PwrGood after it is switched on (USB 2.0 section 11.23.2.1). */
    if (rc == CMBOOT_OK && on)
        rc = wait_ms(c, info.power_good_ms, false);
    return rc;
}

/* One power action as a step: on/off, or for the reset line asserted (held off) / released. */
static int do_power(cmboot_control *c, bool on)
{
    char detail[CMB_SPEC_MAX + 64] = "", why[CMB_SPEC_MAX + 256] = "";
    const char *name = on ? "power-on" : "power-off";
    int64_t start = now(c);
    int rc = CMBOOT_ERR_UNSUPPORTED;
    switch (c->power_kind) {
    case POWER_GPIO:
    case POWER_RESET:
        describe_gpio(detail, sizeof detail, &c->power_spec);
        rc = ensure_line(c, &c->power_line, &c->power_spec, why, sizeof why);
        if (rc == CMBOOT_OK) /* the reset line is asserted to hold the board off */
            rc = cmb_gpio_line_drive(c->power_line, c->power_kind == POWER_GPIO ? on : !on, why, sizeof why);
        break;
    case POWER_HUB:
        snprintf(detail, sizeof detail, "hub %s port %u", c->hub.path, c->hub.port);
        rc = hub_power(c, on, why, sizeof why);
        break;
    case POWER_CMD:
        rc =
            run_hook(c, c->cfg.power_cmd, on ? "on" : "off", "power-cmd", true, detail, sizeof detail, why, sizeof why);
        break;
    default: snprintf(why, sizeof why, "no way to switch power was given"); break;
    }
    step_done(c, name, detail, start, rc, why);
    return rc;
}

int cmboot_control_power(cmboot_control *c, bool on)
{
    if (!c)
        return CMBOOT_ERR_INVALID_ARG;
    if (is_cancelled(c))
        return CMBOOT_ERR_CANCELLED;
    return do_power(c, on);
}

static int do_boot_mode(cmboot_control *c, cmboot_boot_mode mode, bool cancellable)
{
    bool usb = mode == CMBOOT_BOOT_MODE_USB;
    char detail[CMB_SPEC_MAX + 64] = "", why[CMB_SPEC_MAX + 256] = "";
    int64_t start = now(c);
    int rc = CMBOOT_ERR_UNSUPPORTED;
    switch (c->boot_kind) {
    case BOOT_GPIO:
        describe_gpio(detail, sizeof detail, &c->boot_spec);
        rc = ensure_line(c, &c->boot_line, &c->boot_spec, why, sizeof why);
        if (rc == CMBOOT_OK)
            rc = cmb_gpio_line_drive(c->boot_line, usb, why, sizeof why);
        break;
    case BOOT_CMD:
        rc = run_hook(c, c->cfg.boot_mode_cmd, usb ? "usb" : "normal", "boot-mode-cmd", cancellable, detail,
                      sizeof detail, why, sizeof why);
        break;
    default: snprintf(why, sizeof why, "no way to set the boot mode was given"); break;
    }
    if (rc == CMBOOT_OK)
        c->usb_mode_set = usb;
    else if (usb)
        c->usb_mode_set = true; /* maybe half done: release sets it back */
    step_done(c, usb ? "boot-mode-usb" : "boot-mode-normal", detail, start, rc, why);
    return rc;
}

int cmboot_control_boot_mode(cmboot_control *c, cmboot_boot_mode mode)
{
    if (!c || (mode != CMBOOT_BOOT_MODE_USB && mode != CMBOOT_BOOT_MODE_NORMAL))
        return CMBOOT_ERR_INVALID_ARG;
    if (is_cancelled(c))
        return CMBOOT_ERR_CANCELLED;
    return do_boot_mode(c, mode, true);
}

int cmboot_control_power_cycle(cmboot_control *c, unsigned off_ms)
{
    if (!c)
        return CMBOOT_ERR_INVALID_ARG;
    if (is_cancelled(c))
        return CMBOOT_ERR_CANCELLED;
    if (c->power_kind == POWER_NONE)
        return do_power(c, false); /* records the refusal */
    int rc = do_power(c, false);
    if (rc != CMBOOT_OK)
        return rc;
    int64_t start = now(c);
    char detail[32];
    snprintf(detail, sizeof detail, "%u ms off", off_ms);
    rc = wait_ms(c, off_ms, false);
    step_done(c, "wait", detail, start, rc, NULL);
    if (rc != CMBOOT_OK)
        return rc; /* cancelled: the board stays off */
    return do_power(c, true);
}

int cmboot_control_hold(cmboot_control *c, unsigned ms)
{
    if (!c)
        return CMBOOT_ERR_INVALID_ARG;
    return wait_ms(c, ms, ms == 0);
}

void cmboot_control_cancel(cmboot_control *c)
{
    if (!c)
        return;
    atomic_store(&c->cancelled, true);
    uint64_t one = 1;
    if (c->wake_fd >= 0 && write(c->wake_fd, &one, sizeof one) < 0) {
        /* the counter is already non-zero: the wake-up is pending anyway */
    }
}

int cmboot_control_release(cmboot_control *c)
{
    if (!c)
        return CMBOOT_ERR_INVALID_ARG;
    int first = CMBOOT_OK;
    /* Boot mode back to normal first, with no cancel: a board must never be left in USB boot mode. */
    if ((c->boot_kind == BOOT_GPIO && c->boot_line) || (c->boot_kind == BOOT_CMD && c->usb_mode_set))
        first = do_boot_mode(c, CMBOOT_BOOT_MODE_NORMAL, false);
    int64_t start = now(c);
    cmb_gpio_line_close(c->boot_line);
    cmb_gpio_line_close(c->power_line);
    c->boot_line = c->power_line = NULL;
    if (c->hub_open && c->hub_owned && c->hub_t.ops && c->hub_t.ops->close)
        c->hub_t.ops->close(c->hub_t.self);
    c->hub_open = c->hub_owned = false;
    step_done(c, "release", "lines and hub", start, first, NULL);
    return first;
}

void cmboot_control_free(cmboot_control *c)
{
    if (!c)
        return;
    cmb_gpio_line_close(c->boot_line);
    cmb_gpio_line_close(c->power_line);
    if (c->hub_open && c->hub_owned && c->hub_t.ops && c->hub_t.ops->close)
        c->hub_t.ops->close(c->hub_t.self);
    for (size_t i = 0; i < sizeof c->copies / sizeof c->copies[0]; i++)
        free(c->copies[i]);
    free((char *)c->cfg.dev_root);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    free(c->steps);
    free(c);
}

size_t cmboot_control_steps(const cmboot_control *c)
{
    return c ? c->nsteps : 0;
}

const cmboot_control_step *cmboot_control_step_at(const cmboot_control *c, size_t i)
{
    return c && i < c->nsteps ? &c->steps[i] : NULL;
}

void cmboot_control_steps_clear(cmboot_control *c)
{
    if (c)
        c->nsteps = 0;
}
