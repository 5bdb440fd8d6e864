/* The control map file: per board port, which lines, hub port or hooks control it (bounded, hostile input). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/control.h"
#include "cmboot/device.h"
#include "cmboot/error.h"
#include "control_internal.h"
#include "core/abi.h"
#include "core/error_map.h"

#define MAP_MAX_BYTES (1u << 20)
#define MAP_MAX_LINE 4096
#define MAP_MAX_PORTS 1024

enum { K_BOOT_GPIO, K_POWER_GPIO, K_RESET_GPIO, K_POWER_HUB, K_POWER_CMD, K_BOOT_MODE_CMD, K_COUNT };
static const char *const key_names[K_COUNT] = {"boot-gpio", "power-gpio", "reset-gpio",
                                               "power-hub", "power-cmd",  "boot-mode-cmd"};

typedef struct map_entry {
    char port[64];
    char *val[K_COUNT];
    bool shell;
    unsigned timeout_ms; /* 0 = default */
} map_entry;

struct cmboot_control_map {
    map_entry *e;
    size_t n;
};

static int fail(char *err, size_t size, int rc, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t size, int rc, unsigned line, const char *fmt, ...)
{
    if (err && size) {
        int o = line ? snprintf(err, size, "line %u: ", line) : 0;
        if (o >= 0 && (size_t)o < size) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + o, size - (size_t)o, fmt, ap);
            va_end(ap);
        }
    }
    return rc;
}

void cmboot_control_map_free(cmboot_control_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        for (int k = 0; k < K_COUNT; k++)
            free(m->e[i].val[k]);
    free(m->e);
    free(m);
}

/* Checks one word "key=value" into e. */
static int set_key(map_entry *e, const char *w, unsigned ln, char *err, size_t size)
{
    const char *eq = strchr(w, '=');
    if (!eq || eq == w)
        return fail(err, size, CMBOOT_ERR_FORMAT, ln, "expected KEY=VALUE, got '%.64s'", w);
    size_t kl = (size_t)(eq - w);
    const char *v = eq + 1;
    if (kl == 10 && strncmp(w, "hook-shell", kl) == 0) {
        if (strcmp(v, "yes") && strcmp(v, "no"))
            return fail(err, size, CMBOOT_ERR_FORMAT, ln, "hook-shell is yes or no");
        e->shell = strcmp(v, "yes") == 0;
        return CMBOOT_OK;
    }
    if (kl == 12 && strncmp(w, "hook-timeout", kl) == 0) {
        unsigned s = 0;
        for (const char *p = v; *p; p++) {
            if (*p < '0' || *p > '9' || s > 360)
                return fail(err, size, CMBOOT_ERR_FORMAT, ln, "hook-timeout is whole seconds, 1 to 3600");
            s = s * 10 + (unsigned)(*p - '0');
        }
        if (s < 1 || s > 3600)
            return fail(err, size, CMBOOT_ERR_FORMAT, ln, "hook-timeout is whole seconds, 1 to 3600");
        e->timeout_ms = s * 1000;
        return CMBOOT_OK;
    }
    for (int k = 0; k < K_COUNT; k++) {
        if (strlen(key_names[k]) != kl || strncmp(w, key_names[k], kl) != 0)
            continue;
        if (e->val[k])
            return fail(err, size, CMBOOT_ERR_FORMAT, ln, "%s given twice", key_names[k]);
        if (!*v || strlen(v) >= CMB_SPEC_MAX)
            return fail(err, size, CMBOOT_ERR_FORMAT, ln, "%s: empty or too long", key_names[k]);
        cmb_gpio_spec gs;
        cmb_hub_spec hs;
        if (k <= K_RESET_GPIO && cmb_gpio_spec_parse(v, false, &gs) != CMBOOT_OK)
            return fail(err, size, CMBOOT_ERR_FORMAT, ln, "%s: expected CHIP:LINE[=high|low]", key_names[k]);
        if (k == K_POWER_HUB && cmb_hub_spec_parse(v, &hs) != CMBOOT_OK)
            return fail(err, size, CMBOOT_ERR_FORMAT, ln, "power-hub: expected HUBPATH:PORT");
        e->val[k] = strdup(v);
        return e->val[k] ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
    }
    return fail(err, size, CMBOOT_ERR_FORMAT, ln, "unknown key '%.*s'", (int)(kl < 64 ? kl : 64), w);
}

