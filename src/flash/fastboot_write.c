/* Flashing through a board's fastboot gadget: the image as sparse pieces under max-download-size, read back. */
#include "flash_internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/fastboot.h"
#include "fastboot/sparse.h"

#define PIECE_CAP (64u << 20) /* memory held for one piece, whatever the device allows */
#define HEADERS (CMB_SPARSE_FILE_HEADER + 2 * CMB_SPARSE_CHUNK_HEADER)

typedef struct fb_writer {
    const cmboot_flash_config *cfg;
    cmboot_fastboot *fb;
    cmboot_flash_source *src;
    cmboot_flash_result *res;
    const char *part;
    uint32_t max_download;
    uint64_t pos; /* image bytes read from the source */
    bool at_end;
    uint8_t *piece; /* headers then data */
    size_t data_max;
    EVP_MD_CTX *image_md; /* the whole decompressed image */
    EVP_MD_CTX *sent_md;  /* the bytes sent as RAW data, in order (what a read-back of those ranges must give) */
    uint64_t started_ms;
} fb_writer;

/* reason = a + b (b may be NULL). */
static int fail(fb_writer *w, int rc, const char *a, const char *b)
{
    w->res->error = rc;
    snprintf(w->res->reason, sizeof w->res->reason, "%s%s", a, b ? b : "");
    return rc;
}

static int device_fail(fb_writer *w, int rc, const char *what)
{
    const char *msg = cmboot_fastboot_last_fail(w->fb);
    char buf[200];
    snprintf(buf, sizeof buf, "%s: %s", what, rc == CMBOOT_ERR_REFUSED && msg[0] ? msg : cmboot_strerror(rc));
    return fail(w, rc, "the fastboot gadget failed ", buf);
}

/* Up to len image bytes from the source into buf (fewer only at its end), hashed into the image digest. */
static int source_read(fb_writer *w, uint8_t *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len && !w->at_end) {
        size_t n = 0;
        int rc = cmboot_flash_source_read(w->src, buf + *got, len - *got, &n);
        if (rc != CMBOOT_OK) {
            const char *e = cmb_flash_source_error(w->src);
            return fail(w, rc, "reading the image failed: ", e[0] ? e : cmboot_strerror(rc));
        }
        if (n == 0)
            w->at_end = true;
        *got += n;
    }
    if (*got && EVP_DigestUpdate(w->image_md, buf, *got) != 1)
        return fail(w, CMBOOT_ERR_NO_MEMORY, "hashing failed", NULL);
    w->pos += *got;
    return CMBOOT_OK;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}
static void chunk(uint8_t *p, uint32_t type, uint32_t blocks, uint32_t total)
{
    put16(p, type);
    put16(p + 2, 0);
    put32(p + 4, blocks);
    put32(p + 8, total);
}

/* Sends len bytes (already in w->piece after room for the headers) as a sparse image writing them at byte offset
 * at (a multiple of the block): a DONT_CARE chunk for the blocks before, one RAW chunk; then flash:PARTITION. */
static int send_piece(fb_writer *w, uint64_t at, size_t len)
{
    size_t padded = (len + CMB_SPARSE_BLOCK - 1) / CMB_SPARSE_BLOCK * CMB_SPARSE_BLOCK;
    uint8_t *data = w->piece + HEADERS;
    memset(data + len, 0, padded - len);
    if (EVP_DigestUpdate(w->sent_md, data, len) != 1)
        return fail(w, CMBOOT_ERR_NO_MEMORY, "hashing failed", NULL);
    uint32_t skip = (uint32_t)(at / CMB_SPARSE_BLOCK), count = (uint32_t)(padded / CMB_SPARSE_BLOCK);
    size_t h = skip ? 0 : CMB_SPARSE_CHUNK_HEADER; /* without a DONT_CARE chunk the image starts later */
    uint8_t *p = w->piece + h;
    memset(p, 0, HEADERS - h);
    put32(p, CMB_SPARSE_MAGIC);
    put16(p + 4, 1);
    put16(p + 6, 0);
    put16(p + 8, CMB_SPARSE_FILE_HEADER);
    put16(p + 10, CMB_SPARSE_CHUNK_HEADER);
    put32(p + 12, CMB_SPARSE_BLOCK);
    put32(p + 16, skip + count);
    put32(p + 20, skip ? 2 : 1);
    uint8_t *c = p + CMB_SPARSE_FILE_HEADER;
    if (skip) {
        chunk(c, CMB_SPARSE_DONT_CARE, skip, CMB_SPARSE_CHUNK_HEADER);
        c += CMB_SPARSE_CHUNK_HEADER;
    }
    chunk(c, CMB_SPARSE_RAW, count, (uint32_t)(CMB_SPARSE_CHUNK_HEADER + padded));
    uint32_t size = (uint32_t)(HEADERS - h + padded);
    int rc = cmboot_fastboot_download_buffer(w->fb, p, size, NULL, NULL);
    if (rc != CMBOOT_OK)
        return device_fail(w, rc, "download");
    if ((rc = cmboot_fastboot_flash(w->fb, w->part)) != CMBOOT_OK)
        return device_fail(w, rc, "flash");
    w->res->bytes_written += len;
    w->res->target_touched = true;
    cmb_flash_emit(w->cfg, CMBOOT_EV_PROGRESS, "write", NULL, w->pos, w->res->image_size, CMBOOT_OK,
                   (uint64_t)(cmboot_now_ms() - (int64_t)w->started_ms));
    return CMBOOT_OK;
}

