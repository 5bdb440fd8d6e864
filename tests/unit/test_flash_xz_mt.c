/* xz through liblzma: multi-block streams on several threads, single-block on one, corrupt blocks refused,
 * the thread cap and the memory cap (decoder and --max-memory) honoured. Streams made by liblzma here. */
#include "testutil.h"

#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "flash/flash_internal.h"
#include "flash/xz_mt.h"

#define DATA_SIZE (4u * 1024u * 1024u)
#define BLOCK (256u * 1024u)

static uint8_t *data(void)
{
    uint8_t *b = malloc(DATA_SIZE);
    assert_non_null(b);
    test_fill_pattern(b, DATA_SIZE, 11);
    for (size_t i = 0; i < DATA_SIZE; i += 8192)
        memset(b + i, 'a', 4096); /* compressible: real LZMA work */
    return b;
}

/* Compresses d into a new buffer: several blocks of `block` bytes (0 = one block), preset `preset`. */
static uint8_t *compress(const uint8_t *d, size_t len, uint64_t block, uint32_t preset, size_t *out_len)
{
    size_t cap = lzma_stream_buffer_bound(len);
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_mt mt;
    memset(&mt, 0, sizeof mt);
    mt.threads = 2;
    mt.block_size = block ? block : (uint64_t)len * 2; /* larger than the input: one block */
    mt.preset = preset;
    mt.check = LZMA_CHECK_CRC64;
    assert_int_equal(lzma_stream_encoder_mt(&s, &mt), LZMA_OK);
    s.next_in = d;
    s.avail_in = len;
    s.next_out = out;
    s.avail_out = cap;
    lzma_ret r;
    while ((r = lzma_code(&s, LZMA_FINISH)) == LZMA_OK)
        ;
    assert_int_equal(r, LZMA_STREAM_END);
    *out_len = cap - s.avail_out;
    lzma_end(&s);
    return out;
}

static int open_file(const char *dir, const char *name, const uint8_t *buf, size_t len, uint64_t *size)
{
    test_write_file(dir, name, buf, len);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    *size = len;
    return fd;
}

/* Decodes all of x into a new buffer; returns the read error (or CMBOOT_OK) and the bytes in *total. */
static int decode_all(cmb_xz *x, uint8_t **out, size_t *total, char *err, size_t err_size)
{
    uint8_t *buf = malloc(DATA_SIZE + 65536);
    assert_non_null(buf);
    *total = 0;
    int rc;
    for (;;) {
        size_t got = 0;
        rc = cmb_xz_read(x, buf + *total, 65536, &got, err, err_size);
        *total += got;
        if (rc != CMBOOT_OK || got == 0 || *total > DATA_SIZE)
            break;
    }
    *out = buf;
    return rc;
}

/* One test's stream: its directory, the data, the data compressed, and (once written) the file open. */
typedef struct xz_case {
    char *dir;
    uint8_t *d, *c;
    size_t clen;
    int fd;
    uint64_t size;
} xz_case;

/* Compresses data() in blocks of `block` (0 = one block) with preset into a new directory named by tag. */
static void xz_case_make(xz_case *k, const char *tag, uint64_t block, uint32_t preset)
{
    k->dir = test_tmpdir(tag);
    k->d = data();
    k->c = compress(k->d, DATA_SIZE, block, preset, &k->clen);
    k->fd = -1;
}

/* Writes the compressed stream to dir/name and opens it. */
static void xz_case_file(xz_case *k, const char *name)
{
    k->fd = open_file(k->dir, name, k->c, k->clen, &k->size);
}

static void xz_case_free(xz_case *k)
{
    if (k->fd >= 0)
        close(k->fd);
    free(k->c);
    free(k->d);
    test_rmtree(k->dir);
    free(k->dir);
}

/* Decodes all of x and checks it is the data. */
static void expect_data(cmb_xz *x, const uint8_t *d, char *err, size_t err_size)
{
    uint8_t *out;
    size_t total;
    assert_int_equal(decode_all(x, &out, &total, err, err_size), CMBOOT_OK);
    assert_int_equal(total, DATA_SIZE);
    assert_memory_equal(out, d, DATA_SIZE);
    free(out);
}

