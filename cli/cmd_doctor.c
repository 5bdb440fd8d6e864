/* `cmboot doctor`: runs the host checks and prints each finding with its fix; non-zero when blocked. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/cmboot.h"
#include "cmboot/doctor.h"
#include "cli_util.h"
#include "commands.h"

static void doctor_usage(FILE *f)
{
    fprintf(f,
            "usage: cmboot doctor [--json] [-d DIR] [--sys-root DIR] [--dev-root DIR] [--proc-root DIR]\n"
            "                     [--kernel-config FILE]\n\n"
            "Checks this host for every reason a board in USB boot mode could be invisible or unusable\n"
            "and says how to fix each. Exits %d when something blocks cmboot, 0 otherwise.\n\n"
            "      --json                 one JSON document on stdout\n"
            "  -d, --dir DIR              check this boot files directory (default: where cmboot looks without -d)\n"
            "      --sys-root DIR         sysfs to inspect (default /sys)\n"
            "      --dev-root DIR         device nodes to inspect (default /dev)\n"
            "      --proc-root DIR        procfs to inspect (default /proc)\n"
            "      --kernel-config FILE   kernel config (default /proc/config.gz, /boot/config-RELEASE)\n"
            "      --version              print the version\n",
            EXIT_HOST);
}

static const char *tag(cmboot_doctor_severity s)
{
    switch (s) {
    case CMBOOT_DOCTOR_OK: return "  ok   ";
    case CMBOOT_DOCTOR_INFO: return " info  ";
    case CMBOOT_DOCTOR_WARN: return " WARN  ";
    case CMBOOT_DOCTOR_BLOCKER: return "BLOCKER";
    }
    return "   ?   ";
}

static void print_json(const cmboot_doctor_report *r, const cmboot_doctor_config *cfg)
{
    json_object *root = json_object_new_object();
    /* The kernel's usb-storage and sd_mod, as `cmboot flash --via auto` sees them. */
    cmboot_host_module us = CMBOOT_MODULE_UNKNOWN, sd = CMBOOT_MODULE_UNKNOWN;
    if (cmboot_host_usb_storage(cfg->sys_root, cfg->proc_root, cfg->modules_dir, &us, &sd) == CMBOOT_OK) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "usb_storage", json_object_new_string(cmboot_host_module_name(us)));
        json_object_object_add(m, "sd_mod", json_object_new_string(cmboot_host_module_name(sd)));
        json_object_object_add(m, "present",
                               json_object_new_boolean(cmboot_host_module_usable(us) && cmboot_host_module_usable(sd)));
        json_object_object_add(root, "host_usb_storage", m);
    }
    json_object *arr = json_object_new_array();
    for (size_t i = 0; i < cmboot_doctor_report_findings(r); i++) {
        const cmboot_doctor_finding *f = cmboot_doctor_report_finding(r, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(f->id));
        json_object_object_add(o, "severity", json_object_new_string(cmboot_doctor_severity_name(f->severity)));
        json_object_object_add(o, "device", json_object_new_string(f->device));
        json_object_object_add(o, "text", json_object_new_string(f->text));
        json_object_object_add(o, "fix", json_object_new_string(f->fix));
        json_object_array_add(arr, o);
    }
    json_object_object_add(root, "findings", arr);
    json_object *boards = json_object_new_array();
    for (size_t i = 0; i < cmboot_doctor_report_boards(r); i++) {
        const cmboot_device_info *b = cmboot_doctor_report_board(r, i);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "port_path", json_object_new_string(b->port_path));
        json_object_object_add(o, "soc", b->soc ? json_object_new_string(b->soc->name) : NULL);
        json_object_object_add(o, "stage", json_object_new_string(cmboot_stage_name(b->stage)));
        json_object_object_add(o, "serial", json_object_new_string(b->serial));
        json_object_array_add(boards, o);
    }
    json_object_object_add(root, "boards", boards);
    cmboot_doctor_severity worst = cmboot_doctor_worst(r);
    json_object_object_add(root, "worst", json_object_new_string(cmboot_doctor_severity_name(worst)));
    json_object_object_add(root, "usable", json_object_new_boolean(worst != CMBOOT_DOCTOR_BLOCKER));
    puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
}

static void print_text(const cmboot_doctor_report *r)
{
    size_t blockers = 0, warnings = 0;
    for (size_t i = 0; i < cmboot_doctor_report_findings(r); i++) {
        const cmboot_doctor_finding *f = cmboot_doctor_report_finding(r, i);
        printf("[%s] %s\n", tag(f->severity), f->text);
        if (f->fix[0] && f->severity != CMBOOT_DOCTOR_OK)
            printf("          fix: %s\n", f->fix);
        blockers += f->severity == CMBOOT_DOCTOR_BLOCKER;
        warnings += f->severity == CMBOOT_DOCTOR_WARN;
    }
    printf("\n");
    if (blockers)
        printf("cmboot cannot work on this host until the %zu blocker%s above %s fixed.\n", blockers,
               blockers == 1 ? "" : "s", blockers == 1 ? "is" : "are");
    else if (warnings)
        printf("cmboot can work here; %zu warning%s above may still stop some boards or stages.\n", warnings,
               warnings == 1 ? "" : "s");
    else
        printf("Everything cmboot needs is in place.\n");
}

int cmd_doctor(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_SYS, OPT_DEV, OPT_PROC, OPT_KCONFIG, OPT_VERSION };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"sys-root", required_argument, NULL, OPT_SYS},
        {"dev-root", required_argument, NULL, OPT_DEV},
        {"proc-root", required_argument, NULL, OPT_PROC},
        {"kernel-config", required_argument, NULL, OPT_KCONFIG},
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    cmboot_doctor_config cfg;
    cmboot_doctor_config_default(&cfg);
    bool json = false;
    int c;
    static char prog[] = "cmboot doctor"; /* getopt's messages name argv[0] */
    argv[0] = prog;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hd:", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: json = true; break;
        case OPT_SYS: cfg.sys_root = optarg; break;
        case OPT_DEV: cfg.dev_root = optarg; break;
        case OPT_PROC: cfg.proc_root = optarg; break;
        case OPT_KCONFIG: cfg.kernel_config = optarg; break;
        case 'd': cfg.boot_dir = optarg; break;
        case 'h': doctor_usage(stdout); return EXIT_OK;
        case OPT_VERSION: return cli_print_version();
        default: return cli_usage_hint(prog, EXIT_USAGE);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        return cli_usage_hint(prog, EXIT_USAGE);
    }
    cmboot_doctor_report *r = NULL;
    int rc = cmboot_doctor_report_new(&r);
    if (rc == CMBOOT_OK)
        rc = cmboot_doctor_run(&cfg, r);
    if (rc != CMBOOT_OK) {
        fprintf(stderr, "cmboot doctor: %s\n", cmboot_strerror(rc));
        cmboot_doctor_report_free(r);
        return EXIT_HOST;
    }
    if (json)
        print_json(r, &cfg);
    else
        print_text(r);
    int code = cmboot_doctor_worst(r) == CMBOOT_DOCTOR_BLOCKER ? EXIT_HOST : EXIT_OK;
    cmboot_doctor_report_free(r);
    return code;
}
