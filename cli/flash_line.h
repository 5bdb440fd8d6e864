/* `cmboot flash --boards N | --loop`: every matching board flashed at once, one report per board. */
#ifndef CMBOOT_CLI_FLASH_LINE_H
#define CMBOOT_CLI_FLASH_LINE_H

#include <stdbool.h>
#include <stdint.h>
#include "cmboot/cmboot.h"
#include "cmboot/flash.h"
#include "control_opts.h"
#include "flash_cycle.h"
#include "records_cli.h"

typedef struct flash_line_opts {
    unsigned boards;        /* 0 with loop */
    bool loop;              /* until SIGINT/SIGTERM */
    const char *report_dir; /* one JSON report per board, or NULL */
    const char *log_dir;    /* one log file per board, or NULL */
    bool quiet;             /* only each board's result and the summary */
    bool json;
    int verbosity;
    const char *discovery;
    int64_t pair_timeout_ms;
    /* Board control per port (--control-file, checked already), NULL = none; with it control_opts and cycle
     * (expect-normal, its timeout, off time, sys root: a template for every port). */
    const cmboot_control_map *control_map;
    const cli_control_opts *control_opts;
    const flash_cycle *cycle;
    /* Records (issue 15): every finished board attempt goes into records (NULL = off) as station's. */
    cmboot_records *records;
    const char *station;
    const char *image; /* recorded for a board that failed before its report */
    const char *http;  /* --http ADDR:PORT: the status page (docs/status-page.md), NULL = none */
} flash_line_opts;

/* Runs the line and returns the exit code: 0 every board finished flashed (and verified), none cut short;
 * 1 / 5 / 6 a board failed (booting / writing or verifying / target refused); 130 a board was interrupted, or
 * the boards asked for did not all come before SIGINT; 3 no board came before --timeout. */
int flash_line_main(const cmboot_flash_config *fcfg, const cmboot_boot_config *bcfg, const flash_line_opts *o);

#endif
