/* Growable structs (docs/abi.md): struct_size checked, read only that far, newer members defaulted. */
#include "testutil.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cmboot/cmboot.h"
#include "cmboot/doctor.h"
#include "cmboot/flash.h"
#include "core/abi.h"
#include "flash/flash_internal.h"

static void abi_struct_size_too_small_is_refused(void **state)
{
    (void)state;
    cmboot_ctx_config cc;
    cmboot_ctx_config_default(&cc);
    assert_int_equal(cc.struct_size, sizeof cc);
    cmboot_ctx *ctx = NULL;
    cc.struct_size = 0;
    assert_int_equal(cmboot_ctx_new(&cc, &ctx), CMBOOT_ERR_INVALID_ARG);
    cc.struct_size = offsetof(cmboot_ctx_config, log_level); /* without its last member */
    assert_int_equal(cmboot_ctx_new(&cc, &ctx), CMBOOT_ERR_INVALID_ARG);
    assert_null(ctx);
    cc.struct_size = sizeof cc;
    assert_int_equal(cmboot_ctx_new(&cc, &ctx), CMBOOT_OK);

    cmboot_bulk_tuning bt; /* never filled: struct_size 0 */
    memset(&bt, 0, sizeof bt);
    bt.piece_size = 4096;
    assert_int_equal(cmboot_ctx_set_bulk_tuning(ctx, &bt), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(cmboot_ctx_bulk_tuning(ctx)->piece_size, 0); /* unchanged */
    cmboot_bulk_tuning_default(&bt);
    bt.piece_size = 4096;
    assert_int_equal(cmboot_ctx_set_bulk_tuning(ctx, &bt), CMBOOT_OK);
    assert_int_equal(cmboot_ctx_bulk_tuning(ctx)->piece_size, 4096);
    cmboot_ctx_free(ctx);

    cmboot_boot_config bc;
    cmboot_boot_config_default(&bc);
    cmboot_device_info dev = {.stage = CMBOOT_STAGE_ROM, .port_path = "1-1"};
    assert_true(cmboot_selection_matches(&bc, &dev));
    bc.struct_size = offsetof(cmboot_boot_config, limits);
    assert_false(cmboot_selection_matches(&bc, &dev));

    cmboot_files_config fc;
    cmboot_files_config_default(&fc);
    fc.struct_size = 0;
    cmboot_files *files = NULL;
    assert_int_equal(cmboot_files_new(&fc, &files), CMBOOT_ERR_INVALID_ARG);

    cmboot_doctor_config dc;
    cmboot_doctor_config_default(&dc);
    dc.struct_size = sizeof dc / 2;
    cmboot_doctor_report *rep = NULL;
    assert_int_equal(cmboot_doctor_report_new(&rep), CMBOOT_OK);
    assert_int_equal(cmboot_doctor_run(&dc, rep), CMBOOT_ERR_INVALID_ARG);
    cmboot_doctor_report_free(rep);

    cmboot_target_env env = {.sys_root = "/nonexistent"}; /* struct_size 0 */
    char reason[128];
    assert_int_equal(cmboot_target_check(&env, "/nonexistent/x.img", 1, 0, reason, sizeof reason),
                     CMBOOT_ERR_INVALID_ARG);

    cmboot_flash_config fl;
    cmboot_flash_config_default(&fl);
    fl.image = "/nonexistent/image";
    fl.target = "/nonexistent/target.img";
    cmboot_flash_result res;
    memset(&res, 0, sizeof res); /* not made with cmboot_flash_result_default */
    assert_int_equal(cmboot_flash_write(&fl, &res), CMBOOT_ERR_INVALID_ARG);
    assert_int_equal(res.struct_size, 0); /* nothing written into it */

    cmboot_stage_limits lim;
    cmboot_stage_limits_default(&lim);
    lim.struct_size = sizeof(size_t);
    cmboot_file_provider p = {sizeof p, NULL, NULL};
    static const cmboot_transport_ops ops = {.struct_size = sizeof ops};
    cmboot_transport t = {&ops, NULL};
    assert_int_equal(cmboot_fileserver_run(&t, &p, &lim, NULL, NULL), CMBOOT_ERR_INVALID_ARG);
    static const cmboot_transport_ops old_ops = {.struct_size = 0};
    cmboot_transport old = {&old_ops, NULL};
    assert_int_equal(cmboot_wire_write(&old, "x", 1, 10), CMBOOT_ERR_INVALID_ARG);
}

/* A caller built against a newer header hands a bigger struct: fine while the members this library does not
 * know are zero, refused when one is set (the library would silently ignore it). */
static void abi_newer_caller_struct(void **state)
{
    (void)state;
    struct newer {
        cmboot_ctx_config base;
        uint64_t added_later;
    } n;
    memset(&n, 0, sizeof n);
    assert_int_equal(cmboot_ctx_config_init(&n.base, sizeof n), CMBOOT_OK);
    assert_int_equal(n.base.struct_size, sizeof n);
    assert_int_equal(n.added_later, 0); /* zero past what the library knows */
    cmboot_ctx *ctx = NULL;
    assert_int_equal(cmboot_ctx_new(&n.base, &ctx), CMBOOT_OK);
    cmboot_ctx_free(ctx);
    n.added_later = 1;
    assert_int_equal(cmboot_ctx_new(&n.base, &ctx), CMBOOT_ERR_UNSUPPORTED);
}

/* The *_init functions write only the caller's size and refuse one below the first release's. */
static void abi_init_writes_only_struct_size(void **state)
{
    (void)state;
    unsigned char buf[sizeof(cmboot_boot_config) + 16];
    memset(buf, 0xAA, sizeof buf);
    assert_int_equal(cmboot_boot_config_init((cmboot_boot_config *)buf, 4), CMBOOT_ERR_INVALID_ARG);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAA);
    assert_int_equal(cmboot_boot_config_init((cmboot_boot_config *)buf, sizeof(cmboot_boot_config)), CMBOOT_OK);
    for (size_t i = sizeof(cmboot_boot_config); i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAA);
    cmboot_boot_config c;
    memcpy(&c, buf, sizeof c);
    assert_int_equal(c.port_number, -1);
    assert_int_equal(c.stage_timeout_ms, 15000);
    assert_null(c.limits);
}

