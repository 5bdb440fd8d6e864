/* `cmboot flash IMAGE`: boot a board, wait for its mass-storage disk, pair it by port path, write, verify, report. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_write.h"
#include "cli_util.h"
#include "commands.h"
#include "discovery_choice.h"
#include "signals.h"

#define DEFAULT_PAIR_TIMEOUT_MS 60000

/* Boot-phase events: forwarded to the UI, metadata kept for the report. */
typedef struct boot_watch {
    flash_ui *ui;
    pthread_mutex_t mu;
    cmboot_metadata *md;
    char *saved_json;
} boot_watch;

static void boot_event(void *user, const cmboot_event *ev)
{
    boot_watch *w = user;
    pthread_mutex_lock(&w->mu);
    if (ev->type == CMBOOT_EV_METADATA && w->md && ev->name && ev->value)
        cmboot_metadata_set(w->md, ev->name, ev->value);
    if (ev->type == CMBOOT_EV_METADATA_SAVED && ev->json && *ev->json) {
        free(w->saved_json);
        w->saved_json = strdup(ev->json);
    }
    pthread_mutex_unlock(&w->mu);
    if (ev->type != CMBOOT_EV_METADATA_SAVED || w->ui->out.json)
        cli_event_cb(&w->ui->out, ev);
}

static void flash_usage(FILE *f)
{
    fprintf(f,
            "usage: cmboot flash IMAGE [--bmap FILE] [--no-verify] [--target DEV] [--force] [--partition-ok]\n"
            "                    [-p PATH] [-i SERIAL]\n"
            "                    [-d DIR] [-j DIR] [--discovery=sysfs|libusb] [--timeout SEC] [--pair-timeout SEC]\n"
            "                    [--raw] [--json] [--report FILE] [-v]\n\n"
            "Boots the board into its mass-storage stage, finds the disk under the same USB port path (checked\n"
            "again on the descriptor that writes it), writes IMAGE (raw, .gz, .xz, .zst, .bz2 or .zip), verifies it\n"
            "and prints a JSON report.\n"
            "  --bmap FILE          write only the blocks the bmap maps\n"
            "  --no-verify          skip the read-back\n"
            "  --target DEV         write DEV instead of the paired disk (same safety checks as `write`)\n"
            "  --force              allow a target that is not on USB (never the host's root or boot disk)\n"
            "  --raw                write IMAGE's bytes as they are (no decompression, whatever its name says)\n"
            "  --partition-ok       allow a partition as --target instead of a whole disk\n"
            "  -p, --port-path PATH only the board at this port path; -i, --serial SERIAL only this board\n"
            "  -d, --dir DIR        boot files (a mass-storage payload, e.g. usbboot's mass-storage-gadget64)\n"
            "  -j, --metadata-dir DIR  also write the board's metadata to DIR/<serial>.json\n"
            "  --discovery=NAME     sysfs (default on Linux) or libusb\n"
            "  --timeout SEC        give up when no board appears (default: wait forever)\n"
            "  --pair-timeout SEC   deadline for the disk to appear after the mass-storage stage (default 60)\n"
            "  --json               events and the report as JSON lines on stdout\n"
            "  --report FILE        also save the JSON report in FILE\n\n"
            "exit codes: 0 ok, 1 boot failed, 2 usage, 3 no board, 4 host problem, 5 write or verification\n"
            "failed (also: the disk filled up mid-write), 6 target refused (nothing written), 130 interrupted.\n");
}

enum { OPT_BMAP = 1000, OPT_NO_VERIFY, OPT_TARGET, OPT_FORCE, OPT_JSON, OPT_REPORT, OPT_DISCOVERY, OPT_TIMEOUT,
       OPT_PAIR_TIMEOUT, OPT_RAW };
enum { OPT_PARTITION_OK = 1100 };

/* Fails early on an image or bmap we could not write, before a board is booted for nothing. */
static int precheck_image(const cmboot_flash_config *cfg)
{
    cmboot_flash_source *src = NULL;
    char why[256];
    int rc = cmboot_flash_source_open_flags(cfg->image, cfg->source_flags, &src, why, sizeof why);
    if (rc != CMBOOT_OK) {
        if (why[0])
            fprintf(stderr, "cmboot: %s\n", why);
        else
            fprintf(stderr, "cmboot: cannot open image %s: %s\n", cfg->image, cmboot_strerror(rc));
        /* A damaged or mislabelled image is a write failure (5), as `write` says; a missing one is usage. */
        return rc == CMBOOT_ERR_ARCHIVE || rc == CMBOOT_ERR_FORMAT ? EXIT_FLASH : EXIT_USAGE;
    }
    cmboot_flash_source_close(src);
    if (cfg->bmap) {
        cmboot_bmap *b = NULL;
        rc = cmboot_bmap_load(cfg->bmap, &b);
        if (rc != CMBOOT_OK) {
            fprintf(stderr, "cmboot: bmap %s is unusable: %s\n", cfg->bmap, cmboot_strerror(rc));
            return EXIT_USAGE;
        }
        cmboot_bmap_free(b);
    }
    return EXIT_OK;
}

