/* Read-back verification that bypasses the page cache: SHA-256 of what was meant vs what is on the target. */
#include "flash_internal.h"
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/device.h"
#include "cmboot/error.h"

#define VERIFY_BUFFER (1024u * 1024u)
#define VERIFY_SLOTS 2 /* one piece read while the other is hashed */
#define PROGRESS_EVERY_MS 200

/* Reads past the page cache: O_DIRECT on the descriptor, else its cached pages written and dropped first. */
static void bypass_cache(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && ((fl & O_DIRECT) || fcntl(fd, F_SETFL, fl | O_DIRECT) == 0))
        return;
    fsync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

/* Reads [off, off+len) of the target into buf (aligned reads), true on success. */
static int read_at(int fd, uint8_t *abuf, size_t abuf_size, uint64_t off, size_t len, const uint8_t **data,
                   uint64_t *fail_off)
{
    const uint64_t a = CMB_FLASH_ALIGN;
    uint64_t start = off / a * a;
    size_t want = (size_t)(((off + len + a - 1) / a * a) - start);
    if (want > abuf_size)
        return CMBOOT_ERR_INVALID_ARG;
    size_t have = 0;
    while (have < (size_t)(off - start) + len) {
        ssize_t n = pread(fd, abuf + have, want - have, (off_t)(start + have));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *fail_off = start + have;
            return CMBOOT_ERR_IO;
        }
        have += (size_t)n;
    }
    *data = abuf + (off - start);
    return CMBOOT_OK;
}

/* First differing byte in [from, to): streams the image again and compares with the target. */
static int locate_mismatch(const cmboot_flash_config *cfg, int fd, uint8_t *abuf, size_t abuf_size, uint8_t *img,
                           uint64_t from, uint64_t to, uint64_t *where)
{
    cmboot_flash_source *src = NULL;
    int rc = cmboot_flash_source_open_flags(cfg->image, cfg->source_flags, &src, NULL, 0);
    if (rc != CMBOOT_OK)
        return rc;
    size_t chunk = abuf_size - 2 * CMB_FLASH_ALIGN; /* img holds abuf_size bytes too */
    rc = CMBOOT_ERR_NOT_FOUND;
    uint64_t pos = 0;
    while (pos < to && !cmboot_flash_cancel_requested(cfg->cancel)) {
        size_t got = 0;
        size_t ask = chunk;
        if (pos < from && from - pos < ask)
            ask = (size_t)(from - pos); /* land exactly on the range start */
        if (cmboot_flash_source_read(src, img, ask, &got) != CMBOOT_OK || got == 0)
            break;
        if (pos + got > from) {
            uint64_t s = pos > from ? pos : from;
            uint64_t e = pos + got < to ? pos + got : to;
            const uint8_t *disk = NULL;
            uint64_t ioff;
            if (e > s && read_at(fd, abuf, abuf_size, s, (size_t)(e - s), &disk, &ioff) == CMBOOT_OK) {
                const uint8_t *mine = img + (s - pos);
                for (size_t i = 0; i < (size_t)(e - s); i++) {
                    if (mine[i] != disk[i]) {
                        *where = s + i;
                        rc = CMBOOT_OK;
                        break;
                    }
                }
            }
            if (rc == CMBOOT_OK)
                break;
        }
        pos += got;
    }
    cmboot_flash_source_close(src);
    return rc;
}

typedef struct vrange {
    uint64_t start, end;
    const uint8_t *digest;
    cmb_digest_kind kind;
} vrange;

/* One read buffer: a piece of a range, read by the caller's thread and hashed by the hashing thread. */
typedef struct vslot {
    uint8_t *buf;
    const uint8_t *data;
    size_t len;
    vrange range;
    size_t range_index;
    bool first, last; /* the piece opens / closes its range */
} vslot;

/* Reading the next piece overlaps hashing the previous one: two buffers, one hashing thread. */
typedef struct vpipe {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    vslot slots[VERIFY_SLOTS];
    size_t buf_size;
    uint64_t posted;     /* pieces read */
    uint64_t hashed;     /* pieces hashed */
    uint64_t bytes;      /* bytes hashed */
    uint64_t read_bytes; /* bytes read (reading thread only) */
    bool done;           /* no more pieces */
    bool stop;           /* the hasher found a mismatch or failed */
    int error;           /* CMBOOT_ERR_VERIFY (bad_range) or CMBOOT_ERR_NO_MEMORY */
    size_t bad_range;    /* index of the range whose digest differs */
    cmb_digest *md;
} vpipe;

