/* Android sparse encoding: mapped ranges to RAW/DONT_CARE chunks, split under a size, decoded back (and by simg2img).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmboot/error.h"
#include "fastboot/sparse.h"
#include "testutil.h"

#define BS CMB_SPARSE_BLOCK

static int mem_read(void *user, uint64_t offset, void *buf, size_t len)
{
    memcpy(buf, (const uint8_t *)user + offset, len);
    return CMBOOT_OK;
}

static uint8_t *make_image(size_t size)
{
    uint8_t *img = malloc(size);
    assert_non_null(img);
    for (size_t i = 0; i < size; i++)
        img[i] = (uint8_t)(i * 7 + i / 4096 + 1);
    return img;
}

/* The image as a reader of the sparse image sees it: blocks outside the (widened) ranges are zero. */
static uint8_t *expected(const uint8_t *img, size_t size, const cmb_sparse_range *r, size_t n, size_t *out_len)
{
    size_t blocks = (size + BS - 1) / BS;
    uint8_t *e = calloc(blocks ? blocks * BS : 1, 1);
    assert_non_null(e);
    for (size_t i = 0; i < n; i++) {
        size_t a = (size_t)r[i].offset / BS * BS;
        size_t b = (size_t)((r[i].offset + r[i].length + BS - 1) / BS * BS);
        if (b > size)
            b = size;
        if (r[i].length)
            memcpy(e + a, img + a, b - a);
    }
    *out_len = blocks * BS;
    return e;
}

static uint32_t g32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t g16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Our own reading of the format, strict: applies one sparse image onto out (total_blks * 4096 bytes). */
static void apply(const uint8_t *sp, size_t len, uint8_t *out, size_t out_len)
{
    cmb_sparse_header h;
    assert_int_equal(cmb_sparse_header_parse(sp, len, &h), CMBOOT_OK);
    assert_int_equal(h.major, 1);
    assert_int_equal(h.minor, 0);
    assert_int_equal(h.file_hdr_sz, 28);
    assert_int_equal(h.chunk_hdr_sz, 12);
    assert_int_equal(h.blk_sz, 4096);
    assert_int_equal((size_t)h.total_blks * BS, out_len);
    size_t at = 28, block = 0;
    for (uint32_t c = 0; c < h.total_chunks; c++) {
        assert_true(at + 12 <= len);
        uint16_t type = g16(sp + at);
        uint32_t blocks = g32(sp + at + 4), total = g32(sp + at + 8);
        assert_true(blocks > 0);
        if (type == CMB_SPARSE_RAW) {
            assert_int_equal(total, 12 + (size_t)blocks * BS);
            assert_true(at + total <= len);
            memcpy(out + block * BS, sp + at + 12, (size_t)blocks * BS);
        } else {
            assert_int_equal(type, CMB_SPARSE_DONT_CARE);
            assert_int_equal(total, 12);
        }
        at += total;
        block += blocks;
    }
    assert_int_equal(at, len);
    assert_int_equal(block, h.total_blks);
}

/* Every part of the plan, read through the stream in uneven pieces. */
static uint8_t *encode(const cmb_sparse_plan *p, size_t part, const uint8_t *img)
{
    cmb_sparse_stream s;
    cmb_sparse_stream_init(&s, p, part, mem_read, (void *)img);
    size_t len = (size_t)p->parts[part].size;
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    size_t at = 0, step = 1;
    while (at < len) {
        size_t n = len - at < step ? len - at : step;
        assert_int_equal(cmb_sparse_stream_read(&s, buf + at, n), CMBOOT_OK);
        at += n;
        step = step * 3 + 5;
    }
    assert_int_equal(cmb_sparse_stream_read(&s, buf, 1), CMBOOT_ERR_INVALID_ARG); /* nothing past the end */
    return buf;
}

