/* Device emulator: a frontend-neutral, non-blocking model of one board through ROM, second stage and mass storage. */
#ifndef CMBOOT_SIM_DEVICE_H
#define CMBOOT_SIM_DEVICE_H

/*
 * The model never blocks, sleeps or starts threads. A frontend (sim_bus.c in process, a usbredir server on
 * the QEMU bench) feeds it USB traffic and the time:
 *
 *   - sim_device_control(): any control transfer (standard GET_DESCRIPTOR/SET_CONFIGURATION/... and the
 *     protocol's vendor requests). SIM_PENDING means "no answer yet" (NAK): nothing was consumed; submit
 *     the same transfer again later (after sim_device_next_wakeup() or after other traffic).
 *   - sim_device_bulk_out(): data on a bulk OUT endpoint; may consume part of it (*consumed).
 *   - sim_device_poll(now): lets scheduled things happen (re-enumeration, delays).
 *   - sim_device_take_event(): what the frontend must do on the bus: connect as a stage, disconnect
 *     (re-enumeration follows with a CONNECT), vanish (gone for good).
 *   - sim_device_next_wakeup(): when to poll next (INT64_MAX: only traffic can change anything).
 *   - sim_device_cancel(): the host gave up on a transfer the model was NAKing (cancel_misaligns).
 * A new enumeration starts unconfigured: the frontend (or the kernel behind it) sends SET_CONFIGURATION(1);
 * bulk data before that stalls.
 * Times are milliseconds of one monotonic clock chosen by the frontend (cmboot_now_ms in process).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cmboot/soc.h"
#include "model/sim_script.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIM_PID_MSD_LEGACY 0x0001 /* usbboot's msd firmware */
#define SIM_PID_MSD_GADGET 0x0104 /* Linux mass-storage-gadget */
#define SIM_VID_FASTBOOT 0x18d1   /* the fastboot gadget borrows Google's VID */
#define SIM_PID_FASTBOOT 0x4e40
#define SIM_VID_NORMAL 0x0525 /* the board's own system: Linux's g_cdc gadget (NetChip VID) */
#define SIM_PID_NORMAL 0xa4aa /* g_cdc: CDC Composite Gadget (ECM + ACM) */
#define SIM_SERIAL_MAX 32
#define SIM_FAILURE_MAX 256

/* A stage only the emulator knows (the host library sees an unknown device): the fastboot gadget. Compare
 * with ==, it is not a member of cmboot_stage. */
#define SIM_STAGE_FASTBOOT ((cmboot_stage)16)
/* The board running its own system (normal mode, nRPIBOOT released at power-on): a g_cdc-like gadget
 * 0525:a4aa with the board serial, enumerated only (no data). Emulator-only, like SIM_STAGE_FASTBOOT. */
#define SIM_STAGE_NORMAL ((cmboot_stage)17)

typedef enum sim_after_done {
    SIM_AFTER_MASS_STORAGE = 0, /* re-enumerate as mass storage with cfg.msd_pid */
    SIM_AFTER_NOTHING,          /* disconnect for good (the payload has no USB device) */
    SIM_AFTER_FASTBOOT,         /* the fastboot gadget 18d1:4e40 (sim_fastboot.c) */
    SIM_AFTER_ROM               /* the boot ROM again: a new boot (recovery payloads with an rpiboot boot order) */
} sim_after_done;

/* One partition of the fastboot gadget: its name and the file holding its bytes (its size is the file's). */
typedef struct sim_fastboot_part {
    const char *name;
    const char *path;
} sim_fastboot_part;

#define SIM_FASTBOOT_PARTS_MAX 16
#define SIM_FASTBOOT_MAX_DOWNLOAD (64u << 20) /* default max-download-size */

