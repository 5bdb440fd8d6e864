/* Flashing a board through its fastboot gadget: the in-process emulator boots it, it comes up as the gadget with
 * its partition on a temporary file, and the job writes (sparse pieces, flash:), reads back (fetch:) and reports. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cmboot/cmboot.h"
#include "cmboot/flash.h"
#include "cmboot/line.h"
#include "board_fixture.h"
#include "front/sim_bus.h"
#include "testutil.h"
#include "test_flash_util.h"

#define IMG_SIZE (1024 * 1024 + 4096 * 5 + 1234) /* several pieces, the last block partial */
#define PART_SIZE (2 * 1024 * 1024)
#define MAX_DOWNLOAD (256 * 1024)

typedef struct fixture {
    char *root;
    char boot[4096], image[4200], part[4200];
    sim_bus *bus;
    cmboot_ctx *ctx;
    cmboot_discovery disc;
    cmboot_boot_config bcfg;
    cmboot_stage_limits limits;
    cmboot_flash_config fcfg;
    sim_fastboot_part fbpart;
    int phases, progress;
} fixture;

static uint8_t bootcode[40000], startelf[64 * 1024], image[IMG_SIZE];

static void on_event(void *user, const cmboot_event *ev)
{
    fixture *f = user; /* events arrive on the job's thread */
    if (ev->type == CMBOOT_EV_PHASE && strcmp(ev->device_id, "1-1") == 0 && strcmp(ev->stage, "fastboot") == 0)
        f->phases++;
    if (ev->type == CMBOOT_EV_PROGRESS && strcmp(ev->device_id, "1-1") == 0)
        f->progress++;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->root = test_tmpdir("flashfb");
    bf_path(f->boot, sizeof f->boot, f->root, "boot");
    bf_path(f->image, sizeof f->image, f->root, "image.bin");
    bf_path(f->part, sizeof f->part, f->root, "mmcblk0.img");
    bf_boot_dir(f->boot, BF_BOOTCODE | BF_BOOTCODE4 | BF_START, bootcode, sizeof bootcode, startelf, sizeof startelf);
    bf_image(f->root, "image.bin", image, sizeof image, 7);
    uint8_t *zero = calloc(1, PART_SIZE);
    test_write_file(f->root, "mmcblk0.img", zero, PART_SIZE);
    free(zero);
    bf_bus_new(&f->bus, &f->disc);
    bf_ctx_new(&f->ctx, on_event, f);
    bf_boot_config(&f->bcfg, &f->limits, f->boot, 5000);
    bf_flash_config(&f->fcfg, f->image, NULL, NULL, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    bf_teardown(f->bus, &f->disc, f->ctx, f->root);
    free(f);
    return 0;
}

/* A BCM2711 board at 1-1 that comes up as the fastboot gadget (or mass storage) after its second stage. */
static void plug(fixture *f, sim_config *c, bool fastboot)
{
    sim_config_default(c, CMBOOT_SOC_BCM2711);
    c->expect_second_stage_size = (int64_t)sizeof bootcode;
    if (fastboot) {
        c->after_done = SIM_AFTER_FASTBOOT;
        f->fbpart = (sim_fastboot_part){"mmcblk0", f->part};
        c->fastboot_parts = &f->fbpart;
        c->n_fastboot_parts = 1;
        c->fastboot_max_download = MAX_DOWNLOAD;
    }
}

static void plug_now(fixture *f, sim_config *c)
{
    assert_int_equal(sim_bus_plug(f->bus, "1-1", c, 0), CMBOOT_OK);
}

static void assert_part_holds_image(const fixture *f)
{
    size_t len = 0;
    uint8_t *got = ft_read_file(f->part, &len);
    assert_int_equal(len, PART_SIZE);
    assert_memory_equal(got, image, sizeof image);
    free(got);
}

static const cmboot_flash_result *run_ok(fixture *f, cmboot_flash_job **job)
{
    assert_int_equal(cmboot_flash_board(f->ctx, &f->disc, &f->bcfg, &f->fcfg, job), CMBOOT_OK);
    assert_int_equal(cmboot_flash_job_step(*job), CMBOOT_FLASH_STEP_DONE);
    const cmboot_board_result *b = cmboot_flash_job_board(*job);
    assert_non_null(b);
    assert_int_equal(b->last_stage, CMBOOT_STAGE_FASTBOOT);
    const cmboot_flash_result *r = cmboot_flash_job_flash(*job);
    assert_non_null(r);
    assert_true(r->via_fastboot);
    assert_int_equal(r->image_size, sizeof image);
    assert_true(r->image_sha256_valid);
    uint8_t d[32];
    ft_sha256(image, sizeof image, d);
    assert_memory_equal(r->image_sha256, d, 32);
    assert_string_equal(cmboot_flash_job_target(*job), "fastboot:mmcblk0");
    return r;
}

static void fastboot_raw_written_and_read_back(void **state)
{
    fixture *f = *state;
    sim_config c;
    plug(f, &c, true);
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    const cmboot_flash_result *r = run_ok(f, &job);
    assert_true(r->verified);
    assert_false(r->not_read_back);
    assert_int_equal(r->bytes_written, sizeof image);
    assert_int_equal(r->bytes_verified, sizeof image);
    assert_part_holds_image(f);
    assert_true(f->phases >= 4);   /* check, write, verify, done */
    assert_true(f->progress >= 5); /* one per piece at least */
    char *text = NULL;
    assert_int_equal(cmboot_flash_job_report_json(job, &text), CMBOOT_OK);
    json_object *o = json_tokener_parse(text), *v = NULL;
    free(text);
    assert_true(json_object_object_get_ex(o, "verified", &v));
    assert_true(json_object_get_boolean(v));
    json_object_put(o);
    cmboot_flash_job_free(job);
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

static void fastboot_gzip_image(void **state)
{
    fixture *f = *state;
    size_t n = 0;
    uint8_t *gz = gzip_member(image, sizeof image, &n);
    test_write_file(f->root, "image.bin.gz", gz, n);
    free(gz);
    char path[4300];
    snprintf(path, sizeof path, "%s/image.bin.gz", f->root);
    f->fcfg.image = path;
    sim_config c;
    plug(f, &c, true);
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    const cmboot_flash_result *r = run_ok(f, &job);
    assert_string_equal(r->format, "gzip");
    assert_true(r->verified);
    assert_part_holds_image(f);
    cmboot_flash_job_free(job);
}

/* With a bmap only the mapped blocks are sent: the holes keep what the partition held. */
static void fastboot_bmap_holes_untouched(void **state)
{
    fixture *f = *state;
    uint8_t *old = malloc(PART_SIZE);
    memset(old, 0xaa, PART_SIZE);
    test_write_file(f->root, "mmcblk0.img", old, PART_SIZE);
    const uint64_t last = (IMG_SIZE - 1) / 4096;
    const uint64_t ranges[3][2] = {{0, 3}, {10, 70}, {200, last}};
    char *bmap = ft_make_bmap(image, sizeof image, ranges, 3);
    test_write_file(f->root, "image.bmap", bmap, strlen(bmap));
    free(bmap);
    char path[4300];
    snprintf(path, sizeof path, "%s/image.bmap", f->root);
    f->fcfg.bmap = path;
    sim_config c;
    plug(f, &c, true);
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    const cmboot_flash_result *r = run_ok(f, &job);
    assert_true(r->verified);
    uint64_t mapped = (4 + 61) * 4096 + (IMG_SIZE - 200 * 4096);
    assert_int_equal(r->bytes_written, mapped);
    assert_int_equal(r->bytes_verified, mapped);
    size_t len = 0;
    uint8_t *got = ft_read_file(f->part, &len);
    assert_int_equal(len, PART_SIZE);
    for (size_t i = 0; i < 3; i++) {
        size_t s = ranges[i][0] * 4096, e = (ranges[i][1] + 1) * 4096;
        e = e > sizeof image ? sizeof image : e;
        assert_memory_equal(got + s, image + s, e - s);
    }
    assert_memory_equal(got + 4 * 4096, old, 6 * 4096);    /* blocks 4-9: a hole */
    assert_memory_equal(got + 71 * 4096, old, 129 * 4096); /* blocks 71-199: a hole */
    free(got);
    free(old);
    cmboot_flash_job_free(job);
}

static void fastboot_without_fetch_not_read_back(void **state)
{
    fixture *f = *state;
    sim_config c;
    plug(f, &c, true);
    c.fastboot_no_fetch = true;
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    const cmboot_flash_result *r = run_ok(f, &job);
    assert_false(r->verified);
    assert_true(r->not_read_back);
    assert_int_equal(r->bytes_verified, 0);
    assert_part_holds_image(f);
    char *text = NULL;
    assert_int_equal(cmboot_flash_job_report_json(job, &text), CMBOOT_OK);
    assert_non_null(strstr(text, "written, not read back"));
    json_object *o = json_tokener_parse(text), *v = NULL;
    free(text);
    assert_true(json_object_object_get_ex(o, "verified", &v));
    assert_false(json_object_get_boolean(v));
    json_object_put(o);
    cmboot_flash_job_free(job);
}

/* A FAIL from the device ends the job with its message. */
static void fastboot_fail_reported(void **state)
{
    fixture *f = *state;
    sim_config c;
    plug(f, &c, true);
    c.fastboot_fail_cmd = "flash:";
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    assert_int_equal(cmboot_flash_board(f->ctx, &f->disc, &f->bcfg, &f->fcfg, &job), CMBOOT_ERR_REFUSED);
    assert_int_equal(cmboot_flash_job_step(job), CMBOOT_FLASH_STEP_WRITE);
    assert_non_null(strstr(cmboot_flash_job_reason(job), "injected fault"));
    assert_non_null(strstr(cmboot_flash_job_reason(job), "flash"));
    const cmboot_flash_result *r = cmboot_flash_job_flash(job);
    assert_non_null(r);
    assert_false(r->verified);
    assert_int_equal(r->error, CMBOOT_ERR_REFUSED);
    cmboot_flash_job_free(job);
}

static void le16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void le32(uint8_t *p, uint32_t v)
{
    le16(p, v & 0xffff);
    le16(p + 2, v >> 16);
}

/* An Android sparse image of blocks: RAW 0-1 (image's), DONT_CARE 2-`hole`, RAW the next one; its length. */
static size_t make_sparse(uint8_t *out, uint32_t hole)
{
    le32(out, 0xed26ff3au);
    le16(out + 4, 1);
    le16(out + 6, 0);
    le16(out + 8, 28);
    le16(out + 10, 12);
    le32(out + 12, 4096);
    le32(out + 16, hole + 2);
    le32(out + 20, 3);
    le32(out + 24, 0);
    uint8_t *c = out + 28;
    le16(c, 0xcac1);
    le16(c + 2, 0);
    le32(c + 4, 2);
    le32(c + 8, 12 + 2 * 4096);
    memcpy(c + 12, image, 2 * 4096);
    c += 12 + 2 * 4096;
    le16(c, 0xcac3);
    le16(c + 2, 0);
    le32(c + 4, hole - 1);
    le32(c + 8, 12);
    c += 12;
    le16(c, 0xcac1);
    le16(c + 2, 0);
    le32(c + 4, 1);
    le32(c + 8, 12 + 4096);
    memcpy(c + 12, image + 2 * 4096, 4096);
    c += 12 + 4096;
    return (size_t)(c - out);
}

/* An image that is already sparse goes as it is (the device expands it): written, not read back. */
static void fastboot_sparse_passes_through(void **state)
{
    fixture *f = *state;
    static uint8_t sp[4 * 4096];
    size_t n = make_sparse(sp, 5);
    test_write_file(f->root, "image.simg", sp, n);
    char path[4300];
    snprintf(path, sizeof path, "%s/image.simg", f->root);
    f->fcfg.image = path;
    sim_config c;
    plug(f, &c, true);
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    assert_int_equal(cmboot_flash_board(f->ctx, &f->disc, &f->bcfg, &f->fcfg, &job), CMBOOT_OK);
    const cmboot_flash_result *r = cmboot_flash_job_flash(job);
    assert_non_null(r);
    assert_true(r->not_read_back);
    assert_false(r->verified);
    assert_int_equal(r->bytes_written, n);
    size_t len = 0;
    uint8_t *got = ft_read_file(f->part, &len);
    assert_memory_equal(got, image, 2 * 4096);
    uint8_t zero[4096] = {0};
    assert_memory_equal(got + 2 * 4096, zero, sizeof zero); /* DONT_CARE: left as it was */
    assert_memory_equal(got + 6 * 4096, image + 2 * 4096, 4096);
    free(got);
    cmboot_flash_job_free(job);
}

/* A sparse image of 4x max-download-size: RAW 0-99 (larger than one download alone), DONT_CARE 100-149, FILL
 * 150-249, CRC32, RAW 250-399, DONT_CARE 400-511 (the partition's 2 MiB). The expanded image into want (DONT_CARE
 * as the partition held it: 0x55). */
static size_t make_big_sparse(uint8_t *out, uint8_t *want)
{
    memset(want, 0x55, PART_SIZE);
    le32(out, 0xed26ff3au);
    le16(out + 4, 1);
    le16(out + 6, 0);
    le16(out + 8, 28);
    le16(out + 10, 12);
    le32(out + 12, 4096);
    le32(out + 16, PART_SIZE / 4096);
    le32(out + 20, 6);
    le32(out + 24, 0);
    uint8_t *c = out + 28;
    le16(c, 0xcac1);
    le16(c + 2, 0);
    le32(c + 4, 100);
    le32(c + 8, 12 + 100 * 4096);
    memcpy(c + 12, image, 100 * 4096);
    memcpy(want, image, 100 * 4096);
    c += 12 + 100 * 4096;
    le16(c, 0xcac3);
    le16(c + 2, 0);
    le32(c + 4, 50);
    le32(c + 8, 12);
    c += 12;
    le16(c, 0xcac2);
    le16(c + 2, 0);
    le32(c + 4, 100);
    le32(c + 8, 16);
    le32(c + 12, 0x01020304u);
    for (size_t i = 0; i < 100 * 4096; i += 4)
        le32(want + 150 * 4096 + i, 0x01020304u);
    c += 16;
    le16(c, 0xcac4);
    le16(c + 2, 0);
    le32(c + 4, 0);
    le32(c + 8, 16);
    le32(c + 12, 0x12345678u); /* not checked: skipped */
    c += 16;
    le16(c, 0xcac1);
    le16(c + 2, 0);
    le32(c + 4, 150);
    le32(c + 8, 12 + 150 * 4096);
    memcpy(c + 12, image + 100 * 4096, 150 * 4096);
    memcpy(want + 250 * 4096, image + 100 * 4096, 150 * 4096);
    c += 12 + 150 * 4096;
    le16(c, 0xcac3);
    le16(c + 2, 0);
    le32(c + 4, 112);
    le32(c + 8, 12);
    c += 12;
    return (size_t)(c - out);
}

static void write_part(fixture *f, uint8_t v)
{
    uint8_t *b = malloc(PART_SIZE);
    memset(b, v, PART_SIZE);
    test_write_file(f->root, "mmcblk0.img", b, PART_SIZE);
    free(b);
}

/* A sparse image larger than one download is split into sparse images under max-download-size, flashed in turn
 * and its mapped ranges (RAW and FILL) read back with fetch:. */
static void fastboot_sparse_split_and_read_back(void **state)
{
    fixture *f = *state;
    uint8_t *sp = malloc(PART_SIZE), *want = malloc(PART_SIZE);
    size_t n = make_big_sparse(sp, want);
    assert_true(n > 3 * MAX_DOWNLOAD);
    test_write_file(f->root, "image.simg", sp, n);
    write_part(f, 0x55);
    char path[4300];
    snprintf(path, sizeof path, "%s/image.simg", f->root);
    f->fcfg.image = path;
    sim_config c;
    plug(f, &c, true);
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    assert_int_equal(cmboot_flash_board(f->ctx, &f->disc, &f->bcfg, &f->fcfg, &job), CMBOOT_OK);
    const cmboot_flash_result *r = cmboot_flash_job_flash(job);
    assert_non_null(r);
    assert_true(r->verified);
    assert_false(r->not_read_back);
    assert_int_equal(r->bytes_verified, 350 * 4096); /* RAW 250 blocks and FILL 100 */
    assert_true(r->bytes_written > n);               /* each piece has its own headers */
    assert_true(r->image_sha256_valid);
    uint8_t d[32];
    ft_sha256(sp, n, d);
    assert_memory_equal(r->image_sha256, d, 32);
    assert_true(f->progress >= 5); /* one per piece: at least five */
    size_t len = 0;
    uint8_t *got = ft_read_file(f->part, &len);
    assert_int_equal(len, PART_SIZE);
    assert_memory_equal(got, want, PART_SIZE);
    free(got);
    cmboot_flash_job_free(job);
    free(sp);
    free(want);
}

/* A sparse image larger than one download that is cut short: refused as truncated when its end comes (the pieces
 * before it may have been flashed), never verified. */
static void fastboot_sparse_split_truncated_refused(void **state)
{
    fixture *f = *state;
    uint8_t *sp = malloc(PART_SIZE), *want = malloc(PART_SIZE);
    size_t n = make_big_sparse(sp, want);
    test_write_file(f->root, "image.simg", sp, n - 100); /* cut in the last RAW chunk */
    char path[4300];
    snprintf(path, sizeof path, "%s/image.simg", f->root);
    f->fcfg.image = path;
    sim_config c;
    plug(f, &c, true);
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    assert_int_equal(cmboot_flash_board(f->ctx, &f->disc, &f->bcfg, &f->fcfg, &job), CMBOOT_ERR_FORMAT);
    assert_non_null(strstr(cmboot_flash_job_reason(job), "truncated"));
    const cmboot_flash_result *r = cmboot_flash_job_flash(job);
    assert_false(r->verified);
    cmboot_flash_job_free(job);
    free(sp);
    free(want);
}

/* A small sparse image whose header lies (one chunk more than it has) is refused before anything is sent. */
static void fastboot_sparse_lying_header_refused(void **state)
{
    fixture *f = *state;
    static uint8_t sp[4 * 4096];
    size_t n = make_sparse(sp, 5);
    le32(sp + 20, 4);
    test_write_file(f->root, "image.simg", sp, n);
    char path[4300];
    snprintf(path, sizeof path, "%s/image.simg", f->root);
    f->fcfg.image = path;
    sim_config c;
    plug(f, &c, true);
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    assert_int_equal(cmboot_flash_board(f->ctx, &f->disc, &f->bcfg, &f->fcfg, &job), CMBOOT_ERR_FORMAT);
    assert_non_null(strstr(cmboot_flash_job_reason(job), "malformed"));
    const cmboot_flash_result *r = cmboot_flash_job_flash(job);
    assert_false(r->target_touched);
    cmboot_flash_job_free(job);
}

static void line_done(void *user, const cmboot_flash_job *job)
{
    int *ok = user; /* one board: no other worker at the same time */
    const cmboot_flash_result *r = cmboot_flash_job_flash(job);
    *ok = r && r->via_fastboot && r->verified && cmboot_flash_job_error(job) == CMBOOT_OK;
}

/* A flash line writes a board that came up as the gadget the same way. */
static void fastboot_in_a_flash_line(void **state)
{
    fixture *f = *state;
    sim_config c;
    plug(f, &c, true);
    plug_now(f, &c);
    int ok = 0;
    cmboot_flash_line_config lc;
    cmboot_flash_line_config_default(&lc);
    lc.boards = 1;
    lc.board_done = line_done;
    lc.user = &ok;
    cmboot_flash_line_summary sum;
    cmboot_flash_line_summary_default(&sum);
    assert_int_equal(cmboot_flash_line_run(f->ctx, &f->disc, &f->bcfg, &f->fcfg, &lc, &sum), CMBOOT_OK);
    assert_int_equal(sum.ok, 1);
    assert_true(ok);
    assert_part_holds_image(f);
}

/* --via msd keeps the old refusal of the gadget; --via fastboot refuses a board that came up as a disk. */
static void fastboot_via_choice(void **state)
{
    fixture *f = *state;
    sim_config c;
    plug(f, &c, true);
    plug_now(f, &c);
    f->fcfg.via = CMBOOT_FLASH_VIA_MSD;
    cmboot_flash_job *job = NULL;
    assert_int_equal(cmboot_flash_board(f->ctx, &f->disc, &f->bcfg, &f->fcfg, &job), CMBOOT_ERR_UNSUPPORTED);
    assert_int_equal(cmboot_flash_job_step(job), CMBOOT_FLASH_STEP_BOOT);
    assert_null(cmboot_flash_job_flash(job));
    cmboot_flash_job_free(job);
    f->fcfg.via = 7;
    assert_int_equal(cmboot_flash_job_new(&f->fcfg, &job), CMBOOT_ERR_INVALID_ARG);
}

static void fastboot_via_fastboot_refuses_disk(void **state)
{
    fixture *f = *state;
    sim_config c;
    plug(f, &c, false); /* mass storage after Done */
    plug_now(f, &c);
    f->fcfg.via = CMBOOT_FLASH_VIA_FASTBOOT;
    cmboot_flash_job *job = NULL;
    assert_int_equal(cmboot_flash_board(f->ctx, &f->disc, &f->bcfg, &f->fcfg, &job), CMBOOT_ERR_UNSUPPORTED);
    assert_int_equal(cmboot_flash_job_step(job), CMBOOT_FLASH_STEP_BOOT);
    assert_non_null(strstr(cmboot_flash_job_reason(job), "not as the fastboot gadget"));
    cmboot_flash_job_free(job);
}

/* --via auto: a board that came up as the gadget is written through it, and the job says why (log, report). */
static void fastboot_auto_says_why(void **state)
{
    fixture *f = *state;
    sim_config c;
    plug(f, &c, true);
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    run_ok(f, &job);
    assert_non_null(strstr(cmboot_flash_job_via_reason(job), "came up as the fastboot gadget"));
    char *text = NULL;
    assert_int_equal(cmboot_flash_job_report_json(job, &text), CMBOOT_OK);
    json_object *o = json_tokener_parse(text), *v = NULL;
    free(text);
    assert_true(json_object_object_get_ex(o, "via_reason", &v));
    assert_non_null(strstr(json_object_get_string(v), "fastboot gadget"));
    json_object_put(o);
    cmboot_flash_job_free(job);
}

/* --via auto on a host without usb-storage chooses fastboot: a board that comes up as a USB disk is refused at
 * once (not after waiting for a disk that cannot appear), with the reason. */
static void fastboot_auto_host_without_usb_storage(void **state)
{
    fixture *f = *state;
    test_write_file(f->root, "host/sys/bus/usb/devices/usb1/idVendor", "1d6b\n", 5);
    test_write_file(f->root, "host/proc/modules", "", 0);
    test_write_file(f->root, "host/modules/modules.dep", "", 0);
    test_write_file(f->root, "host/modules/modules.builtin", "", 0);
    char sys[4300], proc[4300], mods[4300];
    snprintf(sys, sizeof sys, "%s/host/sys", f->root);
    snprintf(proc, sizeof proc, "%s/host/proc", f->root);
    snprintf(mods, sizeof mods, "%s/host/modules", f->root);
    cmboot_target_env env;
    cmboot_target_env_default(&env);
    env.sys_root = sys;
    env.proc_root = proc;
    env.modules_dir = mods;
    f->fcfg.env = &env;
    sim_config c;
    plug(f, &c, false); /* mass storage after Done */
    plug_now(f, &c);
    cmboot_flash_job *job = NULL;
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_flash_board(f->ctx, &f->disc, &f->bcfg, &f->fcfg, &job), CMBOOT_ERR_UNSUPPORTED);
    assert_true(cmboot_now_ms() - t0 < 30000); /* no pairing wait (60 s) */
    assert_int_equal(cmboot_flash_job_step(job), CMBOOT_FLASH_STEP_BOOT);
    assert_non_null(strstr(cmboot_flash_job_reason(job), "no usb-storage"));
    assert_non_null(strstr(cmboot_flash_job_via_reason(job), "via fastboot"));
    cmboot_flash_job_free(job);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(fastboot_raw_written_and_read_back, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_gzip_image, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_bmap_holes_untouched, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_without_fetch_not_read_back, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_fail_reported, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_in_a_flash_line, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_sparse_passes_through, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_sparse_split_and_read_back, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_sparse_split_truncated_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_sparse_lying_header_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_via_choice, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_auto_says_why, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_auto_host_without_usb_storage, setup, teardown),
    cmocka_unit_test_setup_teardown(fastboot_via_fastboot_refuses_disk, setup, teardown),
};

CMBOOT_TEST_MAIN(tests)
