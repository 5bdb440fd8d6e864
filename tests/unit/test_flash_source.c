/* Image sources: every format built with libarchive's writer, read back through cmboot_flash_source. */
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"

#define IMG_SIZE (3u * 1024u * 1024u + 123u)

static uint8_t *pattern(void)
{
    uint8_t *b = malloc(IMG_SIZE);
    assert_non_null(b);
    test_fill_pattern(b, IMG_SIZE, 7);
    memset(b + 4096, 0, 65536); /* something compressible */
    return b;
}

/* Writes data as a single raw entry through a libarchive filter (or a zip with a README first). */
static char *make_input(const char *dir, const char *name, int filter, bool zip, const uint8_t *data, size_t len)
{
    char *path = malloc(4096);
    assert_non_null(path);
    snprintf(path, 4096, "%s/%s", dir, name);
    struct archive *a = archive_write_new();
    assert_non_null(a);
    if (zip) {
        assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    } else {
        assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
        if (filter != ARCHIVE_FILTER_NONE)
            assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
    }
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    if (zip) {
        const char *readme = "read me first\n";
        archive_entry_set_pathname(e, "README.txt");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)strlen(readme));
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, readme, strlen(readme)), (la_ssize_t)strlen(readme));
        archive_entry_clear(e);
        archive_entry_set_pathname(e, "images/disk.img");
    } else {
        archive_entry_set_pathname(e, "disk.img");
    }
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    size_t off = 0;
    while (off < len) {
        la_ssize_t n = archive_write_data(a, data + off, len - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    archive_entry_free(e);
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return path;
}

static void read_back(const char *path, const char *format, bool size_known)
{
    uint8_t *want = pattern();
    cmboot_flash_source *src = NULL;
    assert_int_equal(cmboot_flash_source_open(path, &src), CMBOOT_OK);
    assert_string_equal(cmboot_flash_source_format(src), format);
    uint64_t size = 0;
    assert_int_equal(cmboot_flash_source_size_known(src, &size), size_known);
    if (size_known)
        assert_int_equal(size, IMG_SIZE);
    uint8_t *got = malloc(IMG_SIZE + 4096);
    size_t total = 0;
    for (;;) {
        size_t n = 0;
        assert_int_equal(cmboot_flash_source_read(src, got + total, 100000, &n), CMBOOT_OK);
        if (n == 0)
            break;
        total += n;
        assert_true(total <= IMG_SIZE);
    }
    assert_int_equal(total, IMG_SIZE);
    assert_memory_equal(got, want, IMG_SIZE);
    cmboot_flash_source_close(src);
    free(got);
    free(want);
}

static void run_format(const char *tag, const char *name, int filter, bool zip, const char *format, bool known)
{
    char *dir = test_tmpdir(tag);
    uint8_t *data = pattern();
    char *path = make_input(dir, name, filter, zip, data, IMG_SIZE);
    read_back(path, format, known);
    free(path);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void source_raw(void **state)
{
    (void)state;
    char *dir = test_tmpdir("src-raw");
    uint8_t *data = pattern();
    test_write_file(dir, "disk.img", data, IMG_SIZE);
    char path[4096];
    snprintf(path, sizeof path, "%s/disk.img", dir);
    read_back(path, "raw", true);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void source_gzip(void **state) { (void)state; run_format("src-gz", "d.img.gz", ARCHIVE_FILTER_GZIP, false, "gzip", false); }
static void source_xz(void **state) { (void)state; run_format("src-xz", "d.img.xz", ARCHIVE_FILTER_XZ, false, "xz", false); }
static void source_zstd(void **state) { (void)state; run_format("src-zst", "d.img.zst", ARCHIVE_FILTER_ZSTD, false, "zstd", false); }
static void source_bzip2(void **state) { (void)state; run_format("src-bz2", "d.img.bz2", ARCHIVE_FILTER_BZIP2, false, "bzip2", false); }
static void source_zip(void **state) { (void)state; run_format("src-zip", "d.zip", ARCHIVE_FILTER_NONE, true, "zip", true); }

static void source_truncated_xz_fails(void **state)
{
    (void)state;
    char *dir = test_tmpdir("src-bad");
    uint8_t *data = pattern();
    char *path = make_input(dir, "d.img.xz", ARCHIVE_FILTER_XZ, false, data, IMG_SIZE);
    assert_int_equal(truncate(path, 5000), 0);
    cmboot_flash_source *src = NULL;
    int rc = cmboot_flash_source_open(path, &src);
    if (rc == CMBOOT_OK) {
        size_t n = 1;
        do {
            rc = cmboot_flash_source_read(src, data, 65536, &n);
        } while (rc == CMBOOT_OK && n > 0);
        cmboot_flash_source_close(src);
    }
    assert_int_equal(rc, CMBOOT_ERR_ARCHIVE);
    free(path);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void source_missing(void **state)
{
    (void)state;
    cmboot_flash_source *src = NULL;
    assert_int_equal(cmboot_flash_source_open("/nonexistent/cmboot.img", &src), CMBOOT_ERR_NOT_FOUND);
    assert_null(src);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(source_raw),
    cmocka_unit_test(source_gzip),
    cmocka_unit_test(source_xz),
    cmocka_unit_test(source_zstd),
    cmocka_unit_test(source_bzip2),
    cmocka_unit_test(source_zip),
    cmocka_unit_test(source_truncated_xz_fails),
    cmocka_unit_test(source_missing),
};

CMBOOT_TEST_MAIN(tests)
