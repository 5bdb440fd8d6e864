/* `cmboot boot` (and plain `cmboot`): rpiboot's flags with the same meaning, plus long options. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <limits.h>

#include "cmboot/cmboot.h"
#include "cli_util.h"
#include "commands.h"
#include "discovery_choice.h"
#include "output.h"
#include "signals.h"

#define MAX_SECONDS_MS (1000000 * 1000LL) /* a million seconds: any longer wait is a typo */
#define MAX_BOARDS 1000000

static void boot_usage(FILE *f)
{
    fprintf(f,
            "usage: cmboot [boot] [-d DIR] [-o] [-l] [-v|-vv] [-V] [-s] [-m USEC] [-0..-98 | -p PATH] [-i SERIAL]\n"
            "              [-j [DIR]] [-h] [--json] [--discovery=sysfs|libusb] [--wait-msd] [--timeout SEC]\n\n"
            "rpiboot-compatible flags:\n"
            "  -d, --dir DIR          boot files directory (default: the installed rpiboot payloads)\n"
            "  -o, --overlay          serve DIR/<port path>/NAME first (bootcode*.bin excepted); needs -d\n"
            "  -l, --loop             keep serving boards forever\n"
            "  -v, --verbose          more output; -vv for protocol detail\n"
            "  -V, --version          print the version\n"
            "  -s, --signed           signed boot (BCM2835/6/7: bootcode.sig and bootsig.bin in DIR)\n"
            "  -m USEC                accepted for compatibility (non-zero, as rpiboot); cmboot waits on events\n"
            "  -0 .. -98              only boards on this port number (last port of the path)\n"
            "  -p, --port-path PATH   only the board at this port path (BUS-P1.P2..., e.g. 1-1.3)\n"
            "  -i, --serial SERIAL    only the board whose serial string is SERIAL, at every stage (BCM2711/2712)\n"
            "  -j, --metadata-dir DIR write each board's metadata to DIR/<serial>.json, named after the second\n"
            "                         stage's serial; -j alone (or no -j) prints it on stdout\n"
            "  -h, --help             this help\n"
            "cmboot options:\n"
            "      --json             events as JSON lines on stdout\n"
            "      --discovery=NAME   sysfs (default on Linux: works without udev) or libusb\n"
            "      --wait-msd         follow each board until its mass-storage stage appears\n"
            "      --boards N         stop after N boards (default 1, or forever with -l)\n"
            "      --timeout SEC      give up when no board appears within SEC seconds (0 or default: for ever)\n"
            "      --stage-timeout SEC  deadline for the second stage to appear after the ROM (default 15)\n"
            "      --next-stage-timeout SEC  deadline for the stage after Done (mass storage, fastboot; default 60)\n"
            "      --request-timeout SEC  wait per file-server request before asking again (default 20, as rpiboot)\n"
            "      --request-idle-limit SEC  fail a board whose second stage asks nothing for SEC (default: never,\n"
            "                         as rpiboot)\n"
            "      --strict-confine   boot files must resolve beneath the boot directory (symlinks out refused)\n"
            "      --chunk-size BYTES bytes read and sent per bulk call (default 4 MiB)\n"
            "      --bulk-piece BYTES size of each USB bulk transfer (default 256 KiB)\n"
            "      --in-flight N      bulk transfers queued at once (default 4)\n\n"
            "exit codes: 0 ok, 1 a board failed, 2 usage (255 without a subcommand, as rpiboot), 3 no board\n"
            "appeared, 4 host problem (run `cmboot doctor`), 130 interrupted.\n");
}