static void check_roundtrip(size_t size, const cmb_sparse_range *r, size_t n, uint32_t max, size_t want_parts)
{
    uint8_t *img = make_image(size);
    cmb_sparse_plan p;
    assert_int_equal(cmb_sparse_plan_make(size, r, n, max, &p), CMBOOT_OK);
    if (want_parts)
        assert_int_equal(p.n_parts, want_parts);
    size_t out_len = 0;
    uint8_t *want = expected(img, size, r, n, &out_len);
    uint8_t *got = calloc(out_len ? out_len : 1, 1);
    assert_non_null(got);
    for (size_t i = 0; i < p.n_parts; i++) {
        assert_true(p.parts[i].size <= max);
        uint8_t *sp = encode(&p, i, img);
        apply(sp, (size_t)p.parts[i].size, got, out_len);
        free(sp);
    }
    assert_memory_equal(got, want, out_len);
    cmb_sparse_plan_free(&p);
    free(got);
    free(want);
    free(img);
}

static void one_part_with_holes(void **state)
{
    (void)state;
    /* unaligned ranges widen to blocks; out of order and overlapping ranges merge */
    const cmb_sparse_range r[] = {{10 * BS + 5, 100}, {0, BS}, {3 * BS, 2 * BS}, {4 * BS, BS + 1}};
    check_roundtrip(16 * BS, r, 4, 1u << 20, 1);
}

static void image_size_not_a_block_multiple_pads_zeros(void **state)
{
    (void)state;
    const cmb_sparse_range r[] = {{0, 3 * BS + 100}};
    check_roundtrip(3 * BS + 100, r, 1, 1u << 20, 1);
}

static void no_ranges_is_one_dont_care(void **state)
{
    (void)state;
    check_roundtrip(8 * BS, NULL, 0, 1u << 20, 1);
    cmb_sparse_plan p;
    assert_int_equal(cmb_sparse_plan_make(8 * BS, NULL, 0, 1u << 20, &p), CMBOOT_OK);
    assert_int_equal(p.parts[0].size, 28 + 12);
    cmb_sparse_plan_free(&p);
}

static void split_under_max_download_size(void **state)
{
    (void)state;
    /* room for two blocks per part: 28 + 12 + 2 * (24 + 4096) would not fit, 28 + 12 + 24 + 2 * 4096 does */
    uint32_t max = 28 + 12 + 24 + 2 * BS;
    const cmb_sparse_range r[] = {{0, 5 * BS}, {9 * BS, BS}, {12 * BS, 3 * BS}};
    check_roundtrip(20 * BS, r, 3, max, 0);
    cmb_sparse_plan p;
    assert_int_equal(cmb_sparse_plan_make(20 * BS, r, 3, max, &p), CMBOOT_OK);
    assert_true(p.n_parts >= 5); /* 9 blocks, at most 2 per part */
    cmb_sparse_plan_free(&p);
    /* a whole image without a map, many parts */
    const cmb_sparse_range all[] = {{0, 40 * BS}};
    check_roundtrip(40 * BS, all, 1, 28 + 12 + 24 + 3 * BS + 100, 14);
}

static void bad_plans_refused(void **state)
{
    (void)state;
    cmb_sparse_plan p;
    const cmb_sparse_range past[] = {{BS, 2 * BS}};
    assert_int_equal(cmb_sparse_plan_make(2 * BS, past, 1, 1u << 20, &p), CMBOOT_ERR_FORMAT);
    const cmb_sparse_range wrap[] = {{BS, UINT64_MAX}};
    assert_int_equal(cmb_sparse_plan_make(2 * BS, wrap, 1, 1u << 20, &p), CMBOOT_ERR_FORMAT);
    assert_int_equal(cmb_sparse_plan_make(2 * BS, NULL, 0, 4096, &p), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmb_sparse_plan_make((uint64_t)BS << 33, NULL, 0, 1u << 20, &p), CMBOOT_ERR_TOO_LARGE);
}

