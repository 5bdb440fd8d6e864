/* Unit tests of the emulated eMMC speed model behind the mass-storage stage, on the model's own clock. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "model/msc_bot.h"
#include "model/msc_speed.h"

#define MIB 1048576u
#define DISK_MIB 8u
#define PACKET 16384u       /* bulk transfer size of the host */
#define COMMAND_BLOCKS 128u /* 64 KiB per READ/WRITE(10) */

typedef struct fixture {
    char *dir;
    char path[512];
    msc_bot *bot;
    msc_speed speed;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->dir = test_tmpdir("mscspeed");
    snprintf(f->path, sizeof(f->path), "%s/disk.img", f->dir);
    int fd = open(f->path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)DISK_MIB * MIB), 0);
    close(fd);
    msc_config cfg = {.image_path = f->path};
    assert_int_equal(msc_bot_open(&cfg, &f->bot), CMBOOT_OK);
    msc_speed_init(&f->speed, 35000000, 80000000); /* the emulator's defaults: 35 / 80 MB/s */
    msc_bot_set_speed(f->bot, &f->speed);
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

static void send_cbw(msc_bot *bot, uint32_t tag, uint32_t len, bool in, const uint8_t *cdb, uint8_t cdb_len)
{
    uint8_t c[31] = {'U', 'S', 'B', 'C'};
    memcpy(c + 4, &tag, 4);
    memcpy(c + 8, &len, 4);
    c[12] = in ? 0x80 : 0x00;
    c[14] = cdb_len;
    memcpy(c + 15, cdb, cdb_len);
    size_t used = 0;
    assert_int_equal(msc_bot_out(bot, c, sizeof(c), &used), MSC_OK);
    assert_int_equal(used, 31);
}

