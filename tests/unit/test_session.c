/* Whole host sessions (ROM -> re-enumeration -> file server -> Done -> mass storage) against the in-process
 * emulator: every SoC, several boards at once, selection, and every injected fault ending with its error. */
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/cmboot.h"
#include "board_fixture.h"
#include "front/sim_bus.h"
#include "testutil.h"

typedef struct fixture {
    char *dir;  /* boot directory */
    char *jdir; /* metadata directory */
    sim_bus *bus;
    cmboot_ctx *ctx;
    cmboot_discovery disc;
    cmboot_boot_config cfg;
    cmboot_stage_limits limits;
    cmboot_run_report *report;
    pthread_mutex_t lock;
    int metadata_events;
    int refused_files;
    int bad_elapsed;
} fixture;

static uint8_t bootcode[40000], startelf[3 * 1024 * 1024 + 17], bootimg[5 * 1024 * 1024 + 3];

static void on_event(void *user, const cmboot_event *ev)
{
    fixture *f = user;
    pthread_mutex_lock(&f->lock);
    if (ev->type == CMBOOT_EV_METADATA)
        f->metadata_events++;
    if (ev->type == CMBOOT_EV_FILE && ev->error)
        f->refused_files++;
    /* a stage's clock starts with it: the first events of a stage are near zero, never the raw monotonic clock */
    if ((ev->type == CMBOOT_EV_DEVICE_SEEN || ev->type == CMBOOT_EV_STAGE_START) && ev->elapsed_ms > 2000)
        f->bad_elapsed++;
    pthread_mutex_unlock(&f->lock);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    f->dir = test_tmpdir("boot");
    f->jdir = test_tmpdir("json");
    bf_boot_dir(f->dir, BF_BOOTCODE | BF_BOOTCODE4 | BF_BOOTCODE5 | BF_START | BF_FIXUP, bootcode, sizeof bootcode,
                startelf, sizeof startelf);
    bf_image(f->dir, "boot.img", bootimg, sizeof bootimg, 3);
    const char *small[] = {"mcb.bin", "memsys00.bin", "memsys01.bin", "memsys02.bin", "memsys03.bin", "bootmain"};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
        test_write_file(f->dir, small[i], small[i], strlen(small[i]));
    bf_bus_new(&f->bus, &f->disc);
    bf_ctx_new(&f->ctx, on_event, f);
    assert_int_equal(cmboot_run_report_new(&f->report), CMBOOT_OK);
    bf_boot_config(&f->cfg, &f->limits, f->dir, 5000);
    f->cfg.metadata_dir = f->jdir;
    f->cfg.metadata_stdout = false;
    f->cfg.wait_mass_storage = true;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    bf_teardown(f->bus, &f->disc, f->ctx, f->dir);
    cmboot_run_report_free(f->report);
    test_rmtree(f->jdir);
    free(f->jdir);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return 0;
}

static const cmboot_board_result *board_at(const fixture *f, size_t i)
{
    const cmboot_board_result *r = cmboot_run_report_board(f->report, i);
    assert_non_null(r);
    return r;
}

static sim_config board(cmboot_soc_id soc, sim_script *script)
{
    sim_config c;
    sim_config_default(&c, soc);
    c.script = script;
    c.expect_second_stage_size = (int64_t)sizeof bootcode;
    return c;
}

static void expect_complete(fixture *f, const char *port)
{
    sim_result r;
    assert_int_equal(sim_bus_result(f->bus, port, &r), CMBOOT_OK);
    if (r.failures)
        fprintf(stderr, "emulator at %s: %s\n", port, r.first_failure);
    assert_int_equal(r.failures, 0);
    assert_true(r.rom_accepted);
    assert_true(r.script_complete);
    assert_int_equal(r.stage, CMBOOT_STAGE_MASS_STORAGE);
}

static void run_one_soc(void **state, cmboot_soc_id soc)
{
    fixture *f = *state;
    sim_config c = board(soc, NULL); /* default script of the SoC */
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_int_equal(cmboot_run_report_boards(f->report), 1);
    assert_int_equal(board_at(f, 0)->error, CMBOOT_OK);
    assert_int_equal(board_at(f, 0)->last_stage, CMBOOT_STAGE_MASS_STORAGE);
    assert_string_equal(board_at(f, 0)->port_path, "1-1");
    expect_complete(f, "1-1");
    assert_int_equal(f->bad_elapsed, 0);
}

