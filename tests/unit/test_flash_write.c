/* Writer and verification on regular files: formats, bmap, injected bit flips, events, limits. */
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/flash.h"
#include "test_flash_util.h"

#define SIZE (5u * 1024u * 1024u + 777u)

typedef ft_fixture fixture;

static fixture *setup(const char *tag)
{
    return ft_setup(tag, SIZE, 11);
}

static void teardown(fixture *f)
{
    ft_teardown(f);
}

static void config(cmboot_flash_config *cfg, const fixture *f)
{
    cmboot_flash_config_default(cfg);
    cfg->image = f->image;
    cfg->target = f->target;
    cfg->target_flags = CMBOOT_TARGET_CREATE; /* target.bin does not exist yet */
}

static void assert_target_equals(const fixture *f)
{
    size_t len = 0;
    uint8_t *got = ft_read_file(f->target, &len);
    assert_int_equal(len, SIZE);
    assert_memory_equal(got, f->data, SIZE);
    free(got);
}

static void flip_bit(const char *path, uint64_t off, int bit)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= (uint8_t)(1u << bit);
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    fsync(fd);
    close(fd);
}

static void write_raw_file(void **state)
{
    (void)state;
    fixture *f = setup("wr-raw");
    cmboot_flash_config cfg;
    config(&cfg, f);
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_int_equal(res.bytes_written, SIZE);
    assert_int_equal(res.image_size, SIZE);
    assert_true(res.verified);
    assert_int_equal(res.bytes_verified, SIZE);
    uint8_t d[32];
    ft_sha256(f->data, SIZE, d);
    assert_true(res.image_sha256_valid);
    assert_memory_equal(res.image_sha256, d, 32);
    assert_string_equal(res.format, "raw");
    assert_target_equals(f);
    teardown(f);
}

static void write_xz_small_buffers(void **state)
{
    (void)state;
    fixture *f = setup("wr-xz");
    struct archive *a = archive_write_new();
    archive_write_set_format_raw(a);
    archive_write_add_filter_xz(a);
    char path[4096];
    snprintf(path, sizeof path, "%s/disk.img.xz", f->dir);
    assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "disk.img");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, SIZE);
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(a, f->data, SIZE), (la_ssize_t)SIZE);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.image = path;
    cfg.buffer_size = 64 * 1024; /* many buffers through the queue */
    cfg.buffers = 2;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_string_equal(res.format, "xz");
    assert_int_equal(res.bytes_written, SIZE);
    assert_true(res.verified);
    assert_target_equals(f);
    teardown(f);
}

static const uint64_t RANGES[][2] = {{0, 2}, {5, 5}, {300, 1000}, {1200, 1280}};

static void write_bmap_only_mapped(void **state)
{
    (void)state;
    fixture *f = setup("wr-bmap");
    char *t = ft_make_bmap(f->data, SIZE, RANGES, 4);
    test_write_file(f->dir, "disk.bmap", t, strlen(t));
    uint8_t *old = malloc(SIZE);
    memset(old, 0xAA, SIZE);
    test_write_file(f->dir, "target.bin", old, SIZE);
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.bmap = f->bmap;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    uint64_t mapped = (3 + 1 + 701) * 4096ull + (SIZE - 1200 * 4096ull);
    assert_int_equal(res.bytes_written, mapped);
    assert_int_equal(res.bytes_verified, mapped);
    assert_true(res.verified);
    size_t len = 0;
    uint8_t *got = ft_read_file(f->target, &len);
    assert_int_equal(len, SIZE);
    for (uint64_t blk = 0; blk * 4096 < SIZE; blk++) {
        bool in = false;
        for (size_t i = 0; i < 4; i++)
            in = in || (blk >= RANGES[i][0] && blk <= RANGES[i][1]);
        size_t n = SIZE - blk * 4096 < 4096 ? (size_t)(SIZE - blk * 4096) : 4096;
        assert_memory_equal(got + blk * 4096, in ? f->data + blk * 4096 : old, n);
    }
    free(got);
    free(old);
    free(t);
    teardown(f);
}

static void write_bmap_image_mismatch(void **state)
{
    (void)state;
    fixture *f = setup("wr-bmapbad");
    char *t = ft_make_bmap(f->data, SIZE, RANGES, 4);
    test_write_file(f->dir, "disk.bmap", t, strlen(t));
    f->data[5 * 4096 + 10] ^= 1; /* the image no longer matches its map in block 5 */
    test_write_file(f->dir, "disk.img", f->data, SIZE);
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.bmap = f->bmap;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_VERIFY);
    assert_true(res.fail_offset_valid);
    assert_int_equal(res.fail_offset, 5 * 4096);
    assert_non_null(strstr(res.reason, "bmap"));
    free(t);
    teardown(f);
}

