/* Flashing: image sources, bmap, target safety, disk pairing, writer, verification and report. */
#ifndef CMBOOT_FLASH_H
#define CMBOOT_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/export.h"
#include "cmboot/log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Image sources: raw, .gz, .xz, .zst, .bz2, .zip (image entry), streamed, no temporary files. ---- */
typedef struct cmboot_flash_source cmboot_flash_source;

/* Every compressed image is checked against its own integrity data (gzip: CRC-32 and ISIZE of every member;
 * xz, zstd: their checks, refused when they declare none; bzip2: block and stream CRCs; zip: the entry's
 * CRC-32): a failed check is CMBOOT_ERR_ARCHIVE from cmboot_flash_source_read, at the latest at the end.
 * A file named as compressed (.gz .xz .zst .bz2 .zip) whose content is not is refused (CMBOOT_ERR_FORMAT)
 * unless CMBOOT_SOURCE_RAW. */
enum {
    CMBOOT_SOURCE_RAW = 1u << 0 /* take the file's bytes as they are: no format detection, no decompression */
};
CMBOOT_API int cmboot_flash_source_open(const char *path, cmboot_flash_source **out);
/* Same, with CMBOOT_SOURCE_* flags; on failure a sentence in reason (may be NULL). */
CMBOOT_API int cmboot_flash_source_open_flags(const char *path, unsigned flags, cmboot_flash_source **out,
                                              char *reason, size_t reason_size);
/* Reads up to len bytes; *got = 0 at the end of the image. */
CMBOOT_API int cmboot_flash_source_read(cmboot_flash_source *src, void *buf, size_t len, size_t *got);
/* Whether the decompressed size is known before reading (raw file, zip entry, zstd/xz headers). */
CMBOOT_API bool cmboot_flash_source_size_known(const cmboot_flash_source *src, uint64_t *size);
/* "raw", "gzip", "xz", "zstd", "bzip2", "zip". */
CMBOOT_API const char *cmboot_flash_source_format(const cmboot_flash_source *src);
CMBOOT_API void cmboot_flash_source_close(cmboot_flash_source *src);

/* ---- Block maps (bmaptool format 1.x and 2.0). ---- */
typedef struct cmboot_bmap_range {
    uint64_t first;          /* first block */
    uint64_t last;           /* last block, inclusive */
    uint8_t digest[32];      /* SHA-256 (or SHA-1 in the first 20 bytes for format 1.x) */
    bool has_digest;
} cmboot_bmap_range;

typedef struct cmboot_bmap {
    uint64_t image_size;
    uint64_t block_size;
    uint64_t blocks_count;
    uint64_t mapped_blocks;
    int digest_len;          /* 32 = SHA-256, 20 = SHA-1 */
    size_t range_count;
    cmboot_bmap_range *ranges;
} cmboot_bmap;

/* Parses and checks a bmap: its own checksum, ranges in order, inside the image. */
CMBOOT_API int cmboot_bmap_load(const char *path, cmboot_bmap **out);
CMBOOT_API int cmboot_bmap_parse(const char *text, size_t len, cmboot_bmap **out);
CMBOOT_API void cmboot_bmap_free(cmboot_bmap *bmap);
/* Bytes the bmap asks to write (mapped blocks, the last one clipped to the image size). */
CMBOOT_API uint64_t cmboot_bmap_mapped_bytes(const cmboot_bmap *bmap);

/* ---- Target safety. ---- */
enum {
    CMBOOT_TARGET_FORCE = 1u << 0,   /* allow a disk that is not on USB (never the host's root/boot disk) */
    CMBOOT_TARGET_NO_EXCL = 1u << 1  /* skip the O_EXCL probe (tests on fake trees) */
};

typedef struct cmboot_target_env {
    const char *proc_root;   /* NULL = "/proc" */
    const char *sys_root;    /* NULL = "/sys" */
    const char *dev_root;    /* NULL = "/dev" */
} cmboot_target_env;

/* Refuses (CMBOOT_ERR_UNSAFE_TARGET, _BUSY, _NO_SPACE, ...) with a sentence in reason: a mounted or
 * held disk, one not on USB unless FORCE, one smaller than image_size (0 = unknown), the host's root or
 * /boot disk. path may be a block device or a regular file. */
CMBOOT_API int cmboot_target_check(const cmboot_target_env *env, const char *path, uint64_t image_size,
                                   unsigned flags, char *reason, size_t reason_size);

/* ---- Cancelling. ---- */
/* Stops a running cmboot_flash_write, _verify or _pair_cancellable from another thread: it returns
 * CMBOOT_ERR_CANCELLED promptly (within one buffer), its threads joined. It stays cancelled once asked:
 * one canceller per operation. A source blocked in read() (a FIFO that stops) is only left when it returns. */
typedef struct cmboot_flash_canceller cmboot_flash_canceller;

