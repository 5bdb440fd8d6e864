/* Flashing: image sources, bmap, target safety, disk pairing, writer, verification and report. */
#ifndef CMBOOT_FLASH_H
#define CMBOOT_FLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/device.h"
#include "cmboot/export.h"
#include "cmboot/log.h"
#include "cmboot/metadata.h"
#include "cmboot/session.h"

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
CMBOOT_API int cmboot_flash_source_open_flags(const char *path, unsigned flags, cmboot_flash_source **out, char *reason,
                                              size_t reason_size);
/* Reads up to len bytes; *got = 0 at the end of the image. */
CMBOOT_API int cmboot_flash_source_read(cmboot_flash_source *src, void *buf, size_t len, size_t *got);
/* Whether the decompressed size is known before reading (raw file, zip entry, zstd/xz headers). */
CMBOOT_API bool cmboot_flash_source_size_known(const cmboot_flash_source *src, uint64_t *size);
/* "raw", "gzip", "xz", "zstd", "bzip2", "zip". */
CMBOOT_API const char *cmboot_flash_source_format(const cmboot_flash_source *src);
CMBOOT_API void cmboot_flash_source_close(cmboot_flash_source *src);

/* ---- Block maps (bmaptool format 1.x and 2.0). ---- */
typedef struct cmboot_bmap_range {
    uint64_t first;     /* first block */
    uint64_t last;      /* last block, inclusive */
    uint8_t digest[32]; /* SHA-256 (or SHA-1 in the first 20 bytes for format 1.x) */
    bool has_digest;
} cmboot_bmap_range;

typedef struct cmboot_bmap {
    uint64_t image_size;
    uint64_t block_size;
    uint64_t blocks_count;
    uint64_t mapped_blocks;
    int digest_len; /* 32 = SHA-256, 20 = SHA-1 */
    size_t range_count;
    cmboot_bmap_range *ranges;
} cmboot_bmap;

/* Parses and checks a bmap: its own checksum, ranges in order, inside the image. */
CMBOOT_API int cmboot_bmap_load(const char *path, cmboot_bmap **out);
CMBOOT_API int cmboot_bmap_parse(const char *text, size_t len, cmboot_bmap **out);
CMBOOT_API void cmboot_bmap_free(cmboot_bmap *bmap);
/* Bytes the bmap asks to write (mapped blocks, the last one clipped to the image size). */
CMBOOT_API uint64_t cmboot_bmap_mapped_bytes(const cmboot_bmap *bmap);

/* ---- Target safety and identity. ---- */
enum {
    CMBOOT_TARGET_FORCE = 1u << 0,       /* allow a disk that is not on USB (never the host's root/boot disk) */
    CMBOOT_TARGET_NO_EXCL = 1u << 1,     /* open a block device without O_EXCL (tests only) */
    CMBOOT_TARGET_CREATE = 1u << 2,      /* a missing target outside /dev may be created as a regular file */
    CMBOOT_TARGET_PARTITION_OK = 1u << 3 /* allow a partition instead of a whole disk */
};

/* Where the host's trees are (tests point them at fake ones). Every function taking one accepts NULL (all
 * default); a bad struct_size is refused (session.h). */
typedef struct cmboot_target_env {
    size_t struct_size;    /* set by cmboot_target_env_default() (docs/abi.md) */
    const char *proc_root; /* NULL = "/proc" */
    const char *sys_root;  /* NULL = "/sys" */
    const char *dev_root;  /* NULL = "/dev" */
    /* Where modules.builtin and modules.dep are (cmboot_host_usb_storage, for --via auto); NULL = /lib/modules/
     * <release> when sys_root is the default, else none (a fake tree brings its own). */
    const char *modules_dir;
} cmboot_target_env;