static void header_detection(void **state)
{
    (void)state;
    uint8_t h[28] = {0x3a, 0xff, 0x26, 0xed, 1, 0, 0, 0, 28, 0, 12, 0, 0, 0x10, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0};
    cmb_sparse_header out;
    assert_true(cmb_sparse_is_sparse(h, 4));
    assert_false(cmb_sparse_is_sparse(h, 3));
    assert_int_equal(cmb_sparse_header_parse(h, sizeof h, &out), CMBOOT_OK);
    assert_int_equal(out.blk_sz, 4096);
    assert_int_equal(out.total_blks, 5);
    assert_int_equal(cmb_sparse_header_parse(h, 27, &out), CMBOOT_ERR_FORMAT);
    h[4] = 2; /* major 2 */
    assert_int_equal(cmb_sparse_header_parse(h, sizeof h, &out), CMBOOT_ERR_FORMAT);
    h[4] = 1;
    h[12] = 3; /* block size not a multiple of 4 */
    assert_int_equal(cmb_sparse_header_parse(h, sizeof h, &out), CMBOOT_ERR_FORMAT);
    h[0] = 0;
    assert_false(cmb_sparse_is_sparse(h, sizeof h));
}

/* Debian's simg2img (android-sdk-libsparse-utils) reads what we write: all parts of a split onto one output. */
static void simg2img_decodes_our_parts(void **state)
{
    (void)state;
    if (access("/usr/bin/simg2img", X_OK) != 0)
        skip();
    size_t size = 30 * BS + 123;
    uint8_t *img = make_image(size);
    const cmb_sparse_range r[] = {{BS, 4 * BS}, {10 * BS, 7 * BS}, {29 * BS, BS + 123}};
    cmb_sparse_plan p;
    assert_int_equal(cmb_sparse_plan_make(size, r, 3, 28 + 12 + 24 + 4 * BS, &p), CMBOOT_OK);
    assert_true(p.n_parts > 1);
    char *dir = test_tmpdir("sparse");
    char list[4096] = "", path[512];
    for (size_t i = 0; i < p.n_parts; i++) {
        uint8_t *sp = encode(&p, i, img);
        char name[32];
        snprintf(name, sizeof name, "part%zu.simg", i);
        test_write_file(dir, name, sp, (size_t)p.parts[i].size);
        free(sp);
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "'%s/%s' ", dir, name);
    }
    snprintf(path, sizeof path, "%s/out.img", dir);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "simg2img %s'%s' >/dev/null 2>&1", list, path);
    assert_int_equal(system(cmd), 0);
    size_t out_len = 0;
    uint8_t *want = expected(img, size, r, 3, &out_len);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *got = calloc(out_len + 1, 1);
    assert_non_null(got);
    assert_int_equal(fread(got, 1, out_len + 1, f), out_len);
    fclose(f);
    assert_memory_equal(got, want, out_len);
    /* and what img2simg writes is recognised as sparse, to pass through */
    if (access("/usr/bin/img2simg", X_OK) == 0) {
        snprintf(cmd, sizeof cmd, "img2simg '%s' '%s.simg' >/dev/null 2>&1", path, path);
        assert_int_equal(system(cmd), 0);
        char simg[600];
        snprintf(simg, sizeof simg, "%s.simg", path);
        f = fopen(simg, "rb");
        assert_non_null(f);
        uint8_t head[28];
        assert_int_equal(fread(head, 1, sizeof head, f), sizeof head);
        fclose(f);
        cmb_sparse_header h;
        assert_true(cmb_sparse_is_sparse(head, sizeof head));
        assert_int_equal(cmb_sparse_header_parse(head, sizeof head, &h), CMBOOT_OK);
        assert_int_equal((size_t)h.total_blks * h.blk_sz, out_len);
    }
    free(got);
    free(want);
    cmb_sparse_plan_free(&p);
    free(img);
    test_rmtree(dir);
    free(dir);
}

/* ---- resparse: one sparse image split into several, each a proper sparse image ---- */

static void p16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void p32(uint8_t *p, uint32_t v)
{
    p16(p, v & 0xffff);
    p16(p + 2, v >> 16);
}

typedef struct buf {
    uint8_t *b;
    size_t len, cap;
} buf;

static uint8_t *put(buf *o, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2;
        o->b = realloc(o->b, o->cap);
        assert_non_null(o->b);
    }
    o->len += n;
    return o->b + o->len - n;
}

static void chunk(buf *o, uint32_t type, uint32_t blocks, uint32_t body)
{
    uint8_t *c = put(o, 12);
    p16(c, type);
    p16(c + 2, 0);
    p32(c + 4, blocks);
    p32(c + 8, 12 + body);
}

