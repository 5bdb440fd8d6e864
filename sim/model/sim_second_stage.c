/* Second stage of the model (protocol.md section 4): runs the script of file-server requests with its faults. */
#include "sim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sim_fs_reset(sim_device *dev)
{
    dev->fs = FS_WAIT_READ;
    dev->step = 0;
    dev->sub = 0;
    dev->drain_only = false;
    dev->ack_deadline = SIM_NEVER;
    dev->cur = NULL;
    dev->fault_delay_until = -1;
    dev->fault_used = false;
    dev->committed = false;
    dev->misaligned = false;
}

void sim_fs_close_file(sim_device *dev)
{
    if (dev->save_fp)
        fclose(dev->save_fp);
    dev->save_fp = NULL;
}

static const sim_step *cur_step(const sim_device *dev)
{
    return dev->step < dev->script.count ? &dev->script.steps[dev->step] : NULL;
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
    case SIM_FAULT_GARBAGE: case SIM_FAULT_UNKNOWN_COMMAND:
    case SIM_FAULT_UNTERMINATED: case SIM_FAULT_OVERLONG:
        return true;
    case SIM_FAULT_SHORT:
        return short_len(st) < 4 + step_name_len(st) + 1;
    default:
        return false;
    }
}

/* leave_without_done: where the firmware would say Done (or send the empty name), or when it has nothing
 * more to ask, it leaves the bus instead and boots what it loaded. */
static void maybe_leave(sim_device *dev, int64_t now)
{
    if (!dev->cfg.leave_without_done || dev->fs != FS_WAIT_READ || dev->sub != 0 || dev->committed)
        return;
    const sim_step *st = cur_step(dev);
    if (st && st->kind != SIM_STEP_DONE && st->kind != SIM_STEP_EMPTY)
        return;
    dev->fs = FS_FINISHED;
    dev->res.left_without_done = true;
    sim_log(dev, "fs: leaving without Done");
    sim_schedule_stage_end(dev, now + dev->cfg.disconnect_delay_ms, sim_after_done_stage(dev));
}

static void next_step(sim_device *dev)
{
    dev->step++;
    dev->sub = 0;
    dev->fs = FS_WAIT_READ;
    dev->cur = NULL;
    dev->drain_only = false;
    dev->fault_delay_until = -1;
    dev->fault_used = false;
    dev->committed = false;
    dev->misaligned = false;
    dev->res.steps_done++;
    maybe_leave(dev, dev->now);
}

static void finish(sim_device *dev, int64_t now, const char *how)
{
    dev->res.script_complete = true;
    dev->fs = FS_FINISHED;
    dev->res.steps_done++;
    sim_log(dev, "fs: %s, second stage over", how);
    sim_schedule_stage_end(dev, now + dev->cfg.disconnect_delay_ms, sim_after_done_stage(dev));
}

static sim_file_record *new_record(sim_device *dev, const sim_step *st)
{
    if (dev->nfiles == dev->files_cap) {
        size_t cap = dev->files_cap ? dev->files_cap * 2 : 16;
        sim_file_record *n = realloc(dev->files, cap * sizeof *n);
        if (!n)
            return NULL;
        dev->files = n;
        dev->files_cap = cap;
    }
    sim_file_record *r = &dev->files[dev->nfiles++];
    memset(r, 0, sizeof *r);
    sim_name_printable(st->name, st->name_len, r->name, sizeof r->name);
    r->announced_size = -1;
    r->read_size = -1;
    return r;
}

/* Builds the 260-byte request of the current step, faults applied. Returns its length. */
static size_t build_request(sim_device *dev, const sim_step *st, uint8_t req[260], int32_t *command)
{
    int32_t cmd;
    switch (st->kind) {
    case SIM_STEP_GET: cmd = dev->sub == 0 ? 0 : 1; break;
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
    case SIM_FAULT_UNKNOWN_COMMAND:
        cmd = (int32_t)st->fault.arg;
        break;
    case SIM_FAULT_UNTERMINATED:
        memset(req + 4, 'A', 256);
        break;
    case SIM_FAULT_OVERLONG:
        memset(req + 4, 'a', 255);
        memcpy(req + 4 + 251, ".txt", 4);
        req[4 + 255] = 0;
        break;
    case SIM_FAULT_SHORT:
        n = short_len(st);
        break;
    case SIM_FAULT_LONG: {
        /* what an earlier, longer request left in the firmware's buffer */
        static const char stale[] = "overlays/bcm2711-rpi-cm4-stale-buffer.dtbo";
        for (size_t i = 4 + step_name_len(st) + 1; i < 260; i++)
            req[i] = (uint8_t)stale[i % (sizeof stale - 1)];
        break;
    }
    default:
        break;
    }
    uint32_t u = (uint32_t)cmd;
    req[0] = (uint8_t)u;
    req[1] = (uint8_t)(u >> 8);
    req[2] = (uint8_t)(u >> 16);
    req[3] = (uint8_t)(u >> 24);
    if (st->fault.kind == SIM_FAULT_GARBAGE) {
        for (size_t i = 0; i < 260; i++)
            req[i] = (uint8_t)(0x5a ^ (i * 37)) | 0x01; /* no NUL anywhere, command out of range */
        cmd = (int32_t)((uint32_t)req[0] | (uint32_t)req[1] << 8 | (uint32_t)req[2] << 16 |
                        (uint32_t)req[3] << 24);
    }
    *command = cmd;
    return n;
}

