/* The writer's runs (cmb_flash_write_run): several buffers in one pwritev, in order, short writes continued,
 * a failure mid-run reported at the first byte that did not reach the target. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "flash/flash_internal.h"

#define NBUF 5
#define BUF (64u * 1024u)
#define AT (2u * CMB_FLASH_ALIGN) /* the run's offset in the file: what is before it stays untouched */

/* What the injected pwritev does: at most `chunk` bytes per call, fails with `fail_errno` once `fail_after`
 * bytes went through, -1 EINTR on its first call when `eintr_first`. */
typedef struct fake {
    size_t chunk;
    size_t fail_after; /* 0: never */
    int fail_errno;    /* 0 with fail_after: the call returns 0 */
    bool eintr_first;
    int out_fd; /* >= 0: writes go there (no O_DIRECT: it may write any odd amount, as a kernel could) */
    size_t written;
    unsigned calls;
    unsigned direct_unaligned; /* calls at an unaligned offset while the run's descriptor had O_DIRECT on */
} fake;
static fake g_fake;

static ssize_t fake_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    fake *f = &g_fake;
    f->calls++;
    if (f->eintr_first && f->calls == 1) {
        errno = EINTR;
        return -1;
    }
    if (f->fail_after && f->written >= f->fail_after) {
        if (f->fail_errno == 0)
            return 0;
        errno = f->fail_errno;
        return -1;
    }
    size_t want = f->chunk;
    if (f->fail_after && f->fail_after - f->written < want)
        want = f->fail_after - f->written;
    struct iovec v[CMB_WRITE_RUN_MAX];
    int n = 0;
    for (size_t got = 0; n < cnt && got < want; n++) {
        v[n] = iov[n];
        if (v[n].iov_len > want - got)
            v[n].iov_len = want - got;
        got += v[n].iov_len;
    }
    if (off % CMB_FLASH_ALIGN != 0 && (fcntl(fd, F_GETFL) & O_DIRECT))
        f->direct_unaligned++;
    ssize_t r = pwritev(f->out_fd >= 0 ? f->out_fd : fd, v, n, off);
    if (r > 0)
        f->written += (size_t)r;
    return r;
}

typedef struct fixture {
    char *dir;
    char path[4200];
    int fd;
    uint8_t *buf[NBUF];
    struct iovec iov[NBUF];
    uint8_t *want; /* the buffers one after the other */
} fixture;

static fixture *setup(const char *name)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = test_tmpdir(name);
    snprintf(f->path, sizeof f->path, "%s/target", f->dir);
    f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(f->fd >= 0);
    f->want = malloc(NBUF * BUF);
    assert_non_null(f->want);
    for (int i = 0; i < NBUF; i++) {
        assert_int_equal(posix_memalign((void **)&f->buf[i], CMB_FLASH_ALIGN, BUF), 0);
        for (size_t j = 0; j < BUF; j++)
            f->buf[i][j] = (uint8_t)(j * 7u + (unsigned)i * 31u + j / 4096u);
        memcpy(f->want + (size_t)i * BUF, f->buf[i], BUF);
        f->iov[i].iov_base = f->buf[i];
        f->iov[i].iov_len = BUF;
    }
    memset(&g_fake, 0, sizeof g_fake);
    g_fake.out_fd = -1;
    return f;
}

static void teardown(fixture *f)
{
    close(f->fd);
    test_rmtree(f->dir);
    free(f->dir);
    for (int i = 0; i < NBUF; i++)
        free(f->buf[i]);
    free(f->want);
    free(f);
}

/* The file holds zeros up to AT, then the first `len` bytes of the run. */
static void check_file(const fixture *f, size_t len)
{
    int fd = open(f->path, O_RDONLY); /* the run may have left O_DIRECT on f->fd */
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal((uint64_t)st.st_size, AT + len);
    uint8_t *got = malloc(AT + len);
    assert_non_null(got);
    assert_int_equal(pread(fd, got, AT + len, 0), (ssize_t)(AT + len));
    close(fd);
    for (size_t i = 0; i < AT; i++)
        assert_int_equal(got[i], 0);
    assert_memory_equal(got + AT, f->want, len);
    free(got);
}

