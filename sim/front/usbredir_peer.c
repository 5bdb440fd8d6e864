/* usbredir plumbing every emulated device shares: socket I/O for the parser, capabilities, and refusals. */
#include "usbredir_peer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmboot/error.h"
#include "cmboot/version.h"

static void plog(void *owner, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plog(void *owner, const char *fmt, ...)
{
    usbredir_peer *peer = owner;
    if (!peer->log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    peer->log(owner, line);
}

static int cb_read(void *priv, uint8_t *data, int count)
{
    usbredir_peer *peer = priv;
    ssize_t n = read(peer->fd, data, (size_t)count);
    if (n > 0)
        return (int)n;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return -1; /* EOF or error: the caller closes the connection */
}

static int cb_write(void *priv, uint8_t *data, int count)
{
    usbredir_peer *peer = priv;
    ssize_t n = send(peer->fd, data, (size_t)count, MSG_NOSIGNAL);
    if (n >= 0)
        return (int)n;
    if (errno == EAGAIN || errno == EINTR)
        return 0;
    return -1;
}

static void cb_log(void *priv, int level, const char *msg)
{
    usbredir_peer *peer = priv;
    if (level <= usbredirparser_warning || peer->verbose)
        plog(priv, "usbredir: %s", msg);
}

/* Requests for what a device does not have: usbredirparser calls a NULL handler for a packet type it accepts, so
 * each type a usb-host can receive has one here. Those that expect an answer get a stall; data is freed. */
static void cb_start_iso(void *priv, uint64_t id, struct usb_redir_start_iso_stream_header *h)
{
    usbredir_peer *peer = priv;
    struct usb_redir_iso_stream_status_header st = {.status = usb_redir_stall, .endpoint = h->endpoint};
    plog(priv, "iso stream on endpoint 0x%02x refused: no such endpoint", h->endpoint);
    usbredirparser_send_iso_stream_status(peer->parser, id, &st);
}

static void cb_stop_iso(void *priv, uint64_t id, struct usb_redir_stop_iso_stream_header *h)
{
    usbredir_peer *peer = priv;
    struct usb_redir_iso_stream_status_header st = {.status = usb_redir_stall, .endpoint = h->endpoint};
    usbredirparser_send_iso_stream_status(peer->parser, id, &st);
}

static void cb_start_interrupt(void *priv, uint64_t id, struct usb_redir_start_interrupt_receiving_header *h)
{
    usbredir_peer *peer = priv;
    struct usb_redir_interrupt_receiving_status_header st = {.status = usb_redir_stall, .endpoint = h->endpoint};
    plog(priv, "interrupt receiving on endpoint 0x%02x refused: no such endpoint", h->endpoint);
    usbredirparser_send_interrupt_receiving_status(peer->parser, id, &st);
}

static void cb_stop_interrupt(void *priv, uint64_t id, struct usb_redir_stop_interrupt_receiving_header *h)
{
    usbredir_peer *peer = priv;
    struct usb_redir_interrupt_receiving_status_header st = {.status = usb_redir_stall, .endpoint = h->endpoint};
    usbredirparser_send_interrupt_receiving_status(peer->parser, id, &st);
}

static void cb_alloc_streams(void *priv, uint64_t id, struct usb_redir_alloc_bulk_streams_header *h)
{
    usbredir_peer *peer = priv;
    struct usb_redir_bulk_streams_status_header st = {.endpoints = h->endpoints, .status = usb_redir_stall};
    usbredirparser_send_bulk_streams_status(peer->parser, id, &st);
}

static void cb_free_streams(void *priv, uint64_t id, struct usb_redir_free_bulk_streams_header *h)
{
    usbredir_peer *peer = priv;
    struct usb_redir_bulk_streams_status_header st = {.endpoints = h->endpoints, .status = usb_redir_stall};
    usbredirparser_send_bulk_streams_status(peer->parser, id, &st);
}

static void cb_start_bulk_receiving(void *priv, uint64_t id, struct usb_redir_start_bulk_receiving_header *h)
{
    usbredir_peer *peer = priv;
    struct usb_redir_bulk_receiving_status_header st = {
        .stream_id = h->stream_id, .endpoint = h->endpoint, .status = usb_redir_stall};
    usbredirparser_send_bulk_receiving_status(peer->parser, id, &st);
}

static void cb_stop_bulk_receiving(void *priv, uint64_t id, struct usb_redir_stop_bulk_receiving_header *h)
{
    usbredir_peer *peer = priv;
    struct usb_redir_bulk_receiving_status_header st = {
        .stream_id = h->stream_id, .endpoint = h->endpoint, .status = usb_redir_stall};
    usbredirparser_send_bulk_receiving_status(peer->parser, id, &st);
}

static void cb_iso_packet(void *priv, uint64_t id, struct usb_redir_iso_packet_header *h, uint8_t *data, int len)
{
    usbredir_peer *peer = priv;
    (void)len;
    struct usb_redir_iso_packet_header r = {.endpoint = h->endpoint, .status = usb_redir_stall, .length = 0};
    if (data)
        usbredirparser_free_packet_data(peer->parser, data);
    usbredirparser_send_iso_packet(peer->parser, id, &r, NULL, 0);
}

static void cb_interrupt_packet(void *priv, uint64_t id, struct usb_redir_interrupt_packet_header *h, uint8_t *data,
                                int len)
{
    usbredir_peer *peer = priv;
    (void)len;
    struct usb_redir_interrupt_packet_header r = {.endpoint = h->endpoint, .status = usb_redir_stall, .length = 0};
    if (data)
        usbredirparser_free_packet_data(peer->parser, data);
    usbredirparser_send_interrupt_packet(peer->parser, id, &r, NULL, 0);
}

static void cb_filter_reject(void *priv)
{
    plog(priv, "QEMU's filter rejects the device");
}

static void cb_filter_filter(void *priv, struct usbredirfilter_rule *rules, int rules_count)
{
    (void)rules_count;
    plog(priv, "QEMU sent a device filter (ignored: the device is what it is)");
    free(rules); /* the handler owns the rules */
}

int usbredir_peer_open(usbredir_peer *peer, void *owner, const usbredir_peer_handlers *h)
{
    struct usbredirparser *p = usbredirparser_create();
    if (!p)
        return CMBOOT_ERR_NO_MEMORY;
    p->priv = owner;
    p->log_func = cb_log;
    p->read_func = cb_read;
    p->write_func = cb_write;
    p->hello_func = h->hello;
    p->reset_func = h->reset;
    p->set_configuration_func = h->set_configuration;
    p->get_configuration_func = h->get_configuration;
    p->set_alt_setting_func = h->set_alt_setting;
    p->get_alt_setting_func = h->get_alt_setting;
    p->cancel_data_packet_func = h->cancel_data_packet;
    p->device_disconnect_ack_func = h->device_disconnect_ack;
    p->control_packet_func = h->control_packet;
    p->bulk_packet_func = h->bulk_packet;
    p->start_iso_stream_func = cb_start_iso;
    p->stop_iso_stream_func = cb_stop_iso;
    p->start_interrupt_receiving_func =
        h->start_interrupt_receiving ? h->start_interrupt_receiving : cb_start_interrupt;
    p->stop_interrupt_receiving_func = h->stop_interrupt_receiving ? h->stop_interrupt_receiving : cb_stop_interrupt;
    p->alloc_bulk_streams_func = cb_alloc_streams;
    p->free_bulk_streams_func = cb_free_streams;
    p->start_bulk_receiving_func = cb_start_bulk_receiving;
    p->stop_bulk_receiving_func = cb_stop_bulk_receiving;
    p->iso_packet_func = cb_iso_packet;
    p->interrupt_packet_func = h->interrupt_packet ? h->interrupt_packet : cb_interrupt_packet;
    p->filter_reject_func = cb_filter_reject;
    p->filter_filter_func = cb_filter_filter;
    uint32_t caps[USB_REDIR_CAPS_SIZE] = {0};
    usbredirparser_caps_set_cap(caps, usb_redir_cap_connect_device_version);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_filter);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_device_disconnect_ack);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_ep_info_max_packet_size);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_64bits_ids);
    usbredirparser_caps_set_cap(caps, usb_redir_cap_32bits_bulk_length);
    peer->parser = p;
    usbredirparser_init(p, "cmboot-sim " CMBOOT_VERSION_STRING, caps, USB_REDIR_CAPS_SIZE, usbredirparser_fl_usb_host);
    return CMBOOT_OK;
}