static void test_boot_bcm2835(void **state)
{
    run_one_soc(state, CMBOOT_SOC_BCM2835);
}
static void test_boot_bcm2837(void **state)
{
    run_one_soc(state, CMBOOT_SOC_BCM2837);
    /* the second stage's string is the maker, not a serial: the board's serial comes from mass storage */
    fixture *f = *state;
    sim_result r;
    assert_int_equal(sim_bus_result(f->bus, "1-1", &r), CMBOOT_OK);
    assert_string_not_equal(board_at(f, 0)->serial, "Broadcom");
    sim_config c;
    sim_config_default(&c, CMBOOT_SOC_BCM2837);
    assert_string_equal(board_at(f, 0)->serial, c.serial);
}
static void test_boot_bcm2711(void **state)
{
    run_one_soc(state, CMBOOT_SOC_BCM2711);
}
static void test_boot_bcm2712(void **state)
{
    run_one_soc(state, CMBOOT_SOC_BCM2712);
}

static void test_boot_bcm2837_two_interfaces(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2837, NULL);
    c.two_interfaces = true;
    assert_int_equal(sim_bus_plug(f->bus, "2-3", &c, 0), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    expect_complete(f, "2-3");
}

static void test_files_arrive_intact(void **state)
{
    fixture *f = *state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_get(&s, "start.elf", true);
    sim_script_add_get(&s, "boot.img", true);
    sim_script_add_get(&s, "absent.bin", false);
    sim_script_add_done(&s);
    sim_config c = board(CMBOOT_SOC_BCM2837, &s);
    assert_int_equal(sim_bus_plug(f->bus, "1-2", &c, 0), CMBOOT_OK);
    f->limits.chunk_size = 64 * 1024 + 7; /* pieces that do not divide the files */
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    expect_complete(f, "1-2");
    sim_file_record rec;
    assert_int_equal(sim_bus_file(f->bus, "1-2", "boot.img", &rec), CMBOOT_OK);
    assert_true(rec.complete);
    assert_int_equal(rec.received, sizeof bootimg);
    assert_int_equal(sim_bus_file(f->bus, "1-2", "start.elf", &rec), CMBOOT_OK);
    assert_int_equal(rec.received, sizeof startelf);
    sim_result r;
    sim_bus_result(f->bus, "1-2", &r);
    assert_int_equal(r.second_stage_received, sizeof bootcode);
    sim_script_free(&s);
}

static void test_metadata_json_written(void **state)
{
    fixture *f = *state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_meta(&s, "MAC_ADDR", "d8:3a:dd:05:ee:78");
    sim_script_add_meta(&s, "FACTORY_UUID", "000059de");
    sim_script_add_meta(&s, "USER_BOARDREV", "0xb03141 \"quoted\" \\");
    sim_script_add_get(&s, "config.txt", true);
    sim_script_add_done(&s);
    sim_config c = board(CMBOOT_SOC_BCM2711, &s);
    snprintf(c.serial, sizeof c.serial, "%s", "af04b2da");
    assert_int_equal(sim_bus_plug(f->bus, "1-1.4", &c, 0), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_string_equal(board_at(f, 0)->serial, "af04b2da");
    assert_int_equal(f->metadata_events, 3);
    char path[4096];
    snprintf(path, sizeof path, "%s/af04b2da.json", f->jdir);
    json_object *o = json_object_from_file(path);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "USER_BOARDREV", &v));
    assert_string_equal(json_object_get_string(v), "0xb03141 \"quoted\" \\");
    assert_true(json_object_object_get_ex(o, "FACTORY_UUID", &v));
    assert_string_equal(json_object_get_string(v), "AB1");
    json_object_put(o);
    sim_script_free(&s);
}

static void test_board_plugged_in_later(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2837, NULL);
    assert_int_equal(sim_bus_plug(f->bus, "1-4", &c, cmboot_now_ms() + 400), CMBOOT_OK);
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_true(cmboot_now_ms() - t0 >= 400);
    expect_complete(f, "1-4");
}

