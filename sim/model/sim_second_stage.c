/* Second stage of the model (protocol.md section 4): runs the script of file-server requests with its faults. */
#include "sim_stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "cmboot/error.h"

typedef enum fs_phase {
    FS_WAIT_READ = 0,  /* host's read(260) delivers the current step's request */
    FS_WAIT_ANSWER,    /* host's control OUT carrying a length */
    FS_WAIT_BULK,      /* ReadFile data */
    FS_WAIT_EMPTY_ACK, /* zero-length write after an empty name */
    FS_FINISHED
} fs_phase;

typedef struct sim_fs {
    sim_device *dev;
    const sim_config *cfg;
    const sim_script *script;
    sim_result *res;
    fs_phase phase;
    size_t step;
    int sub;         /* GET: 0 = GetFileSize, 1 = ReadFile */
    bool drain_only; /* bulk is drained, not recorded */
    int64_t ack_deadline;
    bool committed;            /* cancel_misaligns: a cancelled read committed the current request */
    bool misaligned;           /* its tail was delivered: the next write answers the original request */
    int64_t fault_delay_until; /* an injected delay in progress, -1 none */
    bool fault_used;           /* one-shot faults (stall) already fired for the current step */
    uint64_t bulk_expected, bulk_got;
    EVP_MD_CTX *sha;
    sim_file_record *cur; /* the device's record of the file being served */
    FILE *save_fp;
} sim_fs;

static void fs_reset(sim_fs *s)
{
    s->phase = FS_WAIT_READ;
    s->step = 0;
    s->sub = 0;
    s->drain_only = false;
    s->ack_deadline = SIM_NEVER;
    s->cur = NULL;
    s->fault_delay_until = -1;
    s->fault_used = false;
    s->committed = false;
    s->misaligned = false;
}

static void close_file(sim_fs *s)
{
    if (s->save_fp)
        fclose(s->save_fp);
    s->save_fp = NULL;
}

static const sim_step *cur_step(const sim_fs *s)
{
    return s->step < s->script->count ? &s->script->steps[s->step] : NULL;
}

static size_t step_name_len(const sim_step *st)
{
    return (st->kind == SIM_STEP_DONE || st->kind == SIM_STEP_EMPTY) ? 0 : st->name_len;
}

/* Bytes a short request delivers: up to the name's NUL (as some firmware sends), or the fault's count. */
static size_t short_len(const sim_step *st)
{
    if (st->fault.arg == SIM_SHORT_TO_NAME) {
        size_t n = 4 + step_name_len(st) + 1;
        return n < 260 ? n : 260;
    }
    return st->fault.arg < 260 ? (size_t)st->fault.arg : 259;
}

/* Faults that replace the request itself: the host cannot serve it as a file request. A short request that
 * still holds the command and the whole name, and a long one (stale bytes after the NUL), are still the
 * firmware's request: a lenient host serves them like any other. */
static bool request_fault(const sim_step *st)
{
    switch (st->fault.kind) {
    case SIM_FAULT_GARBAGE:
    case SIM_FAULT_UNKNOWN_COMMAND:
    case SIM_FAULT_UNTERMINATED:
    case SIM_FAULT_OVERLONG: return true;
    case SIM_FAULT_SHORT: return short_len(st) < 4 + step_name_len(st) + 1;
    default: return false;
    }
}

/* The stage after the second stage (cfg.after_done), UNKNOWN when nothing follows. */
static cmboot_stage after_done_stage(const sim_config *cfg)
{
    switch (cfg->after_done) {
    case SIM_AFTER_MASS_STORAGE: return CMBOOT_STAGE_MASS_STORAGE;
    case SIM_AFTER_FASTBOOT: return SIM_STAGE_FASTBOOT;
    case SIM_AFTER_ROM: return CMBOOT_STAGE_ROM;
    default: return CMBOOT_STAGE_UNKNOWN;
    }
}

/* leave_without_done: where the firmware would say Done (or send the empty name), or when it has nothing
 * more to ask, it leaves the bus instead and boots what it loaded. */
static void maybe_leave(sim_fs *s, int64_t now)
{
    if (!s->cfg->leave_without_done || s->phase != FS_WAIT_READ || s->sub != 0 || s->committed)
        return;
    const sim_step *st = cur_step(s);
    if (st && st->kind != SIM_STEP_DONE && st->kind != SIM_STEP_EMPTY)
        return;
    s->phase = FS_FINISHED;
    s->res->left_without_done = true;
    sim_log(s->dev, "fs: leaving without Done");
    sim_schedule_stage_end(s->dev, now + s->cfg->disconnect_delay_ms, after_done_stage(s->cfg));
}

