/* Second-stage scripts: step list, builders, per-SoC defaults and the one-step-per-line text format. */
#include "model/sim_script.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmboot/error.h"

static const char *const fault_names[SIM_FAULT_COUNT] = {
    [SIM_FAULT_NONE] = "none",
    [SIM_FAULT_VANISH] = "vanish",
    [SIM_FAULT_STALL] = "stall",
    [SIM_FAULT_DELAY] = "delay",
    [SIM_FAULT_GARBAGE] = "garbage",
    [SIM_FAULT_SHORT] = "short",
    [SIM_FAULT_UNKNOWN_COMMAND] = "unknown-command",
    [SIM_FAULT_UNTERMINATED] = "unterminated",
    [SIM_FAULT_OVERLONG] = "overlong",
    [SIM_FAULT_VANISH_AFTER_BYTES] = "vanish-after-bytes",
    [SIM_FAULT_STALL_BULK] = "stall-bulk",
    [SIM_FAULT_LONG] = "long",
};

const char *sim_fault_name(sim_fault_kind kind)
{
    if ((int)kind < 0 || kind >= SIM_FAULT_COUNT)
        return "?";
    return fault_names[kind];
}

sim_fault_kind sim_fault_by_name(const char *name)
{
    for (int k = 1; k < SIM_FAULT_COUNT; k++)
        if (strcmp(name, fault_names[k]) == 0)
            return (sim_fault_kind)k;
    if (strcmp(name, "over-long") == 0)
        return SIM_FAULT_OVERLONG;
    return SIM_FAULT_NONE;
}

void sim_name_printable(const uint8_t *name, size_t len, char *out, size_t out_size)
{
    size_t o = 0;
    if (out_size == 0)
        return;
    for (size_t i = 0; i < len && o + 1 < out_size; i++) {
        uint8_t c = name[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            if (o + 5 >= out_size)
                break;
            o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", c);
        }
    }
    out[o] = 0;
}

void sim_script_init(sim_script *s)
{
    memset(s, 0, sizeof *s);
    s->rom_reject_status = 1;
}

void sim_script_free(sim_script *s)
{
    free(s->steps);
    sim_script_init(s);
}

int sim_script_copy(sim_script *dst, const sim_script *src)
{
    sim_script_init(dst);
    *dst = *src;
    dst->steps = NULL;
    dst->count = dst->cap = 0;
    if (src->count) {
        dst->steps = malloc(src->count * sizeof *dst->steps);
        if (!dst->steps)
            return CMBOOT_ERR_NO_MEMORY;
        memcpy(dst->steps, src->steps, src->count * sizeof *dst->steps);
        dst->count = dst->cap = src->count;
    }
    return CMBOOT_OK;
}

int sim_script_add(sim_script *s, const sim_step *step)
{
    if (step->name_len > SIM_NAME_FIELD)
        return CMBOOT_ERR_INVALID_ARG;
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        sim_step *n = realloc(s->steps, cap * sizeof *n);
        if (!n)
            return CMBOOT_ERR_NO_MEMORY;
        s->steps = n;
        s->cap = cap;
    }
    s->steps[s->count++] = *step;
    return CMBOOT_OK;
}

static void step_init(sim_step *st, sim_step_kind kind)
{
    memset(st, 0, sizeof *st);
    st->kind = kind;
    st->expect_size = -1;
}

static int step_set_name(sim_step *st, const void *name, size_t len)
{
    if (len > SIM_NAME_FIELD)
        return CMBOOT_ERR_TOO_LARGE;
    memcpy(st->name, name, len);
    st->name_len = len;
    return CMBOOT_OK;
}

int sim_script_add_get(sim_script *s, const char *name, bool must_exist)
{
    sim_step st;
    step_init(&st, SIM_STEP_GET);
    if (step_set_name(&st, name, strlen(name)) != CMBOOT_OK)
        return CMBOOT_ERR_TOO_LARGE;
    st.must_exist = must_exist;
    return sim_script_add(s, &st);
}

