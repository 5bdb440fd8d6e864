/* Sessions: follow boards by port path through every stage, many at once. */
#ifndef CMBOOT_SESSION_H
#define CMBOOT_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include "cmboot/device.h"
#include "cmboot/export.h"
#include "cmboot/log.h"
#include "cmboot/protocol.h"
#include "cmboot/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Threads and ownership (the contract of this header):
 *
 * - A context runs one cmboot_run() at a time; several contexts may run side by side in one process (the
 *   library has no global state). cmboot_run() blocks its caller; it starts one manager loop on that thread and
 *   one worker thread per board stage, all joined before it returns.
 * - The log and event callbacks are called from the caller's thread AND from board workers, concurrently for
 *   different boards: they must be thread-safe and should return quickly (a slow callback slows that board's
 *   transfers). Every string in a cmboot_event or log message is valid only during the call: copy what you keep.
 *   A callback may call cmboot_ctx_cancel(); it must not call cmboot_run() or cmboot_ctx_free() on the same
 *   context.
 * - cmboot_ctx_cancel() may be called from any thread at any time (not from a signal handler: use a signal
 *   thread or signalfd, as the CLI does). Cancel is permanent for the context: a cancelled context's later runs
 *   end with CMBOOT_ERR_CANCELLED at once; make a new context to start again.
 * - Everything the library returns through an out-pointer (contexts, reports, discovery objects, metadata, JSON
 *   text) is owned by the caller and released with the matching _free/destroy call or free() where the function
 *   says so;
 *   const pointers (SoC table rows, strerror texts, version string) are static and never freed.
 * - The config structs passed in are read during the call only (boot_dir and other strings must stay valid until
 *   cmboot_run returns); the library keeps no pointer to them afterwards.
 *
 * Structs the caller allocates and fills (configs, limits, tuning, vtables) start with `size_t struct_size`, so
 * they can grow without a new soname (docs/abi.md): fill one with its *_default() function (an inline wrapper
 * that passes the sizeof the caller was compiled with to the exported *_init()), or give a vtable
 * `.struct_size = sizeof(type)`. The library refuses a struct_size below the first release's size
 * (CMBOOT_ERR_INVALID_ARG) and reads only struct_size bytes: members a caller's older header did not have
 * take their defaults. A larger struct_size (a newer header) is accepted when the members this library does
 * not know are zero, CMBOOT_ERR_UNSUPPORTED otherwise.
 */
typedef struct cmboot_ctx cmboot_ctx;

typedef struct cmboot_ctx_config {
    size_t struct_size;         /* set by cmboot_ctx_config_default() */
    cmboot_log_fn log;          /* optional; see the thread rules above */
    cmboot_event_fn event;      /* optional; see the thread rules above */
    void *user;                 /* passed to both */
    cmboot_log_level log_level; /* messages above this level are not formatted at all (default ERROR) */
} cmboot_ctx_config;

/* Defaults (no callbacks, CMBOOT_LOG_ERROR) into the caller's struct of struct_size bytes, struct_size set.
 * CMBOOT_ERR_INVALID_ARG when cfg is NULL or struct_size too small. Use cmboot_ctx_config_default(). */
CMBOOT_API int cmboot_ctx_config_init(cmboot_ctx_config *cfg, size_t struct_size);
static inline void cmboot_ctx_config_default(cmboot_ctx_config *cfg)
{
    (void)cmboot_ctx_config_init(cfg, sizeof *cfg);
}

/* A context owns the callbacks, the bulk tuning and the cancel flag. Free it only when no cmboot_run() uses it.
 * cfg may be NULL (defaults); CMBOOT_ERR_INVALID_ARG / _UNSUPPORTED for a bad struct_size. */
CMBOOT_API int cmboot_ctx_new(const cmboot_ctx_config *cfg, cmboot_ctx **out);
CMBOOT_API void cmboot_ctx_free(cmboot_ctx *ctx);
/* How USB transports made through this context split bulk data (0 fields = built-in defaults:
 * 256 KiB pieces, 4 in flight). For benchmarks and slow hubs. Copied; CMBOOT_ERR_INVALID_ARG for a NULL
 * argument or a bad struct_size (the tuning is unchanged then). */
CMBOOT_API int cmboot_ctx_set_bulk_tuning(cmboot_ctx *ctx, const cmboot_bulk_tuning *tuning);
/* The context's tuning (the library's struct: struct_size is this library's), valid while ctx lives. */
CMBOOT_API const cmboot_bulk_tuning *cmboot_ctx_bulk_tuning(const cmboot_ctx *ctx);
/* Thread-safe (not async-signal-safe): asks a running cmboot_run to stop; transfers in progress are cancelled and
 * every board ends with CMBOOT_ERR_CANCELLED. Permanent for this context. */
CMBOOT_API void cmboot_ctx_cancel(cmboot_ctx *ctx);

