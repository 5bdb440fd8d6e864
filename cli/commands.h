/* Subcommands of the cmboot tool; each lives in its own cli/cmd_*.c. */
#ifndef CMBOOT_CLI_COMMANDS_H
#define CMBOOT_CLI_COMMANDS_H

/* Exit codes (documented in docs/cli.md). */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_BOARD = 1, /* a board failed (protocol, I/O, vanished) */
    EXIT_USAGE = 2,         /* bad command line */
    EXIT_NO_BOARD = 3,      /* no matching board appeared in time */
    EXIT_HOST = 4,          /* the host cannot do it (doctor found a blocker, no permission) */
    EXIT_FLASH = 5,         /* writing or verification failed */
    EXIT_REFUSED = 6,       /* target refused for safety */
    EXIT_CANCELLED = 130,
    EXIT_REFERENCE_USAGE = 255 /* bad command line in rpiboot mode (no subcommand): rpiboot's exit(-1) */
};

/* argv[0] is the subcommand name. */
int cmd_boot(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_flash(int argc, char **argv);
int cmd_write(int argc, char **argv);
/* `power` and `mode` (argv[0] says which). */
int cmd_control(int argc, char **argv);
/* `records list|show|export`: the records store (issue 15). */
int cmd_records(int argc, char **argv);

#endif
