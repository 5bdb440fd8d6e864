/* Writer: decompression in its own thread feeding a bounded queue of aligned buffers, O_DIRECT writes,
 * the image SHA-256 in a third thread so neither reading nor writing waits for it. */
#include "flash_internal.h"
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cmboot/device.h"
#include "cmboot/error.h"

#define DEFAULT_BUFFER (1024u * 1024u)
#define DEFAULT_BUFFERS 4u
/* Compressed input: the decoder is the slow side on average, but not everywhere (xz decodes a run of zeros
 * faster than it can be written), so the ring must absorb the difference, and every time the decoder finds it
 * full costs a cross-thread wake-up (expensive on a VM's idle vCPU). Measured on 128-256 MiB xz images
 * (docs/performance.md, "xz overlap"): 3 x 128 KiB lost 20-35 % to `xz -dc` alone, 8 x 256 KiB 0-15 %; its 2 MiB
 * beside xz's 8 MiB dictionary keep the process under 16 MiB. With SHA-256 beside the decoder (bmap ranges,
 * image digest): 4 x 256 KiB. */
#define SMALL_BUFFER_COMPRESSED (256u * 1024u)
#define SMALL_BUFFERS_COMPRESSED 8u
#define HASHING_BUFFER_COMPRESSED (256u * 1024u)
#define HASHING_BUFFERS_COMPRESSED 4u
#define MAX_MEMORY (12u * 1024u * 1024u)      /* queue memory cap: keeps the process under 16 MiB */
#define PROCESS_OVERHEAD (4u * 1024u * 1024u) /* code, libc, OpenSSL, bmap: not in the decoder's share */
#define MIN_BUFFER (64u * 1024u)
#define PROGRESS_EVERY_MS 200

typedef struct slot {
    uint8_t *data;
    size_t len;
    uint64_t offset;
} slot;

typedef struct pipeline {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot *slots;
    unsigned nslots;
    size_t bufsize;
    uint64_t produced;  /* buffers filled */
    uint64_t consumed;  /* buffers written */
    uint64_t hashed;    /* buffers hashed (hashing thread; unused with a bmap) */
    unsigned batch_min; /* the writer waits for this many filled buffers (or the end) */
    unsigned batch_max; /* and writes at most this many in one run */
    bool done;          /* producer reached the end or failed */
    bool stop;          /* consumer failed: producer must quit */
    bool hash_failed;
    int error;
    char reason[256];
    cmboot_flash_source *src;
    cmb_digest *image_md; /* whole-image SHA-256 (hashing thread), NULL with a bmap */
    const cmboot_flash_canceller *cancel;
} pipeline;

/* Every thread quits: a failure on the other side, or cmboot_flash_cancel (which wakes p->cv). */
static bool halted(const pipeline *p)
{
    return p->stop || cmboot_flash_cancel_requested(p->cancel);
}

/* Buffers both the writer and the hasher are done with. */
static uint64_t released(const pipeline *p)
{
    return p->image_md && p->hashed < p->consumed ? p->hashed : p->consumed;
}

/* Hashes the buffers in order while the writer writes them. */
static void *hasher(void *arg)
{
    pipeline *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!halted(p) && p->hashed == p->produced && !p->done)
            pthread_cond_wait(&p->cv, &p->mu);
        bool have = !halted(p) && p->hashed < p->produced;
        uint64_t index = p->hashed;
        pthread_mutex_unlock(&p->mu);
        if (!have)
            break;
        const slot *s = &p->slots[index % p->nslots];
        bool ok = cmb_digest_update(p->image_md, s->data, s->len);
        pthread_mutex_lock(&p->mu);
        if (ok) {
            p->hashed++;
        } else {
            p->hash_failed = true;
            p->stop = true;
        }
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (!ok)
            break;
    }
    return NULL;
}

static void *producer(void *arg)
{
    pipeline *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!halted(p) && p->produced - released(p) >= p->nslots)
            pthread_cond_wait(&p->cv, &p->mu);
        bool stop = halted(p);
        uint64_t index = p->produced;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        slot *s = &p->slots[index % p->nslots];
        size_t got = 0;
        int rc = cmboot_flash_source_read(p->src, s->data, p->bufsize, &got);
        s->len = got;
        s->offset = index * p->bufsize;
        pthread_mutex_lock(&p->mu);
        if (rc != CMBOOT_OK) {
            p->error = rc;
            snprintf(p->reason, sizeof p->reason, "%s", cmb_flash_source_error(p->src));
            p->done = true;
        } else if (got == 0) {
            p->done = true;
        } else {
            p->produced++;
            if (got < p->bufsize)
                p->done = true;
        }
        bool finished = p->done;
        if (finished || p->image_md || p->produced - p->consumed == p->batch_min)
            pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (finished)
            break;
    }
    return NULL;
}

