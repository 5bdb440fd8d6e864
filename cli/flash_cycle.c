/* The flash cycle's board control: USB boot mode and power cycle, then normal mode and the board's own device. */
#include "flash_cycle.h"

#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmboot/device.h"
#include "cmboot/error.h"
#include "commands.h"
#include "output.h"

#define BACKOFF_FIRST_MS 20
#define BACKOFF_MAX_MS 500

int flash_cycle_parse_usb_id(const char *s, uint16_t *vid, uint16_t *pid)
{
    if (!s || strlen(s) != 9 || s[4] != ':')
        return -1;
    unsigned v[2];
    for (int k = 0; k < 2; k++) {
        v[k] = 0;
        for (int i = 0; i < 4; i++) {
            char ch = s[k * 5 + i];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d < 0)
                return -1;
            v[k] = v[k] * 16 + (unsigned)d;
        }
    }
    *vid = (uint16_t)v[0];
    *pid = (uint16_t)v[1];
    return 0;
}

int flash_cycle_start(flash_cycle *fc)
{
    fc->t0 = cmboot_now_ms();
    int rc = cmboot_control_boot_mode(fc->ctl, CMBOOT_BOOT_MODE_USB);
    if (rc == CMBOOT_OK)
        rc = cmboot_control_power_cycle(fc->ctl, fc->off_ms);
    return rc;
}

/* A sysfs attribute's first line (at most size - 1 bytes), "" when absent. */
static void read_attr(const char *dir, const char *name, char *out, size_t size)
{
    char path[512];
    out[0] = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return;
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    if (!fgets(out, (int)size, f))
        out[0] = 0;
    fclose(f);
    out[strcspn(out, "\r\n")] = 0;
}

int flash_cycle_find_device(const char *sys_root, uint16_t vid, uint16_t pid, const char *port_path, const char *serial,
                            char *found, size_t found_size)
{
    char base[256];
    snprintf(base, sizeof base, "%s/bus/usb/devices", sys_root ? sys_root : "/sys");
    DIR *d = opendir(base);
    if (!d)
        return 0;
    char want_v[8], want_p[8];
    snprintf(want_v, sizeof want_v, "%04x", vid);
    snprintf(want_p, sizeof want_p, "%04x", pid);
    int hit = 0;
    struct dirent *e;
    while (!hit && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strchr(e->d_name, ':')) /* interfaces are not devices */
            continue;
        if (port_path && port_path[0] && strcmp(e->d_name, port_path) != 0)
            continue;
        char dir[512], v[16], p[16], s[256];
        if ((size_t)snprintf(dir, sizeof dir, "%s/%s", base, e->d_name) >= sizeof dir)
            continue;
        read_attr(dir, "idVendor", v, sizeof v);
        read_attr(dir, "idProduct", p, sizeof p);
        if (strcasecmp(v, want_v) != 0 || strcasecmp(p, want_p) != 0)
            continue;
        read_attr(dir, "serial", s, sizeof s);
        bool at_port = port_path && port_path[0];
        /* Another board's device; without a port, a device without a serial could be any board's. */
        if (serial && serial[0] && (s[0] || !at_port) && strcasecmp(s, serial) != 0)
            continue;
        snprintf(found, found_size, "%s", e->d_name);
        hit = 1;
    }
    closedir(d);
    return hit;
}

/* Polls sysfs with a growing back-off (a cancellable wait of the control object) until the deadline. */
static int wait_normal(flash_cycle *fc, const char *port_path, const char *serial)
{
    fc->checked = true;
    fc->normal_after = cmboot_control_steps(fc->ctl);
    fc->normal_start_ms = cmboot_now_ms();
    int64_t deadline = fc->normal_start_ms + fc->normal_timeout_ms;
    char where[96] = "";
    int rc = CMBOOT_ERR_TIMEOUT;
    unsigned backoff = BACKOFF_FIRST_MS;
    for (;;) {
        if (flash_cycle_find_device(fc->sys_root, fc->vid, fc->pid, port_path, serial, where, sizeof where)) {
            rc = CMBOOT_OK;
            break;
        }
        int64_t left = deadline - cmboot_now_ms();
        if (left <= 0)
            break;
        int h = cmboot_control_hold(fc->ctl, (unsigned)(left < backoff ? left : backoff));
        if (h != CMBOOT_OK) {
            rc = h;
            break;
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    fc->normal_ms = cmboot_now_ms() - fc->normal_start_ms;
    fc->normal_rc = rc;
    snprintf(fc->normal_detail, sizeof fc->normal_detail, "%04x:%04x at %s%s%s", fc->vid, fc->pid,
             where[0]                    ? where
             : port_path && port_path[0] ? port_path
                                         : "any port",
             serial && serial[0] ? " serial " : "", serial && serial[0] ? serial : "");
    return rc;
}

int flash_cycle_finish(flash_cycle *fc, const char *port_path, const char *serial)
{
    int rc = cmboot_control_boot_mode(fc->ctl, CMBOOT_BOOT_MODE_NORMAL);
    if (rc == CMBOOT_OK)
        rc = cmboot_control_power_cycle(fc->ctl, fc->off_ms);
    if (rc == CMBOOT_OK && fc->expect)
        rc = wait_normal(fc, port_path, serial);
    int r = cmboot_control_release(fc->ctl);
    return rc != CMBOOT_OK ? rc : r;
}

int flash_cycle_release(flash_cycle *fc)
{
    return cmboot_control_release(fc->ctl);
}

static json_object *step_json(const char *name, const char *detail, int64_t start, int64_t dur, int rc)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "detail", json_object_new_string(detail));
    json_object_object_add(o, "start_ms", json_object_new_int64(start));
    json_object_object_add(o, "duration_ms", json_object_new_int64(dur));
    json_object_object_add(o, "result", json_object_new_string(rc == CMBOOT_OK ? "ok" : cmboot_error_name(rc)));
    return o;
}