typedef struct sim_config {
    cmboot_soc_id soc;
    bool two_interfaces;         /* BCM2837 ROM variant: mass storage if 0 + vendor if 1, bulk OUT 0x03 */
    bool config_quirk;           /* ROM: first config read claims wTotalLength 55 (default on for BCM2711 only) */
    char serial[SIM_SERIAL_MAX]; /* board serial ("af04b2da"); ROM string 3 on BCM2711/2712 */
    cmboot_stage start_stage;    /* ROM (default), SECOND to skip the ROM, MASS_STORAGE, SIM_STAGE_FASTBOOT, or
                                  * SIM_STAGE_NORMAL (a board powered on with nRPIBOOT released) */
    /* ROM */
    int32_t rom_reject_status;        /* status answered on rejection (default 1) */
    bool rom_reject;                  /* always reject the second stage */
    int64_t expect_second_stage_size; /* -1 = any */
    bool expect_second_stage_sha;
    uint8_t second_stage_sha256[32];
    const uint8_t *expect_signature; /* 20 bytes expected in the boot message, NULL = any */
    unsigned rom_status_delay_ms;    /* status read NAKs this long after the second stage arrived */
    bool rom_status_lost;            /* the ROM runs the second stage without ever answering the status read (seen
                                      * on BCM2711/2712: it resets first); reads NAK until it leaves */
    /* timing */
    unsigned disconnect_delay_ms; /* from the last answer of a stage to the disconnect (default 5) */
    unsigned reenum_delay_ms;     /* from disconnect to the next stage's connect (default 20) */
    int rom_to_second_ms;         /* ROM -> second stage: disconnect to connect; -1 (default) = reenum_delay_ms
                                   * (real boards: 1500-3000) */
    int done_to_next_ms;          /* second stage -> whatever follows; -1 (default) = reenum_delay_ms
                                   * (real boards: 5000-30000 and more) */
    unsigned done_ack_timeout_ms; /* after an empty name: wait this long for the host's ack (default 1000) */
    unsigned set_config_delay_ms; /* ROM: SET_CONFIGURATION is NAKed this long after the connect (default 0):
                                   * the configuration appears after the ADD event */
    /* second stage */
    const sim_script *script;    /* copied; NULL = sim_script_default(soc) */
    const char *save_dir;        /* received files are written here (names made flat and safe) */
    uint8_t second_serial_index; /* iSerialNumber of the second stage: 4 (string = board serial) on
                                  * BCM2711/2712, 1 (the manufacturer string) on BCM2835/7; never 0 or 3 */
    bool cancel_misaligns;       /* a cancelled pending request read misaligns the next reply (see docs) */
    bool leave_without_done;     /* at a Done / empty-name step or the script's end: leave instead of asking */
    sim_after_done after_done;   /* also what follows a leave without Done */
    uint16_t msd_pid;            /* default: legacy 0x0001 for BCM2835/7, gadget 0x0104 for BCM2711/2712 */
    /* fastboot gadget (after_done fastboot); the strings are copied by sim_device_new */
    const sim_fastboot_part *fastboot_parts; /* up to SIM_FASTBOOT_PARTS_MAX; none = every flash FAILs */
    size_t n_fastboot_parts;
    uint32_t fastboot_max_download; /* max-download-size (default SIM_FASTBOOT_MAX_DOWNLOAD) */
    bool fastboot_no_fetch;         /* a gadget without fetch: FAIL "unknown command" */
    const char *fastboot_fail_cmd;  /* fault: a command starting with this is answered FAIL "injected fault" */
    bool fastboot_short_fetch;      /* fault: fetch sends half the bytes its DATA announced, then OKAY */
    uint64_t fastboot_vanish_after; /* fault: the gadget vanishes once this many download bytes arrived (0 off) */
} sim_config;

/* Fills cfg with the defaults of a SoC (serial "af04b2da", "a1b2c3d4" on BCM2712; default script). */
void sim_config_default(sim_config *cfg, cmboot_soc_id soc);
/* cmboot_stage_name(), plus "fastboot" for SIM_STAGE_FASTBOOT and "normal" for SIM_STAGE_NORMAL. */
const char *sim_stage_name(cmboot_stage stage);

typedef enum sim_status {
    SIM_OK = 0,    /* answered (data in the output buffer) or consumed */
    SIM_STALL,     /* the endpoint stalls */
    SIM_PENDING,   /* NAK: no answer yet, try again later */
    SIM_NO_DEVICE, /* not connected (disconnected, re-enumerating or vanished) */
    SIM_OVERFLOW   /* babble: the device sent a packet larger than what was left of the host's transfer */
} sim_status;

typedef enum sim_event_type {
    SIM_EV_CONNECT = 1, /* appear as ev.stage (descriptors change with it) */
    SIM_EV_DISCONNECT,  /* leave the bus; a CONNECT follows */
    SIM_EV_VANISH       /* leave the bus for good */
} sim_event_type;

typedef struct sim_event {
    sim_event_type type;
    cmboot_stage stage;
} sim_event;

/* Identity of the current stage, what a bus reports. */
typedef struct sim_identity {
    uint16_t vid, pid, bcd_device;
    uint8_t serial_index;
    bool full_speed;          /* 12 Mbit/s (BCM2835/2837 boot ROM), else high speed */
    uint16_t bulk_max_packet; /* 64 at full speed, 512 at high speed */
    bool configured;          /* SET_CONFIGURATION(1) done (a bus shows no interfaces before) */
    uint8_t num_interfaces;   /* as the (settled) configuration descriptor says */
    uint8_t vendor_interface; /* 0 or 1 */
    uint8_t bulk_out_ep;      /* 0x01 or 0x03 */
    cmboot_stage stage;
    char serial[SIM_SERIAL_MAX]; /* string at serial_index (ASCII), "" for index 0 */
    char product[64];
} sim_identity;

