/* Internal: pieces of the flashing code shared between src/flash_*.c and white-box tests. */
#ifndef CMB_FLASH_FLASH_INTERNAL_H
#define CMB_FLASH_FLASH_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "cmboot/flash.h"

#define CMB_FLASH_ALIGN 4096u

/* ---- Writer (flash/writer.c). ---- */
struct iovec;
/* The target's descriptor as the writer uses it: O_DIRECT switched on (fcntl) for aligned runs. */
typedef struct cmb_write_io {
    int fd;
    bool can_direct; /* false once the file system refused O_DIRECT (tmpfs) */
    bool direct_on;
    /* NULL: pwritev(2); tests put short writes and errors here */
    ssize_t (*writev_at)(int fd, const struct iovec *iov, int iovcnt, off_t off);
} cmb_write_io;
/* Most buffers in one run (one pwritev) */
#define CMB_WRITE_RUN_MAX 64
/* Writes cnt (1..CMB_WRITE_RUN_MAX) buffers in order as one run at off, short writes continued; O_DIRECT when
 * off and every buffer's address and length are aligned. On failure *fail_off is the first byte not written and
 * errno is kept: CMBOOT_ERR_NO_SPACE (ENOSPC, EDQUOT, EFBIG) or CMBOOT_ERR_IO. */
int cmb_flash_write_run(cmb_write_io *t, const struct iovec *iov, int cnt, uint64_t off, uint64_t *fail_off);

/* Last error text of a source (libarchive's message), "" when none. */
const char *cmb_flash_source_error(const cmboot_flash_source *src);
/* Sets the decoder's threads (0 = the online cores) and memory cap (bytes, 0 = none) and makes the decoder
 * (xz); a sentence for the log in note ("" when none). Without it, the first read makes it with defaults. */
int cmb_flash_source_prepare(cmboot_flash_source *src, unsigned threads, uint64_t memlimit, char *note,
                             size_t note_size);
/* Decoder threads in use (1 unless a multi-threaded xz decoder runs). */
unsigned cmb_flash_source_threads(const cmboot_flash_source *src);

/* The checks of cmboot_target_open for a block device known by its numbers (fake sysfs in tests).
 * fd_diskseq and fd_size come from the open descriptor (BLKGETDISKSEQ, BLKGETSIZE64; 0 = unknown); id may be
 * NULL; port_path NULL = any port. */
int cmb_target_check_blockdev(const cmboot_target_env *env, unsigned major_no, unsigned minor_no, uint64_t fd_diskseq,
                              uint64_t fd_size, const char *port_path, uint64_t image_size, unsigned flags,
                              cmboot_target_identity *id, char *reason, size_t reason_size);

/* Opens an existing block device or regular file read-only for a later verification (no safety policy,
 * nothing created); identity filled like cmboot_target_open. */
int cmb_target_open_readonly(const char *path, cmboot_target **out, char *reason, size_t reason_size);

/* Adds "target_identity" for res->target (when known) to a report object. */
struct json_object;
void cmb_flash_report_target(struct json_object *o, const cmboot_flash_result *res);

/* Lowercase hex of len bytes into out (2*len+1) (flash/events.c). */
void cmb_flash_hex(const uint8_t *bytes, size_t len, char *out);

/* cmboot_flash_write with the image already open (src is closed, also on failure) and the bmap already loaded
 * (NULL = none; stays the caller's): a flash job opens both once, before the board is booted. */
int cmb_flash_write_opened(const cmboot_flash_config *cfg, cmboot_flash_source *src, const cmboot_bmap *bmap,
                           cmboot_flash_result *res);

/* Writes the image through a board's fastboot gadget on transport t (flash/fastboot_write.c): pieces of at most
 * max-download-size sent as sparse images (only the bmap's ranges with a bmap; an Android sparse image as it is)
 * and flashed to cfg->fastboot_partition, then read back with fetch: when cfg->verify and the gadget can
 * (res->not_read_back when not). src is closed; t stays the caller's. */
int cmb_flash_write_fastboot(const cmboot_flash_config *cfg, cmboot_transport t, cmboot_flash_source *src,
                             const cmboot_bmap *bmap, cmboot_flash_result *res);

/* Calls the config's event callback, when set (flash/events.c). */
void cmb_flash_emit(const cmboot_flash_config *cfg, int type, const char *name, const char *value, uint64_t done,
                    uint64_t total, int error, uint64_t elapsed_ms);

/* Verification through the target's descriptor with an already loaded bmap (NULL = whole image against
 * res->image_sha256). */
int cmb_flash_verify_fd(const cmboot_flash_config *cfg, const cmboot_bmap *bmap, int fd, cmboot_flash_result *res);

/* The caller's structs read up to their struct_size into full ones of this library (flash/abi.c); NULL env is
 * the defaults, a NULL config or result CMBOOT_ERR_INVALID_ARG. out->env of a config points to env. */