static void run_writes_buffers_in_order(void **state)
{
    (void)state;
    fixture *f = setup("wrun-order");
    cmb_write_io t = {f->fd, true, false, NULL};
    uint64_t fail = 0;
    assert_int_equal(cmb_flash_write_run(&t, f->iov, NBUF, AT, &fail), CMBOOT_OK);
    check_file(f, NBUF * BUF);
    teardown(f);
}

/* Short writes of an odd size: the run goes on from the first byte not written, through the page cache once
 * that is unaligned (O_DIRECT would refuse it). */
static void run_continues_short_writes(void **state)
{
    (void)state;
    fixture *f = setup("wrun-short");
    cmb_write_io t = {f->fd, true, false, fake_pwritev};
    g_fake.chunk = 5000;
    g_fake.out_fd = open(f->path, O_WRONLY);
    assert_true(g_fake.out_fd >= 0);
    uint64_t fail = 0;
    assert_int_equal(cmb_flash_write_run(&t, f->iov, NBUF, AT, &fail), CMBOOT_OK);
    close(g_fake.out_fd);
    assert_int_equal(g_fake.written, NBUF * BUF);
    assert_int_equal(g_fake.calls, (NBUF * BUF + 4999) / 5000);
    assert_int_equal(g_fake.direct_unaligned, 0);
    assert_false(t.direct_on);
    check_file(f, NBUF * BUF);
    teardown(f);
}

/* An interrupted call is repeated, not a failure. */
static void run_retries_eintr(void **state)
{
    (void)state;
    fixture *f = setup("wrun-eintr");
    cmb_write_io t = {f->fd, true, false, fake_pwritev};
    g_fake.chunk = NBUF * BUF;
    g_fake.eintr_first = true;
    uint64_t fail = 0;
    assert_int_equal(cmb_flash_write_run(&t, f->iov, NBUF, AT, &fail), CMBOOT_OK);
    assert_int_equal(g_fake.calls, 2);
    check_file(f, NBUF * BUF);
    teardown(f);
}

/* A full target in the middle of the third buffer: NO_SPACE at exactly the first byte not written, what came
 * before it on the target, errno kept for the report. */
static void run_full_mid_run_reports_offset(void **state)
{
    (void)state;
    fixture *f = setup("wrun-full");
    cmb_write_io t = {f->fd, true, false, fake_pwritev};
    g_fake.chunk = BUF; /* aligned short writes: O_DIRECT stays on where the file system takes it */
    g_fake.fail_after = 2 * BUF + 3 * CMB_FLASH_ALIGN;
    g_fake.fail_errno = ENOSPC;
    uint64_t fail = 0;
    errno = 0;
    assert_int_equal(cmb_flash_write_run(&t, f->iov, NBUF, AT, &fail), CMBOOT_ERR_NO_SPACE);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(fail, AT + g_fake.fail_after);
    check_file(f, g_fake.fail_after);
    teardown(f);
}

/* Any other error is the target's I/O error; a write of nothing is one too (never an endless loop). */
static void run_io_error_and_zero_write(void **state)
{
    (void)state;
    fixture *f = setup("wrun-eio");
    cmb_write_io t = {f->fd, true, false, fake_pwritev};
    g_fake.chunk = 3 * BUF;
    g_fake.fail_after = 3 * BUF;
    g_fake.fail_errno = EIO;
    uint64_t fail = 0;
    assert_int_equal(cmb_flash_write_run(&t, f->iov, NBUF, AT, &fail), CMBOOT_ERR_IO);
    assert_int_equal(errno, EIO);
    assert_int_equal(fail, AT + 3 * BUF);

    memset(&g_fake, 0, sizeof g_fake);
    g_fake.out_fd = -1;
    g_fake.chunk = BUF;
    g_fake.fail_after = BUF;
    g_fake.fail_errno = 0;
    fail = 0;
    assert_int_equal(cmb_flash_write_run(&t, f->iov, NBUF, AT, &fail), CMBOOT_ERR_IO);
    assert_int_equal(fail, AT + BUF);
    assert_int_equal(g_fake.calls, 2);
    teardown(f);
}