static void test_many_boards_in_parallel(void **state)
{
    fixture *f = *state;
    const char *ports[] = {"1-1.1", "1-1.2", "1-1.3", "1-1.4", "1-2"};
    cmboot_soc_id socs[] = {CMBOOT_SOC_BCM2837, CMBOOT_SOC_BCM2711, CMBOOT_SOC_BCM2712, CMBOOT_SOC_BCM2835,
                            CMBOOT_SOC_BCM2711};
    for (int i = 0; i < 5; i++) {
        sim_config c = board(socs[i], NULL);
        snprintf(c.serial, sizeof c.serial, "serial%d", i);
        assert_int_equal(sim_bus_plug(f->bus, ports[i], &c, i == 4 ? cmboot_now_ms() + 300 : 0), CMBOOT_OK);
    }
    f->cfg.max_boards = 5;
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_int_equal(cmboot_run_report_boards(f->report), 5);
    assert_int_equal(cmboot_run_report_failed(f->report), 0);
    for (int i = 0; i < 5; i++)
        expect_complete(f, ports[i]);
}

/* More boards than the old report's fixed 64 entries, all at once: every one is served and reported. */
static void test_report_holds_more_than_64_boards(void **state)
{
    fixture *f = *state;
    enum { N = 70 };
    sim_script s;
    sim_script_init(&s);
    sim_script_add_get(&s, "config.txt", true);
    sim_script_add_done(&s);
    for (int i = 0; i < N; i++) {
        sim_config c = board(CMBOOT_SOC_BCM2711, &s);
        c.disconnect_delay_ms = 0;
        c.reenum_delay_ms = 0;
        snprintf(c.serial, sizeof c.serial, "many%02d", i);
        char port[CMBOOT_PORT_PATH_MAX];
        snprintf(port, sizeof port, "%d-%d.%d", 1 + i / 25, 1 + i / 5 % 5, 1 + i % 5);
        assert_int_equal(sim_bus_plug(f->bus, port, &c, 0), CMBOOT_OK);
    }
    f->cfg.max_boards = N;
    f->cfg.metadata_dir = NULL;
    f->cfg.stage_timeout_ms = 20000;
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_int_equal(cmboot_run_report_boards(f->report), N);
    assert_int_equal(cmboot_run_report_failed(f->report), 0);
    bool seen[N] = {false};
    for (size_t i = 0; i < N; i++) {
        const cmboot_board_result *r = board_at(f, i);
        assert_int_equal(r->error, CMBOOT_OK);
        assert_int_equal(r->last_stage, CMBOOT_STAGE_MASS_STORAGE);
        int n = -1;
        assert_int_equal(sscanf(r->serial, "many%d", &n), 1);
        assert_true(n >= 0 && n < N && !seen[n]);
        seen[n] = true;
        assert_true(cmboot_board_result_stage_ms(r, CMBOOT_STAGE_ROM) >= 0);
        assert_true(cmboot_board_result_stage_ms(r, CMBOOT_STAGE_SECOND) >= 0);
        assert_int_equal(cmboot_board_result_stage_ms(r, CMBOOT_STAGE_MASS_STORAGE), 0);
    }
    assert_null(cmboot_run_report_board(f->report, N));
    sim_script_free(&s);
}

