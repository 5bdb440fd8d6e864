/* Port paths ("BUS-P1.P2..."): the name of a physical port that survives re-enumeration. */
#include <stdio.h>
#include <string.h>

#include "cmboot/device.h"
#include "cmboot/error.h"

/* USB allows at most 7 tiers below the root hub; ports and buses are 1..255. */
#define PORT_DEPTH_MAX 7

int cmboot_port_path_format(char *out, size_t size, uint8_t bus, const uint8_t *ports, int depth)
{
    if (!out || size == 0 || depth < 1 || depth > PORT_DEPTH_MAX || !ports || bus == 0)
        return CMBOOT_ERR_INVALID_ARG;
    size_t used = 0;
    int n = snprintf(out, size, "%u-", (unsigned)bus);
    if (n < 0 || (size_t)n >= size)
        goto too_large;
    used = (size_t)n;
    for (int i = 0; i < depth; i++) {
        if (ports[i] == 0)
            return CMBOOT_ERR_INVALID_ARG;
        n = snprintf(out + used, size - used, i ? ".%u" : "%u", (unsigned)ports[i]);
        if (n < 0 || (size_t)n >= size - used)
            goto too_large;
        used += (size_t)n;
    }
    return CMBOOT_OK;
too_large:
    out[0] = '\0';
    return CMBOOT_ERR_TOO_LARGE;
}

/* Parses a decimal number 1..255 without sign or leading zero; returns chars used, 0 if none. */
static size_t parse_small(const char *s, unsigned *value)
{
    size_t i = 0;
    unsigned v = 0;
    if (s[0] == '0')
        return 0;
    while (s[i] >= '0' && s[i] <= '9' && i < 3) {
        v = v * 10 + (unsigned)(s[i] - '0');
        i++;
    }
    if (i == 0 || v > 255 || (s[i] >= '0' && s[i] <= '9'))
        return 0;
    *value = v;
    return i;
}

int cmboot_port_path_valid(const char *port_path)
{
    if (!port_path || strlen(port_path) >= CMBOOT_PORT_PATH_MAX)
        return 0;
    unsigned v;
    size_t i = parse_small(port_path, &v);
    if (i == 0 || port_path[i] != '-')
        return 0;
    i++;
    for (int depth = 0;; depth++) {
        size_t n = parse_small(port_path + i, &v);
        if (n == 0 || depth >= PORT_DEPTH_MAX)
            return 0;
        i += n;
        if (port_path[i] == '\0')
            return 1;
        if (port_path[i] != '.')
            return 0;
        i++;
    }
}

int cmboot_port_path_last_port(const char *port_path)
{
    if (!cmboot_port_path_valid(port_path))
        return -1;
    const char *p = strrchr(port_path, '.');
    if (!p)
        p = strchr(port_path, '-');
    unsigned v = 0;
    if (parse_small(p + 1, &v) == 0)
        return -1;
    return (int)v;
}

int cmboot_port_path_compare(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            /* Compare the numbers: fewer significant digits is smaller, then digit by digit. */
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
            if (la != lb)
                return la < lb ? -1 : 1;
            int c = strncmp(a, b, la);
            if (c)
                return c;
            a += la;
            b += lb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}
