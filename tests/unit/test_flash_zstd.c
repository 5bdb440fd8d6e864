/* zstd through libzstd: multi-frame streams, every frame's checksum required and checked, truncation and
 * trailing data refused, skippable frames passed over, the window bounded by the memory cap. Frames are made
 * by libzstd here, so each case is exactly the damage it names. */
#include "testutil.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "flash/flash_internal.h"
#include "flash/zstd_src.h"

#define DATA_SIZE (1024u * 1024u + 77u)

static uint8_t *data(void)
{
    uint8_t *b = malloc(DATA_SIZE);
    assert_non_null(b);
    test_fill_pattern(b, DATA_SIZE, 5);
    for (size_t i = 0; i < DATA_SIZE; i += 8192)
        memset(b + i, 'z', i + 4096 < DATA_SIZE ? 4096 : DATA_SIZE - i); /* compressed blocks and raw ones */
    return b;
}

/* One frame of d: with or without its checksum; wlog > 0 streams it with that window (no content size), so
 * the header asks for the window whatever the data's length. */
static uint8_t *frame(const uint8_t *d, size_t len, int checksum, int wlog, size_t *out_len)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    assert_non_null(c);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum)));
    size_t cap = ZSTD_compressBound(len) + 64;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    if (wlog) {
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, wlog)));
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0)));
        ZSTD_outBuffer o = {out, cap, 0};
        ZSTD_inBuffer i = {d, len, 0};
        assert_false(ZSTD_isError(ZSTD_compressStream2(c, &o, &i, ZSTD_e_continue)));
        size_t left;
        do {
            left = ZSTD_compressStream2(c, &o, &i, ZSTD_e_end);
            assert_false(ZSTD_isError(left));
        } while (left);
        *out_len = o.pos;
    } else {
        *out_len = ZSTD_compress2(c, out, cap, d, len);
        assert_false(ZSTD_isError(*out_len));
    }
    ZSTD_freeCCtx(c);
    return out;
}

typedef struct {
    uint8_t *b;
    size_t len;
} bytes;

static void append(bytes *s, const void *p, size_t n)
{
    s->b = realloc(s->b, s->len + n + 1);
    assert_non_null(s->b);
    memcpy(s->b + s->len, p, n);
    s->len += n;
}

static void append_frame(bytes *s, const uint8_t *d, size_t len, int checksum, int wlog)
{
    size_t n = 0;
    uint8_t *f = frame(d, len, checksum, wlog, &n);
    append(s, f, n);
    free(f);
}

/* A skippable frame (magic 0x184D2A5?, little-endian length) of `len` bytes. */
static void append_skippable(bytes *s, size_t len)
{
    uint8_t h[8] = {0x53, 0x2a, 0x4d, 0x18, (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), 0};
    append(s, h, sizeof h);
    uint8_t *junk = malloc(len + 1);
    assert_non_null(junk);
    memset(junk, 0x28, len); /* not a frame, if it were read as one */
    append(s, junk, len);
    free(junk);
}

static char *put(const char *dir, const char *name, const bytes *s)
{
    test_write_file(dir, name, s->b, s->len);
    char *path = malloc(4096);
    assert_non_null(path);
    snprintf(path, 4096, "%s/%s", dir, name);
    return path;
}

/* Opens, caps the decoder at memlimit (0 = none) and reads the whole source; the first error and its sentence. */
static int drain(const char *path, uint64_t memlimit, uint8_t *out, size_t cap, size_t *total, char *why,
                 size_t why_size)
{
    cmboot_flash_source *src = NULL;
    why[0] = 0;
    *total = 0;
    int rc = cmboot_flash_source_open_flags(path, 0, &src, why, why_size);
    if (rc != CMBOOT_OK)
        return rc;
    assert_string_equal(cmboot_flash_source_format(src), "zstd");
    rc = cmb_flash_source_prepare(src, 1, memlimit, NULL, 0);
    uint8_t *chunk = malloc(70001); /* odd: frames end inside a read */
    assert_non_null(chunk);
    while (rc == CMBOOT_OK) {
        size_t n = 0;
        rc = cmboot_flash_source_read(src, chunk, 70001, &n);
        if (rc == CMBOOT_OK && n == 0)
            break;
        if (out) {
            assert_true(*total + n <= cap);
            memcpy(out + *total, chunk, n);
        }
        *total += n;
    }
    if (rc != CMBOOT_OK)
        snprintf(why, why_size, "%s", cmb_flash_source_error(src));
    free(chunk);
    cmboot_flash_source_close(src);
    return rc;
}

