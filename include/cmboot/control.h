/* Board control: power and boot mode of a board through GPIO lines, a hub's port power or hook commands. */
#ifndef CMBOOT_CONTROL_H
#define CMBOOT_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/clock.h"
#include "cmboot/export.h"
#include "cmboot/session.h"
#include "cmboot/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cmboot_boot_mode {
    CMBOOT_BOOT_MODE_NORMAL = 0, /* the board boots from its own storage */
    CMBOOT_BOOT_MODE_USB = 1     /* the board's boot ROM waits for rpiboot (nRPIBOOT asserted) */
} cmboot_boot_mode;

/* What to drive; docs/board-control.md has the wiring. At most one way to switch power (power_gpio,
 * reset_gpio, power_hub, power_cmd) and one for the boot mode (boot_gpio, boot_mode_cmd); NULL = not used.
 * GPIO lines: "CHIP:LINE[=high|low]", CHIP = gpiochipN, a /dev path or a chip label, LINE = an offset or a line
 * name, the level that asserts the signal after '=' (defaults: boot low, as nRPIBOOT; power high; reset low, as
 * RUN/GLOBAL_EN). Hub: "HUBPATH:PORT" ("1-1.2:3"), a hub with per-port power switching. Hooks: a command line
 * whose "{on|off}" / "{usb|normal}" word (or "{}") becomes the action, appended when there is none. */
typedef struct cmboot_control_config {
    size_t struct_size;        /* set by cmboot_control_config_default() */
    cmboot_ctx *ctx;           /* logs and CMBOOT_EV_CONTROL events; NULL = silent */
    const char *device_id;     /* tags logs and events (the board's port path), NULL = "" */
    const char *boot_gpio;     /* nRPIBOOT: asserted while the board must boot from USB */
    const char *power_gpio;    /* asserted = power on */
    const char *reset_gpio;    /* RUN / GLOBAL_EN: asserted = held off; a cycle pulses it */
    const char *power_hub;     /* "HUBPATH:PORT" */
    const char *power_cmd;     /* "CMD ... {on|off}" */
    const char *boot_mode_cmd; /* "CMD ... {usb|normal}" */
    bool hook_shell;           /* run hooks with /bin/sh -c (default: split on blanks, simple quotes, no shell) */
    unsigned hook_timeout_ms;  /* a hook running longer is killed (default 30000) */
    const char *consumer;      /* GPIO consumer label (default "cmboot") */
    const char *sys_root;      /* NULL = /sys (finding the hub) */
    const char *dev_root;      /* NULL = /dev (the hub's usbfs node) */
    const cmboot_transport *hub_transport; /* the hub already open (tests, own USB stack); NULL = open power_hub.
                                            * Used, not closed, by the control object. */
    const cmboot_clock *clock;             /* waits and step times; NULL = system clock */
} cmboot_control_config;

/* Defaults into the caller's struct of struct_size bytes (session.h says how struct_size works). */
CMBOOT_API int cmboot_control_config_init(cmboot_control_config *cfg, size_t struct_size);
static inline void cmboot_control_config_default(cmboot_control_config *cfg)
{
    (void)cmboot_control_config_init(cfg, sizeof *cfg);
}

typedef struct cmboot_control cmboot_control;

/* One thing the control object did, for reports: library-allocated, members only appended (docs/abi.md). */
typedef struct cmboot_control_step {
    char name[32];    /* "power-on", "power-off", "boot-mode-usb", "boot-mode-normal", "reset", "wait", "release" */
    char detail[160]; /* what was driven: "gpiochip0:6=high", "hub 1-1.2 port 3", "relay.sh on" */
    int64_t start_ms; /* on the config's clock */
    int64_t duration_ms;
    int result; /* cmboot_error */
} cmboot_control_step;

/* Checks the config (spec syntax, at most one way per function) and copies it; opens nothing yet: lines, the hub
 * and hooks are taken when an action needs them. CMBOOT_ERR_INVALID_ARG for a bad spec or two ways to do one
 * thing (logged with the reason), _UNSUPPORTED for a bad struct_size. */