static void next_step(sim_fs *s)
{
    s->step++;
    s->sub = 0;
    s->phase = FS_WAIT_READ;
    s->cur = NULL;
    s->drain_only = false;
    s->fault_delay_until = -1;
    s->fault_used = false;
    s->committed = false;
    s->misaligned = false;
    s->res->steps_done++;
    maybe_leave(s, sim_now(s->dev));
}

static void finish(sim_fs *s, int64_t now, const char *how)
{
    s->res->script_complete = true;
    s->phase = FS_FINISHED;
    s->res->steps_done++;
    sim_log(s->dev, "fs: %s, second stage over", how);
    sim_schedule_stage_end(s->dev, now + s->cfg->disconnect_delay_ms, after_done_stage(s->cfg));
}

static sim_file_record *new_record(sim_fs *s, const sim_step *st)
{
    sim_file_record *r = sim_new_file_record(s->dev);
    if (!r)
        return NULL;
    sim_name_printable(st->name, st->name_len, r->name, sizeof r->name);
    r->announced_size = -1;
    r->read_size = -1;
    return r;
}

/* Builds the 260-byte request of the current step, faults applied. Returns its length. */
static size_t build_request(sim_fs *s, const sim_step *st, uint8_t req[260], int32_t *command)
{
    int32_t cmd;
    switch (st->kind) {
    case SIM_STEP_GET: cmd = s->sub == 0 ? 0 : 1; break;
    case SIM_STEP_READ: cmd = 1; break;
    case SIM_STEP_RAW: cmd = st->command; break;
    case SIM_STEP_DONE: cmd = 2; break;
    default: cmd = 0; break;
    }
    memset(req, 0, 260);
    size_t n = 260;
    if (st->kind != SIM_STEP_DONE && st->kind != SIM_STEP_EMPTY)
        memcpy(req + 4, st->name, st->name_len);
    switch (st->fault.kind) {
    case SIM_FAULT_UNKNOWN_COMMAND: cmd = (int32_t)st->fault.arg; break;
    case SIM_FAULT_UNTERMINATED: memset(req + 4, 'A', 256); break;
    case SIM_FAULT_OVERLONG:
        memset(req + 4, 'a', 255);
        memcpy(req + 4 + 251, ".txt", 4);
        req[4 + 255] = 0;
        break;
    case SIM_FAULT_SHORT: n = short_len(st); break;
    case SIM_FAULT_LONG: {
        /* what an earlier, longer request left in the firmware's buffer */
        static const char stale[] = "overlays/bcm2711-rpi-cm4-stale-buffer.dtbo";
        for (size_t i = 4 + step_name_len(st) + 1; i < 260; i++)
            req[i] = (uint8_t)stale[i % (sizeof stale - 1)];
        break;
    }
    default: break;
    }
    uint32_t u = (uint32_t)cmd;
    req[0] = (uint8_t)u;
    req[1] = (uint8_t)(u >> 8);
    req[2] = (uint8_t)(u >> 16);
    req[3] = (uint8_t)(u >> 24);
    if (st->fault.kind == SIM_FAULT_GARBAGE) {
        for (size_t i = 0; i < 260; i++)
            req[i] = (uint8_t)(0x5a ^ (i * 37)) | 0x01; /* no NUL anywhere, command out of range */
        cmd = (int32_t)((uint32_t)req[0] | (uint32_t)req[1] << 8 | (uint32_t)req[2] << 16 | (uint32_t)req[3] << 24);
    }
    *command = cmd;
    return n;
}