/* 64 blocks: RAW 0-9 (pattern), DONT_CARE 10-19, FILL 20-29, CRC32, RAW 30-44, DONT_CARE 45-63. The expanded
 * content (DONT_CARE as 0xee) into want. */
static buf handmade(uint8_t *want)
{
    buf o = {0};
    uint8_t *h = put(&o, 28);
    p32(h, CMB_SPARSE_MAGIC);
    p16(h + 4, 1);
    p16(h + 6, 0);
    p16(h + 8, 28);
    p16(h + 10, 12);
    p32(h + 12, BS);
    p32(h + 16, 64);
    p32(h + 20, 6);
    p32(h + 24, 0);
    memset(want, 0xee, 64 * BS);
    chunk(&o, CMB_SPARSE_RAW, 10, 10 * BS);
    uint8_t *d = put(&o, 10 * BS);
    for (size_t i = 0; i < 10 * BS; i++)
        d[i] = (uint8_t)(i * 13 + i / BS);
    memcpy(want, d, 10 * BS);
    chunk(&o, CMB_SPARSE_DONT_CARE, 10, 0);
    chunk(&o, CMB_SPARSE_FILL, 10, 4);
    p32(put(&o, 4), 0x11223344u);
    for (size_t i = 0; i < 10 * BS; i += 4)
        p32(want + 20 * BS + i, 0x11223344u);
    chunk(&o, CMB_SPARSE_CRC32, 0, 4);
    p32(put(&o, 4), 0xdeadbeefu); /* not checked: dropped */
    chunk(&o, CMB_SPARSE_RAW, 15, 15 * BS);
    d = put(&o, 15 * BS);
    for (size_t i = 0; i < 15 * BS; i++)
        d[i] = (uint8_t)(i * 5 + 3);
    memcpy(want + 30 * BS, d, 15 * BS);
    chunk(&o, CMB_SPARSE_DONT_CARE, 19, 0);
    return o;
}

/* Applies a sparse image with RAW, FILL and DONT_CARE chunks onto out (strict, like apply). */
static void apply_any(const uint8_t *sp, size_t len, uint8_t *out, size_t out_len)
{
    cmb_sparse_header h;
    assert_int_equal(cmb_sparse_header_parse(sp, len, &h), CMBOOT_OK);
    assert_int_equal(h.file_hdr_sz, 28);
    assert_int_equal(h.chunk_hdr_sz, 12);
    assert_int_equal((size_t)h.total_blks * h.blk_sz, out_len);
    assert_int_equal(cmb_sparse_check(sp, len, NULL), CMBOOT_OK);
    size_t at = 28, block = 0;
    for (uint32_t c = 0; c < h.total_chunks; c++) {
        uint16_t type = g16(sp + at);
        uint32_t blocks = g32(sp + at + 4), total = g32(sp + at + 8);
        assert_true(blocks > 0);
        if (type == CMB_SPARSE_RAW) {
            memcpy(out + block * h.blk_sz, sp + at + 12, (size_t)blocks * h.blk_sz);
        } else if (type == CMB_SPARSE_FILL) {
            for (size_t i = 0; i < (size_t)blocks * h.blk_sz; i++)
                out[block * h.blk_sz + i] = sp[at + 12 + i % 4];
        } else {
            assert_int_equal(type, CMB_SPARSE_DONT_CARE);
        }
        at += total;
        block += blocks;
    }
    assert_int_equal(at, len);
    assert_int_equal(block, h.total_blks);
}

typedef struct rs {
    const uint8_t *in;
    size_t in_len, in_pos;
    uint32_t max;
    uint8_t *out; /* pieces applied */
    size_t out_len;
    char *dir; /* pieces also written here, when set */
    char list[8192];
    unsigned pieces;
    uint64_t mapped_bytes, next_block;
} rs;

static int rs_in(void *user, void *b, size_t len)
{
    rs *r = user;
    if (r->in_len - r->in_pos < len)
        return CMBOOT_ERR_FORMAT;
    memcpy(b, r->in + r->in_pos, len);
    r->in_pos += len;
    return CMBOOT_OK;
}