static void test_selection_by_port_and_serial(void **state)
{
    fixture *f = *state;
    sim_config a = board(CMBOOT_SOC_BCM2711, NULL), b = board(CMBOOT_SOC_BCM2711, NULL);
    snprintf(a.serial, sizeof a.serial, "aaaa1111");
    snprintf(b.serial, sizeof b.serial, "bbbb2222");
    assert_int_equal(sim_bus_plug(f->bus, "3-1", &a, 0), CMBOOT_OK);
    assert_int_equal(sim_bus_plug(f->bus, "3-2", &b, 0), CMBOOT_OK);
    f->cfg.serial = "bbbb2222";
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_string_equal(board_at(f, 0)->port_path, "3-2");
    sim_result r;
    sim_bus_result(f->bus, "3-1", &r);
    assert_false(r.rom_accepted); /* the other board was left alone */
    f->cfg.serial = NULL;
    f->cfg.port_path = "3-1";
    /* a new run watches the bus anew, as a new cmboot process would */
    f->disc.ops->destroy(f->disc.self);
    assert_int_equal(sim_bus_discovery(f->bus, &f->disc), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_string_equal(board_at(f, 0)->port_path, "3-1");
    expect_complete(f, "3-1");
}

static void test_selection_by_port_number(void **state)
{
    fixture *f = *state;
    sim_config a = board(CMBOOT_SOC_BCM2837, NULL);
    assert_int_equal(sim_bus_plug(f->bus, "1-1.2", &a, 0), CMBOOT_OK);
    assert_int_equal(sim_bus_plug(f->bus, "1-1.7", &a, 0), CMBOOT_OK);
    f->cfg.port_number = 7;
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_string_equal(board_at(f, 0)->port_path, "1-1.7");
}

/* One fault in an otherwise normal script, and the error cmboot_run must end with. */
static void run_fault(void **state, sim_fault_kind kind, uint64_t arg, int expected)
{
    fixture *f = *state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_get(&s, "config.txt", true);
    sim_script_add_get(&s, "start.elf", true);
    sim_script_fault_last(&s, kind, arg);
    sim_script_add_done(&s);
    sim_config c = board(CMBOOT_SOC_BCM2837, &s);
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    f->cfg.stage_timeout_ms = 800;
    f->cfg.next_stage_timeout_ms = 800;
    f->limits.request_timeout_ms = 800;
    f->limits.request_idle_limit_ms = 2000; /* the file server reads again after a timeout until then */
    int rc = cmboot_run(f->ctx, &f->disc, &f->cfg, f->report);
    assert_int_equal(rc, expected);
    assert_int_equal(cmboot_run_report_boards(f->report), 1);
    assert_int_equal(board_at(f, 0)->error, expected);
    sim_script_free(&s);
}

static void test_fault_vanish_mid_transfer(void **state)
{
    run_fault(state, SIM_FAULT_VANISH_AFTER_BYTES, 100000, CMBOOT_ERR_NO_DEVICE);
}
/* The reference and Imager count a second stage that leaves without Done as finished (payloads that reboot or
 * power off do): in boot mode that is success, not a failed board. */
static void test_left_without_done_is_success_in_boot_mode(void **state)
{
    fixture *f = *state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_get(&s, "config.txt", true);
    sim_script_add_get(&s, "start.elf", true);
    sim_script_fault_last(&s, SIM_FAULT_VANISH, 0);
    sim_config c = board(CMBOOT_SOC_BCM2837, &s);
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    f->cfg.wait_mass_storage = false;
    f->cfg.next_stage_timeout_ms = 60000; /* must not be waited for */
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_true(cmboot_now_ms() - t0 < 20000);
    assert_int_equal(board_at(f, 0)->error, CMBOOT_OK);
    assert_int_equal(board_at(f, 0)->last_stage, CMBOOT_STAGE_SECOND);
    sim_script_free(&s);
}

/* Followed to its next stage (flash), the same board must still show one: without it the board failed. */
static void test_left_without_done_followed_needs_next_stage(void **state)
{
    fixture *f = *state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_get(&s, "config.txt", true);
    sim_script_fault_last(&s, SIM_FAULT_VANISH, 0);
    sim_config c = board(CMBOOT_SOC_BCM2837, &s);
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    f->cfg.next_stage_timeout_ms = 500;
    f->cfg.stage_timeout_ms = 60000; /* the post-Done deadline is the one that applies */
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_ERR_NO_DEVICE);
    assert_true(cmboot_now_ms() - t0 < 20000);
    sim_script_free(&s);
}

static void test_fault_vanish_before_request(void **state)
{
    run_fault(state, SIM_FAULT_VANISH, 0, CMBOOT_ERR_NO_DEVICE);
}
/* The file server is lenient (docs/file-server.md): these faults are acknowledged or read again. */
static void test_fault_unknown_command(void **state)
{
    run_fault(state, SIM_FAULT_UNKNOWN_COMMAND, 7, CMBOOT_OK);
}
static void test_fault_short_reply(void **state)
{
    run_fault(state, SIM_FAULT_SHORT, 3, CMBOOT_OK);
}
static void test_fault_stall(void **state)
{
    run_fault(state, SIM_FAULT_STALL, 0, CMBOOT_OK);
}
static void test_fault_request_never_comes(void **state)
{
    run_fault(state, SIM_FAULT_DELAY, 5000, CMBOOT_ERR_TIMEOUT);
}
/* The halt is cleared and the data resent. */
static void test_fault_bulk_stall(void **state)
{
    run_fault(state, SIM_FAULT_STALL_BULK, 0, CMBOOT_OK);
}

static void test_fault_short_delay_is_fine(void **state)
{
    fixture *f = *state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_get(&s, "config.txt", true);
    sim_script_fault_last(&s, SIM_FAULT_DELAY, 300);
    sim_script_add_done(&s);
    sim_config c = board(CMBOOT_SOC_BCM2837, &s);
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    expect_complete(f, "1-1");
    sim_script_free(&s);
}

