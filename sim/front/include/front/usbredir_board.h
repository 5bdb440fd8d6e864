/* usbredir frontend of the device emulator: one emulated board on one QEMU usb-redir port (unix socket). */
#ifndef CMBOOT_SIM_USBREDIR_BOARD_H
#define CMBOOT_SIM_USBREDIR_BOARD_H

/*
 * We are the usbredir "usb-host" side (we own the device); QEMU's usb-redir chardev is the socket client.
 * The board listens on its socket, speaks usbredir with libusbredirparser, and drives a sim_device (ROM,
 * second stage) and, after Done, an msc_bot (mass storage over an image file) on the same port:
 *   - each stage change is device_disconnect, then (after QEMU's ack) interface_info, ep_info,
 *     device_connect, so the guest re-enumerates on the same port path;
 *   - transfers the device model answers PENDING are held (NAK) and retried; cancel_data_packet is
 *     answered with status cancelled;
 *   - SeaBIOS's pre-boot probing (resets, descriptor reads, GET MAX LUN) is served like any host's;
 *   - bulk data is paced by a link model (bytes per second, 0 = as fast as QEMU goes).
 * Single-threaded and non-blocking: the owner polls usbredir_board_fd() and calls usbredir_board_handle(),
 * and calls usbredir_board_step() no later than usbredir_board_next_wakeup_us().
 */

#include <stdbool.h>
#include <stdint.h>
#include "model/msc_bot.h"
#include "model/sim_device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define USBREDIR_STAGE_RECORDS 16

typedef struct usbredir_board_config {
    const char *name;          /* for logs: "board0" */
    const char *socket_path;   /* unix socket to listen on */
    sim_config sim;            /* device model (copied by sim_device_new) */
    const char *disk_path;     /* image behind the mass-storage stage (required) */
    uint64_t link_bytes_per_s; /* bulk pacing; 0 = unthrottled */
    bool start_unplugged;      /* stay off the bus until usbredir_board_plug(b, true) */
    /* One line per event, without newline; t_us is microseconds since the board was created. */
    void (*log)(void *user, const char *board, int64_t t_us, const char *line);
    void *log_user;
    bool verbose; /* also log every transfer */
    /* eMMC behind the mass-storage stage (msc_speed): READ/WRITE data rates; 0 = unthrottled */
    uint64_t emmc_write_bytes_per_s;
    uint64_t emmc_read_bytes_per_s;
    /* More LUNs of the mass-storage stage after disk_path's LUN 0 (LUN 1, 2, ...); copied at create. */
    const msc_config *extra_luns;
    unsigned n_extra_luns; /* at most MSC_MAX_LUNS - 1 */
} usbredir_board_config;

/* What happened in one connection of the board (one stage as the guest saw it). */
typedef struct usbredir_stage_record {
    cmboot_stage stage;
    int64_t connect_us;      /* device_connect sent */
    int64_t first_vendor_us; /* first protocol transfer (vendor request / CBW); -1 if none */
    int64_t last_answer_us;  /* last transfer answered */
    int64_t disconnect_us;   /* device_disconnect sent; -1 while connected */
    uint64_t bulk_out_bytes;
    uint64_t bulk_in_bytes;
    uint64_t link_wait_us;    /* time the link model added */
    bool full_speed;          /* the stage enumerated at 12 Mbit/s: the link is capped there */
    uint64_t storage_wait_us; /* time the eMMC model added beyond the link */
} usbredir_stage_record;

typedef struct usbredir_board_report {
    usbredir_stage_record stages[USBREDIR_STAGE_RECORDS];
    unsigned stage_count; /* records used (later connections overwrite the last one) */
    sim_result sim;
    msc_stats msc;
    bool peer_connected; /* QEMU is on the socket */
    bool peer_closed;    /* QEMU was connected and went away */
    unsigned cancelled;  /* packets QEMU cancelled */
    unsigned resets;
    uint64_t emmc_write_us; /* eMMC time of every byte written / read (the model's clock) */
    uint64_t emmc_read_us;
} usbredir_board_report;

typedef struct usbredir_board usbredir_board;

/* Creates the socket (replacing a stale one) and the device. CMBOOT_ERR_IO / _INVALID_ARG / _NO_MEMORY. */
int usbredir_board_new(const usbredir_board_config *cfg, usbredir_board **out);
void usbredir_board_free(usbredir_board *b);

/* The descriptor to poll and the events wanted (listening socket before QEMU connects). */
int usbredir_board_fd(const usbredir_board *b, short *events);
void usbredir_board_handle(usbredir_board *b, short revents);
/* Time-driven work: model clock, held packets, paced replies. */
void usbredir_board_step(usbredir_board *b);
/* Monotonic microseconds (usbredir_now_us) of the next usbredir_board_step needed; INT64_MAX if none. */
int64_t usbredir_board_next_wakeup_us(const usbredir_board *b);

/* Puts the board in / takes it out of its port (the guest sees a plug / an unplug). */
/* Another board on the same port (a production line's next board): only while unplugged (CMBOOT_ERR_BUSY
 * otherwise). The device model and its disk are replaced; the next plug powers the new board on at its start
 * stage. The link and eMMC speeds and the report (one record per connection) carry on. */
int usbredir_board_replace(usbredir_board *b, const sim_config *sim, const char *disk_path);
void usbredir_board_plug(usbredir_board *b, bool plugged);

void usbredir_board_report_get(const usbredir_board *b, usbredir_board_report *out);
sim_device *usbredir_board_device(usbredir_board *b);

int64_t usbredir_now_us(void);

#ifdef __cplusplus
}
#endif
#endif