enum {
    OPT_JSON = 1000,
    OPT_DISCOVERY,
    OPT_WAIT_MSD,
    OPT_TIMEOUT,
    OPT_STAGE_TIMEOUT,
    OPT_NEXT_STAGE_TIMEOUT,
    OPT_REQUEST_TIMEOUT,
    OPT_REQUEST_IDLE_LIMIT,
    OPT_STRICT_CONFINE,
    OPT_BOARDS,
    OPT_CHUNK,
    OPT_PIECE,
    OPT_INFLIGHT
};

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, 'd'},
    {"overlay", no_argument, NULL, 'o'},
    {"loop", no_argument, NULL, 'l'},
    {"verbose", no_argument, NULL, 'v'},
    {"version", no_argument, NULL, 'V'},
    {"signed", no_argument, NULL, 's'},
    {"port-path", required_argument, NULL, 'p'},
    {"serial", required_argument, NULL, 'i'},
    {"metadata-dir", required_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {"json", no_argument, NULL, OPT_JSON},
    {"discovery", required_argument, NULL, OPT_DISCOVERY},
    {"wait-msd", no_argument, NULL, OPT_WAIT_MSD},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"stage-timeout", required_argument, NULL, OPT_STAGE_TIMEOUT},
    {"next-stage-timeout", required_argument, NULL, OPT_NEXT_STAGE_TIMEOUT},
    {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
    {"request-idle-limit", required_argument, NULL, OPT_REQUEST_IDLE_LIMIT},
    {"strict-confine", no_argument, NULL, OPT_STRICT_CONFINE},
    {"boards", required_argument, NULL, OPT_BOARDS},
    {"chunk-size", required_argument, NULL, OPT_CHUNK},
    {"bulk-piece", required_argument, NULL, OPT_PIECE},
    {"in-flight", required_argument, NULL, OPT_INFLIGHT},
    {NULL, 0, NULL, 0},
};

