/* Fastboot client: the Android fastboot protocol over a cmboot_transport (bulk OUT commands, bulk IN replies). */
#ifndef CMBOOT_FASTBOOT_H
#define CMBOOT_FASTBOOT_H

#include <stddef.h>
#include <stdint.h>
#include "cmboot/clock.h"
#include "cmboot/export.h"
#include "cmboot/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol limits (docs/fastboot.md): a command is at most 64 ASCII bytes, a reply at most 256 bytes. */
#define CMBOOT_FASTBOOT_COMMAND_MAX 64
#define CMBOOT_FASTBOOT_REPLY_MAX 256

/* What the device said besides the final answer: INFO and TEXT lines, and the message of a FAIL. */
typedef enum cmboot_fastboot_message {
    CMBOOT_FASTBOOT_INFO = 0,
    CMBOOT_FASTBOOT_TEXT = 1,
    CMBOOT_FASTBOOT_FAIL = 2,
} cmboot_fastboot_message;

/* text: printable ASCII (others shown as '?'), NUL-terminated, at most 252 characters. */
typedef void (*cmboot_fastboot_log_fn)(void *user, cmboot_fastboot_message kind, const char *text);
/* Bytes of the data phase done so far, of total. */
typedef void (*cmboot_fastboot_progress_fn)(void *user, uint64_t done, uint64_t total);
/* Data source of a download: the next len bytes, in order, into buf. CMBOOT_OK or a negative cmboot_error. */
typedef int (*cmboot_fastboot_read_fn)(void *user, void *buf, size_t len);
/* Data sink of a fetch: the next len bytes, in order. CMBOOT_OK or a negative cmboot_error. */
typedef int (*cmboot_fastboot_write_fn)(void *user, const void *buf, size_t len);

typedef struct cmboot_fastboot_options {
    size_t struct_size;         /* set by cmboot_fastboot_options_default() */
    const cmboot_clock *clock;  /* deadlines are measured on it; NULL = the system clock */
    unsigned reply_timeout_ms;  /* each reply to an ordinary command (getvar, download, oem...); 0 = 5 s */
    unsigned long_timeout_ms;   /* the whole of flash and erase (INFO lines do not extend it); 0 = 10 min */
    unsigned data_timeout_ms;   /* each bulk transfer of a data phase; 0 = 10 s */
    uint32_t max_download_size; /* a cap on what the device reports; 0 = the device's getvar:max-download-size */
    cmboot_fastboot_log_fn log; /* INFO, TEXT and FAIL messages; NULL = dropped */
    void *log_user;
} cmboot_fastboot_options;

CMBOOT_API int cmboot_fastboot_options_init(cmboot_fastboot_options *options, size_t struct_size);
static inline void cmboot_fastboot_options_default(cmboot_fastboot_options *options)
{
    (void)cmboot_fastboot_options_init(options, sizeof *options);
}

typedef struct cmboot_fastboot cmboot_fastboot;

/* A client on transport t, which must have bulk_out and bulk_in; the transport stays the caller's (not closed by
 * cmboot_fastboot_free). options NULL = defaults. No I/O yet. */
CMBOOT_API int cmboot_fastboot_new(cmboot_transport t, const cmboot_fastboot_options *options, cmboot_fastboot **out);
CMBOOT_API void cmboot_fastboot_free(cmboot_fastboot *fb);

/* Every command below returns CMBOOT_OK on OKAY, CMBOOT_ERR_REFUSED on FAIL (its message goes to the log and to
 * cmboot_fastboot_last_fail()), CMBOOT_ERR_PROTOCOL on a reply the protocol does not allow, CMBOOT_ERR_TIMEOUT,
 * or the transport's error. */

/* Any command (at most 64 bytes, printable ASCII); the OKAY payload into out (size bytes, may be NULL/0).
 * CMBOOT_ERR_TOO_LARGE when the payload does not fit out (out holds it cut). */
CMBOOT_API int cmboot_fastboot_command(cmboot_fastboot *fb, const char *command, char *out, size_t size);
/* getvar:NAME; the value into out. */
CMBOOT_API int cmboot_fastboot_getvar(cmboot_fastboot *fb, const char *name, char *out, size_t size);
/* The size a download may have: the device's max-download-size (asked once), capped by the options. */
CMBOOT_API int cmboot_fastboot_max_download_size(cmboot_fastboot *fb, uint32_t *out);
/* download:%08x of size bytes (at most max-download-size, else CMBOOT_ERR_TOO_LARGE), read from read(). */
CMBOOT_API int cmboot_fastboot_download(cmboot_fastboot *fb, uint32_t size, cmboot_fastboot_read_fn read,
                                        void *read_user, cmboot_fastboot_progress_fn progress, void *progress_user);
CMBOOT_API int cmboot_fastboot_download_buffer(cmboot_fastboot *fb, const void *data, uint32_t size,
                                               cmboot_fastboot_progress_fn progress, void *progress_user);
/* flash:PARTITION (what was downloaded last), erase:PARTITION, reboot. */
CMBOOT_API int cmboot_fastboot_flash(cmboot_fastboot *fb, const char *partition);
CMBOOT_API int cmboot_fastboot_erase(cmboot_fastboot *fb, const char *partition);
CMBOOT_API int cmboot_fastboot_reboot(cmboot_fastboot *fb);
/* "oem ARGS"; the OKAY payload into out (may be NULL). */
CMBOOT_API int cmboot_fastboot_oem(cmboot_fastboot *fb, const char *args, char *out, size_t size);
/* fetch:PARTITION:0xOFFSET:0xSIZE: size bytes of the partition from offset, to write(). The device may send
 * fewer (the partition's end): *fetched (may be NULL) says how many arrived; more than asked is refused. */
CMBOOT_API int cmboot_fastboot_fetch(cmboot_fastboot *fb, const char *partition, uint64_t offset, uint32_t size,
                                     cmboot_fastboot_write_fn write, void *write_user, uint32_t *fetched,
                                     cmboot_fastboot_progress_fn progress, void *progress_user);
/* The message of the last FAIL reply ("" when none); valid until the next command. */
CMBOOT_API const char *cmboot_fastboot_last_fail(const cmboot_fastboot *fb);

#ifdef __cplusplus
}
#endif
#endif