/* O_DIRECT is switched on the one descriptor of the target (fcntl) for aligned pieces. */
typedef cmb_write_io target_io;

/* Switches O_DIRECT on the descriptor; false when it stays buffered (tmpfs and friends). */
static bool set_direct(target_io *t, bool on)
{
    if (on && !t->can_direct)
        return false;
    if (t->direct_on == on)
        return true;
    int fl = fcntl(t->fd, F_GETFL);
    if (fl < 0 || fcntl(t->fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT) != 0) {
        if (on)
            t->can_direct = false;
        return false;
    }
    t->direct_on = on;
    return true;
}

/* A full disk, file system, quota or file size limit: the target is too small for the image. Not the common
 * errno mapping on purpose: only here does ENOSPC mean NO_SPACE, and any other failed write is an I/O error of
 * the target (its errno goes into the report's text). */
static int write_error(ssize_t n)
{
    return n < 0 && (errno == ENOSPC || errno == EDQUOT || errno == EFBIG) ? CMBOOT_ERR_NO_SPACE : CMBOOT_ERR_IO;
}

int cmb_flash_write_run(cmb_write_io *t, const struct iovec *iov, int cnt, uint64_t off, uint64_t *fail_off)
{
    struct iovec v[CMB_WRITE_RUN_MAX];
    if (cnt < 1 || cnt > CMB_WRITE_RUN_MAX)
        return CMBOOT_ERR_INVALID_ARG;
    memcpy(v, iov, (size_t)cnt * sizeof *v);
    bool aligned = off % CMB_FLASH_ALIGN == 0;
    for (int i = 0; i < cnt; i++)
        if ((uintptr_t)v[i].iov_base % CMB_FLASH_ALIGN != 0 || v[i].iov_len % CMB_FLASH_ALIGN != 0)
            aligned = false;
    if (!aligned || !set_direct(t, true))
        set_direct(t, false);
    struct iovec *cur = v;
    while (cnt > 0) {
        ssize_t n = t->writev_at ? t->writev_at(t->fd, cur, cnt, (off_t)off) : pwritev(t->fd, cur, cnt, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *fail_off = off;
            return write_error(n);
        }
        off += (uint64_t)n;
        /* A short write: on from the first byte not written (through the page cache if that is unaligned). */
        if ((uint64_t)n % CMB_FLASH_ALIGN != 0)
            set_direct(t, false);
        size_t left = (size_t)n;
        while (cnt > 0 && left >= cur->iov_len) {
            left -= cur->iov_len;
            cur++;
            cnt--;
        }
        if (cnt > 0) {
            cur->iov_base = (uint8_t *)cur->iov_base + left;
            cur->iov_len -= left;
        }
    }
    return CMBOOT_OK;
}

static int write_all(target_io *t, const uint8_t *p, size_t len, uint64_t off, uint64_t *fail_off)
{
    struct iovec v = {(void *)p, len};
    return cmb_flash_write_run(t, &v, 1, off, fail_off);
}

/* Writes a piece: the aligned middle with O_DIRECT, an unaligned head or tail through the page cache. On
 * failure *fail_off is the first byte that did not reach the target. */
static int write_piece(target_io *t, const uint8_t *p, size_t len, uint64_t off, uint64_t *fail_off)
{
    const uint64_t a = CMB_FLASH_ALIGN;
    uint64_t head_end = (off + a - 1) / a * a;
    if (head_end > off + len)
        head_end = off + len;
    uint64_t tail_start = (off + len) / a * a;
    if (tail_start < head_end)
        tail_start = head_end;
    int rc = CMBOOT_OK;
    if (head_end > off)
        rc = write_all(t, p, (size_t)(head_end - off), off, fail_off);
    if (rc == CMBOOT_OK && tail_start > head_end)
        rc = write_all(t, p + (head_end - off), (size_t)(tail_start - head_end), head_end, fail_off);
    if (rc == CMBOOT_OK && off + len > tail_start)
        rc = write_all(t, p + (tail_start - off), (size_t)(off + len - tail_start), tail_start, fail_off);
    return rc;
}