/* Hashes one piece; at the end of its range compares the digest. */
static int hash_piece(vpipe *p, const vslot *s)
{
    if (s->first && !cmb_digest_reset(p->md, s->range.kind))
        return CMBOOT_ERR_NO_MEMORY;
    if (s->len && !cmb_digest_update(p->md, s->data, s->len))
        return CMBOOT_ERR_NO_MEMORY;
    if (!s->last)
        return CMBOOT_OK;
    uint8_t got[CMB_DIGEST_MAX];
    if (!cmb_digest_final(p->md, got))
        return CMBOOT_ERR_NO_MEMORY;
    return memcmp(got, s->range.digest, cmb_digest_size(s->range.kind)) == 0 ? CMBOOT_OK : CMBOOT_ERR_VERIFY;
}

/* Records a hashed piece (under p->mu). */
static void piece_hashed(vpipe *p, const vslot *s, int rc)
{
    if (rc == CMBOOT_OK) {
        p->hashed++;
        p->bytes += s->len;
    } else {
        p->error = rc;
        p->bad_range = s->range_index;
        p->stop = true;
    }
    pthread_cond_broadcast(&p->cv);
}

static void *hasher(void *arg)
{
    vpipe *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->hashed == p->posted && !p->done)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->stop || p->hashed == p->posted)
            break;
        const vslot *s = &p->slots[p->hashed % VERIFY_SLOTS];
        pthread_mutex_unlock(&p->mu);
        int rc = hash_piece(p, s);
        pthread_mutex_lock(&p->mu);
        piece_hashed(p, s, rc);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Waits until the hasher is done with the buffer the next piece goes into; false once it stopped. */
static bool next_free(vpipe *p, bool threaded, vslot **out)
{
    if (threaded)
        pthread_mutex_lock(&p->mu);
    while (threaded && !p->stop && p->posted - p->hashed >= VERIFY_SLOTS)
        pthread_cond_wait(&p->cv, &p->mu);
    bool ok = !p->stop;
    *out = &p->slots[p->posted % VERIFY_SLOTS];
    if (threaded)
        pthread_mutex_unlock(&p->mu);
    return ok;
}

