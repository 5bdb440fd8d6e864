/* Android sparse images: mapped ranges to RAW and DONT_CARE chunks, split to fit a download, produced streaming. */
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "fastboot/sparse.h"

/* A RAW chunk's total_sz (header + data) is 32 bits. */
#define MAX_CHUNK_BLOCKS ((UINT32_MAX - CMB_SPARSE_CHUNK_HEADER) / CMB_SPARSE_BLOCK)
/* What an extent may cost a part: its RAW header and the DONT_CARE before it. */
#define EXTENT_OVERHEAD (2u * CMB_SPARSE_CHUNK_HEADER)

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

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

typedef struct run {
    uint64_t start, end; /* blocks */
} run;

static int by_start(const void *a, const void *b)
{
    const run *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The part's exact size and chunk count, from its extents. */
static void measure(const cmb_sparse_plan *p, cmb_sparse_part *part, uint32_t *chunks)
{
    uint64_t size = CMB_SPARSE_FILE_HEADER;
    uint32_t n = 0, at = 0;
    for (size_t i = part->first; i < part->first + part->count; i++) {
        const cmb_sparse_extent *e = &p->extents[i];
        if (e->block > at) {
            size += CMB_SPARSE_CHUNK_HEADER;
            n++;
        }
        size += CMB_SPARSE_CHUNK_HEADER + (uint64_t)e->count * CMB_SPARSE_BLOCK;
        n++;
        at = e->block + e->count;
    }
    if (at < p->total_blocks) {
        size += CMB_SPARSE_CHUNK_HEADER;
        n++;
    }
    part->size = size;
    if (chunks)
        *chunks = n;
}

int cmb_sparse_plan_make(uint64_t image_size, const cmb_sparse_range *ranges, size_t n_ranges, uint32_t max_size,
                         cmb_sparse_plan *out)
{
    if (!out || (!ranges && n_ranges))
        return CMBOOT_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    /* header, one extent of one block, the DONT_CARE after it */
    uint64_t budget = (uint64_t)max_size;
    if (budget < CMB_SPARSE_FILE_HEADER + EXTENT_OVERHEAD + CMB_SPARSE_BLOCK + CMB_SPARSE_CHUNK_HEADER)
        return CMBOOT_ERR_INVALID_ARG;
    budget -= CMB_SPARSE_FILE_HEADER + CMB_SPARSE_CHUNK_HEADER;
    uint64_t blocks = image_size / CMB_SPARSE_BLOCK + (image_size % CMB_SPARSE_BLOCK != 0);
    if (blocks > UINT32_MAX)
        return CMBOOT_ERR_TOO_LARGE;
    run *runs = malloc((n_ranges ? n_ranges : 1) * sizeof *runs);
    if (!runs)
        return CMBOOT_ERR_NO_MEMORY;
    size_t nr = 0;
    for (size_t i = 0; i < n_ranges; i++) {
        const cmb_sparse_range *r = &ranges[i];
        if (r->offset > image_size || r->length > image_size - r->offset) {
            free(runs);
            return CMBOOT_ERR_FORMAT;
        }
        if (r->length == 0)
            continue;
        runs[nr].start = r->offset / CMB_SPARSE_BLOCK;
        runs[nr].end = (r->offset + r->length + CMB_SPARSE_BLOCK - 1) / CMB_SPARSE_BLOCK;
        nr++;
    }
    qsort(runs, nr, sizeof *runs, by_start);
    size_t merged = 0;
    for (size_t i = 0; i < nr; i++) {
        if (merged && runs[i].start <= runs[merged - 1].end) {
            if (runs[i].end > runs[merged - 1].end)
                runs[merged - 1].end = runs[i].end;
        } else {
            runs[merged++] = runs[i];
        }
    }
    /* Extents: runs cut to fit chunks and parts (each cut adds one; grown as needed). */
    size_t cap = merged + 16;
    out->extents = malloc(cap * sizeof *out->extents);
    out->parts = malloc(cap * sizeof *out->parts);
    if (!out->extents || !out->parts) {
        free(runs);
        cmb_sparse_plan_free(out);
        return CMBOOT_ERR_NO_MEMORY;
    }
    out->image_size = image_size;
    out->total_blocks = (uint32_t)blocks;
    uint64_t used = 0;
    cmb_sparse_part *part = &out->parts[0];
    out->n_parts = 1;
    part->first = 0;
    part->count = 0;
    for (size_t i = 0; i < merged; i++) {
        uint64_t at = runs[i].start;
        while (at < runs[i].end) {
            if (out->n_extents == cap || out->n_parts == cap) {
                size_t ncap = cap * 2;
                cmb_sparse_extent *e = realloc(out->extents, ncap * sizeof *e);
                if (e)
                    out->extents = e;
                cmb_sparse_part *pp = e ? realloc(out->parts, ncap * sizeof *pp) : NULL;
                if (!pp) {
                    free(runs);
                    cmb_sparse_plan_free(out);
                    return CMBOOT_ERR_NO_MEMORY;
                }
                out->parts = pp;
                part = &out->parts[out->n_parts - 1];
                cap = ncap;
            }
            if (budget - used < EXTENT_OVERHEAD + CMB_SPARSE_BLOCK) {
                part = &out->parts[out->n_parts++];
                part->first = out->n_extents;
                part->count = 0;
                used = 0;
            }
            uint64_t n = (budget - used - EXTENT_OVERHEAD) / CMB_SPARSE_BLOCK;
            if (n > runs[i].end - at)
                n = runs[i].end - at;
            if (n > MAX_CHUNK_BLOCKS)
                n = MAX_CHUNK_BLOCKS;
            out->extents[out->n_extents++] = (cmb_sparse_extent){(uint32_t)at, (uint32_t)n};
            part->count++;
            used += EXTENT_OVERHEAD + n * CMB_SPARSE_BLOCK;
            at += n;
        }
    }
    free(runs);
    for (size_t i = 0; i < out->n_parts; i++)
        measure(out, &out->parts[i], NULL);
    return CMBOOT_OK;
}

void cmb_sparse_plan_free(cmb_sparse_plan *plan)
{
    if (!plan)
        return;
    free(plan->extents);
    free(plan->parts);
    memset(plan, 0, sizeof *plan);
}

void cmb_sparse_stream_init(cmb_sparse_stream *s, const cmb_sparse_plan *plan, size_t part, cmb_sparse_read_fn read,
                            void *user)
{
    memset(s, 0, sizeof *s);
    s->plan = plan;
    s->part = part < plan->n_parts ? &plan->parts[part] : NULL;
    s->read = read;
    s->user = user;
    if (s->part)
        s->next = s->part->first;
    else
        s->state = 2;
}

void cmb_sparse_put_file_header(uint8_t *out, uint32_t blk_sz, uint32_t total_blks, uint32_t chunks)
{
    put32(out, CMB_SPARSE_MAGIC);
    put16(out + 4, 1);
    put16(out + 6, 0);
    put16(out + 8, CMB_SPARSE_FILE_HEADER);
    put16(out + 10, CMB_SPARSE_CHUNK_HEADER);
    put32(out + 12, blk_sz);
    put32(out + 16, total_blks);
    put32(out + 20, chunks);
    put32(out + 24, 0); /* no checksum: optional in the format */
}

void cmb_sparse_put_chunk_header(uint8_t *out, uint32_t type, uint32_t blocks, uint32_t data_bytes)
{
    put16(out, type);
    put16(out + 2, 0);
    put32(out + 4, blocks);
    put32(out + 8, CMB_SPARSE_CHUNK_HEADER + data_bytes);
}

static void chunk_header(cmb_sparse_stream *s, uint32_t type, uint32_t blocks, uint32_t data)
{
    cmb_sparse_put_chunk_header(s->hdr, type, blocks, data);
    s->hdr_len = CMB_SPARSE_CHUNK_HEADER;
    s->hdr_pos = 0;
}

/* Sets up the next header (and the data after a RAW one); 0 when the part is complete. */
static int next_item(cmb_sparse_stream *s)
{
    const cmb_sparse_plan *p = s->plan;
    if (s->state == 0) {
        uint32_t chunks = 0;
        cmb_sparse_part copy = *s->part;
        measure(p, &copy, &chunks);
        cmb_sparse_put_file_header(s->hdr, CMB_SPARSE_BLOCK, p->total_blocks, chunks);
        s->hdr_len = CMB_SPARSE_FILE_HEADER;
        s->hdr_pos = 0;
        s->state = 1;
        return 1;
    }
    if (s->state != 1)
        return 0;
    if (s->next < s->part->first + s->part->count) {
        const cmb_sparse_extent *e = &p->extents[s->next];
        if (e->block > s->block) {
            chunk_header(s, CMB_SPARSE_DONT_CARE, e->block - s->block, 0);
            s->block = e->block;
            return 1;
        }
        chunk_header(s, CMB_SPARSE_RAW, e->count, e->count * CMB_SPARSE_BLOCK);
        s->data_at = (uint64_t)e->block * CMB_SPARSE_BLOCK;
        s->data_end = s->data_at + (uint64_t)e->count * CMB_SPARSE_BLOCK;
        s->block = e->block + e->count;
        s->next++;
        return 1;
    }
    s->state = 2;
    if (s->block < p->total_blocks) {
        chunk_header(s, CMB_SPARSE_DONT_CARE, p->total_blocks - s->block, 0);
        s->block = p->total_blocks;
        return 1;
    }
    return 0;
}

int cmb_sparse_stream_read(void *stream, void *buf, size_t len)
{
    cmb_sparse_stream *s = stream;
    uint8_t *o = buf;
    if (!s || (!buf && len) || !s->part || len > s->part->size - s->produced)
        return CMBOOT_ERR_INVALID_ARG;
    while (len) {
        size_t n;
        if (s->hdr_pos < s->hdr_len) {
            n = s->hdr_len - s->hdr_pos < len ? s->hdr_len - s->hdr_pos : len;
            memcpy(o, s->hdr + s->hdr_pos, n);
            s->hdr_pos += n;
        } else if (s->data_at < s->data_end) {
            n = s->data_end - s->data_at < len ? (size_t)(s->data_end - s->data_at) : len;
            size_t real = 0; /* the last block's bytes past the image's end are zeros */
            if (s->data_at < s->plan->image_size)
                real = s->plan->image_size - s->data_at < n ? (size_t)(s->plan->image_size - s->data_at) : n;
            if (real) {
                int rc = s->read(s->user, s->data_at, o, real);
                if (rc != 0)
                    return rc < 0 ? rc : CMBOOT_ERR_IO;
            }
            memset(o + real, 0, n - real);
            s->data_at += n;
        } else if (!next_item(s)) {
            return CMBOOT_ERR_INVALID_ARG; /* the size said more: cannot happen */
        } else {
            continue;
        }
        o += n;
        len -= n;
        s->produced += n;
    }
    return CMBOOT_OK;
}

int cmb_sparse_is_sparse(const void *head, size_t len)
{
    return head && len >= 4 && get32(head) == CMB_SPARSE_MAGIC;
}

int cmb_sparse_header_parse(const void *head, size_t len, cmb_sparse_header *out)
{
    if (!head || !out)
        return CMBOOT_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    const uint8_t *p = head;
    if (len < CMB_SPARSE_FILE_HEADER || get32(p) != CMB_SPARSE_MAGIC)
        return CMBOOT_ERR_FORMAT;
    out->major = get16(p + 4);
    out->minor = get16(p + 6);
    out->file_hdr_sz = get16(p + 8);
    out->chunk_hdr_sz = get16(p + 10);
    out->blk_sz = get32(p + 12);
    out->total_blks = get32(p + 16);
    out->total_chunks = get32(p + 20);
    out->image_checksum = get32(p + 24);
    if (out->major != 1 || out->file_hdr_sz < CMB_SPARSE_FILE_HEADER || out->chunk_hdr_sz < CMB_SPARSE_CHUNK_HEADER ||
        out->blk_sz == 0 || out->blk_sz % 4 != 0)
        return CMBOOT_ERR_FORMAT;
    return CMBOOT_OK;
}

/* ---- resparse: one input sparse image to pieces no larger than a download ---- */

typedef struct rsp {
    cmb_sparse_in_fn in;
    void *in_user;
    cmb_sparse_piece_fn piece;
    cmb_sparse_data_fn data;
    void *user;
    uint8_t *buf;
    size_t max, len;  /* piece being built: bytes used (the file header's room included) */
    uint32_t chunks;  /* in the piece */
    uint32_t covered; /* blocks the piece's chunks cover, from block 0 */
    uint32_t blk, total;
    cmb_resparse_stats *st;
} rsp;

/* Skips n input bytes (headers longer than the ones we know). */
static int skip_in(rsp *r, size_t n)
{
    uint8_t tmp[64];
    while (n) {
        size_t k = n < sizeof tmp ? n : sizeof tmp;
        int rc = r->in(r->in_user, tmp, k);
        if (rc != 0)
            return rc;
        n -= k;
    }
    return CMBOOT_OK;
}

/* Bytes left for a chunk of `need` bytes that starts at block `at` (room kept for its gap and the tail). */
static int fits(const rsp *r, uint32_t at, size_t need)
{
    size_t extra = (at > r->covered ? CMB_SPARSE_CHUNK_HEADER : 0) + CMB_SPARSE_CHUNK_HEADER;
    return r->max - r->len >= need + extra;
}

static void gap_to(rsp *r, uint32_t at)
{
    if (at > r->covered) {
        cmb_sparse_put_chunk_header(r->buf + r->len, CMB_SPARSE_DONT_CARE, at - r->covered, 0);
        r->len += CMB_SPARSE_CHUNK_HEADER;
        r->chunks++;
        r->covered = at;
    }
}

/* Hands out the piece built so far (tail DONT_CARE, file header) and starts the next. */
static int flush(rsp *r)
{
    gap_to(r, r->total);
    cmb_sparse_put_file_header(r->buf, r->blk, r->total, r->chunks);
    int rc = r->piece(r->user, r->buf, r->len);
    r->len = CMB_SPARSE_FILE_HEADER;
    r->chunks = 0;
    r->covered = 0;
    r->st->pieces++;
    return rc;
}

static int raw_chunk(rsp *r, uint32_t at, uint32_t blocks)
{
    while (blocks) {
        if (!fits(r, at, CMB_SPARSE_CHUNK_HEADER + r->blk)) {
            int rc = flush(r);
            if (rc != 0)
                return rc;
            continue;
        }
        size_t room = r->max - r->len - CMB_SPARSE_CHUNK_HEADER * (at > r->covered ? 3u : 2u);
        uint64_t n = room / r->blk;
        if (n > blocks)
            n = blocks;
        if (n > (UINT32_MAX - CMB_SPARSE_CHUNK_HEADER) / r->blk)
            n = (UINT32_MAX - CMB_SPARSE_CHUNK_HEADER) / r->blk;
        gap_to(r, at);
        uint32_t bytes = (uint32_t)n * r->blk;
        cmb_sparse_put_chunk_header(r->buf + r->len, CMB_SPARSE_RAW, (uint32_t)n, bytes);
        uint8_t *d = r->buf + r->len + CMB_SPARSE_CHUNK_HEADER;
        int rc = r->in(r->in_user, d, bytes);
        if (rc == 0)
            rc = r->data(r->user, r->blk, at, (uint32_t)n, d, 0);
        if (rc != 0)
            return rc;
        r->len += CMB_SPARSE_CHUNK_HEADER + bytes;
        r->chunks++;
        r->covered = at + (uint32_t)n;
        at += (uint32_t)n;
        blocks -= (uint32_t)n;
    }
    return CMBOOT_OK;
}

int cmb_sparse_resparse(cmb_sparse_in_fn in, void *in_user, uint32_t max_size, uint8_t *buf, cmb_sparse_piece_fn piece,
                        cmb_sparse_data_fn data, void *user, cmb_resparse_stats *stats)
{
    cmb_resparse_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (!in || !buf || !piece || !data)
        return CMBOOT_ERR_INVALID_ARG;
    rsp r = {in, in_user, piece, data, user, buf, max_size, CMB_SPARSE_FILE_HEADER, 0, 0, 0, 0, stats};
    uint8_t h[CMB_SPARSE_FILE_HEADER];
    int rc = in(in_user, h, sizeof h);
    if (rc != 0)
        return rc;
    if ((rc = cmb_sparse_header_parse(h, sizeof h, &stats->header)) != CMBOOT_OK)
        return rc;
    const cmb_sparse_header *hd = &stats->header;
    r.blk = hd->blk_sz;
    r.total = hd->total_blks;
    /* header, a gap, one block of RAW and the tail */
    if ((uint64_t)max_size < CMB_SPARSE_FILE_HEADER + 3u * CMB_SPARSE_CHUNK_HEADER + (uint64_t)r.blk)
        return CMBOOT_ERR_INVALID_ARG;
    if ((rc = skip_in(&r, hd->file_hdr_sz - CMB_SPARSE_FILE_HEADER)) != CMBOOT_OK)
        return rc;
    uint32_t at = 0;
    for (uint32_t i = 0; i < hd->total_chunks; i++) {
        uint8_t c[CMB_SPARSE_CHUNK_HEADER];
        if ((rc = in(in_user, c, sizeof c)) != CMBOOT_OK || (rc = skip_in(&r, hd->chunk_hdr_sz - sizeof c)) != 0)
            return rc;
        uint32_t type = get16(c), blocks = get32(c + 4);
        uint64_t total = get32(c + 8), body = total - hd->chunk_hdr_sz;
        if (total < hd->chunk_hdr_sz || (uint64_t)at + blocks > r.total)
            return CMBOOT_ERR_FORMAT;
        switch (type) {
        case CMB_SPARSE_RAW:
            if (body != (uint64_t)blocks * r.blk)
                return CMBOOT_ERR_FORMAT;
            rc = raw_chunk(&r, at, blocks);
            break;
        case CMB_SPARSE_FILL: {
            uint8_t v[4];
            if (body != 4 || (rc = in(in_user, v, 4)) != CMBOOT_OK)
                return rc ? rc : CMBOOT_ERR_FORMAT;
            if (blocks == 0)
                break;
            if (!fits(&r, at, CMB_SPARSE_CHUNK_HEADER + 4) && (rc = flush(&r)) != CMBOOT_OK)
                return rc;
            gap_to(&r, at);
            cmb_sparse_put_chunk_header(r.buf + r.len, CMB_SPARSE_FILL, blocks, 4);
            memcpy(r.buf + r.len + CMB_SPARSE_CHUNK_HEADER, v, 4);
            r.len += CMB_SPARSE_CHUNK_HEADER + 4;
            r.chunks++;
            r.covered = at + blocks;
            rc = data(user, r.blk, at, blocks, NULL, get32(v));
            break;
        }
        case CMB_SPARSE_DONT_CARE:
            if (body != 0)
                return CMBOOT_ERR_FORMAT;
            break;
        case CMB_SPARSE_CRC32: {
            uint8_t v[4];
            if (body != 4 || blocks != 0)
                return CMBOOT_ERR_FORMAT;
            rc = in(in_user, v, 4);
            stats->crc_chunks++;
            break;
        }
        default: return CMBOOT_ERR_FORMAT;
        }
        if (rc != CMBOOT_OK)
            return rc;
        at += blocks;
    }
    if (r.chunks || stats->pieces == 0)
        rc = flush(&r);
    return rc;
}

int cmb_sparse_check(const void *img, size_t len, cmb_resparse_stats *stats)
{
    cmb_resparse_stats local;
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    const uint8_t *p = img;
    if (!img || cmb_sparse_header_parse(p, len, &stats->header) != CMBOOT_OK)
        return CMBOOT_ERR_FORMAT;
    const cmb_sparse_header *h = &stats->header;
    if (h->file_hdr_sz > len)
        return CMBOOT_ERR_FORMAT;
    size_t at = h->file_hdr_sz;
    uint64_t block = 0;
    for (uint32_t i = 0; i < h->total_chunks; i++) {
        if (len - at < h->chunk_hdr_sz)
            return CMBOOT_ERR_FORMAT;
        uint32_t type = get16(p + at), blocks = get32(p + at + 4);
        uint64_t total = get32(p + at + 8);
        uint64_t body = total >= h->chunk_hdr_sz ? total - h->chunk_hdr_sz : UINT64_MAX;
        uint64_t want = type == CMB_SPARSE_RAW                                ? (uint64_t)blocks * h->blk_sz
                        : type == CMB_SPARSE_FILL || type == CMB_SPARSE_CRC32 ? 4
                        : type == CMB_SPARSE_DONT_CARE                        ? 0
                                                                              : UINT64_MAX;
        if (want == UINT64_MAX || body != want || total > len - at || block + blocks > h->total_blks ||
            (type == CMB_SPARSE_CRC32 && blocks != 0))
            return CMBOOT_ERR_FORMAT;
        stats->crc_chunks += type == CMB_SPARSE_CRC32;
        block += blocks;
        at += (size_t)total;
    }
    return at == len ? CMBOOT_OK : CMBOOT_ERR_FORMAT;
}