/* Defaults (all NULL) into the caller's struct of struct_size bytes. Use cmboot_target_env_default(). */
CMBOOT_API int cmboot_target_env_init(cmboot_target_env *env, size_t struct_size);
static inline void cmboot_target_env_default(cmboot_target_env *env)
{
    (void)cmboot_target_env_init(env, sizeof *env);
}

/* What was checked, taken from the one open descriptor (fstat, ioctls, /sys/dev/block/MAJ:MIN). */
typedef struct cmboot_target_identity {
    bool known;            /* filled by a successful cmboot_target_open */
    bool is_block;         /* block device, else regular file */
    unsigned major, minor; /* device numbers of a block device */
    bool partition;        /* a partition of `disk` */
    bool removable;        /* the disk's sysfs `removable` (card readers, sticks; not all USB disks say so) */
    char name[64];         /* kernel name of the target ("sdb1"), "" for a file */
    char disk[64];         /* kernel name of its whole disk ("sdb"), "" for a file */
    uint64_t diskseq;      /* the kernel's sequence number of that disk; 0 = the kernel has none */
    char port_path[CMBOOT_PORT_PATH_MAX]; /* USB port path of the disk, "" when not on USB */
    uint64_t size;                        /* bytes of the device (BLKGETSIZE64), or of the file when opened */
    uint64_t file_dev, file_ino;          /* a regular file's st_dev and st_ino */
    bool created;                         /* the file did not exist and was created */
} cmboot_target_identity;

typedef struct cmboot_target cmboot_target;

/* Opens path ONCE (a block device with O_EXCL, read-write) and runs every check on that descriptor:
 * fstat (block device or regular file), then for a block device /sys/dev/block/MAJ:MIN of its numbers
 * (whole disk or partition, mounted, held, host root/boot through dm/md stacks both ways, on USB, size from
 * BLKGETSIZE64, the disk's diskseq from BLKGETDISKSEQ equal to sysfs's) and, when port_path is not NULL,
 * the USB port path of that disk equal to port_path. A missing path is created as a regular file only
 * outside dev_root and with CMBOOT_TARGET_CREATE or a name ending in ".img"; a regular file in dev_root
 * is refused. Refusals (nothing written): CMBOOT_ERR_UNSAFE_TARGET, _BUSY, _NO_SPACE, _NOT_FOUND,
 * _ACCESS, with a sentence in reason. */
CMBOOT_API int cmboot_target_open(const cmboot_target_env *env, const char *path, uint64_t image_size, unsigned flags,
                                  const char *port_path, cmboot_target **out, char *reason, size_t reason_size);
/* The descriptor every write and read-back uses (owned by the target). */
CMBOOT_API int cmboot_target_fd(const cmboot_target *t);
CMBOOT_API const cmboot_target_identity *cmboot_target_get_identity(const cmboot_target *t);
/* Whether the disk behind the descriptor is still the one checked: its diskseq (descriptor and sysfs) and
 * its sysfs entry unchanged. CMBOOT_ERR_NO_DEVICE with the reason when not. Regular files: CMBOOT_OK. */
CMBOOT_API int cmboot_target_recheck(const cmboot_target *t, char *reason, size_t reason_size);
/* Closes the descriptor; a file created by cmboot_target_open is removed when remove_created is set. */
CMBOOT_API void cmboot_target_close(cmboot_target *t, bool remove_created);

/* The checks of cmboot_target_open without writing: the path is opened read-only and closed again, and a
 * missing file is not created. */
CMBOOT_API int cmboot_target_check(const cmboot_target_env *env, const char *path, uint64_t image_size, unsigned flags,
                                   char *reason, size_t reason_size);

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
CMBOOT_API int cmboot_flash_pair(const cmboot_target_env *env, const char *port_path, int64_t deadline_ms, char *out,
                                 size_t out_size);
/* Same; cmboot_flash_cancel(cancel) ends the wait at once with CMBOOT_ERR_CANCELLED (cancel may be NULL). */
CMBOOT_API int cmboot_flash_pair_cancellable(const cmboot_target_env *env, const char *port_path, int64_t deadline_ms,
                                             cmboot_flash_canceller *cancel, char *out, size_t out_size);
