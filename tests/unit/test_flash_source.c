/* Image sources: every format built in the test (libarchive's writer, zlib, xz/zstd tools), read back through
 * cmboot_flash_source; damaged images of each format must be refused. */
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "flash/flash_internal.h"
#include "test_flash_util.h"

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
    /* Room for a whole 100000-byte read past the image's end: the buffer the reader is given must be that long
     * (qemu-user checks the whole range pread is handed and fails it with EFAULT). */
    uint8_t *got = malloc(IMG_SIZE + 100000);
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

/* An image past 4 GiB (sparse here): a 32-bit off_t (armhf without _FILE_OFFSET_BITS=64) cannot open it. */
static void source_raw_past_4gib(void **state)
{
    (void)state;
    char *dir = test_tmpdir("src-big");
    char path[4096];
    snprintf(path, sizeof path, "%s/big.img", dir);
    const uint64_t size = (4ull << 30) + 4096u;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "cmboot", 6), 6);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
    cmboot_flash_source *src = NULL;
    assert_int_equal(cmboot_flash_source_open_flags(path, CMBOOT_SOURCE_RAW, &src, NULL, 0), CMBOOT_OK);
    uint64_t known = 0;
    assert_true(cmboot_flash_source_size_known(src, &known));
    assert_true(known == size);
    char buf[4096];
    size_t n = 0;
    assert_int_equal(cmboot_flash_source_read(src, buf, sizeof buf, &n), CMBOOT_OK);
    assert_int_equal(n, sizeof buf);
    assert_memory_equal(buf, "cmboot", 6);
    cmboot_flash_source_close(src);
    test_rmtree(dir);
    free(dir);
}

static void source_gzip(void **state)
{
    (void)state;
    run_format("src-gz", "d.img.gz", ARCHIVE_FILTER_GZIP, false, "gzip", false);
}
static void source_xz(void **state)
{
    (void)state;
    run_format("src-xz", "d.img.xz", ARCHIVE_FILTER_XZ, false, "xz", false);
}
static void source_bzip2(void **state)
{
    (void)state;
    run_format("src-bz2", "d.img.bz2", ARCHIVE_FILTER_BZIP2, false, "bzip2", false);
}
static void source_zip(void **state)
{
    (void)state;
    run_format("src-zip", "d.zip", ARCHIVE_FILTER_NONE, true, "zip", true);
}

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

/* ---- Damaged and mislabelled images: each must be refused, never read to the end as if whole. ---- */

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(4096);
    assert_non_null(p);
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

/* One gzip member of data, made with zlib. */
static uint8_t *gzip_member(const uint8_t *data, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)len);
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

/* Opens and reads the whole source; the first error, with its sentence in why. */
static int drain(const char *path, unsigned flags, uint8_t *out, size_t cap, size_t *total, char *why, size_t why_size)
{
    cmboot_flash_source *src = NULL;
    why[0] = 0;
    *total = 0;
    int rc = cmboot_flash_source_open_flags(path, flags, &src, why, why_size);
    if (rc != CMBOOT_OK)
        return rc;
    uint8_t *chunk = malloc(100000);
    assert_non_null(chunk);
    for (;;) {
        size_t n = 0;
        rc = cmboot_flash_source_read(src, chunk, 100000, &n);
        if (rc != CMBOOT_OK) {
            snprintf(why, why_size, "%s", cmb_flash_source_error(src));
            break;
        }
        if (n == 0)
            break;
        if (out) {
            assert_true(*total + n <= cap);
            memcpy(out + *total, chunk, n);
        }
        *total += n;
    }
    free(chunk);
    cmboot_flash_source_close(src);
    return rc;
}

static void expect_refused(const char *path, unsigned flags, int code, const char *words)
{
    char why[256];
    size_t total = 0;
    int rc = drain(path, flags, NULL, 0, &total, why, sizeof why);
    if (rc != code || !strstr(why, words))
        fprintf(stderr, "%s: rc %d (%s), why \"%s\", want %d and \"%s\"\n", path, rc, cmboot_error_name(rc), why, code,
                words);
    assert_int_equal(rc, code);
    assert_non_null(strstr(why, words));
}

static void expect_whole(const char *path, unsigned flags, const uint8_t *want, size_t len)
{
    uint8_t *got = malloc(len + 1);
    assert_non_null(got);
    char why[256];
    size_t total = 0;
    int rc = drain(path, flags, got, len + 1, &total, why, sizeof why);
    if (rc != CMBOOT_OK)
        fprintf(stderr, "%s: %s\n", path, why);
    assert_int_equal(rc, CMBOOT_OK);
    assert_int_equal(total, len);
    assert_memory_equal(got, want, len);
    free(got);
}

