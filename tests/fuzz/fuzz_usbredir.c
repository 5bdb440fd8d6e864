/* libFuzzer target: the emulator's usbredir frontend (sim/front/usbredir_board.c) as QEMU's side of the socket
 * would drive it: a hello, then packets built from the input (control, bulk, reset, configuration, alternate
 * settings, cancel, disconnect ack, and raw bytes for usbredirparser's own parser), with the board's model,
 * mass storage and the fastboot gadget included, answering in between. Timing is set to zero so a run is not a wait. */
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <usbredirproto.h>

#include "cmboot/error.h"
#include "fuzz_util.h"
#include "front/usbredir_board.h"

typedef struct out {
    uint8_t b[1 << 17];
    size_t n;
} out;

static void put(out *o, const void *p, size_t n)
{
    if (o->n + n > sizeof o->b)
        n = sizeof o->b - o->n;
    if (n == 0)
        return; /* p may be NULL then */
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

/* A packet: the 16-byte header (64-bit ids are negotiated), the type header, then data. */
static void packet(out *o, uint32_t type, uint64_t id, const void *hdr, size_t hlen, const void *data, size_t dlen)
{
    struct usb_redir_header h = {type, (uint32_t)(hlen + dlen), id};
    put(o, &h, sizeof h);
    put(o, hdr, hlen);
    put(o, data, dlen);
}

static void log_line(void *user, const char *board, int64_t t_us, const char *line)
{
    (void)user;
    (void)board;
    (void)t_us;
    if (strnlen(line, 4096) == 4096)
        fuzz_fail("unterminated board log line");
}

/* Lets the board read everything written, answer, and throws its answers away. */
static void pump(usbredir_board *b, int peer)
{
    for (int i = 0; i < 64; i++) {
        short ev;
        int fd = usbredir_board_fd(b, &ev);
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) {
            usbredir_board_step(b);
            break;
        }
        usbredir_board_handle(b, p.revents);
    }
    uint8_t sink[65536];
    while (recv(peer, sink, sizeof sink, MSG_DONTWAIT) > 0)
        ;
}

