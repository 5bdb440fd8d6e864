/* Names and messages of cmboot_error codes. */
#include <errno.h>

#include "cmboot/error.h"
#include "core/error_map.h"

/* Unsized, so the asserts below catch a code added to the enum without its name and text. */
static const char *const error_names[] = {
    "CMBOOT_OK",
    "CMBOOT_ERR_INVALID_ARG",
    "CMBOOT_ERR_NO_MEMORY",
    "CMBOOT_ERR_IO",
    "CMBOOT_ERR_TIMEOUT",
    "CMBOOT_ERR_NO_DEVICE",
    "CMBOOT_ERR_STALL",
    "CMBOOT_ERR_PROTOCOL",
    "CMBOOT_ERR_SHORT_TRANSFER",
    "CMBOOT_ERR_CANCELLED",
    "CMBOOT_ERR_NOT_FOUND",
    "CMBOOT_ERR_ACCESS",
    "CMBOOT_ERR_UNSAFE_NAME",
    "CMBOOT_ERR_TOO_LARGE",
    "CMBOOT_ERR_ROM_REJECTED",
    "CMBOOT_ERR_UNSUPPORTED",
    "CMBOOT_ERR_ARCHIVE",
    "CMBOOT_ERR_FORMAT",
    "CMBOOT_ERR_BUSY",
    "CMBOOT_ERR_VERIFY",
    "CMBOOT_ERR_UNSAFE_TARGET",
    "CMBOOT_ERR_NO_SPACE",
    "CMBOOT_ERR_OVERFLOW",
    "CMBOOT_ERR_ROM_LOOP",
    "CMBOOT_ERR_REFUSED",
};

static const char *const error_texts[] = {
    "success",
    "invalid argument",
    "out of memory",
    "input/output error",
    "timed out",
    "device went away (re-enumerated or unplugged)",
    "device stalled the request",
    "device broke the protocol",
    "short transfer",
    "cancelled",
    "not found",
    "permission denied",
    "unsafe file name refused",
    "too large",
    "boot ROM rejected the second stage",
    "not supported on this host or build",
    "malformed archive or compressed data",
    "malformed input",
    "resource busy",
    "verification failed: data read back differs",
    "target refused for safety",
    "target smaller than the image",
    "device sent more data than requested",
    "boot ROM came back again and again without running the second stage",
    "device refused the command",
};

_Static_assert(sizeof error_names / sizeof error_names[0] == CMBOOT_ERR_COUNT,
               "error_names needs one entry per cmboot_error code");
_Static_assert(sizeof error_texts / sizeof error_texts[0] == CMBOOT_ERR_COUNT,
               "error_texts needs one entry per cmboot_error code");

const char *cmboot_error_name(int err)
{
    if (err > 0 || err <= -CMBOOT_ERR_COUNT)
        return "CMBOOT_ERR_UNKNOWN";
    return error_names[-err];
}

const char *cmboot_strerror(int err)
{
    if (err > 0 || err <= -CMBOOT_ERR_COUNT)
        return "unknown error";
    return error_texts[-err];
}

int cmb_error_from_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR: return CMBOOT_ERR_NOT_FOUND;
    case EACCES:
    case EPERM: return CMBOOT_ERR_ACCESS;
    case ENOMEM: return CMBOOT_ERR_NO_MEMORY;
    case EBUSY: return CMBOOT_ERR_BUSY;
    case ENODEV:
    case ENXIO: return CMBOOT_ERR_NO_DEVICE; /* a device node whose device is gone */
    default: return CMBOOT_ERR_IO;
    }
}
