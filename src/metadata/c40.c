/* FACTORY_UUID decoding: underscore-separated hex words, each half-word three C40 values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmboot/error.h"
#include "cmboot/metadata.h"

static int put_c40(uint32_t v, char *out, size_t size, size_t *pos)
{
    char c;
    if (v >= 4 && v <= 13)
        c = (char)('0' + (v - 4));
    else if (v >= 14 && v <= 39)
        c = (char)('A' + (v - 14));
    else
        return CMBOOT_ERR_FORMAT; /* shifts, space, or past the table: not a UUID; dropping it would misreport */
    if (*pos + 1 >= size)
        return CMBOOT_ERR_TOO_LARGE;
    out[(*pos)++] = c;
    out[*pos] = 0;
    return CMBOOT_OK;
}

static int put_half(uint32_t h, char *out, size_t size, size_t *pos)
{
    uint32_t x = h - 1;
    int rc = put_c40(x / 1600, out, size, pos);
    if (rc == CMBOOT_OK)
        rc = put_c40((x % 1600) / 40, out, size, pos);
    if (rc == CMBOOT_OK)
        rc = put_c40(x % 40, out, size, pos);
    return rc;
}

int cmboot_c40_decode(const char *encoded, char *out, size_t out_size)
{
    if (!encoded || !out || out_size == 0)
        return CMBOOT_ERR_INVALID_ARG;
    out[0] = 0;
    size_t pos = 0;
    const char *p = encoded;
    while (*p) {
        char *end;
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))
            return CMBOOT_ERR_FORMAT;
        unsigned long word = strtoul(p, &end, 16);
        if (end == p || end - p > 8 || (*end && *end != '_'))
            return CMBOOT_ERR_FORMAT;
        if (word == 0)
            break; /* a zero word ends the list */
        uint32_t lo = (uint32_t)word & 0xffff, hi = (uint32_t)word >> 16;
        if (lo == 0)
            return CMBOOT_ERR_FORMAT; /* the low half always holds characters; 0 encodes none */
        int rc = put_half(lo, out, out_size, &pos);
        if (rc < 0)
            return rc;
        if (hi) {
            rc = put_half(hi, out, out_size, &pos);
            if (rc < 0)
                return rc;
        }
        p = *end ? end + 1 : end;
    }
    return CMBOOT_OK;
}
