/* What every emulated device on a QEMU usb-redir socket shares: the parser on the socket, and the refusals. */
#ifndef CMBOOT_SIM_USBREDIR_PEER_H
#define CMBOOT_SIM_USBREDIR_PEER_H

#include <stdbool.h>
#include <usbredirparser.h>

/* The first member of a device's struct, so that the parser's priv (the device) is also its peer. */
typedef struct usbredir_peer {
    int fd;                        /* the connection to QEMU, -1 when none */
    struct usbredirparser *parser; /* while connected */
    bool verbose;                  /* log every usbredir message, not only warnings */
    void (*log)(void *owner, const char *line);
} usbredir_peer;

/* What the device does. A NULL entry is refused as a device without that endpoint or feature would:
 * a stall answer (start/stop interrupt receiving, interrupt packets); the device's hello, reset, control and
 * the configuration calls are required. Iso streams, bulk streams, bulk receiving and filters are always the
 * peer's (refused or ignored: no emulated device has them). */
typedef struct usbredir_peer_handlers {
    usbredirparser_hello hello;
    usbredirparser_reset reset;
    usbredirparser_set_configuration set_configuration;
    usbredirparser_get_configuration get_configuration;
    usbredirparser_set_alt_setting set_alt_setting;
    usbredirparser_get_alt_setting get_alt_setting;
    usbredirparser_cancel_data_packet cancel_data_packet;
    usbredirparser_device_disconnect_ack device_disconnect_ack;
    usbredirparser_control_packet control_packet;
    usbredirparser_bulk_packet bulk_packet;
    usbredirparser_start_interrupt_receiving start_interrupt_receiving;
    usbredirparser_stop_interrupt_receiving stop_interrupt_receiving;
    usbredirparser_interrupt_packet interrupt_packet;
} usbredir_peer_handlers;

/* Creates the parser on peer->fd as a usb-host (our capabilities sent in the hello) with owner as priv;
 * owner must start with its usbredir_peer. CMBOOT_OK or CMBOOT_ERR_NO_MEMORY. */
int usbredir_peer_open(usbredir_peer *peer, void *owner, const usbredir_peer_handlers *h);

#endif