/* cmboot_flash_write of image onto dir/target.bin (an empty regular file). */
static int write_image(const char *dir, const char *image, unsigned source_flags, cmboot_flash_result *res)
{
    test_write_file(dir, "target.bin", "", 0);
    char target[4096];
    snprintf(target, sizeof target, "%s/target.bin", dir);
    cmboot_flash_config cfg;
    cmboot_flash_config_default(&cfg);
    cfg.image = image;
    cfg.target = target;
    cfg.source_flags = source_flags;
    return cmboot_flash_write(&cfg, res);
}

static void expect_write_refused(const char *dir, const char *image, int code, const char *words)
{
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(write_image(dir, image, 0, &res), code);
    assert_false(res.verified);
    assert_non_null(strstr(res.reason, words));
}

static void tool(const char *cmd)
{
    if (system(cmd) != 0)
        fail_msg("%s failed (scripts/deps.sh installs xz-utils and zstd)", cmd);
}

static void flip_byte(uint8_t *b, size_t off)
{
    b[off] ^= 0x10;
}

static void gzip_flipped_byte_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("gz-flip");
    uint8_t *data = pattern();
    size_t n = 0;
    uint8_t *gz = gzip_member(data, IMG_SIZE, &n);
    flip_byte(gz, n / 2); /* inside a stored block of the random part: deflate itself cannot notice */
    test_write_file(dir, "d.img.gz", gz, n);
    char *path = path_in(dir, "d.img.gz");
    expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, "gzip member 1 is corrupt");
    expect_write_refused(dir, path, CMBOOT_ERR_ARCHIVE, "CRC-32");
    free(path);
    free(gz);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void gzip_bad_crc_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("gz-crc");
    uint8_t *data = pattern();
    size_t n = 0;
    uint8_t *gz = gzip_member(data, IMG_SIZE, &n);
    flip_byte(gz, n - 8); /* first byte of the CRC-32 */
    test_write_file(dir, "d.img.gz", gz, n);
    char *path = path_in(dir, "d.img.gz");
    expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, "CRC-32 in its trailer does not match");
    expect_write_refused(dir, path, CMBOOT_ERR_ARCHIVE, "CRC-32");
    free(path);
    free(gz);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void gzip_bad_isize_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("gz-isize");
    uint8_t *data = pattern();
    size_t n = 0;
    uint8_t *gz = gzip_member(data, IMG_SIZE, &n);
    flip_byte(gz, n - 2); /* ISIZE, the uncompressed length mod 2^32 */
    test_write_file(dir, "d.img.gz", gz, n);
    char *path = path_in(dir, "d.img.gz");
    expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, "ISIZE");
    expect_write_refused(dir, path, CMBOOT_ERR_ARCHIVE, "ISIZE");
    free(path);
    free(gz);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void gzip_multi_member_ok(void **state)
{
    (void)state;
    char *dir = test_tmpdir("gz-multi");
    uint8_t *data = pattern();
    size_t half = IMG_SIZE / 2, n1 = 0, n2 = 0;
    uint8_t *m1 = gzip_member(data, half, &n1);
    uint8_t *m2 = gzip_member(data + half, IMG_SIZE - half, &n2);
    uint8_t *both = malloc(n1 + n2);
    assert_non_null(both);
    memcpy(both, m1, n1);
    memcpy(both + n1, m2, n2);
    test_write_file(dir, "d.img.gz", both, n1 + n2);
    char *path = path_in(dir, "d.img.gz");
    expect_whole(path, 0, data, IMG_SIZE); /* gzip -c a >x; gzip -c b >>x: legal, both members read */
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(write_image(dir, path, 0, &res), CMBOOT_OK);
    assert_true(res.verified);
    assert_int_equal(res.image_size, IMG_SIZE);
    /* The second member is checked as the first: a bad CRC-32, then a bad data byte in it. */
    flip_byte(both, n1 + n2 - 8);
    test_write_file(dir, "d.img.gz", both, n1 + n2);
    expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, "gzip member 2 is corrupt");
    flip_byte(both, n1 + n2 - 8);
    flip_byte(both, n1 + n2 / 2);
    test_write_file(dir, "d.img.gz", both, n1 + n2);
    expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, "gzip member 2 is corrupt");
    free(path);
    free(both);
    free(m1);
    free(m2);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void gzip_truncated_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("gz-trunc");
    uint8_t *data = pattern();
    size_t n = 0;
    uint8_t *gz = gzip_member(data, IMG_SIZE, &n);
    char *path = path_in(dir, "d.img.gz");
    /* Part of ISIZE, all of ISIZE, the whole trailer, and into the data. */
    static const size_t cuts[] = {1, 4, 8, 9, 1000};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        test_write_file(dir, "d.img.gz", gz, n - cuts[i]);
        expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, "gzip member 1 is truncated");
    }
    expect_write_refused(dir, path, CMBOOT_ERR_ARCHIVE, "truncated");
    free(path);
    free(gz);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void gzip_trailing_garbage_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("gz-trail");
    uint8_t *data = pattern();
    size_t n = 0;
    uint8_t *gz = gzip_member(data, IMG_SIZE, &n);
    uint8_t *padded = calloc(1, n + 4096);
    assert_non_null(padded);
    memcpy(padded, gz, n);
    char *path = path_in(dir, "d.img.gz");
    /* Zero padding (dd, tape blocks) is accepted; anything else after a member is not. */
    test_write_file(dir, "d.img.gz", padded, n + 4096);
    expect_whole(path, 0, data, IMG_SIZE);
    padded[n + 100] = 'x';
    test_write_file(dir, "d.img.gz", padded, n + 4096);
    expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, "non-zero data");
    memcpy(padded + n, "junk", 4);
    test_write_file(dir, "d.img.gz", padded, n + 4096);
    expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, "neither another gzip member nor zero padding");
    free(path);
    free(padded);
    free(gz);
    free(data);
    test_rmtree(dir);
    free(dir);
}

