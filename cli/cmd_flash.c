/* `cmboot flash IMAGE`: boot a board, pair its disk (or open its fastboot gadget), write, verify, report. */
#include <ctype.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_write.h"
#include "cli_util.h"
#include "commands.h"
#include "control_opts.h"
#include "discovery_choice.h"
#include "flash_cycle.h"
#include "flash_line.h"
#include "line_view.h"
#include "records_cli.h"
#include "status_http.h"
#include "signals.h"

#define DEFAULT_PAIR_TIMEOUT_MS 60000
#define DEFAULT_NORMAL_TIMEOUT_MS 60000
#define MAX_SECONDS_MS (1000000 * 1000LL) /* a million seconds: any longer wait is a typo */

/* Events of the whole job: the boot's to the event printer, the writer's (from its first phase on) to the
 * progress bar; on a terminal all of them to the board's row of the line view instead. */
typedef struct flash_watch {
    flash_ui *ui;
    pthread_mutex_t mu;
    bool writing;
    bool pairing;    /* no --target: the disk is looked for once the board is up */
    line_view *view; /* a terminal that fits the row: the board's row instead of the lines and the bar */
} flash_watch;

/* ---- the line view on a terminal (issue 11): one row for the board, its result kept ---- */

#define FLASH_VIEW_MIN_WIDTH 60 /* narrower: the lines and the bar of old */

static line_view *flash_view_open(const flash_ui *ui, int verbosity)
{
    struct winsize ws;
    if (ui->out.json || !ui->out.tty || ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) != 0 ||
        ws.ws_col < FLASH_VIEW_MIN_WIDTH || ws.ws_row < 3)
        return NULL;
    line_view_config cfg;
    line_view_config_default(&cfg);
    cfg.out = stderr;
    cfg.rows = true;
    cfg.ticker = true;
    cfg.log_level = cli_log_level(verbosity);
    line_view *v = NULL;
    return line_view_new(&cfg, &v) == 0 ? v : NULL;
}

static void flash_view_event(flash_watch *w, const cmboot_event *ev)
{
    line_view_event(w->view, ev);
    if (ev->type == CMBOOT_EV_BOARD_DONE && ev->error == CMBOOT_OK && w->pairing &&
        strcmp(ev->stage, "mass-storage") == 0) {
        cmboot_event pair = *ev;
        pair.type = CMBOOT_EV_PHASE;
        pair.name = "pair";
        pair.value = "waiting for its disk";
        line_view_event(w->view, &pair);
    }
}

/* The board's result on its row, the last frame left on the terminal; then the report as before. */
static void flash_view_close(line_view *v, const cmboot_flash_job *job, int rc)
{
    if (!v)
        return;
    const cmboot_board_result *board = cmboot_flash_job_board(job);
    const cmboot_flash_result *res = cmboot_flash_job_flash(job);
    if (board) {
        line_view_result r = {
            .port_path = board->port_path,
            .serial = board->serial,
            .error = res ? rc : cmboot_flash_job_error(job),
            .reason = res && res->reason[0] ? res->reason : cmboot_flash_job_reason(job),
            .bytes = res ? res->bytes_written : 0,
            .elapsed_ms = -1,
            .verified = res && res->verified,
        };
        if (r.error == CMBOOT_OK && rc != CMBOOT_OK)
            r.error = rc;
        line_view_board_finished(v, &r);
    }
    line_view_finish(v);
    line_view_free(v);
}

/* ---- end of the line view ---- */

static void flash_event(void *user, const cmboot_event *ev)
{
    flash_watch *w = user;
    if (w->view) {
        flash_view_event(w, ev);
        return;
    }
    pthread_mutex_lock(&w->mu);
    if (ev->type == CMBOOT_EV_PHASE)
        w->writing = true;
    bool writing = w->writing;
    pthread_mutex_unlock(&w->mu);
    if (writing) {
        flash_ui_event(w->ui, ev);
        return;
    }
    if (ev->type != CMBOOT_EV_METADATA_SAVED || w->ui->out.json)
        cli_event_cb(&w->ui->out, ev);
    if (ev->type == CMBOOT_EV_BOARD_DONE && ev->error == CMBOOT_OK && w->pairing && !w->ui->out.json &&
        strcmp(ev->stage, "mass-storage") == 0)
        fprintf(stderr, "[%s] waiting for its disk...\n", ev->device_id);
}

/* Library logs go to the job's output (the context has one user pointer for logs and events: the watch). */
static void flash_log(void *user, const char *device_id, cmboot_log_level level, const char *msg)
{
    flash_watch *w = user;
    if (w->view)
        line_view_log(w->view, device_id, level, msg);
    else
        cli_log_cb(&w->ui->out, device_id, level, msg);
}