static void test_fault_rom_rejects(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2837, NULL);
    c.rom_reject = true;
    c.rom_reject_status = 5;
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_ERR_ROM_REJECTED);
}

static void test_rom_status_delayed_no_sleep(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2711, NULL);
    c.rom_status_delay_ms = 600; /* ROM checks the second stage slowly: cmboot asks until its deadline */
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    expect_complete(f, "1-1");
}

static void test_hostile_names_refused_serving_goes_on(void **state)
{
    fixture *f = *state;
    /* a file outside the boot directory that a hostile device would like */
    char *outside = test_tmpdir("outside");
    test_write_file(outside, "secret", "secret", 6);
    char abs[4200];
    snprintf(abs, sizeof abs, "%s/secret", outside);
    sim_script s;
    sim_script_init(&s);
    sim_script_add_raw(&s, 1, abs, strlen(abs) + 1);
    sim_script_add_raw(&s, 1, "../../../../etc/passwd", 23);
    sim_script_add_raw(&s, 0, "a\nb", 4);
    sim_script_add_get(&s, "config.txt", true);
    sim_script_fault_last(&s, SIM_FAULT_UNTERMINATED, 0);
    sim_script_add_get(&s, "config.txt", true);
    sim_script_fault_last(&s, SIM_FAULT_OVERLONG, 0);
    sim_script_add_get(&s, "start.elf", true);
    sim_script_add_done(&s);
    sim_config c = board(CMBOOT_SOC_BCM2837, &s);
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    sim_result r;
    sim_bus_result(f->bus, "1-1", &r);
    assert_true(r.script_complete);
    assert_int_equal(r.files_received, 1); /* only start.elf: every hostile request got "no such file" */
    assert_true(f->refused_files >= 5);
    test_rmtree(outside);
    free(outside);
    sim_script_free(&s);
}

static void test_no_board_times_out(void **state)
{
    fixture *f = *state;
    f->cfg.wait_first_ms = 200;
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(cmboot_run_report_boards(f->report), 0);
}

static void test_missing_second_stage_file(void **state)
{
    fixture *f = *state;
    char *empty = test_tmpdir("empty");
    f->cfg.boot_dir = empty;
    sim_config c = board(CMBOOT_SOC_BCM2712, NULL);
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_ERR_NOT_FOUND);
    test_rmtree(empty);
    free(empty);
}

static void *cancel_later(void *arg)
{
    fixture *f = arg;
    sim_bus_wait_stage(f->bus, "1-1", CMBOOT_STAGE_SECOND, cmboot_now_ms() + 3000);
    cmboot_ctx_cancel(f->ctx);
    return NULL;
}

static void test_cancel_while_serving(void **state)
{
    fixture *f = *state;
    sim_script s;
    sim_script_init(&s);
    sim_script_add_get(&s, "config.txt", true);
    sim_script_fault_last(&s, SIM_FAULT_DELAY, 60000); /* the device goes quiet */
    sim_script_add_done(&s);
    sim_config c = board(CMBOOT_SOC_BCM2837, &s);
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    f->limits.request_timeout_ms = 60000;
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, f);
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_ERR_CANCELLED);
    assert_true(cmboot_now_ms() - t0 < 5000);
    pthread_join(t, NULL);
    sim_script_free(&s);
}

/* Imager notes that a BCM2711/2712 ROM may run the second stage without answering the status read: the second
 * stage appearing is the answer, not a failed board. */
static void test_rom_status_lost_bcm2711_boots(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2711, NULL);
    c.rom_status_lost = true;
    c.disconnect_delay_ms = 1200; /* it leaves only after the host's status deadline */
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    f->limits.status_deadline_ms = 300;
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    expect_complete(f, "1-1");
}

/* The same silence from a BCM2837 ROM, whose real ROMs answer, is still reported. */
static void test_rom_status_lost_bcm2837_reported(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2837, NULL);
    c.rom_status_lost = true;
    c.disconnect_delay_ms = 1200;
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    f->limits.status_deadline_ms = 300;
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_ERR_TIMEOUT);
    assert_int_equal(board_at(f, 0)->error, CMBOOT_ERR_TIMEOUT);
}

/* A payload that becomes the fastboot gadget (18d1:4e40) on the board's port ends the follow successfully. */
static void test_fastboot_after_done(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2712, NULL);
    c.after_done = SIM_AFTER_FASTBOOT;
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_int_equal(board_at(f, 0)->last_stage, CMBOOT_STAGE_FASTBOOT);
}