typedef struct fifo_feed {
    const char *path;
    const uint8_t *data;
    size_t len;
} fifo_feed;

static void *feed_fifo(void *arg)
{
    fifo_feed *f = arg;
    int fd = open(f->path, O_WRONLY | O_CLOEXEC);
    for (size_t off = 0; fd >= 0 && off < f->len;) {
        ssize_t w = write(fd, f->data + off, f->len - off > 4000 ? 4000 : f->len - off);
        if (w <= 0)
            break; /* the reader gave up: EPIPE */
        off += (size_t)w;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* A pipe cannot be read twice: the format is told from bytes that are then handed on, and still checked. */
static void gzip_pipe_bad_crc_refused(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    char *dir = test_tmpdir("gz-fifo");
    uint8_t *data = pattern();
    size_t n = 0;
    uint8_t *gz = gzip_member(data, IMG_SIZE, &n);
    char *path = path_in(dir, "d.img.gz");
    assert_int_equal(mkfifo(path, 0600), 0);
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            flip_byte(gz, n - 7);
        fifo_feed f = {path, gz, n};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, feed_fifo, &f), 0);
        if (round == 0)
            expect_whole(path, 0, data, IMG_SIZE);
        else
            expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, "CRC-32");
        pthread_join(t, NULL);
    }
    free(path);
    free(gz);
    free(data);
    test_rmtree(dir);
    free(dir);
}

/* A raw image from a pipe is told raw from its first bytes (no magic number) and read whole, the peeked bytes
 * first; so is one whose first bytes look like bzip2 or zip but are not (libarchive decides those). */
static void raw_pipe_and_lookalike_ok(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    char *dir = test_tmpdir("raw-fifo");
    uint8_t *data = pattern();
    data[0] = 0x11; /* no format's magic number */
    char *path = path_in(dir, "d.img");
    assert_int_equal(mkfifo(path, 0600), 0);
    fifo_feed f = {path, data, IMG_SIZE};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, feed_fifo, &f), 0);
    expect_whole(path, 0, data, IMG_SIZE);
    pthread_join(t, NULL);
    static const char *const heads[] = {"BZh9", "PK\x01\x00", "\x28\xb5\x2f"};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        memcpy(data, heads[i], strlen(heads[i]));
        test_write_file(dir, "look.img", data, IMG_SIZE);
        char *look = path_in(dir, "look.img");
        cmboot_flash_source *src = NULL;
        assert_int_equal(cmboot_flash_source_open(look, &src), CMBOOT_OK);
        assert_string_equal(cmboot_flash_source_format(src), "raw");
        cmboot_flash_source_close(src);
        expect_whole(look, 0, data, IMG_SIZE);
        free(look);
    }
    free(path);
    free(data);
    test_rmtree(dir);
    free(dir);
}

