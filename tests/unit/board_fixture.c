/* Test fixture: the set-up and tear-down shared by tests that run emulated boards on the in-process bus. */
#include "board_fixture.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

void bf_path(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < size);
}

void bf_boot_dir(const char *dir, unsigned files, uint8_t *bootcode, size_t bootcode_len, uint8_t *start,
                 size_t start_len)
{
    test_fill_pattern(bootcode, bootcode_len, 1);
    test_fill_pattern(start, start_len, 2);
    static const struct {
        unsigned flag;
        const char *name;
        bool start;
    } each[] = {{BF_BOOTCODE, "bootcode.bin", false},
                {BF_BOOTCODE4, "bootcode4.bin", false},
                {BF_BOOTCODE5, "bootcode5.bin", false},
                {BF_START, "start.elf", true},
                {BF_START4, "start4.elf", true}};
    for (size_t i = 0; i < sizeof each / sizeof each[0]; i++)
        if (files & each[i].flag)
            test_write_file(dir, each[i].name, each[i].start ? start : bootcode,
                            each[i].start ? start_len : bootcode_len);
    test_write_file(dir, "config.txt", "[all]\n", 6);
    if (files & BF_FIXUP)
        test_write_file(dir, "fixup.dat", "fixup", 5);
}

void bf_image(const char *dir, const char *name, uint8_t *image, size_t len, uint32_t seed)
{
    test_fill_pattern(image, len, seed);
    test_write_file(dir, name, image, len);
}

void bf_fake_roots(const char *root, char *sys, char *dev, size_t size)
{
    bf_path(sys, size, root, "sys");
    bf_path(dev, size, root, "dev");
    test_write_file(dev, ".keep", "", 0);
    test_write_file(sys, "bus/usb/devices/.keep", "", 0);
}

void bf_script_mac(sim_script *s)
{
    sim_script_init(s);
    sim_script_add_meta(s, "MAC_ADDR", "d8:3a:dd:05:ee:78");
    sim_script_add_get(s, "config.txt", true);
    sim_script_add_done(s);
}

void bf_plug_2711(sim_bus *bus, const char *port, const sim_script *script, const char *serial, cmboot_stage start,
                  size_t second_stage_size, int64_t at_ms)
{
    sim_config c;
    sim_config_default(&c, CMBOOT_SOC_BCM2711);
    c.script = script;
    c.start_stage = start;
    c.expect_second_stage_size = (int64_t)second_stage_size;
    snprintf(c.serial, sizeof c.serial, "%s", serial);
    assert_int_equal(sim_bus_plug(bus, port, &c, at_ms), CMBOOT_OK);
}

void bf_bus_new(sim_bus **bus, cmboot_discovery *disc)
{
    assert_int_equal(sim_bus_new(bus), CMBOOT_OK);
    assert_int_equal(sim_bus_discovery(*bus, disc), CMBOOT_OK);
}

static void on_log(void *user, const char *dev, cmboot_log_level level, const char *msg)
{
    (void)user;
    if (getenv("CMBOOT_TEST_VERBOSE"))
        fprintf(stderr, "[%s] %d %s\n", dev, level, msg);
}

void bf_ctx_new(cmboot_ctx **ctx, cmboot_event_fn event, void *user)
{
    cmboot_ctx_config cc;
    cmboot_ctx_config_default(&cc);
    cc.log = on_log;
    cc.event = event;
    cc.user = user;
    cc.log_level = CMBOOT_LOG_DEBUG;
    assert_int_equal(cmboot_ctx_new(&cc, ctx), CMBOOT_OK);
}

void bf_boot_config(cmboot_boot_config *bcfg, cmboot_stage_limits *limits, const char *boot_dir, int64_t wait_first_ms)
{
    cmboot_boot_config_default(bcfg);
    bcfg->boot_dir = boot_dir;
    bcfg->wait_first_ms = wait_first_ms;
    bcfg->stage_timeout_ms = 10000;
    cmboot_stage_limits_default(limits);
    limits->request_timeout_ms = 10000;
    limits->status_deadline_ms = 5000;
    bcfg->limits = limits;
}

void bf_flash_config(cmboot_flash_config *fcfg, const char *image, cmboot_target_env *env, const char *sys,
                     const char *dev)
{
    cmboot_flash_config_default(fcfg);
    fcfg->image = image;
    if (env) {
        cmboot_target_env_default(env);
        env->sys_root = sys;
        env->dev_root = dev;
        fcfg->env = env;
    }
}

void bf_line_config(cmboot_flash_line_config *line, void (*board_done)(void *user, const cmboot_flash_job *job),
                    int (*target_for)(void *user, const cmboot_board_result *board, char *path, size_t size),
                    void *user)
{
    cmboot_flash_line_config_default(line);
    line->board_done = board_done;
    line->target_for = target_for;
    line->user = user;
}

void bf_teardown(sim_bus *bus, cmboot_discovery *disc, cmboot_ctx *ctx, char *root)
{
    if (disc && disc->ops)
        disc->ops->destroy(disc->self);
    if (bus)
        sim_bus_free(bus);
    if (ctx)
        cmboot_ctx_free(ctx);
    if (root) {
        test_rmtree(root);
        free(root);
    }
}

void bf_flash_setup(bf_flash *b, const char *tag, bf_files files, int64_t wait_first_ms)
{
    b->root = test_tmpdir(tag);
    bf_path(b->boot, sizeof b->boot, b->root, "boot");
    bf_path(b->image, sizeof b->image, b->root, "image.bin");
    bf_boot_dir(b->boot, files.boot, files.bootcode, files.bootcode_len, files.start, files.start_len);
    bf_image(b->root, "image.bin", files.image, files.image_len, files.image_seed);
    bf_fake_roots(b->root, b->sys, b->dev, sizeof b->sys);
    bf_bus_new(&b->bus, &b->disc);
    bf_boot_config(&b->bcfg, &b->limits, b->boot, wait_first_ms);
    bf_flash_config(&b->fcfg, b->image, &b->env, b->sys, b->dev);
}

void bf_flash_teardown(bf_flash *b)
{
    bf_teardown(b->bus, &b->disc, b->ctx, b->root);
}
