/* A transport whose device replies come from fuzz input: drives the ROM stage and file server with anything. */
#ifndef CMBOOT_FUZZ_TRANSPORT_H
#define CMBOOT_FUZZ_TRANSPORT_H
#include <stddef.h>
#include <stdint.h>
#include "cmboot/cmboot.h"

/* Which odd paths a run went through (counted from the stages' log lines and hooks). */
typedef struct fuzz_stats {
    unsigned reads_again;    /* a request read failed (timeout, stall) and was read again */
    unsigned short_requests; /* fewer than 4 bytes */
    unsigned unknown_commands;
    unsigned bad_metadata;
    unsigned metadata; /* "*KEY*VALUE" recorded */
    unsigned unsafe_names;
    unsigned halt_retries; /* bulk OUT resent after clearing a halt */
    int64_t clock_ms;      /* time the run took on its fake clock (the stages never wait in real time) */
} fuzz_stats;

/* Input layout, one transfer after another: an outcome byte per transfer (value % 16: 13 timeout, which takes
 * the transfer's timeout on the run's fake clock, 14 stall, 15 I/O error, else success; input exhausted =
 * device gone); a control IN then takes a length byte
 * (>= 0xf0: answer lb - 0xf0 bytes, else all) and that many data bytes; a failed bulk OUT takes a byte p and
 * reports len * p / 255 bytes taken. For request reads a command byte without its high bit becomes
 * byte % 5 with the other three command bytes zeroed. */

/* Runs both stages against replies decoded from data, on a fake clock (default deadlines and back-off, no real
 * waits); never fails itself (sanitizers judge). Returns the file server's result. stats may be NULL. */
int fuzz_run_stages(const uint8_t *data, size_t size, const char *boot_dir, fuzz_stats *stats);
/* The file server alone. */
int fuzz_run_fileserver(const uint8_t *data, size_t size, const char *boot_dir, fuzz_stats *stats);

/* The file server with the caller's files, hooks and a look at every bulk OUT buffer (what would reach the
 * device), for invariants such as "nothing from outside the boot directory". */
typedef struct fuzz_fs_options {
    const cmboot_file_provider *provider;
    const cmboot_stage_hooks *hooks;
    void (*bulk_check)(void *user, const void *buf, size_t len);
    void *user;
    unsigned idle_limit_ms; /* request_idle_limit_ms of the run (0: none), measured on the fake clock */
    int64_t *clock_ms;      /* optional: gets the time the run took on its fake clock */
} fuzz_fs_options;
int fuzz_run_fileserver_with(const uint8_t *data, size_t size, const fuzz_fs_options *opt);
#endif