int cmb_target_env_load(const cmboot_target_env *in, cmboot_target_env *out);
int cmb_flash_config_load(const cmboot_flash_config *in, cmboot_flash_config *out, cmboot_target_env *env);
int cmb_flash_result_load(const cmboot_flash_result *in, cmboot_flash_result *out);
int cmb_flash_report_load(const cmboot_flash_report *in, cmboot_flash_report *out);
/* A full result back into the caller's, only its struct_size bytes. */
void cmb_flash_result_store(const cmboot_flash_result *full, cmboot_flash_result *res);

/* Makes cmboot_flash_cancel broadcast cv under mu (the pipeline's wait point); NULL, NULL detaches. */
void cmb_flash_cancel_attach(cmboot_flash_canceller *c, pthread_mutex_t *mu, pthread_cond_t *cv);
/* The canceller's eventfd (readable once cancelled; never read from), -1 for NULL. */
int cmb_flash_cancel_fd(const cmboot_flash_canceller *c);

/* ---- Flash line (flash/line.c) on the job's steps (flash/board.c). ---- */
/* A job whose bmap is the line's, loaded once (bmap may be NULL: the job loads cfg->bmap itself). */
int cmb_flash_job_new_shared(const cmboot_flash_config *cfg, const cmboot_bmap *bmap, int64_t pair_timeout_ms,
                             cmboot_flash_job **out);
/* Copies the board's result and metadata into the job (on the session's thread, while md is valid). */
void cmb_flash_job_take_board(cmboot_flash_job *job, const cmboot_board_result *res, const cmboot_metadata *md,
                              bool adopted);
/* The device of the board's last stage and the discovery it came from (valid until the job has run): a board
 * that came up as the fastboot gadget is opened through them. */
void cmb_flash_job_take_device(cmboot_flash_job *job, const cmboot_device_info *dev, const cmboot_discovery *disc);
/* Runs the job from "this board is up in its mass-storage stage" (cmb_flash_job_take_board before): opens the
 * image, pairs (unless target is a path: written instead; it must outlive the job), checks, writes, verifies.
 * A board that failed to boot fails at step BOOT. Runs once. */
int cmb_flash_job_run_booted(cmboot_flash_job *job, cmboot_ctx *ctx, const char *target);
/* Ends a job that will not run, at step with rc and reason; returns rc. */
int cmb_flash_job_fail(cmboot_flash_job *job, cmboot_flash_step step, int rc, const char *reason);

/* Kind of a gadget's disk, from its SCSI INQUIRY vendor and model (flash/pair.c, docs/flash.md). */
typedef enum cmb_disk_kind {
    CMB_DISK_UNKNOWN = 0, /* the strings do not tell (also: "any" in a choice) */
    CMB_DISK_EMMC,
    CMB_DISK_NVME,
    CMB_DISK_SD,
    CMB_DISK_MMC /* "mmcblkN": an eMMC or an SD card; matches a choice of either */
} cmb_disk_kind;

/* One disk under a board's port path, as pairing lists it. */
typedef struct cmb_disk_info {
    char name[32];    /* kernel name, "sdb" */
    int lun;          /* last number of its H:C:T:L, -1 when unknown */
    uint64_t sectors; /* 512-byte sectors; 0 = no medium yet */
    char vendor[16];  /* INQUIRY strings as sysfs shows them, trailing blanks cut */
    char model[24];
    cmb_disk_kind kind;
} cmb_disk_info;

cmb_disk_kind cmb_disk_kind_of(const char *vendor, const char *model);

/* Transfer size per SCSI command of a paired usb-storage disk (kernel name, under sys_root): raises the
 * device's max_sectors to want 512-byte sectors (bounded by the host's scatter-gather list: max_segments x
 * max_segment_size) and the queue's max_sectors_kb to match (within max_hw_sectors_kb); never lowers.
 * usb-storage defaults to 240 sectors, and every command costs a round trip. msg says what was set.
 * CMBOOT_OK; CMBOOT_ERR_UNSUPPORTED: no max_sectors (not usb-storage); CMBOOT_ERR_ACCESS: a write failed. */
#define CMB_DISK_TRANSFER_SECTORS 2048UL
int cmb_disk_raise_transfer(const char *sys_root, const char *disk, unsigned long want, char *msg, size_t msg_size);
const char *cmb_disk_kind_name(cmb_disk_kind k);
/* NULL = CMB_DISK_UNKNOWN (any); "emmc", "nvme", "sd"; anything else CMBOOT_ERR_INVALID_ARG. */
int cmb_disk_kind_parse(const char *name, cmb_disk_kind *out);
/* Fills d from a disk's sysfs directory <...>/<H:C:T:L>/block/<name> (a link to it is fine). */
int cmb_disk_describe(const char *blockdir, cmb_disk_info *d);
/* The disk written must be the one chosen: CMBOOT_ERR_UNSAFE_TARGET with the reason when the disk (kernel name)
 * has another LUN or kind than asked (lun -1 and target_kind NULL: any). */
int cmb_disk_check_choice(const cmboot_target_env *env, const char *disk, int lun, const char *target_kind,
                          char *reason, size_t reason_size);

#endif
