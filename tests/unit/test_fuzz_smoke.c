/* Deterministic fuzz smoke run in the unit suite: thousands of random device reply streams through both stages. */
#include <stdlib.h>
#include <string.h>

#include "cmboot/cmboot.h"
#include "fuzz_transport.h"
#include "testutil.h"

static void test_random_device_replies(void **state)
{
    (void)state;
    char *dir = test_tmpdir("fuzz");
    uint8_t content[5000];
    test_fill_pattern(content, sizeof content, 9);
    test_write_file(dir, "bootcode4.bin", content, 300);
    test_write_file(dir, "start.elf", content, sizeof content);
    test_write_file(dir, "config.txt", "x", 1);
    uint8_t buf[4096];
    int outcomes[CMBOOT_ERR_COUNT] = {0};
    for (uint32_t seed = 1; seed <= 3000; seed++) {
        size_t len = 1 + (seed * 2654435761u) % sizeof buf;
        test_fill_pattern(buf, len, seed);
        /* plant plausible requests so the served-file paths are reached too */
        if (seed % 3 == 0 && len > 300) {
            memset(buf + 20, 0, 270);
            memcpy(buf + 24, "start.elf", 9);
        }
        int rc = fuzz_run_stages(buf, len, dir, NULL);
        assert_true(rc <= 0 && rc > -CMBOOT_ERR_COUNT);
        outcomes[-rc]++;
    }
    /* the run reached more than one way of ending */
    int kinds = 0;
    for (int i = 0; i < CMBOOT_ERR_COUNT; i++)
        kinds += outcomes[i] > 0;
    assert_true(kinds >= 3);
    test_rmtree(dir);
    free(dir);
}

/* Builds fuzz input for the file server alone (layout in fuzz_transport.h). */
typedef struct gen {
    uint8_t b[16384];
    size_t n;
} gen;

static void put(gen *g, const void *p, size_t n)
{
    assert_true(g->n + n <= sizeof g->b);
    memcpy(g->b + g->n, p, n);
    g->n += n;
}

static void put_byte(gen *g, uint8_t v)
{
    put(g, &v, 1);
}

/* A request read answered with `bytes` bytes (260 = all) of cmd/name; the command's low byte must be < 5 or
 * have its high bit set to arrive unchanged. */
static void put_request(gen *g, int32_t cmd, const char *name, size_t name_len, size_t bytes)
{
    uint8_t req[CMBOOT_FS_REQUEST_SIZE];
    cmboot_fs_request_encode(req, cmd, name, name_len);
    put_byte(g, 0);
    put_byte(g, bytes >= CMBOOT_FS_REQUEST_SIZE ? 0 : (uint8_t)(0xf0 + bytes));
    put(g, req, bytes >= CMBOOT_FS_REQUEST_SIZE ? CMBOOT_FS_REQUEST_SIZE : bytes);
}

/* Every lenient path of the file server, in one conversation that ends well; then the same conversation cut
 * and flipped at every position must still end in a defined way. */