static void *cancel_after_roms(void *arg)
{
    fixture *f = arg;
    int64_t deadline = cmboot_now_ms() + 20000;
    sim_result r = {0};
    /* Five ROM stages: more than the three retries a ROM that never runs its second stage gets. */
    while (cmboot_now_ms() < deadline && (sim_bus_result(f->bus, "1-1", &r) != CMBOOT_OK || r.enumerations < 9))
        sim_bus_wait_stage(f->bus, "1-1", CMBOOT_STAGE_UNKNOWN, cmboot_now_ms() + 20);
    cmboot_ctx_cancel(f->ctx);
    return NULL;
}

/* A recovery payload whose boot order reboots into rpiboot comes back as the ROM after its file server: every
 * return is a new boot, served again, never counted as a ROM refusing its second stage. */
static void test_rom_after_completed_file_server_is_a_new_boot(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2711, NULL);
    c.after_done = SIM_AFTER_ROM;
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    pthread_t t;
    pthread_create(&t, NULL, cancel_after_roms, f);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_ERR_CANCELLED);
    pthread_join(t, NULL);
    assert_int_equal(board_at(f, 0)->error, CMBOOT_ERR_CANCELLED); /* not ROM_LOOP, not ROM_REJECTED */
    sim_result r;
    assert_int_equal(sim_bus_result(f->bus, "1-1", &r), CMBOOT_OK);
    assert_true(r.enumerations >= 9);
    assert_int_equal(r.failures, 0);
}

/* -i is compared with each stage's own serial string: a second stage whose string differs is not served. */
static void test_serial_checked_at_every_stage(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2711, NULL);
    snprintf(c.serial, sizeof c.serial, "c4000009");
    c.second_serial_index = 1; /* "Broadcom", not the board serial */
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    f->cfg.serial = "c4000009";
    f->cfg.stage_timeout_ms = 800;
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_ERR_TIMEOUT);
    sim_result r;
    assert_int_equal(sim_bus_result(f->bus, "1-1", &r), CMBOOT_OK);
    assert_true(r.rom_accepted);     /* the ROM (string 3 = c4000009) matched */
    assert_int_equal(r.requests, 0); /* the second stage did not */
}

/* No boot files for any SoC: said before any board arrives, and nothing is waited for. */
static void test_no_boot_files_at_all_fails_at_once(void **state)
{
    fixture *f = *state;
    /* The installed msd fallback of a developer's machine would serve BCM2835/2837/2711: this checks the bare
     * case, as on CI. */
    if (access("/usr/share/rpiboot/msd", F_OK) == 0 || access("/usr/local/share/rpiboot/msd", F_OK) == 0)
        fail_msg("this host has rpiboot's msd files installed: the test needs a host without them");
    char *empty = test_tmpdir("noboot");
    f->cfg.boot_dir = empty;
    f->cfg.wait_first_ms = 0; /* would wait forever if the check did not stop it */
    int64_t t0 = cmboot_now_ms();
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_ERR_NOT_FOUND);
    assert_true(cmboot_now_ms() - t0 < 1000);
    assert_int_equal(cmboot_run_report_boards(f->report), 0);
    test_rmtree(empty);
    free(empty);
}

static void test_config_defaults_match_real_boards(void **state)
{
    (void)state;
    cmboot_boot_config c;
    cmboot_boot_config_default(&c);
    assert_int_equal(c.next_stage_timeout_ms, 60000); /* Imager waits 60 s for the gadget */
    assert_null(c.limits);                            /* the stage defaults: */
    cmboot_stage_limits l;
    cmboot_stage_limits_default(&l);
    assert_int_equal(l.request_timeout_ms, 20000); /* the reference's 20 s */
    assert_int_equal(l.request_idle_limit_ms, 0);  /* and it keeps polling */
}

static void *swap_boards(void *arg)
{
    fixture *f = arg;
    for (int i = 0; i < 2; i++) {
        sim_bus_wait_stage(f->bus, "1-3", CMBOOT_STAGE_MASS_STORAGE, cmboot_now_ms() + 5000);
        sim_bus_unplug(f->bus, "1-3");
        sim_config c = board(CMBOOT_SOC_BCM2711, NULL);
        snprintf(c.serial, sizeof c.serial, "next%d", i);
        sim_bus_plug(f->bus, "1-3", &c, 0);
    }
    return NULL;
}

