/* usbredir frontend of the USB GPIO bridge: one emulated CP2112 on a QEMU usb-redir port (unix socket). */
#ifndef CMBOOT_SIM_USBREDIR_BRIDGE_H
#define CMBOOT_SIM_USBREDIR_BRIDGE_H

/*
 * Like usbredir_board, we are the usbredir "usb-host" side and QEMU's usb-redir chardev is the client. The
 * bridge connects once QEMU says hello and stays on the bus (full speed, 10c4:ea90). Control transfers go to
 * the sim_cp2112 model and are answered at once; the interrupt IN endpoint is accepted for receiving and
 * never has data (the SMBus engine is not emulated), interrupt OUT data is taken and dropped.
 * After every transfer that changes a pin level the owner's lines() callback runs: that is the wiring.
 * Single-threaded and non-blocking: poll usbredir_bridge_fd(), call usbredir_bridge_handle().
 */

#include <stdbool.h>
#include <stdint.h>
#include "model/sim_cp2112.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct usbredir_bridge_config {
    const char *socket_path; /* unix socket to listen on */
    const char *serial;      /* the bridge's iSerialNumber */
    /* Pin levels changed (bit n = GPIO.n, 1 = high); also called nowhere else. */
    void (*lines)(void *user, uint8_t levels, uint8_t changed);
    void *lines_user;
    /* One line per event, without newline. */
    void (*log)(void *user, const char *line);
    void *log_user;
    bool verbose; /* also log every transfer */
} usbredir_bridge_config;

typedef struct usbredir_bridge_report {
    bool peer_connected;
    bool peer_closed;
    unsigned get_reports, set_reports, refused, gpio_sets;
    uint8_t direction, push_pull, latch, levels;
} usbredir_bridge_report;

typedef struct usbredir_bridge usbredir_bridge;

/* Creates the socket (replacing a stale one). CMBOOT_ERR_IO / _INVALID_ARG / _NO_MEMORY. */
int usbredir_bridge_new(const usbredir_bridge_config *cfg, usbredir_bridge **out);
void usbredir_bridge_free(usbredir_bridge *b);
int usbredir_bridge_fd(const usbredir_bridge *b, short *events);
void usbredir_bridge_handle(usbredir_bridge *b, short revents);
/* The pin levels now (bit n = GPIO.n). */
uint8_t usbredir_bridge_levels(const usbredir_bridge *b);
void usbredir_bridge_report_get(const usbredir_bridge *b, usbredir_bridge_report *out);

#ifdef __cplusplus
}
#endif
#endif