static sim_status deliver(sim_fs *s, uint16_t wLength, uint8_t *data, size_t *in_len, int64_t now)
{
    const sim_step *st = cur_step(s);
    if (!st)
        return SIM_PENDING; /* nothing more to ask: NAK forever */
    if (s->sub == 0) {
        switch (st->fault.kind) {
        case SIM_FAULT_VANISH: sim_vanish(s->dev, "fault at a file-server request"); return SIM_NO_DEVICE;
        case SIM_FAULT_STALL:
            if (!s->fault_used) {
                s->fault_used = true;
                sim_log(s->dev, "fs: request read stalled (fault)");
                return SIM_STALL;
            }
            break;
        case SIM_FAULT_DELAY:
            if (s->fault_delay_until < 0)
                s->fault_delay_until = now + (int64_t)st->fault.arg;
            if (now < s->fault_delay_until)
                return SIM_PENDING;
            break;
        default: break;
        }
    }
    if (wLength != 260)
        sim_fail(s->dev, "fs: request read of %u bytes, expected 260", wLength);
    uint8_t req[260];
    int32_t cmd;
    size_t n = build_request(s, st, req, &cmd);
    bool misaligned = s->committed;
    if (misaligned) {
        /* The cancelled read's reply went out anyway; this read gets it 4 bytes late: the name where the
         * command should be, zero padded. */
        uint8_t tail[260] = {0};
        memcpy(tail, req + 4, n > 4 ? n - 4 : 0);
        memcpy(req, tail, sizeof req);
        n = 260;
        s->committed = false;
        s->misaligned = true;
        s->res->misaligned++;
    }
    n = n < wLength ? n : wLength;
    memcpy(data, req, n);
    *in_len = n;
    s->res->requests++;
    char pname[SIM_NAME_FIELD * 4 + 1];
    sim_name_printable(st->name, st->name_len, pname, sizeof pname);
    sim_log(s->dev, "fs: request %u: command %d name \"%s\"%s%s%s", s->res->requests, (int)cmd,
            (st->kind == SIM_STEP_DONE || st->kind == SIM_STEP_EMPTY) ? "" : pname, st->fault.kind ? " fault " : "",
            st->fault.kind ? sim_fault_name(st->fault.kind) : "",
            misaligned ? " (misaligned: the tail of the cancelled read)" : "");
    if (st->kind == SIM_STEP_DONE && !request_fault(st)) {
        finish(s, now, "Done");
        return SIM_OK;
    }
    if (st->kind == SIM_STEP_EMPTY && !request_fault(st)) {
        s->phase = FS_WAIT_EMPTY_ACK;
        s->ack_deadline = now + s->cfg->done_ack_timeout_ms;
        return SIM_OK;
    }
    if ((st->kind == SIM_STEP_GET || st->kind == SIM_STEP_READ) && (s->sub == 0 || !s->cur))
        s->cur = new_record(s, st);
    s->phase = FS_WAIT_ANSWER;
    return SIM_OK;
}

static void check_size(sim_fs *s, const sim_step *st, const char *name, uint32_t len)
{
    if (st->must_exist && len == 0)
        sim_fail(s->dev, "fs: %s must exist, host answered size 0", name);
    if (st->must_be_absent && len != 0)
        sim_fail(s->dev, "fs: %s must be absent, host answered size %u", name, len);
    if (st->expect_size >= 0 && (int64_t)len != st->expect_size)
        sim_fail(s->dev, "fs: %s is %u bytes, expected %lld", name, len, (long long)st->expect_size);
}

static void open_save_file(sim_fs *s)
{
    if (!s->cfg->save_dir || !s->cur)
        return;
    char flat[sizeof s->cur->name];
    snprintf(flat, sizeof flat, "%s", s->cur->name);
    for (char *p = flat; *p; p++)
        if (*p == '/' || *p == '\\')
            *p = '_';
    if (flat[0] == '.' || flat[0] == 0)
        flat[0] = '_';
    char path[4096 + sizeof flat];
    snprintf(path, sizeof path, "%s/%s", s->cfg->save_dir, flat);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    s->save_fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!s->save_fp) {
        if (fd >= 0)
            close(fd);
        sim_fail(s->dev, "fs: cannot save %s: %s", path, strerror(errno));
    }
}