/* Compresses data into dir/name with the shell command "<tool> <input> <to> <output>". */
static char *compress_with(const char *dir, const char *tool_cmd, const char *to, const char *name, const uint8_t *data)
{
    test_write_file(dir, "plain.img", data, IMG_SIZE);
    char *in = path_in(dir, "plain.img");
    char *out = path_in(dir, name);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "%s '%s' %s '%s'", tool_cmd, in, to, out);
    tool(cmd);
    unlink(in);
    free(in);
    return out;
}

/* Flips one byte in the middle of a compressed file, which its format's own check must catch. */
static void flip_file_middle(const char *path)
{
    size_t len = 0;
    uint8_t *b = ft_read_file(path, &len);
    flip_byte(b, len / 2);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
}

static void flipped_refused(const char *tag, const char *name, int filter, bool zip, const char *words)
{
    char *dir = test_tmpdir(tag);
    uint8_t *data = pattern();
    char *path = make_input(dir, name, filter, zip, data, IMG_SIZE);
    expect_whole(path, 0, data, IMG_SIZE);
    flip_file_middle(path);
    expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, words);
    expect_write_refused(dir, path, CMBOOT_ERR_ARCHIVE, words);
    free(path);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void xz_flipped_byte_refused(void **state)
{
    (void)state;
    flipped_refused("xz-flip", "d.img.xz", ARCHIVE_FILTER_XZ, false, "xz: corrupt image");
}

static void bz2_flipped_byte_refused(void **state)
{
    (void)state;
    flipped_refused("bz2-flip", "d.img.bz2", ARCHIVE_FILTER_BZIP2, false, "bzip2: corrupt image");
}

static void zip_flipped_byte_refused(void **state)
{
    (void)state;
    flipped_refused("zip-flip", "d.zip", ARCHIVE_FILTER_NONE, true, "zip: corrupt image");
}

static void zstd_flipped_byte_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("zst-flip");
    uint8_t *data = pattern();
    char *path = compress_with(dir, "zstd -q -f", "-o", "d.img.zst", data); /* zstd(1): with its checksum */
    expect_whole(path, 0, data, IMG_SIZE);
    flip_file_middle(path);
    expect_refused(path, 0, CMBOOT_ERR_ARCHIVE, "zstd: corrupt image");
    expect_write_refused(dir, path, CMBOOT_ERR_ARCHIVE, "zstd");
    free(path);
    free(data);
    test_rmtree(dir);
    free(dir);
}

/* Without a checksum a flipped literal byte decodes fine: such a stream cannot be trusted at all. */
static void zstd_without_checksum_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("zst-nocheck");
    uint8_t *data = pattern();
    char *path = make_input(dir, "d.img.zst", ARCHIVE_FILTER_ZSTD, false, data, IMG_SIZE); /* no checksum */
    expect_refused(path, 0, CMBOOT_ERR_FORMAT, "no content checksum");
    free(path);
    path = compress_with(dir, "zstd -q -f --no-check", "-o", "n.img.zst", data);
    flip_file_middle(path);
    expect_write_refused(dir, path, CMBOOT_ERR_FORMAT, "no content checksum");
    free(path);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void xz_without_check_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("xz-nocheck");
    uint8_t *data = pattern();
    char *path = compress_with(dir, "xz -q -c --check=none", ">", "d.img.xz", data);
    flip_file_middle(path);
    expect_refused(path, 0, CMBOOT_ERR_FORMAT, "no integrity check");
    expect_write_refused(dir, path, CMBOOT_ERR_FORMAT, "no integrity check");
    free(path);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static const char garbage[] = "not compressed at all: a damaged download or a mislabelled file\n";

