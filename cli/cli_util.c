/* Small parsing helpers shared by the cmboot subcommands: strict numeric option values, port path order. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli_util.h"
#include "cmboot/error.h"
#include "cmboot/version.h"

/* Decimal digits at *s into *v; false on none or overflow. */
static bool digits(const char **s, uint64_t *v)
{
    const char *p = *s;
    uint64_t n = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *s = p;
    *v = n;
    return true;
}

static int bad(const char *cmd, const char *opt, const char *value, const char *want)
{
    fprintf(stderr, "%s: invalid value '%s' for %s: %s\n", cmd, value, opt, want);
    return -1;
}

int cli_opt_uint(const char *cmd, const char *opt, const char *value, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *p = value;
    uint64_t v;
    if (!digits(&p, &v) || *p || v < min || v > max) {
        char want[96];
        snprintf(want, sizeof want, "expected a whole number from %llu to %llu", (unsigned long long)min,
                 (unsigned long long)max);
        return bad(cmd, opt, value, want);
    }
    *out = v;
    return 0;
}

int cli_opt_word(const char *cmd, const char *opt, const char *value, const char *const *choices, size_t n)
{
    char want[128] = "expected one of";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(value, choices[i]) == 0)
            return (int)i;
        size_t len = strlen(want);
        snprintf(want + len, sizeof want - len, "%s %s", i ? "," : "", choices[i]);
    }
    return bad(cmd, opt, value, want);
}

int cli_opt_bytes(const char *cmd, const char *opt, const char *value, uint64_t min, uint64_t max, uint64_t align,
                  uint64_t *out)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } units[] = {{"", 0}, {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}};
    const char *p = value;
    uint64_t v;
    bool ok = digits(&p, &v);
    if (ok) {
        ok = false;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            if (strcmp(p, units[i].suffix) == 0) {
                ok = v <= (UINT64_MAX >> units[i].shift);
                v <<= units[i].shift;
                break;
            }
        }
    }
    if (!ok || v < min || v > max || (align > 1 && v % align != 0)) {
        char want[160];
        int n = snprintf(want, sizeof want, "expected bytes from %llu to %llu (K, M, G suffixes allowed)",
                         (unsigned long long)min, (unsigned long long)max);
        if (align > 1 && n > 0 && (size_t)n < sizeof want)
            snprintf(want + n, sizeof want - (size_t)n, ", a multiple of %llu", (unsigned long long)align);
        return bad(cmd, opt, value, want);
    }
    *out = v;
    return 0;
}

/* "1.5" for 1500 ms, "30" for 30000. */
static const char *seconds_text(int64_t ms, char *buf, size_t size)
{
    if (ms % 1000 == 0) {
        snprintf(buf, size, "%lld", (long long)(ms / 1000));
    } else {
        snprintf(buf, size, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
        for (char *e = buf + strlen(buf) - 1; *e == '0'; e--)
            *e = 0;
    }
    return buf;
}

int cli_opt_seconds(const char *cmd, const char *opt, const char *value, int64_t min_ms, int64_t max_ms, int64_t *ms)
{
    const char *p = value;
    uint64_t whole = 0, frac = 0;
    bool ok = true;
    if (*p == '.')
        whole = 0; /* ".5" */
    else
        ok = digits(&p, &whole);
    if (ok && *p == '.') {
        p++;
        const char *f = p;
        ok = digits(&p, &frac) && p - f <= 3; /* milliseconds are the resolution */
        for (ptrdiff_t n = p - f; ok && n < 3; n++)
            frac *= 10;
    }
    ok = ok && !*p && whole <= (uint64_t)(INT64_MAX / 1000) - 1;
    int64_t v = ok ? (int64_t)whole * 1000 + (int64_t)frac : 0;
    if (!ok || v < min_ms || v > max_ms) {
        char a[32], b[32], want[128];
        snprintf(want, sizeof want, "expected seconds from %s to %s (e.g. 30 or 1.5)",
                 seconds_text(min_ms, a, sizeof a), seconds_text(max_ms, b, sizeof b));
        return bad(cmd, opt, value, want);
    }
    *ms = v;
    return 0;
}

int cli_usage_hint(const char *cmd, int code)
{
    fprintf(stderr, "Run '%s --help' for the options.\n", cmd);
    return code;
}

const char *cli_boot_failure_text(int rc, unsigned boards, int64_t wait_first_ms, const char *cause, char *buf,
                                  size_t size)
{
    switch (rc) {
    case CMBOOT_ERR_TIMEOUT:
        if (!boards) {
            char t[32];
            snprintf(buf, size, "no board appeared within %s s (--timeout)", seconds_text(wait_first_ms, t, sizeof t));
            return buf;
        }
        break;
    case CMBOOT_ERR_NOT_FOUND:
        if (!boards)
            return "no boot files for any board (pass -d DIR with the boot files, or install rpiboot; -v shows where "
                   "cmboot looked)";
        break;
    case CMBOOT_ERR_CANCELLED:
        snprintf(buf, size, "interrupted%s%s%s", cause ? " (" : "", cause ? cause : "", cause ? ")" : "");
        return buf;
    case CMBOOT_ERR_ACCESS: return "permission denied; run `cmboot doctor` for the fix";
    default: break;
    }
    snprintf(buf, size, "%s failed: %s", boards > 1 ? "a board" : "the board", cmboot_strerror(rc));
    return buf;
}

int cli_print_version(void)
{
    printf("cmboot %s\n", cmboot_version());
    return 0;
}
