/* `cmboot list`: boards in boot mode and in the mass-storage stage, as a table or JSON. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "cmboot/cmboot.h"
#include "cli_util.h"
#include "commands.h"
#include "discovery_choice.h"
#include "output.h"

#define LIST_MAX 128

static void list_usage(FILE *f)
{
    fprintf(f, "usage: cmboot list [--json] [--discovery=sysfs|libusb] [--wait MS] [-v] [--version]\n\n"
               "Lists Raspberry Pi boards in USB boot mode (ROM, second stage) and in the mass-storage stage,\n"
               "with port path, SoC, stage and serial.\n\n"
               "      --json             one JSON document on stdout\n"
               "      --discovery=NAME   sysfs (default on Linux: works without udev) or libusb\n"
               "      --wait MS          also wait this long for boards to appear (default 100)\n"
               "  -v                     more log output on stderr\n"
               "      --version          print the version\n");
}

static void remember(cmboot_device_info *list, size_t *n, const cmboot_device_event *ev)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(list[i].port_path, ev->dev.port_path) == 0) {
            if (ev->type == CMBOOT_DEVICE_REMOVED) {
                list[i] = list[--*n];
            } else {
                list[i] = ev->dev;
            }
            return;
        }
    }
    if (ev->type == CMBOOT_DEVICE_ADDED && *n < LIST_MAX)
        list[(*n)++] = ev->dev;
}

static int by_port(const void *a, const void *b)
{
    return cmboot_port_path_compare(((const cmboot_device_info *)a)->port_path,
                                    ((const cmboot_device_info *)b)->port_path);
}

static json_object *board_json(const cmboot_device_info *b)
{
    json_object *o = json_object_new_object();
    char id[16];
    json_object_object_add(o, "port_path", json_object_new_string(b->port_path));
    json_object_object_add(o, "soc", b->soc ? json_object_new_string(b->soc->name) : NULL);
    json_object_object_add(o, "stage", json_object_new_string(cmboot_stage_name(b->stage)));
    json_object_object_add(o, "serial", json_object_new_string(b->serial));
    snprintf(id, sizeof id, "%04x:%04x", b->vid, b->pid);
    json_object_object_add(o, "usb_id", json_object_new_string(id));
    json_object_object_add(o, "bus", json_object_new_int(b->busnum));
    json_object_object_add(o, "device", json_object_new_int(b->devnum));
    return o;
}

int cmd_list(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_DISCOVERY, OPT_WAIT, OPT_VERSION };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},       {"discovery", required_argument, NULL, OPT_DISCOVERY},
        {"wait", required_argument, NULL, OPT_WAIT}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION}, {NULL, 0, NULL, 0},
    };
    bool json = false;
    const char *discovery = NULL;
    long wait_ms = 100;
    int verbosity = 0, c;
    uint64_t u;
    static char prog[] = "cmboot list"; /* getopt's messages name argv[0] */
    argv[0] = prog;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = true; break;
        case OPT_DISCOVERY: discovery = optarg; break;
        case OPT_WAIT:
            if (cli_opt_uint(prog, "--wait", optarg, 0, 3600000, &u) < 0)
                return EXIT_USAGE;
            wait_ms = (long)u;
            break;
        case 'v': verbosity++; break;
        case 'h': list_usage(stdout); return EXIT_OK;
        case OPT_VERSION: return cli_print_version();
        default: return cli_usage_hint(prog, EXIT_USAGE);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        return cli_usage_hint(prog, EXIT_USAGE);
    }
    /* Boards cannot appear on a host without USB: say so (exit 4) rather than list nothing. */
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
    ccfg.event = NULL;
    ccfg.user = &out;
    ccfg.log_level = cli_log_level(verbosity);
    cmboot_ctx *ctx;
    if (cmboot_ctx_new(&ccfg, &ctx) < 0)
        return EXIT_HOST;
    cmboot_discovery disc;
    int rc = cli_discovery_open(ctx, discovery, &disc);
    if (rc == CMBOOT_ERR_INVALID_ARG) {
        fprintf(stderr, "%s: unknown discovery backend '%s' (sysfs or libusb)\n", prog, discovery);
        cmboot_ctx_free(ctx);
        return EXIT_USAGE;
    }
    if (rc < 0) {
        fprintf(stderr, "cmboot list: cannot look for USB devices: %s (run `cmboot doctor`)\n", cmboot_strerror(rc));
        cmboot_ctx_free(ctx);
        return rc == CMBOOT_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_HOST;
    }
    static cmboot_device_info boards[LIST_MAX];
    size_t n = 0;
    int64_t deadline = cmboot_now_ms() + wait_ms;
    cmboot_device_event ev;
    while ((rc = disc.ops->next_event(disc.self, &ev, deadline)) == CMBOOT_OK)
        remember(boards, &n, &ev);
    disc.ops->destroy(disc.self);
    cmboot_ctx_free(ctx);
    if (rc != CMBOOT_ERR_TIMEOUT) {
        fprintf(stderr, "cmboot list: %s\n", cmboot_strerror(rc));
        return rc == CMBOOT_ERR_CANCELLED ? EXIT_CANCELLED : EXIT_HOST;
    }
    qsort(boards, n, sizeof boards[0], by_port);
    if (json) {
        json_object *root = json_object_new_object();
        json_object *arr = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(arr, board_json(&boards[i]));
        json_object_object_add(root, "boards", arr);
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
        json_object_put(root);
        return EXIT_OK;
    }
    if (n == 0) {
        printf("No board in boot mode or mass-storage mode found.\n");
        return EXIT_OK;
    }
    printf("%-16s %-8s %-13s %-9s %-18s\n", "PORT", "SOC", "STAGE", "USB ID", "SERIAL");
    for (size_t i = 0; i < n; i++) {
        const cmboot_device_info *b = &boards[i];
        char id[16];
        snprintf(id, sizeof id, "%04x:%04x", b->vid, b->pid);
        printf("%-16s %-8s %-13s %-9s %-18s\n", b->port_path, b->soc ? b->soc->name : "-", cmboot_stage_name(b->stage),
               id, b->serial[0] ? b->serial : "-");
    }
    return EXIT_OK;
}