static void test_loop_serves_board_after_board_on_one_port(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2711, NULL);
    assert_int_equal(sim_bus_plug(f->bus, "1-3", &c, 0), CMBOOT_OK);
    f->cfg.loop = true;
    f->cfg.max_boards = 3; /* a production line would leave this at 0: forever */
    pthread_t t;
    pthread_create(&t, NULL, swap_boards, f);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    pthread_join(t, NULL);
    assert_int_equal(cmboot_run_report_boards(f->report), 3);
    assert_string_equal(board_at(f, 2)->serial, "next1");
    expect_complete(f, "1-3");
}

/* Boards that re-enumerate at once: the next stage's ADDED arrives before the manager has reaped the worker of
 * the previous stage, and must not be lost. */
static void test_instant_reenumeration_not_lost(void **state)
{
    fixture *f = *state;
    const char *ports[] = {"1-1.1", "1-1.2", "1-1.3", "1-1.4", "1-2.1", "1-2.2"};
    for (int i = 0; i < 6; i++) {
        sim_config c = board(i % 2 ? CMBOOT_SOC_BCM2711 : CMBOOT_SOC_BCM2837, NULL);
        c.disconnect_delay_ms = 0;
        c.reenum_delay_ms = 0;
        snprintf(c.serial, sizeof c.serial, "fast%d", i);
        assert_int_equal(sim_bus_plug(f->bus, ports[i], &c, 0), CMBOOT_OK);
    }
    f->cfg.max_boards = 6;
    f->cfg.stage_timeout_ms = 3000;
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    assert_int_equal(cmboot_run_report_boards(f->report), 6);
    for (int i = 0; i < 6; i++)
        expect_complete(f, ports[i]);
}

static void test_signed_boot_sends_signature(void **state)
{
    fixture *f = *state;
    uint8_t sig[20];
    for (int i = 0; i < 20; i++)
        sig[i] = (uint8_t)(0x40 + i);
    test_write_file(f->dir, "bootsig.bin", "x", 1);
    test_write_file(f->dir, "bootcode.sig", sig, 20);
    sim_config c = board(CMBOOT_SOC_BCM2837, NULL);
    c.expect_signature = sig;
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    f->cfg.signed_boot = true;
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    sim_result r;
    sim_bus_result(f->bus, "1-1", &r);
    assert_memory_equal(r.signature, sig, 20);
    expect_complete(f, "1-1");
}

/* After Done the board comes back as a second stage on the same port and asks for files again: it is served as
 * the same board (one report entry), not left hanging while the run waits for other boards. */
static void *second_stage_again(void *arg)
{
    fixture *f = arg;
    assert_int_equal(sim_bus_wait_stage(f->bus, "1-1", CMBOOT_STAGE_UNKNOWN, cmboot_now_ms() + 8000), CMBOOT_OK);
    sim_config c = board(CMBOOT_SOC_BCM2711, NULL);
    c.start_stage = CMBOOT_STAGE_SECOND;
    c.after_done = SIM_AFTER_NOTHING;
    snprintf(c.serial, sizeof c.serial, "again");
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    sim_bus_wait_stage(f->bus, "1-1", CMBOOT_STAGE_UNKNOWN, cmboot_now_ms() + 4000);
    sim_config other = board(CMBOOT_SOC_BCM2837, NULL); /* the second board of the run ends it */
    assert_int_equal(sim_bus_plug(f->bus, "1-2", &other, 0), CMBOOT_OK);
    return NULL;
}

static void test_second_stage_again_after_done_is_served(void **state)
{
    fixture *f = *state;
    sim_config c = board(CMBOOT_SOC_BCM2711, NULL);
    c.after_done = SIM_AFTER_NOTHING;
    assert_int_equal(sim_bus_plug(f->bus, "1-1", &c, 0), CMBOOT_OK);
    f->cfg.wait_mass_storage = false;
    f->cfg.max_boards = 2;
    pthread_t t;
    pthread_create(&t, NULL, second_stage_again, f);
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_OK);
    pthread_join(t, NULL);
    sim_result r;
    assert_int_equal(sim_bus_result(f->bus, "1-1", &r), CMBOOT_OK);
    assert_int_equal(r.failures, 0);
    assert_true(r.script_complete); /* the second-stage-only board on 1-1 got its files and said Done */
    assert_int_equal(cmboot_run_report_boards(f->report), 2);
    assert_int_equal(cmboot_run_report_failed(f->report), 0);
    assert_string_equal(board_at(f, 0)->port_path, "1-1");
    assert_string_equal(board_at(f, 1)->port_path, "1-2");
}