/* Unaligned buffers or offset go through the page cache, in one run all the same. */
static void run_unaligned_buffered(void **state)
{
    (void)state;
    fixture *f = setup("wrun-unaligned");
    cmb_write_io t = {f->fd, true, false, NULL};
    f->iov[1].iov_len = BUF - 100; /* a short middle buffer: the run is the bytes as given */
    memmove(f->want + BUF + BUF - 100, f->want + 2 * BUF, (NBUF - 2) * BUF);
    uint64_t fail = 0;
    assert_int_equal(cmb_flash_write_run(&t, f->iov, NBUF, AT, &fail), CMBOOT_OK);
    assert_false(t.direct_on);
    check_file(f, NBUF * BUF - 100);
    teardown(f);
}

static void run_rejects_bad_count(void **state)
{
    (void)state;
    fixture *f = setup("wrun-count");
    cmb_write_io t = {f->fd, true, false, NULL};
    uint64_t fail = 0;
    assert_int_equal(cmb_flash_write_run(&t, f->iov, 0, AT, &fail), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmb_flash_write_run(&t, f->iov, CMB_WRITE_RUN_MAX + 1, AT, &fail), CMBOOT_ERR_INVALID_ARG);
    teardown(f);
}

/* The whole writer on rings of several shapes: runs of every length, the short last buffer (the image's odd
 * end) after them, with and without the hashing thread; the target is the image byte for byte. */
static void pipeline_rings_write_the_image(void **state)
{
    (void)state;
    const size_t size = 3u * 1024u * 1024u + 777u;
    char *dir = test_tmpdir("wrun-pipe");
    uint8_t *data = malloc(size);
    assert_non_null(data);
    test_fill_pattern(data, size, 5);
    test_write_file(dir, "disk.img", data, size);
    char image[4200], target[4200];
    snprintf(image, sizeof image, "%s/disk.img", dir);
    snprintf(target, sizeof target, "%s/target.bin", dir);
    const struct {
        size_t bufsize;
        unsigned n;
    } rings[] = {{64 * 1024, 2}, {64 * 1024, 3}, {64 * 1024, 5}, {128 * 1024, 4}, {4096, 64}};
    uint8_t *got = malloc(size);
    assert_non_null(got);
    for (size_t i = 0; i < sizeof rings / sizeof rings[0]; i++) {
        for (int verify = 0; verify < 2; verify++) {
            unlink(target);
            cmboot_flash_config cfg;
            cmboot_flash_config_default(&cfg);
            cfg.image = image;
            cfg.target = target;
            cfg.target_flags = CMBOOT_TARGET_CREATE;
            cfg.buffer_size = rings[i].bufsize;
            cfg.buffers = rings[i].n;
            cfg.verify = verify;
            cmboot_flash_result res;
            cmboot_flash_result_default(&res);
            assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
            assert_int_equal(res.bytes_written, size);
            assert_int_equal(res.image_size, size);
            int fd = open(target, O_RDONLY);
            assert_true(fd >= 0);
            struct stat st;
            assert_int_equal(fstat(fd, &st), 0);
            assert_int_equal((uint64_t)st.st_size, size);
            assert_int_equal(pread(fd, got, size, 0), (ssize_t)size);
            close(fd);
            assert_memory_equal(got, data, size);
        }
    }
    free(got);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(pipeline_rings_write_the_image),  cmocka_unit_test(run_writes_buffers_in_order),
    cmocka_unit_test(run_continues_short_writes),      cmocka_unit_test(run_retries_eintr),
    cmocka_unit_test(run_full_mid_run_reports_offset), cmocka_unit_test(run_io_error_and_zero_write),
    cmocka_unit_test(run_unaligned_buffered),          cmocka_unit_test(run_rejects_bad_count),
};

CMBOOT_TEST_MAIN(tests)