static void expect(const char *path, uint64_t memlimit, int code, const char *words)
{
    char why[256];
    size_t total = 0;
    int rc = drain(path, memlimit, NULL, 0, &total, why, sizeof why);
    if (rc != code || !strstr(why, words))
        fprintf(stderr, "%s: rc %d (%s), why \"%s\", want %d and \"%s\"\n", path, rc, cmboot_error_name(rc), why, code,
                words);
    assert_int_equal(rc, code);
    assert_non_null(strstr(why, words));
}

static void expect_whole(const char *path, const uint8_t *want, size_t len)
{
    uint8_t *got = malloc(len + 1);
    assert_non_null(got);
    char why[256];
    size_t total = 0;
    int rc = drain(path, 0, got, len + 1, &total, why, sizeof why);
    if (rc != CMBOOT_OK)
        fprintf(stderr, "%s: %s\n", path, why);
    assert_int_equal(rc, CMBOOT_OK);
    assert_int_equal(total, len);
    assert_memory_equal(got, want, len);
    free(got);
}

/* cmboot_flash_write of image onto dir/target.bin, capped at max_memory (0 = none). */
static int write_image(const char *dir, const char *image, uint64_t max_memory, cmboot_flash_result *res)
{
    test_write_file(dir, "target.bin", "", 0);
    char target[4096];
    snprintf(target, sizeof target, "%s/target.bin", dir);
    cmboot_flash_config cfg;
    cmboot_flash_config_default(&cfg);
    cfg.image = image;
    cfg.target = target;
    cfg.max_memory = max_memory;
    cmboot_flash_result_default(res);
    return cmboot_flash_write(&cfg, res);
}

static void multi_frame_ok(void **state)
{
    (void)state;
    char *dir = test_tmpdir("zst-multi");
    uint8_t *d = data();
    size_t third = DATA_SIZE / 3;
    bytes s = {0};
    append_frame(&s, d, third, 1, 0);
    append_frame(&s, d + third, third, 1, 20);
    append_frame(&s, d + 2 * third, DATA_SIZE - 2 * third, 1, 0);
    char *path = put(dir, "d.img.zst", &s);
    expect_whole(path, d, DATA_SIZE); /* zstd -c a >x; zstd -c b >>x: legal, every frame read */
    /* Through the unit: three data frames counted. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    cmb_zstd *z = NULL;
    char err[256] = "";
    assert_int_equal(cmb_zstd_open(fd, true, NULL, 0, &z, err, sizeof err), CMBOOT_OK);
    uint8_t *buf = malloc(DATA_SIZE);
    assert_non_null(buf);
    size_t got = 0, total = 0;
    do {
        assert_int_equal(
            cmb_zstd_read(z, buf + total, DATA_SIZE - total > 4096 ? 4096 : DATA_SIZE - total, &got, err, sizeof err),
            CMBOOT_OK);
        total += got;
    } while (got > 0 && total < DATA_SIZE);
    assert_int_equal(cmb_zstd_read(z, buf, 16, &got, err, sizeof err), CMBOOT_OK);
    assert_int_equal(got, 0);
    assert_int_equal(total, DATA_SIZE);
    assert_int_equal(cmb_zstd_frames(z), 3);
    cmb_zstd_close(z);
    close(fd);
    free(buf);
    cmboot_flash_result res;
    assert_int_equal(write_image(dir, path, 0, &res), CMBOOT_OK);
    assert_true(res.verified);
    assert_int_equal(res.image_size, DATA_SIZE);
    free(path);
    free(s.b);
    free(d);
    test_rmtree(dir);
    free(dir);
}

/* Only the first frame's header was checked before: a later frame without checksum could carry anything. */
static void later_frame_without_checksum_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("zst-nocheck2");
    uint8_t *d = data();
    bytes s = {0};
    append_frame(&s, d, DATA_SIZE / 2, 1, 0);
    append_frame(&s, d + DATA_SIZE / 2, DATA_SIZE - DATA_SIZE / 2, 0, 0);
    char *path = put(dir, "d.img.zst", &s);
    expect(path, 0, CMBOOT_ERR_FORMAT, "frame 2 carries no content checksum");
    cmboot_flash_result res;
    assert_int_equal(write_image(dir, path, 0, &res), CMBOOT_ERR_FORMAT);
    assert_false(res.verified);
    assert_non_null(strstr(res.reason, "no content checksum"));
    free(path);
    free(s.b);
    free(d);
    test_rmtree(dir);
    free(dir);
}

