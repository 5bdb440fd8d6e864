/* Second-stage scripts of the device emulator: steps, expectations, faults, and their text format. */
#ifndef CMBOOT_SIM_SCRIPT_H
#define CMBOOT_SIM_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/soc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIM_NAME_FIELD 256           /* name field of a file-server request */
#define SIM_SHORT_TO_NAME UINT64_MAX /* SIM_FAULT_SHORT arg: the request up to the name's NUL (4 + len + 1) */

typedef enum sim_step_kind {
    SIM_STEP_GET = 1, /* GetFileSize NAME, then ReadFile NAME when the size is not 0 */
    SIM_STEP_READ,    /* ReadFile NAME alone (no GetFileSize first) */
    SIM_STEP_META,    /* GetFileSize "*KEY*VALUE" (metadata; also "*KEY*", "*KEY"), acked by a zero-length write */
    SIM_STEP_RAW,     /* any command and name bytes; the host's answer is recorded, not judged */
    SIM_STEP_DONE,    /* command 2 (Done), empty name */
    SIM_STEP_EMPTY    /* command 0 with an empty name: ack and stop */
} sim_step_kind;

typedef enum sim_fault_kind {
    SIM_FAULT_NONE = 0,
    SIM_FAULT_VANISH,             /* instead of delivering the step's request: leave the bus for good */
    SIM_FAULT_STALL,              /* stall the request read once */
    SIM_FAULT_DELAY,              /* NAK the request read for arg ms */
    SIM_FAULT_GARBAGE,            /* 260 bytes of garbage instead of the request */
    SIM_FAULT_SHORT,              /* only arg bytes of the request (SIM_SHORT_TO_NAME: up to the name's NUL) */
    SIM_FAULT_UNKNOWN_COMMAND,    /* command = arg (default 7) with the step's name */
    SIM_FAULT_UNTERMINATED,       /* name = 256 non-NUL bytes */
    SIM_FAULT_OVERLONG,           /* name = 255 characters (NUL in the last byte) */
    SIM_FAULT_VANISH_AFTER_BYTES, /* during the step's bulk data (ReadFile), vanish after arg bytes */
    SIM_FAULT_STALL_BULK,         /* halt the bulk OUT endpoint at the step's data until CLEAR_FEATURE */
    SIM_FAULT_LONG,               /* name NUL terminated, the rest of the field stale non-zero bytes */
    SIM_FAULT_COUNT
} sim_fault_kind;

typedef struct sim_fault {
    sim_fault_kind kind;
    uint64_t arg;
} sim_fault;

typedef struct sim_step {
    sim_step_kind kind;
    int32_t command;              /* RAW only */
    uint8_t name[SIM_NAME_FIELD]; /* bytes as sent (GET/READ: file name, META: "*KEY*VALUE") */
    size_t name_len;              /* <= 256; no NUL is added when it is 256 */
    /* expectations (GET/READ) */
    bool must_exist;     /* size must not be 0 */
    bool must_be_absent; /* size must be 0 */
    int64_t expect_size; /* -1 = any */
    bool expect_sha;
    uint8_t sha256[32];
    sim_fault fault;
} sim_step;

typedef struct sim_script {
    sim_step *steps;
    size_t count;
    size_t cap;
    /* ROM stage (script lines "rom-fault KIND [ARG]", "rom-reject [STATUS]"): the fault applies to the
     * status read (vanish, stall, delay, garbage, short) or to the second stage's bulk data
     * (vanish-after-bytes, stall-bulk). */
    sim_fault rom_fault;
    bool rom_reject;
    int32_t rom_reject_status;
} sim_script;

void sim_script_init(sim_script *s);
void sim_script_free(sim_script *s);
int sim_script_copy(sim_script *dst, const sim_script *src);
/* Appends a step (copied). CMBOOT_ERR_NO_MEMORY. */
int sim_script_add(sim_script *s, const sim_step *step);
/* Convenience builders; name is a C string (use sim_script_add for arbitrary bytes). */
int sim_script_add_get(sim_script *s, const char *name, bool must_exist);
int sim_script_add_meta(sim_script *s, const char *key, const char *value);
/* Metadata with the name exactly as given (it must start with '*'): "*KEY" without a value. */
int sim_script_add_meta_name(sim_script *s, const char *name);
int sim_script_add_raw(sim_script *s, int32_t command, const void *name, size_t name_len);
int sim_script_add_done(sim_script *s);
int sim_script_add_empty(sim_script *s);
/* Sets a fault on the last step. CMBOOT_ERR_INVALID_ARG if there is none. */
int sim_script_fault_last(sim_script *s, sim_fault_kind kind, uint64_t arg);

/* The request sequences of protocol.md "Request sequences seen in users' logs" for a SoC. */
int sim_script_default(sim_script *s, cmboot_soc_id soc);

/* Text format (docs/emulator.md): one step per line, '#' comments. On error returns CMBOOT_ERR_FORMAT and
 * writes "line N: why" to err. */
int sim_script_parse(sim_script *s, const char *text, char *err, size_t err_size);
int sim_script_load(sim_script *s, const char *path, char *err, size_t err_size);

const char *sim_fault_name(sim_fault_kind kind);
/* Fault by name ("vanish-after-bytes"); SIM_FAULT_NONE if unknown. */
sim_fault_kind sim_fault_by_name(const char *name);
/* "KIND", "KIND:ARG" or "KIND=ARG" with the script's defaults (short: up to the name's NUL,
 * unknown-command: 7). CMBOOT_ERR_FORMAT when unknown or an argument is missing or bad. */
int sim_fault_parse(const char *text, sim_fault *out);
/* Printable form of name bytes (non-printables as \xNN), always NUL terminated. */
void sim_name_printable(const uint8_t *name, size_t len, char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
