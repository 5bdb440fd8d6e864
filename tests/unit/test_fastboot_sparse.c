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

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(one_part_with_holes),        cmocka_unit_test(image_size_not_a_block_multiple_pads_zeros),
    cmocka_unit_test(no_ranges_is_one_dont_care), cmocka_unit_test(split_under_max_download_size),
    cmocka_unit_test(bad_plans_refused),          cmocka_unit_test(header_detection),
    cmocka_unit_test(simg2img_decodes_our_parts),
};
CMBOOT_TEST_MAIN(tests)
