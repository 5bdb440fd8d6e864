/* Small parsing helpers shared by the cmboot subcommands. */
#ifndef CMBOOT_CLI_UTIL_H
#define CMBOOT_CLI_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* Strict parsers for the values of numeric options: the whole value must be a number in [min, max] (no
 * sign, blank, exponent or trailing text; no overflow). On failure each prints one line on stderr naming
 * `cmd` ("cmboot boot"), the option ("--timeout") and the value, and returns -1; the caller exits with its
 * usage status. */
/* A whole number. */
int cli_opt_uint(const char *cmd, const char *opt, const char *value, uint64_t min, uint64_t max, uint64_t *out);
/* A byte count, with an optional K/KiB, M/MiB or G/GiB suffix (powers of 1024); a multiple of align (> 0). */
int cli_opt_bytes(const char *cmd, const char *opt, const char *value, uint64_t min, uint64_t max, uint64_t align,
                  uint64_t *out);
/* Seconds with at most three decimals ("1.5") as milliseconds. */
int cli_opt_seconds(const char *cmd, const char *opt, const char *value, int64_t min_ms, int64_t max_ms, int64_t *ms);

/* One word of a fixed list (exact, case-sensitive): its index in choices[0..n), or -1 after the line naming
 * the option, the value and the choices. */
int cli_opt_word(const char *cmd, const char *opt, const char *value, const char *const *choices, size_t n);

/* What stopped a boot, for a person: cmboot_strerror(rc) with what the CLI knows around it (boards: how many
 * were seen; cause: what cancelled it, NULL if unknown). Never an enum name. */
const char *cli_boot_failure_text(int rc, unsigned boards, int64_t wait_first_ms, const char *cause, char *buf,
                                  size_t size);

/* `--version` of every subcommand: the line `cmboot --version` prints; returns 0 (the exit status). */
int cli_print_version(void);

/* One line on stderr pointing to `cmd --help` after a getopt error; returns code. */
int cli_usage_hint(const char *cmd, int code);
#endif
