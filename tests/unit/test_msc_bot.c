/* Unit tests of the emulated mass-storage stage: Bulk-Only Transport cases and SCSI commands on an image file. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "model/msc_bot.h"

#define DISK_BLOCKS 64u

typedef struct fixture {
    char *dir;
    char path[512];
    msc_bot *bot;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = test_tmpdir("msc");
    snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
    uint8_t *img = malloc(DISK_BLOCKS * 512);
    test_fill_pattern(img, DISK_BLOCKS * 512, 7);
    test_write_file(f->dir, "disk.img", img, DISK_BLOCKS * 512);
    free(img);
    msc_config cfg = {.image_path = f->path, .vendor = "TESTVEND", .product = "unit disk"};
    assert_int_equal(msc_bot_open(&cfg, &f->bot), CMBOOT_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    msc_bot_close(f->bot);
    test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void cbw(uint8_t out[31], uint32_t tag, uint32_t len, bool in, const uint8_t *cdb, uint8_t cdb_len)
{
    memset(out, 0, 31);
    out[0] = 'U';
    out[1] = 'S';
    out[2] = 'B';
    out[3] = 'C';
    memcpy(out + 4, &tag, 4);
    memcpy(out + 8, &len, 4);
    out[12] = in ? 0x80 : 0x00;
    out[14] = cdb_len;
    memcpy(out + 15, cdb, cdb_len);
}

static void send_cbw(msc_bot *bot, uint32_t tag, uint32_t len, bool in, const uint8_t *cdb, uint8_t cdb_len)
{
    uint8_t c[31];
    size_t used = 0;
    cbw(c, tag, len, in, cdb, cdb_len);
    assert_int_equal(msc_bot_out(bot, c, sizeof(c), &used), MSC_OK);
    assert_int_equal(used, 31);
}

/* Reads the CSW and checks tag, residue and status. */
static void expect_csw(msc_bot *bot, uint32_t tag, uint32_t residue, uint8_t status)
{
    uint8_t buf[64];
    size_t n = 0;
    assert_int_equal(msc_bot_in(bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(n, 13);
    assert_memory_equal(buf, "USBS", 4);
    uint32_t t, r;
    memcpy(&t, buf + 4, 4);
    memcpy(&r, buf + 8, 4);
    assert_int_equal(t, tag);
    assert_int_equal(r, residue);
    assert_int_equal(buf[12], status);
}

static void test_inquiry_and_capacity(void **state)
{
    fixture *f = *state;
    uint8_t buf[512];
    size_t n = 0;
    /* Nothing asked yet: bulk IN NAKs. */
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_PENDING);
    const uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0};
    send_cbw(f->bot, 1, 36, true, inq, 6);
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(n, 36);
    assert_memory_equal(buf + 8, "TESTVEND", 8);
    assert_memory_equal(buf + 16, "unit disk       ", 16);
    expect_csw(f->bot, 1, 0, 0);
    const uint8_t rc10[10] = {0x25};
    send_cbw(f->bot, 2, 8, true, rc10, 10);
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(n, 8);
    assert_int_equal(buf[3], DISK_BLOCKS - 1);
    assert_int_equal(buf[6], 0x02); /* 512 */
    expect_csw(f->bot, 2, 0, 0);
    uint8_t rc16[16] = {0x9e, 0x10};
    rc16[13] = 32;
    send_cbw(f->bot, 3, 32, true, rc16, 16);
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(n, 32);
    assert_int_equal(buf[7], DISK_BLOCKS - 1);
    expect_csw(f->bot, 3, 0, 0);
}

static void test_read_write_reach_the_file(void **state)
{
    fixture *f = *state;
    uint8_t data[1024], back[1024];
    test_fill_pattern(data, sizeof(data), 99);
    /* WRITE(10) 2 blocks at LBA 5, sent in two bulk packets. */
    const uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 5, 0, 0, 2, 0};
    send_cbw(f->bot, 10, 1024, false, w10, 10);
    size_t used = 0;
    assert_int_equal(msc_bot_out(f->bot, data, 600, &used), MSC_OK);
    assert_int_equal(used, 600);
    assert_int_equal(msc_bot_out(f->bot, data + 600, 424, &used), MSC_OK);
    expect_csw(f->bot, 10, 0, 0);
    int fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, back, sizeof(back), 5 * 512), 1024);
    close(fd);
    assert_memory_equal(back, data, sizeof(data));
    /* READ(16) of the same blocks returns them. */
    uint8_t r16[16] = {0x88};
    r16[9] = 5;
    r16[13] = 2;
    send_cbw(f->bot, 11, 1024, true, r16, 16);
    size_t n = 0;
    memset(back, 0, sizeof(back));
    assert_int_equal(msc_bot_in(f->bot, back, 512, &n), MSC_OK);
    assert_int_equal(n, 512);
    assert_int_equal(msc_bot_in(f->bot, back + 512, 512, &n), MSC_OK);
    assert_memory_equal(back, data, sizeof(data));
    expect_csw(f->bot, 11, 0, 0);
    msc_stats st;
    msc_bot_stats(f->bot, &st);
    assert_int_equal(st.bytes_written, 1024);
    assert_int_equal(st.bytes_read, 1024);
}