static int parse_line(cmboot_control_map *m, const char *s, size_t len, unsigned ln, char *err, size_t size)
{
    char buf[MAP_MAX_LINE + 1];
    char *w[16];
    size_t n = 0;
    int rc = cmb_split_words(s, len, buf, sizeof buf, w, sizeof w / sizeof w[0], &n);
    if (rc == CMBOOT_ERR_FORMAT)
        return fail(err, size, rc, ln, "unterminated quote");
    if (rc != CMBOOT_OK)
        return fail(err, size, CMBOOT_ERR_FORMAT, ln, "too many words");
    if (n == 0)
        return CMBOOT_OK;
    if (strlen(w[0]) >= sizeof m->e[0].port || !cmboot_port_path_valid(w[0]))
        return fail(err, size, CMBOOT_ERR_FORMAT, ln, "'%.64s' is no port path (like 1-1.2)", w[0]);
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->e[i].port, w[0]) == 0)
            return fail(err, size, CMBOOT_ERR_FORMAT, ln, "port %s given twice", w[0]);
    if (m->n == MAP_MAX_PORTS)
        return fail(err, size, CMBOOT_ERR_TOO_LARGE, ln, "more than %d ports", MAP_MAX_PORTS);
    map_entry *grown = realloc(m->e, (m->n + 1) * sizeof *grown);
    if (!grown)
        return CMBOOT_ERR_NO_MEMORY;
    m->e = grown;
    map_entry *e = &m->e[m->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->port, sizeof e->port, "%s", w[0]);
    for (size_t i = 1; i < n; i++) {
        rc = set_key(e, w[i], ln, err, size);
        if (rc != CMBOOT_OK)
            return rc;
    }
    int boots = !!e->val[K_BOOT_GPIO] + !!e->val[K_BOOT_MODE_CMD];
    int powers = !!e->val[K_POWER_GPIO] + !!e->val[K_RESET_GPIO] + !!e->val[K_POWER_HUB] + !!e->val[K_POWER_CMD];
    if (boots > 1 || powers > 1)
        return fail(err, size, CMBOOT_ERR_FORMAT, ln, "port %s: one way to set the boot mode and one for power", w[0]);
    if (boots + powers == 0)
        return fail(err, size, CMBOOT_ERR_FORMAT, ln, "port %s: nothing to control", w[0]);
    /* Hook commands are split as they will be run (a quote inside a quoted value, hook-shell given later). */
    static const int hooks[] = {K_POWER_CMD, K_BOOT_MODE_CMD};
    for (size_t i = 0; i < 2; i++) {
        char hb[CMB_SPEC_MAX * 3];
        char *argv[CMB_HOOK_MAX_ARGS + 4];
        const char *v = e->val[hooks[i]];
        if (v && cmb_hook_argv(v, "normal", e->shell, hb, sizeof hb, argv, CMB_HOOK_MAX_ARGS + 4) != CMBOOT_OK)
            return fail(err, size, CMBOOT_ERR_FORMAT, ln, "%s: unterminated quote, no command or too many words",
                        key_names[hooks[i]]);
    }
    return CMBOOT_OK;
}