typedef struct sim_file_record {
    char name[260];         /* printable form of the requested name */
    int64_t announced_size; /* GetFileSize answer, -1 if not asked */
    int64_t read_size;      /* ReadFile announced length, -1 if not asked */
    uint64_t received;      /* bulk bytes received */
    uint8_t sha256[32];     /* of what was received (valid when received == read_size) */
    bool complete;
} sim_file_record;

typedef struct sim_result {
    bool rom_accepted; /* ROM answered status 0 */
    int rom_rejections;
    uint32_t second_stage_size; /* from the boot message */
    uint64_t second_stage_received;
    uint8_t second_stage_sha256[32];
    uint8_t signature[20];
    unsigned requests; /* file-server requests delivered */
    unsigned steps_done;
    bool script_complete;   /* Done / empty name delivered (and acked) */
    bool left_without_done; /* leave_without_done: the second stage left without Done */
    unsigned misaligned;    /* cancel_misaligns: replies sent misaligned after a cancelled read */
    unsigned metadata_acked;
    unsigned files_received;
    uint64_t bytes_received; /* file-server bulk bytes */
    int failures;            /* host behaviour or expectations not met */
    char first_failure[SIM_FAILURE_MAX];
    cmboot_stage stage; /* current stage, UNKNOWN when disconnected */
    bool vanished;
    unsigned enumerations; /* connects so far */
} sim_result;

typedef struct sim_device sim_device;

/* CMBOOT_ERR_INVALID_ARG for a bad config, CMBOOT_ERR_NO_MEMORY. The first event is CONNECT(start_stage). */
int sim_device_new(const sim_config *cfg, sim_device **out);
void sim_device_free(sim_device *dev);

/* setup: the 8 setup bytes as on the wire. For OUT, data holds wLength bytes. For IN, data has room for
 * wLength bytes and *in_len receives what the device answered (may be less: short-reply faults). */
sim_status sim_device_control(sim_device *dev, const uint8_t setup[8], uint8_t *data, size_t *in_len, int64_t now_ms);
/* Bulk IN on endpoint ep (0x81...): one transfer of up to cap bytes into buf, *len = bytes sent (a short
 * packet ends it). SIM_PENDING: nothing to send (NAK); the stages of the boot protocol never send. */
sim_status sim_device_bulk_in(sim_device *dev, uint8_t ep, uint8_t *buf, size_t cap, size_t *len, int64_t now_ms);
/* Bulk OUT on endpoint ep (0x01 / 0x03...). *consumed = bytes taken (less than len on a vanish fault). */
sim_status sim_device_bulk_out(sim_device *dev, uint8_t ep, const uint8_t *data, size_t len, size_t *consumed,
                               int64_t now_ms);
/* The host cancelled a control transfer the model had answered SIM_PENDING (usbredir cancel_data_packet,
 * a libusb timeout). Only matters with cfg.cancel_misaligns: a cancelled request read commits the request. */
void sim_device_cancel(sim_device *dev, const uint8_t setup[8], int64_t now_ms);
/* A USB reset (port reset by the host): descriptor read counters restart, the device is unconfigured and its
 * endpoint halts are cleared; stage state stays. */
void sim_device_reset(sim_device *dev);

void sim_device_poll(sim_device *dev, int64_t now_ms);
int64_t sim_device_next_wakeup(const sim_device *dev);
bool sim_device_take_event(sim_device *dev, sim_event *ev);

/* Descriptors of the current stage (also reachable through GET_DESCRIPTOR). type 1 device, 2 config
 * (may differ per read: the BCM2711 quirk), 3 string (UTF-16LE, index 0 = language list). Returns bytes
 * written (truncated to cap) or -1 (no such descriptor: STALL). */
int sim_device_descriptor(sim_device *dev, uint8_t type, uint8_t index, uint8_t *buf, size_t cap);
/* The configuration descriptor as it settles (no quirk, nothing counted): what a frontend describes to its
 * bus. Returns bytes written (truncated to cap), -1 when disconnected. */
int sim_device_settled_config(const sim_device *dev, uint8_t *buf, size_t cap);
void sim_device_identity(const sim_device *dev, sim_identity *out);
bool sim_device_connected(const sim_device *dev);

void sim_device_result(const sim_device *dev, sim_result *out);
/* Log of what the host did: one line each. */
size_t sim_device_log_count(const sim_device *dev);
const char *sim_device_log_line(const sim_device *dev, size_t i);
/* Last record of a requested file by printable name; NULL if never requested. */
const sim_file_record *sim_device_file(const sim_device *dev, const char *name);

#ifdef __cplusplus
}
#endif
#endif
