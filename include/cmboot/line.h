/* Flash lines: one call flashes every matching board concurrently, each on its own worker. */
#ifndef CMBOOT_LINE_H
#define CMBOOT_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/export.h"
#include "cmboot/flash.h"
#include "cmboot/session.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Threads and ownership (on top of session.h's rules):
 *
 * - cmboot_flash_line_run() blocks its caller. It runs the session (cmboot_run's manager loop) on the caller's
 *   thread; every board the session finishes (booted to its mass-storage stage, taken as already there, or
 *   failed) gets its own worker thread: pair its disk by port path -> check -> write -> verify -> board_done.
 *   Every worker is joined before the call returns.
 * - board_done is called once per board, on that board's worker thread, concurrently for different boards:
 *   it must be thread-safe. The job is valid during the call only (the line frees it afterwards); read it
 *   through the cmboot_flash_job_* accessors (cmboot_flash_job_report_json for its report). It may call
 *   cmboot_ctx_cancel(); it must not free the context or run another line on it.
 * - target_for, when set, is called on the board's worker thread before pairing, with the same rules.
 * - cmboot_ctx_cancel() from any thread stops the session and reaches every board's pairing and write
 *   (CMBOOT_ERR_CANCELLED, counted as interrupted); boards already done keep their result.
 * - A failed board never stops the others. The image is checked once before any board is booted (an unusable
 *   image or bmap fails the call at once, nothing booted); each board opens its own decoder; the bmap is
 *   loaded once and read by every board.
 * - The configs are read during the call only; their strings must stay valid until it returns.
 */
typedef struct cmboot_flash_line_config {
    size_t struct_size; /* set by cmboot_flash_line_config_default() (docs/abi.md) */
    /* Boards to finish (ok or not), then return; 0 = serve boards until cmboot_ctx_cancel (a port whose board
     * finished takes the next board plugged into it). */
    unsigned boards;
    int64_t pair_timeout_ms; /* deadline for a board's disk after its mass-storage stage; 0 = 60000 */
    /* Take boards already in their mass-storage stage (cmboot_boot_config.adopt_mass_storage); default on. */
    bool adopt_mass_storage;
    void (*board_done)(void *user, const cmboot_flash_job *job); /* optional; see the rules above */
    /* Optional: where to write this board's image. Fill path and return CMBOOT_OK; "" = pair its disk by port
     * path (the default). A path given is written like cmboot_flash_config.target (no port-path check); a
     * negative return fails the board at step PAIR. */
    int (*target_for)(void *user, const cmboot_board_result *board, char *path, size_t path_size);
    void *user; /* passed to both */
} cmboot_flash_line_config;

/* Defaults (boards 0, pair_timeout_ms 0, adopt on, no callbacks) into the caller's struct of struct_size
 * bytes. Use cmboot_flash_line_config_default(). */
CMBOOT_API int cmboot_flash_line_config_init(cmboot_flash_line_config *cfg, size_t struct_size);
static inline void cmboot_flash_line_config_default(cmboot_flash_line_config *cfg)
{
    (void)cmboot_flash_line_config_init(cfg, sizeof *cfg);
}

/* What a line did; the library writes only struct_size bytes. */
typedef struct cmboot_flash_line_summary {
    size_t struct_size;   /* set by cmboot_flash_line_summary_default() */
    unsigned boards;      /* finished: ok + failed + interrupted */
    unsigned ok;          /* written, and verified when asked */
    unsigned failed;      /* failed at some step (cmboot_flash_job_step) */
    unsigned interrupted; /* cut short by cmboot_ctx_cancel (booting, pairing or writing) */
} cmboot_flash_line_summary;

/* All zero into the caller's struct of struct_size bytes. Use cmboot_flash_line_summary_default(). */
CMBOOT_API int cmboot_flash_line_summary_init(cmboot_flash_line_summary *sum, size_t struct_size);
static inline void cmboot_flash_line_summary_default(cmboot_flash_line_summary *sum)
{
    (void)cmboot_flash_line_summary_init(sum, sizeof *sum);
}

/* Runs a flash line: boots every board disc finds that matches boot's selection (boot files, timeouts,
 * wait_first_ms as cmboot_run; the line follows each board to mass storage, never prints metadata, and serves
 * line->boards boards or until cancelled), and flashes each one with flash's image (flash->target must be
 * NULL: use target_for). Returns CMBOOT_OK when every board finished ok; CMBOOT_ERR_CANCELLED when cancelled;
 * else the first failed board's error (or the session's: CMBOOT_ERR_TIMEOUT when no board came,
 * CMBOOT_ERR_NOT_FOUND without boot files); the image's or bmap's error before any board. summary (may be NULL)
 * is filled in every case. */
CMBOOT_API int cmboot_flash_line_run(cmboot_ctx *ctx, const cmboot_discovery *disc, const cmboot_boot_config *boot,
                                     const cmboot_flash_config *flash, const cmboot_flash_line_config *line,
                                     cmboot_flash_line_summary *summary);

#ifdef __cplusplus
}
#endif
#endif
