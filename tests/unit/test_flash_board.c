/* Flashing one board through the library alone: the in-process emulator boots it to mass storage, the job
 * pairs its disk by port path in a fake sysfs (or takes a given target), writes, verifies and reports. */
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "cmboot/flash.h"
#include "board_fixture.h"
#include "front/sim_bus.h"
#include "testutil.h"

typedef struct fixture {
    bf_flash b; /* root: boot files, image, fake sysfs and dev, target */
    char target[4200];
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int phases;         /* CMBOOT_EV_PHASE events named by the board */
    int foreign_phases; /* ... named otherwise */
    bool board_done;
} fixture;

static uint8_t bootcode[40000], startelf[256 * 1024 + 17], image[3 * 1024 * 1024 + 4096 * 3 + 512];

static void on_event(void *user, const cmboot_event *ev)
{
    fixture *f = user;
    pthread_mutex_lock(&f->lock);
    if (ev->type == CMBOOT_EV_PHASE) {
        if (strcmp(ev->device_id, "1-1") == 0)
            f->phases++;
        else
            f->foreign_phases++;
    }
    if (ev->type == CMBOOT_EV_BOARD_DONE) {
        f->board_done = true;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->lock);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cv, NULL);
    bf_flash_setup(&f->b, "flashboard",
                   BF_FILES(BF_BOOTCODE | BF_BOOTCODE4 | BF_START | BF_FIXUP, bootcode, startelf, image, 7), 5000);
    bf_path(f->target, sizeof f->target, f->b.root, "disk.img");
    bf_ctx_new(&f->b.ctx, on_event, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    bf_flash_teardown(&f->b);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

/* A BCM2711 board at port path 1-1 that sends metadata, then comes up as mass storage. */
static void plug_board(fixture *f, sim_script *s)
{
    bf_script_mac(s);
    bf_plug_2711(f->b.bus, "1-1", s, "af04b2da", CMBOOT_STAGE_ROM, sizeof bootcode, 0);
}

/* A disk `name` of a USB device at port path pp in the fake sysfs, its node a regular file in the fake dev. */
static void add_disk(fixture *f, const char *pp, const char *name)
{
    char dir[4096], link[4096], p[4300];
    snprintf(dir, sizeof dir, "%s/devices/pci0000:00/usb/%s", f->b.sys, pp);
    snprintf(link, sizeof link, "%s/bus/usb/devices/%s", f->b.sys, pp);
    test_write_file(dir, ".keep", "", 0);
    assert_int_equal(symlink(dir, link), 0);
    snprintf(p, sizeof p, "%s/%s:1.0/host3/target3:0:0/3:0:0:0/block/%s", dir, pp, name);
    test_write_file(p, "size", "65536\n", 6);
    test_write_file(f->b.dev, name, "", 0);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    uint8_t *buf = malloc(sizeof image + 1);
    *len = fread(buf, 1, sizeof image + 1, fp);
    fclose(fp);
    return buf;
}

static json_object *report_of(const cmboot_flash_job *job)
{
    char *text = NULL;
    assert_int_equal(cmboot_flash_job_report_json(job, &text), CMBOOT_OK);
    json_object *o = json_tokener_parse(text);
    free(text);
    assert_non_null(o);
    return o;
}

static const char *field(json_object *o, const char *key)
{
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(o, key, &v));
    return json_object_get_string(v);
}

static void flash_board_writes_and_verifies(void **state)
{
    fixture *f = *state;
    sim_script s;
    plug_board(f, &s);
    f->b.fcfg.target = f->target; /* given: no pairing, a regular file may be written */
    cmboot_flash_job *job = NULL;
    assert_int_equal(cmboot_flash_board(f->b.ctx, &f->b.disc, &f->b.bcfg, &f->b.fcfg, &job), CMBOOT_OK);
    assert_non_null(job);
    assert_int_equal(cmboot_flash_job_step(job), CMBOOT_FLASH_STEP_DONE);
    assert_int_equal(cmboot_flash_job_error(job), CMBOOT_OK);
    const cmboot_board_result *b = cmboot_flash_job_board(job);
    assert_non_null(b);
    assert_string_equal(b->port_path, "1-1");
    assert_int_equal(b->last_stage, CMBOOT_STAGE_MASS_STORAGE);
    const cmboot_flash_result *r = cmboot_flash_job_flash(job);
    assert_non_null(r);
    assert_true(r->verified);
    assert_int_equal(r->image_size, sizeof image);
    assert_int_equal(r->bytes_verified, sizeof image);
    assert_string_equal(cmboot_flash_job_target(job), f->target);
    assert_true(cmboot_flash_job_boot_ms(job) >= 0);
    assert_int_equal(cmboot_flash_job_pair_ms(job), -1);
    /* The image is on the target byte for byte. */
    size_t len = 0;
    uint8_t *got = read_all(f->target, &len);
    assert_non_null(got);
    assert_int_equal(len, sizeof image);
    assert_memory_equal(got, image, sizeof image);
    free(got);
    /* The board's metadata rides in the result and the report. */
    const char *key, *value;
    assert_int_equal(cmboot_metadata_count(cmboot_flash_job_metadata(job)), 1);
    assert_int_equal(cmboot_metadata_entry(cmboot_flash_job_metadata(job), 0, &key, &value), CMBOOT_OK);
    assert_string_equal(key, "MAC_ADDR");
    assert_string_equal(value, "d8:3a:dd:05:ee:78");
    json_object *o = report_of(job);
    assert_string_equal(field(o, "result"), "ok");
    assert_string_equal(field(o, "port_path"), "1-1");
    assert_string_equal(field(o, "serial"), "af04b2da");
    assert_string_equal(field(o, "target"), f->target);
    json_object *v = NULL, *md = NULL;
    assert_true(json_object_object_get_ex(o, "verified", &v));
    assert_true(json_object_get_boolean(v));
    assert_true(json_object_object_get_ex(o, "metadata", &md));
    assert_string_equal(field(md, "MAC_ADDR"), "d8:3a:dd:05:ee:78");
    json_object_put(o);
    /* The writer's events went to the context's callback, named by the board. */
    assert_true(f->phases >= 4); /* check, write, sync, verify, done */
    assert_int_equal(f->foreign_phases, 0);
    /* A job runs once. */
    assert_int_equal(cmboot_flash_job_run(job, f->b.ctx, &f->b.disc, &f->b.bcfg), CMBOOT_ERR_INVALID_ARG);
    cmboot_flash_job_free(job);
    sim_script_free(&s);
}