/* Image bytes [from, to) (to = UINT64_MAX: to the end) sent in pieces; bytes before from are read and hashed only. */
static int send_range(fb_writer *w, uint64_t from, uint64_t to)
{
    while (w->pos < from && !w->at_end) { /* a hole of the bmap: read through it for the image digest */
        size_t got, want = (size_t)(from - w->pos < w->data_max ? from - w->pos : w->data_max);
        int rc = source_read(w, w->piece + HEADERS, want, &got);
        if (rc != CMBOOT_OK)
            return rc;
    }
    while (w->pos < to && !w->at_end) {
        if (cmboot_flash_cancel_requested(w->cfg->cancel))
            return fail(w, CMBOOT_ERR_CANCELLED, "interrupted", NULL);
        uint64_t at = w->pos;
        size_t got, want = (size_t)(to - at < w->data_max ? to - at : w->data_max);
        int rc = source_read(w, w->piece + HEADERS, want, &got);
        if (rc == CMBOOT_OK && got)
            rc = send_piece(w, at, got);
        if (rc != CMBOOT_OK)
            return rc;
    }
    return CMBOOT_OK;
}

typedef struct fetch_sink {
    EVP_MD_CTX *md;
    bool failed;
} fetch_sink;

static int fetch_write(void *user, const void *buf, size_t len)
{
    fetch_sink *s = user;
    if (EVP_DigestUpdate(s->md, buf, len) != 1) {
        s->failed = true;
        return CMBOOT_ERR_NO_MEMORY;
    }
    return CMBOOT_OK;
}

/* Reads [from, to) back with fetch:, hashed into sink. CMBOOT_ERR_REFUSED when the gadget refuses fetch. */
static int fetch_range(fb_writer *w, fetch_sink *sink, uint64_t from, uint64_t to)
{
    uint32_t step = w->max_download;
    for (uint64_t at = from; at < to;) {
        uint32_t n = (uint32_t)(to - at < step ? to - at : step), got = 0;
        int rc = cmboot_fastboot_fetch(w->fb, w->part, at, n, fetch_write, sink, &got, NULL, NULL);
        if (rc != CMBOOT_OK)
            return rc;
        if (got != n) {
            w->res->fail_offset = at + got;
            w->res->fail_offset_valid = true;
            return CMBOOT_ERR_VERIFY;
        }
        at += n;
        w->res->bytes_verified += n;
        cmb_flash_emit(w->cfg, CMBOOT_EV_PROGRESS, "verify", NULL, w->res->bytes_verified, 0, CMBOOT_OK, 0);
    }
    return CMBOOT_OK;
}