typedef struct cmboot_boot_config {
    size_t struct_size;             /* set by cmboot_boot_config_default() */
    const char *boot_dir;           /* -d */
    bool overlay;                   /* -o */
    bool signed_boot;               /* -s */
    const char *metadata_dir;       /* -j DIR */
    bool metadata_stdout;           /* print metadata JSON when no -j DIR (like the reference) */
    int port_number;                /* -0..-98: last port of the path; -1 = any */
    const char *port_path;          /* -p BUS-P1.P2 */
    const char *serial;             /* -i */
    bool loop;                      /* -l: keep serving boards forever */
    bool wait_mass_storage;         /* follow each board until its next stage (mass storage, fastboot) appears */
    unsigned max_boards;            /* stop after this many boards finished (0 = 1 unless loop) */
    int64_t wait_first_ms;          /* give up waiting for the first board after this (0 = forever) */
    unsigned stage_timeout_ms;      /* deadline for the second stage to appear after the ROM stage (default 15000;
                                     * real boards take ~1.5-3 s) */
    unsigned next_stage_timeout_ms; /* deadline for the stage after Done (default 60000: a Linux gadget takes
                                     * 5-30 s and more on real boards) */
    bool strict_confine;            /* boot files must resolve beneath the boot directory, symlinks included */
    /* Per-transfer limits (NULL = cmboot_stage_limits_default()); a pointer, so that either struct can grow.
     * Read during the call only. */
    const cmboot_stage_limits *limits;
    /* Take a board that is in its mass-storage stage without having been booted by this run (already there at
     * start, or booted by itself) as a finished board, when it matches the selection (default off; flash lines
     * turn it on). A device taken (or reached by a board booted here) is never taken again while it stays
     * plugged in; a new device on that port after it left is a new board. The fastboot gadget is not taken. */
    bool adopt_mass_storage;
} cmboot_boot_config;

/* Defaults (any board, one board, stage_timeout_ms 15000, next_stage_timeout_ms 60000, metadata to stdout,
 * limits NULL) into the caller's struct of struct_size bytes. Use cmboot_boot_config_default(). */
CMBOOT_API int cmboot_boot_config_init(cmboot_boot_config *cfg, size_t struct_size);
static inline void cmboot_boot_config_default(cmboot_boot_config *cfg)
{
    (void)cmboot_boot_config_init(cfg, sizeof *cfg);
}

/* One board's result. Handed out by the library as a const pointer (cmboot_run_report_board,
 * cmboot_flash_job_board); callers never fill one. Plain members, appended only: a caller may copy it. */
typedef struct cmboot_board_result {
    char port_path[CMBOOT_PORT_PATH_MAX];
    char serial[CMBOOT_SERIAL_MAX];
    const cmboot_soc_info *soc;
    cmboot_stage last_stage; /* last stage seen */
    int error;               /* CMBOOT_OK or why it failed */
    int64_t started_ms;
    int64_t finished_ms;
    /* Time per stage: read it with cmboot_board_result_stage_ms(). One member per timed stage, so a stage
     * added later appends a member instead of moving the others. */
    int64_t rom_ms;
    int64_t second_ms;
} cmboot_board_result;

/* Milliseconds the board spent in a stage cmboot served (ROM, second stage); 0 for any other stage. */
CMBOOT_API int64_t cmboot_board_result_stage_ms(const cmboot_board_result *res, cmboot_stage stage);

/* The boards of a run, as many as finished: opaque, filled by cmboot_run, read through the accessors.
 * Made and freed by the caller; one thread at a time (cmboot_run writes it on its caller's thread). */
typedef struct cmboot_run_report cmboot_run_report;

/* An empty report (caller frees with cmboot_run_report_free). CMBOOT_ERR_NO_MEMORY or CMBOOT_OK. */
CMBOOT_API int cmboot_run_report_new(cmboot_run_report **out);
/* Frees the report and every board result it handed out (NULL is fine). */
CMBOOT_API void cmboot_run_report_free(cmboot_run_report *report);
/* Boards finished (ok or failed) in the last run, and how many of them failed. */
CMBOOT_API size_t cmboot_run_report_boards(const cmboot_run_report *report);
CMBOOT_API size_t cmboot_run_report_failed(const cmboot_run_report *report);
/* The index-th board in the order they finished (index < cmboot_run_report_boards), else NULL. The pointer is
 * the report's: valid until the report is freed or passed to cmboot_run again. */
CMBOOT_API const cmboot_board_result *cmboot_run_report_board(const cmboot_run_report *report, size_t index);

/* Runs boards found by `disc` until the config says stop. Returns CMBOOT_OK when every board
 * succeeded, the first board's error otherwise, CMBOOT_ERR_TIMEOUT when no board came,
 * CMBOOT_ERR_CANCELLED on cancel, CMBOOT_ERR_NOT_FOUND before any board when no SoC has boot files.
 * `disc` is used from this thread (next_event) and from board workers (open); it is not destroyed here.
 * `report` (optional, from cmboot_run_report_new) is emptied first, written by this thread only and complete when
 * the call returns; it holds every board, however many. */
CMBOOT_API int cmboot_run(cmboot_ctx *ctx, const cmboot_discovery *disc, const cmboot_boot_config *cfg,
                          cmboot_run_report *report);

/* Whether a device matches the selection of cfg (port number, port path, serial); false for a bad struct_size. */
CMBOOT_API bool cmboot_selection_matches(const cmboot_boot_config *cfg, const cmboot_device_info *dev);

/* Discovery backends. */
CMBOOT_API int cmboot_discovery_libusb_new(cmboot_ctx *ctx, cmboot_discovery *out);
/* Native Linux discovery (sysfs + netlink uevents + usbfs); roots NULL = "/sys", "/dev". */
CMBOOT_API int cmboot_discovery_sysfs_new(cmboot_ctx *ctx, const char *sys_root, const char *dev_root,
                                          cmboot_discovery *out);

#ifdef __cplusplus
}
#endif
#endif
