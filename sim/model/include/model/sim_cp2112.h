/* USB GPIO bridge model: a Silicon Labs CP2112 (HID, 8 GPIOs) as far as the Linux hid-cp2112 driver uses it. */
#ifndef CMBOOT_SIM_CP2112_H
#define CMBOOT_SIM_CP2112_H

/*
 * The CP2112 is a full-speed USB HID device (10c4:ea90): one HID interface with an interrupt IN and an
 * interrupt OUT endpoint, and everything about its GPIOs in HID feature reports on the control endpoint
 * (GET_REPORT / SET_REPORT, Silicon Labs AN495):
 *   0x02 GPIO configuration  4 bytes: direction (1 = output), push-pull (1) / open drain (0), special
 *                            functions, clock divider
 *   0x03 GPIO get            1 byte: the level of each pin
 *   0x04 GPIO set            2 bytes: latch values, mask of the latches to change
 *   0x05 version             2 bytes: part number 0x0c, device version
 *   0x06 SMBus configuration 13 bytes (stored and read back; the SMBus engine is not emulated)
 *   0x01 reset, 0x20 lock byte, 0x21 USB configuration, 0x22-0x24 strings (the PROM: read-only here)
 * The output reports 0x10-0x17 (SMBus transfers) are declared in the report descriptor but not emulated.
 *
 * The pins as wired: each has a pull-up on the far side, so a pin reads low only while it is an output
 * driving a 0 (push-pull or open drain alike); an input or a released open-drain output reads high.
 * Like sim_device, the model never blocks; a frontend feeds it control transfers.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model/sim_device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SIM_CP2112_VID 0x10c4
#define SIM_CP2112_PID 0xea90
#define SIM_CP2112_LINES 8
#define SIM_CP2112_EP_IN 0x81  /* interrupt IN: SMBus responses (never sent here) */
#define SIM_CP2112_EP_OUT 0x01 /* interrupt OUT: SMBus requests (taken and dropped) */
#define SIM_CP2112_MAX_PACKET 64

typedef struct sim_cp2112 {
    char serial[SIM_SERIAL_MAX];
    bool configured;
    /* report 0x02 */
    uint8_t direction;
    uint8_t push_pull;
    uint8_t special;
    uint8_t clock_div;
    /* report 0x04 */
    uint8_t latch;
    /* report 0x06, as on the wire (big-endian fields) */
    uint8_t smbus[13];
    uint8_t idle_rate; /* SET_IDLE */
    /* counters */
    unsigned get_reports, set_reports, refused, gpio_sets;
} sim_cp2112;

/* Power-on state: every pin an open-drain input with its latch at 1 (all lines high). */
void sim_cp2112_init(sim_cp2112 *c, const char *serial);
/* A USB reset: unconfigured again; the GPIO state stays (the chip is not powered off). */
void sim_cp2112_usb_reset(sim_cp2112 *c);
/* Any control transfer, setup as on the wire. For OUT, data holds wLength bytes; for IN, data has room for
 * wLength bytes and *in_len receives the answer's length. SIM_OK or SIM_STALL (refused). */
sim_status sim_cp2112_control(sim_cp2112 *c, const uint8_t setup[8], uint8_t *data, size_t *in_len);
/* The level of each pin as wired (bit n = GPIO.n, 1 = high). */
uint8_t sim_cp2112_levels(const sim_cp2112 *c);
/* The configuration descriptor (what a frontend describes to its bus); bytes written, truncated to cap. */
int sim_cp2112_config_descriptor(uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