/* Loop mode forgets finished boards, but not their failure: the run's result still says a board failed. */
static void test_loop_keeps_failure_of_forgotten_board(void **state)
{
    fixture *f = *state;
    sim_config bad = board(CMBOOT_SOC_BCM2837, NULL);
    bad.rom_reject = true;
    sim_config good = board(CMBOOT_SOC_BCM2711, NULL);
    assert_int_equal(sim_bus_plug(f->bus, "1-3", &bad, 0), CMBOOT_OK);
    assert_int_equal(sim_bus_plug(f->bus, "1-4", &good, 0), CMBOOT_OK);
    f->cfg.loop = true;
    f->cfg.max_boards = 2;
    assert_int_equal(cmboot_run(f->ctx, &f->disc, &f->cfg, f->report), CMBOOT_ERR_ROM_REJECTED);
    assert_int_equal(cmboot_run_report_boards(f->report), 2);
    assert_int_equal(cmboot_run_report_failed(f->report), 1);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_boot_bcm2835, setup, teardown),
    cmocka_unit_test_setup_teardown(test_boot_bcm2837, setup, teardown),
    cmocka_unit_test_setup_teardown(test_boot_bcm2711, setup, teardown),
    cmocka_unit_test_setup_teardown(test_boot_bcm2712, setup, teardown),
    cmocka_unit_test_setup_teardown(test_boot_bcm2837_two_interfaces, setup, teardown),
    cmocka_unit_test_setup_teardown(test_files_arrive_intact, setup, teardown),
    cmocka_unit_test_setup_teardown(test_metadata_json_written, setup, teardown),
    cmocka_unit_test_setup_teardown(test_board_plugged_in_later, setup, teardown),
    cmocka_unit_test_setup_teardown(test_many_boards_in_parallel, setup, teardown),
    cmocka_unit_test_setup_teardown(test_report_holds_more_than_64_boards, setup, teardown),
    cmocka_unit_test_setup_teardown(test_selection_by_port_and_serial, setup, teardown),
    cmocka_unit_test_setup_teardown(test_selection_by_port_number, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fault_vanish_mid_transfer, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fault_vanish_before_request, setup, teardown),
    cmocka_unit_test_setup_teardown(test_left_without_done_is_success_in_boot_mode, setup, teardown),
    cmocka_unit_test_setup_teardown(test_left_without_done_followed_needs_next_stage, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fault_unknown_command, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fault_short_reply, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fault_stall, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fault_request_never_comes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fault_bulk_stall, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fault_short_delay_is_fine, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fault_rom_rejects, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rom_status_delayed_no_sleep, setup, teardown),
    cmocka_unit_test_setup_teardown(test_hostile_names_refused_serving_goes_on, setup, teardown),
    cmocka_unit_test_setup_teardown(test_no_board_times_out, setup, teardown),
    cmocka_unit_test_setup_teardown(test_missing_second_stage_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_cancel_while_serving, setup, teardown),
    cmocka_unit_test_setup_teardown(test_no_boot_files_at_all_fails_at_once, setup, teardown),
    cmocka_unit_test(test_config_defaults_match_real_boards),
    cmocka_unit_test_setup_teardown(test_rom_status_lost_bcm2711_boots, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rom_status_lost_bcm2837_reported, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fastboot_after_done, setup, teardown),
    cmocka_unit_test_setup_teardown(test_rom_after_completed_file_server_is_a_new_boot, setup, teardown),
    cmocka_unit_test_setup_teardown(test_serial_checked_at_every_stage, setup, teardown),
    cmocka_unit_test_setup_teardown(test_signed_boot_sends_signature, setup, teardown),
    cmocka_unit_test_setup_teardown(test_instant_reenumeration_not_lost, setup, teardown),
    cmocka_unit_test_setup_teardown(test_loop_serves_board_after_board_on_one_port, setup, teardown),
    cmocka_unit_test_setup_teardown(test_second_stage_again_after_done_is_served, setup, teardown),
    cmocka_unit_test_setup_teardown(test_loop_keeps_failure_of_forgotten_board, setup, teardown),
};
CMBOOT_TEST_MAIN(tests)