CMBOOT_API int cmboot_control_new(const cmboot_control_config *cfg, cmboot_control **out);
/* Whether the config can switch power / the boot mode (otherwise those calls return CMBOOT_ERR_UNSUPPORTED). */
CMBOOT_API bool cmboot_control_can_power(const cmboot_control *c);
CMBOOT_API bool cmboot_control_can_boot_mode(const cmboot_control *c);
/* Power on or off (with reset_gpio: off = held in reset). Errors: CMBOOT_ERR_NOT_FOUND (no such chip, line, hub
 * or port, or hook command), _BUSY (line held by someone else), _ACCESS, _UNSUPPORTED (hub without per-port
 * power switching), _TIMEOUT (hook killed), _IO (hook failed, transfer failed). */
CMBOOT_API int cmboot_control_power(cmboot_control *c, bool on);
/* Drives the boot mode; a GPIO line stays requested while in USB mode (released by _normal, _release, _free). */
CMBOOT_API int cmboot_control_boot_mode(cmboot_control *c, cmboot_boot_mode mode);
/* Power off, off_ms on the clock (a cancellable wait), power on; with reset_gpio a reset pulse of off_ms. */
CMBOOT_API int cmboot_control_power_cycle(cmboot_control *c, unsigned off_ms);
/* Waits ms (0 = until cancelled) and returns CMBOOT_OK, or CMBOOT_ERR_CANCELLED as soon as the control object
 * or its context is cancelled. For holding a line while a program runs. */
CMBOOT_API int cmboot_control_hold(cmboot_control *c, unsigned ms);
/* Thread-safe: a wait or hook in progress and every later one end with CMBOOT_ERR_CANCELLED (a hook's child is
 * killed). Release still works afterwards. */
CMBOOT_API void cmboot_control_cancel(cmboot_control *c);
/* Lets go of everything: the boot mode goes back to normal (a boot line this object drove is deasserted before
 * its release; the boot-mode hook runs with "normal" if this object set USB mode, even after a cancel), every line
 * and the hub are released. Power stays as it is. Returns the first error; does everything anyway. Also when cancelled.
 */
CMBOOT_API int cmboot_control_release(cmboot_control *c);
/* Releases the line requests and the hub without driving anything (the kernel leaves most lines at their last
 * level); call cmboot_control_release() first to leave the board in normal mode. NULL is fine. */
CMBOOT_API void cmboot_control_free(cmboot_control *c);

/* The steps done so far, oldest first; a step pointer is valid until the next action or _steps_clear. */
CMBOOT_API size_t cmboot_control_steps(const cmboot_control *c);
CMBOOT_API const cmboot_control_step *cmboot_control_step_at(const cmboot_control *c, size_t i);
CMBOOT_API void cmboot_control_steps_clear(cmboot_control *c);

/* Control lines per board port, from a text file (docs/board-control.md), one line per port:
 *   1-1.2  boot-gpio=gpiochip0:5=low power-gpio=gpiochip0:6
 *   1-1.3  power-hub=1-1:3 boot-mode-cmd='relay 3 {usb|normal}' hook-shell=yes hook-timeout=10
 * '#' starts a comment; values may be quoted with ' or ". Bounded: 1 MiB, 4096 bytes a line, 1024 ports. */
typedef struct cmboot_control_map cmboot_control_map;

/* Parses text of len bytes. CMBOOT_ERR_FORMAT with "line N: reason" in err (may be NULL), _TOO_LARGE past the
 * bounds, _NO_MEMORY. */
CMBOOT_API int cmboot_control_map_parse(const char *text, size_t len, cmboot_control_map **out, char *err,
                                        size_t err_size);
/* Reads and parses a file (also _NOT_FOUND, _ACCESS, _IO). */
CMBOOT_API int cmboot_control_map_load(const char *path, cmboot_control_map **out, char *err, size_t err_size);
CMBOOT_API size_t cmboot_control_map_count(const cmboot_control_map *m);
/* Port path of entry i, NULL past the end. */
CMBOOT_API const char *cmboot_control_map_port(const cmboot_control_map *m, size_t i);
/* Sets the control members of cfg (already filled by _default) from the entry of port_path; the strings belong
 * to the map. CMBOOT_ERR_NOT_FOUND when the map has no such port. */
CMBOOT_API int cmboot_control_map_config(const cmboot_control_map *m, const char *port_path,
                                         cmboot_control_config *cfg);
CMBOOT_API void cmboot_control_map_free(cmboot_control_map *m);

#ifdef __cplusplus
}
#endif
#endif
