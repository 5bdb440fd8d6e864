/* Error vocabulary of libcmboot: one negative enum, names and messages. */
#ifndef CMBOOT_ERROR_H
#define CMBOOT_ERROR_H

#include "cmboot/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cmboot_error {
    CMBOOT_OK = 0,
    CMBOOT_ERR_INVALID_ARG = -1, /* caller passed something unusable */
    CMBOOT_ERR_NO_MEMORY = -2,
    CMBOOT_ERR_IO = -3,             /* I/O error on a device or file */
    CMBOOT_ERR_TIMEOUT = -4,        /* a deadline passed */
    CMBOOT_ERR_NO_DEVICE = -5,      /* the device went away (re-enumeration or unplug) */
    CMBOOT_ERR_STALL = -6,          /* the device stalled the endpoint */
    CMBOOT_ERR_PROTOCOL = -7,       /* the device said something the protocol does not allow */
    CMBOOT_ERR_SHORT_TRANSFER = -8, /* fewer bytes arrived or left than required */
    CMBOOT_ERR_CANCELLED = -9,
    CMBOOT_ERR_NOT_FOUND = -10,     /* file, device or entry not found */
    CMBOOT_ERR_ACCESS = -11,        /* permission denied */
    CMBOOT_ERR_UNSAFE_NAME = -12,   /* a requested name would leave the boot directory */
    CMBOOT_ERR_TOO_LARGE = -13,     /* a size exceeds a limit */
    CMBOOT_ERR_ROM_REJECTED = -14,  /* the boot ROM refused the second stage */
    CMBOOT_ERR_UNSUPPORTED = -15,   /* not available in this build or on this host */
    CMBOOT_ERR_ARCHIVE = -16,       /* malformed archive or compressed stream */
    CMBOOT_ERR_FORMAT = -17,        /* malformed input file (bmap, JSON, image) */
    CMBOOT_ERR_BUSY = -18,          /* resource held by someone else */
    CMBOOT_ERR_VERIFY = -19,        /* read-back differs from what was written */
    CMBOOT_ERR_UNSAFE_TARGET = -20, /* refusing to write this target */
    CMBOOT_ERR_NO_SPACE = -21,      /* target smaller than the image */
    CMBOOT_ERR_OVERFLOW = -22,      /* device sent more than asked */
    CMBOOT_ERR_ROM_LOOP = -23,      /* the boot ROM kept coming back without a second stage ever running */
    CMBOOT_ERR_REFUSED = -24,       /* the device refused the command (a fastboot FAIL reply) */
    CMBOOT_ERR_COUNT = 25           /* number of codes, for tables */
} cmboot_error;

/* Short symbolic name ("CMBOOT_ERR_TIMEOUT"); never NULL. */
CMBOOT_API const char *cmboot_error_name(int err);
/* Human sentence for an error code; never NULL. */
CMBOOT_API const char *cmboot_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
