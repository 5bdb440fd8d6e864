/* `cmboot write IMAGE DEV`: write and verify an image onto a disk that is already there (like bmaptool copy). */
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmboot/text.h"
#include "cli_util.h"
#include "cmd_write.h"
#include "commands.h"
#include "signals.h"

void flash_ui_init(flash_ui *ui, bool json)
{
    memset(ui, 0, sizeof *ui);
    cli_output_init(&ui->out, json || !isatty(STDERR_FILENO), 0);
}

void flash_env_from_environment(cmboot_target_env *env)
{
    cmboot_target_env_default(env);
    env->proc_root = getenv("CMBOOT_PROC_ROOT");
    env->sys_root = getenv("CMBOOT_SYS_ROOT");
    env->dev_root = getenv("CMBOOT_DEV_ROOT");
}

static void draw_bar(flash_ui *ui, const cmboot_event *ev)
{
    char done[32], total[32], rate_s[32], eta[32] = "--:--";
    double secs = (double)ev->elapsed_ms / 1000.0;
    double rate = secs > 0 ? (double)ev->done / secs : 0;
    cli_human_bytes((double)ev->done, done, sizeof done);
    cli_human_bytes(rate, rate_s, sizeof rate_s);
    char bar[31];
    int pct = -1;
    if (ev->total > 0) {
        pct = (int)(100.0 * (double)ev->done / (double)ev->total);
        if (pct > 100)
            pct = 100;
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        cli_human_bytes((double)ev->total, total, sizeof total);
        if (rate > 0 && ev->total >= ev->done) {
            unsigned long left = (unsigned long)((double)(ev->total - ev->done) / rate);
            snprintf(eta, sizeof eta, "%lu:%02lu", left / 60, left % 60);
        }
        fprintf(stderr, "\r\033[K%s%s%s %-6s [%s] %3d%% %s / %s  %s/s  ETA %s", *ev->device_id ? "[" : "",
                ev->device_id, *ev->device_id ? "] " : "", ev->name, bar, pct, done, total, rate_s, eta);
    } else {
        fprintf(stderr, "\r\033[K%s%s%s %-6s %s  %s/s", *ev->device_id ? "[" : "", ev->device_id,
                *ev->device_id ? "] " : "", ev->name, done, rate_s);
    }
    ui->bar_drawn = true;
    fflush(stderr);
}

void flash_ui_event(void *user, const cmboot_event *ev)
{
    flash_ui *ui = user;
    if (ui->out.json) {
        cli_event_cb(&ui->out, ev);
        return;
    }
    if (ev->type == CMBOOT_EV_PROGRESS) {
        draw_bar(ui, ev);
        return;
    }
    if (ev->type == CMBOOT_EV_PHASE) {
        if (ui->bar_drawn)
            fputc('\n', stderr);
        ui->bar_drawn = false;
        if (strcmp(ev->name, "done") != 0 && strcmp(ev->name, "failed") != 0)
            fprintf(stderr, "%s%s%s%s %s\n", *ev->device_id ? "[" : "", ev->device_id, *ev->device_id ? "] " : "",
                    ev->name, ev->value);
        return;
    }
    cli_event_cb(&ui->out, ev);
}

/* Exit 6 (refused) only when nothing reached the target: after the first write, any failure is exit 5. */
int flash_exit_code(int rc, bool touched)
{
    if (touched && rc != CMBOOT_OK && rc != CMBOOT_ERR_CANCELLED)
        return EXIT_FLASH;
    switch (rc) {
    case CMBOOT_OK: return EXIT_OK;
    case CMBOOT_ERR_UNSAFE_TARGET:
    case CMBOOT_ERR_BUSY:
    case CMBOOT_ERR_NO_SPACE: return EXIT_REFUSED;
    case CMBOOT_ERR_ACCESS: return EXIT_HOST;
    case CMBOOT_ERR_CANCELLED: return EXIT_CANCELLED;
    case CMBOOT_ERR_NOT_FOUND:
    case CMBOOT_ERR_INVALID_ARG: return EXIT_USAGE;
    default: return EXIT_FLASH;
    }
}

