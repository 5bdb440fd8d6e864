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

static void chunk_header(cmb_sparse_stream *s, uint32_t type, uint32_t blocks, uint32_t data)
{
    put16(s->hdr, type);
    put16(s->hdr + 2, 0);
    put32(s->hdr + 4, blocks);
    put32(s->hdr + 8, CMB_SPARSE_CHUNK_HEADER + data);
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
        put32(s->hdr, CMB_SPARSE_MAGIC);
        put16(s->hdr + 4, 1);
        put16(s->hdr + 6, 0);
        put16(s->hdr + 8, CMB_SPARSE_FILE_HEADER);
        put16(s->hdr + 10, CMB_SPARSE_CHUNK_HEADER);
        put32(s->hdr + 12, CMB_SPARSE_BLOCK);
        put32(s->hdr + 16, p->total_blocks);
        put32(s->hdr + 20, chunks);
        put32(s->hdr + 24, 0); /* no checksum: optional in the format */
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
