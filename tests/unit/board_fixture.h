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
#endif