int sim_script_add_meta(sim_script *s, const char *key, const char *value)
{
    sim_step st;
    char buf[SIM_NAME_FIELD + 8];
    int n = snprintf(buf, sizeof buf, "*%s*%s", key, value);
    if (n < 0 || (size_t)n >= SIM_NAME_FIELD)
        return CMBOOT_ERR_TOO_LARGE;
    step_init(&st, SIM_STEP_META);
    step_set_name(&st, buf, (size_t)n);
    return sim_script_add(s, &st);
}

int sim_script_add_meta_name(sim_script *s, const char *name)
{
    sim_step st;
    size_t n = strlen(name);
    if (name[0] != '*' || n >= SIM_NAME_FIELD)
        return CMBOOT_ERR_INVALID_ARG;
    step_init(&st, SIM_STEP_META);
    step_set_name(&st, name, n);
    return sim_script_add(s, &st);
}

int sim_script_add_raw(sim_script *s, int32_t command, const void *name, size_t name_len)
{
    sim_step st;
    step_init(&st, SIM_STEP_RAW);
    st.command = command;
    if (step_set_name(&st, name, name_len) != CMBOOT_OK)
        return CMBOOT_ERR_TOO_LARGE;
    return sim_script_add(s, &st);
}

int sim_script_add_done(sim_script *s)
{
    sim_step st;
    step_init(&st, SIM_STEP_DONE);
    return sim_script_add(s, &st);
}

int sim_script_add_empty(sim_script *s)
{
    sim_step st;
    step_init(&st, SIM_STEP_EMPTY);
    return sim_script_add(s, &st);
}

int sim_script_fault_last(sim_script *s, sim_fault_kind kind, uint64_t arg)
{
    if (s->count == 0 || kind <= SIM_FAULT_NONE || kind >= SIM_FAULT_COUNT)
        return CMBOOT_ERR_INVALID_ARG;
    s->steps[s->count - 1].fault.kind = kind;
    s->steps[s->count - 1].fault.arg = arg;
    return CMBOOT_OK;
}

int sim_script_default(sim_script *s, cmboot_soc_id soc)
{
    /* Absent files ("?" in protocol.md) are ordinary GET steps: the host answers size 0 and we move on. */
    static const char *const legacy[] = {"autoboot.txt", "config.txt",   "recovery.elf", "start.elf",
                                         "fixup.dat",    "recovery.elf", "config.txt"};
    static const char *const modern[] = {"mcb.bin",      "memsys00.bin", "memsys01.bin", "memsys02.bin",
                                         "memsys03.bin", "bootmain",     "config.txt"};
    int rc = CMBOOT_OK;
    sim_script_init(s);
    if (soc == CMBOOT_SOC_BCM2835 || soc == CMBOOT_SOC_BCM2837) {
        for (size_t i = 0; i < sizeof legacy / sizeof legacy[0] && rc == CMBOOT_OK; i++)
            rc = sim_script_add_get(s, legacy[i], strcmp(legacy[i], "start.elf") == 0);
        if (rc == CMBOOT_OK)
            rc = sim_script_add_done(s);
    } else if (soc == CMBOOT_SOC_BCM2711 || soc == CMBOOT_SOC_BCM2712) {
        for (size_t i = 0; i < sizeof modern / sizeof modern[0] && rc == CMBOOT_OK; i++)
            rc = sim_script_add_get(s, modern[i], false);
        if (rc == CMBOOT_OK)
            rc = sim_script_add_get(s, "boot.img", true);
        if (rc == CMBOOT_OK)
            rc = sim_script_add_meta(s, "MAC_ADDR", "d8:3a:dd:05:ee:78");
        if (rc == CMBOOT_OK)
            rc = sim_script_add_meta(s, "BOOT_ROM", soc == CMBOOT_SOC_BCM2711 ? "0000001a" : "00000029");
        if (rc == CMBOOT_OK)
            rc = sim_script_add_meta(s, "USER_BOARDREV", soc == CMBOOT_SOC_BCM2711 ? "b03141" : "c04180");
        if (rc == CMBOOT_OK)
            rc = sim_script_add_meta(s, "JTAG_LOCKED", "0");
        if (rc == CMBOOT_OK)
            rc = sim_script_add_empty(s);
    } else {
        return CMBOOT_ERR_INVALID_ARG;
    }
    if (rc != CMBOOT_OK)
        sim_script_free(s);
    return rc;
}

