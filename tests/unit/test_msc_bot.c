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

static uint8_t *read_whole(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t *b = malloc((size_t)size);
    assert_int_equal(pread(fd, b, (size_t)size, 0), size);
    close(fd);
    *len = (size_t)size;
    return b;
}

/* A CBW addressed to one LUN (bCBWLUN). */
static void send_cbw_lun(msc_bot *bot, uint8_t lun, uint32_t tag, uint32_t len, bool in, const uint8_t *cdb,
                         uint8_t cdb_len)
{
    uint8_t c[31];
    size_t used = 0;
    cbw(c, tag, len, in, cdb, cdb_len);
    c[13] = lun;
    assert_int_equal(msc_bot_out(bot, c, sizeof(c), &used), MSC_OK);
    assert_int_equal(used, 31);
}

static void request_sense(msc_bot *bot, uint8_t lun, uint32_t tag, uint8_t *key, uint8_t *asc)
{
    uint8_t buf[64];
    size_t n = 0;
    const uint8_t rs[6] = {0x03, 0, 0, 0, 18, 0};
    send_cbw_lun(bot, lun, tag, 18, true, rs, 6);
    assert_int_equal(msc_bot_in(bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(n, 18);
    *key = buf[2];
    *asc = buf[12];
    expect_csw(bot, tag, 0, 0);
}

/* A gadget with an eMMC LUN and an NVMe LUN: each its own file, size, strings and sense. */
static void test_two_luns(void **state)
{
    (void)state;
    char *dir = test_tmpdir("msc2");
    char p0[512], p1[512];
    snprintf(p0, sizeof(p0), "%s/emmc.img", dir);
    snprintf(p1, sizeof(p1), "%s/nvme.img", dir);
    uint8_t *zero = calloc(1, 128 * 512);
    test_write_file(dir, "emmc.img", zero, 64 * 512);
    test_write_file(dir, "nvme.img", zero, 128 * 512);
    msc_config cfg[2] = {{.image_path = p0}, {.image_path = p1}};
    assert_true(msc_kind_strings("nvme", &cfg[1].vendor, &cfg[1].product, &cfg[1].revision));
    assert_false(msc_kind_strings("floppy", &cfg[1].vendor, &cfg[1].product, &cfg[1].revision));
    msc_bot *bot = NULL;
    assert_int_equal(msc_bot_open_luns(cfg, 2, &bot), CMBOOT_OK);
    assert_int_equal(msc_bot_lun_count(bot), 2);
    uint8_t buf[512];
    size_t n = 0, used = 0;
    const uint8_t setup_lun[8] = {0xa1, 0xfe, 0, 0, 0, 0, 1, 0};
    assert_int_equal(msc_bot_class_request(bot, setup_lun, buf, 1), 1);
    assert_int_equal(buf[0], 1); /* GET MAX LUN: n - 1 */
    /* INQUIRY per LUN: LUN 0 the defaults, LUN 1 what the usbboot gadget reports for nvme0n1 */
    const uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0};
    send_cbw_lun(bot, 0, 1, 36, true, inq, 6);
    assert_int_equal(msc_bot_in(bot, buf, sizeof(buf), &n), MSC_OK);
    assert_memory_equal(buf + 8, "RPi-MSD-cmboot-sim eMMC 0001", 28);
    expect_csw(bot, 1, 0, 0);
    send_cbw_lun(bot, 1, 2, 36, true, inq, 6);
    assert_int_equal(msc_bot_in(bot, buf, sizeof(buf), &n), MSC_OK);
    assert_memory_equal(buf + 8, "nvme0n1                     ", 28);
    expect_csw(bot, 2, 0, 0);
    /* READ CAPACITY per LUN */
    const uint8_t rc10[10] = {0x25};
    send_cbw_lun(bot, 1, 3, 8, true, rc10, 10);
    assert_int_equal(msc_bot_in(bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(buf[3], 127);
    expect_csw(bot, 3, 0, 0);
    send_cbw_lun(bot, 0, 4, 8, true, rc10, 10);
    assert_int_equal(msc_bot_in(bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(buf[3], 63);
    expect_csw(bot, 4, 0, 0);
    /* WRITE(10) to LUN 1 at LBA 100 (past LUN 0's end): lands in LUN 1's file only */
    uint8_t data[512];
    test_fill_pattern(data, sizeof(data), 5);
    const uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 100, 0, 0, 1, 0};
    send_cbw_lun(bot, 1, 5, 512, false, w10, 10);
    assert_int_equal(msc_bot_out(bot, data, 512, &used), MSC_OK);
    expect_csw(bot, 5, 0, 0);
    /* the same LBA on LUN 0 is out of range, and its sense stays LUN 0's */
    send_cbw_lun(bot, 0, 6, 512, false, w10, 10);
    assert_int_equal(msc_bot_out(bot, data, 512, &used), MSC_OK);
    expect_csw(bot, 6, 0, 1); /* the data was taken and dropped */
    uint8_t key, asc;
    request_sense(bot, 1, 7, &key, &asc);
    assert_int_equal(key, 0);
    request_sense(bot, 0, 8, &key, &asc);
    assert_int_equal(key, 0x05);
    assert_int_equal(asc, 0x21);
    /* a LUN past GET MAX LUN's answer: CHECK CONDITION, LOGICAL UNIT NOT SUPPORTED */
    const uint8_t tur[6] = {0x00};
    send_cbw_lun(bot, 2, 9, 0, false, tur, 6);
    expect_csw(bot, 9, 0, 1);
    request_sense(bot, 0, 10, &key, &asc);
    assert_int_equal(asc, 0x25);
    msc_bot_close(bot);
    size_t len = 0;
    uint8_t *f1 = read_whole(p1, &len);
    assert_int_equal(len, 128 * 512);
    assert_memory_equal(f1 + 100 * 512, data, 512);
    free(f1);
    uint8_t *f0 = read_whole(p0, &len);
    assert_int_equal(len, 64 * 512);
    assert_memory_equal(f0, zero, 64 * 512); /* untouched */
    free(f0);
    free(zero);
    /* more LUNs than Bulk-Only can address, or none: refused */
    msc_config many[MSC_MAX_LUNS + 1];
    for (size_t i = 0; i < MSC_MAX_LUNS + 1; i++)
        many[i] = cfg[0];
    assert_int_equal(msc_bot_open_luns(many, MSC_MAX_LUNS + 1, &bot), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(msc_bot_open_luns(many, 0, &bot), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(msc_bot_open_luns(many, MSC_MAX_LUNS, &bot), CMBOOT_OK);
    msc_bot_close(bot);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_inquiry_and_capacity, setup, teardown),
    cmocka_unit_test_setup_teardown(test_read_write_reach_the_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_out_of_range_fails_with_sense, setup, teardown),
    cmocka_unit_test_setup_teardown(test_short_reply_has_residue, setup, teardown),
    cmocka_unit_test_setup_teardown(test_invalid_cbw_stalls_until_reset, setup, teardown),
    cmocka_unit_test(test_config_descriptor),
    cmocka_unit_test(test_two_luns),
};

CMBOOT_TEST_MAIN(tests)