/* rpiboot's -0..-98: "-" and digits only. */
static bool is_port_number_flag(const char *a)
{
    if (a[0] != '-' || !isdigit((unsigned char)a[1]))
        return false;
    for (const char *p = a + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    return true;
}

#define BOOT_SHORT_OPTS "d:olvVsm:p:i:j:h"

/* Whether word a takes the next word as its value, as getopt will read it: then a "-5" after --timeout is
 * that option's (bad) value, never a port number flag. */
static bool takes_next_word(const char *a)
{
    if (a[0] != '-' || !a[1])
        return false;
    if (a[1] == '-') {
        const char *name = a + 2;
        if (!*name || strchr(name, '='))
            return false;
        size_t len = strlen(name);
        int matches = 0, has_arg = no_argument;
        for (const struct option *o = long_opts; o->name; o++) {
            if (strncmp(o->name, name, len) != 0)
                continue;
            if (strlen(o->name) == len)
                return o->has_arg == required_argument; /* exact beats abbreviations */
            matches++;
            has_arg = o->has_arg;
        }
        return matches == 1 && has_arg == required_argument;
    }
    for (const char *p = a + 1; *p; p++) {
        const char *o = strchr(BOOT_SHORT_OPTS, *p);
        if (!o || *p == ':')
            return false;
        if (o[1] == ':')
            return p[1] == 0; /* "-d DIR" takes the next word, "-dDIR" does not */
    }
    return false;
}

int cmd_boot(int argc, char **argv)
{
    cmboot_boot_config cfg;
    cmboot_boot_config_default(&cfg);
    cmboot_stage_limits limits;
    cmboot_stage_limits_default(&limits);
    cfg.limits = &limits;
    int verbosity = 0, port_number = -1;
    bool json = false;
    const char *discovery = NULL;
    cmboot_bulk_tuning bulk;
    cmboot_bulk_tuning_default(&bulk);
    int64_t ms;
    uint64_t u;
    bool metadata_to_stdout = false;
    /* Called as rpiboot (no subcommand): usage errors exit as rpiboot's do, so scripts see the same codes. */
    const bool subcommand = strcmp(argv[0], "boot") == 0;
    const int usage_exit = subcommand ? EXIT_USAGE : EXIT_REFERENCE_USAGE;
    static char prog_boot[] = "cmboot boot", prog_plain[] = "cmboot"; /* getopt's messages name argv[0] */
    char *prog = subcommand ? prog_boot : prog_plain;

    /* rpiboot's -0..-98 and its optional-argument -j are not getopt options: take them out first. */
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return EXIT_HOST;
    int n = 0;
    args[n++] = prog;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                args[n++] = argv[i++];
            break;
        }
        if (is_port_number_flag(argv[i])) {
            errno = 0;
            unsigned long long p = strtoull(argv[i] + 1, NULL, 10); /* digits only, checked above */
            if (errno || p > 98) {
                fprintf(stderr, "%s: port number flag %s out of range (-0 to -98)\n", prog, argv[i]);
                free(args);
                return usage_exit;
            }
            port_number = (int)p;
        } else if (strcmp(argv[i], "-j") == 0 && (i + 1 >= argc || argv[i + 1][0] == '-')) {
            metadata_to_stdout = true; /* rpiboot: -j without a path prints the metadata on stdout */
        } else if (takes_next_word(argv[i]) && i + 1 < argc) {
            args[n++] = argv[i++];
            args[n++] = argv[i];
        } else {
            args[n++] = argv[i];
        }
    }
    optind = 1;
    int c;
    while ((c = getopt_long(n, args, BOOT_SHORT_OPTS, long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': cfg.boot_dir = optarg; break;
        case 'o': cfg.overlay = true; break;
        case 'l': cfg.loop = true; break;
        case 'v': verbosity++; break;
        case 'V': free(args); return cli_print_version();
        case 's': cfg.signed_boot = true; break;
        case 'm': /* poll delay of the reference: nothing to poll here, but rpiboot refuses 0 or a non-number */
            if (cli_opt_uint(prog, "-m", optarg, 1, INT_MAX, &u) < 0)
                goto bad_value;
            break;
        case 'p': cfg.port_path = optarg; break;
        case 'i': cfg.serial = optarg; break;
        case 'j': cfg.metadata_dir = optarg; break;
        case 'h':
            boot_usage(stdout);
            free(args);
            return EXIT_OK;
        case OPT_JSON: json = true; break;
        case OPT_DISCOVERY: discovery = optarg; break;
        case OPT_WAIT_MSD: cfg.wait_mass_storage = true; break;
        case OPT_TIMEOUT:
            if (cli_opt_seconds(prog, "--timeout", optarg, 0, MAX_SECONDS_MS, &ms) < 0)
                goto bad_value;
            cfg.wait_first_ms = ms;
            break;
        case OPT_STAGE_TIMEOUT:
            if (cli_opt_seconds(prog, "--stage-timeout", optarg, 1, MAX_SECONDS_MS, &ms) < 0)
                goto bad_value;
            cfg.stage_timeout_ms = (unsigned)ms;
            break;
        case OPT_NEXT_STAGE_TIMEOUT:
            if (cli_opt_seconds(prog, "--next-stage-timeout", optarg, 1, MAX_SECONDS_MS, &ms) < 0)
                goto bad_value;
            cfg.next_stage_timeout_ms = (unsigned)ms;
            break;
        case OPT_REQUEST_TIMEOUT:
            if (cli_opt_seconds(prog, "--request-timeout", optarg, 1, MAX_SECONDS_MS, &ms) < 0)
                goto bad_value;
            limits.request_timeout_ms = (unsigned)ms;
            break;
        case OPT_REQUEST_IDLE_LIMIT:
            if (cli_opt_seconds(prog, "--request-idle-limit", optarg, 0, MAX_SECONDS_MS, &ms) < 0)
                goto bad_value;
            limits.request_idle_limit_ms = (unsigned)ms;
            break;
        case OPT_STRICT_CONFINE: cfg.strict_confine = true; break;
        case OPT_BOARDS:
            if (cli_opt_uint(prog, "--boards", optarg, 1, MAX_BOARDS, &u) < 0)
                goto bad_value;
            cfg.max_boards = (unsigned)u;
            break;
        case OPT_CHUNK: /* each file is read and sent in pieces of this size, one buffer per board */
            if (cli_opt_bytes(prog, "--chunk-size", optarg, 512, 256u << 20, 1, &u) < 0)
                goto bad_value;
            limits.chunk_size = (size_t)u;
            break;
        case OPT_PIECE: /* the libusb transport takes whole 512-byte packets, up to 16 MiB */
            if (cli_opt_bytes(prog, "--bulk-piece", optarg, 512, 16u << 20, 512, &u) < 0)
                goto bad_value;
            bulk.piece_size = (size_t)u;
            break;
        case OPT_INFLIGHT:
            if (cli_opt_uint(prog, "--in-flight", optarg, 1, 16, &u) < 0)
                goto bad_value;
            bulk.in_flight = (unsigned)u;
            break;
        default: goto bad;
        }
    }
    if (optind < n) {
        fprintf(stderr, "cmboot: unexpected argument '%s'\n", args[optind]);
        goto bad;
    }
    free(args);
    args = NULL;
    /* -vv arrives as -v -v through getopt, as in rpiboot. */
    if (cfg.overlay && !cfg.boot_dir) {
        fprintf(stderr, "cmboot: -o needs -d DIR\n");
        return usage_exit;
    }
    if (port_number >= 0 && cfg.port_path) {
        fprintf(stderr, "cmboot: a port number and -p PATH exclude each other\n");
        return usage_exit;
    }
    if (cfg.port_path && !cmboot_port_path_valid(cfg.port_path)) {
        fprintf(stderr, "cmboot: '%s' is not a port path (BUS-P1.P2..., e.g. 1-1.3)\n", cfg.port_path);
        return usage_exit;
    }
    struct stat st;
    if (cfg.boot_dir && (stat(cfg.boot_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "cmboot: boot directory %s does not exist\n", cfg.boot_dir);
        return usage_exit;
    }
    if (cfg.metadata_dir && (stat(cfg.metadata_dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "cmboot: metadata directory %s does not exist\n", cfg.metadata_dir);
        return usage_exit;
    }
    cfg.port_number = port_number;
    /* Metadata on stdout unless it goes to files (rpiboot does the same with or without a bare -j); in JSON
     * mode it travels in the events instead. */
    if (metadata_to_stdout)
        cfg.metadata_dir = NULL;
    cfg.metadata_stdout = !json;

    /* Say at once what the host lacks instead of waiting for a board that can never appear. */
    if (!cli_discovery_known(discovery)) {
        fprintf(stderr, "%s: unknown discovery backend '%s' (sysfs or libusb)\n", prog, discovery);
        return usage_exit;
    }
    char why[4200];
    if (cli_usb_absent(discovery, why, sizeof why)) {
        fprintf(stderr, "%s: %s, so no board can appear; run `cmboot doctor` for the fix\n", prog, why);
        return EXIT_HOST;
    }
    cli_output out;
    cli_output_init(&out, json, verbosity);
    cmboot_ctx_config ccfg;
    cmboot_ctx_config_default(&ccfg);
    ccfg.log = cli_log_cb;
    ccfg.event = cli_event_cb;
    ccfg.user = &out;
    ccfg.log_level = cli_log_level(verbosity);
    cmboot_ctx *ctx;
    if (cmboot_ctx_new(&ccfg, &ctx) < 0)
        return EXIT_HOST;
    cmboot_ctx_set_bulk_tuning(ctx, &bulk);
    cli_cancel_on_signals(ctx);
    cmboot_discovery disc;
    int rc = cli_discovery_open(ctx, discovery, &disc);
    if (rc < 0) {
        fprintf(stderr, "cmboot: cannot watch for USB devices: %s (run `cmboot doctor`)\n", cmboot_strerror(rc));
        cli_cancel_targets(NULL, NULL); /* the signal thread must not reach a freed context */
        cmboot_ctx_free(ctx);
        return rc == CMBOOT_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_HOST;
    }
    if (!json)
        fprintf(stderr, "Waiting for BCM2835/6/7/2711/2712 boards...\n");
    cmboot_run_report *report = NULL;
    rc = cmboot_run_report_new(&report);
    if (rc == CMBOOT_OK)
        rc = cmboot_run(ctx, &disc, &cfg, report);
    size_t boards = cmboot_run_report_boards(report);
    cmboot_run_report_free(report);
    disc.ops->destroy(disc.self);
    cli_cancel_targets(NULL, NULL);
    cmboot_ctx_free(ctx);
    char text[256];
    const char *msg =
        rc ? cli_boot_failure_text(rc, (unsigned)boards, cfg.wait_first_ms, cli_cancel_cause(), text, sizeof text)
           : cmboot_strerror(rc);
    if (json)
        cli_json_line("result", "result", rc ? cmboot_error_name(rc) : "ok", "message", msg, (const char *)NULL);
    /* One human line on stderr for a failure, also beside JSON: a script's log shows why without parsing. */
    if (rc)
        fprintf(stderr, "%s: %s\n", prog, msg);
    switch (rc) {
    case CMBOOT_OK: return EXIT_OK;
    case CMBOOT_ERR_TIMEOUT: return boards ? EXIT_FAILURE_BOARD : EXIT_NO_BOARD;
    case CMBOOT_ERR_CANCELLED: return EXIT_CANCELLED;
    case CMBOOT_ERR_ACCESS:
    case CMBOOT_ERR_UNSUPPORTED: return EXIT_HOST;
    case CMBOOT_ERR_NOT_FOUND: return boards ? EXIT_FAILURE_BOARD : EXIT_HOST; /* no boot files at all */
    default: return EXIT_FAILURE_BOARD;
    }
bad:
    free(args);
    return cli_usage_hint(prog, usage_exit);
bad_value:
    free(args);
    return usage_exit;
}
