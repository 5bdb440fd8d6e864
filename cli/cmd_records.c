/* `cmboot records`: list, show and export the board attempts in the records store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_util.h"
#include "cmboot/error.h"
#include "cmboot/records.h"
#include "commands.h"
#include "records_cli.h"

static void records_usage(FILE *f)
{
    fprintf(f, "usage: cmboot records list [FILTERS] [--json]\n"
               "       cmboot records show SERIAL [--json]\n"
               "       cmboot records export --csv|--jsonl [FILTERS]\n"
               "       (each also takes --records PATH|postgresql://...)\n\n"
               "Every board attempt `cmboot flash` recorded: station, port, serial, metadata, image, time per\n"
               "phase, result (docs/records.md).\n"
               "  --serial SERIAL      only this board\n"
               "  --since DATE         finished at or after DATE (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], local time)\n"
               "  --until DATE         finished before DATE (a day alone: up to the end of that day)\n"
               "  --result ok|failed   only attempts that ended so\n"
               "  --image NAME         only this image (its path, or its file name)\n"
               "  --limit N            at most N (the newest N with --newest)\n"
               "  --newest             newest first (default: oldest first)\n"
               "  --json               list/show: a JSON array of records\n"
               "  --csv, --jsonl       export: CSV with a header line, or one JSON object per line\n"
               "  --records WHERE      the store (default: the one `cmboot flash` writes)\n"
               "  --version            print the version\n\n"
               "exit codes: 0 ok, 2 usage, 4 the store cannot be opened or read.\n");
}

/* A local date or date-time as Unix ms; a day alone is its midnight, *day_only says so. */
static int parse_date(const char *s, int64_t *ms, bool *day_only)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%dT%H:%M", &tm);
    }
    *day_only = false;
    if (!end || *end) {
        memset(&tm, 0, sizeof tm);
        end = strptime(s, "%Y-%m-%d", &tm);
        *day_only = true;
    }
    if (!end || *end)
        return -1;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000;
    return 0;
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static void print_row(const cmboot_record *r)
{
    char when[32] = "-";
    time_t sec = (time_t)(r->finished_ms / 1000);
    struct tm tm;
    if (r->finished_ms >= 0 && localtime_r(&sec, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    const char *img = r->image ? strrchr(r->image, '/') : NULL;
    img = img ? img + 1 : r->image;
    int64_t total = 0;
    const int64_t ph[6] = {r->boot_ms, r->pair_ms, r->check_ms, r->write_ms, r->sync_ms, r->verify_ms};
    for (int i = 0; i < 6; i++)
        total += ph[i] > 0 ? ph[i] : 0;
    printf("%-19s  %-12s  %-10s  %-16s  %-24s  %-22s  %8.1f s\n", when, or_dash(r->station), or_dash(r->port_path),
           or_dash(r->serial), or_dash(img), or_dash(r->result), (double)total / 1000.0);
}

enum {
    OPT_SERIAL = 1000,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_RESULT,
    OPT_IMAGE,
    OPT_LIMIT,
    OPT_NEWEST,
    OPT_JSON,
    OPT_CSV,
    OPT_JSONL,
    OPT_RECORDS,
    OPT_VERSION
};

int cmd_records(int argc, char **argv)
{
    static const struct option opts[] = {
        {"serial", required_argument, NULL, OPT_SERIAL},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"result", required_argument, NULL, OPT_RESULT},
        {"image", required_argument, NULL, OPT_IMAGE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"newest", no_argument, NULL, OPT_NEWEST},
        {"json", no_argument, NULL, OPT_JSON},
        {"csv", no_argument, NULL, OPT_CSV},
        {"jsonl", no_argument, NULL, OPT_JSONL},
        {"records", required_argument, NULL, OPT_RECORDS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    static char prog[] = "cmboot records";
    argv[0] = prog;
    cmboot_records_filter f;
    cmboot_records_filter_default(&f);
    bool json = false, csv = false, jsonl = false, day_only = false;
    const char *loc = NULL;
    uint64_t n;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_SERIAL: f.serial = optarg; break;
        case OPT_SINCE:
        case OPT_UNTIL: {
            int64_t ms;
            if (parse_date(optarg, &ms, &day_only) < 0) {
                fprintf(stderr, "%s: invalid date '%s' (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS])\n", prog, optarg);
                return EXIT_USAGE;
            }
            if (c == OPT_SINCE)
                f.since_ms = ms;
            else
                f.until_ms = day_only ? cmboot_records_day_start(ms + 36 * 3600 * 1000LL) : ms; /* next midnight */
            break;
        }
        case OPT_RESULT: {
            static const char *const results[] = {"ok", "failed"};
            int k = cli_opt_word(prog, "--result", optarg, results, 2);
            if (k < 0)
                return EXIT_USAGE;
            f.result = results[k];
            break;
        }
        case OPT_IMAGE: f.image = optarg; break;
        case OPT_LIMIT:
            if (cli_opt_uint(prog, "--limit", optarg, 1, 100000000, &n) < 0)
                return EXIT_USAGE;
            f.limit = (unsigned)n;
            break;
        case OPT_NEWEST: f.newest_first = true; break;
        case OPT_JSON: json = true; break;
        case OPT_CSV: csv = true; break;
        case OPT_JSONL: jsonl = true; break;
        case OPT_RECORDS: loc = optarg; break;
        case 'h': records_usage(stdout); return EXIT_OK;
        case OPT_VERSION: return cli_print_version();
        default: return cli_usage_hint(prog, EXIT_USAGE);
        }
    }
    const char *verb = optind < argc ? argv[optind] : NULL;
    if (!verb) {
        records_usage(stderr);
        return EXIT_USAGE;
    }
    bool list = strcmp(verb, "list") == 0, show = strcmp(verb, "show") == 0, export = strcmp(verb, "export") == 0;
    if (!list && !show && !export) {
        fprintf(stderr, "%s: unknown action '%s' (list, show or export)\n", prog, verb);
        return EXIT_USAGE;
    }
    int extra = argc - optind - 1;
    if (show) {
        if (extra != 1) {
            fprintf(stderr, "%s: show takes one SERIAL\n", prog);
            return EXIT_USAGE;
        }
        f.serial = argv[optind + 1];
    } else if (extra != 0) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind + 1]);
        return EXIT_USAGE;
    }
    if (export && csv == jsonl) {
        fprintf(stderr, "%s: export takes one of --csv or --jsonl\n", prog);
        return EXIT_USAGE;
    }
    if (!export && (csv || jsonl)) {
        fprintf(stderr, "%s: --csv and --jsonl are for export\n", prog);
        return EXIT_USAGE;
    }
    if (loc && strcmp(loc, "off") == 0) {
        fprintf(stderr, "%s: --records off: no store to read\n", prog);
        return EXIT_USAGE;
    }
    cmboot_records *r = NULL;
    if (cli_records_open(prog, loc, &r) != CMBOOT_OK)
        return EXIT_HOST;
    cmboot_record_list *l = NULL;
    int rc = cmboot_records_query(r, &f, &l);
    if (rc != CMBOOT_OK) {
        fprintf(stderr, "%s: cannot read the records: %s\n", prog, cmboot_strerror(rc));
        cmboot_records_close(r);
        return EXIT_HOST;
    }
    size_t count = cmboot_record_list_count(l);
    if (csv)
        printf("%s\r\n", cmboot_record_csv_header());
    else if (json)
        printf("[");
    else if (!jsonl && count > 0)
        printf("%-19s  %-12s  %-10s  %-16s  %-24s  %-22s  %10s\n", "FINISHED", "STATION", "PORT", "SERIAL", "IMAGE",
               "RESULT", "TIME");
    for (size_t i = 0; i < count; i++) {
        const cmboot_record *rec = cmboot_record_list_get(l, i);
        char *text = NULL;
        if (csv) {
            if (cmboot_record_csv(rec, &text) == CMBOOT_OK)
                printf("%s\r\n", text);
        } else if (json || jsonl) {
            if (cmboot_record_json(rec, &text) == CMBOOT_OK)
                printf(json ? "%s%s" : "%.0s%s\n", json && i ? "," : "", text);
        } else {
            print_row(rec);
            if (show && rec->error)
                printf("    %s\n", rec->error);
        }
        free(text);
    }
    if (json)
        printf("]\n");
    else if (!csv && !jsonl && count == 0)
        fprintf(stderr, "no records%s\n", f.serial || f.since_ms || f.until_ms || f.result || f.image ? " match" : "");
    cmboot_record_list_free(l);
    cmboot_records_close(r);
    return show && count == 0 ? EXIT_NO_BOARD : EXIT_OK;
}
