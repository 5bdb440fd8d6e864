/* cmboot entry point: subcommands, and rpiboot's command line when none is given. */
#include <stdio.h>
#include <string.h>

#include "cmboot/cmboot.h"
#include "cli_util.h"
#include "commands.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"boot", cmd_boot, "boot boards in USB boot mode (default; accepts rpiboot's flags)"},
    {"list", cmd_list, "list boards in boot mode and in the mass-storage stage"},
    {"doctor", cmd_doctor, "check this host and explain what stops boards from being seen or used"},
    {"flash", cmd_flash, "boot a board, find its disk, write, verify and report an image"},
    {"write", cmd_write, "write and verify an image onto a disk that is already there"},
    {"power", cmd_control, "switch a board's power: on, off or cycle (GPIO, hub port, hook command)"},
    {"records", cmd_records, "list, show and export the records of every board attempt (docs/records.md)"},
    {"mode", cmd_control, "set a board's boot mode: usb or normal (nRPIBOOT by GPIO or hook command)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: cmboot [COMMAND] [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nWithout a command, cmboot behaves like rpiboot: `cmboot -d DIR` == `cmboot boot -d DIR`.\n"
               "`cmboot COMMAND --help` for the options of each command; exit codes are in docs/cli.md.\n\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2) {
        if (strcmp(argv[1], "help") == 0 && argc >= 3) { /* `cmboot help flash` == `cmboot flash --help` */
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *cmd_help[] = {argv[2], (char *)"--help", NULL};
                    return commands[i].fn(2, cmd_help);
                }
            }
            fprintf(stderr, "cmboot: unknown command '%s'\n", argv[2]);
            usage(stderr);
            return EXIT_USAGE;
        }
        if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
            usage(stdout);
            char *boot_help[] = {"boot", "--help", NULL};
            return cmd_boot(2, boot_help);
        }
        if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
            return cli_print_version();
        }
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (strcmp(argv[1], commands[i].name) == 0)
                return commands[i].fn(argc - 1, argv + 1);
        if (argv[1][0] != '-') {
            fprintf(stderr, "cmboot: unknown command '%s'\n", argv[1]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    /* rpiboot compatibility: flags only, so this is a boot. argv[0] stands in for the command name. */
    return cmd_boot(argc, argv);
}
