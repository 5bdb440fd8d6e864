/* Flashing through a board's fastboot gadget: the image as sparse pieces under max-download-size, read back. */
#include "flash_internal.h"
#include "digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/fastboot.h"
#include "fastboot/sparse.h"

#define PIECE_CAP (64u << 20) /* memory held for one piece, whatever the device allows */
/* What the planner may add to a piece's data: file header, DONT_CARE before, RAW header, DONT_CARE after. */
#define HEADERS (CMB_SPARSE_FILE_HEADER + 3 * CMB_SPARSE_CHUNK_HEADER)

typedef struct fb_writer {
    const cmboot_flash_config *cfg;
    cmboot_fastboot *fb;
    cmboot_flash_source *src;
    cmboot_flash_result *res;
    const char *part;
    uint32_t max_download;
    uint64_t pos; /* image bytes read from the source */
    bool at_end;
    uint8_t *piece; /* image data of the piece being sent (or the head of a sparse image) */
    size_t data_max;
    size_t cap;               /* bytes one download may carry here */
    uint64_t piece_at;        /* image offset of piece[0] */
    cmb_sparse_range *ranges; /* what a sparse image mapped: the read-back's ranges, in order */
    size_t n_ranges, ranges_cap;
    cmb_digest *image_md; /* the whole decompressed image */
    cmb_digest *sent_md;  /* the bytes sent as RAW data, in order (what a read-back of those ranges must give) */
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
    if (*got && !cmb_digest_update(w->image_md, buf, *got))
        return fail(w, CMBOOT_ERR_NO_MEMORY, "hashing failed", NULL);
    w->pos += *got;
    return CMBOOT_OK;
}

static int piece_read(void *user, uint64_t offset, void *buf, size_t len)
{
    fb_writer *w = user;
    memcpy(buf, w->piece + (offset - w->piece_at), len);
    return CMBOOT_OK;
}

/* Sends len bytes (in w->piece) as the sparse images the planner makes of them at byte offset at (a multiple of
 * the block; planned per piece, as a compressed image's size is not known up front): DONT_CARE for the blocks
 * before, RAW for these; then flash:PARTITION. */
static int send_piece(fb_writer *w, uint64_t at, size_t len)
{
    if (!cmb_digest_update(w->sent_md, w->piece, len))
        return fail(w, CMBOOT_ERR_NO_MEMORY, "hashing failed", NULL);
    cmb_sparse_range r = {at, len};
    cmb_sparse_plan plan;
    int rc = cmb_sparse_plan_make(at + len, &r, 1, (uint32_t)w->cap, &plan);
    if (rc != CMBOOT_OK)
        return fail(w, rc, "the image does not fit Android sparse images: ", cmboot_strerror(rc));
    w->piece_at = at;
    for (size_t i = 0; rc == CMBOOT_OK && i < plan.n_parts; i++) {
        cmb_sparse_stream st;
        cmb_sparse_stream_init(&st, &plan, i, piece_read, w);
        rc = cmboot_fastboot_download(w->fb, (uint32_t)plan.parts[i].size, cmb_sparse_stream_read, &st, NULL, NULL);
        if (rc != CMBOOT_OK)
            rc = device_fail(w, rc, "download");
        else if ((rc = cmboot_fastboot_flash(w->fb, w->part)) != CMBOOT_OK)
            rc = device_fail(w, rc, "flash");
    }
    cmb_sparse_plan_free(&plan);
    if (rc != CMBOOT_OK)
        return rc;
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
        int rc = source_read(w, w->piece, want, &got);
        if (rc != CMBOOT_OK)
            return rc;
    }
    while (w->pos < to && !w->at_end) {
        if (cmboot_flash_cancel_requested(w->cfg->cancel))
            return fail(w, CMBOOT_ERR_CANCELLED, "interrupted", NULL);
        uint64_t at = w->pos;
        size_t got, want = (size_t)(to - at < w->data_max ? to - at : w->data_max);
        int rc = source_read(w, w->piece, want, &got);
        if (rc == CMBOOT_OK && got)
            rc = send_piece(w, at, got);
        if (rc != CMBOOT_OK)
            return rc;
    }
    return CMBOOT_OK;
}

typedef struct fetch_sink {
    cmb_digest *md;
    bool failed;
} fetch_sink;

