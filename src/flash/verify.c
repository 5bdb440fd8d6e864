/* Read-back verification that bypasses the page cache: SHA-256 of what was meant vs what is on the target. */
#include "flash_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/device.h"
#include "cmboot/error.h"

#define VERIFY_BUFFER (1024u * 1024u)
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
static int locate_mismatch(const cmboot_flash_config *cfg, int fd, uint8_t *abuf, size_t abuf_size, uint64_t from,
                           uint64_t to, uint64_t *where)
{
    cmboot_flash_source *src = NULL;
    int rc = cmboot_flash_source_open_flags(cfg->image, cfg->source_flags, &src, NULL, 0);
    if (rc != CMBOOT_OK)
        return rc;
    size_t chunk = abuf_size - 2 * CMB_FLASH_ALIGN;
    uint8_t *img = malloc(chunk);
    rc = img ? CMBOOT_ERR_NOT_FOUND : CMBOOT_ERR_NO_MEMORY;
    uint64_t pos = 0;
    while (img && pos < to && !cmboot_flash_cancel_requested(cfg->cancel)) {
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
    free(img);
    cmboot_flash_source_close(src);
    return rc;
}

typedef struct vrange {
    uint64_t start, end;
    const uint8_t *digest;
    const EVP_MD *md;
} vrange;

static int verify_range(const cmboot_flash_config *cfg, int fd, uint8_t *abuf, size_t abuf_size, EVP_MD_CTX *md,
                        const vrange *r, cmboot_flash_result *res, int64_t started, int64_t *last_progress,
                        uint64_t total)
{
    if (!EVP_DigestInit_ex(md, r->md, NULL))
        return CMBOOT_ERR_NO_MEMORY;
    size_t step = abuf_size - 2 * CMB_FLASH_ALIGN;
    for (uint64_t off = r->start; off < r->end;) {
        if (cmboot_flash_cancel_requested(cfg->cancel)) {
            snprintf(res->reason, sizeof res->reason, "interrupted after verifying %llu bytes",
                     (unsigned long long)res->bytes_verified);
            return CMBOOT_ERR_CANCELLED;
        }
        size_t len = r->end - off < step ? (size_t)(r->end - off) : step;
        const uint8_t *data = NULL;
        int rc = read_at(fd, abuf, abuf_size, off, len, &data, &res->fail_offset);
        if (rc != CMBOOT_OK) {
            res->fail_offset_valid = true;
            snprintf(res->reason, sizeof res->reason, "read-back failed at offset %llu: %s",
                     (unsigned long long)res->fail_offset, errno ? strerror(errno) : "short read");
            return rc;
        }
        if (!EVP_DigestUpdate(md, data, len))
            return CMBOOT_ERR_NO_MEMORY;
        off += len;
        res->bytes_verified += len;
        int64_t now = cmboot_now_ms();
        if (now - *last_progress >= PROGRESS_EVERY_MS) {
            *last_progress = now;
            cmb_flash_emit(cfg, CMBOOT_EV_PROGRESS, "verify", NULL, res->bytes_verified, total, CMBOOT_OK,
                           (uint64_t)(now - started));
        }
    }
    uint8_t got[EVP_MAX_MD_SIZE];
    unsigned glen = 0;
    if (!EVP_DigestFinal_ex(md, got, &glen))
        return CMBOOT_ERR_NO_MEMORY;
    if (memcmp(got, r->digest, glen) == 0)
        return CMBOOT_OK;
    uint64_t where = r->start;
    locate_mismatch(cfg, fd, abuf, abuf_size, r->start, r->end, &where);
    res->fail_offset = where;
    res->fail_offset_valid = true;
    snprintf(res->reason, sizeof res->reason,
             "verification failed: the target differs at offset %llu "
             "(range %llu-%llu)",
             (unsigned long long)where, (unsigned long long)r->start, (unsigned long long)r->end);
    return CMBOOT_ERR_VERIFY;
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
    size_t abuf_size = VERIFY_BUFFER + 2 * CMB_FLASH_ALIGN;
    uint8_t *abuf = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = md && posix_memalign((void **)&abuf, CMB_FLASH_ALIGN, abuf_size) == 0 ? CMBOOT_OK : CMBOOT_ERR_NO_MEMORY;
    int64_t last = 0;
    if (rc == CMBOOT_OK && bmap) {
        uint64_t total = cmboot_bmap_mapped_bytes(bmap);
        const EVP_MD *type = bmap->digest_len == 20 ? EVP_sha1() : EVP_sha256();
        for (size_t i = 0; rc == CMBOOT_OK && i < bmap->range_count; i++) {
            const cmboot_bmap_range *br = &bmap->ranges[i];
            if (!br->has_digest) {
                snprintf(res->reason, sizeof res->reason, "the bmap has no checksum for blocks %llu-%llu",
                         (unsigned long long)br->first, (unsigned long long)br->last);
                rc = CMBOOT_ERR_UNSUPPORTED;
                break;
            }
            vrange r = {br->first * bmap->block_size, (br->last + 1) * bmap->block_size, br->digest, type};
            if (r.end > bmap->image_size)
                r.end = bmap->image_size;
            rc = verify_range(cfg, fd, abuf, abuf_size, md, &r, res, t0, &last, total);
        }
    } else if (rc == CMBOOT_OK) {
        vrange r = {0, res->image_size, res->image_sha256, EVP_sha256()};
        rc = verify_range(cfg, fd, abuf, abuf_size, md, &r, res, t0, &last, res->image_size);
    }
    if (rc == CMBOOT_OK) {
        res->verified = true;
        cmb_flash_emit(cfg, CMBOOT_EV_PROGRESS, "verify", NULL, res->bytes_verified, res->bytes_verified, CMBOOT_OK,
                       (uint64_t)(cmboot_now_ms() - t0));
    }
    free(abuf);
    EVP_MD_CTX_free(md);
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
