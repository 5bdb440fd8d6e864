/* The board-control options shared by `cmboot power`/`mode` and `cmboot flash`. */
#include "control_opts.h"

#include <string.h>

#include "cmboot/error.h"
#include "cli_util.h"
#include "commands.h"

void cli_control_opts_init(cli_control_opts *o)
{
    memset(o, 0, sizeof *o);
    cmboot_control_config_default(&o->cfg);
    o->hook_ms = 30000;
    o->off_ms = 1000;
}

int cli_control_opt(const char *prog, int c, const char *arg, cli_control_opts *o)
{
    switch (c) {
    case CLI_OPT_BOOT_GPIO: o->cfg.boot_gpio = arg; break;
    case CLI_OPT_POWER_GPIO: o->cfg.power_gpio = arg; break;
    case CLI_OPT_RESET_GPIO: o->cfg.reset_gpio = arg; break;
    case CLI_OPT_POWER_HUB: o->cfg.power_hub = arg; break;
    case CLI_OPT_POWER_CMD: o->cfg.power_cmd = arg; break;
    case CLI_OPT_BOOT_MODE_CMD: o->cfg.boot_mode_cmd = arg; break;
    case CLI_OPT_HOOK_SHELL: o->hook_shell = true; return 1;
    case CLI_OPT_HOOK_TIMEOUT:
        return cli_opt_seconds(prog, "--hook-timeout", arg, 1, 3600000, &o->hook_ms) < 0 ? -1 : 1;
    case CLI_OPT_CONTROL_FILE: o->file = arg; return 1;
    case CLI_OPT_OFF_TIME: return cli_opt_seconds(prog, "--off-time", arg, 0, 600000, &o->off_ms) < 0 ? -1 : 1;
    default: return 0;
    }
    o->given = true;
    return 1;
}

void cli_control_usage(FILE *f)
{
    fprintf(f, "      --boot-gpio CHIP:LINE[=high|low]   nRPIBOOT line (asserted low by default)\n"
               "      --power-gpio CHIP:LINE[=high|low]  power switch line (asserted = on; high by default)\n"
               "      --reset-gpio CHIP:LINE[=high|low]  RUN / GLOBAL_EN line (asserted = held off; low by default)\n"
               "      --power-hub HUBPATH:PORT           a hub port with per-port power switching (1-1.2:3)\n"
               "      --power-cmd 'CMD {on|off}'         hook command for power\n"
               "      --boot-mode-cmd 'CMD {usb|normal}' hook command for the boot mode\n"
               "      --hook-shell                       run hooks with /bin/sh -c (default: no shell)\n"
               "      --hook-timeout SECONDS             kill a hook running longer (default 30)\n"
               "      --off-time SECONDS                 power cycle: how long the board stays off (default 1)\n");
}

int cli_control_config(const cli_control_opts *o, const cmboot_control_map *map, const char *port,
                       cmboot_control_config *cfg)
{
    *cfg = o->cfg;
    if (map) {
        cmboot_control_config_default(cfg);
        if (cmboot_control_map_config(map, port, cfg) != CMBOOT_OK)
            return CMBOOT_ERR_NOT_FOUND;
    } else {
        cfg->hook_timeout_ms = (unsigned)o->hook_ms;
    }
    cfg->hook_shell = cfg->hook_shell || o->hook_shell;
    return CMBOOT_OK;
}

int cli_control_map_load(const char *prog, const char *file, cmboot_control_map **out)
{
    char err[512] = "";
    int rc = cmboot_control_map_load(file, out, err, sizeof err);
    if (rc == CMBOOT_OK)
        return 0;
    fprintf(stderr, "%s: %s: %s\n", prog, file, err[0] ? err : cmboot_strerror(rc));
    return rc == CMBOOT_ERR_FORMAT || rc == CMBOOT_ERR_TOO_LARGE ? EXIT_USAGE : EXIT_HOST;
}