int cmboot_control_map_parse(const char *text, size_t len, cmboot_control_map **out, char *err, size_t err_size)
{
    if (err && err_size)
        err[0] = '\0';
    if (!out || (!text && len))
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    if (len > MAP_MAX_BYTES)
        return fail(err, err_size, CMBOOT_ERR_TOO_LARGE, 0, "larger than %u bytes", MAP_MAX_BYTES);
    cmboot_control_map *m = calloc(1, sizeof *m);
    if (!m)
        return CMBOOT_ERR_NO_MEMORY;
    size_t i = 0;
    unsigned ln = 0;
    while (i < len) {
        ln++;
        size_t end = i;
        while (end < len && text[end] != '\n')
            end++;
        size_t l = end - i;
        if (l > MAP_MAX_LINE) {
            cmboot_control_map_free(m);
            return fail(err, err_size, CMBOOT_ERR_TOO_LARGE, ln, "longer than %u bytes", MAP_MAX_LINE);
        }
        /* A '#' outside quotes starts a comment. */
        size_t cut = l;
        char q = 0;
        for (size_t k = 0; k < l; k++) {
            char ch = text[i + k];
            if (ch == '\0') {
                cmboot_control_map_free(m);
                return fail(err, err_size, CMBOOT_ERR_FORMAT, ln, "NUL byte");
            }
            if (q) {
                if (ch == q)
                    q = 0;
            } else if (ch == '\'' || ch == '"') {
                q = ch;
            } else if (ch == '#') {
                cut = k;
                break;
            }
        }
        int rc = parse_line(m, text + i, cut, ln, err, err_size);
        if (rc != CMBOOT_OK) {
            cmboot_control_map_free(m);
            return rc;
        }
        i = end + 1;
    }
    *out = m;
    return CMBOOT_OK;
}

int cmboot_control_map_load(const char *path, cmboot_control_map **out, char *err, size_t err_size)
{
    if (!path || !out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int rc = cmb_error_from_errno(errno);
        return fail(err, err_size, rc, 0, "%s: %s", path, cmboot_strerror(rc));
    }
    char *buf = malloc(MAP_MAX_BYTES + 1);
    if (!buf) {
        close(fd);
        return CMBOOT_ERR_NO_MEMORY;
    }
    size_t len = 0;
    int rc = CMBOOT_OK;
    for (;;) {
        ssize_t n = read(fd, buf + len, MAP_MAX_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cmb_error_from_errno(errno);
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > MAP_MAX_BYTES) {
            rc = CMBOOT_ERR_TOO_LARGE;
            break;
        }
    }
    close(fd);
    if (rc == CMBOOT_OK)
        rc = cmboot_control_map_parse(buf, len, out, err, err_size);
    else
        fail(err, err_size, rc, 0, "%s: %s", path, cmboot_strerror(rc));
    free(buf);
    return rc;
}

size_t cmboot_control_map_count(const cmboot_control_map *m)
{
    return m ? m->n : 0;
}

const char *cmboot_control_map_port(const cmboot_control_map *m, size_t i)
{
    return m && i < m->n ? m->e[i].port : NULL;
}

int cmboot_control_map_config(const cmboot_control_map *m, const char *port_path, cmboot_control_config *cfg)
{
    if (!m || !port_path || !cfg || cfg->struct_size < CMB_SIZE_THROUGH(cmboot_control_config, clock))
        return CMBOOT_ERR_INVALID_ARG;
    for (size_t i = 0; i < m->n; i++) {
        const map_entry *e = &m->e[i];
        if (strcmp(e->port, port_path) != 0)
            continue;
        cfg->boot_gpio = e->val[K_BOOT_GPIO];
        cfg->power_gpio = e->val[K_POWER_GPIO];
        cfg->reset_gpio = e->val[K_RESET_GPIO];
        cfg->power_hub = e->val[K_POWER_HUB];
        cfg->power_cmd = e->val[K_POWER_CMD];
        cfg->boot_mode_cmd = e->val[K_BOOT_MODE_CMD];
        cfg->hook_shell = e->shell;
        if (e->timeout_ms)
            cfg->hook_timeout_ms = e->timeout_ms;
        return CMBOOT_OK;
    }
    return CMBOOT_ERR_NOT_FOUND;
}