/* A gadget with several disks (one LUN per eMMC, NVMe...): waits until every mass-storage interface of the
 * board has its SCSI host, then chooses among the disks under port_path the one with SCSI LUN lun (-1 = any)
 * and of kind target_kind (NULL = any; "emmc", "nvme" or "sd", told by the disk's INQUIRY vendor/model
 * strings, docs/flash.md), and waits until it is ready. With neither, the only disk. Refusals, with the list
 * of disks (name, LUN, size, strings, kind) in reason: CMBOOT_ERR_UNSAFE_TARGET when more than one matches,
 * CMBOOT_ERR_NOT_FOUND when none does. CMBOOT_ERR_INVALID_ARG for another kind or lun < -1. reason may be
 * NULL. */
CMBOOT_API int cmboot_flash_pair_select(const cmboot_target_env *env, const char *port_path, int lun,
                                        const char *target_kind, int64_t deadline_ms, cmboot_flash_canceller *cancel,
                                        char *out, size_t out_size, char *reason, size_t reason_size);

/* ---- Writer and verification. ---- */
typedef struct cmboot_flash_config {
    size_t struct_size;           /* set by cmboot_flash_config_default() (session.h, docs/abi.md) */
    const char *image;            /* image path (any supported source format) */
    const char *bmap;             /* bmap path or NULL */
    const char *target;           /* block device or regular file, opened once (cmboot_target_open) */
    const char *port_path;        /* the disk must be under this USB port path (flash: the board's); NULL = any */
    bool verify;                  /* read back after writing */
    bool image_digest;            /* SHA-256 of the whole image (needed to verify without a bmap; default on) */
    unsigned target_flags;        /* CMBOOT_TARGET_* */
    unsigned source_flags;        /* CMBOOT_SOURCE_* */
    const cmboot_target_env *env; /* NULL = default roots; a pointer, so that either struct can grow */
    /* Queue: buffers x buffer_size bytes (a multiple of 4096); 0 = by source: 4 x 1 MiB raw; compressed
     * 4 x 256 KiB when hashing (bmap, image digest, verify), else 3 x 128 KiB. */
    size_t buffer_size;
    unsigned buffers;
    const char *device_id; /* port path for events, "" for none */
    cmboot_event_fn event; /* CMBOOT_EV_PHASE and CMBOOT_EV_PROGRESS */
    void *user;
    cmboot_flash_canceller *cancel; /* NULL = cannot be cancelled */
    /* Which disk of a gadget with several (cmboot_flash_pair_select); the disk opened must be it, else
     * CMBOOT_ERR_UNSAFE_TARGET before anything is written. */
    int lun;                 /* SCSI LUN; -1 (default) = any */
    const char *target_kind; /* "emmc", "nvme", "sd"; NULL (default) = any */
    /* How a flash job writes the board (CMBOOT_FLASH_VIA_*): its USB disk (msd), its fastboot gadget, or
     * whichever it came up as (auto, default). cmboot_flash_write ignores it. */
    int via;
    const char *fastboot_partition; /* partition flashed through fastboot; NULL = "mmcblk0" */
    /* Decoder threads for an xz image of several blocks (0 = the online cores; a single-block stream
     * decodes on one). */
    unsigned threads;
    /* Memory cap in bytes for the queue and the decoder (0 = no cap beyond the queue's 12 MiB): the queue
     * is shrunk to a quarter of it, the xz decoder gets the rest less 4 MiB for the process, and an xz image
     * whose dictionary alone needs more is refused (CMBOOT_ERR_NO_MEMORY) before anything is written. */
    uint64_t max_memory;
} cmboot_flash_config;

enum { CMBOOT_FLASH_VIA_AUTO = 0, CMBOOT_FLASH_VIA_MSD = 1, CMBOOT_FLASH_VIA_FASTBOOT = 2 };

