/* Wire format and I/O-free protocol logic of the Raspberry Pi USB boot protocol. */
#ifndef CMBOOT_PROTOCOL_H
#define CMBOOT_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/clock.h"
#include "cmboot/export.h"
#include "cmboot/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CMBOOT_BOOT_MESSAGE_SIZE 24
#define CMBOOT_SIGNATURE_SIZE 20
#define CMBOOT_FS_REQUEST_SIZE 260 /* int32 command + char name[256] */
#define CMBOOT_FS_NAME_FIELD 256
#define CMBOOT_FS_NAME_MAX 255 /* longest name we accept (must be NUL terminated in the field) */
#define CMBOOT_MAX_WIRE_LENGTH 0xffffffffu

typedef enum cmboot_fs_command {
    CMBOOT_FS_GET_FILE_SIZE = 0,
    CMBOOT_FS_READ_FILE = 1,
    CMBOOT_FS_DONE = 2
} cmboot_fs_command;

/* How the file server answers a request (docs/file-server.md). */
typedef enum cmboot_fs_kind {
    CMBOOT_FS_REQ_FILE,         /* GetFileSize / ReadFile of a file name: serve it */
    CMBOOT_FS_REQ_METADATA,     /* "*KEY*VALUE", any command but Done: record, ack */
    CMBOOT_FS_REQ_EMPTY,        /* empty name, any command (Done included): ack and stop */
    CMBOOT_FS_REQ_DONE,         /* Done with a non-empty name: stop without a write */
    CMBOOT_FS_REQ_BAD_METADATA, /* "*..." (command != Done) that is not "*KEY*VALUE": ack, log */
    CMBOOT_FS_REQ_UNKNOWN       /* command outside 0..2 with a non-empty name: ack, log */
} cmboot_fs_kind;

typedef struct cmboot_fs_request {
    int32_t command; /* as sent, also for CMBOOT_FS_REQ_UNKNOWN */
    cmboot_fs_kind kind;
    char name[CMBOOT_FS_NAME_FIELD]; /* always NUL terminated; for BAD_METADATA the whole text */
    size_t name_len;
    /* metadata split (point into name, NUL terminated); NULL unless kind is METADATA */
    const char *key;
    const char *value;
} cmboot_fs_request;

/* Encodes write()'s control setup: wValue = len & 0xffff, wIndex = len >> 16. */
CMBOOT_API void cmboot_wire_length_split(uint32_t len, uint16_t *wValue, uint16_t *wIndex);
CMBOOT_API uint32_t cmboot_wire_length_join(uint16_t wValue, uint16_t wIndex);

/* Boot message: int32 LE length + 20 signature bytes (NULL = zeros). */
CMBOOT_API void cmboot_boot_message_encode(uint8_t out[CMBOOT_BOOT_MESSAGE_SIZE], uint32_t length,
                                           const uint8_t *signature);
CMBOOT_API int cmboot_boot_message_decode(const uint8_t *buf, size_t len, uint32_t *length,
                                          uint8_t signature[CMBOOT_SIGNATURE_SIZE]);

/* Parses one file-server request as it arrived (len = bytes received). Lenient like other hosts
 * (docs/file-server.md): 4..260 bytes are accepted, the missing rest of the name field counting as zeros.
 * Errors: len < 4 -> CMBOOT_ERR_SHORT_TRANSFER, len > 260 -> CMBOOT_ERR_OVERFLOW, a non-empty name
 * without NUL in the field or with control characters -> CMBOOT_ERR_UNSAFE_NAME (not for Done, whose name
 * is only kept when it is safe). Everything else is CMBOOT_OK with a kind, checked in this order: empty
 * name (EMPTY, any command), '*' and command != Done (METADATA, or BAD_METADATA when the text is not
 * "*KEY*VALUE" with KEY in [A-Za-z0-9_]+), Done (DONE), unknown command (UNKNOWN), else FILE. */
CMBOOT_API int cmboot_fs_request_parse(const uint8_t *buf, size_t len, cmboot_fs_request *out);
/* Encodes a request (for emulators and tests); name may be any bytes up to 256 (no terminator added
 * when name_len == 256). */
CMBOOT_API void cmboot_fs_request_encode(uint8_t out[CMBOOT_FS_REQUEST_SIZE], int32_t command, const char *name,
                                         size_t name_len);

/* ---- I/O primitives over a transport (framing of protocol.md section 2) ---- */

/* write(): control OUT carrying len, then the bulk data (len may be 0). On a stall or I/O error of the bulk
 * data, clears the halt (when the transport can) and resends once from the first byte the device did not
 * take. */
CMBOOT_API int cmboot_wire_write(const cmboot_transport *t, const void *buf, uint32_t len, unsigned timeout_ms);
/* read(): control IN of exactly len bytes; a short answer is CMBOOT_ERR_SHORT_TRANSFER. */
CMBOOT_API int cmboot_wire_read(const cmboot_transport *t, void *buf, uint32_t len, unsigned timeout_ms);
/* read() that takes what arrives: *actual = bytes received (<= len); more than len is CMBOOT_ERR_OVERFLOW. */
CMBOOT_API int cmboot_wire_read_some(const cmboot_transport *t, void *buf, uint32_t len, size_t *actual,
                                     unsigned timeout_ms);