static sim_status deliver(sim_device *dev, uint16_t wLength, uint8_t *data, size_t *in_len, int64_t now)
{
    const sim_step *st = cur_step(dev);
    if (!st)
        return SIM_PENDING; /* nothing more to ask: NAK forever */
    if (dev->sub == 0) {
        switch (st->fault.kind) {
        case SIM_FAULT_VANISH:
            sim_vanish(dev, "fault at a file-server request");
            return SIM_NO_DEVICE;
        case SIM_FAULT_STALL:
            if (!dev->fault_used) {
                dev->fault_used = true;
                sim_log(dev, "fs: request read stalled (fault)");
                return SIM_STALL;
            }
            break;
        case SIM_FAULT_DELAY:
            if (dev->fault_delay_until < 0)
                dev->fault_delay_until = now + (int64_t)st->fault.arg;
            if (now < dev->fault_delay_until)
                return SIM_PENDING;
            break;
        default:
            break;
        }
    }
    if (wLength != 260)
        sim_fail(dev, "fs: request read of %u bytes, expected 260", wLength);
    uint8_t req[260];
    int32_t cmd;
    size_t n = build_request(dev, st, req, &cmd);
    bool misaligned = dev->committed;
    if (misaligned) {
        /* The cancelled read's reply went out anyway; this read gets it 4 bytes late: the name where the
         * command should be, zero padded. */
        uint8_t tail[260] = {0};
        memcpy(tail, req + 4, n > 4 ? n - 4 : 0);
        memcpy(req, tail, sizeof req);
        n = 260;
        dev->committed = false;
        dev->misaligned = true;
        dev->res.misaligned++;
    }
    n = n < wLength ? n : wLength;
    memcpy(data, req, n);
    *in_len = n;
    dev->res.requests++;
    char pname[SIM_NAME_FIELD * 4 + 1];
    sim_name_printable(st->name, st->name_len, pname, sizeof pname);
    sim_log(dev, "fs: request %u: command %d name \"%s\"%s%s%s", dev->res.requests, (int)cmd,
            (st->kind == SIM_STEP_DONE || st->kind == SIM_STEP_EMPTY) ? "" : pname,
            st->fault.kind ? " fault " : "", st->fault.kind ? sim_fault_name(st->fault.kind) : "",
            misaligned ? " (misaligned: the tail of the cancelled read)" : "");
    if (st->kind == SIM_STEP_DONE && !request_fault(st)) {
        finish(dev, now, "Done");
        return SIM_OK;
    }
    if (st->kind == SIM_STEP_EMPTY && !request_fault(st)) {
        dev->fs = FS_WAIT_EMPTY_ACK;
        dev->ack_deadline = now + dev->cfg.done_ack_timeout_ms;
        return SIM_OK;
    }
    if ((st->kind == SIM_STEP_GET || st->kind == SIM_STEP_READ) && (dev->sub == 0 || !dev->cur))
        dev->cur = new_record(dev, st);
    dev->fs = FS_WAIT_ANSWER;
    return SIM_OK;
}

static void check_size(sim_device *dev, const sim_step *st, const char *name, uint32_t len)
{
    if (st->must_exist && len == 0)
        sim_fail(dev, "fs: %s must exist, host answered size 0", name);
    if (st->must_be_absent && len != 0)
        sim_fail(dev, "fs: %s must be absent, host answered size %u", name, len);
    if (st->expect_size >= 0 && (int64_t)len != st->expect_size)
        sim_fail(dev, "fs: %s is %u bytes, expected %lld", name, len, (long long)st->expect_size);
}

