/* Test fixture: the set-up and tear-down shared by tests that run emulated boards on the in-process bus. */
#ifndef CMBOOT_BOARD_FIXTURE_H
#define CMBOOT_BOARD_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "cmboot/cmboot.h"
#include "cmboot/flash.h"
#include "cmboot/line.h"
#include "front/sim_bus.h"

/* Which boot files bf_boot_dir writes besides config.txt ("[all]\n"). */
enum {
    BF_BOOTCODE = 1 << 0,  /* bootcode.bin: the second stage bytes */
    BF_BOOTCODE4 = 1 << 1, /* bootcode4.bin: the same bytes */
    BF_BOOTCODE5 = 1 << 2, /* bootcode5.bin: the same bytes */
    BF_START = 1 << 3,     /* start.elf: the start bytes */
    BF_START4 = 1 << 4,    /* start4.elf: the same bytes */
    BF_FIXUP = 1 << 5,     /* fixup.dat: "fixup" */
};

/* out = dir/name. */
void bf_path(char *out, size_t size, const char *dir, const char *name);
/* Fills bootcode (pattern seed 1) and start (seed 2), writes the files of `files` (BF_*) and config.txt to dir. */
void bf_boot_dir(const char *dir, unsigned files, uint8_t *bootcode, size_t bootcode_len, uint8_t *start,
                 size_t start_len);
/* Fills image with the pattern of seed, writes it to dir/name. */
void bf_image(const char *dir, const char *name, uint8_t *image, size_t len, uint32_t seed);
/* Empty fake roots root/sys (with bus/usb/devices) and root/dev; their paths into sys and dev (size each). */
void bf_fake_roots(const char *root, char *sys, char *dev, size_t size);
/* A script: metadata MAC_ADDR d8:3a:dd:05:ee:78, config.txt fetched, Done. */
void bf_script_mac(sim_script *s);
/* Plugs a BCM2711 board at port (after at_ms) running script from stage start, its serial and the second
 * stage size it expects set. */
void bf_plug_2711(sim_bus *bus, const char *port, const sim_script *script, const char *serial, cmboot_stage start,
                  size_t second_stage_size, int64_t at_ms);
/* A new bus and its discovery. */
void bf_bus_new(sim_bus **bus, cmboot_discovery *disc);
/* A context with debug logging to stderr under CMBOOT_TEST_VERBOSE and the event callback with user. */
void bf_ctx_new(cmboot_ctx **ctx, cmboot_event_fn event, void *user);
/* Default boot config on boot_dir with limits, with timeouts generous enough for CI under sanitizers beside
 * other tests: stage 10 s, request 10 s, ROM status 5 s, first board after wait_first_ms. */
void bf_boot_config(cmboot_boot_config *bcfg, cmboot_stage_limits *limits, const char *boot_dir, int64_t wait_first_ms);
/* Default flash config of image; with env, a target env on the fake roots sys and dev. */
void bf_flash_config(cmboot_flash_config *fcfg, const char *image, cmboot_target_env *env, const char *sys,
                     const char *dev);
/* Default line config with these callbacks. */
void bf_line_config(cmboot_flash_line_config *line, void (*board_done)(void *user, const cmboot_flash_job *job),
                    int (*target_for)(void *user, const cmboot_board_result *board, char *path, size_t size),
                    void *user);
/* Closes the discovery, the bus and the context, removes and frees root (each may be NULL). */
void bf_teardown(sim_bus *bus, cmboot_discovery *disc, cmboot_ctx *ctx, char *root);

/* What a flash test puts on disk: the boot files and the image (image.bin) with their pattern. */
typedef struct bf_files {
    unsigned boot; /* BF_* */
    uint8_t *bootcode, *start, *image;
    size_t bootcode_len, start_len, image_len;
    uint32_t image_seed;
} bf_files;
/* bf_files of the test's arrays (their sizes from sizeof). */
#define BF_FILES(boot_files, bootcode_arr, start_arr, image_arr, seed)                                                 \
    ((bf_files){.boot = (boot_files),                                                                                  \
                .bootcode = (bootcode_arr),                                                                            \
                .start = (start_arr),                                                                                  \
                .image = (image_arr),                                                                                  \
                .bootcode_len = sizeof(bootcode_arr),                                                                  \
                .start_len = sizeof(start_arr),                                                                        \
                .image_len = sizeof(image_arr),                                                                        \
                .image_seed = (seed)})

/* A board flashed on the bus: a temporary root with boot/, image.bin and the fake roots sys/ and dev/, the bus,
 * the boot config (bf_boot_config) and the flash config with a target env on the fake roots. */
typedef struct bf_flash {
    char *root;
    char boot[4096], sys[4096], dev[4096], image[4200];
    sim_bus *bus;
    cmboot_ctx *ctx; /* the caller's: bf_ctx_new or its own */
    cmboot_discovery disc;
    cmboot_boot_config bcfg;
    cmboot_stage_limits limits;
    cmboot_flash_config fcfg;
    cmboot_target_env env;
} bf_flash;
/* Fills b in a new temporary directory named by tag (b->ctx is left to the caller). */
void bf_flash_setup(bf_flash *b, const char *tag, bf_files files, int64_t wait_first_ms);
/* bf_teardown of all of b (ctx included). */
void bf_flash_teardown(bf_flash *b);
#endif