static void verify_catches_bit_flip(void **state)
{
    (void)state;
    fixture *f = setup("vf-flip");
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.verify = false;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_false(res.verified);
    assert_int_equal(cmboot_flash_verify(&cfg, &res), CMBOOT_OK);
    assert_true(res.verified);
    const uint64_t where = 3 * 1024 * 1024 + 4321;
    flip_bit(f->target, where, 5);
    assert_int_equal(cmboot_flash_verify(&cfg, &res), CMBOOT_ERR_VERIFY);
    assert_false(res.verified);
    assert_true(res.fail_offset_valid);
    assert_int_equal(res.fail_offset, where);
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)where);
    assert_non_null(strstr(res.reason, num));
    teardown(f);
}

static void verify_bmap_bit_flip(void **state)
{
    (void)state;
    fixture *f = setup("vf-bmap");
    char *t = ft_make_bmap(f->data, SIZE, RANGES, 4);
    test_write_file(f->dir, "disk.bmap", t, strlen(t));
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.bmap = f->bmap;
    cfg.verify = false;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    flip_bit(f->target, 100 * 4096, 0); /* unmapped: not ours to check */
    assert_int_equal(cmboot_flash_verify(&cfg, &res), CMBOOT_OK);
    const uint64_t where = 500 * 4096 + 17;
    flip_bit(f->target, where, 7);
    assert_int_equal(cmboot_flash_verify(&cfg, &res), CMBOOT_ERR_VERIFY);
    assert_int_equal(res.fail_offset, where);
    free(t);
    teardown(f);
}

static void verify_short_target_names_offset(void **state)
{
    (void)state;
    fixture *f = setup("vf-short");
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.verify = false;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_int_equal(truncate(f->target, 2 * 1024 * 1024), 0);
    int rc = cmboot_flash_verify(&cfg, &res);
    assert_int_equal(rc, CMBOOT_ERR_IO);
    assert_true(res.fail_offset_valid);
    assert_int_equal(res.fail_offset, 2 * 1024 * 1024);
    teardown(f);
}

typedef struct seen {
    bool phase_write, phase_verify, phase_done;
    uint64_t last_write_done, last_total;
} seen;

static void on_event(void *user, const cmboot_event *ev)
{
    seen *s = user;
    assert_string_equal(ev->device_id, "1-1.4");
    if (ev->type == CMBOOT_EV_PHASE && strcmp(ev->name, "write") == 0)
        s->phase_write = true;
    if (ev->type == CMBOOT_EV_PHASE && strcmp(ev->name, "verify") == 0)
        s->phase_verify = true;
    if (ev->type == CMBOOT_EV_PHASE && strcmp(ev->name, "done") == 0)
        s->phase_done = true;
    if (ev->type == CMBOOT_EV_PROGRESS && strcmp(ev->name, "write") == 0) {
        assert_true(ev->done >= s->last_write_done);
        s->last_write_done = ev->done;
        s->last_total = ev->total;
    }
}

static void write_reports_events(void **state)
{
    (void)state;
    fixture *f = setup("wr-ev");
    cmboot_flash_config cfg;
    config(&cfg, f);
    seen s = {0};
    cfg.event = on_event;
    cfg.user = &s;
    cfg.device_id = "1-1.4";
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_true(s.phase_write && s.phase_verify && s.phase_done);
    assert_int_equal(s.last_write_done, SIZE);
    assert_int_equal(s.last_total, SIZE);
    teardown(f);
}

static void write_refuses_char_device(void **state)
{
    (void)state;
    fixture *f = setup("wr-null");
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.target = "/dev/null";
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_UNSAFE_TARGET);
    assert_int_equal(res.bytes_written, 0);
    assert_non_null(strstr(res.reason, "/dev/null"));
    teardown(f);
}

static void write_memory_bounded(void **state)
{
    (void)state;
    fixture *f = setup("wr-mem");
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.buffer_size = 8 * 1024 * 1024;
    cfg.buffers = 4;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_INVALID_ARG);
    cfg.buffer_size = 1000; /* not aligned */
    cfg.buffers = 4;
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_INVALID_ARG);
    teardown(f);
}