/* ---- text format ---- */

/* The format attribute lets -Wformat-nonliteral (clang, -Wformat=2) check the callers' literals instead. */
__attribute__((format(printf, 4, 5))) static int perr(char *err, size_t err_size, unsigned line, const char *fmt, ...)
{
    if (err && err_size) {
        int n = snprintf(err, err_size, "line %u: ", line);
        if (n >= 0 && (size_t)n < err_size) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, err_size - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return CMBOOT_ERR_FORMAT;
}

/* Decodes \xNN \\ \t \n \r \0 escapes; "" alone is the empty name. Returns length or -1. */
static long decode_name(const char *tok, uint8_t *out, size_t cap)
{
    size_t o = 0;
    if (strcmp(tok, "\"\"") == 0)
        return 0;
    for (const char *p = tok; *p; p++) {
        uint8_t c = (uint8_t)*p;
        if (c == '\\') {
            p++;
            switch (*p) {
            case '\\': c = '\\'; break;
            case 't': c = '\t'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case '0': c = 0; break;
            case 's': c = ' '; break;
            case 'x':
                if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
                    return -1;
                {
                    char hex[3] = {p[1], p[2], 0};
                    c = (uint8_t)strtoul(hex, NULL, 16);
                }
                p += 2;
                break;
            default: return -1;
            }
        }
        if (o >= cap)
            return -1;
        out[o++] = c;
    }
    return (long)o;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_hex32(const char *s, uint8_t out[32])
{
    if (strlen(s) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        char hex[3] = {s[2 * i], s[2 * i + 1], 0};
        if (!isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1]))
            return -1;
        out[i] = (uint8_t)strtoul(hex, NULL, 16);
    }
    return 0;
}

/* "KIND" or "KIND:ARG" / "KIND=ARG" (inline) / "KIND ARG" (fault line). */
static int parse_fault(const char *kind, const char *arg, sim_fault *out)
{
    char name[40];
    const char *colon = strpbrk(kind, ":=");
    size_t n = colon ? (size_t)(colon - kind) : strlen(kind);
    if (n >= sizeof name)
        return -1;
    memcpy(name, kind, n);
    name[n] = 0;
    if (colon)
        arg = colon + 1;
    out->kind = sim_fault_by_name(name);
    out->arg = 0;
    if (out->kind == SIM_FAULT_NONE)
        return -1;
    if (arg && parse_u64(arg, &out->arg) != 0)
        return -1;
    bool needs_arg = out->kind == SIM_FAULT_DELAY || out->kind == SIM_FAULT_VANISH_AFTER_BYTES;
    if (needs_arg && !arg)
        return -1;
    if (out->kind == SIM_FAULT_SHORT && !arg)
        out->arg = SIM_SHORT_TO_NAME;
    if (out->kind == SIM_FAULT_UNKNOWN_COMMAND && !arg)
        out->arg = 7;
    return 0;
}

int sim_fault_parse(const char *text, sim_fault *out)
{
    return parse_fault(text, NULL, out) == 0 ? CMBOOT_OK : CMBOOT_ERR_FORMAT;
}

#define MAX_TOKENS 16