static void test_fileserver_odd_requests(void **state)
{
    (void)state;
    char *dir = test_tmpdir("fuzzfs");
    uint8_t content[5000];
    test_fill_pattern(content, sizeof content, 4);
    test_write_file(dir, "start.elf", content, sizeof content);
    gen *g = calloc(1, sizeof *g);
    put_request(g, 0, "", 0, 2);                   /* too short: acknowledged */
    put_byte(g, 0);                                /* its ack */
    put_request(g, 0, "*NOVALUE", 8, 260);         /* bad metadata */
    put_byte(g, 0);                                /* its ack */
    put_request(g, 1, "*MAC_ADDR*d8:3a", 15, 260); /* metadata */
    put_byte(g, 0);
    put_request(g, 3, "start.elf", 9, 260); /* unknown command */
    put_byte(g, 0);
    put_request(g, -7, "x", 1, 260); /* negative command */
    put_byte(g, 0);
    put_byte(g, 13);                        /* timeout: read again */
    put_byte(g, 14);                        /* stall: read again */
    put_request(g, 0, "start.elf", 9, 13);  /* GetFileSize in a short reply (no NUL) */
    put_byte(g, 0);                         /* size */
    put_request(g, 1, "start.elf", 9, 260); /* ReadFile */
    put_byte(g, 0);                         /* size announced */
    put_byte(g, 14);                        /* chunk 1 stalls ... */
    put_byte(g, 128);                       /* ... after about half */
    put_byte(g, 0);                         /* clear halt */
    put_byte(g, 0);                         /* the rest of chunk 1 */
    put_byte(g, 0);                         /* chunk 2 */
    put_request(g, 0, "a\001b", 3, 260);    /* unsafe name */
    put_byte(g, 0);
    put_request(g, 1, "", 0, 260); /* empty name: end */
    put_byte(g, 0);
    fuzz_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(fuzz_run_fileserver(g->b, g->n, dir, &st), CMBOOT_OK);
    assert_int_equal(st.short_requests, 1);
    assert_int_equal(st.reads_again, 2);
    assert_int_equal(st.bad_metadata, 1);
    assert_int_equal(st.metadata, 1);
    assert_int_equal(st.unknown_commands, 2);
    assert_int_equal(st.unsafe_names, 1);
    assert_int_equal(st.halt_retries, 1);

    uint8_t *m = malloc(g->n);
    int ended_ok = 0;
    for (size_t cut = 0; cut < g->n; cut += 7) {
        memcpy(m, g->b, g->n);
        m[cut] ^= (uint8_t)(0x5a + cut);
        int rc = fuzz_run_fileserver(m, g->n - (cut % 3 == 0 ? cut / 2 : 0), dir, NULL);
        assert_true(rc <= 0 && rc > -CMBOOT_ERR_COUNT);
        ended_ok += rc == CMBOOT_OK;
    }
    assert_true(ended_ok > 0);
    free(m);
    free(g);
    test_rmtree(dir);
    free(dir);
}

static int no_files(void *user, const char *name, cmboot_stream *out)
{
    (void)user;
    (void)name;
    (void)out;
    return CMBOOT_ERR_NOT_FOUND;
}

/* The fuzz_fileserver harness runs on the transport's fake clock: with its 60 s idle limit (mode bit 0x10) a
 * device that only times out ends the run at 60 s of fake time, three 20 s reads, in no real time; with the
 * system clock the instant fake timeouts would run out the input instead (the device gone). Stalls pause on
 * the same clock: the default back-off, 10 ms doubling to 250, adds up there. */
static void test_fileserver_harness_fake_clock(void **state)
{
    (void)state;
    cmboot_file_provider p = {sizeof p, no_files, NULL};
    int64_t clock_ms = -1;
    fuzz_fs_options opt = {.provider = &p, .idle_limit_ms = 60000, .clock_ms = &clock_ms};
    uint8_t timeouts[64];
    memset(timeouts, 13, sizeof timeouts);
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(fuzz_run_fileserver_with(timeouts, sizeof timeouts, &opt), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(clock_ms, 60000);

    uint8_t stalls[64];
    memset(stalls, 14, sizeof stalls);
    opt.idle_limit_ms = 0;
    assert_int_equal(fuzz_run_fileserver_with(stalls, sizeof stalls, &opt), CMBOOT_ERR_NO_DEVICE);
    assert_int_equal(clock_ms, 10 + 20 + 40 + 80 + 160 + 250 * (64 - 6));
    assert_true(cmboot_now_ms() - t0 < 2000); /* over 75 s on the fake clock */

    /* both stages (the ROM's status deadline too) on the fake clock */
    fuzz_stats st;
    memset(&st, 0, sizeof st);
    char *dir = test_tmpdir("fuzzclock");
    test_write_file(dir, "bootcode4.bin", "0123456789", 10);
    uint8_t rom[2 + 64];
    memset(rom, 0, 4);                   /* boot message and second stage written */
    memset(rom + 4, 14, sizeof rom - 4); /* status reads stall, then the file server's reads */
    fuzz_run_stages(rom, sizeof rom, dir, &st);
    assert_true(st.clock_ms >= 5000); /* the default status deadline passed */
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_random_device_replies),
    cmocka_unit_test(test_fileserver_odd_requests),
    cmocka_unit_test(test_fileserver_harness_fake_clock),
};
CMBOOT_TEST_MAIN(tests)
