/* `cmboot flash` with board control: USB boot mode and a power cycle before, normal mode and a power cycle after,
 * then the wait for the board's own USB device; every step goes into the board's report. */
#ifndef CMBOOT_CLI_FLASH_CYCLE_H
#define CMBOOT_CLI_FLASH_CYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/control.h"

typedef struct flash_cycle {
    cmboot_control *ctl;       /* owned */
    unsigned off_ms;           /* how long a power cycle keeps the board off */
    bool expect;               /* --expect-normal given */
    uint16_t vid, pid;         /* of the board's device in normal mode */
    int64_t normal_timeout_ms; /* deadline of the wait for it */
    const char *sys_root;      /* NULL = /sys */
    int64_t t0;                /* step start times in the report are ms since this */
    /* the normal-mode check, once it ran */
    bool checked;
    int normal_rc;
    char normal_detail[192];
    int64_t normal_start_ms, normal_ms;
    size_t normal_after; /* the control steps done before it */
} flash_cycle;

/* "VID:PID", four hex digits each (0525:a4aa). -1 when not. */
int flash_cycle_parse_usb_id(const char *s, uint16_t *vid, uint16_t *pid);
/* Before the boot: USB boot mode, then a power cycle (the board comes up in its boot ROM). */
int flash_cycle_start(flash_cycle *fc);
/* After a good flash: normal boot mode, a power cycle, the wait for the normal-mode device (with expect) on
 * port_path when known and with serial when the device has one; then the lines are let go. */
int flash_cycle_finish(flash_cycle *fc, const char *port_path, const char *serial);
/* After a failure or a signal: boot mode back to normal, lines let go (power stays as it is). */
int flash_cycle_release(flash_cycle *fc);
/* One look in <sys_root>/bus/usb/devices for a device vid:pid at port_path (NULL = any port) whose serial is
 * serial when serial is not NULL or "" (at a known port a device without a serial is taken too); its name into
 * found. 1 found, 0 not (yet). */
int flash_cycle_find_device(const char *sys_root, uint16_t vid, uint16_t pid, const char *port_path, const char *serial,
                            char *found, size_t found_size);
/* report_text (a JSON object; NULL = a new object with result and step of the failure) with a "control" array:
 * every step (name, detail, start_ms, duration_ms, result) and the normal-mode check. Caller frees. */
char *flash_cycle_report(const flash_cycle *fc, const char *report_text);
/* Whether cfg makes a control object that can switch both power and the boot mode; 0 or exit code 2 (said
 * on stderr, prog first). */
int flash_cycle_check(const char *prog, const cmboot_control_config *cfg);
/* The exit code for a control step that failed (as `cmboot power`/`mode`). */
int flash_cycle_exit(int rc);

#endif
