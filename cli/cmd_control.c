/* `cmboot power on|off|cycle` and `cmboot mode usb|normal`: board control without a boot (docs/board-control.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmboot/cmboot.h"
#include "cli_util.h"
#include "control_opts.h"
#include "commands.h"
#include "output.h"
#include "signals.h"

static void control_usage(FILE *f, const char *cmd)
{
    bool power = strcmp(cmd, "power") == 0;
    fprintf(f, power ? "usage: cmboot power on|off|cycle [OPTIONS]\n\nSwitches a board's power.\n\n"
                     : "usage: cmboot mode usb|normal [OPTIONS]\n\nSets a board's boot mode (nRPIBOOT): usb makes its "
                       "next power-on wait for rpiboot.\n\n");
    cli_control_usage(f);
    fprintf(f, "      --control-file FILE --port PATH    take the options of board port PATH from FILE\n"
               "      --hold                             keep the lines until SIGINT/SIGTERM, then release them\n"
               "                                         (mode normal and power off after it)\n"
               "      --json                             each step as a JSON line on stdout\n"
               "  -v                                     more log output on stderr\n"
               "      --version                          print the version\n\n"
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
    enum { OPT_PORT = 256, OPT_HOLD, OPT_JSON, OPT_VERSION };
    static const struct option longopts[] = {
        CLI_CONTROL_LONGOPTS,
        {"port", required_argument, NULL, OPT_PORT},
        {"hold", no_argument, NULL, OPT_HOLD},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    bool power = strcmp(argv[0], "power") == 0;
    static char prog_power[] = "cmboot power", prog_mode[] = "cmboot mode";
    char *prog = power ? prog_power : prog_mode;
    const char *cmd = power ? "power" : "mode";
    argv[0] = prog;
    cli_control_opts copts;
    cli_control_opts_init(&copts);
    const char *port = NULL;
    bool hold = false, json = false;
    int verbosity = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
        int taken = cli_control_opt(prog, c, optarg, &copts);
        if (taken < 0)
            return EXIT_USAGE;
        if (taken)
            continue;
        switch (c) {
        case OPT_PORT: port = optarg; break;
        case OPT_HOLD: hold = true; break;
        case OPT_JSON: json = true; break;
        case 'v': verbosity++; break;
        case 'h': control_usage(stdout, cmd); return EXIT_OK;
        case OPT_VERSION: return cli_print_version();
        default: return cli_usage_hint(prog, EXIT_USAGE);
        }
    }
    const char *file = copts.file;
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
        int ec = cli_control_map_load(prog, file, &map);
        if (ec)
            return ec;
    }
    cmboot_control_config cfg;
    if (cli_control_config(&copts, map, port, &cfg) != CMBOOT_OK) {
        fprintf(stderr, "%s: %s has no line for port %s\n", prog, file, port);
        cmboot_control_map_free(map);
        return EXIT_USAGE;
    }
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
                              : cmboot_control_power_cycle(ctl, (unsigned)copts.off_ms);
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