static void corrupt_byte_checksum_error(void **state)
{
    (void)state;
    char *dir = test_tmpdir("zst-corrupt");
    uint8_t *d = data();
    bytes s = {0};
    append_frame(&s, d, DATA_SIZE, 1, 0);
    char *path = put(dir, "d.img.zst", &s);
    expect_whole(path, d, DATA_SIZE);
    /* The checksum itself (the frame's last 4 bytes): the data decode, their hash does not match. */
    s.b[s.len - 2] ^= 0x01;
    test_write_file(dir, "d.img.zst", s.b, s.len);
    expect(path, 0, CMBOOT_ERR_ARCHIVE, "checksum");
    s.b[s.len - 2] ^= 0x01;
    /* A byte of a raw (stored) block: nothing but the checksum can notice. */
    const uint8_t *mark = NULL;
    for (size_t i = s.len / 2; i + 16 < s.len && !mark; i++) {
        if (memcmp(s.b + i, d + (DATA_SIZE / 2 & ~(size_t)8191) + 4096 + 100, 16) == 0)
            mark = s.b + i;
    }
    assert_non_null(mark); /* random literals are stored as they are */
    s.b[mark - s.b] ^= 0x10;
    test_write_file(dir, "d.img.zst", s.b, s.len);
    expect(path, 0, CMBOOT_ERR_ARCHIVE, "checksum");
    cmboot_flash_result res;
    assert_int_equal(write_image(dir, path, 0, &res), CMBOOT_ERR_ARCHIVE);
    assert_false(res.verified);
    free(path);
    free(s.b);
    free(d);
    test_rmtree(dir);
    free(dir);
}

static void truncated_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("zst-trunc");
    uint8_t *d = data();
    bytes s = {0};
    append_frame(&s, d, DATA_SIZE / 2, 1, 0);
    size_t first = s.len;
    append_frame(&s, d + DATA_SIZE / 2, DATA_SIZE - DATA_SIZE / 2, 1, 0);
    /* Inside the second frame's data, inside its checksum, inside its header; inside the first frame. */
    const size_t cuts[] = {first + (s.len - first) / 2, s.len - 1, first + 3, first / 3};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        bytes t = {s.b, cuts[i]};
        char *path = put(dir, "d.img.zst", &t);
        expect(path, 0, CMBOOT_ERR_ARCHIVE, "truncated");
        free(path);
    }
    free(s.b);
    free(d);
    test_rmtree(dir);
    free(dir);
}

static void trailing_garbage_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("zst-trail");
    uint8_t *d = data();
    bytes s = {0};
    append_frame(&s, d, DATA_SIZE, 1, 0);
    size_t len = s.len;
    append(&s, "garbage after the frame", 23);
    char *path = put(dir, "d.img.zst", &s);
    expect(path, 0, CMBOOT_ERR_ARCHIVE, "trailing data after frame 1");
    s.len = len;
    static const uint8_t zeros[4096];
    append(&s, zeros, sizeof zeros); /* padding is no frame either */
    free(path);
    path = put(dir, "d.img.zst", &s);
    expect(path, 0, CMBOOT_ERR_ARCHIVE, "trailing data");
    cmboot_flash_result res;
    assert_int_equal(write_image(dir, path, 0, &res), CMBOOT_ERR_ARCHIVE);
    assert_false(res.verified);
    free(path);
    free(s.b);
    free(d);
    test_rmtree(dir);
    free(dir);
}

typedef struct {
    const char *path;
    const uint8_t *data;
    size_t len;
} fifo_feed;