/* tmpfs has no O_DIRECT: the writer and the read-back fall back to fsync + fadvise. A memfd is a tmpfs file
 * outside /dev, reached through its /proc/self/fd link. */
static void write_tmpfs_fallback(void **state)
{
    (void)state;
    int mfd = memfd_create("cmboot-test", MFD_CLOEXEC);
    if (mfd < 0) {
        print_message("no memfd on this host\n");
        skip();
    }
    fixture *f = setup("wr-tmpfs");
    cmboot_flash_config cfg;
    config(&cfg, f);
    snprintf(f->target, sizeof f->target, "/proc/self/fd/%d", mfd);
    cfg.target = f->target;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    int wrc = cmboot_flash_write(&cfg, &res);
    if (wrc != CMBOOT_OK)
        print_message("%s\n", res.reason);
    assert_int_equal(wrc, CMBOOT_OK);
    assert_true(res.verified);
    assert_target_equals(f);
    flip_bit(f->target, 12345, 1);
    assert_int_equal(cmboot_flash_verify(&cfg, &res), CMBOOT_ERR_VERIFY);
    assert_int_equal(res.fail_offset, 12345);
    close(mfd);
    teardown(f);
}

typedef struct swap {
    const char *link;
    const char *to;
    bool done;
} swap;

/* Re-points the target's symbolic link once the target was checked, before the first byte is written. */
static void swap_at_write(void *user, const cmboot_event *ev)
{
    swap *w = user;
    if (ev->type == CMBOOT_EV_PHASE && strcmp(ev->name, "write") == 0 && !w->done) {
        assert_int_equal(unlink(w->link), 0);
        assert_int_equal(symlink(w->to, w->link), 0);
        w->done = true;
    }
}

/* The path is looked up once: the file checked is the file written and read back, whatever the path names later. */
static void write_swapped_after_check_writes_the_checked_file(void **state)
{
    (void)state;
    fixture *f = setup("wr-swap");
    uint8_t *zero = calloc(1, SIZE);
    test_write_file(f->dir, "checked.bin", zero, SIZE);
    test_write_file(f->dir, "decoy.bin", zero, SIZE);
    char checked[4200], decoy[4200], link[4200];
    snprintf(checked, sizeof checked, "%s/checked.bin", f->dir);
    snprintf(decoy, sizeof decoy, "%s/decoy.bin", f->dir);
    snprintf(link, sizeof link, "%s/target", f->dir);
    assert_int_equal(symlink(checked, link), 0);
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.target = link;
    swap w = {link, decoy, false};
    cfg.event = swap_at_write;
    cfg.user = &w;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_true(w.done);
    assert_true(res.verified);
    snprintf(f->target, sizeof f->target, "%s", checked);
    assert_target_equals(f);
    assert_true(ft_file_zero(decoy, SIZE)); /* never touched, never read as "verified" */
    free(zero);
    teardown(f);
}

/* A later verification of the same result must read the file that was written, not what the path names now. */
static void verify_other_file_refused(void **state)
{
    (void)state;
    fixture *f = setup("vf-other");
    cmboot_flash_config cfg;
    config(&cfg, f);
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    /* An identical copy takes the name: its content matches, but it is not the file written. */
    char copy[4200];
    snprintf(copy, sizeof copy, "%s/copy.bin", f->dir);
    test_write_file(f->dir, "copy.bin", f->data, SIZE);
    assert_int_equal(rename(copy, f->target), 0);
    assert_int_equal(cmboot_flash_verify(&cfg, &res), CMBOOT_ERR_NO_DEVICE);
    assert_false(res.verified);
    assert_non_null(strstr(res.reason, "no longer"));
    teardown(f);
}

/* cmboot write img /dev/sdzz: no such disk, and no file appears in /dev. */
static void write_missing_target_under_dev_refused(void **state)
{
    (void)state;
    fixture *f = setup("wr-devroot");
    char devroot[4200];
    snprintf(devroot, sizeof devroot, "%s/dev", f->dir);
    test_write_file(devroot, ".keep", "", 0);
    cmboot_flash_config cfg;
    cmboot_flash_config_default(&cfg);
    cfg.image = f->image;
    snprintf(f->target, sizeof f->target, "%s/sdzz", devroot);
    cfg.target = f->target;
    cmboot_target_env env;
    cmboot_target_env_default(&env);
    env.dev_root = devroot;
    cfg.env = &env;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    int rc = cmboot_flash_write(&cfg, &res);
    assert_int_not_equal(access(f->target, F_OK), 0);
    assert_int_equal(rc, CMBOOT_ERR_NOT_FOUND);
    assert_int_equal(res.bytes_written, 0);
    assert_non_null(strstr(res.reason, "sdzz"));
    teardown(f);
}

