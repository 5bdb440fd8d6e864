/* Fastboot client: commands on bulk OUT, replies on bulk IN, each bounded, checked and timed on the clock. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/fastboot.h"
#include "core/abi.h"
#include "core/clock.h"
#include "fastboot_internal.h"

#define REPLY_TIMEOUT_MS 5000u
#define LONG_TIMEOUT_MS 600000u
#define DATA_TIMEOUT_MS 10000u
/* INFO/TEXT lines one command may bring: a device that talks for ever is broken, not busy. */
#define MAX_MESSAGES 4096
/* Zero-length packets in a row during a fetch before the device counts as stuck. */
#define MAX_EMPTY_READS 64
/* Bytes per bulk transfer of a data phase. */
#define DATA_PIECE (1024u * 1024u)
#define OPTIONS_MIN CMB_SIZE_THROUGH(cmboot_fastboot_options, log_user)

struct cmboot_fastboot {
    cmboot_transport t;
    cmboot_fastboot_options o;
    uint32_t max_download; /* 0 until asked */
    char last_fail[CMBOOT_FASTBOOT_REPLY_MAX - 4 + 1];
};

static int hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cmb_fb_parse_reply(const uint8_t *buf, size_t len, cmb_fb_reply *out)
{
    if (!out || (!buf && len))
        return CMBOOT_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (len < 4 || len > CMBOOT_FASTBOOT_REPLY_MAX)
        return CMBOOT_ERR_PROTOCOL;
    static const struct {
        char tag[5];
        cmb_fb_kind kind;
    } tags[] = {{"OKAY", CMB_FB_OKAY},
                {"FAIL", CMB_FB_FAIL},
                {"INFO", CMB_FB_INFO},
                {"TEXT", CMB_FB_TEXT},
                {"DATA", CMB_FB_DATA}};
    size_t k = 0;
    while (k < sizeof tags / sizeof tags[0] && memcmp(buf, tags[k].tag, 4) != 0)
        k++;
    if (k == sizeof tags / sizeof tags[0])
        return CMBOOT_ERR_PROTOCOL;
    out->kind = tags[k].kind;
    if (out->kind == CMB_FB_DATA) {
        if (len != 12)
            return CMBOOT_ERR_PROTOCOL;
        uint32_t v = 0;
        for (size_t i = 4; i < 12; i++) {
            int d = hex_digit(buf[i]);
            if (d < 0)
                return CMBOOT_ERR_PROTOCOL;
            v = v << 4 | (uint32_t)d;
        }
        out->data_size = v;
        return CMBOOT_OK;
    }
    size_t n = 0;
    for (size_t i = 4; i < len && buf[i] != 0; i++)
        out->text[n++] = buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '?';
    out->text[n] = 0;
    return CMBOOT_OK;
}

int cmboot_fastboot_options_init(cmboot_fastboot_options *options, size_t struct_size)
{
    const cmboot_fastboot_options d = {.struct_size = sizeof d};
    return cmb_struct_init(options, struct_size, &d, sizeof d, OPTIONS_MIN);
}