int cmd_flash(int argc, char **argv)
{
    static const struct option opts[] = {
        {"bmap", required_argument, NULL, OPT_BMAP},
        {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
        {"target", required_argument, NULL, OPT_TARGET},
        {"force", no_argument, NULL, OPT_FORCE},
        {"raw", no_argument, NULL, OPT_RAW},
        {"partition-ok", no_argument, NULL, OPT_PARTITION_OK},
        {"json", no_argument, NULL, OPT_JSON},
        {"report", required_argument, NULL, OPT_REPORT},
        {"discovery", required_argument, NULL, OPT_DISCOVERY},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"pair-timeout", required_argument, NULL, OPT_PAIR_TIMEOUT},
        {"port-path", required_argument, NULL, 'p'},
        {"serial", required_argument, NULL, 'i'},
        {"dir", required_argument, NULL, 'd'},
        {"metadata-dir", required_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cmboot_flash_config fcfg;
    cmboot_flash_config_default(&fcfg);
    flash_env_from_environment(&fcfg.env);
    cmboot_boot_config bcfg;
    cmboot_boot_config_default(&bcfg);
    bool json = false;
    int verbosity = 0;
    const char *report_path = NULL, *discovery = NULL;
    int64_t pair_timeout = DEFAULT_PAIR_TIMEOUT_MS, ms;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "p:i:d:j:vh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_BMAP: fcfg.bmap = optarg; break;
        case OPT_NO_VERIFY: fcfg.verify = fcfg.image_digest = false; break;
        case OPT_TARGET: fcfg.target = optarg; break;
        case OPT_FORCE: fcfg.target_flags |= CMBOOT_TARGET_FORCE; break;
        case OPT_RAW: fcfg.source_flags |= CMBOOT_SOURCE_RAW; break;
        case OPT_PARTITION_OK: fcfg.target_flags |= CMBOOT_TARGET_PARTITION_OK; break;
        case OPT_JSON: json = true; break;
        case OPT_REPORT: report_path = optarg; break;
        case OPT_DISCOVERY: discovery = optarg; break;
        case OPT_TIMEOUT:
            if (cli_parse_seconds(optarg, &ms) < 0)
                goto usage;
            bcfg.wait_first_ms = ms;
            break;
        case OPT_PAIR_TIMEOUT:
            if (cli_parse_seconds(optarg, &ms) < 0)
                goto usage;
            pair_timeout = ms;
            break;
        case 'p': bcfg.port_path = optarg; break;
        case 'i': bcfg.serial = optarg; break;
        case 'd': bcfg.boot_dir = optarg; break;
        case 'j': bcfg.metadata_dir = optarg; break;
        case 'v': verbosity++; break;
        case 'h': flash_usage(stdout); return EXIT_OK;
        default: goto usage;
        }
    }
    if (argc - optind != 1)
        goto usage;
    fcfg.image = argv[optind];
    if (bcfg.port_path && !cmboot_port_path_valid(bcfg.port_path)) {
        fprintf(stderr, "cmboot: '%s' is not a port path (BUS-P1.P2..., e.g. 1-1.3)\n", bcfg.port_path);
        return EXIT_USAGE;
    }
    int ec = precheck_image(&fcfg);
    if (ec != EXIT_OK)
        return ec;

    flash_ui ui;
    flash_ui_init(&ui, json);
    ui.out.verbosity = verbosity;
    boot_watch watch = {&ui, PTHREAD_MUTEX_INITIALIZER, NULL, NULL};
    cmboot_metadata_new(&watch.md);
    cmboot_ctx_config ccfg = {cli_log_cb, boot_event, &watch,
                              cli_log_level(verbosity)};
    cmboot_ctx *ctx = NULL;
    if (cmboot_ctx_new(&ccfg, &ctx) < 0) {
        cmboot_metadata_free(watch.md);
        return EXIT_HOST;
    }
    cli_cancel_on_signals(ctx);
    cmboot_discovery disc;
    int rc = cli_discovery_open(ctx, discovery, &disc);
    if (rc < 0) {
        fprintf(stderr, "cmboot: cannot watch for USB devices: %s (run `cmboot doctor`)\n", cmboot_strerror(rc));
        cli_cancel_targets(NULL, NULL);
        cmboot_ctx_free(ctx);
        cmboot_metadata_free(watch.md);
        return rc == CMBOOT_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_HOST;
    }
    bcfg.wait_mass_storage = true;
    bcfg.max_boards = 1;
    bcfg.loop = false;
    bcfg.metadata_stdout = false; /* the metadata goes into the report */
    if (!ui.out.json)
        fprintf(stderr, "Waiting for a board in USB boot mode...\n");
    cmboot_run_report *boot = calloc(1, sizeof *boot);
    if (!boot) {
        disc.ops->destroy(disc.self);
        cli_cancel_targets(NULL, NULL);
        cmboot_ctx_free(ctx);
        cmboot_metadata_free(watch.md);
        return EXIT_HOST;
    }
    rc = cmboot_run(ctx, &disc, &bcfg, boot);
    disc.ops->destroy(disc.self);
    cli_cancel_targets(NULL, NULL); /* the signal thread must not touch a freed context */
    cmboot_ctx_free(ctx);
    const cmboot_board_result *board = boot->boards > 0 ? &boot->results[0] : NULL;
    if (rc != CMBOOT_OK || !board || board->error != CMBOOT_OK) {
        fprintf(stderr, "cmboot: booting failed: %s\n", cmboot_strerror(rc ? rc : board ? board->error : rc));
        ec = rc == CMBOOT_ERR_CANCELLED ? EXIT_CANCELLED
             : rc == CMBOOT_ERR_TIMEOUT && !board ? EXIT_NO_BOARD
             : rc == CMBOOT_ERR_ACCESS ? EXIT_HOST : EXIT_FAILURE_BOARD;
        free(boot);
        cmboot_metadata_free(watch.md);
        free(watch.saved_json);
        return ec;
    }

    if (board->last_stage == CMBOOT_STAGE_FASTBOOT) {
        /* Its payload offers fastboot, not a USB disk: nothing to pair, so say so instead of waiting. */
        fprintf(stderr, "cmboot: [%s] the board came up as the fastboot gadget, which has no USB disk to write; "
                        "boot it with a mass-storage payload (e.g. -d mass-storage-gadget64)\n", board->port_path);
        free(boot);
        cmboot_metadata_free(watch.md);
        free(watch.saved_json);
        return EXIT_FAILURE_BOARD;
    }

    /* The disk of this board, never a guess: same USB port path, exactly one disk. */
    char paired[256];
    int64_t pair_start = cmboot_now_ms(), pair_ms = -1;
    if (!fcfg.target) {
        if (!ui.out.json)
            fprintf(stderr, "[%s] waiting for its disk...\n", board->port_path);
        cmboot_flash_canceller *cancel = NULL;
        rc = cmboot_flash_canceller_new(&cancel);
        if (rc == CMBOOT_OK) {
            cli_cancel_targets(NULL, cancel); /* Ctrl-C ends the wait for the disk */
            rc = cmboot_flash_pair_cancellable(&fcfg.env, board->port_path, pair_start + pair_timeout, cancel,
                                               paired, sizeof paired);
            cli_cancel_targets(NULL, NULL);
            cmboot_flash_canceller_free(cancel);
        }
        pair_ms = cmboot_now_ms() - pair_start;
        if (rc != CMBOOT_OK) {
            fprintf(stderr, "cmboot: [%s] %s\n", board->port_path,
                    rc == CMBOOT_ERR_CANCELLED ? "interrupted while waiting for its disk"
                    : rc == CMBOOT_ERR_TIMEOUT ? "no disk appeared under this port path in time"
                    : rc == CMBOOT_ERR_UNSAFE_TARGET ? "more than one disk under this port path; pass --target"
                                                     : cmboot_strerror(rc));
            free(boot);
            cmboot_metadata_free(watch.md);
            free(watch.saved_json);
            return rc == CMBOOT_ERR_UNSAFE_TARGET ? EXIT_REFUSED
                   : rc == CMBOOT_ERR_CANCELLED   ? EXIT_CANCELLED
                                                  : EXIT_FLASH;
        }
        fcfg.target = paired;
        /* The name may be re-used before it is opened: the disk behind the descriptor must be this board's. */
        fcfg.port_path = board->port_path;
    }
    fcfg.device_id = board->port_path;
    char *md_json = NULL;
    if (watch.saved_json)
        md_json = strdup(watch.saved_json);
    else if (watch.md && cmboot_metadata_count(watch.md) > 0)
        cmboot_metadata_to_json(watch.md, &md_json);
    int64_t boot_ms = board->finished_ms > board->started_ms ? board->finished_ms - board->started_ms : 0;
    cmboot_flash_report rep = {board->serial, board->port_path, board->soc ? board->soc->name : NULL, md_json,
                               NULL, NULL, NULL, boot_ms, pair_ms, NULL};
    ec = flash_write_and_report(&ui, &fcfg, &rep, report_path);
    free(md_json);
    free(boot);
    cmboot_metadata_free(watch.md);
    free(watch.saved_json);
    return ec;
usage:
    flash_usage(stderr);
    return EXIT_USAGE;
}
