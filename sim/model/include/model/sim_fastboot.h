/* The fastboot gadget's command parser and Android sparse image decoder, exported for tests and fuzzing. */
#ifndef CMBOOT_SIM_FASTBOOT_H
#define CMBOOT_SIM_FASTBOOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SIM_FB_CMD_MAX 64     /* a command is one bulk OUT transfer of at most this many bytes */
#define SIM_FB_REPLY_MAX 256  /* a reply is one bulk IN transfer of at most this many bytes */
#define SIM_FB_MAX_PACKET 512 /* the gadget's bulk endpoints (high speed) */

typedef enum sim_fb_verb {
    SIM_FB_UNKNOWN = 0,
    SIM_FB_GETVAR,   /* getvar:NAME (arg) */
    SIM_FB_DOWNLOAD, /* download:%08x (size) */
    SIM_FB_FLASH,    /* flash:PARTITION */
    SIM_FB_ERASE,    /* erase:PARTITION */
    SIM_FB_REBOOT,   /* reboot */
    SIM_FB_OEM,      /* oem ... (arg: the rest) */
    SIM_FB_FETCH     /* fetch:PARTITION:OFFSET:SIZE (arg, offset, size) */
} sim_fb_verb;

typedef struct sim_fb_cmd {
    sim_fb_verb verb;
    char arg[SIM_FB_CMD_MAX + 1]; /* NUL-terminated */
    uint64_t offset, size;
} sim_fb_cmd;

/* Parses one command of len bytes (no NUL needed). CMBOOT_OK; CMBOOT_ERR_TOO_LARGE (over SIM_FB_CMD_MAX),
 * CMBOOT_ERR_FORMAT (a known verb with a bad argument, or bytes outside printable ASCII); an unknown verb is
 * CMBOOT_OK with SIM_FB_UNKNOWN. */
int sim_fb_parse(const uint8_t *cmd, size_t len, sim_fb_cmd *out);

#define SIM_SPARSE_MAGIC 0xed26ff3au

/* Where a sparse image's blocks go. write: len bytes at offset; fill: len bytes (a multiple of 4) of the
 * 4-byte pattern at offset. Return CMBOOT_OK or an error that stops the decode. */
typedef struct sim_fb_sink {
    void *ctx;
    int (*write)(void *ctx, uint64_t offset, const uint8_t *data, size_t len);
    int (*fill)(void *ctx, uint64_t offset, const uint8_t pattern[4], size_t len);
} sim_fb_sink;

/* Whether data starts with the sparse magic. */
int sim_fb_is_sparse(const uint8_t *data, size_t len);
/* Decodes an Android sparse image into sink: RAW and FILL chunks written, DONT_CARE skipped (the target keeps
 * its bytes), CRC32 chunks taken without a check. CMBOOT_ERR_FORMAT for a malformed image,
 * CMBOOT_ERR_NO_SPACE when its blocks reach past target_size, or the sink's error. */
int sim_fb_sparse_apply(const uint8_t *img, size_t len, uint64_t target_size, const sim_fb_sink *sink);

#ifdef __cplusplus
}
#endif
#endif