static int parse_line(sim_script *s, char *line, unsigned lineno, char *err, size_t err_size)
{
    char *tok[MAX_TOKENS];
    int nt = 0;
    char *p = line;
    while (*p && nt < MAX_TOKENS) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            break;
        tok[nt] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = 0;
        nt++;
    }
    if (nt == 0)
        return CMBOOT_OK;
    if (nt == MAX_TOKENS)
        return perr(err, err_size, lineno, "too many words");

    const char *cmd = tok[0];
    sim_step st;
    if (strcmp(cmd, "get") == 0 || strcmp(cmd, "read") == 0) {
        if (nt < 2)
            return perr(err, err_size, lineno, "%s needs a file name", cmd);
        step_init(&st, cmd[0] == 'g' ? SIM_STEP_GET : SIM_STEP_READ);
        size_t tl = strlen(tok[1]);
        if (tl > 1 && tok[1][tl - 1] == '?')
            tok[1][tl - 1] = 0; /* "may be absent": the default anyway */
        long n = decode_name(tok[1], st.name, sizeof st.name);
        if (n < 0)
            return perr(err, err_size, lineno, "bad file name escape or name too long");
        st.name_len = (size_t)n;
        for (int i = 2; i < nt; i++) {
            const char *o = tok[i];
            uint64_t v;
            if (strcmp(o, "must-exist") == 0) {
                st.must_exist = true;
            } else if (strcmp(o, "absent") == 0) {
                st.must_be_absent = true;
            } else if (strncmp(o, "expect-size=", 12) == 0) {
                if (parse_u64(o + 12, &v) != 0 || v > INT64_MAX)
                    return perr(err, err_size, lineno, "bad size in %s", o);
                st.expect_size = (int64_t)v;
            } else if (strncmp(o, "expect-sha256=", 14) == 0) {
                if (parse_hex32(o + 14, st.sha256) != 0)
                    return perr(err, err_size, lineno, "expect-sha256 needs 64 hex digits");
                st.expect_sha = true;
            } else if (strncmp(o, "fault=", 6) == 0) {
                if (parse_fault(o + 6, NULL, &st.fault) != 0)
                    return perr(err, err_size, lineno, "bad fault %s", o + 6);
            } else {
                return perr(err, err_size, lineno, "unknown option %s", o);
            }
        }
        if (st.must_exist && st.must_be_absent)
            return perr(err, err_size, lineno, "must-exist and absent exclude each other");
    } else if (strcmp(cmd, "meta-bare") == 0) {
        /* "*KEY": no second '*', no value */
        char name[SIM_NAME_FIELD + 2];
        if (nt != 2)
            return perr(err, err_size, lineno, "meta-bare needs KEY");
        int w = snprintf(name, sizeof name, "*%s", tok[1]);
        if (w < 0 || (size_t)w >= SIM_NAME_FIELD || sim_script_add_meta_name(s, name) != CMBOOT_OK)
            return perr(err, err_size, lineno, "metadata longer than 255 bytes");
        return CMBOOT_OK;
    } else if (strcmp(cmd, "meta") == 0) {
        if (nt < 2)
            return perr(err, err_size, lineno, "meta needs KEY [VALUE]");
        /* VALUE is the rest of the line, tokens re-joined with single spaces. */
        char value[SIM_NAME_FIELD * 2] = ""; /* "meta KEY" alone: "*KEY*", no value */
        size_t vl = 0;
        for (int i = 2; i < nt; i++) {
            int w = snprintf(value + vl, sizeof value - vl, "%s%s", i > 2 ? " " : "", tok[i]);
            if (w < 0 || (size_t)w >= sizeof value - vl)
                return perr(err, err_size, lineno, "metadata too long");
            vl += (size_t)w;
        }
        uint8_t dec[SIM_NAME_FIELD];
        long dl = decode_name(value, dec, sizeof dec - 1);
        if (dl < 0)
            return perr(err, err_size, lineno, "bad escape in metadata");
        dec[dl] = 0;
        if (sim_script_add_meta(s, tok[1], (const char *)dec) != CMBOOT_OK)
            return perr(err, err_size, lineno, "metadata longer than 255 bytes");
        return CMBOOT_OK;
    } else if (strcmp(cmd, "raw") == 0) {
        if (nt != 3)
            return perr(err, err_size, lineno, "raw needs COMMAND NAME (use \"\" for an empty name)");
        char *end;
        errno = 0;
        long c = strtol(tok[1], &end, 0);
        if (errno || *end || c < INT32_MIN || c > INT32_MAX)
            return perr(err, err_size, lineno, "bad command %s", tok[1]);
        step_init(&st, SIM_STEP_RAW);
        st.command = (int32_t)c;
        long n = decode_name(tok[2], st.name, sizeof st.name);
        if (n < 0)
            return perr(err, err_size, lineno, "bad name escape or name longer than 256 bytes");
        st.name_len = (size_t)n;
    } else if (strcmp(cmd, "done") == 0 || strcmp(cmd, "empty") == 0) {
        if (nt != 1)
            return perr(err, err_size, lineno, "%s takes no argument", cmd);
        step_init(&st, cmd[0] == 'd' ? SIM_STEP_DONE : SIM_STEP_EMPTY);
    } else if (strcmp(cmd, "fault") == 0 || strcmp(cmd, "rom-fault") == 0) {
        sim_fault f;
        if (nt < 2 || nt > 3 || parse_fault(tok[1], nt == 3 ? tok[2] : NULL, &f) != 0)
            return perr(err, err_size, lineno,
                        "bad fault (kinds: vanish stall delay MS garbage short [N] "
                        "long unknown-command [N] unterminated overlong "
                        "vanish-after-bytes N stall-bulk)");
        if (cmd[0] == 'r') {
            s->rom_fault = f;
        } else {
            if (s->count == 0)
                return perr(err, err_size, lineno, "fault applies to the step before it; there is none");
            s->steps[s->count - 1].fault = f;
        }
        return CMBOOT_OK;
    } else if (strcmp(cmd, "rom-reject") == 0) {
        s->rom_reject = true;
        if (nt == 2) {
            char *end;
            errno = 0;
            long c = strtol(tok[1], &end, 0);
            if (errno || *end || c == 0 || c < INT32_MIN || c > INT32_MAX)
                return perr(err, err_size, lineno, "rom-reject status must be a non-zero int32");
            s->rom_reject_status = (int32_t)c;
        } else if (nt > 2) {
            return perr(err, err_size, lineno, "rom-reject takes at most one status");
        }
        return CMBOOT_OK;
    } else {
        return perr(err, err_size, lineno, "unknown step '%s'", cmd);
    }
    if (sim_script_add(s, &st) != CMBOOT_OK)
        return CMBOOT_ERR_NO_MEMORY;
    return CMBOOT_OK;
}