/* A caller compiled against an older, smaller struct: simulated by pretending every member from `first_new`
 * on came in a later release (the minimum the library accepts is then the caller's size). The library reads
 * the caller's members and gives the others their defaults, never the bytes after the caller's struct. */
static void abi_older_caller_gets_defaults(void **state)
{
    (void)state;
    unsigned char buf[sizeof(cmboot_boot_config)];
    memset(buf, 0xAA, sizeof buf); /* beyond the old struct: whatever the caller's memory holds */
    cmboot_boot_config *old = (cmboot_boot_config *)buf;
    size_t old_size = offsetof(cmboot_boot_config, stage_timeout_ms);
    assert_int_equal(cmb_struct_init(old, old_size, &(cmboot_boot_config){0}, sizeof(cmboot_boot_config), old_size),
                     CMBOOT_OK);
    assert_int_equal(buf[old_size], 0xAA); /* init wrote nothing past the old size */
    old->boot_dir = "/srv/boot";
    old->max_boards = 7;
    cmboot_boot_config full;
    cmboot_boot_config_default(&full);
    assert_int_equal(cmb_struct_load(&full, sizeof full, old, old_size), CMBOOT_OK);
    assert_int_equal(full.struct_size, sizeof full);
    assert_string_equal(full.boot_dir, "/srv/boot");
    assert_int_equal(full.max_boards, 7);
    assert_int_equal(full.stage_timeout_ms, 15000); /* newer members: defaults */
    assert_int_equal(full.next_stage_timeout_ms, 60000);
    assert_false(full.strict_confine);
    assert_null(full.limits);
    /* below the minimum: refused */
    assert_int_equal(cmb_struct_load(&full, sizeof full, old, old_size + 1), CMBOOT_ERR_INVALID_ARG);

    /* A vtable from an older caller: hooks it did not have are NULL, not its next bytes. */
    unsigned char hb[sizeof(cmboot_stage_hooks)];
    memset(hb, 0xAA, sizeof hb);
    cmboot_stage_hooks *oh = (cmboot_stage_hooks *)hb;
    oh->struct_size = offsetof(cmboot_stage_hooks, log);
    oh->file = NULL;
    oh->progress = NULL;
    oh->metadata = NULL;
    cmboot_stage_hooks h = {.struct_size = sizeof h};
    assert_int_equal(cmb_struct_load(&h, sizeof h, oh, oh->struct_size), CMBOOT_OK);
    assert_null(h.log);
    assert_null(h.user);

    /* A flash result of an older size: the phases it has no member for read as -1. */
    cmboot_flash_result r;
    cmboot_flash_result_default(&r);
    r.write_ms = 12;
    r.verify_ms = 34;
    assert_int_equal(cmboot_flash_result_phase_ms(&r, CMBOOT_FLASH_PHASE_WRITE), 12);
    assert_int_equal(cmboot_flash_result_phase_ms(&r, CMBOOT_FLASH_PHASE_VERIFY), 34);
    assert_int_equal(cmboot_flash_result_phase_ms(&r, CMBOOT_FLASH_PHASES), -1);
    r.struct_size = offsetof(cmboot_flash_result, verify_ms);
    assert_int_equal(cmboot_flash_result_phase_ms(&r, CMBOOT_FLASH_PHASE_WRITE), 12);
    assert_int_equal(cmboot_flash_result_phase_ms(&r, CMBOOT_FLASH_PHASE_VERIFY), -1);
}

