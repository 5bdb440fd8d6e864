/* bmap parsing: fields, the file's own checksum, malformed maps refused. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "test_flash_util.h"

#define SIZE (10 * 4096 + 100)

static const uint64_t RANGES[][2] = {{0, 1}, {4, 4}, {7, 10}};

static char *valid_text(uint8_t **img_out)
{
    uint8_t *img = malloc(SIZE);
    test_fill_pattern(img, SIZE, 3);
    char *t = ft_make_bmap(img, SIZE, RANGES, 3);
    if (img_out)
        *img_out = img;
    else
        free(img);
    return t;
}

static void bmap_parses(void **state)
{
    (void)state;
    uint8_t *img;
    char *t = valid_text(&img);
    cmboot_bmap *b = NULL;
    assert_int_equal(cmboot_bmap_parse(t, strlen(t), &b), CMBOOT_OK);
    assert_int_equal(b->image_size, SIZE);
    assert_int_equal(b->block_size, 4096);
    assert_int_equal(b->blocks_count, 11);
    assert_int_equal(b->mapped_blocks, 7);
    assert_int_equal(b->digest_len, 32);
    assert_int_equal(b->range_count, 3);
    assert_int_equal(b->ranges[1].first, 4);
    assert_int_equal(b->ranges[1].last, 4);
    assert_int_equal(b->ranges[2].first, 7);
    assert_int_equal(b->ranges[2].last, 10);
    uint8_t d[32];
    ft_sha256(img + 7 * 4096, SIZE - 7 * 4096, d);
    assert_memory_equal(b->ranges[2].digest, d, 32);
    assert_int_equal(cmboot_bmap_mapped_bytes(b), 6 * 4096 + 100);
    cmboot_bmap_free(b);
    free(img);
    free(t);
}

static void bmap_file_checksum_mismatch(void **state)
{
    (void)state;
    char *t = valid_text(NULL);
    char *p = strstr(t, "<BlockSize> 4096");
    assert_non_null(p);
    /* Edit a comment: the XML stays valid, only the checksum can tell. */
    char *c = strstr(t, "test bmap");
    c[0] = 'T';
    cmboot_bmap *b = NULL;
    assert_int_equal(cmboot_bmap_parse(t, strlen(t), &b), CMBOOT_ERR_VERIFY);
    assert_null(b);
    free(t);
}

static void bmap_missing_checksum(void **state)
{
    (void)state;
    char *t = valid_text(NULL);
    char *s = strstr(t, "    <BmapFileChecksum>");
    char *e = strstr(s, "\n") + 1;
    memmove(s, e, strlen(e) + 1);
    cmboot_bmap *b = NULL;
    assert_int_equal(cmboot_bmap_parse(t, strlen(t), &b), CMBOOT_ERR_FORMAT);
    free(t);
}

static void expect_format_error(const char *from, const char *to)
{
    char *t = valid_text(NULL);
    char *p = strstr(t, from);
    assert_non_null(p);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(p, to, strlen(to));
    cmboot_bmap *b = NULL;
    assert_int_equal(cmboot_bmap_parse(t, strlen(t), &b), CMBOOT_ERR_FORMAT);
    assert_null(b);
    free(t);
}

static void bmap_overlapping_ranges(void **state)
{
    (void)state;
    expect_format_error("> 4 <", "> 1 <");
}
static void bmap_range_past_end(void **state)
{
    (void)state;
    expect_format_error("7-10 <", "7-11 <");
}
static void bmap_mapped_count_wrong(void **state)
{
    (void)state;
    expect_format_error("<MappedBlocksCount> 7 <", "<MappedBlocksCount> 8 <");
}
static void bmap_bad_block_size(void **state)
{
    (void)state;
    expect_format_error("<BlockSize> 4096 <", "<BlockSize> 4000 <");
}
static void bmap_not_xml(void **state)
{
    (void)state;
    cmboot_bmap *b = NULL;
    const char *t = "<bmap version=\"2.0\"><ImageSize>1</ImageSize";
    assert_int_equal(cmboot_bmap_parse(t, strlen(t), &b), CMBOOT_ERR_FORMAT);
    const char *v = "<bmap version=\"3.0\"></bmap>";
    assert_int_equal(cmboot_bmap_parse(v, strlen(v), &b), CMBOOT_ERR_FORMAT);
    const char *d = "<?xml version=\"1.0\"?><!DOCTYPE bmap [<!ENTITY a \"x\">]><bmap version=\"2.0\">&a;</bmap>";
    assert_int_equal(cmboot_bmap_parse(d, strlen(d), &b), CMBOOT_ERR_FORMAT);
}

static void bmap_load_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir("bmap-load");
    char *t = valid_text(NULL);
    test_write_file(dir, "x.bmap", t, strlen(t));
    char path[4096];
    snprintf(path, sizeof path, "%s/x.bmap", dir);
    cmboot_bmap *b = NULL;
    assert_int_equal(cmboot_bmap_load(path, &b), CMBOOT_OK);
    assert_int_equal(b->range_count, 3);
    cmboot_bmap_free(b);
    snprintf(path, sizeof path, "%s/missing.bmap", dir);
    assert_int_equal(cmboot_bmap_load(path, &b), CMBOOT_ERR_NOT_FOUND);
    free(t);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(bmap_parses),           cmocka_unit_test(bmap_file_checksum_mismatch),
    cmocka_unit_test(bmap_missing_checksum), cmocka_unit_test(bmap_overlapping_ranges),
    cmocka_unit_test(bmap_range_past_end),   cmocka_unit_test(bmap_mapped_count_wrong),
    cmocka_unit_test(bmap_bad_block_size),   cmocka_unit_test(bmap_not_xml),
    cmocka_unit_test(bmap_load_file),
};

CMBOOT_TEST_MAIN(tests)