static int read_back(fb_writer *w, const cmboot_bmap *bmap, const uint8_t sent[32])
{
    int64_t t0 = cmboot_now_ms();
    cmb_flash_emit(w->cfg, CMBOOT_EV_PHASE, "verify", w->part, 0, 0, CMBOOT_OK, 0);
    fetch_sink sink = {EVP_MD_CTX_new(), false};
    if (!sink.md || EVP_DigestInit_ex(sink.md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(sink.md);
        return fail(w, CMBOOT_ERR_NO_MEMORY, "out of memory", NULL);
    }
    int rc = CMBOOT_OK;
    if (bmap) {
        for (size_t i = 0; rc == CMBOOT_OK && i < bmap->range_count; i++) {
            uint64_t from = bmap->ranges[i].first * bmap->block_size;
            uint64_t to = (bmap->ranges[i].last + 1) * bmap->block_size;
            rc = fetch_range(w, &sink, from, to < w->res->image_size ? to : w->res->image_size);
        }
    } else {
        rc = fetch_range(w, &sink, 0, w->res->image_size);
    }
    uint8_t got[EVP_MAX_MD_SIZE];
    unsigned glen = 0;
    if (rc == CMBOOT_OK && EVP_DigestFinal_ex(sink.md, got, &glen) != 1)
        rc = CMBOOT_ERR_NO_MEMORY;
    EVP_MD_CTX_free(sink.md);
    w->res->verify_ms = cmboot_now_ms() - t0;
    if (rc == CMBOOT_ERR_REFUSED && w->res->bytes_verified == 0) { /* no fetch here: say so, never "verified" */
        w->res->bytes_verified = 0;
        w->res->not_read_back = true;
        return CMBOOT_OK;
    }
    if (rc == CMBOOT_ERR_VERIFY || (rc == CMBOOT_OK && memcmp(got, sent, 32) != 0))
        return fail(w, CMBOOT_ERR_VERIFY, "the partition does not read back as the image: ", w->part);
    if (rc != CMBOOT_OK)
        return device_fail(w, rc, "fetch");
    w->res->verified = true;
    return CMBOOT_OK;
}

/* An Android sparse image goes as it is when one download holds it. */
static int pass_sparse(fb_writer *w, const uint8_t *head, size_t head_len)
{
    cmb_sparse_header h;
    if (cmb_sparse_header_parse(head, head_len, &h) != CMBOOT_OK)
        return fail(w, CMBOOT_ERR_FORMAT, "the Android sparse image has a header this library cannot pass", NULL);
    size_t cap = w->max_download < PIECE_CAP ? w->max_download : PIECE_CAP;
    memcpy(w->piece, head, head_len);
    size_t len = head_len, got = 0;
    int rc = CMBOOT_OK;
    while (rc == CMBOOT_OK && !w->at_end && len <= cap) {
        size_t want = cap + 1 - len;
        uint8_t *dst = w->piece + len;
        rc = source_read(w, dst, want, &got);
        len += got;
    }
    if (rc != CMBOOT_OK)
        return rc;
    if (len > cap)
        return fail(w, CMBOOT_ERR_TOO_LARGE,
                    "the Android sparse image is larger than one download (max-download-size); splitting it is not "
                    "supported yet",
                    NULL);
    if ((rc = cmboot_fastboot_download_buffer(w->fb, w->piece, (uint32_t)len, NULL, NULL)) != CMBOOT_OK)
        return device_fail(w, rc, "download");
    if ((rc = cmboot_fastboot_flash(w->fb, w->part)) != CMBOOT_OK)
        return device_fail(w, rc, "flash");
    w->res->bytes_written = len;
    w->res->target_touched = true;
    w->res->not_read_back = true; /* the device expanded it: what it holds is not these bytes */
    return CMBOOT_OK;
}

static int run(fb_writer *w, const cmboot_bmap *bmap)
{
    int rc = cmboot_fastboot_max_download_size(w->fb, &w->max_download);
    if (rc != CMBOOT_OK)
        return device_fail(w, rc, "getvar:max-download-size");
    size_t cap = w->max_download < PIECE_CAP ? w->max_download : PIECE_CAP;
    if (cap < HEADERS + CMB_SPARSE_BLOCK)
        return fail(w, CMBOOT_ERR_PROTOCOL, "the fastboot gadget's max-download-size is too small", NULL);
    w->data_max = (cap - HEADERS) / CMB_SPARSE_BLOCK * CMB_SPARSE_BLOCK;
    if (!(w->piece = malloc(cap + 1)))
        return fail(w, CMBOOT_ERR_NO_MEMORY, "out of memory", NULL);
    if (bmap && bmap->block_size % CMB_SPARSE_BLOCK != 0)
        return fail(w, CMBOOT_ERR_UNSUPPORTED, "the bmap's block size is not a multiple of 4096", NULL);
    cmb_flash_emit(w->cfg, CMBOOT_EV_PHASE, "write", w->res->format, 0, w->res->image_size, CMBOOT_OK, 0);
    int64_t t0 = cmboot_now_ms();
    w->started_ms = (uint64_t)t0;
    /* The first bytes tell an image that is already sparse. */
    size_t got = 0;
    if (!bmap) {
        if ((rc = source_read(w, w->piece, CMB_SPARSE_FILE_HEADER, &got)) != CMBOOT_OK)
            return rc;
        if (cmb_sparse_is_sparse(w->piece, got))
            return pass_sparse(w, w->piece, got);
        memmove(w->piece + HEADERS, w->piece, got);
        size_t more = 0;
        if ((rc = source_read(w, w->piece + HEADERS + got, w->data_max - got, &more)) != CMBOOT_OK)
            return rc;
        if (got + more && (rc = send_piece(w, 0, got + more)) != CMBOOT_OK)
            return rc;
        rc = send_range(w, w->pos, UINT64_MAX);
    } else {
        for (size_t i = 0; rc == CMBOOT_OK && i < bmap->range_count; i++)
            rc = send_range(w, bmap->ranges[i].first * bmap->block_size, (bmap->ranges[i].last + 1) * bmap->block_size);
        while (rc == CMBOOT_OK && !w->at_end) /* the rest, for the image digest */
            rc = source_read(w, w->piece, w->data_max, &got);
    }
    if (rc != CMBOOT_OK)
        return rc;
    w->res->image_size = w->pos;
    w->res->write_ms = cmboot_now_ms() - t0;
    unsigned n = 0;
    uint8_t sent[EVP_MAX_MD_SIZE];
    if (EVP_DigestFinal_ex(w->image_md, w->res->image_sha256, &n) != 1 || EVP_DigestFinal_ex(w->sent_md, sent, &n) != 1)
        return fail(w, CMBOOT_ERR_NO_MEMORY, "hashing failed", NULL);
    w->res->image_sha256_valid = true;
    if (bmap && bmap->image_size != w->pos)
        return fail(w, CMBOOT_ERR_FORMAT, "the image's size is not the bmap's", NULL);
    if (!w->cfg->verify) {
        w->res->not_read_back = true;
        return CMBOOT_OK;
    }
    return read_back(w, bmap, sent);
}

int cmb_flash_write_fastboot(const cmboot_flash_config *cfg, cmboot_transport t, cmboot_flash_source *src,
                             const cmboot_bmap *bmap, cmboot_flash_result *res)
{
    fb_writer w = {.cfg = cfg, .src = src, .res = res};
    w.part = cfg->fastboot_partition && cfg->fastboot_partition[0] ? cfg->fastboot_partition : "mmcblk0";
    res->via_fastboot = true;
    snprintf(res->format, sizeof res->format, "%s", cmboot_flash_source_format(src));
    uint64_t size = 0;
    if (cmboot_flash_source_size_known(src, &size))
        res->image_size = size;
    int64_t t0 = cmboot_now_ms();
    cmb_flash_emit(cfg, CMBOOT_EV_PHASE, "check", w.part, 0, 0, CMBOOT_OK, 0);
    cmboot_fastboot_options opt;
    cmboot_fastboot_options_default(&opt);
    int rc = cmboot_fastboot_new(t, &opt, &w.fb);
    w.image_md = EVP_MD_CTX_new();
    w.sent_md = EVP_MD_CTX_new();
    if (rc == CMBOOT_OK && (!w.image_md || !w.sent_md || EVP_DigestInit_ex(w.image_md, EVP_sha256(), NULL) != 1 ||
                            EVP_DigestInit_ex(w.sent_md, EVP_sha256(), NULL) != 1))
        rc = CMBOOT_ERR_NO_MEMORY;
    if (rc != CMBOOT_OK)
        fail(&w, rc, "cannot speak fastboot: ", cmboot_strerror(rc));
    else
        rc = run(&w, bmap);
    cmb_flash_emit(cfg, CMBOOT_EV_PHASE, rc == CMBOOT_OK ? "done" : "failed", res->reason, res->bytes_written,
                   res->image_size, rc, (uint64_t)(cmboot_now_ms() - t0));
    res->error = rc;
    EVP_MD_CTX_free(w.image_md);
    EVP_MD_CTX_free(w.sent_md);
    free(w.piece);
    cmboot_fastboot_free(w.fb);
    cmboot_flash_source_close(src);
    return rc;
}