static sim_status answer(sim_fs *s, uint32_t len, int64_t now)
{
    const sim_step *st = cur_step(s);
    const char *name = s->cur ? s->cur->name : "";
    (void)now;
    if (request_fault(st)) {
        sim_log(s->dev, "fs: host answered the faulty request with write(%u)", len);
        if (st->kind == SIM_STEP_GET || st->kind == SIM_STEP_READ)
            if (s->cur)
                s->cur->announced_size = len;
        next_step(s);
        return SIM_OK;
    }
    switch (st->kind) {
    case SIM_STEP_GET:
        if (s->sub == 0) {
            sim_log(s->dev, "fs: GetFileSize %s -> %u", name, len);
            if (s->cur)
                s->cur->announced_size = len;
            check_size(s, st, name, len);
            if (len == 0) {
                next_step(s);
            } else {
                s->sub = 1;
                s->phase = FS_WAIT_READ;
            }
            return SIM_OK;
        }
        /* fall through */
    case SIM_STEP_READ:
        sim_log(s->dev, "fs: ReadFile %s -> write(%u)", name, len);
        if (st->kind == SIM_STEP_READ)
            check_size(s, st, name, len);
        else if (s->cur && s->cur->announced_size != (int64_t)len)
            sim_fail(s->dev, "fs: ReadFile %s answered %u bytes, GetFileSize said %lld", name, len,
                     (long long)s->cur->announced_size);
        if (s->cur)
            s->cur->read_size = len;
        if (len == 0) {
            next_step(s);
            return SIM_OK;
        }
        EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL);
        s->bulk_expected = len;
        s->bulk_got = 0;
        s->drain_only = false;
        open_save_file(s);
        s->phase = FS_WAIT_BULK;
        return SIM_OK;
    case SIM_STEP_META:
        sim_log(s->dev, "fs: metadata answered with write(%u)", len);
        if (len != 0) {
            sim_fail(s->dev, "fs: metadata answered with %u bytes, expected a zero-length write", len);
            s->bulk_expected = len;
            s->bulk_got = 0;
            s->drain_only = true;
            s->phase = FS_WAIT_BULK;
            return SIM_OK;
        }
        s->res->metadata_acked++;
        next_step(s);
        return SIM_OK;
    case SIM_STEP_RAW:
        sim_log(s->dev, "fs: raw request answered with write(%u)", len);
        if (st->command == 1 && len > 0) {
            s->bulk_expected = len;
            s->bulk_got = 0;
            s->drain_only = true;
            s->phase = FS_WAIT_BULK;
            return SIM_OK;
        }
        next_step(s);
        return SIM_OK;
    default: return SIM_STALL;
    }
}

static sim_status fs_vendor(void *self, bool in, uint32_t len, uint16_t wLength, uint8_t *data, size_t *in_len,
                            int64_t now)
{
    sim_fs *s = self;
    if (in) {
        switch (s->phase) {
        case FS_WAIT_READ: return deliver(s, wLength, data, in_len, now);
        case FS_WAIT_ANSWER: {
            const sim_step *st = cur_step(s);
            if (s->misaligned)
                return SIM_PENDING; /* the firmware waits for the answer to its request: silent */
            if (!request_fault(st))
                sim_fail(s->dev, "fs: host read again without answering request %u", s->res->requests);
            next_step(s);
            return deliver(s, wLength, data, in_len, now);
        }
        case FS_WAIT_BULK: sim_fail(s->dev, "fs: host read a request before sending all file data"); return SIM_STALL;
        default: return SIM_PENDING; /* going away */
        }
    }
    switch (s->phase) {
    case FS_WAIT_ANSWER:
        if (s->misaligned) {
            s->misaligned = false;
            sim_log(s->dev, "fs: write(%u) taken as the answer to the misaligned request %u", len, s->res->requests);
        }
        return answer(s, len, now);
    case FS_WAIT_EMPTY_ACK:
        if (len != 0)
            sim_fail(s->dev, "fs: empty name answered with write(%u), expected a zero-length write", len);
        s->ack_deadline = SIM_NEVER;
        finish(s, now, "empty name acknowledged");
        return SIM_OK;
    case FS_FINISHED: sim_log(s->dev, "fs: write(%u) after the end of the file server", len); return SIM_OK;
    default: sim_fail(s->dev, "fs: unexpected write(%u) (phase %d)", len, (int)s->phase); return SIM_STALL;
    }
}

static void file_complete(sim_fs *s)
{
    const sim_step *st = cur_step(s);
    close_file(s);
    if (s->drain_only) {
        next_step(s);
        return;
    }
    sim_file_record *r = s->cur;
    if (r) {
        unsigned int n = 0;
        EVP_DigestFinal_ex(s->sha, r->sha256, &n);
        r->complete = true;
        if (st->expect_sha && memcmp(r->sha256, st->sha256, 32) != 0)
            sim_fail(s->dev, "fs: %s SHA-256 differs from the expected one", r->name);
        sim_log(s->dev, "fs: received %s (%llu bytes)", r->name, (unsigned long long)r->received);
    }
    s->res->files_received++;
    next_step(s);
}

