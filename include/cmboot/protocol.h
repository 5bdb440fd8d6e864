/* Wire format and I/O-free protocol logic of the Raspberry Pi USB boot protocol. */
#ifndef CMBOOT_PROTOCOL_H
#define CMBOOT_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/export.h"
#include "cmboot/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CMBOOT_BOOT_MESSAGE_SIZE 24
#define CMBOOT_SIGNATURE_SIZE 20
#define CMBOOT_FS_REQUEST_SIZE 260   /* int32 command + char name[256] */
#define CMBOOT_FS_NAME_FIELD 256
#define CMBOOT_FS_NAME_MAX 255       /* longest name we accept (must be NUL terminated in the field) */
#define CMBOOT_MAX_WIRE_LENGTH 0xffffffffu

typedef enum cmboot_fs_command {
    CMBOOT_FS_GET_FILE_SIZE = 0,
    CMBOOT_FS_READ_FILE = 1,
    CMBOOT_FS_DONE = 2
} cmboot_fs_command;

typedef enum cmboot_fs_kind {
    CMBOOT_FS_REQ_FILE,      /* GetFileSize / ReadFile of a file name */
    CMBOOT_FS_REQ_METADATA,  /* "*KEY*VALUE" */
    CMBOOT_FS_REQ_EMPTY,     /* empty name: ack and stop */
    CMBOOT_FS_REQ_DONE       /* Done */
} cmboot_fs_kind;

typedef struct cmboot_fs_request {
    int32_t command;
    cmboot_fs_kind kind;
    char name[CMBOOT_FS_NAME_FIELD];  /* always NUL terminated */
    size_t name_len;
    /* metadata split (point into name, NUL terminated) */
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

/* Parses one file-server request exactly as it arrived (len = bytes received). Checks everything:
 * short message -> CMBOOT_ERR_SHORT_TRANSFER, unknown command -> CMBOOT_ERR_PROTOCOL,
 * name without NUL in the field or with control characters -> CMBOOT_ERR_UNSAFE_NAME,
 * malformed metadata -> CMBOOT_ERR_PROTOCOL. */
CMBOOT_API int cmboot_fs_request_parse(const uint8_t *buf, size_t len, cmboot_fs_request *out);
/* Encodes a request (for emulators and tests); name may be any bytes up to 256 (no terminator added
 * when name_len == 256). */
CMBOOT_API void cmboot_fs_request_encode(uint8_t out[CMBOOT_FS_REQUEST_SIZE], int32_t command,
                                         const char *name, size_t name_len);

/* ---- I/O primitives over a transport (framing of protocol.md section 2) ---- */

/* write(): control OUT carrying len, then the bulk data (len may be 0). */
CMBOOT_API int cmboot_wire_write(const cmboot_transport *t, const void *buf, uint32_t len, unsigned timeout_ms);
/* read(): control IN of exactly len bytes; a short answer is CMBOOT_ERR_SHORT_TRANSFER. */
CMBOOT_API int cmboot_wire_read(const cmboot_transport *t, void *buf, uint32_t len, unsigned timeout_ms);

/* ---- file sources used by the stages ---- */

/* A readable stream of known size. read returns bytes read (>0), 0 at end, or a negative error. */
typedef struct cmboot_stream {
    uint64_t size;
    long (*read)(void *self, void *buf, size_t len);
    void (*close)(void *self);
    void *self;
    char source[256];   /* where it came from, for reports */
} cmboot_stream;

/* Answers the device's file requests. open returns CMBOOT_ERR_NOT_FOUND for absent files,
 * CMBOOT_ERR_UNSAFE_NAME for refused names (both answered as "no such file"). */
typedef struct cmboot_file_provider {
    int (*open)(void *user, const char *name, cmboot_stream *out);
    void *user;
} cmboot_file_provider;

/* Observer of stage progress: all optional. */
typedef struct cmboot_stage_hooks {
    void (*file)(void *user, const char *name, int found, uint64_t size, const char *source, int command);
    void (*progress)(void *user, const char *name, uint64_t done, uint64_t total);
    void (*metadata)(void *user, const char *key, const char *value);
    void (*log)(void *user, int level, const char *msg);
    void *user;
} cmboot_stage_hooks;

typedef struct cmboot_stage_limits {
    unsigned control_timeout_ms;    /* each control transfer (default 5000) */
    unsigned bulk_timeout_ms;       /* each bulk piece (default 5000) */
    unsigned request_timeout_ms;    /* waiting for the next file-server request (default 20000) */
    unsigned status_deadline_ms;    /* ROM status read: retry until this deadline (default 5000) */
    size_t chunk_size;              /* bytes read from a file and sent per bulk call (default 4 MiB) */
    uint64_t max_file_size;         /* refuse larger files (default 2 GiB) */
} cmboot_stage_limits;

CMBOOT_API void cmboot_stage_limits_default(cmboot_stage_limits *limits);

/* ROM stage: boot message, second stage streamed from `second_stage`, then the status read, retried
 * until the deadline. CMBOOT_ERR_ROM_REJECTED when the ROM answers non-zero. */
CMBOOT_API int cmboot_rom_stage_run(const cmboot_transport *t, cmboot_stream *second_stage,
                                    const uint8_t *signature, const cmboot_stage_limits *limits,
                                    const cmboot_stage_hooks *hooks, int32_t *rom_status);

/* File-server stage: serves requests until Done / empty name. On return *done tells whether the device
 * said Done (CMBOOT_OK) or went away. A device that vanishes after at least one request counts as
 * CMBOOT_ERR_NO_DEVICE. */
CMBOOT_API int cmboot_fileserver_run(const cmboot_transport *t, const cmboot_file_provider *files,
                                     const cmboot_stage_limits *limits, const cmboot_stage_hooks *hooks,
                                     unsigned *requests_served);

#ifdef __cplusplus
}
#endif
#endif
