/* Internal state of the device model shared by its stage files (descriptors, ROM, second stage). */
#ifndef CMBOOT_SIM_INTERNAL_H
#define CMBOOT_SIM_INTERNAL_H

#include <stdio.h>
#include <openssl/evp.h>
#include "model/sim_device.h"

#define SIM_NEVER INT64_MAX
#define SIM_EVQ 8
#define SIM_LOG_MAX 20000

typedef enum rom_phase {
    ROM_WAIT_MSG_LEN = 0,  /* control OUT announcing the 24-byte boot message */
    ROM_WAIT_MSG_BULK,
    ROM_WAIT_SS_LEN,       /* control OUT announcing the second stage */
    ROM_WAIT_SS_BULK,
    ROM_WAIT_STATUS,       /* control IN 4 */
    ROM_FINISHED           /* accepted; disconnect scheduled */
} rom_phase;

typedef enum fs_phase {
    FS_WAIT_READ = 0,      /* host's read(260) delivers the current step's request */
    FS_WAIT_ANSWER,        /* host's control OUT carrying a length */
    FS_WAIT_BULK,          /* ReadFile data */
    FS_WAIT_EMPTY_ACK,     /* zero-length write after an empty name */
    FS_FINISHED
} fs_phase;

struct sim_device {
    sim_config cfg;
    sim_script script;
    char *save_dir;
    uint8_t expect_sig[20];
    bool has_expect_sig;

    /* bus state */
    int64_t now;             /* latest time the frontend gave us */
    bool connected;
    bool vanished;
    cmboot_stage stage;
    unsigned config_reads;
    bool configured;         /* SET_CONFIGURATION(1) taken */
    int64_t config_ready_at; /* SET_CONFIGURATION NAKed before this; -1: set from the first time seen */
    uint32_t halted;         /* endpoint halts, bit ((ep & 0x80) >> 3) | (ep & 0x0f) */
    sim_event evq[SIM_EVQ];
    unsigned evq_head, evq_count;
    int64_t disconnect_at;   /* scheduled end of the current stage */
    int64_t connect_at;      /* scheduled start of next_stage */
    cmboot_stage next_stage; /* UNKNOWN: the disconnect is a vanish */

    /* ROM */
    rom_phase rom;
    uint64_t bulk_expected, bulk_got;
    uint8_t msg[24];
    EVP_MD_CTX *sha;
    int64_t status_ready_at;
    int64_t fault_delay_until; /* an injected delay in progress, -1 none */
    bool fault_used;           /* one-shot faults (stall) already fired for the current step */
    bool rom_mismatch;

    /* second stage */
    fs_phase fs;
    size_t step;
    int sub;                 /* GET: 0 = GetFileSize, 1 = ReadFile */
    bool drain_only;         /* bulk is drained, not recorded */
    int64_t ack_deadline;
    bool committed;          /* cancel_misaligns: a cancelled read committed the current request */
    bool misaligned;         /* its tail was delivered: the next write answers the original request */
    sim_file_record *cur;
    FILE *save_fp;
    sim_file_record *files;
    size_t nfiles, files_cap;

    char **log;
    size_t nlog, log_cap;
    sim_result res;
};

/* sim_device.c */
void sim_log(sim_device *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_fail(sim_device *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_vanish(sim_device *dev, const char *why);
/* Ends the current stage at `at`: disconnect, then connect as next (UNKNOWN = vanish instead). */
void sim_schedule_stage_end(sim_device *dev, int64_t at, cmboot_stage next);
uint8_t sim_bulk_out_ep(const sim_device *dev);
/* Halts the endpoint until the host clears it (CLEAR_FEATURE(ENDPOINT_HALT)). */
void sim_halt(sim_device *dev, uint8_t ep);
/* The stage after the second stage (after_done), UNKNOWN when nothing follows. */
cmboot_stage sim_after_done_stage(const sim_device *dev);

/* sim_descriptors.c */
int sim_desc_build(sim_device *dev, uint8_t type, uint8_t index, uint8_t *buf, size_t cap);
int sim_desc_settled_config(const sim_device *dev, uint8_t *buf, size_t cap);
/* Whether the current configuration has this (non-zero) endpoint. */
bool sim_desc_has_endpoint(const sim_device *dev, uint8_t ep);
void sim_desc_identity(const sim_device *dev, sim_identity *out);

/* sim_rom.c */
void sim_rom_reset(sim_device *dev);
sim_status sim_rom_control(sim_device *dev, bool in, uint32_t len, uint16_t wLength, uint8_t *data,
                           size_t *in_len, int64_t now);
sim_status sim_rom_bulk(sim_device *dev, const uint8_t *data, size_t len, size_t *consumed, int64_t now);
int64_t sim_rom_wakeup(const sim_device *dev);

/* sim_second_stage.c */
void sim_fs_reset(sim_device *dev);
sim_status sim_fs_control(sim_device *dev, bool in, uint32_t len, uint16_t wLength, uint8_t *data,
                          size_t *in_len, int64_t now);
sim_status sim_fs_bulk(sim_device *dev, const uint8_t *data, size_t len, size_t *consumed, int64_t now);
void sim_fs_poll(sim_device *dev, int64_t now);
int64_t sim_fs_wakeup(const sim_device *dev);
void sim_fs_close_file(sim_device *dev);
/* The host cancelled a pending request read (cancel_misaligns). */
void sim_fs_cancel_read(sim_device *dev);

#endif