enum {
    CMBOOT_FLASH_PHASE_CHECK,
    CMBOOT_FLASH_PHASE_WRITE,
    CMBOOT_FLASH_PHASE_SYNC,
    CMBOOT_FLASH_PHASE_VERIFY,
    CMBOOT_FLASH_PHASES
};

/* Filled by cmboot_flash_write/_verify into the caller's struct: struct_size first, set by
 * cmboot_flash_result_default(); the library writes only struct_size bytes. */
typedef struct cmboot_flash_result {
    size_t struct_size;
    int error;           /* CMBOOT_OK or why it failed */
    char reason[256];    /* sentence for the error */
    uint64_t image_size; /* decompressed image bytes */
    uint64_t bytes_written;
    uint64_t bytes_verified;
    uint8_t image_sha256[32]; /* of the whole decompressed image */
    bool image_sha256_valid;
    bool verified;
    uint64_t fail_offset; /* byte offset of a mismatch or I/O error */
    bool fail_offset_valid;
    char format[16];               /* source format */
    cmboot_target_identity target; /* what was opened, checked, written and read back */
    bool target_touched;           /* a write reached the target: it may have changed (never a mere refusal) */
    uint64_t truncated_from;       /* a regular file longer than the image was cut from this size; 0 = not */
    /* Time per phase: read it with cmboot_flash_result_phase_ms(). One member per phase, so a phase added
     * later appends a member instead of moving the others. */
    int64_t check_ms, write_ms, sync_ms, verify_ms;
    bool via_fastboot;  /* written through the board's fastboot gadget */
    bool not_read_back; /* written, not read back (the gadget has no fetch, or verify was off): never verified */
} cmboot_flash_result;

/* An empty result (no error, nothing written) in the caller's struct of struct_size bytes. Use
 * cmboot_flash_result_default() before the first cmboot_flash_write or _verify. */
CMBOOT_API int cmboot_flash_result_init(cmboot_flash_result *res, size_t struct_size);
static inline void cmboot_flash_result_default(cmboot_flash_result *res)
{
    (void)cmboot_flash_result_init(res, sizeof *res);
}
/* Milliseconds spent in a CMBOOT_FLASH_PHASE_*; -1 for a phase unknown to the library or to res's size. */
CMBOOT_API int64_t cmboot_flash_result_phase_ms(const cmboot_flash_result *res, int phase);

/* Defaults (verify on, image_digest on, env NULL, queue by source) into the caller's struct of struct_size
 * bytes. Use cmboot_flash_config_default(). */
CMBOOT_API int cmboot_flash_config_init(cmboot_flash_config *cfg, size_t struct_size);
static inline void cmboot_flash_config_default(cmboot_flash_config *cfg)
{
    (void)cmboot_flash_config_init(cfg, sizeof *cfg);
}
/* Opens and checks the target once, writes (only mapped ranges with a bmap) through that descriptor, syncs,
 * re-checks the disk's identity and verifies through the same descriptor when asked. A regular file longer
 * than the image is truncated to it (res->truncated_from). Running out of space while writing is
 * CMBOOT_ERR_NO_SPACE with res->target_touched set and res->bytes_written the bytes that reached it. */
CMBOOT_API int cmboot_flash_write(const cmboot_flash_config *cfg, cmboot_flash_result *res);
/* Reads the target back, bypassing the page cache, and compares SHA-256 with what was meant: per range
 * with a bmap, else the whole image against res->image_sha256 (from an earlier write). On a mismatch,
 * res->fail_offset names the first differing byte. When res->target is known (an earlier write), the
 * target opened now must be that one (same file, or same device numbers and diskseq): CMBOOT_ERR_NO_DEVICE
 * otherwise. */
CMBOOT_API int cmboot_flash_verify(const cmboot_flash_config *cfg, cmboot_flash_result *res);

