/* Flash lines through the library alone: boards on the in-process emulator's bus booted to mass storage (or
 * found there), each flashed by its own worker into its own backing file, compared byte for byte. */
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "cmboot/flash.h"
#include "cmboot/line.h"
#include "board_fixture.h"
#include "front/sim_bus.h"
#include "testutil.h"

#define MAX_DONE 16

typedef struct fixture {
    bf_flash b; /* root: boot files, image, fake sysfs and dev, targets */
    sim_script script;
    cmboot_flash_line_config line;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    /* what board_done saw */
    unsigned done;
    char done_port[MAX_DONE][32], done_serial[MAX_DONE][32];
    int done_error[MAX_DONE];
    cmboot_flash_step done_step[MAX_DONE];
    int64_t done_boot_ms[MAX_DONE];
    bool done_report[MAX_DONE]; /* its JSON report parsed, result matching */
    unsigned in_flight, max_in_flight;
    unsigned booted;       /* BOARD_DONE events of the session in mass storage */
    const char *fail_port; /* target_for gives this board a directory: refused */
    bool chain;            /* loop test: each board done brings the next one to 1-1 */
    unsigned chain_left;
} fixture;

static uint8_t bootcode[40000], startelf[64 * 1024 + 17], image[1024 * 1024 + 4096 * 3 + 512];

static void on_event(void *user, const cmboot_event *ev)
{
    fixture *f = user;
    pthread_mutex_lock(&f->lock);
    if (ev->type == CMBOOT_EV_BOARD_DONE && ev->error == CMBOOT_OK && strcmp(ev->stage, "mass-storage") == 0) {
        f->booted++;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->lock);
}

static void target_path(fixture *f, const char *port, char *out, size_t size)
{
    snprintf(out, size, "%s/disk-%s.img", f->b.root, port);
}

static int target_for(void *user, const cmboot_board_result *board, char *path, size_t size)
{
    fixture *f = user;
    if (f->fail_port && strcmp(board->port_path, f->fail_port) == 0)
        snprintf(path, size, "%s", f->b.boot); /* a directory: refused, nothing written */
    else if (f->chain)
        snprintf(path, size, "%s/disk-%s.img", f->b.root, board->serial);
    else
        target_path(f, board->port_path, path, size);
    pthread_mutex_lock(&f->lock);
    if (++f->in_flight > f->max_in_flight)
        f->max_in_flight = f->in_flight;
    /* Hold each board here until all three are in: proves the workers run side by side (bounded wait). */
    int64_t until = cmboot_now_ms() + 3000;
    while (!f->chain && f->in_flight < 3 && cmboot_now_ms() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&f->cv, &f->lock, &ts);
    }
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->lock);
    return CMBOOT_OK;
}

static void plug(fixture *f, const char *port, const char *serial, cmboot_stage start, int64_t at_ms)
{
    bf_plug_2711(f->b.bus, port, &f->script, serial, start, sizeof bootcode, at_ms);
}

