/* Parsers for control specs ("gpiochip0:5=low", "1-1.2:3") and the word splitting of hooks and the map file. */
#include <stdio.h>
#include <string.h>

#include "cmboot/device.h"
#include "cmboot/error.h"
#include "control_internal.h"

int cmb_gpio_spec_parse(const char *s, bool default_active_low, cmb_gpio_spec *out)
{
    if (!s || !out)
        return CMBOOT_ERR_INVALID_ARG;
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof out->chip)
        return CMBOOT_ERR_INVALID_ARG;
    out->active_low = default_active_low;
    const char *eq = strrchr(s, '=');
    if (eq) {
        if (strcmp(eq + 1, "low") == 0)
            out->active_low = true;
        else if (strcmp(eq + 1, "high") == 0)
            out->active_low = false;
        else
            return CMBOOT_ERR_INVALID_ARG;
        n = (size_t)(eq - s);
    }
    /* The last ':' splits: a chip path or label may hold one, a line name may not. */
    const char *colon = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ':')
            colon = s + i;
    if (!colon || colon == s || (size_t)(colon - s) + 1 >= n)
        return CMBOOT_ERR_INVALID_ARG;
    size_t chip_len = (size_t)(colon - s), line_len = n - chip_len - 1;
    if (line_len >= sizeof out->line)
        return CMBOOT_ERR_INVALID_ARG;
    memcpy(out->chip, s, chip_len);
    out->chip[chip_len] = '\0';
    memcpy(out->line, colon + 1, line_len);
    out->line[line_len] = '\0';
    if (strchr(out->line, '='))
        return CMBOOT_ERR_INVALID_ARG;
    return CMBOOT_OK;
}

int cmb_hub_spec_parse(const char *s, cmb_hub_spec *out)
{
    if (!s || !out)
        return CMBOOT_ERR_INVALID_ARG;
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof out->path)
        return CMBOOT_ERR_INVALID_ARG;
    memcpy(out->path, s, (size_t)(colon - s));
    out->path[colon - s] = '\0';
    if (!cmboot_port_path_valid(out->path))
        return CMBOOT_ERR_INVALID_ARG;
    unsigned port = 0;
    const char *p = colon + 1;
    if (!*p || *p == '0')
        return CMBOOT_ERR_INVALID_ARG;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || port > 25)
            return CMBOOT_ERR_INVALID_ARG;
        port = port * 10 + (unsigned)(*p - '0');
    }
    if (port < 1 || port > 255)
        return CMBOOT_ERR_INVALID_ARG;
    out->port = port;
    return CMBOOT_OK;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int cmb_split_words(const char *s, size_t len, char *buf, size_t bufsize, char **words, size_t max_words,
                    size_t *nwords)
{
    size_t i = 0, o = 0, n = 0;
    *nwords = 0;
    for (;;) {
        while (i < len && blank(s[i]))
            i++;
        if (i >= len || s[i] == '\0')
            break;
        if (n >= max_words)
            return CMBOOT_ERR_TOO_LARGE;
        words[n++] = buf + o;
        while (i < len && s[i] != '\0' && !blank(s[i])) {
            if (s[i] == '\'' || s[i] == '"') {
                char q = s[i++];
                while (i < len && s[i] != q && s[i] != '\0') {
                    if (o + 1 >= bufsize)
                        return CMBOOT_ERR_TOO_LARGE;
                    buf[o++] = s[i++];
                }
                if (i >= len || s[i] != q)
                    return CMBOOT_ERR_FORMAT;
                i++;
                continue;
            }
            if (o + 1 >= bufsize)
                return CMBOOT_ERR_TOO_LARGE;
            buf[o++] = s[i++];
        }
        if (o >= bufsize)
            return CMBOOT_ERR_TOO_LARGE;
        buf[o++] = '\0';
    }
    *nwords = n;
    return CMBOOT_OK;
}

/* The placeholder in w: "{}" or "{x|y...}" (letters and '|'); its offset and length, or false. */
static bool find_placeholder(const char *w, size_t *at, size_t *len)
{
    for (const char *o = strchr(w, '{'); o; o = strchr(o + 1, '{')) {
        const char *c = o + 1;
        while ((*c >= 'a' && *c <= 'z') || *c == '|')
            c++;
        if (*c == '}' && (c == o + 1 || strchr(o, '|') < c)) {
            *at = (size_t)(o - w);
            *len = (size_t)(c - o) + 1;
            return true;
        }
    }
    return false;
}

/* dst = src with its placeholder replaced by action (at most one). */
static int substitute(const char *src, const char *action, char *dst, size_t size, bool *replaced)
{
    size_t at, len, n;
    *replaced = find_placeholder(src, &at, &len);
    if (*replaced)
        n = (size_t)snprintf(dst, size, "%.*s%s%s", (int)at, src, action, src + at + len);
    else
        n = (size_t)snprintf(dst, size, "%s", src);
    return n >= size ? CMBOOT_ERR_TOO_LARGE : CMBOOT_OK;
}

int cmb_hook_argv(const char *cmd, const char *action, bool shell, char *buf, size_t bufsize, char **argv,
                  size_t max_args)
{
    if (!cmd || !action || max_args < 4)
        return CMBOOT_ERR_INVALID_ARG;
    bool replaced = false;
    if (shell) {
        static const char sh[] = "/bin/sh\0-c";
        if (bufsize < sizeof sh)
            return CMBOOT_ERR_TOO_LARGE;
        memcpy(buf, sh, sizeof sh);
        char *line = buf + sizeof sh;
        int rc = substitute(cmd, action, line, bufsize - sizeof sh, &replaced);
        if (rc != CMBOOT_OK)
            return rc;
        if (!replaced) {
            size_t l = strlen(line);
            if (l + 1 + strlen(action) + 1 > bufsize - sizeof sh)
                return CMBOOT_ERR_TOO_LARGE;
            line[l] = ' ';
            strcpy(line + l + 1, action);
        }
        argv[0] = buf;
        argv[1] = buf + 8;
        argv[2] = line;
        argv[3] = NULL;
        return CMBOOT_OK;
    }
    char words[CMB_SPEC_MAX * 2];
    char *w[CMB_HOOK_MAX_ARGS];
    size_t n = 0;
    int rc = cmb_split_words(cmd, strlen(cmd), words, sizeof words, w, CMB_HOOK_MAX_ARGS, &n);
    if (rc != CMBOOT_OK)
        return rc;
    if (n == 0)
        return CMBOOT_ERR_INVALID_ARG;
    size_t o = 0, k = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (k + 2 >= max_args)
            return CMBOOT_ERR_TOO_LARGE;
        if (o >= bufsize)
            return CMBOOT_ERR_TOO_LARGE;
        if (!any) { /* only the first placeholder is the action */
            rc = substitute(w[i], action, buf + o, bufsize - o, &replaced);
            if (rc != CMBOOT_OK)
                return rc;
            any = replaced;
        } else if ((size_t)snprintf(buf + o, bufsize - o, "%s", w[i]) >= bufsize - o) {
            return CMBOOT_ERR_TOO_LARGE;
        }
        argv[k++] = buf + o;
        o += strlen(buf + o) + 1;
    }
    if (!any) {
        if (k + 2 >= max_args || o + strlen(action) + 1 > bufsize)
            return CMBOOT_ERR_TOO_LARGE;
        strcpy(buf + o, action);
        argv[k++] = buf + o;
    }
    argv[k] = NULL;
    return CMBOOT_OK;
}