static int fetch_write(void *user, const void *buf, size_t len)
{
    fetch_sink *s = user;
    if (!cmb_digest_update(s->md, buf, len)) {
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
    fetch_sink sink = {cmb_digest_new(CMB_DIGEST_SHA256), false};
    if (!sink.md)
        return fail(w, CMBOOT_ERR_NO_MEMORY, "out of memory", NULL);
    int rc = CMBOOT_OK;
    if (w->ranges) { /* a split sparse image: what its RAW and FILL chunks mapped */
        for (size_t i = 0; rc == CMBOOT_OK && i < w->n_ranges; i++)
            rc = fetch_range(w, &sink, w->ranges[i].offset, w->ranges[i].offset + w->ranges[i].length);
    } else if (bmap) {
        for (size_t i = 0; rc == CMBOOT_OK && i < bmap->range_count; i++) {
            uint64_t from = bmap->ranges[i].first * bmap->block_size;
            uint64_t to = (bmap->ranges[i].last + 1) * bmap->block_size;
            rc = fetch_range(w, &sink, from, to < w->res->image_size ? to : w->res->image_size);
        }
    } else {
        rc = fetch_range(w, &sink, 0, w->res->image_size);
    }
    uint8_t got[CMB_DIGEST_MAX];
    if (rc == CMBOOT_OK && !cmb_digest_final(sink.md, got))
        rc = CMBOOT_ERR_NO_MEMORY;
    cmb_digest_free(sink.md);
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

/* Input of the resparser: the head already read, then the source. */
typedef struct sparse_in {
    fb_writer *w;
    const uint8_t *head;
    size_t head_len, head_pos;
} sparse_in;

static int sparse_in_read(void *user, void *buf, size_t len)
{
    sparse_in *in = user;
    uint8_t *o = buf;
    size_t n = in->head_len - in->head_pos < len ? in->head_len - in->head_pos : len;
    memcpy(o, in->head + in->head_pos, n);
    in->head_pos += n;
    if (n < len) {
        size_t got = 0;
        int rc = source_read(in->w, o + n, len - n, &got);
        if (rc != CMBOOT_OK)
            return rc;
        if (got < len - n)
            return CMBOOT_ERR_FORMAT; /* truncated */
    }
    return CMBOOT_OK;
}

static int sparse_piece(void *user, const void *buf, size_t len)
{
    fb_writer *w = user;
    if (cmboot_flash_cancel_requested(w->cfg->cancel))
        return fail(w, CMBOOT_ERR_CANCELLED, "interrupted", NULL);
    int rc = cmboot_fastboot_download_buffer(w->fb, buf, (uint32_t)len, NULL, NULL);
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

/* Mapped blocks of a sparse image: into the digest of what was sent and the read-back's ranges. */
static int sparse_data(void *user, uint32_t blk_sz, uint32_t block, uint32_t blocks, const uint8_t *raw, uint32_t fill)
{
    fb_writer *w = user;
    uint64_t off = (uint64_t)block * blk_sz, len = (uint64_t)blocks * blk_sz;
    if (raw) {
        if (!cmb_digest_update(w->sent_md, raw, (size_t)len))
            return fail(w, CMBOOT_ERR_NO_MEMORY, "hashing failed", NULL);
    } else {
        uint8_t pat[4096];
        for (size_t i = 0; i < sizeof pat; i++) /* the chunk's 4 bytes, little-endian as in the file */
            pat[i] = (uint8_t)(fill >> (8 * (i % 4)));
        for (uint64_t left = len; left;) {
            size_t n = left < sizeof pat ? (size_t)left : sizeof pat;
            if (!cmb_digest_update(w->sent_md, pat, n))
                return fail(w, CMBOOT_ERR_NO_MEMORY, "hashing failed", NULL);
            left -= n;
        }
    }
    if (w->n_ranges && w->ranges[w->n_ranges - 1].offset + w->ranges[w->n_ranges - 1].length == off) {
        w->ranges[w->n_ranges - 1].length += len;
        return CMBOOT_OK;
    }
    if (w->n_ranges == w->ranges_cap) {
        size_t cap = w->ranges_cap ? w->ranges_cap * 2 : 64;
        cmb_sparse_range *r = realloc(w->ranges, cap * sizeof *r);
        if (!r)
            return fail(w, CMBOOT_ERR_NO_MEMORY, "out of memory", NULL);
        w->ranges = r;
        w->ranges_cap = cap;
    }
    w->ranges[w->n_ranges++] = (cmb_sparse_range){off, len};
    return CMBOOT_OK;
}

/* An Android sparse image larger than one download: split into sparse images that each fit (resparse), flashed
 * one after the other; its mapped ranges are read back. */
static int split_sparse(fb_writer *w, size_t len)
{
    uint8_t *out = malloc(w->cap);
    if (!out)
        return fail(w, CMBOOT_ERR_NO_MEMORY, "out of memory", NULL);
    sparse_in in = {w, w->piece, len, 0};
    cmb_resparse_stats st;
    int rc = cmb_sparse_resparse(sparse_in_read, &in, (uint32_t)w->cap, out, sparse_piece, sparse_data, w, &st);
    free(out);
    if (rc == CMBOOT_OK) { /* its end must follow the last chunk */
        uint8_t extra;
        int more = sparse_in_read(&in, &extra, 1);
        if (more == CMBOOT_OK)
            return fail(w, CMBOOT_ERR_FORMAT, "the Android sparse image has data after its last chunk", NULL);
        if (more != CMBOOT_ERR_FORMAT)
            return more;
    }
    if (rc != CMBOOT_OK && w->res->error != CMBOOT_OK)
        return w->res->error; /* a callback's or the source's, reason given */
    if (rc == CMBOOT_ERR_FORMAT)
        return fail(w, rc, "the Android sparse image is malformed or truncated (its chunks do not match its header)",
                    NULL);
    if (rc != CMBOOT_OK)
        return fail(w, rc, "splitting the Android sparse image failed: ", cmboot_strerror(rc));
    if (!w->ranges && !(w->ranges = calloc(1, sizeof *w->ranges))) /* nothing mapped: an empty read-back */
        return fail(w, CMBOOT_ERR_NO_MEMORY, "out of memory", NULL);
    return CMBOOT_OK;
}

/* An Android sparse image goes as it is when one download holds it, after its chunks were checked. */
static int pass_sparse(fb_writer *w, size_t head_len, bool *split)
{
    cmb_sparse_header h;
    *split = false;
    if (cmb_sparse_header_parse(w->piece, head_len, &h) != CMBOOT_OK)
        return fail(w, CMBOOT_ERR_FORMAT, "the Android sparse image has a header this library cannot pass", NULL);
    size_t cap = w->cap;
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
    if (len > cap) {
        *split = true;
        return split_sparse(w, len);
    }
    if (cmb_sparse_check(w->piece, len, NULL) != CMBOOT_OK)
        return fail(w, CMBOOT_ERR_FORMAT,
                    "the Android sparse image is malformed or truncated (its chunks do not match its header)", NULL);
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
    w->cap = cap;
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
        if (cmb_sparse_is_sparse(w->piece, got)) {
            bool split = false;
            if ((rc = pass_sparse(w, got, &split)) != CMBOOT_OK || !split)
                return rc; /* one download: passed through, not read back */
        } else {
            size_t more = 0;
            if ((rc = source_read(w, w->piece + got, w->data_max - got, &more)) != CMBOOT_OK)
                return rc;
            if (got + more && (rc = send_piece(w, 0, got + more)) != CMBOOT_OK)
                return rc;
            rc = send_range(w, w->pos, UINT64_MAX);
        }
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
    uint8_t sent[CMB_DIGEST_MAX];
    if (!cmb_digest_final(w->image_md, w->res->image_sha256) || !cmb_digest_final(w->sent_md, sent))
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
    w.image_md = cmb_digest_new(CMB_DIGEST_SHA256);
    w.sent_md = cmb_digest_new(CMB_DIGEST_SHA256);
    if (rc == CMBOOT_OK && (!w.image_md || !w.sent_md))
        rc = CMBOOT_ERR_NO_MEMORY;
    if (rc != CMBOOT_OK)
        fail(&w, rc, "cannot speak fastboot: ", cmboot_strerror(rc));
    else
        rc = run(&w, bmap);
    cmb_flash_emit(cfg, CMBOOT_EV_PHASE, rc == CMBOOT_OK ? "done" : "failed", res->reason, res->bytes_written,
                   res->image_size, rc, (uint64_t)(cmboot_now_ms() - t0));
    res->error = rc;
    cmb_digest_free(w.image_md);
    cmb_digest_free(w.sent_md);
    free(w.piece);
    free(w.ranges);
    cmboot_fastboot_free(w.fb);
    cmboot_flash_source_close(src);
    return rc;
}