int sim_script_parse(sim_script *s, const char *text, char *err, size_t err_size)
{
    sim_script_init(s);
    unsigned lineno = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[1024];
        lineno++;
        if (len >= sizeof line) {
            sim_script_free(s);
            return perr(err, err_size, lineno, "line too long");
        }
        memcpy(line, p, len);
        line[len] = 0;
        if (len && line[len - 1] == '\r')
            line[len - 1] = 0;
        int rc = parse_line(s, line, lineno, err, err_size);
        if (rc != CMBOOT_OK) {
            sim_script_free(s);
            return rc;
        }
        p += len;
        if (*p == '\n')
            p++;
    }
    return CMBOOT_OK;
}

int sim_script_load(sim_script *s, const char *path, char *err, size_t err_size)
{
    sim_script_init(s);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (err && err_size)
            snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return errno == ENOENT ? CMBOOT_ERR_NOT_FOUND : CMBOOT_ERR_IO;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = CMBOOT_OK;
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            if (cap >= (1u << 20)) { /* a script is small; bound it */
                rc = CMBOOT_ERR_TOO_LARGE;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int ferr = ferror(f);
    fclose(f);
    if (!buf)
        return CMBOOT_ERR_NO_MEMORY;
    if (rc == CMBOOT_OK && ferr)
        rc = CMBOOT_ERR_IO;
    if (rc == CMBOOT_OK) {
        buf[len] = 0;
        rc = sim_script_parse(s, buf, err, err_size);
    } else if (err && err_size) {
        snprintf(err, err_size, "%s: %s", path, cmboot_strerror(rc));
    }
    free(buf);
    return rc;
}