/* The reason for a failed write of [off, ...): how far it got, and why. */
static void write_failed(cmboot_flash_result *res, int rc, int err)
{
    res->fail_offset_valid = true;
    if (rc == CMBOOT_ERR_NO_SPACE)
        snprintf(res->reason, sizeof res->reason,
                 "the target is full: %llu bytes written, the image does not fit (no room at offset %llu)",
                 (unsigned long long)res->bytes_written, (unsigned long long)res->fail_offset);
    else
        snprintf(res->reason, sizeof res->reason, "write failed at offset %llu after %llu bytes written: %s",
                 (unsigned long long)res->fail_offset, (unsigned long long)res->bytes_written, strerror(err));
}

typedef struct range_state {
    const cmboot_bmap *bmap;
    size_t index; /* current range */
    cmb_digest *md;
    bool open; /* md holds a partial range */
} range_state;

static cmb_digest_kind bmap_kind(const cmboot_bmap *b)
{
    return b->digest_len == 20 ? CMB_DIGEST_SHA1 : CMB_DIGEST_SHA256;
}

/* Writes the parts of one buffer that the bmap maps, checking each range's digest as it completes. */
static int write_mapped(target_io *t, range_state *rs, const slot *s, cmboot_flash_result *res)
{
    const cmboot_bmap *b = rs->bmap;
    uint64_t end = s->offset + s->len;
    while (rs->index < b->range_count) {
        const cmboot_bmap_range *r = &b->ranges[rs->index];
        uint64_t rstart = r->first * b->block_size;
        uint64_t rend = (r->last + 1) * b->block_size;
        if (rend > b->image_size)
            rend = b->image_size;
        if (rstart >= end)
            break;
        uint64_t from = rstart > s->offset ? rstart : s->offset;
        uint64_t to = rend < end ? rend : end;
        if (to > from) {
            if (!rs->open) {
                if (!cmb_digest_reset(rs->md, bmap_kind(b)))
                    return CMBOOT_ERR_NO_MEMORY;
                rs->open = true;
            }
            const uint8_t *p = s->data + (from - s->offset);
            if (!cmb_digest_update(rs->md, p, (size_t)(to - from)))
                return CMBOOT_ERR_NO_MEMORY;
            int rc = write_piece(t, p, (size_t)(to - from), from, &res->fail_offset);
            if (rc != CMBOOT_OK) {
                int err = errno;
                res->bytes_written += res->fail_offset - from;
                write_failed(res, rc, err);
                return rc;
            }
            res->bytes_written += to - from;
        }
        if (rend > end)
            break; /* the range continues in the next buffer */
        uint8_t digest[CMB_DIGEST_MAX];
        size_t dlen = 0; /* 0: no byte of the range was seen, which never matches */
        if (rs->open) {
            if (!cmb_digest_final(rs->md, digest))
                return CMBOOT_ERR_NO_MEMORY;
            dlen = cmb_digest_size(bmap_kind(b));
        }
        rs->open = false;
        if (r->has_digest && (dlen != (size_t)b->digest_len || memcmp(digest, r->digest, dlen) != 0)) {
            res->fail_offset = rstart;
            res->fail_offset_valid = true;
            snprintf(res->reason, sizeof res->reason,
                     "image data of blocks %llu-%llu (offset %llu) does not match the bmap's checksum",
                     (unsigned long long)r->first, (unsigned long long)r->last, (unsigned long long)rstart);
            return CMBOOT_ERR_VERIFY;
        }
        rs->index++;
    }
    return CMBOOT_OK;
}

/* Writes the k filled buffers from p->consumed on as one run (a short last buffer, the image's end, after it). */
static int write_run(target_io *t, pipeline *p, unsigned k, cmboot_flash_result *res)
{
    struct iovec iov[CMB_WRITE_RUN_MAX];
    const slot *first = &p->slots[p->consumed % p->nslots];
    const slot *last = &p->slots[(p->consumed + k - 1) % p->nslots];
    unsigned full = last->len % CMB_FLASH_ALIGN == 0 ? k : k - 1;
    uint64_t len = 0;
    for (unsigned i = 0; i < full; i++) {
        const slot *s = &p->slots[(p->consumed + i) % p->nslots];
        iov[i].iov_base = s->data;
        iov[i].iov_len = s->len;
        len += s->len;
    }
    int rc = full ? cmb_flash_write_run(t, iov, (int)full, first->offset, &res->fail_offset) : CMBOOT_OK;
    if (rc == CMBOOT_OK && full < k)
        rc = write_piece(t, last->data, last->len, last->offset, &res->fail_offset);
    if (rc == CMBOOT_OK) {
        res->bytes_written += len + (full < k ? last->len : 0);
    } else {
        int err = errno;
        res->bytes_written += res->fail_offset - first->offset;
        write_failed(res, rc, err);
    }
    return rc;
}

