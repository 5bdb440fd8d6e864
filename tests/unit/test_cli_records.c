/* `cmboot flash`'s recording (cli/records_cli.c) on a flash line of the in-process emulator: every finished
 * board attempt is one row, with the metadata, image and result the board's job had. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/records_cli.c"
#include "cmboot/cmboot.h"
#include "cmboot/flash.h"
#include "cmboot/line.h"
#include "cmboot/records.h"
#include "board_fixture.h"
#include "front/sim_bus.h"
#include "testutil.h"

typedef struct fixture {
    bf_flash b; /* root: boot files, image, fake sysfs and dev, targets */
    char db[4200];
    sim_script script;
    cmboot_flash_line_config line;
    cmboot_records *records;
} fixture;

static uint8_t bootcode[40000], startelf[64 * 1024 + 17], image[256 * 1024];

static int target_for(void *user, const cmboot_board_result *board, char *path, size_t size)
{
    fixture *f = user;
    if (strcmp(board->port_path, "1-2") == 0)
        snprintf(path, size, "%s", f->b.boot); /* a directory: refused, nothing written */
    else
        snprintf(path, size, "%s/disk-%s.img", f->b.root, board->port_path);
    return CMBOOT_OK;
}

static void board_done(void *user, const cmboot_flash_job *job)
{
    fixture *f = user;
    cli_records_job(f->records, "station-7", f->b.image, job, NULL);
}

static void plug(fixture *f, const char *port, const char *serial)
{
    bf_plug_2711(f->b.bus, port, &f->script, serial, CMBOOT_STAGE_ROM, sizeof bootcode, 0);
}

static void flash_line_records_each_board(void **state)
{
    (void)state;
    fixture fx, *f = &fx;
    memset(f, 0, sizeof *f);
    bf_flash_setup(&f->b, "cli-records", BF_FILES(BF_BOOTCODE4 | BF_START4, bootcode, startelf, image, 9), 10000);
    bf_path(f->db, sizeof f->db, f->b.root, "records.db");
    bf_script_mac(&f->script);
    cmboot_ctx_config cc; /* no callbacks, default log level: as `cmboot flash` without -v */
    cmboot_ctx_config_default(&cc);
    assert_int_equal(cmboot_ctx_new(&cc, &f->b.ctx), CMBOOT_OK);
    bf_line_config(&f->line, board_done, target_for, f);
    f->line.boards = 2;
    assert_int_equal(cli_records_open("test", f->db, &f->records), CMBOOT_OK);
    plug(f, "1-1", "a0000001");
    plug(f, "1-2", "a0000002");
    cmboot_flash_line_summary sum;
    cmboot_flash_line_summary_default(&sum);
    assert_int_equal(cmboot_flash_line_run(f->b.ctx, &f->b.disc, &f->b.bcfg, &f->b.fcfg, &f->line, &sum),
                     CMBOOT_ERR_UNSAFE_TARGET);
    assert_int_equal(sum.boards, 2);
    cmboot_records_filter flt;
    cmboot_records_filter_default(&flt);
    flt.serial = "a0000001";
    cmboot_record_list *l = NULL;
    assert_int_equal(cmboot_records_query(f->records, &flt, &l), CMBOOT_OK);
    assert_int_equal(cmboot_record_list_count(l), 1);
    const cmboot_record *r = cmboot_record_list_get(l, 0);
    assert_string_equal(r->result, "ok");
    assert_string_equal(r->station, "station-7");
    assert_string_equal(r->port_path, "1-1");
    assert_string_equal(r->soc, "BCM2711");
    assert_string_equal(r->mac, "d8:3a:dd:05:ee:78");
    assert_non_null(r->image_sha256);
    assert_int_equal(strlen(r->image_sha256), 64);
    assert_int_equal(r->bytes_written, (int64_t)sizeof image);
    assert_true(r->boot_ms >= 0 && r->write_ms >= 0);
    assert_non_null(strstr(r->report_json, "\"verified\":true"));
    cmboot_record_list_free(l);
    flt.serial = "a0000002";
    assert_int_equal(cmboot_records_query(f->records, &flt, &l), CMBOOT_OK);
    assert_int_equal(cmboot_record_list_count(l), 1);
    r = cmboot_record_list_get(l, 0);
    assert_string_equal(r->result, "CMBOOT_ERR_UNSAFE_TARGET");
    assert_non_null(r->error);
    cmboot_record_list_free(l);
    /* "off": no store, and recording into none is a no-op */
    cmboot_records *none = (cmboot_records *)1;
    assert_int_equal(cli_records_open("test", "off", &none), CMBOOT_OK);
    assert_null(none);
    cmboot_records_close(f->records);
    bf_flash_teardown(&f->b);
    sim_script_free(&f->script);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(flash_line_records_each_board),
};

CMBOOT_TEST_MAIN(tests)