static void compressed_name_raw_content_refused(void **state)
{
    (void)state;
    char *dir = test_tmpdir("name-raw");
    static const char *names[] = {"garbage.img.gz",  "garbage.img.xz", "garbage.img.zst",
                                  "garbage.img.bz2", "garbage.zip",    "GARBAGE.IMG.XZ"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        test_write_file(dir, names[i], garbage, sizeof garbage - 1);
        char *path = path_in(dir, names[i]);
        expect_refused(path, 0, CMBOOT_ERR_FORMAT, "use --raw");
        free(path);
    }
    /* A real xz whose magic got damaged is no longer recognised: it must not be written as raw either. */
    uint8_t *data = pattern();
    char *path = make_input(dir, "d.img.xz", ARCHIVE_FILTER_XZ, false, data, IMG_SIZE);
    size_t len = 0;
    uint8_t *b = ft_read_file(path, &len);
    flip_byte(b, 1);
    test_write_file(dir, "d.img.xz", b, len);
    expect_refused(path, 0, CMBOOT_ERR_FORMAT, "the name says xz");
    /* Through the writer: refused before anything is written. */
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(write_image(dir, path, 0, &res), CMBOOT_ERR_FORMAT);
    assert_int_equal(res.bytes_written, 0);
    assert_false(res.verified);
    struct stat st;
    char target[4096];
    snprintf(target, sizeof target, "%s/target.bin", dir);
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_size, 0);
    free(b);
    free(path);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static void compressed_name_raw_content_with_raw_ok(void **state)
{
    (void)state;
    char *dir = test_tmpdir("name-raw-ok");
    test_write_file(dir, "garbage.img.xz", garbage, sizeof garbage - 1);
    char *path = path_in(dir, "garbage.img.xz");
    expect_whole(path, CMBOOT_SOURCE_RAW, (const uint8_t *)garbage, sizeof garbage - 1);
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(write_image(dir, path, CMBOOT_SOURCE_RAW, &res), CMBOOT_OK);
    assert_true(res.verified);
    assert_string_equal(res.format, "raw");
    char *target = path_in(dir, "target.bin");
    size_t len = 0;
    uint8_t *got = ft_read_file(target, &len);
    assert_int_equal(len, sizeof garbage - 1);
    assert_memory_equal(got, garbage, len);
    free(got);
    /* --raw means the bytes as they are: a real xz file is not decompressed. */
    uint8_t *data = pattern();
    char *xz = make_input(dir, "d.img.xz", ARCHIVE_FILTER_XZ, false, data, IMG_SIZE);
    uint8_t *file = ft_read_file(xz, &len);
    cmboot_flash_source *src = NULL;
    assert_int_equal(cmboot_flash_source_open_flags(xz, CMBOOT_SOURCE_RAW, &src, NULL, 0), CMBOOT_OK);
    assert_string_equal(cmboot_flash_source_format(src), "raw");
    uint64_t size = 0;
    assert_true(cmboot_flash_source_size_known(src, &size));
    assert_int_equal(size, len);
    cmboot_flash_source_close(src);
    expect_whole(xz, CMBOOT_SOURCE_RAW, file, len);
    free(file);
    free(xz);
    free(data);
    free(target);
    free(path);
    test_rmtree(dir);
    free(dir);
}

static void source_zstd(void **state)
{
    (void)state;
    char *dir = test_tmpdir("src-zst");
    uint8_t *data = pattern();
    char *path = compress_with(dir, "zstd -q -f", "-o", "d.img.zst", data);
    read_back(path, "zstd", false);
    free(path);
    free(data);
    test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(source_raw),
    cmocka_unit_test(source_raw_past_4gib),
    cmocka_unit_test(source_gzip),
    cmocka_unit_test(source_xz),
    cmocka_unit_test(source_zstd),
    cmocka_unit_test(source_bzip2),
    cmocka_unit_test(source_zip),
    cmocka_unit_test(source_truncated_xz_fails),
    cmocka_unit_test(source_missing),
    cmocka_unit_test(gzip_flipped_byte_refused),
    cmocka_unit_test(gzip_bad_crc_refused),
    cmocka_unit_test(gzip_bad_isize_refused),
    cmocka_unit_test(gzip_multi_member_ok),
    cmocka_unit_test(gzip_truncated_refused),
    cmocka_unit_test(gzip_trailing_garbage_refused),
    cmocka_unit_test(gzip_pipe_bad_crc_refused),
    cmocka_unit_test(raw_pipe_and_lookalike_ok),
    cmocka_unit_test(xz_flipped_byte_refused),
    cmocka_unit_test(zstd_flipped_byte_refused),
    cmocka_unit_test(bz2_flipped_byte_refused),
    cmocka_unit_test(zip_flipped_byte_refused),
    cmocka_unit_test(zstd_without_checksum_refused),
    cmocka_unit_test(xz_without_check_refused),
    cmocka_unit_test(compressed_name_raw_content_refused),
    cmocka_unit_test(compressed_name_raw_content_with_raw_ok),
};

CMBOOT_TEST_MAIN(tests)
