/* usbredir frontend of the USB GPIO bridge: a sim_cp2112 on a QEMU usb-redir port, its pin levels to the owner. */
#include "front/usbredir_bridge.h"
#include "usbredir_peer.h"
#include "cmboot/version.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <usbredirparser.h>

#include "cmboot/error.h"

struct usbredir_bridge {
    usbredir_peer peer; /* first: the parser's priv is the bridge and its peer */
    usbredir_bridge_config cfg;
    char socket_path[108];
    char serial[SIM_SERIAL_MAX];
    int listen_fd;
    sim_cp2112 chip;
    bool connected; /* device_connect sent */
    bool peer_closed;
};

static void xlog(usbredir_bridge *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xlog(usbredir_bridge *b, const char *fmt, ...)
{
    if (!b->cfg.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    b->cfg.log(b->cfg.log_user, line);
}

static void connect_device(usbredir_bridge *b)
{
    struct usb_redir_interface_info_header ii;
    struct usb_redir_ep_info_header ei;
    memset(&ii, 0, sizeof(ii));
    memset(&ei, 0, sizeof(ei));
    for (int i = 0; i < 32; i++)
        ei.type[i] = usb_redir_type_invalid;
    ei.type[0] = ei.type[16] = usb_redir_type_control;
    ei.max_packet_size[0] = ei.max_packet_size[16] = 64;
    /* what the configuration descriptor says: one HID interface, two interrupt endpoints */
    uint8_t cfg[64];
    int n = sim_cp2112_config_descriptor(cfg, sizeof(cfg));
    for (int off = 0; off + 2 <= n && cfg[off] >= 2 && off + cfg[off] <= n; off += cfg[off]) {
        const uint8_t *d = cfg + off;
        if (d[1] == 4 && d[0] >= 9 && ii.interface_count < 32) {
            unsigned k = ii.interface_count++;
            ii.interface[k] = d[2];
            ii.interface_class[k] = d[5];
            ii.interface_subclass[k] = d[6];
            ii.interface_protocol[k] = d[7];
        } else if (d[1] == 5 && d[0] >= 7) {
            int idx = ((d[2] & 0x80) >> 3) | (d[2] & 0x0f);
            ei.type[idx] = usb_redir_type_interrupt;
            ei.interval[idx] = d[6];
            ei.max_packet_size[idx] = (uint16_t)(d[4] | d[5] << 8);
            ei.interface[idx] = 0;
        }
    }
    struct usb_redir_device_connect_header dc = {
        .speed = usb_redir_speed_full,
        .device_class = 0,
        .vendor_id = SIM_CP2112_VID,
        .product_id = SIM_CP2112_PID,
        .device_version_bcd = 0x0100,
    };
    usbredirparser_send_interface_info(b->peer.parser, &ii);
    usbredirparser_send_ep_info(b->peer.parser, &ei);
    usbredirparser_send_device_connect(b->peer.parser, &dc);
    b->connected = true;
    xlog(b, "CONNECT cp2112 %04x:%04x serial=\"%s\" full speed", SIM_CP2112_VID, SIM_CP2112_PID, b->serial);
}

static void cb_hello(void *priv, struct usb_redir_hello_header *h)
{
    usbredir_bridge *b = priv;
    xlog(b, "QEMU hello: \"%s\"", h->version);
    if (!b->connected)
        connect_device(b);
}

static void cb_reset(void *priv)
{
    usbredir_bridge *b = priv;
    sim_cp2112_usb_reset(&b->chip);
    if (b->cfg.verbose)
        xlog(b, "port reset");
}

/* Runs a control transfer through the model; tells the owner when a pin level changed. */
static void cb_control(void *priv, uint64_t id, struct usb_redir_control_packet_header *h, uint8_t *data, int len)
{
    usbredir_bridge *b = priv;
    uint8_t setup[8] = {h->requesttype,     h->request,
                        (uint8_t)h->value,  (uint8_t)(h->value >> 8),
                        (uint8_t)h->index,  (uint8_t)(h->index >> 8),
                        (uint8_t)h->length, (uint8_t)(h->length >> 8)};
    bool in = (h->requesttype & 0x80) != 0;
    uint8_t *buf = in ? calloc(1, h->length ? h->length : 1) : NULL;
    size_t got = 0;
    struct usb_redir_control_packet_header r = *h;
    uint8_t before = sim_cp2112_levels(&b->chip);
    sim_status s;
    if ((in && !buf) || (!in && len < h->length))
        s = SIM_STALL; /* an OUT must carry what it announces */
    else
        s = sim_cp2112_control(&b->chip, setup, in ? buf : data, &got);
    if (data)
        usbredirparser_free_packet_data(b->peer.parser, data);
    r.status = s == SIM_OK ? usb_redir_success : usb_redir_stall;
    r.length = s == SIM_OK ? (uint16_t)(in ? got : h->length) : 0;
    if (b->cfg.verbose)
        xlog(b, "control %02x %02x wValue=%04x wIndex=%04x wLength=%u -> %s %u", h->requesttype, h->request, h->value,
             h->index, h->length, s == SIM_OK ? "ok" : "stall", r.length);
    usbredirparser_send_control_packet(b->peer.parser, id, &r, in && s == SIM_OK ? buf : NULL,
                                       in && s == SIM_OK ? (int)got : 0);
    free(buf);
    uint8_t after = sim_cp2112_levels(&b->chip);
    if ((h->requesttype & 0x60) == 0x20 && h->request == 0x09 && (h->value & 0xff) <= 0x04)
        xlog(b, "GPIO outputs=0x%02x latch=0x%02x levels=0x%02x", b->chip.direction, b->chip.latch, after);
    if (after != before && b->cfg.lines)
        b->cfg.lines(b->cfg.lines_user, after, (uint8_t)(after ^ before));
}

static void cb_set_configuration(void *priv, uint64_t id, struct usb_redir_set_configuration_header *h)
{
    usbredir_bridge *b = priv;
    uint8_t setup[8] = {0x00, 9, h->configuration, 0, 0, 0, 0, 0};
    sim_status s = sim_cp2112_control(&b->chip, setup, NULL, NULL);
    struct usb_redir_configuration_status_header st = {
        .status = s == SIM_OK ? usb_redir_success : usb_redir_stall,
        .configuration = b->chip.configured ? 1 : 0,
    };
    usbredirparser_send_configuration_status(b->peer.parser, id, &st);
}

static void cb_get_configuration(void *priv, uint64_t id)
{
    usbredir_bridge *b = priv;
    struct usb_redir_configuration_status_header st = {.status = usb_redir_success,
                                                       .configuration = b->chip.configured ? 1 : 0};
    usbredirparser_send_configuration_status(b->peer.parser, id, &st);
}

static void cb_set_alt(void *priv, uint64_t id, struct usb_redir_set_alt_setting_header *h)
{
    usbredir_bridge *b = priv;
    struct usb_redir_alt_setting_status_header st = {
        .status = h->alt == 0 ? usb_redir_success : usb_redir_stall, .interface = h->interface, .alt = 0};
    usbredirparser_send_alt_setting_status(b->peer.parser, id, &st);
}

static void cb_get_alt(void *priv, uint64_t id, struct usb_redir_get_alt_setting_header *h)
{
    usbredir_bridge *b = priv;
    struct usb_redir_alt_setting_status_header st = {.status = usb_redir_success, .interface = h->interface, .alt = 0};
    usbredirparser_send_alt_setting_status(b->peer.parser, id, &st);
}

/* Every transfer is answered at once: nothing is held that a cancel could reach. */
static void cb_cancel(void *priv, uint64_t id)
{
    (void)priv, (void)id;
}

static void cb_disconnect_ack(void *priv)
{
    (void)priv;
}

static void cb_bulk(void *priv, uint64_t id, struct usb_redir_bulk_packet_header *h, uint8_t *data, int len)
{
    usbredir_bridge *b = priv;
    (void)len;
    struct usb_redir_bulk_packet_header r = *h;
    r.status = usb_redir_stall;
    r.length = r.length_high = 0;
    if (data)
        usbredirparser_free_packet_data(b->peer.parser, data);
    usbredirparser_send_bulk_packet(b->peer.parser, id, &r, NULL, 0);
}

/* The interrupt IN endpoint: receiving starts and never yields data (no SMBus responses). */
static void cb_start_interrupt(void *priv, uint64_t id, struct usb_redir_start_interrupt_receiving_header *h)
{
    usbredir_bridge *b = priv;
    bool ours = h->endpoint == SIM_CP2112_EP_IN;
    struct usb_redir_interrupt_receiving_status_header st = {.status = ours ? usb_redir_success : usb_redir_stall,
                                                             .endpoint = h->endpoint};
    if (b->cfg.verbose || !ours)
        xlog(b, "interrupt receiving on endpoint 0x%02x %s", h->endpoint, ours ? "started" : "refused");
    usbredirparser_send_interrupt_receiving_status(b->peer.parser, id, &st);
}

static void cb_stop_interrupt(void *priv, uint64_t id, struct usb_redir_stop_interrupt_receiving_header *h)
{
    usbredir_bridge *b = priv;
    struct usb_redir_interrupt_receiving_status_header st = {.status = usb_redir_success, .endpoint = h->endpoint};
    usbredirparser_send_interrupt_receiving_status(b->peer.parser, id, &st);
}

/* Interrupt OUT: an SMBus request; taken and dropped. */
static void cb_interrupt_packet(void *priv, uint64_t id, struct usb_redir_interrupt_packet_header *h, uint8_t *data,
                                int len)
{
    usbredir_bridge *b = priv;
    bool ours = h->endpoint == SIM_CP2112_EP_OUT;
    struct usb_redir_interrupt_packet_header r = {
        .endpoint = h->endpoint, .status = ours ? usb_redir_success : usb_redir_stall, .length = ours ? h->length : 0};
    if (ours && len > 0 && data)
        xlog(b, "interrupt OUT report 0x%02x (%d bytes) dropped: the SMBus is not emulated", data[0], len);
    if (data)
        usbredirparser_free_packet_data(b->peer.parser, data);
    usbredirparser_send_interrupt_packet(b->peer.parser, id, &r, NULL, 0);
}

static void close_peer(usbredir_bridge *b)
{
    if (b->peer.fd < 0)
        return;
    if (b->peer.parser)
        usbredirparser_destroy(b->peer.parser);
    b->peer.parser = NULL;
    close(b->peer.fd);
    b->peer.fd = -1;
    b->connected = false;
    b->peer_closed = true;
    xlog(b, "QEMU closed the connection");
}

static void peer_log(void *owner, const char *line)
{
    xlog(owner, "%s", line);
}

static int open_parser(usbredir_bridge *b)
{
    static const usbredir_peer_handlers h = {
        .hello = cb_hello,
        .reset = cb_reset,
        .set_configuration = cb_set_configuration,
        .get_configuration = cb_get_configuration,
        .set_alt_setting = cb_set_alt,
        .get_alt_setting = cb_get_alt,
        .cancel_data_packet = cb_cancel,
        .device_disconnect_ack = cb_disconnect_ack,
        .control_packet = cb_control,
        .bulk_packet = cb_bulk,
        .start_interrupt_receiving = cb_start_interrupt,
        .stop_interrupt_receiving = cb_stop_interrupt,
        .interrupt_packet = cb_interrupt_packet,
    };
    b->peer.verbose = b->cfg.verbose;
    b->peer.log = peer_log;
    return usbredir_peer_open(&b->peer, b, &h);
}

int usbredir_bridge_new(const usbredir_bridge_config *cfg, usbredir_bridge **out)
{
    if (!cfg || !out || !cfg->socket_path || strlen(cfg->socket_path) >= 108)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    usbredir_bridge *b = calloc(1, sizeof(*b));
    if (!b)
        return CMBOOT_ERR_NO_MEMORY;
    b->cfg = *cfg;
    snprintf(b->socket_path, sizeof(b->socket_path), "%s", cfg->socket_path);
    snprintf(b->serial, sizeof(b->serial), "%s", cfg->serial ? cfg->serial : "cp2112-sim");
    b->cfg.socket_path = b->socket_path;
    b->cfg.serial = b->serial;
    b->peer.fd = -1;
    sim_cp2112_init(&b->chip, b->serial);
    b->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, b->socket_path, strlen(b->socket_path) + 1);
    unlink(b->socket_path);
    if (b->listen_fd < 0 || bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(b->listen_fd, 1) != 0) {
        usbredir_bridge_free(b);
        return CMBOOT_ERR_IO;
    }
    *out = b;
    return CMBOOT_OK;
}

void usbredir_bridge_free(usbredir_bridge *b)
{
    if (!b)
        return;
    close_peer(b);
    if (b->listen_fd >= 0) {
        close(b->listen_fd);
        unlink(b->socket_path);
    }
    free(b);
}

int usbredir_bridge_fd(const usbredir_bridge *b, short *events)
{
    *events = POLLIN;
    if (b->peer.fd < 0)
        return b->listen_fd;
    if (b->peer.parser && usbredirparser_has_data_to_write(b->peer.parser))
        *events |= POLLOUT;
    return b->peer.fd;
}

void usbredir_bridge_handle(usbredir_bridge *b, short revents)
{
    if (b->peer.fd < 0) {
        if (!(revents & POLLIN))
            return;
        int fd = accept4(b->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (b->peer_closed) {
            close(fd); /* one QEMU per run */
            return;
        }
        b->peer.fd = fd;
        if (open_parser(b) != CMBOOT_OK) {
            close_peer(b);
            return;
        }
        xlog(b, "QEMU connected");
    } else if (revents & (POLLIN | POLLHUP | POLLERR)) {
        if (usbredirparser_do_read(b->peer.parser) == usbredirparser_read_io_error) {
            close_peer(b);
            return;
        }
    }
    if (b->peer.fd >= 0 && b->peer.parser && usbredirparser_has_data_to_write(b->peer.parser) &&
        usbredirparser_do_write(b->peer.parser) != 0)
        close_peer(b);
}

uint8_t usbredir_bridge_levels(const usbredir_bridge *b)
{
    return sim_cp2112_levels(&b->chip);
}

void usbredir_bridge_report_get(const usbredir_bridge *b, usbredir_bridge_report *out)
{
    memset(out, 0, sizeof(*out));
    out->peer_connected = b->peer.fd >= 0;
    out->peer_closed = b->peer_closed;
    out->get_reports = b->chip.get_reports;
    out->set_reports = b->chip.set_reports;
    out->refused = b->chip.refused;
    out->gpio_sets = b->chip.gpio_sets;
    out->direction = b->chip.direction;
    out->push_pull = b->chip.push_pull;
    out->latch = b->chip.latch;
    out->levels = sim_cp2112_levels(&b->chip);
}