static void board_done(void *user, const cmboot_flash_job *job)
{
    fixture *f = user;
    const cmboot_board_result *b = cmboot_flash_job_board(job);
    bool report_ok = false;
    char *text = NULL;
    if (cmboot_flash_job_report_json(job, &text) == CMBOOT_OK) {
        json_object *o = json_tokener_parse(text), *v = NULL;
        report_ok = o && json_object_object_get_ex(o, "result", &v) &&
                    (strcmp(json_object_get_string(v), "ok") == 0) == (cmboot_flash_job_error(job) == CMBOOT_OK);
        json_object_put(o);
        free(text);
    }
    pthread_mutex_lock(&f->lock);
    unsigned i = f->done++;
    if (i < MAX_DONE) {
        snprintf(f->done_port[i], sizeof f->done_port[i], "%s", b ? b->port_path : "");
        snprintf(f->done_serial[i], sizeof f->done_serial[i], "%s", b ? b->serial : "");
        f->done_error[i] = cmboot_flash_job_error(job);
        f->done_step[i] = cmboot_flash_job_step(job);
        f->done_boot_ms[i] = cmboot_flash_job_boot_ms(job);
        f->done_report[i] = report_ok;
    }
    if (f->in_flight)
        f->in_flight--;
    bool next = f->chain && f->chain_left > 0;
    char serial[16];
    if (next)
        snprintf(serial, sizeof serial, "b%07u", 3 - f->chain_left--);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->lock);
    if (next) { /* the operator swaps the board on port 1-1 */
        assert_int_equal(sim_bus_unplug(f->b.bus, "1-1"), CMBOOT_OK);
        plug(f, "1-1", serial, CMBOOT_STAGE_ROM, 0);
    } else if (f->chain) {
        cmboot_ctx_cancel(f->b.ctx); /* SIGTERM after the third board */
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cv, NULL);
    bf_flash_setup(&f->b, "flashline",
                   BF_FILES(BF_BOOTCODE | BF_BOOTCODE4 | BF_START | BF_START4, bootcode, startelf, image, 9), 10000);
    bf_script_mac(&f->script);
    bf_ctx_new(&f->b.ctx, on_event, f);
    bf_line_config(&f->line, board_done, target_for, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    bf_flash_teardown(&f->b);
    sim_script_free(&f->script);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

static void assert_image_at(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint8_t *buf = malloc(sizeof image + 1);
    size_t len = fread(buf, 1, sizeof image + 1, fp);
    fclose(fp);
    assert_int_equal(len, sizeof image);
    assert_memory_equal(buf, image, sizeof image);
    free(buf);
}

static int done_index(const fixture *f, const char *port)
{
    for (unsigned i = 0; i < f->done && i < MAX_DONE; i++)
        if (strcmp(f->done_port[i], port) == 0)
            return (int)i;
    return -1;
}

static void line_flashes_three_boards_at_once(void **state)
{
    fixture *f = *state;
    plug(f, "1-1", "a0000001", CMBOOT_STAGE_ROM, 0);
    plug(f, "1-2", "a0000002", CMBOOT_STAGE_ROM, 0);
    plug(f, "1-3", "a0000003", CMBOOT_STAGE_ROM, 0);
    f->line.boards = 3;
    cmboot_flash_line_summary sum;
    cmboot_flash_line_summary_default(&sum);
    assert_int_equal(cmboot_flash_line_run(f->b.ctx, &f->b.disc, &f->b.bcfg, &f->b.fcfg, &f->line, &sum), CMBOOT_OK);
    assert_int_equal(sum.boards, 3);
    assert_int_equal(sum.ok, 3);
    assert_int_equal(sum.failed, 0);
    assert_int_equal(sum.interrupted, 0);
    assert_int_equal(f->done, 3);
    assert_int_equal(f->max_in_flight, 3); /* the three workers overlapped */
    const char *ports[] = {"1-1", "1-2", "1-3"};
    for (int i = 0; i < 3; i++) {
        int d = done_index(f, ports[i]);
        assert_true(d >= 0);
        assert_int_equal(f->done_error[d], CMBOOT_OK);
        assert_int_equal(f->done_step[d], CMBOOT_FLASH_STEP_DONE);
        assert_true(f->done_boot_ms[d] >= 0);
        assert_true(f->done_report[d]);
        char p[4300];
        target_path(f, ports[i], p, sizeof p);
        assert_image_at(p);
    }
}

static void line_failed_board_does_not_stop_the_others(void **state)
{
    fixture *f = *state;
    plug(f, "1-1", "a0000001", CMBOOT_STAGE_ROM, 0);
    plug(f, "1-2", "a0000002", CMBOOT_STAGE_ROM, 0);
    plug(f, "1-3", "a0000003", CMBOOT_STAGE_ROM, 0);
    f->line.boards = 3;
    f->fail_port = "1-2";
    cmboot_flash_line_summary sum;
    cmboot_flash_line_summary_default(&sum);
    int rc = cmboot_flash_line_run(f->b.ctx, &f->b.disc, &f->b.bcfg, &f->b.fcfg, &f->line, &sum);
    assert_int_equal(rc, CMBOOT_ERR_UNSAFE_TARGET);
    assert_int_equal(sum.boards, 3);
    assert_int_equal(sum.ok, 2);
    assert_int_equal(sum.failed, 1);
    int d = done_index(f, "1-2");
    assert_true(d >= 0);
    assert_int_equal(f->done_error[d], CMBOOT_ERR_UNSAFE_TARGET);
    assert_int_equal(f->done_step[d], CMBOOT_FLASH_STEP_WRITE);
    char p[4300];
    target_path(f, "1-1", p, sizeof p);
    assert_image_at(p);
    target_path(f, "1-3", p, sizeof p);
    assert_image_at(p);
}

static void *cancel_when_booted(void *arg)
{
    fixture *f = arg;
    pthread_mutex_lock(&f->lock);
    while (f->booted < 3)
        pthread_cond_wait(&f->cv, &f->lock);
    pthread_mutex_unlock(&f->lock);
    cmboot_ctx_cancel(f->b.ctx);
    return NULL;
}

static void line_cancel_reaches_every_board(void **state)
{
    fixture *f = *state;
    plug(f, "1-1", "a0000001", CMBOOT_STAGE_ROM, 0);
    plug(f, "1-2", "a0000002", CMBOOT_STAGE_ROM, 0);
    plug(f, "1-3", "a0000003", CMBOOT_STAGE_ROM, 0);
    f->line.target_for = NULL; /* pair by port path: no disk ever appears, every board waits */
    f->line.boards = 3;
    f->line.pair_timeout_ms = 60000;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_when_booted, f), 0);
    int64_t start = cmboot_now_ms();
    cmboot_flash_line_summary sum;
    cmboot_flash_line_summary_default(&sum);
    int rc = cmboot_flash_line_run(f->b.ctx, &f->b.disc, &f->b.bcfg, &f->b.fcfg, &f->line, &sum);
    pthread_join(t, NULL);
    assert_int_equal(rc, CMBOOT_ERR_CANCELLED);
    assert_true(cmboot_now_ms() - start < 30000); /* not the pairing deadline */
    assert_int_equal(sum.boards, 3);
    assert_int_equal(sum.interrupted, 3);
    assert_int_equal(sum.ok, 0);
    assert_int_equal(f->done, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(f->done_error[i], CMBOOT_ERR_CANCELLED);
        assert_int_equal(f->done_step[i], CMBOOT_FLASH_STEP_PAIR);
    }
}