static void *feed_fifo(void *arg)
{
    fifo_feed *f = arg;
    int fd = open(f->path, O_WRONLY | O_CLOEXEC);
    for (size_t off = 0; fd >= 0 && off < f->len;) {
        ssize_t w = write(fd, f->data + off, f->len - off > 3000 ? 3000 : f->len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* Skippable frames (metadata some tools add) first, between and after: passed over, in a file and in a pipe
 * (whose first bytes are read once to tell the format). A stream of skippable frames alone holds no image. */
static void skippable_frame_first_ok(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    char *dir = test_tmpdir("zst-skip");
    uint8_t *d = data();
    bytes s = {0};
    append_skippable(&s, 200);
    append_frame(&s, d, DATA_SIZE / 2, 1, 0);
    append_skippable(&s, 70000);
    append_frame(&s, d + DATA_SIZE / 2, DATA_SIZE - DATA_SIZE / 2, 1, 0);
    append_skippable(&s, 0);
    char *path = put(dir, "d.img", &s); /* told by its magic number, not its name */
    expect_whole(path, d, DATA_SIZE);
    free(path);
    path = malloc(4096);
    assert_non_null(path);
    snprintf(path, 4096, "%s/fifo.zst", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    fifo_feed f = {path, s.b, s.len};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed_fifo, &f), 0);
    expect_whole(path, d, DATA_SIZE);
    pthread_join(t, NULL);
    free(path);
    bytes only = {0};
    append_skippable(&only, 100);
    path = put(dir, "only.zst", &only);
    expect(path, 0, CMBOOT_ERR_ARCHIVE, "no data frame");
    free(path);
    only.len = 50; /* and cut inside it */
    path = put(dir, "only.zst", &only);
    expect(path, 0, CMBOOT_ERR_ARCHIVE, "truncated");
    free(path);
    free(only.b);
    free(s.b);
    free(d);
    test_rmtree(dir);
    free(dir);
}

/* A 16 MiB window under --max-memory 16 MiB (the decoder's share is about half) is refused before anything is
 * written; libzstd's default limit (128 MiB) holds without a cap, and a cap raises it; a later frame's window
 * is checked as it comes. */
static void window_over_cap_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("zst-window");
    uint8_t *d = data();
    bytes s = {0};
    append_frame(&s, d, DATA_SIZE, 1, 24);
    char *path = put(dir, "d.img.zst", &s);
    cmboot_flash_result res;
    assert_int_equal(write_image(dir, path, 16u << 20, &res), CMBOOT_ERR_NO_MEMORY);
    assert_int_equal(res.bytes_written, 0);
    assert_false(res.verified);
    assert_non_null(strstr(res.reason, "--max-memory"));
    struct stat st;
    char target[4096];
    snprintf(target, sizeof target, "%s/target.bin", dir);
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(write_image(dir, path, 0, &res), CMBOOT_OK); /* no cap: 16 MiB is within libzstd's */
    assert_true(res.verified);
    assert_int_equal(write_image(dir, path, 64u << 20, &res), CMBOOT_OK);
    expect(path, 8u << 20, CMBOOT_ERR_NO_MEMORY, "window");
    free(path);
    /* Over libzstd's default: refused without a cap, allowed by one large enough (not decoded here). */
    free(s.b);
    s = (bytes){0};
    append_frame(&s, d, 4096, 1, 28);
    path = put(dir, "big.zst", &s);
    expect(path, 0, CMBOOT_ERR_NO_MEMORY, "default limit");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    cmb_zstd *z = NULL;
    char err[256] = "";
    assert_int_equal(cmb_zstd_open(fd, true, NULL, 0, &z, err, sizeof err), CMBOOT_OK);
    assert_int_equal(cmb_zstd_limit(z, 0, err, sizeof err), CMBOOT_ERR_NO_MEMORY);
    cmb_zstd_close(z);
    assert_int_equal(cmb_zstd_open(fd, true, NULL, 0, &z, err, sizeof err), CMBOOT_OK);
    assert_int_equal(cmb_zstd_limit(z, 1ull << 30, err, sizeof err), CMBOOT_OK);
    cmb_zstd_close(z);
    close(fd);
    free(path);
    /* A small first frame, then one whose window is over the cap: refused when it comes. */
    free(s.b);
    s = (bytes){0};
    append_frame(&s, d, 4096, 1, 0);
    append_frame(&s, d, DATA_SIZE, 1, 24);
    path = put(dir, "later.zst", &s);
    expect(path, 8u << 20, CMBOOT_ERR_NO_MEMORY, "frame 2 needs");
    free(path);
    free(s.b);
    free(d);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(multi_frame_ok),
    cmocka_unit_test(later_frame_without_checksum_refused),
    cmocka_unit_test(corrupt_byte_checksum_error),
    cmocka_unit_test(truncated_refused),
    cmocka_unit_test(trailing_garbage_refused),
    cmocka_unit_test(skippable_frame_first_ok),
    cmocka_unit_test(window_over_cap_refused),
};

CMBOOT_TEST_MAIN(tests)