static void flash_usage(FILE *f)
{
    fprintf(f,
            "usage: cmboot flash IMAGE [--bmap FILE] [--no-verify] [--target DEV] [--force] [--partition-ok]\n"
            "                    [-p PATH | -0..-98] [-i SERIAL] [--boards N | --loop] [--report-dir DIR]\n"
            "                    [--log-dir DIR] [--quiet]\n"
            "                    [--lun N] [--target-kind emmc|nvme|sd] [--via auto|msd|fastboot]\n"
            "                    [--fastboot-partition NAME]\n"
            "                    [-d DIR] [-j DIR] [--discovery=sysfs|libusb] [--timeout SEC] [--pair-timeout SEC]\n"
            "                    [--raw] [--json] [--report FILE] [-v]\n"
            "                    [--boot-gpio ... --power-gpio ... | --control-file FILE] [--expect-normal VID:PID]\n"
            "                    [--records PATH|postgresql://...|off] [--station ID] [--http ADDR:PORT]\n\n"
            "Boots the board into its mass-storage stage, finds the disk under the same USB port path (checked\n"
            "again on the descriptor that writes it), writes IMAGE (raw, .gz, .xz, .zst, .bz2 or .zip), verifies it\n"
            "and prints a JSON report.\n"
            "  --bmap FILE          write only the blocks the bmap maps\n"
            "  --no-verify          skip the read-back\n"
            "  --target DEV         write DEV instead of the paired disk (same safety checks as `write`)\n"
            "  --force              allow a target that is not on USB (never the host's root or boot disk)\n"
            "  --raw                write IMAGE's bytes as they are (no decompression, whatever its name says)\n"
            "  --partition-ok       allow a partition as --target instead of a whole disk\n"
            "  --lun N              the disk with SCSI LUN N, when the board's gadget exports several (0..15)\n"
            "  --threads N          xz decoder threads for a multi-block .xz (default: the online cores)\n"
            "  --max-memory SIZE    cap on queue + decoder memory per board (e.g. 16M)\n"
            "  --target-kind KIND   the disk of this kind: emmc, nvme or sd, told by its SCSI vendor/model\n"
            "                       strings (see docs/flash.md); without either, the only disk or a refusal\n"
            "                       that lists the disks\n"
            "  --via WAY            msd: write the board's USB disk; fastboot: write through its fastboot gadget\n"
            "                       (sparse pieces, flash:, read back with fetch: when the gadget has it, else\n"
            "                       reported \"written, not read back\"); auto (default): the way the board came up\n"
            "  --fastboot-partition NAME  the partition fastboot writes (default mmcblk0)\n"
            "  -p, --port-path PATH only the board at this port path; -i, --serial SERIAL only this board\n"
            "  -0 .. -98            only boards on this port number (last port of the path)\n"
            "  --boards N           flash N boards at once (a flash line), boards already in mass storage too\n"
            "  --loop               flash every board that comes, until SIGINT/SIGTERM\n"
            "  --report-dir DIR     one JSON report per board: DIR/<serial or port path>-<UTC time>.json\n"
            "  --log-dir DIR        one log file per board (every message, all levels): DIR/<serial>-<UTC time>.log\n"
            "  --quiet              only each board's result and the summary (rows or JSON lines)\n"
            "  -d, --dir DIR        boot files (a mass-storage payload, e.g. usbboot's mass-storage-gadget64)\n"
            "  -j, --metadata-dir DIR  also write the board's metadata to DIR/<serial>.json\n"
            "  --discovery=NAME     sysfs (default on Linux) or libusb\n"
            "  --timeout SEC        give up when no board appears (0 or default: wait for ever)\n"
            "  --pair-timeout SEC   deadline for the disk to appear after the mass-storage stage (default 60)\n"
            "  --json               events and the report as JSON lines on stdout\n"
            "  --report FILE        also save the JSON report in FILE\n"
            "  --records WHERE      record every board attempt: an SQLite file (default: see docs/records.md),\n"
            "                       postgresql://... (queued locally while the server is away), or off\n"
            "  --station ID         this station's id in the records (default: the host name)\n"
            "  --http ADDR:PORT     with --boards/--loop: a read-only status page on http://ADDR:PORT/ (a port\n"
            "                       alone binds 127.0.0.1; docs/status-page.md)\n"
            "  --version            print the version\n\n"
            "Board control (docs/board-control.md): with a boot-mode and a power switch, flash does the whole cycle:\n"
            "USB boot mode, power cycle, boot, write, verify, normal boot mode, power cycle, and with --expect-normal\n"
            "the wait for the board's own USB device. Every step is in the report's \"control\" array.\n");
    cli_control_usage(f);
    fprintf(f,
            "  --control-file FILE  the lines of each port path (--boards/--loop: the board's port picks its entry;\n"
            "                       one board: the entry of -p PATH)\n"
            "  --expect-normal VID:PID  after flashing, wait until the board shows up as this device (on its port\n"
            "                       path, with its serial when the device has one)\n"
            "  --normal-timeout SEC deadline of that wait (default 60)\n\n"
            "exit codes: 0 ok, 1 boot failed, 2 usage, 3 no board, 4 host problem, 5 write or verification\n"
            "failed (also: the disk filled up mid-write), 6 target refused (nothing written), 130 interrupted;\n"
            "with board control also 4 no such line/hub or no permission, 1 a control step failed or the board did\n"
            "not come up in normal mode.\n"
            "With --boards/--loop: 0 when every board that finished was flashed and verified and none was cut\n"
            "short; else the code of the first board that failed (1, 5, 6), or 130 when one was interrupted.\n");
}