/* With a bmap every buffer goes on its own: only its mapped ranges are written. */
static int write_mapped_run(target_io *t, range_state *rs, pipeline *p, unsigned k, cmboot_flash_result *res)
{
    int rc = CMBOOT_OK;
    for (unsigned i = 0; i < k && rc == CMBOOT_OK; i++)
        rc = write_mapped(t, rs, &p->slots[(p->consumed + i) % p->nslots], res);
    return rc;
}

/* Consumer side: takes filled buffers in order and writes them. */
static int run_writer(const cmboot_flash_config *cfg, pipeline *p, target_io *t, range_state *rs, uint64_t total,
                      cmboot_flash_result *res, int64_t started)
{
    int64_t last_progress = 0;
    uint64_t position = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->produced - p->consumed < p->batch_min && !p->done && !halted(p))
            pthread_cond_wait(&p->cv, &p->mu);
        bool cancelled = cmboot_flash_cancel_requested(p->cancel);
        uint64_t have_n = p->produced - p->consumed;
        bool have = have_n > 0 && !halted(p);
        int perr = p->hash_failed ? CMBOOT_ERR_NO_MEMORY : p->error;
        pthread_mutex_unlock(&p->mu);
        if (cancelled) {
            snprintf(res->reason, sizeof res->reason, "interrupted after writing %llu bytes",
                     (unsigned long long)res->bytes_written);
            return CMBOOT_ERR_CANCELLED;
        }
        if (!have) {
            if (perr != CMBOOT_OK && (size_t)snprintf(res->reason, sizeof res->reason, "cannot read the image: %s",
                                                      p->reason) >= sizeof res->reason)
                res->reason[sizeof res->reason - 1] = 0;
            return perr;
        }
        res->target_touched = true; /* from here on a failure is a write failure, never a refusal */
        /* Every buffer filled so far in one run: bigger writes whenever the decoder is ahead. */
        unsigned k = (unsigned)(have_n < p->batch_max ? have_n : p->batch_max);
        int rc = rs->bmap ? write_mapped_run(t, rs, p, k, res) : write_run(t, p, k, res);
        if (rc != CMBOOT_OK)
            return rc;
        const slot *last = &p->slots[(p->consumed + k - 1) % p->nslots];
        position = last->offset + last->len;
        pthread_mutex_lock(&p->mu);
        p->consumed += k;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        int64_t now = cmboot_now_ms();
        if (now - last_progress >= PROGRESS_EVERY_MS) {
            last_progress = now;
            cmb_flash_emit(cfg, CMBOOT_EV_PROGRESS, "write", NULL, position, total, CMBOOT_OK,
                           (uint64_t)(now - started));
        }
        res->image_size = position;
    }
}

