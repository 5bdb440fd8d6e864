/* Small parsing helpers shared by the cmboot subcommands. */
#ifndef CMBOOT_CLI_UTIL_H
#define CMBOOT_CLI_UTIL_H
#include <stdint.h>
/* "1.5" -> 1500 ms; -1 for anything that is not a non-negative number of seconds up to 1e6. */
int cli_parse_seconds(const char *s, int64_t *ms);
#endif
