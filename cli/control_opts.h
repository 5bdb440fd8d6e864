/* The board-control options shared by `cmboot power`/`mode` and `cmboot flash` (one parser, one help text). */
#ifndef CMBOOT_CLI_CONTROL_OPTS_H
#define CMBOOT_CLI_CONTROL_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "cmboot/control.h"

/* getopt_long codes of the shared options (clear of every subcommand's own). */
enum {
    CLI_OPT_BOOT_GPIO = 2000,
    CLI_OPT_POWER_GPIO,
    CLI_OPT_RESET_GPIO,
    CLI_OPT_POWER_HUB,
    CLI_OPT_POWER_CMD,
    CLI_OPT_BOOT_MODE_CMD,
    CLI_OPT_HOOK_SHELL,
    CLI_OPT_HOOK_TIMEOUT,
    CLI_OPT_CONTROL_FILE,
    CLI_OPT_OFF_TIME
};

/* The struct option entries, to put in a subcommand's table. */
#define CLI_CONTROL_LONGOPTS                                                                                           \
    {"boot-gpio", required_argument, NULL, CLI_OPT_BOOT_GPIO},                                                         \
        {"power-gpio", required_argument, NULL, CLI_OPT_POWER_GPIO},                                                   \
        {"reset-gpio", required_argument, NULL, CLI_OPT_RESET_GPIO},                                                   \
        {"power-hub", required_argument, NULL, CLI_OPT_POWER_HUB},                                                     \
        {"power-cmd", required_argument, NULL, CLI_OPT_POWER_CMD},                                                     \
        {"boot-mode-cmd", required_argument, NULL, CLI_OPT_BOOT_MODE_CMD},                                             \
        {"hook-shell", no_argument, NULL, CLI_OPT_HOOK_SHELL},                                                         \
        {"hook-timeout", required_argument, NULL, CLI_OPT_HOOK_TIMEOUT},                                               \
        {"control-file", required_argument, NULL, CLI_OPT_CONTROL_FILE},                                               \
    {                                                                                                                  \
        "off-time", required_argument, NULL, CLI_OPT_OFF_TIME                                                          \
    }

typedef struct cli_control_opts {
    cmboot_control_config cfg; /* the lines and hooks given on the command line */
    const char *file;          /* --control-file */
    int64_t hook_ms;           /* --hook-timeout */
    bool hook_shell;
    int64_t off_ms; /* --off-time: how long a power cycle keeps the board off */
    bool given;     /* any line, hub or hook option */
} cli_control_opts;

void cli_control_opts_init(cli_control_opts *o);
/* Takes getopt code c with its optarg: 1 taken, 0 not a control option, -1 bad value (said on stderr). */
int cli_control_opt(const char *prog, int c, const char *arg, cli_control_opts *o);
/* The help lines of the shared options (without --control-file, which each command explains). */
void cli_control_usage(FILE *f);
/* cfg for one board: the command line's options, or port's entry of map when map is given (the command line's
 * --hook-shell still applies). CMBOOT_ERR_NOT_FOUND when the map has no such port. */
int cli_control_config(const cli_control_opts *o, const cmboot_control_map *map, const char *port,
                       cmboot_control_config *cfg);
/* Loads --control-file, printing why on failure; returns 0 or the exit code (2 bad file, 4 unreadable). */
int cli_control_map_load(const char *prog, const char *file, cmboot_control_map **out);

#endif