int cmboot_fastboot_new(cmboot_transport t, const cmboot_fastboot_options *options, cmboot_fastboot **out)
{
    if (!out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    if (!t.ops || !t.ops->bulk_out)
        return CMBOOT_ERR_INVALID_ARG;
    if (t.ops->struct_size < CMB_SIZE_THROUGH(cmboot_transport_ops, bulk_in) || !t.ops->bulk_in)
        return CMBOOT_ERR_UNSUPPORTED;
    cmboot_fastboot *fb = calloc(1, sizeof *fb);
    if (!fb)
        return CMBOOT_ERR_NO_MEMORY;
    cmboot_fastboot_options_default(&fb->o);
    if (options) {
        int rc = cmb_struct_load(&fb->o, sizeof fb->o, options, OPTIONS_MIN);
        if (rc != CMBOOT_OK) {
            free(fb);
            return rc;
        }
    }
    if (!fb->o.reply_timeout_ms)
        fb->o.reply_timeout_ms = REPLY_TIMEOUT_MS;
    if (!fb->o.long_timeout_ms)
        fb->o.long_timeout_ms = LONG_TIMEOUT_MS;
    if (!fb->o.data_timeout_ms)
        fb->o.data_timeout_ms = DATA_TIMEOUT_MS;
    fb->t = t;
    *out = fb;
    return CMBOOT_OK;
}

void cmboot_fastboot_free(cmboot_fastboot *fb)
{
    free(fb);
}

const char *cmboot_fastboot_last_fail(const cmboot_fastboot *fb)
{
    return fb ? fb->last_fail : "";
}

static void say(cmboot_fastboot *fb, cmboot_fastboot_message kind, const char *text)
{
    if (fb->o.log)
        fb->o.log(fb->o.log_user, kind, text);
}

static int send_command(cmboot_fastboot *fb, const char *cmd)
{
    size_t len = strlen(cmd);
    if (len == 0 || len > CMBOOT_FASTBOOT_COMMAND_MAX)
        return CMBOOT_ERR_INVALID_ARG;
    for (size_t i = 0; i < len; i++)
        if (cmd[i] < 0x20 || cmd[i] > 0x7e)
            return CMBOOT_ERR_INVALID_ARG;
    fb->last_fail[0] = 0;
    size_t sent = 0;
    int rc = fb->t.ops->bulk_out(fb->t.self, cmd, len, &sent, fb->o.reply_timeout_ms);
    if (rc == CMBOOT_OK && sent != len)
        rc = CMBOOT_ERR_SHORT_TRANSFER;
    return rc;
}

/* The next reply that is not INFO/TEXT (those go to the log). Each reply must come within per_reply_ms, and all
 * of them before deadline (0 = none). */
static int read_reply(cmboot_fastboot *fb, int64_t deadline, unsigned per_reply_ms, cmb_fb_reply *r)
{
    for (int lines = 0; lines < MAX_MESSAGES; lines++) {
        unsigned tmo = per_reply_ms;
        if (deadline) {
            int64_t left = deadline - cmb_clock_now(fb->o.clock);
            if (left <= 0)
                return CMBOOT_ERR_TIMEOUT;
            if ((uint64_t)left < tmo)
                tmo = (unsigned)left;
        }
        uint8_t buf[CMBOOT_FASTBOOT_REPLY_MAX];
        size_t got = 0;
        int rc = fb->t.ops->bulk_in(fb->t.self, buf, sizeof buf, &got, tmo);
        if (rc != CMBOOT_OK)
            return rc == CMBOOT_ERR_OVERFLOW ? CMBOOT_ERR_PROTOCOL : rc;
        if (got == 0)
            continue; /* zero-length packets carry nothing */
        rc = cmb_fb_parse_reply(buf, got, r);
        if (rc != CMBOOT_OK)
            return rc;
        if (r->kind == CMB_FB_INFO)
            say(fb, CMBOOT_FASTBOOT_INFO, r->text);
        else if (r->kind == CMB_FB_TEXT)
            say(fb, CMBOOT_FASTBOOT_TEXT, r->text);
        else
            return CMBOOT_OK;
    }
    return CMBOOT_ERR_PROTOCOL;
}

/* The final answer: OKAY (payload into out) or FAIL; a DATA here breaks the protocol. */
static int finish(cmboot_fastboot *fb, const cmb_fb_reply *r, char *out, size_t size)
{
    if (r->kind == CMB_FB_FAIL) {
        memcpy(fb->last_fail, r->text, sizeof fb->last_fail);
        say(fb, CMBOOT_FASTBOOT_FAIL, r->text);
        return CMBOOT_ERR_REFUSED;
    }
    if (r->kind != CMB_FB_OKAY)
        return CMBOOT_ERR_PROTOCOL;
    if (out && size) {
        size_t n = strlen(r->text);
        if (n >= size) {
            memcpy(out, r->text, size - 1);
            out[size - 1] = 0;
            return CMBOOT_ERR_TOO_LARGE;
        }
        memcpy(out, r->text, n + 1);
    }
    return CMBOOT_OK;
}

static int run(cmboot_fastboot *fb, const char *cmd, char *out, size_t size, int is_long)
{
    if (out && size)
        out[0] = 0;
    int rc = send_command(fb, cmd);
    if (rc != CMBOOT_OK)
        return rc;
    int64_t deadline = is_long ? cmb_clock_now(fb->o.clock) + fb->o.long_timeout_ms : 0;
    cmb_fb_reply r;
    rc = read_reply(fb, deadline, is_long ? fb->o.long_timeout_ms : fb->o.reply_timeout_ms, &r);
    if (rc != CMBOOT_OK)
        return rc;
    return finish(fb, &r, out, size);
}

int cmboot_fastboot_command(cmboot_fastboot *fb, const char *command, char *out, size_t size)
{
    if (!fb || !command || (!out && size))
        return CMBOOT_ERR_INVALID_ARG;
    return run(fb, command, out, size, 0);
}

/* "PREFIX" + arg as one command, refused when longer than a command may be. */
static int run_with(cmboot_fastboot *fb, const char *prefix, const char *arg, char *out, size_t size, int is_long)
{
    if (!fb || !arg || !arg[0] || (!out && size))
        return CMBOOT_ERR_INVALID_ARG;
    char cmd[CMBOOT_FASTBOOT_COMMAND_MAX + 1];
    int n = snprintf(cmd, sizeof cmd, "%s%s", prefix, arg);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return CMBOOT_ERR_INVALID_ARG;
    return run(fb, cmd, out, size, is_long);
}

int cmboot_fastboot_getvar(cmboot_fastboot *fb, const char *name, char *out, size_t size)
{
    return run_with(fb, "getvar:", name, out, size, 0);
}

int cmboot_fastboot_flash(cmboot_fastboot *fb, const char *partition)
{
    return run_with(fb, "flash:", partition, NULL, 0, 1);
}

int cmboot_fastboot_erase(cmboot_fastboot *fb, const char *partition)
{
    return run_with(fb, "erase:", partition, NULL, 0, 1);
}

int cmboot_fastboot_reboot(cmboot_fastboot *fb)
{
    if (!fb)
        return CMBOOT_ERR_INVALID_ARG;
    return run(fb, "reboot", NULL, 0, 0);
}

int cmboot_fastboot_oem(cmboot_fastboot *fb, const char *args, char *out, size_t size)
{
    return run_with(fb, "oem ", args, out, size, 1);
}

/* A size as the device writes it: decimal or 0x-hex, nothing else. */
static int parse_size(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return CMBOOT_ERR_PROTOCOL;
    uint64_t v = 0;
    for (; *s; s++) {
        int d = hex_digit((uint8_t)*s);
        if (d < 0 || d >= base)
            return CMBOOT_ERR_PROTOCOL;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return CMBOOT_ERR_PROTOCOL;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return CMBOOT_OK;
}

int cmboot_fastboot_max_download_size(cmboot_fastboot *fb, uint32_t *out)
{
    if (!fb || !out)
        return CMBOOT_ERR_INVALID_ARG;
    *out = 0;
    if (!fb->max_download) {
        char v[CMBOOT_FASTBOOT_REPLY_MAX];
        uint64_t n = 0;
        int rc = cmboot_fastboot_getvar(fb, "max-download-size", v, sizeof v);
        if (rc == CMBOOT_OK)
            rc = parse_size(v, &n);
        if (rc == CMBOOT_OK && n == 0)
            rc = CMBOOT_ERR_PROTOCOL;
        if (rc != CMBOOT_OK)
            return rc;
        /* download:%08x cannot ask for more than 32 bits anyway. */
        fb->max_download = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
        if (fb->o.max_download_size && fb->o.max_download_size < fb->max_download)
            fb->max_download = fb->o.max_download_size;
    }
    *out = fb->max_download;
    return CMBOOT_OK;
}

/* Sends "cmd" and expects DATA announcing exactly (want_exact) or at most want bytes. */
static int start_data(cmboot_fastboot *fb, const char *cmd, uint32_t want, int want_exact, uint32_t *announced)
{
    int rc = send_command(fb, cmd);
    if (rc != CMBOOT_OK)
        return rc;
    cmb_fb_reply r;
    rc = read_reply(fb, 0, fb->o.reply_timeout_ms, &r);
    if (rc != CMBOOT_OK)
        return rc;
    if (r.kind != CMB_FB_DATA)
        return r.kind == CMB_FB_FAIL ? finish(fb, &r, NULL, 0) : CMBOOT_ERR_PROTOCOL;
    if (r.data_size > want || (want_exact && r.data_size != want))
        return CMBOOT_ERR_PROTOCOL;
    *announced = r.data_size;
    return CMBOOT_OK;
}

int cmboot_fastboot_download(cmboot_fastboot *fb, uint32_t size, cmboot_fastboot_read_fn read, void *read_user,
                             cmboot_fastboot_progress_fn progress, void *progress_user)
{
    if (!fb || !read || size == 0)
        return CMBOOT_ERR_INVALID_ARG;
    uint32_t max = 0;
    int rc = cmboot_fastboot_max_download_size(fb, &max);
    if (rc != CMBOOT_OK)
        return rc;
    if (size > max)
        return CMBOOT_ERR_TOO_LARGE;
    char cmd[CMBOOT_FASTBOOT_COMMAND_MAX + 1];
    snprintf(cmd, sizeof cmd, "download:%08" PRIx32, size);
    uint32_t announced = 0;
    rc = start_data(fb, cmd, size, 1, &announced);
    if (rc != CMBOOT_OK)
        return rc;
    size_t piece = size < DATA_PIECE ? size : DATA_PIECE;
    uint8_t *buf = malloc(piece);
    if (!buf)
        return CMBOOT_ERR_NO_MEMORY;
    uint32_t done = 0;
    while (rc == CMBOOT_OK && done < size) {
        size_t n = size - done < piece ? size - done : piece;
        rc = read(read_user, buf, n);
        if (rc > 0)
            rc = CMBOOT_ERR_INVALID_ARG; /* a source must answer CMBOOT_OK or an error */
        size_t sent = 0;
        if (rc == CMBOOT_OK)
            rc = fb->t.ops->bulk_out(fb->t.self, buf, n, &sent, fb->o.data_timeout_ms);
        if (rc == CMBOOT_OK && sent != n)
            rc = CMBOOT_ERR_SHORT_TRANSFER;
        if (rc == CMBOOT_OK) {
            done += (uint32_t)n;
            if (progress)
                progress(progress_user, done, size);
        }
    }
    free(buf);
    if (rc != CMBOOT_OK)
        return rc;
    cmb_fb_reply r;
    rc = read_reply(fb, 0, fb->o.reply_timeout_ms, &r);
    return rc != CMBOOT_OK ? rc : finish(fb, &r, NULL, 0);
}

typedef struct buffer_source {
    const uint8_t *p;
} buffer_source;

static int buffer_read(void *user, void *buf, size_t len)
{
    buffer_source *s = user;
    memcpy(buf, s->p, len);
    s->p += len;
    return CMBOOT_OK;
}

int cmboot_fastboot_download_buffer(cmboot_fastboot *fb, const void *data, uint32_t size,
                                    cmboot_fastboot_progress_fn progress, void *progress_user)
{
    if (!data)
        return CMBOOT_ERR_INVALID_ARG;
    buffer_source s = {data};
    return cmboot_fastboot_download(fb, size, buffer_read, &s, progress, progress_user);
}

int cmboot_fastboot_fetch(cmboot_fastboot *fb, const char *partition, uint64_t offset, uint32_t size,
                          cmboot_fastboot_write_fn write, void *write_user, uint32_t *fetched,
                          cmboot_fastboot_progress_fn progress, void *progress_user)
{
    if (fetched)
        *fetched = 0;
    if (!fb || !partition || !partition[0] || !write || size == 0)
        return CMBOOT_ERR_INVALID_ARG;
    char cmd[CMBOOT_FASTBOOT_COMMAND_MAX + 1];
    int n = snprintf(cmd, sizeof cmd, "fetch:%s:0x%08" PRIx64 ":0x%08" PRIx32, partition, offset, size);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return CMBOOT_ERR_INVALID_ARG;
    uint32_t announced = 0;
    int rc = start_data(fb, cmd, size, 0, &announced);
    if (rc != CMBOOT_OK)
        return rc;
    size_t piece = announced < DATA_PIECE ? announced : DATA_PIECE;
    uint8_t *buf = malloc(piece ? piece : 1);
    if (!buf)
        return CMBOOT_ERR_NO_MEMORY;
    uint32_t done = 0;
    int empty = 0;
    while (rc == CMBOOT_OK && done < announced) {
        size_t want = announced - done < piece ? announced - done : piece;
        size_t got = 0;
        rc = fb->t.ops->bulk_in(fb->t.self, buf, want, &got, fb->o.data_timeout_ms);
        if (rc == CMBOOT_ERR_OVERFLOW)
            rc = CMBOOT_ERR_PROTOCOL;
        if (rc == CMBOOT_OK && got > want)
            rc = CMBOOT_ERR_OVERFLOW;
        if (rc == CMBOOT_OK && got == 0 && ++empty > MAX_EMPTY_READS)
            rc = CMBOOT_ERR_PROTOCOL;
        if (rc == CMBOOT_OK && got) {
            empty = 0;
            rc = write(write_user, buf, got);
            if (rc > 0)
                rc = CMBOOT_ERR_INVALID_ARG;
            if (rc == CMBOOT_OK) {
                done += (uint32_t)got;
                if (fetched)
                    *fetched = done;
                if (progress)
                    progress(progress_user, done, announced);
            }
        }
    }
    free(buf);
    if (rc != CMBOOT_OK)
        return rc;
    cmb_fb_reply r;
    rc = read_reply(fb, 0, fb->o.reply_timeout_ms, &r);
    return rc != CMBOOT_OK ? rc : finish(fb, &r, NULL, 0);
}