char *flash_cycle_report(const flash_cycle *fc, const char *report_text)
{
    json_object *o = report_text ? json_tokener_parse(report_text) : NULL;
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = json_object_new_object();
    }
    json_object *arr = json_object_new_array();
    size_t n = cmboot_control_steps(fc->ctl);
    bool check_added = !fc->checked;
    for (size_t i = 0; i < n; i++) {
        const cmboot_control_step *s = cmboot_control_step_at(fc->ctl, i);
        if (!check_added && i == fc->normal_after) { /* in time order */
            json_object_array_add(arr, step_json("normal-check", fc->normal_detail, fc->normal_start_ms - fc->t0,
                                                 fc->normal_ms, fc->normal_rc));
            check_added = true;
        }
        json_object_array_add(arr, step_json(s->name, s->detail, s->start_ms - fc->t0, s->duration_ms, s->result));
    }
    if (!check_added)
        json_object_array_add(arr, step_json("normal-check", fc->normal_detail, fc->normal_start_ms - fc->t0,
                                             fc->normal_ms, fc->normal_rc));
    json_object_object_add(o, "control", arr);
    char *text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return text;
}

int flash_cycle_exit(int rc)
{
    switch (rc) {
    case CMBOOT_OK: return EXIT_OK;
    case CMBOOT_ERR_CANCELLED: return EXIT_CANCELLED;
    case CMBOOT_ERR_NOT_FOUND:
    case CMBOOT_ERR_ACCESS:
    case CMBOOT_ERR_BUSY:
    case CMBOOT_ERR_UNSUPPORTED: return EXIT_HOST;
    default: return EXIT_FAILURE_BOARD;
    }
}

int flash_cycle_check(const char *prog, const cmboot_control_config *cfg)
{
    /* A bad spec is explained by the control object's log: a context that prints errors. */
    cli_output out;
    cli_output_init(&out, false, 0);
    cmboot_ctx_config ccfg;
    cmboot_ctx_config_default(&ccfg);
    ccfg.log = cli_log_cb;
    ccfg.user = &out;
    ccfg.log_level = CMBOOT_LOG_ERROR;
    cmboot_ctx *ctx = NULL;
    if (cmboot_ctx_new(&ccfg, &ctx) < 0)
        return EXIT_HOST;
    cmboot_control_config c = *cfg;
    c.ctx = ctx;
    cmboot_control *ctl = NULL;
    int rc = cmboot_control_new(&c, &ctl);
    int ec = EXIT_OK;
    if (rc != CMBOOT_OK) {
        fprintf(stderr, "%s: board control%s%s: %s\n", prog, cfg->device_id ? " of port " : "",
                cfg->device_id ? cfg->device_id : "", cmboot_strerror(rc));
        ec = EXIT_USAGE;
    } else if (!cmboot_control_can_power(ctl) || !cmboot_control_can_boot_mode(ctl)) {
        fprintf(stderr,
                "%s: the flash cycle%s%s needs a power switch (--power-gpio, --reset-gpio, --power-hub or "
                "--power-cmd) and a boot-mode switch (--boot-gpio or --boot-mode-cmd)\n",
                prog, cfg->device_id ? " of port " : "", cfg->device_id ? cfg->device_id : "");
        ec = EXIT_USAGE;
    }
    cmboot_control_free(ctl);
    cmboot_ctx_free(ctx);
    return ec;
}