static void send_all(usbredir_board *b, int peer, out *o)
{
    size_t off = 0;
    while (off < o->n) {
        ssize_t n = send(peer, o->b + off, o->n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n <= 0) {
            size_t before = off;
            pump(b, peer);
            n = send(peer, o->b + off, o->n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n <= 0 && off == before)
                break; /* the board closed the connection */
        }
        if (n > 0)
            off += (size_t)n;
    }
    o->n = 0;
    pump(b, peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t flags = fuzz_u8(&in);
    char sock[PATH_MAX], disk[PATH_MAX];
    snprintf(sock, sizeof sock, "%s/board.sock", fuzz_scratch());
    snprintf(disk, sizeof disk, "%s/board.img", fuzz_scratch());
    static uint8_t zeros[64 * 1024];
    fuzz_write_file(disk, zeros, sizeof zeros);
    static const cmboot_soc_id socs[] = {CMBOOT_SOC_BCM2835, CMBOOT_SOC_BCM2837, CMBOOT_SOC_BCM2711,
                                         CMBOOT_SOC_BCM2712};
    usbredir_board_config cfg = {
        .name = "fuzz", .socket_path = sock, .disk_path = disk, .log = log_line, .verbose = flags & 4};
    sim_config_default(&cfg.sim, socs[flags & 3]);
    cfg.sim.two_interfaces = cfg.sim.soc == CMBOOT_SOC_BCM2837 && (flags & 8);
    cfg.sim.disconnect_delay_ms = 0;
    cfg.sim.reenum_delay_ms = 0;
    cfg.sim.rom_to_second_ms = 0;
    cfg.sim.done_to_next_ms = 0;
    cfg.sim.done_ack_timeout_ms = 1;
    sim_fastboot_part part = {"mmcblk0", disk};
    if ((flags & 0x30) == 0x30) { /* the fastboot gadget, its bulk IN served by the frontend */
        cfg.sim.start_stage = SIM_STAGE_FASTBOOT;
        cfg.sim.fastboot_parts = &part;
        cfg.sim.n_fastboot_parts = 1;
    } else if (flags & 0x10)
        cfg.sim.start_stage = CMBOOT_STAGE_MASS_STORAGE; /* straight to BOT/SCSI */
    else if (flags & 0x20)
        cfg.sim.start_stage = CMBOOT_STAGE_SECOND;
    usbredir_board *b;
    if (usbredir_board_new(&cfg, &b) != CMBOOT_OK)
        fuzz_fail("cannot make the board");
    int peer = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
    if (peer < 0 || connect(peer, (struct sockaddr *)&sa, sizeof sa) != 0)
        fuzz_fail("cannot connect to the board");
    usbredir_board_handle(b, POLLIN); /* accept */

    static out o;
    o.n = 0;
    /* hello with the capabilities QEMU has */
    uint8_t hello[64 + 4] = "qemu usb-redir guest fuzz";
    uint32_t caps = 1u << usb_redir_cap_connect_device_version | 1u << usb_redir_cap_filter |
                    1u << usb_redir_cap_device_disconnect_ack | 1u << usb_redir_cap_ep_info_max_packet_size |
                    1u << usb_redir_cap_64bits_ids | 1u << usb_redir_cap_32bits_bulk_length;
    memcpy(hello + 64, &caps, 4);
    /* The hello is sent before any capability is agreed: header with a 32-bit id. */
    uint32_t h32[3] = {usb_redir_hello, sizeof hello, 0};
    put(&o, h32, sizeof h32);
    put(&o, hello, sizeof hello);
    send_all(b, peer, &o);

    uint64_t id = 1;
    static const uint8_t eps[] = {0x01, 0x02, 0x03, 0x81, 0x82, 0x83, 0x04, 0x84};
    uint8_t buf[4096];
    for (unsigned ops = 0; ops < 200 && in.left; ops++) {
        uint8_t op = fuzz_u8(&in);
        const uint8_t *p;
        switch ((op & 0x1f) % 13) {
        case 0: { /* control transfer */
            struct usb_redir_control_packet_header c = {0};
            c.requesttype = fuzz_u8(&in);
            c.endpoint = c.requesttype & 0x80;
            c.request = fuzz_u8(&in);
            c.value = fuzz_u16(&in);
            c.index = fuzz_u16(&in);
            c.length = fuzz_u16(&in);
            if (op & 0x80)
                c.length %= 300;
            size_t dlen = 0;
            if (!(c.requesttype & 0x80)) {
                dlen = fuzz_bytes(&in, op & 0x40 ? c.length / 2 : c.length, &p); /* sometimes short */
                packet(&o, usb_redir_control_packet, id++, &c, sizeof c, p, dlen);
            } else {
                packet(&o, usb_redir_control_packet, id++, &c, sizeof c, NULL, 0);
            }
            break;
        }
        case 1: { /* bulk transfer */
            struct usb_redir_bulk_packet_header h = {0};
            h.endpoint = op & 0x80 ? fuzz_u8(&in) : eps[fuzz_u8(&in) % sizeof eps];
            uint32_t len = fuzz_u16(&in);
            if (op & 0x40)
                len |= (uint32_t)fuzz_u8(&in) << 16; /* large: up to 16 MiB asked */
            h.length = (uint16_t)len;
            h.length_high = (uint16_t)(len >> 16);
            if (h.endpoint & 0x80) {
                packet(&o, usb_redir_bulk_packet, id++, &h, sizeof h, NULL, 0);
            } else {
                size_t dlen = fuzz_bytes(&in, len, &p);
                h.length = (uint16_t)dlen;
                h.length_high = (uint16_t)(dlen >> 16);
                packet(&o, usb_redir_bulk_packet, id++, &h, sizeof h, p, dlen);
            }
            break;
        }
        case 2: packet(&o, usb_redir_reset, id++, NULL, 0, NULL, 0); break;
        case 3: {
            uint8_t c = fuzz_u8(&in) % 3;
            packet(&o, usb_redir_set_configuration, id++, &c, 1, NULL, 0);
            break;
        }
        case 4: packet(&o, usb_redir_get_configuration, id++, NULL, 0, NULL, 0); break;
        case 5: {
            uint8_t a[2] = {fuzz_u8(&in), fuzz_u8(&in)};
            packet(&o, usb_redir_set_alt_setting, id++, a, 2, NULL, 0);
            break;
        }
        case 6: {
            uint8_t i = fuzz_u8(&in);
            packet(&o, usb_redir_get_alt_setting, id++, &i, 1, NULL, 0);
            break;
        }
        case 7: /* cancel one of the last packets (or one never sent) */
            packet(&o, usb_redir_cancel_data_packet, id - 1 - fuzz_u8(&in) % 4, NULL, 0, NULL, 0);
            break;
        case 8: packet(&o, usb_redir_device_disconnect_ack, 0, NULL, 0, NULL, 0); break;
        case 9: { /* raw bytes: whatever usbredirparser makes of them */
            size_t n = fuzz_bytes(&in, fuzz_u8(&in), &p);
            memcpy(buf, p, n);
            put(&o, buf, n);
            break;
        }
        case 10: /* let the model's clock run: re-enumeration, held packets */
            send_all(b, peer, &o);
            for (int i = 0; i < 4; i++)
                usbredir_board_step(b);
            pump(b, peer);
            break;
        case 11: usbredir_board_plug(b, op & 0x80); break;
        case 12: { /* the other packet types a usb-host may be sent (iso, interrupt, streams, filter) */
            static const struct {
                uint32_t type;
                size_t hlen;
            } kinds[] = {
                {usb_redir_start_iso_stream, sizeof(struct usb_redir_start_iso_stream_header)},
                {usb_redir_stop_iso_stream, sizeof(struct usb_redir_stop_iso_stream_header)},
                {usb_redir_start_interrupt_receiving, sizeof(struct usb_redir_start_interrupt_receiving_header)},
                {usb_redir_stop_interrupt_receiving, sizeof(struct usb_redir_stop_interrupt_receiving_header)},
                {usb_redir_alloc_bulk_streams, sizeof(struct usb_redir_alloc_bulk_streams_header)},
                {usb_redir_free_bulk_streams, sizeof(struct usb_redir_free_bulk_streams_header)},
                {usb_redir_filter_reject, 0},
                {usb_redir_filter_filter, 0},
                {usb_redir_start_bulk_receiving, sizeof(struct usb_redir_start_bulk_receiving_header)},
                {usb_redir_stop_bulk_receiving, sizeof(struct usb_redir_stop_bulk_receiving_header)},
                {usb_redir_iso_packet, sizeof(struct usb_redir_iso_packet_header)},
                {usb_redir_interrupt_packet, sizeof(struct usb_redir_interrupt_packet_header)},
            };
            uint8_t k = fuzz_u8(&in) % (sizeof kinds / sizeof kinds[0]);
            uint8_t hdr[16] = {0};
            size_t hl = fuzz_bytes(&in, kinds[k].hlen, &p);
            memcpy(hdr, p, hl);
            size_t dlen = fuzz_bytes(&in, fuzz_u8(&in) % 64, &p);
            if (kinds[k].type == usb_redir_filter_filter) /* rules text: "class,vendor,product,version,allow|..." */
                packet(&o, kinds[k].type, id++, NULL, 0, p, dlen);
            else
                packet(&o, kinds[k].type, id++, hdr, kinds[k].hlen, p, dlen);
            break;
        }
        }
        if (op & 0x20)
            send_all(b, peer, &o);
    }
    send_all(b, peer, &o);
    usbredir_board_report rep;
    usbredir_board_report_get(b, &rep);
    if (rep.stage_count > USBREDIR_STAGE_RECORDS)
        fuzz_fail("more stage records than the report holds");
    close(peer);
    pump(b, -1);
    usbredir_board_free(b);
    return 0;
}