/* ---- Report. ---- */
typedef struct cmboot_flash_report {
    size_t struct_size; /* set by cmboot_flash_report_default() (session.h, docs/abi.md) */
    const char *serial;
    const char *port_path;
    const char *soc;
    const char *metadata_json; /* object text or NULL */
    const char *image;
    const char *bmap;
    const char *target;
    int64_t boot_ms; /* -1 = no boot phase */
    int64_t pair_ms; /* -1 = no pairing */
    const cmboot_flash_result *flash;
    const char *via_reason; /* why --via auto chose the way (cmboot_flash_job_via_reason); NULL or "" = no key */
} cmboot_flash_report;

/* Defaults (all NULL, boot_ms and pair_ms -1) into the caller's struct of struct_size bytes. Use
 * cmboot_flash_report_default(). */
CMBOOT_API int cmboot_flash_report_init(cmboot_flash_report *rep, size_t struct_size);
static inline void cmboot_flash_report_default(cmboot_flash_report *rep)
{
    (void)cmboot_flash_report_init(rep, sizeof *rep);
}

/* JSON document (caller frees with free()). */
CMBOOT_API int cmboot_flash_report_json(const cmboot_flash_report *rep, char **out);

/* ---- Flashing one board: boot -> pair -> check -> write -> verify -> report. ---- */
/* A flash job: one image (and bmap) for one board. Opaque, so it can grow; read it through the accessors.
 * Not thread-safe: one thread runs it and reads it; cmboot_ctx_cancel() is the way in from other threads. */
typedef struct cmboot_flash_job cmboot_flash_job;

/* Where a job stopped (cmboot_flash_job_step): the step that failed, or CMBOOT_FLASH_STEP_DONE. */
typedef enum cmboot_flash_step {
    CMBOOT_FLASH_STEP_NONE = 0, /* nothing ran yet */
    CMBOOT_FLASH_STEP_IMAGE,    /* opening the image */
    CMBOOT_FLASH_STEP_BMAP,     /* loading the bmap */
    CMBOOT_FLASH_STEP_BOOT,     /* booting the board to its mass-storage stage */
    CMBOOT_FLASH_STEP_PAIR,     /* waiting for its disk under the board's port path */
    CMBOOT_FLASH_STEP_WRITE,    /* target check, write, sync, verify (cmboot_flash_job_flash has the details) */
    CMBOOT_FLASH_STEP_DONE      /* written (and verified when asked) */
} cmboot_flash_step;

/* Copies cfg (its strings are not copied: they must outlive the job). Used from cfg: image, bmap, target
 * (NULL = pair the disk by the board's port path), verify, image_digest, target_flags, source_flags, env,
 * buffer_size, buffers. Ignored: port_path, device_id, event, user, cancel (the job sets them: events go to
 * the context's callback, cmboot_ctx_cancel cancels). Pairing waits 60 s by default. */
CMBOOT_API int cmboot_flash_job_new(const cmboot_flash_config *cfg, cmboot_flash_job **out);
/* Deadline for the disk to appear after the board reached its mass-storage stage (ms, > 0). */
CMBOOT_API void cmboot_flash_job_set_pair_timeout(cmboot_flash_job *job, int64_t timeout_ms);
/* Opens the image and loads the bmap, once: a job whose image is unusable fails here, before a board is
 * booted for nothing. Called by cmboot_flash_job_run when not yet done. Failure: step IMAGE or BMAP. */