static void open_save_file(sim_device *dev)
{
    if (!dev->save_dir || !dev->cur)
        return;
    char flat[sizeof dev->cur->name];
    snprintf(flat, sizeof flat, "%s", dev->cur->name);
    for (char *p = flat; *p; p++)
        if (*p == '/' || *p == '\\')
            *p = '_';
    if (flat[0] == '.' || flat[0] == 0)
        flat[0] = '_';
    char path[4096 + sizeof flat];
    snprintf(path, sizeof path, "%s/%s", dev->save_dir, flat);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    dev->save_fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!dev->save_fp) {
        if (fd >= 0)
            close(fd);
        sim_fail(dev, "fs: cannot save %s: %s", path, strerror(errno));
    }
}

static sim_status answer(sim_device *dev, uint32_t len, int64_t now)
{
    const sim_step *st = cur_step(dev);
    const char *name = dev->cur ? dev->cur->name : "";
    (void)now;
    if (request_fault(st)) {
        sim_log(dev, "fs: host answered the faulty request with write(%u)", len);
        if (st->kind == SIM_STEP_GET || st->kind == SIM_STEP_READ)
            if (dev->cur)
                dev->cur->announced_size = len;
        next_step(dev);
        return SIM_OK;
    }
    switch (st->kind) {
    case SIM_STEP_GET:
        if (dev->sub == 0) {
            sim_log(dev, "fs: GetFileSize %s -> %u", name, len);
            if (dev->cur)
                dev->cur->announced_size = len;
            check_size(dev, st, name, len);
            if (len == 0) {
                next_step(dev);
            } else {
                dev->sub = 1;
                dev->fs = FS_WAIT_READ;
            }
            return SIM_OK;
        }
        /* fall through */
    case SIM_STEP_READ:
        sim_log(dev, "fs: ReadFile %s -> write(%u)", name, len);
        if (st->kind == SIM_STEP_READ)
            check_size(dev, st, name, len);
        else if (dev->cur && dev->cur->announced_size != (int64_t)len)
            sim_fail(dev, "fs: ReadFile %s answered %u bytes, GetFileSize said %lld", name, len,
                     (long long)dev->cur->announced_size);
        if (dev->cur)
            dev->cur->read_size = len;
        if (len == 0) {
            next_step(dev);
            return SIM_OK;
        }
        EVP_DigestInit_ex(dev->sha, EVP_sha256(), NULL);
        dev->bulk_expected = len;
        dev->bulk_got = 0;
        dev->drain_only = false;
        open_save_file(dev);
        dev->fs = FS_WAIT_BULK;
        return SIM_OK;
    case SIM_STEP_META:
        sim_log(dev, "fs: metadata answered with write(%u)", len);
        if (len != 0) {
            sim_fail(dev, "fs: metadata answered with %u bytes, expected a zero-length write", len);
            dev->bulk_expected = len;
            dev->bulk_got = 0;
            dev->drain_only = true;
            dev->fs = FS_WAIT_BULK;
            return SIM_OK;
        }
        dev->res.metadata_acked++;
        next_step(dev);
        return SIM_OK;
    case SIM_STEP_RAW:
        sim_log(dev, "fs: raw request answered with write(%u)", len);
        if (st->command == 1 && len > 0) {
            dev->bulk_expected = len;
            dev->bulk_got = 0;
            dev->drain_only = true;
            dev->fs = FS_WAIT_BULK;
            return SIM_OK;
        }
        next_step(dev);
        return SIM_OK;
    default:
        return SIM_STALL;
    }
}

sim_status sim_fs_control(sim_device *dev, bool in, uint32_t len, uint16_t wLength, uint8_t *data,
                          size_t *in_len, int64_t now)
{
    if (in) {
        switch (dev->fs) {
        case FS_WAIT_READ:
            return deliver(dev, wLength, data, in_len, now);
        case FS_WAIT_ANSWER: {
            const sim_step *st = cur_step(dev);
            if (dev->misaligned)
                return SIM_PENDING; /* the firmware waits for the answer to its request: silent */
            if (!request_fault(st))
                sim_fail(dev, "fs: host read again without answering request %u", dev->res.requests);
            next_step(dev);
            return deliver(dev, wLength, data, in_len, now);
        }
        case FS_WAIT_BULK:
            sim_fail(dev, "fs: host read a request before sending all file data");
            return SIM_STALL;
        default:
            return SIM_PENDING; /* going away */
        }
    }
    switch (dev->fs) {
    case FS_WAIT_ANSWER:
        if (dev->misaligned) {
            dev->misaligned = false;
            sim_log(dev, "fs: write(%u) taken as the answer to the misaligned request %u", len, dev->res.requests);
        }
        return answer(dev, len, now);
    case FS_WAIT_EMPTY_ACK:
        if (len != 0)
            sim_fail(dev, "fs: empty name answered with write(%u), expected a zero-length write", len);
        dev->ack_deadline = SIM_NEVER;
        finish(dev, now, "empty name acknowledged");
        return SIM_OK;
    case FS_FINISHED:
        sim_log(dev, "fs: write(%u) after the end of the file server", len);
        return SIM_OK;
    default:
        sim_fail(dev, "fs: unexpected write(%u) (phase %d)", len, (int)dev->fs);
        return SIM_STALL;
    }
}