static void flash_board_pairs_by_port_path(void **state)
{
    fixture *f = *state;
    sim_script s;
    plug_board(f, &s);
    add_disk(f, "1-2", "sdc"); /* another board's disk: never taken */
    add_disk(f, "1-1", "sdb");
    cmboot_flash_job *job = NULL;
    int rc = cmboot_flash_board(f->b.ctx, &f->b.disc, &f->b.bcfg, &f->b.fcfg, &job);
    /* Paired with the disk under 1-1; its node is a regular file in the dev root: refused, nothing written. */
    assert_int_equal(rc, CMBOOT_ERR_UNSAFE_TARGET);
    assert_int_equal(cmboot_flash_job_step(job), CMBOOT_FLASH_STEP_WRITE);
    char sdb[4200];
    snprintf(sdb, sizeof sdb, "%s/sdb", f->b.dev);
    assert_string_equal(cmboot_flash_job_target(job), sdb);
    assert_true(cmboot_flash_job_pair_ms(job) >= 0);
    const cmboot_flash_result *r = cmboot_flash_job_flash(job);
    assert_non_null(r);
    assert_false(r->target_touched);
    assert_non_null(strstr(cmboot_flash_job_reason(job), "regular file"));
    struct stat st;
    assert_int_equal(stat(sdb, &st), 0);
    assert_int_equal(st.st_size, 0);
    json_object *o = report_of(job);
    assert_string_equal(field(o, "result"), "CMBOOT_ERR_UNSAFE_TARGET");
    json_object_put(o);
    cmboot_flash_job_free(job);
    sim_script_free(&s);
}

static void flash_board_fails_before_booting_on_a_bad_image(void **state)
{
    fixture *f = *state;
    sim_script s;
    plug_board(f, &s);
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/none.img", f->b.root);
    f->b.fcfg.image = missing;
    f->b.fcfg.target = f->target;
    cmboot_flash_job *job = NULL;
    assert_int_equal(cmboot_flash_job_new(&f->b.fcfg, &job), CMBOOT_OK);
    assert_int_not_equal(cmboot_flash_job_open(job), CMBOOT_OK);
    assert_int_equal(cmboot_flash_job_step(job), CMBOOT_FLASH_STEP_IMAGE);
    assert_int_not_equal(cmboot_flash_job_run(job, f->b.ctx, &f->b.disc, &f->b.bcfg), CMBOOT_OK);
    assert_null(cmboot_flash_job_board(job));
    assert_null(cmboot_flash_job_flash(job));
    char *text = NULL;
    assert_int_equal(cmboot_flash_job_report_json(job, &text), CMBOOT_ERR_INVALID_ARG);
    sim_result sr;
    assert_int_equal(sim_bus_result(f->b.bus, "1-1", &sr), CMBOOT_OK);
    assert_false(sr.rom_accepted); /* no board was booted for nothing */
    assert_int_equal(access(f->target, F_OK), -1);
    cmboot_flash_job_free(job);
    sim_script_free(&s);
}

static void *cancel_after_boot(void *arg)
{
    fixture *f = arg;
    pthread_mutex_lock(&f->lock);
    while (!f->board_done)
        pthread_cond_wait(&f->cv, &f->lock);
    pthread_mutex_unlock(&f->lock);
    cmboot_ctx_cancel(f->b.ctx);
    return NULL;
}

static void flash_board_cancelled_while_pairing(void **state)
{
    fixture *f = *state;
    sim_script s;
    plug_board(f, &s); /* no disk ever appears under 1-1 */
    cmboot_flash_job *job = NULL;
    assert_int_equal(cmboot_flash_job_new(&f->b.fcfg, &job), CMBOOT_OK);
    cmboot_flash_job_set_pair_timeout(job, 60000);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_after_boot, f), 0);
    int64_t start = cmboot_now_ms();
    int rc = cmboot_flash_job_run(job, f->b.ctx, &f->b.disc, &f->b.bcfg);
    pthread_join(t, NULL);
    assert_int_equal(rc, CMBOOT_ERR_CANCELLED);
    /* The cancel may land while the session is still winding down or while waiting for the disk. */
    cmboot_flash_step step = cmboot_flash_job_step(job);
    assert_true(step == CMBOOT_FLASH_STEP_BOOT || step == CMBOOT_FLASH_STEP_PAIR);
    assert_true(cmboot_now_ms() - start < 30000); /* not the pairing deadline */
    assert_null(cmboot_flash_job_flash(job));
    cmboot_flash_job_free(job);
    sim_script_free(&s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(flash_board_writes_and_verifies, setup, teardown),
    cmocka_unit_test_setup_teardown(flash_board_pairs_by_port_path, setup, teardown),
    cmocka_unit_test_setup_teardown(flash_board_fails_before_booting_on_a_bad_image, setup, teardown),
    cmocka_unit_test_setup_teardown(flash_board_cancelled_while_pairing, setup, teardown),
};

CMBOOT_TEST_MAIN(tests)