/* A missing file elsewhere is created only when asked (or named *.img); a refused one leaves nothing behind. */
static void write_missing_target_needs_create(void **state)
{
    (void)state;
    fixture *f = setup("wr-create");
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.target_flags = 0;
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_ERR_NOT_FOUND);
    assert_false(res.target_touched);
    assert_int_not_equal(access(f->target, F_OK), 0);
    cfg.target_flags = CMBOOT_TARGET_CREATE;
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_true(res.target.created);
    assert_target_equals(f);
    snprintf(f->target, sizeof f->target, "%s/out.img", f->dir);
    cfg.target = f->target;
    cfg.target_flags = 0;
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_target_equals(f);
    teardown(f);
}

/* A file longer than the image is cut to it, and the report says from what size. */
static void write_larger_file_truncated_to_image(void **state)
{
    (void)state;
    fixture *f = setup("wr-trunc");
    uint8_t *old = malloc(2 * SIZE);
    memset(old, 0x5A, 2 * SIZE);
    test_write_file(f->dir, "target.bin", old, 2 * SIZE);
    cmboot_flash_config cfg;
    config(&cfg, f);
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    assert_int_equal(cmboot_flash_write(&cfg, &res), CMBOOT_OK);
    assert_target_equals(f); /* length included: nothing of the old content remains */
    assert_int_equal(res.truncated_from, 2 * SIZE);
    cmboot_flash_report rep = {sizeof rep, NULL, NULL, NULL, NULL, f->image, NULL, f->target, -1, -1, &res};
    char *json = NULL;
    assert_int_equal(cmboot_flash_report_json(&rep, &json), CMBOOT_OK);
    char want[64];
    snprintf(want, sizeof want, "\"truncated_from\":%u", 2 * SIZE);
    assert_non_null(strstr(json, want));
    free(json);
    free(old);
    teardown(f);
}

/* A file size limit (or a full file system) while writing an image of unknown size: a write failure saying how
 * much was written, with the target marked touched (exit 5, never "refused"). */
static void write_target_full_midway_is_write_failure(void **state)
{
    (void)state;
    fixture *f = setup("wr-full");
    char path[4200];
    snprintf(path, sizeof path, "%s/disk.img.xz", f->dir);
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "xz -0 -c '%s' > '%s'", f->image, path);
    if (system(cmd) != 0) {
        teardown(f);
        print_message("no xz command\n");
        skip();
    }
    cmboot_flash_config cfg;
    config(&cfg, f);
    cfg.image = path;
    const rlim_t limit = 3 * 1024 * 1024 + 12288;
    struct rlimit was, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
    lim = was;
    lim.rlim_cur = limit;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    int rc = cmboot_flash_write(&cfg, &res);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, CMBOOT_ERR_NO_SPACE);
    assert_true(res.target_touched);
    assert_int_equal(res.bytes_written, limit);
    char want[64];
    snprintf(want, sizeof want, "%llu bytes written", (unsigned long long)limit);
    assert_non_null(strstr(res.reason, want));
    assert_false(res.verified);
    teardown(f);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(write_raw_file),
    cmocka_unit_test(write_xz_small_buffers),
    cmocka_unit_test(write_bmap_only_mapped),
    cmocka_unit_test(write_bmap_image_mismatch),
    cmocka_unit_test(verify_catches_bit_flip),
    cmocka_unit_test(verify_bmap_bit_flip),
    cmocka_unit_test(verify_short_target_names_offset),
    cmocka_unit_test(write_reports_events),
    cmocka_unit_test(write_refuses_char_device),
    cmocka_unit_test(write_memory_bounded),
    cmocka_unit_test(write_tmpfs_fallback),
    cmocka_unit_test(write_swapped_after_check_writes_the_checked_file),
    cmocka_unit_test(verify_other_file_refused),
    cmocka_unit_test(write_missing_target_under_dev_refused),
    cmocka_unit_test(write_missing_target_needs_create),
    cmocka_unit_test(write_larger_file_truncated_to_image),
    cmocka_unit_test(write_target_full_midway_is_write_failure),
};

CMBOOT_TEST_MAIN(tests)