/* One enum for every long option without a short form, so no two can share a value; board control's CLI_OPT_*
 * (cli/control_opts.h) come after. */
enum {
    OPT_BMAP = 1000,
    OPT_NO_VERIFY,
    OPT_TARGET,
    OPT_FORCE,
    OPT_JSON,
    OPT_REPORT,
    OPT_DISCOVERY,
    OPT_TIMEOUT,
    OPT_PAIR_TIMEOUT,
    OPT_RAW,
    OPT_PARTITION_OK,
    OPT_BOARDS, /* flash line (issue 11) */
    OPT_LOOP,
    OPT_REPORT_DIR,
    OPT_QUIET,
    OPT_LOG_DIR,
    OPT_LUN, /* which disk of a gadget with several */
    OPT_TARGET_KIND,
    OPT_EXPECT_NORMAL, /* board control (issue 12) */
    OPT_NORMAL_TIMEOUT,
    OPT_VIA, /* USB disk or fastboot gadget (issue 13) */
    OPT_FASTBOOT_PARTITION,
    OPT_RECORDS, /* records and status page (issue 15) */
    OPT_STATION,
    OPT_HTTP,
    OPT_VERSION,
    OPT_THREADS, /* decoder threads and memory cap (issue 16) */
    OPT_MAX_MEMORY,
    OPT_LAST_
};
_Static_assert((int)OPT_LAST_ <= (int)CLI_OPT_BOOT_GPIO, "flash's option ids run into board control's");

