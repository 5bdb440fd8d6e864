/* Read-back verification whose reading runs ahead of its hashing: answers as if the pieces were checked in order. */
#include "testutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "test_flash_util.h"

#define MIB (1024u * 1024u)
#define SIZE (5u * MIB + 777u) /* five whole 1 MiB pieces and a partial one */

typedef ft_fixture fixture;

static fixture *setup(const char *tag)
{
    return ft_setup(tag, SIZE, 23);
}

static void teardown(fixture *f)
{
    ft_teardown(f);
}

/* Writes the image (no verification) so that res holds its digest and target for cmboot_flash_verify. */
static void write_unverified(fixture *f, cmboot_flash_config *cfg, cmboot_flash_result *res, const char *bmap)
{
    cmboot_flash_config_default(cfg);
    cfg->image = f->image;
    cfg->target = f->target;
    cfg->target_flags = CMBOOT_TARGET_CREATE;
    cfg->bmap = bmap;
    cfg->verify = false;
    cmboot_flash_result_default(res);
    assert_int_equal(cmboot_flash_write(cfg, res), CMBOOT_OK);
    assert_int_equal(cmboot_flash_verify(cfg, res), CMBOOT_OK);
    assert_true(res->verified);
}

static void flip_bit(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    fsync(fd);
    close(fd);
}

static void expect_mismatch_at(cmboot_flash_config *cfg, cmboot_flash_result *res, uint64_t where)
{
    assert_int_equal(cmboot_flash_verify(cfg, res), CMBOOT_ERR_VERIFY);
    assert_false(res->verified);
    assert_true(res->fail_offset_valid);
    assert_int_equal(res->fail_offset, where);
    char num[32];
    snprintf(num, sizeof num, "offset %llu ", (unsigned long long)where);
    assert_non_null(strstr(res->reason, num));
}

/* The first byte, a piece boundary on either side, and the partial last piece: each found where it is. */
static void mismatch_in_every_kind_of_piece(void **state)
{
    (void)state;
    const uint64_t where[] = {0, MIB - 1, MIB, 4 * MIB + 12345, SIZE - 1};
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        fixture *f = setup("vp-where");
        cmboot_flash_config cfg;
        cmboot_flash_result res;
        write_unverified(f, &cfg, &res, NULL);
        flip_bit(f->target, where[i]);
        expect_mismatch_at(&cfg, &res, where[i]);
        teardown(f);
    }
}

/* A range that differs is the answer even when reading ran ahead into a later range that cannot be read (the
 * differing byte is in the range's last whole piece: reading the next range is quicker than hashing that). */
static void earlier_mismatch_beats_later_read_error(void **state)
{
    (void)state;
    fixture *f = setup("vp-order");
    static const uint64_t ranges[][2] = {{0, 9}, {300, 811}, {1100, 1280}}; /* the second: two whole pieces */
    char *t = ft_make_bmap(f->data, SIZE, ranges, 3);
    test_write_file(f->dir, "disk.bmap", t, strlen(t));
    cmboot_flash_config cfg;
    cmboot_flash_result res;
    write_unverified(f, &cfg, &res, f->bmap);
    const uint64_t where = 811 * 4096 + 99;
    flip_bit(f->target, where);
    assert_int_equal(truncate(f->target, 1150 * 4096), 0); /* the third range reads short */
    for (int i = 0; i < 10; i++)
        expect_mismatch_at(&cfg, &res, where);
    /* Without the mismatch, the short read is the answer, at the byte where the target ends. */
    flip_bit(f->target, where);
    assert_int_equal(cmboot_flash_verify(&cfg, &res), CMBOOT_ERR_IO);
    assert_true(res.fail_offset_valid);
    assert_int_equal(res.fail_offset, 1150 * 4096);
    assert_non_null(strstr(res.reason, "read-back failed"));
    free(t);
    teardown(f);
}

/* Many one-block ranges: pieces that start and end ranges mid-stream, each range hashed on its own. */
static void many_small_bmap_ranges(void **state)
{
    (void)state;
    fixture *f = setup("vp-small");
    enum { N = 200 };
    uint64_t(*ranges)[2] = calloc(N, sizeof *ranges);
    for (uint64_t i = 0; i < N; i++) {
        ranges[i][0] = i * 6 + (i % 3); /* single blocks and short runs, never touching */
        ranges[i][1] = ranges[i][0] + (i % 4 == 0 ? 2 : 0);
    }
    char *t = ft_make_bmap(f->data, SIZE, (const uint64_t(*)[2])ranges, N);
    test_write_file(f->dir, "disk.bmap", t, strlen(t));
    cmboot_flash_config cfg;
    cmboot_flash_result res;
    write_unverified(f, &cfg, &res, f->bmap);
    uint64_t mapped = 0;
    for (size_t i = 0; i < N; i++)
        mapped += (ranges[i][1] - ranges[i][0] + 1) * 4096;
    assert_int_equal(res.bytes_verified, mapped);
    flip_bit(f->target, 5 * 4096); /* between ranges 0 (blocks 0-2) and 1 (block 7): not checked */
    assert_int_equal(cmboot_flash_verify(&cfg, &res), CMBOOT_OK);
    const uint64_t where = ranges[137][0] * 4096 + 4000;
    flip_bit(f->target, where);
    expect_mismatch_at(&cfg, &res, where);
    free(t);
    free(ranges);
    teardown(f);
}

typedef struct progress {
    uint64_t last, total, events;
} progress;

static void on_event(void *user, const cmboot_event *ev)
{
    progress *p = user;
    if (ev->type != CMBOOT_EV_PROGRESS || strcmp(ev->name, "verify") != 0)
        return;
    assert_true(ev->done >= p->last);
    assert_true(ev->done <= ev->total);
    p->last = ev->done;
    p->total = ev->total;
    p->events++;
}

/* Progress never goes back and ends at the whole image; every byte read was hashed. */
static void progress_and_bytes_verified(void **state)
{
    (void)state;
    fixture *f = setup("vp-progress");
    cmboot_flash_config cfg;
    cmboot_flash_result res;
    write_unverified(f, &cfg, &res, NULL);
    progress p = {0};
    cfg.event = on_event;
    cfg.user = &p;
    assert_int_equal(cmboot_flash_verify(&cfg, &res), CMBOOT_OK);
    assert_true(p.events >= 2); /* the first piece and the end */
    assert_int_equal(p.last, SIZE);
    assert_int_equal(p.total, SIZE);
    assert_int_equal(res.bytes_verified, SIZE);
    teardown(f);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(mismatch_in_every_kind_of_piece),
    cmocka_unit_test(earlier_mismatch_beats_later_read_error),
    cmocka_unit_test(many_small_bmap_ranges),
    cmocka_unit_test(progress_and_bytes_verified),
};

CMBOOT_TEST_MAIN(tests)