static int stream_image(const cmboot_flash_config *cfg, cmboot_flash_source *src, const cmboot_bmap *bmap, target_io *t,
                        uint64_t total, cmboot_flash_result *res)
{
    /* Compressed input: the decompressor is the slow side, small buffers keep the overlap and the memory low. */
    bool raw = strcmp(cmboot_flash_source_format(src), "raw") == 0;
    bool hashing = bmap || cfg->image_digest || cfg->verify;
    size_t bufsize = cfg->buffer_size ? cfg->buffer_size
                     : raw            ? DEFAULT_BUFFER
                     : hashing        ? HASHING_BUFFER_COMPRESSED
                                      : SMALL_BUFFER_COMPRESSED;
    unsigned n = cfg->buffers ? cfg->buffers
                 : raw        ? DEFAULT_BUFFERS
                 : hashing    ? HASHING_BUFFERS_COMPRESSED
                              : SMALL_BUFFERS_COMPRESSED;
    if (bufsize % CMB_FLASH_ALIGN != 0 || n < 2 || bufsize > MAX_MEMORY / 2 || (uint64_t)bufsize * n > MAX_MEMORY)
        return CMBOOT_ERR_INVALID_ARG;
    /* --max-memory: the queue takes at most a quarter, the decoder what is left after the process's own. */
    uint64_t decoder_mem = 0;
    if (cfg->max_memory) {
        while ((uint64_t)bufsize * n > cfg->max_memory / 4 && bufsize / 2 >= MIN_BUFFER)
            bufsize = bufsize / 2 / CMB_FLASH_ALIGN * CMB_FLASH_ALIGN;
        uint64_t fixed = (uint64_t)bufsize * n + PROCESS_OVERHEAD;
        if (cfg->max_memory < fixed + MIN_BUFFER) {
            snprintf(res->reason, sizeof res->reason,
                     "--max-memory %llu KiB is too small: the queue and the process alone take %llu KiB",
                     (unsigned long long)(cfg->max_memory >> 10), (unsigned long long)(fixed >> 10));
            return CMBOOT_ERR_INVALID_ARG;
        }
        decoder_mem = cfg->max_memory - fixed;
    }
    char note[160];
    int prc = cmb_flash_source_prepare(src, cfg->threads, decoder_mem, note, sizeof note);
    if (prc != CMBOOT_OK) {
        snprintf(res->reason, sizeof res->reason, "%s", cmb_flash_source_error(src));
        return prc;
    }
    if (note[0])
        cmb_flash_emit(cfg, CMBOOT_EV_PHASE, "decode", note, 0, 0, CMBOOT_OK, 0);
    pipeline p;
    memset(&p, 0, sizeof p);
    p.nslots = n;
    /* The writer sleeps until half the ring is filled, then writes every filled buffer in one run: fewer
     * wake-ups and syscalls on the cores the decoder needs, while the decoder fills the other half. */
    p.batch_min = (n + 1) / 2;
    p.batch_max = n < CMB_WRITE_RUN_MAX ? n : CMB_WRITE_RUN_MAX;
    p.bufsize = bufsize;
    p.src = src;
    p.cancel = cfg->cancel;
    range_state rs = {bmap, 0, NULL, false};
    int rc = CMBOOT_OK;
    p.slots = calloc(n, sizeof *p.slots);
    if (!p.slots)
        return CMBOOT_ERR_NO_MEMORY;
    for (unsigned i = 0; i < n && rc == CMBOOT_OK; i++) {
        if (posix_memalign((void **)&p.slots[i].data, CMB_FLASH_ALIGN, bufsize) != 0)
            rc = CMBOOT_ERR_NO_MEMORY;
    }
    if (rc == CMBOOT_OK && !bmap && (cfg->image_digest || cfg->verify) &&
        !(p.image_md = cmb_digest_new(CMB_DIGEST_SHA256)))
        rc = CMBOOT_ERR_NO_MEMORY;
    if (rc == CMBOOT_OK && bmap && !(rs.md = cmb_digest_new(bmap_kind(bmap))))
        rc = CMBOOT_ERR_NO_MEMORY;
    pthread_t thread, hash_thread;
    bool started = false, hash_started = false, sync_init = false;
    if (rc == CMBOOT_OK) {
        sync_init = true;
        pthread_mutex_init(&p.mu, NULL);
        pthread_cond_init(&p.cv, NULL);
        cmb_flash_cancel_attach(cfg->cancel, &p.mu, &p.cv);
        if (pthread_create(&thread, NULL, producer, &p) != 0)
            rc = CMBOOT_ERR_NO_MEMORY;
        else
            started = true;
        if (started && p.image_md) {
            if (pthread_create(&hash_thread, NULL, hasher, &p) != 0)
                rc = CMBOOT_ERR_NO_MEMORY;
            else
                hash_started = true;
        }
    }
    if (started) {
        if (rc == CMBOOT_OK)
            rc = run_writer(cfg, &p, t, &rs, total, res, cmboot_now_ms());
        pthread_mutex_lock(&p.mu);
        /* Let the hasher finish the last buffers before stopping everything. */
        while (rc == CMBOOT_OK && hash_started && !halted(&p) && !p.hash_failed && p.hashed < p.produced)
            pthread_cond_wait(&p.cv, &p.mu);
        if (rc == CMBOOT_OK && p.hash_failed)
            rc = CMBOOT_ERR_NO_MEMORY;
        if (rc == CMBOOT_OK && cmboot_flash_cancel_requested(cfg->cancel)) {
            rc = CMBOOT_ERR_CANCELLED;
            snprintf(res->reason, sizeof res->reason, "interrupted while hashing the last buffers");
        }
        p.stop = true;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        pthread_join(thread, NULL);
        if (hash_started)
            pthread_join(hash_thread, NULL);
    }
    if (sync_init) {
        cmb_flash_cancel_attach(cfg->cancel, NULL, NULL); /* before p.mu goes: no cancel touches it after */
        pthread_cond_destroy(&p.cv);
        pthread_mutex_destroy(&p.mu);
    }
    if (rc == CMBOOT_OK && p.image_md) {
        if (cmb_digest_final(p.image_md, res->image_sha256))
            res->image_sha256_valid = true;
    }
    if (rc == CMBOOT_OK && bmap && (res->image_size != bmap->image_size || rs.index != bmap->range_count)) {
        snprintf(res->reason, sizeof res->reason, "the image has %llu bytes, its bmap says %llu",
                 (unsigned long long)res->image_size, (unsigned long long)bmap->image_size);
        rc = CMBOOT_ERR_FORMAT;
    }
    cmb_digest_free(p.image_md);
    cmb_digest_free(rs.md);
    for (unsigned i = 0; i < n; i++)
        free(p.slots[i].data);
    free(p.slots);
    return rc;
}