/* rpiboot's -0..-98: "-" and digits only. */
static bool is_port_number_flag(const char *a)
{
    if (a[0] != '-' || a[1] < '0' || a[1] > '9')
        return false;
    for (const char *p = a + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* Whether word is an option whose value is the next word (long names as getopt_long abbreviates them): its value
 * is never a port number flag. */
static bool takes_next_word(const struct option *opts, const char *shorts, const char *word)
{
    if (word[0] != '-' || word[1] == 0)
        return false;
    if (word[1] != '-')
        return word[2] == 0 && strchr(shorts, word[1]) && strchr(shorts, word[1])[1] == ':';
    if (strchr(word, '='))
        return false;
    size_t n = strlen(word + 2);
    for (const struct option *o = opts; o->name; o++)
        if (o->has_arg == required_argument && n > 0 && strncmp(o->name, word + 2, n) == 0)
            return true;
    return false;
}

/* An image or bmap we could not write fails before a board is booted for nothing. */
static int open_failed(const cmboot_flash_job *job, const cmboot_flash_config *cfg)
{
    int rc = cmboot_flash_job_error(job);
    if (cmboot_flash_job_step(job) == CMBOOT_FLASH_STEP_BMAP) {
        fprintf(stderr, "cmboot: bmap %s is unusable: %s\n", cfg->bmap, cmboot_strerror(rc));
        return EXIT_USAGE;
    }
    const char *why = cmboot_flash_job_reason(job);
    if (why[0])
        fprintf(stderr, "cmboot: %s\n", why);
    else
        fprintf(stderr, "cmboot: cannot open image %s: %s\n", cfg->image, cmboot_strerror(rc));
    /* A damaged or mislabelled image is a write failure (5), as `write` says; a missing one is usage. */
    return rc == CMBOOT_ERR_ARCHIVE || rc == CMBOOT_ERR_FORMAT ? EXIT_FLASH : EXIT_USAGE;
}

/* Message and exit code of a job that stopped before writing. */
static int boot_or_pair_failed(const cmboot_flash_job *job, int64_t wait_first_ms)
{
    int rc = cmboot_flash_job_error(job);
    const cmboot_board_result *board = cmboot_flash_job_board(job);
    if (cmboot_flash_job_step(job) == CMBOOT_FLASH_STEP_PAIR) {
        const char *why = cmboot_flash_job_reason(job);
        fprintf(stderr, "cmboot: [%s] %s%s\n", board->port_path, why,
                rc == CMBOOT_ERR_UNSAFE_TARGET && !strstr(why, "--target") ? "; pass --target" : "");
        /* no disk of the LUN or kind asked for: refused, nothing written */
        return rc == CMBOOT_ERR_UNSAFE_TARGET || rc == CMBOOT_ERR_NOT_FOUND ? EXIT_REFUSED
               : rc == CMBOOT_ERR_CANCELLED                                 ? EXIT_CANCELLED
                                                                            : EXIT_FLASH;
    }
    if (board && board->error == CMBOOT_OK && board->last_stage == CMBOOT_STAGE_FASTBOOT) {
        /* Its payload offers fastboot, not a USB disk: nothing to pair, so say so instead of waiting. */
        fprintf(stderr,
                "cmboot: [%s] the board came up as the fastboot gadget, which has no USB disk to write; "
                "boot it with a mass-storage payload (e.g. -d mass-storage-gadget64)\n",
                board->port_path);
        return EXIT_FAILURE_BOARD;
    }
    char text[256];
    fprintf(stderr, "cmboot flash: %s\n",
            cli_boot_failure_text(rc, board ? 1 : 0, wait_first_ms, cli_cancel_cause(), text, sizeof text));
    return rc == CMBOOT_ERR_CANCELLED           ? EXIT_CANCELLED
           : rc == CMBOOT_ERR_TIMEOUT && !board ? EXIT_NO_BOARD
           : rc == CMBOOT_ERR_ACCESS            ? EXIT_HOST
                                                : EXIT_FAILURE_BOARD;
}

/* A board that stopped before its write under board control: where it stopped, and every control step. */
static void print_control_report(flash_ui *ui, const flash_cycle *fc, int err, const char *step,
                                 const char *report_path)
{
    char head[160];
    snprintf(head, sizeof head, "{\"result\":\"%s\",\"step\":\"%s\"}", cmboot_error_name(err), step);
    char *text = flash_cycle_report(fc, head);
    if (!text)
        return;
    if (ui->out.json)
        printf("{\"event\":\"report\",\"report\":%s}\n", text);
    else
        cli_stdout_report(text);
    fflush(stdout);
    if (report_path) {
        FILE *f = fopen(report_path, "w");
        if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0)
            fprintf(stderr, "cmboot: cannot write the report to %s\n", report_path);
    }
    free(text);
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
        {"lun", required_argument, NULL, OPT_LUN},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
        {"target-kind", required_argument, NULL, OPT_TARGET_KIND},
        {"via", required_argument, NULL, OPT_VIA},
        {"fastboot-partition", required_argument, NULL, OPT_FASTBOOT_PARTITION},
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
        {"version", no_argument, NULL, OPT_VERSION},
        {"boards", required_argument, NULL, OPT_BOARDS},
        {"loop", no_argument, NULL, OPT_LOOP},
        {"report-dir", required_argument, NULL, OPT_REPORT_DIR},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"log-dir", required_argument, NULL, OPT_LOG_DIR},
        CLI_CONTROL_LONGOPTS,
        {"expect-normal", required_argument, NULL, OPT_EXPECT_NORMAL},
        {"normal-timeout", required_argument, NULL, OPT_NORMAL_TIMEOUT},
        {"records", required_argument, NULL, OPT_RECORDS},
        {"station", required_argument, NULL, OPT_STATION},
        {"http", required_argument, NULL, OPT_HTTP},
        {NULL, 0, NULL, 0},
    };
    static const char shorts[] = "p:i:d:j:vh";
    cmboot_flash_config fcfg;
    cmboot_flash_config_default(&fcfg);
    cmboot_target_env env;
    flash_env_from_environment(&env);
    fcfg.env = &env;
    cmboot_boot_config bcfg;
    cmboot_boot_config_default(&bcfg);
    bool json = false;
    int verbosity = 0;
    const char *report_path = NULL, *discovery = NULL;
    int64_t pair_timeout = DEFAULT_PAIR_TIMEOUT_MS, ms;
    static char prog[] = "cmboot flash"; /* getopt's messages name argv[0] */
    argv[0] = prog;
    flash_line_opts line = {.pair_timeout_ms = DEFAULT_PAIR_TIMEOUT_MS};
    cli_control_opts copts;
    cli_control_opts_init(&copts);
    flash_cycle cycle = {.normal_timeout_ms = DEFAULT_NORMAL_TIMEOUT_MS};
    uint64_t boards = 0;
    const char *records_loc = NULL, *station = NULL;
    char host[256];
    /* rpiboot's -0..-98 are not getopt options: taken out first (argv is reordered in place, as getopt does). */
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                argv[kept++] = argv[i++];
            break;
        }
        if (is_port_number_flag(argv[i])) {
            char *end = NULL;
            unsigned long p = strlen(argv[i]) <= 3 ? strtoul(argv[i] + 1, &end, 10) : 99;
            if (p > 98) {
                fprintf(stderr, "%s: port number flag %s out of range (-0 to -98)\n", prog, argv[i]);
                return EXIT_USAGE;
            }
            bcfg.port_number = (int)p;
            continue;
        }
        argv[kept++] = argv[i];
        if (takes_next_word(opts, shorts, argv[i]) && i + 1 < argc)
            argv[kept++] = argv[++i];
    }
    argc = kept;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        int taken = cli_control_opt(prog, c, optarg, &copts);
        if (taken < 0)
            return EXIT_USAGE;
        if (taken)
            continue;
        switch (c) {
        case OPT_EXPECT_NORMAL:
            if (flash_cycle_parse_usb_id(optarg, &cycle.vid, &cycle.pid) < 0) {
                fprintf(stderr, "%s: --expect-normal takes VID:PID in hex (0525:a4aa), not '%s'\n", prog, optarg);
                return EXIT_USAGE;
            }
            cycle.expect = true;
            break;
        case OPT_NORMAL_TIMEOUT:
            if (cli_opt_seconds(prog, "--normal-timeout", optarg, 1, MAX_SECONDS_MS, &cycle.normal_timeout_ms) < 0)
                return EXIT_USAGE;
            break;
        case OPT_BMAP: fcfg.bmap = optarg; break;
        case OPT_NO_VERIFY: fcfg.verify = fcfg.image_digest = false; break;
        case OPT_TARGET: fcfg.target = optarg; break;
        case OPT_FORCE: fcfg.target_flags |= CMBOOT_TARGET_FORCE; break;
        case OPT_RAW: fcfg.source_flags |= CMBOOT_SOURCE_RAW; break;
        case OPT_PARTITION_OK: fcfg.target_flags |= CMBOOT_TARGET_PARTITION_OK; break;
        case OPT_THREADS: {
            uint64_t v;
            if (cli_opt_uint(prog, "--threads", optarg, 1, 1024, &v) < 0)
                return EXIT_USAGE;
            fcfg.threads = (unsigned)v;
            break;
        }
        case OPT_MAX_MEMORY: {
            uint64_t v;
            if (cli_opt_bytes(prog, "--max-memory", optarg, 1u << 20, (uint64_t)1 << 40, 1, &v) < 0)
                return EXIT_USAGE;
            fcfg.max_memory = v;
            break;
        }
        case OPT_LUN: {
            uint64_t lun;
            if (cli_opt_uint(prog, "--lun", optarg, 0, 15, &lun) < 0) /* bCBWLUN has 4 bits */
                return EXIT_USAGE;
            fcfg.lun = (int)lun;
            break;
        }
        case OPT_TARGET_KIND: {
            static const char *const kinds[] = {"emmc", "nvme", "sd"};
            int k = cli_opt_word(prog, "--target-kind", optarg, kinds, 3);
            if (k < 0)
                return EXIT_USAGE;
            fcfg.target_kind = kinds[k];
            break;
        }
        case OPT_VIA: {
            static const char *const vias[] = {"auto", "msd", "fastboot"};
            static const int values[] = {CMBOOT_FLASH_VIA_AUTO, CMBOOT_FLASH_VIA_MSD, CMBOOT_FLASH_VIA_FASTBOOT};
            int k = cli_opt_word(prog, "--via", optarg, vias, 3);
            if (k < 0)
                return EXIT_USAGE;
            fcfg.via = values[k];
            break;
        }
        case OPT_FASTBOOT_PARTITION: {
            /* It goes into flash:NAME and fetch:NAME:...: a command of at most 64 printable bytes. */
            size_t n = strlen(optarg);
            bool ok = n > 0 && n <= 32;
            for (size_t i = 0; ok && i < n; i++)
                ok = isalnum((unsigned char)optarg[i]) || optarg[i] == '_' || optarg[i] == '-' || optarg[i] == '.';
            if (!ok) {
                fprintf(stderr,
                        "%s: invalid value '%s' for --fastboot-partition: expected 1 to 32 of A-Z a-z 0-9 _ - .\n",
                        prog, optarg);
                return EXIT_USAGE;
            }
            fcfg.fastboot_partition = optarg;
            break;
        }
        case OPT_JSON: json = true; break;
        case OPT_REPORT: report_path = optarg; break;
        case OPT_DISCOVERY: discovery = optarg; break;
        case OPT_TIMEOUT:
            if (cli_opt_seconds(prog, "--timeout", optarg, 0, MAX_SECONDS_MS, &ms) < 0)
                return EXIT_USAGE;
            bcfg.wait_first_ms = ms;
            break;
        case OPT_PAIR_TIMEOUT:
            if (cli_opt_seconds(prog, "--pair-timeout", optarg, 1, MAX_SECONDS_MS, &ms) < 0)
                return EXIT_USAGE;
            pair_timeout = ms;
            break;
        case 'p': bcfg.port_path = optarg; break;
        case 'i': bcfg.serial = optarg; break;
        case 'd': bcfg.boot_dir = optarg; break;
        case 'j': bcfg.metadata_dir = optarg; break;
        case 'v': verbosity++; break;
        case 'h': flash_usage(stdout); return EXIT_OK;
        case OPT_VERSION: return cli_print_version();
        case OPT_BOARDS:
            if (cli_opt_uint(prog, "--boards", optarg, 1, 1000000, &boards) < 0)
                return EXIT_USAGE;
            line.boards = (unsigned)boards;
            break;
        case OPT_LOOP: line.loop = true; break;
        case OPT_REPORT_DIR: line.report_dir = optarg; break;
        case OPT_QUIET: line.quiet = true; break;
        case OPT_LOG_DIR: line.log_dir = optarg; break;
        case OPT_RECORDS: records_loc = optarg; break;
        case OPT_STATION: station = optarg; break;
        case OPT_HTTP: line.http = optarg; break;
        default: return cli_usage_hint(prog, EXIT_USAGE);
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "%s: unexpected argument '%s' (one IMAGE only)\n", prog, argv[optind + 1]);
        return cli_usage_hint(prog, EXIT_USAGE);
    }
    if (argc - optind != 1)
        goto usage;
    fcfg.image = argv[optind];
    if (bcfg.port_path && !cmboot_port_path_valid(bcfg.port_path)) {
        fprintf(stderr, "cmboot: '%s' is not a port path (BUS-P1.P2..., e.g. 1-1.3)\n", bcfg.port_path);
        return EXIT_USAGE;
    }
    if (!cli_discovery_known(discovery)) {
        fprintf(stderr, "%s: unknown discovery backend '%s' (sysfs or libusb)\n", prog, discovery);
        return EXIT_USAGE;
    }
    /* ---- Flash line (--boards N, --loop, --report-dir): checks before the image is opened. ---- */
    bool line_mode = line.boards > 0 || line.loop;
    if (line.boards > 0 && line.loop) {
        fprintf(stderr, "%s: --boards and --loop exclude each other\n", prog);
        return EXIT_USAGE;
    }
    if (line_mode && (fcfg.target || report_path)) {
        fprintf(stderr,
                "%s: %s writes one board; with --boards or --loop each board's disk is paired by its port "
                "path and reports go to --report-dir\n",
                prog, fcfg.target ? "--target" : "--report");
        return EXIT_USAGE;
    }
    if (line.http && !line_mode) {
        fprintf(stderr, "%s: --http needs --boards or --loop\n", prog);
        return EXIT_USAGE;
    }
    if (line.http) {
        char addr[128], why[256];
        uint16_t hport;
        if (status_http_parse(line.http, addr, sizeof addr, &hport, why, sizeof why) < 0) {
            fprintf(stderr, "%s: --http %s\n", prog, why);
            return EXIT_USAGE;
        }
    }
    if ((line.report_dir || line.log_dir || line.quiet) && !line_mode) {
        fprintf(stderr, "%s: %s needs --boards or --loop%s\n", prog,
                line.report_dir ? "--report-dir"
                : line.log_dir  ? "--log-dir"
                                : "--quiet",
                line.report_dir ? " (one board: --report FILE)" : "");
        return EXIT_USAGE;
    }
    /* ---- end of the flash line's checks ---- */
    /* ---- Board control (issue 12): the lines of one board, or a map of ports; checked before anything runs. */
    bool control = copts.given || copts.file;
    if (copts.given && copts.file) {
        fprintf(stderr, "%s: give the lines either as options or in --control-file, not both\n", prog);
        return EXIT_USAGE;
    }
    if (line_mode && copts.given) {
        fprintf(stderr, "%s: with --boards or --loop each port has its own lines: put them in --control-file\n", prog);
        return EXIT_USAGE;
    }
    if (!line_mode && copts.file && !bcfg.port_path) {
        fprintf(stderr, "%s: --control-file for one board needs -p PATH (its entry)\n", prog);
        return EXIT_USAGE;
    }
    if (cycle.expect && !control) {
        fprintf(stderr, "%s: --expect-normal needs board control (--boot-gpio/--power-gpio... or --control-file)\n",
                prog);
        return EXIT_USAGE;
    }
    cmboot_control_map *map = NULL;
    if (copts.file) {
        int ec = cli_control_map_load(prog, copts.file, &map);
        if (ec)
            return ec;
    }
    cmboot_control_config ctl_cfg;
    if (control && !line_mode && cli_control_config(&copts, map, bcfg.port_path, &ctl_cfg) != CMBOOT_OK) {
        fprintf(stderr, "%s: %s has no line for port %s\n", prog, copts.file, bcfg.port_path);
        cmboot_control_map_free(map);
        return EXIT_USAGE;
    }
    if (control && !line_mode) {
        ctl_cfg.device_id = bcfg.port_path;
        int ec = flash_cycle_check(prog, &ctl_cfg);
        if (ec) {
            cmboot_control_map_free(map);
            return ec;
        }
    }
    if (line_mode && map) {
        for (size_t i = 0; i < cmboot_control_map_count(map); i++) {
            cmboot_control_config pc;
            (void)cli_control_config(&copts, map, cmboot_control_map_port(map, i), &pc);
            pc.device_id = cmboot_control_map_port(map, i);
            int ec = flash_cycle_check(prog, &pc);
            if (ec) {
                cmboot_control_map_free(map);
                return ec;
            }
        }
    }
    cycle.off_ms = (unsigned)copts.off_ms;
    cycle.sys_root = env.sys_root;
    /* ---- end of board control's checks ---- */
    cmboot_flash_job *job = NULL;
    if (cmboot_flash_job_new(&fcfg, &job) != CMBOOT_OK) {
        cmboot_control_map_free(map);
        return EXIT_HOST;
    }
    cmboot_flash_job_set_pair_timeout(job, pair_timeout);
    if (cmboot_flash_job_open(job) != CMBOOT_OK) {
        int ec = open_failed(job, &fcfg);
        cmboot_flash_job_free(job);
        cmboot_control_map_free(map);
        return ec;
    }
    /* ---- Flash line: the image is usable; the line opens it again for each board. ---- */
    if (line_mode) {
        cmboot_flash_job_free(job);
        line.json = json;
        line.verbosity = verbosity;
        line.discovery = discovery;
        line.pair_timeout_ms = pair_timeout;
        line.control_map = map;
        line.control_opts = &copts;
        line.cycle = &cycle;
        (void)cli_records_open(prog, records_loc, &line.records);
        line.station = cli_records_station(station, host, sizeof host);
        line.image = fcfg.image;
        int ec = flash_line_main(&fcfg, &bcfg, &line);
        cmboot_records_close(line.records);
        cmboot_control_map_free(map);
        return ec;
    }

    /* Booting needs USB: say at once when this host has none instead of waiting for ever. */
    char why[4200];
    if (cli_usb_absent(discovery, why, sizeof why)) {
        fprintf(stderr, "%s: %s, so no board can appear; run `cmboot doctor` for the fix\n", prog, why);
        cmboot_flash_job_free(job);
        cmboot_control_map_free(map);
        return EXIT_HOST;
    }
    flash_ui ui;
    flash_ui_init(&ui, json);
    ui.out.verbosity = verbosity;
    flash_watch watch = {&ui, PTHREAD_MUTEX_INITIALIZER, false, fcfg.target == NULL, NULL};
    cmboot_ctx_config ccfg;
    cmboot_ctx_config_default(&ccfg);
    ccfg.log = flash_log;
    ccfg.event = flash_event;
    ccfg.user = &watch;
    ccfg.log_level = cli_log_level(verbosity);
    cmboot_ctx *ctx = NULL;
    if (cmboot_ctx_new(&ccfg, &ctx) < 0) {
        cmboot_flash_job_free(job);
        cmboot_control_map_free(map);
        return EXIT_HOST;
    }
    /* Ctrl-C or SIGTERM cancels the context: the boot, the wait for the disk and the writer all stop. */
    cli_cancel_on_signals(ctx);
    cmboot_discovery disc;
    int rc = cli_discovery_open(ctx, discovery, &disc);
    if (rc < 0) {
        fprintf(stderr, "cmboot: cannot watch for USB devices: %s (run `cmboot doctor`)\n", cmboot_strerror(rc));
        cli_cancel_targets(NULL, NULL);
        cmboot_ctx_free(ctx);
        cmboot_flash_job_free(job);
        cmboot_control_map_free(map);
        return rc == CMBOOT_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_HOST;
    }
    /* Board control: USB boot mode and a power cycle first (discovery already watches, so nothing is missed). */
    int crc = CMBOOT_OK;
    if (control) {
        ctl_cfg.ctx = ctx;
        crc = cmboot_control_new(&ctl_cfg, &cycle.ctl);
        if (crc == CMBOOT_OK)
            crc = flash_cycle_start(&cycle);
    }
    if (crc != CMBOOT_OK) {
        (void)flash_cycle_release(&cycle);
        disc.ops->destroy(disc.self);
        cli_cancel_targets(NULL, NULL);
        cmboot_ctx_free(ctx);
        if (crc == CMBOOT_ERR_CANCELLED || cli_cancel_requested())
            crc = CMBOOT_ERR_CANCELLED;
        fprintf(stderr, "cmboot flash: board control: %s\n", cmboot_strerror(crc));
        if (cycle.ctl)
            print_control_report(&ui, &cycle, crc, "control", report_path);
        cmboot_control_free(cycle.ctl);
        cmboot_flash_job_free(job);
        cmboot_control_map_free(map);
        return flash_cycle_exit(crc);
    }
    if (!ui.out.json)
        fprintf(stderr, "Waiting for a board in USB boot mode...\n");
    /* A file size limit (ulimit -f) then fails the write with EFBIG: a full target (exit 5), not a crash. */
    signal(SIGXFSZ, SIG_IGN);
    cmboot_records *records = NULL;
    (void)cli_records_open(prog, records_loc, &records);
    watch.view = flash_view_open(&ui, verbosity);
    rc = cmboot_flash_job_run(job, ctx, &disc, &bcfg);
    disc.ops->destroy(disc.self);
    if (control) {
        /* Flashed: normal mode, power cycle, the board's own device. Failed or interrupted: release only. */
        const cmboot_board_result *b = cmboot_flash_job_board(job);
        if (rc == CMBOOT_OK)
            crc = flash_cycle_finish(&cycle, b ? b->port_path : NULL, b ? b->serial : NULL);
        else
            (void)flash_cycle_release(&cycle);
        if (crc != CMBOOT_OK && cli_cancel_requested())
            crc = CMBOOT_ERR_CANCELLED;
    }
    cli_cancel_targets(NULL, NULL); /* the signal thread must not touch a freed context */
    cmboot_ctx_free(ctx);
    flash_view_close(watch.view, job, rc);
    int ec;
    const cmboot_flash_result *res = cmboot_flash_job_flash(job);
    if (!res) {
        ec = boot_or_pair_failed(job, bcfg.wait_first_ms);
        cli_records_job(records, cli_records_station(station, host, sizeof host), fcfg.image, job, NULL);
        if (control) {
            print_control_report(&ui, &cycle, cmboot_flash_job_error(job),
                                 cmboot_flash_job_step(job) == CMBOOT_FLASH_STEP_PAIR ? "pair" : "boot", report_path);
        }
    } else {
        char *text = NULL;
        if (cmboot_flash_job_report_json(job, &text) != CMBOOT_OK)
            text = NULL;
        if (control && text) {
            char *with = flash_cycle_report(&cycle, text);
            free(text);
            text = with;
        }
        cli_records_job(records, cli_records_station(station, host, sizeof host), fcfg.image, job, text);
        ec = flash_print_report(&ui, rc, res, text, cmboot_flash_job_target(job), report_path);
        free(text);
        if (ec == EXIT_OK && crc != CMBOOT_OK) {
            fprintf(stderr, "cmboot flash: flashed, but %s: %s\n",
                    cycle.checked && cycle.normal_rc != CMBOOT_OK ? "the board did not come up in normal mode"
                                                                  : "board control failed after it",
                    cmboot_strerror(crc));
            ec = crc == CMBOOT_ERR_CANCELLED ? EXIT_CANCELLED : EXIT_FAILURE_BOARD;
        }
    }
    cmboot_records_close(records);
    cmboot_control_free(cycle.ctl);
    cmboot_flash_job_free(job);
    cmboot_control_map_free(map);
    return ec;
usage:
    flash_usage(stderr);
    return EXIT_USAGE;
}