static void line_adopts_a_board_already_in_mass_storage(void **state)
{
    fixture *f = *state;
    plug(f, "1-4", "c0ffee01", CMBOOT_STAGE_MASS_STORAGE, 0);
    f->line.boards = 1;
    f->line.target_for = target_for;
    f->in_flight = 2; /* one board: no one to wait for in target_for */
    cmboot_flash_line_summary sum;
    cmboot_flash_line_summary_default(&sum);
    assert_int_equal(cmboot_flash_line_run(f->b.ctx, &f->b.disc, &f->b.bcfg, &f->b.fcfg, &f->line, &sum), CMBOOT_OK);
    assert_int_equal(sum.ok, 1);
    assert_int_equal(f->done, 1);
    assert_string_equal(f->done_port[0], "1-4");
    assert_int_equal(f->done_boot_ms[0], -1); /* not booted by us */
    char p[4300];
    target_path(f, "1-4", p, sizeof p);
    assert_image_at(p);
    sim_result sr;
    assert_int_equal(sim_bus_result(f->b.bus, "1-4", &sr), CMBOOT_OK);
    assert_false(sr.rom_accepted);
}

static void line_boot_does_not_adopt_by_default(void **state)
{
    fixture *f = *state;
    plug(f, "1-4", "c0ffee01", CMBOOT_STAGE_MASS_STORAGE, 0);
    cmboot_boot_config b = f->b.bcfg;
    assert_false(b.adopt_mass_storage);
    b.wait_first_ms = 300;
    cmboot_run_report *rep = NULL;
    assert_int_equal(cmboot_run_report_new(&rep), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->b.ctx, &f->b.disc, &b, rep), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(cmboot_run_report_boards(rep), 0);
    cmboot_run_report_free(rep);
}

/* A discovery that announces every device twice, as a re-scan would: a flashed board must not be taken again. */
typedef struct twice {
    cmboot_discovery inner;
    bool have;
    cmboot_device_event again;
} twice;

static int twice_next(void *self, cmboot_device_event *ev, int64_t deadline)
{
    twice *t = self;
    if (t->have) {
        t->have = false;
        *ev = t->again;
        return CMBOOT_OK;
    }
    int rc = t->inner.ops->next_event(t->inner.self, ev, deadline);
    if (rc == CMBOOT_OK && ev->type == CMBOOT_DEVICE_ADDED) {
        t->again = *ev;
        t->have = true;
    }
    return rc;
}
static int twice_open(void *self, const cmboot_device_info *dev, cmboot_transport *out)
{
    twice *t = self;
    return t->inner.ops->open(t->inner.self, dev, out);
}
static void twice_wakeup(void *self)
{
    twice *t = self;
    t->inner.ops->wakeup(t->inner.self);
}
static void twice_destroy(void *self)
{
    (void)self;
}

static void *cancel_after_quiet(void *arg)
{
    fixture *f = arg;
    pthread_mutex_lock(&f->lock);
    while (f->done < 2)
        pthread_cond_wait(&f->cv, &f->lock);
    pthread_mutex_unlock(&f->lock);
    /* Drive the bus a while longer: a board taken twice would show up in this time. */
    sim_bus_wait_stage(f->b.bus, "1-1", CMBOOT_STAGE_UNKNOWN, cmboot_now_ms() + 500);
    cmboot_ctx_cancel(f->b.ctx);
    return NULL;
}