int flash_print_report(flash_ui *ui, int rc, const cmboot_flash_result *res, const char *report_text,
                       const char *target, const char *report_path)
{
    if (report_text) {
        if (ui->out.json) {
            json_object *o = json_tokener_parse(report_text);
            json_object *line = json_object_new_object();
            json_object_object_add(line, "event", json_object_new_string("report"));
            json_object_object_add(line, "report", o);
            cli_stdout_report(json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN));
            json_object_put(line);
        } else {
            cli_stdout_report(report_text);
        }
        fflush(stdout);
        if (report_path) {
            FILE *f = fopen(report_path, "w");
            if (!f || fprintf(f, "%s\n", report_text) < 0 || fclose(f) != 0)
                fprintf(stderr, "cmboot: cannot write the report to %s\n", report_path);
        }
    }
    if (rc == CMBOOT_OK && !ui->out.json) {
        char a[32];
        fprintf(stderr, "wrote %s to %s in %.1f s%s\n", cli_human_bytes((double)res->bytes_written, a, sizeof a),
                target,
                (double)(cmboot_flash_result_phase_ms(res, CMBOOT_FLASH_PHASE_WRITE) +
                         cmboot_flash_result_phase_ms(res, CMBOOT_FLASH_PHASE_SYNC)) /
                    1000.0,
                res->verified        ? ", verified"
                : res->not_read_back ? " (written, not read back)"
                                     : " (not verified)");
    } else if (rc != CMBOOT_OK) {
        /* Also beside JSON (off a terminal): one line a person reads in a log; the report names the code. */
        int ec = flash_exit_code(rc, res->target_touched);
        char *why = res->reason[0] ? cmboot_text_terminal(res->reason, NULL) : NULL;
        if (why)
            fprintf(stderr, "cmboot: %s%s\n", why, ec == EXIT_REFUSED ? " (nothing was written)" : "");
        else
            fprintf(stderr, "cmboot: %s: %s\n",
                    ec == EXIT_REFUSED     ? "target refused, nothing was written"
                    : ec == EXIT_CANCELLED ? "interrupted"
                                           : "writing failed",
                    cmboot_strerror(rc));
        free(why);
    }
    return flash_exit_code(rc, res->target_touched);
}

/* `write`: the writer alone, cancelled by signals through its own canceller. */
static int write_and_report(flash_ui *ui, cmboot_flash_config *cfg, const char *report_path)
{
    cmboot_flash_result res;
    cmboot_flash_result_default(&res);
    cfg->event = flash_ui_event;
    cfg->user = ui;
    /* A file size limit (ulimit -f) then fails the write with EFBIG: a full target (exit 5), not a crash. */
    signal(SIGXFSZ, SIG_IGN);
    /* Ctrl-C or SIGTERM stops the writer between two buffers: exit 130 with a report, threads joined. */
    cmboot_flash_canceller *cancel = NULL;
    if (cmboot_flash_canceller_new(&cancel) != CMBOOT_OK) {
        fprintf(stderr, "cmboot: out of memory\n");
        return EXIT_HOST;
    }
    cfg->cancel = cancel;
    cli_cancel_targets(NULL, cancel);
    int rc = cmboot_flash_write(cfg, &res);
    cli_cancel_targets(NULL, NULL);
    cfg->cancel = NULL;
    cmboot_flash_canceller_free(cancel);
    cmboot_flash_report rep;
    cmboot_flash_report_default(&rep);
    rep.image = cfg->image;
    rep.bmap = cfg->bmap;
    rep.target = cfg->target;
    rep.flash = &res;
    char *text = NULL;
    if (cmboot_flash_report_json(&rep, &text) != CMBOOT_OK)
        text = NULL;
    int ec = flash_print_report(ui, rc, &res, text, cfg->target, report_path);
    free(text);
    return ec;
}

static void write_usage(FILE *f)
{
    fprintf(f, "usage: cmboot write IMAGE DEV [--bmap FILE] [--no-verify] [--force] [--partition-ok] [--create]\n"
               "                    [--raw] [--json] [--report FILE]\n\n"
               "Writes IMAGE (raw, .gz, .xz, .zst, .bz2 or .zip) onto DEV (a block device or a regular file),\n"
               "then reads it back past the page cache and compares SHA-256. DEV is opened once: the disk checked\n"
               "is the disk written and read back.\n"
               "  --bmap FILE        write only the blocks the bmap maps (checks its checksums)\n"
               "  --no-verify        skip the read-back (and the image SHA-256: the report shows null)\n"
               "  --force            allow a disk that is not on USB (never the host's root or boot disk)\n"
               "  --raw              write IMAGE's bytes as they are (no decompression, whatever its name says)\n"
               "  --partition-ok     allow a partition (sdb1) instead of a whole disk\n"
               "  --create           create DEV as an image file when it does not exist (never under /dev;\n"
               "                     a name ending in .img is created without it); a longer file is cut to the image\n"
               "  --json             events and the report as JSON lines on stdout\n"
               "  --report FILE      also save the JSON report in FILE\n"
               "  --buffer-size N    bytes per buffer, --buffers N (default 4 x 1 MiB raw; compressed: 4 x 256 KiB,\n"
               "                     8 x 256 KiB with --no-verify and no bmap); 12 MiB in all at most\n"
               "  --threads N        xz decoder threads for a multi-block .xz (default: the online cores)\n"
               "  --max-memory SIZE  cap on queue + decoder memory (e.g. 16M); an xz image needing more is refused\n"
               "  --version          print the version\n\n"
               "exit codes: 0 ok, 2 usage (or DEV does not exist), 4 host problem, 5 write or verification failed\n"
               "(also: the target filled up mid-write), 6 target refused (nothing written), 130 interrupted.\n");
}