/* ---- file sources used by the stages ---- */

/* A readable stream of known size. read returns bytes read (>0), 0 at end, or a negative error. */
typedef struct cmboot_stream {
    uint64_t size;
    long (*read)(void *self, void *buf, size_t len);
    void (*close)(void *self);
    void *self;
    char source[256]; /* where it came from, for reports */
} cmboot_stream;

/* Answers the device's file requests. open returns CMBOOT_ERR_NOT_FOUND for absent files,
 * CMBOOT_ERR_UNSAFE_NAME for refused names (both answered as "no such file"). */
typedef struct cmboot_file_provider {
    size_t struct_size; /* sizeof(cmboot_file_provider) (docs/abi.md) */
    int (*open)(void *user, const char *name, cmboot_stream *out);
    void *user;
} cmboot_file_provider;

/* Observer of stage progress: all optional (the struct too: NULL = none). */
typedef struct cmboot_stage_hooks {
    size_t struct_size; /* sizeof(cmboot_stage_hooks) (docs/abi.md); members past it count as NULL */
    void (*file)(void *user, const char *name, int found, uint64_t size, const char *source, int command);
    void (*progress)(void *user, const char *name, uint64_t done, uint64_t total);
    void (*metadata)(void *user, const char *key, const char *value);
    void (*log)(void *user, int level, const char *msg);
    void *user;
} cmboot_stage_hooks;

typedef struct cmboot_stage_limits {
    size_t struct_size;             /* set by cmboot_stage_limits_default() (session.h, docs/abi.md) */
    unsigned control_timeout_ms;    /* each control transfer (default 5000) */
    unsigned bulk_timeout_ms;       /* each bulk piece (default 5000) */
    unsigned request_timeout_ms;    /* one read of the next file-server request (default 20000); on a
                                     * timeout the server reads again */
    unsigned status_deadline_ms;    /* ROM status read: retry until this deadline (default 5000) */
    size_t chunk_size;              /* bytes read from a file and sent per bulk call (default 4 MiB) */
    uint64_t max_file_size;         /* refuse larger files (default 2 GiB) */
    unsigned request_idle_limit_ms; /* file server: give up with CMBOOT_ERR_TIMEOUT after this long without a
                                     * request; 0 (default) = poll while the device is there, as the
                                     * reference does */
    unsigned retry_backoff_max_ms;  /* file server: longest pause before reading again after a read the device
                                     * refused at once (stall, short reply); grows from 10 ms (default 250;
                                     * 0 = no pause, for fuzzing) */
    bool rom_status_optional;       /* ROM stage: a status read that fails (after the deadline's retries) is
                                     * a warning and the stage returns CMBOOT_OK; real BCM2711/2712 ROMs may
                                     * not answer it (default false) */
    /* The clock every deadline and pause above is measured on; NULL (default) = the system clock. Here and not
     * in the hooks (observers that change nothing) or the transport (the device): it is what the limits are
     * counted in, and it travels with them through a session's configuration. Not owned; outlives the stage. */
    const cmboot_clock *clock;
} cmboot_stage_limits;

/* Defaults into the caller's struct of struct_size bytes. Use cmboot_stage_limits_default(). */
CMBOOT_API int cmboot_stage_limits_init(cmboot_stage_limits *limits, size_t struct_size);
static inline void cmboot_stage_limits_default(cmboot_stage_limits *limits)
{
    (void)cmboot_stage_limits_init(limits, sizeof *limits);
}

/* ROM stage: boot message, second stage streamed from `second_stage`, then the status read, retried
 * until the deadline. CMBOOT_ERR_ROM_REJECTED (and *rom_status) when the ROM answers non-zero. A ROM that
 * leaves instead of answering is CMBOOT_OK; with limits->rom_status_optional so is any failed status read
 * (logged as a warning); *rom_status stays -1 then. CMBOOT_ERR_CANCELLED is always returned as such.
 * limits and hooks may be NULL; a bad struct_size of them or of t's ops is refused (session.h). */
CMBOOT_API int cmboot_rom_stage_run(const cmboot_transport *t, cmboot_stream *second_stage, const uint8_t *signature,
                                    const cmboot_stage_limits *limits, const cmboot_stage_hooks *hooks,
                                    int32_t *rom_status);

/* File-server stage: serves requests until Done / empty name (CMBOOT_OK). Never leaves a device waiting:
 * odd requests (short, unknown command, bad metadata, unsafe name) are logged and acknowledged, a read
 * that times out, stalls or returns fewer than 4 bytes is logged and read again (bounded back-off), until
 * limits->request_idle_limit_ms passes without a request (CMBOOT_ERR_TIMEOUT; 0 = never). A device that
 * goes away ends the stage with the transport's error (CMBOOT_ERR_NO_DEVICE / CMBOOT_ERR_IO).
 * *requests_served counts the requests answered. limits and hooks may be NULL; a bad struct_size of them, of
 * files or of t's ops is refused (session.h). */
CMBOOT_API int cmboot_fileserver_run(const cmboot_transport *t, const cmboot_file_provider *files,
                                     const cmboot_stage_limits *limits, const cmboot_stage_hooks *hooks,
                                     unsigned *requests_served);

#ifdef __cplusplus
}
#endif
#endif