static void test_out_of_range_fails_with_sense(void **state)
{
    fixture *f = *state;
    uint8_t buf[64];
    size_t n = 0;
    /* READ(10) past the end: no data (zero-length packet), CSW failed, then sense ILLEGAL REQUEST/21. */
    const uint8_t r10[10] = {0x28, 0, 0, 0, 0, DISK_BLOCKS - 1, 0, 0, 2, 0};
    send_cbw(f->bot, 20, 1024, true, r10, 10);
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(n, 0);
    expect_csw(f->bot, 20, 1024, 1);
    const uint8_t rs[6] = {0x03, 0, 0, 0, 18, 0};
    send_cbw(f->bot, 21, 18, true, rs, 6);
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(n, 18);
    assert_int_equal(buf[2], 0x05);
    assert_int_equal(buf[12], 0x21);
    expect_csw(f->bot, 21, 0, 0);
    /* Unknown opcode: CHECK CONDITION, sense 05/20. */
    const uint8_t bad[6] = {0xc7};
    send_cbw(f->bot, 22, 0, false, bad, 6);
    expect_csw(f->bot, 22, 0, 1);
}

static void test_short_reply_has_residue(void **state)
{
    fixture *f = *state;
    uint8_t buf[512];
    size_t n = 0;
    /* The host expects 255 bytes of INQUIRY but the allocation length says 36: short packet + residue. */
    const uint8_t inq[6] = {0x12, 0, 0, 0, 255, 0};
    send_cbw(f->bot, 30, 255, true, inq, 6);
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(n, 36);
    expect_csw(f->bot, 30, 255 - 36, 0);
}

static void test_invalid_cbw_stalls_until_reset(void **state)
{
    fixture *f = *state;
    uint8_t junk[31] = {'X'};
    uint8_t buf[64];
    size_t used = 0, n = 0;
    assert_int_equal(msc_bot_out(f->bot, junk, sizeof(junk), &used), MSC_STALL);
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_STALL);
    /* A new CBW before the CSW was read is NAKed, not taken. */
    const uint8_t setup_reset[8] = {0x21, 0xff, 0, 0, 0, 0, 0, 0};
    assert_int_equal(msc_bot_class_request(f->bot, setup_reset, NULL, 0), 0);
    const uint8_t tur[6] = {0x00};
    send_cbw(f->bot, 40, 0, false, tur, 6);
    uint8_t c[31];
    cbw(c, 41, 0, false, tur, 6);
    assert_int_equal(msc_bot_out(f->bot, c, sizeof(c), &used), MSC_PENDING);
    expect_csw(f->bot, 40, 0, 0);
    const uint8_t setup_lun[8] = {0xa1, 0xfe, 0, 0, 0, 0, 1, 0};
    assert_int_equal(msc_bot_class_request(f->bot, setup_lun, buf, 1), 1);
    assert_int_equal(buf[0], 0);
}

static void test_config_descriptor(void **state)
{
    (void)state;
    uint8_t d[64];
    assert_int_equal(msc_bot_config_descriptor(d, sizeof(d)), 32);
    assert_int_equal(d[2], 32);
    assert_int_equal(d[9 + 5], 0x08);
    assert_int_equal(d[9 + 6], 0x06);
    assert_int_equal(d[9 + 7], 0x50);
    assert_int_equal(d[18 + 2], MSC_EP_OUT);
    assert_int_equal(d[25 + 2], MSC_EP_IN);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_inquiry_and_capacity, setup, teardown),
    cmocka_unit_test_setup_teardown(test_read_write_reach_the_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_out_of_range_fails_with_sense, setup, teardown),
    cmocka_unit_test_setup_teardown(test_short_reply_has_residue, setup, teardown),
    cmocka_unit_test_setup_teardown(test_invalid_cbw_stalls_until_reset, setup, teardown),
    cmocka_unit_test(test_config_descriptor),
};

CMBOOT_TEST_MAIN(tests)