/* Hands a piece read into s to the hasher (or hashes it here without a thread). */
static void post(vpipe *p, bool threaded, vslot *s)
{
    if (!threaded) {
        p->posted++;
        piece_hashed(p, s, hash_piece(p, s));
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->posted++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Reads range r piece by piece into the pipeline; stops early (OK) once the hasher stopped. */
static int read_range(const cmboot_flash_config *cfg, int fd, vpipe *p, bool threaded, const vrange *r, size_t index,
                      cmboot_flash_result *res, int64_t started, int64_t *last_progress, uint64_t total)
{
    size_t step = p->buf_size - 2 * CMB_FLASH_ALIGN;
    uint64_t off = r->start;
    do {
        if (cmboot_flash_cancel_requested(cfg->cancel))
            return CMBOOT_ERR_CANCELLED;
        vslot *s = NULL;
        if (!next_free(p, threaded, &s))
            return CMBOOT_OK;
        size_t len = r->end > off ? (r->end - off < step ? (size_t)(r->end - off) : step) : 0;
        s->data = s->buf;
        if (len) {
            errno = 0;
            int rc = read_at(fd, s->buf, p->buf_size, off, len, &s->data, &res->fail_offset);
            if (rc != CMBOOT_OK) {
                res->fail_offset_valid = true;
                snprintf(res->reason, sizeof res->reason, "read-back failed at offset %llu: %s",
                         (unsigned long long)res->fail_offset, errno ? strerror(errno) : "short read");
                return rc;
            }
        }
        s->len = len;
        s->range = *r;
        s->range_index = index;
        s->first = off == r->start;
        off += len;
        s->last = off >= r->end;
        post(p, threaded, s);
        /* Progress counts what was read: the hasher trails by at most one piece, and a cancel still hashes it. */
        p->read_bytes += len;
        int64_t now = cmboot_now_ms();
        if (now - *last_progress >= PROGRESS_EVERY_MS) {
            *last_progress = now;
            cmb_flash_emit(cfg, CMBOOT_EV_PROGRESS, "verify", NULL, p->read_bytes, total, CMBOOT_OK,
                           (uint64_t)(now - started));
        }
    } while (off < r->end);
    return CMBOOT_OK;
}

/* The verification ranges: the bmap's mapped ranges, else the whole image. */
static int range_at(const cmboot_bmap *bmap, const cmboot_flash_result *res, size_t i, vrange *r, char *reason,
                    size_t reason_size)
{
    if (!bmap) {
        *r = (vrange){0, res->image_size, res->image_sha256, CMB_DIGEST_SHA256};
        return CMBOOT_OK;
    }
    const cmboot_bmap_range *br = &bmap->ranges[i];
    if (!br->has_digest) {
        snprintf(reason, reason_size, "the bmap has no checksum for blocks %llu-%llu", (unsigned long long)br->first,
                 (unsigned long long)br->last);
        return CMBOOT_ERR_UNSUPPORTED;
    }
    *r = (vrange){br->first * bmap->block_size, (br->last + 1) * bmap->block_size, br->digest,
                  bmap->digest_len == 20 ? CMB_DIGEST_SHA1 : CMB_DIGEST_SHA256};
    if (r->end > bmap->image_size)
        r->end = bmap->image_size;
    return CMBOOT_OK;
}

/* Reads every range while the hashing thread hashes what was read before; the first differing range wins. */
static int verify_ranges(const cmboot_flash_config *cfg, const cmboot_bmap *bmap, int fd, vpipe *p,
                         cmboot_flash_result *res, int64_t t0)
{
    pthread_t thread;
    bool threaded = pthread_create(&thread, NULL, hasher, p) == 0; /* without a thread: hashed inline */
    uint64_t total = bmap ? cmboot_bmap_mapped_bytes(bmap) : res->image_size;
    size_t n = bmap ? bmap->range_count : 1;
    int64_t last = 0;
    int rc = CMBOOT_OK;
    for (size_t i = 0; rc == CMBOOT_OK && i < n; i++) {
        vrange r = {0, 0, NULL, CMB_DIGEST_SHA256};
        rc = range_at(bmap, res, i, &r, res->reason, sizeof res->reason);
        if (rc == CMBOOT_OK)
            rc = read_range(cfg, fd, p, threaded, &r, i, res, t0, &last, total);
    }
    pthread_mutex_lock(&p->mu);
    p->done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (threaded)
        pthread_join(thread, NULL);
    res->bytes_verified = p->bytes;
    if (p->error == CMBOOT_ERR_VERIFY) {
        /* A range read earlier differs: that is the answer, whatever stopped the reading after it. */
        vrange r = {0, 0, NULL, CMB_DIGEST_SHA256};
        range_at(bmap, res, p->bad_range, &r, res->reason, sizeof res->reason);
        uint64_t where = r.start;
        locate_mismatch(cfg, fd, p->slots[0].buf, p->buf_size, p->slots[1].buf, r.start, r.end, &where);
        res->fail_offset = where;
        res->fail_offset_valid = true;
        snprintf(res->reason, sizeof res->reason,
                 "verification failed: the target differs at offset %llu "
                 "(range %llu-%llu)",
                 (unsigned long long)where, (unsigned long long)r.start, (unsigned long long)r.end);
        return CMBOOT_ERR_VERIFY;
    }
    if (p->error != CMBOOT_OK)
        return p->error;
    if (rc == CMBOOT_ERR_CANCELLED)
        snprintf(res->reason, sizeof res->reason, "interrupted after verifying %llu bytes",
                 (unsigned long long)res->bytes_verified);
    return rc;
}

int cmb_flash_verify_fd(const cmboot_flash_config *cfg, const cmboot_bmap *bmap, int fd, cmboot_flash_result *res)
{
    if (!cfg || !res || !cfg->target || fd < 0)
        return CMBOOT_ERR_INVALID_ARG;
    if (!bmap && !res->image_sha256_valid)
        return CMBOOT_ERR_INVALID_ARG;
    int64_t t0 = cmboot_now_ms();
    cmb_flash_emit(cfg, CMBOOT_EV_PHASE, "verify", cfg->target, 0, 0, CMBOOT_OK, 0);
    res->bytes_verified = 0;
    res->verified = false;
    bypass_cache(fd);
    vpipe p;
    memset(&p, 0, sizeof p);
    p.buf_size = VERIFY_BUFFER + 2 * CMB_FLASH_ALIGN;
    p.md = cmb_digest_new(CMB_DIGEST_SHA256);
    bool sync = false;
    int rc = p.md ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
    if (rc == CMBOOT_OK && pthread_mutex_init(&p.mu, NULL) == 0) {
        if (pthread_cond_init(&p.cv, NULL) == 0)
            sync = true;
        else
            pthread_mutex_destroy(&p.mu);
    }
    if (!sync)
        rc = CMBOOT_ERR_NO_MEMORY;
    for (unsigned i = 0; rc == CMBOOT_OK && i < VERIFY_SLOTS; i++)
        if (posix_memalign((void **)&p.slots[i].buf, CMB_FLASH_ALIGN, p.buf_size) != 0)
            rc = CMBOOT_ERR_NO_MEMORY;
    if (rc == CMBOOT_OK)
        rc = verify_ranges(cfg, bmap, fd, &p, res, t0);
    if (rc == CMBOOT_OK) {
        res->verified = true;
        cmb_flash_emit(cfg, CMBOOT_EV_PROGRESS, "verify", NULL, res->bytes_verified, res->bytes_verified, CMBOOT_OK,
                       (uint64_t)(cmboot_now_ms() - t0));
    }
    for (unsigned i = 0; i < VERIFY_SLOTS; i++)
        free(p.slots[i].buf);
    if (sync) {
        pthread_cond_destroy(&p.cv);
        pthread_mutex_destroy(&p.mu);
    }
    cmb_digest_free(p.md);
    res->verify_ms = cmboot_now_ms() - t0;
    return rc;
}

/* Whether the target opened now is the one an earlier write recorded in res->target. */
static bool same_target(const cmboot_target_identity *was, const cmboot_target_identity *now)
{
    if (was->is_block != now->is_block)
        return false;
    if (!now->is_block)
        return was->file_dev == now->file_dev && was->file_ino == now->file_ino;
    return was->major == now->major && was->minor == now->minor &&
           (!was->diskseq || !now->diskseq || was->diskseq == now->diskseq);
}

/* cmboot_flash_verify on the library's own structs. */
static int flash_verify(const cmboot_flash_config *cfg, cmboot_flash_result *res)
{
    if (!cfg->target)
        return CMBOOT_ERR_INVALID_ARG;
    cmboot_bmap *bmap = NULL;
    if (cfg->bmap) {
        int rc = cmboot_bmap_load(cfg->bmap, &bmap);
        if (rc != CMBOOT_OK)
            return rc;
    }
    cmboot_target *t = NULL;
    int rc = CMBOOT_OK;
    if (cmboot_flash_cancel_requested(cfg->cancel)) {
        snprintf(res->reason, sizeof res->reason, "interrupted before verifying");
        rc = CMBOOT_ERR_CANCELLED;
    }
    if (rc == CMBOOT_OK)
        rc = cmb_target_open_readonly(cfg->target, &t, res->reason, sizeof res->reason);
    if (rc == CMBOOT_OK && res->target.known && !same_target(&res->target, cmboot_target_get_identity(t))) {
        res->verified = false;
        snprintf(res->reason, sizeof res->reason, "%s is no longer the %s that was written; not verifying it",
                 cfg->target, res->target.is_block ? "disk" : "file");
        rc = CMBOOT_ERR_NO_DEVICE;
    }
    if (rc == CMBOOT_OK)
        rc = cmb_flash_verify_fd(cfg, bmap, cmboot_target_fd(t), res);
    cmboot_target_close(t, false);
    cmboot_bmap_free(bmap);
    res->error = rc;
    return rc;
}

int cmboot_flash_verify(const cmboot_flash_config *cfg, cmboot_flash_result *res)
{
    cmboot_flash_config c;
    cmboot_target_env env;
    cmboot_flash_result r;
    int rc = cmb_flash_config_load(cfg, &c, &env);
    if (rc == CMBOOT_OK)
        rc = cmb_flash_result_load(res, &r); /* an earlier write's image digest and target */
    if (rc != CMBOOT_OK)
        return rc;
    rc = flash_verify(&c, &r);
    cmb_flash_result_store(&r, res);
    return rc;
}
