/* Mass-storage stage of the emulated board: USB Bulk-Only Transport over an image file on the host. */
#ifndef CMBOOT_SIM_MSC_BOT_H
#define CMBOOT_SIM_MSC_BOT_H

/*
 * Frontend-neutral and non-blocking like sim_device: the frontend hands it bulk OUT data (CBW or data-out)
 * and asks it for bulk IN data (data-in or CSW). MSC_PENDING means NAK: nothing to say yet (no command), or a
 * new CBW arrived before the host read the previous CSW; submit the same transfer again later.
 * The disk is the image file itself (pread/pwrite), so what the guest writes is on the host afterwards.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model/msc_scsi.h"
#include "model/msc_speed.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MSC_EP_OUT 0x01
#define MSC_EP_IN 0x82
#define MSC_MAX_PACKET 512

typedef enum msc_status {
    MSC_OK = 0,
    MSC_PENDING, /* NAK */
    MSC_STALL    /* endpoint halted until a Bulk-Only reset */
} msc_status;

typedef struct msc_config {
    const char *image_path; /* backing file; its size (rounded down to 512) is the capacity */
    bool read_only;
    const char *vendor; /* INQUIRY vendor (8), product (16), revision (4); NULL = defaults */
    const char *product;
    const char *revision;
} msc_config;

typedef struct msc_stats {
    uint64_t commands;
    uint64_t failed_commands;
    uint64_t bytes_read;    /* disk bytes the host read */
    uint64_t bytes_written; /* disk bytes the host wrote */
    uint64_t resets;
} msc_stats;

typedef struct msc_bot msc_bot;

/* Bulk-Only allows 16 LUNs (bCBWLUN is 4 bits). */
#define MSC_MAX_LUNS 16

/* CMBOOT_ERR_IO when the image cannot be opened, CMBOOT_ERR_NO_MEMORY, CMBOOT_ERR_INVALID_ARG. One LUN. */
int msc_bot_open(const msc_config *cfg, msc_bot **out);
/* n LUNs (1..MSC_MAX_LUNS), cfgs[i] is LUN i: GET MAX LUN answers n-1, a CBW's bCBWLUN picks the LUN. */
int msc_bot_open_luns(const msc_config *cfgs, size_t n, msc_bot **out);
unsigned msc_bot_lun_count(const msc_bot *bot);
/* INQUIRY strings the usbboot gadget reports for a disk of this kind ("emmc", "sd", "nvme", "usb"): the
 * kernel device name as vendor, blank product and revision. false for another kind. */
bool msc_kind_strings(const char *kind, const char **vendor, const char **product, const char **revision);
void msc_bot_close(msc_bot *bot);
/* Bulk-Only Mass Storage Reset, or a new connection: back to waiting for a CBW, stalls cleared. */
void msc_bot_reset(msc_bot *bot);

msc_status msc_bot_out(msc_bot *bot, const uint8_t *data, size_t len, size_t *consumed);
msc_status msc_bot_in(msc_bot *bot, uint8_t *buf, size_t cap, size_t *len);
/* Class requests on the interface: GET MAX LUN (0xA1/0xFE) and Bulk-Only reset (0x21/0xFF).
 * Returns the IN reply length (0 for OUT), or -1 to stall. */
int msc_bot_class_request(msc_bot *bot, const uint8_t setup[8], uint8_t *data, size_t cap);

/* Configuration descriptor of the stage: one interface 08/06/50, bulk OUT 0x01, bulk IN 0x82, 512 bytes. */
size_t msc_bot_config_descriptor(uint8_t *buf, size_t cap);

/* LUN 0's capacity. */
uint64_t msc_bot_capacity_bytes(const msc_bot *bot);
void msc_bot_stats(const msc_bot *bot, msc_stats *out);
/* Optional log of commands (one line each, without newline). */
void msc_bot_set_log(msc_bot *bot, void (*log)(void *user, const char *line), void *user);
/* Storage speed model the READ/WRITE data is accounted to (NULL = none); it must outlive the BOT's use. */
void msc_bot_set_speed(msc_bot *bot, msc_speed *speed);

#ifdef __cplusplus
}
#endif
#endif