static int fail(cmboot_flash_result *res, int rc, const char *reason)
{
    res->error = rc;
    if (reason && !res->reason[0])
        snprintf(res->reason, sizeof res->reason, "%s", reason);
    return rc;
}

/* From the target's check to the "done"/"failed" event; src is closed here (its decoder's memory goes as soon
 * as the image is written), bmap stays the caller's. */
static int write_opened(const cmboot_flash_config *cfg, cmboot_flash_source *src, const cmboot_bmap *bmap,
                        cmboot_flash_result *res, int64_t t0)
{
    int rc;
    snprintf(res->format, sizeof res->format, "%s", cmboot_flash_source_format(src));
    uint64_t total = 0;
    if (bmap)
        total = bmap->image_size;
    else
        cmboot_flash_source_size_known(src, &total);
    /* Opened once: every check, write and read-back goes through this one descriptor. */
    cmboot_target *target = NULL;
    rc = cmboot_target_open(cfg->env, cfg->target, total, cfg->target_flags, cfg->port_path, &target, res->reason,
                            sizeof res->reason);
    target_io t = {-1, true, false, NULL};
    if (rc == CMBOOT_OK) {
        res->target = *cmboot_target_get_identity(target);
        t.fd = cmboot_target_fd(target);
        /* A gadget's disks share the port path: the one opened must also be the LUN / kind chosen. */
        if (res->target.is_block)
            rc = cmb_disk_check_choice(cfg->env, res->target.disk, cfg->lun, cfg->target_kind, res->reason,
                                       sizeof res->reason);
    }
    int64_t t1 = cmboot_now_ms();
    res->check_ms = t1 - t0;
    if (rc == CMBOOT_OK && cmboot_flash_cancel_requested(cfg->cancel)) {
        rc = CMBOOT_ERR_CANCELLED;
        snprintf(res->reason, sizeof res->reason, "interrupted before writing");
    }
    if (rc == CMBOOT_OK) {
        cmb_flash_emit(cfg, CMBOOT_EV_PHASE, "write", res->format, 0, total, CMBOOT_OK, 0);
        rc = stream_image(cfg, src, bmap, &t, total, res);
        if (rc == CMBOOT_OK)
            cmb_flash_emit(cfg, CMBOOT_EV_PROGRESS, "write", NULL, res->image_size, total ? total : res->image_size,
                           CMBOOT_OK, (uint64_t)(cmboot_now_ms() - t1));
    }
    cmboot_flash_source_close(src);
    int64_t t2 = cmboot_now_ms();
    res->write_ms = t2 - t1;
    if (target) {
        cmb_flash_emit(cfg, CMBOOT_EV_PHASE, "sync", cfg->target, 0, 0, CMBOOT_OK, 0);
        struct stat st;
        /* A regular file becomes the image: grown when its tail is unmapped, cut when it was longer. */
        if (rc == CMBOOT_OK && !res->target.is_block && fstat(t.fd, &st) == 0 &&
            (uint64_t)st.st_size != res->image_size) {
            if (ftruncate(t.fd, (off_t)res->image_size) != 0) {
                rc = CMBOOT_ERR_IO;
                snprintf(res->reason, sizeof res->reason, "cannot set %s to the image size: %s", cfg->target,
                         strerror(errno));
            } else if ((uint64_t)st.st_size > res->image_size) {
                res->truncated_from = (uint64_t)st.st_size;
            }
        }
        if (res->target_touched && fsync(t.fd) != 0 && rc == CMBOOT_OK) {
            rc = CMBOOT_ERR_IO;
            snprintf(res->reason, sizeof res->reason, "flushing %s failed: %s", cfg->target, strerror(errno));
        }
    }
    res->sync_ms = cmboot_now_ms() - t2;
    /* The disk read back must be the disk written: same diskseq behind the descriptor and in sysfs. */
    if (rc == CMBOOT_OK)
        rc = cmboot_target_recheck(target, res->reason, sizeof res->reason);
    if (rc == CMBOOT_OK && cfg->verify)
        rc = cmb_flash_verify_fd(cfg, bmap, t.fd, res);
    if (rc == CMBOOT_OK && (rc = cmboot_target_recheck(target, res->reason, sizeof res->reason)) != CMBOOT_OK)
        res->verified = false;
    /* A file we created for a write that failed before its first byte is removed again. */
    cmboot_target_close(target, rc != CMBOOT_OK && !res->target_touched);
    res->error = rc;
    cmb_flash_emit(cfg, CMBOOT_EV_PHASE, rc == CMBOOT_OK ? "done" : "failed", res->reason, res->bytes_written,
                   res->image_size, rc, (uint64_t)(cmboot_now_ms() - t0));
    return rc;
}