static void line_does_not_flash_a_present_board_twice(void **state)
{
    fixture *f = *state;
    plug(f, "1-1", "a0000001", CMBOOT_STAGE_ROM, 0);          /* booted by us */
    plug(f, "1-2", "c0ffee02", CMBOOT_STAGE_MASS_STORAGE, 0); /* found in mass storage */
    static const cmboot_discovery_ops ops = {sizeof ops, twice_next, twice_open, twice_wakeup, twice_destroy, "twice"};
    twice tw = {.inner = f->b.disc};
    cmboot_discovery d = {&ops, &tw};
    f->line.boards = 0; /* loop: finished boards are forgotten, only the taken list stops a second take */
    f->in_flight = 2;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_after_quiet, f), 0);
    cmboot_flash_line_summary sum;
    cmboot_flash_line_summary_default(&sum);
    int rc = cmboot_flash_line_run(f->b.ctx, &d, &f->b.bcfg, &f->b.fcfg, &f->line, &sum);
    pthread_join(t, NULL);
    assert_int_equal(rc, CMBOOT_ERR_CANCELLED);
    assert_int_equal(sum.ok, 2);
    assert_int_equal(sum.boards, 2);
    assert_int_equal(f->done, 2);
    assert_true(done_index(f, "1-1") >= 0);
    assert_true(done_index(f, "1-2") >= 0);
}

static void line_loop_takes_boards_one_after_another_on_one_port(void **state)
{
    fixture *f = *state;
    f->chain = true;
    f->chain_left = 2; /* after the first board: two more */
    plug(f, "1-1", "b0000000", CMBOOT_STAGE_ROM, 0);
    f->line.boards = 0;
    cmboot_flash_line_summary sum;
    cmboot_flash_line_summary_default(&sum);
    int rc = cmboot_flash_line_run(f->b.ctx, &f->b.disc, &f->b.bcfg, &f->b.fcfg, &f->line, &sum);
    assert_int_equal(rc, CMBOOT_ERR_CANCELLED);
    assert_int_equal(sum.ok, 3);
    assert_int_equal(sum.interrupted, 0);
    assert_int_equal(f->done, 3);
    const char *serials[] = {"b0000000", "b0000001", "b0000002"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(f->done_port[i], "1-1");
        assert_string_equal(f->done_serial[i], serials[i]);
        char p[4300];
        snprintf(p, sizeof p, "%s/disk-%s.img", f->b.root, serials[i]);
        assert_image_at(p);
    }
}

static void line_refuses_a_bad_image_before_booting(void **state)
{
    fixture *f = *state;
    plug(f, "1-1", "a0000001", CMBOOT_STAGE_ROM, 0);
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/none.img", f->b.root);
    f->b.fcfg.image = missing;
    f->line.boards = 1;
    cmboot_flash_line_summary sum;
    cmboot_flash_line_summary_default(&sum);
    assert_int_not_equal(cmboot_flash_line_run(f->b.ctx, &f->b.disc, &f->b.bcfg, &f->b.fcfg, &f->line, &sum),
                         CMBOOT_OK);
    assert_int_equal(sum.boards, 0);
    sim_result sr;
    assert_int_equal(sim_bus_result(f->b.bus, "1-1", &sr), CMBOOT_OK);
    assert_false(sr.rom_accepted);
    /* One target for many boards is refused too. */
    f->b.fcfg.image = f->b.image;
    f->b.fcfg.target = missing;
    assert_int_equal(cmboot_flash_line_run(f->b.ctx, &f->b.disc, &f->b.bcfg, &f->b.fcfg, &f->line, &sum),
                     CMBOOT_ERR_INVALID_ARG);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(line_flashes_three_boards_at_once, setup, teardown),
    cmocka_unit_test_setup_teardown(line_failed_board_does_not_stop_the_others, setup, teardown),
    cmocka_unit_test_setup_teardown(line_cancel_reaches_every_board, setup, teardown),
    cmocka_unit_test_setup_teardown(line_adopts_a_board_already_in_mass_storage, setup, teardown),
    cmocka_unit_test_setup_teardown(line_boot_does_not_adopt_by_default, setup, teardown),
    cmocka_unit_test_setup_teardown(line_does_not_flash_a_present_board_twice, setup, teardown),
    cmocka_unit_test_setup_teardown(line_loop_takes_boards_one_after_another_on_one_port, setup, teardown),
    cmocka_unit_test_setup_teardown(line_refuses_a_bad_image_before_booting, setup, teardown),
};

CMBOOT_TEST_MAIN(tests)