#define WRITE_QUEUE_MAX (12u << 20) /* buffers x buffer size the writer accepts (src/flash/writer.c) */

enum { OPT_BMAP = 1000, OPT_NO_VERIFY, OPT_FORCE, OPT_JSON, OPT_REPORT, OPT_BUFSIZE, OPT_BUFFERS, OPT_RAW };
enum { OPT_CREATE = 1100, OPT_PARTITION_OK, OPT_VERSION, OPT_THREADS, OPT_MAX_MEMORY };

int cmd_write(int argc, char **argv)
{
    static const struct option opts[] = {
        {"bmap", required_argument, NULL, OPT_BMAP},
        {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
        {"force", no_argument, NULL, OPT_FORCE},
        {"raw", no_argument, NULL, OPT_RAW},
        {"create", no_argument, NULL, OPT_CREATE},
        {"partition-ok", no_argument, NULL, OPT_PARTITION_OK},
        {"json", no_argument, NULL, OPT_JSON},
        {"report", required_argument, NULL, OPT_REPORT},
        {"buffer-size", required_argument, NULL, OPT_BUFSIZE},
        {"buffers", required_argument, NULL, OPT_BUFFERS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    cmboot_flash_config cfg;
    cmboot_flash_config_default(&cfg);
    cmboot_target_env env;
    flash_env_from_environment(&env);
    cfg.env = &env;
    bool json = false;
    const char *report_path = NULL;
    uint64_t u;
    static char prog[] = "cmboot write"; /* getopt's messages name argv[0] */
    argv[0] = prog;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_BMAP: cfg.bmap = optarg; break;
        case OPT_NO_VERIFY: cfg.verify = cfg.image_digest = false; break;
        case OPT_FORCE: cfg.target_flags |= CMBOOT_TARGET_FORCE; break;
        case OPT_RAW: cfg.source_flags |= CMBOOT_SOURCE_RAW; break;
        case OPT_CREATE: cfg.target_flags |= CMBOOT_TARGET_CREATE; break;
        case OPT_PARTITION_OK: cfg.target_flags |= CMBOOT_TARGET_PARTITION_OK; break;
        case OPT_JSON: json = true; break;
        case OPT_REPORT: report_path = optarg; break;
        case OPT_BUFSIZE: /* the writer's limits: direct I/O alignment, 12 MiB of queue in all */
            if (cli_opt_bytes(prog, "--buffer-size", optarg, 4096, WRITE_QUEUE_MAX / 2, 4096, &u) < 0)
                return EXIT_USAGE;
            cfg.buffer_size = (size_t)u;
            break;
        case OPT_BUFFERS:
            if (cli_opt_uint(prog, "--buffers", optarg, 2, WRITE_QUEUE_MAX / 4096, &u) < 0)
                return EXIT_USAGE;
            cfg.buffers = (unsigned)u;
            break;
        case OPT_THREADS:
            if (cli_opt_uint(prog, "--threads", optarg, 1, 1024, &u) < 0)
                return EXIT_USAGE;
            cfg.threads = (unsigned)u;
            break;
        case OPT_MAX_MEMORY:
            if (cli_opt_bytes(prog, "--max-memory", optarg, 1u << 20, (uint64_t)1 << 40, 1, &u) < 0)
                return EXIT_USAGE;
            cfg.max_memory = u;
            break;
        case 'h': write_usage(stdout); return EXIT_OK;
        case OPT_VERSION: return cli_print_version();
        default: return cli_usage_hint(prog, EXIT_USAGE);
        }
    }
    /* Unset, they are at most 4 buffers, of at most 1 MiB (by source): the queue must fit the writer's cap. */
    unsigned nbuf = cfg.buffers ? cfg.buffers : 4;
    size_t bufsize = cfg.buffer_size ? cfg.buffer_size : (size_t)1 << 20;
    if ((uint64_t)nbuf * bufsize > WRITE_QUEUE_MAX) {
        fprintf(stderr,
                "%s: %u buffers of %zu bytes (--buffers, --buffer-size) are more than the %u MiB the writer "
                "may queue\n",
                prog, nbuf, bufsize, WRITE_QUEUE_MAX >> 20);
        return EXIT_USAGE;
    }
    if (argc - optind > 2) {
        fprintf(stderr, "%s: unexpected argument '%s' (IMAGE and DEV only)\n", prog, argv[optind + 2]);
        return cli_usage_hint(prog, EXIT_USAGE);
    }
    if (argc - optind != 2) {
        write_usage(stderr);
        return EXIT_USAGE;
    }
    cfg.image = argv[optind];
    cfg.target = argv[optind + 1];
    flash_ui ui;
    flash_ui_init(&ui, json);
    return write_and_report(&ui, &cfg, report_path);
}
