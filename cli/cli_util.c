/* Small parsing helpers shared by the cmboot subcommands. */
#include <stdlib.h>

#include "cli_util.h"

int cli_parse_seconds(const char *s, int64_t *ms)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < 0 || v > 1e6)
        return -1;
    *ms = (int64_t)(v * 1000);
    return 0;
}