/* cmboot_flash_write on the library's own structs. */
static int flash_write(const cmboot_flash_config *cfg, cmboot_flash_result *res)
{
    if (!cfg->image || !cfg->target)
        return CMBOOT_ERR_INVALID_ARG;
    int64_t t0 = cmboot_now_ms();
    cmb_flash_emit(cfg, CMBOOT_EV_PHASE, "check", cfg->target, 0, 0, CMBOOT_OK, 0);
    cmboot_flash_source *src = NULL;
    int rc = cmboot_flash_source_open_flags(cfg->image, cfg->source_flags, &src, res->reason, sizeof res->reason);
    if (rc != CMBOOT_OK)
        return fail(res, rc, "cannot open image");
    cmboot_bmap *bmap = NULL;
    if (cfg->bmap && (rc = cmboot_bmap_load(cfg->bmap, &bmap)) != CMBOOT_OK) {
        snprintf(res->format, sizeof res->format, "%s", cmboot_flash_source_format(src));
        cmboot_flash_source_close(src);
        snprintf(res->reason, sizeof res->reason, "bmap %s is %s", cfg->bmap,
                 rc == CMBOOT_ERR_VERIFY ? "corrupt (its checksum does not match)" : "unusable");
        return fail(res, rc == CMBOOT_ERR_VERIFY ? CMBOOT_ERR_FORMAT : rc, NULL);
    }
    rc = write_opened(cfg, src, bmap, res, t0);
    cmboot_bmap_free(bmap);
    return rc;
}

int cmboot_flash_write(const cmboot_flash_config *cfg, cmboot_flash_result *res)
{
    cmboot_flash_config c;
    cmboot_target_env env;
    cmboot_flash_result r;
    int rc = cmb_flash_config_load(cfg, &c, &env);
    if (rc == CMBOOT_OK)
        rc = cmb_flash_result_load(res, &r); /* only to check its size: a write starts afresh */
    if (rc != CMBOOT_OK)
        return rc;
    cmboot_flash_result_default(&r);
    rc = flash_write(&c, &r);
    cmb_flash_result_store(&r, res);
    return rc;
}

int cmb_flash_write_opened(const cmboot_flash_config *cfg, cmboot_flash_source *src, const cmboot_bmap *bmap,
                           cmboot_flash_result *res)
{
    if (!cfg || !res || !src || !cfg->target) {
        cmboot_flash_source_close(src);
        return CMBOOT_ERR_INVALID_ARG;
    }
    cmboot_flash_result_default(res);
    int64_t t0 = cmboot_now_ms();
    cmb_flash_emit(cfg, CMBOOT_EV_PHASE, "check", cfg->target, 0, 0, CMBOOT_OK, 0);
    return write_opened(cfg, src, bmap, res, t0);
}