CMBOOT_API int cmboot_flash_job_open(cmboot_flash_job *job);
/* Runs the job once, on the calling thread: boots one board found by disc (boot's selection, timeouts and
 * boot files; the job follows it to mass storage: wait_mass_storage, one board, no loop, metadata not
 * printed), pairs its disk by port path unless a target was given, opens and checks the target once,
 * writes, syncs and verifies through that descriptor. Events (the boot's, then CMBOOT_EV_PHASE and
 * CMBOOT_EV_PROGRESS named by the board's port path) and logs go to ctx's callbacks; cmboot_ctx_cancel(ctx)
 * stops any step (CMBOOT_ERR_CANCELLED) and stays in force. Returns CMBOOT_OK or the error of the step that
 * failed (cmboot_flash_job_step); a board that came up as the fastboot gadget is CMBOOT_ERR_UNSUPPORTED at
 * step BOOT. A job runs once: again is CMBOOT_ERR_INVALID_ARG. */
CMBOOT_API int cmboot_flash_job_run(cmboot_flash_job *job, cmboot_ctx *ctx, const cmboot_discovery *disc,
                                    const cmboot_boot_config *boot);
CMBOOT_API void cmboot_flash_job_free(cmboot_flash_job *job);

/* Result accessors; pointers and strings are owned by the job and valid until cmboot_flash_job_free. */
CMBOOT_API cmboot_flash_step cmboot_flash_job_step(const cmboot_flash_job *job);
CMBOOT_API int cmboot_flash_job_error(const cmboot_flash_job *job);
/* Sentence for the error ("" when none). */
CMBOOT_API const char *cmboot_flash_job_reason(const cmboot_flash_job *job);
/* The booted board (NULL when none finished booting). */
CMBOOT_API const cmboot_board_result *cmboot_flash_job_board(const cmboot_flash_job *job);
/* What the board sent while booting (serial, MAC, ...); never NULL, maybe empty. */
CMBOOT_API const cmboot_metadata *cmboot_flash_job_metadata(const cmboot_flash_job *job);
/* The disk written (paired or given), "" before. */
/* Why the job wrote the board the way it did when its config said CMBOOT_FLASH_VIA_AUTO and that was not the
 * ordinary case (the board came up as the fastboot gadget, or this host has no usb-storage); "" otherwise. */
CMBOOT_API const char *cmboot_flash_job_via_reason(const cmboot_flash_job *job);
/* What CMBOOT_FLASH_VIA_AUTO comes to for a board that came up as the fastboot gadget (board_fastboot) or as a
 * USB disk, on the host env describes (cmboot_host_usb_storage: usb-storage and sd_mod built in, loaded, loadable
 * or unknown count as present): CMBOOT_FLASH_VIA_FASTBOOT when the board is the gadget or the host has no
 * usb-storage, else CMBOOT_FLASH_VIA_MSD; why (may be NULL) says which and why in a sentence. */
CMBOOT_API int cmboot_flash_via_auto(const cmboot_target_env *env, bool board_fastboot, char *why, size_t why_size);
CMBOOT_API const char *cmboot_flash_job_target(const cmboot_flash_job *job);
/* Milliseconds spent booting and pairing, -1 when the step did not run. */
CMBOOT_API int64_t cmboot_flash_job_boot_ms(const cmboot_flash_job *job);
CMBOOT_API int64_t cmboot_flash_job_pair_ms(const cmboot_flash_job *job);
/* The write's result (NULL until the write step ran). */
CMBOOT_API const cmboot_flash_result *cmboot_flash_job_flash(const cmboot_flash_job *job);
/* The JSON report of the board (as cmboot_flash_report_json; caller frees with free()); CMBOOT_ERR_INVALID_ARG
 * until the write step ran. */
CMBOOT_API int cmboot_flash_job_report_json(const cmboot_flash_job *job, char **out);

/* One call: cmboot_flash_job_new + _run. *out (may be NULL on CMBOOT_ERR_NO_MEMORY or a bad argument) holds
 * the result whatever the return; the caller frees it with cmboot_flash_job_free. */
CMBOOT_API int cmboot_flash_board(cmboot_ctx *ctx, const cmboot_discovery *disc, const cmboot_boot_config *boot,
                                  const cmboot_flash_config *flash, cmboot_flash_job **out);

#ifdef __cplusplus
}
#endif
#endif