static int rs_piece(void *user, const void *b, size_t len)
{
    rs *r = user;
    assert_true(len <= r->max);
    assert_int_equal(cmb_sparse_check(b, len, NULL), CMBOOT_OK); /* every piece a valid sparse image */
    if (r->out)
        apply_any(b, len, r->out, r->out_len);
    if (r->dir) {
        char name[32];
        snprintf(name, sizeof name, "piece%u.simg", r->pieces);
        test_write_file(r->dir, name, b, len);
        size_t n = strlen(r->list);
        snprintf(r->list + n, sizeof r->list - n, "'%s/%s' ", r->dir, name);
    }
    r->pieces++;
    return CMBOOT_OK;
}

static int rs_data(void *user, uint32_t blk_sz, uint32_t block, uint32_t blocks, const uint8_t *raw, uint32_t fill)
{
    rs *r = user;
    (void)raw, (void)fill;
    assert_true(block >= r->next_block); /* ascending */
    r->next_block = (uint64_t)block + blocks;
    r->mapped_bytes += (uint64_t)blocks * blk_sz;
    return CMBOOT_OK;
}

static void resparse_handmade_split(void **state)
{
    (void)state;
    uint8_t *want = malloc(64 * BS), *got = malloc(64 * BS);
    buf in = handmade(want);
    assert_int_equal(cmb_sparse_check(in.b, in.len, NULL), CMBOOT_OK);
    memset(got, 0xee, 64 * BS);
    uint32_t max = 28 + 3 * 12 + 7 * BS; /* about a quarter of the image */
    rs r = {in.b, in.len, 0, max, got, 64 * BS, NULL, "", 0, 0, 0};
    uint8_t *piece = malloc(max);
    cmb_resparse_stats st;
    assert_int_equal(cmb_sparse_resparse(rs_in, &r, max, piece, rs_piece, rs_data, &r, &st), CMBOOT_OK);
    assert_int_equal(r.in_pos, in.len);
    assert_true(st.pieces >= 4);
    assert_int_equal(st.pieces, r.pieces);
    assert_int_equal(st.crc_chunks, 1);
    assert_int_equal(r.mapped_bytes, 35 * BS);
    assert_memory_equal(got, want, 64 * BS);
    free(piece);
    free(in.b);
    free(want);
    free(got);
}

/* Headers and chunks that lie, cut short or unknown: refused by the splitter and by the check. */
static void resparse_refuses_bad_images(void **state)
{
    (void)state;
    uint8_t *want = malloc(64 * BS), *got = malloc(64 * BS);
    buf in = handmade(want);
    uint32_t max = 28 + 3 * 12 + 7 * BS;
    uint8_t *piece = malloc(max);
    size_t raw2 = 28 + 12 + 10 * BS + 12 + 12 + 4 + 12 + 4; /* the second RAW chunk's header */
    for (int k = 0; k < 7; k++) {
        uint8_t *b = malloc(in.len);
        memcpy(b, in.b, in.len);
        size_t len = in.len;
        switch (k) {
        case 0: len -= 5; break;                            /* cut in its last RAW chunk's data */
        case 1: p32(b + 20, 7); break;                      /* says one chunk more than there is */
        case 2: p32(b + 16, 40); break;                     /* chunks go past total_blks */
        case 3: p32(b + raw2 + 8, 12 + 15 * BS + 4); break; /* total_sz not what RAW of 15 blocks makes */
        case 4: p16(b + raw2, 0xcac9); break;               /* unknown chunk type */
        case 5: p32(b + raw2 - 16 + 4, 1); break;           /* a CRC32 chunk with blocks */
        case 6: p16(b + 4, 2); break;                       /* major version 2 */
        }
        rs r = {b, len, 0, max, NULL, 0, NULL, "", 0, 0, 0};
        int rc = cmb_sparse_resparse(rs_in, &r, max, piece, rs_piece, rs_data, &r, NULL);
        if (k == 1)
            assert_true(rc == CMBOOT_ERR_FORMAT); /* the missing chunk: the input ends */
        else
            assert_int_equal(rc, CMBOOT_ERR_FORMAT);
        assert_int_equal(cmb_sparse_check(b, len, NULL), CMBOOT_ERR_FORMAT);
        free(b);
    }
    /* a download too small for one block with its headers */
    rs r = {in.b, in.len, 0, max, got, 64 * BS, NULL, "", 0, 0, 0};
    assert_int_equal(cmb_sparse_resparse(rs_in, &r, 28 + 3 * 12 + BS - 1, piece, rs_piece, rs_data, &r, NULL),
                     CMBOOT_ERR_INVALID_ARG);
    /* data after the last chunk: the check refuses it (the writer reads on and refuses it too) */
    uint8_t *b = malloc(in.len + 1);
    memcpy(b, in.b, in.len);
    assert_int_equal(cmb_sparse_check(b, in.len + 1, NULL), CMBOOT_ERR_FORMAT);
    free(b);
    free(piece);
    free(in.b);
    free(want);
    free(got);
}