static void multi_block_on_threads(void **state)
{
    (void)state;
    xz_case k;
    xz_case_make(&k, "xzmt-multi", BLOCK, 1);
    xz_case_file(&k, "m.img.xz");
    assert_int_equal(cmb_xz_count_blocks(k.fd, k.size), DATA_SIZE / BLOCK);
    cmb_xz *x = NULL;
    char note[160], err[256];
    assert_int_equal(cmb_xz_open(k.fd, true, k.size, NULL, 0, 2, 0, &x, note, sizeof note, err, sizeof err), CMBOOT_OK);
    assert_int_equal(cmb_xz_threads(x), 2);
    assert_string_equal(note, "");
    expect_data(x, k.d, err, sizeof err);
    cmb_xz_close(x);
    xz_case_free(&k);
}

static void single_block_one_thread_and_said(void **state)
{
    (void)state;
    xz_case k;
    xz_case_make(&k, "xzmt-single", 0, 1);
    xz_case_file(&k, "s.img.xz");
    assert_int_equal(cmb_xz_count_blocks(k.fd, k.size), 1);
    cmb_xz *x = NULL;
    char note[160], err[256];
    assert_int_equal(cmb_xz_open(k.fd, true, k.size, NULL, 0, 4, 0, &x, note, sizeof note, err, sizeof err), CMBOOT_OK);
    assert_int_equal(cmb_xz_threads(x), 1);
    assert_non_null(strstr(note, "single-block xz stream: decoding on one thread"));
    expect_data(x, k.d, err, sizeof err);
    cmb_xz_close(x);
    xz_case_free(&k);
}

static void corrupt_block_refused(void **state)
{
    (void)state;
    xz_case k;
    xz_case_make(&k, "xzmt-corrupt", BLOCK, 1);
    k.c[k.clen / 2] ^= 0x40; /* inside a middle block's compressed data */
    xz_case_file(&k, "c.img.xz");
    for (unsigned threads = 1; threads <= 2; threads++) {
        cmb_xz *x = NULL;
        char note[160], err[256] = "";
        assert_int_equal(cmb_xz_open(k.fd, true, k.size, NULL, 0, threads, 0, &x, note, sizeof note, err, sizeof err),
                         CMBOOT_OK);
        uint8_t *out;
        size_t total;
        assert_int_equal(decode_all(x, &out, &total, err, sizeof err), CMBOOT_ERR_ARCHIVE);
        assert_true(total < DATA_SIZE);
        assert_non_null(strstr(err, "xz: corrupt image"));
        size_t got = 1;
        assert_int_equal(cmb_xz_read(x, out, 16, &got, err, sizeof err), CMBOOT_ERR_ARCHIVE); /* sticky */
        assert_int_equal(got, 0);
        cmb_xz_close(x);
        free(out);
    }
    xz_case_free(&k);
}

static void thread_cap_honoured(void **state)
{
    (void)state;
    xz_case k;
    xz_case_make(&k, "xzmt-cap", BLOCK, 1);
    xz_case_file(&k, "m.img.xz");
    char note[160], err[256];
    static const unsigned asked[] = {1, 3, 64};
    static const unsigned used[] = {1, 3, DATA_SIZE / BLOCK}; /* never more threads than blocks */
    for (size_t i = 0; i < 3; i++) {
        cmb_xz *x = NULL;
        assert_int_equal(cmb_xz_open(k.fd, true, k.size, NULL, 0, asked[i], 0, &x, note, sizeof note, err, sizeof err),
                         CMBOOT_OK);
        assert_int_equal(cmb_xz_threads(x), used[i]);
        cmb_xz_close(x);
    }
    /* 0 = the online cores (bounded by the blocks). */
    cmb_xz *x = NULL;
    assert_int_equal(cmb_xz_open(k.fd, true, k.size, NULL, 0, 0, 0, &x, note, sizeof note, err, sizeof err), CMBOOT_OK);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = cores > (long)(DATA_SIZE / BLOCK) ? DATA_SIZE / BLOCK : (unsigned)cores;
    assert_int_equal(cmb_xz_threads(x), want);
    cmb_xz_close(x);
    xz_case_free(&k);
}

