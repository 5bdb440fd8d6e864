/* Shared by `cmboot write` and `cmboot flash`: progress drawing, the write step and the report. */
#ifndef CMBOOT_CLI_CMD_WRITE_H
#define CMBOOT_CLI_CMD_WRITE_H

#include <stdbool.h>
#include "cmboot/cmboot.h"
#include "cmboot/flash.h"
#include "output.h"

typedef struct flash_ui {
    cli_output out; /* json = JSON lines (asked for, or stderr is not a terminal) */
    bool bar_drawn;
} flash_ui;

void flash_ui_init(flash_ui *ui, bool json);
/* Event callback for cmboot_flash_config (user = flash_ui): bar on a TTY, JSON lines otherwise. */
void flash_ui_event(void *user, const cmboot_event *ev);
/* Target roots from CMBOOT_PROC_ROOT, CMBOOT_SYS_ROOT, CMBOOT_DEV_ROOT (tests, chroots). */
void flash_env_from_environment(cmboot_target_env *env);
/* Exit code of a write that ended with rc (touched: a write reached the target). */
int flash_exit_code(int rc, bool touched);
/* Prints the report (stdout, and report_path when given; report_text NULL = none) and, on a terminal, the
 * summary of the write of res to target; returns the exit code. */
int flash_print_report(flash_ui *ui, int rc, const cmboot_flash_result *res, const char *report_text,
                       const char *target, const char *report_path);

#endif
