/* The fastboot gadget stage (18d1:4e40): the Android fastboot protocol on its bulk pair, partitions in files. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cmboot/error.h"
#include "model/sim_fastboot.h"
#include "sim_stage.h"

/* ---- command parser ---- */

static int parse_u64(const char *s, int base, uint64_t *out)
{
    if (!*s)
        return CMBOOT_ERR_FORMAT;
    uint64_t v = 0;
    if (base == 0) { /* fetch's numbers: 0x-prefixed hex or decimal */
        base = 10;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            s += 2;
            if (!*s)
                return CMBOOT_ERR_FORMAT;
        }
    }
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return CMBOOT_ERR_FORMAT;
        if (v > (UINT64_MAX - d) / (unsigned)base)
            return CMBOOT_ERR_FORMAT;
        v = v * (unsigned)base + d;
    }
    *out = v;
    return CMBOOT_OK;
}

static const char *after(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

int sim_fb_parse(const uint8_t *cmd, size_t len, sim_fb_cmd *out)
{
    memset(out, 0, sizeof *out);
    if (len > SIM_FB_CMD_MAX)
        return CMBOOT_ERR_TOO_LARGE;
    char s[SIM_FB_CMD_MAX + 1];
    for (size_t i = 0; i < len; i++) {
        if (cmd[i] < 0x20 || cmd[i] > 0x7e)
            return CMBOOT_ERR_FORMAT;
        s[i] = (char)cmd[i];
    }
    s[len] = 0;
    const char *a;
    if ((a = after(s, "getvar:"))) {
        out->verb = SIM_FB_GETVAR;
        if (!*a)
            return CMBOOT_ERR_FORMAT;
    } else if ((a = after(s, "download:"))) {
        out->verb = SIM_FB_DOWNLOAD;
        if (strlen(a) != 8 || parse_u64(a, 16, &out->size) != CMBOOT_OK)
            return CMBOOT_ERR_FORMAT;
        return CMBOOT_OK;
    } else if ((a = after(s, "flash:"))) {
        out->verb = SIM_FB_FLASH;
    } else if ((a = after(s, "erase:"))) {
        out->verb = SIM_FB_ERASE;
    } else if (strcmp(s, "reboot") == 0) {
        out->verb = SIM_FB_REBOOT;
        return CMBOOT_OK;
    } else if ((a = after(s, "oem "))) {
        out->verb = SIM_FB_OEM;
    } else if ((a = after(s, "fetch:"))) {
        out->verb = SIM_FB_FETCH;
        const char *c1 = strchr(a, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c1 || !c2 || c1 == a)
            return CMBOOT_ERR_FORMAT;
        char num[SIM_FB_CMD_MAX + 1];
        memcpy(num, c1 + 1, (size_t)(c2 - c1 - 1));
        num[c2 - c1 - 1] = 0;
        if (parse_u64(num, 0, &out->offset) != CMBOOT_OK || parse_u64(c2 + 1, 0, &out->size) != CMBOOT_OK)
            return CMBOOT_ERR_FORMAT;
        memcpy(out->arg, a, (size_t)(c1 - a));
        out->arg[c1 - a] = 0;
        return CMBOOT_OK;
    } else {
        out->verb = SIM_FB_UNKNOWN;
        a = s;
    }
    if (out->verb != SIM_FB_UNKNOWN && out->verb != SIM_FB_OEM && !*a)
        return CMBOOT_ERR_FORMAT; /* a partition name is required */
    snprintf(out->arg, sizeof out->arg, "%s", a);
    return CMBOOT_OK;
}

/* ---- sparse images (Android sparse format: 28-byte file header, 12-byte chunk headers, little endian) ---- */

#define SPARSE_FILE_HDR 28
#define SPARSE_CHUNK_HDR 12
#define CHUNK_RAW 0xcac1
#define CHUNK_FILL 0xcac2
#define CHUNK_DONT_CARE 0xcac3
#define CHUNK_CRC32 0xcac4

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int sim_fb_is_sparse(const uint8_t *data, size_t len)
{
    return len >= 4 && le32(data) == SIM_SPARSE_MAGIC;
}

int sim_fb_sparse_apply(const uint8_t *img, size_t len, uint64_t target_size, const sim_fb_sink *sink)
{
    if (len < SPARSE_FILE_HDR || le32(img) != SIM_SPARSE_MAGIC || le16(img + 4) != 1)
        return CMBOOT_ERR_FORMAT; /* major version 1 only */
    uint32_t file_hdr = le16(img + 8), chunk_hdr = le16(img + 10);
    uint32_t blk_sz = le32(img + 12), total_blks = le32(img + 16), total_chunks = le32(img + 20);
    if (file_hdr < SPARSE_FILE_HDR || file_hdr > len || chunk_hdr < SPARSE_CHUNK_HDR || blk_sz == 0 || blk_sz % 4)
        return CMBOOT_ERR_FORMAT;
    if ((uint64_t)total_blks * blk_sz > target_size)
        return CMBOOT_ERR_NO_SPACE;
    size_t pos = file_hdr;
    uint64_t blk = 0;
    for (uint32_t i = 0; i < total_chunks; i++) {
        if (len - pos < chunk_hdr)
            return CMBOOT_ERR_FORMAT;
        const uint8_t *h = img + pos;
        uint32_t type = le16(h), chunk_blks = le32(h + 4), total = le32(h + 8);
        if (total < chunk_hdr || total > len - pos)
            return CMBOOT_ERR_FORMAT;
        const uint8_t *body = h + chunk_hdr;
        size_t body_len = total - chunk_hdr;
        uint64_t bytes = (uint64_t)chunk_blks * blk_sz;
        if (type != CHUNK_CRC32 && blk + chunk_blks > total_blks)
            return CMBOOT_ERR_FORMAT;
        uint64_t off = blk * blk_sz;
        int rc = CMBOOT_OK;
        switch (type) {
        case CHUNK_RAW:
            if (body_len != bytes)
                return CMBOOT_ERR_FORMAT;
            if (bytes)
                rc = sink->write(sink->ctx, off, body, (size_t)bytes);
            break;
        case CHUNK_FILL:
            if (body_len != 4)
                return CMBOOT_ERR_FORMAT;
            if (bytes)
                rc = sink->fill(sink->ctx, off, body, (size_t)bytes);
            break;
        case CHUNK_DONT_CARE:
            if (body_len != 0)
                return CMBOOT_ERR_FORMAT;
            break;
        case CHUNK_CRC32:
            if (body_len != 4)
                return CMBOOT_ERR_FORMAT;
            chunk_blks = 0;
            break;
        default: return CMBOOT_ERR_FORMAT;
        }
        if (rc != CMBOOT_OK)
            return rc;
        blk += chunk_blks;
        pos += total;
    }
    return blk == total_blks ? CMBOOT_OK : CMBOOT_ERR_FORMAT;
}

/* ---- the stage ---- */

#define REPLY_QUEUE 64
#define FETCH_DATA_MARK 0xff /* a queue entry standing for fetch's data phase */

typedef struct fb_part {
    char *name, *path;
} fb_part;

typedef struct fb_reply {
    uint8_t len; /* FETCH_DATA_MARK: the data phase */
    char text[SIM_FB_REPLY_MAX];
} fb_reply;

typedef struct fb_state {
    sim_device *dev;
    const sim_config *cfg;
    fb_part parts[SIM_FASTBOOT_PARTS_MAX];
    size_t nparts;
    char *fail_cmd;
    fb_reply q[REPLY_QUEUE];
    size_t qhead, qcount;
    bool reboot_after; /* the queue ends with reboot's OKAY: the board restarts once it is read */
    /* download */
    uint8_t *dl;
    size_t dl_size, dl_have; /* dl_have < dl_size: in the data phase */
    bool downloading;
    uint64_t dl_total; /* every download byte so far (the vanish fault) */
    /* fetch's data phase */
    uint8_t *fetch;
    size_t fetch_len, fetch_pos;
} fb_state;

static void reply(fb_state *s, const char *kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reply(fb_state *s, const char *kind, const char *fmt, ...)
{
    if (s->qcount == REPLY_QUEUE)
        return; /* cannot happen: the most a command queues is getvar:all's lines */
    fb_reply *r = &s->q[(s->qhead + s->qcount++) % REPLY_QUEUE];
    char msg[SIM_FB_REPLY_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int n = snprintf(r->text, sizeof r->text, "%s%s", kind, msg);
    r->len = (uint8_t)(n < 0 ? 0 : n >= (int)sizeof r->text ? (int)sizeof r->text - 1 : n);
}

static void fb_free(void *self)
{
    fb_state *s = self;
    if (!s)
        return;
    for (size_t i = 0; i < s->nparts; i++) {
        free(s->parts[i].name);
        free(s->parts[i].path);
    }
    free(s->fail_cmd);
    free(s->dl);
    free(s->fetch);
    free(s);
}

static int fb_create(const sim_stage_env *env, void **state)
{
    fb_state *s = calloc(1, sizeof *s);
    if (!s)
        return CMBOOT_ERR_NO_MEMORY;
    s->dev = env->dev;
    s->cfg = env->cfg;
    int rc = CMBOOT_OK;
    for (size_t i = 0; i < env->cfg->n_fastboot_parts && rc == CMBOOT_OK; i++) {
        const sim_fastboot_part *p = &env->cfg->fastboot_parts[i];
        if (!p->name || !p->path || !*p->name || strlen(p->name) > SIM_FB_CMD_MAX) {
            rc = CMBOOT_ERR_INVALID_ARG;
            break;
        }
        s->parts[i].name = strdup(p->name);
        s->parts[i].path = strdup(p->path);
        s->nparts = i + 1;
        if (!s->parts[i].name || !s->parts[i].path)
            rc = CMBOOT_ERR_NO_MEMORY;
    }
    if (rc == CMBOOT_OK && env->cfg->fastboot_fail_cmd && !(s->fail_cmd = strdup(env->cfg->fastboot_fail_cmd)))
        rc = CMBOOT_ERR_NO_MEMORY;
    if (rc != CMBOOT_OK) {
        fb_free(s);
        return rc;
    }
    *state = s;
    return CMBOOT_OK;
}

static void fb_reset(fb_state *s)
{
    s->qhead = s->qcount = 0;
    s->reboot_after = false;
    free(s->dl);
    s->dl = NULL;
    s->dl_size = s->dl_have = 0;
    s->downloading = false;
    free(s->fetch);
    s->fetch = NULL;
    s->fetch_len = s->fetch_pos = 0;
}

static void fb_enter(void *self)
{
    fb_reset(self);
}

static void fb_leave(void *self)
{
    fb_reset(self);
}

static const fb_part *find_part(const fb_state *s, const char *name)
{
    for (size_t i = 0; i < s->nparts; i++)
        if (strcmp(s->parts[i].name, name) == 0)
            return &s->parts[i];
    return NULL;
}

/* The partition's size: its file's; -1 when the file cannot be read. */
static int64_t part_size(const fb_part *p)
{
    struct stat st;
    return stat(p->path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static int file_write(void *ctx, uint64_t offset, const uint8_t *data, size_t len)
{
    FILE *f = ctx;
    if (fseeko(f, (off_t)offset, SEEK_SET) != 0 || fwrite(data, 1, len, f) != len)
        return CMBOOT_ERR_IO;
    return CMBOOT_OK;
}

static int file_fill(void *ctx, uint64_t offset, const uint8_t pattern[4], size_t len)
{
    uint8_t buf[4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = pattern[i % 4];
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof buf ? len - done : sizeof buf;
        int rc = file_write(ctx, offset + done, buf, n);
        if (rc != CMBOOT_OK)
            return rc;
        done += n;
    }
    return CMBOOT_OK;
}

static void do_getvar(fb_state *s, const char *name)
{
    char val[SIM_FB_REPLY_MAX];
    const char *p;
    const fb_part *part;
    if (strcmp(name, "all") == 0) {
        static const char *const vars[] = {"version", "product", "serial", "max-download-size"};
        for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
            do_getvar(s, vars[i]);
            fb_reply *r = &s->q[(s->qhead + s->qcount - 1) % REPLY_QUEUE]; /* turn OKAYvalue into INFOname:value */
            char v[SIM_FB_REPLY_MAX];
            snprintf(v, sizeof v, "%s", r->text + 4);
            s->qcount--;
            reply(s, "INFO", "%s:%s", vars[i], v);
        }
        for (size_t i = 0; i < s->nparts; i++) {
            int64_t sz = part_size(&s->parts[i]);
            reply(s, "INFO", "partition-size:%s:0x%" PRIx64, s->parts[i].name, (uint64_t)(sz < 0 ? 0 : sz));
            reply(s, "INFO", "partition-type:%s:raw", s->parts[i].name);
        }
        reply(s, "OKAY", "%s", "");
        return;
    }
    if (strcmp(name, "version") == 0)
        snprintf(val, sizeof val, "0.4");
    else if (strcmp(name, "product") == 0)
        snprintf(val, sizeof val, "%s", cmboot_soc_by_id(s->cfg->soc) ? cmboot_soc_by_id(s->cfg->soc)->name : "");
    else if (strcmp(name, "serial") == 0)
        snprintf(val, sizeof val, "%s", s->cfg->serial);
    else if (strcmp(name, "max-download-size") == 0)
        snprintf(val, sizeof val, "0x%08" PRIx32, s->cfg->fastboot_max_download);
    else if ((p = after(name, "partition-size:")) && (part = find_part(s, p))) {
        int64_t sz = part_size(part);
        if (sz < 0) {
            reply(s, "FAIL", "cannot read partition %s", p);
            return;
        }
        snprintf(val, sizeof val, "0x%" PRIx64, (uint64_t)sz);
    } else if ((p = after(name, "partition-type:")) && find_part(s, p))
        snprintf(val, sizeof val, "raw");
    else {
        reply(s, "FAIL", "Variable not found");
        return;
    }
    reply(s, "OKAY", "%s", val);
}

static void do_flash(fb_state *s, const char *name)
{
    const fb_part *p = find_part(s, name);
    if (!p) {
        reply(s, "FAIL", "partition %s does not exist", name);
        return;
    }
    if (!s->dl || s->downloading) {
        reply(s, "FAIL", "no data downloaded");
        return;
    }
    int64_t size = part_size(p);
    FILE *f = size >= 0 ? fopen(p->path, "r+b") : NULL;
    if (!f) {
        reply(s, "FAIL", "cannot open partition %s", name);
        return;
    }
    int rc;
    bool sparse = sim_fb_is_sparse(s->dl, s->dl_size);
    if (sparse) {
        const sim_fb_sink sink = {f, file_write, file_fill};
        rc = sim_fb_sparse_apply(s->dl, s->dl_size, (uint64_t)size, &sink);
    } else {
        rc = s->dl_size > (uint64_t)size ? CMBOOT_ERR_NO_SPACE : file_write(f, 0, s->dl, s->dl_size);
    }
    if (fclose(f) != 0 && rc == CMBOOT_OK)
        rc = CMBOOT_ERR_IO;
    sim_log(s->dev, "fastboot: flash %s: %zu bytes%s -> %s", name, s->dl_size, sparse ? " (sparse)" : "",
            cmboot_strerror(rc));
    if (rc == CMBOOT_ERR_NO_SPACE)
        reply(s, "FAIL", "image too large for partition %s", name);
    else if (rc == CMBOOT_ERR_FORMAT)
        reply(s, "FAIL", "malformed sparse image");
    else if (rc != CMBOOT_OK)
        reply(s, "FAIL", "write error on %s", name);
    else {
        reply(s, "INFO", "writing %s", name);
        reply(s, "OKAY", "%s", "");
    }
}

static void do_erase(fb_state *s, const char *name)
{
    const fb_part *p = find_part(s, name);
    if (!p) {
        reply(s, "FAIL", "partition %s does not exist", name);
        return;
    }
    int64_t size = part_size(p);
    FILE *f = size >= 0 ? fopen(p->path, "r+b") : NULL;
    static const uint8_t zero[4] = {0, 0, 0, 0};
    int rc = f ? file_fill(f, 0, zero, (size_t)size) : CMBOOT_ERR_IO;
    if (f && fclose(f) != 0)
        rc = CMBOOT_ERR_IO;
    if (rc != CMBOOT_OK)
        reply(s, "FAIL", "cannot erase %s", name);
    else
        reply(s, "OKAY", "%s", "");
}

static void do_fetch(fb_state *s, const sim_fb_cmd *c)
{
    const fb_part *p = find_part(s, c->arg);
    int64_t size = p ? part_size(p) : -1;
    if (!p || size < 0) {
        reply(s, "FAIL", "partition %s does not exist", c->arg);
        return;
    }
    if (c->size == 0 || c->size > s->cfg->fastboot_max_download || c->offset > (uint64_t)size ||
        c->size > (uint64_t)size - c->offset) {
        reply(s, "FAIL", "bad range");
        return;
    }
    uint8_t *buf = malloc((size_t)c->size);
    FILE *f = buf ? fopen(p->path, "rb") : NULL;
    bool ok = f && fseeko(f, (off_t)c->offset, SEEK_SET) == 0 && fread(buf, 1, (size_t)c->size, f) == c->size;
    if (f)
        fclose(f);
    if (!ok) {
        free(buf);
        reply(s, "FAIL", "read error on %s", c->arg);
        return;
    }
    free(s->fetch);
    s->fetch = buf;
    s->fetch_len = s->cfg->fastboot_short_fetch ? (size_t)c->size / 2 : (size_t)c->size;
    s->fetch_pos = 0;
    reply(s, "DATA", "%08" PRIx32, (uint32_t)c->size);
    s->q[(s->qhead + s->qcount++) % REPLY_QUEUE].len = FETCH_DATA_MARK;
    reply(s, "OKAY", "%s", "");
}

static void command(fb_state *s, const uint8_t *data, size_t len)
{
    sim_fb_cmd c;
    int rc = sim_fb_parse(data, len, &c);
    sim_log(s->dev, "fastboot: command %.*s", (int)(len > SIM_FB_CMD_MAX ? SIM_FB_CMD_MAX : len), (const char *)data);
    if (rc == CMBOOT_ERR_TOO_LARGE) {
        reply(s, "FAIL", "command too long");
        return;
    }
    if (rc != CMBOOT_OK) {
        reply(s, "FAIL", "malformed command");
        return;
    }
    if (s->fail_cmd && len >= strlen(s->fail_cmd) && memcmp(data, s->fail_cmd, strlen(s->fail_cmd)) == 0) {
        reply(s, "FAIL", "injected fault");
        return;
    }
    switch (c.verb) {
    case SIM_FB_GETVAR: do_getvar(s, c.arg); break;
    case SIM_FB_DOWNLOAD:
        if (c.size == 0 || c.size > s->cfg->fastboot_max_download) {
            reply(s, "FAIL", "data too large");
            break;
        }
        free(s->dl);
        s->dl = malloc((size_t)c.size);
        if (!s->dl) {
            reply(s, "FAIL", "out of memory");
            break;
        }
        s->dl_size = (size_t)c.size;
        s->dl_have = 0;
        s->downloading = true;
        reply(s, "DATA", "%08" PRIx32, (uint32_t)c.size);
        break;
    case SIM_FB_FLASH: do_flash(s, c.arg); break;
    case SIM_FB_ERASE: do_erase(s, c.arg); break;
    case SIM_FB_REBOOT:
        reply(s, "OKAY", "%s", "");
        s->reboot_after = true;
        break;
    case SIM_FB_OEM:
        reply(s, "INFO", "oem %s", c.arg);
        reply(s, "INFO", "done");
        reply(s, "OKAY", "%s", "");
        break;
    case SIM_FB_FETCH:
        if (s->cfg->fastboot_no_fetch)
            reply(s, "FAIL", "unknown command");
        else
            do_fetch(s, &c);
        break;
    default: reply(s, "FAIL", "unknown command"); break;
    }
}

static sim_status fb_bulk_out(void *self, const uint8_t *data, size_t len, size_t *consumed, int64_t now)
{
    (void)now;
    fb_state *s = self;
    if (s->downloading && s->qcount == 0) {
        if (len == 0) { /* a zero-length packet carries no data (data may be NULL): the download goes on */
            *consumed = 0;
            return SIM_OK;
        }
        size_t n = len < s->dl_size - s->dl_have ? len : s->dl_size - s->dl_have;
        uint64_t vanish = s->cfg->fastboot_vanish_after;
        if (vanish && s->dl_total + n >= vanish) {
            n = (size_t)(vanish - s->dl_total);
            memcpy(s->dl + s->dl_have, data, n);
            *consumed = n;
            s->dl_total += n;
            sim_vanish(s->dev, "fault during fastboot download");
            return SIM_NO_DEVICE;
        }
        memcpy(s->dl + s->dl_have, data, n);
        s->dl_have += n;
        s->dl_total += n;
        *consumed = n;
        if (s->dl_have == s->dl_size) {
            s->downloading = false;
            sim_log(s->dev, "fastboot: downloaded %zu bytes", s->dl_size);
            reply(s, "OKAY", "%s", "");
        }
        return SIM_OK;
    }
    if (s->qcount) /* the host must read the answer first: a real gadget queues no next OUT request */
        return SIM_PENDING;
    command(s, data, len);
    *consumed = len;
    return SIM_OK;
}

static void pop_reply(fb_state *s)
{
    s->qhead = (s->qhead + 1) % REPLY_QUEUE;
    s->qcount--;
}

/* fetch's data, in 512-byte packets as the gadget sends them. A packet larger than what is left of the host's
 * transfer is babble (as on the wire: a transfer that is not a whole number of packets and shorter than the
 * data overflows). The gadget sends no zero-length packet: data ending on a whole packet does not end the
 * transfer, the reply that follows (OKAY) lands in the same one, as it would with a real gadget. */
static sim_status fetch_in(fb_state *s, uint8_t *buf, size_t cap, size_t *len)
{
    size_t left = s->fetch_len - s->fetch_pos;
    if (left > cap && cap % SIM_FB_MAX_PACKET) {
        size_t sent = (cap / SIM_FB_MAX_PACKET + 1) * SIM_FB_MAX_PACKET; /* up to the packet that overflowed */
        if (sent > left)
            sent = left;
        sim_fail(s->dev,
                 "fastboot: fetch data read with a %zu-byte transfer, not a whole number of %u-byte packets "
                 "(babble)",
                 cap, SIM_FB_MAX_PACKET);
        s->fetch_pos += sent;
        if (s->fetch_pos == s->fetch_len)
            pop_reply(s);
        return SIM_OVERFLOW;
    }
    size_t n = left < cap ? left : cap;
    memcpy(buf, s->fetch + s->fetch_pos, n);
    s->fetch_pos += n;
    *len = n;
    if (s->fetch_pos < s->fetch_len)
        return SIM_OK;
    pop_reply(s);
    if (n == cap || n % SIM_FB_MAX_PACKET || s->qcount == 0)
        return SIM_OK; /* the transfer is full, or its last packet was short */
    fb_reply *r = &s->q[s->qhead];
    if (r->len > cap - n) {
        sim_fail(s->dev,
                 "fastboot: the reply after fetch's data overflows the host's transfer (no zero-length packet)");
        pop_reply(s);
        *len = 0; /* babble: the host gets an error, not the data */
        return SIM_OVERFLOW;
    }
    memcpy(buf + n, r->text, r->len);
    *len = n + r->len;
    pop_reply(s);
    return SIM_OK;
}

static sim_status fb_bulk_in(void *self, uint8_t *buf, size_t cap, size_t *len, int64_t now)
{
    fb_state *s = self;
    if (s->qcount == 0)
        return SIM_PENDING;
    fb_reply *r = &s->q[s->qhead];
    if (r->len == FETCH_DATA_MARK)
        return fetch_in(s, buf, cap, len);
    if (r->len > cap) { /* one short packet larger than the transfer: babble, the reply is gone */
        sim_fail(s->dev, "fastboot: a %u-byte reply read with a %zu-byte transfer (host must read 256)", r->len, cap);
        pop_reply(s);
        return SIM_OVERFLOW;
    }
    *len = r->len;
    memcpy(buf, r->text, *len);
    pop_reply(s);
    if (s->qcount == 0 && s->reboot_after) {
        s->reboot_after = false;
        sim_schedule_stage_end(s->dev, now + s->cfg->disconnect_delay_ms, SIM_STAGE_NORMAL);
    }
    return SIM_OK;
}

const sim_stage_ops sim_fastboot_stage = {
    .stage = SIM_STAGE_FASTBOOT,
    .create = fb_create,
    .destroy = fb_free,
    .enter = fb_enter,
    .leave = fb_leave,
    .bulk_out = fb_bulk_out,
    .bulk_in = fb_bulk_in,
};