CMBOOT_API int cmboot_flash_canceller_new(cmboot_flash_canceller **out);
/* Thread-safe; not async-signal-safe (call it from a thread that waits for signals). */
CMBOOT_API void cmboot_flash_cancel(cmboot_flash_canceller *c);
CMBOOT_API bool cmboot_flash_cancel_requested(const cmboot_flash_canceller *c);
/* Only once no operation uses it any more. */
CMBOOT_API void cmboot_flash_canceller_free(cmboot_flash_canceller *c);

/* ---- Pairing: the disk of a mass-storage board under the same USB port path. ---- */
/* Waits until exactly one disk appears under <sys>/bus/usb/devices/<port_path> and its node exists in
 * <dev>; writes "<dev>/sdX" into out. CMBOOT_ERR_TIMEOUT at the deadline (cmboot_now_ms clock),
 * CMBOOT_ERR_UNSAFE_TARGET when more than one disk is there. */
CMBOOT_API int cmboot_flash_pair(const cmboot_target_env *env, const char *port_path, int64_t deadline_ms,
                                 char *out, size_t out_size);
/* Same; cmboot_flash_cancel(cancel) ends the wait at once with CMBOOT_ERR_CANCELLED (cancel may be NULL). */
CMBOOT_API int cmboot_flash_pair_cancellable(const cmboot_target_env *env, const char *port_path,
                                             int64_t deadline_ms, cmboot_flash_canceller *cancel,
                                             char *out, size_t out_size);

/* ---- Writer and verification. ---- */
typedef struct cmboot_flash_config {
    const char *image;           /* image path (any supported source format) */
    const char *bmap;            /* bmap path or NULL */
    const char *target;          /* block device or regular file */
    bool verify;                 /* read back after writing */
    bool image_digest;           /* SHA-256 of the whole image (needed to verify without a bmap; default on) */
    unsigned target_flags;       /* CMBOOT_TARGET_* */
    unsigned source_flags;       /* CMBOOT_SOURCE_* */
    cmboot_target_env env;
    /* Queue: buffers x buffer_size bytes (a multiple of 4096); 0 = by source: 4 x 1 MiB raw; compressed
     * 4 x 256 KiB when hashing (bmap, image digest, verify), else 3 x 128 KiB. */
    size_t buffer_size;
    unsigned buffers;
    const char *device_id;       /* port path for events, "" for none */
    cmboot_event_fn event;       /* CMBOOT_EV_PHASE and CMBOOT_EV_PROGRESS */
    void *user;
    cmboot_flash_canceller *cancel; /* NULL = cannot be cancelled */
} cmboot_flash_config;

enum { CMBOOT_FLASH_PHASE_CHECK, CMBOOT_FLASH_PHASE_WRITE, CMBOOT_FLASH_PHASE_SYNC, CMBOOT_FLASH_PHASE_VERIFY,
       CMBOOT_FLASH_PHASES };

typedef struct cmboot_flash_result {
    int error;                   /* CMBOOT_OK or why it failed */
    char reason[256];            /* sentence for the error */
    uint64_t image_size;         /* decompressed image bytes */
    uint64_t bytes_written;
    uint64_t bytes_verified;
    uint8_t image_sha256[32];    /* of the whole decompressed image */
    bool image_sha256_valid;
    bool verified;
    uint64_t fail_offset;        /* byte offset of a mismatch or I/O error */
    bool fail_offset_valid;
    int64_t phase_ms[CMBOOT_FLASH_PHASES];
    char format[16];             /* source format */
} cmboot_flash_result;

CMBOOT_API void cmboot_flash_config_default(cmboot_flash_config *cfg);
/* Checks the target, writes (only mapped ranges with a bmap), syncs and verifies when asked. */
CMBOOT_API int cmboot_flash_write(const cmboot_flash_config *cfg, cmboot_flash_result *res);
/* Reads the target back, bypassing the page cache, and compares SHA-256 with what was meant: per range
 * with a bmap, else the whole image against res->image_sha256 (from an earlier write). On a mismatch,
 * res->fail_offset names the first differing byte. */
CMBOOT_API int cmboot_flash_verify(const cmboot_flash_config *cfg, cmboot_flash_result *res);

/* ---- Report. ---- */
typedef struct cmboot_flash_report {
    const char *serial;
    const char *port_path;
    const char *soc;
    const char *metadata_json;   /* object text or NULL */
    const char *image;
    const char *bmap;
    const char *target;
    int64_t boot_ms;             /* -1 = no boot phase */
    int64_t pair_ms;             /* -1 = no pairing */
    const cmboot_flash_result *flash;
} cmboot_flash_report;

/* JSON document (caller frees with free()). */
CMBOOT_API int cmboot_flash_report_json(const cmboot_flash_report *rep, char **out);

#ifdef __cplusplus
}
#endif
#endif
