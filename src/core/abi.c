/* Caller-allocated structs that grow: struct_size first, members past it take the library's defaults. */
#include <string.h>

#include "cmboot/error.h"
#include "core/abi.h"

size_t cmb_struct_size(const void *p)
{
    size_t n = 0;
    if (p)
        memcpy(&n, p, sizeof n);
    return n;
}

int cmb_struct_load(void *dst, size_t known, const void *src, size_t min)
{
    size_t n = cmb_struct_size(src);
    if (!src || n < min || n < sizeof n)
        return CMBOOT_ERR_INVALID_ARG;
    if (n > known) {
        const unsigned char *tail = (const unsigned char *)src + known;
        for (size_t i = 0; i < n - known; i++)
            if (tail[i])
                return CMBOOT_ERR_UNSUPPORTED;
        n = known;
    }
    memcpy(dst, src, n);
    memcpy(dst, &known, sizeof known);
    return CMBOOT_OK;
}

int cmb_struct_init(void *dst, size_t struct_size, const void *defaults, size_t known, size_t min)
{
    if (!dst || struct_size < min || struct_size < sizeof struct_size)
        return CMBOOT_ERR_INVALID_ARG;
    size_t n = struct_size < known ? struct_size : known;
    memcpy(dst, defaults, n);
    if (struct_size > n)
        memset((unsigned char *)dst + n, 0, struct_size - n);
    memcpy(dst, &struct_size, sizeof struct_size);
    return CMBOOT_OK;
}