static void expect_csw_passed(msc_bot *bot, uint32_t tag)
{
    uint8_t buf[13];
    size_t n = 0;
    assert_int_equal(msc_bot_in(bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(n, 13);
    uint32_t t;
    memcpy(&t, buf + 4, 4);
    assert_int_equal(t, tag);
    assert_int_equal(buf[12], 0);
}

/* The whole disk in 64 KiB commands of 16 KiB packets, the host sending each packet once the previous one is
 * answered (as the frontend does); returns the model time at the end, starting at t0_us. */
static int64_t move_disk(fixture *f, bool write, int64_t t0_us)
{
    static uint8_t buf[PACKET];
    int64_t now = t0_us;
    uint32_t tag = 1;
    for (uint32_t lba = 0; lba < DISK_MIB * MIB / 512; lba += COMMAND_BLOCKS, tag++) {
        uint8_t cdb[10] = {
            write ? 0x2a : 0x28, 0, (uint8_t)(lba >> 24), (uint8_t)(lba >> 16), (uint8_t)(lba >> 8), (uint8_t)lba, 0, 0,
            COMMAND_BLOCKS,      0};
        send_cbw(f->bot, tag, COMMAND_BLOCKS * 512, !write, cdb, 10);
        for (uint32_t done = 0; done < COMMAND_BLOCKS * 512; done += PACKET) {
            size_t n = 0;
            if (write) {
                test_fill_pattern(buf, sizeof(buf), lba + done);
                assert_int_equal(msc_bot_out(f->bot, buf, sizeof(buf), &n), MSC_OK);
            } else {
                assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
            }
            assert_int_equal(n, PACKET);
            now = msc_speed_done_at(&f->speed, now);
        }
        expect_csw_passed(f->bot, tag);
        now = msc_speed_done_at(&f->speed, now); /* the CSW moves no disk data: no time */
    }
    return now;
}

/* N MiB written at 35 MB/s take N * 2^20 / 35e6 s of the model's clock (rounded up to 1 us), however long the
 * test really runs, and land on the disk. */
static void test_write_takes_emmc_time(void **state)
{
    fixture *f = *state;
    f->speed.write_behind_bytes = 0; /* every WRITE answered once on the storage */
    int64_t t0 = 5000000;            /* any clock origin */
    int64_t end = move_disk(f, true, t0);
    uint64_t exact_ns = (uint64_t)DISK_MIB * MIB * 1000000000ull / 35000000ull; /* 239674514 ns */
    assert_int_equal(end - t0, (int64_t)((exact_ns + 999) / 1000));
    assert_int_equal(f->speed.write_ns, exact_ns);
    assert_int_equal(f->speed.read_ns, 0);
    msc_stats st;
    msc_bot_stats(f->bot, &st);
    assert_int_equal(st.bytes_written, (uint64_t)DISK_MIB * MIB);
    /* What was written is on the disk (the model times data, it does not drop it). */
    int fd = open(f->path, O_RDONLY);
    uint8_t got[PACKET], want[PACKET];
    assert_int_equal(pread(fd, got, sizeof(got), 3 * MIB), (ssize_t)sizeof(got));
    close(fd);
    test_fill_pattern(want, sizeof(want), (3 * MIB) / 512);
    assert_memory_equal(got, want, sizeof(got));
}

static void test_read_takes_emmc_time(void **state)
{
    fixture *f = *state;
    int64_t end = move_disk(f, false, 0);
    uint64_t exact_ns = (uint64_t)DISK_MIB * MIB * 1000000000ull / 80000000ull; /* 104857600 ns */
    assert_int_equal(end, (int64_t)((exact_ns + 999) / 1000));
    assert_int_equal(f->speed.read_ns, exact_ns);
    assert_int_equal(f->speed.write_ns, 0);
}

/* Only READ/WRITE data costs storage time: INQUIRY and READ CAPACITY replies are free. */
static void test_replies_cost_nothing(void **state)
{
    fixture *f = *state;
    uint8_t buf[64];
    size_t n = 0;
    const uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0};
    send_cbw(f->bot, 1, 36, true, inq, 6);
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
    assert_int_equal(n, 36);
    expect_csw_passed(f->bot, 1);
    const uint8_t rc10[10] = {0x25};
    send_cbw(f->bot, 2, 8, true, rc10, 10);
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
    expect_csw_passed(f->bot, 2);
    assert_int_equal(msc_speed_done_at(&f->speed, 777), 777);
    assert_int_equal(f->speed.write_ns + f->speed.read_ns, 0);
}

/* The storage does one thing at a time: data accounted while it is busy starts when it is free; data after an
 * idle gap starts at the caller's time. 0 = unthrottled. */
static void test_timeline(void **state)
{
    (void)state;
    msc_speed s;
    msc_speed_init(&s, 1000000, 0); /* 1 MB/s write: 1 byte = 1 us */
    s.write_behind_bytes = 0;
    msc_speed_account(&s, true, 500);
    assert_int_equal(msc_speed_done_at(&s, 100), 600);
    msc_speed_account(&s, true, 500);
    assert_int_equal(msc_speed_done_at(&s, 200), 1100); /* busy until 600 */
    msc_speed_account(&s, true, 10);
    assert_int_equal(msc_speed_done_at(&s, 5000), 5010); /* idle since 1100 */
    msc_speed_account(&s, false, 1000000);               /* reads unthrottled */
    assert_int_equal(msc_speed_done_at(&s, 6000), 6000);
    /* Remainders carry: 3 bytes at 7 B/s, one byte at a time, is 3/7 s in all. */
    msc_speed_init(&s, 7, 0);
    for (int i = 0; i < 3; i++)
        msc_speed_account(&s, true, 1);
    assert_int_equal(s.write_ns, 3000000000ull / 7);
}

/* SYNCHRONIZE CACHE(10): no data, its status answered when the storage is done; returns that time. */
static int64_t sync_cache(fixture *f, uint32_t tag, int64_t now)
{
    const uint8_t cdb[10] = {0x35};
    send_cbw(f->bot, tag, 0, false, cdb, 10);
    assert_int_equal(msc_speed_done_at(&f->speed, now), now); /* the CBW itself waits for nothing */
    expect_csw_passed(f->bot, tag);
    return msc_speed_done_at(&f->speed, now);
}

/* With write-behind (the default) WRITE data is answered while at most 4 MiB of it is still being written, and
 * never earlier; SYNCHRONIZE CACHE is answered exactly when the last byte is on the storage. */
static void test_write_behind_until_sync(void **state)
{
    fixture *f = *state;
    assert_int_equal(f->speed.write_behind_bytes, MSC_SPEED_WRITE_BEHIND);
    int64_t t0 = 1000;
    int64_t end = move_disk(f, true, t0);
    uint64_t exact_ns = (uint64_t)DISK_MIB * MIB * 1000000000ull / 35000000ull;
    int64_t behind_us = (int64_t)((uint64_t)MSC_SPEED_WRITE_BEHIND * 1000000ull / 35000000ull);
    /* The host saw the last WRITE answered 4 MiB of eMMC time (119.8 ms) before the storage finished... */
    assert_true(end - t0 >= (int64_t)(exact_ns / 1000) - behind_us - 1);
    assert_true(end - t0 <= (int64_t)(exact_ns / 1000) - behind_us + 1);
    /* ...and its SYNCHRONIZE CACHE when the storage did. */
    assert_int_equal(sync_cache(f, 9999, end) - t0, (int64_t)((exact_ns + 999) / 1000));
    /* A second one with nothing written since is answered at once. */
    assert_int_equal(sync_cache(f, 10000, end + 500000), end + 500000);
}

/* The host's pauses between commands (its own work: CBW, CSW, the next request) are hidden by write-behind: the
 * storage goes on writing; without it the storage idles in every pause. */
static void test_write_behind_hides_host_pauses(void **state)
{
    fixture *f = *state;
    static uint8_t buf[PACKET];
    const int64_t pause_us = 2000; /* per 64 KiB command, more than the 1.87 ms its 64 KiB costs the eMMC */
    int64_t took[2];
    for (int behind = 0; behind < 2; behind++) {
        msc_speed_init(&f->speed, 35000000, 80000000);
        f->speed.write_behind_bytes = behind ? MSC_SPEED_WRITE_BEHIND : 0;
        int64_t now = 0;
        uint32_t tag = 1;
        for (uint32_t lba = 0; lba < 2 * MIB / 512; lba += COMMAND_BLOCKS, tag++) {
            uint8_t cdb[10] = {0x2a, 0, 0, 0, (uint8_t)(lba >> 8), (uint8_t)lba, 0, 0, COMMAND_BLOCKS, 0};
            send_cbw(f->bot, tag, COMMAND_BLOCKS * 512, false, cdb, 10);
            for (uint32_t done = 0; done < COMMAND_BLOCKS * 512; done += PACKET) {
                size_t n = 0;
                assert_int_equal(msc_bot_out(f->bot, buf, sizeof(buf), &n), MSC_OK);
                now = msc_speed_done_at(&f->speed, now);
            }
            expect_csw_passed(f->bot, tag);
            now = msc_speed_done_at(&f->speed, now) + pause_us;
        }
        took[behind] = sync_cache(f, tag, now);
    }
    int64_t emmc_us = (int64_t)(2ull * MIB * 1000000ull / 35000000ull); /* 59.9 ms */
    int64_t cmd_us = (int64_t)(COMMAND_BLOCKS * 512ull * 1000000ull / 35000000ull);
    /* 32 commands: without write-behind, storage time plus every pause (123.9 ms)... */
    assert_true(took[0] >= emmc_us + 32 * pause_us);
    /* ...with it, the storage writes during the pauses: the host's own 32 pauses (64 ms) are all it takes. */
    assert_true(took[1] >= 32 * pause_us);
    assert_true(took[1] <= 32 * pause_us + cmd_us + 1);
}

/* A READ after unsynchronised writes waits for them: the storage does one thing at a time. */
static void test_read_waits_for_written_data(void **state)
{
    fixture *f = *state;
    static uint8_t buf[PACKET];
    uint8_t wr[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, COMMAND_BLOCKS, 0};
    send_cbw(f->bot, 1, COMMAND_BLOCKS * 512, false, wr, 10);
    int64_t now = 0;
    for (uint32_t done = 0; done < COMMAND_BLOCKS * 512; done += PACKET) {
        size_t n = 0;
        assert_int_equal(msc_bot_out(f->bot, buf, sizeof(buf), &n), MSC_OK);
        now = msc_speed_done_at(&f->speed, now);
    }
    expect_csw_passed(f->bot, 1);
    assert_int_equal(now, 0); /* 64 KiB is well within the write-behind: answered at once */
    uint8_t rd[10] = {0x28, 0, 0, 0, 0x10, 0, 0, 0, 32, 0};
    send_cbw(f->bot, 2, PACKET, true, rd, 10);
    size_t n = 0;
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
    int64_t write_ns = (int64_t)(COMMAND_BLOCKS * 512ull * 1000000000ull / 35000000ull);
    int64_t read_ns = (int64_t)((uint64_t)PACKET * 1000000000ull / 80000000ull);
    assert_int_equal(msc_speed_done_at(&f->speed, 10), (write_ns + read_ns + 999) / 1000);
    expect_csw_passed(f->bot, 2);
}

/* MODE SENSE(6) caching page: write cache enabled, as the gadget says (so the host sends SYNCHRONIZE CACHE). */
static void test_caching_page_reports_write_cache(void **state)
{
    fixture *f = *state;
    const uint8_t ms[6] = {0x1a, 0, 0x08, 0, 64, 0};
    send_cbw(f->bot, 1, 64, true, ms, 6);
    uint8_t buf[64];
    size_t n = 0;
    assert_int_equal(msc_bot_in(f->bot, buf, sizeof(buf), &n), MSC_OK);
    assert_true(n >= 4 + 3);
    assert_int_equal(buf[4], 0x08);         /* caching page after the 4-byte header */
    assert_int_equal(buf[4 + 2] & 0x04, 4); /* WCE */
    expect_csw_passed(f->bot, 1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_write_takes_emmc_time, setup, teardown),
    cmocka_unit_test_setup_teardown(test_read_takes_emmc_time, setup, teardown),
    cmocka_unit_test_setup_teardown(test_replies_cost_nothing, setup, teardown),
    cmocka_unit_test(test_timeline),
    cmocka_unit_test_setup_teardown(test_write_behind_until_sync, setup, teardown),
    cmocka_unit_test_setup_teardown(test_write_behind_hides_host_pauses, setup, teardown),
    cmocka_unit_test_setup_teardown(test_read_waits_for_written_data, setup, teardown),
    cmocka_unit_test_setup_teardown(test_caching_page_reports_write_cache, setup, teardown),
};

CMBOOT_TEST_MAIN(tests)