/* A dictionary larger than the cap is refused with that reason, on one thread and on several. */
static void memory_cap_refuses_big_dictionary(void **state)
{
    (void)state;
    xz_case k;
    xz_case_make(&k, "xzmt-mem", 1024u * 1024u, 6); /* preset 6: 8 MiB dictionary */
    xz_case_file(&k, "big.img.xz");
    for (unsigned threads = 1; threads <= 2; threads++) {
        cmb_xz *x = NULL;
        char note[160], err[512] = "";
        int rc = cmb_xz_open(k.fd, true, k.size, NULL, 0, threads, 2u << 20, &x, note, sizeof note, err, sizeof err);
        if (rc == CMBOOT_OK) {
            uint8_t *out;
            size_t total;
            rc = decode_all(x, &out, &total, err, sizeof err);
            assert_int_equal(total, 0); /* refused before any byte */
            free(out);
            cmb_xz_close(x);
        }
        assert_int_equal(rc, CMBOOT_ERR_NO_MEMORY);
        assert_non_null(strstr(err, "dictionary"));
        assert_non_null(strstr(err, "memory cap"));
        /* The same stream under a cap that holds the dictionary decodes. */
        assert_int_equal(
            cmb_xz_open(k.fd, true, k.size, NULL, 0, threads, 64u << 20, &x, note, sizeof note, err, sizeof err),
            CMBOOT_OK);
        expect_data(x, k.d, err, sizeof err);
        cmb_xz_close(x);
    }
    xz_case_free(&k);
}

/* cmboot_flash_write with max_memory: refused before the first byte (target unchanged), else written. */
static void max_memory_in_write(void **state)
{
    (void)state;
    xz_case k;
    xz_case_make(&k, "xzmt-write", 0, 6);
    test_write_file(k.dir, "img.xz", k.c, k.clen);
    char image[4096], target[4096];
    snprintf(image, sizeof image, "%s/img.xz", k.dir);
    snprintf(target, sizeof target, "%s/target.bin", k.dir);
    test_write_file(k.dir, "target.bin", "keep", 4);
    cmboot_flash_config cfg;
    cmboot_flash_config_default(&cfg);
    cfg.image = image;
    cfg.target = target;
    cfg.max_memory = 6u << 20; /* the queue and the process leave ~1 MiB: xz -6 needs ~9 */
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_NO_MEMORY);
    assert_non_null(strstr(res.reason, "dictionary"));
    assert_false(res.target_touched);
    struct stat st;
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, 4);
    cfg.max_memory = 1u << 20; /* not even the queue */
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_INVALID_ARG);
    assert_non_null(strstr(res.reason, "--max-memory"));
    cfg.max_memory = 16u << 20;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_int_equal(res.image_size, DATA_SIZE);
    xz_case_free(&k);
}

/* The decoder's memory (its dictionary) is given back when the stream ends, before the read-back allocates its
 * buffers, not when the source is closed; reading on after the end gives nothing and no error. */
static void dictionary_freed_at_stream_end(void **state)
{
    (void)state;
    xz_case k;
    xz_case_make(&k, "xzmt-free", 0, 6);
    xz_case_file(&k, "f.img.xz");
    cmb_xz *x = NULL;
    char note[160], err[256];
    assert_int_equal(cmb_xz_open(k.fd, true, k.size, NULL, 0, 1, 0, &x, note, sizeof note, err, sizeof err), CMBOOT_OK);
    uint8_t buf[4096];
    size_t got = 0;
    assert_int_equal(cmb_xz_read(x, buf, sizeof buf, &got, err, sizeof err), CMBOOT_OK);
    assert_int_equal(got, sizeof buf);
    assert_true(cmb_xz_memusage(x) >= 8u << 20); /* xz -6: an 8 MiB dictionary */
    uint8_t *rest;
    size_t total;
    assert_int_equal(decode_all(x, &rest, &total, err, sizeof err), CMBOOT_OK);
    assert_int_equal(total + sizeof buf, DATA_SIZE);
    assert_memory_equal(buf, k.d, sizeof buf);
    assert_memory_equal(rest, k.d + sizeof buf, total);
    free(rest);
    assert_int_equal(cmb_xz_memusage(x), 0);
    assert_int_equal(cmb_xz_read(x, buf, sizeof buf, &got, err, sizeof err), CMBOOT_OK);
    assert_int_equal(got, 0);
    cmb_xz_close(x);
    xz_case_free(&k);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(multi_block_on_threads),
    cmocka_unit_test(single_block_one_thread_and_said),
    cmocka_unit_test(corrupt_block_refused),
    cmocka_unit_test(thread_cap_honoured),
    cmocka_unit_test(memory_cap_refuses_big_dictionary),
    cmocka_unit_test(max_memory_in_write),
    cmocka_unit_test(dictionary_freed_at_stream_end),
};

CMBOOT_TEST_MAIN(tests)
