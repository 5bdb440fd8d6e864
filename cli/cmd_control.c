/* `cmboot power on|off|cycle` and `cmboot mode usb|normal`: board control without a boot (docs/board-control.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmboot/cmboot.h"
#include "cli_util.h"
#include "commands.h"
#include "output.h"
#include "signals.h"

static void control_usage(FILE *f, const char *cmd)
{
    bool power = strcmp(cmd, "power") == 0;
    fprintf(f, power ? "usage: cmboot power on|off|cycle [OPTIONS]\n\nSwitches a board's power.\n\n"
                     : "usage: cmboot mode usb|normal [OPTIONS]\n\nSets a board's boot mode (nRPIBOOT): usb makes its "
                       "next power-on wait for rpiboot.\n\n");
    fprintf(f, "      --boot-gpio CHIP:LINE[=high|low]   nRPIBOOT line (asserted low by default)\n"
               "      --power-gpio CHIP:LINE[=high|low]  power switch line (asserted = on; high by default)\n"
               "      --reset-gpio CHIP:LINE[=high|low]  RUN / GLOBAL_EN line (asserted = held off; low by default)\n"
               "      --power-hub HUBPATH:PORT           a hub port with per-port power switching (1-1.2:3)\n"
               "      --power-cmd 'CMD {on|off}'         hook command for power\n"
               "      --boot-mode-cmd 'CMD {usb|normal}' hook command for the boot mode\n"
               "      --hook-shell                       run hooks with /bin/sh -c (default: no shell)\n"
               "      --hook-timeout SECONDS             kill a hook running longer (default 30)\n"
               "      --control-file FILE --port PATH    take the options of board port PATH from FILE\n"
               "      --off-time SECONDS                 power cycle: how long the board stays off (default 1)\n"
               "      --hold                             keep the lines until SIGINT/SIGTERM, then release them\n"
               "                                         (mode normal and power off after it)\n"
               "      --json                             each step as a JSON line on stdout\n"
               "  -v                                     more log output on stderr\n\n"
               "CHIP is gpiochipN, a /dev path or a chip label; LINE an offset or a line name. Without --hold the\n"
               "command exits after driving the lines and the kernel keeps most lines at their level (see\n"
               "docs/board-control.md). Exit 0 done, 2 bad command line, 4 no such chip/line/hub, line busy or no\n"
               "permission, 1 the action failed (hook failed or timed out, USB error), 130 interrupted.\n");
}

static int exit_for(int rc)
{
    switch (rc) {
    case CMBOOT_OK: return EXIT_OK;
    case CMBOOT_ERR_INVALID_ARG: return EXIT_USAGE;
    case CMBOOT_ERR_CANCELLED: return EXIT_CANCELLED;
    case CMBOOT_ERR_NOT_FOUND:
    case CMBOOT_ERR_ACCESS:
    case CMBOOT_ERR_BUSY:
    case CMBOOT_ERR_UNSUPPORTED:
    case CMBOOT_ERR_NO_DEVICE: return EXIT_HOST;
    default: return EXIT_FAILURE_BOARD;
    }
}

int cmd_control(int argc, char **argv)
{
    enum {
        OPT_BOOT_GPIO = 256,
        OPT_POWER_GPIO,
        OPT_RESET_GPIO,
        OPT_POWER_HUB,
        OPT_POWER_CMD,
        OPT_BOOT_MODE_CMD,
        OPT_HOOK_SHELL,
        OPT_HOOK_TIMEOUT,
        OPT_CONTROL_FILE,
        OPT_PORT,
        OPT_OFF_TIME,
        OPT_HOLD,
        OPT_JSON
    };
    static const struct option longopts[] = {
        {"boot-gpio", required_argument, NULL, OPT_BOOT_GPIO},
        {"power-gpio", required_argument, NULL, OPT_POWER_GPIO},
        {"reset-gpio", required_argument, NULL, OPT_RESET_GPIO},
        {"power-hub", required_argument, NULL, OPT_POWER_HUB},
        {"power-cmd", required_argument, NULL, OPT_POWER_CMD},
        {"boot-mode-cmd", required_argument, NULL, OPT_BOOT_MODE_CMD},
        {"hook-shell", no_argument, NULL, OPT_HOOK_SHELL},
        {"hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT},
        {"control-file", required_argument, NULL, OPT_CONTROL_FILE},
        {"port", required_argument, NULL, OPT_PORT},
        {"off-time", required_argument, NULL, OPT_OFF_TIME},
        {"hold", no_argument, NULL, OPT_HOLD},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool power = strcmp(argv[0], "power") == 0;
    static char prog_power[] = "cmboot power", prog_mode[] = "cmboot mode";
    char *prog = power ? prog_power : prog_mode;
    const char *cmd = power ? "power" : "mode";
    argv[0] = prog;
    cmboot_control_config cfg;
    cmboot_control_config_default(&cfg);
    const char *file = NULL, *port = NULL;
    int64_t off_ms = 1000, hook_ms = 30000;
    bool hold = false, json = false, hook_shell = false;
    int verbosity = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_BOOT_GPIO: cfg.boot_gpio = optarg; break;
        case OPT_POWER_GPIO: cfg.power_gpio = optarg; break;
        case OPT_RESET_GPIO: cfg.reset_gpio = optarg; break;
        case OPT_POWER_HUB: cfg.power_hub = optarg; break;
        case OPT_POWER_CMD: cfg.power_cmd = optarg; break;
        case OPT_BOOT_MODE_CMD: cfg.boot_mode_cmd = optarg; break;
        case OPT_HOOK_SHELL: hook_shell = true; break;
        case OPT_HOOK_TIMEOUT:
            if (cli_opt_seconds(prog, "--hook-timeout", optarg, 1, 3600000, &hook_ms) < 0)
                return EXIT_USAGE;
            break;
        case OPT_CONTROL_FILE: file = optarg; break;
        case OPT_PORT: port = optarg; break;
        case OPT_OFF_TIME:
            if (cli_opt_seconds(prog, "--off-time", optarg, 0, 600000, &off_ms) < 0)
                return EXIT_USAGE;
            break;
        case OPT_HOLD: hold = true; break;
        case OPT_JSON: json = true; break;
        case 'v': verbosity++; break;
        case 'h': control_usage(stdout, cmd); return EXIT_OK;
        default: return cli_usage_hint(prog, EXIT_USAGE);
        }
    }
    const char *action = optind < argc ? argv[optind] : NULL;
    static const char *const power_actions[] = {"on", "off", "cycle", NULL}, *const mode_actions[] = {"usb", "normal",
                                                                                                      NULL};
    const char *const *actions = power ? power_actions : mode_actions;
    int which = -1;
    for (int i = 0; action && actions[i]; i++)
        if (strcmp(action, actions[i]) == 0)
            which = i;
    if (which < 0) {
        if (action)
            fprintf(stderr, "%s: unknown action '%s' (%s)\n", prog, action,
                    power ? "on, off or cycle" : "usb or normal");
        else
            fprintf(stderr, "%s: which action? (%s)\n", prog, power ? "on, off or cycle" : "usb or normal");
        return cli_usage_hint(prog, EXIT_USAGE);
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind + 1]);
        return cli_usage_hint(prog, EXIT_USAGE);
    }
    if ((file != NULL) != (port != NULL)) {
        fprintf(stderr, "%s: --control-file and --port go together\n", prog);
        return cli_usage_hint(prog, EXIT_USAGE);
    }
    cmboot_control_map *map = NULL;
    if (file) {
        char err[512];
        int rc = cmboot_control_map_load(file, &map, err, sizeof err);
        if (rc != CMBOOT_OK) {
            fprintf(stderr, "%s: %s: %s\n", prog, file, err[0] ? err : cmboot_strerror(rc));
            return rc == CMBOOT_ERR_FORMAT || rc == CMBOOT_ERR_TOO_LARGE ? EXIT_USAGE : EXIT_HOST;
        }
        if (cmboot_control_map_config(map, port, &cfg) != CMBOOT_OK) {
            fprintf(stderr, "%s: %s has no line for port %s\n", prog, file, port);
            cmboot_control_map_free(map);
            return EXIT_USAGE;
        }
    } else {
        cfg.hook_timeout_ms = (unsigned)hook_ms;
    }
    cfg.hook_shell = cfg.hook_shell || hook_shell;
    cfg.device_id = port;

    cli_output out;
    cli_output_init(&out, json, verbosity);
    cmboot_ctx_config ccfg;
    cmboot_ctx_config_default(&ccfg);
    ccfg.log = cli_log_cb;
    ccfg.event = cli_event_cb;
    ccfg.user = &out;
    /* Hook output is logged at info: shown by default, it is what explains a failed relay. */
    ccfg.log_level = verbosity ? cli_log_level(verbosity) : CMBOOT_LOG_INFO;
    cmboot_ctx *ctx;
    if (cmboot_ctx_new(&ccfg, &ctx) < 0) {
        cmboot_control_map_free(map);
        return EXIT_HOST;
    }
    cli_cancel_on_signals(ctx);
    cfg.ctx = ctx;
    cmboot_control *ctl = NULL;
    int rc = cmboot_control_new(&cfg, &ctl);
    if (rc == CMBOOT_OK && !(power ? cmboot_control_can_power(ctl) : cmboot_control_can_boot_mode(ctl))) {
        fprintf(stderr, "%s: nothing to drive: give %s\n", prog,
                power ? "--power-gpio, --reset-gpio, --power-hub or --power-cmd" : "--boot-gpio or --boot-mode-cmd");
        rc = CMBOOT_ERR_INVALID_ARG;
    } else if (rc != CMBOOT_OK) {
        fprintf(stderr, "%s: %s\n", prog, cmboot_strerror(rc)); /* the reason was logged */
    }
    if (rc == CMBOOT_OK) {
        if (power)
            rc = which == 0   ? cmboot_control_power(ctl, true)
                 : which == 1 ? cmboot_control_power(ctl, false)
                              : cmboot_control_power_cycle(ctl, (unsigned)off_ms);
        else
            rc = cmboot_control_boot_mode(ctl, which == 0 ? CMBOOT_BOOT_MODE_USB : CMBOOT_BOOT_MODE_NORMAL);
        if (rc == CMBOOT_OK && hold) {
            fprintf(stderr, "%s: holding; SIGINT or SIGTERM releases\n", prog);
            int h = cmboot_control_hold(ctl, 0);
            if (power && which != 1) /* what was held on goes off with the hold */
                (void)cmboot_control_power(ctl, false);
            rc = h == CMBOOT_ERR_CANCELLED ? CMBOOT_OK : h;
            int r = cmboot_control_release(ctl);
            if (rc == CMBOOT_OK)
                rc = r;
        } else if (rc != CMBOOT_OK) {
            (void)cmboot_control_release(ctl); /* a half-done or interrupted action leaves no USB mode behind */
        }
        if (rc != CMBOOT_OK && cli_cancel_requested())
            rc = CMBOOT_ERR_CANCELLED;
    }
    cmboot_control_free(ctl);
    cli_cancel_targets(NULL, NULL);
    cmboot_ctx_free(ctx);
    cmboot_control_map_free(map);
    if (rc != CMBOOT_OK && rc != CMBOOT_ERR_INVALID_ARG)
        fprintf(stderr, "%s %s: %s\n", prog, action, cmboot_strerror(rc));
    return exit_for(rc);
}