/* img2simg's output (FILL and DONT_CARE chunks of its choosing), split by us, decoded by simg2img into the original. */
static void resparse_img2simg_roundtrip(void **state)
{
    (void)state;
    if (access("/usr/bin/img2simg", X_OK) != 0 || access("/usr/bin/simg2img", X_OK) != 0)
        fail_msg("img2simg/simg2img missing: install android-sdk-libsparse-utils (scripts/deps.sh)");
    size_t blocks = 200, size = blocks * BS;
    uint8_t *img = calloc(1, size);
    for (size_t b = 0; b < blocks; b++) {
        if (b % 50 < 20) /* data */
            for (size_t i = 0; i < BS; i++)
                img[b * BS + i] = (uint8_t)(i * 31 + b);
        else if (b % 50 < 35) /* a 4-byte pattern: FILL */
            for (size_t i = 0; i < BS; i += 4)
                p32(img + b * BS + i, 0xa5a55a5au);
        /* else zeros */
    }
    char *dir = test_tmpdir("resparse");
    char path[512], cmd[9000];
    test_write_file(dir, "raw.img", img, size);
    snprintf(cmd, sizeof cmd, "img2simg '%s/raw.img' '%s/in.simg' >/dev/null 2>&1", dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/in.simg", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *in = malloc(2 * size + 4096);
    size_t in_len = fread(in, 1, 2 * size + 4096, f);
    fclose(f);
    assert_int_equal(cmb_sparse_check(in, in_len, NULL), CMBOOT_OK);
    uint32_t max = (uint32_t)(in_len / 3); /* three pieces or more */
    uint8_t *got = calloc(1, size);
    rs r = {in, in_len, 0, max, got, size, dir, "", 0, 0, 0};
    uint8_t *piece = malloc(max);
    assert_int_equal(cmb_sparse_resparse(rs_in, &r, max, piece, rs_piece, rs_data, &r, NULL), CMBOOT_OK);
    assert_true(r.pieces >= 3);
    assert_memory_equal(got, img, size); /* our applier: img2simg's DONT_CARE blocks are zeros in got */
    snprintf(cmd, sizeof cmd, "simg2img %s'%s/out.img' >/dev/null 2>&1", r.list, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/out.img", dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *out = calloc(1, size + 1);
    assert_int_equal(fread(out, 1, size + 1, f), size);
    fclose(f);
    assert_memory_equal(out, img, size);
    free(out);
    free(piece);
    free(got);
    free(in);
    free(img);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(one_part_with_holes),         cmocka_unit_test(image_size_not_a_block_multiple_pads_zeros),
    cmocka_unit_test(no_ranges_is_one_dont_care),  cmocka_unit_test(split_under_max_download_size),
    cmocka_unit_test(bad_plans_refused),           cmocka_unit_test(header_detection),
    cmocka_unit_test(simg2img_decodes_our_parts),  cmocka_unit_test(resparse_handmade_split),
    cmocka_unit_test(resparse_refuses_bad_images), cmocka_unit_test(resparse_img2simg_roundtrip),
};
CMBOOT_TEST_MAIN(tests)