static sim_status fs_bulk_out(void *self, const uint8_t *data, size_t len, size_t *consumed, int64_t now)
{
    sim_fs *s = self;
    (void)now;
    *consumed = 0;
    if (s->phase != FS_WAIT_BULK) {
        if (len)
            sim_fail(s->dev, "fs: %zu bulk bytes nobody announced", len);
        return SIM_STALL;
    }
    const sim_step *st = cur_step(s);
    uint64_t left = s->bulk_expected - s->bulk_got;
    size_t take = len < left ? len : (size_t)left;
    bool vanish = false;
    if (st->fault.kind == SIM_FAULT_STALL_BULK && !s->fault_used && take) {
        s->fault_used = true;
        sim_halt(s->dev, sim_bulk_out_ep(s->dev));
        sim_log(s->dev, "fs: file data stalled, endpoint halted until CLEAR_FEATURE (fault)");
        return SIM_STALL;
    }
    if (st->fault.kind == SIM_FAULT_VANISH_AFTER_BYTES && s->bulk_got + take > st->fault.arg) {
        take = (size_t)(st->fault.arg - s->bulk_got);
        vanish = true;
    }
    if (!s->drain_only && take) {
        EVP_DigestUpdate(s->sha, data, take);
        if (s->cur)
            s->cur->received += take;
        s->res->bytes_received += take;
        if (s->save_fp && fwrite(data, 1, take, s->save_fp) != take) {
            sim_fail(s->dev, "fs: writing the received file failed");
            close_file(s);
        }
    }
    s->bulk_got += take;
    *consumed = take;
    if (vanish) {
        sim_vanish(s->dev, "fault during file data");
        return SIM_NO_DEVICE;
    }
    if (s->bulk_got == s->bulk_expected)
        file_complete(s);
    if (take < len) {
        sim_fail(s->dev, "fs: %zu bulk bytes more than announced", len - take);
        return SIM_STALL;
    }
    return SIM_OK;
}

/* The host cancelled a pending request read (cancel_misaligns). */
static void fs_cancel_read(void *self)
{
    sim_fs *s = self;
    if (!s->cfg->cancel_misaligns || s->phase != FS_WAIT_READ || s->committed || !cur_step(s))
        return;
    /* The firmware had queued its reply for this read; the host gave up on it, the reply did not. */
    s->committed = true;
    sim_log(s->dev, "fs: request read cancelled, the request is committed: the next read gets it misaligned");
}

static void fs_poll(void *self, int64_t now)
{
    sim_fs *s = self;
    maybe_leave(s, now);
    if (s->phase == FS_WAIT_EMPTY_ACK && now >= s->ack_deadline) {
        sim_fail(s->dev, "fs: no acknowledgement of the empty name");
        s->ack_deadline = SIM_NEVER;
        finish(s, now, "empty name not acknowledged");
    }
}

static int64_t fs_wakeup(const void *self)
{
    const sim_fs *s = self;
    int64_t w = s->phase == FS_WAIT_EMPTY_ACK ? s->ack_deadline : SIM_NEVER;
    if (s->phase == FS_WAIT_READ && s->fault_delay_until > sim_now(s->dev) && s->fault_delay_until < w)
        w = s->fault_delay_until;
    return w;
}

static int fs_create(const sim_stage_env *env, void **state)
{
    sim_fs *s = calloc(1, sizeof *s);
    if (!s)
        return CMBOOT_ERR_NO_MEMORY;
    s->dev = env->dev;
    s->cfg = env->cfg;
    s->script = env->script;
    s->res = env->res;
    s->sha = EVP_MD_CTX_new();
    if (!s->sha) {
        free(s);
        return CMBOOT_ERR_NO_MEMORY;
    }
    fs_reset(s);
    *state = s;
    return CMBOOT_OK;
}

static void fs_destroy(void *self)
{
    sim_fs *s = self;
    if (!s)
        return;
    close_file(s);
    EVP_MD_CTX_free(s->sha);
    free(s);
}

static void fs_enter(void *self)
{
    fs_reset(self);
}

static void fs_leave(void *self)
{
    close_file(self);
}

const sim_stage_ops sim_second_stage = {
    .stage = CMBOOT_STAGE_SECOND,
    .create = fs_create,
    .destroy = fs_destroy,
    .enter = fs_enter,
    .leave = fs_leave,
    .vendor = fs_vendor,
    .bulk_out = fs_bulk_out,
    .cancel_read = fs_cancel_read,
    .poll = fs_poll,
    .wakeup = fs_wakeup,
};