/* A flash config from a caller built before lun / target_kind: any disk (lun -1, kind NULL), not its next
 * bytes; a bad choice from a newer caller is refused. */
static void abi_flash_config_without_disk_choice(void **state)
{
    (void)state;
    unsigned char buf[sizeof(cmboot_flash_config)];
    memset(buf, 0xAA, sizeof buf);
    cmboot_flash_config *old = (cmboot_flash_config *)buf;
    size_t old_size = offsetof(cmboot_flash_config, lun);
    assert_int_equal(cmboot_flash_config_init(old, old_size), CMBOOT_OK);
    assert_int_equal(buf[old_size], 0xAA);
    old->image = "/srv/x.img";
    cmboot_flash_config full;
    cmboot_target_env env;
    assert_int_equal(cmb_flash_config_load(old, &full, &env), CMBOOT_OK);
    assert_int_equal(full.lun, -1);
    assert_null(full.target_kind);
    assert_string_equal(full.image, "/srv/x.img");
    cmboot_flash_config fl;
    cmboot_flash_config_default(&fl);
    assert_int_equal(fl.lun, -1);
    fl.target_kind = "floppy";
    assert_int_equal(cmb_flash_config_load(&fl, &full, &env), CMBOOT_ERR_INVALID_ARG);
    fl.target_kind = "nvme";
    fl.lun = -2;
    assert_int_equal(cmb_flash_config_load(&fl, &full, &env), CMBOOT_ERR_INVALID_ARG);
    fl.lun = 3;
    assert_int_equal(cmb_flash_config_load(&fl, &full, &env), CMBOOT_OK);
    assert_int_equal(full.lun, 3);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(abi_struct_size_too_small_is_refused), cmocka_unit_test(abi_newer_caller_struct),
    cmocka_unit_test(abi_init_writes_only_struct_size),     cmocka_unit_test(abi_older_caller_gets_defaults),
    cmocka_unit_test(abi_flash_config_without_disk_choice),
};

CMBOOT_TEST_MAIN(tests)