static void file_complete(sim_device *dev)
{
    const sim_step *st = cur_step(dev);
    sim_fs_close_file(dev);
    if (dev->drain_only) {
        next_step(dev);
        return;
    }
    sim_file_record *r = dev->cur;
    if (r) {
        unsigned int n = 0;
        EVP_DigestFinal_ex(dev->sha, r->sha256, &n);
        r->complete = true;
        if (st->expect_sha && memcmp(r->sha256, st->sha256, 32) != 0)
            sim_fail(dev, "fs: %s SHA-256 differs from the expected one", r->name);
        sim_log(dev, "fs: received %s (%llu bytes)", r->name, (unsigned long long)r->received);
    }
    dev->res.files_received++;
    next_step(dev);
}

sim_status sim_fs_bulk(sim_device *dev, const uint8_t *data, size_t len, size_t *consumed, int64_t now)
{
    (void)now;
    *consumed = 0;
    if (dev->fs != FS_WAIT_BULK) {
        if (len)
            sim_fail(dev, "fs: %zu bulk bytes nobody announced", len);
        return SIM_STALL;
    }
    const sim_step *st = cur_step(dev);
    uint64_t left = dev->bulk_expected - dev->bulk_got;
    size_t take = len < left ? len : (size_t)left;
    bool vanish = false;
    if (st->fault.kind == SIM_FAULT_STALL_BULK && !dev->fault_used && take) {
        dev->fault_used = true;
        sim_halt(dev, sim_bulk_out_ep(dev));
        sim_log(dev, "fs: file data stalled, endpoint halted until CLEAR_FEATURE (fault)");
        return SIM_STALL;
    }
    if (st->fault.kind == SIM_FAULT_VANISH_AFTER_BYTES && dev->bulk_got + take > st->fault.arg) {
        take = (size_t)(st->fault.arg - dev->bulk_got);
        vanish = true;
    }
    if (!dev->drain_only && take) {
        EVP_DigestUpdate(dev->sha, data, take);
        if (dev->cur)
            dev->cur->received += take;
        dev->res.bytes_received += take;
        if (dev->save_fp && fwrite(data, 1, take, dev->save_fp) != take) {
            sim_fail(dev, "fs: writing the received file failed");
            sim_fs_close_file(dev);
        }
    }
    dev->bulk_got += take;
    *consumed = take;
    if (vanish) {
        sim_vanish(dev, "fault during file data");
        return SIM_NO_DEVICE;
    }
    if (dev->bulk_got == dev->bulk_expected)
        file_complete(dev);
    if (take < len) {
        sim_fail(dev, "fs: %zu bulk bytes more than announced", len - take);
        return SIM_STALL;
    }
    return SIM_OK;
}

void sim_fs_cancel_read(sim_device *dev)
{
    if (!dev->cfg.cancel_misaligns || dev->fs != FS_WAIT_READ || dev->committed || !cur_step(dev))
        return;
    /* The firmware had queued its reply for this read; the host gave up on it, the reply did not. */
    dev->committed = true;
    sim_log(dev, "fs: request read cancelled, the request is committed: the next read gets it misaligned");
}

void sim_fs_poll(sim_device *dev, int64_t now)
{
    maybe_leave(dev, now);
    if (dev->fs == FS_WAIT_EMPTY_ACK && now >= dev->ack_deadline) {
        sim_fail(dev, "fs: no acknowledgement of the empty name");
        dev->ack_deadline = SIM_NEVER;
        finish(dev, now, "empty name not acknowledged");
    }
}

int64_t sim_fs_wakeup(const sim_device *dev)
{
    int64_t w = dev->fs == FS_WAIT_EMPTY_ACK ? dev->ack_deadline : SIM_NEVER;
    if (dev->fs == FS_WAIT_READ && dev->fault_delay_until > dev->now && dev->fault_delay_until < w)
        w = dev->fault_delay_until;
    return w;
}
